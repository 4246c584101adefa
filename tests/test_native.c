// SPDX-License-Identifier: MIT
/*
 * What the kernel itself does for a VM type with private memory (the
 * software-protected VM of standard x86 kernels), which gmemvm's native use
 * case (a) builds on (docs/design.md, "Wrong-view faults"): a tiny real-mode
 * guest reads one page, and each case says what KVM does with that read:
 * - plain memslot, page shared: the read succeeds;
 * - plain memslot, page private: KVM_EXIT_MEMORY_FAULT (KVM_RUN -1, EFAULT)
 *   with the page's gpa and the private flag;
 * - guest_memfd-bound memslot, page private: served from guest_memfd;
 * - no memslot, page shared: KVM_EXIT_MMIO at the gpa;
 * - no memslot, page private: KVM_EXIT_MEMORY_FAULT.
 * Skips (77) without /dev/kvm, and says so when the kernel has no VM type
 * with private memory attributes.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gmem.h"
#include "kvm.h"
#include "kvm_fixture.h"
#include "probe.h"

#define PAGE	     0x1000ULL
#define CODE_GPA     0x0ULL
#define DATA_GPA     0x1000ULL
#define OUTPUT_PORT  0x10
#define DATA_PATTERN 0x5a

static struct host_probe host;

/* Real mode: mov al, [0x1000]; out 0x10, al; hlt. */
static const uint8_t guest_code[] = { 0xa0, 0x00, 0x10, 0xe6, OUTPUT_PORT, 0xf4 };

enum data_slot {
	DATA_PLAIN,
	DATA_GUEST_MEMFD,
	DATA_NONE
};

struct machine {
	int kvm_fd, vm_fd, vcpu_fd, gmem_fd;
	struct kvm_run *run;
	long run_size;
	uint8_t *code, *data;
};

static void alarm_handler(int signal_number)
{
	(void)signal_number; /* only interrupts a KVM_RUN that does not return */
}

static void machine_create(struct machine *m, enum data_slot data_slot, bool private)
{
	memset(m, 0, sizeof(*m));
	m->gmem_fd = -1;
	m->kvm_fd = kvm_open(NULL);
	assert_true(m->kvm_fd >= 0);
	m->vm_fd = kvm_create_vm(m->kvm_fd, host.private_vm_type);
	assert_true(m->vm_fd >= 0);
	m->code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	m->data = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(m->code != MAP_FAILED && m->data != MAP_FAILED);
	memset(m->code, 0xf4, PAGE);
	memcpy(m->code, guest_code, sizeof(guest_code));
	memset(m->data, DATA_PATTERN, PAGE);
	assert_int_equal(kvm_set_memory_region2(m->vm_fd, 0, 0, CODE_GPA, PAGE,
						(uint64_t)(uintptr_t)m->code, -1, 0),
			 0);
	if (data_slot == DATA_GUEST_MEMFD) {
		m->gmem_fd = kvm_create_guest_memfd(m->vm_fd, PAGE, 0);
		assert_true(m->gmem_fd >= 0);
	}
	if (data_slot != DATA_NONE)
		assert_int_equal(kvm_set_memory_region2(
					 m->vm_fd, 1,
					 data_slot == DATA_GUEST_MEMFD ? KVM_MEM_GUEST_MEMFD : 0,
					 DATA_GPA, PAGE, (uint64_t)(uintptr_t)m->data, m->gmem_fd,
					 0),
				 0);
	if (private)
		assert_int_equal(kvm_set_memory_attributes(m->vm_fd, DATA_GPA, PAGE,
							   KVM_MEMORY_ATTRIBUTE_PRIVATE),
				 0);
	m->vcpu_fd = kvm_create_vcpu(m->vm_fd, 0);
	m->run_size = kvm_vcpu_mmap_size(m->kvm_fd);
	assert_true(m->vcpu_fd >= 0 && m->run_size > 0);
	m->run = mmap(NULL, (size_t)m->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->vcpu_fd, 0);
	assert_true(m->run != MAP_FAILED);
	struct kvm_sregs sregs;
	assert_int_equal(ioctl(m->vcpu_fd, KVM_GET_SREGS, &sregs), 0);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 0x2 };
	assert_int_equal(ioctl(m->vcpu_fd, KVM_SET_SREGS, &sregs), 0);
	assert_int_equal(ioctl(m->vcpu_fd, KVM_SET_REGS, &regs), 0);
}

/* KVM_RUN with a 2 s bound: the return value (0 or a negative errno), the
 * errno in *error. */
static int machine_run(struct machine *m, int *error)
{
	struct sigaction action = { .sa_handler = alarm_handler }, previous;
	sigemptyset(&action.sa_mask);
	sigaction(SIGALRM, &action, &previous);
	struct itimerval timer = { .it_value = { .tv_sec = 2 } }, off = { 0 };
	setitimer(ITIMER_REAL, &timer, NULL);
	m->run->exit_reason = KVM_EXIT_UNKNOWN;
	int status = kvm_run(m->vcpu_fd);
	*error = status < 0 ? -status : 0;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &previous, NULL);
	return status;
}

static void machine_destroy(struct machine *m)
{
	munmap(m->run, (size_t)m->run_size);
	munmap(m->code, PAGE);
	munmap(m->data, PAGE);
	close(m->vcpu_fd);
	if (m->gmem_fd >= 0)
		close(m->gmem_fd);
	close(m->vm_fd);
	close(m->kvm_fd);
}

/* The guest's read finished and wrote this byte to the port. */
static void expect_read(struct machine *m, uint8_t value)
{
	int error;
	int status = machine_run(m, &error);
	if (status < 0)
		fail_msg("KVM_RUN failed: %s (exit reason %u)", strerror(error),
			 m->run->exit_reason);
	assert_int_equal(m->run->exit_reason, KVM_EXIT_IO);
	assert_int_equal(m->run->io.port, OUTPUT_PORT);
	assert_int_equal(*((uint8_t *)m->run + m->run->io.data_offset), value);
}

static void expect_memory_fault(struct machine *m)
{
	int error;
	int status = machine_run(m, &error);
	assert_int_equal(status, -EFAULT);
	assert_int_equal(error, EFAULT);
	assert_int_equal(m->run->exit_reason, KVM_EXIT_MEMORY_FAULT);
	const struct kvm_memory_fault_info *fault = kvm_run_memory_fault(m->run);
	assert_int_equal(fault->gpa, DATA_GPA);
	assert_int_equal(fault->size, PAGE);
	assert_true(fault->flags & KVM_MEMORY_EXIT_FLAG_PRIVATE);
}

static void test_plain_shared_reads(void **state)
{
	(void)state;
	struct machine m;
	machine_create(&m, DATA_PLAIN, false);
	expect_read(&m, DATA_PATTERN);
	machine_destroy(&m);
}

static void test_plain_private_faults(void **state)
{
	(void)state;
	struct machine m;
	machine_create(&m, DATA_PLAIN, true);
	expect_memory_fault(&m);
	/* Shared again: the same access now completes (KVM retries it). */
	assert_int_equal(kvm_set_memory_attributes(m.vm_fd, DATA_GPA, PAGE, 0), 0);
	expect_read(&m, DATA_PATTERN);
	machine_destroy(&m);
}

static void test_gmem_private_served(void **state)
{
	(void)state;
	struct machine m;
	machine_create(&m, DATA_GUEST_MEMFD, true);
	expect_read(&m, 0); /* a new guest_memfd page reads zero */
	machine_destroy(&m);
}

static void test_gmem_shared_reads_userspace_addr(void **state)
{
	(void)state;
	struct machine m;
	machine_create(&m, DATA_GUEST_MEMFD, false);
	expect_read(&m, DATA_PATTERN);
	machine_destroy(&m);
}

static void test_no_slot_shared_is_mmio(void **state)
{
	(void)state;
	struct machine m;
	machine_create(&m, DATA_NONE, false);
	int error;
	assert_int_equal(machine_run(&m, &error), 0);
	assert_int_equal(m.run->exit_reason, KVM_EXIT_MMIO);
	assert_int_equal(m.run->mmio.phys_addr, DATA_GPA);
	machine_destroy(&m);
}

static void test_no_slot_private_faults(void **state)
{
	(void)state;
	struct machine m;
	machine_create(&m, DATA_NONE, true);
	expect_memory_fault(&m);
	machine_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_shared_reads),
		cmocka_unit_test(test_plain_private_faults),
		cmocka_unit_test(test_gmem_private_served),
		cmocka_unit_test(test_gmem_shared_reads_userspace_addr),
		cmocka_unit_test(test_no_slot_shared_is_mmio),
		cmocka_unit_test(test_no_slot_private_faults),
	};
	/* Without the VM type, use case (a) is modelled: nothing native to test. */
	if (kvm_fixture_lacks(NEED_GUESTS_RUN | NEED_GUEST_MEMFD | NEED_PRIVATE_VM_TYPE))
		return 77;
	if (kvm_fixture_probe(&host) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
