/* SPDX-License-Identifier: MIT */
/*
 * --trace output with a bounded volume: a stdio stream that passes whole
 * lines to out until limit lines were written, then says so once and drops
 * the rest, so a guest that causes millions of exits cannot flood the disk.
 */
#ifndef GMEMVM_TRACE_H
#define GMEMVM_TRACE_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"

#define TRACE_DEFAULT_LIMIT 1000000ULL
#define TRACE_MAX_LIMIT	    100000000ULL

/* NULL if the stream cannot be made. Close with fclose. */
FILE *trace_open(FILE *out, uint64_t limit);

/* What --trace=LIST prints; plain --trace is all of it. */
enum trace_category {
	TRACE_EXITS = 1U << 0,	     /* every exit: io (console bytes too), mmio, hlt */
	TRACE_FAULTS = 1U << 1,	     /* memory faults, the kernel's and the model's */
	TRACE_CONVERSIONS = 1U << 2, /* each conversion, its result and the region's map */
	TRACE_HYPERCALLS = 1U << 3,  /* each request and its answer, refusals with the code */
};
#define TRACE_ALL 0xfU

/* "faults,conversions" -> the mask; 0, or -EINVAL refused with the unknown
 * word in error. */
int trace_parse_categories(const char *list, unsigned int *mask, struct gmemvm_error *error);

#endif
