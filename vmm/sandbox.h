/* SPDX-License-Identifier: MIT */
/*
 * The sandbox (libseccomp). Once set-up is over and before the first
 * KVM_RUN, every thread installs a filter that allows only what it still
 * needs: a vCPU thread the run loop's KVM_RUN, what a conversion does to the
 * memory views (mmap without PROT_EXEC, fallocate), logging and exiting; the
 * main thread waiting, stopping vCPUs and writing the report through files it
 * opened before. ioctl is allowed by request number, not only by syscall.
 *
 * A forbidden system call raises SIGSYS; the handler says which call on
 * which thread and the process dies of SIGSYS (the default, so a parent or a
 * test sees the signal).
 */
#ifndef GMEMVM_SANDBOX_H
#define GMEMVM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <linux/filter.h>

#include "error.h"

enum sandbox_thread {
	SANDBOX_THREAD_VCPU,
	SANDBOX_THREAD_MAIN
};

/* Resolve syscall names and install the SIGSYS reporter; once, before threads. */
void sandbox_prepare(void);

/* What a run adds to a vCPU thread's list. */
enum sandbox_extra {
	SANDBOX_NATIVE_CONVERSION = 1U << 0, /* the guest_memfd conversion ioctls */
	SANDBOX_PROTECTED_VM = 1U << 1,	     /* upstream pKVM's reclaim (memmap_protected.c) */
};

/* The filters of a run, each compiled once to its BPF program, which every
 * thread of its kind installs. */
struct sandbox {
	struct sock_fprog vcpu, main;
};
/* Compile both filters, the vCPU threads' with extras (enum sandbox_extra):
 * 0, or a negative errno with the sentence and the step in error. */
int sandbox_build(struct sandbox *sandbox, unsigned int extras, struct gmemvm_error *error);
void sandbox_destroy(struct sandbox *sandbox);
/* Install the calling thread's program: 0, or the negative errno with the
 * sentence and the step (prctl, seccomp) in error. */
int sandbox_enter(const struct sandbox *sandbox, enum sandbox_thread thread, int vcpu_index,
		  struct gmemvm_error *error);

/* The allowed system calls of each thread kind, one per line: the allow-list
 * test compares this with a committed file, so a change is a visible diff. */
void sandbox_print_allowed(FILE *out);

#endif
