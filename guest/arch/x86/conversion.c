// SPDX-License-Identifier: MIT
/*
 * The x86 guest's conversion call, KVM_HC_MAP_GPA_RANGE, as x86 confidential
 * guests convert, and the shared bit's check against this CPU's paging.
 */
#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "gmemvm_abi.h"
#include "libc.h"

#define CR4_LA57 (1ULL << 12)

/* vmmcall on AMD and Hygon, vmcall elsewhere: the same for every vCPU. */
static bool use_vmmcall;

/*
 * KVM accepts either instruction but handles the other vendor's one only by
 * emulating it, which nested or emulated setups may not do; so pick the
 * CPU's own. Unknown vendors get vmcall.
 */
static bool cpu_uses_vmmcall(void)
{
	uint32_t eax = 0, ebx, ecx = 0, edx; /* leaf 0, subleaf 0 */
	uint32_t vendor[3];

	__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
	/* The vendor string is ebx, edx, ecx in that order. */
	vendor[0] = ebx;
	vendor[1] = edx;
	vendor[2] = ecx;
	return !memcmp(vendor, "AuthenticAMD", sizeof(vendor)) ||
	       !memcmp(vendor, "HygonGenuine", sizeof(vendor));
}

const char *arch_conversion_call_select(void)
{
	bool vmmcall = cpu_uses_vmmcall();

	__atomic_store_n(&use_vmmcall, vmmcall, __ATOMIC_RELAXED);
	return vmmcall ? GMEMVM_CONVERSION_CALL_HYPERCALL " (vmmcall)"
		       : GMEMVM_CONVERSION_CALL_HYPERCALL " (vmcall)";
}

/* KVM's or the VMM's answer in rax: 0 or -errno, as a 64-bit value. KVM
 * writes only rax. "memory": no access to the range may move across its
 * conversion. */
int32_t arch_conversion_call(uint64_t gpa, uint64_t size, bool to_private)
{
	int64_t ret = GMEMVM_KVM_HC_MAP_GPA_RANGE; /* rax: the number in, the result out */
	uint64_t pages = size / ARCH_CONVERSION_GRANULE;
	uint64_t attrs =
		(to_private ? GMEMVM_MAP_GPA_RANGE_ENCRYPTED : GMEMVM_MAP_GPA_RANGE_DECRYPTED) |
		GMEMVM_MAP_GPA_RANGE_PAGE_SZ_4K;

	if (__atomic_load_n(&use_vmmcall, __ATOMIC_RELAXED))
		__asm__ volatile("vmmcall"
				 : "+a"(ret)
				 : "b"(gpa), "c"(pages), "d"(attrs)
				 : "memory");
	else
		__asm__ volatile("vmcall"
				 : "+a"(ret)
				 : "b"(gpa), "c"(pages), "d"(attrs)
				 : "memory");
	/* Every code the steps expect fits an int32, as in the request block. */
	return (int32_t)ret;
}

int32_t arch_conversion_answer(int32_t code)
{
	return code; /* KVM and the VMM both answer -errno */
}

/* The alias must be a canonical virtual address: bits 47 (4-level paging)
 * or 56 (5-level) and up copy the top bit. Reading CR4 is privileged. */
const char *arch_check_shared_bit(unsigned int bit)
{
	uint64_t cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	if (bit > (cr4 & CR4_LA57 ? 55U : 46U))
		return "shared-bit at or above the top canonical virtual address bit";
	return NULL;
}
