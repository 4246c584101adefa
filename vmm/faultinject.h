/* SPDX-License-Identifier: MIT */
/*
 * Fault injection for tests: in a build with GMEMVM_FAULT_INJECTION (the
 * gmemvm-fault-injection program that tests/meson.build builds), the
 * environment variable GMEMVM_FAULT_INJECT=SITE:N makes the N-th call at SITE
 * fail as the kernel could, so a test can require a clean stop and a
 * consistent state at every kernel call of the conversion path. In the
 * normal program fault_inject() is a constant false and costs nothing.
 */
#ifndef GMEMVM_FAULTINJECT_H
#define GMEMVM_FAULTINJECT_H

#include <stdbool.h>

enum fault_site {
	FAULT_REMAP,	  /* mmap(MAP_FIXED) of a view page: "remap" */
	FAULT_PUNCH,	  /* fallocate(PUNCH_HOLE): "punch" */
	FAULT_STATE,	  /* growing the shareability state: "state" */
	FAULT_CONVERT,	  /* KVM_SET_MEMORY_ATTRIBUTES2 on a kernel that has it: "convert" */
	FAULT_KVM_RUN,	  /* KVM_RUN: "kvm_run" */
	FAULT_MEMSLOT,	  /* KVM_SET_USER_MEMORY_REGION2: "memslot" */
	FAULT_ATTRIBUTES, /* KVM_SET_MEMORY_ATTRIBUTES: "attributes" */
	FAULT_SITE_COUNT
};

#ifdef GMEMVM_FAULT_INJECTION
/* true when this call at site must fail (errno is set to EIO or ENOMEM). */
bool fault_inject(enum fault_site site);
#else
static inline bool fault_inject(enum fault_site site)
{
	(void)site;
	return false;
}
#endif

#endif
