/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/*
 * Growing arrays (the systemd alloc-util way). closer_greedy_realloc() makes
 * room for `need` elements of `size` bytes in *p, whose capacity is *cap
 * elements: when need > *cap it reallocates to the larger of need and twice
 * *cap (at least `min_cap`), so appending one element at a time costs
 * amortised O(1). Overflow is checked: neither the element count (which must
 * stay <= cap_max, the largest value the caller's capacity variable holds)
 * nor the byte size may wrap. Returns *p (never NULL, even for need == 0:
 * an unallocated array gets at least one element), or NULL (-ENOMEM) with *p
 * and *cap unchanged, so the caller still owns and frees the old array.
 */
void *closer_greedy_realloc(void **p, size_t *cap, size_t need, size_t size, size_t min_cap, size_t cap_max);

/* GREEDY_REALLOC(array, cap, need): room for `need` elements in `array` (a
 * typed pointer), `cap` its capacity in elements: any unsigned integer
 * lvalue (unsigned, size_t, ...); it is updated only on success. Evaluates to
 * the array, or NULL on failure (array and cap unchanged). */
#define GREEDY_REALLOC(array, cap, need) GREEDY_REALLOC_MIN(array, cap, need, 16)

/* The same with a first allocation of at least min_cap elements. */
#define GREEDY_REALLOC_MIN(array, cap, need, min_cap)                                                   \
        ({                                                                                              \
                _Static_assert((__typeof__(cap)) -1 > 0, "GREEDY_REALLOC: cap must be unsigned");       \
                size_t _cap_ = (cap);                                                                   \
                void *_r_ = closer_greedy_realloc((void **) &(array), &_cap_, (need), sizeof((array)[0]), \
                                                  (min_cap), (size_t) (__typeof__(cap)) -1);            \
                if (_r_)                                                                                \
                        (cap) = (__typeof__(cap)) _cap_;                                                \
                (__typeof__(array)) _r_;                                                                \
        })
