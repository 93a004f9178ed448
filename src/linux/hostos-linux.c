/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Linux implementation of the host-OS op table (closer/hostos.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "basic/fd-util.h"
#include "basic/macro.h"
#include "closer/units.h"
#include "linux/linux.h"

typedef struct linux_host {
        closer_root *root;
        char cgroup_base[256];
        char cgroup_mount[4096];        /* "" until first needed */
        closer_proc_cache *threads;     /* kept open between reads; NULL until the first */
        bool execs_tracked;             /* exec_seen(CLOSER_EXECS_TRACKED) came */
        sd_bus *bus;                    /* systemd's units: closer_linux_hostos_use_systemd() */
        closer_error note;              /* a bus failure worked around, for take_message */
        bool have_note, noted;          /* one is there; one was taken (said once) */
} linux_host;

static int op_read_threads(void *data, closer_thread **ret, unsigned *ret_n, unsigned *ret_vanished) {
        linux_host *h = data;
        /* read every tick: through the cache of open stat files */
        if (!h->threads) {
                if (closer_proc_cache_new(h->root, &h->threads) < 0)
                        return closer_proc_read_threads(h->root, ret, ret_n, ret_vanished);
                if (h->execs_tracked)
                        closer_proc_cache_exec_seen(h->threads, CLOSER_EXECS_TRACKED);
        }
        return closer_proc_cache_read_threads(h->threads, ret, ret_n, ret_vanished);
}

static void op_exec_seen(void *data, int pid) {
        linux_host *h = data;
        if (pid == CLOSER_EXECS_TRACKED || pid == CLOSER_EXECS_UNTRACKED)
                h->execs_tracked = pid == CLOSER_EXECS_TRACKED;
        if (h->threads)
                closer_proc_cache_exec_seen(h->threads, pid);
}

static int op_read_irqs(void *data, closer_irq **ret, unsigned *ret_n) {
        linux_host *h = data;
        return closer_irq_read(h->root, ret, ret_n, NULL);
}

static int op_get_thread_affinity(void *data, int tid, closer_cpuset *ret) {
        linux_host *h = data;
        return closer_affinity_get_thread(h->root, tid, ret);
}

static int op_get_irq_affinity(void *data, unsigned irq, closer_cpuset *ret) {
        linux_host *h = data;
        return closer_affinity_get_irq(h->root, irq, ret);
}

static int op_set_thread_affinity(void *data, int tid, const closer_cpuset *cpus) {
        linux_host *h = data;
        return closer_affinity_set_thread(h->root, tid, cpus);
}

static int op_set_irq_affinity(void *data, unsigned irq, const closer_cpuset *cpus) {
        linux_host *h = data;
        return closer_affinity_set_irq(h->root, irq, cpus);
}

static int ensure_mount(linux_host *h) {
        if (h->cgroup_mount[0])
                return 0;
        return closer_cgroup_find_mount(h->root, h->cgroup_mount, sizeof(h->cgroup_mount), NULL);
}

static int cgroup_leaf(linux_host *h, int node, int domid, const closer_cpuset *cpus, const closer_cpuset *mems) {
        int r = closer_cgroup_enable(h->root, h->cgroup_mount, h->cgroup_base, "cpuset");
        if (r < 0)
                return r;
        if (domid >= 0) {
                /* the leaf's controllers come from its node's subtree_control */
                char node_rel[300];
                snprintf(node_rel, sizeof(node_rel), "%s%snode%d", h->cgroup_base, h->cgroup_base[0] ? "/" : "", node);
                r = closer_cgroup_enable(h->root, h->cgroup_mount, node_rel, "cpuset");
                if (r < 0)
                        return r;
        }
        return closer_cgroup_make_leaf(h->root, h->cgroup_mount, h->cgroup_base, node, domid, cpus, mems);
}

static int op_cgroup_leaf(void *data, int node, int domid, const closer_cpuset *cpus, const closer_cpuset *mems) {
        linux_host *h = data;
        int r = ensure_mount(h);
        if (r < 0)
                return r;
        /* what it makes is removed by cgroup_clear (closer's subtree,
         * whoever made it), not remembered here */
        return cgroup_leaf(h, node, domid, cpus, mems);
}

static int op_read_backend_io(void *data, closer_backend_io **ret, unsigned *ret_n) {
        linux_host *h = data;
        return closer_backend_read_io(h->root, ret, ret_n);
}

static int op_cgroup_move(void *data, int node, int domid, int pid) {
        linux_host *h = data;
        char found[1024];
        int r = ensure_mount(h);
        if (r < 0)
                return r;
        /* where it is now is the caller's to record (cgroup_of); asked here
         * too so that a process gone, or on no cgroup v2, is -ESRCH before
         * anything is written (a fixture's cgroup.procs takes any pid) */
        r = closer_cgroup_of_pid(h->root, pid, found, sizeof(found));
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        return closer_cgroup_move(h->root, h->cgroup_mount, h->cgroup_base, node, domid, pid, false);
}

static int op_cgroup_of(void *data, int pid, char *ret, size_t len) {
        linux_host *h = data;
        int r = closer_cgroup_of_pid(h->root, pid, ret, len);
        return r == -ENOENT ? -ESRCH : r;
}

/* A cgroup path as /proc/PID/cgroup prints it: absolute, no "." or ".."
 * component (it comes from our own state file, but a path is a path). */
static bool cgroup_path_ok(const char *path) {
        if (path[0] != '/' || strlen(path) >= 4096)
                return false;
        for (const char *c = path; *c;) {
                while (*c == '/')
                        c++;
                size_t n = strcspn(c, "/");
                if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                c += n;
        }
        return true;
}

static int op_cgroup_move_to(void *data, int pid, const char *path) {
        linux_host *h = data;
        char file[4096 + 1024 + 32], text[24];
        if (pid <= 0 || !cgroup_path_ok(path))
                return -EINVAL;
        int r = ensure_mount(h);
        if (r < 0)
                return r;
        snprintf(file, sizeof(file), "%s%s/cgroup.procs", h->cgroup_mount, strcmp(path, "/") == 0 ? "" : path);
        snprintf(text, sizeof(text), "%d", pid);
        return closer_write_file_at(h->root->fd, file, text);
}

static int op_cgroup_remove(void *data, int node, int domid) {
        linux_host *h = data;
        char rel[4096 + 400];
        if (node < 0)
                return -EINVAL;
        int r = ensure_mount(h);
        if (r < 0)
                return r;
        if (domid >= 0)
                snprintf(rel, sizeof(rel), "%s/%s%snode%d/vm%d", h->cgroup_mount, h->cgroup_base,
                         h->cgroup_base[0] ? "/" : "", node, domid);
        else
                snprintf(rel, sizeof(rel), "%s/%s%snode%d", h->cgroup_mount, h->cgroup_base,
                         h->cgroup_base[0] ? "/" : "", node);
        if (unlinkat(h->root->fd, closer_root_rel(rel), AT_REMOVEDIR) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 0;
}

/* rmdir every child directory of dirfd named prefix<number> (after its own
 * children, with recurse); the first error other than "gone" wins. */
static int remove_numbered(int dirfd, const char *prefix, bool recurse) {
        int dfd = dup(dirfd);
        if (dfd < 0)
                return -errno;
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return -errno;
        }
        int first = 0;
        size_t plen = strlen(prefix);
        for (struct dirent *de; (de = readdir(d));) {
                if (strncmp(de->d_name, prefix, plen) != 0 || !de->d_name[plen] ||
                    strspn(de->d_name + plen, "0123456789") != strlen(de->d_name + plen))
                        continue;
                if (recurse) {
                        int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (sub >= 0) {
                                int r = remove_numbered(sub, "vm", false);
                                close(sub);
                                RET_GATHER(first, r);
                        }
                }
                if (unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        RET_GATHER(first, -errno);
        }
        closedir(d);
        return first;
}

static int op_cgroup_clear(void *data) {
        linux_host *h = data;
        char rel[4096 + 300];
        int r = ensure_mount(h);
        if (r < 0)
                return r;
        snprintf(rel, sizeof(rel), "%s/%s", h->cgroup_mount, h->cgroup_base);
        int fd = openat(h->root->fd, closer_root_rel(rel), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        r = remove_numbered(fd, "node", true);
        close(fd);
        /* and the base itself (closer's own), when nothing is left in it:
         * after a restart, the run that made it is gone */
        if (r == 0 && unlinkat(h->root->fd, closer_root_rel(rel), AT_REMOVEDIR) < 0 && errno != ENOENT &&
            errno != EBUSY && errno != ENOTEMPTY)
                r = -errno;
        return r;
}

/* ---- under systemd -------------------------------------------------------- */

static void note(linux_host *h, const closer_error *e) {
        if (h->have_note || h->noted)
                return;
        h->note = *e;
        h->have_note = true;
}

static int op_take_message(void *data, closer_error *ret) {
        linux_host *h = data;
        if (!h->have_note)
                return 0;
        *ret = h->note;
        h->have_note = false;
        h->noted = true;
        return 1;
}

/* After a call failed because the connection is gone, a new one: PID 1
 * closes every bus connection when it re-executes itself (`systemctl
 * daemon-reexec`, which a systemd package upgrade runs), and without one
 * closerd could not put the units back at stop. True when the caller may
 * try its call once more. */
static bool reconnected(linux_host *h, int r) {
        if (r != -ENOTCONN && r != -ECONNRESET && r != -EPIPE && r != -ESHUTDOWN)
                return false;
        sd_bus *bus = NULL;
        closer_error e = {{0}};
        if (closer_systemd_open(&bus, &e) < 0)
                return false;
        sd_bus_flush_close_unref(h->bus);
        h->bus = bus;
        return true;
}

static int op_unit_get_cpus(void *data, const char *unit, closer_cpuset *ret, closer_error *err) {
        linux_host *h = data;
        int r = closer_systemd_get_cpus(h->bus, unit, ret, err);
        if (reconnected(h, r))
                r = closer_systemd_get_cpus(h->bus, unit, ret, err);
        return r;
}

static int op_unit_set_cpus(void *data, const char *unit, const closer_cpuset *cpus, closer_error *err) {
        linux_host *h = data;
        int r = closer_systemd_set_cpus(h->bus, unit, cpus, NULL, err);
        if (reconnected(h, r))
                r = closer_systemd_set_cpus(h->bus, unit, cpus, NULL, err);
        return r;
}

/* A node's secondary container's cpuset file (cpuset.cpus, cpuset.mems)
 * as written; empty when not written. */
static int node_cpuset(linux_host *h, int node, const char *file, closer_cpuset *ret) {
        char path[4096 + 400], buf[CLOSER_CPULIST_MAX];
        snprintf(path, sizeof(path), "%s/%s%snode%d/%s", h->cgroup_mount, h->cgroup_base,
                 h->cgroup_base[0] ? "/" : "", node, file);
        int n = closer_read_small_at(h->root->fd, path, buf, sizeof(buf));
        if (n < 0)
                return n;
        return closer_cpuset_parse(buf, ret);
}

static bool is_kthread(linux_host *h, int pid) {
        char path[64], buf[1024];
        closer_proc_stat st;
        snprintf(path, sizeof(path), "proc/%d/stat", pid);
        if (closer_read_small_at(h->root->fd, path, buf, sizeof(buf)) < 0 || closer_proc_parse_stat(buf, &st) < 0)
                return false;
        return st.flags & CLOSER_PF_KTHREAD;
}

/* closer.slice, opened for reading its closer-node<N>-vm<D>.scope entries;
 * NULL when it is not there. */
static DIR *open_closer_slice(linux_host *h) {
        char dir[4096 + 64];
        snprintf(dir, sizeof(dir), "%s/" CLOSER_UNIT_SLICE, h->cgroup_mount);
        int fd = openat(h->root->fd, closer_root_rel(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (fd >= 0 && !d)
                close(fd);
        return d;
}

/* The next closer scope in closer.slice: its name, node and domain. */
static bool next_scope(DIR *d, char name[static 64], int *node, int *domid) {
        for (struct dirent *de; d && (de = readdir(d));)
                if (sscanf(de->d_name, "closer-node%d-vm%d.scope", node, domid) == 2 &&
                    closer_unit_scope_name(*node, *domid, name, 64) >= 0 && strcmp(name, de->d_name) == 0)
                        return true;
        return false;
}

/* Containers as without systemd; and a node's secondary CPUs are its VMs'
 * scopes' AllowedCPUs= (systemd would otherwise write its own value back).
 * A scope has its node's CPUs, not its leaf's: the leaf follows the VM's
 * vCPUs from pCPU to pCPU, which would cost PID 1 a property change and a
 * drop-in file each time (in the Xen lab 19 container changes in 25 ticks
 * for two domains), and on Linux before 6.2 reset every affinity in the
 * scope. The processes' threads are on their leaf's CPUs all the same:
 * closerd sets each one's affinity (the thread phase). */
static int op_cgroup_leaf_systemd(void *data, int node, int domid, const closer_cpuset *cpus,
                                  const closer_cpuset *mems) {
        linux_host *h = data;
        int r = op_cgroup_leaf(data, node, domid, cpus, mems);
        if (r < 0 || domid >= 0)
                return r;
        _cleanup_closedir_ DIR *d = open_closer_slice(h);
        char scope[64];
        int n, dom;
        while (next_scope(d, scope, &n, &dom)) {
                closer_error e = {{0}};
                if (n != node)
                        continue;
                int q = closer_systemd_set_cpus(h->bus, scope, cpus, mems, &e);
                if (reconnected(h, q))
                        q = closer_systemd_set_cpus(h->bus, scope, cpus, mems, &e);
                if (q < 0 && q != -ENOENT)      /* -ENOENT: stopped since (its last process left) */
                        note(h, &e);
        }
        return 0;
}

/* StartTransientUnit answers once the start job is queued; systemd moves
 * the process when it runs the job, on its next turn. Wait for that (at
 * most 0.5 s): the thread phase comes right after this one and sets each
 * thread's affinity within the scope's CPUs, which the kernel refuses
 * (EINVAL) while the process is still in its old cgroup's cpuset (seen in
 * the Xen lab: every thread of du2's QEMU "Invalid argument, leaving it
 * alone", then the put-back at stop refused the same way). */
static void wait_in_scope(linux_host *h, int pid, const char *scope) {
        char want[128], now[1024];
        snprintf(want, sizeof(want), "/" CLOSER_UNIT_SLICE "/%s", scope);
        for (unsigned i = 0; i < 50; i++) {
                if (closer_cgroup_of_pid(h->root, pid, now, sizeof(now)) < 0 || strcmp(now, want) == 0)
                        return;
                (void) usleep(10 * 1000);
        }
}

/* A whole process into its container's scope (made with its first
 * process, then added to); a kernel thread into the leaf under closer's
 * subtree as without systemd. When the bus fails, the leaf too. */
static int op_cgroup_move_systemd(void *data, int node, int domid, int pid) {
        linux_host *h = data;
        closer_error e = {{0}};
        closer_cpuset cpus, mems;
        char scope[64], found[1024];
        if (domid < 0 || is_kthread(h, pid) || closer_unit_scope_name(node, domid, scope, sizeof(scope)) < 0)
                return op_cgroup_move(data, node, domid, pid);
        int r = ensure_mount(h);
        if (r < 0)
                return r;
        r = closer_cgroup_of_pid(h->root, pid, found, sizeof(found));
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        if (node_cpuset(h, node, "cpuset.cpus", &cpus) < 0)
                closer_cpuset_zero(&cpus);
        if (node_cpuset(h, node, "cpuset.mems", &mems) < 0)
                closer_cpuset_zero(&mems);
        r = closer_systemd_start_scope(h->bus, scope, CLOSER_UNIT_SLICE, pid, &cpus, &mems, &e);
        if (reconnected(h, r))
                r = closer_systemd_start_scope(h->bus, scope, CLOSER_UNIT_SLICE, pid, &cpus, &mems, &e);
        if (r >= 0)
                wait_in_scope(h, pid, scope);
        else if (r == -EEXIST)
                r = closer_systemd_attach(h->bus, scope, pid, &e);
        if (r == -ESRCH || r >= 0)
                return r;
        note(h, &e);
        return op_cgroup_move(data, node, domid, pid);
}

/* Every closer-node<N>-vm<D>.scope left empty in closer.slice is stopped
 * (systemd stops an emptied scope by itself; this is for those it has not
 * yet, and those a crashed run left); one still holding processes stays,
 * -EBUSY: stopping it would kill them. Then closer's own subtree. */
static int op_cgroup_clear_systemd(void *data) {
        linux_host *h = data;
        int first = 0, node, domid;
        char name[64];
        int r = ensure_mount(h);
        if (r < 0)
                return r;
        _cleanup_closedir_ DIR *d = open_closer_slice(h);
        while (next_scope(d, name, &node, &domid)) {
                char path[320], events[512];
                snprintf(path, sizeof(path), "%s/cgroup.events", name);
                if (closer_read_small_at(dirfd(d), path, events, sizeof(events)) < 0)
                        continue;
                if (strstr(events, "populated 1")) {
                        RET_GATHER(first, -EBUSY);
                        continue;
                }
                closer_error e = {{0}};
                r = closer_systemd_stop(h->bus, name, &e);
                if (reconnected(h, r))
                        r = closer_systemd_stop(h->bus, name, &e);
                if (r < 0)
                        note(h, &e);
        }
        r = op_cgroup_clear(data);
        return first < 0 ? first : r;
}

static void op_free(void *data) {
        linux_host *h = data;
        if (!h)
                return;
        closer_proc_cache_free(h->threads);
        sd_bus_flush_close_unref(h->bus);
        closer_root_free(h->root);
        free(h);
}

/* What the adapter does the same with and without systemd's units. */
#define LINUX_OPS_COMMON                                        \
        .name = "linux",                                        \
        .read_threads = op_read_threads,                        \
        .exec_seen = op_exec_seen,                              \
        .read_irqs = op_read_irqs,                              \
        .get_thread_affinity = op_get_thread_affinity,          \
        .get_irq_affinity = op_get_irq_affinity,                \
        .set_thread_affinity = op_set_thread_affinity,          \
        .set_irq_affinity = op_set_irq_affinity,                \
        .cgroup_of = op_cgroup_of,                              \
        .cgroup_move_to = op_cgroup_move_to,                    \
        .cgroup_remove = op_cgroup_remove,                      \
        .read_backend_io = op_read_backend_io,                  \
        .free = op_free

static const closer_hostos_ops linux_ops = {
        LINUX_OPS_COMMON,
        .cgroup_leaf = op_cgroup_leaf,
        .cgroup_move = op_cgroup_move,
        .cgroup_clear = op_cgroup_clear,
};

/* closer_linux_hostos_use_systemd: the containers also systemd's */
static const closer_hostos_ops linux_systemd_ops = {
        LINUX_OPS_COMMON,
        .cgroup_leaf = op_cgroup_leaf_systemd,
        .cgroup_move = op_cgroup_move_systemd,
        .cgroup_clear = op_cgroup_clear_systemd,
        .unit_get_cpus = op_unit_get_cpus,
        .unit_set_cpus = op_unit_set_cpus,
        .take_message = op_take_message,
};

int closer_linux_hostos_use_systemd(closer_hostos *ho, closer_error *err) {
        if (!ho || (ho->ops != &linux_ops && ho->ops != &linux_systemd_ops))
                return closer_error_set(err, -EINVAL, "systemd units: not the Linux adapter");
        linux_host *h = ho->data;
        if (h->bus)
                return 0;
        int r = closer_systemd_open(&h->bus, err);
        if (r < 0)
                return r;
        ho->ops = &linux_systemd_ops;
        return 0;
}

int closer_linux_hostos_new(const char *root, const char *cgroup_base, closer_hostos **ret, closer_error *err) {
        linux_host *h = calloc(1, sizeof(*h));
        closer_hostos *ho = calloc(1, sizeof(*ho));
        int r;

        if (!h || !ho) {
                free(h);
                free(ho);
                return closer_error_set(err, -ENOMEM, "out of memory");
        }
        r = closer_root_open(root, &h->root);
        if (r < 0) {
                free(h);
                free(ho);
                return closer_error_set(err, r, "%s: cannot open root: %s", root ? root : "/", strerror(-r));
        }
        if (!cgroup_base)
                cgroup_base = "closer";
        while (*cgroup_base == '/')
                cgroup_base++;
        if (strlen(cgroup_base) >= sizeof(h->cgroup_base) || strstr(cgroup_base, "..")) {
                op_free(h);
                free(ho);
                return closer_error_set(err, -EINVAL, "cgroup base '%s': expected a relative path without '..'",
                                        cgroup_base);
        }
        snprintf(h->cgroup_base, sizeof(h->cgroup_base), "%s", cgroup_base);
        ho->ops = &linux_ops;
        ho->data = h;
        *ret = ho;
        return 0;
}
