// SPDX-License-Identifier: MIT
#include "hypercall.h"

#include "arch/arch.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "timeline.h"
#include "vocabulary.h"

void hypercall_init(struct hypercall_device *device, struct memmap *memory,
		    struct conversion_policy *conversions)
{
	memset(device, 0, sizeof(*device));
	device->memory = memory;
	device->conversions = conversions;
	pthread_mutex_init(&device->lock, NULL);
}

void hypercall_destroy(struct hypercall_device *device)
{
	pthread_mutex_destroy(&device->lock);
}

int32_t hypercall_answer(int status)
{
	switch (status) {
	case -EINVAL:
		return GMEMVM_HC_EINVAL;
	case -ENOSYS:
		return GMEMVM_HC_ENOSYS;
	case -EPERM:
		return GMEMVM_HC_EPERM;
	default:
		return status >= 0 ? GMEMVM_HC_OK : GMEMVM_HC_ENOMEM;
	}
}

int hypercall_decode(struct memmap *memory, uint64_t gpa, struct gmemvm_hypercall *request)
{
	if (gpa % 8)
		return GMEMVM_HC_EINVAL;
	/* One copy, under the memory map's lock: the guest may change or
	 * unshare the block while we look at it. */
	if (memmap_read(memory, gpa, request, sizeof(*request)) < 0)
		return GMEMVM_HC_EINVAL;
	return GMEMVM_HC_OK;
}

void hypercall_read_string(struct memmap *memory, uint64_t gpa, char *out, size_t size)
{
	if (size == 0)
		return; /* no room even for the terminator */
	size_t length = 0;
	for (; length + 1 < size; length++) {
		char byte;
		if (memmap_read(memory, gpa + length, &byte, 1) < 0 || byte == '\0')
			break;
		out[length] = (byte >= 0x20 && byte < 0x7f) ? byte : '.';
	}
	out[length] = '\0';
}

/*
 * An exception the guest had no gate for. With userspace_addr = NULL, one
 * raised by an mmio step is KVM refusing to emulate: it could not read the
 * instruction through userspace_addr and injected an exception instead of
 * exiting (measured on Linux 7.3 under nested SVM; docs/lab.md).
 */
static void report_exception(const struct hypercall_device *device, int vcpu,
			     const struct gmemvm_hypercall *request, struct iotrap_reply *reply)
{
	uint64_t step = request->arg[1];
	char exception[64];
	arch_describe_exception(request->arg[2], request->arg[3], exception, sizeof(exception));
	const struct scenario *scenario = device->scenario;
	bool mmio_step = scenario && step >= 1 && step <= (uint64_t)scenario->nr_steps &&
			 scenario->steps[step - 1].op == GMEMVM_STEP_MMIO;
	if (mmio_step && scenario->userspace_addr_null) {
		reply->outcome = OUTCOME_EMULATION_REFUSED;
		snprintf(reply->message, sizeof(reply->message),
			 "emulation refused: KVM could not read the MMIO instruction of step "
			 "%" PRIu64 " through userspace_addr = NULL and injected an exception into "
			 "vCPU %d instead (%s)",
			 step, vcpu, exception);
		return;
	}
	reply->outcome = OUTCOME_GUEST_FAILED;
	snprintf(reply->message, sizeof(reply->message),
		 "vCPU %d took an exception it has no handler for in step %" PRIu64 " (%s)", vcpu,
		 step, exception);
}

static void count(struct hypercall_device *device, uint64_t *counter)
{
	pthread_mutex_lock(&device->lock);
	(*counter)++;
	pthread_mutex_unlock(&device->lock);
}

static const char *hypercall_op_name(uint32_t op)
{
	switch (op) {
	case GMEMVM_HC_DONE:
		return "done";
	case GMEMVM_HC_ASSERT:
		return "assert";
	case GMEMVM_HC_SHARE:
		return "share";
	case GMEMVM_HC_UNSHARE:
		return "unshare";
	case GMEMVM_HC_DISCARD:
		return "discard";
	case GMEMVM_HC_HOLD:
		return "hold";
	case GMEMVM_HC_RELEASE:
		return "release";
	default:
		return "unknown-op";
	}
}

static void hypercall_access(void *opaque, struct iotrap_access *access, struct iotrap_reply *reply)
{
	struct hypercall_device *device = opaque;
	if (!access->is_write) {
		iotrap_set_value(access, UINT64_MAX);
		return;
	}
	if (access->offset == 0 && access->element == 0)
		count(device, &device->stats.port_writes);
	count(device, &device->stats.requests);
	if (access->size != 4) {
		count(device, &device->stats.refused_bad_block);
		return; /* no block to answer into: the guest sees its result unchanged */
	}
	uint64_t gpa = iotrap_value(access);
	struct gmemvm_hypercall request;
	if (hypercall_decode(device->memory, gpa, &request) != GMEMVM_HC_OK) {
		count(device, &device->stats.refused_bad_block);
		return;
	}

	int32_t result = GMEMVM_HC_OK;
	switch (request.op) {
	case GMEMVM_HC_DONE:
		count(device, &device->stats.done);
		reply->result = IOTRAP_REPORT;
		if (request.arg[0] == 0) {
			reply->outcome = OUTCOME_DONE;
			snprintf(reply->message, sizeof(reply->message),
				 "vCPU %d completed its steps", access->vcpu);
		} else if (request.arg[0] == GMEMVM_DONE_EXCEPTION) {
			report_exception(device, access->vcpu, &request, reply);
		} else {
			reply->outcome = OUTCOME_GUEST_FAILED;
			snprintf(reply->message, sizeof(reply->message),
				 "vCPU %d reported failure (status %" PRIu64 ") at step %" PRIu64,
				 access->vcpu, request.arg[0], request.arg[1]);
		}
		break;
	case GMEMVM_HC_ASSERT: {
		char file[64], expression[128];
		count(device, &device->stats.asserts);
		hypercall_read_string(device->memory, request.arg[0], file, sizeof(file));
		hypercall_read_string(device->memory, request.arg[2], expression,
				      sizeof(expression));
		reply->result = IOTRAP_STOP;
		reply->outcome = OUTCOME_GUEST_FAILED;
		snprintf(reply->message, sizeof(reply->message),
			 "guest assertion failed on vCPU %d at %s:%" PRIu64 ": %s", access->vcpu,
			 file, request.arg[1], expression);
		break;
	}
	case GMEMVM_HC_SHARE:
	case GMEMVM_HC_UNSHARE: {
		bool to_private = request.op == GMEMVM_HC_UNSHARE;
		count(device, to_private ? &device->stats.unshares : &device->stats.shares);
		if (!device->conversions) {
			count(device, &device->stats.refused_not_supported);
			result = GMEMVM_HC_ENOSYS;
			break;
		}
		struct gmemvm_error error = { 0 };
		int status =
			conversion_on_request(device->conversions, access->vcpu, request.arg[0],
					      request.arg[1], to_private, &error);
		result = hypercall_answer(status);
		if (result != GMEMVM_HC_OK)
			count(device, &device->stats.refused_conversions);
		if (status < 0 && !error.refused) {
			/* The VMM failed, not the guest: stop the run cleanly. */
			reply->result = IOTRAP_STOP;
			reply->outcome = OUTCOME_VMM_ERROR;
			snprintf(reply->message, sizeof(reply->message), "%.*s",
				 (int)sizeof(reply->message) - 1, error.message);
		}
		break;
	}
	case GMEMVM_HC_HOLD:
	case GMEMVM_HC_RELEASE: {
		bool hold = request.op == GMEMVM_HC_HOLD;
		count(device, hold ? &device->stats.holds : &device->stats.releases);
		int status = memmap_hold(device->memory, request.arg[0], request.arg[1], hold);
		result = hypercall_answer(status); /* ENOMEM: no room, or pipe2/vmsplice */
		if (status < 0)
			count(device, &device->stats.refused_holds);
		break;
	}
	case GMEMVM_HC_DISCARD: {
		count(device, &device->stats.discards);
		struct gmemvm_error error = { 0 };
		int status = memmap_discard(device->memory, request.arg[0], request.arg[1], &error);
		/* A punch that failed is the VMM's failure, whatever its errno. */
		result = status < 0 && !error.refused ? GMEMVM_HC_ENOMEM : hypercall_answer(status);
		if (status)
			count(device, &device->stats.refused_discards);
		if (device->timeline)
			timeline_record(device->timeline, access->vcpu,
					status ? TIMELINE_DISCARD_REFUSED : TIMELINE_DISCARD,
					request.arg[0], request.arg[1], 0, result);
		if (status < 0 && !error.refused) {
			reply->result = IOTRAP_STOP;
			reply->outcome = OUTCOME_VMM_ERROR;
			snprintf(reply->message, sizeof(reply->message),
				 "discard of gpa %#" PRIx64 " size %#" PRIx64 " failed in %s: %s",
				 request.arg[0], request.arg[1], gmemvm_error_step(&error),
				 strerror(-status));
		}
		break;
	}
	default:
		count(device, &device->stats.refused_unknown_op);
		result = GMEMVM_HC_ENOSYS;
		break;
	}
	if (device->trace)
		fprintf(device->trace,
			"[vcpu %d] hypercall %s %#" PRIx64 " %#" PRIx64 " -> %d%s%s%s\n",
			access->vcpu, hypercall_op_name(request.op), request.arg[0], request.arg[1],
			result, result ? " (" : "", result ? strerror(-result) : "",
			result ? ")" : "");
	/* Only the result field goes back. If the guest unshared its own block
	 * meanwhile, the write is refused and the guest sees no result. */
	if (memmap_write(device->memory, gpa + offsetof(struct gmemvm_hypercall, result), &result,
			 sizeof(result)) < 0)
		count(device, &device->stats.refused_bad_block);
}

/* Its device-tree node, "hypercall@500". */
static const struct iotrap_node hypercall_node = {
	.name = "hypercall",
	.compatible = "gmemvm,hypercall-port",
	.address = GMEMVM_DEVICE_HYPERCALL,
	.address_size = 4,
};

/* An access to the port is a request: its raw line goes with the request
 * and its answer (--trace=hypercalls), not with the exits. */
int hypercall_register(struct hypercall_device *device, struct iotrap_registry *traps)
{
	int status = iotrap_register_flags(traps, arch_device_space, hypercall_node.address, 4,
					   hypercall_node.name, hypercall_access, device,
					   IOTRAP_TRACE_REQUESTS);
	if (status < 0)
		return status;
	return iotrap_add_node(traps, &hypercall_node);
}
