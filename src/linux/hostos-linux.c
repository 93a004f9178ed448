/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Linux implementation of the host-OS op table (closer/hostos.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/linux.h"

typedef struct linux_host {
        closer_root *root;
        char cgroup_base[256];
        char cgroup_mount[4096];        /* "" until first needed */
        closer_affinity_journal journal;
} linux_host;

static int op_read_threads(void *data, closer_thread **ret, unsigned *ret_n, unsigned *ret_vanished) {
        linux_host *h = data;
        return closer_proc_read_threads(h->root, ret, ret_n, ret_vanished);
}

static int op_read_irqs(void *data, closer_irq **ret, unsigned *ret_n) {
        linux_host *h = data;
        return closer_irq_read(h->root, ret, ret_n, NULL);
}

static int op_get_thread_affinity(void *data, int tid, closer_cpuset *ret) {
        linux_host *h = data;
        return closer_affinity_get_thread(h->root, tid, ret);
}

static int op_get_irq_affinity(void *data, unsigned irq, closer_cpuset *ret) {
        linux_host *h = data;
        return closer_affinity_get_irq(h->root, irq, ret);
}

static int op_set_thread_affinity(void *data, int tid, const closer_cpuset *cpus) {
        linux_host *h = data;
        return closer_affinity_set_thread(h->root, &h->journal, tid, cpus);
}

static int op_set_irq_affinity(void *data, unsigned irq, const closer_cpuset *cpus) {
        linux_host *h = data;
        return closer_affinity_set_irq(h->root, &h->journal, irq, cpus);
}

static int ensure_mount(linux_host *h) {
        if (h->cgroup_mount[0])
                return 0;
        return closer_cgroup_find_mount(h->root, h->cgroup_mount, sizeof(h->cgroup_mount), NULL);
}

static int op_cgroup_leaf(void *data, int node, int domid, const closer_cpuset *cpus, const closer_cpuset *mems) {
        linux_host *h = data;
        int r = ensure_mount(h);
        if (r < 0)
                return r;
        r = closer_cgroup_enable(h->root, h->cgroup_mount, h->cgroup_base, "cpuset cpu");
        if (r < 0)
                return r;
        if (domid >= 0) {
                /* the node level must hold a cpuset before the leaf can; it
                 * gets the leaf's CPUs at least (the caller sets it wider) */
                char node_rel[300];
                snprintf(node_rel, sizeof(node_rel), "%s%snode%d", h->cgroup_base, h->cgroup_base[0] ? "/" : "", node);
                r = closer_cgroup_enable(h->root, h->cgroup_mount, node_rel, "cpuset cpu");
                if (r < 0)
                        return r;
        }
        return closer_cgroup_make_leaf(h->root, h->cgroup_mount, h->cgroup_base, node, domid, cpus, mems);
}

static int op_cgroup_move(void *data, int node, int domid, int pid) {
        linux_host *h = data;
        int r = ensure_mount(h);
        if (r < 0)
                return r;
        return closer_cgroup_move(h->root, h->cgroup_mount, h->cgroup_base, node, domid, pid, false);
}

static int op_restore(void *data) {
        linux_host *h = data;
        return closer_affinity_restore(h->root, &h->journal);
}

static void op_free(void *data) {
        linux_host *h = data;
        if (!h)
                return;
        closer_affinity_journal_done(&h->journal);
        closer_root_free(h->root);
        free(h);
}

static const closer_hostos_ops linux_ops = {
        .name = "linux",
        .read_threads = op_read_threads,
        .read_irqs = op_read_irqs,
        .get_thread_affinity = op_get_thread_affinity,
        .get_irq_affinity = op_get_irq_affinity,
        .set_thread_affinity = op_set_thread_affinity,
        .set_irq_affinity = op_set_irq_affinity,
        .cgroup_leaf = op_cgroup_leaf,
        .cgroup_move = op_cgroup_move,
        .restore = op_restore,
        .free = op_free,
};

int closer_linux_hostos_new(const char *root, const char *cgroup_base, closer_hostos **ret, closer_error *err) {
        linux_host *h = calloc(1, sizeof(*h));
        closer_hostos *ho = calloc(1, sizeof(*ho));
        int r;

        if (!h || !ho) {
                free(h);
                free(ho);
                return closer_error_set(err, -ENOMEM, "out of memory");
        }
        r = closer_root_open(root, &h->root);
        if (r < 0) {
                free(h);
                free(ho);
                return closer_error_set(err, r, "%s: cannot open root: %s", root ? root : "/", strerror(-r));
        }
        if (!cgroup_base)
                cgroup_base = "closer";
        while (*cgroup_base == '/')
                cgroup_base++;
        if (strlen(cgroup_base) >= sizeof(h->cgroup_base) || strstr(cgroup_base, "..")) {
                op_free(h);
                free(ho);
                return closer_error_set(err, -EINVAL, "cgroup base '%s': expected a relative path without '..'",
                                        cgroup_base);
        }
        snprintf(h->cgroup_base, sizeof(h->cgroup_base), "%s", cgroup_base);
        ho->ops = &linux_ops;
        ho->data = h;
        *ret = ho;
        return 0;
}

closer_hostos *closer_hostos_free(closer_hostos *h) {
        if (h) {
                if (h->ops && h->ops->free)
                        h->ops->free(h->data);
                free(h);
        }
        return NULL;
}
