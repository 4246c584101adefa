/* SPDX-License-Identifier: MIT */
/*
 * The guest_memfd object as the design notes define it (docs/design.md; stages 1
 * and 2): flags SUPPORT_SHARED and INIT_PRIVATE, per-page shareability (ALL
 * = shared with the host, GUEST = private), CONVERT_SHARED/CONVERT_PRIVATE,
 * host mmap that faults with SIGBUS on GUEST pages, and hole punching that
 * zeroes the pages for every view.
 *
 * One interface, two implementations (docs/design.md, "Native or modelled"):
 * where the kernel has upstream's in-place conversion (KVM_SET_MEMORY_ATTRIBUTES2
 * on the guest_memfd fd), gmem_set_attributes() calls it; where it does not,
 * this file models the same call, with the same struct, checks, errors and
 * semantics (docs/upstream.md), on the kernel's own pieces: the content stays
 * in a real guest_memfd, and the host view of a GUEST page is a never-shared
 * guest_memfd mapped over it, so the SIGBUS comes from the kernel. Callers
 * above do not know which one served them.
 *
 * Names: SUPPORT_SHARED is upstream GUEST_MEMFD_FLAG_MMAP; INIT_PRIVATE is
 * upstream's default, its absence GUEST_MEMFD_FLAG_INIT_SHARED.
 *
 * Not thread-safe for one range: memmap reserves a range before converting
 * it, so two conversions of the same pages never meet here, while
 * conversions of disjoint ranges may run at once (docs/design.md, "Locking").
 */
#ifndef GMEMVM_GMEM_H
#define GMEMVM_GMEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "kvm_abi.h"
#include "shareability.h"

#define GMEM_PAGE_SIZE 4096ULL
#define GMEM_MAX_HOLDS 16
/* A hold is a pipe full of page references; 1 MiB is the pipe size any user may set. */
#define GMEM_MAX_HOLD_SIZE (1ULL << 20)
/* EAGAIN answers after which the VMM gives up: its own holds are gone after the first. */
#define GMEM_EAGAIN_RETRIES 3

/* A reference the VMM holds on shared pages, as a device doing DMA would. */
struct gmem_hold {
	int pipe[2]; /* the spliced pages; -1 = unused */
	uint64_t offset, size;
};

/* What the conversion call met: EAGAIN answers, retries, holds dropped for them. */
struct gmem_stats {
	uint64_t eagain, retries, holds_released;
};

struct gmem {
	int fd; /* the kernel's guest_memfd, bound to memslots */
	uint64_t size;
	bool support_shared;   /* the notes' GUEST_MEMFD_FLAG_SUPPORT_SHARED */
	bool init_private;     /* the notes' GUEST_MEMFD_FLAG_INIT_PRIVATE */
	uint64_t kernel_flags; /* what the kernel was given */
	bool model;	       /* shareability modelled here (the kernel lacks it) */
	struct shareability_map shareability;
	int content_fd;	       /* where page contents live: fd, or a memfd stand-in */
	int sigbus_fd;	       /* model: never-shared guest_memfd behind GUEST pages */
	uint8_t *host_view;    /* MAP_SHARED view that honours shareability, or NULL */
	uint8_t *content_view; /* model only: every page, for KVM's stand-in views */
	/* The model's third check: upstream converts only on VM types with
	 * private memory. The notes convert in modes shared and pkvm too, so
	 * gmem_create sets it for the model; the kernel decides natively. */
	bool vm_has_private_memory;
	struct gmem_hold holds[GMEM_MAX_HOLDS];
	struct gmem_stats stats;
	uint64_t last_busy_offset; /* error_offset of the EAGAIN the VMM gave up on */
	/* The lock of the object that owns this file (the memory map's), or
	 * NULL. When set, callers of the conversion calls hold it with their
	 * range reserved, and the call drops it around its kernel calls, so
	 * that conversions of other ranges proceed meanwhile (docs/design.md,
	 * "Locking"); the state, the holds and the counters change only under it. */
	pthread_mutex_t *owner_lock;
};

/* An object that owns nothing yet (gmem_destroy on it is a no-op). */
void gmem_init(struct gmem *gmem);

/* The upstream flags that give the notes' semantics on a kernel with them. */
uint64_t gmem_kernel_flags(bool support_shared, bool init_private);

/*
 * Create a guest_memfd of size bytes on vm_fd. supported_flags is what
 * KVM_CAP_GUEST_MEMFD_FLAGS reported. With model set, shareability is kept
 * here: a SUPPORT_SHARED file is created MMAP|INIT_SHARED so its pages can
 * back the views, and a file without SUPPORT_SHARED gets a memfd stand-in
 * for its contents (this KVM reads guest memory through userspace_addr, and
 * such a file cannot be mapped). Refuses INIT_PRIVATE without SUPPORT_SHARED
 * (-EINVAL, as the notes define INIT_PRIVATE for mappable files only). 0, or
 * a negative errno with the sentence in error: -EOPNOTSUPP when the kernel
 * lacks a flag, else the errno of the call that failed, named as the step.
 */
int gmem_create(struct gmem *gmem, int vm_fd, uint64_t size, bool support_shared, bool init_private,
		uint64_t supported_flags, bool model, struct gmemvm_error *error);
/* The same with upstream flags the notes do not have (GUEST_MEMFD_FLAG_NO_DIRECT_MAP),
 * which the model cannot stand in for: refused where the kernel lacks them. */
int gmem_create_with_flags(struct gmem *gmem, int vm_fd, uint64_t size, bool support_shared,
			   bool init_private, uint64_t extra_flags, uint64_t supported_flags,
			   bool model, struct gmemvm_error *error);

/* The errno a host mmap with these flags gets: ENODEV without SUPPORT_SHARED,
 * EINVAL for anything but MAP_SHARED; 0 when it would succeed. */
int gmem_mmap_errno(const struct gmem *gmem, int map_flags);

/* mmap the whole file MAP_SHARED for the host, GUEST pages faulting SIGBUS.
 * 0, or a negative errno (-ENODEV without SUPPORT_SHARED) with error. */
int gmem_map(struct gmem *gmem, struct gmemvm_error *error);

/*
 * The notes' stage-1 binding rule: a non-NULL userspace_addr must map the same
 * guest_memfd at the same offset over the whole range. Checked against
 * /proc/self/maps (maps_path, so tests can feed their own). 0 when it does;
 * -EINVAL refused (the rule's words in error) when it does not; the errno of
 * the fstat or fopen that failed.
 */
int gmem_check_userspace_addr(const struct gmem *gmem, uint64_t offset, uint64_t userspace_addr,
			      uint64_t size, const char *maps_path, struct gmemvm_error *error);

/*
 * Bind [offset, offset + size) of the file to guest-physical gpa in memslot
 * slot with KVM_SET_USER_MEMORY_REGION2 and KVM_MEM_GUEST_MEMFD, after the
 * userspace_addr check when check_userspace_addr is set and userspace_addr is
 * not 0 (the notes' opt-out). Returns 0; -EINVAL with error->refused when the
 * notes' rule refused userspace_addr (error->message quotes it); or the
 * negative errno of the call that failed (the check's reading of the maps,
 * or the kernel's), error->message naming it.
 */
int gmem_bind(const struct gmem *gmem, int vm_fd, uint32_t slot, uint64_t gpa, uint64_t offset,
	      uint64_t size, uint64_t userspace_addr, bool check_userspace_addr,
	      struct gmemvm_error *error);

/*
 * KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd (notes: CONVERT_SHARED with
 * attributes 0, CONVERT_PRIVATE with KVM_MEMORY_ATTRIBUTE_PRIVATE): the
 * kernel's call, or the model's with the same checks in the same order.
 * Returns 0 or a negative errno: -EINVAL (flags, reserved, VM type, unknown
 * attributes, empty/overflowing/unaligned/past-the-end range, in that order),
 * -EAGAIN with request->error_offset at the first referenced page (to private
 * only; the host mappings are torn down even then), -ENOTTY on a kernel
 * without the call. A range already so returns 0 at once.
 */
int gmem_set_attributes(struct gmem *gmem, struct kvm_memory_attributes2 *request);

/*
 * The VMM's conversion of [offset, offset + size) through that call: on
 * EAGAIN it drops its own holds from error_offset on and retries, at most
 * GMEM_EAGAIN_RETRIES times (gmem->stats counts both). Returns 0 or the
 * call's negative errno, error (may be NULL) naming the step that failed
 * ("mmap of the host view", ...); -ENOTTY without SUPPORT_SHARED (nothing of
 * the file is ever shared).
 */
int gmem_convert_shared(struct gmem *gmem, uint64_t offset, uint64_t size,
			struct gmemvm_error *error);
int gmem_convert_private(struct gmem *gmem, uint64_t offset, uint64_t size,
			 struct gmemvm_error *error);
/* Either of them; *eagain (not NULL) gets the EAGAIN answers this call met,
 * for --trace: gmem->stats counts those of every call, whoever made them. */
int gmem_convert(struct gmem *gmem, uint64_t offset, uint64_t size, bool to_private,
		 unsigned int *eagain, struct gmemvm_error *error);

/*
 * Hold a real reference on the shared pages [offset, offset + size) through
 * the host view (vmsplice into a pipe), as a device doing DMA would, until
 * gmem_release(). 0, -EINVAL for a bad range or one over GMEM_MAX_HOLD_SIZE,
 * -EPERM when a page is private or the host has no view, -ENOSPC when
 * GMEM_MAX_HOLDS are taken, or the errno of pipe2/vmsplice.
 */
int gmem_hold(struct gmem *gmem, uint64_t offset, uint64_t size);
/* Drop every hold that overlaps [offset, offset + size); returns how many. */
int gmem_release(struct gmem *gmem, uint64_t offset, uint64_t size);

/* Map the host view of [offset, offset + size) again as the state says: the
 * undo of a conversion that failed half-way. */
int gmem_resync_host_view(struct gmem *gmem, uint64_t offset, uint64_t size);

/* For the checker: the files the model's host view maps over shared pages
 * (the contents) and over private ones (a never-shared guest_memfd); false
 * natively, where the kernel's own mapping of the file is the host view. */
bool gmem_host_view_files(const struct gmem *gmem, int *shared_fd, int *private_fd);

/* Shareability of the page at offset; GUEST for files without SUPPORT_SHARED. */
enum shareability gmem_shareability(const struct gmem *gmem, uint64_t offset);

/* fallocate(PUNCH_HOLE) on the contents: every view sees zeroes afterwards.
 * 0 or fallocate's negative errno. */
int gmem_punch_hole(const struct gmem *gmem, uint64_t offset, uint64_t size);

/* Map [offset, offset + size) of fd at address with MAP_FIXED (the views). */
int gmem_remap(uint8_t *address, int fd, uint64_t offset, uint64_t size, int prot);

/*
 * The signal a host read of *address raises (SIGBUS for a GUEST page, as the
 * notes' kvm_gmem_fault() gives), or 0 when the read succeeds; -1 when the
 * catcher could not be installed. Through host_access_copy, whose handlers
 * it installs on first use: call it first on the main thread.
 */
int gmem_host_read_signal(const volatile uint8_t *address);
/* The same for a write of value (a store alone: no read before it). */
int gmem_host_write_signal(volatile uint8_t *address, uint8_t value);

void gmem_destroy(struct gmem *gmem);

#endif
