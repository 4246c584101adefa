// SPDX-License-Identifier: MIT
#include "memmap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int memmap_setup(struct memmap *map, const struct scenario *scenario, struct gmem *gmem,
		 int vm_fd, char *err, size_t err_size)
{
	memset(map, 0, sizeof(*map));
	map->ram_size = scenario->memory_size;
	if (scenario->mode != MODE_SHARED) {
		snprintf(err, err_size, "mode %s is not implemented yet; only mode shared runs",
			 config_mode_name(scenario->mode));
		return -1;
	}
	if (!gmem->support_shared) {
		snprintf(err, err_size,
			 "mode shared keeps all guest RAM in a guest_memfd the VMM maps: set "
			 "gmem.flags = support_shared (upstream GUEST_MEMFD_FLAG_MMAP)");
		return -1;
	}
	if (gmem_map(gmem, err, err_size) < 0)
		return -1;
	map->host_view = gmem->host_view;

	uint64_t userspace_addr =
		scenario->userspace_addr_null ? 0 : (uint64_t)(uintptr_t)gmem->host_view;
	if (scenario->userspace_addr_anonymous) {
		void *anonymous = mmap(NULL, map->ram_size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (anonymous == MAP_FAILED) {
			snprintf(err, err_size, "anonymous mapping of %#" PRIx64 " bytes failed: %s",
				 map->ram_size, strerror(errno));
			return -1;
		}
		map->anonymous = anonymous;
		map->anonymous_size = map->ram_size;
		userspace_addr = (uint64_t)(uintptr_t)anonymous;
	}
	struct memmap_slot *ram = &map->slots[map->nr_slots++];
	*ram = (struct memmap_slot){.slot = 0, .gpa = 0, .size = map->ram_size,
				    .gmem_offset = 0, .userspace_addr = userspace_addr};
	return gmem_bind(gmem, vm_fd, ram->slot, ram->gpa, ram->gmem_offset, ram->size,
			 ram->userspace_addr, err, err_size);
}

void memmap_destroy(struct memmap *map)
{
	if (map->anonymous)
		munmap(map->anonymous, map->anonymous_size);
	map->anonymous = NULL;
}

void *memmap_lookup(const struct memmap *map, uint64_t gpa, uint64_t size)
{
	if (!map->host_view || size == 0 || gpa >= map->ram_size ||
	    size > map->ram_size - gpa)
		return NULL;
	return map->host_view + gpa;
}
