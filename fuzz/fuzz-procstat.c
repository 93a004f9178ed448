/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The /proc/PID/stat parser on arbitrary bytes (a process picks its own comm:
 * spaces, ')' and digits included). Oracles: a rejection is -EINVAL and
 * leaves the output untouched; an accepted line has a pid and ppid in the
 * kernel's range, a NUL-terminated comm that was in the text between the
 * first '(' and the last ')', and a processor that fits a cpuset.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linux/linux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        closer_proc_stat st, before;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        memset(&st, 0x5a, sizeof(st));
        before = st;
        int r = closer_proc_parse_stat(text, &st);
        if (r < 0) {
                if (r != -EINVAL || memcmp(&st, &before, sizeof(st)) != 0)
                        abort();
                free(text);
                return 0;
        }
        if (r != 0 || st.pid <= 0 || st.pid > 4194304 || st.ppid < 0 || st.ppid > 4194304)
                abort();
        if (st.processor < -1 || st.processor >= (int) CLOSER_CPUSET_MAX)
                abort();
        size_t cl = strnlen(st.comm, sizeof(st.comm));
        if (cl == sizeof(st.comm))
                abort();
        const char *open = strchr(text, '(');
        if (!open || strncmp(open + 1, st.comm, cl) != 0)
                abort();
        free(text);
        return 0;
}
