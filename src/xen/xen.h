/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The Xen adapter's pure parts: no Xen headers, no syscalls, so the unit
 * tests build and run on any machine. hypervisor-xen.c feeds them what
 * libxenctrl/libxenstore return.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "closer/cpuset.h"
#include "closer/error.h"
#include "closer/hypervisor.h"
#include "closer/snapshot.h"

/* ------------------------------------------------------------------ */
/* xsvalue.c: values read from xenstore. Anything under a guest's own
 * /local/domain/D is written by that guest or by the toolstack and is
 * treated as hostile: bounded, strictly parsed, never trusted for more than
 * choosing among that domain's own objects. */

/* Longest numeric value accepted (UINT64_MAX has 20 digits). */
#define CLOSER_XS_NUMBER_MAX 20u
/* Longest value read at all: a guest can store up to 4 KiB per node. */
#define CLOSER_XS_VALUE_MAX 4096u

/* Parse a decimal unsigned number of exactly `len` bytes (xs_read's length:
 * the value may hold NULs): digits only, no sign, no spaces, no empty value,
 * at most CLOSER_XS_NUMBER_MAX digits, and <= max. Returns 0 and *ret,
 * -EINVAL (not a number) or -ERANGE (too big). */
int closer_xs_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *ret);

/* Copy `len` bytes of display text (a domain name) into buf (size > 0):
 * printable ASCII only, anything else (control bytes, NUL, UTF-8, quotes
 * and backslashes) becomes '?', cut at size-1 bytes. Always NUL-terminates. */
void closer_xs_sanitize(const char *s, size_t len, char *buf, size_t size);

/* "queue-N" (a multi-queue frontend's subdirectory) -> N. Strict: exactly
 * that prefix, then a number <= max. Returns 0 and *ret or -EINVAL/-ERANGE. */
int closer_xs_parse_queue_dir(const char *name, unsigned max, unsigned *ret);

/* Xen's 16-byte domain handle as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
void closer_xen_uuid_format(const uint8_t handle[16], char buf[37]);

/* ------------------------------------------------------------------ */
/* xentopo.c: topology from xc_cputopoinfo / xc_numainfo. */

/* Xen's "invalid" marker for node ids, memory sizes and distances. */
#define CLOSER_XEN_INVALID 0xffffffffu

/*
 * Build a closer_topology. cpu_node[i]: node of pCPU i (CLOSER_XEN_INVALID
 * when offline). memsize/memfree: bytes per node (memsize ==
 * CLOSER_XEN_INVALID: no such node). dist: n_nodes*n_nodes, row-major.
 * Nodes with memory or CPUs are kept, in id order. Note: Xen's memsize is a
 * span and includes holes (node 0 holds the PCI hole); free is exact.
 * Returns 0 and fills *ret, or -E2BIG (too many CPUs/nodes), -EIO
 * (inconsistent: CPU on an absent node, invalid distance between present
 * nodes) with err.
 */
int closer_xen_topology_build(const uint32_t *cpu_node, unsigned n_cpus,
                              const uint64_t *memsize, const uint64_t *memfree,
                              const uint32_t *dist, unsigned n_nodes,
                              closer_topology *ret, closer_error *err);

/* Cheap per-node memory estimate: mem_kib split evenly over the nodes of the
 * domain's NUMA node affinity (nodemap: Xen's bitmap, bit i = node id i) that
 * are in topo; over every node when none of them is. The remainder goes to
 * the first. ret is indexed by node index and fully overwritten. */
void closer_xen_split_by_nodemap(uint64_t mem_kib, const uint8_t *nodemap, size_t nodemap_bytes,
                                 const closer_topology *topo, uint64_t ret[CLOSER_NODES_MAX]);

/*
 * Exact per-node memory from the text of Xen's 'u' debug key (console ring):
 *   (XEN) Domain 1 (total: 49152):
 *   (XEN)     Node 0: 49152
 * Only the last dump in `text` counts. Fills ret (by node index of topo, in
 * KiB) for `domid`. Returns 0, or -ENOENT when the domain is not in the
 * dump, -EINVAL on a malformed line inside its block.
 */
int closer_xen_parse_numa_dump(const char *text, size_t len, int domid, const closer_topology *topo,
                               uint64_t ret[CLOSER_NODES_MAX]);

/*
 * The last exact split of each domain, reused between dumps: the 'u' key
 * prints a block per domain on Xen's console, so it is pressed now and then
 * (when a domain's memory spans nodes), not on every read. An entry is a
 * domain (domid and Xen's handle: a reused domid is another domain) and its
 * KiB per node index at the dump; reading it scales the parts to the
 * domain's current size. Entries of domains not read since the last sweep
 * go.
 */
typedef struct closer_xen_numa_entry {
        int domid;
        uint8_t handle[16];
        uint64_t kib[CLOSER_NODES_MAX];
        bool seen;
} closer_xen_numa_entry;
typedef struct closer_xen_numa_cache {
        closer_xen_numa_entry *v;
        unsigned n, cap;
} closer_xen_numa_cache;

/* Remember domain domid's split (KiB by node index). 0 or -ENOMEM. */
int closer_xen_numa_cache_put(closer_xen_numa_cache *c, int domid, const uint8_t handle[16],
                              const uint64_t kib[CLOSER_NODES_MAX]);
/* Its remembered split scaled to mem_kib (parts sum to mem_kib, the
 * remainder on the largest part); marks it seen. false: none remembered
 * for this domain (or the parts were all 0). */
bool closer_xen_numa_cache_get(closer_xen_numa_cache *c, int domid, const uint8_t handle[16], uint64_t mem_kib,
                               uint64_t ret[CLOSER_NODES_MAX]);
/* Drop the entries not put or got since the last sweep; clear the marks. */
void closer_xen_numa_cache_sweep(closer_xen_numa_cache *c);
void closer_xen_numa_cache_free(closer_xen_numa_cache *c);

/* ------------------------------------------------------------------ */
/* evtchn.c: which dom0 IRQ is which event channel, and which queue. */

/* One interdomain event channel of dom0 (what `lsevtchn 0` prints). */
typedef struct closer_xen_port {
        unsigned port;                  /* dom0's port */
        unsigned vcpu;                  /* dom0 vCPU it notifies */
        int remote_domid;               /* from Xen: trusted */
        unsigned remote_port;
} closer_xen_port;

/* One event channel a frontend announced in its xenstore (untrusted). */
typedef struct closer_xen_fe_port {
        unsigned port;                  /* the frontend's (remote) port */
        int queue;                      /* queue index */
} closer_xen_fe_port;

/* Bounds on what a frontend may make us read. */
#define CLOSER_XEN_FE_DEVICES_MAX 64u
#define CLOSER_XEN_FE_QUEUES_MAX 256u

/* The one port that sat on vCPU `a` in scan s1 and on vCPU `b` in scan s2
 * (a != b): the channel that followed an IRQ we moved a -> b. Returns 0 and
 * *ret, -ENOENT (none) or -ENOTUNIQ (several: someone else moved too). */
int closer_xen_port_followed(const closer_xen_port *s1, unsigned n1, unsigned a,
                             const closer_xen_port *s2, unsigned n2, unsigned b,
                             closer_xen_port *ret);

/* Queue of the frontend port `remote_port`. Returns 0 and *ret_queue,
 * -ENOENT, or -ENOTUNIQ when the frontend announced that port twice (a
 * lying or broken guest: no queue). */
int closer_xen_queue_of_port(const closer_xen_fe_port *fe, unsigned n, unsigned remote_port, int *ret_queue);

/* What map_irqs needs from the host, so the matching can be tested with
 * fakes. All return 0 or -errno. */
typedef struct closer_xen_probe_ops {
        /* dom0's interdomain event channels (malloc'd array). */
        int (*scan_ports)(void *data, closer_xen_port **ret, unsigned *ret_n);
        int (*get_irq_affinity)(void *data, unsigned irq, closer_cpuset *ret);
        int (*set_irq_affinity)(void *data, unsigned irq, const closer_cpuset *cpus);
        /* The frontend ports of a domain's disks (malloc'd array; may be
         * empty). */
        int (*read_fe_ports)(void *data, int domid, closer_xen_fe_port **ret, unsigned *ret_n);
        /* One port of dom0, when it is interdomain (optional: lets a tick
         * whose IRQs are all bound check just their ports). Returns 0,
         * -ENOENT (closed or not interdomain) or -errno. */
        int (*port_status)(void *data, unsigned port, closer_xen_port *ret);
        /* Give a moved IRQ time to be rebound (optional). */
        void (*settle)(void *data);
} closer_xen_probe_ops;

/* Remembered IRQ -> port bindings, so an IRQ is probed once, not each tick.
 * A binding is reused only while the port still connects to the same
 * remote domain and port. */
typedef struct closer_xen_irq_binding {
        unsigned irq;
        closer_xen_port port;
        int queue;                      /* resolved with the binding; -1 none */
} closer_xen_irq_binding;

typedef struct closer_xen_irq_cache {
        unsigned n;
        closer_xen_irq_binding *b;
} closer_xen_irq_cache;

void closer_xen_irq_cache_done(closer_xen_irq_cache *c);

/* Whether an IRQ's name leaves its domain unsaid (blkif-backend,
 * evtchn:xen-qemu-system): those are the ones map_irqs fills. */
bool closer_xen_irq_needs_map(const closer_irq *irq);

/*
 * Fill domid/queue/kind of the IRQs that need it (closer_xen_irq_needs_map
 * and domid < 0). An IRQ not yet bound in the cache is moved between two of
 * dom0's vCPUs (`n_dom0_vcpus` >= 2 needed) to see which port follows it,
 * then put back where it was. IRQs that cannot be matched keep domid -1.
 * Returns 0 (even with unmatched IRQs), or -errno when the port table
 * cannot be read at all; *ret_probed (optional) counts IRQs moved.
 */
int closer_xen_map_irqs(const closer_xen_probe_ops *ops, void *data, unsigned n_dom0_vcpus,
                        closer_xen_irq_cache *cache, closer_irq *irqs, unsigned n, unsigned *ret_probed);

/* ------------------------------------------------------------------ */
/* iosum.c: one I/O counter per domain from counters of several sources.
 *
 * A domain's backend I/O is counted by more than one source (each of its
 * kernel backend devices in sysfs, its qdisk QEMU over QMP), and a source
 * can be missing from a read (a QEMU that did not answer in time, a device
 * whose counters are not there yet or went away while being read) and turn
 * up later. Adding the raw counters would turn a source that turns up late
 * into a burst of everything it counted since the domain booted (seen on
 * the lab's dom0: an idle domU's whole qdisk history at once, 30 s of
 * memory moved for nothing). So each (domain, source) is
 * followed on its own and the domain's counter grows only by what each
 * source did between two of its reads:
 * - a source first read together with its domain's first read counts from
 *   its raw value (the caller's first sample of a domain is its baseline);
 * - a source first read later starts from its raw value (what it counted
 *   before is history, not new I/O);
 * - a source missing from a read keeps its place; when it is back, what it
 *   did meanwhile counts;
 * - a source whose counters went backwards (either of them: a backend that
 *   reconnected) starts again from its new value and adds 0 for that read:
 *   what it did since the reset is lost, at most one read's worth, rather
 *   than counted twice. closer_io_rate_sample (closer/sense.h) reads a
 *   domain's counter that goes backwards by the same rule (a new baseline,
 *   the interval counts 0): one rule at both depths.
 * A domain with no reading at all (not even a source without counters) is
 * gone: its sources are forgotten. */
typedef struct closer_xen_io_reading {
        int domid;
        uint64_t source;                /* the caller's numbering, per domain */
        bool valid;                     /* false: the domain is live, this source said nothing */
        uint64_t ops, bytes;
} closer_xen_io_reading;

typedef struct closer_xen_io_source {
        int domid;
        uint64_t source;
        uint64_t last_ops, last_bytes;  /* its raw counters at its last read */
        uint64_t ops, bytes;            /* what it adds to its domain's counter */
} closer_xen_io_source;

typedef struct closer_xen_io_sum {
        closer_xen_io_source *v;
        unsigned n, cap;
} closer_xen_io_sum;

/* Take one read's readings (any order, a domain's sources together or not)
 * and give one row per domain read, sorted by domid, in *ret (malloc'd,
 * NULL when none). 0 or -ENOMEM (the sum is then as before). */
int closer_xen_io_sum_update(closer_xen_io_sum *s, const closer_xen_io_reading *r, unsigned n_r,
                             closer_hv_io **ret, unsigned *ret_n);
void closer_xen_io_sum_free(closer_xen_io_sum *s);
