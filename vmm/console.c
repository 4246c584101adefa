// SPDX-License-Identifier: MIT
#include "console.h"

#include <string.h>

#include "arch/arch.h"

#include "gmemvm_abi.h"

#define UART_THR		   0
#define UART_FCR		   2 /* written */
#define UART_IIR		   2 /* read */
#define UART_LSR		   5
#define UART_FCR_FIFO_ENABLE	   0x01
#define UART_IIR_NO_INTERRUPT	   0x01
#define UART_IIR_FIFO_ON	   0xc0
#define UART_LSR_THR_EMPTY	   0x20
#define UART_LSR_TRANSMITTER_EMPTY 0x40

void console_init(struct console *console, FILE *out)
{
	memset(console, 0, sizeof(*console));
	pthread_mutex_init(&console->lock, NULL);
	console->out = out;
}

static void emit_line(struct console *console)
{
	console->line[console->line_length] = '\0';
	if (console->out)
		fprintf(console->out, "guest| %s\n", console->line);
	size_t room = CONSOLE_TRANSCRIPT_MAX - 1 - console->transcript_length;
	size_t length = console->line_length + 1 <= room ? console->line_length : 0;
	if (length) {
		memcpy(console->transcript + console->transcript_length, console->line, length);
		console->transcript_length += length;
		console->transcript[console->transcript_length++] = '\n';
		console->transcript[console->transcript_length] = '\0';
	}
	console->line_length = 0;
}

static void console_write_byte(struct console *console, uint8_t byte)
{
	pthread_mutex_lock(&console->lock);
	console->bytes++;
	if (byte == '\n') {
		emit_line(console);
	} else if (byte != '\r') {
		/* Show control bytes and junk as '.', so a hostile guest cannot
		 * drive the user's terminal. */
		console->line[console->line_length++] =
			(byte >= 0x20 && byte < 0x7f) ? (char)byte : '.';
		if (console->line_length == CONSOLE_LINE_MAX - 1)
			emit_line(console);
	}
	pthread_mutex_unlock(&console->lock);
}

static void console_access(void *device, struct iotrap_access *access, struct iotrap_reply *reply)
{
	struct console *console = device;
	(void)reply;
	if (access->is_write) {
		if (access->offset == UART_THR)
			console_write_byte(console, access->data[0]);
		else if (access->offset == UART_FCR)
			atomic_store(&console->fifo_on, access->data[0] & UART_FCR_FIFO_ENABLE);
		return; /* the other registers configure a line we do not model */
	}
	uint8_t value = 0;
	if (access->offset == UART_LSR)
		value = UART_LSR_THR_EMPTY | UART_LSR_TRANSMITTER_EMPTY; /* bytes go at once */
	else if (access->offset == UART_IIR)
		value = UART_IIR_NO_INTERRUPT |
			(atomic_load(&console->fifo_on) ? UART_IIR_FIFO_ON : 0);
	iotrap_set_value(access, value);
}

/* Its device-tree node: "serial@3f8", the guest's stdout-path. */
static const struct iotrap_node console_node = {
	.name = "serial",
	.compatible = "ns16550a",
	.address = GMEMVM_DEVICE_SERIAL,
	.address_size = 8,
	.console = true,
};

int console_register(struct console *console, struct iotrap_registry *traps)
{
	int status = iotrap_register(traps, arch_device_space, console_node.address, 8,
				     console_node.name, console_access, console);
	if (status < 0)
		return status;
	return iotrap_add_node(traps, &console_node);
}

void console_flush(struct console *console)
{
	pthread_mutex_lock(&console->lock);
	if (console->line_length)
		emit_line(console);
	if (console->out)
		fflush(console->out);
	pthread_mutex_unlock(&console->lock);
}

void console_destroy(struct console *console)
{
	pthread_mutex_destroy(&console->lock);
}
