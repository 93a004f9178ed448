/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Crash durability: closerd (--hypervisor sim, 10 ms ticks, one ledger
 * interval per tick) is killed with SIGKILL at a hundred random points,
 * from before its first tick to well into its run, and restarted each
 * time. After every restart the ledger's intervals tile time: each starts
 * where the previous one ended (no gap, no duplicate, no overlap), and the
 * down time is an interval with no rows. At the end the daemon comes up,
 * places every domain at its first tick and stops cleanly.
 *
 * closerd's sim host has a fixed set of domains, so the same is done under
 * domain churn with the daemon's own pieces in a child process (simhost,
 * manager, state file, meter and ledger, ticking every 5 ms while domains
 * come and go): killed a hundred times, the ledger tiles time, and after
 * each restart the first tick places every domain's backends.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "daemon/control.h"
#include "daemon/manager.h"
#include "daemon/meter.h"
#include "simhost/simhost.h"

extern char **environ;

static char dir[64], sock[128], state_path[128], ledger[128];

static pid_t start(void) {
        char *argv[] = {getenv("CLOSERD"), "--hypervisor", "sim", "--tick-ms", "10", "--state", state_path,
                        "--socket", sock, "--ledger", ledger, "--ledger-interval", "0", NULL};
        posix_spawn_file_actions_t fa;
        pid_t pid;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        return pid;
}

static void sleep_us(long us) {
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
        nanosleep(&ts, NULL);
}

/* Intervals tile time; returns how many, and how many have no rows. */
static void check_ledger(unsigned *ret_n, unsigned *ret_empty) {
        sqlite3 *db;
        sqlite3_stmt *q;
        unsigned n = 0, empty = 0;
        int64_t prev_end = 0;
        if (access(ledger, F_OK) < 0) {
                *ret_n = *ret_empty = 0;
                return;
        }
        assert_int_equal(sqlite3_open_v2(ledger, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 2000);
        int r = sqlite3_prepare_v2(db, "SELECT start_ns, end_ns, n_rows FROM ticks ORDER BY start_ns", -1, &q, NULL);
        if (r != SQLITE_OK) {
                /* killed before the schema was committed: nothing billed yet */
                sqlite3_close(db);
                *ret_n = *ret_empty = 0;
                return;
        }
        while ((r = sqlite3_step(q)) == SQLITE_ROW) {
                int64_t s = sqlite3_column_int64(q, 0), e = sqlite3_column_int64(q, 1);
                if (e <= s)
                        fail_msg("interval %u: [%lld, %lld) is empty or backwards", n, (long long) s, (long long) e);
                if (n > 0 && s != prev_end)
                        fail_msg("interval %u starts at %lld, the previous one ended at %lld (%s)", n, (long long) s,
                                 (long long) prev_end, s > prev_end ? "gap" : "overlap");
                if (sqlite3_column_int(q, 2) == 0)
                        empty++;
                prev_end = e;
                n++;
        }
        assert_int_equal(r, SQLITE_DONE);
        sqlite3_finalize(q);
        sqlite3_close(db);
        *ret_n = n;
        *ret_empty = empty;
}

static void test_kill9_hundred_times(void **state_) {
        (void) state_;
        unsigned n = 0, empty = 0, prev_n = 0, kills_after_commit = 0;
        srand(0xc105e);
        for (int i = 0; i < 100; i++) {
                pid_t pid = start();
                if (i % 2 == 0) {
                        /* 0 to 150 ms: before the first tick, mid-tick,
                         * mid-commit, as fast as this machine starts it */
                        sleep_us(rand() % 150000);
                } else {
                        /* once this run has committed an interval (however
                         * slow the machine: ASan, a loaded host), 0 to 20 ms
                         * later: a kill among the next ticks and commits */
                        unsigned now_n = 0, now_empty = 0;
                        for (int w = 0; w < 4000 && now_n <= prev_n; w++) {
                                sleep_us(5000);
                                check_ledger(&now_n, &now_empty);
                        }
                        if (now_n <= prev_n)
                                fail_msg("run %d: no interval committed within 20 s", i);
                        sleep_us(rand() % 20000);
                }
                int st;
                kill(pid, SIGKILL);
                assert_int_equal(waitpid(pid, &st, 0), pid);
                if (WIFEXITED(st))
                        fail_msg("closerd exited %d on its own (run %d)", WEXITSTATUS(st), i);
                check_ledger(&n, &empty);
                assert_true(n >= prev_n);       /* nothing committed is lost */
                if (n > prev_n)
                        kills_after_commit++;
                prev_n = n;
        }
        /* the kills did land in the middle of billing, not only at start
         * (every odd run waits for a commit: at least 50) */
        assert_true(kills_after_commit >= 50);
        /* down time between runs that had billed is there, unmetered */
        assert_true(empty >= kills_after_commit / 2);

        /* up again: every domain placed at its first tick, clean stop */
        pid_t pid = start();
        json_t *req = json_pack("{s:s}", "command", "status"), *ans = NULL;
        int ok = 0;
        for (int i = 0; i < 400 && !ok; i++) {
                sleep_us(10000);
                if (closer_control_call(sock, req, 0, &ans) == 0) {
                        ok = json_is_true(json_object_get(ans, "ok"));
                        if (ok) {
                                assert_int_equal(json_integer_value(json_object_get(ans, "domains")), 12);
                                /* the first tick moved every domain's backends */
                                json_t *acts = json_object_get(ans, "actions");
                                assert_true(json_integer_value(json_object_get(acts, "thread")) >= 12);
                                assert_true(json_integer_value(json_object_get(acts, "irq")) >= 12);
                        }
                        json_decref(ans);
                }
        }
        json_decref(req);
        assert_true(ok);
        int st;
        kill(pid, SIGTERM);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        check_ledger(&n, &empty);
        assert_true(n > prev_n);
}


static uint64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Every thread that works for a domain sits on the dom0 CPUs the plan gives. */
static bool all_placed(const closer_manager *m, const closer_simhost *sim) {
        for (unsigned i = 0; i < m->plan->n_threads; i++) {
                const closer_plan_thread *pt = &m->plan->threads[i];
                closer_cpuset cur;
                if (pt->domain_index < 0)
                        continue;
                if (closer_simhost_thread_affinity(sim, m->snap->threads[i].tid, &cur) < 0 ||
                    !closer_cpuset_equal(&cur, pt->dom0_cpus))
                        return false;
        }
        return m->plan->n_domains > 0;
}

/* The child: a daemon under churn. Reports 'P' (every domain placed) or
 * 'N' after its first tick, then ticks until killed. */
static _Noreturn void churn_daemon(int report, unsigned seed) {
        char boot_id[64] = "test-boot";
        closer_error err = {{0}};
        closer_config cfg;
        closer_manager *m = NULL;
        closer_meter *mt = NULL;
        closer_hypervisor *hv;
        closer_hostos *os;
        closer_simhost *sim = closer_simhost_new(2, 4, 8, 1024);
        FILE *bf = fopen("/proc/sys/kernel/random/boot_id", "re");
        if (bf) {
                if (fgets(boot_id, sizeof(boot_id), bf))
                        boot_id[strcspn(boot_id, "\n")] = '\0';
                fclose(bf);
        }
        closer_config_defaults(&cfg);
        if (!sim || closer_simhost_hypervisor(sim, &hv) < 0 || closer_simhost_hostos(sim, &os) < 0 ||
            closer_manager_new(&cfg, hv, os, false, state_path, &m, &err) < 0 ||
            closer_meter_open(ledger, boot_id, 0, &mt, &err) < 0)
                _exit(3);
        srand(seed);
        bool live[24] = {false};
        for (int d = 1; d < 24; d += 3) {
                (void) closer_simhost_add_domain(sim, d, "vm", 1u << 20, d % 2, 2, (int[]) {d % 8, (d + 3) % 8}, 50,
                                                 1);
                live[d] = true;
        }
        uint64_t last = 0;
        for (unsigned tick = 0;; tick++) {
                uint64_t now = mono_ns();
                if (last)
                        closer_simhost_advance(sim, now - last);
                uint64_t prev = m->snap ? m->snap->time_ns : now;
                if (closer_manager_tick(m, now, &err) < 0)
                        _exit(4);
                if (closer_meter_commit(mt, m, prev, now, (int64_t) now) < 0)
                        _exit(5);
                last = now;
                if (tick == 0) {
                        char c = all_placed(m, sim) ? 'P' : 'N';
                        if (write(report, &c, 1) != 1)
                                _exit(6);
                }
                /* churn: a domain comes or goes, a vCPU moves */
                int d = 1 + rand() % 23, r = rand() % 3;
                if (r == 0 && !live[d])
                        live[d] = closer_simhost_add_domain(sim, d, "vm", 1u << 20, d % 2, 2,
                                                            (int[]) {rand() % 8, rand() % 8}, rand() % 500, 2) == 0;
                else if (r == 1 && live[d])
                        live[d] = closer_simhost_remove_domain(sim, d) != 0;
                else if (live[d])
                        (void) closer_simhost_move_vcpu(sim, d, 0, rand() % 8);
                sleep_us(5000);
        }
}

static void test_kill9_under_churn(void **state_) {
        (void) state_;
        unsigned n = 0, empty = 0, prev_n = 0, committed_runs = 0;
        /* under valgrind the child runs under it too: fewer, slower runs */
        bool vg = getenv("CLOSER_UNDER_VALGRIND") != NULL;
        int runs = vg ? 10 : 100;
        srand(0xd0d0);
        for (int i = 0; i < runs; i++) {
                int p[2];
                assert_int_equal(pipe(p), 0);
                unsigned seed = (unsigned) rand();
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        close(p[0]);
                        churn_daemon(p[1], seed);
                }
                close(p[1]);
                char c = 0;
                assert_int_equal(read(p[0], &c, 1), 1);
                close(p[0]);
                if (c != 'P')
                        fail_msg("run %d: a domain was not placed at the first tick after the restart", i);
                /* then anywhere in the next 60 ms: mid-tick, mid-commit, mid-save */
                sleep_us(rand() % 60000 + (vg ? 500000 : 0));
                int st;
                kill(pid, SIGKILL);
                assert_int_equal(waitpid(pid, &st, 0), pid);
                if (WIFEXITED(st))
                        fail_msg("run %d: the child exited %d on its own", i, WEXITSTATUS(st));
                check_ledger(&n, &empty);
                assert_true(n >= prev_n);
                if (n > prev_n)
                        committed_runs++;
                prev_n = n;
        }
        assert_true(committed_runs >= (vg ? 1u : 50u));
        assert_true(empty >= committed_runs / 2);
}

static int setup(void **state_) {
        (void) state_;
        snprintf(dir, sizeof(dir), "/tmp/closer-crash-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(sock, sizeof(sock), "%s/sock", dir);
        snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
        snprintf(ledger, sizeof(ledger), "%s/ledger.db", dir);
        return 0;
}

static int teardown(void **state_) {
        (void) state_;
        char p[192];
        static const char *const files[] = {"sock", "state.json", "state.json.tmp", "ledger.db", "ledger.db-wal",
                                            "ledger.db-shm"};
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
                unlink(p);
        }
        rmdir(dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_kill9_hundred_times, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill9_under_churn, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
