/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cpulist parser on arbitrary bytes. Oracles: a rejection leaves the set
 * untouched; an accepted list formats to a list that parses to the same set
 * and formats the same again (the shortest form is a fixed point).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "closer/cpuset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char buf[CLOSER_CPULIST_MAX], buf2[CLOSER_CPULIST_MAX];
        char *text = malloc(size + 1);
        closer_cpuset s, t, before;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        closer_cpuset_zero(&s);
        closer_cpuset_set(&s, 4095);
        before = s;
        int r = closer_cpuset_parse(text, &s);
        free(text);
        if (r < 0) {
                if ((r != -EINVAL && r != -ERANGE) || !closer_cpuset_equal(&s, &before))
                        abort();
                return 0;
        }
        if (closer_cpuset_format(&s, buf, sizeof(buf)) < 0)
                abort();
        if (closer_cpuset_parse(buf, &t) < 0 || !closer_cpuset_equal(&s, &t))
                abort();
        if (closer_cpuset_format(&t, buf2, sizeof(buf2)) < 0 || strcmp(buf, buf2) != 0)
                abort();
        return 0;
}
