/* SPDX-License-Identifier: GPL-2.0-or-later */
/* closer_strbuf: appends, printf growth, steal, and the sticky failure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/strbuf.h"

static void test_append(void **state) {
        (void) state;
        closer_strbuf b = {};

        closer_strbuf_append(&b, "abc");
        closer_strbuf_append_n(&b, "defXYZ", 3);
        closer_strbuf_printf(&b, "-%d-%s", 42, "x");
        assert_false(b.oom);
        assert_int_equal(b.len, 11);
        assert_string_equal(b.s, "abcdef-42-x");
        char *s = closer_strbuf_steal(&b);
        assert_string_equal(s, "abcdef-42-x");
        assert_null(b.s);
        assert_int_equal(b.len, 0);
        free(s);

        /* nothing appended: "" (not NULL) */
        s = closer_strbuf_steal(&b);
        assert_non_null(s);
        assert_string_equal(s, "");
        free(s);
}

static void test_grow(void **state) {
        (void) state;
        closer_strbuf b = {};
        char line[100];
        memset(line, 'a', sizeof(line) - 1);
        line[sizeof(line) - 1] = '\0';
        /* past the first 4096 bytes, through printf and append alike */
        for (int i = 0; i < 1000; i++) {
                if (i % 2)
                        closer_strbuf_printf(&b, "%s\n", line);
                else {
                        closer_strbuf_append(&b, line);
                        closer_strbuf_append(&b, "\n");
                }
        }
        assert_false(b.oom);
        assert_int_equal(b.len, 100000);
        assert_int_equal(strlen(b.s), 100000);
        assert_true(b.cap > b.len);
        /* one printf far larger than the buffer */
        char *big = malloc(70000);
        assert_non_null(big);
        memset(big, 'b', 69999);
        big[69999] = '\0';
        closer_strbuf_printf(&b, "[%s]", big);
        assert_int_equal(b.len, 170001);
        assert_int_equal(b.s[100000], '[');
        assert_int_equal(b.s[170000], ']');
        assert_int_equal(b.s[170001], '\0');
        free(big);
        closer_strbuf_done(&b);
        assert_null(b.s);
        closer_strbuf_done(&b);         /* twice: harmless */
}

static void test_failure(void **state) {
        (void) state;
        closer_strbuf b = {};
        closer_strbuf_append(&b, "kept?");
        /* a length that cannot be added without overflow: refused, sticky */
        closer_strbuf_append_n(&b, "x", SIZE_MAX - 2);
        assert_true(b.oom);
        closer_strbuf_append(&b, "more");
        closer_strbuf_printf(&b, "%d", 1);
        assert_int_equal(b.len, 5);
        /* steal gives NULL and frees what there was */
        assert_null(closer_strbuf_steal(&b));
        assert_null(b.s);
        assert_false(b.oom);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_append),
                cmocka_unit_test(test_grow),
                cmocka_unit_test(test_failure),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
