// SPDX-License-Identifier: MIT
/*
 * Unit tests of the guest loader (vmm/elf_loader.c). The real guest must
 * parse and copy into place; every malformed variant of a tiny ELF built
 * here must be refused with a message that says what is wrong. The same
 * variants live as files in tests/bad-elf/ (GMEMVM_WRITE_CORPUS=1 rewrites
 * them), so the file path through elf_read_file is exercised too.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/arch.h"
#include "elf_loader.h"
#include "gmemvm_abi.h"

#ifndef TESTS_DIR
#define TESTS_DIR "tests"
#endif
#ifndef GUEST_ELF
#define GUEST_ELF "gmemvm-guest.elf"
#endif

#define CORPUS_DIR TESTS_DIR "/bad-elf"
#define MALFORMED  "malformed guest ELF"
#define WINDOW_MIN GMEMVM_IMAGE_GPA
#define WINDOW_MAX GMEMVM_DATA_GPA

/*
 * The tiny valid ELF: header, room for ELF_MAX_SEGMENTS + 1 program headers
 * (only the first is used; the rest are PT_NULL until a mutation fills them)
 * and a few code bytes. Its one segment is R+X at IMAGE_GPA with .bss after
 * the code, and the entry is its first byte.
 */
#define TINY_PHDRS	 (ELF_MAX_SEGMENTS + 1)
#define TINY_CODE_OFFSET (sizeof(Elf64_Ehdr) + TINY_PHDRS * sizeof(Elf64_Phdr))
#define TINY_MEMSZ	 0x100
#define TINY_MAX	 (TINY_CODE_OFFSET + 64)

static const uint8_t tiny_code[] = {
	0xfa,		  /* cli */
	0xf4,		  /* hlt */
	0xeb, 0xfc,	  /* jmp cli */
	0x90, 0x90, 0x90, /* nop padding, so bytes are recognisable */
	0xcc,		  /* int3 */
};

struct tiny {
	uint8_t bytes[TINY_MAX];
	size_t size;
};

static Elf64_Ehdr *ehdr(struct tiny *t)
{
	return (Elf64_Ehdr *)t->bytes;
}

static Elf64_Phdr *phdr(struct tiny *t, int i)
{
	return (Elf64_Phdr *)(t->bytes + sizeof(Elf64_Ehdr)) + i;
}

/* The machine tiny_build writes: this build's, but x86-64 for the committed
 * corpus, which is one set of files for both architectures. */
static Elf64_Half tiny_machine;

static void tiny_build(struct tiny *t)
{
	memset(t, 0, sizeof(*t));
	Elf64_Ehdr *h = ehdr(t);
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_EXEC;
	h->e_machine = tiny_machine;
	h->e_version = EV_CURRENT;
	h->e_entry = WINDOW_MIN;
	h->e_phoff = sizeof(Elf64_Ehdr);
	h->e_ehsize = sizeof(Elf64_Ehdr);
	h->e_phentsize = sizeof(Elf64_Phdr);
	h->e_phnum = 1;

	Elf64_Phdr *p = phdr(t, 0);
	p->p_type = PT_LOAD;
	p->p_flags = PF_R | PF_X;
	p->p_offset = TINY_CODE_OFFSET;
	p->p_vaddr = p->p_paddr = WINDOW_MIN;
	p->p_filesz = sizeof(tiny_code);
	p->p_memsz = TINY_MEMSZ;
	p->p_align = 0x1000;

	memcpy(t->bytes + TINY_CODE_OFFSET, tiny_code, sizeof(tiny_code));
	t->size = TINY_CODE_OFFSET + sizeof(tiny_code);
}

/* Copy segment 0 into slot i at gpa (same file bytes, distinct memory). */
static void tiny_add_segment(struct tiny *t, int i, uint64_t gpa)
{
	*phdr(t, i) = *phdr(t, 0);
	phdr(t, i)->p_vaddr = phdr(t, i)->p_paddr = gpa;
	ehdr(t)->e_phnum = (Elf64_Half)(i + 1);
}

/* ---- The malformed variants: one mutation each of the tiny ELF. ---- */

static void m_empty(struct tiny *t)
{
	t->size = 0;
}

static void m_short(struct tiny *t)
{
	t->size = sizeof(Elf64_Ehdr) - 1;
}

static void m_bad_magic(struct tiny *t)
{
	ehdr(t)->e_ident[EI_MAG1] = 'X';
}

static void m_class32(struct tiny *t)
{
	ehdr(t)->e_ident[EI_CLASS] = ELFCLASS32;
}

static void m_big_endian(struct tiny *t)
{
	ehdr(t)->e_ident[EI_DATA] = ELFDATA2MSB;
}

static void m_wrong_machine(struct tiny *t)
{
	/* RISC-V: wrong on every architecture gmemvm runs on */
	ehdr(t)->e_machine = EM_RISCV;
}

static void m_shared_object(struct tiny *t)
{
	ehdr(t)->e_type = ET_DYN;
}

static void m_bad_phentsize(struct tiny *t)
{
	ehdr(t)->e_phentsize = sizeof(Elf32_Phdr);
}

static void m_zero_phnum(struct tiny *t)
{
	ehdr(t)->e_phnum = 0;
}

/* The table starts inside the file but its last entry runs past the end. */
static void m_phdrs_beyond_file(struct tiny *t)
{
	ehdr(t)->e_phoff = t->size - sizeof(Elf64_Phdr) / 2;
}

/* e_phoff near UINT64_MAX: e_phoff + table size wraps around. */
static void m_phoff_overflow(struct tiny *t)
{
	ehdr(t)->e_phoff = UINT64_MAX - 8;
}

static void m_filesz_over_memsz(struct tiny *t)
{
	phdr(t, 0)->p_filesz = TINY_MEMSZ + 1;
}

static void m_segment_beyond_file(struct tiny *t)
{
	phdr(t, 0)->p_offset = t->size - sizeof(tiny_code) / 2;
}

/* p_offset + p_filesz wraps around to a small number. */
static void m_offset_overflow(struct tiny *t)
{
	phdr(t, 0)->p_offset = UINT64_MAX - 2;
}

static void m_below_window(struct tiny *t)
{
	phdr(t, 0)->p_paddr = WINDOW_MIN - 0x1000;
	ehdr(t)->e_entry = phdr(t, 0)->p_paddr;
}

static void m_above_window(struct tiny *t)
{
	phdr(t, 0)->p_paddr = WINDOW_MAX;
	ehdr(t)->e_entry = phdr(t, 0)->p_paddr;
}

/* Starts in the window, its .bss runs past the end. */
static void m_straddles_window(struct tiny *t)
{
	phdr(t, 0)->p_paddr = WINDOW_MAX - TINY_MEMSZ / 2;
	ehdr(t)->e_entry = phdr(t, 0)->p_paddr;
}

/* Starts in the window, but p_paddr + p_memsz wraps around to below it. */
static void m_memsz_overflow(struct tiny *t)
{
	phdr(t, 0)->p_memsz = UINT64_MAX - 0xfff;
}

static void m_paddr_overflow(struct tiny *t)
{
	phdr(t, 0)->p_paddr = UINT64_MAX - 0xf;
	ehdr(t)->e_entry = phdr(t, 0)->p_paddr;
}

static void m_overlapping(struct tiny *t)
{
	tiny_add_segment(t, 1, WINDOW_MIN + TINY_MEMSZ / 2);
}

/* The second segment ends inside the first: caught whichever comes first. */
static void m_overlapping_below(struct tiny *t)
{
	phdr(t, 0)->p_paddr = WINDOW_MIN + 0x1000;
	ehdr(t)->e_entry = phdr(t, 0)->p_paddr;
	tiny_add_segment(t, 1, WINDOW_MIN + 0x1000 - TINY_MEMSZ / 2);
}

static void m_too_many_segments(struct tiny *t)
{
	for (int i = 1; i <= ELF_MAX_SEGMENTS; i++)
		tiny_add_segment(t, i, WINDOW_MIN + (uint64_t)i * 0x1000);
}

static void m_no_load(struct tiny *t)
{
	phdr(t, 0)->p_type = PT_NOTE;
}

/* A PT_LOAD with p_memsz 0 loads nothing, so it does not count either. */
static void m_only_empty_load(struct tiny *t)
{
	phdr(t, 0)->p_filesz = 0;
	phdr(t, 0)->p_memsz = 0;
}

/* One byte past the end of the only segment. */
static void m_entry_outside(struct tiny *t)
{
	ehdr(t)->e_entry = WINDOW_MIN + TINY_MEMSZ;
}

/* Inside a loaded segment, but one that is not executable. */
static void m_entry_not_executable(struct tiny *t)
{
	phdr(t, 0)->p_flags = PF_R | PF_W;
}

/* Entry in a data segment, the executable one elsewhere. */
static void m_entry_in_data(struct tiny *t)
{
	tiny_add_segment(t, 1, WINDOW_MIN + 0x1000);
	phdr(t, 1)->p_flags = PF_R | PF_W;
	ehdr(t)->e_entry = WINDOW_MIN + 0x1000;
}

struct bad_elf {
	const char *name; /* also the corpus file name, without ".elf" */
	void (*mutate)(struct tiny *t);
	const char *word; /* what the refusal must say */
};

#define BAD(n, w)            \
	{                    \
#n, m_##n, w \
	}

static const struct bad_elf bad_elves[] = {
	BAD(empty, "0 bytes is shorter than an ELF header"),
	BAD(short, "63 bytes is shorter than an ELF header"),
	BAD(bad_magic, "no ELF magic"),
	BAD(class32, "not a little-endian 64-bit ELF"),
	BAD(big_endian, "not a little-endian 64-bit ELF"),
	BAD(wrong_machine, "is not "),
	BAD(shared_object, "not a static executable"),
	BAD(bad_phentsize, "no usable program headers"),
	BAD(zero_phnum, "no usable program headers"),
	BAD(phdrs_beyond_file, "program headers lie outside the file"),
	BAD(phoff_overflow, "program headers lie outside the file"),
	BAD(filesz_over_memsz, "segment 0 has more file bytes than memory"),
	BAD(segment_beyond_file, "segment 0 lies outside the file"),
	BAD(offset_overflow, "segment 0 lies outside the file"),
	BAD(below_window, "outside the guest image window"),
	BAD(above_window, "outside the guest image window"),
	BAD(straddles_window, "outside the guest image window"),
	BAD(memsz_overflow, "outside the guest image window"),
	BAD(paddr_overflow, "outside the guest image window"),
	BAD(overlapping, "segment 1 overlaps another"),
	BAD(overlapping_below, "segment 1 overlaps another"),
	BAD(too_many_segments, "more than 8 loadable segments"),
	BAD(no_load, "no loadable segments"),
	BAD(only_empty_load, "no loadable segments"),
	BAD(entry_outside, "is not in executable code"),
	BAD(entry_not_executable, "is not in executable code"),
	BAD(entry_in_data, "is not in executable code"),
};

#define NR_BAD (sizeof(bad_elves) / sizeof(bad_elves[0]))

static void bad_build(const struct bad_elf *bad, struct tiny *t)
{
	tiny_build(t);
	bad->mutate(t);
	assert_true(t->size <= sizeof(t->bytes));
}

/*
 * Parse from an exactly sized heap copy, so a read past the end is a read
 * past the allocation (valgrind / ASan would see it), and check that a
 * failure is a refusal whose code is the one returned and whose message is
 * a terminated string.
 */
static int parse_copy(const uint8_t *bytes, size_t size, uint64_t min, uint64_t max,
		      struct elf_image *image, struct gmemvm_error *error)
{
	uint8_t *copy = malloc(size ? size : 1);
	assert_non_null(copy);
	memcpy(copy, bytes, size);
	memset(error, 'x', sizeof(*error));
	int rc = elf_parse(copy, size, min, max, image, error);
	free(copy);
	if (rc < 0) {
		assert_int_equal(error->code, rc);
		assert_true(error->refused);
		assert_non_null(memchr(error->message, '\0', sizeof(error->message)));
	}
	return rc;
}

/* ---- The tiny ELF itself is valid. ---- */

static void test_tiny_elf_parses(void **state)
{
	(void)state;
	struct tiny t;
	struct elf_image image;
	struct gmemvm_error error = { 0 };

	tiny_build(&t);
	assert_int_equal(parse_copy(t.bytes, t.size, WINDOW_MIN, WINDOW_MAX, &image, &error), 0);
	assert_int_equal(image.entry, WINDOW_MIN);
	assert_int_equal(image.nr_segments, 1);
	assert_int_equal(image.segments[0].gpa, WINDOW_MIN);
	assert_int_equal(image.segments[0].file_offset, TINY_CODE_OFFSET);
	assert_int_equal(image.segments[0].file_size, sizeof(tiny_code));
	assert_int_equal(image.segments[0].memory_size, TINY_MEMSZ);
}

/* The window is half-open: a segment may end exactly at load_max. */
static void test_segment_ending_at_window_end_is_accepted(void **state)
{
	(void)state;
	struct tiny t;
	struct elf_image image;
	struct gmemvm_error error = { 0 };

	tiny_build(&t);
	phdr(&t, 0)->p_paddr = WINDOW_MAX - TINY_MEMSZ;
	ehdr(&t)->e_entry = WINDOW_MAX - TINY_MEMSZ;
	assert_int_equal(parse_copy(t.bytes, t.size, WINDOW_MIN, WINDOW_MAX, &image, &error), 0);
	phdr(&t, 0)->p_memsz++;
	assert_int_equal(parse_copy(t.bytes, t.size, WINDOW_MIN, WINDOW_MAX, &image, &error),
			 -EINVAL);
	assert_non_null(strstr(error.message, "window"));
}

/* Adjacent segments touch but do not overlap; ELF_MAX_SEGMENTS is allowed. */
static void test_max_adjacent_segments_are_accepted(void **state)
{
	(void)state;
	struct tiny t;
	struct elf_image image;
	struct gmemvm_error error = { 0 };

	tiny_build(&t);
	for (int i = 1; i < ELF_MAX_SEGMENTS; i++)
		tiny_add_segment(&t, i, WINDOW_MIN + (uint64_t)i * TINY_MEMSZ);
	assert_int_equal(parse_copy(t.bytes, t.size, WINDOW_MIN, WINDOW_MAX, &image, &error), 0);
	assert_int_equal(image.nr_segments, ELF_MAX_SEGMENTS);
}

/* elf_copy writes the file bytes at the GPA and zero-fills up to p_memsz only. */
static void test_tiny_elf_copy_zeroes_bss(void **state)
{
	(void)state;
	struct tiny t;
	struct elf_image image;
	struct gmemvm_error error = { 0 };
	size_t ram_size = WINDOW_MAX;
	uint8_t *ram = malloc(ram_size);

	assert_non_null(ram);
	memset(ram, 0xa5, ram_size);
	tiny_build(&t);
	assert_int_equal(parse_copy(t.bytes, t.size, WINDOW_MIN, WINDOW_MAX, &image, &error), 0);
	elf_copy(&image, t.bytes, ram, 0);
	assert_memory_equal(ram + WINDOW_MIN, tiny_code, sizeof(tiny_code));
	for (size_t i = sizeof(tiny_code); i < TINY_MEMSZ; i++)
		assert_int_equal(ram[WINDOW_MIN + i], 0);
	assert_int_equal(ram[WINDOW_MIN - 1], 0xa5);
	assert_int_equal(ram[WINDOW_MIN + TINY_MEMSZ], 0xa5);
	free(ram);
}

/* ---- The real guest. ---- */

static uint8_t *guest;
static size_t guest_size;

static int load_guest(void **state)
{
	(void)state;
	struct gmemvm_error error = { 0 };
	if (elf_read_file(GUEST_ELF, &guest, &guest_size, &error) < 0) {
		print_error("%s\n", error.message);
		return -1;
	}
	return 0;
}

static int free_guest(void **state)
{
	(void)state;
	free(guest);
	guest = NULL;
	return 0;
}

static void test_guest_parses_in_image_window(void **state)
{
	(void)state;
	struct elf_image image;
	struct gmemvm_error error = { 0 };

	assert_int_equal(elf_parse(guest, guest_size, WINDOW_MIN, WINDOW_MAX, &image, &error), 0);
	assert_true(image.nr_segments >= 1);
	for (int i = 0; i < image.nr_segments; i++) {
		const struct elf_segment *s = &image.segments[i];
		assert_true(s->gpa >= WINDOW_MIN);
		assert_true(s->gpa + s->memory_size <= WINDOW_MAX);
		assert_true(s->file_size <= s->memory_size);
	}
}

/* Check against the program headers directly: elf_image keeps no flags. */
static void test_guest_entry_in_executable_segment(void **state)
{
	(void)state;
	struct elf_image image;
	struct gmemvm_error error = { 0 };
	Elf64_Ehdr h;
	int found = 0;

	assert_int_equal(elf_parse(guest, guest_size, WINDOW_MIN, WINDOW_MAX, &image, &error), 0);
	memcpy(&h, guest, sizeof(h));
	assert_int_equal(image.entry, h.e_entry);
	for (int i = 0; i < h.e_phnum; i++) {
		Elf64_Phdr p;
		memcpy(&p, guest + h.e_phoff + (size_t)i * sizeof(p), sizeof(p));
		if (p.p_type == PT_LOAD && (p.p_flags & PF_X) && h.e_entry >= p.p_paddr &&
		    h.e_entry < p.p_paddr + p.p_memsz)
			found++;
	}
	assert_int_equal(found, 1);
}

static void test_guest_copy_places_bytes_and_zeroes_bss(void **state)
{
	(void)state;
	struct elf_image image;
	struct gmemvm_error error = { 0 };
	uint8_t *ram = malloc(WINDOW_MAX);
	int with_bss = 0;

	assert_non_null(ram);
	memset(ram, 0xa5, WINDOW_MAX);
	assert_int_equal(elf_parse(guest, guest_size, WINDOW_MIN, WINDOW_MAX, &image, &error), 0);
	elf_copy(&image, guest, ram, 0);
	for (int i = 0; i < image.nr_segments; i++) {
		const struct elf_segment *s = &image.segments[i];
		assert_memory_equal(ram + s->gpa, guest + s->file_offset, s->file_size);
		for (uint64_t b = s->file_size; b < s->memory_size; b++)
			assert_int_equal(ram[s->gpa + b], 0);
		with_bss += s->memory_size > s->file_size;
	}
	/* The guest has a .bss; without one this test would prove nothing. */
	assert_true(with_bss > 0);
	/* Nothing below the window was touched. */
	assert_int_equal(ram[WINDOW_MIN - 1], 0xa5);
	assert_int_equal(ram[0], 0xa5);
	free(ram);
}

/* A window that leaves out part of the guest refuses it. */
static void test_guest_refused_by_smaller_window(void **state)
{
	(void)state;
	struct elf_image image;
	struct gmemvm_error error = { 0 };

	assert_int_equal(
		elf_parse(guest, guest_size, WINDOW_MIN + 0x1000, WINDOW_MAX, &image, &error),
		-EINVAL);
	assert_non_null(strstr(error.message, MALFORMED));
	assert_non_null(strstr(error.message, "outside the guest image window"));
}

/* ---- Malformed input, one cmocka test per variant. ---- */

static void test_malformed(void **state)
{
	const struct bad_elf *bad = *state;
	struct tiny t;
	struct elf_image image;
	struct gmemvm_error error = { 0 };

	bad_build(bad, &t);
	assert_int_equal(parse_copy(t.bytes, t.size, WINDOW_MIN, WINDOW_MAX, &image, &error),
			 -EINVAL);
	print_message("  %s: %s\n", bad->name, error.message);
	assert_non_null(strstr(error.message, MALFORMED));
	assert_non_null(strstr(error.message, bad->word));
	/* The entry is only set once the whole file has been accepted. */
	assert_int_equal(image.entry, 0);
}

/* A malformed file is a refusal (-EINVAL), not a failed call: no step. */
static void test_malformed_is_a_refusal(void **state)
{
	(void)state;
	struct tiny t;
	struct elf_image image;
	struct gmemvm_error error = { 0 };

	tiny_build(&t);
	m_bad_magic(&t);
	assert_int_equal(elf_parse(t.bytes, t.size, WINDOW_MIN, WINDOW_MAX, &image, &error),
			 -EINVAL);
	assert_int_equal(error.code, -EINVAL);
	assert_true(error.refused);
	assert_string_equal(gmemvm_error_step(&error), "");
	assert_string_equal(error.message, MALFORMED ": no ELF magic");
}

/* ---- elf_read_file. ---- */

static void test_read_missing_file(void **state)
{
	(void)state;
	const char *path = TESTS_DIR "/no-such-guest.elf";
	uint8_t *data = NULL;
	size_t size = 0;
	struct gmemvm_error error = { 0 };

	assert_int_equal(elf_read_file(path, &data, &size, &error), -ENOENT);
	/* A call that failed, not a refusal: the step names it. */
	assert_false(error.refused);
	assert_string_equal(gmemvm_error_step(&error), "open of the guest image");
	assert_null(data);
	assert_non_null(strstr(error.message, path));
	assert_non_null(strstr(error.message, "No such file"));
}

static void make_sized_file(char *path, size_t path_size, off_t size)
{
	snprintf(path, path_size, "/tmp/gmemvm-elf-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0); /* sparse: no 4 MiB written */
	close(fd);
}

static void test_read_file_over_limit(void **state)
{
	(void)state;
	char path[64];
	uint8_t *data = NULL;
	size_t size = 0;
	struct gmemvm_error error = { 0 };

	make_sized_file(path, sizeof(path), (off_t)ELF_MAX_FILE_SIZE + 1);
	int rc = elf_read_file(path, &data, &size, &error);
	unlink(path);
	assert_int_equal(rc, -EFBIG);
	assert_true(error.refused);
	assert_null(data);
	assert_non_null(strstr(error.message, path));
	assert_non_null(strstr(error.message, "larger than"));
}

/* Exactly the limit is still read, whole. */
static void test_read_file_at_limit(void **state)
{
	(void)state;
	char path[64];
	uint8_t *data = NULL;
	size_t size = 0;
	struct gmemvm_error error = { 0 };

	make_sized_file(path, sizeof(path), (off_t)ELF_MAX_FILE_SIZE);
	int rc = elf_read_file(path, &data, &size, &error);
	unlink(path);
	assert_int_equal(rc, 0);
	assert_non_null(data);
	assert_int_equal(size, ELF_MAX_FILE_SIZE);
	free(data);
}

/* A directory is refused by name, not as "read error". */
static void test_read_directory(void **state)
{
	(void)state;
	uint8_t *data = NULL;
	size_t size = 0;
	struct gmemvm_error error = { 0 };

	assert_int_equal(elf_read_file(TESTS_DIR, &data, &size, &error), -EINVAL);
	assert_null(data);
	assert_non_null(strstr(error.message, TESTS_DIR));
	assert_non_null(strstr(error.message, "is a directory, not an ELF file"));
}

/* Special files are refused at once: a FIFO used to hang in open() and a
 * device to be read until the size limit. */
static void test_read_special_files(void **state)
{
	(void)state;
	uint8_t *data = NULL;
	size_t size = 0;
	struct gmemvm_error error = { 0 };
	char directory[] = "/tmp/gmemvm-elf-fifo-XXXXXX", fifo[64];

	assert_non_null(mkdtemp(directory));
	snprintf(fifo, sizeof(fifo), "%s/guest.elf", directory);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(elf_read_file(fifo, &data, &size, &error), -EINVAL);
	assert_non_null(strstr(error.message, "is a FIFO, not an ELF file"));
	unlink(fifo);
	rmdir(directory);
	assert_int_equal(elf_read_file("/dev/zero", &data, &size, &error), -EINVAL);
	assert_non_null(strstr(error.message, "is a character device"));
	assert_null(data);
}

/* ---- The corpus in tests/bad-elf. ---- */

static void corpus_path(char *path, size_t size, const char *name)
{
	int n = snprintf(path, size, "%s/%s.elf", CORPUS_DIR, name);
	assert_true(n > 0 && (size_t)n < size);
}

/* With GMEMVM_WRITE_CORPUS=1, (re)write tests/bad-elf from bad_elves[]. */
static void test_write_corpus(void **state)
{
	(void)state;
	const char *flag = getenv("GMEMVM_WRITE_CORPUS");
	if (!flag || strcmp(flag, "1") != 0)
		return;
	if (mkdir(CORPUS_DIR, 0755) < 0)
		assert_int_equal(errno, EEXIST);
	tiny_machine = EM_X86_64;
	for (size_t i = 0; i < NR_BAD; i++) {
		struct tiny t;
		char path[512];
		bad_build(&bad_elves[i], &t);
		corpus_path(path, sizeof(path), bad_elves[i].name);
		FILE *file = fopen(path, "wb");
		assert_non_null(file);
		assert_int_equal(fwrite(t.bytes, 1, t.size, file), t.size);
		assert_int_equal(fclose(file), 0);
	}
	tiny_machine = (Elf64_Half)arch_elf_machine;
	print_message("  wrote %zu files to %s\n", NR_BAD, CORPUS_DIR);
}

/* Every file in the corpus is refused, by the reader or the parser. */
static void test_corpus_all_refused(void **state)
{
	(void)state;
	DIR *dir = opendir(CORPUS_DIR);
	struct dirent *entry;
	int files = 0;

	if (!dir)
		fail_msg("%s: %s (run with GMEMVM_WRITE_CORPUS=1 once to create it)", CORPUS_DIR,
			 strerror(errno));
	while ((entry = readdir(dir))) {
		char path[512];
		uint8_t *data = NULL;
		size_t size = 0;
		struct gmemvm_error error = { 0 };
		struct elf_image image;

		if (entry->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, entry->d_name);
		files++;
		if (elf_read_file(path, &data, &size, &error) == 0) {
			/* Each defect on this build's machine, not only x86-64's. */
			Elf64_Half machine = (Elf64_Half)arch_elf_machine, corpus = EM_X86_64;
			if (size >= sizeof(Elf64_Ehdr) &&
			    !memcmp(data + offsetof(Elf64_Ehdr, e_machine), &corpus,
				    sizeof(corpus)))
				memcpy(data + offsetof(Elf64_Ehdr, e_machine), &machine,
				       sizeof(machine));
			int rc = elf_parse(data, size, WINDOW_MIN, WINDOW_MAX, &image, &error);
			free(data);
			if (rc != -EINVAL)
				fail_msg("%s was accepted", path);
			assert_non_null(strstr(error.message, MALFORMED));
		}
		assert_true(error.message[0] != '\0');
	}
	closedir(dir);
	assert_true(files >= 10);
}

/* The files match the generator, so the corpus cannot silently go stale. */
static void test_corpus_matches_generator(void **state)
{
	(void)state;
	tiny_machine = EM_X86_64;
	for (size_t i = 0; i < NR_BAD; i++) {
		struct tiny t;
		char path[512];
		uint8_t *data = NULL;
		size_t size = 0;
		struct gmemvm_error error = { 0 };

		bad_build(&bad_elves[i], &t);
		corpus_path(path, sizeof(path), bad_elves[i].name);
		if (elf_read_file(path, &data, &size, &error) < 0)
			fail_msg("%s (GMEMVM_WRITE_CORPUS=1 regenerates the corpus)",
				 error.message);
		assert_int_equal(size, t.size);
		assert_memory_equal(data, t.bytes, size);
		free(data);
	}
	tiny_machine = (Elf64_Half)arch_elf_machine;
}

int main(void)
{
	tiny_machine = (Elf64_Half)arch_elf_machine;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tiny_elf_parses),
		cmocka_unit_test(test_segment_ending_at_window_end_is_accepted),
		cmocka_unit_test(test_max_adjacent_segments_are_accepted),
		cmocka_unit_test(test_tiny_elf_copy_zeroes_bss),
		cmocka_unit_test_setup_teardown(test_guest_parses_in_image_window, load_guest,
						free_guest),
		cmocka_unit_test_setup_teardown(test_guest_entry_in_executable_segment, load_guest,
						free_guest),
		cmocka_unit_test_setup_teardown(test_guest_copy_places_bytes_and_zeroes_bss,
						load_guest, free_guest),
		cmocka_unit_test_setup_teardown(test_guest_refused_by_smaller_window, load_guest,
						free_guest),
		cmocka_unit_test(test_malformed_is_a_refusal),
		cmocka_unit_test(test_read_missing_file),
		cmocka_unit_test(test_read_file_over_limit),
		cmocka_unit_test(test_read_file_at_limit),
		cmocka_unit_test(test_read_directory),
		cmocka_unit_test(test_read_special_files),
		cmocka_unit_test(test_write_corpus),
		cmocka_unit_test(test_corpus_all_refused),
		cmocka_unit_test(test_corpus_matches_generator),
	};
	struct CMUnitTest malformed[NR_BAD];
	char names[NR_BAD][64];

	/* One named test per malformed variant, so a failure says which. */
	for (size_t i = 0; i < NR_BAD; i++) {
		snprintf(names[i], sizeof(names[i]), "test_malformed_%s", bad_elves[i].name);
		malformed[i] = (struct CMUnitTest){
			.name = names[i],
			.test_func = test_malformed,
			.initial_state = (void *)&bad_elves[i],
		};
	}
	int failed = _cmocka_run_group_tests("malformed", malformed, NR_BAD, NULL, NULL);
	return failed + cmocka_run_group_tests(tests, NULL, NULL);
}
