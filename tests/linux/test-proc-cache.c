/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The cached thread reader closerd uses every tick: it must give what a
 * fresh one-shot scan gives, on fixture trees and on this machine's /proc
 * while threads and processes come and go, and stay within its fd budget. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
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
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);

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

        /* 300 ms of spinning: the next read sees the CPU */
        ts.tv_nsec = 300000000;
        nanosleep(&ts, NULL);
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
        ts.tv_nsec = 50000000;
        nanosleep(&ts, NULL);
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
        unsigned with_child = closer_proc_cache_open_files(c);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        t2 = cached_read(c, &n2);
        assert_null(find(t2, n2, child));
        assert_true(closer_proc_cache_open_files(c) < with_child);
        closer_hostos_threads_free(t2, n2);

        closer_hostos_threads_free(t1, n1);
        closer_proc_cache_free(c);
        closer_root_free(r);
}

/* With few file descriptors allowed, the cache keeps at most its budget
 * open and still reads every thread (the others by path, each time). */
static void test_fd_budget(void **state) {
        (void) state;
        struct rlimit old, low = {.rlim_cur = 128, .rlim_max = 0};
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
        low.rlim_max = old.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

        closer_root *r = open_root("/");
        closer_proc_cache *c;
        assert_int_equal(closer_proc_cache_new(r, &c), 0);
        /* 64 threads of our own: more threads than the budget (64) on any host */
        enum { N = 64 };
        pthread_t th[N];
        int tids[N];
        stop_spin = 0;
        for (int i = 0; i < N; i++)
                assert_int_equal(pthread_create(&th[i], NULL, wait_stop, &tids[i]), 0);
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
        for (int pass = 0; pass < 2; pass++) {
                unsigned n;
                closer_thread *t = cached_read(c, &n);
                for (int i = 0; i < N; i++)
                        assert_non_null(find(t, n, tids[i]));
                assert_true(closer_proc_cache_open_files(c) <= 64);
                assert_true(closer_proc_cache_open_files(c) > 0);
                closer_hostos_threads_free(t, n);
        }
        stop_spin = 1;
        for (int i = 0; i < N; i++)
                pthread_join(th[i], NULL);
        closer_proc_cache_free(c);
        closer_root_free(r);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixtures_match_one_shot),
                cmocka_unit_test(test_live_threads_and_processes),
                cmocka_unit_test(test_fd_budget),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
