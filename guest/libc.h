/* SPDX-License-Identifier: MIT */
/*
 * The few C library functions the guest provides itself: exactly what
 * Debian's libfdt.a links against, strcmp for the guest itself, and the
 * stack protector's failure hook.
 * The prototypes match the standard ones, so they agree with the glibc
 * headers libfdt.h pulls in for declarations (no glibc code is linked).
 */
#ifndef GUEST_LIBC_H
#define GUEST_LIBC_H

#include <stddef.h>

void *memchr(const void *s, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *s, int c, size_t n);
char *strchr(const char *s, int c);
int strcmp(const char *a, const char *b);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t maxlen);
char *strrchr(const char *s, int c);
unsigned long strtoul(const char *nptr, char **endptr, int base);
__attribute__((noreturn)) void __stack_chk_fail(void);

#endif
