/* SPDX-License-Identifier: MIT */
/*
 * --memmap FILE.svg: a picture of the guest memory map, taken from the real
 * memory map of a run (docs/memory-map.md): before the first vCPU runs, and
 * right after the run's first conversion, so that a reader sees what a
 * conversion changes. Each picture has, over guest RAM: the state of every
 * page (private or shared), each view's memslots with what backs them (the
 * guest_memfd at an offset, or plain memory), and the VMM's own mapping of
 * guest memory (the host view). The memslots drawn are the ones the VMM
 * bound with KVM_SET_USER_MEMORY_REGION2; the checker holds them, and the
 * host view, to the state after every run (memmap_check()).
 */
#ifndef GMEMVM_MEMMAP_PICTURE_H
#define GMEMVM_MEMMAP_PICTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* What one picture can hold; a map with more runs or memslots says how
 * many it left out. */
#define MEMMAP_PICTURE_MAX_RUNS	 48
#define MEMMAP_PICTURE_MAX_SLOTS 48

struct memmap_picture_run {
	uint64_t start, end;
	bool private;
};

struct memmap_picture_slot {
	uint32_t slot;
	uint64_t offset, size; /* RAM offset, which is also the guest_memfd offset */
	bool guest_memfd;      /* bound with KVM_MEM_GUEST_MEMFD */
	bool userspace_addr;   /* bound with a host address (false: NULL) */
};

struct memmap_picture_view {
	char role[24]; /* "ram", "private view", "shared view" */
	uint64_t base; /* GPA of RAM offset 0 */
	size_t count;  /* memslots the view had */
	size_t shown;  /* of which the picture holds the first */
	struct memmap_picture_slot slots[MEMMAP_PICTURE_MAX_SLOTS];
};

/* The memory map at one moment: filled by memmap_snapshot() (memmap.h). */
struct memmap_snapshot {
	bool taken;
	char label[160];
	uint64_t ram_size;
	/* Where the shared contents live: the guest_memfd (in place) or a
	 * separate memfd (coco-legacy). */
	bool shared_in_gmem;
	size_t run_count, runs_shown;
	struct memmap_picture_run runs[MEMMAP_PICTURE_MAX_RUNS];
	int nr_views;
	struct memmap_picture_view views[2];
};

/* Draw before and after (after may not be taken: the run converted
 * nothing; nor before, whose label then says why there is no map) as one SVG; title names the
 * scenario, mode its mode and stage. 0, or a negative errno of the write. */
int memmap_picture_write_svg(FILE *out, const struct memmap_snapshot *before,
			     const struct memmap_snapshot *after, const char *title,
			     const char *mode);

#endif
