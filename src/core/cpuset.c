/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "closer/cpuset.h"

#define WORDS (CLOSER_CPUSET_MAX / 64)

void closer_cpuset_zero(closer_cpuset *s) {
        memset(s, 0, sizeof(*s));
}

int closer_cpuset_set(closer_cpuset *s, unsigned cpu) {
        if (cpu >= CLOSER_CPUSET_MAX)
                return -ERANGE;
        s->bits[cpu / 64] |= UINT64_C(1) << (cpu % 64);
        return 0;
}

void closer_cpuset_clear(closer_cpuset *s, unsigned cpu) {
        if (cpu < CLOSER_CPUSET_MAX)
                s->bits[cpu / 64] &= ~(UINT64_C(1) << (cpu % 64));
}

bool closer_cpuset_test(const closer_cpuset *s, unsigned cpu) {
        return cpu < CLOSER_CPUSET_MAX && (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}

unsigned closer_cpuset_count(const closer_cpuset *s) {
        unsigned n = 0;
        for (unsigned i = 0; i < WORDS; i++)
                n += (unsigned) __builtin_popcountll(s->bits[i]);
        return n;
}

bool closer_cpuset_is_empty(const closer_cpuset *s) {
        for (unsigned i = 0; i < WORDS; i++)
                if (s->bits[i])
                        return false;
        return true;
}

bool closer_cpuset_equal(const closer_cpuset *a, const closer_cpuset *b) {
        return memcmp(a->bits, b->bits, sizeof(a->bits)) == 0;
}

bool closer_cpuset_is_subset(const closer_cpuset *a, const closer_cpuset *b) {
        for (unsigned i = 0; i < WORDS; i++)
                if (a->bits[i] & ~b->bits[i])
                        return false;
        return true;
}

bool closer_cpuset_intersects(const closer_cpuset *a, const closer_cpuset *b) {
        for (unsigned i = 0; i < WORDS; i++)
                if (a->bits[i] & b->bits[i])
                        return true;
        return false;
}

void closer_cpuset_or(closer_cpuset *dst, const closer_cpuset *a, const closer_cpuset *b) {
        for (unsigned i = 0; i < WORDS; i++)
                dst->bits[i] = a->bits[i] | b->bits[i];
}

void closer_cpuset_and(closer_cpuset *dst, const closer_cpuset *a, const closer_cpuset *b) {
        for (unsigned i = 0; i < WORDS; i++)
                dst->bits[i] = a->bits[i] & b->bits[i];
}

void closer_cpuset_andnot(closer_cpuset *dst, const closer_cpuset *a, const closer_cpuset *b) {
        for (unsigned i = 0; i < WORDS; i++)
                dst->bits[i] = a->bits[i] & ~b->bits[i];
}

int closer_cpuset_next(const closer_cpuset *s, int prev) {
        unsigned cpu = prev < 0 ? 0 : (unsigned) prev + 1;
        if (cpu >= CLOSER_CPUSET_MAX)
                return -1;
        unsigned w = cpu / 64;
        uint64_t word = s->bits[w] & (~UINT64_C(0) << (cpu % 64));
        for (;;) {
                if (word)
                        return (int) (w * 64 + (unsigned) __builtin_ctzll(word));
                if (++w >= WORDS)
                        return -1;
                word = s->bits[w];
        }
}

int closer_cpuset_first(const closer_cpuset *s) {
        return closer_cpuset_next(s, -1);
}

/* Parse a decimal CPU number at *p; advances *p. -EINVAL if no digit,
 * -ERANGE if >= CLOSER_CPUSET_MAX (checked digit by digit: no overflow). */
static int parse_cpu(const char **p, unsigned *ret) {
        const char *q = *p;
        unsigned v = 0;

        if (!isdigit((unsigned char) *q))
                return -EINVAL;
        for (; isdigit((unsigned char) *q); q++) {
                v = v * 10 + (unsigned) (*q - '0');
                if (v >= CLOSER_CPUSET_MAX)
                        return -ERANGE;
        }
        *p = q;
        *ret = v;
        return 0;
}

int closer_cpuset_parse(const char *text, closer_cpuset *ret) {
        closer_cpuset s;
        const char *p = text;
        int r;

        closer_cpuset_zero(&s);
        while (isspace((unsigned char) *p))
                p++;
        if (*p == '\0')
                goto done;
        for (;;) {
                unsigned lo, hi;
                r = parse_cpu(&p, &lo);
                if (r < 0)
                        return r;
                hi = lo;
                if (*p == '-') {
                        p++;
                        r = parse_cpu(&p, &hi);
                        if (r < 0)
                                return r;
                        if (hi < lo)
                                return -EINVAL;
                }
                for (unsigned c = lo; c <= hi; c++)
                        (void) closer_cpuset_set(&s, c);
                if (*p != ',')
                        break;
                p++;
        }
        while (isspace((unsigned char) *p))
                p++;
        if (*p != '\0')
                return -EINVAL;
done:
        *ret = s;
        return 0;
}

int closer_cpuset_format(const closer_cpuset *s, char *buf, size_t len) {
        size_t pos = 0;

        if (len == 0)
                return -ENOSPC;
        buf[0] = '\0';
        for (int lo = closer_cpuset_first(s); lo >= 0;) {
                int hi = lo, nx;
                while ((nx = closer_cpuset_next(s, hi)) == hi + 1)
                        hi = nx;
                int n = hi == lo ? snprintf(buf + pos, len - pos, "%s%d", pos ? "," : "", lo)
                                 : snprintf(buf + pos, len - pos, "%s%d-%d", pos ? "," : "", lo, hi);
                if (n < 0 || (size_t) n >= len - pos) {
                        buf[0] = '\0';
                        return -ENOSPC;
                }
                pos += (size_t) n;
                lo = nx;
        }
        return (int) pos;
}
