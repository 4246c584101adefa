// SPDX-License-Identifier: MIT
#include "mode.h"

#include <stddef.h>
#include <string.h>

/* docs/design.md, "The four modes": the table, row by row. */
static const struct mode_info modes[] = {
	[MODE_COCO_LEGACY] = {
		.mode = MODE_COCO_LEGACY,
		.name = "coco-legacy",
		.coco = true,
		.converts_on_fault = true,
		.shared_in_gmem = false,
		.mmap_only_private_by_default = true,
		.boots_private = true,
		.native_path = NATIVE_VM_ATTRIBUTES,
		.conversion_call = "KVM_SET_MEMORY_ATTRIBUTES",
		.converts = "after a memory fault or on the guest's request, with the memory "
			    "attribute",
	},
	[MODE_SHARED] = {
		.mode = MODE_SHARED,
		.name = "shared",
		.shared_in_gmem = true,
		.scenario_userspace_addr = true,
		.secret_free = true,
		.native_path = NATIVE_NONE,
		.conversion_call = "KVM_SET_MEMORY_ATTRIBUTES2",
		.converts = "only when userspace asks",
	},
	[MODE_PKVM] = {
		.mode = MODE_PKVM,
		.name = "pkvm",
		.shared_in_gmem = true,
		.hypervisor_side = true,
		.boots_private = true,
		.native_path = NATIVE_IN_PLACE,
		.conversion_call = "KVM_SET_MEMORY_ATTRIBUTES2",
		.converts = "on the guest's requests, in the hypervisor",
		.stage1_refusal = "pKVM cannot use stage 1: nothing prevents kvm_gmem_fault() from "
				  "returning a guest-owned page (design notes, stage 1 usage)",
		.notes_design = "pKVM on guest_memfd (the design notes' design; upstream pKVM "
				"uses anonymous memory)",
	},
	[MODE_COCO_INPLACE] = {
		.mode = MODE_COCO_INPLACE,
		.name = "coco-inplace",
		.coco = true,
		.converts_on_fault = true,
		.shared_in_gmem = true,
		.boots_private = true,
		.native_path = NATIVE_IN_PLACE,
		.conversion_call = "KVM_SET_MEMORY_ATTRIBUTES2",
		.converts = "after a memory fault or on the guest's request, in place",
	},
};

const struct mode_info *mode_info(enum vm_mode mode)
{
	if ((unsigned int)mode >= sizeof(modes) / sizeof(modes[0]))
		return NULL;
	return &modes[mode];
}

const struct mode_info *mode_by_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(modes[i].name, name) == 0)
			return &modes[i];
	return NULL;
}
