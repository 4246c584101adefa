/* SPDX-License-Identifier: MIT */
/*
 * The VMM's error convention (docs/design.md, "Errors"): a call that can
 * fail returns 0 (or a count, a file descriptor) or a negative errno. A
 * caller that needs more than the number passes a struct gmemvm_error of its
 * own; the call that knows fills it: the errno, the name of the step that
 * failed, whether a rule refused rather than a call failing, and, where the
 * callee has one, the sentence for the user. Callers above keep the step and
 * write their own sentence around it. No state is kept anywhere else (no
 * thread-locals): each vCPU thread has its own struct on its stack.
 *
 * Set-up returns the same way: the scenario loader, the ELF loader, the
 * device tree, kvm_open, gmem_create and the other set-up steps leave the
 * one line gmemvm prints in message, a malformed input refused (mostly
 * -EINVAL), a failed call with its errno and its step.
 *
 * The guest's answers (GMEMVM_HC_*) are made from these at the hypercall
 * boundary (hypercall.c, exits.c) and nowhere else.
 */
#ifndef GMEMVM_ERROR_H
#define GMEMVM_ERROR_H

#include <stdbool.h>

/* Room for the longest sentence a set-up step writes: the scenario loader's
 * "FILE: [section] key: what is wrong" lines are up to 1024 bytes. */
#define GMEMVM_ERROR_MESSAGE_SIZE 1024

struct gmemvm_error {
	int code;	  /* the negative errno returned with it; 0: nothing failed */
	const char *step; /* static text naming what failed: "mmap of the host view" */
	/* A rule refused (the design notes', or a request that is malformed),
	 * not a call the VMM made: the run's or the guest's outcome, never the
	 * VMM's failure. */
	bool refused;
	char message[GMEMVM_ERROR_MESSAGE_SIZE]; /* the sentence for the user, or "" */
};

/* Record in error (which may be NULL) that step failed with code, a
 * negative errno; returns code, so a callee can end with
 * "return gmemvm_fail(error, -errno, "fallocate(PUNCH_HOLE) ...");". */
int gmemvm_fail(struct gmemvm_error *error, int code, const char *step);

/* The same with the sentence for the user, for a callee that has one. */
__attribute__((format(printf, 4, 5))) int gmemvm_failf(struct gmemvm_error *error, int code,
						       const char *step, const char *format, ...);

/* A rule's refusal: refused set, the rule's words in message. */
__attribute__((format(printf, 3, 4))) int gmemvm_refuse(struct gmemvm_error *error, int code,
							const char *format, ...);

/* Write error's sentence (when error is not NULL). */
__attribute__((format(printf, 2, 3))) void gmemvm_error_message(struct gmemvm_error *error,
								const char *format, ...);

/* The step that failed, or "" when none was named. */
const char *gmemvm_error_step(const struct gmemvm_error *error);

#endif
