// SPDX-License-Identifier: MIT
/*
 * Unit tests of the scenario loader (vmm/config.c). Each test writes a
 * scenario into a temporary file, loads it and checks either the parsed
 * struct or that the refusal names the file, the section/key and the
 * problem.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/arch.h"
#include "config.h"
#include "conversion.h"
#include "gmemvm_abi.h"
#include "vocabulary.h"

#ifndef CONFIGS_DIR
#define CONFIGS_DIR "configs"
#endif

/* The smallest scenario that loads: the two required keys. */
#define VM     "[vm]\nmode = shared\n"
#define EXPECT "[expect]\nexit = done\n"
/* A mode with a shared alias of RAM, where view=shared means something. */
#define COCO "[vm]\nmode = coco-inplace\n"

static char tmp_path[256];
static struct gmemvm_error error;
static struct scenario sc;

/* Write text into a fresh /tmp/gmemvm-cfg-XXXXXX.ini, load it, remove it. */
static int load_with(const char *text, const char *const *overrides, int nr_overrides)
{
	int fd, rc;
	size_t len = strlen(text);

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/gmemvm-cfg-XXXXXX.ini");
	fd = mkstemps(tmp_path, 4);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	memset(&error, 'x', sizeof(error));
	rc = config_load(tmp_path, overrides, nr_overrides, &sc, &error);
	unlink(tmp_path);
	return rc;
}

static int load(const char *text)
{
	return load_with(text, NULL, 0);
}

static bool all_zero(const void *data, size_t size)
{
	const unsigned char *bytes = data;

	for (size_t i = 0; i < size; i++)
		if (bytes[i])
			return false;
	return true;
}

/*
 * A refusal is -EINVAL, marked refused, one line naming the file, the
 * section/key and a word that says what is wrong, and an untouched (zeroed)
 * scenario.
 */
static void check_refused(int rc, const char *where, const char *word, int line)
{
	if (rc != -EINVAL)
		fail_msg("line %d: expected -EINVAL, got %d", line, rc);
	if (error.code != rc || !error.refused)
		fail_msg("line %d: error says code %d, refused %d", line, error.code,
			 error.refused);
	if (!strstr(error.message, tmp_path))
		fail_msg("line %d: error lacks the file name: %s", line, error.message);
	if (where && !strstr(error.message, where))
		fail_msg("line %d: error lacks '%s': %s", line, where, error.message);
	if (word && !strstr(error.message, word))
		fail_msg("line %d: error lacks '%s': %s", line, word, error.message);
	if (strchr(error.message, '\n'))
		fail_msg("line %d: error is more than one line: %s", line, error.message);
	if (!all_zero(&sc, sizeof(sc)))
		fail_msg("line %d: scenario not cleared on error", line);
}

#define REFUSED(text, where, word) check_refused(load(text), where, word, __LINE__)
#define REFUSED_SET(text, sets, where, word)                                                     \
	check_refused(load_with(text, sets, (int)(sizeof(sets) / sizeof(sets[0]))), where, word, \
		      __LINE__)

static void check_loads(int rc, int line)
{
	if (rc != 0)
		fail_msg("line %d: expected success, got %d: %s", line, rc, error.message);
	if (error.message[0] || error.code || error.refused)
		fail_msg("line %d: error not emptied on success", line);
}

#define LOADS(text) check_loads(load(text), __LINE__)
#define LOADS_SET(text, sets) \
	check_loads(load_with(text, sets, (int)(sizeof(sets) / sizeof(sets[0]))), __LINE__)

/* ---- Valid files ------------------------------------------------------ */

static void test_full_file(void **state)
{
	static const char text[] = "; a comment\n"
				   "[scenario]\n"
				   "name = full.test_1\n"
				   "description = every key once\n"
				   "[vm]\n"
				   "mode = coco-inplace\n"
				   "stage = 1\n"
				   "memory = 32M\n"
				   "vcpus = 4\n"
				   "guest = sub/guest.elf\n"
				   "timeout = 2500ms\n"
				   "[gmem]\n"
				   "flags = support_shared , init_private\n"
				   "userspace_addr = null\n"
				   "[steps]\n"
				   "step10 = pio vcpu=3\n"
				   "step2 = verify 0x200000 64K 0x5a vcpu=all\n"
				   "step1 = write 0x200000 64K 0x5a vcpu=all ; inline comment\n"
				   "step5 = mmio\n"
				   "step11 = unshare 0x300000 8K vcpu=all result=-22\n"
				   "step12 = verify 0x200000 64K 0x5a view=shared vcpu=1\n"
				   "[expect]\n"
				   "exit = done\n"
				   "exit.gmem-served = emulation-refused\n"
				   "exits.io = >=10\n"
				   "exits.mmio = 2\n"
				   "exits.hlt = <= 4\n"
				   "check1 = 0x200000 64K 0x5a\n"
				   "check2 = 0x400000 4K zero\n"
				   "check3 = 0x300000 8K sigbus\n"
				   "memory-faults = 0\n"
				   "conversions.by-hypercall = >= 2\n";
	struct scenario want;

	(void)state;
	LOADS(text);

	memset(&want, 0, sizeof(want));
	snprintf(want.path, sizeof(want.path), "%s", tmp_path);
	strcpy(want.name, "full.test_1");
	strcpy(want.description, "every key once");
	want.mode = MODE_COCO_INPLACE;
	want.stage = 1;
	want.memory_size = 32ULL << 20;
	want.vcpus = 4;
	strcpy(want.guest_path, "/tmp/sub/guest.elf");
	want.timeout_ms = 2500;
	want.support_shared = true;
	want.init_private = true;
	want.userspace_addr_null = true;
	want.steps[0] = (struct step){ GMEMVM_STEP_WRITE, 0x200000,	0x10000, 0x5a,
				       STEP_VCPU_ALL,	  VIEW_PRIVATE, 0,	 0 };
	want.steps[1] = (struct step){ GMEMVM_STEP_VERIFY, 0x200000,	 0x10000, 0x5a,
				       STEP_VCPU_ALL,	   VIEW_PRIVATE, 0,	  0 };
	want.steps[2] = (struct step){ GMEMVM_STEP_MMIO, 0, 0, 0, 0, VIEW_PRIVATE, 0, 0 };
	want.steps[3] = (struct step){ GMEMVM_STEP_PIO, 0, 0, 0, 3, VIEW_PRIVATE, 0, 0 };
	want.steps[4] = (struct step){ GMEMVM_STEP_UNSHARE, 0x300000,	  0x2000, 0,
				       STEP_VCPU_ALL,	    VIEW_PRIVATE, -22,	  0 };
	want.steps[5] =
		(struct step){ GMEMVM_STEP_VERIFY, 0x200000, 0x10000, 0x5a, 1, VIEW_SHARED, 0, 0 };
	want.nr_steps = 6;
	want.expect_gmem_served = OUTCOME_EMULATION_REFUSED;
	want.expect_uaddr_served = OUTCOME_DONE;
	want.expect_exits[EXIT_KIND_IO] = (struct count_expect){ COUNT_GE, 10 };
	want.expect_exits[EXIT_KIND_MMIO] = (struct count_expect){ COUNT_EQ, 2 };
	want.expect_exits[EXIT_KIND_HLT] = (struct count_expect){ COUNT_LE, 4 };
	want.expect_events[EVENT_MEMORY_FAULTS] = (struct count_expect){ COUNT_EQ, 0 };
	want.expect_events[EVENT_BY_HYPERCALL] = (struct count_expect){ COUNT_GE, 2 };
	want.checks[0] = (struct data_check){ 0x200000, 0x10000, CHECK_PATTERN, 0x5a };
	want.checks[1] = (struct data_check){ 0x400000, 0x1000, CHECK_ZERO, 0 };
	want.checks[2] = (struct data_check){ 0x300000, 0x2000, CHECK_SIGBUS, 0 };
	want.nr_checks = 3;

	/* Field by field first, for a readable failure; then the whole struct. */
	assert_string_equal(sc.path, want.path);
	assert_string_equal(sc.name, want.name);
	assert_string_equal(sc.description, want.description);
	assert_string_equal(sc.guest_path, want.guest_path);
	assert_int_equal(sc.mode, want.mode);
	assert_int_equal(sc.stage, want.stage);
	assert_int_equal(sc.memory_size, want.memory_size);
	assert_int_equal(sc.vcpus, want.vcpus);
	assert_int_equal(sc.timeout_ms, want.timeout_ms);
	assert_true(sc.support_shared && sc.init_private && sc.userspace_addr_null);
	assert_int_equal(sc.nr_steps, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(sc.steps[i].op, want.steps[i].op);
		assert_int_equal(sc.steps[i].addr, want.steps[i].addr);
		assert_int_equal(sc.steps[i].size, want.steps[i].size);
		assert_int_equal(sc.steps[i].pattern, want.steps[i].pattern);
		assert_int_equal(sc.steps[i].vcpu, want.steps[i].vcpu);
		assert_int_equal(sc.steps[i].view, want.steps[i].view);
		assert_int_equal(sc.steps[i].expect_result, want.steps[i].expect_result);
	}
	assert_int_equal(sc.expect_gmem_served, want.expect_gmem_served);
	assert_int_equal(sc.expect_uaddr_served, want.expect_uaddr_served);
	for (int k = 0; k < EXIT_KIND_COUNT; k++) {
		assert_int_equal(sc.expect_exits[k].compare, want.expect_exits[k].compare);
		assert_int_equal(sc.expect_exits[k].value, want.expect_exits[k].value);
	}
	for (int k = 0; k < EVENT_COUNT; k++) {
		assert_int_equal(sc.expect_events[k].compare, want.expect_events[k].compare);
		assert_int_equal(sc.expect_events[k].value, want.expect_events[k].value);
	}
	assert_int_equal(sc.nr_checks, 3);
	assert_memory_equal(sc.checks, want.checks, sizeof(want.checks));
	assert_memory_equal(&sc, &want, sizeof(want));
}

static void test_defaults(void **state)
{
	(void)state;
	LOADS(VM EXPECT);
	assert_string_equal(sc.path, tmp_path);
	/* name: the file's base name without ".ini" */
	assert_int_equal(strlen(sc.name), strlen("gmemvm-cfg-XXXXXX"));
	assert_true(strncmp(sc.name, "gmemvm-cfg-", 11) == 0);
	assert_string_equal(strrchr(tmp_path, '/') + 1 + strlen(sc.name), ".ini");
	assert_string_equal(sc.description, "");
	assert_int_equal(sc.mode, MODE_SHARED);
	assert_int_equal(sc.stage, 2);
	assert_int_equal(sc.memory_size, 16ULL << 20);
	assert_int_equal(sc.vcpus, 1);
	assert_string_equal(sc.guest_path, "");
	assert_int_equal(sc.timeout_ms, 60000);
	assert_false(sc.support_shared || sc.init_private || sc.userspace_addr_null);
	assert_int_equal(sc.nr_steps, 0); /* no steps is valid */
	assert_int_equal(sc.nr_checks, 0);
	assert_int_equal(sc.expect_gmem_served, OUTCOME_DONE);
	assert_int_equal(sc.expect_uaddr_served, OUTCOME_DONE);
	for (int k = 0; k < EXIT_KIND_COUNT; k++)
		assert_int_equal(sc.expect_exits[k].compare, COUNT_ANY);
	for (int k = 0; k < EVENT_COUNT; k++)
		assert_int_equal(sc.expect_events[k].compare, COUNT_ANY);
}

static void test_case_and_absolute_guest(void **state)
{
	(void)state;
	/* iniparser lowercases section and key names, not values */
	LOADS("[VM]\nMODE = pkvm\nGuest = /opt/g.elf\nMemory = 4m\nTimeout = 1 s\n" EXPECT);
	assert_int_equal(sc.mode, MODE_PKVM);
	assert_string_equal(sc.guest_path, "/opt/g.elf");
	assert_int_equal(sc.memory_size, 4ULL << 20);
	assert_int_equal(sc.timeout_ms, 1000);
	REFUSED(VM "[expect]\nexit = DONE\n", "[expect] exit", "unknown outcome");
}

static void test_timeout_forms(void **state)
{
	static const struct {
		const char *text;
		unsigned ms;
	} good[] = {
		{ "100", 100 },		{ "100ms", 100 },  { "1s", 1000 },    { "600s", 600000 },
		{ "600000ms", 600000 }, { "0x3e8", 1000 }, { "10 s", 10000 },
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), VM "timeout = %s\n" EXPECT, good[i].text);
		LOADS(text);
		assert_int_equal(sc.timeout_ms, good[i].ms);
	}
}

static void test_flags_forms(void **state)
{
	(void)state;
	LOADS(VM "[gmem]\nflags = none\nuserspace_addr = mapped\n" EXPECT);
	assert_false(sc.support_shared || sc.init_private || sc.userspace_addr_null);
	LOADS(VM "[gmem]\nflags = init_private\n" EXPECT);
	assert_false(sc.support_shared);
	assert_true(sc.init_private);
	LOADS(VM "[gmem]\nflags = init_private,support_shared\n" EXPECT);
	assert_true(sc.support_shared && sc.init_private);
	/* Upstream's names, with upstream's default: private unless init_shared. */
	LOADS(VM "[gmem]\nflags = mmap\n" EXPECT);
	assert_true(sc.support_shared && sc.init_private);
	LOADS(VM "[gmem]\nflags = mmap, init_shared\n" EXPECT);
	assert_true(sc.support_shared);
	assert_false(sc.init_private);
	LOADS(VM "[gmem]\nflags = mmap, init_shared, no_direct_map\n" EXPECT);
	assert_true(sc.no_direct_map);
	LOADS(VM "[gmem]\nflags = support_shared, no_direct_map\n" EXPECT);
	assert_true(sc.no_direct_map && sc.support_shared && !sc.init_private);
}

static void test_steps_gaps_and_order(void **state)
{
	(void)state;
	LOADS(VM "[steps]\nstep64 = pio\nstep3 = mmio\nstep17 = write 2M 8 0xffffffff\n" EXPECT);
	assert_int_equal(sc.nr_steps, 3);
	assert_int_equal(sc.steps[0].op, GMEMVM_STEP_MMIO);
	assert_int_equal(sc.steps[1].op, GMEMVM_STEP_WRITE);
	assert_int_equal(sc.steps[1].addr, GMEMVM_DATA_GPA);
	assert_int_equal(sc.steps[1].size, 8);
	assert_int_equal(sc.steps[1].pattern, 0xffffffffU);
	assert_int_equal(sc.steps[2].op, GMEMVM_STEP_PIO);
	assert_int_equal(sc.steps[2].vcpu, 0);
}

static void test_step_fills_memory_exactly(void **state)
{
	(void)state;
	/* 8 vCPUs x 1M from 8M ends exactly at 16M: allowed */
	LOADS("[vm]\nmode = shared\nvcpus = 8\n[steps]\nstep1 = write 8M 1M 1 vcpu=all\n" EXPECT);
	assert_int_equal(sc.steps[0].vcpu, STEP_VCPU_ALL);
	LOADS("[vm]\nmode = shared\nvcpus = 8\n[steps]\nstep1 = verify 0x200000 8 1 "
	      "vcpu=7\n" EXPECT);
	assert_int_equal(sc.steps[0].vcpu, 7);
}

static void test_expect_split_outcomes(void **state)
{
	(void)state;
	LOADS(VM "[expect]\nexit.gmem-served = cannot-run\nexit.uaddr-served = bad-mmio\n"
		 "exits.unknown = 0\nexits.memory-fault = >=0x10\n");
	assert_int_equal(sc.expect_gmem_served, OUTCOME_CANNOT_RUN);
	assert_int_equal(sc.expect_uaddr_served, OUTCOME_BAD_MMIO);
	assert_int_equal(sc.expect_exits[EXIT_KIND_UNKNOWN].compare, COUNT_EQ);
	assert_int_equal(sc.expect_exits[EXIT_KIND_UNKNOWN].value, 0);
	assert_int_equal(sc.expect_exits[EXIT_KIND_MEMORY_FAULT].compare, COUNT_GE);
	assert_int_equal(sc.expect_exits[EXIT_KIND_MEMORY_FAULT].value, 16);
	LOADS(VM "[expect]\nexit = timeout\nexit.uaddr-served = vmm-error\n");
	assert_int_equal(sc.expect_gmem_served, OUTCOME_TIMEOUT);
	assert_int_equal(sc.expect_uaddr_served, OUTCOME_VMM_ERROR);
}

/* [expect.ARCH]: on this build's architecture its keys replace [expect]'s
 * and their values are read; the other architecture's keys are checked
 * against [expect]'s and their values left to that architecture (the lab
 * runs it); no third architecture exists. */
static void test_expect_per_architecture(void **state)
{
	(void)state;
	bool arm64 = strcmp(arch_name, "arm64") == 0;
	LOADS(VM "[expect]\nexit = done\nexits.mmio = 3\nexits.hlt = 1\n"
		 "[expect.arm64]\nexits.mmio = >=3\n[expect.x86_64]\nexits.hlt = 2\n");
	assert_int_equal(sc.expect_exits[EXIT_KIND_MMIO].compare, arm64 ? COUNT_GE : COUNT_EQ);
	assert_int_equal(sc.expect_exits[EXIT_KIND_MMIO].value, 3);
	assert_int_equal(sc.expect_exits[EXIT_KIND_HLT].value, arm64 ? 1 : 2);
	REFUSED(VM "[expect]\nexit = done\n[expect.riscv64]\nexits.mmio = 3\n", "[expect.riscv64]",
		"unknown section");
	if (arm64)
		REFUSED(VM "[expect]\nexit = done\n[expect.arm64]\nexits.mmio = many\n",
			"exits.mmio", "many");
	else
		REFUSED(VM "[expect]\nexit = done\n[expect.x86_64]\nexits.mmio = many\n",
			"exits.mmio", "many");
	REFUSED(VM "[expect]\nexit = done\n[expect.x86_64]\nbogus = 1\n", "bogus", "");
}

/* Use case (c)'s two designs: [vm] pkvm picks one, for mode pkvm only. */
static void test_pkvm_design(void **state)
{
	(void)state;
	LOADS("[vm]\nmode = pkvm\n[gmem]\nflags = support_shared, init_private\n"
	      "[expect]\nexit = done\n");
	assert_false(sc.pkvm_upstream);
	LOADS("[vm]\nmode = pkvm\npkvm = upstream\n[gmem]\nflags = support_shared, "
	      "init_private\n[expect]\nexit = done\ncheck1 = 0x200000 4K faults\n");
	assert_true(sc.pkvm_upstream);
	assert_false(sc.pkvm_on_guest_memfd);
	assert_int_equal(sc.checks[0].kind, CHECK_FAULTS);
	LOADS("[vm]\nmode = pkvm\npkvm = upstream-on-guest-memfd\n[gmem]\nflags = "
	      "support_shared, init_private\n[expect]\nexit = vmm-error\n");
	assert_true(sc.pkvm_upstream && sc.pkvm_on_guest_memfd);
	REFUSED("[vm]\nmode = pkvm\npkvm = android\n[expect]\nexit = done\n", "pkvm",
		"not a design");
	REFUSED("[vm]\nmode = shared\npkvm = upstream\n[gmem]\nflags = support_shared\n"
		"[expect]\nexit = done\n",
		"pkvm", "only mode pkvm");
}

static void test_checks_anywhere_in_ram(void **state)
{
	char text[1024];
	int len;

	(void)state;
	/* Host checks may read below the data area, up to the last byte. */
	LOADS(VM EXPECT "check1 = 0 8 zero\ncheck16 = 0xfffff8 8 7\n");
	assert_int_equal(sc.nr_checks, 2);
	assert_int_equal(sc.checks[1].addr, 0xfffff8);
	assert_int_equal(sc.checks[0].kind, CHECK_ZERO);
	assert_int_equal(sc.checks[1].kind, CHECK_PATTERN);
	assert_int_equal(sc.checks[1].pattern, 7);
	len = snprintf(text, sizeof(text), VM EXPECT);
	for (int i = 1; i <= CONFIG_MAX_CHECKS; i++)
		len += snprintf(text + len, sizeof(text) - (size_t)len, "check%d = 2M 8 zero\n", i);
	LOADS(text);
	assert_int_equal(sc.nr_checks, CONFIG_MAX_CHECKS);
}

/* ---- File-level refusals ---------------------------------------------- */

static void test_missing_file(void **state)
{
	const char *path = "/nonexistent-gmemvm/x.ini";

	(void)state;
	memset(&sc, 0xff, sizeof(sc));
	assert_int_equal(config_load(path, NULL, 0, &sc, &error), -ENOENT);
	/* A failed open, not a refusal: the step says which call. */
	assert_false(error.refused);
	assert_string_equal(gmemvm_error_step(&error), "open of the scenario file");
	assert_non_null(strstr(error.message, path));
	assert_non_null(strstr(error.message, "cannot read: No such file or directory"));
	assert_true(all_zero(&sc, sizeof(sc)));
}

static void test_directory(void **state)
{
	(void)state;
	assert_int_equal(config_load("/tmp", NULL, 0, &sc, &error), -EINVAL);
	assert_true(error.refused);
	assert_non_null(strstr(error.message, "/tmp: is a directory, not a scenario file"));
}

/* Special files are refused at once: a FIFO used to hang open() and
 * /dev/zero to spin forever. */
static void test_special_files(void **state)
{
	(void)state;
	char fifo[] = "/tmp/gmemvm-cfg-fifo-XXXXXX";
	assert_non_null(mkdtemp(fifo));
	char path[64];
	snprintf(path, sizeof(path), "%s/f.ini", fifo);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(config_load(path, NULL, 0, &sc, &error), -EINVAL);
	assert_non_null(strstr(error.message, "is a FIFO, not a scenario file"));
	unlink(path);
	rmdir(fifo);
	assert_int_equal(config_load("/dev/zero", NULL, 0, &sc, &error), -EINVAL);
	assert_non_null(strstr(error.message, "/dev/zero: is a character device"));
}

/* What iniparser would answer with its own words, or echo raw, is refused
 * with the line and the reason. */
static void test_not_text(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		size_t length;
		const char *message;
	} cases[] = {
		{ "\xef\xbb\xbf[vm]\nmode = shared\n", 0,
		  "line 1 starts with a UTF-8 byte-order mark" },
		{ "[vm]\nmode = sha\0red\n", 20, "line 2 contains a NUL byte" },
		{ "[vm]\n\xff\xfe[\x00v\x00m\x00]\n", 14, "line 2 is not UTF-8 text" },
		{ "[vm]\nmode = \xc3(\n", 0, "line 2 is not UTF-8 text" },
		{ "[vm]\n; \xe2\x82\n", 0, "line 2 is not UTF-8 text" },
		{ "[vm]\nmode = \x1b[31mshared\n", 0, "line 2 contains a control character" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[] = "/tmp/gmemvm-cfg-text-XXXXXX";
		int fd = mkstemp(path);
		size_t length = cases[i].length ? cases[i].length : strlen(cases[i].text);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, cases[i].text, length), (ssize_t)length);
		close(fd);
		assert_int_equal(config_load(path, NULL, 0, &sc, &error), -EINVAL);
		unlink(path);
		if (!strstr(error.message, cases[i].message))
			fail_msg("case %zu: '%s' does not say '%s'", i, error.message,
				 cases[i].message);
	}
	/* UTF-8 in a description is fine; a line of 1024 characters is not. */
	LOADS("[scenario]\ndescription = caf\xc3\xa9 \xe2\x86\x92 ok\n" VM EXPECT);
	char text[1200];
	snprintf(text, sizeof(text), VM "; %01030d\n" EXPECT, 0);
	REFUSED(text, "line 3", "is longer than 1023 characters");
	REFUSED(VM "[steps]\nstep4294967297 = pio\n" EXPECT, "[steps] step4294967297",
		"'step4294967297' is out of range");
}

static void test_syntax_error_is_quiet(void **state)
{
	char out_path[] = "/tmp/gmemvm-cfg-stderr-XXXXXX";
	int out_fd = mkstemp(out_path);
	int saved_stderr = dup(2), saved_stdout = dup(1);
	struct stat st;
	int rc;

	(void)state;
	assert_true(out_fd >= 0 && saved_stderr >= 0 && saved_stdout >= 0);
	fflush(stdout);
	fflush(stderr);
	dup2(out_fd, 2);
	dup2(out_fd, 1);
	rc = load("[vm]\nmode = shared\nthis is not ini\n" EXPECT);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_stderr, 2);
	dup2(saved_stdout, 1);
	close(saved_stderr);
	close(saved_stdout);
	assert_int_equal(fstat(out_fd, &st), 0);
	close(out_fd);
	unlink(out_path);

	check_refused(rc, "line 3", "syntax error", __LINE__);
	assert_non_null(strstr(error.message, "this is not ini"));
	assert_int_equal(st.st_size, 0); /* nothing on stdout or stderr */
}

static void test_unknown_section(void **state)
{
	(void)state;
	REFUSED(VM EXPECT "[vmm]\nx = 1\n", "[vmm]", "unknown section");
}

static void test_key_outside_section(void **state)
{
	(void)state;
	REFUSED("mode = shared\n" VM EXPECT, "mode", "outside any section");
}

static void test_unknown_key(void **state)
{
	(void)state;
	REFUSED(VM "memroy = 8M\n" EXPECT, "[vm] memroy", "unknown key");
	assert_non_null(strstr(error.message, "memory")); /* lists what is allowed */
	REFUSED("[scenario]\ntitle = x\n" VM EXPECT, "[scenario] title", "unknown key");
	REFUSED(VM "[gmem]\nflag = none\n" EXPECT, "[gmem] flag", "unknown key");
	REFUSED(VM EXPECT "exit.other = done\n", "[expect] exit.other", "unknown key");
}

static void test_empty_value(void **state)
{
	(void)state;
	REFUSED(VM "memory =\n" EXPECT, "[vm] memory", "empty value");
	REFUSED("[scenario]\ndescription = ; nothing\n" VM EXPECT, "[scenario] description",
		"empty value");
	REFUSED(VM "[steps]\nstep1 =\n" EXPECT, "[steps] step1", "empty value");
}

/* ---- [scenario] and [vm] refusals ------------------------------------- */

static void test_bad_name(void **state)
{
	(void)state;
	REFUSED("[scenario]\nname = has space\n" VM EXPECT, "[scenario] name", "not a valid name");
	REFUSED("[scenario]\nname = a/b\n" VM EXPECT, "[scenario] name", "not a valid name");
	REFUSED("[scenario]\nname = "
		"a123456789b123456789c123456789d123456789e123456789f123456789abcd\n" VM EXPECT,
		"[scenario] name", "not a valid name");
	LOADS("[scenario]\nname = "
	      "a123456789b123456789c123456789d123456789e123456789f123456789abc\n" VM EXPECT);
	assert_int_equal(strlen(sc.name), 63);
}

static void test_mode(void **state)
{
	(void)state;
	REFUSED("[vm]\nvcpus = 1\n" EXPECT, "[vm] mode", "missing");
	REFUSED(EXPECT, "[vm] mode", "missing");
	REFUSED("[vm]\nmode = sev\n" EXPECT, "[vm] mode", "unknown mode 'sev'");
}

static void test_stage(void **state)
{
	(void)state;
	LOADS(VM "stage = 1\n" EXPECT);
	assert_int_equal(sc.stage, 1);
	REFUSED(VM "stage = 3\n" EXPECT, "[vm] stage", "must be 1 or 2");
	REFUSED(VM "stage = 0\n" EXPECT, "[vm] stage", "must be 1 or 2");
	REFUSED(VM "stage = two\n" EXPECT, "[vm] stage", "not a number");
}

static void test_memory_range(void **state)
{
	char text[256];

	(void)state;
	REFUSED(VM "memory = 3M\n" EXPECT, "[vm] memory", "'3M' is below the minimum 4M");
	REFUSED(VM "memory = 2M\n" EXPECT, "[vm] memory", "below the minimum");
	REFUSED(VM "memory = 18G\n" EXPECT, "[vm] memory", "above the maximum");
	snprintf(text, sizeof(text), VM "memory = %llu\n" EXPECT,
		 (unsigned long long)CONFIG_MAX_MEMORY + (2ULL << 20));
	REFUSED(text, "[vm] memory", "above the maximum");
	snprintf(text, sizeof(text), VM "memory = 0x%llx\n" EXPECT,
		 (unsigned long long)CONFIG_MAX_MEMORY);
	LOADS(text);
	assert_int_equal(sc.memory_size, CONFIG_MAX_MEMORY);
	REFUSED(VM "memory = 5M\n" EXPECT, "[vm] memory", "not a multiple of 2M");
	REFUSED(VM "memory = 0x400001\n" EXPECT, "[vm] memory", "not a multiple of 2M");
	LOADS(VM "memory = 0x600000\n" EXPECT);
	assert_int_equal(sc.memory_size, 6ULL << 20);
}

static void test_bad_numbers(void **state)
{
	(void)state;
	REFUSED(VM "memory = lots\n" EXPECT, "[vm] memory", "not a number");
	REFUSED(VM "memory = 16MB\n" EXPECT, "[vm] memory", "trailing");
	REFUSED(VM "memory = 1.5G\n" EXPECT, "[vm] memory", "trailing");
	REFUSED(VM "memory = 99999999999999999999G\n" EXPECT, "[vm] memory", "overflow");
	REFUSED(VM "memory = 17179869184G\n" EXPECT, "[vm] memory", "overflow");
	REFUSED(VM "memory = -16M\n" EXPECT, "[vm] memory", "negative");
	REFUSED(VM "vcpus = -1\n" EXPECT, "[vm] vcpus", "negative");
	REFUSED(VM "vcpus = 2x\n" EXPECT, "[vm] vcpus", "trailing");
	REFUSED(VM "vcpus = 99999999999999999999\n" EXPECT, "[vm] vcpus", "overflow");
}

static void test_vcpus_range(void **state)
{
	(void)state;
	REFUSED(VM "vcpus = 0\n" EXPECT, "[vm] vcpus", "out of range 1..8");
	REFUSED(VM "vcpus = 9\n" EXPECT, "[vm] vcpus", "out of range");
	LOADS(VM "vcpus = 8\n" EXPECT);
	assert_int_equal(sc.vcpus, GMEMVM_MAX_VCPUS);
}

static void test_timeout_refused(void **state)
{
	(void)state;
	REFUSED(VM "timeout = 99\n" EXPECT, "[vm] timeout", "out of range");
	REFUSED(VM "timeout = 601s\n" EXPECT, "[vm] timeout", "out of range");
	REFUSED(VM "timeout = 0s\n" EXPECT, "[vm] timeout", "out of range");
	REFUSED(VM "timeout = 99999999999999999999s\n" EXPECT, "[vm] timeout", "out of range");
	REFUSED(VM "timeout = 10min\n" EXPECT, "[vm] timeout", "unknown unit");
	REFUSED(VM "timeout = soon\n" EXPECT, "[vm] timeout", "not a number");
	REFUSED(VM "timeout = -5s\n" EXPECT, "[vm] timeout", "negative");
}

static void test_guest_path_too_long(void **state)
{
	char text[512];

	(void)state;
	snprintf(text, sizeof(text), VM "guest = /%0300d\n" EXPECT, 0);
	REFUSED(text, "[vm] guest", "too long");
}

/* A forbidden flag combination is refused as the scenario's outcome (exit 0
 * with "refused"), never a host failure: the stage rules catch it first. */
static void test_init_private_alone_is_a_refusal(void **state)
{
	(void)state;
	struct gmemvm_error why = { 0 };
	LOADS("[vm]\nmode = coco-legacy\n[gmem]\nflags = init_private\n" EXPECT);
	assert_int_equal(conversion_check_stage(&sc, &why), -EINVAL);
	assert_true(why.refused);
	assert_non_null(strstr(why.message, "private anyway"));
	LOADS("[vm]\nmode = coco-legacy\n[gmem]\nflags = support_shared, init_private\n" EXPECT);
	assert_int_equal(conversion_check_stage(&sc, &why), 0);
	LOADS("[vm]\nmode = coco-legacy\n" EXPECT);
	assert_int_equal(conversion_check_stage(&sc, &why), 0);
}

/* ---- [gmem] refusals -------------------------------------------------- */

static void test_flags_refused(void **state)
{
	(void)state;
	REFUSED(VM "[gmem]\nflags = shared\n" EXPECT, "[gmem] flags", "unknown flag 'shared'");
	REFUSED(VM "[gmem]\nflags = mmap, init_private\n" EXPECT, "[gmem] flags", "mixes");
	REFUSED(VM "[gmem]\nflags = support_shared, init_shared\n" EXPECT, "[gmem] flags", "mixes");
	REFUSED(VM "[gmem]\nflags = init_shared\n" EXPECT, "[gmem] flags",
		"init_shared needs mmap");
	REFUSED(VM "[gmem]\nflags = mmap, mmap\n" EXPECT, "[gmem] flags", "duplicate");
	REFUSED(VM "[gmem]\nflags = no_direct_map\n" EXPECT, "[gmem] flags",
		"no_direct_map is for mode shared with mmap");
	REFUSED("[vm]\nmode = pkvm\n[gmem]\nflags = mmap, init_shared, no_direct_map\n" EXPECT,
		"[gmem] flags", "no_direct_map is for mode shared");
	REFUSED(VM "[gmem]\nflags = none, init_private\n" EXPECT, "[gmem] flags", "'none'");
	REFUSED(VM "[gmem]\nflags = init_private,init_private\n" EXPECT, "[gmem] flags",
		"duplicate");
	REFUSED(VM "[gmem]\nflags = init_private,,support_shared\n" EXPECT, "[gmem] flags",
		"empty flag");
	REFUSED(VM "[gmem]\nflags = init_private,\n" EXPECT, "[gmem] flags", "empty flag");
}

static void test_userspace_addr_refused(void **state)
{
	(void)state;
	REFUSED(VM "[gmem]\nuserspace_addr = NULL\n" EXPECT, "[gmem] userspace_addr",
		"not mapped, null or anonymous");
}

/* ---- [steps] refusals ------------------------------------------------- */

static void test_step_keys(void **state)
{
	(void)state;
	REFUSED(VM "[steps]\nfirst = mmio\n" EXPECT, "[steps] first", "step1..step64");
	REFUSED(VM "[steps]\nstep0 = mmio\n" EXPECT, "[steps] step0", "step1..step64");
	REFUSED(VM "[steps]\nstep01 = mmio\n" EXPECT, "[steps] step01", "step1..step64");
	REFUSED(VM "[steps]\nstep65 = mmio\n" EXPECT, "[steps] step65", "out of range");
	REFUSED(VM "[steps]\nstep99999999999 = mmio\n" EXPECT, "[steps] step99999999999",
		"out of range");
}

static void test_step_op_and_args(void **state)
{
	(void)state;
	REFUSED(VM "[steps]\nstep1 = read 2M 8 1\n" EXPECT, "[steps] step1", "unknown op 'read'");
	REFUSED(VM "[steps]\nstep1 = write 2M 8\n" EXPECT, "[steps] step1", "ADDR SIZE PATTERN");
	REFUSED(VM "[steps]\nstep1 = verify 2M 8 1 2\n" EXPECT, "[steps] step1", "4 arguments");
	REFUSED(VM "[steps]\nstep1 = mmio 2M\n" EXPECT, "[steps] step1", "takes no arguments");
	REFUSED(VM "[steps]\nstep1 = pio vcpu=0 vcpu=0\n" EXPECT, "[steps] step1",
		"duplicate option vcpu=");
	REFUSED(VM "[steps]\nstep1 = pio 0\n" EXPECT, "[steps] step1", "1..10000000");
	REFUSED(VM "[steps]\nstep1 = pio 10000001\n" EXPECT, "[steps] step1", "1..10000000");
	REFUSED(VM "[steps]\nstep1 = pio 5 6\n" EXPECT, "[steps] step1", "optional COUNT");
	REFUSED(VM "[steps]\nstep1 = write x 8 1\n" EXPECT, "[steps] step1",
		"address 'x' is not a number");
	REFUSED(VM "[steps]\nstep1 = write 2M 8q 1\n" EXPECT, "[steps] step1", "size '8q'");
}

static void test_step_alignment(void **state)
{
	(void)state;
	REFUSED(VM "[steps]\nstep1 = write 0x200004 8 1\n" EXPECT, "[steps] step1",
		"not 8-byte aligned");
	REFUSED(VM "[steps]\nstep1 = write 2M 12 1\n" EXPECT, "[steps] step1",
		"size 12 is not 8-byte aligned");
	REFUSED(VM "[steps]\nstep1 = verify 2M 0 1\n" EXPECT, "[steps] step1", "size is zero");
}

static void test_step_pattern(void **state)
{
	(void)state;
	REFUSED(VM "[steps]\nstep1 = write 2M 8 0x100000000\n" EXPECT, "[steps] step1",
		"not a 32-bit number");
	REFUSED(VM "[steps]\nstep1 = write 2M 8 -1\n" EXPECT, "[steps] step1",
		"not a 32-bit number");
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1K\n" EXPECT, "[steps] step1",
		"not a 32-bit number");
}

/* hostile SEED COUNT: the seed goes into pattern, the count into count, and
 * the playground is [DATA_GPA, DATA_GPA + 4M) whatever the vCPU. */
static void test_step_hostile(void **state)
{
	(void)state;
	LOADS("[vm]\nmode = coco-inplace\nstage = 2\nvcpus = 4\n[gmem]\nflags = support_shared\n"
	      "[steps]\nstep1 = hostile 0xdeadbeef 3000 vcpu=all\nstep2 = hostile 0 1\n"
	      "step3 = hostile 7 1000000 vcpu=3\n" EXPECT);
	assert_int_equal(sc.steps[0].op, GMEMVM_STEP_HOSTILE);
	assert_int_equal(sc.steps[0].pattern, 0xdeadbeefU);
	assert_int_equal(sc.steps[0].count, 3000);
	assert_int_equal(sc.steps[0].vcpu, STEP_VCPU_ALL);
	assert_int_equal(sc.steps[0].addr, 0x200000);
	assert_int_equal(sc.steps[0].size, 4 << 20);
	assert_int_equal(sc.steps[1].pattern, 0);
	assert_int_equal(sc.steps[1].count, 1);
	assert_int_equal(sc.steps[1].vcpu, 0);
	assert_int_equal(sc.steps[2].count, 1000000);
	assert_int_equal(sc.steps[2].vcpu, 3);
	assert_string_equal(gmemvm_step_op_name(GMEMVM_STEP_HOSTILE), "hostile");
	REFUSED(VM "[steps]\nstep1 = hostile 1 0\n" EXPECT, "[steps] step1",
		"hostile count '0' is not a number in 1..1000000");
	REFUSED(VM "[steps]\nstep1 = hostile 1 1000001\n" EXPECT, "[steps] step1",
		"hostile count '1000001'");
	REFUSED(VM "[steps]\nstep1 = hostile 1 1K\n" EXPECT, "[steps] step1", "hostile count '1K'");
	REFUSED(VM "[steps]\nstep1 = hostile 0x100000000 10\n" EXPECT, "[steps] step1",
		"hostile seed '0x100000000' is not a 32-bit number");
	REFUSED(VM "[steps]\nstep1 = hostile -1 10\n" EXPECT, "[steps] step1", "hostile seed '-1'");
	REFUSED(VM "[steps]\nstep1 = hostile\n" EXPECT, "[steps] step1",
		"hostile takes SEED COUNT [vcpu=N|all], got 0 arguments");
	REFUSED(VM "[steps]\nstep1 = hostile 5\n" EXPECT, "[steps] step1",
		"hostile takes SEED COUNT [vcpu=N|all], got 1 argument");
	REFUSED(VM "[steps]\nstep1 = hostile 5 10 2M\n" EXPECT, "[steps] step1", "got 3 arguments");
	REFUSED(VM "[steps]\nstep1 = hostile 5 10 view=shared\n" EXPECT, "[steps] step1",
		"view= is only for");
	REFUSED(VM "[steps]\nstep1 = hostile 5 10 result=0\n" EXPECT, "[steps] step1",
		"result= is only for");
	REFUSED(VM "[steps]\nstep1 = hostile 5 10 vcpu=1\n" EXPECT, "[steps] step1", "vcpus is 1");
	REFUSED("[vm]\nmode = shared\nmemory = 4M\n[steps]\nstep1 = hostile 5 10\n" EXPECT,
		"[steps] step1", "hostile's playground ends at 0x600000");
}

/* scatter ADDR COUNT: COUNT pages every other page, so 2 x COUNT pages of room. */
static void test_step_scatter(void **state)
{
	(void)state;
	LOADS(VM "[steps]\nstep1 = scatter 0x400000 100\n" EXPECT);
	assert_int_equal(sc.steps[0].op, GMEMVM_STEP_SCATTER);
	assert_int_equal(sc.steps[0].count, 100);
	assert_int_equal(sc.steps[0].addr, 0x400000);
	assert_int_equal(sc.steps[0].size, 2 * 4096 * 100);
	REFUSED(VM "[steps]\nstep1 = scatter 0x400000 0\n" EXPECT, "[steps] step1",
		"scatter count '0' is not a number in 1..65536");
	REFUSED(VM "[steps]\nstep1 = scatter 0x400000 65537\n" EXPECT, "[steps] step1",
		"scatter count '65537'");
	REFUSED(VM "[steps]\nstep1 = scatter 0x400800 1\n" EXPECT, "[steps] step1",
		"scatter address '0x400800' is not page-aligned");
	REFUSED(VM "[steps]\nstep1 = scatter 0x400000\n" EXPECT, "[steps] step1",
		"scatter takes ADDR COUNT [vcpu=N|all], got 1 argument");
	REFUSED(VM "[steps]\nstep1 = scatter 0x1000 1\n" EXPECT, "[steps] step1",
		"below the data area");
	REFUSED(VM "[steps]\nstep1 = scatter 0x400000 65536\n" EXPECT, "[steps] step1",
		"memory too small");
	REFUSED(VM "[steps]\nstep1 = scatter 0x400000 4 view=shared\n" EXPECT, "[steps] step1",
		"view= is only for");
}

/* touch is a page-granular write; flip carries its round count. */
static void test_step_touch_and_flip(void **state)
{
	(void)state;
	LOADS(COCO
	      "[steps]\nstep1 = touch 2M 8K 0x7 view=shared\nstep2 = flip 0x300000 4K 25\n" EXPECT);
	assert_int_equal(sc.steps[0].op, GMEMVM_STEP_TOUCH);
	assert_int_equal(sc.steps[0].view, VIEW_SHARED);
	assert_int_equal(sc.steps[1].op, GMEMVM_STEP_FLIP);
	assert_int_equal(sc.steps[1].count, 25);
	assert_int_equal(sc.steps[1].size, 4096);
	REFUSED(VM "[steps]\nstep1 = touch 0x200008 4K 0x7\n" EXPECT, "[steps] step1",
		"page granularity");
	REFUSED(VM "[steps]\nstep1 = flip 0x300000 4K 0\n" EXPECT, "[steps] step1",
		"flip count '0'");
	REFUSED(VM "[steps]\nstep1 = flip 0x300000 4K\n" EXPECT, "[steps] step1",
		"flip takes ADDR SIZE COUNT");
	REFUSED(VM "[steps]\nstep1 = flip 0x300000 4K 3 view=shared\n" EXPECT, "[steps] step1",
		"view= is only for");
	/* discard is page-granular and may name a view. */
	LOADS(COCO "[steps]\nstep1 = discard 2M 8K view=shared\n" EXPECT);
	assert_int_equal(sc.steps[0].op, GMEMVM_STEP_DISCARD);
	assert_int_equal(sc.steps[0].view, VIEW_SHARED);
	REFUSED(VM "[steps]\nstep1 = discard 2M 100\n" EXPECT, "[steps] step1", "page granularity");
	REFUSED(VM "[steps]\nstep1 = discard 2M\n" EXPECT, "[steps] step1",
		"discard takes ADDR SIZE");
	/* A barrier is always for every vCPU. */
	LOADS(VM "[steps]\nstep1 = barrier\n" EXPECT);
	assert_int_equal(sc.steps[0].op, GMEMVM_STEP_BARRIER);
	assert_int_equal(sc.steps[0].vcpu, STEP_VCPU_ALL);
	REFUSED(VM "[steps]\nstep1 = barrier vcpu=0\n" EXPECT, "[steps] step1",
		"barrier takes no arguments");
}

/* userspace_addr = anonymous asks for the stage-1 refusal demonstration. */
static void test_userspace_addr_anonymous(void **state)
{
	(void)state;
	LOADS(VM "[gmem]\nuserspace_addr = anonymous\n" EXPECT);
	assert_true(sc.userspace_addr_anonymous);
	assert_false(sc.userspace_addr_null);
	LOADS(VM "[expect]\nexit = refused\n");
	assert_int_equal(sc.expect_gmem_served, OUTCOME_REFUSED);
}

/* pio COUNT is the benchmark's repeat count; it travels in step.size. */
static void test_step_pio_count(void **state)
{
	(void)state;
	LOADS(VM "[steps]\nstep1 = pio 100000 vcpu=0\nstep2 = pio\n" EXPECT);
	assert_int_equal(sc.steps[0].op, GMEMVM_STEP_PIO);
	assert_int_equal(sc.steps[0].size, 100000);
	assert_int_equal(sc.steps[1].size, 0);
}

static void test_step_vcpu(void **state)
{
	(void)state;
	REFUSED(VM "[steps]\nstep1 = pio vcpu=1\n" EXPECT, "[steps] step1", "vcpus is 1");
	REFUSED("[vm]\nmode = shared\nvcpus = 2\n[steps]\nstep2 = mmio vcpu=2\n" EXPECT,
		"[steps] step2", "vcpu=2");
	REFUSED(VM "[steps]\nstep1 = pio vcpu=some\n" EXPECT, "[steps] step1",
		"vcpu=N or vcpu=all");
	REFUSED(VM "[steps]\nstep1 = pio vcpu=\n" EXPECT, "[steps] step1", "vcpu=N or vcpu=all");
}

static void test_step_range(void **state)
{
	(void)state;
	REFUSED(VM "[steps]\nstep1 = write 0x1000 8 1\n" EXPECT, "[steps] step1",
		"below the data area");
	REFUSED(VM "[steps]\nstep3 = write 15M 2M 1\n" EXPECT, "[steps] step3",
		"memory too small for the guest: step3 touches up to 0x1100000, memory is 16M");
	/* vcpu=all multiplies the size: 4 x 4M from 2M ends at 18M */
	REFUSED("[vm]\nmode = shared\nvcpus = 4\n[steps]\nstep1 = write 2M 4M 1 vcpu=all\n" EXPECT,
		"[steps] step1", "memory too small");
	REFUSED(VM "[steps]\nstep1 = write 0xfffffffffffffff8 8 1\n" EXPECT, "[steps] step1",
		"overflows");
	REFUSED("[vm]\nmode = shared\nvcpus = 8\n[steps]\n"
		"step1 = write 2M 0x2000000000000000 1 vcpu=all\n" EXPECT,
		"[steps] step1", "overflows");
}

/* ---- share/unshare, view= and result= ---------------------------------- */

static void test_step_share_unshare(void **state)
{
	(void)state;
	LOADS("[vm]\nmode = coco-inplace\nvcpus = 2\n[steps]\n"
	      "step1 = share 2M 4K\n"
	      "step2 = unshare 0x201000 8K result=0 vcpu=1\n"
	      "step3 = share 2M 4K vcpu=all result=-22\n"
	      "step4 = unshare 2M 4K result=2147483647\n"
	      "step5 = share 2M 4K result=-2147483648\n" EXPECT);
	assert_int_equal(sc.nr_steps, 5);
	assert_int_equal(sc.steps[0].op, GMEMVM_STEP_SHARE);
	assert_int_equal(sc.steps[0].addr, 0x200000);
	assert_int_equal(sc.steps[0].size, 0x1000);
	assert_int_equal(sc.steps[0].vcpu, 0);
	assert_int_equal(sc.steps[0].expect_result, 0);
	assert_int_equal(sc.steps[0].view, VIEW_PRIVATE);
	assert_int_equal(sc.steps[1].op, GMEMVM_STEP_UNSHARE);
	assert_int_equal(sc.steps[1].addr, 0x201000);
	assert_int_equal(sc.steps[1].size, 0x2000);
	assert_int_equal(sc.steps[1].vcpu, 1);
	assert_int_equal(sc.steps[2].vcpu, STEP_VCPU_ALL);
	assert_int_equal(sc.steps[2].expect_result, GMEMVM_HC_EINVAL);
	assert_int_equal(sc.steps[3].expect_result, INT32_MAX);
	assert_int_equal(sc.steps[4].expect_result, INT32_MIN);
}

/* Bad ranges are the point of some scenarios: the VMM must refuse them. */
static void test_step_share_ranges_unchecked(void **state)
{
	(void)state;
	LOADS(VM "[steps]\n"
		 "step1 = share 0 0 result=-22\n"	    /* size 0, below the data area */
		 "step2 = unshare 0x200004 12 result=-22\n" /* misaligned */
		 "step3 = share 1G 1G result=-22\n"	    /* beyond RAM */
		 "step4 = share 0xfffffffffffff000 0x2000 result=-22\n" /* wraps */
		 "step5 = unshare 0x1000 4K result=-1\n" EXPECT);
	assert_int_equal(sc.nr_steps, 5);
	assert_int_equal(sc.steps[0].size, 0);
	assert_int_equal(sc.steps[1].addr, 0x200004);
	assert_int_equal(sc.steps[1].size, 12);
	assert_int_equal(sc.steps[2].addr, 1ULL << 30);
	assert_int_equal(sc.steps[3].addr, 0xfffffffffffff000ULL);
	assert_int_equal(sc.steps[4].expect_result, GMEMVM_HC_EPERM);
	/* ...but they must still be numbers */
	REFUSED(VM "[steps]\nstep1 = share x 4K\n" EXPECT, "[steps] step1",
		"address 'x' is not a number");
	REFUSED(VM "[steps]\nstep1 = unshare 2M -1\n" EXPECT, "[steps] step1",
		"size '-1' is negative");
	REFUSED(VM "[steps]\nstep1 = share 2M 4KB\n" EXPECT, "[steps] step1", "size '4KB'");
	REFUSED(VM "[steps]\nstep1 = share 0x10000000000000000 4K\n" EXPECT, "[steps] step1",
		"overflow");
}

static void test_step_share_args(void **state)
{
	(void)state;
	REFUSED(VM "[steps]\nstep1 = share 2M\n" EXPECT, "[steps] step1",
		"share takes ADDR SIZE [result=N] [vcpu=N|all], got 1 argument");
	REFUSED(VM "[steps]\nstep1 = unshare 2M 4K 0x5a\n" EXPECT, "[steps] step1",
		"unshare takes ADDR SIZE");
	REFUSED(VM "[steps]\nstep1 = share\n" EXPECT, "[steps] step1", "got 0 arguments");
	REFUSED(VM "[steps]\nstep1 = share 2M 4K vcpu=1\n" EXPECT, "[steps] step1", "vcpus is 1");
	REFUSED(VM "[steps]\nstep1 = Share 2M 4K\n" EXPECT, "[steps] step1",
		"unknown op 'Share' (write, verify, touch, mmio, pio, share, unshare, flip, "
		"barrier, discard, hostile, scatter, hold, release)");
}

static void test_step_result(void **state)
{
	static const char *const bad[] = {
		"",    "x", "+1",  "--1",	 "0x10",	"1K",
		"1.0", "-", "22-", "2147483648", "-2147483649", "99999999999999999999999",
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), VM "[steps]\nstep1 = share 2M 4K result=%s\n" EXPECT,
			 bad[i]);
		REFUSED(text, "[steps] step1", "is not a decimal 32-bit integer");
	}
	/* "- 1" splits into "result=-" and "1": an argument after an option */
	REFUSED(VM "[steps]\nstep1 = share 2M 4K result=- 1\n" EXPECT, "[steps] step1",
		"argument '1' after an option");
	LOADS(VM "[steps]\nstep1 = share 2M 4K result=010\n" EXPECT);
	assert_int_equal(sc.steps[0].expect_result, 10); /* decimal, not octal */
	LOADS(VM "[steps]\nstep1 = share 2M 4K result=-0\n" EXPECT);
	assert_int_equal(sc.steps[0].expect_result, 0);
	/* result= belongs to share and unshare only */
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1 result=0\n" EXPECT, "[steps] step1",
		"result= is only for share, unshare, hold and release, not write");
	REFUSED(VM "[steps]\nstep1 = verify 2M 8 1 result=-22\n" EXPECT, "[steps] step1",
		"not verify");
	REFUSED(VM "[steps]\nstep1 = pio result=0\n" EXPECT, "[steps] step1", "not pio");
	REFUSED(VM "[steps]\nstep1 = mmio result=0\n" EXPECT, "[steps] step1", "not mmio");
}

static void test_step_view(void **state)
{
	(void)state;
	LOADS(COCO "[steps]\nstep1 = write 2M 8 1 view=shared\nstep2 = verify 2M 8 1 view=private\n"
		   "step3 = verify 2M 8 1\n" EXPECT);
	assert_int_equal(sc.steps[0].view, VIEW_SHARED);
	assert_int_equal(sc.steps[1].view, VIEW_PRIVATE);
	assert_int_equal(sc.steps[2].view, VIEW_PRIVATE);
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1 view=public\n" EXPECT, "[steps] step1",
		"unknown view 'public' (private or shared)");
	/* Modes shared and pkvm have one view: naming the other is refused. */
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1 view=shared\n" EXPECT, "[steps] step1",
		"view=shared needs a mode with a shared alias");
	REFUSED("[vm]\nmode = pkvm\n[steps]\nstep1 = touch 2M 4K 1 view=shared\n" EXPECT,
		"[steps] step1", "mode pkvm has one view");
	LOADS(VM "[steps]\nstep1 = write 2M 8 1 view=private\n" EXPECT);
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1 view=Shared\n" EXPECT, "[steps] step1",
		"unknown view 'Shared'");
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1 view=\n" EXPECT, "[steps] step1",
		"unknown view ''");
	/* view= belongs to write and verify only */
	REFUSED(VM "[steps]\nstep1 = share 2M 4K view=shared\n" EXPECT, "[steps] step1",
		"view= is only for write, verify, touch and discard, not share");
	REFUSED(VM "[steps]\nstep1 = unshare 2M 4K view=private\n" EXPECT, "[steps] step1",
		"not unshare");
	REFUSED(VM "[steps]\nstep1 = mmio view=shared\n" EXPECT, "[steps] step1", "not mmio");
	REFUSED(VM "[steps]\nstep1 = pio 3 view=shared\n" EXPECT, "[steps] step1", "not pio");
	/* the range rules of write/verify hold in either view */
	REFUSED(COCO "[steps]\nstep1 = write 0x1000 8 1 view=shared\n" EXPECT, "[steps] step1",
		"below the data area");
}

static void test_step_option_order(void **state)
{
	(void)state;
	/* any order after the arguments */
	LOADS("[vm]\nmode = coco-inplace\nvcpus = 2\n[steps]\n"
	      "step1 = write 2M 8 1 vcpu=1 view=shared\n"
	      "step2 = write 2M 8 1 view=shared vcpu=1\n"
	      "step3 = share 2M 4K result=-1 vcpu=all\n"
	      "step4 = share 2M 4K vcpu=all result=-1\n"
	      "step5 = pio 7 vcpu=1\n" EXPECT);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sc.steps[i].vcpu, 1);
		assert_int_equal(sc.steps[i].view, VIEW_SHARED);
	}
	for (int i = 2; i < 4; i++) {
		assert_int_equal(sc.steps[i].vcpu, STEP_VCPU_ALL);
		assert_int_equal(sc.steps[i].expect_result, -1);
	}
	assert_int_equal(sc.steps[4].size, 7);
	assert_int_equal(sc.steps[4].vcpu, 1);
	/* ...but after the arguments */
	REFUSED(VM "[steps]\nstep1 = write vcpu=0 2M 8 1\n" EXPECT, "[steps] step1",
		"argument '2M' after an option");
	REFUSED(VM "[steps]\nstep1 = share 2M result=0 4K\n" EXPECT, "[steps] step1",
		"argument '4K' after an option");
	REFUSED(VM "[steps]\nstep1 = pio vcpu=0 5\n" EXPECT, "[steps] step1",
		"argument '5' after an option");
	/* each at most once */
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1 view=shared view=private\n" EXPECT,
		"[steps] step1", "duplicate option view=");
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1 view=shared view=shared\n" EXPECT,
		"[steps] step1", "duplicate option view=");
	REFUSED(VM "[steps]\nstep1 = share 2M 4K result=0 vcpu=0 result=0\n" EXPECT,
		"[steps] step1", "duplicate option result=");
	REFUSED(VM "[steps]\nstep1 = share 2M 4K vcpu=0 vcpu=all\n" EXPECT, "[steps] step1",
		"duplicate option vcpu=");
	/* unknown options */
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1 cpu=0\n" EXPECT, "[steps] step1",
		"unknown option 'cpu=0' (vcpu=, view=, result=)");
	REFUSED(VM "[steps]\nstep1 = write 2M 8 1 VIEW=shared\n" EXPECT, "[steps] step1",
		"unknown option 'VIEW=shared'");
	REFUSED(VM "[steps]\nstep1 = share 2M 4K =1\n" EXPECT, "[steps] step1",
		"unknown option '=1'");
}

/* ---- [expect] event counts and check kinds ------------------------------ */

static void test_expect_events(void **state)
{
	(void)state;
	LOADS(VM EXPECT "memory-faults = >=1\nconversions.to-shared = 4\n"
			"conversions.to-private = <= 0x10\nconversions.by-fault = 0\n"
			"conversions.by-hypercall = >= 2\nhypercalls.refused = 3\n");
	assert_int_equal(sc.expect_events[EVENT_MEMORY_FAULTS].compare, COUNT_GE);
	assert_int_equal(sc.expect_events[EVENT_MEMORY_FAULTS].value, 1);
	assert_int_equal(sc.expect_events[EVENT_TO_SHARED].compare, COUNT_EQ);
	assert_int_equal(sc.expect_events[EVENT_TO_SHARED].value, 4);
	assert_int_equal(sc.expect_events[EVENT_TO_PRIVATE].compare, COUNT_LE);
	assert_int_equal(sc.expect_events[EVENT_TO_PRIVATE].value, 16);
	assert_int_equal(sc.expect_events[EVENT_BY_FAULT].compare, COUNT_EQ);
	assert_int_equal(sc.expect_events[EVENT_BY_FAULT].value, 0);
	assert_int_equal(sc.expect_events[EVENT_BY_HYPERCALL].compare, COUNT_GE);
	assert_int_equal(sc.expect_events[EVENT_BY_HYPERCALL].value, 2);
	assert_int_equal(sc.expect_events[EVENT_HYPERCALLS_REFUSED].compare, COUNT_EQ);
	assert_int_equal(sc.expect_events[EVENT_HYPERCALLS_REFUSED].value, 3);
	/* the exit counts are separate: memory-faults is not exits.memory-fault */
	assert_int_equal(sc.expect_exits[EXIT_KIND_MEMORY_FAULT].compare, COUNT_ANY);

	REFUSED(VM EXPECT "memory-faults = many\n", "[expect] memory-faults", "not a number");
	REFUSED(VM EXPECT "conversions.to-shared = >4\n", "[expect] conversions.to-shared",
		"not a number");
	REFUSED(VM EXPECT "conversions.to-private = -1\n", "[expect] conversions.to-private",
		"negative");
	REFUSED(VM EXPECT "conversions.by-fault = 1 2\n", "[expect] conversions.by-fault",
		"trailing");
	REFUSED(VM EXPECT "conversions.by-hypercall = <=1K\n", "[expect] conversions.by-hypercall",
		"trailing");
	REFUSED(VM EXPECT "hypercalls.refused = 99999999999999999999\n",
		"[expect] hypercalls.refused", "overflow");
	REFUSED(VM EXPECT "memory-fault = 1\n", "[expect] memory-fault", "unknown key");
	REFUSED(VM EXPECT "conversions.to-guest = 1\n", "[expect] conversions.to-guest",
		"conversions.to-shared");
	REFUSED(VM EXPECT "hypercalls = 1\n", "[expect] hypercalls", "hypercalls.refused");
	REFUSED(VM EXPECT "exits.memory-faults = 1\n", "[expect] exits.memory-faults",
		"unknown exit kind");
}

static void test_expect_events_set(void **state)
{
	static const char *const good[] = { "expect.conversions.to-shared=>=3",
					    "Expect.Hypercalls.Refused = 1" };
	static const char *const bad[] = { "expect.conversions.to-shared=lots" };
	static const char *const unknown[] = { "expect.conversions.sideways=1" };

	(void)state;
	LOADS_SET(VM EXPECT, good);
	assert_int_equal(sc.expect_events[EVENT_TO_SHARED].compare, COUNT_GE);
	assert_int_equal(sc.expect_events[EVENT_TO_SHARED].value, 3);
	assert_int_equal(sc.expect_events[EVENT_HYPERCALLS_REFUSED].value, 1);
	REFUSED_SET(VM EXPECT, bad, "[expect] conversions.to-shared", "(value from --set)");
	REFUSED_SET(VM EXPECT, unknown, "--set expect.conversions.sideways=1", "unknown key");
}

static void test_expect_check_kinds(void **state)
{
	(void)state;
	LOADS(VM EXPECT "check1 = 2M 8 0x5a\ncheck2 = 2M 8 zero\ncheck3 = 2M 4K sigbus\n"
			"check4 = 0x201000 8K private\ncheck5 = 0 16M shared\n"
			"check6 = 15M 1M sigbus\n");
	assert_int_equal(sc.nr_checks, 6);
	assert_int_equal(sc.checks[0].kind, CHECK_PATTERN);
	assert_int_equal(sc.checks[0].pattern, 0x5a);
	assert_int_equal(sc.checks[1].kind, CHECK_ZERO);
	assert_int_equal(sc.checks[2].kind, CHECK_SIGBUS);
	assert_int_equal(sc.checks[2].size, 4096);
	assert_int_equal(sc.checks[3].kind, CHECK_PRIVATE);
	assert_int_equal(sc.checks[3].addr, 0x201000);
	assert_int_equal(sc.checks[4].kind, CHECK_SHARED);
	assert_int_equal(sc.checks[4].size, 16ULL << 20);
	for (int i = 1; i < 6; i++)
		assert_int_equal(sc.checks[i].pattern, 0);

	/* pattern and zero: 8-byte words */
	REFUSED(VM EXPECT "check1 = 0x200008 8 zero\ncheck2 = 2M 12 zero\n", "[expect] check2",
		"size 12 is not 8-byte aligned");
	/* sigbus, private, shared: whole pages */
	REFUSED(VM EXPECT "check1 = 0x200008 4K sigbus\n", "[expect] check1",
		"address 0x200008 is not 4096-byte aligned (page granularity)");
	REFUSED(VM EXPECT "check1 = 2M 8 private\n", "[expect] check1",
		"size 8 is not 4096-byte aligned");
	REFUSED(VM EXPECT "check1 = 2M 0x1800 shared\n", "[expect] check1",
		"size 0x1800 is not 4096-byte aligned");
	REFUSED(VM EXPECT "check1 = 0x200800 4K shared\n", "[expect] check1",
		"not 4096-byte aligned");
	REFUSED(VM EXPECT "check1 = 2M 0 sigbus\n", "[expect] check1", "size is zero");
	REFUSED(VM EXPECT "check1 = 16M 4K private\n", "[expect] check1", "outside guest RAM");
	REFUSED(VM EXPECT "check1 = 2M 4K Sigbus\n", "[expect] check1",
		"pattern 'Sigbus' is not a 32-bit number");
	REFUSED(VM EXPECT "check1 = 2M 4K shared private\n", "[expect] check1",
		"expected ADDR SIZE PATTERN");
}

/* ---- [expect] refusals ------------------------------------------------ */

static void test_expect_exit_required(void **state)
{
	(void)state;
	REFUSED(VM, "[expect] exit", "missing");
	REFUSED(VM "[expect]\nexits.io = 1\n", "[expect] exit", "missing");
	REFUSED(VM "[expect]\nexit.gmem-served = done\n", "[expect] exit", "missing");
	REFUSED(VM "[expect]\nexit.uaddr-served = done\n", "[expect] exit", "missing");
}

static void test_expect_outcome_names(void **state)
{
	(void)state;
	REFUSED(VM "[expect]\nexit = finished\n", "[expect] exit", "unknown outcome 'finished'");
	REFUSED(VM "[expect]\nexit = none\n", "[expect] exit", "unknown outcome 'none'");
	REFUSED(VM EXPECT "exit.uaddr-served = crash\n", "[expect] exit.uaddr-served",
		"unknown outcome");
}

static void test_expect_counts(void **state)
{
	(void)state;
	REFUSED(VM EXPECT "exits.vmcall = 1\n", "[expect] exits.vmcall", "unknown exit kind");
	REFUSED(VM EXPECT "exits.io = many\n", "[expect] exits.io", "not a number");
	REFUSED(VM EXPECT "exits.io = >10\n", "[expect] exits.io", "not a number");
	REFUSED(VM EXPECT "exits.io = =>1\n", "[expect] exits.io", "not a number");
	REFUSED(VM EXPECT "exits.io = >=-1\n", "[expect] exits.io", "negative");
	REFUSED(VM EXPECT "exits.hlt = 1 2\n", "[expect] exits.hlt", "trailing");
}

static void test_expect_checks(void **state)
{
	(void)state;
	REFUSED(VM EXPECT "check1 = 0x200001 8 1\n", "[expect] check1", "not 8-byte aligned");
	REFUSED(VM EXPECT "check1 = 2M 0 zero\n", "[expect] check1", "size is zero");
	REFUSED(VM EXPECT "check1 = 16M 8 zero\n", "[expect] check1", "outside guest RAM");
	REFUSED(VM EXPECT "check1 = 15M 2M zero\n", "[expect] check1", "outside guest RAM");
	REFUSED(VM EXPECT "check2 = 2M 8\n", "[expect] check2", "ADDR SIZE PATTERN");
	REFUSED(VM EXPECT "check2 = 2M 8 1 2\n", "[expect] check2", "zero|sigbus|private|shared");
	REFUSED(VM EXPECT "check2 = 2M 8 pattern\n", "[expect] check2",
		"pattern 'pattern' is not a 32-bit number");
	REFUSED(VM EXPECT "check2 = 2M 8 zeros\n", "[expect] check2", "not a 32-bit number");
	REFUSED(VM EXPECT "check17 = 2M 8 zero\n", "[expect] check17", "more than 16 checks");
	REFUSED(VM EXPECT "check0 = 2M 8 zero\n", "[expect] check0", "unknown key");
}

/* ---- Overrides -------------------------------------------------------- */

static void test_overrides_apply(void **state)
{
	static const char *const sets[] = {
		"vm.memory=8M",
		"VM.Vcpus = 2",		     /* names are case-insensitive like in the file */
		"gmem.flags=support_shared", /* adds the [gmem] section */
		"steps.step2=pio vcpu=1",    /* the value keeps its own '=' */
		"expect.exits.io=>=3",	     /* first '.' splits: key exits.io */
		"expect.exit.uaddr-served=cannot-run",
		"scenario.description=", /* reaches validation: empty */
	};

	(void)state;
	/* The last override empties a key: refused, and it says the value came from --set. */
	REFUSED_SET(VM EXPECT, sets, "[scenario] description", "--set");
	LOADS_SET(
		VM "memory = 64M\n[steps]\nstep1 = mmio\n" EXPECT,
		((const char *const[]){ "vm.memory=8M", "VM.Vcpus = 2", "gmem.flags=support_shared",
					"steps.step2=pio vcpu=1", "expect.exits.io=>=3",
					"expect.exit.uaddr-served=cannot-run" }));
	assert_int_equal(sc.memory_size, 8ULL << 20);
	assert_int_equal(sc.vcpus, 2);
	assert_true(sc.support_shared);
	assert_int_equal(sc.nr_steps, 2);
	assert_int_equal(sc.steps[1].op, GMEMVM_STEP_PIO);
	assert_int_equal(sc.steps[1].vcpu, 1);
	assert_int_equal(sc.expect_exits[EXIT_KIND_IO].compare, COUNT_GE);
	assert_int_equal(sc.expect_exits[EXIT_KIND_IO].value, 3);
	assert_int_equal(sc.expect_gmem_served, OUTCOME_DONE);
	assert_int_equal(sc.expect_uaddr_served, OUTCOME_CANNOT_RUN);
}

static void test_overrides_supply_required(void **state)
{
	static const char *const sets[] = { "vm.mode=coco-legacy", "expect.exit=shutdown" };

	(void)state;
	LOADS_SET("", sets);
	assert_int_equal(sc.mode, MODE_COCO_LEGACY);
	assert_int_equal(sc.expect_uaddr_served, OUTCOME_SHUTDOWN);
}

static void test_overrides_refused(void **state)
{
	static const char *const malformed_eq[] = { "vm.memory" };
	static const char *const malformed_dot[] = { "memory=8M" };
	static const char *const dot_in_value[] = { "memory=8.5M" };
	static const char *const bad_section[] = { "machine.memory=8M" };
	static const char *const bad_key[] = { "vm.memroy=8M" };
	static const char *const bad_kind[] = { "expect.exits.vmcall=1" };
	static const char *const bad_value[] = { "vm.memory=3M" };

	(void)state;
	REFUSED_SET(VM EXPECT, malformed_eq, "--set vm.memory", "malformed");
	REFUSED_SET(VM EXPECT, malformed_dot, "--set memory=8M", "malformed");
	REFUSED_SET(VM EXPECT, dot_in_value, "--set memory=8.5M", "malformed");
	REFUSED_SET(VM EXPECT, bad_section, "--set machine.memory=8M", "unknown section");
	REFUSED_SET(VM EXPECT, bad_key, "--set vm.memroy=8M", "unknown key");
	REFUSED_SET(VM EXPECT, bad_kind, "--set expect.exits.vmcall=1", "unknown exit kind");
	REFUSED_SET(VM EXPECT, bad_value, "[vm] memory", "below the minimum");
	assert_non_null(strstr(error.message, "--set"));
}

static void test_too_many_overrides(void **state)
{
	const char *sets[CONFIG_MAX_OVERRIDES + 1];

	(void)state;
	for (int i = 0; i <= CONFIG_MAX_OVERRIDES; i++)
		sets[i] = "vm.vcpus=2";
	check_loads(load_with(VM EXPECT, sets, CONFIG_MAX_OVERRIDES), __LINE__);
	check_refused(load_with(VM EXPECT, sets, CONFIG_MAX_OVERRIDES + 1), NULL, "too many",
		      __LINE__);
}

/* ---- config_parse_size and names -------------------------------------- */

static void test_parse_size_good(void **state)
{
	static const struct {
		const char *text;
		uint64_t value;
	} table[] = {
		{ "0", 0 },
		{ "123", 123 },
		{ "010", 10 }, /* decimal, not octal */
		{ "0x1f", 0x1f },
		{ "0X1F", 0x1f },
		{ "4K", 4096 },
		{ "4k", 4096 },
		{ "16M", 16ULL << 20 },
		{ "1G", 1ULL << 30 },
		{ "0x10K", 16384 },
		{ "18446744073709551615", UINT64_MAX },
		{ "0xffffffffffffffff", UINT64_MAX },
		{ "17179869183G", 17179869183ULL << 30 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		uint64_t value = 1;

		if (config_parse_size(table[i].text, &value) != 0 || value != table[i].value)
			fail_msg("'%s' -> %llu", table[i].text, (unsigned long long)value);
	}
}

static void test_parse_size_bad(void **state)
{
	static const char *const table[] = {
		"",
		" 1",
		"1 ",
		"-1",
		"+1",
		"x",
		"0x",
		"0xg",
		"1T",
		"1KB",
		"1.5M",
		"K",
		"1MM",
		"18446744073709551616",
		"0x10000000000000000",
		"99999999999999999999G",
		"17179869184G",
		"17592186044416M",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		uint64_t value = 42;

		if (config_parse_size(table[i], &value) != -EINVAL)
			fail_msg("'%s' accepted", table[i]);
		assert_int_equal(value, 42); /* untouched on error */
	}
	assert_int_equal(config_parse_size(NULL, NULL), -EINVAL);
}

static void test_names_round_trip(void **state)
{
	char text[256];

	(void)state;
	assert_string_equal(config_mode_name(MODE_COCO_LEGACY), "coco-legacy");
	assert_string_equal(config_mode_name(MODE_COCO_INPLACE), "coco-inplace");
	assert_string_equal(outcome_name(OUTCOME_NONE), "none");
	assert_string_equal(outcome_name(OUTCOME_EMULATION_REFUSED), "emulation-refused");
	assert_string_equal(exit_kind_name(EXIT_KIND_MEMORY_FAULT), "memory-fault");
	assert_string_equal(gmemvm_step_op_name(GMEMVM_STEP_VERIFY), "verify");
	assert_non_null(config_mode_name((enum vm_mode)99));
	assert_non_null(outcome_name(OUTCOME_COUNT));
	assert_non_null(exit_kind_name(EXIT_KIND_COUNT));
	assert_null(gmemvm_step_op_name(UINT32_MAX));
	assert_string_equal(gmemvm_step_op_name(GMEMVM_STEP_SHARE), "share");
	assert_string_equal(gmemvm_step_op_name(GMEMVM_STEP_UNSHARE), "unshare");
	assert_string_equal(event_name(EVENT_MEMORY_FAULTS), "memory-faults");
	assert_string_equal(event_name(EVENT_TO_SHARED), "conversions.to-shared");
	assert_string_equal(event_name(EVENT_TO_PRIVATE), "conversions.to-private");
	assert_string_equal(event_name(EVENT_BY_FAULT), "conversions.by-fault");
	assert_string_equal(event_name(EVENT_BY_HYPERCALL), "conversions.by-hypercall");
	assert_string_equal(event_name(EVENT_HYPERCALLS_REFUSED), "hypercalls.refused");
	assert_string_equal(config_check_kind_name(CHECK_PATTERN), "pattern");
	assert_string_equal(config_check_kind_name(CHECK_ZERO), "zero");
	assert_string_equal(config_check_kind_name(CHECK_SIGBUS), "sigbus");
	assert_string_equal(config_check_kind_name(CHECK_PRIVATE), "private");
	assert_string_equal(config_check_kind_name(CHECK_SHARED), "shared");
	assert_string_equal(event_name(EVENT_COUNT), "?");
	assert_string_equal(config_check_kind_name((enum check_kind)99), "?");

	/* Every name the functions give is accepted back by the loader. */
	for (int m = MODE_COCO_LEGACY; m <= MODE_COCO_INPLACE; m++) {
		snprintf(text, sizeof(text), "[vm]\nmode = %s\n" EXPECT,
			 config_mode_name((enum vm_mode)m));
		LOADS(text);
		assert_int_equal(sc.mode, m);
	}
	for (int o = OUTCOME_DONE; o < OUTCOME_COUNT; o++) {
		snprintf(text, sizeof(text), VM "[expect]\nexit = %s\n",
			 outcome_name((enum outcome)o));
		LOADS(text);
		assert_int_equal(sc.expect_gmem_served, o);
	}
	for (int k = 0; k < EXIT_KIND_COUNT; k++) {
		snprintf(text, sizeof(text), VM EXPECT "exits.%s = <=%d\n",
			 exit_kind_name((enum exit_kind)k), k);
		LOADS(text);
		assert_int_equal(sc.expect_exits[k].compare, COUNT_LE);
		assert_int_equal(sc.expect_exits[k].value, k);
	}
	for (int s = GMEMVM_STEP_WRITE; s <= GMEMVM_STEP_UNSHARE; s++) {
		bool data = s == GMEMVM_STEP_WRITE || s == GMEMVM_STEP_VERIFY;
		bool convert = s == GMEMVM_STEP_SHARE || s == GMEMVM_STEP_UNSHARE;

		snprintf(text, sizeof(text), VM "[steps]\nstep1 = %s%s\n" EXPECT,
			 gmemvm_step_op_name((uint32_t)s),
			 data	   ? " 2M 8 1"
			 : convert ? " 2M 4K"
				   : "");
		LOADS(text);
		assert_int_equal(sc.steps[0].op, s);
	}
	for (int e = 0; e < EVENT_COUNT; e++) {
		snprintf(text, sizeof(text), VM EXPECT "%s = >=%d\n",
			 event_name((enum event_kind)e), e);
		LOADS(text);
		assert_int_equal(sc.expect_events[e].compare, COUNT_GE);
		assert_int_equal(sc.expect_events[e].value, e);
	}
	for (int c = CHECK_ZERO; c <= CHECK_SHARED; c++) {
		snprintf(text, sizeof(text), VM EXPECT "check1 = 2M 4K %s\n",
			 config_check_kind_name((enum check_kind)c));
		LOADS(text);
		assert_int_equal(sc.checks[0].kind, c);
	}
}

/* Every scenario shipped in configs/ must load (skipped while there are none). */
static void test_shipped_configs(void **state)
{
	DIR *dir = opendir(CONFIGS_DIR);
	struct dirent *entry;
	int count = 0;

	(void)state;
	if (!dir)
		skip();
	while ((entry = readdir(dir))) {
		size_t len = strlen(entry->d_name);
		char path[PATH_MAX];

		if (len < 5 || strcmp(entry->d_name + len - 4, ".ini") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", CONFIGS_DIR, entry->d_name);
		if (config_load(path, NULL, 0, &sc, &error) != 0) {
			closedir(dir);
			fail_msg("%s", error.message);
		}
		/* Robust on a loaded 2-core machine: 10 s was once a flake. */
		if (sc.timeout_ms < 60000) {
			closedir(dir);
			fail_msg("%s: timeout %u ms, below the 60 s a loaded machine needs", path,
				 sc.timeout_ms);
		}
		count++;
	}
	closedir(dir);
	if (!count)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_case_and_absolute_guest),
		cmocka_unit_test(test_timeout_forms),
		cmocka_unit_test(test_flags_forms),
		cmocka_unit_test(test_steps_gaps_and_order),
		cmocka_unit_test(test_step_fills_memory_exactly),
		cmocka_unit_test(test_expect_split_outcomes),
		cmocka_unit_test(test_expect_per_architecture),
		cmocka_unit_test(test_pkvm_design),
		cmocka_unit_test(test_checks_anywhere_in_ram),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_syntax_error_is_quiet),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_key_outside_section),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_empty_value),
		cmocka_unit_test(test_bad_name),
		cmocka_unit_test(test_mode),
		cmocka_unit_test(test_stage),
		cmocka_unit_test(test_memory_range),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_vcpus_range),
		cmocka_unit_test(test_timeout_refused),
		cmocka_unit_test(test_guest_path_too_long),
		cmocka_unit_test(test_flags_refused),
		cmocka_unit_test(test_special_files),
		cmocka_unit_test(test_not_text),
		cmocka_unit_test(test_init_private_alone_is_a_refusal),
		cmocka_unit_test(test_userspace_addr_refused),
		cmocka_unit_test(test_step_keys),
		cmocka_unit_test(test_step_op_and_args),
		cmocka_unit_test(test_step_alignment),
		cmocka_unit_test(test_step_pattern),
		cmocka_unit_test(test_step_pio_count),
		cmocka_unit_test(test_userspace_addr_anonymous),
		cmocka_unit_test(test_step_touch_and_flip),
		cmocka_unit_test(test_step_scatter),
		cmocka_unit_test(test_step_hostile),
		cmocka_unit_test(test_step_vcpu),
		cmocka_unit_test(test_step_range),
		cmocka_unit_test(test_step_share_unshare),
		cmocka_unit_test(test_step_share_ranges_unchecked),
		cmocka_unit_test(test_step_share_args),
		cmocka_unit_test(test_step_result),
		cmocka_unit_test(test_step_view),
		cmocka_unit_test(test_step_option_order),
		cmocka_unit_test(test_expect_events),
		cmocka_unit_test(test_expect_events_set),
		cmocka_unit_test(test_expect_check_kinds),
		cmocka_unit_test(test_expect_exit_required),
		cmocka_unit_test(test_expect_outcome_names),
		cmocka_unit_test(test_expect_counts),
		cmocka_unit_test(test_expect_checks),
		cmocka_unit_test(test_overrides_apply),
		cmocka_unit_test(test_overrides_supply_required),
		cmocka_unit_test(test_overrides_refused),
		cmocka_unit_test(test_too_many_overrides),
		cmocka_unit_test(test_parse_size_good),
		cmocka_unit_test(test_parse_size_bad),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_shipped_configs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
