/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence at s, reading at most n bytes: 1..4, or
 * 0 if there is none (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). Names that come from guests or from /proc are bytes, not
 * necessarily UTF-8; every writer of JSON, CSV or Prometheus text checks
 * them with this one function.
 */
size_t closer_utf8_seq_len(const unsigned char *s, size_t n);
