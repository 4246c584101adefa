// SPDX-License-Identifier: MIT
#include "vocabulary.h"

#include <string.h>

static const char *const outcome_names[OUTCOME_COUNT] = {
	[OUTCOME_NONE] = "none",
	[OUTCOME_DONE] = "done",
	[OUTCOME_GUEST_FAILED] = "guest-failed",
	[OUTCOME_EMULATION_REFUSED] = "emulation-refused",
	[OUTCOME_CANNOT_RUN] = "cannot-run",
	[OUTCOME_SHUTDOWN] = "shutdown",
	[OUTCOME_INTERNAL_ERROR] = "internal-error",
	[OUTCOME_FAIL_ENTRY] = "fail-entry",
	[OUTCOME_BAD_MMIO] = "bad-mmio",
	[OUTCOME_UNKNOWN_EXIT] = "unknown-exit",
	[OUTCOME_TIMEOUT] = "timeout",
	[OUTCOME_VMM_ERROR] = "vmm-error",
	[OUTCOME_REFUSED] = "refused",
	[OUTCOME_INTERRUPTED] = "interrupted",
	[OUTCOME_RECLAIMED] = "reclaimed",
};

static const char *const exit_kind_names[EXIT_KIND_COUNT] = {
	[EXIT_KIND_IO] = "io",
	[EXIT_KIND_MMIO] = "mmio",
	[EXIT_KIND_HLT] = "hlt",
	[EXIT_KIND_SHUTDOWN] = "shutdown",
	[EXIT_KIND_FAIL_ENTRY] = "fail-entry",
	[EXIT_KIND_INTERNAL_ERROR] = "internal-error",
	[EXIT_KIND_MEMORY_FAULT] = "memory-fault",
	[EXIT_KIND_HYPERCALL] = "hypercall",
	[EXIT_KIND_MAP_GPA_RANGE] = "map-gpa-range",
	[EXIT_KIND_UNKNOWN] = "unknown",
};

static const char *const event_names[EVENT_COUNT] = {
	[EVENT_MEMORY_FAULTS] = "memory-faults",
	[EVENT_TO_SHARED] = "conversions.to-shared",
	[EVENT_TO_PRIVATE] = "conversions.to-private",
	[EVENT_BY_FAULT] = "conversions.by-fault",
	[EVENT_BY_HYPERCALL] = "conversions.by-hypercall",
	[EVENT_HYPERCALLS_REFUSED] = "hypercalls.refused",
	[EVENT_EAGAIN] = "conversions.eagain",
	[EVENT_RETRIES] = "conversions.retried",
	[EVENT_ALREADY_DONE] = "conversions.already-done",
};

const char *vocabulary_name(const char *const *names, size_t count, unsigned int index)
{
	return index < count && names[index] ? names[index] : "?";
}

int vocabulary_lookup(const char *const *names, int first, int count, const char *name)
{
	for (int i = first; i < count; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *outcome_name(enum outcome outcome)
{
	return vocabulary_name(outcome_names, OUTCOME_COUNT, (unsigned int)outcome);
}

const char *exit_kind_name(enum exit_kind kind)
{
	return vocabulary_name(exit_kind_names, EXIT_KIND_COUNT, (unsigned int)kind);
}

const char *event_name(enum event_kind kind)
{
	return vocabulary_name(event_names, EVENT_COUNT, (unsigned int)kind);
}

int outcome_by_name(const char *name)
{
	return vocabulary_lookup(outcome_names, 0, OUTCOME_COUNT, name);
}

int exit_kind_by_name(const char *name)
{
	return vocabulary_lookup(exit_kind_names, 0, EXIT_KIND_COUNT, name);
}

int event_by_name(const char *name)
{
	return vocabulary_lookup(event_names, 0, EVENT_COUNT, name);
}
