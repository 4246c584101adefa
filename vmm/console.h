/* SPDX-License-Identifier: MIT */
/*
 * The console: a transmit-only 16550 at GMEMVM_DEVICE_SERIAL. The guest polls
 * LSR and writes THR; whole lines go to the output, so lines printed by
 * different vCPUs never mix, and the run keeps a transcript for its report.
 */
#ifndef GMEMVM_CONSOLE_H
#define GMEMVM_CONSOLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "iotrap.h"

#define CONSOLE_LINE_MAX       256
#define CONSOLE_TRANSCRIPT_MAX 16384

struct console {
	pthread_mutex_t lock;
	FILE *out; /* NULL: keep the transcript only */
	char line[CONSOLE_LINE_MAX];
	size_t line_length;
	char transcript[CONSOLE_TRANSCRIPT_MAX];
	size_t transcript_length;
	uint64_t bytes;
	/* The 16550A's FIFOs, as the guest last set FCR: bytes are taken at
	 * once either way, but a driver sends 16 at a time only with them on. */
	atomic_bool fifo_on;
};

void console_init(struct console *console, FILE *out);
/* Its port and its node: 0, or iotrap_register's negative errno. */
int console_register(struct console *console, struct iotrap_registry *traps);
/* Emit a partial last line, if the guest left one. */
void console_flush(struct console *console);
void console_destroy(struct console *console);

#endif
