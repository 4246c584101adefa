/* SPDX-License-Identifier: MIT */
/*
 * The arm64 guest's side of the architecture layer: every device register is
 * MMIO in the device block (Device-nGnRE), a vCPU ends with a write to the
 * halt register, the stack pointer is sp. The rest of the guest reaches the
 * hardware only through this header and guest/arch_interface.h.
 */
#ifndef GUEST_ARCH_ARM64_H
#define GUEST_ARCH_ARM64_H

#include <stdint.h>

#include "arch_interface.h"
#include "gmemvm_abi.h"

/* A conversion call names one granule: a range of none is not a call. */
#define ARCH_CONVERSION_CALL_NEEDS_PAGES 1

/*
 * The hostile step's device space (guest/hostile.c): the page of device
 * registers and the one after it. Device memory refuses unaligned accesses
 * with an alignment fault in the guest, so accesses there are aligned. The
 * entry and halt registers are the VMM's own and never attacked: a write to
 * halt ends the vCPU.
 */
#define ARCH_DEVICES_ARE_MMIO	   1
#define ARCH_DEVICE_ACCESS_ALIGNED 1
#define ARCH_DEVICE_WINDOW_BASE	   0xd0001000ULL
#define ARCH_DEVICE_WINDOW_SIZE	   0x2000ULL
#define ARCH_DEVICE_RESERVED_BASE  GMEMVM_DEVICE_ENTRY
#define ARCH_DEVICE_RESERVED_SIZE  0x20ULL
#define ARCH_DEVICE_NOBODY	   0xd0002800ULL
#define ARCH_DEVICE_EDGES                                                                          \
	{                                                                                          \
		0xd0001008ULL, 0xd000100cULL, 0xd0001ff8ULL, 0xd0001ffcULL, 0xd0002004ULL,         \
			0xd0002008ULL, 0xd000200cULL, 0xd0002014ULL, 0xd0002018ULL, 0xd000201cULL, \
			0xd0002800ULL, 0xd0002ffcULL                                               \
	}

/* The barriers: the VMM reads guest RAM (a request block) on the exit, so
 * every store before the access is visible first ("memory" and dsb). */
static inline void device_write(uint64_t address, uint32_t value, unsigned int width)
{
	__asm__ volatile("dsb sy" : : : "memory");
	if (width == 1)
		__asm__ volatile("strb %w0, [%1]" : : "r"(value), "r"(address) : "memory");
	else if (width == 2)
		__asm__ volatile("strh %w0, [%1]" : : "r"(value), "r"(address) : "memory");
	else
		__asm__ volatile("str %w0, [%1]" : : "r"(value), "r"(address) : "memory");
}

static inline uint32_t device_read(uint64_t address, unsigned int width)
{
	uint32_t value;

	if (width == 1)
		__asm__ volatile("ldrb %w0, [%1]" : "=r"(value) : "r"(address) : "memory");
	else if (width == 2)
		__asm__ volatile("ldrh %w0, [%1]" : "=r"(value) : "r"(address) : "memory");
	else
		__asm__ volatile("ldr %w0, [%1]" : "=r"(value) : "r"(address) : "memory");
	return value;
}

/* The halt register is this architecture's HLT (gmemvm_arch_abi.h). */
static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		device_write(GMEMVM_DEVICE_HALT, 0, 1);
}

static inline void cpu_relax(void)
{
	__asm__ volatile("yield" : : : "memory");
}

static inline uint64_t arch_stack_pointer(void)
{
	uint64_t sp;

	__asm__ volatile("mov %0, sp" : "=r"(sp));
	return sp;
}

/* The exit-path benchmark: left round trips of a 32-bit store and load of
 * the echo register, five instructions each. Returns the last value read. */
static inline uint32_t arch_echo_round_trips(uint32_t value, uint64_t left)
{
	uint32_t got = value;

	__asm__ volatile("1: str %w[value], [%[reg]]\n\t"
			 "ldr %w[got], [%[reg]]\n\t"
			 "cmp %w[got], %w[value]\n\t"
			 "b.ne 2f\n\t"
			 "subs %[left], %[left], #1\n\t"
			 "b.ne 1b\n"
			 "2:"
			 : [got] "+r"(got), [left] "+r"(left)
			 : [value] "r"(value), [reg] "r"(GMEMVM_DEVICE_TESTDEV)
			 : "cc", "memory");
	return got;
}

#endif
