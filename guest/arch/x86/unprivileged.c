// SPDX-License-Identifier: MIT
#include "unprivileged.h"

#include <stdint.h>

#include "gmemvm_abi.h"
#include "hypercall.h"
#include "arch.h"
#include "io.h"
#include "serial.h"

#define VECTOR_GP      13
#define GATE_INTERRUPT 0x8e /* present, DPL 0, 64-bit interrupt gate */

/*
 * Only #GP has a gate. The table ends at it, so a higher vector raised in user
 * mode (a #PF, say) arrives as a #GP whose error code names it; a lower one
 * finds no gate and shuts the VM down, which the VMM reports. A gate is two
 * quadwords.
 */
static uint64_t idt[2 * (VECTOR_GP + 1)] __attribute__((aligned(16)));

void unprivileged_gp_handler(void);
long unprivileged_enter(long (*fn)(void *), void *arg, uint64_t *rsp0);
__attribute__((noreturn)) void unprivileged_unexpected_gp(uint64_t rip, uint64_t error,
							  uint64_t cs);

void unprivileged_init(void)
{
	uint64_t handler = (uint64_t)(uintptr_t)unprivileged_gp_handler;
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	/*
	 * Every vCPU writes the gate, all with the same two quadwords, each in
	 * one store: another vCPU may be taking a #GP through it right now, and
	 * a gate seen half-written (not present) would shut that vCPU down.
	 */
	__atomic_store_n(&idt[2 * VECTOR_GP],
			 (handler & 0xffff) | (uint64_t)GMEMVM_SELECTOR_KERNEL_CODE << 16 |
				 (uint64_t)GATE_INTERRUPT << 40 | ((handler >> 16) & 0xffff) << 48,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&idt[2 * VECTOR_GP + 1], handler >> 32, __ATOMIC_RELAXED);
	__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

long unprivileged_call(long (*fn)(void *), void *arg)
{
	unsigned int cpu = guest_vcpu_index();

	GUEST_ASSERT(cpu < GMEMVM_MAX_VCPUS);
	/* RSP0 is at offset 4 of the 64-bit TSS. */
	long result = unprivileged_enter(
		fn, arg, (uint64_t *)(uintptr_t)(GMEMVM_TSS_GPA + cpu * GMEMVM_TSS_SIZE + 4));
	if (unprivileged_exit_fence)
		device_write(GMEMVM_DEVICE_ENTRY, 0, 1); /* GMEMVM_FDT_PROP_EXIT_FENCE says why */
	return result;
}

void unprivileged_unexpected_gp(uint64_t rip, uint64_t error, uint64_t cs)
{
	serial_printf("vcpu %u: unexpected #GP at rip 0x%llx (cs 0x%llx, error code 0x%llx)\n",
		      guest_vcpu_index(), (unsigned long long)rip, (unsigned long long)cs,
		      (unsigned long long)error);
	hypercall_done_exception(guest_current_step[guest_vcpu_index()], error, rip);
}

volatile unsigned int guest_current_step[GMEMVM_MAX_VCPUS];
int unprivileged_exit_fence;
