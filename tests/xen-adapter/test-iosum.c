/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One I/O counter per domain from several sources (xen.h: iosum.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "xen/xen.h"

#define K 0u    /* kernel backends */
#define Q 1u    /* qdisk QEMU */

/* One read; the counter of domain domid in it (-1: no row). */
static long long read1(closer_xen_io_sum *s, const closer_xen_io_reading *r, unsigned n, int domid) {
        closer_hv_io *rows = NULL;
        unsigned n_rows = 0;
        long long v = -1;
        assert_int_equal(closer_xen_io_sum_update(s, r, n, &rows, &n_rows), 0);
        for (unsigned i = 0; i < n_rows; i++) {
                if (i)
                        assert_true(rows[i - 1].domid < rows[i].domid);
                if (rows[i].domid == domid)
                        v = (long long) rows[i].ops;
        }
        free(rows);
        return v;
}

/* The first read of a domain is its raw total (the caller's baseline). */
static void test_first_read_is_raw(void **state) {
        (void) state;
        closer_xen_io_sum s = {0};
        closer_xen_io_reading r[] = {{.domid = 3, .source = K, .valid = true, .ops = 100, .bytes = 1000},
                                     {.domid = 3, .source = Q, .valid = true, .ops = 900, .bytes = 9000},
                                     {.domid = 1, .source = K, .valid = true, .ops = 5}};
        assert_int_equal(read1(&s, r, 3, 3), 1000);
        assert_int_equal(read1(&s, r, 3, 1), 5);
        r[0].ops = 110;
        assert_int_equal(read1(&s, r, 3, 3), 1010);
        closer_xen_io_sum_free(&s);
}

/* The lab's case: a qdisk QEMU that answers for the first time after its
 * domain was read brings its history, which is not new I/O. */
static void test_late_source_is_not_a_burst(void **state) {
        (void) state;
        closer_xen_io_sum s = {0};
        closer_xen_io_reading r[] = {{.domid = 2, .source = K, .valid = true, .ops = 40},
                                     {.domid = 2, .source = Q, .valid = false}};
        assert_int_equal(read1(&s, r, 2, 2), 40);
        assert_int_equal(read1(&s, r, 2, 2), 40);
        r[1] = (closer_xen_io_reading) {.domid = 2, .source = Q, .valid = true, .ops = 380};
        assert_int_equal(read1(&s, r, 2, 2), 40);       /* adding the raw values: 420 */
        r[1].ops = 385;
        r[0].ops = 41;
        assert_int_equal(read1(&s, r, 2, 2), 46);
        closer_xen_io_sum_free(&s);
}

/* A source missing from a read keeps its place; back, what it did meanwhile
 * counts once. */
static void test_missing_source_comes_back(void **state) {
        (void) state;
        closer_xen_io_sum s = {0};
        closer_xen_io_reading r[] = {{.domid = 2, .source = K, .valid = true, .ops = 40},
                                     {.domid = 2, .source = Q, .valid = true, .ops = 300}};
        assert_int_equal(read1(&s, r, 2, 2), 340);
        assert_int_equal(read1(&s, r, 1, 2), 340);      /* only the kernel's this time */
        r[1].ops = 310;
        assert_int_equal(read1(&s, r, 2, 2), 350);
        closer_xen_io_sum_free(&s);
}

/* Counters that went backwards (a reconnected backend) start again from
 * their new value: nothing counted twice, the domain's counter never goes
 * back. */
static void test_reset_counts_nothing_twice(void **state) {
        (void) state;
        closer_xen_io_sum s = {0};
        closer_xen_io_reading r[] = {{.domid = 2, .source = K, .valid = true, .ops = 500, .bytes = 5000}};
        assert_int_equal(read1(&s, r, 1, 2), 500);
        r[0].ops = 7, r[0].bytes = 70;
        assert_int_equal(read1(&s, r, 1, 2), 500);
        r[0].ops = 9, r[0].bytes = 90;
        assert_int_equal(read1(&s, r, 1, 2), 502);
        /* bytes back but ops on: still a reset of that source */
        r[0].ops = 20, r[0].bytes = 10;
        assert_int_equal(read1(&s, r, 1, 2), 502);
        closer_xen_io_sum_free(&s);
}

/* Source numbers are 64-bit: the Xen adapter numbers each kernel device
 * by kind << 32 | devid (vbd devids such as 51712, and larger). */
static void test_source_is_64_bit(void **state) {
        (void) state;
        closer_xen_io_sum s = {0};
        closer_xen_io_reading r[] = {{.domid = 2, .source = 1ull << 32 | 51712, .valid = true, .ops = 10},
                                     {.domid = 2, .source = 2ull << 32 | 51712, .valid = true, .ops = 1000}};
        assert_int_equal(read1(&s, r, 2, 2), 1010);
        assert_int_equal(s.n, 2u);
        r[0].ops = 11;
        assert_int_equal(read1(&s, r, 2, 2), 1011);
        closer_xen_io_sum_free(&s);
}

/* A domain not read at all is gone: a later domain with its domid starts
 * from its own raw total. A domain with no counters yet still gets a row. */
static void test_gone_domain_forgotten(void **state) {
        (void) state;
        closer_xen_io_sum s = {0};
        closer_xen_io_reading a[] = {{.domid = 4, .source = K, .valid = true, .ops = 800},
                                     {.domid = 5, .source = Q, .valid = false}};
        assert_int_equal(read1(&s, a, 2, 4), 800);
        assert_int_equal(read1(&s, a, 2, 5), 0);
        assert_int_equal(read1(&s, a + 1, 1, 4), -1);
        assert_int_equal(s.n, 0u);
        closer_xen_io_reading b[] = {{.domid = 4, .source = Q, .valid = true, .ops = 30}};
        assert_int_equal(read1(&s, b, 1, 4), 30);
        assert_int_equal(read1(&s, NULL, 0, 4), -1);
        closer_xen_io_sum_free(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_read_is_raw),
                cmocka_unit_test(test_late_source_is_not_a_burst),
                cmocka_unit_test(test_missing_source_comes_back),
                cmocka_unit_test(test_reset_counts_nothing_twice),
                cmocka_unit_test(test_source_is_64_bit),
                cmocka_unit_test(test_gone_domain_forgotten),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
