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
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gmem.h"
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

static int protected_discard(struct memmap *map, uint64_t gpa, uint64_t size,
			     struct gmemvm_error *error)
{
	(void)map, (void)gpa, (void)size;
	return gmemvm_refuse(error, -ENOTTY,
			     "the VMM cannot punch out a protected VM's memory: the pages "
			     "the guest holds are the hypervisor's to give back");
}

static bool protected_host_view_files(const struct memmap *map, int *shared_fd, int *private_fd)
{
	(void)map, (void)shared_fd, (void)private_fd;
	return false; /* the hypervisor, not the VMM's mappings, decides what faults */
}

const struct memmap_backing_ops memmap_protected = {
	.setup = protected_setup,
	.destroy = protected_destroy,
	.state = protected_state,
	.can_convert = protected_can_convert,
	.convert = protected_convert,
	.resync = protected_resync,
	.discard = protected_discard,
	.hold = NULL,
	.host_view_files = protected_host_view_files,
};
