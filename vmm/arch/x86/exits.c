// SPDX-License-Identifier: MIT
/*
 * The exits of x86-64 guests: port I/O, HLT (the guest's end), shutdown
 * (a triple fault) and KVM_HC_MAP_GPA_RANGE, the conversion call of x86
 * confidential guests. One handler each; exits.c has the shared ones.
 */
#include "arch/arch.h"

#include <inttypes.h>
#include <string.h>

#include "gmem.h"
#include "gmemvm_abi.h"

static enum exit_action exit_handle_io(struct exit_context *context, struct kvm_run *run)
{
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	/* String instructions (rep outsb) arrive as count > 1: one access each. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		struct iotrap_access access = {
			.vcpu = context->vcpu,
			.addr = run->io.port,
			.size = run->io.size,
			.element = i,
			.is_write = is_write,
		};
		if (is_write)
			memcpy(access.data, data, run->io.size);
		const struct iotrap_range *range =
			iotrap_lookup(context->traps, IOTRAP_PIO, access.addr, access.size);
		if (exit_serve_access(context, "io", range, &access, &context->unhandled_pio) ==
		    EXIT_ACTION_STOP)
			return EXIT_ACTION_STOP;
		if (!is_write)
			memcpy(data, access.data, run->io.size);
	}
	return EXIT_ACTION_CONTINUE;
}

static enum exit_action exit_handle_shutdown(struct exit_context *context, struct kvm_run *run)
{
	(void)run;
	if (exit_cannot_run(context))
		return exit_stop_cannot_run(context, "shutdown (triple fault)");
	return exit_stop(context, OUTCOME_SHUTDOWN,
			 "vCPU %d shut down (triple fault: the guest's IDT has a gate for #GP "
			 "only, so any other exception in supervisor mode ends here)",
			 context->vcpu);
}

static enum exit_action exit_handle_hypercall(struct exit_context *context, struct kvm_run *run)
{
	uint64_t gpa = run->hypercall.args[0], pages = run->hypercall.args[1];
	uint64_t attributes = run->hypercall.args[2];
	bool to_private = attributes & GMEMVM_MAP_GPA_RANGE_ENCRYPTED;
	enum exit_action action = EXIT_ACTION_CONTINUE;
	int32_t result;
	/* KVM exits only for this call; the rest is the guest's to get right. */
	if (run->hypercall.nr != GMEMVM_KVM_HC_MAP_GPA_RANGE || !context->conversions)
		result = GMEMVM_HC_ENOSYS;
	else if ((attributes & ~GMEMVM_MAP_GPA_RANGE_ENCRYPTED) ||
		 pages > context->ram_size / GMEM_PAGE_SIZE)
		result = GMEMVM_HC_EINVAL; /* another page size, or more pages than RAM */
	else
		result = exit_convert_request(context, gpa, pages * GMEM_PAGE_SIZE, to_private,
					      &action);
	if (context->trace_hypercalls)
		fprintf(context->trace_hypercalls,
			"[vcpu %d] KVM_HC_MAP_GPA_RANGE gpa %#" PRIx64 " pages %" PRIu64
			" attributes %#" PRIx64 " (%s) -> %d\n",
			context->vcpu, gpa, pages, attributes, to_private ? "private" : "shared",
			result);
	run->hypercall.ret = (uint64_t)(int64_t)result;
	return action;
}

const char arch_exit_words[] = "exits (io, mmio, hlt)";

/* Every x86 exit is answered in kvm_run: no register is read or written. */
const struct arch_ioctl arch_vcpu_ioctls[1];
const size_t arch_nr_vcpu_ioctls = 0;

const struct arch_exit arch_exits[] = {
	{ KVM_EXIT_IO, EXIT_KIND_IO, exit_handle_io },
	{ KVM_EXIT_HLT, EXIT_KIND_HLT, exit_handle_hlt },
	{ KVM_EXIT_SHUTDOWN, EXIT_KIND_SHUTDOWN, exit_handle_shutdown },
	{ KVM_EXIT_HYPERCALL, EXIT_KIND_MAP_GPA_RANGE, exit_handle_hypercall },
};
const size_t arch_nr_exits = sizeof(arch_exits) / sizeof(arch_exits[0]);

bool arch_exit_mmio(struct exit_context *context, struct kvm_run *run, enum exit_action *action)
{
	(void)context, (void)run, (void)action; /* every x86 MMIO exit is a device's */
	return false;
}
