// SPDX-License-Identifier: MIT
/*
 * Minimal C library for the freestanding guest: the string functions
 * libfdt.a needs and __stack_chk_fail (libfdt.a was built with the stack
 * protector). Plain byte loops: the guest only handles a small device tree,
 * and wider tricks would risk SSE, which this host's KVM cannot run.
 * The build passes -fno-tree-loop-distribute-patterns so that GCC does not
 * turn these loops back into calls to themselves.
 */
#include <limits.h>
#include <stdint.h>

#include "libc.h"
#include "hypercall.h"

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (; n; n--, p++) {
		if (*p == (unsigned char)c)
			return (void *)p;
	}
	return NULL;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++) {
		if (*x != *y)
			return *x - *y;
	}
	return 0;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d == s || n == 0)
		return dst;
	if (d < s || d >= s + n) {
		/* No overlap that a forward copy could clobber. */
		while (n--)
			*d++ = *s++;
	} else {
		/* dst overlaps the tail of src: copy backwards. */
		d += n;
		s += n;
		while (n--)
			*--d = *--s;
	}
	return dst;
}

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

char *strchr(const char *s, int c)
{
	/* The terminating NUL counts as part of the string (strchr(s, 0) finds it). */
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (*s == '\0')
			return NULL;
	}
}

int strcmp(const char *a, const char *b)
{
	for (; *a && *a == *b; a++, b++)
		;
	return (unsigned char)*a - (unsigned char)*b;
}

size_t strlen(const char *s)
{
	const char *p = s;

	while (*p)
		p++;
	return p - s;
}

size_t strnlen(const char *s, size_t maxlen)
{
	size_t n = 0;

	while (n < maxlen && s[n])
		n++;
	return n;
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;

	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (*s == '\0')
			return (char *)last;
	}
}

static int digit_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A' + 10;
	return INT_MAX;
}

static int is_space(char ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/*
 * ISO C strtoul without errno (the guest has none): leading white space, an
 * optional sign (a '-' negates the result in unsigned arithmetic), and for
 * base 0 or 16 an optional "0x" prefix; base 0 picks 16, 8 or 10 from the
 * prefix. On overflow the result is ULONG_MAX. If no digits are found the
 * result is 0 and *endptr = nptr.
 */
unsigned long strtoul(const char *nptr, char **endptr, int base)
{
	const char *s = nptr;
	unsigned long val = 0;
	int neg = 0, any = 0, overflow = 0;
	int d;

	if (base < 0 || base == 1 || base > 36)
		goto out;

	while (is_space(*s))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';

	/* "0x" is a prefix only if a hex digit follows; "0xg" parses as 0 with end at 'x'. */
	if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
	    digit_value(s[2]) < 16) {
		s += 2;
		base = 16;
	} else if (base == 0) {
		base = s[0] == '0' ? 8 : 10;
	}

	for (; (d = digit_value(*s)) < base; s++) {
		any = 1;
		if (val > (ULONG_MAX - d) / base)
			overflow = 1;
		else
			val = val * base + d;
	}
	if (overflow)
		val = ULONG_MAX;
	else if (neg)
		val = -val;
out:
	if (endptr)
		*endptr = (char *)(any ? s : nptr);
	return any ? val : 0;
}

/* Called by stack-protected code (libfdt.a) when it finds its canary overwritten. */
void __stack_chk_fail(void)
{
	hypercall_assert_fail(__FILE__, __LINE__, "stack protector: canary overwritten");
}
