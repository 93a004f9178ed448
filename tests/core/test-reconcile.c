/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reconcile as data: plan vs what was found -> the actions, in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "closer/reconcile.h"

static closer_cpuset cpus(const char *text) {
        closer_cpuset s;
        assert_int_equal(closer_cpuset_parse(text, &s), 0);
        return s;
}

static closer_thread thread(int tid, int pid, bool kernel) {
        return (closer_thread) {.tid = tid, .pid = pid, .kernel = kernel, .start_time = 1000u + (unsigned) tid,
                                .last_cpu = -1};
}

/* One domain's backend, a T1 agent, a T0 user process and a kernel T0
 * thread; the plan wants 4-5 for the first and 0-1 for the others. */
typedef struct threads_case {
        closer_cpuset vm, main;
        closer_thread t[4];
        closer_plan_thread pt[4];
        closer_snapshot s;
        closer_plan p;
} threads_case;

static void threads_case_init(threads_case *c) {
        memset(c, 0, sizeof(*c));
        c->vm = cpus("4-5");
        c->main = cpus("0-1");
        c->t[0] = thread(100, 100, true);       /* 3.xvda-0: kernel, but a domain's */
        c->t[1] = thread(200, 200, false);      /* nova-compute */
        c->t[2] = thread(300, 300, false);      /* sshd */
        c->t[3] = thread(400, 400, true);       /* ksoftirqd/5 */
        c->pt[0] = (closer_plan_thread) {.tid = 100, .pid = 100, .cls = CLOSER_T3, .domid = 3, .node = 1,
                                         .domain_index = 0, .dom0_cpus = &c->vm};
        c->pt[1] = (closer_plan_thread) {.tid = 200, .pid = 200, .cls = CLOSER_T1, .domid = -1, .node = -1,
                                         .domain_index = -1, .dom0_cpus = &c->main};
        c->pt[2] = (closer_plan_thread) {.tid = 300, .pid = 300, .cls = CLOSER_T0, .domid = -1, .node = -1,
                                         .domain_index = -1, .dom0_cpus = &c->main};
        c->pt[3] = (closer_plan_thread) {.tid = 400, .pid = 400, .cls = CLOSER_T0, .domid = -1, .node = -1,
                                         .domain_index = -1, .dom0_cpus = &c->main};
        c->s = (closer_snapshot) {.threads = c->t, .n_threads = 4};
        c->p = (closer_plan) {.threads = c->pt, .n_threads = 4};
}

static void test_manages_thread(void **state) {
        threads_case c;
        threads_case_init(&c);
        assert_true(closer_reconcile_manages_thread(&c.t[0], &c.pt[0]));       /* works for a domain */
        assert_true(closer_reconcile_manages_thread(&c.t[1], &c.pt[1]));       /* T1 */
        assert_true(closer_reconcile_manages_thread(&c.t[2], &c.pt[2]));       /* T0 user */
        assert_false(closer_reconcile_manages_thread(&c.t[3], &c.pt[3]));      /* kernel T0 */
}

static void test_threads(void **state) {
        threads_case c;
        closer_actions l = {0};
        threads_case_init(&c);

        /* every thread already where the plan wants it: nothing */
        closer_found_cpus same[] = {{0, c.vm}, {1, c.main}, {2, c.main}};
        assert_int_equal(closer_reconcile_threads(&c.p, &c.s, same, 3, &l), 0);
        assert_int_equal(l.n, 0);

        /* all four found on every CPU: three move, the kernel T0 thread stays
         * even when the manager reported it */
        closer_found_cpus all[] = {{0, cpus("0-7")}, {1, cpus("0-7")}, {2, cpus("0-7")}, {3, cpus("0-7")}};
        assert_int_equal(closer_reconcile_threads(&c.p, &c.s, all, 4, &l), 0);
        assert_int_equal(l.n, 3);
        assert_int_equal(l.a[0].op, CLOSER_OP_THREAD);
        assert_int_equal(l.a[0].thread.index, 0);
        assert_int_equal(l.a[0].thread.tid, 100);
        assert_int_equal(l.a[0].thread.start_time, 1100);
        assert_ptr_equal(l.a[0].thread.cpus, &c.vm);
        assert_ptr_equal(l.a[0].thread.found, &all[0].cpus);   /* the value to record first */
        assert_int_equal(l.a[1].thread.tid, 200);
        assert_int_equal(l.a[2].thread.tid, 300);
        for (unsigned i = 0; i < l.n; i++)
                assert_int_not_equal(l.a[i].thread.tid, 400);

        /* a thread not read (gone, or skipped by the manager): nothing */
        closer_actions_clear(&l);
        closer_found_cpus one[] = {{1, cpus("0-7")}};
        assert_int_equal(closer_reconcile_threads(&c.p, &c.s, one, 1, &l), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.a[0].thread.tid, 200);
        closer_actions_done(&l);
}

static void test_skipped(void **state) {
        closer_skip skip[] = {{.is_irq = false, .id = 100, .start_time = 1100}, {.is_irq = true, .id = 61}};
        closer_applied ap = {.skip = skip, .n_skip = 2};
        assert_true(closer_reconcile_skipped(&ap, false, 100, 1100));
        assert_false(closer_reconcile_skipped(&ap, false, 100, 2000));  /* tid reused: a new thread */
        assert_false(closer_reconcile_skipped(&ap, true, 100, 1100));
        assert_true(closer_reconcile_skipped(&ap, true, 61, 0));
        assert_false(closer_reconcile_skipped(&ap, false, 61, 0));
}

static void test_irqs(void **state) {
        closer_plan_irq pi[] = {{.irq = 61, .domid = 3, .queue = 0, .dom0_cpu = 5},
                                {.irq = 62, .domid = 3, .queue = 1, .dom0_cpu = 6}};
        closer_plan p = {.irqs = pi, .n_irqs = 2};
        closer_actions l = {0};

        closer_found_cpus at[] = {{0, cpus("5")}, {1, cpus("6")}};
        assert_int_equal(closer_reconcile_irqs(&p, at, 2, &l), 0);
        assert_int_equal(l.n, 0);

        /* one on CPU 0, one on two CPUs (a single CPU is wanted) */
        closer_found_cpus off[] = {{0, cpus("0")}, {1, cpus("5-6")}};
        assert_int_equal(closer_reconcile_irqs(&p, off, 2, &l), 0);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.a[0].op, CLOSER_OP_IRQ);
        assert_int_equal(l.a[0].irq.irq, 61);
        assert_int_equal(l.a[0].irq.cpu, 5);
        assert_int_equal(l.a[0].irq.domid, 3);
        assert_ptr_equal(l.a[0].irq.found, &off[0].cpus);
        assert_int_equal(l.a[1].irq.irq, 62);
        assert_int_equal(l.a[1].irq.cpu, 6);
        closer_actions_done(&l);
}

static void test_cgroups(void **state) {
        threads_case c;
        closer_actions l = {0};
        closer_cpuset node_cpus[CLOSER_NODES_MAX] = {{{0}}};
        threads_case_init(&c);
        /* a second thread of domain 3's process 100, and a domain-5 process */
        closer_thread t[] = {c.t[0], thread(101, 100, false), c.t[1], thread(500, 500, false)};
        closer_plan_thread pt[] = {c.pt[0], c.pt[0], c.pt[1], c.pt[0]};
        pt[1].tid = 101;
        pt[3] = (closer_plan_thread) {.tid = 500, .pid = 500, .cls = CLOSER_T2, .domid = 5, .node = 0,
                                      .domain_index = 1, .dom0_cpus = &c.vm};
        closer_plan_secondary sec[] = {{.node = 0, .dom0_cpus = cpus("2-3")}, {.node = 1, .dom0_cpus = cpus("4-7")}};
        closer_plan_leaf leaves[] = {{.domid = 3, .node = 1, .dom0_cpus = cpus("4-5")},
                                     {.domid = 5, .node = 0, .dom0_cpus = cpus("2")}};
        closer_plan_domain doms[] = {{.domid = 3}, {.domid = 5}};
        closer_snapshot s = {.threads = t, .n_threads = 4};
        closer_plan p = {.threads = pt, .n_threads = 4, .secondary = sec, .n_secondary = 2, .leaves = leaves,
                         .n_leaves = 2, .domains = doms, .n_domains = 2};

        /* nothing made yet: both node cpusets, both leaves, one process per
         * domain (its main thread), agents not at all */
        closer_applied ap = {.node_cpus = node_cpus};
        assert_int_equal(closer_reconcile_cgroups(&p, &s, &ap, &l), 0);
        assert_int_equal(l.n, 6);
        assert_int_equal(l.a[0].op, CLOSER_OP_NODE_CPUS);
        assert_int_equal(l.a[0].leaf.node, 0);
        assert_int_equal(l.a[1].op, CLOSER_OP_NODE_CPUS);
        assert_int_equal(l.a[2].op, CLOSER_OP_LEAF);
        assert_int_equal(l.a[2].leaf.domid, 3);
        assert_ptr_equal(l.a[2].leaf.cpus, &leaves[0].dom0_cpus);
        assert_int_equal(l.a[3].op, CLOSER_OP_LEAF);
        assert_int_equal(l.a[4].op, CLOSER_OP_PROCESS);
        assert_int_equal(l.a[4].process.pid, 100);
        assert_int_equal(l.a[4].process.node, 1);
        assert_int_equal(l.a[4].process.domid, 3);
        assert_int_equal(l.a[5].process.pid, 500);

        /* all of it done already, and domain 3 also has a leaf on node 0
         * that it left: only that leaf goes; a leaf of a domain no longer
         * planned (9) is for the domain's departure to remove */
        node_cpus[0] = sec[0].dom0_cpus;
        node_cpus[1] = sec[1].dom0_cpus;
        closer_leaf_made made[] = {{1, 3, leaves[0].dom0_cpus}, {0, 5, leaves[1].dom0_cpus}, {0, 3, cpus("2")},
                                   {0, 9, cpus("3")}};
        closer_moved moved[] = {{100, 1100, 1, 3}, {500, 1500, 0, 5}};
        ap = (closer_applied) {.node_cpus = node_cpus, .leaves = made, .n_leaves = 4, .moved = moved, .n_moved = 2};
        closer_actions_clear(&l);
        assert_int_equal(closer_reconcile_cgroups(&p, &s, &ap, &l), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.a[0].op, CLOSER_OP_LEAF_REMOVE);
        assert_int_equal(l.a[0].leaf.node, 0);
        assert_int_equal(l.a[0].leaf.domid, 3);

        /* a process moved to another leaf than planned moves again; one that
         * refused for good does not; a leaf with other CPUs is rewritten */
        moved[0].node = 0;
        made[0].cpus = cpus("4");
        closer_skip skip[] = {{false, 500, 1500}};
        moved[1].pid = 999;
        ap.n_leaves = 3;
        ap.skip = skip;
        ap.n_skip = 1;
        closer_actions_clear(&l);
        assert_int_equal(closer_reconcile_cgroups(&p, &s, &ap, &l), 0);
        assert_int_equal(l.n, 3);
        assert_int_equal(l.a[0].op, CLOSER_OP_LEAF);
        assert_int_equal(l.a[0].leaf.domid, 3);
        assert_int_equal(l.a[1].op, CLOSER_OP_PROCESS);
        assert_int_equal(l.a[1].process.pid, 100);
        assert_int_equal(l.a[2].op, CLOSER_OP_LEAF_REMOVE);
        closer_actions_done(&l);
}

/* Three VMs: A shrinks, B grows, C is set for the first time. */
typedef struct mem_case {
        closer_domain d[3];
        closer_plan_domain pd[3];
        closer_snapshot s;
        closer_plan p;
        closer_mem_now now[3];
        int domids[3];                  /* the levels put in force (take_levels) */
        unsigned levels[3];
} mem_case;

static void mem_case_init(mem_case *c) {
        memset(c, 0, sizeof(*c));
        for (int i = 0; i < 3; i++) {
                c->d[i] = (closer_domain) {.domid = 10 + i, .mem_kib = 1000000};
                c->pd[i].domid = 10 + i;
                c->pd[i].io_level = (unsigned) i + 1;
                c->now[i].tracked = true;
        }
        c->pd[0].mem_target_kib = 800000;       /* A: 900000 -> 800000 */
        c->now[0].applied_kib = 900000;
        c->pd[1].mem_target_kib = 950000;       /* B: 700000 -> 950000 */
        c->now[1].applied_kib = 700000;
        c->pd[2].mem_target_kib = 923200;       /* C: first time */
        for (int i = 0; i < 3; i++)
                c->pd[i].dom0_reserve_kib = c->d[i].mem_kib - c->pd[i].mem_target_kib;
        c->s = (closer_snapshot) {.domains = c->d, .n_domains = 3};
        c->p = (closer_plan) {.domains = c->pd, .n_domains = 3};
}

/* Takes the I/O levels put in force out of l (keeping the order of the
 * rest), into domids[] and levels[]; returns how many. */
static unsigned take_levels(closer_actions *l, int *domids, unsigned *levels) {
        unsigned n = 0, k = 0;
        for (unsigned i = 0; i < l->n; i++)
                if (l->a[i].op == CLOSER_OP_VM_MEM_LEVEL) {
                        domids[k] = l->a[i].vm_mem.domid;
                        levels[k++] = l->a[i].vm_mem.io_level;
                } else
                        l->a[n++] = l->a[i];
        l->n = n;
        return k;
}

/* The memory actions of case c (dom0 found with 2000000 KiB) into l, the
 * levels taken out into c; returns how many levels. */
static unsigned memory_actions(mem_case *c, closer_actions *l) {
        closer_actions_clear(l);
        assert_int_equal(closer_reconcile_memory(&c->p, &c->s, c->now, 2000000, l), 0);
        return take_levels(l, c->domids, c->levels);
}

static void test_memory_order(void **state) {
        mem_case c;
        closer_actions l = {0};
        mem_case_init(&c);

        /* every VM's level is in force once its memory moves */
        assert_int_equal(memory_actions(&c, &l), 3);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(c.domids[i], 10 + i);
                assert_int_equal(c.levels[i], (unsigned) i + 1);
        }
        assert_int_equal(l.n, 5);
        /* the VMs that give, first */
        assert_int_equal(l.a[0].op, CLOSER_OP_VM_MEM);
        assert_int_equal(l.a[0].vm_mem.domid, 10);
        assert_int_equal(l.a[0].vm_mem.target_kib, 800000);
        assert_false(l.a[0].vm_mem.grow);
        assert_int_equal(l.a[1].op, CLOSER_OP_VM_MEM);
        assert_int_equal(l.a[1].vm_mem.domid, 12);
        assert_false(l.a[1].vm_mem.grow);
        /* then dom0 gives what it no longer holds for B */
        assert_int_equal(l.a[2].op, CLOSER_OP_DOM0_MEM);
        assert_true(l.a[2].dom0_mem.shrink_only);
        /* only then B grows, then dom0 takes what the VMs gave */
        assert_int_equal(l.a[3].op, CLOSER_OP_VM_MEM);
        assert_int_equal(l.a[3].vm_mem.domid, 11);
        assert_int_equal(l.a[3].vm_mem.target_kib, 950000);
        assert_true(l.a[3].vm_mem.grow);
        assert_int_equal(l.a[4].op, CLOSER_OP_DOM0_MEM);
        assert_false(l.a[4].dom0_mem.shrink_only);
        assert_int_equal(l.a[4].dom0_mem.found_kib, 2000000);
        assert_int_equal(l.a[4].dom0_mem.planned_kib, 2000000 + 200000 + 50000 + 76800);

        /* every VM at its target: only the two dom0 steps (evaluated when
         * they come: dom0 may owe a VM that left) */
        c.now[0].applied_kib = 800000;
        c.now[1].applied_kib = 950000;
        c.now[2].applied_kib = 923200;
        assert_int_equal(memory_actions(&c, &l), 3);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.a[0].op, CLOSER_OP_DOM0_MEM);
        assert_int_equal(l.a[1].op, CLOSER_OP_DOM0_MEM);
        closer_actions_done(&l);
}

static void test_memory_stuck(void **state) {
        mem_case c;
        closer_actions l = {0};
        mem_case_init(&c);

        assert_true(closer_reconcile_balloon_stuck(800000, 900000, 880000));    /* 80 % still to go */
        assert_false(closer_reconcile_balloon_stuck(800000, 900000, 840000));   /* 40 % */
        assert_false(closer_reconcile_balloon_stuck(800000, 810000, 808000));   /* most, but 8000 KiB */
        assert_false(closer_reconcile_balloon_stuck(950000, 700000, 950000));   /* followed */

        /* A was asked to go from 900000 to 800000 and is at 890000: put back,
         * and neither moved nor counted for dom0 any more; B is stuck from
         * before: left alone; C is not tracked: left alone */
        c.now[0] = (closer_mem_now) {.tracked = true, .applied_kib = 800000, .actual_at_set_kib = 900000,
                                     .checked = true, .actual_kib = 890000};
        c.now[1].stuck = true;
        c.now[2].tracked = false;
        assert_int_equal(memory_actions(&c, &l), 1);  /* A's, as it was found stuck */
        assert_int_equal(c.domids[0], 10);
        assert_int_equal(l.n, 3);
        assert_int_equal(l.a[0].op, CLOSER_OP_VM_MEM_PUT_BACK);
        assert_int_equal(l.a[0].vm_mem.domid, 10);
        assert_int_equal(l.a[0].vm_mem.asked_kib, 100000);
        assert_int_equal(l.a[0].vm_mem.left_kib, 90000);
        assert_int_equal(l.a[1].op, CLOSER_OP_DOM0_MEM);
        assert_int_equal(l.a[2].op, CLOSER_OP_DOM0_MEM);
        assert_int_equal(l.a[2].dom0_mem.planned_kib, 2000000);

        /* the same A, having followed: nothing to do for it */
        c.now[0].actual_kib = 800100;
        assert_int_equal(memory_actions(&c, &l), 1);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.a[0].op, CLOSER_OP_DOM0_MEM);
        closer_actions_done(&l);
}

static void test_cap_arithmetic(void **state) {
        /* 2 vCPUs uncapped (200 %), 40 % of a pCPU of dom0 work */
        assert_int_equal(closer_reconcile_cap(0, 2, 400000000, 1000000000), 160);
        /* capped at 150 % as found: that is the quota */
        assert_int_equal(closer_reconcile_cap(150, 2, 400000000, 1000000000), 110);
        /* a part of a percent counts as one */
        assert_int_equal(closer_reconcile_cap(0, 1, 1, 1000000000), 99);
        /* more dom0 work than the quota: the 10 % floor */
        assert_int_equal(closer_reconcile_cap(0, 1, 950000000, 1000000000), 10);
        assert_int_equal(closer_reconcile_cap(50, 4, 2000000000, 1000000000), 10);
}

static void test_caps(void **state) {
        closer_domain d[] = {{.domid = 3, .n_vcpus = 2}, {.domid = 4, .n_vcpus = 1}};
        closer_snapshot s = {.domains = d, .n_domains = 2};
        /* rows in another order than the domains: found by domid */
        closer_acct_row rows[] = {{.domid = 4, .dom0_cpu_ns = 200000000, .interval_ns = 1000000000},
                                  {.domid = 3, .dom0_cpu_ns = 400000000, .interval_ns = 1000000000}};
        closer_cap_now now[] = {{.known = true}, {.known = true}};
        closer_actions l = {0};

        assert_int_equal(closer_reconcile_caps(&s, rows, 2, now, &l), 0);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.a[0].op, CLOSER_OP_CAP);
        assert_int_equal(l.a[0].cap.domid, 4);
        assert_int_equal(l.a[0].cap.index, 1);
        assert_int_equal(l.a[0].cap.cap_pct, 80);
        assert_int_equal(l.a[1].cap.domid, 3);
        assert_int_equal(l.a[1].cap.index, 0);
        assert_int_equal(l.a[1].cap.cap_pct, 160);
        assert_int_equal(l.a[1].cap.found_pct, 0);

        /* hysteresis: 4 points from what we set is no change, 5 is */
        now[0].applied_pct = 84;
        now[1].applied_pct = 155;
        closer_actions_clear(&l);
        assert_int_equal(closer_reconcile_caps(&s, rows, 2, now, &l), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.a[0].cap.domid, 3);
        assert_int_equal(l.a[0].cap.cap_pct, 160);

        /* unknown (no track, cap unreadable) or no interval yet: nothing */
        now[1].known = false;
        rows[0].interval_ns = 0;
        now[0].applied_pct = 0;
        closer_actions_clear(&l);
        assert_int_equal(closer_reconcile_caps(&s, rows, 2, now, &l), 0);
        assert_int_equal(l.n, 0);

        closer_cap_found found[] = {{3, 0}, {4, 50}};
        assert_int_equal(closer_reconcile_caps_put_back(found, 2, &l), 0);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.a[1].op, CLOSER_OP_CAP_PUT_BACK);
        assert_int_equal(l.a[1].cap.domid, 4);
        assert_int_equal(l.a[1].cap.cap_pct, 50);
        closer_actions_done(&l);
}

/* systemd units: AllowedCPUs= to the main CPUs where it differs, for the
 * units known (loaded); put back as found, also an empty one (reset). */
static void test_units(void **state) {
        (void) state;
        closer_actions l = {0};
        closer_cpuset main_cpus, empty;
        closer_unit_now now[3] = {{.unit = "system.slice", .known = true},
                                  {.unit = "user.slice", .known = false},
                                  {.unit = "init.scope", .known = true}};

        assert_int_equal(closer_cpuset_parse("0-1", &main_cpus), 0);
        closer_cpuset_zero(&empty);
        /* as found: none set (every CPU) on both */
        assert_int_equal(closer_reconcile_units(&main_cpus, now, 3, &l), 0);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.a[0].op, CLOSER_OP_UNIT_CPUS);
        assert_string_equal(l.a[0].unit.name, "system.slice");
        assert_true(closer_cpuset_equal(l.a[0].unit.cpus, &main_cpus));
        assert_ptr_equal(l.a[0].unit.found, &now[0].cpus);
        assert_string_equal(l.a[1].unit.name, "init.scope");

        /* equal: nothing */
        now[0].cpus = main_cpus;
        now[2].cpus = main_cpus;
        closer_actions_clear(&l);
        assert_int_equal(closer_reconcile_units(&main_cpus, now, 3, &l), 0);
        assert_int_equal(l.n, 0);

        /* the main container moved: again */
        closer_cpuset moved;
        assert_int_equal(closer_cpuset_parse("0-2", &moved), 0);
        assert_int_equal(closer_reconcile_units(&moved, now, 3, &l), 0);
        assert_int_equal(l.n, 2);

        /* no main CPUs (no plan): never an empty AllowedCPUs= */
        closer_actions_clear(&l);
        now[0].cpus = empty;
        assert_int_equal(closer_reconcile_units(&empty, now, 3, &l), 0);
        assert_int_equal(l.n, 0);

        /* put back as found, an empty one included */
        closer_unit_now found[2] = {{.unit = "system.slice", .known = true}, {.unit = "init.scope", .known = true}};
        assert_int_equal(closer_cpuset_parse("0-7", &found[1].cpus), 0);
        assert_int_equal(closer_reconcile_units_put_back(found, 2, &l), 0);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.a[0].op, CLOSER_OP_UNIT_CPUS_PUT_BACK);
        assert_string_equal(l.a[0].unit.name, "system.slice");
        assert_true(closer_cpuset_is_empty(l.a[0].unit.cpus));
        assert_int_equal(l.a[1].op, CLOSER_OP_UNIT_CPUS_PUT_BACK);
        assert_true(closer_cpuset_equal(l.a[1].unit.cpus, &found[1].cpus));
        closer_actions_done(&l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manages_thread), cmocka_unit_test(test_threads),
                cmocka_unit_test(test_skipped),        cmocka_unit_test(test_irqs),
                cmocka_unit_test(test_cgroups),        cmocka_unit_test(test_memory_order),
                cmocka_unit_test(test_memory_stuck),   cmocka_unit_test(test_cap_arithmetic),
                cmocka_unit_test(test_caps),           cmocka_unit_test(test_units),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
