/* SPDX-License-Identifier: MIT */
/*
 * The guest memory map per mode: which memslots exist, what their
 * userspace_addr maps, where shared and private contents live, and how a
 * conversion changes all of that (DESIGN.md's table of the four modes).
 *
 * CoCo modes (coco-legacy, coco-inplace) give the guest two views of every
 * RAM page, as TDX does: the private view at the GPA and the shared view at
 * GPA | 1 << shared_bit. This KVM has no private memory attributes and reads
 * guest memory through userspace_addr (probe), so the private view's memslot
 * maps only private pages and the shared view's only shared pages: an access
 * through the wrong view finds no page, KVM reports it as an MMIO exit at
 * that GPA, and memmap_classify() turns it into the memory fault a kernel
 * with private memory would deliver (gpa, size, private flag).
 *
 * Every host access to guest RAM goes through memmap_read/memmap_write/
 * memmap_lookup, which refuse anything outside RAM or not shared with the
 * host; conversions and those accesses are serialised by one lock.
 */
#ifndef GMEMVM_MEMMAP_H
#define GMEMVM_MEMMAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "gmem.h"
#include "shareability.h"

#define MEMMAP_MAX_SLOTS 4

struct memmap_slot {
	uint32_t slot;
	uint64_t gpa, size;
	bool guest_memfd;	 /* bound with KVM_MEM_GUEST_MEMFD */
	uint64_t userspace_addr; /* as bound; 0 = NULL */
	const char *role;	 /* "ram", "private view", "shared view" */
};

enum memmap_alias {
	MEMMAP_NOT_RAM,
	MEMMAP_PRIVATE_VIEW,
	MEMMAP_SHARED_VIEW
};

struct memmap {
	enum vm_mode mode;
	uint64_t ram_size;
	unsigned int shared_bit; /* CoCo modes: GPA bit of the shared view; 0 = none */
	struct gmem *gmem;
	pthread_mutex_t lock;
	bool lock_ready;

	uint8_t *host_view;  /* the VMM's view: shared pages readable, private SIGBUS */
	uint8_t *guest_view; /* model: the memslot view KVM reads private pages through */
	bool own_views;	     /* coco-legacy and coco-inplace keep their own guest_view */
	bool own_host_view;  /* coco-legacy keeps its own host_view too */

	/* coco-legacy: KVM memory attributes (GUEST = private), modelled here
	 * because KVM_CAP_MEMORY_ATTRIBUTES is absent, and the separate shared
	 * backing (a memfd) whose pages are discarded on conversion. */
	struct shareability_map attributes;
	int shared_fd;
	int sigbus_fd;
	uint8_t *shared_contents;  /* coco-legacy: view of the shared backing */
	uint8_t *private_contents; /* every private page's contents, whatever its state */

	struct memmap_slot slots[MEMMAP_MAX_SLOTS];
	int nr_slots;
	/* coco-legacy without SUPPORT_SHARED: what the kernel said when the VMM
	 * tried to mmap the guest_memfd (ENODEV: it is never mapped). */
	int private_mmap_errno;
	int maps_fd;	 /* /proc/self/maps, opened at set-up: the sandbox forbids open later */
	void *anonymous; /* userspace_addr = anonymous: the unrelated mapping */
	uint64_t anonymous_size;
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

void memmap_init(struct memmap *map);

/*
 * Lay out and bind guest RAM for the scenario's mode. Returns 0, GMEM_REFUSED
 * when a rule of the design notes refused the layout (err quotes it), or -1.
 */
int memmap_setup(struct memmap *map, const struct scenario *scenario, struct gmem *gmem, int vm_fd,
		 unsigned int shared_bit, char *err, size_t err_size);
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
 * A range already in the wanted state is left alone (*converted = false):
 * another vCPU converted it first, and the access only needs completing.
 * Returns 0 or a negative errno (-EINVAL for a bad range, -ENOTTY when the
 * file has no conversion ioctls).
 */
int memmap_convert(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
		   struct memmap_completion *completion, bool *converted);

/*
 * Punch [gpa, gpa + size) out of every backing (fallocate PUNCH_HOLE), as a
 * balloon does: the next access through any view, private or shared, guest
 * or host, sees zeroes (the notes' truncation rule). 0, or -EINVAL for a
 * range that is not whole pages of RAM, or another negative errno.
 */
int memmap_discard(struct memmap *map, uint64_t gpa, uint64_t size);

/* Which step of the calling thread's last failed conversion or discard
 * failed, for the VMM's message ("mmap of the private view", ...). */
const char *memmap_failed_step(void);

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
 * /proc/self/maps). 0, or -1 with the first disagreement in err.
 */
int memmap_check(struct memmap *map, char *err, size_t err_size);

#endif
