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

#define CONFIG_MAX_STEPS     64
#define CONFIG_MAX_CHECKS    16
#define CONFIG_MAX_OVERRIDES 32
#define CONFIG_MIN_MEMORY    (4ULL << 20)
#define CONFIG_MAX_MEMORY    (3ULL << 30) /* RAM ends below the MMIO hole at 3.25 GiB */
#define CONFIG_ERROR_SIZE    1024
#define CONFIG_MAX_PIO_COUNT 10000000U
/* iniparser reads lines of at most 1024 bytes, newline included. */
#define CONFIG_MAX_LINE	     1023
#define CONFIG_MAX_LINE_TEXT "1023"
#define CONFIG_MAX_FILE_SIZE 262144 /* 256 KiB */

/* The four use cases (docs/design.md, "The four modes"). */
enum vm_mode {
	MODE_COCO_LEGACY,
	MODE_SHARED,
	MODE_PKVM,
	MODE_COCO_INPLACE
};

enum step_op {
	STEP_WRITE,
	STEP_VERIFY,
	STEP_MMIO,
	STEP_PIO,
	STEP_SHARE,
	STEP_UNSHARE,
	STEP_TOUCH,   /* write one pattern word per 4 KiB page: a fault per page, little else */
	STEP_FLIP,    /* count rounds of unshare + share of a range: explicit conversions */
	STEP_BARRIER, /* every vCPU waits here until all have arrived */
	STEP_DISCARD, /* the VMM punches a range out; the guest then reads zeroes through a view */
	STEP_HOSTILE, /* SEED COUNT: seeded attacks on the VMM's interfaces (pattern = seed) */
	STEP_SCATTER, /* ADDR COUNT: share every other page, COUNT separate shared regions */
	STEP_HOLD,    /* ADDR SIZE: the VMM takes a page reference, as a device doing DMA */
	STEP_RELEASE, /* ADDR SIZE: the VMM drops its references to the range */
};
#define STEP_OP_COUNT		 (STEP_RELEASE + 1)
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
	enum step_op op;
	uint64_t addr;	       /* guest-physical; with vcpu = all, vCPU i uses addr + i * size */
	uint64_t size;	       /* for pio: the number of round trips (0 = 1) */
	uint32_t pattern;      /* hostile: the seed */
	int vcpu;	       /* 0..vcpus-1, or STEP_VCPU_ALL */
	enum step_view view;   /* write/verify: view=private|shared (default private) */
	int32_t expect_result; /* share/unshare: result=N the hypercall must return (default 0) */
	uint32_t count;	       /* flip: rounds; hostile: actions per vCPU; scatter: regions */
};

/* How a run ended; the scenario names the one it expects. */
enum outcome {
	OUTCOME_NONE,		   /* not decided yet */
	OUTCOME_DONE,		   /* every vCPU reported status 0 and halted */
	OUTCOME_GUEST_FAILED,	   /* a vCPU reported a failing step or an assertion */
	OUTCOME_EMULATION_REFUSED, /* emulation needed userspace_addr, which is NULL */
	OUTCOME_CANNOT_RUN,	   /* the guest could not execute its first instruction */
	OUTCOME_SHUTDOWN,	   /* triple fault */
	OUTCOME_INTERNAL_ERROR,
	OUTCOME_FAIL_ENTRY,
	OUTCOME_BAD_MMIO, /* MMIO exit inside RAM: the host view is inaccessible */
	OUTCOME_UNKNOWN_EXIT,
	OUTCOME_TIMEOUT,
	OUTCOME_VMM_ERROR,   /* a kernel call failed during the run */
	OUTCOME_REFUSED,     /* set-up refused by a rule of the design notes; no vCPU ran */
	OUTCOME_INTERRUPTED, /* a signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) stopped the run */
	OUTCOME_COUNT
};

/* Exit kinds counted per run; "exits.<name>" keys in [expect]. */
enum exit_kind {
	EXIT_KIND_IO,
	EXIT_KIND_MMIO,
	EXIT_KIND_HLT,
	EXIT_KIND_SHUTDOWN,
	EXIT_KIND_FAIL_ENTRY,
	EXIT_KIND_INTERNAL_ERROR,
	EXIT_KIND_MEMORY_FAULT,
	EXIT_KIND_HYPERCALL,	 /* a subset of io: writes to the hypercall port */
	EXIT_KIND_MAP_GPA_RANGE, /* KVM_EXIT_HYPERCALL: the guest's KVM_HC_MAP_GPA_RANGE */
	EXIT_KIND_UNKNOWN,
	EXIT_KIND_COUNT
};

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

/* Events of the memory model counted per run; keys in [expect]. */
enum event_kind {
	EVENT_MEMORY_FAULTS,	  /* "memory-faults": kernel and modelled */
	EVENT_TO_SHARED,	  /* "conversions.to-shared": pages converted */
	EVENT_TO_PRIVATE,	  /* "conversions.to-private" */
	EVENT_BY_FAULT,		  /* "conversions.by-fault": conversions after a memory fault */
	EVENT_BY_HYPERCALL,	  /* "conversions.by-hypercall": explicit share/unshare */
	EVENT_HYPERCALLS_REFUSED, /* "hypercalls.refused" */
	EVENT_EAGAIN,		  /* "conversions.eagain": EAGAIN answers to a conversion */
	EVENT_RETRIES,		  /* "conversions.retried": retries after dropping holds */
	EVENT_ALREADY_DONE, /* "conversions.already-done": faults/requests that changed nothing */
	EVENT_COUNT
};

enum check_kind {
	CHECK_PATTERN, /* ADDR SIZE PATTERN: the host reads the words a step wrote */
	CHECK_ZERO,    /* ADDR SIZE zero */
	CHECK_SIGBUS,  /* ADDR SIZE sigbus: every host access faults (private pages) */
	CHECK_PRIVATE, /* ADDR SIZE private: shareability GUEST after the run */
	CHECK_SHARED,  /* ADDR SIZE shared: shareability ALL after the run */
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
 * (gmemvm run --set) applied over the file. On error returns -1 and writes
 * one line "FILE: [section] key: what is wrong" into err.
 */
int config_load(const char *path, const char *const *overrides, int nr_overrides,
		struct scenario *out, char *err, size_t err_size);

/* Parse "123", "0x1f", "4K", "16M", "1G" (binary units). -1 on a bad or overflowing number. */
int config_parse_size(const char *text, uint64_t *out);

const char *config_mode_name(enum vm_mode mode);
const char *config_outcome_name(enum outcome outcome);
const char *config_exit_kind_name(enum exit_kind kind);
const char *config_step_op_name(enum step_op op);
const char *config_event_name(enum event_kind kind);
const char *config_check_kind_name(enum check_kind kind);

#endif
