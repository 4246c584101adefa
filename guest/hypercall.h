/* SPDX-License-Identifier: MIT */
/*
 * Guest side of the gmemvm hypercall: fill a request block in this vCPU's slot
 * of the shared area, write its GPA to GMEMVM_DEVICE_HYPERCALL, read the result
 * the VMM wrote back. Conversions may instead go through KVM's
 * KVM_HC_MAP_GPA_RANGE when the device tree says so (guest_convert).
 */
#ifndef GUEST_HYPERCALL_H
#define GUEST_HYPERCALL_H

#include <stdbool.h>
#include <stdint.h>

#include "gmemvm_abi.h"

/*
 * Index of the calling vCPU, derived from the stack pointer: the VMM gives
 * vCPU i the stack [STACK_GPA + i * STACK_SIZE, STACK_GPA + (i + 1) * STACK_SIZE).
 * This works anywhere, even in __stack_chk_fail() called from libfdt.
 * Returns GMEMVM_MAX_VCPUS if rsp is outside every stack.
 */
unsigned int guest_vcpu_index(void);

/*
 * 1 << the device tree's shared-bit, or 0 when the mode has no shared alias.
 * Every vCPU stores the same value once at start (guest_set_shared_mask), before
 * its first hypercall if the device tree is readable; read-only after that.
 */
extern uint64_t guest_shared_mask;

static inline void guest_set_shared_mask(uint64_t mask)
{
	/* All vCPUs store the same value: atomic only to keep the store whole. */
	__atomic_store_n(&guest_shared_mask, mask, __ATOMIC_RELAXED);
}

/*
 * The address through which the guest reaches gpa in its shared view: the VMM
 * maps GPA | shared bit identically (virtual == physical), and without a
 * shared bit there is one view, the plain GPA.
 */
static inline void *guest_shared_view(uint64_t gpa)
{
	return (void *)(uintptr_t)(gpa | __atomic_load_n(&guest_shared_mask, __ATOMIC_RELAXED));
}

/*
 * Selects how guest_convert asks for conversions (GMEMVM_FDT_PROP_CONVERSION_CALL):
 * the port, or KVM_HC_MAP_GPA_RANGE with the hypercall instruction of this CPU's
 * vendor. Every vCPU calls it once at start, in supervisor mode, before its
 * first conversion; all store the same choice.
 */
void guest_set_conversion_call(bool map_gpa_range);

/* The selected call for the console: "port" or "map-gpa-range (vmcall)" / "(vmmcall)". */
const char *guest_conversion_call_name(void);

/*
 * Converts [gpa, gpa + size) (canonical GPA) to private or to shared with the
 * selected call, which must run in supervisor mode: KVM refuses
 * KVM_HC_MAP_GPA_RANGE at CPL 3. Returns 0 or a negative code: GMEMVM_HC_E*,
 * or with MAP_GPA_RANGE also KVM's own answers (gmemvm_abi.h).
 */
int32_t guest_convert(uint64_t gpa, uint64_t size, bool to_private);
/* Whether guest_convert of size bytes goes through the architecture's call
 * (else the port): its answers are then the architecture's codes
 * (arch_conversion_answer). */
bool guest_convert_uses_call(uint64_t size);

/*
 * In a protected VM of upstream's pKVM (GMEMVM_FDT_PROP_PROTECTED_VM): touch
 * this vCPU's slot and share its page with the architecture's conversion
 * call, so that the VMM can read the requests written there. Every vCPU
 * calls it; the page's other sharers' answers do not matter.
 */
void hypercall_share_request_page(void);

/* Returns the block's result field: GMEMVM_HC_OK or a negative GMEMVM_HC_E* code. */
int32_t hypercall(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);

/*
 * rounds x (UNSHARE, SHARE) of [addr, addr + size) with the selected call: on
 * the port from this vCPU's slot, with as few guest instructions per request
 * as the block allows. Stops at the first result other than GMEMVM_HC_OK and
 * returns it, with the round in *failed.
 */
int32_t hypercall_flip(uint64_t addr, uint64_t size, uint32_t rounds, uint32_t *failed);

__attribute__((noreturn)) void hypercall_assert_fail(const char *file, unsigned int line,
						     const char *expr);

/* Reports the end of this vCPU's run (status 0 = passed) and halts it. */
__attribute__((noreturn)) void hypercall_done(uint64_t status, uint64_t failed_step);
/* Reports an exception the guest cannot handle, raised during step (1-based). */
__attribute__((noreturn)) void hypercall_done_exception(uint64_t step, uint64_t error_code,
							uint64_t rip);

#define GUEST_ASSERT(cond)                                                \
	do {                                                              \
		if (!(cond))                                              \
			hypercall_assert_fail(__FILE__, __LINE__, #cond); \
	} while (0)

/* Fill the request block at gpa (canonical; written through the shared view)
 * and send it; returns its result field, unanswered if the VMM wrote none. */
int32_t hypercall_submit(uint64_t gpa, int32_t unanswered, uint32_t op, uint64_t a0, uint64_t a1,
			 uint64_t a2, uint64_t a3);

#endif
