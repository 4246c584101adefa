/* SPDX-License-Identifier: MIT */
/*
 * What the real-KVM unit tests share: the skip where the host lacks what a
 * test needs (exit status 77, meson's "skipped", with the reason) and
 * opening KVM with one VM.
 */
#ifndef GMEMVM_TESTS_KVM_FIXTURE_H
#define GMEMVM_TESTS_KVM_FIXTURE_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kvm.h"
#include "probe.h"

/*
 * True, after saying "skipped: " and why, when this host lacks what the test
 * needs (enum host_need; 0 for KVM alone): no /dev/kvm, or the feature
 * probe_lacks() names. main() then returns 77, meson's "skipped". A host
 * that has the feature runs the test, which fails where the behaviour is
 * wrong; /dev/kvm that exists but cannot be opened is a failure, not a skip.
 */
static inline bool kvm_fixture_lacks(unsigned int needs)
{
	struct gmemvm_error error;
	int kvm_fd = kvm_open(&error);
	if (kvm_fd < 0) {
		if (error.code != -ENOENT)
			return false; /* the test's own kvm_open fails, naming the cause */
		printf("skipped: %s is missing (these tests need the real KVM: load the kvm module "
		       "or run on a host with KVM)\n",
		       KVM_DEVICE_PATH);
		return true;
	}
	struct host_probe host;
	probe_host(kvm_fd, &host, probe_for_needs(needs));
	close(kvm_fd);
	const char *lacks = probe_lacks(&host, needs);
	if (lacks)
		printf("skipped: %s\n", lacks);
	return lacks != NULL;
}

/* /dev/kvm, its capabilities and a default VM; -1 (with the reason on stderr) if not. */
static inline int kvm_fixture_open(int *kvm_fd, int *vm_fd, struct kvm_caps *caps)
{
	struct gmemvm_error error;

	*kvm_fd = kvm_open(&error);
	if (*kvm_fd < 0) {
		fprintf(stderr, "%s\n", error.message);
		return -1;
	}
	kvm_read_caps(*kvm_fd, caps);
	*vm_fd = kvm_create_vm(*kvm_fd, 0);
	if (*vm_fd < 0) {
		fprintf(stderr, "KVM_CREATE_VM: %s\n", strerror(-*vm_fd));
		return -1;
	}
	return 0;
}

/* The host as vm.c sees it (gmemvm probe); -1, with the reason on stderr, if not. */
static inline int kvm_fixture_probe(struct host_probe *host)
{
	struct gmemvm_error error;
	int kvm_fd = kvm_open(&error);
	if (kvm_fd < 0) {
		fprintf(stderr, "%s\n", error.message);
		return -1;
	}
	probe_host(kvm_fd, host, PROBE_ALL);
	close(kvm_fd);
	return 0;
}

/*
 * A VM that may bind guest_memfd to memslots: any VM type on kernels whose
 * guest_memfd can be mmap-ed (6.18 and later), only a type with private
 * memory (the software-protected VM) before that.
 */
static inline int kvm_fixture_gmem_vm(int kvm_fd, const struct kvm_caps *caps)
{
	unsigned long type = GMEMVM_KVM_X86_DEFAULT_VM;
	if (!(caps->guest_memfd_flags & GUEST_MEMFD_FLAG_MMAP) &&
	    (caps->vm_types & (1ULL << GMEMVM_KVM_X86_SW_PROTECTED_VM)))
		type = GMEMVM_KVM_X86_SW_PROTECTED_VM;
	return kvm_create_vm(kvm_fd, type);
}

#endif
