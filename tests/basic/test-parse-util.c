/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The strict decimal parser: what it takes, and everything it refuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/parse-util.h"

static void test_uint(void **state) {
        (void) state;
        uint64_t v = 7;

        assert_int_equal(closer_parse_uint("0", 10, 0, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(closer_parse_uint("10", 10, 0, &v), 0);
        assert_int_equal(v, 10);
        assert_int_equal(closer_parse_uint("18446744073709551615", UINT64_MAX, 0, &v), 0);
        assert_true(v == UINT64_MAX);
        /* leading zeros: taken unless refused */
        assert_int_equal(closer_parse_uint("007", 10, 0, &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(closer_parse_uint("0000000000000000000000000000005", 10, 0, &v), 0);
        assert_int_equal(v, 5);
        assert_int_equal(closer_parse_uint("07", 10, CLOSER_PARSE_NO_LEADING_ZERO, &v), -EINVAL);
        assert_int_equal(closer_parse_uint("0", 10, CLOSER_PARSE_NO_LEADING_ZERO, &v), 0);
        assert_int_equal(v, 0);

        /* range and overflow */
        v = 7;
        assert_int_equal(closer_parse_uint("11", 10, 0, &v), -ERANGE);
        assert_int_equal(closer_parse_uint("18446744073709551616", UINT64_MAX, 0, &v), -ERANGE);
        assert_int_equal(closer_parse_uint("99999999999999999999999", UINT64_MAX, 0, &v), -ERANGE);
        assert_int_equal(v, 7);         /* untouched on failure */

        /* not a number: no sign, no space, no junk, nothing empty */
        static const char *const bad[] = {"", "+1", "-1", " 1", "1 ", "1\n", "\t1", "1a", "a1", "0x10", "1.0",
                                          "1e3", "١", "99999999999999999999999x"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(closer_parse_uint(bad[i], UINT64_MAX, 0, &v), -EINVAL);
        assert_int_equal(closer_parse_uint(NULL, 10, 0, &v), -EINVAL);
        assert_int_equal(v, 7);
}

static void test_uint_n(void **state) {
        (void) state;
        uint64_t v = 0;
        /* exactly len bytes: what follows does not matter */
        assert_int_equal(closer_parse_uint_n("123abc", 3, 1000, 0, &v), 0);
        assert_int_equal(v, 123);
        assert_int_equal(closer_parse_uint_n("123abc", 4, 1000, 0, &v), -EINVAL);
        assert_int_equal(closer_parse_uint_n("123", 0, 1000, 0, &v), -EINVAL);
        /* an embedded NUL is junk */
        assert_int_equal(closer_parse_uint_n("1\0" "2", 3, 1000, 0, &v), -EINVAL);
}

static void test_prefix(void **state) {
        (void) state;
        uint64_t v = 0;
        const char *end = NULL;
        assert_int_equal(closer_parse_uint_prefix("42-7", 100, 0, &v, &end), 0);
        assert_int_equal(v, 42);
        assert_string_equal(end, "-7");
        assert_int_equal(closer_parse_uint_prefix("42", 100, 0, &v, &end), 0);
        assert_string_equal(end, "");
        assert_int_equal(closer_parse_uint_prefix("-42", 100, 0, &v, &end), -EINVAL);
        assert_int_equal(closer_parse_uint_prefix(" 42", 100, 0, &v, &end), -EINVAL);
        assert_int_equal(closer_parse_uint_prefix("", 100, 0, &v, &end), -EINVAL);
        assert_int_equal(closer_parse_uint_prefix("101-", 100, 0, &v, &end), -ERANGE);
        assert_int_equal(closer_parse_uint_prefix("01-", 100, CLOSER_PARSE_NO_LEADING_ZERO, &v, &end), -EINVAL);
}

static void test_int(void **state) {
        (void) state;
        int64_t v = 7;
        assert_int_equal(closer_parse_int("-5", -10, 10, 0, &v), 0);
        assert_int_equal(v, -5);
        assert_int_equal(closer_parse_int("5", -10, 10, 0, &v), 0);
        assert_int_equal(v, 5);
        assert_int_equal(closer_parse_int("-0", -10, 10, 0, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(closer_parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, 0, &v), 0);
        assert_true(v == INT64_MIN);
        assert_int_equal(closer_parse_int("9223372036854775807", INT64_MIN, INT64_MAX, 0, &v), 0);
        assert_true(v == INT64_MAX);
        v = 7;
        assert_int_equal(closer_parse_int("9223372036854775808", INT64_MIN, INT64_MAX, 0, &v), -ERANGE);
        assert_int_equal(closer_parse_int("-9223372036854775809", INT64_MIN, INT64_MAX, 0, &v), -ERANGE);
        assert_int_equal(closer_parse_int("-11", -10, 10, 0, &v), -ERANGE);
        assert_int_equal(closer_parse_int("11", -10, 10, 0, &v), -ERANGE);
        assert_int_equal(closer_parse_int("-1", 0, 10, 0, &v), -ERANGE);
        static const char *const bad[] = {"", "-", "+5", "--5", "- 5", " -5", "-5 ", "5x", "-0x5"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(closer_parse_int(bad[i], -10, 10, 0, &v), -EINVAL);
        assert_int_equal(closer_parse_int("-05", -10, 10, CLOSER_PARSE_NO_LEADING_ZERO, &v), -EINVAL);
        assert_int_equal(v, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uint),
                cmocka_unit_test(test_uint_n),
                cmocka_unit_test(test_prefix),
                cmocka_unit_test(test_int),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
