// SPDX-License-Identifier: MIT
/*
 * Scenario loader: reads an INI file with iniparser, applies --set overrides
 * and turns it into a fully validated struct scenario. Everything a run could
 * trip over later (sizes, alignment, step ranges, outcome names) is checked
 * here, so a bad scenario fails before any VM exists, with one line that
 * names the file, the section and key, and what is wrong.
 *
 * The key names and their rules are documented in docs/config.md; keep the
 * two in step.
 */
#include "config.h"

#include "arch/arch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iniparser.h>

#include "config_loader.h"
#include "gmemvm_abi.h"
#include "mode.h"
#include "vocabulary.h"

#define SIZE_2M		   (2ULL << 20)
#define TIMEOUT_MIN_MS	   100U
#define TIMEOUT_MAX_MS	   600000U
#define TIMEOUT_DEFAULT_MS 60000U /* a loaded 2-core machine, or an emulator, needs the room */
#define MEMORY_DEFAULT	   (16ULL << 20)

static const char *const check_kind_names[] = {
	[CHECK_PATTERN] = "pattern", [CHECK_ZERO] = "zero",	[CHECK_SIGBUS] = "sigbus",
	[CHECK_PRIVATE] = "private", [CHECK_SHARED] = "shared", [CHECK_FAULTS] = "faults",
};

const char *config_mode_name(enum vm_mode mode)
{
	const struct mode_info *info = mode_info(mode);
	return info ? info->name : "?";
}

const char *config_check_kind_name(enum check_kind kind)
{
	return vocabulary_name(check_kind_names, ARRAY_SIZE(check_kind_names), (unsigned int)kind);
}

/* ---- Numbers ---------------------------------------------------------- */

/*
 * Parse the unsigned number at the start of text: decimal, or hex after 0x.
 * Our own loop rather than strtoull, which would accept leading blanks, a
 * sign (and wrap "-1" to UINT64_MAX) and read a leading 0 as octal.
 * *end is left at the first character after the digits.
 */
static enum num_error parse_digits(const char *text, const char **end, uint64_t *out)
{
	const char *p = text;
	unsigned base = 10;
	uint64_t value = 0;
	bool overflow = false;
	const char *digits;

	if (*p == '-')
		return NUM_NEGATIVE;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	digits = p;
	for (;; p++) {
		unsigned digit;

		if (*p >= '0' && *p <= '9')
			digit = (unsigned)(*p - '0');
		else if (base == 16 && isxdigit((unsigned char)*p))
			digit = (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
		else
			break;
		if (value > (UINT64_MAX - digit) / base)
			overflow = true; /* keep scanning so trailing junk is still found */
		else
			value = value * base + digit;
	}
	if (p == digits)
		return NUM_NOT_NUMBER;
	*end = p;
	*out = value;
	return overflow ? NUM_OVERFLOW : NUM_OK;
}

/* A number with an optional binary K/M/G suffix, and nothing after it. */
static enum num_error parse_size(const char *text, uint64_t *out)
{
	const char *end;
	uint64_t value;
	unsigned shift = 0;
	enum num_error rc = parse_digits(text, &end, &value);

	if (rc == NUM_NOT_NUMBER || rc == NUM_NEGATIVE)
		return rc;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		break;
	}
	if (shift)
		end++;
	if (*end)
		return NUM_TRAILING;
	if (rc == NUM_OVERFLOW || value > (UINT64_MAX >> shift))
		return NUM_OVERFLOW;
	*out = value << shift;
	return NUM_OK;
}

enum num_error config_parse_plain(const char *text, uint64_t *out)
{
	const char *end;
	uint64_t value;
	enum num_error rc = parse_digits(text, &end, &value);

	if (rc == NUM_NOT_NUMBER || rc == NUM_NEGATIVE)
		return rc;
	if (*end)
		return NUM_TRAILING;
	if (rc != NUM_OK)
		return rc;
	*out = value;
	return NUM_OK;
}

int config_parse_size(const char *text, uint64_t *out)
{
	if (!text || parse_size(text, out) != NUM_OK)
		return -EINVAL;
	return 0;
}

/* Why text is not a number, as a phrase that follows the quoted text. */
static const char *num_error_text(enum num_error rc)
{
	switch (rc) {
	case NUM_NOT_NUMBER:
		return "is not a number";
	case NUM_NEGATIVE:
		return "is negative";
	case NUM_TRAILING:
		return "has trailing characters after the number";
	case NUM_OVERFLOW:
		return "is too large (overflow)";
	case NUM_OK:
		break;
	}
	return "is bad";
}

void config_format_size(char *buf, size_t size, uint64_t value)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3; i++) {
		unsigned shift = 30 - 10 * (unsigned)i;
		uint64_t unit = 1ULL << shift;

		if (value && value % unit == 0) {
			snprintf(buf, size, "%" PRIu64 "%c", value >> shift, units[i]);
			return;
		}
	}
	snprintf(buf, size, "%" PRIu64, value);
}

/* ---- Error reporting -------------------------------------------------- */

static bool key_was_set(const struct loader *ld, const char *section, const char *key)
{
	char entry[128];

	snprintf(entry, sizeof(entry), "%s:%s", section, key);
	for (int i = 0; i < ld->nr_set_keys; i++)
		if (strcmp(ld->set_keys[i], entry) == 0)
			return true;
	return false;
}

/* Error text must stay one line even when a --set value carries a newline. */
static void flatten_line(char *text)
{
	for (; *text; text++)
		if ((unsigned char)*text < 0x20 || *text == 0x7f)
			*text = ' ';
}

/* The one line of a refusal or a failure: "FILE: [section] key: message",
 * into ld->error (with code and step, or refused when step is NULL). */
static int loader_report(struct loader *ld, int code, const char *step, const char *section,
			 const char *key, const char *message)
{
	char line[GMEMVM_ERROR_MESSAGE_SIZE];

	if (!ld->error)
		return code;
	if (section && key)
		snprintf(line, sizeof(line), "%s: [%s] %s: %s%s", ld->path, section, key, message,
			 key_was_set(ld, section, key) ? " (value from --set)" : "");
	else if (section)
		snprintf(line, sizeof(line), "%s: [%s]: %s", ld->path, section, message);
	else
		snprintf(line, sizeof(line), "%s: %s", ld->path, message);
	flatten_line(line);
	if (step)
		return gmemvm_failf(ld->error, code, step, "%s", line);
	return gmemvm_refuse(ld->error, code, "%s", line);
}

int loader_fail(struct loader *ld, const char *section, const char *key, const char *fmt, ...)
{
	char message[GMEMVM_ERROR_MESSAGE_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return loader_report(ld, -EINVAL, NULL, section, key, message);
}

/* A call the loader made failed (code, a negative errno, from step): the
 * same one line about the whole file, not a refusal. */
__attribute__((format(printf, 4, 5))) static int
loader_failed(struct loader *ld, int code, const char *step, const char *fmt, ...)
{
	char message[GMEMVM_ERROR_MESSAGE_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return loader_report(ld, code, step, NULL, NULL, message);
}

/* Shorthand for the common "'value' is not a number" style of refusal. */
static int fail_number(struct loader *ld, const char *section, const char *key, const char *what,
		       const char *text, enum num_error rc)
{
	return loader_fail(ld, section, key, "%s '%s' %s", what, text, num_error_text(rc));
}

/* ---- Sections and keys ------------------------------------------------ */

struct section_info {
	const char *name;
	const char *const *keys; /* NULL-terminated fixed names; NULL: see check_key */
	const char *allowed;	 /* for "unknown key" messages */
};

static const char *const scenario_keys[] = { "name", "description", NULL };
static const char *const vm_keys[] = { "mode",	"stage",   "memory", "vcpus",
				       "guest", "timeout", "pkvm",   NULL };
static const char *const gmem_keys[] = { "flags", "userspace_addr", NULL };

static const struct section_info sections[] = {
	{ "scenario", scenario_keys, "name, description" },
	{ "vm", vm_keys, "mode, stage, memory, vcpus, guest, timeout, pkvm" },
	{ "gmem", gmem_keys, "flags, userspace_addr" },
	{ "steps", NULL, "step1..step64" },
	{ "expect", NULL,
	  "exit, exit.gmem-served, exit.uaddr-served, exits.<kind>, memory-faults, "
	  "conversions.to-shared, conversions.to-private, conversions.by-fault, "
	  "conversions.by-hypercall, hypercalls.refused, check1..check16" },
};

#define SECTION_NAMES "scenario, vm, gmem, steps, expect, expect.x86_64, expect.arm64"

/* [expect.ARCH]: what differs on one architecture (arm64's devices are MMIO,
 * so its console's bytes are MMIO exits); on that architecture its keys take
 * the place of [expect]'s (loader_get), elsewhere only their names are checked. */
static const char *const expect_architectures[] = { "expect.x86_64", "expect.arm64" };

static const struct section_info *find_section(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(expect_architectures); i++)
		if (strcmp(expect_architectures[i], name) == 0)
			name = "expect";
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (strcmp(sections[i].name, name) == 0)
			return &sections[i];
	return NULL;
}

/*
 * If key is prefix followed by a decimal N without leading zeros, return N
 * (capped so huge numbers stay out of range), else -1. Leading zeros are
 * refused so "step01" and "step1" cannot both name step 1.
 */
static long numbered_key(const char *key, const char *prefix)
{
	size_t len = strlen(prefix);
	long n = 0;

	if (strncmp(key, prefix, len) != 0)
		return -1;
	key += len;
	if (*key < '1' || *key > '9')
		return -1;
	for (; *key; key++) {
		if (*key < '0' || *key > '9')
			return -1;
		if (n < 1000000)
			n = n * 10 + (*key - '0');
	}
	return n;
}

/*
 * Is key allowed in section? If not, write why into why. Used both on the
 * file's keys and on --set keys before they are applied.
 */
static bool check_key(const struct section_info *sec, const char *key, char *why, size_t why_size)
{
	if (sec->keys) {
		for (int i = 0; sec->keys[i]; i++)
			if (strcmp(sec->keys[i], key) == 0)
				return true;
	} else if (strcmp(sec->name, "steps") == 0) {
		long n = numbered_key(key, "step");

		if (n >= 1 && n <= CONFIG_MAX_STEPS)
			return true;
		if (n > CONFIG_MAX_STEPS) {
			snprintf(why, why_size, "'%s' is out of range, keys are step1..step%d", key,
				 CONFIG_MAX_STEPS);
			return false;
		}
	} else {
		long n = numbered_key(key, "check");

		if (strcmp(key, "exit") == 0 || strcmp(key, "exit.gmem-served") == 0 ||
		    strcmp(key, "exit.uaddr-served") == 0)
			return true;
		if (strncmp(key, "exits.", 6) == 0) {
			if (exit_kind_by_name(key + 6) >= 0)
				return true;
			snprintf(why, why_size,
				 "unknown exit kind '%s' (io, mmio, hlt, shutdown, fail-entry, "
				 "internal-error, memory-fault, hypercall, map-gpa-range, unknown)",
				 key + 6);
			return false;
		}
		if (event_by_name(key) >= 0)
			return true;
		if (n >= 1 && n <= CONFIG_MAX_CHECKS)
			return true;
		if (n > CONFIG_MAX_CHECKS) {
			snprintf(why, why_size, "more than %d checks, keys are check1..check%d",
				 CONFIG_MAX_CHECKS, CONFIG_MAX_CHECKS);
			return false;
		}
	}
	snprintf(why, why_size, "unknown key (allowed: %s)", sec->allowed);
	return false;
}

/*
 * Walk every dictionary entry: sections are stored as "name" with a NULL
 * value, keys as "section:key" (":key" before the first section header).
 * iniparser has no iterator over all entries, so read the public arrays.
 */
static int check_entries(struct loader *ld)
{
	const dictionary *d = ld->dict;

	for (ssize_t i = 0; i < d->size; i++) {
		const char *entry = d->key[i];
		const char *colon;
		const struct section_info *sec;
		char section[128], why[256];
		size_t len;

		if (!entry)
			continue;
		colon = strchr(entry, ':');
		len = colon ? (size_t)(colon - entry) : strlen(entry);
		snprintf(section, sizeof(section), "%.*s", (int)len, entry);
		if (colon && len == 0)
			return loader_fail(ld, NULL, NULL, "%s: key outside any section",
					   colon + 1);
		sec = find_section(section);
		if (!sec)
			return loader_fail(ld, section, NULL,
					   "unknown section (allowed: " SECTION_NAMES ")");
		if (!colon)
			continue;
		if (!check_key(sec, colon + 1, why, sizeof(why)))
			return loader_fail(ld, section, colon + 1, "%s", why);
		if (!d->val[i] || !d->val[i][0])
			return loader_fail(ld, section, colon + 1, "empty value");
	}
	return 0;
}

const char *loader_get(const struct loader *ld, const char *section, const char *key)
{
	char entry[128];
	const char *value = NULL;

	if (strcmp(section, "expect") == 0) {
		snprintf(entry, sizeof(entry), "expect.%s:%s", arch_name, key);
		value = iniparser_getstring(ld->dict, entry, NULL);
	}
	snprintf(entry, sizeof(entry), "%s:%s", section, key);
	return value ? value : iniparser_getstring(ld->dict, entry, NULL);
}

/* ---- Overrides -------------------------------------------------------- */

static void trim(char *text)
{
	size_t len = strlen(text), start = 0;

	while (len && isspace((unsigned char)text[len - 1]))
		text[--len] = '\0';
	while (isspace((unsigned char)text[start]))
		start++;
	memmove(text, text + start, len - start + 1);
}

static void lowercase(char *text)
{
	for (; *text; text++)
		*text = (char)tolower((unsigned char)*text);
}

/* Apply "section.key=value" strings; the first '.' ends the section name. */
static int apply_overrides(struct loader *ld, const char *const *overrides, int nr_overrides)
{
	if (nr_overrides > CONFIG_MAX_OVERRIDES)
		return loader_fail(ld, NULL, NULL, "too many --set options (%d, at most %d)",
				   nr_overrides, CONFIG_MAX_OVERRIDES);
	for (int i = 0; i < nr_overrides; i++) {
		const char *text = overrides[i];
		const char *equals = strchr(text, '=');
		const char *dot = strchr(text, '.');
		const struct section_info *sec;
		char section[64], key[64], value[256], entry[128], why[256];

		if (!equals || !dot || dot > equals)
			return loader_fail(ld, NULL, NULL,
					   "--set %s: malformed, expected section.key=value", text);
		if ((size_t)(dot - text) >= sizeof(section) ||
		    (size_t)(equals - dot - 1) >= sizeof(key) ||
		    strlen(equals + 1) >= sizeof(value))
			return loader_fail(ld, NULL, NULL, "--set %s: too long", text);
		snprintf(section, sizeof(section), "%.*s", (int)(dot - text), text);
		snprintf(key, sizeof(key), "%.*s", (int)(equals - dot - 1), dot + 1);
		snprintf(value, sizeof(value), "%s", equals + 1);
		trim(section);
		trim(key);
		trim(value);
		/* The file's names went through iniparser, which lowercases them. */
		lowercase(section);
		lowercase(key);

		sec = find_section(section);
		if (!sec)
			return loader_fail(ld, NULL, NULL,
					   "--set %s: unknown section [%s] (allowed: " SECTION_NAMES
					   ")",
					   text, section);
		if (!check_key(sec, key, why, sizeof(why)))
			return loader_fail(ld, NULL, NULL, "--set %s: [%s] %s: %s", text, section,
					   key, why);

		snprintf(entry, sizeof(entry), "%s:%s", section, key);
		if ((!iniparser_find_entry(ld->dict, section) &&
		     iniparser_set(ld->dict, section, NULL) != 0) ||
		    iniparser_set(ld->dict, entry, value) != 0)
			return loader_failed(ld, -ENOMEM, "iniparser_set",
					     "--set %s: out of memory", text);
		snprintf(ld->set_keys[ld->nr_set_keys++], sizeof(ld->set_keys[0]), "%s", entry);
	}
	return 0;
}

/* ---- [scenario] ------------------------------------------------------- */

static bool valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 63)
		return false;
	for (; *name; name++)
		if (!isalnum((unsigned char)*name) && !strchr("._-", *name))
			return false;
	return true;
}

static int parse_scenario(struct loader *ld)
{
	struct scenario *out = ld->out;
	const char *name = loader_get(ld, "scenario", "name");
	const char *description = loader_get(ld, "scenario", "description");

	if (name) {
		if (!valid_name(name))
			return loader_fail(
				ld, "scenario", "name",
				"'%s' is not a valid name (1..63 characters of A-Z a-z 0-9 . _ -)",
				name);
		snprintf(out->name, sizeof(out->name), "%s", name);
	} else {
		/* Default: the file's base name without ".ini". */
		const char *base = strrchr(ld->path, '/');
		char derived[256];
		size_t len;

		base = base ? base + 1 : ld->path;
		len = strlen(base);
		if (len > 4 && strcmp(base + len - 4, ".ini") == 0)
			len -= 4;
		snprintf(derived, sizeof(derived), "%.*s", (int)len, base);
		if (!valid_name(derived))
			return loader_fail(ld, "scenario", "name",
					   "not set, and the file name '%s' is not a valid name "
					   "(1..63 characters of A-Z a-z 0-9 . _ -)",
					   derived);
		snprintf(out->name, sizeof(out->name), "%.63s", derived); /* valid_name: <= 63 */
	}
	if (description) {
		if (strlen(description) >= sizeof(out->description))
			return loader_fail(ld, "scenario", "description",
					   "too long (at most %zu characters)",
					   sizeof(out->description) - 1);
		snprintf(out->description, sizeof(out->description), "%s", description);
	}
	return 0;
}

/* ---- [vm] ------------------------------------------------------------- */

/* "10s", "250ms", "500" (ms); blanks allowed before the unit. */
static int parse_timeout(struct loader *ld, const char *text)
{
	const char *end;
	uint64_t value, scale = 1;
	enum num_error rc = parse_digits(text, &end, &value);

	if (rc == NUM_NOT_NUMBER || rc == NUM_NEGATIVE)
		return fail_number(ld, "vm", "timeout", "value", text, rc);
	while (*end == ' ' || *end == '\t')
		end++;
	if (strcmp(end, "s") == 0)
		scale = 1000;
	else if (*end && strcmp(end, "ms") != 0)
		return loader_fail(ld, "vm", "timeout", "'%s' has an unknown unit (use ms or s)",
				   text);
	if (rc == NUM_OVERFLOW || value > UINT64_MAX / scale || value * scale < TIMEOUT_MIN_MS ||
	    value * scale > TIMEOUT_MAX_MS)
		return loader_fail(ld, "vm", "timeout", "'%s' is out of range 100ms..600s", text);
	ld->out->timeout_ms = (unsigned)(value * scale);
	return 0;
}

/* A small integer key: vcpus, stage. */
static int parse_small(struct loader *ld, const char *section, const char *key, const char *text,
		       uint64_t min, uint64_t max, int *out)
{
	uint64_t value;
	enum num_error rc = config_parse_plain(text, &value);

	if (rc != NUM_OK)
		return fail_number(ld, section, key, "value", text, rc);
	if (value < min || value > max)
		return loader_fail(ld, section, key, "'%s' is out of range %" PRIu64 "..%" PRIu64,
				   text, min, max);
	*out = (int)value;
	return 0;
}

static int parse_memory(struct loader *ld, const char *text)
{
	char limit[32];
	uint64_t value;
	enum num_error rc = parse_size(text, &value);

	if (rc != NUM_OK)
		return fail_number(ld, "vm", "memory", "size", text, rc);
	if (value < CONFIG_MIN_MEMORY) {
		config_format_size(limit, sizeof(limit), CONFIG_MIN_MEMORY);
		return loader_fail(ld, "vm", "memory", "'%s' is below the minimum %s", text, limit);
	}
	if (value > CONFIG_MAX_MEMORY) {
		config_format_size(limit, sizeof(limit), CONFIG_MAX_MEMORY);
		return loader_fail(ld, "vm", "memory", "'%s' is above the maximum %s", text, limit);
	}
	/* Guest RAM is mapped with 2 MiB pages (GMEMVM_PD_GPA). */
	if (value % SIZE_2M)
		return loader_fail(ld, "vm", "memory", "'%s' is not a multiple of 2M", text);
	ld->out->memory_size = value;
	return 0;
}

/* A relative guest path is relative to the scenario file's directory. */
static int parse_guest(struct loader *ld, const char *text)
{
	struct scenario *out = ld->out;
	const char *slash = strrchr(ld->path, '/');
	int len;

	if (text[0] == '/' || !slash)
		len = snprintf(out->guest_path, sizeof(out->guest_path), "%s", text);
	else
		len = snprintf(out->guest_path, sizeof(out->guest_path), "%.*s/%s",
			       (int)(slash - ld->path), ld->path, text);
	if (len < 0 || (size_t)len >= sizeof(out->guest_path)) {
		out->guest_path[0] = '\0';
		return loader_fail(ld, "vm", "guest", "path too long (at most %zu characters)",
				   sizeof(out->guest_path) - 1);
	}
	return 0;
}

static int parse_vm(struct loader *ld)
{
	struct scenario *out = ld->out;
	const char *mode = loader_get(ld, "vm", "mode");
	const struct mode_info *info;
	const char *text;

	if (!mode)
		return loader_fail(ld, "vm", "mode",
				   "missing (required: coco-legacy, shared, pkvm or coco-inplace)");
	info = mode_by_name(mode); /* the mode table's names (mode.h) */
	if (!info)
		return loader_fail(ld, "vm", "mode",
				   "unknown mode '%s' (coco-legacy, shared, pkvm, coco-inplace)",
				   mode);
	out->mode = info->mode;

	text = loader_get(ld, "vm", "stage");
	if (text) {
		uint64_t value;
		enum num_error rc = config_parse_plain(text, &value);

		if (rc != NUM_OK)
			return fail_number(ld, "vm", "stage", "value", text, rc);
		if (value != 1 && value != 2)
			return loader_fail(ld, "vm", "stage", "'%s' must be 1 or 2", text);
		out->stage = (int)value;
	}
	int status = 0;
	text = loader_get(ld, "vm", "memory");
	if (text)
		status = parse_memory(ld, text);
	text = loader_get(ld, "vm", "vcpus");
	if (status == 0 && text)
		status = parse_small(ld, "vm", "vcpus", text, 1, GMEMVM_MAX_VCPUS, &out->vcpus);
	text = loader_get(ld, "vm", "guest");
	if (status == 0 && text)
		status = parse_guest(ld, text);
	text = loader_get(ld, "vm", "timeout");
	if (status == 0 && text)
		status = parse_timeout(ld, text);
	/* Use case (c)'s two designs: the notes' (the default: guest_memfd,
	 * modelled everywhere) or upstream's (a protected VM on arm64's pKVM). */
	text = loader_get(ld, "vm", "pkvm");
	if (status == 0 && text) {
		if (out->mode != MODE_PKVM)
			status = loader_fail(ld, "vm", "pkvm", "only mode pkvm has two designs");
		else if (strcmp(text, "upstream") == 0)
			out->pkvm_upstream = true;
		else if (strcmp(text, "upstream-on-guest-memfd") == 0)
			out->pkvm_upstream = out->pkvm_on_guest_memfd = true;
		else if (strcmp(text, "notes") != 0)
			status = loader_fail(ld, "vm", "pkvm",
					     "'%s' is not a design (notes, upstream or "
					     "upstream-on-guest-memfd)",
					     text);
	}
	return status;
}

/* ---- [gmem] ----------------------------------------------------------- */

/*
 * Upstream's flag names (mmap, init_shared: private unless INIT_SHARED) or
 * the design notes' (support_shared, init_private: shared unless
 * INIT_PRIVATE), one family per file, since the defaults are opposite.
 */
static int parse_flags(struct loader *ld, const char *text)
{
	struct scenario *out = ld->out;
	char list[256], *save = NULL, *item;
	bool none = false, mmap = false, init_shared = false;
	int count = 0;

	if (strlen(text) >= sizeof(list))
		return loader_fail(ld, "gmem", "flags", "too long");
	snprintf(list, sizeof(list), "%s", text);
	/* strtok_r would silently skip the empty item in "a,,b"; refuse it instead. */
	for (item = list; item; item = save) {
		bool *flag;

		save = strchr(item, ',');
		if (save)
			*save++ = '\0';
		trim(item);
		count++;
		if (!item[0])
			return loader_fail(ld, "gmem", "flags", "empty flag name in '%s'", text);
		if (strcmp(item, "none") == 0) {
			none = true;
			continue;
		}
		if (strcmp(item, "support_shared") == 0)
			flag = &out->support_shared;
		else if (strcmp(item, "init_private") == 0)
			flag = &out->init_private;
		else if (strcmp(item, "mmap") == 0)
			flag = &mmap;
		else if (strcmp(item, "init_shared") == 0)
			flag = &init_shared;
		else if (strcmp(item, "no_direct_map") == 0)
			flag = &out->no_direct_map;
		else
			return loader_fail(
				ld, "gmem", "flags",
				"unknown flag '%s' (upstream's mmap, init_shared, no_direct_map; "
				"the notes' support_shared, init_private; or none)",
				item);
		if (*flag)
			return loader_fail(ld, "gmem", "flags", "duplicate flag '%s'", item);
		*flag = true;
	}
	if (none && count > 1)
		return loader_fail(ld, "gmem", "flags",
				   "'none' cannot be combined with other flags");
	if ((mmap || init_shared) && (out->support_shared || out->init_private))
		return loader_fail(
			ld, "gmem", "flags",
			"'%s' mixes upstream's names (mmap, init_shared) with the notes' "
			"(support_shared, init_private), whose defaults are opposite: use one",
			text);
	if (init_shared && !mmap)
		return loader_fail(
			ld, "gmem", "flags",
			"init_shared needs mmap (upstream: GUEST_MEMFD_FLAG_INIT_SHARED is "
			"only valid with GUEST_MEMFD_FLAG_MMAP)");
	if (mmap) {
		out->support_shared = true;
		out->init_private = !init_shared;
	}
	return 0;
}

static int parse_gmem(struct loader *ld)
{
	const char *text = loader_get(ld, "gmem", "flags");
	int status = text ? parse_flags(ld, text) : 0;

	if (status < 0)
		return status;
	/* Secret-free VMs keep all memory shared and unmapped from the kernel:
	 * the ordinary VM of mode shared, on a file the host maps. */
	if (ld->out->no_direct_map &&
	    (!mode_info(ld->out->mode)->secret_free || !ld->out->support_shared))
		return loader_fail(
			ld, "gmem", "flags",
			"no_direct_map is for mode shared with mmap (support_shared), as "
			"secret-free VMs use it");
	text = loader_get(ld, "gmem", "userspace_addr");
	if (text) {
		if (strcmp(text, "null") == 0)
			ld->out->userspace_addr_null = true;
		else if (strcmp(text, "anonymous") == 0)
			ld->out->userspace_addr_anonymous = true;
		else if (strcmp(text, "mapped") != 0)
			return loader_fail(ld, "gmem", "userspace_addr",
					   "'%s' is not mapped, null or anonymous", text);
	}
	return 0;
}

/* ---- [steps] and [expect] checkN -------------------------------------- */

int config_split_words(char *copy, char **words, int max)
{
	int count = 0;
	char *save = NULL;

	for (char *word = strtok_r(copy, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
		if (count == max)
			return max + 1;
		words[count++] = word;
	}
	return count;
}

int loader_addr_size(struct loader *ld, const char *section, const char *key, char **words,
		     uint64_t *addr, uint64_t *size)
{
	enum num_error rc = parse_size(words[0], addr);

	if (rc != NUM_OK)
		return fail_number(ld, section, key, "address", words[0], rc);
	rc = parse_size(words[1], size);
	if (rc != NUM_OK)
		return fail_number(ld, section, key, "size", words[1], rc);
	return 0;
}

int loader_range(struct loader *ld, const char *section, const char *key, char **words,
		 uint64_t align, uint64_t *addr, uint64_t *size)
{
	const char *why = align == 8 ? "" : " (page granularity)";
	int status = loader_addr_size(ld, section, key, words, addr, size);

	if (status < 0)
		return status;
	if (*addr % align)
		return loader_fail(ld, section, key, "address %s is not %" PRIu64 "-byte aligned%s",
				   words[0], align, why);
	if (*size == 0)
		return loader_fail(ld, section, key, "size is zero");
	if (*size % align)
		return loader_fail(ld, section, key, "size %s is not %" PRIu64 "-byte aligned%s",
				   words[1], align, why);
	return 0;
}

int loader_pattern(struct loader *ld, const char *section, const char *key, const char *text,
		   uint32_t *out)
{
	uint64_t value;

	if (config_parse_plain(text, &value) != NUM_OK || value > UINT32_MAX)
		return loader_fail(ld, section, key, "pattern '%s' is not a 32-bit number", text);
	*out = (uint32_t)value;
	return 0;
}

/* ADDR SIZE PATTERN | zero | sigbus | private | shared | faults */
static int parse_check(struct loader *ld, const char *key, const char *text,
		       struct data_check *check)
{
	char copy[256], *words[CONFIG_MAX_WORDS];
	int kind;

	if (strlen(text) >= sizeof(copy))
		return loader_fail(ld, "expect", key, "value too long");
	snprintf(copy, sizeof(copy), "%s", text);
	if (config_split_words(copy, words, CONFIG_MAX_WORDS) != 3)
		return loader_fail(ld, "expect", key,
				   "expected ADDR SIZE PATTERN or ADDR SIZE "
				   "zero|sigbus|private|shared|faults, "
				   "got '%s'",
				   text);
	/* "pattern" is the kind's name, not a word of the syntax. */
	kind = vocabulary_lookup(check_kind_names, CHECK_ZERO, (int)ARRAY_SIZE(check_kind_names),
				 words[2]);
	check->kind = kind < 0 ? CHECK_PATTERN : (enum check_kind)kind;
	/* Pattern and zero compare 64-bit words; the others are per page. */
	int status =
		loader_range(ld, "expect", key, words,
			     check->kind == CHECK_PATTERN || check->kind == CHECK_ZERO ? 8 : 4096,
			     &check->addr, &check->size);
	if (status == 0 && check->kind == CHECK_PATTERN)
		status = loader_pattern(ld, "expect", key, words[2], &check->pattern);
	if (status < 0)
		return status;
	if (check->addr > ld->out->memory_size ||
	    check->size > ld->out->memory_size - check->addr) {
		char memory[32];

		config_format_size(memory, sizeof(memory), ld->out->memory_size);
		return loader_fail(ld, "expect", key,
				   "range %s + %s is outside guest RAM (memory is %s)", words[0],
				   words[1], memory);
	}
	return 0;
}

/* ---- [expect] --------------------------------------------------------- */

static int parse_outcome(struct loader *ld, const char *key, enum outcome *out)
{
	const char *text = loader_get(ld, "expect", key);
	int index;

	if (!text)
		return 0;
	/* OUTCOME_NONE is "not decided yet", never an expectation. */
	index = outcome_by_name(text);
	if (index <= OUTCOME_NONE)
		return loader_fail(ld, "expect", key,
				   "unknown outcome '%s' (done, guest-failed, emulation-refused, "
				   "cannot-run, shutdown, internal-error, fail-entry, bad-mmio, "
				   "unknown-exit, timeout, vmm-error, refused)",
				   text);
	*out = (enum outcome)index;
	return 0;
}

/* "N", ">=N" or "<=N", blanks allowed after the operator. */
static int parse_count(struct loader *ld, const char *key, const char *text,
		       struct count_expect *count)
{
	const char *number = text;
	enum num_error rc;

	count->compare = COUNT_EQ;
	if (strncmp(text, ">=", 2) == 0 || strncmp(text, "<=", 2) == 0) {
		count->compare = text[0] == '>' ? COUNT_GE : COUNT_LE;
		number += 2;
		while (*number == ' ' || *number == '\t')
			number++;
	}
	rc = config_parse_plain(number, &count->value);
	if (rc != NUM_OK)
		return loader_fail(ld, "expect", key, "count '%s' %s (use N, >=N or <=N)", text,
				   num_error_text(rc));
	return 0;
}

static int parse_expect(struct loader *ld)
{
	struct scenario *out = ld->out;
	enum outcome both = OUTCOME_NONE;
	int status = parse_outcome(ld, "exit", &both);

	if (status == 0)
		status = parse_outcome(ld, "exit.gmem-served", &out->expect_gmem_served);
	if (status == 0)
		status = parse_outcome(ld, "exit.uaddr-served", &out->expect_uaddr_served);
	if (status < 0)
		return status;
	if (both == OUTCOME_NONE &&
	    (out->expect_gmem_served == OUTCOME_NONE || out->expect_uaddr_served == OUTCOME_NONE))
		return loader_fail(
			ld, "expect", "exit",
			"missing: give exit, or both exit.gmem-served and exit.uaddr-served");
	if (out->expect_gmem_served == OUTCOME_NONE)
		out->expect_gmem_served = both;
	if (out->expect_uaddr_served == OUTCOME_NONE)
		out->expect_uaddr_served = both;

	for (int kind = 0; kind < EXIT_KIND_COUNT; kind++) {
		char key[32];
		const char *text;

		snprintf(key, sizeof(key), "exits.%s", exit_kind_name((enum exit_kind)kind));
		text = loader_get(ld, "expect", key);
		if (text && (status = parse_count(ld, key, text, &out->expect_exits[kind])) < 0)
			return status;
	}
	for (int kind = 0; kind < EVENT_COUNT; kind++) {
		const char *key = event_name((enum event_kind)kind);
		const char *text = loader_get(ld, "expect", key);

		if (text && (status = parse_count(ld, key, text, &out->expect_events[kind])) < 0)
			return status;
	}
	for (int n = 1; n <= CONFIG_MAX_CHECKS; n++) {
		char key[32];
		const char *text;

		snprintf(key, sizeof(key), "check%d", n);
		text = loader_get(ld, "expect", key);
		if (text &&
		    (status = parse_check(ld, key, text, &out->checks[out->nr_checks++])) < 0)
			return status;
	}
	return 0;
}

/* ---- Loading ---------------------------------------------------------- */

/*
 * iniparser reports syntax errors through a printf-like callback without a
 * context pointer, so the first message of a load lands in this buffer.
 */
static _Thread_local char ini_message[GMEMVM_ERROR_MESSAGE_SIZE];

__attribute__((format(printf, 1, 2))) static int capture_ini_error(const char *fmt, ...)
{
	va_list ap;

	if (ini_message[0])
		return 0;
	va_start(ap, fmt);
	vsnprintf(ini_message, sizeof(ini_message), fmt, ap);
	va_end(ap);
	return 0;
}

/*
 * Turn iniparser's "iniparser: syntax error in FILE (LINE):\n-> TEXT\n"
 * into "line LINE: syntax error: TEXT"; anything else is passed on flattened.
 */
static int fail_ini_message(struct loader *ld)
{
	const char *at = strstr(ini_message, ld->path);
	const char *arrow = strstr(ini_message, "-> ");
	int line;

	if (strstr(ini_message, "syntax error") && at &&
	    sscanf(at + strlen(ld->path), " (%d)", &line) == 1) {
		char text[256] = "";

		if (arrow) {
			snprintf(text, sizeof(text), "%s", arrow + 3);
			trim(text);
		}
		return loader_fail(ld, NULL, NULL, "line %d: syntax error: '%s'", line, text);
	}
	if (strncmp(ini_message, "iniparser: ", 11) == 0)
		memmove(ini_message, ini_message + 11, strlen(ini_message + 11) + 1);
	trim(ini_message);
	return loader_fail(ld, NULL, NULL, "%s", ini_message[0] ? ini_message : "cannot parse");
}

/* What a path that is not a regular file is, for the message. */
static const char *file_kind(mode_t mode)
{
	return S_ISDIR(mode)	? "a directory"
	       : S_ISFIFO(mode) ? "a FIFO"
	       : S_ISCHR(mode)	? "a character device"
	       : S_ISBLK(mode)	? "a block device"
	       : S_ISSOCK(mode) ? "a socket"
				: "not a regular file";
}

/* The first thing wrong with the file as text iniparser can read, or NULL:
 * iniparser would print its own message for these, or show junk raw. */
static const char *text_problem(const unsigned char *text, size_t length, int *line)
{
	size_t column = 0;
	*line = 1;
	if (length >= 3 && text[0] == 0xef && text[1] == 0xbb && text[2] == 0xbf)
		return "starts with a UTF-8 byte-order mark: save it without one";
	for (size_t i = 0; i < length; i++) {
		unsigned char c = text[i];
		if (c == '\n') {
			(*line)++;
			column = 0;
			continue;
		}
		if (++column > CONFIG_MAX_LINE)
			return "is longer than " CONFIG_MAX_LINE_TEXT " characters";
		if (c == 0)
			return "contains a NUL byte (a binary or UTF-16 file?)";
		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
			return "contains a control character: not a text file";
		if (c < 0x80)
			continue;
		/* UTF-8: a lead byte, then its continuation bytes. */
		size_t more = c >= 0xc2 && c <= 0xdf   ? 1
			      : c >= 0xe0 && c <= 0xef ? 2
			      : c >= 0xf0 && c <= 0xf4 ? 3
						       : 0;
		if (more == 0 || more >= length - i)
			return "is not UTF-8 text";
		for (size_t k = 1; k <= more; k++)
			if ((text[i + k] & 0xc0) != 0x80)
				return "is not UTF-8 text";
		i += more;
	}
	return NULL;
}

/* A readable regular text file, checked without blocking: a FIFO would hang
 * open() and /dev/zero would never end; iniparser takes a directory for an
 * empty file. */
static int check_readable(struct loader *ld)
{
	struct stat st;
	int fd = open(ld->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		int error = errno;
		const char *step =
			fd < 0 ? "open of the scenario file" : "fstat of the scenario file";
		if (fd >= 0)
			close(fd);
		return loader_failed(ld, -error, step, "cannot read: %s", strerror(error));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return loader_fail(ld, NULL, NULL, "is %s, not a scenario file",
				   file_kind(st.st_mode));
	}
	if (st.st_size > CONFIG_MAX_FILE_SIZE) {
		close(fd);
		return loader_fail(ld, NULL, NULL, "is larger than %d KiB: not a scenario file",
				   CONFIG_MAX_FILE_SIZE / 1024);
	}
	static unsigned char text[CONFIG_MAX_FILE_SIZE];
	ssize_t length = read(fd, text, sizeof(text));
	int error = errno;
	close(fd);
	if (length < 0)
		return loader_failed(ld, -error, "read of the scenario file", "cannot read: %s",
				     strerror(error));
	int line;
	const char *problem = text_problem(text, (size_t)length, &line);
	if (problem)
		return loader_fail(ld, NULL, NULL, "line %d %s", line, problem);
	return 0;
}

static int load(struct loader *ld, const char *const *overrides, int nr_overrides)
{
	struct scenario *out = ld->out;

	if (strlen(ld->path) >= sizeof(out->path))
		return loader_fail(ld, NULL, NULL, "path too long (at most %zu characters)",
				   sizeof(out->path) - 1);
	snprintf(out->path, sizeof(out->path), "%s", ld->path);
	int status = check_readable(ld);
	if (status < 0)
		return status;

	ini_message[0] = '\0';
	iniparser_set_error_callback(capture_ini_error);
	ld->dict = iniparser_load(ld->path);
	iniparser_set_error_callback(NULL);
	if (!ld->dict)
		return fail_ini_message(ld);

	status = apply_overrides(ld, overrides, nr_overrides);
	if (status == 0)
		status = check_entries(ld);
	if (status < 0)
		return status;

	out->stage = 2;
	out->memory_size = MEMORY_DEFAULT;
	out->vcpus = 1;
	out->timeout_ms = TIMEOUT_DEFAULT_MS;
	/* [vm] first: steps and checks are validated against vcpus and memory. */
	status = parse_scenario(ld);
	if (status == 0)
		status = parse_vm(ld);
	if (status == 0)
		status = parse_gmem(ld);
	if (status == 0)
		status = loader_steps(ld);
	if (status == 0)
		status = parse_expect(ld);
	return status;
}

int config_load(const char *path, const char *const *overrides, int nr_overrides,
		struct scenario *out, struct gmemvm_error *error)
{
	struct loader ld = {
		.path = path ? path : "(null)",
		.out = out,
		.error = error,
	};
	int rc;

	if (error)
		*error = (struct gmemvm_error){ 0 };
	memset(out, 0, sizeof(*out));
	if (!path)
		return loader_fail(&ld, NULL, NULL, "no scenario file given");
	if (nr_overrides < 0 || (nr_overrides > 0 && !overrides))
		return loader_fail(&ld, NULL, NULL, "bad override list");

	rc = load(&ld, overrides, nr_overrides);
	if (ld.dict)
		iniparser_freedict(ld.dict);
	if (rc)
		memset(out, 0, sizeof(*out)); /* no half-filled scenario on error */
	return rc;
}
