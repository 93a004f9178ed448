/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Xen implementation of the hypervisor op table (closer/hypervisor.h):
 * libxenctrl for what Xen knows (topology, domains, vCPUs, event channels,
 * scheduler caps), libxenstore for what the toolstack and guests publish
 * (names, memory targets, frontend queues), libxenstat for I/O counters. No
 * libxl, so it works under any toolstack. Everything read from a guest's own
 * xenstore subtree goes through xsvalue.c's strict parsers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenstat.h>
#include <xenstore.h>

#include "basic/macro.h"
#include "basic/alloc-util.h"
#include "basic/root.h"
#include "closer/hostos.h"
#include "closer/hypervisor.h"
#include "xen/hypervisor-xen.h"
#include "xen/xen.h"

#define KIB_PER_PAGE (XC_PAGE_SIZE / 1024)
#define DOMINFO_BATCH 256u
/* Dom0 event-channel ports scanned at most (FIFO ABI allows 2^17). */
#define PORTS_MAX 131072u
/* Console ring read for the 'u' dump. */
#define CONRING_READ_MAX (1u << 20)
#define FE_PORTS_MAX 1024u
/* read_io's sources of a domain's I/O counters (closer_xen_io_sum): its
 * qdisk QEMU, and each of its kernel backend devices on its own
 * (io_source_kernel) */
#define IO_SOURCE_QDISK 0u
#define TOKEN_INTRO "closer:introduce"
#define TOKEN_RELEASE "closer:release"

typedef struct xen_host {
        xc_interface *xch;
        struct xs_handle *xsh;
        xenstat_handle *xst;            /* opened on first read_io: qdisk only */
        closer_xen_io_reading *qdisk_last;      /* each live domU's last qdisk answer (valid: one came) */
        unsigned n_qdisk_last;
        closer_xen_io_sum io_sum;       /* kernel + qdisk counters, followed per source */
        uint64_t qdisk_poll_ns;         /* how often QMP is asked (closer_xen_set_qdisk_poll_ns) */
        uint64_t qdisk_polled_ns;       /* CLOCK_MONOTONIC of the last ask, 0: never */
        /* Borrowed (attach_hostos): every host file the adapter needs (IRQ
         * affinity for map_irqs, kernel backends' counters for read_io) is
         * read and written through it, so through its one root. */
        struct closer_hostos *os;
        closer_xen_irq_cache irq_cache;
        closer_xen_numa_cache numa;     /* the last 'u' dump's split per domain */
        bool watching;
        /* What event_fd hands out: an epoll fd over xenstore's watch fd, so
         * the caller's fd stays valid when xenstored restarts and the
         * connection (and its fd) is replaced underneath. */
        int epfd;
} xen_host;

/* Library code does not log: libxenctrl gets a logger that drops everything,
 * errors come back as errno. */
static void null_vmessage(xentoollog_logger *l, xentoollog_level level, int errnoval,
                          const char *context, const char *format, va_list al) {
}
static void null_progress(xentoollog_logger *l, const char *context, const char *doing_what,
                          int percent, unsigned long done, unsigned long total) {
}
static void null_destroy(xentoollog_logger *l) {
}
static xentoollog_logger null_logger = {
        .vmessage = null_vmessage,
        .progress = null_progress,
        .destroy = null_destroy,
};

static int neg_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* ------------------------------------------------------------------ */
/* Sense */

static void cpumap_to_set(const uint8_t *map, int map_bytes, closer_cpuset *ret) {
        closer_cpuset_zero(ret);
        for (int byte = 0; byte < map_bytes; byte++)
                for (int bit = 0; bit < 8; bit++)
                        if ((map[byte] >> bit) & 1) {
                                unsigned cpu = (unsigned) (byte * 8 + bit);
                                if (cpu < CLOSER_CPUSET_MAX)
                                        closer_cpuset_set(ret, cpu);
                        }
}

static int read_topology(xen_host *h, closer_topology *topo, closer_error *err) {
        unsigned n_cpus = 0, n_nodes = 0;
        int r;

        if (xc_cputopoinfo(h->xch, &n_cpus, NULL) < 0 || xc_numainfo(h->xch, &n_nodes, NULL, NULL) < 0) {
                r = neg_errno();
                return closer_error_set(err, r, "xc_cputopoinfo/xc_numainfo: %s", strerror(-r));
        }
        if (n_cpus == 0 || n_nodes == 0 || n_cpus > CLOSER_CPUSET_MAX || n_nodes > CLOSER_NODES_MAX)
                return closer_error_set(err, -E2BIG, "Xen reports %u pCPUs and %u nodes (closer handles %u and %u)",
                                        n_cpus, n_nodes, CLOSER_CPUSET_MAX, CLOSER_NODES_MAX);
        _cleanup_free_ xc_cputopo_t *cputopo = calloc(n_cpus, sizeof(*cputopo));
        _cleanup_free_ xc_meminfo_t *meminfo = calloc(n_nodes, sizeof(*meminfo));
        _cleanup_free_ uint32_t *dist = calloc((size_t) n_nodes * n_nodes, sizeof(*dist));
        _cleanup_free_ uint32_t *cpu_node = calloc(n_cpus, sizeof(*cpu_node));
        _cleanup_free_ uint64_t *memsize = calloc(n_nodes, sizeof(*memsize));
        _cleanup_free_ uint64_t *memfree = calloc(n_nodes, sizeof(*memfree));
        if (!cputopo || !meminfo || !dist || !cpu_node || !memsize || !memfree)
                return -ENOMEM;
        /* The counts may shrink between the two calls (CPU offlined): Xen
         * updates them to what it filled. */
        if (xc_cputopoinfo(h->xch, &n_cpus, cputopo) < 0 || xc_numainfo(h->xch, &n_nodes, meminfo, dist) < 0) {
                r = neg_errno();
                return closer_error_set(err, r, "xc_cputopoinfo/xc_numainfo: %s", strerror(-r));
        }
        for (unsigned c = 0; c < n_cpus; c++)
                cpu_node[c] = cputopo[c].node;
        for (unsigned n = 0; n < n_nodes; n++) {
                memsize[n] = meminfo[n].memsize;
                memfree[n] = meminfo[n].memfree;
        }
        return closer_xen_topology_build(cpu_node, n_cpus, memsize, memfree, dist, n_nodes, topo, err);
}

/* One domain's info; -ESRCH when it is gone. */
static int domain_info(xen_host *h, int domid, xc_domaininfo_t *ret) {
        xc_domaininfo_t info;
        int n = xc_domain_getinfolist(h->xch, (uint32_t) domid, 1, &info);
        if (n < 0)
                return neg_errno();
        if (n == 0 || info.domain != domid)
                return -ESRCH;
        *ret = info;
        return 0;
}

static int read_vcpus(xen_host *h, const xc_domaininfo_t *info, const closer_cpuset *online,
                      closer_vcpu **ret, unsigned *ret_n) {
        unsigned n = info->max_vcpu_id == XEN_INVALID_MAX_VCPU_ID ? 0 : info->max_vcpu_id + 1;
        int map_bytes = xc_get_cpumap_size(h->xch);

        if (n > CLOSER_CPUSET_MAX)
                return -E2BIG;
        if (map_bytes <= 0)
                return neg_errno();
        _cleanup_free_ closer_vcpu *v = calloc(n ? n : 1, sizeof(*v));
        _cleanup_free_ xc_cpumap_t hard = xc_cpumap_alloc(h->xch), soft = xc_cpumap_alloc(h->xch);
        if (!v || !hard || !soft)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                xc_vcpuinfo_t vi;
                v[i].id = i;
                if (xc_vcpu_getinfo(h->xch, info->domain, i, &vi) < 0)
                        return neg_errno();
                v[i].pcpu = vi.online && vi.cpu < CLOSER_CPUSET_MAX ? (int) vi.cpu : -1;
                if (xc_vcpu_getaffinity(h->xch, info->domain, (int) i, hard, soft, XEN_VCPUAFFINITY_HARD) == 0) {
                        closer_cpuset aff;
                        cpumap_to_set(hard, map_bytes, &aff);
                        /* "all" is every possible CPU: keep the ones that exist. */
                        closer_cpuset_and(&v[i].affinity, &aff, online);
                        v[i].has_affinity = !closer_cpuset_is_empty(&v[i].affinity);
                }
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static int xs_reconnect(xen_host *h);

/* Whether a failed xenstore call means the connection is gone (libxenstore
 * closes it on any transport error) rather than "no such node". */
static bool xs_conn_lost(int e) {
        return e != ENOENT && e != EACCES && e != EPERM && e != E2BIG && e != EAGAIN;
}

/* The name the toolstack wrote: display text only, never an identifier. */
static void read_name(xen_host *h, int domid, char *buf, size_t size) {
        char path[64];
        unsigned len = 0;
        snprintf(path, sizeof(path), "/local/domain/%d/name", domid);
        char *v = xs_read(h->xsh, XBT_NULL, path, &len);
        if (!v && xs_conn_lost(errno) && xs_reconnect(h) >= 0)
                v = xs_read(h->xsh, XBT_NULL, path, &len);
        if (!v) {
                snprintf(buf, size, "domain-%d", domid);
                return;
        }
        closer_xs_sanitize(v, len > CLOSER_XS_VALUE_MAX ? CLOSER_XS_VALUE_MAX : len, buf, size);
        free(v);
}

/* Trigger Xen's 'u' key and read the console ring: exact per-node pages. */
static char *read_numa_dump(xen_host *h, size_t *ret_len) {
        if (xc_send_debug_keys(h->xch, "u") < 0)
                return NULL;
        char *buf = malloc(CONRING_READ_MAX);
        if (!buf)
                return NULL;
        unsigned nr = CONRING_READ_MAX;
        uint32_t index = 0;
        if (xc_readconsolering(h->xch, buf, &nr, 0, 0, &index) < 0) {
                free(buf);
                return NULL;
        }
        *ret_len = nr;
        return buf;
}

static int op_read_host(void *data, bool exact_numa, closer_snapshot *s, closer_error *err) {
        xen_host *h = data;
        closer_topology topo;
        closer_cpuset online;
        xc_domaininfo_t *infos = NULL;
        closer_domain *doms = NULL;
        unsigned n_doms = 0, cap = 0;
        closer_vcpu *dom0_vcpus = NULL;
        unsigned n_dom0_vcpus = 0;
        xc_nodemap_t nodemap = NULL;
        char *dump = NULL;
        size_t dump_len = 0;
        int r;

        r = read_topology(h, &topo, err);
        if (r < 0)
                return r;
        closer_cpuset_zero(&online);
        for (unsigned i = 0; i < topo.n_nodes; i++)
                closer_cpuset_or(&online, &online, &topo.nodes[i].cpus);

        xc_domaininfo_t d0;
        r = domain_info(h, 0, &d0);
        if (r >= 0)
                r = read_vcpus(h, &d0, &online, &dom0_vcpus, &n_dom0_vcpus);
        if (r < 0) {
                closer_error_set(err, r, "reading dom0 from Xen: %s", strerror(-r));
                goto fail;
        }

        int nodemap_bytes = xc_get_nodemap_size(h->xch);
        nodemap = xc_nodemap_alloc(h->xch);
        infos = calloc(DOMINFO_BATCH, sizeof(*infos));
        if (!nodemap || !infos || nodemap_bytes <= 0) {
                r = -ENOMEM;
                goto fail;
        }
        if (exact_numa)
                dump = read_numa_dump(h, &dump_len);    /* NULL: fall back to the estimate */

        for (uint32_t next = 1;;) {
                int got = xc_domain_getinfolist(h->xch, next, DOMINFO_BATCH, infos);
                if (got < 0) {
                        r = neg_errno();
                        closer_error_set(err, r, "xc_domain_getinfolist: %s", strerror(-r));
                        goto fail;
                }
                for (int i = 0; i < got; i++) {
                        const xc_domaininfo_t *info = &infos[i];
                        if (info->domain == 0 || (info->flags & XEN_DOMINF_dying))
                                continue;
                        if (!GREEDY_REALLOC(doms, cap, n_doms + 1)) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        closer_domain *d = &doms[n_doms];
                        memset(d, 0, sizeof(*d));
                        d->domid = info->domain;
                        r = read_vcpus(h, info, &online, &d->vcpus, &d->n_vcpus);
                        if (r == -ESRCH)
                                continue;       /* went away meanwhile */
                        if (r < 0) {
                                closer_error_set(err, r, "reading vCPUs of domain %d: %s", d->domid, strerror(-r));
                                goto fail;
                        }
                        n_doms++;
                        read_name(h, d->domid, d->name, sizeof(d->name));
                        closer_xen_uuid_format(info->handle, d->uuid);
                        uint64_t tot_kib = info->tot_pages * KIB_PER_PAGE;
                        /* max_pages is what the toolstack allowed (its max
                         * memory, plus a small slack): the domain's size.
                         * Unlimited (huge) means no toolstack limit. */
                        uint64_t max_kib = info->max_pages < UINT64_MAX / KIB_PER_PAGE ?
                                info->max_pages * KIB_PER_PAGE : 0;
                        uint64_t host_kib = 0;
                        for (unsigned k = 0; k < topo.n_nodes; k++)
                                host_kib += topo.nodes[k].mem_kib;
                        d->mem_kib = max_kib && max_kib <= host_kib ? max_kib : tot_kib;
                        /* Xen's own count when a dump was asked for, else
                         * the last one's split at today's size, else the
                         * even split over the domain's node affinity. */
                        if (dump && closer_xen_parse_numa_dump(dump, dump_len, d->domid, &topo,
                                                               d->mem_kib_by_node) == 0) {
                                /* -ENOMEM: not remembered, the next read estimates */
                                (void) closer_xen_numa_cache_put(&h->numa, d->domid, info->handle,
                                                                 d->mem_kib_by_node);
                        } else if (!closer_xen_numa_cache_get(&h->numa, d->domid, info->handle, tot_kib,
                                                              d->mem_kib_by_node)) {
                                memset(nodemap, 0, (size_t) nodemap_bytes);
                                if (xc_domain_node_getaffinity(h->xch, info->domain, nodemap) < 0)
                                        memset(nodemap, 0, (size_t) nodemap_bytes);
                                closer_xen_split_by_nodemap(tot_kib, nodemap, (size_t) nodemap_bytes, &topo,
                                                            d->mem_kib_by_node);
                        }
                        /* The dump is read at another moment than tot_pages,
                         * and mem_kib may be max_pages: keep the parts within
                         * the whole (a snapshot that says otherwise is refused
                         * by `closerctl plan`), in proportion. */
                        unsigned __int128 on_nodes = 0;
                        for (unsigned k = 0; k < CLOSER_NODES_MAX; k++)
                                on_nodes += d->mem_kib_by_node[k];
                        if (on_nodes > d->mem_kib)
                                for (unsigned k = 0; k < CLOSER_NODES_MAX; k++)
                                        d->mem_kib_by_node[k] = (uint64_t) ((unsigned __int128) d->mem_kib_by_node[k] *
                                                                            d->mem_kib / on_nodes);
                }
                if ((unsigned) got < DOMINFO_BATCH)
                        break;
                next = infos[got - 1].domain + 1;
        }

        s->topo = topo;
        s->dom0.vcpus = dom0_vcpus;
        s->dom0.n_vcpus = n_dom0_vcpus;
        s->dom0.mem_kib = d0.tot_pages * KIB_PER_PAGE;
        s->domains = doms;
        s->n_domains = n_doms;
        closer_xen_numa_cache_sweep(&h->numa);  /* domains gone since */
        free(infos);
        free(nodemap);
        free(dump);
        return 0;
fail:
        for (unsigned i = 0; i < n_doms; i++)
                free(doms[i].vcpus);
        free(doms);
        free(dom0_vcpus);
        free(infos);
        free(nodemap);
        free(dump);
        return r;
}

/* Ask libxenstat for the qdisk QEMUs' block counters (QMP) and keep them in
 * h->qdisk_last, one entry per live domU (zero without a qdisk).
 * libxenstat gives a qdisk's counters only when its QEMU answered
 * query-blockstats within 10 ms; a miss is not a counter reset (read as one,
 * the next answer would look like a burst of all the I/O since boot): the
 * last answer stands in. */
static int poll_qdisk(xen_host *h, uint64_t now_ns) {
        if (!h->xst) {
                h->xst = xenstat_init();
                if (!h->xst)
                        return neg_errno();
        }
        xenstat_node *node = xenstat_get_node(h->xst, XENSTAT_VBD);
        h->qdisk_polled_ns = now_ns;
        if (!node)
                return neg_errno();
        unsigned nd = xenstat_node_num_domains(node);
        closer_xen_io_reading *qd = calloc(nd ? nd : 1, sizeof(*qd));
        unsigned n_qd = 0;
        if (!qd) {
                xenstat_free_node(node);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < nd; i++) {
                xenstat_domain *d = xenstat_node_domain_by_index(node, i);
                if (!d || xenstat_domain_id(d) == 0)
                        continue;
                closer_xen_io_reading q = {.domid = (int) xenstat_domain_id(d), .source = IO_SOURCE_QDISK};
                bool answered = false;
                for (unsigned j = 0; j < xenstat_domain_num_vbds(d); j++) {
                        xenstat_vbd *vbd = xenstat_domain_vbd(d, j);
                        if (!vbd || xenstat_vbd_type(vbd) != 0)
                                continue;       /* kernel vbd: counted from sysfs */
                        q.ops += xenstat_vbd_rd_reqs(vbd) + xenstat_vbd_wr_reqs(vbd);
                        q.bytes += (xenstat_vbd_rd_sects(vbd) + xenstat_vbd_wr_sects(vbd)) * 512;
                        q.valid = answered = true;
                }
                for (unsigned j = 0; !answered && j < h->n_qdisk_last; j++)
                        if (h->qdisk_last[j].domid == q.domid) {
                                q = h->qdisk_last[j];
                                answered = true;
                        }
                /* Every live domU gets a row, with or without I/O (one
                 * that never answered is live, its counters unknown). */
                qd[n_qd++] = q;
        }
        xenstat_free_node(node);
        free(h->qdisk_last);
        h->qdisk_last = qd;
        h->n_qdisk_last = n_qd;
        return 0;
}

/* A kernel backend device's source number: kind and devid, never
 * IO_SOURCE_QDISK. */
static uint64_t io_source_kernel(const closer_backend_io *b) {
        return (uint64_t) (b->kind + 1) << 32 | (uint32_t) b->devid;
}

/* Each domU's backend I/O counters. Kernel backends (blkback, netback) are
 * read from sysfs by the host-OS adapter (read_backend_io), NOT through
 * libxenstat: Xen 4.17's libxenstat parses /proc/net/dev (XENSTAT_NETWORK) into a realloc'd
 * buffer it never NUL-terminates and then strcpy()s the interface name from
 * it into a 16-byte stack array, which crashed closerd on the lab's dom0
 * (docs/xen-lab.md), and it reads blkback's rd_sect into wr_sects, leaving
 * rd_sects uninitialised. libxenstat is used for what only it reads: the
 * qdisk QEMUs' block stats over their QMP sockets (XENSTAT_VBD; the rows of
 * type 0 — its kernel-vbd rows of type 1/2 are ignored). */
static int op_read_io(void *data, closer_hv_io **ret, unsigned *ret_n) {
        xen_host *h = data;
        int r;

        if (!h->os)
                return -ENXIO;          /* half of the counters are the host OS's to read */
        _cleanup_free_ closer_backend_io *kb = NULL;
        unsigned n_kb = 0;
        if (h->os->ops->read_backend_io) {
                r = h->os->ops->read_backend_io(h->os->data, &kb, &n_kb);
                if (r < 0)
                        return r;
        }

        /* Each ask wakes every qdisk QEMU (work billed to its VM): between
         * polls, the last answers stand. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now_ns = (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
        if (!h->qdisk_polled_ns || now_ns - h->qdisk_polled_ns >= h->qdisk_poll_ns) {
                r = poll_qdisk(h, now_ns);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ closer_xen_io_reading *rd = calloc(n_kb + h->n_qdisk_last + 1, sizeof(*rd));
        if (!rd)
                return -ENOMEM;
        unsigned n = 0;
        /* one source per device: summed here, a device unreadable in one
         * read (hotplug racing the read) would drop its domain's counter
         * and the next read would add it back as a burst */
        for (unsigned i = 0; i < n_kb; i++)
                rd[n++] = (closer_xen_io_reading) {
                        .domid = kb[i].domid, .source = io_source_kernel(&kb[i]), .valid = kb[i].valid,
                        .ops = kb[i].block_ops + kb[i].net_packets, .bytes = kb[i].block_bytes + kb[i].net_bytes};
        for (unsigned j = 0; j < h->n_qdisk_last; j++)
                rd[n++] = h->qdisk_last[j];
        return closer_xen_io_sum_update(&h->io_sum, rd, n, ret, ret_n);
}

/* ------------------------------------------------------------------ */
/* map_irqs: the probe ops on the real host. */

static int probe_scan_ports(void *data, closer_xen_port **ret, unsigned *ret_n) {
        xen_host *h = data;
        closer_xen_port *ports = NULL;
        unsigned n = 0, cap = 0;

        /* Like lsevtchn: walk ports until Xen says there are no more. */
        for (unsigned port = 1; port < PORTS_MAX; port++) {
                xc_evtchn_status_t st = { .dom = DOMID_SELF, .port = port };
                if (xc_evtchn_status(h->xch, &st) < 0)
                        break;
                if (st.status != EVTCHNSTAT_interdomain)
                        continue;
                if (!GREEDY_REALLOC_MIN(ports, cap, n + 1, 64)) {
                        free(ports);
                        return -ENOMEM;
                }
                ports[n++] = (closer_xen_port) {
                        .port = port,
                        .vcpu = st.vcpu,
                        .remote_domid = st.u.interdomain.dom,
                        .remote_port = st.u.interdomain.port,
                };
        }
        *ret = ports;
        *ret_n = n;
        return 0;
}

static int probe_port_status(void *data, unsigned port, closer_xen_port *ret) {
        xen_host *h = data;
        xc_evtchn_status_t st = { .dom = DOMID_SELF, .port = port };
        if (xc_evtchn_status(h->xch, &st) < 0)
                return errno == EINVAL ? -ENOENT : neg_errno();     /* EINVAL: no such port now */
        if (st.status != EVTCHNSTAT_interdomain)
                return -ENOENT;
        *ret = (closer_xen_port) {
                .port = port,
                .vcpu = st.vcpu,
                .remote_domid = st.u.interdomain.dom,
                .remote_port = st.u.interdomain.port,
        };
        return 0;
}

/* An IRQ is moved through the attached host-OS adapter; the probe puts it
 * back before map_irqs returns (evtchn.c). */
static int probe_get_irq_affinity(void *data, unsigned irq, closer_cpuset *ret) {
        xen_host *h = data;
        return h->os->ops->get_irq_affinity(h->os->data, irq, ret);
}

static int probe_set_irq_affinity(void *data, unsigned irq, const closer_cpuset *cpus) {
        xen_host *h = data;
        return h->os->ops->set_irq_affinity(h->os->data, irq, cpus);
}

static int read_port(xen_host *h, const char *path, unsigned *ret) {
        unsigned len = 0;
        uint64_t v;
        char *s = xs_read(h->xsh, XBT_NULL, path, &len);
        if (!s)
                return -ENOENT;
        int r = closer_xs_parse_u64(s, len, UINT32_MAX, &v);
        free(s);
        if (r < 0)
                return r;
        *ret = (unsigned) v;
        return 0;
}

static int probe_read_fe_ports(void *data, int domid, closer_xen_fe_port **ret, unsigned *ret_n) {
        xen_host *h = data;
        char path[256];
        unsigned n_devs = 0, n = 0;
        closer_xen_fe_port *fe = calloc(FE_PORTS_MAX, sizeof(*fe));

        if (!fe)
                return -ENOMEM;
        snprintf(path, sizeof(path), "/local/domain/%d/device/vbd", domid);
        char **devs = xs_directory(h->xsh, XBT_NULL, path, &n_devs);
        for (unsigned i = 0; devs && i < n_devs && i < CLOSER_XEN_FE_DEVICES_MAX; i++) {
                uint64_t dev;
                unsigned port;
                /* Device ids are numbers; anything else is not ours to read. */
                if (closer_xs_parse_u64(devs[i], strnlen(devs[i], CLOSER_XS_NUMBER_MAX + 1), UINT32_MAX, &dev) < 0)
                        continue;
                snprintf(path, sizeof(path), "/local/domain/%d/device/vbd/%" PRIu64 "/event-channel", domid, dev);
                if (read_port(h, path, &port) == 0 && n < FE_PORTS_MAX)
                        fe[n++] = (closer_xen_fe_port) { .port = port, .queue = 0 };

                snprintf(path, sizeof(path), "/local/domain/%d/device/vbd/%" PRIu64, domid, dev);
                unsigned n_sub = 0;
                char **sub = xs_directory(h->xsh, XBT_NULL, path, &n_sub);
                for (unsigned j = 0, seen = 0; sub && j < n_sub && seen < CLOSER_XEN_FE_QUEUES_MAX; j++) {
                        unsigned q;
                        if (closer_xs_parse_queue_dir(sub[j], CLOSER_XEN_FE_QUEUES_MAX - 1, &q) < 0)
                                continue;
                        seen++;
                        snprintf(path, sizeof(path), "/local/domain/%d/device/vbd/%" PRIu64 "/queue-%u/event-channel",
                                 domid, dev, q);
                        if (read_port(h, path, &port) == 0 && n < FE_PORTS_MAX)
                                fe[n++] = (closer_xen_fe_port) { .port = port, .queue = (int) q };
                }
                free(sub);
        }
        free(devs);
        *ret = fe;
        *ret_n = n;
        return 0;
}

static void probe_settle(void *data) {
        /* Linux rebinds a Xen event channel inside the affinity write; this
         * only leaves room for a lazy move. */
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 2 * 1000 * 1000 };
        nanosleep(&ts, NULL);
}

static const closer_xen_probe_ops probe_ops = {
        .scan_ports = probe_scan_ports,
        .get_irq_affinity = probe_get_irq_affinity,
        .set_irq_affinity = probe_set_irq_affinity,
        .read_fe_ports = probe_read_fe_ports,
        .port_status = probe_port_status,
        .settle = probe_settle,
};

static int op_map_irqs(void *data, closer_irq *irqs, unsigned n) {
        xen_host *h = data;
        xc_domaininfo_t d0;
        int r;

        if (!h->os)
                return -ENXIO;          /* nothing to move the IRQs with */
        r = domain_info(h, 0, &d0);
        if (r < 0)
                return r;
        return closer_xen_map_irqs(&probe_ops, h, d0.nr_online_vcpus, &h->irq_cache, irqs, n, NULL);
}

static int op_attach_hostos(void *data, struct closer_hostos *os) {
        xen_host *h = data;
        h->os = os;
        return 0;
}

/* ------------------------------------------------------------------ */
/* Act */

static int op_set_mem_target(void *data, int domid, uint64_t target_kib) {
        xen_host *h = data;
        char path[64], value[32];

        if (domid < 0 || domid > CLOSER_DOMID_MAX || target_kib == 0 || target_kib > UINT64_MAX / 1024)
                return -EINVAL;
        snprintf(path, sizeof(path), "/local/domain/%d/memory/target", domid);
        int len = snprintf(value, sizeof(value), "%" PRIu64, target_kib);

        /* A transaction so that a target is never written for a domain
         * that went away (it would create a stray node). dom0 cannot go
         * away, and its target may not exist yet (nothing writes it before
         * the first `xl mem-set 0`): written all the same, as xl does. */
        for (unsigned tries = 0; tries < 16; tries++) {
                xs_transaction_t t = xs_transaction_start(h->xsh);
                if (t == XBT_NULL)
                        return neg_errno();
                unsigned old_len = 0;
                char *old = xs_read(h->xsh, t, path, &old_len);
                if (!old && !(domid == 0 && errno == ENOENT)) {
                        int r = errno == ENOENT ? -ESRCH : neg_errno();
                        xs_transaction_end(h->xsh, t, true);
                        return r;
                }
                free(old);
                if (!xs_write(h->xsh, t, path, value, (unsigned) len)) {
                        int r = neg_errno();
                        xs_transaction_end(h->xsh, t, true);
                        return r;
                }
                if (xs_transaction_end(h->xsh, t, false))
                        return 0;
                if (errno != EAGAIN)
                        return neg_errno();
        }
        return -EAGAIN;
}

/* The balloon target in force (what closerd puts back on exit). Written by
 * the toolstack, read-only to the guest; parsed strictly all the same.
 * dom0's may not exist yet: nothing writes it before the first `xl mem-set 0`
 * (seen on the lab's dom0). libxl then takes dom0's current size as its
 * target (libxl__fill_dom0_memory_info), and so does closer: that is what a
 * clean stop writes back. */
static int op_get_mem_target(void *data, int domid, uint64_t *ret_kib) {
        xen_host *h = data;
        char path[64];
        unsigned len = 0;
        uint64_t v;

        if (domid < 0 || domid > CLOSER_DOMID_MAX)
                return -EINVAL;
        snprintf(path, sizeof(path), "/local/domain/%d/memory/target", domid);
        char *s = xs_read(h->xsh, XBT_NULL, path, &len);
        if (!s && xs_conn_lost(errno) && xs_reconnect(h) >= 0)
                s = xs_read(h->xsh, XBT_NULL, path, &len);
        if (!s && errno == ENOENT && domid == 0) {
                xc_domaininfo_t info;
                int r = domain_info(h, 0, &info);
                if (r < 0)
                        return r;
                if (info.tot_pages == 0)
                        return -EINVAL;
                *ret_kib = info.tot_pages * KIB_PER_PAGE;
                return 0;
        }
        if (!s)
                return errno == ENOENT ? -ESRCH : neg_errno();
        int r = closer_xs_parse_u64(s, len, UINT64_MAX / 1024, &v);
        free(s);
        if (r < 0)
                return r;
        if (v == 0)
                return -EINVAL;
        *ret_kib = v;
        return 0;
}

static int op_get_mem_actual(void *data, int domid, uint64_t *ret_kib) {
        xen_host *h = data;
        xc_domaininfo_t info;

        if (domid < 0 || domid > CLOSER_DOMID_MAX)
                return -EINVAL;
        int r = domain_info(h, domid, &info);
        if (r < 0)
                return r;
        *ret_kib = info.tot_pages * KIB_PER_PAGE;
        return 0;
}

static int op_set_cap(void *data, int domid, unsigned cap_pct) {
        xen_host *h = data;
        int sched;

        if (domid < 0 || domid > CLOSER_DOMID_MAX)
                return -EINVAL;
        if (cap_pct > UINT16_MAX)
                return -ERANGE;
        if (xc_sched_id(h->xch, &sched) < 0)
                return neg_errno();
        if (sched == XEN_SCHEDULER_CREDIT2) {
                struct xen_domctl_sched_credit2 p;
                if (xc_sched_credit2_domain_get(h->xch, (uint32_t) domid, &p) < 0)
                        return neg_errno();
                p.cap = (uint16_t) cap_pct;
                if (xc_sched_credit2_domain_set(h->xch, (uint32_t) domid, &p) < 0)
                        return neg_errno();
                return 0;
        }
        if (sched == XEN_SCHEDULER_CREDIT) {
                struct xen_domctl_sched_credit p;
                if (xc_sched_credit_domain_get(h->xch, (uint32_t) domid, &p) < 0)
                        return neg_errno();
                p.cap = (uint16_t) cap_pct;
                if (xc_sched_credit_domain_set(h->xch, (uint32_t) domid, &p) < 0)
                        return neg_errno();
                return 0;
        }
        return -EOPNOTSUPP;
}

static int op_get_cap(void *data, int domid, unsigned *ret_cap_pct) {
        xen_host *h = data;
        int sched;

        if (domid < 0 || domid > CLOSER_DOMID_MAX)
                return -EINVAL;
        if (xc_sched_id(h->xch, &sched) < 0)
                return neg_errno();
        if (sched == XEN_SCHEDULER_CREDIT2) {
                struct xen_domctl_sched_credit2 p;
                if (xc_sched_credit2_domain_get(h->xch, (uint32_t) domid, &p) < 0)
                        return neg_errno();
                *ret_cap_pct = p.cap;
                return 0;
        }
        if (sched == XEN_SCHEDULER_CREDIT) {
                struct xen_domctl_sched_credit p;
                if (xc_sched_credit_domain_get(h->xch, (uint32_t) domid, &p) < 0)
                        return neg_errno();
                *ret_cap_pct = p.cap;
                return 0;
        }
        return -EOPNOTSUPP;
}

/* ------------------------------------------------------------------ */
/* Events */

static int watch(xen_host *h) {
        if (h->watching)
                return 0;
        if (h->epfd < 0) {
                h->epfd = epoll_create1(EPOLL_CLOEXEC);
                if (h->epfd < 0)
                        return -errno;
        }
        if (!xs_watch(h->xsh, "@introduceDomain", TOKEN_INTRO) ||
            !xs_watch(h->xsh, "@releaseDomain", TOKEN_RELEASE))
                return neg_errno();
        int fd = xs_fileno(h->xsh);
        if (fd < 0)
                return neg_errno();
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
        if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST)
                return -errno;
        h->watching = true;
        return 0;
}

/* Replace a dead xenstore connection, and its watches if there were any.
 * event_fd (the epoll fd) stays the same; the new watches fire at once, so
 * the caller wakes up and re-plans even when the loss was noticed while
 * reading. */
static int xs_reconnect(xen_host *h) {
        struct xs_handle *nx = xs_open(0);
        if (!nx)
                return neg_errno();
        if (h->watching) {
                int old = xs_fileno(h->xsh);
                if (old >= 0 && h->epfd >= 0)
                        (void) epoll_ctl(h->epfd, EPOLL_CTL_DEL, old, NULL);
        }
        xs_close(h->xsh);
        h->xsh = nx;
        if (!h->watching)
                return 0;
        h->watching = false;
        return watch(h);
}

static int op_event_fd(void *data) {
        xen_host *h = data;
        int r = watch(h);
        return r < 0 ? r : h->epfd;
}

static int op_process_events(void *data, bool *ret_changed) {
        xen_host *h = data;
        bool changed = false;

        /* Bounded: a storm of domains starting must not starve the loop;
         * what is left stays readable for the next round. */
        for (unsigned i = 0; i < 1024; i++) {
                char **w = xs_check_watch(h->xsh);
                if (w) {
                        changed = true;
                        free(w);
                        continue;
                }
                if (errno == EAGAIN || errno == 0)
                        break;
                /* The connection died (xenstored restarted): libxenstore
                 * reports it as EINVAL with nothing queued. Domains may have
                 * come and gone meanwhile: re-plan. */
                int r = xs_reconnect(h);
                if (r < 0)
                        return r;
                changed = true;
                break;
        }
        *ret_changed = changed;
        return 0;
}

static void op_free(void *data) {
        xen_host *h = data;
        if (!h)
                return;
        closer_xen_irq_cache_done(&h->irq_cache);
        closer_xen_numa_cache_free(&h->numa);
        if (h->xst)
                xenstat_uninit(h->xst);
        free(h->qdisk_last);
        closer_xen_io_sum_free(&h->io_sum);
        if (h->xsh)
                xs_close(h->xsh);
        if (h->xch)
                xc_interface_close(h->xch);
        if (h->epfd >= 0)
                close(h->epfd);
        free(h);
}

static const closer_hypervisor_ops xen_ops = {
        .name = "xen",
        .read_host = op_read_host,
        .read_io = op_read_io,
        .map_irqs = op_map_irqs,
        .set_mem_target = op_set_mem_target,
        .get_mem_target = op_get_mem_target,
        .get_mem_actual = op_get_mem_actual,
        .set_cap = op_set_cap,
        .get_cap = op_get_cap,
        .event_fd = op_event_fd,
        .process_events = op_process_events,
        .free = op_free,
        .attach_hostos = op_attach_hostos,
};

/* Xen's own word on where we run (xenfs), read once through a root before
 * any host-OS adapter exists: the one host file the adapter reads itself. */
static int check_control_domain(const char *root, closer_error *err) {
        closer_root *rt = NULL;
        char caps[256], caps_path[384];
        if (!root || strcmp(root, "/") == 0)
                root = "";
        snprintf(caps_path, sizeof(caps_path), "%s/proc/xen/capabilities", root);
        int r = closer_root_open(root, &rt);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = closer_read_small_at(rt->fd, "proc/xen/capabilities", caps, sizeof(caps));
                closer_root_free(rt);
        }
        if (r < 0)      /* no xenfs (or no reading it): not a Xen host for us */
                return closer_error_set(err, -ENOENT, "no Xen here: %s missing", caps_path);
        if (!strstr(caps, "control_d"))
                return closer_error_set(err, -EPERM, "not Xen's control domain (dom0): %s lacks control_d", caps_path);
        return 0;
}

int closer_xen_hypervisor_new_at(const char *root, closer_hypervisor **ret, closer_error *err) {
        int r = check_control_domain(root, err);
        if (r < 0)
                return r;

        closer_hypervisor *hv = calloc(1, sizeof(*hv));
        xen_host *h = calloc(1, sizeof(*h));
        if (!hv || !h) {
                free(hv);
                free(h);
                return -ENOMEM;
        }
        h->epfd = -1;
        h->qdisk_poll_ns = CLOSER_XEN_QDISK_POLL_NS_DEFAULT;
        h->xch = xc_interface_open(&null_logger, &null_logger, 0);
        if (!h->xch) {
                r = neg_errno();
                op_free(h);
                free(hv);
                return closer_error_set(err, r, "cannot open Xen's control interface (privcmd): %s", strerror(-r));
        }
        h->xsh = xs_open(0);
        if (!h->xsh) {
                r = neg_errno();
                op_free(h);
                free(hv);
                return closer_error_set(err, r, "cannot reach xenstored: %s", strerror(-r));
        }
        hv->ops = &xen_ops;
        hv->data = h;
        *ret = hv;
        return 0;
}

int closer_xen_hypervisor_new(closer_hypervisor **ret, closer_error *err) {
        return closer_xen_hypervisor_new_at("/", ret, err);
}

void closer_xen_set_qdisk_poll_ns(closer_hypervisor *hv, uint64_t ns) {
        xen_host *h = hv->data;
        h->qdisk_poll_ns = ns;
        h->qdisk_polled_ns = 0;
}
