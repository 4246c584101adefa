// SPDX-License-Identifier: MIT
#include "probe.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "config.h"
#include "gmem.h"
#include "gmemvm_abi.h"
#include "json.h"
#include "mode.h"

#define PROBE_PAGE	     4096
#define PROBE_MAX_LINES	     26
#define PROBE_PRIVATE_GPA    0x100000 /* above the probe guest's page */
#define PROBE_USERSPACE_BYTE 0xaa
#define PROBE_GMEM_BYTE	     0xbb

static void probe_alarm(int signal_number)
{
	(void)signal_number; /* interrupts a KVM_RUN that would never return */
}

/* The same code sits in both backings; only the byte at
 * ARCH_PROBE_DATA_OFFSET tells which one the guest read. */
static void fill_page(uint8_t *page, uint8_t marker)
{
	arch_probe_write_guest(page, PROBE_PAGE);
	page[ARCH_PROBE_DATA_OFFSET] = marker;
}

int probe_continue_guest(struct probe_vcpu *vcpu, int seconds)
{
	struct sigaction action = { .sa_handler = probe_alarm }, previous;
	sigemptyset(&action.sa_mask);
	sigaction(SIGALRM, &action, &previous);
	struct itimerval timer = { .it_value = { .tv_sec = seconds } };
	setitimer(ITIMER_REAL, &timer, NULL);
	int status = kvm_run(vcpu->fd);
	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &previous, NULL);
	return status;
}

void probe_guest_finish(struct probe_vcpu *vcpu)
{
	if (vcpu->run && vcpu->run != MAP_FAILED)
		munmap(vcpu->run, (size_t)vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
}

int probe_run_guest(int kvm_fd, int vm_fd, struct probe_vcpu *vcpu, int seconds, char *detail,
		    size_t detail_size)
{
	vcpu->fd = kvm_create_vcpu(vm_fd, 0);
	vcpu->run_size = kvm_vcpu_mmap_size(kvm_fd);
	vcpu->run = MAP_FAILED;
	if (vcpu->fd >= 0 && vcpu->run_size > 0)
		vcpu->run = mmap(NULL, (size_t)vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		int saved = errno ? errno : EIO;
		snprintf(detail, detail_size, "could not create the probe vCPU: %s",
			 strerror(saved));
		return -saved;
	}
	int status = arch_probe_vcpu_init(vm_fd, vcpu->fd);
	if (status < 0) {
		snprintf(detail, detail_size, "could not set the probe vCPU's registers: %s",
			 strerror(-status));
		return status;
	}

	status = probe_continue_guest(vcpu, seconds);
	if (status < 0) {
		snprintf(detail, detail_size,
			 "the probe guest did not exit within %d s (KVM_RUN: %s)", seconds,
			 strerror(-status));
		return status;
	}
	return 0;
}

static void probe_serving_guest(int kvm_fd, int vm_fd, struct host_probe *probe)
{
	struct probe_vcpu vcpu = { .fd = -1 };
	if (probe_run_guest(kvm_fd, vm_fd, &vcpu, 1, probe->serving_detail,
			    sizeof(probe->serving_detail)) == 0) {
		struct kvm_run *run = vcpu.run;
		uint8_t value;
		if (arch_probe_exit_value(run, &value)) {
			probe->serving = value == PROBE_GMEM_BYTE ? GMEM_SERVING_GUEST_MEMFD
					 : value == PROBE_USERSPACE_BYTE
						 ? GMEM_SERVING_USERSPACE_ADDR
						 : GMEM_SERVING_UNKNOWN;
			snprintf(probe->serving_detail, sizeof(probe->serving_detail),
				 "guest read %#x; guest_memfd held %#x, userspace_addr held %#x",
				 value, PROBE_GMEM_BYTE, PROBE_USERSPACE_BYTE);
		} else {
			snprintf(probe->serving_detail, sizeof(probe->serving_detail),
				 "the probe guest ended with exit reason %u", run->exit_reason);
		}
	}
	probe_guest_finish(&vcpu);
}

/*
 * Use case (a) keeps private memory in a guest_memfd the host cannot map
 * (no MMAP flag). Whether an ordinary VM takes such a file in a memslot: x86
 * does; arm64 before its CoCo support refuses it (EINVAL), and the model of
 * use case (a) cannot stand in there.
 */
static void probe_private_gmem_binds(int vm_fd, struct host_probe *probe)
{
	int gmem_fd = kvm_create_guest_memfd(vm_fd, PROBE_PAGE, 0);
	int status = gmem_fd < 0
			     ? gmem_fd
			     : kvm_set_memory_region2(vm_fd, 1, KVM_MEM_GUEST_MEMFD,
						      PROBE_PRIVATE_GPA, PROBE_PAGE, 0, gmem_fd, 0);
	probe->private_gmem_binds = status == 0 ? 1 : 0;
	snprintf(probe->private_gmem_detail, sizeof(probe->private_gmem_detail), "%s",
		 status == 0 ? "accepted" : strerror(-status));
	if (gmem_fd >= 0)
		close(gmem_fd);
}

/* Bind a guest_memfd holding one marker while userspace_addr points at an
 * anonymous page holding another, run one read, and see which came back. */
static void probe_gmem_serving(int kvm_fd, struct host_probe *probe)
{
	uint64_t flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	probe->serving = GMEM_SERVING_UNKNOWN;
	if (!probe->caps.guest_memfd || !probe->caps.user_memory2 ||
	    (probe->caps.guest_memfd_flags & flags) != flags) {
		snprintf(probe->serving_detail, sizeof(probe->serving_detail),
			 "not probed: needs guest_memfd with GUEST_MEMFD_FLAG_MMAP|INIT_SHARED");
		return;
	}
	int vm_fd = kvm_create_vm(kvm_fd, 0);
	int gmem_fd = vm_fd >= 0 ? kvm_create_guest_memfd(vm_fd, PROBE_PAGE, flags) : -1;
	uint8_t *gmem_page = MAP_FAILED, *anonymous_page = MAP_FAILED;
	if (gmem_fd >= 0)
		gmem_page = mmap(NULL, PROBE_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gmem_fd, 0);
	anonymous_page =
		mmap(NULL, PROBE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gmem_page == MAP_FAILED || anonymous_page == MAP_FAILED) {
		snprintf(probe->serving_detail, sizeof(probe->serving_detail),
			 "not probed: could not set up the probe VM: %s", strerror(errno));
		goto out;
	}
	fill_page(gmem_page, PROBE_GMEM_BYTE);
	fill_page(anonymous_page, PROBE_USERSPACE_BYTE);
	int status = kvm_set_memory_region2(vm_fd, 0, KVM_MEM_GUEST_MEMFD, 0, PROBE_PAGE,
					    (uint64_t)(uintptr_t)anonymous_page, gmem_fd, 0);
	if (status < 0) {
		snprintf(probe->serving_detail, sizeof(probe->serving_detail),
			 "not probed: KVM_SET_USER_MEMORY_REGION2 failed: %s", strerror(-status));
		goto out;
	}
	probe_serving_guest(kvm_fd, vm_fd, probe);
out:
	if (gmem_page != MAP_FAILED)
		munmap(gmem_page, PROBE_PAGE);
	if (anonymous_page != MAP_FAILED)
		munmap(anonymous_page, PROBE_PAGE);
	if (gmem_fd >= 0)
		close(gmem_fd);
	if (vm_fd >= 0)
		close(vm_fd);
}

/* kvm.gmem_in_place_conversion: 1 or 0, or -1 when the module has no such parameter. */
static int read_in_place_parameter(void)
{
	FILE *file = fopen("/sys/module/kvm/parameters/gmem_in_place_conversion", "re");
	if (!file)
		return -1;
	int value = fgetc(file);
	fclose(file);
	return value == 'Y' || value == 'y' || value == '1';
}

/*
 * Upstream's conversion call, asked of a throwaway guest_memfd of vm_fd (the
 * VM type with private memory where there is one): a call with flags set
 * fails ENOTTY where the kernel lacks it and EINVAL where it has it (its
 * first check). A second call then sets page 0 private: the attribute mask
 * KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES would report, learnt without relying
 * on that capability's number, which is not final upstream.
 */
static void probe_set_attributes2(int vm_fd, struct host_probe *probe)
{
	unsigned long type = probe->protected_vm_type;
	/* A plain guest_memfd: every VM type takes it (a software-protected
	 * VM refuses INIT_SHARED on 7.3), and the call needs nothing more. */
	int gmem_fd = vm_fd >= 0 && probe->caps.guest_memfd
			      ? kvm_create_guest_memfd(vm_fd, PROBE_PAGE, 0)
			      : -1;
	if (gmem_fd < 0) {
		snprintf(probe->attributes2_detail, sizeof(probe->attributes2_detail),
			 "not probed: no guest_memfd");
		return;
	}
	struct kvm_memory_attributes2 request = { .size = PROBE_PAGE, .flags = 1 };
	int status = ioctl(gmem_fd, KVM_SET_MEMORY_ATTRIBUTES2, &request);
	int error = status < 0 ? errno : 0;
	probe->set_attributes2 = status == 0 || error != ENOTTY;
	if (!probe->set_attributes2) {
		snprintf(probe->attributes2_detail, sizeof(probe->attributes2_detail),
			 "a throwaway call answered %s", strerror(error));
		close(gmem_fd);
		return;
	}
	struct kvm_memory_attributes2 private = { .size = PROBE_PAGE,
						  .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE };
	status = ioctl(gmem_fd, KVM_SET_MEMORY_ATTRIBUTES2, &private);
	error = status < 0 ? errno : 0;
	if (status == 0)
		probe->gmem_attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE;
	snprintf(probe->attributes2_detail, sizeof(probe->attributes2_detail),
		 "flags 1 answered %s; PRIVATE on VM type %lu: %s",
		 strerror(error ? error : EINVAL), type,
		 status == 0 ? "accepted" : strerror(error));
	close(gmem_fd);
}

/*
 * Private memory for use case (a): a throwaway VM of the software-protected
 * type says which memory attributes and guest_memfd flags it supports; then,
 * with attributes2, the same VM answers probe_set_attributes2.
 *
 * One VM gives the answers two gave: KVM_CHECK_EXTENSION on a VM reports
 * properties of its type and of the module (kvm_supported_mem_attributes(),
 * kvm_gmem_get_supported_flags()), which no guest_memfd changes, and it is
 * asked before the guest_memfd exists; the conversion call then acts on
 * that guest_memfd alone, which is closed before the VM. Where the type is
 * missing or its VM cannot be made, the call is asked of a default VM.
 */
static void probe_protected_vm(int kvm_fd, struct host_probe *probe, bool attributes2)
{
	unsigned long type = GMEMVM_KVM_X86_SW_PROTECTED_VM;
	int vm_fd = (probe->caps.vm_types & (1ULL << type)) ? kvm_create_vm(kvm_fd, type) : -1;
	if (vm_fd >= 0) {
		probe->protected_vm_type = type;
		uint64_t attributes =
			(uint64_t)kvm_check_extension(vm_fd, KVM_CAP_MEMORY_ATTRIBUTES);
		if (attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE) {
			probe->private_vm_type = type;
			probe->private_vm_attributes = attributes;
			probe->private_vm_gmem_flags = (uint64_t)kvm_check_extension(
				vm_fd, GMEMVM_KVM_CAP_GUEST_MEMFD_FLAGS);
		}
	}
	/* Without such a type, use case (a)'s model binds its private-only
	 * guest_memfd to an ordinary VM: ask one whether it takes it. */
	if (!probe->private_vm_type && probe->caps.guest_memfd) {
		int default_vm = kvm_create_vm(kvm_fd, 0);
		if (default_vm >= 0) {
			probe_private_gmem_binds(default_vm, probe);
			close(default_vm);
		}
	}
	if (attributes2) {
		if (vm_fd < 0)
			vm_fd = kvm_create_vm(kvm_fd, 0);
		probe_set_attributes2(vm_fd, probe);
	}
	if (vm_fd >= 0)
		close(vm_fd);
}

/* A throwaway default VM with one page of plain memory at GPA 0, the probe
 * guests' home: 0, or a negative errno with everything undone. */
int probe_vm_open(int kvm_fd, struct probe_vm *vm)
{
	vm->fd = kvm_create_vm(kvm_fd, 0);
	vm->page =
		mmap(NULL, PROBE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int status = vm->fd < 0 ? vm->fd : vm->page == MAP_FAILED ? -errno : 0;
	if (status == 0)
		status = kvm_set_memory_region(vm->fd, 0, 0, PROBE_PAGE,
					       (uint64_t)(uintptr_t)vm->page);
	return status;
}

void probe_vm_close(struct probe_vm *vm)
{
	if (vm->page != MAP_FAILED)
		munmap(vm->page, PROBE_PAGE);
	if (vm->fd >= 0)
		close(vm->fd);
}

/* The question under every other: does a guest of this KVM run at all? One
 * real-mode write on plain memory, no guest_memfd, so it is asked of every
 * KVM (a PVM host without guest_memfd, QEMU's nested KVM under load). */
static void probe_guest_runs(int kvm_fd, struct host_probe *probe)
{
	struct probe_vm vm;
	int status = probe_vm_open(kvm_fd, &vm);
	if (status < 0) {
		snprintf(probe->guest_runs_detail, sizeof(probe->guest_runs_detail),
			 "could not set up the probe VM: %s", strerror(-status));
		goto out;
	}
	fill_page(vm.page, PROBE_USERSPACE_BYTE);
	struct probe_vcpu vcpu = { .fd = -1 };
	/* 30 s, not 1: the answer gates whole runs, and a loaded emulator is
	 * slow (a healthy nested guest took over 5 s to start with both cores
	 * busy); only a KVM whose guests never run waits that long. */
	if (probe_run_guest(kvm_fd, vm.fd, &vcpu, 30, probe->guest_runs_detail,
			    sizeof(probe->guest_runs_detail)) == 0) {
		const struct kvm_run *run = vcpu.run;
		uint8_t value;
		probe->guest_runs = arch_probe_exit_value(run, &value);
		if (probe->guest_runs)
			snprintf(probe->guest_runs_detail, sizeof(probe->guest_runs_detail),
				 "a guest on plain memory reached its device write");
		else
			snprintf(probe->guest_runs_detail, sizeof(probe->guest_runs_detail),
				 "the probe guest ended with exit reason %u, not its device write",
				 run->exit_reason);
	}
	probe_guest_finish(&vcpu);
out:
	probe_vm_close(&vm);
}

void probe_set_guest_phys_bits(struct host_probe *probe, unsigned int bits)
{
	probe->guest_phys_bits = bits;
	probe->shared_bit = arch_shared_bit(bits);
	probe->probed |= PROBE_GUEST_PHYS_BITS;
}

void probe_host(int kvm_fd, struct host_probe *probe, unsigned int needs)
{
	memset(probe, 0, sizeof(*probe));
	probe->private_gmem_binds = -1;
	if (needs & PROBE_SET_ATTRIBUTES2)
		needs |= PROBE_PRIVATE_VM_TYPE; /* the VM type the call is asked on */
	probe->probed = needs & PROBE_ALL;
	kvm_read_caps(kvm_fd, &probe->caps);
	probe->in_place_parameter = read_in_place_parameter();
	probe->under_emulator = arch_under_emulator();
	if (needs & PROBE_GUEST_RUNS)
		probe_guest_runs(kvm_fd, probe);
	if (needs & PROBE_GMEM_SERVING)
		probe_gmem_serving(kvm_fd, probe);
	if (needs & PROBE_PRIVATE_VM_TYPE)
		probe_protected_vm(kvm_fd, probe, needs & PROBE_SET_ATTRIBUTES2);
	if (needs & PROBE_MAP_GPA_RANGE)
		arch_probe_conversion_call(kvm_fd, probe);
	if (needs & PROBE_PROTECTED)
		arch_probe_protected(kvm_fd, probe);
	if (needs & PROBE_GUEST_PHYS_BITS)
		probe_set_guest_phys_bits(probe, arch_guest_phys_bits(kvm_fd));
}

/*
 * Who reads which answer (docs/design.md, "What a run probes"):
 * - the serving: exits.c, to tell cannot-run where userspace_addr = null,
 *   and vm.c and report.c, to pick the outcome [expect] wants where it
 *   gives one per serving;
 * - the private VM type: vm.c, for the VM type and guest_memfd flags of a
 *   mode with a native path (NATIVE_VM_ATTRIBUTES takes its attributes,
 *   NATIVE_IN_PLACE the type itself);
 * - KVM_SET_MEMORY_ATTRIBUTES2: vm.c, for NATIVE_IN_PLACE;
 * - the hypercall exit and the physical-address bits (the shared-view
 *   bit): vm.c, the device tree and the features line, for CoCo modes.
 * The capabilities, kvm.gmem_in_place_conversion (coco-legacy's features
 * line) and the emulator check are read on every call.
 */
unsigned int probe_needs(const struct scenario *scenario)
{
	const struct mode_info *mode = mode_info(scenario->mode);
	if (!mode)
		return PROBE_ALL; /* vm.c refuses it; nothing is left out on a guess */
	unsigned int needs = 0;
	if (scenario->userspace_addr_null ||
	    scenario->expect_gmem_served != scenario->expect_uaddr_served)
		needs |= PROBE_GMEM_SERVING;
	if (mode->native_path != NATIVE_NONE)
		needs |= PROBE_PRIVATE_VM_TYPE;
	if (mode->native_path == NATIVE_IN_PLACE)
		needs |= PROBE_SET_ATTRIBUTES2;
	if (scenario->pkvm_upstream)
		needs |= PROBE_PROTECTED;
	if (mode->coco)
		needs |= PROBE_MAP_GPA_RANGE | PROBE_GUEST_PHYS_BITS;
	return needs;
}

void probe_host_for(int kvm_fd, struct host_probe *probe, const struct scenario *scenario)
{
	probe_host(kvm_fd, probe, probe_needs(scenario));
	const struct mode_info *mode = mode_info(scenario->mode);
	probe->not_needed_by = mode ? mode->name : NULL;
}

unsigned int probe_for_needs(unsigned int needs)
{
	unsigned int probes = 0;
	if (needs & NEED_PRIVATE_VM_TYPE)
		probes |= PROBE_PRIVATE_VM_TYPE;
	if (needs & NEED_SET_ATTRIBUTES2)
		probes |= PROBE_SET_ATTRIBUTES2;
	if (needs & NEED_GUESTS_RUN)
		probes |= PROBE_GUEST_RUNS;
	if ((needs & NEED_ALL) == NEED_ALL)
		probes |= PROBE_GMEM_SERVING; /* the host kind tells PVM from the rest */
	return probes;
}

/*
 * The needs in the order a kernel gains them, each with the sentence a user
 * gets (docs/hosts.md): the first one missing is the one to fix first.
 */
const char *probe_lacks(const struct host_probe *probe, unsigned int needs)
{
	const struct kvm_caps *caps = &probe->caps;
	uint64_t shared = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	if ((needs & NEED_GUESTS_RUN) && !probe->guest_runs)
		return "this host's KVM does not run guests: a throwaway guest never reached "
		       "its first exit (gmemvm probe shows why; use a host whose KVM runs "
		       "guests, or scripts/lab)";
	if ((needs & (NEED_GUEST_MEMFD | NEED_GMEM_MMAP | NEED_GMEM_MMAP_SHARED)) &&
	    !caps->guest_memfd)
		return "this kernel lacks KVM_CAP_GUEST_MEMFD: guest_memfd needs Linux 6.8 or "
		       "later with KVM (gmemvm probe shows what is there; scripts/lab runs "
		       "the scenarios on kernels that have it)";
	if ((needs & (NEED_GUEST_MEMFD | NEED_GMEM_MMAP | NEED_GMEM_MMAP_SHARED)) &&
	    !caps->user_memory2)
		return "this kernel lacks KVM_CAP_USER_MEMORY2: guest_memfd needs Linux 6.8 or "
		       "later with KVM (gmemvm probe shows what is there)";
	if ((needs & (NEED_GMEM_MMAP | NEED_GMEM_MMAP_SHARED)) &&
	    !(caps->guest_memfd_flags & GUEST_MEMFD_FLAG_MMAP))
		return "this kernel lacks GUEST_MEMFD_FLAG_MMAP (notes: SUPPORT_SHARED): a "
		       "guest_memfd the host can mmap needs Linux 6.18 or later";
	if ((needs & NEED_GMEM_MMAP_SHARED) && (caps->guest_memfd_flags & shared) != shared)
		return "this kernel lacks GUEST_MEMFD_FLAG_INIT_SHARED: the model of "
		       "shareability builds on a guest_memfd that starts shared (Linux 6.18 or "
		       "later)";
	if ((needs & NEED_PRIVATE_VM_TYPE) && !probe->private_vm_type)
		return "this kernel lacks a VM type with private memory attributes "
		       "(KVM_X86_SW_PROTECTED_VM with KVM_CAP_MEMORY_ATTRIBUTES; "
		       "CONFIG_KVM_SW_PROTECTED_VM, Linux 6.8 or later)";
	if ((needs & NEED_SET_ATTRIBUTES2) && !probe->set_attributes2)
		return "this kernel lacks KVM_SET_MEMORY_ATTRIBUTES2 on guest_memfd (in-place "
		       "conversion, kvm.gmem_in_place_conversion=1; not in a released kernel "
		       "yet)";
	return NULL;
}

enum host_kind probe_host_kind(const struct host_probe *probe)
{
	if (probe_lacks(probe, NEED_GUEST_MEMFD))
		return HOST_KIND_NO_GUEST_MEMFD;
	if ((probe->probed & PROBE_GUEST_RUNS) && !probe->guest_runs)
		return HOST_KIND_GUESTS_DO_NOT_RUN;
	if (probe_lacks(probe, NEED_GMEM_MMAP))
		return HOST_KIND_PRIVATE_ONLY;
	if (!(probe->probed & PROBE_GMEM_SERVING))
		return HOST_KIND_MMAP;
	switch (probe->serving) {
	case GMEM_SERVING_USERSPACE_ADDR:
		return HOST_KIND_SERVED_FROM_USERSPACE_ADDR;
	case GMEM_SERVING_GUEST_MEMFD:
		return HOST_KIND_SERVED_FROM_GUEST_MEMFD;
	default:
		return HOST_KIND_MMAP;
	}
}

const char *probe_host_kind_name(enum host_kind kind)
{
	static const char *const names[] = {
		[HOST_KIND_NO_GUEST_MEMFD] = "no-guest-memfd",
		[HOST_KIND_GUESTS_DO_NOT_RUN] = "guests-do-not-run",
		[HOST_KIND_PRIVATE_ONLY] = "private-only",
		[HOST_KIND_SERVED_FROM_USERSPACE_ADDR] = "served-from-userspace-addr",
		[HOST_KIND_SERVED_FROM_GUEST_MEMFD] = "served-from-guest-memfd",
		[HOST_KIND_MMAP] = "mmap",
	};
	return kind < sizeof(names) / sizeof(names[0]) && names[kind] ? names[kind] : "mmap";
}

const char *probe_host_kind_text(enum host_kind kind)
{
	switch (kind) {
	case HOST_KIND_NO_GUEST_MEMFD:
		return "KVM without guest_memfd (before Linux 6.8): no scenario can run; "
		       "scripts/lab runs them on kernels that have it";
	case HOST_KIND_GUESTS_DO_NOT_RUN:
		return "KVM whose guests never reach an exit: no scenario can run; scripts/lab "
		       "runs them under QEMU's emulator";
	case HOST_KIND_PRIVATE_ONLY:
		return "guest_memfd without mmap (Linux 6.8 to 6.17): use case (a) runs, the "
		       "modes that keep shared memory in guest_memfd need 6.18";
	case HOST_KIND_SERVED_FROM_USERSPACE_ADDR:
		return "guest_memfd with mmap, guest memory served from userspace_addr (e.g. "
		       "PVM's shadow paging): every mode runs";
	case HOST_KIND_SERVED_FROM_GUEST_MEMFD:
		return "guest_memfd with mmap, guest memory served from guest_memfd (Linux 6.18 "
		       "or later): every mode runs";
	case HOST_KIND_MMAP:
	default:
		return "guest_memfd with mmap (Linux 6.18 or later): every mode runs";
	}
}

const char *probe_serving_name(enum gmem_serving serving)
{
	switch (serving) {
	case GMEM_SERVING_GUEST_MEMFD:
		return "guest_memfd";
	case GMEM_SERVING_USERSPACE_ADDR:
		return "userspace_addr";
	default:
		return "unknown";
	}
}

struct probe_line {
	const char *name;
	bool native;
	bool skipped; /* its probe did not run: no answer, not an absence */
	char detail[200];
};

/* Capabilities are native or absent; the behavioural probe was measured or
 * not; a probe the run did not need was skipped. */
static const char *line_status(const struct probe_line *line)
{
	if (line->skipped)
		return "skipped";
	bool measured = strncmp(line->name, "gmem memslot", 12) == 0 ||
			strncmp(line->name, "guest physical", 14) == 0;
	if (measured)
		return line->native ? "probed" : "unknown";
	return line->native ? "native" : "absent";
}

__attribute__((format(printf, 5, 6))) static void add_line(struct probe_line *lines, int *count,
							   const char *name, bool native,
							   const char *format, ...)
{
	struct probe_line *line = &lines[(*count)++];
	line->name = name;
	line->native = native;
	line->skipped = false;
	va_list args;
	va_start(args, format);
	vsnprintf(line->detail, sizeof(line->detail), format, args);
	va_end(args);
}

/* The line just added answers probe kind: if that did not run, say so
 * instead of presenting the zero default as a finding. */
static void unless_probed(const struct host_probe *probe, struct probe_line *lines, int count,
			  unsigned int kind, const char *why)
{
	struct probe_line *line = &lines[count - 1];
	if (probe->probed & kind)
		return;
	line->skipped = true;
	line->native = false;
	if (probe->not_needed_by)
		snprintf(line->detail, sizeof(line->detail), "not probed (not needed by mode %s%s)",
			 probe->not_needed_by, why);
	else
		snprintf(line->detail, sizeof(line->detail), "not probed");
}

static int probe_lines(const struct host_probe *probe, struct probe_line *lines)
{
	const struct kvm_caps *caps = &probe->caps;
	uint64_t flags = caps->guest_memfd_flags;
	int n = 0;
	add_line(lines, &n, "KVM API", caps->api_version == KVM_EXPECTED_API_VERSION, "version %d",
		 caps->api_version);
	add_line(lines, &n, "guest runs", probe->guest_runs, "%s", probe->guest_runs_detail);
	unless_probed(probe, lines, n, PROBE_GUEST_RUNS, "");
	add_line(lines, &n, "KVM_CAP_USER_MEMORY2", caps->user_memory2,
		 "KVM_SET_USER_MEMORY_REGION2");
	add_line(lines, &n, "KVM_CAP_GUEST_MEMFD", caps->guest_memfd, "KVM_CREATE_GUEST_MEMFD");
	add_line(lines, &n, "KVM_CAP_GUEST_MEMFD_FLAGS", caps->guest_memfd_flags_cap,
		 "%#" PRIx64 ": MMAP (notes: SUPPORT_SHARED) %s, INIT_SHARED (notes: without "
		 "INIT_PRIVATE) %s, NO_DIRECT_MAP %s",
		 flags, flags & GUEST_MEMFD_FLAG_MMAP ? "yes" : "no",
		 flags & GUEST_MEMFD_FLAG_INIT_SHARED ? "yes" : "no",
		 flags & GUEST_MEMFD_FLAG_NO_DIRECT_MAP ? "yes" : "no");
	add_line(lines, &n, "KVM_CAP_MEMORY_ATTRIBUTES", caps->memory_attributes != 0,
		 "%#" PRIx64 "%s", caps->memory_attributes,
		 caps->memory_attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE
			 ? " (PRIVATE)"
			 : " (no private memory attributes)");
	add_line(lines, &n, "KVM_CAP_VM_TYPES", caps->vm_types != 0, "%#" PRIx64 "%s",
		 caps->vm_types,
		 caps->vm_types & ~1ULL ? " (confidential VM types present)"
					: " (default VM only; no CoCo VM types)");
	add_line(lines, &n, "KVM_CAP_MEMORY_FAULT_INFO", caps->memory_fault_info,
		 "KVM_EXIT_MEMORY_FAULT carries gpa, size, flags");
	add_line(lines, &n, "KVM_CAP_NR_MEMSLOTS", caps->nr_memslots > 0, "%d memslots",
		 caps->nr_memslots);
	add_line(lines, &n, "KVM_SET_MEMORY_ATTRIBUTES2", probe->set_attributes2,
		 "on the guest_memfd, in-place conversion (notes: CONVERT_SHARED/CONVERT_PRIVATE): "
		 "%s%s",
		 probe->attributes2_detail, probe->set_attributes2 ? "" : "; gmemvm models it");
	unless_probed(probe, lines, n, PROBE_SET_ATTRIBUTES2, "");
	add_line(lines, &n, "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES", probe->gmem_attributes != 0,
		 "%#" PRIx64 " by behaviour (the capability's number is not final upstream)",
		 probe->gmem_attributes);
	unless_probed(probe, lines, n, PROBE_SET_ATTRIBUTES2, "");
	add_line(lines, &n, "kvm.gmem_in_place_conversion", probe->in_place_parameter == 1, "%s",
		 probe->in_place_parameter < 0	 ? "no such module parameter"
		 : probe->in_place_parameter > 0 ? "Y: attributes live on the guest_memfd; the "
						   "VM-wide KVM_CAP_MEMORY_ATTRIBUTES reports 0"
						 : "N");
	static char call_exit[48]; /* the lines keep their names by reference */
	snprintf(call_exit, sizeof(call_exit), "%s exit", arch_conversion_call_name);
	add_line(lines, &n, call_exit, probe->map_gpa_range_exits,
		 "KVM_CAP_EXIT_HYPERCALL %#" PRIx64 "; %s; guest conversion requests use %s",
		 probe->caps.exit_hypercall, probe->map_gpa_range_detail,
		 probe->map_gpa_range_exits ? "the hypercall" : "the port");
	unless_probed(probe, lines, n, PROBE_MAP_GPA_RANGE, "");
	if (probe->private_vm_type)
		add_line(lines, &n, "private memory (VM type)", true,
			 "KVM_X86_SW_PROTECTED_VM (%lu): attributes %#" PRIx64
			 ", guest_memfd flags %#" PRIx64 "; use case (a) runs natively on it",
			 probe->private_vm_type, probe->private_vm_attributes,
			 probe->private_vm_gmem_flags);
	else
		add_line(lines, &n, "private memory (VM type)", false,
			 "no VM type with private memory attributes; gmemvm models them");
	unless_probed(probe, lines, n, PROBE_PRIVATE_VM_TYPE, "");
	if (probe->private_gmem_binds >= 0)
		add_line(lines, &n, "private-only gmem memslot", probe->private_gmem_binds,
			 "a guest_memfd without GUEST_MEMFD_FLAG_MMAP in a memslot of an ordinary "
			 "VM: %s",
			 probe->private_gmem_detail);
	if (probe->under_emulator)
		add_line(lines, &n, "host CPU", true, "%s", arch_emulator_words);
	add_line(lines, &n, "guest physical address bits", probe->guest_phys_bits > 0,
		 "%u; shared-view bit for CoCo modes: %u", probe->guest_phys_bits,
		 probe->shared_bit);
	unless_probed(probe, lines, n, PROBE_GUEST_PHYS_BITS, "");
	add_line(lines, &n, "gmem memslot served from", probe->serving != GMEM_SERVING_UNKNOWN,
		 "%s (%s)", probe_serving_name(probe->serving), probe->serving_detail);
	unless_probed(probe, lines, n, PROBE_GMEM_SERVING,
		      ": the scenario neither binds userspace_addr = null nor expects an "
		      "outcome per serving");
	const struct protected_probe *pkvm = &probe->protected_vm;
	if (pkvm->asked && pkvm->accepted) {
		add_line(lines, &n, "protected VM type (pKVM)", true, "%s", pkvm->type);
		add_line(lines, &n, "pKVM granule (HYP_MEMINFO)", pkvm->granule != 0, "%s",
			 pkvm->granule_detail);
		add_line(lines, &n, "pKVM host access, donated page", pkvm->host_faults, "%s",
			 pkvm->host_access);
		add_line(lines, &n, "pKVM system call, donated page", pkvm->system_call_fails, "%s",
			 pkvm->system_call);
		add_line(lines, &n, "pKVM protected VM on guest_memfd", false, "%s",
			 pkvm->guest_memfd);
	} else if (pkvm->asked) {
		add_line(lines, &n, "protected VM type (pKVM)", false, "%s", pkvm->type);
	}

	return n;
}

void probe_print_table(FILE *out, const struct host_probe *probe)
{
	struct probe_line lines[PROBE_MAX_LINES];
	int n = probe_lines(probe, lines);
	fprintf(out, "%-38s %-7s %s\n", "feature", "status", "detail");
	for (int i = 0; i < n; i++)
		fprintf(out, "%-38s %-7s %s\n", lines[i].name, line_status(&lines[i]),
			lines[i].detail);
	/* The kind is a verdict over every probe: said only when all ran. */
	if ((probe->probed & PROBE_ALL) == PROBE_ALL)
		fprintf(out, "host kind: %s: %s\n", probe_host_kind_name(probe_host_kind(probe)),
			probe_host_kind_text(probe_host_kind(probe)));
}

void probe_print_json(FILE *out, const struct host_probe *probe)
{
	struct probe_line lines[PROBE_MAX_LINES];
	int n = probe_lines(probe, lines);
	fprintf(out, "{\"features\": [");
	for (int i = 0; i < n; i++) {
		fprintf(out, "%s{\"name\": ", i ? ", " : "");
		json_print_string(out, lines[i].name);
		fprintf(out, ", \"status\": \"%s\", \"detail\": ", line_status(&lines[i]));
		json_print_string(out, lines[i].detail);
		fputc('}', out);
	}
	fprintf(out, "], \"gmem_served_from\": \"%s\", \"guest_memfd_flags\": %" PRIu64,
		probe->probed & PROBE_GMEM_SERVING ? probe_serving_name(probe->serving)
						   : "not probed",
		probe->caps.guest_memfd_flags);
	if ((probe->probed & PROBE_ALL) == PROBE_ALL)
		fprintf(out, ", \"host_kind\": \"%s\"",
			probe_host_kind_name(probe_host_kind(probe)));
	fputc('}', out);
}
