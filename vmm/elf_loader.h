/* SPDX-License-Identifier: MIT */
/*
 * The guest loader: a static x86-64 ELF executable whose PT_LOAD segments
 * must lie inside a window of guest-physical memory. Every field is checked
 * before anything is copied, so a malformed file is refused, never loaded.
 */
#ifndef GMEMVM_ELF_H
#define GMEMVM_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ELF_MAX_SEGMENTS  8
#define ELF_MAX_FILE_SIZE (4U << 20)

struct elf_segment {
	uint64_t gpa;
	uint64_t file_offset, file_size, memory_size;
};

struct elf_image {
	uint64_t entry;
	struct elf_segment segments[ELF_MAX_SEGMENTS];
	int nr_segments;
};

/* Read a whole file (at most ELF_MAX_FILE_SIZE). The caller frees *data.
 * 0, or a negative errno with "guest PATH: ..." in error: the errno of the
 * call that failed (open, fstat, fdopen; -EIO for a read error, -ENOMEM), or
 * a refusal, -EINVAL for a file that is not a regular one and -EFBIG for one
 * above ELF_MAX_FILE_SIZE. */
int elf_read_file(const char *path, uint8_t **data, size_t *size, struct gmemvm_error *error);

/* Validate file and describe its segments; they must fit in [load_min, load_max).
 * 0, or -EINVAL refused with "malformed guest ELF: ..." in error. */
int elf_parse(const uint8_t *file, size_t size, uint64_t load_min, uint64_t load_max,
	      struct elf_image *image, struct gmemvm_error *error);

/* Copy the segments into window, a buffer holding guest-physical
 * [window_gpa, window_gpa + window size) that covers the load window passed
 * to elf_parse, zeroing .bss. */
void elf_copy(const struct elf_image *image, const uint8_t *file, uint8_t *window,
	      uint64_t window_gpa);

/* The first guest-physical address above every segment (.bss included). */
uint64_t elf_image_end(const struct elf_image *image);

#endif
