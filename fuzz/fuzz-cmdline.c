/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Splitting /proc/PID/cmdline (any bytes: a process rewrites its own, with
 * or without NULs). The first input byte picks max_args. Oracles: at most
 * max_args arguments; joined back with NULs they are a prefix of the input
 * (less its final NULs); an input with no bytes but NULs has none.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linux/linux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        unsigned max_args = 1u + data[0] % 16u;
        const char *buf = (const char *) data + 1;
        size_t len = size - 1;
        /* copy exactly len bytes: the parser must not read past them */
        char *copy = malloc(len ? len : 1);
        char **argv = (char **) &copy;
        unsigned n = 777;

        if (!copy)
                return 0;
        memcpy(copy, buf, len);
        int r = closer_proc_split_cmdline(copy, len, max_args, &argv, &n);
        if (r < 0) {
                if (r != -ENOMEM || argv != (char **) &copy || n != 777)
                        abort();
                free(copy);
                return 0;
        }
        size_t real = len;
        while (real > 0 && buf[real - 1] == '\0')
                real--;
        if (real == 0 && n != 0)
                abort();
        if (n > max_args || (real > 0 && n == 0))
                abort();
        size_t pos = 0;
        for (unsigned i = 0; i < n; i++) {
                size_t l = strlen(argv[i]);
                if (pos + l > real || memcmp(buf + pos, argv[i], l) != 0)
                        abort();
                pos += l;
                if (i + 1 < n) {
                        if (pos >= real || buf[pos] != '\0')
                                abort();
                        pos++;
                }
                free(argv[i]);
        }
        if (n > 0 && n < max_args && pos != real)
                abort();        /* not cut by max_args: every byte is in some argument */
        free(argv);
        free(copy);
        return 0;
}
