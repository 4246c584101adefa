// SPDX-License-Identifier: MIT
/*
 * What upstream's pKVM does, asked of throwaway protected VMs: whether the
 * type exists here (the host booted with kvm-arm.mode=protected), the
 * granule HYP_MEMINFO gives the guest, what the host gets when it touches a
 * page the guest was given (donated at its first access), what a system
 * call on such a page gets, and whether guest_memfd can back a protected VM
 * (Documentation/virt/kvm/arm/pkvm.rst and hypercalls.rst in Linux 7.1+).
 */
#include "arch/arch.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/arm64/arm64_kvm.h"
#include "gmem.h"
#include "gmemvm_abi.h"
#include "kvm.h"
#include "probe.h"

#define PROBE_MMIO     0x10000 /* no memslot here: each write is an MMIO exit */
#define PROBE_DATA_GPA 0x1000  /* the page the guest is given, after its code */
#define PROBE_PATTERN  0x5a

/*
 * HYP_MEMINFO (x0 = 0xc6000002) into x5; store PROBE_PATTERN to the data
 * page (its first access: the page is donated); report x5 at PROBE_MMIO;
 * read the data page again and report what it holds; park.
 */
static const uint32_t protected_code[] = {
	0x52800040, /* mov w0, #2 */
	0x72b8c000, /* movk w0, #0xc600, lsl #16 */
	0xd4000002, /* hvc #0 */
	0xaa0003e5, /* mov x5, x0 */
	0xd2820001, /* mov x1, #0x1000 */
	0xd2800b42, /* mov x2, #0x5a */
	0xf9000022, /* str x2, [x1] */
	0xd2a00023, /* mov x3, #0x10000 */
	0xf9000065, /* str x5, [x3] */
	0xf9400024, /* ldr x4, [x1] */
	0xf9000064, /* str x4, [x3] */
	0x14000000, /* b . */
};

/* The value the vCPU's MMIO exit carries, or a sentence on what it did instead. */
static bool mmio_value(const struct kvm_run *run, uint64_t *value)
{
	if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.phys_addr != PROBE_MMIO ||
	    !run->mmio.is_write)
		return false;
	*value = 0;
	memcpy(value, run->mmio.data, run->mmio.len < 8 ? run->mmio.len : 8);
	return true;
}

static const char *signal_words(int signal_number)
{
	return signal_number == SIGSEGV	 ? "SIGSEGV"
	       : signal_number == SIGBUS ? "SIGBUS"
					 : "no fault";
}

/* The donated page, touched by the host, and used by a system call. */
static void host_touches(struct protected_probe *answers, uint8_t *page)
{
	int read_signal = gmem_host_read_signal(page);
	/* The guest's own pattern: where the write lands, the guest's re-read
	 * below still finds what it wrote. */
	int write_signal = gmem_host_write_signal(page, PROBE_PATTERN);
	answers->host_faults = read_signal == SIGSEGV && write_signal == SIGSEGV;
	snprintf(answers->host_access, sizeof(answers->host_access),
		 "a host read got %s, a write %s (pkvm.rst: the page is the guest's)",
		 signal_words(read_signal), signal_words(write_signal));
	int pipe_fds[2];
	if (pipe(pipe_fds) < 0) {
		snprintf(answers->system_call, sizeof(answers->system_call),
			 "not probed: pipe failed: %s", strerror(errno));
		return;
	}
	ssize_t written = write(pipe_fds[1], page, 8);
	int saved = errno;
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	answers->system_call_fails = written < 0 && saved == EFAULT;
	snprintf(answers->system_call, sizeof(answers->system_call),
		 "write() from it into a pipe: %s", written < 0 ? strerror(saved) : "succeeded");
}

/* A protected VM whose one memslot is a guest_memfd (the notes' design):
 * 7.3 answers its first KVM_RUN with EIO. */
static void probe_guest_memfd(int kvm_fd, struct protected_probe *answers)
{
	uint64_t flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	int vm_fd = kvm_create_vm(kvm_fd, GMEMVM_KVM_VM_TYPE_ARM_PROTECTED);
	int gmem_fd = vm_fd >= 0 ? kvm_create_guest_memfd(vm_fd, PROBE_PAGE, flags) : -1;
	uint8_t *code = gmem_fd >= 0 ? mmap(NULL, PROBE_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
					    gmem_fd, 0)
				     : MAP_FAILED;
	struct probe_vcpu vcpu = { .fd = -1 };
	int status = code == MAP_FAILED
			     ? -errno
			     : kvm_set_memory_region2(vm_fd, 0, KVM_MEM_GUEST_MEMFD, 0, PROBE_PAGE,
						      (uintptr_t)code, gmem_fd, 0);
	if (status < 0) {
		snprintf(answers->guest_memfd, sizeof(answers->guest_memfd),
			 "a guest_memfd memslot could not be set up: %s", strerror(-status));
		goto out;
	}
	arch_probe_write_guest(code, PROBE_PAGE);
	char detail[96] = "";
	status = probe_run_guest(kvm_fd, vm_fd, &vcpu, 1, detail, sizeof(detail));
	if (status < 0)
		snprintf(answers->guest_memfd, sizeof(answers->guest_memfd),
			 "the first KVM_RUN failed: %s (the kernel cannot fault guest_memfd into a "
			 "protected VM)",
			 strerror(-status));
	else
		snprintf(answers->guest_memfd, sizeof(answers->guest_memfd),
			 "it ran to exit reason %u: guest_memfd backs protected VMs",
			 vcpu.run->exit_reason);
out:
	probe_guest_finish(&vcpu);
	if (code != MAP_FAILED)
		munmap(code, PROBE_PAGE);
	if (gmem_fd >= 0)
		close(gmem_fd);
	if (vm_fd >= 0)
		close(vm_fd);
}

void arch_probe_protected(int kvm_fd, struct host_probe *probe)
{
	struct protected_probe *answers = &probe->protected_vm;
	answers->asked = true;
	int vm_fd = kvm_create_vm(kvm_fd, GMEMVM_KVM_VM_TYPE_ARM_PROTECTED);
	if (vm_fd < 0) {
		snprintf(answers->type, sizeof(answers->type),
			 "KVM_CREATE_VM(KVM_VM_TYPE_ARM_PROTECTED) answered %s: pKVM is off "
			 "(boot with kvm-arm.mode=protected)",
			 strerror(-vm_fd));
		return;
	}
	answers->accepted = true;
	snprintf(answers->type, sizeof(answers->type),
		 "KVM_VM_TYPE_ARM_PROTECTED (%#llx) accepted: the host runs pKVM",
		 (unsigned long long)GMEMVM_KVM_VM_TYPE_ARM_PROTECTED);
	/* Anonymous memory, as pKVM wants it: the code page and the data page. */
	size_t size = (size_t)2 * PROBE_PAGE;
	uint8_t *memory =
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct probe_vcpu vcpu = { .fd = -1 };
	int status = memory == MAP_FAILED
			     ? -errno
			     : kvm_set_memory_region(vm_fd, 0, 0, size, (uintptr_t)memory);
	if (status < 0) {
		snprintf(answers->granule_detail, sizeof(answers->granule_detail),
			 "not probed: the protected VM's memory could not be set up: %s",
			 strerror(-status));
		goto out;
	}
	memset(memory, 0, size);
	memcpy(memory, protected_code, sizeof(protected_code));
	uint64_t value = 0;
	if (probe_run_guest(kvm_fd, vm_fd, &vcpu, 1, answers->granule_detail,
			    sizeof(answers->granule_detail)) < 0)
		goto out;
	if (!mmio_value(vcpu.run, &value)) {
		snprintf(answers->granule_detail, sizeof(answers->granule_detail),
			 "the probe guest ended with exit reason %u, not its MMIO write",
			 vcpu.run->exit_reason);
		goto out;
	}
	answers->granule = value;
	snprintf(answers->granule_detail, sizeof(answers->granule_detail),
		 "%#" PRIx64 " bytes; the hypervisor answered with no exit to the VMM", value);
	host_touches(answers, memory + PROBE_DATA_GPA);
	/* The guest reads its page again: unharmed by the host's attempts. */
	if (probe_continue_guest(&vcpu, 1) == 0 && mmio_value(vcpu.run, &value))
		snprintf(answers->system_call + strlen(answers->system_call),
			 sizeof(answers->system_call) - strlen(answers->system_call),
			 "; the guest then read %#" PRIx64 "%s", value,
			 value == PROBE_PATTERN ? " (its own)" : "");
out:
	probe_guest_finish(&vcpu);
	if (memory != MAP_FAILED)
		munmap(memory, size);
	close(vm_fd);
	probe_guest_memfd(kvm_fd, answers);
}
