/* SPDX-License-Identifier: MIT */
/*
 * Output on the VMM's 16550-style UART at GMEMVM_PORT_SERIAL. Each call holds
 * a lock for its whole output, so a line printed in one call never
 * interleaves with another vCPU's. Every byte costs two VM exits (LSR read,
 * THR write): keep messages short.
 */
#ifndef GUEST_SERIAL_H
#define GUEST_SERIAL_H

void serial_puts(const char *s);

/*
 * Tiny printf: %s %c %d %i %u %x %X %p %%, length modifiers l, ll, z, and an
 * optional '0' flag and field width (e.g. %016llx). No floating point.
 */
__attribute__((format(printf, 1, 2))) void serial_printf(const char *fmt, ...);

#endif
