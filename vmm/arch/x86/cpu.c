// SPDX-License-Identifier: MIT
/*
 * x86-64 vCPUs: the CPUID table every vCPU gets, the boot tables (page
 * tables, GDT, TLS blocks, TSSes) and 64-bit long mode from the first
 * instruction (docs/design.md: some KVMs refuse 32-bit paging).
 */
#include "arch/arch.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gmemvm_abi.h"

const char arch_name[] = "x86_64";
const unsigned int arch_elf_machine = EM_X86_64;
const enum iotrap_space arch_device_space = IOTRAP_PIO;
const unsigned long arch_protected_vm_type = 0;

#define PAGE_PRESENT  (1ULL << 0)
#define PAGE_WRITABLE (1ULL << 1)
#define PAGE_HUGE     (1ULL << 7)
#define PAGE_ACCESSED (1ULL << 5)
#define PAGE_DIRTY    (1ULL << 6)
#define PAGE_USER     (1ULL << 2)
/* Every table entry and 2 MiB leaf: PAGE_USER throughout, because the guest
 * runs its pure computation in user mode (gmemvm_abi.h, entry state). */
#define PAGE_TABLE (PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER)
#define PAGE_LEAF  (PAGE_TABLE | PAGE_HUGE | PAGE_ACCESSED | PAGE_DIRTY)
#define CR0_PE	   (1ULL << 0)
#define CR0_MP	   (1ULL << 1)
#define CR0_ET	   (1ULL << 4)
#define CR0_NE	   (1ULL << 5)
#define CR0_WP	   (1ULL << 16)
#define CR0_PG	   (1ULL << 31)
#define CR4_PAE	   (1ULL << 5)
#define EFER_LME   (1ULL << 8)
#define EFER_LMA   (1ULL << 10)
/* Flat 64-bit code and flat data descriptors, ring 0 and ring 3. */
#define GDT_CODE64	0x00af9a000000ffffULL
#define GDT_DATA	0x00cf92000000ffffULL
#define GDT_USER_DATA	0x00cff2000000ffffULL
#define GDT_USER_CODE64 0x00affa000000ffffULL
#define TSS_LIMIT	103 /* a 64-bit TSS without an I/O bitmap: user mode gets no ports */
#define TSS_IOMAP_BASE	0x66
_Static_assert(GMEMVM_GDT_GPA + GMEMVM_GDT_ENTRIES * 8 <= GMEMVM_TLS_GPA, "GDT overlaps TLS");
_Static_assert(GMEMVM_TLS_GPA + GMEMVM_MAX_VCPUS * GMEMVM_TLS_SIZE <= GMEMVM_TSS_GPA,
	       "TLS blocks overlap the TSSes");
_Static_assert(GMEMVM_TSS_GPA + GMEMVM_MAX_VCPUS * GMEMVM_TSS_SIZE <= GMEMVM_SHARED_PDPT_GPA,
	       "TSSes overlap the shared-view page tables");
_Static_assert(TSS_LIMIT < GMEMVM_TSS_SIZE, "a TSS is larger than its slot");

static void write_u64(uint8_t *ram, uint64_t gpa, uint64_t value)
{
	memcpy(ram + gpa, &value, sizeof(value));
}

void arch_write_boot_tables(uint8_t *ram, int vcpus, unsigned int shared_bit)
{
	write_u64(ram, GMEMVM_PML4_GPA, GMEMVM_PDPT_GPA | PAGE_TABLE);
	for (int pd = 0; pd < GMEMVM_PD_COUNT; pd++) {
		uint64_t pd_gpa = GMEMVM_PD_GPA + (uint64_t)pd * 0x1000;
		write_u64(ram, GMEMVM_PDPT_GPA + (uint64_t)pd * 8, pd_gpa | PAGE_TABLE);
		for (uint64_t entry = 0; entry < 512; entry++) {
			uint64_t gpa = ((uint64_t)pd << 30) | (entry << 21);
			write_u64(ram, pd_gpa + entry * 8, gpa | PAGE_LEAF);
		}
	}
	if (shared_bit >= 39 && shared_bit <= 46) {
		/* The shared view, as TDX guests see it: the same RAM with the
		 * shared bit set, through its own PML4 entry. */
		uint64_t bit = 1ULL << shared_bit;
		write_u64(ram, GMEMVM_PML4_GPA + (bit >> 39) * 8,
			  GMEMVM_SHARED_PDPT_GPA | PAGE_TABLE);
		for (uint64_t pd = 0; pd < GMEMVM_SHARED_PD_COUNT; pd++) {
			uint64_t pd_gpa = GMEMVM_SHARED_PD_GPA + pd * 0x1000;
			write_u64(ram, GMEMVM_SHARED_PDPT_GPA + pd * 8, pd_gpa | PAGE_TABLE);
			for (uint64_t entry = 0; entry < 512; entry++)
				write_u64(ram, pd_gpa + entry * 8,
					  bit | (pd << 30) | (entry << 21) | PAGE_LEAF);
		}
	}
	write_u64(ram, GMEMVM_GDT_GPA + 0, 0);
	write_u64(ram, GMEMVM_GDT_GPA + GMEMVM_SELECTOR_KERNEL_CODE, GDT_CODE64);
	write_u64(ram, GMEMVM_GDT_GPA + GMEMVM_SELECTOR_KERNEL_DATA, GDT_DATA);
	write_u64(ram, GMEMVM_GDT_GPA + (GMEMVM_SELECTOR_USER_DATA & ~3), GDT_USER_DATA);
	write_u64(ram, GMEMVM_GDT_GPA + (GMEMVM_SELECTOR_USER_CODE & ~3), GDT_USER_CODE64);
	for (int i = 0; i < vcpus; i++) {
		/* An available 64-bit TSS (type 9), present; the guest fills RSP0. */
		uint64_t tss = GMEMVM_TSS_GPA + (uint64_t)i * GMEMVM_TSS_SIZE;
		uint64_t low = TSS_LIMIT | (tss & 0xffffff) << 16 | 0x89ULL << 40 |
			       ((tss >> 24) & 0xff) << 56;
		write_u64(ram, GMEMVM_GDT_GPA + GMEMVM_SELECTOR_TSS(i), low);
		write_u64(ram, GMEMVM_GDT_GPA + GMEMVM_SELECTOR_TSS(i) + 8, tss >> 32);
		memcpy(ram + tss + TSS_IOMAP_BASE, &(uint16_t){ TSS_LIMIT + 1 }, sizeof(uint16_t));
		/* libfdt.a was built with the stack protector: it reads %fs:0x28. */
		write_u64(ram, GMEMVM_TLS_GPA + (uint64_t)i * GMEMVM_TLS_SIZE + 0x28,
			  GMEMVM_STACK_CANARY);
	}
}

static void flat_segment(struct kvm_segment *segment, uint16_t selector, uint64_t base, bool code)
{
	*segment = (struct kvm_segment){
		.base = base,
		.limit = 0xffffffff,
		.selector = selector,
		.type = code ? 11 : 3, /* execute/read accessed, read/write accessed */
		.present = 1,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

/* An ioctl of a vCPU failed: its errno, the request as the step. */
static int ioctl_failed(struct gmemvm_error *error, const char *request, const char *what)
{
	int saved = errno;
	return gmemvm_failf(error, -saved, request, "%s failed: %s", what, strerror(saved));
}

static int set_long_mode(int vcpu_fd, int index, uint64_t entry, struct gmemvm_error *error)
{
	struct kvm_sregs sregs;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return ioctl_failed(error, "KVM_GET_SREGS", "KVM_GET_SREGS");
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = GMEMVM_PML4_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	flat_segment(&sregs.cs, GMEMVM_SELECTOR_KERNEL_CODE, 0, true);
	flat_segment(&sregs.ss, GMEMVM_SELECTOR_KERNEL_DATA, 0, false);
	/* The user data selector: an iretq to user mode keeps it (gmemvm_abi.h). */
	flat_segment(&sregs.ds, GMEMVM_SELECTOR_USER_DATA, 0, false);
	sregs.ds.dpl = 3;
	sregs.es = sregs.gs = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.fs.base = GMEMVM_TLS_GPA + (uint64_t)index * GMEMVM_TLS_SIZE;
	sregs.gdt.base = GMEMVM_GDT_GPA;
	sregs.gdt.limit = GMEMVM_GDT_ENTRIES * 8 - 1;
	sregs.tr = (struct kvm_segment){
		.base = GMEMVM_TSS_GPA + (uint64_t)index * GMEMVM_TSS_SIZE,
		.limit = TSS_LIMIT,
		.selector = GMEMVM_SELECTOR_TSS(index),
		.type = 11, /* busy 64-bit TSS: TR is loaded */
		.present = 1,
	};
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return ioctl_failed(error, "KVM_SET_SREGS", "KVM_SET_SREGS (long mode)");
	struct kvm_regs regs = {
		.rip = entry,
		.rsp = GMEMVM_STACK_GPA + (uint64_t)(index + 1) * GMEMVM_STACK_SIZE,
		.rdi = GMEMVM_FDT_GPA,
		.rsi = (uint64_t)index,
		.rflags = 0x2,
	};
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return ioctl_failed(error, "KVM_SET_REGS", "KVM_SET_REGS");
	return 0;
}

struct arch_cpu {
	struct kvm_cpuid2 *cpuid;
};

static int supported_cpuid(int kvm_fd, struct kvm_cpuid2 **cpuid)
{
	/* Grow the buffer until the kernel stops answering E2BIG. 256 entries
	 * is enough for today's CPUs in one call (each E2BIG costs ~0.25 ms). */
	*cpuid = NULL;
	for (unsigned int entries = 256; entries <= 4096; entries *= 2) {
		struct kvm_cpuid2 *table =
			calloc(1, sizeof(*table) + entries * sizeof(struct kvm_cpuid_entry2));
		if (!table)
			return -ENOMEM;
		table->nent = entries;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, table) == 0) {
			*cpuid = table;
			return 0;
		}
		int saved = errno;
		free(table);
		if (saved != E2BIG)
			return -saved;
	}
	return -E2BIG;
}

int arch_cpu_read(int kvm_fd, int vm_fd, struct arch_cpu **cpu, struct gmemvm_error *error)
{
	(void)vm_fd; /* /dev/kvm answers for every VM */
	*cpu = calloc(1, sizeof(**cpu));
	if (!*cpu)
		return gmemvm_failf(error, -ENOMEM, "calloc", "out of memory");
	int status = supported_cpuid(kvm_fd, &(*cpu)->cpuid);
	if (status < 0) {
		free(*cpu);
		*cpu = NULL;
		return gmemvm_failf(error, status, "KVM_GET_SUPPORTED_CPUID",
				    "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(-status));
	}
	return 0;
}

void arch_cpu_free(struct arch_cpu *cpu)
{
	if (cpu)
		free(cpu->cpuid);
	free(cpu);
}

int arch_vm_init(int vm_fd, bool forward_conversions, struct gmemvm_error *error)
{
	struct kvm_enable_cap map_gpa_range_exit = {
		.cap = KVM_CAP_EXIT_HYPERCALL, .args = { 1ULL << GMEMVM_KVM_HC_MAP_GPA_RANGE }
	};
	if (forward_conversions && ioctl(vm_fd, KVM_ENABLE_CAP, &map_gpa_range_exit) < 0) {
		int saved = errno;
		return gmemvm_failf(error, -saved, "KVM_ENABLE_CAP",
				    "KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL) failed: %s",
				    strerror(saved));
	}
	return 0;
}

int arch_vcpu_init(const struct arch_cpu *cpu, int vcpu_fd, int index, uint64_t entry,
		   struct gmemvm_error *error)
{
	/* CPUID before SREGS: newer kernels check EFER against the guest's CPUID. */
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpu->cpuid) < 0)
		return ioctl_failed(error, "KVM_SET_CPUID2", "KVM_SET_CPUID2");
	return set_long_mode(vcpu_fd, index, entry, error);
}

unsigned int arch_guest_phys_bits(int kvm_fd)
{
	struct kvm_cpuid2 *cpuid = NULL;
	unsigned int bits = 36; /* the architectural minimum, if CPUID is silent */
	if (supported_cpuid(kvm_fd, &cpuid) == 0 && cpuid)
		for (unsigned int i = 0; i < cpuid->nent; i++)
			if (cpuid->entries[i].function == 0x80000008)
				bits = cpuid->entries[i].eax & 0xff;
	free(cpuid);
	return bits;
}

void arch_describe_exception(uint64_t first, uint64_t second, char *text, size_t size)
{
	/* The guest has a gate for #GP only: any other exception arrives as a
	 * #GP whose error code names the vector's IDT entry. */
	snprintf(text, size, "#GP, error code %#" PRIx64 ", rip %#" PRIx64, first, second);
}
