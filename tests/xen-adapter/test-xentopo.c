/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Topology from Xen's xc_cputopoinfo/xc_numainfo arrays, per-node memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "xen/xen.h"

#define INV CLOSER_XEN_INVALID
#define GIB (1024ull * 1024 * 1024)

/* The Xen lab's host (docs/xen-lab.md; its `xl info -n` is
 * tests/data/xen-dom0-20261126/cmd/xl-info-n.txt): 4 CPUs, nodes 0-1,
 * distances 10/20; node 0's span holds the PCI hole (1310720 pages vs
 * 786432). */
static const uint32_t lab_cpu_node[] = {0, 0, 1, 1};
static const uint64_t lab_memsize[] = {1310720ull * 4096, 786432ull * 4096};
static const uint64_t lab_memfree[] = {650168ull * 4096, 545770ull * 4096};
static const uint32_t lab_dist[] = {10, 20, 20, 10};

static void test_lab_host(void **state) {
        (void) state;
        closer_topology t;
        closer_error err = {{0}};
        assert_int_equal(closer_xen_topology_build(lab_cpu_node, 4, lab_memsize, lab_memfree, lab_dist, 2, &t, &err), 0);
        assert_int_equal(t.n_nodes, 2);
        assert_int_equal(t.nodes[0].id, 0);
        assert_int_equal(t.nodes[1].id, 1);
        assert_true(t.nodes[0].mem_kib == 1310720ull * 4);
        assert_true(t.nodes[1].free_kib == 545770ull * 4);
        assert_int_equal(closer_cpuset_count(&t.nodes[0].cpus), 2);
        assert_true(closer_cpuset_test(&t.nodes[0].cpus, 1));
        assert_true(closer_cpuset_test(&t.nodes[1].cpus, 2));
        assert_true(closer_cpuset_test(&t.nodes[1].cpus, 3));
        assert_int_equal(t.nodes[0].distances[1], 20);
        assert_int_equal(t.nodes[1].distances[1], 10);
        assert_int_equal(closer_topology_node_of_cpu(&t, 3), 1);
        assert_int_equal(closer_topology_node_of_cpu(&t, 4), -1);
}

static void test_sparse_and_offline(void **state) {
        (void) state;
        /* Node 0 is gone (no memory, no CPUs), CPU 1 is offline, node 2 has
         * memory but no CPU (a memory-only node is still a node). */
        const uint32_t cpu_node[] = {1, INV, 1, 3};
        const uint64_t memsize[] = {INV, 4 * GIB, 2 * GIB, 4 * GIB};
        const uint64_t memfree[] = {INV, 1 * GIB, 2 * GIB, 3 * GIB};
        const uint32_t dist[] = {
                INV, INV, INV, INV,
                INV, 10, 21, 31,
                INV, 21, 10, 21,
                INV, 31, 21, 10,
        };
        closer_topology t;
        closer_error err = {{0}};
        assert_int_equal(closer_xen_topology_build(cpu_node, 4, memsize, memfree, dist, 4, &t, &err), 0);
        assert_int_equal(t.n_nodes, 3);
        assert_int_equal(t.nodes[0].id, 1);
        assert_int_equal(t.nodes[1].id, 2);
        assert_int_equal(t.nodes[2].id, 3);
        assert_true(closer_cpuset_is_empty(&t.nodes[1].cpus));
        assert_int_equal(closer_topology_node_of_cpu(&t, 1), -1);
        assert_int_equal(closer_topology_node_of_cpu(&t, 3), 2);
        assert_int_equal(t.nodes[0].distances[2], 31);
        assert_true(t.nodes[2].mem_kib == 4 * GIB / 1024);
}

static void test_inconsistent(void **state) {
        (void) state;
        closer_topology t;
        memset(&t, 0x5a, sizeof(t));
        closer_topology before = t;
        closer_error err = {{0}};

        /* CPU on a node Xen did not list */
        const uint32_t bad_node[] = {0, 0, 7, 1};
        assert_int_equal(closer_xen_topology_build(bad_node, 4, lab_memsize, lab_memfree, lab_dist, 2, &t, &err), -EIO);
        assert_non_null(strstr(err.msg, "pCPU 2"));

        /* invalid distance between two present nodes */
        const uint32_t bad_dist[] = {10, INV, 20, 10};
        assert_int_equal(closer_xen_topology_build(lab_cpu_node, 4, lab_memsize, lab_memfree, bad_dist, 2, &t, &err), -EIO);
        const uint32_t big_dist[] = {10, 256, 20, 10};
        assert_int_equal(closer_xen_topology_build(lab_cpu_node, 4, lab_memsize, lab_memfree, big_dist, 2, &t, &err), -EIO);

        /* more than closer handles */
        assert_int_equal(closer_xen_topology_build(lab_cpu_node, CLOSER_CPUSET_MAX + 1, lab_memsize, lab_memfree,
                                                   lab_dist, 2, &t, &err), -E2BIG);
        assert_int_equal(closer_xen_topology_build(lab_cpu_node, 4, lab_memsize, lab_memfree,
                                                   lab_dist, CLOSER_NODES_MAX + 1, &t, &err), -E2BIG);
        assert_memory_equal(&t, &before, sizeof(t));
}

static closer_topology lab(void) {
        closer_topology t;
        assert_int_equal(closer_xen_topology_build(lab_cpu_node, 4, lab_memsize, lab_memfree, lab_dist, 2, &t, NULL), 0);
        return t;
}

static void test_split(void **state) {
        (void) state;
        closer_topology t = lab();
        uint64_t by[CLOSER_NODES_MAX];

        uint8_t node1[1] = {0x2};
        closer_xen_split_by_nodemap(196608, node1, 1, &t, by);
        assert_true(by[0] == 0 && by[1] == 196608);

        uint8_t both[1] = {0x3};
        closer_xen_split_by_nodemap(1001, both, 1, &t, by);
        assert_true(by[0] == 501 && by[1] == 500);
        assert_true(by[0] + by[1] == 1001);

        /* affinity to nodes that do not exist: spread over the real ones */
        uint8_t ghost[2] = {0x00, 0x80};
        closer_xen_split_by_nodemap(100, ghost, 2, &t, by);
        assert_true(by[0] == 50 && by[1] == 50);
        closer_xen_split_by_nodemap(100, NULL, 0, &t, by);
        assert_true(by[0] + by[1] == 100);
        assert_true(by[2] == 0);
}

/* Copied from a real run (xl debug-keys u; xl dmesg) on the lab host, with
 * an older dump before it that must be ignored. */
static const char dump[] =
        "(XEN) 'u' pressed -> dumping numa info (now = 100)\n"
        "(XEN) Memory location of each domain:\n"
        "(XEN) Domain 1 (total: 10):\n"
        "(XEN)     Node 0: 5\n"
        "(XEN)     Node 1: 5\n"
        "(XEN) PCI add device 0000:00:1f.3\n"
        "(XEN) 'u' pressed -> dumping numa info (now = 135351479340)\n"
        "(XEN) NODE0 start->0 size->1310720 free->650168\n"
        "(XEN) NODE1 start->1310720 size->786432 free->545770\n"
        "(XEN) CPU0...1 -> NODE0\n"
        "(XEN) CPU2...3 -> NODE1\n"
        "(XEN) Memory location of each domain:\n"
        "(XEN) Domain 0 (total: 262144):\n"
        "(XEN)     Node 0: 84546\n"
        "(XEN)     Node 1: 177598\n"
        "(XEN) Domain 1 (total: 49152):\n"
        "(XEN)     Node 0: 49152\n"
        "(XEN)     Node 1: 0\n"
        "(XEN) Domain 12 (total: 49152):\n"
        "(XEN)     Node 0: 0\n"
        "(XEN)     Node 1: 49152\n"
        "\n"
        "==== next\n";

static void test_numa_dump(void **state) {
        (void) state;
        closer_topology t = lab();
        uint64_t by[CLOSER_NODES_MAX];
        assert_int_equal(closer_xen_parse_numa_dump(dump, strlen(dump), 1, &t, by), 0);
        assert_true(by[0] == 49152ull * 4 && by[1] == 0);
        assert_int_equal(closer_xen_parse_numa_dump(dump, strlen(dump), 12, &t, by), 0);
        assert_true(by[0] == 0 && by[1] == 49152ull * 4);
        assert_int_equal(closer_xen_parse_numa_dump(dump, strlen(dump), 0, &t, by), 0);
        assert_true(by[0] == 84546ull * 4 && by[1] == 177598ull * 4);
        /* Domain 2 is a prefix of nothing here: not "Domain 12" */
        assert_int_equal(closer_xen_parse_numa_dump(dump, strlen(dump), 2, &t, by), -ENOENT);
        assert_int_equal(closer_xen_parse_numa_dump("nothing", 7, 1, &t, by), -ENOENT);
}

static void test_numa_cache(void **state) {
        (void) state;
        closer_xen_numa_cache c = {0};
        uint8_t h1[16] = {1}, h2[16] = {2};
        uint64_t at_dump[CLOSER_NODES_MAX] = {30000, 70000}, by[CLOSER_NODES_MAX];

        assert_false(closer_xen_numa_cache_get(&c, 5, h1, 1000, by));
        assert_int_equal(closer_xen_numa_cache_put(&c, 5, h1, at_dump), 0);
        /* scaled to today's size, the rounding on the largest part */
        assert_true(closer_xen_numa_cache_get(&c, 5, h1, 1001, by));
        assert_true(by[0] == 300 && by[1] == 701);
        for (unsigned i = 2; i < CLOSER_NODES_MAX; i++)
                assert_true(by[i] == 0);
        /* domid 5 reused by another domain: not its split */
        assert_false(closer_xen_numa_cache_get(&c, 5, h2, 1000, by));
        /* put for the new one replaces the old entry */
        uint64_t other[CLOSER_NODES_MAX] = {0, 0};
        other[0] = 8;
        assert_int_equal(closer_xen_numa_cache_put(&c, 5, h2, other), 0);
        assert_int_equal(c.n, 1);
        assert_true(closer_xen_numa_cache_get(&c, 5, h2, 100, by) && by[0] == 100 && by[1] == 0);
        /* all zero at the dump: nothing to scale */
        uint64_t zero[CLOSER_NODES_MAX] = {0};
        assert_int_equal(closer_xen_numa_cache_put(&c, 7, h1, zero), 0);
        assert_false(closer_xen_numa_cache_get(&c, 7, h1, 100, by));
        /* a sweep keeps what was put or got since the last one: both here;
         * the next one, with only domain 5 read, drops domain 7 */
        closer_xen_numa_cache_sweep(&c);
        assert_int_equal(c.n, 2);
        assert_true(closer_xen_numa_cache_get(&c, 5, h2, 100, by));
        closer_xen_numa_cache_sweep(&c);
        assert_int_equal(c.n, 1);
        assert_int_equal(c.v[0].domid, 5);
        closer_xen_numa_cache_sweep(&c);
        assert_int_equal(c.n, 0);
        /* growth past the first allocation */
        for (int d = 1; d <= 40; d++)
                assert_int_equal(closer_xen_numa_cache_put(&c, d, h1, at_dump), 0);
        assert_int_equal(c.n, 40);
        assert_true(closer_xen_numa_cache_get(&c, 40, h1, 10, by) && by[0] == 3 && by[1] == 7);
        closer_xen_numa_cache_free(&c);
        assert_null(c.v);
}

static void test_numa_dump_malformed(void **state) {
        (void) state;
        closer_topology t = lab();
        uint64_t by[CLOSER_NODES_MAX] = {7};
        const char *bad[] = {
                "(XEN) Memory location of each domain:\n(XEN) Domain 3 (total: 1):\n(XEN)     Node 9: 1\n",
                "(XEN) Memory location of each domain:\n(XEN) Domain 3 (total: 1):\n(XEN)     Node 0: -1\n",
                "(XEN) Memory location of each domain:\n(XEN) Domain 3 (total: 1):\n(XEN)     Node 0: 99999999999999999999999\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
                assert_int_equal(closer_xen_parse_numa_dump(bad[i], strlen(bad[i]), 3, &t, by), -EINVAL);
        assert_true(by[0] == 7);
        /* cut short mid-line: what is there still parses */
        const char *cut = "(XEN) Memory location of each domain:\n(XEN) Domain 3 (total: 1):\n(XEN)     Node 1: 12";
        assert_int_equal(closer_xen_parse_numa_dump(cut, strlen(cut), 3, &t, by), 0);
        assert_true(by[1] == 48);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lab_host),
                cmocka_unit_test(test_sparse_and_offline),
                cmocka_unit_test(test_inconsistent),
                cmocka_unit_test(test_split),
                cmocka_unit_test(test_numa_dump),
                cmocka_unit_test(test_numa_dump_malformed),
                cmocka_unit_test(test_numa_cache),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
