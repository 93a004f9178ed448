/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `closerctl plan` at scale, in its two steps, for 10 / 100 / 1000 domains on
 * a 448-pCPU, 8-node host with 10k dom0 threads and two IRQs per domain (448
 * per-CPU counts each):
 * - read: closer_snapshot_from_json() of the closer-snapshot/1 text
 *   (target at 1000 domains: <= 5 ms; its ratio to the plan, measured in
 *   turns with it, is printed: it holds on any machine);
 * - plan: closer_plan_compute() (target at 1000 domains: < 5 ms; growth no
 *   worse than n log n).
 * Then, at 1000 domains, what the other JSON readers on Debian cost for the
 * same text before any of closer's checks (floors: a reader built on them
 * could only be slower): jansson's tree (what the reader used before),
 * yajl's callbacks and yajl's tree (when built with libyajl-dev).
 * Medians of repeated runs in one process (warm: the page faults of a first
 * read are counted apart, they are the OS's and this machine's). Not a test:
 * prints figures, and exits 3 when a target is missed (scripts/bench).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>
#ifdef HAVE_YAJL
#include <yajl_parse.h>
#include <yajl_tree.h>
#endif

#include "closer/policy.h"
#include "snapbuild.h"
#include "target.h"

#define RUNS 31

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static long minor_faults(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_minflt;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static closer_snapshot *build(unsigned n_domains, unsigned n_threads) {
        closer_snapshot *s = sb_host(8, 56, 448);
        for (unsigned i = 0; i < n_domains; i++) {
                unsigned base = (i * 7) % 440 + 2;
                sb_domain(s, (int) i + 1, 2u << 20, (int) (base / 56), 2, (int[]) {(int) base, (int) base + 1});
                s->domains[i].io_ops_per_s = (double) (i * 37 % 20000);
        }
        for (unsigned t = 0; t < n_threads; t++) {
                char comm[32];
                unsigned d = n_domains ? t % (n_domains * 2) : 0;
                if (d < n_domains && t % 3 == 0)
                        snprintf(comm, sizeof(comm), "vif%u.0-q%u-guest-rx", d + 1, t % 4);
                else if (d < n_domains && t % 3 == 1)
                        snprintf(comm, sizeof(comm), "%u.xvda-%u", d + 1, t % 4);
                else
                        snprintf(comm, sizeof(comm), "kworker/%u:1", t % 448);
                sb_thread(s, (int) t + 100, (int) t + 100, comm, true);
        }
        for (unsigned i = 0; i < n_domains * 2; i++) {
                char name[32];
                snprintf(name, sizeof(name), "vif%u.0-q0-%s", i / 2 + 1, i % 2 ? "rx" : "tx");
                sb_irq(s, 100 + i, name, 448, NULL);
        }
        return s;
}

typedef int (*reader_fn)(const char *text, size_t len);

static double median_of(reader_fn f, const char *text, size_t len, int *ok) {
        double t[RUNS];
        for (unsigned r = 0; r < RUNS; r++) {
                double t0 = now_ms();
                if (f(text, len) < 0)
                        *ok = 0;
                t[r] = now_ms() - t0;
        }
        qsort(t, RUNS, sizeof(double), cmp_double);
        return t[RUNS / 2];
}

static int read_jansson(const char *text, size_t len) {
        json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        json_decref(j);
        return j ? 0 : -1;
}

#ifdef HAVE_YAJL
static int y_null(void *ctx) { (void) ctx; return 1; }
static int y_bool(void *ctx, int b) { (void) ctx; (void) b; return 1; }
static int y_int(void *ctx, long long v) { *(long long *) ctx += v; return 1; }
static int y_double(void *ctx, double d) { (void) ctx; (void) d; return 1; }
static int y_str(void *ctx, const unsigned char *s, size_t n) { (void) ctx; (void) s; (void) n; return 1; }
static int y_none(void *ctx) { (void) ctx; return 1; }

static int read_yajl_callbacks(const char *text, size_t len) {
        static const yajl_callbacks cb = {
                .yajl_null = y_null, .yajl_boolean = y_bool, .yajl_integer = y_int, .yajl_double = y_double,
                .yajl_string = y_str, .yajl_start_map = y_none, .yajl_map_key = y_str, .yajl_end_map = y_none,
                .yajl_start_array = y_none, .yajl_end_array = y_none,
        };
        long long sum = 0;
        yajl_handle h = yajl_alloc(&cb, NULL, &sum);
        int ok = h && yajl_parse(h, (const unsigned char *) text, len) == yajl_status_ok &&
                 yajl_complete_parse(h) == yajl_status_ok;
        if (h)
                yajl_free(h);
        return ok ? 0 : -1;
}

static int read_yajl_tree(const char *text, size_t len) {
        (void) len;
        yajl_val v = yajl_tree_parse(text, NULL, 0);
        yajl_tree_free(v);
        return v ? 0 : -1;
}
#endif

int main(void) {
        const unsigned sizes[] = {10, 100, 1000};
        double t_read[3], t_plan[3];
        char *text1000 = NULL;
        int missed = 0;
        closer_config c;
        closer_config_defaults(&c);

        printf("bench-plan: closerctl plan's two steps, 448 pCPUs / 8 nodes, 10000 dom0 threads, 2 IRQs per domain "
               "(448 per-CPU counts each); medians of %d runs\n", RUNS);
        for (unsigned k = 0; k < 3; k++) {
                closer_snapshot *s = build(sizes[k], 10000);
                char *text = closer_snapshot_to_json(s);
                if (!text) {
                        fprintf(stderr, "bench-plan: out of memory\n");
                        return 1;
                }
                double t[RUNS], p[RUNS];
                long faults = 0;
                /* read and plan in turns: both see the same load of this
                 * shared machine, so that their ratio means something */
                for (unsigned r = 0; r < RUNS; r++) {
                        closer_snapshot *rs = NULL;
                        closer_plan *pl = NULL;
                        closer_error err;
                        long f0 = minor_faults();
                        double t0 = now_ms();
                        if (closer_snapshot_from_json(text, "bench", &rs, &err) < 0) {
                                fprintf(stderr, "bench-plan: %s\n", err.msg);
                                return 1;
                        }
                        t[r] = now_ms() - t0;
                        if (r == 0)
                                faults = minor_faults() - f0;
                        closer_snapshot_free(rs);
                        t0 = now_ms();
                        if (closer_plan_compute(s, &c, &pl, &err) < 0) {
                                fprintf(stderr, "bench-plan: %s\n", err.msg);
                                return 1;
                        }
                        p[r] = now_ms() - t0;
                        closer_plan_free(pl);
                }
                qsort(t, RUNS, sizeof(double), cmp_double);
                qsort(p, RUNS, sizeof(double), cmp_double);
                t_read[k] = t[RUNS / 2];
                t_plan[k] = p[RUNS / 2];
                printf("  %5u domains, %7zu bytes: read median %7.3f ms (p90 %7.3f; first read %ld page faults), "
                       "plan median %7.3f ms (p90 %7.3f)\n",
                       sizes[k], strlen(text), t[RUNS / 2], t[RUNS * 9 / 10], faults, p[RUNS / 2],
                       p[RUNS * 9 / 10]);
                closer_snapshot_free(s);
                if (k == 2)
                        text1000 = text;
                else
                        free(text);
        }
        missed += bench_target("read, 1000 domains (median)", t_read[2], "ms", "<=", 5.0);
        /* the read target was set against a plan of 4.7 ms: 5 ms / 4.7 ms = x1.06 */
        bench_figure("read / plan, 1000 domains, same run (target set as 5 ms / 4.7 ms = x1.06)", t_read[2] / t_plan[2],
                     "x");
        missed += bench_target("plan, 1000 domains (median)", t_plan[2], "ms", "<", 5.0);
        bench_figure("plan growth 100->1000 domains (n log n would be x15)", t_plan[2] / t_plan[1], "x");

        /* The alternatives, on the 1000-domain text: parsing alone. */
        size_t len = strlen(text1000);
        int ok = 1;
        printf("  other readers on the 1000-domain text, parsing only (no checks, no snapshot built):\n");
        double jt = median_of(read_jansson, text1000, len, &ok);
        printf("    %-56s %9.3f ms  (%.1fx closer's whole read)\n", "jansson json_loadb + json_decref (before)", jt,
               jt / t_read[2]);
#ifdef HAVE_YAJL
        double yc = median_of(read_yajl_callbacks, text1000, len, &ok);
        double yt = median_of(read_yajl_tree, text1000, len, &ok);
        printf("    %-56s %9.3f ms  (%.1fx)\n", "yajl 2.1 callbacks, doing nothing", yc, yc / t_read[2]);
        printf("    %-56s %9.3f ms  (%.1fx)\n", "yajl 2.1 yajl_tree_parse + yajl_tree_free", yt, yt / t_read[2]);
#else
        printf("    yajl: not measured (built without libyajl-dev: scripts/install-deps --bench installs it)\n");
#endif
        if (!ok) {
                fprintf(stderr, "bench-plan: a reader refused the text\n");
                return 1;
        }
        free(text1000);
        return missed ? 3 : 0;
}
