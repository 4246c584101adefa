// SPDX-License-Identifier: MIT
#include "iotrap.h"

#include <errno.h>
#include <string.h>

void iotrap_init(struct iotrap_registry *registry)
{
	memset(registry, 0, sizeof(*registry));
}

int iotrap_register(struct iotrap_registry *registry, enum iotrap_space space, uint64_t base,
		    uint64_t size, const char *name, iotrap_handler handler, void *device)
{
	return iotrap_register_flags(registry, space, base, size, name, handler, device, 0);
}

int iotrap_register_flags(struct iotrap_registry *registry, enum iotrap_space space, uint64_t base,
			  uint64_t size, const char *name, iotrap_handler handler, void *device,
			  unsigned int flags)
{
	struct iotrap_range *ranges = registry->ranges[space];
	int count = registry->count[space];
	if (size == 0 || base + size < base)
		return -EINVAL;
	if (count == IOTRAP_MAX_RANGES)
		return -ENOSPC;
	int at = 0;
	while (at < count && ranges[at].base < base)
		at++;
	if (at > 0 && ranges[at - 1].base + ranges[at - 1].size > base)
		return -EBUSY;
	if (at < count && base + size > ranges[at].base)
		return -EBUSY;
	memmove(&ranges[at + 1], &ranges[at], (size_t)(count - at) * sizeof(*ranges));
	ranges[at] = (struct iotrap_range){ base, size, name, handler, device, flags };
	registry->count[space] = count + 1;
	return 0;
}

int iotrap_add_node(struct iotrap_registry *registry, const struct iotrap_node *node)
{
	if (registry->nr_nodes == IOTRAP_MAX_NODES)
		return -ENOSPC;
	registry->nodes[registry->nr_nodes++] = node;
	return 0;
}

const struct iotrap_range *iotrap_lookup(const struct iotrap_registry *registry,
					 enum iotrap_space space, uint64_t addr, uint32_t size)
{
	const struct iotrap_range *ranges = registry->ranges[space];
	int low = 0, high = registry->count[space] - 1;
	while (low <= high) {
		int middle = low + (high - low) / 2;
		const struct iotrap_range *range = &ranges[middle];
		if (addr < range->base) {
			high = middle - 1;
		} else if (addr - range->base >= range->size) {
			low = middle + 1;
		} else {
			/* The whole access must fit: no device sees half of one. */
			if (size > range->size - (addr - range->base))
				return NULL;
			return range;
		}
	}
	return NULL;
}
