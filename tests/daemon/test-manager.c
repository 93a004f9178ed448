/* SPDX-License-Identifier: GPL-2.0-or-later */
/* closerd's manager against the modelled host (src/simhost): observe, plan,
 * act, restore, resume after a crash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/manager.h"
#include "simhost/simhost.h"

#define SEC 1000000000ull

typedef struct fixture {
        closer_simhost *sim;
        closer_hypervisor *hv;
        closer_hostos *os;
        closer_manager *m;
        closer_config cfg;
        uint64_t now;
        char dir[64];
        char state[96];
} fixture;

static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));
        /* 2 sockets x 4 pCPUs, dom0 on all 8, main = dom0 CPUs 0-1 */
        f->sim = closer_simhost_new(2, 4, 4, 1024);
        assert_non_null(f->sim);
        assert_int_equal(closer_simhost_hypervisor(f->sim, &f->hv), 0);
        assert_int_equal(closer_simhost_hostos(f->sim, &f->os), 0);
        closer_config_defaults(&f->cfg);
        snprintf(f->dir, sizeof(f->dir), "/tmp/closer-manager-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->state, sizeof(f->state), "%s/state.json", f->dir);
        closer_error err = {{0}};
        assert_int_equal(closer_manager_new(&f->cfg, f->hv, f->os, false, f->state, &f->m, &err), 0);
        f->now = 1 * SEC;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fixture *f = *state;
        closer_manager_free(f->m);
        closer_hypervisor_free(f->hv);
        closer_hostos_free(f->os);
        closer_simhost_free(f->sim);
        unlink(f->state);
        rmdir(f->dir);
        free(f);
        return 0;
}

static void tick(fixture *f) {
        closer_error err = {{0}};
        closer_simhost_advance(f->sim, SEC);
        f->now += SEC;
        if (closer_manager_tick(f->m, f->now, &err) < 0)
                fail_msg("tick: %s", err.msg);
}

static void aff_eq(const closer_simhost *sim, int tid, const char *want) {
        closer_cpuset s;
        char buf[64];
        assert_int_equal(closer_simhost_thread_affinity(sim, tid, &s), 0);
        closer_cpuset_format(&s, buf, sizeof(buf));
        assert_string_equal(buf, want);
}

static void irq_eq(const closer_simhost *sim, const closer_plan *p, int domid, int queue, bool external, int want) {
        for (unsigned i = 0; i < p->n_irqs; i++)
                if (p->irqs[i].domid == domid && p->irqs[i].queue == queue &&
                    (p->irqs[i].kind == CLOSER_IRQ_EXTERNAL) == external) {
                        closer_cpuset s;
                        assert_int_equal(closer_simhost_irq_affinity(sim, p->irqs[i].irq, &s), 0);
                        assert_int_equal(closer_cpuset_count(&s), 1);
                        if (want >= 0)
                                assert_int_equal(closer_cpuset_first(&s), want);
                        return;
                }
        fail_msg("no IRQ for domain %d queue %d", domid, queue);
}

static uint64_t target_of(const closer_simhost *sim, int domid) {
        uint64_t t, a;
        assert_int_equal(closer_simhost_mem(sim, domid, &t, &a), 0);
        return t;
}

/* A domain appears -> placed (§3.3.2); its vCPU moves -> its backend follows. */
static void test_domain_placed_and_followed(void **state) {
        fixture *f = *state;
        tick(f);
        assert_int_equal(closer_simhost_add_domain(f->sim, 3, "vm3", 1u << 20, 1, 2, (int[]) {5, 6}, 100, 2), 0);
        tick(f);
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "3.xvda-0"), "5-6");
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "vif3.0-q1-guest-rx"), "5-6");
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "sshd"), "0-1");           /* T0 user: main */
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "nova-compute"), "0-1");   /* T1: main */
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "ksoftirqd/5"), "5");      /* kernel T0: untouched */
        irq_eq(f->sim, f->m->plan, 3, 0, false, 5);     /* blkif queue 0 -> under vCPU 0 */
        irq_eq(f->sim, f->m->plan, 3, 1, false, 6);
        irq_eq(f->sim, f->m->plan, 3, 0, true, -1);
        /* Algorithm 1: M - n*eps at start (eps 75 MiB, one socket) */
        assert_int_equal(target_of(f->sim, 3), (1u << 20) - 75u * 1024);

        assert_int_equal(closer_simhost_move_vcpu(f->sim, 3, 1, 7), 0);
        tick(f);
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "3.xvda-0"), "5,7");
        irq_eq(f->sim, f->m->plan, 3, 1, false, 7);

        /* a save runs in its container, under vCPU 0 */
        assert_int_equal(closer_simhost_start_save(f->sim, 3), 0);
        tick(f);
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "xl"), "5");
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "libxl-save-hel"), "5");
}

/* What a VM gives dom0 gets, level by level, and back (Algorithm 1). */
static void test_memory_levels_conserved(void **state) {
        fixture *f = *state;
        assert_int_equal(closer_simhost_add_domain(f->sim, 4, "vm4", 2u << 20, 0, 1, (int[]) {3}, 0, 1), 0);
        assert_int_equal(closer_simhost_add_domain(f->sim, 5, "vm5", 1u << 20, 1, 1, (int[]) {4}, 0, 1), 0);
        const uint64_t total = (2u << 20) + (1u << 20) + 1024u * 1024;
        double rates[] = {0, 3000, 3000, 12000, 12000, 9000, 7000, 100, 0, 50000, 10};
        for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
                closer_simhost_set_io(f->sim, 4, rates[i]);
                tick(f);
                tick(f);        /* a rate shows after two samples */
                uint64_t sum = target_of(f->sim, 4) + target_of(f->sim, 5) + target_of(f->sim, 0);
                assert_int_equal(sum, total);
        }
        /* high I/O moved memory to dom0; low I/O gave it back (the rate is
         * a moving average over 10 s: a few ticks up, more ticks down) */
        closer_simhost_set_io(f->sim, 4, 50000);
        for (int i = 0; i < 10; i++)
                tick(f);
        uint64_t high = target_of(f->sim, 4);
        closer_simhost_set_io(f->sim, 4, 0);
        for (int i = 0; i < 60; i++)
                tick(f);
        assert_true(target_of(f->sim, 4) > high);
        assert_int_equal(target_of(f->sim, 4), (2u << 20) - 75u * 1024);
}

/* Bursty I/O (a burst every other second, 3000 ops/s on average) keeps
 * the VM at one level: its memory does not move every tick. */
static void test_memory_bursty_io_steady(void **state) {
        fixture *f = *state;
        assert_int_equal(closer_simhost_add_domain(f->sim, 4, "vm4", 2u << 20, 0, 1, (int[]) {3}, 0, 1), 0);
        uint64_t first = 0;
        for (int i = 0; i < 80; i++) {
                closer_simhost_set_io(f->sim, 4, i % 2 ? 6000 : 0);
                tick(f);
                if (i == 60)
                        first = target_of(f->sim, 4);
                if (i > 60)
                        assert_int_equal(target_of(f->sim, 4), first);
        }
        /* and that level is level 1 (2000 ops/s: 64 MiB reserved ahead of
         * the 256 MiB level) */
        assert_int_equal(first, (2u << 20) - (75u + 256u) * 1024);
}

/* M is the memory the toolstack gave the VM (its target as found), not
 * Xen's max, which libxl makes 1 MiB larger: M - n*eps exactly, and dom0
 * gets exactly what the VM gave. */
static void test_memory_m_is_target_found(void **state) {
        fixture *f = *state;
        assert_int_equal(closer_simhost_add_domain(f->sim, 6, "vm6", (1u << 20) + 1024, 0, 1, (int[]) {3}, 0, 1), 0);
        assert_int_equal(closer_simhost_set_target(f->sim, 6, 1u << 20), 0);
        uint64_t dom0_before = target_of(f->sim, 0);
        tick(f);
        tick(f);
        tick(f);
        assert_int_equal(target_of(f->sim, 6), (1u << 20) - 75u * 1024);
        assert_int_equal(target_of(f->sim, 0) + target_of(f->sim, 6), dom0_before + (1u << 20));
}

/* A guest that ignores its balloon target: stop moving its memory, and
 * dom0 does not count memory it never got. */
static void test_broken_balloon(void **state) {
        fixture *f = *state;
        f->m->balloon_grace_ns = 3 * SEC;
        assert_int_equal(closer_simhost_add_domain(f->sim, 6, "vm6", 2u << 20, 0, 1, (int[]) {3}, 0, 1), 0);
        tick(f);
        closer_simhost_set_balloon_broken(f->sim, 6, true);
        closer_simhost_set_io(f->sim, 6, 50000);
        for (int i = 0; i < 8; i++)
                tick(f);
        bool stuck = false;
        for (unsigned i = 0; i < f->m->n_dom; i++)
                if (f->m->dom[i].domid == 6)
                        stuck = f->m->dom[i].balloon_stuck;
        assert_true(stuck);
        assert_int_equal(target_of(f->sim, 6), 2u << 20);       /* put back as found */
        assert_int_equal(target_of(f->sim, 0), 1024u * 1024);   /* dom0 holds nothing for it */
}

/* A domain the toolstack is still building has no balloon target yet:
 * closer records nothing, moves nothing and counts no failure, and gives
 * it its target once the toolstack wrote one. */
static void test_target_not_written_yet(void **state) {
        fixture *f = *state;
        assert_int_equal(closer_simhost_add_domain(f->sim, 6, "vm6", 2u << 20, 0, 1, (int[]) {3}, 0, 1), 0);
        closer_simhost_set_target_unwritten(f->sim, 6, true);
        uint64_t permanent = f->m->stats.errors_permanent, fatal = f->m->stats.errors_fatal;
        tick(f);
        tick(f);
        assert_int_equal(target_of(f->sim, 6), 2u << 20);
        assert_null(closer_state_find_mem(f->m->state, 6));
        assert_int_equal(f->m->stats.errors_permanent, permanent);
        assert_int_equal(f->m->stats.errors_fatal, fatal);
        closer_simhost_set_target_unwritten(f->sim, 6, false);
        tick(f);
        assert_true(target_of(f->sim, 6) < (2u << 20));
        assert_non_null(closer_state_find_mem(f->m->state, 6));
}

/* SIGTERM path: everything back as found. */
static void test_restore(void **state) {
        fixture *f = *state;
        assert_int_equal(closer_simhost_add_domain(f->sim, 7, "vm7", 1u << 20, 1, 2, (int[]) {4, 5}, 20000, 2), 0);
        tick(f);
        tick(f);
        int tid = closer_simhost_find_thread(f->sim, "7.xvda-1");
        aff_eq(f->sim, tid, "4-5");
        assert_true(target_of(f->sim, 7) < (1u << 20));
        assert_int_equal(closer_manager_restore(f->m), 0);
        aff_eq(f->sim, tid, "0-7");
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "sshd"), "0-7");
        for (unsigned i = 0; i < f->m->plan->n_irqs; i++) {
                closer_cpuset s;
                closer_simhost_irq_affinity(f->sim, f->m->plan->irqs[i].irq, &s);
                assert_int_equal(closer_cpuset_first(&s), 0);
                assert_int_equal(closer_cpuset_count(&s), 1);
        }
        assert_int_equal(target_of(f->sim, 7), 1u << 20);
        assert_int_equal(target_of(f->sim, 0), 1024u * 1024);
}

/* kill -9, then a new daemon: it resumes from the state file and a clean
 * stop still restores what the *first* run found. A domain that left is
 * forgotten. */
static void test_crash_resume(void **state) {
        fixture *f = *state;
        assert_int_equal(closer_simhost_add_domain(f->sim, 8, "vm8", 1u << 20, 1, 1, (int[]) {6}, 20000, 1), 0);
        assert_int_equal(closer_simhost_add_domain(f->sim, 9, "vm9", 1u << 20, 0, 1, (int[]) {2}, 0, 1), 0);
        tick(f);
        tick(f);
        int tid = closer_simhost_find_thread(f->sim, "8.xvda-0");
        aff_eq(f->sim, tid, "6");

        closer_manager_free(f->m);      /* the crash: nothing restored */
        closer_error err = {{0}};
        assert_int_equal(closer_manager_new(&f->cfg, f->hv, f->os, false, f->state, &f->m, &err), 0);
        assert_int_equal(closer_simhost_remove_domain(f->sim, 9), 0);
        tick(f);
        aff_eq(f->sim, tid, "6");
        assert_null(closer_state_find_mem(f->m->state, 9));
        assert_int_equal(closer_manager_restore(f->m), 0);
        aff_eq(f->sim, tid, "0-7");
        assert_int_equal(target_of(f->sim, 8), 1u << 20);
        assert_int_equal(target_of(f->sim, 0), 1024u * 1024);
}

/* charge = cap: the VM is capped at its quota minus the dom0 work done for
 * it; back to meter -> the cap as found. 20000 ops/s x 20 us of backend per
 * op (simhost) = 40 % of a pCPU of dom0 work, quota 2 vCPUs = 200 %. */
static void test_charge_cap(void **state) {
        fixture *f = *state;
        unsigned cap = 1;
        f->cfg.charge = CLOSER_CHARGE_CAP;
        closer_manager_set_config(f->m, &f->cfg);
        assert_int_equal(closer_simhost_add_domain(f->sim, 3, "vm3", 1u << 20, 1, 2, (int[]) {5, 6}, 20000, 1), 0);
        for (int i = 0; i < 4; i++)
                tick(f);
        assert_int_equal(closer_simhost_cap(f->sim, 3, &cap), 0);
        assert_true(cap >= 155 && cap <= 165);
        /* an idle VM keeps (nearly) all of its quota */
        closer_simhost_set_io(f->sim, 3, 0);
        for (int i = 0; i < 3; i++)
                tick(f);
        closer_simhost_cap(f->sim, 3, &cap);
        assert_true(cap >= 195);
        f->cfg.charge = CLOSER_CHARGE_METER;
        closer_manager_set_config(f->m, &f->cfg);
        tick(f);
        closer_simhost_cap(f->sim, 3, &cap);
        assert_int_equal(cap, 0);
        /* and a restore after capping puts it back as found too */
        f->cfg.charge = CLOSER_CHARGE_CAP;
        closer_manager_set_config(f->m, &f->cfg);
        closer_simhost_set_io(f->sim, 3, 20000);
        tick(f);
        tick(f);
        closer_simhost_cap(f->sim, 3, &cap);
        assert_true(cap > 0);
        assert_int_equal(closer_manager_restore(f->m), 0);
        closer_simhost_cap(f->sim, 3, &cap);
        assert_int_equal(cap, 0);
}

static void cgroup_eq(const closer_simhost *sim, int pid, const char *want) {
        char buf[128];
        assert_int_equal(closer_simhost_cgroup(sim, pid, buf, sizeof(buf)), 0);
        assert_string_equal(buf, want);
}

/* Secondary containers as cgroup leaves: the domain's device model and its
 * admin commands go into node<N>/vm<domid>; a domain that leaves takes its
 * leaf with it; SIGTERM (and SIGTERM after a crash) puts every process back
 * where it was found and removes the leaves. */
static void test_cgroups(void **state) {
        fixture *f = *state;
        assert_int_equal(closer_simhost_add_domain(f->sim, 3, "vm3", 1u << 20, 1, 2, (int[]) {5, 6}, 100, 1), 0);
        assert_int_equal(closer_simhost_add_domain(f->sim, 4, "vm4", 1u << 20, 0, 1, (int[]) {2}, 100, 1), 0);
        int qemu3 = closer_simhost_add_qemu(f->sim, 3), qemu4 = closer_simhost_add_qemu(f->sim, 4);
        assert_true(qemu3 > 0 && qemu4 > 0);
        cgroup_eq(f->sim, qemu3, "/system.slice");
        tick(f);
        cgroup_eq(f->sim, qemu3, "/closer/node1/vm3");
        cgroup_eq(f->sim, qemu4, "/closer/node0/vm4");
        cgroup_eq(f->sim, closer_simhost_find_thread(f->sim, "sshd"), "/system.slice");  /* main: untouched */
        assert_int_equal(closer_simhost_n_leaves(f->sim), 4);   /* node0, node1, vm3, vm4 */

        assert_int_equal(closer_simhost_start_save(f->sim, 3), 0);
        tick(f);
        cgroup_eq(f->sim, closer_simhost_find_thread(f->sim, "xl"), "/closer/node1/vm3");

        assert_int_equal(closer_simhost_remove_domain(f->sim, 4), 0);
        tick(f);
        assert_int_equal(closer_simhost_n_leaves(f->sim), 3);   /* vm4 went with its domain */

        closer_manager_free(f->m);      /* kill -9 */
        closer_error err = {{0}};
        assert_int_equal(closer_manager_new(&f->cfg, f->hv, f->os, false, f->state, &f->m, &err), 0);
        tick(f);
        cgroup_eq(f->sim, qemu3, "/closer/node1/vm3");
        assert_int_equal(closer_manager_restore(f->m), 0);
        cgroup_eq(f->sim, qemu3, "/system.slice");             /* as the first run found it */
        cgroup_eq(f->sim, closer_simhost_find_thread(f->sim, "xl"), "/system.slice");
        assert_int_equal(closer_simhost_n_leaves(f->sim), 0);
}

/* A domain on two sockets is served by both (§3.3, §3.3.2): a leaf in each
 * node it runs on, each queue's backend thread in the leaf of its vCPU's
 * node and on the dom0 CPU under that vCPU, its device model and admin work
 * at home (most of its memory, Algorithm 2), n*eps taken from it. When it
 * stops spanning, the leaf it left goes away and eps comes back. */
static void test_spanning_domain(void **state) {
        fixture *f = *state;
        /* vCPU 0 on pCPU 2 (node 0), vCPU 1 on pCPU 5 (node 1), memory on node 1 */
        assert_int_equal(closer_simhost_add_domain(f->sim, 5, "vm5", 1u << 20, 1, 2, (int[]) {2, 5}, 100, 2), 0);
        int qemu5 = closer_simhost_add_qemu(f->sim, 5);
        assert_true(qemu5 > 0);
        tick(f);
        int ring0 = closer_simhost_find_thread(f->sim, "5.xvda-0"), ring1 = closer_simhost_find_thread(f->sim, "5.xvda-1");
        aff_eq(f->sim, ring0, "2");
        aff_eq(f->sim, ring1, "5");
        cgroup_eq(f->sim, ring0, "/closer/node0/vm5");
        cgroup_eq(f->sim, ring1, "/closer/node1/vm5");
        cgroup_eq(f->sim, closer_simhost_find_thread(f->sim, "vif5.0-q1-guest-rx"), "/closer/node1/vm5");
        cgroup_eq(f->sim, qemu5, "/closer/node1/vm5");
        aff_eq(f->sim, qemu5, "5");
        irq_eq(f->sim, f->m->plan, 5, 0, false, 2);
        irq_eq(f->sim, f->m->plan, 5, 1, false, 5);
        assert_int_equal(closer_simhost_n_leaves(f->sim), 4);   /* node0, node1, node0/vm5, node1/vm5 */
        assert_int_equal(target_of(f->sim, 5), (1u << 20) - 2 * 75u * 1024);   /* M - 2 eps */

        assert_int_equal(closer_simhost_start_save(f->sim, 5), 0);
        tick(f);
        cgroup_eq(f->sim, closer_simhost_find_thread(f->sim, "xl"), "/closer/node1/vm5");     /* admin: home */
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "xl"), "5");

        /* vCPU 0 moves to node 1: one socket, one leaf, eps given back */
        assert_int_equal(closer_simhost_move_vcpu(f->sim, 5, 0, 6), 0);
        tick(f);
        cgroup_eq(f->sim, ring0, "/closer/node1/vm5");
        aff_eq(f->sim, ring0, "5-6");
        assert_int_equal(target_of(f->sim, 5), (1u << 20) - 75u * 1024);
        assert_int_equal(closer_simhost_n_leaves(f->sim), 3);   /* node0/vm5 went */

        assert_int_equal(closer_manager_restore(f->m), 0);
        cgroup_eq(f->sim, ring0, "/");
        cgroup_eq(f->sim, qemu5, "/system.slice");
        assert_int_equal(closer_simhost_n_leaves(f->sim), 0);
}

/* Xen's exact per-node count (its 'u' debug key prints on the console) is
 * asked for only while some domain's memory spans nodes, and at most every
 * 30 s. */
static void test_exact_numa_only_when_spanning(void **state) {
        fixture *f = *state;
        assert_int_equal(closer_simhost_add_domain(f->sim, 3, "vm3", 1u << 20, 0, 1, (int[]) {2}, 0, 1), 0);
        for (int i = 0; i < 40; i++)
                tick(f);
        assert_int_equal(closer_simhost_exact_numa_reads(f->sim), 0);

        assert_int_equal(closer_simhost_add_domain(f->sim, 5, "vm5", 1u << 20, 1, 2, (int[]) {2, 5}, 0, 2), 0);
        assert_int_equal(closer_simhost_spread_memory(f->sim, 5, 0, 30), 0);
        assert_int_equal(closer_simhost_spread_memory(f->sim, 5, 1, 30), -EINVAL);     /* its own node */
        assert_int_equal(closer_simhost_spread_memory(f->sim, 5, 2, 30), -EINVAL);     /* no such node */
        tick(f);        /* the first read of it: not known to span yet */
        assert_int_equal(closer_simhost_exact_numa_reads(f->sim), 0);
        tick(f);
        assert_int_equal(closer_simhost_exact_numa_reads(f->sim), 1);
        for (int i = 0; i < 29; i++)
                tick(f);
        assert_int_equal(closer_simhost_exact_numa_reads(f->sim), 1);
        tick(f);        /* 30 s on */
        assert_int_equal(closer_simhost_exact_numa_reads(f->sim), 2);
        /* home is where most of it is: node 1 (70 %) */
        bool seen = false;
        for (unsigned i = 0; i < f->m->plan->n_domains; i++)
                if (f->m->plan->domains[i].domid == 5) {
                        assert_int_equal(f->m->plan->domains[i].node, 1);
                        seen = true;
                }
        assert_true(seen);

        assert_int_equal(closer_simhost_remove_domain(f->sim, 5), 0);
        tick(f);
        unsigned n = closer_simhost_exact_numa_reads(f->sim);
        for (int i = 0; i < 40; i++)
                tick(f);
        assert_int_equal(closer_simhost_exact_numa_reads(f->sim), n);
}

/* Dry run: plans, changes nothing. */
/* The state file cannot be written (a read-only or full /run; here its
 * temporary is a directory): nothing is changed, every failed save is
 * counted and the error kept for status; once it works, the domain is
 * placed. */
static void test_state_unwritable(void **state) {
        fixture *f = *state;
        char tmp[128];
        snprintf(tmp, sizeof(tmp), "%s.tmp", f->state);
        assert_int_equal(mkdir(tmp, 0700), 0);
        assert_int_equal(closer_simhost_add_domain(f->sim, 3, "vm3", 1u << 20, 1, 2, (int[]) {5, 6}, 100, 2), 0);
        tick(f);
        tick(f);
        assert_true(f->m->stats.errors_state >= 2);
        assert_true(f->m->state_error < 0);
        /* nothing that needs a record to be put back (closer's own
         * containers are removed whole at stop, recorded or not) */
        assert_int_equal(f->m->stats.actions[CLOSER_ACT_THREAD], 0);
        assert_int_equal(f->m->stats.actions[CLOSER_ACT_IRQ], 0);
        assert_int_equal(f->m->stats.actions[CLOSER_ACT_MEMORY], 0);
        assert_int_equal(rmdir(tmp), 0);
        tick(f);
        assert_int_equal(f->m->state_error, 0);
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "3.xvda-0"), "5-6");
}

/* ... also no container, no process moved, no dom0 target, no cap (every
 * kind of change goes through the one executor, which only says them). */
static void test_dry_run(void **state) {
        fixture *f = *state;
        unsigned cap = 1;
        closer_manager_free(f->m);
        closer_error err = {{0}};
        f->cfg.charge = CLOSER_CHARGE_CAP;
        assert_int_equal(closer_manager_new(&f->cfg, f->hv, f->os, true, NULL, &f->m, &err), 0);
        assert_int_equal(closer_simhost_add_domain(f->sim, 3, "vm3", 1u << 20, 1, 1, (int[]) {5}, 20000, 1), 0);
        int qemu3 = closer_simhost_add_qemu(f->sim, 3);
        assert_true(qemu3 > 0);
        for (int i = 0; i < 4; i++)
                tick(f);
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "3.xvda-0"), "0-7");
        assert_int_equal(target_of(f->sim, 3), 1u << 20);
        assert_int_equal(target_of(f->sim, 0), 1024u * 1024);
        assert_int_equal(f->m->plan->n_domains, 1);
        assert_int_equal(closer_simhost_n_leaves(f->sim), 0);
        cgroup_eq(f->sim, qemu3, "/system.slice");
        assert_int_equal(closer_simhost_cap(f->sim, 3, &cap), 0);
        assert_int_equal(cap, 0);
        for (unsigned k = 0; k < _CLOSER_ACT_MAX; k++)
                assert_int_equal(f->m->stats.actions[k], 0);
        /* no memory level is in force: none was applied */
        for (unsigned k = 0; k < f->m->n_dom; k++)
                assert_int_equal(f->m->dom[k].io_level, 0);
        assert_int_equal(f->m->state->n_threads + f->m->state->n_irqs + f->m->state->n_mem + f->m->state->n_caps +
                                 f->m->state->n_cgroups,
                         0);
}

/* A fake systemd: the simhost with unit ops. system.slice and init.scope
 * are loaded, user.slice is not; every set is counted. */
static struct {
        closer_cpuset system_slice, init_scope;
        char system_slice_trace[256];   /* every value given to system.slice, "a;b;" */
        unsigned sets;
        bool fail;
} fake_sd;
static closer_hostos_ops units_ops;

static closer_cpuset *fake_unit(const char *unit) {
        if (strcmp(unit, "system.slice") == 0)
                return &fake_sd.system_slice;
        if (strcmp(unit, "init.scope") == 0)
                return &fake_sd.init_scope;
        return NULL;
}

static int fake_get(void *data, const char *unit, closer_cpuset *ret, closer_error *err) {
        closer_cpuset *u = fake_unit(unit);
        if (fake_sd.fail)
                return closer_error_set(err, -ECONNRESET, "systemd unit %s: GetUnit: connection reset", unit);
        if (!u)
                return closer_error_set(err, -ENOENT, "systemd unit %s: GetUnit: not loaded", unit);
        *ret = *u;
        return 0;
}

static int fake_set(void *data, const char *unit, const closer_cpuset *cpus, closer_error *err) {
        closer_cpuset *u = fake_unit(unit);
        if (!u)
                return closer_error_set(err, -ENOENT, "systemd unit %s: SetUnitProperties: not loaded", unit);
        *u = *cpus;
        fake_sd.sets++;
        if (u == &fake_sd.system_slice) {
                char buf[64];
                closer_cpuset_format(cpus, buf, sizeof(buf));
                strncat(fake_sd.system_slice_trace, buf,
                        sizeof(fake_sd.system_slice_trace) - strlen(fake_sd.system_slice_trace) - 2);
                strcat(fake_sd.system_slice_trace, ";");
        }
        return 0;
}

/* f->os with the unit ops; the manager made again on it (dry or not). */
static closer_hostos units_host;
static void use_units(fixture *f, bool dry_run) {
        units_ops = *f->os->ops;
        units_ops.unit_get_cpus = fake_get;
        units_ops.unit_set_cpus = fake_set;
        units_host = (closer_hostos) {.ops = &units_ops, .data = f->os->data};
        memset(&fake_sd, 0, sizeof(fake_sd));
        assert_int_equal(closer_cpuset_parse("0-7", &fake_sd.init_scope), 0);  /* as found: set, all */
        closer_manager_free(f->m);
        closer_error err = {{0}};
        assert_int_equal(closer_manager_new(&f->cfg, f->hv, &units_host, dry_run, dry_run ? NULL : f->state, &f->m,
                                            &err),
                         0);
}

static void cpus_eq(const closer_cpuset *s, const char *want) {
        char buf[64];
        closer_cpuset_format(s, buf, sizeof(buf));
        assert_string_equal(buf, want);
}

/* Under systemd the main CPUs go to the loaded main units (AllowedCPUs=),
 * once; recorded as found; put back as found at restore, and after a crash
 * by the next run. */
static void test_units(void **state) {
        fixture *f = *state;
        use_units(f, false);
        tick(f);
        cpus_eq(&fake_sd.system_slice, "0-1");
        cpus_eq(&fake_sd.init_scope, "0-1");
        assert_int_equal(fake_sd.sets, 2);
        assert_int_equal(f->m->stats.actions[CLOSER_ACT_CGROUP], 2);
        assert_int_equal(f->m->state->n_units, 2);
        cpus_eq(&closer_state_find_unit(f->m->state, "system.slice")->cpus, "");
        cpus_eq(&closer_state_find_unit(f->m->state, "init.scope")->cpus, "0-7");
        assert_null(closer_state_find_unit(f->m->state, "user.slice"));
        tick(f);
        tick(f);
        assert_int_equal(fake_sd.sets, 2);                      /* equal: no action */

        /* crash: the next run finds them set already, and puts them back */
        closer_manager *crashed = f->m;
        f->m = NULL;
        closer_error err = {{0}};
        assert_int_equal(closer_manager_new(&f->cfg, f->hv, &units_host, false, f->state, &f->m, &err), 0);
        closer_manager_free(crashed);
        assert_int_equal(f->m->state->n_units, 2);
        tick(f);
        assert_int_equal(fake_sd.sets, 2);
        assert_int_equal(closer_manager_restore(f->m), 0);
        cpus_eq(&fake_sd.system_slice, "");
        cpus_eq(&fake_sd.init_scope, "0-7");
        /* found empty: every dom0 CPU first (the kernel gives the tasks
         * there all of them back), then none; found set: that, once */
        assert_string_equal(fake_sd.system_slice_trace, "0-1;0-7;;");
        assert_int_equal(fake_sd.sets, 5);
        assert_int_equal(f->m->state->n_units, 0);
        closer_manager_free(f->m);
        f->m = NULL;
        assert_int_equal(closer_manager_new(&f->cfg, f->hv, &units_host, false, f->state, &f->m, &err), 0);
        assert_int_equal(f->m->state->n_units, 0);              /* nothing left to put back */
}

/* A bus that fails: per-thread affinity as without systemd, nothing set. */
static void test_units_bus_fails(void **state) {
        fixture *f = *state;
        use_units(f, false);
        fake_sd.fail = true;
        assert_int_equal(closer_simhost_add_domain(f->sim, 3, "vm3", 1u << 20, 1, 1, (int[]) {5}, 100, 1), 0);
        tick(f);
        tick(f);
        assert_true(f->m->units_off);
        assert_int_equal(fake_sd.sets, 0);
        assert_int_equal(f->m->state->n_units, 0);
        aff_eq(f->sim, closer_simhost_find_thread(f->sim, "sshd"), "0-1");
}

/* A dry run says what it would set, and sets nothing. */
static void test_units_dry_run(void **state) {
        fixture *f = *state;
        char path[] = "/tmp/closer-manager-log-XXXXXX", text[8192];
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        use_units(f, true);
        fflush(stderr);
        int saved = dup(2);
        assert_true(saved >= 0);
        assert_true(dup2(fd, 2) >= 0);
        tick(f);
        fflush(stderr);
        assert_true(dup2(saved, 2) >= 0);
        close(saved);
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
        close(fd);
        unlink(path);
        assert_true(n > 0);
        text[n] = '\0';
        assert_non_null(strstr(text, "dry run: would give system.slice the main container's dom0 CPUs 0-1 (AllowedCPUs=)"));
        assert_non_null(strstr(text, "dry run: would give init.scope the main container's dom0 CPUs 0-1 (AllowedCPUs=)"));
        assert_null(strstr(text, "user.slice"));
        assert_int_equal(fake_sd.sets, 0);
        cpus_eq(&fake_sd.init_scope, "0-7");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_domain_placed_and_followed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_memory_levels_conserved, setup, teardown),
                cmocka_unit_test_setup_teardown(test_memory_m_is_target_found, setup, teardown),
                cmocka_unit_test_setup_teardown(test_memory_bursty_io_steady, setup, teardown),
                cmocka_unit_test_setup_teardown(test_broken_balloon, setup, teardown),
                cmocka_unit_test_setup_teardown(test_target_not_written_yet, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
                cmocka_unit_test_setup_teardown(test_crash_resume, setup, teardown),
                cmocka_unit_test_setup_teardown(test_charge_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cgroups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_spanning_domain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exact_numa_only_when_spanning, setup, teardown),
                cmocka_unit_test_setup_teardown(test_state_unwritable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
                cmocka_unit_test_setup_teardown(test_units, setup, teardown),
                cmocka_unit_test_setup_teardown(test_units_bus_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_units_dry_run, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
