/* SPDX-License-Identifier: MIT */
/*
 * The VMM's conversion policy: what it does when the guest's access and a
 * page's shareability disagree (a memory fault, from the kernel or from the
 * model: the same path), and when the guest asks to share or unshare, for
 * each mode and stage of the design notes. It also holds the stage rules that
 * refuse a configuration before any vCPU runs, and counts every conversion.
 */
#ifndef GMEMVM_CONVERSION_H
#define GMEMVM_CONVERSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "memmap.h"

struct mode_info;
struct timeline;
struct memmap_snapshot;

struct conversion_stats {
	uint64_t memory_faults_kernel;	 /* KVM_EXIT_MEMORY_FAULT from the kernel */
	uint64_t memory_faults_modelled; /* the model's, from an MMIO exit on RAM */
	uint64_t pages_to_shared, pages_to_private;
	uint64_t by_fault;	  /* conversions the VMM made after a memory fault */
	uint64_t by_hypercall;	  /* conversions the guest asked for */
	uint64_t hypervisor_side; /* pkvm: of by_hypercall, made without the VMM's fault policy */
	/* faults and requests that found every page already in the wanted state
	 * (another vCPU converted first, or the guest asked twice) */
	uint64_t already_done;
	uint64_t refused; /* share/unshare requests answered with an error */
	/* KVM_SET_MEMORY_ATTRIBUTES2's EAGAIN answers, and the retries after the
	 * VMM dropped its holds (gmem_stats, copied at the end of the run). */
	uint64_t eagain, retries;
	uint64_t host_ns; /* time in memmap_convert for the counted conversions
			     (docs/performance.md) */
	/* CLOCK_MONOTONIC when the first counted conversion began and the last
	 * ended: the window a conversion rate is measured over (docs/performance.md). */
	uint64_t first_started_ns, last_finished_ns;
};

struct conversion_policy {
	const struct mode_info *mode; /* the scenario's row of the mode table (mode.h) */
	int stage;
	struct memmap *memory;
	FILE *trace; /* each fault and conversion, with a map of the region; or NULL */
	/* --timeline: each fault, conversion and refusal is recorded (timeline.h);
	 * NULL when not asked for. Set after conversion_init. */
	struct timeline *timeline;
	/* --memmap: the map right after the run's first conversion is copied
	 * here (memmap_picture.h); NULL when not asked for. Set after
	 * conversion_init; the first conversion that changed a page claims it. */
	struct memmap_snapshot *memmap_after;
	bool memmap_after_claimed; /* under lock */
	pthread_mutex_t lock;
	struct conversion_stats stats;
};

void conversion_init(struct conversion_policy *policy, const struct scenario *scenario,
		     struct memmap *memory, FILE *trace);
void conversion_destroy(struct conversion_policy *policy);
struct conversion_stats conversion_read_stats(struct conversion_policy *policy);

/*
 * The notes' stage rules for this scenario (mode, flags, stage). 0 when the
 * configuration may be bound; else -EINVAL, error->refused and the rule
 * quoted in error->message.
 */
int conversion_check_stage(const struct scenario *scenario, struct gmemvm_error *error);

/*
 * A memory fault: the guest accessed [gpa, gpa + size) as private (or shared)
 * and the page is not. In CoCo modes the VMM converts it to what the access
 * wanted (coco-inplace: CONVERT_PRIVATE/CONVERT_SHARED on the guest_memfd;
 * coco-legacy: the memory attribute), then, for a modelled fault, finishes
 * the access. Other modes expect no memory faults. 0, or a negative errno
 * with error->message saying why: error->refused when the fault itself is
 * refused (a mode without faults, not a page range of RAM), else a kernel
 * call of the conversion failed (the VMM's failure, not the guest's) and
 * error->step names it.
 */
int conversion_on_memory_fault(struct conversion_policy *policy, int vcpu, uint64_t gpa,
			       uint64_t size, bool private_access, bool modelled,
			       struct memmap_completion *completion, struct gmemvm_error *error);

/*
 * The guest's share (to_private false) or unshare request. 0, or the guest's
 * answer as a negative errno: refused (error->refused) -EINVAL for a range
 * that is not whole pages of RAM, -ENOSYS in stage 1 (no conversion call),
 * -EPERM for a guest_memfd that cannot be shared, -ENOSPC when the views
 * would need more memslots than KVM allows; or -ENOMEM when the VMM
 * itself failed (a kernel call): error->message says which step and errno,
 * and the run must stop. hypercall_answer() makes the guest ABI's code of it.
 */
int conversion_on_request(struct conversion_policy *policy, int vcpu, uint64_t gpa, uint64_t size,
			  bool to_private, struct gmemvm_error *error);

#endif
