/* SPDX-License-Identifier: MIT */
/*
 * The flattened device tree handed to the guest (built with libfdt): memory,
 * the mode and the scenario's steps, and a node for each device registered
 * (console, hypercall port, test device), as the device describes itself
 * (struct iotrap_node). gmemvm_abi.h names the nodes and properties the
 * guest reads.
 */
#ifndef GMEMVM_DEVTREE_H
#define GMEMVM_DEVTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"

struct iotrap_registry;

/* Build into buffer (size bytes, e.g. GMEMVM_FDT_MAX_SIZE). shared_bit is the
 * CoCo modes' shared-view bit (0: no shared view). No device nodes. 0, or a
 * negative errno with "device tree: ..." in error: -EINVAL refused for a
 * scenario the guest could not read, or the libfdt call that failed
 * (-ENOSPC: the buffer is too small). */
int devtree_build(void *buffer, size_t size, const struct scenario *scenario,
		  unsigned int shared_bit, struct gmemvm_error *error);

/* What the probe found that changes how the guest must behave. */
struct devtree_host {
	unsigned int shared_bit;
	bool exit_fence;    /* QEMU's emulator: GMEMVM_FDT_PROP_EXIT_FENCE */
	bool map_gpa_range; /* convert with KVM_HC_MAP_GPA_RANGE: GMEMVM_FDT_PROP_CONVERSION_CALL */
	bool protected_vm;  /* upstream pKVM: GMEMVM_FDT_PROP_PROTECTED_VM */
	/* The devices registered: a node each (iotrap_add_node); NULL: none. */
	const struct iotrap_registry *devices;
};

/* The same, with what the host needs of the guest. */
int devtree_build_for_host(void *buffer, size_t size, const struct scenario *scenario,
			   const struct devtree_host *host, struct gmemvm_error *error);

#endif
