/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manager against the simhost through op tables that fail on a
 * schedule (faulty.c): ESRCH, EBUSY, EINVAL, EACCES, ENOSPC, EIO and short
 * writes on every write path. After every tick: the manager still ticks,
 * nothing anywhere has an empty CPU set, and dom0 never holds memory the
 * VMs did not give. Transient failures are retried, permanent ones are
 * counted and not retried, the rest are counted and reported.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/manager.h"
#include "faulty.h"
#include "simhost/simhost.h"

#define SEC 1000000000ull
#define DOM0_MIB 1024u

typedef struct fixture {
        closer_simhost *sim;
        closer_hypervisor *hv;
        closer_hostos *os;
        faulty f;
        closer_manager *m;
        closer_config cfg;
        uint64_t now;
        uint64_t mem_kib[64];           /* by domid: as created (its target as found) */
        bool live[64];
} fixture;

static int setup(void **state) {
        fixture *x = calloc(1, sizeof(*x));
        closer_error err = {{0}};
        x->sim = closer_simhost_new(2, 4, 8, DOM0_MIB);
        assert_non_null(x->sim);
        assert_int_equal(closer_simhost_hypervisor(x->sim, &x->hv), 0);
        assert_int_equal(closer_simhost_hostos(x->sim, &x->os), 0);
        faulty_init(&x->f, x->os, x->hv, 0x5eed);
        closer_config_defaults(&x->cfg);
        assert_int_equal(closer_manager_new(&x->cfg, &x->f.wrap_hv, &x->f.wrap_os, false, NULL, &x->m, &err), 0);
        x->now = SEC;
        *state = x;
        return 0;
}

static int teardown(void **state) {
        fixture *x = *state;
        closer_manager_free(x->m);
        closer_hypervisor_free(x->hv);
        closer_hostos_free(x->os);
        closer_simhost_free(x->sim);
        free(x);
        return 0;
}

static void add(fixture *x, int domid, int node, int pcpu0, int pcpu1, double io) {
        uint64_t kib = (uint64_t) (1 + domid % 3) << 20;
        assert_int_equal(closer_simhost_add_domain(x->sim, domid, "vm", kib, node, 2, (int[]) {pcpu0, pcpu1}, io,
                                                   1 + (unsigned) domid % 3), 0);
        x->mem_kib[domid] = kib;
        x->live[domid] = true;
}

/* No thread, IRQ or container leaf has an empty CPU set; nobody asked. */
static void check_cpus(fixture *x) {
        closer_thread *t;
        closer_irq *q;
        unsigned n, nq, vanished;
        closer_cpuset s;

        assert_int_equal(x->f.empty_asked, 0);
        assert_int_equal(x->os->ops->read_threads(x->os->data, &t, &n, &vanished), 0);
        assert_true(n > 0);
        for (unsigned i = 0; i < n; i++) {
                assert_int_equal(closer_simhost_thread_affinity(x->sim, t[i].tid, &s), 0);
                if (closer_cpuset_is_empty(&s))
                        fail_msg("thread %d (%s) has an empty CPU set", t[i].tid, t[i].comm);
        }
        closer_hostos_threads_free(t, n);
        assert_int_equal(x->os->ops->read_irqs(x->os->data, &q, &nq), 0);
        for (unsigned i = 0; i < nq; i++) {
                assert_int_equal(closer_simhost_irq_affinity(x->sim, q[i].irq, &s), 0);
                if (closer_cpuset_is_empty(&s))
                        fail_msg("IRQ %u has an empty CPU set", q[i].irq);
        }
        closer_hostos_irqs_free(q, nq);
        for (unsigned i = 0; i < x->f.n_leaves; i++)
                if (closer_cpuset_is_empty(&x->f.leaves[i].cpus))
                        fail_msg("leaf node%d/vm%d has an empty CPU set", x->f.leaves[i].node,
                                 x->f.leaves[i].domid);
}

/* dom0 holds at most what the running VMs gave up: the host never promises
 * the same page twice, whatever write failed. */
static void check_memory(fixture *x) {
        uint64_t t, a, given = 0;
        for (int d = 1; d < 64; d++) {
                if (!x->live[d])
                        continue;
                assert_int_equal(closer_simhost_mem(x->sim, d, &t, &a), 0);
                assert_true(t <= x->mem_kib[d]);
                given += x->mem_kib[d] - t;
        }
        assert_int_equal(closer_simhost_mem(x->sim, 0, &t, &a), 0);
        uint64_t base = (uint64_t) DOM0_MIB << 10;
        if (t > base + given)
                fail_msg("dom0 target %llu KiB > %llu KiB as found + %llu KiB the VMs gave", (unsigned long long) t,
                         (unsigned long long) base, (unsigned long long) given);
}

static void tick(fixture *x) {
        closer_error err = {{0}};
        closer_simhost_advance(x->sim, SEC);
        x->now += SEC;
        if (closer_manager_tick(x->m, x->now, &err) < 0)
                fail_msg("tick: %s", err.msg);
        check_cpus(x);
}

static void aff_eq(fixture *x, const char *comm, const char *want) {
        closer_cpuset s;
        char buf[64];
        int tid = closer_simhost_find_thread(x->sim, comm);
        assert_true(tid > 0);
        assert_int_equal(closer_simhost_thread_affinity(x->sim, tid, &s), 0);
        closer_cpuset_format(&s, buf, sizeof(buf));
        assert_string_equal(buf, want);
}

static void test_transient_retried(void **state) {
        fixture *x = *state;
        tick(x);
        add(x, 3, 1, 5, 6, 100);
        x->f.force = FAULT_EBUSY;
        tick(x);
        assert_true(x->m->stats.errors_transient > 0);
        aff_eq(x, "3.xvda-0", "0-7");   /* as found */
        x->f.force = FAULT_NONE;
        tick(x);
        aff_eq(x, "3.xvda-0", "5-6");
        aff_eq(x, "sshd", "0-1");
}

static void test_permanent_not_retried(void **state) {
        fixture *x = *state;
        tick(x);
        add(x, 3, 1, 5, 6, 100);
        int tid = closer_simhost_find_thread(x->sim, "3.xvda-0");
        for (int kind = FAULT_ESRCH; kind <= FAULT_SHORT; kind++) {
                if (closer_err_kind_of(faulty_errno(kind)) != CLOSER_ERR_PERMANENT)
                        continue;
                /* a fresh domain each round: a fresh thread to refuse */
                x->f.force = FAULT_NONE;
                x->f.only_tid = -1;
                tick(x);
                int d = 10 + kind;
                add(x, d, 1, 4, 7, 100);
                char comm[32];
                snprintf(comm, sizeof(comm), "%d.xvda-0", d);
                tid = closer_simhost_find_thread(x->sim, comm);
                uint64_t perm = x->m->stats.errors_permanent;
                x->f.only_tid = tid;
                x->f.force = kind;
                tick(x);
                assert_int_equal(x->f.tid_sets[tid], 1);
                assert_int_equal(x->m->stats.errors_permanent, perm + 1);
                x->f.force = FAULT_NONE;
                tick(x);
                tick(x);
                assert_int_equal(x->f.tid_sets[tid], 1);  /* left alone */
                /* ... and only that thread */
                snprintf(comm, sizeof(comm), "vif%d.0-q0-guest-rx", d);
                aff_eq(x, comm, "4,7");
        }
}

static void test_fatal_reported(void **state) {
        fixture *x = *state;
        tick(x);
        add(x, 3, 1, 5, 6, 100);
        for (int kind = FAULT_EACCES; kind <= FAULT_ENOSPC; kind++) {
                uint64_t fatal = x->m->stats.errors_fatal, ticks = x->m->stats.ticks;
                x->f.force = kind;
                tick(x);
                tick(x);
                assert_true(x->m->stats.errors_fatal > fatal);
                assert_int_equal(x->m->stats.ticks, ticks + 2);
        }
        x->f.force = FAULT_NONE;
        tick(x);
        aff_eq(x, "3.xvda-0", "5-6");
}

/* Random faults of every kind, domains coming and going, vCPUs moving. */
static void test_random_with_churn(void **state) {
        fixture *x = *state;
        uint64_t rng = 12345;
        x->f.pct = 30;
        x->f.kinds = ~0u;
        for (int i = 0; i < 300; i++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                unsigned r = (unsigned) (rng >> 33);
                int d = 1 + (int) (r % 40);
                switch (r % 5) {
                case 0:
                case 1:
                        if (!x->live[d])
                                add(x, d, (int) (r / 7) % 2, (int) (r / 11) % 8, (int) (r / 13) % 8, r % 300);
                        break;
                case 2:
                        if (x->live[d]) {
                                assert_int_equal(closer_simhost_remove_domain(x->sim, d), 0);
                                x->live[d] = false;
                        }
                        break;
                case 3:
                        if (x->live[d])
                                assert_int_equal(closer_simhost_move_vcpu(x->sim, d, r % 2, (int) (r / 17) % 8), 0);
                        break;
                default:
                        if (x->live[d])
                                assert_int_equal(closer_simhost_set_io(x->sim, d, (r / 19) % 5000), 0);
                }
                tick(x);
        }
        for (int k = 1; k < _FAULT_MAX; k++)
                assert_true(x->f.injected[k] > 0);
        assert_true(x->m->stats.errors_transient > 0);
        assert_true(x->m->stats.errors_permanent > 0);
        assert_true(x->m->stats.errors_fatal > 0);
        /* faults stop: every domain's backends end up under its vCPUs */
        x->f.pct = 0;
        tick(x);
        tick(x);
        for (unsigned i = 0; i < x->m->plan->n_domains; i++)
                assert_false(closer_cpuset_is_empty(&x->m->plan->domains[i].backend_dom0_cpus));
}

/* I/O levels change (targets move both ways) while balloon writes fail. */
static void test_random_memory(void **state) {
        fixture *x = *state;
        uint64_t rng = 777;
        for (int d = 1; d <= 6; d++)
                add(x, d, d % 2, d % 8, (d + 1) % 8, 0);
        x->f.pct = 25;
        x->f.kinds = ~0u;
        for (int i = 0; i < 400; i++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                unsigned r = (unsigned) (rng >> 33);
                int d = 1 + (int) (r % 6);
                /* jumps across the I/O levels of Algorithm 1 */
                static const double rates[] = {0, 50, 500, 5000, 50000};
                assert_int_equal(closer_simhost_set_io(x->sim, d, rates[(r / 7) % 5]), 0);
                tick(x);
                check_memory(x);
        }
        assert_true(x->f.injected[FAULT_EBUSY] > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_transient_retried, setup, teardown),
                cmocka_unit_test_setup_teardown(test_permanent_not_retried, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fatal_reported, setup, teardown),
                cmocka_unit_test_setup_teardown(test_random_with_churn, setup, teardown),
                cmocka_unit_test_setup_teardown(test_random_memory, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
