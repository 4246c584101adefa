/* SPDX-License-Identifier: MIT */
/*
 * vCPU set-up and the run loop. Each vCPU runs on its own thread from the
 * entry state its architecture gives it (arch/arch.h); the loop calls
 * KVM_RUN and hands every exit to exit_dispatch().
 */
#ifndef GMEMVM_VCPU_H
#define GMEMVM_VCPU_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"
#include "exits.h"
#include "gmemvm_abi.h"
#include "kvm.h"

struct vcpu_set;
struct arch_cpu;

struct vcpu {
	int index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	atomic_bool finished;
	struct exit_context exits;
	struct vcpu_set *set;
	struct timespec stopped; /* CLOCK_MONOTONIC when its run loop ended */
	/* Start-up phases (docs/performance.md): when its thread began, and when
	 * its seccomp filter was in place, just before its first KVM_RUN. */
	struct timespec thread_started, sandboxed;
};

struct vcpu_set {
	struct vcpu vcpus[GMEMVM_MAX_VCPUS];
	int count;
	atomic_bool stopping;
	/* Each thread installs its filter from here before KVM_RUN; NULL: none. */
	const struct sandbox *sandbox;
	pthread_mutex_t lock;
	pthread_cond_t finished;
	int running;
};

void vcpu_set_init(struct vcpu_set *set);
/* Create the next vCPU and give it the entry state of its architecture
 * (arch_vcpu_init). 0, or a negative errno with the sentence in error: the
 * errno of the KVM call that failed, named as the step, or -EINVAL refused
 * past GMEMVM_MAX_VCPUS. */
int vcpu_create(struct vcpu_set *set, int kvm_fd, int vm_fd, const struct arch_cpu *cpu,
		uint64_t entry, struct gmemvm_error *error);
/* Start one thread per vCPU: 0, or pthread_create's error as a negative
 * errno, with error, after stopping the threads already started. */
int vcpu_set_start(struct vcpu_set *set, struct gmemvm_error *error);
/* Wait until every vCPU has stopped, timeout_ms passed or *interrupt (a
 * signal's flag; may be NULL) is set; then stop them all, and the ones still
 * running end with OUTCOME_TIMEOUT or OUTCOME_INTERRUPTED. True on timeout. */
bool vcpu_set_wait(struct vcpu_set *set, unsigned int timeout_ms,
		   const volatile sig_atomic_t *interrupt);
/* Ask every running vCPU to leave KVM_RUN and stop. */
void vcpu_set_stop(struct vcpu_set *set);
void vcpu_set_destroy(struct vcpu_set *set);

#endif
