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

        /* Spanning two nodes, memory on node 1: restricted to node 1's socket. */
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_main_profiles),
                cmocka_unit_test(test_main_errors),
                cmocka_unit_test(test_secondary),
                cmocka_unit_test(test_domain_node),
                cmocka_unit_test(test_backend_cpus),
                cmocka_unit_test(test_backend_fewer_dom0_vcpus),
                cmocka_unit_test(test_irq_and_admin),
                cmocka_unit_test(test_io_level),
                cmocka_unit_test(test_memory),
                cmocka_unit_test(test_memory_conservation),
                cmocka_unit_test(test_plan_4096_cpus),
                cmocka_unit_test(test_plan_one_node_no_domains),
                cmocka_unit_test(test_plan_threads_irqs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
