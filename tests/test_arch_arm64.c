// SPDX-License-Identifier: MIT
/*
 * Unit tests of the arm64 architecture layer (vmm/arch/arm64/): the stage-1
 * tables the guest turns its MMU on with, the shared-view bit, the words of
 * a reported exception, and the halt register taken as the vCPU's HLT. No
 * KVM here (they run under qemu-aarch64 in scripts/build-arm64 --test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/arch.h"
#include "boot_tables.h"
#include "gmemvm_abi.h"

/* Level 0 points at the identity level-1 table: three GiB of normal memory,
 * then the device GiB, never executable; with bit 39, entry 1 is the alias. */
static void test_boot_tables(void **state)
{
	(void)state;
	boot_tables(4, 39);
	assert_int_equal(boot_table_entry(GMEMVM_L0_TABLE_GPA), GMEMVM_L1_TABLE_GPA | 3);
	assert_int_equal(boot_table_entry(GMEMVM_L0_TABLE_GPA + 8), GMEMVM_L1_SHARED_TABLE_GPA | 3);
	for (uint64_t block = 0; block < 3; block++) {
		uint64_t entry = boot_table_entry(GMEMVM_L1_TABLE_GPA + block * 8);
		assert_int_equal(entry & 0xfffffc0000000ULL, block << 30);
		assert_int_equal((entry >> 2) & 7, 1); /* normal memory */
		uint64_t alias = boot_table_entry(GMEMVM_L1_SHARED_TABLE_GPA + block * 8);
		assert_int_equal(alias & 0xfffffc0000000ULL, 1ULL << 39 | block << 30);
	}
	uint64_t device = boot_table_entry(GMEMVM_L1_TABLE_GPA + 3 * 8);
	assert_int_equal(device & 0xfffffc0000000ULL, GMEMVM_DEVICE_BLOCK_GPA);
	assert_int_equal((device >> 2) & 7, 0); /* device memory */
	assert_true(device & (1ULL << 54));	/* not executable */
	assert_true(GMEMVM_DEVICE_SERIAL >= GMEMVM_DEVICE_BLOCK_GPA);
	boot_tables(1, 0);
	assert_int_equal(boot_table_entry(GMEMVM_L0_TABLE_GPA + 8), 0);
}

static void test_shared_bit(void **state)
{
	(void)state;
	assert_int_equal(arch_shared_bit(40), 39);
	assert_int_equal(arch_shared_bit(48), 39);
	assert_int_equal(arch_shared_bit(36), 0);
}

static void test_exception_words(void **state)
{
	(void)state;
	char text[64];
	arch_describe_exception(0x96000045, 0xdead000, text, sizeof(text));
	assert_string_equal(text, "data abort, ESR 0x96000045, FAR 0xdead000");
	assert_string_equal(arch_name, "arm64");
	assert_int_equal(arch_device_space, IOTRAP_MMIO);
}

/* A write to the halt register ends the vCPU as HLT does on x86, counted as
 * one; any other MMIO exit is the devices'. */
static void test_halt_register(void **state)
{
	(void)state;
	static uint8_t buffer[8192];
	struct kvm_run *run = (struct kvm_run *)buffer;
	struct exit_context context = { .vcpu = 0 };
	enum exit_action action = EXIT_ACTION_CONTINUE;
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = GMEMVM_DEVICE_SERIAL;
	run->mmio.is_write = 1;
	run->mmio.len = 1;
	assert_false(arch_exit_mmio(&context, run, &action));
	run->mmio.phys_addr = GMEMVM_DEVICE_HALT;
	assert_true(arch_exit_mmio(&context, run, &action));
	assert_int_equal(action, EXIT_ACTION_STOP);
	assert_int_equal(context.exits[EXIT_KIND_HLT], 1);
	assert_int_equal(context.outcome, OUTCOME_GUEST_FAILED); /* halted without a report */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_tables),
		cmocka_unit_test(test_shared_bit),
		cmocka_unit_test(test_exception_words),
		cmocka_unit_test(test_halt_register),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
