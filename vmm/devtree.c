// SPDX-License-Identifier: MIT
#include "devtree.h"

#include "arch/arch.h"

#include <errno.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gmemvm_abi.h"
#include "iotrap.h"
#include "mode.h"

/* A libfdt call failed with status, a negative FDT_ERR_* code: the errno
 * that says it (-ENOSPC when the buffer is full), the call as the step, and
 * libfdt's own words. */
static int fdt_failed(struct gmemvm_error *error, const char *call, int status)
{
	return gmemvm_failf(error, status == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL, call,
			    "device tree: %s: %s", call, fdt_strerror(status));
}

/* libfdt calls return negative FDT_ERR_* codes; stop at the first one. */
#define TRY(call)                                                 \
	do {                                                      \
		int status_ = (call);                             \
		if (status_ < 0)                                  \
			return fdt_failed(error, #call, status_); \
	} while (0)

/* "serial@3f8": the unit address is the MMIO window's base, or else the registers'. */
static void device_path(const struct iotrap_node *device, char *path, size_t size)
{
	snprintf(path, size, "/%s@%" PRIx64, device->name,
		 device->mmio_size ? device->mmio_base : device->address);
}

static int add_device(void *fdt, const struct iotrap_node *device, struct gmemvm_error *error)
{
	char path[64];
	device_path(device, path, sizeof(path));
	TRY(fdt_begin_node(fdt, path + 1));
	TRY(fdt_property_string(fdt, "compatible", device->compatible));
	fdt64_t reg[4];
	int entries = 0;
	if (device->mmio_size) {
		reg[entries++] = cpu_to_fdt64(device->mmio_base);
		reg[entries++] = cpu_to_fdt64(device->mmio_size);
	}
	if (arch_device_space == IOTRAP_PIO) {
		TRY(fdt_property_u32(fdt, GMEMVM_FDT_PROP_PORT, (uint32_t)device->address));
	} else {
		reg[entries++] = cpu_to_fdt64(device->address);
		reg[entries++] = cpu_to_fdt64(device->address_size);
	}
	if (entries)
		TRY(fdt_property(fdt, "reg", reg, (int)(entries * sizeof(reg[0]))));
	TRY(fdt_end_node(fdt));
	return 0;
}

/* The console's path for /chosen stdout-path, if a device is the console. */
static bool console_path(const struct iotrap_registry *devices, char *path, size_t size)
{
	for (int i = 0; devices && i < devices->nr_nodes; i++) {
		if (devices->nodes[i]->console) {
			device_path(devices->nodes[i], path, size);
			return true;
		}
	}
	return false;
}

static int add_steps(void *fdt, const struct scenario *scenario, struct gmemvm_error *error)
{
	TRY(fdt_begin_node(fdt, "steps"));
	for (int i = 0; i < scenario->nr_steps; i++) {
		const struct step *step = &scenario->steps[i];
		char name[16];
		snprintf(name, sizeof(name), "step@%d", i + 1);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_u32(fdt, "op", (uint32_t)step->op));
		TRY(fdt_property_u64(fdt, "addr", step->addr));
		TRY(fdt_property_u64(fdt, "size", step->size));
		TRY(fdt_property_u32(fdt, "pattern", step->pattern));
		TRY(fdt_property_u32(fdt, "vcpu",
				     step->vcpu == STEP_VCPU_ALL ? GMEMVM_FDT_VCPU_ALL
								 : (uint32_t)step->vcpu));
		if (step->view == VIEW_SHARED)
			TRY(fdt_property_string(fdt, "view", "shared"));
		if (step->op == GMEMVM_STEP_SHARE || step->op == GMEMVM_STEP_UNSHARE ||
		    step->op == GMEMVM_STEP_HOLD || step->op == GMEMVM_STEP_RELEASE)
			TRY(fdt_property_u32(fdt, "result", (uint32_t)step->expect_result));
		if (step->op == GMEMVM_STEP_FLIP || step->op == GMEMVM_STEP_HOSTILE ||
		    step->op == GMEMVM_STEP_SCATTER)
			TRY(fdt_property_u32(fdt, "count", step->count));
		TRY(fdt_end_node(fdt));
	}
	TRY(fdt_end_node(fdt));
	return 0;
}

/* The builder's refusal: "device tree: " and what is wrong, -EINVAL. */
__attribute__((format(printf, 2, 3))) static int refuse(struct gmemvm_error *error,
							const char *format, ...)
{
	char what[GMEMVM_ERROR_MESSAGE_SIZE];
	va_list args;
	va_start(args, format);
	vsnprintf(what, sizeof(what), format, args);
	va_end(args);
	return gmemvm_refuse(error, -EINVAL, "device tree: %s", what);
}

/*
 * The builder trusts nothing about its input: a scenario that did not come
 * through config_load (a test, a future caller) is checked here too, so a
 * bad one is refused instead of producing a tree the guest misreads.
 */
static int check_scenario(const struct scenario *scenario, unsigned int shared_bit,
			  struct gmemvm_error *error)
{
	if (!memchr(scenario->name, '\0', sizeof(scenario->name)))
		return refuse(error, "the scenario name is not terminated");
	if (!mode_info(scenario->mode))
		return refuse(error, "mode %d is not one of the four", (int)scenario->mode);
	if (scenario->stage != 1 && scenario->stage != 2)
		return refuse(error, "stage %d is not 1 or 2", scenario->stage);
	if (scenario->vcpus < 1 || scenario->vcpus > GMEMVM_MAX_VCPUS)
		return refuse(error, "%d vCPUs is outside 1..%d", scenario->vcpus,
			      GMEMVM_MAX_VCPUS);
	if (scenario->memory_size < CONFIG_MIN_MEMORY || scenario->memory_size > CONFIG_MAX_MEMORY)
		return refuse(error, "memory size %#llx is outside the limits",
			      (unsigned long long)scenario->memory_size);
	if (shared_bit && (shared_bit < 39 || shared_bit > 46))
		return refuse(error, "shared bit %u is outside 39..46", shared_bit);
	if (scenario->nr_steps < 0 || scenario->nr_steps > CONFIG_MAX_STEPS)
		return refuse(error, "%d steps is outside 0..%d", scenario->nr_steps,
			      CONFIG_MAX_STEPS);
	for (int i = 0; i < scenario->nr_steps; i++) {
		const struct step *step = &scenario->steps[i];
		if ((unsigned int)step->op >= GMEMVM_STEP_OP_COUNT)
			return refuse(error, "step %d has op %d, which no guest knows", i + 1,
				      (int)step->op);
		if (step->vcpu != STEP_VCPU_ALL &&
		    (step->vcpu < 0 || step->vcpu >= scenario->vcpus))
			return refuse(error, "step %d is for vCPU %d of %d", i + 1, step->vcpu,
				      scenario->vcpus);
		if (step->view != VIEW_PRIVATE && step->view != VIEW_SHARED)
			return refuse(error, "step %d has view %d", i + 1, (int)step->view);
	}
	return 0;
}

int devtree_build(void *buffer, size_t size, const struct scenario *scenario,
		  unsigned int shared_bit, struct gmemvm_error *error)
{
	struct devtree_host host = { .shared_bit = shared_bit };
	return devtree_build_for_host(buffer, size, scenario, &host, error);
}

int devtree_build_for_host(void *buffer, size_t size, const struct scenario *scenario,
			   const struct devtree_host *host, struct gmemvm_error *error)
{
	unsigned int shared_bit = host->shared_bit;
	int status = check_scenario(scenario, shared_bit, error);
	if (status < 0)
		return status;
	void *fdt = buffer;
	TRY(fdt_create(fdt, (int)size));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_string(fdt, "compatible", "gmemvm,virt"));
	TRY(fdt_property_string(fdt, "model", scenario->name));

	/* Nodes the guest looks up come first, devices last: libfdt finds a node
	 * by walking every tag before it, so the guest's one pass over the root
	 * stops early (the start-up time, docs/performance.md). */
	TRY(fdt_begin_node(fdt, "chosen"));
	TRY(fdt_property_u32(fdt, "gmemvm,vcpus", (uint32_t)scenario->vcpus));
	char stdout_path[64];
	if (console_path(host->devices, stdout_path, sizeof(stdout_path)))
		TRY(fdt_property_string(fdt, "stdout-path", stdout_path));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "memory@0"));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	fdt64_t reg[2] = { cpu_to_fdt64(0), cpu_to_fdt64(scenario->memory_size) };
	TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "gmemvm"));
	TRY(fdt_property_string(fdt, "mode", config_mode_name(scenario->mode)));
	TRY(fdt_property_u32(fdt, "stage", (uint32_t)scenario->stage));
	TRY(fdt_property_u64(fdt, "data-start", GMEMVM_DATA_GPA));
	if (shared_bit)
		TRY(fdt_property_u32(fdt, GMEMVM_FDT_PROP_SHARED_BIT, shared_bit));
	if (host->exit_fence)
		TRY(fdt_property(fdt, GMEMVM_FDT_PROP_EXIT_FENCE, NULL, 0));
	if (host->protected_vm)
		TRY(fdt_property(fdt, GMEMVM_FDT_PROP_PROTECTED_VM, NULL, 0));
	if (host->map_gpa_range)
		TRY(fdt_property_string(fdt, GMEMVM_FDT_PROP_CONVERSION_CALL,
					GMEMVM_CONVERSION_CALL_HYPERCALL));
	status = add_steps(fdt, scenario, error);
	if (status < 0)
		return status;
	TRY(fdt_end_node(fdt)); /* gmemvm */

	for (int i = 0; host->devices && i < host->devices->nr_nodes; i++) {
		status = add_device(fdt, host->devices->nodes[i], error);
		if (status < 0)
			return status;
	}

	TRY(fdt_end_node(fdt)); /* root */
	TRY(fdt_finish(fdt));
	return 0;
}
