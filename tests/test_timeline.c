// SPDX-License-Identifier: MIT
/*
 * The --timeline recorder and renderer (vmm/timeline.c), no KVM needed: a
 * synthetic run of two vCPUs is recorded, drawn, and the SVG handed to a
 * real renderer, rsvg-convert (Debian's librsvg2-bin, which scripts/setup.sh
 * installs), which must turn it into a PNG. A missing rsvg-convert fails the
 * test, saying what to install: the picture is checked, not assumed.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "conversion.h"
#include "gmemvm_abi.h"
#include "memmap.h"
#include "memmap_picture.h"
#include "timeline.h"

#define PAGE	    4096ULL
#define RAM_SIZE    (16ULL << 20)
#define DATA	    0x200000ULL
#define STORM	    0x500000ULL
#define STORM_PAGES 64

/* The picture as text, and its file (removed by the caller). */
struct picture {
	char path[64];
	char *text;
};

/* A temporary file for a picture, open for writing. */
static FILE *create_picture(struct picture *picture)
{
	snprintf(picture->path, sizeof(picture->path), "/tmp/test_timeline-XXXXXX");
	int fd = mkstemp(picture->path);
	assert_true(fd >= 0);
	FILE *out = fdopen(fd, "w");
	assert_non_null(out);
	return out;
}

/* The picture written to its file, read back as text. */
static void read_picture(struct picture *picture)
{
	FILE *in = fopen(picture->path, "r");
	assert_non_null(in);
	assert_int_equal(fseek(in, 0, SEEK_END), 0);
	long size = ftell(in);
	assert_true(size > 0);
	rewind(in);
	picture->text = calloc(1, (size_t)size + 1);
	assert_non_null(picture->text);
	assert_int_equal(fread(picture->text, 1, (size_t)size, in), (size_t)size);
	fclose(in);
}

static void draw(struct timeline *timeline, const char *title, const char *mode,
		 struct picture *picture)
{
	FILE *out = create_picture(picture);
	assert_int_equal(timeline_write_svg(timeline, out, title, mode), 0);
	assert_int_equal(fclose(out), 0);
	read_picture(picture);
}

static void forget(struct picture *picture)
{
	unlink(picture->path);
	free(picture->text);
}

/* rsvg-convert must render the picture to a PNG: exit 0 and a real PNG. */
static void render_png(const struct picture *picture)
{
	if (system("command -v rsvg-convert >/dev/null 2>&1") != 0)
		fail_msg("rsvg-convert is missing: install Debian's librsvg2-bin (scripts/setup.sh "
			 "installs it, as CI does); this test checks the picture with a real "
			 "renderer and does not skip");
	char png[80], command[256];
	snprintf(png, sizeof(png), "%s.png", picture->path);
	snprintf(command, sizeof(command), "rsvg-convert -o '%s' '%s'", png, picture->path);
	int status = system(command);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	struct stat st;
	assert_int_equal(stat(png, &st), 0);
	assert_true(st.st_size > 1000);
	unsigned char signature[8] = { 0 };
	FILE *in = fopen(png, "rb");
	assert_non_null(in);
	assert_int_equal(fread(signature, 1, sizeof(signature), in), sizeof(signature));
	fclose(in);
	assert_memory_equal(signature, "\x89PNG\r\n\x1a\n", sizeof(signature));
	unlink(png);
}

static void assert_contains(const char *text, const char *part)
{
	if (!strstr(text, part))
		fail_msg("the picture lacks \"%s\"", part);
}

static void assert_lacks(const char *text, const char *part)
{
	if (strstr(text, part))
		fail_msg("the picture has \"%s\"", part);
}

/*
 * Two vCPUs: faults and conversions both ways, an already-so, refusals
 * inside and outside RAM, a discard and a refused one, then a storm of
 * faults and conversions over 64 pages, more events than the plot has
 * pixel columns. *private_pages gets the final state of the storm's pages.
 */
static void record_run(struct timeline *timeline, bool *storm_private)
{
	/* As a CoCo run begins: the boot area private, the rest shared. */
	timeline_set_initial(timeline, 0, RAM_SIZE, false);
	timeline_set_initial(timeline, 0, DATA, true);

	timeline_record(timeline, 0, TIMELINE_FAULT_PRIVATE, DATA, PAGE, 0, 0);
	timeline_record(timeline, 0, TIMELINE_TO_PRIVATE, DATA, PAGE, 1, 0);
	timeline_record(timeline, 1, TIMELINE_FAULT_PRIVATE, DATA + PAGE, PAGE, 0, 0);
	timeline_record(timeline, 1, TIMELINE_TO_PRIVATE, DATA + PAGE, PAGE, 1, 0);
	timeline_record(timeline, 0, TIMELINE_TO_SHARED, DATA, 2 * PAGE, 2, 0);
	timeline_record(timeline, 1, TIMELINE_ALREADY_SHARED, DATA, PAGE, 0, 0);
	timeline_record(timeline, 0, TIMELINE_FAULT_SHARED, 0x300000, PAGE, 0, 0);
	timeline_record(timeline, 0, TIMELINE_TO_SHARED, 0x300000, PAGE, 1, 0);
	timeline_record(timeline, 1, TIMELINE_REFUSED_SHARED, 0x300001, 8, 0, -22);
	timeline_record(timeline, 1, TIMELINE_REFUSED_PRIVATE, 1ULL << 60, PAGE, 0, -22);
	timeline_record(timeline, 0, TIMELINE_DISCARD, 0x400000, 16 * PAGE, 0, 0);
	timeline_record(timeline, 1, TIMELINE_DISCARD_REFUSED, 0x400001, PAGE, 0, -22);

	for (int i = 0; i < STORM_PAGES; i++)
		storm_private[i] = false;
	for (int i = 0; i < 3000; i++) {
		int vcpu = i % 2, page = (i * 7) % STORM_PAGES;
		uint64_t gpa = STORM + (uint64_t)page * PAGE;
		bool private = (i / 5) % 2 == 0;
		timeline_record(timeline, vcpu,
				private ? TIMELINE_FAULT_PRIVATE : TIMELINE_FAULT_SHARED, gpa, PAGE,
				0, 0);
		if (storm_private[page] == private) {
			timeline_record(timeline, vcpu,
					private ? TIMELINE_ALREADY_PRIVATE
						: TIMELINE_ALREADY_SHARED,
					gpa, PAGE, 0, 0);
		} else {
			timeline_record(timeline, vcpu,
					private ? TIMELINE_TO_PRIVATE : TIMELINE_TO_SHARED, gpa,
					PAGE, 1, 0);
			storm_private[page] = private;
		}
	}
}

static void synthetic_run_renders(void **state)
{
	(void)state;
	struct timeline *timeline = timeline_create(TIMELINE_DEFAULT_CAPACITY, RAM_SIZE);
	assert_non_null(timeline);
	bool storm_private[STORM_PAGES];
	record_run(timeline, storm_private);
	assert_int_equal(timeline_count(timeline), 12 + 6000);
	assert_int_equal(timeline_dropped(timeline), 0);

	/* The state the run ends in, as the memory map would say. */
	timeline_set_final(timeline, 0, RAM_SIZE, false);
	timeline_set_final(timeline, 0, DATA, true);
	for (int i = 0; i < STORM_PAGES; i++)
		timeline_set_final(timeline, STORM + (uint64_t)i * PAGE, PAGE, storm_private[i]);

	struct picture picture = { .text = NULL };
	draw(timeline, "coco-inplace-stage2", "coco-inplace, stage 2", &picture);
	const char *svg = picture.text;
	assert_true(strncmp(svg, "<?xml", 5) == 0);
	assert_contains(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\"");
	assert_contains(svg, "viewBox=\"0 0 ");
	assert_contains(svg, "coco-inplace-stage2 (coco-inplace, stage 2)");
	assert_contains(svg, "6012 events from 2 vCPUs over ");
	/* The legend: bands, kinds and vCPUs. */
	assert_contains(svg, "shared (the host may map it)");
	assert_contains(svg, "private (the guest&apos;s alone)");
	assert_contains(svg, "fault, private access");
	assert_contains(svg, "fault, shared access");
	assert_contains(svg, "to private");
	assert_contains(svg, "to shared");
	assert_contains(svg, "already so");
	assert_contains(svg, "refused");
	assert_contains(svg, "discarded");
	assert_contains(svg, ">vCPU 0<");
	assert_contains(svg, ">vCPU 1<");
	/* Aggregated: more events than columns. */
	assert_contains(svg, "events each (equal markers in a column drawn once)");
	/* The GPA labels, and the row of ranges outside RAM. */
	assert_contains(svg, ">0x200000<");
	assert_contains(svg, ">0x500000<");
	assert_contains(svg, ">not RAM<");
	/* The replay ends where the memory map does: no note. */
	assert_lacks(svg, "another state");
	assert_lacks(svg, "dropped");
	render_png(&picture);
	forget(&picture);
	timeline_destroy(timeline);
}

static void text_is_escaped(void **state)
{
	(void)state;
	struct timeline *timeline = timeline_create(16, RAM_SIZE);
	assert_non_null(timeline);
	timeline_record(timeline, 0, TIMELINE_TO_PRIVATE, DATA, PAGE, 1, 0);
	struct picture picture = { .text = NULL };
	draw(timeline, "a<&>b\n@@LAB end rc 0", "mode \"x\" 'y'", &picture);
	assert_contains(picture.text, "a&lt;&amp;&gt;b?&#64;&#64;LAB end rc 0");
	assert_contains(picture.text, "mode &quot;x&quot; &apos;y&apos;");
	assert_lacks(picture.text, "<&>");
	/* No line can be taken for the lab's console markers (lab/init.sh). */
	assert_lacks(picture.text, "@");
	render_png(&picture);
	forget(&picture);
	timeline_destroy(timeline);
}

static void over_capacity_drops_and_says_so(void **state)
{
	(void)state;
	struct timeline *timeline = timeline_create(10, RAM_SIZE);
	assert_non_null(timeline);
	for (int i = 0; i < 25; i++)
		timeline_record(timeline, i % 2, i % 2 ? TIMELINE_TO_SHARED : TIMELINE_TO_PRIVATE,
				DATA, PAGE, 1, 0);
	assert_int_equal(timeline_count(timeline), 10);
	assert_int_equal(timeline_dropped(timeline), 15);
	struct picture picture = { .text = NULL };
	draw(timeline, "full", "shared, stage 2", &picture);
	assert_contains(picture.text, "kept the first 10 events (its capacity) and dropped 15 "
				      "later ones");
	render_png(&picture);
	forget(&picture);
	timeline_destroy(timeline);
}

struct recorder_thread {
	pthread_t thread;
	struct timeline *timeline;
	int vcpu;
};

static void *record_many(void *opaque)
{
	struct recorder_thread *recorder = opaque;
	for (int i = 0; i < 30000; i++)
		timeline_record(recorder->timeline, recorder->vcpu, TIMELINE_FAULT_PRIVATE,
				DATA + (uint64_t)(i % 512) * PAGE, PAGE, 0, 0);
	return NULL;
}

/* vCPU threads record at once: every event is kept or counted as dropped. */
static void threads_record_at_once(void **state)
{
	(void)state;
	struct timeline *timeline = timeline_create(TIMELINE_DEFAULT_CAPACITY, RAM_SIZE);
	assert_non_null(timeline);
	struct recorder_thread recorders[4];
	for (int i = 0; i < 4; i++) {
		recorders[i] = (struct recorder_thread){ .timeline = timeline, .vcpu = i };
		assert_int_equal(
			pthread_create(&recorders[i].thread, NULL, record_many, &recorders[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(recorders[i].thread, NULL);
	assert_int_equal(timeline_count(timeline), TIMELINE_DEFAULT_CAPACITY);
	assert_int_equal(timeline_dropped(timeline), 4 * 30000 - TIMELINE_DEFAULT_CAPACITY);
	struct picture picture = { .text = NULL };
	draw(timeline, "storm", "coco-inplace, stage 2", &picture);
	assert_contains(picture.text, "dropped 20000 later ones");
	assert_contains(picture.text,
			"512 touched pages of guest RAM in 171 rows of several pages");
	render_png(&picture);
	forget(&picture);
	timeline_destroy(timeline);
}

/* Many touched pages share rows: runs of pages keep rows of their own
 * while there are few runs, and rows run across the gaps when there are
 * many (scatter: every other page). */
static void many_pages_share_rows(void **state)
{
	(void)state;
	struct timeline *timeline = timeline_create(TIMELINE_DEFAULT_CAPACITY, RAM_SIZE);
	assert_non_null(timeline);
	for (int run = 0; run < 50; run++)
		timeline_record(timeline, run % 3, TIMELINE_TO_PRIVATE,
				DATA + (uint64_t)run * 16 * PAGE, 10 * PAGE, 10, 0);
	struct picture picture = { .text = NULL };
	draw(timeline, "runs", "coco-inplace, stage 2", &picture);
	assert_contains(picture.text, "the 500 touched pages of guest RAM in 200 rows of several");
	assert_contains(picture.text, ">vCPU 2<");
	render_png(&picture);
	forget(&picture);
	timeline_destroy(timeline);

	timeline = timeline_create(TIMELINE_DEFAULT_CAPACITY, RAM_SIZE);
	assert_non_null(timeline);
	for (int i = 0; i < 1000; i++)
		timeline_record(timeline, 0, TIMELINE_TO_SHARED, DATA + (uint64_t)i * 2 * PAGE,
				PAGE, 1, 0);
	draw(timeline, "scatter", "coco-inplace, stage 2", &picture);
	assert_contains(picture.text, "the 1000 touched pages of guest RAM in 200 rows of several");
	render_png(&picture);
	forget(&picture);
	timeline_destroy(timeline);
}

/* A final state the events do not lead to is said, not hidden. */
static void mismatch_is_said(void **state)
{
	(void)state;
	struct timeline *timeline = timeline_create(16, RAM_SIZE);
	assert_non_null(timeline);
	timeline_record(timeline, 0, TIMELINE_TO_PRIVATE, DATA, 2 * PAGE, 2, 0);
	timeline_set_final(timeline, 0, RAM_SIZE, false);
	timeline_set_final(timeline, DATA, PAGE, true);
	struct picture picture = { .text = NULL };
	draw(timeline, "raced", "coco-inplace, stage 2", &picture);
	assert_contains(picture.text, "1 page ended the run in another state");
	render_png(&picture);
	forget(&picture);
	timeline_destroy(timeline);
}

static void no_events_still_draws(void **state)
{
	(void)state;
	struct timeline *timeline = timeline_create(16, RAM_SIZE);
	assert_non_null(timeline);
	struct picture picture = { .text = NULL };
	draw(timeline, "shared-basic", "shared, stage 2", &picture);
	assert_contains(picture.text, "No memory fault, conversion, refusal or discard");
	render_png(&picture);
	forget(&picture);
	timeline_destroy(timeline);
}

/* A stream in error is the caller's to report: its negative errno. */
static void write_error_is_reported(void **state)
{
	(void)state;
	struct timeline *timeline = timeline_create(16, RAM_SIZE);
	assert_non_null(timeline);
	timeline_record(timeline, 0, TIMELINE_TO_PRIVATE, DATA, PAGE, 1, 0);
	FILE *full = fopen("/dev/full", "w");
	if (!full) {
		timeline_destroy(timeline);
		skip();
	}
	assert_true(timeline_write_svg(timeline, full, "x", "y") < 0);
	fclose(full);
	timeline_destroy(timeline);
}

/*
 * The hooks in the conversion policy, on the paths that need no KVM: a
 * refused request and a memory fault in a mode that expects none are
 * recorded with their vCPU, range and answer; without a timeline nothing is.
 */
static void conversion_hooks_record(void **state)
{
	(void)state;
	struct scenario scenario = { .mode = MODE_SHARED, .stage = 1 };
	struct memmap memory = { .ram_size = RAM_SIZE };
	struct conversion_policy policy;
	conversion_init(&policy, &scenario, &memory, NULL);
	assert_null(policy.timeline);
	/* Detached: the hooks are skipped. */
	assert_int_equal(conversion_on_request(&policy, 0, RAM_SIZE, PAGE, false, NULL),
			 GMEMVM_HC_EINVAL);

	struct timeline *timeline = timeline_create(16, RAM_SIZE);
	assert_non_null(timeline);
	policy.timeline = timeline;
	assert_int_equal(conversion_on_request(&policy, 1, RAM_SIZE, PAGE, false, NULL),
			 GMEMVM_HC_EINVAL);
	assert_int_equal(conversion_on_request(&policy, 0, DATA, 2 * PAGE, true, NULL),
			 GMEMVM_HC_ENOSYS); /* mode shared, stage 1: no conversion ioctls */
	struct gmemvm_error why = { 0 };
	assert_int_equal(conversion_on_memory_fault(&policy, 1, DATA, PAGE, true, true, NULL, &why),
			 -ENOSYS);
	assert_true(why.refused);
	assert_int_equal(timeline_count(timeline), 3);

	struct picture picture = { .text = NULL };
	draw(timeline, "hooks", "shared, stage 1", &picture);
	assert_contains(picture.text, "event 0 at +");
	assert_contains(picture.text, "vCPU 1: conversion to shared refused at gpa 0x1000000 "
				      "size 0x1000 (answer -22, EINVAL)");
	assert_contains(picture.text, "vCPU 0: conversion to private refused at gpa 0x200000 "
				      "size 0x2000 (answer -38, ENOSYS)");
	assert_contains(picture.text, "vCPU 1: memory fault: private access to a shared page at "
				      "gpa 0x200000 size 0x1000");
	assert_contains(picture.text, ">not RAM<");
	render_png(&picture);
	forget(&picture);
	timeline_destroy(timeline);
	conversion_destroy(&policy);
}

/* A CoCo map of 16 MiB: both views, RAM shared but for the private view's
 * boot area, as coco-inplace sets it up. */
static void fabricated_map(struct memmap_snapshot *map, const char *label)
{
	memset(map, 0, sizeof(*map));
	map->taken = true;
	snprintf(map->label, sizeof(map->label), "%s", label);
	map->ram_size = RAM_SIZE;
	map->shared_in_gmem = true;
	map->runs[0] = (struct memmap_picture_run){ 0, GMEMVM_SHARED_AREA_GPA, true };
	map->runs[1] = (struct memmap_picture_run){ GMEMVM_SHARED_AREA_GPA, RAM_SIZE, false };
	map->run_count = map->runs_shown = 2;
	map->nr_views = 2;
	snprintf(map->views[0].role, sizeof(map->views[0].role), "private view");
	map->views[0].slots[0] =
		(struct memmap_picture_slot){ 1, 0, GMEMVM_SHARED_AREA_GPA, true, true };
	map->views[0].count = map->views[0].shown = 1;
	snprintf(map->views[1].role, sizeof(map->views[1].role), "shared view");
	map->views[1].base = 1ULL << 46;
	map->views[1].slots[0] =
		(struct memmap_picture_slot){ 2, GMEMVM_SHARED_AREA_GPA,
					      RAM_SIZE - GMEMVM_SHARED_AREA_GPA, true, true };
	map->views[1].count = map->views[1].shown = 1;
}

/* --memmap: before and after one conversion of a page, drawn and rendered;
 * a map with more memslots than a picture holds says how many it left out. */
static void memmap_picture_renders(void **state)
{
	(void)state;
	struct memmap_snapshot *maps = calloc(2, sizeof(*maps));
	assert_non_null(maps);
	fabricated_map(&maps[0], "Before the first vCPU runs");
	fabricated_map(&maps[1], "After the first conversion: 0x200000+0x1000 to private <&>");
	/* The page at DATA turns private: the state splits, the private view
	 * gains a guest_memfd memslot, the shared view's splits around it. */
	maps[1].runs[1] = (struct memmap_picture_run){ GMEMVM_SHARED_AREA_GPA, DATA, false };
	maps[1].runs[2] = (struct memmap_picture_run){ DATA, DATA + PAGE, true };
	maps[1].runs[3] = (struct memmap_picture_run){ DATA + PAGE, RAM_SIZE, false };
	maps[1].run_count = maps[1].runs_shown = 4;
	maps[1].views[0].slots[1] = (struct memmap_picture_slot){ 3, DATA, PAGE, true, true };
	maps[1].views[0].count = maps[1].views[0].shown = 2;
	maps[1].views[1].slots[0].size = DATA - GMEMVM_SHARED_AREA_GPA;
	maps[1].views[1].slots[1] =
		(struct memmap_picture_slot){ 4, DATA + PAGE, RAM_SIZE - DATA - PAGE, true, true };
	maps[1].views[1].count = 60; /* more than the picture holds */
	maps[1].views[1].shown = 2;
	struct picture picture;
	FILE *out = create_picture(&picture);
	assert_int_equal(memmap_picture_write_svg(out, &maps[0], &maps[1], "coco-inplace-stage2",
						  "coco-inplace, stage 2"),
			 0);
	assert_int_equal(fclose(out), 0);
	read_picture(&picture);
	assert_contains(picture.text, "Before the first vCPU runs");
	assert_contains(picture.text, "After the first conversion: 0x200000+0x1000 to private "
				      "&lt;&amp;&gt;");
	assert_contains(picture.text, "memslot 3: GPA 0x200000+4 KiB, KVM_MEM_GUEST_MEMFD at "
				      "guest_memfd offset 0x200000, userspace_addr set");
	assert_contains(picture.text, "memslots at GPA | 1 &lt;&lt; 46");
	assert_contains(picture.text, "+58 memslots");
	assert_contains(picture.text, "the host view maps a file that faults: SIGBUS");
	assert_contains(picture.text, ">0x200000<");
	assert_null(strchr(picture.text, '@'));
	render_png(&picture);
	if (getenv("GMEMVM_KEEP_PICTURE"))
		rename(picture.path, getenv("GMEMVM_KEEP_PICTURE"));
	forget(&picture);
	/* A run that converted nothing: one picture, and it says so. */
	out = create_picture(&picture);
	maps[1].taken = false;
	assert_int_equal(memmap_picture_write_svg(out, &maps[0], &maps[1], "shared-basic",
						  "shared, stage 2"),
			 0);
	assert_int_equal(fclose(out), 0);
	read_picture(&picture);
	assert_contains(picture.text, "The run converted nothing");
	render_png(&picture);
	forget(&picture);
	free(maps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(synthetic_run_renders),
		cmocka_unit_test(text_is_escaped),
		cmocka_unit_test(over_capacity_drops_and_says_so),
		cmocka_unit_test(threads_record_at_once),
		cmocka_unit_test(many_pages_share_rows),
		cmocka_unit_test(mismatch_is_said),
		cmocka_unit_test(no_events_still_draws),
		cmocka_unit_test(write_error_is_reported),
		cmocka_unit_test(conversion_hooks_record),
		cmocka_unit_test(memmap_picture_renders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
