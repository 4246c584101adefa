// SPDX-License-Identifier: MIT
#include "installed.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool installed_path(const char *path, bool directory, char *buffer, size_t size)
{
	int written = -1;
	if (path[0] == '/') {
		written = snprintf(buffer, size, "%s", path);
	} else {
		char executable[4096];
		ssize_t length = readlink("/proc/self/exe", executable, sizeof(executable) - 1);
		char *slash = NULL;
		if (length > 0) {
			executable[length] = '\0';
			slash = strrchr(executable, '/');
		}
		if (slash) {
			*slash = '\0';
			written = snprintf(buffer, size, "%s/%s", executable, path);
		}
	}
	struct stat status;
	return written > 0 && (size_t)written < size && stat(buffer, &status) == 0 &&
	       (directory ? S_ISDIR(status.st_mode) : S_ISREG(status.st_mode));
}
