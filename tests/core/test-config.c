/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "closer/config.h"

/* The closer.conf example of docs/formats.md, verbatim: it documents the
 * defaults. */
static const char formats_example[] =
        "[main]\n"
        "profile = openstack        ; openstack | opennebula | eucalyptus | oracle | custom\n"
        "# vcpus = 2                ; for custom (and to override a profile)\n"
        "# mem_mib = 2048\n"
        "node = 0                   ; where the main container lives\n"
        "\n"
        "[memory]\n"
        "eps_mib = 75               ; per-socket contribution of each VM at start\n"
        "floor_mib = 128            ; never balloon a VM below this\n"
        "levels = 0:0, 2000:64, 10000:256   ; io ops/s threshold : extra MiB reserved in dom0\n"
        "hysteresis_pct = 20\n"
        "\n"
        "[cpu]\n"
        "charge = meter             ; meter | cap  (cap: enforce dom0 work inside the VM's quota)\n";

static void assert_config_equal(const closer_config *a, const closer_config *b) {
        assert_int_equal(a->profile, b->profile);
        assert_int_equal(a->main_vcpus, b->main_vcpus);
        assert_int_equal(a->main_mem_mib, b->main_mem_mib);
        assert_int_equal(a->main_node, b->main_node);
        assert_int_equal(a->eps_mib, b->eps_mib);
        assert_int_equal(a->floor_mib, b->floor_mib);
        assert_int_equal(a->n_levels, b->n_levels);
        for (unsigned i = 0; i < CLOSER_LEVELS_MAX; i++) {
                assert_true(a->levels[i].min_ops_per_s == b->levels[i].min_ops_per_s);
                assert_int_equal(a->levels[i].extra_mib, b->levels[i].extra_mib);
        }
        assert_int_equal(a->hysteresis_pct, b->hysteresis_pct);
        assert_int_equal(a->charge, b->charge);
}

static closer_config parse_ok(const char *text) {
        closer_config c;
        closer_error e = {};
        closer_config_defaults(&c);
        int r = closer_config_parse(text, "t.conf", &c, &e);
        if (r != 0)
                fail_msg("unexpected rejection: %s", e.msg);
        return c;
}

static void test_defaults(void **state) {
        (void) state;
        closer_config d, c;
        closer_config_defaults(&d);
        assert_int_equal(d.profile, CLOSER_PROFILE_OPENSTACK);
        assert_int_equal(d.main_node, 0);
        assert_int_equal(d.eps_mib, 75);
        assert_int_equal(d.floor_mib, 128);
        assert_int_equal(d.n_levels, 3);
        assert_true(d.levels[1].min_ops_per_s == 2000);
        assert_int_equal(d.levels[2].extra_mib, 256);
        assert_int_equal(d.hysteresis_pct, 20);
        assert_int_equal(d.charge, CLOSER_CHARGE_METER);

        /* the documented example spells out exactly the defaults */
        c = parse_ok(formats_example);
        assert_config_equal(&c, &d);
        /* and an empty file changes nothing */
        c = parse_ok("");
        assert_config_equal(&c, &d);
        c = parse_ok("; just a comment\n# another\n\n[main]\n");
        assert_config_equal(&c, &d);
}

static void test_values(void **state) {
        (void) state;
        closer_config c = parse_ok(
                "\xEF\xBB\xBF[memory]\n"                        /* a UTF-8 BOM is allowed */
                "levels = 0:0,500.5:16 ,  4000:128,9000:128\n"
                "eps_mib = 0 # none at start\n"
                "hysteresis_pct=0\n"
                "[cpu]\n"
                "charge = cap\n"
                "[main]\n"
                "profile = eucalyptus\n"
                "node = 3\n");
        assert_int_equal(c.n_levels, 4);
        assert_true(c.levels[1].min_ops_per_s == 500.5);
        assert_int_equal(c.levels[1].extra_mib, 16);
        assert_true(c.levels[3].min_ops_per_s == 9000);
        assert_int_equal(c.levels[3].extra_mib, 128);
        assert_int_equal(c.levels[4].extra_mib, 0);
        assert_int_equal(c.eps_mib, 0);
        assert_int_equal(c.hysteresis_pct, 0);
        assert_int_equal(c.charge, CLOSER_CHARGE_CAP);
        assert_int_equal(c.profile, CLOSER_PROFILE_EUCALYPTUS);
        assert_int_equal(c.main_node, 3);
        assert_int_equal(c.floor_mib, 128);            /* untouched keys keep their value */

        c = parse_ok("[memory]\nlevels = 0:32\n");
        assert_int_equal(c.n_levels, 1);
        assert_int_equal(c.levels[0].extra_mib, 32);
        assert_int_equal(c.levels[1].extra_mib, 0);     /* the old levels are gone */
}

static void test_profiles(void **state) {
        (void) state;
        static const struct {
                const char *name;
                closer_profile p;
                unsigned vcpus;
                uint64_t mib;
        } table[] = {
                /* thesis table 3.2 */
                {"openstack", CLOSER_PROFILE_OPENSTACK, 2, 2048},
                {"opennebula", CLOSER_PROFILE_OPENNEBULA, 2, 1894},
                {"eucalyptus", CLOSER_PROFILE_EUCALYPTUS, 1, 1536},
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                char text[64];
                snprintf(text, sizeof(text), "[main]\nprofile = %s\n", table[i].name);
                closer_config c = parse_ok(text);
                assert_int_equal(c.profile, table[i].p);
                assert_string_equal(closer_profile_to_string(c.profile), table[i].name);
                assert_int_equal(closer_config_main_vcpus(&c), table[i].vcpus);
                /* fixed sizes do not depend on the host */
                assert_int_equal(closer_config_main_mem_mib(&c, 40960), table[i].mib);
                assert_int_equal(closer_config_main_mem_mib(&c, 1 << 20), table[i].mib);
        }

        /* Oracle: 502 + int(0.0205 * host MiB), computed by hand */
        closer_config o = parse_ok("[main]\nprofile = oracle\n");
        assert_string_equal(closer_profile_to_string(o.profile), "oracle");
        assert_int_equal(closer_config_main_vcpus(&o), 2);
        assert_int_equal(closer_config_main_mem_mib(&o, 40960), 1341);        /* 502 + 839 (839.68) */
        assert_int_equal(closer_config_main_mem_mib(&o, 0), 502);
        assert_int_equal(closer_config_main_mem_mib(&o, 2048), 543);          /* 502 + 41 (41.984) */
        assert_int_equal(closer_config_main_mem_mib(&o, 10000), 707);         /* 502 + 205 exactly */
        assert_int_equal(closer_config_main_mem_mib(&o, 262144), 5875);       /* 256 GiB: 502 + 5373 (5373.952) */
        assert_int_equal(closer_config_main_mem_mib(&o, 1048576), 21997);     /* 1 TiB: 502 + 21495 (21495.808) */
        assert_true(closer_config_main_mem_mib(&o, UINT64_MAX) > 502);        /* saturates, no wrap */

        /* overrides win over the profile */
        o = parse_ok("[main]\nprofile = oracle\nvcpus = 4\nmem_mib = 4096\n");
        assert_int_equal(closer_config_main_vcpus(&o), 4);
        assert_int_equal(closer_config_main_mem_mib(&o, 40960), 4096);
        o = parse_ok("[main]\nvcpus = 3\n");
        assert_int_equal(o.profile, CLOSER_PROFILE_OPENSTACK);
        assert_int_equal(closer_config_main_vcpus(&o), 3);
        assert_int_equal(closer_config_main_mem_mib(&o, 40960), 2048);

        o = parse_ok("[main]\nprofile = custom\nvcpus = 6\nmem_mib = 3000\n");
        assert_int_equal(closer_config_main_vcpus(&o), 6);
        assert_int_equal(closer_config_main_mem_mib(&o, 40960), 3000);
        /* order does not matter */
        o = parse_ok("[main]\nmem_mib = 1000\nvcpus = 1\nprofile = custom\n");
        assert_int_equal(closer_config_main_mem_mib(&o, 1), 1000);
        assert_string_equal(closer_profile_to_string((closer_profile) 99), "unknown");
}

static const struct {
        const char *text;
        const char *want;       /* the exact prefix of the message */
} bad[] = {
        {"[main]\nprofile = custom\n", "t.conf:2: [main] profile: expected vcpus and mem_mib"},
        {"[main]\nprofile = custom\nvcpus = 2\n", "t.conf:2: [main] profile: expected mem_mib"},
        {"[main]\nmem_mib = 2\n\nprofile = custom\n", "t.conf:4: [main] profile: expected vcpus in [main]"},
        {"[main]\nprofile = vmware\n", "t.conf:2: [main] profile: expected openstack, opennebula"},
        {"[main]\nprofile = OpenStack\n", "t.conf:2: [main] profile: expected"},
        {"[main]\nvcpus = 0\n", "t.conf:2: [main] vcpus: expected an integer in 1..4096, got \"0\""},
        {"[main]\nvcpus = -2\n", "t.conf:2: [main] vcpus: expected an integer"},
        {"[main]\nvcpus = 2.5\n", "t.conf:2: [main] vcpus: expected an integer"},
        {"[main]\nvcpus =\n", "t.conf:2: [main] vcpus: expected an integer"},
        {"[main]\nvcpus = 2 cpus\n", "t.conf:2: [main] vcpus: expected an integer"},
        {"[main]\nmem_mib = 99999999999999999999999\n", "t.conf:2: [main] mem_mib: expected an integer"},
        {"[main]\nnode = 1024\n", "t.conf:2: [main] node: expected an integer in 0..1023"},
        {"[main]\nnodes = 1\n", "t.conf:2: [main] nodes: expected one of profile, vcpus, mem_mib, node"},
        {"[main]\neps_mib = 1\n", "t.conf:2: [main] eps_mib: expected one of"},
        {"[mian]\nnode = 1\n", "t.conf:1: [mian]: expected a section [main], [memory] or [cpu]"},
        {"[extra]\n", "t.conf:1: [extra]: expected a section"},
        {"  [extra]\n", "t.conf:1: [extra]: expected a section"},
        {"[main]\n[ main ]\n", "t.conf:2: [ main ]: expected a section"},
        {"node = 1\n", "t.conf:1: [] node: expected a key inside [main]"},
        {"[memory]\nhysteresis_pct = 100\n", "t.conf:2: [memory] hysteresis_pct: expected an integer in 0..99"},
        {"[memory]\nfloor_mib = -1\n", "t.conf:2: [memory] floor_mib: expected an integer"},
        {"[memory]\nlevels = 0:0, 2000:64, 1000:128\n",
         "t.conf:2: [memory] levels: expected increasing thresholds, 1000 follows 2000"},
        {"[memory]\nlevels = 0:0, 2000:64, 2000:128\n", "t.conf:2: [memory] levels: expected increasing"},
        {"[memory]\nlevels = 10:0, 2000:64\n", "t.conf:2: [memory] levels: expected the first level at 0"},
        {"[memory]\nlevels = 0:0, 2000:64, 3000:32\n", "t.conf:2: [memory] levels: expected non-decreasing MiB"},
        {"[memory]\nlevels = 0:0, 2000\n", "t.conf:2: [memory] levels: expected OPS:MIB pairs"},
        {"[memory]\nlevels = 0:0,, 2000:1\n", "t.conf:2: [memory] levels: expected OPS:MIB pairs"},
        {"[memory]\nlevels = 0:0, x:1\n", "t.conf:2: [memory] levels: level 1: expected an I/O rate"},
        {"[memory]\nlevels = 0:0, 1e3:1\n", "t.conf:2: [memory] levels: level 1: expected an I/O rate"},
        {"[memory]\nlevels = 0:0, 100:-1\n", "t.conf:2: [memory] levels: level 1: expected MiB"},
        {"[memory]\nlevels =\n", "t.conf:2: [memory] levels: expected at least one level"},
        {"[memory]\nlevels = 0:0,1:1,2:2,3:3,4:4,5:5,6:6,7:7,8:8,9:9,10:10,11:11,12:12,13:13,14:14,15:15,16:16\n",
         "t.conf:2: [memory] levels: expected at most 16 levels"},
        {"[cpu]\ncharge = bill\n", "t.conf:2: [cpu] charge: expected meter or cap, got \"bill\""},
        {"[main]\nnode = 1\nnode = 2\n", "t.conf:3: [main] node: expected once, already set on line 2"},
        {"[main]\nprofile = oracle\n  vcpus = 2\n", "t.conf:3: expected a key or a section at the start"},
        /* closer.conf(5) forbids indented lines; inih took this one as a key */
        {"[main]\n  node = 1\n", "t.conf:2: expected a key or a section at the start of the line (indented"},
        {"[main]\n\tnode = 1\n", "t.conf:2: expected a key or a section"},
        {"  [main]\nnode = 1\n", "t.conf:1: expected a key or a section"},
        {"[main]\nthis is not ini\n", "t.conf:2: expected \"key = value\", \"[section]\" or a comment"},
        {"[main\nnode = 1\n", "t.conf:1: expected \"key = value\""},
        /* the first error wins, whichever kind it is */
        {"[main]\ngarbage\nnode = 9999\n", "t.conf:2: expected \"key = value\""},
        {"[main]\nnode = 9999\ngarbage\n", "t.conf:2: [main] node: expected"},
};

static void test_rejections(void **state) {
        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                closer_config c, before;
                closer_error e = {};
                closer_config_defaults(&c);
                c.main_node = 7;                        /* not a default: must survive */
                before = c;
                int r = closer_config_parse(bad[i].text, "t.conf", &c, &e);
                if (r != -EINVAL)
                        fail_msg("case %zu: expected -EINVAL, got %d for:\n%s", i, r, bad[i].text);
                if (strncmp(e.msg, bad[i].want, strlen(bad[i].want)) != 0)
                        fail_msg("case %zu:\n  got  \"%s\"\n  want \"%s...\"", i, e.msg, bad[i].want);
                assert_null(strchr(e.msg, '\n'));
                assert_config_equal(&c, &before);       /* unchanged on failure */
        }
}

/* A NUL byte used to end the file there, silently: what followed it was
 * not read, and a file "[main]\0..." was the defaults. */
static void test_nul_byte(void **state) {
        (void) state;
        static const char text[] = "[main]\nprofile = eucalyptus\n\0node = 1\n";
        closer_config c;
        closer_error e = {};
        closer_config_defaults(&c);
        assert_int_equal(closer_config_parse_buffer(text, sizeof(text) - 1, "t.conf", &c, &e), -EINVAL);
        assert_string_equal(e.msg, "t.conf:3: expected text, found a NUL byte");
        assert_int_equal(c.profile, CLOSER_PROFILE_OPENSTACK);
        /* without one, the buffer form is the string form */
        assert_int_equal(closer_config_parse_buffer(text, 28, "t.conf", &c, &e), 0);
        assert_int_equal(c.profile, CLOSER_PROFILE_EUCALYPTUS);
}

/* Error lines quote the input: never a byte that is not UTF-8 (a raw 0xff
 * would reach a terminal or a JSON answer as garbage). */
static void test_error_is_utf8(void **state) {
        (void) state;
        closer_config c;
        closer_error e = {};
        closer_config_defaults(&c);
        assert_int_equal(closer_config_parse("[cpu]\ncharge = \xff\xfe caf\xc3\xa9\n", "t.conf", &c, &e), -EINVAL);
        assert_null(strchr(e.msg, '\xff'));
        assert_null(strchr(e.msg, '\xfe'));
        assert_non_null(strstr(e.msg, "\"?? caf\xc3\xa9\""));
}

static void test_long_lines(void **state) {
        (void) state;
        closer_config c;
        closer_error e = {};
        char text[1024];

        /* inih splits lines longer than its buffer; we refuse them instead */
        snprintf(text, sizeof(text), "[main]\n; %0300d\nnode = 1\n", 0);
        closer_config_defaults(&c);
        assert_int_equal(closer_config_parse(text, "t.conf", &c, &e), -EINVAL);
        assert_string_equal(e.msg, "t.conf:2: expected a line of at most 198 characters");
        assert_int_equal(c.main_node, 0);

        /* a long but legal line, CRLF line ends and no final newline */
        c = parse_ok("[memory]\r\nlevels = 0:0, 1000:1, 2000:2, 3000:3, 4000:4, 5000:5, 6000:6, 7000:7, "
                     "8000:8, 9000:9, 10000:10, 11000:11, 12000:12\r\nfloor_mib = 64");
        assert_int_equal(c.n_levels, 13);
        assert_int_equal(c.levels[12].extra_mib, 12);
        assert_int_equal(c.floor_mib, 64);

        /* NULL text and source are tolerated */
        closer_config_defaults(&c);
        assert_int_equal(closer_config_parse(NULL, NULL, &c, &e), 0);
        assert_int_equal(closer_config_parse("[x]\n", NULL, &c, NULL), -EINVAL);
        assert_int_equal(closer_config_parse("[x]\n", NULL, &c, &e), -EINVAL);
        assert_string_equal(e.msg, "<config>:1: [x]: expected a section [main], [memory] or [cpu]");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_profiles),
                cmocka_unit_test(test_rejections),
                cmocka_unit_test(test_long_lines),
                cmocka_unit_test(test_nul_byte),
                cmocka_unit_test(test_error_is_utf8),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
