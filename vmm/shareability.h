/* SPDX-License-Identifier: MIT */
/*
 * Per-page shareability of one guest_memfd, as the notes' stage 2 describes
 * it (the design notes' stage 2, docs/design.md): every page is either
 * ALL (shared with the host) or GUEST (private). A file starts ALL, or GUEST
 * with the notes' INIT_PRIVATE, and CONVERT_SHARED / CONVERT_PRIVATE change
 * ranges. gmemvm keeps this model where the kernel lacks it.
 *
 * The kernel keeps an xarray; here the state is a sorted array of extents
 * (with a gap, below) that always covers [0, size) and never has two
 * neighbours in the same state, so many small conversions stay cheap to look
 * up (binary search) and a file converted back to one state is one extent
 * again.
 *
 * No locking inside: callers serialise all calls on one map.
 */
#ifndef GMEMVM_SHAREABILITY_H
#define GMEMVM_SHAREABILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum shareability {
	SHAREABILITY_ALL,   /* shared with the host: host faults succeed */
	SHAREABILITY_GUEST, /* private: host faults get SIGBUS (the notes) */
};

/* [start, end) in one state; start and end are multiples of the granule. */
struct shareability_extent {
	uint64_t start;
	uint64_t end;
	enum shareability state;
};

/*
 * Visible so callers can embed it; touch it only through the functions.
 * extents is a gap buffer: extent i (0 <= i < nr) is extents[i] for i < gap
 * and extents[i + capacity - nr] otherwise. Edits move the gap to where they
 * happen, so a run of nearby conversions (a guest converting pages one after
 * another, in either direction) moves O(1) extents each, not the whole array.
 */
struct shareability_map {
	struct shareability_extent *extents; /* sorted, contiguous from 0 to size */
	size_t nr;
	size_t capacity;
	size_t gap; /* logical index where the unused slots sit */
	uint64_t size;
	uint64_t granule;
};

/*
 * size: the file size; granule: the conversion unit, a power of two >= 4096
 * (4 KiB pages, or 2 MiB for huge pages), with size a non-zero multiple of it.
 * Returns 0, -EINVAL for bad arguments or -ENOMEM.
 */
int shareability_init(struct shareability_map *map, uint64_t size, uint64_t granule,
		      enum shareability initial);
/* Frees the extents; safe to call twice. */
void shareability_destroy(struct shareability_map *map);

/*
 * Set [offset, offset + length) to state: what the conversion ioctls do.
 * Returns 0, or the errno the kernel would give: -EINVAL for length 0,
 * offset or length not a multiple of the granule, offset + length overflowing
 * or beyond size; -ENOMEM if the array cannot grow. On error nothing changed.
 */
int shareability_set(struct shareability_map *map, uint64_t offset, uint64_t length,
		     enum shareability state);

/* State of the granule holding offset; offset must be < size (else ALL). */
enum shareability shareability_get(const struct shareability_map *map, uint64_t offset);

/* true if every byte of [offset, offset + length) is in state; false for an empty or out-of-range
 * range. */
bool shareability_range_is(const struct shareability_map *map, uint64_t offset, uint64_t length,
			   enum shareability state);

size_t shareability_extent_count(const struct shareability_map *map);

/* How many bytes of [offset, offset + length) are in state; 0 for an empty or
 * out-of-range range. What a conversion to the other state would change. */
uint64_t shareability_bytes_in(const struct shareability_map *map, uint64_t offset, uint64_t length,
			       enum shareability state);

/* fn for each extent in address order; for the checker and --trace. */
void shareability_for_each(const struct shareability_map *map,
			   void (*fn)(void *opaque, uint64_t start, uint64_t end,
				      enum shareability state),
			   void *opaque);

/*
 * A picture of [offset, offset + length) in columns characters for --trace:
 * 'S' all shared, 'P' all private, 'm' mixed, e.g. "SSSSPPPPmS". out must
 * hold columns + 1 bytes and is NUL-terminated. A range outside the file
 * renders as '?'.
 */
/* The same, clipped to [offset, offset + length): fn sees only that part. */
void shareability_for_each_in(const struct shareability_map *map, uint64_t offset, uint64_t length,
			      void (*fn)(void *opaque, uint64_t start, uint64_t end,
					 enum shareability state),
			      void *opaque);

void shareability_render(const struct shareability_map *map, uint64_t offset, uint64_t length,
			 char *out, size_t columns);

/*
 * The invariants: extents non-empty, sorted and contiguous from 0 to size,
 * aligned to the granule, no equal neighbours. true if all hold.
 */
bool shareability_check(const struct shareability_map *map);

#endif
