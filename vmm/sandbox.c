// SPDX-License-Identifier: MIT
#include "sandbox.h"

#include "arch/arch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kvm_abi.h"

/* One allowed system call, with an optional condition on one argument. */
struct allowed_call {
	const char *name;
	int number;
	int argument; /* -1: any arguments */
	enum scmp_compare compare;
	uint64_t mask, value;
	const char *why;
};

/* SCMP_SYS: the number on this architecture, or libseccomp's pseudo-number
 * for a call it lacks (arm64 has no rename or unlink, only their *at forms),
 * whose rule libseccomp leaves out: one list serves x86-64 and arm64. */
#define ANY(nr, why)                                \
	{                                           \
#nr, SCMP_SYS(nr), -1, 0, 0, 0, why \
	}
#define WHEN(nr, arg, cmp, mask, value, why)                  \
	{                                                     \
#nr, SCMP_SYS(nr), arg, cmp, mask, value, why \
	}

/* Both kinds of thread: memory management for malloc, locks, signals, exit. */
static const struct allowed_call common_calls[] = {
	ANY(futex, "locks and condition variables"),
	WHEN(mmap, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0,
	     "malloc and the memory views; never executable"),
	ANY(munmap, "free"),
	WHEN(mprotect, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0,
	     "malloc: a thread's arena grows its heap; never executable"),
	ANY(madvise, "free; thread exit"),
	ANY(brk, "malloc"),
	ANY(mremap, "realloc of large buffers"),
	WHEN(write, 0, SCMP_CMP_LE, 0, 2, "console, trace and messages: stdout and stderr only"),
	WHEN(writev, 0, SCMP_CMP_LE, 0, 2,
	     "stdio writes a message in pieces: stdout and stderr only"),
	ANY(rt_sigreturn, "returning from the vCPU kick signal"),
	ANY(rt_sigprocmask, "threads"),
	ANY(sched_yield, "spinning locks"),
	ANY(clock_gettime, "timing, when the vDSO falls back"),
	ANY(getpid, "pthread_kill"),
	ANY(gettid, "pthread_kill"),
	ANY(tgkill, "kicking vCPUs out of KVM_RUN"),
	ANY(exit, "thread exit"),
	ANY(exit_group, "process exit"),
};

static const struct allowed_call vcpu_calls[] = {
	WHEN(ioctl, 1, SCMP_CMP_EQ, UINT64_MAX, KVM_RUN, "the run loop"),
	ANY(fallocate, "discarding backing on conversion and DISCARD"),
	WHEN(ioctl, 1, SCMP_CMP_EQ, UINT64_MAX, KVM_SET_USER_MEMORY_REGION2,
	     "a conversion rebinds the memslots of each view"),
	WHEN(ioctl, 1, SCMP_CMP_EQ, UINT64_MAX, KVM_SET_MEMORY_ATTRIBUTES,
	     "use case (a): the private attribute, on a VM type that has it"),
	ANY(pipe2, "a hold: the pipe its page references live in"),
	ANY(vmsplice, "a hold: referencing the pages"),
	WHEN(fcntl, 1, SCMP_CMP_EQ, UINT64_MAX, F_SETPIPE_SZ, "a hold: room for its pages"),
	ANY(close, "dropping a hold"),
};

static const struct allowed_call vcpu_native_calls[] = {
	WHEN(ioctl, 1, SCMP_CMP_EQ, UINT64_MAX, KVM_SET_MEMORY_ATTRIBUTES2,
	     "in-place conversion on the guest_memfd"),
};

static const struct allowed_call vcpu_protected_calls[] = {
	ANY(pread64, "a protected VM's discard and hold: /proc/self/mem reclaims a page, "
		     "and writes one as a system call would"),
};

static const struct allowed_call main_calls[] = {
	ANY(read, "/proc/self/maps and status, through files opened before"),
	ANY(lseek, "rewinding them"),
	ANY(close, "tearing down"),
	ANY(newfstatat, "stdio"),
	ANY(fstat, "stdio"),
	WHEN(write, 0, SCMP_CMP_GE, 0, 3, "the JSON report, opened before"),
	ANY(rt_sigaction, "catching the SIGBUS the data checks expect"),
	ANY(clock_nanosleep, "waiting"),
	ANY(rename, "the report, written beside its path, put in place"),
	ANY(renameat, "the same, where libc renames this way"),
	ANY(renameat2, "the same"),
	ANY(unlink, "a report that could not be completed is removed"),
	ANY(unlinkat, "the same"),
};

/*
 * Sanitizer builds only (ASan/UBSan in CI): the runtime's own calls, on
 * every thread. Not part of the allow-list test, which is about gmemvm.
 */
static const struct allowed_call sanitizer_calls[] = {
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer's runtime on thread exit and in its reports. LeakSanitizer's
	 * exit-time check (a ptrace-ing helper process) is not allowed: gmemvm runs in
	 * the sanitizer build set detect_leaks=0, and valgrind checks them for leaks
	 * in the plain build instead (tests/valgrind.sh). */
	ANY(sigaltstack, "sanitizer runtime"),
	ANY(mprotect, "sanitizer runtime"),
	ANY(sched_getaffinity, "sanitizer runtime"),
	ANY(readlink, "sanitizer reports"),
	ANY(openat, "sanitizer reports"),
#endif
	ANY(exit_group, "so the array is never empty"),
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static char syscall_names[512][32];
static __thread const char *thread_name = "main";
static __thread int thread_index = -1;

static void append(char *buffer, size_t size, size_t *used, const char *text)
{
	while (*text && *used + 1 < size)
		buffer[(*used)++] = *text++;
	buffer[*used] = '\0';
}

static void append_number(char *buffer, size_t size, size_t *used, long number)
{
	char digits[24];
	int length = 0;
	unsigned long value = number < 0 ? (unsigned long)-number : (unsigned long)number;
	do {
		digits[length++] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	if (number < 0)
		append(buffer, size, used, "-");
	while (length)
		buffer[(*used < size - 1) ? (*used)++ : *used] = digits[--length];
	buffer[*used] = '\0';
}

/* Async-signal-safe: fixed buffers and write(2) only. */
static void report_violation(int signal_number, siginfo_t *info, void *context)
{
	(void)context;
	char line[256];
	size_t used = 0;
	int number = info->si_syscall;
	append(line, sizeof(line), &used, "gmemvm: sandbox: forbidden system call ");
	append(line, sizeof(line), &used,
	       number >= 0 && number < 512 && syscall_names[number][0] ? syscall_names[number]
								       : "?");
	append(line, sizeof(line), &used, " (");
	append_number(line, sizeof(line), &used, number);
	append(line, sizeof(line), &used, ") on the ");
	append(line, sizeof(line), &used, thread_name);
	if (thread_index >= 0) {
		append(line, sizeof(line), &used, " ");
		append_number(line, sizeof(line), &used, thread_index);
	}
	append(line, sizeof(line), &used,
	       " thread; killed by SIGSYS (gmemvm sandbox lists what is allowed)\n");
	ssize_t ignored = write(STDERR_FILENO, line, used);
	(void)ignored;
	signal(signal_number, SIG_DFL);
	raise(signal_number);
}

void sandbox_prepare(void)
{
	uint32_t arch = seccomp_arch_native();
	for (int number = 0; number < 512; number++) {
		char *name = seccomp_syscall_resolve_num_arch(arch, number);
		if (name) {
			snprintf(syscall_names[number], sizeof(syscall_names[number]), "%s", name);
			free(name);
		}
	}
	struct sigaction action = { .sa_sigaction = report_violation, .sa_flags = SA_SIGINFO };
	sigemptyset(&action.sa_mask);
	sigaction(SIGSYS, &action, NULL);
}

static int add_calls(scmp_filter_ctx filter, const struct allowed_call *calls, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct allowed_call *call = &calls[i];
		int status;
		if (call->argument < 0)
			status = seccomp_rule_add(filter, SCMP_ACT_ALLOW, call->number, 0);
		else if (call->compare == SCMP_CMP_MASKED_EQ) /* datum_a is the mask */
			status = seccomp_rule_add(
				filter, SCMP_ACT_ALLOW, call->number, 1,
				(struct scmp_arg_cmp){ (unsigned int)call->argument, call->compare,
						       call->mask, call->value });
		else /* datum_a is the value compared with */
			status = seccomp_rule_add(
				filter, SCMP_ACT_ALLOW, call->number, 1,
				(struct scmp_arg_cmp){ (unsigned int)call->argument, call->compare,
						       call->value, 0 });
		if (status < 0)
			return status;
	}
	return 0;
}

/* One thread kind's filter as libseccomp builds it: the rules of its lists. */
static int build_rules(scmp_filter_ctx filter, enum sandbox_thread thread, unsigned int extras)
{
	int status = add_calls(filter, common_calls, COUNT(common_calls));
	if (status == 0 && thread == SANDBOX_THREAD_VCPU)
		status = add_calls(filter, vcpu_calls, COUNT(vcpu_calls));
	for (size_t i = 0; status == 0 && thread == SANDBOX_THREAD_VCPU && i < arch_nr_vcpu_ioctls;
	     i++)
		status = seccomp_rule_add(
			filter, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
			(struct scmp_arg_cmp){ 1, SCMP_CMP_EQ, arch_vcpu_ioctls[i].request, 0 });
	if (status == 0 && thread == SANDBOX_THREAD_VCPU && (extras & SANDBOX_NATIVE_CONVERSION))
		status = add_calls(filter, vcpu_native_calls, COUNT(vcpu_native_calls));
	if (status == 0 && thread == SANDBOX_THREAD_VCPU && (extras & SANDBOX_PROTECTED_VM))
		status = add_calls(filter, vcpu_protected_calls, COUNT(vcpu_protected_calls));
	if (status == 0 && thread == SANDBOX_THREAD_MAIN)
		status = add_calls(filter, main_calls, COUNT(main_calls));
	if (status == 0)
		status = add_calls(filter, sanitizer_calls, COUNT(sanitizer_calls));
	return status;
}

/*
 * Compile one thread kind's filter to its BPF program, once: libseccomp
 * writes the program to a file (its only export in 2.5), read back here.
 * Every thread of the kind then installs the same program.
 */
static int compile(struct sock_fprog *program, enum sandbox_thread thread, unsigned int extras,
		   const char **step)
{
	*step = "seccomp_init";
	scmp_filter_ctx filter = seccomp_init(SCMP_ACT_TRAP);
	if (!filter)
		return -ENOMEM;
	*step = "seccomp_rule_add";
	int status = build_rules(filter, thread, extras);
	int fd = -1;
	if (status == 0) {
		*step = "memfd_create";
		fd = memfd_create("gmemvm-seccomp", MFD_CLOEXEC);
		status = fd < 0 ? -errno : 0;
	}
	if (status == 0) {
		*step = "seccomp_export_bpf";
		status = seccomp_export_bpf(filter, fd);
	}
	off_t size = status == 0 ? lseek(fd, 0, SEEK_END) : 0;
	if (status == 0 && (size <= 0 || size % sizeof(struct sock_filter) ||
			    size / sizeof(struct sock_filter) > USHRT_MAX))
		status = -EINVAL;
	if (status == 0) {
		*step = "reading the exported filter";
		program->filter = malloc((size_t)size);
		program->len = (unsigned short)(size / sizeof(struct sock_filter));
		status = !program->filter				       ? -ENOMEM
			 : pread(fd, program->filter, (size_t)size, 0) == size ? 0
									       : -EIO;
	}
	if (fd >= 0)
		close(fd);
	seccomp_release(filter);
	return status;
}

int sandbox_build(struct sandbox *sandbox, unsigned int extras, struct gmemvm_error *error)
{
	*sandbox = (struct sandbox){ 0 };
	const char *step = NULL;
	int status = compile(&sandbox->vcpu, SANDBOX_THREAD_VCPU, extras, &step);
	if (status == 0)
		status = compile(&sandbox->main, SANDBOX_THREAD_MAIN, 0, &step);
	if (status < 0) {
		sandbox_destroy(sandbox);
		return gmemvm_failf(error, status, step, "building the seccomp filters failed: %s",
				    strerror(-status));
	}
	return 0;
}

void sandbox_destroy(struct sandbox *sandbox)
{
	free(sandbox->vcpu.filter);
	free(sandbox->main.filter);
	*sandbox = (struct sandbox){ 0 };
}

int sandbox_enter(const struct sandbox *sandbox, enum sandbox_thread thread, int vcpu_index,
		  struct gmemvm_error *error)
{
	thread_name = thread == SANDBOX_THREAD_VCPU ? "vCPU" : "main";
	thread_index = thread == SANDBOX_THREAD_VCPU ? vcpu_index : -1;
	const struct sock_fprog *program =
		thread == SANDBOX_THREAD_VCPU ? &sandbox->vcpu : &sandbox->main;
	/* What seccomp_load does, without compiling again: no new privileges
	 * (which lets an unprivileged process filter), then the program. */
	const char *step = "prctl(PR_SET_NO_NEW_PRIVS)";
	int status = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
	if (status == 0) {
		step = "seccomp(SECCOMP_SET_MODE_FILTER)";
		status = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, program) < 0 ? -errno : 0;
	}
	if (status < 0)
		return gmemvm_failf(error, status, step,
				    "installing the %s thread's seccomp filter failed: %s",
				    thread_name, strerror(-status));
	/* The test hook: GMEMVM_SANDBOX_SELFTEST=vcpu|main makes that thread try
	 * a call no filter allows, right after its filter is in place. */
	const char *selftest = getenv("GMEMVM_SANDBOX_SELFTEST");
	if (selftest && strcmp(selftest, thread == SANDBOX_THREAD_VCPU ? "vcpu" : "main") == 0)
		syscall(SYS_socket, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
	return 0;
}

static void print_calls(FILE *out, const char *thread, const struct allowed_call *calls,
			size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct allowed_call *call = &calls[i];
		fprintf(out, "%-5s %-16s", thread, call->name);
		if (call->argument >= 0 && call->name[0] == 'i')
			fprintf(out, " request %#llx", (unsigned long long)call->value);
		else if (call->argument >= 0)
			fprintf(out, " arg%d %s %#llx", call->argument,
				call->compare == SCMP_CMP_MASKED_EQ ? "&mask=="
				: call->compare == SCMP_CMP_LE	    ? "<="
				: call->compare == SCMP_CMP_GE	    ? ">="
								    : "==",
				(unsigned long long)call->value);
		fprintf(out, "  # %s\n", call->why);
	}
}

void sandbox_print_allowed(FILE *out)
{
	print_calls(out, "both", common_calls, COUNT(common_calls));
	print_calls(out, "vcpu", vcpu_calls, COUNT(vcpu_calls));
	for (size_t i = 0; i < arch_nr_vcpu_ioctls; i++)
		fprintf(out, "%-5s %-16s request %#lx  # %s (%s)\n", "vcpu", "ioctl",
			arch_vcpu_ioctls[i].request, arch_vcpu_ioctls[i].why,
			arch_vcpu_ioctls[i].name);
	print_calls(out, "vcpu", vcpu_native_calls, COUNT(vcpu_native_calls));
	print_calls(out, "vcpu", vcpu_protected_calls, COUNT(vcpu_protected_calls));
	print_calls(out, "main", main_calls, COUNT(main_calls));
}
