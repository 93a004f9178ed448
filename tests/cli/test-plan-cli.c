/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `closerctl plan` as a user runs it: every bad snapshot in
 * tests/data/snapshots/bad gives exit 2 and exactly one stderr line naming
 * the file; the reference host plans, and its JSON keeps the closer-plan/1
 * invariants (never a main CPU for a domain, never an empty set, target +
 * reserve == the domain's memory, every T3 thread inside its domain's CPUs,
 * a container per node a domain runs on, their memory adding up).
 */
#include <dirent.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "closer/cpuset.h"
#include "closer/snapshot.h"

extern char **environ;

/* Runs closerctl with args; returns exit status, stdout and stderr (both
 * drained together: a big plan must not block on a full pipe). */
static int run(char *const argv[], char **out, char **err) {
        int o[2], e[2];
        assert_int_equal(pipe(o), 0);
        assert_int_equal(pipe(e), 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, o[1], 1);
        posix_spawn_file_actions_adddup2(&fa, e[1], 2);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(o[1]);
        close(e[1]);
        size_t cap[2] = {1 << 16, 1 << 16}, len[2] = {0, 0};
        char *buf[2] = {malloc(cap[0]), malloc(cap[1])};
        struct pollfd p[2] = {{.fd = o[0], .events = POLLIN}, {.fd = e[0], .events = POLLIN}};
        int open_fds = 2;
        while (open_fds > 0 && poll(p, 2, 30000) > 0)
                for (int k = 0; k < 2; k++) {
                        if (p[k].fd < 0 || !p[k].revents)
                                continue;
                        if (len[k] + 1 >= cap[k])
                                buf[k] = realloc(buf[k], cap[k] *= 2);
                        ssize_t n = read(p[k].fd, buf[k] + len[k], cap[k] - 1 - len[k]);
                        if (n <= 0) {
                                p[k].fd = -1;
                                open_fds--;
                        } else
                                len[k] += (size_t) n;
                }
        buf[0][len[0]] = '\0';
        buf[1][len[1]] = '\0';
        close(o[0]);
        close(e[0]);
        int st;
        waitpid(pid, &st, 0);
        *out = buf[0];
        *err = buf[1];
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_bad_snapshots(void **state) {
        (void) state;
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/snapshots/bad", getenv("CLOSER_TEST_DATA"));
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *de;
        unsigned n = 0;
        while ((de = readdir(d))) {
                if (!strstr(de->d_name, ".json"))
                        continue;
                char path[8192], *out, *err;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                char *argv[] = {getenv("CLOSERCTL"), "plan", "--snapshot", path, NULL};
                int st = run(argv, &out, &err);
                if (st != 2)
                        fail_msg("%s: exit %d, expected 2", de->d_name, st);
                if (!strstr(err, de->d_name))
                        fail_msg("%s: error does not name the file: %s", de->d_name, err);
                char *nl = strchr(err, '\n');
                if (!nl || nl[1] != '\0')
                        fail_msg("%s: expected exactly one error line, got: %s", de->d_name, err);
                assert_string_equal(out, "");
                free(out);
                free(err);
                n++;
        }
        closedir(d);
        assert_true(n >= 30);
}

static void test_usage_errors(void **state) {
        (void) state;
        char *out, *err;
        char *a1[] = {getenv("CLOSERCTL"), "plan", NULL};
        assert_int_equal(run(a1, &out, &err), 2);
        free(out), free(err);
        char *a2[] = {getenv("CLOSERCTL"), "plan", "--snapshot", "/nonexistent/x.json", NULL};
        assert_int_equal(run(a2, &out, &err), 2);
        assert_non_null(strstr(err, "/nonexistent/x.json"));
        free(out), free(err);
        char *a3[] = {getenv("CLOSERCTL"), "frobnicate", NULL};
        assert_int_equal(run(a3, &out, &err), 2);
        free(out), free(err);
        /* --config is read as closerd reads it: more than 1 MiB (here, of
         * comments) is refused as closerd refuses it, and so is a NUL byte */
        char conf[] = "/tmp/closer-plan-conf-XXXXXX", snap[4096];
        int fd = mkstemp(conf);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        for (int i = 0; i < 40000; i++)
                fputs("# a comment line of some fifty characters, padding\n", f);
        fclose(f);
        snprintf(snap, sizeof(snap), "%s/data/reference-host.json", getenv("CLOSER_SOURCE_ROOT"));
        char *a5[] = {getenv("CLOSERCTL"), "plan", "--snapshot", snap, "--config", conf, NULL};
        assert_int_equal(run(a5, &out, &err), 2);
        assert_non_null(strstr(err, conf));
        assert_non_null(strstr(err, "larger than 1024 KiB"));
        free(out), free(err);
        f = fopen(conf, "w");
        fputs("[main]\n", f);
        fputc('\0', f);
        fputs("node = 1\n", f);
        fclose(f);
        assert_int_equal(run(a5, &out, &err), 2);
        assert_non_null(strstr(err, "NUL byte"));
        free(out), free(err);
        unlink(conf);
        char *a4[] = {getenv("CLOSERCTL"), "plan", "--help", NULL};
        assert_int_equal(run(a4, &out, &err), 0);
        assert_non_null(strstr(out, "--snapshot"));
        free(out), free(err);
}

static void cpus_of(json_t *o, const char *key, closer_cpuset *ret) {
        const char *s = json_string_value(json_object_get(o, key));
        assert_non_null(s);
        assert_int_equal(closer_cpuset_parse(s, ret), 0);
}

static void test_reference_plan(void **state) {
        (void) state;
        char path[4096], *out, *err;
        snprintf(path, sizeof(path), "%s/data/reference-host.json", getenv("CLOSER_SOURCE_ROOT"));
        char *argv[] = {getenv("CLOSERCTL"), "plan", "--snapshot", path, "--json", NULL};
        assert_int_equal(run(argv, &out, &err), 0);
        json_error_t je;
        json_t *plan = json_loads(out, 0, &je);
        assert_non_null(plan);
        assert_string_equal(json_string_value(json_object_get(plan, "format")), "closer-plan/1");

        /* the snapshot, to check memory conservation against M */
        char *text = NULL;
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        rewind(f);
        text = calloc(1, (size_t) len + 1);
        assert_int_equal(fread(text, 1, (size_t) len, f), (size_t) len);
        fclose(f);
        closer_snapshot *snap = NULL;
        closer_error e;
        assert_int_equal(closer_snapshot_from_json(text, path, &snap, &e), 0);

        closer_cpuset main_cpus, b;
        cpus_of(json_object_get(plan, "main"), "dom0_cpus", &main_cpus);
        size_t i;
        json_t *d, *t;
        unsigned spanning = 0;
        json_array_foreach(json_object_get(plan, "domains"), i, d) {
                cpus_of(d, "backend_dom0_cpus", &b);
                assert_false(closer_cpuset_is_empty(&b));
                assert_false(closer_cpuset_intersects(&b, &main_cpus));
                assert_true(closer_cpuset_test(&b, (unsigned) json_integer_value(json_object_get(d, "admin_dom0_cpu"))));
                const closer_domain *sd = closer_snapshot_find_domain(snap, (int) json_integer_value(json_object_get(d, "domid")));
                assert_non_null(sd);
                assert_int_equal(json_integer_value(json_object_get(d, "mem_target_kib")) +
                                         json_integer_value(json_object_get(d, "dom0_reserve_kib")),
                                 sd->mem_kib);
                assert_non_null(json_string_value(json_object_get(d, "why")));

                /* its containers: one per node it runs on (sockets), each
                 * within the backend CPUs, their memory adding up to the
                 * domain's reserve (what the ledger bills), one home */
                json_t *leaves = json_object_get(d, "containers"), *l;
                size_t k;
                json_int_t sum = 0;
                unsigned homes = 0, running = 0;
                assert_true(json_array_size(leaves) >= 1);
                json_array_foreach(leaves, k, l) {
                        closer_cpuset lc;
                        cpus_of(l, "dom0_cpus", &lc);
                        assert_false(closer_cpuset_is_empty(&lc));
                        assert_true(closer_cpuset_is_subset(&lc, &b));
                        sum += json_integer_value(json_object_get(l, "dom0_reserve_kib"));
                        homes += json_is_true(json_object_get(l, "home"));
                        running += json_integer_value(json_object_get(l, "vcpus")) > 0;
                        if (json_is_true(json_object_get(l, "home")))
                                assert_int_equal(json_integer_value(json_object_get(l, "node")),
                                                 json_integer_value(json_object_get(d, "node")));
                }
                assert_int_equal(homes, 1);
                assert_int_equal(running, json_integer_value(json_object_get(d, "sockets")));
                assert_int_equal(sum, json_integer_value(json_object_get(d, "dom0_reserve_kib")));
                if (sd->domid == 6) {
                        /* ci-runner: vCPUs on pCPUs 20 (node 1) and 47 (node 3) */
                        assert_int_equal(json_array_size(leaves), 2);
                        assert_int_equal(json_integer_value(json_object_get(json_array_get(leaves, 0), "node")), 1);
                        assert_int_equal(json_integer_value(json_object_get(json_array_get(leaves, 1), "node")), 3);
                        spanning++;
                }
        }
        assert_int_equal(spanning, 1);
        unsigned t3 = 0, ci_node3 = 0;
        json_array_foreach(json_object_get(plan, "threads"), i, t) {
                const char *cls = json_string_value(json_object_get(t, "class"));
                closer_cpuset c;
                cpus_of(t, "dom0_cpus", &c);
                assert_false(closer_cpuset_is_empty(&c));
                if (strcmp(cls, "T3") == 0 && strncmp(json_string_value(json_object_get(t, "container")), "node", 4) == 0) {
                        t3++;
                        assert_false(closer_cpuset_intersects(&c, &main_cpus));
                }
                if (strcmp(json_string_value(json_object_get(t, "container")), "main") == 0)
                        assert_true(closer_cpuset_equal(&c, &main_cpus));
                if (strcmp(json_string_value(json_object_get(t, "container")), "node3/vm6") == 0) {
                        /* the queue of ci-runner's vCPU 1, under it on node 3 */
                        assert_string_equal(json_string_value(json_object_get(t, "dom0_cpus")), "47");
                        ci_node3++;
                }
        }
        assert_true(t3 > 50);
        assert_true(ci_node3 >= 2);
        json_decref(plan);
        closer_snapshot_free(snap);
        free(text);
        free(out);
        free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_snapshots),
                cmocka_unit_test(test_usage_errors),
                cmocka_unit_test(test_reference_plan),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
