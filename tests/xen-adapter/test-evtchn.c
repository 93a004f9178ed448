/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IRQ <-> event channel matching against a fake dom0: a table of ports (what
 * xc_evtchn_status says), which IRQ is bound to which port (hidden from the
 * code under test, as on a real host), and frontend xenstore values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xen/xen.h"

#define MAX_PORTS 32
#define MAX_IRQS 8

typedef struct fake {
        unsigned n_ports;
        closer_xen_port ports[MAX_PORTS];
        /* hidden binding: irq -> index in ports[] */
        unsigned n_irqs;
        unsigned irq[MAX_IRQS];
        int irq_port[MAX_IRQS];
        closer_cpuset irq_aff[MAX_IRQS];
        /* frontend ports by domain */
        int fe_domid;
        unsigned n_fe;
        closer_xen_fe_port fe[16];
        /* noise: each move also moves this port (index), -1 none */
        int noisy_port;
        unsigned sets, scans, fe_reads, statuses;
        int fail_scan;
} fake;

static int find_irq(fake *f, unsigned irq) {
        for (unsigned i = 0; i < f->n_irqs; i++)
                if (f->irq[i] == irq)
                        return (int) i;
        return -1;
}

static int f_scan(void *data, closer_xen_port **ret, unsigned *ret_n) {
        fake *f = data;
        f->scans++;
        if (f->fail_scan)
                return f->fail_scan;
        closer_xen_port *p = malloc(sizeof(f->ports));
        if (!p)
                return -ENOMEM;
        memcpy(p, f->ports, sizeof(f->ports));
        *ret = p;
        *ret_n = f->n_ports;
        return 0;
}

static int f_get(void *data, unsigned irq, closer_cpuset *ret) {
        fake *f = data;
        int i = find_irq(f, irq);
        if (i < 0)
                return -ENOENT;
        *ret = f->irq_aff[i];
        return 0;
}

static int f_set(void *data, unsigned irq, const closer_cpuset *cpus) {
        fake *f = data;
        int i = find_irq(f, irq);
        if (i < 0)
                return -ENOENT;
        f->sets++;
        f->irq_aff[i] = *cpus;
        /* Linux rebinds the channel to the first CPU of the new mask */
        int cpu = closer_cpuset_first(cpus);
        if (f->irq_port[i] >= 0)
                f->ports[f->irq_port[i]].vcpu = (unsigned) cpu;
        if (f->noisy_port >= 0)
                f->ports[f->noisy_port].vcpu = (unsigned) cpu;
        return 0;
}

static int f_fe(void *data, int domid, closer_xen_fe_port **ret, unsigned *ret_n) {
        fake *f = data;
        f->fe_reads++;
        unsigned n = domid == f->fe_domid ? f->n_fe : 0;
        closer_xen_fe_port *p = calloc(n ? n : 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        memcpy(p, f->fe, n * sizeof(*p));
        *ret = p;
        *ret_n = n;
        return 0;
}

static int f_status(void *data, unsigned port, closer_xen_port *ret) {
        fake *f = data;
        f->statuses++;
        for (unsigned i = 0; i < f->n_ports; i++)
                if (f->ports[i].port == port) {
                        *ret = f->ports[i];
                        return 0;
                }
        return -ENOENT;
}

static const closer_xen_probe_ops ops = {
        .scan_ports = f_scan,
        .get_irq_affinity = f_get,
        .set_irq_affinity = f_set,
        .read_fe_ports = f_fe,
};

/* The same with the one-port check of the steady state. */
static const closer_xen_probe_ops ops_status = {
        .scan_ports = f_scan,
        .get_irq_affinity = f_get,
        .set_irq_affinity = f_set,
        .read_fe_ports = f_fe,
        .port_status = f_status,
};

/* The lab's dom0 (lsevtchn 0): ports 40-54 to domains 1 and 2; irq 61 is
 * port 42 (domain 1 port 15), irq 62 is port 43 (domain 1 port 16); the
 * frontend says queue-0 -> 15, queue-1 -> 16. */
static void lab(fake *f) {
        memset(f, 0, sizeof(*f));
        f->noisy_port = -1;
        const closer_xen_port p[] = {
                {25, 1, 0, 39}, {39, 3, 0, 25},
                {40, 0, 1, 1}, {41, 1, 1, 2}, {42, 2, 1, 15}, {43, 2, 1, 16},
                {44, 3, 1, 17}, {45, 3, 1, 18}, {46, 3, 1, 19}, {47, 3, 1, 20},
                {48, 0, 2, 1}, {49, 1, 2, 2}, {50, 2, 2, 15}, {51, 3, 2, 16},
        };
        f->n_ports = sizeof(p) / sizeof(*p);
        memcpy(f->ports, p, sizeof(p));
        f->n_irqs = 3;
        f->irq[0] = 61;
        f->irq_port[0] = 4;
        f->irq[1] = 62;
        f->irq_port[1] = 5;
        f->irq[2] = 69;                 /* qemu's channel to domain 2, port 15 */
        f->irq_port[2] = 12;
        for (unsigned i = 0; i < f->n_irqs; i++) {
                closer_cpuset_zero(&f->irq_aff[i]);
                for (unsigned c = 0; c < 4; c++)
                        closer_cpuset_set(&f->irq_aff[i], c);
        }
        f->fe_domid = 1;
        f->n_fe = 2;
        f->fe[0] = (closer_xen_fe_port) {15, 0};
        f->fe[1] = (closer_xen_fe_port) {16, 1};
}

static closer_irq irq_named(unsigned n, const char *name) {
        closer_irq q;
        memset(&q, 0, sizeof(q));
        q.irq = n;
        strcpy(q.name, name);
        q.domid = -1;
        q.queue = -1;
        return q;
}

static void test_lab_blkif(void **state) {
        (void) state;
        fake f;
        lab(&f);
        closer_irq irqs[] = {
                irq_named(61, "blkif-backend"),
                irq_named(62, "blkif-backend"),
                irq_named(63, "vif1.0-q0-tx"),
                irq_named(69, "evtchn:xen-qemu-system"),
        };
        closer_xen_irq_cache cache = {0};
        unsigned probed;
        closer_cpuset all = f.irq_aff[0];

        assert_int_equal(closer_xen_map_irqs(&ops, &f, 4, &cache, irqs, 4, &probed), 0);
        assert_int_equal(probed, 3);
        assert_int_equal(irqs[0].domid, 1);
        assert_int_equal(irqs[0].queue, 0);
        assert_int_equal(irqs[0].kind, CLOSER_IRQ_VM_INITIATED);
        assert_int_equal(irqs[1].domid, 1);
        assert_int_equal(irqs[1].queue, 1);
        /* named IRQs are the rules' business */
        assert_int_equal(irqs[2].domid, -1);
        /* qemu's channel: domain from Xen, no frontend queue known for it */
        assert_int_equal(irqs[3].domid, 2);
        assert_int_equal(irqs[3].queue, -1);
        assert_int_equal(irqs[3].kind, CLOSER_IRQ_UNKNOWN);
        /* every affinity put back */
        for (unsigned i = 0; i < f.n_irqs; i++)
                assert_true(closer_cpuset_equal(&f.irq_aff[i], &all));

        /* second round: from the cache, nothing moved */
        unsigned sets = f.sets;
        closer_irq again[] = {irq_named(61, "blkif-backend"), irq_named(62, "blkif-backend")};
        assert_int_equal(closer_xen_map_irqs(&ops, &f, 4, &cache, again, 2, &probed), 0);
        assert_int_equal(probed, 0);
        assert_int_equal(f.sets, sets);
        assert_int_equal(again[1].domid, 1);
        assert_int_equal(again[1].queue, 1);

        /* the port changes hands (domain 1 gone, port reused for domain 3):
         * the binding is dropped and the IRQ probed again */
        f.ports[5].remote_domid = 3;
        f.ports[5].remote_port = 7;
        closer_irq third[] = {irq_named(62, "blkif-backend")};
        assert_int_equal(closer_xen_map_irqs(&ops, &f, 4, &cache, third, 1, &probed), 0);
        assert_int_equal(probed, 1);
        assert_int_equal(third[0].domid, 3);
        assert_int_equal(third[0].queue, -1);
        assert_int_equal(third[0].kind, CLOSER_IRQ_VM_INITIATED);
        closer_xen_irq_cache_done(&cache);
}

static void test_lying_frontend(void **state) {
        (void) state;
        fake f;
        lab(&f);
        /* domain 1 announces port 15 twice, and a queue for a port it
         * does not own: neither can point at anything but its own IRQs */
        f.n_fe = 3;
        f.fe[0] = (closer_xen_fe_port) {15, 0};
        f.fe[1] = (closer_xen_fe_port) {15, 5};
        f.fe[2] = (closer_xen_fe_port) {16, 200};
        closer_irq irqs[] = {irq_named(61, "blkif-backend"), irq_named(62, "blkif-backend"),
                             irq_named(69, "evtchn:xen-qemu-system")};
        closer_xen_irq_cache cache = {0};
        assert_int_equal(closer_xen_map_irqs(&ops, &f, 4, &cache, irqs, 3, NULL), 0);
        assert_int_equal(irqs[0].domid, 1);
        assert_int_equal(irqs[0].queue, -1);    /* ambiguous: no queue */
        assert_int_equal(irqs[1].domid, 1);
        assert_int_equal(irqs[1].queue, 200);   /* its own IRQ, its own choice */
        /* domain 2's IRQ is untouched by domain 1's claims */
        assert_int_equal(irqs[2].domid, 2);
        assert_int_equal(irqs[2].queue, -1);
        closer_xen_irq_cache_done(&cache);
}

static void test_cannot_tell(void **state) {
        (void) state;
        fake f;
        lab(&f);
        closer_xen_irq_cache cache = {0};
        closer_irq irqs[] = {irq_named(61, "blkif-backend")};

        /* one dom0 vCPU: nowhere to move the IRQ */
        assert_int_equal(closer_xen_map_irqs(&ops, &f, 1, &cache, irqs, 1, NULL), 0);
        assert_int_equal(irqs[0].domid, -1);
        assert_int_equal(f.sets, 0);

        /* another channel moves along every time: ambiguous, left unknown */
        f.noisy_port = 10;
        assert_int_equal(closer_xen_map_irqs(&ops, &f, 4, &cache, irqs, 1, NULL), 0);
        assert_int_equal(irqs[0].domid, -1);
        assert_int_equal(cache.n, 0);

        /* an IRQ bound to a dom0-internal channel is not a guest's */
        f.noisy_port = -1;
        f.irq_port[0] = 0;              /* port 25: dom0 <-> dom0 */
        assert_int_equal(closer_xen_map_irqs(&ops, &f, 4, &cache, irqs, 1, NULL), 0);
        assert_int_equal(irqs[0].domid, -1);

        /* an IRQ with no channel at all (the hidden binding is unknown) */
        f.irq_port[0] = -1;
        assert_int_equal(closer_xen_map_irqs(&ops, &f, 4, &cache, irqs, 1, NULL), 0);
        assert_int_equal(irqs[0].domid, -1);

        /* the table cannot be read: an error, IRQs untouched */
        f.fail_scan = -EPERM;
        assert_int_equal(closer_xen_map_irqs(&ops, &f, 4, &cache, irqs, 1, NULL), -EPERM);
        assert_int_equal(irqs[0].domid, -1);
        closer_xen_irq_cache_done(&cache);
}

static void test_nothing_to_do(void **state) {
        (void) state;
        fake f;
        lab(&f);
        closer_xen_irq_cache cache = {0};
        closer_irq irqs[] = {irq_named(63, "vif1.0-q0-tx"), irq_named(61, "blkif-backend")};
        irqs[1].domid = 4;              /* already known */
        assert_int_equal(closer_xen_map_irqs(&ops, &f, 4, &cache, irqs, 2, NULL), 0);
        assert_int_equal(f.scans, 0);
        assert_int_equal(irqs[1].domid, 4);
}

static void test_steady_state(void **state) {
        (void) state;
        fake f;
        lab(&f);
        closer_xen_irq_cache cache = {0};
        closer_irq irqs[] = {irq_named(61, "blkif-backend"), irq_named(62, "blkif-backend"),
                             irq_named(63, "vif1.0-q0-tx")};
        assert_int_equal(closer_xen_map_irqs(&ops_status, &f, 4, &cache, irqs, 3, NULL), 0);
        assert_int_equal(irqs[1].queue, 1);

        /* every IRQ bound: one status per bound port, no walk, no move */
        unsigned scans = f.scans, sets = f.sets, fe_reads = f.fe_reads;
        closer_irq again[] = {irq_named(61, "blkif-backend"), irq_named(62, "blkif-backend"),
                              irq_named(63, "vif1.0-q0-tx")};
        assert_int_equal(closer_xen_map_irqs(&ops_status, &f, 4, &cache, again, 3, NULL), 0);
        assert_int_equal(f.scans, scans);
        assert_int_equal(f.sets, sets);
        assert_int_equal(f.statuses, 2);
        assert_int_equal(f.fe_reads, fe_reads);         /* queues come with the binding */
        assert_int_equal(again[0].domid, 1);
        assert_int_equal(again[1].queue, 1);

        /* port 42 closed and reused for another domain: irq 61 is probed
         * again (a full walk) */
        f.ports[4].remote_domid = 7;
        closer_irq third[] = {irq_named(61, "blkif-backend"), irq_named(62, "blkif-backend")};
        unsigned probed = 9;
        assert_int_equal(closer_xen_map_irqs(&ops_status, &f, 4, &cache, third, 2, &probed), 0);
        assert_int_equal(probed, 1);
        assert_true(f.scans > scans);
        assert_int_equal(third[0].domid, 7);
        assert_int_equal(third[1].domid, 1);

        /* a new IRQ to map: the full walk again */
        scans = f.scans;
        closer_irq fourth[] = {irq_named(61, "blkif-backend"), irq_named(69, "evtchn:xen-qemu-system")};
        assert_int_equal(closer_xen_map_irqs(&ops_status, &f, 4, &cache, fourth, 2, NULL), 0);
        assert_true(f.scans > scans);
        assert_int_equal(fourth[1].domid, 2);
        closer_xen_irq_cache_done(&cache);
}

static void test_followed(void **state) {
        (void) state;
        const closer_xen_port s1[] = {{40, 0, 1, 1}, {42, 0, 1, 15}, {43, 2, 1, 16}};
        const closer_xen_port s2[] = {{40, 0, 1, 1}, {42, 1, 1, 15}, {43, 1, 1, 16}};
        closer_xen_port p = {0};
        assert_int_equal(closer_xen_port_followed(s1, 3, 0, s2, 3, 1, &p), 0);
        assert_int_equal(p.port, 42);
        assert_int_equal(closer_xen_port_followed(s1, 3, 0, s2, 3, 0, &p), -EINVAL);
        assert_int_equal(closer_xen_port_followed(s1, 3, 3, s2, 3, 1, &p), -ENOENT);
        /* same port number, different remote end: closed and reused */
        const closer_xen_port s3[] = {{42, 1, 5, 15}};
        assert_int_equal(closer_xen_port_followed(s1, 3, 0, s3, 1, 1, &p), -ENOENT);
        const closer_xen_port s4[] = {{40, 1, 1, 1}, {42, 1, 1, 15}};
        assert_int_equal(closer_xen_port_followed(s1, 3, 0, s4, 2, 1, &p), -ENOTUNIQ);

        const closer_xen_fe_port fe[] = {{15, 0}, {16, 1}, {16, 2}};
        int q = 9;
        assert_int_equal(closer_xen_queue_of_port(fe, 3, 15, &q), 0);
        assert_int_equal(q, 0);
        assert_int_equal(closer_xen_queue_of_port(fe, 3, 16, &q), -ENOTUNIQ);
        assert_int_equal(closer_xen_queue_of_port(fe, 3, 17, &q), -ENOENT);
        assert_int_equal(closer_xen_queue_of_port(NULL, 0, 17, &q), -ENOENT);
        assert_int_equal(q, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_followed),
                cmocka_unit_test(test_lab_blkif),
                cmocka_unit_test(test_lying_frontend),
                cmocka_unit_test(test_cannot_tell),
                cmocka_unit_test(test_nothing_to_do),
                cmocka_unit_test(test_steady_state),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
