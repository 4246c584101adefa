// SPDX-License-Identifier: MIT
#include "memmap.h"

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
#include "kvm.h"

#define RW (PROT_READ | PROT_WRITE)

static bool is_coco(enum vm_mode mode)
{
	return mode == MODE_COCO_LEGACY || mode == MODE_COCO_INPLACE;
}

void memmap_init(struct memmap *map)
{
	memset(map, 0, sizeof(*map));
	map->shared_fd = map->sigbus_fd = map->maps_fd = -1;
}

/* Private or shared, whichever state map the mode keeps. Caller holds the lock. */
static bool range_private(const struct memmap *map, uint64_t gpa, uint64_t size)
{
	if (map->mode == MODE_COCO_LEGACY)
		return shareability_range_is(&map->attributes, gpa, size, SHAREABILITY_GUEST);
	return shareability_range_is(&map->gmem->shareability, gpa, size, SHAREABILITY_GUEST);
}

static bool range_shared(const struct memmap *map, uint64_t gpa, uint64_t size)
{
	if (map->mode == MODE_COCO_LEGACY)
		return shareability_range_is(&map->attributes, gpa, size, SHAREABILITY_ALL);
	return shareability_range_is(&map->gmem->shareability, gpa, size, SHAREABILITY_ALL);
}

static uint8_t *map_file(int fd, uint64_t size, int prot)
{
	void *view = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
	return view == MAP_FAILED ? NULL : view;
}

/* Reserve address space for a view; every page starts inaccessible. */
static uint8_t *reserve_view(uint64_t size)
{
	void *view =
		mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return view == MAP_FAILED ? NULL : view;
}

/*
 * Point [gpa, gpa + size) of the views at what the state says: the guest's
 * private view maps private contents where private and nothing where shared;
 * coco-legacy's own host view maps the shared backing where shared and the
 * never-shared guest_memfd (SIGBUS) where private. coco-inplace's host view
 * is the guest_memfd's, which gmem_convert keeps up to date itself.
 */
static int update_views(struct memmap *map, uint64_t gpa, uint64_t size, bool private)
{
	if (!map->own_views)
		return 0;
	int private_fd = map->gmem->content_fd;
	if (gmem_remap(map->guest_view + gpa, private ? private_fd : -1, gpa, size, RW) < 0)
		return -ENOMEM;
	if (map->own_host_view &&
	    gmem_remap(map->host_view + gpa, private ? map->sigbus_fd : map->shared_fd, gpa, size,
		       RW) < 0)
		return -ENOMEM;
	return 0;
}

struct view_builder {
	struct memmap *map;
	int status;
};

static void build_extent(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	struct view_builder *builder = opaque;
	if (builder->status == 0)
		builder->status =
			update_views(builder->map, start, end - start, state == SHAREABILITY_GUEST);
}

static int build_views(struct memmap *map)
{
	struct view_builder builder = { map, 0 };
	const struct shareability_map *state =
		map->mode == MODE_COCO_LEGACY ? &map->attributes : &map->gmem->shareability;
	shareability_for_each(state, build_extent, &builder);
	return builder.status;
}

static int add_slot(struct memmap *map, int vm_fd, uint64_t gpa, bool guest_memfd,
		    uint64_t userspace_addr, bool check_userspace_addr, const char *role, char *err,
		    size_t err_size)
{
	struct memmap_slot *slot = &map->slots[map->nr_slots];
	*slot = (struct memmap_slot){ .slot = (uint32_t)map->nr_slots,
				      .gpa = gpa,
				      .size = map->ram_size,
				      .guest_memfd = guest_memfd,
				      .userspace_addr = userspace_addr,
				      .role = role };
	map->nr_slots++;
	if (guest_memfd)
		return gmem_bind(map->gmem, vm_fd, slot->slot, gpa, 0, map->ram_size,
				 userspace_addr, check_userspace_addr, err, err_size);
	if (kvm_set_memory_region2(vm_fd, slot->slot, 0, gpa, map->ram_size, userspace_addr, -1,
				   0) < 0) {
		snprintf(err, err_size,
			 "KVM_SET_USER_MEMORY_REGION2(slot %u, gpa %#" PRIx64 ", %s) failed: %s",
			 slot->slot, gpa, role, strerror(errno));
		return -1;
	}
	return 0;
}

static int setup_shared(struct memmap *map, const struct scenario *scenario, int vm_fd, char *err,
			size_t err_size)
{
	if (gmem_map(map->gmem, err, err_size) < 0)
		return -1;
	map->host_view = map->gmem->host_view;
	uint64_t userspace_addr =
		scenario->userspace_addr_null ? 0 : (uint64_t)(uintptr_t)map->host_view;
	if (scenario->userspace_addr_anonymous) {
		map->anonymous = mmap(NULL, map->ram_size, RW,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (map->anonymous == MAP_FAILED) {
			map->anonymous = NULL;
			snprintf(err, err_size, "anonymous mapping failed: %s", strerror(errno));
			return -1;
		}
		map->anonymous_size = map->ram_size;
		userspace_addr = (uint64_t)(uintptr_t)map->anonymous;
	}
	return add_slot(map, vm_fd, 0, true, userspace_addr, true, "ram", err, err_size);
}

/* pKVM: one view; the guest reaches private and shared pages alike, the host
 * only the shared ones (its view SIGBUSes on the rest). */
static int setup_pkvm(struct memmap *map, int vm_fd, char *err, size_t err_size)
{
	if (gmem_map(map->gmem, err, err_size) < 0)
		return -1;
	map->host_view = map->gmem->host_view;
	map->guest_view = map->gmem->content_view ? map->gmem->content_view : map->host_view;
	return add_slot(map, vm_fd, 0, true, (uint64_t)(uintptr_t)map->guest_view, true,
			"ram (guest's view)", err, err_size);
}

static int setup_coco(struct memmap *map, int vm_fd, char *err, size_t err_size)
{
	struct gmem *gmem = map->gmem;
	map->own_views = true;
	map->guest_view = reserve_view(map->ram_size);
	if (!map->guest_view)
		goto fail;
	if (map->mode == MODE_COCO_INPLACE) {
		if (gmem_map(gmem, err, err_size) < 0)
			return -1;
		map->host_view = gmem->host_view;
		map->private_contents = map->shared_contents = gmem->content_view;
	} else {
		/* coco-legacy: shared pages in their own memfd, private ones in the
		 * guest_memfd's contents; the attributes start shared, as KVM's do. */
		map->own_host_view = true;
		if (!gmem->support_shared) {
			/* Show the notes' point: the VMM cannot map this file. */
			void *attempt = mmap(NULL, map->ram_size, RW, MAP_SHARED, gmem->fd, 0);
			map->private_mmap_errno = attempt == MAP_FAILED ? errno : 0;
			if (attempt != MAP_FAILED)
				munmap(attempt, map->ram_size);
		}
		if (shareability_init(&map->attributes, map->ram_size, GMEM_PAGE_SIZE,
				      SHAREABILITY_ALL) < 0)
			goto fail;
		map->shared_fd = memfd_create("gmemvm-shared-backing", MFD_CLOEXEC);
		map->sigbus_fd =
			kvm_create_guest_memfd(vm_fd, map->ram_size, GUEST_MEMFD_FLAG_MMAP);
		if (map->shared_fd < 0 || ftruncate(map->shared_fd, (off_t)map->ram_size) < 0 ||
		    map->sigbus_fd < 0)
			goto fail;
		map->host_view = reserve_view(map->ram_size);
		map->shared_contents = map_file(map->shared_fd, map->ram_size, RW);
		map->private_contents = map_file(gmem->content_fd, map->ram_size, RW);
		if (!map->host_view || !map->shared_contents || !map->private_contents)
			goto fail;
	}
	if (build_views(map) < 0)
		goto fail;
	/* The private view stands in for kvm_gmem_get_pfn(), so the notes'
	 * userspace_addr rule (about the shared path) does not apply to it. */
	if (add_slot(map, vm_fd, 0, true, (uint64_t)(uintptr_t)map->guest_view, false,
		     "private view", err, err_size) < 0)
		return -1;
	return add_slot(map, vm_fd, 1ULL << map->shared_bit, false,
			(uint64_t)(uintptr_t)map->host_view, false, "shared view", err, err_size);
fail:
	snprintf(err, err_size, "setting up the %s memory views failed: %s",
		 config_mode_name(map->mode), strerror(errno));
	return -1;
}

int memmap_setup(struct memmap *map, const struct scenario *scenario, struct gmem *gmem, int vm_fd,
		 unsigned int shared_bit, char *err, size_t err_size)
{
	map->mode = scenario->mode;
	map->ram_size = scenario->memory_size;
	map->gmem = gmem;
	map->shared_bit = is_coco(scenario->mode) ? shared_bit : 0;
	/* Adaptive: held for one conversion's few kernel calls, so a vCPU that
	 * spins a moment usually gets it without sleeping; with more vCPUs than
	 * cores that took 4-vCPU explicit conversions from ~57k/s to ~77k/s. */
	pthread_mutexattr_t attributes;
	pthread_mutexattr_init(&attributes);
	pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&map->lock, &attributes);
	pthread_mutexattr_destroy(&attributes);
	map->lock_ready = true;
	map->maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	switch (scenario->mode) {
	case MODE_SHARED:
		return setup_shared(map, scenario, vm_fd, err, err_size);
	case MODE_PKVM:
		return setup_pkvm(map, vm_fd, err, err_size);
	case MODE_COCO_LEGACY:
	case MODE_COCO_INPLACE:
		return setup_coco(map, vm_fd, err, err_size);
	}
	snprintf(err, err_size, "unknown mode");
	return -1;
}

void memmap_destroy(struct memmap *map)
{
	if (map->anonymous)
		munmap(map->anonymous, map->anonymous_size);
	if (map->own_views && map->guest_view)
		munmap(map->guest_view, map->ram_size);
	if (map->own_host_view) {
		if (map->host_view)
			munmap(map->host_view, map->ram_size);
		if (map->shared_contents)
			munmap(map->shared_contents, map->ram_size);
		if (map->private_contents)
			munmap(map->private_contents, map->ram_size);
	}
	if (map->shared_fd >= 0)
		close(map->shared_fd);
	if (map->sigbus_fd >= 0)
		close(map->sigbus_fd);
	if (map->maps_fd >= 0)
		close(map->maps_fd);
	if (map->attributes.extents)
		shareability_destroy(&map->attributes);
	if (map->lock_ready)
		pthread_mutex_destroy(&map->lock);
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

bool memmap_is_private(struct memmap *map, uint64_t gpa, uint64_t size)
{
	if (!in_ram(map, gpa, size))
		return false;
	pthread_mutex_lock(&map->lock);
	bool private = range_private(map, gpa, size);
	pthread_mutex_unlock(&map->lock);
	return private;
}

static void complete_access(struct memmap *map, const struct memmap_completion *completion)
{
	uint8_t *contents = completion->shared_view ? map->shared_contents : map->private_contents;
	if (!contents)
		contents = map->gmem->content_view;
	uint8_t *where = contents + completion->gpa;
	if (completion->is_write)
		memcpy(where, completion->data, completion->length);
	else
		memcpy(completion->data, where, completion->length);
}

static __thread const char *failed_step = "";

const char *memmap_failed_step(void)
{
	return failed_step;
}

static void resync_extent(void *opaque, uint64_t start, uint64_t end, enum shareability state)
{
	update_views(opaque, start, end - start, state == SHAREABILITY_GUEST);
}

/* Map the views of [gpa, gpa + size) again from the state: the undo of a
 * conversion that failed half-way, so state and views still agree. */
static void resync_views(struct memmap *map, uint64_t gpa, uint64_t size)
{
	shareability_for_each_in(map->mode == MODE_COCO_LEGACY ? &map->attributes
							       : &map->gmem->shareability,
				 gpa, size, resync_extent, map);
}

static bool page_range(const struct memmap *map, uint64_t gpa, uint64_t size)
{
	return in_ram(map, gpa, size) && gpa % GMEM_PAGE_SIZE == 0 && size % GMEM_PAGE_SIZE == 0;
}

/*
 * All or nothing (a failure leaves the state and every view as they were):
 * the views first, then the state, each undone from the unchanged state if a
 * later step fails. coco-legacy discards the old backing last, once the
 * conversion stands: a legacy CoCo VMM does not keep contents across it.
 */
static int convert_locked(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private)
{
	if (map->mode == MODE_SHARED || map->mode == MODE_PKVM || map->mode == MODE_COCO_INPLACE) {
		if (!map->gmem->support_shared)
			return -ENOTTY;
		if (!page_range(map, gpa, size))
			return -EINVAL;
	} else if (!page_range(map, gpa, size)) {
		return -EINVAL;
	}
	int status = update_views(map, gpa, size, to_private);
	if (status < 0) {
		failed_step = "mmap of the private view";
		resync_views(map, gpa, size);
		return status;
	}
	if (map->mode != MODE_COCO_LEGACY) {
		status = to_private ? gmem_convert_private(map->gmem, gpa, size)
				    : gmem_convert_shared(map->gmem, gpa, size);
		if (status < 0) {
			failed_step = gmem_failed_step();
			resync_views(map, gpa, size);
		}
		return status;
	}
	/* KVM_SET_MEMORY_ATTRIBUTES, modelled: KVM_CAP_MEMORY_ATTRIBUTES is absent. */
	status = fault_inject(FAULT_STATE)
			 ? -ENOMEM
			 : shareability_set(&map->attributes, gpa, size,
					    to_private ? SHAREABILITY_GUEST : SHAREABILITY_ALL);
	if (status < 0) {
		failed_step = "growing the memory attributes";
		resync_views(map, gpa, size);
		return status;
	}
	if (to_private)
		status = fault_inject(FAULT_PUNCH)
				 ? -1
				 : fallocate(map->shared_fd,
					     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)gpa,
					     (off_t)size);
	else
		status = gmem_punch_hole(map->gmem, gpa, size);
	if (status < 0) {
		/* The conversion stands and is consistent; only the discard failed. */
		failed_step = to_private ? "fallocate(PUNCH_HOLE) of the shared backing"
					 : "fallocate(PUNCH_HOLE) of the private contents";
		return -errno;
	}
	return 0;
}

int memmap_convert(struct memmap *map, uint64_t gpa, uint64_t size, bool to_private,
		   struct memmap_completion *completion, bool *converted)
{
	pthread_mutex_lock(&map->lock);
	bool already = in_ram(map, gpa, size) &&
		       (to_private ? range_private(map, gpa, size) : range_shared(map, gpa, size));
	int status = already ? 0 : convert_locked(map, gpa, size, to_private);
	if (converted)
		*converted = !already && status == 0;
	if (status == 0 && completion)
		complete_access(map, completion);
	pthread_mutex_unlock(&map->lock);
	return status;
}

int memmap_discard(struct memmap *map, uint64_t gpa, uint64_t size)
{
	if (!page_range(map, gpa, size))
		return -EINVAL;
	pthread_mutex_lock(&map->lock);
	int status = gmem_punch_hole(map->gmem, gpa, size);
	if (status < 0)
		failed_step = gmem_failed_step();
	if (status == 0 && map->shared_fd >= 0) {
		status = fault_inject(FAULT_PUNCH)
				 ? -1
				 : fallocate(map->shared_fd,
					     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)gpa,
					     (off_t)size);
		if (status < 0)
			failed_step = "fallocate(PUNCH_HOLE) of the shared backing";
	}
	int error = errno;
	pthread_mutex_unlock(&map->lock);
	return status < 0 ? -(error ? error : EIO) : 0;
}

static int copy_shared(struct memmap *map, uint64_t gpa, void *buffer, uint64_t size, bool is_write)
{
	if (!in_ram(map, gpa, size) || !map->host_view)
		return -EFAULT;
	pthread_mutex_lock(&map->lock);
	int status = range_shared(map, gpa, size) ? 0 : -EFAULT;
	if (status == 0 && is_write)
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
	uint8_t *target = map->private_contents	    ? map->private_contents
			  : map->gmem->content_view ? map->gmem->content_view
						    : map->host_view;
	memcpy(target + gpa, in, size);
}

void *memmap_lookup(struct memmap *map, uint64_t gpa, uint64_t size)
{
	if (!in_ram(map, gpa, size) || !map->host_view)
		return NULL;
	pthread_mutex_lock(&map->lock);
	bool shared = range_shared(map, gpa, size);
	pthread_mutex_unlock(&map->lock);
	return shared ? map->host_view + gpa : NULL;
}

void memmap_render(struct memmap *map, uint64_t gpa, uint64_t size, char *out, size_t columns)
{
	pthread_mutex_lock(&map->lock);
	const struct shareability_map *state =
		map->mode == MODE_COCO_LEGACY ? &map->attributes : &map->gmem->shareability;
	shareability_render(state, gpa, size, out, columns);
	pthread_mutex_unlock(&map->lock);
}

/* ---- The consistency checker ------------------------------------------ */

struct maps_line {
	uint64_t start, end, offset, inode;
	unsigned int major, minor;
	bool accessible;
};

struct maps_table {
	struct maps_line *lines;
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

static int read_maps(int fd, struct maps_table *table)
{
	char *text = slurp_maps(fd);
	if (!text)
		return -1;
	size_t capacity = 256;
	table->lines = malloc(capacity * sizeof(*table->lines));
	table->count = 0;
	if (!table->lines) {
		free(text);
		return -1;
	}
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		struct maps_line entry;
		char perms[8];
		unsigned long long start, end, offset, inode;
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &offset,
			   &entry.major, &entry.minor, &inode) != 7)
			continue;
		entry = (struct maps_line){ start,
					    end,
					    offset,
					    inode,
					    entry.major,
					    entry.minor,
					    strncmp(perms, "---", 3) != 0 };
		if (table->count == capacity) {
			capacity *= 2;
			struct maps_line *grown = realloc(table->lines, capacity * sizeof(*grown));
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
	return table->lines ? 0 : -1;
}

/* What one page range of a view must map: a file at an offset, or nothing. */
struct expected_mapping {
	int fd; /* -1: inaccessible (PROT_NONE) */
	uint64_t offset;
	const char *what;
};

static int expect_range(const struct maps_table *table, const uint8_t *view, uint64_t gpa,
			uint64_t size, const struct expected_mapping *want, const char *view_name,
			char *err, size_t err_size)
{
	struct stat st = { 0 };
	if (want->fd >= 0 && fstat(want->fd, &st) < 0)
		return -1;
	uint64_t cursor = (uint64_t)(uintptr_t)view + gpa, end = cursor + size;
	for (size_t i = 0; i < table->count && cursor < end; i++) {
		const struct maps_line *line = &table->lines[i];
		if (line->end <= cursor)
			continue;
		if (line->start > cursor)
			break;
		bool good =
			want->fd < 0
				? !line->accessible
				: line->accessible && line->inode == st.st_ino &&
					  line->major == major(st.st_dev) &&
					  line->minor == minor(st.st_dev) &&
					  line->offset + (cursor - line->start) ==
						  want->offset + (cursor -
								  (uint64_t)(uintptr_t)view - gpa);
		if (!good) {
			snprintf(err, err_size,
				 "%s at gpa %#" PRIx64 " does not map %s, as its state says",
				 view_name, cursor - (uint64_t)(uintptr_t)view, want->what);
			return -1;
		}
		cursor = line->end;
	}
	if (cursor < end) {
		snprintf(err, err_size, "%s at gpa %#" PRIx64 " is not mapped at all", view_name,
			 cursor - (uint64_t)(uintptr_t)view);
		return -1;
	}
	return 0;
}

struct check_walk {
	struct memmap *map;
	const struct maps_table *table;
	char *err;
	size_t err_size;
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
	const struct gmem *gmem = map->gmem;
	if (map->host_view && (gmem->model || map->own_host_view)) {
		int shared_fd = map->own_host_view ? map->shared_fd : gmem->content_fd;
		int sigbus_fd = map->own_host_view ? map->sigbus_fd : gmem->sigbus_fd;
		struct expected_mapping want = { private ? sigbus_fd : shared_fd, start,
						 private ? "a never-shared guest_memfd (SIGBUS)"
							 : "the shared contents" };
		walk->status = expect_range(walk->table, map->host_view, start, size, &want,
					    "the host view", walk->err, walk->err_size);
	}
	if (!walk->status && map->own_views) {
		struct expected_mapping want = { private ? gmem->content_fd : -1, start,
						 private ? "the private contents" : "nothing" };
		walk->status = expect_range(walk->table, map->guest_view, start, size, &want,
					    "the private view", walk->err, walk->err_size);
	}
}

int memmap_check(struct memmap *map, char *err, size_t err_size)
{
	const struct shareability_map *state =
		map->mode == MODE_COCO_LEGACY ? &map->attributes : &map->gmem->shareability;
	pthread_mutex_lock(&map->lock);
	struct maps_table table = { 0 };
	int status = 0;
	if (!shareability_check(state)) {
		snprintf(err, err_size, "the shareability state itself is inconsistent");
		status = -1;
	} else if (read_maps(map->maps_fd, &table) < 0) {
		snprintf(err, err_size, "cannot read /proc/self/maps: %s", strerror(errno));
		status = -1;
	} else {
		struct check_walk walk = { map, &table, err, err_size, 0 };
		shareability_for_each(state, check_extent, &walk);
		status = walk.status;
	}
	/* Each memslot must still point at the view its role names. */
	for (int i = 0; status == 0 && i < map->nr_slots; i++) {
		const struct memmap_slot *slot = &map->slots[i];
		uint64_t want =
			strcmp(slot->role, "shared view") == 0 ? (uint64_t)(uintptr_t)map->host_view
			: strcmp(slot->role, "ram") == 0       ? slot->userspace_addr
							 : (uint64_t)(uintptr_t)map->guest_view;
		if (slot->userspace_addr != want || slot->size != map->ram_size) {
			snprintf(err, err_size, "memslot %u (%s) no longer matches its view",
				 slot->slot, slot->role);
			status = -1;
		}
	}
	free(table.lines);
	pthread_mutex_unlock(&map->lock);
	return status;
}
