/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the policy, part by part; each cites the thesis section it checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "closer/policy.h"
#include "snapbuild.h"

static closer_config cfg(void) {
        closer_config c;
        closer_config_defaults(&c);
        return c;
}

static void cpus_eq(const closer_cpuset *s, const char *want) {
        char buf[CLOSER_CPULIST_MAX];
        assert_true(closer_cpuset_format(s, buf, sizeof(buf)) >= 0);
        assert_string_equal(buf, want);
}

static closer_view *view_of(const closer_snapshot *s, const closer_config *c, closer_plan_main *m) {
        closer_view *v = malloc(sizeof(*v));
        closer_error err = {{0}};
        assert_int_equal(closer_policy_main(s, c, m, &err), 0);
        assert_int_equal(closer_view_init(v, s, m), 0);
        return v;
}

/* §3.2, table 3.2: static main container per framework, on the configured node. */
static void test_main_profiles(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(4, 14, 56);
        closer_config c = cfg();
        closer_plan_main m;
        closer_error err = {{0}};

        assert_int_equal(closer_policy_main(s, &c, &m, &err), 0);      /* default: openstack, node 0 */
        cpus_eq(&m.dom0_cpus, "0-1");
        assert_int_equal(m.mem_kib, 2048u * 1024);

        c.profile = CLOSER_PROFILE_EUCALYPTUS;
        assert_int_equal(closer_policy_main(s, &c, &m, &err), 0);
        cpus_eq(&m.dom0_cpus, "0");
        assert_int_equal(m.mem_kib, 1536u * 1024);

        c.profile = CLOSER_PROFILE_OPENNEBULA;
        c.main_node = 2;
        assert_int_equal(closer_policy_main(s, &c, &m, &err), 0);
        cpus_eq(&m.dom0_cpus, "28-29");
        assert_int_equal(m.mem_kib, 1894u * 1024);
        assert_int_equal(m.node, 2);

        /* Oracle's rule on a 40 GiB host: 502 + int(0.0205 * 40960) = 502 + 839 MiB. */
        c.profile = CLOSER_PROFILE_ORACLE;
        c.main_node = 0;
        assert_int_equal(closer_policy_main(s, &c, &m, &err), 0);
        assert_int_equal(m.mem_kib, (502u + 839u) * 1024);
        assert_int_equal(closer_cpuset_count(&m.dom0_cpus), 2);

        c.profile = CLOSER_PROFILE_CUSTOM;
        c.main_vcpus = 5;
        c.main_mem_mib = 3000;
        assert_int_equal(closer_policy_main(s, &c, &m, &err), 0);
        cpus_eq(&m.dom0_cpus, "0-4");
        assert_int_equal(m.mem_kib, 3000u * 1024);
        closer_snapshot_free(s);
}

static void test_main_errors(void **state) {
        (void) state;
        /* dom0 has 3 vCPUs, all on node 0; node 1 has none. */
        closer_snapshot *s = sb_host(2, 4, 3);
        closer_config c = cfg();
        closer_plan_main m = {.node = 77};
        closer_error err = {{0}};

        c.main_node = 1;
        assert_int_equal(closer_policy_main(s, &c, &m, &err), -ENOSPC);
        assert_non_null(strstr(err.msg, "node 1"));
        assert_int_equal(m.node, 77);   /* untouched on failure */

        c.main_node = 9;
        assert_int_equal(closer_policy_main(s, &c, &m, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "node 9"));

        c.main_node = 0;
        c.profile = CLOSER_PROFILE_CUSTOM;
        c.main_vcpus = 4;               /* a main node too small: 3 dom0 vCPUs there */
        c.main_mem_mib = 1024;
        assert_int_equal(closer_policy_main(s, &c, &m, &err), -ENOSPC);
        closer_snapshot_free(s);
}

/* §3.3: one secondary container per socket hosting VMs, minus the main vCPUs. */
static void test_secondary(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(4, 4, 16);
        closer_config c = cfg();
        closer_plan_main m;
        closer_plan_secondary sec[CLOSER_NODES_MAX];

        closer_view *v = view_of(s, &c, &m);
        assert_int_equal(closer_policy_secondary(v, NULL, sec), 0); /* no domains: none */

        sb_domain(s, 1, 1 << 20, 0, 1, (int[]) {2});
        sb_domain(s, 2, 1 << 20, 2, 2, (int[]) {9, 10});
        bool also[CLOSER_NODES_MAX] = {[3] = true};
        unsigned n = closer_policy_secondary(v, also, sec);
        assert_int_equal(n, 3);
        assert_int_equal(sec[0].node, 0);
        cpus_eq(&sec[0].dom0_cpus, "2-3");       /* 0-1 are main */
        assert_int_equal(sec[1].node, 2);
        cpus_eq(&sec[1].dom0_cpus, "8-11");
        assert_int_equal(sec[2].node, 3);
        free(v);
        closer_snapshot_free(s);
}

/* Algorithm 2, "GreatestMemSocket": most memory; ties: most vCPUs, then lowest id. */
static void test_domain_node(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(4, 4, 16);
        closer_config c = cfg();
        closer_plan_main m;
        closer_view *v = view_of(s, &c, &m);

        closer_domain *d = sb_domain(s, 1, 3 << 20, -1, 2, (int[]) {1, 5});
        d->mem_kib_by_node[1] = 1 << 20;
        d->mem_kib_by_node[3] = 2 << 20;
        assert_int_equal(closer_policy_domain_node(v, d), 3);  /* memory wins over vCPUs */

        d->mem_kib_by_node[3] = 1 << 20;                        /* tie 1 vs 3: vCPUs (one on node 1) */
        assert_int_equal(closer_policy_domain_node(v, d), 1);

        d->vcpus[0].pcpu = 13;                                  /* one vCPU each on 1 and 3: lowest id */
        assert_int_equal(closer_policy_domain_node(v, d), 1);

        memset(d->mem_kib_by_node, 0, sizeof(d->mem_kib_by_node)); /* no memory info: vCPUs decide */
        d->vcpus[0].pcpu = 14;
        d->vcpus[1].pcpu = 15;
        assert_int_equal(closer_policy_domain_node(v, d), 3);
        free(v);
        closer_snapshot_free(s);
}

/* §3.3.2: backend work on the dom0 vCPU pinned under the VM's vCPU. */
static void test_backend_cpus(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(2, 4, 8);
        closer_config c = cfg();
        closer_plan_main m;
        closer_view *v = view_of(s, &c, &m);
        closer_cpuset b;
        int node;

        closer_domain *d = sb_domain(s, 1, 1 << 20, 1, 2, (int[]) {5, 6});
        assert_int_equal(closer_policy_backend_cpus(v, d, 1, &b, &node), 0);
        cpus_eq(&b, "5-6");
        assert_int_equal(node, 1);

        /* A domain on a main pCPU: never a main CPU; the node's secondary CPUs instead. */
        closer_domain *d0 = sb_domain(s, 2, 1 << 20, 0, 1, (int[]) {0});
        assert_int_equal(closer_policy_backend_cpus(v, d0, 0, &b, &node), 0);
        cpus_eq(&b, "2-3");
        assert_int_equal(node, 0);

        /* Spanning two nodes, memory on node 1: its home container (admin
         * work, Algorithm 2) is node 1's; its other leaves: test_leaves. */
        closer_domain *ds = sb_domain(s, 3, 1 << 20, 1, 2, (int[]) {3, 7});
        assert_int_equal(closer_policy_backend_cpus(v, ds, 1, &b, &node), 0);
        cpus_eq(&b, "7");

        /* Unpinned and offline vCPUs: the node's secondary CPUs. */
        closer_domain *du = sb_domain(s, 4, 1 << 20, 1, 2, (int[]) {-1, -1});
        assert_int_equal(closer_policy_backend_cpus(v, du, 1, &b, &node), 0);
        cpus_eq(&b, "4-7");
        free(v);
        closer_snapshot_free(s);
}

/* Fewer dom0 vCPUs than pCPUs: a node without secondary dom0 CPUs is served
 * from the nearest node that has some, never from main. */
static void test_backend_fewer_dom0_vcpus(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(4, 4, 2);  /* dom0: 2 vCPUs on pCPUs 0-1 = main */
        s->dom0.vcpus = realloc(s->dom0.vcpus, 4 * sizeof(closer_vcpu));
        s->dom0.vcpus[2] = (closer_vcpu) {.id = 2, .pcpu = 12};  /* node 3 */
        s->dom0.vcpus[3] = (closer_vcpu) {.id = 3, .pcpu = 8};   /* node 2 */
        s->dom0.n_vcpus = 4;
        s->topo.nodes[1].distances[3] = 15;     /* node 3 is nearer to node 1 than node 2 */
        closer_config c = cfg();
        closer_plan_main m;
        closer_view *v = view_of(s, &c, &m);
        closer_cpuset b;
        int node;

        closer_domain *d = sb_domain(s, 1, 1 << 20, 1, 1, (int[]) {5});
        assert_int_equal(closer_policy_backend_cpus(v, d, 1, &b, &node), 0);
        cpus_eq(&b, "2");
        assert_int_equal(node, 3);
        assert_false(closer_cpuset_intersects(&b, &m.dom0_cpus));
        free(v);

        /* dom0 with nothing outside main: a clear error, not an empty set. */
        s->dom0.n_vcpus = 2;
        v = view_of(s, &c, &m);
        b = m.dom0_cpus;
        assert_int_equal(closer_policy_backend_cpus(v, d, 1, &b, &node), -ENOSPC);
        assert_true(closer_cpuset_equal(&b, &m.dom0_cpus));    /* untouched */
        free(v);
        closer_snapshot_free(s);
}

/* §3.3.2: VM-initiated queue q -> under vCPU q; external -> least contributed. */
static void test_irq_and_admin(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(2, 4, 8);
        closer_config c = cfg();
        closer_plan_main m;
        closer_view *v = view_of(s, &c, &m);
        closer_cpuset b;
        int node;

        closer_domain *d = sb_domain(s, 1, 1 << 20, 1, 3, (int[]) {5, 6, 7});
        assert_int_equal(closer_policy_backend_cpus(v, d, 1, &b, &node), 0);
        closer_irq *q = sb_irq(s, 60, "vif1.0-q1-tx", 8, (uint64_t[]) {0, 0, 0, 0, 9, 3, 1, 5});
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_VM_INITIATED, 1), 6);
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_VM_INITIATED, 5), 7); /* 5 mod 3 */
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_EXTERNAL, 0), 6);     /* 1 is least */
        q->per_cpu_counts[7] = 1;                                       /* tie 6/7: queue picks among them */
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_EXTERNAL, 0), 6);
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_EXTERNAL, 1), 7);
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_EXTERNAL, 2), 6);
        q->per_cpu_counts[6] = 2;
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_EXTERNAL, 0), 7);

        /* Sticky: bound to 7 now, 7 has served 3 and 6 has served 2: stays. */
        q->per_cpu_counts[6] = 2;
        q->per_cpu_counts[7] = 3;
        q->cpu = 7;
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_EXTERNAL, 0), 7);
        /* ... until it has clearly served more */
        q->per_cpu_counts[5] = 2000;
        q->per_cpu_counts[6] = 1000;
        q->per_cpu_counts[7] = 1400;
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_EXTERNAL, 0), 6);
        q->cpu = 1;     /* bound to a main CPU: never kept */
        assert_int_equal(closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_EXTERNAL, 0), 6);
        q->cpu = -1;

        /* A vCPU on a main pCPU: its queue goes to the least-used backend CPU. */
        d->vcpus[0].pcpu = 1;
        assert_int_equal(closer_policy_backend_cpus(v, d, 1, &b, &node), 0);
        cpus_eq(&b, "6-7");
        int cpu = closer_policy_irq_cpu(v, d, &b, q, CLOSER_IRQ_VM_INITIATED, 0);
        assert_true(closer_cpuset_test(&b, (unsigned) cpu));

        /* Admin work: under vCPU 0, or the lowest backend CPU when that is main. */
        assert_int_equal(closer_policy_admin_cpu(v, d, &b), 6);
        d->vcpus[0].pcpu = 7;
        assert_int_equal(closer_policy_admin_cpu(v, d, &b), 7);
        free(v);
        closer_snapshot_free(s);
}

static void leaf_eq(const closer_plan_leaf *l, int node, const char *cpus, unsigned n_vcpus) {
        assert_int_equal(l->node, node);
        cpus_eq(&l->dom0_cpus, cpus);
        assert_int_equal(l->n_vcpus, n_vcpus);
}

/* §3.3 ("a virtual machine that runs on the socket x is managed by the
 * secondary container of this socket"): a leaf in every node a domain runs
 * on, under its vCPUs there; home (Algorithm 2) where most of its memory is. */
static void test_leaves(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(4, 4, 16);
        closer_config c = cfg();
        closer_plan_main m;
        closer_view *v = view_of(s, &c, &m);
        closer_plan_leaf l[CLOSER_NODES_MAX];
        unsigned n, home;

        /* vCPUs on nodes 0 (pCPU 2), 1 (5, 6) and 3 (13); memory on node 1 */
        closer_domain *d = sb_domain(s, 1, 1 << 20, 1, 4, (int[]) {2, 5, 6, 13});
        assert_int_equal(closer_policy_domain_leaves(v, d, 1, l, &n, &home), 0);
        assert_int_equal(n, 3);
        leaf_eq(&l[0], 0, "2", 1);
        leaf_eq(&l[1], 1, "5-6", 2);
        leaf_eq(&l[2], 3, "13", 1);
        assert_int_equal(home, 1);
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(l[i].domid, 1);
        /* queue q -> vCPU q mod 4 -> its node's leaf */
        assert_int_equal(closer_policy_queue_leaf(v, d, l, n, home, 0), 0);
        assert_int_equal(closer_policy_queue_leaf(v, d, l, n, home, 2), 1);
        assert_int_equal(closer_policy_queue_leaf(v, d, l, n, home, 3), 2);
        assert_int_equal(closer_policy_queue_leaf(v, d, l, n, home, 7), 2);
        assert_int_equal(closer_policy_queue_leaf(v, d, l, n, home, -1), home);    /* no one queue's: home */

        /* a vCPU on a main pCPU: that node's secondary CPUs, never main */
        d->vcpus[0].pcpu = 1;
        assert_int_equal(closer_policy_domain_leaves(v, d, 1, l, &n, &home), 0);
        leaf_eq(&l[0], 0, "2-3", 1);

        /* memory on node 2, where it does not run: a home leaf there for its
         * admin work, with no vCPU; queues stay under their vCPUs */
        assert_int_equal(closer_policy_domain_leaves(v, d, 2, l, &n, &home), 0);
        assert_int_equal(n, 4);
        assert_int_equal(home, 2);
        leaf_eq(&l[2], 2, "8-11", 0);
        assert_int_equal(closer_policy_queue_leaf(v, d, l, n, home, 3), 3);
        d->vcpus[3].pcpu = -1;  /* offline vCPU: its queue is served at home */
        assert_int_equal(closer_policy_domain_leaves(v, d, 2, l, &n, &home), 0);
        assert_int_equal(n, 3);
        assert_int_equal(closer_policy_queue_leaf(v, d, l, n, home, 3), home);
        free(v);
        closer_snapshot_free(s);
}

/* A node without a secondary dom0 CPU gets no leaf: its vCPUs' queues are
 * served at home, which takes that node's eps too (Algorithm 1: n*eps). */
static void test_leaves_node_without_dom0(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(2, 4, 6);  /* dom0 on pCPUs 0-5: node 1's 6-7 have none */
        closer_config c = cfg();
        closer_plan_main m;
        closer_view *v = view_of(s, &c, &m);
        closer_plan_leaf l[CLOSER_NODES_MAX];
        unsigned n, home;

        closer_domain *d = sb_domain(s, 1, 1 << 20, 0, 2, (int[]) {3, 7});
        assert_int_equal(closer_policy_domain_leaves(v, d, 0, l, &n, &home), 0);
        assert_int_equal(n, 2);
        leaf_eq(&l[0], 0, "3", 1);
        leaf_eq(&l[1], 1, "4-5", 1);
        free(v);

        s->dom0.n_vcpus = 4;                    /* dom0 on pCPUs 0-3 only */
        v = view_of(s, &c, &m);
        assert_int_equal(closer_policy_domain_leaves(v, d, 0, l, &n, &home), 0);
        assert_int_equal(n, 1);
        leaf_eq(&l[0], 0, "3", 1);
        assert_int_equal(closer_policy_queue_leaf(v, d, l, n, home, 1), home);
        closer_policy_leaf_memory(&c, 2, 150u * 1024, l, n, home);
        assert_int_equal(l[0].dom0_reserve_kib, 150u * 1024);
        free(v);
        closer_snapshot_free(s);
}

/* Algorithm 1 per container: eps in each, the level's extra at home; the
 * leaves always add up to what the domain gave (the ledger bills that). */
static void test_leaf_memory(void **state) {
        (void) state;
        closer_config c = cfg();
        closer_plan_leaf l[3] = {{.n_vcpus = 1}, {.n_vcpus = 2}, {.n_vcpus = 0}};

        closer_policy_leaf_memory(&c, 2, (2 * 75u + 256u) * 1024, l, 3, 2);
        assert_int_equal(l[0].dom0_reserve_kib, 75u * 1024);
        assert_int_equal(l[1].dom0_reserve_kib, 75u * 1024);
        assert_int_equal(l[2].dom0_reserve_kib, 256u * 1024);
        closer_policy_leaf_memory(&c, 2, (2 * 75u + 256u) * 1024, l, 3, 1);
        assert_int_equal(l[1].dom0_reserve_kib, (75u + 256u) * 1024);
        assert_int_equal(l[2].dom0_reserve_kib, 0);
        /* the floor cut it: eps first, in node order */
        closer_policy_leaf_memory(&c, 2, 100u * 1024, l, 3, 2);
        assert_int_equal(l[0].dom0_reserve_kib, 75u * 1024);
        assert_int_equal(l[1].dom0_reserve_kib, 25u * 1024);
        assert_int_equal(l[2].dom0_reserve_kib, 0);
        closer_policy_leaf_memory(&c, 2, 0, l, 3, 2);
        for (unsigned i = 0; i < 3; i++)
                assert_int_equal(l[i].dom0_reserve_kib, 0);
}

/* Algorithm 1: levels with hysteresis. Defaults: 0:0, 2000:64, 10000:256, 20 %. */
static void test_io_level(void **state) {
        (void) state;
        closer_config c = cfg();
        assert_int_equal(closer_policy_io_level(&c, 0, 0), 0);
        assert_int_equal(closer_policy_io_level(&c, 0, 1999), 0);
        assert_int_equal(closer_policy_io_level(&c, 0, 2000), 1);
        assert_int_equal(closer_policy_io_level(&c, 0, 50000), 2);
        /* down only below 80 % of the threshold */
        assert_int_equal(closer_policy_io_level(&c, 2, 9000), 2);
        assert_int_equal(closer_policy_io_level(&c, 2, 7999), 1);
        assert_int_equal(closer_policy_io_level(&c, 1, 1700), 1);
        assert_int_equal(closer_policy_io_level(&c, 1, 1599), 0);
        assert_int_equal(closer_policy_io_level(&c, 2, 100), 0);
        assert_int_equal(closer_policy_io_level(&c, 99, 100), 0);        /* absurd previous level */
}

static void test_memory(void **state) {
        (void) state;
        closer_config c = cfg();
        closer_mem_split m;
        const uint64_t M = 4096u * 1024;

        /* start: M - n*eps, eps = 75 MiB */
        closer_policy_memory(&c, M, 1, 0, 0, &m);
        assert_int_equal(m.mem_target_kib, M - 75u * 1024);
        closer_policy_memory(&c, M, 2, 0, 0, &m);
        assert_int_equal(m.dom0_reserve_kib, 150u * 1024);
        /* level 1 reserves level 2's memory in advance */
        closer_policy_memory(&c, M, 1, 0, 2500, &m);
        assert_int_equal(m.io_level, 1);
        assert_int_equal(m.dom0_reserve_kib, (75u + 256u) * 1024);
        /* giving back when I/O falls */
        closer_policy_memory(&c, M, 1, 1, 10, &m);
        assert_int_equal(m.io_level, 0);
        assert_int_equal(m.dom0_reserve_kib, 75u * 1024);
        /* the floor: a 200 MiB VM at the top level keeps 128 MiB */
        closer_policy_memory(&c, 200u * 1024, 1, 2, 1e6, &m);
        assert_int_equal(m.mem_target_kib, 128u * 1024);
        /* a VM below the floor is not ballooned at all */
        closer_policy_memory(&c, 100u * 1024, 1, 2, 1e6, &m);
        assert_int_equal(m.mem_target_kib, 100u * 1024);
        assert_int_equal(m.dom0_reserve_kib, 0);
}

/* What a VM gives, dom0 gets: target + reserve == M for every input, and the
 * floor holds. A property over pseudo-random inputs (fixed seed). */
static void test_memory_conservation(void **state) {
        (void) state;
        closer_config c = cfg();
        uint64_t x = 0x9e3779b97f4a7c15u;
        for (int i = 0; i < 200000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                uint64_t M = x % (64u << 20);
                unsigned n = 1 + (unsigned) (x >> 40) % 8, prev = (unsigned) (x >> 50) % 5;
                double ops = (double) ((x >> 20) % 30000);
                closer_mem_split m;
                closer_policy_memory(&c, M, n, prev, ops, &m);
                assert_int_equal(m.mem_target_kib + m.dom0_reserve_kib, M);
                if (M >= c.floor_mib * 1024)
                        assert_true(m.mem_target_kib >= c.floor_mib * 1024);
                assert_true(m.io_level < c.n_levels);
        }
}

/* The whole plan on a 4096-CPU host: 64 nodes x 64 CPUs. */
static void test_plan_4096_cpus(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(64, 64, 4096);
        closer_config c = cfg();
        closer_plan *p = NULL;
        closer_error err = {{0}};

        for (int i = 0; i < 64; i++)
                sb_domain(s, i + 1, 1 << 20, i, 2, (int[]) {i * 64 + 10, i * 64 + 11});
        sb_domain(s, 100, 1 << 20, 63, 1, (int[]) {4095});
        assert_int_equal(closer_plan_compute(s, &c, &p, &err), 0);
        assert_int_equal(p->n_secondary, 64);
        cpus_eq(&p->secondary[63].dom0_cpus, "4032-4095");
        cpus_eq(&p->domains[64].backend_dom0_cpus, "4095");
        for (unsigned i = 0; i < p->n_domains; i++) {
                assert_false(closer_cpuset_is_empty(&p->domains[i].backend_dom0_cpus));
                assert_false(closer_cpuset_intersects(&p->domains[i].backend_dom0_cpus, &p->main.dom0_cpus));
        }
        char *json = closer_plan_to_json(p);
        assert_non_null(strstr(json, "\"closer-plan/1\""));
        free(json);
        closer_plan_free(p);
        closer_snapshot_free(s);
}

/* One node, no domains: a main container and nothing else. */
static void test_plan_one_node_no_domains(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(1, 4, 4);
        closer_config c = cfg();
        closer_plan *p = NULL;
        closer_error err = {{0}};
        sb_thread(s, 1, 1, "systemd", false);
        assert_int_equal(closer_plan_compute(s, &c, &p, &err), 0);
        assert_int_equal(p->n_secondary, 0);
        assert_int_equal(p->n_domains, 0);
        assert_int_equal(p->n_threads, 1);
        assert_true(closer_cpuset_equal(p->threads[0].dom0_cpus, &p->main.dom0_cpus));
        char *t = closer_plan_to_table(p);
        assert_non_null(strstr(t, "none: no domain runs"));
        free(t);
        closer_plan_free(p);
        closer_snapshot_free(s);
}

/* §3.1 + §3.3.2 end to end: backend threads to their domain's container,
 * everything else to main; IRQs under the vCPUs. */
static void test_plan_threads_irqs(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(2, 4, 8);
        closer_config c = cfg();
        closer_plan *p = NULL;
        closer_error err = {{0}};
        char cont[48];

        sb_domain(s, 3, 1 << 20, 1, 2, (int[]) {6, 7});
        sb_thread(s, 10, 10, "sshd", false);
        sb_thread(s, 11, 11, "vif3.0-q0-guest-rx", true);
        sb_thread(s, 12, 12, "3.xvda-1", true);
        sb_thread(s, 13, 13, "vif9.0-q0-guest-rx", true);      /* domain 9 is not running */
        sb_irq(s, 60, "vif3.0-q1-tx", 8, NULL);
        sb_irq(s, 61, "vif3.0-q0-rx", 8, (uint64_t[]) {0, 0, 0, 0, 0, 0, 4, 2});
        sb_irq(s, 62, "ahci", 8, NULL);
        assert_int_equal(closer_plan_compute(s, &c, &p, &err), 0);

        assert_int_equal(p->threads[0].cls, CLOSER_T0);
        assert_string_equal(closer_plan_thread_container(&p->threads[0], cont, sizeof(cont)), "main");
        for (int i = 1; i <= 2; i++) {
                assert_int_equal(p->threads[i].cls, CLOSER_T3);
                assert_int_equal(p->threads[i].domid, 3);
                assert_string_equal(closer_plan_thread_container(&p->threads[i], cont, sizeof(cont)), "node1/vm3");
                cpus_eq(p->threads[i].dom0_cpus, "6-7");
        }
        assert_string_equal(closer_plan_thread_container(&p->threads[3], cont, sizeof(cont)), "main");
        assert_int_equal(p->n_irqs, 2);
        assert_int_equal(p->irqs[0].dom0_cpu, 7);       /* queue 1 -> vCPU 1 -> pCPU 7 */
        assert_int_equal(p->irqs[1].dom0_cpu, 7);       /* external: 7 has fewer */
        closer_plan_free(p);
        closer_snapshot_free(s);
}

/* The whole plan for a VM on two sockets: each queue's thread and IRQ under
 * the vCPU of that queue, on its socket; external receive among all of its
 * CPUs; admin work and the device model at home; n*eps from it, eps in each
 * container. */
static void test_plan_spanning(void **state) {
        (void) state;
        closer_snapshot *s = sb_host(2, 4, 8);
        closer_config c = cfg();
        closer_plan *p = NULL;
        closer_error err = {{0}};
        char cont[48], why[256];

        /* memory mostly on node 1; vCPU 0 on pCPU 2 (node 0), vCPU 1 on pCPU 6 (node 1) */
        closer_domain *d = sb_domain(s, 4, 4u << 20, 1, 2, (int[]) {2, 6});
        d->mem_kib_by_node[0] = 1u << 20;
        d->mem_kib_by_node[1] = 3u << 20;
        sb_thread(s, 10, 10, "4.xvda-0", true);
        sb_thread(s, 11, 11, "4.xvda-1", true);
        sb_thread(s, 12, 12, "vif4.0-q1-guest-rx", true);
        closer_thread *q = sb_thread(s, 13, 13, "qemu-system-i38", false);
        q->n_cmdline = 3;
        q->cmdline = calloc(3, sizeof(char *));
        q->cmdline[0] = strdup("/usr/bin/qemu-system-i386");
        q->cmdline[1] = strdup("-xen-domid");
        q->cmdline[2] = strdup("4");
        closer_thread *x = sb_thread(s, 14, 14, "xl", false);
        x->n_cmdline = 3;
        x->cmdline = calloc(3, sizeof(char *));
        x->cmdline[0] = strdup("xl");
        x->cmdline[1] = strdup("shutdown");
        x->cmdline[2] = strdup("4");
        sb_irq(s, 60, "vif4.0-q0-tx", 8, NULL);
        sb_irq(s, 61, "vif4.0-q1-tx", 8, NULL);
        sb_irq(s, 62, "vif4.0-q1-rx", 8, (uint64_t[]) {0, 0, 50, 0, 0, 0, 9, 0});
        assert_int_equal(closer_plan_compute(s, &c, &p, &err), 0);

        const closer_plan_domain *pd = &p->domains[0];
        assert_int_equal(pd->node, 1);
        assert_int_equal(pd->n_sockets, 2);
        cpus_eq(&pd->backend_dom0_cpus, "2,6");
        assert_int_equal(pd->admin_dom0_cpu, 6);                /* under vCPU 1: the one at home */
        assert_int_equal(pd->n_leaves, 2);
        assert_int_equal(p->n_secondary, 2);
        const closer_plan_leaf *l0 = &p->leaves[pd->first_leaf], *l1 = l0 + 1;
        assert_int_equal(l0->node, 0);
        assert_int_equal(l1->node, 1);
        assert_int_equal(pd->home_leaf, pd->first_leaf + 1);
        /* M - 2 eps: 75 MiB in each container */
        assert_int_equal(pd->dom0_reserve_kib, 150u * 1024);
        assert_int_equal(pd->mem_target_kib + pd->dom0_reserve_kib, 4u << 20);
        assert_int_equal(l0->dom0_reserve_kib, 75u * 1024);
        assert_int_equal(l1->dom0_reserve_kib, 75u * 1024);

        static const struct {
                const char *container, *cpus;
        } want[] = {
                {"node0/vm4", "2"},     /* ring 0 -> vCPU 0 on node 0 */
                {"node1/vm4", "6"},     /* ring 1 -> vCPU 1 on node 1 */
                {"node1/vm4", "6"},     /* netback queue 1 */
                {"node1/vm4", "6"},     /* QEMU: one process, at home */
                {"node1/vm4", "6"},     /* xl shutdown: admin, at home, under its vCPU */
        };
        for (unsigned i = 0; i < 5; i++) {
                assert_string_equal(closer_plan_thread_container(&p->threads[i], cont, sizeof(cont)), want[i].container);
                cpus_eq(p->threads[i].dom0_cpus, want[i].cpus);
        }
        assert_non_null(strstr(closer_plan_thread_why(p, &p->threads[0], why, sizeof(why)), "vCPU 0, on node 0"));
        assert_non_null(strstr(closer_plan_thread_why(p, &p->threads[3], why, sizeof(why)), "home node 1"));
        assert_int_equal(p->irqs[0].dom0_cpu, 2);               /* queue 0 under vCPU 0, node 0 */
        assert_int_equal(p->irqs[1].dom0_cpu, 6);               /* queue 1 under vCPU 1, node 1 */
        assert_int_equal(p->irqs[2].dom0_cpu, 6);               /* external: least of 2 and 6, any socket */
        char *json = closer_plan_to_json(p), *table = closer_plan_to_table(p);
        assert_non_null(strstr(json, "\"containers\""));
        assert_non_null(strstr(table, "node0/vm4"));
        free(json);
        free(table);
        closer_plan_free(p);
        closer_snapshot_free(s);
}

/* Whatever the host: every domain's containers are on distinct nodes, never
 * empty, never main, each within its node; every backend thread inside its
 * container's CPUs; the containers' memory adds up to what the domain gave;
 * one of them is home. A property over pseudo-random hosts (fixed seed). */
static void test_plan_leaves_property(void **state) {
        (void) state;
        uint64_t x = 0x2545f4914f6cdd1du;
        closer_config c = cfg();
        for (int round = 0; round < 300; round++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                unsigned nodes = 1 + (unsigned) (x % 4), per = 2 + (unsigned) ((x >> 8) % 4);
                if (nodes == 1 && per == 2)
                        per = 3;
                /* main takes dom0 CPUs 0-1: at least one more, anywhere */
                unsigned n_dom0 = 3 + (unsigned) ((x >> 16) % (nodes * per - 2));
                closer_snapshot *s = sb_host(nodes, per, n_dom0);
                unsigned n_doms = 1 + (unsigned) ((x >> 24) % 5);
                for (unsigned k = 0; k < n_doms; k++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        unsigned nv = 1 + (unsigned) (x % 6);
                        int pcpus[6];
                        for (unsigned j = 0; j < nv; j++)
                                pcpus[j] = (int) ((x >> (8 + 6 * j)) % (nodes * per + 1)) - 1;  /* -1: offline */
                        closer_domain *d = sb_domain(s, (int) k + 1, 1u << 20, (int) ((x >> 50) % nodes), nv, pcpus);
                        d->io_ops_per_s = (double) ((x >> 40) % 30000);
                        char comm[32];
                        for (unsigned q = 0; q < nv + 1; q++) {
                                snprintf(comm, sizeof(comm), "%u.xvda-%u", k + 1, q);
                                sb_thread(s, (int) (100 * (k + 1) + q), (int) (100 * (k + 1) + q), comm, true);
                        }
                }
                closer_plan *p = NULL;
                closer_error err = {{0}};
                assert_int_equal(closer_plan_compute(s, &c, &p, &err), 0);
                for (unsigned i = 0; i < p->n_domains; i++) {
                        const closer_plan_domain *pd = &p->domains[i];
                        uint64_t sum = 0;
                        bool seen[CLOSER_NODES_MAX] = {false};
                        assert_true(pd->n_leaves >= 1);
                        assert_true(pd->home_leaf >= pd->first_leaf && pd->home_leaf < pd->first_leaf + pd->n_leaves);
                        assert_int_equal(p->leaves[pd->home_leaf].node, pd->node);
                        for (unsigned k = 0; k < pd->n_leaves; k++) {
                                const closer_plan_leaf *l = &p->leaves[pd->first_leaf + k];
                                assert_int_equal(l->domid, pd->domid);
                                assert_false(seen[l->node]);
                                seen[l->node] = true;
                                assert_false(closer_cpuset_is_empty(&l->dom0_cpus));
                                assert_false(closer_cpuset_intersects(&l->dom0_cpus, &p->main.dom0_cpus));
                                CLOSER_CPUSET_FOREACH(cpu, &l->dom0_cpus)
                                        assert_int_equal(closer_topology_node_of_cpu(&s->topo, s->dom0.vcpus[cpu].pcpu),
                                                         l->node);
                                assert_true(closer_cpuset_is_subset(&l->dom0_cpus, &pd->backend_dom0_cpus));
                                sum += l->dom0_reserve_kib;
                        }
                        assert_int_equal(sum, pd->dom0_reserve_kib);
                        assert_int_equal(pd->mem_target_kib + pd->dom0_reserve_kib, s->domains[i].mem_kib);
                        assert_true(closer_cpuset_test(&p->leaves[pd->home_leaf].dom0_cpus,
                                                       (unsigned) pd->admin_dom0_cpu));
                }
                for (unsigned i = 0; i < p->n_threads; i++) {
                        const closer_plan_thread *t = &p->threads[i];
                        assert_true(t->leaf_index >= 0);
                        const closer_plan_leaf *l = &p->leaves[t->leaf_index];
                        assert_int_equal(l->domid, t->domid);
                        assert_int_equal(l->node, t->node);
                        assert_true(closer_cpuset_is_subset(t->dom0_cpus, &l->dom0_cpus));
                }
                closer_plan_free(p);
                closer_snapshot_free(s);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_main_profiles),
                cmocka_unit_test(test_main_errors),
                cmocka_unit_test(test_secondary),
                cmocka_unit_test(test_domain_node),
                cmocka_unit_test(test_backend_cpus),
                cmocka_unit_test(test_backend_fewer_dom0_vcpus),
                cmocka_unit_test(test_irq_and_admin),
                cmocka_unit_test(test_leaves),
                cmocka_unit_test(test_leaves_node_without_dom0),
                cmocka_unit_test(test_leaf_memory),
                cmocka_unit_test(test_io_level),
                cmocka_unit_test(test_memory),
                cmocka_unit_test(test_memory_conservation),
                cmocka_unit_test(test_plan_4096_cpus),
                cmocka_unit_test(test_plan_one_node_no_domains),
                cmocka_unit_test(test_plan_threads_irqs),
                cmocka_unit_test(test_plan_spanning),
                cmocka_unit_test(test_plan_leaves_property),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
