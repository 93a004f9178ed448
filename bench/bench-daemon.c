/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd's manager on the modelled host (simhost), against its targets:
 * - time from a domain's introduction to its full placement (p50, p99;
 *   target p99 < 50 ms), with 1000 domains already running;
 * - daemon CPU per tick with 1000 domains (target < 1 % of one core at a
 *   1 s tick, i.e. < 10 ms of CPU per tick).
 * Host: 448 pCPUs as 8 sockets x 56, dom0 with one vCPU per pCPU. Prints
 * figures; not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/log.h"
#include "daemon/manager.h"
#include "simhost/simhost.h"
#include "target.h"

static double mono_ms(void) {
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

static int add(closer_simhost *sim, int domid) {
        int base = (domid * 7) % 440 + 2;
        char name[32];
        snprintf(name, sizeof(name), "vm%d", domid);
        return closer_simhost_add_domain(sim, domid, name, 1u << 20, base / 56, 2, (int[]) {base, base + 1},
                                         (double) (domid * 37 % 20000), 1);
}

int main(int argc, char **argv) {
        unsigned n_domains = argc > 1 ? (unsigned) atoi(argv[1]) : 1000;
        closer_simhost *sim = closer_simhost_new(8, 56, 64, 4096);
        closer_hypervisor *hv;
        closer_hostos *os;
        closer_manager *m;
        closer_config cfg;
        closer_error err;
        uint64_t now = 1000000000ull;

        closer_log_open("bench-daemon", LOG_WARNING);
        closer_config_defaults(&cfg);
        if (!sim || closer_simhost_hypervisor(sim, &hv) < 0 || closer_simhost_hostos(sim, &os) < 0 ||
            closer_manager_new(&cfg, hv, os, false, NULL, &m, &err) < 0) {
                fprintf(stderr, "bench-daemon: setup failed\n");
                return 1;
        }
        for (unsigned i = 1; i <= n_domains; i++)
                if (add(sim, (int) i) < 0) {
                        fprintf(stderr, "bench-daemon: cannot add domain %u\n", i);
                        return 1;
                }
        /* settle: the first ticks place everything */
        for (int i = 0; i < 3; i++) {
                closer_simhost_advance(sim, 1000000000ull);
                now += 1000000000ull;
                if (closer_manager_tick(m, now, &err) < 0) {
                        fprintf(stderr, "bench-daemon: %s\n", err.msg);
                        return 1;
                }
        }

        enum { TICKS = 30, INTROS = 200 };
        double cpu[TICKS];
        for (int i = 0; i < TICKS; i++) {
                closer_simhost_advance(sim, 1000000000ull);
                now += 1000000000ull;
                double c0 = cpu_ms();
                closer_manager_tick(m, now, &err);
                cpu[i] = cpu_ms() - c0;
        }
        qsort(cpu, TICKS, sizeof(double), cmp_double);

        double lat[INTROS], lat_cpu[INTROS];
        for (int i = 0; i < INTROS; i++) {
                int domid = (int) n_domains + 1 + i;
                double t0 = mono_ms(), c0 = cpu_ms();
                add(sim, domid);                /* the domain appears ... */
                now += 1000000ull;
                closer_manager_tick(m, now, &err); /* ... the event-driven tick places it */
                lat[i] = mono_ms() - t0;
                lat_cpu[i] = cpu_ms() - c0;
        }
        qsort(lat, INTROS, sizeof(double), cmp_double);
        qsort(lat_cpu, INTROS, sizeof(double), cmp_double);

        unsigned threads = m->snap->n_threads, irqs = m->snap->n_irqs;
        printf("bench-daemon: closerd manager on simhost, 448 pCPUs / 8 sockets, %u domains, %u dom0 threads, %u IRQs\n",
               n_domains, threads, irqs);
        int missed = 0;
        missed += bench_target("CPU per steady tick, median (1 % of one core at a 1 s tick)", cpu[TICKS / 2], "ms", "<",
                               10.0);
        bench_figure("CPU per steady tick, p90", cpu[TICKS * 9 / 10], "ms");
        missed += bench_target("new domain -> placement, p99 wall", lat[INTROS * 99 / 100], "ms", "<", 50.0);
        bench_figure("new domain -> placement, p50 wall", lat[INTROS / 2], "ms");
        bench_figure("new domain -> placement, CPU p50 (wall - CPU: waiting for a core)", lat_cpu[INTROS / 2], "ms");
        bench_figure("new domain -> placement, CPU p99", lat_cpu[INTROS * 99 / 100], "ms");
        printf("  actions: %llu thread, %llu IRQ, %llu memory\n",
               (unsigned long long) m->stats.actions[CLOSER_ACT_THREAD],
               (unsigned long long) m->stats.actions[CLOSER_ACT_IRQ],
               (unsigned long long) m->stats.actions[CLOSER_ACT_MEMORY]);
        closer_manager_free(m);
        closer_hypervisor_free(hv);
        closer_hostos_free(os);
        closer_simhost_free(sim);
        return missed ? 3 : 0;
}
