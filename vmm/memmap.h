/* SPDX-License-Identifier: MIT */
/*
 * The guest memory map per mode: which memslots exist, what their
 * userspace_addr maps, where shared and private contents live, and how a
 * conversion changes all of that (docs/design.md, "The four modes").
 *
 * CoCo modes (coco-legacy, coco-inplace) give the guest two views of every
 * RAM page, as TDX does: the private view at the GPA and the shared view at
 * GPA | 1 << shared_bit. A view has memslots only over the pages it may
 * reach (docs/design.md, "Wrong-view faults"), so an access through the
 * wrong view finds no memslot and every kernel reports it:
 * - with private memory attributes (use case (a) on a software-protected
 *   VM), the whole private view is private and the shared alias of a
 *   private page is too, so KVM itself exits with KVM_EXIT_MEMORY_FAULT
 *   and retries the access after the conversion;
 * - without them, KVM exits with KVM_EXIT_MMIO at that GPA, which
 *   memmap_classify() turns into the memory fault (gpa, size, private
 *   flag) and the model completes the access after the conversion.
 *
 * Every host access to guest RAM goes through memmap_read/memmap_write/
 * memmap_lookup, which refuse anything outside RAM or not shared with the
 * host.
 *
 * Locking (docs/design.md, "Locking"): one lock guards the state map, the
 * memslot arrays and the reservations; a conversion reserves its range and
 * drops the lock around its kernel calls, so conversions of disjoint ranges
 * proceed in parallel while everything that reads a reserved range waits.
 */
#ifndef GMEMVM_MEMMAP_H
#define GMEMVM_MEMMAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "gmem.h"
#include "gmemvm_abi.h"
#include "shareability.h"

struct memmap_slot {
	uint32_t slot;
	uint64_t gpa, size;
	uint64_t offset;	 /* RAM offset (= guest_memfd offset) of its first page */
	bool guest_memfd;	 /* bound with KVM_MEM_GUEST_MEMFD */
	bool fixed;		 /* the launch region: never changed by conversions */
	uint64_t userspace_addr; /* as bound; 0 = NULL */
};

/* One guest-physical alias of RAM and the memslots that back it. */
struct memmap_view {
	const char *role;	   /* "ram", "private view", "shared view" */
	uint64_t base;		   /* GPA of RAM offset 0 */
	bool per_extent;	   /* memslots only over the pages in state maps_private */
	bool maps_private;	   /* which pages a per-extent view reaches */
	bool fill_plain;	   /* the other pages get plain memslots, not holes */
	bool guest_memfd;	   /* its memslots are bound to the guest_memfd */
	uint64_t userspace_addr;   /* of RAM offset 0; 0 = NULL */
	uint64_t extent_start;	   /* per-extent memslots start here (after a fixed slot) */
	struct memmap_slot *slots; /* sorted by gpa */
	size_t count, capacity;
};

enum memmap_alias {
	MEMMAP_NOT_RAM,
	MEMMAP_PRIVATE_VIEW,
	MEMMAP_SHARED_VIEW
};

/* A conversion in flight: [from, to) of RAM, reserved until it stands or is
 * undone, and the state its memslots are made for meanwhile. */
struct memmap_reservation {
	uint64_t from, to; /* from == to: unused */
	enum shareability target;
};

/* Each thread has at most one conversion in flight. */
#define MEMMAP_MAX_RESERVATIONS ((size_t)2 * GMEMVM_MAX_VCPUS)

/* The half of the map that differs between coco-legacy and the in-place
 * modes (memmap_backing.h), chosen once by memmap_setup. */
struct memmap_backing_ops;

struct memmap {
	uint64_t ram_size;
	struct gmem *gmem;
	const struct memmap_backing_ops *backing;
	pthread_mutex_t lock;
	pthread_cond_t reservation_ended; /* a reservation ended: waiters look again */
	struct memmap_reservation reservations[MEMMAP_MAX_RESERVATIONS];
	uint8_t *host_view; /* the VMM's view: shared pages readable, private SIGBUS */

	/* coco-legacy: the memory attributes (GUEST = private), kept here as the
	 * state and, with native_attributes, also set in KVM; and the separate
	 * shared backing (a memfd) whose pages are discarded on conversion. */
	struct shareability_map attributes;
	uint8_t *shared_contents;  /* view of the shared backing (coco-legacy) or of RAM */
	uint8_t *private_contents; /* every private page's contents, if the host can map them */
	uint8_t *launch;	   /* native_attributes: the launch region's ordinary memory */

	struct memmap_view views[2];
	uint32_t *free_slots; /* memslot ids given back, for reuse */
	size_t nr_free_slots, free_capacity;
	void *anonymous; /* userspace_addr = anonymous: the unrelated mapping */
	uint64_t anonymous_size;

	enum vm_mode mode;
	unsigned int shared_bit; /* CoCo modes: GPA bit of the shared view; 0 = none */
	int vm_fd;
	int shared_fd;
	int sigbus_fd; /* behind the host view's private pages: faults SIGBUS */
	int nr_views;
	uint32_t next_slot, max_slots;
	/* coco-legacy without SUPPORT_SHARED: what the kernel said when the VMM
	 * tried to mmap the guest_memfd (ENODEV: it is never mapped). */
	int private_mmap_errno;
	int maps_fd; /* /proc/self/maps, opened at set-up: the sandbox forbids open later */
	bool lock_ready;
	bool native_attributes; /* KVM_SET_MEMORY_ATTRIBUTES on a private-memory VM type */
	/* Upstream pKVM's protected VM: every host access may fault (SIGSEGV)
	 * and goes through host_access_copy (memmap_setup_protected). */
	bool protected_vm;
	int proc_mem_fd; /* protected_vm: /proc/self/mem, for a discard's reclaim */
};

/* One access the model must finish after a conversion (an MMIO exit that
 * was really a memory fault): the same result a retry would give. */
struct memmap_completion {
	uint64_t gpa; /* canonical: shared bit clear */
	bool shared_view;
	bool is_write;
	uint32_t length;
	uint8_t *data; /* kvm_run.mmio.data */
};

/* What one conversion did, for the counters and --trace. */
struct memmap_conversion {
	uint64_t pages;	     /* pages that changed state */
	unsigned int eagain; /* KVM_SET_MEMORY_ATTRIBUTES2's EAGAIN answers it met */
};

void memmap_init(struct memmap *map);

/*
 * Lay out and bind guest RAM for the scenario's mode. native_attributes: the
 * VM has private memory attributes (use case (a) then sets them for real);
 * max_slots: KVM_CAP_NR_MEMSLOTS. Returns 0 or a negative errno with
 * error->message saying what failed; error->refused when a rule of the
 * design notes refused the layout (the message quotes it). error: not NULL.
 */
/*
 * Mode pkvm on upstream's pKVM (a protected VM, arm64): RAM in one memslot,
 * the hypervisor converts. gmem NULL: the VMM's anonymous memory, no
 * guest_memfd; else that guest_memfd (MMAP, INIT_SHARED), bound as such
 * (pkvm = upstream-on-guest-memfd). Same returns as memmap_setup.
 */
int memmap_setup_protected(struct memmap *map, const struct scenario *scenario, struct gmem *gmem,
			   int vm_fd, uint32_t max_slots, struct gmemvm_error *error);
/* The RLIMIT_MEMLOCK a protected VM of memory_size bytes needs, from the
 * limit now: true with *wanted to set (the soft limit raised to the guest's
 * memory, the hard one kept or raised to it), false when now suffices. */
struct rlimit;
bool memmap_protected_memlock(uint64_t memory_size, const struct rlimit *now,
			      struct rlimit *wanted);
int memmap_setup(struct memmap *map, const struct scenario *scenario, struct gmem *gmem, int vm_fd,
		 unsigned int shared_bit, bool native_attributes, uint32_t max_slots,
		 struct gmemvm_error *error);

/* How many memslots are bound now (all views). */
size_t memmap_slot_count(const struct memmap *map);
void memmap_destroy(struct memmap *map);

/* Which view of RAM gpa is in; *canonical gets the GPA with the shared bit clear. */
enum memmap_alias memmap_classify(const struct memmap *map, uint64_t gpa, uint64_t *canonical);

/* true when [gpa, gpa + size) is RAM and private (GUEST / private attribute). */
bool memmap_is_private(struct memmap *map, uint64_t gpa, uint64_t size);

/*
 * Convert [gpa, gpa + size) (canonical, page-aligned) the way the mode does:
 * coco-inplace, pkvm and shared call CONVERT_SHARED/CONVERT_PRIVATE on the
 * guest_memfd (contents stay in place); coco-legacy flips the memory
 * attribute and discards the backing no longer used (contents are lost, as
 * QEMU does). completion, if not NULL, is finished under the same lock.
 * done (may be NULL) gets how many pages changed state: pages already in the
 * wanted state are not counted, and a range already wholly so is left alone
 * (0: another vCPU converted it first, and the access only needs completing).
 * Returns 0 or a negative errno: refused (error->refused) -EINVAL for a bad
 * range, -ENOTTY when the file has no conversion ioctls; else the errno of
 * the step error names, everything put back as it was.
 */
int memmap_convert(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
		   struct memmap_completion *completion, struct memmap_conversion *done,
		   struct gmemvm_error *error);

/*
 * Punch [gpa, gpa + size) out of every backing (fallocate PUNCH_HOLE), as a
 * balloon does: the next access through any view, private or shared, guest
 * or host, sees zeroes (the notes' truncation rule). 0; refused -EINVAL for
 * a range that is not whole pages of RAM; or the errno of the step error names.
 */
int memmap_discard(struct memmap *map, uint64_t gpa, uint64_t size, struct gmemvm_error *error);

/*
 * take: a page reference the VMM holds on shared RAM [gpa, gpa + size), as
 * a device doing DMA would, so that a conversion to private meets EAGAIN
 * until the VMM drops it (gmem_hold); else drop every hold overlapping the
 * range and return how many (gmem_release). -ENOSYS in coco-legacy, whose
 * shared memory is not in the guest_memfd; -EINVAL for a range that is not
 * whole pages of RAM; else what gmem_hold returns.
 */
int memmap_hold(struct memmap *map, uint64_t gpa, uint64_t size, bool take);

/* Copy from/to guest RAM through the host's view: -EFAULT when any byte is
 * outside RAM or private (the host may only touch shared memory). */
int memmap_read(struct memmap *map, uint64_t gpa, void *out, uint64_t size);
int memmap_write(struct memmap *map, uint64_t gpa, const void *in, uint64_t size);

/* Boot-time write of the initial image into guest RAM whatever its state,
 * as a CoCo VMM loads the image into private memory before launch. */
void memmap_populate(struct memmap *map, uint64_t gpa, const void *in, uint64_t size);

/* Host pointer for [gpa, gpa + size) when all of it is shared RAM, else NULL.
 * Only for when no vCPU runs (after the run: the data checks). */
void *memmap_lookup(struct memmap *map, uint64_t gpa, uint64_t size);

/* A compact picture of the shareability of [gpa, gpa + size): 'S', 'P', 'm'. */
void memmap_render(struct memmap *map, uint64_t gpa, uint64_t size, char *out, size_t columns);

/*
 * The consistency checker: the state map, the memslots and every view agree
 * (each page of each view maps what its state says, read from
 * /proc/self/maps). 0; or -EUCLEAN, the verdict, with the first disagreement
 * in error (no step: nothing failed, the map is inconsistent); or the
 * negative errno of the read of /proc/self/maps or an fstat the check could
 * not do, with its step.
 */
int memmap_check(struct memmap *map, struct gmemvm_error *error);

/* Copy the map as it stands into out (--memmap, memmap_picture.h), once no
 * conversion is in flight; allocates nothing, so a vCPU may call it. */
struct memmap_snapshot;
void memmap_snapshot(struct memmap *map, struct memmap_snapshot *out, const char *label);

#endif
