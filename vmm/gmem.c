// SPDX-License-Identifier: MIT
#include "gmem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kvm.h"

uint64_t gmem_kernel_flags(bool support_shared, bool init_private)
{
	uint64_t flags = 0;
	if (support_shared)
		flags |= GUEST_MEMFD_FLAG_MMAP;
	/* Upstream only knows INIT_SHARED, and only together with MMAP. */
	if (support_shared && !init_private)
		flags |= GUEST_MEMFD_FLAG_INIT_SHARED;
	return flags;
}

int gmem_create(struct gmem *gmem, int vm_fd, uint64_t size, bool support_shared,
		bool init_private, uint64_t supported_flags, char *err, size_t err_size)
{
	memset(gmem, 0, sizeof(*gmem));
	gmem->fd = -1;
	gmem->size = size;
	gmem->support_shared = support_shared;
	gmem->init_private = init_private;
	gmem->kernel_flags = gmem_kernel_flags(support_shared, init_private);

	uint64_t missing = gmem->kernel_flags & ~supported_flags;
	if (missing) {
		snprintf(err, err_size,
			 "this kernel's guest_memfd lacks flag%s %s%s (KVM_CAP_GUEST_MEMFD_FLAGS = "
			 "%#" PRIx64 "): run on Linux 6.18 or later",
			 (missing & (missing - 1)) ? "s" : "",
			 (missing & GUEST_MEMFD_FLAG_MMAP) ? "GUEST_MEMFD_FLAG_MMAP " : "",
			 (missing & GUEST_MEMFD_FLAG_INIT_SHARED) ? "GUEST_MEMFD_FLAG_INIT_SHARED" : "",
			 supported_flags);
		return -1;
	}
	gmem->fd = kvm_create_guest_memfd(vm_fd, size, gmem->kernel_flags);
	if (gmem->fd < 0) {
		snprintf(err, err_size, "KVM_CREATE_GUEST_MEMFD(size %#" PRIx64 ", flags %#" PRIx64
			 ") failed: %s", size, gmem->kernel_flags, strerror(errno));
		return -1;
	}
	return 0;
}

int gmem_map(struct gmem *gmem, char *err, size_t err_size)
{
	void *view = mmap(NULL, gmem->size, PROT_READ | PROT_WRITE, MAP_SHARED, gmem->fd, 0);
	if (view == MAP_FAILED) {
		snprintf(err, err_size, "mmap of guest_memfd (flags %#" PRIx64 ") failed: %s%s",
			 gmem->kernel_flags, strerror(errno),
			 gmem->support_shared ? "" : " (only SUPPORT_SHARED guest_memfd can be mapped)");
		return -1;
	}
	gmem->host_view = view;
	return 0;
}

/* One line of /proc/self/maps that the check needs. */
struct maps_entry {
	uint64_t start, end, offset, inode;
	unsigned int dev_major, dev_minor;
};

static bool parse_maps_line(const char *line, struct maps_entry *entry)
{
	char perms[8];
	unsigned long long start, end, offset, inode;
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &offset,
		   &entry->dev_major, &entry->dev_minor, &inode) != 7)
		return false;
	entry->start = start;
	entry->end = end;
	entry->offset = offset;
	entry->inode = inode;
	return true;
}

int gmem_check_userspace_addr(const struct gmem *gmem, uint64_t offset, uint64_t userspace_addr,
			      uint64_t size, const char *maps_path, char *err, size_t err_size)
{
	struct stat st;
	if (fstat(gmem->fd, &st) < 0) {
		snprintf(err, err_size, "fstat of guest_memfd failed: %s", strerror(errno));
		return -1;
	}
	FILE *maps = fopen(maps_path, "re");
	if (!maps) {
		snprintf(err, err_size, "cannot read %s to check userspace_addr: %s", maps_path,
			 strerror(errno));
		return -1;
	}
	/* Walk the mappings in address order, requiring each byte of the range
	 * to be covered by this file at the matching file offset. */
	uint64_t cursor = userspace_addr, end = userspace_addr + size;
	char line[512];
	while (cursor < end && fgets(line, sizeof(line), maps)) {
		struct maps_entry entry;
		if (!parse_maps_line(line, &entry) || entry.end <= cursor)
			continue;
		if (entry.start > cursor)
			break;
		bool same_file = entry.inode == st.st_ino && entry.dev_major == major(st.st_dev) &&
				 entry.dev_minor == minor(st.st_dev);
		uint64_t file_offset = entry.offset + (cursor - entry.start);
		if (!same_file || file_offset != offset + (cursor - userspace_addr)) {
			snprintf(err, err_size,
				 "userspace_addr %#" PRIx64 " + %#" PRIx64 " maps %s at %#" PRIx64
				 ", not this guest_memfd at offset %#" PRIx64
				 " (design notes, stage 1: userspace_addr must refer to the same "
				 "folio as fd+offset)",
				 userspace_addr, cursor - userspace_addr,
				 same_file ? "this guest_memfd" : "another file or anonymous memory",
				 same_file ? file_offset : entry.offset,
				 offset + (cursor - userspace_addr));
			fclose(maps);
			return -1;
		}
		cursor = entry.end;
	}
	fclose(maps);
	if (cursor < end) {
		snprintf(err, err_size,
			 "userspace_addr %#" PRIx64 " + %#" PRIx64 " is not mapped (design notes, "
			 "stage 1: userspace_addr must refer to the same folio as fd+offset)",
			 userspace_addr, cursor - userspace_addr);
		return -1;
	}
	return 0;
}

int gmem_bind(const struct gmem *gmem, int vm_fd, uint32_t slot, uint64_t gpa, uint64_t offset,
	      uint64_t size, uint64_t userspace_addr, char *err, size_t err_size)
{
	if (userspace_addr &&
	    gmem_check_userspace_addr(gmem, offset, userspace_addr, size, "/proc/self/maps", err,
				      err_size) < 0)
		return GMEM_REFUSED;
	if (kvm_set_memory_region2(vm_fd, slot, KVM_MEM_GUEST_MEMFD, gpa, size, userspace_addr,
				   gmem->fd, offset) < 0) {
		snprintf(err, err_size,
			 "KVM_SET_USER_MEMORY_REGION2(slot %u, gpa %#" PRIx64 ", size %#" PRIx64
			 ", guest_memfd offset %#" PRIx64 ") failed: %s",
			 slot, gpa, size, offset, strerror(errno));
		return -1;
	}
	return 0;
}

int gmem_punch_hole(const struct gmem *gmem, uint64_t offset, uint64_t size)
{
	return fallocate(gmem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
			 (off_t)size);
}

void gmem_destroy(struct gmem *gmem)
{
	if (gmem->host_view)
		munmap(gmem->host_view, gmem->size);
	if (gmem->fd >= 0)
		close(gmem->fd);
	gmem->host_view = NULL;
	gmem->fd = -1;
}
