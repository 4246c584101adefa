// SPDX-License-Identifier: MIT
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libfdt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "checks.h"
#include "console.h"
#include "conversion.h"
#include "devtree.h"
#include "elf_loader.h"
#include "gmem.h"
#include "gmemvm_abi.h"
#include "host_access.h"
#include "hypercall.h"
#include "installed.h"
#include "iotrap.h"
#include "kvm.h"
#include "memmap.h"
#include "memmap_picture.h"
#include "mode.h"
#include "probe.h"
#include "procfs.h"
#include "report.h"
#include "sandbox.h"
#include "testdev.h"
#include "timeline.h"
#include "trace.h"
#include "vcpu.h"
#include "vocabulary.h"

/* Everything one run owns, released by vm_destroy in reverse order. */
struct vm {
	const struct scenario *scenario;
	int kvm_fd, vm_fd;
	struct host_probe host;
	struct timespec probed; /* when the probe had answered (start-up phases) */
	struct arch_cpu *cpu;	/* what every vCPU is created from (arch/arch.h) */
	struct gmem gmem;
	struct memmap memory;
	struct iotrap_registry traps;
	struct console console;
	struct testdev testdev;
	struct hypercall_device hypercalls;
	struct conversion_policy conversions;
	struct vcpu_set vcpus;
	uint8_t *guest_file;
	size_t guest_file_size;
	struct elf_image guest;
	uint8_t devtree[GMEMVM_FDT_MAX_SIZE];
	FILE *trace;		       /* --trace, bounded (trace.h); NULL when off */
	unsigned int trace_categories; /* what --trace=LIST prints (TRACE_*) */
	struct timeline *timeline;     /* --timeline (timeline.h); NULL when off */
	/* --memmap (memmap_picture.h): the map before the first vCPU runs, and
	 * after the first conversion (the policy fills that one); NULL when off */
	struct memmap_snapshot *memmap_pictures;
	bool refused;				/* a rule of the design notes refused the set-up */
	char refusal[REPORT_MESSAGE_SIZE - 32]; /* leaves room for "set-up refused: " */
};

static double between_ms(const struct timespec *since, const struct timespec *until)
{
	return (double)(until->tv_sec - since->tv_sec) * 1e3 +
	       (double)(until->tv_nsec - since->tv_nsec) / 1e6;
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return between_ms(since, &now);
}

/* Start-up times (docs/performance.md): vCPU 0's entry port write, and the end of the
 * last vCPU whose guest code ran at all. */
static void record_guest_times(const struct vm *vm, const struct timespec *process_start,
			       struct run_report *report)
{
	const struct timespec *entered = vm->testdev.entered;
	report->guest_entry_ms = -1;
	report->guest_status_ms = -1;
	report->probed_ms = vm->probed.tv_sec ? between_ms(process_start, &vm->probed) : -1;
	const struct vcpu *first = vm->vcpus.count ? &vm->vcpus.vcpus[0] : NULL;
	report->vcpu_thread_ms = first && first->thread_started.tv_sec
					 ? between_ms(process_start, &first->thread_started)
					 : -1;
	report->sandboxed_ms = first && first->sandboxed.tv_sec
				       ? between_ms(process_start, &first->sandboxed)
				       : -1;
	if (vm->vcpus.count == 0 || entered[0].tv_sec == 0)
		return;
	report->guest_entry_ms = between_ms(process_start, &entered[0]);
	for (int i = 0; i < vm->vcpus.count; i++) {
		if (entered[i].tv_sec == 0)
			continue;
		double status = between_ms(process_start, &vm->vcpus.vcpus[i].stopped);
		if (status > report->guest_status_ms)
			report->guest_status_ms = status;
	}
}

/*
 * The guest to boot: the scenario's [vm] guest; else $GMEMVM_GUEST; else the
 * guest installed with this program, GMEMVM_GUEST_FROM_BINDIR (vmm/meson.build:
 * relative to the executable's directory, so an installed tree can move, or
 * absolute), if it exists; else the one built with it. Called before any
 * seccomp filter is installed (readlink, access).
 */
static const char *guest_path(const struct scenario *scenario)
{
	if (scenario->guest_path[0])
		return scenario->guest_path;
	const char *from_environment = getenv("GMEMVM_GUEST");
	if (from_environment && from_environment[0])
		return from_environment;
	static char installed[4096 + sizeof(GMEMVM_GUEST_FROM_BINDIR)];
	if (installed_path(GMEMVM_GUEST_FROM_BINDIR, false, installed, sizeof(installed)))
		return installed;
	return GMEMVM_DEFAULT_GUEST;
}

/* Step 1: everything about the guest that can be refused without KVM. */
static enum gmemvm_status prepare_guest(struct vm *vm, struct gmemvm_error *error)
{
	const char *path = guest_path(vm->scenario);
	if (elf_read_file(path, &vm->guest_file, &vm->guest_file_size, error) < 0)
		return GMEMVM_STATUS_BAD_INPUT;
	if (elf_parse(vm->guest_file, vm->guest_file_size, GMEMVM_IMAGE_GPA, GMEMVM_SHARED_AREA_GPA,
		      &vm->guest, error) < 0) {
		/* The reason first, so a long path cannot push it out. */
		char why[sizeof(error->message)];
		snprintf(why, sizeof(why), "%s", error->message);
		gmemvm_error_message(error, "%s (guest %.400s)", why, path);
		return GMEMVM_STATUS_BAD_INPUT;
	}
	return GMEMVM_STATUS_MATCHED;
}

/* The kernel features no mode can run without. */
static int check_host(const struct vm *vm, struct gmemvm_error *error)
{
	const char *lacks = probe_lacks(&vm->host, NEED_GUEST_MEMFD);
	if (lacks)
		return gmemvm_failf(error, -EOPNOTSUPP, "KVM_CHECK_EXTENSION", "%s", lacks);
	return 0;
}

/* A set-up step failed: a feature the host lacks (-EOPNOTSUPP, or no
 * /dev/kvm at all) is GMEMVM_STATUS_UNSUPPORTED, anything else a failure. */
static enum gmemvm_status host_failure(const struct gmemvm_error *error)
{
	bool no_kvm = error->code == -ENOENT &&
		      strcmp(gmemvm_error_step(error), "open of " KVM_DEVICE_PATH) == 0;
	return error->code == -EOPNOTSUPP || no_kvm ? GMEMVM_STATUS_UNSUPPORTED
						    : GMEMVM_STATUS_HOST;
}

/* Which guest_memfd features served this run, and which the model stood in for. */
static void record_features(const struct vm *vm, struct run_report *report)
{
	const struct scenario *scenario = vm->scenario;
	const struct mode_info *mode = mode_info(scenario->mode);
	bool separate_shared = !mode->shared_in_gmem; /* use case (a): a memfd beside */
	bool native_attributes = vm->memory.native_attributes;
	bool native_conversion = !vm->gmem.model;
	if (scenario->pkvm_upstream) {
		/* Upstream's pKVM: everything here is the kernel's; no guest_memfd. */
		report_add_feature(report, "protected VM (KVM_VM_TYPE_ARM_PROTECTED, pKVM)", true);
		report_add_feature(
			report,
			scenario->pkvm_on_guest_memfd
				? "guest memory: a guest_memfd memslot (MMAP, INIT_SHARED: "
				  "the notes' design on upstream's VM type)"
				: "guest memory: the VMM's anonymous memory, donated at the "
				  "guest's first access (no guest_memfd)",
			true);
		report_add_feature(
			report,
			"conversions: MEM_SHARE / MEM_UNSHARE in the hypervisor, no exit "
			"to the VMM",
			true);
		report_add_feature(report, "host access to private memory faults (SIGSEGV)", true);
		report_add_feature(report, arch_exit_words, true);
		return;
	}
	report_add_feature(report, "guest_memfd", true);
	report_add_feature(report, "KVM_SET_USER_MEMORY_REGION2", true);
	if (vm->gmem.support_shared)
		report_add_feature(report, "mmap (GUEST_MEMFD_FLAG_MMAP; notes: SUPPORT_SHARED)",
				   true);
	if (vm->gmem.support_shared && !vm->gmem.init_private)
		report_add_feature(report, "shared by default (GUEST_MEMFD_FLAG_INIT_SHARED)",
				   true);
	if (vm->gmem.init_private)
		report_add_feature(report,
				   "private by default (no INIT_SHARED; notes: INIT_PRIVATE)",
				   native_conversion);
	/* A mode that boots from private memory converts at launch; mode shared
	 * only when the guest asks: say so only then. */
	bool converted = report->conversions.by_hypercall || report->conversions.by_fault;
	if (mode->shared_in_gmem && (mode->boots_private || converted)) {
		if (vm->gmem.support_shared)
			report_add_feature(report,
					   "in-place conversion: KVM_SET_MEMORY_ATTRIBUTES2 on the "
					   "guest_memfd (notes: CONVERT_SHARED/CONVERT_PRIVATE)",
					   native_conversion);
		if (vm->gmem.support_shared && vm->gmem.model)
			report_add_feature(
				report,
				"host SIGBUS on private pages (kernel, via a never-shared "
				"guest_memfd)",
				true);
	}
	if (separate_shared) {
		report_add_feature(report,
				   native_attributes
					   ? "private memory (KVM_X86_SW_PROTECTED_VM)"
					   : "private memory (no VM type has it; modelled)",
				   native_attributes);
		/* Which attribute call, and why: with in-place conversion on, the
		 * VM-wide one reports 0 and the attributes live on the guest_memfd. */
		report_add_feature(
			report,
			vm->host.in_place_parameter == 1
				? "VM-wide KVM_SET_MEMORY_ATTRIBUTES (modelled: "
				  "kvm.gmem_in_place_conversion=1 moved the attributes "
				  "to the guest_memfd)"
				: "VM-wide KVM_SET_MEMORY_ATTRIBUTES (use case (a) keeps "
				  "shared memory outside the guest_memfd)",
			native_attributes);
	}
	/* Static: the report keeps the names by reference; one run per process. */
	static char conversion_call[96], conversion_port[112];
	snprintf(conversion_call, sizeof(conversion_call), "guest requests: %s (%s)",
		 arch_conversion_call_name, arch_conversion_call_exit);
	snprintf(conversion_port, sizeof(conversion_port),
		 "guest requests: the port (%s does not reach the VMM on this kernel)",
		 arch_conversion_call_name);
	if (mode->coco)
		report_add_feature(report,
				   vm->host.map_gpa_range_exits ? conversion_call : conversion_port,
				   vm->host.map_gpa_range_exits);
	/* Upstream's protected VMs (arm64) share and unshare anonymous memory
	 * inside the hypervisor; mode pkvm shows the notes' design instead. */
	if (mode->notes_design)
		report_add_feature(report, mode->notes_design, false);
	if (scenario->no_direct_map)
		report_add_feature(report, "GUEST_MEMFD_FLAG_NO_DIRECT_MAP", true);
	if (mode->coco) {
		report_add_feature(
			report, "private/shared views (shared GPA bit, memslots per view)", true);
		report_add_feature(report,
				   native_attributes
					   ? "KVM_EXIT_MEMORY_FAULT on a view mismatch"
					   : "memory fault on a view mismatch (from KVM_EXIT_MMIO)",
				   native_attributes);
	}
	if (separate_shared && !native_attributes && !vm->gmem.support_shared)
		report_add_feature(report,
				   "private contents of an unmappable guest_memfd (memfd "
				   "stand-in)",
				   false);
	report_add_feature(report, arch_exit_words, true);
}

/* Build the boot state in the VMM, then load it into guest RAM the way the
 * mode allows: CoCo VMs get it in private memory, as a CoCo VMM loads an
 * initial image, and everything else through the host's view. */
static void load_boot_image(struct vm *vm, unsigned int shared_bit)
{
	uint8_t *low = calloc(1, ARCH_BOOT_TABLES_SIZE);
	uint8_t *window = calloc(1, GMEMVM_SHARED_AREA_GPA - GMEMVM_IMAGE_GPA);
	if (!low || !window)
		abort(); /* a few hundred KiB at start-up: nothing sensible to do */
	arch_write_boot_tables(low, vm->scenario->vcpus, shared_bit);
	elf_copy(&vm->guest, vm->guest_file, window, GMEMVM_IMAGE_GPA);
	/* Only what holds data: a new guest_memfd reads as zeroes already, and
	 * every page written here is a page the host must fault in (docs/performance.md). */
	uint64_t image_size = elf_image_end(&vm->guest) - GMEMVM_IMAGE_GPA;
	memmap_populate(&vm->memory, 0, low, ARCH_BOOT_TABLES_SIZE);
	memmap_populate(&vm->memory, GMEMVM_FDT_GPA, vm->devtree, fdt_totalsize(vm->devtree));
	memmap_populate(&vm->memory, GMEMVM_IMAGE_GPA, window, image_size);
	free(low);
	free(window);
}

/* CoCo and pKVM guests run from private memory and talk to the VMM through
 * the shared area; these launch-time conversions are not counted as the
 * guest's. */
static int set_boot_shareability(struct vm *vm, struct gmemvm_error *error)
{
	if (!mode_info(vm->scenario->mode)->boots_private)
		return 0;
	int status = memmap_convert(&vm->memory, 0, GMEMVM_SHARED_AREA_GPA, true, NULL, NULL, NULL);
	if (status == 0)
		status = memmap_convert(&vm->memory, GMEMVM_SHARED_AREA_GPA,
					GMEMVM_SHARED_AREA_SIZE, false, NULL, NULL, NULL);
	if (status < 0)
		return gmemvm_failf(error, status, "converting the boot area",
				    "converting the boot area failed: %s", strerror(-status));
	return 0;
}

static enum gmemvm_status create_vcpus(struct vm *vm, struct gmemvm_error *error);
static enum gmemvm_status create_protected_memory(struct vm *vm, struct gmemvm_error *error);

static enum gmemvm_status create_machine(struct vm *vm, struct gmemvm_error *error)
{
	const struct scenario *scenario = vm->scenario;
	vm->kvm_fd = kvm_open(error);
	if (vm->kvm_fd < 0)
		return host_failure(error);
	probe_host_for(vm->kvm_fd, &vm->host, scenario);
	clock_gettime(CLOCK_MONOTONIC, &vm->probed);
	if (check_host(vm, error) < 0)
		return host_failure(error);

	const struct mode_info *mode = mode_info(scenario->mode);
	if (!mode) {
		gmemvm_refuse(error, -EINVAL, "mode %d is not one of the four",
			      (int)scenario->mode);
		return GMEMVM_STATUS_BAD_INPUT;
	}
	/* Use case (c) as upstream has it: a protected VM of arm64's pKVM, which
	 * nothing can stand in for (the model keeps the notes' design). */
	bool upstream_pkvm = scenario->pkvm_upstream;
	if (upstream_pkvm && !vm->host.protected_vm.accepted) {
		gmemvm_failf(
			error, -EOPNOTSUPP, "KVM_CREATE_VM",
			"this kernel lacks upstream's protected VMs: %s",
			vm->host.protected_vm.asked
				? vm->host.protected_vm.type
				: "only arm64's pKVM has them (kvm-arm.mode=protected; scripts/lab "
				  "boots one)");
		return host_failure(error);
	}
	bool coco = mode->coco;
	unsigned int shared_bit = coco ? vm->host.shared_bit : 0;
	if (coco && !shared_bit) {
		gmemvm_failf(error, -EOPNOTSUPP, "the guest's physical address bits",
			     "the guest has %u physical address bits: too few for a shared-view "
			     "bit on %s",
			     vm->host.guest_phys_bits, arch_name);
		return host_failure(error);
	}
	/* The devices, before the device tree: each gives its own node. */
	int status = console_register(&vm->console, &vm->traps);
	if (status == 0)
		status = hypercall_register(&vm->hypercalls, &vm->traps);
	if (status == 0)
		status = testdev_register(&vm->testdev, &vm->traps);
	if (status < 0) {
		gmemvm_failf(error, status, "registering the devices",
			     "device ranges overlap (a bug in gmemvm)");
		return host_failure(error);
	}
	/* CoCo guests ask for conversions the way x86 CoCo guests do, where the
	 * hypercall reaches the VMM; elsewhere through the port. */
	struct devtree_host guest_needs = {
		.shared_bit = shared_bit,
		.exit_fence = vm->host.under_emulator,
		/* pKVM's guest calls MEM_SHARE itself; its hypervisor answers. */
		.map_gpa_range = (coco && vm->host.map_gpa_range_exits) || upstream_pkvm,
		.protected_vm = upstream_pkvm,
		.devices = &vm->traps,
	};
	if (devtree_build_for_host(vm->devtree, sizeof(vm->devtree), scenario, &guest_needs,
				   error) < 0)
		return GMEMVM_STATUS_BAD_INPUT;

	/* Use case (a) runs on a VM type with VM-wide private memory attributes
	 * where the kernel has one; the in-place modes on one whose guest_memfd
	 * takes KVM_SET_MEMORY_ATTRIBUTES2 (docs/design.md, "Native or modelled"). */
	bool native_private = mode->native_path == NATIVE_VM_ATTRIBUTES && vm->host.private_vm_type;
	bool native_in_place = mode->native_path == NATIVE_IN_PLACE &&
			       (vm->host.gmem_attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE);
	unsigned long type = upstream_pkvm     ? arch_protected_vm_type
			     : native_private  ? vm->host.private_vm_type
			     : native_in_place ? vm->host.protected_vm_type
					       : 0;
	int vm_fd = kvm_create_vm(vm->kvm_fd, type);
	if (vm_fd < 0) {
		gmemvm_failf(error, vm_fd, "KVM_CREATE_VM", "KVM_CREATE_VM(type %lu) failed: %s",
			     type, strerror(-vm_fd));
		return host_failure(error);
	}
	vm->vm_fd = vm_fd;
	/* The conversion call's exit (x86: KVM_CAP_EXIT_HYPERCALL; arm64: the
	 * SMCCC filter), where the guest converts with it. */
	if (arch_vm_init(vm->vm_fd, guest_needs.map_gpa_range && !upstream_pkvm, error) < 0)
		return host_failure(error);
	if (conversion_check_stage(scenario, error) < 0) {
		/* The notes' rules refuse the binding: nothing runs. */
		vm->refused = true;
		snprintf(vm->refusal, sizeof(vm->refusal), "%.*s", (int)sizeof(vm->refusal) - 1,
			 error->message);
		return GMEMVM_STATUS_MATCHED;
	}
	if (upstream_pkvm)
		return create_protected_memory(vm, error);
	/* Use case (a) keeps its state in memory attributes, not in the
	 * guest_memfd: natively its file is exactly what the kernel makes. */
	bool model = !native_private && !native_in_place;
	/* The model binds the private-only guest_memfd to an ordinary VM, which
	 * some kernels refuse (arm64 before its CoCo support: the probe asked). */
	if (model && !scenario->support_shared && vm->host.private_gmem_binds == 0) {
		gmemvm_failf(error, -EOPNOTSUPP, "KVM_SET_USER_MEMORY_REGION2",
			     "this kernel lacks memslots for a guest_memfd without "
			     "GUEST_MEMFD_FLAG_MMAP on an ordinary VM (%s: %s) and a VM type "
			     "with private memory: a private-only guest_memfd cannot back this "
			     "guest",
			     arch_name, vm->host.private_gmem_detail);
		return host_failure(error);
	}
	/* A VM type may offer fewer flags than KVM as a whole: ask this VM. */
	uint64_t supported =
		native_private ? vm->host.private_vm_gmem_flags
		: native_in_place
			? (uint64_t)kvm_check_extension(vm->vm_fd, GMEMVM_KVM_CAP_GUEST_MEMFD_FLAGS)
			: vm->host.caps.guest_memfd_flags;
	uint64_t extra_flags = scenario->no_direct_map ? GUEST_MEMFD_FLAG_NO_DIRECT_MAP : 0;
	if (gmem_create_with_flags(&vm->gmem, vm->vm_fd, scenario->memory_size,
				   scenario->support_shared, scenario->init_private, extra_flags,
				   supported, model, error) < 0)
		return host_failure(error);
	if (memmap_setup(&vm->memory, scenario, &vm->gmem, vm->vm_fd, shared_bit, native_private,
			 (uint32_t)vm->host.caps.nr_memslots, error) < 0) {
		if (error->refused) {
			/* Not an error of gmemvm's: the outcome the scenario may expect. */
			vm->refused = true;
			snprintf(vm->refusal, sizeof(vm->refusal), "%.*s",
				 (int)sizeof(vm->refusal) - 1, error->message);
			return GMEMVM_STATUS_MATCHED;
		}
		return host_failure(error);
	}

	load_boot_image(vm, shared_bit);
	if (set_boot_shareability(vm, error) < 0)
		return host_failure(error);
	return create_vcpus(vm, error);
}

/* The vCPUs, and what each one's exits need. */
static enum gmemvm_status create_vcpus(struct vm *vm, struct gmemvm_error *error)
{
	const struct scenario *scenario = vm->scenario;
	if (arch_cpu_read(vm->kvm_fd, vm->vm_fd, &vm->cpu, error) < 0)
		return host_failure(error);
	for (int i = 0; i < scenario->vcpus; i++) {
		int status = vcpu_create(&vm->vcpus, vm->kvm_fd, vm->vm_fd, vm->cpu,
					 vm->guest.entry, error);
		if (status < 0)
			return host_failure(error);
		struct exit_context *context = &vm->vcpus.vcpus[i].exits;
		context->vcpu = i;
		context->traps = &vm->traps;
		context->ram_size = scenario->memory_size;
		context->userspace_addr_null = scenario->userspace_addr_null;
		context->gmem_served = vm->host.serving == GMEM_SERVING_GUEST_MEMFD;
		context->trace = vm->trace_categories & TRACE_EXITS ? vm->trace : NULL;
		context->trace_faults = vm->trace_categories & TRACE_FAULTS ? vm->trace : NULL;
		context->trace_hypercalls =
			vm->trace_categories & TRACE_HYPERCALLS ? vm->trace : NULL;
		context->memory = &vm->memory;
		context->conversions = &vm->conversions;
	}
	arch_cpu_free(vm->cpu); /* now, before the sandbox */
	vm->cpu = NULL;
	return GMEMVM_STATUS_MATCHED;
}

/* Upstream pKVM's memory: the VMM's anonymous memory in one plain memslot,
 * no guest_memfd; pages donated to the guest count against RLIMIT_MEMLOCK
 * (pkvm.rst), raised here or refused naming the limit. */
static enum gmemvm_status create_protected_memory(struct vm *vm, struct gmemvm_error *error)
{
	const struct scenario *scenario = vm->scenario;
	struct rlimit limit, raised;
	if (getrlimit(RLIMIT_MEMLOCK, &limit) == 0 &&
	    memmap_protected_memlock(scenario->memory_size, &limit, &raised) &&
	    setrlimit(RLIMIT_MEMLOCK, &raised) < 0) {
		gmemvm_failf(error, -EOPNOTSUPP, "setrlimit(RLIMIT_MEMLOCK)",
			     "RLIMIT_MEMLOCK (pkvm.rst: RLIMIT_MLOCK) is %llu bytes and cannot be "
			     "raised to the guest's %llu (%s): pKVM counts donated pages against "
			     "it; raise it (ulimit -l) or run as root",
			     (unsigned long long)limit.rlim_cur,
			     (unsigned long long)scenario->memory_size, strerror(errno));
		return host_failure(error);
	}
	/* The notes' design on upstream's VM type: a guest_memfd memslot. */
	uint64_t flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	if (scenario->pkvm_on_guest_memfd &&
	    gmem_create_with_flags(&vm->gmem, vm->vm_fd, scenario->memory_size, true, false, 0,
				   vm->host.caps.guest_memfd_flags & flags, false, error) < 0)
		return host_failure(error);
	if (memmap_setup_protected(&vm->memory, scenario,
				   scenario->pkvm_on_guest_memfd ? &vm->gmem : NULL, vm->vm_fd,
				   (uint32_t)vm->host.caps.nr_memslots, error) < 0)
		return host_failure(error);
	load_boot_image(vm, 0);
	/* Every copy of guest memory may meet the hypervisor's SIGSEGV. */
	int status = host_access_init();
	if (status < 0) {
		gmemvm_failf(error, status, "sigaction", "the host-access catcher failed: %s",
			     strerror(-status));
		return host_failure(error);
	}
	return create_vcpus(vm, error);
}

/* The guest says why a step failed on its console ("vcpu 1: step 3 verify
 * ..."): the last such line goes on the summary, --quiet included. */
static void add_guest_reason(const struct console *console, struct run_report *report)
{
	const char *reason = NULL;
	for (const char *line = console->transcript; line && *line;) {
		const char *end = strchr(line, '\n');
		if (strncmp(line, "vcpu ", 5) == 0 && strstr(line, ": step ") &&
		    (!end || strstr(line, ": step ") < end) &&
		    (!end || memmem(line, (size_t)(end - line), " ok", 3) == NULL))
			reason = line;
		line = end ? end + 1 : NULL;
	}
	if (!reason)
		return;
	size_t used = strlen(report->message);
	int length = (int)strcspn(reason, "\n");
	if (used + 3 < sizeof(report->message))
		snprintf(report->message + used, sizeof(report->message) - used, " (%.*s)", length,
			 reason);
}

/* The run's outcome: done only if every vCPU finished; else the first vCPU
 * that ended for a reason of its own (others were only stopped). */
static void collect_outcome(const struct vm *vm, struct run_report *report)
{
	report->outcome = OUTCOME_DONE;
	snprintf(report->message, sizeof(report->message), "all %d vCPUs completed their steps",
		 vm->vcpus.count);
	for (int i = 0; i < vm->vcpus.count; i++) {
		const struct exit_context *context = &vm->vcpus.vcpus[i].exits;
		for (int kind = 0; kind < EXIT_KIND_COUNT; kind++)
			report->exits[kind] += context->exits[kind];
		report->unhandled_pio += context->unhandled_pio;
		report->unhandled_mmio += context->unhandled_mmio;
	}
	/* The port's own count: a subset of the io exits above. */
	report->exits[EXIT_KIND_HYPERCALL] = vm->hypercalls.stats.port_writes;
	for (int i = 0; i < vm->vcpus.count; i++) {
		const struct exit_context *context = &vm->vcpus.vcpus[i].exits;
		if (context->outcome != OUTCOME_DONE && context->outcome != OUTCOME_NONE) {
			report->outcome = context->outcome;
			snprintf(report->message, sizeof(report->message), "%s", context->message);
			return;
		}
	}
	for (int i = 0; i < vm->vcpus.count; i++) {
		if (vm->vcpus.vcpus[i].exits.outcome == OUTCOME_NONE) {
			report->outcome = OUTCOME_VMM_ERROR;
			snprintf(report->message, sizeof(report->message),
				 "vCPU %d stopped without a cause", i);
			return;
		}
	}
}

/* --timeline: the state of every page of RAM as the memory map has it now,
 * as the run begins (before any vCPU runs) or after it ended. */
static void snapshot_shareability(struct vm *vm, bool final)
{
	uint64_t pages = vm->memory.ram_size / GMEM_PAGE_SIZE;
	char *states = vm->refused || pages == 0 ? NULL : malloc(pages + 1);
	if (!states)
		return; /* nothing ran, or no memory: the picture starts all shared */
	memmap_render(&vm->memory, 0, vm->memory.ram_size, states, pages);
	for (uint64_t page = 0, end; page < pages; page = end) {
		for (end = page + 1; end < pages && states[end] == states[page]; end++)
			;
		uint64_t gpa = page * GMEM_PAGE_SIZE, size = (end - page) * GMEM_PAGE_SIZE;
		if (final)
			timeline_set_final(vm->timeline, gpa, size, states[page] == 'P');
		else
			timeline_set_initial(vm->timeline, gpa, size, states[page] == 'P');
	}
	free(states);
}

/* A picture's file (--timeline, --memmap), opened before the sandbox (which
 * forbids open) and written after the run, with its buffer given now, as
 * stdout's (main.c): no allocation on the first write. NULL with the reason
 * in error. */
static FILE *open_picture(const struct vm *vm, const struct run_options *options,
			  const char *option, const char *path, char *buffer, size_t size,
			  struct gmemvm_error *error)
{
	struct stat target, scenario;
	if ((stat(path, &target) == 0 && stat(vm->scenario->path, &scenario) == 0 &&
	     target.st_dev == scenario.st_dev && target.st_ino == scenario.st_ino) ||
	    (options->report_path && strcmp(path, options->report_path) == 0)) {
		gmemvm_refuse(error, -EINVAL, "--%s %s is the scenario file or the --report file",
			      option, path);
		return NULL;
	}
	FILE *file = fopen(path, "we");
	if (!file) {
		int saved = errno;
		gmemvm_failf(error, -saved, "fopen of a picture", "cannot write %s %s: %s", option,
			     path, strerror(saved));
		return NULL;
	}
	setvbuf(file, buffer, _IOFBF, size);
	return file;
}

/* --timeline's file, and the state the run begins in, taken now, before
 * any vCPU runs. */
static FILE *open_timeline(struct vm *vm, const struct run_options *options,
			   struct gmemvm_error *error)
{
	static char buffer[1 << 16];
	FILE *file = open_picture(vm, options, "timeline", options->timeline_path, buffer,
				  sizeof(buffer), error);
	if (file)
		snapshot_shareability(vm, false);
	return file;
}

/* --memmap's file, and the picture before any vCPU runs. */
static FILE *open_memmap_picture(struct vm *vm, const struct run_options *options,
				 struct gmemvm_error *error)
{
	static char buffer[1 << 16];
	FILE *file = open_picture(vm, options, "memmap", options->memmap_path, buffer,
				  sizeof(buffer), error);
	if (!file)
		return NULL;
	if (!vm->refused)
		memmap_snapshot(&vm->memory, &vm->memmap_pictures[0],
				"Before the first vCPU runs: the memory map as set up");
	else
		snprintf(vm->memmap_pictures[0].label, sizeof(vm->memmap_pictures[0].label),
			 "No memory map: the set-up was refused: %.100s", vm->refusal);
	return file;
}

/* The scenario's mode and stage, as the pictures' titles name them. */
static void picture_mode(const struct vm *vm, char *mode, size_t size)
{
	snprintf(mode, size, "%s, stage %d", config_mode_name(vm->scenario->mode),
		 vm->scenario->stage);
}

/* Close a picture's file after drawing it (status: the drawing's): 0, or a
 * negative errno with error naming the file. */
static int close_picture(FILE *file, int status, const char *step, const char *option,
			 const char *path, struct gmemvm_error *error)
{
	if (fclose(file) != 0 && status == 0)
		status = errno ? -errno : -EIO;
	if (status < 0)
		return gmemvm_failf(error, status, step, "cannot write %s %s: %s", option, path,
				    strerror(-status));
	return 0;
}

/* Draw the memory map's pictures into file and close it. */
static int write_memmap_picture(struct vm *vm, FILE *file, const char *path,
				struct gmemvm_error *error)
{
	char mode[64];
	picture_mode(vm, mode, sizeof(mode));
	errno = 0;
	int status = memmap_picture_write_svg(file, &vm->memmap_pictures[0],
					      &vm->memmap_pictures[1], vm->scenario->name, mode);
	return close_picture(file, status, "writing the memory map", "memmap", path, error);
}

/* Draw the picture of the run into file and close it. */
static int write_timeline(struct vm *vm, FILE *file, const char *path, struct gmemvm_error *error)
{
	snapshot_shareability(vm, true);
	char mode[64];
	picture_mode(vm, mode, sizeof(mode));
	errno = 0;
	int status = timeline_write_svg(vm->timeline, file, vm->scenario->name, mode);
	return close_picture(file, status, "writing the timeline", "timeline", path, error);
}

static void vm_destroy(struct vm *vm)
{
	vcpu_set_destroy(&vm->vcpus);
	conversion_destroy(&vm->conversions);
	console_destroy(&vm->console);
	testdev_destroy(&vm->testdev);
	hypercall_destroy(&vm->hypercalls);
	memmap_destroy(&vm->memory);
	gmem_destroy(&vm->gmem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm->guest_file);
	arch_cpu_free(vm->cpu);
	if (vm->trace)
		fclose(vm->trace);
	timeline_destroy(vm->timeline);
	free(vm->memmap_pictures);
	free(vm);
}

/* The signal that asked the run to stop (Ctrl-C, timeout(1), a closed
 * terminal), or 0. Set by the handler, read by the main thread. */
static volatile sig_atomic_t stop_requested;

static void stop_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

static void request_stop(int signal_number)
{
	stop_requested = signal_number;
}

/* A stop signal ends the run the way a timeout does: the guest is stopped,
 * the summary printed and the report written. A second one kills at once
 * (SA_RESETHAND). SIGPIPE is ignored: a closed stdout shows as a failed write. */
static void catch_stop_signals(void)
{
	struct sigaction action = { .sa_handler = request_stop, .sa_flags = SA_RESETHAND };
	sigemptyset(&action.sa_mask);
	sigset_t set;
	stop_signal_set(&set);
	for (int signal_number = 1; signal_number < NSIG; signal_number++)
		if (sigismember(&set, signal_number) == 1)
			sigaction(signal_number, &action, NULL);
	signal(SIGPIPE, SIG_IGN);
}

enum gmemvm_status vm_run(const struct scenario *scenario, const struct run_options *options)
{
	struct gmemvm_error error = { 0 };
	catch_stop_signals();
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		fprintf(stderr, "gmemvm: out of memory\n");
		return GMEMVM_STATUS_HOST;
	}
	vm->scenario = scenario;
	vm->kvm_fd = vm->vm_fd = -1;
	gmem_init(&vm->gmem);
	memmap_init(&vm->memory);
	vcpu_set_init(&vm->vcpus);
	iotrap_init(&vm->traps);
	FILE *trace = options->trace ? trace_open(stdout, options->trace_limit) : NULL;
	if (options->trace && !trace) {
		fprintf(stderr, "gmemvm: cannot set up --trace: out of memory\n");
		free(vm);
		return GMEMVM_STATUS_HOST;
	}
	vm->trace = trace;
	vm->trace_categories = options->trace_categories ? options->trace_categories : TRACE_ALL;
	conversion_init(&vm->conversions, scenario, &vm->memory,
			vm->trace_categories & TRACE_CONVERSIONS ? trace : NULL);
	hypercall_init(&vm->hypercalls, &vm->memory, &vm->conversions);
	vm->hypercalls.trace = vm->trace_categories & TRACE_HYPERCALLS ? trace : NULL;
	console_init(&vm->console, options->quiet ? NULL : stdout);
	testdev_init(&vm->testdev);
	vm->hypercalls.scenario = scenario;
	if (options->timeline_path) {
		/* The recorder exists before the vCPUs: they record, never allocate. */
		vm->timeline = timeline_create(TIMELINE_DEFAULT_CAPACITY, scenario->memory_size);
		if (!vm->timeline) {
			fprintf(stderr, "gmemvm: cannot set up --timeline: out of memory\n");
			vm_destroy(vm);
			return GMEMVM_STATUS_HOST;
		}
		vm->conversions.timeline = vm->timeline;
		vm->hypercalls.timeline = vm->timeline;
	}
	if (options->memmap_path) {
		/* Both pictures exist before the vCPUs: a vCPU copies, never allocates. */
		vm->memmap_pictures = calloc(2, sizeof(*vm->memmap_pictures));
		if (!vm->memmap_pictures) {
			fprintf(stderr, "gmemvm: cannot set up --memmap: out of memory\n");
			vm_destroy(vm);
			return GMEMVM_STATUS_HOST;
		}
		vm->conversions.memmap_after = &vm->memmap_pictures[1];
	}

	enum gmemvm_status status = prepare_guest(vm, &error);
	if (status == GMEMVM_STATUS_MATCHED)
		status = create_machine(vm, &error);
	if (status != GMEMVM_STATUS_MATCHED) {
		fprintf(stderr, "gmemvm: %s: %s\n", scenario->path, error.message);
		vm_destroy(vm);
		return status;
	}

	/* The filters are compiled once, here, and installed by every thread
	 * (docs/performance.md, "Start-up"). */
	struct sandbox sandbox = { 0 };
	bool native_conversion = !vm->gmem.model && vm->gmem.support_shared &&
				 mode_info(scenario->mode)->shared_in_gmem;
	unsigned int extras = (native_conversion ? SANDBOX_NATIVE_CONVERSION : 0) |
			      (vm->memory.protected_vm ? SANDBOX_PROTECTED_VM : 0);
	if (options->sandbox && sandbox_build(&sandbox, extras, &error) < 0) {
		fprintf(stderr, "gmemvm: %s\n", error.message);
		vm_destroy(vm);
		return GMEMVM_STATUS_HOST;
	}
	vm->vcpus.sandbox = options->sandbox ? &sandbox : NULL;

	struct run_report report = { .scenario = scenario, .serving = vm->host.serving };
	/* Opened now: once the sandbox is in place the main thread cannot open files. */
	struct report_file report_file = { 0 };
	if (options->report_path &&
	    report_file_open(&report_file, options->report_path, scenario->path, &error) < 0) {
		fprintf(stderr, "gmemvm: %s\n", error.message);
		vm_destroy(vm);
		sandbox_destroy(&sandbox);
		return GMEMVM_STATUS_BAD_INPUT;
	}
	FILE *timeline_file = NULL, *memmap_file = NULL;
	if ((options->timeline_path && !(timeline_file = open_timeline(vm, options, &error))) ||
	    (options->memmap_path && !(memmap_file = open_memmap_picture(vm, options, &error)))) {
		fprintf(stderr, "gmemvm: %s\n", error.message);
		if (timeline_file)
			fclose(timeline_file);
		report_file_abandon(&report_file);
		vm_destroy(vm);
		sandbox_destroy(&sandbox);
		return GMEMVM_STATUS_BAD_INPUT;
	}
	int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	report.setup_ms = elapsed_ms(&options->process_start);
	struct timespec run_start;
	clock_gettime(CLOCK_MONOTONIC, &run_start);
	/* The vCPU threads inherit a mask without the stop signals: the main
	 * thread takes them, and stops the guest (catch_stop_signals). */
	sigset_t stop_signals, previous_mask;
	stop_signal_set(&stop_signals);
	pthread_sigmask(SIG_BLOCK, &stop_signals, &previous_mask);
	if (!vm->refused && !stop_requested && vcpu_set_start(&vm->vcpus, &error) < 0)
		fprintf(stderr, "gmemvm: %s\n", error.message);
	pthread_sigmask(SIG_SETMASK, &previous_mask, NULL);
	if (options->sandbox && sandbox_enter(&sandbox, SANDBOX_THREAD_MAIN, -1, &error) < 0) {
		/* Without its filter the main thread must not go on: stop the guest. */
		fprintf(stderr, "gmemvm: %s\n", error.message);
		vcpu_set_stop(&vm->vcpus);
	}
	vcpu_set_wait(&vm->vcpus, scenario->timeout_ms, &stop_requested);
	report.run_ms = elapsed_ms(&run_start);
	record_guest_times(vm, &options->process_start, &report);
	report.process_start_ns = (uint64_t)options->process_start.tv_sec * 1000000000ULL +
				  (uint64_t)options->process_start.tv_nsec;
	console_flush(&vm->console);

	collect_outcome(vm, &report);
	if (report.outcome == OUTCOME_GUEST_FAILED)
		add_guest_reason(&vm->console, &report);
	int stop_signal = stop_requested;
	if (stop_signal) {
		report.outcome = OUTCOME_INTERRUPTED;
		snprintf(report.message, sizeof(report.message),
			 "interrupted by SIG%s: the guest was stopped", sigabbrev_np(stop_signal));
	}
	if (vm->refused) {
		report.outcome = OUTCOME_REFUSED;
		snprintf(report.message, sizeof(report.message), "set-up refused: %s", vm->refusal);
	}
	if (report.outcome == OUTCOME_TIMEOUT)
		snprintf(report.message, sizeof(report.message),
			 "the guest did not finish within %u ms (vm.timeout)",
			 scenario->timeout_ms);
	report.expected = vm->host.serving == GMEM_SERVING_GUEST_MEMFD
				  ? scenario->expect_gmem_served
				  : scenario->expect_uaddr_served;
	if (!vm->refused) {
		checks_run(&vm->memory, vm->scenario, &report);
		struct gmemvm_error verdict = { 0 };
		if (memmap_check(&vm->memory, &verdict) < 0) {
			report.inconsistent = true;
			snprintf(report.consistency, sizeof(report.consistency), "%.*s",
				 (int)sizeof(report.consistency) - 1, verdict.message);
		}
	}
	report.conversions = conversion_read_stats(&vm->conversions);
	report.conversions.eagain = vm->gmem.stats.eagain;
	report.conversions.retries = vm->gmem.stats.retries;
	report.private_mmap_tried = !mode_info(scenario->mode)->shared_in_gmem &&
				    !scenario->support_shared && !vm->refused;
	report.private_mmap_errno = vm->memory.private_mmap_errno;
	if (!vm->refused)
		record_features(vm, &report);
	report.hypercalls = vm->hypercalls.stats;
	report.console_bytes = vm->console.bytes;
	report.console_transcript = vm->console.transcript;
	/* After the checks, which may touch gigabytes of guest RAM. */
	report.total_ms = elapsed_ms(&options->process_start);
	report.peak_resident_kib = procfs_peak_resident_kib(status_fd);
	if (status_fd >= 0)
		close(status_fd);
	report_evaluate(&report);

	if (!options->quiet) {
		printf("%s: %s\n", outcome_name(report.outcome), report.message);
		if (report.private_mmap_tried)
			printf("host mmap of the private guest_memfd: %s (no "
			       "GUEST_MEMFD_FLAG_MMAP, "
			       "notes: SUPPORT_SHARED: the VMM never maps it)\n",
			       report.private_mmap_errno ? strerror(report.private_mmap_errno)
							 : "succeeded, unexpectedly");
		report_print_refusals(stdout, &report);
		report_print_features(stdout, &report);
	}
	report_print_summary(stdout, &report);
	/* Output that did not arrive is a failure of the run (a full disk, a
	 * closed pipe: SIGPIPE is ignored, so the write says EPIPE). */
	bool output_failed = fflush(stdout) != 0 || ferror(stdout);
	if (output_failed)
		fprintf(stderr, "gmemvm: cannot write to standard output: %s\n",
			strerror(errno ? errno : EIO));
	if (report_file.file && report_file_commit(&report_file, &report, &vm->host, &error) < 0) {
		fprintf(stderr, "gmemvm: %s\n", error.message);
		output_failed = true;
	}
	if (timeline_file &&
	    write_timeline(vm, timeline_file, options->timeline_path, &error) < 0) {
		fprintf(stderr, "gmemvm: %s\n", error.message);
		output_failed = true;
	}
	if (memmap_file &&
	    write_memmap_picture(vm, memmap_file, options->memmap_path, &error) < 0) {
		fprintf(stderr, "gmemvm: %s\n", error.message);
		output_failed = true;
	}
	vm_destroy(vm); /* the vCPU threads were joined: none installs a filter now */
	sandbox_destroy(&sandbox);
	if (stop_signal)
		return (enum gmemvm_status)(128 + stop_signal);
	if (output_failed)
		return GMEMVM_STATUS_OUTPUT;
	return report.matched ? GMEMVM_STATUS_MATCHED : GMEMVM_STATUS_MISMATCH;
}
