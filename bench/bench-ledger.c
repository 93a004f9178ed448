/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ledger append rate: ticks per second when every tick holds 1000 domains
 * (one transaction, synchronous=FULL, WAL), on a file in $TMPDIR (default
 * /tmp), so on whatever disk that is. Also the per-tick latency (p50, p99),
 * the size the ledger grows by per tick, and the time of the totals query
 * that `closerctl accounting` runs. Target: the CPU of one append under a
 * tick's whole budget (10 ms: 1 % of a core at a 1 s tick, bench-daemon),
 * the worst case of --ledger-interval 0. Prints figures; not a test.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "target.h"

#include "daemon/ledger.h"

#define N_DOMAINS 1000
#define N_TICKS 300
#define STEP_NS UINT64_C(1000000000)

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static void cleanup(const char *path) {
        const char *sfx[] = {"", "-wal", "-shm"};
        char p[PATH_MAX];
        for (size_t i = 0; i < 3; i++) {
                snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
                (void) unlink(p);
        }
}

static long long file_size(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 ? (long long) st.st_size : 0;
}

int main(void) {
        const char *tmp = getenv("TMPDIR");
        char dir[PATH_MAX], path[PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s/closer-bench-ledger-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
                perror("bench-ledger: mkdtemp");
                return 1;
        }
        snprintf(path, sizeof(path), "%s/ledger.db", dir);

        closer_error err = {{0}};
        closer_ledger *l = NULL;
        int r = closer_ledger_open(path, &err, &l);
        if (r < 0) {
                fprintf(stderr, "bench-ledger: %s\n", err.msg);
                return 1;
        }

        static closer_ledger_row rows[N_DOMAINS];
        for (unsigned j = 0; j < N_DOMAINS; j++) {
                snprintf(rows[j].uuid, sizeof(rows[j].uuid), "6f1d2c3b-0000-4000-8000-%012x", j);
                rows[j].acct.domid = (int) j + 1;
                char name[32];
                snprintf(name, sizeof(name), "guest-%04u", j);
                closer_ledger_row_set_name(&rows[j], name);
        }

        static double lat[N_TICKS];
        closer_ledger_tick t = {.boot_id = "bench-boot", .start_ns = STEP_NS};
        double t0 = now_ms(), c0 = cpu_ms();
        for (unsigned k = 0; k < N_TICKS; k++) {
                t.end_ns = t.start_ns + STEP_NS;
                t.wall_start_ns = 1700000000000000000 + (int64_t) t.start_ns;
                t.wall_end_ns = t.wall_start_ns + (int64_t) STEP_NS;
                for (unsigned j = 0; j < N_DOMAINS; j++) {
                        rows[j].acct.dom0_cpu_ns = (uint64_t) (k * 7919 + j * 104729) % 50000000;
                        rows[j].acct.mem_kib_s = 65536 + j;
                        rows[j].io_ops = (k + j) % 5000;
                        rows[j].io_bytes = rows[j].io_ops * 4096;
                }
                double a = now_ms();
                r = closer_ledger_append(l, &t, rows, N_DOMAINS);
                lat[k] = now_ms() - a;
                if (r < 0) {
                        fprintf(stderr, "bench-ledger: append: %s\n", strerror(-r));
                        return 1;
                }
                t.start_ns = t.end_ns;
        }
        double total_ms = now_ms() - t0, total_cpu_ms = cpu_ms() - c0;
        qsort(lat, N_TICKS, sizeof(*lat), cmp_double);

        closer_ledger_total *tot = NULL;
        double q0 = now_ms(), qc0 = cpu_ms();
        int n = closer_ledger_totals(l, INT64_MIN, &tot);
        double q_ms = now_ms() - q0, q_cpu_ms = cpu_ms() - qc0;
        free(tot);
        closer_ledger_close(l);         /* checkpoints the WAL into the file */
        long long size = file_size(path);

        printf("bench-ledger: %d domains/tick, %d ticks, synchronous=FULL, file in %s\n", N_DOMAINS, N_TICKS, dir);
        int missed = bench_target("append CPU per tick (fsync waits not included)", total_cpu_ms / N_TICKS, "ms", "<",
                                  10.0);
        bench_figure("append rate", N_TICKS / (total_ms / 1e3), "/s");
        bench_figure("append wall per tick, p50", lat[N_TICKS / 2], "ms");
        bench_figure("append wall per tick, p99", lat[N_TICKS * 99 / 100], "ms");
        bench_figure("ledger growth per tick", (double) size / N_TICKS / 1024.0, "KiB");
        char what[96];
        snprintf(what, sizeof(what), "totals query over %d rows (%d domains), CPU", N_TICKS * N_DOMAINS, n);
        bench_figure(what, q_cpu_ms, "ms");
        (void) q_ms;

        cleanup(path);
        (void) rmdir(dir);
        return n != N_DOMAINS ? 1 : missed ? 3 : 0;
}
