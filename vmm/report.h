/* SPDX-License-Identifier: MIT */
/*
 * The result of one run: how it ended, what was expected, the exits by
 * kind, the data checks, the hypercalls refused, the features that were
 * native or modelled, and the times. Printed as one summary line, as a
 * human-readable block, and as JSON (--report).
 */
#ifndef GMEMVM_REPORT_H
#define GMEMVM_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "conversion.h"
#include "error.h"
#include "hypercall.h"
#include "probe.h"
#include "vocabulary.h"

#define REPORT_MESSAGE_SIZE   512
#define REPORT_MAX_MISMATCHES 16
#define REPORT_MISMATCH_SIZE  768
#define REPORT_MAX_FEATURES   16

struct check_result {
	bool passed;
	char detail[160];
};

/* One guest_memfd feature this run used, and who served it. */
struct report_feature {
	const char *name;
	bool native;
};

struct run_report {
	const struct scenario *scenario;
	enum gmem_serving serving;
	enum outcome outcome;
	enum outcome expected;
	char message[REPORT_MESSAGE_SIZE]; /* why the run ended */
	bool matched;
	/* Every difference from [expect] (the last entry may say how many more
	 * there were), and all of them joined with "; " for the summary line. */
	char mismatches[REPORT_MAX_MISMATCHES][REPORT_MISMATCH_SIZE];
	int nr_mismatches, mismatches_dropped;
	bool listing_done; /* report_evaluate's: only the closing "and N more" goes in now */
	char mismatch[REPORT_MAX_MISMATCHES * REPORT_MISMATCH_SIZE];
	uint64_t exits[EXIT_KIND_COUNT];
	uint64_t unhandled_pio, unhandled_mmio;
	struct hypercall_stats hypercalls;
	struct conversion_stats conversions;
	bool inconsistent;	/* the checker found state, memslots and views disagreeing */
	int private_mmap_errno; /* coco-legacy: the kernel's answer to mmap of the guest_memfd */
	bool private_mmap_tried;
	char consistency[256];
	struct check_result checks[CONFIG_MAX_CHECKS];
	struct report_feature features[REPORT_MAX_FEATURES];
	int nr_features;
	uint64_t console_bytes;
	const char *console_transcript;
	double setup_ms, run_ms, total_ms;
	/* From process start (main) to vCPU 0's first instruction and to the
	 * last vCPU's final status; -1 when the guest never got there. */
	double guest_entry_ms, guest_status_ms;
	/* Start-up phases, from process start: the probe answered, vCPU 0's
	 * thread began and had its seccomp filter; -1 when not reached. */
	double probed_ms, vcpu_thread_ms, sandboxed_ms;
	/* CLOCK_MONOTONIC of main's start, for a benchmark that also counts exec. */
	uint64_t process_start_ns;
	long peak_resident_kib; /* VmHWM at the end of the run; -1 if unknown */
};

void report_add_feature(struct run_report *report, const char *name, bool native);
/* The count an [expect] event key compares with. */
uint64_t report_event(const struct run_report *report, enum event_kind kind);
/* Compare outcome, exit counts and data checks with the scenario's [expect]. */
void report_evaluate(struct run_report *report);
/* "name  outcome  exits  time  [ok|MISMATCH: ...]" */
void report_print_summary(FILE *out, const struct run_report *report);
/* "refused: ..." every kind of bad request the guest made and how many. */
void report_print_refusals(FILE *out, const struct run_report *report);
/* "features: native: ...; modelled: ..." */
void report_print_features(FILE *out, const struct run_report *report);
/* Write the JSON report to out (opened before the sandbox) and close it: 0,
 * or the negative errno of the write or the close (-EIO when stdio kept
 * none). */
int report_write_json(FILE *out, const struct run_report *report, const struct host_probe *probe);

/*
 * The --report file. A regular file (or a new one) is written beside its
 * path and renamed over it only once complete, so an earlier report survives
 * a run that fails or is interrupted, and concurrent runs never interleave;
 * anything else (a pipe, /dev/stdout) is written in place. Opened before the
 * sandbox; refuses the scenario file itself.
 */
struct report_file {
	FILE *file;
	const char *path;
	char temporary[4096]; /* empty when written in place */
};

/* 0, or a negative errno with the reason in error (exit status 2: bad usage):
 * refused (-EINVAL) for the scenario file itself, -ENAMETOOLONG for a path
 * too long, else the errno of the open that failed. */
int report_file_open(struct report_file *out, const char *path, const char *scenario_path,
		     struct gmemvm_error *error);
/* Write, close and put in place: 0, or the negative errno of the write or
 * the rename with the reason in error, and an earlier report at path is left
 * as it was. */
int report_file_commit(struct report_file *out, const struct run_report *report,
		       const struct host_probe *probe, struct gmemvm_error *error);
/* A run that ends without a report (a set-up failure): remove the temporary. */
void report_file_abandon(struct report_file *out);

#endif
