/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "closer/hostos.h"
#include "closer/hypervisor.h"

/*
 * A modelled Xen host for closerd's `--hypervisor sim` mode and its tests:
 * the embedded default on a machine without Xen. It implements both op
 * tables (hypervisor and host OS) over one in-memory host: NUMA topology,
 * dom0 with one pinned vCPU per pCPU, domUs with vCPUs and memory on nodes,
 * the dom0 threads and event-channel IRQs a Xen 4.17 dom0 shows for them
 * (blkback `<D>.xvda-<q>`, netback `vif<D>.0-q<q>-guest-rx|dealloc`,
 * `vif<D>.0-q<q>-tx|rx`), I/O counters that grow at each domain's rate,
 * and balloons that follow their target (or not, to model a broken guest).
 *
 * It is a model of the host's *interfaces*, in virtual time given by the
 * caller; the performance model of the thesis' experiments is closer-sim's
 * engine (src/sim), not this.
 */

typedef struct closer_simhost closer_simhost;

/* nodes x cpus_per_node pCPUs, mem_gib_per_node GiB each, dom0 with one
 * vCPU pinned per pCPU and dom0_mem_mib. Returns NULL on ENOMEM. */
closer_simhost *closer_simhost_new(unsigned nodes, unsigned cpus_per_node, unsigned mem_gib_per_node,
                                   unsigned dom0_mem_mib);
closer_simhost *closer_simhost_free(closer_simhost *h);

/* Add a domU: vCPUs on the given pCPUs, memory on node mem_node, I/O rate,
 * number of queues. The domain appears at the next read and raises the
 * event fd. Returns 0, -EEXIST (domid taken), -EINVAL (bad pCPU / node) or
 * -ENOMEM. */
int closer_simhost_add_domain(closer_simhost *h, int domid, const char *name, uint64_t mem_kib, int mem_node,
                              unsigned n_vcpus, const int *pcpus, double io_ops_per_s, unsigned queues);
int closer_simhost_remove_domain(closer_simhost *h, int domid);
/* Start the domain's QEMU device model (qdisk backend): a user process with
 * `-xen-domid D` and 3 threads. Returns its pid or -errno. */
int closer_simhost_add_qemu(closer_simhost *h, int domid);
/* A process's cgroup v2 path, and how many containers exist (tests). */
int closer_simhost_cgroup(const closer_simhost *h, int pid, char *ret, size_t len);
unsigned closer_simhost_n_leaves(const closer_simhost *h);
/* Move vCPU v of domid to pcpu (the hypervisor's scheduler moving it). */
int closer_simhost_move_vcpu(closer_simhost *h, int domid, unsigned vcpu, int pcpu);
int closer_simhost_set_io(closer_simhost *h, int domid, double io_ops_per_s);
/* The toolstack setting a balloon target (`xl mem-set`): a domain's max
 * (mem_kib) is usually its memory plus libxl's 1 MiB of slack. */
int closer_simhost_set_target(closer_simhost *h, int domid, uint64_t target_kib);
/* A guest whose balloon driver ignores its target. */
int closer_simhost_set_balloon_broken(closer_simhost *h, int domid, bool broken);
/* Its balloon target not written yet (get_mem_target: -ESRCH), as for a
 * domain the toolstack is still building or restoring. */
int closer_simhost_set_target_unwritten(closer_simhost *h, int domid, bool unwritten);
/* Put pct % of the domain's memory on node (another node than its own):
 * a VM whose memory spans nodes. 0, -ENOENT or -EINVAL. */
int closer_simhost_spread_memory(closer_simhost *h, int domid, int node, unsigned pct);
/* How many host reads asked for the exact per-node memory count (Xen's
 * 'u' debug key on a real host). */
unsigned closer_simhost_exact_numa_reads(const closer_simhost *h);
/* Start an `xl save <name>` with its libxl-save-helper child. */
int closer_simhost_start_save(closer_simhost *h, int domid);
/* Advance virtual time: counters grow, balloons move toward targets. */
void closer_simhost_advance(closer_simhost *h, uint64_t dt_ns);

/* Inspection, for tests and for `closerctl` in sim mode. */
int closer_simhost_thread_affinity(const closer_simhost *h, int tid, closer_cpuset *ret);
int closer_simhost_irq_affinity(const closer_simhost *h, unsigned irq, closer_cpuset *ret);
int closer_simhost_mem(const closer_simhost *h, int domid, uint64_t *ret_target_kib, uint64_t *ret_actual_kib);
/* The scheduler cap of a domain (% of a pCPU, 0 = none). */
int closer_simhost_cap(const closer_simhost *h, int domid, unsigned *ret_cap_pct);
/* A thread's tid by comm (first match), -1 if none. */
int closer_simhost_find_thread(const closer_simhost *h, const char *comm);

/* The two op tables over the same host (the host stays owned by the
 * caller: freeing the wrappers does not free it). */
int closer_simhost_hypervisor(closer_simhost *h, closer_hypervisor **ret);
int closer_simhost_hostos(closer_simhost *h, closer_hostos **ret);

/* The embedded default host: the thesis' reference host (§4.2.1: 56 pCPUs
 * as 4 sockets x 14, 40 GB) with a dozen domUs of mixed I/O. */
closer_simhost *closer_simhost_new_reference(void);
