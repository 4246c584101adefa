/* SPDX-License-Identifier: MIT */
/*
 * The io-trap registry: port and MMIO ranges, each with the device that
 * handles it (kvmtool's idea, kept as a sorted array: a VMM this small has a
 * handful of ranges and a binary search is exact and fast). Ranges never
 * overlap; registering one that does is refused.
 */
#ifndef GMEMVM_IOTRAP_H
#define GMEMVM_IOTRAP_H

#include <stdbool.h>
#include <stdint.h>

#define IOTRAP_MAX_RANGES 16
#define IOTRAP_MAX_NODES  8

enum iotrap_space {
	IOTRAP_PIO,
	IOTRAP_MMIO
};

/* One access as the exit decoded it; the handler fills data for reads. */
struct iotrap_access {
	int vcpu;
	uint64_t addr;	  /* port or guest-physical address */
	uint64_t offset;  /* addr minus the range's base */
	uint32_t size;	  /* 1, 2, 4 or 8 bytes */
	uint32_t element; /* of a string instruction (rep outs): 0 for the first or only one */
	bool is_write;
	uint8_t data[8];
};

/* What the access asks of the run loop. */
enum iotrap_result {
	IOTRAP_CONTINUE,
	IOTRAP_REPORT, /* the guest reported its final outcome; it takes effect when it halts */
	IOTRAP_STOP,   /* the device decided the vCPU must stop; it said why in message */
};

struct iotrap_reply {
	enum iotrap_result result;
	int outcome; /* an enum outcome, when result is IOTRAP_STOP */
	char message[256];
};

typedef void (*iotrap_handler)(void *device, struct iotrap_access *access,
			       struct iotrap_reply *reply);

/* What a device says of its range when it registers it. */
enum iotrap_flags {
	/* An access at the range's base is a request to the VMM (the hypercall
	 * port): --trace prints its raw line with the requests
	 * (--trace=hypercalls), not with the exits. */
	IOTRAP_TRACE_REQUESTS = 1U << 0,
};

struct iotrap_range {
	uint64_t base, size;
	const char *name;
	iotrap_handler handler;
	void *device;
	unsigned int flags; /* enum iotrap_flags */
};

/*
 * How a device appears in the guest's device tree, said by the device itself
 * when it registers, as kvmtool's devices write their own nodes: devtree.c
 * gives each a node "name@unit" under the root, in registration order, unit
 * being the MMIO window's base in hex if the device has one, else its
 * registers' address. Registers that are ports are GMEMVM_FDT_PROP_PORT;
 * MMIO ones (every device on arm64) are the first entry of reg.
 */
struct iotrap_node {
	const char *name;	       /* "serial" */
	const char *compatible;	       /* "ns16550a" */
	uint64_t address;	       /* its registers, in arch_device_space (arch/arch.h) */
	uint64_t address_size;	       /* how many bytes of registers there */
	uint64_t mmio_base, mmio_size; /* an MMIO window besides, when mmio_size is not 0 */
	bool console;		       /* /chosen stdout-path names it */
};

struct iotrap_registry {
	struct iotrap_range ranges[2][IOTRAP_MAX_RANGES];
	int count[2];
	const struct iotrap_node *nodes[IOTRAP_MAX_NODES];
	int nr_nodes;
};

void iotrap_init(struct iotrap_registry *registry);
/* 0, or -EINVAL when the range is empty or overflows, -EBUSY when it overlaps
 * another, -ENOSPC when the table is full. */
int iotrap_register(struct iotrap_registry *registry, enum iotrap_space space, uint64_t base,
		    uint64_t size, const char *name, iotrap_handler handler, void *device);
/* The same with flags (enum iotrap_flags) for the range. */
int iotrap_register_flags(struct iotrap_registry *registry, enum iotrap_space space, uint64_t base,
			  uint64_t size, const char *name, iotrap_handler handler, void *device,
			  unsigned int flags);
/* A device's node (kept by reference). 0, or -ENOSPC when the table is full. */
int iotrap_add_node(struct iotrap_registry *registry, const struct iotrap_node *node);
/* The range containing [addr, addr + size), or NULL. */
const struct iotrap_range *iotrap_lookup(const struct iotrap_registry *registry,
					 enum iotrap_space space, uint64_t addr, uint32_t size);

static inline uint64_t iotrap_value(const struct iotrap_access *access)
{
	uint64_t value = 0;
	for (uint32_t i = 0; i < access->size && i < 8; i++)
		value |= (uint64_t)access->data[i] << (8 * i);
	return value;
}

static inline void iotrap_set_value(struct iotrap_access *access, uint64_t value)
{
	for (uint32_t i = 0; i < access->size && i < 8; i++)
		access->data[i] = (uint8_t)(value >> (8 * i));
}

#endif
