// SPDX-License-Identifier: MIT
/*
 * Unit tests of what a run asks the probe (vmm/probe.c): the probes each
 * mode and scenario needs, the table's honesty about the ones that did not
 * run, and the physical-address bits read from a CPUID table. No KVM: the
 * probe itself is asked of /dev/null, where every ioctl fails and no VM can
 * exist.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "mode.h"
#include "arch/arch.h"
#include "gmem.h"
#include "host_access.h"
#include "memmap.h"
#include "probe.h"

#ifndef TESTS_DIR
#define TESTS_DIR "tests"
#endif

static struct scenario sc;

/* A scenario of mode that expects one outcome whatever the serving. */
static const struct scenario *plain(enum vm_mode mode)
{
	memset(&sc, 0, sizeof(sc));
	sc.mode = mode;
	sc.expect_gmem_served = sc.expect_uaddr_served = OUTCOME_DONE;
	return &sc;
}

/* The probes each mode runs, as docs/design.md ("What a run probes") lists them. */
static void test_needs_per_mode(void **state)
{
	(void)state;
	assert_int_equal(probe_needs(plain(MODE_SHARED)), 0);
	assert_int_equal(probe_needs(plain(MODE_COCO_LEGACY)),
			 PROBE_PRIVATE_VM_TYPE | PROBE_MAP_GPA_RANGE | PROBE_GUEST_PHYS_BITS);
	assert_int_equal(probe_needs(plain(MODE_PKVM)),
			 PROBE_PRIVATE_VM_TYPE | PROBE_SET_ATTRIBUTES2);
	assert_int_equal(probe_needs(plain(MODE_COCO_INPLACE)),
			 PROBE_PRIVATE_VM_TYPE | PROBE_SET_ATTRIBUTES2 | PROBE_MAP_GPA_RANGE |
				 PROBE_GUEST_PHYS_BITS);
}

/* The same rule stated against the mode table, so a new row or a changed
 * property cannot leave its probe out. */
static void test_needs_follow_the_mode_table(void **state)
{
	(void)state;
	for (int mode = 0; mode_info((enum vm_mode)mode); mode++) {
		const struct mode_info *row = mode_info((enum vm_mode)mode);
		unsigned int needs = probe_needs(plain((enum vm_mode)mode));
		/* vm.c picks the VM type and guest_memfd flags of a native path from it */
		assert_int_equal(!!(needs & PROBE_PRIVATE_VM_TYPE),
				 row->native_path != NATIVE_NONE);
		/* native_in_place reads gmem_attributes */
		assert_int_equal(!!(needs & PROBE_SET_ATTRIBUTES2),
				 row->native_path == NATIVE_IN_PLACE);
		/* the device tree's map-gpa-range and shared bit, the features line */
		assert_int_equal(!!(needs & PROBE_MAP_GPA_RANGE), row->coco);
		assert_int_equal(!!(needs & PROBE_GUEST_PHYS_BITS), row->coco);
		/* the conversion call is asked on the VM type the other probe finds */
		if (needs & PROBE_SET_ATTRIBUTES2)
			assert_true(needs & PROBE_PRIVATE_VM_TYPE);
		assert_int_equal(needs & ~PROBE_ALL, 0);
	}
}

/* Outside the table nothing is left out on a guess. */
static void test_needs_unknown_mode(void **state)
{
	(void)state;
	assert_int_equal(probe_needs(plain((enum vm_mode)99)), PROBE_ALL);
}

static char tmp_path[256];

/* Load text as a scenario file (removed again); fails the test if it does not load. */
static const struct scenario *load(const char *text)
{
	struct gmemvm_error error = { 0 };
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/gmemvm-probe-XXXXXX.ini");
	int fd = mkstemps(tmp_path, 4);
	assert_true(fd >= 0);
	size_t length = strlen(text);
	assert_int_equal(write(fd, text, length), (ssize_t)length);
	close(fd);
	int rc = config_load(tmp_path, NULL, 0, &sc, &error);
	unlink(tmp_path);
	if (rc != 0)
		fail_msg("%s", error.message);
	return &sc;
}

/* The serving is asked only where the outcome depends on it: userspace_addr
 * = null (exits.c's cannot-run), or an outcome per serving ([expect]). */
static void test_needs_serving(void **state)
{
	(void)state;
	assert_int_equal(probe_needs(load("[vm]\nmode = shared\n[expect]\nexit = done\n")), 0);
	assert_int_equal(probe_needs(load("[vm]\nmode = shared\n[gmem]\nflags = "
					  "support_shared\nuserspace_addr = null\n"
					  "[expect]\nexit = done\n")),
			 PROBE_GMEM_SERVING);
	assert_int_equal(probe_needs(load("[vm]\nmode = shared\n[expect]\n"
					  "exit.gmem-served = done\n"
					  "exit.uaddr-served = cannot-run\n")),
			 PROBE_GMEM_SERVING);
	/* the same outcome given twice depends on nothing */
	assert_int_equal(probe_needs(load("[vm]\nmode = shared\n[expect]\n"
					  "exit.gmem-served = done\n"
					  "exit.uaddr-served = done\n")),
			 0);
	assert_int_equal(probe_needs(load("[vm]\nmode = coco-legacy\n[expect]\n"
					  "exit.gmem-served = done\nexit.uaddr-served = "
					  "cannot-run\n")),
			 PROBE_GMEM_SERVING | PROBE_PRIVATE_VM_TYPE | PROBE_MAP_GPA_RANGE |
				 PROBE_GUEST_PHYS_BITS);
}

/* The start-up benchmark's scenario (docs/performance.md) runs no throwaway VM. */
static void test_startup_benchmark_needs_nothing(void **state)
{
	(void)state;
	struct gmemvm_error error = { 0 };
	const char *path = TESTS_DIR "/../bench/shared-startup.ini";
	if (config_load(path, NULL, 0, &sc, &error) != 0)
		fail_msg("%s", error.message);
	assert_int_equal(probe_needs(&sc), 0);
}

/* probe_host on a file that is not /dev/kvm: every ioctl fails, so no VM is
 * made, and what was asked for is what the table calls probed. */
static void test_probe_host_records_what_ran(void **state)
{
	(void)state;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct host_probe probe;
	probe_host(fd, &probe, 0);
	assert_int_equal(probe.probed, 0);
	assert_string_equal(probe.serving_detail, "");
	assert_string_equal(probe.attributes2_detail, "");
	assert_string_equal(probe.map_gpa_range_detail, "");
	assert_int_equal(probe.guest_phys_bits, 0);
	/* the conversion call implies the VM type it is asked on */
	probe_host(fd, &probe, PROBE_SET_ATTRIBUTES2);
	assert_int_equal(probe.probed, PROBE_SET_ATTRIBUTES2 | PROBE_PRIVATE_VM_TYPE);
	assert_string_equal(probe.attributes2_detail, "not probed: no guest_memfd");
	probe_host(fd, &probe, PROBE_ALL);
	assert_int_equal(probe.probed, PROBE_ALL);
	/* /dev/null answers nothing: the architecture's minimum (36 on x86, 40 on arm64) */
	assert_int_equal(probe.guest_phys_bits, arch_guest_phys_bits(fd));
	assert_null(probe.not_needed_by);
	/* the run's form names the mode for the table */
	probe_host_for(fd, &probe, plain(MODE_SHARED));
	assert_int_equal(probe.probed, 0);
	assert_string_equal(probe.not_needed_by, "shared");
	close(fd);
}

static char *printed(const struct host_probe *probe, bool json)
{
	/* Static: open_memstream keeps their addresses until fclose, which one
	 * compiler (GCC 12 for aarch64) mistakes for a dangling pointer. */
	static char *text;
	static size_t size;
	text = NULL;
	size = 0;
	FILE *out = open_memstream(&text, &size);
	assert_non_null(out);
	if (json)
		probe_print_json(out, probe);
	else
		probe_print_table(out, probe);
	fclose(out);
	return text;
}

/* The table line that starts with name: "name  status  detail". */
static void assert_line(const char *table, const char *name, const char *status, const char *detail)
{
	char start[96];
	snprintf(start, sizeof(start), "\n%s ", name);
	const char *line = strstr(table, start);
	if (!line)
		fail_msg("no line '%s' in:\n%s", name, table);
	line++;
	size_t length = strcspn(line, "\n");
	char copy[512];
	snprintf(copy, sizeof(copy), "%.*s", (int)length, line);
	char *rest = copy + strlen(name);
	rest += strspn(rest, " ");
	if (strncmp(rest, status, strlen(status)) != 0 || rest[strlen(status)] != ' ')
		fail_msg("line '%s' has not status %s: %s", name, status, copy);
	if (!strstr(rest, detail))
		fail_msg("line '%s' lacks '%s': %s", name, detail, copy);
}

/* A probe that did not run says so, and why; it is never "absent". */
static void test_skipped_probes_say_so(void **state)
{
	(void)state;
	struct host_probe probe = { .probed = PROBE_PRIVATE_VM_TYPE,
				    .not_needed_by = "coco-legacy",
				    .in_place_parameter = -1 };
	char *table = printed(&probe, false);
	const char *why = "not probed (not needed by mode coco-legacy)";
	assert_line(table, "KVM_SET_MEMORY_ATTRIBUTES2", "skipped", why);
	assert_line(table, "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES", "skipped", why);
	char call_exit[64];
	snprintf(call_exit, sizeof(call_exit), "%s exit", arch_conversion_call_name);
	assert_line(table, call_exit, "skipped", why);
	assert_line(table, "guest physical address bits", "skipped", why);
	assert_line(table, "gmem memslot served from", "skipped",
		    "not probed (not needed by mode coco-legacy: the scenario neither binds "
		    "userspace_addr = null");
	/* the one that ran answers */
	assert_line(table, "private memory (VM type)", "absent",
		    "no VM type with private memory attributes");
	/* read on every call, never skipped */
	assert_line(table, "kvm.gmem_in_place_conversion", "absent", "no such module parameter");
	free(table);

	char *json = printed(&probe, true);
	assert_non_null(strstr(json, "\"gmem_served_from\": \"not probed\""));
	char json_line[192];
	snprintf(json_line, sizeof(json_line),
		 "{\"name\": \"%s\", \"status\": \"skipped\", \"detail\": \"not probed (not "
		 "needed by mode coco-legacy)\"}",
		 call_exit);
	assert_non_null(strstr(json, json_line));
	free(json);
}

/* Everything probed: no line is skipped, and the serving is named. */
static void test_full_probe_skips_nothing(void **state)
{
	(void)state;
	struct host_probe probe = { .probed = PROBE_ALL,
				    .serving = GMEM_SERVING_GUEST_MEMFD,
				    .map_gpa_range_exits = true,
				    .guest_phys_bits = 48,
				    .shared_bit = 46 };
	char *table = printed(&probe, false);
	assert_null(strstr(table, "skipped"));
	assert_null(strstr(table, "not probed (not needed"));
	assert_line(table, "gmem memslot served from", "probed", "guest_memfd");
	assert_line(table, "guest physical address bits", "probed", "48; shared-view bit");
	free(table);
	char *json = printed(&probe, true);
	assert_non_null(strstr(json, "\"gmem_served_from\": \"guest_memfd\""));
	free(json);
}

/* The host-access catchers the pKVM probe reads a donated page with, on
 * fabricated pages: no access, read-only, read-write. A faulting write
 * leaves the byte as it was. */
static void test_host_access_catchers(void **state)
{
	(void)state;
	long page_size = sysconf(_SC_PAGESIZE);
	uint8_t *pages = mmap(NULL, 3 * (size_t)page_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(pages != MAP_FAILED);
	pages[page_size] = 7;
	assert_int_equal(mprotect(pages, (size_t)page_size, PROT_NONE), 0);
	assert_int_equal(mprotect(pages + page_size, (size_t)page_size, PROT_READ), 0);
	assert_int_equal(gmem_host_read_signal(pages), SIGSEGV);
	assert_int_equal(gmem_host_write_signal(pages, 1), SIGSEGV);
	assert_int_equal(gmem_host_read_signal(pages + page_size), 0);
	assert_int_equal(gmem_host_write_signal(pages + page_size, 1), SIGSEGV);
	assert_int_equal(pages[page_size], 7);
	assert_int_equal(gmem_host_write_signal(pages + 2 * page_size, 9), 0);
	assert_int_equal(pages[2 * page_size], 9);
	munmap(pages, 3 * (size_t)page_size);
}

/* host_access_copy on another thread than the one that installed it: a
 * fault is its answer, as pKVM's hypervisor gives it on a protected VM's
 * page; a readable page copies. */
static void *copy_on_a_thread(void *pages)
{
	uint8_t buffer[8];
	long page_size = sysconf(_SC_PAGESIZE);
	intptr_t got = host_access_copy(buffer, pages, sizeof(buffer));
	got = got * 1000 + host_access_copy(buffer, (uint8_t *)pages + page_size, sizeof(buffer));
	return (void *)got;
}

static void test_host_access_copy(void **state)
{
	(void)state;
	long page_size = sysconf(_SC_PAGESIZE);
	assert_int_equal(host_access_init(), 0);
	uint8_t *pages = mmap(NULL, 2 * (size_t)page_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(pages != MAP_FAILED);
	memset(pages + page_size, 0x5a, 8);
	assert_int_equal(mprotect(pages, (size_t)page_size, PROT_NONE), 0);
	uint8_t buffer[8] = { 0 };
	assert_int_equal(host_access_copy(buffer, pages, sizeof(buffer)), SIGSEGV);
	assert_int_equal(host_access_copy(pages, buffer, sizeof(buffer)), SIGSEGV);
	assert_int_equal(host_access_copy(buffer, pages + page_size, sizeof(buffer)), 0);
	assert_int_equal(buffer[7], 0x5a);
	pthread_t thread;
	void *result;
	assert_int_equal(pthread_create(&thread, NULL, copy_on_a_thread, pages), 0);
	assert_int_equal(pthread_join(thread, &result), 0);
	assert_int_equal((intptr_t)result, SIGSEGV * 1000);
	munmap(pages, 2 * (size_t)page_size);
}

/* A protected VM's RLIMIT_MEMLOCK: raised to the guest's memory where it is
 * lower, the hard limit with it only where that is lower too; left alone
 * where it suffices or is unlimited. */
static void test_protected_memlock(void **state)
{
	(void)state;
	const uint64_t mib = 1ULL << 20;
	struct rlimit now = { 8 * mib, 64 * mib }, wanted;
	assert_true(memmap_protected_memlock(16 * mib, &now, &wanted));
	assert_int_equal(wanted.rlim_cur, 16 * mib);
	assert_int_equal(wanted.rlim_max, 64 * mib);
	now = (struct rlimit){ 8 * mib, 8 * mib };
	assert_true(memmap_protected_memlock(16 * mib, &now, &wanted));
	assert_int_equal(wanted.rlim_max, 16 * mib);
	now = (struct rlimit){ 32 * mib, 32 * mib };
	assert_false(memmap_protected_memlock(16 * mib, &now, &wanted));
	now = (struct rlimit){ RLIM_INFINITY, RLIM_INFINITY };
	assert_false(memmap_protected_memlock(16 * mib, &now, &wanted));
	now = (struct rlimit){ 8 * mib, RLIM_INFINITY };
	assert_true(memmap_protected_memlock(16 * mib, &now, &wanted));
	assert_true(wanted.rlim_max == RLIM_INFINITY);
}

/* The probe keeps the width and takes the architecture's bit for it
 * (tests/test_arch_*.c check each architecture's rule). */
static void test_guest_phys_bits(void **state)
{
	(void)state;
	static const unsigned int widths[] = { 52, 48, 46, 41, 40, 36 };
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		struct host_probe probe = { 0 };
		probe_set_guest_phys_bits(&probe, widths[i]);
		assert_int_equal(probe.guest_phys_bits, widths[i]);
		assert_int_equal(probe.shared_bit, arch_shared_bit(widths[i]));
		assert_true(probe.shared_bit == 0 || probe.shared_bit < widths[i]);
		assert_int_equal(probe.probed, PROBE_GUEST_PHYS_BITS);
	}
}

/*
 * The skip decisions (docs/hosts.md): each kind of host gmemvm meets, as the
 * probe would find it, with what it lacks for each need. The tests, the
 * scenario runs and scripts/demo all decide from probe_lacks().
 */
static void test_host_kinds(void **state)
{
	(void)state;
	const uint64_t mmap_shared = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	static const struct {
		const char *host;
		struct kvm_caps caps;
		bool guest_runs;
		enum gmem_serving serving;
		unsigned long private_vm_type;
		bool set_attributes2;
		enum host_kind kind;
		/* the word in probe_lacks() for each need, "" where it is met */
		const char *guest_memfd, *mmap, *mmap_shared, *private_memory, *in_place, *runs;
	} hosts[] = {
	/* One host a row; its needs' words in the order of the struct. */
	/* clang-format off */
/* The capabilities of a KVM with guest_memfd and these flags. */
#define WITH_GUEST_MEMFD(flags) \
	{ .api_version = 12, .user_memory2 = 1, .guest_memfd = 1, .guest_memfd_flags = (flags) }
		{ "Linux 6.1 (Debian 12): KVM without guest_memfd", { .api_version = 12 }, true,
		  GMEM_SERVING_UNKNOWN, 0, false, HOST_KIND_NO_GUEST_MEMFD,
		  "KVM_CAP_GUEST_MEMFD", "KVM_CAP_GUEST_MEMFD", "KVM_CAP_GUEST_MEMFD",
		  "KVM_X86_SW_PROTECTED_VM", "KVM_SET_MEMORY_ATTRIBUTES2", "" },
		{ "PVM 6.18 without guest_memfd", { .api_version = 12, .user_memory2 = 1 }, true,
		  GMEM_SERVING_UNKNOWN, 0, false, HOST_KIND_NO_GUEST_MEMFD,
		  "KVM_CAP_GUEST_MEMFD", "KVM_CAP_GUEST_MEMFD", "KVM_CAP_GUEST_MEMFD",
		  "KVM_X86_SW_PROTECTED_VM", "KVM_SET_MEMORY_ATTRIBUTES2", "" },
		{ "a KVM whose guests never exit", WITH_GUEST_MEMFD(mmap_shared), false,
		  GMEM_SERVING_UNKNOWN, 0, false, HOST_KIND_GUESTS_DO_NOT_RUN,
		  "", "", "", "KVM_X86_SW_PROTECTED_VM", "KVM_SET_MEMORY_ATTRIBUTES2",
		  "does not run guests" },
		{ "Linux 6.12: guest_memfd without mmap", WITH_GUEST_MEMFD(0), true,
		  GMEM_SERVING_UNKNOWN, 1, false, HOST_KIND_PRIVATE_ONLY,
		  "", "GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_MMAP", "",
		  "KVM_SET_MEMORY_ATTRIBUTES2", "" },
		{ "PVM 6.18 with guest_memfd", WITH_GUEST_MEMFD(mmap_shared), true,
		  GMEM_SERVING_USERSPACE_ADDR, 0, false, HOST_KIND_SERVED_FROM_USERSPACE_ADDR,
		  "", "", "", "KVM_X86_SW_PROTECTED_VM", "KVM_SET_MEMORY_ATTRIBUTES2", "" },
		{ "Linux 7.3: standard, two-dimensional paging", WITH_GUEST_MEMFD(mmap_shared), true,
		  GMEM_SERVING_GUEST_MEMFD, 1, false, HOST_KIND_SERVED_FROM_GUEST_MEMFD,
		  "", "", "", "", "KVM_SET_MEMORY_ATTRIBUTES2", "" },
		{ "a kernel with in-place conversion", WITH_GUEST_MEMFD(mmap_shared), true,
		  GMEM_SERVING_GUEST_MEMFD, 1, true, HOST_KIND_SERVED_FROM_GUEST_MEMFD,
		  "", "", "", "", "", "" },
		{ "guest_memfd with MMAP but not INIT_SHARED", WITH_GUEST_MEMFD(GUEST_MEMFD_FLAG_MMAP),
		  true, GMEM_SERVING_GUEST_MEMFD, 0, false, HOST_KIND_SERVED_FROM_GUEST_MEMFD,
		  "", "", "GUEST_MEMFD_FLAG_INIT_SHARED", "KVM_X86_SW_PROTECTED_VM",
		  "KVM_SET_MEMORY_ATTRIBUTES2", "" },
#undef WITH_GUEST_MEMFD
		/* clang-format on */
	};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct host_probe probe = { .caps = hosts[i].caps,
					    .probed = PROBE_ALL,
					    .guest_runs = hosts[i].guest_runs,
					    .serving = hosts[i].serving,
					    .private_vm_type = hosts[i].private_vm_type,
					    .set_attributes2 = hosts[i].set_attributes2 };
		const struct {
			unsigned int need;
			const char *word;
		} needs[] = {
			{ NEED_GUEST_MEMFD, hosts[i].guest_memfd },
			{ NEED_GMEM_MMAP, hosts[i].mmap },
			{ NEED_GMEM_MMAP_SHARED, hosts[i].mmap_shared },
			{ NEED_PRIVATE_VM_TYPE, hosts[i].private_memory },
			{ NEED_SET_ATTRIBUTES2, hosts[i].in_place },
			{ NEED_GUESTS_RUN, hosts[i].runs },
		};
		for (size_t j = 0; j < sizeof(needs) / sizeof(needs[0]); j++) {
			const char *lacks = probe_lacks(&probe, needs[j].need);
			if (!needs[j].word[0] && lacks)
				fail_msg("%s, need %#x: lacks '%s', expected nothing",
					 hosts[i].host, needs[j].need, lacks);
			if (needs[j].word[0] && (!lacks || !strstr(lacks, needs[j].word)))
				fail_msg("%s, need %#x: lacks '%s', expected '%s'", hosts[i].host,
					 needs[j].need, lacks ? lacks : "(nothing)", needs[j].word);
		}
		if (probe_host_kind(&probe) != hosts[i].kind)
			fail_msg("%s: kind %s, expected %s", hosts[i].host,
				 probe_host_kind_name(probe_host_kind(&probe)),
				 probe_host_kind_name(hosts[i].kind));
		/* The table names the kind in words, once every probe ran. */
		char *table = printed(&probe, false);
		assert_non_null(strstr(table, probe_host_kind_text(hosts[i].kind)));
		free(table);
	}
}

/* A need whose probe did not run counts as lacking: nothing is guessed. */
static void test_unprobed_need_lacks(void **state)
{
	(void)state;
	struct host_probe probe = { .caps = { .user_memory2 = 1, .guest_memfd = 1 } };
	assert_non_null(probe_lacks(&probe, NEED_GUESTS_RUN));
	assert_non_null(probe_lacks(&probe, NEED_PRIVATE_VM_TYPE));
	assert_null(probe_lacks(&probe, NEED_GUEST_MEMFD));
	/* each need asks for its probe, and only that */
	assert_int_equal(probe_for_needs(NEED_GUEST_MEMFD | NEED_GMEM_MMAP), 0);
	assert_int_equal(probe_for_needs(NEED_GUESTS_RUN), PROBE_GUEST_RUNS);
	assert_int_equal(probe_for_needs(NEED_PRIVATE_VM_TYPE), PROBE_PRIVATE_VM_TYPE);
	assert_int_equal(probe_for_needs(NEED_SET_ATTRIBUTES2), PROBE_SET_ATTRIBUTES2);
	/* the kind is a verdict over all: it needs every probe */
	assert_int_equal(probe_for_needs(NEED_ALL) & PROBE_GMEM_SERVING, PROBE_GMEM_SERVING);
	char *table = printed(&probe, false);
	assert_null(strstr(table, "host kind"));
	free(table);
}

/* docs/hosts.md quotes every kind's name and words as the probe prints them. */
static void test_hosts_doc_quotes_every_kind(void **state)
{
	(void)state;
	FILE *doc = fopen(TESTS_DIR "/../docs/hosts.md", "r");
	assert_non_null(doc);
	static char text[64 * 1024];
	size_t length = fread(text, 1, sizeof(text) - 1, doc);
	fclose(doc);
	text[length] = '\0';
	for (enum host_kind kind = HOST_KIND_NO_GUEST_MEMFD; kind <= HOST_KIND_MMAP; kind++) {
		char row[512];
		snprintf(row, sizeof(row), "| `%s` | %s |", probe_host_kind_name(kind),
			 probe_host_kind_text(kind));
		if (!strstr(text, row))
			fail_msg("docs/hosts.md lacks the row \"%s\"", row);
	}
	/* and the refusal it shows is the one a run without guest_memfd gets */
	struct host_probe no_guest_memfd = { .probed = PROBE_ALL, .guest_runs = true };
	const char *line = probe_lacks(&no_guest_memfd, NEED_GUEST_MEMFD);
	assert_non_null(line);
	if (!strstr(text, line))
		fail_msg("docs/hosts.md lacks the refusal \"%s\"", line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needs_per_mode),
		cmocka_unit_test(test_needs_follow_the_mode_table),
		cmocka_unit_test(test_needs_unknown_mode),
		cmocka_unit_test(test_needs_serving),
		cmocka_unit_test(test_startup_benchmark_needs_nothing),
		cmocka_unit_test(test_probe_host_records_what_ran),
		cmocka_unit_test(test_skipped_probes_say_so),
		cmocka_unit_test(test_full_probe_skips_nothing),
		cmocka_unit_test(test_guest_phys_bits),
		cmocka_unit_test(test_host_access_catchers),
		cmocka_unit_test(test_host_access_copy),
		cmocka_unit_test(test_protected_memlock),
		cmocka_unit_test(test_host_kinds),
		cmocka_unit_test(test_unprobed_need_lacks),
		cmocka_unit_test(test_hosts_doc_quotes_every_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
