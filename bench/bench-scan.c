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

#define N_KTHREADS 4000
#define N_PROCS 600
#define THREADS_PER_PROC 10
#define N_IRQS 2000
#define RUNS 7

static char base[64];

static void put(const char *rel, const char *text, size_t len) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", base, rel);
        FILE *f = fopen(path, "we");
        if (!f) {
                perror(path);
                exit(1);
        }
        fwrite(text, 1, len, f);
        fclose(f);
}

static void mkdirf(const char *rel) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", base, rel);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                perror(path);
                exit(1);
        }
}

static void thread(int pid, int tid, bool kernel, const char *comm, int nthreads) {
        char rel[256], text[512];
        snprintf(rel, sizeof(rel), "proc/%d", pid);
        mkdirf(rel);
        snprintf(rel, sizeof(rel), "proc/%d/task", pid);
        mkdirf(rel);
        snprintf(rel, sizeof(rel), "proc/%d/task/%d", pid, tid);
        mkdirf(rel);
        snprintf(rel, sizeof(rel), "proc/%d/task/%d/comm", pid, tid);
        int n = snprintf(text, sizeof(text), "%s\n", comm);
        put(rel, text, (size_t) n);
        snprintf(rel, sizeof(rel), "proc/%d/task/%d/stat", pid, tid);
        n = snprintf(text, sizeof(text),
                     "%d (%s) S 2 0 0 0 -1 %u 0 0 0 0 %d %d 0 0 20 0 %d 0 %d 0 0 18446744073709551615 0 0 0 0 0 0 0 "
                     "2147483647 0 0 0 0 17 %d 0 0 0 0 0\n",
                     tid, comm, kernel ? 0x208040u : 0x400100u, tid % 97, tid % 13, nthreads, 1000 + tid, tid % 64);
        put(rel, text, (size_t) n);
        if (pid == tid) {
                snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
                put(rel, text, (size_t) n);
        }
}

static void generate(int cpus) {
        char rel[256];
        const char *tmp = getenv("TMPDIR");
        snprintf(base, sizeof(base), "%s/closer-bench-scan-XXXXXX", tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
        if (!mkdtemp(base)) {
                perror("mkdtemp");
                exit(1);
        }
        mkdirf("proc");
        mkdirf("proc/irq");
        int tid = 100;
        for (int i = 0; i < N_KTHREADS; i++, tid++) {
                char comm[64];
                int dom = 1 + i / 8;
                if (i % 2)
                        snprintf(comm, sizeof(comm), "%d.xvda-%d", dom, i % 4);
                else
                        snprintf(comm, sizeof(comm), "vif%d.0-q%d-guest-rx", dom, i % 4);
                thread(tid, tid, true, comm, 1);
                snprintf(rel, sizeof(rel), "proc/%d/cmdline", tid);
                put(rel, "", 0);
        }
        for (int p = 0; p < N_PROCS; p++) {
                int pid = tid;
                for (int t = 0; t < THREADS_PER_PROC; t++, tid++)
                        thread(pid, tid, false, "xen-qemu-system", THREADS_PER_PROC);
                char argv[512];
                int n = snprintf(argv, sizeof(argv), "/usr/libexec/xen-qemu-system-i386%c-xen-domid%c%d%c-name%cvm%d%c"
                                 "-machine%cxenpv%c", 0, 0, 1 + p, 0, 0, p, 0, 0, 0);
                snprintf(rel, sizeof(rel), "proc/%d/cmdline", pid);
                put(rel, argv, (size_t) n);
        }

        size_t cap = (size_t) N_IRQS * (size_t) (cpus + 8) * 12 + 4096, o = 0;
        char *text = malloc(cap);
        o += (size_t) snprintf(text + o, cap - o, "     ");
        for (int c = 0; c < cpus; c++)
                o += (size_t) snprintf(text + o, cap - o, "  CPU%-6d", c);
        text[o++] = '\n';
        for (int i = 0; i < N_IRQS; i++) {
                int irq = 100 + i;
                o += (size_t) snprintf(text + o, cap - o, "%5d:", irq);
                for (int c = 0; c < cpus; c++)
                        o += (size_t) snprintf(text + o, cap - o, " %10d", c == i % cpus ? 1000 + i : 0);
                if (i % 3 == 2)
                        o += (size_t) snprintf(text + o, cap - o, "  xen-dyn-lateeoi    -event     blkif-backend\n");
                else
                        o += (size_t) snprintf(text + o, cap - o, "  xen-dyn-lateeoi    -event     vif%d.0-q%d-%s\n",
                                               1 + i / 6, (i / 3) % 2, i % 3 ? "rx" : "tx");
                snprintf(rel, sizeof(rel), "proc/irq/%d", irq);
                mkdirf(rel);
                char list[32];
                int n = snprintf(list, sizeof(list), "0-%d\n", cpus - 1);
                snprintf(rel, sizeof(rel), "proc/irq/%d/smp_affinity_list", irq);
                put(rel, list, (size_t) n);
        }
        put("proc/interrupts", text, o);
        free(text);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        remove(path);
        return 0;
}

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
        printf("scan %5u threads (%u T3) %4u IRQs x %3d CPU columns: CPU time median %6.2f ms (threads %6.2f, "
               "IRQs+affinity %6.2f), best %6.2f; floor of %u bare open+read+close %6.2f ms  [target < 20 ms: %s]\n",
               nthreads, t3, nirqs, cpus, t_total[RUNS / 2], t_threads[RUNS / 2], t_irqs[RUNS / 2], t_total[0],
               nthreads + nirqs, t_floor[RUNS / 2], t_total[RUNS / 2] < 20.0 ? "met" : "MISSED");
        printf("  threads again with their files kept open (closerd's ticks, %u files): median %6.2f ms, %.1fx "
               "less than a one-shot read; with the IRQs %6.2f ms  [target < 20 ms: %s]\n",
               kept, t_cached[RUNS / 2], t_threads[RUNS / 2] / t_cached[RUNS / 2], t_cached[RUNS / 2] + t_irqs[RUNS / 2],
               t_cached[RUNS / 2] + t_irqs[RUNS / 2] < 20.0 ? "met" : "MISSED");
        closer_root_free(root);
        /* remove the tree we made (depth first, no symlinks followed) */
        nftw(base, rm_entry, 64, FTW_DEPTH | FTW_PHYS);
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
                return 0;
        }
        for (size_t i = 0; i < sizeof(cols_default) / sizeof(cols_default[0]); i++)
                if (bench(cols_default[i]))
                        return 1;
        return 0;
}
