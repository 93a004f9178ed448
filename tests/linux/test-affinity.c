/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Placement through the host-OS op table: real threads of this test placed
 * with sched_setaffinity on CPUs 0 and 1 and read back, then put back as
 * found from what the caller read first (the adapter keeps no journal:
 * closerd's state file is the one record); IRQ affinity files written
 * through a root; error sorting (transient / permanent) the irqbalance way.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "linux/linux.h"

typedef struct worker {
        pthread_t th;
        pid_t tid;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool ready, stop;
        int cpu_seen;
} worker;

static void *work(void *arg) {
        worker *w = arg;
        pthread_mutex_lock(&w->lock);
        w->tid = (pid_t) syscall(SYS_gettid);
        w->ready = true;
        pthread_cond_broadcast(&w->cond);
        while (!w->stop)
                pthread_cond_wait(&w->cond, &w->lock);
        w->cpu_seen = sched_getcpu();
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static void start(worker *w) {
        memset(w, 0, sizeof(*w));
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        assert_int_equal(pthread_create(&w->th, NULL, work, w), 0);
        pthread_mutex_lock(&w->lock);
        while (!w->ready)
                pthread_cond_wait(&w->cond, &w->lock);
        pthread_mutex_unlock(&w->lock);
}

static void stop(worker *w) {
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        assert_int_equal(pthread_join(w->th, NULL), 0);
}

static closer_cpuset set_of(const char *list) {
        closer_cpuset s;
        assert_int_equal(closer_cpuset_parse(list, &s), 0);
        return s;
}

static void test_real_threads(void **state) {
        (void) state;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (ncpu < 2) {
                skip();
                return;
        }
        closer_hostos *h;
        closer_error err = {{0}};
        assert_int_equal(closer_linux_hostos_new("/", NULL, &h, &err), 0);
        assert_string_equal(h->ops->name, "linux");

        worker a, b;
        start(&a);
        start(&b);
        closer_cpuset before_a, before_b, got;
        assert_int_equal(h->ops->get_thread_affinity(h->data, a.tid, &before_a), 0);
        assert_int_equal(h->ops->get_thread_affinity(h->data, b.tid, &before_b), 0);
        assert_true(closer_cpuset_test(&before_a, 0) && closer_cpuset_test(&before_a, 1));

        closer_cpuset cpu0 = set_of("0"), cpu1 = set_of("1");
        assert_int_equal(h->ops->set_thread_affinity(h->data, a.tid, &cpu1), 0);
        assert_int_equal(h->ops->set_thread_affinity(h->data, b.tid, &cpu0), 0);
        /* read back through the adapter and through the kernel directly */
        assert_int_equal(h->ops->get_thread_affinity(h->data, a.tid, &got), 0);
        assert_true(closer_cpuset_equal(&got, &cpu1));
        assert_int_equal(h->ops->get_thread_affinity(h->data, b.tid, &got), 0);
        assert_true(closer_cpuset_equal(&got, &cpu0));
        cpu_set_t k;
        assert_int_equal(pthread_getaffinity_np(a.th, sizeof(k), &k), 0);
        assert_true(CPU_ISSET(1, &k) && !CPU_ISSET(0, &k));
        assert_int_equal(h->ops->set_thread_affinity(h->data, a.tid, &cpu0), 0);

        /* never an empty set; a thread that is gone is ESRCH (permanent) */
        closer_cpuset empty;
        closer_cpuset_zero(&empty);
        assert_int_equal(h->ops->set_thread_affinity(h->data, a.tid, &empty), -EINVAL);
        assert_int_equal(h->ops->get_thread_affinity(h->data, a.tid, &got), 0);
        assert_true(closer_cpuset_equal(&got, &cpu0));

        /* the host put back as found, from what was read before */
        assert_int_equal(h->ops->set_thread_affinity(h->data, a.tid, &before_a), 0);
        assert_int_equal(h->ops->set_thread_affinity(h->data, b.tid, &before_b), 0);
        assert_int_equal(h->ops->get_thread_affinity(h->data, a.tid, &got), 0);
        assert_true(closer_cpuset_equal(&got, &before_a));
        assert_int_equal(h->ops->get_thread_affinity(h->data, b.tid, &got), 0);
        assert_true(closer_cpuset_equal(&got, &before_b));

        /* place b on CPU 1 and let it run there */
        assert_int_equal(h->ops->set_thread_affinity(h->data, b.tid, &cpu1), 0);
        pid_t gone = a.tid;
        stop(&a);
        stop(&b);
        assert_int_equal(b.cpu_seen, 1);
        int r = h->ops->set_thread_affinity(h->data, gone, &cpu0);
        assert_int_equal(r, -ESRCH);
        assert_int_equal(closer_err_kind_of(r), CLOSER_ERR_PERMANENT);
        closer_hostos_free(h);
}

/* sched_setaffinity cannot go through a root: refused on a fixture tree. */
static void test_refused_off_root(void **state) {
        (void) state;
        char path[4096];
        snprintf(path, sizeof(path), "%s/linux-xen-dom0", getenv("CLOSER_TEST_DATA"));
        closer_hostos *h;
        assert_int_equal(closer_linux_hostos_new(path, NULL, &h, NULL), 0);
        closer_cpuset cpu0 = set_of("0"), got;
        pid_t me = (pid_t) syscall(SYS_gettid);
        assert_int_equal(h->ops->set_thread_affinity(h->data, me, &cpu0), -EOPNOTSUPP);
        assert_int_equal(h->ops->get_thread_affinity(h->data, me, &got), -EOPNOTSUPP);
        assert_int_equal(closer_err_kind_of(-EOPNOTSUPP), CLOSER_ERR_FATAL);
        /* reading through the root works */
        assert_int_equal(h->ops->get_irq_affinity(h->data, 63, &got), 0);
        closer_cpuset want = set_of("0-3");
        assert_true(closer_cpuset_equal(&got, &want));
        closer_hostos_free(h);

        closer_error err = {{0}};
        assert_int_equal(closer_linux_hostos_new("/nonexistent-root", NULL, &h, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "/nonexistent-root"));
        assert_int_equal(closer_linux_hostos_new("/", "../escape", &h, &err), -EINVAL);
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void read_text(const char *path, char *buf, size_t len) {
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        size_t n = fread(buf, 1, len - 1, f);
        buf[n] = '\0';
        fclose(f);
}

static void test_irq_write(void **state) {
        (void) state;
        char dir[] = "/tmp/closer-irq-XXXXXX", p[256], q[256], buf[256];
        assert_non_null(mkdtemp(dir));
        snprintf(p, sizeof(p), "%s/proc", dir);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/proc/irq", dir);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/proc/irq/61", dir);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/proc/irq/61/smp_affinity_list", dir);
        write_text(p, "0-3\n");

        closer_hostos *h;
        assert_int_equal(closer_linux_hostos_new(dir, NULL, &h, NULL), 0);
        closer_cpuset c2 = set_of("2"), c3 = set_of("3"), empty, got;
        closer_cpuset_zero(&empty);
        assert_int_equal(h->ops->set_irq_affinity(h->data, 61, &c2), 0);
        read_text(p, buf, sizeof(buf));
        assert_string_equal(buf, "2\n");
        assert_int_equal(h->ops->set_irq_affinity(h->data, 61, &c3), 0);
        assert_int_equal(h->ops->get_irq_affinity(h->data, 61, &got), 0);
        assert_true(closer_cpuset_equal(&got, &c3));
        assert_int_equal(h->ops->set_irq_affinity(h->data, 61, &empty), -EINVAL);
        read_text(p, buf, sizeof(buf));
        assert_string_equal(buf, "3\n");
        int r = h->ops->set_irq_affinity(h->data, 62, &c2);      /* no such IRQ */
        assert_int_equal(r, -ENOENT);
        assert_int_equal(closer_err_kind_of(r), CLOSER_ERR_PERMANENT);
        /* nothing is remembered, so nothing is written at free */
        closer_hostos_free(h);
        read_text(p, buf, sizeof(buf));
        assert_string_equal(buf, "3\n");

        assert_int_equal(closer_err_kind_of(-EBUSY), CLOSER_ERR_TRANSIENT);
        assert_int_equal(closer_err_kind_of(-EAGAIN), CLOSER_ERR_TRANSIENT);
        assert_int_equal(closer_err_kind_of(-EINVAL), CLOSER_ERR_PERMANENT);
        assert_int_equal(closer_err_kind_of(0), CLOSER_ERR_NONE);
        assert_string_equal(closer_err_kind_to_string(CLOSER_ERR_TRANSIENT), "transient");

        unlink(p);
        snprintf(q, sizeof(q), "%s/proc/irq/61", dir);
        rmdir(q);
        snprintf(q, sizeof(q), "%s/proc/irq", dir);
        rmdir(q);
        snprintf(q, sizeof(q), "%s/proc", dir);
        rmdir(q);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_threads),
                cmocka_unit_test(test_refused_off_root),
                cmocka_unit_test(test_irq_write),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
