// SPDX-License-Identifier: MIT
/*
 * Shareability as a sorted array of extents with a gap (see shareability.h).
 * A set replaces the extents it touches with at most three (left remainder,
 * the new range, right remainder), folding in equal neighbours, so the array
 * never holds two adjacent extents in the same state. The replacement
 * happens at the gap, which is first moved there: a plain array would shift
 * everything above the edit, and converting 1 GiB of alternating pages back
 * from the bottom took 5 s that way. Growth happens before anything changes,
 * so -ENOMEM leaves the map as it was.
 */
#include "shareability.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SHAREABILITY_MIN_GRANULE      4096ULL
#define SHAREABILITY_INITIAL_CAPACITY 16

static bool state_valid(enum shareability state)
{
	return state == SHAREABILITY_ALL || state == SHAREABILITY_GUEST;
}

static bool is_power_of_two(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

int shareability_init(struct shareability_map *map, uint64_t size, uint64_t granule,
		      enum shareability initial)
{
	memset(map, 0, sizeof(*map));
	if (!is_power_of_two(granule) || granule < SHAREABILITY_MIN_GRANULE)
		return -EINVAL;
	if (size == 0 || (size & (granule - 1)) != 0)
		return -EINVAL;
	if (!state_valid(initial))
		return -EINVAL;

	map->extents = calloc(SHAREABILITY_INITIAL_CAPACITY, sizeof(*map->extents));
	if (!map->extents)
		return -ENOMEM;
	map->capacity = SHAREABILITY_INITIAL_CAPACITY;
	map->nr = 1;
	map->gap = 1;
	map->size = size;
	map->granule = granule;
	/* The notes: one state for the whole file until the first conversion. */
	map->extents[0] = (struct shareability_extent){ .start = 0, .end = size, .state = initial };
	return 0;
}

void shareability_destroy(struct shareability_map *map)
{
	free(map->extents);
	memset(map, 0, sizeof(*map));
}

/* Extent i in address order, skipping the gap. */
static inline struct shareability_extent *at(const struct shareability_map *map, size_t i)
{
	return &map->extents[i < map->gap ? i : i + (map->capacity - map->nr)];
}

/* Index of the extent holding offset; offset < size, so one always does. */
static size_t find(const struct shareability_map *map, uint64_t offset)
{
	size_t lo = 0, hi = map->nr; /* the answer is in [lo, hi) */

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (at(map, mid)->start <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Move the gap so that it starts at logical index pos. */
static void move_gap(struct shareability_map *map, size_t pos)
{
	size_t gap_length = map->capacity - map->nr;
	struct shareability_extent *e = map->extents;

	if (pos < map->gap)
		memmove(&e[pos + gap_length], &e[pos], (map->gap - pos) * sizeof(*e));
	else if (pos > map->gap)
		memmove(&e[map->gap], &e[map->gap + gap_length], (pos - map->gap) * sizeof(*e));
	map->gap = pos;
}

static int reserve(struct shareability_map *map, size_t needed)
{
	struct shareability_extent *grown;
	size_t capacity = map->capacity, tail = map->nr - map->gap;

	if (needed <= capacity)
		return 0;
	while (capacity < needed) {
		if (capacity > SIZE_MAX / 2 / sizeof(*grown))
			return -ENOMEM;
		capacity *= 2;
	}
	grown = realloc(map->extents, capacity * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	/* The extents after the gap stay at the end of the larger array. */
	memmove(&grown[capacity - tail], &grown[map->capacity - tail], tail * sizeof(*grown));
	map->extents = grown;
	map->capacity = capacity;
	return 0;
}

/* Append e to list, merging it into the last entry when the states match. */
static void push(struct shareability_extent *list, size_t *n, struct shareability_extent e)
{
	if (*n > 0 && list[*n - 1].state == e.state)
		list[*n - 1].end = e.end;
	else
		list[(*n)++] = e;
}

int shareability_set(struct shareability_map *map, uint64_t offset, uint64_t length,
		     enum shareability state)
{
	struct shareability_extent repl[3];
	size_t first, last, n = 0, old;
	uint64_t end, mask = map->granule - 1;

	/* The same refusals, all EINVAL, as the kernel's conversion ioctls. */
	if (length == 0 || (offset & mask) != 0 || (length & mask) != 0)
		return -EINVAL;
	if (offset > UINT64_MAX - length)
		return -EINVAL;
	end = offset + length;
	if (end > map->size || !state_valid(state))
		return -EINVAL;

	first = find(map, offset);
	last = find(map, end - 1);

	if (at(map, first)->start < offset)
		push(repl, &n,
		     (struct shareability_extent){ at(map, first)->start, offset,
						   at(map, first)->state });
	push(repl, &n, (struct shareability_extent){ offset, end, state });
	if (end < at(map, last)->end)
		push(repl, &n,
		     (struct shareability_extent){ end, at(map, last)->end, at(map, last)->state });

	/* Fold in untouched neighbours in the same state, so none stay equal. */
	if (first > 0 && at(map, first - 1)->state == repl[0].state) {
		first--;
		repl[0].start = at(map, first)->start;
	}
	if (last + 1 < map->nr && at(map, last + 1)->state == repl[n - 1].state) {
		last++;
		repl[n - 1].end = at(map, last)->end;
	}

	old = last - first + 1;
	if (n > old) {
		int ret = reserve(map, map->nr + (n - old));

		if (ret)
			return ret;
	}
	/*
	 * With the gap just after the old extents, they are the last ones
	 * before it: drop them into the gap, then write the new ones there.
	 */
	move_gap(map, last + 1);
	map->gap = first;
	map->nr -= old;
	memcpy(&map->extents[first], repl, n * sizeof(*repl));
	map->gap += n;
	map->nr += n;
	return 0;
}

enum shareability shareability_get(const struct shareability_map *map, uint64_t offset)
{
	if (map->nr == 0 || offset >= map->size)
		return SHAREABILITY_ALL;
	return at(map, find(map, offset))->state;
}

bool shareability_range_is(const struct shareability_map *map, uint64_t offset, uint64_t length,
			   enum shareability state)
{
	const struct shareability_extent *e;

	if (map->nr == 0 || length == 0 || offset > UINT64_MAX - length ||
	    offset + length > map->size)
		return false;
	/* Neighbours differ, so a uniform range lies inside one extent. */
	e = at(map, find(map, offset));
	return e->state == state && offset + length <= e->end;
}

size_t shareability_extent_count(const struct shareability_map *map)
{
	return map->nr;
}

uint64_t shareability_bytes_in(const struct shareability_map *map, uint64_t offset, uint64_t length,
			       enum shareability state)
{
	uint64_t bytes = 0, end;

	if (map->nr == 0 || length == 0 || offset > UINT64_MAX - length ||
	    offset + length > map->size)
		return 0;
	end = offset + length;
	for (size_t i = find(map, offset); i < map->nr && at(map, i)->start < end; i++) {
		const struct shareability_extent *e = at(map, i);
		uint64_t from = e->start > offset ? e->start : offset;
		uint64_t to = e->end < end ? e->end : end;

		if (e->state == state)
			bytes += to - from;
	}
	return bytes;
}

void shareability_for_each(const struct shareability_map *map,
			   void (*fn)(void *opaque, uint64_t start, uint64_t end,
				      enum shareability state),
			   void *opaque)
{
	size_t i;

	for (i = 0; i < map->nr; i++) {
		const struct shareability_extent *e = at(map, i);

		fn(opaque, e->start, e->end, e->state);
	}
}

void shareability_for_each_in(const struct shareability_map *map, uint64_t offset, uint64_t length,
			      void (*fn)(void *opaque, uint64_t start, uint64_t end,
					 enum shareability state),
			      void *opaque)
{
	uint64_t end = offset + length;

	for (size_t i = 0; i < map->nr; i++) {
		const struct shareability_extent *e = at(map, i);
		uint64_t from = e->start > offset ? e->start : offset;
		uint64_t to = e->end < end ? e->end : end;

		if (from < to)
			fn(opaque, from, to, e->state);
	}
}

/* offset + length * num / den without overflowing the product. */
static uint64_t scale(uint64_t offset, uint64_t length, uint64_t num, uint64_t den)
{
	return offset + (uint64_t)((unsigned __int128)length * num / den);
}

void shareability_render(const struct shareability_map *map, uint64_t offset, uint64_t length,
			 char *out, size_t columns)
{
	bool valid = map->nr > 0 && length > 0 && offset <= UINT64_MAX - length &&
		     offset + length <= map->size;
	size_t c;

	for (c = 0; c < columns; c++) {
		uint64_t a, b;
		const struct shareability_extent *e;

		if (!valid) {
			out[c] = '?';
			continue;
		}
		a = scale(offset, length, c, columns);
		b = scale(offset, length, c + 1, columns);
		if (b <= a)
			b = a + 1; /* more columns than bytes: show the byte at a */
		e = at(map, find(map, a));
		if (b > e->end)
			out[c] = 'm';
		else
			out[c] = e->state == SHAREABILITY_ALL ? 'S' : 'P';
	}
	out[columns] = '\0';
}

bool shareability_check(const struct shareability_map *map)
{
	uint64_t mask = map->granule - 1;
	const struct shareability_extent *prev = NULL;
	size_t i;

	if (!map->extents || map->nr == 0 || map->nr > map->capacity || map->gap > map->nr)
		return false;
	if (!is_power_of_two(map->granule) || map->granule < SHAREABILITY_MIN_GRANULE)
		return false;
	if (at(map, 0)->start != 0 || at(map, map->nr - 1)->end != map->size)
		return false;
	for (i = 0; i < map->nr; i++) {
		const struct shareability_extent *e = at(map, i);

		if (e->start >= e->end || (e->start & mask) || (e->end & mask))
			return false;
		if (!state_valid(e->state))
			return false;
		if (prev && (e->start != prev->end || e->state == prev->state))
			return false;
		prev = e;
	}
	return true;
}
