/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "basic/parse-util.h"

static int is_digit(char c) {
        return c >= '0' && c <= '9';
}

int closer_parse_uint_n(const char *s, size_t len, uint64_t max, unsigned flags, uint64_t *ret) {
        if (!s || len == 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!is_digit(s[i]))
                        return -EINVAL;
        if ((flags & CLOSER_PARSE_NO_LEADING_ZERO) && len > 1 && s[0] == '0')
                return -EINVAL;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned d = (unsigned) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int closer_parse_uint(const char *s, uint64_t max, unsigned flags, uint64_t *ret) {
        return closer_parse_uint_n(s, s ? strlen(s) : 0, max, flags, ret);
}

int closer_parse_uint_prefix(const char *s, uint64_t max, unsigned flags, uint64_t *ret, const char **ret_end) {
        size_t n = 0;
        while (s && is_digit(s[n]))
                n++;
        int r = closer_parse_uint_n(s, n, max, flags, ret);
        if (r < 0)
                return r;
        *ret_end = s + n;
        return 0;
}

int closer_parse_int(const char *s, int64_t min, int64_t max, unsigned flags, int64_t *ret) {
        if (!s || min > max)
                return -EINVAL;
        bool neg = *s == '-';
        uint64_t v;
        /* the magnitude of INT64_MIN is INT64_MAX + 1 */
        int r = closer_parse_uint(s + neg, (uint64_t) INT64_MAX + neg, flags, &v);
        if (r < 0)
                return r;
        int64_t x = neg ? (v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v) : (int64_t) v;
        if (x < min || x > max)
                return -ERANGE;
        *ret = x;
        return 0;
}
