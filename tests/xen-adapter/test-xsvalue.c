/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Values a guest writes into its own xenstore subtree: hostile inputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xen/xen.h"

static int parse(const char *s, uint64_t max, uint64_t *v) {
        return closer_xs_parse_u64(s, strlen(s), max, v);
}

static void test_numbers(void **state) {
        (void) state;
        uint64_t v = 77;
        assert_int_equal(parse("15", UINT32_MAX, &v), 0);
        assert_int_equal(v, 15);
        assert_int_equal(parse("0", UINT32_MAX, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse("0000000000000000000000000042", UINT32_MAX, &v), 0);
        assert_int_equal(v, 42);
        assert_int_equal(parse("18446744073709551615", UINT64_MAX, &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(parse("4294967295", UINT32_MAX, &v), 0);
        assert_true(v == UINT32_MAX);
}

static void test_hostile_numbers(void **state) {
        (void) state;
        uint64_t v = 77;
        const char *not_numbers[] = {
                "", "-1", "+1", " 1", "1 ", "1\n", "0x10", "1e3", "1.0", "abc", "15abc", "１５",
        };
        for (size_t i = 0; i < sizeof(not_numbers) / sizeof(*not_numbers); i++)
                assert_int_equal(parse(not_numbers[i], UINT64_MAX, &v), -EINVAL);
        /* Overflow and limits */
        assert_int_equal(parse("18446744073709551616", UINT64_MAX, &v), -ERANGE);
        assert_int_equal(parse("99999999999999999999", UINT64_MAX, &v), -ERANGE);
        assert_int_equal(parse("4294967296", UINT32_MAX, &v), -ERANGE);
        assert_int_equal(v, 77);                /* untouched on failure */

        /* A value with an embedded NUL: xs_read's length says more than strlen. */
        assert_int_equal(closer_xs_parse_u64("15\0" "99", 5, UINT64_MAX, &v), -EINVAL);
        assert_int_equal(closer_xs_parse_u64(NULL, 0, UINT64_MAX, &v), -EINVAL);

        /* A huge value of digits is too big; of junk, not a number. */
        size_t n = 4096;
        char *big = malloc(n + 1);
        assert_non_null(big);
        memset(big, '9', n);
        big[n] = '\0';
        assert_int_equal(parse(big, UINT64_MAX, &v), -ERANGE);
        big[n - 1] = 'x';
        assert_int_equal(parse(big, UINT64_MAX, &v), -EINVAL);
        free(big);
        assert_int_equal(v, 77);
}

static void test_changing_value(void **state) {
        (void) state;
        /* The same node read twice may hold different values (the guest
         * rewrites it): each read stands alone, the last good one wins. */
        char buf[8] = "15";
        uint64_t v;
        assert_int_equal(closer_xs_parse_u64(buf, strlen(buf), UINT32_MAX, &v), 0);
        assert_int_equal(v, 15);
        memcpy(buf, "-3", 3);
        assert_int_equal(closer_xs_parse_u64(buf, strlen(buf), UINT32_MAX, &v), -EINVAL);
        assert_int_equal(v, 15);
}

static void test_sanitize(void **state) {
        (void) state;
        char buf[CLOSER_NAME_MAX];
        closer_xs_sanitize("web1", 4, buf, sizeof(buf));
        assert_string_equal(buf, "web1");
        closer_xs_sanitize("a\"b\\c\nd\x1b[31me\0f", 15, buf, sizeof(buf));
        assert_string_equal(buf, "a?b?c?d?[31me?f");
        closer_xs_sanitize("h\xc3\xa9", 3, buf, sizeof(buf));
        assert_string_equal(buf, "h??");

        size_t n = 100000;
        char *huge = malloc(n);
        assert_non_null(huge);
        memset(huge, 'A', n);
        closer_xs_sanitize(huge, n, buf, sizeof(buf));
        assert_int_equal(strlen(buf), CLOSER_NAME_MAX - 1);
        free(huge);

        char one[1] = {'x'};
        closer_xs_sanitize("abc", 3, one, 1);
        assert_int_equal(one[0], '\0');
        closer_xs_sanitize(NULL, 0, buf, sizeof(buf));
        assert_string_equal(buf, "");
}

static void test_queue_dir(void **state) {
        (void) state;
        unsigned q = 99;
        assert_int_equal(closer_xs_parse_queue_dir("queue-0", 255, &q), 0);
        assert_int_equal(q, 0);
        assert_int_equal(closer_xs_parse_queue_dir("queue-17", 255, &q), 0);
        assert_int_equal(q, 17);
        assert_int_equal(closer_xs_parse_queue_dir("queue-256", 255, &q), -ERANGE);
        assert_int_equal(closer_xs_parse_queue_dir("queue-99999999999999999999999", 255, &q), -ERANGE);
        assert_int_equal(closer_xs_parse_queue_dir("queue--1", 255, &q), -EINVAL);
        assert_int_equal(closer_xs_parse_queue_dir("queue-", 255, &q), -EINVAL);
        assert_int_equal(closer_xs_parse_queue_dir("queue-1x", 255, &q), -EINVAL);
        assert_int_equal(closer_xs_parse_queue_dir("Queue-1", 255, &q), -EINVAL);
        assert_int_equal(closer_xs_parse_queue_dir("event-channel", 255, &q), -EINVAL);
        assert_int_equal(q, 17);
}

static void test_uuid(void **state) {
        (void) state;
        const uint8_t h[16] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03,
                               0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0xff};
        char buf[37];
        closer_xen_uuid_format(h, buf);
        assert_string_equal(buf, "deadbeef-0001-0203-0405-060708090aff");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_hostile_numbers),
                cmocka_unit_test(test_changing_value),
                cmocka_unit_test(test_sanitize),
                cmocka_unit_test(test_queue_dir),
                cmocka_unit_test(test_uuid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
