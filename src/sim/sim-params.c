/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The parameter table. Every model parameter has its source in
 * docs/model.md; none was tuned to reproduce a published number.
 */
#include <math.h>
#include <string.h>

#include "basic/macro.h"
#include "sim/sim.h"

#define P(n, f, d, lo, hi, u, m) {n, offsetof(closer_sim_config, f), d, lo, hi, u, m}

const closer_sim_param_info closer_sim_params[] = {
        P("host.sockets",               host_sockets,           4,      1,      64,     "",        true),
        P("host.cpus_per_socket",       host_cpus_per_socket,   14,     1,      256,    "",        true),
        P("host.mem_gib",               host_mem_gib,           40,     1,      65536,  "GiB",     true),
        P("engine.tick_us",             tick_us,                5000,   10,     100000, "us",      true),
        P("mem.local_latency_ns",       mem_local_latency_ns,   90,     1,      10000,  "ns",      true),
        P("mem.remote_latency_ratio",   mem_remote_latency_ratio, 1.6,  1,      10,     "x",       true),
        P("mem.remote_bw_ratio",        mem_remote_bw_ratio,    0.5,    0.01,   1,      "x",       true),
        P("mem.copy_gib_s",             mem_copy_gib_s,         6,      0.1,    1000,   "GiB/s",   true),
        P("mem.scrub_gib_s",            mem_scrub_gib_s,        10,     0.1,    1000,   "GiB/s",   true),
        P("sched.weight",               sched_weight,           256,    1,      65535,  "",        true),
        P("sched.dom0_weight",          sched_dom0_weight,      256,    1,      65535,  "",        true),
        P("sched.cap_pct",              sched_cap_pct,          0,      0,      100,    "%",       true),
        P("sched.dom0_cap_pct",         sched_dom0_cap_pct,     0,      0,      100,    "%",       true),
        P("native.vcpus",               native_vcpus,           2,      1,      256,    "",        true),
        P("native.mem_gib",             native_mem_gib,         2,      0.125,  1024,   "GiB",     true),
        P("native.node",                native_node,            0,      0,      63,     "",        true),
        P("closer.replan_s",            closer_replan_s,        1,      0.001,  3600,   "s",       true),
        P("io.guest_cpu_us",            io_guest_cpu_us,        10,     0,      1e6,    "us",      true),
        P("io.backend_cpu_us",          io_backend_cpu_us,      25,     0,      1e6,    "us",      true),
        P("io.backend_misses",          io_backend_misses,      40,     0,      1e6,    "",        true),
        P("io.record_kib",              io_record_kib,          64,     0,      1e6,    "KiB",     true),
        P("io.device_us",               io_device_us,           300,    0,      1e7,    "us",      true),
        P("io.depth",                   io_depth,               1,      1,      1024,   "",        true),
        P("io.vm_mem_gib",              io_vm_mem_gib,          0.5,    0.0625, 1024,   "GiB",     true),
        P("web.guest_cpu_us",           web_guest_cpu_us,       5000,   0,      1e7,    "us",      true),
        P("web.backend_cpu_us",         web_backend_cpu_us,     200,    0,      1e7,    "us",      true),
        P("web.backend_misses",         web_backend_misses,     200,    0,      1e7,    "",        true),
        P("web.kib",                    web_kib,                64,     0,      1e6,    "KiB",     true),
        P("web.network_us",             web_network_us,         200,    0,      1e7,    "us",      true),
        P("web.clients",                web_clients,            1,      1,      1e4,    "",        true),
        P("mig.cpu_per_page_us",        mig_cpu_per_page_us,    9.7,    0.001,  1e4,    "us",      true),
        P("mig.link_gbit_s",            mig_link_gbit_s,        1,      0.001,  1e4,    "Gbit/s",  true),
        P("mig.max_iters",              mig_max_iters,          5,      1,      1000,   "",        true),
        P("mig.stop_pages",             mig_stop_pages,         50,     0,      1e9,    "pages",   true),
        P("mig.dirty_pages_per_cpu_s",  mig_dirty_pages_per_cpu_s, 20000, 0,    1e9,    "pages/s", true),
        P("mig.vm_mem_gib",             mig_vm_mem_gib,         1,      0.0625, 1024,   "GiB",     true),
        P("create.toolstack_ms",        create_toolstack_ms,    300,    0,      1e6,    "ms",      true),
        P("create.vm_mem_gib",          create_vm_mem_gib,      1,      0.0625, 1024,   "GiB",     true),
        P("agent.interval_s",           agent_interval_s,       10,     0.1,    3600,   "s",       true),
        P("agent.down_time_s",          agent_down_time_s,      60,     0.1,    36000,  "s",       true),
        P("agent.cpu_ms",               agent_cpu_ms,           300,    0,      1e6,    "ms",      true),
        P("agent.cpu_ms_per_vm",        agent_cpu_ms_per_vm,    2,      0,      1e6,    "ms",      true),
        P("base.cpu_pct",               base_os_cpu_pct,        1,      0,      100,    "%",       true),
        P("noise.pct",                  noise_pct,              10,     0,      100,    "%",       true),
        P("trace.days",                 trace_days,             29,     1,      366,    "days",    true),
        P("trace.sample_s",             trace_sample_s,         300,    1,      86400,  "s",       true),
        P("trace.util_mean_pct",        trace_util_mean_pct,    35,     0,      100,    "%",       true),
        P("trace.util_diurnal_pct",     trace_util_diurnal_pct, 10,     0,      100,    "%",       true),
        P("trace.util_noise_pct",       trace_util_noise_pct,   5,      0,      100,    "%",       true),
        P("trace.dom0_per_task_cpu",    trace_dom0_per_task_cpu, 0.1,   0,      10,     "x",       true),
        P("trace.smallest_task_cores",  trace_smallest_task_cores, 0.0625, 1e-4, 64,    "cores",   true),
        P("workload.io_vms",            w_io_vms,               0,      0,      100000, "",        false),
        P("workload.io_node",           w_io_node,              -1,     -1,     63,     "",        false),
        P("workload.web_vm",            w_web_vm,               0,      0,      1,      "",        false),
        P("workload.web_node",          w_web_node,             0,      0,      63,     "",        false),
        P("workload.migrate",           w_migrate,              0,      0,      1,      "",        false),
        P("workload.migrate_node",      w_migrate_node,         0,      0,      63,     "",        false),
        P("workload.create",            w_create,               0,      0,      1,      "",        false),
        P("workload.create_node",       w_create_node,          0,      0,      63,     "",        false),
        P("workload.span_vms",          w_span_vms,             0,      0,      100000, "",        false),
        P("workload.span_sockets",      w_span_sockets,         2,      1,      64,     "",        false),
        P("workload.agent",             w_agent,                1,      0,      1,      "",        false),
        P("workload.duration_s",        w_duration_s,           20,     0.01,   1e7,    "s",       false),
        P("workload.warmup_s",          w_warmup_s,             2,      0,      1e7,    "s",       false),
        P("workload.seed",              w_seed,                 1,      0,      9007199254740992.0, "", false),
};

const unsigned closer_sim_n_params = ELEMENTSOF(closer_sim_params);

void closer_sim_config_defaults(closer_sim_config *c) {
        memset(c, 0, sizeof(*c));
        for (unsigned i = 0; i < closer_sim_n_params; i++)
                closer_sim_config_set(c, &closer_sim_params[i], closer_sim_params[i].def);
}

const closer_sim_param_info *closer_sim_param_find(const char *name) {
        for (unsigned i = 0; i < closer_sim_n_params; i++)
                if (strcmp(closer_sim_params[i].name, name) == 0)
                        return &closer_sim_params[i];
        return NULL;
}

double closer_sim_config_get(const closer_sim_config *c, const closer_sim_param_info *p) {
        double v;
        memcpy(&v, (const char *) c + p->offset, sizeof(v));
        return v;
}

void closer_sim_config_set(closer_sim_config *c, const closer_sim_param_info *p, double v) {
        memcpy((char *) c + p->offset, &v, sizeof(v));
}

const char *closer_sim_policy_to_string(closer_sim_policy p) {
        static const char *const names[CLOSER_SIM_POLICY_MAX] = {"native", "closer", "oracle"};
        return p < CLOSER_SIM_POLICY_MAX ? names[p] : "?";
}

static const char *const metric_names[CLOSER_SIM_M_MAX] = {
        [CLOSER_SIM_M_MAIN_LOAD_PCT] = "main_load_pct",
        [CLOSER_SIM_M_DOM0_CPU_PCT] = "dom0_cpu_pct",
        [CLOSER_SIM_M_IO_MIB_S] = "io_mib_s",
        [CLOSER_SIM_M_WEB_RPS] = "web_rps",
        [CLOSER_SIM_M_MIGRATION_S] = "migration_s",
        [CLOSER_SIM_M_CREATE_S] = "create_s",
        [CLOSER_SIM_M_HB_MAX_GAP_S] = "heartbeat_max_gap_s",
        [CLOSER_SIM_M_HB_FAILED] = "heartbeat_failed",
        [CLOSER_SIM_M_WASTE_TASKS] = "wasted_tasks",
        [CLOSER_SIM_M_DOM0_MEM_MIB] = "dom0_mem_mib",
};

const char *closer_sim_metric_to_string(closer_sim_metric m) {
        return m < CLOSER_SIM_M_MAX ? metric_names[m] : "?";
}

int closer_sim_metric_from_string(const char *s) {
        for (unsigned i = 0; i < CLOSER_SIM_M_MAX; i++)
                if (strcmp(metric_names[i], s) == 0)
                        return (int) i;
        return -1;
}

bool closer_sim_metric_higher_is_better(closer_sim_metric m) {
        return m == CLOSER_SIM_M_IO_MIB_S || m == CLOSER_SIM_M_WEB_RPS;
}

const char *closer_sim_placement_to_string(unsigned placement) {
        static const char *const names[CLOSER_SIM_PLACEMENTS] = {
                [0] = "backends beside, admin beside",
                [CLOSER_SIM_UNDER_BACKENDS] = "backends under, admin beside",
                [CLOSER_SIM_UNDER_ADMIN] = "backends beside, admin under",
                [CLOSER_SIM_UNDER_BACKENDS | CLOSER_SIM_UNDER_ADMIN] = "backends under, admin under",
        };
        return placement < CLOSER_SIM_PLACEMENTS ? names[placement] : "?";
}
