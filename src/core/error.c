/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "closer/error.h"
#include "closer/utf8.h"

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
                /* Nor bytes that are not UTF-8 (a raw 0xff from a file):
                 * a terminal or the journal would show garbage, and a JSON
                 * answer could not hold the message. A sequence cut by the
                 * buffer's end goes too. */
                size_t n = strlen(err->msg);
                for (size_t i = 0; i < n;) {
                        size_t k = closer_utf8_seq_len((const unsigned char *) err->msg + i, n - i);
                        if (k == 0) {
                                err->msg[i++] = '?';
                                continue;
                        }
                        i += k;
                }
        }
        return err_code;
}
