// SPDX-License-Identifier: MIT
/*
 * Upstream pKVM's backing (arm64, Documentation/virt/kvm/arm/pkvm.rst): a
 * protected VM's memory is the VMM's own anonymous memory in a plain
 * memslot. The hypervisor gives each page to the guest at its first access
 * and shares or unshares it on the guest's MEM_SHARE / MEM_UNSHARE, with no
 * exit: the VMM never converts and never knows a page's state. Its state map
 * says only that every page may be tried; every host access goes through
 * host_access_copy, where a page the guest holds answers with SIGSEGV.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gmem.h"
#include "host_access.h"
#include "memmap_backing.h"

static int protected_setup(struct memmap *map, struct gmemvm_error *error)
{
	map->shared_fd = memfd_create("gmemvm-protected-vm", MFD_CLOEXEC);
	int status = map->shared_fd < 0 ? -errno : 0;
	if (status == 0 && ftruncate(map->shared_fd, (off_t)map->ram_size) < 0)
		status = -errno;
	if (status == 0) {
		void *memory = mmap(NULL, map->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				    map->shared_fd, 0);
		map->host_view = memory == MAP_FAILED ? NULL : memory;
		status = map->host_view ? 0 : -errno;
	}
	if (status < 0)
		return gmemvm_failf(error, status, "the protected VM's memory",
				    "the protected VM's anonymous memory could not be made: %s",
				    strerror(-status));
	map->shared_contents = map->private_contents = map->host_view;
	/* For discard, opened now: the sandbox forbids open later. */
	map->proc_mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	status = shareability_init(&map->attributes, map->ram_size, GMEM_PAGE_SIZE,
				   SHAREABILITY_ALL);
	if (status < 0)
		return gmemvm_failf(error, status, "shareability_init",
				    "the protected VM's state map failed: %s", strerror(-status));
	return 0;
}

static void protected_destroy(struct memmap *map)
{
	if (map->host_view)
		munmap(map->host_view, map->ram_size);
	map->host_view = map->shared_contents = map->private_contents = NULL;
	if (map->shared_fd >= 0)
		close(map->shared_fd);
	map->shared_fd = -1;
	if (map->attributes.extents)
		shareability_destroy(&map->attributes);
	if (map->proc_mem_fd >= 0)
		close(map->proc_mem_fd);
	map->proc_mem_fd = -1;
}

static const struct shareability_map *protected_state(const struct memmap *map)
{
	return &map->attributes;
}

static int protected_can_convert(const struct memmap *map)
{
	(void)map; /* the hypervisor converts: nothing of it is the VMM's */
	return -ENOTTY;
}

static int protected_convert(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
			     struct memmap_conversion *done, struct gmemvm_error *error)
{
	(void)map, (void)gpa, (void)size, (void)to_private, (void)done;
	return gmemvm_refuse(error, -ENOTTY,
			     "a protected VM's pages are converted by the hypervisor on the "
			     "guest's MEM_SHARE / MEM_UNSHARE, never by the VMM");
}

static void protected_resync(struct memmap *map, uint64_t gpa, uint64_t size)
{
	(void)map, (void)gpa, (void)size; /* nothing was changed to put back */
}

/*
 * A discard takes the pages back from the guest the one way the host has:
 * reading each through /proc/self/mem, which (measured on 7.3, and as
 * pkvm.rst has it) reclaims the page from the guest, zeroes it and returns
 * zeroes. The guest's next access to it then fails KVM_RUN with EFAULT:
 * the run's outcome "reclaimed" (vcpu.c).
 */
static int protected_discard(struct memmap *map, uint64_t gpa, uint64_t size,
			     struct gmemvm_error *error)
{
	for (uint64_t offset = 0; offset < size; offset += GMEM_PAGE_SIZE) {
		uint8_t bytes[8];
		off_t where = (off_t)(uintptr_t)(map->host_view + gpa + offset);
		if (pread(map->proc_mem_fd, bytes, sizeof(bytes), where) < 0)
			return gmemvm_failf(error, -errno, "pread of /proc/self/mem",
					    "reading gpa %#" PRIx64
					    " back through /proc/self/mem failed: %s",
					    gpa + offset, strerror(errno));
	}
	return 0;
}

/*
 * A hold is a device's access to a page, for DMA. Here it is a system call
 * that writes the page: pread() from /proc/self/mem of bytes the VMM holds
 * into the page (on a shared page, its own bytes: nothing changes). On a
 * page the guest holds the kernel answers EFAULT (pkvm.rst: a system call on
 * such memory fails), and the request is refused with EPERM, as a hold of a
 * private page is. vmsplice(), which the in-place modes hold with, only
 * references the page and succeeds there (measured on 7.3): it would show
 * nothing. Nothing is kept, so a release has nothing to drop.
 */
static int protected_hold(struct memmap *map, uint64_t gpa, uint64_t size, bool take)
{
	if (!take)
		return 0;
	for (uint64_t offset = 0; offset < size; offset += GMEM_PAGE_SIZE) {
		uint8_t *page = map->host_view + gpa + offset;
		uint8_t bytes[8] = { 0 };
		bool readable = host_access_copy(bytes, page, sizeof(bytes)) == 0;
		ssize_t copied =
			pread(map->proc_mem_fd, page, sizeof(bytes), (off_t)(uintptr_t)bytes);
		if (copied < 0 && errno == EFAULT)
			return -EPERM;
		if (copied != (ssize_t)sizeof(bytes) || !readable)
			return -ENOMEM; /* the call wrote a page the host could not read */
	}
	return 0;
}

static bool protected_host_view_files(const struct memmap *map, int *shared_fd, int *private_fd)
{
	(void)map, (void)shared_fd, (void)private_fd;
	return false; /* the hypervisor, not the VMM's mappings, decides what faults */
}

bool memmap_protected_memlock(uint64_t memory_size, const struct rlimit *now, struct rlimit *wanted)
{
	*wanted = *now;
	/* pkvm.rst: pages donated to the guest count against RLIMIT_MLOCK. */
	if (now->rlim_cur == RLIM_INFINITY || now->rlim_cur >= memory_size)
		return false;
	wanted->rlim_cur = memory_size;
	if (now->rlim_max != RLIM_INFINITY && now->rlim_max < memory_size)
		wanted->rlim_max = memory_size; /* only a privileged process may */
	return true;
}

const struct memmap_backing_ops memmap_protected = {
	.setup = protected_setup,
	.destroy = protected_destroy,
	.state = protected_state,
	.can_convert = protected_can_convert,
	.convert = protected_convert,
	.resync = protected_resync,
	.discard = protected_discard,
	.hold = protected_hold,
	.host_view_files = protected_host_view_files,
};
