/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "closer/cpuset.h"
#include "closer/error.h"

/*
 * closer-sim: a modelled NUMA host running Xen-like scheduling, with dom0
 * under three policies. Everything here is internal to the simulator; the
 * only thing it shares with the daemon is the core (closer_plan_compute()).
 *
 * Units: time in ns (double in the engine: fluid model), memory in KiB or
 * pages, CPU as "ns of one pCPU".
 */

typedef enum closer_sim_policy {
        CLOSER_SIM_NATIVE = 0,         /* stock Xen: static dom0 on one socket does everything */
        CLOSER_SIM_CLOSER,             /* main + secondary containers, as the core plans them */
        CLOSER_SIM_ORACLE,             /* per metric, the best placement of a VM's dom0 work on its node */
        CLOSER_SIM_POLICY_MAX,
} closer_sim_policy;

const char *closer_sim_policy_to_string(closer_sim_policy p);

/* ---- parameters (sim-params.c) -------------------------------------------
 * One flat table of named doubles: model parameters (with their source, see
 * docs/model.md) and per-scenario workload knobs. A scenario overrides any of
 * them by name and sweeps one of them. */

typedef struct closer_sim_config {
        /* host (thesis §4.2.1 reference host) */
        double host_sockets, host_cpus_per_socket, host_mem_gib;
        /* engine */
        double tick_us;
        /* memory system */
        double mem_local_latency_ns, mem_remote_latency_ratio, mem_remote_bw_ratio;
        double mem_copy_gib_s, mem_scrub_gib_s;
        /* scheduler */
        double sched_weight, sched_dom0_weight, sched_cap_pct, sched_dom0_cap_pct;
        /* native dom0 */
        double native_vcpus, native_mem_gib, native_node;
        /* closer */
        double closer_replan_s;
        /* iozone-like I/O VM */
        double io_guest_cpu_us, io_backend_cpu_us, io_backend_misses, io_record_kib, io_device_us, io_depth;
        double io_vm_mem_gib;
        /* web-app VM */
        double web_guest_cpu_us, web_backend_cpu_us, web_backend_misses, web_kib, web_network_us, web_clients;
        /* migration */
        double mig_cpu_per_page_us, mig_link_gbit_s, mig_max_iters, mig_stop_pages, mig_dirty_pages_per_cpu_s;
        double mig_vm_mem_gib;
        /* VM creation */
        double create_toolstack_ms, create_vm_mem_gib;
        /* datacenter agent (nova-compute) + base OS */
        double agent_interval_s, agent_down_time_s, agent_cpu_ms, agent_cpu_ms_per_vm, base_os_cpu_pct;
        double noise_pct;
        /* over-provisioning trace */
        double trace_days, trace_sample_s, trace_util_mean_pct, trace_util_diurnal_pct, trace_util_noise_pct;
        double trace_dom0_per_task_cpu, trace_smallest_task_cores;
        /* workload of a scenario */
        double w_io_vms, w_io_node, w_web_vm, w_web_node, w_migrate, w_migrate_node, w_create, w_create_node;
        double w_span_vms, w_span_sockets;
        double w_agent, w_duration_s, w_warmup_s, w_seed;
} closer_sim_config;

typedef struct closer_sim_param_info {
        const char *name;       /* as in scenario files: "mem.remote_bw_ratio" */
        size_t offset;
        double def;
        double min, max;        /* accepted range */
        const char *unit;
        bool is_model;          /* model parameter (listed in results), else workload knob */
} closer_sim_param_info;

extern const closer_sim_param_info closer_sim_params[];
extern const unsigned closer_sim_n_params;

void closer_sim_config_defaults(closer_sim_config *c);
const closer_sim_param_info *closer_sim_param_find(const char *name);
double closer_sim_config_get(const closer_sim_config *c, const closer_sim_param_info *p);
void closer_sim_config_set(closer_sim_config *c, const closer_sim_param_info *p, double v);

/* ---- deterministic PRNG (sim-prng.c): splitmix64 -------------------------- */
typedef struct closer_sim_prng {
        uint64_t s;
} closer_sim_prng;
void closer_sim_prng_seed(closer_sim_prng *r, uint64_t seed);
uint64_t closer_sim_prng_next(closer_sim_prng *r);
double closer_sim_prng_uniform(closer_sim_prng *r);   /* [0, 1) */

/* ---- measurements of one run -------------------------------------------- */
typedef enum closer_sim_metric {
        CLOSER_SIM_M_MAIN_LOAD_PCT = 0,        /* load of the main dom0 vCPUs (native: all of dom0) */
        CLOSER_SIM_M_DOM0_CPU_PCT,             /* all dom0 CPU, % of one pCPU */
        CLOSER_SIM_M_IO_MIB_S,                 /* aggregate I/O bandwidth of the I/O VMs */
        CLOSER_SIM_M_WEB_RPS,                  /* web-app requests per second */
        CLOSER_SIM_M_MIGRATION_S,              /* migration time */
        CLOSER_SIM_M_CREATE_S,                 /* VM creation time */
        CLOSER_SIM_M_HB_MAX_GAP_S,             /* longest gap between heartbeats */
        CLOSER_SIM_M_HB_FAILED,                /* 1 if the host was declared failed */
        CLOSER_SIM_M_WASTE_TASKS,              /* over-provisioning: wasted smallest-task slots */
        CLOSER_SIM_M_DOM0_MEM_MIB,             /* memory dom0 holds at the end: main + reserves for VMs */
        CLOSER_SIM_M_MAX,
} closer_sim_metric;

const char *closer_sim_metric_to_string(closer_sim_metric m);
int closer_sim_metric_from_string(const char *s);      /* -1 if unknown */
/* Which way a metric is better. Every metric has one, so that the oracle
 * can be the best of its placements on each: outcomes (I/O, requests) are
 * better higher; times, load, lost heartbeats, idle capacity and the CPU and
 * memory dom0 spends (costs to the provider) are better lower. */
bool closer_sim_metric_higher_is_better(closer_sim_metric m);

/* The oracle's placements: where the dom0 work done for one VM may run, on
 * the node holding the VM's memory. "beside": the least loaded dom0 vCPU of
 * that node outside main (an idle CPU when there is one); "under": the dom0
 * vCPU pinned on the pCPU of the VM's own vCPU (closer's choice, thesis
 * §3.3.2-3.3.3: the VM and its dom0 work then never run at once, which for a
 * migration slows the VM's writes). Chosen apart for request backends (T3)
 * and for admin work (migration); a bit set means "under". */
enum {
        CLOSER_SIM_UNDER_BACKENDS = 1u << 0,
        CLOSER_SIM_UNDER_ADMIN = 1u << 1,
        CLOSER_SIM_PLACEMENTS = 4u,             /* every combination of the bits */
};
/* "backends beside, admin under" and the like; static storage. */
const char *closer_sim_placement_to_string(unsigned placement);

typedef struct closer_sim_result {
        double v[CLOSER_SIM_M_MAX];
        bool done;                              /* the measured operation finished */
        double sim_ns;                          /* simulated time */
        /* oracle: the placement each metric's value comes from */
        unsigned placement[CLOSER_SIM_M_MAX];
} closer_sim_result;

/* ---- one run of the engine (sim-engine.c) -------------------------------
 * Builds the host and the workload described by cfg, runs dom0 under policy
 * and measures. Under the oracle, runs every placement the workload can tell
 * apart and keeps, per metric, the best value (and which placement gave it).
 * Returns 0, or -errno with err set (e.g. the core refused to plan). */
int closer_sim_run(const closer_sim_config *cfg, closer_sim_policy policy, closer_sim_result *ret, closer_error *err);
/* One oracle placement alone (CLOSER_SIM_UNDER_* bits). */
int closer_sim_run_oracle_placement(const closer_sim_config *cfg, unsigned placement, closer_sim_result *ret,
                                    closer_error *err);

/* The closer-snapshot/1 (docs/formats.md) of the modelled host at the end of the
 * warm-up, as closerd would read it under the closer policy: *ret malloc'd.
 * Returns 0 or -errno with err set. */
int closer_sim_snapshot_json(const closer_sim_config *cfg, char **ret, closer_error *err);

/* The over-provisioning experiment is trace driven, not engine driven
 * (sim-trace.c). Fills per-day series (days points) and the result. */
int closer_sim_trace_run(const closer_sim_config *cfg, closer_sim_policy policy, double *ret_daily_waste_cores, unsigned n_days,
                  closer_sim_result *ret);

/* ---- scenarios (sim-scenario.c) ----------------------------------------- */
#define CLOSER_SIM_SWEEP_MAX 64u

typedef struct closer_sim_axis {
        char label[96];
        char unit[32];
        bool log;               /* plot on a log scale */
} closer_sim_axis;

typedef enum closer_sim_kind {
        CLOSER_SIM_KIND_ENGINE = 0,
        CLOSER_SIM_KIND_TRACE,
} closer_sim_kind;

typedef struct closer_sim_scenario {
        char name[64];
        char title[160];
        char thesis[64];        /* what it reproduces: "Fig 4.1a" */
        char group[32];         /* "problem" | "evaluation" | "sensitivity" | "overprovisioning" */
        char note[320];         /* how the set-up reads, shown under the title */
        closer_sim_kind kind;
        closer_sim_config cfg;
        const closer_sim_param_info *sweep;    /* NULL for trace kind */
        unsigned n_values;
        double values[CLOSER_SIM_SWEEP_MAX];
        closer_sim_metric metric;
        closer_sim_axis x, y;
        /* summary */
        bool in_summary;
        bool in_average;        /* counted in average_gain_pct (the thesis' ch. 4 benchmarks) */
        bool higher_is_better;
        char summary_metric[96];
        bool summary_at_last;   /* value at the last x; else the mean over x */
} closer_sim_scenario;

/* Parse a `closer-sim-scenario/1` document; `source` names it in errors
 * ("FILE: $.path: expected ..."). Returns 0 or -EINVAL. */
int closer_sim_scenario_parse(const char *text, const char *source, closer_sim_scenario *ret, closer_error *err);
int closer_sim_scenario_load(const char *path, closer_sim_scenario *ret, closer_error *err);

/* ---- experiments (sim-experiment.c) ------------------------------------- */
typedef struct closer_sim_series {
        unsigned n;
        double x[CLOSER_SIM_SWEEP_MAX];
        double y[CLOSER_SIM_SWEEP_MAX];
        unsigned placement[CLOSER_SIM_SWEEP_MAX];      /* oracle: the placement that gave y */
} closer_sim_series;

typedef struct closer_sim_outcome {
        const closer_sim_scenario *sc;
        closer_sim_series series[CLOSER_SIM_POLICY_MAX];
        double summary[CLOSER_SIM_POLICY_MAX];
        double gain_pct;                /* closer over native */
        double oracle_gap_pct;          /* how far closer is from oracle */
} closer_sim_outcome;

typedef void (*closer_sim_progress_fn)(void *userdata, const char *name, unsigned done, unsigned total);

int closer_sim_experiment_run(const closer_sim_scenario *sc, closer_sim_outcome *ret, closer_sim_progress_fn progress, void *userdata,
                       closer_error *err);

/* ---- reports (sim-report.c) ---------------------------------------------- */
/* Each returns a malloc'd string or NULL on ENOMEM. */
char *closer_sim_report_table(const closer_sim_outcome *o, unsigned n, const closer_sim_config *model);
char *closer_sim_report_result_json(const closer_sim_outcome *o);
char *closer_sim_report_summary_json(const closer_sim_outcome *o, unsigned n, const closer_sim_config *model);
char *closer_sim_report_csv(const closer_sim_outcome *o, unsigned n);
/* Writes DIR/NAME.svg and DIR/NAME.png through gnuplot (argv, no shell).
 * Returns 0 or -errno. */
int closer_sim_report_plot(const closer_sim_outcome *o, const char *dir, closer_error *err);
