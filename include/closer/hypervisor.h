/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "closer/error.h"
#include "closer/snapshot.h"

struct closer_hostos;

/*
 * The hypervisor adapter behind a small op table: `xen` (libxenctrl +
 * libxenstore, src/xen) and `sim` (a modelled host, src/simhost; not
 * closer-sim's performance model, src/sim). All ops return 0 or -errno and
 * never log. Everything a guest can write (its own xenstore
 * subtree, its frontend values) is untrusted: an adapter validates it and
 * may only use it to choose among that same domain's own objects.
 */

/* Cumulative I/O counters of one domain since it started (ops = requests +
 * packets, bytes = both directions). The daemon turns them into rates. */
typedef struct closer_hv_io {
        int domid;
        uint64_t ops;
        uint64_t bytes;
} closer_hv_io;

typedef struct closer_hypervisor_ops {
        const char *name;

        /*
         * Sense (mandatory). Fill s->topo (nodes, CPUs, memory, distances),
         * s->dom0 (its vCPUs with current pCPU and hard affinity, its memory)
         * and s->domains (every domU: domid, name, uuid, mem_kib = the memory
         * it was created with (Xen's max), mem_kib_by_node (cheap estimate
         * unless exact_numa), vCPUs with pCPU and affinity). Leaves threads,
         * irqs and io rates alone. s arrives empty (closer_snapshot_new()).
         */
        int (*read_host)(void *data, bool exact_numa, closer_snapshot *s, closer_error *err);
        /* Cumulative I/O counters of every domU; *ret malloc'd. */
        int (*read_io)(void *data, closer_hv_io **ret, unsigned *ret_n);

        /* Fill domid/queue/kind of the dom0 IRQs whose names do not say
         * (blkif-backend, evtchn:xen-qemu-system) from the hypervisor's
         * event-channel table (optional: NULL when unsupported). */
        int (*map_irqs)(void *data, closer_irq *irqs, unsigned n);

        /* Act (mandatory). dom0's own vCPUs are pinned at boot
         * (dom0_vcpus_pin): closer moves dom0's work, never its vCPUs. */
        /* Balloon target of a domain (domid 0: dom0), through memory/target. */
        int (*set_mem_target)(void *data, int domid, uint64_t target_kib);
        /* The balloon target in force now (memory/target), to put it back as
         * found on exit. */
        int (*get_mem_target)(void *data, int domid, uint64_t *ret_kib);
        /* Current memory of a domain as the hypervisor counts it (to see if
         * its balloon follows the target). */
        int (*get_mem_actual)(void *data, int domid, uint64_t *ret_kib);
        /* Scheduler cap in % of one pCPU (0 = none) (optional). */
        int (*set_cap)(void *data, int domid, unsigned cap_pct);
        /* The cap in force now, to put it back as found (optional; without
         * it closerd does not cap: `charge = cap` needs both). */
        int (*get_cap)(void *data, int domid, unsigned *ret_cap_pct);

        /* Events (optional): an fd that becomes readable when domains appear
         * or leave (xenstore watches on @introduceDomain/@releaseDomain), and
         * the call that drains it; *ret_changed tells whether to re-plan. */
        int (*event_fd)(void *data);
        int (*process_events)(void *data, bool *ret_changed);

        void (*free)(void *data);

        /* Lend the adapter the host-OS adapter (borrowed: it must outlive
         * the hypervisor), the one way an adapter reaches dom0's OS files:
         * the Xen adapter moves IRQs through it in map_irqs (to see which
         * event channel follows) and reads the kernel backends' counters
         * through it in read_io; both are -ENXIO until it is attached.
         * Optional: NULL when the adapter needs nothing from the host OS
         * (sim). */
        int (*attach_hostos)(void *data, struct closer_hostos *os);
} closer_hypervisor_ops;

typedef struct closer_hypervisor {
        const closer_hypervisor_ops *ops;
        void *data;
} closer_hypervisor;

/* Frees through ops->free; accepts NULL; returns NULL. */
closer_hypervisor *closer_hypervisor_free(closer_hypervisor *h);

/* Constructors. Each returns 0 and *ret, or -errno with err (e.g. -ENOENT
 * "no Xen here: /proc/xen/capabilities missing"). */
int closer_xen_hypervisor_new(closer_hypervisor **ret, closer_error *err);
