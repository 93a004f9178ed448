/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The cached thread reader closerd uses every tick: it must give what a
 * fresh one-shot scan gives, on fixture trees and on this machine's /proc
 * while threads and processes come and go, and stay within its fd budget. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "linux/linux.h"

static closer_root *open_root(const char *dir) {
        closer_root *r;
        assert_int_equal(closer_root_open(dir, &r), 0);
        return r;
}

static int cmp_tid(const void *a, const void *b) {
        const closer_thread *x = a, *y = b;
        return (x->tid > y->tid) - (x->tid < y->tid);
}

static const closer_thread *find(const closer_thread *t, unsigned n, int tid) {
        for (unsigned i = 0; i < n; i++)
                if (t[i].tid == tid)
                        return &t[i];
        return NULL;
}

/* Same threads with the same fields (order aside). */
static void assert_same(closer_thread *a, unsigned na, closer_thread *b, unsigned nb) {
        assert_int_equal(na, nb);
        qsort(a, na, sizeof(*a), cmp_tid);
        qsort(b, nb, sizeof(*b), cmp_tid);
        for (unsigned i = 0; i < na; i++) {
                assert_int_equal(a[i].tid, b[i].tid);
                assert_int_equal(a[i].pid, b[i].pid);
                assert_int_equal(a[i].ppid, b[i].ppid);
                assert_string_equal(a[i].comm, b[i].comm);
                assert_int_equal(a[i].kernel, b[i].kernel);
                assert_int_equal(a[i].cpu_ns, b[i].cpu_ns);
                assert_int_equal(a[i].start_time, b[i].start_time);
                assert_int_equal(a[i].last_cpu, b[i].last_cpu);
                assert_int_equal(a[i].n_cmdline, b[i].n_cmdline);
                for (unsigned k = 0; k < a[i].n_cmdline; k++)
                        assert_string_equal(a[i].cmdline[k], b[i].cmdline[k]);
                assert_int_equal(a[i].has_uid, b[i].has_uid);
                assert_int_equal(a[i].uid, b[i].uid);
                assert_int_equal(!a[i].stdout_path, !b[i].stdout_path);
                if (a[i].stdout_path)
                        assert_string_equal(a[i].stdout_path, b[i].stdout_path);
        }
}

/* Every captured tree: first and second cached reads equal a one-shot scan
 * (the second comes from the kept files), vanished counts included. */
static void test_fixtures_match_one_shot(void **state) {
        (void) state;
        const char *trees[] = {"linux-xen-dom0", "linux-odd", "linux-512cpu", "linux-cgroup1", "xen-dom0-20261126",
                               "xen-dom0-20261126-save"};
        for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", getenv("CLOSER_TEST_DATA"), trees[i]);
                closer_root *r = open_root(path);
                closer_proc_cache *c;
                assert_int_equal(closer_proc_cache_new(r, &c), 0);
                for (int pass = 0; pass < 2; pass++) {
                        closer_thread *a, *b;
                        unsigned na, nb, va, vb;
                        assert_int_equal(closer_proc_read_threads(r, &a, &na, &va), 0);
                        assert_int_equal(closer_proc_cache_read_threads(c, &b, &nb, &vb), 0);
                        assert_true(na > 0);
                        assert_same(a, na, b, nb);
                        assert_int_equal(va, vb);
                        closer_hostos_threads_free(a, na);
                        closer_hostos_threads_free(b, nb);
                }
                assert_true(closer_proc_cache_open_files(c) > 0);
                closer_proc_cache_free(c);
                closer_root_free(r);
        }
}

/* ---- this machine's /proc ---- */

static volatile int stop_spin;

static void *spin(void *arg) {
        (void) arg;
        while (!stop_spin)
                ;
        return NULL;
}

static void *wait_stop(void *arg) {
        int *tid = arg;
        *tid = (int) syscall(SYS_gettid);
        while (!stop_spin) {
                struct timespec ts = {0, 2000000};
                nanosleep(&ts, NULL);
        }
        return NULL;
}

/* Until every thread has started and written its tid (10 s at most). */
static void wait_tids(volatile int *tids, int n) {
        for (int round = 0; round < 1000; round++) {
                int started = 0;
                for (int i = 0; i < n; i++)
                        started += tids[i] != 0;
                if (started == n)
                        return;
                struct timespec ts = {0, 10000000};
                nanosleep(&ts, NULL);
        }
        fail_msg("threads did not start");
}

/* How many of this process's open files are under /proc/PID/ (pid 0: any
 * /proc/<number>/), and how many files it has open in all. */
static unsigned fds_under(int pid, unsigned *ret_total) {
        unsigned n = 0, total = 0;
        char want[32], link[PATH_MAX], path[64];
        snprintf(want, sizeof(want), "/proc/%d/", pid);
        DIR *d = opendir("/proc/self/fd");
        assert_non_null(d);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                total++;
                snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
                ssize_t l = readlink(path, link, sizeof(link) - 1);
                if (l <= 0)
                        continue;
                link[l] = '\0';
                if (pid ? strncmp(link, want, strlen(want)) == 0 :
                          strncmp(link, "/proc/", 6) == 0 && link[6] >= '1' && link[6] <= '9')
                        n++;
        }
        closedir(d);
        if (ret_total)
                *ret_total = total;
        return n;
}

static closer_thread *cached_read(closer_proc_cache *c, unsigned *n) {
        closer_thread *t;
        unsigned vanished;
        assert_int_equal(closer_proc_cache_read_threads(c, &t, n, &vanished), 0);
        return t;
}

/* A thread that burns CPU shows new CPU time on the next read (the kept
 * file is read again, not remembered); threads that exit are gone and new
 * ones appear even when the count stays the same; a child process that is
 * reaped is gone and its files are closed. */
static void test_live_threads_and_processes(void **state) {
        (void) state;
        closer_root *r = open_root("/");
        closer_proc_cache *c;
        assert_int_equal(closer_proc_cache_new(r, &c), 0);

        pthread_t spinner;
        stop_spin = 0;
        assert_int_equal(pthread_create(&spinner, NULL, spin, NULL), 0);
        enum { N = 4 };
        pthread_t th[N];
        int tids[N] = {0};
        for (int i = 0; i < N; i++)
                assert_int_equal(pthread_create(&th[i], NULL, wait_stop, &tids[i]), 0);
        wait_tids(tids, N);
        struct timespec ts = {0, 50000000};

        unsigned n1, n2;
        closer_thread *t1 = cached_read(c, &n1);
        for (int i = 0; i < N; i++) {
                const closer_thread *x = find(t1, n1, tids[i]);
                assert_non_null(x);
                assert_int_equal(x->pid, getpid());
                assert_false(x->kernel);
        }
        uint64_t cpu_before = 0;
        for (unsigned i = 0; i < n1; i++)
                if (t1[i].pid == getpid())
                        cpu_before += t1[i].cpu_ns;
        unsigned files = closer_proc_cache_open_files(c);
        assert_true(files >= (unsigned) N);

        /* 150 ms of the spinner's CPU (however long a loaded machine takes
         * to give it): the next read sees it */
        clockid_t spin_clock;
        assert_int_equal(pthread_getcpuclockid(spinner, &spin_clock), 0);
        struct timespec sc0, sc;
        assert_int_equal(clock_gettime(spin_clock, &sc0), 0);
        for (int i = 0; i < 1000; i++) {
                ts.tv_nsec = 10000000;
                nanosleep(&ts, NULL);
                assert_int_equal(clock_gettime(spin_clock, &sc), 0);
                if ((sc.tv_sec - sc0.tv_sec) * 1000000000L + (sc.tv_nsec - sc0.tv_nsec) >= 150000000L)
                        break;
        }
        closer_thread *t2 = cached_read(c, &n2);
        uint64_t cpu_after = 0;
        for (unsigned i = 0; i < n2; i++)
                if (t2[i].pid == getpid())
                        cpu_after += t2[i].cpu_ns;
        assert_true(cpu_after >= cpu_before + 100000000u);
        closer_hostos_threads_free(t2, n2);

        /* the N waiting threads exit and N others start: same count, other tids */
        stop_spin = 1;
        pthread_join(spinner, NULL);
        for (int i = 0; i < N; i++)
                pthread_join(th[i], NULL);
        stop_spin = 0;
        assert_int_equal(pthread_create(&spinner, NULL, wait_stop, &(int) {0}), 0);
        int tids2[N] = {0};
        for (int i = 0; i < N; i++)
                assert_int_equal(pthread_create(&th[i], NULL, wait_stop, &tids2[i]), 0);
        wait_tids(tids2, N);
        ts.tv_nsec = 50000000;
        t2 = cached_read(c, &n2);
        for (int i = 0; i < N; i++) {
                if (tids[i] != tids2[0] && tids[i] != tids2[1] && tids[i] != tids2[2] && tids[i] != tids2[3])
                        assert_null(find(t2, n2, tids[i]));
                assert_non_null(find(t2, n2, tids2[i]));
        }
        /* and the cached answer is the one-shot one for this process */
        closer_thread *o;
        unsigned no, nv;
        assert_int_equal(closer_proc_read_threads(r, &o, &no, &nv), 0);
        unsigned mine_c = 0, mine_o = 0;
        for (unsigned i = 0; i < n2; i++)
                mine_c += t2[i].pid == getpid();
        for (unsigned i = 0; i < no; i++)
                mine_o += o[i].pid == getpid();
        assert_int_equal(mine_c, mine_o);
        closer_hostos_threads_free(o, no);
        closer_hostos_threads_free(t2, n2);
        stop_spin = 1;
        pthread_join(spinner, NULL);
        for (int i = 0; i < N; i++)
                pthread_join(th[i], NULL);

        /* a child process: seen, then reaped and gone, its files closed */
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        nanosleep(&ts, NULL);
        t2 = cached_read(c, &n2);
        assert_non_null(find(t2, n2, child));
        closer_hostos_threads_free(t2, n2);
        assert_true(fds_under(child, NULL) > 0);        /* its stat, at least */
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        t2 = cached_read(c, &n2);
        assert_null(find(t2, n2, child));
        assert_int_equal(fds_under(child, NULL), 0);    /* all closed */
        closer_hostos_threads_free(t2, n2);

        closer_hostos_threads_free(t1, n1);
        closer_proc_cache_free(c);
        closer_root_free(r);
}

/* With few file descriptors allowed, the cache keeps at most its budget
 * open and still reads every thread (the others by path, each time). */
static struct rlimit nofile_before;

static int restore_nofile(void **state) {
        (void) state;
        stop_spin = 1;
        return setrlimit(RLIMIT_NOFILE, &nofile_before) < 0 ? -1 : 0;
}

static void test_fd_budget(void **state) {
        (void) state;
        /* 128 more than are open now (an earlier failed test may have left
         * files open): the cache may keep half of that, 64 + the rest / 2 */
        unsigned open_now;
        (void) fds_under(0, &open_now);
        struct rlimit low = {.rlim_cur = open_now + 128};
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile_before), 0);
        low.rlim_max = nofile_before.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        /* as proc-cache.c reckons it: 256 left to the rest above 512 */
        unsigned budget = low.rlim_cur > 512 ? (unsigned) low.rlim_cur - 256 : (unsigned) low.rlim_cur / 2;

        closer_root *r = open_root("/");
        closer_proc_cache *c;
        assert_int_equal(closer_proc_cache_new(r, &c), 0);
        /* threads of our own: more than the budget on any host */
        enum { N = 160 };
        pthread_t th[N];
        int tids[N] = {0};
        stop_spin = 0;
        for (int i = 0; i < N; i++)
                assert_int_equal(pthread_create(&th[i], NULL, wait_stop, &tids[i]), 0);
        wait_tids(tids, N);
        for (int pass = 0; pass < 2; pass++) {
                unsigned n;
                closer_thread *t = cached_read(c, &n);
                for (int i = 0; i < N; i++)
                        assert_non_null(find(t, n, tids[i]));
                assert_true(closer_proc_cache_open_files(c) <= budget);
                assert_true(closer_proc_cache_open_files(c) > 0);
                closer_hostos_threads_free(t, n);
        }
        stop_spin = 1;
        for (int i = 0; i < N; i++)
                pthread_join(th[i], NULL);
        closer_proc_cache_free(c);
        closer_root_free(r);
}

/* The child of the exec test: "A" waits for SIGUSR1, then execs this same
 * program as "B" (same comm, another command line); "B" waits to be killed. */
static void on_usr1(int sig) {
        (void) sig;
}

static int exec_child(const char *self, const char *mode) {
        if (strcmp(mode, "--child-B") == 0) {
                for (;;)
                        pause();
        }
        signal(SIGUSR1, on_usr1);
        pause();
        char *argv[] = {(char *) self, "--child-B", NULL};
        execv(self, argv);
        _exit(127);
}

static const char *last_arg(const closer_thread *t, unsigned n, int pid) {
        const closer_thread *x = find(t, n, pid);
        return x && x->n_cmdline > 1 ? x->cmdline[x->n_cmdline - 1] : "";
}

static char *self_path;
static pid_t live_child;                /* killed by the teardown if a test fails */

static int kill_child(void **state) {
        (void) state;
        if (live_child > 0) {
                kill(live_child, SIGKILL);
                waitpid(live_child, NULL, 0);
                live_child = 0;
        }
        return 0;
}

/* Until child catches SIGUSR1 (its handler is in place), 10 s at most. */
static void wait_catches_usr1(pid_t child) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int) child);
        for (int round = 0; round < 1000; round++) {
                FILE *f = fopen(path, "re");
                unsigned long long mask = 0;
                while (f && fgets(line, sizeof(line), f))
                        if (sscanf(line, "SigCgt: %llx", &mask) == 1)
                                break;
                if (f)
                        fclose(f);
                if (mask & (1ull << (SIGUSR1 - 1)))
                        return;
                struct timespec ts = {0, 10000000};
                nanosleep(&ts, NULL);
        }
        fail_msg("child %d never caught SIGUSR1", (int) child);
}

/* Until child's command line (read afresh) ends with want, 10 s at most. */
static void wait_last_arg(const closer_root *r, pid_t child, const char *want) {
        for (int round = 0; round < 1000; round++) {
                closer_thread *t;
                if (closer_proc_read_process(r, child, &t) == 0) {
                        bool ok = t->n_cmdline > 1 && strcmp(t->cmdline[t->n_cmdline - 1], want) == 0;
                        closer_hostos_threads_free(t, 1);
                        if (ok)
                                return;
                }
                struct timespec ts = {0, 10000000};
                nanosleep(&ts, NULL);
        }
        fail_msg("child %d never ran as %s", (int) child, want);
}

/* While execs are reported, a command line is kept from read to read and
 * read again after its process exec'd (here an exec that keeps the comm,
 * which only the report gives away); without reports, every read is fresh. */
static void test_exec_tracking(void **state) {
        (void) state;
        closer_root *r = open_root("/");
        closer_proc_cache *c;
        assert_int_equal(closer_proc_cache_new(r, &c), 0);
        closer_proc_cache_exec_seen(c, CLOSER_EXECS_TRACKED);

        for (int tracked = 1; tracked >= 0; tracked--) {
                pid_t child = fork();
                assert_true(child >= 0);
                if (child == 0) {
                        char *argv[] = {self_path, "--child-A", NULL};
                        execv(self_path, argv);
                        _exit(127);
                }
                live_child = child;
                /* it runs as A (exec'd), then its handler is in place (under
                 * valgrind the forked child catches every signal before it
                 * execs: the order matters) */
                wait_last_arg(r, child, "--child-A");
                wait_catches_usr1(child);
                unsigned n;
                closer_thread *t = cached_read(c, &n);
                assert_string_equal(last_arg(t, n, child), "--child-A");
                closer_hostos_threads_free(t, n);

                kill(child, SIGUSR1);   /* it execs itself as B: same comm */
                wait_last_arg(r, child, "--child-B");
                t = cached_read(c, &n);
                /* tracked: kept until the exec is reported; untracked: read again */
                assert_string_equal(last_arg(t, n, child), tracked ? "--child-A" : "--child-B");
                closer_hostos_threads_free(t, n);
                closer_proc_cache_exec_seen(c, child);
                t = cached_read(c, &n);
                assert_string_equal(last_arg(t, n, child), "--child-B");
                closer_hostos_threads_free(t, n);

                kill_child(NULL);
                closer_proc_cache_exec_seen(c, CLOSER_EXECS_UNTRACKED);
        }
        closer_proc_cache_free(c);
        closer_root_free(r);
}

int main(int argc, char **argv) {
        if (argc > 1)
                return exec_child(argv[0], argv[1]);
        self_path = realpath(argv[0], NULL);    /* the children exec it again */
        if (!self_path)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixtures_match_one_shot),
                cmocka_unit_test(test_live_threads_and_processes),
                cmocka_unit_test_teardown(test_fd_budget, restore_nofile),
                cmocka_unit_test_teardown(test_exec_tracking, kill_child),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
