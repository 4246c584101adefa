/* SPDX-License-Identifier: MIT */
/*
 * Output on the VMM's 16550-style UART at GMEMVM_DEVICE_SERIAL. Each call holds
 * a lock for its whole output, so a line printed in one call never
 * interleaves with another vCPU's. Every byte costs two VM exits (LSR read,
 * THR write): keep messages short.
 */
#ifndef GUEST_SERIAL_H
#define GUEST_SERIAL_H

#include <stdint.h>

void serial_puts(const char *s);

/*
 * For the hostile step: a write of width 1, 2 or 4 bytes to a serial register,
 * under the serial lock. A write to THR is console noise (the caller sends
 * printable low bytes); the next serial_puts/serial_printf first ends the
 * noise line, so real lines are never mixed with noise.
 */
void serial_noise(uint64_t address, uint32_t value, unsigned int width);

/*
 * Tiny printf: %s %c %d %i %u %x %X %p %%, length modifiers l, ll, z, and an
 * optional '0' flag and field width (e.g. %016llx). No floating point.
 */
__attribute__((format(printf, 1, 2))) void serial_printf(const char *fmt, ...);

#endif
