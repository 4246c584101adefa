// SPDX-License-Identifier: MIT
/*
 * Unit tests of the device tree handed to the guest (vmm/devtree.c). A
 * scenario filled by hand is built into a blob, read back with libfdt the
 * way the guest reads it, and decompiled with dtc as an independent check
 * that the blob is well formed.
 */
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libfdt.h>

#include "config.h"
#include "console.h"
#include "arch/arch.h"
#include "devtree.h"
#include "gmemvm_abi.h"
#include "hypercall.h"
#include "iotrap.h"
#include "testdev.h"

static struct scenario sc;
static uint8_t blob[GMEMVM_FDT_MAX_SIZE];
static struct gmemvm_error error;

static const struct step sample_steps[] = {
	{ .op = GMEMVM_STEP_WRITE, .addr = 0x200000, .size = 0x1000, .pattern = 0x11, .vcpu = 0 },
	{ .op = GMEMVM_STEP_VERIFY,
	  .addr = 0x300000,
	  .size = 0x2000,
	  .pattern = 0xdeadbeef,
	  .vcpu = STEP_VCPU_ALL },
	{ .op = GMEMVM_STEP_MMIO,
	  .addr = GMEMVM_TESTDEV_MMIO_GPA,
	  .size = 8,
	  .pattern = 7,
	  .vcpu = 3 },
	{ .op = GMEMVM_STEP_PIO,
	  .addr = GMEMVM_DEVICE_TESTDEV,
	  .size = 4,
	  .pattern = 0x55aa,
	  .vcpu = 1 },
};

#define NR_SAMPLE_STEPS ((int)(sizeof(sample_steps) / sizeof(sample_steps[0])))

/* Build sc into blob with the devices vm.c registers, each giving its own node. */
static int build_with_devices(void)
{
	struct iotrap_registry traps;
	struct console console;
	struct hypercall_device hypercalls;
	struct testdev testdev;
	iotrap_init(&traps);
	console_init(&console, NULL);
	hypercall_init(&hypercalls, NULL, NULL);
	testdev_init(&testdev);
	struct devtree_host host = { .devices = &traps };
	int status = console_register(&console, &traps);
	if (status == 0)
		status = hypercall_register(&hypercalls, &traps);
	if (status == 0)
		status = testdev_register(&testdev, &traps);
	if (status == 0)
		status = devtree_build_for_host(blob, sizeof(blob), &sc, &host, &error);
	testdev_destroy(&testdev);
	hypercall_destroy(&hypercalls);
	console_destroy(&console);
	return status;
}

/* Shared mode, stage 2, 32M, 4 vCPUs and the sample steps, built into blob. */
static int build_sample(void **state)
{
	(void)state;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "devtree-sample");
	sc.mode = MODE_SHARED;
	sc.stage = 2;
	sc.memory_size = 32ULL << 20;
	sc.vcpus = 4;
	memcpy(sc.steps, sample_steps, sizeof(sample_steps));
	sc.nr_steps = NR_SAMPLE_STEPS;
	memset(blob, 0, sizeof(blob));
	if (build_with_devices() < 0) {
		print_error("devtree_build_for_host: %s\n", error.message);
		return -1;
	}
	return 0;
}

static int node(const char *path)
{
	int offset = fdt_path_offset(blob, path);
	if (offset < 0)
		fail_msg("%s: %s", path, fdt_strerror(offset));
	return offset;
}

static const void *prop(const char *path, const char *name, int expected_len)
{
	int len;
	const void *value = fdt_getprop(blob, node(path), name, &len);
	if (!value)
		fail_msg("%s %s: %s", path, name, fdt_strerror(len));
	if (expected_len >= 0)
		assert_int_equal(len, expected_len);
	return value;
}

static uint32_t prop_u32(const char *path, const char *name)
{
	return fdt32_ld(prop(path, name, sizeof(fdt32_t)));
}

static uint64_t prop_u64(const char *path, const char *name)
{
	return fdt64_ld(prop(path, name, sizeof(fdt64_t)));
}

/* Cell i of a reg-like property; properties are only 4-byte aligned. */
static uint64_t u64_at(const void *value, int i)
{
	return fdt64_ld((const fdt64_t *)((const uint8_t *)value + i * sizeof(fdt64_t)));
}

static const char *prop_string(const char *path, const char *name)
{
	int len;
	const char *value = fdt_getprop(blob, node(path), name, &len);
	if (!value)
		fail_msg("%s %s: %s", path, name, fdt_strerror(len));
	/* One NUL-terminated string filling the whole property. */
	assert_int_equal(strnlen(value, (size_t)len) + 1, len);
	return value;
}

/* A property of a step node, of exactly len bytes. */
static const void *step_prop(int step, const char *name, int expected_len)
{
	int len;
	const void *value = fdt_getprop(blob, step, name, &len);
	if (!value)
		fail_msg("%s %s: %s", fdt_get_name(blob, step, NULL), name, fdt_strerror(len));
	if (expected_len >= 0)
		assert_int_equal(len, expected_len);
	return value;
}

static void test_header_is_valid(void **state)
{
	(void)state;
	assert_int_equal(fdt_check_header(blob), 0);
	assert_true(fdt_totalsize(blob) <= GMEMVM_FDT_MAX_SIZE);
	assert_int_equal(fdt_num_mem_rsv(blob), 0);
	assert_string_equal(prop_string("/", "compatible"), "gmemvm,virt");
	assert_string_equal(prop_string("/", "model"), "devtree-sample");
	assert_int_equal(prop_u32("/", "#address-cells"), 2);
	assert_int_equal(prop_u32("/", "#size-cells"), 2);
}

/* reg is <address size> in two cells each: two big-endian u64. */
static void test_memory_node(void **state)
{
	(void)state;
	const void *reg = prop("/memory@0", "reg", 2 * sizeof(fdt64_t));

	assert_string_equal(prop_string("/memory@0", "device_type"), "memory");
	assert_int_equal(u64_at(reg, 0), 0);
	assert_int_equal(u64_at(reg, 1), 32ULL << 20);
}

/* The node paths of the three devices: unit addresses from the ABI. */
static char serial_path[32], hypercall_path[32];
#define TESTDEV_PATH "/testdev@d0000000"

static void device_paths(void)
{
	snprintf(serial_path, sizeof(serial_path), "/serial@%llx",
		 (unsigned long long)GMEMVM_DEVICE_SERIAL);
	snprintf(hypercall_path, sizeof(hypercall_path), "/hypercall@%llx",
		 (unsigned long long)GMEMVM_DEVICE_HYPERCALL);
}

/* Where a device's registers are, as the guest reads it: the port property
 * on x86, the last entry of reg where devices are MMIO (arm64). */
static uint64_t device_registers(const char *path, int reg_entries)
{
	if (arch_device_space == IOTRAP_PIO)
		return prop_u32(path, GMEMVM_FDT_PROP_PORT);
	const void *reg = prop(path, "reg", reg_entries * 2 * (int)sizeof(fdt64_t));
	return u64_at(reg, 2 * (reg_entries - 1));
}

static void test_chosen_node(void **state)
{
	(void)state;
	device_paths();
	assert_int_equal(prop_u32("/chosen", "gmemvm,vcpus"), 4);
	assert_string_equal(prop_string("/chosen", "stdout-path"), serial_path);
	/* stdout-path names a node that exists. */
	node(prop_string("/chosen", "stdout-path"));
}

static void test_device_nodes_carry_abi_addresses(void **state)
{
	(void)state;
	const void *reg;
	int mmio_registers = arch_device_space == IOTRAP_MMIO;

	device_paths();
	assert_string_equal(prop_string(serial_path, "compatible"), "ns16550a");
	assert_int_equal(device_registers(serial_path, 1), GMEMVM_DEVICE_SERIAL);
	assert_string_equal(prop_string(hypercall_path, "compatible"), "gmemvm,hypercall-port");
	assert_int_equal(device_registers(hypercall_path, 1), GMEMVM_DEVICE_HYPERCALL);
	assert_string_equal(prop_string(TESTDEV_PATH, "compatible"), "gmemvm,testdev");
	assert_int_equal(device_registers(TESTDEV_PATH, 1 + mmio_registers), GMEMVM_DEVICE_TESTDEV);
	reg = prop(TESTDEV_PATH, "reg", (2 + 2 * mmio_registers) * (int)sizeof(fdt64_t));
	assert_int_equal(u64_at(reg, 0), GMEMVM_TESTDEV_MMIO_GPA);
	assert_int_equal(u64_at(reg, 1), GMEMVM_TESTDEV_MMIO_SIZE);
	/* Devices are siblings under the root, not nested in one another. */
	assert_int_equal(fdt_parent_offset(blob, node(TESTDEV_PATH)), 0);
	assert_int_equal(fdt_parent_offset(blob, node(hypercall_path)), 0);
}

/* Device nodes are what the registered devices say of themselves, in
 * registration order; with none registered there are none, and no stdout-path. */
static void test_device_nodes_from_registry(void **state)
{
	(void)state;
	const char *order[] = { serial_path + 1, hypercall_path + 1, TESTDEV_PATH + 1 };
	int child, i = 0;

	device_paths();
	fdt_for_each_subnode(child, blob, 0) {
		const char *name = fdt_get_name(blob, child, NULL);
		if (fdt_getprop(blob, child, "compatible", NULL)) {
			assert_true(i < 3);
			assert_string_equal(name, order[i++]);
		}
	}
	assert_int_equal(i, 3);

	assert_int_equal(devtree_build(blob, sizeof(blob), &sc, 0, &error), 0);
	assert_true(fdt_path_offset(blob, serial_path) < 0);
	assert_null(fdt_getprop(blob, node("/chosen"), "stdout-path", NULL));
}

static void test_gmemvm_node(void **state)
{
	(void)state;
	assert_string_equal(prop_string(GMEMVM_FDT_NODE, "mode"), "shared");
	assert_int_equal(prop_u32(GMEMVM_FDT_NODE, "stage"), 2);
	assert_int_equal(prop_u64(GMEMVM_FDT_NODE, "data-start"), GMEMVM_DATA_GPA);
}

/* The guest runs the steps in node order, so order and numbering matter. */
static void test_steps_in_order(void **state)
{
	(void)state;
	int steps = node(GMEMVM_FDT_STEPS_NODE);
	int child, i = 0;

	fdt_for_each_subnode(child, blob, steps) {
		const struct step *want = &sample_steps[i];
		char name[16];

		assert_true(i < NR_SAMPLE_STEPS);
		snprintf(name, sizeof(name), "step@%d", i + 1);
		assert_string_equal(fdt_get_name(blob, child, NULL), name);
		assert_int_equal(fdt32_ld(step_prop(child, "op", 4)), want->op);
		assert_int_equal(fdt64_ld(step_prop(child, "addr", 8)), want->addr);
		assert_int_equal(fdt64_ld(step_prop(child, "size", 8)), want->size);
		assert_int_equal(fdt32_ld(step_prop(child, "pattern", 4)), want->pattern);
		assert_int_equal(fdt32_ld(step_prop(child, "vcpu", 4)),
				 want->vcpu == STEP_VCPU_ALL ? GMEMVM_FDT_VCPU_ALL
							     : (uint32_t)want->vcpu);
		i++;
	}
	assert_int_equal(child, -FDT_ERR_NOTFOUND);
	assert_int_equal(i, NR_SAMPLE_STEPS);
	/* step 2 is the vcpu = all one: the ABI spells it 0xffffffff. */
	assert_int_equal(prop_u32(GMEMVM_FDT_STEPS_NODE "/step@2", "vcpu"), 0xffffffffU);
}

/* Every mode round-trips by its config name. */
static void test_every_mode_name(void **state)
{
	(void)state;
	enum vm_mode modes[] = { MODE_COCO_LEGACY, MODE_SHARED, MODE_PKVM, MODE_COCO_INPLACE };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		sc.mode = modes[i];
		sc.stage = 1;
		assert_int_equal(devtree_build(blob, sizeof(blob), &sc, 0, &error), 0);
		assert_string_equal(prop_string(GMEMVM_FDT_NODE, "mode"),
				    config_mode_name(modes[i]));
		assert_int_equal(prop_u32(GMEMVM_FDT_NODE, "stage"), 1);
	}
}

static char *read_text(const char *path)
{
	FILE *file = fopen(path, "r");
	char *text;
	long size;

	assert_non_null(file);
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	size = ftell(file);
	assert_true(size >= 0);
	rewind(file);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
	fclose(file);
	return text;
}

/* dtc is a second, independent parser: the blob must decompile cleanly. */
static void test_dtc_decompiles(void **state)
{
	(void)state;
	char dtb[] = "/tmp/gmemvm-dt-XXXXXX.dtb";
	char dts[] = "/tmp/gmemvm-dt-XXXXXX.dts";
	char log[] = "/tmp/gmemvm-dt-XXXXXX.log";
	char command[512];
	int fd, status;
	char *text, *messages;

	if (system("command -v dtc >/dev/null 2>&1") != 0)
		fail_msg("dtc not found: install Debian's device-tree-compiler package");

	fd = mkstemps(dtb, 4);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, blob, fdt_totalsize(blob)), (ssize_t)fdt_totalsize(blob));
	close(fd);
	fd = mkstemps(dts, 4);
	assert_true(fd >= 0);
	close(fd);
	fd = mkstemps(log, 4);
	assert_true(fd >= 0);
	close(fd);

	/* The paths come from mkstemps: no shell quoting needed. */
	snprintf(command, sizeof(command), "dtc -I dtb -O dts -o %s %s 2>%s", dts, dtb, log);
	status = system(command);
	text = read_text(dts);
	messages = read_text(log);
	unlink(dtb);
	unlink(dts);
	unlink(log);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("dtc failed (status %#x): %s", (unsigned)status, messages);

	assert_non_null(strstr(text, "/dts-v1/;"));
	assert_non_null(strstr(text, "mode = \"shared\";"));
	assert_non_null(strstr(text, "compatible = \"ns16550a\";"));
	assert_non_null(strstr(text, "compatible = \"gmemvm,testdev\";"));
	assert_non_null(strstr(text, "memory@0 {"));
	assert_non_null(strstr(text, "steps {"));
	assert_non_null(strstr(text, "step@1 {"));
	assert_non_null(strstr(text, "step@4 {"));
	assert_null(strstr(text, "step@5 {"));
	/* vcpu = all, as dtc prints a u32 cell. */
	assert_non_null(strstr(text, "vcpu = <0xffffffff>;"));
	free(text);
	free(messages);
}

/* Too small a buffer is refused with libfdt's own reason, not overrun. */
static void test_buffer_too_small(void **state)
{
	(void)state;
	uint8_t small[64 + 16];

	memset(small, 0x5a, sizeof(small));
	memset(&error, 0, sizeof(error));
	assert_int_equal(devtree_build(small, 64, &sc, 0, &error), -ENOSPC);
	assert_false(error.refused);
	assert_non_null(strstr(error.message, "device tree"));
	assert_non_null(strstr(error.message, fdt_strerror(-FDT_ERR_NOSPACE)));
	for (size_t i = 64; i < sizeof(small); i++)
		assert_int_equal(small[i], 0x5a);
}

/* Also a buffer smaller than the FDT header itself. */
static void test_buffer_smaller_than_header(void **state)
{
	(void)state;
	uint8_t tiny[16];

	memset(&error, 0, sizeof(error));
	assert_int_equal(devtree_build(tiny, sizeof(tiny), &sc, 0, &error), -ENOSPC);
	assert_non_null(strstr(error.message, "device tree"));
	assert_non_null(strstr(error.message, fdt_strerror(-FDT_ERR_NOSPACE)));
}

/* The largest scenario the config allows must fit where the VMM puts the tree. */
static void test_max_steps_fit(void **state)
{
	(void)state;
	int steps, child, count = 0;

	for (int i = 0; i < CONFIG_MAX_STEPS; i++)
		sc.steps[i] = (struct step){
			.op = (enum gmemvm_step_op)(i % 4),
			.addr = GMEMVM_DATA_GPA + (uint64_t)i * 0x1000,
			.size = 0x1000,
			.pattern = (uint32_t)i,
			.vcpu = i % 2 ? STEP_VCPU_ALL : i % GMEMVM_MAX_VCPUS,
		};
	sc.nr_steps = CONFIG_MAX_STEPS;
	sc.vcpus = GMEMVM_MAX_VCPUS; /* the steps name every vCPU */
	/* The longest name a scenario may have. */
	memset(sc.name, 'n', sizeof(sc.name) - 1);
	sc.name[sizeof(sc.name) - 1] = '\0';
	memset(blob, 0, sizeof(blob));
	if (devtree_build(blob, GMEMVM_FDT_MAX_SIZE, &sc, 0, &error) < 0)
		fail_msg("%s", error.message);
	assert_int_equal(fdt_check_header(blob), 0);
	assert_true(fdt_totalsize(blob) <= GMEMVM_FDT_MAX_SIZE);
	print_message("  %d steps: %u of %llu bytes\n", CONFIG_MAX_STEPS, fdt_totalsize(blob),
		      GMEMVM_FDT_MAX_SIZE);
	steps = node(GMEMVM_FDT_STEPS_NODE);
	fdt_for_each_subnode(child, blob, steps)
		count++;
	assert_int_equal(count, CONFIG_MAX_STEPS);
	assert_int_equal(prop_u32(GMEMVM_FDT_STEPS_NODE "/step@64", "pattern"), 63);
}

/*
 * The committed corpus in tests/bad-devtree (.txt files): each changes one field
 * of the sample scenario ("FIELD = VALUE") and names the error the builder
 * must give ("expect = ..."). The builder must refuse every one.
 */
static void apply_field(const char *field, const char *value)
{
	long long number = strtoll(value, NULL, 0);
	int index;
	char member[32];
	if (sscanf(field, "steps.%d.%31s", &index, member) == 2 && index >= 0 &&
	    index < CONFIG_MAX_STEPS) {
		if (strcmp(member, "op") == 0)
			sc.steps[index].op = (enum gmemvm_step_op)number;
		else if (strcmp(member, "vcpu") == 0)
			sc.steps[index].vcpu = (int)number;
		else if (strcmp(member, "view") == 0)
			sc.steps[index].view = (enum step_view)number;
		else
			fail_msg("unknown step field %s", member);
	} else if (strcmp(field, "nr_steps") == 0) {
		sc.nr_steps = (int)number;
	} else if (strcmp(field, "vcpus") == 0) {
		sc.vcpus = (int)number;
	} else if (strcmp(field, "mode") == 0) {
		sc.mode = (enum vm_mode)number;
	} else if (strcmp(field, "stage") == 0) {
		sc.stage = (int)number;
	} else if (strcmp(field, "memory_size") == 0) {
		sc.memory_size = (uint64_t)number;
	} else if (strcmp(field, "name") == 0) {
		memset(sc.name, 'x', sizeof(sc.name)); /* no terminating NUL anywhere */
	} else if (strcmp(field, "shared_bit") != 0) {
		fail_msg("unknown field %s", field);
	}
}

static void test_bad_devtree_corpus(void **state)
{
	(void)state;
	DIR *dir = opendir(TESTS_DIR "/bad-devtree");
	assert_non_null(dir);
	int files = 0;
	struct dirent *entry;
	while ((entry = readdir(dir))) {
		if (!strstr(entry->d_name, ".txt"))
			continue;
		char path[512], line[256], expect[128] = "";
		unsigned int shared_bit = 0;
		snprintf(path, sizeof(path), "%s/bad-devtree/%s", TESTS_DIR, entry->d_name);
		FILE *file = fopen(path, "r");
		assert_non_null(file);
		build_sample(NULL);
		while (fgets(line, sizeof(line), file)) {
			char field[64], value[128];
			if (line[0] == ';' || sscanf(line, "%63s = %127[^\n]", field, value) != 2)
				continue;
			if (strcmp(field, "expect") == 0)
				snprintf(expect, sizeof(expect), "%s", value);
			else if (strcmp(field, "shared_bit") == 0)
				shared_bit = (unsigned int)strtoul(value, NULL, 0);
			else
				apply_field(field, value);
		}
		fclose(file);
		memset(&error, 0, sizeof(error));
		if (devtree_build(blob, sizeof(blob), &sc, shared_bit, &error) != -EINVAL ||
		    !error.refused)
			fail_msg("%s: the builder accepted it, or did not refuse it",
				 entry->d_name);
		if (!expect[0] || !strstr(error.message, expect) ||
		    !strstr(error.message, "device tree: "))
			fail_msg("%s: error '%s' lacks '%s'", entry->d_name, error.message, expect);
		files++;
	}
	closedir(dir);
	assert_true(files >= 10);
}

/* One access to the console's UART at offset, through the registry as an exit would. */
static uint8_t uart_access(struct iotrap_registry *traps, uint64_t offset, bool write,
			   uint8_t value)
{
	const struct iotrap_range *range =
		iotrap_lookup(traps, arch_device_space, GMEMVM_DEVICE_SERIAL + offset, 1);
	assert_non_null(range);
	struct iotrap_access access = { .addr = GMEMVM_DEVICE_SERIAL + offset,
					.offset = offset,
					.size = 1,
					.is_write = write,
					.data = { value } };
	struct iotrap_reply reply = { 0 };
	range->handler(range->device, &access, &reply);
	return access.data[0];
}

/* The console is the 16550A its node says: the transmitter is always
 * empty, and IIR reports the FIFOs on once FCR enabled them, so the guest's
 * driver sends 16 bytes per line-status read (guest/serial.c). */
static void test_console_uart_fifo(void **state)
{
	(void)state;
	struct iotrap_registry traps;
	struct console console;
	iotrap_init(&traps);
	console_init(&console, NULL);
	assert_int_equal(console_register(&console, &traps), 0);
	assert_int_equal(uart_access(&traps, 5, false, 0) & 0x60, 0x60); /* LSR: THRE, TEMT */
	assert_int_equal(uart_access(&traps, 2, false, 0), 0x01);	 /* IIR: no FIFOs */
	uart_access(&traps, 2, true, 0x07);				 /* FCR: FIFOs on */
	assert_int_equal(uart_access(&traps, 2, false, 0), 0xc1);
	uart_access(&traps, 0, true, 'x');
	uart_access(&traps, 0, true, '\n');
	assert_string_equal(console.transcript, "x\n");
	uart_access(&traps, 2, true, 0x00); /* FCR: FIFOs off */
	assert_int_equal(uart_access(&traps, 2, false, 0), 0x01);
	console_destroy(&console);
}

#define TEST(f) cmocka_unit_test_setup(f, build_sample)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_header_is_valid),
		TEST(test_memory_node),
		TEST(test_chosen_node),
		TEST(test_device_nodes_carry_abi_addresses),
		TEST(test_device_nodes_from_registry),
		TEST(test_gmemvm_node),
		TEST(test_steps_in_order),
		TEST(test_every_mode_name),
		TEST(test_dtc_decompiles),
		TEST(test_buffer_too_small),
		TEST(test_buffer_smaller_than_header),
		TEST(test_max_steps_fit),
		cmocka_unit_test(test_bad_devtree_corpus),
		cmocka_unit_test(test_console_uart_fifo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
