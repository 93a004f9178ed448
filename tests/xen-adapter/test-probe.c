/* SPDX-License-Identifier: GPL-2.0-or-later */
/* closer-xen-probe off Xen: one clear line and exit 1; bad usage exit 2. */
#include <errno.h>
#include <fcntl.h>
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

extern char **environ;

/* Run the probe with args; returns its exit code, stdout/stderr into bufs. */
static int run(char *const argv[], char *out, size_t out_size, char *err, size_t err_size) {
        char out_path[] = "/tmp/closer-probe-out-XXXXXX", err_path[] = "/tmp/closer-probe-err-XXXXXX";
        int ofd = mkstemp(out_path), efd = mkstemp(err_path);
        assert_true(ofd >= 0 && efd >= 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, ofd, 1);
        posix_spawn_file_actions_adddup2(&fa, efd, 2);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        ssize_t n = pread(ofd, out, out_size - 1, 0);
        out[n > 0 ? n : 0] = '\0';
        n = pread(efd, err, err_size - 1, 0);
        err[n > 0 ? n : 0] = '\0';
        close(ofd);
        close(efd);
        unlink(out_path);
        unlink(err_path);
        return WEXITSTATUS(st);
}

static void test_no_xen(void **state) {
        (void) state;
        if (access("/proc/xen/capabilities", F_OK) == 0)
                skip();         /* a Xen host: tests/xen checks the real thing */
        char out[4096], err[4096];
        char *argv[] = {getenv("CLOSER_XEN_PROBE"), "--io-interval-ms", "0", NULL};
        assert_non_null(argv[0]);
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 1);
        assert_string_equal(out, "");
        assert_string_equal(err, "closer-xen-probe: no Xen here: /proc/xen/capabilities missing\n");
}

static void test_bad_usage(void **state) {
        (void) state;
        char out[4096], err[4096];
        char *bad[][4] = {
                {getenv("CLOSER_XEN_PROBE"), "--io-interval-ms", "-1", NULL},
                {getenv("CLOSER_XEN_PROBE"), "--io-interval-ms", "99999999999999999999", NULL},
                {getenv("CLOSER_XEN_PROBE"), "--io-interval-ms", "1x", NULL},
                {getenv("CLOSER_XEN_PROBE"), "--bogus", NULL, NULL},
                {getenv("CLOSER_XEN_PROBE"), "extra", NULL, NULL},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                assert_int_equal(run(bad[i], out, sizeof(out), err, sizeof(err)), 2);
                assert_string_equal(out, "");
                assert_non_null(strstr(err, "closer-xen-probe"));
        }
        char *help[] = {getenv("CLOSER_XEN_PROBE"), "--help", NULL};
        assert_int_equal(run(help, out, sizeof(out), err, sizeof(err)), 0);
        assert_non_null(strstr(out, "--exact-numa"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_xen),
                cmocka_unit_test(test_bad_usage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
