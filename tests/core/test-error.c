/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "closer/error.h"

/* An error message is one line even when it quotes hostile input (found by
 * fuzzing the scenario reader: jansson quotes the bytes near a bad escape). */
static void test_one_line(void **state) {
        (void) state;
        closer_error err;
        assert_int_equal(closer_error_set(&err, -EINVAL, "f.json:4:0: invalid JSON: %s", "near '\"\\u0\n'\x1b[2J"), -EINVAL);
        assert_null(strchr(err.msg, '\n'));
        assert_null(strchr(err.msg, '\x1b'));
        assert_string_equal(err.msg, "f.json:4:0: invalid JSON: near '\"\\u0?'?[2J");
        assert_int_equal(closer_error_set(NULL, -ENOENT, "x"), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
