/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 guest's side of the architecture layer: device registers are
 * ports, a vCPU ends with HLT, the stack pointer is rsp. The rest of the
 * guest reaches the hardware only through this header and guest/arch.h.
 */
#ifndef GUEST_ARCH_X86_H
#define GUEST_ARCH_X86_H

#include <stdint.h>

#include "arch_interface.h"
#include "gmemvm_abi.h"

/*
 * The hostile step's device space (guest/hostile.c): every port, a few
 * classics and the ports that straddle the VMM's ranges; 0x80 (POST codes)
 * stands in for an edge that falls inside a handled range. Ports take any
 * alignment.
 */
/* MAP_GPA_RANGE takes a page count, 0 included (KVM refuses it itself). */
#define ARCH_CONVERSION_CALL_NEEDS_PAGES 0

#define ARCH_DEVICES_ARE_MMIO	   0
#define ARCH_DEVICE_ACCESS_ALIGNED 0
#define ARCH_DEVICE_WINDOW_BASE	   0ULL
#define ARCH_DEVICE_WINDOW_SIZE	   0x10000ULL
#define ARCH_DEVICE_RESERVED_BASE  GMEMVM_DEVICE_ENTRY /* the entry port: the VMM's timestamp */
#define ARCH_DEVICE_RESERVED_SIZE  0ULL
#define ARCH_DEVICE_NOBODY	   0x80ULL
#define ARCH_DEVICE_EDGES                                                                          \
	{                                                                                          \
		0x0, 0x80, 0x1234, 0xfff0, 0x3f0, 0x3f6, 0x3f7, 0x3ff, 0x400, 0x4fe, 0x4ff, 0x502, \
			0x503, 0x504, 0x50e, 0x50f, 0x511, 0x512, 0x513, 0x514, 0xcf8              \
	}

/* "memory": the VMM reads guest RAM (a request block) on the exit. */
static inline void device_write(uint64_t address, uint32_t value, unsigned int width)
{
	uint16_t port = (uint16_t)address;

	if (width == 1)
		__asm__ volatile("outb %0, %1" : : "a"((uint8_t)value), "Nd"(port) : "memory");
	else if (width == 2)
		__asm__ volatile("outw %0, %1" : : "a"((uint16_t)value), "Nd"(port) : "memory");
	else
		__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint32_t device_read(uint64_t address, unsigned int width)
{
	uint16_t port = (uint16_t)address;
	uint32_t value;

	if (width == 1) {
		uint8_t byte;
		__asm__ volatile("inb %1, %0" : "=a"(byte) : "Nd"(port) : "memory");
		value = byte;
	} else if (width == 2) {
		uint16_t half;
		__asm__ volatile("inw %1, %0" : "=a"(half) : "Nd"(port) : "memory");
		value = half;
	} else {
		__asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port) : "memory");
	}
	return value;
}

/* Interrupts are off and never enabled, so a halted vCPU stays halted. */
static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("hlt" : : : "memory");
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline uint64_t arch_stack_pointer(void)
{
	uint64_t rsp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
	return rsp;
}

/*
 * The exit-path benchmark (docs/performance.md): left round trips of a
 * 32-bit write and read of the test device's echo register, six
 * instructions each, since every one is emulated on PVM hosts. Returns the
 * last value read (value itself when every read matched).
 */
static inline uint32_t arch_echo_round_trips(uint32_t value, uint64_t left)
{
	uint32_t got = value;

	__asm__ volatile("1: outl %%eax, %%dx\n\t"
			 "inl %%dx, %%eax\n\t"
			 "cmpl %%eax, %[value]\n\t"
			 "jne 2f\n\t"
			 "dec %[left]\n\t"
			 "jnz 1b\n"
			 "2:"
			 : "+a"(got), [left] "+r"(left)
			 : [value] "r"(value), "d"((uint16_t)GMEMVM_DEVICE_TESTDEV)
			 : "cc", "memory");
	return got;
}

#endif
