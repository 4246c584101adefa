// SPDX-License-Identifier: MIT
#include "host_access.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The copy in progress on this thread, if any: where its fault returns.
 * volatile: the compiler must store it before the copy and may not drop
 * that store for the one after (only the signal handler reads it). */
static __thread sigjmp_buf *volatile copy_in_progress;

static void fault_handler(int signal_number, siginfo_t *info, void *context)
{
	(void)context;
	sigjmp_buf *copy = copy_in_progress;
	if (copy)
		siglongjmp(*copy, signal_number);
	/* Not a guarded copy: a bug of gmemvm's. Say so with the address, and
	 * end (abort: the sandbox allows no sigaction on a vCPU thread). */
	char line[96];
	const char *text = signal_number == SIGBUS
				   ? "gmemvm: SIGBUS outside a guarded host access, at 0x"
				   : "gmemvm: SIGSEGV outside a guarded host access, at 0x";
	size_t used = 0;
	while (text[used]) {
		line[used] = text[used];
		used++;
	}
	uintptr_t address = (uintptr_t)info->si_addr;
	for (int shift = (int)sizeof(address) * 8 - 4; shift >= 0; shift -= 4)
		line[used++] = "0123456789abcdef"[(address >> shift) & 0xf];
	line[used++] = '\n';
	ssize_t ignored = write(2, line, used);
	(void)ignored;
	abort();
}

int host_access_init(void)
{
	struct sigaction action = { .sa_sigaction = fault_handler, .sa_flags = SA_SIGINFO };
	sigemptyset(&action.sa_mask);
	static const int signals[] = { SIGSEGV, SIGBUS };
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		/* Asked, not remembered: another handler (a sanitizer's, a test
		 * framework's) may have taken the signal since. */
		struct sigaction current;
		if (sigaction(signals[i], NULL, &current) < 0)
			return -errno;
		if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == fault_handler)
			continue;
		if (sigaction(signals[i], &action, NULL) < 0)
			return -errno;
	}
	return 0;
}

int host_access_copy(void *dst, const void *src, size_t size)
{
	sigjmp_buf jump;
	int signal_number = sigsetjmp(jump, 1);
	if (signal_number == 0) {
		/* volatile: every byte is an access, none merged or moved out. */
		volatile unsigned char *to = dst;
		const volatile unsigned char *from = src;
		copy_in_progress = &jump;
		for (size_t i = 0; i < size; i++)
			to[i] = from[i];
	}
	copy_in_progress = NULL;
	return signal_number;
}
