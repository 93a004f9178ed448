/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>

#include "closer/error.h"

int closer_error_set(closer_error *err, int err_code, const char *fmt, ...) {
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
                /* One line, always: messages quote input (jansson's "near
                 * '...'", a guest's name) and input may hold newlines or
                 * terminal escapes. */
                for (char *c = err->msg; *c; c++)
                        if ((unsigned char) *c < 0x20 || *c == 0x7f)
                                *c = '?';
        }
        return err_code;
}
