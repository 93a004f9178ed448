/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * A growing string for documents written piece by piece (tables, JSON laid
 * out by hand, scripts). Start from `closer_strbuf b = {};`. A failed
 * allocation (or a printf error) is sticky: every later append does nothing
 * and closer_strbuf_steal() returns NULL, so the writer checks once at the
 * end. The text is always NUL-terminated once anything was appended.
 */
typedef struct closer_strbuf {
        char *s;
        size_t len, cap;
        bool oom;
} closer_strbuf;

/* Append the NUL-terminated str, or n bytes of it. */
void closer_strbuf_append(closer_strbuf *b, const char *str);
void closer_strbuf_append_n(closer_strbuf *b, const char *str, size_t n);
/* Append printf-formatted text. */
__attribute__((format(printf, 2, 3))) void closer_strbuf_printf(closer_strbuf *b, const char *fmt, ...);
/* The text (the caller frees it), "" when nothing was appended, or NULL after
 * a failure. The buffer is left empty either way. */
char *closer_strbuf_steal(closer_strbuf *b);
/* Free the text and empty the buffer. */
void closer_strbuf_done(closer_strbuf *b);
