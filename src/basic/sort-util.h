/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdlib.h>

/* qsort() that takes an empty array as NULL: qsort(NULL, 0, ...) is undefined
 * (its first argument is declared non-null), and an array nothing was ever
 * appended to is NULL. Fewer than two elements are sorted already. */
static inline void closer_qsort_safe(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
        if (n <= 1)
                return;
        qsort(base, n, size, cmp);
}
