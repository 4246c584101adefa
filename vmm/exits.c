// SPDX-License-Identifier: MIT
#include "exits.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "arch/arch.h"
#include "gmem.h"
#include "gmemvm_abi.h"
#include "hypercall.h"

enum exit_action exit_stop(struct exit_context *context, enum outcome outcome, const char *format,
			   ...)
{
	va_list args;
	va_start(args, format);
	vsnprintf(context->message, sizeof(context->message), format, args);
	va_end(args);
	context->outcome = outcome;
	return EXIT_ACTION_STOP;
}

/* The first exit of a vCPU that never executed anything, with userspace_addr
 * NULL on a host that serves memslots from userspace_addr (the probe): this is
 * where such a run ends (docs/design.md, "Host facts that shape the design").
 * On a host served from guest_memfd the guest runs, so the exit means what it
 * says. */
bool exit_cannot_run(const struct exit_context *context)
{
	return context->userspace_addr_null && !context->gmem_served && context->exits_total == 1;
}

enum exit_action exit_stop_cannot_run(struct exit_context *context, const char *what)
{
	return exit_stop(
		context, OUTCOME_CANNOT_RUN,
		"%s before the guest's first instruction completed: this host serves "
		"gmem-bound memslots through userspace_addr (probe), and the scenario binds "
		"userspace_addr = NULL, so KVM cannot read any guest memory",
		what);
}

static void trace_access(const struct exit_context *context, const char *kind,
			 const struct iotrap_access *access, const struct iotrap_range *range)
{
	/* The device says which of its accesses are requests to the VMM (the
	 * hypercall port's): those go with --trace=hypercalls, not the exits. */
	bool request =
		range && (range->flags & IOTRAP_TRACE_REQUESTS) && access->addr == range->base;
	FILE *trace = request ? context->trace_hypercalls : context->trace;
	if (!trace)
		return;
	fprintf(trace, "[vcpu %d] %s %s %#" PRIx64 " size %u data %#" PRIx64 " (%s)\n",
		context->vcpu, kind, access->is_write ? "write" : "read", access->addr,
		access->size, iotrap_value(access), range ? range->name : "no device");
}

/* Run the device behind an access and apply what it replied. */
static enum exit_action call_device(struct exit_context *context, const struct iotrap_range *range,
				    struct iotrap_access *access)
{
	struct iotrap_reply reply = { .result = IOTRAP_CONTINUE };
	access->offset = access->addr - range->base;
	range->handler(range->device, access, &reply);
	switch (reply.result) {
	case IOTRAP_CONTINUE:
		return EXIT_ACTION_CONTINUE;
	case IOTRAP_REPORT:
		context->reported = true;
		context->reported_outcome = (enum outcome)reply.outcome;
		snprintf(context->reported_message, sizeof(context->reported_message), "%s",
			 reply.message);
		return EXIT_ACTION_CONTINUE;
	case IOTRAP_STOP:
		break;
	}
	return exit_stop(context, (enum outcome)reply.outcome, "%s", reply.message);
}

/* Hand one access to the device that owns it; with no device, behave like an
 * empty bus: writes vanish, reads float high. Every access is traced. */
enum exit_action exit_serve_access(struct exit_context *context, const char *kind,
				   const struct iotrap_range *range, struct iotrap_access *access,
				   uint64_t *unhandled)
{
	enum exit_action action = EXIT_ACTION_CONTINUE;
	if (!range) {
		(*unhandled)++;
		memset(access->data, 0xff, sizeof(access->data));
	} else {
		action = call_device(context, range, access);
	}
	trace_access(context, kind, access, range);
	return action;
}

enum exit_action exit_handle_mmio(struct exit_context *context, struct kvm_run *run)
{
	struct iotrap_access access = {
		.vcpu = context->vcpu,
		.addr = run->mmio.phys_addr,
		.size = run->mmio.len,
		.is_write = run->mmio.is_write,
	};
	if (access.size == 0 || access.size > 8)
		return exit_stop(context, OUTCOME_INTERNAL_ERROR,
				 "MMIO exit with length %u at %#" PRIx64, access.size, access.addr);
	if (access.is_write)
		memcpy(access.data, run->mmio.data, access.size);

	const struct iotrap_range *range =
		iotrap_lookup(context->traps, IOTRAP_MMIO, access.addr, access.size);
	if (!range && access.addr < context->ram_size) {
		/* docs/design.md, "Wrong-view faults": a RAM access KVM cannot resolve through
		 * userspace_addr comes back as an MMIO exit at that address. */
		if (exit_cannot_run(context))
			return exit_stop_cannot_run(context, "MMIO exit at RAM address");
		return exit_stop(context, OUTCOME_BAD_MMIO,
				 "MMIO exit at RAM address %#" PRIx64
				 ": KVM could not reach this page "
				 "through the memslot's userspace_addr",
				 access.addr);
	}
	if (exit_serve_access(context, "mmio", range, &access, &context->unhandled_mmio) ==
	    EXIT_ACTION_STOP)
		return EXIT_ACTION_STOP;
	if (!access.is_write)
		memcpy(run->mmio.data, access.data, access.size);
	return EXIT_ACTION_CONTINUE;
}

enum exit_action exit_handle_hlt(struct exit_context *context, struct kvm_run *run)
{
	(void)run;
	if (context->trace)
		fprintf(context->trace, "[vcpu %d] hlt\n", context->vcpu);
	if (!context->reported)
		return exit_stop(
			context, OUTCOME_GUEST_FAILED,
			"vCPU %d halted without reporting a status through the hypercall port",
			context->vcpu);
	return exit_stop(context, context->reported_outcome, "%s", context->reported_message);
}

enum exit_action exit_handle_fail_entry(struct exit_context *context, struct kvm_run *run)
{
	return exit_stop(
		context, OUTCOME_FAIL_ENTRY,
		"KVM could not enter vCPU %d: hardware entry failure reason %#llx on cpu %u",
		context->vcpu, (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
		run->fail_entry.cpu);
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "event delivery failed";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected exit reason";
	default:
		return "unknown suberror";
	}
}

enum exit_action exit_handle_internal_error(struct exit_context *context, struct kvm_run *run)
{
	uint32_t suberror = run->internal.suberror;
	if (suberror == KVM_INTERNAL_ERROR_EMULATION && context->userspace_addr_null) {
		if (exit_cannot_run(context))
			return exit_stop_cannot_run(context, "emulation failure");
		return exit_stop(context, OUTCOME_EMULATION_REFUSED,
				 "emulation refused: KVM needed to read guest memory through "
				 "userspace_addr to emulate an instruction, and the configuration "
				 "forbids it (gmem.userspace_addr = null; design notes, stage 1)");
	}
	/* KVM's details: for a failed event delivery the vector info, the exit
	 * reason and the GPA it could not reach. */
	char details[96] = "";
	for (uint32_t i = 0, used = 0; i < run->internal.ndata && i < 4 && used < sizeof(details);
	     i++)
		used += (uint32_t)snprintf(details + used, sizeof(details) - used, "%s%#llx",
					   i ? " " : "; data ",
					   (unsigned long long)run->internal.data[i]);
	return exit_stop(context, OUTCOME_INTERNAL_ERROR,
			 "KVM internal error on vCPU %d: suberror %u (%s%s)%s", context->vcpu,
			 suberror, internal_error_name(suberror), details,
			 suberror == KVM_INTERNAL_ERROR_EMULATION
				 ? "; on this host an SSE instruction in the guest ends here too"
				 : "");
}

/* Both kinds of memory fault end here: the policy converts, or says why not. */
static enum exit_action handle_fault(struct exit_context *context, uint64_t gpa, uint64_t size,
				     bool private_access, bool modelled,
				     struct memmap_completion *completion)
{
	if (!context->conversions)
		return exit_stop(context, OUTCOME_INTERNAL_ERROR,
				 "memory fault at gpa %#" PRIx64 " size %#" PRIx64
				 " (%s access): no conversion policy in this run",
				 gpa, size, private_access ? "private" : "shared");
	struct gmemvm_error error = { 0 };
	int status = conversion_on_memory_fault(context->conversions, context->vcpu, gpa, size,
						private_access, modelled, completion, &error);
	if (status < 0)
		/* A fault the policy refuses is the guest's (or gmemvm's) error;
		 * a conversion that failed is the VMM's. */
		return exit_stop(context,
				 error.refused ? OUTCOME_INTERNAL_ERROR : OUTCOME_VMM_ERROR, "%s",
				 error.message);
	return EXIT_ACTION_CONTINUE;
}

enum exit_action exit_handle_memory_fault(struct exit_context *context, struct kvm_run *run)
{
	const struct kvm_memory_fault_info *fault = kvm_run_memory_fault(run);
	bool is_private = fault->flags & KVM_MEMORY_EXIT_FLAG_PRIVATE;
	uint64_t gpa = fault->gpa;
	/* In the CoCo modes the alias says what the guest asked for, as the
	 * shared bit does on TDX: a software-protected VM's KVM takes an access's
	 * privateness from the page's attribute, so it flags both kinds private
	 * (docs/design.md, "Wrong-view faults"). */
	if (context->memory && context->memory->shared_bit) {
		enum memmap_alias alias = memmap_classify(context->memory, fault->gpa, &gpa);
		if (alias != MEMMAP_NOT_RAM)
			is_private = alias == MEMMAP_PRIVATE_VIEW;
	}
	if (context->trace_faults)
		fprintf(context->trace_faults,
			"[vcpu %d] memory fault gpa %#" PRIx64 " size %#" PRIx64
			" %s (KVM_EXIT_MEMORY_FAULT at %#" PRIx64 ", flags %#" PRIx64 ")\n",
			context->vcpu, gpa, fault->size, is_private ? "private" : "shared",
			(uint64_t)fault->gpa, (uint64_t)fault->flags);
	/* The kernel retries the access itself once the page is converted. */
	return handle_fault(context, gpa, fault->size, is_private, false, NULL);
}

enum exit_action exit_handle_model_fault(struct exit_context *context, struct kvm_run *run,
					 uint64_t canonical, bool private_access)
{
	uint64_t page = canonical & ~(GMEM_PAGE_SIZE - 1);
	uint32_t length = run->mmio.len;
	if (length == 0 || length > 8 || canonical + length > page + GMEM_PAGE_SIZE)
		return exit_stop(context, OUTCOME_INTERNAL_ERROR,
				 "an access of %u bytes at gpa %#" PRIx64
				 " crosses a page: the model "
				 "cannot complete it",
				 length, canonical);
	if (context->trace_faults)
		fprintf(context->trace_faults,
			"[vcpu %d] memory fault gpa %#" PRIx64 " size %#llx %s "
			"(modelled: MMIO exit at %#llx)\n",
			context->vcpu, page, GMEM_PAGE_SIZE, private_access ? "private" : "shared",
			(unsigned long long)run->mmio.phys_addr);
	/* KVM already decoded the instruction as MMIO: after the conversion the
	 * model performs the access, which is what a retry would have done. */
	struct memmap_completion completion = {
		.gpa = canonical,
		.shared_view = !private_access,
		.is_write = run->mmio.is_write,
		.length = length,
		.data = run->mmio.data,
	};
	return handle_fault(context, page, GMEM_PAGE_SIZE, private_access, true, &completion);
}

int32_t exit_convert_request(struct exit_context *context, uint64_t gpa, uint64_t size,
			     bool to_private, enum exit_action *action)
{
	struct gmemvm_error error = { 0 };
	*action = EXIT_ACTION_CONTINUE;
	if (!context->conversions)
		return GMEMVM_HC_ENOSYS;
	int status = conversion_on_request(context->conversions, context->vcpu, gpa, size,
					   to_private, &error);
	if (status < 0 && !error.refused) /* the VMM failed, not the guest: stop cleanly */
		*action = exit_stop(context, OUTCOME_VMM_ERROR, "%s", error.message);
	return hypercall_answer(status);
}

enum exit_action exit_handle_unknown(struct exit_context *context, struct kvm_run *run)
{
	return exit_stop(context, OUTCOME_UNKNOWN_EXIT,
			 "vCPU %d: exit reason %u is not handled by gmemvm; stopping cleanly",
			 context->vcpu, run->exit_reason);
}

/* The architecture's row for an exit reason, or NULL. */
static const struct arch_exit *arch_exit_of(uint32_t reason)
{
	for (size_t i = 0; i < arch_nr_exits; i++)
		if (arch_exits[i].reason == reason)
			return &arch_exits[i];
	return NULL;
}

/* Map an exit reason to the kind counted in the report: the shared ones
 * here, the rest by the architecture's table. */
static enum exit_kind exit_kind_of(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_MMIO:
		return EXIT_KIND_MMIO;
	case KVM_EXIT_FAIL_ENTRY:
		return EXIT_KIND_FAIL_ENTRY;
	case KVM_EXIT_INTERNAL_ERROR:
		return EXIT_KIND_INTERNAL_ERROR;
	case KVM_EXIT_MEMORY_FAULT:
		return EXIT_KIND_MEMORY_FAULT;
	default: {
		const struct arch_exit *row = arch_exit_of(reason);
		return row ? row->kind : EXIT_KIND_UNKNOWN;
	}
	}
}

/* In CoCo modes an MMIO exit on RAM is the model's memory fault (memmap.h). */
static bool model_fault_of(const struct exit_context *context, const struct kvm_run *run,
			   uint64_t *canonical, bool *private_access)
{
	if (run->exit_reason != KVM_EXIT_MMIO || !context->memory || !context->memory->shared_bit)
		return false;
	enum memmap_alias alias = memmap_classify(context->memory, run->mmio.phys_addr, canonical);
	*private_access = alias == MEMMAP_PRIVATE_VIEW;
	return alias != MEMMAP_NOT_RAM;
}

enum exit_action exit_dispatch(struct exit_context *context, struct kvm_run *run)
{
	uint64_t canonical;
	bool private_access;
	if (model_fault_of(context, run, &canonical, &private_access)) {
		/* KVM's exit was an MMIO exit: exits.memory-fault counts only
		 * KVM_EXIT_MEMORY_FAULT; the memory-faults event counts both. */
		context->exits[EXIT_KIND_MMIO]++;
		context->exits_total++;
		return exit_handle_model_fault(context, run, canonical, private_access);
	}
	enum exit_action action;
	if (run->exit_reason == KVM_EXIT_MMIO && arch_exit_mmio(context, run, &action))
		return action; /* the architecture counted it as its own kind */
	context->exits[exit_kind_of(run->exit_reason)]++;
	context->exits_total++;

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		return exit_handle_mmio(context, run);
	case KVM_EXIT_FAIL_ENTRY:
		return exit_handle_fail_entry(context, run);
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_handle_internal_error(context, run);
	case KVM_EXIT_MEMORY_FAULT:
		return exit_handle_memory_fault(context, run);
	default: {
		const struct arch_exit *row = arch_exit_of(run->exit_reason);
		return row ? row->handle(context, run) : exit_handle_unknown(context, run);
	}
	}
}
