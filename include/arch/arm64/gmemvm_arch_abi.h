/* SPDX-License-Identifier: MIT */
/*
 * The arm64 part of the contract between the VMM and its guest (included by
 * gmemvm_abi.h): the page tables the VMM writes below GMEMVM_FDT_GPA, the
 * entry state, and where the devices are. arm64 has no port I/O: every
 * device is MMIO, and the device tree gives each one's reg.
 */
#ifndef GMEMVM_ARCH_ABI_H
#define GMEMVM_ARCH_ABI_H

/*
 * The boot tables, below GMEMVM_FDT_GPA: stage-1 translation tables for a
 * 4 KiB granule and a 40-bit input address (TCR_EL1.T0SZ = 24, walks start
 * at level 0). The level-0 table's entry 0 points at a level-1 table that
 * maps [0, 4 GiB) identically in 1 GiB blocks: RAM below 3 GiB as normal
 * memory, the top GiB (the devices) as Device-nGnRE. In CoCo modes its
 * entry 1 points at a second level-1 table for the shared alias
 * (GPA | 1 << 39), as the shared bit is on TDX.
 */
#define GMEMVM_L0_TABLE_GPA	   0x1000ULL
#define GMEMVM_L1_TABLE_GPA	   0x2000ULL
#define GMEMVM_L1_SHARED_TABLE_GPA 0x3000ULL
#define GMEMVM_IDENTITY_MAP_END	   0x100000000ULL /* the guest reaches [0, 4 GiB) */
#define GMEMVM_DEVICE_BLOCK_GPA	   0xc0000000ULL  /* the 1 GiB block mapped as device memory */
/* MAIR_EL1 attribute indexes the tables use: 0 = device nGnRE, 1 = normal write-back. */
#define GMEMVM_MAIR_EL1 0xff04ULL
#define GMEMVM_TCR_EL1	0x200803518ULL /* T0SZ 24, 4K, inner/outer WB, IPS 40 bits, EPD1 */

/*
 * Entry state of every vCPU: EL1h with the MMU off and every exception
 * masked, pc = the ELF's entry, x0 = device-tree GPA (as Linux's arm64 boot
 * protocol has it), x1 = vCPU index, sp = that vCPU's stack top. The guest
 * turns the MMU on with the tables above before it runs C code.
 */

/* Devices: MMIO, all in one page above the test device. */
#define GMEMVM_DEVICES_ARE_MMIO 1
#define GMEMVM_DEVICE_SERIAL	0xd0001000ULL /* 16550-style UART, 8 byte-wide registers */
#define GMEMVM_DEVICE_HYPERCALL 0xd0002000ULL /* 32-bit write of a request block's GPA */
#define GMEMVM_DEVICE_TESTDEV	0xd0002010ULL /* 32-bit echo register of the test device */
/* The guest's first instruction writes a byte here (the start-up time). */
#define GMEMVM_DEVICE_ENTRY 0xd0002020ULL
/*
 * Halt: arm64 has no instruction that exits to the VMM when a vCPU is done
 * (WFI sleeps inside KVM, PSCI CPU_OFF parks the vCPU in KVM_RUN), so a write
 * here is this architecture's HLT: the VMM ends the vCPU as x86 ends it on
 * KVM_EXIT_HLT, and counts it as the hlt exit.
 */
#define GMEMVM_DEVICE_HALT 0xd0002030ULL

/*
 * The conversion call of arm64 guests: the SMCCC vendor-hypervisor calls of
 * pKVM, issued with HVC, x1 = the IPA of one granule (4 KiB). On a VM that is
 * not protected, the VMM asks KVM to forward them (KVM_ARM_VM_SMCCC_FILTER),
 * so they reach it as KVM_EXIT_HYPERCALL; x0 comes back 0 or negative.
 */
#define GMEMVM_CONVERSION_CALL_HYPERCALL "mem-share"
#define GMEMVM_SMCCC_MEM_SHARE		 0xc6000003U
#define GMEMVM_SMCCC_MEM_UNSHARE	 0xc6000004U
#define GMEMVM_SMCCC_SUCCESS		 0
#define GMEMVM_SMCCC_NOT_SUPPORTED	 (-1)
#define GMEMVM_SMCCC_INVALID_PARAMETER	 (-3)

#endif
