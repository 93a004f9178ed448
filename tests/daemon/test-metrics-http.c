/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The /metrics server on 127.0.0.1, ephemeral port, read back with a plain
 * socket client. One thread: the test drives the server the way closerd's
 * event loop will (poll its fd, call process), and the client in turn. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/metrics-http.h"
#include "daemon/metrics.h"

typedef struct source {
        closer_metrics m;
        int calls;
        int fail;
} source;

static int render(void *userdata, char **ret_text) {
        source *s = userdata;
        s->calls++;
        if (s->fail)
                return -EIO;
        return closer_metrics_render(&s->m, ret_text);
}

static const closer_metrics_domain doms[] = {
        {.domid = 4, .uuid = "3f1e0d3c-8b0a-4c1e-9a55-1d2e3f405162", .name = "db\"1\"\n",
         .dom0_cpu_ns_total = 2500000000, .dom0_mem_kib = 4096},
};

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Send request, serve until the server closes the connection (HTTP/1.0),
 * return what the client read (malloc'd). Bounded: 5 s at most. */
static char *roundtrip(closer_metrics_http *h, const char *request) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(c >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(closer_metrics_http_port(h))};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* loopback connect completes in the kernel's backlog, before accept */
        assert_int_equal(connect(c, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(send(c, request, strlen(request), MSG_NOSIGNAL), (ssize_t) strlen(request));

        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);
        double deadline = now_s() + 5;
        for (;;) {
                assert_true(now_s() < deadline);
                struct pollfd p[2] = {{.fd = closer_metrics_http_fd(h), .events = POLLIN},
                                      {.fd = c, .events = POLLIN}};
                assert_true(poll(p, 2, 100) >= 0);
                /* the server also runs on no event, as a loop would on its timeout */
                assert_int_equal(closer_metrics_http_process(h), 0);
                if (p[1].revents) {
                        if (len + 1024 > cap)
                                buf = realloc(buf, cap *= 2);
                        ssize_t n = recv(c, buf + len, cap - len - 1, MSG_DONTWAIT);
                        if (n == 0)
                                break;
                        if (n < 0 && errno != EAGAIN)
                                fail_msg("recv: %s", strerror(errno));
                        if (n > 0)
                                len += (size_t) n;
                }
        }
        close(c);
        buf[len] = '\0';
        return buf;
}

/* The status code of an HTTP/1.x response, or -1. */
static int status_of(const char *resp) {
        int code;
        return sscanf(resp, "HTTP/1.%*d %d", &code) == 1 ? code : -1;
}

static void test_serve(void **state) {
        (void) state;
        source src = {.m = {.domains = doms, .n_domains = 1, .main_load = 0.5, .main_cpus = 2}};
        closer_metrics_http *h = NULL;
        assert_int_equal(closer_metrics_http_start("127.0.0.1", 0, render, &src, &h), 0);
        assert_true(closer_metrics_http_port(h) > 0);
        assert_true(closer_metrics_http_fd(h) >= 0);
        uint64_t ms;
        assert_true(closer_metrics_http_timeout_ms(h, &ms) >= 0);

        char *resp = roundtrip(h, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
        assert_int_equal(src.calls, 1);
        assert_int_equal(status_of(resp), 200);
        char *body = strstr(resp, "\r\n\r\n");
        assert_non_null(body);
        body += 4;
        /* the header names the format version Prometheus expects */
        *(body - 2) = '\0';
        assert_non_null(strcasestr(resp, "Content-Type: text/plain; version=0.0.4"));
        /* the body is the exposition, byte for byte */
        char *want = NULL;
        assert_true(closer_metrics_render(&src.m, &want) > 0);
        assert_string_equal(body, want);
        assert_non_null(strstr(body, "name=\"db\\\"1\\\"\\n\"} 2.500000000\n"));
        free(want);
        free(resp);

        resp = roundtrip(h, "GET /other HTTP/1.0\r\n\r\n");
        assert_int_equal(status_of(resp), 404);
        free(resp);
        resp = roundtrip(h, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
        assert_int_equal(status_of(resp), 405);
        free(resp);
        src.fail = 1;
        resp = roundtrip(h, "GET /metrics HTTP/1.0\r\n\r\n");
        assert_int_equal(status_of(resp), 500);
        free(resp);
        /* HEAD: headers only */
        src.fail = 0;
        resp = roundtrip(h, "HEAD /metrics HTTP/1.0\r\n\r\n");
        assert_int_equal(status_of(resp), 200);
        body = strstr(resp, "\r\n\r\n");
        assert_non_null(body);
        assert_string_equal(body + 4, "");
        free(resp);

        /* the port is taken while we serve */
        closer_metrics_http *h2 = NULL;
        assert_int_equal(closer_metrics_http_start("127.0.0.1", closer_metrics_http_port(h), render, &src, &h2),
                         -EADDRINUSE);
        assert_null(h2);
        assert_null(closer_metrics_http_stop(h));
        assert_null(closer_metrics_http_stop(NULL));
}

static void test_loopback_only(void **state) {
        (void) state;
        source src = {0};
        closer_metrics_http *h = NULL;
        assert_int_equal(closer_metrics_http_start("0.0.0.0", 0, render, &src, &h), -EPERM);
        assert_int_equal(closer_metrics_http_start("192.0.2.1", 0, render, &src, &h), -EPERM);
        assert_int_equal(closer_metrics_http_start("::", 0, render, &src, &h), -EPERM);
        assert_int_equal(closer_metrics_http_start("localhost", 0, render, &src, &h), -EINVAL);
        assert_int_equal(closer_metrics_http_start("127.0.0.1", 0, NULL, &src, &h), -EINVAL);
        assert_null(h);
        /* the whole of 127/8 is loopback */
        assert_int_equal(closer_metrics_http_start("127.0.0.2", 0, render, &src, &h), 0);
        closer_metrics_http_stop(h);
}

/* Serve for ms milliseconds, as closerd's loop would (fd and deadlines). */
static void serve_for(closer_metrics_http *h, int ms) {
        double end = now_s() + ms / 1000.0;
        while (now_s() < end) {
                struct pollfd p = {.fd = closer_metrics_http_fd(h), .events = POLLIN};
                assert_true(poll(&p, 1, 10) >= 0);
                assert_int_equal(closer_metrics_http_process(h), 0);
        }
}

/* An unprivileged local user opens 20 connections and sends nothing: they
 * may hold a few, not the endpoint. root (or Prometheus, another user) is
 * still served, and the server has a deadline for the idle ones. */
static void test_hostile_user(void **state) {
        (void) state;
        if (geteuid() != 0)
                skip();
        source src = {.m = {.domains = doms, .n_domains = 1}};
        closer_metrics_http *h = NULL;
        assert_int_equal(closer_metrics_http_start("127.0.0.1", 0, render, &src, &h), 0);
        int ready[2], hold[2];
        assert_int_equal(pipe(ready), 0);
        assert_int_equal(pipe(hold), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(ready[0]);
                close(hold[1]);
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(closer_metrics_http_port(h)),
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                for (int i = 0; i < 20; i++) {
                        int c = socket(AF_INET, SOCK_STREAM, 0);
                        if (c < 0 || connect(c, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                                _exit(3);
                }
                char x = 1;
                if (write(ready[1], &x, 1) != 1)
                        _exit(4);
                (void) read(hold[0], &x, 1);    /* until the parent is done */
                _exit(0);
        }
        close(ready[1]);
        close(hold[0]);
        char x;
        assert_int_equal(read(ready[0], &x, 1), 1);
        serve_for(h, 300);

        char *resp = roundtrip(h, "GET /metrics HTTP/1.0\r\n\r\n");
        assert_int_equal(status_of(resp), 200);
        free(resp);
        uint64_t ms = 0;
        assert_int_equal(closer_metrics_http_timeout_ms(h, &ms), 1);
        assert_true(ms <= 10000);

        close(hold[1]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close(ready[0]);
        closer_metrics_http_stop(h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_serve),
                cmocka_unit_test(test_hostile_user),
                cmocka_unit_test(test_loopback_only),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
