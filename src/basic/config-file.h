/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "closer/config.h"
#include "closer/error.h"

/*
 * closer.conf from a file, the same way for closerd (start and SIGHUP) and
 * `closerctl plan --config`: a regular file of at most
 * CLOSER_CONFIG_MAX_BYTES, parsed whole (a NUL byte is an error, not the
 * end). A missing file is the built-in defaults unless required. Returns 0
 * with *ret, or -errno with err = "PATH: reason" / "PATH:LINE: ...".
 */
int closer_config_load(const char *path, bool required, closer_config *ret, closer_error *err);
