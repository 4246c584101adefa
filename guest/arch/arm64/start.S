/* SPDX-License-Identifier: MIT */
/*
 * Guest entry point on arm64. The VMM starts every vCPU here at EL1h with
 * the MMU off and exceptions masked, x0 = the device-tree GPA, x1 = the vCPU
 * index and sp = this vCPU's stack top (gmemvm_arch_abi.h). Before any C
 * code: the exception vectors, the MMU on with the VMM's tables (identity
 * map; the shared alias in CoCo modes), caches on, and the FP/SIMD unit on
 * for the library code that may use it (Debian's libfdt.a).
 */

#include "gmemvm_abi.h"

/* mov_imm REG, VALUE: a 64-bit constant without a literal pool. */
.macro mov_imm reg, value
	movz	\reg, #((\value) & 0xffff)
	movk	\reg, #(((\value) >> 16) & 0xffff), lsl #16
	movk	\reg, #(((\value) >> 32) & 0xffff), lsl #32
	movk	\reg, #(((\value) >> 48) & 0xffff), lsl #48
.endm

#define SCTLR_M		(1 << 0)	/* MMU on */
#define SCTLR_A		(1 << 1)	/* alignment checks: off */
#define SCTLR_C		(1 << 2)	/* data cache */
#define SCTLR_I		(1 << 12)	/* instruction cache */
#define CPACR_FPEN	(3 << 20)	/* FP/SIMD at EL1 and EL0 without traps */

	.section .text.start, "ax", %progbits
	.globl _start
	.type _start, %function
_start:
	/* First: tell the VMM this vCPU's guest code has begun (the entry register). */
	mov_imm	x9, GMEMVM_DEVICE_ENTRY
	strb	w1, [x9]

	adr	x9, arm64_vectors
	msr	vbar_el1, x9
	mrs	x9, cpacr_el1
	orr	x9, x9, #CPACR_FPEN
	msr	cpacr_el1, x9

	mov_imm	x9, GMEMVM_MAIR_EL1
	msr	mair_el1, x9
	mov_imm	x9, GMEMVM_TCR_EL1
	msr	tcr_el1, x9
	mov_imm	x9, GMEMVM_L0_TABLE_GPA
	msr	ttbr0_el1, x9
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	mrs	x9, sctlr_el1
	orr	x9, x9, #SCTLR_M
	orr	x9, x9, #SCTLR_C
	orr	x9, x9, #SCTLR_I
	bic	x9, x9, #SCTLR_A
	msr	sctlr_el1, x9
	isb

	/* x0 and x1 are still the first two arguments of guest_main(). */
	mov	x29, #0		/* a zero frame pointer ends backtraces */
	mov	x30, #0
	bl	guest_main
	/* guest_main() should not return; if it does, park the vCPU. */
1:	mov_imm	x9, GMEMVM_DEVICE_HALT
	strb	wzr, [x9]
	b	1b
	.size _start, . - _start

	.section .note.GNU-stack, "", %progbits
