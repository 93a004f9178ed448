/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration parser on arbitrary bytes. Oracles: a rejection leaves
 * the configuration untouched and explains itself in one line of valid
 * UTF-8 naming the source; an accepted one holds the invariants the policy relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "closer/config.h"
#include "closer/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        closer_config c, before;
        closer_error e = {};

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        closer_config_defaults(&c);
        before = c;
        /* the whole input, NUL bytes included, as closerd reads a file */
        int r = closer_config_parse_buffer(text, size, "fuzz.conf", &c, &e);
        free(text);
        if (r < 0) {
                /* one line of valid UTF-8 */
                size_t n = strlen(e.msg);
                for (size_t i = 0; i < n;) {
                        size_t k = closer_utf8_seq_len((const unsigned char *) e.msg + i, n - i);
                        if (k == 0)
                                abort();
                        i += k;
                }
                if (memcmp(&c, &before, sizeof(c)) != 0 || strncmp(e.msg, "fuzz.conf", 9) != 0 ||
                    strchr(e.msg, '\n'))
                        abort();
                return 0;
        }
        if (c.n_levels < 1 || c.n_levels > CLOSER_LEVELS_MAX || c.levels[0].min_ops_per_s != 0 ||
            c.hysteresis_pct > 99 || closer_config_main_vcpus(&c) < 1)
                abort();
        for (unsigned i = 1; i < c.n_levels; i++)
                if (c.levels[i].min_ops_per_s <= c.levels[i - 1].min_ops_per_s ||
                    c.levels[i].extra_mib < c.levels[i - 1].extra_mib)
                        abort();
        (void) closer_config_main_mem_mib(&c, (uint64_t) size << 40);
        return 0;
}
