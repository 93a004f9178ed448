/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Strict decimal parsing (the systemd parse-util way, stricter than strtol):
 * ASCII digits only, no sign, no white space, nothing after the number, no
 * locale. Used on everything closer reads from the kernel, from xenstore
 * (guest-written: never trusted) and from its own files.
 *
 * Errors: -EINVAL when the text is not a decimal number (empty, any other
 * byte, a sign, a refused leading zero); -ERANGE when it is one but lies
 * outside [min, max]. Every byte is checked before the value, so a long run
 * of digits followed by junk is "not a number", not "too big". *ret is set
 * only on success.
 */

/* Refuse a leading zero ("01"; "0" itself stays allowed): the kernel and xl
 * never print one, so "01" is not domain 1. */
#define CLOSER_PARSE_NO_LEADING_ZERO (1u << 0)

/* Exactly s[0..len) as an unsigned number <= max. */
int closer_parse_uint_n(const char *s, size_t len, uint64_t max, unsigned flags, uint64_t *ret);
/* The whole NUL-terminated string s. */
int closer_parse_uint(const char *s, uint64_t max, unsigned flags, uint64_t *ret);
/* The run of digits at the start of s, up to the first non-digit, which
 * *ret_end points at (what may follow is the caller's business). -EINVAL
 * when s does not start with a digit. */
int closer_parse_uint_prefix(const char *s, uint64_t max, unsigned flags, uint64_t *ret, const char **ret_end);

/* A signed number: an optional '-' then digits ('+' is refused), the whole
 * string, in [min, max]. "-0" is 0. */
int closer_parse_int(const char *s, int64_t min, int64_t max, unsigned flags, int64_t *ret);
