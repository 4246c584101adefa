/* SPDX-License-Identifier: MIT */
/*
 * Guest entry point. The VMM starts every vCPU here in 64-bit long mode with
 * the identity map, interrupts off, rsp = this vCPU's stack top, rdi = the
 * device-tree GPA, rsi = the vCPU index and FS base = this vCPU's TLS block
 * (gmemvm_abi.h). Nothing needs setting up: rdi/rsi already are the first two
 * arguments of guest_main() in the SysV ABI.
 */

#include "gmemvm_abi.h"

	.section .text.start, "ax", @progbits
	.globl _start
	.type _start, @function
_start:
	/* First: tell the VMM this vCPU's guest code has begun (the entry port). */
	movw	$GMEMVM_DEVICE_ENTRY, %dx
	outb	%al, %dx
	/* The C code expects the SysV state: DF clear, rsp 16-aligned at the call. */
	cld
	andq	$-16, %rsp
	/* A zero frame pointer ends backtraces in a debugger. */
	xorl	%ebp, %ebp
	call	guest_main
	/* guest_main() should not return; if it does, park the vCPU. */
1:	hlt
	jmp	1b
	.size _start, . - _start

/* No executable stack: keeps ld from warning about a missing note. */
	.section .note.GNU-stack, "", @progbits
