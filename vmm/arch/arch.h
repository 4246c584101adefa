/* SPDX-License-Identifier: MIT */
/*
 * The architecture layer: everything the VMM does differently on x86-64 and
 * on arm64, behind one interface. vmm/arch/x86/ and vmm/arch/arm64/ each
 * implement all of it, and the build compiles the one of the machine it
 * builds for (docs/design.md, "The architecture layer"). The mode table, the
 * memory map, the conversion policy, the scenario loader, the report and the
 * timeline never look past this header.
 */
#ifndef GMEMVM_ARCH_H
#define GMEMVM_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "exits.h"
#include "iotrap.h"
#include "kvm_abi.h"

/* "x86_64" or "arm64": the report's host table, [expect.ARCH] sections. */
extern const char arch_name[];
/* The guest's conversion call as the probe and the report name it, and what
 * it is when it reaches the VMM: "KVM_HC_MAP_GPA_RANGE" / "KVM_EXIT_HYPERCALL"
 * on x86, "SMCCC MEM_SHARE/UNSHARE" / "KVM_EXIT_HYPERCALL via the SMCCC
 * filter" on arm64. */
extern const char arch_conversion_call_name[];
extern const char arch_conversion_call_exit[];
/* The exits a run is made of, for the features line: "exits (io, mmio, hlt)"
 * on x86, "exits (mmio, halt register)" on arm64. */
extern const char arch_exit_words[];
/* What the probe's table says of a host that is QEMU (arch_under_emulator). */
extern const char arch_emulator_words[];
/* KVM_CREATE_VM's type for upstream's protected VM (arm64's pKVM); 0 where
 * the architecture has none (the probe then never accepts one). */
extern const unsigned long arch_protected_vm_type;
/* The guest ELF's e_machine: EM_X86_64 or EM_AARCH64. */
extern const unsigned int arch_elf_machine;
/* Where the guest's devices live: ports on x86, MMIO on arm64. */
extern const enum iotrap_space arch_device_space;

/*
 * What every vCPU of a VM is created from, read once per VM: the CPUID
 * table on x86 (KVM_GET_SUPPORTED_CPUID), the preferred target on arm64
 * (KVM_ARM_PREFERRED_TARGET, which needs the VM).
 */
struct arch_cpu;
/* 0 with *cpu set (free it with arch_cpu_free), or a negative errno, said in error. */
int arch_cpu_read(int kvm_fd, int vm_fd, struct arch_cpu **cpu, struct gmemvm_error *error);
void arch_cpu_free(struct arch_cpu *cpu);

/*
 * VM-wide set-up once the VM exists and before its vCPUs. With
 * forward_conversions, the guest's conversion call is made to reach the VMM:
 * x86 enables KVM_CAP_EXIT_HYPERCALL for KVM_HC_MAP_GPA_RANGE, arm64 sets an
 * SMCCC filter that forwards MEM_SHARE and MEM_UNSHARE. 0 or a negative errno.
 */
int arch_vm_init(int vm_fd, bool forward_conversions, struct gmemvm_error *error);

/*
 * The boot tables below GMEMVM_FDT_GPA (gmemvm_arch_abi.h), written into
 * low, a copy of the first ARCH_BOOT_TABLES_SIZE bytes of RAM: page tables
 * with the shared alias when shared_bit is not 0, and on x86 the GDT and the
 * per-vCPU TLS blocks and TSSes.
 */
#define ARCH_BOOT_TABLES_SIZE GMEMVM_FDT_GPA
void arch_write_boot_tables(uint8_t *low, int vcpus, unsigned int shared_bit);

/* A new vCPU's entry state (gmemvm_arch_abi.h): 0, or a negative errno with
 * the failing call named as the step. */
int arch_vcpu_init(const struct arch_cpu *cpu, int vcpu_fd, int index, uint64_t entry,
		   struct gmemvm_error *error);

/*
 * The exits only this architecture raises, after exits.c has taken the
 * shared ones (MMIO, memory faults): x86's port I/O, HLT, shutdown and
 * KVM_HC_MAP_GPA_RANGE; arm64's system events and SMCCC calls. One row
 * each: the reason, the kind the report counts it as, its handler; a reason
 * in no row goes to exit_handle_unknown.
 */
struct arch_exit {
	uint32_t reason;
	enum exit_kind kind;
	enum exit_action (*handle)(struct exit_context *context, struct kvm_run *run);
};
extern const struct arch_exit arch_exits[];
extern const size_t arch_nr_exits;
/* An MMIO access the architecture turns into an exit of its own (arm64's
 * halt register): true, with *action, when it did. */
bool arch_exit_mmio(struct exit_context *context, struct kvm_run *run, enum exit_action *action);
/* One line on the exception a guest reported (GMEMVM_DONE_EXCEPTION's two
 * words: x86's #GP error code and rip; arm64's ESR and FAR). */
void arch_describe_exception(uint64_t first, uint64_t second, char *text, size_t size);

/* The vCPU thread's ioctls besides KVM_RUN and the conversions' that its
 * architecture's exits make (arm64: the SMCCC call's registers); the
 * sandbox allows exactly these (sandbox.c). */
struct arch_ioctl {
	unsigned long request;
	const char *name, *why;
};
extern const struct arch_ioctl arch_vcpu_ioctls[];
extern const size_t arch_nr_vcpu_ioctls;

/*
 * The probe's questions, asked the architecture's way (probe.c has the
 * rest): a throwaway vCPU set up to run from GPA 0 with translation off; a
 * guest there that reads the byte at PROBE_DATA_OFFSET and writes it to the
 * probe's device; and what that write looks like as an exit.
 */
#define ARCH_PROBE_DATA_OFFSET 0x100
int arch_probe_vcpu_init(int vm_fd, int vcpu_fd);
void arch_probe_write_guest(uint8_t *page, size_t size);
/* True with *value when run is the probe guest's device write. */
bool arch_probe_exit_value(const struct kvm_run *run, uint8_t *value);
/* The physical-address bits of a guest, and the CoCo modes' shared-view bit
 * the architecture takes for that width (0: none fits). */
unsigned int arch_guest_phys_bits(int kvm_fd);
unsigned int arch_shared_bit(unsigned int guest_phys_bits);
/* Upstream's protected VMs where the architecture has them (arm64's pKVM):
 * fills host_probe.protected_vm from throwaway protected VMs; x86 has none
 * and leaves it unasked. */
struct host_probe;
void arch_probe_protected(int kvm_fd, struct host_probe *probe);
/* Whether the guest's conversion call reaches the VMM (host_probe's
 * map_gpa_range_exits and its detail), asked of a throwaway VM. */
struct host_probe;
void arch_probe_conversion_call(int kvm_fd, struct host_probe *probe);
/* True when the host is QEMU's emulator (TCG), which changes some answers. */
bool arch_under_emulator(void);

#endif
