// SPDX-License-Identifier: MIT
/*
 * The hostile step (docs/config.md, `hostile SEED COUNT`): COUNT actions on
 * this vCPU, each drawn from a xorshift64 generator seeded with SEED and the
 * vCPU index, so one seed gives the same sequence of actions on every run
 * (the draws never depend on what the VMM answers). Each action attacks one
 * interface of the VMM and checks the answer the guest can see:
 *
 *   a. hypercall register: 8-, 16- and 32-bit writes of junk and of request-block GPAs that
 *      cannot be read (misaligned, beyond RAM, straddling its end, in the MMIO
 *      hole); reads of the port are all-ones.
 *   b. request blocks in this vCPU's slot: unknown ops (-ENOSYS), malformed
 *      SHARE/UNSHARE/DISCARD ranges (-EINVAL), and valid SHARE/UNSHARE of
 *      pages in the playground (0, or -ENOSYS where the mode has no
 *      conversions: the same answer every time).
 *   c. device registers (ports on x86, MMIO on arm64) of every width, in and
 *      out: the serial port, the test device's echo register and addresses
 *      nobody handles (reads all-ones).
 *   d. MMIO to addresses above RAM that no device handles (reads all-ones) and
 *      partial or unaligned accesses to the test device's registers.
 *   e. (CoCo modes) a load or store through the wrong view of a playground
 *      page: a memory fault and a conversion; with vcpu=all, a storm.
 *
 * Only the playground is ever converted or touched through memory: the boot
 * area, the shared area and the rest of the data area are left alone.
 */
#include <stdint.h>

#include "gmemvm_abi.h"
#include "hostile.h"
#include "hypercall.h"
#include "io.h"
#include "serial.h"

#define PAGE		4096ULL
#define FOUR_GIB	(1ULL << 32)
#define RESULT_SENTINEL 0x5a5a5a5a /* the block's result before the VMM answers */
#define UART_THR	0
#define LAPIC_PAGE	0xfee00000ULL /* left alone: an in-kernel LAPIC would answer it */

enum kind {
	K_PORT_HC,
	K_REQUEST,
	K_CONVERT,
	K_PIO,
	K_MMIO,
	K_VIEW,
	K_COUNT
};

struct hostile {
	const struct hostile_params *p;
	uint64_t rng;
	uint32_t action; /* 0-based index of the current action */
	uint64_t done[K_COUNT];
	uint64_t refusals; /* requests the VMM should count as refused */
	int32_t valid_answer;
	int have_valid_answer;
	uint32_t echo; /* the last value this vCPU wrote to the echo port */
	int have_echo;
	uint64_t shared_mask;
};

static uint64_t next(struct hostile *h)
{
	uint64_t x = h->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	h->rng = x;
	return x;
}

/* A number in [0, n), n > 0 (modulo bias is irrelevant here). */
static uint64_t pick(struct hostile *h, uint64_t n)
{
	return next(h) % n;
}

static unsigned int pick_width(struct hostile *h)
{
	static const unsigned int widths[] = { 1, 2, 4 };

	return widths[pick(h, 3)];
}

static uint64_t ones(unsigned int width)
{
	return width >= 8 ? UINT64_MAX : (1ULL << (8 * width)) - 1;
}

static int bad(struct hostile *h, const char *what, uint64_t where, uint64_t got, uint64_t want)
{
	serial_printf("vcpu %lu: step %u hostile seed %u action %u: %s at 0x%llx got 0x%llx, "
		      "expected 0x%llx\n",
		      h->p->cpu, h->p->step, h->p->seed, h->action, what, (unsigned long long)where,
		      (unsigned long long)got, (unsigned long long)want);
	return -1;
}

/* On arm64 device registers are Device memory, where an unaligned access is
 * an alignment fault in the guest, not a request to the VMM: align there. */
static uint64_t device_aligned(uint64_t address, unsigned int width)
{
	return ARCH_DEVICE_ACCESS_ALIGNED ? address & ~(uint64_t)(width - 1) : address;
}

/* Does [port, port + width) lie inside [base, base + size)? */
static int inside(uint64_t port, unsigned int width, uint64_t base, uint64_t size)
{
	return port >= base && port + width <= base + size;
}

static int overlaps(uint64_t port, unsigned int width, uint64_t base, uint64_t size)
{
	return port < base + size && base < port + width;
}

/* ---- a. the hypercall port ----------------------------------------------- */

/* A 32-bit block GPA the VMM must refuse to read: never shared RAM it could
 * take for a request (GPA 0 excepted: it holds no op 1..5 and is refused or
 * answered -ENOSYS). */
static uint32_t bad_block_gpa(struct hostile *h)
{
	uint64_t ram = h->p->ram_size;

	switch (pick(h, 8)) {
	case 0: /* in RAM, misaligned */
		return (uint32_t)((pick(h, ram) & ~7ULL) | (1 + pick(h, 7)));
	case 1: /* beyond RAM, below 4 GiB */
		return (uint32_t)((ram + pick(h, FOUR_GIB - ram)) & ~7ULL);
	case 2:
		return 0;
	case 3:
		return 0xffffffffU;
	case 4:
		return 0xfffffff8U;
	case 5: /* inside the MMIO hole */
		return (uint32_t)(GMEMVM_TESTDEV_MMIO_GPA +
				  (pick(h, GMEMVM_TESTDEV_MMIO_SIZE) & ~7ULL));
	case 6: /* a block that straddles the end of RAM */
		return (uint32_t)(ram -
				  8 * (1 + pick(h, (sizeof(struct gmemvm_hypercall) - 1) / 8)));
	default: /* just past the end of RAM */
		return (uint32_t)ram;
	}
}

static int act_port_hc(struct hostile *h)
{
	uint64_t port = GMEMVM_DEVICE_HYPERCALL;
	unsigned int width;
	uint32_t got;

	switch (pick(h, 4)) {
	case 0: /* a byte anywhere in the register's 4 bytes: never a request */
		device_write(port + pick(h, 4), (uint8_t)next(h), 1);
		h->refusals++;
		return 0;
	case 1: /* 16 bits: inside the register (refused) or straddling its end (no device) */
		port = device_aligned(port + pick(h, 4), 2);
		device_write(port, (uint16_t)next(h), 2);
		if (port + 2 <= GMEMVM_DEVICE_HYPERCALL + 4)
			h->refusals++;
		return 0;
	case 2: /* a request whose block cannot be read */
		device_write(port, bad_block_gpa(h), 4);
		h->refusals++;
		return 0;
	default: /* reads of the register float high */
		width = pick_width(h);
		port = device_aligned(port + pick(h, 4), width);
		got = device_read(port, width);
		if (got != ones(width))
			return bad(h, "read of the hypercall port", port, got, ones(width));
		return 0;
	}
}

/* ---- b. request blocks ------------------------------------------------- */

/* One request in this vCPU's slot of the shared area; returns the result
 * field, RESULT_SENTINEL if the VMM did not answer. */
static int32_t request(struct hostile *h, uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2,
		       uint64_t a3)
{
	uint64_t gpa = GMEMVM_SHARED_AREA_GPA + h->p->cpu * GMEMVM_SHARED_AREA_STRIDE;

	return hypercall_submit(gpa, RESULT_SENTINEL, op, a0, a1, a2, a3);
}

static uint64_t playground_page(struct hostile *h)
{
	return h->p->pg_start + pick(h, (h->p->pg_end - h->p->pg_start) / PAGE) * PAGE;
}

/* A range every conversion and discard must refuse with -EINVAL. */
static void malformed_range(struct hostile *h, uint64_t *gpa, uint64_t *size)
{
	uint64_t ram = h->p->ram_size;

	switch (pick(h, 11)) {
	case 0: /* beyond RAM, below 4 GiB */
		*gpa = (ram + pick(h, (FOUR_GIB - ram) / PAGE) * PAGE);
		*size = PAGE * (1 + pick(h, 4));
		break;
	case 1: /* far beyond RAM */
		*gpa = (1ULL << (33 + pick(h, 30))) & ~(PAGE - 1);
		*size = PAGE;
		break;
	case 2: /* misaligned address */
		*gpa = playground_page(h) + 1 + pick(h, PAGE - 1);
		*size = PAGE * (1 + pick(h, 4));
		break;
	case 3: /* misaligned size */
		*gpa = playground_page(h);
		*size = PAGE * pick(h, 4) + 1 + pick(h, PAGE - 1);
		break;
	case 4: /* empty */
		*gpa = playground_page(h);
		*size = 0;
		break;
	case 5: /* gpa + size wraps around */
		*gpa = playground_page(h);
		*size = pick(h, 2) ? 0 - *gpa : ~(PAGE - 1);
		break;
	case 6: /* the top page of the address space, and past it */
		*gpa = 0xfffffffffffff000ULL;
		*size = PAGE * (1 + pick(h, 2));
		break;
	case 7: /* the MMIO hole, or from the last page of RAM into it */
		if (pick(h, 2)) {
			*gpa = GMEMVM_TESTDEV_MMIO_GPA;
			*size = GMEMVM_TESTDEV_MMIO_SIZE;
		} else {
			*gpa = ram - PAGE;
			*size = GMEMVM_TESTDEV_MMIO_GPA + GMEMVM_TESTDEV_MMIO_SIZE - *gpa;
		}
		break;
	case 8: /* straddling the end of RAM */
		*gpa = ram - PAGE * (1 + pick(h, 4));
		*size = ram - *gpa + PAGE * (1 + pick(h, 4));
		break;
	case 9: /* a playground page by its shared alias (no alias: far above RAM) */
		*gpa = playground_page(h) | (h->shared_mask ? h->shared_mask : 1ULL << 40);
		*size = PAGE;
		break;
	default: /* exactly the end of RAM */
		*gpa = ram;
		*size = PAGE;
		break;
	}
}

static uint32_t unknown_op(struct hostile *h)
{
	static const uint32_t fixed[] = { 0,	       GMEMVM_HC_RELEASE + 1, 0x7fffffffU,
					  0x80000000U, 0xffffffffU,	      0x100U + 3 };
	uint32_t op;

	switch (pick(h, 3)) {
	case 0:
		return fixed[pick(h, sizeof(fixed) / sizeof(fixed[0]))];
	case 1:
		return (uint32_t)(GMEMVM_HC_RELEASE + 1 + pick(h, 994));
	default:
		do
			op = (uint32_t)next(h);
		while (op >= GMEMVM_HC_DONE && op <= GMEMVM_HC_RELEASE);
		return op;
	}
}

static const char *op_name(uint32_t op)
{
	return op == GMEMVM_HC_SHARE ? "share" : op == GMEMVM_HC_UNSHARE ? "unshare" : "discard";
}

static int act_request(struct hostile *h)
{
	int32_t got;

	if (pick(h, 3) == 0) {
		uint32_t op = unknown_op(h);

		got = request(h, op, next(h), next(h), next(h), next(h));
		h->refusals++;
		if (got != GMEMVM_HC_ENOSYS)
			return bad(h, "unknown op: result", op, (uint32_t)got,
				   (uint32_t)GMEMVM_HC_ENOSYS);
		return 0;
	}

	static const uint32_t ops[] = { GMEMVM_HC_SHARE, GMEMVM_HC_UNSHARE, GMEMVM_HC_DISCARD };
	uint32_t op = ops[pick(h, 3)];
	uint64_t gpa, size;

	malformed_range(h, &gpa, &size);
	got = request(h, op, gpa, size, next(h), next(h));
	h->refusals++;
	if (got != GMEMVM_HC_EINVAL) {
		serial_printf("vcpu %lu: step %u hostile seed %u action %u: malformed %s "
			      "0x%llx+0x%llx got %d, expected %d (-EINVAL)\n",
			      h->p->cpu, h->p->step, h->p->seed, h->action, op_name(op),
			      (unsigned long long)gpa, (unsigned long long)size, got,
			      GMEMVM_HC_EINVAL);
		return -1;
	}
	return 0;
}

/* A valid share or unshare of up to 8 playground pages. */
static int act_convert(struct hostile *h)
{
	uint32_t op = pick(h, 2) ? GMEMVM_HC_SHARE : GMEMVM_HC_UNSHARE;
	uint64_t gpa = playground_page(h);
	uint64_t size = PAGE * (1 + pick(h, 8));
	int32_t got;

	if (size > h->p->pg_end - gpa)
		size = h->p->pg_end - gpa;
	got = request(h, op, gpa, size, 0, 0);
	if (!h->have_valid_answer && (got == GMEMVM_HC_OK || got == GMEMVM_HC_ENOSYS)) {
		h->valid_answer = got;
		h->have_valid_answer = 1;
	}
	if (!h->have_valid_answer || got != h->valid_answer) {
		serial_printf("vcpu %lu: step %u hostile seed %u action %u: valid %s "
			      "0x%llx+0x%llx got %d, expected %d\n",
			      h->p->cpu, h->p->step, h->p->seed, h->action, op_name(op),
			      (unsigned long long)gpa, (unsigned long long)size, got,
			      h->have_valid_answer ? h->valid_answer : GMEMVM_HC_OK);
		return -1;
	}
	if (got != GMEMVM_HC_OK)
		h->refusals++;
	return 0;
}

/* ---- c. port IO ---------------------------------------------------------- */

static int handled_port(uint64_t port, unsigned int width)
{
	return overlaps(port, width, GMEMVM_DEVICE_SERIAL, 8) ||
	       overlaps(port, width, GMEMVM_DEVICE_HYPERCALL, 4) ||
	       overlaps(port, width, GMEMVM_DEVICE_TESTDEV, 4) ||
	       overlaps(port, width, ARCH_DEVICE_RESERVED_BASE, ARCH_DEVICE_RESERVED_SIZE);
}

static int act_pio(struct hostile *h)
{
	/* Registers next to and straddling the VMM's ranges, and a few classics. */
	static const uint64_t edges[] = ARCH_DEVICE_EDGES;
	unsigned int width = pick_width(h);
	int is_out = (int)pick(h, 2);
	uint32_t value = (uint32_t)next(h);
	uint64_t port;
	uint32_t got, want;

	switch (pick(h, 4)) {
	case 0: /* the serial port's 8 registers */
		port = device_aligned(GMEMVM_DEVICE_SERIAL + pick(h, 8), width);
		if (is_out) {
			/* THR prints the low byte: keep it printable. */
			if (port == GMEMVM_DEVICE_SERIAL + UART_THR)
				value = (value & ~0xffU) | (uint32_t)(0x21 + pick(h, 94));
			serial_noise(port, value, width);
			return 0;
		}
		got = device_read(port, width);
		/* Reads inside the UART are its registers; past its end, nobody's. */
		if (!inside(port, width, GMEMVM_DEVICE_SERIAL, 8) && got != ones(width))
			return bad(h, "read across the serial port's end", port, got, ones(width));
		return 0;
	case 1: /* the test device's echo port: a whole 32-bit register per vCPU */
		port = device_aligned(GMEMVM_DEVICE_TESTDEV + pick(h, 4), width);
		if (is_out) {
			device_write(port, value, width);
			if (port == GMEMVM_DEVICE_TESTDEV && width == 4) {
				h->echo = value;
				h->have_echo = 1;
			}
			return 0;
		}
		got = device_read(port, width);
		if (port == GMEMVM_DEVICE_TESTDEV && width == 4) {
			if (h->have_echo && got != h->echo)
				return bad(h, "echo port read", port, got, h->echo);
			return 0;
		}
		/* Partial reads of the register, or past its end: all-ones. */
		if (got != ones(width))
			return bad(h, "partial read of the echo port", port, got, ones(width));
		return 0;
	case 2: /* edges and classics */
		port = device_aligned(edges[pick(h, sizeof(edges) / sizeof(edges[0]))], width);
		/* Inside a handled range it is case 0, 1 or the hypercall port. */
		if (handled_port(port, width))
			port = ARCH_DEVICE_NOBODY;
		break;
	default: /* any register address nobody handles */
		do
			port = device_aligned(ARCH_DEVICE_WINDOW_BASE +
						      pick(h, ARCH_DEVICE_WINDOW_SIZE - 4),
					      width);
		while (handled_port(port, width));
		break;
	}
	if (is_out) {
		device_write(port, value, width);
		return 0;
	}
	got = device_read(port, width);
	want = (uint32_t)ones(width);
	if (got != want)
		return bad(h, "read of an unhandled port", port, got, want);
	return 0;
}

/* ---- d. MMIO ------------------------------------------------------------- */

static uint64_t mmio_read(uint64_t gpa, unsigned int width)
{
	switch (width) {
	case 1:
		return *(volatile uint8_t *)(uintptr_t)gpa;
	case 2:
		return *(volatile uint16_t *)(uintptr_t)gpa;
	case 4:
		return *(volatile uint32_t *)(uintptr_t)gpa;
	default:
		return *(volatile uint64_t *)(uintptr_t)gpa;
	}
}

static void mmio_write(uint64_t gpa, uint64_t value, unsigned int width)
{
	switch (width) {
	case 1:
		*(volatile uint8_t *)(uintptr_t)gpa = (uint8_t)value;
		break;
	case 2:
		*(volatile uint16_t *)(uintptr_t)gpa = (uint16_t)value;
		break;
	case 4:
		*(volatile uint32_t *)(uintptr_t)gpa = (uint32_t)value;
		break;
	default:
		*(volatile uint64_t *)(uintptr_t)gpa = value;
		break;
	}
}

/* An address above RAM, below 4 GiB, that no device handles. */
static uint64_t unknown_mmio(struct hostile *h, unsigned int width)
{
	static const uint64_t fixed[] = { 0xe0000000ULL, 0xfec00000ULL, 0xd0003000ULL,
					  0xcffff000ULL, 0xfffff000ULL };
	uint64_t gpa;

	if (pick(h, 2)) {
		gpa = fixed[pick(h, sizeof(fixed) / sizeof(fixed[0]))] + pick(h, 64) * 8;
		if (gpa >= h->p->ram_size)
			return gpa;
	}
	do
		gpa = (h->p->ram_size + pick(h, FOUR_GIB - h->p->ram_size)) &
		      ~(uint64_t)(width - 1);
	while (gpa < h->p->ram_size || gpa >> 12 == GMEMVM_TESTDEV_MMIO_GPA >> 12 ||
	       gpa >> 12 == LAPIC_PAGE >> 12 ||
	       (ARCH_DEVICES_ARE_MMIO && gpa + width > ARCH_DEVICE_WINDOW_BASE &&
		gpa < ARCH_DEVICE_WINDOW_BASE + ARCH_DEVICE_WINDOW_SIZE));
	return gpa;
}

static int act_mmio(struct hostile *h)
{
	static const unsigned int widths[] = { 1, 2, 4, 8 };
	unsigned int width = widths[pick(h, 4)];
	int is_write = (int)pick(h, 2);
	uint64_t value = next(h);
	uint64_t gpa, offset, got;

	if (pick(h, 2)) {
		gpa = unknown_mmio(h, width);
		if (is_write) {
			mmio_write(gpa, value, width);
			return 0;
		}
		got = mmio_read(gpa, width);
		if (got != ones(width))
			return bad(h, "MMIO read of no device", gpa, got, ones(width));
		return 0;
	}
	/* The test device: any offset in its page, aligned or not (aligned on
	 * arm64: device_aligned). */
	offset = pick(h, GMEMVM_TESTDEV_MMIO_SIZE - width + 1);
	if (pick(h, 2))
		offset &= 0x1f; /* mostly around the two registers */
	offset = device_aligned(offset, width);
	gpa = GMEMVM_TESTDEV_MMIO_GPA + offset;
	if (is_write) {
		/* Scratch takes whole 64-bit writes; anything else is ignored. */
		mmio_write(gpa, value, width);
		return 0;
	}
	got = mmio_read(gpa, width);
	if (width == 8 && offset == GMEMVM_TESTDEV_REG_ID) {
		if (got != GMEMVM_TESTDEV_ID)
			return bad(h, "test device ID", gpa, got, GMEMVM_TESTDEV_ID);
	} else if (width == 8 && offset == GMEMVM_TESTDEV_REG_SCRATCH) {
		/* Any vCPU may have written it: nothing to check. */
	} else if (got != ones(width)) {
		return bad(h, "partial read of the test device", gpa, got, ones(width));
	}
	return 0;
}

/* ---- e. the wrong view --------------------------------------------------- */

/* A load or a store through either view of a playground word: through the
 * view the page is not in, a memory fault and a conversion. */
static void act_view(struct hostile *h)
{
	uint64_t gpa = playground_page(h) + pick(h, PAGE / 8) * 8;
	uint64_t view = pick(h, 2) ? h->shared_mask : 0;
	volatile uint64_t *word = (volatile uint64_t *)(uintptr_t)(gpa | view);
	uint64_t value = next(h);

	if (pick(h, 2))
		*word = value;
	else
		(void)*word;
}

int hostile_run(const struct hostile_params *p)
{
	struct hostile h = { .p = p, .shared_mask = guest_shared_mask };
	/* Without a shared alias there is no wrong view to touch. */
	unsigned int kinds = h.shared_mask ? K_COUNT : K_VIEW;
	uint64_t s;

	/* splitmix64 of seed and vCPU: one stream per vCPU, never the zero state. */
	s = ((uint64_t)p->seed << 8 | p->cpu) + 0x9e3779b97f4a7c15ULL;
	s = (s ^ (s >> 30)) * 0xbf58476d1ce4e5b9ULL;
	s = (s ^ (s >> 27)) * 0x94d049bb133111ebULL;
	s ^= s >> 31;
	h.rng = s ? s : 0x2545f4914f6cdd1dULL;

	if (p->pg_start % PAGE || p->pg_end % PAGE || p->pg_start >= p->pg_end ||
	    p->pg_start < GMEMVM_DATA_GPA || p->pg_end > p->ram_size ||
	    p->ram_size < GMEMVM_SHARED_AREA_GPA + GMEMVM_SHARED_AREA_SIZE ||
	    p->ram_size > GMEMVM_TESTDEV_MMIO_GPA) {
		serial_printf("vcpu %lu: step %u hostile: bad playground 0x%llx..0x%llx or RAM "
			      "size 0x%llx\n",
			      p->cpu, p->step, (unsigned long long)p->pg_start,
			      (unsigned long long)p->pg_end, (unsigned long long)p->ram_size);
		return -1;
	}

	for (h.action = 0; h.action < p->count; h.action++) {
		enum kind kind = (enum kind)pick(&h, kinds);
		int err = 0;

		switch (kind) {
		case K_PORT_HC:
			err = act_port_hc(&h);
			break;
		case K_REQUEST:
			err = act_request(&h);
			break;
		case K_CONVERT:
			err = act_convert(&h);
			break;
		case K_PIO:
			err = act_pio(&h);
			break;
		case K_MMIO:
			err = act_mmio(&h);
			break;
		default:
			act_view(&h);
			break;
		}
		if (err)
			return -1;
		h.done[kind]++;
	}
	serial_printf("vcpu %lu: hostile seed %u: %u actions (%llu hypercall-port, %llu requests, "
		      "%llu conversions, %llu port, %llu mmio, %llu view) ok\n",
		      p->cpu, p->seed, p->count, (unsigned long long)h.done[K_PORT_HC],
		      (unsigned long long)h.done[K_REQUEST], (unsigned long long)h.done[K_CONVERT],
		      (unsigned long long)h.done[K_PIO], (unsigned long long)h.done[K_MMIO],
		      (unsigned long long)h.done[K_VIEW]);
	serial_printf("vcpu %lu: hostile expects %llu refused requests\n", p->cpu,
		      (unsigned long long)h.refusals);
	return 0;
}
