/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "closer/config.h"
#include "closer/plan.h"
#include "closer/snapshot.h"

/*
 * The policy: thesis chapter 3 as pure functions from a snapshot (+ config)
 * to a plan. No syscalls, no clock, no logging. Each part is exported so that
 * it can be tested on its own; closer_plan_compute() runs them all.
 */

/* What the policy derives once from a snapshot: which dom0 CPU sits on which
 * pCPU, and the main container. Built by closer_view_init(). */
typedef struct closer_view {
        const closer_snapshot *snap;
        int dom0_cpu_on_pcpu[CLOSER_CPUSET_MAX];          /* lowest dom0 vCPU on pCPU, -1 */
        closer_cpuset dom0_cpus_on_node[CLOSER_NODES_MAX]; /* by node index */
        closer_cpuset main_cpus;
        int main_node_index;
} closer_view;

/*
 * 1. Main container (thesis §3.2, table 3.2). Picks the configured number of
 * dom0 CPUs on the configured node, lowest first. Returns 0, or -ENOENT
 * (unknown node) / -ENOSPC (node has too few dom0 vCPUs) with err set.
 */
int closer_policy_main(const closer_snapshot *s, const closer_config *c,
                       closer_plan_main *ret, closer_error *err);

/* Fill the view (needs the main container). Returns 0 or -EINVAL. */
int closer_view_init(closer_view *v, const closer_snapshot *s, const closer_plan_main *main_c);

/*
 * 2. Secondary containers (§3.3): one per node hosting domain vCPUs, plus the
 * nodes flagged in also_nodes (by node index, may be NULL: nodes that serve a
 * domain from afar, see 4.); dom0 CPUs pinned on that node minus the main
 * ones. Writes at most CLOSER_NODES_MAX entries in node order; returns how many.
 */
unsigned closer_policy_secondary(const closer_view *v, const bool *also_nodes, closer_plan_secondary *ret);

/* 3. Domain -> node index holding most of its memory; ties: most vCPUs on it,
 * then lowest node id. Domains with no memory information fall back on vCPUs. */
int closer_policy_domain_node(const closer_view *v, const closer_domain *d);

/* Number of nodes the domain's vCPUs run on (>= 1): the n of `M - n*eps`. */
unsigned closer_policy_domain_sockets(const closer_view *v, const closer_domain *d);

/*
 * 4. The home container (Algorithm 2, "GreatestMemSocket"): where a domain's
 * shutdown, save and migration run, and its device model. node_index is the
 * node holding most of its memory. The CPUs are the dom0 CPUs pinned under
 * the pCPUs its vCPUs are on, within that node's secondary CPUs; when none
 * is, all of that node's secondary CPUs; when the node has none (main took
 * them all, or dom0 has no vCPU there), the nearest node that has some.
 * Never a main CPU, never empty. Returns 0 and *ret, *ret_node_index (the
 * node whose container it is), or -ENOSPC when dom0 has no CPU outside the
 * main container at all.
 */
int closer_policy_backend_cpus(const closer_view *v, const closer_domain *d, int node_index,
                               closer_cpuset *ret, int *ret_node_index);

/*
 * 4b. A domain's secondary containers (§3.3: "a virtual machine that runs on
 * the socket x is managed by the secondary container of this socket";
 * §3.3.2: VM-initiated I/O on "the processor which was used by the VCPU of
 * the virtual machine having initiated the operation", whatever its socket).
 * One leaf per node its vCPUs run on, with the secondary dom0 CPUs under its
 * vCPUs there (none: the node's secondary CPUs; the node has none: no leaf,
 * that node's queues are served at home), plus the home container of 4.
 * when it is on no such node (then it is the node's leaf). Writes the leaves
 * in node order into ret (room for CLOSER_NODES_MAX: never more, as there is
 * at most one per node), with domid, node, dom0_cpus and n_vcpus set and
 * dom0_reserve_kib zero; *ret_n and *ret_home (index of the home leaf in
 * ret). Returns 0, or -ENOSPC as 4.
 */
int closer_policy_domain_leaves(const closer_view *v, const closer_domain *d, int mem_node_index,
                                closer_plan_leaf *ret, unsigned *ret_n, unsigned *ret_home);

/*
 * 4c. The leaf a domain's backend queue is served in: the leaf of the node
 * its vCPU (queue mod n_vcpus) runs on, the home leaf when that vCPU is
 * offline or its node has no leaf, or when queue < 0 (work that is no one
 * queue's: the device model). Returns an index into leaves[0..n).
 */
unsigned closer_policy_queue_leaf(const closer_view *v, const closer_domain *d, const closer_plan_leaf *leaves,
                                  unsigned n, unsigned home, int queue);

/*
 * 4d. Algorithm 1 per container: eps to the leaf of each node the domain
 * runs on (a node without a leaf of its own gives its eps to the home leaf,
 * which serves its queues), the rest of reserve_kib (the I/O level's extra,
 * reserved by "the secondary container in charge of" the VM, Algorithm 1's
 * and 2's title: the home one) to the home leaf. When the floor cut
 * reserve_kib below n*eps, the first leaves get their eps first. The leaves'
 * dom0_reserve_kib add up to reserve_kib, always.
 */
void closer_policy_leaf_memory(const closer_config *c, unsigned n_sockets, uint64_t reserve_kib,
                               closer_plan_leaf *leaves, unsigned n, unsigned home);

/*
 * 5. IRQ choice. VM-initiated queue q -> the dom0 CPU under the domain's vCPU
 * (q mod nvcpus), wherever that vCPU runs, unless that CPU is a main one or
 * there is none; otherwise (and for external receive) the CPU of `backend`
 * (the plan passes the queue's leaf for the first, every leaf of the domain
 * for the second) with the fewest interrupts of this IRQ so far (ties: the (queue mod ties)-th,
 * spreading idle queues), but an IRQ stays on its current CPU (irq->cpu) while
 * that one has served at most 25 % (+64) more than the least. An IRQ is not
 * bound by the container's cpuset, so it can follow the vCPU across sockets.
 * Returns a dom0 CPU, never a main one.
 */
int closer_policy_irq_cpu(const closer_view *v, const closer_domain *d, const closer_cpuset *backend,
                          const closer_irq *irq, closer_irq_kind kind, int queue);

/* 6. Admin work of a domain: the dom0 CPU under its vCPU 0 when that is in
 * `backend` (the plan passes the home leaf's CPUs), else the lowest CPU of
 * `backend`. */
int closer_policy_admin_cpu(const closer_view *v, const closer_domain *d, const closer_cpuset *backend);

/*
 * 7. Memory (Algorithm 1). The I/O level with hysteresis: up as soon as the
 * rate reaches a threshold, down only when it falls below
 * threshold * (1 - hysteresis). Then the split of M: dom0 holds
 * n*eps + extra(level + 1) (reserved one level ahead, capped at the last
 * level) and the VM the rest, never below the floor; target + reserve == M.
 */
unsigned closer_policy_io_level(const closer_config *c, unsigned prev_level, double io_ops_per_s);

typedef struct closer_mem_split {
        unsigned io_level;
        uint64_t mem_target_kib;
        uint64_t dom0_reserve_kib;
} closer_mem_split;

void closer_policy_memory(const closer_config *c, uint64_t mem_kib, unsigned n_sockets,
                          unsigned prev_level, double io_ops_per_s, closer_mem_split *ret);

/*
 * Everything: main, secondaries, domains, thread and IRQ placement.
 * Returns 0 and *ret (caller frees with closer_plan_free), or -errno with err.
 */
int closer_plan_compute(const closer_snapshot *s, const closer_config *c,
                        closer_plan **ret, closer_error *err);
