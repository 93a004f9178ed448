/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closer-xen-probe: what the Xen adapter sees on this dom0, as one
 * closer-snapshot/1 document on stdout: topology, dom0 vCPUs, domains
 * (read_host), I/O rates over an interval (read_io twice), dom0's threads and
 * IRQs (Linux adapter) with blkif-backend/QEMU IRQs mapped to their domain and
 * queue (map_irqs). For checking the adapter against `xl info -n`,
 * `xl vcpu-list` and `lsevtchn 0` on a real host; it changes nothing but
 * moves each unmapped backend IRQ briefly: map_irqs puts each back as it
 * found it before it returns, which is all the "restore" a run that lives
 * for one snapshot needs (no journal, no state file).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/macro.h"
#include "closer/hostos.h"
#include "closer/hypervisor.h"
#include "closer/snapshot.h"

static void usage(FILE *f) {
        fputs("Usage: closer-xen-probe [OPTIONS]\n"
              "Print what closer's Xen adapter sees on this dom0 as closer-snapshot/1 JSON.\n\n"
              "  --exact-numa        per-node memory of each domain from Xen's 'u' debug key\n"
              "                      (writes to Xen's console ring) instead of the node-affinity estimate\n"
              "  --io-interval-ms N  sample I/O counters N ms apart for the rates (default 1000, 0: none)\n"
              "  --no-irqs           do not read dom0's threads and IRQs (no IRQ is moved)\n"
              "  --timings           print how long each adapter call took on stderr\n"
              "  -h, --help          this text\n\n"
              "Exit: 0 ok, 1 cannot read the host (not a Xen dom0, no privilege), 2 bad usage.\n", f);
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static int parse_ms(const char *s, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v > 60000)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static const closer_hv_io *find_io(const closer_hv_io *io, unsigned n, int domid) {
        for (unsigned i = 0; i < n; i++)
                if (io[i].domid == domid)
                        return &io[i];
        return NULL;
}

static int io_rates(closer_hypervisor *hv, closer_snapshot *s, unsigned interval_ms) {
        closer_hv_io *a = NULL, *b = NULL;
        unsigned na = 0, nb = 0;
        int r = hv->ops->read_io(hv->data, &a, &na);
        if (r < 0)
                return r;
        uint64_t t0 = now_ns();
        struct timespec ts = { .tv_sec = interval_ms / 1000, .tv_nsec = (long) (interval_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        r = hv->ops->read_io(hv->data, &b, &nb);
        uint64_t t1 = now_ns();
        if (r < 0) {
                free(a);
                return r;
        }
        double secs = (double) (t1 - t0) / 1e9;
        for (unsigned i = 0; i < s->n_domains; i++) {
                closer_domain *d = &s->domains[i];
                const closer_hv_io *x = find_io(a, na, d->domid), *y = find_io(b, nb, d->domid);
                /* Counters that went backwards were reset (device replugged):
                 * no rate rather than a wrong one. */
                if (x && y && y->ops >= x->ops && y->bytes >= x->bytes && secs > 0) {
                        d->io_ops_per_s = (double) (y->ops - x->ops) / secs;
                        d->io_bytes_per_s = (double) (y->bytes - x->bytes) / secs;
                }
        }
        free(a);
        free(b);
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(closer_hypervisor *, closer_hypervisor_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(closer_hostos *, closer_hostos_free);

/* The snapshot's threads and IRQs were allocated by the host-OS adapter. */
static void probe_snapshot_freep(closer_snapshot **sp) {
        closer_snapshot *s = *sp;
        if (!s)
                return;
        closer_hostos_threads_free(s->threads, s->n_threads);
        closer_hostos_irqs_free(s->irqs, s->n_irqs);
        s->threads = NULL;
        s->irqs = NULL;
        s->n_threads = s->n_irqs = 0;
        closer_snapshot_free(s);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                {"exact-numa", no_argument, NULL, 'n'},
                {"io-interval-ms", required_argument, NULL, 'i'},
                {"no-irqs", no_argument, NULL, 'q'},
                {"timings", no_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        bool exact_numa = false, irqs = true, timings = false;
        unsigned interval_ms = 1000;
        int c;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'n':
                        exact_numa = true;
                        break;
                case 'i':
                        if (parse_ms(optarg, &interval_ms) < 0) {
                                fprintf(stderr, "closer-xen-probe: --io-interval-ms: expected 0..60000, got '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'q':
                        irqs = false;
                        break;
                case 't':
                        timings = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "closer-xen-probe: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        closer_error err = {{0}};
        /* freed in the reverse order: the snapshot, then the hypervisor
         * adapter (which may hold the host-OS one), then the host-OS one */
        _cleanup_(closer_hostos_freep) closer_hostos *os = NULL;
        _cleanup_(closer_hypervisor_freep) closer_hypervisor *hv = NULL;
        _cleanup_(probe_snapshot_freep) closer_snapshot *s = NULL;
        int r;

        r = closer_xen_hypervisor_new(&hv, &err);
        if (r < 0) {
                fprintf(stderr, "closer-xen-probe: %s\n", err.msg[0] ? err.msg : strerror(-r));
                return 1;
        }
        /* as closerd does: dom0's OS files (kernel backends' counters for
         * read_io, IRQ affinity for map_irqs) through the Linux adapter */
        r = closer_linux_hostos_new("/", NULL, &os, &err);
        if (r < 0) {
                fprintf(stderr, "closer-xen-probe: %s\n", err.msg[0] ? err.msg : strerror(-r));
                return 1;
        }
        if (hv->ops->attach_hostos) {
                r = hv->ops->attach_hostos(hv->data, os);
                if (r < 0) {
                        fprintf(stderr, "closer-xen-probe: attach_hostos: %s\n", strerror(-r));
                        return 1;
                }
        }
        s = closer_snapshot_new();
        if (!s) {
                fprintf(stderr, "closer-xen-probe: out of memory\n");
                return 1;
        }
        uint64_t t0 = now_ns();
        r = hv->ops->read_host(hv->data, exact_numa, s, &err);
        if (timings)
                fprintf(stderr, "closer-xen-probe: read_host%s: %.3f ms (%u nodes, %u domains)\n",
                        exact_numa ? " --exact-numa" : "", (double) (now_ns() - t0) / 1e6,
                        s->topo.n_nodes, s->n_domains);
        if (r < 0) {
                fprintf(stderr, "closer-xen-probe: read_host: %s\n", err.msg[0] ? err.msg : strerror(-r));
                return 1;
        }
        if (interval_ms > 0) {
                t0 = now_ns();
                r = io_rates(hv, s, interval_ms);
                if (timings)
                        fprintf(stderr, "closer-xen-probe: read_io x2 + %u ms: %.3f ms\n", interval_ms,
                                (double) (now_ns() - t0) / 1e6);
                if (r < 0) {
                        fprintf(stderr, "closer-xen-probe: read_io: %s\n", strerror(-r));
                        return 1;
                }
        }
        if (irqs) {
                unsigned vanished = 0;
                r = os->ops->read_threads(os->data, &s->threads, &s->n_threads, &vanished);
                if (r >= 0)
                        r = os->ops->read_irqs(os->data, &s->irqs, &s->n_irqs);
                if (r < 0) {
                        fprintf(stderr, "closer-xen-probe: reading dom0's threads and IRQs: %s\n", strerror(-r));
                        return 1;
                }
                if (hv->ops->map_irqs) {
                        t0 = now_ns();
                        r = hv->ops->map_irqs(hv->data, s->irqs, s->n_irqs);
                        if (r < 0) {
                                fprintf(stderr, "closer-xen-probe: map_irqs: %s\n", strerror(-r));
                                return 1;
                        }
                        if (timings) {
                                unsigned mapped = 0;
                                for (unsigned i = 0; i < s->n_irqs; i++)
                                        mapped += s->irqs[i].domid >= 0;
                                fprintf(stderr, "closer-xen-probe: map_irqs (probing): %.3f ms (%u IRQs, %u with a domain)\n",
                                        (double) (now_ns() - t0) / 1e6, s->n_irqs, mapped);
                                /* What each later tick pays: the bindings are
                                 * cached, only checked against Xen's table. */
                                closer_irq *copy = calloc(s->n_irqs ? s->n_irqs : 1, sizeof(*copy));
                                if (copy) {
                                        for (unsigned i = 0; i < s->n_irqs; i++) {
                                                copy[i] = s->irqs[i];
                                                copy[i].per_cpu_counts = NULL;
                                                copy[i].n_counts = 0;
                                                if (strcmp(copy[i].name, "blkif-backend") == 0 ||
                                                    strcmp(copy[i].name, "evtchn:xen-qemu-system") == 0)
                                                        copy[i].domid = copy[i].queue = -1;
                                        }
                                        t0 = now_ns();
                                        r = hv->ops->map_irqs(hv->data, copy, s->n_irqs);
                                        fprintf(stderr, "closer-xen-probe: map_irqs (cached): %.3f ms (r=%d)\n",
                                                (double) (now_ns() - t0) / 1e6, r);
                                        free(copy);
                                }
                        }
                }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s->time_ns = (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;

        _cleanup_free_ char *json = closer_snapshot_to_json(s);
        if (!json) {
                fprintf(stderr, "closer-xen-probe: out of memory\n");
                return 1;
        }
        fputs(json, stdout);
        fputc('\n', stdout);
        return fflush(stdout) == 0 ? 0 : 1;
}
