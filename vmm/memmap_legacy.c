// SPDX-License-Identifier: MIT
/*
 * coco-legacy's half of the memory map (memmap_backing.h): private pages in
 * the guest_memfd, shared pages in a separate memfd, the memory attributes as
 * the state, and on every conversion the backing no longer used discarded,
 * as QEMU does for SEV-SNP and TDX: the contents do not survive. Two kernel
 * paths, chosen once by memmap_setup: memmap_legacy keeps the attributes in
 * the VMM alone (modelled), memmap_legacy_native sets them in KVM too (a VM
 * type with private memory attributes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "faultinject.h"
#include "kvm.h"
#include "memmap_backing.h"

#define RW (PROT_READ | PROT_WRITE)

static uint8_t *map_file(int fd, uint64_t size, int prot)
{
	void *view = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
	return view == MAP_FAILED ? NULL : view;
}

/* Reserve address space for a view; every page starts inaccessible. */
static uint8_t *reserve_view(uint64_t size)
{
	void *view =
		mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return view == MAP_FAILED ? NULL : view;
}

/* ---- Memory attributes (use case (a) on a private-memory VM type) ------ */

/* The shared alias of a private page is marked private too, so that KVM
 * refuses a shared-view access to it with KVM_EXIT_MEMORY_FAULT (a private
 * access to a memslot without guest_memfd); the private view is private
 * throughout (set once at set-up), as every access through it is. */
static int set_shared_alias_attributes(struct memmap *map, uint64_t offset, uint64_t size,
				       bool private)
{
	uint64_t bit = 1ULL << map->shared_bit;
	return kvm_set_memory_attributes(map->vm_fd, bit + offset, size,
					 private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0);
}

static void set_private_alias(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	if (state == SHAREABILITY_GUEST)
		set_shared_alias_attributes(opaque, start, end - start, true);
}

/* ---- The host's view ---------------------------------------------------- */

/* The host's own view: the shared backing where shared, and a file whose
 * pages fault SIGBUS where private. */
static int update_host_view(struct memmap *map, uint64_t offset, uint64_t size, bool private)
{
	/* An empty memfd faults SIGBUS at every offset: all are past its end. */
	if (gmem_remap(map->host_view + offset, private ? map->sigbus_fd : map->shared_fd, offset,
		       size, RW) < 0)
		return -ENOMEM;
	return 0;
}

struct view_builder {
	struct memmap *map;
	int status;
};

static void build_extent(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	/* Every extent, even after a failure: an undo maps all it can. */
	struct view_builder *builder = opaque;
	int status =
		update_host_view(builder->map, start, end - start, state == SHAREABILITY_GUEST);
	if (builder->status == 0)
		builder->status = status;
}

static int build_host_view(struct memmap *map, uint64_t offset, uint64_t size)
{
	struct view_builder builder = { map, 0 };
	shareability_for_each_in(&map->attributes, offset, size, build_extent, &builder);
	return builder.status;
}

/* ---- The backing ---------------------------------------------------------- */

/* The separate shared backing and the host's own view of RAM. */
static int legacy_setup(struct memmap *map, struct gmemvm_error *error)
{
	struct gmem *gmem = map->gmem;
	if (!gmem->support_shared) {
		/* Show the notes' point: the VMM cannot map this file. */
		void *attempt = mmap(NULL, map->ram_size, RW, MAP_SHARED, gmem->fd, 0);
		map->private_mmap_errno = attempt == MAP_FAILED ? errno : 0;
		if (attempt != MAP_FAILED)
			munmap(attempt, map->ram_size);
	}
	if (shareability_init(&map->attributes, map->ram_size, GMEM_PAGE_SIZE, SHAREABILITY_ALL) <
	    0)
		goto fail;
	map->shared_fd = memfd_create("gmemvm-shared-backing", MFD_CLOEXEC);
	if (map->shared_fd < 0 || ftruncate(map->shared_fd, (off_t)map->ram_size) < 0)
		goto fail;
	/* The host's SIGBUS on a private page: a guest_memfd that is never
	 * shared where the kernel can map one, else an empty memfd (a read past
	 * a file's end is SIGBUS too). */
	map->sigbus_fd = kvm_create_guest_memfd(map->vm_fd, map->ram_size, GUEST_MEMFD_FLAG_MMAP);
	if (map->sigbus_fd < 0) {
		map->sigbus_fd = memfd_create("gmemvm-private-page", MFD_CLOEXEC);
		if (map->sigbus_fd < 0)
			goto fail;
	}
	map->host_view = reserve_view(map->ram_size);
	map->shared_contents = map_file(map->shared_fd, map->ram_size, RW);
	if (!map->host_view || !map->shared_contents)
		goto fail;
	if (!map->native_attributes && (gmem->content_fd != gmem->fd || gmem->support_shared)) {
		map->private_contents = map_file(gmem->content_fd, map->ram_size, RW);
		if (!map->private_contents)
			goto fail;
	}
	if (build_host_view(map, 0, map->ram_size) < 0)
		goto fail;
	return 0;
fail:
	return gmemvm_failf(error, -(errno ? errno : EIO), NULL,
			    "setting up the coco-legacy memory views failed: %s", strerror(errno));
}

static void legacy_destroy(struct memmap *map)
{
	if (map->host_view)
		munmap(map->host_view, map->ram_size);
	if (map->shared_contents)
		munmap(map->shared_contents, map->ram_size);
	if (map->private_contents)
		munmap(map->private_contents, map->ram_size);
	if (map->shared_fd >= 0)
		close(map->shared_fd);
	if (map->sigbus_fd >= 0)
		close(map->sigbus_fd);
	if (map->attributes.extents)
		shareability_destroy(&map->attributes);
}

static const struct shareability_map *legacy_state(const struct memmap *map)
{
	return &map->attributes;
}

static int legacy_can_convert(const struct memmap *map)
{
	(void)map;
	return 0; /* the memory attributes exist for every page */
}

/* The shared backing punched out: what every discard and every conversion
 * to private does to it. */
static int punch_shared_backing(struct memmap *map, uint64_t gpa, uint64_t size,
				struct gmemvm_error *error)
{
	if (fault_inject(FAULT_PUNCH) ||
	    fallocate(map->shared_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)gpa,
		      (off_t)size) < 0)
		return gmemvm_fail(error, -errno, "fallocate(PUNCH_HOLE) of the shared backing");
	return 0;
}

/* The backing no longer used is discarded, as QEMU does. */
static int discard_old_backing(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
			       struct gmemvm_error *error)
{
	if (to_private)
		return punch_shared_backing(map, gpa, size, error);
	int status = gmem_punch_hole(map->gmem, gpa, size);
	if (status < 0)
		return gmemvm_fail(error, status, "fallocate(PUNCH_HOLE) of the private contents");
	return 0;
}

/*
 * After the memslots: the host view, then the state; the old backing is
 * discarded last, once the conversion stands: a legacy CoCo VMM does not
 * keep contents across it. The kernel calls run with the map's lock dropped
 * (the range stays reserved); on a failure memmap_convert puts the views
 * back as the state says.
 */
static int legacy_convert(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
			  struct memmap_conversion *done, struct gmemvm_error *error)
{
	(void)done; /* nothing here answers EAGAIN */
	memmap_kernel_call_begin(map);
	int status = update_host_view(map, gpa, size, to_private);
	memmap_kernel_call_end(map);
	if (status < 0)
		return gmemvm_fail(error, status, "mmap of the host view");
	status = fault_inject(FAULT_STATE)
			 ? -ENOMEM
			 : shareability_set(&map->attributes, gpa, size,
					    to_private ? SHAREABILITY_GUEST : SHAREABILITY_ALL);
	if (status < 0)
		return gmemvm_fail(error, status, "growing the memory attributes");
	memmap_kernel_call_begin(map);
	status = discard_old_backing(map, gpa, size, to_private, error);
	memmap_kernel_call_end(map);
	return status;
}

static void legacy_resync(struct memmap *map, uint64_t gpa, uint64_t size)
{
	build_host_view(map, gpa, size);
}

/* Natively the shared alias's attributes come first, right after the
 * memslots; then as above. */
static int legacy_native_convert(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
				 struct memmap_conversion *done, struct gmemvm_error *error)
{
	memmap_kernel_call_begin(map);
	int status = set_shared_alias_attributes(map, gpa, size, to_private);
	memmap_kernel_call_end(map);
	if (status < 0)
		return gmemvm_fail(error, status, "KVM_SET_MEMORY_ATTRIBUTES");
	return legacy_convert(map, gpa, size, to_private, done, error);
}

/* The host view, then the attributes of the shared alias: only in whole
 * runs, since the state may differ page by page. */
static void legacy_native_resync(struct memmap *map, uint64_t gpa, uint64_t size)
{
	legacy_resync(map, gpa, size);
	set_shared_alias_attributes(map, gpa, size, false);
	shareability_for_each_in(&map->attributes, gpa, size, set_private_alias, map);
}

static int legacy_discard(struct memmap *map, uint64_t gpa, uint64_t size,
			  struct gmemvm_error *error)
{
	int status = gmem_punch_hole(map->gmem, gpa, size);
	if (status < 0)
		return gmemvm_fail(error, status, "fallocate(PUNCH_HOLE) of the guest_memfd");
	return punch_shared_backing(map, gpa, size, error);
}

static bool legacy_host_view_files(const struct memmap *map, int *shared_fd, int *private_fd)
{
	*shared_fd = map->shared_fd;
	*private_fd = map->sigbus_fd;
	return true;
}

const struct memmap_backing_ops memmap_legacy = {
	.setup = legacy_setup,
	.destroy = legacy_destroy,
	.state = legacy_state,
	.can_convert = legacy_can_convert,
	.convert = legacy_convert,
	.resync = legacy_resync,
	.discard = legacy_discard,
	.hold = NULL, /* its shared memory is not in the guest_memfd */
	.host_view_files = legacy_host_view_files,
};

const struct memmap_backing_ops memmap_legacy_native = {
	.setup = legacy_setup,
	.destroy = legacy_destroy,
	.state = legacy_state,
	.can_convert = legacy_can_convert,
	.convert = legacy_native_convert,
	.resync = legacy_native_resync,
	.discard = legacy_discard,
	.hold = NULL,
	.host_view_files = legacy_host_view_files,
};
