/* SPDX-License-Identifier: GPL-2.0-or-later */
/* closer-state/1 on load: what it takes back, and the domids it refuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/state.h"

static int load_text(const char *text, closer_state **ret) {
        char path[] = "/tmp/closer-state-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        closer_error err = {0};
        int r = closer_state_load(path, ret, &err);
        unlink(path);
        return r;
}

#define UUID "\"00000000-0000-0000-0000-000000000001\""

/* Xen's DOMID_FIRST_RESERVED is 0x7ff0 (32752): no domain has it or more, so
 * a state file naming one is not closer's. 0x7fef is the last valid domid. */
static void test_domid_range(void **state) {
        (void) state;
        closer_state *st = NULL;

        assert_int_equal(load_text("{\"format\": \"closer-state/1\", \"mem\": [{\"domid\": 32751, \"uuid\": " UUID
                                   ", \"target_kib\": 1024}], \"caps\": [{\"domid\": 32751, \"uuid\": " UUID
                                   ", \"cap_pct\": 50}]}",
                                   &st),
                         0);
        assert_non_null(closer_state_find_mem(st, 32751));
        assert_non_null(closer_state_find_cap(st, 32751));
        closer_state_free(st);

        st = NULL;
        assert_int_equal(load_text("{\"format\": \"closer-state/1\", \"mem\": [{\"domid\": 32752, \"uuid\": " UUID
                                   ", \"target_kib\": 1024}]}",
                                   &st),
                         -EINVAL);
        assert_null(st);
        assert_int_equal(load_text("{\"format\": \"closer-state/1\", \"caps\": [{\"domid\": 32752, \"uuid\": " UUID
                                   ", \"cap_pct\": 50}]}",
                                   &st),
                         -EINVAL);
        assert_null(st);
        assert_int_equal(load_text("{\"format\": \"closer-state/1\", \"mem\": [{\"domid\": 65535, \"uuid\": " UUID
                                   ", \"target_kib\": 1024}]}",
                                   &st),
                         -EINVAL);
        /* dom0 has a memory target, never a cap */
        assert_int_equal(load_text("{\"format\": \"closer-state/1\", \"mem\": [{\"domid\": 0, \"uuid\": " UUID
                                   ", \"target_kib\": 1024}]}",
                                   &st),
                         0);
        closer_state_free(st);
        st = NULL;
        assert_int_equal(load_text("{\"format\": \"closer-state/1\", \"caps\": [{\"domid\": 0, \"uuid\": " UUID
                                   ", \"cap_pct\": 50}]}",
                                   &st),
                         -EINVAL);
        assert_null(st);
}

/* The AllowedCPUs= of systemd units as found: saved, loaded back, and only
 * for plain unit names; a file of an older closerd (no "units") loads. */
static void test_units(void **state) {
        (void) state;
        char path[] = "/tmp/closer-state-units-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        closer_state *st = closer_state_new(), *back = NULL;
        closer_cpuset cpus, none;
        closer_error err = {0};

        assert_non_null(st);
        assert_int_equal(closer_cpuset_parse("0-1,63-64", &cpus), 0);
        closer_cpuset_zero(&none);
        assert_int_equal(closer_state_add_unit(st, "system.slice", &cpus), 1);
        assert_int_equal(closer_state_add_unit(st, "init.scope", &none), 1);
        assert_int_equal(closer_state_add_unit(st, "system.slice", &none), 0);   /* the first value stays */
        assert_int_equal(closer_state_add_unit(st, "../etc/passwd", &none), -EINVAL);
        assert_int_equal(closer_state_add_unit(st, "system", &none), -EINVAL);
        assert_int_equal(closer_state_save(st, path), 0);
        assert_int_equal(closer_state_load(path, &back, &err), 0);
        unlink(path);
        assert_int_equal(back->n_units, 2);
        const closer_saved_unit *u = closer_state_find_unit(back, "system.slice");
        assert_non_null(u);
        assert_true(closer_cpuset_equal(&u->cpus, &cpus));
        u = closer_state_find_unit(back, "init.scope");
        assert_non_null(u);
        assert_true(closer_cpuset_is_empty(&u->cpus));
        closer_state_drop_unit(back, "init.scope");
        assert_null(closer_state_find_unit(back, "init.scope"));
        closer_state_free(back);
        closer_state_free(st);

        back = NULL;
        assert_int_equal(load_text("{\"format\": \"closer-state/1\", \"threads\": [], \"cgroups\": []}", &back), 0);
        assert_int_equal(back->n_units, 0);
        closer_state_free(back);

        static const char *const bad_names[] = {
                "\"../../sys/fs/cgroup\"", "\"/system.slice\"", "\"system.slice;reboot\"", "\"a b.slice\"",
                "\"\"", "\"system.nothing\"", "\".slice\"", "\"-x.slice\"", "42",
        };
        for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
                char text[256];
                snprintf(text, sizeof(text),
                         "{\"format\": \"closer-state/1\", \"units\": [{\"unit\": %s, \"allowed_cpus\": \"0\"}]}",
                         bad_names[i]);
                back = NULL;
                assert_int_equal(load_text(text, &back), -EINVAL);
                assert_null(back);
        }
        back = NULL;
        assert_int_equal(load_text("{\"format\": \"closer-state/1\", \"units\": [{\"unit\": \"user.slice\", "
                                   "\"allowed_cpus\": \"x\"}]}",
                                   &back),
                         -EINVAL);
        assert_int_equal(load_text("{\"format\": \"closer-state/1\", \"units\": {}}", &back), -EINVAL);
        assert_null(back);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_domid_range),
                cmocka_unit_test(test_units),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
