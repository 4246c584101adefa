// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "gmemvm_abi.h"
#include "io.h"
#include "serial.h"

#define UART_THR	      0	   /* transmit holding register */
#define UART_FCR	      2	   /* FIFO control (written) */
#define UART_IIR	      2	   /* interrupt identification (read) */
#define UART_LSR	      5	   /* line status register */
#define UART_LSR_THRE	      0x20 /* THR empty; with the FIFO on, the whole FIFO is */
#define UART_FCR_FIFO_ON      0x07 /* enable the FIFOs and clear both */
#define UART_IIR_FIFO_ON      0xc0 /* the FIFOs are enabled: a 16550A */
#define UART_16550A_FIFO_SIZE 16

#define NOISE_LINE_MAX 64 /* noise bytes before serial_noise() ends the line itself */

static struct spinlock serial_lock = SPINLOCK_INIT;
/* Noise bytes on the current console line (serial_noise); under serial_lock. */
static unsigned int noise_open;
/* The transmit FIFO's size (0: not set up yet), and how many more bytes it
 * takes before the line status must be read again; under serial_lock. */
static unsigned int fifo_size, fifo_room;

/*
 * As a 16550A driver sends: once the line status says the transmit FIFO is
 * empty, it takes a FIFO's worth of bytes. Each register access is an exit,
 * so this is 17 exits for 16 bytes instead of 32 (docs/performance.md).
 */
static void serial_putc(char c)
{
	if (!fifo_size) {
		device_write(GMEMVM_DEVICE_SERIAL + UART_FCR, UART_FCR_FIFO_ON, 1);
		bool on = (device_read(GMEMVM_DEVICE_SERIAL + UART_IIR, 1) & UART_IIR_FIFO_ON) ==
			  UART_IIR_FIFO_ON;
		fifo_size = on ? UART_16550A_FIFO_SIZE : 1;
		fifo_room = 0;
	}
	if (!fifo_room) {
		while (!(device_read(GMEMVM_DEVICE_SERIAL + UART_LSR, 1) & UART_LSR_THRE))
			cpu_relax();
		fifo_room = fifo_size;
	}
	device_write(GMEMVM_DEVICE_SERIAL + UART_THR, (uint8_t)c, 1);
	fifo_room--;
}

static void put_str(const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		serial_putc(*s++);
}

/* Under serial_lock: ends an unfinished line of noise so a real line starts whole. */
static void end_noise(void)
{
	if (noise_open) {
		serial_putc('\n');
		noise_open = 0;
	}
}

void serial_noise(uint64_t address, uint32_t value, unsigned int width)
{
	spin_lock(&serial_lock);
	device_write(address, value, width);
	/* Noise may have reconfigured the UART or filled its FIFO: ask again. */
	if (address >= GMEMVM_DEVICE_SERIAL && address < GMEMVM_DEVICE_SERIAL + 8)
		fifo_size = 0;
	if (address == GMEMVM_DEVICE_SERIAL + UART_THR && ++noise_open >= NOISE_LINE_MAX)
		end_noise();
	spin_unlock(&serial_lock);
}

void serial_puts(const char *s)
{
	spin_lock(&serial_lock);
	end_noise();
	put_str(s);
	spin_unlock(&serial_lock);
}

/* Prints val in base 10 or 16, padded to width with pad ('0' or ' '). */
static void put_num(unsigned long long val, unsigned int base, int upper, int neg,
		    unsigned int width, char pad)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24]; /* 2^64 has 20 decimal digits, plus sign */
	unsigned int n = 0;

	do {
		buf[n++] = digits[val % base];
		val /= base;
	} while (val);
	if (neg) {
		/* The sign goes before zero padding and after space padding. */
		if (pad == '0') {
			serial_putc('-');
			if (width)
				width--;
		} else {
			buf[n++] = '-';
		}
	}
	for (; width > n; width--)
		serial_putc(pad);
	while (n)
		serial_putc(buf[--n]);
}

void serial_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	spin_lock(&serial_lock);
	end_noise();
	for (; *fmt; fmt++) {
		unsigned long long uval;
		long long sval;
		unsigned int width = 0;
		char pad = ' ';
		int lng = 0;

		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned int)(*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}

		switch (*fmt) {
		case 'd':
		case 'i':
			sval = lng ? va_arg(ap, long long) : va_arg(ap, int);
			/* Negate in unsigned arithmetic: -LLONG_MIN overflows. */
			uval = sval < 0 ? -(unsigned long long)sval : (unsigned long long)sval;
			put_num(uval, 10, 0, sval < 0, width, pad);
			break;
		case 'u':
		case 'x':
		case 'X':
			/* long and long long are both 64 bits on x86-64. */
			uval = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
			put_num(uval, *fmt == 'u' ? 10 : 16, *fmt == 'X', 0, width, pad);
			break;
		case 'p':
			put_str("0x");
			put_num((uintptr_t)va_arg(ap, void *), 16, 0, 0, width, pad);
			break;
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case 's':
			put_str(va_arg(ap, const char *));
			break;
		case '%':
			serial_putc('%');
			break;
		case '\0':
			/* A lone '%' at the end: stop rather than read past the string. */
			fmt--;
			break;
		default:
			/* Unknown conversion: show it as written, it is a bug in the caller. */
			serial_putc('%');
			serial_putc(*fmt);
			break;
		}
	}
	spin_unlock(&serial_lock);
	va_end(ap);
}
