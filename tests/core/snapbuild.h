/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helpers: build snapshots in code (no JSON), the way the policy sees them. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "closer/snapshot.h"

/* nodes x cpus_per_node pCPUs, node i holds CPUs [i*k, (i+1)*k), 10 GiB each,
 * distance 10 local / 21 remote; dom0 has one vCPU pinned on each of the
 * first n_dom0 pCPUs (dom0 vCPU i on pCPU i). */
static inline closer_snapshot *sb_host(unsigned nodes, unsigned cpus_per_node, unsigned n_dom0) {
        closer_snapshot *s = calloc(1, sizeof(*s));
        s->topo.n_nodes = nodes;
        for (unsigned n = 0; n < nodes; n++) {
                closer_node *nd = &s->topo.nodes[n];
                nd->id = (int) n;
                nd->mem_kib = 10u * 1024 * 1024;
                nd->free_kib = nd->mem_kib / 2;
                for (unsigned c = 0; c < cpus_per_node; c++)
                        closer_cpuset_set(&nd->cpus, n * cpus_per_node + c);
                for (unsigned m = 0; m < nodes; m++)
                        nd->distances[m] = m == n ? 10 : 21;
        }
        for (unsigned i = 0; i < CLOSER_CPUSET_MAX; i++)
                s->topo.cpu_node[i] = (int16_t) (i < nodes * cpus_per_node ? (int) (i / cpus_per_node) : -1);
        s->dom0.n_vcpus = n_dom0;
        s->dom0.vcpus = calloc(n_dom0 ? n_dom0 : 1, sizeof(closer_vcpu));
        for (unsigned i = 0; i < n_dom0; i++)
                s->dom0.vcpus[i] = (closer_vcpu) {.id = i, .pcpu = (int) i};
        s->dom0.mem_kib = 2u * 1024 * 1024;
        return s;
}

/* Add a domain with vCPUs on the given pCPUs (-1 = offline) and all of its
 * memory (mem_kib) on node mem_node (-1 = no per-node information). */
static inline closer_domain *sb_domain(closer_snapshot *s, int domid, uint64_t mem_kib, int mem_node,
                                       unsigned n_vcpus, const int *pcpus) {
        s->domains = realloc(s->domains, (s->n_domains + 1) * sizeof(closer_domain));
        closer_domain *d = &s->domains[s->n_domains++];
        memset(d, 0, sizeof(*d));
        d->domid = domid;
        snprintf(d->name, sizeof(d->name), "vm%d", domid);
        d->mem_kib = mem_kib;
        if (mem_node >= 0)
                d->mem_kib_by_node[mem_node] = mem_kib;
        d->n_vcpus = n_vcpus;
        d->vcpus = calloc(n_vcpus ? n_vcpus : 1, sizeof(closer_vcpu));
        for (unsigned i = 0; i < n_vcpus; i++)
                d->vcpus[i] = (closer_vcpu) {.id = i, .pcpu = pcpus[i]};
        return d;
}

static inline closer_thread *sb_thread(closer_snapshot *s, int tid, int pid, const char *comm, bool kernel) {
        s->threads = realloc(s->threads, (s->n_threads + 1) * sizeof(closer_thread));
        closer_thread *t = &s->threads[s->n_threads++];
        memset(t, 0, sizeof(*t));
        t->tid = tid;
        t->pid = pid;
        t->kernel = kernel;
        t->last_cpu = -1;
        snprintf(t->comm, sizeof(t->comm), "%s", comm);
        return t;
}

static inline closer_irq *sb_irq(closer_snapshot *s, unsigned irq, const char *name, unsigned n_counts,
                                 const uint64_t *counts) {
        s->irqs = realloc(s->irqs, (s->n_irqs + 1) * sizeof(closer_irq));
        closer_irq *q = &s->irqs[s->n_irqs++];
        memset(q, 0, sizeof(*q));
        q->irq = irq;
        snprintf(q->chip, sizeof(q->chip), "xen-dyn-lateeoi");
        snprintf(q->name, sizeof(q->name), "%s", name);
        q->n_counts = n_counts;
        q->per_cpu_counts = calloc(n_counts ? n_counts : 1, sizeof(uint64_t));
        if (counts)
                memcpy(q->per_cpu_counts, counts, n_counts * sizeof(uint64_t));
        q->domid = -1;
        q->queue = -1;
        q->cpu = -1;
        return q;
}
