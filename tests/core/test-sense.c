/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the daemon derives from what it reads before planning: I/O rates
 * from counters, M of Algorithm 1. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "closer/sense.h"

static void test_io_rate(void **state) {
        closer_io_rate r = {0};

        /* the first sample only primes the counters */
        closer_io_rate_sample(&r, 1000, 4096000, 1.0, 10.0);
        assert_true(r.ops_per_s == 0 && !r.primed);
        /* the first rate is taken as it is */
        closer_io_rate_sample(&r, 3000, 12288000, 1.0, 10.0);
        assert_true(r.primed);
        assert_true(r.ops_per_s == 2000.0);
        assert_true(r.bytes_per_s == 8192000.0);
        /* then a moving average: a burst moves it by 1 - e^-(dt/tau) */
        closer_io_rate_sample(&r, 3000 + 2 * 12000, 12288000, 2.0, 10.0);
        double a = 1.0 - exp(-2.0 / 10.0);
        assert_true(fabs(r.ops_per_s - (2000.0 + a * (12000.0 - 2000.0))) < 1e-9);
        assert_true(fabs(r.bytes_per_s - (1.0 - a) * 8192000.0) < 1e-6);
        /* a counter that went backwards (a reconnected backend) is a new
         * baseline and the interval counts 0, as in src/xen/iosum.c: its
         * new value is not this interval's I/O */
        closer_io_rate_sample(&r, 500, 12288000, 1.0, 0);       /* tau 0: the last rate */
        assert_true(r.ops_per_s == 0.0);                        /* counting from zero: 500 */
        assert_true(r.bytes_per_s == 0.0);
        assert_int_equal(r.ops, 500);
        /* no time passed: counters taken, rates kept */
        closer_io_rate_sample(&r, 900, 12288000, 0, 10.0);
        assert_true(r.ops_per_s == 0.0);
        assert_int_equal(r.ops, 900);
        /* from the new baseline on, what was done counts */
        closer_io_rate_sample(&r, 1300, 12288000 + 8192, 2.0, 0);
        assert_true(r.ops_per_s == 200.0);
        assert_true(r.bytes_per_s == 4096.0);
        /* bytes back, ops on: still a reset, of both */
        closer_io_rate_sample(&r, 1400, 4096, 1.0, 0);
        assert_true(r.ops_per_s == 0.0 && r.bytes_per_s == 0.0);
        assert_int_equal(r.ops, 1400);
        assert_int_equal(r.bytes, 4096);
        closer_io_rate_sample(&r, 1500, 4096 + 1024, 1.0, 0);
        assert_true(r.ops_per_s == 100.0 && r.bytes_per_s == 1024.0);
}

/* Counters that start at 0 (the Xen adapter's do, for every domain) are a
 * sample: the first interval of I/O after them counts, it is not taken for
 * a first sample. */
static void test_io_rate_from_zero(void **state) {
        closer_io_rate r = {0};

        closer_io_rate_sample(&r, 0, 0, 1.0, 0);
        assert_true(r.ops_per_s == 0.0 && !r.primed);
        closer_io_rate_sample(&r, 0, 0, 1.0, 0);               /* idle: a rate of 0 */
        assert_true(r.primed && r.ops_per_s == 0.0);
        closer_io_rate_sample(&r, 250, 1024000, 1.0, 0);       /* its first burst */
        assert_true(r.ops_per_s == 250.0);
        assert_true(r.bytes_per_s == 1024000.0);

        /* a first burst right after the first (zero) sample counts too */
        closer_io_rate s = {0};
        closer_io_rate_sample(&s, 0, 0, 1.0, 10.0);
        closer_io_rate_sample(&s, 40, 4096, 2.0, 10.0);
        assert_true(s.primed && s.ops_per_s == 20.0 && s.bytes_per_s == 2048.0);
}

static void test_vm_mem_m(void **state) {
        assert_int_equal(closer_vm_mem_m(0, 1049600), 1049600);               /* unknown: max_pages */
        assert_int_equal(closer_vm_mem_m(1048576, 1049600), 1048576);          /* the target as found */
        assert_int_equal(closer_vm_mem_m(2097152, 1049600), 1049600);          /* never above Xen's max */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_io_rate),
                cmocka_unit_test(test_io_rate_from_zero),
                cmocka_unit_test(test_vm_mem_m),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
