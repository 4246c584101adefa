// SPDX-License-Identifier: MIT
/*
 * gmemvm: a small KVM VMM that shows how guest_memfd serves four kinds of
 * VM (docs/design.md). This file is only the command line: one function per
 * command, and the usage of each (doc/gmemvm.1 says the same at length).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "installed.h"
#include "kvm.h"
#include "probe.h"
#include "sandbox.h"
#include "trace.h"
#include "vm.h"

/* From vmm/meson.build: the project's version, and where an installed gmemvm
 * finds its scenarios: relative to the executable's directory (so an
 * installed tree can move) and at the configured prefix. */
#ifndef GMEMVM_VERSION
#define GMEMVM_VERSION "unknown"
#endif
#ifndef GMEMVM_CONFIGS_FROM_BINDIR
#define GMEMVM_CONFIGS_FROM_BINDIR "../share/gmemvm/configs"
#endif
#ifndef GMEMVM_CONFIGS_DIR
#define GMEMVM_CONFIGS_DIR "/usr/local/share/gmemvm/configs"
#endif

/* The numbers that run's usage text spells out. */
_Static_assert(CONFIG_MAX_OVERRIDES == 32, "update run's usage: at most 32 --set");
_Static_assert(TRACE_DEFAULT_LIMIT == 1000000ULL && TRACE_MAX_LIMIT == 100000000ULL,
	       "update run's usage: --trace-limit");

/* getopt_long values of the options that have no short form. */
enum long_only_option {
	OPTION_JSON = 256,
	OPTION_NO_SANDBOX,
	OPTION_TRACE_LIMIT,
	OPTION_TIMELINE,
	OPTION_REQUIRE,
	OPTION_MEMMAP,
};

struct command {
	const char *name;
	const char *synopsis;	 /* after "gmemvm "; continuation lines indented for it */
	const char *summary;	 /* one line of the overview */
	const char *description; /* what it does, in a few lines */
	const char *options;	 /* every option */
	int (*run)(int argc, char **argv, const struct timespec *start);
};

static int command_probe(int argc, char **argv, const struct timespec *start);
static int command_run(int argc, char **argv, const struct timespec *start);
static int command_sandbox(int argc, char **argv, const struct timespec *start);
static int command_check(int argc, char **argv, const struct timespec *start);
static int command_list(int argc, char **argv, const struct timespec *start);
static int command_help(int argc, char **argv, const struct timespec *start);

#define HELP_OPTION "  -h, --help           print this help and exit\n"

static const struct command commands[] = {
	{ "probe", "probe [--json] [--require LIST]",
	  "print what this host's KVM offers for guest_memfd, native or absent",
	  "Print what this host's KVM offers for guest_memfd, one feature a line, native\n"
	  "or absent, then what the probe measured in throwaway VMs (whether a guest\n"
	  "runs at all; the guest's physical-address bits; whether gmem-bound memslots\n"
	  "are served from guest_memfd or from userspace_addr), and the kind of host\n"
	  "this is. Needs /dev/kvm: without it, exit status 5.\n",
	  "      --json           print the same as one JSON object\n"
	  "      --require LIST   print nothing; exit 0 if the host has every feature of\n"
	  "                       LIST (comma-separated: guests-run, guest_memfd, mmap,\n"
	  "                       mmap-shared, private-memory, in-place), else 5 with one\n"
	  "                       line naming the first one missing and the fix\n" HELP_OPTION,
	  command_probe },
	{ "run",
	  "run FILE.ini [--set SECTION.KEY=VALUE]... [--trace[=LIST]] [--quiet]\n"
	  "                  [--report FILE.json] [--no-sandbox] [--trace-limit LINES]\n"
	  "                  [--timeline FILE.svg] [--memmap FILE.svg]",
	  "run a scenario; exit 0 only if it ended as the file's [expect] says",
	  "Run the scenario FILE.ini (docs/config.md) on KVM and compare what happened\n"
	  "with its [expect] section: exit 0 if the run ended as expected, 1 if something\n"
	  "differed. The guest is the file's [vm] guest, else $GMEMVM_GUEST, else the\n"
	  "guest installed with gmemvm, else the one built with it.\n",
	  "  -s, --set SECTION.KEY=VALUE\n"
	  "                       replace or add one key of the file before it is checked,\n"
	  "                       e.g. --set vm.vcpus=2 or --set steps.step9=pio; repeat\n"
	  "                       for more keys, at most 32\n"
	  "  -t, --trace[=LIST]   print what happens as it happens; LIST narrows it to\n"
	  "                       some of exits (every exit, console bytes too), faults,\n"
	  "                       conversions, hypercalls (each request and its answer),\n"
	  "                       e.g. --trace=faults,conversions; all without LIST\n"
	  "  -q, --quiet          print only the summary line\n"
	  "  -r, --report FILE.json\n"
	  "                       write the run's JSON report (outcome, exits, checks,\n"
	  "                       features, host table, console, times) to FILE.json\n"
	  "      --no-sandbox     run without the seccomp filters (says so; for valgrind)\n"
	  "      --trace-limit LINES\n"
	  "                       stop --trace after LINES lines, 1 to 100000000\n"
	  "                       (default 1000000)\n"
	  "      --timeline FILE.svg\n"
	  "                       draw the run as a picture (SVG): every touched page,\n"
	  "                       shared or private over time, and each memory fault,\n"
	  "                       conversion, refusal and discard, by vCPU\n"
	  "      --memmap FILE.svg\n"
	  "                       draw the memory map (SVG) before the first vCPU runs\n"
	  "                       and after the first conversion: each page's state,\n"
	  "                       each view's memslots and what backs them, the host's\n"
	  "                       mapping\n" HELP_OPTION,
	  command_run },
	{ "sandbox", "sandbox", "list the system calls each thread may make once the guest runs",
	  "Print the seccomp allow-list: the system calls (and ioctl requests) that each\n"
	  "kind of thread may make once set-up is over and the guest runs. Needs no KVM.\n",
	  HELP_OPTION, command_sandbox },
	{ "check", "check FILE.ini...", "check scenario files without running them (no KVM needed)",
	  "Load and check each FILE.ini exactly as run does, without KVM, and print\n"
	  "'FILE: ok (mode M, stage S, N steps)' or 'FILE: ' and the loader's error,\n"
	  "which names the section, the key and what is wrong. Exit 0 if every file\n"
	  "is ok, 2 if any is not.\n",
	  HELP_OPTION, command_check },
	{ "list", "list [DIR]", "list the scenarios of a directory: name, mode, stage, description",
	  "Load every *.ini of DIR, in the order of their file names, and print one line\n"
	  "each: name, mode, stage and description; a file that does not load is listed\n"
	  "as (invalid: what is wrong). DIR defaults to the installed scenarios\n"
	  "(share/gmemvm/configs of gmemvm's prefix) if they exist, else ./configs.\n"
	  "Exit 0, or 2 if DIR cannot be read.\n",
	  HELP_OPTION, command_list },
	{ "help", "help [COMMAND]", "print this overview, or the usage of one command",
	  "Print the overview of gmemvm's commands, or the usage of COMMAND with every\n"
	  "option (the same as gmemvm COMMAND --help).\n",
	  HELP_OPTION, command_help },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_overview(FILE *out)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "%s gmemvm %s\n", i == 0 ? "usage:" : "      ", commands[i].synopsis);
	fprintf(out,
		"       gmemvm --version\n"
		"\n"
		"gmemvm runs scenarios that show how KVM's guest_memfd serves four kinds of VM.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s%s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"gmemvm help COMMAND or gmemvm COMMAND --help describes every option of COMMAND.\n"
		"\n"
		"exit status:\n"
		"  0  matched: the command succeeded; for run, the scenario ended as it expects\n"
		"  1  mismatch: the scenario ran and something differed from its [expect]\n"
		"  2  bad usage, a bad scenario file or a malformed guest image\n"
		"  3  host or KVM failure: a kernel call failed during set-up\n"
		"  4  run: the summary, the --report or the --timeline file could not be written\n"
		"  5  unsupported: this host lacks a feature the scenario needs (no /dev/kvm,\n"
		"     no guest_memfd, a guest_memfd flag, a VM type); nothing ran, and one line\n"
		"     names what is missing and the fix\n"
		"  128+N  run: signal N (SIGINT, SIGTERM, SIGHUP, SIGQUIT) stopped the run, which\n"
		"     still printed its summary (outcome interrupted) and wrote its report\n"
		"\n"
		"environment:\n"
		"  GMEMVM_GUEST  the guest ELF to boot when a scenario names no [vm] guest;\n"
		"                without it gmemvm boots the guest installed with it\n"
		"                (libexec/gmemvm/gmemvm-guest.elf of its prefix), else the one\n"
		"                built with it\n");
}

static int print_usage(const struct command *command)
{
	printf("usage: gmemvm %s\n\n%s\noptions:\n%s", command->synopsis, command->description,
	       command->options);
	return GMEMVM_STATUS_MATCHED;
}

/* A usage error: one line naming what is wrong, then where the help is. */
__attribute__((format(printf, 2, 3))) static int usage_error(const char *command,
							     const char *format, ...)
{
	va_list args;
	fputs("gmemvm: ", stderr);
	if (command)
		fprintf(stderr, "%s: ", command);
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	if (command)
		fprintf(stderr, "\n(gmemvm %s --help)\n", command);
	else
		fputs("\n(gmemvm --help)\n", stderr);
	return GMEMVM_STATUS_BAD_INPUT;
}

/*
 * getopt_long returned '?' or ':' (opterr is 0, short options start with
 * ':'): name the option. optopt is 0 for an unknown long option, the option's
 * value for a known one given an argument it does not take or missing one,
 * the character for an unknown short option.
 */
static int option_error(const char *command, int option, char *const *argv,
			const char *short_options, const struct option *options)
{
	const char *given = argv[optind - 1];
	if (option == ':')
		return usage_error(command, "option '%s' needs an argument", given);
	if (optopt == 0) {
		size_t length = strcspn(given, "=");
		int matches = 0;
		for (const struct option *o = options; o->name; o++)
			if (length > 2 && strncmp(o->name, given + 2, length - 2) == 0)
				matches++;
		return usage_error(command, "%s option '%.*s'",
				   matches > 1 ? "ambiguous" : "unknown", (int)length, given);
	}
	if (optopt >= 256 || strchr(short_options + 1, optopt)) {
		for (const struct option *o = options; o->name; o++)
			if (o->val == optopt)
				return usage_error(command, "option '--%s' takes no argument",
						   o->name);
	}
	return usage_error(command, "unknown option '-%c'", optopt);
}

/* The options of a command whose only option is --help: -1 to go on, else
 * the status to return (its usage printed, or a usage error). */
static int parse_help_only(const char *command, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int option = getopt_long(argc, argv, ":h", options, NULL);
	if (option == -1)
		return -1;
	if (option == 'h')
		return print_usage(find_command(command));
	return option_error(command, option, argv, ":h", options);
}

/* The loader's error without the "FILE: " it starts with. */
static const char *load_error(const char *path, const char *message)
{
	size_t length = strlen(path);
	if (strncmp(message, path, length) == 0 && strncmp(message + length, ": ", 2) == 0)
		return message + length + 2;
	return message;
}

/* --require's words (docs/hosts.md), each the need it names. */
static const struct {
	const char *word;
	unsigned int need;
} require_words[] = {
	{ "guests-run", NEED_GUESTS_RUN },
	{ "guest_memfd", NEED_GUEST_MEMFD },
	{ "mmap", NEED_GMEM_MMAP },
	{ "mmap-shared", NEED_GMEM_MMAP_SHARED },
	{ "private-memory", NEED_PRIVATE_VM_TYPE },
	{ "in-place", NEED_SET_ATTRIBUTES2 },
};

/* LIST of --require as enum host_need bits; 0 with the bad word in bad. */
static unsigned int parse_require(const char *list, char *bad, size_t bad_size)
{
	unsigned int needs = 0;
	const char *word = list;
	while (*word) {
		size_t length = strcspn(word, ",");
		unsigned int need = 0;
		for (size_t i = 0; i < sizeof(require_words) / sizeof(require_words[0]); i++)
			if (strlen(require_words[i].word) == length &&
			    strncmp(require_words[i].word, word, length) == 0)
				need = require_words[i].need;
		if (!need) {
			snprintf(bad, bad_size, "%.*s", (int)length, word);
			return 0;
		}
		needs |= need;
		word += length + (word[length] == ',');
	}
	if (!needs)
		snprintf(bad, bad_size, "%s", list);
	return needs;
}

static int command_probe(int argc, char **argv, const struct timespec *start)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, OPTION_JSON },
		{ "require", required_argument, NULL, OPTION_REQUIRE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	unsigned int needs = 0;
	int option;
	(void)start;
	while ((option = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (option == OPTION_JSON) {
			json = true;
		} else if (option == OPTION_REQUIRE) {
			char bad[64];
			needs = parse_require(optarg, bad, sizeof(bad));
			if (!needs)
				return usage_error("probe", "--require: unknown feature '%s'", bad);
		} else if (option == 'h') {
			return print_usage(find_command("probe"));
		} else {
			return option_error("probe", option, argv, ":h", options);
		}
	}
	if (optind < argc)
		return usage_error("probe", "unexpected argument '%s'", argv[optind]);
	struct gmemvm_error error;
	int kvm_fd = kvm_open(&error);
	if (kvm_fd < 0) {
		fprintf(stderr, "gmemvm: %s\n", error.message);
		return error.code == -ENOENT ? GMEMVM_STATUS_UNSUPPORTED : GMEMVM_STATUS_HOST;
	}
	struct host_probe probe;
	/* every probe, measured now; --require asks only what it names */
	probe_host(kvm_fd, &probe, needs ? probe_for_needs(needs) : PROBE_ALL);
	close(kvm_fd);
	if (needs) {
		const char *lacks = probe_lacks(&probe, needs);
		if (lacks)
			fprintf(stderr, "gmemvm: %s\n", lacks);
		return lacks ? GMEMVM_STATUS_UNSUPPORTED : GMEMVM_STATUS_MATCHED;
	}
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
		{ "trace", optional_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "report", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-sandbox", no_argument, NULL, OPTION_NO_SANDBOX },
		{ "trace-limit", required_argument, NULL, OPTION_TRACE_LIMIT },
		{ "timeline", required_argument, NULL, OPTION_TIMELINE },
		{ "memmap", required_argument, NULL, OPTION_MEMMAP },
		{ NULL, 0, NULL, 0 },
	};
	const char *overrides[CONFIG_MAX_OVERRIDES];
	int nr_overrides = 0;
	struct run_options run = { .process_start = *start,
				   .sandbox = true,
				   .trace_limit = TRACE_DEFAULT_LIMIT };
	int option;
	while ((option = getopt_long(argc, argv, ":s:tqr:h", options, NULL)) != -1) {
		switch (option) {
		case 's':
			if (nr_overrides == CONFIG_MAX_OVERRIDES)
				return usage_error("run", "at most %d --set options",
						   CONFIG_MAX_OVERRIDES);
			overrides[nr_overrides++] = optarg;
			break;
		case 't': {
			struct gmemvm_error why;
			run.trace = true;
			if (optarg &&
			    trace_parse_categories(optarg, &run.trace_categories, &why) < 0)
				return usage_error("run", "%s", why.message);
			break;
		}
		case 'q':
			run.quiet = true;
			break;
		case 'r':
			run.report_path = optarg;
			break;
		case OPTION_NO_SANDBOX:
			run.sandbox = false;
			break;
		case OPTION_TIMELINE:
			run.timeline_path = optarg;
			break;
		case OPTION_MEMMAP:
			run.memmap_path = optarg;
			break;
		case OPTION_TRACE_LIMIT: {
			/* Refused before anything is allocated (docs/hardening.md). */
			uint64_t lines;
			if (config_parse_size(optarg, &lines) < 0 || lines == 0 ||
			    lines > TRACE_MAX_LIMIT)
				return usage_error(
					"run",
					"--trace-limit '%s': give a number of lines from "
					"1 to %llu",
					optarg, TRACE_MAX_LIMIT);
			run.trace_limit = lines;
			break;
		}
		case 'h':
			return print_usage(find_command("run"));
		default:
			return option_error("run", option, argv, ":s:tqr:h", options);
		}
	}
	if (optind == argc)
		return usage_error("run", "missing the scenario FILE.ini");
	if (run.timeline_path && run.memmap_path && strcmp(run.timeline_path, run.memmap_path) == 0)
		return usage_error("run", "--timeline and --memmap name the same file '%s'",
				   run.memmap_path);
	if (optind < argc - 1)
		return usage_error("run", "unexpected argument '%s' (one scenario a run)",
				   argv[optind + 1]);

	static struct scenario scenario;
	struct gmemvm_error error;
	if (config_load(argv[optind], overrides, nr_overrides, &scenario, &error) < 0) {
		fprintf(stderr, "gmemvm: %s\n", error.message);
		return GMEMVM_STATUS_BAD_INPUT;
	}
	if (run.sandbox)
		sandbox_prepare();
	else
		fprintf(stderr, "gmemvm: --no-sandbox: running without seccomp filters\n");
	return vm_run(&scenario, &run);
}

static int command_sandbox(int argc, char **argv, const struct timespec *start)
{
	(void)start;
	int parsed = parse_help_only("sandbox", argc, argv);
	if (parsed >= 0)
		return parsed;
	if (optind < argc)
		return usage_error("sandbox", "unexpected argument '%s'", argv[optind]);
	sandbox_print_allowed(stdout);
	return GMEMVM_STATUS_MATCHED;
}

static int command_check(int argc, char **argv, const struct timespec *start)
{
	(void)start;
	int parsed = parse_help_only("check", argc, argv);
	if (parsed >= 0)
		return parsed;
	if (optind == argc)
		return usage_error("check", "missing FILE.ini (one or more scenario files)");
	static struct scenario scenario;
	int status = GMEMVM_STATUS_MATCHED;
	for (int i = optind; i < argc; i++) {
		struct gmemvm_error error;
		if (config_load(argv[i], NULL, 0, &scenario, &error) < 0) {
			printf("%s: %s\n", argv[i], load_error(argv[i], error.message));
			status = GMEMVM_STATUS_BAD_INPUT;
			continue;
		}
		printf("%s: ok (mode %s, stage %d, %d step%s)\n", argv[i],
		       config_mode_name(scenario.mode), scenario.stage, scenario.nr_steps,
		       scenario.nr_steps == 1 ? "" : "s");
	}
	return status;
}

static bool is_directory(const char *path)
{
	struct stat status;
	return stat(path, &status) == 0 && S_ISDIR(status.st_mode);
}

/* list's DIR when none is given: the installed scenarios next to this
 * executable (an installed tree that moved), at the configured prefix, else
 * ./configs. */
static const char *default_scenario_dir(char *buffer, size_t size)
{
	if (installed_path(GMEMVM_CONFIGS_FROM_BINDIR, true, buffer, size))
		return buffer;
	return is_directory(GMEMVM_CONFIGS_DIR) ? GMEMVM_CONFIGS_DIR : "configs";
}

struct listed_scenario {
	char file[256];
	char name[64];
	const char *mode; /* NULL: the file did not load, text says why */
	int stage;
	char text[GMEMVM_ERROR_MESSAGE_SIZE]; /* the description, or what is wrong */
};

static int compare_listed(const void *a, const void *b)
{
	return strcmp(((const struct listed_scenario *)a)->file,
		      ((const struct listed_scenario *)b)->file);
}

/* Load DIR/entry->file into entry. */
static void list_load(const char *dir, struct listed_scenario *entry)
{
	static struct scenario scenario;
	char path[4096 + 256];
	struct gmemvm_error error;
	snprintf(path, sizeof(path), "%s/%s", dir, entry->file);
	if (config_load(path, NULL, 0, &scenario, &error) < 0) {
		snprintf(entry->name, sizeof(entry->name), "%.*s", (int)(strlen(entry->file) - 4),
			 entry->file);
		snprintf(entry->text, sizeof(entry->text), "%s", load_error(path, error.message));
		return;
	}
	snprintf(entry->name, sizeof(entry->name), "%s", scenario.name);
	entry->mode = config_mode_name(scenario.mode);
	entry->stage = scenario.stage;
	snprintf(entry->text, sizeof(entry->text), "%s", scenario.description);
}

static int command_list(int argc, char **argv, const struct timespec *start)
{
	(void)start;
	int parsed = parse_help_only("list", argc, argv);
	if (parsed >= 0)
		return parsed;
	if (argc - optind > 1)
		return usage_error("list", "unexpected argument '%s' (one DIR)", argv[optind + 1]);
	char installed[4096 + sizeof(GMEMVM_CONFIGS_FROM_BINDIR)];
	const char *dir =
		optind < argc ? argv[optind] : default_scenario_dir(installed, sizeof(installed));
	DIR *stream = opendir(dir);
	if (!stream) {
		fprintf(stderr, "gmemvm: list: cannot read %s: %s\n", dir, strerror(errno));
		return GMEMVM_STATUS_BAD_INPUT;
	}
	struct listed_scenario *entries = NULL;
	size_t count = 0, capacity = 0;
	const struct dirent *dirent;
	while ((dirent = readdir(stream))) {
		size_t length = strlen(dirent->d_name);
		if (dirent->d_name[0] == '.' || length <= 4 || length >= sizeof(entries->file) ||
		    strcmp(dirent->d_name + length - 4, ".ini") != 0)
			continue;
		if (count == capacity) {
			capacity = capacity ? 2 * capacity : 32;
			struct listed_scenario *grown =
				realloc(entries, capacity * sizeof(*entries));
			if (!grown) {
				fprintf(stderr, "gmemvm: list: out of memory\n");
				free(entries);
				closedir(stream);
				return GMEMVM_STATUS_HOST;
			}
			entries = grown;
		}
		memset(&entries[count], 0, sizeof(entries[count]));
		memcpy(entries[count].file, dirent->d_name, length + 1);
		count++;
	}
	closedir(stream);
	if (count)
		qsort(entries, count, sizeof(*entries), compare_listed);
	int width = 0;
	for (size_t i = 0; i < count; i++) {
		list_load(dir, &entries[i]);
		int length = (int)strlen(entries[i].name);
		width = length > width ? length : width;
	}
	for (size_t i = 0; i < count; i++) {
		const struct listed_scenario *entry = &entries[i];
		if (!entry->mode)
			printf("%-*s  (invalid: %s)\n", width, entry->name, entry->text);
		else
			printf("%-*s  %-12s  stage %d%s%s\n", width, entry->name, entry->mode,
			       entry->stage, entry->text[0] ? "  " : "", entry->text);
	}
	if (!count)
		fprintf(stderr, "gmemvm: list: no *.ini in %s\n", dir);
	free(entries);
	return GMEMVM_STATUS_MATCHED;
}

static int command_help(int argc, char **argv, const struct timespec *start)
{
	(void)start;
	int parsed = parse_help_only("help", argc, argv);
	if (parsed >= 0)
		return parsed;
	if (optind == argc) {
		print_overview(stdout);
		return GMEMVM_STATUS_MATCHED;
	}
	if (argc - optind > 1)
		return usage_error("help", "unexpected argument '%s' (one COMMAND)",
				   argv[optind + 1]);
	const struct command *command = find_command(argv[optind]);
	if (!command)
		return usage_error("help", "unknown command '%s'", argv[optind]);
	return print_usage(command);
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
	/* One malloc arena for every thread. A vCPU thread's own arena would be
	 * made at its first allocation, mid-run under its filter, with one or
	 * two munmaps as the address falls: calls of no conversion that the
	 * counts (bench/counts.py) saw as noise. Its allocations are made
	 * under the memory map's lock anyway. */
	mallopt(M_ARENA_MAX, 1);
	opterr = 0; /* option_error names a bad option, and where the help is */
	if (argc < 2)
		return usage_error(NULL,
				   "missing command (probe, run, sandbox, check, list or help)");
	const char *name = argv[1];
	bool help = strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0;
	if (help || strcmp(name, "--version") == 0) {
		if (argc > 2)
			return usage_error(NULL, "unexpected argument '%s' after %s", argv[2],
					   name);
		if (help)
			print_overview(stdout);
		else
			printf("gmemvm %s\n", GMEMVM_VERSION);
		return GMEMVM_STATUS_MATCHED;
	}
	const struct command *command = find_command(name);
	if (command)
		return command->run(argc - 1, argv + 1, &start);
	return usage_error(NULL, "unknown %s '%s'", name[0] == '-' ? "option" : "command", name);
}
