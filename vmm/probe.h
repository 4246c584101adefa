/* SPDX-License-Identifier: MIT */
/*
 * What this host offers: the KVM capabilities, and behavioural probes that
 * ask throwaway VMs, e.g. whether guest accesses to a gmem-bound memslot are
 * served from guest_memfd or from userspace_addr (docs/design.md explains why
 * that decides what userspace_addr = NULL can do). Nothing host-specific is
 * assumed; every decision reads this. A run asks only for the probes its
 * mode and scenario use (docs/design.md, "What a run probes"); gmemvm probe
 * asks for all of them.
 */
#ifndef GMEMVM_PROBE_H
#define GMEMVM_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kvm.h"

struct scenario;

/*
 * The behavioural probes, one bit each: the questions that cost a throwaway
 * VM or a KVM_GET_SUPPORTED_CPUID. The capabilities (KVM_CHECK_EXTENSION),
 * kvm.gmem_in_place_conversion and the CPU's hypervisor signature (the CPUID
 * instruction) are read on every call: a few system calls.
 */
enum probe_kind {
	PROBE_GMEM_SERVING = 1U << 0,	 /* a throwaway VM runs one read */
	PROBE_PRIVATE_VM_TYPE = 1U << 1, /* a throwaway VM of the software-protected type */
	/* KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd of that VM type: implies
	 * PROBE_PRIVATE_VM_TYPE, and asks the same throwaway VM. */
	PROBE_SET_ATTRIBUTES2 = 1U << 2,
	PROBE_MAP_GPA_RANGE = 1U << 3,	 /* a throwaway VM runs the hypercall */
	PROBE_GUEST_PHYS_BITS = 1U << 4, /* KVM_GET_SUPPORTED_CPUID */
	PROBE_GUEST_RUNS = 1U << 5,	 /* a throwaway VM on plain memory runs one write */
	PROBE_PROTECTED = 1U << 6,	 /* upstream's protected VMs (arm64 pKVM): throwaway VMs */
	PROBE_ALL = (1U << 7) - 1,
};

/*
 * What a test, a scenario or scripts/demo needs of the host, one bit each
 * (docs/hosts.md): probe_lacks() names the first one missing.
 */
enum host_need {
	NEED_GUEST_MEMFD = 1U << 0,	 /* KVM_CAP_GUEST_MEMFD, KVM_CAP_USER_MEMORY2 (6.8) */
	NEED_GMEM_MMAP = 1U << 1,	 /* GUEST_MEMFD_FLAG_MMAP (6.18) */
	NEED_GMEM_MMAP_SHARED = 1U << 2, /* MMAP|INIT_SHARED: what the model builds on */
	NEED_PRIVATE_VM_TYPE = 1U << 3,	 /* a VM type with private memory attributes */
	NEED_SET_ATTRIBUTES2 = 1U << 4,	 /* KVM_SET_MEMORY_ATTRIBUTES2 on guest_memfd */
	NEED_GUESTS_RUN = 1U << 5,	 /* a guest runs to its first exit */
	NEED_ALL = (1U << 6) - 1,
};

/* The kinds of host gmemvm tells apart (docs/hosts.md), from the probe alone:
 * never from a kernel version or a machine's name. */
enum host_kind {
	HOST_KIND_NO_GUEST_MEMFD,	      /* KVM without guest_memfd: before 6.8 */
	HOST_KIND_GUESTS_DO_NOT_RUN,	      /* KVM whose guests never reach an exit */
	HOST_KIND_PRIVATE_ONLY,		      /* guest_memfd without MMAP: 6.8 to 6.17 */
	HOST_KIND_SERVED_FROM_USERSPACE_ADDR, /* MMAP, guest reads userspace_addr (PVM) */
	HOST_KIND_SERVED_FROM_GUEST_MEMFD,    /* MMAP, guest reads guest_memfd: 6.18+ */
	HOST_KIND_MMAP,			      /* MMAP, serving not probed */
};

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
	/* The guest's conversion call reaches the VMM as KVM_EXIT_HYPERCALL:
	 * on x86 KVM_HC_MAP_GPA_RANGE, whose instruction is vmmcall on AMD and
	 * vmcall elsewhere; on arm64 SMCCC MEM_SHARE, forwarded by the SMCCC filter. */
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
	/* This machine is QEMU's emulator (arch_under_emulator), as in the lab:
	 * an x86 guest then fences its returns from user mode
	 * (GMEMVM_FDT_PROP_EXIT_FENCE). */
	bool under_emulator;
	unsigned int guest_phys_bits; /* arch_guest_phys_bits */
	/* The CoCo modes' shared-view bit (arch_shared_bit); 0 = none. */
	unsigned int shared_bit;
	/* A throwaway VM on plain memory ran to its port write (PROBE_GUEST_RUNS). */
	bool guest_runs;
	char guest_runs_detail[128];
	/* With PROBE_PRIVATE_VM_TYPE, where no such type exists: an ordinary VM
	 * takes a guest_memfd without MMAP in a memslot (1), refuses it (0), or
	 * it was not asked (-1). */
	int private_gmem_binds;
	char private_gmem_detail[64]; /* "accepted", or the errno's words */
	/* Upstream's protected VMs (arm64's pKVM, KVM_VM_TYPE_ARM_PROTECTED on a
	 * host booted with kvm-arm.mode=protected), asked by the architecture
	 * that has them (arch_probe_protected): each answer in words. */
	struct protected_probe {
		bool asked;		/* this architecture has the VM type to ask about */
		bool accepted;		/* KVM_CREATE_VM made a protected VM: pKVM is on */
		bool host_faults;	/* a host read and write of a donated page got SIGSEGV */
		bool system_call_fails; /* write() from a donated page failed (EFAULT) */
		uint64_t granule;	/* HYP_MEMINFO's answer; 0 when not learnt */
		char type[112], granule_detail[112], host_access[112], system_call[112];
		char guest_memfd[112]; /* a protected VM on a guest_memfd memslot */
	} protected_vm;
	/* The probes that ran (enum probe_kind). The fields of the others hold
	 * zeroes, which the table prints as "not probed", never as absent. */
	unsigned int probed;
	/* What left the others out ("mode shared"), for the table; NULL if unsaid. */
	const char *not_needed_by;
};

/* Read the capabilities and run the probes in needs (enum probe_kind),
 * afresh: nothing is remembered from an earlier run. */
void probe_host(int kvm_fd, struct host_probe *probe, unsigned int needs);
/*
 * The probes a run of scenario reads (docs/design.md, "What a run probes"):
 * from its mode's row (the private VM type where the mode has a native path,
 * KVM_SET_MEMORY_ATTRIBUTES2 where that path is in place, the hypercall and
 * the physical-address bits for CoCo modes) and from the scenario (the
 * serving, where its outcome depends on it). PROBE_ALL for an unknown mode.
 */
unsigned int probe_needs(const struct scenario *scenario);
/* The run's probe: probe_host with probe_needs(scenario). */
void probe_host_for(int kvm_fd, struct host_probe *probe, const struct scenario *scenario);
/* guest_phys_bits, and the shared bit the architecture takes for that width
 * (arch_shared_bit); marks PROBE_GUEST_PHYS_BITS probed. */
void probe_set_guest_phys_bits(struct host_probe *probe, unsigned int bits);

/*
 * The probe guests, for probe.c and the architecture's probes: a throwaway
 * default VM with one page of plain memory at GPA 0, and its vCPU 0 run
 * from GPA 0 (arch_probe_vcpu_init) until its first exit, at most seconds:
 * 0 with the exit in vcpu->run, or a negative errno with the reason in
 * detail (the probe's table shows it).
 */
#define PROBE_PAGE 4096
struct probe_vm {
	int fd;
	uint8_t *page;
};
struct probe_vcpu {
	int fd;
	long run_size;
	struct kvm_run *run;
};
int probe_vm_open(int kvm_fd, struct probe_vm *vm);
void probe_vm_close(struct probe_vm *vm);
int probe_run_guest(int kvm_fd, int vm_fd, struct probe_vcpu *vcpu, int seconds, char *detail,
		    size_t detail_size);
/* KVM_RUN the same vCPU again until its next exit, at most seconds: 0 or a
 * negative errno (-EINTR when the time ran out). */
int probe_continue_guest(struct probe_vcpu *vcpu, int seconds);
void probe_guest_finish(struct probe_vcpu *vcpu);
const char *probe_serving_name(enum gmem_serving serving);
/* The probes that answer needs (enum host_need). */
unsigned int probe_for_needs(unsigned int needs);
/* The sentence for the first of needs this host lacks ("this kernel lacks
 * KVM_CAP_GUEST_MEMFD: ..."), naming the fix; NULL when it has them all. A
 * need whose probe did not run counts as lacking: nothing is guessed. */
const char *probe_lacks(const struct host_probe *probe, unsigned int needs);
/* Which kind of host this is (probed with probe_for_needs(NEED_ALL)). */
enum host_kind probe_host_kind(const struct host_probe *probe);
/* The kind as docs/hosts.md and the JSON spell it: "no-guest-memfd" ... */
const char *probe_host_kind_name(enum host_kind kind);
/* The kind as one line for people: what it is, what gmemvm runs there. */
const char *probe_host_kind_text(enum host_kind kind);
/* The capability table, one feature a line: name, native or absent, detail. */
void probe_print_table(FILE *out, const struct host_probe *probe);
/* The same as a JSON object (no trailing newline). */
void probe_print_json(FILE *out, const struct host_probe *probe);

#endif
