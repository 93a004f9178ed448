/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Accounting arithmetic (thesis §3.4, "Accounting/Billing"): dom0 CPU time
 * and dom0 memory held per domain and interval.
 *
 * A thread is identified by (tid, start_time): Linux reuses tids, and a reused
 * tid has a different start time. A thread seen for the first time, a reused
 * tid, or a counter that went backwards all mean "a thread we have not
 * measured before": its whole counter is work done within the interval (it
 * cannot have run before it started, and the previous sample did not count it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "closer/accounting.h"
#include "basic/sort-util.h"

#define NS_PER_S UINT64_C(1000000000)

void closer_acct_state_init(closer_acct_state *st) {
        *st = (closer_acct_state) {0};
}

void closer_acct_state_done(closer_acct_state *st) {
        free(st->threads);
        *st = (closer_acct_state) {0};
}

static int cmp_acct(const void *a, const void *b) {
        const closer_acct_thread *x = a, *y = b;
        if (x->tid != y->tid)
                return x->tid < y->tid ? -1 : 1;
        if (x->start_time != y->start_time)
                return x->start_time < y->start_time ? -1 : 1;
        return 0;
}

static int cmp_first(const void *a, const void *b) {
        const int *x = a, *y = b;
        return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* The snapshot's threads as a sorted array; NULL only on ENOMEM (n > 0). */
static closer_acct_thread *take_threads(const closer_snapshot *s) {
        closer_acct_thread *a = calloc(s->n_threads ? s->n_threads : 1, sizeof(*a));
        if (!a)
                return NULL;
        for (unsigned i = 0; i < s->n_threads; i++)
                a[i] = (closer_acct_thread) {
                        .tid = s->threads[i].tid,
                        .start_time = s->threads[i].start_time,
                        .cpu_ns = s->threads[i].cpu_ns,
                };
        closer_qsort_safe(a, s->n_threads, sizeof(*a), cmp_acct);
        return a;
}

static const closer_acct_thread *find_prev(const closer_acct_state *st, int tid, uint64_t start_time) {
        closer_acct_thread key = {.tid = tid, .start_time = start_time};
        return bsearch(&key, st->threads, st->n, sizeof(key), cmp_acct);
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a + b < a ? UINT64_MAX : a + b;
}

/* kib x ns / 1e9 without overflow (saturating). */
static uint64_t kib_seconds(uint64_t kib, uint64_t ns) {
        unsigned __int128 v = (unsigned __int128) kib * ns / NS_PER_S;
        return v > UINT64_MAX ? UINT64_MAX : (uint64_t) v;
}

/* Work done by thread `t` since the previous sample. */
static uint64_t thread_delta(const closer_acct_state *st, const closer_acct_thread *t) {
        const closer_acct_thread *prev = find_prev(st, t->tid, t->start_time);
        if (!prev || t->cpu_ns < prev->cpu_ns)
                return t->cpu_ns;
        return t->cpu_ns - prev->cpu_ns;
}

static void reprime(closer_acct_state *st, const closer_snapshot *s, closer_acct_thread *threads) {
        free(st->threads);
        st->threads = threads;
        st->n = s->n_threads;
        st->time_ns = s->time_ns;
        st->primed = 1;
}

int closer_acct_step(closer_acct_state *st, const closer_snapshot *s, const closer_plan *p,
                     closer_acct_row **ret_rows) {
        closer_acct_thread *cur = take_threads(s);
        if (!cur)
                return -ENOMEM;

        if (!st->primed || s->time_ns < st->time_ns) {
                /* first sample, or a clock that went back: no interval to bill */
                reprime(st, s, cur);
                *ret_rows = NULL;
                return 0;
        }

        closer_acct_row *rows = calloc(p->n_domains ? p->n_domains : 1, sizeof(*rows));
        /* (domid, row) sorted by domid, then (tid, row) of the plan's threads
         * that work for a domain, sorted by tid */
        int (*dix)[2] = calloc(p->n_domains ? p->n_domains : 1, sizeof(*dix));
        int (*owner)[2] = calloc(p->n_threads ? p->n_threads : 1, sizeof(*owner));
        if (!rows || !dix || !owner) {
                free(rows);
                free(dix);
                free(owner);
                free(cur);
                return -ENOMEM;
        }
        uint64_t interval_ns = s->time_ns - st->time_ns;
        for (unsigned d = 0; d < p->n_domains; d++) {
                rows[d] = (closer_acct_row) {
                        .domid = p->domains[d].domid,
                        .mem_kib_s = kib_seconds(p->domains[d].dom0_reserve_kib, interval_ns),
                        .interval_ns = interval_ns,
                };
                dix[d][0] = p->domains[d].domid;
                dix[d][1] = (int) d;
        }
        closer_qsort_safe(dix, p->n_domains, sizeof(*dix), cmp_first);

        unsigned n_owner = 0;
        for (unsigned i = 0; i < p->n_threads; i++) {
                int key[2] = {p->threads[i].domid, 0};
                const int *hit = p->threads[i].domid == CLOSER_DOMID_NONE ? NULL :
                        bsearch(key, dix, p->n_domains, sizeof(*dix), cmp_first);
                if (!hit)
                        continue;       /* main work: the provider pays */
                owner[n_owner][0] = p->threads[i].tid;
                owner[n_owner][1] = hit[1];
                n_owner++;
        }
        closer_qsort_safe(owner, n_owner, sizeof(*owner), cmp_first);

        for (unsigned i = 0; i < s->n_threads; i++) {
                int key[2] = {cur[i].tid, 0};
                const int *o = bsearch(key, owner, n_owner, sizeof(*owner), cmp_first);
                if (!o)
                        continue;
                closer_acct_row *row = &rows[o[1]];
                row->dom0_cpu_ns = add_sat(row->dom0_cpu_ns, thread_delta(st, &cur[i]));
        }

        free(dix);
        free(owner);
        reprime(st, s, cur);
        if (p->n_domains == 0) {
                free(rows);
                rows = NULL;
        }
        *ret_rows = rows;
        return (int) p->n_domains;
}
