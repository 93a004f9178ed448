/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Values a guest writes into its own xenstore subtree (queue counts, ports,
 * names, "queue-N" directories): arbitrary bytes, NULs included, up to the
 * 4 KiB xenstored allows. The first byte picks the bound. Oracles: a number
 * is accepted only when every byte is a digit and its value is <= the
 * bound, and it prints back as those digits less the leading zeros; a
 * sanitized name is printable ASCII with no quote or backslash and is cut
 * to the buffer; a queue directory is exactly "queue-" and a number.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen/xen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t bounds[] = {0, 1, 9, 255, 256, 4095, 65535, UINT32_MAX, INT64_MAX, UINT64_MAX};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        uint64_t max = bounds[data[0] % (sizeof(bounds) / sizeof(bounds[0]))];
        size_t len = size - 1;
        if (len > CLOSER_XS_VALUE_MAX)
                len = CLOSER_XS_VALUE_MAX;
        /* exactly len bytes, no terminator: xs_read's buffer */
        char *s = malloc(len ? len : 1);
        if (!s)
                return 0;
        memcpy(s, data + 1, len);

        uint64_t v = 42;
        int r = closer_xs_parse_u64(len ? s : NULL, len, max, &v);
        bool digits = len > 0;
        for (size_t i = 0; i < len; i++)
                digits &= s[i] >= '0' && s[i] <= '9';
        if (r == 0) {
                char buf[32];
                size_t z = 0;
                while (z + 1 < len && s[z] == '0')
                        z++;
                snprintf(buf, sizeof(buf), "%" PRIu64, v);
                if (!digits || v > max || strlen(buf) != len - z || memcmp(buf, s + z, len - z) != 0)
                        abort();
        } else {
                if (v != 42 || (r != -EINVAL && r != -ERANGE) || (r == -EINVAL) == digits)
                        abort();
        }

        char name[64];
        closer_xs_sanitize(s, len, name, 1 + data[0] % sizeof(name));
        size_t nl = strlen(name);
        if (nl > len || nl >= 1u + data[0] % sizeof(name))
                abort();
        for (size_t i = 0; i < nl; i++)
                if (name[i] < 0x20 || name[i] >= 0x7f || name[i] == '"' || name[i] == '\\' ||
                    (name[i] != '?' && name[i] != s[i]))
                        abort();

        char *z = malloc(len + 1);
        if (z) {
                memcpy(z, s, len);
                z[len] = '\0';
                unsigned q = 4242, qmax = (unsigned) (max > 100000 ? 100000 : max);
                r = closer_xs_parse_queue_dir(z, qmax, &q);
                if (r == 0) {
                        char back[64];
                        unsigned parsed;
                        if (q > qmax || strncmp(z, "queue-", 6) != 0 || sscanf(z + 6, "%u", &parsed) != 1 ||
                            parsed != q || strspn(z + 6, "0123456789") != strlen(z + 6))
                                abort();
                        snprintf(back, sizeof(back), "%u", q);
                        (void) back;
                } else if (q != 4242 || (r != -EINVAL && r != -ERANGE)) {
                        abort();
                }
                free(z);
        }
        free(s);
        return 0;
}
