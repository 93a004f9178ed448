/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hostile guests against the real Xen adapter (hypervisor-xen.c over the
 * fake libxen of tests/xen-adapter): du2 writes absurd and conflicting
 * values into its own xenstore subtree — du1's event-channel ports as its
 * own, the same port for several queues, queue numbers and counts out of
 * range, 4 KiB values, a hundred devices, device directories without the
 * keys a frontend should write. Whatever it
 * writes, du1's backend IRQs stay du1's (with the queues du1 announced),
 * du2's IRQ is never given to du1, every IRQ moved to probe is put back,
 * and the adapter answers promptly.
 */
#include <errno.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "closer/hostos.h"
#include "fake-libxen.h"
#include "xen/hypervisor-xen.h"

static char root[64];

static int setup(void **state) {
        char path[128];
        fake_lab();
        strcpy(root, "/tmp/closer-hostile-XXXXXX");
        if (!mkdtemp(root))
                return -1;
        snprintf(path, sizeof(path), "%s/proc", root);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/proc/xen", root);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/proc/xen/capabilities", root);
        FILE *f = fopen(path, "w");
        if (!f)
                return -1;
        fputs("control_d\n", f);
        fclose(f);
        closer_hypervisor *hv = NULL;
        closer_error err = {{0}};
        if (closer_xen_hypervisor_new_at(root, &hv, &err) < 0)
                return -1;
        *state = hv;
        return 0;
}

static int teardown(void **state) {
        closer_hypervisor_free(*state);
        char *argv[] = {"rm", "-rf", root, NULL};
        pid_t pid;
        if (posix_spawnp(&pid, "rm", NULL, NULL, argv, NULL) == 0)
                waitpid(pid, NULL, 0);
        fake_done();
        return 0;
}

/* The host OS: an IRQ affinity write rebinds the fake's port, as Linux
 * does. IRQ 61 -> port 42 and 62 -> port 43 (du1's queues 0 and 1), 69 ->
 * port 50 (du2). */
static const unsigned irq_port[][2] = {{61, 42}, {62, 43}, {69, 50}};
static closer_cpuset irq_aff[3];
static unsigned moves;

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
        if (closer_cpuset_is_empty(cpus))
                fail_msg("IRQ %u set to an empty CPU set", irq);
        irq_aff[i] = *cpus;
        fake.ports[irq_port[i][1]].vcpu = (unsigned) closer_cpuset_first(cpus);
        moves++;
        return 0;
}

static const closer_hostos_ops os_ops = {
        .name = "fake",
        .get_irq_affinity = os_get,
        .set_irq_affinity = os_set,
};

/* dom0's event channels as Xen reports them (trusted): du1 has remote
 * ports 15 and 16 (blkif queues 0 and 1) on dom0 ports 42 and 43; du2 has
 * remote port 15 on dom0 port 50. */
static void ports(void) {
        fake.n_ports = 54;
        for (unsigned p = 1; p <= 39; p++)
                fake.ports[p] = (fake_port) {.status = 5, .vcpu = p % 4};
        const unsigned inter[][4] = {
                {40, 0, 1, 1}, {41, 1, 1, 2}, {42, 2, 1, 15}, {43, 2, 1, 16},
                {48, 0, 2, 1}, {49, 1, 2, 2}, {50, 2, 2, 15}, {51, 3, 2, 16},
        };
        for (unsigned i = 0; i < sizeof(inter) / sizeof(*inter); i++)
                fake.ports[inter[i][0]] = (fake_port) {2, inter[i][1], inter[i][2], inter[i][3]};
        for (int i = 0; i < 3; i++) {
                closer_cpuset_zero(&irq_aff[i]);
                closer_cpuset_set(&irq_aff[i], 2);
        }
        /* du1, honest */
        fake_xs_set("/local/domain/1/device/vbd/51712/multi-queue-num-queues", "2", 1);
        fake_xs_set("/local/domain/1/device/vbd/51712/queue-0/event-channel", "15", 2);
        fake_xs_set("/local/domain/1/device/vbd/51712/queue-1/event-channel", "16", 2);
}

static void irqs_init(closer_irq irqs[3]) {
        memset(irqs, 0, 3 * sizeof(*irqs));
        for (int i = 0; i < 3; i++) {
                irqs[i].irq = irq_port[i][0];
                strcpy(irqs[i].name, "blkif-backend");
                irqs[i].domid = irqs[i].queue = -1;
        }
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void map_and_check(closer_hypervisor *hv) {
        closer_hostos os = {.ops = &os_ops};
        closer_irq irqs[3];
        irqs_init(irqs);
        assert_int_equal(hv->ops->attach_hostos(hv->data, &os), 0);
        double t0 = now_s();
        assert_int_equal(hv->ops->map_irqs(hv->data, irqs, 3), 0);
        assert_true(now_s() - t0 < 2.0);        /* no stall, whatever du2 wrote */
        /* du1's work stays du1's, with the queues du1 announced */
        assert_int_equal(irqs[0].domid, 1);
        assert_int_equal(irqs[0].queue, 0);
        assert_int_equal(irqs[1].domid, 1);
        assert_int_equal(irqs[1].queue, 1);
        /* du2's IRQ is du2's (Xen says so), never du1's */
        assert_int_equal(irqs[2].domid, 2);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(closer_cpuset_count(&irq_aff[i]), 1);
                assert_true(closer_cpuset_test(&irq_aff[i], 2));        /* put back */
        }
}

/* du2 announces du1's ports as its own, twice, on several queues. */
static void test_claims_other_domains_ports(void **state) {
        closer_hypervisor *hv = *state;
        ports();
        fake_xs_set("/local/domain/2/device/vbd/51712/multi-queue-num-queues", "4294967295", 10);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-0/event-channel", "16", 2);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-1/event-channel", "16", 2);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-2/event-channel", "15", 2);
        fake_xs_set("/local/domain/2/device/vbd/51713/event-channel", "15", 2);
        /* and writes into du1's subtree, which it cannot: not read as du2's */
        fake_xs_set("/local/domain/2/device/vbd/1/../../../1/device/vbd/51712/queue-0/event-channel", "99", 2);
        map_and_check(hv);
}

/* Absurd values: out of range, signs, spaces, NULs, 4 KiB of digits. */
static void test_absurd_values(void **state) {
        closer_hypervisor *hv = *state;
        static char huge[4096];
        ports();
        memset(huge, '9', sizeof(huge));
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-0/event-channel", huge, sizeof(huge));
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-1/event-channel", "15\0" "16", 5);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-2/event-channel", " 15", 3);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-3/event-channel", "+15", 3);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-4/event-channel", "18446744073709551616", 20);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-255/event-channel", "16", 2);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-256/event-channel", "16", 2);
        fake_xs_set("/local/domain/2/device/vbd/51712/queue-00000000000000000000001/event-channel", "16", 2);
        fake_xs_set("/local/domain/2/device/vbd/-1/event-channel", "15", 2);
        fake_xs_set("/local/domain/2/device/vbd/99999999999/event-channel", "15", 2);
        fake_xs_set("/local/domain/2/device/vbd/51714", huge, sizeof(huge));
        map_and_check(hv);
}

/* More devices than the adapter reads (CLOSER_XEN_FE_DEVICES_MAX), each
 * announcing du1's ports: bounded, and still not du1's. */
static void test_many_devices_and_vanishing_nodes(void **state) {
        closer_hypervisor *hv = *state;
        char key[128];
        ports();
        /* the fake holds FAKE_KEYS_MAX keys: fill what is left */
        for (unsigned i = 0; fake.n_keys < FAKE_KEYS_MAX - 1; i++) {
                snprintf(key, sizeof(key), "/local/domain/2/device/vbd/%u/queue-%u/event-channel", 1000 + i, i % 300);
                fake_xs_set(key, i % 2 ? "15" : "16", 2);
        }
        map_and_check(hv);
}

/* A guest racing the balloon writes (every transaction conflicts): the
 * write gives up after a bounded number of tries with a transient error. */
static void test_transaction_storm(void **state) {
        closer_hypervisor *hv = *state;
        fake.tx_eagain = 1000000;
        double t0 = now_s();
        int r = hv->ops->set_mem_target(hv->data, 2, 262144);
        assert_true(now_s() - t0 < 2.0);
        assert_int_equal(r, -EAGAIN);
        assert_int_equal(closer_err_kind_of(r), CLOSER_ERR_TRANSIENT);
        /* du1 is not touched by du2's trouble */
        fake.tx_eagain = 0;
        assert_int_equal(hv->ops->set_mem_target(hv->data, 1, 262144), 0);
        assert_string_equal(fake_xs_get("/local/domain/1/memory/target"), "262144");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_claims_other_domains_ports, setup, teardown),
                cmocka_unit_test_setup_teardown(test_absurd_values, setup, teardown),
                cmocka_unit_test_setup_teardown(test_many_devices_and_vanishing_nodes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_transaction_storm, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
