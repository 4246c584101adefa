// SPDX-License-Identifier: MIT
/*
 * Unit tests of the exit handlers (vmm/exits.c), the io-trap registry
 * (vmm/iotrap.c) and the hypercall device (vmm/hypercall.c). No KVM here:
 * every exit is a struct kvm_run fabricated in a zeroed buffer, the way
 * KVM_RUN would leave it, and dispatched with exit_dispatch().
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "exits.h"
#include "gmem.h"
#include "gmemvm_abi.h"
#include "hypercall.h"
#include "iotrap.h"
#include "json.h"
#include "kvm_abi.h"
#include "memmap.h"
#include "shareability.h"
#include "timeline.h"

/* A run page as big as KVM's; port data lives past the struct, as in KVM. */
#define RUN_SIZE       8192
#define IO_DATA_OFFSET 4096

#define TEST_PORT      0x600
#define TEST_PORT_SIZE 8
#define TEST_MMIO_BASE 0xd0000000ULL
#define TEST_MMIO_SIZE 0x1000ULL
#define RAM_SIZE       (4ULL << 20)

/* A device that records every access and answers reads with read_value. */
struct test_device {
	int calls;
	struct iotrap_access last;
	uint64_t values[8]; /* iotrap_value() of the first accesses, in order */
	uint64_t read_value;
	enum iotrap_result result; /* what to reply */
	int outcome;
	const char *message;
};

static void test_device_access(void *opaque, struct iotrap_access *access,
			       struct iotrap_reply *reply)
{
	struct test_device *device = opaque;

	if (!access->is_write)
		iotrap_set_value(access, device->read_value);
	if (device->calls < 8)
		device->values[device->calls] = iotrap_value(access);
	device->calls++;
	device->last = *access;
	reply->result = device->result;
	reply->outcome = device->outcome;
	if (device->message)
		snprintf(reply->message, sizeof(reply->message), "%s", device->message);
}

static void ignore_access(void *opaque, struct iotrap_access *access, struct iotrap_reply *reply)
{
	(void)opaque;
	(void)access;
	(void)reply;
}

struct fixture {
	struct kvm_run *run;
	struct iotrap_registry traps;
	struct exit_context context;
	struct test_device device;
	/* For the hypercall tests: 4 MiB of "guest RAM" seen through host_view. */
	uint8_t *ram;
	struct memmap memory;
	struct gmem gmem; /* only its shareability: all of RAM shared with the host */
	struct hypercall_device hypercall;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->run = calloc(1, RUN_SIZE);
	f->ram = calloc(1, RAM_SIZE);
	if (!f->run || !f->ram)
		return -1;
	iotrap_init(&f->traps);
	f->context.traps = &f->traps;
	f->context.ram_size = RAM_SIZE;
	/* memmap_read() refuses anything not shared RAM: give it a MODE_SHARED
	 * map whose guest_memfd shareability is ALL everywhere, over f->ram. */
	memmap_init(&f->memory);
	f->memory.mode = MODE_SHARED;
	f->memory.ram_size = RAM_SIZE;
	f->memory.host_view = f->ram;
	gmem_init(&f->gmem);
	if (shareability_init(&f->gmem.shareability, RAM_SIZE, GMEM_PAGE_SIZE, SHAREABILITY_ALL) <
	    0)
		return -1;
	f->memory.gmem = &f->gmem;
	pthread_mutex_init(&f->memory.lock, NULL);
	f->memory.lock_ready = true;
	hypercall_init(&f->hypercall, &f->memory, NULL);
	if (iotrap_register(&f->traps, IOTRAP_PIO, TEST_PORT, TEST_PORT_SIZE, "test port",
			    test_device_access, &f->device) < 0 ||
	    iotrap_register(&f->traps, IOTRAP_MMIO, TEST_MMIO_BASE, TEST_MMIO_SIZE, "test mmio",
			    test_device_access, &f->device) < 0 ||
	    hypercall_register(&f->hypercall, &f->traps) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hypercall_destroy(&f->hypercall);
	/* host_view is not the map's own: memmap_destroy leaves f->ram alone. */
	memmap_destroy(&f->memory);
	gmem_destroy(&f->gmem);
	free(f->ram);
	free(f->run);
	free(f);
	return 0;
}

static uint8_t *io_data(struct kvm_run *run)
{
	return (uint8_t *)run + IO_DATA_OFFSET;
}

static void make_io(struct kvm_run *run, uint8_t direction, uint16_t port, uint8_t size,
		    uint32_t count)
{
	memset(run, 0, RUN_SIZE);
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = direction;
	run->io.port = port;
	run->io.size = size;
	run->io.count = count;
	run->io.data_offset = IO_DATA_OFFSET;
}

static void make_mmio(struct kvm_run *run, uint64_t addr, uint32_t len, bool is_write)
{
	memset(run, 0, RUN_SIZE);
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = addr;
	run->mmio.len = len;
	run->mmio.is_write = is_write;
}

static void make_exit(struct kvm_run *run, uint32_t reason)
{
	memset(run, 0, RUN_SIZE);
	run->exit_reason = reason;
}

/* One harmless exit first, so the next one is not the vCPU's first. */
static void make_progress(struct fixture *f)
{
	make_io(f->run, KVM_EXIT_IO_OUT, TEST_PORT, 1, 1);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
}

static void assert_message_has(const struct exit_context *context, const char *word)
{
	if (!strstr(context->message, word))
		fail_msg("message lacks '%s': %s", word, context->message);
}

/* ---- Port IO ----------------------------------------------------------- */

static void test_io_out_registered(void **state)
{
	struct fixture *f = *state;

	make_io(f->run, KVM_EXIT_IO_OUT, TEST_PORT + 2, 4, 1);
	memcpy(io_data(f->run), "\x78\x56\x34\x12", 4);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->device.calls, 1);
	assert_true(f->device.last.is_write);
	assert_int_equal(f->device.last.addr, TEST_PORT + 2);
	assert_int_equal(f->device.last.offset, 2);
	assert_int_equal(f->device.last.size, 4);
	assert_int_equal(iotrap_value(&f->device.last), 0x12345678);
	assert_int_equal(f->context.unhandled_pio, 0);
}

static void test_io_in_writes_back(void **state)
{
	struct fixture *f = *state;

	f->device.read_value = 0xcafe;
	make_io(f->run, KVM_EXIT_IO_IN, TEST_PORT, 2, 1);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->device.calls, 1);
	assert_false(f->device.last.is_write);
	assert_memory_equal(io_data(f->run), "\xfe\xca", 2);
	/* Only size bytes are written back into the run page. */
	assert_int_equal(io_data(f->run)[2], 0);
}

static void test_io_rep_string(void **state)
{
	struct fixture *f = *state;

	/* rep outsw of three words: one device access per element. */
	make_io(f->run, KVM_EXIT_IO_OUT, TEST_PORT, 2, 3);
	memcpy(io_data(f->run), "\x01\x00\x02\x00\x03\x00", 6);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->device.calls, 3);
	assert_int_equal(f->device.values[0], 1);
	assert_int_equal(f->device.values[1], 2);
	assert_int_equal(f->device.values[2], 3);

	/* rep insb fills each element of the buffer. */
	f->device.read_value = 0x5a;
	make_io(f->run, KVM_EXIT_IO_IN, TEST_PORT, 1, 4);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->device.calls, 7);
	assert_memory_equal(io_data(f->run), "\x5a\x5a\x5a\x5a", 4);
	assert_int_equal(io_data(f->run)[4], 0);
	assert_int_equal(f->context.exits[EXIT_KIND_IO], 2);
}

static void test_io_unregistered_port(void **state)
{
	struct fixture *f = *state;

	make_io(f->run, KVM_EXIT_IO_IN, 0x80, 4, 1);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_memory_equal(io_data(f->run), "\xff\xff\xff\xff", 4);
	assert_int_equal(f->context.unhandled_pio, 1);

	make_io(f->run, KVM_EXIT_IO_OUT, 0x80, 1, 1);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->context.unhandled_pio, 2);
	assert_int_equal(f->device.calls, 0);
}

static void test_io_hypercall_port_counted(void **state)
{
	struct fixture *f = *state;

	/* A bad block is refused, but the exit is still a hypercall exit: the
	 * device counts it (the report's exits.hypercall), the run loop an io exit. */
	make_io(f->run, KVM_EXIT_IO_OUT, GMEMVM_DEVICE_HYPERCALL, 4, 1);
	memcpy(io_data(f->run), "\x03\x00\x00\x00", 4);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->hypercall.stats.port_writes, 1);
	assert_int_equal(f->context.exits[EXIT_KIND_HYPERCALL], 0);
	assert_int_equal(f->context.exits[EXIT_KIND_IO], 1);
	assert_int_equal(f->context.exits_total, 1);

	/* Any write exit at the port itself, whatever its size, and a string
	 * instruction once; not a read, nor a write inside the port's 4 bytes. */
	make_io(f->run, KVM_EXIT_IO_OUT, GMEMVM_DEVICE_HYPERCALL, 1, 3);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	make_io(f->run, KVM_EXIT_IO_IN, GMEMVM_DEVICE_HYPERCALL, 4, 1);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	make_io(f->run, KVM_EXIT_IO_OUT, GMEMVM_DEVICE_HYPERCALL + 2, 2, 1);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->hypercall.stats.port_writes, 2);
	assert_int_equal(f->hypercall.stats.requests, 5);
	assert_int_equal(f->context.exits[EXIT_KIND_IO], 4);
}

static void test_io_device_stop(void **state)
{
	struct fixture *f = *state;

	f->device.result = IOTRAP_STOP;
	f->device.outcome = OUTCOME_VMM_ERROR;
	f->device.message = "device gave up";
	make_io(f->run, KVM_EXIT_IO_OUT, TEST_PORT, 1, 4);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	/* The rest of the string is not played after a stop. */
	assert_int_equal(f->device.calls, 1);
	assert_int_equal(f->context.outcome, OUTCOME_VMM_ERROR);
	assert_string_equal(f->context.message, "device gave up");
}

/* --trace: the hypercall device says its port's accesses are requests
 * (IOTRAP_TRACE_REQUESTS), so their raw line goes with --trace=hypercalls;
 * every other access, inside that port's 4 bytes too, with the exits. */
static void test_io_trace_routing(void **state)
{
	struct fixture *f = *state;
	char *exits_text = NULL, *requests_text = NULL;
	size_t exits_size = 0, requests_size = 0;
	FILE *exits = open_memstream(&exits_text, &exits_size);
	FILE *requests = open_memstream(&requests_text, &requests_size);

	assert_non_null(exits);
	assert_non_null(requests);
	f->context.trace = exits;
	f->context.trace_hypercalls = requests;
	make_io(f->run, KVM_EXIT_IO_OUT, GMEMVM_DEVICE_HYPERCALL, 4, 1);
	memcpy(io_data(f->run), "\x03\x00\x00\x00", 4);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	make_io(f->run, KVM_EXIT_IO_IN, GMEMVM_DEVICE_HYPERCALL, 1, 1);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	make_io(f->run, KVM_EXIT_IO_OUT, GMEMVM_DEVICE_HYPERCALL + 2, 2, 1);
	memcpy(io_data(f->run), "\x01\x02", 2);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	make_io(f->run, KVM_EXIT_IO_OUT, TEST_PORT, 1, 1);
	memcpy(io_data(f->run), "\x2a", 1);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	make_io(f->run, KVM_EXIT_IO_IN, 0x80, 1, 1);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	make_mmio(f->run, TEST_MMIO_BASE, 4, true);
	memcpy(f->run->mmio.data, "\x44\x33\x22\x11", 4);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	f->context.trace = f->context.trace_hypercalls = NULL;
	fclose(exits);
	fclose(requests);

	assert_string_equal(requests_text, "[vcpu 0] io write 0x500 size 4 data 0x3 (hypercall)\n"
					   "[vcpu 0] io read 0x500 size 1 data 0xff (hypercall)\n");
	assert_string_equal(exits_text,
			    "[vcpu 0] io write 0x502 size 2 data 0x201 (hypercall)\n"
			    "[vcpu 0] io write 0x600 size 1 data 0x2a (test port)\n"
			    "[vcpu 0] io read 0x80 size 1 data 0xff (no device)\n"
			    "[vcpu 0] mmio write 0xd0000000 size 4 data 0x11223344 (test mmio)\n");
	free(exits_text);
	free(requests_text);
}

/* ---- MMIO -------------------------------------------------------------- */

static void test_mmio_read_registered(void **state)
{
	struct fixture *f = *state;

	f->device.read_value = 0x1122334455667788ULL;
	make_mmio(f->run, TEST_MMIO_BASE + 8, 8, false);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->device.calls, 1);
	assert_int_equal(f->device.last.offset, 8);
	assert_memory_equal(f->run->mmio.data, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	assert_int_equal(f->context.exits[EXIT_KIND_MMIO], 1);
}

static void test_mmio_write_registered(void **state)
{
	struct fixture *f = *state;

	make_mmio(f->run, TEST_MMIO_BASE + 0x10, 4, true);
	memcpy(f->run->mmio.data, "\xef\xbe\xad\xde", 4);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->device.calls, 1);
	assert_true(f->device.last.is_write);
	assert_int_equal(f->device.last.size, 4);
	assert_int_equal(iotrap_value(&f->device.last), 0xdeadbeef);
}

static void test_mmio_unknown_above_ram(void **state)
{
	struct fixture *f = *state;

	make_mmio(f->run, 0xe0000000ULL, 4, false);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_memory_equal(f->run->mmio.data, "\xff\xff\xff\xff", 4);
	assert_int_equal(f->run->mmio.data[4], 0);
	assert_int_equal(f->context.unhandled_mmio, 1);
	assert_int_equal(f->device.calls, 0);
}

static void test_mmio_inside_ram(void **state)
{
	struct fixture *f = *state;

	make_progress(f);
	make_mmio(f->run, 0x200000, 8, false);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_BAD_MMIO);
	assert_message_has(&f->context, "0x200000");
	assert_message_has(&f->context, "userspace_addr");
	assert_int_equal(f->context.unhandled_mmio, 0);
}

static void test_mmio_inside_ram_first_exit_null(void **state)
{
	struct fixture *f = *state;

	f->context.userspace_addr_null = true;
	make_mmio(f->run, 0x1000, 8, false);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_CANNOT_RUN);
	assert_message_has(&f->context, "userspace_addr = NULL");
}

static void test_mmio_bad_length(void **state)
{
	struct fixture *f = *state;
	static const uint32_t lengths[] = { 0, 9 };

	for (size_t i = 0; i < 2; i++) {
		f->context.outcome = OUTCOME_NONE;
		make_mmio(f->run, TEST_MMIO_BASE, lengths[i], false);
		assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
		assert_int_equal(f->context.outcome, OUTCOME_INTERNAL_ERROR);
		assert_message_has(&f->context, lengths[i] ? "length 9" : "length 0");
	}
	assert_int_equal(f->device.calls, 0);
}

/* ---- HLT, shutdown, entry failure, internal errors, memory faults ------ */

static void test_hlt_without_report(void **state)
{
	struct fixture *f = *state;

	make_exit(f->run, KVM_EXIT_HLT);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_GUEST_FAILED);
	assert_message_has(&f->context, "without reporting");
}

static void test_hlt_after_report(void **state)
{
	struct fixture *f = *state;

	f->device.result = IOTRAP_REPORT;
	f->device.outcome = OUTCOME_SHUTDOWN;
	f->device.message = "reported by the test device";
	make_io(f->run, KVM_EXIT_IO_OUT, TEST_PORT, 1, 1);
	/* A report does not stop the vCPU; it waits for the HLT. */
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_true(f->context.reported);

	make_exit(f->run, KVM_EXIT_HLT);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_SHUTDOWN);
	assert_string_equal(f->context.message, "reported by the test device");
}

static void test_shutdown(void **state)
{
	struct fixture *f = *state;

	make_exit(f->run, KVM_EXIT_SHUTDOWN);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_SHUTDOWN);
	assert_message_has(&f->context, "triple fault");
}

static void test_shutdown_first_exit_null(void **state)
{
	struct fixture *f = *state;

	f->context.userspace_addr_null = true;
	make_exit(f->run, KVM_EXIT_SHUTDOWN);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_CANNOT_RUN);

	/* After progress, a shutdown is a shutdown even with NULL. */
	f->context.exits_total = 5;
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_SHUTDOWN);
}

static void test_fail_entry(void **state)
{
	struct fixture *f = *state;

	make_exit(f->run, KVM_EXIT_FAIL_ENTRY);
	f->run->fail_entry.hardware_entry_failure_reason = 0x80000021ULL;
	f->run->fail_entry.cpu = 3;
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_FAIL_ENTRY);
	assert_message_has(&f->context, "0x80000021");
	assert_message_has(&f->context, "cpu 3");
	assert_int_equal(f->context.exits[EXIT_KIND_FAIL_ENTRY], 1);
}

static void test_internal_error_emulation_null(void **state)
{
	struct fixture *f = *state;

	f->context.userspace_addr_null = true;
	make_progress(f);
	make_exit(f->run, KVM_EXIT_INTERNAL_ERROR);
	f->run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_EMULATION_REFUSED);
	assert_message_has(&f->context, "userspace_addr");
}

static void test_internal_error_emulation_null_first_exit(void **state)
{
	struct fixture *f = *state;

	f->context.userspace_addr_null = true;
	make_exit(f->run, KVM_EXIT_INTERNAL_ERROR);
	f->run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_CANNOT_RUN);
	assert_message_has(&f->context, "emulation failure");
}

/* On a host whose memslots are served from guest_memfd the probe says the
 * guest can run, so even a first-exit emulation failure is the emulation
 * being refused, not "cannot run". */
static void test_internal_error_emulation_null_gmem_served(void **state)
{
	struct fixture *f = *state;

	f->context.userspace_addr_null = true;
	f->context.gmem_served = true;
	make_exit(f->run, KVM_EXIT_INTERNAL_ERROR);
	f->run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_EMULATION_REFUSED);
}

static void test_internal_error_emulation(void **state)
{
	struct fixture *f = *state;

	make_exit(f->run, KVM_EXIT_INTERNAL_ERROR);
	f->run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_INTERNAL_ERROR);
	assert_message_has(&f->context, "emulation");
	assert_message_has(&f->context, "suberror 1");
}

static void test_internal_error_other_suberrors(void **state)
{
	struct fixture *f = *state;
	static const struct {
		uint32_t suberror;
		const char *name;
	} cases[] = {
		{ KVM_INTERNAL_ERROR_SIMUL_EX, "exception while delivering an exception" },
		{ KVM_INTERNAL_ERROR_DELIVERY_EV, "event delivery failed" },
		{ KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, "unexpected exit reason" },
		{ 77, "unknown suberror" },
	};

	/* Only suberror 1 is about userspace_addr, even when it is NULL. */
	f->context.userspace_addr_null = true;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_exit(f->run, KVM_EXIT_INTERNAL_ERROR);
		f->run->internal.suberror = cases[i].suberror;
		assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
		assert_int_equal(f->context.outcome, OUTCOME_INTERNAL_ERROR);
		assert_message_has(&f->context, cases[i].name);
	}
	assert_int_equal(f->context.exits[EXIT_KIND_INTERNAL_ERROR], 4);
}

static void test_memory_fault(void **state)
{
	struct fixture *f = *state;
	struct kvm_memory_fault_info *fault;

	make_exit(f->run, KVM_EXIT_MEMORY_FAULT);
	fault = kvm_run_memory_fault(f->run);
	fault->flags = KVM_MEMORY_EXIT_FLAG_PRIVATE;
	fault->gpa = 0x234000;
	fault->size = 0x1000;
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_INTERNAL_ERROR);
	assert_message_has(&f->context, "0x234000");
	assert_message_has(&f->context, "private");
	assert_int_equal(f->context.exits[EXIT_KIND_MEMORY_FAULT], 1);

	fault->flags = 0;
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_message_has(&f->context, "shared");
}

/* The guest's KVM_HC_MAP_GPA_RANGE, as KVM hands it over. */
static void make_map_gpa_range(struct kvm_run *run, uint64_t nr, uint64_t gpa, uint64_t pages,
			       uint64_t attributes)
{
	make_exit(run, KVM_EXIT_HYPERCALL);
	run->hypercall.nr = nr;
	run->hypercall.args[0] = gpa;
	run->hypercall.args[1] = pages;
	run->hypercall.args[2] = attributes;
	run->hypercall.ret = 0x5a5a; /* must be overwritten */
}

/* A hostile guest's KVM_HC_MAP_GPA_RANGE: every malformed request gets an
 * error in rax, nothing is converted, and the vCPU goes on. */
static void test_map_gpa_range_hostile(void **state)
{
	struct fixture *f = *state;
	struct scenario scenario = { .mode = MODE_COCO_INPLACE, .stage = 2 };
	struct conversion_policy policy;
	conversion_init(&policy, &scenario, &f->memory, NULL);
	static const struct {
		uint64_t nr, gpa, pages, attributes;
		int32_t result;
	} requests[] = {
		{ 99, 0x200000, 1, 0, GMEMVM_HC_ENOSYS }, /* not MAP_GPA_RANGE */
		{ GMEMVM_KVM_HC_MAP_GPA_RANGE, 0x200000, 1, 1, GMEMVM_HC_EINVAL }, /* 2 MiB pages */
		{ GMEMVM_KVM_HC_MAP_GPA_RANGE, 0x200000, 1, 1ULL << 5, GMEMVM_HC_EINVAL },
		{ GMEMVM_KVM_HC_MAP_GPA_RANGE, 0x200000, UINT64_MAX, 0, GMEMVM_HC_EINVAL },
		{ GMEMVM_KVM_HC_MAP_GPA_RANGE, 0x200000, (1ULL << 52) + 1, 0, GMEMVM_HC_EINVAL },
		{ GMEMVM_KVM_HC_MAP_GPA_RANGE, RAM_SIZE, 1, 0, GMEMVM_HC_EINVAL },
		{ GMEMVM_KVM_HC_MAP_GPA_RANGE, RAM_SIZE - 4096, 2, 0, GMEMVM_HC_EINVAL },
		{ GMEMVM_KVM_HC_MAP_GPA_RANGE, 0x200800, 1, 0, GMEMVM_HC_EINVAL },
		{ GMEMVM_KVM_HC_MAP_GPA_RANGE, 1ULL << 46, 1, 0,
		  GMEMVM_HC_EINVAL }, /* shared alias */
		/* Well formed, but this guest_memfd cannot convert (no MMAP). */
		{ GMEMVM_KVM_HC_MAP_GPA_RANGE, 0x200000, 1, GMEMVM_MAP_GPA_RANGE_ENCRYPTED,
		  GMEMVM_HC_EPERM },
	};
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		f->context.conversions = &policy;
		make_map_gpa_range(f->run, requests[i].nr, requests[i].gpa, requests[i].pages,
				   requests[i].attributes);
		assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
		assert_int_equal((int64_t)f->run->hypercall.ret, requests[i].result);
	}
	/* Without a conversion policy (no mode converts) the call is unknown. */
	f->context.conversions = NULL;
	make_map_gpa_range(f->run, GMEMVM_KVM_HC_MAP_GPA_RANGE, 0x200000, 1, 0);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_CONTINUE);
	assert_int_equal((int64_t)f->run->hypercall.ret, GMEMVM_HC_ENOSYS);
	assert_int_equal(f->context.exits[EXIT_KIND_MAP_GPA_RANGE],
			 sizeof(requests) / sizeof(requests[0]) + 1);
	struct conversion_stats stats = conversion_read_stats(&policy);
	assert_int_equal(stats.pages_to_private + stats.pages_to_shared, 0);
	conversion_destroy(&policy);
}

/* The JSON report stays valid UTF-8 whatever bytes a path holds. */
static void test_json_string_is_utf8(void **state)
{
	(void)state;
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	assert_non_null(out);
	json_print_string(out, "caf\xc3\xa9 \"q\" \\ \x01 \xff \xc3( \xed\xa0\x80 \xe2\x82");
	fclose(out);
	assert_string_equal(text, "\"caf\xc3\xa9 \\\"q\\\" \\\\ \\u0001 \\ufffd \\ufffd( "
				  "\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"");
	free(text);
}

static void test_unknown_exit(void **state)
{
	struct fixture *f = *state;

	make_exit(f->run, 1234);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_UNKNOWN_EXIT);
	assert_message_has(&f->context, "1234");
	assert_message_has(&f->context, "cleanly");
	assert_int_equal(f->context.exits[EXIT_KIND_UNKNOWN], 1);
}

static void test_exit_counts(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 3; i++) {
		make_io(f->run, KVM_EXIT_IO_OUT, TEST_PORT, 1, 1);
		exit_dispatch(&f->context, f->run);
	}
	make_io(f->run, KVM_EXIT_IO_OUT, GMEMVM_DEVICE_HYPERCALL, 4, 1);
	exit_dispatch(&f->context, f->run);
	for (int i = 0; i < 2; i++) {
		make_mmio(f->run, TEST_MMIO_BASE, 4, false);
		exit_dispatch(&f->context, f->run);
	}
	static const uint32_t others[] = { KVM_EXIT_HLT,	  KVM_EXIT_SHUTDOWN,
					   KVM_EXIT_FAIL_ENTRY,	  KVM_EXIT_INTERNAL_ERROR,
					   KVM_EXIT_MEMORY_FAULT, 1234 };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		make_exit(f->run, others[i]);
		exit_dispatch(&f->context, f->run);
	}

	assert_int_equal(f->context.exits[EXIT_KIND_IO], 4);
	assert_int_equal(f->hypercall.stats.port_writes, 1);
	assert_int_equal(f->context.exits[EXIT_KIND_MMIO], 2);
	assert_int_equal(f->context.exits[EXIT_KIND_HLT], 1);
	assert_int_equal(f->context.exits[EXIT_KIND_SHUTDOWN], 1);
	assert_int_equal(f->context.exits[EXIT_KIND_FAIL_ENTRY], 1);
	assert_int_equal(f->context.exits[EXIT_KIND_INTERNAL_ERROR], 1);
	assert_int_equal(f->context.exits[EXIT_KIND_MEMORY_FAULT], 1);
	assert_int_equal(f->context.exits[EXIT_KIND_UNKNOWN], 1);
	/* Hypercall exits are a subset of IO exits, not counted twice. */
	assert_int_equal(f->context.exits_total, 12);
}

/* ---- The io-trap registry ---------------------------------------------- */

static void test_iotrap_overlap_and_adjacent(void **state)
{
	struct iotrap_registry registry;

	(void)state;
	iotrap_init(&registry);
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_PIO, 0x100, 0x10, "a", ignore_access, NULL), 0);
	/* Overlapping the start, the end, inside and around: all refused. */
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_PIO, 0xf8, 0x10, "x", ignore_access, NULL),
		-EBUSY);
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_PIO, 0x10f, 0x4, "x", ignore_access, NULL),
		-EBUSY);
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_PIO, 0x104, 0x1, "x", ignore_access, NULL),
		-EBUSY);
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_PIO, 0x0, 0x1000, "x", ignore_access, NULL),
		-EBUSY);
	/* Touching either end is fine. */
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_PIO, 0x110, 0x8, "after", ignore_access, NULL),
		0);
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_PIO, 0xf0, 0x10, "before", ignore_access, NULL),
		0);
	assert_int_equal(registry.count[IOTRAP_PIO], 3);
	/* The spaces are separate: the same numbers are free as MMIO. */
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_MMIO, 0x100, 0x10, "m", ignore_access, NULL), 0);

	assert_string_equal(iotrap_lookup(&registry, IOTRAP_PIO, 0xff, 1)->name, "before");
	assert_string_equal(iotrap_lookup(&registry, IOTRAP_PIO, 0x100, 1)->name, "a");
	assert_string_equal(iotrap_lookup(&registry, IOTRAP_PIO, 0x117, 1)->name, "after");
	assert_null(iotrap_lookup(&registry, IOTRAP_PIO, 0x118, 1));
	assert_null(iotrap_lookup(&registry, IOTRAP_PIO, 0xef, 1));
}

static void test_iotrap_lookup_straddling(void **state)
{
	struct iotrap_registry registry;

	(void)state;
	iotrap_init(&registry);
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_MMIO, 0x1000, 0x10, "a", ignore_access, NULL), 0);
	assert_non_null(iotrap_lookup(&registry, IOTRAP_MMIO, 0x1008, 8));
	/* Half the access would fall outside the device. */
	assert_null(iotrap_lookup(&registry, IOTRAP_MMIO, 0x100c, 8));
	assert_null(iotrap_lookup(&registry, IOTRAP_MMIO, 0xffc, 8));
}

static void test_iotrap_refusals(void **state)
{
	struct iotrap_registry registry;

	(void)state;
	iotrap_init(&registry);
	assert_int_equal(
		iotrap_register(&registry, IOTRAP_MMIO, 0x1000, 0, "empty", ignore_access, NULL),
		-EINVAL);
	assert_int_equal(iotrap_register(&registry, IOTRAP_MMIO, UINT64_MAX - 0xf, 0x20, "wraps",
					 ignore_access, NULL),
			 -EINVAL);
	assert_int_equal(registry.count[IOTRAP_MMIO], 0);

	for (int i = 0; i < IOTRAP_MAX_RANGES; i++)
		assert_int_equal(iotrap_register(&registry, IOTRAP_PIO, 0x100 + 0x10 * (uint64_t)i,
						 0x10, "dev", ignore_access, NULL),
				 0);
	assert_int_equal(iotrap_register(&registry, IOTRAP_PIO, 0x1000, 0x10, "one too many",
					 ignore_access, NULL),
			 -ENOSPC);
	assert_int_equal(registry.count[IOTRAP_PIO], IOTRAP_MAX_RANGES);
	/* Sorted despite being full: every range is still found. */
	for (int i = 0; i < IOTRAP_MAX_RANGES; i++)
		assert_non_null(
			iotrap_lookup(&registry, IOTRAP_PIO, 0x10f + 0x10 * (uint64_t)i, 1));
}

/* ---- The hypercall device, end to end through exit_dispatch ------------ */

#define BLOCK_GPA 0x300000ULL

static struct gmemvm_hypercall *put_block(struct fixture *f, uint64_t gpa, uint32_t op)
{
	struct gmemvm_hypercall *block = (struct gmemvm_hypercall *)(f->ram + gpa);

	memset(block, 0, sizeof(*block));
	block->op = op;
	block->result = 12345; /* the VMM must overwrite it */
	return block;
}

static enum exit_action hypercall(struct fixture *f, uint64_t gpa, uint8_t size)
{
	make_io(f->run, KVM_EXIT_IO_OUT, GMEMVM_DEVICE_HYPERCALL, size, 1);
	for (uint8_t i = 0; i < size; i++)
		io_data(f->run)[i] = (uint8_t)(gpa >> (8 * i));
	return exit_dispatch(&f->context, f->run);
}

static void test_hypercall_done_ok(void **state)
{
	struct fixture *f = *state;
	struct gmemvm_hypercall *block = put_block(f, BLOCK_GPA, GMEMVM_HC_DONE);

	assert_int_equal(hypercall(f, BLOCK_GPA, 4), EXIT_ACTION_CONTINUE);
	assert_int_equal(block->result, GMEMVM_HC_OK);
	assert_true(f->context.reported);
	assert_int_equal(f->context.reported_outcome, OUTCOME_DONE);
	assert_int_equal(f->hypercall.stats.requests, 1);
	assert_int_equal(f->hypercall.stats.done, 1);

	make_exit(f->run, KVM_EXIT_HLT);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_DONE);
}

static void test_hypercall_done_failed(void **state)
{
	struct fixture *f = *state;
	struct gmemvm_hypercall *block = put_block(f, BLOCK_GPA, GMEMVM_HC_DONE);

	block->arg[0] = 1;
	block->arg[1] = 7;
	assert_int_equal(hypercall(f, BLOCK_GPA, 4), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->context.reported_outcome, OUTCOME_GUEST_FAILED);

	make_exit(f->run, KVM_EXIT_HLT);
	assert_int_equal(exit_dispatch(&f->context, f->run), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_GUEST_FAILED);
	assert_message_has(&f->context, "step 7");
}

static void test_hypercall_assert(void **state)
{
	struct fixture *f = *state;
	struct gmemvm_hypercall *block = put_block(f, BLOCK_GPA, GMEMVM_HC_ASSERT);

	strcpy((char *)f->ram + 0x310000, "guest/main.c");
	strcpy((char *)f->ram + 0x310100, "value == expected");
	block->arg[0] = 0x310000;
	block->arg[1] = 42;
	block->arg[2] = 0x310100;
	assert_int_equal(hypercall(f, BLOCK_GPA, 4), EXIT_ACTION_STOP);
	assert_int_equal(f->context.outcome, OUTCOME_GUEST_FAILED);
	assert_message_has(&f->context, "guest/main.c:42: value == expected");
	assert_int_equal(f->hypercall.stats.asserts, 1);
}

static void test_hypercall_unknown_op(void **state)
{
	struct fixture *f = *state;
	struct gmemvm_hypercall *block = put_block(f, BLOCK_GPA, 99);

	assert_int_equal(hypercall(f, BLOCK_GPA, 4), EXIT_ACTION_CONTINUE);
	assert_int_equal(block->result, GMEMVM_HC_ENOSYS);
	assert_int_equal(f->hypercall.stats.refused_unknown_op, 1);
	assert_false(f->context.reported);
}

static void test_hypercall_share_not_supported(void **state)
{
	struct fixture *f = *state;
	struct gmemvm_hypercall *block = put_block(f, BLOCK_GPA, GMEMVM_HC_SHARE);

	block->arg[0] = 0x200000;
	block->arg[1] = 0x1000;
	assert_int_equal(hypercall(f, BLOCK_GPA, 4), EXIT_ACTION_CONTINUE);
	assert_int_equal(block->result, GMEMVM_HC_ENOSYS);

	block = put_block(f, BLOCK_GPA, GMEMVM_HC_UNSHARE);
	assert_int_equal(hypercall(f, BLOCK_GPA, 4), EXIT_ACTION_CONTINUE);
	assert_int_equal(block->result, GMEMVM_HC_ENOSYS);
	assert_int_equal(f->hypercall.stats.refused_not_supported, 2);
	assert_int_equal(f->hypercall.stats.refused_unknown_op, 0);
}

/* --timeline: the device records each discard, refused ones with their
 * answer; nothing without a timeline. */
static void test_hypercall_discard_recorded(void **state)
{
	struct fixture *f = *state;
	struct gmemvm_hypercall *block = put_block(f, BLOCK_GPA, GMEMVM_HC_DISCARD);

	block->arg[0] = 0x200001; /* misaligned: refused before any backing is touched */
	block->arg[1] = 0x1000;
	assert_int_equal(hypercall(f, BLOCK_GPA, 4), EXIT_ACTION_CONTINUE);
	assert_int_equal(block->result, GMEMVM_HC_EINVAL);

	struct timeline *timeline = timeline_create(4, RAM_SIZE);
	assert_non_null(timeline);
	f->hypercall.timeline = timeline;
	block = put_block(f, BLOCK_GPA, GMEMVM_HC_DISCARD);
	block->arg[0] = 0x200001;
	block->arg[1] = 0x1000;
	assert_int_equal(hypercall(f, BLOCK_GPA, 4), EXIT_ACTION_CONTINUE);
	assert_int_equal(block->result, GMEMVM_HC_EINVAL);
	assert_int_equal(f->hypercall.stats.refused_discards, 2);
	assert_int_equal(timeline_count(timeline), 1);
	f->hypercall.timeline = NULL;
	timeline_destroy(timeline);
}

static void test_hypercall_bad_blocks(void **state)
{
	struct fixture *f = *state;
	uint8_t *snapshot = malloc(RAM_SIZE);
	/* Misaligned, beyond RAM, and straddling RAM's end. */
	static const uint64_t bad[] = {
		BLOCK_GPA + 4,
		RAM_SIZE + 0x1000,
		RAM_SIZE - 8,
	};

	assert_non_null(snapshot);
	put_block(f, BLOCK_GPA, GMEMVM_HC_DONE);
	f->ram[RAM_SIZE - 8] = GMEMVM_HC_DONE;
	memcpy(snapshot, f->ram, RAM_SIZE);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hypercall(f, bad[i], 4), EXIT_ACTION_CONTINUE);
	/* A 2-byte write carries no whole GPA: refused even though it is valid. */
	assert_int_equal(hypercall(f, BLOCK_GPA, 2), EXIT_ACTION_CONTINUE);

	assert_int_equal(f->hypercall.stats.requests, 4);
	assert_int_equal(f->hypercall.stats.refused_bad_block, 4);
	assert_int_equal(f->hypercall.stats.done, 0);
	assert_false(f->context.reported);
	assert_true(memcmp(snapshot, f->ram, RAM_SIZE) == 0);
	free(snapshot);
}

static void test_hypercall_read_string(void **state)
{
	struct fixture *f = *state;
	char out[32];

	/* Unprintable bytes (control and high) become '.'. */
	memcpy(f->ram + 0x1000, "ab\x01\x7f\xc3z", 7);
	hypercall_read_string(&f->memory, 0x1000, out, sizeof(out));
	assert_string_equal(out, "ab...z");

	/* A string running off the end of RAM stops there. */
	memcpy(f->ram + RAM_SIZE - 3, "xyz", 3);
	hypercall_read_string(&f->memory, RAM_SIZE - 3, out, sizeof(out));
	assert_string_equal(out, "xyz");
	hypercall_read_string(&f->memory, RAM_SIZE + 0x100, out, sizeof(out));
	assert_string_equal(out, "");

	/* At most size - 1 bytes, always terminated. */
	memset(f->ram + 0x2000, 'q', 100);
	hypercall_read_string(&f->memory, 0x2000, out, 5);
	assert_string_equal(out, "qqqq");
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_io_out_registered),
		TEST(test_io_in_writes_back),
		TEST(test_io_rep_string),
		TEST(test_io_unregistered_port),
		TEST(test_io_hypercall_port_counted),
		TEST(test_io_device_stop),
		TEST(test_io_trace_routing),
		TEST(test_mmio_read_registered),
		TEST(test_mmio_write_registered),
		TEST(test_mmio_unknown_above_ram),
		TEST(test_mmio_inside_ram),
		TEST(test_mmio_inside_ram_first_exit_null),
		TEST(test_mmio_bad_length),
		TEST(test_hlt_without_report),
		TEST(test_hlt_after_report),
		TEST(test_shutdown),
		TEST(test_shutdown_first_exit_null),
		TEST(test_fail_entry),
		TEST(test_internal_error_emulation_null),
		TEST(test_internal_error_emulation_null_first_exit),
		TEST(test_internal_error_emulation_null_gmem_served),
		TEST(test_internal_error_emulation),
		TEST(test_internal_error_other_suberrors),
		TEST(test_memory_fault),
		TEST(test_map_gpa_range_hostile),
		cmocka_unit_test(test_json_string_is_utf8),
		TEST(test_unknown_exit),
		TEST(test_exit_counts),
		TEST(test_iotrap_overlap_and_adjacent),
		TEST(test_iotrap_lookup_straddling),
		TEST(test_iotrap_refusals),
		TEST(test_hypercall_done_ok),
		TEST(test_hypercall_done_failed),
		TEST(test_hypercall_assert),
		TEST(test_hypercall_unknown_op),
		TEST(test_hypercall_share_not_supported),
		TEST(test_hypercall_discard_recorded),
		TEST(test_hypercall_bad_blocks),
		TEST(test_hypercall_read_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
