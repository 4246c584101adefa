// SPDX-License-Identifier: MIT
#include "testdev.h"

#include <string.h>

#include "arch/arch.h"

void testdev_init(struct testdev *testdev)
{
	memset(testdev, 0, sizeof(*testdev));
	pthread_mutex_init(&testdev->lock, NULL);
}

static void testdev_mmio(void *device, struct iotrap_access *access, struct iotrap_reply *reply)
{
	struct testdev *testdev = device;
	(void)reply;
	pthread_mutex_lock(&testdev->lock);
	if (access->is_write) {
		if (access->offset == GMEMVM_TESTDEV_REG_SCRATCH && access->size == 8)
			testdev->scratch = iotrap_value(access);
	} else if (access->offset == GMEMVM_TESTDEV_REG_ID && access->size == 8) {
		iotrap_set_value(access, GMEMVM_TESTDEV_ID);
	} else if (access->offset == GMEMVM_TESTDEV_REG_SCRATCH && access->size == 8) {
		iotrap_set_value(access, testdev->scratch);
	} else {
		/* Unaligned or partial register accesses read as all ones. */
		iotrap_set_value(access, UINT64_MAX);
	}
	pthread_mutex_unlock(&testdev->lock);
}

static void testdev_pio(void *device, struct iotrap_access *access, struct iotrap_reply *reply)
{
	struct testdev *testdev = device;
	(void)reply;
	pthread_mutex_lock(&testdev->lock);
	bool whole = access->size == 4 && access->vcpu >= 0 && access->vcpu < GMEMVM_MAX_VCPUS;
	if (access->is_write && whole)
		testdev->echo[access->vcpu] = (uint32_t)iotrap_value(access);
	else if (!access->is_write)
		iotrap_set_value(access, whole ? testdev->echo[access->vcpu] : UINT64_MAX);
	pthread_mutex_unlock(&testdev->lock);
}

/* The entry port: the write itself is the message, timestamped once per vCPU
 * (the start-up time, docs/performance.md); the byte means nothing and reads give all ones. */
static void entry_port(void *device, struct iotrap_access *access, struct iotrap_reply *reply)
{
	struct testdev *testdev = device;
	(void)reply;
	if (!access->is_write)
		iotrap_set_value(access, UINT64_MAX);
	else if (access->vcpu >= 0 && access->vcpu < GMEMVM_MAX_VCPUS &&
		 testdev->entered[access->vcpu].tv_sec == 0)
		clock_gettime(CLOCK_MONOTONIC, &testdev->entered[access->vcpu]);
}

/* Its device-tree node, "testdev@d0000000": the MMIO registers and the echo
 * port (the entry port is the guest's first instruction: no one looks it up). */
static const struct iotrap_node testdev_node = {
	.name = "testdev",
	.compatible = "gmemvm,testdev",
	.address = GMEMVM_DEVICE_TESTDEV,
	.address_size = 4,
	.mmio_base = GMEMVM_TESTDEV_MMIO_GPA,
	.mmio_size = GMEMVM_TESTDEV_MMIO_SIZE,
};

int testdev_register(struct testdev *testdev, struct iotrap_registry *traps)
{
	int status = iotrap_register(traps, IOTRAP_MMIO, testdev_node.mmio_base,
				     testdev_node.mmio_size, "testdev-mmio", testdev_mmio, testdev);
	if (status == 0)
		status = iotrap_register(traps, arch_device_space, GMEMVM_DEVICE_ENTRY, 1,
					 "entry-port", entry_port, testdev);
	if (status == 0)
		status = iotrap_register(traps, arch_device_space, testdev_node.address, 4,
					 "testdev-port", testdev_pio, testdev);
	if (status < 0)
		return status;
	return iotrap_add_node(traps, &testdev_node);
}

void testdev_destroy(struct testdev *testdev)
{
	pthread_mutex_destroy(&testdev->lock);
}
