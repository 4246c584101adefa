// SPDX-License-Identifier: MIT
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"

void report_add_feature(struct run_report *report, const char *name, bool native)
{
	if (report->nr_features < REPORT_MAX_FEATURES)
		report->features[report->nr_features++] = (struct report_feature){ name, native };
}

uint64_t report_event(const struct run_report *report, enum event_kind kind)
{
	const struct conversion_stats *c = &report->conversions;
	const struct hypercall_stats *h = &report->hypercalls;
	switch (kind) {
	case EVENT_MEMORY_FAULTS:
		return c->memory_faults_kernel + c->memory_faults_modelled;
	case EVENT_TO_SHARED:
		return c->pages_to_shared;
	case EVENT_TO_PRIVATE:
		return c->pages_to_private;
	case EVENT_BY_FAULT:
		return c->by_fault;
	case EVENT_BY_HYPERCALL:
		return c->by_hypercall;
	case EVENT_HYPERCALLS_REFUSED:
		/* share/unshare refusals as the policy counts them, from the port
		 * and from KVM_HC_MAP_GPA_RANGE alike */
		return h->refused_bad_block + h->refused_unknown_op + h->refused_not_supported +
		       c->refused + h->refused_discards + h->refused_holds;
	case EVENT_EAGAIN:
		return c->eagain;
	case EVENT_RETRIES:
		return c->retries;
	case EVENT_ALREADY_DONE:
		return c->already_done;
	default:
		return 0;
	}
}

static bool count_matches(const struct count_expect *expect, uint64_t value)
{
	switch (expect->compare) {
	case COUNT_EQ:
		return value == expect->value;
	case COUNT_GE:
		return value >= expect->value;
	case COUNT_LE:
		return value <= expect->value;
	default:
		return true;
	}
}

static const char *compare_text(enum count_compare compare)
{
	return compare == COUNT_GE ? ">=" : compare == COUNT_LE ? "<=" : "";
}

/* One more difference: the list in the JSON, and "; "-joined in the summary. */
__attribute__((format(printf, 2, 3))) static void differ(struct run_report *report,
							 const char *format, ...)
{
	/* The last entry is kept for "and N more". */
	if (report->nr_mismatches >= REPORT_MAX_MISMATCHES - 1 && !report->listing_done) {
		report->mismatches_dropped++;
		return;
	}
	char *entry = report->mismatches[report->nr_mismatches++];
	va_list args;
	va_start(args, format);
	vsnprintf(entry, REPORT_MISMATCH_SIZE, format, args);
	va_end(args);
	size_t used = strlen(report->mismatch);
	if (used + 1 < sizeof(report->mismatch))
		snprintf(report->mismatch + used, sizeof(report->mismatch) - used, "%s%s",
			 used ? "; " : "", entry);
}

void report_evaluate(struct run_report *report)
{
	const struct scenario *scenario = report->scenario;
	report->mismatch[0] = '\0';
	report->nr_mismatches = report->mismatches_dropped = 0;
	report->listing_done = false;
	if (report->outcome != report->expected) {
		/* The serving type matters only where the scenario expects
		 * different outcomes for the two kinds of host. */
		char serving[96] = "";
		if (scenario->expect_gmem_served != scenario->expect_uaddr_served)
			snprintf(serving, sizeof(serving),
				 " (this host serves gmem memslots from %s)",
				 probe_serving_name(report->serving));
		differ(report, "outcome %s, expected %s%s: %s", outcome_name(report->outcome),
		       outcome_name(report->expected), serving, report->message);
	}
	for (int kind = 0; kind < EXIT_KIND_COUNT; kind++) {
		const struct count_expect *expect = &scenario->expect_exits[kind];
		if (!count_matches(expect, report->exits[kind]))
			differ(report, "exits.%s = %" PRIu64 ", expected %s%" PRIu64,
			       exit_kind_name((enum exit_kind)kind), report->exits[kind],
			       compare_text(expect->compare), expect->value);
	}
	for (int kind = 0; kind < EVENT_COUNT; kind++) {
		const struct count_expect *expect = &scenario->expect_events[kind];
		uint64_t value = report_event(report, (enum event_kind)kind);
		if (!count_matches(expect, value))
			differ(report, "%s = %" PRIu64 ", expected %s%" PRIu64,
			       event_name((enum event_kind)kind), value,
			       compare_text(expect->compare), expect->value);
	}
	if (report->private_mmap_tried && report->private_mmap_errno == 0)
		differ(report, "the kernel let the host mmap a guest_memfd without "
			       "GUEST_MEMFD_FLAG_MMAP (notes: SUPPORT_SHARED)");
	if (report->inconsistent)
		differ(report, "consistency check: %s", report->consistency);
	for (int i = 0; i < scenario->nr_checks; i++)
		if (!report->checks[i].passed && report->checks[i].detail[0]) /* was run */
			differ(report, "check%d: %s", i + 1, report->checks[i].detail);
	report->listing_done = true;
	if (report->mismatches_dropped)
		differ(report, "and %d more", report->mismatches_dropped);
	report->matched = report->nr_mismatches == 0;
}

static uint64_t total_exits(const struct run_report *report)
{
	uint64_t total = 0;
	for (int kind = 0; kind < EXIT_KIND_COUNT; kind++)
		if (kind != EXIT_KIND_HYPERCALL) /* port requests: already counted as io */
			total += report->exits[kind];
	return total;
}

void report_print_summary(FILE *out, const struct run_report *report)
{
	int modelled = 0;
	for (int i = 0; i < report->nr_features; i++)
		modelled += !report->features[i].native;
	/* Even the one-line form says whether any feature was modelled (docs/design.md, "Native or
	 * modelled"). */
	/* io, mmio and hlt always, every other kind when it happened: the
	 * parts add up to the total (hypercall port writes are io already). */
	char breakdown[256];
	int used = snprintf(breakdown, sizeof(breakdown),
			    "io %" PRIu64 ", mmio %" PRIu64 ", hlt %" PRIu64,
			    report->exits[EXIT_KIND_IO], report->exits[EXIT_KIND_MMIO],
			    report->exits[EXIT_KIND_HLT]);
	for (int kind = 0; kind < EXIT_KIND_COUNT; kind++) {
		if (kind == EXIT_KIND_IO || kind == EXIT_KIND_MMIO || kind == EXIT_KIND_HLT ||
		    kind == EXIT_KIND_HYPERCALL || !report->exits[kind] || used < 0 ||
		    (size_t)used >= sizeof(breakdown))
			continue;
		used += snprintf(breakdown + used, sizeof(breakdown) - (size_t)used,
				 ", %s %" PRIu64, exit_kind_name((enum exit_kind)kind),
				 report->exits[kind]);
	}
	fprintf(out, "%-36s %-18s exits %6" PRIu64 " (%s)  %8.2f ms  %-11s %s%s\n",
		report->scenario->name, outcome_name(report->outcome), total_exits(report),
		breakdown, report->total_ms,
		modelled	      ? "[modelled]"
		: report->nr_features ? "[native]"
				      : "[not run]",
		report->matched ? "ok" : "MISMATCH: ", report->matched ? "" : report->mismatch);
}

void report_print_refusals(FILE *out, const struct run_report *report)
{
	const struct hypercall_stats *h = &report->hypercalls;
	fprintf(out,
		"refused: hypercall blocks unreadable %" PRIu64 ", unknown ops %" PRIu64
		", share/unshare %" PRIu64 " (of %" PRIu64 "), discards %" PRIu64 " (of %" PRIu64
		"), conversions without support %" PRIu64 "; ignored: port accesses %" PRIu64
		", MMIO accesses %" PRIu64 "\n",
		h->refused_bad_block, h->refused_unknown_op, h->refused_conversions,
		h->shares + h->unshares, h->refused_discards, h->discards, h->refused_not_supported,
		report->unhandled_pio, report->unhandled_mmio);
}

void report_print_features(FILE *out, const struct run_report *report)
{
	fprintf(out, "features: native:");
	int native = 0, modelled = 0;
	for (int i = 0; i < report->nr_features; i++)
		if (report->features[i].native)
			fprintf(out, "%s %s", native++ ? "," : "", report->features[i].name);
	fprintf(out, "%s; modelled:", native ? "" : " none");
	for (int i = 0; i < report->nr_features; i++)
		if (!report->features[i].native)
			fprintf(out, "%s %s", modelled++ ? "," : "", report->features[i].name);
	fprintf(out, "%s\n", modelled ? "" : " none");
}

int report_write_json(FILE *out, const struct run_report *report, const struct host_probe *probe)
{
	const struct scenario *scenario = report->scenario;
	fprintf(out, "{\n  \"scenario\": ");
	json_print_string(out, scenario->name);
	fprintf(out, ",\n  \"file\": ");
	json_print_string(out, scenario->path);
	fprintf(out,
		",\n  \"mode\": \"%s\",\n  \"stage\": %d,\n  \"vcpus\": %d,\n"
		"  \"memory\": %" PRIu64 ",\n",
		config_mode_name(scenario->mode), scenario->stage, scenario->vcpus,
		scenario->memory_size);
	fprintf(out, "  \"outcome\": \"%s\",\n  \"expected\": \"%s\",\n  \"matched\": %s,\n",
		outcome_name(report->outcome), outcome_name(report->expected),
		report->matched ? "true" : "false");
	fprintf(out, "  \"message\": ");
	json_print_string(out, report->message);
	fprintf(out, ",\n  \"mismatch\": ");
	json_print_string(out, report->matched ? "" : report->mismatch);
	fprintf(out, ",\n  \"mismatches\": [");
	for (int i = 0; i < report->nr_mismatches; i++) {
		fprintf(out, "%s", i ? ", " : "");
		json_print_string(out, report->mismatches[i]);
	}
	fputc(']', out);
	fprintf(out, ",\n  \"exits\": {");
	for (int kind = 0; kind < EXIT_KIND_COUNT; kind++)
		fprintf(out, "%s\"%s\": %" PRIu64, kind ? ", " : "",
			exit_kind_name((enum exit_kind)kind), report->exits[kind]);
	fprintf(out, "},\n  \"unhandled\": {\"pio\": %" PRIu64 ", \"mmio\": %" PRIu64 "},\n",
		report->unhandled_pio, report->unhandled_mmio);
	const struct hypercall_stats *hc = &report->hypercalls;
	fprintf(out,
		"  \"hypercalls\": {\"requests\": %" PRIu64 ", \"done\": %" PRIu64
		", \"asserts\": %" PRIu64 ", \"refused_bad_block\": %" PRIu64
		", \"refused_unknown_op\": %" PRIu64 ", \"refused_not_supported\": %" PRIu64
		", \"shares\": %" PRIu64 ", \"unshares\": %" PRIu64
		", \"refused_conversions\": %" PRIu64 ", \"discards\": %" PRIu64
		", \"refused_discards\": %" PRIu64 "},\n",
		hc->requests, hc->done, hc->asserts, hc->refused_bad_block, hc->refused_unknown_op,
		hc->refused_not_supported, hc->shares, hc->unshares, hc->refused_conversions,
		hc->discards, hc->refused_discards);
	const struct conversion_stats *cv = &report->conversions;
	fprintf(out,
		"  \"memory_faults\": {\"kernel\": %" PRIu64 ", \"modelled\": %" PRIu64
		"},\n  \"conversions\": {\"pages_to_shared\": %" PRIu64
		", \"pages_to_private\": %" PRIu64 ", \"by_fault\": %" PRIu64
		", \"by_hypercall\": %" PRIu64 ", \"hypervisor_side\": %" PRIu64
		", \"already_done\": %" PRIu64 ", \"refused\": %" PRIu64 ", \"host_ns\": %" PRIu64
		", \"window_ns\": %" PRIu64 "},\n",
		cv->memory_faults_kernel, cv->memory_faults_modelled, cv->pages_to_shared,
		cv->pages_to_private, cv->by_fault, cv->by_hypercall, cv->hypervisor_side,
		cv->already_done, cv->refused, cv->host_ns,
		cv->last_finished_ns - cv->first_started_ns);
	fprintf(out, "  \"consistent\": %s,\n", report->inconsistent ? "false" : "true");
	if (report->private_mmap_tried)
		fprintf(out, "  \"private_gmem_mmap\": \"%s\",\n",
			report->private_mmap_errno ? strerror(report->private_mmap_errno)
						   : "succeeded");
	fprintf(out, "  \"checks\": [");
	for (int i = 0; i < scenario->nr_checks; i++) {
		fprintf(out, "%s{\"passed\": %s, \"detail\": ", i ? ", " : "",
			report->checks[i].passed ? "true" : "false");
		json_print_string(out, report->checks[i].detail);
		fputc('}', out);
	}
	fprintf(out, "],\n  \"features\": {\"native\": [");
	for (int i = 0, n = 0; i < report->nr_features; i++)
		if (report->features[i].native)
			fprintf(out, "%s\"%s\"", n++ ? ", " : "", report->features[i].name);
	fprintf(out, "], \"modelled\": [");
	for (int i = 0, n = 0; i < report->nr_features; i++)
		if (!report->features[i].native)
			fprintf(out, "%s\"%s\"", n++ ? ", " : "", report->features[i].name);
	fprintf(out, "]},\n  \"host\": ");
	probe_print_json(out, probe);
	fprintf(out,
		",\n  \"console_bytes\": %" PRIu64 ",\n  \"console\": ", report->console_bytes);
	json_print_string(out, report->console_transcript ? report->console_transcript : "");
	fprintf(out,
		",\n  \"time_ms\": {\"probed\": %.3f, \"setup\": %.3f, \"vcpu_thread\": %.3f, "
		"\"sandboxed\": %.3f, \"guest_entry\": %.3f, \"guest_status\": %.3f, "
		"\"run\": %.3f, \"total\": %.3f},\n",
		report->probed_ms, report->setup_ms, report->vcpu_thread_ms, report->sandboxed_ms,
		report->guest_entry_ms, report->guest_status_ms, report->run_ms, report->total_ms);
	fprintf(out,
		"  \"process_start_monotonic_ns\": %" PRIu64 ",\n  \"peak_resident_kib\": %ld\n}\n",
		report->process_start_ns, report->peak_resident_kib);
	int failed = ferror(out);
	if (fclose(out) != 0 || failed)
		return errno ? -errno : -EIO;
	return 0;
}

int report_file_open(struct report_file *out, const char *path, const char *scenario_path,
		     struct gmemvm_error *error)
{
	memset(out, 0, sizeof(*out));
	out->path = path;
	struct stat target, scenario;
	bool exists = stat(path, &target) == 0;
	if (exists && stat(scenario_path, &scenario) == 0 && target.st_dev == scenario.st_dev &&
	    target.st_ino == scenario.st_ino)
		return gmemvm_refuse(error, -EINVAL, "--report %s is the scenario file itself",
				     path);
	int fd;
	const char *step;
	if (exists && !S_ISREG(target.st_mode)) {
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
		step = "open of the report";
	} else if ((size_t)snprintf(out->temporary, sizeof(out->temporary), "%s.XXXXXX", path) >=
		   sizeof(out->temporary)) {
		out->temporary[0] = '\0';
		return gmemvm_refuse(error, -ENAMETOOLONG, "--report path is too long");
	} else {
		step = "mkostemp beside the report";
		fd = mkostemp(out->temporary, O_CLOEXEC);
		if (fd < 0)
			out->temporary[0] = '\0';
		else if (exists)
			fchmod(fd, target.st_mode & 0777); /* keep the file's mode */
		else
			fchmod(fd, 0644); /* as fopen would, before the umask */
	}
	out->file = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!out->file) {
		int saved = errno;
		gmemvm_failf(error, -saved, fd >= 0 ? "fdopen of the report" : step,
			     "cannot write report %s: %s", path, strerror(saved));
		if (fd >= 0)
			close(fd);
		report_file_abandon(out);
		return -saved;
	}
	/* Its buffer now: stdio would allocate it at the first write, later,
	 * under the sandbox (see main.c for stdout). */
	static char buffer[1 << 16];
	setvbuf(out->file, buffer, _IOFBF, sizeof(buffer));
	return 0;
}

void report_file_abandon(struct report_file *out)
{
	if (out->file) {
		fclose(out->file);
		out->file = NULL;
	}
	if (out->temporary[0])
		unlink(out->temporary);
	out->temporary[0] = '\0';
}

int report_file_commit(struct report_file *out, const struct run_report *report,
		       const struct host_probe *probe, struct gmemvm_error *error)
{
	errno = 0;
	int status = report_write_json(out->file, report, probe);
	const char *step = "writing the report";
	out->file = NULL; /* closed by report_write_json */
	if (status == 0 && out->temporary[0] && rename(out->temporary, out->path) < 0) {
		status = errno ? -errno : -EIO;
		step = "rename of the report into place";
	}
	if (status < 0) {
		gmemvm_failf(error, status, step, "cannot write report %s: %s", out->path,
			     strerror(-status));
		report_file_abandon(out);
		return status;
	}
	out->temporary[0] = '\0';
	return 0;
}
