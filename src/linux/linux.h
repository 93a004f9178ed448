/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The Linux adapter's pieces; each reads and writes through one closer_root. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/root.h"
#include "closer/cpuset.h"
#include "closer/error.h"
#include "closer/hostos.h"
#include "closer/snapshot.h"

/* ---- proc.c: threads ---------------------------------------------------- */

#define CLOSER_PF_KTHREAD 0x00200000u   /* include/linux/sched.h */

typedef struct closer_proc_stat {
        int pid;
        char comm[CLOSER_NAME_MAX];
        char state;
        int ppid;
        unsigned flags;
        uint64_t utime_ticks, stime_ticks;
        uint64_t start_time_ticks;
        unsigned num_threads;           /* field 20; 0 if unknown */
        int processor;
} closer_proc_stat;

/* Parse one /proc/PID/stat line (comm may hold spaces and ')'). Returns 0 or
 * -EINVAL on anything malformed or out of range; *ret untouched on failure. */
int closer_proc_parse_stat(const char *text, closer_proc_stat *ret);

/* Split a /proc/PID/cmdline buffer (NUL-separated, maybe without the final
 * NUL, maybe rewritten by setproctitle) into a malloc'd argv. At most
 * max_args entries. Returns 0 or -ENOMEM. */
int closer_proc_split_cmdline(const char *buf, size_t len, unsigned max_args, char ***ret, unsigned *ret_n);

/* Every thread of every process under root/proc. Threads that vanish while
 * being read are skipped and counted in *ret_vanished. Returns 0 or -errno
 * (only when /proc itself cannot be read, or ENOMEM). */
int closer_proc_read_threads(const closer_root *root, closer_thread **ret, unsigned *ret_n, unsigned *ret_vanished);
/* Pieces shared by the one-shot scan above and the cached one below. */
typedef struct closer_thread_vec {
        closer_thread *t;
        unsigned n, cap;
} closer_thread_vec;
int closer_proc_parse_pid(const char *name, int *ret);
uint64_t closer_proc_ns_per_tick(void);
void closer_proc_free_argv(char **a, unsigned n);
/* What is read of a process only when its argv0 is `xl` (the rules look
 * for xl's domain monitor): its real uid and where its fd 1 points. */
typedef struct closer_proc_owner {
        bool has_uid;
        uint32_t uid;
        char *stdout_path;              /* malloc'd, NULL unknown */
} closer_proc_owner;
/* The real uid on the "Uid:" line of a /proc/PID/status text. 0 or -EINVAL. */
int closer_proc_parse_uid(const char *status, uint32_t *ret);
/* Fill *ret for the process whose /proc/PID directory is pidfd, if it is
 * xl (comm "xl" and argv0 .../xl; else leave it empty): status and readlink
 * fd/1, each skipped when it cannot be read (EACCES for fd/1 without
 * CAP_SYS_PTRACE, a process gone). 0 or -ENOMEM. Free with
 * closer_proc_owner_done(). */
int closer_proc_read_owner(int pidfd, const char *comm, char **argv, unsigned argc, closer_proc_owner *ret);
void closer_proc_owner_done(closer_proc_owner *o);
/* Append the thread whose stat is st (of process pid, argv its cmdline and
 * own what closer_proc_read_owner() found, both copied; own may be NULL) to
 * v. comm_path (relative to dirfd) is read only when stat's comm is
 * escaped. Returns 0 or -ENOMEM. */
int closer_proc_add_thread(closer_thread_vec *v, int pid, const closer_proc_stat *st, int dirfd, const char *comm_path,
                           char **argv, unsigned argc, const closer_proc_owner *own, uint64_t ns_per_tick);

/* ---- proc-cache.c: threads, tick after tick ------------------------------
 * The same answer as closer_proc_read_threads, for a caller that asks again
 * and again (closerd, every tick): it keeps each thread's stat file open
 * and re-reads it with one pread, and lists a process's task/ directory
 * again only when its thread count changed or a thread's read failed. On
 * /proc a kept fd never reads another process after its own is gone (the
 * read fails with ESRCH), so reused pids and tids are seen as new. Open
 * files are bounded by RLIMIT_NOFILE: past the budget, files are opened
 * per read as before. */
typedef struct closer_proc_cache closer_proc_cache;
int closer_proc_cache_new(const closer_root *root, closer_proc_cache **ret);
closer_proc_cache *closer_proc_cache_free(closer_proc_cache *c);
int closer_proc_cache_read_threads(closer_proc_cache *c, closer_thread **ret, unsigned *ret_n, unsigned *ret_vanished);
/* Exec reports (closer_hostos_ops.exec_seen's pid): while execs are
 * tracked, a process's command line is read when it is first seen and
 * again only after it exec'd (or its comm changed), not every time. */
void closer_proc_cache_exec_seen(closer_proc_cache *c, int pid);
/* Files the cache holds open now (for tests and benchmarks). */
unsigned closer_proc_cache_open_files(const closer_proc_cache *c);

/* The CPUs thread tid of process pid may run on, from the
 * Cpus_allowed_list line of root/proc/PID/task/TID/status: through the root,
 * so it works on captured trees too. -ENOENT if gone or not there. */
int closer_proc_read_allowed(const closer_root *root, int pid, int tid, closer_cpuset *ret);
/* Process pid as its main thread (comm, stat, cmdline), for a look at one
 * process without a scan. Returns 0 and a malloc'd thread (free with
 * closer_hostos_threads_free(t, 1)), -ESRCH when gone, or -errno. */
int closer_proc_read_process(const closer_root *root, int pid, closer_thread **ret);
/* start_time (clock ticks since boot) of thread tid, from root/proc/TID/stat:
 * tells a thread from a later one that reuses its tid. -ESRCH if gone. */
int closer_proc_start_time(const closer_root *root, int tid, uint64_t *ret);

/* ---- irq.c: interrupts -------------------------------------------------- */

/* Parse /proc/interrupts text: any number of CPU columns (the header names
 * them: "CPU0 CPU2" when CPU1 is offline), Xen chip names, IRQs with no name;
 * per_cpu_counts is indexed by CPU number. Summary lines (NMI:, LOC:, ERR:)
 * are skipped. Returns 0, or -EINVAL with *ret_line (1-based) and err. */
int closer_irq_parse_interrupts(const char *text, closer_irq **ret, unsigned *ret_n, unsigned *ret_line,
                                closer_error *err);
int closer_irq_read(const closer_root *root, closer_irq **ret, unsigned *ret_n, closer_error *err);
/* /proc/irq/N/smp_affinity_list (effective: effective_affinity_list). */
int closer_irq_read_affinity(const closer_root *root, unsigned irq, bool effective, closer_cpuset *ret);

/* ---- backend.c: backend I/O counters ----------------------------------- */

/* A /sys/bus/xen-backend/devices entry: "<type>-<domid>-<devid>", both
 * numbers strict decimals (no sign, space or trailing junk), domid a domU
 * (1..CLOSER_DOMID_MAX, no leading zero) and devid 0..INT32_MAX. Returns 0, the type
 * (cut to type_len - 1: a longer one is -EINVAL), *ret_domid and *ret_devid,
 * or -EINVAL. */
#define CLOSER_BACKEND_TYPE_MAX 16u     /* "vbd", "vif", "qdisk", "console"...: room for one */
int closer_backend_parse_name(const char *name, char *type, size_t type_len, int *ret_domid, int *ret_devid);

/* One row per kernel backend device (closer_backend_io): the counters of
 * /sys/bus/xen-backend/devices/vbd-D-N/statistics, and of vif-D-N's net
 * device vifD.N's statistics, sorted by domid, kind, devid. Other backends
 * (qdisk, console) have no row; a device one of whose counters cannot be
 * read or parsed (it just went away, its net device is not there yet) has
 * one, not valid. Returns 0 or -errno (ENOMEM; no xen-backend directory is
 * an empty result). */
int closer_backend_read_io(const closer_root *root, closer_backend_io **ret, unsigned *ret_n);
/* Sum such rows (sorted by domid) into one per domain, in place, for a
 * display (`closerctl scan`): devid -1, valid when all its devices were;
 * kind is its first device's. Not for taking differences: a sum drops when
 * one device cannot be read. */
void closer_backend_io_by_domain(closer_backend_io *v, unsigned *n);

/* ---- cgroup.c: the cgroup v2 tree --------------------------------------- */

/* Find the cgroup2 mount point in root/proc/self/mountinfo. Returns 0 and the
 * absolute mount path; -EMEDIUMTYPE with err "cgroup v2 is required ..." when
 * only cgroup v1 is mounted; -ENOENT when no cgroup is mounted. */
int closer_cgroup_find_mount(const closer_root *root, char *ret, size_t len, closer_error *err);
/* Enable controllers ("cpuset cpu") in cgroup.subtree_control of the mount
 * root and of each level down to base (created if missing). */
int closer_cgroup_enable(const closer_root *root, const char *mount, const char *base, const char *controllers);
/* Create node<N> (domid < 0) or node<N>/vm<domid> under base and write its
 * cpuset.cpus / cpuset.mems (never an empty cpus). */
int closer_cgroup_make_leaf(const closer_root *root, const char *mount, const char *base, int node, int domid,
                            const closer_cpuset *cpus, const closer_cpuset *mems);
/* Move a process (cgroup.procs) or, with thread, one thread (cgroup.threads:
 * threaded subtrees only) into node<N>/vm<domid>. */
int closer_cgroup_move(const closer_root *root, const char *mount, const char *base, int node, int domid, int id,
                       bool thread);
/* The cgroup v2 path of pid ("0::/path" in /proc/PID/cgroup), to put it back. */
int closer_cgroup_of_pid(const closer_root *root, int pid, char *ret, size_t len);

/* ---- affinity.c: thread and IRQ placement ------------------------------- */

/* Set and read only: the value found before a change is the caller's to
 * record (closerd's state file), so there is one "restore as found". */
int closer_affinity_get_thread(const closer_root *root, int tid, closer_cpuset *ret);
/* sched_setaffinity: -EOPNOTSUPP unless the root is the real "/" (the
 * syscall cannot go through a root); -EINVAL for an empty set. */
int closer_affinity_set_thread(const closer_root *root, int tid, const closer_cpuset *cpus);
int closer_affinity_get_irq(const closer_root *root, unsigned irq, closer_cpuset *ret);
/* /proc/irq/N/smp_affinity_list through the root; -EINVAL for an empty set,
 * -ENOENT for an IRQ that is not there. */
int closer_affinity_set_irq(const closer_root *root, unsigned irq, const closer_cpuset *cpus);


/* ---- systemd.c: systemd's units over sd-bus -------------------------------
 * Each returns 0 or -errno, with err naming the unit and the call. */
typedef struct sd_bus sd_bus;
/* PID 1's private bus, else the system bus. */
int closer_systemd_open(sd_bus **ret, closer_error *err);
/* A unit's AllowedCPUs=; -ENOENT when it is not loaded. */
int closer_systemd_get_cpus(sd_bus *bus, const char *unit, closer_cpuset *ret, closer_error *err);
/* SetUnitProperties(unit, runtime, AllowedCPUs= [, AllowedMemoryNodes=]);
 * empty cpus: reset; NULL or empty mems: not set. */
int closer_systemd_set_cpus(sd_bus *bus, const char *unit, const closer_cpuset *cpus, const closer_cpuset *mems,
                            closer_error *err);
/* StartTransientUnit of scope (in slice, Delegate=yes so that processes can
 * be added later) holding pid, on cpus (and mems, when not empty); -EEXIST
 * when it exists, -ESRCH when pid is gone. */
int closer_systemd_start_scope(sd_bus *bus, const char *scope, const char *slice, int pid, const closer_cpuset *cpus,
                               const closer_cpuset *mems, closer_error *err);
/* AttachProcessesToUnit(scope, "", [pid]). */
int closer_systemd_attach(sd_bus *bus, const char *scope, int pid, closer_error *err);
/* StopUnit(unit, "replace"): 0 also when it is not loaded. */
int closer_systemd_stop(sd_bus *bus, const char *unit, closer_error *err);
