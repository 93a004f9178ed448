/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where dom0's work runs, per policy.
 *
 * native: stock Xen as the thesis measured it: dom0 has a few vCPUs pinned
 *   on one socket, and Linux runs every dom0 thread on any of them.
 * closer: dom0 has one vCPU pinned on every pCPU; a snapshot of the model
 *   goes through closer_plan_compute() -- the very core closerd runs -- and
 *   the plan's affinities, main container and memory targets are applied.
 *   Re-planned every closer.replan_s and whenever a thread appears.
 * oracle: the bound: one dom0 vCPU per pCPU, and the work done for a VM
 *   runs on the node holding that VM's memory, in one of two places: beside
 *   the VM (the least loaded dom0 vCPU of the node outside main, each tick)
 *   or under it (the dom0 vCPU on the pCPU of the VM's own vCPU). Which one
 *   is best depends on the work and the metric -- under slows the VM, which
 *   shortens a link-bound migration and halves the CPU of a CPU-bound one --
 *   so the engine runs each placement (e->placement) and keeps, per metric,
 *   the best (closer_sim_run()). Main work stays on the main CPUs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "closer/config.h"
#include "closer/plan.h"
#include "closer/policy.h"
#include "closer/snapshot.h"
#include "sim/sim-engine.h"

static void set_main_native(closer_sim_engine *e) {
        const closer_sim_config *c = e->cfg;
        unsigned per = (unsigned) c->host_cpus_per_socket;
        unsigned first = (unsigned) c->native_node * per;
        e->n_main = 0;
        for (unsigned i = 0; i < (unsigned) c->native_vcpus && i < CLOSER_SIM_AFF_MAX; i++)
                e->main_vcpus[e->n_main++] = (int) (e->policy == CLOSER_SIM_NATIVE ? i : first + i);
}

int closer_sim_dom0_setup(closer_sim_engine *e, closer_error *err) {
        const closer_sim_config *c = e->cfg;
        unsigned per = (unsigned) c->host_cpus_per_socket;
        if (e->policy == CLOSER_SIM_NATIVE) {
                unsigned first = (unsigned) c->native_node * per;
                for (unsigned i = 0; i < (unsigned) c->native_vcpus; i++) {
                        int r = closer_sim_engine_add_vcpu(e, 0, (int) (first + i), c->sched_dom0_weight);
                        if (r < 0)
                                return r;
                }
        } else {
                /* dom0_max_vcpus=<all> dom0_vcpus_pin: dom0 vCPU i on pCPU i */
                for (unsigned p = 0; p < e->n_pcpus; p++) {
                        int r = closer_sim_engine_add_vcpu(e, 0, (int) p, c->sched_dom0_weight);
                        if (r < 0)
                                return r;
                }
        }
        e->n_dom0 = e->n_vcpus;
        set_main_native(e);
        e->dom0_mem_kib = c->native_mem_gib * 1024 * 1024;
        (void) err;
        return 0;
}

static void aff_main(closer_sim_engine *e, closer_sim_thread *t) {
        t->n_aff = e->n_main;
        memcpy(t->aff, e->main_vcpus, e->n_main * sizeof(int));
}

static void place_native(closer_sim_engine *e) {
        for (unsigned i = 0; i < e->n_threads; i++) {
                closer_sim_thread *t = &e->threads[i];
                t->n_aff = 0;
                for (unsigned v = 0; v < e->n_dom0 && v < CLOSER_SIM_AFF_MAX; v++)
                        t->aff[t->n_aff++] = (int) v;
        }
}

static bool is_main(const closer_sim_engine *e, int v) {
        for (unsigned i = 0; i < e->n_main; i++)
                if (e->main_vcpus[i] == v)
                        return true;
        return false;
}

/* The oracle holds in dom0 what the thesis' memory algorithm asks for (the
 * core's closer_policy_memory(), the same arithmetic closer uses): it only
 * differs from closer in where CPU work runs. */
static void oracle_memory(closer_sim_engine *e) {
        const closer_sim_config *c = e->cfg;
        closer_config cc;
        closer_config_defaults(&cc);
        double kib = c->native_mem_gib * 1024 * 1024;
        for (unsigned i = 0; i < e->n_doms;) {
                /* one VM: its parts (one per socket it spans) together */
                closer_sim_dom *d = &e->doms[i];
                double mem = 0, ops = 0;
                unsigned n = 0;
                for (; i < e->n_doms && e->doms[i].domid == d->domid; i++, n++) {
                        mem += e->doms[i].mem_kib;
                        ops += e->doms[i].ops_rate;
                }
                closer_mem_split split;
                closer_policy_memory(&cc, (uint64_t) mem, n, d->io_level, ops, &split);
                d->io_level = split.io_level;
                d->mem_target_kib = (double) split.mem_target_kib;
                d->dom0_reserve_kib = (double) split.dom0_reserve_kib;
                kib += d->dom0_reserve_kib;
        }
        e->dom0_mem_kib = kib;
}

/* The dom0 vCPU under the VM a thread works for, or -1 (the thread works
 * for no VM with a vCPU yet, e.g. the creation of one). Under the oracle dom0
 * vCPU v is pinned on pCPU v. */
static int vcpu_under(const closer_sim_engine *e, unsigned i) {
        const closer_sim_thread *t = &e->threads[i];
        int first = -1;
        for (unsigned k = 0; t->domid > 0 && k < e->n_doms; k++) {
                if (e->doms[k].domid != t->domid)
                        continue;
                if (first < 0)
                        first = (int) k;        /* admin work: under vCPU 0 */
                if (e->doms[k].thread == (int) i) {
                        first = (int) k;        /* a queue's backend: under its vCPU */
                        break;
                }
        }
        if (first < 0)
                return -1;
        int p = e->vcpus[e->doms[first].vcpu].pcpu;
        return (unsigned) p < e->n_dom0 && !is_main(e, p) ? p : -1;
}

static bool is_backend(const closer_sim_engine *e, unsigned i) {
        for (unsigned k = 0; k < e->n_doms; k++)
                if (e->doms[k].thread == (int) i)
                        return true;
        return false;
}

static void place_oracle(closer_sim_engine *e) {
        oracle_memory(e);
        for (unsigned i = 0; i < e->n_threads; i++) {
                closer_sim_thread *t = &e->threads[i];
                if (t->data_node < 0) {
                        aff_main(e, t);
                        continue;
                }
                unsigned bit = is_backend(e, i) ? CLOSER_SIM_UNDER_BACKENDS : CLOSER_SIM_UNDER_ADMIN;
                int under = (e->placement & bit) ? vcpu_under(e, i) : -1;
                if (under >= 0) {
                        t->n_aff = 1;
                        t->aff[0] = under;
                        continue;
                }
                t->n_aff = 0;
                for (unsigned v = 0; v < e->n_dom0 && t->n_aff < CLOSER_SIM_AFF_MAX; v++)
                        if (e->pcpu_node[e->vcpus[v].pcpu] == t->data_node && !is_main(e, (int) v))
                                t->aff[t->n_aff++] = (int) v;
                if (t->n_aff == 0)
                        aff_main(e, t);
        }
}

/* ---- closer: the model as a closer-snapshot/1, through the core ---------- */

void closer_sim_dom0_snapshot_free(closer_snapshot *s) {
        if (!s)
                return;
        free(s->dom0.vcpus);
        for (unsigned i = 0; i < s->n_domains; i++)
                free(s->domains[i].vcpus);
        free(s->domains);
        for (unsigned i = 0; i < s->n_threads; i++) {
                for (unsigned a = 0; a < s->threads[i].n_cmdline; a++)
                        free(s->threads[i].cmdline[a]);
                free(s->threads[i].cmdline);
        }
        free(s->threads);
        free(s);
}

/* Build what closerd would observe on this host now. */
int closer_sim_dom0_snapshot(const closer_sim_engine *e, closer_snapshot **ret) {
        const closer_sim_config *c = e->cfg;
        closer_snapshot *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->time_ns = (uint64_t) e->now_ns;
        closer_topology *topo = &s->topo;
        topo->n_nodes = e->n_nodes;
        for (unsigned i = 0; i < CLOSER_CPUSET_MAX; i++)
                topo->cpu_node[i] = -1;
        uint64_t node_kib = (uint64_t) (c->host_mem_gib * 1024 * 1024) / e->n_nodes;
        for (unsigned n = 0; n < e->n_nodes; n++) {
                closer_node *nd = &topo->nodes[n];
                nd->id = (int) n;
                closer_cpuset_zero(&nd->cpus);
                nd->mem_kib = node_kib;
                nd->free_kib = node_kib;
                for (unsigned m = 0; m < e->n_nodes; m++)
                        nd->distances[m] = m == n ? 10 : 21;    /* typical ACPI SLIT of a Xeon host */
        }
        for (unsigned p = 0; p < e->n_pcpus; p++) {
                (void) closer_cpuset_set(&topo->nodes[e->pcpu_node[p]].cpus, p);
                topo->cpu_node[p] = (int16_t) e->pcpu_node[p];
        }

        s->dom0.n_vcpus = e->n_dom0;
        s->dom0.vcpus = calloc(e->n_dom0, sizeof(closer_vcpu));
        s->dom0.mem_kib = (uint64_t) (c->native_mem_gib * 1024 * 1024);
        s->domains = calloc(e->n_doms ? e->n_doms : 1, sizeof(closer_domain));
        s->threads = calloc(e->n_threads ? e->n_threads : 1, sizeof(closer_thread));
        if (!s->dom0.vcpus || !s->domains || !s->threads)
                goto oom;
        for (unsigned v = 0; v < e->n_dom0; v++) {
                closer_vcpu *vc = &s->dom0.vcpus[v];
                vc->id = v;
                vc->pcpu = e->vcpus[v].pcpu;
                vc->has_affinity = true;
                closer_cpuset_zero(&vc->affinity);
                (void) closer_cpuset_set(&vc->affinity, (unsigned) vc->pcpu);
        }
        if (topo->nodes[(unsigned) c->native_node].free_kib > s->dom0.mem_kib)
                topo->nodes[(unsigned) c->native_node].free_kib -= s->dom0.mem_kib;

        for (unsigned i = 0; i < e->n_doms;) {
                const closer_sim_dom *d = &e->doms[i];
                closer_domain *cd = &s->domains[s->n_domains];
                unsigned n = 0;
                while (i + n < e->n_doms && e->doms[i + n].domid == d->domid)
                        n++;            /* its parts: one vCPU each */
                cd->domid = d->domid;
                snprintf(cd->name, sizeof(cd->name), "%s", d->name);
                cd->n_vcpus = n;
                cd->vcpus = calloc(n, sizeof(closer_vcpu));
                if (!cd->vcpus)
                        goto oom;
                s->n_domains++;
                cd->io_level = d->io_level;
                for (unsigned j = 0; j < n; j++, i++) {
                        const closer_sim_dom *part = &e->doms[i];
                        closer_vcpu *vc = &cd->vcpus[j];
                        cd->mem_kib += (uint64_t) part->mem_kib;
                        cd->mem_kib_by_node[part->node] += (uint64_t) part->mem_kib;
                        vc->id = j;
                        vc->pcpu = e->vcpus[part->vcpu].pcpu;
                        vc->has_affinity = true;
                        closer_cpuset_zero(&vc->affinity);
                        (void) closer_cpuset_set(&vc->affinity, (unsigned) vc->pcpu);
                        cd->io_ops_per_s += part->ops_rate;
                        cd->io_bytes_per_s += part->bytes_rate;
                        closer_node *nd = &topo->nodes[part->node];
                        uint64_t pk = (uint64_t) part->mem_kib;
                        nd->free_kib = nd->free_kib > pk ? nd->free_kib - pk : 0;
                }
        }

        for (unsigned i = 0; i < e->n_threads; i++) {
                const closer_sim_thread *t = &e->threads[i];
                if (!t->alive)
                        continue;
                closer_thread *ct = &s->threads[s->n_threads];
                ct->tid = ct->pid = t->tid;
                ct->ppid = t->kernel ? 2 : 1;
                snprintf(ct->comm, sizeof(ct->comm), "%s", t->comm);
                ct->kernel = t->kernel;
                ct->cpu_ns = (uint64_t) t->cpu_total_ns;
                ct->last_cpu = t->last_on;
                if (t->argc > 0) {
                        ct->cmdline = calloc(t->argc, sizeof(char *));
                        if (!ct->cmdline)
                                goto oom;
                }
                s->n_threads++;
                for (unsigned a = 0; a < t->argc; a++) {
                        ct->cmdline[a] = strdup(t->argv[a]);
                        if (!ct->cmdline[a])
                                goto oom;
                        ct->n_cmdline++;
                }
        }
        *ret = s;
        return 0;
oom:
        closer_sim_dom0_snapshot_free(s);
        return -ENOMEM;
}

static int place_closer(closer_sim_engine *e, closer_error *err) {
        const closer_sim_config *c = e->cfg;
        closer_snapshot *s = NULL;
        closer_plan *plan = NULL;
        int r = closer_sim_dom0_snapshot(e, &s);
        if (r < 0)
                return r;

        closer_config cc;
        closer_config_defaults(&cc);
        /* the same main container size as the native dom0: only placement differs */
        cc.main_node = (int) c->native_node;
        cc.main_vcpus = (int) c->native_vcpus;
        cc.main_mem_mib = (int64_t) (c->native_mem_gib * 1024);

        closer_error perr = {{0}};
        r = closer_plan_compute(s, &cc, &plan, &perr);
        if (r < 0) {
                closer_error_set(err, r, "closer policy refused the model's snapshot: %s", perr.msg);
                closer_sim_dom0_snapshot_free(s);
                return r;
        }

        e->n_main = 0;
        CLOSER_CPUSET_FOREACH(cpu, &plan->main.dom0_cpus) {
                if ((unsigned) cpu < e->n_dom0 && e->n_main < CLOSER_SIM_AFF_MAX)
                        e->main_vcpus[e->n_main++] = cpu;
        }

        for (unsigned i = 0; i < e->n_threads; i++)
                aff_main(e, &e->threads[i]);    /* what the plan does not place stays in main */
        for (unsigned k = 0; k < plan->n_threads; k++) {
                const closer_plan_thread *pt = &plan->threads[k];
                int idx = pt->tid - 1000;
                if (idx < 0 || (unsigned) idx >= e->n_threads || !pt->dom0_cpus)
                        continue;
                closer_sim_thread *t = &e->threads[idx];
                t->n_aff = 0;
                CLOSER_CPUSET_FOREACH(cpu, pt->dom0_cpus) {
                        if ((unsigned) cpu < e->n_dom0 && t->n_aff < CLOSER_SIM_AFF_MAX)
                                t->aff[t->n_aff++] = cpu;
                }
                if (t->n_aff == 0)
                        aff_main(e, t);
        }
        double mem_kib = (double) plan->main.mem_kib;
        for (unsigned k = 0, i = 0; k < plan->n_domains; k++) {
                /* the plan's domains in the snapshot's order: a VM's part 0 */
                while (i < e->n_doms && (e->doms[i].domid != plan->domains[k].domid || e->doms[i].part != 0))
                        i++;
                mem_kib += (double) plan->domains[k].dom0_reserve_kib;
                if (i == e->n_doms)
                        break;
                closer_sim_dom *d = &e->doms[i];
                d->mem_target_kib = (double) plan->domains[k].mem_target_kib;
                d->dom0_reserve_kib = (double) plan->domains[k].dom0_reserve_kib;
                d->io_level = plan->domains[k].io_level;
        }
        e->dom0_mem_kib = mem_kib;
        e->plans++;
        closer_plan_free(plan);
        closer_sim_dom0_snapshot_free(s);
        return 0;
}

int closer_sim_dom0_place(closer_sim_engine *e, closer_error *err) {
        switch (e->policy) {
        case CLOSER_SIM_NATIVE:
                place_native(e);
                return 0;
        case CLOSER_SIM_ORACLE:
                place_oracle(e);
                return 0;
        case CLOSER_SIM_CLOSER:
                return place_closer(e, err);
        default:
                return -EINVAL;
        }
}

