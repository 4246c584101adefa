/* SPDX-License-Identifier: MIT */
/*
 * The flattened device tree handed to the guest (built with libfdt): memory,
 * console, hypercall port, test device, the mode and the scenario's steps.
 * gmemvm_abi.h names the nodes and properties the guest reads.
 */
#ifndef GMEMVM_DEVTREE_H
#define GMEMVM_DEVTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Build into buffer (size bytes, e.g. GMEMVM_FDT_MAX_SIZE). shared_bit is the
 * CoCo modes' shared-view bit (0: no shared view). 0, or -1 with err. */
int devtree_build(void *buffer, size_t size, const struct scenario *scenario,
		  unsigned int shared_bit, char *err, size_t err_size);
/* The same, with GMEMVM_FDT_PROP_EXIT_FENCE when exit_fence is set (the
 * probe found QEMU's emulator underneath). */
int devtree_build_fenced(void *buffer, size_t size, const struct scenario *scenario,
			 unsigned int shared_bit, bool exit_fence, char *err, size_t err_size);

#endif
