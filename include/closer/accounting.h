/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

#include "closer/plan.h"
#include "closer/snapshot.h"

/*
 * Accounting arithmetic (thesis §3.4 "Accounting/Billing"): how much dom0
 * work each domain caused in an interval. Thread CPU time is attributed to
 * the domain the plan gave it; memory is the dom0 reserve held for it,
 * integrated over time. Robust to tid reuse (a thread is (tid, start_time)),
 * to threads that appear or vanish between two samples, and to counters that
 * go backwards (treated as a new thread: its whole counter is new work).
 */

typedef struct closer_acct_thread {
        int tid;
        uint64_t start_time;
        uint64_t cpu_ns;
} closer_acct_thread;

/* What the previous sample left: threads sorted by tid, and its time. */
typedef struct closer_acct_state {
        uint64_t time_ns;
        unsigned n;
        closer_acct_thread *threads;
        int primed;             /* 0 until the first sample */
} closer_acct_state;

typedef struct closer_acct_row {
        int domid;
        uint64_t dom0_cpu_ns;   /* dom0 CPU spent for it in the interval */
        uint64_t mem_kib_s;     /* KiB x seconds of dom0 memory held for it */
        uint64_t interval_ns;
} closer_acct_row;

void closer_acct_state_init(closer_acct_state *st);
void closer_acct_state_done(closer_acct_state *st);

/*
 * Advance from the previous sample to snapshot s (with its plan p). Fills
 * *ret_rows (malloc'd, one per domain of the plan, caller frees) and returns
 * their number (>= 0), or -ENOMEM. The first call only primes the state and
 * returns 0 rows. Time going backwards → 0 rows, state re-primed.
 */
int closer_acct_step(closer_acct_state *st, const closer_snapshot *s, const closer_plan *p,
                     closer_acct_row **ret_rows);
