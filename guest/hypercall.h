/* SPDX-License-Identifier: MIT */
/*
 * Guest side of the gmemvm hypercall: fill a request block in RAM, write its
 * GPA to GMEMVM_PORT_HYPERCALL, read the result the VMM wrote back.
 */
#ifndef GUEST_HYPERCALL_H
#define GUEST_HYPERCALL_H

#include <stdint.h>

#include "gmemvm_abi.h"

/*
 * Index of the calling vCPU, derived from the stack pointer: the VMM gives
 * vCPU i the stack [STACK_GPA + i * STACK_SIZE, STACK_GPA + (i + 1) * STACK_SIZE).
 * This works anywhere, even in __stack_chk_fail() called from libfdt.
 * Returns GMEMVM_MAX_VCPUS if rsp is outside every stack.
 */
unsigned int guest_vcpu_index(void);

/* Returns the block's result field: GMEMVM_HC_OK or a negative GMEMVM_HC_E* code. */
int32_t hypercall(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);

__attribute__((noreturn)) void hypercall_assert_fail(const char *file, unsigned int line,
						     const char *expr);

/* Reports the end of this vCPU's run (status 0 = passed) and halts it. */
__attribute__((noreturn)) void hypercall_done(uint64_t status, uint64_t failed_step);

#define GUEST_ASSERT(cond)                                                                         \
	do {                                                                                       \
		if (!(cond))                                                                       \
			hypercall_assert_fail(__FILE__, __LINE__, #cond);                          \
	} while (0)

#endif
