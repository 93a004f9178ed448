/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine: a fluid, time-stepped model of a NUMA host under Xen.
 *
 * Two scheduling levels, as on a real host. Xen runs vCPUs pinned to pCPUs
 * and shares each pCPU among the vCPUs that want it in proportion to their
 * weights, within their caps (credit2's contract, taken as a fluid share per
 * tick). Inside dom0, Linux runs threads on the dom0 vCPUs their affinity
 * allows; a thread lands on the allowed vCPU whose pCPU is least loaded
 * (what the load balancer converges to) and threads on one vCPU share it
 * equally (CFS with equal nice).
 *
 * dom0 work costs more when the CPU doing it sits on another node than the
 * memory it touches: each thread carries the factor its mix of cache misses
 * (latency ratio) and copies (bandwidth ratio) gives (docs/model.md).
 *
 * Request pipelines (I/O and web VMs) are closed loops: requests go through
 * the guest vCPU, then the dom0 backend, then a device or the network. Their
 * throughput comes from mean-value analysis over the rates each stage got in
 * the previous tick (processor sharing: a stage serving s ns of work at rate
 * r takes s/r).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/alloc-util.h"
#include "closer/snapshot.h"
#include "sim/sim-engine.h"
#include "basic/sort-util.h"

#define NS_PER_S 1e9
#define PAGE_BYTES 4096.0
#define KIB 1024.0
#define GIB (1024.0 * 1024.0 * 1024.0)

int closer_sim_engine_add_vcpu(closer_sim_engine *e, int domid, int pcpu, double weight) {
        /* two arrays, one capacity: both grow alike */
        unsigned cap_v = e->cap_vcpus, cap_n = e->cap_vcpus;
        if (!GREEDY_REALLOC_MIN(e->vcpus, cap_v, e->n_vcpus + 1, 64) ||
            !GREEDY_REALLOC_MIN(e->vcpu_next_on_pcpu, cap_n, e->n_vcpus + 1, 64))
                return -ENOMEM;
        e->cap_vcpus = cap_v < cap_n ? cap_v : cap_n;
        unsigned i = e->n_vcpus++;
        const closer_sim_config *c = e->cfg;
        double cap_pct = domid == 0 ? c->sched_dom0_cap_pct : c->sched_cap_pct;
        e->vcpus[i] = (closer_sim_vcpu) {.domid = domid, .pcpu = pcpu, .weight = weight, .rate = 1.0,
                                         .cap = cap_pct > 0 ? cap_pct / 100.0 : 1.0, .first_thread = -1};
        /* append to the pCPU's list, keeping index order */
        e->vcpu_next_on_pcpu[i] = -1;
        int *slot = &e->pcpu_first_vcpu[pcpu];
        while (*slot >= 0)
                slot = &e->vcpu_next_on_pcpu[*slot];
        *slot = (int) i;
        return (int) i;
}

int closer_sim_engine_add_thread(closer_sim_engine *e, const char *comm, bool kernel, int domid, int data_node,
                          double remote_factor, unsigned argc, const char *const *argv) {
        if (!GREEDY_REALLOC_MIN(e->threads, e->cap_threads, e->n_threads + 1, 64))
                return -ENOMEM;
        unsigned i = e->n_threads++;
        closer_sim_thread *t = &e->threads[i];
        memset(t, 0, sizeof(*t));
        t->tid = 1000 + (int) i;
        snprintf(t->comm, sizeof(t->comm), "%s", comm);
        t->kernel = kernel;
        t->argc = argc < CLOSER_SIM_ARGV_MAX ? argc : CLOSER_SIM_ARGV_MAX;
        for (unsigned a = 0; a < t->argc; a++)
                snprintf(t->argv[a], sizeof(t->argv[a]), "%s", argv[a]);
        t->alive = true;
        t->domid = domid;
        t->data_node = data_node;
        t->remote_factor = remote_factor;
        t->rate = 1.0;
        t->on = t->last_on = -1;
        t->next = -1;
        e->replan = true;
        return (int) i;
}

/* ---- Xen level and dom0 level sharing ------------------------------------ */

/* Weighted max-min fair share of `capacity` among n claimants (water
 * filling): nobody gets more than it asks, the rest is split by weight.
 * Claimants in ascending demand/weight: each either is satisfied within its
 * weighted share of what is left, or it and all after it get that share. */
typedef struct wf_item {
        double ratio;
        unsigned i;
} wf_item;

static int wf_cmp(const void *a, const void *b) {
        const wf_item *x = a, *y = b;
        if (x->ratio != y->ratio)
                return x->ratio < y->ratio ? -1 : 1;
        return x->i < y->i ? -1 : x->i > y->i;  /* stable: deterministic */
}

static void waterfill(unsigned n, const double *demand, const double *weight, double capacity, double *grant,
                      wf_item *order) {
        unsigned m = 0;
        double w = 0, want = 0;
        for (unsigned i = 0; i < n; i++) {
                grant[i] = 0;
                if (demand[i] > 0 && weight[i] > 0) {
                        order[m++] = (wf_item) {demand[i] / weight[i], i};
                        w += weight[i];
                        want += demand[i];
                }
        }
        if (want <= capacity) {         /* the common case: everybody served */
                for (unsigned k = 0; k < m; k++)
                        grant[order[k].i] = demand[order[k].i];
                return;
        }
        if (m > 1)
                closer_qsort_safe(order, m, sizeof(*order), wf_cmp);
        double left = capacity;
        for (unsigned k = 0; k < m; k++) {
                unsigned i = order[k].i;
                double share = left * weight[i] / w;
                if (demand[i] <= share) {
                        grant[i] = demand[i];
                        left -= demand[i];
                        w -= weight[i];
                        continue;
                }
                for (; k < m; k++)
                        grant[order[k].i] = left * weight[order[k].i] / w;
                break;
        }
}

static int scratch_reserve(closer_sim_engine *e, unsigned n) {
        if (n <= e->scratch_n)
                return 0;
        double *d = realloc(e->scratch_d, n * sizeof(double));
        if (d)
                e->scratch_d = d;
        double *w = realloc(e->scratch_w, n * sizeof(double));
        if (w)
                e->scratch_w = w;
        double *g = realloc(e->scratch_g, n * sizeof(double));
        if (g)
                e->scratch_g = g;
        wf_item *o = realloc(e->scratch_order, n * sizeof(wf_item));
        if (o)
                e->scratch_order = o;
        if (!d || !w || !g || !o)
                return -ENOMEM;
        e->scratch_n = n;
        return 0;
}

static double thread_factor(const closer_sim_engine *e, const closer_sim_thread *t, int vcpu) {
        if (t->data_node < 0)
                return 1.0;
        return e->pcpu_node[e->vcpus[vcpu].pcpu] == t->data_node ? 1.0 : t->remote_factor;
}

/* One scheduling step: demands are set, hand out CPU, compute progress. */
static int schedule(closer_sim_engine *e, bool measuring) {
        double dt = e->dt_ns;
        int r;

        /* domU vCPU demand is the pCPU's base load */
        for (unsigned p = 0; p < e->n_pcpus; p++)
                e->pcpu_load[p] = 0;
        for (unsigned v = 0; v < e->n_vcpus; v++) {
                closer_sim_vcpu *vc = &e->vcpus[v];
                vc->first_thread = -1;
                vc->n_threads = 0;
                vc->thread_demand_ns = 0;
                if (vc->domid != 0)
                        e->pcpu_load[vc->pcpu] += vc->demand_ns;
        }

        /* dom0 threads onto dom0 vCPUs: least loaded pCPU among those allowed */
        for (unsigned i = 0; i < e->n_threads; i++) {
                closer_sim_thread *t = &e->threads[i];
                t->on = -1;
                t->cpu_ns = t->progress = 0;
                if (!t->alive || t->demand <= 0 || t->n_aff == 0)
                        continue;
                int best = -1;
                double best_load = 0;
                for (unsigned a = 0; a < t->n_aff; a++) {
                        int v = t->aff[a];
                        double load = e->pcpu_load[e->vcpus[v].pcpu] * thread_factor(e, t, v);
                        /* stay where it ran when it is as good: fewer migrations */
                        if (best < 0 || load < best_load || (load == best_load && v == t->last_on)) {
                                best = v;
                                best_load = load;
                        }
                }
                t->on = t->last_on = best;
                t->factor = thread_factor(e, t, best);
                double want = t->demand * t->factor;
                if (want > dt)
                        want = dt;
                closer_sim_vcpu *vc = &e->vcpus[best];
                t->next = vc->first_thread;
                vc->first_thread = (int) i;
                vc->n_threads++;
                vc->thread_demand_ns += want;
                e->pcpu_load[vc->pcpu] += want;
        }
        for (unsigned v = 0; v < e->n_dom0; v++) {
                closer_sim_vcpu *vc = &e->vcpus[v];
                vc->demand_ns = vc->thread_demand_ns < dt ? vc->thread_demand_ns : dt;
        }

        /* Xen: each pCPU shared among its vCPUs by weight */
        for (unsigned p = 0; p < e->n_pcpus; p++) {
                unsigned n = 0;
                for (int v = e->pcpu_first_vcpu[p]; v >= 0; v = e->vcpu_next_on_pcpu[v])
                        n++;
                if (n == 0)
                        continue;
                r = scratch_reserve(e, n);
                if (r < 0)
                        return r;
                unsigned k = 0;
                double wsum_active = 0, used = 0;
                for (int v = e->pcpu_first_vcpu[p]; v >= 0; v = e->vcpu_next_on_pcpu[v], k++) {
                        /* a capped vCPU never asks for more than its cap */
                        double d = e->vcpus[v].demand_ns, cap = e->vcpus[v].cap * dt;
                        e->scratch_d[k] = d < cap ? d : cap;
                        e->scratch_w[k] = e->vcpus[v].weight;
                        if (e->vcpus[v].demand_ns > 0)
                                wsum_active += e->vcpus[v].weight;
                }
                waterfill(n, e->scratch_d, e->scratch_w, dt, e->scratch_g, e->scratch_order);
                k = 0;
                for (int v = e->pcpu_first_vcpu[p]; v >= 0; v = e->vcpu_next_on_pcpu[v], k++) {
                        e->vcpus[v].grant_ns = e->scratch_g[k];
                        used += e->scratch_g[k];
                }
                /* What each vCPU would get if busy next tick: its weight share
                 * among the busy ones, or what the others leave, if more. */
                for (int v = e->pcpu_first_vcpu[p]; v >= 0; v = e->vcpu_next_on_pcpu[v]) {
                        closer_sim_vcpu *vc = &e->vcpus[v];
                        double others_w = wsum_active - (vc->demand_ns > 0 ? vc->weight : 0);
                        double share = vc->weight / (others_w + vc->weight);
                        double leftover = 1.0 - (used - vc->grant_ns) / dt;
                        double rate = share > leftover ? share : leftover;
                        if (rate > vc->cap)
                                rate = vc->cap;
                        vc->rate = 0.5 * vc->rate + 0.5 * rate;
                        vc->others_ns = used - vc->grant_ns;
                        vc->others_w = others_w;
                        if (measuring)
                                vc->busy_ns += vc->grant_ns;
                }
        }

        /* dom0 Linux: each dom0 vCPU's time shared equally by its threads */
        for (unsigned v = 0; v < e->n_dom0; v++) {
                closer_sim_vcpu *vc = &e->vcpus[v];
                if (vc->n_threads == 0)
                        continue;
                r = scratch_reserve(e, vc->n_threads);
                if (r < 0)
                        return r;
                unsigned k = 0;
                for (int i = vc->first_thread; i >= 0; i = e->threads[i].next, k++) {
                        closer_sim_thread *t = &e->threads[i];
                        double want = t->demand * t->factor;
                        e->scratch_d[k] = want < dt ? want : dt;
                        e->scratch_w[k] = 1.0;
                }
                waterfill(vc->n_threads, e->scratch_d, e->scratch_w, vc->grant_ns, e->scratch_g, e->scratch_order);
                k = 0;
                for (int i = vc->first_thread; i >= 0; i = e->threads[i].next, k++) {
                        closer_sim_thread *t = &e->threads[i];
                        t->cpu_ns = e->scratch_g[k];
                        t->progress = t->cpu_ns / t->factor;
                        t->cpu_total_ns += t->cpu_ns;
                }
        }

        /* Rate each thread would get when busy next tick (processor sharing:
         * an equal share among the busy threads, or what the others leave). */
        for (unsigned i = 0; i < e->n_threads; i++) {
                closer_sim_thread *t = &e->threads[i];
                if (!t->alive || t->n_aff == 0)
                        continue;
                int v = t->on >= 0 ? t->on : (t->last_on >= 0 ? t->last_on : t->aff[0]);
                const closer_sim_vcpu *vc = &e->vcpus[v];
                unsigned n = vc->n_threads + (t->on == v ? 0 : 1);
                double cap = vc->rate * dt;
                double others = vc->grant_ns - (t->on == v ? t->cpu_ns : 0);
                double leftover = cap > 0 ? 1.0 - others / cap : 0;
                double share = 1.0 / n;
                double f = thread_factor(e, t, v);
                double rate = vc->rate * (share > leftover ? share : leftover) / f;
                t->rate = 0.5 * t->rate + 0.5 * rate;
        }
        return 0;
}

/* ---- workloads -------------------------------------------------------------- */

typedef struct closer_sim_world {
        closer_sim_engine e;
        /* base OS + agent (main container work) */
        int base_thread, agent_thread;
        double agent_next_ns, agent_backlog, agent_pending[64], agent_last_ns, agent_max_gap_ns;
        unsigned agent_n_pending;
        /* migration */
        int mig_dom, mig_thread;
        int mig_phase;                  /* 0 not started, 1 pre-copy, 2 stop-and-copy, 3 done */
        double mig_pages, mig_to_send, mig_dirty, mig_round, mig_start_ns, mig_end_ns;
        double mig_page_local_ns;
        /* creation */
        int create_thread;
        int create_phase;
        double create_work, create_start_ns, create_end_ns;
} closer_sim_world;

static double pipeline_remote_factor(const closer_sim_config *c, double cpu_us, double misses, double kib) {
        double lat = c->mem_local_latency_ns;
        double copy_ns_per_byte = NS_PER_S / (c->mem_copy_gib_s * GIB);
        double bytes = kib * KIB;
        double local = cpu_us * 1e3 + misses * lat + bytes * copy_ns_per_byte;
        double remote = cpu_us * 1e3 + misses * lat * c->mem_remote_latency_ratio +
                        bytes * copy_ns_per_byte / c->mem_remote_bw_ratio;
        return local > 0 ? remote / local : 1.0;
}

static double pipeline_local_ns(const closer_sim_config *c, double cpu_us, double misses, double kib) {
        return cpu_us * 1e3 + misses * c->mem_local_latency_ns + kib * KIB * NS_PER_S / (c->mem_copy_gib_s * GIB);
}

/* VM placement: identical under every policy. VMs never go on the pCPUs the
 * native dom0 holds, so that dom0 is the only thing that differs. */
static bool pcpu_reserved(const closer_sim_engine *e, unsigned p) {
        const closer_sim_config *c = e->cfg;
        unsigned per = (unsigned) c->host_cpus_per_socket;
        unsigned first = (unsigned) c->native_node * per;
        return p >= first && p < first + (unsigned) c->native_vcpus;
}

static unsigned node_avail(const closer_sim_engine *e, unsigned n) {
        const closer_sim_config *c = e->cfg;
        unsigned per = (unsigned) c->host_cpus_per_socket;
        return per - (n == (unsigned) c->native_node ? (unsigned) c->native_vcpus : 0);
}

/* The next pCPU of node n for a VM: its free pCPUs in order, then round robin
 * over them again (several VMs per pCPU). */
static int place_on_node(closer_sim_engine *e, unsigned *cursor, unsigned n) {
        unsigned per = (unsigned) e->cfg->host_cpus_per_socket;
        unsigned avail = node_avail(e, n);
        if (avail == 0)
                return -1;
        unsigned k = cursor[n]++ % avail;
        for (unsigned i = 0; i < per; i++) {
                unsigned p = n * per + i;
                if (pcpu_reserved(e, p))
                        continue;
                if (k-- == 0)
                        return (int) p;
        }
        return -1;
}

/* A VM's next part (vCPU) gets the domid of the part before it (part > 0). */
static int add_dom(closer_sim_world *w, unsigned *cursor, closer_sim_dom_kind kind, int node, double mem_gib,
                   unsigned part) {
        closer_sim_engine *e = &w->e;
        const closer_sim_config *c = e->cfg;
        int pcpu = -1;
        if (node < 0) {
                /* fill: the first node with a free pCPU, in node order; when all are
                 * taken, the node with the fewest VMs */
                unsigned best = 0;
                for (unsigned n = 0; n < e->n_nodes; n++)
                        if (cursor[n] < node_avail(e, n)) {
                                best = n;
                                goto found;
                        }
                for (unsigned n = 1; n < e->n_nodes; n++)
                        if (cursor[n] < cursor[best])
                                best = n;
        found:
                pcpu = place_on_node(e, cursor, best);
        } else if ((unsigned) node < e->n_nodes)
                pcpu = place_on_node(e, cursor, (unsigned) node);
        if (pcpu < 0)
                return -ENOSPC;

        closer_sim_dom *nd = realloc(e->doms, (e->n_doms + 1) * sizeof(*nd));
        if (!nd)
                return -ENOMEM;
        e->doms = nd;
        closer_sim_dom *d = &e->doms[e->n_doms];
        memset(d, 0, sizeof(*d));
        d->domid = part > 0 && e->n_doms > 0 ? e->doms[e->n_doms - 1].domid
                                             : (e->n_doms > 0 ? e->doms[e->n_doms - 1].domid : 0) + 1;
        d->part = part;
        d->kind = kind;
        d->node = e->pcpu_node[pcpu];
        d->mem_kib = mem_gib * 1024 * 1024;
        d->mem_target_kib = d->mem_kib;
        d->thread = -1;
        int v = closer_sim_engine_add_vcpu(e, d->domid, pcpu, c->sched_weight);
        if (v < 0)
                return v;
        d->vcpu = v;
        e->n_doms++;

        char comm[32], dom[16];
        snprintf(dom, sizeof(dom), "%d", d->domid);
        switch (kind) {
        case CLOSER_SIM_DOM_IO:
                snprintf(d->name, sizeof(d->name), "iozone%d", d->domid);
                /* Linux 6.1 blkback: one kernel thread per ring, "<domid>.<vdev>-<ring>";
                 * a multi-queue frontend uses ring q from vCPU q */
                snprintf(comm, sizeof(comm), "%d.xvda-%u", d->domid, part);
                d->guest_ns = c->io_guest_cpu_us * 1e3;
                d->backend_ns = pipeline_local_ns(c, c->io_backend_cpu_us, c->io_backend_misses, c->io_record_kib);
                d->ext_ns = c->io_device_us * 1e3;
                d->bytes = c->io_record_kib * KIB;
                d->concurrency = c->io_depth;
                d->thread = closer_sim_engine_add_thread(e, comm, true, d->domid, d->node,
                                                  pipeline_remote_factor(c, c->io_backend_cpu_us,
                                                                         c->io_backend_misses, c->io_record_kib),
                                                  0, NULL);
                break;
        case CLOSER_SIM_DOM_WEB:
                snprintf(d->name, sizeof(d->name), "wordpress%d", d->domid);
                snprintf(comm, sizeof(comm), "vif%d.0-q0-guest-rx", d->domid);
                d->guest_ns = c->web_guest_cpu_us * 1e3;
                d->backend_ns = pipeline_local_ns(c, c->web_backend_cpu_us, c->web_backend_misses, c->web_kib);
                d->ext_ns = c->web_network_us * 1e3;
                d->bytes = c->web_kib * KIB;
                d->concurrency = c->web_clients;
                d->thread = closer_sim_engine_add_thread(e, comm, true, d->domid, d->node,
                                                  pipeline_remote_factor(c, c->web_backend_cpu_us,
                                                                         c->web_backend_misses, c->web_kib),
                                                  0, NULL);
                break;
        case CLOSER_SIM_DOM_WRITER:
                snprintf(d->name, sizeof(d->name), "memwriter%d", d->domid);
                break;
        }
        if (d->thread < -1)
                return d->thread;
        return (int) e->n_doms - 1;
}

/* When a VM's backend runs on the pCPU of the VM's own vCPU (closer does
 * that), the two stages of one request do not compete: the guest waits for
 * its backend and the backend for its guest. Only the requests in flight
 * beside it (concurrency - 1 of c) overlap. Remove the rest of the mutual
 * interference from the rates the previous tick measured. */
static void self_share(const closer_sim_engine *e, const closer_sim_dom *d, const closer_sim_thread *t, double *rg, double *rb) {
        const closer_sim_vcpu *vc = &e->vcpus[d->vcpu], *bv = &e->vcpus[t->last_on];
        double dt = e->dt_ns, c = d->concurrency, overlap = (c - 1.0) / c;
        double oth = vc->others_ns - t->cpu_ns * (1.0 - overlap);
        double sw = vc->weight + vc->others_w - (overlap == 0 && bv->demand_ns > 0 ? bv->weight : 0);
        double g = 1.0 - (oth > 0 ? oth : 0) / dt, sh = vc->weight / sw;
        *rg = g > sh ? g : sh;
        double othb = bv->others_ns - vc->grant_ns * (1.0 - overlap);
        double swb = bv->weight + bv->others_w - (overlap == 0 && vc->demand_ns > 0 ? vc->weight : 0);
        double gb = 1.0 - (othb > 0 ? othb : 0) / dt, shb = bv->weight / swb;
        double vrate = gb > shb ? gb : shb;
        if (bv->rate > 1e-9)
                *rb = t->rate * vrate / bv->rate;
        if (*rg > 1.0)
                *rg = 1.0;
}

static void pipelines_offer(closer_sim_world *w) {
        closer_sim_engine *e = &w->e;
        double dt = e->dt_ns;
        double noise = e->cfg->noise_pct / 100.0;
        for (unsigned i = 0; i < e->n_doms; i++) {
                closer_sim_dom *d = &e->doms[i];
                closer_sim_vcpu *vc = &e->vcpus[d->vcpu];
                if (d->kind == CLOSER_SIM_DOM_WRITER)
                        continue;
                closer_sim_thread *t = &e->threads[d->thread];
                double rg = vc->rate, rb = t->rate;
                if (t->last_on >= 0 && e->vcpus[t->last_on].pcpu == vc->pcpu)
                        self_share(e, d, t, &rg, &rb);
                if (rg < 1e-6)
                        rg = 1e-6;
                if (rb < 1e-6)
                        rb = 1e-6;
                double ext = d->ext_ns * (1.0 + noise * (2.0 * closer_sim_prng_uniform(&e->rng) - 1.0));
                double cycle = d->guest_ns / rg + d->backend_ns / rb + ext;
                double x = cycle > 0 ? d->concurrency / cycle : 0;   /* requests per ns */
                /* no stage can go faster than the rate it gets */
                if (d->guest_ns > 0 && x > rg / d->guest_ns)
                        x = rg / d->guest_ns;
                if (d->backend_ns > 0 && x > rb / d->backend_ns)
                        x = rb / d->backend_ns;
                d->offered = x * dt;
                vc->demand_ns = d->offered * d->guest_ns;
                t->demand = d->offered * d->backend_ns;
        }
}

static void pipelines_complete(closer_sim_world *w, bool measuring) {
        closer_sim_engine *e = &w->e;
        for (unsigned i = 0; i < e->n_doms; i++) {
                closer_sim_dom *d = &e->doms[i];
                if (d->kind == CLOSER_SIM_DOM_WRITER)
                        continue;
                const closer_sim_vcpu *vc = &e->vcpus[d->vcpu];
                const closer_sim_thread *t = &e->threads[d->thread];
                double done = d->offered;
                if (d->guest_ns > 0 && vc->grant_ns / d->guest_ns < done)
                        done = vc->grant_ns / d->guest_ns;
                if (d->backend_ns > 0 && t->progress / d->backend_ns < done)
                        done = t->progress / d->backend_ns;
                d->ops_window += done;
                d->bytes_window += done * d->bytes;
                if (measuring) {
                        d->ops_total += done;
                        d->bytes_total += done * d->bytes;
                }
        }
}

/* Main container work: the base OS (T0) and the datacenter agent (T1). The
 * agent's heartbeat is a piece of CPU work queued every interval; the
 * controller sees the heartbeat when that work is done. */
static void main_work_offer(closer_sim_world *w) {
        closer_sim_engine *e = &w->e;
        const closer_sim_config *c = e->cfg;
        double dt = e->dt_ns;
        double noise = c->noise_pct / 100.0;
        e->threads[w->base_thread].demand =
                c->base_os_cpu_pct / 100.0 * dt * (1.0 + noise * (2.0 * closer_sim_prng_uniform(&e->rng) - 1.0));
        if (w->agent_thread < 0)
                return;
        if (e->now_ns >= w->agent_next_ns) {
                unsigned vms = 0;
                for (unsigned i = 0; i < e->n_doms; i++)
                        vms += e->doms[i].part == 0;
                double work = (c->agent_cpu_ms + c->agent_cpu_ms_per_vm * vms) * 1e6;
                if (w->agent_n_pending < 64) {
                        w->agent_backlog += work;
                        w->agent_pending[w->agent_n_pending++] = w->agent_backlog;
                }
                w->agent_next_ns += c->agent_interval_s * NS_PER_S;
        }
        e->threads[w->agent_thread].demand = w->agent_backlog > 0 ? w->agent_backlog : 0;
}

static void main_work_complete(closer_sim_world *w, bool measuring) {
        closer_sim_engine *e = &w->e;
        if (w->agent_thread < 0)
                return;
        double done = e->threads[w->agent_thread].progress;
        w->agent_backlog -= done;
        for (unsigned k = 0; k < w->agent_n_pending; k++)
                w->agent_pending[k] -= done;
        double end = e->now_ns + e->dt_ns;
        while (w->agent_n_pending > 0 && w->agent_pending[0] <= 1e-6) {
                if (measuring && end - w->agent_last_ns > w->agent_max_gap_ns)
                        w->agent_max_gap_ns = end - w->agent_last_ns;
                w->agent_last_ns = end;
                memmove(w->agent_pending, w->agent_pending + 1, (w->agent_n_pending - 1) * sizeof(double));
                w->agent_n_pending--;
        }
}

/* Pre-copy live migration (Xen's save loop): round 0 sends every page, each
 * later round the pages dirtied meanwhile, until few are left or the round
 * limit is hit; then the VM is paused and the rest goes. Pages go as fast as
 * the link and the migration thread's CPU allow. */
static void migration_offer(closer_sim_world *w) {
        closer_sim_engine *e = &w->e;
        const closer_sim_config *c = e->cfg;
        if (w->mig_dom < 0)
                return;
        closer_sim_dom *d = &e->doms[w->mig_dom];
        closer_sim_vcpu *vc = &e->vcpus[d->vcpu];
        vc->demand_ns = w->mig_phase == 2 ? 0 : e->dt_ns;    /* the writer is CPU bound until paused */
        if (w->mig_phase == 0 && e->now_ns >= c->w_warmup_s * NS_PER_S) {
                char dom[16];
                snprintf(dom, sizeof(dom), "%d", d->domid);
                const char *argv[] = {"xl", "migrate", dom, "dst-host"};
                double copy_ns = PAGE_BYTES * NS_PER_S / (c->mem_copy_gib_s * GIB);
                double cpu_ns = c->mig_cpu_per_page_us * 1e3;
                w->mig_page_local_ns = cpu_ns + copy_ns;
                double rf = (cpu_ns + copy_ns / c->mem_remote_bw_ratio) / w->mig_page_local_ns;
                int t = closer_sim_engine_add_thread(e, "xl", false, d->domid, d->node, rf, 4, argv);
                if (t < 0)
                        return;
                w->mig_thread = t;
                w->mig_phase = 1;
                w->mig_pages = d->mem_kib / 4.0;
                w->mig_to_send = w->mig_pages;
                w->mig_dirty = 0;
                w->mig_round = 0;
                w->mig_start_ns = e->now_ns;
        }
        if (w->mig_phase == 1 || w->mig_phase == 2) {
                double link_pages = c->mig_link_gbit_s * 1e9 / 8.0 / PAGE_BYTES * e->dt_ns / NS_PER_S;
                double pages = w->mig_to_send < link_pages ? w->mig_to_send : link_pages;
                e->threads[w->mig_thread].demand = pages * w->mig_page_local_ns;
        }
}

static void migration_complete(closer_sim_world *w) {
        closer_sim_engine *e = &w->e;
        const closer_sim_config *c = e->cfg;
        if (w->mig_dom < 0 || (w->mig_phase != 1 && w->mig_phase != 2))
                return;
        closer_sim_dom *d = &e->doms[w->mig_dom];
        closer_sim_thread *t = &e->threads[w->mig_thread];
        double sent = t->progress / w->mig_page_local_ns;
        w->mig_to_send -= sent;
        if (w->mig_phase == 1) {
                /* random writes: distinct dirty pages saturate towards the VM size */
                double writes = e->vcpus[d->vcpu].grant_ns / NS_PER_S * c->mig_dirty_pages_per_cpu_s;
                w->mig_dirty += (w->mig_pages - w->mig_dirty) * (1.0 - exp(-writes / w->mig_pages));
        }
        if (w->mig_to_send > 1e-6)
                return;
        double end = e->now_ns + e->dt_ns;
        if (w->mig_phase == 2) {
                w->mig_phase = 3;
                w->mig_end_ns = end;
                t->alive = false;
                e->replan = true;
                return;
        }
        w->mig_round++;
        w->mig_to_send = w->mig_dirty;
        w->mig_dirty = 0;
        if (w->mig_to_send <= c->mig_stop_pages || w->mig_round >= c->mig_max_iters)
                w->mig_phase = 2;
}

/* Creation: toolstack CPU, then the hypervisor scrubbing the new domain's
 * memory on the CPU that made the hypercall (the toolstack's). */
static void create_offer(closer_sim_world *w) {
        closer_sim_engine *e = &w->e;
        const closer_sim_config *c = e->cfg;
        if (c->w_create < 0.5)
                return;
        if (w->create_phase == 0 && e->now_ns >= c->w_warmup_s * NS_PER_S) {
                const char *argv[] = {"xl", "create", "/etc/xen/newvm.cfg"};
                double scrub = c->create_vm_mem_gib * GIB * NS_PER_S / (c->mem_scrub_gib_s * GIB);
                double tool = c->create_toolstack_ms * 1e6;
                double rf = (tool + scrub / c->mem_remote_bw_ratio) / (tool + scrub);
                int t = closer_sim_engine_add_thread(e, "xl", false, 0, (int) c->w_create_node, rf, 3, argv);
                if (t < 0)
                        return;
                w->create_thread = t;
                w->create_work = tool + scrub;
                w->create_phase = 1;
                w->create_start_ns = e->now_ns;
        }
        if (w->create_phase == 1)
                e->threads[w->create_thread].demand = w->create_work;
}

static void create_complete(closer_sim_world *w) {
        closer_sim_engine *e = &w->e;
        if (w->create_phase != 1)
                return;
        closer_sim_thread *t = &e->threads[w->create_thread];
        w->create_work -= t->progress;
        if (w->create_work <= 1e-3) {
                w->create_phase = 2;
                w->create_end_ns = e->now_ns + e->dt_ns;
                t->alive = false;
                e->replan = true;
        }
}

static void world_free(closer_sim_world *w) {
        closer_sim_engine *e = &w->e;
        free(e->pcpu_node);
        free(e->pcpu_first_vcpu);
        free(e->vcpu_next_on_pcpu);
        free(e->vcpus);
        free(e->doms);
        free(e->threads);
        free(e->scratch_d);
        free(e->scratch_w);
        free(e->scratch_g);
        free(e->scratch_order);
        free(e->pcpu_load);
}

static int world_init(closer_sim_world *w, const closer_sim_config *cfg, closer_sim_policy policy, closer_error *err) {
        closer_sim_engine *e = &w->e;
        int r;
        memset(w, 0, sizeof(*w));
        w->mig_dom = w->mig_thread = w->create_thread = w->agent_thread = -1;
        e->cfg = cfg;
        e->policy = policy;
        closer_sim_prng_seed(&e->rng, (uint64_t) cfg->w_seed);
        e->n_nodes = (unsigned) cfg->host_sockets;
        unsigned per = (unsigned) cfg->host_cpus_per_socket;
        e->n_pcpus = e->n_nodes * per;
        e->dt_ns = cfg->tick_us * 1e3;
        if (e->n_pcpus > CLOSER_CPUSET_MAX || e->n_nodes > CLOSER_NODES_MAX)
                return closer_error_set(err, -EINVAL, "host: %u pCPUs on %u nodes is more than closer handles",
                                        e->n_pcpus, e->n_nodes);
        if ((unsigned) cfg->native_node >= e->n_nodes || (unsigned) cfg->native_vcpus > per)
                return closer_error_set(err, -EINVAL, "native dom0: %g vCPUs on node %g do not fit the host",
                                        cfg->native_vcpus, cfg->native_node);
        e->pcpu_node = calloc(e->n_pcpus, sizeof(int));
        e->pcpu_first_vcpu = calloc(e->n_pcpus, sizeof(int));
        e->pcpu_load = calloc(e->n_pcpus, sizeof(double));
        if (!e->pcpu_node || !e->pcpu_first_vcpu || !e->pcpu_load)
                return -ENOMEM;
        for (unsigned p = 0; p < e->n_pcpus; p++) {
                e->pcpu_node[p] = (int) (p / per);
                e->pcpu_first_vcpu[p] = -1;
        }

        static const struct {
                const char *name;
                size_t offset;
        } nodes[] = {
                {"workload.io_node", offsetof(closer_sim_config, w_io_node)},
                {"workload.web_node", offsetof(closer_sim_config, w_web_node)},
                {"workload.migrate_node", offsetof(closer_sim_config, w_migrate_node)},
                {"workload.create_node", offsetof(closer_sim_config, w_create_node)},
        };
        for (unsigned i = 0; i < ELEMENTSOF(nodes); i++) {
                double v;
                memcpy(&v, (const char *) cfg + nodes[i].offset, sizeof(v));
                if (v >= e->n_nodes)
                        return closer_error_set(err, -EINVAL, "%s: %g is not a node of the host (%u nodes)",
                                                nodes[i].name, v, e->n_nodes);
        }

        r = closer_sim_dom0_setup(e, err);
        if (r < 0)
                return r;

        /* main container work exists under every policy */
        const char *base_argv[] = {"/usr/sbin/rsyslogd", "-n"};
        r = closer_sim_engine_add_thread(e, "rsyslogd", false, 0, -1, 1.0, 2, base_argv);
        if (r < 0)
                return r;
        w->base_thread = r;
        if (cfg->w_agent >= 0.5) {
                const char *agent_argv[] = {"/usr/bin/python3", "/usr/bin/nova-compute", "--config-file",
                                            "/etc/nova/nova.conf"};
                r = closer_sim_engine_add_thread(e, "nova-compute", false, 0, -1, 1.0, 4, agent_argv);
                if (r < 0)
                        return r;
                w->agent_thread = r;
        }

        unsigned *cursor = calloc(e->n_nodes, sizeof(unsigned));
        if (!cursor)
                return -ENOMEM;
        r = 0;
        if (cfg->w_web_vm >= 0.5 && r >= 0)
                r = add_dom(w, cursor, CLOSER_SIM_DOM_WEB, (int) cfg->w_web_node, cfg->io_vm_mem_gib, 0);
        if (cfg->w_migrate >= 0.5 && r >= 0) {
                r = add_dom(w, cursor, CLOSER_SIM_DOM_WRITER, (int) cfg->w_migrate_node, cfg->mig_vm_mem_gib, 0);
                w->mig_dom = r;
        }
        for (unsigned i = 0; i < (unsigned) cfg->w_io_vms && r >= 0; i++)
                r = add_dom(w, cursor, CLOSER_SIM_DOM_IO, (int) cfg->w_io_node, cfg->io_vm_mem_gib, 0);
        /* I/O VMs on several sockets: vCPU j on socket j, each issuing its
         * own requests through its own queue (ring j), with its share of
         * the VM's memory on its socket and its I/O buffers there (a guest
         * with a vNUMA topology allocates next to the vCPU: docs/model.md) */
        unsigned span = (unsigned) cfg->w_span_sockets;
        if (cfg->w_span_vms >= 1 && span > e->n_nodes) {
                free(cursor);
                return closer_error_set(err, -EINVAL, "workload.span_sockets: %u sockets, the host has %u", span,
                                        e->n_nodes);
        }
        for (unsigned i = 0; i < (unsigned) cfg->w_span_vms && r >= 0; i++)
                for (unsigned j = 0; j < span && r >= 0; j++)
                        r = add_dom(w, cursor, CLOSER_SIM_DOM_IO, (int) j, cfg->io_vm_mem_gib / span, j);
        free(cursor);
        if (r == -ENOSPC)
                return closer_error_set(err, -EINVAL, "workload: no pCPU left for a VM on the node asked for");
        if (r < 0)
                return r;
        return 0;
}

/* Run the world. With ret_snapshot, stop at the end of the warm-up and
 * return the closer-snapshot/1 closerd would read there instead of results. */
static int run(const closer_sim_config *cfg, closer_sim_policy policy, unsigned placement, closer_sim_result *ret,
               char **ret_snapshot, closer_error *err) {
        closer_sim_world *w = malloc(sizeof(*w));
        if (!w)
                return -ENOMEM;
        int r = world_init(w, cfg, policy, err);
        if (r < 0)
                goto out;
        closer_sim_engine *e = &w->e;
        e->placement = placement;
        double warm = cfg->w_warmup_s * NS_PER_S;
        double end = (cfg->w_warmup_s + cfg->w_duration_s) * NS_PER_S;
        /* a measured operation may outlast the window: give it up to an hour */
        double hard_end = end + 3600.0 * NS_PER_S;
        double window_ops_reset = 0;
        w->agent_last_ns = warm;

        for (;;) {
                bool measuring = e->now_ns >= warm && e->now_ns < end;
                bool waiting = (w->mig_dom >= 0 && w->mig_phase != 3) || (cfg->w_create >= 0.5 && w->create_phase != 2);
                if (e->now_ns >= end && (!waiting || e->now_ns >= hard_end))
                        break;
                if (ret_snapshot && e->now_ns >= warm)
                        break;

                if (e->replan || (policy != CLOSER_SIM_NATIVE && e->now_ns - e->last_plan_ns >= cfg->closer_replan_s * NS_PER_S)) {
                        /* the I/O rates the snapshot reports: over the last interval */
                        double span = e->now_ns - window_ops_reset;
                        if (span > 0)
                                for (unsigned i = 0; i < e->n_doms; i++) {
                                        e->doms[i].ops_rate = e->doms[i].ops_window / span * NS_PER_S;
                                        e->doms[i].bytes_rate = e->doms[i].bytes_window / span * NS_PER_S;
                                        e->doms[i].ops_window = e->doms[i].bytes_window = 0;
                                }
                        window_ops_reset = e->now_ns;
                        r = closer_sim_dom0_place(e, err);
                        if (r < 0)
                                goto out;
                        e->replan = false;
                        e->last_plan_ns = e->now_ns;
                }

                for (unsigned i = 0; i < e->n_threads; i++)
                        e->threads[i].demand = 0;
                for (unsigned v = e->n_dom0; v < e->n_vcpus; v++)
                        e->vcpus[v].demand_ns = 0;
                main_work_offer(w);
                pipelines_offer(w);
                migration_offer(w);
                create_offer(w);
                if (e->replan) {
                        /* a new thread (exec of xl): closerd places it at once */
                        r = closer_sim_dom0_place(e, err);
                        if (r < 0)
                                goto out;
                        e->replan = false;
                }
                r = schedule(e, measuring);
                if (r < 0)
                        goto out;
                main_work_complete(w, measuring);
                pipelines_complete(w, measuring);
                migration_complete(w);
                create_complete(w);
                e->now_ns += e->dt_ns;
        }

        if (ret_snapshot) {
                closer_snapshot *s = NULL;
                r = closer_sim_dom0_snapshot(e, &s);
                if (r < 0)
                        goto out;
                char *json = closer_snapshot_to_json(s);
                closer_sim_dom0_snapshot_free(s);
                if (!json) {
                        r = -ENOMEM;
                        goto out;
                }
                *ret_snapshot = json;
                r = 0;
                goto out;
        }

        closer_sim_result res = {.sim_ns = e->now_ns};
        for (unsigned m = 0; m < CLOSER_SIM_M_MAX; m++)
                res.placement[m] = placement;
        double window = end - warm;
        double main_busy = 0, dom0_busy = 0;
        for (unsigned i = 0; i < e->n_main; i++)
                main_busy += e->vcpus[e->main_vcpus[i]].busy_ns;
        for (unsigned v = 0; v < e->n_dom0; v++)
                dom0_busy += e->vcpus[v].busy_ns;
        res.v[CLOSER_SIM_M_MAIN_LOAD_PCT] = e->n_main ? 100.0 * main_busy / (e->n_main * window) : 0;
        res.v[CLOSER_SIM_M_DOM0_CPU_PCT] = 100.0 * dom0_busy / window;
        double io_bytes = 0, web_ops = 0;
        for (unsigned i = 0; i < e->n_doms; i++) {
                if (e->doms[i].kind == CLOSER_SIM_DOM_IO)
                        io_bytes += e->doms[i].bytes_total;
                else if (e->doms[i].kind == CLOSER_SIM_DOM_WEB)
                        web_ops += e->doms[i].ops_total;
        }
        res.v[CLOSER_SIM_M_IO_MIB_S] = io_bytes / (1024.0 * 1024.0) / (window / NS_PER_S);
        res.v[CLOSER_SIM_M_WEB_RPS] = web_ops / (window / NS_PER_S);
        res.v[CLOSER_SIM_M_DOM0_MEM_MIB] = e->dom0_mem_kib / 1024.0;
        res.done = true;
        if (w->mig_dom >= 0) {
                double stop = w->mig_phase == 3 ? w->mig_end_ns : e->now_ns;
                res.v[CLOSER_SIM_M_MIGRATION_S] = (stop - w->mig_start_ns) / NS_PER_S;
                res.done = res.done && w->mig_phase == 3;
        }
        if (cfg->w_create >= 0.5) {
                double stop = w->create_phase == 2 ? w->create_end_ns : e->now_ns;
                res.v[CLOSER_SIM_M_CREATE_S] = (stop - w->create_start_ns) / NS_PER_S;
                res.done = res.done && w->create_phase == 2;
        }
        if (w->agent_thread >= 0) {
                /* a heartbeat still missing at the end counts too */
                double open_gap = end - w->agent_last_ns;
                double gap = w->agent_max_gap_ns > open_gap ? w->agent_max_gap_ns : open_gap;
                res.v[CLOSER_SIM_M_HB_MAX_GAP_S] = gap / NS_PER_S;
                res.v[CLOSER_SIM_M_HB_FAILED] = gap > cfg->agent_down_time_s * NS_PER_S ? 1.0 : 0.0;
        }
        *ret = res;
        r = 0;
out:
        world_free(w);
        free(w);
        return r;
}

int closer_sim_run_oracle_placement(const closer_sim_config *cfg, unsigned placement, closer_sim_result *ret,
                                    closer_error *err) {
        if (placement >= CLOSER_SIM_PLACEMENTS)
                return closer_error_set(err, -EINVAL, "oracle placement %u: no such placement", placement);
        return run(cfg, CLOSER_SIM_ORACLE, placement, ret, NULL, err);
}

/* The oracle is the best of its placements, metric by metric: with perfect
 * knowledge it would put each VM's work where that metric comes out best.
 * Only the placements this workload can tell apart are run: without request
 * VMs the backend bit changes nothing, without a migration the admin bit
 * (the creation of a VM has no vCPU to run under). Ties keep the lower
 * placement, so the result does not depend on float noise's sign. */
static int run_oracle(const closer_sim_config *cfg, closer_sim_result *ret, closer_error *err) {
        unsigned relevant = 0;
        if (cfg->w_io_vms >= 1 || cfg->w_web_vm >= 0.5 || cfg->w_span_vms >= 1)
                relevant |= CLOSER_SIM_UNDER_BACKENDS;
        if (cfg->w_migrate >= 0.5)
                relevant |= CLOSER_SIM_UNDER_ADMIN;
        closer_sim_result best = {0};
        bool first = true;
        for (unsigned p = 0; p < CLOSER_SIM_PLACEMENTS; p++) {
                if (p & ~relevant)
                        continue;
                closer_sim_result r;
                int k = run(cfg, CLOSER_SIM_ORACLE, p, &r, NULL, err);
                if (k < 0)
                        return k;
                if (first) {
                        best = r;
                        first = false;
                        continue;
                }
                for (unsigned m = 0; m < CLOSER_SIM_M_MAX; m++) {
                        bool higher = closer_sim_metric_higher_is_better((closer_sim_metric) m);
                        if (higher ? r.v[m] > best.v[m] : r.v[m] < best.v[m]) {
                                best.v[m] = r.v[m];
                                best.placement[m] = p;
                        }
                }
                best.done = best.done && r.done;
                if (r.sim_ns > best.sim_ns)
                        best.sim_ns = r.sim_ns;
        }
        *ret = best;
        return 0;
}

int closer_sim_run(const closer_sim_config *cfg, closer_sim_policy policy, closer_sim_result *ret, closer_error *err) {
        if (policy == CLOSER_SIM_ORACLE)
                return run_oracle(cfg, ret, err);
        return run(cfg, policy, 0, ret, NULL, err);
}

int closer_sim_snapshot_json(const closer_sim_config *cfg, char **ret, closer_error *err) {
        return run(cfg, CLOSER_SIM_CLOSER, 0, NULL, ret, err);
}
