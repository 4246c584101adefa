/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 part of the contract between the VMM and its guest (included by
 * gmemvm_abi.h): the boot tables the VMM writes below GMEMVM_FDT_GPA, the
 * entry state, and the ports of the devices.
 */
#ifndef GMEMVM_ARCH_ABI_H
#define GMEMVM_ARCH_ABI_H

/* The boot tables, below GMEMVM_FDT_GPA: page tables (a 4 GiB identity map in
 * 2 MiB pages; in CoCo modes also the shared alias), the GDT, TLS blocks, TSSes. */
#define GMEMVM_PML4_GPA 0x1000ULL
#define GMEMVM_PDPT_GPA 0x2000ULL
#define GMEMVM_PD_GPA	0x3000ULL /* 4 page directories: 4 GiB identity map, 2 MiB pages */
#define GMEMVM_PD_COUNT 4
#define GMEMVM_IDENTITY_MAP_END \
	(GMEMVM_PD_COUNT * 0x40000000ULL) /* the guest reaches RAM below it */
#define GMEMVM_GDT_GPA	       0x7000ULL
#define GMEMVM_TLS_GPA	       0x8000ULL /* per-vCPU block, FS base; stack canary at +0x28 */
#define GMEMVM_TLS_SIZE	       0x100ULL
#define GMEMVM_TSS_GPA	       0x8800ULL /* per-vCPU 64-bit TSS: the guest sets RSP0 (+4) */
#define GMEMVM_TSS_SIZE	       0x80ULL
#define GMEMVM_SHARED_PDPT_GPA 0x9000ULL /* CoCo modes: the shared alias (GPA | shared bit) */
#define GMEMVM_SHARED_PD_GPA   0xa000ULL /* 3 page directories: RAM is at most 3 GiB */
#define GMEMVM_SHARED_PD_COUNT 3
#define GMEMVM_STACK_CANARY    0x5f676d656d766d5fULL

/*
 * Entry state of every vCPU: 64-bit long mode, identity map, interrupts off,
 * rdi = device-tree GPA, rsi = vCPU index, rsp = that vCPU's stack top,
 * FS base = that vCPU's TLS block (libfdt.a reads the canary at %fs:0x28).
 * Every page is user-accessible and the GDT has user segments and a TSS per
 * vCPU (TR loaded), so the guest can run pure computation in user mode: on
 * hosts that emulate supervisor code instruction by instruction (PVM,
 * docs/design.md) user mode runs natively, about 1000x faster. DS, ES, FS
 * and GS hold the user data selector so that an iretq to user mode keeps them.
 */
#define GMEMVM_SELECTOR_KERNEL_CODE 0x08
#define GMEMVM_SELECTOR_KERNEL_DATA 0x10
#define GMEMVM_SELECTOR_USER_DATA   0x1b	      /* GDT entry 3, RPL 3 */
#define GMEMVM_SELECTOR_USER_CODE   0x23	      /* GDT entry 4, RPL 3 */
#define GMEMVM_SELECTOR_TSS(i)	    (0x28 + 16 * (i)) /* 16-byte system descriptors */
#define GMEMVM_GDT_ENTRIES	    (5ULL + 2ULL * GMEMVM_MAX_VCPUS)

/* Devices: ports. */
#define GMEMVM_DEVICES_ARE_MMIO 0
#define GMEMVM_DEVICE_SERIAL	0x3f8 /* 16550-style UART, 8 registers */
#define GMEMVM_DEVICE_HYPERCALL 0x500 /* 32-bit write of a request block's GPA */
#define GMEMVM_DEVICE_TESTDEV	0x510 /* 32-bit echo register of the test device */
/*
 * Entry port: the guest's first instruction writes a byte here, and the VMM
 * timestamps each vCPU's first write as the moment its guest code began
 * (the start-up time "to the guest's first instruction", README, "Performance"). The byte
 * means nothing; reads give all ones.
 */
#define GMEMVM_DEVICE_ENTRY 0x514

/* The conversion call of x86 confidential guests: KVM_HC_MAP_GPA_RANGE. */
#define GMEMVM_CONVERSION_CALL_HYPERCALL "map-gpa-range"

#endif
