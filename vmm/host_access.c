// SPDX-License-Identifier: MIT
#include "host_access.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The copy in progress on this thread, if any: where its fault returns. */
static __thread sigjmp_buf *copy_in_progress;

static void fault_handler(int signal_number)
{
	sigjmp_buf *copy = copy_in_progress;
	if (copy)
		siglongjmp(*copy, signal_number);
	/* Not a guarded copy: a bug of gmemvm's. Say so, and end as the signal
	 * would have ended it (abort: the sandbox allows no sigaction here). */
	static const char message[] = "gmemvm: SIGSEGV or SIGBUS outside a guarded host access\n";
	ssize_t ignored = write(2, message, sizeof(message) - 1);
	(void)ignored;
	abort();
}

int host_access_init(void)
{
	static int installed;
	if (installed)
		return 0;
	struct sigaction action = { .sa_handler = fault_handler };
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGSEGV, &action, NULL) < 0 || sigaction(SIGBUS, &action, NULL) < 0)
		return -errno;
	installed = 1;
	return 0;
}

int host_access_copy(void *dst, const void *src, size_t size)
{
	sigjmp_buf jump;
	/* volatile: the pointers outlive the jump back. */
	volatile unsigned char *to = dst;
	const volatile unsigned char *from = src;
	int signal_number = sigsetjmp(jump, 1);
	if (signal_number == 0) {
		copy_in_progress = &jump;
		for (size_t i = 0; i < size; i++)
			to[i] = from[i];
	}
	copy_in_progress = NULL;
	return signal_number;
}
