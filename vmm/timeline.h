/* SPDX-License-Identifier: MIT */
/*
 * --timeline: a picture of a run. vCPU threads record each memory fault,
 * conversion, refusal and discard into a recorder of fixed capacity (set up
 * before the sandbox: recording allocates nothing and makes no system call
 * but the vDSO's clock); after the run the renderer writes an SVG 1.1
 * picture with one band per touched page of guest RAM, shared or private
 * over the run, starting from the state the run began with, and a marker per
 * event in the colour of its vCPU (docs/usage.md, "Pictures").
 *
 * The replay is exact: a band changes state only where a recorded
 * conversion changed it. Events are ordered by the time they were recorded,
 * which for one page is the order its conversions took effect except when
 * two vCPUs convert it at once; the final state (timeline_set_final) is
 * compared with the replay, and the picture says so if they differ.
 */
#ifndef GMEMVM_TIMELINE_H
#define GMEMVM_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The recorder keeps at most this many events; later ones are counted as
 * dropped and the picture says how many (about 4 MiB of address space,
 * touched only as events arrive). */
#define TIMELINE_DEFAULT_CAPACITY 100000

enum timeline_kind {
	TIMELINE_FAULT_PRIVATE,	  /* a memory fault: private access to a shared page */
	TIMELINE_FAULT_SHARED,	  /* a memory fault: shared access to a private page */
	TIMELINE_TO_PRIVATE,	  /* a conversion that changed `pages` pages to private */
	TIMELINE_TO_SHARED,	  /* ... to shared */
	TIMELINE_ALREADY_PRIVATE, /* a conversion that found the range private already */
	TIMELINE_ALREADY_SHARED,  /* ... shared already */
	TIMELINE_REFUSED_PRIVATE, /* a conversion to private refused with `code` */
	TIMELINE_REFUSED_SHARED,  /* a conversion to shared refused with `code` */
	TIMELINE_DISCARD,	  /* the range punched out of every backing */
	TIMELINE_DISCARD_REFUSED, /* a discard refused with `code` */
	TIMELINE_KIND_COUNT
};

struct timeline;

/* A recorder for a guest of ram_size bytes, every page shared until
 * timeline_set_initial says otherwise. NULL when out of memory. */
struct timeline *timeline_create(size_t capacity, uint64_t ram_size);
void timeline_destroy(struct timeline *timeline);

/* The state [gpa, gpa + size) of RAM is in when the run begins (before the
 * first event), and the state it ends in (after the last); page-granular,
 * clipped to RAM. Only from one thread, while no vCPU records. */
void timeline_set_initial(struct timeline *timeline, uint64_t gpa, uint64_t size, bool private);
void timeline_set_final(struct timeline *timeline, uint64_t gpa, uint64_t size, bool private);

/*
 * One event, stamped with CLOCK_MONOTONIC now; safe from any thread.
 * pages: for TIMELINE_TO_*, how many pages changed state; code: for the
 * refusals, the answer (a negative errno, which GMEMVM_HC_* codes are).
 * gpa and size are taken as given (a refused range may lie outside RAM).
 */
void timeline_record(struct timeline *timeline, int vcpu, enum timeline_kind kind, uint64_t gpa,
		     uint64_t size, uint64_t pages, int code);

/* Events kept, and events dropped because the recorder was full. */
size_t timeline_count(struct timeline *timeline);
uint64_t timeline_dropped(struct timeline *timeline);

/*
 * Write the picture as SVG 1.1. title names the scenario, mode describes
 * the run (e.g. "coco-inplace, stage 2"); both are escaped. 0, or -ENOMEM,
 * or the negative errno of the stream in error (-EIO when stdio kept none).
 */
int timeline_write_svg(struct timeline *timeline, FILE *out, const char *title, const char *mode);

/* text escaped for an SVG's text and attributes, with '@' escaped too (no
 * line of a picture may look like the lab's console markers); also used by
 * the memory-map picture (memmap_picture.c). */
void svg_put_text(FILE *out, const char *text);

#endif
