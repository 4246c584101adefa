// SPDX-License-Identifier: MIT
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int gmemvm_fail(struct gmemvm_error *error, int code, const char *step)
{
	if (error) {
		error->code = code;
		error->step = step;
		error->refused = false;
	}
	return code;
}

int gmemvm_failf(struct gmemvm_error *error, int code, const char *step, const char *format, ...)
{
	if (!error)
		return code;
	gmemvm_fail(error, code, step);
	va_list args;
	va_start(args, format);
	vsnprintf(error->message, sizeof(error->message), format, args);
	va_end(args);
	return code;
}

int gmemvm_refuse(struct gmemvm_error *error, int code, const char *format, ...)
{
	if (!error)
		return code;
	error->code = code;
	error->step = NULL;
	error->refused = true;
	va_list args;
	va_start(args, format);
	vsnprintf(error->message, sizeof(error->message), format, args);
	va_end(args);
	return code;
}

void gmemvm_error_message(struct gmemvm_error *error, const char *format, ...)
{
	if (!error)
		return;
	va_list args;
	va_start(args, format);
	vsnprintf(error->message, sizeof(error->message), format, args);
	va_end(args);
}

const char *gmemvm_error_step(const struct gmemvm_error *error)
{
	return error && error->step ? error->step : "";
}
