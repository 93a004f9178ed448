/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Scope-bound cleanup of fds, FILEs and DIRs (macro.h has the memory ones). */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "basic/macro.h"

static inline void closer_closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;      /* a failed close must not clobber the caller's errno */
                (void) close(*fd);
                errno = saved;
        }
}
static inline void closer_fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
static inline void closer_closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

#define _cleanup_close_ _cleanup_(closer_closep)
#define _cleanup_fclose_ _cleanup_(closer_fclosep)
#define _cleanup_closedir_ _cleanup_(closer_closedirp)
