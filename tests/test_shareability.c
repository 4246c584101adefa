// SPDX-License-Identifier: MIT
/*
 * The shareability extent map (vmm/shareability.c): defaults and refusals as
 * the notes' stage 2 and the conversion ioctls give them, splitting and
 * merging, and a randomized comparison against a page-by-page reference.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "shareability.h"

#define PAGE 4096ULL
#define HUGE (2ULL << 20)
#define MIB  (1ULL << 20)

static void init_default_all(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * MIB, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_int_equal(shareability_get(&map, 0), SHAREABILITY_ALL);
	assert_int_equal(shareability_get(&map, 16 * MIB - 1), SHAREABILITY_ALL);
	assert_true(shareability_range_is(&map, 0, 16 * MIB, SHAREABILITY_ALL));
	assert_false(shareability_range_is(&map, 0, 16 * MIB, SHAREABILITY_GUEST));
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
	shareability_destroy(&map); /* twice is harmless */
}

static void init_private(void **state)
{
	struct shareability_map map;

	(void)state;
	/* The notes' INIT_PRIVATE: the file starts GUEST. */
	assert_int_equal(shareability_init(&map, 4 * HUGE, HUGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_int_equal(shareability_get(&map, 3 * HUGE), SHAREABILITY_GUEST);
	assert_true(shareability_range_is(&map, 0, 4 * HUGE, SHAREABILITY_GUEST));
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
}

static void init_refusals(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * MIB, 6144, SHAREABILITY_ALL), -EINVAL);
	assert_int_equal(shareability_init(&map, 16 * MIB, 2048, SHAREABILITY_ALL), -EINVAL);
	assert_int_equal(shareability_init(&map, 16 * MIB, 0, SHAREABILITY_ALL), -EINVAL);
	assert_int_equal(shareability_init(&map, 16 * MIB + PAGE, HUGE, SHAREABILITY_ALL), -EINVAL);
	assert_int_equal(shareability_init(&map, 5000, PAGE, SHAREABILITY_ALL), -EINVAL);
	assert_int_equal(shareability_init(&map, 0, PAGE, SHAREABILITY_ALL), -EINVAL);
	assert_int_equal(shareability_init(&map, PAGE, PAGE, (enum shareability)7), -EINVAL);
	/* A refused init leaves a map destroy can still take. */
	shareability_destroy(&map);
}

static void set_middle_splits_and_merges_back(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 3);
	assert_true(shareability_check(&map));
	assert_int_equal(shareability_get(&map, 3 * PAGE), SHAREABILITY_ALL);
	assert_int_equal(shareability_get(&map, 4 * PAGE), SHAREABILITY_GUEST);
	assert_int_equal(shareability_get(&map, 8 * PAGE - 1), SHAREABILITY_GUEST);
	assert_int_equal(shareability_get(&map, 8 * PAGE), SHAREABILITY_ALL);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
}

static void set_at_start_and_end(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 0, 2 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 2);
	assert_int_equal(shareability_set(&map, 14 * PAGE, 2 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 3);
	assert_true(shareability_check(&map));
	assert_int_equal(shareability_get(&map, 0), SHAREABILITY_GUEST);
	assert_int_equal(shareability_get(&map, 2 * PAGE), SHAREABILITY_ALL);
	assert_int_equal(shareability_get(&map, 15 * PAGE), SHAREABILITY_GUEST);
	/* Back again at either end merges into the middle. */
	assert_int_equal(shareability_set(&map, 0, 2 * PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_extent_count(&map), 2);
	assert_int_equal(shareability_set(&map, 14 * PAGE, 2 * PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
}

static void set_whole_file(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 0, 16 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_int_equal(shareability_get(&map, 0), SHAREABILITY_GUEST);
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
}

static void set_touching_merges(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 2 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 3);
	/* Right after the private extent: it grows, no new extent. */
	assert_int_equal(shareability_set(&map, 6 * PAGE, 2 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 3);
	/* Right before it: the same. */
	assert_int_equal(shareability_set(&map, 2 * PAGE, 2 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 3);
	assert_true(shareability_range_is(&map, 2 * PAGE, 6 * PAGE, SHAREABILITY_GUEST));
	assert_true(shareability_range_is(&map, 0, 2 * PAGE, SHAREABILITY_ALL));
	assert_true(shareability_range_is(&map, 8 * PAGE, 8 * PAGE, SHAREABILITY_ALL));
	/* Filling the gap between two private extents joins all three. */
	assert_int_equal(shareability_set(&map, 10 * PAGE, 2 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 5);
	assert_int_equal(shareability_set(&map, 8 * PAGE, 2 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 3);
	assert_true(shareability_range_is(&map, 2 * PAGE, 10 * PAGE, SHAREABILITY_GUEST));
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
}

static void set_over_several_collapses(void **state)
{
	struct shareability_map map;
	uint64_t i;

	(void)state;
	assert_int_equal(shareability_init(&map, 32 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	for (i = 2; i < 30; i += 4)
		assert_int_equal(shareability_set(&map, i * PAGE, 2 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 15);
	assert_true(shareability_check(&map));
	/* Starting and ending inside extents: two remainders stay. */
	assert_int_equal(shareability_set(&map, 3 * PAGE, 21 * PAGE, SHAREABILITY_ALL), 0);
	assert_true(shareability_check(&map));
	assert_int_equal(shareability_get(&map, 2 * PAGE), SHAREABILITY_GUEST);
	assert_int_equal(shareability_get(&map, 3 * PAGE), SHAREABILITY_ALL);
	assert_int_equal(shareability_get(&map, 23 * PAGE), SHAREABILITY_ALL);
	assert_int_equal(shareability_get(&map, 25 * PAGE), SHAREABILITY_ALL);
	assert_int_equal(shareability_get(&map, 26 * PAGE), SHAREABILITY_GUEST);
	/* [0,2) S, [2,3) P, [3,26) S, [26,28) P, [28,32) S */
	assert_int_equal(shareability_extent_count(&map), 5);
	assert_int_equal(shareability_set(&map, 0, 32 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
}

static void set_same_state_is_noop(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_set(&map, 5 * PAGE, 2 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_set(&map, 0, 2 * PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_extent_count(&map), 3);
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
}

/* Fill the map with a pattern so a refused set can be seen to change nothing. */
static void expect_refused(struct shareability_map *map, uint64_t offset, uint64_t length)
{
	size_t before = shareability_extent_count(map);

	assert_int_equal(shareability_set(map, offset, length, SHAREABILITY_GUEST), -EINVAL);
	assert_int_equal(shareability_extent_count(map), before);
	assert_true(shareability_check(map));
}

static void refusals(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, PAGE, SHAREABILITY_GUEST), 0);
	expect_refused(&map, 0, 0);			       /* zero length */
	expect_refused(&map, 8 * PAGE, 0);		       /* zero length */
	expect_refused(&map, 1, PAGE);			       /* misaligned offset */
	expect_refused(&map, PAGE + 512, PAGE);		       /* misaligned offset */
	expect_refused(&map, 0, PAGE + 1);		       /* misaligned length */
	expect_refused(&map, 0, 100);			       /* misaligned length */
	expect_refused(&map, UINT64_MAX - PAGE + 1, PAGE);     /* ends exactly at 2^64 */
	expect_refused(&map, UINT64_MAX - PAGE + 1, 2 * PAGE); /* wraps */
	expect_refused(&map, PAGE, UINT64_MAX - PAGE + 1);     /* wraps */
	expect_refused(&map, 16 * PAGE, PAGE);		       /* starts at size */
	expect_refused(&map, 15 * PAGE, 2 * PAGE);	       /* crosses size */
	expect_refused(&map, 0, 17 * PAGE);		       /* beyond size */
	assert_int_equal(shareability_set(&map, 0, PAGE, (enum shareability)9), -EINVAL);
	assert_int_equal(shareability_get(&map, 4 * PAGE), SHAREABILITY_GUEST);
	assert_int_equal(shareability_get(&map, 0), SHAREABILITY_ALL);
	shareability_destroy(&map);
}

static void exactly_up_to_size_accepted(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 15 * PAGE, PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_set(&map, 8 * PAGE, 8 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 2);
	assert_int_equal(shareability_get(&map, 16 * PAGE - 1), SHAREABILITY_GUEST);
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
}

static void huge_granule_refuses_small_ranges(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 8 * HUGE, HUGE, SHAREABILITY_ALL), 0);
	expect_refused(&map, PAGE, HUGE);
	expect_refused(&map, HUGE, PAGE);
	expect_refused(&map, HUGE + PAGE, HUGE - PAGE);
	expect_refused(&map, 0, HUGE + PAGE);
	assert_int_equal(shareability_set(&map, HUGE, 2 * HUGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 3);
	assert_int_equal(shareability_get(&map, HUGE + PAGE), SHAREABILITY_GUEST);
	assert_int_equal(shareability_get(&map, HUGE - 1), SHAREABILITY_ALL);
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
}

static void range_is_across_boundary(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_GUEST), 0);
	assert_true(shareability_range_is(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_GUEST));
	assert_true(shareability_range_is(&map, 5 * PAGE + 7, 100, SHAREABILITY_GUEST));
	assert_false(shareability_range_is(&map, 3 * PAGE, 2 * PAGE, SHAREABILITY_GUEST));
	assert_false(shareability_range_is(&map, 3 * PAGE, 2 * PAGE, SHAREABILITY_ALL));
	assert_false(shareability_range_is(&map, 7 * PAGE, 2 * PAGE, SHAREABILITY_GUEST));
	assert_false(shareability_range_is(&map, 8 * PAGE - 1, 2, SHAREABILITY_GUEST));
	assert_true(shareability_range_is(&map, 8 * PAGE - 1, 1, SHAREABILITY_GUEST));
	assert_true(shareability_range_is(&map, 8 * PAGE, 8 * PAGE, SHAREABILITY_ALL));
	assert_true(shareability_range_is(&map, 0, 4 * PAGE, SHAREABILITY_ALL));
	assert_false(shareability_range_is(&map, 0, 16 * PAGE, SHAREABILITY_ALL));
	/* Empty, beyond size, overflowing: false. */
	assert_false(shareability_range_is(&map, 0, 0, SHAREABILITY_ALL));
	assert_false(shareability_range_is(&map, 8 * PAGE, 9 * PAGE, SHAREABILITY_ALL));
	assert_false(shareability_range_is(&map, UINT64_MAX, 2, SHAREABILITY_ALL));
	shareability_destroy(&map);
}

/* What a conversion would change: the bytes of a range in one state. */
static void bytes_in_counts_only_that_state(void **state)
{
	struct shareability_map map;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_bytes_in(&map, 0, 16 * PAGE, SHAREABILITY_GUEST), 4 * PAGE);
	assert_int_equal(shareability_bytes_in(&map, 0, 16 * PAGE, SHAREABILITY_ALL), 12 * PAGE);
	/* unshare 4 pages from 3, of which 3 already private: one changes. */
	assert_int_equal(shareability_bytes_in(&map, 3 * PAGE, 4 * PAGE, SHAREABILITY_ALL), PAGE);
	assert_int_equal(shareability_bytes_in(&map, 5 * PAGE, 2 * PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_bytes_in(&map, 7 * PAGE, 2 * PAGE, SHAREABILITY_GUEST), PAGE);
	assert_int_equal(shareability_bytes_in(&map, 5 * PAGE + 7, 100, SHAREABILITY_GUEST), 100);
	/* Empty, beyond size, overflowing: nothing. */
	assert_int_equal(shareability_bytes_in(&map, 0, 0, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_bytes_in(&map, 8 * PAGE, 9 * PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_bytes_in(&map, UINT64_MAX, 2, SHAREABILITY_ALL), 0);
	shareability_destroy(&map);
}

static void render_pattern(void **state)
{
	struct shareability_map map;
	char out[17];

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_set(&map, 13 * PAGE, PAGE, SHAREABILITY_GUEST), 0);
	/* One column a page. */
	shareability_render(&map, 0, 16 * PAGE, out, 16);
	assert_string_equal(out, "SSSSPPPPSSSSSPSS");
	/* Two pages a column: [12,14) holds S and P. */
	shareability_render(&map, 0, 16 * PAGE, out, 8);
	assert_string_equal(out, "SSPPSSmS");
	/* Part of the file. */
	shareability_render(&map, 2 * PAGE, 4 * PAGE, out, 4);
	assert_string_equal(out, "SSPP");
	/* One column for the whole file. */
	shareability_render(&map, 0, 16 * PAGE, out, 1);
	assert_string_equal(out, "m");
	/* Three columns over uneven splits. */
	shareability_render(&map, 0, 3 * PAGE, out, 3);
	assert_string_equal(out, "SSS");
	/* More columns than bytes: each shows one byte. */
	shareability_render(&map, 4 * PAGE - 2, 4, out, 8);
	assert_string_equal(out, "SSSSPPPP");
	/* Zero columns, and a range outside the file. */
	shareability_render(&map, 0, 16 * PAGE, out, 0);
	assert_string_equal(out, "");
	shareability_render(&map, 15 * PAGE, 2 * PAGE, out, 3);
	assert_string_equal(out, "???");
	shareability_destroy(&map);
}

struct collect {
	uint64_t starts[8];
	uint64_t ends[8];
	enum shareability states[8];
	size_t n;
};

static void collect_one(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	struct collect *c = opaque;

	assert_true(c->n < 8);
	c->starts[c->n] = start;
	c->ends[c->n] = end;
	c->states[c->n] = state;
	c->n++;
}

static void for_each_in_order(void **state)
{
	struct shareability_map map;
	struct collect c = { .n = 0 };

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_ALL), 0);
	shareability_for_each(&map, collect_one, &c);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.starts[0], 0);
	assert_int_equal(c.ends[0], 4 * PAGE);
	assert_int_equal(c.states[0], SHAREABILITY_GUEST);
	assert_int_equal(c.starts[1], 4 * PAGE);
	assert_int_equal(c.ends[1], 8 * PAGE);
	assert_int_equal(c.states[1], SHAREABILITY_ALL);
	assert_int_equal(c.starts[2], 8 * PAGE);
	assert_int_equal(c.ends[2], 16 * PAGE);
	assert_int_equal(c.states[2], SHAREABILITY_GUEST);
	shareability_destroy(&map);
}

/* Extent i of the map's gap buffer (the layout shareability.h describes). */
static struct shareability_extent *slot(struct shareability_map *map, size_t i)
{
	return &map->extents[i < map->gap ? i : i + (map->capacity - map->nr)];
}

static void check_detects_corruption(void **state)
{
	struct shareability_map map;
	struct shareability_extent saved;
	size_t saved_gap;

	(void)state;
	assert_int_equal(shareability_init(&map, 16 * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_set(&map, 4 * PAGE, 4 * PAGE, SHAREABILITY_GUEST), 0);
	/* Move the gap below the extents, so slot() has to skip it. */
	assert_int_equal(shareability_set(&map, 0, PAGE, SHAREABILITY_ALL), 0);
	assert_true(shareability_check(&map));
	assert_int_equal(slot(&map, 1)->start, 4 * PAGE);

	saved = *slot(&map, 1);
	slot(&map, 1)->state = SHAREABILITY_ALL; /* equal neighbours */
	assert_false(shareability_check(&map));
	*slot(&map, 1) = saved;
	slot(&map, 1)->start += 512; /* misaligned, and a hole */
	assert_false(shareability_check(&map));
	*slot(&map, 1) = saved;
	slot(&map, 1)->end = slot(&map, 1)->start; /* empty */
	assert_false(shareability_check(&map));
	*slot(&map, 1) = saved;
	slot(&map, 2)->end -= PAGE; /* short of size */
	assert_false(shareability_check(&map));
	slot(&map, 2)->end += PAGE;
	assert_true(shareability_check(&map));
	saved_gap = map.gap;
	map.gap = map.nr + 1; /* a gap past the end */
	assert_false(shareability_check(&map));
	map.gap = saved_gap;
	assert_true(shareability_check(&map));
	shareability_destroy(&map);
	assert_false(shareability_check(&map)); /* destroyed */
}

/* xorshift64: a fixed seed gives the same run everywhere. */
static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

#define RANDOM_SIZE  (64 * MIB)
#define RANDOM_PAGES (RANDOM_SIZE / PAGE)
#define RANDOM_OPS   20000

static void randomized_against_reference(void **state)
{
	static uint8_t ref[RANDOM_PAGES];
	struct shareability_map map;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t max_extents = 0;
	int op;

	(void)state;
	memset(ref, SHAREABILITY_ALL, sizeof(ref));
	assert_int_equal(shareability_init(&map, RANDOM_SIZE, PAGE, SHAREABILITY_ALL), 0);

	for (op = 0; op < RANDOM_OPS; op++) {
		uint64_t r = xorshift64(&seed);
		uint64_t first = xorshift64(&seed) % RANDOM_PAGES;
		uint64_t pages, p;
		enum shareability s = (r & 1) ? SHAREABILITY_GUEST : SHAREABILITY_ALL;

		/* Mostly small conversions, sometimes large ones. */
		if ((r >> 1) % 512 == 0)
			pages = 1 + xorshift64(&seed) % (RANDOM_PAGES - first);
		else
			pages = 1 + xorshift64(&seed) % 64;
		if (first + pages > RANDOM_PAGES)
			pages = RANDOM_PAGES - first;

		assert_int_equal(shareability_set(&map, first * PAGE, pages * PAGE, s), 0);
		for (p = first; p < first + pages; p++)
			ref[p] = (uint8_t)s;
		assert_true(shareability_check(&map));
		if (shareability_extent_count(&map) > max_extents)
			max_extents = shareability_extent_count(&map);

		/* Now and then, a refused set must change nothing. */
		if (op % 97 == 0)
			assert_int_equal(shareability_set(&map, first * PAGE + 512, PAGE, s),
					 -EINVAL);

		if ((op + 1) % 1000 == 0) {
			size_t runs = 1;

			for (p = 0; p < RANDOM_PAGES; p++) {
				assert_int_equal(shareability_get(&map, p * PAGE), ref[p]);
				assert_int_equal(shareability_get(&map, p * PAGE + PAGE - 1),
						 ref[p]);
				if (p > 0 && ref[p] != ref[p - 1])
					runs++;
			}
			/* Fully merged: as many extents as runs in the reference. */
			assert_int_equal(shareability_extent_count(&map), runs);
			/* And a random range counts what the reference counts. */
			uint64_t from = xorshift64(&seed) % RANDOM_PAGES, guest = 0;
			uint64_t count = 1 + xorshift64(&seed) % (RANDOM_PAGES - from);
			for (p = from; p < from + count; p++)
				guest += ref[p] == SHAREABILITY_GUEST ? PAGE : 0;
			assert_int_equal(shareability_bytes_in(&map, from * PAGE, count * PAGE,
							       SHAREABILITY_GUEST),
					 guest);
		}
	}
	print_message("randomized: %d conversions, up to %zu extents\n", RANDOM_OPS, max_extents);
	shareability_destroy(&map);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

#define MANY_SIZE  (1ULL << 30)
#define MANY_PAGES (MANY_SIZE / PAGE)

static void many_small_conversions(void **state)
{
	struct shareability_map map;
	struct timespec t0;
	uint64_t p;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(shareability_init(&map, MANY_SIZE, PAGE, SHAREABILITY_ALL), 0);
	for (p = 0; p < MANY_PAGES; p += 2)
		assert_int_equal(shareability_set(&map, p * PAGE, PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), MANY_PAGES);
	assert_true(shareability_check(&map));
	assert_int_equal(shareability_get(&map, 0), SHAREABILITY_GUEST);
	assert_int_equal(shareability_get(&map, PAGE), SHAREABILITY_ALL);
	assert_int_equal(shareability_get(&map, MANY_SIZE - PAGE), SHAREABILITY_ALL);
	/*
	 * Back page by page, from the top: each set merges with the extents
	 * above it, which are at the end of the array, so nothing moves far.
	 */
	for (p = MANY_PAGES; p >= 2; p -= 2)
		assert_int_equal(shareability_set(&map, (p - 2) * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_true(shareability_check(&map));
	print_message("131072 private pages in 1 GiB and back: %.3f s\n", seconds_since(&t0));
	shareability_destroy(&map);
}

static void many_small_back_from_the_bottom(void **state)
{
	struct shareability_map map;
	struct timespec t0;
	uint64_t p;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(shareability_init(&map, MANY_SIZE, PAGE, SHAREABILITY_ALL), 0);
	for (p = 0; p < MANY_PAGES; p += 2)
		assert_int_equal(shareability_set(&map, p * PAGE, PAGE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), MANY_PAGES);
	/*
	 * Back in ascending order: each set removes extents at the front. The
	 * gap follows it there; a plain array took 5 s here (shareability.c).
	 */
	for (p = 0; p < MANY_PAGES; p += 2) {
		assert_int_equal(shareability_set(&map, p * PAGE, PAGE, SHAREABILITY_ALL), 0);
		assert_int_equal(shareability_extent_count(&map), MANY_PAGES - p - 1);
	}
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_true(shareability_check(&map));
	print_message("131072 private pages in 1 GiB and back from the bottom: %.3f s\n",
		      seconds_since(&t0));
	shareability_destroy(&map);
}

static void many_small_then_one_big(void **state)
{
	struct shareability_map map;
	struct timespec t0;
	uint64_t p;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(shareability_init(&map, MANY_SIZE, PAGE, SHAREABILITY_GUEST), 0);
	for (p = 1; p < MANY_PAGES; p += 2)
		assert_int_equal(shareability_set(&map, p * PAGE, PAGE, SHAREABILITY_ALL), 0);
	assert_int_equal(shareability_extent_count(&map), MANY_PAGES);
	assert_true(shareability_check(&map));
	/* One conversion over all of them collapses the array. */
	assert_int_equal(shareability_set(&map, 0, MANY_SIZE, SHAREABILITY_GUEST), 0);
	assert_int_equal(shareability_extent_count(&map), 1);
	assert_true(shareability_check(&map));
	print_message("131072 extents then one whole-file conversion: %.3f s\n",
		      seconds_since(&t0));
	shareability_destroy(&map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_default_all),
		cmocka_unit_test(init_private),
		cmocka_unit_test(init_refusals),
		cmocka_unit_test(set_middle_splits_and_merges_back),
		cmocka_unit_test(set_at_start_and_end),
		cmocka_unit_test(set_whole_file),
		cmocka_unit_test(set_touching_merges),
		cmocka_unit_test(set_over_several_collapses),
		cmocka_unit_test(set_same_state_is_noop),
		cmocka_unit_test(refusals),
		cmocka_unit_test(exactly_up_to_size_accepted),
		cmocka_unit_test(huge_granule_refuses_small_ranges),
		cmocka_unit_test(range_is_across_boundary),
		cmocka_unit_test(bytes_in_counts_only_that_state),
		cmocka_unit_test(render_pattern),
		cmocka_unit_test(for_each_in_order),
		cmocka_unit_test(check_detects_corruption),
		cmocka_unit_test(randomized_against_reference),
		cmocka_unit_test(many_small_conversions),
		cmocka_unit_test(many_small_back_from_the_bottom),
		cmocka_unit_test(many_small_then_one_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
