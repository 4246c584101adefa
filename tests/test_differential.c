// SPDX-License-Identifier: MIT
/*
 * The differential test of docs/design.md ("Real first, model only where the
 * kernel is missing a feature"): where the kernel and the model both offer
 * a behaviour, they must agree. For each of the notes' flag combinations
 * (support_shared, init_private) in {(0,0), (1,0), (1,1)} the same sequence
 * runs on
 *   (A) a raw kernel guest_memfd, created with gmem_kernel_flags(ss, ip)
 *       through kvm_create_guest_memfd and mapped with a plain mmap, and
 *   (B) the model, gmem_create(..., model = true) + gmem_mmap_errno/gmem_map,
 * and every observation (creation, mmap MAP_SHARED, mmap MAP_PRIVATE, host
 * read of the first and last page, write + punch hole) must be identical.
 * A table of both sides is printed; a combination the kernel cannot create
 * here is reported as skipped, with the reason. Needs /dev/kvm (77 without).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "gmem.h"
#include "kvm.h"
#include "kvm_fixture.h"
#include "kvm_abi.h"

#define FILE_SIZE (1ULL << 20)
#define PAGE	  GMEM_PAGE_SIZE
#define PATTERN	  0xd6
/* A flag bit neither upstream nor the notes define. */
#define UNKNOWN_FLAG (1ULL << 5)

static int kvm_fd = -1;
static int vm_fd = -1;
static struct kvm_caps caps;

/* What one side showed; each field is "ok", an errno name, "SIGBUS" or "-"
 * (not reached), so the two sides compare as strings and print as they are. */
struct observation {
	char create[16];
	char map_shared[16];
	char map_private[16];
	char read_first[16];
	char read_last[16];
	char punch[32];
};

static const char *errno_name(int error)
{
	const char *name = strerrorname_np(error);
	return name ? name : "E?";
}

static void set_result(char *field, size_t size, int error)
{
	snprintf(field, size, "%s", error ? errno_name(error) : "ok");
}

static void not_reached(struct observation *seen)
{
	static const char dash[] = "-";
	if (!seen->map_shared[0])
		strcpy(seen->map_shared, dash);
	if (!seen->map_private[0])
		strcpy(seen->map_private, dash);
	if (!seen->read_first[0])
		strcpy(seen->read_first, dash);
	if (!seen->read_last[0])
		strcpy(seen->read_last, dash);
	if (!seen->punch[0])
		strcpy(seen->punch, dash);
}

/* ---- Host reads that may SIGBUS ---------------------------------------- */

/* true when reading *address raised SIGBUS (the kernel's, for a GUEST page). */
static bool read_sigbuses(volatile uint8_t *address)
{
	return gmem_host_read_signal(address) == SIGBUS;
}

static bool all_equal(const uint8_t *bytes, uint8_t value, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (bytes[i] != value)
			return false;
	return true;
}

/*
 * The part both sides share once a view exists: read the first and last
 * page; if readable, write the pattern over pages 0 and 1, punch page 1 and
 * check page 1 reads zeroes and page 0 still the pattern.
 */
static void observe_view(struct observation *seen, uint8_t *view,
			 int (*punch)(void *opaque, uint64_t offset, uint64_t size), void *opaque)
{
	bool first_faults = read_sigbuses(view);

	snprintf(seen->read_first, sizeof(seen->read_first), first_faults ? "SIGBUS" : "ok");
	snprintf(seen->read_last, sizeof(seen->read_last),
		 read_sigbuses(view + FILE_SIZE - 1) ? "SIGBUS" : "ok");
	if (first_faults)
		return;
	memset(view, PATTERN, 2 * PAGE);
	if (punch(opaque, PAGE, PAGE) < 0) {
		snprintf(seen->punch, sizeof(seen->punch), "punch %s", errno_name(errno));
		return;
	}
	bool zeroed = all_equal(view + PAGE, 0, PAGE);
	bool kept = all_equal(view, PATTERN, PAGE);
	snprintf(seen->punch, sizeof(seen->punch), "%s",
		 zeroed && kept ? "zeroed"
		 : zeroed	? "zeroed,p0 lost"
		 : kept		? "not zeroed"
				: "not zeroed,p0 lost");
}

/* ---- (A) the kernel's guest_memfd, raw --------------------------------- */

static int kernel_punch(void *opaque, uint64_t offset, uint64_t size)
{
	int fd = *(int *)opaque;
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
			 (off_t)size);
}

static int kernel_mmap_errno(int fd, int map_flags, uint8_t **view)
{
	void *mapped = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, map_flags, fd, 0);

	if (mapped == MAP_FAILED)
		return errno;
	if (view)
		*view = mapped;
	else
		munmap(mapped, FILE_SIZE);
	return 0;
}

static void observe_kernel(uint64_t flags, struct observation *seen)
{
	uint8_t *view = NULL;
	int fd = kvm_create_guest_memfd(vm_fd, FILE_SIZE, flags);

	memset(seen, 0, sizeof(*seen));
	set_result(seen->create, sizeof(seen->create), fd < 0 ? -fd : 0);
	if (fd >= 0) {
		int shared = kernel_mmap_errno(fd, MAP_SHARED, &view);
		set_result(seen->map_shared, sizeof(seen->map_shared), shared);
		set_result(seen->map_private, sizeof(seen->map_private),
			   kernel_mmap_errno(fd, MAP_PRIVATE, NULL));
		if (!shared) {
			observe_view(seen, view, kernel_punch, &fd);
			munmap(view, FILE_SIZE);
		}
		close(fd);
	}
	not_reached(seen);
}

/* ---- (B) the model ----------------------------------------------------- */

static int model_punch(void *opaque, uint64_t offset, uint64_t size)
{
	int status = gmem_punch_hole(opaque, offset, size);
	if (status < 0)
		errno = -status; /* what observe_view reads, as after fallocate */
	return status;
}

static void observe_model(bool support_shared, bool init_private, struct observation *seen)
{
	struct gmem gmem;

	memset(seen, 0, sizeof(*seen));
	struct gmemvm_error error = { 0 };
	int created = gmem_create(&gmem, vm_fd, FILE_SIZE, support_shared, init_private,
				  caps.guest_memfd_flags, true, &error);
	if (created < 0) {
		set_result(seen->create, sizeof(seen->create), -created);
		fprintf(stderr, "model: %s\n", error.message);
		not_reached(seen);
		gmem_destroy(&gmem);
		return;
	}
	set_result(seen->create, sizeof(seen->create), 0);
	int predicted = gmem_mmap_errno(&gmem, MAP_SHARED);
	bool mapped = gmem_map(&gmem, &error) == 0;
	/* gmem_map must do what gmem_mmap_errno promised. */
	if (mapped != (predicted == 0))
		snprintf(seen->map_shared, sizeof(seen->map_shared), "%s/map %s",
			 errno_name(predicted), mapped ? "ok" : "failed");
	else
		set_result(seen->map_shared, sizeof(seen->map_shared), predicted);
	set_result(seen->map_private, sizeof(seen->map_private),
		   gmem_mmap_errno(&gmem, MAP_PRIVATE));
	if (mapped)
		observe_view(seen, gmem.host_view, model_punch, &gmem);
	not_reached(seen);
	gmem_destroy(&gmem);
}

/* ---- Comparing and printing -------------------------------------------- */

static void format(const struct observation *seen, char *out, size_t size)
{
	snprintf(out, size, "create=%s shared=%s private=%s read0=%s readN=%s punch=%s",
		 seen->create, seen->map_shared, seen->map_private, seen->read_first,
		 seen->read_last, seen->punch);
}

/* Prints the row; returns true when both sides agree. */
static bool compare_row(const char *label, const struct observation *kernel,
			const struct observation *model)
{
	char kernel_text[160], model_text[160];
	bool same = memcmp(kernel, model, sizeof(*kernel)) == 0;

	format(kernel, kernel_text, sizeof(kernel_text));
	format(model, model_text, sizeof(model_text));
	printf("%-22s %s\n%-22s kernel: %s\n%-22s model:  %s\n", label, same ? "SAME" : "DIFFERENT",
	       "", kernel_text, "", model_text);
	return same;
}

static int setup_kvm(void **state)
{
	(void)state;
	return kvm_fixture_open(&kvm_fd, &vm_fd, &caps);
}

static int teardown_kvm(void **state)
{
	(void)state;
	close(vm_fd);
	close(kvm_fd);
	return 0;
}

static void test_kernel_and_model_agree(void **state)
{
	static const struct {
		bool support_shared, init_private;
	} cases[] = { { false, false }, { true, false }, { true, true } };
	/* What the model itself builds on: MMAP|INIT_SHARED for SUPPORT_SHARED
	 * files (the contents) and MMAP for the never-shared SIGBUS file. */
	const uint64_t model_needs_shared = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	int compared = 0, different = 0;

	(void)state;
	printf("KVM_CAP_GUEST_MEMFD_FLAGS = %#" PRIx64 "%s\n", caps.guest_memfd_flags,
	       caps.guest_memfd_flags_cap ? "" : " (capability not answered)");
	printf("case (ss,ip: notes' flags; k: kernel flags)\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ss = cases[i].support_shared, ip = cases[i].init_private;
		uint64_t kernel_flags = gmem_kernel_flags(ss, ip);
		uint64_t model_flags = ss ? model_needs_shared : 0;
		char label[64];
		struct observation kernel, model;

		snprintf(label, sizeof(label), "(ss=%d,ip=%d) k=%#" PRIx64, ss, ip, kernel_flags);
		if (kernel_flags & ~caps.guest_memfd_flags) {
			printf("%-22s SKIPPED: the kernel lacks flag bits %#" PRIx64
			       " (KVM_CAP_GUEST_MEMFD_FLAGS = %#" PRIx64 ")\n",
			       label, kernel_flags & ~caps.guest_memfd_flags,
			       caps.guest_memfd_flags);
			continue;
		}
		if (model_flags & ~caps.guest_memfd_flags) {
			printf("%-22s SKIPPED: the model needs flag bits %#" PRIx64
			       " the kernel lacks\n",
			       label, model_flags & ~caps.guest_memfd_flags);
			continue;
		}
		observe_kernel(kernel_flags, &kernel);
		observe_model(ss, ip, &model);
		compared++;
		if (!compare_row(label, &kernel, &model))
			different++;
	}

	/*
	 * An unknown flag bit. gmem_create takes the notes' flags as two bools
	 * and cannot express an unknown bit, so the kernel's EINVAL (alone and
	 * added to a valid set) is compared with the model's one documented
	 * refusal of a flag set: INIT_PRIVATE without SUPPORT_SHARED, -EINVAL
	 * (gmem.h).
	 */
	errno = 0;
	int alone = kvm_create_guest_memfd(vm_fd, FILE_SIZE, UNKNOWN_FLAG);
	int alone_errno = alone < 0 ? -alone : 0;
	int added = kvm_create_guest_memfd(vm_fd, FILE_SIZE, caps.guest_memfd_flags | UNKNOWN_FLAG);
	int added_errno = added < 0 ? -added : 0;
	struct gmem gmem;
	struct gmemvm_error error = { 0 };
	int model_status = gmem_create(&gmem, vm_fd, FILE_SIZE, false, true, caps.guest_memfd_flags,
				       true, &error);
	const char *model_errno = model_status < 0 ? errno_name(-model_status) : "ok";
	gmem_destroy(&gmem);
	bool unknown_same = alone_errno == EINVAL && added_errno == EINVAL &&
			    strcmp(model_errno, "EINVAL") == 0;
	printf("%-22s %s\n%-22s kernel: create(%#llx)=%s create(%#" PRIx64 "|%#llx)=%s\n"
	       "%-22s model:  create(ss=0,ip=1)=%s\n",
	       "unknown flag bit", unknown_same ? "SAME" : "DIFFERENT", "",
	       (unsigned long long)UNKNOWN_FLAG, alone < 0 ? errno_name(alone_errno) : "ok",
	       caps.guest_memfd_flags, (unsigned long long)UNKNOWN_FLAG,
	       added < 0 ? errno_name(added_errno) : "ok", "", model_errno);
	if (alone >= 0)
		close(alone);
	if (added >= 0)
		close(added);
	compared++;
	if (!unknown_same)
		different++;

	printf("%d compared, %d different\n", compared, different);
	assert_int_equal(different, 0);
	/* At least the plain file must be comparable on any guest_memfd kernel. */
	assert_true(compared >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_and_model_agree),
	};

	if (kvm_fixture_lacks(NEED_GUESTS_RUN | NEED_GUEST_MEMFD))
		return 77;
	return cmocka_run_group_tests(tests, setup_kvm, teardown_kvm);
}
