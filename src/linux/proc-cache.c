/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dom0's threads, read tick after tick with the files kept open.
 *
 * A one-shot scan costs three syscalls per thread (open, read, close of its
 * stat) plus a directory walk per process; closerd repeats it every tick,
 * and on a Xen dom0 each syscall goes through the hypervisor. Here each
 * stat file stays open and is re-read with one pread at offset 0 (procfs
 * regenerates the text on every read from 0), a user process's cmdline
 * likewise, and a process's task/ directory is listed again only when its
 * thread count (stat field 20) differs from the threads we hold or one of
 * their reads failed.
 *
 * Identity: an open /proc/PID/... file belongs to that task for good; once
 * it exits, reads fail (ESRCH) even if the pid is reused, and the entry is
 * dropped and read afresh. A process is also checked by its start time.
 * On a plain directory tree (fixtures) nothing fails that way: an entry is
 * dropped when its pid leaves the listing, a thread when the count changes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "basic/alloc-util.h"
#include "linux/linux.h"
#include "basic/sort-util.h"

#define CMDLINE_MAX (64u * 1024u)
#define CMDLINE_ARGS_MAX 256u
#define FD_RESERVE 256u                 /* left to everything else closerd opens */

typedef struct cached_thread {
        int tid;
        int fd;                         /* its task/TID/stat, -1: read by path */
} cached_thread;

typedef struct cached_proc {
        int pid;
        uint64_t start_time;
        bool kernel;
        int dir_fd;                     /* /proc/PID (user processes), -1: none */
        int stat_fd;                    /* /proc/PID/stat, -1: read by path */
        int cmdline_fd;                 /* user processes, -1: read by path */
        char **argv;                    /* its command line as last read */
        unsigned argc;
        closer_proc_owner own;          /* xl processes: read with the command line */
        bool argv_known;                /* read, and no exec since (while execs are tracked) */
        char argv_comm[CLOSER_NAME_MAX];        /* the comm it was read with */
        cached_thread *threads;         /* a multi-threaded process's, as last listed */
        unsigned n_threads;
        bool relist;                    /* a thread read failed: list task/ again */
} cached_proc;

struct closer_proc_cache {
        int proc_fd;                    /* root/proc */
        DIR *proc_dir;
        cached_proc *procs;             /* sorted by pid */
        unsigned n_procs;
        unsigned open_files, max_open;
        uint64_t ns_per_tick;
        char *cmdbuf;
        bool execs_tracked;             /* every exec is reported: keep command lines */
        unsigned n_reads;
};

/* Even while execs are reported, every command line is read again this
 * often: an exec that kept the comm and whose report was lost without the
 * kernel saying so is then wrong for a while, not for good. */
#define ARGV_REFRESH_READS 30

static void close_fd(closer_proc_cache *c, int *fd) {
        if (*fd >= 0) {
                close(*fd);
                c->open_files--;
                *fd = -1;
        }
}

/* Count fd as kept if the budget allows: fd, else -1 (the caller closes it). */
static int keep(closer_proc_cache *c, int fd) {
        if (fd < 0 || c->open_files >= c->max_open)
                return -1;
        c->open_files++;
        return fd;
}

static void drop_threads(closer_proc_cache *c, cached_proc *p) {
        for (unsigned i = 0; i < p->n_threads; i++)
                close_fd(c, &p->threads[i].fd);
        free(p->threads);
        p->threads = NULL;
        p->n_threads = 0;
}

static void drop_proc(closer_proc_cache *c, cached_proc *p) {
        drop_threads(c, p);
        closer_proc_free_argv(p->argv, p->argc);
        p->argv = NULL;
        p->argc = 0;
        closer_proc_owner_done(&p->own);
        p->argv_known = false;
        close_fd(c, &p->dir_fd);
        close_fd(c, &p->stat_fd);
        close_fd(c, &p->cmdline_fd);
}

int closer_proc_cache_new(const closer_root *root, closer_proc_cache **ret) {
        closer_proc_cache *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->cmdbuf = malloc(CMDLINE_MAX);
        if (!c->cmdbuf) {
                free(c);
                return -ENOMEM;
        }
        int fd = closer_root_openat(root, "/proc", O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0) {
                free(c->cmdbuf);
                free(c);
                return fd;
        }
        c->proc_dir = fdopendir(fd);
        if (!c->proc_dir) {
                int r = -errno;
                close(fd);
                free(c->cmdbuf);
                free(c);
                return r;
        }
        c->proc_fd = fd;
        struct rlimit rl;
        unsigned lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ?
                (rl.rlim_cur > 1u << 30 ? 1u << 30 : (unsigned) rl.rlim_cur) : 1024u;
        c->max_open = lim > 2 * FD_RESERVE ? lim - FD_RESERVE : lim / 2;
        c->ns_per_tick = closer_proc_ns_per_tick();
        *ret = c;
        return 0;
}

closer_proc_cache *closer_proc_cache_free(closer_proc_cache *c) {
        if (!c)
                return NULL;
        for (unsigned i = 0; i < c->n_procs; i++)
                drop_proc(c, &c->procs[i]);
        free(c->procs);
        closedir(c->proc_dir);
        free(c->cmdbuf);
        free(c);
        return NULL;
}

void closer_proc_cache_exec_seen(closer_proc_cache *c, int pid) {
        if (pid == CLOSER_EXECS_TRACKED || pid == CLOSER_EXECS_UNTRACKED)
                c->execs_tracked = pid == CLOSER_EXECS_TRACKED;
        for (unsigned i = 0; i < c->n_procs; i++)
                if (pid <= 0 || c->procs[i].pid == pid)
                        c->procs[i].argv_known = false;
}

unsigned closer_proc_cache_open_files(const closer_proc_cache *c) {
        return c->open_files;
}

/* Read and parse a stat through *fd, or (no fd) by path relative to dirfd,
 * keeping the fd opened for it when the budget allows. 0, or -errno when
 * gone, torn or not want_id's. */
static int read_stat(closer_proc_cache *c, int *fd, int dirfd, const char *path, int want_id,
                     closer_proc_stat *ret) {
        char buf[1024];
        int n;
        if (*fd >= 0)
                n = closer_read_small_fd(*fd, buf, sizeof(buf));
        else {
                int nfd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
                if (nfd < 0)
                        return -errno;
                n = closer_read_small_fd(nfd, buf, sizeof(buf));
                *fd = keep(c, nfd);
                if (*fd < 0)
                        close(nfd);
        }
        if (n <= 0)
                return n < 0 ? n : -ESRCH;
        closer_proc_stat st;
        if (closer_proc_parse_stat(buf, &st) < 0 || st.pid != want_id)
                return -ESRCH;
        *ret = st;
        return 0;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

static int cmp_thread(const void *a, const void *b) {
        return cmp_int(&((const cached_thread *) a)->tid, &((const cached_thread *) b)->tid);
}

static void unwind(closer_thread_vec *v, unsigned mark) {
        for (unsigned i = mark; i < v->n; i++) {
                closer_proc_free_argv(v->t[i].cmdline, v->t[i].n_cmdline);
                free(v->t[i].stdout_path);
        }
        v->n = mark;
}

/* The threads of multi-threaded process p (pst: its stat; dfd: its /proc
 * dir): through the kept fds while the count agrees, else by listing task/
 * again (taking over the fds of threads still there). */
static int read_tasks(closer_proc_cache *c, cached_proc *p, int dfd, const closer_proc_stat *pst, char **argv,
                      unsigned argc, const closer_proc_owner *own, closer_thread_vec *v, unsigned *vanished) {
        char path[64];
        closer_proc_stat st;
        unsigned mark = v->n;
        int r;

        if (p->n_threads > 0 && p->n_threads == pst->num_threads) {
                bool ok = true;
                for (unsigned i = 0; i < p->n_threads && ok; i++) {
                        int tid = p->threads[i].tid;
                        snprintf(path, sizeof(path), "task/%d/stat", tid);
                        if (read_stat(c, &p->threads[i].fd, dfd, path, tid, &st) < 0) {
                                ok = false;
                                break;
                        }
                        snprintf(path, sizeof(path), "task/%d/comm", tid);
                        r = closer_proc_add_thread(v, p->pid, &st, dfd, path, argv, argc, own, c->ns_per_tick);
                        if (r < 0)
                                return r;
                }
                if (ok)
                        return 0;
                unwind(v, mark);        /* one went away (or came): list again */
        }

        int tfd = openat(dfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0) {
                (*vanished)++;
                drop_threads(c, p);
                return 0;
        }
        DIR *d = fdopendir(tfd);
        if (!d) {
                r = -errno;
                close(tfd);
                return r;
        }
        if (p->n_threads > 1)
                closer_qsort_safe(p->threads, p->n_threads, sizeof(*p->threads), cmp_thread);
        cached_thread *nt = NULL;
        unsigned n = 0, cap = 0;
        struct dirent *de;
        r = 0;
        while ((de = readdir(d))) {
                cached_thread t = {.fd = -1};
                if (closer_proc_parse_pid(de->d_name, &t.tid) < 0)
                        continue;
                if (!GREEDY_REALLOC(nt, cap, n + 1)) {
                        r = -ENOMEM;
                        break;
                }
                cached_thread *old = p->n_threads ?
                        bsearch(&t, p->threads, p->n_threads, sizeof(*p->threads), cmp_thread) : NULL;
                if (old) {
                        t.fd = old->fd;         /* taken over */
                        old->fd = -1;
                }
                snprintf(path, sizeof(path), "task/%d/stat", t.tid);
                if (read_stat(c, &t.fd, dfd, path, t.tid, &st) < 0) {
                        /* a kept fd of a thread that exited, its tid reused: read afresh */
                        close_fd(c, &t.fd);
                        if (read_stat(c, &t.fd, dfd, path, t.tid, &st) < 0) {
                                (*vanished)++;
                                continue;
                        }
                }
                snprintf(path, sizeof(path), "task/%d/comm", t.tid);
                r = closer_proc_add_thread(v, p->pid, &st, dfd, path, argv, argc, own, c->ns_per_tick);
                if (r < 0) {
                        close_fd(c, &t.fd);
                        break;
                }
                nt[n++] = t;
        }
        closedir(d);
        drop_threads(c, p);             /* the fds of threads no longer listed */
        p->threads = nt;
        p->n_threads = n;
        return r;
}

/* A user process: its cmdline and threads. 1: gone (drop the entry). */
static int read_user(closer_proc_cache *c, cached_proc *p, const closer_proc_stat *pst, closer_thread_vec *v,
                     unsigned *vanished) {
        int dfd = p->dir_fd, r = 0;

        if (dfd < 0) {
                char name[16];
                char buf[1024];
                closer_proc_stat st;
                snprintf(name, sizeof(name), "%d", p->pid);
                dfd = openat(c->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                /* opened by number: make sure it is the process whose stat we hold */
                if (dfd < 0 || closer_read_small_at(dfd, "stat", buf, sizeof(buf)) <= 0 ||
                    closer_proc_parse_stat(buf, &st) < 0 || st.pid != p->pid ||
                    st.start_time_ticks != p->start_time) {
                        if (dfd >= 0)
                                close(dfd);
                        (*vanished)++;
                        return 1;
                }
                p->dir_fd = keep(c, dfd);
        }

        /* The command line: kept from the last read while every exec is
         * reported to us and the comm is the same (an exec changes both). */
        if (!c->execs_tracked || !p->argv_known || strcmp(p->argv_comm, pst->comm) != 0) {
                int n;
                if (p->cmdline_fd >= 0)
                        n = closer_read_small_fd(p->cmdline_fd, c->cmdbuf, CMDLINE_MAX);
                else {
                        int fd = openat(dfd, "cmdline", O_RDONLY | O_CLOEXEC);
                        n = fd >= 0 ? closer_read_small_fd(fd, c->cmdbuf, CMDLINE_MAX) : -errno;
                        p->cmdline_fd = keep(c, fd);
                        if (p->cmdline_fd < 0 && fd >= 0)
                                close(fd);
                }
                char **argv = NULL;
                unsigned argc = 0;
                if (n > 0)
                        r = closer_proc_split_cmdline(c->cmdbuf, (size_t) n, CMDLINE_ARGS_MAX, &argv, &argc);
                if (r < 0)
                        goto out;
                /* an exec changes both the command line and what xl's
                 * monitor is: read them together */
                closer_proc_owner own;
                r = closer_proc_read_owner(dfd, pst->comm, argv, argc, &own);
                if (r < 0) {
                        closer_proc_free_argv(argv, argc);
                        goto out;
                }
                closer_proc_free_argv(p->argv, p->argc);
                closer_proc_owner_done(&p->own);
                p->argv = argv;
                p->argc = argc;
                p->own = own;
                p->argv_known = n >= 0;
                snprintf(p->argv_comm, sizeof(p->argv_comm), "%s", pst->comm);
        }
        if (pst->num_threads <= 1) {
                /* single-threaded: the process's stat is its thread's */
                drop_threads(c, p);
                r = closer_proc_add_thread(v, p->pid, pst, dfd, "comm", p->argv, p->argc, &p->own, c->ns_per_tick);
        } else
                r = read_tasks(c, p, dfd, pst, p->argv, p->argc, &p->own, v, vanished);
out:
        if (p->dir_fd < 0)
                close(dfd);
        return r;
}

/* One listed pid, p its entry (pid 0: new). 0, 1: gone (drop), or -errno. */
static int read_proc(closer_proc_cache *c, cached_proc *p, int pid, closer_thread_vec *v, unsigned *vanished) {
        char path[32];
        closer_proc_stat st;

        snprintf(path, sizeof(path), "%d/stat", pid);
        int r = read_stat(c, &p->stat_fd, c->proc_fd, path, pid, &st);
        if (p->pid && (r < 0 || st.start_time_ticks != p->start_time)) {
                /* the process we knew is gone and its pid is listed: a new one */
                drop_proc(c, p);
                *p = (cached_proc) {.dir_fd = -1, .stat_fd = -1, .cmdline_fd = -1};
                r = read_stat(c, &p->stat_fd, c->proc_fd, path, pid, &st);
        }
        if (r < 0) {
                (*vanished)++;
                return 1;
        }
        p->pid = pid;
        p->start_time = st.start_time_ticks;
        p->kernel = (st.flags & CLOSER_PF_KTHREAD) != 0;
        if (p->kernel) {
                /* kernel threads (most of a dom0's) are processes of one thread */
                snprintf(path, sizeof(path), "%d/comm", pid);
                return closer_proc_add_thread(v, pid, &st, c->proc_fd, path, NULL, 0, NULL, c->ns_per_tick);
        }
        return read_user(c, p, &st, v, vanished);
}

int closer_proc_cache_read_threads(closer_proc_cache *c, closer_thread **ret, unsigned *ret_n, unsigned *ret_vanished) {
        int *pids = NULL;
        unsigned n_pids = 0, cap = 0, vanished = 0;
        int r = 0;

        if (++c->n_reads % ARGV_REFRESH_READS == 0)
                closer_proc_cache_exec_seen(c, CLOSER_EXECS_LOST);
        rewinddir(c->proc_dir);
        struct dirent *de;
        while ((de = readdir(c->proc_dir))) {
                int pid;
                if (closer_proc_parse_pid(de->d_name, &pid) < 0)
                        continue;
                if (!GREEDY_REALLOC_MIN(pids, cap, n_pids + 1, 256)) {
                        free(pids);
                        return -ENOMEM;
                }
                pids[n_pids++] = pid;
        }
        if (n_pids > 1)
                closer_qsort_safe(pids, n_pids, sizeof(*pids), cmp_int);
        cached_proc *np = calloc(n_pids ? n_pids : 1, sizeof(*np));
        if (!np) {
                free(pids);
                return -ENOMEM;
        }

        /* Walk the listing and the entries (both by pid) side by side. */
        closer_thread_vec v = {0};
        unsigned k = 0, nn = 0;
        for (unsigned i = 0; i < n_pids && r >= 0; i++) {
                int pid = pids[i];
                if (i > 0 && pid == pids[i - 1])
                        continue;
                while (k < c->n_procs && c->procs[k].pid < pid)
                        drop_proc(c, &c->procs[k++]);   /* exited */
                cached_proc p = {.dir_fd = -1, .stat_fd = -1, .cmdline_fd = -1};
                if (k < c->n_procs && c->procs[k].pid == pid)
                        p = c->procs[k++];
                int q = read_proc(c, &p, pid, &v, &vanished);
                if (q == 0)
                        np[nn++] = p;
                else {
                        drop_proc(c, &p);
                        if (q < 0)
                                r = q;
                }
        }
        while (k < c->n_procs)
                drop_proc(c, &c->procs[k++]);
        free(c->procs);
        c->procs = np;
        c->n_procs = nn;
        free(pids);
        if (r < 0) {
                closer_hostos_threads_free(v.t, v.n);
                return r;
        }
        *ret = v.t;
        *ret_n = v.n;
        if (ret_vanished)
                *ret_vanished = vanished;
        return 0;
}
