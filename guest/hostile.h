/* SPDX-License-Identifier: MIT */
/*
 * The hostile step: a seeded generator drives COUNT attacks on the VMM's
 * interfaces (hypercall port, request blocks, port IO, MMIO, the wrong view
 * of a page) and checks every answer the VMM gives back.
 */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include <stdint.h>

struct hostile_params {
	uint32_t seed;
	uint32_t count;	   /* actions on this vCPU */
	uint64_t pg_start; /* the playground [pg_start, pg_end): page-aligned RAM */
	uint64_t pg_end;   /* that this step may convert and touch */
	uint64_t ram_size; /* from /memory@0 reg */
	unsigned long cpu;
	unsigned int step; /* the step's 1-based position, for messages */
};

/* Returns 0 if every answer was right (and prints the summary line), else
 * prints what went wrong and returns -1. */
int hostile_run(const struct hostile_params *p);

#endif
