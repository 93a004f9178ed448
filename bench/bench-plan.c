/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Plan time for 10 / 100 / 1000 domains on a 448-pCPU, 8-node host with 10k
 * dom0 threads (target: < 5 ms for 1000 domains, growth no worse than
 * n log n). Prints medians over repeated runs; not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "closer/policy.h"
#include "snapbuild.h"

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
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

int main(void) {
        const unsigned sizes[] = {10, 100, 1000};
        double med[3];
        closer_config c;
        closer_config_defaults(&c);

        printf("bench-plan: closer_plan_compute, 448 pCPUs / 8 nodes, 10000 dom0 threads\n");
        for (unsigned k = 0; k < 3; k++) {
                closer_snapshot *s = build(sizes[k], 10000);
                double t[31];
                for (unsigned r = 0; r < 31; r++) {
                        closer_plan *p = NULL;
                        closer_error err;
                        double t0 = now_ms();
                        if (closer_plan_compute(s, &c, &p, &err) < 0) {
                                fprintf(stderr, "bench-plan: %s\n", err.msg);
                                return 1;
                        }
                        t[r] = now_ms() - t0;
                        closer_plan_free(p);
                }
                qsort(t, 31, sizeof(double), cmp_double);
                med[k] = t[15];
                printf("  %5u domains: median %.3f ms  (min %.3f, p90 %.3f) over 31 runs\n", sizes[k], t[15], t[0],
                       t[27]);
                closer_snapshot_free(s);
        }
        printf("  growth 100->1000 domains: x%.2f (n log n would be x15.0; target 1000 domains < 5 ms: %s)\n",
               med[2] / med[1], med[2] < 5.0 ? "met" : "NOT met");
        return 0;
}
