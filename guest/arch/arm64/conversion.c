// SPDX-License-Identifier: MIT
/*
 * The arm64 guest's conversion call: pKVM's SMCCC MEM_SHARE and MEM_UNSHARE,
 * one granule each, with HVC. On a protected VM the hypervisor answers them;
 * on any other VM the VMM does, through KVM's SMCCC filter.
 */
#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "gmemvm_abi.h"

const char *arch_conversion_call_select(void)
{
	return GMEMVM_CONVERSION_CALL_HYPERCALL " (hvc)";
}

/* x0 = the function, x1 = the granule's IPA; the answer comes back in x0.
 * "memory": no access to the granule may move across its conversion. */
static int64_t smccc_call(uint32_t function, uint64_t ipa)
{
	register uint64_t x0 __asm__("x0") = function;
	register uint64_t x1 __asm__("x1") = ipa;
	register uint64_t x2 __asm__("x2") = 0;
	register uint64_t x3 __asm__("x3") = 0;

	__asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
	return (int64_t)x0;
}

int32_t arch_conversion_call(uint64_t gpa, uint64_t size, bool to_private)
{
	uint32_t function = to_private ? GMEMVM_SMCCC_MEM_UNSHARE : GMEMVM_SMCCC_MEM_SHARE;
	int64_t answer = GMEMVM_SMCCC_SUCCESS;

	for (uint64_t done = 0; done < size && answer == GMEMVM_SMCCC_SUCCESS;
	     done += ARCH_CONVERSION_GRANULE)
		answer = smccc_call(function, gpa + done);
	return (int32_t)answer;
}

int32_t arch_conversion_answer(int32_t code)
{
	if (code == GMEMVM_HC_OK)
		return GMEMVM_SMCCC_SUCCESS;
	if (code == GMEMVM_HC_EINVAL)
		return GMEMVM_SMCCC_INVALID_PARAMETER;
	return GMEMVM_SMCCC_NOT_SUPPORTED;
}

/* The tables map a 40-bit input address (TCR_EL1.T0SZ = 24): the alias's bit
 * must lie below it, and above the 4 GiB the identity map covers. */
const char *arch_check_shared_bit(unsigned int bit)
{
	if (bit != 39)
		return "shared-bit is not 39, the one the arm64 tables map (gmemvm_arch_abi.h)";
	return NULL;
}
