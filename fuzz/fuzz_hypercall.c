// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the hypercall port (vmm/hypercall.c) and the exit
 * path that reaches it (vmm/exits.c, vmm/iotrap.c), over 1 MiB of "guest
 * RAM" in a MODE_SHARED memory map, built once the way tests/test_exits.c
 * builds its fixture. No KVM: every exit is a fabricated struct kvm_run.
 *
 * Input layout (little endian):
 *   [8 bytes  GPA]          the address most operations start from
 *   [4 bytes  offset]       where the payload goes in RAM (mod RAM size)
 *   [1 byte   length]       payload length, mod 65 (at most 64 bytes)
 *   [length bytes payload]  written into RAM: request blocks, strings
 *   [rest     operations]   one byte an operation, its arguments after it
 * Everything written to RAM, and every page made private, is undone after
 * the input, so each input runs against the same all-zero, all-shared RAM.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "exits.h"
#include "gmem.h"
#include "gmemvm_abi.h"
#include "hypercall.h"
#include "iotrap.h"
#include "kvm_abi.h"
#include "memmap.h"
#include "shareability.h"

#define RAM_SIZE       (1ULL << 20)
#define RUN_SIZE       8192
#define IO_DATA_OFFSET 4096
#define MAX_PAYLOAD    64
#define MAX_OPS	       64
#define MAX_DIRTY      128

static struct {
	bool ready;
	uint8_t *ram;
	struct kvm_run *run;
	struct memmap map;
	struct gmem gmem; /* fd -1: discard's hole punch fails with EBADF */
	struct hypercall_device device;
	struct iotrap_registry traps;
	struct exit_context context;
	/* RAM ranges this input may have written, zeroed again after it. */
	struct {
		uint64_t offset, size;
	} dirty[MAX_DIRTY];
	int nr_dirty;
	bool all_dirty;
	bool private_pages;
} f;

static void setup(void)
{
	f.ram = calloc(1, RAM_SIZE);
	f.run = calloc(1, RUN_SIZE);
	if (!f.ram || !f.run)
		abort();
	memmap_init(&f.map);
	f.map.mode = MODE_SHARED;
	f.map.ram_size = RAM_SIZE;
	f.map.host_view = f.ram;
	gmem_init(&f.gmem);
	f.gmem.size = RAM_SIZE;
	if (shareability_init(&f.gmem.shareability, RAM_SIZE, GMEM_PAGE_SIZE, SHAREABILITY_ALL) < 0)
		abort();
	f.map.gmem = &f.gmem;
	pthread_mutex_init(&f.map.lock, NULL);
	f.map.lock_ready = true;
	hypercall_init(&f.device, &f.map, NULL); /* no conversion policy: share/unshare ENOSYS */
	iotrap_init(&f.traps);
	if (hypercall_register(&f.device, &f.traps) < 0)
		abort();
	f.ready = true;
}

static void reset_context(void)
{
	memset(&f.context, 0, sizeof(f.context));
	f.context.traps = &f.traps;
	f.context.ram_size = RAM_SIZE;
}

static void mark_dirty(uint64_t offset, uint64_t size)
{
	if (f.nr_dirty == MAX_DIRTY) {
		f.all_dirty = true;
		return;
	}
	f.dirty[f.nr_dirty].offset = offset;
	f.dirty[f.nr_dirty].size = size;
	f.nr_dirty++;
}

static void clean_up(void)
{
	if (f.all_dirty) {
		memset(f.ram, 0, RAM_SIZE);
	} else {
		for (int i = 0; i < f.nr_dirty; i++) {
			uint64_t offset = f.dirty[i].offset, size = f.dirty[i].size;
			if (offset >= RAM_SIZE)
				continue;
			if (size > RAM_SIZE - offset)
				size = RAM_SIZE - offset;
			memset(f.ram + offset, 0, size);
		}
	}
	f.nr_dirty = 0;
	f.all_dirty = false;
	if (f.private_pages &&
	    shareability_set(&f.gmem.shareability, 0, RAM_SIZE, SHAREABILITY_ALL) < 0)
		abort();
	f.private_pages = false;
	memset(&f.device.stats, 0, sizeof(f.device.stats));
}

/* A cursor over the input: past its end every read gives zeroes. */
struct input {
	const uint8_t *data;
	size_t size, at;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t value = 0;
	for (unsigned i = 0; i < bytes; i++)
		if (in->at < in->size)
			value |= (uint64_t)in->data[in->at++] << (8 * i);
	return value;
}

/* A GPA chosen around interesting places: in range, at the end of RAM,
 * misaligned, near UINT64_MAX, or the input's own GPA moved a little. */
static uint64_t pick_gpa(struct input *in, uint64_t base)
{
	uint8_t kind = (uint8_t)take(in, 1);
	uint64_t delta = take(in, 2);
	switch (kind % 8) {
	case 0:
		return base;
	case 1:
		return base + delta;
	case 2:
		return base - delta;
	case 3:
		return RAM_SIZE - (delta % 128);
	case 4:
		return UINT64_MAX - delta;
	case 5:
		return (delta * 8) % RAM_SIZE + (kind >> 3) % 8; /* aligned, or off by 1..7 */
	case 6:
		return (uint64_t)INT64_MAX - delta;
	default:
		return take(in, 8);
	}
}

static void make_io(uint8_t direction, uint16_t port, uint8_t size, uint32_t count)
{
	memset(f.run, 0, RUN_SIZE);
	f.run->exit_reason = KVM_EXIT_IO;
	f.run->io.direction = direction;
	f.run->io.port = port;
	f.run->io.size = size;
	f.run->io.count = count;
	f.run->io.data_offset = IO_DATA_OFFSET;
}

/* The guest writes a block's GPA to the hypercall port; the result goes
 * back into RAM at gpa + 4 (marked dirty). */
static void port_write(uint32_t gpa)
{
	make_io(KVM_EXIT_IO_OUT, GMEMVM_DEVICE_HYPERCALL, 4, 1);
	memcpy((uint8_t *)f.run + IO_DATA_OFFSET, &gpa, 4);
	mark_dirty((uint64_t)gpa + offsetof(struct gmemvm_hypercall, result), sizeof(int32_t));
	enum exit_action action = exit_dispatch(&f.context, f.run);
	if (action != EXIT_ACTION_CONTINUE && action != EXIT_ACTION_STOP)
		abort();
}

/* Write a request block into RAM (as the guest would) and submit it. */
static void submit(struct input *in, uint64_t base)
{
	struct gmemvm_hypercall block;
	uint64_t gpa = ((uint32_t)pick_gpa(in, base)) & ~7ULL;
	block.op = (uint32_t)take(in, 1) % 8; /* 0, the five ops, and unknown ones */
	block.result = 0x5a5a5a5a;
	for (int i = 0; i < 4; i++)
		block.arg[i] = pick_gpa(in, base);
	if (gpa < RAM_SIZE && sizeof(block) <= RAM_SIZE - gpa) {
		memcpy(f.ram + gpa, &block, sizeof(block));
		mark_dirty(gpa, sizeof(block));
	}
	port_write((uint32_t)gpa);
}

static void run_op(struct input *in, uint64_t base)
{
	uint8_t op = (uint8_t)take(in, 1);
	switch (op % 10) {
	case 0: { /* decode at a chosen GPA */
		struct gmemvm_hypercall request;
		uint64_t gpa = pick_gpa(in, base);
		int rc = hypercall_decode(&f.map, gpa, &request);
		if (rc != GMEMVM_HC_OK && rc != GMEMVM_HC_EINVAL)
			abort();
		/* It must refuse exactly what is misaligned or outside RAM. */
		bool inside = gpa % 8 == 0 && gpa < RAM_SIZE && sizeof(request) <= RAM_SIZE - gpa;
		if (!f.private_pages && (rc == GMEMVM_HC_OK) != inside)
			abort();
		if (rc == GMEMVM_HC_OK && memcmp(&request, f.ram + gpa, sizeof(request)) != 0)
			abort();
		break;
	}
	case 1: { /* read a string into a buffer of exactly its size */
		size_t size = 1 + take(in, 1) % 192;
		char *out = malloc(size);
		if (!out)
			abort();
		hypercall_read_string(&f.map, pick_gpa(in, base), out, size);
		if (strlen(out) >= size)
			abort();
		free(out);
		break;
	}
	case 2: /* the port, at the input's GPA as a 32-bit value */
		port_write((uint32_t)base);
		break;
	case 3: /* the port, at a chosen GPA */
		port_write((uint32_t)pick_gpa(in, base));
		break;
	case 4: /* a whole request block built from the input, then the port */
	case 5:
		submit(in, base);
		break;
	case 6: { /* any port access near the hypercall port: reads, odd sizes, rep */
		static const uint8_t sizes[] = { 1, 2, 4 };
		uint8_t shape = (uint8_t)take(in, 1);
		uint8_t size = sizes[shape % 3];
		uint32_t count = 1 + (shape >> 2) % 4;
		uint16_t port = (uint16_t)(GMEMVM_DEVICE_HYPERCALL - 4 + (shape >> 4) % 12);
		uint8_t direction = (shape & 2) ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
		make_io(direction, port, size, count);
		for (uint32_t i = 0; i < size * count; i++)
			((uint8_t *)f.run)[IO_DATA_OFFSET + i] = (uint8_t)take(in, 1);
		/* A 4-byte write to the port is a request whose result lands at gpa + 4. */
		for (uint32_t i = 0; i < count; i++) {
			uint32_t value;
			memcpy(&value, (uint8_t *)f.run + IO_DATA_OFFSET + i * size, 4);
			mark_dirty((uint64_t)value + offsetof(struct gmemvm_hypercall, result), 4);
		}
		exit_dispatch(&f.context, f.run);
		break;
	}
	case 7: { /* make some pages private (GUEST): the host must not read them */
		uint64_t page = take(in, 2) % (RAM_SIZE / GMEM_PAGE_SIZE);
		uint64_t pages = 1 + take(in, 1) % 8;
		if (pages > RAM_SIZE / GMEM_PAGE_SIZE - page)
			pages = RAM_SIZE / GMEM_PAGE_SIZE - page;
		if (shareability_set(&f.gmem.shareability, page * GMEM_PAGE_SIZE,
				     pages * GMEM_PAGE_SIZE, SHAREABILITY_GUEST) < 0)
			abort();
		f.private_pages = true;
		break;
	}
	case 8: { /* write a few bytes into RAM, as the guest would between calls */
		uint64_t gpa = take(in, 3) % RAM_SIZE;
		uint64_t length = take(in, 1) % 16;
		for (uint64_t i = 0; i < length && gpa + i < RAM_SIZE; i++)
			f.ram[gpa + i] = (uint8_t)take(in, 1);
		mark_dirty(gpa, length);
		break;
	}
	default: /* the vCPU halts: the outcome reported so far takes effect */
		memset(f.run, 0, RUN_SIZE);
		f.run->exit_reason = KVM_EXIT_HLT;
		exit_dispatch(&f.context, f.run);
		reset_context();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };

	if (!f.ready)
		setup();
	reset_context();

	uint64_t base = take(&in, 8);
	uint64_t offset = take(&in, 4) % RAM_SIZE;
	size_t length = take(&in, 1) % (MAX_PAYLOAD + 1);
	for (size_t i = 0; i < length && offset + i < RAM_SIZE; i++)
		f.ram[offset + i] = (uint8_t)take(&in, 1);
	mark_dirty(offset, length);

	for (int n = 0; n < MAX_OPS && in.at < in.size; n++)
		run_op(&in, base);

	clean_up();
	return 0;
}
