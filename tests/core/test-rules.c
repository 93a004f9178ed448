/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Classification rules: thesis §3.1, table 3.1 ("Dom0 processes
 * organization": T0 base OS, T1 datacenter agents, T2 VM administration, T3
 * I/O backends; shutdown and migration of a VM go with its T3 work). The
 * thread names and command lines are those a real Xen 4.17 / Linux 6.1 dom0
 * shows (the Xen lab of docs/xen-lab.md; its captures are the
 * tests/data/xen-dom0-* trees).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "closer/rules.h"

static closer_domain doms[] = {
        {.domid = 1, .name = "du1"},
        {.domid = 2, .name = "du2"},
        {.domid = 5, .name = "twin"},
        {.domid = 6, .name = "twin"},
        {.domid = 7, .name = "3"},      /* a name that looks like a domid */
};

static closer_snapshot snap = {.n_domains = 5, .domains = doms};

static closer_thread kthread(const char *comm) {
        closer_thread t = {.tid = 100, .pid = 100, .kernel = true, .last_cpu = -1};
        strncpy(t.comm, comm, sizeof(t.comm) - 1);
        return t;
}

/* A user thread with argv; argv is NULL-terminated. */
static closer_thread uthread(const char *comm, const char **argv) {
        closer_thread t = {.tid = 200, .pid = 200, .kernel = false, .last_cpu = -1};
        strncpy(t.comm, comm, sizeof(t.comm) - 1);
        unsigned n = 0;
        while (argv && argv[n])
                n++;
        t.n_cmdline = n;
        t.cmdline = (char **) argv;
        return t;
}

static closer_classification classify(const closer_thread *t) {
        closer_classification c;
        memset(&c, 0xaa, sizeof(c));
        closer_classify_thread(&snap, t, &c);
        return c;
}

#define ASSERT_CLASS(c, want_cls, want_domid, want_admin) do {          \
                assert_int_equal((c).cls, (want_cls));                  \
                assert_int_equal((c).domid, (want_domid));              \
                assert_int_equal((c).admin_for_domain, (want_admin));   \
                assert_non_null((c).rule);                              \
                assert_true(strnlen((c).what, sizeof((c).what)) < sizeof((c).what)); \
        } while (0)

/* Table 3.1, T3: blkback ring threads "<domid>.<vdev>-<ring>" (Linux 6.1). */
static void test_blkback(void **state) {
        (void) state;
        closer_thread t = kthread("1.xvda-0");
        closer_classification c = classify(&t);
        ASSERT_CLASS(c, CLOSER_T3, 1, false);
        assert_string_equal(c.rule, "blkback");
        assert_int_equal(c.queue, 0);

        t = kthread("32751.xvdb-3");
        ASSERT_CLASS(classify(&t), CLOSER_T3, 32751, false);
        assert_int_equal(classify(&t).queue, 3);        /* the ring: its thread follows vCPU 3 */
        /* out of the domU range, dom0, leading zero, garbage → not a backend */
        const char *bad[] = {"32752.xvda-0", "0.xvda-0", "01.xvda-0", "1.xvda-", "1.-0", ".xvda-0",
                             "1.xv/a-0", "1xvda-0", "-1.xvda-0", "1.xvda-0x", "99999999999999.xvda-0"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                t = kthread(bad[i]);
                ASSERT_CLASS(classify(&t), CLOSER_T0, CLOSER_DOMID_NONE, false);
        }
        /* a user process cannot pose as a backend by naming itself so */
        const char *argv[] = {"./fake", NULL};
        t = uthread("1.xvda-0", argv);
        ASSERT_CLASS(classify(&t), CLOSER_T0, CLOSER_DOMID_NONE, false);
}

/* Table 3.1, T3: netback threads per queue. */
static void test_netback_threads(void **state) {
        (void) state;
        const char *names[] = {"vif1.0-q0-guest-rx", "vif1.0-q1-dealloc", "vif2.0-q0-guest-rx",
                               "vif2.3-q12-dealloc", "vif2.0", "vif2.0-dealloc"};
        const int domids[] = {1, 1, 2, 2, 2, 2};
        /* the queue each serves; the single-queue threads serve queue 0 */
        const int queues[] = {0, 1, 0, 12, 0, 0};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                closer_thread t = kthread(names[i]);
                closer_classification c = classify(&t);
                ASSERT_CLASS(c, CLOSER_T3, domids[i], false);
                assert_string_equal(c.rule, "netback");
                assert_int_equal(c.queue, queues[i]);
        }
        /* comm cut to 15 characters (ps, older kernels): the domain is whole,
         * the queue only when its number is */
        const char *cut[] = {"vif1.0-q0-guest", "vif1.0-q0-deall", "vif32751.0-q0-g", "vif32751.10-q12"};
        const int cut_domids[] = {1, 1, 32751, 32751};
        const int cut_queues[] = {0, 0, 0, -1};
        for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
                closer_thread t = kthread(cut[i]);
                ASSERT_CLASS(classify(&t), CLOSER_T3, cut_domids[i], false);
                assert_int_equal(classify(&t).queue, cut_queues[i]);
        }
        const char *bad[] = {"vif1.0-q0-guest-tx", "vif1.0-q0-", "vif0.0-q0-guest-rx", "vif.0-q0-guest-rx",
                             "vif1-q0-guest-rx", "vif1.0-qx-guest-rx", "vif1.0-q0-guest-rxx", "vifx",
                             "vif1.0-q0-gueZZZ", "vif32752.0-q0-guest-rx"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                closer_thread t = kthread(bad[i]);
                closer_classification c = classify(&t);
                ASSERT_CLASS(c, CLOSER_T0, CLOSER_DOMID_NONE, false);
        }
}

/* Table 3.1, T3: QEMU qdisk backends; dom0's own QEMU is not any VM's work. */
static void test_qemu(void **state) {
        (void) state;
        const char *du2[] = {"/usr/libexec/xen-qemu-system-i386", "-xen-domid", "2", "-no-shutdown",
                             "-xen-attach", "-name", "du2", "-machine", "xenpv", "-m", "192", NULL};
        closer_thread t = uthread("xen-qemu-system", du2);
        closer_classification c = classify(&t);
        ASSERT_CLASS(c, CLOSER_T3, 2, false);
        assert_string_equal(c.rule, "qemu");
        assert_int_equal(c.queue, -1);          /* a device model is no one queue's */

        const char *dom0[] = {"/usr/libexec/xen-qemu-system-i386", "-xen-domid", "0", "-xen-attach",
                              "-name", "dom0", "-nographic", "-M", "xenpv", "-daemonize", NULL};
        t = uthread("xen-qemu-system", dom0);
        c = classify(&t);
        ASSERT_CLASS(c, CLOSER_T2, CLOSER_DOMID_NONE, false);

        const char *twice[] = {"/usr/libexec/xen-qemu-system-i386", "-xen-domid", "2", "-xen-domid", "3", NULL};
        t = uthread("xen-qemu-system", twice);
        ASSERT_CLASS(classify(&t), CLOSER_T2, CLOSER_DOMID_NONE, false);
        const char *garbage[] = {"/usr/libexec/xen-qemu-system-i386", "-xen-domid", "2x", NULL};
        t = uthread("xen-qemu-system", garbage);
        ASSERT_CLASS(classify(&t), CLOSER_T2, CLOSER_DOMID_NONE, false);
        const char *dangling[] = {"/usr/libexec/xen-qemu-system-i386", "-xen-domid", NULL};
        t = uthread("xen-qemu-system", dangling);
        ASSERT_CLASS(classify(&t), CLOSER_T2, CLOSER_DOMID_NONE, false);
        /* a KVM QEMU in dom0 is neither a backend nor toolstack work */
        const char *kvm[] = {"qemu-system-x86_64", "-enable-kvm", "-m", "512", NULL};
        t = uthread("qemu-system-x86", kvm);
        ASSERT_CLASS(classify(&t), CLOSER_T0, CLOSER_DOMID_NONE, false);
        const char *nodomid[] = {"/usr/libexec/xen-qemu-system-i386", "-M", "xenpv", NULL};
        t = uthread("xen-qemu-system", nodomid);
        ASSERT_CLASS(classify(&t), CLOSER_T2, CLOSER_DOMID_NONE, false);
        const char *huge[] = {"/usr/libexec/xen-qemu-system-i386", "-xen-domid", "99999999999999999999", NULL};
        t = uthread("xen-qemu-system", huge);
        ASSERT_CLASS(classify(&t), CLOSER_T2, CLOSER_DOMID_NONE, false);
}

/* Table 3.1, T2: xl; §3.1: shutdown and migration of a VM go to its secondary
 * container (admin_for_domain), everything else of the toolstack is main. */
static void test_xl(void **state) {
        (void) state;
        struct {
                const char *argv[8];
                closer_class cls;
                int domid;
                bool admin;
        } cases[] = {
                {{"/usr/lib/xen-4.17/bin/xl", "create", "/xltest/du1.cfg"}, CLOSER_T2, CLOSER_DOMID_NONE, false},
                {{"xl", "list"}, CLOSER_T2, CLOSER_DOMID_NONE, false},
                {{"xl"}, CLOSER_T2, CLOSER_DOMID_NONE, false},
                {{"xl", "save", "du1", "/tmp/du1.chk"}, CLOSER_T2, 1, true},
                {{"xl", "-v", "save", "-c", "2", "/tmp/x"}, CLOSER_T2, 2, true},
                {{"xl", "shutdown", "-w", "du2"}, CLOSER_T2, 2, true},
                {{"xl", "destroy", "1"}, CLOSER_T2, 1, true},
                {{"xl", "reboot", "du1"}, CLOSER_T2, 1, true},
                {{"xl", "pause", "du2"}, CLOSER_T2, 2, true},
                {{"xl", "migrate", "-C", "du2", "du1", "host2"}, CLOSER_T2, 1, true}, /* -C takes a value */
                {{"xl", "migrate", "--debug", "du2", "host2"}, CLOSER_T2, 2, true},
                /* never guess: */
                {{"xl", "shutdown", "-a"}, CLOSER_T2, CLOSER_DOMID_NONE, false},
                {{"xl", "shutdown", "twin"}, CLOSER_T2, CLOSER_DOMID_NONE, false},  /* two domains */
                {{"xl", "shutdown", "ghost"}, CLOSER_T2, CLOSER_DOMID_NONE, false}, /* no such domain */
                {{"xl", "destroy", "4"}, CLOSER_T2, CLOSER_DOMID_NONE, false},      /* not live */
                {{"xl", "destroy", "0"}, CLOSER_T2, CLOSER_DOMID_NONE, false},      /* dom0 */
                {{"xl", "destroy", "01"}, CLOSER_T2, CLOSER_DOMID_NONE, false},
                {{"xl", "destroy", "3"}, CLOSER_T2, CLOSER_DOMID_NONE, false},      /* numeric = domid, as xl */
                {{"xl", "destroy", "+1"}, CLOSER_T2, CLOSER_DOMID_NONE, false},
                {{"xl", "destroy", "du1 "}, CLOSER_T2, CLOSER_DOMID_NONE, false},
                {{"xl", "restore", "/tmp/du1.chk"}, CLOSER_T2, CLOSER_DOMID_NONE, false},
                {{"xl", "save"}, CLOSER_T2, CLOSER_DOMID_NONE, false},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                closer_thread t = uthread("xl", cases[i].argv);
                closer_classification c = classify(&t);
                ASSERT_CLASS(c, cases[i].cls, cases[i].domid, cases[i].admin);
                assert_string_equal(c.rule, "xl");
                /* worth placing the moment it execs: only when it acts on one domain */
                assert_int_equal(closer_classification_for_domain(&c), cases[i].domid >= 0);
        }
}

/* T2: libxl-save-helper is a child of `xl save`/`xl migrate`: its domain is
 * the one its parent names. */
static void test_save_helper(void **state) {
        (void) state;
        const char *xl_argv[] = {"/usr/lib/xen-4.17/bin/xl", "save", "du2", "/tmp/du2.chk", NULL};
        const char *xl_create[] = {"/usr/lib/xen-4.17/bin/xl", "create", "x.cfg", NULL};
        const char *helper_argv[] = {"/usr/lib/xen-4.17/bin/libxl-save-helper", "--save-domain", "8", "2", NULL};
        const char *other_argv[] = {"/usr/lib/xen-4.17/bin/libxl-save-helper", "--bogus", NULL};
        closer_thread th[4];
        th[0] = uthread("xl", xl_argv);
        th[0].tid = th[0].pid = 300;
        th[1] = uthread("libxl-save-hel", helper_argv);
        th[1].tid = th[1].pid = 301;
        th[1].ppid = 300;
        th[2] = uthread("xl", xl_create);
        th[2].tid = th[2].pid = 400;
        th[3] = uthread("libxl-save-hel", helper_argv);
        th[3].tid = th[3].pid = 401;
        th[3].ppid = 400;

        closer_snapshot s = snap;
        s.n_threads = 4;
        s.threads = th;
        closer_classification c;
        closer_classify_thread(&s, &th[1], &c);
        ASSERT_CLASS(c, CLOSER_T2, 2, true);
        assert_string_equal(c.rule, "libxl-save-helper");
        /* parent names no domain / parent unknown / other mode: main */
        closer_classify_thread(&s, &th[3], &c);
        ASSERT_CLASS(c, CLOSER_T2, CLOSER_DOMID_NONE, false);
        th[1].ppid = 999;
        closer_classify_thread(&s, &th[1], &c);
        ASSERT_CLASS(c, CLOSER_T2, CLOSER_DOMID_NONE, false);
        /* its parent unknown yet: still worth a look at once */
        assert_true(closer_classification_for_domain(&c));
        th[1].ppid = 300;
        th[1].cmdline = (char **) other_argv;
        th[1].n_cmdline = 2;
        closer_classify_thread(&s, &th[1], &c);
        ASSERT_CLASS(c, CLOSER_T2, CLOSER_DOMID_NONE, false);
        /* a helper whose parent is itself must not loop */
        th[1].cmdline = (char **) helper_argv;
        th[1].n_cmdline = 4;
        th[1].ppid = 301;
        closer_classify_thread(&s, &th[1], &c);
        ASSERT_CLASS(c, CLOSER_T2, CLOSER_DOMID_NONE, false);
}

/* What a domain's admin command or device model starts works for that
 * domain: `xl save du1` tears du1's vif down with vif-bridge, which runs
 * grep and ip (seen live: closerd tried to put them on main's CPUs while
 * they sat in du1's cgroup, and the kernel refused). Shells in between are
 * looked through; an agent or the toolstack in between stops it; loops and
 * kernel threads are not followed. */
static void test_children_of_domain_work(void **state) {
        (void) state;
        const char *xl_save[] = {"/usr/lib/xen-4.17/bin/xl", "save", "du1", "/tmp/du1.chk", NULL};
        const char *vif[] = {"/bin/bash", "/etc/xen/scripts/vif-bridge", "offline", NULL};
        const char *grep[] = {"grep", "-q", "vif1.0", NULL};
        const char *xl_list[] = {"xl", "list", NULL};
        const char *nova[] = {"python3", "/usr/bin/nova-compute", NULL};
        const char *qemu[] = {"/usr/libexec/xen-qemu-system-i386", "-xen-domid", "2", "-no-shutdown", NULL};
        const char *ifup[] = {"/bin/sh", "/etc/xen/scripts/qemu-ifup", "tap2.0", NULL};
        closer_thread th[11];
        int ppid[11] = {1, 500, 501, 1, 503, 1, 505, 1, 507, 510, 509};
        const char **argv[11] = {xl_save, vif, grep, xl_list, grep, nova, grep, qemu, ifup, grep, grep};
        for (int i = 0; i < 11; i++) {
                th[i] = uthread(argv[i][0], argv[i]);
                th[i].tid = th[i].pid = 500 + i;
                th[i].ppid = ppid[i];
        }
        th[10] = kthread("kworker/1:0");
        th[10].tid = th[10].pid = 510;
        th[10].ppid = 500;              /* nonsense for a kernel thread: not followed */
        th[9].ppid = 510;               /* 509 <-> 510: a loop */
        th[10].ppid = 509;
        closer_snapshot s = snap;
        s.n_threads = 11;
        s.threads = th;
        closer_classification c;

        closer_classify_thread(&s, &th[1], &c);         /* vif-bridge under xl save du1 */
        ASSERT_CLASS(c, CLOSER_T2, 1, true);
        assert_string_equal(c.rule, "child-of-domain-work");
        assert_true(closer_classification_for_domain(&c));
        closer_classify_thread(&s, &th[2], &c);         /* grep under vif-bridge under xl save du1 */
        ASSERT_CLASS(c, CLOSER_T2, 1, true);
        closer_classify_thread(&s, &th[4], &c);         /* under xl list: toolstack, main */
        ASSERT_CLASS(c, CLOSER_T0, CLOSER_DOMID_NONE, false);
        closer_classify_thread(&s, &th[6], &c);         /* under an agent */
        ASSERT_CLASS(c, CLOSER_T0, CLOSER_DOMID_NONE, false);
        closer_classify_thread(&s, &th[8], &c);         /* qemu-ifup of domain 2's device model */
        ASSERT_CLASS(c, CLOSER_T2, 2, true);
        closer_classify_thread(&s, &th[9], &c);         /* in a loop with a kernel thread */
        ASSERT_CLASS(c, CLOSER_T0, CLOSER_DOMID_NONE, false);
        closer_classify_thread(&s, &th[10], &c);
        ASSERT_CLASS(c, CLOSER_T0, CLOSER_DOMID_NONE, false);
        assert_string_equal(c.rule, "default");
        /* without a snapshot, nothing to look up */
        closer_classify_thread(NULL, &th[2], &c);
        ASSERT_CLASS(c, CLOSER_T0, CLOSER_DOMID_NONE, false);
}

/* T2 daemons, T1 agents, T0 Xen kernel threads and the default. */
static void test_daemons_agents_default(void **state) {
        (void) state;
        struct {
                const char *comm;
                bool kernel;
                const char *argv[6];
                closer_class cls;
        } cases[] = {
                {"oxenstored", false, {"/usr/lib/xen-4.17/bin/oxenstored", "--pid-file", "/run/xenstore.pid"}, CLOSER_T2},
                {"xenstored", false, {"/usr/sbin/xenstored"}, CLOSER_T2},
                {"xenconsoled", false, {"/usr/lib/xen-4.17/bin/xenconsoled", "--log=guest"}, CLOSER_T2},
                {"nova-compute", false, {"/usr/bin/python3", "/usr/bin/nova-compute", "--config-file", "x"}, CLOSER_T1},
                {"python3", false, {"/usr/bin/python3", "-u", "/usr/bin/nova-compute"}, CLOSER_T1},
                {"libvirtd", false, {"/usr/sbin/libvirtd", "--listen"}, CLOSER_T1},
                {"eucalyptus-nc", false, {"/usr/sbin/eucalyptus-nc"}, CLOSER_T1},
                {"ruby", false, {"ruby", "/var/tmp/one/im/kvm.d/collectd-client.rb", "kvm"}, CLOSER_T1},
                {"xenbus", true, {NULL}, CLOSER_T0},
                {"xenwatch", true, {NULL}, CLOSER_T0},
                {"xen-balloon", true, {NULL}, CLOSER_T0},
                {"kworker/u8:1-lo", true, {NULL}, CLOSER_T0},
                {"sshd", false, {"sshd: /usr/sbin/sshd -D"}, CLOSER_T0},
                {"python3", false, {"/usr/bin/python3", "/usr/bin/other"}, CLOSER_T0},
                {"nova-compute", true, {NULL}, CLOSER_T0},       /* kernel threads are not agents */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                closer_thread t = cases[i].kernel ? kthread(cases[i].comm) : uthread(cases[i].comm, cases[i].argv);
                closer_classification c = classify(&t);
                ASSERT_CLASS(c, cases[i].cls, CLOSER_DOMID_NONE, false);
                assert_false(closer_classification_for_domain(&c));     /* no tick when they exec */
        }
        closer_thread t = kthread("kworker/0:1");
        assert_string_equal(classify(&t).rule, "default");
        assert_string_equal(closer_class_to_string(CLOSER_T3), "T3");
        assert_string_equal(closer_class_to_string(CLOSER_T0), "T0");
}

/* A root process as xl leaves it after `xl create`: argv as given, fd 1 on
 * the log it opened for the domain. */
static closer_thread monitor(const char **argv, const char *log) {
        closer_thread t = uthread("xl", argv);
        t.stdout_path = (char *) log;
        t.has_uid = true;
        t.uid = 0;
        return t;
}

/* xl's domain monitor (the "babysitter" xl create leaves): the domain is the
 * one its log names. */
static void test_xl_monitor(void **state) {
        (void) state;
        const char *create[] = {"/usr/lib/xen-4.17/bin/xl", "create", "/xenlab/du2.cfg", NULL};
        closer_thread t = monitor(create, "/var/log/xen/xl-du2.log");
        closer_classification c = classify(&t);
        ASSERT_CLASS(c, CLOSER_T2, 2, true);
        assert_string_equal(c.rule, "xl-monitor");
        assert_true(closer_classification_for_domain(&c));
        assert_non_null(strstr(c.what, "du2"));

        /* the log decides, not the config file's name nor an override */
        const char *renamed[] = {"xl", "-v", "create", "/etc/xen/du2.cfg", "name=\"du1\"", NULL};
        t = monitor(renamed, "/var/log/xen/xl-du1.log");
        ASSERT_CLASS(classify(&t), CLOSER_T2, 1, true);
        const char *restore[] = {"xl", "restore", "/var/lib/xen/du1.save", NULL};
        t = monitor(restore, "/var/log/xen/xl-du1.log");
        ASSERT_CLASS(classify(&t), CLOSER_T2, 1, true);
        const char *receive[] = {"xl", "migrate-receive", NULL};
        t = monitor(receive, "/var/log/xen/xl-du1.log");
        ASSERT_CLASS(classify(&t), CLOSER_T2, 1, true);
        /* a name, never a number: domain 7 is named "3" */
        t = monitor(create, "/var/log/xen/xl-3.log");
        ASSERT_CLASS(classify(&t), CLOSER_T2, 7, true);

        /* not attributed: the "xl" rule, main */
        const char *logs[] = {
                "/var/log/xen/xl-du2.log.1",            /* rotated: a newer du2's log took the name */
                "/var/log/xen/xl-du2.log (deleted)",
                "/var/log/xen/xl-twin.log",             /* two live domains of that name */
                "/var/log/xen/xl-gone.log",             /* no such live domain (renamed, destroyed) */
                "/var/log/xen/xl-du2--incoming.log",    /* an incoming migration, before its rename */
                "/var/log/xen/xl-.log",
                "/var/log/xen/xl-a/du2.log",
                "/tmp/xl-du2.log",
                "/dev/pts/0",                           /* `xl create` still creating, or -F */
                "/var/log/xen/xl-du2.logx",
        };
        for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
                t = monitor(create, logs[i]);
                c = classify(&t);
                ASSERT_CLASS(c, CLOSER_T2, CLOSER_DOMID_NONE, false);
                assert_string_equal(c.rule, "xl");
        }
        /* only root's: anyone may open the 0644 log and call itself xl */
        t = monitor(create, "/var/log/xen/xl-du2.log");
        t.uid = 1000;
        c = classify(&t);
        ASSERT_CLASS(c, CLOSER_T2, CLOSER_DOMID_NONE, false);
        assert_non_null(strstr(c.what, "not resolved"));
        t.has_uid = false;
        t.uid = 0;
        ASSERT_CLASS(classify(&t), CLOSER_T2, CLOSER_DOMID_NONE, false);
        /* only the subcommands that leave a monitor */
        const char *list[] = {"xl", "list", NULL};
        t = monitor(list, "/var/log/xen/xl-du2.log");
        ASSERT_CLASS(classify(&t), CLOSER_T2, CLOSER_DOMID_NONE, false);
        const char *notxl[] = {"/usr/bin/python3", "create", NULL};
        t = monitor(notxl, "/var/log/xen/xl-du2.log");
        ASSERT_CLASS(classify(&t), CLOSER_T0, CLOSER_DOMID_NONE, false);
        /* a kernel thread never is */
        t = kthread("xl");
        t.stdout_path = (char *) "/var/log/xen/xl-du2.log";
        t.has_uid = true;
        ASSERT_CLASS(classify(&t), CLOSER_T0, CLOSER_DOMID_NONE, false);
        /* no snapshot: nothing to resolve */
        t = monitor(create, "/var/log/xen/xl-du2.log");
        closer_classify_thread(NULL, &t, &c);
        ASSERT_CLASS(c, CLOSER_T2, CLOSER_DOMID_NONE, false);

        /* what the monitor starts is the domain's too: the destroyer child
         * it forks (same argv, same log) and the hotplug scripts */
        const char *vif[] = {"/bin/bash", "/etc/xen/scripts/vif-bridge", "offline", NULL};
        closer_thread th[3];
        th[0] = monitor(create, "/var/log/xen/xl-du2.log");
        th[0].tid = th[0].pid = 273;
        th[0].ppid = 1;
        th[1] = monitor(create, "/var/log/xen/xl-du2.log");
        th[1].tid = th[1].pid = 900;
        th[1].ppid = 273;
        th[2] = uthread("vif-bridge", vif);
        th[2].tid = th[2].pid = 901;
        th[2].ppid = 273;
        closer_snapshot s = snap;
        s.n_threads = 3;
        s.threads = th;
        closer_classify_thread(&s, &th[1], &c);
        ASSERT_CLASS(c, CLOSER_T2, 2, true);
        closer_classify_thread(&s, &th[2], &c);
        ASSERT_CLASS(c, CLOSER_T2, 2, true);
        assert_string_equal(c.rule, "child-of-domain-work");
}

/* Untrusted text: unterminated comm, NULL and huge argv entries, random bytes. */
static void test_garbage(void **state) {
        (void) state;
        closer_thread t = kthread("");
        memset(t.comm, 'A', sizeof(t.comm));            /* no NUL at all */
        ASSERT_CLASS(classify(&t), CLOSER_T0, CLOSER_DOMID_NONE, false);
        memcpy(t.comm, "1.xvda-0", 8);                  /* prefix ok, rest unterminated */
        ASSERT_CLASS(classify(&t), CLOSER_T0, CLOSER_DOMID_NONE, false);

        size_t big = 1 << 20;
        char *huge = malloc(big);
        assert_non_null(huge);
        memset(huge, '9', big - 1);
        huge[big - 1] = '\0';
        const char *argv[] = {"xl", "destroy", huge, NULL};
        t = uthread("xl", argv);
        ASSERT_CLASS(classify(&t), CLOSER_T2, CLOSER_DOMID_NONE, false);
        const char *argv2[] = {huge, "-xen-domid", huge, NULL};
        t = uthread("xen-qemu-system", argv2);
        ASSERT_CLASS(classify(&t), CLOSER_T0, CLOSER_DOMID_NONE, false);
        char *nulls[] = {NULL, NULL, NULL};
        t = uthread("xl", NULL);
        t.cmdline = nulls;
        t.n_cmdline = 3;
        ASSERT_CLASS(classify(&t), CLOSER_T0, CLOSER_DOMID_NONE, false);
        free(huge);

        /* random comm/argv bytes: must not crash, and any domid must be a domU id */
        unsigned seed = 12345;
        for (int iter = 0; iter < 20000; iter++) {
                char a0[24], a1[24], a2[24];
                char *av[] = {a0, a1, a2};
                const char alpha[] = "0123456789.-qvifxlsaedtrgu/ \x01\xff";
                closer_thread r = {.tid = iter, .kernel = iter & 1};
                for (size_t i = 0; i < sizeof(r.comm); i++) {
                        seed = seed * 1103515245u + 12345u;
                        r.comm[i] = (seed >> 16) % 7 == 0 ? '\0' : alpha[(seed >> 8) % (sizeof(alpha) - 1)];
                }
                for (int k = 0; k < 3; k++)
                        for (size_t i = 0; i < sizeof(a0); i++) {
                                seed = seed * 1103515245u + 12345u;
                                av[k][i] = i == sizeof(a0) - 1 || (seed >> 16) % 9 == 0 ?
                                        '\0' : alpha[(seed >> 8) % (sizeof(alpha) - 1)];
                        }
                r.cmdline = av;
                r.n_cmdline = iter % 4;
                closer_classification c;
                closer_classify_thread(&snap, &r, &c);
                assert_true(c.domid == CLOSER_DOMID_NONE || (c.domid >= 1 && c.domid <= 32751));
                assert_true(c.cls <= CLOSER_T3);
        }
}

static closer_irq_class irq_class(const char *name, int domid, int queue, closer_irq_kind kind) {
        closer_irq irq = {.irq = 61, .domid = domid, .queue = queue, .kind = kind};
        strncpy(irq.chip, "xen-dyn-lateeoi", sizeof(irq.chip) - 1);
        strncpy(irq.name, name, sizeof(irq.name) - 1);
        closer_irq_class c;
        memset(&c, 0xaa, sizeof(c));
        closer_classify_irq(&irq, &c);
        return c;
}

/* §3.3: VM-initiated I/O (vif tx, blkif) follows the VM's vCPU of that queue;
 * external I/O (vif rx) goes to the least-contributing backend CPU. */
static void test_irqs(void **state) {
        (void) state;
        closer_irq_class c = irq_class("vif1.0-q0-tx", -1, -1, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.domid, 1);
        assert_int_equal(c.queue, 0);
        assert_int_equal(c.kind, CLOSER_IRQ_VM_INITIATED);
        c = irq_class("vif2.0-q1-rx", -1, -1, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.domid, 2);
        assert_int_equal(c.queue, 1);
        assert_int_equal(c.kind, CLOSER_IRQ_EXTERNAL);
        c = irq_class("vif3.1-tx", -1, -1, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.domid, 3);
        assert_int_equal(c.queue, 0);
        assert_int_equal(c.kind, CLOSER_IRQ_VM_INITIATED);
        c = irq_class("vif3.1-rx", -1, -1, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.kind, CLOSER_IRQ_EXTERNAL);
        c = irq_class("vif4.0", -1, -1, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.domid, 4);
        assert_int_equal(c.queue, 0);
        /* the name wins over adapter fields */
        c = irq_class("vif1.0-q3-rx", 9, 0, CLOSER_IRQ_VM_INITIATED);
        assert_int_equal(c.domid, 1);
        assert_int_equal(c.queue, 3);
        assert_int_equal(c.kind, CLOSER_IRQ_EXTERNAL);

        /* blkif-backend: only the adapter (hypervisor's event channel table) knows */
        c = irq_class("blkif-backend", -1, -1, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.domid, CLOSER_DOMID_NONE);
        assert_int_equal(c.queue, -1);
        c = irq_class("blkif-backend", 1, 1, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.domid, 1);
        assert_int_equal(c.queue, 1);
        assert_int_equal(c.kind, CLOSER_IRQ_VM_INITIATED);
        c = irq_class("blkif-backend", 0, 1, CLOSER_IRQ_UNKNOWN);     /* dom0: not a domU */
        assert_int_equal(c.domid, CLOSER_DOMID_NONE);
        c = irq_class("blkif-backend", 40000, 1, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.domid, CLOSER_DOMID_NONE);
        c = irq_class("blkif-backend", 1, -7, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.domid, 1);
        assert_int_equal(c.queue, -1);
        c = irq_class("evtchn:xen-qemu-system", 2, -1, CLOSER_IRQ_UNKNOWN);
        assert_int_equal(c.domid, 2);

        /* not backends */
        const char *others[] = {"evtchn:oxenstored", "timer0", "xenbus", "", "vif1.0-q0-txx", "vif1.0-q-tx",
                                "vif1.0-q0-", "vif0.0-q0-tx", "vif1.0-q99999999-tx", "vif1.0-qq0-tx"};
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
                c = irq_class(others[i], -1, -1, CLOSER_IRQ_UNKNOWN);
                assert_int_equal(c.domid, CLOSER_DOMID_NONE);
                assert_int_equal(c.queue, -1);
        }
        /* unterminated name */
        closer_irq irq = {.domid = -1, .queue = -1};
        memset(irq.name, 'v', sizeof(irq.name));
        closer_classify_irq(&irq, &c);
        assert_int_equal(c.domid, CLOSER_DOMID_NONE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_blkback),
                cmocka_unit_test(test_netback_threads),
                cmocka_unit_test(test_qemu),
                cmocka_unit_test(test_xl),
                cmocka_unit_test(test_save_helper),
                cmocka_unit_test(test_xl_monitor),
                cmocka_unit_test(test_daemons_agents_default),
                cmocka_unit_test(test_children_of_domain_work),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_irqs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
