/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Accounting arithmetic: thesis §3.4 "Accounting/Billing" — each VM is billed
 * for the dom0 work done on its behalf (CPU time of its T3/admin threads,
 * dom0 memory reserved for it).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "closer/accounting.h"
#include "closer/policy.h"
#include "snapbuild.h"

typedef struct fixture {
        closer_snapshot s;
        closer_plan p;
        closer_thread th[64];
        closer_plan_thread pt[64];
        closer_plan_domain pd[8];
} fixture;

static void add_thread(fixture *f, int tid, uint64_t start, uint64_t cpu_ns, int domid) {
        unsigned i = f->s.n_threads++;
        f->th[i] = (closer_thread) {.tid = tid, .pid = tid, .start_time = start, .cpu_ns = cpu_ns, .last_cpu = -1};
        f->pt[i] = (closer_plan_thread) {.tid = tid, .pid = tid, .domid = domid, .node = -1};
        f->p.n_threads = f->s.n_threads;
}

static void init_fixture(fixture *f, uint64_t time_ns) {
        memset(f, 0, sizeof(*f));
        f->s.time_ns = time_ns;
        f->s.threads = f->th;
        f->p.threads = f->pt;
        f->p.domains = f->pd;
        f->p.n_domains = 2;
        f->pd[0] = (closer_plan_domain) {.domid = 1, .dom0_reserve_kib = 76800};
        f->pd[1] = (closer_plan_domain) {.domid = 2, .dom0_reserve_kib = 1024};
}

static closer_acct_row *step(closer_acct_state *st, fixture *f, int *ret_n) {
        closer_acct_row *rows = (void *) 0x1;
        int n = closer_acct_step(st, &f->s, &f->p, &rows);
        assert_true(n >= 0);
        *ret_n = n;
        return n == 0 ? NULL : rows;
}

static void test_basic_deltas(void **state) {
        (void) state;
        closer_acct_state st;
        closer_acct_state_init(&st);
        fixture f;
        int n;

        init_fixture(&f, 1000000000);
        add_thread(&f, 10, 5, 100, 1);
        add_thread(&f, 11, 5, 200, 2);
        add_thread(&f, 12, 5, 300, CLOSER_DOMID_NONE);   /* main: not billed */
        assert_null(step(&st, &f, &n));                  /* priming */
        assert_int_equal(n, 0);

        init_fixture(&f, 3000000000);                    /* 2 s later */
        add_thread(&f, 10, 5, 150, 1);                   /* +50 */
        add_thread(&f, 11, 5, 260, 2);                   /* +60 */
        add_thread(&f, 12, 5, 900, CLOSER_DOMID_NONE);
        add_thread(&f, 13, 7, 40, 1);                    /* new: +40 */
        closer_acct_row *rows = step(&st, &f, &n);
        assert_int_equal(n, 2);
        assert_int_equal(rows[0].domid, 1);
        assert_int_equal(rows[0].dom0_cpu_ns, 90);
        assert_int_equal(rows[0].interval_ns, 2000000000);
        assert_int_equal(rows[0].mem_kib_s, 76800 * 2);
        assert_int_equal(rows[1].domid, 2);
        assert_int_equal(rows[1].dom0_cpu_ns, 60);
        assert_int_equal(rows[1].mem_kib_s, 2048);
        free(rows);

        /* tid 10 reused (new start time), tid 11 counter reset, tid 13 gone */
        init_fixture(&f, 3500000000);
        add_thread(&f, 10, 99, 30, 1);                   /* reused: +30 */
        add_thread(&f, 11, 5, 10, 2);                    /* went back: +10 */
        rows = step(&st, &f, &n);
        assert_int_equal(rows[0].dom0_cpu_ns, 30);
        assert_int_equal(rows[1].dom0_cpu_ns, 10);
        assert_int_equal(rows[0].mem_kib_s, 38400);      /* 76800 KiB x 0.5 s */
        free(rows);

        /* time goes backwards: no rows, re-primed at the new time */
        init_fixture(&f, 1000);
        add_thread(&f, 10, 99, 1000000, 1);
        assert_null(step(&st, &f, &n));
        assert_int_equal(n, 0);
        init_fixture(&f, 1000 + 1000000000);
        add_thread(&f, 10, 99, 1000500, 1);
        rows = step(&st, &f, &n);
        assert_int_equal(rows[0].dom0_cpu_ns, 500);
        assert_int_equal(rows[0].interval_ns, 1000000000);
        free(rows);
        closer_acct_state_done(&st);
}

static void test_no_domains_and_overflow(void **state) {
        (void) state;
        closer_acct_state st;
        closer_acct_state_init(&st);
        fixture f;
        int n;

        init_fixture(&f, 0);
        f.p.n_domains = 0;
        add_thread(&f, 1, 1, 5, CLOSER_DOMID_NONE);
        assert_null(step(&st, &f, &n));
        init_fixture(&f, 10);
        f.p.n_domains = 0;
        add_thread(&f, 1, 1, 5, 3);                      /* a domid the plan does not hold */
        assert_null(step(&st, &f, &n));
        assert_int_equal(n, 0);

        /* huge memory x long interval saturates instead of wrapping */
        init_fixture(&f, UINT64_MAX);
        f.pd[0].dom0_reserve_kib = UINT64_MAX;
        add_thread(&f, 1, 1, UINT64_MAX, 1);
        add_thread(&f, 2, 1, UINT64_MAX, 1);
        closer_acct_row *rows = step(&st, &f, &n);
        assert_int_equal(n, 2);
        assert_true(rows[0].mem_kib_s == UINT64_MAX);
        assert_true(rows[0].dom0_cpu_ns == UINT64_MAX);
        free(rows);
        closer_acct_state_done(&st);
}

/* Reference: naive O(n^2) attribution, written independently of the code. */
typedef struct ref_thread {
        int tid;
        uint64_t start, cpu;
} ref_thread;

static uint64_t ref_delta(const ref_thread *prev, unsigned n_prev, const ref_thread *t) {
        for (unsigned i = 0; i < n_prev; i++)
                if (prev[i].tid == t->tid && prev[i].start == t->start)
                        return t->cpu >= prev[i].cpu ? t->cpu - prev[i].cpu : t->cpu;
        return t->cpu;
}

/* Property: over random sequences with tid reuse, vanishing and new threads,
 * counter resets and plans that move threads between domains, each domain's
 * dom0_cpu_ns equals the sum of its threads' deltas, and the sum over domains
 * equals the sum of all thread deltas attributed to a domain of the plan. */
static void test_property(void **state) {
        (void) state;
        unsigned seed = 42;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 8) & 0xffffff)
        for (int run = 0; run < 200; run++) {
                closer_acct_state st;
                closer_acct_state_init(&st);
                ref_thread prev[64];
                unsigned n_prev = 0;
                uint64_t t_ns = RND(), last_ns = 0;
                bool primed = false;
                for (int sample = 0; sample < 12; sample++) {
                        fixture f;
                        init_fixture(&f, t_ns);
                        f.p.n_domains = 1 + RND() % 3;
                        for (unsigned d = 0; d < f.p.n_domains; d++)
                                f.pd[d] = (closer_plan_domain) {.domid = (int) d + 1, .dom0_reserve_kib = RND()};
                        unsigned nt = RND() % 40;
                        ref_thread cur[64];
                        for (unsigned i = 0; i < nt; i++) {
                                int tid = (int) (RND() % 30);   /* collisions and reuse */
                                bool dup = false;
                                for (unsigned k = 0; k < f.s.n_threads; k++)
                                        dup |= cur[k].tid == tid;
                                if (dup)
                                        continue;
                                uint64_t start = RND() % 3;
                                uint64_t cpu = RND();
                                /* mostly keep counters monotonic so deltas are exercised */
                                for (unsigned k = 0; k < n_prev; k++)
                                        if (prev[k].tid == tid && prev[k].start == start && RND() % 8)
                                                cpu = prev[k].cpu + RND() % 1000;
                                int domid = (int) (RND() % 5) - 1;      /* -1, 0..3: some not in plan */
                                if (domid == 0)
                                        domid = CLOSER_DOMID_NONE;
                                unsigned i2 = f.s.n_threads;
                                add_thread(&f, tid, start, cpu, domid);
                                cur[i2] = (ref_thread) {tid, start, cpu};
                        }
                        /* a sample now and then goes back in time */
                        bool back = primed && last_ns > 0 && RND() % 10 == 0;
                        if (back)
                                f.s.time_ns = t_ns = last_ns / 2;
                        closer_acct_row *rows = NULL;
                        int n = closer_acct_step(&st, &f.s, &f.p, &rows);
                        assert_true(n >= 0);
                        if (!primed || back) {
                                assert_int_equal(n, 0);
                        } else {
                                assert_int_equal(n, (int) f.p.n_domains);
                                uint64_t want_total = 0, got_total = 0;
                                for (unsigned d = 0; d < f.p.n_domains; d++) {
                                        uint64_t want = 0;
                                        for (unsigned i = 0; i < f.s.n_threads; i++)
                                                if (f.pt[i].domid == f.pd[d].domid)
                                                        want += ref_delta(prev, n_prev, &cur[i]);
                                        assert_int_equal(rows[d].domid, f.pd[d].domid);
                                        assert_int_equal(rows[d].dom0_cpu_ns, want);
                                        got_total += rows[d].dom0_cpu_ns;
                                }
                                for (unsigned i = 0; i < f.s.n_threads; i++)
                                        if (f.pt[i].domid >= 1 && f.pt[i].domid <= (int) f.p.n_domains)
                                                want_total += ref_delta(prev, n_prev, &cur[i]);
                                assert_int_equal(got_total, want_total);
                                free(rows);
                        }
                        primed = true;
                        memcpy(prev, cur, sizeof(cur[0]) * f.s.n_threads);
                        n_prev = f.s.n_threads;
                        last_ns = t_ns;
                        t_ns += RND();
                }
                closer_acct_state_done(&st);
        }
}

/* A VM on two sockets is billed once for the work of both of its
 * containers: the CPU of its backend threads wherever they run, and the
 * dom0 memory its containers hold, which adds up to its reserve. */
static void test_spanning_domain_billed(void **state) {
        (void) state;
        closer_config c;
        closer_config_defaults(&c);
        closer_acct_state st;
        closer_acct_state_init(&st);
        closer_plan *p = NULL;
        closer_error err = {{0}};
        closer_acct_row *rows = NULL;

        for (int k = 0; k < 2; k++) {
                closer_snapshot *s = sb_host(2, 4, 8);
                s->time_ns = (uint64_t) (k + 1) * 1000000000u;
                sb_domain(s, 3, 1u << 20, 1, 2, (int[]) {2, 6});      /* vCPUs on nodes 0 and 1 */
                sb_thread(s, 10, 10, "3.xvda-0", true)->cpu_ns = 1000 + (uint64_t) k * 300;   /* node0/vm3 */
                sb_thread(s, 11, 11, "3.xvda-1", true)->cpu_ns = 2000 + (uint64_t) k * 500;   /* node1/vm3 */
                sb_thread(s, 12, 12, "sshd", false)->cpu_ns = 5000 + (uint64_t) k * 700;      /* main */
                assert_int_equal(closer_plan_compute(s, &c, &p, &err), 0);
                assert_int_equal(p->domains[0].n_leaves, 2);
                assert_int_equal(p->threads[0].node, 0);
                assert_int_equal(p->threads[1].node, 1);
                uint64_t leaves = 0;
                for (unsigned i = 0; i < p->domains[0].n_leaves; i++)
                        leaves += p->leaves[p->domains[0].first_leaf + i].dom0_reserve_kib;
                assert_int_equal(leaves, p->domains[0].dom0_reserve_kib);
                assert_int_equal(leaves, 2 * 75u * 1024);
                int n = closer_acct_step(&st, s, p, &rows);
                if (k == 0)
                        assert_int_equal(n, 0);
                else {
                        assert_int_equal(n, 1);
                        assert_int_equal(rows[0].domid, 3);
                        assert_int_equal(rows[0].dom0_cpu_ns, 300 + 500);
                        assert_int_equal(rows[0].mem_kib_s, leaves);    /* over 1 s */
                        free(rows);
                }
                closer_plan_free(p);
                closer_snapshot_free(s);
        }
        closer_acct_state_done(&st);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spanning_domain_billed),
                cmocka_unit_test(test_basic_deltas),
                cmocka_unit_test(test_no_domains_and_overflow),
                cmocka_unit_test(test_property),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
