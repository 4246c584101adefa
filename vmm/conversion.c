// SPDX-License-Identifier: MIT
#include "conversion.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "gmemvm_abi.h"
#include "timeline.h"

#define TRACE_WINDOW  (256ULL << 10) /* the map in --trace shows 64 pages */
#define TRACE_COLUMNS 64

void conversion_init(struct conversion_policy *policy, const struct scenario *scenario,
		     struct memmap *memory, FILE *trace)
{
	memset(policy, 0, sizeof(*policy));
	policy->mode = scenario->mode;
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

int conversion_check_stage(const struct scenario *scenario, char *why, size_t why_size)
{
	bool coco = scenario->mode == MODE_COCO_LEGACY || scenario->mode == MODE_COCO_INPLACE;
	if (scenario->stage == 1 && scenario->mode == MODE_PKVM) {
		snprintf(why, why_size,
			 "pKVM cannot use stage 1: nothing prevents kvm_gmem_fault() from "
			 "returning a guest-owned page (design notes, stage 1 usage)");
		return -1;
	}
	if (scenario->stage == 1 && coco && scenario->support_shared) {
		snprintf(why, why_size,
			 "stage 1 refuses to bind a mappable guest_memfd (GUEST_MEMFD_FLAG_MMAP; "
			 "notes: SUPPORT_SHARED) to a CoCo VM "
			 "(design notes, stage 1: \"validate that the VM type is not some Coco VM "
			 "if GUEST_MEMFD_FLAG_SUPPORT_SHARED is set\")");
		return -1;
	}
	if (scenario->stage == 1 && scenario->init_private) {
		snprintf(why, why_size,
			 "a mappable file private by default (no GUEST_MEMFD_FLAG_INIT_SHARED; "
			 "notes: INIT_PRIVATE) does not exist in stage 1 (design notes: a stage-2 "
			 "flag)");
		return -1;
	}
	if ((scenario->mode == MODE_PKVM || scenario->mode == MODE_COCO_INPLACE ||
	     scenario->mode == MODE_SHARED) &&
	    !scenario->support_shared) {
		snprintf(why, why_size,
			 "mode %s keeps shared memory in the guest_memfd, so it needs "
			 "GUEST_MEMFD_FLAG_MMAP (notes: GUEST_MEMFD_FLAG_SUPPORT_SHARED)",
			 config_mode_name(scenario->mode));
		return -1;
	}
	/* The kernel would answer EINVAL at creation: a forbidden combination
	 * is the scenario's refusal, not a failure of the host. */
	if (scenario->init_private && !scenario->support_shared) {
		snprintf(why, why_size,
			 "private by default (notes: GUEST_MEMFD_FLAG_INIT_PRIVATE) is for files "
			 "the host may map (GUEST_MEMFD_FLAG_MMAP, notes: SUPPORT_SHARED): one it "
			 "cannot map is private anyway (the notes: EINVAL)");
		return -1;
	}
	if (scenario->mode == MODE_COCO_LEGACY && scenario->support_shared &&
	    !scenario->init_private) {
		snprintf(why, why_size,
			 "a CoCo VM that uses guest_memfd only for private memory sets "
			 "GUEST_MEMFD_FLAG_MMAP (notes: SUPPORT_SHARED) only on a file private by "
			 "default (no INIT_SHARED; notes: INIT_PRIVATE) (design notes, stage 2 "
			 "usage), or the host could fault in its private pages");
		return -1;
	}
	return 0;
}

static void trace_conversion(struct conversion_policy *policy, int vcpu, const char *cause,
			     uint64_t gpa, uint64_t size, bool to_private, int status,
			     uint64_t pages)
{
	if (!policy->trace)
		return;
	uint64_t ram = policy->memory->ram_size;
	uint64_t window = gpa & ~(TRACE_WINDOW - 1);
	uint64_t length = window + TRACE_WINDOW <= ram ? TRACE_WINDOW : ram - window;
	char picture[TRACE_COLUMNS + 1] = "";
	if (gpa < ram)
		memmap_render(policy->memory, window, length, picture, TRACE_COLUMNS);
	unsigned int eagain = policy->mode == MODE_COCO_LEGACY ? 0 : gmem_last_eagain();
	char retried[96] = "";
	if (eagain)
		snprintf(retried, sizeof(retried),
			 " (after %u EAGAIN: a held page; the VMM dropped its holds and retried)",
			 eagain);
	fprintf(policy->trace,
		"[vcpu %d] %s gpa %#" PRIx64 " size %#" PRIx64 " -> convert %s with %s: %s%s; "
		"map %#" PRIx64 "+%#" PRIx64 " [%s]\n",
		vcpu, cause, gpa, size, to_private ? "private" : "shared",
		policy->mode == MODE_COCO_LEGACY ? "KVM_SET_MEMORY_ATTRIBUTES"
						 : "KVM_SET_MEMORY_ATTRIBUTES2",
		status < 0 ? strerror(-status)
		: pages	   ? "done"
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
			       struct memmap_completion *completion, char *why, size_t why_size)
{
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

	if (policy->mode != MODE_COCO_LEGACY && policy->mode != MODE_COCO_INPLACE) {
		snprintf(why, why_size,
			 "memory fault at gpa %#" PRIx64 " (%s access) in mode %s, which converts "
			 "%s: no memory faults are expected here",
			 gpa, private_access ? "private" : "shared", config_mode_name(policy->mode),
			 policy->mode == MODE_PKVM ? "on the guest's requests, in the hypervisor"
						   : "only when userspace asks");
		return -1;
	}
	if (gpa % GMEM_PAGE_SIZE || size == 0 || size % GMEM_PAGE_SIZE ||
	    gpa >= policy->memory->ram_size || size > policy->memory->ram_size - gpa) {
		snprintf(why, why_size,
			 "memory fault at gpa %#" PRIx64 " size %#" PRIx64 " is not a page range "
			 "of guest RAM",
			 gpa, size);
		return -1;
	}
	uint64_t pages = 0;
	uint64_t started_ns = monotonic_ns();
	int status = memmap_convert(policy->memory, gpa, size, private_access, completion, &pages);
	trace_conversion(policy, vcpu, modelled ? "memory fault (modelled)" : "memory fault", gpa,
			 size, private_access, status, pages);
	record_conversion(policy, vcpu, gpa, size, private_access, status, pages);
	if (status < 0) {
		snprintf(why, why_size,
			 "converting gpa %#" PRIx64 " size %#" PRIx64 " to %s failed in %s: %s",
			 gpa, size, private_access ? "private" : "shared", memmap_failed_step(),
			 strerror(-status));
		return CONVERSION_VMM_FAILED;
	}
	count(policy, pages, private_access, &policy->stats.by_fault, started_ns);
	return 0;
}

static __thread char failure[256];

const char *conversion_failure(void)
{
	return failure;
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
			  bool to_private)
{
	uint64_t ram = policy->memory->ram_size;
	/* Checked before anything is touched: a hostile guest gets an error,
	 * never a conversion outside its RAM. */
	if (size == 0 || gpa % GMEM_PAGE_SIZE || size % GMEM_PAGE_SIZE || gpa >= ram ||
	    size > ram - gpa)
		return refuse(policy, vcpu, gpa, size, to_private, GMEMVM_HC_EINVAL);
	if (policy->mode == MODE_SHARED && policy->stage == 1)
		/* stage 1 has no conversion ioctls */
		return refuse(policy, vcpu, gpa, size, to_private, GMEMVM_HC_ENOSYS);

	uint64_t pages = 0;
	uint64_t started_ns = monotonic_ns();
	int status = memmap_convert(policy->memory, gpa, size, to_private, NULL, &pages);
	trace_conversion(policy, vcpu,
			 policy->mode == MODE_PKVM ? "hypercall (hypervisor side)" : "hypercall",
			 gpa, size, to_private, status, pages);
	if (status == -EINVAL)
		return refuse(policy, vcpu, gpa, size, to_private, GMEMVM_HC_EINVAL);
	if (status == -ENOTTY)
		return refuse(policy, vcpu, gpa, size, to_private, GMEMVM_HC_EPERM);
	if (status < 0) {
		snprintf(failure, sizeof(failure),
			 "%s of gpa %#" PRIx64 " size %#" PRIx64 " failed in %s: %s",
			 to_private ? "unshare" : "share", gpa, size, memmap_failed_step(),
			 strerror(-status));
		return refuse(policy, vcpu, gpa, size, to_private, GMEMVM_HC_ENOMEM);
	}
	record_conversion(policy, vcpu, gpa, size, to_private, status, pages);
	count(policy, pages, to_private, &policy->stats.by_hypercall, started_ns);
	if (pages) {
		if (policy->mode == MODE_PKVM) {
			pthread_mutex_lock(&policy->lock);
			policy->stats.hypervisor_side++;
			pthread_mutex_unlock(&policy->lock);
		}
	}
	return GMEMVM_HC_OK;
}
