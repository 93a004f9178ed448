/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The closer-sim command: exit codes, one-line errors, output contracts
 * (docs/formats.md), byte-identical output for the same seed. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <jansson.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "closer/policy.h"
#include "closer/snapshot.h"

extern char **environ;

typedef struct output {
        int status;
        char *out, *err;
} output;

static char *slurp(int fd) {
        size_t len = 0, cap = 4096;
        char *b = malloc(cap);
        assert_non_null(b);
        lseek(fd, 0, SEEK_SET);
        for (;;) {
                if (len + 1 >= cap) {
                        cap *= 2;
                        b = realloc(b, cap);
                        assert_non_null(b);
                }
                ssize_t n = read(fd, b + len, cap - len - 1);
                assert_true(n >= 0);
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        b[len] = '\0';
        return b;
}

static output run(const char *const *args) {
        const char *exe = getenv("CLOSER_SIM");
        assert_non_null(exe);
        char *argv[32];
        unsigned n = 0;
        argv[n++] = (char *) exe;
        for (; *args; args++)
                argv[n++] = (char *) *args;
        argv[n] = NULL;
        char o[] = "/tmp/closer-sim-test-out-XXXXXX", e[] = "/tmp/closer-sim-test-err-XXXXXX";
        int fo = mkstemp(o), fe = mkstemp(e);
        assert_true(fo >= 0 && fe >= 0);
        unlink(o);
        unlink(e);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fo, 1);
        posix_spawn_file_actions_adddup2(&fa, fe, 2);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, exe, &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        output r = {.status = WEXITSTATUS(st), .out = slurp(fo), .err = slurp(fe)};
        close(fo);
        close(fe);
        return r;
}

static void done(output *o) {
        free(o->out);
        free(o->err);
}

static unsigned lines(const char *s) {
        unsigned n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static void test_bad_scenario(void **state) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/sim/bad-parameter.json", getenv("CLOSER_TEST_DATA"));
        output o = run((const char *[]) {"--scenario", path, NULL});
        assert_int_equal(o.status, 2);
        assert_int_equal(lines(o.err), 1);
        assert_non_null(strstr(o.err, path));
        assert_non_null(strstr(o.err, "$.parameters.mem.remote_bw"));
        assert_string_equal(o.out, "");
        done(&o);

        o = run((const char *[]) {"--scenario", "/nonexistent.json", NULL});
        assert_int_equal(o.status, 2);
        assert_int_equal(lines(o.err), 1);
        done(&o);
}

static void test_bad_usage(void **state) {
        output o = run((const char *[]) {"--experiment", "no-such-thing", NULL});
        assert_int_equal(o.status, 2);
        assert_int_equal(lines(o.err), 1);
        done(&o);
        o = run((const char *[]) {"--set", "mem.nope=1", NULL});
        assert_int_equal(o.status, 2);
        done(&o);
        o = run((const char *[]) {"--set", "mem.remote_bw_ratio=2", NULL});
        assert_int_equal(o.status, 2);
        done(&o);
        o = run((const char *[]) {"stray", NULL});
        assert_int_equal(o.status, 2);
        done(&o);
}

static void test_help_lists_experiments(void **state) {
        output o = run((const char *[]) {"--help", NULL});
        assert_int_equal(o.status, 0);
        output l = run((const char *[]) {"--list", NULL});
        assert_int_equal(l.status, 0);
        /* every experiment --list knows is in --help */
        char *save = NULL;
        unsigned n = 0;
        for (char *line = strtok_r(l.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name[64];
                assert_int_equal(sscanf(line, "%63s", name), 1);
                assert_non_null(strstr(o.out, name));
                n++;
        }
        assert_true(n >= 10);
        assert_non_null(strstr(o.out, "--json"));
        assert_non_null(strstr(o.out, "--csv"));
        assert_non_null(strstr(o.out, "--plot DIR"));
        done(&o);
        done(&l);
}

static void test_result_json_deterministic(void **state) {
        const char *args[] = {"--experiment", "b3-io-locality", "--json", "--set", "workload.duration_s=2", NULL};
        output a = run(args), b = run(args);
        assert_int_equal(a.status, 0);
        assert_string_equal(a.out, b.out);      /* byte for byte */
        json_error_t jerr;
        json_t *j = json_loads(a.out, 0, &jerr);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "format")), "closer-sim-result/1");
        assert_string_equal(json_string_value(json_object_get(j, "experiment")), "b3-io-locality");
        assert_non_null(json_string_value(json_object_get(json_object_get(j, "x"), "label")));
        assert_non_null(json_string_value(json_object_get(json_object_get(j, "y"), "unit")));
        json_t *series = json_object_get(j, "series");
        assert_int_equal(json_array_size(series), 3);
        const char *want[] = {"native", "closer", "oracle"};
        for (unsigned i = 0; i < 3; i++) {
                json_t *s = json_array_get(series, i);
                assert_string_equal(json_string_value(json_object_get(s, "policy")), want[i]);
                json_t *pt = json_array_get(json_object_get(s, "points"), 0);
                assert_int_equal(json_array_size(pt), 2);
        }
        assert_true(json_is_object(json_object_get(j, "parameters")));
        json_decref(j);
        /* another seed, other bytes */
        output c = run((const char *[]) {"--experiment", "b3-io-locality", "--json", "--set", "workload.duration_s=2",
                                         "--seed", "99", NULL});
        assert_int_equal(c.status, 0);
        assert_string_not_equal(a.out, c.out);
        done(&a);
        done(&b);
        done(&c);
}

static void test_summary_json(void **state) {
        output o = run((const char *[]) {"--json", "--set", "workload.duration_s=1", "--set", "trace.days=3", NULL});
        assert_int_equal(o.status, 0);
        json_t *j = json_loads(o.out, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "format")), "closer-sim-summary/1");
        json_t *bm = json_object_get(j, "benchmarks");
        assert_true(json_array_size(bm) >= 4);
        size_t i;
        json_t *b;
        json_array_foreach(bm, i, b) {
                assert_true(json_is_string(json_object_get(b, "name")));
                assert_true(json_is_string(json_object_get(b, "metric")));
                const char *better = json_string_value(json_object_get(b, "better"));
                assert_true(strcmp(better, "lower") == 0 || strcmp(better, "higher") == 0);
                assert_true(json_is_number(json_object_get(b, "native")));
                assert_true(json_is_number(json_object_get(b, "closer")));
                assert_true(json_is_number(json_object_get(b, "oracle")));
                assert_true(json_is_number(json_object_get(b, "gain_pct")));
        }
        assert_true(json_is_number(json_object_get(j, "average_gain_pct")));
        json_decref(j);
        done(&o);
}

static void test_csv_and_plot(void **state) {
        output o = run((const char *[]) {"--experiment", "b4-migration-locality", "--csv", "--set", "workload.duration_s=1",
                                         NULL});
        assert_int_equal(o.status, 0);
        assert_non_null(strstr(o.out, "experiment,x_label,x_unit,y_label,y_unit,policy,x,y\n"));
        assert_int_equal(lines(o.out), 1 + 3 * 4);
        done(&o);

        if (access("/usr/bin/gnuplot", X_OK) != 0)
                skip();
        char dir[] = "/tmp/closer-sim-plot-XXXXXX";
        assert_non_null(mkdtemp(dir));
        o = run((const char *[]) {"--experiment", "b4-migration-locality", "--plot", dir, "--set", "workload.duration_s=1",
                                  NULL});
        assert_int_equal(o.status, 0);
        char p[4200];
        struct stat st;
        snprintf(p, sizeof(p), "%s/b4-migration-locality.svg", dir);
        assert_int_equal(stat(p, &st), 0);
        assert_true(st.st_size > 1000);
        char *svg;
        int fd = open(p, O_RDONLY);
        svg = slurp(fd);
        close(fd);
        assert_non_null(strstr(svg, "migration time [s]"));            /* labelled axis with unit */
        assert_non_null(strstr(svg, "native (static dom0"));           /* legend */
        free(svg);
        unlink(p);
        snprintf(p, sizeof(p), "%s/b4-migration-locality.png", dir);
        assert_int_equal(stat(p, &st), 0);
        assert_true(st.st_size > 1000);
        unlink(p);
        rmdir(dir);
        done(&o);
}

static void test_snapshot_round_trip(void **state) {
        /* what closer-sim hands the policy is a valid closer-snapshot/1 for
         * the core's own reader */
        output o = run((const char *[]) {"--experiment", "p-webapp", "--snapshot", "--set", "workload.io_vms=0", NULL});
        assert_int_equal(o.status, 0);
        closer_snapshot *s = NULL;
        closer_error err = {{0}};
        if (closer_snapshot_from_json(o.out, "closer-sim --snapshot", &s, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(s->topo.n_nodes, 4);
        assert_int_equal(s->dom0.n_vcpus, 56);
        assert_int_equal(s->n_domains, 1);
        assert_true(s->domains[0].io_ops_per_s > 0);
        bool netback = false;
        for (unsigned i = 0; i < s->n_threads; i++)
                netback = netback || strcmp(s->threads[i].comm, "vif1.0-q0-guest-rx") == 0;
        assert_true(netback);
        closer_snapshot_free(s);
        done(&o);

        o = run((const char *[]) {"--snapshot", NULL});
        assert_int_equal(o.status, 2);
        done(&o);
}

/* span-io: the model's VM on two sockets is one domain with a vCPU on each,
 * and the core serves it from both: ring j in the container of vCPU j's
 * node, under that vCPU (what closer-sim then applies). */
static void test_span_snapshot_plan(void **state) {
        (void) state;
        output o = run((const char *[]) {"--experiment", "span-io", "--snapshot", NULL});
        assert_int_equal(o.status, 0);
        closer_snapshot *s = NULL;
        closer_error err = {{0}};
        if (closer_snapshot_from_json(o.out, "closer-sim --snapshot", &s, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(s->n_domains, 1);
        assert_int_equal(s->domains[0].n_vcpus, 2);
        assert_int_equal(closer_topology_node_of_cpu(&s->topo, s->domains[0].vcpus[0].pcpu), 0);
        assert_int_equal(closer_topology_node_of_cpu(&s->topo, s->domains[0].vcpus[1].pcpu), 1);
        assert_int_equal(s->domains[0].mem_kib_by_node[0] + s->domains[0].mem_kib_by_node[1], s->domains[0].mem_kib);

        closer_config c;
        closer_config_defaults(&c);
        closer_plan *p = NULL;
        if (closer_plan_compute(s, &c, &p, &err) < 0)
                fail_msg("%s", err.msg);
        const closer_plan_domain *pd = &p->domains[0];
        assert_int_equal(pd->n_sockets, 2);
        assert_int_equal(pd->n_leaves, 2);
        unsigned rings = 0;
        char cont[48], want[48];
        for (unsigned i = 0; i < p->n_threads; i++) {
                unsigned ring;
                if (sscanf(s->threads[i].comm, "1.xvda-%u", &ring) != 1)
                        continue;
                snprintf(want, sizeof(want), "node%u/vm1", ring);
                assert_string_equal(closer_plan_thread_container(&p->threads[i], cont, sizeof(cont)), want);
                int pcpu = s->domains[0].vcpus[ring].pcpu;
                assert_int_equal(closer_cpuset_count(p->threads[i].dom0_cpus), 1);
                assert_true(closer_cpuset_test(p->threads[i].dom0_cpus, (unsigned) pcpu)); /* dom0 vCPU i on pCPU i */
                rings++;
        }
        assert_int_equal(rings, 2);
        closer_plan_free(p);
        closer_snapshot_free(s);
        done(&o);
}

static json_t *series_of(json_t *result, const char *policy) {
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(result, "series"), i, s)
                if (strcmp(json_string_value(json_object_get(s, "policy")), policy) == 0)
                        return json_object_get(s, "points");
        fail_msg("no %s series", policy);
        return NULL;
}

/* The oracle is a bound: on every experiment of the reference set, with the
 * reference parameters (what `make demo` prints), at every point and in the
 * summary, it is at least as good as closer in the metric's own direction.
 * No tolerance: closer's placement is one of those the oracle runs, so a
 * loss is a model or labelling bug, not noise. */
static void test_oracle_bounds_closer(void **state) {
        output l = run((const char *[]) {"--list", NULL});
        assert_int_equal(l.status, 0);
        char *save = NULL;
        unsigned n = 0;
        for (char *line = strtok_r(l.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name[64];
                assert_int_equal(sscanf(line, "%63s", name), 1);
                output o = run((const char *[]) {"--experiment", name, "--json", NULL});
                assert_int_equal(o.status, 0);
                json_error_t jerr;
                json_t *j = json_loads(o.out, 0, &jerr);
                if (!j)
                        fail_msg("%s: %s", name, jerr.text);
                const char *better = json_string_value(json_object_get(j, "better"));
                assert_non_null(better);
                bool higher = strcmp(better, "higher") == 0;
                json_t *c = series_of(j, "closer"), *b = series_of(j, "oracle");
                assert_true(json_array_size(c) > 0);
                assert_int_equal(json_array_size(c), json_array_size(b));
                for (size_t i = 0; i < json_array_size(c); i++) {
                        double x = json_real_value(json_array_get(json_array_get(c, i), 0));
                        double cy = json_real_value(json_array_get(json_array_get(c, i), 1));
                        double by = json_real_value(json_array_get(json_array_get(b, i), 1));
                        if (higher ? by < cy : by > cy)
                                fail_msg("%s at x = %g: oracle %g is worse than closer %g (%s is better)", name, x, by,
                                         cy, better);
                }
                json_t *su = json_object_get(j, "summary");
                if (su) {
                        assert_string_equal(json_string_value(json_object_get(su, "better")), better);
                        double cs = json_real_value(json_object_get(su, "closer"));
                        double bs = json_real_value(json_object_get(su, "oracle"));
                        if (higher ? bs < cs : bs > cs)
                                fail_msg("%s summary: oracle %g is worse than closer %g", name, bs, cs);
                }
                json_decref(j);
                done(&o);
                n++;
        }
        assert_true(n >= 16);
        done(&l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_scenario),
                cmocka_unit_test(test_bad_usage),
                cmocka_unit_test(test_help_lists_experiments),
                cmocka_unit_test(test_result_json_deterministic),
                cmocka_unit_test(test_summary_json),
                cmocka_unit_test(test_csv_and_plot),
                cmocka_unit_test(test_snapshot_round_trip),
                cmocka_unit_test(test_span_snapshot_plan),
                cmocka_unit_test(test_oracle_bounds_closer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
