// SPDX-License-Identifier: MIT
#include "memmap.h"

#include "host_access.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "faultinject.h"
#include "gmemvm_abi.h"
#include "kvm.h"
#include "memmap_backing.h"
#include "memmap_picture.h"
#include "mode.h"
#include "procfs.h"

#define RW (PROT_READ | PROT_WRITE)

/*
 * With native private memory (use case (a) on a software-protected VM) the
 * boot area below the first data page is launch memory: ordinary memory in
 * both views, because the host cannot write an image into guest_memfd on
 * this VM type. It ends on a 2 MiB boundary, so that no memslot of private
 * memory starts off one (docs/lab.md, "6.12 and software-protected VMs").
 */
#define LAUNCH_END GMEMVM_DATA_GPA

void memmap_init(struct memmap *map)
{
	memset(map, 0, sizeof(*map));
	map->shared_fd = map->sigbus_fd = map->maps_fd = map->vm_fd = map->proc_mem_fd = -1;
	/* In place until memmap_setup says otherwise: a map a test builds by
	 * hand over a guest_memfd's shareability works as one. */
	map->backing = &memmap_in_place;
}

/* The state map the backing keeps: coco-legacy's memory attributes, or the
 * guest_memfd's shareability. */
static const struct shareability_map *state_of(const struct memmap *map)
{
	return map->backing->state(map);
}

/* Private or shared, whichever state map the mode keeps. Caller holds the lock. */
static bool range_private(const struct memmap *map, uint64_t gpa, uint64_t size)
{
	return shareability_range_is(state_of(map), gpa, size, SHAREABILITY_GUEST);
}

static bool range_shared(const struct memmap *map, uint64_t gpa, uint64_t size)
{
	return shareability_range_is(state_of(map), gpa, size, SHAREABILITY_ALL);
}

/* ---- Memslots ---------------------------------------------------------- */

static int allocate_slot_id(struct memmap *map, uint32_t *id)
{
	if (map->nr_free_slots) {
		*id = map->free_slots[--map->nr_free_slots];
		return 0;
	}
	if (map->next_slot >= map->max_slots)
		return -ENOSPC; /* KVM_CAP_NR_MEMSLOTS: too many separate ranges */
	*id = map->next_slot++;
	return 0;
}

/* Out of memory, the id is simply not used again. */
static void release_slot_id(struct memmap *map, uint32_t id)
{
	if (map->nr_free_slots == map->free_capacity) {
		size_t capacity = map->free_capacity ? map->free_capacity * 2 : 64;
		uint32_t *grown = realloc(map->free_slots, capacity * sizeof(*grown));
		if (!grown)
			return;
		map->free_slots = grown;
		map->free_capacity = capacity;
	}
	map->free_slots[map->nr_free_slots++] = id;
}

/* Bind [offset, offset + size) of RAM into view at its GPA: one memslot. */
static int bind_slot(struct memmap *map, const struct memmap_view *view, uint64_t offset,
		     uint64_t size, bool guest_memfd, struct memmap_slot *slot)
{
	uint32_t id;
	int status = allocate_slot_id(map, &id);
	if (status < 0)
		return status;
	bool fixed = offset < view->extent_start;
	*slot = (struct memmap_slot){
		.slot = id,
		.gpa = view->base + offset,
		.size = size,
		.offset = offset,
		.guest_memfd = guest_memfd,
		.fixed = fixed,
		.userspace_addr = fixed			 ? (uint64_t)(uintptr_t)map->launch + offset
				  : view->userspace_addr ? view->userspace_addr + offset
							 : 0,
	};
	status = kvm_set_memory_region2(map->vm_fd, id, guest_memfd ? KVM_MEM_GUEST_MEMFD : 0,
					slot->gpa, size, slot->userspace_addr,
					guest_memfd ? map->gmem->fd : -1, offset);
	if (status < 0)
		release_slot_id(map, id);
	return status;
}

static int unbind_slot(struct memmap *map, const struct memmap_slot *slot)
{
	int status = kvm_set_memory_region2(map->vm_fd, slot->slot, 0, slot->gpa, 0, 0, -1, 0);
	if (status < 0)
		return status;
	release_slot_id(map, slot->slot);
	return 0;
}

static int reserve_slots(struct memmap_view *view, size_t count)
{
	if (count <= view->capacity)
		return 0;
	size_t capacity = view->capacity ? view->capacity : 8;
	while (capacity < count)
		capacity *= 2;
	struct memmap_slot *grown = realloc(view->slots, capacity * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	view->slots = grown;
	view->capacity = capacity;
	return 0;
}

/* One memslot a view should have: RAM offsets [start, end). */
struct run {
	uint64_t start, end;
	bool guest_memfd;
};

struct run_collector {
	const struct memmap *map;
	const struct memmap_view *view;
	struct run *runs;
	size_t count, capacity;
	int status;
};

static void add_run(struct run_collector *collector, uint64_t start, uint64_t end, bool guest_memfd)
{
	if (collector->status || start >= end)
		return;
	struct run *last = collector->count ? &collector->runs[collector->count - 1] : NULL;
	if (last && last->end == start && last->guest_memfd == guest_memfd) {
		last->end = end; /* merge */
		return;
	}
	if (collector->count == collector->capacity) {
		size_t capacity = collector->capacity ? collector->capacity * 2 : 8;
		struct run *grown = realloc(collector->runs, capacity * sizeof(*grown));
		if (!grown) {
			collector->status = -ENOMEM;
			return;
		}
		collector->runs = grown;
		collector->capacity = capacity;
	}
	collector->runs[collector->count++] = (struct run){ start, end, guest_memfd };
}

/* A page in state reaches the view through a memslot bound as its role says;
 * a page it must not reach gets a plain memslot (fill_plain) or none. */
static void add_state_run(struct run_collector *collector, uint64_t start, uint64_t end,
			  enum shareability state)
{
	const struct memmap_view *view = collector->view;
	if ((state == SHAREABILITY_GUEST) == view->maps_private)
		add_run(collector, start, end, view->guest_memfd);
	else if (view->fill_plain)
		add_run(collector, start, end, false);
}

/* The reservation holding offset, or NULL. Caller holds the lock. */
static const struct memmap_reservation *reservation_at(const struct memmap *map, uint64_t offset)
{
	for (size_t i = 0; i < MEMMAP_MAX_RESERVATIONS; i++) {
		const struct memmap_reservation *reservation = &map->reservations[i];
		if (reservation->from <= offset && offset < reservation->to)
			return reservation;
	}
	return NULL;
}

/* Where the first reservation after offset starts, or end. */
static uint64_t next_reservation(const struct memmap *map, uint64_t offset, uint64_t end)
{
	for (size_t i = 0; i < MEMMAP_MAX_RESERVATIONS; i++) {
		const struct memmap_reservation *reservation = &map->reservations[i];
		if (reservation->from < reservation->to && reservation->from > offset &&
		    reservation->from < end)
			end = reservation->from;
	}
	return end;
}

/* The runs of [start, end) in state, each conversion in flight applied on
 * top of the recorded state: its memslots are already made for its target,
 * and a neighbour's sync must not undo them. */
static void collect_extent(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	struct run_collector *collector = opaque;
	for (uint64_t at = start; at < end;) {
		const struct memmap_reservation *reservation = reservation_at(collector->map, at);
		uint64_t stop = reservation ? (reservation->to < end ? reservation->to : end)
					    : next_reservation(collector->map, at, end);
		add_state_run(collector, at, stop, reservation ? reservation->target : state);
		at = stop;
	}
}

/*
 * Replace the count memslots at view->slots[first] with one per run, all or
 * nothing: if a kernel call fails, what was already changed is put back, so
 * the view keeps the memslots it had (the checker relies on it).
 */
static int replace_slots(struct memmap *map, struct memmap_view *view, size_t first, size_t count,
			 const struct run *runs, size_t nr_runs)
{
	struct memmap_slot *made = calloc(nr_runs ? nr_runs : 1, sizeof(*made));
	int status = made ? reserve_slots(view, view->count - count + nr_runs) : -ENOMEM;
	size_t unbound = 0, bound = 0;
	while (status == 0 && unbound < count) {
		status = unbind_slot(map, &view->slots[first + unbound]);
		unbound += status == 0;
	}
	while (status == 0 && bound < nr_runs) {
		status =
			bind_slot(map, view, runs[bound].start, runs[bound].end - runs[bound].start,
				  runs[bound].guest_memfd, &made[bound]);
		bound += status == 0;
	}
	if (status < 0) {
		for (size_t i = 0; i < bound; i++)
			unbind_slot(map, &made[i]);
		for (size_t i = 0; i < unbound; i++) {
			struct memmap_slot *old = &view->slots[first + i];
			bind_slot(map, view, old->offset, old->size, old->guest_memfd, old);
		}
		free(made);
		return status;
	}
	memmove(&view->slots[first + nr_runs], &view->slots[first + count],
		(view->count - first - count) * sizeof(*view->slots));
	memcpy(&view->slots[first], made, nr_runs * sizeof(*made));
	view->count = view->count - count + nr_runs;
	free(made);
	return 0;
}

/*
 * Make the view's memslots over [from, to) (RAM offsets, page-aligned) the
 * maximal runs of pages it reaches, in the state with the reservations applied.
 * Memslots that touch the range are replaced whole, so runs stay maximal.
 */
static int sync_view(struct memmap *map, struct memmap_view *view, uint64_t from, uint64_t to)
{
	if (!view->per_extent)
		return 0;
	if (from < view->extent_start)
		from = view->extent_start;
	if (to <= from)
		return 0;
	size_t first = 0;
	while (first < view->count && (view->slots[first].fixed ||
				       view->slots[first].offset + view->slots[first].size < from))
		first++;
	size_t last = first;
	while (last < view->count && view->slots[last].offset <= to)
		last++;
	if (last > first) {
		if (view->slots[first].offset < from)
			from = view->slots[first].offset;
		const struct memmap_slot *end_slot = &view->slots[last - 1];
		if (end_slot->offset + end_slot->size > to)
			to = end_slot->offset + end_slot->size;
	}
	struct run_collector collector = { .map = map, .view = view };
	shareability_for_each_in(state_of(map), from, to - from, collect_extent, &collector);
	int status = collector.status;
	/* Nothing to do when the runs are the memslots already there. */
	bool same = status == 0 && collector.count == last - first;
	for (size_t i = 0; same && i < collector.count; i++) {
		const struct memmap_slot *slot = &view->slots[first + i];
		const struct run *run = &collector.runs[i];
		same = slot->offset == run->start && slot->offset + slot->size == run->end &&
		       slot->guest_memfd == run->guest_memfd;
	}
	if (same || status < 0) {
		free(collector.runs);
		return status;
	}
	status = replace_slots(map, view, first, last - first, collector.runs, collector.count);
	free(collector.runs);
	return status;
}

/* Every view over [from, to) as the state (with the reservations) says. */
static int sync_views(struct memmap *map, uint64_t from, uint64_t to)
{
	for (int i = 0; i < map->nr_views; i++) {
		int status = sync_view(map, &map->views[i], from, to);
		if (status < 0)
			return status;
	}
	return 0;
}

/* ---- Set-up per mode ---------------------------------------------------- */

static struct memmap_view *add_view(struct memmap *map, const char *role, uint64_t base,
				    bool guest_memfd, const void *userspace)
{
	struct memmap_view *view = &map->views[map->nr_views++];
	*view = (struct memmap_view){ .role = role,
				      .base = base,
				      .guest_memfd = guest_memfd,
				      .userspace_addr = (uint64_t)(uintptr_t)userspace };
	return view;
}

/* One memslot over all of RAM in the view. */
static int bind_whole_view(struct memmap *map, struct memmap_view *view, struct gmemvm_error *error)
{
	int status = reserve_slots(view, view->count + 1);
	if (status == 0)
		status = bind_slot(map, view, 0, map->ram_size, view->guest_memfd,
				   &view->slots[view->count]);
	if (status < 0)
		return gmemvm_failf(error, status, "KVM_SET_USER_MEMORY_REGION2",
				    "KVM_SET_USER_MEMORY_REGION2(%s at gpa %#" PRIx64
				    ", size %#" PRIx64 "%s) failed: %s",
				    view->role, view->base, map->ram_size,
				    view->guest_memfd ? ", guest_memfd" : "", strerror(-status));
	view->count++;
	return 0;
}

static int setup_shared(struct memmap *map, const struct scenario *scenario,
			struct gmemvm_error *error)
{
	/* A private page stays the guest's (the notes: only the host loses it),
	 * so the memslot maps every page, as in pkvm; a KVM that serves memslots
	 * from userspace_addr would otherwise fault on the guest's own page. */
	const uint8_t *guest = map->gmem->content_view ? map->gmem->content_view : map->host_view;
	const void *userspace = scenario->userspace_addr_null ? NULL : guest;
	if (scenario->userspace_addr_anonymous) {
		map->anonymous = mmap(NULL, map->ram_size, RW,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (map->anonymous == MAP_FAILED) {
			int saved = errno;
			map->anonymous = NULL;
			return gmemvm_failf(error, -saved, "mmap", "anonymous mapping failed: %s",
					    strerror(saved));
		}
		map->anonymous_size = map->ram_size;
		userspace = map->anonymous;
	}
	/* The notes' stage-1 binding rule: userspace_addr must map the same folio.
	 * Its refusal is the scenario's outcome, not a failure of gmemvm's. */
	if (userspace) {
		int status = gmem_check_userspace_addr(map->gmem, 0, (uint64_t)(uintptr_t)userspace,
						       map->ram_size, "/proc/self/maps", error);
		if (status < 0)
			return status;
	}
	return bind_whole_view(map, add_view(map, "ram", 0, true, userspace), error);
}

/* pKVM: one view; the guest reaches private and shared pages alike, the host
 * only the shared ones (its view SIGBUSes on the rest). */
static int setup_pkvm(struct memmap *map, struct gmemvm_error *error)
{
	const uint8_t *guest = map->gmem->content_view ? map->gmem->content_view : map->host_view;
	return bind_whole_view(map, add_view(map, "ram (guest's view)", 0, true, guest), error);
}

/* The CoCo modes' two views (docs/design.md, "The guest's two views"), over
 * what the backing's set-up made. */
static int setup_coco(struct memmap *map, struct gmemvm_error *error)
{
	uint64_t bit = 1ULL << map->shared_bit;
	/* The private view's memslots are bound to the guest_memfd; their
	 * userspace_addr is where a kernel that reads memslots through it (or
	 * emulates an instruction) finds the same contents. */
	const uint8_t *private_userspace =
		map->private_contents ? map->private_contents : map->shared_contents;
	struct memmap_view *private_view =
		add_view(map, "private view", 0, true, private_userspace);
	struct memmap_view *shared_view =
		add_view(map, "shared view", bit, false, map->shared_contents);
	private_view->per_extent = true;
	private_view->maps_private = true;
	private_view->fill_plain = map->native_attributes;
	shared_view->per_extent = !map->native_attributes;
	if (map->native_attributes) {
		/* A software-protected VM's host cannot write into guest_memfd, so
		 * the launch image stays in ordinary memory (docs/design.md,
		 * "Use case (a) on a software-protected VM"). */
		private_view->extent_start = LAUNCH_END;
		void *launch = mmap(NULL, LAUNCH_END, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		map->launch = launch == MAP_FAILED ? NULL : launch;
		int status = map->launch ? reserve_slots(private_view, 1) : -errno;
		if (status == 0)
			status = bind_slot(map, private_view, 0, LAUNCH_END, false,
					   &private_view->slots[0]);
		if (status == 0)
			private_view->count = 1;
		if (status < 0)
			return gmemvm_failf(
				error, status, "KVM_SET_USER_MEMORY_REGION2",
				"setting up the private view of a software-protected VM "
				"failed: %s",
				strerror(-status));
		status = bind_whole_view(map, shared_view, error);
		if (status < 0)
			return status;
	}
	int status = sync_views(map, 0, map->ram_size);
	if (status < 0)
		return gmemvm_failf(error, status, "KVM_SET_USER_MEMORY_REGION2",
				    "binding the %s memslots failed: %s",
				    mode_info(map->mode)->name, strerror(-status));
	/* Every access through the private view is a private access, as TDX
	 * takes it from the GPA: its pages are private in KVM's attributes. */
	status = map->native_attributes ? kvm_set_memory_attributes(map->vm_fd, LAUNCH_END,
								    map->ram_size - LAUNCH_END,
								    KVM_MEMORY_ATTRIBUTE_PRIVATE)
					: 0;
	if (status < 0)
		return gmemvm_failf(error, status, "KVM_SET_MEMORY_ATTRIBUTES",
				    "KVM_SET_MEMORY_ATTRIBUTES(private view, PRIVATE) failed: %s",
				    strerror(-status));
	return 0;
}

/* What every set-up starts with: the map's RAM, VM and lock. */
static void setup_common(struct memmap *map, const struct scenario *scenario, int vm_fd,
			 uint32_t max_slots)
{
	map->mode = scenario->mode;
	map->ram_size = scenario->memory_size;
	map->vm_fd = vm_fd;
	map->max_slots = max_slots ? max_slots : 32;
	/* Adaptive: held for one conversion's few kernel calls, so a vCPU that
	 * spins a moment usually gets it without sleeping; with more vCPUs than
	 * cores that took 4-vCPU explicit conversions from ~57k/s to ~77k/s. */
	pthread_mutexattr_t attributes;
	pthread_mutexattr_init(&attributes);
	pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&map->lock, &attributes);
	pthread_mutexattr_destroy(&attributes);
	pthread_cond_init(&map->reservation_ended, NULL);
	map->lock_ready = true;
	map->maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
}

int memmap_setup_protected(struct memmap *map, const struct scenario *scenario, struct gmem *gmem,
			   int vm_fd, uint32_t max_slots, struct gmemvm_error *error)
{
	setup_common(map, scenario, vm_fd, max_slots);
	map->protected_vm = true;
	map->gmem = gmem;
	/* With a guest_memfd, its own host view and state serve (in place). */
	map->backing = gmem ? &memmap_in_place : &memmap_protected;
	int status = map->backing->setup(map, error);
	if (status < 0)
		return status;
	return bind_whole_view(
		map,
		add_view(map, gmem ? "ram (protected VM, guest_memfd)" : "ram (protected VM)", 0,
			 gmem != NULL, map->host_view),
		error);
}

int memmap_setup(struct memmap *map, const struct scenario *scenario, struct gmem *gmem, int vm_fd,
		 unsigned int shared_bit, bool native_attributes, uint32_t max_slots,
		 struct gmemvm_error *error)
{
	const struct mode_info *mode = mode_info(scenario->mode);
	if (!mode)
		return gmemvm_failf(error, -EINVAL, NULL, "unknown mode");
	setup_common(map, scenario, vm_fd, max_slots);
	map->gmem = gmem;
	map->shared_bit = mode->coco ? shared_bit : 0;
	map->native_attributes = native_attributes && mode->native_path == NATIVE_VM_ATTRIBUTES;
	/* The half that differs, and its kernel path, chosen once (memmap_backing.h). */
	map->backing = mode->shared_in_gmem	? &memmap_in_place
		       : map->native_attributes ? &memmap_legacy_native
						: &memmap_legacy;

	int status = map->backing->setup(map, error);
	if (status < 0)
		return status;
	if (mode->coco)
		return setup_coco(map, error);
	return mode->scenario_userspace_addr ? setup_shared(map, scenario, error)
					     : setup_pkvm(map, error);
}

size_t memmap_slot_count(const struct memmap *map)
{
	size_t count = 0;
	for (int i = 0; i < map->nr_views; i++)
		count += map->views[i].count;
	return count;
}

void memmap_destroy(struct memmap *map)
{
	if (map->backing)
		map->backing->destroy(map);
	if (map->anonymous)
		munmap(map->anonymous, map->anonymous_size);
	if (map->launch)
		munmap(map->launch, LAUNCH_END);
	for (int i = 0; i < map->nr_views; i++)
		free(map->views[i].slots);
	free(map->free_slots);
	if (map->maps_fd >= 0)
		close(map->maps_fd);
	if (map->lock_ready) {
		pthread_cond_destroy(&map->reservation_ended);
		pthread_mutex_destroy(&map->lock);
	}
	memmap_init(map);
}

enum memmap_alias memmap_classify(const struct memmap *map, uint64_t gpa, uint64_t *canonical)
{
	uint64_t bit = map->shared_bit ? 1ULL << map->shared_bit : 0;
	if (gpa < map->ram_size) {
		*canonical = gpa;
		return MEMMAP_PRIVATE_VIEW;
	}
	if (bit && gpa >= bit && gpa - bit < map->ram_size) {
		*canonical = gpa - bit;
		return MEMMAP_SHARED_VIEW;
	}
	return MEMMAP_NOT_RAM;
}

static bool in_ram(const struct memmap *map, uint64_t gpa, uint64_t size)
{
	return size != 0 && gpa < map->ram_size && size <= map->ram_size - gpa;
}

static void complete_access(struct memmap *map, const struct memmap_completion *completion)
{
	uint8_t *contents = completion->shared_view ? map->shared_contents : map->private_contents;
	if (!contents)
		contents = map->gmem->content_view;
	if (!contents)
		return; /* native private memory: KVM retries the access itself */
	uint8_t *where = contents + completion->gpa;
	if (completion->is_write)
		memcpy(where, completion->data, completion->length);
	else
		memcpy(completion->data, where, completion->length);
}

void memmap_resync(struct memmap *map, uint64_t gpa, uint64_t size)
{
	sync_views(map, gpa, gpa + size);
	map->backing->resync(map, gpa, size);
}

/* ---- Reservations (docs/design.md, "Locking") ---------------------------- */

static bool reservation_overlaps(const struct memmap *map, uint64_t from, uint64_t to)
{
	for (size_t i = 0; i < MEMMAP_MAX_RESERVATIONS; i++) {
		const struct memmap_reservation *reservation = &map->reservations[i];
		if (reservation->from < to && from < reservation->to)
			return true;
	}
	return false;
}

/* Take the lock once no conversion in flight touches [gpa, gpa + size): what
 * every reader and writer of a range does before it looks at the range. */
static void lock_range(struct memmap *map, uint64_t gpa, uint64_t size)
{
	pthread_mutex_lock(&map->lock);
	while (reservation_overlaps(map, gpa, gpa + size))
		pthread_cond_wait(&map->reservation_ended, &map->lock);
}

static struct memmap_reservation *free_reservation(struct memmap *map)
{
	for (size_t i = 0; i < MEMMAP_MAX_RESERVATIONS; i++)
		if (map->reservations[i].from == map->reservations[i].to)
			return &map->reservations[i];
	return NULL;
}

/* Take the lock and reserve [gpa, gpa + size) for a conversion to target,
 * once no conversion in flight touches it and an entry is free; whatever
 * the caller reads of the range afterwards stays so until it ends this. */
static struct memmap_reservation *reserve_range(struct memmap *map, uint64_t gpa, uint64_t size,
						enum shareability target)
{
	pthread_mutex_lock(&map->lock);
	struct memmap_reservation *reservation;
	while (reservation_overlaps(map, gpa, gpa + size) || !(reservation = free_reservation(map)))
		pthread_cond_wait(&map->reservation_ended, &map->lock);
	*reservation = (struct memmap_reservation){ gpa, gpa + size, target };
	return reservation;
}

static void end_reservation(struct memmap *map, struct memmap_reservation *reservation)
{
	*reservation = (struct memmap_reservation){ 0 };
	pthread_cond_broadcast(&map->reservation_ended);
}

void memmap_kernel_call_begin(struct memmap *map)
{
	pthread_mutex_unlock(&map->lock);
}

void memmap_kernel_call_end(struct memmap *map)
{
	pthread_mutex_lock(&map->lock);
}

static bool page_range(const struct memmap *map, uint64_t gpa, uint64_t size)
{
	return in_ram(map, gpa, size) && gpa % GMEM_PAGE_SIZE == 0 && size % GMEM_PAGE_SIZE == 0;
}

bool memmap_is_private(struct memmap *map, uint64_t gpa, uint64_t size)
{
	if (!in_ram(map, gpa, size))
		return false;
	lock_range(map, gpa, size);
	bool private = range_private(map, gpa, size);
	pthread_mutex_unlock(&map->lock);
	return private;
}

/* What refuses a conversion before anything changes: a file that cannot
 * convert, then a range that is not whole pages of RAM. */
static int convert_checks(const struct memmap *map, uint64_t gpa, uint64_t size,
			  struct gmemvm_error *error)
{
	int status = map->backing->can_convert(map);
	if (status < 0)
		return gmemvm_refuse(error, status, "the guest_memfd has no conversion call");
	if (!page_range(map, gpa, size))
		return gmemvm_refuse(error, -EINVAL, "not whole pages of RAM");
	return 0;
}

/*
 * With the lock held and the range reserved for its target: the views'
 * memslots first, then the backing's part, which drops the lock around its
 * kernel calls. All or nothing: on a failure the caller ends the reservation
 * and puts the memslots and the backing back as the state says.
 */
static int convert_reserved(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
			    struct memmap_conversion *done, struct gmemvm_error *error)
{
	int status = sync_views(map, gpa, gpa + size);
	/* Each separately shared range costs a memslot in each view: a guest
	 * that fragments its memory past what KVM allows is refused, as a
	 * hypervisor refuses a conversion it has no resources for. */
	if (status == -ENOSPC)
		return gmemvm_refuse(error, status,
				     "the views would need more memslots than this KVM allows "
				     "(KVM_CAP_NR_MEMSLOTS: %u): too many separately shared ranges",
				     map->max_slots);
	if (status < 0)
		return gmemvm_fail(error, status,
				   "KVM_SET_USER_MEMORY_REGION2 of a view's memslots");
	return map->backing->convert(map, gpa, size, to_private, done, error);
}

int memmap_convert(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
		   struct memmap_completion *completion, struct memmap_conversion *done,
		   struct gmemvm_error *error)
{
	struct memmap_conversion unused;
	if (!done)
		done = &unused;
	*done = (struct memmap_conversion){ 0 };
	enum shareability target = to_private ? SHAREABILITY_GUEST : SHAREABILITY_ALL;
	struct memmap_reservation *reservation = reserve_range(map, gpa, size, target);
	/* Only the pages not yet in the wanted state change, and count; a
	 * range already wholly so is done whatever the file could do. */
	bool ram = in_ram(map, gpa, size);
	uint64_t changing =
		ram ? shareability_bytes_in(state_of(map), gpa, size,
					    to_private ? SHAREABILITY_ALL : SHAREABILITY_GUEST)
		    : size;
	bool already = ram && changing == 0;
	int status = already ? 0 : convert_checks(map, gpa, size, error);
	bool converting = !already && status == 0;
	if (converting)
		status = convert_reserved(map, gpa, size, to_private, done, error);
	end_reservation(map, reservation);
	if (converting && status < 0)
		memmap_resync(map, gpa, size);
	done->pages = status == 0 ? changing / GMEM_PAGE_SIZE : 0;
	if (status == 0 && completion)
		complete_access(map, completion);
	pthread_mutex_unlock(&map->lock);
	return status;
}

int memmap_discard(struct memmap *map, uint64_t gpa, uint64_t size, struct gmemvm_error *error)
{
	if (!page_range(map, gpa, size))
		return gmemvm_refuse(error, -EINVAL, "not whole pages of RAM");
	lock_range(map, gpa, size);
	int status = map->backing->discard(map, gpa, size, error);
	pthread_mutex_unlock(&map->lock);
	return status;
}

int memmap_hold(struct memmap *map, uint64_t gpa, uint64_t size, bool take)
{
	if (!map->backing->hold)
		return -ENOSYS;
	if (!page_range(map, gpa, size))
		return -EINVAL;
	lock_range(map, gpa, size);
	int status = map->backing->hold(map, gpa, size, take);
	pthread_mutex_unlock(&map->lock);
	return status;
}

/* ---- In place: shared, pkvm, coco-inplace --------------------------------- */

/* Shared and private contents are the guest_memfd's: the host's view is its
 * (gmem_map), and so are the contents every view reaches. */
static int in_place_setup(struct memmap *map, struct gmemvm_error *error)
{
	int status = gmem_map(map->gmem, error);
	if (status < 0)
		return status;
	map->host_view = map->gmem->host_view;
	map->shared_contents = map->private_contents = map->gmem->content_view;
	map->gmem->owner_lock = &map->lock; /* its conversions run with the map's range reserved */
	return 0;
}

static void in_place_destroy(struct memmap *map)
{
	/* The views and contents are the guest_memfd's (gmem_destroy). */
	if (map->gmem)
		map->gmem->owner_lock = NULL;
}

static const struct shareability_map *in_place_state(const struct memmap *map)
{
	return &map->gmem->shareability;
}

static int in_place_can_convert(const struct memmap *map)
{
	return map->gmem->support_shared ? 0 : -ENOTTY;
}

static int in_place_convert(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
			    struct memmap_conversion *done, struct gmemvm_error *error)
{
	/* The guest_memfd drops the map's lock around its kernel calls
	 * (gmem.h, owner_lock). */
	return gmem_convert(map->gmem, gpa, size, to_private, &done->eagain, error);
}

static void in_place_resync(struct memmap *map, uint64_t gpa, uint64_t size)
{
	gmem_resync_host_view(map->gmem, gpa, size);
}

static int in_place_discard(struct memmap *map, uint64_t gpa, uint64_t size,
			    struct gmemvm_error *error)
{
	int status = gmem_punch_hole(map->gmem, gpa, size);
	if (status < 0)
		return gmemvm_fail(error, status, "fallocate(PUNCH_HOLE) of the guest_memfd");
	return 0;
}

static int in_place_hold(struct memmap *map, uint64_t gpa, uint64_t size, bool take)
{
	return take ? gmem_hold(map->gmem, gpa, size) : gmem_release(map->gmem, gpa, size);
}

static bool in_place_host_view_files(const struct memmap *map, int *shared_fd, int *private_fd)
{
	return gmem_host_view_files(map->gmem, shared_fd, private_fd);
}

const struct memmap_backing_ops memmap_in_place = {
	.setup = in_place_setup,
	.destroy = in_place_destroy,
	.state = in_place_state,
	.can_convert = in_place_can_convert,
	.convert = in_place_convert,
	.resync = in_place_resync,
	.discard = in_place_discard,
	.hold = in_place_hold,
	.host_view_files = in_place_host_view_files,
};

static int copy_shared(struct memmap *map, uint64_t gpa, void *buffer, uint64_t size, bool is_write)
{
	if (!in_ram(map, gpa, size) || !map->host_view)
		return -EFAULT;
	lock_range(map, gpa, size);
	int status = range_shared(map, gpa, size) ? 0 : -EFAULT;
	if (status == 0 && map->protected_vm)
		/* The hypervisor may hold any page: a fault is an answer. */
		status = host_access_copy(is_write ? map->host_view + gpa : buffer,
					  is_write ? buffer : map->host_view + gpa, size)
				 ? -EFAULT
				 : 0;
	else if (status == 0 && is_write)
		memcpy(map->host_view + gpa, buffer, size);
	else if (status == 0)
		memcpy(buffer, map->host_view + gpa, size);
	pthread_mutex_unlock(&map->lock);
	return status;
}

int memmap_read(struct memmap *map, uint64_t gpa, void *out, uint64_t size)
{
	return copy_shared(map, gpa, out, size, false);
}

int memmap_write(struct memmap *map, uint64_t gpa, const void *in, uint64_t size)
{
	return copy_shared(map, gpa, (void *)in, size, true);
}

void memmap_populate(struct memmap *map, uint64_t gpa, const void *in, uint64_t size)
{
	/* With native private memory the launch region is ordinary memory of
	 * its own (setup_coco), and the host cannot write into guest_memfd. */
	if (map->native_attributes && (gpa >= LAUNCH_END || size > LAUNCH_END - gpa))
		return;
	uint8_t *target = map->native_attributes		 ? map->launch
			  : map->private_contents		 ? map->private_contents
			  : map->gmem && map->gmem->content_view ? map->gmem->content_view
								 : map->host_view;
	memcpy(target + gpa, in, size);
}

void *memmap_lookup(struct memmap *map, uint64_t gpa, uint64_t size)
{
	/* A protected VM's memory is never handed out as a pointer: any page
	 * may fault; memmap_read copies it safely. */
	if (!in_ram(map, gpa, size) || !map->host_view || map->protected_vm)
		return NULL;
	lock_range(map, gpa, size);
	bool shared = range_shared(map, gpa, size);
	pthread_mutex_unlock(&map->lock);
	return shared ? map->host_view + gpa : NULL;
}

void memmap_render(struct memmap *map, uint64_t gpa, uint64_t size, char *out, size_t columns)
{
	lock_range(map, gpa, size);
	shareability_render(state_of(map), gpa, size, out, columns);
	pthread_mutex_unlock(&map->lock);
}

/* ---- The consistency checker ------------------------------------------ */

struct maps_table {
	struct procfs_mapping *lines;
	size_t count;
};

/* All of /proc/self/maps, read through the descriptor opened at set-up. */
static char *slurp_maps(int fd)
{
	size_t size = 0, capacity = 1 << 16;
	char *text = malloc(capacity);
	if (!text || lseek(fd, 0, SEEK_SET) < 0) {
		free(text);
		return NULL;
	}
	for (;;) {
		if (size + 4096 + 1 > capacity) {
			char *grown = realloc(text, capacity * 2);
			if (!grown) {
				free(text);
				return NULL;
			}
			text = grown;
			capacity *= 2;
		}
		ssize_t got = read(fd, text + size, capacity - size - 1);
		if (got < 0) {
			free(text);
			return NULL;
		}
		if (got == 0)
			break;
		size += (size_t)got;
	}
	text[size] = '\0';
	return text;
}

/* The mappings of /proc/self/maps: 0, or the negative errno of the read, or
 * -ENOMEM. */
static int read_maps(int fd, struct maps_table *table)
{
	char *text = slurp_maps(fd);
	if (!text)
		return errno ? -errno : -EIO;
	size_t capacity = 256;
	table->lines = malloc(capacity * sizeof(*table->lines));
	table->count = 0;
	if (!table->lines) {
		free(text);
		return -ENOMEM;
	}
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		struct procfs_mapping entry;
		if (!procfs_parse_maps_line(line, &entry))
			continue;
		if (table->count == capacity) {
			capacity *= 2;
			struct procfs_mapping *grown =
				realloc(table->lines, capacity * sizeof(*grown));
			if (!grown) {
				free(table->lines);
				table->lines = NULL;
				break;
			}
			table->lines = grown;
		}
		if (!table->lines)
			break;
		table->lines[table->count++] = entry;
	}
	free(text);
	return table->lines ? 0 : -ENOMEM;
}

/* What one page range of a view must map: a file at an offset, or nothing. */
struct expected_mapping {
	int fd; /* -1: inaccessible (PROT_NONE) */
	uint64_t offset;
	const char *what;
};

/* The checker's verdict that what it compared disagrees: not a call that
 * failed, not a rule's refusal, but the map found inconsistent. */
#define INCONSISTENT (-EUCLEAN)

static int expect_range(const struct maps_table *table, const uint8_t *view, uint64_t gpa,
			uint64_t size, const struct expected_mapping *want, const char *view_name,
			struct gmemvm_error *error)
{
	struct stat st = { 0 };
	if (want->fd >= 0 && fstat(want->fd, &st) < 0) {
		int saved = errno;
		return gmemvm_failf(error, -saved, "fstat of a view's file",
				    "fstat of the file %s maps failed: %s", view_name,
				    strerror(saved));
	}
	uint64_t cursor = (uint64_t)(uintptr_t)view + gpa, end = cursor + size;
	for (size_t i = 0; i < table->count && cursor < end; i++) {
		const struct procfs_mapping *line = &table->lines[i];
		if (line->end <= cursor)
			continue;
		if (line->start > cursor)
			break;
		bool good =
			want->fd < 0
				? !line->accessible
				: line->accessible && line->inode == st.st_ino &&
					  line->dev_major == major(st.st_dev) &&
					  line->dev_minor == minor(st.st_dev) &&
					  line->offset + (cursor - line->start) ==
						  want->offset + (cursor -
								  (uint64_t)(uintptr_t)view - gpa);
		if (!good)
			return gmemvm_failf(
				error, INCONSISTENT, NULL,
				"%s at gpa %#" PRIx64 " does not map %s, as its state says",
				view_name, cursor - (uint64_t)(uintptr_t)view, want->what);
		cursor = line->end;
	}
	if (cursor < end)
		return gmemvm_failf(error, INCONSISTENT, NULL,
				    "%s at gpa %#" PRIx64 " is not mapped at all", view_name,
				    cursor - (uint64_t)(uintptr_t)view);
	return 0;
}

struct check_walk {
	struct memmap *map;
	const struct maps_table *table;
	struct gmemvm_error *error;
	int status;
};

static void check_extent(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	struct check_walk *walk = opaque;
	struct memmap *map = walk->map;
	if (walk->status)
		return;
	bool private = state == SHAREABILITY_GUEST;
	uint64_t size = end - start;
	int shared_fd, sigbus_fd;
	if (map->host_view && map->backing->host_view_files(map, &shared_fd, &sigbus_fd)) {
		struct expected_mapping want = {
			private ? sigbus_fd : shared_fd,
			start,
			private ? "a file that faults SIGBUS" : "the shared contents",
		};
		walk->status = expect_range(walk->table, map->host_view, start, size, &want,
					    "the host view", walk->error);
	}
}

/* A view's memslots must be exactly the maximal runs of pages it reaches,
 * each bound where its role says. */
static int check_view_slots(struct memmap *map, const struct memmap_view *view,
			    struct gmemvm_error *error)
{
	struct run_collector collector = { .map = map, .view = view };
	if (view->per_extent)
		shareability_for_each_in(state_of(map), view->extent_start,
					 map->ram_size - view->extent_start, collect_extent,
					 &collector);
	else
		add_run(&collector, view->extent_start, map->ram_size, view->guest_memfd);
	size_t fixed = view->count && view->slots[0].fixed ? 1 : 0;
	int status = collector.status;
	if (status < 0)
		gmemvm_failf(error, status, "collecting the runs of a view",
			     "checking the memslots of the %s failed: %s", view->role,
			     strerror(-status));
	if (status == 0 && view->count - fixed != collector.count)
		status = gmemvm_failf(error, INCONSISTENT, NULL,
				      "the %s has %zu memslots where its state has %zu runs",
				      view->role, view->count - fixed, collector.count);
	for (size_t i = 0; status == 0 && i < collector.count; i++) {
		const struct memmap_slot *slot = &view->slots[fixed + i];
		uint64_t start = collector.runs[i].start, end = collector.runs[i].end;
		uint64_t want_userspace = view->userspace_addr ? view->userspace_addr + start : 0;
		if (slot->offset != start || slot->offset + slot->size != end ||
		    slot->gpa != view->base + start || slot->userspace_addr != want_userspace ||
		    slot->guest_memfd != collector.runs[i].guest_memfd)
			status = gmemvm_failf(error, INCONSISTENT, NULL,
					      "memslot %u of the %s covers %#" PRIx64 "+%#" PRIx64
					      ", its state says %#" PRIx64 "+%#" PRIx64,
					      slot->slot, view->role, slot->offset, slot->size,
					      start, end - start);
	}
	free(collector.runs);
	return status;
}

int memmap_check(struct memmap *map, struct gmemvm_error *error)
{
	const struct shareability_map *state = state_of(map);
	lock_range(map, 0, UINT64_MAX); /* no conversion in flight anywhere */
	struct maps_table table = { 0 };
	int status = 0;
	if (!shareability_check(state)) {
		status = gmemvm_failf(error, INCONSISTENT, NULL,
				      "the shareability state itself is inconsistent");
	} else if ((status = read_maps(map->maps_fd, &table)) < 0) {
		status = gmemvm_failf(error, status, "read of /proc/self/maps",
				      "cannot read /proc/self/maps: %s", strerror(-status));
	} else {
		struct check_walk walk = { map, &table, error, 0 };
		shareability_for_each(state, check_extent, &walk);
		status = walk.status;
	}
	for (int i = 0; status == 0 && i < map->nr_views; i++)
		status = check_view_slots(map, &map->views[i], error);
	free(table.lines);
	pthread_mutex_unlock(&map->lock);
	return status;
}

static void snapshot_run(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	struct memmap_snapshot *out = opaque;
	if (out->runs_shown < MEMMAP_PICTURE_MAX_RUNS)
		out->runs[out->runs_shown++] = (struct memmap_picture_run){
			.start = start, .end = end, .private = state == SHAREABILITY_GUEST
		};
	out->run_count++;
}

void memmap_snapshot(struct memmap *map, struct memmap_snapshot *out, const char *label)
{
	lock_range(map, 0, UINT64_MAX); /* no conversion in flight anywhere */
	memset(out, 0, sizeof(*out));
	out->taken = true;
	snprintf(out->label, sizeof(out->label), "%s", label);
	out->ram_size = map->ram_size;
	out->shared_in_gmem = mode_info(map->mode)->shared_in_gmem;
	shareability_for_each(state_of(map), snapshot_run, out);
	out->nr_views = map->nr_views;
	for (int i = 0; i < map->nr_views && i < 2; i++) {
		const struct memmap_view *view = &map->views[i];
		struct memmap_picture_view *picture = &out->views[i];
		snprintf(picture->role, sizeof(picture->role), "%s", view->role);
		picture->base = view->base;
		picture->count = view->count;
		for (size_t j = 0; j < view->count && j < MEMMAP_PICTURE_MAX_SLOTS; j++) {
			const struct memmap_slot *slot = &view->slots[j];
			picture->slots[picture->shown++] = (struct memmap_picture_slot){
				.slot = slot->slot,
				.offset = slot->offset,
				.size = slot->size,
				.guest_memfd = slot->guest_memfd,
				.userspace_addr = slot->userspace_addr != 0,
			};
		}
	}
	pthread_mutex_unlock(&map->lock);
}
