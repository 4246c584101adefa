// SPDX-License-Identifier: MIT
#include "gmem.h"

#include "host_access.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "faultinject.h"
#include "kvm.h"
#include "procfs.h"

uint64_t gmem_kernel_flags(bool support_shared, bool init_private)
{
	uint64_t flags = 0;
	if (support_shared)
		flags |= GUEST_MEMFD_FLAG_MMAP;
	/* Upstream only knows INIT_SHARED, and only together with MMAP. */
	if (support_shared && !init_private)
		flags |= GUEST_MEMFD_FLAG_INIT_SHARED;
	return flags;
}

/* The contents of a file without SUPPORT_SHARED: the kernel will not map it,
 * but a KVM that reads guest memory through userspace_addr (PVM's shadow
 * paging) needs a mapping of them, so the model keeps
 * the private contents in a memfd that stands in for the guest_memfd. */
static int create_content_standin(struct gmem *gmem, struct gmemvm_error *error)
{
	gmem->content_fd = memfd_create("gmemvm-private-standin", MFD_CLOEXEC);
	if (gmem->content_fd < 0 || ftruncate(gmem->content_fd, (off_t)gmem->size) < 0) {
		int saved = errno;
		return gmemvm_failf(error, -saved,
				    gmem->content_fd < 0 ? "memfd_create of the private contents"
							 : "ftruncate of the private contents",
				    "memfd for the model's private contents failed: %s",
				    strerror(saved));
	}
	return 0;
}

void gmem_init(struct gmem *gmem)
{
	memset(gmem, 0, sizeof(*gmem));
	gmem->fd = gmem->content_fd = gmem->sigbus_fd = -1;
	for (size_t i = 0; i < GMEM_MAX_HOLDS; i++)
		gmem->holds[i].pipe[0] = gmem->holds[i].pipe[1] = -1;
}

int gmem_create(struct gmem *gmem, int vm_fd, uint64_t size, bool support_shared, bool init_private,
		uint64_t supported_flags, bool model, struct gmemvm_error *error)
{
	return gmem_create_with_flags(gmem, vm_fd, size, support_shared, init_private, 0,
				      supported_flags, model, error);
}

int gmem_create_with_flags(struct gmem *gmem, int vm_fd, uint64_t size, bool support_shared,
			   bool init_private, uint64_t extra_flags, uint64_t supported_flags,
			   bool model, struct gmemvm_error *error)
{
	gmem_init(gmem);
	gmem->size = size;
	gmem->support_shared = support_shared;
	gmem->init_private = init_private;
	gmem->model = model;
	/* The model stands in for a VM type with private memory (upstream
	 * converts only there); tests clear it to see the refusal. */
	gmem->vm_has_private_memory = true;
	if (init_private && !support_shared)
		return gmemvm_refuse(
			error, -EINVAL,
			"GUEST_MEMFD_FLAG_INIT_PRIVATE needs "
			"GUEST_MEMFD_FLAG_SUPPORT_SHARED (notes' names; upstream: MMAP) "
			"(EINVAL): a file the host cannot map is private anyway");
	/* The model keeps INIT_PRIVATE itself and needs mappable contents. */
	gmem->kernel_flags =
		gmem_kernel_flags(support_shared, init_private && !model) | extra_flags;

	uint64_t missing = gmem->kernel_flags & ~supported_flags;
	if (missing)
		return gmemvm_failf(
			error, -EOPNOTSUPP, "KVM_CAP_GUEST_MEMFD_FLAGS",
			"this kernel's guest_memfd lacks flag%s%s%s%s "
			"(KVM_CAP_GUEST_MEMFD_FLAGS = %#" PRIx64 "): %s",
			(missing & (missing - 1)) ? "s" : "",
			(missing & GUEST_MEMFD_FLAG_MMAP) ? " GUEST_MEMFD_FLAG_MMAP" : "",
			(missing & GUEST_MEMFD_FLAG_INIT_SHARED) ? " GUEST_MEMFD_FLAG_INIT_SHARED"
								 : "",
			(missing & GUEST_MEMFD_FLAG_NO_DIRECT_MAP)
				? " GUEST_MEMFD_FLAG_NO_DIRECT_MAP"
				: "",
			supported_flags,
			missing & GUEST_MEMFD_FLAG_NO_DIRECT_MAP
				? "NO_DIRECT_MAP is proposed upstream and in no released kernel; "
				  "drop no_direct_map from [gmem] flags or run on a kernel with it"
				: "run on Linux 6.18 or later");
	int fd = kvm_create_guest_memfd(vm_fd, size, gmem->kernel_flags);
	if (fd < 0)
		return gmemvm_failf(error, fd, "KVM_CREATE_GUEST_MEMFD",
				    "KVM_CREATE_GUEST_MEMFD(size %#" PRIx64 ", flags %#" PRIx64
				    ") failed: %s",
				    size, gmem->kernel_flags, strerror(-fd));
	gmem->fd = fd;
	enum shareability initial =
		support_shared && !init_private ? SHAREABILITY_ALL : SHAREABILITY_GUEST;
	int status = shareability_init(&gmem->shareability, size, GMEM_PAGE_SIZE, initial);
	if (status == -EINVAL)
		return gmemvm_refuse(error, status,
				     "guest_memfd size %#" PRIx64 " is not a multiple of 4 KiB",
				     size);
	if (status < 0)
		return gmemvm_failf(error, status, "shareability_init",
				    "the guest_memfd's shareability state failed: %s",
				    strerror(-status));
	if (!model) {
		gmem->content_fd = gmem->fd;
		return 0;
	}
	if (!support_shared)
		return create_content_standin(gmem, error);
	gmem->content_fd = gmem->fd;
	/* MMAP without INIT_SHARED: the kernel SIGBUSes every host fault on it. */
	int sigbus_fd = kvm_create_guest_memfd(vm_fd, size, GUEST_MEMFD_FLAG_MMAP);
	gmem->sigbus_fd = sigbus_fd < 0 ? -1 : sigbus_fd;
	gmem->content_view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, gmem->fd, 0);
	if (sigbus_fd < 0 || gmem->content_view == MAP_FAILED) {
		bool unmapped = gmem->content_view == MAP_FAILED;
		int saved = unmapped ? errno : -sigbus_fd;
		gmem->content_view = NULL;
		return gmemvm_failf(error, -saved,
				    unmapped ? "mmap of the guest_memfd's contents"
					     : "KVM_CREATE_GUEST_MEMFD of the SIGBUS view",
				    "the model's guest_memfd views failed: %s", strerror(saved));
	}
	return 0;
}

int gmem_mmap_errno(const struct gmem *gmem, int map_flags)
{
	if (!gmem->support_shared)
		return ENODEV;
	if ((map_flags & MAP_TYPE) != MAP_SHARED)
		return EINVAL;
	return 0;
}

int gmem_remap(uint8_t *address, int fd, uint64_t offset, uint64_t size, int prot)
{
	if (fault_inject(FAULT_REMAP))
		return -ENOMEM;
	void *mapped;
	if (fd < 0)
		mapped = mmap(address, size, PROT_NONE,
			      MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	else
		mapped = mmap(address, size, prot, MAP_FIXED | MAP_SHARED, fd, (off_t)offset);
	return mapped == MAP_FAILED ? -ENOMEM : 0;
}

/* Point [offset, offset + size) of the host view at what its state allows. */
static int update_host_view(struct gmem *gmem, uint64_t offset, uint64_t size,
			    enum shareability state)
{
	if (!gmem->host_view || !gmem->model)
		return 0;
	int fd = state == SHAREABILITY_ALL ? gmem->content_fd : gmem->sigbus_fd;
	return gmem_remap(gmem->host_view + offset, fd, offset, size, PROT_READ | PROT_WRITE);
}

static void remap_extent(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	struct gmem *gmem = opaque;
	if (state == SHAREABILITY_GUEST && update_host_view(gmem, start, end - start, state) < 0)
		gmem->host_view = NULL; /* gmem_map sees this and fails */
}

int gmem_map(struct gmem *gmem, struct gmemvm_error *error)
{
	int saved = gmem_mmap_errno(gmem, MAP_SHARED);
	void *view = MAP_FAILED;
	if (!saved) {
		view = mmap(NULL, gmem->size, PROT_READ | PROT_WRITE, MAP_SHARED, gmem->content_fd,
			    0);
		saved = view == MAP_FAILED ? errno : 0;
	}
	if (saved)
		return gmemvm_failf(
			error, -saved, "mmap of guest_memfd",
			"mmap of guest_memfd (flags %#" PRIx64 ") failed: %s%s", gmem->kernel_flags,
			strerror(saved),
			gmem->support_shared
				? ""
				: " (only a guest_memfd with GUEST_MEMFD_FLAG_MMAP, notes: "
				  "SUPPORT_SHARED, can be mapped)");
	gmem->host_view = view;
	shareability_for_each(&gmem->shareability, remap_extent, gmem);
	if (!gmem->host_view) {
		munmap(view, gmem->size);
		return gmemvm_failf(error, -ENOMEM, "mmap of the host view's GUEST pages",
				    "mapping the GUEST pages out of the host view failed: %s",
				    strerror(ENOMEM));
	}
	return 0;
}

static void resync_extent(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	update_host_view(opaque, start, end - start, state);
}

int gmem_resync_host_view(struct gmem *gmem, uint64_t offset, uint64_t size)
{
	shareability_for_each_in(&gmem->shareability, offset, size, resync_extent, gmem);
	return 0;
}

bool gmem_host_view_files(const struct gmem *gmem, int *shared_fd, int *private_fd)
{
	if (!gmem->model)
		return false;
	*shared_fd = gmem->content_fd;
	*private_fd = gmem->sigbus_fd;
	return true;
}

/* Where the model keeps its answers: the host view's pages are zapped as the
 * kernel's unmap_mapping_range() would (the next touch faults them back in). */
static void zap_host_view(struct gmem *gmem, uint64_t offset, uint64_t size)
{
	if (gmem->host_view)
		madvise(gmem->host_view + offset, size, MADV_DONTNEED);
}

/* The first page of [offset, offset + size) a hold references, or -1. */
static int64_t first_held(const struct gmem *gmem, uint64_t offset, uint64_t size)
{
	int64_t first = -1;
	for (size_t i = 0; i < GMEM_MAX_HOLDS; i++) {
		const struct gmem_hold *hold = &gmem->holds[i];
		if (hold->pipe[0] < 0 || hold->offset >= offset + size ||
		    hold->offset + hold->size <= offset)
			continue;
		uint64_t busy = hold->offset > offset ? hold->offset : offset;
		if (first < 0 || busy < (uint64_t)first)
			first = (int64_t)busy;
	}
	return first;
}

/*
 * The model of KVM_SET_MEMORY_ATTRIBUTES2 (docs/upstream.md, "The
 * conversion call"): the kernel's checks in the kernel's order, each EINVAL;
 * a range already so is left alone; to private first tears the host
 * mappings down, then fails with EAGAIN at the first page a reference holds,
 * leaving the attributes as they were. Contents stay in both directions.
 */
#define SET_ATTRIBUTES2 "KVM_SET_MEMORY_ATTRIBUTES2"

/* The call's checks, in the kernel's order: 0 or -EINVAL. */
static int model_check(const struct gmem *gmem, const struct kvm_memory_attributes2 *request)
{
	uint64_t offset = request->offset, size = request->size;
	if (request->flags)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(request->reserved) / sizeof(request->reserved[0]); i++)
		if (request->reserved[i])
			return -EINVAL;
	if (!gmem->vm_has_private_memory)
		return -EINVAL;
	if (request->attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE)
		return -EINVAL;
	if (size == 0 || offset > UINT64_MAX - size)
		return -EINVAL;
	if (offset % GMEM_PAGE_SIZE || size % GMEM_PAGE_SIZE)
		return -EINVAL;
	if (offset + size > gmem->size)
		return -EINVAL;
	return 0;
}

/* Around a conversion's kernel calls: the owner's lock is dropped, the
 * caller's range staying reserved (gmem.h, owner_lock). */
static void kernel_call_begin(struct gmem *gmem)
{
	if (gmem->owner_lock)
		pthread_mutex_unlock(gmem->owner_lock);
}

static void kernel_call_end(struct gmem *gmem)
{
	if (gmem->owner_lock)
		pthread_mutex_lock(gmem->owner_lock);
}

static int model_set_attributes(struct gmem *gmem, struct kvm_memory_attributes2 *request,
				struct gmemvm_error *error)
{
	uint64_t offset = request->offset, size = request->size;
	int status = model_check(gmem, request);
	if (status < 0)
		return gmemvm_fail(error, status, SET_ATTRIBUTES2);
	enum shareability state = request->attributes ? SHAREABILITY_GUEST : SHAREABILITY_ALL;
	if (shareability_range_is(&gmem->shareability, offset, size, state))
		return 0;
	/* The holds are the state's: read under the owner's lock, before the
	 * zap, which gives the same answer as after it (only a reference
	 * outside the host's mappings keeps a page busy). */
	int64_t busy = state == SHAREABILITY_GUEST ? first_held(gmem, offset, size) : -1;
	kernel_call_begin(gmem);
	/* A conversion that goes through tears the old mapping down with the
	 * mmap(MAP_FIXED) that replaces it: no zap of its own, one system call
	 * less (docs/design.md, "System calls of a conversion"). */
	if (busy >= 0)
		zap_host_view(gmem, offset, size);
	else
		status = update_host_view(gmem, offset, size, state);
	kernel_call_end(gmem);
	if (busy >= 0) {
		request->error_offset = (uint64_t)busy;
		return gmemvm_fail(error, -EAGAIN, SET_ATTRIBUTES2);
	}
	if (status < 0) {
		gmem_resync_host_view(gmem, offset, size);
		return gmemvm_fail(error, status, "mmap of the host view");
	}
	status = fault_inject(FAULT_STATE)
			 ? -ENOMEM
			 : shareability_set(&gmem->shareability, offset, size, state);
	if (status < 0) {
		gmem_resync_host_view(gmem, offset, size);
		return gmemvm_fail(error, status, "growing the shareability state");
	}
	return 0;
}

/* The seam (docs/design.md, "Native or modelled"): the kernel's call, or the
 * model's, as gmem_create decided. */
static int set_attributes(struct gmem *gmem, struct kvm_memory_attributes2 *request,
			  struct gmemvm_error *error)
{
	if (gmem->model)
		return model_set_attributes(gmem, request, error);
	kernel_call_begin(gmem);
	int status = fault_inject(FAULT_CONVERT) ? -EIO : 0;
	if (status == 0 && ioctl(gmem->fd, KVM_SET_MEMORY_ATTRIBUTES2, request) < 0)
		status = -errno;
	kernel_call_end(gmem);
	if (status < 0)
		return gmemvm_fail(error, status, SET_ATTRIBUTES2);
	/* The kernel keeps the attributes; the VMM mirrors them for its lookups. */
	enum shareability state = request->attributes ? SHAREABILITY_GUEST : SHAREABILITY_ALL;
	status = shareability_set(&gmem->shareability, request->offset, request->size, state);
	if (status < 0)
		return gmemvm_fail(error, status, "growing the VMM's copy of the attributes");
	return 0;
}

int gmem_set_attributes(struct gmem *gmem, struct kvm_memory_attributes2 *request)
{
	return set_attributes(gmem, request, NULL);
}

/* One call with the VMM's answer to EAGAIN: drop the holds from the busy
 * page on (a device stopping its DMA), then go on from there. */
static int set_attributes_retrying(struct gmem *gmem, uint64_t offset, uint64_t size,
				   uint64_t attributes, unsigned int *eagain,
				   struct gmemvm_error *error)
{
	uint64_t end = offset + size;
	for (unsigned int attempt = 0;; attempt++) {
		struct kvm_memory_attributes2 request = { .offset = offset,
							  .size = end - offset,
							  .attributes = attributes };
		int status = set_attributes(gmem, &request, error);
		if (status != -EAGAIN)
			return status;
		gmem->stats.eagain++;
		(*eagain)++;
		if (attempt == GMEM_EAGAIN_RETRIES || request.error_offset < offset ||
		    request.error_offset >= end) {
			gmem->last_busy_offset = request.error_offset;
			return gmemvm_fail(error, -EAGAIN,
					   "KVM_SET_MEMORY_ATTRIBUTES2 (a page stayed referenced: "
					   "something outside gmemvm pins it)");
		}
		gmem->stats.holds_released += (uint64_t)gmem_release(gmem, request.error_offset,
								     end - request.error_offset);
		gmem->stats.retries++;
		offset = request.error_offset;
	}
}

/*
 * The VMM's conversion through KVM_SET_MEMORY_ATTRIBUTES2. After an EAGAIN
 * the call is repeated from error_offset; the pages before it are then set
 * with one more call, which returns at once where the kernel had already
 * converted them and converts them where it had left every attribute as it
 * was. A failed to-private call leaves the host's mappings of the range torn
 * down: the next host access faults them back in from the unchanged state.
 */
int gmem_convert(struct gmem *gmem, uint64_t offset, uint64_t size, bool to_private,
		 unsigned int *eagain, struct gmemvm_error *error)
{
	unsigned int unused = 0;
	if (!eagain)
		eagain = &unused;
	*eagain = 0;
	if (!gmem->support_shared)
		return gmemvm_fail(error, -ENOTTY, SET_ATTRIBUTES2);
	uint64_t attributes = to_private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
	int status = set_attributes_retrying(gmem, offset, size, attributes, eagain, error);
	if (status == 0 && *eagain) {
		struct kvm_memory_attributes2 prefix = { .offset = offset,
							 .size = size,
							 .attributes = attributes };
		status = set_attributes(gmem, &prefix, error);
	}
	return status;
}

int gmem_convert_shared(struct gmem *gmem, uint64_t offset, uint64_t size,
			struct gmemvm_error *error)
{
	return gmem_convert(gmem, offset, size, false, NULL, error);
}

int gmem_convert_private(struct gmem *gmem, uint64_t offset, uint64_t size,
			 struct gmemvm_error *error)
{
	return gmem_convert(gmem, offset, size, true, NULL, error);
}

/*
 * A real page reference, as a device doing DMA holds one: the pages are
 * spliced into a pipe (vmsplice takes a reference on each), and stay
 * referenced until the pipe is closed.
 */
int gmem_hold(struct gmem *gmem, uint64_t offset, uint64_t size)
{
	if (!size || offset % GMEM_PAGE_SIZE || size % GMEM_PAGE_SIZE || offset > gmem->size ||
	    size > gmem->size - offset || size > GMEM_MAX_HOLD_SIZE)
		return -EINVAL;
	if (!gmem->host_view ||
	    !shareability_range_is(&gmem->shareability, offset, size, SHAREABILITY_ALL))
		return -EPERM; /* the host can reference only what it can map */
	struct gmem_hold *hold = NULL;
	for (size_t i = 0; i < GMEM_MAX_HOLDS && !hold; i++)
		if (gmem->holds[i].pipe[0] < 0)
			hold = &gmem->holds[i];
	if (!hold)
		return -ENOSPC;
	if (pipe2(hold->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	struct iovec pages = { .iov_base = gmem->host_view + offset, .iov_len = size };
	ssize_t spliced = -1;
	if (fcntl(hold->pipe[1], F_SETPIPE_SZ, (int)size) >= 0)
		spliced = vmsplice(hold->pipe[1], &pages, 1, SPLICE_F_NONBLOCK);
	if (spliced != (ssize_t)size) {
		int error = spliced < 0 ? errno : ENOMEM;
		close(hold->pipe[0]);
		close(hold->pipe[1]);
		hold->pipe[0] = hold->pipe[1] = -1;
		return -error;
	}
	hold->offset = offset;
	hold->size = size;
	return 0;
}

int gmem_release(struct gmem *gmem, uint64_t offset, uint64_t size)
{
	int released = 0;
	for (size_t i = 0; i < GMEM_MAX_HOLDS; i++) {
		struct gmem_hold *hold = &gmem->holds[i];
		if (hold->pipe[0] < 0 || hold->offset >= offset + size ||
		    hold->offset + hold->size <= offset)
			continue;
		close(hold->pipe[0]);
		close(hold->pipe[1]);
		hold->pipe[0] = hold->pipe[1] = -1;
		released++;
	}
	return released;
}

enum shareability gmem_shareability(const struct gmem *gmem, uint64_t offset)
{
	return shareability_get(&gmem->shareability, offset);
}

int gmem_check_userspace_addr(const struct gmem *gmem, uint64_t offset, uint64_t userspace_addr,
			      uint64_t size, const char *maps_path, struct gmemvm_error *error)
{
	struct stat st;
	if (fstat(gmem->fd, &st) < 0) {
		int saved = errno;
		return gmemvm_failf(error, -saved, "fstat of guest_memfd",
				    "fstat of guest_memfd failed: %s", strerror(saved));
	}
	FILE *maps = fopen(maps_path, "re");
	if (!maps) {
		int saved = errno;
		return gmemvm_failf(error, -saved, "fopen of the maps file",
				    "cannot read %s to check userspace_addr: %s", maps_path,
				    strerror(saved));
	}
	/* Walk the mappings in address order, requiring each byte of the range
	 * to be covered by this file at the matching file offset. */
	uint64_t cursor = userspace_addr, end = userspace_addr + size;
	char line[512];
	while (cursor < end && fgets(line, sizeof(line), maps)) {
		struct procfs_mapping entry;
		if (!procfs_parse_maps_line(line, &entry) || entry.end <= cursor)
			continue;
		if (entry.start > cursor)
			break;
		bool same_file = entry.inode == st.st_ino && entry.dev_major == major(st.st_dev) &&
				 entry.dev_minor == minor(st.st_dev);
		uint64_t file_offset = entry.offset + (cursor - entry.start);
		if (!same_file || file_offset != offset + (cursor - userspace_addr)) {
			fclose(maps);
			return gmemvm_refuse(
				error, -EINVAL,
				"userspace_addr %#" PRIx64 " + %#" PRIx64 " maps %s at %#" PRIx64
				", not this guest_memfd at offset %#" PRIx64
				" (design notes, stage 1: userspace_addr must refer to the same "
				"folio as fd+offset)",
				userspace_addr, cursor - userspace_addr,
				same_file ? "this guest_memfd" : "another file or anonymous memory",
				same_file ? file_offset : entry.offset,
				offset + (cursor - userspace_addr));
		}
		cursor = entry.end;
	}
	fclose(maps);
	if (cursor < end)
		return gmemvm_refuse(
			error, -EINVAL,
			"userspace_addr %#" PRIx64 " + %#" PRIx64
			" is not mapped (design notes, stage 1: userspace_addr must refer "
			"to the same folio as fd+offset)",
			userspace_addr, cursor - userspace_addr);
	return 0;
}

int gmem_bind(const struct gmem *gmem, int vm_fd, uint32_t slot, uint64_t gpa, uint64_t offset,
	      uint64_t size, uint64_t userspace_addr, bool check_userspace_addr,
	      struct gmemvm_error *error)
{
	/* The notes' rule, before the kernel sees the binding. */
	if (userspace_addr && check_userspace_addr) {
		int status = gmem_check_userspace_addr(gmem, offset, userspace_addr, size,
						       "/proc/self/maps", error);
		if (status < 0)
			return status;
	}
	int status = kvm_set_memory_region2(vm_fd, slot, KVM_MEM_GUEST_MEMFD, gpa, size,
					    userspace_addr, gmem->fd, offset);
	if (status < 0) {
		gmemvm_fail(error, status, "KVM_SET_USER_MEMORY_REGION2");
		gmemvm_error_message(error,
				     "KVM_SET_USER_MEMORY_REGION2(slot %u, gpa %#" PRIx64
				     ", size %#" PRIx64 ", guest_memfd offset %#" PRIx64
				     ") failed: %s",
				     slot, gpa, size, offset, strerror(-status));
		return status;
	}
	return 0;
}

int gmem_punch_hole(const struct gmem *gmem, uint64_t offset, uint64_t size)
{
	if (fault_inject(FAULT_PUNCH))
		return -errno;
	/* Both the private and the shared views map content_fd, so one punch
	 * invalidates both (the notes' truncation rule). The kernel's file is
	 * punched too when a stand-in holds the contents. */
	if (gmem->content_fd != gmem->fd &&
	    fallocate(gmem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)size) < 0)
		return -errno;
	if (fallocate(gmem->content_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)size) < 0)
		return -errno;
	return 0;
}

/* One byte through the VMM's one catcher of guest-memory faults. */
int gmem_host_read_signal(const volatile uint8_t *address)
{
	uint8_t byte;
	if (host_access_init() < 0)
		return -1;
	return host_access_copy(&byte, (const void *)address, 1);
}

int gmem_host_write_signal(volatile uint8_t *address, uint8_t value)
{
	if (host_access_init() < 0)
		return -1;
	return host_access_copy((void *)address, &value, 1);
}

void gmem_destroy(struct gmem *gmem)
{
	gmem_release(gmem, 0, UINT64_MAX);
	if (gmem->host_view)
		munmap(gmem->host_view, gmem->size);
	if (gmem->content_view)
		munmap(gmem->content_view, gmem->size);
	if (gmem->content_fd >= 0 && gmem->content_fd != gmem->fd)
		close(gmem->content_fd);
	if (gmem->sigbus_fd >= 0)
		close(gmem->sigbus_fd);
	if (gmem->fd >= 0)
		close(gmem->fd);
	if (gmem->shareability.extents)
		shareability_destroy(&gmem->shareability);
	gmem->host_view = gmem->content_view = NULL;
	gmem->fd = gmem->content_fd = gmem->sigbus_fd = -1;
}
