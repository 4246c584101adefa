// SPDX-License-Identifier: MIT
#include "faultinject.h"

#ifdef GMEMVM_FAULT_INJECTION
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const site_names[FAULT_SITE_COUNT] = {
	[FAULT_REMAP] = "remap",	   [FAULT_PUNCH] = "punch",	[FAULT_STATE] = "state",
	[FAULT_CONVERT] = "convert",	   [FAULT_KVM_RUN] = "kvm_run", [FAULT_MEMSLOT] = "memslot",
	[FAULT_ATTRIBUTES] = "attributes",
};

static atomic_long calls[FAULT_SITE_COUNT];

bool fault_inject(enum fault_site site)
{
	const char *setting = getenv("GMEMVM_FAULT_INJECT");
	size_t length = strlen(site_names[site]);
	if (!setting || strncmp(setting, site_names[site], length) != 0 || setting[length] != ':')
		return false;
	long target = strtol(setting + length + 1, NULL, 10);
	if (atomic_fetch_add(&calls[site], 1) + 1 != target)
		return false;
	errno = site == FAULT_STATE ? ENOMEM : EIO;
	return true;
}
#else
/* Nothing: the header's inline stub stands in. */
typedef int fault_injection_disabled;
#endif
