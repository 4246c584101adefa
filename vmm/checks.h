/* SPDX-License-Identifier: MIT */
/*
 * The scenario's data checks ([expect] checkN), made by the host through the
 * VMM's own view of guest RAM after the run: the words a step wrote, zeroes,
 * the kernel's SIGBUS on private pages, and each page's state. Judging the
 * run lives here and in report.c; vm.c only builds and runs the machine.
 */
#ifndef GMEMVM_CHECKS_H
#define GMEMVM_CHECKS_H

#include "config.h"
#include "memmap.h"
#include "report.h"

/* Fill report->checks[i] for each of the scenario's checks. Call only once
 * no vCPU runs (a SIGBUS check installs a process-wide handler). */
void checks_run(struct memmap *memory, const struct scenario *scenario, struct run_report *report);

#endif
