/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A human-readable reason for a failure, filled by parsers and the policy so
 * that the caller can print one line ("FILE: $.domains[2].vcpus: expected
 * ...") and exit 2. Functions still return -errno; this only carries the text.
 */
typedef struct closer_error {
        char msg[512];
} closer_error;

/* printf-style setter; accepts a NULL err (then does nothing). Control
 * characters in the result become '?', so the message is one line whatever
 * input it quotes. Returns -err_code
 * unchanged so callers can write `return closer_error_set(err, -EINVAL, ...)`. */
int closer_error_set(closer_error *err, int err_code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
