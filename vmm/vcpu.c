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

#include "faultinject.h"
#include "sandbox.h"

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
/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

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

void vcpu_write_boot_tables(uint8_t *ram, int vcpus, unsigned int shared_bit)
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

static int set_long_mode(struct vcpu *vcpu, uint64_t entry, struct gmemvm_error *error)
{
	struct kvm_sregs sregs;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
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
	sregs.fs.base = GMEMVM_TLS_GPA + (uint64_t)vcpu->index * GMEMVM_TLS_SIZE;
	sregs.gdt.base = GMEMVM_GDT_GPA;
	sregs.gdt.limit = GMEMVM_GDT_ENTRIES * 8 - 1;
	sregs.tr = (struct kvm_segment){
		.base = GMEMVM_TSS_GPA + (uint64_t)vcpu->index * GMEMVM_TSS_SIZE,
		.limit = TSS_LIMIT,
		.selector = GMEMVM_SELECTOR_TSS(vcpu->index),
		.type = 11, /* busy 64-bit TSS: TR is loaded */
		.present = 1,
	};
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return ioctl_failed(error, "KVM_SET_SREGS", "KVM_SET_SREGS (long mode)");
	struct kvm_regs regs = {
		.rip = entry,
		.rsp = GMEMVM_STACK_GPA + (uint64_t)(vcpu->index + 1) * GMEMVM_STACK_SIZE,
		.rdi = GMEMVM_FDT_GPA,
		.rsi = (uint64_t)vcpu->index,
		.rflags = 0x2,
	};
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return ioctl_failed(error, "KVM_SET_REGS", "KVM_SET_REGS");
	return 0;
}

void vcpu_set_init(struct vcpu_set *set)
{
	memset(set, 0, sizeof(*set));
	pthread_mutex_init(&set->lock, NULL);
	pthread_cond_init(&set->finished, NULL);
	for (int i = 0; i < GMEMVM_MAX_VCPUS; i++)
		set->vcpus[i].fd = -1;
}

int vcpu_create(struct vcpu_set *set, int kvm_fd, int vm_fd, const struct kvm_cpuid2 *cpuid,
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
	/* CPUID before SREGS: newer kernels check EFER against the guest's CPUID. */
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
		return ioctl_failed(error, "KVM_SET_CPUID2", "KVM_SET_CPUID2");
	return set_long_mode(vcpu, entry, error);
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
	if (set->sandbox &&
	    sandbox_enter(SANDBOX_THREAD_VCPU, vcpu->index, set->native_conversion, &error) < 0) {
		context->outcome = OUTCOME_VMM_ERROR;
		snprintf(context->message, sizeof(context->message), "%.*s",
			 (int)sizeof(context->message) - 1, error.message);
		vcpu_set_stop(set);
		goto out;
	}
	for (;;) {
		if (atomic_load(&set->stopping)) {
			snprintf(context->message, sizeof(context->message),
				 "vCPU %d stopped by the VMM", vcpu->index);
			break;
		}
		/* A memory fault is the one exit KVM_RUN reports with -1 (EFAULT);
		 * clearing the reason first tells it from a stale one. */
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
			context->outcome = OUTCOME_VMM_ERROR;
			snprintf(context->message, sizeof(context->message),
				 "KVM_RUN failed on vCPU %d: %s", vcpu->index, strerror(-status));
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
