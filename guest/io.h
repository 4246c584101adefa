/* SPDX-License-Identifier: MIT */
/* Port IO, halt and a spinlock for the gmemvm guest. */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t val)
{
	__asm__ volatile("outb %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

/* The "memory" clobber matters: the VMM reads guest RAM (hypercall block) on this exit. */
static inline void outl(uint16_t port, uint32_t val)
{
	__asm__ volatile("outl %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t val)
{
	__asm__ volatile("outw %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t val;

	__asm__ volatile("inw %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t val;

	__asm__ volatile("inb %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t val;

	__asm__ volatile("inl %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline void hlt(void)
{
	__asm__ volatile("hlt" : : : "memory");
}

/* Interrupts are off and never enabled, so a halted vCPU stays halted. */
static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		hlt();
}

/* A port write of 1, 2 or 4 bytes (the hostile guest tries every width). */
static inline void port_out(uint16_t port, uint32_t value, unsigned int width)
{
	if (width == 1)
		outb(port, (uint8_t)value);
	else if (width == 2)
		outw(port, (uint16_t)value);
	else
		outl(port, value);
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

struct spinlock {
	int locked;
};

#define SPINLOCK_INIT \
	{             \
		0     \
	}

static inline void spin_lock(struct spinlock *l)
{
	/* Test-and-test-and-set: spin on a plain load so waiters do not bounce the line. */
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
	}
}

static inline void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#endif
