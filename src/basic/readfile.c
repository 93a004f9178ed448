/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/readfile.h"
#include "basic/root.h"

int closer_read_file(const char *path, size_t max_bytes, char **ret) {
        int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        int r = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
        if (r == 0)
                r = closer_read_fd(fd, max_bytes, ret, NULL);
        close(fd);
        return r;
}

int closer_read_regular_file(const char *path, size_t max_bytes, char **ret, size_t *ret_len) {
        /* O_NONBLOCK: a FIFO opens at once, and is refused below */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        int r = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : !S_ISREG(st.st_mode) ? -EBADFD : 0;
        if (r == 0)
                r = closer_read_fd(fd, max_bytes, ret, ret_len);
        close(fd);
        return r;
}
