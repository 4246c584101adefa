// SPDX-License-Identifier: MIT
#include "conversion.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "memmap_picture.h"
#include "mode.h"
#include "timeline.h"

#define TRACE_WINDOW  (256ULL << 10) /* the map in --trace shows 64 pages */
#define TRACE_COLUMNS 64

void conversion_init(struct conversion_policy *policy, const struct scenario *scenario,
		     struct memmap *memory, FILE *trace)
{
	memset(policy, 0, sizeof(*policy));
	policy->mode = mode_info(scenario->mode);
	policy->stage = scenario->stage;
	policy->memory = memory;
	policy->trace = trace;
	pthread_mutex_init(&policy->lock, NULL);
}

void conversion_destroy(struct conversion_policy *policy)
{
	pthread_mutex_destroy(&policy->lock);
}

struct conversion_stats conversion_read_stats(struct conversion_policy *policy)
{
	pthread_mutex_lock(&policy->lock);
	struct conversion_stats stats = policy->stats;
	pthread_mutex_unlock(&policy->lock);
	return stats;
}

int conversion_check_stage(const struct scenario *scenario, struct gmemvm_error *error)
{
	const struct mode_info *mode = mode_info(scenario->mode);
	if (!mode)
		return gmemvm_refuse(error, -EINVAL, "mode %d is not one of the four",
				     (int)scenario->mode);
	if (scenario->stage == 1 && mode->stage1_refusal)
		return gmemvm_refuse(error, -EINVAL, "%s", mode->stage1_refusal);
	if (scenario->stage == 1 && mode->coco && scenario->support_shared)
		return gmemvm_refuse(
			error, -EINVAL,
			"stage 1 refuses to bind a mappable guest_memfd (GUEST_MEMFD_FLAG_MMAP; "
			"notes: SUPPORT_SHARED) to a CoCo VM "
			"(design notes, stage 1: \"validate that the VM type is not some Coco VM "
			"if GUEST_MEMFD_FLAG_SUPPORT_SHARED is set\")");
	if (scenario->stage == 1 && scenario->init_private)
		return gmemvm_refuse(
			error, -EINVAL,
			"a mappable file private by default (no GUEST_MEMFD_FLAG_INIT_SHARED; "
			"notes: INIT_PRIVATE) does not exist in stage 1 (design notes: a stage-2 "
			"flag)");
	if (mode->shared_in_gmem && !scenario->support_shared)
		return gmemvm_refuse(
			error, -EINVAL,
			"mode %s keeps shared memory in the guest_memfd, so it needs "
			"GUEST_MEMFD_FLAG_MMAP (notes: GUEST_MEMFD_FLAG_SUPPORT_SHARED)",
			mode->name);
	/* The kernel would answer EINVAL at creation: a forbidden combination
	 * is the scenario's refusal, not a failure of the host. */
	if (scenario->init_private && !scenario->support_shared)
		return gmemvm_refuse(
			error, -EINVAL,
			"private by default (notes: GUEST_MEMFD_FLAG_INIT_PRIVATE) is for files "
			"the host may map (GUEST_MEMFD_FLAG_MMAP, notes: SUPPORT_SHARED): one it "
			"cannot map is private anyway (the notes: EINVAL)");
	if (mode->mmap_only_private_by_default && scenario->support_shared &&
	    !scenario->init_private)
		return gmemvm_refuse(
			error, -EINVAL,
			"a CoCo VM that uses guest_memfd only for private memory sets "
			"GUEST_MEMFD_FLAG_MMAP (notes: SUPPORT_SHARED) only on a file private by "
			"default (no INIT_SHARED; notes: INIT_PRIVATE) (design notes, stage 2 "
			"usage), or the host could fault in its private pages");
	return 0;
}

static void trace_conversion(struct conversion_policy *policy, int vcpu, const char *cause,
			     uint64_t gpa, uint64_t size, bool to_private, int status,
			     const struct memmap_conversion *done)
{
	if (!policy->trace)
		return;
	uint64_t ram = policy->memory->ram_size;
	uint64_t window = gpa & ~(TRACE_WINDOW - 1);
	uint64_t length = window + TRACE_WINDOW <= ram ? TRACE_WINDOW : ram - window;
	char picture[TRACE_COLUMNS + 1] = "";
	if (gpa < ram)
		memmap_render(policy->memory, window, length, picture, TRACE_COLUMNS);
	char retried[96] = "";
	if (done->eagain)
		snprintf(retried, sizeof(retried),
			 " (after %u EAGAIN: a held page; the VMM dropped its holds and retried)",
			 done->eagain);
	fprintf(policy->trace,
		"[vcpu %d] %s gpa %#" PRIx64 " size %#" PRIx64 " -> convert %s with %s: %s%s; "
		"map %#" PRIx64 "+%#" PRIx64 " [%s]\n",
		vcpu, cause, gpa, size, to_private ? "private" : "shared",
		policy->mode->conversion_call,
		status < 0    ? strerror(-status)
		: done->pages ? "done"
			      : "already so",
		retried, window, length, picture);
}

/* --timeline: what a conversion did, or a fault's conversion that failed
 * (a refused request is recorded by refuse()). */
static void record_conversion(struct conversion_policy *policy, int vcpu, uint64_t gpa,
			      uint64_t size, bool to_private, int status, uint64_t pages)
{
	if (!policy->timeline)
		return;
	enum timeline_kind kind =
		status < 0 ? (to_private ? TIMELINE_REFUSED_PRIVATE : TIMELINE_REFUSED_SHARED)
		: pages	   ? (to_private ? TIMELINE_TO_PRIVATE : TIMELINE_TO_SHARED)
			   : (to_private ? TIMELINE_ALREADY_PRIVATE : TIMELINE_ALREADY_SHARED);
	timeline_record(policy->timeline, vcpu, kind, gpa, size, pages, status < 0 ? status : 0);
}

/* --memmap: the first conversion that changed pages draws the map as it
 * left it (docs/memory-map.md). */
static void picture_conversion(struct conversion_policy *policy, int vcpu, const char *cause,
			       uint64_t gpa, uint64_t size, bool to_private, int status,
			       uint64_t pages)
{
	if (!policy->memmap_after || status < 0 || pages == 0)
		return;
	pthread_mutex_lock(&policy->lock);
	bool claimed = policy->memmap_after_claimed;
	policy->memmap_after_claimed = true;
	pthread_mutex_unlock(&policy->lock);
	if (claimed)
		return;
	char label[160];
	snprintf(label, sizeof(label),
		 "After the first conversion: vCPU %d's %s, %#" PRIx64 "+%#" PRIx64
		 " to %s with %s",
		 vcpu, cause, gpa, size, to_private ? "private" : "shared",
		 policy->mode->conversion_call);
	memmap_snapshot(policy->memory, policy->memmap_after, label);
}

static uint64_t monotonic_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
}

/* pages: how many changed state (memmap_convert); 0 counts as already done. */
static void count(struct conversion_policy *policy, uint64_t pages, bool to_private, uint64_t *by,
		  uint64_t started_ns)
{
	uint64_t finished_ns = monotonic_ns();
	pthread_mutex_lock(&policy->lock);
	if (pages == 0) {
		policy->stats.already_done++;
		pthread_mutex_unlock(&policy->lock);
		return;
	}
	policy->stats.host_ns += finished_ns - started_ns;
	if (policy->stats.first_started_ns == 0 || started_ns < policy->stats.first_started_ns)
		policy->stats.first_started_ns = started_ns;
	if (finished_ns > policy->stats.last_finished_ns)
		policy->stats.last_finished_ns = finished_ns;
	if (to_private)
		policy->stats.pages_to_private += pages;
	else
		policy->stats.pages_to_shared += pages;
	(*by)++;
	pthread_mutex_unlock(&policy->lock);
}

int conversion_on_memory_fault(struct conversion_policy *policy, int vcpu, uint64_t gpa,
			       uint64_t size, bool private_access, bool modelled,
			       struct memmap_completion *completion, struct gmemvm_error *error)
{
	struct gmemvm_error unused;
	if (!error)
		error = &unused;
	pthread_mutex_lock(&policy->lock);
	if (modelled)
		policy->stats.memory_faults_modelled++;
	else
		policy->stats.memory_faults_kernel++;
	pthread_mutex_unlock(&policy->lock);
	if (policy->timeline)
		timeline_record(policy->timeline, vcpu,
				private_access ? TIMELINE_FAULT_PRIVATE : TIMELINE_FAULT_SHARED,
				gpa, size, 0, 0);

	if (!policy->mode->converts_on_fault)
		return gmemvm_refuse(error, -ENOSYS,
				     "memory fault at gpa %#" PRIx64
				     " (%s access) in mode %s, which "
				     "converts %s: no memory faults are expected here",
				     gpa, private_access ? "private" : "shared", policy->mode->name,
				     policy->mode->converts);
	if (gpa % GMEM_PAGE_SIZE || size == 0 || size % GMEM_PAGE_SIZE ||
	    gpa >= policy->memory->ram_size || size > policy->memory->ram_size - gpa)
		return gmemvm_refuse(error, -EINVAL,
				     "memory fault at gpa %#" PRIx64 " size %#" PRIx64
				     " is not a page range of guest RAM",
				     gpa, size);
	struct memmap_conversion done;
	uint64_t started_ns = monotonic_ns();
	int status =
		memmap_convert(policy->memory, gpa, size, private_access, completion, &done, error);
	trace_conversion(policy, vcpu, modelled ? "memory fault (modelled)" : "memory fault", gpa,
			 size, private_access, status, &done);
	record_conversion(policy, vcpu, gpa, size, private_access, status, done.pages);
	picture_conversion(policy, vcpu, modelled ? "memory fault (modelled)" : "memory fault", gpa,
			   size, private_access, status, done.pages);
	if (status < 0 && error->refused) {
		/* No memslot left for another range: the access cannot complete,
		 * and the rule's words say why. */
		char why[GMEMVM_ERROR_MESSAGE_SIZE];
		snprintf(why, sizeof(why), "%s", error->message);
		gmemvm_failf(error, status, "KVM_SET_USER_MEMORY_REGION2",
			     "converting gpa %#" PRIx64 " size %#" PRIx64
			     " to %s for a memory fault "
			     "failed: %s",
			     gpa, size, private_access ? "private" : "shared", why);
		return status;
	}
	if (status < 0) {
		/* The range was checked: whatever memmap_convert answered, the
		 * conversion the fault needs failed, and that is the VMM's failure. */
		gmemvm_failf(error, status, error->step,
			     "converting gpa %#" PRIx64 " size %#" PRIx64 " to %s failed in %s: %s",
			     gpa, size, private_access ? "private" : "shared",
			     gmemvm_error_step(error), strerror(-status));
		return status;
	}
	count(policy, done.pages, private_access, &policy->stats.by_fault, started_ns);
	return 0;
}

static int refuse(struct conversion_policy *policy, int vcpu, uint64_t gpa, uint64_t size,
		  bool to_private, int code)
{
	pthread_mutex_lock(&policy->lock);
	policy->stats.refused++;
	pthread_mutex_unlock(&policy->lock);
	if (policy->timeline)
		timeline_record(policy->timeline, vcpu,
				to_private ? TIMELINE_REFUSED_PRIVATE : TIMELINE_REFUSED_SHARED,
				gpa, size, 0, code);
	return code;
}

int conversion_on_request(struct conversion_policy *policy, int vcpu, uint64_t gpa, uint64_t size,
			  bool to_private, struct gmemvm_error *error)
{
	struct gmemvm_error unused;
	if (!error)
		error = &unused;
	uint64_t ram = policy->memory->ram_size;
	/* Checked before anything is touched: a hostile guest gets an error,
	 * never a conversion outside its RAM. */
	if (size == 0 || gpa % GMEM_PAGE_SIZE || size % GMEM_PAGE_SIZE || gpa >= ram ||
	    size > ram - gpa)
		return refuse(policy, vcpu, gpa, size, to_private,
			      gmemvm_refuse(error, -EINVAL, "not whole pages of RAM"));
	if (policy->mode->shared_in_gmem && policy->stage == 1)
		return refuse(
			policy, vcpu, gpa, size, to_private,
			gmemvm_refuse(error, -ENOSYS, "stage 1 has no in-place conversion call"));

	struct memmap_conversion done;
	uint64_t started_ns = monotonic_ns();
	int status = memmap_convert(policy->memory, gpa, size, to_private, NULL, &done, error);
	trace_conversion(policy, vcpu,
			 policy->mode->hypervisor_side ? "hypercall (hypervisor side)"
						       : "hypercall",
			 gpa, size, to_private, status, &done);
	/* The guest's answer: the range refused, the file without a conversion
	 * call (EPERM), no memslot left for another separate range (ENOMEM, the
	 * run goes on), or the VMM's own failure (ENOMEM: the run stops). */
	if (status == -ENOSPC && error->refused)
		return refuse(policy, vcpu, gpa, size, to_private, -ENOSPC);
	if (status == -EINVAL || status == -ENOTTY) {
		error->code = status == -EINVAL ? -EINVAL : -EPERM;
		error->refused = true;
		return refuse(policy, vcpu, gpa, size, to_private, error->code);
	}
	if (status < 0) {
		gmemvm_failf(error, status, error->step,
			     "%s of gpa %#" PRIx64 " size %#" PRIx64 " failed in %s: %s",
			     to_private ? "unshare" : "share", gpa, size, gmemvm_error_step(error),
			     strerror(-status));
		return refuse(policy, vcpu, gpa, size, to_private, -ENOMEM);
	}
	record_conversion(policy, vcpu, gpa, size, to_private, status, done.pages);
	picture_conversion(policy, vcpu,
			   policy->mode->hypervisor_side ? "request (hypervisor side)" : "request",
			   gpa, size, to_private, status, done.pages);
	count(policy, done.pages, to_private, &policy->stats.by_hypercall, started_ns);
	if (done.pages) {
		if (policy->mode->hypervisor_side) {
			pthread_mutex_lock(&policy->lock);
			policy->stats.hypervisor_side++;
			pthread_mutex_unlock(&policy->lock);
		}
	}
	return 0;
}
