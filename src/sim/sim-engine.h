/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Internals of the engine, shared by sim-engine.c (the host, its scheduler
 * and the workloads) and sim-dom0.c (where dom0's work runs, per policy). */

#include "sim/sim.h"

#define CLOSER_SIM_AFF_MAX 128u
#define CLOSER_SIM_ARGV_MAX 4u

typedef struct closer_sim_vcpu {
        int domid;              /* 0: dom0 */
        int pcpu;
        double weight;
        double cap;             /* at most this fraction of its pCPU (credit2 cap), 1 = none */
        double demand_ns, grant_ns;     /* this tick */
        double busy_ns;                 /* in the measurement window */
        double rate;                    /* CPU it would get when busy (fraction of its pCPU) */
        double others_ns, others_w;     /* last tick: CPU and weight of the other busy vCPUs of its pCPU */
        /* dom0 vCPUs: threads placed on it this tick */
        int first_thread;
        unsigned n_threads;
        double thread_demand_ns;
} closer_sim_vcpu;

typedef struct closer_sim_thread {
        int tid;
        char comm[32];
        bool kernel;
        unsigned argc;
        char argv[CLOSER_SIM_ARGV_MAX][48];
        bool alive;
        int domid;              /* domain it works for, 0 = none */
        int data_node;          /* node of the memory it works on, -1 = none */
        double remote_factor;   /* CPU time multiplier when it runs off data_node */
        unsigned n_aff;
        int aff[CLOSER_SIM_AFF_MAX];   /* dom0 vCPUs it may run on */
        double demand;          /* local-ns of work wanted this tick */
        double cpu_ns;          /* CPU granted this tick */
        double progress;        /* local-ns done this tick */
        double cpu_total_ns;
        double factor;          /* remote factor where it ran this tick */
        double rate;            /* local-ns per ns it would get when busy (smoothed) */
        int on;                 /* dom0 vCPU this tick, -1 */
        int last_on;
        int next;
} closer_sim_thread;

typedef enum closer_sim_dom_kind {
        CLOSER_SIM_DOM_IO = 0,
        CLOSER_SIM_DOM_WEB,
        CLOSER_SIM_DOM_WRITER,
} closer_sim_dom_kind;

/* A VM with one vCPU is one closer_sim_dom. A VM on several sockets (an
 * I/O VM with a vCPU per socket, each with its own queue) is several, one
 * per vCPU, consecutive, with the same domid: part 0, 1, ... Each part has
 * its vCPU, its queue's backend thread and request pipeline, and its share
 * of the VM's memory on its node; the snapshot shows them as one domain. */
typedef struct closer_sim_dom {
        int domid;
        unsigned part;          /* vCPU index within its VM */
        char name[32];
        closer_sim_dom_kind kind;
        int node;
        int vcpu;               /* index into vcpus */
        double mem_kib;
        double mem_target_kib, dom0_reserve_kib;
        unsigned io_level;
        int thread;             /* its backend thread, -1 */
        /* request pipeline (I/O and web VMs) */
        double guest_ns, backend_ns, ext_ns, bytes, concurrency;
        double offered;         /* requests offered this tick */
        double ops_window, bytes_window, ops_rate, bytes_rate; /* what the snapshot reports */
        double ops_total, bytes_total;  /* in the measurement window */
} closer_sim_dom;

typedef struct closer_sim_engine {
        const closer_sim_config *cfg;
        closer_sim_policy policy;
        unsigned placement;     /* oracle: CLOSER_SIM_UNDER_* bits */
        closer_sim_prng rng;
        unsigned n_nodes, n_pcpus;
        int *pcpu_node;
        int *pcpu_first_vcpu, *vcpu_next_on_pcpu;       /* static: vCPUs are pinned */
        unsigned n_vcpus, cap_vcpus;
        closer_sim_vcpu *vcpus;        /* dom0 vCPUs first: index == dom0 vCPU id */
        unsigned n_dom0;
        unsigned n_main;
        int main_vcpus[CLOSER_SIM_AFF_MAX];
        unsigned n_doms;
        closer_sim_dom *doms;
        unsigned n_threads, cap_threads;
        closer_sim_thread *threads;
        double now_ns, dt_ns;
        double *scratch_d, *scratch_w, *scratch_g;
        struct wf_item *scratch_order;
        unsigned scratch_n;
        double *pcpu_load;
        bool replan;            /* closer: something changed, plan again */
        double dom0_mem_kib;    /* main + what dom0 holds for the VMs, as last decided */
        double last_plan_ns;
        unsigned plans;
} closer_sim_engine;

/* Add a vCPU pinned on pcpu; returns its index or -ENOMEM. */
int closer_sim_engine_add_vcpu(closer_sim_engine *e, int domid, int pcpu, double weight);

/* Add a dom0 thread; returns its index or -ENOMEM. */
int closer_sim_engine_add_thread(closer_sim_engine *e, const char *comm, bool kernel, int domid, int data_node,
                          double remote_factor, unsigned argc, const char *const *argv);

/* sim-dom0.c: dom0 under each policy. setup creates dom0's vCPUs (before
 * any domU vCPU); place gives every live thread its affinity (called at
 * start, when threads appear, and every closer.replan_s). */
int closer_sim_dom0_setup(closer_sim_engine *e, closer_error *err);
int closer_sim_dom0_place(closer_sim_engine *e, closer_error *err);

/* What closerd would observe on this host now, as a snapshot the caller
 * frees with closer_sim_dom0_snapshot_free(). Returns 0 or -ENOMEM. */
struct closer_snapshot;
int closer_sim_dom0_snapshot(const closer_sim_engine *e, struct closer_snapshot **ret);
void closer_sim_dom0_snapshot_free(struct closer_snapshot *s);
