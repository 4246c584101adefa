/* SPDX-License-Identifier: MIT */
/*
 * arm64 KVM facts the Debian 12 cross headers (Linux 6.1) lack, from the
 * kernel's Documentation/virt/kvm/api.rst and its uapi headers, and the
 * register helpers vmm/arch/arm64/ shares.
 */
#ifndef GMEMVM_ARM64_KVM_H
#define GMEMVM_ARM64_KVM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "kvm_abi.h"

/* KVM_SET_DEVICE_ATTR on the VM: the SMCCC filter (Linux 6.4). */
#ifndef KVM_ARM_VM_SMCCC_CTRL
#define KVM_ARM_VM_SMCCC_CTRL	0
#define KVM_ARM_VM_SMCCC_FILTER 0
#endif
#define GMEMVM_SMCCC_FILTER_FWD_TO_USER 2
struct gmemvm_smccc_filter {
	uint32_t base;
	uint32_t nr_functions;
	uint8_t action;
	uint8_t pad[15];
};
/* kvm_run.hypercall.flags on arm64: the call was an SMC (HVC otherwise). */
#define GMEMVM_HYPERCALL_EXIT_SMC (1ULL << 0)

/* KVM_CREATE_VM's type for a protected VM (Linux 7.1, pKVM hosts only). */
#define GMEMVM_KVM_VM_TYPE_ARM_PROTECTED (1ULL << 31)

/* PSTATE at entry: EL1 with SP_EL1, debug, SError, IRQ and FIQ masked. */
#define GMEMVM_PSTATE_EL1H_MASKED 0x3c5ULL

/* The ONE_REG id of a core register (struct kvm_regs member). */
#define ARM64_CORE_REG(member)                                 \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
	 (offsetof(struct kvm_regs, member) / sizeof(uint32_t)))

static inline int arm64_set_reg(int vcpu_fd, uint64_t id, uint64_t value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)&value };
	return ioctl(vcpu_fd, KVM_SET_ONE_REG, &reg);
}

static inline int arm64_get_reg(int vcpu_fd, uint64_t id, uint64_t *value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)value };
	return ioctl(vcpu_fd, KVM_GET_ONE_REG, &reg);
}

#endif
