// SPDX-License-Identifier: MIT
#include "elf_loader.h"

#include "arch/arch.h"

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

int elf_read_file(const char *path, uint8_t **data, size_t *size, struct gmemvm_error *error)
{
	/* Without blocking, and only a regular file: a FIFO would hang open()
	 * and a device could be read forever. */
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int saved = errno;
		const char *step = fd < 0 ? "open of the guest image" : "fstat of the guest image";
		if (fd >= 0)
			close(fd);
		return gmemvm_failf(error, -saved, step, "guest %s: cannot read: %s", path,
				    strerror(saved));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return gmemvm_refuse(error, -EINVAL, "guest %s: is %s, not an ELF file", path,
				     S_ISDIR(st.st_mode)    ? "a directory"
				     : S_ISFIFO(st.st_mode) ? "a FIFO"
				     : S_ISCHR(st.st_mode)  ? "a character device"
							    : "not a regular file");
	}
	FILE *file = fdopen(fd, "rb");
	if (!file) {
		int saved = errno;
		close(fd);
		return gmemvm_failf(error, -saved, "fdopen of the guest image",
				    "guest %s: cannot read: %s", path, strerror(saved));
	}
	uint8_t *buffer = malloc(ELF_MAX_FILE_SIZE + 1);
	size_t length = buffer ? fread(buffer, 1, ELF_MAX_FILE_SIZE + 1, file) : 0;
	bool failed = !buffer || ferror(file);
	fclose(file);
	if (failed) {
		free(buffer);
		return gmemvm_failf(error, buffer ? -EIO : -ENOMEM,
				    buffer ? "read of the guest image"
					   : "malloc of the guest image",
				    "guest %s: read error", path);
	}
	if (length > ELF_MAX_FILE_SIZE) {
		free(buffer);
		return gmemvm_refuse(error, -EFBIG,
				     "guest %s: larger than the 4 MiB a guest image may be", path);
	}
	*data = buffer;
	*size = length;
	return 0;
}

/* The ELF's refusal: "malformed guest ELF: " and what is wrong, -EINVAL. */
__attribute__((format(printf, 2, 3))) static int refuse(struct gmemvm_error *error,
							const char *format, ...)
{
	char what[GMEMVM_ERROR_MESSAGE_SIZE];
	va_list args;
	va_start(args, format);
	vsnprintf(what, sizeof(what), format, args);
	va_end(args);
	return gmemvm_refuse(error, -EINVAL, "malformed guest ELF: %s", what);
}

/* [start, start + length) inside [0, limit) without overflow. */
static bool fits(uint64_t start, uint64_t length, uint64_t limit)
{
	return start <= limit && length <= limit - start;
}

int elf_parse(const uint8_t *file, size_t size, uint64_t load_min, uint64_t load_max,
	      struct elf_image *image, struct gmemvm_error *error)
{
	Elf64_Ehdr header;
	memset(image, 0, sizeof(*image));
	if (size < sizeof(header))
		return refuse(error, "%zu bytes is shorter than an ELF header", size);
	memcpy(&header, file, sizeof(header));
	if (memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
		return refuse(error, "no ELF magic");
	if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB)
		return refuse(error, "not a little-endian 64-bit ELF");
	if (header.e_machine != arch_elf_machine)
		return refuse(error, "machine %u is not %s", header.e_machine, arch_name);
	if (header.e_type != ET_EXEC)
		return refuse(error, "type %u is not a static executable (ET_EXEC)", header.e_type);
	if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phnum == 0)
		return refuse(error, "no usable program headers");
	if (!fits(header.e_phoff, (uint64_t)header.e_phnum * sizeof(Elf64_Phdr), size))
		return refuse(error, "program headers lie outside the file");

	bool entry_loaded = false;
	for (unsigned int i = 0; i < header.e_phnum; i++) {
		Elf64_Phdr segment;
		memcpy(&segment, file + header.e_phoff + i * sizeof(segment), sizeof(segment));
		if (segment.p_type != PT_LOAD || segment.p_memsz == 0)
			continue;
		if (image->nr_segments == ELF_MAX_SEGMENTS)
			return refuse(error, "more than %d loadable segments", ELF_MAX_SEGMENTS);
		if (segment.p_filesz > segment.p_memsz)
			return refuse(error, "segment %u has more file bytes than memory", i);
		if (!fits(segment.p_offset, segment.p_filesz, size))
			return refuse(error, "segment %u lies outside the file", i);
		if (segment.p_paddr < load_min || !fits(segment.p_paddr, segment.p_memsz, load_max))
			return refuse(error,
				      "segment %u at %#" PRIx64 "+%#" PRIx64
				      " is outside the guest image window %#" PRIx64 "-%#" PRIx64,
				      i, (uint64_t)segment.p_paddr, (uint64_t)segment.p_memsz,
				      load_min, load_max);
		for (int j = 0; j < image->nr_segments; j++) {
			const struct elf_segment *other = &image->segments[j];
			if (segment.p_paddr < other->gpa + other->memory_size &&
			    other->gpa < segment.p_paddr + segment.p_memsz)
				return refuse(error, "segment %u overlaps another", i);
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
		return refuse(error, "no loadable segments");
	if (!entry_loaded)
		return refuse(error, "entry point %#" PRIx64 " is not in executable code",
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
