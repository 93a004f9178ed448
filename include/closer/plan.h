/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "closer/cpuset.h"
#include "closer/rules.h"
#include "closer/snapshot.h"

/*
 * The plan: what the policy decided for one snapshot. Format `closer-plan/1`
 * (docs/formats.md). Plain data, owned by the plan; closer_plan_free() frees it.
 * Threads point at the CPU sets of the main container or of a domain, so a
 * 10k-thread plan stays small.
 */

typedef struct closer_plan_main {
        closer_cpuset dom0_cpus;
        uint64_t mem_kib;
        int node;                       /* node id */
        unsigned vcpus;                 /* requested size */
} closer_plan_main;

typedef struct closer_plan_secondary {
        int node;                       /* node id */
        closer_cpuset dom0_cpus;
} closer_plan_secondary;

/*
 * One secondary container of one domain: the cgroup leaf node<N>/vm<domid>.
 * A domain has one in every node its vCPUs run on (thesis §3.3: "a virtual
 * machine that runs on the socket x is managed by the secondary container of
 * this socket"; §3.3.1: eps is its contribution "in each secondary
 * container"), plus, when its memory sits on a node it does not run on, one
 * there for its admin work (Algorithm 2) and its device model.
 */
typedef struct closer_plan_leaf {
        int domid;
        int node;                       /* node id */
        closer_cpuset dom0_cpus;        /* its cpuset: the secondary dom0 CPUs under the
                                         * domain's vCPUs on that node (or, when there are
                                         * none, the node's secondary CPUs); never empty */
        unsigned n_vcpus;               /* the domain's vCPUs on that node (0: admin only) */
        uint64_t dom0_reserve_kib;      /* its share of the domain's dom0 reserve: eps per
                                         * node the domain runs on, the I/O level's extra in
                                         * the home leaf; the leaves add up to the domain's */
} closer_plan_leaf;

typedef struct closer_plan_domain {
        int domid;
        int node;                       /* node id of its home leaf: most of its memory (ties:
                                         * vCPUs, lowest id), or the nearest node with secondary
                                         * CPUs; its admin work and device model run there */
        unsigned n_sockets;             /* n of `M - n*eps`: nodes its vCPUs run on */
        closer_cpuset backend_dom0_cpus;/* every leaf's CPUs: where its T3 work may run, and
                                         * external receive's choice; never empty, never main */
        unsigned first_leaf, n_leaves;  /* its leaves: plan->leaves[first_leaf ...], by node */
        unsigned home_leaf;             /* index in plan->leaves of the home leaf */
        int admin_dom0_cpu;             /* where its shutdown/migrate/save runs */
        closer_cpuset admin_dom0_cpus;  /* = {admin_dom0_cpu} */
        uint64_t mem_target_kib;        /* its balloon target */
        uint64_t dom0_reserve_kib;      /* held in dom0 on its behalf; target + reserve == M */
        unsigned io_level;
        char vcpu_pcpus[64];            /* cpulist of the pCPUs its vCPUs run on (for `why`) */
        char why[160];
} closer_plan_domain;

typedef struct closer_plan_thread {
        int tid;
        int pid;
        closer_class cls;
        int domid;                      /* CLOSER_DOMID_NONE for main work */
        int node;                       /* node id of its container; -1 = main */
        int domain_index;               /* index in plan->domains, -1 for main work */
        int leaf_index;                 /* index in plan->leaves, -1 for main work */
        int queue;                      /* the backend queue it serves, -1: none / unknown */
        int vcpu;                       /* the domain's vCPU using that queue, when the thread
                                         * runs on that vCPU's node; -1 otherwise */
        bool admin;                     /* admin work on that domain (vs its I/O backend) */
        const closer_cpuset *dom0_cpus; /* points into the plan */
        char what[96];                  /* what the rules saw; `why` is built from it on output */
} closer_plan_thread;

typedef struct closer_plan_irq {
        unsigned irq;
        int domid;
        int queue;
        closer_irq_kind kind;
        int dom0_cpu;
        char why[160];
} closer_plan_irq;

typedef struct closer_plan {
        uint64_t time_ns;
        closer_plan_main main;
        unsigned n_secondary;
        closer_plan_secondary *secondary;
        unsigned n_domains;
        closer_plan_domain *domains;    /* same order as the snapshot's domains */
        unsigned n_leaves;
        closer_plan_leaf *leaves;       /* by domain, then node */
        unsigned n_threads;
        closer_plan_thread *threads;    /* only threads the plan places (all of them) */
        unsigned n_irqs;
        closer_plan_irq *irqs;          /* only IRQs of a domain's backend */
} closer_plan;

closer_plan *closer_plan_free(closer_plan *p);

/* "main" or "node<N>/vm<D>" into buf (>= 32 bytes). */
const char *closer_plan_thread_container(const closer_plan_thread *t, char *buf, size_t len);

/* Why thread t goes where it goes, into buf; returns buf. Built on output
 * rather than when planning: 10k threads' texts would cost more than the plan. */
const char *closer_plan_thread_why(const closer_plan *p, const closer_plan_thread *t, char *buf, size_t len);

/* `closer-plan/1` JSON; malloc'd string, NULL on ENOMEM. */
char *closer_plan_to_json(const closer_plan *p);
/* The readable table of `closerctl plan`; malloc'd string, NULL on ENOMEM. */
char *closer_plan_to_table(const closer_plan *p);
