/* SPDX-License-Identifier: MIT */
/*
 * The scenario loader's insides, shared by its two files and by nothing
 * else: config.c reads the file, its sections, [scenario], [vm], [gmem] and
 * [expect]; config_steps.c reads [steps]. Both refuse a bad value the same
 * way (loader_fail: one line naming the file, section and key, -EINVAL) and
 * read numbers, words and ranges with the same helpers. Every helper returns
 * 0 or the negative errno of the first refusal, which its caller passes on.
 */
#ifndef GMEMVM_CONFIG_LOADER_H
#define GMEMVM_CONFIG_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <iniparser.h>

#include "config.h"
#include "error.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The most blank-separated words a [steps] or [expect] value may have. */
#define CONFIG_MAX_WORDS 8

/* One config_load() call. */
struct loader {
	const char *path;
	dictionary *dict;
	struct scenario *out;
	struct gmemvm_error *error; /* the caller's; may be NULL */
	/* "section:key" of every --set, so a bad value can say where it came from */
	char set_keys[CONFIG_MAX_OVERRIDES][128];
	int nr_set_keys;
};

/*
 * Refuse the file: "FILE: [section] key: message" into ld->error (refused)
 * and return -EINVAL. section and key may be NULL for errors about the whole
 * file.
 */
__attribute__((format(printf, 4, 5))) int loader_fail(struct loader *ld, const char *section,
						      const char *key, const char *fmt, ...);

/* The value of [section] key, or NULL. */
const char *loader_get(const struct loader *ld, const char *section, const char *key);

/* ADDR and SIZE of a step or check (words[0] and words[1]): numbers with K/M/G. */
int loader_addr_size(struct loader *ld, const char *section, const char *key, char **words,
		     uint64_t *addr, uint64_t *size);

/*
 * ADDR and SIZE of a write, verify or check: align-byte aligned (8 for the
 * 64-bit pattern words, 4096 for page-granular checks), size not 0.
 */
int loader_range(struct loader *ld, const char *section, const char *key, char **words,
		 uint64_t align, uint64_t *addr, uint64_t *size);

/* A 32-bit PATTERN. */
int loader_pattern(struct loader *ld, const char *section, const char *key, const char *text,
		   uint32_t *out);

/* [steps]: step1..stepN, in ascending N, into ld->out (config_steps.c). */
int loader_steps(struct loader *ld);

enum num_error {
	NUM_OK,
	NUM_NOT_NUMBER,
	NUM_NEGATIVE,
	NUM_TRAILING,
	NUM_OVERFLOW
};

/* A plain number (no suffix), and nothing after it. */
enum num_error config_parse_plain(const char *text, uint64_t *out);

/* "16M", "1G", "64K" when exact, else bytes; for messages. */
void config_format_size(char *buf, size_t size, uint64_t value);

/* Split a copy of text into blank-separated words; returns the count (max + 1 if more). */
int config_split_words(char *copy, char **words, int max);

#endif
