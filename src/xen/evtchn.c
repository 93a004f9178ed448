/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which dom0 IRQ is which event channel. Linux names a blkback IRQ
 * "blkif-backend" and nothing in /proc or /sys tells its port, but Xen's
 * event-channel table tells which dom0 vCPU each port notifies. Moving an IRQ
 * between two vCPUs and watching which port follows names its port; the port
 * names the remote domain (trusted, from Xen) and the frontend's port, which
 * the frontend's xenstore names a queue for (untrusted: used only to pick
 * among that domain's own vCPUs).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xen/xen.h"

/* How many times to re-scan after a move before giving up on an IRQ: a
 * moved IRQ may be rebound lazily (at its next interrupt). */
#define SCAN_TRIES 3u

bool closer_xen_irq_needs_map(const closer_irq *irq) {
        return strcmp(irq->name, "blkif-backend") == 0 ||
               strcmp(irq->name, "evtchn:xen-qemu-system") == 0;
}

static const closer_xen_port *find_port(const closer_xen_port *s, unsigned n, unsigned port) {
        for (unsigned i = 0; i < n; i++)
                if (s[i].port == port)
                        return &s[i];
        return NULL;
}

int closer_xen_port_followed(const closer_xen_port *s1, unsigned n1, unsigned a,
                             const closer_xen_port *s2, unsigned n2, unsigned b,
                             closer_xen_port *ret) {
        const closer_xen_port *hit = NULL;
        unsigned hits = 0;

        if (a == b)
                return -EINVAL;
        for (unsigned i = 0; i < n2; i++) {
                if (s2[i].vcpu != b)
                        continue;
                const closer_xen_port *before = find_port(s1, n1, s2[i].port);
                /* Same channel: same remote end too, or the port was
                 * closed and reused in between. */
                if (!before || before->vcpu != a || before->remote_domid != s2[i].remote_domid ||
                    before->remote_port != s2[i].remote_port)
                        continue;
                hit = &s2[i];
                hits++;
        }
        if (hits == 0)
                return -ENOENT;
        if (hits > 1)
                return -ENOTUNIQ;
        *ret = *hit;
        return 0;
}

int closer_xen_queue_of_port(const closer_xen_fe_port *fe, unsigned n, unsigned remote_port, int *ret_queue) {
        int queue = -1;
        unsigned hits = 0;

        for (unsigned i = 0; i < n; i++)
                if (fe[i].port == remote_port) {
                        queue = fe[i].queue;
                        hits++;
                }
        if (hits == 0)
                return -ENOENT;
        if (hits > 1)
                return -ENOTUNIQ;
        *ret_queue = queue;
        return 0;
}

void closer_xen_irq_cache_done(closer_xen_irq_cache *c) {
        free(c->b);
        c->b = NULL;
        c->n = 0;
}

static closer_xen_irq_binding *cache_find(closer_xen_irq_cache *c, unsigned irq) {
        for (unsigned i = 0; i < c->n; i++)
                if (c->b[i].irq == irq)
                        return &c->b[i];
        return NULL;
}

static int cache_put(closer_xen_irq_cache *c, unsigned irq, const closer_xen_port *port) {
        closer_xen_irq_binding *b = cache_find(c, irq);
        if (!b) {
                b = realloc(c->b, (c->n + 1) * sizeof(*b));
                if (!b)
                        return -ENOMEM;
                c->b = b;
                b = &c->b[c->n++];
        }
        b->irq = irq;
        b->port = *port;
        b->queue = -1;
        return 0;
}

static void cache_drop(closer_xen_irq_cache *c, unsigned irq) {
        closer_xen_irq_binding *b = cache_find(c, irq);
        if (!b)
                return;
        *b = c->b[--c->n];
}

/* Move `irq` to vCPU a, then b, and see which port followed. Always tries to
 * put the IRQ's affinity back. */
static int probe_one(const closer_xen_probe_ops *ops, void *data, unsigned irq, unsigned n_dom0_vcpus,
                     closer_xen_port *ret) {
        closer_cpuset orig, one;
        closer_xen_port *s1 = NULL, *s2 = NULL;
        unsigned n1 = 0, n2 = 0;
        int r, k;

        r = ops->get_irq_affinity(data, irq, &orig);
        if (r < 0)
                return r;
        /* Start from a vCPU the IRQ may use anyway, to disturb it least. */
        int first = closer_cpuset_first(&orig);
        unsigned a = first >= 0 && (unsigned) first < n_dom0_vcpus ? (unsigned) first : 0;
        unsigned b = (a + 1) % n_dom0_vcpus;

        closer_cpuset_zero(&one);
        closer_cpuset_set(&one, a);
        r = ops->set_irq_affinity(data, irq, &one);
        if (r < 0)
                goto restore;
        if (ops->settle)
                ops->settle(data);
        r = ops->scan_ports(data, &s1, &n1);
        if (r < 0)
                goto restore;

        /* Bounce between a and b; a port that was on `cur` and is now on
         * `next` followed the IRQ. More than one try covers a move that
         * took effect late. */
        unsigned cur = a;
        for (unsigned t = 0; t < SCAN_TRIES; t++) {
                unsigned next = cur == a ? b : a;
                closer_cpuset_zero(&one);
                closer_cpuset_set(&one, next);
                r = ops->set_irq_affinity(data, irq, &one);
                if (r < 0)
                        goto restore;
                if (ops->settle)
                        ops->settle(data);
                free(s2);
                s2 = NULL;
                r = ops->scan_ports(data, &s2, &n2);
                if (r < 0)
                        goto restore;
                r = closer_xen_port_followed(s1, n1, cur, s2, n2, next, ret);
                if (r != -ENOENT)
                        break;
                free(s1);
                s1 = s2;
                n1 = n2;
                s2 = NULL;
                cur = next;
        }
restore:
        k = ops->set_irq_affinity(data, irq, &orig);
        free(s1);
        free(s2);
        if (r >= 0 && k < 0)
                r = k;
        return r;
}

static bool binding_valid(const closer_xen_irq_binding *b, const closer_xen_port *scan, unsigned n) {
        const closer_xen_port *now = find_port(scan, n, b->port.port);
        return now && now->remote_domid == b->port.remote_domid && now->remote_port == b->port.remote_port;
}

int closer_xen_map_irqs(const closer_xen_probe_ops *ops, void *data, unsigned n_dom0_vcpus,
                        closer_xen_irq_cache *cache, closer_irq *irqs, unsigned n, unsigned *ret_probed) {
        closer_xen_port *scan = NULL;
        unsigned n_scan = 0, probed = 0;
        int r;

        bool any = false;
        for (unsigned i = 0; i < n; i++)
                if (irqs[i].domid < 0 && closer_xen_irq_needs_map(&irqs[i]))
                        any = true;
        if (!any) {
                if (ret_probed)
                        *ret_probed = 0;
                return 0;
        }

        /* Steady state: every IRQ to fill is bound already. Checking those
         * few ports costs one call each, not a walk over all of dom0's. */
        bool all_cached = ops->port_status != NULL;
        unsigned n_cached = 0;
        for (unsigned i = 0; i < n && all_cached; i++)
                if (irqs[i].domid < 0 && closer_xen_irq_needs_map(&irqs[i])) {
                        if (cache_find(cache, irqs[i].irq))
                                n_cached++;
                        else
                                all_cached = false;
                }
        if (all_cached) {
                scan = calloc(n_cached ? n_cached : 1, sizeof(*scan));
                if (!scan)
                        return -ENOMEM;
                for (unsigned i = 0; i < n; i++) {
                        if (irqs[i].domid >= 0 || !closer_xen_irq_needs_map(&irqs[i]) || n_scan == n_cached)
                                continue;
                        const closer_xen_irq_binding *b = cache_find(cache, irqs[i].irq);
                        closer_xen_port now;
                        r = ops->port_status(data, b->port.port, &now);
                        if (r == 0)
                                scan[n_scan++] = now;
                        else if (r != -ENOENT) {
                                free(scan);
                                return r;
                        }
                }
        } else {
                r = ops->scan_ports(data, &scan, &n_scan);
                if (r < 0)
                        return r;
        }

        /* Forget bindings whose IRQ is gone or whose port changed hands. */
        for (unsigned i = 0; i < cache->n;) {
                bool present = false;
                for (unsigned j = 0; j < n; j++)
                        if (irqs[j].irq == cache->b[i].irq && closer_xen_irq_needs_map(&irqs[j]))
                                present = true;
                if (!present || !binding_valid(&cache->b[i], scan, n_scan))
                        cache->b[i] = cache->b[--cache->n];
                else
                        i++;
        }

        /* Frontend ports read once per domain per call. */
        int fe_domid = CLOSER_DOMID_NONE;
        closer_xen_fe_port *fe = NULL;
        unsigned n_fe = 0;

        for (unsigned i = 0; i < n; i++) {
                closer_irq *irq = &irqs[i];
                if (irq->domid >= 0 || !closer_xen_irq_needs_map(irq))
                        continue;

                closer_xen_port port;
                closer_xen_irq_binding *b = cache_find(cache, irq->irq);
                if (b) {
                        port = b->port;
                } else {
                        if (n_dom0_vcpus < 2)
                                continue;       /* nowhere to move it to */
                        probed++;
                        r = probe_one(ops, data, irq->irq, n_dom0_vcpus, &port);
                        if (r == -ENOMEM)
                                goto finish;
                        if (r < 0)
                                continue;       /* this one stays unknown */
                        if (port.remote_domid == 0) {
                                cache_drop(cache, irq->irq);
                                continue;       /* dom0's own channel: not a guest's */
                        }
                        r = cache_put(cache, irq->irq, &port);
                        if (r < 0)
                                goto finish;
                }

                irq->domid = port.remote_domid;
                irq->queue = -1;
                irq->kind = strcmp(irq->name, "blkif-backend") == 0 ? CLOSER_IRQ_VM_INITIATED : CLOSER_IRQ_UNKNOWN;
                if (b) {
                        /* The queue was resolved with the binding: a
                         * frontend names its ports before the backend binds
                         * them, and a new ring means a new port. */
                        if (b->queue >= 0) {
                                irq->queue = b->queue;
                                irq->kind = CLOSER_IRQ_VM_INITIATED;
                        }
                        continue;
                }

                if (fe_domid != port.remote_domid) {
                        free(fe);
                        fe = NULL;
                        n_fe = 0;
                        fe_domid = port.remote_domid;
                        if (ops->read_fe_ports(data, fe_domid, &fe, &n_fe) < 0) {
                                fe = NULL;
                                n_fe = 0;
                        }
                }
                int q;
                if (closer_xen_queue_of_port(fe, n_fe, port.remote_port, &q) == 0) {
                        irq->queue = q;
                        /* A disk frontend's ring: the guest kicks it. */
                        irq->kind = CLOSER_IRQ_VM_INITIATED;
                }
                cache_find(cache, irq->irq)->queue = irq->queue;
        }
        r = 0;
finish:
        free(fe);
        free(scan);
        if (ret_probed)
                *ret_probed = probed;
        return r;
}
