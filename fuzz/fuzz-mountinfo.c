/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Finding the cgroup2 mount in /proc/self/mountinfo (mount points are
 * chosen by whoever can mount: escaped spaces, huge paths, junk lines). The
 * input becomes proc/self/mountinfo of a private root in a temp dir.
 * Oracles: success gives a NUL-terminated path that fits the buffer;
 * failure is one of the documented errors with a one-line message, and the
 * output buffer is untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux/linux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static closer_root *root;
static char file[256];

static void setup(void) {
        /* tmpfs when there is one: the file is rewritten for every input */
        char dir[64], sub[256];
        snprintf(dir, sizeof(dir), "%s/closer-fuzz-mountinfo-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
                abort();
        snprintf(sub, sizeof(sub), "%s/proc", dir);
        mkdir(sub, 0700);
        snprintf(sub, sizeof(sub), "%s/proc/self", dir);
        mkdir(sub, 0700);
        snprintf(file, sizeof(file), "%s/proc/self/mountinfo", dir);
        if (closer_root_open(dir, &root) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char out[64];
        closer_error err = {};

        if (!root)
                setup();
        int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || (size && write(fd, data, size) != (ssize_t) size))
                abort();
        close(fd);
        memset(out, 'x', sizeof(out));
        int r = closer_cgroup_find_mount(root, out, sizeof(out), &err);
        if (r < 0) {
                if (r != -ENOENT && r != -EMEDIUMTYPE && r != -ENAMETOOLONG)
                        abort();
                if (r != -ENAMETOOLONG)
                        for (size_t i = 0; i < sizeof(out); i++)
                                if (out[i] != 'x')
                                        abort();
                if (!err.msg[0] || strchr(err.msg, '\n'))
                        abort();
                return 0;
        }
        if (strnlen(out, sizeof(out)) == sizeof(out))
                abort();
        return 0;
}
