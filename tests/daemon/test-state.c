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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_domid_range),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
