// SPDX-License-Identifier: MIT
/*
 * The exits of arm64 guests. Devices are MMIO (exits.c), so what is left:
 * the halt register, which is this architecture's HLT; PSCI system events;
 * and KVM_EXIT_HYPERCALL, the guest's MEM_SHARE / MEM_UNSHARE forwarded by
 * the SMCCC filter, answered as pKVM answers them.
 */
#include "arch/arch.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "arch/arm64/arm64_kvm.h"
#include "gmem.h"
#include "gmemvm_abi.h"

static enum exit_action exit_handle_system_event(struct exit_context *context, struct kvm_run *run)
{
	if (exit_cannot_run(context))
		return exit_stop_cannot_run(context, "system event");
	return exit_stop(context, OUTCOME_SHUTDOWN,
			 "vCPU %d asked for system event %u (PSCI SYSTEM_OFF or SYSTEM_RESET): "
			 "the gmemvm guest never does, so it was lost",
			 context->vcpu, run->system_event.type);
}

/* The VMM's answer in SMCCC's codes, as the hypervisor gives them on a
 * protected VM (hypercalls.rst: SUCCESS or INVALID_PARAMETER). */
static int64_t smccc_answer(int32_t code)
{
	if (code == GMEMVM_HC_OK)
		return GMEMVM_SMCCC_SUCCESS;
	if (code == GMEMVM_HC_EINVAL)
		return GMEMVM_SMCCC_INVALID_PARAMETER;
	return GMEMVM_SMCCC_NOT_SUPPORTED;
}

static enum exit_action exit_handle_hypercall(struct exit_context *context, struct kvm_run *run)
{
	uint64_t function = run->hypercall.nr, ipa = 0;
	enum exit_action action = EXIT_ACTION_CONTINUE;
	bool to_private = function == GMEMVM_SMCCC_MEM_UNSHARE;
	int32_t result;
	/* The filter forwards only these two, and only HVC is the guest's: an
	 * SMC would need its PC moved on by the VMM. */
	/* hypercall.flags (Linux 6.4) shares its place with the older headers'
	 * longmode and pad. */
	uint64_t flags;
	memcpy(&flags, &run->hypercall.longmode, sizeof(flags));
	if (flags & GMEMVM_HYPERCALL_EXIT_SMC)
		return exit_stop(context, OUTCOME_UNKNOWN_EXIT,
				 "vCPU %d made SMCCC call %#" PRIx64
				 " with SMC, which gmemvm does not take",
				 context->vcpu, function);
	if (arm64_get_reg(context->vcpu_fd, ARM64_CORE_REG(regs.regs[1]), &ipa) < 0)
		return exit_stop(context, OUTCOME_VMM_ERROR,
				 "KVM_GET_ONE_REG (x1) failed on vCPU %d: %s", context->vcpu,
				 strerror(errno));
	if (function != GMEMVM_SMCCC_MEM_SHARE && function != GMEMVM_SMCCC_MEM_UNSHARE)
		result = GMEMVM_HC_ENOSYS;
	else if (ipa % GMEM_PAGE_SIZE)
		result = GMEMVM_HC_EINVAL; /* one granule, aligned */
	else
		result = exit_convert_request(context, ipa, GMEM_PAGE_SIZE, to_private, &action);
	int64_t answer = smccc_answer(result);
	if (context->trace_hypercalls)
		fprintf(context->trace_hypercalls,
			"[vcpu %d] SMCCC %s ipa %#" PRIx64 " (%s) -> %" PRId64 "\n", context->vcpu,
			to_private ? "MEM_UNSHARE" : "MEM_SHARE", ipa,
			to_private ? "private" : "shared", answer);
	if (arm64_set_reg(context->vcpu_fd, ARM64_CORE_REG(regs.regs[0]), (uint64_t)answer) < 0)
		return exit_stop(context, OUTCOME_VMM_ERROR,
				 "KVM_SET_ONE_REG (x0) failed on vCPU %d: %s", context->vcpu,
				 strerror(errno));
	return action;
}

const char arch_exit_words[] = "exits (mmio, halt register)";

const struct arch_ioctl arch_vcpu_ioctls[] = {
	{ KVM_GET_ONE_REG, "KVM_GET_ONE_REG", "an SMCCC call's argument, in x1" },
	{ KVM_SET_ONE_REG, "KVM_SET_ONE_REG", "an SMCCC call's answer, in x0" },
};
const size_t arch_nr_vcpu_ioctls = sizeof(arch_vcpu_ioctls) / sizeof(arch_vcpu_ioctls[0]);

const struct arch_exit arch_exits[] = {
	{ KVM_EXIT_SYSTEM_EVENT, EXIT_KIND_SHUTDOWN, exit_handle_system_event },
	{ KVM_EXIT_HYPERCALL, EXIT_KIND_MAP_GPA_RANGE, exit_handle_hypercall },
};
const size_t arch_nr_exits = sizeof(arch_exits) / sizeof(arch_exits[0]);

bool arch_exit_mmio(struct exit_context *context, struct kvm_run *run, enum exit_action *action)
{
	if (run->mmio.phys_addr != GMEMVM_DEVICE_HALT || !run->mmio.is_write)
		return false;
	context->exits[EXIT_KIND_HLT]++;
	context->exits_total++;
	*action = exit_handle_hlt(context, run);
	return true;
}
