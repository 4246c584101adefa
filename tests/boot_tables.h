/* SPDX-License-Identifier: MIT */
/*
 * What both architectures' tests of arch_write_boot_tables() need: the boot
 * area written afresh, and one 64-bit entry of it read back.
 */
#ifndef GMEMVM_TESTS_BOOT_TABLES_H
#define GMEMVM_TESTS_BOOT_TABLES_H

#include <stdint.h>
#include <string.h>

#include "arch/arch.h"

static uint8_t boot_area[ARCH_BOOT_TABLES_SIZE];

/* The boot area as the architecture writes it for vcpus and shared_bit. */
static inline const uint8_t *boot_tables(int vcpus, unsigned int shared_bit)
{
	memset(boot_area, 0, sizeof(boot_area));
	arch_write_boot_tables(boot_area, vcpus, shared_bit);
	return boot_area;
}

/* The 64-bit table entry at gpa of the boot area. */
static inline uint64_t boot_table_entry(uint64_t gpa)
{
	uint64_t value;
	memcpy(&value, boot_area + gpa, sizeof(value));
	return value;
}

#endif
