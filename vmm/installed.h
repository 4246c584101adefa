/* SPDX-License-Identifier: MIT */
/*
 * Where an installed gmemvm finds its files (the guest, the scenarios):
 * relative to its own executable, so an installed tree can be moved, or at
 * an absolute path when the install directories lie outside the prefix.
 */
#ifndef GMEMVM_INSTALLED_H
#define GMEMVM_INSTALLED_H

#include <stdbool.h>
#include <stddef.h>

/*
 * path: absolute, or relative to the directory of /proc/self/exe (as meson
 * passes GMEMVM_GUEST_FROM_BINDIR). Writes the full path into buffer; true
 * when it fits and names an existing file (or, with directory, a directory).
 */
bool installed_path(const char *path, bool directory, char *buffer, size_t size);

#endif
