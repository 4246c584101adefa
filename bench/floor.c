// SPDX-License-Identifier: MIT
/*
 * gmemvm-floor: the bare kernel cost of what gmemvm does, for the
 * ratios. Nothing of gmemvm is linked in but the reader of /proc/self
 * (vmm/procfs.c), for the peak resident memory gmemvm reports beside it:
 * each test makes only the raw system calls (KVM ioctls, mmap, fallocate) and runs a guest of a few
 * hand-assembled instructions, so its time is the floor a VMM on this host
 * cannot go below. Every test prints one JSON object on stdout.
 *
 *   gmemvm-floor startup                    KVM_CREATE_VM + one vCPU + KVM_RUN to the first exit
 *   gmemvm-floor pio ROUNDS                 port-IO exit loop (out + in per round)
 *   gmemvm-floor fault MODE PAGES VCPUS     one conversion per guest store, through an exit
 *   gmemvm-floor explicit MODE BYTES ROUNDS VCPUS
 *                                           the guest asks, by a port write, for each conversion
 *   gmemvm-floor attributes BYTES ROUNDS EXIT
 *                                           use case (a) on a software-protected VM: each
 *                                           request is KVM_SET_MEMORY_ATTRIBUTES and a punch
 *   gmemvm-floor memslots BYTES ROUNDS EXIT
 *                                           the in-place model on kernels without in-place
 *                                           conversion: each request is the memslot changes
 *                                           of the two views, nothing else
 *   gmemvm-floor regions REGIONS CONVERSIONS
 *                                           conversion kernel calls with REGIONS separately
 *                                           shared regions already in the mappings
 *
 * EXIT is how the guest asks: call (KVM_HC_MAP_GPA_RANGE, which KVM hands to
 * the VMM as KVM_EXIT_HYPERCALL) or port, as gmemvm's guest asks on that kernel.
 *
 * MODE is inplace or legacy. On PVM hosts a conversion is what gmemvm's model
 * does (vmm/memmap.c): mmap(MAP_FIXED) of the range in the guest's view and in
 * the host's view, and for legacy a fallocate(PUNCH_HOLE) of the backing the
 * range no longer uses. A store to a page whose view maps a never-shared
 * guest_memfd comes back as an MMIO exit on PVM hosts: the fault.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/kvm_para.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm_abi.h"
#include "procfs.h"

#define PAGE_SIZE    4096ULL
#define CODE_GPA     0x100000ULL
#define DATA_GPA     0x400000ULL
#define FLOOR_PORT   0x510
#define MAX_VCPUS    8
#define STACK_OF(i)  (0x80000ULL + (uint64_t)(i)*0x1000)
#define PAGE_PRESENT 0x1ULL
#define PAGE_WRITE   0x2ULL
#define PAGE_HUGE    0x80ULL

/* Guest programs, hand-assembled. */
static const uint8_t code_startup[] = {
	0xee, /* out %al, (%dx): the first instruction exits */
	0xf4, /* hlt */
};
static const uint8_t code_pio[] = {
	0xef,	    /* 1: out %eax, (%dx) */
	0xed,	    /* in (%dx), %eax */
	0xff, 0xc9, /* dec %ecx */
	0x75, 0xfa, /* jnz 1b */
	0xf4,	    /* hlt */
};
static const uint8_t code_touch[] = {
	0x89, 0x07,				  /* 1: mov %eax, (%rdi) */
	0x48, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, /* add $0x1000, %rdi */
	0xff, 0xc9,				  /* dec %ecx */
	0x75, 0xf3,				  /* jnz 1b */
	0xf4,					  /* hlt */
};
static const uint8_t code_request[] = {
	0xef,	    /* 1: out %eax, (%dx) */
	0xff, 0xc9, /* dec %ecx */
	0x75, 0xfb, /* jnz 1b */
	0xf4,	    /* hlt */
};

/* rdi: the GPA, rsi: its pages, r8: the requests. Byte 13 is vmcall or vmmcall. */
static uint8_t code_call[] = {
	0xb8, 0x0c, 0x00, 0x00, 0x00, /* 1: mov $KVM_HC_MAP_GPA_RANGE, %eax */
	0x48, 0x89, 0xfb,	      /* mov %rdi, %rbx */
	0x48, 0x89, 0xf1,	      /* mov %rsi, %rcx */
	0x31, 0xd2,		      /* xor %edx, %edx */
	0x0f, 0x01, 0xc1,	      /* vmcall (0f 01 d9: vmmcall) */
	0x49, 0xff, 0xc8,	      /* dec %r8 */
	0x75, 0xeb,		      /* jnz 1b */
	0xf4,			      /* hlt */
};
#define CALL_OPCODE_AT 15

/* How a request becomes a conversion (see the tests above). */
enum floor_conversion {
	CONVERT_VIEWS,	    /* PVM: mmap of the two views, a punch for legacy */
	CONVERT_ATTRIBUTES, /* KVM_SET_MEMORY_ATTRIBUTES and a punch */
	CONVERT_MEMSLOTS,   /* the two views' memslot changes */
};

/* The memslots of one view: a slot per maximal run of pages it reaches. */
#define VIEW_SLOTS 64
struct floor_slot {
	uint64_t start, end; /* RAM offsets */
	uint32_t id;
};
struct floor_view {
	uint64_t base; /* its GPA of RAM offset 0 */
	bool private;  /* the private view: gmem-bound slots over private pages */
	struct floor_slot slots[VIEW_SLOTS];
	int count;
};

struct floor_vm {
	int kvm, vm;
	uint64_t ram_size;
	int content_fd;	     /* guest_memfd, MMAP | INIT_SHARED: page contents */
	int never_shared_fd; /* guest_memfd, MMAP only: any touch is SIGBUS */
	int private_fd;	     /* legacy: the private backing a conversion punches */
	uint8_t *guest_view; /* the memslot's userspace_addr */
	uint8_t *host_view;
	bool legacy;
	struct kvm_cpuid2 *cpuid;
	enum floor_conversion conversion;
	int shared_fd;	      /* attributes: the memfd of shared pages */
	uint8_t *page_shared; /* memslots: per page, 1 when shared */
	struct floor_view views[2];
	uint32_t next_slot;
};

struct floor_vcpu {
	struct floor_vm *machine;
	int index, fd;
	struct kvm_run *run;
	uint64_t rdi, rsi, rcx, r8;
	uint64_t exits, conversions, kernel_ns;
	uint64_t convert_bytes;
};

static void die(const char *what)
{
	fprintf(stderr, "gmemvm-floor: %s: %s\n", what, strerror(errno));
	exit(3);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static int create_gmem(int vm, uint64_t size, uint64_t flags)
{
	struct kvm_create_guest_memfd request = { .size = size, .flags = flags };
	int fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &request);
	if (fd < 0)
		die("KVM_CREATE_GUEST_MEMFD");
	return fd;
}

static uint8_t *map_fd(int fd, uint64_t size)
{
	void *view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (view == MAP_FAILED)
		die("mmap of a guest_memfd");
	return view;
}

/* Point [offset, offset + size) of a view at the same range of fd. */
static void remap(uint8_t *view, int fd, uint64_t offset, uint64_t size)
{
	if (mmap(view + offset, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)offset) == MAP_FAILED)
		die("mmap(MAP_FIXED) of a view");
}

static void write_boot_tables(uint8_t *ram)
{
	uint64_t *pml4 = (uint64_t *)(void *)(ram + 0x1000);
	uint64_t *pdpt = (uint64_t *)(void *)(ram + 0x2000);
	uint64_t *pd = (uint64_t *)(void *)(ram + 0x3000);
	pml4[0] = 0x2000 | PAGE_PRESENT | PAGE_WRITE;
	pdpt[0] = 0x3000 | PAGE_PRESENT | PAGE_WRITE;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | PAGE_PRESENT | PAGE_WRITE | PAGE_HUGE;
}

static void set_region(struct floor_vm *machine, uint32_t slot, uint64_t gpa, uint64_t size,
		       uint64_t offset, bool guest_memfd)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = slot,
		.flags = guest_memfd ? KVM_MEM_GUEST_MEMFD : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = size ? (uint64_t)(uintptr_t)(machine->guest_view + offset) : 0,
		.guest_memfd_offset = offset,
		.guest_memfd = (uint32_t)machine->content_fd,
	};
	if (ioctl(machine->vm, KVM_SET_USER_MEMORY_REGION2, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION2");
}

static bool view_reaches(const struct floor_vm *machine, const struct floor_view *view,
			 uint64_t page)
{
	return machine->page_shared[page] != view->private;
}

/*
 * Make the view's memslots over [from, to) the maximal runs of pages it
 * reaches: every memslot that overlaps or touches the range is deleted and
 * the runs over their union are created, as a memslot can be neither grown
 * nor split. Nothing else: this is the least the model's views need.
 */
static void view_sync(struct floor_vm *machine, struct floor_view *view, uint64_t from, uint64_t to)
{
	struct floor_slot kept[VIEW_SLOTS];
	int count = 0;
	for (int i = 0; i < view->count; i++) {
		struct floor_slot *slot = &view->slots[i];
		if (slot->end < from || slot->start > to) {
			kept[count++] = *slot;
			continue;
		}
		from = slot->start < from ? slot->start : from;
		to = slot->end > to ? slot->end : to;
		set_region(machine, slot->id, view->base + slot->start, 0, 0, false);
	}
	for (uint64_t at = from; at < to;) {
		uint64_t end = at;
		while (end < to && view_reaches(machine, view, end / PAGE_SIZE) ==
					   view_reaches(machine, view, at / PAGE_SIZE))
			end += PAGE_SIZE;
		if (view_reaches(machine, view, at / PAGE_SIZE)) {
			if (count == VIEW_SLOTS)
				die("too many memslots in a view");
			kept[count] = (struct floor_slot){ at, end, machine->next_slot++ };
			set_region(machine, kept[count].id, view->base + at, end - at, at,
				   view->private);
			count++;
		}
		at = end;
	}
	memcpy(view->slots, kept, sizeof(kept));
	view->count = count;
}

/* /dev/kvm, a VM of the type, and the CPUID its vCPUs get; ram_size in
 * whole 2 MiB pages. */
static void floor_vm_open(struct floor_vm *machine, uint64_t ram_size, unsigned long type)
{
	memset(machine, 0, sizeof(*machine));
	machine->ram_size = (ram_size + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
	machine->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (machine->kvm < 0)
		die("open /dev/kvm");
	machine->vm = ioctl(machine->kvm, KVM_CREATE_VM, type);
	if (machine->vm < 0)
		die(type ? "KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)" : "KVM_CREATE_VM");
	/* One call with room to spare (gmemvm asks the same way, vmm/kvm.c). */
	machine->cpuid = calloc(1, sizeof(*machine->cpuid) + 256 * sizeof(struct kvm_cpuid_entry2));
	if (!machine->cpuid)
		die("calloc");
	machine->cpuid->nent = 256;
	if (ioctl(machine->kvm, KVM_GET_SUPPORTED_CPUID, machine->cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
}

static void load_guest(uint8_t *ram, const uint8_t *code, size_t code_size)
{
	write_boot_tables(ram);
	memcpy(ram + CODE_GPA, code, code_size);
}

/*
 * A VM with one gmem-bound memslot over [0, ram_size). Conversion tests get a
 * guest view whose data pages start on the never-shared guest_memfd (private,
 * as INIT_PRIVATE) and a host view like it; the rest maps a shareable one.
 */
static void floor_vm_create(struct floor_vm *machine, uint64_t ram_size, bool conversions,
			    bool legacy, const uint8_t *code, size_t code_size)
{
	floor_vm_open(machine, ram_size, GMEMVM_KVM_X86_DEFAULT_VM);
	ram_size = machine->ram_size;
	machine->legacy = legacy;
	machine->content_fd = create_gmem(machine->vm, ram_size,
					  GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
	machine->guest_view = map_fd(machine->content_fd, ram_size);
	load_guest(machine->guest_view, code, code_size);
	if (conversions) {
		machine->never_shared_fd =
			create_gmem(machine->vm, ram_size, GUEST_MEMFD_FLAG_MMAP);
		machine->host_view = map_fd(machine->content_fd, ram_size);
		remap(machine->guest_view, machine->never_shared_fd, DATA_GPA, ram_size - DATA_GPA);
		remap(machine->host_view, machine->never_shared_fd, DATA_GPA, ram_size - DATA_GPA);
		if (legacy)
			machine->private_fd = create_gmem(machine->vm, ram_size, 0);
	}
	set_region(machine, 0, 0, ram_size, 0, true);
}

/* The shared view's bit, as gmemvm places it: two below the guest's
 * physical-address width, within [39, 46] (docs/design.md). */
static unsigned int shared_bit(const struct kvm_cpuid2 *cpuid)
{
	unsigned int bits = 36;
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == 0x80000008)
			bits = cpuid->entries[i].eax & 0xff;
	bits -= 2;
	return bits > 46 ? 46 : bits < 39 ? 39 : bits;
}

/*
 * The VMs of the kernel paths without PVM, the guest asking by `exit`:
 *  - CONVERT_ATTRIBUTES: a software-protected VM as QEMU builds one: one
 *    memslot bound to a guest_memfd without MMAP for private pages, with
 *    userspace_addr in a memfd for shared ones; every page starts shared.
 *  - CONVERT_MEMSLOTS: the in-place model's two views of one guest_memfd
 *    (MMAP | INIT_SHARED): the private view at 0 reaches the private pages,
 *    [0, DATA_GPA), through gmem-bound memslots, the shared view at the
 *    shared bit the rest through plain ones.
 */
static void floor_vm_create_native(struct floor_vm *machine, uint64_t ram_size,
				   enum floor_conversion conversion, bool call)
{
	floor_vm_open(machine, ram_size,
		      conversion == CONVERT_ATTRIBUTES ? GMEMVM_KVM_X86_SW_PROTECTED_VM
						       : GMEMVM_KVM_X86_DEFAULT_VM);
	ram_size = machine->ram_size;
	machine->conversion = conversion;
	if (call) {
		struct kvm_enable_cap exit_call = { .cap = KVM_CAP_EXIT_HYPERCALL,
						    .args = { 1ULL << KVM_HC_MAP_GPA_RANGE } };
		if (ioctl(machine->vm, KVM_ENABLE_CAP, &exit_call) < 0)
			die("KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)");
		unsigned int vendor[4] = { 0 };
		__cpuid(0, vendor[0], vendor[1], vendor[2], vendor[3]);
		/* "AuthenticAMD" and "HygonGenuine" call with vmmcall. */
		bool vmmcall = vendor[1] == 0x68747541 || vendor[1] == 0x6f677948;
		code_call[CALL_OPCODE_AT] = vmmcall ? 0xd9 : 0xc1;
	}
	const uint8_t *code = call ? code_call : code_request;
	size_t code_size = call ? sizeof(code_call) : sizeof(code_request);
	if (conversion == CONVERT_ATTRIBUTES) {
		machine->shared_fd = memfd_create("floor-shared", MFD_CLOEXEC);
		if (machine->shared_fd < 0 || ftruncate(machine->shared_fd, (off_t)ram_size) < 0)
			die("memfd_create");
		machine->private_fd = create_gmem(machine->vm, ram_size, 0);
		machine->content_fd = machine->private_fd;
		machine->guest_view = map_fd(machine->shared_fd, ram_size);
		load_guest(machine->guest_view, code, code_size);
		set_region(machine, 0, 0, ram_size, 0, true);
		return;
	}
	machine->content_fd = create_gmem(machine->vm, ram_size,
					  GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
	machine->guest_view = map_fd(machine->content_fd, ram_size);
	load_guest(machine->guest_view, code, code_size);
	machine->page_shared = calloc(ram_size / PAGE_SIZE, 1);
	if (!machine->page_shared)
		die("calloc");
	memset(machine->page_shared + DATA_GPA / PAGE_SIZE, 1, (ram_size - DATA_GPA) / PAGE_SIZE);
	machine->views[0] = (struct floor_view){ .base = 0, .private = true };
	machine->views[1] = (struct floor_view){ .base = 1ULL << shared_bit(machine->cpuid) };
	for (int i = 0; i < 2; i++)
		view_sync(machine, &machine->views[i], 0, ram_size);
}

static void floor_vm_destroy(struct floor_vm *machine)
{
	free(machine->cpuid);
	munmap(machine->guest_view, machine->ram_size);
	if (machine->host_view)
		munmap(machine->host_view, machine->ram_size);
	/* 0 means never created: the descriptors of /dev/kvm and the VM come first. */
	free(machine->page_shared);
	const int files[] = { machine->content_fd, machine->never_shared_fd, machine->shared_fd,
			      machine->private_fd != machine->content_fd ? machine->private_fd
									 : 0 };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i] > 0)
			close(files[i]);
	close(machine->vm);
	close(machine->kvm);
}

static void floor_vcpu_create(struct floor_vm *machine, struct floor_vcpu *vcpu, int index)
{
	vcpu->machine = machine;
	vcpu->index = index;
	vcpu->fd = ioctl(machine->vm, KVM_CREATE_VCPU, index);
	if (vcpu->fd < 0)
		die("KVM_CREATE_VCPU");
	int size = ioctl(machine->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	vcpu->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (size < 0 || vcpu->run == MAP_FAILED)
		die("mmap of kvm_run");
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, machine->cpuid) < 0)
		die("KVM_SET_CPUID2");
	struct kvm_sregs sregs;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	struct kvm_segment code = {
		.limit = 0xffffffff, .selector = 8, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1
	};
	struct kvm_segment data = { .limit = 0xffffffff,
				    .selector = 16,
				    .type = 3,
				    .present = 1,
				    .s = 1,
				    .db = 1,
				    .g = 1 };
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr0 = 0x80050033; /* PG, WP, NE, ET, MP, PE */
	sregs.cr3 = 0x1000;
	sregs.cr4 = 0x20;   /* PAE */
	sregs.efer = 0x500; /* LME, LMA */
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = CODE_GPA,
				 .rsp = STACK_OF(index + 1),
				 .rflags = 2,
				 .rdx = FLOOR_PORT,
				 .rdi = vcpu->rdi,
				 .rsi = vcpu->rsi,
				 .rcx = vcpu->rcx,
				 .r8 = vcpu->r8 };
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
}

/* The kernel calls of one conversion of [gpa, gpa + size), timed. */
static void convert(struct floor_vcpu *vcpu, uint64_t gpa, uint64_t size, bool to_shared)
{
	struct floor_vm *machine = vcpu->machine;
	uint64_t start = now_ns();
	switch (machine->conversion) {
	case CONVERT_VIEWS: {
		int fd = to_shared ? machine->content_fd : machine->never_shared_fd;
		remap(machine->guest_view, fd, gpa, size);
		remap(machine->host_view, fd, gpa, size);
		if (machine->legacy &&
		    fallocate(to_shared ? machine->private_fd : machine->content_fd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)gpa,
			      (off_t)size) < 0)
			die("fallocate(PUNCH_HOLE)");
		break;
	}
	case CONVERT_ATTRIBUTES: {
		struct kvm_memory_attributes attributes = {
			.address = gpa,
			.size = size,
			.attributes = to_shared ? 0 : KVM_MEMORY_ATTRIBUTE_PRIVATE,
		};
		if (ioctl(machine->vm, KVM_SET_MEMORY_ATTRIBUTES, &attributes) < 0)
			die("KVM_SET_MEMORY_ATTRIBUTES");
		/* The backing the range no longer uses, as QEMU discards it. */
		if (fallocate(to_shared ? machine->private_fd : machine->shared_fd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)gpa,
			      (off_t)size) < 0)
			die("fallocate(PUNCH_HOLE)");
		break;
	}
	case CONVERT_MEMSLOTS:
		memset(machine->page_shared + gpa / PAGE_SIZE, to_shared, size / PAGE_SIZE);
		for (int i = 0; i < 2; i++)
			view_sync(machine, &machine->views[i], gpa, gpa + size);
		break;
	}
	vcpu->kernel_ns += now_ns() - start;
	vcpu->conversions++;
}

/* Runs the vCPU to hlt, answering port reads and converting where asked. */
static void *floor_vcpu_loop(void *argument)
{
	struct floor_vcpu *vcpu = argument;
	struct kvm_run *run = vcpu->run;
	uint64_t requests = 0;
	for (;;) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			die("KVM_RUN");
		}
		vcpu->exits++;
		switch (run->exit_reason) {
		case KVM_EXIT_HLT:
			return NULL;
		case KVM_EXIT_IO:
			if (run->io.direction == KVM_EXIT_IO_IN)
				memset((uint8_t *)run + run->io.data_offset, 0, run->io.size);
			else if (vcpu->convert_bytes) /* a request: unshare, then share, ... */
				convert(vcpu, vcpu->rdi, vcpu->convert_bytes, requests++ % 2 == 1);
			break;
		case KVM_EXIT_HYPERCALL: /* a request: to private, then to shared, ... */
			if (run->hypercall.nr != KVM_HC_MAP_GPA_RANGE)
				goto unexpected;
			convert(vcpu, run->hypercall.args[0], run->hypercall.args[1] * PAGE_SIZE,
				requests++ % 2 == 1);
			run->hypercall.ret = 0;
			break;
		case KVM_EXIT_MMIO: {
			/* A store to a private page: convert it, then finish the store. */
			uint64_t gpa = run->mmio.phys_addr;
			/* Only the PVM floors have a host view; elsewhere MMIO is unexpected. */
			if (!run->mmio.is_write || gpa < DATA_GPA ||
			    gpa >= vcpu->machine->ram_size || !vcpu->machine->host_view)
				goto unexpected;
			convert(vcpu, gpa & ~(PAGE_SIZE - 1), PAGE_SIZE, true);
			memcpy(vcpu->machine->host_view + gpa, run->mmio.data, run->mmio.len);
			break;
		}
		default:
			goto unexpected;
		}
	}
unexpected:
	fprintf(stderr, "gmemvm-floor: vCPU %d: unexpected exit %u\n", vcpu->index,
		run->exit_reason);
	exit(3);
}

static void run_vcpus(struct floor_vcpu *vcpus, int count)
{
	pthread_t threads[MAX_VCPUS];
	for (int i = 0; i < count; i++)
		if (pthread_create(&threads[i], NULL, floor_vcpu_loop, &vcpus[i]) != 0)
			die("pthread_create");
	for (int i = 0; i < count; i++)
		pthread_join(threads[i], NULL);
}

static void print_totals(const char *test, const struct floor_vcpu *vcpus, int count,
			 uint64_t elapsed_ns)
{
	uint64_t exits = 0, conversions = 0, kernel_ns = 0;
	for (int i = 0; i < count; i++) {
		exits += vcpus[i].exits;
		conversions += vcpus[i].conversions;
		kernel_ns += vcpus[i].kernel_ns;
	}
	printf("{\"test\": \"%s\", \"vcpus\": %d, \"exits\": %llu, \"conversions\": %llu, "
	       "\"kernel_ns\": %llu, \"seconds\": %.6f}\n",
	       test, count, (unsigned long long)exits, (unsigned long long)conversions,
	       (unsigned long long)kernel_ns, (double)elapsed_ns / 1e9);
}

static uint64_t number(const char *text, uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long value = strtoull(text, &end, 0);
	if (errno || *end || value < min || value > max) {
		fprintf(stderr, "gmemvm-floor: %s: give a number from %llu to %llu\n", text,
			(unsigned long long)min, (unsigned long long)max);
		exit(2);
	}
	return value;
}

static bool legacy_mode(const char *mode)
{
	if (strcmp(mode, "inplace") != 0 && strcmp(mode, "legacy") != 0) {
		fprintf(stderr, "gmemvm-floor: mode %s: give inplace or legacy\n", mode);
		exit(2);
	}
	return strcmp(mode, "legacy") == 0;
}

/* A conversion test: VCPUS vCPUs, each on its own slice of DATA_GPA.. */
static void conversion_test(const char *test, bool legacy, uint64_t slice, uint64_t rcx,
			    uint64_t convert_bytes, int count, const uint8_t *code,
			    size_t code_size)
{
	struct floor_vm machine;
	floor_vm_create(&machine, DATA_GPA + slice * (uint64_t)count, true, legacy, code,
			code_size);
	struct floor_vcpu vcpus[MAX_VCPUS] = { 0 };
	for (int i = 0; i < count; i++) {
		vcpus[i].rdi = DATA_GPA + slice * (uint64_t)i;
		vcpus[i].rcx = rcx;
		vcpus[i].convert_bytes = convert_bytes;
		floor_vcpu_create(&machine, &vcpus[i], i);
	}
	uint64_t start = now_ns();
	run_vcpus(vcpus, count);
	print_totals(test, vcpus, count, now_ns() - start);
	floor_vm_destroy(&machine);
}

/* attributes and memslots: ROUNDS requests to private and back of BYTES at
 * DATA_GPA, with shared pages after them, as gmemvm's flip scenario has. */
static void native_test(const char *test, enum floor_conversion conversion, uint64_t bytes,
			uint64_t rounds, bool call)
{
	struct floor_vm machine;
	floor_vm_create_native(&machine, DATA_GPA + bytes + (2ULL << 20), conversion, call);
	struct floor_vcpu vcpu = { .rdi = DATA_GPA,
				   .rsi = bytes / PAGE_SIZE,
				   .rcx = 2 * rounds,
				   .r8 = 2 * rounds,
				   .convert_bytes = call ? 0 : bytes };
	floor_vcpu_create(&machine, &vcpu, 0);
	uint64_t start = now_ns();
	floor_vcpu_loop(&vcpu);
	print_totals(test, &vcpu, 1, now_ns() - start);
	floor_vm_destroy(&machine);
}

static bool exit_is_call(const char *how)
{
	if (strcmp(how, "call") != 0 && strcmp(how, "port") != 0) {
		fprintf(stderr, "gmemvm-floor: exit %s: give call or port\n", how);
		exit(2);
	}
	return strcmp(how, "call") == 0;
}

/*
 * REGIONS separate shared pages (every other page) in both views, then
 * CONVERSIONS conversions of pages between them, alternating direction:
 * what the kernel charges per conversion as the mappings fragment.
 */
static void regions_test(uint64_t regions, uint64_t conversions)
{
	struct floor_vm machine;
	floor_vm_create(&machine, DATA_GPA + 2 * PAGE_SIZE * (regions + conversions + 1), true,
			false, code_startup, sizeof(code_startup));
	struct floor_vcpu setup = { .machine = &machine };
	for (uint64_t i = 0; i < regions; i++)
		convert(&setup, DATA_GPA + 2 * PAGE_SIZE * i, PAGE_SIZE, true);
	struct floor_vcpu measured = { .machine = &machine };
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < conversions; i++) {
		/* Pages between the shared ones: each joins two regions, then splits them. */
		uint64_t gpa = DATA_GPA + 2 * PAGE_SIZE * (i / 2 % regions) + PAGE_SIZE;
		convert(&measured, gpa, PAGE_SIZE, i % 2 == 0);
	}
	uint64_t elapsed = now_ns() - start;
	printf("{\"test\": \"regions\", \"regions\": %llu, \"conversions\": %llu, "
	       "\"kernel_ns\": %llu, \"seconds\": %.6f}\n",
	       (unsigned long long)regions, (unsigned long long)measured.conversions,
	       (unsigned long long)measured.kernel_ns, (double)elapsed / 1e9);
	floor_vm_destroy(&machine);
}

/* VmHWM, read as gmemvm reads it for its report (vmm/procfs.c). */
static long peak_resident_kib(void)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	long kib = procfs_peak_resident_kib(fd);
	if (fd >= 0)
		close(fd);
	return kib;
}

static void usage(void)
{
	fprintf(stderr, "usage: gmemvm-floor startup | pio ROUNDS | fault MODE PAGES VCPUS |\n"
			"       explicit MODE BYTES ROUNDS VCPUS | regions REGIONS CONVERSIONS |\n"
			"       attributes BYTES ROUNDS EXIT | memslots BYTES ROUNDS EXIT\n"
			"MODE: inplace or legacy; BYTES: a multiple of 4096; EXIT: call or port\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t main_ns = now_ns();
	if (argc < 2)
		usage();
	const char *test = argv[1];
	if (!strcmp(test, "startup") && argc == 2) {
		struct floor_vm machine;
		floor_vm_create(&machine, 4ULL << 20, false, false, code_startup,
				sizeof(code_startup));
		struct floor_vcpu vcpu = { 0 };
		floor_vcpu_create(&machine, &vcpu, 0);
		if (ioctl(vcpu.fd, KVM_RUN, 0) < 0 || vcpu.run->exit_reason != KVM_EXIT_IO)
			die("KVM_RUN to the first exit");
		uint64_t first_exit_ns = now_ns();
		printf("{\"test\": \"startup\", \"main_monotonic_ns\": %llu, "
		       "\"first_exit_monotonic_ns\": %llu, \"peak_resident_kib\": %ld}\n",
		       (unsigned long long)main_ns, (unsigned long long)first_exit_ns,
		       peak_resident_kib());
		floor_vm_destroy(&machine);
	} else if (!strcmp(test, "pio") && argc == 3) {
		struct floor_vm machine;
		floor_vm_create(&machine, 4ULL << 20, false, false, code_pio, sizeof(code_pio));
		struct floor_vcpu vcpu = { .rcx = number(argv[2], 1, 1ULL << 31) };
		floor_vcpu_create(&machine, &vcpu, 0);
		uint64_t start = now_ns();
		floor_vcpu_loop(&vcpu);
		print_totals("pio", &vcpu, 1, now_ns() - start);
		floor_vm_destroy(&machine);
	} else if (!strcmp(test, "fault") && argc == 5) {
		bool legacy = legacy_mode(argv[2]);
		uint64_t pages = number(argv[3], 1, 1ULL << 20);
		int count = (int)number(argv[4], 1, MAX_VCPUS);
		conversion_test("fault", legacy, pages * PAGE_SIZE, pages, 0, count, code_touch,
				sizeof(code_touch));
	} else if (!strcmp(test, "explicit") && argc == 6) {
		bool legacy = legacy_mode(argv[2]);
		uint64_t bytes = number(argv[3], PAGE_SIZE, 1ULL << 30);
		uint64_t rounds = number(argv[4], 1, 1ULL << 24);
		int count = (int)number(argv[5], 1, MAX_VCPUS);
		if (bytes % PAGE_SIZE)
			usage();
		conversion_test("explicit", legacy, bytes, 2 * rounds, bytes, count, code_request,
				sizeof(code_request));
	} else if ((!strcmp(test, "attributes") || !strcmp(test, "memslots")) && argc == 5) {
		uint64_t bytes = number(argv[2], PAGE_SIZE, 1ULL << 30);
		if (bytes % PAGE_SIZE)
			usage();
		native_test(test,
			    !strcmp(test, "attributes") ? CONVERT_ATTRIBUTES : CONVERT_MEMSLOTS,
			    bytes, number(argv[3], 1, 1ULL << 24), exit_is_call(argv[4]));
	} else if (!strcmp(test, "regions") && argc == 4) {
		regions_test(number(argv[2], 1, 1ULL << 16), number(argv[3], 1, 1ULL << 20));
	} else {
		usage();
	}
	return 0;
}
