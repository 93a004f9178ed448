/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Over-provisioning (thesis §2.1.2): how much of a static dom0 sits idle
 * over a month of cluster load. The thesis used the 29-day Google cluster
 * trace (2011); it is not reachable here, so this is a generator with the
 * trace's published shape (docs/model.md): 5-minute samples, a mean machine
 * CPU utilisation well below its requests, a daily cycle, and autocorrelated
 * noise. It is a stand-in, and results say so.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "sim/sim.h"

static double gaussian(closer_sim_prng *r) {
        /* Box-Muller; 1 - u keeps log() away from 0 */
        double u1 = 1.0 - closer_sim_prng_uniform(r), u2 = closer_sim_prng_uniform(r);
        return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int closer_sim_trace_run(const closer_sim_config *c, closer_sim_policy policy, double *ret_daily_waste, unsigned n_days, closer_sim_result *ret) {
        closer_sim_prng rng;
        /* the same trace for every policy: only dom0's sizing differs */
        closer_sim_prng_seed(&rng, (uint64_t) c->w_seed);
        unsigned per = (unsigned) c->host_cpus_per_socket;
        double domu_cores = (c->host_sockets - 1.0) * per;     /* what a dom0 holding one socket leaves */
        unsigned samples_per_day = (unsigned) (86400.0 / c->trace_sample_s);
        if (samples_per_day == 0 || n_days == 0)
                return -EINVAL;
        /* main container need: base OS + the agent's average */
        double agent = c->w_agent >= 0.5 ? (c->agent_cpu_ms / 1000.0) / c->agent_interval_s : 0;
        double main_need = c->base_os_cpu_pct / 100.0 + agent;
        double noise = 0, total = 0;
        unsigned n = 0;
        for (unsigned d = 0; d < n_days; d++) {
                double day_sum = 0;
                for (unsigned s = 0; s < samples_per_day; s++) {
                        double hour = 24.0 * s / samples_per_day;
                        /* AR(1), coefficient 0.9 per sample: load changes over tens of minutes */
                        noise = 0.9 * noise + sqrt(1.0 - 0.81) * gaussian(&rng);
                        double util = c->trace_util_mean_pct + c->trace_util_diurnal_pct * sin(2.0 * M_PI * (hour - 9.0) / 24.0) +
                                      c->trace_util_noise_pct * noise;
                        if (util < 0)
                                util = 0;
                        if (util > 100)
                                util = 100;
                        double task_cores = util / 100.0 * domu_cores;
                        double dom0_need = c->trace_dom0_per_task_cpu * task_cores + main_need;
                        double waste;
                        switch (policy) {
                        case CLOSER_SIM_NATIVE:
                                /* a whole socket for dom0, whatever it needs */
                                waste = per - dom0_need;
                                break;
                        case CLOSER_SIM_CLOSER:
                                /* only the static main container can sit idle; the secondary
                                 * work runs on the VMs' own pCPUs when it exists */
                                waste = c->native_vcpus - main_need;
                                break;
                        default:
                                waste = 0;
                                break;
                        }
                        if (waste < 0)
                                waste = 0;
                        day_sum += waste;
                        total += waste;
                        n++;
                }
                ret_daily_waste[d] = day_sum / samples_per_day / c->trace_smallest_task_cores;
        }
        closer_sim_result r = {.done = true, .sim_ns = n_days * 86400.0 * 1e9};
        r.v[CLOSER_SIM_M_WASTE_TASKS] = total / n / c->trace_smallest_task_cores;
        *ret = r;
        return 0;
}
