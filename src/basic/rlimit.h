/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Raise this process's soft limit on open files to its hard limit: closerd
 * keeps a file open per dom0 thread between ticks (linux/proc-cache.c), and
 * systemd starts services with a soft limit of 1024 (hard 524288), for the
 * sake of programs still using select(). Returns the soft limit now, or
 * -errno (the limit is then unchanged). */
long closer_rlimit_nofile_raise(void);
