// SPDX-License-Identifier: MIT
/*
 * Unit tests of the x86-64 architecture layer (vmm/arch/x86/): the boot
 * tables the guest runs on, the shared-view bit for each width, and the
 * words of a reported exception. No KVM here.
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

/* The identity map covers 4 GiB in 2 MiB pages; the shared alias maps
 * GPA | 1 << bit onto the same RAM; each vCPU gets a TSS and a canary. */
static void test_boot_tables(void **state)
{
	(void)state;
	boot_tables(2, 44);
	assert_int_equal(boot_table_entry(GMEMVM_PML4_GPA) & ~0xfffULL, GMEMVM_PDPT_GPA);
	uint64_t last = boot_table_entry(GMEMVM_PD_GPA + 3 * 0x1000 + 511 * 8);
	assert_int_equal(last & ~0xfffULL, 0xffe00000ULL);
	uint64_t alias = boot_table_entry(GMEMVM_PML4_GPA + ((1ULL << 44) >> 39) * 8);
	assert_int_equal(alias & ~0xfffULL, GMEMVM_SHARED_PDPT_GPA);
	assert_int_equal(boot_table_entry(GMEMVM_SHARED_PD_GPA) & ~0xfffULL, 1ULL << 44);
	assert_int_equal(boot_table_entry(GMEMVM_TLS_GPA + GMEMVM_TLS_SIZE + 0x28),
			 GMEMVM_STACK_CANARY);
	assert_int_not_equal(boot_table_entry(GMEMVM_GDT_GPA + GMEMVM_SELECTOR_TSS(1)), 0);
	/* Without a shared bit, no alias entry. */
	boot_tables(1, 0);
	assert_int_equal(boot_table_entry(GMEMVM_PML4_GPA + 8 * 32), 0);
}

/* Two below the width, at most 46, none below 39. */
static void test_shared_bit(void **state)
{
	(void)state;
	static const struct {
		unsigned int bits, shared_bit;
	} cases[] = { { 52, 46 }, { 48, 46 }, { 46, 44 }, { 41, 39 }, { 40, 0 }, { 36, 0 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(arch_shared_bit(cases[i].bits), cases[i].shared_bit);
}

static void test_exception_words(void **state)
{
	(void)state;
	char text[64];
	arch_describe_exception(0x72, 0x100123, text, sizeof(text));
	assert_string_equal(text, "#GP, error code 0x72, rip 0x100123");
	assert_string_equal(arch_name, "x86_64");
	assert_int_equal(arch_device_space, IOTRAP_PIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_tables),
		cmocka_unit_test(test_shared_bit),
		cmocka_unit_test(test_exception_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
