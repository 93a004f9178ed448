/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "closer/utf8.h"

static size_t len_of(const char *s) {
        return closer_utf8_seq_len((const unsigned char *) s, strlen(s));
}

static void test_valid(void **state) {
        (void) state;
        assert_int_equal(len_of("a"), 1);
        assert_int_equal(len_of("\xc3\xa9"), 2);                /* é */
        assert_int_equal(len_of("\xe2\x82\xac"), 3);            /* € */
        assert_int_equal(len_of("\xf0\x9f\x98\x80"), 4);        /* U+1F600 */
        assert_int_equal(len_of("\xf4\x8f\xbf\xbf"), 4);        /* U+10FFFF */
}

static void test_invalid(void **state) {
        (void) state;
        assert_int_equal(len_of("\xc0\x80"), 0);                /* overlong NUL */
        assert_int_equal(len_of("\xe0\x80\xaf"), 0);            /* overlong '/' */
        assert_int_equal(len_of("\xed\xa0\x80"), 0);            /* surrogate */
        assert_int_equal(len_of("\xf4\x90\x80\x80"), 0);        /* above U+10FFFF */
        assert_int_equal(len_of("\x80"), 0);                    /* lone continuation */
        assert_int_equal(len_of("\xff"), 0);
        assert_int_equal(len_of("\xe2\x82"), 0);                /* truncated by the string */
        assert_int_equal(closer_utf8_seq_len((const unsigned char *) "\xe2\x82\xac", 2), 0); /* by n */
        assert_int_equal(closer_utf8_seq_len((const unsigned char *) "a", 0), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_invalid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
