/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc-util.h"
#include "basic/strbuf.h"

/* Room for `more` bytes and a NUL after the text. */
static bool reserve(closer_strbuf *b, size_t more) {
        if (b->oom)
                return false;
        if (more > SIZE_MAX - 1 - b->len || !GREEDY_REALLOC_MIN(b->s, b->cap, b->len + more + 1, 4096)) {
                b->oom = true;
                return false;
        }
        return true;
}

void closer_strbuf_append_n(closer_strbuf *b, const char *str, size_t n) {
        if (!reserve(b, n))
                return;
        memcpy(b->s + b->len, str, n);
        b->len += n;
        b->s[b->len] = '\0';
}

void closer_strbuf_append(closer_strbuf *b, const char *str) {
        closer_strbuf_append_n(b, str, strlen(str));
}

void closer_strbuf_printf(closer_strbuf *b, const char *fmt, ...) {
        va_list ap;
        if (b->oom)
                return;
        for (;;) {
                size_t room = b->cap - b->len;
                va_start(ap, fmt);
                int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->oom = true;
                        return;
                }
                if ((size_t) n < room) {
                        b->len += (size_t) n;
                        return;
                }
                if (!reserve(b, (size_t) n))
                        return;
        }
}

char *closer_strbuf_steal(closer_strbuf *b) {
        char *s = b->oom ? NULL : b->s ? b->s : strdup("");
        if (b->oom)
                free(b->s);
        *b = (closer_strbuf) {};
        return s;
}

void closer_strbuf_done(closer_strbuf *b) {
        free(b->s);
        *b = (closer_strbuf) {};
}
