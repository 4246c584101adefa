// SPDX-License-Identifier: MIT
#include <stdint.h>

#include "gmemvm_abi.h"
#include "hypercall.h"
#include "io.h"
#include "libc.h"

/*
 * Request blocks live in the shared area (gmemvm_abi.h), which stays shared
 * with the host in every mode: vCPU i owns the GMEMVM_SHARED_AREA_STRIDE bytes
 * at SHARED_AREA_GPA + i * STRIDE. The block sits at the start of the slot and
 * the strings of an assertion follow it. The port gets the canonical GPA (the
 * shared bit clear); the guest itself touches the slot through the shared view.
 */
#define SLOT_BLOCK_SIZE 64 /* the block, rounded up; strings start here */
#define SLOT_FILE_OFF	SLOT_BLOCK_SIZE
#define SLOT_FILE_MAX	64 /* bytes, including the NUL */
#define SLOT_EXPR_OFF	(SLOT_FILE_OFF + SLOT_FILE_MAX)
#define SLOT_EXPR_MAX	(GMEMVM_SHARED_AREA_STRIDE - SLOT_EXPR_OFF)

_Static_assert(sizeof(struct gmemvm_hypercall) <= SLOT_BLOCK_SIZE, "block overlaps the strings");
_Static_assert(SLOT_EXPR_MAX >= 64, "no room for the expression");
/* The slots of all vCPUs and the spare slot fit in the shared area. */
_Static_assert((GMEMVM_MAX_VCPUS + 1) * GMEMVM_SHARED_AREA_STRIDE <= GMEMVM_SHARED_AREA_SIZE,
	       "shared area too small");
/* The GPA written to the port is 32 bits. */
_Static_assert(GMEMVM_SHARED_AREA_GPA + GMEMVM_SHARED_AREA_SIZE <= (1ULL << 32),
	       "shared area above 4 GiB");

uint64_t guest_shared_mask;

/* A vCPU whose rsp is outside the known stacks (should not happen) uses the slot after the last. */
#define SPARE_SLOT GMEMVM_MAX_VCPUS
static struct spinlock hc_spare_lock = SPINLOCK_INIT;

unsigned int guest_vcpu_index(void)
{
	uint64_t rsp = arch_stack_pointer();

	if (rsp < GMEMVM_STACK_GPA)
		return GMEMVM_MAX_VCPUS;
	rsp = (rsp - GMEMVM_STACK_GPA) / GMEMVM_STACK_SIZE;
	return rsp < GMEMVM_MAX_VCPUS ? (unsigned int)rsp : GMEMVM_MAX_VCPUS;
}

static uint64_t slot_gpa(unsigned int slot)
{
	return GMEMVM_SHARED_AREA_GPA + (uint64_t)slot * GMEMVM_SHARED_AREA_STRIDE;
}

/* Copies s into the slot at gpa, truncated to max - 1 bytes and NUL-terminated. */
static void put_string(uint64_t gpa, const char *s, uint64_t max)
{
	volatile char *d = guest_shared_view(gpa);
	uint64_t i;

	if (!s)
		s = "(null)";
	for (i = 0; i + 1 < max && s[i]; i++)
		d[i] = s[i];
	d[i] = '\0';
}

int32_t hypercall_submit(uint64_t gpa, int32_t unanswered, uint32_t op, uint64_t a0, uint64_t a1,
			 uint64_t a2, uint64_t a3)
{
	volatile struct gmemvm_hypercall *hc = guest_shared_view(gpa);

	hc->op = op;
	hc->result = unanswered; /* stays if the VMM ignores the request */
	hc->arg[0] = a0;
	hc->arg[1] = a1;
	hc->arg[2] = a2;
	hc->arg[3] = a3;
	/* device_write() clobbers memory: the stores above are done before the exit. */
	device_write(GMEMVM_DEVICE_HYPERCALL, (uint32_t)gpa, 4);
	return hc->result;
}

static int32_t hypercall_on(unsigned int slot, uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2,
			    uint64_t a3)
{
	return hypercall_submit(slot_gpa(slot), GMEMVM_HC_ENOSYS, op, a0, a1, a2, a3);
}

int32_t hypercall(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	unsigned int cpu = guest_vcpu_index();
	int32_t ret;

	if (cpu < GMEMVM_MAX_VCPUS)
		return hypercall_on(cpu, op, a0, a1, a2, a3);

	spin_lock(&hc_spare_lock);
	ret = hypercall_on(SPARE_SLOT, op, a0, a1, a2, a3);
	spin_unlock(&hc_spare_lock);
	return ret;
}

/* Whether guest_convert uses the architecture's conversion call instead of
 * the port. Every vCPU stores the same value at start. */
static bool by_hypercall;
static const char *hypercall_name;

void guest_set_conversion_call(bool hypercall)
{
	const char *name = hypercall ? arch_conversion_call_select() : NULL;

	/* All vCPUs store the same values: atomic only to keep the stores whole. */
	__atomic_store_n(&hypercall_name, name, __ATOMIC_RELAXED);
	__atomic_store_n(&by_hypercall, hypercall, __ATOMIC_RELAXED);
}

const char *guest_conversion_call_name(void)
{
	if (__atomic_load_n(&by_hypercall, __ATOMIC_RELAXED))
		return __atomic_load_n(&hypercall_name, __ATOMIC_RELAXED);
	return GMEMVM_CONVERSION_CALL_PORT;
}

void hypercall_share_request_page(void)
{
	unsigned int cpu = guest_vcpu_index();
	uint64_t slot = slot_gpa(cpu < GMEMVM_MAX_VCPUS ? cpu : SPARE_SLOT);

	/* The first access gives the page to the guest; then it is shared. */
	*(volatile uint32_t *)guest_shared_view(slot) = 0;
	(void)arch_conversion_call(slot & ~(ARCH_CONVERSION_GRANULE - 1), ARCH_CONVERSION_GRANULE,
				   false);
}

int32_t guest_convert(uint64_t gpa, uint64_t size, bool to_private)
{
	/*
	 * The conversion calls count whole 4 KiB pages: a size they cannot
	 * express goes to the port (guest_convert_uses_call), so that the VMM
	 * still checks and refuses it.
	 */
	if (guest_convert_uses_call(size))
		return arch_conversion_call(gpa, size, to_private);
	return hypercall(to_private ? GMEMVM_HC_UNSHARE : GMEMVM_HC_SHARE, gpa, size, 0, 0);
}

bool guest_convert_uses_call(uint64_t size)
{
	return __atomic_load_n(&by_hypercall, __ATOMIC_RELAXED) &&
	       size % ARCH_CONVERSION_GRANULE == 0 && (size || !ARCH_CONVERSION_CALL_NEEDS_PAGES);
}

int32_t hypercall_flip(uint64_t addr, uint64_t size, uint32_t rounds, uint32_t *failed)
{
	volatile struct gmemvm_hypercall *hc;
	uint32_t op = GMEMVM_HC_UNSHARE, gpa, i;
	int32_t got = GMEMVM_HC_OK;
	unsigned int cpu;

	/* A conversion call has no block to reuse: each request is a call of its own. */
	if (__atomic_load_n(&by_hypercall, __ATOMIC_RELAXED)) {
		for (i = 0; i < 2 * rounds; i++) {
			got = guest_convert(addr, size, !(i & 1)); /* unshare first, as below */
			if (got != GMEMVM_HC_OK)
				break;
		}
		*failed = i / 2;
		return got;
	}
	cpu = guest_vcpu_index();
	if (cpu >= GMEMVM_MAX_VCPUS)
		return GMEMVM_HC_EINVAL; /* only vCPUs with their own slot benchmark */
	gpa = (uint32_t)slot_gpa(cpu);
	hc = guest_shared_view(gpa);
	hc->arg[0] = addr;
	hc->arg[1] = size;
	hc->arg[2] = hc->arg[3] = 0;
	/*
	 * The benchmarks (docs/performance.md) measure explicit conversions against the bare
	 * kernel: per request only the op and the unanswered marker are rewritten, since every
	 * guest instruction is emulated on PVM hosts.
	 */
	for (i = 0; i < 2 * rounds; i++) {
		hc->op = op;
		hc->result = GMEMVM_HC_ENOSYS;
		device_write(GMEMVM_DEVICE_HYPERCALL, gpa, 4);
		got = hc->result;
		if (got != GMEMVM_HC_OK)
			break;
		op ^= GMEMVM_HC_UNSHARE ^ GMEMVM_HC_SHARE;
	}
	*failed = i / 2;
	return got;
}

void hypercall_assert_fail(const char *file, unsigned int line, const char *expr)
{
	unsigned int cpu = guest_vcpu_index();
	unsigned int slot = cpu < GMEMVM_MAX_VCPUS ? cpu : SPARE_SLOT;
	uint64_t file_gpa = slot_gpa(slot) + SLOT_FILE_OFF;
	uint64_t expr_gpa = slot_gpa(slot) + SLOT_EXPR_OFF;

	/* The spare slot is only borrowed; this vCPU halts holding it. */
	if (slot == SPARE_SLOT)
		spin_lock(&hc_spare_lock);
	/* The VMM reads the strings from the shared area, never from private memory. */
	put_string(file_gpa, file, SLOT_FILE_MAX);
	put_string(expr_gpa, expr, SLOT_EXPR_MAX);
	hypercall_on(slot, GMEMVM_HC_ASSERT, file_gpa, line, expr_gpa, 0);
	halt_forever();
}

void hypercall_done(uint64_t status, uint64_t failed_step)
{
	hypercall(GMEMVM_HC_DONE, status, failed_step, 0, 0);
	halt_forever();
}

void hypercall_done_exception(uint64_t step, uint64_t error_code, uint64_t rip)
{
	hypercall(GMEMVM_HC_DONE, GMEMVM_DONE_EXCEPTION, step, error_code, rip);
	halt_forever();
}
