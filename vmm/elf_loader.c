// SPDX-License-Identifier: MIT
#include "elf_loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int elf_read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t err_size)
{
	/* Without blocking, and only a regular file: a FIFO would hang open()
	 * and a device could be read forever. */
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, err_size, "guest %s: cannot read: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "guest %s: is %s, not an ELF file", path,
			 S_ISDIR(st.st_mode)	? "a directory"
			 : S_ISFIFO(st.st_mode) ? "a FIFO"
			 : S_ISCHR(st.st_mode)	? "a character device"
						: "not a regular file");
		close(fd);
		return -1;
	}
	FILE *file = fdopen(fd, "rb");
	if (!file) {
		snprintf(err, err_size, "guest %s: cannot read: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	uint8_t *buffer = malloc(ELF_MAX_FILE_SIZE + 1);
	size_t length = buffer ? fread(buffer, 1, ELF_MAX_FILE_SIZE + 1, file) : 0;
	bool failed = !buffer || ferror(file);
	fclose(file);
	if (failed || length > ELF_MAX_FILE_SIZE) {
		snprintf(err, err_size, "guest %s: %s", path,
			 failed ? "read error" : "larger than the 4 MiB a guest image may be");
		free(buffer);
		return -1;
	}
	*data = buffer;
	*size = length;
	return 0;
}

__attribute__((format(printf, 3, 4))) static int refuse(char *err, size_t err_size,
							const char *format, ...)
{
	va_list args;
	va_start(args, format);
	int used = snprintf(err, err_size, "malformed guest ELF: ");
	if (used > 0 && (size_t)used < err_size)
		vsnprintf(err + used, err_size - (size_t)used, format, args);
	va_end(args);
	return -1;
}

/* [start, start + length) inside [0, limit) without overflow. */
static bool fits(uint64_t start, uint64_t length, uint64_t limit)
{
	return start <= limit && length <= limit - start;
}

int elf_parse(const uint8_t *file, size_t size, uint64_t load_min, uint64_t load_max,
	      struct elf_image *image, char *err, size_t err_size)
{
	Elf64_Ehdr header;
	memset(image, 0, sizeof(*image));
	if (size < sizeof(header))
		return refuse(err, err_size, "%zu bytes is shorter than an ELF header", size);
	memcpy(&header, file, sizeof(header));
	if (memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
		return refuse(err, err_size, "no ELF magic");
	if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB)
		return refuse(err, err_size, "not a little-endian 64-bit ELF");
	if (header.e_machine != EM_X86_64)
		return refuse(err, err_size, "machine %u is not x86-64", header.e_machine);
	if (header.e_type != ET_EXEC)
		return refuse(err, err_size, "type %u is not a static executable (ET_EXEC)",
			      header.e_type);
	if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phnum == 0)
		return refuse(err, err_size, "no usable program headers");
	if (!fits(header.e_phoff, (uint64_t)header.e_phnum * sizeof(Elf64_Phdr), size))
		return refuse(err, err_size, "program headers lie outside the file");

	bool entry_loaded = false;
	for (unsigned int i = 0; i < header.e_phnum; i++) {
		Elf64_Phdr segment;
		memcpy(&segment, file + header.e_phoff + i * sizeof(segment), sizeof(segment));
		if (segment.p_type != PT_LOAD || segment.p_memsz == 0)
			continue;
		if (image->nr_segments == ELF_MAX_SEGMENTS)
			return refuse(err, err_size, "more than %d loadable segments",
				      ELF_MAX_SEGMENTS);
		if (segment.p_filesz > segment.p_memsz)
			return refuse(err, err_size, "segment %u has more file bytes than memory",
				      i);
		if (!fits(segment.p_offset, segment.p_filesz, size))
			return refuse(err, err_size, "segment %u lies outside the file", i);
		if (segment.p_paddr < load_min || !fits(segment.p_paddr, segment.p_memsz, load_max))
			return refuse(err, err_size,
				      "segment %u at %#" PRIx64 "+%#" PRIx64
				      " is outside the guest image window %#" PRIx64 "-%#" PRIx64,
				      i, (uint64_t)segment.p_paddr, (uint64_t)segment.p_memsz,
				      load_min, load_max);
		for (int j = 0; j < image->nr_segments; j++) {
			const struct elf_segment *other = &image->segments[j];
			if (segment.p_paddr < other->gpa + other->memory_size &&
			    other->gpa < segment.p_paddr + segment.p_memsz)
				return refuse(err, err_size, "segment %u overlaps another", i);
		}
		if ((segment.p_flags & PF_X) && header.e_entry >= segment.p_paddr &&
		    header.e_entry < segment.p_paddr + segment.p_memsz)
			entry_loaded = true;
		image->segments[image->nr_segments++] = (struct elf_segment){
			.gpa = segment.p_paddr,
			.file_offset = segment.p_offset,
			.file_size = segment.p_filesz,
			.memory_size = segment.p_memsz,
		};
	}
	if (image->nr_segments == 0)
		return refuse(err, err_size, "no loadable segments");
	if (!entry_loaded)
		return refuse(err, err_size, "entry point %#" PRIx64 " is not in executable code",
			      (uint64_t)header.e_entry);
	image->entry = header.e_entry;
	return 0;
}

void elf_copy(const struct elf_image *image, const uint8_t *file, uint8_t *window,
	      uint64_t window_gpa)
{
	for (int i = 0; i < image->nr_segments; i++) {
		const struct elf_segment *segment = &image->segments[i];
		uint8_t *target = window + (segment->gpa - window_gpa);
		memcpy(target, file + segment->file_offset, segment->file_size);
		memset(target + segment->file_size, 0, segment->memory_size - segment->file_size);
	}
}

uint64_t elf_image_end(const struct elf_image *image)
{
	uint64_t end = 0;
	for (int i = 0; i < image->nr_segments; i++) {
		const struct elf_segment *segment = &image->segments[i];
		if (segment->gpa + segment->memory_size > end)
			end = segment->gpa + segment->memory_size;
	}
	return end;
}
