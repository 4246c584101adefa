// SPDX-License-Identifier: MIT
#include "devtree.h"

#include <libfdt.h>
#include <stdio.h>

#include "gmemvm_abi.h"

/* libfdt calls return negative FDT_ERR_* codes; stop at the first one. */
#define TRY(call)                                                                                  \
	do {                                                                                       \
		int status_ = (call);                                                              \
		if (status_ < 0) {                                                                 \
			snprintf(err, err_size, "device tree: %s: %s", #call,                      \
				 fdt_strerror(status_));                                           \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

static int add_device(void *fdt, const char *name, const char *compatible, uint32_t port,
		      char *err, size_t err_size)
{
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", compatible));
	TRY(fdt_property_u32(fdt, GMEMVM_FDT_PROP_PORT, port));
	return 0;
}

static int add_steps(void *fdt, const struct scenario *scenario, char *err, size_t err_size)
{
	TRY(fdt_begin_node(fdt, "steps"));
	for (int i = 0; i < scenario->nr_steps; i++) {
		const struct step *step = &scenario->steps[i];
		char name[16];
		snprintf(name, sizeof(name), "step@%d", i + 1);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "op", config_step_op_name(step->op)));
		TRY(fdt_property_u64(fdt, "addr", step->addr));
		TRY(fdt_property_u64(fdt, "size", step->size));
		TRY(fdt_property_u32(fdt, "pattern", step->pattern));
		TRY(fdt_property_u32(fdt, "vcpu",
				     step->vcpu == STEP_VCPU_ALL ? GMEMVM_FDT_VCPU_ALL
								 : (uint32_t)step->vcpu));
		if (step->view == VIEW_SHARED)
			TRY(fdt_property_string(fdt, "view", "shared"));
		if (step->op == STEP_SHARE || step->op == STEP_UNSHARE)
			TRY(fdt_property_u32(fdt, "result", (uint32_t)step->expect_result));
		if (step->op == STEP_FLIP || step->op == STEP_HOSTILE)
			TRY(fdt_property_u32(fdt, "count", step->count));
		TRY(fdt_end_node(fdt));
	}
	TRY(fdt_end_node(fdt));
	return 0;
}

int devtree_build(void *buffer, size_t size, const struct scenario *scenario,
		  unsigned int shared_bit, char *err, size_t err_size)
{
	void *fdt = buffer;
	TRY(fdt_create(fdt, (int)size));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_string(fdt, "compatible", "gmemvm,virt"));
	TRY(fdt_property_string(fdt, "model", scenario->name));

	TRY(fdt_begin_node(fdt, "chosen"));
	TRY(fdt_property_u32(fdt, "gmemvm,vcpus", (uint32_t)scenario->vcpus));
	TRY(fdt_property_string(fdt, "stdout-path", "/serial@3f8"));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "memory@0"));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	fdt64_t reg[2] = {cpu_to_fdt64(0), cpu_to_fdt64(scenario->memory_size)};
	TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	TRY(fdt_end_node(fdt));

	if (add_device(fdt, "serial@3f8", "ns16550a", GMEMVM_PORT_SERIAL, err, err_size) < 0)
		return -1;
	TRY(fdt_end_node(fdt));
	if (add_device(fdt, "hypercall@500", "gmemvm,hypercall-port", GMEMVM_PORT_HYPERCALL, err,
		       err_size) < 0)
		return -1;
	TRY(fdt_end_node(fdt));
	if (add_device(fdt, "testdev@d0000000", "gmemvm,testdev", GMEMVM_PORT_TESTDEV, err,
		       err_size) < 0)
		return -1;
	fdt64_t testdev_reg[2] = {cpu_to_fdt64(GMEMVM_TESTDEV_MMIO_GPA),
				  cpu_to_fdt64(GMEMVM_TESTDEV_MMIO_SIZE)};
	TRY(fdt_property(fdt, "reg", testdev_reg, sizeof(testdev_reg)));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "gmemvm"));
	TRY(fdt_property_string(fdt, "mode", config_mode_name(scenario->mode)));
	TRY(fdt_property_u32(fdt, "stage", (uint32_t)scenario->stage));
	TRY(fdt_property_u64(fdt, "data-start", GMEMVM_DATA_GPA));
	if (shared_bit)
		TRY(fdt_property_u32(fdt, GMEMVM_FDT_PROP_SHARED_BIT, shared_bit));
	if (add_steps(fdt, scenario, err, err_size) < 0)
		return -1;
	TRY(fdt_end_node(fdt)); /* gmemvm */

	TRY(fdt_end_node(fdt)); /* root */
	TRY(fdt_finish(fdt));
	return 0;
}
