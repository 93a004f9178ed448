/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `closerctl scan --root TREE` on every fixture tree (tests/data/linux-*,
 * hand-made from a real dom0's output; tests/data/xen-dom0-*, captured with
 * tools/closer-gather on a real Xen dom0) compared with TREE.expected.
 * CLOSER_REGENERATE=1 rewrites the .expected files instead of comparing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

/* Run argv, return its stdout (malloc'd) and exit status. */
static char *run(char *const argv[], int *ret_status) {
        int pipefd[2];
        assert_int_equal(pipe(pipefd), 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
        posix_spawn_file_actions_addclose(&fa, pipefd[0]);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        size_t cap = 65536, len = 0;
        char *buf = malloc(cap);
        assert_non_null(buf);
        for (;;) {
                if (cap - len < 4096) {
                        cap *= 2;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
                ssize_t n = read(pipefd[0], buf + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                assert_true(n >= 0);
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        close(pipefd[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        return buf;
}

static char *slurp(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        size_t cap = 65536, len = 0;
        char *buf = malloc(cap);
        assert_non_null(buf);
        size_t n;
        while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
                len += n;
                if (cap - len < 2) {
                        cap *= 2;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
        }
        fclose(f);
        buf[len] = '\0';
        return buf;
}

static void check_tree(const char *data, const char *name, const char *mode) {
        char root[4096], expected[4200];
        snprintf(root, sizeof(root), "%s/%s", data, name);
        snprintf(expected, sizeof(expected), "%s/%s%s.expected", data, name, mode[0] ? ".json" : "");
        char *argv[] = {getenv("CLOSERCTL"), "scan", "--root", root, (char *) mode, NULL};
        if (!mode[0])
                argv[4] = NULL;
        int status;
        char *out = run(argv, &status);
        if (status != 0)
                fail_msg("closerctl scan --root %s: exit %d", root, status);
        const char *regen = getenv("CLOSER_REGENERATE");
        if (regen && strcmp(regen, "1") == 0) {
                FILE *f = fopen(expected, "we");
                assert_non_null(f);
                fputs(out, f);
                assert_int_equal(fclose(f), 0);
                print_message("regenerated %s\n", expected);
        } else {
                char *want = slurp(expected);
                if (!want)
                        fail_msg("%s is missing: run the test with CLOSER_REGENERATE=1", expected);
                if (strcmp(out, want) != 0) {
                        /* show the first differing line */
                        const char *a = out, *b = want;
                        unsigned line = 1;
                        while (*a && *a == *b) {
                                if (*a == '\n')
                                        line++;
                                a++;
                                b++;
                        }
                        fail_msg("%s: scan output differs from %s at line %u", root, expected, line);
                }
                free(want);
        }
        free(out);
}

static void test_fixture_trees(void **state) {
        (void) state;
        const char *data = getenv("CLOSER_TEST_DATA");
        assert_non_null(data);
        assert_non_null(getenv("CLOSERCTL"));
        DIR *d = opendir(data);
        assert_non_null(d);
        struct dirent *de;
        unsigned n = 0, n_linux = 0;
        while ((de = readdir(d))) {
                bool hand = strncmp(de->d_name, "linux-", 6) == 0, real = strncmp(de->d_name, "xen-dom0-", 9) == 0;
                if (!hand && !real)
                        continue;
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s/proc", data, de->d_name);
                DIR *p = opendir(path);
                if (!p)
                        continue;       /* not a tree (e.g. a .expected file) */
                closedir(p);
                check_tree(data, de->d_name, "");
                check_tree(data, de->d_name, "--json");
                n++;
                n_linux += hand;
        }
        closedir(d);
        assert_true(n_linux >= 4);      /* xen-dom0, odd, 512cpu, cgroup1 */
        print_message("%u fixture trees checked\n", n);
}

/* Bad input: one line on stderr, exit 2. */
static void test_bad_input(void **state) {
        (void) state;
        const char *data = getenv("CLOSER_TEST_DATA");
        char root[4096];
        snprintf(root, sizeof(root), "%s/does-not-exist", data);
        char *argv1[] = {getenv("CLOSERCTL"), "scan", "--root", root, NULL};
        int status;
        free(run(argv1, &status));
        assert_int_equal(status, 2);
        char *argv2[] = {getenv("CLOSERCTL"), "scan", "--frobnicate", NULL};
        free(run(argv2, &status));
        assert_int_equal(status, 2);
        char *argv3[] = {getenv("CLOSERCTL"), "scan", "--root", NULL};
        free(run(argv3, &status));
        assert_int_equal(status, 2);
        char *argv4[] = {getenv("CLOSERCTL"), "scan", "--help", NULL};
        char *help = run(argv4, &status);
        assert_int_equal(status, 0);
        assert_non_null(strstr(help, "--root DIR"));
        free(help);

        /* a malformed /proc/interrupts names the file and line */
        char tmpl[] = "/tmp/closer-scan-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        char path[4200];
        snprintf(path, sizeof(path), "%s/proc", tmpl);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/proc/interrupts", tmpl);
        FILE *f = fopen(path, "we");
        fputs("           CPU0       CPU1\n 61:  1  xen-dyn-lateeoi -event blkif-backend\n", f);
        fclose(f);
        char *argv5[] = {getenv("CLOSERCTL"), "scan", "--root", tmpl, NULL};
        free(run(argv5, &status));
        assert_int_equal(status, 2);
        unlink(path);
        snprintf(path, sizeof(path), "%s/proc", tmpl);
        rmdir(path);
        rmdir(tmpl);
}

/* The live domains scan lists are exactly those the backend I/O counters
 * accept: one parser of /sys/bus/xen-backend/devices names for both. */
static void test_backend_names(void **state) {
        (void) state;
        static const char *const names[] = {"vbd-3-51712", "vif-5-0", "vbd-+7-0", "vbd- 8-0", "vif-9-x", "vif-10-",
                                            "vbd-011-0", "vbd-32752-0", "vbd-12-+1", "averyveryverylongtype-13-0"};
        char tmpl[] = "/tmp/closer-scan-XXXXXX", path[4200];
        assert_non_null(mkdtemp(tmpl));
        const char *dirs[] = {"proc", "sys", "sys/bus", "sys/bus/xen-backend", "sys/bus/xen-backend/devices"};
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", tmpl, dirs[i]);
                assert_int_equal(mkdir(path, 0755), 0);
        }
        snprintf(path, sizeof(path), "%s/proc/interrupts", tmpl);
        FILE *f = fopen(path, "we");
        fputs("           CPU0\n", f);
        fclose(f);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(path, sizeof(path), "%s/sys/bus/xen-backend/devices/%s", tmpl, names[i]);
                assert_int_equal(mkdir(path, 0755), 0);
        }
        char *argv[] = {getenv("CLOSERCTL"), "scan", "--root", tmpl, NULL};
        int status;
        char *out = run(argv, &status);
        assert_int_equal(status, 0);
        if (!strstr(out, "live domains (xen-backend): 3 5\n"))
                fail_msg("scan listed other domains than 3 and 5:\n%s", out);
        free(out);

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(path, sizeof(path), "%s/sys/bus/xen-backend/devices/%s", tmpl, names[i]);
                rmdir(path);
        }
        snprintf(path, sizeof(path), "%s/proc/interrupts", tmpl);
        unlink(path);
        for (size_t i = sizeof(dirs) / sizeof(dirs[0]); i-- > 0;) {
                snprintf(path, sizeof(path), "%s/%s", tmpl, dirs[i]);
                rmdir(path);
        }
        rmdir(tmpl);
}

/* tools/closer-gather on a fixture tree (through --root), extracted again,
 * scans exactly like the tree itself: the capture keeps what scan reads. */
static void test_gather_roundtrip(void **state) {
        (void) state;
        const char *data = getenv("CLOSER_TEST_DATA");
        char *gather = getenv("CLOSER_GATHER");
        assert_non_null(gather);
        char tmpl[] = "/tmp/closer-gather-test-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        char root[4096], tarball[4200], extracted[4200];
        snprintf(root, sizeof(root), "%s/linux-xen-dom0", data);
        snprintf(tarball, sizeof(tarball), "%s/cap.tar.gz", tmpl);
        snprintf(extracted, sizeof(extracted), "%s/cap", tmpl);
        int status;
        char *argv1[] = {"/bin/sh", gather, "--root", root, tarball, NULL};
        free(run(argv1, &status));
        assert_int_equal(status, 0);
        char *argv2[] = {"/bin/tar", "-C", tmpl, "-xzf", tarball, NULL};
        free(run(argv2, &status));
        assert_int_equal(status, 0);
        char *argv3[] = {getenv("CLOSERCTL"), "scan", "--root", root, NULL};
        char *want = run(argv3, &status);
        assert_int_equal(status, 0);
        char *argv4[] = {getenv("CLOSERCTL"), "scan", "--root", extracted, NULL};
        char *got = run(argv4, &status);
        assert_int_equal(status, 0);
        assert_string_equal(got, want);
        assert_non_null(strstr(got, "netback guest-rx queue 0 of vif1.0"));
        free(want);
        free(got);
        char *argv5[] = {"/bin/rm", "-rf", "--", tmpl, NULL};
        free(run(argv5, &status));
        assert_int_equal(status, 0);
}

/* SIGTERM stops closer-gather (as `timeout` sends it): exit 143, its
 * temporary tree removed, no archive written. It once trapped TERM to clean
 * up and then went on gathering. The live host's /proc takes it 0.2-2 s
 * here; a run that finished before the signal proves nothing: skipped. */
static void test_gather_sigterm(void **state) {
        (void) state;
        char *gather = getenv("CLOSER_GATHER");
        assert_non_null(gather);
        char tmpl[] = "/tmp/closer-gather-term-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        char tmpdir_env[4200], tarball[4200];
        snprintf(tmpdir_env, sizeof(tmpdir_env), "TMPDIR=%s", tmpl);
        snprintf(tarball, sizeof(tarball), "/tmp/closer-gather-term-%d.tar.gz", (int) getpid());
        char *argv[] = {"/bin/sh", gather, "--root", "/", tarball, NULL};
        char *envp[] = {tmpdir_env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, envp), 0);
        nanosleep(&(struct timespec) {.tv_nsec = 40 * 1000 * 1000}, NULL);
        int status = 0;
        pid_t w = waitpid(pid, &status, WNOHANG);
        bool finished = w == pid;       /* done before the signal: proves nothing */
        if (!finished)
                assert_int_equal(kill(pid, SIGTERM), 0);
        for (int i = 0; !finished && i < 200 && (w = waitpid(pid, &status, WNOHANG)) == 0; i++)
                nanosleep(&(struct timespec) {.tv_nsec = 50 * 1000 * 1000}, NULL);
        if (!finished && w == 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                fail_msg("closer-gather still running 10 s after SIGTERM");
        }
        bool wrote = access(tarball, F_OK) == 0;
        unlink(tarball);
        DIR *d = opendir(tmpl);
        assert_non_null(d);
        int left = 0;
        for (struct dirent *de; (de = readdir(d));)
                left += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(d);
        char *rm[] = {"/bin/rm", "-rf", "--", tmpl, NULL};
        int rs;
        free(run(rm, &rs));
        if (finished)
                skip();
        assert_true(WIFEXITED(status) ? WEXITSTATUS(status) == 143 : WTERMSIG(status) == SIGTERM);
        assert_int_equal(left, 0);
        /* An archive means the signal came during the last step (the trap
         * runs once the foreground tar is done): a fast machine's gather
         * takes ~0.2 s. Stopped, but too late to prove the point. */
        if (wrote)
                skip();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixture_trees),
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_backend_names),
                cmocka_unit_test(test_gather_roundtrip),
                cmocka_unit_test(test_gather_sigterm),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
