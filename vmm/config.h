/* SPDX-License-Identifier: MIT */
/*
 * Scenario files: an INI file (iniparser) that describes one VM and what its
 * run must produce. config_load() refuses a bad file before any VM exists,
 * naming the file, the key and what is wrong. docs/config.md is the
 * reference for every key.
 */
#ifndef GMEMVM_CONFIG_H
#define GMEMVM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gmemvm_abi.h"
#include "mode.h"
#include "vocabulary.h"

#define CONFIG_MAX_STEPS     64
#define CONFIG_MAX_CHECKS    16
#define CONFIG_MAX_OVERRIDES 32
#define CONFIG_MIN_MEMORY    (4ULL << 20)
#define CONFIG_MAX_MEMORY    (3ULL << 30) /* RAM ends below the MMIO hole at 3.25 GiB */
#define CONFIG_MAX_PIO_COUNT 10000000U
/* iniparser reads lines of at most 1024 bytes, newline included. */
#define CONFIG_MAX_LINE	     1023
#define CONFIG_MAX_LINE_TEXT "1023"
#define CONFIG_MAX_FILE_SIZE 262144 /* 256 KiB */

/* Step ops are the guest's too: enum gmemvm_step_op in gmemvm_abi.h. */
#define CONFIG_MAX_SCATTER_COUNT 65536U
#define CONFIG_MAX_FLIP_COUNT	 1000000U
#define CONFIG_MAX_HOSTILE_COUNT 1000000U
/* hostile: the playground, the only RAM it converts or touches through a view */
#define CONFIG_HOSTILE_PLAYGROUND_GPA  0x200000ULL /* GMEMVM_DATA_GPA */
#define CONFIG_HOSTILE_PLAYGROUND_SIZE (4ULL << 20)

/* Which view of a page a CoCo guest uses: the shared bit clear or set (TDX style). */
enum step_view {
	VIEW_PRIVATE,
	VIEW_SHARED
};

#define STEP_VCPU_ALL (-1)

struct step {
	enum gmemvm_step_op op;
	uint64_t addr;	       /* guest-physical; with vcpu = all, vCPU i uses addr + i * size */
	uint64_t size;	       /* for pio: the number of round trips (0 = 1) */
	uint32_t pattern;      /* hostile: the seed */
	int vcpu;	       /* 0..vcpus-1, or STEP_VCPU_ALL */
	enum step_view view;   /* write/verify: view=private|shared (default private) */
	int32_t expect_result; /* share/unshare: result=N the hypercall must return (default 0) */
	uint32_t count;	       /* flip: rounds; hostile: actions per vCPU; scatter: regions */
};

/* How a count in [expect] (exits.<kind>, the events) is compared. */
enum count_compare {
	COUNT_ANY,
	COUNT_EQ,
	COUNT_GE,
	COUNT_LE
};

struct count_expect {
	enum count_compare compare;
	uint64_t value;
};

enum check_kind {
	CHECK_PATTERN, /* ADDR SIZE PATTERN: the host reads the words a step wrote */
	CHECK_ZERO,    /* ADDR SIZE zero */
	CHECK_SIGBUS,  /* ADDR SIZE sigbus: every host access faults (private pages) */
	CHECK_PRIVATE, /* ADDR SIZE private: shareability GUEST after the run */
	CHECK_SHARED,  /* ADDR SIZE shared: shareability ALL after the run */
	/* ADDR SIZE faults: every host access faults, as the memory faults here:
	 * SIGBUS from a guest_memfd, SIGSEGV from pKVM's hypervisor. */
	CHECK_FAULTS,
};

/* A host-side check of guest RAM through the VMM's own view after the run. */
struct data_check {
	uint64_t addr;
	uint64_t size;
	enum check_kind kind;
	uint32_t pattern; /* CHECK_PATTERN: as written by a step at the same addresses */
};

struct scenario {
	char path[256];
	char name[64];
	char description[256];
	enum vm_mode mode;
	int stage; /* 1 or 2 (the design notes' stages, docs/design.md) */
	uint64_t memory_size;
	int vcpus;
	char guest_path[256]; /* empty: the guest built with gmemvm */
	unsigned timeout_ms;

	bool support_shared; /* GUEST_MEMFD_FLAG_SUPPORT_SHARED, upstream GUEST_MEMFD_FLAG_MMAP */
	bool init_private;   /* GUEST_MEMFD_FLAG_INIT_PRIVATE, upstream: no
				GUEST_MEMFD_FLAG_INIT_SHARED */
	/* GUEST_MEMFD_FLAG_NO_DIRECT_MAP (proposed upstream): mode shared only. */
	bool no_direct_map;
	bool userspace_addr_null;
	/* [vm] pkvm = upstream: mode pkvm as upstream's pKVM (a protected VM on
	 * the VMM's anonymous memory, arm64) instead of the notes' design. */
	bool pkvm_upstream;
	/* pkvm = upstream-on-guest-memfd: the same protected VM with its memory
	 * in a guest_memfd (MMAP|INIT_SHARED) memslot, as the notes would have
	 * it: what the kernel answers (7.3: EIO at the first KVM_RUN). */
	bool pkvm_on_guest_memfd;
	/* userspace_addr = anonymous: bind an unrelated anonymous mapping, which
	 * the notes' stage-1 binding rule must refuse (a demonstration). */
	bool userspace_addr_anonymous;

	struct step steps[CONFIG_MAX_STEPS];
	int nr_steps;

	/* The outcome expected on a host whose gmem-bound memslots are served
	 * from guest_memfd, and on one that serves them from userspace_addr. */
	enum outcome expect_gmem_served;
	enum outcome expect_uaddr_served;
	struct count_expect expect_exits[EXIT_KIND_COUNT];
	struct count_expect expect_events[EVENT_COUNT];
	struct data_check checks[CONFIG_MAX_CHECKS];
	int nr_checks;
};

/*
 * Load and validate a scenario. overrides are "section.key=value" strings
 * (gmemvm run --set) applied over the file. 0, with error's message emptied;
 * or a negative errno with one line "FILE: [section] key: what is wrong" in
 * error (which may be NULL) and out zeroed: -EINVAL for a file or value the
 * loader refuses (error->refused), the errno of a read of the file that
 * failed, -ENOMEM.
 */
int config_load(const char *path, const char *const *overrides, int nr_overrides,
		struct scenario *out, struct gmemvm_error *error);

/* Parse "123", "0x1f", "4K", "16M", "1G" (binary units). 0, or -EINVAL on a
 * bad or overflowing number. */
int config_parse_size(const char *text, uint64_t *out);

/* Names of the parser's own words; outcomes, exit kinds and events are in
 * vocabulary.h, step ops in gmemvm_abi.h (gmemvm_step_op_name). */
const char *config_mode_name(enum vm_mode mode);
const char *config_check_kind_name(enum check_kind kind);

#endif
