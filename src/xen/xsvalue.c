/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Strict parsing of xenstore values: a guest writes its own subtree. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "basic/parse-util.h"
#include "xen/xen.h"

int closer_xs_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *ret) {
        /* guest-written: the strict parser, digits only (every byte checked
         * before the value: junk after digits is -EINVAL, not -ERANGE) */
        return closer_parse_uint_n(s, len, max, 0, ret);
}

void closer_xs_sanitize(const char *s, size_t len, char *buf, size_t size) {
        if (size == 0)
                return;
        size_t o = 0;
        for (size_t i = 0; s && i < len && o + 1 < size; i++) {
                unsigned char c = (unsigned char) s[i];
                bool ok = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
                buf[o++] = ok ? (char) c : '?';
        }
        buf[o] = '\0';
}

int closer_xs_parse_queue_dir(const char *name, unsigned max, unsigned *ret) {
        static const char prefix[] = "queue-";
        if (!name || strncmp(name, prefix, sizeof(prefix) - 1) != 0)
                return -EINVAL;
        const char *num = name + sizeof(prefix) - 1;
        size_t len = strnlen(num, CLOSER_XS_NUMBER_MAX + 1);
        uint64_t v;
        int r = closer_xs_parse_u64(num, len, max, &v);
        if (r < 0)
                return r;
        if (num[len] != '\0')
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

void closer_xen_uuid_format(const uint8_t h[16], char buf[37]) {
        snprintf(buf, 37,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
                 h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
}
