/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy of thesis chapter 3, as pure functions over a snapshot.
 * Section references (§3.3.1, Algorithm 1, ...) are to the thesis: B. T.
 * Mvondo Djob, "Optimized Resource Allocation for the Privileged Domain in
 * Server Virtualization", Master of Engineering dissertation, University of
 * Yaoundé I, 2017 (full reference in README.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "closer/policy.h"
#include "basic/sort-util.h"

/* §3.2: the main container is static, sized per cloud framework (table 3.2),
 * and lives on one configured node. We take the lowest-numbered dom0 vCPUs
 * pinned on that node so the choice is stable across restarts. */
int closer_policy_main(const closer_snapshot *s, const closer_config *c,
                       closer_plan_main *ret, closer_error *err) {
        const closer_topology *topo = &s->topo;
        int ni = closer_topology_node_index(topo, c->main_node);
        if (ni < 0)
                return closer_error_set(err, -ENOENT, "main container: node %d is not a node of this host (%u nodes)",
                                        c->main_node, topo->n_nodes);

        uint64_t host_kib = 0;
        for (unsigned i = 0; i < topo->n_nodes; i++)
                host_kib += topo->nodes[i].mem_kib;

        unsigned want = closer_config_main_vcpus(c);
        closer_plan_main m = {.node = c->main_node, .vcpus = want,
                              .mem_kib = closer_config_main_mem_mib(c, host_kib / 1024) * 1024};
        closer_cpuset_zero(&m.dom0_cpus);

        /* dom0 vCPUs on the node, by ascending dom0 CPU id. */
        closer_cpuset on_node;
        closer_cpuset_zero(&on_node);
        for (unsigned i = 0; i < s->dom0.n_vcpus; i++)
                if (closer_topology_node_of_cpu(topo, s->dom0.vcpus[i].pcpu) == ni)
                        (void) closer_cpuset_set(&on_node, s->dom0.vcpus[i].id);
        unsigned have = 0;
        CLOSER_CPUSET_FOREACH(cpu, &on_node) {
                if (have == want)
                        break;
                (void) closer_cpuset_set(&m.dom0_cpus, (unsigned) cpu);
                have++;
        }
        if (have < want)
                return closer_error_set(err, -ENOSPC,
                                        "main container: needs %u dom0 vCPUs on node %d, only %u are pinned there",
                                        want, c->main_node, have);
        *ret = m;
        return 0;
}

int closer_view_init(closer_view *v, const closer_snapshot *s, const closer_plan_main *main_c) {
        v->snap = s;
        for (unsigned i = 0; i < CLOSER_CPUSET_MAX; i++)
                v->dom0_cpu_on_pcpu[i] = -1;
        for (unsigned i = 0; i < CLOSER_NODES_MAX; i++)
                closer_cpuset_zero(&v->dom0_cpus_on_node[i]);
        for (unsigned i = 0; i < s->dom0.n_vcpus; i++) {
                const closer_vcpu *vc = &s->dom0.vcpus[i];
                if (vc->pcpu < 0 || (unsigned) vc->pcpu >= CLOSER_CPUSET_MAX || vc->id >= CLOSER_CPUSET_MAX)
                        continue;
                int *slot = &v->dom0_cpu_on_pcpu[vc->pcpu];
                if (*slot < 0 || (int) vc->id < *slot)
                        *slot = (int) vc->id;
                int ni = closer_topology_node_of_cpu(&s->topo, vc->pcpu);
                if (ni >= 0)
                        (void) closer_cpuset_set(&v->dom0_cpus_on_node[ni], vc->id);
        }
        v->main_cpus = main_c->dom0_cpus;
        v->main_node_index = closer_topology_node_index(&s->topo, main_c->node);
        return v->main_node_index < 0 ? -EINVAL : 0;
}

static void secondary_cpus_of_node(const closer_view *v, int ni, closer_cpuset *ret) {
        closer_cpuset_andnot(ret, &v->dom0_cpus_on_node[ni], &v->main_cpus);
}

int closer_policy_domain_node(const closer_view *v, const closer_domain *d) {
        const closer_topology *topo = &v->snap->topo;
        unsigned vcpus_on[CLOSER_NODES_MAX] = {0};
        int best = -1;

        for (unsigned i = 0; i < d->n_vcpus; i++) {
                int ni = closer_topology_node_of_cpu(topo, d->vcpus[i].pcpu);
                if (ni >= 0)
                        vcpus_on[ni]++;
        }
        for (unsigned ni = 0; ni < topo->n_nodes; ni++) {
                if (best < 0) {
                        best = (int) ni;
                        continue;
                }
                uint64_t m = d->mem_kib_by_node[ni], bm = d->mem_kib_by_node[best];
                if (m != bm) {
                        if (m > bm)
                                best = (int) ni;
                        continue;
                }
                if (vcpus_on[ni] != vcpus_on[best]) {
                        if (vcpus_on[ni] > vcpus_on[best])
                                best = (int) ni;
                        continue;
                }
                if (topo->nodes[ni].id < topo->nodes[best].id)
                        best = (int) ni;
        }
        return best;
}

unsigned closer_policy_domain_sockets(const closer_view *v, const closer_domain *d) {
        bool seen[CLOSER_NODES_MAX] = {false};
        unsigned n = 0;
        for (unsigned i = 0; i < d->n_vcpus; i++) {
                int ni = closer_topology_node_of_cpu(&v->snap->topo, d->vcpus[i].pcpu);
                if (ni >= 0 && !seen[ni]) {
                        seen[ni] = true;
                        n++;
                }
        }
        return n ? n : 1;
}

/* §3.3.2: "this VCPU will in turn [be scheduled] on the processor which was
 * used by the VCPU of the virtual machine having initiated the operation". */
int closer_policy_backend_cpus(const closer_view *v, const closer_domain *d, int node_index,
                               closer_cpuset *ret, int *ret_node_index) {
        const closer_topology *topo = &v->snap->topo;
        closer_cpuset set, node_sec;
        int chosen = node_index;

        closer_cpuset_zero(&set);
        closer_cpuset_zero(&node_sec);
        if (node_index >= 0 && (unsigned) node_index < topo->n_nodes) {
                secondary_cpus_of_node(v, node_index, &node_sec);
                for (unsigned i = 0; i < d->n_vcpus; i++) {
                        int pcpu = d->vcpus[i].pcpu;
                        if (pcpu < 0 || (unsigned) pcpu >= CLOSER_CPUSET_MAX)
                                continue;
                        int c = v->dom0_cpu_on_pcpu[pcpu];
                        if (c >= 0 && closer_cpuset_test(&node_sec, (unsigned) c))
                                (void) closer_cpuset_set(&set, (unsigned) c);
                }
                if (closer_cpuset_is_empty(&set))
                        set = node_sec;
        }
        if (closer_cpuset_is_empty(&set)) {
                /* No dom0 vCPU outside main on its node: the nearest node that has
                 * one (ties: lowest node id). Remote, but never the main container. */
                chosen = -1;
                for (unsigned ni = 0; ni < topo->n_nodes; ni++) {
                        closer_cpuset cand;
                        secondary_cpus_of_node(v, (int) ni, &cand);
                        if (closer_cpuset_is_empty(&cand))
                                continue;
                        if (chosen < 0) {
                                chosen = (int) ni;
                                continue;
                        }
                        if (node_index < 0 || (unsigned) node_index >= topo->n_nodes)
                                continue;       /* no reference node: lowest index wins */
                        unsigned dn = topo->nodes[node_index].distances[ni];
                        unsigned db = topo->nodes[node_index].distances[chosen];
                        if (dn < db || (dn == db && topo->nodes[ni].id < topo->nodes[chosen].id))
                                chosen = (int) ni;
                }
                if (chosen < 0)
                        return -ENOSPC;
                secondary_cpus_of_node(v, chosen, &set);
        }
        *ret = set;
        *ret_node_index = chosen;
        return 0;
}

/* §3.3 and §3.3.2 together: a VM spanning sockets is served by the container
 * of each socket it runs on, each queue under the vCPU that uses it. */
int closer_policy_domain_leaves(const closer_view *v, const closer_domain *d, int mem_node_index,
                                closer_plan_leaf *ret, unsigned *ret_n, unsigned *ret_home) {
        const closer_topology *topo = &v->snap->topo;
        bool runs[CLOSER_NODES_MAX] = {false};
        unsigned vcpus_on[CLOSER_NODES_MAX] = {0};
        closer_cpuset under[CLOSER_NODES_MAX];
        closer_cpuset home_cpus;
        int home_ni;
        unsigned n = 0;
        int home = -1;

        if (closer_policy_backend_cpus(v, d, mem_node_index, &home_cpus, &home_ni) < 0)
                return -ENOSPC;
        for (unsigned ni = 0; ni < topo->n_nodes; ni++)
                closer_cpuset_zero(&under[ni]);
        for (unsigned i = 0; i < d->n_vcpus; i++) {
                int pcpu = d->vcpus[i].pcpu;
                int ni = closer_topology_node_of_cpu(topo, pcpu);
                if (ni < 0)
                        continue;
                runs[ni] = true;
                vcpus_on[ni]++;
                int c = v->dom0_cpu_on_pcpu[pcpu];
                if (c >= 0 && !closer_cpuset_test(&v->main_cpus, (unsigned) c))
                        (void) closer_cpuset_set(&under[ni], (unsigned) c);
        }
        for (unsigned ni = 0; ni < topo->n_nodes; ni++) {
                closer_cpuset cpus;
                if (runs[ni]) {
                        cpus = under[ni];
                        if (closer_cpuset_is_empty(&cpus))
                                secondary_cpus_of_node(v, (int) ni, &cpus);
                        /* The node's secondary CPUs are those pinned there
                         * minus main: an empty set here means none at all,
                         * and the home leaf below takes its queues. */
                } else
                        closer_cpuset_zero(&cpus);
                if ((int) ni == home_ni) {
                        /* Home on a node it runs on: that node's leaf (the
                         * same CPUs as home_cpus unless home is a fallback
                         * node, where the CPUs under its vCPUs are nearer). */
                        if (closer_cpuset_is_empty(&cpus))
                                cpus = home_cpus;
                        home = (int) n;
                } else if (closer_cpuset_is_empty(&cpus))
                        continue;
                ret[n] = (closer_plan_leaf) {.domid = d->domid, .node = topo->nodes[ni].id, .dom0_cpus = cpus,
                                             .n_vcpus = vcpus_on[ni]};
                n++;
        }
        *ret_n = n;
        *ret_home = (unsigned) home;
        return 0;
}

unsigned closer_policy_queue_leaf(const closer_view *v, const closer_domain *d, const closer_plan_leaf *leaves,
                                  unsigned n, unsigned home, int queue) {
        if (queue < 0 || d->n_vcpus == 0)
                return home;
        int ni = closer_topology_node_of_cpu(&v->snap->topo, d->vcpus[(unsigned) queue % d->n_vcpus].pcpu);
        if (ni < 0)
                return home;
        int id = v->snap->topo.nodes[ni].id;
        for (unsigned i = 0; i < n; i++)
                if (leaves[i].node == id && leaves[i].n_vcpus > 0)
                        return i;
        return home;
}

void closer_policy_leaf_memory(const closer_config *c, unsigned n_sockets, uint64_t reserve_kib,
                               closer_plan_leaf *leaves, unsigned n, unsigned home) {
        uint64_t eps_kib = c->eps_mib * 1024, left = reserve_kib;
        unsigned units[CLOSER_NODES_MAX], counted = 0;

        if (n == 0)
                return;
        for (unsigned i = 0; i < n; i++) {
                units[i] = leaves[i].n_vcpus > 0 ? 1u : 0u;
                counted += units[i];
        }
        /* nodes it runs on without a leaf of their own: served at home */
        if (n_sockets > counted)
                units[home] += n_sockets - counted;
        for (unsigned i = 0; i < n; i++) {
                uint64_t want = units[i] * eps_kib;
                leaves[i].dom0_reserve_kib = want < left ? want : left;
                left -= leaves[i].dom0_reserve_kib;
        }
        leaves[home].dom0_reserve_kib += left;
}

static int dom0_cpu_under_vcpu(const closer_view *v, const closer_domain *d, unsigned idx) {
        if (idx >= d->n_vcpus)
                return -1;
        int pcpu = d->vcpus[idx].pcpu;
        if (pcpu < 0 || (unsigned) pcpu >= CLOSER_CPUSET_MAX)
                return -1;
        return v->dom0_cpu_on_pcpu[pcpu];
}

/* The backend CPU that has served this IRQ least. Among equals, the queue
 * index picks (queue mod number of equals), so the receive queues of an idle
 * multi-queue vif spread over the VM's CPUs instead of piling on the lowest. */
static int least_counted(const closer_cpuset *backend, const closer_irq *irq, int queue) {
        uint64_t best_n = UINT64_MAX;
        unsigned ties = 0;

        CLOSER_CPUSET_FOREACH(cpu, backend) {
                uint64_t n = irq && (unsigned) cpu < irq->n_counts ? irq->per_cpu_counts[cpu] : 0;
                if (n < best_n) {
                        best_n = n;
                        ties = 1;
                } else if (n == best_n)
                        ties++;
        }
        if (ties == 0)
                return -1;
        /* Stay where it is unless that CPU has clearly served more (25 %
         * over the least, plus a margin for idle IRQs): moving an IRQ on
         * every small difference would churn. */
        if (irq && irq->cpu >= 0 && closer_cpuset_test(backend, (unsigned) irq->cpu)) {
                uint64_t cur = (unsigned) irq->cpu < irq->n_counts ? irq->per_cpu_counts[irq->cpu] : 0;
                if (cur <= best_n + best_n / 4 + 64)
                        return irq->cpu;
        }
        unsigned pick = queue < 0 ? 0u : (unsigned) queue % ties;
        CLOSER_CPUSET_FOREACH(cpu, backend) {
                uint64_t n = irq && (unsigned) cpu < irq->n_counts ? irq->per_cpu_counts[cpu] : 0;
                if (n == best_n && pick-- == 0)
                        return cpu;
        }
        return -1;
}

/* §3.3.2: VM-initiated I/O goes to the dom0 vCPU under the initiating vCPU
 * (queue q is served by vCPU q mod n, as Linux frontends bind queue q to
 * vCPU q); external receive goes to the secondary vCPU "that contributed the
 * least". */
int closer_policy_irq_cpu(const closer_view *v, const closer_domain *d, const closer_cpuset *backend,
                          const closer_irq *irq, closer_irq_kind kind, int queue) {
        if (kind != CLOSER_IRQ_EXTERNAL && d->n_vcpus > 0) {
                unsigned q = queue < 0 ? 0u : (unsigned) queue % d->n_vcpus;
                int c = dom0_cpu_under_vcpu(v, d, q);
                if (c >= 0 && !closer_cpuset_test(&v->main_cpus, (unsigned) c))
                        return c;
        }
        return least_counted(backend, irq, queue);
}

/* Algorithm 2: the admin task runs on the dom0 vCPU pinned under the VM's
 * vCPU, in the container of the socket holding most of its memory. */
int closer_policy_admin_cpu(const closer_view *v, const closer_domain *d, const closer_cpuset *backend) {
        int c = dom0_cpu_under_vcpu(v, d, 0);
        if (c >= 0 && closer_cpuset_test(backend, (unsigned) c))
                return c;
        return closer_cpuset_first(backend);
}

/* Algorithm 1, the "VMIOIncreasing / VMIODecreasing" tests: a level is
 * entered as soon as its threshold is reached and left only when the rate
 * falls hysteresis_pct below it, so a rate hovering at a threshold does not
 * move memory back and forth every tick. */
unsigned closer_policy_io_level(const closer_config *c, unsigned prev_level, double io_ops_per_s) {
        unsigned last = c->n_levels ? c->n_levels - 1 : 0;
        unsigned up = 0, level;

        if (prev_level > last)
                prev_level = last;
        for (unsigned l = 0; l <= last && l < c->n_levels; l++)
                if (io_ops_per_s >= c->levels[l].min_ops_per_s)
                        up = l;
        if (up >= prev_level)
                return up;
        level = prev_level;
        double keep = 1.0 - (double) c->hysteresis_pct / 100.0;
        while (level > 0 && io_ops_per_s < c->levels[level].min_ops_per_s * keep)
                level--;
        return level;
}

/* Algorithm 1: the VM starts with M - n*eps; from level 1 on, dom0 holds the
 * memory of the next level already ("the memory is always requested in
 * advance for each level passed"); a VM is never ballooned below the floor.
 * Whatever dom0 holds is exactly what the VM gave: target + reserve == M. */
void closer_policy_memory(const closer_config *c, uint64_t mem_kib, unsigned n_sockets,
                          unsigned prev_level, double io_ops_per_s, closer_mem_split *ret) {
        unsigned level = closer_policy_io_level(c, prev_level, io_ops_per_s);
        unsigned last = c->n_levels ? c->n_levels - 1 : 0;
        uint64_t extra_mib = 0;

        if (c->n_levels) {
                unsigned ahead = level == 0 ? 0 : (level + 1 > last ? last : level + 1);
                extra_mib = c->levels[ahead].extra_mib;
        }
        uint64_t reserve = ((uint64_t) n_sockets * c->eps_mib + extra_mib) * 1024;
        uint64_t floor_kib = c->floor_mib * 1024;

        if (mem_kib <= floor_kib)
                reserve = 0;
        else if (reserve > mem_kib - floor_kib)
                reserve = mem_kib - floor_kib;
        ret->io_level = level;
        ret->dom0_reserve_kib = reserve;
        ret->mem_target_kib = mem_kib - reserve;
}

unsigned closer_policy_secondary(const closer_view *v, const bool *also_nodes, closer_plan_secondary *ret) {
        const closer_snapshot *s = v->snap;
        bool hosts[CLOSER_NODES_MAX] = {false};
        unsigned n = 0;

        for (unsigned i = 0; i < s->n_domains; i++)
                for (unsigned j = 0; j < s->domains[i].n_vcpus; j++) {
                        int ni = closer_topology_node_of_cpu(&s->topo, s->domains[i].vcpus[j].pcpu);
                        if (ni >= 0)
                                hosts[ni] = true;
                }
        for (unsigned ni = 0; ni < s->topo.n_nodes; ni++) {
                if (!hosts[ni] && !(also_nodes && also_nodes[ni]))
                        continue;
                ret[n].node = s->topo.nodes[ni].id;
                secondary_cpus_of_node(v, (int) ni, &ret[n].dom0_cpus);
                n++;
        }
        return n;
}

typedef struct domid_slot {
        int domid;
        unsigned idx;
} domid_slot;

static int cmp_domid_slot(const void *a, const void *b) {
        const domid_slot *x = a, *y = b;
        return (x->domid > y->domid) - (x->domid < y->domid);
}

static closer_plan_domain *lookup_domain(closer_plan *p, const domid_slot *ix, int domid) {
        domid_slot key = {.domid = domid};
        const domid_slot *hit = bsearch(&key, ix, p->n_domains, sizeof(*ix), cmp_domid_slot);
        return hit ? &p->domains[hit->idx] : NULL;
}

/* pCPUs the domain's vCPUs run on, as a cpulist (for `why`). */
static void vcpu_pcpus(const closer_domain *d, char *buf, size_t len) {
        closer_cpuset set;
        closer_cpuset_zero(&set);
        for (unsigned i = 0; i < d->n_vcpus; i++)
                if (d->vcpus[i].pcpu >= 0)
                        (void) closer_cpuset_set(&set, (unsigned) d->vcpus[i].pcpu);
        if (closer_cpuset_is_empty(&set))
                snprintf(buf, len, "none (not running)");
        else if (closer_cpuset_format(&set, buf, len) < 0)
                snprintf(buf, len, "many");
}

static int plan_domains(closer_plan *p, const closer_view *v, const closer_config *c,
                        bool *also_nodes, closer_error *err) {
        const closer_snapshot *s = v->snap;

        p->n_leaves = 0;
        for (unsigned i = 0; i < s->n_domains; i++) {
                const closer_domain *d = &s->domains[i];
                closer_plan_domain *pd = &p->domains[i];
                int mem_ni = closer_policy_domain_node(v, d);
                closer_plan_leaf *leaves = &p->leaves[p->n_leaves];
                unsigned n_leaves, home;
                closer_mem_split split;

                if (closer_policy_domain_leaves(v, d, mem_ni, leaves, &n_leaves, &home) < 0)
                        return closer_error_set(err, -ENOSPC,
                                                "domain %d: dom0 has no vCPU outside the main container to serve it",
                                                d->domid);
                pd->domid = d->domid;
                pd->first_leaf = p->n_leaves;
                pd->n_leaves = n_leaves;
                pd->home_leaf = p->n_leaves + home;
                p->n_leaves += n_leaves;
                pd->node = leaves[home].node;
                int serve_ni = closer_topology_node_index(&s->topo, pd->node);
                closer_cpuset_zero(&pd->backend_dom0_cpus);
                for (unsigned k = 0; k < n_leaves; k++) {
                        closer_cpuset_or(&pd->backend_dom0_cpus, &pd->backend_dom0_cpus, &leaves[k].dom0_cpus);
                        also_nodes[closer_topology_node_index(&s->topo, leaves[k].node)] = true;
                }
                pd->n_sockets = closer_policy_domain_sockets(v, d);
                pd->admin_dom0_cpu = closer_policy_admin_cpu(v, d, &leaves[home].dom0_cpus);
                closer_cpuset_zero(&pd->admin_dom0_cpus);
                (void) closer_cpuset_set(&pd->admin_dom0_cpus, (unsigned) pd->admin_dom0_cpu);
                closer_policy_memory(c, d->mem_kib, pd->n_sockets, d->io_level, d->io_ops_per_s, &split);
                pd->io_level = split.io_level;
                pd->mem_target_kib = split.mem_target_kib;
                pd->dom0_reserve_kib = split.dom0_reserve_kib;
                closer_policy_leaf_memory(c, pd->n_sockets, pd->dom0_reserve_kib, leaves, n_leaves, home);

                vcpu_pcpus(d, pd->vcpu_pcpus, sizeof(pd->vcpu_pcpus));
                if (serve_ni == mem_ni && pd->n_sockets > 1)
                        snprintf(pd->why, sizeof(pd->why),
                                 "runs on %u nodes (vCPUs on pCPUs %s): a container in each; node %d holds %llu of "
                                 "its %llu KiB; I/O %.0f ops/s -> level %u",
                                 pd->n_sockets, pd->vcpu_pcpus, pd->node, (unsigned long long) d->mem_kib_by_node[mem_ni],
                                 (unsigned long long) d->mem_kib, d->io_ops_per_s, pd->io_level);
                else if (serve_ni == mem_ni)
                        snprintf(pd->why, sizeof(pd->why),
                                 "node %d holds %llu of its %llu KiB; vCPUs on pCPUs %s; I/O %.0f ops/s -> level %u",
                                 pd->node, (unsigned long long) d->mem_kib_by_node[mem_ni],
                                 (unsigned long long) d->mem_kib, pd->vcpu_pcpus, d->io_ops_per_s, pd->io_level);
                else
                        snprintf(pd->why, sizeof(pd->why),
                                 "memory on node %d, which has no secondary dom0 CPU: admin work on nearest node %d; "
                                 "I/O %.0f ops/s -> level %u",
                                 s->topo.nodes[mem_ni].id, pd->node, d->io_ops_per_s, pd->io_level);
        }
        return 0;
}

static void plan_threads(closer_plan *p, const closer_view *v, const domid_slot *ix) {
        const closer_snapshot *s = v->snap;

        for (unsigned i = 0; i < s->n_threads; i++) {
                const closer_thread *t = &s->threads[i];
                closer_plan_thread *pt = &p->threads[i];
                closer_classification cl;

                closer_classify_thread(s, t, &cl);
                pt->tid = t->tid;
                pt->pid = t->pid;
                pt->cls = cl.cls;
                pt->domid = CLOSER_DOMID_NONE;
                pt->node = -1;
                pt->domain_index = -1;
                pt->leaf_index = -1;
                pt->queue = -1;
                pt->vcpu = -1;
                pt->admin = cl.admin_for_domain;
                pt->dom0_cpus = &p->main.dom0_cpus;
                memcpy(pt->what, cl.what, sizeof(pt->what));
                pt->what[sizeof(pt->what) - 1] = '\0';
                if (cl.domid > 0 && (cl.cls == CLOSER_T3 || cl.admin_for_domain))
                        pt->domid = cl.domid;   /* kept even when not running: `why` says so */

                closer_plan_domain *pd = pt->domid > 0 ? lookup_domain(p, ix, pt->domid) : NULL;
                if (!pd)
                        continue;
                const closer_domain *d = &s->domains[pd - p->domains];
                unsigned leaf = pd->home_leaf;
                /* Admin work and the device model at home (Algorithm 2; a
                 * QEMU is one process, so one cgroup: docs/model.md); a
                 * queue's thread on the socket of the vCPU using the queue. */
                if (!pt->admin) {
                        pt->queue = cl.queue;
                        leaf = pd->first_leaf + closer_policy_queue_leaf(v, d, &p->leaves[pd->first_leaf],
                                                                         pd->n_leaves, pd->home_leaf - pd->first_leaf,
                                                                         cl.queue);
                        if (cl.queue >= 0 && d->n_vcpus > 0) {
                                unsigned vi = (unsigned) cl.queue % d->n_vcpus;
                                int ni = closer_topology_node_of_cpu(&s->topo, d->vcpus[vi].pcpu);
                                if (ni >= 0 && s->topo.nodes[ni].id == p->leaves[leaf].node)
                                        pt->vcpu = (int) vi;
                        }
                }
                pt->node = p->leaves[leaf].node;
                pt->domain_index = (int) (pd - p->domains);
                pt->leaf_index = (int) leaf;
                pt->dom0_cpus = pt->admin ? &pd->admin_dom0_cpus : &p->leaves[leaf].dom0_cpus;
        }
        p->n_threads = s->n_threads;
}

static void plan_irqs(closer_plan *p, const closer_view *v, const domid_slot *ix) {
        const closer_snapshot *s = v->snap;

        p->n_irqs = 0;
        for (unsigned i = 0; i < s->n_irqs; i++) {
                const closer_irq *irq = &s->irqs[i];
                closer_irq_class ic;

                closer_classify_irq(irq, &ic);
                if (ic.domid <= 0)
                        continue;
                closer_plan_domain *pd = lookup_domain(p, ix, ic.domid);
                if (!pd)
                        continue;
                const closer_domain *d = &s->domains[pd - p->domains];
                closer_plan_irq *pi = &p->irqs[p->n_irqs++];
                pi->irq = irq->irq;
                pi->domid = ic.domid;
                pi->queue = ic.queue;
                pi->kind = ic.kind;
                /* External receive: among every CPU of the domain, all its
                 * sockets; a VM-initiated queue stays on its vCPU's socket. */
                const closer_cpuset *among = &pd->backend_dom0_cpus;
                if (ic.kind != CLOSER_IRQ_EXTERNAL)
                        among = &p->leaves[pd->first_leaf +
                                           closer_policy_queue_leaf(v, d, &p->leaves[pd->first_leaf], pd->n_leaves,
                                                                    pd->home_leaf - pd->first_leaf,
                                                                    ic.queue < 0 ? 0 : ic.queue)]
                                          .dom0_cpus;
                pi->dom0_cpu = closer_policy_irq_cpu(v, d, among, irq, ic.kind, ic.queue);
                if (ic.kind == CLOSER_IRQ_EXTERNAL) {
                        uint64_t n = (unsigned) pi->dom0_cpu < irq->n_counts ? irq->per_cpu_counts[pi->dom0_cpu] : 0;
                        snprintf(pi->why, sizeof(pi->why),
                                 "%s: external receive -> least-used backend CPU %d (%llu interrupts so far)",
                                 ic.what, pi->dom0_cpu, (unsigned long long) n);
                } else {
                        unsigned q = ic.queue < 0 ? 0u : (unsigned) ic.queue;
                        unsigned vi = d->n_vcpus ? q % d->n_vcpus : 0;
                        int pcpu = d->n_vcpus ? d->vcpus[vi].pcpu : -1;
                        if (pcpu >= 0 && v->dom0_cpu_on_pcpu[pcpu] == pi->dom0_cpu)
                                snprintf(pi->why, sizeof(pi->why),
                                         "%s: VM-initiated queue %u -> vCPU %u on pCPU %d -> dom0 CPU %d",
                                         ic.what, q, vi, pcpu, pi->dom0_cpu);
                        else
                                snprintf(pi->why, sizeof(pi->why),
                                         "%s: VM-initiated queue %u, no secondary dom0 CPU under vCPU %u -> "
                                         "least-used backend CPU %d on its socket",
                                         ic.what, q, vi, pi->dom0_cpu);
                }
        }
}

int closer_plan_compute(const closer_snapshot *s, const closer_config *c,
                        closer_plan **ret, closer_error *err) {
        closer_plan *p = calloc(1, sizeof(*p));
        closer_view *v = malloc(sizeof(*v));
        domid_slot *ix = NULL;
        bool also_nodes[CLOSER_NODES_MAX] = {false};
        int r = -ENOMEM;

        if (!p || !v)
                goto fail;
        p->time_ns = s->time_ns;
        r = closer_policy_main(s, c, &p->main, err);
        if (r < 0)
                goto fail;
        r = closer_view_init(v, s, &p->main);
        if (r < 0)
                goto fail;

        r = -ENOMEM;
        p->domains = calloc(s->n_domains ? s->n_domains : 1, sizeof(*p->domains));
        ix = calloc(s->n_domains ? s->n_domains : 1, sizeof(*ix));
        p->secondary = calloc(CLOSER_NODES_MAX, sizeof(*p->secondary));
        p->threads = calloc(s->n_threads ? s->n_threads : 1, sizeof(*p->threads));
        p->irqs = calloc(s->n_irqs ? s->n_irqs : 1, sizeof(*p->irqs));
        /* at most one leaf per node a domain runs on, plus its home */
        size_t max_leaves = 1;
        for (unsigned i = 0; i < s->n_domains; i++)
                max_leaves += (s->domains[i].n_vcpus < s->topo.n_nodes ? s->domains[i].n_vcpus : s->topo.n_nodes) + 1;
        p->leaves = calloc(max_leaves, sizeof(*p->leaves));
        if (!p->domains || !ix || !p->secondary || !p->threads || !p->irqs || !p->leaves)
                goto fail;
        p->n_domains = s->n_domains;

        r = plan_domains(p, v, c, also_nodes, err);
        if (r < 0)
                goto fail;
        p->n_secondary = closer_policy_secondary(v, also_nodes, p->secondary);

        for (unsigned i = 0; i < s->n_domains; i++)
                ix[i] = (domid_slot) {.domid = s->domains[i].domid, .idx = i};
        closer_qsort_safe(ix, s->n_domains, sizeof(*ix), cmp_domid_slot);

        plan_threads(p, v, ix);
        plan_irqs(p, v, ix);

        free(ix);
        free(v);
        *ret = p;
        return 0;
fail:
        if (r == -ENOMEM)
                closer_error_set(err, r, "out of memory while planning");
        free(ix);
        free(v);
        closer_plan_free(p);
        return r;
}
