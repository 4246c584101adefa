/* SPDX-License-Identifier: MIT */
/*
 * The guest_memfd part of the KVM ABI. Debian's linux-libc-dev (6.1) predates
 * guest_memfd, so the numbers and layouts are restated here from the kernel's
 * Documentation/virt/kvm/api.rst.
 */
#ifndef GMEMVM_KVM_ABI_H
#define GMEMVM_KVM_ABI_H

#include <linux/kvm.h>
#include <stdint.h>

#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231
#endif
#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO 232
#endif
#ifndef KVM_CAP_MEMORY_ATTRIBUTES
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#endif
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#endif
#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235
#endif
#define GMEMVM_KVM_CAP_GUEST_MEMFD_FLAGS 244

/* x86 VM types (KVM_CAP_VM_TYPES bit n = type n). The software-protected VM
 * has private memory attributes without SEV-SNP or TDX hardware. */
#define GMEMVM_KVM_X86_DEFAULT_VM      0
#define GMEMVM_KVM_X86_SW_PROTECTED_VM 1

/* Upstream names; the notes call MMAP "SUPPORT_SHARED" (docs/design.md, "Names"). */
#define GUEST_MEMFD_FLAG_MMAP	     (1ULL << 0)
#define GUEST_MEMFD_FLAG_INIT_SHARED (1ULL << 1)

struct kvm_create_guest_memfd {
	uint64_t size;
	uint64_t flags;
	uint64_t reserved[6];
};
#define KVM_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)

struct kvm_userspace_memory_region2 {
	uint32_t slot;
	uint32_t flags;
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t guest_memfd_offset;
	uint32_t guest_memfd;
	uint32_t pad1;
	uint64_t pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#define KVM_MEM_GUEST_MEMFD	    (1U << 2)

#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3)
struct kvm_memory_attributes {
	uint64_t address;
	uint64_t size;
	uint64_t attributes;
	uint64_t flags;
};
#define KVM_SET_MEMORY_ATTRIBUTES _IOW(KVMIO, 0xd2, struct kvm_memory_attributes)

/*
 * Per-guest_memfd memory attributes, upstream's in-place conversion (the
 * notes' CONVERT_SHARED / CONVERT_PRIVATE): KVM_SET_MEMORY_ATTRIBUTES2 issued
 * on the guest_memfd fd, with an offset into the file. It shares its number
 * with the VM-wide call but not its size or direction. Not in any released
 * kernel yet (docs/upstream.md), so gmemvm never trusts a constant here alone:
 * the probe asks a throwaway guest_memfd (ENOTTY means absent).
 */
struct kvm_memory_attributes2 {
	union {
		uint64_t address; /* the VM-wide form's name */
		uint64_t offset;  /* into the guest_memfd */
	};
	uint64_t size;
	uint64_t attributes;   /* 0 = shared, KVM_MEMORY_ATTRIBUTE_PRIVATE */
	uint64_t flags;	       /* must be 0 */
	uint64_t error_offset; /* out: where an EAGAIN stopped */
	uint64_t reserved[11]; /* must be 0 */
};
_Static_assert(sizeof(struct kvm_memory_attributes2) == 128, "kvm_memory_attributes2 is 128 bytes");
_Static_assert(__builtin_offsetof(struct kvm_memory_attributes2, size) == 8, "size at 8");
_Static_assert(__builtin_offsetof(struct kvm_memory_attributes2, attributes) == 16,
	       "attributes at 16");
_Static_assert(__builtin_offsetof(struct kvm_memory_attributes2, flags) == 24, "flags at 24");
_Static_assert(__builtin_offsetof(struct kvm_memory_attributes2, error_offset) == 32,
	       "error_offset at 32");
_Static_assert(__builtin_offsetof(struct kvm_memory_attributes2, reserved) == 40, "reserved at 40");
#define KVM_SET_MEMORY_ATTRIBUTES2 _IOWR(KVMIO, 0xd2, struct kvm_memory_attributes2)

/* Proposed, not merged: guest_memfd pages leave the kernel's direct map
 * (secret-free VMs). Advertised in KVM_CAP_GUEST_MEMFD_FLAGS where present. */
#define GUEST_MEMFD_FLAG_NO_DIRECT_MAP (1ULL << 2)

/* KVM hands the guest's KVM_HC_MAP_GPA_RANGE (gmemvm_abi.h) to the VMM as
 * KVM_EXIT_HYPERCALL once this capability enables it. */
#ifndef KVM_CAP_EXIT_HYPERCALL
#define KVM_CAP_EXIT_HYPERCALL 201
#endif

#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT 39
#endif
#define KVM_MEMORY_EXIT_FLAG_PRIVATE (1ULL << 3)

/* kvm_run.memory_fault, which the 6.1 header's union does not name. */
struct kvm_memory_fault_info {
	uint64_t flags;
	uint64_t gpa;
	uint64_t size;
};

static inline struct kvm_memory_fault_info *kvm_run_memory_fault(struct kvm_run *run)
{
	return (struct kvm_memory_fault_info *)(void *)&run->hw;
}

#endif
