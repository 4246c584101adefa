// SPDX-License-Identifier: MIT
/*
 * The gmemvm guest: reads the scenario the VMM put in the device tree and
 * runs its steps on this vCPU, then reports the outcome with GMEMVM_HC_DONE.
 * Every vCPU runs this code on its own stack; they share the serial lock,
 * and meet only at a scenario's barrier steps (each vCPU waits there until
 * all have arrived).
 */
#include <stdbool.h>
#include <stdint.h>
#include <libfdt.h>

#include "gmemvm_abi.h"
#include "hostile.h"
#include "hypercall.h"
#include "io.h"
#include "serial.h"
#include "unprivileged.h"

/* Step memory ranges must stay inside the identity map the VMM builds. */
#define IDENTITY_MAP_END GMEMVM_IDENTITY_MAP_END

/* Value a vCPU writes to the test device's scratch register: high bytes "scratch". */
#define SCRATCH_VALUE(cpu) (0x7363726174636800ULL | (cpu))
#define PIO_VALUE(cpu)	   (0xabcd0000U | (uint32_t)(cpu))

/* The lowest shared bit the guest accepts: the alias must lie above the 4 GiB identity map. */
#define SHARED_BIT_MIN 32

struct step {
	uint32_t op; /* enum gmemvm_step_op; its name is gmemvm_step_op_name(op) */
	uint64_t addr;
	uint64_t size;
	uint32_t pattern;
	uint32_t vcpu;
	int shared_view;       /* write/verify: view = "shared" */
	int32_t expect_result; /* share/unshare: the hypercall result the step requires */
	uint32_t count;	       /* flip: rounds of unshare + share; hostile: actions */
};

/*
 * Every property the guest reads, of any node. A node's properties are read
 * in one pass (read_props), not by one libfdt lookup per name: each lookup
 * walks the node again, tag by tag, and names byte by byte (the start-up
 * time, docs/performance.md; the parsing also runs in user mode,
 * unprivileged.h).
 */
enum prop {
	PROP_OP,
	PROP_VCPU,
	PROP_ADDR,
	PROP_SIZE,
	PROP_PATTERN,
	PROP_VIEW,
	PROP_RESULT,
	PROP_COUNT,
	PROP_MODE,
	PROP_STAGE,
	PROP_SHARED_BIT,
	PROP_EXIT_FENCE,
	PROP_PROTECTED_VM,
	PROP_CONVERSION_CALL,
	PROP_VCPUS,
	PROP_REG,
	NR_PROPS
};

static const char *const prop_names[NR_PROPS] = {
	[PROP_OP] = "op",
	[PROP_VCPU] = "vcpu",
	[PROP_ADDR] = "addr",
	[PROP_SIZE] = "size",
	[PROP_PATTERN] = "pattern",
	[PROP_VIEW] = "view",
	[PROP_RESULT] = "result",
	[PROP_COUNT] = "count",
	[PROP_MODE] = "mode",
	[PROP_STAGE] = "stage",
	[PROP_SHARED_BIT] = GMEMVM_FDT_PROP_SHARED_BIT,
	[PROP_EXIT_FENCE] = GMEMVM_FDT_PROP_EXIT_FENCE,
	[PROP_PROTECTED_VM] = GMEMVM_FDT_PROP_PROTECTED_VM,
	[PROP_CONVERSION_CALL] = GMEMVM_FDT_PROP_CONVERSION_CALL,
	[PROP_VCPUS] = "gmemvm,vcpus",
	[PROP_REG] = "reg",
};

struct node_props {
	const void *value[NR_PROPS]; /* NULL: the node has no such property */
	int len[NR_PROPS];
};

/* Returns 0, or a libfdt error if the node's properties cannot be walked. */
static int read_props(const void *fdt, int node, struct node_props *props)
{
	int offset, which;

	for (which = 0; which < NR_PROPS; which++)
		props->value[which] = NULL;
	fdt_for_each_property_offset(offset, fdt, node) {
		const char *name;
		int len;
		const void *value = fdt_getprop_by_offset(fdt, offset, &name, &len);

		if (!value || !name)
			return len < 0 ? len : -FDT_ERR_BADSTRUCTURE;
		for (which = 0; which < NR_PROPS; which++) {
			if (!strcmp(name, prop_names[which])) {
				props->value[which] = value;
				props->len[which] = len;
				break;
			}
		}
	}
	return offset == -FDT_ERR_NOTFOUND ? 0 : offset;
}

static const char *get_string(const struct node_props *props, enum prop which)
{
	const char *p = props->value[which];
	int len = props->len[which];

	/* A string property must hold exactly one NUL-terminated string. */
	if (!p || len <= 0 || strnlen(p, len) != (size_t)len - 1)
		return NULL;
	return p;
}

static int get_u32(const struct node_props *props, enum prop which, uint32_t *out)
{
	if (!props->value[which] || props->len[which] != sizeof(fdt32_t))
		return -1;
	/* fdt32_ld: big-endian and safe for any alignment. */
	*out = fdt32_ld(props->value[which]);
	return 0;
}

static int get_u64(const struct node_props *props, enum prop which, uint64_t *out)
{
	if (!props->value[which] || props->len[which] != sizeof(fdt64_t))
		return -1;
	/* Property values are only 4-byte aligned: fdt64_ld reads bytewise. */
	*out = fdt64_ld(props->value[which]);
	return 0;
}

static __attribute__((noreturn)) void fail(unsigned long cpu, unsigned int step, const char *why)
{
	serial_printf("vcpu %lu: step %u failed: %s\n", cpu, step, why);
	hypercall_done(1, step);
}

/* Returns NULL if the step node is well-formed, else what is wrong. */
static const char *parse_step(const void *fdt, int node, struct step *st)
{
	struct node_props props;

	if (read_props(fdt, node, &props))
		return "unreadable properties";
	if (get_u32(&props, PROP_OP, &st->op))
		return "missing op";
	if (get_u32(&props, PROP_VCPU, &st->vcpu))
		return "missing vcpu";
	st->addr = st->size = 0;
	st->pattern = 0;
	st->shared_view = 0;
	st->expect_result = 0;
	st->count = 0;
	/* Only memory steps use a range and a pattern; mmio/pio ignore them. */
	switch (st->op) {
	case GMEMVM_STEP_DISCARD:
		if (get_u64(&props, PROP_ADDR, &st->addr) || get_u64(&props, PROP_SIZE, &st->size))
			return "missing addr or size";
		if (props.value[PROP_VIEW])
			st->shared_view = !strcmp(get_string(&props, PROP_VIEW) ?: "", "shared");
		break;
	case GMEMVM_STEP_WRITE:
	case GMEMVM_STEP_VERIFY:
	case GMEMVM_STEP_TOUCH: {
		const char *view;

		if (get_u64(&props, PROP_ADDR, &st->addr) ||
		    get_u64(&props, PROP_SIZE, &st->size) ||
		    get_u32(&props, PROP_PATTERN, &st->pattern))
			return "missing addr, size or pattern";
		if (props.value[PROP_VIEW]) {
			view = get_string(&props, PROP_VIEW);
			if (!view || (strcmp(view, "private") && strcmp(view, "shared")))
				return "bad view (private or shared)";
			st->shared_view = !strcmp(view, "shared");
		}
		break;
	}
	case GMEMVM_STEP_SHARE:
	case GMEMVM_STEP_UNSHARE:
	case GMEMVM_STEP_HOLD:
	case GMEMVM_STEP_RELEASE: {
		uint32_t result;

		if (get_u64(&props, PROP_ADDR, &st->addr) || get_u64(&props, PROP_SIZE, &st->size))
			return "missing addr or size";
		if (props.value[PROP_RESULT]) {
			if (get_u32(&props, PROP_RESULT, &result))
				return "bad result (u32)";
			st->expect_result = (int32_t)result;
		}
		break;
	}
	case GMEMVM_STEP_PIO:
		get_u64(&props, PROP_SIZE, &st->size); /* the repeat count; absent means 1 */
		break;
	case GMEMVM_STEP_FLIP:
	case GMEMVM_STEP_SCATTER:
		if (get_u64(&props, PROP_ADDR, &st->addr) ||
		    get_u64(&props, PROP_SIZE, &st->size) ||
		    get_u32(&props, PROP_COUNT, &st->count))
			return "missing addr, size or count";
		break;
	case GMEMVM_STEP_HOSTILE:
		/* pattern is the seed; [addr, addr + size) the playground */
		if (get_u64(&props, PROP_ADDR, &st->addr) ||
		    get_u64(&props, PROP_SIZE, &st->size) ||
		    get_u32(&props, PROP_PATTERN, &st->pattern) ||
		    get_u32(&props, PROP_COUNT, &st->count))
			return "missing addr, size, pattern or count";
		break;
	default: /* mmio and barrier take nothing; an unknown op fails when it runs */
		break;
	}
	return NULL;
}

/* With vcpu = all, vCPU i works on the i-th size-long slice from addr. */
static uint64_t slice_start(const struct step *st, unsigned long cpu)
{
	return st->addr + (st->vcpu == GMEMVM_FDT_VCPU_ALL ? cpu : 0) * st->size;
}

/*
 * Computes this vCPU's range [*start, *end) for a memory step. With vcpu ==
 * all, vCPU i takes the i-th size-long slice from addr. Returns NULL or why
 * the range is unusable: it must be 8-byte aligned, non-empty, above the
 * guest image and stacks, and inside the 4 GiB identity map.
 */
static const char *step_range(const struct step *st, unsigned long cpu, uint64_t *start,
			      uint64_t *end)
{
	if (st->size == 0 || (st->addr | st->size) & 7)
		return "range not 8-byte aligned or empty";
	if (st->size > IDENTITY_MAP_END || st->addr >= IDENTITY_MAP_END)
		return "range outside the identity map";
	/* addr, size < 2^32 and slice < 8: no 64-bit overflow below. */
	*start = slice_start(st, cpu);
	*end = *start + st->size;
	if (*start < GMEMVM_DATA_GPA || *end > IDENTITY_MAP_END)
		return "range outside [DATA_GPA, 4 GiB)";
	return NULL;
}

/*
 * The memory steps address RAM by canonical GPA (the pattern mixes in that
 * GPA) and access it at gpa | view: 0 for the private view, the shared mask
 * for the shared one (virtual == physical for both).
 */
static void do_write(uint64_t start, uint64_t end, uint32_t pattern, uint64_t view)
{
	uint64_t gpa;

	/* volatile: every word must really be stored. */
	for (gpa = start; gpa < end; gpa += 8)
		*(volatile uint64_t *)(uintptr_t)(gpa | view) = gmemvm_pattern_word(pattern, gpa);
}

/* One word per 4 KiB page: what it costs to fault a page in, and little else. */
static void do_touch(uint64_t start, uint64_t end, uint32_t pattern, uint64_t view)
{
	uint64_t gpa;

	for (gpa = start; gpa < end; gpa += 4096)
		*(volatile uint64_t *)(uintptr_t)(gpa | view) = gmemvm_pattern_word(pattern, gpa);
}

/* Returns 0 if every word matches, else prints the first mismatch and returns -1. */
static int do_verify(unsigned long cpu, unsigned int k, uint64_t start, uint64_t end,
		     uint32_t pattern, uint64_t view)
{
	uint64_t gpa;

	for (gpa = start; gpa < end; gpa += 8) {
		uint64_t got = *(volatile uint64_t *)(uintptr_t)(gpa | view);
		uint64_t want = gmemvm_pattern_word(pattern, gpa);

		if (got != want) {
			serial_printf("vcpu %lu: step %u verify failed at 0x%llx (read 0x%016llx, "
				      "expected 0x%016llx)\n",
				      cpu, k, (unsigned long long)gpa, (unsigned long long)got,
				      (unsigned long long)want);
			return -1;
		}
	}
	return 0;
}

/*
 * Test device over MMIO: ID register, then write and read back the scratch
 * register. Other vCPUs may write scratch concurrently during a step for all
 * vCPUs, so then the read only has to be some vCPU's value.
 */
static int do_mmio(unsigned long cpu, unsigned int k, int all)
{
	volatile uint64_t *id =
		(volatile uint64_t *)(uintptr_t)(GMEMVM_TESTDEV_MMIO_GPA + GMEMVM_TESTDEV_REG_ID);
	volatile uint64_t *scratch = (volatile uint64_t *)(uintptr_t)(GMEMVM_TESTDEV_MMIO_GPA +
								      GMEMVM_TESTDEV_REG_SCRATCH);
	uint64_t got = *id;

	if (got != GMEMVM_TESTDEV_ID) {
		serial_printf("vcpu %lu: step %u mmio id 0x%llx, expected 0x%llx\n", cpu, k,
			      (unsigned long long)got, (unsigned long long)GMEMVM_TESTDEV_ID);
		return -1;
	}
	*scratch = SCRATCH_VALUE(cpu);
	got = *scratch;
	if (all ? got - SCRATCH_VALUE(0) >= GMEMVM_MAX_VCPUS : got != SCRATCH_VALUE(cpu)) {
		serial_printf("vcpu %lu: step %u mmio scratch read 0x%llx, wrote 0x%llx\n", cpu, k,
			      (unsigned long long)got, (unsigned long long)SCRATCH_VALUE(cpu));
		return -1;
	}
	return 0;
}

/* Test device echo port: the VMM keeps one echo register per vCPU. */
static int do_pio(unsigned long cpu, unsigned int k, uint64_t count)
{
	uint32_t value = PIO_VALUE(cpu);
	uint64_t left = count ? count : 1; /* the step's size: round trips, 0 means 1 */

	/* The value is this vCPU's own: a device that did not store it, or that
	 * answered with another vCPU's register, ends the loop with got != value. */
	uint32_t got = arch_echo_round_trips(value, left);
	if (got != value) {
		serial_printf("vcpu %lu: step %u pio read 0x%x, wrote 0x%x\n", cpu, k, got, value);
		return -1;
	}
	return 0;
}

/*
 * Explicit conversion: share or unshare this vCPU's slice with the selected
 * call (guest_convert), which must get the step's expected result. The range
 * is passed as written, unchecked: error-path scenarios send bad ranges on
 * purpose.
 */
static int do_convert(const struct step *st, unsigned long cpu, unsigned int k)
{
	uint64_t addr = slice_start(st, cpu);
	int32_t got, want = st->expect_result;

	/* hold and release: the VMM takes or drops a page reference, as a
	 * device doing DMA would; a later unshare then meets EAGAIN in the VMM. */
	if (st->op == GMEMVM_STEP_HOLD || st->op == GMEMVM_STEP_RELEASE) {
		got = hypercall(st->op == GMEMVM_STEP_HOLD ? GMEMVM_HC_HOLD : GMEMVM_HC_RELEASE,
				addr, st->size, 0, 0);
	} else {
		/* The step's result is the port's code; a conversion call answers in its own. */
		if (guest_convert_uses_call(st->size))
			want = arch_conversion_answer(want);
		got = guest_convert(addr, st->size, st->op == GMEMVM_STEP_UNSHARE);
	}

	if (got != want) {
		serial_printf("vcpu %lu: step %u %s 0x%llx+0x%llx got %d, expected %d\n", cpu, k,
			      gmemvm_step_op_name(st->op), (unsigned long long)addr,
			      (unsigned long long)st->size, got, want);
		return -1;
	}
	serial_printf("vcpu %lu: step %u %s 0x%llx+0x%llx ok\n", cpu, k,
		      gmemvm_step_op_name(st->op), (unsigned long long)addr,
		      (unsigned long long)st->size);
	return 0;
}

/* count rounds of unshare then share of the range, each of which must succeed:
 * the explicit conversion path, timed by the VMM's benchmarks. */
static int do_flip(const struct step *st, unsigned long cpu, unsigned int k)
{
	uint32_t round;
	int32_t got = hypercall_flip(slice_start(st, cpu), st->size, st->count, &round);

	if (got != 0) {
		serial_printf("vcpu %lu: step %u flip round %u got %d\n", cpu, k, round, got);
		return -1;
	}
	return 0;
}

/* Share every other page of this vCPU's slice: st->count separate shared regions. */
static int do_scatter(const struct step *st, unsigned long cpu, unsigned int k)
{
	uint64_t addr = slice_start(st, cpu);

	for (uint32_t i = 0; i < st->count; i++) {
		int32_t got = guest_convert(addr + (uint64_t)i * 2 * 4096, 4096, false);

		if (got != 0) {
			serial_printf("vcpu %lu: step %u scatter region %u got %d\n", cpu, k, i,
				      got);
			return -1;
		}
	}
	return 0;
}

/* Ask the VMM to punch the range out, then require zeroes through the view:
 * the punch must have reached the guest's mappings too. */
static int do_discard(unsigned long cpu, unsigned int k, uint64_t start, uint64_t end,
		      uint64_t view)
{
	int32_t got = hypercall(GMEMVM_HC_DISCARD, start, end - start, 0, 0);

	if (got != 0) {
		serial_printf("vcpu %lu: step %u discard got %d\n", cpu, k, got);
		return -1;
	}
	for (uint64_t gpa = start; gpa < end; gpa += 8) {
		uint64_t word = *(volatile uint64_t *)(uintptr_t)(gpa | view);

		if (word) {
			serial_printf("vcpu %lu: step %u discard left 0x%llx at 0x%llx\n", cpu, k,
				      (unsigned long long)word, (unsigned long long)gpa);
			return -1;
		}
	}
	return 0;
}

/* vCPUs that reached each barrier step; the guest's own (private) memory. */
static uint32_t guest_vcpus;
static uint64_t guest_ram_size; /* /memory@0 reg: RAM is [0, guest_ram_size) */
static uint32_t barrier_arrived[64];

/* Wait until every vCPU has reached barrier step k. */
static void do_barrier(unsigned int k)
{
	uint32_t *arrived = &barrier_arrived[k % 64];

	__atomic_add_fetch(arrived, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(arrived, __ATOMIC_SEQ_CST) < guest_vcpus)
		cpu_relax();
}

/* A write, verify, touch or discard step: this vCPU's slice through the step's view. */
static int run_memory_step(const struct step *st, unsigned long cpu, unsigned int k)
{
	uint64_t view = st->shared_view ? guest_shared_mask : 0;
	uint64_t start = 0, end = 0;
	const char *err;

	if (st->shared_view && !view)
		fail(cpu, k, "no shared view in this mode");
	err = step_range(st, cpu, &start, &end);
	if (err)
		fail(cpu, k, err);
	switch (st->op) {
	case GMEMVM_STEP_WRITE:
		do_write(start, end, st->pattern, view);
		break;
	case GMEMVM_STEP_TOUCH:
		do_touch(start, end, st->pattern, view);
		break;
	case GMEMVM_STEP_DISCARD:
		if (do_discard(cpu, k, start, end, view))
			return -1;
		break;
	default: /* verify */
		if (do_verify(cpu, k, start, end, st->pattern, view))
			return -1;
		break;
	}
	serial_printf("vcpu %lu: step %u %s 0x%llx+0x%llx ok%s\n", cpu, k,
		      gmemvm_step_op_name(st->op), (unsigned long long)start,
		      (unsigned long long)st->size, st->shared_view ? " (shared view)" : "");
	return 0;
}

/* Every vCPU of vcpu=all attacks the same playground; the step prints its own summary line. */
static int run_hostile_step(const struct step *st, unsigned long cpu, unsigned int k)
{
	struct hostile_params hp = {
		.seed = st->pattern,
		.count = st->count,
		.pg_start = st->addr,
		.pg_end = st->addr + st->size,
		.ram_size = guest_ram_size,
		.cpu = cpu,
		.step = k,
	};

	if (st->size > IDENTITY_MAP_END || st->addr > IDENTITY_MAP_END - st->size)
		fail(cpu, k, "playground outside the identity map");
	return hostile_run(&hp);
}

/* Runs step k (1-based) if it is for this vCPU; returns 0 if it passed or was skipped. */
static int run_step(const struct step *parsed, unsigned long cpu, unsigned int k)
{
	struct step st = *parsed;
	int all;

	all = st.vcpu == GMEMVM_FDT_VCPU_ALL;
	if (!all && st.vcpu != cpu)
		return 0;

	switch (st.op) {
	case GMEMVM_STEP_WRITE:
	case GMEMVM_STEP_VERIFY:
	case GMEMVM_STEP_TOUCH:
	case GMEMVM_STEP_DISCARD:
		return run_memory_step(&st, cpu, k);
	case GMEMVM_STEP_SHARE:
	case GMEMVM_STEP_UNSHARE:
	case GMEMVM_STEP_HOLD:
	case GMEMVM_STEP_RELEASE:
		return do_convert(&st, cpu, k);
	case GMEMVM_STEP_HOSTILE:
		return run_hostile_step(&st, cpu, k);
	case GMEMVM_STEP_MMIO:
		if (do_mmio(cpu, k, all))
			return -1;
		break;
	case GMEMVM_STEP_PIO:
		if (do_pio(cpu, k, st.size))
			return -1;
		break;
	case GMEMVM_STEP_FLIP:
		if (do_flip(&st, cpu, k))
			return -1;
		break;
	case GMEMVM_STEP_SCATTER:
		if (do_scatter(&st, cpu, k))
			return -1;
		break;
	case GMEMVM_STEP_BARRIER:
		do_barrier(k);
		break;
	default:
		fail(cpu, k, "unknown op");
	}
	serial_printf("vcpu %lu: step %u %s ok\n", cpu, k, gmemvm_step_op_name(st.op));
	return 0;
}

/*
 * What the device tree tells every vCPU, read in user mode (unprivileged.h):
 * each libfdt call walks the tree tag by tag, which is most of the guest's
 * start-up where supervisor code is emulated.
 */
struct boot_info {
	const void *fdt;
	const char *error; /* NULL, or what is wrong with the device tree */
	const char *mode;
	uint32_t stage, vcpus;
	int has_shared_bit, exit_fence, protected_vm;
	bool map_gpa_range; /* conversion-call = "map-gpa-range" */
	uint32_t shared_bit;
	uint64_t ram_size; /* /memory@0 reg: RAM is [0, ram_size) */
	int steps;	   /* offset of /gmemvm/steps */
	unsigned int nsteps;
};

/* The top-level nodes the guest reads, found in one pass over the root's
 * subnodes: the VMM puts them first and the devices after them. */
struct top_nodes {
	int chosen, memory, gmemvm;
};

static const char *find_top_nodes(const void *fdt, struct top_nodes *top)
{
	int node;

	top->chosen = top->memory = top->gmemvm = -1;
	/* Offset 0 is the root node of a tree that passed fdt_check_header. */
	fdt_for_each_subnode(node, fdt, 0) {
		const char *name = fdt_get_name(fdt, node, NULL);

		if (!name)
			return "unreadable node name";
		if (!strcmp(name, "chosen"))
			top->chosen = node;
		else if (!strcmp(name, "memory@0"))
			top->memory = node;
		else if (!strcmp(name, "gmemvm"))
			top->gmemvm = node;
		if (top->chosen >= 0 && top->memory >= 0 && top->gmemvm >= 0)
			return NULL;
	}
	return "missing /chosen, /memory@0 or /gmemvm";
}

/* Absent means the port, as before the property existed. */
static const char *parse_conversion_call(const struct node_props *props, bool *map_gpa_range)
{
	const char *call;

	*map_gpa_range = false;
	if (!props->value[PROP_CONVERSION_CALL])
		return NULL;
	call = get_string(props, PROP_CONVERSION_CALL);
	if (call && !strcmp(call, GMEMVM_CONVERSION_CALL_HYPERCALL)) {
		*map_gpa_range = true;
		return NULL;
	}
	if (call && !strcmp(call, GMEMVM_CONVERSION_CALL_PORT))
		return NULL;
	return "bad conversion-call (port or map-gpa-range)";
}

static const char *parse_boot_info(struct boot_info *info)
{
	const void *fdt = info->fdt;
	struct node_props props;
	struct top_nodes top;
	const char *error;
	uint64_t reg[2];
	int node, err;

	err = fdt_check_header(fdt);
	if (err)
		return fdt_strerror(err);
	error = find_top_nodes(fdt, &top);
	if (error)
		return error;
	info->steps = fdt_subnode_offset(fdt, top.gmemvm, "steps");
	if (info->steps < 0 || read_props(fdt, top.gmemvm, &props))
		return "missing /gmemvm/steps or unreadable /gmemvm";
	info->has_shared_bit = props.value[PROP_SHARED_BIT] != NULL;
	info->exit_fence = props.value[PROP_EXIT_FENCE] != NULL;
	info->protected_vm = props.value[PROP_PROTECTED_VM] != NULL;
	if (info->has_shared_bit && get_u32(&props, PROP_SHARED_BIT, &info->shared_bit))
		return "bad shared-bit (u32)";
	error = parse_conversion_call(&props, &info->map_gpa_range);
	if (error)
		return error;
	info->mode = get_string(&props, PROP_MODE);
	if (!info->mode || get_u32(&props, PROP_STAGE, &info->stage) ||
	    read_props(fdt, top.chosen, &props) || get_u32(&props, PROP_VCPUS, &info->vcpus))
		return "missing mode, stage or gmemvm,vcpus";
	/* #address-cells = #size-cells = 2: one (base 0, size) pair. */
	if (read_props(fdt, top.memory, &props) || !props.value[PROP_REG] ||
	    props.len[PROP_REG] != (int)sizeof(reg))
		return "missing or bad /memory@0 reg";
	reg[0] = fdt64_ld((const fdt64_t *)props.value[PROP_REG]);
	reg[1] = fdt64_ld((const fdt64_t *)props.value[PROP_REG] + 1);
	if (reg[0] != 0)
		return "/memory@0 does not start at 0";
	info->ram_size = reg[1];
	info->nsteps = 0;
	fdt_for_each_subnode(node, fdt, info->steps)
		info->nsteps++;
	return node == -FDT_ERR_NOTFOUND ? NULL : fdt_strerror(node);
}

/* User mode: no port I/O, so problems come back as info->error. */
static long read_boot_info(void *arg)
{
	struct boot_info *info = arg;

	info->error = parse_boot_info(info);
	return 0;
}

/* The steps in device-tree order, each parsed in user mode (next_step). */
struct step_cursor {
	const void *fdt;
	int steps, node, started;
	struct step step;
	const char *error; /* a malformed step, or a tree libfdt cannot walk */
};

static long next_step(void *arg)
{
	struct step_cursor *cursor = arg;

	cursor->node = cursor->started ? fdt_next_subnode(cursor->fdt, cursor->node)
				       : fdt_first_subnode(cursor->fdt, cursor->steps);
	cursor->started = 1;
	cursor->error = NULL;
	if (cursor->node < 0)
		cursor->error =
			cursor->node == -FDT_ERR_NOTFOUND ? NULL : fdt_strerror(cursor->node);
	else
		cursor->error = parse_step(cursor->fdt, cursor->node, &cursor->step);
	return 0;
}

/* Where the mode has a shared alias, its address bit must suit this CPU's
 * page tables (arch_check_shared_bit). */
static const char *set_shared_bit(const struct boot_info *info)
{
	const char *why;

	if (!info->has_shared_bit) {
		guest_set_shared_mask(0);
		return NULL;
	}
	if (info->shared_bit < SHARED_BIT_MIN)
		return "shared-bit below 32: the alias would overlap RAM";
	why = arch_check_shared_bit(info->shared_bit);
	if (why)
		return why;
	guest_set_shared_mask(1ULL << info->shared_bit);
	return NULL;
}

/* Called from _start with the device-tree GPA and the vCPU index (gmemvm_arch_abi.h). */
__attribute__((noreturn)) void guest_main(const void *fdt, unsigned long cpu);

void guest_main(const void *fdt, unsigned long cpu)
{
	struct boot_info info = { .fdt = fdt };
	struct step_cursor cursor = { .fdt = fdt };
	const char *errmsg;
	unsigned int k;

	unprivileged_init();
	unprivileged_call(read_boot_info, &info);
	/* Problems with the device tree itself are reported as failing "step 0". */
	if (info.error)
		fail(cpu, 0, info.error);
	/* A protected VM of upstream's pKVM: the request page becomes the
	 * guest's at its first access; share it before the first request. */
	if (info.protected_vm)
		hypercall_share_request_page();
	/* First, so that every later hypercall uses the shared view of the shared area. */
	errmsg = set_shared_bit(&info);
	if (errmsg)
		fail(cpu, 0, errmsg);
	/* After the shared bit: the assertion's strings go through the shared view. */
	GUEST_ASSERT(cpu < GMEMVM_MAX_VCPUS);
	if (cpu >= info.vcpus)
		fail(cpu, 0, "vCPU index >= gmemvm,vcpus");
	guest_vcpus = info.vcpus;
	unprivileged_exit_fence = info.exit_fence;
	guest_ram_size = info.ram_size;
	/* Supervisor mode: on x86 it runs CPUID to pick vmcall or vmmcall. */
	guest_set_conversion_call(info.map_gpa_range);

	if (cpu == 0 && guest_shared_mask)
		serial_printf("gmemvm guest: mode=%s stage=%u vcpus=%u steps=%u shared-bit=%d "
			      "conversion-call=%s\n",
			      info.mode, info.stage, info.vcpus, info.nsteps,
			      __builtin_ctzll(guest_shared_mask), guest_conversion_call_name());
	else if (cpu == 0)
		serial_printf(
			"gmemvm guest: mode=%s stage=%u vcpus=%u steps=%u conversion-call=%s\n",
			info.mode, info.stage, info.vcpus, info.nsteps,
			guest_conversion_call_name());

	/* Steps run in device-tree order; k is the 1-based position. Stop at the first failure. */
	cursor.steps = info.steps;
	for (k = 1;; k++) {
		guest_current_step[cpu] = k;
		unprivileged_call(next_step, &cursor);
		if (cursor.error)
			fail(cpu, k, cursor.error);
		if (cursor.node < 0)
			break;
		if (run_step(&cursor.step, cpu, k))
			hypercall_done(1, k);
	}
	hypercall_done(0, 0);
}
