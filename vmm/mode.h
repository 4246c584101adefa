/* SPDX-License-Identifier: MIT */
/*
 * The four modes (docs/design.md, "The four modes" and "The mode table"):
 * one row per mode with every property of it the VMM acts on. The memory
 * map, the conversion policy and the set-up ask this table; no other file
 * compares modes.
 */
#ifndef GMEMVM_MODE_H
#define GMEMVM_MODE_H

#include <stdbool.h>

/* The four use cases (docs/design.md, "The four modes"). */
enum vm_mode {
	MODE_COCO_LEGACY,
	MODE_SHARED,
	MODE_PKVM,
	MODE_COCO_INPLACE
};

/* Where a kernel can serve a mode's conversions itself (docs/design.md,
 * "Native or modelled"); vm.c asks the probe once, at set-up. */
enum native_path {
	NATIVE_NONE,	      /* always modelled: upstream converts only on VM types
				 with private memory, and mode shared is an ordinary VM */
	NATIVE_VM_ATTRIBUTES, /* the VM-wide KVM_SET_MEMORY_ATTRIBUTES, on a VM type
				 with private memory attributes */
	NATIVE_IN_PLACE,      /* KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd, on the
				 software-protected VM type */
};

struct mode_info {
	enum vm_mode mode;
	enum native_path native_path;
	const char *name; /* as scenario files and reports spell it */
	/* The call that converts, as --trace names it. */
	const char *conversion_call;
	/* How its conversions come about, for the refusal of a memory fault. */
	const char *converts;
	/* Why the notes refuse the mode in stage 1, quoted; NULL when they do not. */
	const char *stage1_refusal;
	/* The feature the run reports modelled because the mode shows the
	 * notes' design where upstream went another way; NULL if none. */
	const char *notes_design;
	/* Two views of RAM, private at the GPA and shared at GPA | 1 << shared
	 * bit (docs/design.md, "The guest's two views"); the guest may ask with
	 * KVM_HC_MAP_GPA_RANGE where that reaches the VMM. */
	bool coco;
	/* A memory fault converts the page to what the access wanted. */
	bool converts_on_fault;
	/* Shared memory lives in the guest_memfd, which therefore needs MMAP
	 * (notes: SUPPORT_SHARED), and conversions happen in place there
	 * (KVM_SET_MEMORY_ATTRIBUTES2); else shared memory is a separate memfd
	 * and conversions flip the VM-wide memory attributes. */
	bool shared_in_gmem;
	/* MMAP only together with private by default (no INIT_SHARED; notes:
	 * INIT_PRIVATE), or the host could fault in its private pages. */
	bool mmap_only_private_by_default;
	/* The guest's share and unshare are converted on the hypervisor side,
	 * without the VMM's fault policy (pKVM). */
	bool hypervisor_side;
	/* The guest runs from private memory and talks to the VMM through the
	 * shared area: the boot area is converted before the first vCPU runs. */
	bool boots_private;
	/* [gmem] userspace_addr chooses the memslot's userspace_addr, under the
	 * notes' stage-1 binding rule (the ordinary VM of mode shared). */
	bool scenario_userspace_addr;
	/* A secret-free VM may ask for GUEST_MEMFD_FLAG_NO_DIRECT_MAP: all of
	 * its memory stays shared and leaves the kernel's direct map. */
	bool secret_free;
};

/* The row of mode; NULL for a value outside enum vm_mode. */
const struct mode_info *mode_info(enum vm_mode mode);

/* The row whose name is name; NULL if no mode has it. */
const struct mode_info *mode_by_name(const char *name);

#endif
