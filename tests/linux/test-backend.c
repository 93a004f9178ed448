/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend I/O counters per domain (the input of the memory levels, thesis
 * Algorithm 1), on fixture trees with xentop's figures for du1 / du2. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "linux/linux.h"

static closer_root *fixture(const char *name) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", getenv("CLOSER_TEST_DATA"), name);
        closer_root *r;
        assert_int_equal(closer_root_open(path, &r), 0);
        return r;
}

static void test_dom0(void **state) {
        (void) state;
        closer_root *r = fixture("linux-xen-dom0");
        closer_backend_io *io;
        unsigned n;
        assert_int_equal(closer_backend_read_io(r, &io, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(io[0].domid, 1);
        assert_int_equal(io[0].block_ops, 10243 + 512);
        assert_int_equal(io[0].block_bytes, (uint64_t) (1376280 + 131072) * 512);
        assert_int_equal(io[0].net_packets, 120 + 96);
        assert_int_equal(io[0].net_bytes, 10240 + 8192);
        assert_int_equal(io[1].domid, 2);               /* qdisk: no blkback counters */
        assert_int_equal(io[1].block_ops, 0);
        assert_int_equal(io[1].net_bytes, 7168 + 5120);
        free(io);
        closer_root_free(r);
}

static void test_odd_and_absent(void **state) {
        (void) state;
        closer_root *r = fixture("linux-odd");
        closer_backend_io *io;
        unsigned n;
        assert_int_equal(closer_backend_read_io(r, &io, &n), 0);
        assert_int_equal(n, 1);                         /* vbd-0-1 (dom0) and vif-x-0 ignored */
        assert_int_equal(io[0].domid, 3);
        assert_int_equal(io[0].block_ops, 7);           /* "garbage" counts 0 */
        assert_int_equal(io[0].block_bytes, 8 * 512);   /* "-1" counts 0 */
        assert_int_equal(io[0].net_bytes, 0);           /* vif without a net device */
        free(io);
        closer_root_free(r);

        r = fixture("linux-cgroup1");                   /* no xen-backend at all */
        io = (void *) 0x1;
        assert_int_equal(closer_backend_read_io(r, &io, &n), 0);
        assert_int_equal(n, 0);
        assert_null(io);
        closer_root_free(r);
}

/* The one parser of backend names, which `closerctl scan` shares: it used to
 * take its domids with strtol (sign, blanks, any devid), so that scan listed
 * as live a domain whose I/O was never counted. */
static void test_parse_name(void **state) {
        (void) state;
        char type[CLOSER_BACKEND_TYPE_MAX];
        int domid = -5, devid = -5;
        assert_int_equal(closer_backend_parse_name("vbd-3-51712", type, sizeof(type), &domid, &devid), 0);
        assert_string_equal(type, "vbd");
        assert_int_equal(domid, 3);
        assert_int_equal(devid, 51712);
        assert_int_equal(closer_backend_parse_name("vif-32751-0", type, sizeof(type), &domid, &devid), 0);
        assert_int_equal(domid, 32751);
        assert_int_equal(devid, 0);
        assert_int_equal(closer_backend_parse_name("qdisk-1-007", type, sizeof(type), &domid, &devid), 0);
        assert_int_equal(devid, 7);
        assert_int_equal(closer_backend_parse_name("vbd-1-2147483647", type, sizeof(type), &domid, &devid), 0);

        static const char *const bad[] = {
                "vbd-+7-0",             /* strtol took a sign */
                "vbd- 7-0",             /* and leading blanks */
                "vbd-\t7-0",
                "vbd-7-",               /* scan never looked at the devid */
                "vbd-7-x",
                "vbd-7-1x",
                "vbd-7-+1",
                "vbd-7-2147483648",
                "vbd-07-0",             /* "07" is not domain 7 */
                "vbd-0-1",              /* dom0 */
                "vbd-32752-0",          /* reserved domids */
                "vbd-99999999999999999999-0",
                "vbd--7-0",
                "vbd-7",
                "vbd",
                "-7-0x",
                "averyveryverylongtype-7-0",    /* no room for the type */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                domid = devid = -5;
                if (closer_backend_parse_name(bad[i], type, sizeof(type), &domid, &devid) != -EINVAL)
                        fail_msg("accepted \"%s\"", bad[i]);
                assert_int_equal(domid, -5);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dom0),
                cmocka_unit_test(test_odd_and_absent),
                cmocka_unit_test(test_parse_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
