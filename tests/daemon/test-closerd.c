/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd as an operator runs it, in sim mode: it starts, answers closerctl,
 * bills into its ledger, survives kill -9 without losing or duplicating a
 * ledger interval, keeps its configuration on a bad SIGHUP, and exits 0 on
 * SIGTERM. Bad configuration -> one line naming file, line and key, exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

extern char **environ;

static char dir[64], sock[128], state[128], ledger[128], conf[128];

/* Run argv, capture stdout (and stderr into *err_out if non-NULL). */
static char *run(char *const argv[], int *ret_status, char **err_out) {
        int out[2], err[2];
        assert_int_equal(pipe(out), 0);
        assert_int_equal(pipe(err), 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        posix_spawn_file_actions_addclose(&fa, err[0]);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(out[1]);
        close(err[1]);
        size_t cap = 1 << 20;
        char *buf = calloc(1, cap), *ebuf = calloc(1, 65536);
        size_t len = 0, elen = 0;
        struct pollfd p[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
        int open_fds = 2;
        while (open_fds > 0 && poll(p, 2, 20000) > 0) {
                if (p[0].revents) {
                        ssize_t n = read(out[0], buf + len, cap - 1 - len);
                        if (n <= 0) {
                                p[0].fd = -1;
                                open_fds--;
                        } else
                                len += (size_t) n;
                }
                if (p[1].revents) {
                        ssize_t n = read(err[0], ebuf + elen, 65535 - elen);
                        if (n <= 0) {
                                p[1].fd = -1;
                                open_fds--;
                        } else
                                elen += (size_t) n;
                }
        }
        close(out[0]);
        close(err[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (err_out)
                *err_out = ebuf;
        else
                free(ebuf);
        return buf;
}

static const char *ledger_interval = "0";

static pid_t start_daemon(const char *extra_conf) {
        char *argv[20];
        int n = 0;
        argv[n++] = getenv("CLOSERD");
        argv[n++] = (char *) "--hypervisor";
        argv[n++] = (char *) "sim";
        argv[n++] = (char *) "--tick-ms";
        argv[n++] = (char *) "50";
        argv[n++] = (char *) "--state";
        argv[n++] = state;
        argv[n++] = (char *) "--socket";
        argv[n++] = sock;
        argv[n++] = (char *) "--ledger";
        argv[n++] = ledger;
        argv[n++] = (char *) "--ledger-interval";
        argv[n++] = (char *) ledger_interval;
        if (extra_conf) {
                argv[n++] = (char *) "--config";
                argv[n++] = (char *) extra_conf;
        }
        argv[n] = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        /* ready when status answers */
        for (int i = 0; i < 200; i++) {
                int st;
                char *args[] = {getenv("CLOSERCTL"), "status", "--socket", sock, "--json", NULL};
                char *out = run(args, &st, NULL);
                free(out);
                if (st == 0)
                        return pid;
                struct timespec ts = {0, 50000000};
                nanosleep(&ts, NULL);
        }
        fail_msg("closerd did not answer on %s", sock);
        return -1;
}

static int stop(pid_t pid, int sig) {
        int st;
        kill(pid, sig);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void sleep_ms(long ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
}

static json_t *ctl_json(const char *cmd, const char *arg) {
        int st;
        char *args[] = {getenv("CLOSERCTL"), (char *) cmd, "--socket", sock, "--json", (char *) arg, NULL};
        char *out = run(args, &st, NULL);
        assert_int_equal(st, 0);
        json_error_t e;
        json_t *j = json_loads(out, 0, &e);
        if (!j)
                fail_msg("closerctl %s --json: not JSON: %s", cmd, e.text);
        free(out);
        return j;
}

static int setup(void **state_) {
        (void) state_;
        snprintf(dir, sizeof(dir), "/tmp/closerd-test-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(sock, sizeof(sock), "%s/sock", dir);
        snprintf(state, sizeof(state), "%s/state.json", dir);
        snprintf(ledger, sizeof(ledger), "%s/ledger.db", dir);
        snprintf(conf, sizeof(conf), "%s/closer.conf", dir);
        return 0;
}

static void test_serve_and_stop(void **state_) {
        (void) state_;
        pid_t pid = start_daemon(NULL);
        json_t *st = ctl_json("status", NULL);
        assert_true(json_is_true(json_object_get(st, "ok")));
        assert_int_equal(json_integer_value(json_object_get(st, "domains")), 12);
        assert_string_equal(json_string_value(json_object_get(json_object_get(st, "main"), "dom0_cpus")), "0-1");
        json_decref(st);

        /* closerd's own CPU by phase: every phase is reported, planning 12
         * domains costs something, and the phases add up to no more than
         * the CPU the kernel says the process used. */
        sleep_ms(300);
        st = ctl_json("status", NULL);
        json_t *cpu = json_object_get(st, "tick_cpu_ns");
        assert_true(json_is_object(cpu));
        const char *phases[] = {"hypervisor", "threads", "irqs", "irq_map", "plan", "apply", "account", "ledger"};
        long long sum = 0;
        for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
                json_t *v = json_object_get(cpu, phases[i]);
                assert_true(json_is_integer(v));
                assert_true(json_integer_value(v) >= 0);
                sum += json_integer_value(v);
        }
        assert_int_equal(json_object_size(cpu), sizeof(phases) / sizeof(phases[0]));
        assert_true(json_integer_value(json_object_get(cpu, "plan")) > 0);
        char path[64], text[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        assert_non_null(fgets(text, sizeof(text), f));
        fclose(f);
        unsigned long long utime, stime;
        const char *after = strrchr(text, ')');
        assert_non_null(after);
        assert_int_equal(sscanf(after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime),
                         2);
        long long proc_ns = (long long) (utime + stime) * (1000000000LL / sysconf(_SC_CLK_TCK));
        /* clock ticks are coarse (10 ms): allow one tick each for utime and stime */
        assert_true(sum <= proc_ns + 2 * (1000000000LL / sysconf(_SC_CLK_TCK)));
        assert_true(sum > 0);
        json_decref(st);

        /* a backend thread of domain 3 is explained as T3 in its container */
        json_t *ex = ctl_json("explain", "1012");
        assert_true(json_is_true(json_object_get(ex, "ok")));
        json_decref(ex);

        sleep_ms(400);
        int rc;
        char *args[] = {getenv("CLOSERCTL"), "accounting", "--socket", sock, "--json", NULL};
        char *out = run(args, &rc, NULL);
        assert_int_equal(rc, 0);
        json_error_t e;
        json_t *acc = json_loads(out, 0, &e);
        free(out);
        assert_non_null(acc);
        assert_string_equal(json_string_value(json_object_get(acc, "format")), "closer-accounting/1");
        assert_true(json_array_size(json_object_get(acc, "rows")) >= 12);
        json_decref(acc);

        assert_int_equal(stop(pid, SIGTERM), 0);
        assert_int_equal(access(sock, F_OK), -1);       /* socket removed */
}

/* Every tick of this boot tiles time: each starts where the previous ended,
 * none twice. */
static void check_ledger_contiguous(unsigned *ret_ticks, unsigned *ret_empty) {
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open_v2(ledger, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT start_ns, end_ns, n_rows FROM ticks ORDER BY start_ns", -1, &q,
                                            NULL),
                         SQLITE_OK);
        int64_t prev_end = -1;
        unsigned n = 0, empty = 0;
        while (sqlite3_step(q) == SQLITE_ROW) {
                int64_t s = sqlite3_column_int64(q, 0), e = sqlite3_column_int64(q, 1);
                if (prev_end >= 0 && s != prev_end)
                        fail_msg("ledger tick %u starts at %lld, previous ended at %lld", n, (long long) s,
                                 (long long) prev_end);
                assert_true(e > s);
                prev_end = e;
                n++;
                if (sqlite3_column_int(q, 2) == 0)
                        empty++;
        }
        sqlite3_finalize(q);
        sqlite3_close(db);
        *ret_ticks = n;
        *ret_empty = empty;
}

static void test_kill9_resume(void **state_) {
        (void) state_;
        unsigned before, after, empty;
        pid_t pid = start_daemon(NULL);
        sleep_ms(300);
        assert_int_equal(stop(pid, SIGKILL), 128 + SIGKILL);
        check_ledger_contiguous(&before, &empty);
        assert_true(before >= 3);
        pid = start_daemon(NULL);
        sleep_ms(300);
        assert_int_equal(stop(pid, SIGTERM), 0);
        check_ledger_contiguous(&after, &empty);
        assert_true(after > before);
        assert_true(empty >= 1);        /* the down time is recorded as unmetered */
}

/* 50 ms ticks summed into 1 s ledger intervals; a clean stop flushes the
 * interval being summed. */
static void test_ledger_interval(void **state_) {
        (void) state_;
        unsigned before, after, empty;
        check_ledger_contiguous(&before, &empty);
        ledger_interval = "1";
        pid_t pid = start_daemon(NULL);
        sleep_ms(2600);
        assert_int_equal(stop(pid, SIGTERM), 0);
        ledger_interval = "0";
        check_ledger_contiguous(&after, &empty);
        /* bridge + 2 full intervals + the flushed rest; 52 ticks would be 52 */
        assert_true(after - before >= 3);
        assert_true(after - before <= 5);
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open_v2(ledger, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT end_ns - start_ns, n_rows FROM ticks ORDER BY start_ns DESC "
                                                "LIMIT 3", -1, &q, NULL), SQLITE_OK);
        int full = 0;
        while (sqlite3_step(q) == SQLITE_ROW)
                if (sqlite3_column_int64(q, 0) >= 1000000000 && sqlite3_column_int(q, 1) == 12)
                        full++;
        sqlite3_finalize(q);
        sqlite3_close(db);
        assert_true(full >= 1);
}

static void test_bad_config(void **state_) {
        (void) state_;
        FILE *f = fopen(conf, "we");
        fputs("[main]\nprofile = openstack\n[memory]\neps_mib = lots\n", f);
        fclose(f);
        int st;
        char *err = NULL;
        char *args[] = {getenv("CLOSERD"), "--hypervisor", "sim", "--config", conf, "--socket", sock, NULL};
        free(run(args, &st, &err));
        assert_int_equal(st, 2);
        assert_non_null(strstr(err, conf));
        assert_non_null(strstr(err, ":4"));
        assert_non_null(strstr(err, "eps_mib"));
        assert_int_equal(strchr(err, '\n') - err + 1, (long) strlen(err));      /* one line */
        free(err);

        /* a running daemon keeps its configuration on a bad SIGHUP */
        f = fopen(conf, "we");
        fputs("[main]\nprofile = eucalyptus\n", f);
        fclose(f);
        pid_t pid = start_daemon(conf);
        json_t *s = ctl_json("status", NULL);
        assert_string_equal(json_string_value(json_object_get(json_object_get(s, "main"), "dom0_cpus")), "0");
        json_decref(s);
        f = fopen(conf, "we");
        fputs("[main]\nprofile = openstack\nbogus = 1\n", f);
        fclose(f);
        kill(pid, SIGHUP);
        sleep_ms(300);
        s = ctl_json("status", NULL);
        assert_string_equal(json_string_value(json_object_get(json_object_get(s, "main"), "dom0_cpus")), "0");
        json_decref(s);
        /* and takes a good one */
        f = fopen(conf, "we");
        fputs("[main]\nprofile = openstack\n", f);
        fclose(f);
        kill(pid, SIGHUP);
        sleep_ms(300);
        s = ctl_json("status", NULL);
        assert_string_equal(json_string_value(json_object_get(json_object_get(s, "main"), "dom0_cpus")), "0-1");
        json_decref(s);
        assert_int_equal(stop(pid, SIGTERM), 0);
}

static int teardown(void **state_) {
        (void) state_;
        unlink(sock);
        unlink(state);
        unlink(conf);
        char p[160];
        snprintf(p, sizeof(p), "%s-wal", ledger);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", ledger);
        unlink(p);
        unlink(ledger);
        rmdir(dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_serve_and_stop),
                cmocka_unit_test(test_kill9_resume),
                cmocka_unit_test(test_ledger_interval),
                cmocka_unit_test(test_bad_config),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
