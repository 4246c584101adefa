// SPDX-License-Identifier: MIT
/*
 * Upstream's in-place conversion uAPI, KVM_SET_MEMORY_ATTRIBUTES2 on the
 * guest_memfd, case by case as the kernel's own selftest checks it
 * (guest_memfd_conversions_test.c; docs/upstream.md maps each case to a test
 * here). Every case runs against each backend this host has: the kernel's
 * call, where a VM type with private memory accepts it, and gmemvm's model
 * of it, which must be indistinguishable. Needs /dev/kvm; exits 77 without.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gmem.h"
#include "kvm_fixture.h"

#define PAGE	   GMEM_PAGE_SIZE
#define NR_PAGES   16
#define GMEM_SIZE  (NR_PAGES * PAGE)
#define BYTE(page) ((uint8_t)(0x40 + (page)))

enum backend {
	BACKEND_KERNEL,
	BACKEND_MODEL,
	BACKEND_COUNT
};

static const char *const backend_names[BACKEND_COUNT] = { "kernel", "model" };

static int kvm_fd = -1;
static struct host_probe host;
static bool backend_available[BACKEND_COUNT];

/* One guest_memfd of NR_PAGES pages on a VM of the backend's kind, mapped. */
struct fixture {
	enum backend backend;
	int vm_fd;
	struct gmem gmem;
};

static bool kernel_has_in_place_conversion(void)
{
	return host.set_attributes2 && (host.gmem_attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE) &&
	       host.protected_vm_type;
}

static void fixture_open(struct fixture *f, enum backend backend, bool private_by_default)
{
	bool model = backend == BACKEND_MODEL;
	memset(f, 0, sizeof(*f));
	f->backend = backend;
	f->vm_fd = kvm_create_vm(kvm_fd, model ? 0 : host.protected_vm_type);
	assert_true(f->vm_fd >= 0);
	/* A VM type may offer fewer flags than KVM as a whole: ask this VM. */
	uint64_t supported =
		(uint64_t)kvm_check_extension(f->vm_fd, GMEMVM_KVM_CAP_GUEST_MEMFD_FLAGS);
	struct gmemvm_error error = { 0 };
	if (gmem_create(&f->gmem, f->vm_fd, GMEM_SIZE, true, private_by_default, supported, model,
			&error) < 0 ||
	    gmem_map(&f->gmem, &error) < 0)
		fail_msg("%s backend: %s", backend_names[backend], error.message);
}

static void fixture_close(struct fixture *f)
{
	gmem_destroy(&f->gmem);
	close(f->vm_fd);
}

static int set_attributes(struct fixture *f, uint64_t page, uint64_t pages, bool private,
			  uint64_t *error_offset)
{
	struct kvm_memory_attributes2 request = {
		.offset = page * PAGE,
		.size = pages * PAGE,
		.attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};
	int status = gmem_set_attributes(&f->gmem, &request);
	if (error_offset)
		*error_offset = request.error_offset;
	return status;
}

static uint8_t *host_page(struct fixture *f, uint64_t page)
{
	return f->gmem.host_view + page * PAGE;
}

/* The host may read the page (it is shared) and finds byte there. */
static void assert_shared_with(struct fixture *f, uint64_t page, uint8_t byte)
{
	assert_int_equal(gmem_host_read_signal(host_page(f, page)), 0);
	assert_int_equal(host_page(f, page)[0], byte);
	assert_int_equal(host_page(f, page)[PAGE - 1], byte);
}

/* A host access to a private page gets SIGBUS from the kernel. */
static void assert_private(struct fixture *f, uint64_t page)
{
	assert_int_equal(gmem_host_read_signal(host_page(f, page)), SIGBUS);
}

static void fill_shared(struct fixture *f, uint64_t page)
{
	memset(host_page(f, page), BYTE(page), PAGE);
}

/* ---- init_private, init_shared ---------------------------------------- */

static void case_init_private(struct fixture *f)
{
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_private(f, page);
	assert_int_equal(set_attributes(f, 0, NR_PAGES, false, NULL), 0);
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_shared_with(f, page, 0); /* zeroed on first allocation */
}

static void case_init_shared(struct fixture *f)
{
	for (uint64_t page = 0; page < NR_PAGES; page++) {
		assert_shared_with(f, page, 0);
		fill_shared(f, page);
	}
	assert_int_equal(set_attributes(f, 0, NR_PAGES, true, NULL), 0);
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_private(f, page);
	/* A software-protected VM keeps contents in both directions. */
	assert_int_equal(set_attributes(f, 0, NR_PAGES, false, NULL), 0);
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_shared_with(f, page, BYTE(page));
}

/* ---- indexing: one page converted, its neighbours untouched ------------ */

static void case_indexing(struct fixture *f)
{
	static const uint64_t pages[] = { 0, 1, NR_PAGES / 2, NR_PAGES - 1 };
	for (uint64_t page = 0; page < NR_PAGES; page++)
		fill_shared(f, page);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		uint64_t target = pages[i];
		assert_int_equal(set_attributes(f, target, 1, true, NULL), 0);
		for (uint64_t page = 0; page < NR_PAGES; page++) {
			if (page == target)
				assert_private(f, page);
			else
				assert_shared_with(f, page, BYTE(page));
		}
		assert_int_equal(set_attributes(f, target, 1, false, NULL), 0);
		assert_shared_with(f, target, BYTE(target));
	}
}

/* ---- before allocation, unallocated folios ----------------------------- */

static void case_before_allocation_shared(struct fixture *f)
{
	/* Nothing was ever allocated: converting is only a state change. */
	assert_int_equal(set_attributes(f, 2, 3, false, NULL), 0);
	assert_private(f, 1);
	for (uint64_t page = 2; page < 5; page++)
		assert_shared_with(f, page, 0);
	assert_private(f, 5);
}

static void case_before_allocation_private(struct fixture *f)
{
	assert_int_equal(set_attributes(f, 2, 3, true, NULL), 0);
	assert_shared_with(f, 1, 0);
	for (uint64_t page = 2; page < 5; page++)
		assert_private(f, page);
	assert_int_equal(set_attributes(f, 2, 3, false, NULL), 0);
	for (uint64_t page = 2; page < 5; page++)
		assert_shared_with(f, page, 0);
}

static void case_unallocated_folios(struct fixture *f)
{
	/* Only every other page is ever allocated. */
	for (uint64_t page = 0; page < NR_PAGES; page += 2)
		fill_shared(f, page);
	assert_int_equal(set_attributes(f, 0, NR_PAGES, true, NULL), 0);
	assert_int_equal(set_attributes(f, 0, NR_PAGES, false, NULL), 0);
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_shared_with(f, page, page % 2 ? 0 : BYTE(page));
}

/* ---- truncate: PUNCH_HOLE frees memory and keeps the attributes -------- */

static void case_truncate(struct fixture *f)
{
	for (uint64_t page = 0; page < 4; page++)
		fill_shared(f, page);
	assert_int_equal(set_attributes(f, 1, 1, true, NULL), 0);
	assert_int_equal(gmem_punch_hole(&f->gmem, 0, 2 * PAGE), 0);
	assert_shared_with(f, 0, 0); /* shared, and zero */
	assert_private(f, 1);	     /* still private */
	assert_shared_with(f, 2, BYTE(2));
	assert_int_equal(set_attributes(f, 1, 1, false, NULL), 0);
	assert_shared_with(f, 1, 0); /* its contents went with the punch */
}

/* ---- forked_accesses: a child sees the same state ---------------------- */

/* In a child: 0 when page reads as want (0: SIGBUS expected instead). */
static int child_reads(struct fixture *f, uint64_t page, bool expect_sigbus, uint8_t want)
{
	int signal_number = gmem_host_read_signal(host_page(f, page));
	if (expect_sigbus)
		return signal_number == SIGBUS ? 0 : 1;
	return signal_number == 0 && host_page(f, page)[0] == want ? 0 : 1;
}

static void case_forked_accesses(struct fixture *f)
{
	fill_shared(f, 0);
	fill_shared(f, 1);
	assert_int_equal(set_attributes(f, 1, 1, true, NULL), 0);
	int to_child[2];
	assert_int_equal(pipe(to_child), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int status = child_reads(f, 0, false, BYTE(0)) | child_reads(f, 1, true, 0) << 1;
		char go;
		/* Wait for the parent's conversion of page 0 to private. */
		if (read(to_child[0], &go, 1) == 1 && go == 'k')
			status |= child_reads(f, 0, true, 0) << 2;
		_exit(status);
	}
	assert_int_equal(set_attributes(f, 0, 1, true, NULL), 0);
	/* The model's views are this process's mappings: it cannot tear
	 * down a child's, so only the kernel is asked for that part. */
	char go = f->backend == BACKEND_KERNEL ? 'k' : 'm';
	assert_int_equal(write(to_child[1], &go, 1), 1);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	close(to_child[0]);
	close(to_child[1]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	if (f->backend == BACKEND_MODEL)
		printf("  [model] skipped: a conversion reaching into a child's mappings "
		       "(the model's views belong to one process)\n");
}

/* ---- elevated_refcount: a held page makes to-private fail with EAGAIN --- */

static void case_elevated_refcount(struct fixture *f)
{
	const uint64_t held = 5;
	for (uint64_t page = 0; page < NR_PAGES; page++)
		fill_shared(f, page);
	assert_int_equal(gmem_hold(&f->gmem, held * PAGE, PAGE), 0);
	uint64_t error_offset = 0;
	/* Bulk: the busy page is named, nothing converts, the host
	 * mappings are torn down yet fault back in (still shared). */
	assert_int_equal(set_attributes(f, 0, NR_PAGES, true, &error_offset), -EAGAIN);
	assert_int_equal(error_offset, held * PAGE);
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_shared_with(f, page, BYTE(page));
	/* A range starting after nothing busy: error_offset is never below it. */
	assert_int_equal(set_attributes(f, held, 1, true, &error_offset), -EAGAIN);
	assert_int_equal(error_offset, held * PAGE);
	/* A range without the busy page converts. */
	assert_int_equal(set_attributes(f, 0, held, true, NULL), 0);
	assert_int_equal(gmem_release(&f->gmem, 0, GMEM_SIZE), 1);
	assert_int_equal(set_attributes(f, 0, NR_PAGES, true, NULL), 0);
	assert_private(f, held);
	assert_int_equal(set_attributes(f, 0, NR_PAGES, false, NULL), 0);
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_shared_with(f, page, BYTE(page));
}

/* ---- The checks: each EINVAL, all before the early return and EAGAIN ---- */

static void case_checks_in_order(struct fixture *f)
{
	/* Every check comes before the early return: a request for what the
	 * range already is still fails on a bad field. */
	struct kvm_memory_attributes2 flags = { .size = PAGE, .flags = 1 };
	assert_int_equal(gmem_set_attributes(&f->gmem, &flags), -EINVAL);
	struct kvm_memory_attributes2 reserved = { .size = PAGE };
	reserved.reserved[10] = 1;
	assert_int_equal(gmem_set_attributes(&f->gmem, &reserved), -EINVAL);
	struct kvm_memory_attributes2 unknown = { .size = PAGE, .attributes = 1 };
	assert_int_equal(gmem_set_attributes(&f->gmem, &unknown), -EINVAL);
	/* ...and before the reference check: a held page with a bad field is EINVAL. */
	assert_int_equal(gmem_hold(&f->gmem, 0, PAGE), 0);
	struct kvm_memory_attributes2 held = { .size = PAGE,
					       .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
					       .flags = 1 };
	assert_int_equal(gmem_set_attributes(&f->gmem, &held), -EINVAL);
	assert_int_equal(gmem_release(&f->gmem, 0, PAGE), 1);
	struct kvm_memory_attributes2 bad[] = {
		{ .offset = 0, .size = 0 },
		{ .offset = UINT64_MAX - PAGE + 1, .size = 2 * PAGE },
		{ .offset = 1, .size = PAGE },
		{ .offset = 0, .size = PAGE + 1 },
		{ .offset = GMEM_SIZE - PAGE, .size = 2 * PAGE },
		{ .offset = GMEM_SIZE, .size = PAGE },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bad[i].attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE;
		assert_int_equal(gmem_set_attributes(&f->gmem, &bad[i]), -EINVAL);
	}
	/* Nothing of it changed a page. */
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_shared_with(f, page, 0);
	/* Already shared: returns at once, even with a hold on it. */
	assert_int_equal(gmem_hold(&f->gmem, 0, PAGE), 0);
	assert_int_equal(set_attributes(f, 0, NR_PAGES, false, NULL), 0);
	gmem_release(&f->gmem, 0, PAGE);
}

/* A VM type without private memory refuses the call (all of arm64 today). */
static void test_vm_without_private_memory(void **state)
{
	(void)state;
	for (enum backend backend = 0; backend < BACKEND_COUNT; backend++) {
		if (!backend_available[backend])
			continue;
		printf("  [%s]\n", backend_names[backend]);
		int vm_fd = kvm_create_vm(kvm_fd, 0);
		struct gmem gmem;
		assert_true(vm_fd >= 0);
		struct gmemvm_error error = { 0 };
		if (gmem_create(&gmem, vm_fd, GMEM_SIZE, true, false, host.caps.guest_memfd_flags,
				backend == BACKEND_MODEL, &error) < 0)
			fail_msg("%s", error.message);
		gmem.vm_has_private_memory = false;
		struct kvm_memory_attributes2 request = { .size = PAGE,
							  .attributes =
								  KVM_MEMORY_ATTRIBUTE_PRIVATE };
		assert_int_equal(gmem_set_attributes(&gmem, &request), -EINVAL);
		gmem_destroy(&gmem);
		close(vm_fd);
	}
}

/* ---- The VMM's answer to EAGAIN: drop its own holds, retry -------------- */

static void case_vmm_retry_after_own_hold(struct fixture *f)
{
	for (uint64_t page = 0; page < NR_PAGES; page++)
		fill_shared(f, page);
	assert_int_equal(gmem_hold(&f->gmem, 3 * PAGE, 2 * PAGE), 0);
	assert_int_equal(gmem_hold(&f->gmem, 9 * PAGE, PAGE), 0);
	assert_int_equal(gmem_convert_private(&f->gmem, 0, GMEM_SIZE, NULL), 0);
	/* One EAGAIN at page 3; dropping the holds from there on frees page 9 too. */
	assert_int_equal(f->gmem.stats.eagain, 1);
	assert_int_equal(f->gmem.stats.retries, 1);
	assert_int_equal(f->gmem.stats.holds_released, 2);
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_private(f, page);
	assert_int_equal(gmem_convert_shared(&f->gmem, 0, GMEM_SIZE, NULL), 0);
	for (uint64_t page = 0; page < NR_PAGES; page++)
		assert_shared_with(f, page, BYTE(page));
}

/* A reference the VMM does not own (here a pipe of its own making that is no
 * hold): the retries run out and the conversion fails, attributes intact. */
static void test_vmm_gives_up_on_foreign_reference(void **state)
{
	(void)state;
	if (!backend_available[BACKEND_KERNEL]) {
		printf("skipped: only the kernel counts references the VMM does not register "
		       "(this kernel lacks KVM_SET_MEMORY_ATTRIBUTES2)\n");
		return;
	}
	struct fixture fixture, *f = &fixture;
	fixture_open(f, BACKEND_KERNEL, false);
	fill_shared(f, 7);
	int foreign[2];
	assert_int_equal(pipe(foreign), 0);
	struct iovec page = { .iov_base = host_page(f, 7), .iov_len = PAGE };
	assert_int_equal(vmsplice(foreign[1], &page, 1, 0), (ssize_t)PAGE);
	assert_int_equal(gmem_convert_private(&f->gmem, 0, GMEM_SIZE, NULL), -EAGAIN);
	assert_int_equal(f->gmem.last_busy_offset, 7 * PAGE);
	assert_int_equal(f->gmem.stats.eagain, GMEM_EAGAIN_RETRIES + 1);
	assert_shared_with(f, 7, BYTE(7));
	close(foreign[0]);
	close(foreign[1]);
	assert_int_equal(gmem_convert_private(&f->gmem, 0, GMEM_SIZE, NULL), 0);
	fixture_close(f);
}

/* Holds take only shared pages, within bounds. */
static void case_hold_refusals(struct fixture *f)
{
	assert_int_equal(gmem_hold(&f->gmem, 0, PAGE), -EPERM); /* private */
	assert_int_equal(set_attributes(f, 0, NR_PAGES, false, NULL), 0);
	assert_int_equal(gmem_hold(&f->gmem, 1, PAGE), -EINVAL);
	assert_int_equal(gmem_hold(&f->gmem, 0, 0), -EINVAL);
	assert_int_equal(gmem_hold(&f->gmem, GMEM_SIZE, PAGE), -EINVAL);
	assert_int_equal(gmem_hold(&f->gmem, UINT64_MAX - PAGE + 1, PAGE), -EINVAL);
	for (int i = 0; i < GMEM_MAX_HOLDS; i++)
		assert_int_equal(gmem_hold(&f->gmem, (uint64_t)(i % NR_PAGES) * PAGE, PAGE), 0);
	assert_int_equal(gmem_hold(&f->gmem, 0, PAGE), -ENOSPC);
	assert_int_equal(gmem_release(&f->gmem, 0, GMEM_SIZE), GMEM_MAX_HOLDS);
	assert_int_equal(gmem_release(&f->gmem, 0, GMEM_SIZE), 0);
}

/* ---- Each case on each backend ----------------------------------------- */

struct conversion_case {
	const char *name;
	void (*run)(struct fixture *f);
	bool private_by_default; /* the file is created without INIT_SHARED */
};

#define CASE(name, private_by_default)                 \
	{                                              \
#name, case_##name, private_by_default \
	}

static const struct conversion_case cases[] = {
	CASE(init_private, true),
	CASE(init_shared, false),
	CASE(indexing, false),
	CASE(before_allocation_shared, true),
	CASE(before_allocation_private, false),
	CASE(unallocated_folios, false),
	CASE(truncate, false),
	CASE(forked_accesses, false),
	CASE(elevated_refcount, false),
	CASE(checks_in_order, false),
	CASE(vmm_retry_after_own_hold, false),
	CASE(hold_refusals, true),
};

#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static void run_case(void **state)
{
	const struct conversion_case *c = *state;
	for (enum backend backend = 0; backend < BACKEND_COUNT; backend++) {
		if (!backend_available[backend])
			continue;
		struct fixture f;
		printf("  [%s] %s\n", backend_names[backend], c->name);
		fixture_open(&f, backend, c->private_by_default);
		c->run(&f);
		fixture_close(&f);
	}
}

int main(void)
{
	if (kvm_fixture_lacks(NEED_GUESTS_RUN | NEED_GUEST_MEMFD))
		return 77;
	struct gmemvm_error error;
	kvm_fd = kvm_open(&error);
	if (kvm_fd < 0) {
		fprintf(stderr, "%s\n", error.message);
		return 1;
	}
	probe_host(kvm_fd, &host, PROBE_ALL);
	uint64_t model_flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	backend_available[BACKEND_KERNEL] = kernel_has_in_place_conversion();
	backend_available[BACKEND_MODEL] =
		(host.caps.guest_memfd_flags & model_flags) == model_flags;
	printf("backends: kernel %s, model %s\n",
	       backend_available[BACKEND_KERNEL]
		       ? "yes (KVM_SET_MEMORY_ATTRIBUTES2 on KVM_X86_SW_PROTECTED_VM)"
		       : "no: skipped, this kernel lacks KVM_SET_MEMORY_ATTRIBUTES2 (in-place "
			 "conversion, kvm.gmem_in_place_conversion=1)",
	       backend_available[BACKEND_MODEL]
		       ? "yes"
		       : "no: skipped, the model needs GUEST_MEMFD_FLAG_MMAP|INIT_SHARED (Linux "
			 "6.18 or later)");
	if (!backend_available[BACKEND_KERNEL] && !backend_available[BACKEND_MODEL]) {
		printf("skipped: neither backend can run on this kernel\n");
		return 77;
	}
	struct CMUnitTest tests[NR_CASES + 2];
	for (size_t i = 0; i < NR_CASES; i++)
		tests[i] = (struct CMUnitTest){ .name = cases[i].name,
						.test_func = run_case,
						.initial_state = (void *)&cases[i] };
	tests[NR_CASES] = (struct CMUnitTest)cmocka_unit_test(test_vm_without_private_memory);
	tests[NR_CASES + 1] =
		(struct CMUnitTest)cmocka_unit_test(test_vmm_gives_up_on_foreign_reference);
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	close(kvm_fd);
	return failed;
}
