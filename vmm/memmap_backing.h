/* SPDX-License-Identifier: MIT */
/*
 * Inside the memory map: the half of it that differs between the mode
 * families, chosen once by memmap_setup (docs/design.md, "The mode table").
 * memmap.c keeps what every mode shares (the views and their memslots, the
 * lock, the host's accesses, the checker) and asks map->backing for the rest:
 * - in place (memmap.c): shared, pkvm and coco-inplace keep shared and
 *   private pages in the guest_memfd and convert them there
 *   (gmem_convert_shared/private), the contents staying in place;
 * - coco-legacy (memmap_legacy.c): a separate shared backing, the memory
 *   attributes as the state, and the backing no longer used discarded on
 *   conversion; its attributes kept by the VMM alone, or (_native, on a VM
 *   type with private memory attributes) set in KVM as well.
 * Whether the kernel or the model serves a call is decided once, here for
 * the memory attributes and by gmem_create for the guest_memfd's conversion
 * call (gmem_set_attributes); nothing below asks again.
 * - upstream pKVM (memmap_protected.c): the VMM's anonymous memory in a
 *   protected VM, converted by the hypervisor alone.
 * Only memmap.c, memmap_legacy.c and memmap_protected.c include this header.
 */
#ifndef GMEMVM_MEMMAP_BACKING_H
#define GMEMVM_MEMMAP_BACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "memmap.h"
#include "shareability.h"

/* The conversions, discards and holds are called with the map's lock held,
 * a conversion with its range reserved (docs/design.md, "Locking"). Each
 * returns 0 or a negative errno, and names the step that failed in error
 * (error.h; the set-up's error also gets the sentence). */
struct memmap_backing_ops {
	/* Where contents live and the host's view of them; before any memslot. */
	int (*setup)(struct memmap *map, struct gmemvm_error *error);
	/* Release what setup made; also after a setup that failed half-way. */
	void (*destroy)(struct memmap *map);
	/* The state map: which pages are private. */
	const struct shareability_map *(*state)(const struct memmap *map);
	/* 0, or -ENOTTY when nothing of the file can ever be converted. */
	int (*can_convert)(const struct memmap *map);
	/* The backing's part of converting [gpa, gpa + size), after the views'
	 * memslots: it drops the lock only around its kernel calls and changes
	 * the state under it; on a failure memmap_convert puts the memslots and
	 * the backing back as the state says (memmap_resync). done->eagain
	 * counts the EAGAIN answers it met. */
	int (*convert)(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
		       struct memmap_conversion *done, struct gmemvm_error *error);
	/* Put the backing's part of [gpa, gpa + size) back as the state says. */
	void (*resync)(struct memmap *map, uint64_t gpa, uint64_t size);
	/* Punch [gpa, gpa + size) out of every backing: zeroes for every view. */
	int (*discard)(struct memmap *map, uint64_t gpa, uint64_t size, struct gmemvm_error *error);
	/* memmap_hold's work; NULL when shared memory is not in the guest_memfd. */
	int (*hold)(struct memmap *map, uint64_t gpa, uint64_t size, bool take);
	/* For the checker: the files the VMM's own host view maps over shared
	 * and over private pages; false when the kernel keeps that view. */
	bool (*host_view_files)(const struct memmap *map, int *shared_fd, int *private_fd);
};

extern const struct memmap_backing_ops memmap_in_place;
extern const struct memmap_backing_ops memmap_legacy, memmap_legacy_native;
/* Upstream pKVM (memmap_protected.c): anonymous memory the hypervisor hands
 * out; the VMM never converts (memmap_setup_protected). */
extern const struct memmap_backing_ops memmap_protected;

/* memmap.c: the views' memslots, then the backing, of [gpa, gpa + size)
 * back as the state says (the undo of a failed conversion). */
void memmap_resync(struct memmap *map, uint64_t gpa, uint64_t size);

/* Around a conversion's kernel calls (mmap, fallocate, KVM ioctls): drop
 * the map's lock, and take it again before touching the state. */
void memmap_kernel_call_begin(struct memmap *map);
void memmap_kernel_call_end(struct memmap *map);

#endif
