/* SPDX-License-Identifier: GPL-2.0-or-later */
/* systemd's units as closer uses them: CPU sets as D-Bus "ay" bitmasks both
 * ways, unit names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "closer/units.h"

static void mask_of(const char *list, const uint8_t *want, int want_n) {
        closer_cpuset s, back;
        uint8_t buf[CLOSER_BITMASK_MAX];
        memset(buf, 0xaa, sizeof(buf));
        assert_int_equal(closer_cpuset_parse(list, &s), 0);
        assert_int_equal(closer_cpuset_to_bitmask(&s, buf, sizeof(buf)), want_n);
        if (want_n > 0)
                assert_memory_equal(buf, want, (size_t) want_n);
        assert_int_equal(closer_cpuset_from_bitmask(buf, (size_t) want_n, &back), 0);
        assert_true(closer_cpuset_equal(&s, &back));
}

static void test_bitmask(void **state) {
        (void) state;
        mask_of("", NULL, 0);                                   /* empty: no byte */
        mask_of("0", (const uint8_t[]) {0x01}, 1);              /* CPU 0: bit 0 of byte 0 */
        mask_of("0-1", (const uint8_t[]) {0x03}, 1);
        mask_of("7", (const uint8_t[]) {0x80}, 1);
        mask_of("8", (const uint8_t[]) {0x00, 0x01}, 2);
        mask_of("0,9-10", (const uint8_t[]) {0x01, 0x06}, 2);
        mask_of("63", (const uint8_t[]) {0, 0, 0, 0, 0, 0, 0, 0x80}, 8);
        mask_of("64", (const uint8_t[]) {0, 0, 0, 0, 0, 0, 0, 0, 0x01}, 9);
        mask_of("63-64", (const uint8_t[]) {0, 0, 0, 0, 0, 0, 0, 0x80, 0x01}, 9);

        /* the largest set fits CLOSER_BITMASK_MAX bytes; a shorter buffer is refused */
        closer_cpuset s;
        uint8_t buf[CLOSER_BITMASK_MAX], small[8];
        assert_int_equal(closer_cpuset_parse("4095", &s), 0);
        assert_int_equal(closer_cpuset_to_bitmask(&s, buf, sizeof(buf)), (int) CLOSER_BITMASK_MAX);
        assert_int_equal(buf[CLOSER_BITMASK_MAX - 1], 0x80);
        assert_int_equal(closer_cpuset_parse("64", &s), 0);
        assert_int_equal(closer_cpuset_to_bitmask(&s, small, sizeof(small)), -ENOSPC);

        /* from systemd: trailing zero bytes are fine, bits past the set's size are not */
        closer_cpuset got, keep;
        assert_int_equal(closer_cpuset_parse("3", &keep), 0);
        got = keep;
        assert_int_equal(closer_cpuset_from_bitmask((const uint8_t[]) {0x04, 0, 0}, 3, &got), 0);
        assert_int_equal(closer_cpuset_first(&got), 2);
        assert_int_equal(closer_cpuset_count(&got), 1);
        uint8_t big[CLOSER_BITMASK_MAX + 1];
        memset(big, 0, sizeof(big));
        big[CLOSER_BITMASK_MAX] = 0x01;                         /* CPU 4096 */
        got = keep;
        assert_int_equal(closer_cpuset_from_bitmask(big, sizeof(big), &got), -ERANGE);
        assert_true(closer_cpuset_equal(&got, &keep));          /* untouched */
        big[CLOSER_BITMASK_MAX] = 0;
        assert_int_equal(closer_cpuset_from_bitmask(big, sizeof(big), &got), 0);
        assert_true(closer_cpuset_is_empty(&got));
}

static void test_names(void **state) {
        (void) state;
        assert_true(closer_unit_name_valid("system.slice"));
        assert_true(closer_unit_name_valid("init.scope"));
        assert_true(closer_unit_name_valid("closer-node0-vm4.scope"));
        assert_true(closer_unit_name_valid("getty@tty1.service"));
        assert_true(closer_unit_name_valid("dev-disk-by\\x2duuid.device"));
        assert_false(closer_unit_name_valid(NULL));
        assert_false(closer_unit_name_valid(""));
        assert_false(closer_unit_name_valid("system"));
        assert_false(closer_unit_name_valid(".slice"));
        assert_false(closer_unit_name_valid("-x.slice"));
        assert_false(closer_unit_name_valid("system.sliced"));
        assert_false(closer_unit_name_valid("/system.slice"));
        assert_false(closer_unit_name_valid("../system.slice"));
        assert_false(closer_unit_name_valid("a b.slice"));
        assert_false(closer_unit_name_valid("a\n.slice"));
        assert_false(closer_unit_name_valid("a;b.slice"));
        char name[300];
        memset(name, 'a', sizeof(name));
        strcpy(name + 250, ".slice");                           /* 256 characters */
        assert_false(closer_unit_name_valid(name));
        strcpy(name + 249, ".slice");                           /* 255 */
        assert_true(closer_unit_name_valid(name));

        char buf[64];
        assert_int_equal(closer_unit_scope_name(0, 4, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "closer-node0-vm4.scope");
        assert_true(closer_unit_name_valid(buf));
        assert_int_equal(closer_unit_scope_name(-1, 4, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(closer_unit_scope_name(0, -1, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(closer_unit_scope_name(0, 4, buf, 8), -ENAMETOOLONG);
        for (unsigned i = 0; i < CLOSER_MAIN_UNITS_N; i++)
                assert_true(closer_unit_name_valid(closer_main_units[i]));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bitmask),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
