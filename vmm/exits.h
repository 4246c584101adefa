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

enum exit_action exit_handle_io(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_mmio(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_hlt(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_shutdown(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_fail_entry(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_internal_error(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_memory_fault(struct exit_context *context, struct kvm_run *run);
/* The model's memory fault: an MMIO exit on RAM through the view that does not
 * match the page (memmap.h). Goes to the same policy as the kernel's. */
enum exit_action exit_handle_model_fault(struct exit_context *context, struct kvm_run *run,
					 uint64_t canonical, bool private_access);
/* KVM_EXIT_HYPERCALL: the guest's KVM_HC_MAP_GPA_RANGE share/unshare request,
 * checked like the port's and answered in kvm_run.hypercall.ret. */
enum exit_action exit_handle_hypercall(struct exit_context *context, struct kvm_run *run);
enum exit_action exit_handle_unknown(struct exit_context *context, struct kvm_run *run);

#endif
