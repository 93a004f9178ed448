/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend I/O counters per device (the input of the memory levels, thesis
 * Algorithm 1), on fixture trees with xentop's figures for du1 / du2. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "linux/linux.h"

static closer_root *fixture(const char *name) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", getenv("CLOSER_TEST_DATA"), name);
        closer_root *r;
        assert_int_equal(closer_root_open(path, &r), 0);
        return r;
}

/* One row per kernel device, sorted by domid, kind, devid; summed per
 * domain, xentop's figures. */
static void test_dom0(void **state) {
        (void) state;
        closer_root *r = fixture("linux-xen-dom0");
        closer_backend_io *io;
        unsigned n;
        assert_int_equal(closer_backend_read_io(r, &io, &n), 0);
        assert_int_equal(n, 3);                         /* qdisk-2-51712, console-*: no row */
        assert_int_equal(io[0].domid, 1);
        assert_int_equal(io[0].kind, CLOSER_BACKEND_VBD);
        assert_int_equal(io[0].devid, 51712);
        assert_true(io[0].valid);
        assert_int_equal(io[0].block_ops, 10243 + 512);
        assert_int_equal(io[0].block_bytes, (uint64_t) (1376280 + 131072) * 512);
        assert_int_equal(io[0].net_packets, 0);
        assert_int_equal(io[1].domid, 1);
        assert_int_equal(io[1].kind, CLOSER_BACKEND_VIF);
        assert_int_equal(io[1].devid, 0);
        assert_true(io[1].valid);
        assert_int_equal(io[1].block_ops, 0);
        assert_int_equal(io[1].net_packets, 120 + 96);
        assert_int_equal(io[1].net_bytes, 10240 + 8192);
        assert_int_equal(io[2].domid, 2);
        assert_int_equal(io[2].kind, CLOSER_BACKEND_VIF);
        assert_int_equal(io[2].net_bytes, 7168 + 5120);

        closer_backend_io_by_domain(io, &n);
        assert_int_equal(n, 2);
        assert_int_equal(io[0].domid, 1);
        assert_int_equal(io[0].devid, -1);
        assert_true(io[0].valid);
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

/* A device whose counters cannot all be read or parsed has its row, not
 * valid: the counters read are there, the others 0. */
static void test_odd_and_absent(void **state) {
        (void) state;
        closer_root *r = fixture("linux-odd");
        closer_backend_io *io;
        unsigned n;
        assert_int_equal(closer_backend_read_io(r, &io, &n), 0);
        assert_int_equal(n, 2);                         /* vbd-0-1 (dom0) and vif-x-0 ignored */
        assert_int_equal(io[0].domid, 3);
        assert_int_equal(io[0].kind, CLOSER_BACKEND_VBD);
        assert_false(io[0].valid);
        assert_int_equal(io[0].block_ops, 7);           /* "garbage" counts 0 */
        assert_int_equal(io[0].block_bytes, 8 * 512);   /* "-1" counts 0 */
        assert_int_equal(io[1].domid, 3);
        assert_int_equal(io[1].kind, CLOSER_BACKEND_VIF);
        assert_false(io[1].valid);                      /* vif without a net device */
        assert_int_equal(io[1].net_bytes, 0);
        closer_backend_io_by_domain(io, &n);
        assert_int_equal(n, 1);
        assert_false(io[0].valid);
        assert_int_equal(io[0].block_ops, 7);
        assert_int_equal(io[0].net_bytes, 0);
        free(io);
        closer_root_free(r);

        r = fixture("linux-cgroup1");                   /* no xen-backend at all */
        io = (void *) 0x1;
        assert_int_equal(closer_backend_read_io(r, &io, &n), 0);
        assert_int_equal(n, 0);
        assert_null(io);
        closer_backend_io_by_domain(io, &n);
        assert_int_equal(n, 0);
        closer_root_free(r);
}

/* A tree written by the test: several devices per domain, in no order. */
static char tmp_root[64];

static void put(const char *rel, const char *text) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", tmp_root, rel);
        for (char *p = path + strlen(tmp_root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                (void) mkdir(path, 0755);
                *p = '/';
        }
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void put_vbd(int domid, const char *devid, const char *rd_req) {
        const char *f[] = {"rd_req", "wr_req", "rd_sect", "wr_sect"}, *v[] = {rd_req, "1\n", "2\n", "3\n"};
        char rel[256];
        for (int i = 0; i < 4; i++) {
                snprintf(rel, sizeof(rel), "sys/bus/xen-backend/devices/vbd-%d-%s/statistics/%s", domid, devid, f[i]);
                put(rel, v[i]);
        }
}

static void test_devices(void **state) {
        (void) state;
        strcpy(tmp_root, "/tmp/closer-backend-XXXXXX");
        assert_non_null(mkdtemp(tmp_root));
        put_vbd(7, "51728", "10\n");
        put_vbd(4, "51712", "20\n");
        put_vbd(7, "51712", "30\n");
        put_vbd(7, "0768", "5\n");                     /* not a kernel name: the same device as 768 */
        put_vbd(7, "768", "6\n");
        put("sys/bus/xen-backend/devices/vif-7-1/uevent", "");
        put("sys/class/net/vif7.1/statistics/rx_packets", "4\n");
        put("sys/class/net/vif7.1/statistics/tx_packets", "4\n");
        put("sys/class/net/vif7.1/statistics/rx_bytes", "4\n");  /* tx_bytes: not there */
        put("sys/bus/xen-backend/devices/vif-7-0/uevent", "");
        put("sys/class/net/vif7.0/statistics/rx_packets", "1\n");
        put("sys/class/net/vif7.0/statistics/tx_packets", "2\n");
        put("sys/class/net/vif7.0/statistics/rx_bytes", "3\n");
        put("sys/class/net/vif7.0/statistics/tx_bytes", "4\n");
        put("sys/bus/xen-backend/devices/qdisk-7-5632/uevent", "");

        closer_root *r;
        assert_int_equal(closer_root_open(tmp_root, &r), 0);
        closer_backend_io *io;
        unsigned n;
        assert_int_equal(closer_backend_read_io(r, &io, &n), 0);
        static const struct {
                int domid;
                closer_backend_kind kind;
                int devid;
                bool valid;
                uint64_t ops;
        } want[] = {
                {4, CLOSER_BACKEND_VBD, 51712, true, 21},
                {7, CLOSER_BACKEND_VBD, 768, true, 5 + 1 + 6 + 1},
                {7, CLOSER_BACKEND_VBD, 51712, true, 31},
                {7, CLOSER_BACKEND_VBD, 51728, true, 11},
                {7, CLOSER_BACKEND_VIF, 0, true, 3},
                {7, CLOSER_BACKEND_VIF, 1, false, 8},
        };
        assert_int_equal(n, sizeof(want) / sizeof(want[0]));
        for (unsigned i = 0; i < n; i++) {
                assert_int_equal(io[i].domid, want[i].domid);
                assert_int_equal(io[i].kind, want[i].kind);
                assert_int_equal(io[i].devid, want[i].devid);
                assert_int_equal(io[i].valid, want[i].valid);
                assert_int_equal(io[i].block_ops + io[i].net_packets, want[i].ops);
        }
        assert_int_equal(io[2].block_bytes, (2 + 3) * 512);
        assert_int_equal(io[4].net_bytes, 7);

        closer_backend_io_by_domain(io, &n);
        assert_int_equal(n, 2);
        assert_int_equal(io[0].domid, 4);
        assert_int_equal(io[1].domid, 7);
        assert_false(io[1].valid);
        assert_int_equal(io[1].block_ops, 13 + 31 + 11);
        assert_int_equal(io[1].block_bytes, 4 * (2 + 3) * 512);
        assert_int_equal(io[1].net_packets, 3 + 8);
        free(io);
        closer_root_free(r);

        char *argv[] = {"rm", "-rf", tmp_root, NULL};
        pid_t pid;
        if (posix_spawnp(&pid, "rm", NULL, NULL, argv, NULL) == 0)
                waitpid(pid, NULL, 0);
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
                cmocka_unit_test(test_devices),
                cmocka_unit_test(test_parse_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
