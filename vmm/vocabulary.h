/* SPDX-License-Identifier: MIT */
/*
 * The words a run is told in: how it ended, the kinds of exit it counts and
 * the events of the memory model it counts. Scenario files name them in
 * [expect] (config.c), the run loop, devices and conversion policy produce
 * them, and the report prints them; none of those needs the INI parser to
 * say "done" or "memory-fault". Nothing here includes another gmemvm header.
 */
#ifndef GMEMVM_VOCABULARY_H
#define GMEMVM_VOCABULARY_H

#include <stddef.h>

/* How a run ended; the scenario names the one it expects. */
enum outcome {
	OUTCOME_NONE,		   /* not decided yet */
	OUTCOME_DONE,		   /* every vCPU reported status 0 and halted */
	OUTCOME_GUEST_FAILED,	   /* a vCPU reported a failing step or an assertion */
	OUTCOME_EMULATION_REFUSED, /* emulation needed userspace_addr, which is NULL */
	OUTCOME_CANNOT_RUN,	   /* the guest could not execute its first instruction */
	OUTCOME_SHUTDOWN,	   /* triple fault */
	OUTCOME_INTERNAL_ERROR,
	OUTCOME_FAIL_ENTRY,
	OUTCOME_BAD_MMIO, /* MMIO exit inside RAM: the host view is inaccessible */
	OUTCOME_UNKNOWN_EXIT,
	OUTCOME_TIMEOUT,
	OUTCOME_VMM_ERROR,   /* a kernel call failed during the run */
	OUTCOME_REFUSED,     /* set-up refused by a rule of the design notes; no vCPU ran */
	OUTCOME_INTERRUPTED, /* a signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) stopped the run */
	OUTCOME_RECLAIMED,   /* upstream pKVM: the guest touched a page the host took back */
	OUTCOME_COUNT
};

/* Exit kinds counted per run; "exits.<name>" keys in [expect]. */
enum exit_kind {
	EXIT_KIND_IO,
	EXIT_KIND_MMIO,
	EXIT_KIND_HLT,
	EXIT_KIND_SHUTDOWN,
	EXIT_KIND_FAIL_ENTRY,
	EXIT_KIND_INTERNAL_ERROR,
	EXIT_KIND_MEMORY_FAULT,
	/* A subset of io: write exits to the hypercall port, counted by the
	 * hypercall device itself (hypercall_stats.port_writes). */
	EXIT_KIND_HYPERCALL,
	EXIT_KIND_MAP_GPA_RANGE, /* KVM_EXIT_HYPERCALL: the guest's KVM_HC_MAP_GPA_RANGE */
	EXIT_KIND_UNKNOWN,
	EXIT_KIND_COUNT
};

/* Events of the memory model counted per run; keys in [expect]. */
enum event_kind {
	EVENT_MEMORY_FAULTS,	  /* "memory-faults": kernel and modelled */
	EVENT_TO_SHARED,	  /* "conversions.to-shared": pages converted */
	EVENT_TO_PRIVATE,	  /* "conversions.to-private" */
	EVENT_BY_FAULT,		  /* "conversions.by-fault": conversions after a memory fault */
	EVENT_BY_HYPERCALL,	  /* "conversions.by-hypercall": explicit share/unshare */
	EVENT_HYPERCALLS_REFUSED, /* "hypercalls.refused" */
	EVENT_EAGAIN,		  /* "conversions.eagain": EAGAIN answers to a conversion */
	EVENT_RETRIES,		  /* "conversions.retried": retries after dropping holds */
	EVENT_ALREADY_DONE, /* "conversions.already-done": faults/requests that changed nothing */
	EVENT_COUNT
};

/* The name scenario files and reports use; "?" for a value outside the enum. */
const char *outcome_name(enum outcome outcome);
const char *exit_kind_name(enum exit_kind kind);
const char *event_name(enum event_kind kind);

/* The value a name stands for, or -1 when no value has it. */
int outcome_by_name(const char *name);
int exit_kind_by_name(const char *name);
int event_by_name(const char *name);

/*
 * The two halves of every name table (these, and the parser's own: modes,
 * step views, check kinds): names[index], or "?" for an index outside the
 * table or without a name; and the index of name in names[first..count), or -1.
 */
const char *vocabulary_name(const char *const *names, size_t count, unsigned int index);
int vocabulary_lookup(const char *const *names, int first, int count, const char *name);

#endif
