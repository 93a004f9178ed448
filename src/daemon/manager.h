/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "closer/accounting.h"
#include "closer/config.h"
#include "closer/hostos.h"
#include "closer/hypervisor.h"
#include "closer/plan.h"
#include "closer/reconcile.h"
#include "closer/sense.h"
#include "closer/snapshot.h"
#include "closer/units.h"
#include "daemon/log.h"
#include "daemon/state.h"

/*
 * The manager: one loop of observe -> decide -> act -> account, driven by
 * closerd's event loop (or a test) with an explicit `now`. It owns the last
 * snapshot and plan, what it applied, and what was there before (state).
 */

/* What the manager tracks per running domain between ticks. */
typedef struct closer_dom_track {
        int domid;
        char uuid[40];
        closer_io_rate io;              /* its I/O rates, smoothed over io_tau_ns */
        unsigned io_level;
        uint64_t mem_m_kib;             /* M, the memory the toolstack gave it: its balloon
                                         * target as found (state file, else read at first
                                         * sight); 0: unknown, max_pages stands in */
        uint64_t applied_target_kib;    /* 0: not set by us yet */
        uint64_t target_set_ns;         /* when we last moved it */
        uint64_t actual_at_set_kib;
        bool balloon_stuck;             /* its balloon did not follow: stop moving its memory */
        uint64_t dom0_cpu_ns_total;     /* dom0 CPU spent for it since this closerd tracks it */
        uint64_t dom0_reserve_kib;      /* dom0 memory held for it (plan) */
        unsigned applied_cap_pct;       /* cap we set (charge = cap), 0: none set */
        bool seen;                      /* present in this tick's snapshot */
} closer_dom_track;

typedef enum closer_action_kind {
        CLOSER_ACT_THREAD = 0,
        CLOSER_ACT_IRQ,
        CLOSER_ACT_CGROUP,
        CLOSER_ACT_MEMORY,
        CLOSER_ACT_DOM0_PIN,
        CLOSER_ACT_CAP,
        _CLOSER_ACT_MAX,
} closer_action_kind;

/* Where a tick's CPU goes, for closerd's own cost (status, metrics). The
 * daemon adds the ledger's share; the manager measures the rest. */
typedef enum closer_tick_phase {
        CLOSER_PHASE_HYPERVISOR = 0,    /* domains, vCPUs, memory targets, I/O counters */
        CLOSER_PHASE_THREADS,           /* dom0's threads from /proc */
        CLOSER_PHASE_IRQS,              /* dom0's IRQs and the managed ones' affinity */
        CLOSER_PHASE_IRQ_MAP,           /* event-channel IRQ -> domain */
        CLOSER_PHASE_PLAN,              /* classify and plan (the core) */
        CLOSER_PHASE_APPLY,             /* cgroups, affinities, memory targets, caps, state file */
        CLOSER_PHASE_ACCOUNT,           /* attributing dom0 CPU to domains */
        CLOSER_PHASE_LEDGER,            /* the SQLite ledger (closerd) */
        _CLOSER_PHASE_MAX,
} closer_tick_phase;

/* Short name of a phase for status and metrics ("hypervisor", "threads"...). */
const char *closer_tick_phase_name(closer_tick_phase p);

typedef struct closer_manager_stats {
        uint64_t ticks;
        uint64_t actions[_CLOSER_ACT_MAX];
        uint64_t errors_transient, errors_permanent, errors_fatal;
        uint64_t errors_ledger;         /* ticks whose billing could not be written then (closerd) */
        uint64_t errors_tick;           /* ticks that could not observe or plan (closerd) */
        uint64_t errors_state;          /* state file saves that failed (nothing changed then) */
        uint64_t last_tick_ns;          /* wall time the last tick took */
        uint64_t phase_cpu_ns[_CLOSER_PHASE_MAX];       /* closerd's CPU by phase, all ticks */
        double main_load;               /* CPUs' worth of dom0 work outside every domain's account, last interval */
} closer_manager_stats;

typedef struct closer_manager {
        closer_config cfg;
        closer_hypervisor *hv;          /* not owned */
        closer_hostos *host;            /* not owned */
        bool dry_run;
        char *state_path;               /* NULL: in memory only */
        closer_state *state;

        closer_snapshot *snap;          /* last tick's */
        closer_plan *plan;
        closer_acct_state acct;
        closer_acct_row *rows;          /* last tick's accounting rows */
        int n_rows;

        unsigned n_dom, cap_dom;
        closer_dom_track *dom;

        /* Objects that refused a change for good (ESRCH/EINVAL...), not
         * touched again: tids (with start time) and IRQs. */
        unsigned n_skip, cap_skip;
        closer_skip *skip;

        closer_cpuset node_leaf_cpus[CLOSER_NODES_MAX]; /* node<N> cpuset written, empty: none */
        /* The node<N>/vm<D> leaves this run made, with the cpuset written:
         * a domain has one in each node it runs on. */
        unsigned n_leaves, cap_leaves;
        closer_leaf_made *leaves;
        unsigned n_moved, cap_moved;
        closer_moved *moved;
        /* Each phase's actions and the affinities found (one per managed
         * thread: the largest arrays of a tick), kept between ticks rather
         * than allocated again every tick. */
        closer_actions actions;
        /* systemd's units (host ops unit_*): each main unit's AllowedCPUs=
         * as this run set it or read it (the actions point here) */
        closer_unit_now units[CLOSER_MAIN_UNITS_N];
        bool units_set[CLOSER_MAIN_UNITS_N];    /* units[i].cpus is what this run set */
        bool units_off;                 /* a bus call failed: per-thread affinity only, said once */
        unsigned cap_found;
        closer_found_cpus *found;
        uint64_t cpu_total_ns;          /* sum of all dom0 threads' CPU at the last tick */
        uint64_t numa_exact_ns;         /* when Xen's per-node count was last asked for, 0: never */
        uint64_t dom0_base_kib;         /* dom0's target as found */
        uint64_t dom0_applied_kib;
        closer_manager_stats stats;
        bool config_rejected;           /* the last tick's plan failed where the built-in
                                         * defaults plan: the configuration is at fault */
        bool warned_unpinned;           /* said once that dom0 vCPUs are not pinned */
        bool warned_no_caps;            /* said once that the hypervisor cannot cap */
        int state_error;                /* -errno of the last state save, 0 once one worked */
        closer_ratelimit state_log;     /* a failing save fails at every change */
        uint64_t now_usec;              /* this tick's time, for the rate limits */
        int last_fatal_r;               /* the last failure logged as a warning ... */
        uint64_t last_fatal_tick;       /* ... when ... */
        char last_fatal_what[96];       /* ... and on what (rate limit) */
        uint64_t balloon_grace_ns;      /* how long a balloon may take to follow */
        uint64_t io_tau_ns;             /* I/O rates: time constant of their moving average */
        uint64_t (*cpu_ns)(void);       /* this thread's CPU time; NULL: phases not measured */
        uint64_t phase_mark_ns;         /* cpu_ns() at the end of the last phase measured */
} closer_manager;

/* Create; loads state_path (NULL: none) to resume what a previous run
 * changed. Returns 0 and *ret, or -errno with err. */
int closer_manager_new(const closer_config *cfg, closer_hypervisor *hv, closer_hostos *host, bool dry_run,
                       const char *state_path, closer_manager **ret, closer_error *err);
closer_manager *closer_manager_free(closer_manager *m);

/* One loop at monotonic time now_ns. Returns 0 (also when some objects
 * failed: they are counted in stats and logged), or -errno when the host
 * cannot be observed or planned at all (err says why). */
int closer_manager_tick(closer_manager *m, uint64_t now_ns, closer_error *err);

/* Put every affinity and memory target back as found (what the state
 * records), then forget it. Returns 0 or the first error (continuing). */
int closer_manager_restore(closer_manager *m);

/* Charge the CPU this thread used since the last mark to phase p, and mark.
 * Does nothing without m->cpu_ns. */
void closer_manager_phase(closer_manager *m, closer_tick_phase p);

/* Replace the configuration (SIGHUP); the next tick plans with it. */
void closer_manager_set_config(closer_manager *m, const closer_config *cfg);

/* Write the state file now (closerd at start: a state file that cannot be
 * written means closerd could change nothing safely). 0 or -errno; not
 * counted nor logged. */
int closer_manager_save_state(closer_manager *m);

/* Whether cfg plans the last snapshot: 0, or the planner's -errno with err
 * (e.g. a main node this host does not have). 0 before the first tick:
 * there is nothing to check against yet. */
int closer_manager_check_config(closer_manager *m, const closer_config *cfg, closer_error *err);
