/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How fast the simulator runs: simulated seconds per wall-clock second.
 * 1. the thesis' reference host (4 x 14 pCPUs, 40 GiB) with 50 I/O VMs,
 *    each policy (target: >= 1000x);
 * 2. scaling up to 448 pCPUs (8 sockets x 56) and 1000 VMs.
 * closer's figure includes building a snapshot and running the core's
 * closer_plan_compute() every closer.replan_s (1 s simulated).
 */
#include <stdio.h>
#include <time.h>

#include "sim/sim.h"
#include "target.h"

static double now_s(void) {
        struct timespec t;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static int missed;

/* target: real time x min_speed (0: a figure without a target) */
static int one(const char *what, closer_sim_config *c, closer_sim_policy p, double min_speed) {
        closer_sim_result r;
        closer_error err = {{0}};
        double t0 = now_s();
        int k = closer_sim_run(c, p, &r, &err);
        double wall = now_s() - t0;
        if (k < 0) {
                fprintf(stderr, "bench-sim: %s %s: %s\n", what, closer_sim_policy_to_string(p), err.msg);
                return k;
        }
        double sim_s = r.sim_ns / 1e9;
        char line[160];
        snprintf(line, sizeof(line), "%s, %s: %.0f s simulated in %.3f s CPU", what, closer_sim_policy_to_string(p), sim_s,
                 wall);
        if (min_speed > 0)
                missed += bench_target(line, sim_s / wall, "x", ">=", min_speed);
        else
                bench_figure(line, sim_s / wall, "x");
        return 0;
}

int main(void) {
        closer_sim_config c;
        printf("bench-sim: simulated seconds per second of CPU time (engine tick %g us; CPU time, not wall, because the machine is shared)\n", 5000.0);
        closer_sim_config_defaults(&c);
        c.w_io_vms = 50;
        c.w_warmup_s = 0;
        c.w_duration_s = 300;
        for (unsigned p = 0; p < CLOSER_SIM_POLICY_MAX; p++)
                if (one("reference host 56 pCPUs, 50 VMs", &c, (closer_sim_policy) p, 1000.0) < 0)
                        return 1;

        static const struct {
                unsigned sockets, per, vms;
        } sizes[] = {{4, 14, 200}, {8, 28, 500}, {8, 56, 1000}};
        for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                closer_sim_config_defaults(&c);
                c.host_sockets = sizes[i].sockets;
                c.host_cpus_per_socket = sizes[i].per;
                c.host_mem_gib = 40.0 * sizes[i].sockets * sizes[i].per / 56.0;
                c.w_io_vms = sizes[i].vms;
                c.w_warmup_s = 0;
                c.w_duration_s = 30;
                char what[64];
                snprintf(what, sizeof(what), "%u pCPUs, %u VMs", sizes[i].sockets * sizes[i].per, sizes[i].vms);
                for (unsigned p = 0; p < CLOSER_SIM_POLICY_MAX; p++)
                        if (one(what, &c, (closer_sim_policy) p, 0) < 0)
                                return 1;
        }
        return missed ? 3 : 0;
}
