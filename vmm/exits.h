/* SPDX-License-Identifier: MIT */
/*
 * One handler per KVM exit kind, and exit_dispatch(), the switch the run
 * loop calls after every KVM_RUN. Handlers read the exit from kvm_run and
 * the vCPU's exit_context; they never call each other.
 */
#ifndef GMEMVM_EXITS_H
#define GMEMVM_EXITS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conversion.h"
#include "iotrap.h"
#include "kvm_abi.h"
#include "memmap.h"
#include "vocabulary.h"

enum exit_action {
	EXIT_ACTION_CONTINUE,
	EXIT_ACTION_STOP
};

struct exit_context {
	int vcpu;
	int vcpu_fd; /* for the architecture's exits that read registers (arm64's SMCCC calls) */
	struct iotrap_registry *traps;
	uint64_t ram_size;	  /* an MMIO exit below this is RAM the host view cannot reach */
	bool userspace_addr_null; /* the memslot was bound with userspace_addr = NULL */
	bool gmem_served;	  /* probe: gmem-bound memslots are served from guest_memfd */
	FILE *trace;		  /* every exit is printed here; NULL when not traced */
	FILE *trace_faults;	  /* each memory fault (--trace=faults); or NULL */
	FILE *trace_hypercalls;	  /* each request to the VMM (--trace=hypercalls); or NULL */
	/* CoCo modes: the memory map that tells a model's memory fault from an
	 * MMIO exit, and the policy every memory fault goes to (NULL: none). */
	struct memmap *memory;
	struct conversion_policy *conversions;

	uint64_t exits[EXIT_KIND_COUNT];
	uint64_t exits_total;
	uint64_t unhandled_pio, unhandled_mmio;

	/* What the guest reported through a hypercall; it takes effect at HLT. */
	bool reported;
	enum outcome reported_outcome;
	char reported_message[256];

	/* Set when the handler returns EXIT_ACTION_STOP. */
	enum outcome outcome;
	char message[512];
};

enum exit_action exit_dispatch(struct exit_context *context, struct kvm_run *run);

/* The shared handlers (exits.c). */
enum exit_action exit_handle_mmio(struct exit_context *context, struct kvm_run *run);
/* The vCPU's end: x86's KVM_EXIT_HLT, arm64's halt register. */
enum exit_action exit_handle_hlt(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_fail_entry(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_internal_error(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_memory_fault(struct exit_context *context, struct kvm_run *run);
/* The model's memory fault: an MMIO exit on RAM through the view that does not
 * match the page (memmap.h). Goes to the same policy as the kernel's. */
enum exit_action exit_handle_model_fault(struct exit_context *context, struct kvm_run *run,
					 uint64_t canonical, bool private_access);
enum exit_action exit_handle_unknown(struct exit_context *context, struct kvm_run *run);

/* The architecture's own handlers are its table's rows (arch/arch.h,
 * arch_exits): x86's port I/O, shutdown and KVM_HC_MAP_GPA_RANGE, arm64's
 * system events and forwarded SMCCC calls. */

/* Helpers for every handler: stop the vCPU with an outcome and a message;
 * whether this first exit means the guest could not run at all (userspace_addr
 * NULL on a host that serves memslots from it); hand one access to the
 * device that owns it (range NULL: an empty bus); ask the conversion policy
 * for a guest's conversion request, answered as a GMEMVM_HC_* code (*action
 * says whether the VMM itself failed). */
__attribute__((format(printf, 3, 4))) enum exit_action
exit_stop(struct exit_context *context, enum outcome outcome, const char *format, ...);
bool exit_cannot_run(const struct exit_context *context);
enum exit_action exit_stop_cannot_run(struct exit_context *context, const char *what);
enum exit_action exit_serve_access(struct exit_context *context, const char *kind,
				   const struct iotrap_range *range, struct iotrap_access *access,
				   uint64_t *unhandled);
int32_t exit_convert_request(struct exit_context *context, uint64_t gpa, uint64_t size,
			     bool to_private, enum exit_action *action);

#endif
