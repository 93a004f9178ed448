/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "closer/cpuset.h"
#include "closer/error.h"
#include "closer/snapshot.h"

/*
 * The privileged-OS adapter behind a small op table (the libvirt cgroup
 * backend way): Linux (src/linux) reads and writes the real host through one
 * root; the modelled host of src/simhost provides another. All ops return 0
 * or -errno; sort failures with closer_err_kind_of(). The helpers below the
 * table (src/basic/adapter.c) work for any adapter.
 *
 * An adapter remembers nothing of what it changed: putting the host back
 * as found is the caller's, which reads the value (get_*, cgroup_of)
 * before it changes it. closerd writes it to its state file first, the one
 * record that survives its own restarts (src/daemon/state.c).
 */

typedef enum closer_err_kind {
        CLOSER_ERR_NONE = 0,
        CLOSER_ERR_TRANSIENT,   /* EBUSY, EAGAIN, EINTR: retry at the next tick */
        CLOSER_ERR_PERMANENT,   /* ESRCH, EINVAL, ENOENT, EIO on that object: stop touching it, keep going */
        CLOSER_ERR_FATAL,       /* anything else (EPERM, ENOMEM, EOPNOTSUPP...): the caller's problem */
} closer_err_kind;

/* How to treat a -errno from an act op (irqbalance's activate.c sorting). */
closer_err_kind closer_err_kind_of(int r);
const char *closer_err_kind_to_string(closer_err_kind k);

typedef enum closer_backend_kind {
        CLOSER_BACKEND_VBD,             /* blkback: /sys/bus/xen-backend/devices/vbd-D-N */
        CLOSER_BACKEND_VIF,             /* netback: vif-D-N, net device vifD.N */
} closer_backend_kind;

/* dom0's backend I/O counters of one device of a domain (kind, devid: the
 * N of vbd-D-N / vif-D-N), cumulative since it connected (the caller takes
 * differences, per device: a sum over a domain's devices drops when one of
 * them cannot be read and jumps back up when it can, a burst of I/O that
 * never happened). A vbd has block counters, a vif net counters, the other
 * two are 0. valid is false when a counter of the device could not be read
 * or parsed (it went away, or is not there yet, while being read): the
 * counters read are there, the others 0, and they are not the device's
 * totals. */
typedef struct closer_backend_io {
        int domid;
        closer_backend_kind kind;
        int devid;
        bool valid;
        uint64_t block_ops;             /* blkback rd_req + wr_req */
        uint64_t block_bytes;           /* blkback (rd_sect + wr_sect) x 512 */
        uint64_t net_packets;           /* netback vif rx + tx packets */
        uint64_t net_bytes;             /* netback vif rx + tx bytes */
} closer_backend_io;

#define CLOSER_EXECS_TRACKED 0
#define CLOSER_EXECS_LOST (-1)
#define CLOSER_EXECS_UNTRACKED (-2)

typedef struct closer_hostos_ops {
        const char *name;

        /* Sense (mandatory). Threads and IRQs are malloc'd arrays in the
         * snapshot's ownership layout (free with closer_hostos_threads_free /
         * closer_hostos_irqs_free). *ret_vanished counts threads that went
         * away while being read: normal, not an error. */
        int (*read_threads)(void *data, closer_thread **ret, unsigned *ret_n, unsigned *ret_vanished);
        int (*read_irqs)(void *data, closer_irq **ret, unsigned *ret_n);
        int (*get_thread_affinity)(void *data, int tid, closer_cpuset *ret);
        int (*get_irq_affinity)(void *data, unsigned irq, closer_cpuset *ret);

        /* Act (mandatory). An empty set is refused (-EINVAL) before
         * anything is touched. */
        int (*set_thread_affinity)(void *data, int tid, const closer_cpuset *cpus);
        int (*set_irq_affinity)(void *data, unsigned irq, const closer_cpuset *cpus);

        /* Containers (optional: NULL when the host has none). Leaf
         * "node<N>/vm<domid>" (domid < 0: the node's own level) with its
         * cpuset; -EMEDIUMTYPE when only cgroup v1 is mounted. cgroup_move
         * moves a whole process (-ESRCH: no such process). */
        int (*cgroup_leaf)(void *data, int node, int domid, const closer_cpuset *cpus, const closer_cpuset *mems);
        int (*cgroup_move)(void *data, int node, int domid, int pid);
        /* Where a process is now, as a cgroup v2 path ("/system.slice/x.service"),
         * and moving it to one: what closerd records before cgroup_move and
         * uses to put it back, across its own restarts (optional; without
         * them closerd does not move processes). -ESRCH: no such process. */
        int (*cgroup_of)(void *data, int pid, char *ret, size_t len);
        int (*cgroup_move_to)(void *data, int pid, const char *path);
        /* Remove a leaf (domid < 0: the node level) once it is empty:
         * 0 (also when it is not there), -EBUSY while processes remain. */
        int (*cgroup_remove)(void *data, int node, int domid);
        /* Remove every node<N>/vm<D> and node<N> under closer's subtree,
         * also those a previous (crashed) run made: 0, or -EBUSY when some
         * still hold processes (they stay). */
        int (*cgroup_clear)(void *data);

        /* Exec notifications (optional). A process's command line changes
         * only when it execs: while the caller reports every exec, the
         * adapter may keep command lines between reads instead of reading
         * each again every time. pid > 0: that process exec'd;
         * CLOSER_EXECS_TRACKED: from now on every exec is reported;
         * CLOSER_EXECS_LOST: some were missed (read everything again);
         * CLOSER_EXECS_UNTRACKED: no more reports (read every time). */
        void (*exec_seen)(void *data, int pid);

        /* dom0's kernel backends' I/O counters (blkback, netback), one row
         * per device, sorted by domid, kind, devid (optional: NULL when the
         * host has no such backends). The Xen adapter reads them through
         * this op, from the host-OS adapter closerd attaches to it, and
         * follows each device's counters on its own. *ret is malloc'd
         * (free()). */
        int (*read_backend_io)(void *data, closer_backend_io **ret, unsigned *ret_n);

        /* systemd's units (optional: NULL unless closerd uses them, see
         * closer_linux_hostos_use_systemd). A unit's AllowedCPUs= (empty:
         * none set, every CPU); -ENOENT when no such unit is loaded. Setting
         * an empty set resets it (AllowedCPUs= with nothing). err: one line
         * naming the unit and the call that failed. */
        int (*unit_get_cpus)(void *data, const char *unit, closer_cpuset *ret, closer_error *err);
        int (*unit_set_cpus)(void *data, const char *unit, const closer_cpuset *cpus, closer_error *err);
        /* A failure the adapter worked around by doing what it does
         * without systemd (a bus call of cgroup_move, cgroup_leaf or
         * cgroup_clear): 1 with *ret the first time, then 0 (optional). */
        int (*take_message)(void *data, closer_error *ret);

        void (*free)(void *data);
} closer_hostos_ops;

typedef struct closer_hostos {
        const closer_hostos_ops *ops;
        void *data;
} closer_hostos;

/* Frees through ops->free; accepts NULL; returns NULL. */
closer_hostos *closer_hostos_free(closer_hostos *h);

/* Free arrays returned by read_threads / read_irqs (each thread's cmdline
 * strings, the cmdline array, then the array; each IRQ's counts). */
void closer_hostos_threads_free(closer_thread *t, unsigned n);
void closer_hostos_irqs_free(closer_irq *irqs, unsigned n);

/*
 * The Linux implementation. `root` is the host root ("/" or a fixture tree);
 * `cgroup_base` the subtree closer owns under the cgroup2 mount ("closer" if
 * NULL). The cgroup2 mount is looked up lazily (first cgroup op), so reading
 * threads works on a cgroup v1 host. Returns 0 and *ret, or -errno with err.
 */
int closer_linux_hostos_new(const char *root, const char *cgroup_base, closer_hostos **ret, closer_error *err);

/*
 * Under systemd: from now on h (a Linux adapter) also uses systemd's units,
 * over PID 1's private bus (/run/systemd/private, the way systemctl does as
 * root), else the system bus. unit_get_cpus/unit_set_cpus work; a whole
 * process cgroup_move moves goes into a transient scope of its own per
 * container, closer-node<N>-vm<domid>.scope in closer.slice (kernel threads
 * still go into node<N>/vm<domid> under the cgroup root: systemd assumes
 * they live in the root cgroup only and cannot stop them); cgroup_leaf also
 * gives that scope the leaf's CPUs, cgroup_clear stops the empty ones.
 * 0, or -errno with err (no bus: h stays as it was).
 */
int closer_linux_hostos_use_systemd(closer_hostos *h, closer_error *err);
