// SPDX-License-Identifier: MIT
/*
 * The [steps] section of a scenario: OP [ARGS] [OPTIONS] per stepN key, each
 * checked against the [vm] section read before it (vcpus, memory, mode).
 * The ops are the guest's (enum gmemvm_step_op, gmemvm_abi.h); their
 * arguments and options are documented in docs/config.md.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_loader.h"
#include "gmemvm_abi.h"
#include "mode.h"
#include "vocabulary.h"

static const char *const view_names[] = {
	[VIEW_PRIVATE] = "private",
	[VIEW_SHARED] = "shared",
};

/* The op a [steps] line names, or -1. */
static int step_op_by_name(const char *name)
{
	for (uint32_t op = 0; op < GMEMVM_STEP_OP_COUNT; op++) {
		const char *known = gmemvm_step_op_name(op);
		if (known && strcmp(known, name) == 0)
			return (int)op;
	}
	return -1;
}

/* result=N: a decimal int32, optionally negative ("-22" for GMEMVM_HC_EINVAL). */
static int parse_result(struct loader *ld, const char *key, const char *text, int32_t *out)
{
	const char *digits = text[0] == '-' ? text + 1 : text;
	uint64_t value = 0;
	uint64_t limit = text[0] == '-' ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX;

	if (!*digits)
		goto bad;
	for (const char *p = digits; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		value = value * 10 + (uint64_t)(*p - '0');
		if (value > limit)
			goto bad;
	}
	*out = text[0] == '-' ? (int32_t)(-(int64_t)value) : (int32_t)value;
	return 0;
bad:
	return loader_fail(
		ld, "steps", key,
		"'result=%s' is not a decimal 32-bit integer (e.g. result=0, result=-22)", text);
}

/* The vcpu=, view= and result= options of a step; each at most once. */
struct step_options {
	const char *vcpu, *view, *result;
};

static int parse_step_option(struct loader *ld, const char *key, char *word,
			     struct step_options *opts)
{
	char *equals = strchr(word, '=');
	const char **slot;

	*equals = '\0';
	if (strcmp(word, "vcpu") == 0)
		slot = &opts->vcpu;
	else if (strcmp(word, "view") == 0)
		slot = &opts->view;
	else if (strcmp(word, "result") == 0)
		slot = &opts->result;
	else
		return loader_fail(ld, "steps", key,
				   "unknown option '%s=%s' (vcpu=, view=, result=)", word,
				   equals + 1);
	if (*slot)
		return loader_fail(ld, "steps", key, "duplicate option %s= ('%s=%s' after '%s=%s')",
				   word, word, equals + 1, word, *slot);
	*slot = equals + 1;
	return 0;
}

static int apply_step_options(struct loader *ld, const char *key, const struct step_options *opts,
			      struct step *step)
{
	const struct scenario *out = ld->out;
	const char *op = gmemvm_step_op_name(step->op);
	bool data = step->op == GMEMVM_STEP_WRITE || step->op == GMEMVM_STEP_VERIFY ||
		    step->op == GMEMVM_STEP_TOUCH || step->op == GMEMVM_STEP_DISCARD;
	bool convert = step->op == GMEMVM_STEP_SHARE || step->op == GMEMVM_STEP_UNSHARE ||
		       step->op == GMEMVM_STEP_HOLD || step->op == GMEMVM_STEP_RELEASE;

	step->vcpu = 0;
	step->view = VIEW_PRIVATE;
	step->expect_result = 0;
	if (opts->vcpu) {
		const char *vcpu = opts->vcpu;
		uint64_t index;

		if (strcmp(vcpu, "all") == 0) {
			step->vcpu = STEP_VCPU_ALL;
		} else if (config_parse_plain(vcpu, &index) != NUM_OK) {
			return loader_fail(ld, "steps", key, "'vcpu=%s' is not vcpu=N or vcpu=all",
					   vcpu);
		} else if (index >= (uint64_t)out->vcpus) {
			return loader_fail(ld, "steps", key,
					   "vcpu=%s but [vm] vcpus is %d (vCPUs 0..%d)", vcpu,
					   out->vcpus, out->vcpus - 1);
		} else {
			step->vcpu = (int)index;
		}
	}
	if (opts->view) {
		int view;

		if (!data)
			return loader_fail(
				ld, "steps", key,
				"view= is only for write, verify, touch and discard, not %s", op);
		view = vocabulary_lookup(view_names, 0, (int)ARRAY_SIZE(view_names), opts->view);
		if (view < 0)
			return loader_fail(ld, "steps", key,
					   "unknown view '%s' (private or shared)", opts->view);
		step->view = (enum step_view)view;
		/* One view of RAM outside the CoCo modes: no alias to name. */
		if (step->view == VIEW_SHARED && !mode_info(out->mode)->coco)
			return loader_fail(
				ld, "steps", key,
				"view=shared needs a mode with a shared alias of RAM "
				"(coco-legacy, coco-inplace); mode %s has one view, the plain "
				"address: leave view= out",
				config_mode_name(out->mode));
	}
	if (opts->result) {
		if (!convert)
			return loader_fail(
				ld, "steps", key,
				"result= is only for share, unshare, hold and release, not %s", op);
		return parse_result(ld, key, opts->result, &step->expect_result);
	}
	return 0;
}

/* "OP takes USAGE, got N arguments": the wrong number of positional arguments. */
static int fail_arguments(struct loader *ld, const char *key, const char *op, const char *usage,
			  int positional)
{
	return loader_fail(ld, "steps", key, "%s takes %s, got %d argument%s", op, usage,
			   positional, positional == 1 ? "" : "s");
}

/* The COUNT of flip, scatter and hostile: a plain number in 1..max. */
static int parse_step_count(struct loader *ld, const char *key, const char *op, const char *text,
			    unsigned int max, uint64_t *count)
{
	if (config_parse_plain(text, count) != NUM_OK || *count == 0 || *count > max) {
		*count = 0;
		return loader_fail(ld, "steps", key, "%s count '%s' is not a number in 1..%u", op,
				   text, max);
	}
	return 0;
}

/* The RAM range a write or verify touches: in the data area and in guest RAM. */
static int check_step_range(struct loader *ld, const char *key, const char *addr_text,
			    const struct step *step)
{
	const struct scenario *out = ld->out;
	uint64_t copies = step->vcpu == STEP_VCPU_ALL ? (uint64_t)out->vcpus : 1;
	uint64_t end;

	/* With vcpu=all, vCPU i works on addr + i * size. */
	if (step->addr < GMEMVM_DATA_GPA)
		return loader_fail(ld, "steps", key,
				   "address %s is below the data area, which starts at 0x%llx",
				   addr_text, GMEMVM_DATA_GPA);
	if (step->size > UINT64_MAX / copies || step->addr > UINT64_MAX - step->size * copies)
		return loader_fail(ld, "steps", key, "address range overflows");
	end = step->addr + step->size * copies;
	if (end > out->memory_size) {
		char memory[32];

		config_format_size(memory, sizeof(memory), out->memory_size);
		return loader_fail(ld, "steps", key,
				   "memory too small for the guest: %s touches up to 0x%" PRIx64
				   ", memory is %s",
				   key, end, memory);
	}
	return 0;
}

/* flip ADDR SIZE COUNT */
static int parse_flip(struct loader *ld, const char *key, char **words, int positional,
		      struct step *step)
{
	uint64_t count;
	if (positional != 3)
		return fail_arguments(ld, key, words[0], "ADDR SIZE COUNT [vcpu=N|all]",
				      positional);
	int status = parse_step_count(ld, key, words[0], words[3], CONFIG_MAX_FLIP_COUNT, &count);
	if (status < 0)
		return status;
	step->count = (uint32_t)count;
	return loader_addr_size(ld, "steps", key, words + 1, &step->addr, &step->size);
}

/* scatter ADDR COUNT: pages ADDR, ADDR + 8K, ... shared, the ones between
 * left as they were: the region-count benchmark (docs/performance.md). */
static int parse_scatter(struct loader *ld, const char *key, char **words, int positional,
			 struct step *step)
{
	uint64_t count;
	if (positional != 2)
		return fail_arguments(ld, key, words[0], "ADDR COUNT [vcpu=N|all]", positional);
	int status =
		parse_step_count(ld, key, words[0], words[2], CONFIG_MAX_SCATTER_COUNT, &count);
	if (status < 0)
		return status;
	if (config_parse_plain(words[1], &step->addr) != NUM_OK || step->addr % 4096)
		return loader_fail(ld, "steps", key, "scatter address '%s' is not page-aligned",
				   words[1]);
	step->count = (uint32_t)count;
	step->size = 2ULL * 4096 * count;
	return check_step_range(ld, key, words[1], step);
}

/* hostile SEED COUNT: the playground is fixed, and every vCPU of vcpu=all
 * shares it (they convert the same pages at once). */
static int parse_hostile(struct loader *ld, const char *key, char **words, int positional,
			 struct step *step)
{
	_Static_assert(CONFIG_HOSTILE_PLAYGROUND_GPA == GMEMVM_DATA_GPA,
		       "the playground starts the data area");
	uint64_t seed, count;
	if (positional != 2)
		return fail_arguments(ld, key, words[0], "SEED COUNT [vcpu=N|all]", positional);
	if (config_parse_plain(words[1], &seed) != NUM_OK || seed > UINT32_MAX)
		return loader_fail(ld, "steps", key, "hostile seed '%s' is not a 32-bit number",
				   words[1]);
	int status =
		parse_step_count(ld, key, words[0], words[2], CONFIG_MAX_HOSTILE_COUNT, &count);
	if (status < 0)
		return status;
	step->pattern = (uint32_t)seed;
	step->count = (uint32_t)count;
	step->addr = CONFIG_HOSTILE_PLAYGROUND_GPA;
	step->size = CONFIG_HOSTILE_PLAYGROUND_SIZE;
	if (step->addr + step->size > ld->out->memory_size)
		return loader_fail(ld, "steps", key,
				   "memory too small for the guest: hostile's playground ends at "
				   "0x%" PRIx64,
				   step->addr + step->size);
	return 0;
}

/*
 * The positional arguments of the step's op (words[1..positional]), with the
 * options already applied; vcpu_given: the line has vcpu=.
 */
static int parse_step_arguments(struct loader *ld, const char *key, const char *text, char **words,
				int positional, bool vcpu_given, struct step *step)
{
	int status;
	switch (step->op) {
	case GMEMVM_STEP_PIO:
		if (positional == 1) {
			/* pio COUNT: COUNT round trips to the echo port (size holds the count). */
			if (config_parse_plain(words[1], &step->size) != NUM_OK ||
			    step->size == 0 || step->size > CONFIG_MAX_PIO_COUNT)
				return loader_fail(ld, "steps", key,
						   "pio count '%s' is not a number in 1..%u",
						   words[1], CONFIG_MAX_PIO_COUNT);
			return 0;
		}
		/* fall through */
	case GMEMVM_STEP_MMIO:
		if (positional != 0)
			return loader_fail(
				ld, "steps", key, "%s takes %sno arguments besides vcpu=, got '%s'",
				words[0],
				step->op == GMEMVM_STEP_PIO ? "an optional COUNT and " : "", text);
		return 0;
	case GMEMVM_STEP_SHARE:
	case GMEMVM_STEP_UNSHARE:
	case GMEMVM_STEP_HOLD:
	case GMEMVM_STEP_RELEASE:
		/*
		 * Deliberately not checked against RAM, alignment or the data
		 * area: scenarios send bad ranges to test the VMM's refusals.
		 */
		if (positional != 2)
			return fail_arguments(ld, key, words[0],
					      "ADDR SIZE [result=N] [vcpu=N|all]", positional);
		return loader_addr_size(ld, "steps", key, words + 1, &step->addr, &step->size);
	case GMEMVM_STEP_DISCARD:
		/* discard ADDR SIZE: whole pages of the data area. */
		if (positional != 2)
			return fail_arguments(ld, key, words[0],
					      "ADDR SIZE [view=private|shared] [vcpu=N|all]",
					      positional);
		status = loader_range(ld, "steps", key, words + 1, 4096, &step->addr, &step->size);
		if (status < 0)
			return status;
		return check_step_range(ld, key, words[1], step);
	case GMEMVM_STEP_BARRIER:
		/* A barrier is for every vCPU: it orders what comes after it. */
		if (positional != 0 || vcpu_given)
			return loader_fail(ld, "steps", key,
					   "barrier takes no arguments (it is for all vCPUs)");
		step->vcpu = STEP_VCPU_ALL;
		return 0;
	case GMEMVM_STEP_FLIP:
		return parse_flip(ld, key, words, positional, step);
	case GMEMVM_STEP_SCATTER:
		return parse_scatter(ld, key, words, positional, step);
	case GMEMVM_STEP_HOSTILE:
		return parse_hostile(ld, key, words, positional, step);
	case GMEMVM_STEP_TOUCH:
		/* One word per page: the range is whole pages. */
		if (positional != 3)
			break;
		status = loader_range(ld, "steps", key, words + 1, 4096, &step->addr, &step->size);
		if (status == 0)
			status = loader_pattern(ld, "steps", key, words[3], &step->pattern);
		if (status < 0)
			return status;
		return check_step_range(ld, key, words[1], step);
	case GMEMVM_STEP_WRITE:
	case GMEMVM_STEP_VERIFY:
	case GMEMVM_STEP_OP_COUNT: /* not an op: step_op_by_name never returns it */
		break;
	}
	if (positional != 3)
		return fail_arguments(ld, key, words[0],
				      "ADDR SIZE PATTERN [view=private|shared] [vcpu=N|all]",
				      positional);
	status = loader_range(ld, "steps", key, words + 1, 8, &step->addr, &step->size);
	if (status == 0)
		status = loader_pattern(ld, "steps", key, words[3], &step->pattern);
	if (status < 0)
		return status;
	return check_step_range(ld, key, words[1], step);
}

/*
 * OP [ARGS] [OPTIONS]: the positional arguments first, then the options
 * (vcpu=, view=, result=) in any order, each at most once.
 */
static int parse_step(struct loader *ld, const char *key, const char *text, struct step *step)
{
	char copy[256], *words[CONFIG_MAX_WORDS];
	struct step_options opts = { 0 };
	int nr_words, op, positional = 0;

	if (strlen(text) >= sizeof(copy))
		return loader_fail(ld, "steps", key, "value too long");
	snprintf(copy, sizeof(copy), "%s", text);
	nr_words = config_split_words(copy, words, CONFIG_MAX_WORDS);
	if (nr_words == 0)
		return loader_fail(ld, "steps", key, "empty value");
	if (nr_words > CONFIG_MAX_WORDS)
		return loader_fail(ld, "steps", key, "too many arguments in '%s'", text);

	op = step_op_by_name(words[0]);
	if (op < 0)
		return loader_fail(
			ld, "steps", key,
			"unknown op '%s' (write, verify, touch, mmio, pio, share, unshare, flip, "
			"barrier, discard, hostile, scatter, hold, release)",
			words[0]);
	step->op = (enum gmemvm_step_op)op;

	for (int i = 1; i < nr_words; i++) {
		if (strchr(words[i], '=')) {
			int status = parse_step_option(ld, key, words[i], &opts);
			if (status < 0)
				return status;
		} else if (opts.vcpu || opts.view || opts.result) {
			return loader_fail(ld, "steps", key,
					   "argument '%s' after an option: options (vcpu=, view=, "
					   "result=) come after the arguments",
					   words[i]);
		} else {
			positional++;
		}
	}
	int status = apply_step_options(ld, key, &opts, step);
	if (status < 0)
		return status;
	return parse_step_arguments(ld, key, text, words, positional, opts.vcpu != NULL, step);
}

int loader_steps(struct loader *ld)
{
	struct scenario *out = ld->out;

	/* Keys are step1..stepMAX (checked already); run them in ascending N,
	 * looking up no more than the section has: 64 lookups of absent keys
	 * were a sixth of the instructions to the first KVM_RUN (callgrind). */
	int remaining = iniparser_getsecnkeys(ld->dict, "steps");
	for (int n = 1; n <= CONFIG_MAX_STEPS && remaining > 0; n++) {
		char key[32];
		const char *text;

		snprintf(key, sizeof(key), "step%d", n);
		text = loader_get(ld, "steps", key);
		if (!text)
			continue;
		remaining--;
		int status = parse_step(ld, key, text, &out->steps[out->nr_steps++]);
		if (status < 0)
			return status;
	}
	return 0;
}
