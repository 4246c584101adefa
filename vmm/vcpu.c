// SPDX-License-Identifier: MIT
#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "faultinject.h"
#include "sandbox.h"

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

void vcpu_set_init(struct vcpu_set *set)
{
	memset(set, 0, sizeof(*set));
	pthread_mutex_init(&set->lock, NULL);
	pthread_cond_init(&set->finished, NULL);
	for (int i = 0; i < GMEMVM_MAX_VCPUS; i++)
		set->vcpus[i].fd = -1;
}

int vcpu_create(struct vcpu_set *set, int kvm_fd, int vm_fd, const struct arch_cpu *cpu,
		uint64_t entry, struct gmemvm_error *error)
{
	if (set->count == GMEMVM_MAX_VCPUS)
		return gmemvm_refuse(error, -EINVAL, "at most %d vCPUs", GMEMVM_MAX_VCPUS);
	struct vcpu *vcpu = &set->vcpus[set->count];
	vcpu->index = set->count;
	vcpu->set = set;
	int fd = kvm_create_vcpu(vm_fd, vcpu->index);
	if (fd < 0)
		return gmemvm_failf(error, fd, "KVM_CREATE_VCPU", "KVM_CREATE_VCPU %d failed: %s",
				    vcpu->index, strerror(-fd));
	vcpu->fd = fd;
	set->count++;
	long run_size = kvm_vcpu_mmap_size(kvm_fd);
	if (run_size < (long)sizeof(struct kvm_run)) {
		int code = run_size < 0 ? (int)run_size : -EINVAL;
		return gmemvm_failf(error, code, "KVM_GET_VCPU_MMAP_SIZE",
				    "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(-code));
	}
	void *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		int saved = errno;
		return gmemvm_failf(error, -saved, "mmap of kvm_run",
				    "mmap of vCPU %d's kvm_run failed: %s", vcpu->index,
				    strerror(saved));
	}
	vcpu->run = run;
	vcpu->run_size = (size_t)run_size;
	vcpu->exits.vcpu_fd = fd;
	return arch_vcpu_init(cpu, vcpu->fd, vcpu->index, entry, error);
}

static void kick_handler(int signal_number)
{
	(void)signal_number; /* only there to make KVM_RUN return EINTR */
}

static void *vcpu_thread(void *argument)
{
	struct vcpu *vcpu = argument;
	struct vcpu_set *set = vcpu->set;
	struct exit_context *context = &vcpu->exits;

	struct gmemvm_error error = { 0 };
	clock_gettime(CLOCK_MONOTONIC, &vcpu->thread_started);
	if (set->sandbox &&
	    sandbox_enter(set->sandbox, SANDBOX_THREAD_VCPU, vcpu->index, &error) < 0) {
		context->outcome = OUTCOME_VMM_ERROR;
		snprintf(context->message, sizeof(context->message), "%.*s",
			 (int)sizeof(context->message) - 1, error.message);
		vcpu_set_stop(set);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &vcpu->sandboxed); /* the first KVM_RUN follows */
	for (;;) {
		if (atomic_load(&set->stopping)) {
			snprintf(context->message, sizeof(context->message),
				 "vCPU %d stopped by the VMM", vcpu->index);
			break;
		}
		/* A memory fault is the one exit KVM_RUN reports with -1 (EFAULT);
		 * clearing the reason first tells it from a stale one. Not after an
		 * MMIO exit: arm64's KVM completes the access (the load's register,
		 * the PC) on entry only when the reason still says MMIO. */
		if (vcpu->run->exit_reason != KVM_EXIT_MMIO)
			vcpu->run->exit_reason = KVM_EXIT_UNKNOWN;
		int status = fault_inject(FAULT_KVM_RUN) ? -errno : kvm_run(vcpu->fd);
		if (status < 0) {
			if (status == -EINTR || status == -EAGAIN)
				continue;
			if (status == -EFAULT && vcpu->run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
				if (exit_dispatch(context, vcpu->run) == EXIT_ACTION_STOP)
					break;
				continue;
			}
			if (status == -EFAULT && context->memory && context->memory->protected_vm) {
				/* pkvm.rst: a page the host took back fails the guest's
				 * next access to it with EFAULT: the run's outcome. */
				context->outcome = OUTCOME_RECLAIMED;
				snprintf(context->message, sizeof(context->message),
					 "KVM_RUN failed on vCPU %d with EFAULT: the guest touched "
					 "a page the host reclaimed (read through /proc/self/mem)",
					 vcpu->index);
				break;
			}
			context->outcome = OUTCOME_VMM_ERROR;
			snprintf(context->message, sizeof(context->message),
				 "KVM_RUN failed on vCPU %d: %s%s", vcpu->index, strerror(-status),
				 status == -EIO && context->memory &&
						 context->memory->protected_vm &&
						 context->memory->gmem
					 ? " (this kernel does not fault guest_memfd into a "
					   "protected VM: the notes' pKVM design needs it)"
					 : "");
			break;
		}
		if (exit_dispatch(context, vcpu->run) == EXIT_ACTION_STOP)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &vcpu->stopped);
	/* A vCPU that ends any other way than a clean finish ends the run. */
	if (context->outcome != OUTCOME_DONE && context->outcome != OUTCOME_NONE)
		vcpu_set_stop(set);
out:
	pthread_mutex_lock(&set->lock);
	atomic_store(&vcpu->finished, true);
	set->running--;
	pthread_cond_signal(&set->finished);
	pthread_mutex_unlock(&set->lock);
	return NULL;
}

int vcpu_set_start(struct vcpu_set *set, struct gmemvm_error *error)
{
	struct sigaction action = { .sa_handler = kick_handler };
	sigemptyset(&action.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &action, NULL); /* no SA_RESTART: KVM_RUN must return */

	for (int i = 0; i < set->count; i++) {
		struct vcpu *vcpu = &set->vcpus[i];
		pthread_mutex_lock(&set->lock);
		set->running++;
		pthread_mutex_unlock(&set->lock);
		int status = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
		if (status != 0) {
			pthread_mutex_lock(&set->lock);
			set->running--;
			pthread_mutex_unlock(&set->lock);
			gmemvm_failf(error, -status, "pthread_create",
				     "cannot start the thread of vCPU %d: %s", i, strerror(status));
			vcpu_set_stop(set);
			return -status;
		}
		vcpu->started = true;
	}
	return 0;
}

void vcpu_set_stop(struct vcpu_set *set)
{
	atomic_store(&set->stopping, true);
	for (int i = 0; i < set->count; i++) {
		struct vcpu *vcpu = &set->vcpus[i];
		if (!vcpu->started || atomic_load(&vcpu->finished))
			continue;
		/* immediate_exit covers a kick that lands before KVM_RUN is entered. */
		__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
	}
}

static struct timespec after_ms(unsigned int ms)
{
	struct timespec when;
	clock_gettime(CLOCK_REALTIME, &when);
	when.tv_sec += ms / 1000;
	when.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (when.tv_nsec >= 1000000000L) {
		when.tv_sec++;
		when.tv_nsec -= 1000000000L;
	}
	return when;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

bool vcpu_set_wait(struct vcpu_set *set, unsigned int timeout_ms,
		   const volatile sig_atomic_t *interrupt)
{
	/* In slices, so that a signal's flag is seen within one slice: a
	 * condition wait does not return for a signal. */
	enum {
		SLICE_MS = 20
	};
	struct timespec deadline = after_ms(timeout_ms);
	bool timed_out = false, interrupted = false;
	pthread_mutex_lock(&set->lock);
	while (set->running > 0 && !timed_out && !interrupted) {
		struct timespec slice = after_ms(SLICE_MS);
		if (!before(&slice, &deadline))
			slice = deadline;
		timed_out =
			pthread_cond_timedwait(&set->finished, &set->lock, &slice) == ETIMEDOUT &&
			!before(&slice, &deadline);
		interrupted = interrupt && *interrupt;
	}
	pthread_mutex_unlock(&set->lock);
	bool still_running[GMEMVM_MAX_VCPUS] = { false };
	if (timed_out || interrupted) {
		for (int i = 0; i < set->count; i++)
			still_running[i] = !atomic_load(&set->vcpus[i].finished);
		vcpu_set_stop(set);
	}
	for (int i = 0; i < set->count; i++) {
		if (set->vcpus[i].started)
			pthread_join(set->vcpus[i].thread, NULL);
		/* Only after the join: the thread owns its exit context until then. */
		if (still_running[i] && set->vcpus[i].exits.outcome == OUTCOME_NONE)
			set->vcpus[i].exits.outcome =
				interrupted ? OUTCOME_INTERRUPTED : OUTCOME_TIMEOUT;
	}
	return timed_out;
}

void vcpu_set_destroy(struct vcpu_set *set)
{
	for (int i = 0; i < set->count; i++) {
		struct vcpu *vcpu = &set->vcpus[i];
		if (vcpu->run)
			munmap(vcpu->run, vcpu->run_size);
		if (vcpu->fd >= 0)
			close(vcpu->fd);
	}
	pthread_cond_destroy(&set->finished);
	pthread_mutex_destroy(&set->lock);
}
