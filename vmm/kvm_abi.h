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
 * Per-page conversion on the guest_memfd itself, as proposed upstream after
 * 6.18 (RFC "KVM: guest_memfd: Introduce KVM_GMEM_CONVERT_SHARED/PRIVATE
 * ioctls"): the notes' CONVERT_SHARED and CONVERT_PRIVATE. Not merged; the
 * probe asks the kernel and gmemvm uses them only where they answer.
 */
#define KVM_GMEM_IO 0xAF
struct kvm_gmem_convert {
	uint64_t offset;
	uint64_t size;
	uint64_t error_offset;
	uint64_t reserved[5];
};
#define KVM_GMEM_CONVERT_SHARED	 _IOWR(KVM_GMEM_IO, 0x41, struct kvm_gmem_convert)
#define KVM_GMEM_CONVERT_PRIVATE _IOWR(KVM_GMEM_IO, 0x42, struct kvm_gmem_convert)

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
