/* SPDX-License-Identifier: MIT */
/*
 * The hypercall port: the guest writes the 32-bit guest-physical address of
 * a struct gmemvm_hypercall to GMEMVM_DEVICE_HYPERCALL. The VMM bounds-checks
 * the block before touching it (Solo5 hvt's rule), runs the request and
 * writes the result code back into the block.
 */
#ifndef GMEMVM_HYPERCALL_H
#define GMEMVM_HYPERCALL_H

#include <pthread.h>
#include <stdint.h>

#include "conversion.h"
#include "gmemvm_abi.h"
#include "iotrap.h"
#include "memmap.h"

/* Requests seen, and the ones refused with each reason. */
struct hypercall_stats {
	uint64_t requests;
	/* Write exits at the port itself, whatever their size (a string
	 * instruction is one): the report's exits.hypercall. */
	uint64_t port_writes;
	uint64_t done, asserts;
	uint64_t refused_bad_block; /* misaligned, outside RAM or private: not readable */
	uint64_t refused_unknown_op;
	uint64_t refused_not_supported; /* share/unshare without a conversion policy */
	uint64_t shares, unshares;	/* requests, whatever their result */
	uint64_t refused_conversions;	/* share/unshare answered with an error */
	uint64_t discards, refused_discards;
	uint64_t holds, releases, refused_holds;
};

struct hypercall_device {
	struct memmap *memory;
	struct conversion_policy *conversions; /* share/unshare go here; NULL: ENOSYS */
	const struct scenario *scenario;       /* names the step of a guest's report; or NULL */
	struct timeline *timeline;	       /* --timeline: discards are recorded; or NULL */
	FILE *trace; /* --trace=hypercalls: each request and its answer; or NULL */
	pthread_mutex_t lock;
	struct hypercall_stats stats;
};

void hypercall_init(struct hypercall_device *device, struct memmap *memory,
		    struct conversion_policy *conversions);
/* Its port and its node: 0, or iotrap_register's negative errno. */
int hypercall_register(struct hypercall_device *device, struct iotrap_registry *traps);
void hypercall_destroy(struct hypercall_device *device);

/* The guest ABI's answer (GMEMVM_HC_*) to a request that returned status,
 * 0 (or a count) or a negative errno (error.h): EINVAL, ENOSYS and EPERM as
 * themselves, any other failure ENOMEM (the VMM could not do it). The only
 * place the VMM's errors become the guest's codes. */
int32_t hypercall_answer(int status);

/* Copy the request block at gpa: 0, or GMEMVM_HC_EINVAL when it is misaligned
 * or not entirely inside guest RAM the host may read (shared memory). */
int hypercall_decode(struct memmap *memory, uint64_t gpa, struct gmemvm_hypercall *request);

/* Copy a NUL-terminated guest string into out (at most size - 1 bytes);
 * bytes outside shared RAM end it, unprintable bytes become '.'. */
void hypercall_read_string(struct memmap *memory, uint64_t gpa, char *out, size_t size);

#endif
