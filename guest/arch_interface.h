/* SPDX-License-Identifier: MIT */
/*
 * What the guest's shared code calls in its architecture besides the inline
 * accessors of guest/arch/ARCH/arch.h (device_write, device_read,
 * halt_forever, cpu_relax, arch_stack_pointer, arch_echo_round_trips), and
 * the user-mode calls of unprivileged.h. guest/arch/ARCH/ implements each.
 */
#ifndef GUEST_ARCH_INTERFACE_H
#define GUEST_ARCH_INTERFACE_H

#include <stdbool.h>
#include <stdint.h>

/* The conversion calls count in 4 KiB pages (x86's MAP_GPA_RANGE page size,
 * pKVM's granule on a 4 KiB host). */
#define ARCH_CONVERSION_GRANULE 4096ULL

/* Pick this CPU's conversion call (x86: vmcall or vmmcall by vendor) and
 * return its name for the console. Supervisor mode, once per vCPU. */
const char *arch_conversion_call_select(void);
/* Convert whole granules [gpa, gpa + size) with the architecture's call:
 * 0 or a negative code, the VMM's or the kernel's answer in the call's own
 * codes (arch_conversion_answer). */
int32_t arch_conversion_call(uint64_t gpa, uint64_t size, bool to_private);
/* The answer the call gives where the port would answer code (a
 * GMEMVM_HC_* value): the same on x86, whose KVM and VMM answer -errno;
 * SMCCC's codes on arm64, as pKVM answers (0, -1 NOT_SUPPORTED, -3
 * INVALID_PARAMETER). Scenarios give results in the port's codes. */
int32_t arch_conversion_answer(int32_t code);
/* NULL when the device tree's shared bit can be the shared alias's address
 * bit on this CPU (the VMM maps GPA | 1 << bit virtual == physical), else
 * why not. Supervisor mode. */
const char *arch_check_shared_bit(unsigned int bit);

#endif
