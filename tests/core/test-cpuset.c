/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "closer/cpuset.h"

static void roundtrip(const char *in, const char *want) {
        closer_cpuset s;
        char buf[CLOSER_CPULIST_MAX];
        assert_int_equal(closer_cpuset_parse(in, &s), 0);
        assert_true(closer_cpuset_format(&s, buf, sizeof(buf)) >= 0);
        assert_string_equal(buf, want);
}

static void test_parse_format(void **state) {
        (void) state;
        roundtrip("", "");
        roundtrip("0", "0");
        roundtrip("0-3,8,10-11", "0-3,8,10-11");
        roundtrip("3,2,1,0", "0-3");             /* order and shape normalised */
        roundtrip("0-1,2-3", "0-3");
        roundtrip("5,5,5", "5");
        roundtrip("0-4095", "0-4095");
        roundtrip("4095", "4095");
        roundtrip("0-13\n", "0-13");            /* sysfs files end in a newline */
        roundtrip(" 1,3 ", "1,3");
}

static void test_parse_rejects(void **state) {
        (void) state;
        closer_cpuset s;
        closer_cpuset_zero(&s);
        closer_cpuset_set(&s, 7);
        const char *bad[] = {"3-1", "a", "1,", ",1", "1-", "-1", "1--2", "1 2", "0x1", "1-2-3", "1;2", "+1"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(closer_cpuset_parse(bad[i], &s), -EINVAL);
                assert_true(closer_cpuset_test(&s, 7));  /* untouched on failure */
                assert_int_equal(closer_cpuset_count(&s), 1);
        }
        assert_int_equal(closer_cpuset_parse("4096", &s), -ERANGE);
        assert_int_equal(closer_cpuset_parse("0-4096", &s), -ERANGE);
        assert_int_equal(closer_cpuset_parse("99999999999999999999", &s), -ERANGE);
}

static void test_ops(void **state) {
        (void) state;
        closer_cpuset a, b, c;
        assert_int_equal(closer_cpuset_parse("0-7", &a), 0);
        assert_int_equal(closer_cpuset_parse("4-11", &b), 0);
        closer_cpuset_and(&c, &a, &b);
        assert_int_equal(closer_cpuset_count(&c), 4);
        assert_int_equal(closer_cpuset_first(&c), 4);
        closer_cpuset_andnot(&c, &a, &b);
        assert_int_equal(closer_cpuset_count(&c), 4);
        assert_int_equal(closer_cpuset_first(&c), 0);
        assert_false(closer_cpuset_intersects(&c, &b));
        closer_cpuset_or(&c, &a, &b);
        assert_int_equal(closer_cpuset_count(&c), 12);
        assert_true(closer_cpuset_is_subset(&a, &c));
        assert_false(closer_cpuset_is_subset(&c, &a));
        assert_int_equal(closer_cpuset_set(&c, CLOSER_CPUSET_MAX), -ERANGE);
        assert_false(closer_cpuset_test(&c, CLOSER_CPUSET_MAX));

        /* iteration crosses word boundaries and ends at the top */
        assert_int_equal(closer_cpuset_parse("63-64,127,4095", &a), 0);
        int seen[8], n = 0;
        CLOSER_CPUSET_FOREACH(cpu, &a)
                seen[n++] = cpu;
        assert_int_equal(n, 4);
        assert_int_equal(seen[0], 63);
        assert_int_equal(seen[1], 64);
        assert_int_equal(seen[2], 127);
        assert_int_equal(seen[3], 4095);
        closer_cpuset_zero(&a);
        assert_true(closer_cpuset_is_empty(&a));
        assert_int_equal(closer_cpuset_first(&a), -1);
}

static void test_format_worst_case(void **state) {
        (void) state;
        closer_cpuset s;
        char buf[CLOSER_CPULIST_MAX], small[8];
        closer_cpuset_zero(&s);
        for (unsigned c = 0; c < CLOSER_CPUSET_MAX; c += 2)
                closer_cpuset_set(&s, c);
        int n = closer_cpuset_format(&s, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal((size_t) n, strlen(buf));
        closer_cpuset back;
        assert_int_equal(closer_cpuset_parse(buf, &back), 0);
        assert_true(closer_cpuset_equal(&s, &back));
        assert_int_equal(closer_cpuset_format(&s, small, sizeof(small)), -ENOSPC);
        assert_string_equal(small, "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_format),
                cmocka_unit_test(test_parse_rejects),
                cmocka_unit_test(test_ops),
                cmocka_unit_test(test_format_worst_case),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
