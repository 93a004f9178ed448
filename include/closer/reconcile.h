/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "closer/accounting.h"
#include "closer/cpuset.h"
#include "closer/plan.h"
#include "closer/snapshot.h"

/*
 * Reconcile as data: from the plan, the snapshot and what the daemon found on
 * the host (affinities read, caps found, targets it applied), the list of
 * changes that make the host match the plan, in the order they must be made.
 * Pure: no I/O. closerd's manager reads the "found" values, asks for the
 * actions of one phase, then applies them in one place (or, in a dry run,
 * prints them); the write-ahead record of each value found is the manager's.
 *
 * The phases stay apart because each one's actual depends on the one before:
 * a process moved into its leaf has its affinity reset by the kernel, so the
 * threads' affinities are read after the cgroup phase ran.
 */

/* An object that refused a change for good (a tid with its start time, or
 * an IRQ): it is not touched again. */
typedef struct closer_skip {
        bool is_irq;
        int id;
        uint64_t start_time;
} closer_skip;

/* A node<N>/vm<D> leaf this run made, with the cpuset written. */
typedef struct closer_leaf_made {
        int node, domid;
        closer_cpuset cpus;
} closer_leaf_made;

/* A process this run moved into a domain's leaf. */
typedef struct closer_moved {
        int pid;
        uint64_t start_time;
        int node, domid;
} closer_moved;

/* What this run did, and what it refuses to touch again. */
typedef struct closer_applied {
        const closer_skip *skip;
        unsigned n_skip;
        const closer_cpuset *node_cpus; /* [CLOSER_NODES_MAX]: node<N> cpuset written, empty: none */
        const closer_leaf_made *leaves;
        unsigned n_leaves;
        const closer_moved *moved;
        unsigned n_moved;
} closer_applied;

/* An affinity as found: of plan->threads[index] or plan->irqs[index]. */
typedef struct closer_found_cpus {
        unsigned index;
        closer_cpuset cpus;
} closer_found_cpus;

/* One domain's memory as the daemon knows it, by plan->domains index. */
typedef struct closer_mem_now {
        bool tracked;                   /* false: leave it alone this tick */
        bool stuck;                     /* its balloon did not follow: no longer moved */
        uint64_t applied_kib;           /* the target we set, 0: none yet */
        uint64_t actual_at_set_kib;     /* its actual memory when we set it */
        bool checked;                   /* actual_kib was read: the grace after our last set is over */
        uint64_t actual_kib;
} closer_mem_now;

/* One accounting row's cap as the daemon knows it (same index as the rows). */
typedef struct closer_cap_now {
        bool known;                     /* false: leave it alone (no track, cap unreadable) */
        unsigned found_pct;             /* scheduler cap as found, 0 = none */
        unsigned applied_pct;           /* the cap we set, 0: none yet */
} closer_cap_now;

/* A systemd unit's AllowedCPUs= as the daemon knows it: what this run set,
 * else as read; or, to put back, as found. */
typedef struct closer_unit_now {
        const char *unit;
        bool known;                     /* false: not loaded or unreadable: leave it alone */
        closer_cpuset cpus;             /* empty: no AllowedCPUs= (every CPU) */
} closer_unit_now;

/* A scheduler cap as found, recorded. */
typedef struct closer_cap_found {
        int domid;
        unsigned cap_pct;
} closer_cap_found;

typedef enum closer_action_op {
        CLOSER_OP_THREAD = 0,           /* a dom0 thread's affinity */
        CLOSER_OP_IRQ,                  /* an event-channel IRQ onto one dom0 CPU */
        CLOSER_OP_NODE_CPUS,            /* the cpuset of the secondary container node<N> */
        CLOSER_OP_LEAF,                 /* make or rewrite node<N>/vm<D> */
        CLOSER_OP_LEAF_REMOVE,          /* a running domain's leaf it no longer needs */
        CLOSER_OP_PROCESS,              /* a process into its domain's leaf */
        CLOSER_OP_VM_MEM_LEVEL,         /* the I/O level a VM's memory is moved by, in force */
        CLOSER_OP_VM_MEM,               /* a VM's balloon target */
        CLOSER_OP_VM_MEM_PUT_BACK,      /* a stuck balloon's target back as found */
        CLOSER_OP_DOM0_MEM,             /* dom0's balloon target */
        CLOSER_OP_CAP,                  /* a VM's scheduler cap (charge = cap) */
        CLOSER_OP_CAP_PUT_BACK,         /* a VM's scheduler cap back as found */
        CLOSER_OP_UNIT_CPUS,            /* a systemd unit's AllowedCPUs= to the main container's CPUs */
        CLOSER_OP_UNIT_CPUS_PUT_BACK,   /* a systemd unit's AllowedCPUs= back as found */
        _CLOSER_OP_MAX,
} closer_action_op;

/* One change. CPU sets point into the plan or into the found arrays given,
 * which must outlive the list. */
typedef struct closer_action {
        closer_action_op op;
        union {
                struct {
                        unsigned index;                 /* plan->threads, snapshot->threads */
                        int tid;
                        uint64_t start_time;
                        const closer_cpuset *cpus, *found;
                } thread;
                struct {
                        unsigned index;                 /* plan->irqs */
                        unsigned irq;
                        int domid;
                        int cpu;
                        const closer_cpuset *found;
                } irq;
                struct {
                        int node;                       /* node id */
                        int domid;                      /* -1: node<N> itself (CLOSER_OP_NODE_CPUS) */
                        const closer_cpuset *cpus;      /* NULL for CLOSER_OP_LEAF_REMOVE */
                } leaf;
                struct {
                        unsigned index;                 /* plan->threads of its main thread */
                        int pid;
                        uint64_t start_time;
                        int node, domid;
                } process;
                struct {
                        unsigned index;                 /* plan->domains, snapshot->domains */
                        int domid;
                        uint64_t target_kib;
                        bool grow;                      /* only once dom0 shrank (see below) */
                        uint64_t asked_kib, left_kib;   /* put back: what the balloon did not do */
                        unsigned io_level;              /* CLOSER_OP_VM_MEM_LEVEL */
                } vm_mem;
                struct {
                        bool shrink_only;               /* before the VMs grow: only if smaller */
                        uint64_t found_kib;             /* dom0's target as found */
                        uint64_t planned_kib;           /* found + every VM's planned reserve */
                } dom0_mem;
                struct {
                        const char *name;               /* "system.slice" */
                        const closer_cpuset *cpus;      /* empty: AllowedCPUs= reset (put back only) */
                        const closer_cpuset *found;     /* as found; put back: == cpus */
                } unit;
                struct {
                        unsigned index;                 /* snapshot->domains; put back: unused */
                        int domid;
                        unsigned cap_pct, found_pct;
                } cap;
        };
} closer_action;

typedef struct closer_actions {
        unsigned n, cap;
        closer_action *a;
} closer_actions;

/* Empty the list, keeping its memory; free it. */
void closer_actions_clear(closer_actions *l);
void closer_actions_done(closer_actions *l);

/* Whether closer moves this thread at all: everything that works for a
 * domain, the datacenter agents and the toolstack, T0 user processes; not
 * kernel T0 threads. */
bool closer_reconcile_manages_thread(const closer_thread *t, const closer_plan_thread *pt);

/* Whether an object refused a change for good. */
bool closer_reconcile_skipped(const closer_applied *ap, bool is_irq, int id, uint64_t start_time);

/* Whether a balloon asked to go from was_kib to want_kib, now at actual_kib
 * once its grace is over, did not follow. */
bool closer_reconcile_balloon_stuck(uint64_t want_kib, uint64_t was_kib, uint64_t actual_kib);

/* The cap for a VM whose cap as found is found_pct (0: none, its quota is
 * all its vCPUs), for dom0_cpu_ns of dom0 CPU done for it in interval_ns:
 * its quota minus that, never below 10 % of a pCPU. */
unsigned closer_reconcile_cap(unsigned found_pct, unsigned n_vcpus, uint64_t dom0_cpu_ns, uint64_t interval_ns);

/*
 * Each appends its phase's actions to *out; 0, or -ENOMEM (the list then
 * holds what was appended before).
 *
 * cgroups: node<N> cpusets that differ from what was written, leaves that
 * differ from what was made, each domain's processes (by their main thread)
 * not yet in their leaf, then leaves of running domains no longer planned.
 */
int closer_reconcile_cgroups(const closer_plan *p, const closer_snapshot *s, const closer_applied *ap,
                             closer_actions *out);
/* Threads closer manages whose affinity as found (found[], by plan index,
 * the threads read) differs from the plan. */
int closer_reconcile_threads(const closer_plan *p, const closer_snapshot *s, const closer_found_cpus *found,
                             unsigned n_found, closer_actions *out);
/* IRQs whose affinity as found is not the plan's one dom0 CPU. */
int closer_reconcile_irqs(const closer_plan *p, const closer_found_cpus *found, unsigned n_found,
                          closer_actions *out);
/*
 * Algorithm 1 through the balloons, in the order that never promises a page
 * twice: each VM's I/O level in force (the next snapshot's io_level, the
 * hysteresis of the levels), stuck balloons put back and VMs that shrink (or
 * are set for the first time), then dom0 shrink-only, then VMs that grow (the executor skips
 * them when that dom0 step failed), then dom0 to what the VMs gave. now[] is
 * by plan->domains index; dom0_found_kib is dom0's target as found.
 */
int closer_reconcile_memory(const closer_plan *p, const closer_snapshot *s, const closer_mem_now *now,
                            uint64_t dom0_found_kib, closer_actions *out);
/*
 * charge = cap: each VM capped at its quota minus the dom0 CPU billed to it
 * in the last interval (closer_reconcile_cap), moved only by 5 points or
 * more. rows and now[] are alike indexed.
 */
int closer_reconcile_caps(const closer_snapshot *s, const closer_acct_row *rows, unsigned n_rows,
                          const closer_cap_now *now, closer_actions *out);
/* Not charging by cap (any more): every cap recorded goes back as found. */
int closer_reconcile_caps_put_back(const closer_cap_found *found, unsigned n_found, closer_actions *out);
/*
 * Under systemd (closer/units.h): each known unit whose AllowedCPUs= is not
 * the main container's CPUs gets them (nothing when main is empty). Made in
 * the cgroup phase, before the threads' affinities are read: the kernel
 * resets the affinity of every task in a cpuset it changes, so the threads
 * in those slices then have the main CPUs and need no action of their own.
 */
int closer_reconcile_units(const closer_cpuset *main_cpus, const closer_unit_now *now, unsigned n,
                           closer_actions *out);
/* Every unit recorded goes back as found (empty: AllowedCPUs= reset). */
int closer_reconcile_units_put_back(const closer_unit_now *found, unsigned n, closer_actions *out);
