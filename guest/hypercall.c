// SPDX-License-Identifier: MIT
#include <stdint.h>

#include "gmemvm_abi.h"
#include "hypercall.h"
#include "io.h"

/*
 * One request block per vCPU so concurrent hypercalls never share one. The
 * ABI wants 8-byte alignment and a 32-bit GPA; .bss sits below 2 MiB and
 * virtual == physical, so the address is the GPA.
 */
static struct gmemvm_hypercall hc_block[GMEMVM_MAX_VCPUS] __attribute__((aligned(8)));

/* Fallback for a vCPU whose rsp is outside the known stacks (should not happen). */
static struct gmemvm_hypercall hc_spare __attribute__((aligned(8)));
static struct spinlock hc_spare_lock = SPINLOCK_INIT;

unsigned int guest_vcpu_index(void)
{
	uint64_t rsp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
	if (rsp < GMEMVM_STACK_GPA)
		return GMEMVM_MAX_VCPUS;
	rsp = (rsp - GMEMVM_STACK_GPA) / GMEMVM_STACK_SIZE;
	return rsp < GMEMVM_MAX_VCPUS ? (unsigned int)rsp : GMEMVM_MAX_VCPUS;
}

static int32_t hypercall_on(volatile struct gmemvm_hypercall *hc, uint32_t op, uint64_t a0,
			    uint64_t a1, uint64_t a2, uint64_t a3)
{
	hc->op = op;
	hc->result = GMEMVM_HC_ENOSYS; /* stays if the VMM ignores the request */
	hc->arg[0] = a0;
	hc->arg[1] = a1;
	hc->arg[2] = a2;
	hc->arg[3] = a3;
	/* outl() clobbers memory: the stores above are done before the exit. */
	outl(GMEMVM_PORT_HYPERCALL, (uint32_t)(uintptr_t)hc);
	return hc->result;
}

int32_t hypercall(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	unsigned int cpu = guest_vcpu_index();
	int32_t ret;

	if (cpu < GMEMVM_MAX_VCPUS)
		return hypercall_on(&hc_block[cpu], op, a0, a1, a2, a3);

	spin_lock(&hc_spare_lock);
	ret = hypercall_on(&hc_spare, op, a0, a1, a2, a3);
	spin_unlock(&hc_spare_lock);
	return ret;
}

void hypercall_assert_fail(const char *file, unsigned int line, const char *expr)
{
	hypercall(GMEMVM_HC_ASSERT, (uintptr_t)file, line, (uintptr_t)expr, 0);
	halt_forever();
}

void hypercall_done(uint64_t status, uint64_t failed_step)
{
	hypercall(GMEMVM_HC_DONE, status, failed_step, 0, 0);
	halt_forever();
}
