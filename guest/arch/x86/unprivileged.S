/* SPDX-License-Identifier: MIT */
/*
 * unprivileged_enter(fn, arg, rsp0): enter user mode with an iretq, call fn(arg) on
 * the stack below, and come back through the #GP that the privileged hlt
 * after it raises in user mode: the CPU switches to this vCPU's TSS.RSP0,
 * which points just under the registers saved here. A #GP from anywhere else
 * is a bug and is reported (unprivileged.c).
 */
#include "gmemvm_abi.h"

#define SAVED_REGS   48   /* rbx, rbp, r12-r15 */
#define GP_FRAME     48   /* error code, rip, cs, rflags, rsp, ss */
#define EXCEPTION_GAP 256 /* between RSP0 and the user stack: room for the frame */

	.text
	.globl unprivileged_enter
	.type unprivileged_enter, @function
/* rdi = fn, rsi = arg, rdx = &TSS.RSP0 of this vCPU (unprivileged.c passes it) */
unprivileged_enter:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	/* 16-byte aligned, so the CPU's alignment of RSP0 changes nothing. */
	sub	$8, %rsp
	mov	%rsp, (%rdx)
	lea	-EXCEPTION_GAP(%rsp), %rax
	and	$-16, %rax
	push	$GMEMVM_SELECTOR_USER_DATA	/* ss */
	push	%rax				/* rsp */
	push	$0x2				/* rflags: interrupts stay off */
	push	$GMEMVM_SELECTOR_USER_CODE	/* cs */
	lea	user_trampoline(%rip), %rax
	push	%rax				/* rip */
	xchg	%rdi, %rsi			/* user mode calls fn = rsi with arg = rdi */
	iretq
	.size unprivileged_enter, . - unprivileged_enter

user_trampoline:
	call	*%rsi
	.globl unprivileged_return_point
unprivileged_return_point:
	hlt	/* privileged: the #GP is the way back, rax = fn's result */

	.globl unprivileged_gp_handler
	.type unprivileged_gp_handler, @function
unprivileged_gp_handler:
	cmpq	$unprivileged_return_point, 8(%rsp)
	jne	1f
	cmpq	$GMEMVM_SELECTOR_USER_CODE, 16(%rsp)
	jne	1f
	add	$(GP_FRAME + 8), %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret
1:	/* Not ours: rdi = rip, rsi = error code, rdx = cs; does not return. */
	mov	8(%rsp), %rdi
	mov	(%rsp), %rsi
	mov	16(%rsp), %rdx
	and	$-16, %rsp
	call	unprivileged_unexpected_gp
	.size unprivileged_gp_handler, . - unprivileged_gp_handler

	.section .note.GNU-stack, "", @progbits
