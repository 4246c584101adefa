// SPDX-License-Identifier: MIT
#include "kvm.h"

#include "faultinject.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int kvm_open(struct gmemvm_error *error)
{
	int fd = open(KVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		return gmemvm_failf(error, -saved, "open of " KVM_DEVICE_PATH,
				    "cannot open %s: %s (%s)", KVM_DEVICE_PATH, strerror(saved),
				    saved == ENOENT
					    ? "load the kvm module or run on a host with KVM"
				    : saved == EACCES ? "run as root or join the kvm group"
						      : "check that KVM is usable on this host");
	}
	int version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_EXPECTED_API_VERSION) {
		close(fd);
		return gmemvm_failf(error, -EINVAL, "KVM_GET_API_VERSION",
				    "%s reports KVM API version %d, gmemvm needs %d",
				    KVM_DEVICE_PATH, version, KVM_EXPECTED_API_VERSION);
	}
	return fd;
}

static long check_extension(int fd, long cap)
{
	long value = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	return value < 0 ? 0 : value;
}

void kvm_read_caps(int kvm_fd, struct kvm_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->api_version = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	caps->user_memory2 = check_extension(kvm_fd, KVM_CAP_USER_MEMORY2) > 0;
	caps->guest_memfd = check_extension(kvm_fd, KVM_CAP_GUEST_MEMFD) > 0;
	caps->memory_fault_info = check_extension(kvm_fd, KVM_CAP_MEMORY_FAULT_INFO) > 0;
	caps->memory_attributes = (uint64_t)check_extension(kvm_fd, KVM_CAP_MEMORY_ATTRIBUTES);
	long flags = ioctl(kvm_fd, KVM_CHECK_EXTENSION, GMEMVM_KVM_CAP_GUEST_MEMFD_FLAGS);
	caps->guest_memfd_flags_cap = flags > 0;
	caps->guest_memfd_flags = flags > 0 ? (uint64_t)flags : 0;
	caps->vm_types = (uint64_t)check_extension(kvm_fd, KVM_CAP_VM_TYPES);
	caps->nr_memslots = (int)check_extension(kvm_fd, KVM_CAP_NR_MEMSLOTS);
	caps->exit_hypercall = (uint64_t)check_extension(kvm_fd, 201 /* KVM_CAP_EXIT_HYPERCALL */);
}

/* An ioctl's result, or the negative errno it failed with. */
static int result_of(int result)
{
	return result < 0 ? -errno : result;
}

int kvm_create_vm(int kvm_fd, unsigned long type)
{
	int fd;
	/* KVM_CREATE_VM can fail with EINTR while the kernel tears down an old VM. */
	do {
		fd = ioctl(kvm_fd, KVM_CREATE_VM, type);
	} while (fd < 0 && errno == EINTR);
	return result_of(fd);
}

int kvm_create_guest_memfd(int vm_fd, uint64_t size, uint64_t flags)
{
	struct kvm_create_guest_memfd request = { .size = size, .flags = flags };
	return result_of(ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &request));
}

int kvm_set_memory_region(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size,
			  uint64_t userspace_addr)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = userspace_addr,
	};
	return result_of(ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region));
}

int kvm_set_memory_region2(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size,
			   uint64_t userspace_addr, int gmem_fd, uint64_t gmem_offset)
{
	if (fault_inject(FAULT_MEMSLOT))
		return -errno;
	struct kvm_userspace_memory_region2 region = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = userspace_addr,
		.guest_memfd_offset = gmem_offset,
		.guest_memfd = gmem_fd < 0 ? 0 : (uint32_t)gmem_fd,
	};
	return result_of(ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &region));
}

int kvm_set_memory_attributes(int vm_fd, uint64_t gpa, uint64_t size, uint64_t attributes)
{
	if (fault_inject(FAULT_ATTRIBUTES))
		return -errno;
	struct kvm_memory_attributes request = {
		.address = gpa,
		.size = size,
		.attributes = attributes,
	};
	return result_of(ioctl(vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &request));
}

long kvm_check_extension(int fd, long cap)
{
	return check_extension(fd, cap);
}

int kvm_create_vcpu(int vm_fd, int index)
{
	return result_of(ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)index));
}

long kvm_vcpu_mmap_size(int kvm_fd)
{
	return result_of(ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0));
}

int kvm_run(int vcpu_fd)
{
	return result_of(ioctl(vcpu_fd, KVM_RUN, 0));
}
