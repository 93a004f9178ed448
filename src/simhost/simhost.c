/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/alloc-util.h"
#include "simhost/simhost.h"

#define SH_MAX_VCPUS 64u
#define SH_MAX_ARGS 6u
/* dom0 CPU spent per I/O operation in the backend: 20 us, the order of a
 * blkback/netback request on a 2.5 GHz Xeon (Cherkasova & Gardner, USENIX
 * ATC 2005, measured 5-30 us of dom0 per I/O). */
#define SH_BACKEND_NS_PER_OP 20000.0
/* how fast a balloon driver hands pages back: 256 MiB/s */
#define SH_BALLOON_KIB_PER_S (256.0 * 1024)

typedef struct sh_dom {
        int domid;
        char name[64];
        char uuid[40];
        uint64_t mem_kib;
        int mem_node;
        int mem_node2;                  /* -1, or where mem_pct2 % of it is */
        unsigned mem_pct2;
        unsigned n_vcpus;
        int pcpus[SH_MAX_VCPUS];
        double io_ops_per_s;
        double ops, bytes;
        unsigned queues;
        double target_kib, actual_kib;
        bool broken;
        bool unwritten;                 /* no balloon target yet: a domain the toolstack is still building */
        unsigned cap_pct;
} sh_dom;

typedef struct sh_thread {
        int tid, pid, ppid;
        char comm[64];
        bool kernel;
        double cpu_ns;
        uint64_t start_time;
        closer_cpuset aff;
        int domid;              /* whose work (0: none) */
        unsigned argc;
        char argv[SH_MAX_ARGS][64];
        char cgroup[96];        /* its process's cgroup v2 path */
} sh_thread;

typedef struct sh_leaf {
        int node, domid;        /* domid -1: the node level */
} sh_leaf;

typedef struct sh_irq {
        unsigned irq;
        char name[64];
        closer_cpuset aff;
        double *counts;         /* by dom0 CPU */
        int domid, queue;
        closer_irq_kind kind;
} sh_irq;

struct closer_simhost {
        unsigned nodes, cpus_per_node, n_cpus;
        uint64_t mem_kib_per_node;
        double dom0_target_kib;
        unsigned n_dom;
        sh_dom *dom;
        unsigned n_thr;
        sh_thread *thr;
        unsigned n_irq;
        sh_irq *irq;
        unsigned n_leaf, cap_leaf;
        sh_leaf *leaf;
        int next_tid;
        unsigned next_irq;
        uint64_t now_ns;
        int efd;
        unsigned exact_numa_reads;      /* reads that asked for the exact count */
};

/* ---- the model ----------------------------------------------------------- */

static int hv_get_cap(void *data, int domid, unsigned *ret_cap_pct);

static sh_dom *find_dom(const closer_simhost *h, int domid) {
        for (unsigned i = 0; i < h->n_dom; i++)
                if (h->dom[i].domid == domid)
                        return &h->dom[i];
        return NULL;
}

/* Threads and IRQs are kept in ascending tid / irq order (they are appended
 * with growing numbers and removed with memmove), so lookups bisect. */
static sh_thread *find_thr(const closer_simhost *h, int tid) {
        unsigned lo = 0, hi = h->n_thr;
        while (lo < hi) {
                unsigned mid = (lo + hi) / 2;
                if (h->thr[mid].tid < tid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < h->n_thr && h->thr[lo].tid == tid ? &h->thr[lo] : NULL;
}

static sh_irq *find_irq(const closer_simhost *h, unsigned irq) {
        unsigned lo = 0, hi = h->n_irq;
        while (lo < hi) {
                unsigned mid = (lo + hi) / 2;
                if (h->irq[mid].irq < irq)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < h->n_irq && h->irq[lo].irq == irq ? &h->irq[lo] : NULL;
}

static void all_cpus(const closer_simhost *h, closer_cpuset *s) {
        closer_cpuset_zero(s);
        for (unsigned c = 0; c < h->n_cpus; c++)
                (void) closer_cpuset_set(s, c);
}

static void notify(closer_simhost *h) {
        uint64_t one = 1;
        if (h->efd >= 0)
                (void) !write(h->efd, &one, sizeof(one));
}

static sh_thread *add_thread(closer_simhost *h, int pid, int ppid, const char *comm, bool kernel, int domid,
                             const char *const *argv) {
        sh_thread *n = realloc(h->thr, (h->n_thr + 1) * sizeof(*n));
        if (!n)
                return NULL;
        h->thr = n;
        sh_thread *t = &h->thr[h->n_thr++];
        memset(t, 0, sizeof(*t));
        t->tid = h->next_tid++;
        t->pid = pid ? pid : t->tid;
        t->ppid = ppid;
        snprintf(t->comm, sizeof(t->comm), "%s", comm);
        t->kernel = kernel;
        t->domid = domid;
        t->start_time = h->now_ns / 10000000ull + 1;    /* clock ticks (USER_HZ 100) */
        all_cpus(h, &t->aff);
        snprintf(t->cgroup, sizeof(t->cgroup), "%s", kernel ? "/" : "/system.slice");
        for (unsigned i = 0; argv && argv[i] && i < SH_MAX_ARGS; i++) {
                snprintf(t->argv[i], sizeof(t->argv[i]), "%s", argv[i]);
                t->argc = i + 1;
        }
        return t;
}

static sh_irq *add_irq(closer_simhost *h, const char *name, int domid, int queue, closer_irq_kind kind) {
        sh_irq *n = realloc(h->irq, (h->n_irq + 1) * sizeof(*n));
        if (!n)
                return NULL;
        h->irq = n;
        sh_irq *q = &h->irq[h->n_irq];
        memset(q, 0, sizeof(*q));
        q->counts = calloc(h->n_cpus, sizeof(double));
        if (!q->counts)
                return NULL;
        h->n_irq++;
        q->irq = h->next_irq++;
        snprintf(q->name, sizeof(q->name), "%s", name);
        closer_cpuset_zero(&q->aff);
        (void) closer_cpuset_set(&q->aff, 0);  /* Xen binds new event channels to vCPU 0 */
        q->domid = domid;
        q->queue = queue;
        q->kind = kind;
        return q;
}

closer_simhost *closer_simhost_new(unsigned nodes, unsigned cpus_per_node, unsigned mem_gib_per_node,
                                   unsigned dom0_mem_mib) {
        if (nodes == 0 || nodes > CLOSER_NODES_MAX || cpus_per_node == 0 ||
            (uint64_t) nodes * cpus_per_node > CLOSER_CPUSET_MAX)
                return NULL;
        closer_simhost *h = calloc(1, sizeof(*h));
        if (!h)
                return NULL;
        h->nodes = nodes;
        h->cpus_per_node = cpus_per_node;
        h->n_cpus = nodes * cpus_per_node;
        h->mem_kib_per_node = (uint64_t) mem_gib_per_node << 20;
        h->dom0_target_kib = (double) dom0_mem_mib * 1024;
        h->next_tid = 1;
        h->next_irq = 24;
        h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

        /* What any dom0 runs: init, sshd, the toolstack daemons, an agent,
         * and a per-CPU kernel thread on each CPU. */
        static const char *const init_argv[] = {"/sbin/init", NULL};
        static const char *const sshd_argv[] = {"sshd: /usr/sbin/sshd -D [listener]", NULL};
        static const char *const xs_argv[] = {"/usr/sbin/oxenstored", "--pid-file", "/run/xen/xenstored.pid", NULL};
        static const char *const xc_argv[] = {"/usr/sbin/xenconsoled", "--pid-file=/run/xen/xenconsoled.pid", NULL};
        static const char *const nova_argv[] = {"/usr/bin/python3", "/usr/bin/nova-compute", NULL};
        if (!add_thread(h, 0, 0, "systemd", false, 0, init_argv) || !add_thread(h, 0, 1, "sshd", false, 0, sshd_argv) ||
            !add_thread(h, 0, 1, "oxenstored", false, 0, xs_argv) ||
            !add_thread(h, 0, 1, "xenconsoled", false, 0, xc_argv) ||
            !add_thread(h, 0, 1, "nova-compute", false, 0, nova_argv))
                return closer_simhost_free(h);
        for (unsigned c = 0; c < h->n_cpus; c++) {
                char comm[32];
                snprintf(comm, sizeof(comm), "ksoftirqd/%u", c);
                sh_thread *t = add_thread(h, 0, 2, comm, true, 0, NULL);
                if (!t)
                        return closer_simhost_free(h);
                closer_cpuset_zero(&t->aff);
                (void) closer_cpuset_set(&t->aff, c);
        }
        h->next_tid = 1000;
        return h;
}

closer_simhost *closer_simhost_free(closer_simhost *h) {
        if (!h)
                return NULL;
        for (unsigned i = 0; i < h->n_irq; i++)
                free(h->irq[i].counts);
        free(h->irq);
        free(h->leaf);
        free(h->thr);
        free(h->dom);
        if (h->efd >= 0)
                close(h->efd);
        free(h);
        return NULL;
}

int closer_simhost_add_domain(closer_simhost *h, int domid, const char *name, uint64_t mem_kib, int mem_node,
                              unsigned n_vcpus, const int *pcpus, double io_ops_per_s, unsigned queues) {
        if (domid <= 0 || domid > CLOSER_DOMID_MAX || n_vcpus == 0 || n_vcpus > SH_MAX_VCPUS || mem_node < 0 ||
            (unsigned) mem_node >= h->nodes || queues == 0 || queues > 16 || io_ops_per_s < 0)
                return -EINVAL;
        for (unsigned i = 0; i < n_vcpus; i++)
                if (pcpus[i] < 0 || (unsigned) pcpus[i] >= h->n_cpus)
                        return -EINVAL;
        if (find_dom(h, domid))
                return -EEXIST;
        sh_dom *n = realloc(h->dom, (h->n_dom + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        h->dom = n;
        sh_dom *d = &h->dom[h->n_dom++];
        memset(d, 0, sizeof(*d));
        d->domid = domid;
        snprintf(d->name, sizeof(d->name), "%s", name);
        snprintf(d->uuid, sizeof(d->uuid), "00000000-0000-4000-8000-%012x", (unsigned) domid * 2654435761u);
        d->mem_kib = mem_kib;
        d->mem_node = mem_node;
        d->mem_node2 = -1;
        d->n_vcpus = n_vcpus;
        memcpy(d->pcpus, pcpus, n_vcpus * sizeof(int));
        d->io_ops_per_s = io_ops_per_s;
        d->queues = queues;
        d->target_kib = d->actual_kib = (double) mem_kib;

        for (unsigned q = 0; q < queues; q++) {
                char comm[64];
                snprintf(comm, sizeof(comm), "%d.xvda-%u", domid, q);
                if (!add_thread(h, 0, 2, comm, true, domid, NULL))
                        return -ENOMEM;
                snprintf(comm, sizeof(comm), "vif%d.0-q%u-guest-rx", domid, q);
                if (!add_thread(h, 0, 2, comm, true, domid, NULL))
                        return -ENOMEM;
                snprintf(comm, sizeof(comm), "vif%d.0-q%u-dealloc", domid, q);
                if (!add_thread(h, 0, 2, comm, true, domid, NULL))
                        return -ENOMEM;
                if (!add_irq(h, "blkif-backend", domid, (int) q, CLOSER_IRQ_VM_INITIATED))
                        return -ENOMEM;
                snprintf(comm, sizeof(comm), "vif%d.0-q%u-tx", domid, q);
                if (!add_irq(h, comm, domid, (int) q, CLOSER_IRQ_VM_INITIATED))
                        return -ENOMEM;
                snprintf(comm, sizeof(comm), "vif%d.0-q%u-rx", domid, q);
                if (!add_irq(h, comm, domid, (int) q, CLOSER_IRQ_EXTERNAL))
                        return -ENOMEM;
        }
        notify(h);
        return 0;
}

int closer_simhost_remove_domain(closer_simhost *h, int domid) {
        sh_dom *d = find_dom(h, domid);
        if (!d)
                return -ENOENT;
        *d = h->dom[--h->n_dom];
        for (unsigned i = 0; i < h->n_thr;)
                if (h->thr[i].domid == domid)
                        memmove(&h->thr[i], &h->thr[i + 1], (--h->n_thr - i) * sizeof(*h->thr));
                else
                        i++;
        for (unsigned i = 0; i < h->n_irq;)
                if (h->irq[i].domid == domid) {
                        free(h->irq[i].counts);
                        memmove(&h->irq[i], &h->irq[i + 1], (--h->n_irq - i) * sizeof(*h->irq));
                } else
                        i++;
        notify(h);
        return 0;
}

int closer_simhost_add_qemu(closer_simhost *h, int domid) {
        sh_dom *d = find_dom(h, domid);
        char dom[16];
        if (!d)
                return -ENOENT;
        snprintf(dom, sizeof(dom), "%d", domid);
        const char *argv[] = {"/usr/libexec/xen-qemu-system-i386", "-xen-domid", dom, "-name", d->name, NULL};
        sh_thread *t = add_thread(h, 0, 1, "xen-qemu-system", false, domid, argv);
        if (!t)
                return -ENOMEM;
        int pid = t->pid;
        for (int i = 0; i < 2; i++)
                if (!add_thread(h, pid, 1, "xen-qemu-system", false, domid, argv))
                        return -ENOMEM;
        return pid;
}

int closer_simhost_cgroup(const closer_simhost *h, int pid, char *ret, size_t len) {
        const sh_thread *t = find_thr(h, pid);
        if (!t)
                return -ESRCH;
        snprintf(ret, len, "%s", t->cgroup);
        return 0;
}

unsigned closer_simhost_n_leaves(const closer_simhost *h) {
        return h->n_leaf;
}

int closer_simhost_move_vcpu(closer_simhost *h, int domid, unsigned vcpu, int pcpu) {
        sh_dom *d = find_dom(h, domid);
        if (!d || vcpu >= d->n_vcpus)
                return -ENOENT;
        if (pcpu < 0 || (unsigned) pcpu >= h->n_cpus)
                return -EINVAL;
        d->pcpus[vcpu] = pcpu;
        return 0;
}

int closer_simhost_set_io(closer_simhost *h, int domid, double io_ops_per_s) {
        sh_dom *d = find_dom(h, domid);
        if (!d)
                return -ENOENT;
        if (io_ops_per_s < 0)
                return -EINVAL;
        d->io_ops_per_s = io_ops_per_s;
        return 0;
}

int closer_simhost_set_target(closer_simhost *h, int domid, uint64_t target_kib) {
        sh_dom *d = find_dom(h, domid);
        if (!d)
                return -ENOENT;
        if (target_kib == 0 || target_kib > d->mem_kib)
                return -EINVAL;
        d->target_kib = d->actual_kib = (double) target_kib;
        return 0;
}

int closer_simhost_set_balloon_broken(closer_simhost *h, int domid, bool broken) {
        sh_dom *d = find_dom(h, domid);
        if (!d)
                return -ENOENT;
        d->broken = broken;
        return 0;
}

int closer_simhost_set_target_unwritten(closer_simhost *h, int domid, bool unwritten) {
        sh_dom *d = find_dom(h, domid);
        if (!d)
                return -ENOENT;
        d->unwritten = unwritten;
        return 0;
}

int closer_simhost_spread_memory(closer_simhost *h, int domid, int node, unsigned pct) {
        sh_dom *d = find_dom(h, domid);
        if (!d)
                return -ENOENT;
        if (node < 0 || (unsigned) node >= h->nodes || node == d->mem_node || pct > 100)
                return -EINVAL;
        d->mem_node2 = node;
        d->mem_pct2 = pct;
        return 0;
}

unsigned closer_simhost_exact_numa_reads(const closer_simhost *h) {
        return h->exact_numa_reads;
}

int closer_simhost_start_save(closer_simhost *h, int domid) {
        sh_dom *d = find_dom(h, domid);
        char path[96];
        if (!d)
                return -ENOENT;
        snprintf(path, sizeof(path), "/var/lib/xen/%s.save", d->name);
        const char *xl_argv[] = {"/usr/lib/xen-4.17/bin/xl", "save", d->name, path, NULL};
        sh_thread *xl = add_thread(h, 0, 1, "xl", false, domid, xl_argv);
        if (!xl)
                return -ENOMEM;
        int xl_pid = xl->pid;
        const char *helper_argv[] = {"/usr/lib/xen-4.17/bin/libxl-save-helper", "--save-domain", "14", "11", NULL};
        if (!add_thread(h, 0, xl_pid, "libxl-save-hel", false, domid, helper_argv))
                return -ENOMEM;
        return 0;
}

void closer_simhost_advance(closer_simhost *h, uint64_t dt_ns) {
        double dt = (double) dt_ns / 1e9;
        h->now_ns += dt_ns;
        for (unsigned i = 0; i < h->n_dom; i++) {
                sh_dom *d = &h->dom[i];
                double ops = d->io_ops_per_s * dt;
                d->ops += ops;
                d->bytes += ops * 65536.0;
                if (!d->broken) {
                        double step = SH_BALLOON_KIB_PER_S * dt;
                        double gap = d->target_kib - d->actual_kib;
                        d->actual_kib += gap > step ? step : (gap < -step ? -step : gap);
                }
        }
        /* Each domain has 3 kernel backend threads and 3 IRQs per queue: the
         * I/O of the tick is spread over them. */
        const sh_dom *d = NULL;
        for (unsigned k = 0; k < h->n_thr; k++) {
                sh_thread *t = &h->thr[k];
                if (!t->domid || !t->kernel)
                        continue;
                if (!d || d->domid != t->domid)
                        d = find_dom(h, t->domid);
                if (d)
                        t->cpu_ns += d->io_ops_per_s * dt * SH_BACKEND_NS_PER_OP / (3.0 * d->queues);
        }
        d = NULL;
        for (unsigned k = 0; k < h->n_irq; k++) {
                sh_irq *q = &h->irq[k];
                int cpu = closer_cpuset_first(&q->aff);
                if (!d || d->domid != q->domid)
                        d = find_dom(h, q->domid);
                if (d && cpu >= 0 && (unsigned) cpu < h->n_cpus)
                        q->counts[cpu] += d->io_ops_per_s * dt / (3.0 * d->queues);
        }
        /* the base OS and the agent burn a little CPU */
        for (unsigned k = 0; k < 5 && k < h->n_thr; k++)
                h->thr[k].cpu_ns += 0.002 * (double) dt_ns;
}

int closer_simhost_thread_affinity(const closer_simhost *h, int tid, closer_cpuset *ret) {
        const sh_thread *t = find_thr(h, tid);
        if (!t)
                return -ESRCH;
        *ret = t->aff;
        return 0;
}

int closer_simhost_irq_affinity(const closer_simhost *h, unsigned irq, closer_cpuset *ret) {
        const sh_irq *q = find_irq(h, irq);
        if (!q)
                return -ENOENT;
        *ret = q->aff;
        return 0;
}

int closer_simhost_mem(const closer_simhost *h, int domid, uint64_t *ret_target_kib, uint64_t *ret_actual_kib) {
        if (domid == 0) {
                *ret_target_kib = *ret_actual_kib = (uint64_t) h->dom0_target_kib;
                return 0;
        }
        const sh_dom *d = find_dom(h, domid);
        if (!d)
                return -ENOENT;
        *ret_target_kib = (uint64_t) d->target_kib;
        *ret_actual_kib = (uint64_t) d->actual_kib;
        return 0;
}

int closer_simhost_cap(const closer_simhost *h, int domid, unsigned *ret_cap_pct) {
        return hv_get_cap((void *) h, domid, ret_cap_pct);
}

int closer_simhost_find_thread(const closer_simhost *h, const char *comm) {
        for (unsigned i = 0; i < h->n_thr; i++)
                if (strcmp(h->thr[i].comm, comm) == 0)
                        return h->thr[i].tid;
        return -1;
}

/* ---- hypervisor ops -------------------------------------------------------- */

static int hv_read_host(void *data, bool exact_numa, closer_snapshot *s, closer_error *err) {
        closer_simhost *h = data;
        /* the model always knows where memory is: it only counts the asks */
        h->exact_numa_reads += exact_numa;

        s->topo.n_nodes = h->nodes;
        for (unsigned n = 0; n < h->nodes; n++) {
                closer_node *nd = &s->topo.nodes[n];
                memset(nd, 0, sizeof(*nd));
                nd->id = (int) n;
                nd->mem_kib = h->mem_kib_per_node;
                nd->free_kib = h->mem_kib_per_node / 2;
                for (unsigned c = 0; c < h->cpus_per_node; c++)
                        (void) closer_cpuset_set(&nd->cpus, n * h->cpus_per_node + c);
                for (unsigned m = 0; m < h->nodes; m++)
                        nd->distances[m] = m == n ? 10 : 21;
        }
        int r = closer_topology_index(&s->topo, err);
        if (r < 0)
                return r;
        s->dom0.vcpus = calloc(h->n_cpus, sizeof(closer_vcpu));
        s->domains = calloc(h->n_dom ? h->n_dom : 1, sizeof(closer_domain));
        if (!s->dom0.vcpus || !s->domains)
                return closer_error_set(err, -ENOMEM, "out of memory");
        s->dom0.n_vcpus = h->n_cpus;
        s->dom0.mem_kib = (uint64_t) h->dom0_target_kib;
        for (unsigned c = 0; c < h->n_cpus; c++) {
                closer_vcpu *v = &s->dom0.vcpus[c];
                v->id = c;
                v->pcpu = (int) c;     /* dom0_vcpus_pin: vCPU c on pCPU c */
                v->has_affinity = true;
                closer_cpuset_zero(&v->affinity);
                (void) closer_cpuset_set(&v->affinity, (unsigned) v->pcpu);
        }
        for (unsigned i = 0; i < h->n_dom; i++) {
                const sh_dom *d = &h->dom[i];
                closer_domain *sd = &s->domains[s->n_domains];
                sd->vcpus = calloc(d->n_vcpus, sizeof(closer_vcpu));
                if (!sd->vcpus)
                        return closer_error_set(err, -ENOMEM, "out of memory");
                s->n_domains++;
                sd->domid = d->domid;
                snprintf(sd->name, sizeof(sd->name), "%s", d->name);
                snprintf(sd->uuid, sizeof(sd->uuid), "%s", d->uuid);
                sd->mem_kib = d->mem_kib;
                uint64_t second = d->mem_node2 >= 0 ? d->mem_kib * d->mem_pct2 / 100 : 0;
                sd->mem_kib_by_node[d->mem_node] = d->mem_kib - second;
                if (d->mem_node2 >= 0)
                        sd->mem_kib_by_node[d->mem_node2] = second;
                sd->n_vcpus = d->n_vcpus;
                for (unsigned v = 0; v < d->n_vcpus; v++) {
                        sd->vcpus[v].id = v;
                        sd->vcpus[v].pcpu = d->pcpus[v];
                }
        }
        return 0;
}

static int hv_read_io(void *data, closer_hv_io **ret, unsigned *ret_n) {
        closer_simhost *h = data;
        closer_hv_io *io = calloc(h->n_dom ? h->n_dom : 1, sizeof(*io));
        if (!io)
                return -ENOMEM;
        for (unsigned i = 0; i < h->n_dom; i++)
                io[i] = (closer_hv_io) {.domid = h->dom[i].domid, .ops = (uint64_t) h->dom[i].ops,
                                        .bytes = (uint64_t) h->dom[i].bytes};
        *ret = io;
        *ret_n = h->n_dom;
        return 0;
}

/* The sim knows which domain and queue each event channel serves, as Xen's
 * event-channel table does for a real dom0. */
static int hv_map_irqs(void *data, closer_irq *irqs, unsigned n) {
        closer_simhost *h = data;
        for (unsigned i = 0; i < n; i++) {
                const sh_irq *q = find_irq(h, irqs[i].irq);
                if (!q || strcmp(q->name, "blkif-backend") != 0)
                        continue;
                irqs[i].domid = q->domid;
                irqs[i].queue = q->queue;
                irqs[i].kind = q->kind;
        }
        return 0;
}

static int hv_set_mem_target(void *data, int domid, uint64_t target_kib) {
        closer_simhost *h = data;
        if (domid == 0) {
                h->dom0_target_kib = (double) target_kib;
                return 0;
        }
        sh_dom *d = find_dom(h, domid);
        if (!d)
                return -ENOENT;
        if (target_kib > d->mem_kib)
                return -EINVAL;
        d->target_kib = (double) target_kib;
        return 0;
}

static int hv_get_mem_target(void *data, int domid, uint64_t *ret_kib) {
        const sh_dom *d = domid ? find_dom(data, domid) : NULL;
        uint64_t actual;
        if (d && d->unwritten)
                return -ESRCH;  /* as the Xen adapter says for a missing memory/target */
        return closer_simhost_mem(data, domid, ret_kib, &actual);
}

static int hv_get_mem_actual(void *data, int domid, uint64_t *ret_kib) {
        uint64_t target;
        return closer_simhost_mem(data, domid, &target, ret_kib);
}

static int hv_set_cap(void *data, int domid, unsigned cap_pct) {
        sh_dom *d = find_dom(data, domid);
        if (!d)
                return -ENOENT;
        d->cap_pct = cap_pct;
        return 0;
}

static int hv_get_cap(void *data, int domid, unsigned *ret_cap_pct) {
        const sh_dom *d = find_dom(data, domid);
        if (!d)
                return -ENOENT;
        *ret_cap_pct = d->cap_pct;
        return 0;
}

static int hv_event_fd(void *data) {
        return ((closer_simhost *) data)->efd;
}

static int hv_process_events(void *data, bool *ret_changed) {
        closer_simhost *h = data;
        uint64_t v;
        ssize_t n = read(h->efd, &v, sizeof(v));
        *ret_changed = n == (ssize_t) sizeof(v) && v > 0;
        return 0;
}

static void wrapper_free(void *data) {
        (void) data;    /* the host belongs to whoever made it */
}

static const closer_hypervisor_ops sim_hv_ops = {
        .name = "sim",
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
        .free = wrapper_free,
};

int closer_simhost_hypervisor(closer_simhost *h, closer_hypervisor **ret) {
        closer_hypervisor *hv = calloc(1, sizeof(*hv));
        if (!hv)
                return -ENOMEM;
        hv->ops = &sim_hv_ops;
        hv->data = h;
        *ret = hv;
        return 0;
}

/* ---- host-OS ops ------------------------------------------------------------ */

static int os_read_threads(void *data, closer_thread **ret, unsigned *ret_n, unsigned *ret_vanished) {
        closer_simhost *h = data;
        closer_thread *t = calloc(h->n_thr ? h->n_thr : 1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        for (unsigned i = 0; i < h->n_thr; i++) {
                const sh_thread *s = &h->thr[i];
                t[i].tid = s->tid;
                t[i].pid = s->pid;
                t[i].ppid = s->ppid;
                memcpy(t[i].comm, s->comm, sizeof(t[i].comm));
                t[i].kernel = s->kernel;
                t[i].cpu_ns = (uint64_t) s->cpu_ns;
                t[i].start_time = s->start_time;
                t[i].last_cpu = closer_cpuset_first(&s->aff);
                if (s->argc) {
                        t[i].cmdline = calloc(s->argc, sizeof(char *));
                        if (!t[i].cmdline) {
                                closer_hostos_threads_free(t, i + 1);
                                return -ENOMEM;
                        }
                        for (unsigned a = 0; a < s->argc; a++) {
                                t[i].cmdline[a] = strdup(s->argv[a]);
                                if (!t[i].cmdline[a]) {
                                        t[i].n_cmdline = a;
                                        closer_hostos_threads_free(t, i + 1);
                                        return -ENOMEM;
                                }
                        }
                        t[i].n_cmdline = s->argc;
                }
        }
        *ret = t;
        *ret_n = h->n_thr;
        *ret_vanished = 0;
        return 0;
}

static int os_read_irqs(void *data, closer_irq **ret, unsigned *ret_n) {
        closer_simhost *h = data;
        closer_irq *q = calloc(h->n_irq ? h->n_irq : 1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        for (unsigned i = 0; i < h->n_irq; i++) {
                const sh_irq *s = &h->irq[i];
                q[i].irq = s->irq;
                memcpy(q[i].chip, "xen-dyn-lateeoi", sizeof("xen-dyn-lateeoi"));
                memcpy(q[i].name, s->name, sizeof(q[i].name));
                q[i].per_cpu_counts = calloc(h->n_cpus, sizeof(uint64_t));
                if (!q[i].per_cpu_counts) {
                        closer_hostos_irqs_free(q, i);
                        return -ENOMEM;
                }
                q[i].n_counts = h->n_cpus;
                for (unsigned c = 0; c < h->n_cpus; c++)
                        q[i].per_cpu_counts[c] = (uint64_t) s->counts[c];
                q[i].domid = -1;        /* names say for netback; map_irqs says for blkif */
                q[i].queue = -1;
                q[i].cpu = -1;
        }
        *ret = q;
        *ret_n = h->n_irq;
        return 0;
}

static int os_get_thread_affinity(void *data, int tid, closer_cpuset *ret) {
        return closer_simhost_thread_affinity(data, tid, ret);
}

static int os_get_irq_affinity(void *data, unsigned irq, closer_cpuset *ret) {
        return closer_simhost_irq_affinity(data, irq, ret);
}

static int os_set_thread_affinity(void *data, int tid, const closer_cpuset *cpus) {
        closer_simhost *h = data;
        if (closer_cpuset_is_empty(cpus))
                return -EINVAL;
        sh_thread *t = find_thr(h, tid);
        if (!t)
                return -ESRCH;
        t->aff = *cpus;
        return 0;
}

static int os_set_irq_affinity(void *data, unsigned irq, const closer_cpuset *cpus) {
        closer_simhost *h = data;
        if (closer_cpuset_is_empty(cpus))
                return -EINVAL;
        sh_irq *q = find_irq(h, irq);
        if (!q)
                return -ENOENT;
        q->aff = *cpus;
        return 0;
}

static sh_leaf *find_leaf(closer_simhost *h, int node, int domid) {
        for (unsigned i = 0; i < h->n_leaf; i++)
                if (h->leaf[i].node == node && h->leaf[i].domid == domid)
                        return &h->leaf[i];
        return NULL;
}

static void leaf_path(int node, int domid, char *buf, size_t len) {
        if (domid >= 0)
                snprintf(buf, len, "/closer/node%d/vm%d", node, domid);
        else
                snprintf(buf, len, "/closer/node%d", node);
}

static int os_cgroup_leaf(void *data, int node, int domid, const closer_cpuset *cpus, const closer_cpuset *mems) {
        closer_simhost *h = data;
        (void) mems;
        if (closer_cpuset_is_empty(cpus) || node < 0)
                return -EINVAL;
        if (domid >= 0 && !find_leaf(h, node, -1))
                return -ENOENT;         /* the node level comes first */
        if (find_leaf(h, node, domid))
                return 0;
        if (!GREEDY_REALLOC_MIN(h->leaf, h->cap_leaf, h->n_leaf + 1, 64))
                return -ENOMEM;
        h->leaf[h->n_leaf++] = (sh_leaf) {.node = node, .domid = domid};
        return 0;
}

static int os_cgroup_move(void *data, int node, int domid, int pid) {
        closer_simhost *h = data;
        char path[96];
        if (!find_leaf(h, node, domid))
                return -ENOENT;
        if (!find_thr(h, pid))
                return -ESRCH;
        leaf_path(node, domid, path, sizeof(path));
        for (unsigned i = 0; i < h->n_thr; i++)
                if (h->thr[i].pid == pid)
                        snprintf(h->thr[i].cgroup, sizeof(h->thr[i].cgroup), "%s", path);
        return 0;
}

static int os_cgroup_of(void *data, int pid, char *ret, size_t len) {
        return closer_simhost_cgroup(data, pid, ret, len);
}

static int os_cgroup_move_to(void *data, int pid, const char *path) {
        closer_simhost *h = data;
        if (path[0] != '/')
                return -EINVAL;
        if (!find_thr(h, pid))
                return -ESRCH;
        for (unsigned i = 0; i < h->n_thr; i++)
                if (h->thr[i].pid == pid)
                        snprintf(h->thr[i].cgroup, sizeof(h->thr[i].cgroup), "%s", path);
        return 0;
}

static int os_cgroup_remove(void *data, int node, int domid) {
        closer_simhost *h = data;
        char path[96];
        sh_leaf *l = find_leaf(h, node, domid);
        if (!l)
                return 0;
        leaf_path(node, domid, path, sizeof(path));
        size_t n = strlen(path);
        for (unsigned i = 0; i < h->n_thr; i++)
                if (strncmp(h->thr[i].cgroup, path, n) == 0 && (h->thr[i].cgroup[n] == '\0' || h->thr[i].cgroup[n] == '/'))
                        return -EBUSY;
        if (domid < 0)
                for (unsigned i = 0; i < h->n_leaf; i++)
                        if (h->leaf[i].node == node && h->leaf[i].domid >= 0)
                                return -EBUSY;  /* children first */
        *l = h->leaf[--h->n_leaf];
        return 0;
}

static int os_cgroup_clear(void *data) {
        closer_simhost *h = data;
        int first = 0;
        for (int pass = 0; pass < 2; pass++)    /* leaves, then the node levels */
                for (unsigned i = h->n_leaf; i-- > 0;) {
                        if ((pass == 0) != (h->leaf[i].domid >= 0))
                                continue;
                        int r = os_cgroup_remove(h, h->leaf[i].node, h->leaf[i].domid);
                        RET_GATHER(first, r);
                }
        return first;
}

static const closer_hostos_ops sim_os_ops = {
        .name = "sim",
        .read_threads = os_read_threads,
        .read_irqs = os_read_irqs,
        .get_thread_affinity = os_get_thread_affinity,
        .get_irq_affinity = os_get_irq_affinity,
        .set_thread_affinity = os_set_thread_affinity,
        .set_irq_affinity = os_set_irq_affinity,
        .cgroup_leaf = os_cgroup_leaf,
        .cgroup_move = os_cgroup_move,
        .cgroup_of = os_cgroup_of,
        .cgroup_move_to = os_cgroup_move_to,
        .cgroup_remove = os_cgroup_remove,
        .cgroup_clear = os_cgroup_clear,
        .free = wrapper_free,
};

int closer_simhost_hostos(closer_simhost *h, closer_hostos **ret) {
        closer_hostos *ho = calloc(1, sizeof(*ho));
        if (!ho)
                return -ENOMEM;
        ho->ops = &sim_os_ops;
        ho->data = h;
        *ret = ho;
        return 0;
}

/* ---- the embedded default ------------------------------------------------- */

closer_simhost *closer_simhost_new_reference(void) {
        static const struct {
                int domid;
                const char *name;
                unsigned mem_mib;
                int node;
                unsigned n_vcpus;
                int pcpus[4];
                double io;
        } vms[] = {
                {1, "web1", 2048, 0, 2, {2, 3}, 800},       {2, "db1", 2048, 1, 2, {16, 17}, 2600},
                {3, "iozone1", 6144, 2, 4, {30, 31, 32, 33}, 12500}, {4, "cache1", 1024, 3, 1, {44}, 150},
                {5, "app1", 4096, 1, 4, {12, 13, 14, 15}, 300}, {6, "iozone2", 2048, 1, 2, {20, 47}, 5200},
                {7, "build1", 1024, 0, 1, {5}, 40},          {8, "dns1", 512, 1, 1, {22}, 90},
                {9, "iozone3", 3072, 2, 4, {36, 37, 38, 39}, 9000}, {10, "mq1", 4096, 3, 2, {48, 49}, 15000},
                {11, "mon1", 768, 3, 1, {52}, 20},           {12, "web2", 1536, 0, 2, {8, 9}, 1800},
        };
        closer_simhost *h = closer_simhost_new(4, 14, 10, 2048);
        if (!h)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(vms); i++)
                if (closer_simhost_add_domain(h, vms[i].domid, vms[i].name, (uint64_t) vms[i].mem_mib * 1024,
                                              vms[i].node, vms[i].n_vcpus, vms[i].pcpus, vms[i].io,
                                              vms[i].n_vcpus > 1 ? 2 : 1) < 0)
                        return closer_simhost_free(h);
        return h;
}
