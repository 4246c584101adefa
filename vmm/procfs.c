// SPDX-License-Identifier: MIT
#include "procfs.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool procfs_parse_maps_line(const char *line, struct procfs_mapping *mapping)
{
	char perms[8];
	unsigned long long start, end, offset, inode;
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &offset,
		   &mapping->dev_major, &mapping->dev_minor, &inode) != 7)
		return false;
	mapping->start = start;
	mapping->end = end;
	mapping->offset = offset;
	mapping->inode = inode;
	mapping->accessible = strncmp(perms, "---", 3) != 0;
	return true;
}

long procfs_peak_resident_kib(int status_fd)
{
	char text[4096];
	if (status_fd < 0 || lseek(status_fd, 0, SEEK_SET) != 0)
		return -1;
	ssize_t length = read(status_fd, text, sizeof(text) - 1);
	if (length <= 0)
		return -1;
	text[length] = '\0';
	const char *line = strstr(text, "\nVmHWM:");
	long kib;
	return line && sscanf(line + 1, "VmHWM: %ld kB", &kib) == 1 ? kib : -1;
}
