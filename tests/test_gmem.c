// SPDX-License-Identifier: MIT
/*
 * guest_memfd on the real kernel: first the behaviour table of
 * the kernel's own guest_memfd behaviour with raw
 * KVM_CREATE_GUEST_MEMFD calls, then the vmm/gmem.c layer on top of it.
 * Flag combinations the kernel does not report in KVM_CAP_GUEST_MEMFD_FLAGS
 * are checked to fail with EINVAL instead. Needs /dev/kvm; exits 77 (skip)
 * without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "gmem.h"
#include "kvm.h"
#include "kvm_fixture.h"
#include "kvm_abi.h"

#define GMEM_SIZE  (4ULL << 20)
#define HALF	   (2ULL << 20)
#define FLAGS_BOTH (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)

static int kvm_fd = -1;
static int vm_fd = -1;
static struct kvm_caps caps;
static struct gmemvm_error why;

static int setup_kvm(void **state)
{
	(void)state;
	if (kvm_fixture_open(&kvm_fd, &vm_fd, &caps) < 0)
		return -1;
	/* Say which rows of the table this run can check. */
	printf("KVM_CAP_GUEST_MEMFD_FLAGS = %#" PRIx64 "%s\n", caps.guest_memfd_flags,
	       caps.guest_memfd_flags_cap ? "" : " (capability not answered)");
	return 0;
}

static int teardown_kvm(void **state)
{
	(void)state;
	close(vm_fd);
	close(kvm_fd);
	return 0;
}

static bool kernel_has(uint64_t flags)
{
	return (flags & ~caps.guest_memfd_flags) == 0;
}

/* A guest_memfd with the given flags; for flags the kernel does not report,
 * assert that creation fails with EINVAL and return -1. */
static int create_or_refused(uint64_t flags)
{
	int fd = kvm_create_guest_memfd(vm_fd, GMEM_SIZE, flags);

	if (!kernel_has(flags)) {
		assert_int_equal(fd, -EINVAL);
		return -1;
	}
	if (fd < 0)
		fail_msg("KVM_CREATE_GUEST_MEMFD(flags %#" PRIx64 ") failed: %s", flags,
			 strerror(-fd));
	return fd;
}

static void assert_mmap_fails(int fd, int map_flags, int expected_errno)
{
	void *view = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE, map_flags, fd, 0);

	if (view != MAP_FAILED) {
		munmap(view, GMEM_SIZE);
		fail_msg("mmap(%s) succeeded",
			 map_flags == MAP_SHARED ? "MAP_SHARED" : "MAP_PRIVATE");
	}
	assert_int_equal(errno, expected_errno);
}

static uint8_t *map_shared(int fd)
{
	void *view = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (view == MAP_FAILED)
		fail_msg("mmap(MAP_SHARED) failed: %s", strerror(errno));
	return view;
}

/* true when reading *address raised SIGBUS (the kernel's, for a GUEST page). */
static bool touch_sigbuses(volatile uint8_t *address)
{
	return gmem_host_read_signal(address) == SIGBUS;
}

static bool all_zero(const uint8_t *bytes, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (bytes[i])
			return false;
	return true;
}

/* ---- The kernel's guest_memfd (as the kernel has it) -------------------- */

static void test_flags_none_cannot_mmap(void **state)
{
	int fd = create_or_refused(0);

	(void)state;
	assert_mmap_fails(fd, MAP_SHARED, ENODEV);
	assert_mmap_fails(fd, MAP_PRIVATE, ENODEV);
	close(fd);
}

static void test_flag_mmap_private_memory(void **state)
{
	int fd = create_or_refused(GUEST_MEMFD_FLAG_MMAP);
	uint8_t *view;

	(void)state;
	if (fd < 0)
		return;
	view = map_shared(fd);
	assert_mmap_fails(fd, MAP_PRIVATE, EINVAL);
	/* Mappable but initially private: the host may not touch it. */
	assert_true(touch_sigbuses(view));
	assert_true(touch_sigbuses(view + GMEM_SIZE - 1));
	munmap(view, GMEM_SIZE);
	close(fd);
}

static void test_flag_init_shared_alone(void **state)
{
	int fd;

	(void)state;
	if (!kernel_has(GUEST_MEMFD_FLAG_INIT_SHARED)) {
		create_or_refused(GUEST_MEMFD_FLAG_INIT_SHARED);
		return;
	}
	fd = kvm_create_guest_memfd(vm_fd, GMEM_SIZE, GUEST_MEMFD_FLAG_INIT_SHARED);
	if (fd < 0) {
		/* A kernel may insist on INIT_SHARED only together with MMAP. */
		assert_int_equal(fd, -EINVAL);
		return;
	}
	/* Accepted alone (as on this host), but without MMAP it cannot be mapped. */
	assert_mmap_fails(fd, MAP_SHARED, ENODEV);
	assert_mmap_fails(fd, MAP_PRIVATE, ENODEV);
	close(fd);
}

static void test_flags_mmap_init_shared(void **state)
{
	int fd = create_or_refused(FLAGS_BOTH);
	uint8_t *view;

	(void)state;
	if (fd < 0)
		return;
	view = map_shared(fd);
	assert_mmap_fails(fd, MAP_PRIVATE, EINVAL);
	assert_false(touch_sigbuses(view));
	/* New memory reads as zeroes; writes read back. */
	assert_true(all_zero(view, 4096));
	memset(view, 0xa5, 4096);
	memset(view + GMEM_SIZE - 4096, 0x5a, 4096);
	assert_int_equal(view[4095], 0xa5);
	assert_int_equal(view[GMEM_SIZE - 1], 0x5a);

	/* A second mapping of the same file sees the same bytes. */
	uint8_t *again = map_shared(fd);
	assert_int_equal(again[0], 0xa5);
	munmap(again, GMEM_SIZE);
	munmap(view, GMEM_SIZE);
	close(fd);
}

static void test_unknown_flag_refused(void **state)
{
	(void)state;
	assert_int_equal(kvm_create_guest_memfd(vm_fd, GMEM_SIZE, 1ULL << 5), -EINVAL);
	assert_int_equal(kvm_create_guest_memfd(vm_fd, GMEM_SIZE, FLAGS_BOTH | (1ULL << 5)),
			 -EINVAL);
}

/* Any of these is a refusal; which one depends on the kernel's file ops. */
static bool is_refusal(int error)
{
	return error == ESPIPE || error == EINVAL || error == ENODEV;
}

/*
 * Measured on the 6.18 host: pread/pwrite fail with ESPIPE and ftruncate
 * with EINVAL for every flag combination; kernels have answered EINVAL/ENODEV
 * and ESPIPE respectively, so only "fails" is asserted, not the errno.
 */
static void test_file_operations(void **state)
{
	static const uint64_t flags[] = { 0, GUEST_MEMFD_FLAG_MMAP, FLAGS_BOTH };
	char buffer[64] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		int fd = create_or_refused(flags[i]);

		if (fd < 0)
			continue;
		assert_int_equal(pread(fd, buffer, sizeof(buffer), 0), -1);
		assert_true(is_refusal(errno));
		assert_int_equal(pwrite(fd, buffer, sizeof(buffer), 0), -1);
		assert_true(is_refusal(errno));
		/* The size is fixed at creation. */
		assert_int_equal(ftruncate(fd, 2 * GMEM_SIZE), -1);
		assert_true(is_refusal(errno));
		assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
				 0);
		close(fd);
	}
}

static void test_punch_hole_zeroes(void **state)
{
	int fd = create_or_refused(FLAGS_BOTH);
	uint8_t *view;

	(void)state;
	if (fd < 0)
		return;
	view = map_shared(fd);
	memset(view, 0xcc, 3 * 4096);
	assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096), 0);
	assert_int_equal(view[4095], 0xcc);
	assert_true(all_zero(view + 4096, 4096));
	assert_int_equal(view[2 * 4096], 0xcc);
	munmap(view, GMEM_SIZE);
	close(fd);
}

/* ---- vmm/gmem.c -------------------------------------------------------- */

static void test_kernel_flags_mapping(void **state)
{
	(void)state;
	assert_int_equal(gmem_kernel_flags(true, false), FLAGS_BOTH);
	assert_int_equal(gmem_kernel_flags(true, true), GUEST_MEMFD_FLAG_MMAP);
	assert_int_equal(gmem_kernel_flags(false, false), 0);
	/* Upstream has no way to say "private" without MMAP: it is the default. */
	assert_int_equal(gmem_kernel_flags(false, true), 0);
}

static void test_create_refuses_missing_flag(void **state)
{
	struct gmem gmem;

	(void)state;
	assert_int_equal(gmem_create(&gmem, vm_fd, GMEM_SIZE, true, true, 0, false, &why),
			 -EOPNOTSUPP);
	assert_non_null(strstr(why.message, "GUEST_MEMFD_FLAG_MMAP"));
	assert_int_equal(gmem.fd, -1);

	assert_int_equal(gmem_create(&gmem, vm_fd, GMEM_SIZE, true, false, GUEST_MEMFD_FLAG_MMAP,
				     false, &why),
			 -EOPNOTSUPP);
	assert_non_null(strstr(why.message, "GUEST_MEMFD_FLAG_INIT_SHARED"));
	assert_null(strstr(why.message, "GUEST_MEMFD_FLAG_MMAP"));
	assert_int_equal(gmem.fd, -1);
	gmem_destroy(&gmem);
}

static void test_map_needs_support_shared(void **state)
{
	struct gmem gmem;

	(void)state;
	/* No SUPPORT_SHARED (INIT_PRIVATE alone is refused now: such a file is
	 * private anyway). */
	assert_int_equal(gmem_create(&gmem, vm_fd, GMEM_SIZE, false, false, caps.guest_memfd_flags,
				     false, &why),
			 0);
	assert_int_equal(gmem_map(&gmem, &why), -ENODEV);
	assert_non_null(strstr(why.message, "mmap of guest_memfd"));
	assert_non_null(strstr(why.message, "SUPPORT_SHARED"));
	assert_null(gmem.host_view);
	gmem_destroy(&gmem);
}

/* A mapped SUPPORT_SHARED file, or a skip when the kernel cannot make one. */
static bool shared_gmem(struct gmem *gmem)
{
	if (!kernel_has(FLAGS_BOTH))
		return false;
	int status = gmem_create(gmem, vm_fd, GMEM_SIZE, true, false, caps.guest_memfd_flags, false,
				 &why);
	if (status == 0)
		status = gmem_map(gmem, &why);
	if (status < 0)
		fail_msg("%s", why.message);
	return true;
}

static int check(const struct gmem *gmem, uint64_t offset, const void *address, uint64_t size)
{
	memset(&why, 0, sizeof(why));
	return gmem_check_userspace_addr(gmem, offset, (uint64_t)(uintptr_t)address, size,
					 "/proc/self/maps", &why);
}

static void test_check_accepts_own_mapping(void **state)
{
	struct gmem gmem;

	(void)state;
	if (!shared_gmem(&gmem))
		return;
	assert_int_equal(check(&gmem, 0, gmem.host_view, GMEM_SIZE), 0);
	assert_int_equal(check(&gmem, HALF, gmem.host_view + HALF, HALF), 0);
	assert_int_equal(check(&gmem, 0x3000, gmem.host_view + 0x3000, 0x1000), 0);
	gmem_destroy(&gmem);
}

static void test_check_refuses_anonymous(void **state)
{
	struct gmem gmem;
	void *anonymous;

	(void)state;
	if (!shared_gmem(&gmem))
		return;
	anonymous = mmap(NULL, HALF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anonymous != MAP_FAILED);
	assert_int_equal(check(&gmem, 0, anonymous, HALF), -EINVAL);
	assert_true(why.refused);
	assert_non_null(strstr(why.message, "another file or anonymous memory"));
	assert_non_null(strstr(why.message, "stage 1"));
	munmap(anonymous, HALF);
	gmem_destroy(&gmem);
}

static void test_check_refuses_wrong_offset(void **state)
{
	struct gmem gmem;
	uint8_t *upper;

	(void)state;
	if (!shared_gmem(&gmem))
		return;
	/* The right file, but its second half, claimed to be offset 0. */
	upper = mmap(NULL, HALF, PROT_READ | PROT_WRITE, MAP_SHARED, gmem.fd, HALF);
	assert_true(upper != MAP_FAILED);
	assert_int_equal(check(&gmem, 0, upper, HALF), -EINVAL);
	assert_non_null(strstr(why.message, "maps this guest_memfd at 0x200000"));
	assert_non_null(strstr(why.message, "not this guest_memfd at offset 0"));
	/* Claimed at its true offset it is fine. */
	assert_int_equal(check(&gmem, HALF, upper, HALF), 0);
	munmap(upper, HALF);
	gmem_destroy(&gmem);
}

static void test_check_refuses_unmapped(void **state)
{
	struct gmem gmem;
	void *hole;

	(void)state;
	if (!shared_gmem(&gmem))
		return;
	hole = mmap(NULL, HALF, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(hole != MAP_FAILED);
	assert_int_equal(munmap(hole, HALF), 0);
	assert_int_equal(check(&gmem, 0, hole, HALF), -EINVAL);
	assert_non_null(strstr(why.message, "not mapped"));
	/* The whole mapping plus one page more runs off its end. */
	assert_int_equal(check(&gmem, 0, gmem.host_view, GMEM_SIZE + 4096), -EINVAL);
	gmem_destroy(&gmem);
}

/* The walk follows a range across several maps lines of the same file. */
static void test_check_split_mapping_from_file(void **state)
{
	struct gmem gmem;
	struct stat st;
	char path[] = "/tmp/gmemvm-maps-XXXXXX";
	FILE *maps;
	int fd;

	(void)state;
	if (!shared_gmem(&gmem))
		return;
	assert_int_equal(fstat(gmem.fd, &st), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	maps = fdopen(fd, "w");
	assert_non_null(maps);
	fprintf(maps,
		"10000000-10100000 rw-s 00000000 %02x:%02x %llu   /memfd:kvm-gmem (deleted)\n",
		major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino);
	fprintf(maps,
		"10100000-10400000 rw-s 00100000 %02x:%02x %llu   /memfd:kvm-gmem (deleted)\n",
		major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino);
	fprintf(maps, "10400000-10500000 rw-p 00000000 00:00 0\n");
	fclose(maps);

	assert_int_equal(
		gmem_check_userspace_addr(&gmem, 0x80000, 0x10080000, 0x200000, path, &why), 0);
	assert_int_equal(gmem_check_userspace_addr(&gmem, 0, 0x10000000, 0x500000, path, &why),
			 -EINVAL);
	assert_non_null(strstr(why.message, "another file or anonymous memory"));
	unlink(path);
	gmem_destroy(&gmem);
}

/* What the probe found on this kernel (main). */
static struct host_probe host;

static void test_bind_null_userspace_addr(void **state)
{
	struct gmem gmem;
	int vm;

	(void)state;
	if (host.private_gmem_binds == 0) {
		/* arm64 before its CoCo support: the probe says so for every run. */
		print_message("skipped: this kernel lacks memslots for a guest_memfd without MMAP "
			      "on an ordinary VM (%s)\n",
			      host.private_gmem_detail);
		skip();
	}
	vm = kvm_fixture_gmem_vm(kvm_fd, &caps);
	assert_true(vm >= 0);
	assert_int_equal(gmem_create(&gmem, vm, GMEM_SIZE, false, false, caps.guest_memfd_flags,
				     false, &why),
			 0);
	/* No mapping exists at 0: the check must not run. */
	struct gmemvm_error error = { 0 };
	if (gmem_bind(&gmem, vm, 0, 0, 0, GMEM_SIZE, 0, true, &error) < 0)
		fail_msg("%s", error.message);
	gmem_destroy(&gmem);
	close(vm);
}

static void test_bind_checks_before_kernel(void **state)
{
	struct gmem gmem;
	void *anonymous;
	int vm;

	(void)state;
	if (!kernel_has(FLAGS_BOTH))
		return;
	vm = kvm_create_vm(kvm_fd, 0);
	assert_true(vm >= 0);
	assert_int_equal(
		gmem_create(&gmem, vm, GMEM_SIZE, true, false, caps.guest_memfd_flags, false, &why),
		0);
	assert_int_equal(gmem_map(&gmem, &why), 0);
	anonymous =
		mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anonymous != MAP_FAILED);

	struct gmemvm_error error = { 0 };
	assert_int_equal(gmem_bind(&gmem, vm, 1, 0, 0, GMEM_SIZE, (uint64_t)(uintptr_t)anonymous,
				   true, &error),
			 -EINVAL);
	assert_true(error.refused); /* the notes' rule, not the kernel, refused it */
	assert_non_null(strstr(error.message, "stage 1"));
	assert_null(strstr(error.message, "KVM_SET_USER_MEMORY_REGION2"));
	/* Slot 1 was never created: a gmem-bound slot could not be changed,
	 * so binding it now with the right address succeeds only if so. */
	if (gmem_bind(&gmem, vm, 1, 0, 0, GMEM_SIZE, (uint64_t)(uintptr_t)gmem.host_view, true,
		      &error) < 0)
		fail_msg("%s", error.message);

	munmap(anonymous, GMEM_SIZE);
	gmem_destroy(&gmem);
	close(vm);
}

static void test_gmem_punch_hole(void **state)
{
	struct gmem gmem;

	(void)state;
	if (!shared_gmem(&gmem))
		return;
	memset(gmem.host_view, 0x77, GMEM_SIZE);
	assert_int_equal(gmem_punch_hole(&gmem, HALF, 0x10000), 0);
	assert_true(all_zero(gmem.host_view + HALF, 0x10000));
	assert_int_equal(gmem.host_view[HALF - 1], 0x77);
	assert_int_equal(gmem.host_view[HALF + 0x10000], 0x77);
	/* Not page aligned: the kernel refuses rather than rounding. */
	assert_int_equal(gmem_punch_hole(&gmem, 1, 4096), -EINVAL);
	gmem_destroy(&gmem);
	assert_int_equal(gmem.fd, -1);
	assert_null(gmem.host_view);
}

/* ---- The model (model = true): the notes' stage-2 semantics ------------ */

#define PAGE GMEM_PAGE_SIZE

/* A model guest_memfd with the notes' flags; false (skip) when the kernel
 * lacks what the model builds on (MMAP|INIT_SHARED for SUPPORT_SHARED). */
static bool model_gmem(struct gmem *gmem, bool support_shared, bool init_private, bool map)
{
	if (support_shared && !kernel_has(FLAGS_BOTH)) {
		printf("skipped: the model needs GUEST_MEMFD_FLAG_MMAP|INIT_SHARED\n");
		return false;
	}
	if (gmem_create(gmem, vm_fd, GMEM_SIZE, support_shared, init_private,
			caps.guest_memfd_flags, true, &why) < 0)
		fail_msg("%s", why.message);
	if (map && gmem_map(gmem, &why) < 0)
		fail_msg("%s", why.message);
	return true;
}

/* The inode of the file mapped at address (0 for anonymous or unmapped):
 * tells which file the kernel serves a page of a view from. */
static uint64_t mapped_inode(const void *address)
{
	uint64_t target = (uint64_t)(uintptr_t)address, inode = 0;
	FILE *maps = fopen("/proc/self/maps", "re");
	char line[512];

	assert_non_null(maps);
	while (fgets(line, sizeof(line), maps)) {
		unsigned long long start, end, ino;
		if (sscanf(line, "%llx-%llx %*s %*x %*x:%*x %llu", &start, &end, &ino) == 3 &&
		    start <= target && target < end) {
			inode = ino;
			break;
		}
	}
	fclose(maps);
	return inode;
}

static uint64_t fd_inode(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static bool all_equal(const uint8_t *bytes, uint8_t value, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (bytes[i] != value)
			return false;
	return true;
}

static void test_model_refuses_init_private_alone(void **state)
{
	struct gmem gmem;

	(void)state;
	for (int model = 0; model < 2; model++) {
		assert_int_equal(gmem_create(&gmem, vm_fd, GMEM_SIZE, false, true,
					     caps.guest_memfd_flags, model, &why),
				 -EINVAL);
		assert_true(why.refused);
		assert_non_null(strstr(why.message, "INIT_PRIVATE"));
		assert_non_null(strstr(why.message, "EINVAL"));
		assert_int_equal(gmem.fd, -1);
		gmem_destroy(&gmem);
	}
}

static void test_model_default_all(void **state)
{
	struct gmem gmem;

	(void)state;
	if (!model_gmem(&gmem, true, false, true))
		return;
	assert_true(gmem.model);
	assert_int_equal(gmem_shareability(&gmem, 0), SHAREABILITY_ALL);
	assert_int_equal(gmem_shareability(&gmem, GMEM_SIZE - PAGE), SHAREABILITY_ALL);
	assert_int_equal(shareability_extent_count(&gmem.shareability), 1);
	assert_false(touch_sigbuses(gmem.host_view));
	assert_false(touch_sigbuses(gmem.host_view + GMEM_SIZE - 1));
	/* The host view and the content view are the same pages. */
	gmem.host_view[123] = 0x42;
	assert_int_equal(gmem.content_view[123], 0x42);
	gmem_destroy(&gmem);
}

static void test_model_init_private_all_sigbus(void **state)
{
	struct gmem gmem;

	(void)state;
	if (!model_gmem(&gmem, true, true, true))
		return;
	/* The kernel file stays mappable and shared: the model keeps INIT_PRIVATE. */
	assert_int_equal(gmem.kernel_flags, FLAGS_BOTH);
	assert_int_equal(shareability_extent_count(&gmem.shareability), 1);
	for (uint64_t offset = 0; offset < GMEM_SIZE; offset += PAGE) {
		assert_int_equal(gmem_shareability(&gmem, offset), SHAREABILITY_GUEST);
		if (!touch_sigbuses(gmem.host_view + offset))
			fail_msg("host read of GUEST page %#" PRIx64 " did not SIGBUS", offset);
	}
	/* The guest's contents are still there for KVM's stand-in views. */
	assert_false(touch_sigbuses(gmem.content_view));
	gmem_destroy(&gmem);
}

static void test_model_convert_private_then_shared(void **state)
{
	struct gmem gmem;
	uint8_t *page;

	(void)state;
	if (!model_gmem(&gmem, true, false, true))
		return;
	page = gmem.host_view + 5 * PAGE;
	memset(page - PAGE, 0x11, 3 * PAGE);
	memset(page, 0xa7, PAGE);

	assert_int_equal(gmem_convert_private(&gmem, 5 * PAGE, PAGE, NULL), 0);
	assert_int_equal(gmem_shareability(&gmem, 5 * PAGE), SHAREABILITY_GUEST);
	assert_int_equal(gmem_shareability(&gmem, 4 * PAGE), SHAREABILITY_ALL);
	assert_int_equal(gmem_shareability(&gmem, 6 * PAGE), SHAREABILITY_ALL);
	assert_true(touch_sigbuses(page));
	assert_true(touch_sigbuses(page + PAGE - 1));
	/* The SIGBUS is the kernel's: the never-shared guest_memfd is mapped there. */
	assert_int_equal(mapped_inode(page), fd_inode(gmem.sigbus_fd));
	assert_int_equal(mapped_inode(page - PAGE), fd_inode(gmem.fd));
	/* Neighbours stay readable, contents intact. */
	assert_false(touch_sigbuses(page - 1));
	assert_false(touch_sigbuses(page + PAGE));
	assert_true(all_equal(page - PAGE, 0x11, PAGE));
	assert_true(all_equal(page + PAGE, 0x11, PAGE));
	/* In-place conversion: the private page keeps its bytes. */
	assert_true(all_equal(gmem.content_view + 5 * PAGE, 0xa7, PAGE));

	assert_int_equal(gmem_convert_shared(&gmem, 5 * PAGE, PAGE, NULL), 0);
	assert_int_equal(gmem_shareability(&gmem, 5 * PAGE), SHAREABILITY_ALL);
	assert_int_equal(shareability_extent_count(&gmem.shareability), 1);
	assert_false(touch_sigbuses(page));
	assert_true(all_equal(page, 0xa7, PAGE));
	assert_int_equal(mapped_inode(page), fd_inode(gmem.fd));
	gmem_destroy(&gmem);
}

static void test_model_init_private_convert_shared(void **state)
{
	struct gmem gmem;

	(void)state;
	if (!model_gmem(&gmem, true, true, true))
		return;
	/* What the guest wrote while private (as KVM would, through content_view). */
	memset(gmem.content_view, 0x5e, 2 * PAGE);
	assert_int_equal(gmem_convert_shared(&gmem, 0, PAGE, NULL), 0);
	assert_false(touch_sigbuses(gmem.host_view));
	assert_true(all_equal(gmem.host_view, 0x5e, PAGE));
	assert_true(touch_sigbuses(gmem.host_view + PAGE));
	assert_int_equal(gmem_shareability(&gmem, PAGE), SHAREABILITY_GUEST);
	gmem_destroy(&gmem);
}

/* Both conversion directions give the same answer for a range. */
static void assert_convert_result(struct gmem *gmem, uint64_t offset, uint64_t size, int expected)
{
	int to_private = gmem_convert_private(gmem, offset, size, NULL);
	int to_shared = gmem_convert_shared(gmem, offset, size, NULL);

	if (to_private != expected || to_shared != expected)
		fail_msg("convert [%#" PRIx64 ", +%#" PRIx64 "): private %d, shared %d, want %d",
			 offset, size, to_private, to_shared, expected);
}

static void test_model_convert_refusals(void **state)
{
	struct gmem gmem;
	const uint64_t top = UINT64_MAX & ~(PAGE - 1);

	(void)state;
	/* Without SUPPORT_SHARED the ioctls do not exist: ENOTTY before any
	 * range check, model or not. */
	for (int model = 0; model < 2; model++) {
		assert_int_equal(gmem_create(&gmem, vm_fd, GMEM_SIZE, false, false,
					     caps.guest_memfd_flags, model, &why),
				 0);
		assert_convert_result(&gmem, 0, PAGE, -ENOTTY);
		assert_convert_result(&gmem, 1, 0, -ENOTTY);
		assert_int_equal(gmem_shareability(&gmem, 0), SHAREABILITY_GUEST);
		gmem_destroy(&gmem);
	}

	if (!model_gmem(&gmem, true, false, true))
		return;
	assert_convert_result(&gmem, 0, 0, -EINVAL);			   /* empty */
	assert_convert_result(&gmem, 1, PAGE, -EINVAL);			   /* offset misaligned */
	assert_convert_result(&gmem, PAGE, 100, -EINVAL);		   /* size misaligned */
	assert_convert_result(&gmem, top, PAGE, -EINVAL);		   /* offset + size wraps */
	assert_convert_result(&gmem, PAGE, top, -EINVAL);		   /* the same, other way */
	assert_convert_result(&gmem, GMEM_SIZE, PAGE, -EINVAL);		   /* starts at the end */
	assert_convert_result(&gmem, GMEM_SIZE - PAGE, 2 * PAGE, -EINVAL); /* runs past it */
	/* Refusals changed nothing. */
	assert_int_equal(shareability_extent_count(&gmem.shareability), 1);
	assert_false(touch_sigbuses(gmem.host_view + GMEM_SIZE - PAGE));

	/* Exactly up to the end is fine, for one page and for the whole file. */
	assert_int_equal(gmem_convert_private(&gmem, GMEM_SIZE - PAGE, PAGE, NULL), 0);
	assert_true(touch_sigbuses(gmem.host_view + GMEM_SIZE - 1));
	assert_int_equal(gmem_convert_shared(&gmem, GMEM_SIZE - PAGE, PAGE, NULL), 0);
	assert_int_equal(gmem_convert_private(&gmem, 0, GMEM_SIZE, NULL), 0);
	assert_true(touch_sigbuses(gmem.host_view));
	assert_int_equal(gmem_convert_shared(&gmem, 0, GMEM_SIZE, NULL), 0);
	assert_false(touch_sigbuses(gmem.host_view + GMEM_SIZE - 1));
	gmem_destroy(&gmem);
}

static void test_model_mmap_errno(void **state)
{
	struct gmem gmem;

	(void)state;
	if (!model_gmem(&gmem, false, false, false))
		return;
	assert_int_equal(gmem_mmap_errno(&gmem, MAP_SHARED), ENODEV);
	assert_int_equal(gmem_mmap_errno(&gmem, MAP_PRIVATE), ENODEV);
	gmem_destroy(&gmem);

	if (!model_gmem(&gmem, true, false, false))
		return;
	assert_int_equal(gmem_mmap_errno(&gmem, MAP_SHARED), 0);
	assert_int_equal(gmem_mmap_errno(&gmem, MAP_PRIVATE), EINVAL);
	assert_int_equal(gmem_mmap_errno(&gmem, MAP_PRIVATE | MAP_ANONYMOUS), EINVAL);
	gmem_destroy(&gmem);
}

static void test_model_punch_hole_both_views(void **state)
{
	struct gmem gmem;

	(void)state;
	if (!model_gmem(&gmem, true, false, true))
		return;
	memset(gmem.host_view, 0x3c, 4 * PAGE);
	assert_int_equal(gmem_punch_hole(&gmem, PAGE, PAGE), 0);
	assert_true(all_zero(gmem.host_view + PAGE, PAGE));
	assert_true(all_zero(gmem.content_view + PAGE, PAGE));
	assert_true(all_equal(gmem.host_view, 0x3c, PAGE));
	assert_true(all_equal(gmem.content_view + 2 * PAGE, 0x3c, PAGE));

	/* A private page is invalidated too: zero once it is shared again. */
	assert_int_equal(gmem_convert_private(&gmem, 3 * PAGE, PAGE, NULL), 0);
	assert_int_equal(gmem_punch_hole(&gmem, 3 * PAGE, PAGE), 0);
	assert_true(all_zero(gmem.content_view + 3 * PAGE, PAGE));
	assert_int_equal(gmem_convert_shared(&gmem, 3 * PAGE, PAGE, NULL), 0);
	assert_true(all_zero(gmem.host_view + 3 * PAGE, PAGE));
	gmem_destroy(&gmem);
}

static void test_model_without_support_shared(void **state)
{
	struct gmem gmem;
	uint8_t *contents;

	(void)state;
	if (!model_gmem(&gmem, false, false, false))
		return;
	assert_int_equal(gmem.kernel_flags, 0);
	/* The kernel will not map the file: the contents live in a stand-in. */
	assert_true(gmem.fd >= 0);
	assert_true(gmem.content_fd >= 0);
	assert_int_not_equal(gmem.content_fd, gmem.fd);
	assert_null(gmem.content_view);
	assert_int_equal(gmem_shareability(&gmem, 0), SHAREABILITY_GUEST);
	assert_int_equal(gmem_map(&gmem, &why), -ENODEV);
	assert_non_null(strstr(why.message, "SUPPORT_SHARED"));
	assert_null(gmem.host_view);

	/* Punching reaches the stand-in (and the kernel's file). */
	contents = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gmem.content_fd, 0);
	assert_true(contents != MAP_FAILED);
	memset(contents, 0x99, 2 * PAGE);
	assert_int_equal(gmem_punch_hole(&gmem, PAGE, PAGE), 0);
	assert_true(all_equal(contents, 0x99, PAGE));
	assert_true(all_zero(contents + PAGE, PAGE));
	munmap(contents, 2 * PAGE);
	gmem_destroy(&gmem);
	assert_int_equal(gmem.content_fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_none_cannot_mmap),
		cmocka_unit_test(test_flag_mmap_private_memory),
		cmocka_unit_test(test_flag_init_shared_alone),
		cmocka_unit_test(test_flags_mmap_init_shared),
		cmocka_unit_test(test_unknown_flag_refused),
		cmocka_unit_test(test_file_operations),
		cmocka_unit_test(test_punch_hole_zeroes),
		cmocka_unit_test(test_kernel_flags_mapping),
		cmocka_unit_test(test_create_refuses_missing_flag),
		cmocka_unit_test(test_map_needs_support_shared),
		cmocka_unit_test(test_check_accepts_own_mapping),
		cmocka_unit_test(test_check_refuses_anonymous),
		cmocka_unit_test(test_check_refuses_wrong_offset),
		cmocka_unit_test(test_check_refuses_unmapped),
		cmocka_unit_test(test_check_split_mapping_from_file),
		cmocka_unit_test(test_bind_null_userspace_addr),
		cmocka_unit_test(test_bind_checks_before_kernel),
		cmocka_unit_test(test_gmem_punch_hole),
		cmocka_unit_test(test_model_refuses_init_private_alone),
		cmocka_unit_test(test_model_default_all),
		cmocka_unit_test(test_model_init_private_all_sigbus),
		cmocka_unit_test(test_model_convert_private_then_shared),
		cmocka_unit_test(test_model_init_private_convert_shared),
		cmocka_unit_test(test_model_convert_refusals),
		cmocka_unit_test(test_model_mmap_errno),
		cmocka_unit_test(test_model_punch_hole_both_views),
		cmocka_unit_test(test_model_without_support_shared),
	};

	if (kvm_fixture_lacks(NEED_GUESTS_RUN | NEED_GUEST_MEMFD))
		return 77;
	if (kvm_fixture_probe(&host) < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup_kvm, teardown_kvm);
}
