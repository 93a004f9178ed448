/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd as an operator runs it, in sim mode: it starts, answers closerctl,
 * bills into its ledger, survives kill -9 without losing or duplicating a
 * ledger interval, keeps its configuration on a bad SIGHUP, and exits 0 on
 * SIGTERM. Bad configuration -> one line naming file, line and key, exit 2;
 * bad usage -> one line, exit 2; an event source that cannot be set up ->
 * one line, exit 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
        /* a program that hangs (a daemon that never exits) is killed, not
         * waited for until meson's timeout */
        if (waitpid(pid, &st, WNOHANG) == 0) {
                for (int i = 0; i < 100 && waitpid(pid, &st, WNOHANG) == 0; i++) {
                        struct timespec ts = {0, 50000000};
                        nanosleep(&ts, NULL);
                }
                if (kill(pid, 0) == 0 && waitpid(pid, &st, WNOHANG) == 0)
                        kill(pid, SIGKILL);
        }
        (void) waitpid(pid, &st, 0);
        *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (err_out)
                *err_out = ebuf;
        else
                free(ebuf);
        return buf;
}

static const char *ledger_interval = "0";
static pid_t running = -1;      /* the daemon a failed test left behind */

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static pid_t start_daemon_args(const char *extra_conf, const char *const *extra) {
        char *argv[32];
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
        for (size_t i = 0; extra && extra[i] && n < 31; i++)
                argv[n++] = (char *) extra[i];
        argv[n] = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        running = pid;
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

static pid_t start_daemon(const char *extra_conf) {
        return start_daemon_args(extra_conf, NULL);
}

static int stop(pid_t pid, int sig) {
        int st;
        kill(pid, sig);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (pid == running)
                running = -1;
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

/* A TCP port on 127.0.0.1 that was free a moment ago. */
static void free_port(char *buf, size_t len) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sa);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
        snprintf(buf, len, "127.0.0.1:%u", ntohs(sa.sin_port));
        close(fd);
}

static int connect_tcp(const char *addr_port) {
        const char *colon = strrchr(addr_port, ':');
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(colon + 1)),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return -errno;
        }
        return fd;
}

/* GET /metrics; the body, or NULL if no answer within timeout_ms. */
static char *http_get_metrics(const char *addr_port, int timeout_ms) {
        int fd = connect_tcp(addr_port);
        if (fd < 0)
                return NULL;
        static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
        assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t) sizeof(req) - 1);
        size_t cap = 1 << 16, len = 0;
        char *buf = calloc(1, cap);
        uint64_t deadline = mono_ms() + (uint64_t) timeout_ms;
        for (;;) {
                uint64_t now = mono_ms();
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (now >= deadline || poll(&p, 1, (int) (deadline - now)) <= 0) {
                        free(buf);
                        buf = NULL;
                        break;
                }
                if (len + 1 >= cap)
                        buf = realloc(buf, cap *= 2);
                ssize_t k = read(fd, buf + len, cap - 1 - len);
                if (k <= 0) {
                        buf[len] = '\0';
                        if (k < 0 || !strstr(buf, "200 OK")) {
                                free(buf);
                                buf = NULL;
                        }
                        break;
                }
                len += (size_t) k;
        }
        close(fd);
        return buf;
}

/* The value of one sample line ("name{labels} value") in an exposition. */
static double metric_value(const char *text, const char *series) {
        const char *p = strstr(text, series);
        if (!p)
                fail_msg("no %s in the metrics", series);
        return strtod(p + strlen(series), NULL);
}

/* Poll closerctl status until pred(status) holds; fail after timeout_ms. */
static json_t *status_until(bool (*pred)(json_t *st, void *arg), void *arg, int timeout_ms, const char *what) {
        uint64_t deadline = mono_ms() + (uint64_t) timeout_ms;
        for (;;) {
                json_t *st = ctl_json("status", NULL);
                if (pred(st, arg))
                        return st;
                json_decref(st);
                if (mono_ms() > deadline)
                        fail_msg("closerd status: still not %s after %d ms", what, timeout_ms);
                sleep_ms(20);
        }
}

static bool ledger_failing(json_t *st, void *arg) {
        (void) arg;
        json_t *lg = json_object_get(st, "ledger");
        return json_is_object(lg) && json_is_false(json_object_get(lg, "ok"));
}

static bool ledger_ok(json_t *st, void *arg) {
        (void) arg;
        return json_is_true(json_object_get(json_object_get(st, "ledger"), "ok"));
}

static bool ticks_at_least(json_t *st, void *arg) {
        return json_integer_value(json_object_get(st, "ticks")) >= *(long long *) arg;
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

/* Another process holds the ledger's write lock when closerd restarts (an
 * open `sqlite3` shell, a backup): ticks go on at their pace, the failure
 * shows in status and metrics, and once the lock is gone billing resumes
 * with nothing lost and nothing counted twice. */
static void test_ledger_locked(void **state_) {
        (void) state_;
        pid_t pid = start_daemon(NULL);
        assert_int_equal(stop(pid, SIGTERM), 0);

        sqlite3 *other;
        assert_int_equal(sqlite3_open(ledger, &other), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

        char metrics[32];
        free_port(metrics, sizeof(metrics));
        const char *extra[] = {"--metrics", metrics, NULL};
        pid = start_daemon_args(NULL, extra);
        json_t *st = status_until(ledger_failing, NULL, 10000, "reporting the locked ledger");
        assert_true(json_integer_value(json_object_get(json_object_get(st, "errors"), "ledger")) > 0);
        assert_non_null(json_string_value(json_object_get(json_object_get(st, "ledger"), "error")));
        /* 20 ticks of 50 ms take about a second, not 20 lock waits */
        long long want = json_integer_value(json_object_get(st, "ticks")) + 20;
        json_decref(st);
        uint64_t t0 = mono_ms();
        json_decref(status_until(ticks_at_least, &want, 10000, "ticking"));
        assert_true(mono_ms() - t0 < 5000);
        char *text = http_get_metrics(metrics, 5000);
        assert_non_null(text);
        assert_true(metric_value(text, "closer_errors_total{kind=\"ledger\"} ") > 0);
        free(text);

        assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
        json_decref(status_until(ledger_ok, NULL, 10000, "writing the ledger again"));
        assert_int_equal(stop(pid, SIGTERM), 0);

        unsigned n, empty;
        check_ledger_contiguous(&n, &empty);
        /* this run: the down time (no rows), then every interval billed */
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(other, "SELECT n_rows FROM ticks WHERE start_ns >= (SELECT max(start_ns) "
                                                   "FROM ticks WHERE n_rows = 0) ORDER BY start_ns",
                                            -1, &q, NULL),
                         SQLITE_OK);
        unsigned k = 0;
        while (sqlite3_step(q) == SQLITE_ROW) {
                assert_int_equal(sqlite3_column_int(q, 0), k == 0 ? 0 : 12);
                k++;
        }
        sqlite3_finalize(q);
        assert_true(k >= 2);
        sqlite3_close(other);
}

static int connect_unix(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(c >= 0);
        assert_int_equal(connect(c, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return c;
}

/* Ten clients connect and say nothing (each may wait 2 s for its request):
 * closerctl status still answers at once and the ticks keep their pace. */
static void test_silent_clients(void **state_) {
        (void) state_;
        int silent[10];
        pid_t pid = start_daemon(NULL);
        for (unsigned i = 0; i < 10; i++)
                silent[i] = connect_unix(sock);
        /* served one at a time, they held status and the ticks 2 s each: 20 s */
        uint64_t t0 = mono_ms();
        json_t *st = ctl_json("status", NULL);
        assert_true(mono_ms() - t0 < 5000);
        long long want = json_integer_value(json_object_get(st, "ticks")) + 10;
        json_decref(st);
        t0 = mono_ms();
        json_decref(status_until(ticks_at_least, &want, 20000, "ticking"));
        assert_true(mono_ms() - t0 < 5000);
        for (unsigned i = 0; i < 10; i++)
                close(silent[i]);
        assert_int_equal(stop(pid, SIGTERM), 0);
}

/* closerd closes an idle metrics connection after its 10 s timeout (it
 * must wake the server for deadlines, not only for input: before, idle
 * connections stayed for ever and 16 of them took the endpoint for good),
 * and serves meanwhile. */
static void test_metrics_idle_timeout(void **state_) {
        (void) state_;
        char metrics[32];
        free_port(metrics, sizeof(metrics));
        const char *extra[] = {"--metrics", metrics, NULL};
        pid_t pid = start_daemon_args(NULL, extra);
        int idle = connect_tcp(metrics);
        assert_true(idle >= 0);
        uint64_t t0 = mono_ms();
        char *text = http_get_metrics(metrics, 5000);
        assert_non_null(text);
        free(text);
        struct pollfd p = {.fd = idle, .events = POLLIN};
        int n = poll(&p, 1, 20000);
        uint64_t dt = mono_ms() - t0;
        assert_int_equal(n, 1);
        char c;
        assert_true(read(idle, &c, 1) <= 0);    /* closed by the server */
        assert_true(dt >= 5000 && dt < 20000);
        close(idle);
        assert_int_equal(stop(pid, SIGTERM), 0);
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
        /* nor one that parses but that the planner refuses on this host
         * (it has nodes 0-3): ticks go on with the running one */
        f = fopen(conf, "we");
        fputs("[main]\nprofile = openstack\nnode = 7\n", f);
        fclose(f);
        s = ctl_json("status", NULL);
        long long want = json_integer_value(json_object_get(s, "ticks")) + 5;
        json_decref(s);
        kill(pid, SIGHUP);
        s = status_until(ticks_at_least, &want, 10000, "ticking after a SIGHUP to node = 7");
        assert_string_equal(json_string_value(json_object_get(json_object_get(s, "main"), "dom0_cpus")), "0");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "errors"), "tick")), 0);
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

/* A test that failed half-way left its daemon running: it would hold the
 * socket and the ledger of the tests after it. */
static int kill_leftover(void **state_) {
        (void) state_;
        if (running > 0) {
                kill(running, SIGKILL);
                (void) waitpid(running, NULL, 0);
                running = -1;
        }
        return 0;
}

/* A configuration that parses but that this host cannot have, at start:
 * one line naming the file and the reason, exit 2 (before: closerd stayed,
 * never ready, failing every tick). */
static void test_config_rejected_at_start(void **state_) {
        (void) state_;
        FILE *f = fopen(conf, "we");
        fputs("[main]\nnode = 7\n", f);
        fclose(f);
        int st;
        char *err = NULL;
        char *args[] = {getenv("CLOSERD"), "--hypervisor", "sim", "--config", conf, "--socket", sock,
                        "--state", state, "--ledger", ledger, "--tick-ms", "50", NULL};
        free(run(args, &st, &err));
        assert_int_equal(st, 2);
        /* the daemon's log is on stderr too: one line says it all */
        const char *line = strstr(err, conf);
        assert_non_null(line);
        assert_null(strstr(line + 1, conf));
        const char *eol = strchr(line, '\n');
        assert_non_null(eol);
        const char *node = strstr(line, "node 7");
        assert_true(node && node < eol);
        free(err);
}

/* A storm of SIGHUPs reloads; it does not tick (each extra tick was an
 * extra ledger interval: 21k of them in a storm we measured). */
static void test_hup_storm(void **state_) {
        (void) state_;
        FILE *f = fopen(conf, "we");
        fputs("[main]\nprofile = openstack\n", f);
        fclose(f);
        pid_t pid = start_daemon(conf);
        /* past the start, whose first ticks come at once (every domain
         * appearing asks for one), not on the 50 ms timer */
        json_decref(status_until(ticks_at_least, &(long long) {5}, 10000, "ticking"));
        json_t *s = ctl_json("status", NULL);
        long long t0 = json_integer_value(json_object_get(s, "ticks"));
        json_decref(s);
        uint64_t start = mono_ms();
        for (int i = 0; i < 300; i++) {
                kill(pid, SIGHUP);
                sleep_ms(1);
        }
        s = ctl_json("status", NULL);
        long long ticks = json_integer_value(json_object_get(s, "ticks")) - t0;
        uint64_t elapsed = mono_ms() - start;
        json_decref(s);
        /* at most the 50 ms ticks of that time, and some slack for a
         * loaded machine (ASan, a busy host: 22 in 782 ms was seen); a tick
         * per reload, the bug this guards against, is about 150 more */
        if (ticks > (long long) (elapsed / 50) + 10)
                fail_msg("%lld ticks in %llu ms of SIGHUPs", ticks, (unsigned long long) elapsed);
        assert_int_equal(stop(pid, SIGTERM), 0);
}

/* A second closerd on the same socket, state file and ledger stops at
 * once with one line; the first keeps its socket and its state file. */
static void test_single_instance(void **state_) {
        (void) state_;
        pid_t pid = start_daemon(NULL);
        json_decref(status_until(ticks_at_least, &(long long) {3}, 10000, "ticking"));
        assert_int_equal(access(state, F_OK), 0);
        int st;
        char *err = NULL;
        char *args[] = {getenv("CLOSERD"), "--hypervisor", "sim", "--socket", sock, "--state", state,
                        "--ledger", ledger, "--tick-ms", "50", NULL};
        free(run(args, &st, &err));
        assert_int_equal(st, 1);
        assert_non_null(strstr(err, "another closerd"));
        free(err);
        assert_int_equal(access(state, F_OK), 0);
        /* the first one still answers on its socket */
        json_t *s = ctl_json("status", NULL);
        assert_true(json_is_true(json_object_get(s, "ok")));
        json_decref(s);
        assert_int_equal(stop(pid, SIGTERM), 0);
}

/* --socket and --state naming a file that is not closerd's: exit 2, and
 * the file is left as it was (with --dry-run too). */
static void test_foreign_files(void **state_) {
        (void) state_;
        char precious[160];
        snprintf(precious, sizeof(precious), "%s/precious.txt", dir);
        static const char *const modes[][2] = {{"--socket", NULL}, {"--state", NULL}, {"--socket", "--dry-run"},
                                               {"--state", "--dry-run"}};
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                FILE *f = fopen(precious, "we");
                fputs("not closerd's\n", f);
                fclose(f);
                bool is_socket = strcmp(modes[i][0], "--socket") == 0;
                char *args[] = {getenv("CLOSERD"), "--hypervisor", "sim", "--tick-ms", "50", "--ticks", "2",
                                "--socket", is_socket ? precious : sock, "--state", is_socket ? state : precious,
                                "--ledger", ledger, (char *) modes[i][1], NULL};
                int st;
                char *err = NULL;
                free(run(args, &st, &err));
                if (modes[i][1] && !is_socket)
                        assert_int_equal(st, 0);        /* a dry run does not use its state file */
                else {
                        assert_int_equal(st, 2);
                        assert_non_null(strstr(err, precious));
                }
                free(err);
                char text[64] = "";
                f = fopen(precious, "re");
                assert_non_null(f);
                assert_non_null(fgets(text, sizeof(text), f));
                fclose(f);
                assert_string_equal(text, "not closerd's\n");
        }
        unlink(precious);
        char lock[200];
        snprintf(lock, sizeof(lock), "%s.lock", precious);
        unlink(lock);
}

/* A state file that cannot be written (read-only /run; here its temporary
 * is a directory): closerd would change nothing, so it says so and exits 1
 * at start instead of sending READY and failing at every change. */
static void test_state_unwritable(void **state_) {
        (void) state_;
        char tmp[160];
        snprintf(tmp, sizeof(tmp), "%s.tmp", state);
        assert_int_equal(mkdir(tmp, 0700), 0);
        int st;
        char *err = NULL;
        char *args[] = {getenv("CLOSERD"), "--hypervisor", "sim", "--socket", sock, "--state", state,
                        "--ledger", ledger, "--tick-ms", "50", NULL};
        free(run(args, &st, &err));
        assert_int_equal(rmdir(tmp), 0);
        assert_int_equal(st, 1);
        const char *line = strstr(err, "cannot write the state file");
        assert_non_null(line);
        assert_non_null(strstr(line, state));
        free(err);
}

/* closer.conf replaced by a FIFO (nobody writing): SIGHUP used to block
 * in open() for ever, and with it the whole daemon. It is refused at once,
 * and a NUL byte in the file is an error naming its line (it used to end
 * the file there, silently resetting what followed to the defaults). */
static void test_config_not_text(void **state_) {
        (void) state_;
        FILE *f = fopen(conf, "we");
        fputs("[main]\nprofile = eucalyptus\n", f);
        fclose(f);
        pid_t pid = start_daemon(conf);
        assert_int_equal(unlink(conf), 0);
        assert_int_equal(mkfifo(conf, 0600), 0);
        json_t *s = ctl_json("status", NULL);
        long long want = json_integer_value(json_object_get(s, "ticks")) + 5;
        json_decref(s);
        kill(pid, SIGHUP);
        s = status_until(ticks_at_least, &want, 10000, "ticking after a SIGHUP with a FIFO as closer.conf");
        assert_string_equal(json_string_value(json_object_get(json_object_get(s, "main"), "dom0_cpus")), "0");
        json_decref(s);
        assert_int_equal(stop(pid, SIGTERM), 0);
        assert_int_equal(unlink(conf), 0);

        f = fopen(conf, "we");
        fputs("[main]\nprofile = eucalyptus\n", f);
        fputc('\0', f);
        fputs("garbage that was never read\n", f);
        fclose(f);
        int st;
        char *err = NULL;
        char *args[] = {getenv("CLOSERD"), "--hypervisor", "sim", "--config", conf, "--socket", sock, NULL};
        free(run(args, &st, &err));
        assert_int_equal(st, 2);
        assert_non_null(strstr(err, conf));
        assert_non_null(strstr(err, ":3: expected text, found a NUL byte"));
        assert_int_equal(strchr(err, '\n') - err + 1, (long) strlen(err));      /* one line */
        free(err);
}

/* Bad usage, however it is spelt: one line, exit 2, before any file named
 * on the command line is touched (a malformed --metrics used to be found
 * only after the files were locked and the state file written). */
static void test_bad_usage(void **state_) {
        (void) state_;
        static const char *const bad[][2] = {{"--tick-ms", "5"}, {"--metrics", "localhost"}, {"--hypervisor", "kvm"},
                                             {"--bogus", NULL}};
        char lock[200];
        snprintf(lock, sizeof(lock), "%s.lock", sock);
        unlink(lock);
        unlink(state);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *args[] = {getenv("CLOSERD"), "--hypervisor", "sim", "--socket", sock, "--state", state,
                                "--ledger", ledger, (char *) bad[i][0], (char *) bad[i][1], NULL};
                int st;
                char *err = NULL;
                free(run(args, &st, &err));
                assert_int_equal(st, 2);
                assert_non_null(strstr(err, bad[i][0]));
                assert_int_equal(strchr(err, '\n') - err + 1, (long) strlen(err));      /* one line */
                free(err);
                assert_int_equal(access(lock, F_OK), -1);
                assert_int_equal(access(state, F_OK), -1);
        }
}

/* An event source that cannot be set up (sd_event_add_* failing, here by
 * fail-sd-event.so) is one line and exit 1 at start, with nothing left
 * behind: before, closerd ran on without, e.g., its SIGTERM handler. */
static void test_event_source_fails(void **state_) {
        (void) state_;
        char metrics[32];
        free_port(metrics, sizeof(metrics));
        static const struct {
                const char *fail, *says;
                bool metrics;
        } cases[] = {
                {"signal:1", "cannot watch for SIGTERM: ", false},
                {"signal:2", "cannot watch for SIGINT: ", false},
                {"signal:3", "cannot watch for SIGHUP: ", false},
                {"time:1", "tick timer: ", false},
                {"io:1", "hypervisor events: cannot watch them: ", false},
                {"io:2", "metrics: cannot watch the server's connections: ", true},
                {"time_relative:1", "metrics timer: ", true},
        };
        /* the preloaded library comes before ASan's runtime: fine for this */
        const char *asan = getenv("ASAN_OPTIONS");
        char *asan_was = asan ? strdup(asan) : NULL, asan_now[512];
        snprintf(asan_now, sizeof(asan_now), "%s%sverify_asan_link_order=0", asan ? asan : "", asan ? ":" : "");
        setenv("ASAN_OPTIONS", asan_now, 1);
        setenv("LD_PRELOAD", getenv("FAIL_SD_EVENT"), 1);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                /* without the check, closerd would run its 10 ticks and exit 0 */
                char *args[] = {getenv("CLOSERD"), "--hypervisor", "sim", "--socket", sock, "--state", state,
                                "--ledger", ledger, "--tick-ms", "10", "--ticks", "10",
                                cases[i].metrics ? "--metrics" : "--verbose", cases[i].metrics ? metrics : NULL,
                                NULL};
                int st;
                char *err = NULL;
                setenv("CLOSERD_TEST_FAIL", cases[i].fail, 1);
                free(run(args, &st, &err));
                if (st != 1 || !strstr(err, cases[i].says))
                        fail_msg("%s: exit %d, said: %s", cases[i].fail, st, err);
                const char *line = strstr(err, cases[i].says);
                assert_non_null(strstr(line, strerror(ENOMEM)));
                assert_int_equal(strchr(line, '\n')[1], '\0');        /* the last line, and one line */
                assert_null(strstr(err, "ready"));
                free(err);
                assert_int_equal(access(sock, F_OK), -1);
        }
        unsetenv("CLOSERD_TEST_FAIL");
        unsetenv("LD_PRELOAD");
        if (asan_was)
                setenv("ASAN_OPTIONS", asan_was, 1);
        else
                unsetenv("ASAN_OPTIONS");
        free(asan_was);
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
        const char *locked[] = {sock, state, ledger};
        for (size_t i = 0; i < 3; i++) {
                snprintf(p, sizeof(p), "%s.lock", locked[i]);
                unlink(p);
        }
        rmdir(dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_serve_and_stop, kill_leftover),
                cmocka_unit_test_teardown(test_kill9_resume, kill_leftover),
                cmocka_unit_test_teardown(test_ledger_interval, kill_leftover),
                cmocka_unit_test_teardown(test_ledger_locked, kill_leftover),
                cmocka_unit_test_teardown(test_silent_clients, kill_leftover),
                cmocka_unit_test_teardown(test_metrics_idle_timeout, kill_leftover),
                cmocka_unit_test_teardown(test_bad_config, kill_leftover),
                cmocka_unit_test_teardown(test_config_rejected_at_start, kill_leftover),
                cmocka_unit_test_teardown(test_hup_storm, kill_leftover),
                cmocka_unit_test_teardown(test_single_instance, kill_leftover),
                cmocka_unit_test_teardown(test_foreign_files, kill_leftover),
                cmocka_unit_test_teardown(test_state_unwritable, kill_leftover),
                cmocka_unit_test_teardown(test_config_not_text, kill_leftover),
                cmocka_unit_test_teardown(test_bad_usage, kill_leftover),
                cmocka_unit_test_teardown(test_event_source_fails, kill_leftover),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
