// SPDX-License-Identifier: MIT
/*
 * arm64 vCPUs: the preferred target with PSCI 0.2, the entry state of
 * gmemvm_arch_abi.h set with KVM_SET_ONE_REG, and the stage-1 tables the
 * guest turns its MMU on with. Every vCPU starts at the entry itself, none
 * powered off waiting for PSCI CPU_ON: the guest's vCPUs are peers, as on x86.
 */
#include "arch/arch.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/arm64_kvm.h"
#include "gmemvm_abi.h"
#include "kvm.h"

const char arch_name[] = "arm64";
const unsigned int arch_elf_machine = EM_AARCH64;
const enum iotrap_space arch_device_space = IOTRAP_MMIO;
const unsigned long arch_protected_vm_type = GMEMVM_KVM_VM_TYPE_ARM_PROTECTED;

/* Stage-1 descriptors, 4 KiB granule. Blocks: the AttrIndx of GMEMVM_MAIR_EL1
 * (1 normal, 0 device), inner shareable, access flag set; device blocks
 * never executable. */
#define DESCRIPTOR_TABLE 0x3ULL
#define DESCRIPTOR_BLOCK 0x1ULL
#define BLOCK_NORMAL	 (DESCRIPTOR_BLOCK | 1ULL << 2 | 3ULL << 8 | 1ULL << 10)
#define BLOCK_DEVICE	 (DESCRIPTOR_BLOCK | 0ULL << 2 | 1ULL << 10 | 1ULL << 53 | 1ULL << 54)
#define GIB		 (1ULL << 30)
#define RAM_BLOCKS	 3 /* RAM is at most 3 GiB: the 4th GiB holds the devices */

_Static_assert(GMEMVM_L1_SHARED_TABLE_GPA + 0x1000 <= GMEMVM_FDT_GPA,
	       "the tables overlap the device tree");
_Static_assert(GMEMVM_DEVICE_BLOCK_GPA == RAM_BLOCKS * GIB, "the device block follows RAM");

static void write_u64(uint8_t *ram, uint64_t gpa, uint64_t value)
{
	memcpy(ram + gpa, &value, sizeof(value));
}

void arch_write_boot_tables(uint8_t *ram, int vcpus, unsigned int shared_bit)
{
	(void)vcpus; /* the vCPUs share the tables: nothing is per vCPU */
	write_u64(ram, GMEMVM_L0_TABLE_GPA, GMEMVM_L1_TABLE_GPA | DESCRIPTOR_TABLE);
	for (uint64_t block = 0; block < RAM_BLOCKS; block++)
		write_u64(ram, GMEMVM_L1_TABLE_GPA + block * 8, block * GIB | BLOCK_NORMAL);
	write_u64(ram, GMEMVM_L1_TABLE_GPA + (uint64_t)RAM_BLOCKS * 8,
		  GMEMVM_DEVICE_BLOCK_GPA | BLOCK_DEVICE);
	if (shared_bit == 39) {
		/* The shared alias: level-0 entry 1 covers [1 << 39, 1 << 40). */
		uint64_t bit = 1ULL << shared_bit;
		write_u64(ram, GMEMVM_L0_TABLE_GPA + 8,
			  GMEMVM_L1_SHARED_TABLE_GPA | DESCRIPTOR_TABLE);
		for (uint64_t block = 0; block < RAM_BLOCKS; block++)
			write_u64(ram, GMEMVM_L1_SHARED_TABLE_GPA + block * 8,
				  (bit + block * GIB) | BLOCK_NORMAL);
	}
}

struct arch_cpu {
	struct kvm_vcpu_init init;
};

int arch_cpu_read(int kvm_fd, int vm_fd, struct arch_cpu **cpu, struct gmemvm_error *error)
{
	(void)kvm_fd; /* the VM answers: its type decides */
	*cpu = calloc(1, sizeof(**cpu));
	if (!*cpu)
		return gmemvm_failf(error, -ENOMEM, "calloc", "out of memory");
	if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &(*cpu)->init) < 0) {
		int saved = errno;
		free(*cpu);
		*cpu = NULL;
		return gmemvm_failf(error, -saved, "KVM_ARM_PREFERRED_TARGET",
				    "KVM_ARM_PREFERRED_TARGET failed: %s", strerror(saved));
	}
	/* PSCI 0.2: the calls a guest makes to power vCPUs and the system. */
	(*cpu)->init.features[0] |= 1U << KVM_ARM_VCPU_PSCI_0_2;
	return 0;
}

void arch_cpu_free(struct arch_cpu *cpu)
{
	free(cpu);
}

int arch_vm_init(int vm_fd, bool forward_conversions, struct gmemvm_error *error)
{
	if (!forward_conversions)
		return 0;
	/* MEM_SHARE and MEM_UNSHARE, adjacent function IDs, go to the VMM. */
	struct gmemvm_smccc_filter filter = {
		.base = GMEMVM_SMCCC_MEM_SHARE,
		.nr_functions = GMEMVM_SMCCC_MEM_UNSHARE - GMEMVM_SMCCC_MEM_SHARE + 1,
		.action = GMEMVM_SMCCC_FILTER_FWD_TO_USER,
	};
	struct kvm_device_attr attribute = {
		.group = KVM_ARM_VM_SMCCC_CTRL,
		.attr = KVM_ARM_VM_SMCCC_FILTER,
		.addr = (uint64_t)(uintptr_t)&filter,
	};
	if (ioctl(vm_fd, KVM_SET_DEVICE_ATTR, &attribute) < 0) {
		int saved = errno;
		return gmemvm_failf(error, -saved, "KVM_ARM_VM_SMCCC_FILTER",
				    "KVM_SET_DEVICE_ATTR(KVM_ARM_VM_SMCCC_FILTER) failed: %s",
				    strerror(saved));
	}
	return 0;
}

int arch_vcpu_init(const struct arch_cpu *cpu, int vcpu_fd, int index, uint64_t entry,
		   struct gmemvm_error *error)
{
	if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &cpu->init) < 0) {
		int saved = errno;
		return gmemvm_failf(error, -saved, "KVM_ARM_VCPU_INIT",
				    "KVM_ARM_VCPU_INIT (target %u) failed: %s", cpu->init.target,
				    strerror(saved));
	}
	const struct {
		uint64_t id;
		uint64_t value;
		const char *name;
	} registers[] = {
		{ ARM64_CORE_REG(regs.regs[0]), GMEMVM_FDT_GPA, "x0" },
		{ ARM64_CORE_REG(regs.regs[1]), (uint64_t)index, "x1" },
		{ ARM64_CORE_REG(sp_el1),
		  GMEMVM_STACK_GPA + (uint64_t)(index + 1) * GMEMVM_STACK_SIZE, "sp_el1" },
		{ ARM64_CORE_REG(regs.pstate), GMEMVM_PSTATE_EL1H_MASKED, "pstate" },
		{ ARM64_CORE_REG(regs.pc), entry, "pc" },
	};
	for (size_t i = 0; i < sizeof(registers) / sizeof(registers[0]); i++) {
		if (arm64_set_reg(vcpu_fd, registers[i].id, registers[i].value) < 0) {
			int saved = errno;
			return gmemvm_failf(error, -saved, "KVM_SET_ONE_REG",
					    "KVM_SET_ONE_REG (%s) failed: %s", registers[i].name,
					    strerror(saved));
		}
	}
	return 0;
}

unsigned int arch_guest_phys_bits(int kvm_fd)
{
	/* gmemvm creates its VMs with the default IPA size, 40 bits; a KVM
	 * that cannot give that much says less here (0: the capability is
	 * older than the choice, and 40 was the only size). */
	long limit = kvm_check_extension(kvm_fd, KVM_CAP_ARM_VM_IPA_SIZE);
	return limit <= 0 || limit >= 40 ? 40 : (unsigned int)limit;
}

unsigned int arch_shared_bit(unsigned int guest_phys_bits)
{
	/* The top bit of the default 40-bit IPA: the tables map it with
	 * level-0 entry 1 (gmemvm_arch_abi.h). */
	return guest_phys_bits >= 40 ? 39 : 0;
}

/* Exception classes (ESR_EL1.EC) a gmemvm guest can meet. */
static const char *exception_class(uint64_t esr)
{
	switch ((esr >> 26) & 0x3f) {
	case 0x00:
		return "unknown instruction";
	case 0x15:
		return "SVC";
	case 0x16:
		return "HVC";
	case 0x20:
	case 0x21:
		return "instruction abort";
	case 0x22:
		return "PC alignment";
	case 0x24:
	case 0x25:
		return "data abort";
	case 0x26:
		return "SP alignment";
	case 0x2f:
		return "SError";
	default:
		return "other";
	}
}

void arch_describe_exception(uint64_t first, uint64_t second, char *text, size_t size)
{
	snprintf(text, size, "%s, ESR %#" PRIx64 ", FAR %#" PRIx64, exception_class(first), first,
		 second);
}
