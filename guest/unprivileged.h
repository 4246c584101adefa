/* SPDX-License-Identifier: MIT */
/*
 * Running pure computation in user mode. On hosts that emulate the guest's
 * supervisor code one instruction at a time (PVM, docs/design.md) user-mode
 * code runs natively, about 1000 times faster, so the guest reads its device
 * tree in user mode (the start-up time, docs/performance.md). The VMM maps every page user-
 * accessible and gives each vCPU a TSS (gmemvm_abi.h). User-mode code may
 * touch memory but must not do port I/O or privileged instructions: it
 * returns what it found and supervisor code acts on it.
 */
#ifndef GUEST_UNPRIVILEGED_H
#define GUEST_UNPRIVILEGED_H

/* Once per vCPU, before the first call: load the IDT that brings us back. */
void unprivileged_init(void);

/* Runs fn(arg) in user mode on this vCPU's stack and returns its result. */
long unprivileged_call(long (*fn)(void *), void *arg);
/* Set from the device tree (GMEMVM_FDT_PROP_EXIT_FENCE): exit after each call. */
extern int unprivileged_exit_fence;
/* The step each vCPU is running, for the report of an unexpected exception. */
extern volatile unsigned int guest_current_step[];

#endif
