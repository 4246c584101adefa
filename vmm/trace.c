// SPDX-License-Identifier: MIT
#include "trace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct trace_sink {
	FILE *out;
	uint64_t limit;
	atomic_uint_fast64_t lines;
};

static ssize_t trace_write(void *cookie, const char *buffer, size_t size)
{
	struct trace_sink *sink = cookie;
	/* stdio hands over whole lines (line-buffered); count them. */
	for (const char *line = buffer, *end = buffer + size; line < end;) {
		const char *newline = memchr(line, '\n', (size_t)(end - line));
		size_t length = newline ? (size_t)(newline - line) + 1 : (size_t)(end - line);
		uint64_t number = atomic_fetch_add(&sink->lines, 1) + 1;
		if (number <= sink->limit)
			fwrite(line, 1, length, sink->out);
		else if (number == sink->limit + 1)
			fprintf(sink->out,
				"trace: limit of %" PRIu64 " lines reached; later events "
				"are counted in the report but not printed (--trace-limit)\n",
				sink->limit);
		line += length;
	}
	fflush(sink->out);
	return (ssize_t)size;
}

static int trace_close(void *cookie)
{
	free(cookie);
	return 0;
}

FILE *trace_open(FILE *out, uint64_t limit)
{
	struct trace_sink *sink = calloc(1, sizeof(*sink));
	if (!sink)
		return NULL;
	sink->out = out;
	sink->limit = limit;
	cookie_io_functions_t functions = { .write = trace_write, .close = trace_close };
	FILE *stream = fopencookie(sink, "w", functions);
	if (!stream) {
		free(sink);
		return NULL;
	}
	/* A buffer of its own now: no allocation later on a sandboxed thread. */
	static char buffer[1 << 14];
	setvbuf(stream, buffer, _IOLBF, sizeof(buffer));
	return stream;
}

int trace_parse_categories(const char *list, unsigned int *mask, struct gmemvm_error *error)
{
	static const struct {
		const char *name;
		unsigned int category;
	} names[] = {
		{ "exits", TRACE_EXITS },
		{ "faults", TRACE_FAULTS },
		{ "conversions", TRACE_CONVERSIONS },
		{ "hypercalls", TRACE_HYPERCALLS },
		{ "all", TRACE_ALL },
	};
	*mask = 0;
	const char *word = list;
	while (*word) {
		size_t length = strcspn(word, ",");
		bool known = false;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == length &&
			    !strncmp(word, names[i].name, length)) {
				*mask |= names[i].category;
				known = true;
			}
		if (!known)
			return gmemvm_refuse(
				error, -EINVAL,
				"--trace=%s: unknown '%.*s' (exits, faults, conversions, "
				"hypercalls, all)",
				list, (int)length, word);
		word += length + (word[length] == ',');
	}
	if (!*mask)
		return gmemvm_refuse(error, -EINVAL,
				     "--trace=%s: name what to trace (exits, faults, conversions, "
				     "hypercalls, all)",
				     list);
	return 0;
}
