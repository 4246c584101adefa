/* SPDX-License-Identifier: MIT */
/* Just enough JSON output for the reports: escaped strings. */
#ifndef GMEMVM_JSON_H
#define GMEMVM_JSON_H

#include <stdio.h>

void json_print_string(FILE *out, const char *text);

#endif
