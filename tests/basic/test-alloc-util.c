/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GREEDY_REALLOC: growth, capacity types, and the overflow refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/alloc-util.h"

static void test_grow(void **state) {
        (void) state;
        int *a = NULL;
        size_t cap = 0;

        /* first allocation: at least min_cap */
        assert_non_null(GREEDY_REALLOC(a, cap, 1));
        assert_int_equal(cap, 16);
        /* within capacity: nothing moves */
        int *before = a;
        assert_ptr_equal(GREEDY_REALLOC(a, cap, 16), before);
        assert_int_equal(cap, 16);
        /* one more: doubles */
        assert_non_null(GREEDY_REALLOC(a, cap, 17));
        assert_int_equal(cap, 32);
        /* far more than twice: exactly what is asked */
        assert_non_null(GREEDY_REALLOC(a, cap, 1000));
        assert_int_equal(cap, 1000);
        for (int i = 0; i < 1000; i++)
                a[i] = i;
        /* appending one at a time is amortised: few reallocations */
        unsigned n = 0, grows = 0;
        unsigned ucap = 0;
        int *b = NULL;
        for (n = 0; n < 100000; n++) {
                unsigned old = ucap;
                assert_non_null(GREEDY_REALLOC(b, ucap, n + 1));
                grows += ucap != old;
                b[n] = (int) n;
        }
        assert_true(grows < 20);
        assert_int_equal(b[99999], 99999);
        free(a);
        free(b);

        /* need 0 on an unallocated array: allocated all the same, so that
         * success is never NULL */
        int *e = NULL;
        unsigned ecap = 0;
        assert_non_null(GREEDY_REALLOC(e, ecap, 0));
        assert_int_equal(ecap, 16);
        free(e);
        e = NULL;
        ecap = 0;
        assert_non_null(closer_greedy_realloc((void **) &e, &(size_t) {0}, 0, sizeof(int), 0, SIZE_MAX));
        free(e);

        /* GREEDY_REALLOC_MIN: the first allocation's size */
        char *c = NULL;
        size_t ccap = 0;
        assert_non_null(GREEDY_REALLOC_MIN(c, ccap, 1, 4096));
        assert_int_equal(ccap, 4096);
        free(c);
}

static void test_overflow(void **state) {
        (void) state;
        uint64_t *a = NULL;
        size_t cap = 0;

        /* need * size would wrap: refused, nothing changed */
        assert_null(GREEDY_REALLOC(a, cap, SIZE_MAX / 8 + 1));
        assert_null(a);
        assert_int_equal(cap, 0);
        assert_null(GREEDY_REALLOC(a, cap, SIZE_MAX));
        assert_int_equal(cap, 0);
        /* an existing array is kept on refusal */
        assert_non_null(GREEDY_REALLOC(a, cap, 4));
        uint64_t *kept = a;
        a[3] = 42;
        assert_null(GREEDY_REALLOC(a, cap, SIZE_MAX / 4));
        assert_ptr_equal(a, kept);
        assert_int_equal(cap, 16);
        assert_int_equal(a[3], 42);
        free(a);

        /* a narrow capacity variable: never more than it can hold */
        uint8_t small = 0;
        char *s = NULL;
        assert_non_null(GREEDY_REALLOC(s, small, 200));
        assert_int_equal(small, 200);
        /* doubling would give 400: saturates at 255 */
        assert_non_null(GREEDY_REALLOC(s, small, 201));
        assert_int_equal(small, 255);
        /* 256 elements cannot be counted in a uint8_t */
        assert_null(GREEDY_REALLOC(s, small, 256));
        assert_int_equal(small, 255);
        free(s);

        /* an element size of 0 is refused */
        size_t zcap = 0;
        char *z = NULL;
        assert_null(closer_greedy_realloc((void **) &z, &zcap, 1, 0, 16, SIZE_MAX));
}

/* The doubling itself: from a large capacity it saturates at the limit rather
 * than wrapping (checked through the function, without allocating). */
static void test_saturate(void **state) {
        (void) state;
        size_t cap = 100;
        char *p = malloc(100);
        assert_non_null(p);
        /* limit 150 elements: doubling 100 would pass it */
        assert_non_null(closer_greedy_realloc((void **) &p, &cap, 101, 1, 16, 150));
        assert_int_equal(cap, 150);
        assert_null(closer_greedy_realloc((void **) &p, &cap, 151, 1, 16, 150));
        assert_int_equal(cap, 150);
        free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_grow),
                cmocka_unit_test(test_overflow),
                cmocka_unit_test(test_saturate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
