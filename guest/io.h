/* SPDX-License-Identifier: MIT */
/*
 * Device registers, halting and a spinlock for the gmemvm guest. The device
 * accesses are the architecture's (guest/arch/ARCH/arch.h: ports on x86,
 * MMIO on arm64); the spinlock is the same everywhere.
 */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#include <stdint.h>

#include "gmemvm_abi.h"
#include "arch.h"

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
