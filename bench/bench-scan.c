/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-scan: time a full dom0 scan (threads from /proc/PID/task/TID, IRQs
 * from /proc/interrupts with their affinity files, classification of every
 * thread and IRQ) on a generated fixture tree: 10,000 threads (4,000 backend
 * kernel threads, 600 QEMU-like processes of 10 threads) and 2,000
 * event-channel IRQs. Target: under 20 ms. Not a test: prints figures.
 *
 * Usage: bench-scan [CPU_COLUMNS...]   (default: 4 64 448)
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/rlimit.h"
#include "closer/rules.h"
#include "linux/linux.h"

#define RUNS 7

#include "fixture.h"
#include "target.h"

/* Thread CPU time, not wall time: on a shared, loaded machine wall time
 * mostly measures the other tenants. */
static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static int missed;

static int bench(int cpus) {
        generate(cpus);
        closer_root *root;
        if (closer_root_open(base, &root) < 0)
                return 1;
        double t_threads[RUNS], t_irqs[RUNS], t_total[RUNS], t_floor[RUNS], t_cached[RUNS];
        unsigned nthreads = 0, nirqs = 0, t3 = 0;
        for (int run = 0; run < RUNS; run++) {
                double t0 = now_ms();
                closer_snapshot s = {0};
                unsigned vanished;
                if (closer_proc_read_threads(root, &s.threads, &s.n_threads, &vanished) < 0)
                        return 1;
                double t1 = now_ms();
                if (closer_irq_read(root, &s.irqs, &s.n_irqs, NULL) < 0)
                        return 1;
                t3 = 0;
                for (unsigned i = 0; i < s.n_irqs; i++) {
                        closer_cpuset aff;
                        closer_irq_class ic;
                        closer_irq_read_affinity(root, s.irqs[i].irq, false, &aff);
                        closer_classify_irq(&s.irqs[i], &ic);
                }
                double t2 = now_ms();
                for (unsigned i = 0; i < s.n_threads; i++) {
                        closer_classification c;
                        closer_classify_thread(&s, &s.threads[i], &c);
                        t3 += c.cls == CLOSER_T3;
                }
                double t4 = now_ms();
                t_threads[run] = t1 - t0;
                t_irqs[run] = t2 - t1;
                t_total[run] = t4 - t0;
                nthreads = s.n_threads;
                nirqs = s.n_irqs;
                closer_hostos_threads_free(s.threads, s.n_threads);
                closer_hostos_irqs_free(s.irqs, s.n_irqs);
                /* the floor: as many open+read+close of one small file as
                 * the scan does (one stat per thread, one affinity per IRQ) */
                double f0 = now_ms();
                char buf[512];
                for (unsigned i = 0; i < nthreads + nirqs; i++)
                        closer_read_small_at(root->fd, "proc/interrupts", buf, sizeof(buf));
                t_floor[run] = now_ms() - f0;
        }
        /* closerd's way: the thread files kept open from tick to tick
         * (the first read, which opens them, is not counted) */
        closer_proc_cache *cache;
        if (closer_proc_cache_new(root, &cache) < 0)
                return 1;
        for (int run = -1; run < RUNS; run++) {
                closer_thread *t;
                unsigned n, vanished;
                double t0 = now_ms();
                if (closer_proc_cache_read_threads(cache, &t, &n, &vanished) < 0 || n != nthreads)
                        return 1;
                if (run >= 0)
                        t_cached[run] = now_ms() - t0;
                closer_hostos_threads_free(t, n);
        }
        unsigned kept = closer_proc_cache_open_files(cache);
        closer_proc_cache_free(cache);
        qsort(t_cached, RUNS, sizeof(double), cmp_double);
        qsort(t_floor, RUNS, sizeof(double), cmp_double);
        qsort(t_threads, RUNS, sizeof(double), cmp_double);
        qsort(t_irqs, RUNS, sizeof(double), cmp_double);
        qsort(t_total, RUNS, sizeof(double), cmp_double);
        char what[160];
        printf("scan %u threads (%u T3), %u IRQs x %d CPU columns: floor of %u bare open+read+close %.2f ms, best %.2f ms\n",
               nthreads, t3, nirqs, cpus, nthreads + nirqs, t_floor[RUNS / 2], t_total[0]);
        snprintf(what, sizeof(what), "one-shot scan CPU, median (threads %.2f, IRQs+affinity %.2f)", t_threads[RUNS / 2],
                 t_irqs[RUNS / 2]);
        missed += bench_target(what, t_total[RUNS / 2], "ms", "<", 20.0);
        snprintf(what, sizeof(what), "closerd's scan: %u thread files kept open (%.1fx less for threads) + IRQs", kept,
                 t_threads[RUNS / 2] / t_cached[RUNS / 2]);
        missed += bench_target(what, t_cached[RUNS / 2] + t_irqs[RUNS / 2], "ms", "<", 20.0);
        closer_root_free(root);
        remove_tree();
        return 0;
}

int main(int argc, char **argv) {
        int cols_default[] = {4, 64, 448};
        (void) closer_rlimit_nofile_raise();    /* as closerd does */
        if (argc > 1) {
                for (int i = 1; i < argc; i++) {
                        int c = atoi(argv[i]);
                        if (c < 1 || c > 4096) {
                                fprintf(stderr, "bench-scan: CPU columns must be 1..4096, got '%s'\n", argv[i]);
                                return 2;
                        }
                        if (bench(c))
                                return 1;
                }
                return missed ? 3 : 0;
        }
        for (size_t i = 0; i < sizeof(cols_default) / sizeof(cols_default[0]); i++)
                if (bench(cols_default[i]))
                        return 1;
        return missed ? 3 : 0;
}
