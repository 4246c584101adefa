/* SPDX-License-Identifier: MIT */
/*
 * The VMM's accesses to memory a hypervisor may take from it at any moment:
 * upstream pKVM gives a protected VM's page to the guest at its first
 * access, and a host touch of it then gets SIGSEGV (pkvm.rst). Every copy
 * to or from such memory goes through host_access_copy, which turns the
 * fault into an answer instead of the VMM's death, on any thread.
 */
#ifndef GMEMVM_HOST_ACCESS_H
#define GMEMVM_HOST_ACCESS_H

#include <stddef.h>

/* Installs the SIGSEGV and SIGBUS handlers where they are not installed: call
 * it on the main thread before any vCPU thread copies, and before the
 * sandbox where a vCPU thread copies (the sandbox forbids it sigaction). A fault outside
 * host_access_copy still ends the process, saying so. 0 or a negative errno. */
int host_access_init(void);
/* Copies size bytes from src to dst: 0, or the signal that stopped the copy
 * (the bytes before it may have been copied). */
int host_access_copy(void *dst, const void *src, size_t size);

#endif
