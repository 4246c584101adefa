/* SPDX-License-Identifier: MIT */
/*
 * KVM ioctl wrappers and the capability probe. Every wrapper returns what
 * the ioctl returns on success (0, a file descriptor, a size) and a
 * negative errno on failure (error.h); nothing here prints, so callers
 * decide what a failure means.
 */
#ifndef GMEMVM_KVM_H
#define GMEMVM_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "kvm_abi.h"

#define KVM_DEVICE_PATH		 "/dev/kvm"
#define KVM_EXPECTED_API_VERSION 12

/* What the host's KVM offers, read with KVM_CHECK_EXTENSION (gmemvm probe prints them). */
struct kvm_caps {
	int api_version;
	bool user_memory2;
	bool guest_memfd;
	bool memory_fault_info;
	uint64_t memory_attributes; /* supported attribute bits; 0 = absent */
	bool guest_memfd_flags_cap; /* KVM_CAP_GUEST_MEMFD_FLAGS answered */
	uint64_t guest_memfd_flags; /* supported flags */
	uint64_t vm_types;	    /* bit n = VM type n */
	int nr_memslots;
	uint64_t exit_hypercall;
};

/* Open /dev/kvm and check the API version. The fd, or a negative errno
 * (open's, or -EINVAL for another API version) with a one-line reason in
 * error. */
int kvm_open(struct gmemvm_error *error);
void kvm_read_caps(int kvm_fd, struct kvm_caps *caps);

int kvm_create_vm(int kvm_fd, unsigned long type);
int kvm_create_guest_memfd(int vm_fd, uint64_t size, uint64_t flags);
/* The first memslot call (KVM_SET_USER_MEMORY_REGION), which every KVM has:
 * plain host memory, no guest_memfd. */
int kvm_set_memory_region(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size,
			  uint64_t userspace_addr);
int kvm_set_memory_region2(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size,
			   uint64_t userspace_addr, int gmem_fd, uint64_t gmem_offset);
/* The VM-wide KVM_SET_MEMORY_ATTRIBUTES (use case (a)): attributes 0 = shared,
 * KVM_MEMORY_ATTRIBUTE_PRIVATE = private, for [gpa, gpa + size). */
int kvm_set_memory_attributes(int vm_fd, uint64_t gpa, uint64_t size, uint64_t attributes);
/* KVM_CHECK_EXTENSION on /dev/kvm or a VM fd; 0 when absent or on error. */
long kvm_check_extension(int fd, long cap);
int kvm_create_vcpu(int vm_fd, int index);
long kvm_vcpu_mmap_size(int kvm_fd);
int kvm_run(int vcpu_fd);

#endif
