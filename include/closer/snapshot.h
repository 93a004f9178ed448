/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "closer/cpuset.h"
#include "closer/error.h"

/*
 * The snapshot: one consistent picture of a host at one instant, the only
 * input of the policy. Format `closer-snapshot/1` (docs/formats.md). Plain
 * data; everything is owned by the snapshot and freed by
 * closer_snapshot_free().
 *
 * Indexing: nodes are stored by index (0..n_nodes-1); `id` is the hypervisor's
 * node number. Every per-node array below is indexed by node *index*.
 */

#define CLOSER_NODES_MAX 64u
#define CLOSER_NAME_MAX 64u
#define CLOSER_DOMID_NONE (-1)
/* The largest valid domid: Xen reserves DOMID_FIRST_RESERVED (0x7ff0) and up
 * (DOMID_SELF, DOMID_IO...). Domains are 0 (dom0) to this; domUs from 1. */
#define CLOSER_DOMID_MAX 0x7fef

typedef struct closer_node {
        int id;                         /* hypervisor node number */
        closer_cpuset cpus;             /* pCPUs of this node */
        uint64_t mem_kib;
        uint64_t free_kib;
        unsigned distances[CLOSER_NODES_MAX]; /* SLIT-style, by node index; 10 = local */
} closer_node;

typedef struct closer_topology {
        unsigned n_nodes;
        closer_node nodes[CLOSER_NODES_MAX];
        int16_t cpu_node[CLOSER_CPUSET_MAX]; /* pCPU -> node index, -1 if not on any node */
} closer_topology;

/* Rebuild topo->cpu_node from the nodes' cpus. Returns 0, or -EINVAL if a pCPU
 * sits on two nodes (err says which). */
int closer_topology_index(closer_topology *topo, closer_error *err);
/* Node index of a pCPU, -1 when unknown / out of range. */
int closer_topology_node_of_cpu(const closer_topology *topo, int pcpu);
/* Node index of a node id, -1 when absent. */
int closer_topology_node_index(const closer_topology *topo, int node_id);

typedef struct closer_vcpu {
        unsigned id;
        int pcpu;                       /* where it runs now; -1 offline / unknown */
        bool has_affinity;
        closer_cpuset affinity;         /* hard affinity, if known */
} closer_vcpu;

typedef struct closer_domain {
        int domid;
        char name[CLOSER_NAME_MAX];
        char uuid[40];                  /* "" if unknown */
        uint64_t mem_kib;               /* M: memory the domain was created with */
        uint64_t mem_kib_by_node[CLOSER_NODES_MAX]; /* by node index */
        unsigned n_vcpus;
        closer_vcpu *vcpus;
        double io_ops_per_s;
        double io_bytes_per_s;
        unsigned io_level;              /* memory level in force now (0 when unknown) */
} closer_domain;

typedef struct closer_thread {
        int tid;
        int pid;
        int ppid;                       /* 0 if unknown */
        char comm[CLOSER_NAME_MAX];
        bool kernel;                    /* kernel thread (PF_KTHREAD) */
        uint64_t cpu_ns;                /* utime+stime of this thread */
        uint64_t start_time;            /* clock ticks since boot (stat field 22); 0 unknown */
        int last_cpu;                   /* dom0 CPU it last ran on; -1 unknown */
        unsigned n_cmdline;
        char **cmdline;                 /* argv of its process, may be empty */
        /* Read for `xl` processes only (the domain monitor xl leaves behind,
         * rules.c): where the process's fd 1 points (the kernel's readlink of
         * /proc/PID/fd/1, e.g. "/var/log/xen/xl-du1.log"), NULL when unknown;
         * and its real uid, when has_uid (a zeroed thread is not root). */
        char *stdout_path;
        bool has_uid;
        uint32_t uid;
} closer_thread;

typedef enum closer_irq_kind {
        CLOSER_IRQ_UNKNOWN = 0,         /* let the rules decide from the name */
        CLOSER_IRQ_VM_INITIATED,        /* guest kicks the backend (blkif, vif tx) */
        CLOSER_IRQ_EXTERNAL,            /* traffic towards the guest (vif rx) */
} closer_irq_kind;

typedef struct closer_irq {
        unsigned irq;
        char chip[CLOSER_NAME_MAX];
        char name[CLOSER_NAME_MAX];
        unsigned n_counts;
        uint64_t *per_cpu_counts;       /* by dom0 CPU */
        /* Filled by the hypervisor adapter when the name does not say
         * (blkif-backend): the remote domain from Xen's event-channel table
         * (trusted) and the queue index from the frontend (untrusted: it may
         * only choose among that domain's own vCPUs). -1 when unknown. */
        int domid;
        int queue;
        closer_irq_kind kind;
        /* The dom0 CPU it is bound to now, when it is bound to exactly one
         * (-1 otherwise or unknown): lets the policy leave a receive IRQ where
         * it is while that CPU is not clearly the busiest (no churn). */
        int cpu;
} closer_irq;

typedef struct closer_snapshot {
        uint64_t time_ns;
        closer_topology topo;
        struct {
                unsigned n_vcpus;
                closer_vcpu *vcpus;     /* dom0 vCPU id == Linux CPU number in dom0 */
                uint64_t mem_kib;
        } dom0;
        unsigned n_domains;
        closer_domain *domains;
        unsigned n_threads;
        closer_thread *threads;
        unsigned n_irqs;
        closer_irq *irqs;
} closer_snapshot;

closer_snapshot *closer_snapshot_new(void);
/* Frees everything; accepts NULL; returns NULL. */
closer_snapshot *closer_snapshot_free(closer_snapshot *s);

/*
 * Parse a `closer-snapshot/1` document. `source` names the input in error
 * messages (a file name). Validates everything the policy relies on: known
 * format, node ids unique, no pCPU on two nodes, vCPU pCPUs on known nodes or
 * -1, unique domids, non-negative sizes, memory by node on known nodes.
 * Returns 0 and *ret (caller frees), or -EINVAL with err = "SOURCE: $.path:
 * expected ...".
 */
int closer_snapshot_from_json(const char *text, const char *source, closer_snapshot **ret, closer_error *err);
/* Serialize; returns a malloc'd NUL-terminated string (caller frees) or NULL on ENOMEM. */
char *closer_snapshot_to_json(const closer_snapshot *s);

/* Domain lookup by domid (linear scan over a sorted copy is the caller's job
 * when it matters; this is for tools). Returns NULL when absent. */
const closer_domain *closer_snapshot_find_domain(const closer_snapshot *s, int domid);
