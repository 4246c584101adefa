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

#define TRACE_DEFAULT_LIMIT 1000000ULL
#define TRACE_MAX_LIMIT	    100000000ULL

/* NULL if the stream cannot be made. Close with fclose. */
FILE *trace_open(FILE *out, uint64_t limit);

#endif
