// SPDX-License-Identifier: MIT
/*
 * gmemvm: a small KVM VMM that shows how guest_memfd serves four kinds of
 * VM (docs/design.md). This file is only the command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "kvm.h"
#include "probe.h"
#include "sandbox.h"
#include "trace.h"
#include "vm.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gmemvm probe [--json]\n"
		"       gmemvm run FILE.ini [--set section.key=value]... [--trace] [--quiet]\n"
		"                           [--report FILE.json] [--no-sandbox] [--trace-limit "
		"LINES]\n"
		"       gmemvm sandbox\n"
		"\n"
		"probe    print what this host's KVM offers for guest_memfd, native or absent\n"
		"run      run a scenario; exit 0 only if it ended as the file's [expect] says\n"
		"sandbox  list the system calls each thread may make once the guest runs\n"
		"exit status: 0 matched, 1 mismatch, 2 bad usage/config/guest, 3 host or KVM "
		"failure\n");
}

static int command_probe(int argc, char **argv)
{
	bool json = argc > 1 && strcmp(argv[1], "--json") == 0;
	if (argc > (json ? 2 : 1)) {
		usage(stderr);
		return GMEMVM_STATUS_BAD_INPUT;
	}
	char err[256];
	int kvm_fd = kvm_open(err, sizeof(err));
	if (kvm_fd < 0) {
		fprintf(stderr, "gmemvm: %s\n", err);
		return GMEMVM_STATUS_HOST;
	}
	struct host_probe probe;
	probe_host(kvm_fd, &probe);
	close(kvm_fd);
	if (json) {
		probe_print_json(stdout, &probe);
		putchar('\n');
	} else {
		probe_print_table(stdout, &probe);
	}
	return GMEMVM_STATUS_MATCHED;
}

static int command_run(int argc, char **argv, const struct timespec *start)
{
	static const struct option options[] = {
		{ "set", required_argument, NULL, 's' },
		{ "trace", no_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "report", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-sandbox", no_argument, NULL, 'n' },
		{ "trace-limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *overrides[CONFIG_MAX_OVERRIDES];
	int nr_overrides = 0;
	struct run_options run = { .process_start = *start,
				   .sandbox = true,
				   .trace_limit = TRACE_DEFAULT_LIMIT };
	int option;
	optind = 1;
	while ((option = getopt_long(argc, argv, "s:tqr:h", options, NULL)) != -1) {
		switch (option) {
		case 's':
			if (nr_overrides == CONFIG_MAX_OVERRIDES) {
				fprintf(stderr, "gmemvm: at most %d --set options\n",
					CONFIG_MAX_OVERRIDES);
				return GMEMVM_STATUS_BAD_INPUT;
			}
			overrides[nr_overrides++] = optarg;
			break;
		case 't':
			run.trace = true;
			break;
		case 'q':
			run.quiet = true;
			break;
		case 'r':
			run.report_path = optarg;
			break;
		case 'n':
			run.sandbox = false;
			break;
		case 'l': {
			/* Refused before anything is allocated (issue 4's limits). */
			uint64_t lines;
			if (config_parse_size(optarg, &lines) < 0 || lines == 0 ||
			    lines > TRACE_MAX_LIMIT) {
				fprintf(stderr,
					"gmemvm: --trace-limit %s: give a number of lines from 1 "
					"to %llu\n",
					optarg, TRACE_MAX_LIMIT);
				return GMEMVM_STATUS_BAD_INPUT;
			}
			run.trace_limit = lines;
			break;
		}
		case 'h':
			usage(stdout);
			return GMEMVM_STATUS_MATCHED;
		default:
			usage(stderr);
			return GMEMVM_STATUS_BAD_INPUT;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return GMEMVM_STATUS_BAD_INPUT;
	}

	static struct scenario scenario;
	char err[CONFIG_ERROR_SIZE];
	if (config_load(argv[optind], overrides, nr_overrides, &scenario, err, sizeof(err)) < 0) {
		fprintf(stderr, "gmemvm: %s\n", err);
		return GMEMVM_STATUS_BAD_INPUT;
	}
	if (run.sandbox)
		sandbox_prepare();
	else
		fprintf(stderr, "gmemvm: --no-sandbox: running without seccomp filters\n");
	return vm_run(&scenario, &run);
}

int main(int argc, char **argv)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Give stdout its buffer now: stdio would otherwise allocate it (with
	 * fstat and a tty ioctl) at the first write, which may come from a
	 * sandboxed vCPU thread. */
	static char stdout_buffer[1 << 14];
	setvbuf(stdout, stdout_buffer, _IOLBF, sizeof(stdout_buffer));
	if (argc < 2) {
		usage(stderr);
		return GMEMVM_STATUS_BAD_INPUT;
	}
	if (strcmp(argv[1], "probe") == 0)
		return command_probe(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return command_run(argc - 1, argv + 1, &start);
	if (strcmp(argv[1], "sandbox") == 0 && argc == 2) {
		sandbox_print_allowed(stdout);
		return GMEMVM_STATUS_MATCHED;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return GMEMVM_STATUS_MATCHED;
	}
	fprintf(stderr, "gmemvm: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return GMEMVM_STATUS_BAD_INPUT;
}
