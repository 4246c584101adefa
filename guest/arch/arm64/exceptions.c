// SPDX-License-Identifier: MIT
/*
 * What the arm64 guest does with an exception it did not expect, and its
 * user-mode calls: none, since no arm64 host emulates EL1 code instruction
 * by instruction, the reason the x86 guest has them (unprivileged.h).
 */
#include <stdint.h>

#include "arch.h"
#include "gmemvm_abi.h"
#include "hypercall.h"
#include "serial.h"
#include "unprivileged.h"

volatile unsigned int guest_current_step[GMEMVM_MAX_VCPUS];
int unprivileged_exit_fence; /* x86's emulated-SVM fence: nothing to fence here */

void unprivileged_init(void)
{
}

long unprivileged_call(long (*fn)(void *), void *arg)
{
	return fn(arg);
}

/* Debian's libfdt.a may be built with the stack protector, which on arm64
 * reads this global. */
uintptr_t __stack_chk_guard = (uintptr_t)0x5f676d656d766d5fULL;

__attribute__((noreturn)) void arm64_exception(uint64_t kind, uint64_t esr, uint64_t far,
					       uint64_t elr);

void arm64_exception(uint64_t kind, uint64_t esr, uint64_t far, uint64_t elr)
{
	unsigned int cpu = guest_vcpu_index();
	unsigned int step = cpu < GMEMVM_MAX_VCPUS ? guest_current_step[cpu] : 0;

	serial_printf("vcpu %u: unexpected exception (vector %u) at pc 0x%llx: ESR 0x%llx, "
		      "FAR 0x%llx\n",
		      cpu, (unsigned int)kind, (unsigned long long)elr, (unsigned long long)esr,
		      (unsigned long long)far);
	hypercall_done_exception(step, esr, far);
}
