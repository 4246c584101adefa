/* SPDX-License-Identifier: MIT */
/*
 * The exception vectors: the guest expects no exception, so every entry
 * reports the one it took to the VMM (arm64_exception) with its class, its
 * syndrome (ESR_EL1), the faulting address (FAR_EL1) and where (ELR_EL1), as
 * the x86 guest reports the #GP it had no other gate for.
 */

	.section .text, "ax", %progbits

/* One 128-byte slot per entry: which entry it was goes in x0. */
.macro vector_entry kind
	.balign	0x80
	mov	x0, #\kind
	b	arm64_vector_common
.endm

	.balign	0x800
	.globl arm64_vectors
arm64_vectors:
	/* Current EL with SP_EL0: synchronous, IRQ, FIQ, SError */
	vector_entry 0
	vector_entry 1
	vector_entry 2
	vector_entry 3
	/* Current EL with SP_ELx: the guest's own */
	vector_entry 4
	vector_entry 5
	vector_entry 6
	vector_entry 7
	/* Lower EL, AArch64 and AArch32: the guest has no lower EL */
	vector_entry 8
	vector_entry 9
	vector_entry 10
	vector_entry 11
	vector_entry 12
	vector_entry 13
	vector_entry 14
	vector_entry 15

arm64_vector_common:
	mrs	x1, esr_el1
	mrs	x2, far_el1
	mrs	x3, elr_el1
	/* Keep the stack 16-aligned for the C call. */
	mov	x9, sp
	and	x9, x9, #~15
	mov	sp, x9
	bl	arm64_exception
1:	b	1b

	.section .note.GNU-stack, "", %progbits
