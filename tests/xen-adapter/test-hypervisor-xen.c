/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real Xen adapter (hypervisor-xen.c, unchanged) against a fake
 * libxenctrl/libxenstore/libxenstat modelling the lab host: what read_host
 * builds, what the act ops write, how events and a xenstored restart are
 * handled, and map_irqs end to end with a fake host OS. dom0's OS files
 * (IRQ affinity, kernel backends' counters) are reached only through the
 * attached host-OS adapter: here the real Linux one on its own fixture root.
 */
#include <errno.h>
#include <poll.h>
#include <spawn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <xenctrl.h>
#include <xenstat.h>

#include "closer/hostos.h"
#include "fake-libxen.h"
#include "xen/hypervisor-xen.h"

/* A fixture root: proc/xen/capabilities, the one file the Xen adapter reads
 * itself; under it, dom0/ is the root of the Linux host-OS adapter attached
 * to it (IRQ affinity files, backend counters). */
static char root[64];
static closer_hostos *linux_os;

static void put(const char *rel, const char *text) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                (void) mkdir(path, 0755);
                *p = '/';
        }
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static char *get(const char *rel) {
        static char buf[256];
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static void rm_root(void) {
        char *argv[] = {"rm", "-rf", root, NULL};
        pid_t pid;
        if (root[0] && posix_spawnp(&pid, "rm", NULL, NULL, argv, NULL) == 0)
                waitpid(pid, NULL, 0);
}

static int setup(void **state) {
        fake_lab();
        strcpy(root, "/tmp/closer-xen-root-XXXXXX");
        if (!mkdtemp(root))
                return -1;
        put("proc/xen/capabilities", "control_d\n");
        closer_hypervisor *hv = NULL;
        closer_error err = {{0}};
        if (closer_xen_hypervisor_new_at(root, &hv, &err) < 0)
                return -1;
        *state = hv;
        return 0;
}

/* As closerd sets it up: the Linux host-OS adapter lent to the Xen one. */
static int setup_attached(void **state) {
        char os_root[128];
        if (setup(state) < 0)
                return -1;
        closer_hypervisor *hv = *state;
        snprintf(os_root, sizeof(os_root), "%s/dom0", root);
        (void) mkdir(os_root, 0755);
        if (closer_linux_hostos_new(os_root, NULL, &linux_os, NULL) < 0)
                return -1;
        return hv->ops->attach_hostos(hv->data, linux_os);
}

static int teardown(void **state) {
        closer_hypervisor_free(*state);
        linux_os = closer_hostos_free(linux_os);        /* after the hypervisor that borrowed it */
        rm_root();
        fake_done();
        return 0;
}

static void test_not_dom0(void **state) {
        (void) state;
        strcpy(root, "/tmp/closer-xen-root-XXXXXX");
        assert_non_null(mkdtemp(root));
        closer_hypervisor *hv = NULL;
        closer_error err = {{0}};
        assert_int_equal(closer_xen_hypervisor_new_at(root, &hv, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "no Xen here"));
        put("proc/xen/capabilities", "");       /* a domU */
        assert_int_equal(closer_xen_hypervisor_new_at(root, &hv, &err), -EPERM);
        assert_non_null(strstr(err.msg, "control_d"));
        assert_null(hv);
        rm_root();
}

static closer_snapshot *read_host(closer_hypervisor *hv, bool exact) {
        closer_snapshot *s = closer_snapshot_new();
        closer_error err = {{0}};
        assert_non_null(s);
        int r = hv->ops->read_host(hv->data, exact, s, &err);
        if (r < 0)
                fail_msg("read_host: %d %s", r, err.msg);
        return s;
}

static void test_read_host_lab(void **state) {
        closer_hypervisor *hv = *state;
        closer_snapshot *s = read_host(hv, false);

        assert_int_equal(s->topo.n_nodes, 2);
        assert_true(s->topo.nodes[0].mem_kib == 1310720ull * 4);
        assert_int_equal(s->topo.nodes[1].distances[0], 20);
        assert_int_equal(s->dom0.n_vcpus, 4);
        for (unsigned v = 0; v < 4; v++) {
                assert_int_equal(s->dom0.vcpus[v].pcpu, (int) v);
                assert_true(s->dom0.vcpus[v].has_affinity);
                assert_int_equal(closer_cpuset_count(&s->dom0.vcpus[v].affinity), 1);
                assert_true(closer_cpuset_test(&s->dom0.vcpus[v].affinity, v));
        }
        assert_true(s->dom0.mem_kib == 262144ull * 4);

        assert_int_equal(s->n_domains, 2);
        const closer_domain *d1 = closer_snapshot_find_domain(s, 1), *d2 = closer_snapshot_find_domain(s, 2);
        assert_non_null(d1);
        assert_non_null(d2);
        assert_string_equal(d1->name, "du1");
        assert_string_equal(d1->uuid, "10111213-1415-1617-1819-1a1b1c1d1e1f");
        assert_true(d1->mem_kib == (49152ull + 256) * 4);
        /* estimate: all of its memory on its affinity node */
        assert_true(d1->mem_kib_by_node[0] == 49152ull * 4 && d1->mem_kib_by_node[1] == 0);
        assert_true(d2->mem_kib_by_node[1] == 49152ull * 4 && d2->mem_kib_by_node[0] == 0);
        assert_int_equal(d2->n_vcpus, 2);
        assert_int_equal(d2->vcpus[1].pcpu, 3);
        /* "all" hard affinity comes back as the CPUs that exist */
        assert_int_equal(closer_cpuset_count(&d2->vcpus[1].affinity), 4);
        assert_int_equal(fake.debug_keys, 0);

        /* what the adapter builds is a valid closer-snapshot/1 */
        char *json = closer_snapshot_to_json(s);
        assert_non_null(json);
        closer_snapshot *back = NULL;
        closer_error err = {{0}};
        if (closer_snapshot_from_json(json, "read_host", &back, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(back->n_domains, 2);
        closer_snapshot_free(back);
        free(json);
        closer_snapshot_free(s);
}

static void test_read_host_hostile_and_odd(void **state) {
        closer_hypervisor *hv = *state;

        /* du2 renames itself to something long and nasty */
        static char evil[5000];
        memset(evil, 'x', sizeof(evil));
        memcpy(evil, "\"};\n\x1b[2J", 9);
        fake_xs_set("/local/domain/2/name", evil, sizeof(evil));
        /* a dying domain, a domain without a name, an offline vCPU */
        fake.doms[3] = fake.doms[1];
        fake.doms[3].domid = 5;
        fake.doms[3].flags = XEN_DOMINF_dying;
        fake.doms[4] = fake.doms[1];
        fake.doms[4].domid = 7;
        fake.doms[4].vcpu_offline[1] = true;
        fake.doms[4].nodemap = 0;       /* no node affinity: spread */
        fake.n_doms = 5;

        closer_snapshot *s = read_host(hv, false);
        assert_int_equal(s->n_domains, 3);
        assert_null(closer_snapshot_find_domain(s, 5));
        const closer_domain *d2 = closer_snapshot_find_domain(s, 2), *d7 = closer_snapshot_find_domain(s, 7);
        assert_int_equal(strlen(d2->name), CLOSER_NAME_MAX - 1);
        assert_memory_equal(d2->name, "?};??[2J", 8);
        assert_string_equal(d7->name, "domain-7");
        assert_int_equal(d7->vcpus[1].pcpu, -1);
        assert_true(d7->mem_kib_by_node[0] == 49152ull * 2 && d7->mem_kib_by_node[1] == 49152ull * 2);
        closer_snapshot_free(s);
}

static void test_read_host_exact_numa(void **state) {
        closer_hypervisor *hv = *state;
        fake.conring =
                "(XEN) 'u' pressed -> dumping numa info (now = 135351479340)\n"
                "(XEN) Memory location of each domain:\n"
                "(XEN) Domain 0 (total: 262144):\n"
                "(XEN)     Node 0: 84546\n"
                "(XEN)     Node 1: 177598\n"
                "(XEN) Domain 1 (total: 49152):\n"
                "(XEN)     Node 0: 40000\n"
                "(XEN)     Node 1: 9152\n";
        closer_snapshot *s = read_host(hv, true);
        assert_int_equal(fake.debug_keys, 1);
        const closer_domain *d1 = closer_snapshot_find_domain(s, 1), *d2 = closer_snapshot_find_domain(s, 2);
        assert_true(d1->mem_kib_by_node[0] == 40000ull * 4 && d1->mem_kib_by_node[1] == 9152ull * 4);
        /* not in the dump: the estimate */
        assert_true(d2->mem_kib_by_node[1] == 49152ull * 4);
        closer_snapshot_free(s);
}

/* Without a host-OS adapter the Xen adapter reads and moves nothing of
 * dom0's OS itself: read_io and map_irqs say so (-ENXIO), and no IRQ file,
 * even one under its own root, is touched. */
static void test_not_attached(void **state) {
        closer_hypervisor *hv = *state;
        put("proc/irq/61/smp_affinity_list", "2\n");
        closer_irq irq = {.irq = 61, .name = "blkif-backend", .domid = -1, .queue = -1};
        assert_int_equal(hv->ops->map_irqs(hv->data, &irq, 1), -ENXIO);
        assert_int_equal(irq.domid, -1);
        assert_string_equal(get("proc/irq/61/smp_affinity_list"), "2\n");
        closer_hv_io *io = NULL;
        unsigned n = 0;
        assert_int_equal(hv->ops->read_io(hv->data, &io, &n), -ENXIO);
        assert_null(io);
}

/* Kernel backends' counters come from sysfs through the host-OS adapter
 * (on its root, dom0/), qdisk's from libxenstat's QMP rows; libxenstat's
 * /proc/net/dev parser (XENSTAT_NETWORK) is never asked for, and its
 * kernel-vbd rows are not counted twice. */
static void test_read_io(void **state) {
        closer_hypervisor *hv = *state;
        closer_xen_set_qdisk_poll_ns(hv, 0);    /* ask QMP at every read */
        put("dom0/sys/bus/xen-backend/devices/vbd-1-51712/statistics/rd_req", "7\n");
        put("dom0/sys/bus/xen-backend/devices/vbd-1-51712/statistics/wr_req", "3\n");
        put("dom0/sys/bus/xen-backend/devices/vbd-1-51712/statistics/rd_sect", "8\n");
        put("dom0/sys/bus/xen-backend/devices/vbd-1-51712/statistics/wr_sect", "16\n");
        put("dom0/sys/bus/xen-backend/devices/vif-1-0/state", "4\n");
        put("dom0/sys/class/net/vif1.0/statistics/rx_packets", "10\n");
        put("dom0/sys/class/net/vif1.0/statistics/tx_packets", "5\n");
        put("dom0/sys/class/net/vif1.0/statistics/rx_bytes", "1000\n");
        put("dom0/sys/class/net/vif1.0/statistics/tx_bytes", "500\n");
        /* libxenstat's own row for the same kernel vbd: ignored */
        fake.doms[1].vbd_type = 1, fake.doms[1].rd_reqs = 700, fake.doms[1].wr_reqs = 300;
        fake.doms[1].rpk = 1000;        /* libxenstat's network row: never read */
        /* domain 2's qdisk, through QMP */
        fake.doms[2].vbd_type = 0, fake.doms[2].rd_reqs = 4, fake.doms[2].wr_reqs = 2;
        fake.doms[2].rd_sects = 1, fake.doms[2].wr_sects = 3;
        fake.doms[0].rd_reqs = 99;      /* dom0's own: not reported */
        closer_hv_io *io = NULL;
        unsigned n = 0;
        assert_int_equal(hv->ops->read_io(hv->data, &io, &n), 0);
        assert_int_equal(fake.xenstat_flags & XENSTAT_NETWORK, 0);
        assert_int_equal(n, 2);
        const closer_hv_io *d1 = io[0].domid == 1 ? &io[0] : &io[1], *d2 = io[0].domid == 1 ? &io[1] : &io[0];
        assert_int_equal(d1->domid, 1);
        assert_true(d1->ops == 7 + 3 + 10 + 5);
        assert_true(d1->bytes == 1000 + 500 + 24 * 512);
        assert_int_equal(d2->domid, 2);
        assert_true(d2->ops == 6);
        assert_true(d2->bytes == 4 * 512);
        free(io);

        /* domain 2's QEMU did not answer this time: its last counters stand */
        fake.doms[2].rd_reqs = fake.doms[2].wr_reqs = 0;
        assert_int_equal(hv->ops->read_io(hv->data, &io, &n), 0);
        d2 = io[0].domid == 2 ? &io[0] : &io[1];
        assert_int_equal(d2->domid, 2);
        assert_true(d2->ops == 6);
        free(io);
        /* and it answers again, with more */
        fake.doms[2].rd_reqs = 10, fake.doms[2].wr_reqs = 2;
        assert_int_equal(hv->ops->read_io(hv->data, &io, &n), 0);
        d2 = io[0].domid == 2 ? &io[0] : &io[1];
        assert_true(d2->ops == 12);
        free(io);

        /* a QEMU that answers for the first time after its domain was
         * read brings its history, not new I/O (domain 3: kernel-backed
         * disk, a qdisk that did not answer the first reads) */
        fake.doms[3].domid = 3, fake.n_doms = 4;
        put("dom0/sys/bus/xen-backend/devices/vbd-3-51712/statistics/rd_req", "40\n");
        put("dom0/sys/bus/xen-backend/devices/vbd-3-51712/statistics/wr_req", "0\n");
        put("dom0/sys/bus/xen-backend/devices/vbd-3-51712/statistics/rd_sect", "0\n");
        put("dom0/sys/bus/xen-backend/devices/vbd-3-51712/statistics/wr_sect", "0\n");
        assert_int_equal(hv->ops->read_io(hv->data, &io, &n), 0);
        const closer_hv_io *d3 = NULL;
        for (unsigned i = 0; i < n; i++)
                if (io[i].domid == 3)
                        d3 = &io[i];
        assert_non_null(d3);
        assert_true(d3->ops == 40);
        free(io);
        fake.doms[3].vbd_type = 0, fake.doms[3].rd_reqs = 380;
        assert_int_equal(hv->ops->read_io(hv->data, &io, &n), 0);
        for (unsigned i = 0; i < n; i++)
                if (io[i].domid == 3)
                        d3 = &io[i];
        assert_true(d3->ops == 40);     /* the raw sum would be 420 */
        free(io);

        /* polled every 10 s: within that, QMP is not asked again (the
         * QEMU is not woken) and the last answer stands */
        closer_xen_set_qdisk_poll_ns(hv, CLOSER_XEN_QDISK_POLL_NS_DEFAULT);
        assert_int_equal(hv->ops->read_io(hv->data, &io, &n), 0);
        free(io);
        fake.xenstat_flags = 0;
        fake.doms[2].rd_reqs = 20;
        assert_int_equal(hv->ops->read_io(hv->data, &io, &n), 0);
        assert_int_equal(fake.xenstat_flags, 0);        /* not asked */
        d2 = io[0].domid == 2 ? &io[0] : &io[1];
        assert_true(d2->ops == 12);
        free(io);
}

static void move(const char *from, const char *to) {
        char a[256], b[256];
        snprintf(a, sizeof(a), "%s/%s", root, from);
        snprintf(b, sizeof(b), "%s/%s", root, to);
        assert_int_equal(rename(a, b), 0);
}

static void put_vbd(int domid, int devid, const char *rd_req, const char *wr_req) {
        char rel[256];
        const char *f[] = {"rd_req", "wr_req", "rd_sect", "wr_sect"}, *v[] = {rd_req, wr_req, "0\n", "0\n"};
        for (int i = 0; i < 4; i++) {
                snprintf(rel, sizeof(rel), "dom0/sys/bus/xen-backend/devices/vbd-%d-%d/statistics/%s", domid, devid, f[i]);
                put(rel, v[i]);
        }
}

static void put_vif_stats(int domid, int devid, const char *rx_packets, const char *tx_packets) {
        char rel[256];
        const char *f[] = {"rx_packets", "tx_packets", "rx_bytes", "tx_bytes"}, *v[] = {rx_packets, tx_packets, "0\n", "0\n"};
        for (int i = 0; i < 4; i++) {
                snprintf(rel, sizeof(rel), "dom0/sys/class/net/vif%d.%d/statistics/%s", domid, devid, f[i]);
                put(rel, v[i]);
        }
}

/* domid's ops in one read_io */
static uint64_t read_ops(closer_hypervisor *hv, int domid) {
        closer_hv_io *io = NULL;
        unsigned n = 0;
        uint64_t ops = UINT64_MAX;
        assert_int_equal(hv->ops->read_io(hv->data, &io, &n), 0);
        for (unsigned i = 0; i < n; i++)
                if (io[i].domid == domid)
                        ops = io[i].ops;
        free(io);
        assert_true(ops != UINT64_MAX);
        return ops;
}

/* Each kernel backend device is a source of its own: summed before the
 * adapter took differences, a device unreadable in one read (hotplug racing
 * the read) dropped its domain's counter and the next read added it back as
 * a burst of I/O that never happened, and a device hotplugged into a running
 * domain added its history to one tick. */
static void test_read_io_per_device(void **state) {
        closer_hypervisor *hv = *state;
        closer_xen_set_qdisk_poll_ns(hv, 0);
        /* domain 1: two vbds and a vif, all three counted */
        put_vbd(1, 51712, "7\n", "3\n");
        put_vbd(1, 51728, "100\n", "0\n");
        put("dom0/sys/bus/xen-backend/devices/vif-1-0/state", "4\n");
        put_vif_stats(1, 0, "10\n", "5\n");
        assert_true(read_ops(hv, 1) == 10 + 100 + 15);
        put_vbd(1, 51728, "110\n", "0\n");
        put_vbd(1, 51712, "8\n", "3\n");
        assert_true(read_ops(hv, 1) == 136);            /* both vbds' I/O */

        /* the vif's net device unreadable for one read: when back, only
         * what it did meanwhile counts (summed: +15 more, all at once) */
        move("dom0/sys/class/net/vif1.0", "dom0/sys/class/net/gone");
        assert_true(read_ops(hv, 1) == 136);
        move("dom0/sys/class/net/gone", "dom0/sys/class/net/vif1.0");
        put_vif_stats(1, 0, "10\n", "6\n");
        assert_true(read_ops(hv, 1) == 137);

        /* a vbd missing from the directory for one read: the same */
        move("dom0/sys/bus/xen-backend/devices/vbd-1-51728", "dom0/vbd-1-51728");
        assert_true(read_ops(hv, 1) == 137);
        move("dom0/vbd-1-51728", "dom0/sys/bus/xen-backend/devices/vbd-1-51728");
        assert_true(read_ops(hv, 1) == 137);

        /* a vbd hotplugged into the running domain: its counters so far
         * are history, what it does from now on counts */
        put_vbd(1, 51744, "5000\n", "20\n");
        assert_true(read_ops(hv, 1) == 137);
        put_vbd(1, 51744, "5004\n", "20\n");
        assert_true(read_ops(hv, 1) == 141);

        /* a vif whose net device is not there yet, then is */
        put("dom0/sys/bus/xen-backend/devices/vif-1-1/state", "2\n");
        assert_true(read_ops(hv, 1) == 141);
        put_vif_stats(1, 1, "50\n", "0\n");
        assert_true(read_ops(hv, 1) == 141);
        put_vif_stats(1, 1, "52\n", "1\n");
        assert_true(read_ops(hv, 1) == 144);

        /* domain 2 has no kernel device at all: a row of its own, 0 */
        assert_true(read_ops(hv, 2) == 0);
}

/* A dom0 whose memory/target nobody wrote yet (no `xl mem-set 0` since
 * boot): its current size is its target, as libxl takes it; a domU without
 * one is still unknown. */
static void test_dom0_target_unset(void **state) {
        closer_hypervisor *hv = *state;
        uint64_t kib = 0;
        fake_xs_del("/local/domain/0/memory/target");
        fake.doms[0].tot_pages = 250000;
        assert_int_equal(hv->ops->get_mem_target(hv->data, 0, &kib), 0);
        assert_true(kib == 250000ull * 4);
        fake_xs_del("/local/domain/1/memory/target");
        kib = 5;
        assert_int_equal(hv->ops->get_mem_target(hv->data, 1, &kib), -ESRCH);
        assert_true(kib == 5);
        /* dom0's is written all the same (as xl mem-set 0 does); a domU's
         * missing one means the domain is going: no stray node */
        assert_int_equal(hv->ops->set_mem_target(hv->data, 0, 1048576), 0);
        assert_string_equal(fake_xs_get("/local/domain/0/memory/target"), "1048576");
        assert_int_equal(hv->ops->set_mem_target(hv->data, 1, 150000), -ESRCH);
        assert_null(fake_xs_get("/local/domain/1/memory/target"));
}

static void test_act(void **state) {
        closer_hypervisor *hv = *state;
        uint64_t kib = 0;

        assert_int_equal(hv->ops->set_mem_target(hv->data, 1, 150000), 0);
        assert_string_equal(fake_xs_get("/local/domain/1/memory/target"), "150000");
        /* a conflicting transaction is retried */
        fake.tx_eagain = 2;
        assert_int_equal(hv->ops->set_mem_target(hv->data, 0, 900000), 0);
        assert_string_equal(fake_xs_get("/local/domain/0/memory/target"), "900000");
        fake.tx_eagain = 1000;
        assert_int_equal(hv->ops->set_mem_target(hv->data, 2, 100000), -EAGAIN);
        fake.tx_eagain = 0;
        /* a domain that is gone gets no stray node */
        assert_int_equal(hv->ops->set_mem_target(hv->data, 9, 100000), -ESRCH);
        assert_null(fake_xs_get("/local/domain/9/memory/target"));
        assert_int_equal(hv->ops->set_mem_target(hv->data, -1, 100000), -EINVAL);
        assert_int_equal(hv->ops->set_mem_target(hv->data, 1, 0), -EINVAL);

        assert_int_equal(hv->ops->get_mem_target(hv->data, 1, &kib), 0);
        assert_true(kib == 150000);                     /* what was just set */
        kib = 77;
        assert_int_equal(hv->ops->get_mem_target(hv->data, 9, &kib), -ESRCH);
        assert_true(kib == 77);
        fake_xs_set("/local/domain/2/memory/target", "12ab", 4);      /* garbage: refused */
        assert_int_equal(hv->ops->get_mem_target(hv->data, 2, &kib), -EINVAL);
        fake_xs_set("/local/domain/2/memory/target", "0", 1);
        assert_int_equal(hv->ops->get_mem_target(hv->data, 2, &kib), -EINVAL);
        assert_true(kib == 77);

        assert_int_equal(hv->ops->get_mem_actual(hv->data, 1, &kib), 0);
        assert_true(kib == 49152ull * 4);
        kib = 77;
        assert_int_equal(hv->ops->get_mem_actual(hv->data, 9, &kib), -ESRCH);
        assert_true(kib == 77);

        assert_int_equal(hv->ops->set_cap(hv->data, 2, 150), 0);
        assert_int_equal(fake.doms[2].cap, 150);
        assert_int_equal(fake.doms[2].weight, 256);     /* untouched */
        assert_int_equal(hv->ops->set_cap(hv->data, 2, 70000), -ERANGE);
        fake.sched_id = XEN_SCHEDULER_RTDS;
        assert_int_equal(hv->ops->set_cap(hv->data, 2, 10), -EOPNOTSUPP);
}

static void test_events(void **state) {
        closer_hypervisor *hv = *state;
        bool changed = false;

        int fd = hv->ops->event_fd(hv->data);
        assert_true(fd >= 0);
        assert_int_equal(fake.watches, 2);
        /* the watches fire once when set */
        assert_int_equal(hv->ops->process_events(hv->data, &changed), 0);
        assert_true(changed);
        assert_int_equal(hv->ops->process_events(hv->data, &changed), 0);
        assert_false(changed);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 0), 0);

        fake_fire();
        assert_int_equal(poll(&p, 1, 0), 1);
        assert_int_equal(hv->ops->process_events(hv->data, &changed), 0);
        assert_true(changed);
        assert_int_equal(poll(&p, 1, 0), 0);

        /* xenstored restarts: reconnect, watch again, say "re-plan" */
        unsigned opens = fake.opens;
        fake.xs_dead = true;
        assert_int_equal(hv->ops->process_events(hv->data, &changed), 0);
        assert_true(changed);
        assert_int_equal(fake.opens, opens + 1);
        assert_int_equal(fake.watches, 4);
        assert_int_equal(hv->ops->event_fd(hv->data), fd);     /* the caller's fd stays valid */
        assert_int_equal(fake.watches, 4);
        assert_int_equal(poll(&p, 1, 0), 1);            /* the new watches fired */
        assert_int_equal(hv->ops->process_events(hv->data, &changed), 0);
        assert_true(changed);
        assert_int_equal(poll(&p, 1, 0), 0);

        /* the loss noticed while reading (no wakeup from a dead
         * connection): read_host reconnects, names stay right, and the
         * new watches wake the caller up */
        fake.xs_dead = true;
        closer_snapshot *s = read_host(hv, false);
        assert_string_equal(closer_snapshot_find_domain(s, 1)->name, "du1");
        closer_snapshot_free(s);
        assert_int_equal(fake.opens, opens + 2);
        assert_int_equal(fake.watches, 6);
        assert_int_equal(poll(&p, 1, 0), 1);
        assert_int_equal(hv->ops->process_events(hv->data, &changed), 0);
        assert_true(changed);
}

/* A host OS whose IRQ affinity writes rebind the fake's ports, the way
 * Linux rebinds an event channel. irq 61 -> port 42, 62 -> port 43. */
static const unsigned irq_port[][2] = {{61, 42}, {62, 43}, {69, 50}};
static closer_cpuset irq_aff[3];

static int os_irq(unsigned irq) {
        for (int i = 0; i < 3; i++)
                if (irq_port[i][0] == irq)
                        return i;
        return -1;
}

static int os_get(void *data, unsigned irq, closer_cpuset *ret) {
        int i = os_irq(irq);
        if (i < 0)
                return -ENOENT;
        *ret = irq_aff[i];
        return 0;
}

static int os_set(void *data, unsigned irq, const closer_cpuset *cpus) {
        int i = os_irq(irq);
        if (i < 0)
                return -ENOENT;
        irq_aff[i] = *cpus;
        fake.ports[irq_port[i][1]].vcpu = (unsigned) closer_cpuset_first(cpus);
        return 0;
}

static const closer_hostos_ops os_ops = {
        .name = "fake",
        .get_irq_affinity = os_get,
        .set_irq_affinity = os_set,
};

static void test_map_irqs(void **state) {
        closer_hypervisor *hv = *state;
        closer_hostos os = { .ops = &os_ops };

        /* lsevtchn 0 of the lab: ports 40-54 */
        fake.n_ports = 54;
        for (unsigned p = 1; p <= 39; p++)
                fake.ports[p] = (fake_port) { .status = 5 /* IPI */, .vcpu = p % 4 };
        const unsigned inter[][4] = {
                {40, 0, 1, 1}, {41, 1, 1, 2}, {42, 2, 1, 15}, {43, 2, 1, 16}, {44, 3, 1, 17},
                {48, 0, 2, 1}, {49, 1, 2, 2}, {50, 2, 2, 15}, {51, 3, 2, 16},
        };
        for (unsigned i = 0; i < sizeof(inter) / sizeof(*inter); i++)
                fake.ports[inter[i][0]] = (fake_port) { 2 /* interdomain */, inter[i][1], inter[i][2], inter[i][3] };
        for (int i = 0; i < 3; i++) {
                closer_cpuset_zero(&irq_aff[i]);
                closer_cpuset_set(&irq_aff[i], 2);
        }
        /* du1's frontend, as in the lab; du2's lies (non-numeric, huge,
         * negative, a bogus queue directory) and claims nothing usable */
        fake_xs_set("/local/domain/1/device/vbd/51712/multi-queue-num-queues", "2", 1);
        fake_xs_set("/local/domain/1/device/vbd/51712/queue-0/event-channel", "15", 2);
        fake_xs_set("/local/domain/1/device/vbd/51712/queue-1/event-channel", "16", 2);
        fake_xs_set("/local/domain/1/device/vif/0/queue-0/event-channel-tx", "17", 2);
        fake_xs_set("/local/domain/2/device/vbd/51712/event-channel", "0x0f", 4);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-0/event-channel", "-15", 3);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-99999999999999999999/event-channel", "15", 2);
        fake_xs_set("/local/domain/2/device/vbd/../../1/event-channel", "15", 2);

        closer_irq irqs[3];
        const char *names[] = {"blkif-backend", "blkif-backend", "evtchn:xen-qemu-system"};
        memset(irqs, 0, sizeof(irqs));
        for (int i = 0; i < 3; i++) {
                irqs[i].irq = irq_port[i][0];
                strcpy(irqs[i].name, names[i]);
                irqs[i].domid = irqs[i].queue = -1;
        }

        /* Through the attached Linux adapter, on its root (dom0/): the
         * IRQs are moved in its proc/irq files, never in any under the Xen
         * adapter's own root. Those files move no port of the fake: nothing
         * is matched, and each file is put back as it was. */
        put("dom0/proc/irq/61/smp_affinity_list", "2\n");
        put("dom0/proc/irq/62/smp_affinity_list", "0-3\n");
        put("dom0/proc/irq/69/smp_affinity_list", "1,3\n");
        put("proc/irq/61/smp_affinity_list", "untouched\n");
        assert_int_equal(hv->ops->map_irqs(hv->data, irqs, 3), 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(irqs[i].domid, -1);
        assert_string_equal(get("dom0/proc/irq/61/smp_affinity_list"), "2\n");
        assert_string_equal(get("dom0/proc/irq/62/smp_affinity_list"), "0-3\n");
        assert_string_equal(get("dom0/proc/irq/69/smp_affinity_list"), "1,3\n");
        assert_string_equal(get("proc/irq/61/smp_affinity_list"), "untouched\n");
        /* an IRQ gone from the host OS is left unknown, not an error */
        irqs[0].irq = 70;
        assert_int_equal(hv->ops->map_irqs(hv->data, irqs, 3), 0);
        assert_int_equal(irqs[0].domid, -1);
        irqs[0].irq = 61;

        assert_int_equal(hv->ops->attach_hostos(hv->data, &os), 0);
        assert_int_equal(hv->ops->map_irqs(hv->data, irqs, 3), 0);
        assert_int_equal(irqs[0].domid, 1);
        assert_int_equal(irqs[0].queue, 0);
        assert_int_equal(irqs[0].kind, CLOSER_IRQ_VM_INITIATED);
        assert_int_equal(irqs[1].domid, 1);
        assert_int_equal(irqs[1].queue, 1);
        assert_int_equal(irqs[2].domid, 2);
        assert_int_equal(irqs[2].queue, -1);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(closer_cpuset_count(&irq_aff[i]), 1);
                assert_true(closer_cpuset_test(&irq_aff[i], 2));       /* put back */
        }

        /* next tick: the bindings are checked port by port, nothing moves */
        for (int i = 0; i < 3; i++)
                irqs[i].domid = irqs[i].queue = -1;
        fake.ports[43].vcpu = 1;        /* where it is does not matter */
        assert_int_equal(hv->ops->map_irqs(hv->data, irqs, 3), 0);
        assert_int_equal(irqs[1].domid, 1);
        assert_int_equal(irqs[1].queue, 1);
        assert_int_equal(irqs[2].domid, 2);
        assert_int_equal(fake.ports[43].vcpu, 1);
        /* a port closed under a bound IRQ: that IRQ is probed again, and
         * with no channel following it, it stays unknown */
        fake.ports[42].status = 0;
        for (int i = 0; i < 3; i++)
                irqs[i].domid = irqs[i].queue = -1;
        assert_int_equal(hv->ops->map_irqs(hv->data, irqs, 3), 0);
        assert_int_equal(irqs[0].domid, -1);
        assert_int_equal(irqs[1].domid, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_not_dom0),
                cmocka_unit_test_setup_teardown(test_read_host_lab, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_host_hostile_and_odd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_host_exact_numa, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_attached, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_io, setup_attached, teardown),
                cmocka_unit_test_setup_teardown(test_read_io_per_device, setup_attached, teardown),
                cmocka_unit_test_setup_teardown(test_dom0_target_unset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_act, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_map_irqs, setup_attached, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
