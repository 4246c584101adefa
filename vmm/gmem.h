/* SPDX-License-Identifier: MIT */
/*
 * The guest_memfd object: create it with the notes' flags, map it into the
 * VMM, check a userspace_addr against it and bind it to a memslot.
 *
 * Names: the notes' SUPPORT_SHARED is upstream GUEST_MEMFD_FLAG_MMAP; the
 * notes' INIT_PRIVATE is upstream's default, and its absence is upstream
 * GUEST_MEMFD_FLAG_INIT_SHARED (DESIGN.md, "Names").
 */
#ifndef GMEMVM_GMEM_H
#define GMEMVM_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gmem {
	int fd;
	uint64_t size;
	bool support_shared; /* the notes' GUEST_MEMFD_FLAG_SUPPORT_SHARED */
	bool init_private;   /* the notes' GUEST_MEMFD_FLAG_INIT_PRIVATE */
	uint64_t kernel_flags;
	uint8_t *host_view; /* MAP_SHARED mapping of the whole file, or NULL */
};

/* The upstream flags that give the notes' semantics. */
uint64_t gmem_kernel_flags(bool support_shared, bool init_private);

/*
 * Create a guest_memfd of size bytes on vm_fd. supported_flags is what
 * KVM_CAP_GUEST_MEMFD_FLAGS reported; a flag the kernel lacks is refused
 * here with the fix in err rather than as a bare EINVAL from the kernel.
 */
int gmem_create(struct gmem *gmem, int vm_fd, uint64_t size, bool support_shared,
		bool init_private, uint64_t supported_flags, char *err, size_t err_size);

/* mmap the whole file MAP_SHARED (only SUPPORT_SHARED files can be mapped). */
int gmem_map(struct gmem *gmem, char *err, size_t err_size);

/*
 * The notes' stage-1 binding rule: a non-NULL userspace_addr must map the same
 * guest_memfd at the same offset over the whole range. Checked against
 * /proc/self/maps (maps_path, so tests can feed their own). 0 when it does.
 */
int gmem_check_userspace_addr(const struct gmem *gmem, uint64_t offset, uint64_t userspace_addr,
			      uint64_t size, const char *maps_path, char *err, size_t err_size);

/*
 * Bind [offset, offset + size) of the file to guest-physical gpa in memslot
 * slot with KVM_SET_USER_MEMORY_REGION2 and KVM_MEM_GUEST_MEMFD, after the
 * userspace_addr check (skipped for userspace_addr 0, the notes' opt-out).
 * Returns 0, GMEM_REFUSED when the notes' rule refused userspace_addr, or
 * -1 when the kernel refused the memslot.
 */
#define GMEM_REFUSED (-2)
int gmem_bind(const struct gmem *gmem, int vm_fd, uint32_t slot, uint64_t gpa, uint64_t offset,
	      uint64_t size, uint64_t userspace_addr, char *err, size_t err_size);

/* fallocate(PUNCH_HOLE): the next access to the range sees zeroes. */
int gmem_punch_hole(const struct gmem *gmem, uint64_t offset, uint64_t size);

void gmem_destroy(struct gmem *gmem);

#endif
