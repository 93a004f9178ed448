/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdint.h>
#include <stdlib.h>

#include "basic/alloc-util.h"

void *closer_greedy_realloc(void **p, size_t *cap, size_t need, size_t size, size_t min_cap, size_t cap_max) {
        /* with room already, nothing moves; an array not allocated yet is,
         * even for need == 0, so that success is never NULL */
        if (*p && need <= *cap)
                return *p;
        if (size == 0 || need > cap_max || need > SIZE_MAX / size)
                return NULL;
        /* twice the old capacity (or min_cap), capped at what both the
         * caller's capacity variable and a byte count can hold */
        size_t limit = SIZE_MAX / size < cap_max ? SIZE_MAX / size : cap_max;
        size_t ncap = *cap > limit / 2 ? limit : *cap * 2;
        if (ncap < min_cap)
                ncap = min_cap < limit ? min_cap : limit;
        if (ncap < need)
                ncap = need;
        if (ncap == 0)
                ncap = 1;
        void *q = realloc(*p, ncap * size);
        if (!q)
                return NULL;
        *p = q;
        *cap = ncap;
        return q;
}
