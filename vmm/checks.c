// SPDX-License-Identifier: MIT
#include "checks.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "gmem.h"
#include "gmemvm_abi.h"

/* The pattern p whose word at gpa is word, if there is one: a word is
 * p * 0x100000001 ^ gpa * K (gmemvm_pattern_word), so both halves of
 * word ^ gpa * K are p. */
static bool pattern_of_word(uint64_t word, uint64_t gpa, uint32_t *pattern)
{
	uint64_t mixed = word ^ gmemvm_pattern_word(0, gpa);
	*pattern = (uint32_t)mixed;
	return (uint32_t)(mixed >> 32) == *pattern;
}

/* In the scenario's terms: which pattern the host found, or zeroes, or
 * bytes that are no pattern's word at that address. */
static void describe_word_mismatch(const struct data_check *check, uint64_t gpa, uint64_t word,
				   char *detail, size_t size)
{
	char want[48], found[64];
	uint32_t pattern;
	if (check->kind == CHECK_ZERO)
		snprintf(want, sizeof(want), "zeroes");
	else
		snprintf(want, sizeof(want), "pattern %#x", check->pattern);
	if (word == 0)
		snprintf(found, sizeof(found), "zeroes");
	else if (pattern_of_word(word, gpa, &pattern))
		snprintf(found, sizeof(found), "pattern %#x", pattern);
	else
		snprintf(found, sizeof(found), "%#" PRIx64 ", no pattern's word", word);
	snprintf(detail, size, "at %#" PRIx64 " the host reads %s, expected %s", gpa, found, want);
}

static void check_pattern(struct memmap *memory, const struct data_check *check,
			  struct check_result *result)
{
	/* Copied a page at a time through memmap_read, which refuses what the
	 * host may not see and, on a protected VM, catches the hypervisor's fault. */
	uint8_t page[GMEM_PAGE_SIZE];
	result->passed = true;
	snprintf(result->detail, sizeof(result->detail), "%#" PRIx64 "+%#" PRIx64 " as expected",
		 check->addr, check->size);
	for (uint64_t done = 0; result->passed && done < check->size; done += sizeof(page)) {
		uint64_t left = check->size - done;
		size_t chunk = sizeof(page);
		if (left < chunk)
			chunk = (size_t)left;
		if (memmap_read(memory, check->addr + done, page, chunk) < 0) {
			result->passed = false;
			snprintf(result->detail, sizeof(result->detail),
				 "%#" PRIx64 "+%#" PRIx64 " not visible to the host (private, or "
				 "outside RAM)",
				 check->addr + done, chunk);
			return;
		}
		for (size_t offset = 0; offset + 8 <= chunk; offset += 8) {
			uint64_t gpa = check->addr + done + offset, word;
			uint64_t want = check->kind == CHECK_ZERO
						? 0
						: gmemvm_pattern_word(check->pattern, gpa);
			memcpy(&word, page + offset, sizeof(word));
			if (word != want) {
				result->passed = false;
				describe_word_mismatch(check, gpa, word, result->detail,
						       sizeof(result->detail));
				return;
			}
		}
	}
}

/* Every page must fault for the host: with the kernel's SIGBUS (sigbus), or
 * as this memory faults (faults: SIGSEGV on a protected VM). */
static void check_faults(struct memmap *memory, const struct data_check *check,
			 struct check_result *result)
{
	int want = check->kind == CHECK_SIGBUS || !memory->protected_vm ? SIGBUS : SIGSEGV;
	const char *by = want == SIGBUS ? "the kernel" : "pKVM's hypervisor";
	const uint8_t *view = memory->host_view;
	result->passed = false;
	if (!view || check->addr + check->size > memory->ram_size) {
		snprintf(result->detail, sizeof(result->detail),
			 "%#" PRIx64 "+%#" PRIx64 ": no host view of it", check->addr, check->size);
		return;
	}
	result->passed = true;
	snprintf(result->detail, sizeof(result->detail),
		 "%#" PRIx64 "+%#" PRIx64 ": every host read got %s from %s", check->addr,
		 check->size, want == SIGBUS ? "SIGBUS" : "SIGSEGV", by);
	for (uint64_t offset = 0; result->passed && offset < check->size;
	     offset += GMEM_PAGE_SIZE) {
		int signal_number = gmem_host_read_signal(view + check->addr + offset);
		if (signal_number != want) {
			result->passed = false;
			snprintf(result->detail, sizeof(result->detail),
				 "host read at %#" PRIx64 " %s", check->addr + offset,
				 signal_number ? strsignal(signal_number) : "succeeded");
		}
	}
}

static void check_state(struct memmap *memory, const struct data_check *check,
			struct check_result *result)
{
	bool want_private = check->kind == CHECK_PRIVATE;
	bool private = memmap_is_private(memory, check->addr, check->size);
	bool shared = memmap_lookup(memory, check->addr, check->size) != NULL;
	result->passed = want_private ? private : shared;
	char picture[65] = "";
	if (check->addr < memory->ram_size)
		memmap_render(memory, check->addr, check->size, picture, 32);
	snprintf(result->detail, sizeof(result->detail),
		 "%#" PRIx64 "+%#" PRIx64 " is [%s], expected all %s", check->addr, check->size,
		 picture, want_private ? "private" : "shared");
}

void checks_run(struct memmap *memory, const struct scenario *scenario, struct run_report *report)
{
	for (int i = 0; i < scenario->nr_checks; i++) {
		const struct data_check *check = &scenario->checks[i];
		switch (check->kind) {
		case CHECK_PATTERN:
		case CHECK_ZERO:
			check_pattern(memory, check, &report->checks[i]);
			break;
		case CHECK_SIGBUS:
		case CHECK_FAULTS:
			check_faults(memory, check, &report->checks[i]);
			break;
		case CHECK_PRIVATE:
		case CHECK_SHARED:
			check_state(memory, check, &report->checks[i]);
			break;
		}
	}
}
