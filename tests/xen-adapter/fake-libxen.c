/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A fake libxenctrl/libxenstore/libxenstat over fake-libxen.h's model. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenstat.h>
#include <xenstore.h>

#include "fake-libxen.h"

fake_xen fake;

struct xc_interface_core { int unused; };
struct xs_handle { int unused; };
struct xenstat_handle { int unused; };
struct xenstat_node { unsigned n; };
struct xenstat_domain { fake_dom *d; };
struct xenstat_network { fake_dom *d; };
struct xenstat_vbd { fake_dom *d; };

static struct xenstat_domain xst_doms[FAKE_DOMS_MAX];

void fake_lab(void) {
        fake_done();
        memset(&fake, 0, sizeof(fake));
        fake.pipe[0] = fake.pipe[1] = -1;
        fake.n_cpus = 4;
        fake.cpu_node[0] = fake.cpu_node[1] = 0;
        fake.cpu_node[2] = fake.cpu_node[3] = 1;
        fake.n_nodes = 2;
        /* node 0 spans the PCI hole */
        fake.memsize[0] = 1310720ull * 4096;
        fake.memsize[1] = 786432ull * 4096;
        fake.memfree[0] = 650168ull * 4096;
        fake.memfree[1] = 545770ull * 4096;
        fake.dist[0] = 10, fake.dist[1] = 20, fake.dist[2] = 20, fake.dist[3] = 10;
        fake.sched_id = XEN_SCHEDULER_CREDIT2;

        fake.n_doms = 3;
        fake_dom *d0 = &fake.doms[0];
        d0->domid = 0;
        d0->tot_pages = 262144;
        d0->max_pages = UINT64_MAX;     /* dom0 without a limit */
        d0->n_vcpus = 4;
        for (unsigned v = 0; v < 4; v++) {
                d0->vcpu_cpu[v] = (int) v;
                d0->hard[v] = (uint8_t) (1u << v);
        }
        for (unsigned i = 1; i <= 2; i++) {
                fake_dom *d = &fake.doms[i];
                d->domid = i;
                d->tot_pages = 49152;
                d->max_pages = 49152 + 256;     /* 192 MiB + libxl's 1 MiB slack */
                d->n_vcpus = 2;
                d->nodemap = (uint8_t) (1u << (i - 1));
                for (unsigned v = 0; v < 2; v++) {
                        d->vcpu_cpu[v] = (int) ((i - 1) * 2 + v);
                        d->hard[v] = 0xff;      /* "all" */
                }
                for (unsigned b = 0; b < 16; b++)
                        d->handle[b] = (uint8_t) (i * 16 + b);
                d->weight = 256;
        }
        fake_xs_set("/local/domain/0/name", "Domain-0", 8);
        fake_xs_set("/local/domain/1/name", "du1", 3);
        fake_xs_set("/local/domain/2/name", "du2", 3);
        fake_xs_set("/local/domain/0/memory/target", "1048576", 7);
        fake_xs_set("/local/domain/1/memory/target", "196608", 6);
        fake_xs_set("/local/domain/2/memory/target", "196608", 6);
}

void fake_done(void) {
        if (fake.pipe[0] >= 0) {
                close(fake.pipe[0]);
                close(fake.pipe[1]);
        }
        fake.pipe[0] = fake.pipe[1] = -1;
}

static int key_index(const char *key) {
        for (unsigned i = 0; i < fake.n_keys; i++)
                if (strcmp(fake.key[i], key) == 0)
                        return (int) i;
        return -1;
}

void fake_xs_set(const char *key, const char *val, unsigned len) {
        int i = key_index(key);
        if (i < 0) {
                if (fake.n_keys == FAKE_KEYS_MAX || strlen(key) >= sizeof(fake.key[0]))
                        abort();
                i = (int) fake.n_keys++;
                strcpy(fake.key[i], key);
        }
        if (len > FAKE_VALUE_MAX)
                abort();
        memcpy(fake.val[i], val, len);
        fake.val_len[i] = len;
}

void fake_xs_del(const char *key) {
        int i = key_index(key);
        if (i < 0)
                return;
        fake.n_keys--;
        memmove(fake.key[i], fake.key[fake.n_keys], sizeof(fake.key[0]));
        memmove(fake.val[i], fake.val[fake.n_keys], sizeof(fake.val[0]));
        fake.val_len[i] = fake.val_len[fake.n_keys];
}

const char *fake_xs_get(const char *key) {
        int i = key_index(key);
        if (i < 0)
                return NULL;
        fake.val[i][fake.val_len[i] < FAKE_VALUE_MAX ? fake.val_len[i] : FAKE_VALUE_MAX - 1] = '\0';
        return fake.val[i];
}

void fake_fire(void) {
        fake.pending++;
        if (fake.pipe[1] >= 0 && write(fake.pipe[1], "!", 1) != 1)
                abort();
}

static fake_dom *dom(uint32_t domid) {
        for (unsigned i = 0; i < fake.n_doms; i++)
                if (fake.doms[i].domid == domid)
                        return &fake.doms[i];
        return NULL;
}

/* ------------------------------------------------------------------ */
/* libxenctrl */

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger, unsigned open_flags) {
        return calloc(1, sizeof(xc_interface));
}

int xc_interface_close(xc_interface *xch) {
        free(xch);
        return 0;
}

int xc_cputopoinfo(xc_interface *xch, unsigned *max_cpus, xc_cputopo_t *cputopo) {
        if (cputopo) {
                if (*max_cpus < fake.n_cpus) {
                        errno = ENOBUFS;
                        return -1;
                }
                for (unsigned c = 0; c < fake.n_cpus; c++)
                        cputopo[c] = (xc_cputopo_t) { .core = c % 2, .socket = c / 2, .node = fake.cpu_node[c] };
        }
        *max_cpus = fake.n_cpus;
        return 0;
}

int xc_numainfo(xc_interface *xch, unsigned *max_nodes, xc_meminfo_t *meminfo, uint32_t *distance) {
        if (meminfo) {
                if (*max_nodes < fake.n_nodes) {
                        errno = ENOBUFS;
                        return -1;
                }
                for (unsigned n = 0; n < fake.n_nodes; n++) {
                        meminfo[n].memsize = fake.memsize[n];
                        meminfo[n].memfree = fake.memfree[n];
                }
                memcpy(distance, fake.dist, sizeof(uint32_t) * fake.n_nodes * fake.n_nodes);
        }
        *max_nodes = fake.n_nodes;
        return 0;
}

int xc_get_cpumap_size(xc_interface *xch) {
        return (FAKE_CPUS_MAX + 7) / 8;
}

xc_cpumap_t xc_cpumap_alloc(xc_interface *xch) {
        return calloc(1, (FAKE_CPUS_MAX + 7) / 8);
}

int xc_get_nodemap_size(xc_interface *xch) {
        return 1;
}

xc_nodemap_t xc_nodemap_alloc(xc_interface *xch) {
        return calloc(1, 1);
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain, unsigned int max_domains, xc_domaininfo_t *info) {
        unsigned n = 0;
        /* Xen returns domains in id order from first_domain on */
        for (uint32_t id = first_domain; id < 0x7ff0 && n < max_domains; id++) {
                fake_dom *d = dom(id);
                if (!d)
                        continue;
                xc_domaininfo_t *o = &info[n++];
                memset(o, 0, sizeof(*o));
                o->domain = (domid_t) d->domid;
                o->flags = d->flags;
                o->tot_pages = d->tot_pages;
                o->max_pages = d->max_pages;
                o->nr_online_vcpus = d->n_vcpus;
                o->max_vcpu_id = d->n_vcpus ? d->n_vcpus - 1 : XEN_INVALID_MAX_VCPU_ID;
                memcpy(o->handle, d->handle, 16);
                if (id > 64)
                        break;
        }
        return (int) n;
}

int xc_vcpu_getinfo(xc_interface *xch, uint32_t domid, uint32_t vcpu, xc_vcpuinfo_t *info) {
        fake_dom *d = dom(domid);
        if (!d || vcpu >= d->n_vcpus) {
                errno = ESRCH;
                return -1;
        }
        memset(info, 0, sizeof(*info));
        info->vcpu = vcpu;
        info->online = !d->vcpu_offline[vcpu];
        info->cpu = (uint32_t) d->vcpu_cpu[vcpu];
        return 0;
}

int xc_vcpu_getaffinity(xc_interface *xch, uint32_t domid, int vcpu, xc_cpumap_t cpumap_hard,
                        xc_cpumap_t cpumap_soft, uint32_t flags) {
        fake_dom *d = dom(domid);
        if (!d || vcpu < 0 || (unsigned) vcpu >= d->n_vcpus) {
                errno = ESRCH;
                return -1;
        }
        if (flags & XEN_VCPUAFFINITY_HARD)
                cpumap_hard[0] = d->hard[vcpu];
        return 0;
}

int xc_domain_node_getaffinity(xc_interface *xch, uint32_t domid, xc_nodemap_t nodemap) {
        fake_dom *d = dom(domid);
        if (!d) {
                errno = ESRCH;
                return -1;
        }
        nodemap[0] = d->nodemap;
        return 0;
}

int xc_send_debug_keys(xc_interface *xch, const char *keys) {
        fake.debug_keys++;
        return 0;
}

int xc_readconsolering(xc_interface *xch, char *buffer, unsigned int *pnr_chars, int clear, int incremental,
                       uint32_t *pindex) {
        const char *ring = fake.conring ? fake.conring : "";
        unsigned n = (unsigned) strlen(ring);
        if (n > *pnr_chars)
                n = *pnr_chars;
        memcpy(buffer, ring, n);
        *pnr_chars = n;
        return 0;
}

int xc_evtchn_status(xc_interface *xch, xc_evtchn_status_t *status) {
        if (status->dom != DOMID_SELF || status->port == 0 || status->port > fake.n_ports) {
                errno = EINVAL;
                return -1;
        }
        const fake_port *p = &fake.ports[status->port];
        status->status = p->status;
        status->vcpu = p->vcpu;
        status->u.interdomain.dom = (domid_t) p->rdom;
        status->u.interdomain.port = p->rport;
        return 0;
}

int xc_sched_id(xc_interface *xch, int *sched_id) {
        *sched_id = fake.sched_id;
        return 0;
}

int xc_sched_credit2_domain_get(xc_interface *xch, uint32_t domid, struct xen_domctl_sched_credit2 *sdom) {
        fake_dom *d = dom(domid);
        if (!d) {
                errno = ESRCH;
                return -1;
        }
        sdom->weight = d->weight;
        sdom->cap = d->cap;
        return 0;
}

int xc_sched_credit2_domain_set(xc_interface *xch, uint32_t domid, struct xen_domctl_sched_credit2 *sdom) {
        fake_dom *d = dom(domid);
        if (!d) {
                errno = ESRCH;
                return -1;
        }
        d->weight = sdom->weight;
        d->cap = sdom->cap;
        return 0;
}

int xc_sched_credit_domain_get(xc_interface *xch, uint32_t domid, struct xen_domctl_sched_credit *sdom) {
        errno = EINVAL;
        return -1;
}

int xc_sched_credit_domain_set(xc_interface *xch, uint32_t domid, struct xen_domctl_sched_credit *sdom) {
        errno = EINVAL;
        return -1;
}

/* ------------------------------------------------------------------ */
/* libxenstore */

struct xs_handle *xs_open(unsigned long flags) {
        fake.opens++;
        fake.xs_dead = false;
        if (fake.pipe[0] < 0 && pipe2(fake.pipe, O_NONBLOCK | O_CLOEXEC) < 0)
                return NULL;
        return calloc(1, sizeof(struct xs_handle));
}

void xs_close(struct xs_handle *xsh) {
        free(xsh);
}

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len) {
        if (fake.xs_dead) {
                errno = EBADF;          /* libxenstore closed the dead connection */
                return NULL;
        }
        int i = key_index(path);
        if (i < 0) {
                errno = ENOENT;
                return NULL;
        }
        char *v = malloc(fake.val_len[i] + 1);
        if (!v)
                return NULL;
        memcpy(v, fake.val[i], fake.val_len[i]);
        v[fake.val_len[i]] = '\0';
        if (len)
                *len = fake.val_len[i];
        return v;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path, const void *data, unsigned int len) {
        fake_xs_set(path, data, len);
        return true;
}

char **xs_directory(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *num) {
        size_t pl = strlen(path);
        char names[FAKE_KEYS_MAX][256];
        unsigned n = 0;
        for (unsigned i = 0; i < fake.n_keys; i++) {
                const char *k = fake.key[i];
                if (strncmp(k, path, pl) != 0 || k[pl] != '/')
                        continue;
                const char *c = k + pl + 1;
                size_t cl = strcspn(c, "/");
                bool dup = false;
                for (unsigned j = 0; j < n; j++)
                        if (strlen(names[j]) == cl && strncmp(names[j], c, cl) == 0)
                                dup = true;
                if (dup)
                        continue;
                memcpy(names[n], c, cl);
                names[n++][cl] = '\0';
        }
        if (n == 0) {
                errno = ENOENT;
                return NULL;
        }
        /* one block, like libxenstore: the array then the strings */
        size_t size = n * sizeof(char *);
        for (unsigned j = 0; j < n; j++)
                size += strlen(names[j]) + 1;
        char **out = malloc(size);
        if (!out)
                return NULL;
        char *s = (char *) (out + n);
        for (unsigned j = 0; j < n; j++) {
                out[j] = s;
                strcpy(s, names[j]);
                s += strlen(names[j]) + 1;
        }
        *num = n;
        return out;
}

xs_transaction_t xs_transaction_start(struct xs_handle *h) {
        fake.tx_started++;
        return 1;
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort_) {
        if (abort_)
                return true;
        if (fake.tx_eagain > 0) {
                fake.tx_eagain--;
                errno = EAGAIN;
                return false;
        }
        fake.tx_committed++;
        return true;
}

bool xs_watch(struct xs_handle *h, const char *path, const char *token) {
        fake.watches++;
        fake_fire();            /* xenstored fires a new watch once */
        return true;
}

int xs_fileno(struct xs_handle *h) {
        return fake.pipe[0];
}

char **xs_check_watch(struct xs_handle *h) {
        if (fake.xs_dead) {
                errno = EINVAL;         /* what libxenstore says: fd gone, nothing queued */
                return NULL;
        }
        if (fake.pending == 0) {
                errno = EAGAIN;
                return NULL;
        }
        fake.pending--;
        char c;
        if (read(fake.pipe[0], &c, 1) != 1)
                abort();
        return calloc(2, sizeof(char *));
}

/* ------------------------------------------------------------------ */
/* libxenstat */

xenstat_handle *xenstat_init(void) {
        return calloc(1, sizeof(xenstat_handle));
}

void xenstat_uninit(xenstat_handle *handle) {
        free(handle);
}

xenstat_node *xenstat_get_node(xenstat_handle *handle, unsigned int flags) {
        xenstat_node *n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        fake.xenstat_flags = flags;
        n->n = fake.n_doms;
        for (unsigned i = 0; i < fake.n_doms; i++)
                xst_doms[i].d = &fake.doms[i];
        return n;
}

void xenstat_free_node(xenstat_node *node) {
        free(node);
}

unsigned int xenstat_node_num_domains(xenstat_node *node) {
        return node->n;
}

xenstat_domain *xenstat_node_domain_by_index(xenstat_node *node, unsigned index) {
        return index < node->n ? &xst_doms[index] : NULL;
}

unsigned xenstat_domain_id(xenstat_domain *domain) {
        return domain->d->domid;
}

unsigned int xenstat_domain_num_networks(xenstat_domain *domain) {
        return domain->d->rpk || domain->d->tpk ? 1 : 0;
}

xenstat_network *xenstat_domain_network(xenstat_domain *domain, unsigned int network) {
        return (xenstat_network *) domain;
}

unsigned int xenstat_domain_num_vbds(xenstat_domain *domain) {
        return domain->d->rd_reqs || domain->d->wr_reqs ? 1 : 0;
}

xenstat_vbd *xenstat_domain_vbd(xenstat_domain *domain, unsigned int vbd) {
        return (xenstat_vbd *) domain;
}

unsigned long long xenstat_network_rpackets(xenstat_network *n) { return n->d->rpk; }
unsigned long long xenstat_network_tpackets(xenstat_network *n) { return n->d->tpk; }
unsigned long long xenstat_network_rbytes(xenstat_network *n) { return n->d->rb; }
unsigned long long xenstat_network_tbytes(xenstat_network *n) { return n->d->tb; }
unsigned int xenstat_vbd_type(xenstat_vbd *v) { return v->d->vbd_type; }
unsigned long long xenstat_vbd_rd_reqs(xenstat_vbd *v) { return v->d->rd_reqs; }
unsigned long long xenstat_vbd_wr_reqs(xenstat_vbd *v) { return v->d->wr_reqs; }
unsigned long long xenstat_vbd_rd_sects(xenstat_vbd *v) { return v->d->rd_sects; }
unsigned long long xenstat_vbd_wr_sects(xenstat_vbd *v) { return v->d->wr_sects; }
