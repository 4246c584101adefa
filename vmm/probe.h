/* SPDX-License-Identifier: MIT */
/*
 * What this host offers: the KVM capabilities, and one behavioural probe
 * that runs a throwaway VM to learn whether guest accesses to a gmem-bound
 * memslot are served from guest_memfd or from userspace_addr (docs/design.md
 * explains why that decides what userspace_addr = NULL can do). Nothing
 * host-specific is assumed; every decision reads this.
 */
#ifndef GMEMVM_PROBE_H
#define GMEMVM_PROBE_H

#include <stdio.h>

#include "kvm.h"

enum gmem_serving {
	GMEM_SERVING_UNKNOWN,
	GMEM_SERVING_GUEST_MEMFD,    /* two-dimensional paging reads guest_memfd */
	GMEM_SERVING_USERSPACE_ADDR, /* e.g. shadow paging: reads userspace_addr */
};

struct host_probe {
	struct kvm_caps caps;
	enum gmem_serving serving;
	char serving_detail[192];
	/* Upstream's in-place conversion (notes: CONVERT_SHARED/CONVERT_PRIVATE):
	 * KVM_SET_MEMORY_ATTRIBUTES2 answers on a guest_memfd, and the attribute
	 * mask it accepts there (what KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES
	 * reports). in_place_parameter: kvm.gmem_in_place_conversion, -1 = none. */
	bool set_attributes2;
	uint64_t gmem_attributes;
	int in_place_parameter;
	char attributes2_detail[128];
	/* The guest's KVM_HC_MAP_GPA_RANGE reaches the VMM as KVM_EXIT_HYPERCALL;
	 * the instruction is vmmcall on AMD, vmcall elsewhere. */
	bool map_gpa_range_exits;
	bool hypercall_vmmcall;
	char map_gpa_range_detail[128];
	/* A VM type with private memory attributes (KVM_X86_SW_PROTECTED_VM on
	 * standard x86 kernels), asked of a throwaway VM of that type: use case
	 * (a) runs natively on it. 0 attributes = none. */
	unsigned long private_vm_type;
	/* The software-protected VM type whether or not its VM-wide attributes
	 * answer (with in-place conversion on they report 0); 0 = none. */
	unsigned long protected_vm_type;
	uint64_t private_vm_attributes;
	uint64_t private_vm_gmem_flags;
	/* This machine is QEMU's emulator (CPUID 0x40000000 says "TCGTCGTCGTCG"),
	 * as in the lab: the guest then fences its returns from user mode
	 * (GMEMVM_FDT_PROP_EXIT_FENCE). */
	bool under_emulator;
	unsigned int guest_phys_bits; /* KVM_GET_SUPPORTED_CPUID 0x80000008 */
	/* The CoCo modes' shared-view bit: TDX takes the top GPA bit, but a guest
	 * access with bit 47 set shuts the vCPU down on this KVM (measured), so
	 * gmemvm takes the bit below it, and at most 46 (4-level paging). */
	unsigned int shared_bit;
};

void probe_host(int kvm_fd, struct host_probe *probe);
const char *probe_serving_name(enum gmem_serving serving);
/* The capability table, one feature a line: name, native or absent, detail. */
void probe_print_table(FILE *out, const struct host_probe *probe);
/* The same as a JSON object (no trailing newline). */
void probe_print_json(FILE *out, const struct host_probe *probe);

#endif
