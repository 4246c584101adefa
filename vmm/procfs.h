/* SPDX-License-Identifier: MIT */
/*
 * What gmemvm reads of its own /proc/self: the lines of maps (which file, at
 * which offset, each address range maps: gmem.c checks userspace_addr with
 * them, memmap.c every view) and VmHWM of status (the peak resident memory
 * the report gives, and the benchmark floor beside it). Only libc: the floor
 * (bench/floor.c) compiles this file and nothing else of gmemvm.
 */
#ifndef GMEMVM_PROCFS_H
#define GMEMVM_PROCFS_H

#include <stdbool.h>
#include <stdint.h>

/* One line of /proc/self/maps. */
struct procfs_mapping {
	uint64_t start, end, offset, inode;
	unsigned int dev_major, dev_minor;
	bool accessible; /* permissions other than "---" (PROT_NONE) */
};

/* false for a line that is not a mapping (a truncated read, say). */
bool procfs_parse_maps_line(const char *line, struct procfs_mapping *mapping);

/*
 * VmHWM of /proc/self/status, in KiB, read from the start of status_fd (a
 * file opened before the sandbox, which forbids open later); -1 if unknown.
 * Not getrusage: its maxrss keeps the RSS of whatever process exec'd this
 * one (a vfork parent's, say).
 */
long procfs_peak_resident_kib(int status_fd);

#endif
