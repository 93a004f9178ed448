/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's server in an sd-event loop, as closerd runs it, with
 * a 50 ms "tick" timer beside it: silent, slow and greedy clients cost their
 * own connection, never the ticks; streamed answers arrive whole and exact;
 * the client gives up on a daemon that does not answer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/control.h"

#define TICK_USEC 50000

typedef struct fixture {
        char dir[64], path[128];
        int lfd;
        sd_event *ev;
        closer_control_server *srv;
        sd_event_source *tick;
        unsigned ticks;
        uint64_t max_gap_usec, last_tick_usec;
} fixture;

static fixture *fx;
/* Time bounds are about the daemon's design, not the machine: valgrind
 * (make check-valgrind) runs everything ten times slower or so. */
static uint64_t slow = 1;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* ---- what the handler answers ---- */

/* The bytes a streamed answer carries: everything JSON must escape, UTF-8,
 * and an invalid byte (which arrives as U+FFFD). */
static const char piece[] = "a,\"b\"\n\\c\td\r\x01\x1f \xc3\xa9\xf0\x9f\x98\x80 \xff end\n";
static const char piece_out[] = "a,\"b\"\n\\c\td\r\x01\x1f \xc3\xa9\xf0\x9f\x98\x80 \xef\xbf\xbd end\n";

typedef struct stream_state {
        unsigned left;                  /* pieces still to write */
        bool fail_at_end;               /* cut short instead of finishing */
} stream_state;

static int stream_step(void *state, FILE *f, json_t **ret) {
        stream_state *st = state;
        (void) ret;
        if (st->left == 0)
                return st->fail_at_end ? -EIO : 0;
        /* about 64 KiB per step */
        for (unsigned i = 0; i < 2000 && st->left > 0; i++, st->left--)
                fputs(piece, f);
        return 1;
}

typedef struct job_state {
        unsigned steps;
} job_state;

static int job_step(void *state, FILE *f, json_t **ret) {
        job_state *st = state;
        (void) f;
        if (++st->steps < 20)
                return 1;
        *ret = json_pack("{s:b, s:i}", "ok", 1, "steps", (int) st->steps);
        return 0;
}

static json_t *handler(void *userdata, const json_t *req, closer_control_work *work) {
        (void) userdata;
        const char *cmd = json_string_value(json_object_get(req, "command"));
        if (cmd && (strcmp(cmd, "stream") == 0 || strcmp(cmd, "stream-fails") == 0)) {
                stream_state *st = calloc(1, sizeof(*st));
                st->left = (unsigned) json_integer_value(json_object_get(req, "pieces"));
                st->fail_at_end = strcmp(cmd, "stream-fails") == 0;
                *work = (closer_control_work) {.step = stream_step, .free = free, .state = st, .stream_key = "export"};
                return NULL;
        }
        if (cmd && strcmp(cmd, "job") == 0) {
                *work = (closer_control_work) {.step = job_step, .free = free, .state = calloc(1, sizeof(job_state))};
                return NULL;
        }
        return json_pack("{s:b, s:s?}", "ok", 1, "command", cmd);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        fixture *f = userdata;
        uint64_t now = now_usec();
        if (f->last_tick_usec && now - f->last_tick_usec > f->max_gap_usec)
                f->max_gap_usec = now - f->last_tick_usec;
        f->last_tick_usec = now;
        f->ticks++;
        (void) sd_event_source_set_time(s, usec + TICK_USEC);
        return 0;
}

static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/closer-control-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/control", f->dir);
        f->lfd = closer_control_listen(f->path);
        assert_true(f->lfd >= 0);
        assert_int_equal(sd_event_new(&f->ev), 0);
        assert_int_equal(closer_control_server_new(f->ev, f->lfd, 0, handler, f, &f->srv), 0);
        assert_int_equal(sd_event_add_time_relative(f->ev, &f->tick, CLOCK_MONOTONIC, TICK_USEC, 1000, on_tick, f), 0);
        assert_int_equal(sd_event_source_set_enabled(f->tick, SD_EVENT_ON), 0);
        fx = f;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fixture *f = *state;
        sd_event_source_unref(f->tick);
        closer_control_server_free(f->srv);
        sd_event_unref(f->ev);
        close(f->lfd);
        unlink(f->path);
        rmdir(f->dir);
        free(f);
        return 0;
}

/* Run the loop until pid exits (its exit status) or for_usec passes (-1). */
static int loop(fixture *f, pid_t pid, uint64_t for_usec) {
        uint64_t end = now_usec() + for_usec;
        while (now_usec() < end) {
                int st;
                if (pid > 0) {
                        pid_t w = waitpid(pid, &st, WNOHANG);
                        assert_true(w >= 0);
                        if (w == pid) {
                                if (!WIFEXITED(st))
                                        fail_msg("client died: status 0x%x", st);
                                return WEXITSTATUS(st);
                        }
                }
                assert_true(sd_event_run(f->ev, 10000) >= 0);
        }
        return -1;
}

static int raw_connect(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(c >= 0);
        assert_int_equal(connect(c, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return c;
}

/* Child: one request; exit 0 when the answer is ok (and, for a stream, the
 * bytes written to a pipe to nowhere match). */
static pid_t client(const char *path, const char *cmd, unsigned pieces, int timeout_ms) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid > 0)
                return pid;
        json_t *req = json_pack("{s:s, s:i}", "command", cmd, "pieces", (int) pieces), *ans = NULL;
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        int r = closer_control_call_stream(path, req, "export", out, timeout_ms, &ans);
        fclose(out);
        if (r < 0)
                _exit(r == -EPROTO ? 3 : r == -ETIMEDOUT ? 4 : 5);
        if (!json_is_true(json_object_get(ans, "ok")))
                _exit(6);
        if (strcmp(cmd, "stream") == 0) {
                size_t one = sizeof(piece_out) - 1;
                if (len != one * pieces || json_object_get(ans, "export"))
                        _exit(7);
                for (size_t i = 0; i < pieces; i++)
                        if (memcmp(buf + i * one, piece_out, one) != 0)
                                _exit(8);
        }
        if (strcmp(cmd, "job") == 0 && json_integer_value(json_object_get(ans, "steps")) != 20)
                _exit(9);
        free(buf);
        json_decref(ans);
        json_decref(req);
        _exit(0);
}

/* Ten clients that connect and say nothing: a real request is answered at
 * once, the ticks keep their pace, and the silent ones are dropped at their
 * deadline with a one-line reason. */
static void test_silent_clients(void **state) {
        fixture *f = *state;
        int silent[10];
        closer_control_server_set_timeouts(f->srv, 2000000 * slow, 0);
        for (unsigned i = 0; i < 10; i++)
                silent[i] = raw_connect(f->path);
        loop(f, 0, 100000);
        assert_int_equal(closer_control_server_clients(f->srv), 10);
        uint64_t t0 = now_usec();
        f->max_gap_usec = 0;
        assert_int_equal(loop(f, client(f->path, "status", 0, 0), 5000000), 0);
        assert_true(now_usec() - t0 < 1500000 * slow);  /* before the silent ones time out */
        loop(f, 0, 3000000 * slow);
        assert_int_equal(closer_control_server_clients(f->srv), 0);
        /* served one after the other, each silent client would hold the
         * loop for its whole 2 s deadline; a busy machine may hold it for
         * a moment */
        assert_true(f->max_gap_usec < 1500000 * slow);
        for (unsigned i = 0; i < 10; i++) {
                char buf[256] = "";
                ssize_t k = read(silent[i], buf, sizeof(buf) - 1);
                assert_true(k > 0);
                assert_non_null(strstr(buf, "timed out"));
                assert_int_equal(strchr(buf, '\n') - buf + 1, k);
                close(silent[i]);
        }
}

/* More clients than the server takes: the extra one is told, not queued. */
static void test_busy(void **state) {
        fixture *f = *state;
        int held[CLOSER_CONTROL_CLIENTS_MAX];
        for (unsigned i = 0; i < CLOSER_CONTROL_CLIENTS_MAX; i++)
                held[i] = raw_connect(f->path);
        loop(f, 0, 100000);
        assert_int_equal(closer_control_server_clients(f->srv), CLOSER_CONTROL_CLIENTS_MAX);
        int extra = raw_connect(f->path);
        loop(f, 0, 100000);
        char buf[256] = "";
        assert_true(read(extra, buf, sizeof(buf) - 1) > 0);
        assert_non_null(strstr(buf, "busy"));
        close(extra);
        for (unsigned i = 0; i < CLOSER_CONTROL_CLIENTS_MAX; i++)
                close(held[i]);
        loop(f, 0, 100000);
        assert_int_equal(closer_control_server_clients(f->srv), 0);
}

/* A 20 MB streamed answer arrives whole and byte for byte (through JSON
 * escaping both ways), while the ticks go on. */
static void test_stream(void **state) {
        fixture *f = *state;
        unsigned pieces = 20u * 1000 * 1000 / (unsigned) slow / (sizeof(piece) - 1);
        f->max_gap_usec = 0;
        unsigned ticks = f->ticks;
        uint64_t t0 = now_usec();
        assert_int_equal(loop(f, client(f->path, "stream", pieces, 0), 60000000), 0);
        uint64_t took = now_usec() - t0;
        assert_true(f->ticks > ticks);
        /* made in one go, the answer would hold the loop for about all of
         * its time; in steps, one step at most (or a busy machine's pause) */
        if (f->max_gap_usec >= 4 * TICK_USEC * slow && f->max_gap_usec >= took / 2)
                fail_msg("the loop waited %llu us of the stream's %llu us", (unsigned long long) f->max_gap_usec,
                         (unsigned long long) took);
        /* an empty stream is an empty string */
        assert_int_equal(loop(f, client(f->path, "stream", 0, 0), 5000000), 0);
        /* an answer made in steps without a stream */
        assert_int_equal(loop(f, client(f->path, "job", 0, 0), 5000000), 0);
}

/* A stream that fails half-way never looks complete to the client. */
static void test_stream_cut_short(void **state) {
        fixture *f = *state;
        assert_int_equal(loop(f, client(f->path, "stream-fails", 5000, 0), 5000000), 3);
        assert_int_equal(closer_control_server_clients(f->srv), 0);
}

/* A client that asks for a big answer and reads none of it: the ticks do
 * not wait for it, and it is dropped at its idle deadline. */
static void test_slow_reader(void **state) {
        fixture *f = *state;
        closer_control_server_set_timeouts(f->srv, 0, 2000000 * slow);
        int c = raw_connect(f->path);
        static const char req[] = "{\"command\":\"stream\",\"pieces\":1000000}\n";
        assert_int_equal(write(c, req, sizeof(req) - 1), (ssize_t) sizeof(req) - 1);
        f->max_gap_usec = 0;
        unsigned ticks = f->ticks;
        loop(f, 0, 500000 * slow);
        assert_int_equal(closer_control_server_clients(f->srv), 1);
        loop(f, 0, 3000000 * slow);
        assert_int_equal(closer_control_server_clients(f->srv), 0);
        assert_true(f->ticks >= ticks + 10);
        /* a blocking write would hold the loop until the idle deadline */
        assert_true(f->max_gap_usec < 1500000 * slow);
        close(c);
}

/* closerctl against a daemon that is stopped (its socket accepts into the
 * backlog, nobody answers): it gives up after its timeout, also when the
 * backlog is full and connect() itself would wait. */
static void test_client_timeout(void **state) {
        fixture *f = *state;
        char path[160];
        snprintf(path, sizeof(path), "%s/stopped", f->dir);
        int lfd = closer_control_listen(path);
        assert_true(lfd >= 0);
        json_t *req = json_pack("{s:s}", "command", "status"), *ans = NULL;
        int fill[64];
        unsigned n_fill = 0;
        for (unsigned round = 0; round < 2; round++) {
                uint64_t t0 = now_usec();
                assert_int_equal(closer_control_call(path, req, 300, &ans), -ETIMEDOUT);
                uint64_t dt = now_usec() - t0;
                assert_true(dt >= 250000 && dt < 5000000);
                /* now fill the backlog */
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
                while (round == 0 && n_fill < 64) {
                        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                        assert_true(c >= 0);
                        if (connect(c, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                                assert_int_equal(errno, EAGAIN);
                                close(c);
                                break;
                        }
                        fill[n_fill++] = c;
                }
        }
        for (unsigned i = 0; i < n_fill; i++)
                close(fill[i]);
        json_decref(req);
        close(lfd);
        unlink(path);
}

/* A file that is not a socket is never replaced by the listening socket. */
static void test_listen_keeps_files(void **state) {
        fixture *f = *state;
        char path[160];
        snprintf(path, sizeof(path), "%s/precious", f->dir);
        FILE *p = fopen(path, "we");
        assert_non_null(p);
        fputs("keep me\n", p);
        fclose(p);
        assert_int_equal(closer_control_listen(path), -EEXIST);
        assert_int_equal(access(path, F_OK), 0);
        unlink(path);
}

int main(void) {
        if (getenv("CLOSER_UNDER_VALGRIND"))
                slow = 10;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_silent_clients, setup, teardown),
                cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stream_cut_short, setup, teardown),
                cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
                cmocka_unit_test_setup_teardown(test_client_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_listen_keeps_files, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
