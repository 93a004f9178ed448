/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Least privilege: the control socket is 0600 and refuses a peer that is not
 * root even when it can reach it (a child that setuid()s to nobody); metrics
 * are served on loopback only; no source file ever hands a string to a
 * shell.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "daemon/control.h"
#include "daemon/metrics-http.h"

#define NOBODY 65534

static int handled;

static json_t *handler(void *userdata, const json_t *req, closer_control_work *work) {
        (void) userdata, (void) req, (void) work;
        handled++;
        return json_pack("{s:b, s:s}", "ok", 1, "secret", "plan");
}

/* Child: become nobody, ask for the status. Exit 10 denied, 11 answered,
 * 12 cannot connect (errno in the message), 13 could not drop. */
static int as_nobody(const char *path) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0 || getuid() != NOBODY)
                        _exit(13);
                json_t *req = json_pack("{s:s}", "command", "status"), *ans = NULL;
                int r = closer_control_call(path, req, 0, &ans);
                json_decref(req);
                if (r < 0)
                        _exit(r == -EACCES ? 12 : 20 + (-r & 63));
                const char *e = json_string_value(json_object_get(ans, "error"));
                int code = json_is_false(json_object_get(ans, "ok")) && e && strstr(e, "permission denied") &&
                           !json_object_get(ans, "secret") ? 10 : 11;
                json_decref(ans);       /* valgrind checks the child's leaks too */
                _exit(code);
        }
        return pid;
}

static int exit_status(int st) {
        if (!WIFEXITED(st))
                fail_msg("child: status 0x%x", st);
        return WEXITSTATUS(st);
}

static int wait_child(pid_t pid) {
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        return exit_status(st);
}

/* Run the daemon's side (an event loop with the control server) until the
 * child exits; its exit status. */
static int serve_until_exit(sd_event *ev, closer_control_server *srv, pid_t pid) {
        (void) srv;
        for (int i = 0; i < 500; i++) {
                int st;
                pid_t w = waitpid(pid, &st, WNOHANG);
                assert_true(w >= 0);
                if (w == pid)
                        return exit_status(st);
                assert_true(sd_event_run(ev, 20000) >= 0);
        }
        fail_msg("child %d did not finish in 10 s", (int) pid);
        return -1;
}

static void test_control_refuses_non_root(void **state) {
        (void) state;
        if (geteuid() != 0)
                skip();
        char dir[] = "/tmp/closer-priv-XXXXXX", path[128];
        struct stat st;
        assert_non_null(mkdtemp(dir));
        assert_int_equal(chmod(dir, 0711), 0);
        snprintf(path, sizeof(path), "%s/control", dir);
        int lfd = closer_control_listen(path);
        assert_true(lfd >= 0);
        sd_event *ev = NULL;
        closer_control_server *srv = NULL;
        assert_int_equal(sd_event_new(&ev), 0);
        assert_int_equal(closer_control_server_new(ev, lfd, 0, handler, NULL, &srv), 0);

        /* 0600 from bind on: nobody cannot even connect */
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(wait_child(as_nobody(path)), 12);

        /* opened up by mistake: the daemon still answers root only */
        assert_int_equal(chmod(path, 0666), 0);
        handled = 0;
        pid_t pid = as_nobody(path);
        assert_int_equal(serve_until_exit(ev, srv, pid), 10);
        assert_int_equal(handled, 0);

        /* and root gets its answer (the check is not refusing everyone) */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                json_t *ans = NULL, *req = json_pack("{s:s}", "command", "status");
                int code = closer_control_call(path, req, 0, &ans) == 0 && json_is_true(json_object_get(ans, "ok")) ? 0 : 1;
                json_decref(req);
                json_decref(ans);
                _exit(code);
        }
        assert_int_equal(serve_until_exit(ev, srv, pid), 0);
        assert_int_equal(handled, 1);

        closer_control_server_free(srv);
        sd_event_unref(ev);
        close(lfd);
        unlink(path);
        rmdir(dir);
}

static json_t *big_handler(void *userdata, const json_t *req, closer_control_work *work) {
        (void) userdata, (void) req, (void) work;
        handled++;
        char *blob = malloc(4u << 20);
        memset(blob, 'a', (4u << 20) - 1);
        blob[(4u << 20) - 1] = '\0';
        json_t *a = json_pack("{s:b, s:s}", "ok", 1, "snapshot", blob);
        free(blob);
        return a;
}

/* A client that hangs up before reading its answer (closerctl snapshot |
 * head, a killed closerctl) costs that answer, not the daemon: no SIGPIPE. */
static void test_control_peer_hangs_up(void **state) {
        (void) state;
        char dir[] = "/tmp/closer-priv-XXXXXX", path[128];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/control", dir);
        int lfd = closer_control_listen(path);
        assert_true(lfd >= 0);
        sd_event *ev = NULL;
        closer_control_server *srv = NULL;
        assert_int_equal(sd_event_new(&ev), 0);
        assert_int_equal(closer_control_server_new(ev, lfd, 0, big_handler, NULL, &srv), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
                int c = socket(AF_UNIX, SOCK_STREAM, 0);
                if (c < 0 || connect(c, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        _exit(1);
                static const char req[] = "{\"command\": \"snapshot\"}\n";
                _exit(write(c, req, sizeof(req) - 1) == (ssize_t) sizeof(req) - 1 ? 0 : 1);
        }
        assert_int_equal(wait_child(pid), 0);   /* request sent, peer gone */
        /* the 4 MiB answer meets a closed peer: that connection ends, the
         * server (and this process: no SIGPIPE) goes on */
        handled = 0;
        for (int i = 0; i < 500 && (!handled || closer_control_server_clients(srv) > 0); i++)
                assert_true(sd_event_run(ev, 20000) >= 0);
        assert_int_equal(handled, 1);
        assert_int_equal(closer_control_server_clients(srv), 0);
        closer_control_server_free(srv);
        sd_event_unref(ev);
        close(lfd);
        unlink(path);
        rmdir(dir);
}

static int render(void *userdata, char **ret) {
        (void) userdata;
        *ret = strdup("x 1\n");
        return *ret ? 4 : -ENOMEM;
}

static void test_metrics_loopback_only(void **state) {
        (void) state;
        static const char *const refused[] = {"0.0.0.0", "10.0.0.1", "192.168.1.10", "::", "2001:db8::1",
                                              "::ffff:10.0.0.1", "128.0.0.1"};
        static const char *const not_ip[] = {"localhost", "", "127.0.0.1:9100", "0x7f000001x"};
        closer_metrics_http *h = NULL;
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                assert_int_equal(closer_metrics_http_start(refused[i], 0, render, NULL, &h), -EPERM);
                assert_null(h);
        }
        for (size_t i = 0; i < sizeof(not_ip) / sizeof(not_ip[0]); i++) {
                assert_int_equal(closer_metrics_http_start(not_ip[i], 0, render, NULL, &h), -EINVAL);
                assert_null(h);
        }
        assert_int_equal(closer_metrics_http_start("127.0.0.1", 0, render, NULL, &h), 0);
        assert_non_null(h);
        closer_metrics_http_stop(h);
}

/* ---- no shell, anywhere ---- */

static const char *const forbidden[] = {
        "system(", "popen(", "/bin/sh", "/bin/bash", "execl(", "execlp(", "execle(", "wordexp(", "\"sh\", \"-c\"",
};

static unsigned scan_file(const char *path) {
        FILE *f = fopen(path, "r");
        char line[4096];
        unsigned bad = 0, no = 0;
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
                no++;
                for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
                        for (const char *p = line; (p = strstr(p, forbidden[i])); p++) {
                                /* a word on its own: closer_system( is not system( */
                                char before = p > line ? p[-1] : ' ';
                                if (forbidden[i][0] != '/' && forbidden[i][0] != '"' &&
                                    (before == '_' || (before >= 'a' && before <= 'z') ||
                                     (before >= 'A' && before <= 'Z') || (before >= '0' && before <= '9')))
                                        continue;
                                print_error("%s:%u: %s", path, no, line);
                                bad++;
                                break;
                        }
                }
        }
        fclose(f);
        return bad;
}

static unsigned scan_dir(const char *dir, unsigned *files) {
        DIR *d = opendir(dir);
        struct dirent *e;
        unsigned bad = 0;
        if (!d)
                return 0;
        while ((e = readdir(d))) {
                char path[1024];
                struct stat st;
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (stat(path, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        bad += scan_dir(path, files);
                        continue;
                }
                size_t l = strlen(e->d_name);
                if (l > 2 && (strcmp(e->d_name + l - 2, ".c") == 0 || strcmp(e->d_name + l - 2, ".h") == 0)) {
                        (*files)++;
                        bad += scan_file(path);
                }
        }
        closedir(d);
        return bad;
}

static void test_no_shell(void **state) {
        (void) state;
        const char *root = getenv("CLOSER_SOURCE_ROOT");
        unsigned files = 0, bad = 0;
        char dir[1024];
        assert_non_null(root);
        /* everything that is built into closerd, closerctl, closer-sim and
         * the benches (tests may fork and exec what they test) */
        static const char *const dirs[] = {"src", "include", "bench"};
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                snprintf(dir, sizeof(dir), "%s/%s", root, dirs[i]);
                bad += scan_dir(dir, &files);
        }
        assert_true(files > 40);        /* the scan did look at the tree */
        assert_int_equal(bad, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_control_refuses_non_root),
                cmocka_unit_test(test_control_peer_hangs_up),
                cmocka_unit_test(test_metrics_loopback_only),
                cmocka_unit_test(test_no_shell),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
