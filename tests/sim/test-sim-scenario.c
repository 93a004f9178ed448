/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The scenario reader: good files parse, every bad key is named. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim-embedded.h"
#include "sim/sim.h"

#define GOOD                                                                                               \
        "{\"format\": \"closer-sim-scenario/1\", \"name\": \"t1\", \"title\": \"T\", \"group\": \"evaluation\", " \
        "\"parameters\": {\"mem.remote_bw_ratio\": 0.4, \"workload.io_vms\": 3}, "                            \
        "\"sweep\": {\"parameter\": \"io.record_kib\", \"values\": [4, 64]}, \"metric\": \"io_mib_s\", "      \
        "\"x\": {\"label\": \"record\", \"unit\": \"KiB\"}, \"y\": {\"label\": \"bw\", \"unit\": \"MiB/s\"}, " \
        "\"summary\": {\"metric\": \"m\", \"better\": \"higher\", \"at\": \"mean\", \"average\": true}}"

static void test_good(void **state) {
        closer_sim_scenario sc;
        closer_error err = {{0}};
        assert_int_equal(closer_sim_scenario_parse(GOOD, "t1.json", &sc, &err), 0);
        assert_string_equal(sc.name, "t1");
        assert_true(sc.cfg.mem_remote_bw_ratio == 0.4);
        assert_true(sc.cfg.w_io_vms == 3);
        assert_string_equal(sc.sweep->name, "io.record_kib");
        assert_int_equal(sc.n_values, 2);
        assert_true(sc.values[1] == 64);
        assert_int_equal(sc.metric, CLOSER_SIM_M_IO_MIB_S);
        assert_true(sc.higher_is_better && sc.in_average && sc.in_summary && !sc.summary_at_last);
        /* untouched parameters keep their defaults */
        closer_sim_config d;
        closer_sim_config_defaults(&d);
        assert_true(sc.cfg.mem_remote_latency_ratio == d.mem_remote_latency_ratio);
}

/* Replace the first occurrence of `from` in GOOD by `to`, parse, and check
 * the error names the file and the path. */
static void expect_error(const char *from, const char *to, const char *path) {
        char text[4096];
        const char *good = GOOD;
        const char *at = strstr(good, from);
        assert_non_null(at);
        snprintf(text, sizeof(text), "%.*s%s%s", (int) (at - good), good, to, at + strlen(from));
        closer_sim_scenario sc;
        closer_error err = {{0}};
        assert_int_equal(closer_sim_scenario_parse(text, "bad.json", &sc, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "bad.json: "));
        if (!strstr(err.msg, path))
                fail_msg("error '%s' does not name %s", err.msg, path);
        assert_null(strchr(err.msg, '\n'));
}

static void test_errors(void **state) {
        expect_error("\"mem.remote_bw_ratio\"", "\"mem.remote_bw_ration\"", "$.parameters.mem.remote_bw_ration");
        expect_error("0.4", "\"0.4\"", "$.parameters.mem.remote_bw_ratio");
        expect_error("0.4", "7", "$.parameters.mem.remote_bw_ratio");                /* out of range */
        expect_error("closer-sim-scenario/1", "closer-sim-scenario/2", "$.format");
        expect_error("\"io.record_kib\"", "\"io.nope\"", "$.sweep.parameter");
        expect_error("[4, 64]", "[4, \"x\"]", "$.sweep.values[1]");
        expect_error("[4, 64]", "[]", "$.sweep.values");
        expect_error("\"io_mib_s\"", "\"bandwidth\"", "$.metric");
        expect_error("\"higher\"", "\"up\"", "$.summary.better");
        /* io_mib_s is better higher: a summary may not rank it the other way */
        expect_error("\"higher\"", "\"lower\"", "$.summary.better");
        expect_error("\"unit\": \"KiB\"", "\"unit\": 3", "$.x.unit");
        expect_error("\"unit\": \"KiB\"", "\"unit\": \"KiB\", \"log\": \"yes\"", "$.x.log");
        expect_error("\"group\"", "\"grop\"", "$.grop");
        expect_error("\"name\": \"t1\"", "\"name\": \"T 1\"", "$.name");
        expect_error("\"at\": \"mean\"", "\"at\": \"mean\", \"extra\": 1", "$.summary.extra");
}

static void test_invalid_json(void **state) {
        closer_sim_scenario sc;
        closer_error err = {{0}};
        assert_int_equal(closer_sim_scenario_parse("{\"format\": ", "x.json", &sc, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "x.json:1:"));
        assert_int_equal(closer_sim_scenario_parse("[]", "x.json", &sc, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "x.json: $: expected"));
}

static void test_embedded_set(void **state) {
        /* every shipped scenario parses, names are unique */
        assert_true(closer_sim_n_embedded_scenarios >= 10);
        static closer_sim_scenario sc[64];
        for (unsigned i = 0; i < closer_sim_n_embedded_scenarios; i++) {
                closer_error err = {{0}};
                if (closer_sim_scenario_parse(closer_sim_embedded_scenarios[i].text, closer_sim_embedded_scenarios[i].file, &sc[i], &err) < 0)
                        fail_msg("%s", err.msg);
                for (unsigned k = 0; k < i; k++)
                        assert_string_not_equal(sc[k].name, sc[i].name);
        }
}

static void test_load_missing(void **state) {
        closer_sim_scenario sc;
        closer_error err = {{0}};
        assert_int_equal(closer_sim_scenario_load("/nonexistent/s.json", &sc, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "/nonexistent/s.json"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_invalid_json),
                cmocka_unit_test(test_embedded_set),
                cmocka_unit_test(test_load_missing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
