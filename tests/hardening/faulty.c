/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "faulty.h"

int faulty_errno(int kind) {
        static const int e[_FAULT_MAX] = {
                [FAULT_ESRCH] = ESRCH, [FAULT_EBUSY] = EBUSY, [FAULT_EINVAL] = EINVAL, [FAULT_EACCES] = EACCES,
                [FAULT_ENOSPC] = ENOSPC, [FAULT_EIO] = EIO, [FAULT_SHORT] = EIO,
        };
        return kind > 0 && kind < _FAULT_MAX ? -e[kind] : 0;
}

static uint64_t next(faulty *f) {
        /* splitmix64: a fixed seed gives the same schedule every run */
        uint64_t z = (f->rng += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

/* The fault for this call (FAULT_NONE: let it through). */
static int draw(faulty *f, int id) {
        f->calls++;
        if (f->only_tid >= 0 && id != f->only_tid)
                return FAULT_NONE;
        int k = FAULT_NONE;
        if (f->force)
                k = f->force;
        else if (f->pct && next(f) % 100 < f->pct && f->kinds) {
                do
                        k = 1 + (int) (next(f) % (_FAULT_MAX - 1));
                while (!(f->kinds & (1u << k)));
        }
        f->injected[k]++;
        return k;
}

static void first_only(const closer_cpuset *in, closer_cpuset *out) {
        closer_cpuset_zero(out);
        (void) closer_cpuset_set(out, (unsigned) closer_cpuset_first(in));
}

/* ---- host OS ---- */

static int os_read_threads(void *data, closer_thread **ret, unsigned *ret_n, unsigned *ret_vanished) {
        faulty *f = data;
        return f->os->ops->read_threads(f->os->data, ret, ret_n, ret_vanished);
}
static int os_read_irqs(void *data, closer_irq **ret, unsigned *ret_n) {
        faulty *f = data;
        return f->os->ops->read_irqs(f->os->data, ret, ret_n);
}
static int os_get_thread_affinity(void *data, int tid, closer_cpuset *ret) {
        faulty *f = data;
        return f->os->ops->get_thread_affinity(f->os->data, tid, ret);
}
static int os_get_irq_affinity(void *data, unsigned irq, closer_cpuset *ret) {
        faulty *f = data;
        return f->os->ops->get_irq_affinity(f->os->data, irq, ret);
}

static int os_set_thread_affinity(void *data, int tid, const closer_cpuset *cpus) {
        faulty *f = data;
        closer_cpuset part;
        if (closer_cpuset_is_empty(cpus))
                f->empty_asked++;
        if (tid >= 0 && tid < 65536)
                f->tid_sets[tid]++;
        int k = draw(f, tid);
        if (k == FAULT_SHORT) {
                first_only(cpus, &part);
                (void) f->os->ops->set_thread_affinity(f->os->data, tid, &part);
        }
        if (k)
                return faulty_errno(k);
        return f->os->ops->set_thread_affinity(f->os->data, tid, cpus);
}

static int os_set_irq_affinity(void *data, unsigned irq, const closer_cpuset *cpus) {
        faulty *f = data;
        closer_cpuset part;
        if (closer_cpuset_is_empty(cpus))
                f->empty_asked++;
        int k = draw(f, -2);
        if (k == FAULT_SHORT) {
                first_only(cpus, &part);
                (void) f->os->ops->set_irq_affinity(f->os->data, irq, &part);
        }
        if (k)
                return faulty_errno(k);
        return f->os->ops->set_irq_affinity(f->os->data, irq, cpus);
}

static faulty_leaf *leaf(faulty *f, int node, int domid) {
        for (unsigned i = 0; i < f->n_leaves; i++)
                if (f->leaves[i].node == node && f->leaves[i].domid == domid)
                        return &f->leaves[i];
        if (f->n_leaves == sizeof(f->leaves) / sizeof(f->leaves[0]))
                return NULL;
        faulty_leaf *l = &f->leaves[f->n_leaves++];
        *l = (faulty_leaf) {.node = node, .domid = domid};
        return l;
}

static int os_cgroup_leaf(void *data, int node, int domid, const closer_cpuset *cpus, const closer_cpuset *mems) {
        faulty *f = data;
        if (closer_cpuset_is_empty(cpus) || closer_cpuset_is_empty(mems)) {
                f->empty_asked++;
                return -EINVAL;
        }
        /* A leaf is recorded once a write lands: a new cgroup whose cpuset
         * was never written uses its parent's CPUs, it is not empty. */
        int k = draw(f, -3);
        if (k && k != FAULT_SHORT)
                return faulty_errno(k);
        faulty_leaf *l = leaf(f, node, domid);
        if (!l)
                return -ENOSPC;
        if (k == FAULT_SHORT) {
                /* cpuset.cpus landed, cpuset.mems did not */
                l->cpus = *cpus;
                return -EIO;
        }
        l->cpus = *cpus;
        return 0;
}

static int os_cgroup_move(void *data, int node, int domid, int pid) {
        faulty *f = data;
        int k = draw(f, pid);
        return k ? faulty_errno(k) : 0;
}

static void nop_free(void *data) {
        (void) data;
}

static const closer_hostos_ops faulty_os_ops = {
        .name = "faulty",
        .read_threads = os_read_threads,
        .read_irqs = os_read_irqs,
        .get_thread_affinity = os_get_thread_affinity,
        .get_irq_affinity = os_get_irq_affinity,
        .set_thread_affinity = os_set_thread_affinity,
        .set_irq_affinity = os_set_irq_affinity,
        .cgroup_leaf = os_cgroup_leaf,
        .cgroup_move = os_cgroup_move,
        .free = nop_free,
};

/* ---- hypervisor ---- */

static int hv_read_host(void *data, bool exact, closer_snapshot *s, closer_error *err) {
        faulty *f = data;
        return f->hv->ops->read_host(f->hv->data, exact, s, err);
}
static int hv_read_io(void *data, closer_hv_io **ret, unsigned *ret_n) {
        faulty *f = data;
        return f->hv->ops->read_io(f->hv->data, ret, ret_n);
}
static int hv_map_irqs(void *data, closer_irq *irqs, unsigned n) {
        faulty *f = data;
        return f->hv->ops->map_irqs ? f->hv->ops->map_irqs(f->hv->data, irqs, n) : 0;
}
static int hv_set_mem_target(void *data, int domid, uint64_t kib) {
        faulty *f = data;
        int k = draw(f, -5);
        /* a xenstore write is all or nothing: a "short" one did not land */
        return k ? faulty_errno(k) : f->hv->ops->set_mem_target(f->hv->data, domid, kib);
}
static int hv_get_mem_target(void *data, int domid, uint64_t *ret) {
        faulty *f = data;
        return f->hv->ops->get_mem_target(f->hv->data, domid, ret);
}
static int hv_get_mem_actual(void *data, int domid, uint64_t *ret) {
        faulty *f = data;
        return f->hv->ops->get_mem_actual(f->hv->data, domid, ret);
}
static int hv_set_cap(void *data, int domid, unsigned pct) {
        faulty *f = data;
        int k = draw(f, -6);
        return k ? faulty_errno(k) : f->hv->ops->set_cap(f->hv->data, domid, pct);
}
static int hv_get_cap(void *data, int domid, unsigned *ret) {
        faulty *f = data;
        return f->hv->ops->get_cap ? f->hv->ops->get_cap(f->hv->data, domid, ret) : -EOPNOTSUPP;
}
static int hv_event_fd(void *data) {
        faulty *f = data;
        return f->hv->ops->event_fd(f->hv->data);
}
static int hv_process_events(void *data, bool *changed) {
        faulty *f = data;
        return f->hv->ops->process_events(f->hv->data, changed);
}

static const closer_hypervisor_ops faulty_hv_ops = {
        .name = "faulty",
        .read_host = hv_read_host,
        .read_io = hv_read_io,
        .map_irqs = hv_map_irqs,
        .set_mem_target = hv_set_mem_target,
        .get_mem_target = hv_get_mem_target,
        .get_mem_actual = hv_get_mem_actual,
        .set_cap = hv_set_cap,
        .get_cap = hv_get_cap,
        .event_fd = hv_event_fd,
        .process_events = hv_process_events,
        .free = nop_free,
};

void faulty_init(faulty *f, closer_hostos *os, closer_hypervisor *hv, uint64_t seed) {
        memset(f, 0, sizeof(*f));
        f->os = os;
        f->hv = hv;
        f->rng = seed;
        f->only_tid = -1;
        f->wrap_os = (closer_hostos) {.ops = &faulty_os_ops, .data = f};
        f->wrap_hv = (closer_hypervisor) {.ops = &faulty_hv_ops, .data = f};
}
