/* SPDX-License-Identifier: MIT */
/*
 * The contract between the gmemvm VMM and its guest: guest-physical layout,
 * the ports and MMIO addresses the VMM handles, the hypercall request block,
 * and the device-tree property names. Both sides include this file and nothing
 * else of each other (docs/design.md).
 */
#ifndef GMEMVM_ABI_H
#define GMEMVM_ABI_H

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>
#endif

/* What differs between architectures: the boot tables' layout and where the
 * devices are (ports on x86, MMIO on arm64). The build puts the one of the
 * architecture it builds for on the include path (include/arch/ARCH/). */
#include "gmemvm_arch_abi.h"

/* Guest-physical layout of the low part of RAM, set up by the VMM; the boot
 * tables below GMEMVM_FDT_GPA are the architecture's. */
#define GMEMVM_FDT_GPA	    0x10000ULL
#define GMEMVM_FDT_MAX_SIZE 0x10000ULL
#define GMEMVM_STACK_GPA    0x20000ULL /* vCPU i's stack top is STACK_GPA + (i + 1) * STACK_SIZE */
#define GMEMVM_STACK_SIZE   0x4000ULL
#define GMEMVM_IMAGE_GPA \
	0x100000ULL /* the guest ELF must load inside [IMAGE_GPA, SHARED_AREA_GPA) */
/*
 * The shared area: the one part of the boot area that stays shared with the
 * host in every mode, because the VMM must read what the guest puts there
 * (hypercall blocks, assertion strings). vCPU i owns the 256 bytes at
 * SHARED_AREA_GPA + i * SHARED_AREA_STRIDE. In CoCo modes the guest reaches
 * it through the shared alias, like any shared page.
 */
#define GMEMVM_SHARED_AREA_GPA	  0x1f0000ULL
#define GMEMVM_SHARED_AREA_SIZE	  0x10000ULL
#define GMEMVM_SHARED_AREA_STRIDE 0x100ULL
#define GMEMVM_DATA_GPA		  0x200000ULL /* scenario steps touch RAM from here up */
#define GMEMVM_MAX_VCPUS	  8

/* MMIO test device: no memslot covers it, so every access is an MMIO exit. */
#define GMEMVM_TESTDEV_MMIO_GPA	   0xd0000000ULL
#define GMEMVM_TESTDEV_MMIO_SIZE   0x1000ULL
#define GMEMVM_TESTDEV_REG_ID	   0x0			 /* read-only, 64-bit: GMEMVM_TESTDEV_ID */
#define GMEMVM_TESTDEV_REG_SCRATCH 0x8			 /* read-write, 64-bit */
#define GMEMVM_TESTDEV_ID	   0x21214d564d454d47ULL /* "GMEMVM!!" */

/*
 * Hypercalls: the guest fills a request block in its RAM and writes the
 * block's guest-physical address (32 bits, 8-byte aligned) to the hypercall
 * port. The VMM bounds-checks the block before it reads it, executes the
 * request and writes the result into the block (Solo5 hvt style).
 */
#ifndef __ASSEMBLER__
struct gmemvm_hypercall {
	uint32_t op;
	int32_t result; /* written by the VMM: 0 or a negative GMEMVM_HC_E* code */
	uint64_t arg[4];
};

enum gmemvm_hypercall_op {
	GMEMVM_HC_DONE = 1,    /* arg0 = GMEMVM_DONE_*, arg1 = failing step (1-based) */
	GMEMVM_HC_ASSERT = 2,  /* arg0 = GPA of file name, arg1 = line, arg2 = GPA of expression */
	GMEMVM_HC_SHARE = 3,   /* arg0 = GPA, arg1 = size: convert [GPA, GPA + size) to shared */
	GMEMVM_HC_UNSHARE = 4, /* arg0 = GPA, arg1 = size: convert it to private */
	GMEMVM_HC_DISCARD =
		5,	      /* arg0 = GPA, arg1 = size: the VMM punches the range out (balloon) */
	GMEMVM_HC_HOLD = 6,   /* arg0 = GPA, arg1 = size: the VMM takes a page reference (DMA) */
	GMEMVM_HC_RELEASE = 7 /* arg0 = GPA, arg1 = size: the VMM drops its references there */
};

/* GMEMVM_HC_DONE's status. With EXCEPTION, arg2 is the #GP's error code (an
 * exception the guest has no gate for arrives as #GP naming its vector) and
 * arg3 the rip it was raised at. */
enum gmemvm_done_status {
	GMEMVM_DONE_PASSED = 0,
	GMEMVM_DONE_STEP_FAILED = 1,
	GMEMVM_DONE_EXCEPTION = 2
};

/*
 * What a scenario step does: the step node's "op" (u32), the op of a
 * [steps] line (docs/config.md has each one's arguments), and the guest's
 * dispatch (guest/main.c).
 */
enum gmemvm_step_op {
	GMEMVM_STEP_WRITE,
	GMEMVM_STEP_VERIFY,
	GMEMVM_STEP_MMIO,
	GMEMVM_STEP_PIO,
	GMEMVM_STEP_SHARE,
	GMEMVM_STEP_UNSHARE,
	GMEMVM_STEP_TOUCH,   /* write one pattern word per 4 KiB page: a fault per page, little else
			      */
	GMEMVM_STEP_FLIP,    /* count rounds of unshare + share of a range: explicit conversions */
	GMEMVM_STEP_BARRIER, /* every vCPU waits here until all have arrived */
	GMEMVM_STEP_DISCARD, /* the VMM punches a range out; the guest then reads zeroes */
	GMEMVM_STEP_HOSTILE, /* seeded attacks on the VMM's interfaces (pattern = seed) */
	GMEMVM_STEP_SCATTER, /* share every other page: count separate shared regions */
	GMEMVM_STEP_HOLD,    /* the VMM takes a page reference, as a device doing DMA */
	GMEMVM_STEP_RELEASE, /* the VMM drops its references to the range */
	GMEMVM_STEP_OP_COUNT
};
/* A new op needs a name below, its syntax in vmm/config_steps.c and
 * docs/config.md, its properties in vmm/devtree.c, and the guest's code. */
_Static_assert(GMEMVM_STEP_OP_COUNT == 14, "a step op was added or removed: see above");

/* The op's name in scenario files and on the guest's console; NULL for an
 * unknown op. A switch without default: the compiler names a missing op. */
static inline const char *gmemvm_step_op_name(uint32_t op)
{
	switch ((enum gmemvm_step_op)op) {
	case GMEMVM_STEP_WRITE:
		return "write";
	case GMEMVM_STEP_VERIFY:
		return "verify";
	case GMEMVM_STEP_MMIO:
		return "mmio";
	case GMEMVM_STEP_PIO:
		return "pio";
	case GMEMVM_STEP_SHARE:
		return "share";
	case GMEMVM_STEP_UNSHARE:
		return "unshare";
	case GMEMVM_STEP_TOUCH:
		return "touch";
	case GMEMVM_STEP_FLIP:
		return "flip";
	case GMEMVM_STEP_BARRIER:
		return "barrier";
	case GMEMVM_STEP_DISCARD:
		return "discard";
	case GMEMVM_STEP_HOSTILE:
		return "hostile";
	case GMEMVM_STEP_SCATTER:
		return "scatter";
	case GMEMVM_STEP_HOLD:
		return "hold";
	case GMEMVM_STEP_RELEASE:
		return "release";
	case GMEMVM_STEP_OP_COUNT:
		break;
	}
	return NULL;
}
#endif

/*
 * Result codes the VMM writes into gmemvm_hypercall.result: the whole list.
 * A block the VMM cannot read (misaligned, outside RAM, or in private memory)
 * gets no answer at all: its result field keeps whatever the guest left
 * there, and the refusal is counted in the report.
 */
#define GMEMVM_HC_OK	 0
#define GMEMVM_HC_EINVAL (-22) /* malformed range: empty, unaligned, overflowing, outside RAM */
#define GMEMVM_HC_ENOSYS (-38) /* unknown op, or share/unshare in stage 1 (no conversions) */
#define GMEMVM_HC_EPERM	 (-1)  /* share/unshare without SUPPORT_SHARED; hold of a private page */
/* The VMM itself failed; share/unshare then stop the run with vmm-error, a
 * hold only fails (no room for another, or the kernel refused the reference). */
#define GMEMVM_HC_ENOMEM (-12)

/*
 * KVM's hypercall KVM_HC_MAP_GPA_RANGE (Linux's kvm_para.h), which KVM hands
 * to the VMM as KVM_EXIT_HYPERCALL once the VMM enabled KVM_CAP_EXIT_HYPERCALL
 * for it. The guest executes vmcall (Intel) or vmmcall (AMD, Hygon) at CPL 0
 * with rax = the number, rbx = GPA (canonical, shared bit clear), rcx = number
 * of pages, rdx = attributes. rax comes back as a signed 64-bit 0 or -errno:
 * the VMM answers with the GMEMVM_HC_E* codes; KVM answers without an exit
 * -22 for a misaligned GPA, zero pages or a wrapping range, -1 at CPL 3, and
 * -1000 (KVM_ENOSYS) when the VMM did not enable the exit.
 */
#define GMEMVM_KVM_HC_MAP_GPA_RANGE	12
#define GMEMVM_MAP_GPA_RANGE_PAGE_SZ_4K 0	    /* bits 0-1: the page size, 4 KiB */
#define GMEMVM_MAP_GPA_RANGE_ENCRYPTED	(1ULL << 4) /* convert to private */
#define GMEMVM_MAP_GPA_RANGE_DECRYPTED	0	    /* convert to shared */

/* Device-tree names (the guest reads them with libfdt). */
#define GMEMVM_FDT_NODE	      "/gmemvm"
#define GMEMVM_FDT_STEPS_NODE "/gmemvm/steps"
#define GMEMVM_FDT_PROP_PORT  "gmemvm,port"
/*
 * Node /gmemvm: mode (string), stage (u32), data-start (u64), and in CoCo
 * modes shared-bit (u32): the guest-physical address bit that selects the
 * shared view of a page, as TDX does (absent: one view, no alias).
 * Optionally conversion-call (string): how share, unshare, flip and scatter
 * ask for conversions, one of GMEMVM_CONVERSION_CALL_* (absent: the port);
 * any other value is a device-tree error.
 * Each step node "step@N" has: op (u32, an enum gmemvm_step_op), addr (u64),
 * size (u64; for pio the repeat count), pattern (u32), vcpu (u32), view
 * (string: "private" or "shared"; absent = private), result (u32, a
 * two's-complement int32: the hypercall result share, unshare, hold and
 * release must get; absent = 0) and, for flip, hostile and scatter, count (u32).
 */
#define GMEMVM_FDT_PROP_SHARED_BIT "shared-bit"
/* Absent or "port": GMEMVM_HC_SHARE/UNSHARE request blocks on GMEMVM_DEVICE_HYPERCALL.
 * GMEMVM_CONVERSION_CALL_HYPERCALL (gmemvm_arch_abi.h): the conversion call
 * of the architecture's confidential guests, "map-gpa-range" on x86 and
 * "mem-share" (pKVM's SMCCC calls) on arm64. */
#define GMEMVM_FDT_PROP_CONVERSION_CALL "conversion-call"
#define GMEMVM_CONVERSION_CALL_PORT	"port"
/* Present when the guest must make an exit of its own (a write to the entry
 * port) after each return from user mode: QEMU's emulated SVM reports the #GP
 * that return raised as still being delivered on the next exit, and KVM then
 * refuses to emulate that exit (docs/lab.md, "QEMU's emulator"). */
#define GMEMVM_FDT_PROP_EXIT_FENCE "exit-after-user-mode"
/* Present in a protected VM of upstream's pKVM ([vm] pkvm = upstream): every
 * page becomes the guest's at its first access, so before its first request
 * each vCPU writes its slot of the shared area and shares that page with the
 * conversion call (MEM_SHARE), or the VMM could not read the request. */
#define GMEMVM_FDT_PROP_PROTECTED_VM "protected-vm"
#define GMEMVM_FDT_VCPU_ALL	     0xffffffffU

/*
 * Data pattern: the 64-bit word at guest-physical address gpa written by a
 * step with pattern p is gmemvm_pattern_word(p, gpa). Mixing in the address
 * catches data that landed in the wrong place, not just wrong bytes.
 */
#ifndef __ASSEMBLER__
static inline uint64_t gmemvm_pattern_word(uint32_t pattern, uint64_t gpa)
{
	return ((uint64_t)pattern * 0x0000000100000001ULL) ^ (gpa * 0x9e3779b97f4a7c15ULL);
}
#endif

#endif
