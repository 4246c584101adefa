/* SPDX-License-Identifier: MIT */
/*
 * One run of a scenario, in the explicit set-up order a reader can follow:
 * load and check the guest, build the device tree, open KVM and probe it,
 * create the VM and its guest_memfd, lay out memory, create the vCPUs,
 * run, then compare what happened with what the scenario expects.
 */
#ifndef GMEMVM_VM_H
#define GMEMVM_VM_H

#include <stdbool.h>
#include <time.h>

#include "config.h"

/* Exit statuses of gmemvm, documented in docs/usage.md (and gmemvm help). */
enum gmemvm_status {
	GMEMVM_STATUS_MATCHED = 0,   /* the run ended as the scenario expects */
	GMEMVM_STATUS_MISMATCH = 1,  /* it ran, and something differed */
	GMEMVM_STATUS_BAD_INPUT = 2, /* usage, config or guest image refused */
	GMEMVM_STATUS_HOST = 3,	     /* a kernel call failed during set-up */
	GMEMVM_STATUS_OUTPUT = 4,    /* the summary or the --report file could not be written */
	/* The host lacks a feature the scenario needs (no /dev/kvm, no
	 * guest_memfd, a flag, the physical-address bits): nothing ran, and the
	 * one line says what is missing and the fix. Tests skip on it. */
	GMEMVM_STATUS_UNSUPPORTED = 5,
	/* 128 + N: signal N (SIGINT, SIGTERM, SIGHUP, SIGQUIT) stopped the run,
	 * which still printed its summary and wrote its report (outcome interrupted). */
};

struct run_options {
	bool trace;
	unsigned int trace_categories; /* --trace=LIST (trace.h); 0 = all */
	uint64_t trace_limit;	       /* lines of --trace output at most */
	bool quiet;		       /* the summary line only; no console or feature lines */
	bool sandbox; /* seccomp filters on every thread before the first KVM_RUN */
	const char *report_path;
	/* --timeline FILE.svg: the run's picture (timeline.h) */
	const char *timeline_path;
	/* --memmap FILE.svg: the memory map before and after the first
	 * conversion (memmap_picture.h) */
	const char *memmap_path;
	struct timespec process_start; /* CLOCK_MONOTONIC at main() */
};

enum gmemvm_status vm_run(const struct scenario *scenario, const struct run_options *options);

#endif
