/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The benchmarks' dom0 as a fixture tree (bench-scan, bench-peers): 10,000
 * threads (4,000 backend kernel threads of 500 domains, 600 QEMU-like
 * processes of 10 threads) and 2,000 event-channel IRQs in /proc/interrupts
 * with CPU columns as asked, each with its /proc/irq/N files. generate()
 * makes it in a new directory under $TMPDIR and leaves its path in base;
 * remove_tree() removes it.
 */
#pragma once

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_KTHREADS 4000
#define N_PROCS 600
#define THREADS_PER_PROC 10
#define N_IRQS 2000

static char base[64];

static void put(const char *rel, const char *text, size_t len) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", base, rel);
        FILE *f = fopen(path, "we");
        if (!f) {
                perror(path);
                exit(1);
        }
        fwrite(text, 1, len, f);
        fclose(f);
}

static void mkdirf(const char *rel) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", base, rel);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                perror(path);
                exit(1);
        }
}

static void thread(int pid, int tid, bool kernel, const char *comm, int nthreads) {
        char rel[256], text[512];
        snprintf(rel, sizeof(rel), "proc/%d", pid);
        mkdirf(rel);
        snprintf(rel, sizeof(rel), "proc/%d/task", pid);
        mkdirf(rel);
        snprintf(rel, sizeof(rel), "proc/%d/task/%d", pid, tid);
        mkdirf(rel);
        snprintf(rel, sizeof(rel), "proc/%d/task/%d/comm", pid, tid);
        int n = snprintf(text, sizeof(text), "%s\n", comm);
        put(rel, text, (size_t) n);
        snprintf(rel, sizeof(rel), "proc/%d/task/%d/stat", pid, tid);
        n = snprintf(text, sizeof(text),
                     "%d (%s) S 2 0 0 0 -1 %u 0 0 0 0 %d %d 0 0 20 0 %d 0 %d 0 0 18446744073709551615 0 0 0 0 0 0 0 "
                     "2147483647 0 0 0 0 17 %d 0 0 0 0 0\n",
                     tid, comm, kernel ? 0x208040u : 0x400100u, tid % 97, tid % 13, nthreads, 1000 + tid, tid % 64);
        put(rel, text, (size_t) n);
        if (pid == tid) {
                snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
                put(rel, text, (size_t) n);
        }
}

static void generate(int cpus) {
        char rel[256];
        const char *tmp = getenv("TMPDIR");
        snprintf(base, sizeof(base), "%s/closer-bench-scan-XXXXXX", tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
        if (!mkdtemp(base)) {
                perror("mkdtemp");
                exit(1);
        }
        mkdirf("proc");
        mkdirf("proc/irq");
        int tid = 100;
        for (int i = 0; i < N_KTHREADS; i++, tid++) {
                char comm[64];
                int dom = 1 + i / 8;
                if (i % 2)
                        snprintf(comm, sizeof(comm), "%d.xvda-%d", dom, i % 4);
                else
                        snprintf(comm, sizeof(comm), "vif%d.0-q%d-guest-rx", dom, i % 4);
                thread(tid, tid, true, comm, 1);
                snprintf(rel, sizeof(rel), "proc/%d/cmdline", tid);
                put(rel, "", 0);
        }
        for (int p = 0; p < N_PROCS; p++) {
                int pid = tid;
                for (int t = 0; t < THREADS_PER_PROC; t++, tid++)
                        thread(pid, tid, false, "xen-qemu-system", THREADS_PER_PROC);
                char argv[512];
                int n = snprintf(argv, sizeof(argv), "/usr/libexec/xen-qemu-system-i386%c-xen-domid%c%d%c-name%cvm%d%c"
                                 "-machine%cxenpv%c", 0, 0, 1 + p, 0, 0, p, 0, 0, 0);
                snprintf(rel, sizeof(rel), "proc/%d/cmdline", pid);
                put(rel, argv, (size_t) n);
        }

        size_t cap = (size_t) N_IRQS * (size_t) (cpus + 8) * 12 + 4096, o = 0;
        char *text = malloc(cap);
        o += (size_t) snprintf(text + o, cap - o, "     ");
        for (int c = 0; c < cpus; c++)
                o += (size_t) snprintf(text + o, cap - o, "  CPU%-6d", c);
        text[o++] = '\n';
        for (int i = 0; i < N_IRQS; i++) {
                int irq = 100 + i;
                o += (size_t) snprintf(text + o, cap - o, "%5d:", irq);
                for (int c = 0; c < cpus; c++)
                        o += (size_t) snprintf(text + o, cap - o, " %10d", c == i % cpus ? 1000 + i : 0);
                if (i % 3 == 2)
                        o += (size_t) snprintf(text + o, cap - o, "  xen-dyn-lateeoi    -event     blkif-backend\n");
                else
                        o += (size_t) snprintf(text + o, cap - o, "  xen-dyn-lateeoi    -event     vif%d.0-q%d-%s\n",
                                               1 + i / 6, (i / 3) % 2, i % 3 ? "rx" : "tx");
                snprintf(rel, sizeof(rel), "proc/irq/%d", irq);
                mkdirf(rel);
                char list[32];
                int n = snprintf(list, sizeof(list), "0-%d\n", cpus - 1);
                snprintf(rel, sizeof(rel), "proc/irq/%d/smp_affinity_list", irq);
                put(rel, list, (size_t) n);
                /* what irqbalance reads and writes (bench-peers) */
                char mask[1100];
                n = 0;
                for (int c = (cpus - 1) / 4 * 4; c >= 0; c -= 4)
                        mask[n++] = "0123456789abcdef"[(1u << (cpus - c > 4 ? 4 : cpus - c)) - 1];
                mask[n++] = '\n';
                snprintf(rel, sizeof(rel), "proc/irq/%d/smp_affinity", irq);
                put(rel, mask, (size_t) n);
                snprintf(rel, sizeof(rel), "proc/irq/%d/node", irq);
                put(rel, "-1\n", 3);
        }
        put("proc/interrupts", text, o);
        free(text);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        remove(path);
        return 0;
}

static void remove_tree(void) {
        /* depth first, no symlinks followed */
        nftw(base, rm_entry, 64, FTW_DEPTH | FTW_PHYS);
}
