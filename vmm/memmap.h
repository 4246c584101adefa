/* SPDX-License-Identifier: MIT */
/*
 * The guest memory map: which guest-physical ranges are RAM, which memslot
 * and guest_memfd offset back each, and the VMM's own view of them. Every
 * host access to guest memory goes through memmap_lookup(), which refuses
 * anything not entirely inside RAM the VMM can see.
 */
#ifndef GMEMVM_MEMMAP_H
#define GMEMVM_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "gmem.h"

#define MEMMAP_MAX_SLOTS 4

struct memmap_slot {
	uint32_t slot;
	uint64_t gpa, size;
	uint64_t gmem_offset;
	uint64_t userspace_addr; /* as bound; 0 = NULL */
};

struct memmap {
	uint64_t ram_size;
	uint8_t *host_view; /* the VMM's view of [0, ram_size), or NULL */
	struct memmap_slot slots[MEMMAP_MAX_SLOTS];
	int nr_slots;
	void *anonymous;       /* userspace_addr = anonymous: the unrelated mapping */
	uint64_t anonymous_size;
};

/*
 * Lay out guest RAM for the scenario's mode and bind it: mode shared (use
 * case b) is one guest_memfd, mapped by the VMM, bound as one memslot whose
 * userspace_addr is that mapping, NULL, or (to show the stage-1 rule
 * refusing it) an unrelated anonymous mapping. Returns 0, GMEM_REFUSED when
 * a rule of the design notes refused the layout, or -1.
 */
int memmap_setup(struct memmap *map, const struct scenario *scenario, struct gmem *gmem,
		 int vm_fd, char *err, size_t err_size);
void memmap_destroy(struct memmap *map);

/* Host pointer for [gpa, gpa + size), or NULL if any byte is outside RAM. */
void *memmap_lookup(const struct memmap *map, uint64_t gpa, uint64_t size);

#endif
