/* SPDX-License-Identifier: MIT */
/*
 * The test device: 64-bit registers at GMEMVM_TESTDEV_MMIO_GPA, where no
 * memslot is, so every access needs KVM's instruction emulation, and a
 * 32-bit echo port at GMEMVM_DEVICE_TESTDEV (one echo register per vCPU), and
 * the entry port every vCPU's first instruction writes (GMEMVM_DEVICE_ENTRY).
 */
#ifndef GMEMVM_TESTDEV_H
#define GMEMVM_TESTDEV_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "gmemvm_abi.h"
#include "iotrap.h"

struct testdev {
	pthread_mutex_t lock;
	uint64_t scratch;
	uint32_t echo[GMEMVM_MAX_VCPUS];
	/* CLOCK_MONOTONIC of each vCPU's first entry port write, the moment its
	 * guest code began; zero if it never got there. Each vCPU writes only its
	 * own, read once the vCPU threads are joined. */
	struct timespec entered[GMEMVM_MAX_VCPUS];
};

void testdev_init(struct testdev *testdev);
/* Its ranges and its node: 0, or iotrap_register's negative errno. */
int testdev_register(struct testdev *testdev, struct iotrap_registry *traps);
void testdev_destroy(struct testdev *testdev);

#endif
