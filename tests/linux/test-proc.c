/* SPDX-License-Identifier: GPL-2.0-or-later */
/* /proc thread reading: stat and cmdline parsers on strings, the reader on
 * fixture trees (a real dom0's threads; threads vanishing mid-scan). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "linux/linux.h"

static void test_parse_stat(void **state) {
        (void) state;
        closer_proc_stat st;
        /* a real Linux 6.1 line of a blkback thread (fields after 22 shortened) */
        const char *line = "368 (1.xvda-0) S 2 0 0 0 -1 2129984 0 0 0 0 0 800 0 0 20 0 1 0 3400 0 0 "
                           "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 2 0 0 0 0 0\n";
        assert_int_equal(closer_proc_parse_stat(line, &st), 0);
        assert_int_equal(st.pid, 368);
        assert_string_equal(st.comm, "1.xvda-0");
        assert_int_equal(st.state, 'S');
        assert_int_equal(st.ppid, 2);
        assert_true(st.flags & CLOSER_PF_KTHREAD);
        assert_int_equal(st.stime_ticks, 800);
        assert_int_equal(st.start_time_ticks, 3400);
        assert_int_equal(st.processor, 2);

        /* comm holding ") " and "(": the last ')' ends it */
        assert_int_equal(closer_proc_parse_stat("5 (a) S 1 (b) R 7 0 0 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 99 0", &st), 0);
        assert_string_equal(st.comm, "a) S 1 (b");
        assert_int_equal(st.state, 'R');
        assert_int_equal(st.ppid, 7);
        assert_int_equal(st.utime_ticks, 3);
        assert_int_equal(st.start_time_ticks, 99);
        assert_int_equal(st.processor, -1);     /* absent: unknown */

        const char *bad[] = {"", "368", "368 (x", "x (y) S 1", "0 (x) S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
                             "368 (x) S -1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
                             "368 (x) S 1 0 0 0 -1 0 0 0 0 0 0 0", /* cut before start_time */
                             "368 (x) S 1 0 0 0 -1 0 0 0 0 0 99999999999999999999999 0 0 0 20 0 1 0 5",
                             "368 (x) S 1 0 0 0 -1 0 0 0 0 0 1x 0 0 0 20 0 1 0 5", ")(", "99999999 (x) S 1"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                closer_proc_stat keep = {.pid = 4242};
                assert_int_equal(closer_proc_parse_stat(bad[i], &keep), -EINVAL);
                assert_int_equal(keep.pid, 4242);       /* untouched on failure */
        }
}

static void test_split_cmdline(void **state) {
        (void) state;
        char **argv;
        unsigned n;
        const char buf[] = "xl\0save\0du1\0/var/lib/xen/du1.save\0";
        assert_int_equal(closer_proc_split_cmdline(buf, sizeof(buf) - 1, 256, &argv, &n), 0);
        assert_int_equal(n, 4);
        assert_string_equal(argv[0], "xl");
        assert_string_equal(argv[3], "/var/lib/xen/du1.save");
        closer_thread t = {.cmdline = argv, .n_cmdline = n};
        closer_hostos_threads_free(NULL, 0);
        for (unsigned i = 0; i < n; i++)
                free(t.cmdline[i]);
        free(t.cmdline);

        /* setproctitle: one string, no final NUL */
        const char st[] = "sshd: /usr/sbin/sshd -D [listener]";
        assert_int_equal(closer_proc_split_cmdline(st, strlen(st), 256, &argv, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(argv[0], st);
        free(argv[0]);
        free(argv);

        /* kernel thread: empty; many args: capped */
        assert_int_equal(closer_proc_split_cmdline("", 0, 256, &argv, &n), 0);
        assert_int_equal(n, 0);
        assert_null(argv);
        char many[2000];
        memset(many, 0, sizeof(many));
        for (size_t i = 0; i < sizeof(many); i += 2)
                many[i] = 'a';
        assert_int_equal(closer_proc_split_cmdline(many, sizeof(many), 256, &argv, &n), 0);
        assert_int_equal(n, 256);
        for (unsigned i = 0; i < n; i++) {
                assert_string_equal(argv[i], "a");
                free(argv[i]);
        }
        free(argv);
}

static closer_root *fixture_root(const char *name) {
        char path[4096];
        const char *data = getenv("CLOSER_TEST_DATA");
        assert_non_null(data);
        snprintf(path, sizeof(path), "%s/%s", data, name);
        closer_root *r;
        assert_int_equal(closer_root_open(path, &r), 0);
        assert_false(r->is_real);
        return r;
}

static const closer_thread *find(const closer_thread *t, unsigned n, int tid) {
        for (unsigned i = 0; i < n; i++)
                if (t[i].tid == tid)
                        return &t[i];
        return NULL;
}

static void test_parse_uid(void **state) {
        (void) state;
        uint32_t u = 7;
        assert_int_equal(closer_proc_parse_uid("Name:\txl\nUid:\t0\t0\t0\t0\nGid:\t0\n", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(closer_proc_parse_uid("Uid:\t1000\t0\t0\t0\n", &u), 0);
        assert_int_equal(u, 1000);      /* the real uid: a setuid program run by a user is the user's */
        assert_int_equal(closer_proc_parse_uid("Name:\txl\nUid:\t4294967294\t0\t0\t0\n", &u), 0);
        assert_int_equal(u, 4294967294u);
        const char *bad[] = {
                "", "Name:\txl\n", "Uid:\n", "Uid:\t-1\t0\n", "Uid:\t4294967295\t0\n",
                "Uid:\t99999999999\t0\n", "Uid:\t0x10\t0\n", "Uid:\tabc\n", "XUid:\t0\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (closer_proc_parse_uid(bad[i], &u) == 0)
                        fail_msg("accepted \"%s\"", bad[i]);
}

static void test_read_dom0_tree(void **state) {
        (void) state;
        closer_root *r = fixture_root("linux-xen-dom0");
        closer_thread *t;
        unsigned n, vanished;
        assert_int_equal(closer_proc_read_threads(r, &t, &n, &vanished), 0);
        assert_int_equal(n, 59);
        assert_int_equal(vanished, 0);
        /* xl's domain monitor: its uid and its fd 1, for each of its threads */
        for (int tid = 301; tid <= 302; tid++) {
                const closer_thread *m = find(t, n, tid);
                assert_non_null(m);
                assert_true(m->has_uid);
                assert_int_equal(m->uid, 0);
                assert_non_null(m->stdout_path);
                assert_string_equal(m->stdout_path, "/var/log/xen/xl-du2.log");
        }
        const closer_thread *fake = find(t, n, 990);
        assert_non_null(fake);
        assert_true(fake->has_uid);
        assert_int_equal(fake->uid, 1000);
        /* read for xl only: `xl save` has no fd link in the tree, others are not looked at */
        assert_null(find(t, n, 984)->stdout_path);
        assert_false(find(t, n, 1)->has_uid);
        const closer_thread *x = find(t, n, 371);
        assert_non_null(x);
        assert_string_equal(x->comm, "vif1.0-q0-guest-rx");   /* full name from comm */
        assert_true(x->kernel);
        assert_int_equal(x->n_cmdline, 0);
        assert_int_equal(x->last_cpu, 3);
        long hz = sysconf(_SC_CLK_TCK);
        assert_int_equal(x->cpu_ns, 20 * (1000000000 / hz));
        x = find(t, n, 452);                                    /* a QEMU thread of domain 2 */
        assert_non_null(x);
        assert_int_equal(x->pid, 387);
        assert_false(x->kernel);
        assert_true(x->n_cmdline > 3);
        assert_string_equal(x->cmdline[1], "-xen-domid");
        assert_string_equal(x->cmdline[2], "2");
        x = find(t, n, 985);
        assert_non_null(x);
        assert_int_equal(x->ppid, 984);
        assert_int_equal(x->start_time, 9002);
        uint64_t start = 0;
        assert_int_equal(closer_proc_start_time(r, 985, &start), 0);
        assert_int_equal(start, 9002);
        start = 7;
        assert_int_equal(closer_proc_start_time(r, 99999, &start), -ESRCH);
        assert_int_equal(start, 7);
        /* where each thread may run (status, through the root) */
        closer_cpuset allowed, want;
        assert_int_equal(closer_proc_read_allowed(r, 368, 368, &allowed), 0);
        closer_cpuset_parse("2", &want);
        assert_true(closer_cpuset_equal(&allowed, &want));
        assert_int_equal(closer_proc_read_allowed(r, 387, 452, &allowed), 0);
        closer_cpuset_parse("0-3", &want);
        assert_true(closer_cpuset_equal(&allowed, &want));
        assert_int_equal(closer_proc_read_allowed(r, 387, 99999, &allowed), -ENOENT);
        closer_hostos_threads_free(t, n);
        closer_root_free(r);
}

static void test_vanishing(void **state) {
        (void) state;
        closer_root *r = fixture_root("linux-odd");
        closer_thread *t;
        unsigned n, vanished;
        assert_int_equal(closer_proc_read_threads(r, &t, &n, &vanished), 0);
        assert_int_equal(vanished, 3);          /* 501 lost its files, 600 its task dir, 700 torn */
        assert_null(find(t, n, 501));
        assert_null(find(t, n, 700));
        assert_non_null(find(t, n, 500));
        assert_string_equal(find(t, n, 802)->comm, "a) S 1 (b");
        closer_hostos_threads_free(t, n);
        closer_root_free(r);

        /* a root without /proc is an error, not an empty host */
        char tmpl[] = "/tmp/closer-proc-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        assert_int_equal(closer_root_open(tmpl, &r), 0);
        assert_int_equal(closer_proc_read_threads(r, &t, &n, &vanished), -ENOENT);
        closer_root_free(r);
        rmdir(tmpl);
}

/* The real /proc of this machine: our own thread is there, with our comm. */
static void test_real_proc(void **state) {
        (void) state;
        closer_root *r;
        assert_int_equal(closer_root_open("/", &r), 0);
        assert_true(r->is_real);
        closer_thread *t;
        unsigned n, vanished;
        assert_int_equal(closer_proc_read_threads(r, &t, &n, &vanished), 0);
        const closer_thread *me = find(t, n, getpid());
        assert_non_null(me);
        assert_false(me->kernel);
        /* under valgrind (make check-valgrind) the comm is valgrind's tool */
        assert_string_equal(me->comm, getenv("CLOSER_UNDER_VALGRIND") ? "memcheck-amd64-" : "test-proc");
        assert_true(me->n_cmdline >= 1);
        assert_true(me->start_time > 0);
        uint64_t start = 0;
        assert_int_equal(closer_proc_start_time(r, getpid(), &start), 0);
        assert_int_equal(start, me->start_time);
        closer_cpuset allowed;
        assert_int_equal(closer_proc_read_allowed(r, getpid(), getpid(), &allowed), 0);
        assert_true(closer_cpuset_count(&allowed) >= 1);
        closer_hostos_threads_free(t, n);
        closer_root_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_stat),
                cmocka_unit_test(test_parse_uid),
                cmocka_unit_test(test_split_cmdline),
                cmocka_unit_test(test_read_dom0_tree),
                cmocka_unit_test(test_vanishing),
                cmocka_unit_test(test_real_proc),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
