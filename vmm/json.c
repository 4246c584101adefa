// SPDX-License-Identifier: MIT
#include "json.h"

/* Length of the valid UTF-8 sequence at text (1 to 4), or 0 if it is not one. */
static int utf8_sequence(const unsigned char *text)
{
	unsigned char c = text[0];
	int length = c < 0x80		      ? 1
		     : c >= 0xc2 && c <= 0xdf ? 2
		     : c >= 0xe0 && c <= 0xef ? 3
		     : c >= 0xf0 && c <= 0xf4 ? 4
					      : 0;
	for (int i = 1; i < length; i++)
		if ((text[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((c == 0xe0 && text[1] < 0xa0) || (c == 0xed && text[1] >= 0xa0) ||
	    (c == 0xf0 && text[1] < 0x90) || (c == 0xf4 && text[1] >= 0x90))
		return 0;
	return length;
}

void json_print_string(FILE *out, const char *text)
{
	const unsigned char *c = (const unsigned char *)text;
	fputc('"', out);
	while (*c) {
		int length = utf8_sequence(c);
		if (*c == '"' || *c == '\\')
			fprintf(out, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(out, "\\u%04x", *c);
		else if (length == 0)
			fputs("\\ufffd", out); /* not UTF-8 (a path's raw bytes): JSON must be */
		else
			fwrite(c, 1, (size_t)length, out);
		c += length ? length : 1;
	}
	fputc('"', out);
}
