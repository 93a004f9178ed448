/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * One root for all host I/O (the hwloc way): the root directory is opened
 * once; every read and write of /proc, /sys and the cgroup tree is an
 * openat() on that fd with the path's leading slashes stripped, so tests can
 * point the real code at a fixture tree. `is_real` tells whether the root is
 * the machine's own "/", which syscalls that cannot go through a root
 * (sched_setaffinity) require.
 */
typedef struct closer_root {
        int fd;
        bool is_real;
        char path[256];                 /* as given, for messages */
} closer_root;

/* Open `path` (NULL or "" means "/"). Returns 0 and *ret (caller frees with
 * closer_root_free), or -errno. */
int closer_root_open(const char *path, closer_root **ret);
/* Closes and frees; accepts NULL; returns NULL. */
closer_root *closer_root_free(closer_root *r);

/* openat(root, path without leading '/', flags | O_CLOEXEC[, mode]).
 * Returns an fd or -errno. */
int closer_root_openat(const closer_root *r, const char *path, int flags, int mode);

/* Read a whole file relative to directory fd `dirfd` (a root fd or a
 * /proc/PID fd) into a malloc'd NUL-terminated buffer. Files larger than
 * max_len are refused with -EFBIG. Returns 0, *ret and *ret_len, or -errno. */
int closer_read_file_at(int dirfd, const char *path, size_t max_len, char **ret, size_t *ret_len);
/* The same on an open fd, read to its end (the fd stays open). */
int closer_read_fd(int fd, size_t max_len, char **ret, size_t *ret_len);

/* Read a small file into buf (NUL-terminated; a longer file is cut at
 * len - 1). Returns the number of bytes read (>= 0) or -errno. No allocation:
 * this is the hot path of a /proc scan. */
int closer_read_small_at(int dirfd, const char *path, char *buf, size_t len);
/* The same through an open fd, from its start (pread at 0: a kept-open /proc
 * file is read afresh each time). */
int closer_read_small_fd(int fd, char *buf, size_t len);

/* Write `text` to an existing file relative to dirfd (O_WRONLY|O_TRUNC: the
 * kernel's control files ignore the truncation, fixture files need it).
 * Returns 0 or -errno (a short write is -EIO). */
int closer_write_file_at(int dirfd, const char *path, const char *text);

/* Strip the leading slashes of an absolute path (the root fd is the base). */
const char *closer_root_rel(const char *path);
