/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc-util.h"
#include "basic/root.h"

const char *closer_root_rel(const char *path) {
        while (*path == '/')
                path++;
        return *path ? path : ".";
}

int closer_root_open(const char *path, closer_root **ret) {
        struct stat st, real;
        closer_root *r;

        if (!path || !*path)
                path = "/";
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->fd < 0) {
                int e = -errno;
                free(r);
                return e;
        }
        /* the real root: same inode as "/" (a bind mount of / elsewhere is not
         * the real one for our purpose only if it differs; good enough) */
        r->is_real = fstat(r->fd, &st) == 0 && stat("/", &real) == 0 && st.st_dev == real.st_dev &&
                     st.st_ino == real.st_ino;
        snprintf(r->path, sizeof(r->path), "%s", path);
        *ret = r;
        return 0;
}

closer_root *closer_root_free(closer_root *r) {
        if (r) {
                if (r->fd >= 0)
                        close(r->fd);
                free(r);
        }
        return NULL;
}

int closer_root_openat(const closer_root *r, const char *path, int flags, int mode) {
        int fd = openat(r->fd, closer_root_rel(path), flags | O_CLOEXEC, mode);
        return fd < 0 ? -errno : fd;
}

int closer_read_small_fd(int fd, char *buf, size_t len) {
        if (len == 0)
                return -EINVAL;
        size_t got = 0;
        while (got < len - 1) {
                /* A short read that ends a line is the end of a /proc or
                 * sysfs file (they hand out whole records): skip the read
                 * that would only return 0. A scan is mostly these syscalls. */
                if (got > 0 && buf[got - 1] == '\n')
                        break;
                ssize_t n = pread(fd, buf + got, len - 1 - got, (off_t) got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        buf[got] = '\0';
        return (int) got;
}

int closer_read_small_at(int dirfd, const char *path, char *buf, size_t len) {
        if (len == 0)
                return -EINVAL;
        int fd = openat(dirfd, closer_root_rel(path), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int n = closer_read_small_fd(fd, buf, len);
        close(fd);
        return n;
}

int closer_read_fd(int fd, size_t max_len, char **ret, size_t *ret_len) {
        /* /proc files report st_size 0: grow the buffer as we go */
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);

        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (cap - len < 2) {
                        if (cap > max_len) {
                                free(buf);
                                return -EFBIG;
                        }
                        if (!GREEDY_REALLOC(buf, cap, len + 2)) {
                                free(buf);
                                return -ENOMEM;
                        }
                }
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = -errno;
                        free(buf);
                        return e;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (len > max_len) {
                free(buf);
                return -EFBIG;
        }
        buf[len] = '\0';
        *ret = buf;
        if (ret_len)
                *ret_len = len;
        return 0;
}

int closer_read_file_at(int dirfd, const char *path, size_t max_len, char **ret, size_t *ret_len) {
        int fd = openat(dirfd, closer_root_rel(path), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = closer_read_fd(fd, max_len, ret, ret_len);
        close(fd);
        return r;
}

int closer_write_file_at(int dirfd, const char *path, const char *text) {
        int fd = openat(dirfd, closer_root_rel(path), O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = strlen(text);
        ssize_t n;
        do
                n = write(fd, text, len);
        while (n < 0 && errno == EINTR);
        int e = n < 0 ? -errno : (size_t) n != len ? -EIO : 0;
        if (close(fd) < 0 && e == 0 && errno != EINTR)
                e = -errno;     /* some kernel files report errors at close */
        return e;
}
