/* SPDX-License-Identifier: GPL-2.0-or-later */
/* /proc/interrupts parsing (real Xen dom0 lines, odd shapes) and IRQ affinity files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "linux/linux.h"

static const closer_irq *find(const closer_irq *irqs, unsigned n, unsigned irq) {
        for (unsigned i = 0; i < n; i++)
                if (irqs[i].irq == irq)
                        return &irqs[i];
        return NULL;
}

static void test_xen_dom0_lines(void **state) {
        (void) state;
        /* copied from a Xen 4.17 PV dom0 (Linux 6.1), 4 vCPUs */
        const char *text =
                "           CPU0       CPU1       CPU2       CPU3       \n"
                "  1:          0          0          9          0  xen-pirq    -ioapic-edge  i8042\n"
                " 24:      12413          0          0          0  xen-percpu    -virq      timer0\n"
                " 48:          0        882          0          0   xen-dyn    -event     xenbus\n"
                " 52:          0          0          0          0  xen-pirq    -msi-x     virtio0-config\n"
                " 61:          1          0       1854          0  xen-dyn-lateeoi    -event     blkif-backend\n"
                " 63:         12          0          0          0  xen-dyn-lateeoi    -event     vif1.0-q0-tx\n"
                " 69:          1          0       1673          0  xen-dyn-lateeoi    -event     evtchn:xen-qemu-system\n"
                "NMI:          0          0          0          0   Non-maskable interrupts\n"
                "ERR:          0\n"
                "MIS:          0\n";
        closer_irq *irqs;
        unsigned n, line = 0;
        closer_error err = {{0}};
        assert_int_equal(closer_irq_parse_interrupts(text, &irqs, &n, &line, &err), 0);
        assert_int_equal(n, 7);
        const closer_irq *i = find(irqs, n, 61);
        assert_non_null(i);
        assert_string_equal(i->chip, "xen-dyn-lateeoi");
        assert_string_equal(i->name, "blkif-backend");
        assert_int_equal(i->n_counts, 4);
        assert_int_equal(i->per_cpu_counts[2], 1854);
        assert_int_equal(i->domid, CLOSER_DOMID_NONE);
        assert_int_equal(i->queue, -1);
        i = find(irqs, n, 1);
        assert_string_equal(i->chip, "xen-pirq");
        assert_string_equal(i->name, "i8042");
        i = find(irqs, n, 48);
        assert_string_equal(i->chip, "xen-dyn");
        assert_string_equal(i->name, "xenbus");
        assert_int_equal(i->per_cpu_counts[1], 882);
        i = find(irqs, n, 69);
        assert_string_equal(i->name, "evtchn:xen-qemu-system");
        closer_hostos_irqs_free(irqs, n);
}

static void test_odd_shapes(void **state) {
        (void) state;
        const char *text =
                "           CPU0       CPU2\n"            /* CPU1 offline */
                "  0:         40          7   IO-APIC   2-edge      timer\n"
                "  7:          0          0   IO-APIC   7-edge\n"           /* no name */
                " 90:          5          6  xen-dyn-lateeoi    -event\n"  /* no name */
                " 24:          1          1  PCI-MSI 524288-edge  nvme0q0, nvme0q1  \n"
                "\n";
        closer_irq *irqs;
        unsigned n;
        assert_int_equal(closer_irq_parse_interrupts(text, &irqs, &n, NULL, NULL), 0);
        assert_int_equal(n, 4);
        const closer_irq *i = find(irqs, n, 0);
        assert_int_equal(i->n_counts, 3);
        assert_int_equal(i->per_cpu_counts[0], 40);
        assert_int_equal(i->per_cpu_counts[1], 0);
        assert_int_equal(i->per_cpu_counts[2], 7);
        assert_string_equal(i->name, "timer");
        assert_string_equal(find(irqs, n, 7)->name, "");
        assert_string_equal(find(irqs, n, 90)->name, "");
        assert_string_equal(find(irqs, n, 90)->chip, "xen-dyn-lateeoi");
        assert_string_equal(find(irqs, n, 24)->name, "nvme0q0, nvme0q1");
        closer_hostos_irqs_free(irqs, n);
}

static void test_512_columns(void **state) {
        (void) state;
        size_t cap = 1 << 20, o = 0;
        char *text = malloc(cap);
        assert_non_null(text);
        o += (size_t) snprintf(text + o, cap - o, "     ");
        for (int c = 0; c < 512; c++)
                o += (size_t) snprintf(text + o, cap - o, " CPU%-7d", c);
        o += (size_t) snprintf(text + o, cap - o, "\n 70:");
        for (int c = 0; c < 512; c++)
                o += (size_t) snprintf(text + o, cap - o, " %10d", c * 3);
        snprintf(text + o, cap - o, "  xen-dyn-lateeoi    -event     vif7.1-q5-rx\n");
        closer_irq *irqs;
        unsigned n;
        assert_int_equal(closer_irq_parse_interrupts(text, &irqs, &n, NULL, NULL), 0);
        assert_int_equal(n, 1);
        assert_int_equal(irqs[0].n_counts, 512);
        assert_int_equal(irqs[0].per_cpu_counts[511], 511 * 3);
        assert_int_equal(irqs[0].per_cpu_counts[300], 900);
        assert_string_equal(irqs[0].name, "vif7.1-q5-rx");
        closer_hostos_irqs_free(irqs, n);
        free(text);
}

static void test_malformed(void **state) {
        (void) state;
        struct {
                const char *text;
                unsigned line;
        } bad[] = {
                {"", 1},
                {"garbage\n", 1},
                {"CPU1 CPU0\n", 1},                            /* columns must ascend */
                {"CPU0 CPU99999\n", 1},                        /* beyond CLOSER_CPUSET_MAX */
                {"  CPU0  CPU1\n 61:  1  xen-dyn -event x\n", 2},     /* a count missing */
                {"  CPU0\n 61  1  xen-dyn -event x\n", 2},            /* no colon */
                {"  CPU0\n 6x1:  1  xen-dyn -event x\n", 2},
                {"  CPU0\n 61:  -1  xen-dyn -event x\n", 2},
                {"  CPU0\n 61:  99999999999999999999999  xen-dyn -event x\n", 2},
                {"  CPU0\n 1:  0  a -e b\n 99999999:  1  xen-dyn -event x\n", 3},
        };
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
                closer_irq *irqs = (void *) 0x1;
                unsigned n = 77, line = 0;
                closer_error err = {{0}};
                assert_int_equal(closer_irq_parse_interrupts(bad[k].text, &irqs, &n, &line, &err), -EINVAL);
                assert_int_equal(line, bad[k].line);
                assert_true(strncmp(err.msg, "line ", 5) == 0);
                assert_int_equal(n, 77);                /* untouched */
                assert_ptr_equal(irqs, (void *) 0x1);
        }
}

static void test_fixture_affinity(void **state) {
        (void) state;
        char path[4096];
        snprintf(path, sizeof(path), "%s/linux-xen-dom0", getenv("CLOSER_TEST_DATA"));
        closer_root *r;
        assert_int_equal(closer_root_open(path, &r), 0);
        closer_irq *irqs;
        unsigned n;
        closer_error err = {{0}};
        assert_int_equal(closer_irq_read(r, &irqs, &n, &err), 0);
        assert_int_equal(n, 32);
        closer_cpuset s, want;
        assert_int_equal(closer_irq_read_affinity(r, 61, false, &s), 0);
        closer_cpuset_parse("0-3", &want);
        assert_true(closer_cpuset_equal(&s, &want));
        assert_int_equal(closer_irq_read_affinity(r, 61, true, &s), 0);
        closer_cpuset_parse("2", &want);
        assert_true(closer_cpuset_equal(&s, &want));
        assert_int_equal(closer_irq_read_affinity(r, 9999, false, &s), -ENOENT);
        closer_hostos_irqs_free(irqs, n);
        closer_root_free(r);

        snprintf(path, sizeof(path), "%s/linux-odd", getenv("CLOSER_TEST_DATA"));
        assert_int_equal(closer_root_open(path, &r), 0);
        assert_int_equal(closer_irq_read_affinity(r, 92, false, &s), -EINVAL);  /* "garbage" */
        closer_root_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_xen_dom0_lines),
                cmocka_unit_test(test_odd_shapes),
                cmocka_unit_test(test_512_columns),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_fixture_affinity),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
