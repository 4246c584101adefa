// SPDX-License-Identifier: MIT
/*
 * The guest memory map (vmm/memmap.c) and the conversion policy
 * (vmm/conversion.c) on the real kernel, for each mode of docs/design.md's table:
 * the memslots each mode binds, the two views of CoCo modes, conversions and
 * what they do to contents (use case (d) keeps them, (a) discards them), the
 * completion of a modelled access, the boot-time populate, the consistency
 * checker (also against a deliberately broken view), and the policy's stage
 * rules, share/unshare requests and memory faults. Every fixture is set up
 * as vm.c does it: gmem_create(..., model = true), then memmap_setup with the
 * shared bit at 46. Needs /dev/kvm; exits 77 (skip) without it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "conversion.h"
#include "gmem.h"
#include "gmemvm_abi.h"
#include "kvm.h"
#include "kvm_fixture.h"
#include "memmap.h"
#include "probe.h"

#define RAM_SIZE (16ULL << 20)
/* The shared-view bit a run takes on this machine (the probe's, by the
 * architecture's rule): 46 on the lab's x86, 39 on arm64's 40-bit IPA. */
#define SHARED_BIT   (host.shared_bit)
#define SHARED_ALIAS (1ULL << SHARED_BIT)
#define PAGE	     GMEM_PAGE_SIZE
#define TEST_GPA     0x200000ULL /* GMEMVM_DATA_GPA: where scenario steps work */
#define TEST_PAGES   4
#define TEST_SIZE    (TEST_PAGES * PAGE)

/* One row of docs/design.md's table, with the guest_memfd flags a run would use. */
struct mode_case {
	enum vm_mode mode;
	bool support_shared, init_private;
	int stage;
};

static struct mode_case case_shared = { MODE_SHARED, true, false, 2 };
static struct mode_case case_pkvm = { MODE_PKVM, true, false, 2 };
static struct mode_case case_inplace = { MODE_COCO_INPLACE, true, false, 2 };
static struct mode_case case_legacy = { MODE_COCO_LEGACY, false, false, 2 };
/* coco-legacy that sets SUPPORT_SHARED with INIT_PRIVATE (stage 2 usage). */
static struct mode_case case_legacy_flags = { MODE_COCO_LEGACY, true, true, 2 };
static struct mode_case case_shared_stage1 = { MODE_SHARED, true, false, 1 };
static struct mode_case case_inplace_private = { MODE_COCO_INPLACE, true, true, 2 };
static struct mode_case case_pkvm_private = { MODE_PKVM, true, true, 2 };

struct fixture {
	const struct mode_case *mode_case;
	int kvm_fd, vm_fd;
	struct kvm_caps caps;
	struct scenario scenario;
	struct gmem gmem;
	struct memmap map;
	struct conversion_policy policy;
	bool policy_ready;
};

/* The host as vm.c sees it: use case (a) is native on a private-memory VM type. */
static struct host_probe host;

static bool native_legacy(const struct mode_case *mode_case)
{
	return mode_case->mode == MODE_COCO_LEGACY && host.private_vm_type;
}

/* Why this kernel cannot run a case (the flags vm.c would ask for), or NULL. */
static const char *case_unsupported(const struct mode_case *mode_case)
{
	static char why[160];
	bool native = native_legacy(mode_case);
	uint64_t supported = native ? host.private_vm_gmem_flags : host.caps.guest_memfd_flags;
	uint64_t needed =
		gmem_kernel_flags(mode_case->support_shared, mode_case->init_private && native);
	/* As vm.c refuses it: the model's private-only guest_memfd on an ordinary VM. */
	if (!native && !mode_case->support_shared && host.private_gmem_binds == 0) {
		snprintf(why, sizeof(why),
			 "this kernel lacks memslots for a guest_memfd without MMAP on an "
			 "ordinary VM (%s)",
			 host.private_gmem_detail);
		return why;
	}
	if (!(needed & ~supported))
		return NULL;
	snprintf(why, sizeof(why), "its guest_memfd lacks flags %#" PRIx64 " (has %#" PRIx64 ")",
		 needed & ~supported, supported);
	return why;
}

static bool is_coco(enum vm_mode mode)
{
	return mode == MODE_COCO_LEGACY || mode == MODE_COCO_INPLACE;
}

/* Everything but coco-legacy converts in place (the contents stay). */
static bool keeps_contents(enum vm_mode mode)
{
	return mode != MODE_COCO_LEGACY;
}

static int setup_mode(void **state)
{
	const struct mode_case *mode_case = *state;
	struct fixture *f = calloc(1, sizeof(*f));
	struct gmemvm_error error = { 0 };
	if (!f)
		return -1;
	f->mode_case = mode_case;
	f->vm_fd = -1;
	gmem_init(&f->gmem);
	memmap_init(&f->map);
	*state = f;

	if (kvm_fixture_open(&f->kvm_fd, &f->vm_fd, &f->caps) < 0)
		return -1;
	bool native = native_legacy(mode_case);
	if (native) {
		close(f->vm_fd);
		f->vm_fd = kvm_create_vm(f->kvm_fd, host.private_vm_type);
		if (f->vm_fd < 0)
			return -1;
	}
	memset(&f->scenario, 0, sizeof(f->scenario));
	f->scenario.mode = mode_case->mode;
	f->scenario.stage = mode_case->stage;
	f->scenario.memory_size = RAM_SIZE;
	f->scenario.vcpus = 1;
	f->scenario.support_shared = mode_case->support_shared;
	f->scenario.init_private = mode_case->init_private;
	if (gmem_create(&f->gmem, f->vm_fd, RAM_SIZE, mode_case->support_shared,
			mode_case->init_private,
			native ? host.private_vm_gmem_flags : f->caps.guest_memfd_flags, !native,
			&error) < 0) {
		fprintf(stderr, "gmem_create: %s\n", error.message);
		return -1;
	}
	int status = memmap_setup(&f->map, &f->scenario, &f->gmem, f->vm_fd, SHARED_BIT, native,
				  (uint32_t)f->caps.nr_memslots, &error);
	if (status != 0) {
		fprintf(stderr, "memmap_setup (%s) returned %d: %s\n",
			config_mode_name(mode_case->mode), status, error.message);
		return -1;
	}
	conversion_init(&f->policy, &f->scenario, &f->map, NULL);
	f->policy_ready = true;
	return 0;
}

static int teardown_mode(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	if (f->policy_ready)
		conversion_destroy(&f->policy);
	memmap_destroy(&f->map);
	gmem_destroy(&f->gmem);
	if (f->vm_fd >= 0)
		close(f->vm_fd);
	if (f->kvm_fd >= 0)
		close(f->kvm_fd);
	free(f);
	return 0;
}

static void assert_consistent(struct fixture *f)
{
	struct gmemvm_error verdict = { 0 };
	if (memmap_check(&f->map, &verdict) != 0)
		fail_msg("memmap_check (%s): %s", config_mode_name(f->map.mode), verdict.message);
}

/* Convert and require that it happened (or, with expect_converted false, that
 * the range was already in that state); the checker must pass afterwards. */
static void convert(struct fixture *f, uint64_t gpa, uint64_t size, bool to_private,
		    struct memmap_completion *completion, bool expect_converted)
{
	struct memmap_conversion done = { .pages = expect_converted ? 0 : 1 };
	assert_int_equal(memmap_convert(&f->map, gpa, size, to_private, completion, &done, NULL),
			 0);
	assert_int_equal(done.pages != 0, expect_converted);
	assert_int_equal(memmap_is_private(&f->map, gpa, size), to_private);
	assert_consistent(f);
}

static void fill(uint8_t *buffer, size_t size, uint8_t seed)
{
	for (size_t i = 0; i < size; i++)
		buffer[i] = (uint8_t)(seed + i * 7);
}

/* ---- Layout ----------------------------------------------------------- */

static void test_setup_slots(void **state)
{
	struct fixture *f = *state;
	struct memmap *map = &f->map;
	assert_int_equal(map->mode, f->mode_case->mode);
	assert_int_equal(map->ram_size, RAM_SIZE);
	assert_non_null(map->host_view);
	if (is_coco(map->mode)) {
		/* Two views, as TDX: private at the GPA (guest_memfd-bound), shared at
		 * GPA | 1 << shared_bit (plain memory), each with memslots only over
		 * the pages it may reach: at set-up every page is shared unless the
		 * guest_memfd starts private. */
		assert_int_equal(map->shared_bit, SHARED_BIT);
		assert_int_equal(map->nr_views, 2);
		const struct memmap_view *private_view = &map->views[0];
		const struct memmap_view *shared_view = &map->views[1];
		assert_string_equal(private_view->role, "private view");
		assert_int_equal(private_view->base, 0);
		assert_true(private_view->guest_memfd);
		assert_string_equal(shared_view->role, "shared view");
		assert_int_equal(shared_view->base, SHARED_ALIAS);
		assert_false(shared_view->guest_memfd);
		if (map->native_attributes) {
			/* A software-protected VM: launch memory, then the private
			 * view covered whole (plain memslots where shared, so a
			 * private access there is KVM's memory fault), and the
			 * shared view whole (its private pages carry the attribute). */
			assert_int_equal(private_view->count, 2);
			assert_true(private_view->slots[0].fixed);
			assert_false(private_view->slots[1].guest_memfd);
			assert_int_equal(shared_view->count, 1);
			convert(f, TEST_GPA, PAGE, true, NULL, true);
			/* TEST_GPA is the first page after the launch memory. */
			assert_int_equal(private_view->count, 3);
			assert_true(private_view->slots[1].guest_memfd);
			assert_int_equal(private_view->slots[1].gpa, TEST_GPA);
			assert_int_equal(private_view->slots[1].size, PAGE);
			assert_false(private_view->slots[2].guest_memfd);
			assert_int_equal(shared_view->count, 1);
			assert_consistent(f);
			return;
		}
		/* Modelled coco-legacy keeps its state in KVM's attributes, which
		 * start shared whatever the flags (test_legacy_attributes_start_shared). */
		bool starts_private =
			f->mode_case->init_private && f->mode_case->mode != MODE_COCO_LEGACY;
		const struct memmap_view *whole = starts_private ? private_view : shared_view;
		const struct memmap_view *empty = starts_private ? shared_view : private_view;
		assert_int_equal(empty->count, 0);
		assert_int_equal(whole->count, 1);
		assert_int_equal(whole->slots[0].gpa, whole->base);
		assert_int_equal(whole->slots[0].size, RAM_SIZE);
		assert_int_equal(whole->slots[0].guest_memfd, whole == private_view);
		/* After a conversion in the middle, the other view gets the hole. */
		convert(f, TEST_GPA, PAGE, !starts_private, NULL, true);
		assert_int_equal(empty->count, 1);
		assert_int_equal(empty->slots[0].gpa, empty->base + TEST_GPA);
		assert_int_equal(empty->slots[0].size, PAGE);
		assert_int_equal(whole->count, 2);
		assert_int_equal(whole->slots[0].size, TEST_GPA);
		assert_int_equal(whole->slots[1].gpa, whole->base + TEST_GPA + PAGE);
	} else {
		/* One view: the shared bit means nothing in these modes. */
		assert_int_equal(map->shared_bit, 0);
		assert_int_equal(memmap_slot_count(map), 1);
		const struct memmap_slot *slot = &map->views[0].slots[0];
		assert_int_equal(slot->slot, 0);
		assert_int_equal(slot->gpa, 0);
		assert_int_equal(slot->size, RAM_SIZE);
		assert_true(slot->guest_memfd);
		assert_string_equal(map->views[0].role,
				    map->mode == MODE_SHARED ? "ram" : "ram (guest's view)");
		/* Every page, private ones too: they stay the guest's. */
		assert_int_equal(slot->userspace_addr,
				 (uint64_t)(uintptr_t)(map->gmem->content_view
							       ? map->gmem->content_view
							       : map->host_view));
	}
	assert_consistent(f);
}

/* In the modes with one view the guest keeps its private pages: what its
 * memslot maps still reads a page after the page went private, while the
 * host's own view gets SIGBUS. */
static void test_guest_keeps_private_pages(void **state)
{
	struct fixture *f = *state;
	struct memmap *map = &f->map;
	uint8_t *host = map->host_view + TEST_GPA;
	memset(host, 0x3c, PAGE);
	convert(f, TEST_GPA, PAGE, true, NULL, true);
	if (!map->gmem->content_view) {
		/* Native conversion: KVM serves the guest from the guest_memfd. */
		assert_int_equal(gmem_host_read_signal(host), SIGBUS);
		return;
	}
	const uint8_t *guest = (const uint8_t *)(uintptr_t)map->views[0].slots[0].userspace_addr;
	assert_int_equal(gmem_host_read_signal(guest + TEST_GPA), 0);
	assert_int_equal(guest[TEST_GPA], 0x3c);
	assert_int_equal(gmem_host_read_signal(host), SIGBUS);
}

static void test_classify(void **state)
{
	struct fixture *f = *state;
	const struct memmap *map = &f->map;
	uint64_t canonical = 0;
	const uint64_t in_ram[] = { 0, PAGE, TEST_GPA + 123, RAM_SIZE - 1 };
	for (size_t i = 0; i < sizeof(in_ram) / sizeof(in_ram[0]); i++) {
		canonical = ~0ULL;
		assert_int_equal(memmap_classify(map, in_ram[i], &canonical), MEMMAP_PRIVATE_VIEW);
		assert_int_equal(canonical, in_ram[i]);
		enum memmap_alias alias =
			memmap_classify(map, in_ram[i] | SHARED_ALIAS, &canonical);
		if (is_coco(map->mode)) {
			assert_int_equal(alias, MEMMAP_SHARED_VIEW);
			assert_int_equal(canonical, in_ram[i]);
		} else {
			assert_int_equal(alias, MEMMAP_NOT_RAM);
		}
	}
	const uint64_t not_ram[] = {
		RAM_SIZE,
		RAM_SIZE + PAGE,
		GMEMVM_TESTDEV_MMIO_GPA,
		SHARED_ALIAS - 1,
		SHARED_ALIAS | RAM_SIZE, /* the alias just beyond RAM */
		(SHARED_ALIAS | RAM_SIZE) + PAGE,
		SHARED_ALIAS << 1, /* the next bit up: no view */
		UINT64_MAX,
	};
	for (size_t i = 0; i < sizeof(not_ram) / sizeof(not_ram[0]); i++)
		assert_int_equal(memmap_classify(map, not_ram[i], &canonical), MEMMAP_NOT_RAM);
}

/* ---- Conversions and host access -------------------------------------- */

static void test_convert_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t buffer[64];
	assert_false(memmap_is_private(&f->map, TEST_GPA, TEST_SIZE));
	assert_int_equal(memmap_write(&f->map, TEST_GPA, "shared", 6), 0);

	convert(f, TEST_GPA, TEST_SIZE, true, NULL, true);
	convert(f, TEST_GPA, TEST_SIZE, true, NULL, false); /* another vCPU was first */
	/* The host may not touch any byte of a private page. */
	assert_int_equal(memmap_read(&f->map, TEST_GPA, buffer, 1), -EFAULT);
	assert_int_equal(memmap_write(&f->map, TEST_GPA + TEST_SIZE - 1, buffer, 1), -EFAULT);
	assert_null(memmap_lookup(&f->map, TEST_GPA, PAGE));
	/* A range that only straddles into the private pages is refused too. */
	assert_int_equal(memmap_read(&f->map, TEST_GPA - 8, buffer, 16), -EFAULT);
	assert_int_equal(memmap_read(&f->map, TEST_GPA + TEST_SIZE - 8, buffer, 16), -EFAULT);
	/* Its neighbours stay shared and usable. */
	assert_false(memmap_is_private(&f->map, TEST_GPA - PAGE, PAGE));
	assert_false(memmap_is_private(&f->map, TEST_GPA, TEST_SIZE + PAGE));
	assert_int_equal(memmap_read(&f->map, TEST_GPA - 8, buffer, 8), 0);
	assert_int_equal(memmap_read(&f->map, TEST_GPA + TEST_SIZE, buffer, 8), 0);

	convert(f, TEST_GPA, TEST_SIZE, false, NULL, true);
	convert(f, TEST_GPA, TEST_SIZE, false, NULL, false);
	assert_int_equal(memmap_write(&f->map, TEST_GPA, "again", 5), 0);
	assert_int_equal(memmap_read(&f->map, TEST_GPA, buffer, 5), 0);
	assert_memory_equal(buffer, "again", 5);
	assert_non_null(memmap_lookup(&f->map, TEST_GPA, TEST_SIZE));

	/* A single page in the middle, then part of a range: mixed states. */
	convert(f, TEST_GPA + PAGE, PAGE, true, NULL, true);
	assert_false(memmap_is_private(&f->map, TEST_GPA, TEST_SIZE));
	convert(f, TEST_GPA, TEST_SIZE, true, NULL, true); /* partly private: converts */
	convert(f, TEST_GPA, TEST_SIZE, false, NULL, true);
}

static void test_convert_bad_range(void **state)
{
	struct fixture *f = *state;
	struct memmap_conversion done = { .pages = 1 };
	struct gmemvm_error error = { 0 };
	/* Outside RAM, straddling its end, unaligned, empty: -EINVAL, refused,
	 * nothing changes. */
	assert_int_equal(memmap_convert(&f->map, RAM_SIZE, PAGE, true, NULL, &done, &error),
			 -EINVAL);
	assert_int_equal(done.pages, 0);
	assert_true(error.refused);
	done.pages = 1;
	assert_int_equal(
		memmap_convert(&f->map, RAM_SIZE - PAGE, 2 * PAGE, true, NULL, &done, NULL),
		-EINVAL);
	assert_int_equal(done.pages, 0);
	assert_int_equal(memmap_convert(&f->map, TEST_GPA + 1, PAGE, true, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(memmap_convert(&f->map, TEST_GPA, PAGE + 1, true, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(memmap_convert(&f->map, TEST_GPA, 0, true, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(
		memmap_convert(&f->map, UINT64_MAX - PAGE + 1, PAGE, true, NULL, NULL, NULL),
		-EINVAL);
	assert_false(memmap_is_private(&f->map, RAM_SIZE - PAGE, PAGE));
	assert_false(memmap_is_private(&f->map, TEST_GPA, PAGE));
	assert_consistent(f);
}

static void test_access_bounds(void **state)
{
	struct fixture *f = *state;
	uint8_t buffer[32] = { 0 };
	/* Shared RAM up to its last byte works ... */
	assert_int_equal(memmap_write(&f->map, RAM_SIZE - 8, "lastbyte", 8), 0);
	assert_int_equal(memmap_read(&f->map, RAM_SIZE - 8, buffer, 8), 0);
	assert_memory_equal(buffer, "lastbyte", 8);
	assert_int_equal(memmap_read(&f->map, 0, buffer, 8), 0);
	/* ... beyond it, straddling its end, empty or overflowing does not. */
	assert_int_equal(memmap_read(&f->map, RAM_SIZE, buffer, 1), -EFAULT);
	assert_int_equal(memmap_write(&f->map, RAM_SIZE, buffer, 1), -EFAULT);
	assert_int_equal(memmap_read(&f->map, RAM_SIZE - 8, buffer, 16), -EFAULT);
	assert_int_equal(memmap_write(&f->map, RAM_SIZE - 8, buffer, 16), -EFAULT);
	assert_int_equal(memmap_read(&f->map, 0, buffer, 0), -EFAULT);
	assert_int_equal(memmap_read(&f->map, UINT64_MAX - 3, buffer, 8), -EFAULT);
	assert_int_equal(memmap_write(&f->map, 8, buffer, UINT64_MAX), -EFAULT);
	/* The shared alias is not a host address: the host uses canonical GPAs. */
	assert_int_equal(memmap_read(&f->map, SHARED_ALIAS | TEST_GPA, buffer, 8), -EFAULT);
	assert_null(memmap_lookup(&f->map, RAM_SIZE - 8, 16));
	assert_false(memmap_is_private(&f->map, RAM_SIZE, PAGE));
}

/* Use case (d) keeps contents across a conversion round trip, (a) does not. */
static void test_contents_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t written[TEST_SIZE], read_back[TEST_SIZE], zeroes[TEST_SIZE] = { 0 };
	fill(written, sizeof(written), 0x5a);
	assert_int_equal(memmap_write(&f->map, TEST_GPA, written, sizeof(written)), 0);
	convert(f, TEST_GPA, TEST_SIZE, true, NULL, true);
	convert(f, TEST_GPA, TEST_SIZE, false, NULL, true);
	assert_int_equal(memmap_read(&f->map, TEST_GPA, read_back, sizeof(read_back)), 0);
	if (keeps_contents(f->map.mode))
		assert_memory_equal(read_back, written, sizeof(written));
	else
		assert_memory_equal(read_back, zeroes, sizeof(zeroes));
	/* Only the converted range is affected. */
	uint8_t outside[8];
	assert_int_equal(memmap_write(&f->map, TEST_GPA + TEST_SIZE, "neighbor", 8), 0);
	convert(f, TEST_GPA, TEST_SIZE, true, NULL, true);
	assert_int_equal(memmap_read(&f->map, TEST_GPA + TEST_SIZE, outside, 8), 0);
	assert_memory_equal(outside, "neighbor", 8);
}

/* The access that faulted is finished by the conversion, under its lock. */
static void test_completion(void **state)
{
	struct fixture *f = *state;
	const uint64_t gpa = TEST_GPA + 16;
	uint8_t shared_bytes[8] = "SHAREDxx";
	uint8_t write_data[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	uint8_t read_data[8];
	uint8_t zeroes[8] = { 0 };
	assert_int_equal(memmap_write(&f->map, gpa, shared_bytes, 8), 0);

	/* A read through the private view of a shared page: converted, then the
	 * read sees what a retry would (the same bytes in place; nothing for (a)). */
	struct memmap_completion read = {
		.gpa = gpa, .shared_view = false, .is_write = false, .length = 8, .data = read_data
	};
	memset(read_data, 0xee, sizeof(read_data));
	convert(f, TEST_GPA, PAGE, true, &read, true);
	assert_memory_equal(read_data, keeps_contents(f->map.mode) ? shared_bytes : zeroes, 8);

	/* A write through the private view, completed on an already-private page. */
	struct memmap_completion write = {
		.gpa = gpa, .shared_view = false, .is_write = true, .length = 8, .data = write_data
	};
	convert(f, TEST_GPA, PAGE, true, &write, false);
	memset(read_data, 0, sizeof(read_data));
	convert(f, TEST_GPA, PAGE, true, &read, false);
	assert_memory_equal(read_data, write_data, 8);

	/* Back to shared: in place the written bytes are what the host sees. */
	convert(f, TEST_GPA, PAGE, false, NULL, true);
	assert_int_equal(memmap_read(&f->map, gpa, read_data, 8), 0);
	assert_memory_equal(read_data, keeps_contents(f->map.mode) ? write_data : zeroes, 8);

	/* A write through the shared view that made the page shared lands in
	 * the contents the host reads. */
	convert(f, TEST_GPA, PAGE, true, NULL, true);
	uint8_t shared_write[8] = "viashare";
	struct memmap_completion write_shared = {
		.gpa = gpa, .shared_view = true, .is_write = true, .length = 8, .data = shared_write
	};
	convert(f, TEST_GPA, PAGE, false, &write_shared, true);
	assert_int_equal(memmap_read(&f->map, gpa, read_data, 8), 0);
	assert_memory_equal(read_data, shared_write, 8);
	struct memmap_completion read_shared = {
		.gpa = gpa, .shared_view = true, .is_write = false, .length = 8, .data = read_data
	};
	memset(read_data, 0, sizeof(read_data));
	convert(f, TEST_GPA, PAGE, false, &read_shared, false);
	assert_memory_equal(read_data, shared_write, 8);
}

/* A failed conversion does not perform the access. */
static void test_completion_skipped_on_error(void **state)
{
	struct fixture *f = *state;
	uint8_t data[8] = "untouchd";
	struct memmap_completion read = {
		.gpa = TEST_GPA, .shared_view = false, .is_write = false, .length = 8, .data = data
	};
	assert_int_equal(memmap_convert(&f->map, TEST_GPA + 1, PAGE, true, &read, NULL, NULL),
			 -EINVAL);
	assert_memory_equal(data, "untouchd", 8);
}

/* The boot image goes into private memory, whatever the page's state. */
static void test_populate(void **state)
{
	struct fixture *f = *state;
	uint8_t image[2 * PAGE], read_back[2 * PAGE];
	fill(image, sizeof(image), 0x3c);
	convert(f, TEST_GPA, 2 * PAGE, true, NULL, true);
	memmap_populate(&f->map, TEST_GPA, image, sizeof(image));
	/* Still private: the host may not read what it loaded. */
	assert_true(memmap_is_private(&f->map, TEST_GPA, 2 * PAGE));
	assert_int_equal(memmap_read(&f->map, TEST_GPA, read_back, 8), -EFAULT);
	assert_consistent(f);
	if (keeps_contents(f->map.mode)) {
		convert(f, TEST_GPA, 2 * PAGE, false, NULL, true);
		assert_int_equal(memmap_read(&f->map, TEST_GPA, read_back, sizeof(read_back)), 0);
		assert_memory_equal(read_back, image, sizeof(image));
	} else {
		/* coco-legacy: the private contents are what the guest's private
		 * view reads; a read completion shows them. */
		struct memmap_completion read = { .gpa = TEST_GPA + PAGE - 4,
						  .is_write = false,
						  .length = 8,
						  .data = read_back };
		convert(f, TEST_GPA, 2 * PAGE, true, &read, false);
		assert_memory_equal(read_back, image + PAGE - 4, 8);
		assert_memory_equal(f->map.private_contents + TEST_GPA, image, sizeof(image));
	}
}

/* ---- The checker against a broken view -------------------------------- */

static void break_page(uint8_t *address)
{
	void *mapped = mmap(address, PAGE, PROT_READ | PROT_WRITE,
			    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_equal(mapped, address);
}

static void expect_check_names(struct fixture *f, const char *view_name)
{
	struct gmemvm_error verdict = { 0 };
	/* A verdict, not a failed call: -EUCLEAN and no step. */
	assert_int_equal(memmap_check(&f->map, &verdict), -EUCLEAN);
	assert_false(verdict.refused);
	assert_string_equal(gmemvm_error_step(&verdict), "");
	if (!strstr(verdict.message, view_name))
		fail_msg("memmap_check's error does not name %s: %s", view_name, verdict.message);
}

static void test_check_broken_private_view(void **state)
{
	struct fixture *f = *state;
	convert(f, TEST_GPA, TEST_SIZE, true, NULL, true);
	/* A memslot that no longer covers what the state says. */
	struct memmap_view *view = &f->map.views[0];
	assert_true(view->count > 0);
	view->slots[view->count - 1].size -= PAGE;
	expect_check_names(f, "the private view");
	view->slots[view->count - 1].size += PAGE;
}

static void test_check_broken_private_view_shared_page(void **state)
{
	struct fixture *f = *state;
	/* A memslot in the shared view where the pages are private. */
	convert(f, TEST_GPA, TEST_SIZE, true, NULL, true);
	struct memmap_view *view = &f->map.views[1];
	assert_true(view->count > 1);
	view->slots[1].offset -= PAGE;
	expect_check_names(f, "the shared view");
	view->slots[1].offset += PAGE;
}

static void test_check_broken_host_view(void **state)
{
	struct fixture *f = *state;
	convert(f, TEST_GPA, TEST_SIZE, true, NULL, true);
	/* Over a private page: it must SIGBUS, anonymous memory does not. */
	break_page(f->map.host_view + TEST_GPA);
	expect_check_names(f, "the host view");
}

static void test_check_broken_host_view_shared_page(void **state)
{
	struct fixture *f = *state;
	break_page(f->map.host_view + TEST_GPA + TEST_SIZE);
	expect_check_names(f, "the host view");
}

/* ---- The conversion policy: the stage rules ---------------------------- */

struct stage_cell {
	enum vm_mode mode;
	int stage;
	bool support_shared, init_private;
	const char *refusal; /* NULL: accepted; else a part of the quoted rule */
};

static void test_stage_rules(void **state)
{
	(void)state;
	static const struct stage_cell cells[] = {
		/* Refusals, with the rule they quote. */
		{ MODE_PKVM, 1, true, false, "pKVM cannot use stage 1" },
		{ MODE_PKVM, 1, false, false, "pKVM cannot use stage 1" },
		{ MODE_PKVM, 1, true, true, "pKVM cannot use stage 1" },
		{ MODE_COCO_INPLACE, 1, true, false, "stage 1" },
		{ MODE_COCO_INPLACE, 1, true, false, "Coco VM" },
		{ MODE_COCO_INPLACE, 1, true, true, "stage 1 refuses" },
		{ MODE_COCO_LEGACY, 1, true, false, "stage 1 refuses" },
		{ MODE_COCO_LEGACY, 1, true, true, "stage 1 refuses" },
		{ MODE_SHARED, 1, true, true, "INIT_PRIVATE) does not exist in stage 1" },
		{ MODE_COCO_LEGACY, 1, false, true, "INIT_PRIVATE) does not exist in stage 1" },
		{ MODE_PKVM, 2, false, false, "mode pkvm keeps shared memory in the guest_memfd" },
		{ MODE_COCO_INPLACE, 2, false, false, "mode coco-inplace keeps shared memory" },
		{ MODE_SHARED, 2, false, false, "mode shared keeps shared memory" },
		{ MODE_SHARED, 1, false, false, "SUPPORT_SHARED" },
		{ MODE_COCO_INPLACE, 2, false, true, "needs GUEST_MEMFD_FLAG_MMAP" },
		{ MODE_COCO_LEGACY, 2, true, false, "only on a file private by default" },
		{ MODE_COCO_LEGACY, 2, false, true, "private anyway" },
		/* Accepted cells. */
		{ MODE_COCO_LEGACY, 1, false, false, NULL },
		{ MODE_COCO_LEGACY, 2, false, false, NULL },
		{ MODE_COCO_LEGACY, 2, true, true, NULL },
		{ MODE_SHARED, 1, true, false, NULL },
		{ MODE_SHARED, 2, true, false, NULL },
		{ MODE_SHARED, 2, true, true, NULL },
		{ MODE_PKVM, 2, true, false, NULL },
		{ MODE_PKVM, 2, true, true, NULL },
		{ MODE_COCO_INPLACE, 2, true, false, NULL },
		{ MODE_COCO_INPLACE, 2, true, true, NULL },
	};
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		const struct stage_cell *cell = &cells[i];
		struct scenario scenario;
		memset(&scenario, 0, sizeof(scenario));
		scenario.mode = cell->mode;
		scenario.stage = cell->stage;
		scenario.memory_size = RAM_SIZE;
		scenario.vcpus = 1;
		scenario.support_shared = cell->support_shared;
		scenario.init_private = cell->init_private;
		struct gmemvm_error why = { 0 };
		int status = conversion_check_stage(&scenario, &why);
		const char *name = config_mode_name(cell->mode);
		if (!cell->refusal) {
			if (status != 0)
				fail_msg("%s stage %d (shared %d, private %d) refused: %s", name,
					 cell->stage, cell->support_shared, cell->init_private,
					 why.message);
			continue;
		}
		if (status != -EINVAL || !why.refused)
			fail_msg("%s stage %d (shared %d, private %d) accepted, want \"%s\"", name,
				 cell->stage, cell->support_shared, cell->init_private,
				 cell->refusal);
		if (!strstr(why.message, cell->refusal))
			fail_msg(
				"%s stage %d (shared %d, private %d): \"%s\" does not quote \"%s\"",
				name, cell->stage, cell->support_shared, cell->init_private,
				why.message, cell->refusal);
	}
}

/* ---- The conversion policy: share/unshare requests --------------------- */

static void test_request_malformed(void **state)
{
	struct fixture *f = *state;
	const struct {
		uint64_t gpa, size;
	} bad[] = {
		{ TEST_GPA, 0 },		     /* empty */
		{ TEST_GPA + 8, PAGE },		     /* misaligned gpa */
		{ TEST_GPA, PAGE + 8 },		     /* misaligned size */
		{ UINT64_MAX - PAGE + 1, 2 * PAGE }, /* gpa + size overflows */
		{ PAGE, UINT64_MAX - PAGE + 1 },     /* so does this */
		{ RAM_SIZE, PAGE },		     /* beyond RAM */
		{ SHARED_ALIAS | TEST_GPA, PAGE },   /* the alias is not canonical */
		{ RAM_SIZE - PAGE, 2 * PAGE },	     /* straddles the end */
	};
	size_t count = sizeof(bad) / sizeof(bad[0]);
	for (size_t i = 0; i < count; i++) {
		for (int to_private = 0; to_private <= 1; to_private++)
			assert_int_equal(conversion_on_request(&f->policy, 0, bad[i].gpa,
							       bad[i].size, to_private, NULL),
					 GMEMVM_HC_EINVAL);
	}
	struct conversion_stats stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.refused, 2 * count);
	assert_int_equal(stats.by_hypercall, 0);
	assert_int_equal(stats.pages_to_private + stats.pages_to_shared, 0);
	assert_false(memmap_is_private(&f->map, RAM_SIZE - PAGE, PAGE));
	assert_false(memmap_is_private(&f->map, TEST_GPA, PAGE));
	assert_consistent(f);
}

static void test_request_converts(void **state)
{
	struct fixture *f = *state;
	bool pkvm = f->map.mode == MODE_PKVM;
	assert_int_equal(conversion_on_request(&f->policy, 0, TEST_GPA, TEST_SIZE, true, NULL),
			 GMEMVM_HC_OK);
	assert_true(memmap_is_private(&f->map, TEST_GPA, TEST_SIZE));
	assert_consistent(f);
	struct conversion_stats stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.pages_to_private, TEST_PAGES);
	assert_int_equal(stats.pages_to_shared, 0);
	assert_int_equal(stats.by_hypercall, 1);
	assert_int_equal(stats.hypervisor_side, pkvm ? 1 : 0);

	/* Asking again is fine and converts nothing. */
	assert_int_equal(conversion_on_request(&f->policy, 0, TEST_GPA, TEST_SIZE, true, NULL),
			 GMEMVM_HC_OK);
	stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.pages_to_private, TEST_PAGES);
	assert_int_equal(stats.by_hypercall, 1);

	assert_int_equal(conversion_on_request(&f->policy, 1, TEST_GPA, PAGE, false, NULL),
			 GMEMVM_HC_OK);
	assert_false(memmap_is_private(&f->map, TEST_GPA, PAGE));
	assert_true(memmap_is_private(&f->map, TEST_GPA + PAGE, TEST_SIZE - PAGE));
	assert_consistent(f);
	stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.pages_to_shared, 1);
	assert_int_equal(stats.by_hypercall, 2);
	assert_int_equal(stats.hypervisor_side, pkvm ? 2 : 0);
	assert_int_equal(stats.refused, 0);
	assert_int_equal(stats.by_fault, 0);
	assert_int_equal(stats.memory_faults_kernel + stats.memory_faults_modelled, 0);
}

/* Stage 1 has no conversion ioctls: a shared-mode guest's request is refused. */
static void test_request_shared_stage1(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(conversion_on_request(&f->policy, 0, TEST_GPA, PAGE, true, NULL),
			 GMEMVM_HC_ENOSYS);
	assert_int_equal(conversion_on_request(&f->policy, 0, TEST_GPA, PAGE, false, NULL),
			 GMEMVM_HC_ENOSYS);
	/* A malformed one is still EINVAL: checked first. */
	assert_int_equal(conversion_on_request(&f->policy, 0, TEST_GPA, 0, true, NULL),
			 GMEMVM_HC_EINVAL);
	assert_false(memmap_is_private(&f->map, TEST_GPA, PAGE));
	struct conversion_stats stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.refused, 3);
	assert_int_equal(stats.by_hypercall, 0);
	assert_int_equal(stats.pages_to_private, 0);
	assert_consistent(f);
}

/* ---- The conversion policy: memory faults ------------------------------ */

static void test_fault_converts(void **state)
{
	struct fixture *f = *state;
	struct gmemvm_error why = { 0 };
	uint8_t data[8] = "faulted!";
	struct memmap_completion write = {
		.gpa = TEST_GPA, .shared_view = false, .is_write = true, .length = 8, .data = data
	};
	/* A private access to a shared page: converted, and completed where the
	 * fault was the model's (natively KVM retries the access itself). */
	bool native = f->map.native_attributes;
	assert_int_equal(conversion_on_memory_fault(&f->policy, 0, TEST_GPA, TEST_SIZE, true,
						    !native, native ? NULL : &write, &why),
			 0);
	assert_true(memmap_is_private(&f->map, TEST_GPA, TEST_SIZE));
	assert_consistent(f);
	struct conversion_stats stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.memory_faults_modelled, native ? 0 : 1);
	assert_int_equal(stats.memory_faults_kernel, native ? 1 : 0);
	assert_int_equal(stats.by_fault, 1);
	assert_int_equal(stats.pages_to_private, TEST_PAGES);
	assert_int_equal(stats.already_done, 0);

	/* The same fault from another vCPU finds the work done. */
	uint8_t read_back[8] = { 0 };
	struct memmap_completion read = { .gpa = TEST_GPA,
					  .shared_view = false,
					  .is_write = false,
					  .length = 8,
					  .data = read_back };
	assert_int_equal(conversion_on_memory_fault(&f->policy, 1, TEST_GPA, TEST_SIZE, true,
						    !native, native ? NULL : &read, &why),
			 0);
	if (!native)
		assert_memory_equal(read_back, data, 8);
	stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.memory_faults_modelled + stats.memory_faults_kernel, 2);
	assert_int_equal(stats.by_fault, 1);
	assert_int_equal(stats.already_done, 1);

	/* A kernel fault (KVM_EXIT_MEMORY_FAULT) for a shared access: no completion. */
	assert_int_equal(
		conversion_on_memory_fault(&f->policy, 0, TEST_GPA, PAGE, false, false, NULL, &why),
		0);
	assert_false(memmap_is_private(&f->map, TEST_GPA, PAGE));
	assert_consistent(f);
	stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.memory_faults_kernel, native ? 3 : 1);
	assert_int_equal(stats.memory_faults_modelled, native ? 0 : 2);
	assert_int_equal(stats.by_fault, 2);
	assert_int_equal(stats.pages_to_shared, 1);
	assert_int_equal(stats.by_hypercall, 0);
	uint8_t host[8];
	assert_int_equal(memmap_read(&f->map, TEST_GPA, host, 8), 0);
	if (keeps_contents(f->map.mode))
		assert_memory_equal(host, data, 8);
	else
		assert_memory_equal(host, "\0\0\0\0\0\0\0\0", 8);
}

static void test_fault_bad_range(void **state)
{
	struct fixture *f = *state;
	const struct {
		uint64_t gpa, size;
	} bad[] = {
		{ TEST_GPA + 8, PAGE },
		{ TEST_GPA, 8 },
		{ TEST_GPA, 0 },
		{ RAM_SIZE, PAGE },
		{ RAM_SIZE - PAGE, 2 * PAGE },
		{ UINT64_MAX - PAGE + 1, PAGE },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gmemvm_error why = { 0 };
		assert_int_equal(conversion_on_memory_fault(&f->policy, 0, bad[i].gpa, bad[i].size,
							    true, true, NULL, &why),
				 -EINVAL);
		assert_true(why.refused);
		if (!strstr(why.message, "not a page range of guest RAM"))
			fail_msg("fault %#" PRIx64 "+%#" PRIx64 ": %s", bad[i].gpa, bad[i].size,
				 why.message);
	}
	struct conversion_stats stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.by_fault, 0);
	assert_int_equal(stats.pages_to_private, 0);
	assert_false(memmap_is_private(&f->map, RAM_SIZE - PAGE, PAGE));
	assert_consistent(f);
}

/* Modes that do not convert on faults refuse them, naming the mode. */
static void test_fault_refused(void **state)
{
	struct fixture *f = *state;
	struct gmemvm_error why = { 0 };
	assert_int_equal(
		conversion_on_memory_fault(&f->policy, 0, TEST_GPA, PAGE, true, false, NULL, &why),
		-ENOSYS);
	assert_true(why.refused);
	char want[64];
	snprintf(want, sizeof(want), "in mode %s,", config_mode_name(f->map.mode));
	if (!strstr(why.message, want) || !strstr(why.message, "no memory faults are expected"))
		fail_msg("refusal does not name the mode: %s", why.message);
	assert_false(memmap_is_private(&f->map, TEST_GPA, PAGE));
	struct conversion_stats stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.memory_faults_kernel, 1);
	assert_int_equal(stats.by_fault, 0);
	assert_int_equal(stats.pages_to_private, 0);
	assert_consistent(f);
}

/* INIT_PRIVATE: every page starts private, in the state map and in every view. */
static void test_init_private(void **state)
{
	struct fixture *f = *state;
	uint8_t buffer[8];
	uint8_t zeroes[8] = { 0 };
	assert_true(memmap_is_private(&f->map, 0, RAM_SIZE));
	assert_int_equal(memmap_read(&f->map, TEST_GPA, buffer, 8), -EFAULT);
	assert_null(memmap_lookup(&f->map, 0, PAGE));
	assert_consistent(f);
	convert(f, TEST_GPA, PAGE, true, NULL, false);
	convert(f, TEST_GPA, PAGE, false, NULL, true);
	assert_int_equal(memmap_read(&f->map, TEST_GPA, buffer, 8), 0);
	assert_memory_equal(buffer, zeroes, 8);
	assert_true(memmap_is_private(&f->map, TEST_GPA + PAGE, RAM_SIZE - TEST_GPA - PAGE));
}

/* KVM's memory attributes start shared, whatever the guest_memfd's flags. */
static void test_legacy_attributes_start_shared(void **state)
{
	struct fixture *f = *state;
	assert_false(memmap_is_private(&f->map, 0, PAGE));
	assert_false(memmap_is_private(&f->map, RAM_SIZE - PAGE, PAGE));
	assert_non_null(memmap_lookup(&f->map, 0, RAM_SIZE));
}

static void test_render(void **state)
{
	struct fixture *f = *state;
	char picture[9];
	convert(f, TEST_GPA + 2 * PAGE, PAGE, true, NULL, true);
	convert(f, TEST_GPA + 4 * PAGE, 2 * PAGE, true, NULL, true);
	/* 8 columns over 16 pages: two pages a column. */
	memmap_render(&f->map, TEST_GPA, 16 * PAGE, picture, 8);
	assert_string_equal(picture, "SmPSSSSS");
}

/* A mode-shared memory map with one userspace_addr choice, on a fresh VM. */
struct shared_setup {
	int kvm_fd, vm_fd;
	struct gmem gmem;
	struct memmap map;
	struct gmemvm_error error; /* kvm_open's, gmem_create's, memmap_setup's */
	int status;		   /* what memmap_setup returned */
};

static void shared_setup_run(struct shared_setup *setup, int stage, bool null, bool anonymous)
{
	memset(setup, 0, sizeof(*setup));
	setup->kvm_fd = kvm_open(&setup->error);
	assert_true(setup->kvm_fd >= 0);
	struct kvm_caps caps;
	kvm_read_caps(setup->kvm_fd, &caps);
	uint64_t needed = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	if ((caps.guest_memfd_flags & needed) != needed) {
		close(setup->kvm_fd);
		printf("skipped: mode shared needs GUEST_MEMFD_FLAG_MMAP|INIT_SHARED\n");
		skip();
	}
	setup->vm_fd = kvm_create_vm(setup->kvm_fd, 0);
	assert_true(setup->vm_fd >= 0);
	struct scenario scenario;
	memset(&scenario, 0, sizeof(scenario));
	scenario.mode = MODE_SHARED;
	scenario.stage = stage;
	scenario.memory_size = RAM_SIZE;
	scenario.vcpus = 1;
	scenario.support_shared = true;
	scenario.userspace_addr_null = null;
	scenario.userspace_addr_anonymous = anonymous;
	memmap_init(&setup->map);
	assert_int_equal(gmem_create(&setup->gmem, setup->vm_fd, RAM_SIZE, true, false,
				     caps.guest_memfd_flags, true, &setup->error),
			 0);
	setup->status = memmap_setup(&setup->map, &scenario, &setup->gmem, setup->vm_fd, SHARED_BIT,
				     false, (uint32_t)caps.nr_memslots, &setup->error);
}

static void shared_setup_release(struct shared_setup *setup)
{
	memmap_destroy(&setup->map);
	gmem_destroy(&setup->gmem);
	close(setup->vm_fd);
	close(setup->kvm_fd);
}

/* The stage-1 userspace_addr rule refuses an unrelated mapping: a refusal,
 * not a failure. */
static void test_setup_refuses_anonymous(void **state)
{
	(void)state;
	struct shared_setup setup;
	shared_setup_run(&setup, 1, false, true);
	assert_int_equal(setup.status, -EINVAL);
	assert_true(setup.error.refused);
	if (!strstr(setup.error.message, "same folio"))
		fail_msg("refusal does not quote the rule: %s", setup.error.message);
	shared_setup_release(&setup);
}

/* userspace_addr = NULL: the notes' opt-out; the memslot records 0. */
static void test_setup_null_userspace_addr(void **state)
{
	(void)state;
	struct shared_setup setup;
	shared_setup_run(&setup, 2, true, false);
	assert_int_equal(setup.status, 0);
	assert_int_equal(memmap_slot_count(&setup.map), 1);
	assert_int_equal(setup.map.views[0].slots[0].userspace_addr, 0);
	/* The host still has its view. */
	assert_int_equal(memmap_write(&setup.map, TEST_GPA, "null", 4), 0);
	struct gmemvm_error verdict = { 0 };
	if (memmap_check(&setup.map, &verdict) != 0)
		fail_msg("memmap_check: %s", verdict.message);
	shared_setup_release(&setup);
}

/* Several vCPUs fault on the same range at once: one converts, the others
 * find it done, and every access is completed. */
#define RACERS 4

struct racer {
	struct fixture *f;
	int vcpu;
	uint8_t data[8];
	int status;
};

static void *race_fault(void *opaque)
{
	struct racer *racer = opaque;
	struct gmemvm_error why = { 0 };
	struct memmap_completion read = { .gpa = TEST_GPA + (uint64_t)racer->vcpu * 8,
					  .is_write = false,
					  .length = 8,
					  .data = racer->data };
	racer->status = conversion_on_memory_fault(&racer->f->policy, racer->vcpu, TEST_GPA,
						   TEST_SIZE, true, true, &read, &why);
	return NULL;
}

static void test_fault_race(void **state)
{
	struct fixture *f = *state;
	uint8_t before[RACERS * 8];
	fill(before, sizeof(before), 0x21);
	assert_int_equal(memmap_write(&f->map, TEST_GPA, before, sizeof(before)), 0);
	struct racer racers[RACERS];
	pthread_t threads[RACERS];
	for (int i = 0; i < RACERS; i++) {
		racers[i] = (struct racer){ .f = f, .vcpu = i, .status = -2 };
		assert_int_equal(pthread_create(&threads[i], NULL, race_fault, &racers[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(racers[i].status, 0);
		assert_memory_equal(racers[i].data, before + i * 8, 8); /* in place */
	}
	struct conversion_stats stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.memory_faults_modelled, RACERS);
	assert_int_equal(stats.by_fault, 1);
	assert_int_equal(stats.already_done, RACERS - 1);
	assert_int_equal(stats.pages_to_private, TEST_PAGES);
	assert_true(memmap_is_private(&f->map, TEST_GPA, TEST_SIZE));
	assert_consistent(f);
}

/* Only pages that change state count: unshare 4K then 8K is 2 pages, not 3,
 * and a request that changes nothing counts as already done. */
static void test_counts_changed_pages_only(void **state)
{
	struct fixture *f = *state;
	struct memmap_conversion done = { 0 };
	assert_int_equal(memmap_convert(&f->map, TEST_GPA, PAGE, true, NULL, &done, NULL), 0);
	assert_int_equal(done.pages, 1);
	assert_int_equal(memmap_convert(&f->map, TEST_GPA, 2 * PAGE, true, NULL, &done, NULL), 0);
	assert_int_equal(done.pages, 1);
	assert_int_equal(memmap_convert(&f->map, TEST_GPA, 2 * PAGE, true, NULL, &done, NULL), 0);
	assert_int_equal(done.pages, 0);
	assert_consistent(f);
	/* The same through the policy, as the report counts it. */
	assert_int_equal(conversion_on_request(&f->policy, 0, TEST_GPA, 4 * PAGE, false, NULL),
			 GMEMVM_HC_OK);
	assert_int_equal(conversion_on_request(&f->policy, 0, TEST_GPA, PAGE, true, NULL),
			 GMEMVM_HC_OK);
	assert_int_equal(conversion_on_request(&f->policy, 0, TEST_GPA, 2 * PAGE, true, NULL),
			 GMEMVM_HC_OK);
	assert_int_equal(conversion_on_request(&f->policy, 0, TEST_GPA, 2 * PAGE, true, NULL),
			 GMEMVM_HC_OK);
	struct conversion_stats stats = conversion_read_stats(&f->policy);
	assert_int_equal(stats.pages_to_shared, 2); /* two of the four were private */
	assert_int_equal(stats.pages_to_private, 2);
	assert_int_equal(stats.by_hypercall, 3);
	assert_int_equal(stats.already_done, 1);
}

/* --trace: each conversion with its cause, result and a map of the region. */
static void test_trace(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	size_t text_size = 0;
	FILE *trace = open_memstream(&text, &text_size);
	assert_non_null(trace);
	conversion_destroy(&f->policy);
	conversion_init(&f->policy, &f->scenario, &f->map, trace);
	struct gmemvm_error why = { 0 };
	assert_int_equal(conversion_on_request(&f->policy, 2, TEST_GPA, PAGE, true, NULL),
			 GMEMVM_HC_OK);
	assert_int_equal(conversion_on_request(&f->policy, 2, TEST_GPA, PAGE, true, NULL),
			 GMEMVM_HC_OK);
	assert_int_equal(conversion_on_request(&f->policy, 2, RAM_SIZE, PAGE, true, NULL),
			 GMEMVM_HC_EINVAL);
	assert_int_equal(conversion_on_memory_fault(&f->policy, 1, RAM_SIZE - PAGE, PAGE, true,
						    true, NULL, &why),
			 0);
	fclose(trace);
	assert_non_null(text);
	/* Three lines: the malformed request is refused before anything is traced. */
	size_t lines = 0;
	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	/* Each line names the call that converted: VM-wide in coco-legacy. */
	const char *call = f->scenario.mode == MODE_COCO_LEGACY ? "KVM_SET_MEMORY_ATTRIBUTES"
								: "KVM_SET_MEMORY_ATTRIBUTES2";
	char first[160], second[80], third[160];
	snprintf(first, sizeof(first),
		 "[vcpu 2] hypercall gpa 0x200000 size 0x1000 -> convert private with %s: done; "
		 "map 0x200000+0x40000 [PSSS",
		 call);
	snprintf(second, sizeof(second), "-> convert private with %s: already so", call);
	snprintf(third, sizeof(third),
		 "[vcpu 1] memory fault (modelled) gpa 0xfff000 size 0x1000 -> convert private "
		 "with %s: done; map 0xfc0000+0x40000 [SSS",
		 call);
	if (lines != 3 || !strstr(text, first) || !strstr(text, second) || !strstr(text, third) ||
	    !strstr(text, "SSSP]"))
		fail_msg("unexpected trace:\n%s", text);
	free(text);
}

/* ---- main -------------------------------------------------------------- */

#define MODE_TEST(fn, mode_case)                                              \
	{                                                                     \
#fn "/" #mode_case, fn, setup_mode, teardown_mode, &mode_case \
	}
#define EVERY_MODE(fn)                                                                     \
	MODE_TEST(fn, case_shared), MODE_TEST(fn, case_pkvm), MODE_TEST(fn, case_inplace), \
		MODE_TEST(fn, case_legacy), MODE_TEST(fn, case_legacy_flags)

/*
 * A guest that shares page after page, each apart from the last, costs a
 * memslot per range in each view; past KVM_CAP_NR_MEMSLOTS the request is
 * refused (ENOSPC, the guest told ENOMEM, the run going on), and nothing of
 * the map changes: the page stays private, the checker agrees.
 */
static void test_memslots_exhausted(void **state)
{
	struct fixture *f = *state;
	f->map.max_slots = f->map.next_slot + 4; /* a KVM with few memslots left */
	/* coco-inplace here starts private, coco-legacy shared: flip every
	 * other page the other way. */
	bool to_private = !memmap_is_private(&f->map, TEST_GPA, PAGE);
	uint64_t gpa = TEST_GPA;
	int status = 0;
	struct gmemvm_error error = { 0 };
	for (int i = 0; i < 16 && status == 0; i++, gpa += 2 * PAGE) {
		error = (struct gmemvm_error){ 0 };
		status = conversion_on_request(&f->policy, 0, gpa, PAGE, to_private, &error);
	}
	assert_int_equal(status, -ENOSPC);
	assert_true(error.refused);
	assert_non_null(strstr(error.message, "KVM_CAP_NR_MEMSLOTS"));
	assert_int_equal(memmap_is_private(&f->map, gpa - 2 * PAGE, PAGE), !to_private);
	assert_int_equal(conversion_read_stats(&f->policy).refused, 1);
	assert_consistent(f);
}

/*
 * Conversions on 8 threads at once, as 8 vCPUs make them (docs/design.md,
 * "Locking"): each converts its own pages back and forth, and reads them
 * back when shared, while all of them convert random pieces of one window
 * they share. Disjoint ranges run in parallel, overlapping ones one after
 * another; every answer is 0, each thread's own pages are in the state it
 * left them with the contents the mode keeps, and afterwards the checker
 * finds the state, the memslots and every view in agreement.
 */
#define STRESS_THREADS	    8
#define STRESS_ROUNDS	    48
#define STRESS_OWN	    (4 * PAGE)				     /* each thread's own pages */
#define STRESS_WINDOW	    (TEST_GPA + STRESS_THREADS * STRESS_OWN) /* shared by all */
#define STRESS_WINDOW_PAGES 16

struct stresser {
	struct fixture *f;
	int index;
	uint32_t random;
	char failure[160]; /* "" while every answer was right */
};

static uint32_t next_random(uint32_t *random)
{
	*random = *random * 1103515245u + 12345u;
	return *random >> 16;
}

__attribute__((format(printf, 2, 3))) static void stress_failed(struct stresser *stresser,
								const char *format, ...)
{
	if (stresser->failure[0])
		return;
	va_list args;
	va_start(args, format);
	vsnprintf(stresser->failure, sizeof(stresser->failure), format, args);
	va_end(args);
}

static void stress_own_pages(struct stresser *stresser, uint64_t own, int round)
{
	struct memmap *map = &stresser->f->map;
	uint8_t expected[STRESS_OWN], seen[STRESS_OWN];
	fill(expected, sizeof(expected), (uint8_t)(stresser->index * 16 + round));
	if (memmap_write(map, own, expected, sizeof(expected)) != 0)
		stress_failed(stresser, "round %d: writing its shared pages failed", round);
	int status = memmap_convert(map, own, STRESS_OWN, true, NULL, NULL, NULL);
	if (status != 0 || !memmap_is_private(map, own, STRESS_OWN))
		stress_failed(stresser, "round %d: to private answered %d", round, status);
	if (memmap_read(map, own, seen, sizeof(seen)) != -EFAULT)
		stress_failed(stresser, "round %d: the host read a private page", round);
	status = memmap_convert(map, own, STRESS_OWN, false, NULL, NULL, NULL);
	if (status != 0 || memmap_is_private(map, own, STRESS_OWN))
		stress_failed(stresser, "round %d: to shared answered %d", round, status);
	if (!keeps_contents(map->mode))
		memset(expected, 0, sizeof(expected)); /* discarded, as QEMU does */
	if (memmap_read(map, own, seen, sizeof(seen)) != 0 ||
	    memcmp(seen, expected, sizeof(seen)) != 0)
		stress_failed(stresser, "round %d: its pages came back with other contents", round);
}

static void *stress(void *argument)
{
	struct stresser *stresser = argument;
	uint64_t own = TEST_GPA + (uint64_t)stresser->index * STRESS_OWN;
	for (int round = 0; round < STRESS_ROUNDS && !stresser->failure[0]; round++) {
		stress_own_pages(stresser, own, round);
		uint64_t first = next_random(&stresser->random) % STRESS_WINDOW_PAGES;
		uint64_t pages = 1 + next_random(&stresser->random) % 4;
		if (first + pages > STRESS_WINDOW_PAGES)
			pages = STRESS_WINDOW_PAGES - first;
		bool to_private = next_random(&stresser->random) & 1;
		int status = memmap_convert(&stresser->f->map, STRESS_WINDOW + first * PAGE,
					    pages * PAGE, to_private, NULL, NULL, NULL);
		if (status != 0)
			stress_failed(stresser,
				      "round %d: converting the shared window answered %d", round,
				      status);
	}
	return NULL;
}

static void test_conversion_stress(void **state)
{
	struct fixture *f = *state;
	struct stresser stressers[STRESS_THREADS];
	pthread_t threads[STRESS_THREADS];
	for (int i = 0; i < STRESS_THREADS; i++) {
		stressers[i] =
			(struct stresser){ .f = f, .index = i, .random = 0x9e3779b9u * (i + 1) };
		assert_int_equal(pthread_create(&threads[i], NULL, stress, &stressers[i]), 0);
	}
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < STRESS_THREADS; i++)
		if (stressers[i].failure[0])
			fail_msg("thread %d (%s): %s", i, config_mode_name(f->map.mode),
				 stressers[i].failure);
	for (int i = 0; i < STRESS_THREADS; i++)
		assert_false(memmap_is_private(&f->map, TEST_GPA + (uint64_t)i * STRESS_OWN,
					       STRESS_OWN));
	assert_consistent(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		EVERY_MODE(test_setup_slots),
		EVERY_MODE(test_classify),
		EVERY_MODE(test_convert_round_trip),
		EVERY_MODE(test_convert_bad_range),
		EVERY_MODE(test_access_bounds),
		EVERY_MODE(test_contents_round_trip),
		EVERY_MODE(test_completion),
		EVERY_MODE(test_completion_skipped_on_error),
		EVERY_MODE(test_populate),
		MODE_TEST(test_check_broken_private_view, case_inplace),
		MODE_TEST(test_check_broken_private_view, case_legacy),
		MODE_TEST(test_check_broken_private_view_shared_page, case_inplace),
		MODE_TEST(test_check_broken_host_view, case_inplace),
		MODE_TEST(test_check_broken_host_view, case_legacy),
		MODE_TEST(test_check_broken_host_view, case_pkvm),
		MODE_TEST(test_check_broken_host_view_shared_page, case_inplace),
		MODE_TEST(test_check_broken_host_view_shared_page, case_legacy),
		MODE_TEST(test_check_broken_host_view_shared_page, case_shared),
		cmocka_unit_test(test_stage_rules),
		EVERY_MODE(test_request_malformed),
		EVERY_MODE(test_request_converts),
		MODE_TEST(test_request_shared_stage1, case_shared_stage1),
		MODE_TEST(test_fault_converts, case_inplace),
		MODE_TEST(test_fault_converts, case_legacy),
		MODE_TEST(test_fault_converts, case_legacy_flags),
		MODE_TEST(test_fault_bad_range, case_inplace),
		MODE_TEST(test_fault_bad_range, case_legacy),
		MODE_TEST(test_fault_refused, case_shared),
		MODE_TEST(test_fault_refused, case_pkvm),
		MODE_TEST(test_fault_race, case_inplace),
		EVERY_MODE(test_conversion_stress),
		MODE_TEST(test_memslots_exhausted, case_inplace_private),
		MODE_TEST(test_memslots_exhausted, case_legacy),
		MODE_TEST(test_init_private, case_inplace_private),
		MODE_TEST(test_init_private, case_pkvm_private),
		MODE_TEST(test_legacy_attributes_start_shared, case_legacy),
		MODE_TEST(test_legacy_attributes_start_shared, case_legacy_flags),
		EVERY_MODE(test_render),
		MODE_TEST(test_guest_keeps_private_pages, case_shared),
		MODE_TEST(test_guest_keeps_private_pages, case_pkvm),
		MODE_TEST(test_counts_changed_pages_only, case_inplace),
		MODE_TEST(test_counts_changed_pages_only, case_legacy),
		MODE_TEST(test_counts_changed_pages_only, case_shared),
		MODE_TEST(test_trace, case_inplace),
		MODE_TEST(test_trace, case_legacy),
		cmocka_unit_test(test_setup_refuses_anonymous),
		cmocka_unit_test(test_setup_null_userspace_addr),
	};

	if (kvm_fixture_lacks(NEED_GUESTS_RUN | NEED_GUEST_MEMFD))
		return 77;
	if (kvm_fixture_probe(&host) < 0)
		return 1;
	/* Cases this kernel cannot run are skipped, each said once. */
	struct CMUnitTest runnable[sizeof(tests) / sizeof(tests[0])];
	size_t count = 0, skipped = 0;
	/* GMEMVM_TEST_ONLY=TEXT: only the tests whose name has TEXT (the lab
	 * runs the stress test alone under the sanitizers and valgrind). */
	const char *only = getenv("GMEMVM_TEST_ONLY");
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		const struct mode_case *mode_case = tests[i].initial_state;
		if (only && !strstr(tests[i].name, only))
			continue;
		const char *why = mode_case ? case_unsupported(mode_case) : NULL;
		if (!why && mode_case && native_legacy(mode_case) &&
		    (strstr(tests[i].name, "completion") || strstr(tests[i].name, "populate")))
			why = "with native private memory KVM retries a faulting access itself, "
			      "and the host cannot write into guest_memfd";
		if (why) {
			printf("skipped on this kernel: %s (%s): %s\n", tests[i].name,
			       config_mode_name(mode_case->mode), why);
			skipped++;
			continue;
		}
		runnable[count++] = tests[i];
	}
	printf("%zu of %zu tests run here, %zu skipped\n", count, count + skipped, skipped);
	return _cmocka_run_group_tests("memmap", runnable, count, NULL, NULL);
}
