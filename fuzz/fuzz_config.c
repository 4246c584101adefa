// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the scenario loader (vmm/config.c).
 *
 * Input: the INI file's bytes, optionally followed by a NUL byte and up to
 * four NUL-separated "section.key=value" overrides (gmemvm run --set).
 * The file is written into one temporary file per process, unlinked at once
 * and reached through /proc/self/fd/N, so no file is left behind, even when
 * the fuzzer stops on a crash.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define MAX_OVERRIDES 4

static int scenario_fd = -1;
static char scenario_path[64];

static void setup(void)
{
	const char *dir = getenv("TMPDIR");
	char template[4096];

	snprintf(template, sizeof(template), "%s/gmemvm-fuzz-config-XXXXXX",
		 dir && dir[0] ? dir : "/tmp");
	scenario_fd = mkstemp(template);
	if (scenario_fd < 0) {
		perror("fuzz_config: mkstemp");
		abort();
	}
	unlink(template);
	snprintf(scenario_path, sizeof(scenario_path), "/proc/self/fd/%d", scenario_fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scenario scenario; /* large: keep it off the stack */
	struct gmemvm_error error;
	const char *overrides[MAX_OVERRIDES];
	int nr_overrides = 0;

	if (scenario_fd < 0)
		setup();

	/* The file is everything before the first NUL byte. */
	const uint8_t *nul = memchr(data, '\0', size);
	size_t file_size = nul ? (size_t)(nul - data) : size;

	if (pwrite(scenario_fd, data, file_size, 0) != (ssize_t)file_size ||
	    ftruncate(scenario_fd, (off_t)file_size) != 0) {
		perror("fuzz_config: rewriting the scenario file");
		abort();
	}

	/* What follows: NUL-separated overrides, each its own heap copy so
	 * ASan sees reads past its end. */
	char *copies[MAX_OVERRIDES] = { 0 };
	if (nul) {
		const uint8_t *at = nul + 1, *end = data + size;
		while (at < end && nr_overrides < MAX_OVERRIDES) {
			const uint8_t *next = memchr(at, '\0', (size_t)(end - at));
			size_t length = next ? (size_t)(next - at) : (size_t)(end - at);
			copies[nr_overrides] = strndup((const char *)at, length);
			if (!copies[nr_overrides])
				abort();
			overrides[nr_overrides] = copies[nr_overrides];
			nr_overrides++;
			at += length + 1;
		}
	}

	int rc = config_load(scenario_path, overrides, nr_overrides, &scenario, &error);
	/* The contract: a negative errno with a one-line message, or 0 with a
	 * valid scenario. */
	if (rc > 0 || (rc < 0 && error.code != rc))
		abort();
	if (rc < 0 && (error.message[0] == '\0' ||
		       memchr(error.message, '\0', sizeof(error.message)) == NULL ||
		       strchr(error.message, '\n')))
		abort();
	if (rc == 0 &&
	    (scenario.vcpus < 1 || scenario.nr_steps < 0 || scenario.nr_steps > CONFIG_MAX_STEPS ||
	     scenario.nr_checks < 0 || scenario.nr_checks > CONFIG_MAX_CHECKS ||
	     scenario.memory_size < CONFIG_MIN_MEMORY || scenario.memory_size > CONFIG_MAX_MEMORY))
		abort();

	for (int i = 0; i < nr_overrides; i++)
		free(copies[i]);
	return 0;
}
