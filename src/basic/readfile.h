/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* Read a whole regular file (at most max_bytes) into a NUL-terminated malloc'd
 * buffer. "-" means stdin. Returns 0 and *ret, or -errno (-EFBIG when larger
 * than max_bytes, -EISDIR for a directory). */
int closer_read_file(const char *path, size_t max_bytes, char **ret);

/* Read a whole regular file (at most max_bytes) into a NUL-terminated
 * malloc'd buffer, and its length (the file may hold NUL bytes). Anything
 * but a regular file is refused without waiting: -EISDIR, or -EBADFD for a
 * FIFO, socket or device (opening a FIFO for reading blocks until a writer
 * comes). */
int closer_read_regular_file(const char *path, size_t max_bytes, char **ret, size_t *ret_len);
