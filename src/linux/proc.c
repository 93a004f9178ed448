/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Threads of dom0 from /proc/PID/task/TID/{stat,comm} and /proc/PID/cmdline.
 *
 * Races are the normal case on a busy host: a thread may exit between the
 * readdir and the read, and a pid may be reused meanwhile. Every read of a
 * process goes through one fd on its /proc/PID directory: once a process is
 * gone, that fd keeps pointing at the dead one (reads fail with ESRCH)
 * instead of silently reading its successor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/parse-util.h"
#include "basic/alloc-util.h"
#include "linux/linux.h"

#define CMDLINE_MAX (64u * 1024u)     /* longer command lines are cut: we only look at their start */
#define CMDLINE_ARGS_MAX 256u
#define PID_MAX_LINUX 4194304u        /* PID_MAX_LIMIT on 64-bit */

/* Decimal at *p up to a space or end; advances *p. */
static int next_u64(const char **p, uint64_t *ret) {
        const char *s = *p, *e;
        uint64_t v;

        while (*s == ' ')
                s++;
        /* no sign: only the fields we read must be non-negative */
        if (closer_parse_uint_prefix(s, UINT64_MAX, 0, &v, &e) < 0 || (*e != ' ' && *e != '\n' && *e != '\0'))
                return -EINVAL;
        *p = e;
        *ret = v;
        return 0;
}

/* Skip one field (may be negative). */
static int skip_field(const char **p) {
        const char *s = *p;
        while (*s == ' ')
                s++;
        if (*s == '\0' || *s == '\n')
                return -EINVAL;
        while (*s && *s != ' ' && *s != '\n')
                s++;
        *p = s;
        return 0;
}

int closer_proc_parse_stat(const char *text, closer_proc_stat *ret) {
        closer_proc_stat st = {.processor = -1};
        const char *open = strchr(text, '(');
        const char *close = strrchr(text, ')');     /* comm may hold ')' itself */
        const char *p = text;
        uint64_t v = 0;

        if (!open || !close || close < open)
                return -EINVAL;
        if (next_u64(&p, &v) < 0 || v == 0 || v > PID_MAX_LINUX || p > open)
                return -EINVAL;
        st.pid = (int) v;
        size_t cl = (size_t) (close - open - 1);
        if (cl >= sizeof(st.comm))
                cl = sizeof(st.comm) - 1;
        memcpy(st.comm, open + 1, cl);
        st.comm[cl] = '\0';

        p = close + 1;
        while (*p == ' ')
                p++;
        if (!*p || *p == '\n')
                return -EINVAL;
        st.state = *p++;
        /* field 4 on: ppid pgrp session tty tpgid flags ... */
        for (int field = 4; field <= 39; field++) {
                switch (field) {
                case 4:
                        if (next_u64(&p, &v) < 0 || v > PID_MAX_LINUX)
                                return -EINVAL;
                        st.ppid = (int) v;
                        break;
                case 9:
                        if (next_u64(&p, &v) < 0 || v > UINT32_MAX)
                                return -EINVAL;
                        st.flags = (unsigned) v;
                        break;
                case 14:
                        if (next_u64(&p, &st.utime_ticks) < 0)
                                return -EINVAL;
                        break;
                case 15:
                        if (next_u64(&p, &st.stime_ticks) < 0)
                                return -EINVAL;
                        break;
                case 20:
                        if (next_u64(&p, &v) < 0 || v > UINT32_MAX)
                                return -EINVAL;
                        st.num_threads = (unsigned) v;
                        break;
                case 22:
                        if (next_u64(&p, &st.start_time_ticks) < 0)
                                return -EINVAL;
                        break;
                case 39:
                        /* absent on very old kernels: keep -1 */
                        if (next_u64(&p, &v) == 0 && v < CLOSER_CPUSET_MAX)
                                st.processor = (int) v;
                        break;
                default:
                        if (skip_field(&p) < 0)
                                return field > 22 ? (*ret = st, 0) : -EINVAL;
                }
        }
        *ret = st;
        return 0;
}

int closer_proc_split_cmdline(const char *buf, size_t len, unsigned max_args, char ***ret, unsigned *ret_n) {
        unsigned n = 0;
        char **argv;

        /* the final NUL is optional; an empty cmdline (kernel thread) has no args */
        while (len > 0 && buf[len - 1] == '\0')
                len--;
        if (len == 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        for (size_t i = 0; i < len; i++)
                if (buf[i] == '\0')
                        n++;
        n++;
        if (n > max_args)
                n = max_args;
        argv = calloc(n, sizeof(*argv));
        if (!argv)
                return -ENOMEM;
        size_t pos = 0;
        for (unsigned k = 0; k < n; k++) {
                size_t l = strnlen(buf + pos, len - pos);
                argv[k] = strndup(buf + pos, l);
                if (!argv[k]) {
                        for (unsigned m = 0; m < k; m++)
                                free(argv[m]);
                        free(argv);
                        return -ENOMEM;
                }
                pos += l + 1;
        }
        *ret = argv;
        *ret_n = n;
        return 0;
}

int closer_proc_parse_pid(const char *name, int *ret) {
        uint64_t v = 0;
        const char *p = name;
        if (next_u64(&p, &v) < 0 || *p != '\0' || v == 0 || v > PID_MAX_LINUX)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static closer_thread *vec_push(closer_thread_vec *v) {
        if (!GREEDY_REALLOC_MIN(v->t, v->cap, v->n + 1, 256))
                return NULL;
        closer_thread *t = &v->t[v->n++];
        memset(t, 0, sizeof(*t));
        return t;
}

static int dup_argv(char **src, unsigned n, char ***ret) {
        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        char **a = calloc(n, sizeof(*a));
        if (!a)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                a[i] = strdup(src[i]);
                if (!a[i]) {
                        for (unsigned k = 0; k < i; k++)
                                free(a[k]);
                        free(a);
                        return -ENOMEM;
                }
        }
        *ret = a;
        return 0;
}

void closer_proc_free_argv(char **a, unsigned n) {
        for (unsigned i = 0; a && i < n; i++)
                free(a[i]);
        free(a);
}

/* Append one thread from its parsed stat. comm: stat carries the same text
 * as the comm file (proc_task_name() for both) except that stat escapes '\n'
 * and '\\': the file (comm_path relative to dirfd) is read only then. One
 * open per thread instead of two: a scan of 10k threads is mostly opens. */
int closer_proc_add_thread(closer_thread_vec *v, int pid, const closer_proc_stat *st, int dirfd, const char *comm_path,
                           char **argv, unsigned argc, const closer_proc_owner *own, uint64_t ns_per_tick) {
        closer_thread *t = vec_push(v);
        if (!t)
                return -ENOMEM;
        t->tid = st->pid;
        t->pid = pid;
        t->ppid = st->ppid;
        t->kernel = (st->flags & CLOSER_PF_KTHREAD) != 0;
        t->cpu_ns = (st->utime_ticks + st->stime_ticks) * ns_per_tick;
        t->start_time = st->start_time_ticks;
        t->last_cpu = st->processor;
        if (strchr(st->comm, '\\')) {
                char buf[256];
                int cn = closer_read_small_at(dirfd, comm_path, buf, sizeof(buf));
                if (cn > 0 && buf[cn - 1] == '\n')
                        buf[--cn] = '\0';
                snprintf(t->comm, sizeof(t->comm), "%.*s", (int) sizeof(t->comm) - 1, cn > 0 ? buf : st->comm);
        } else {
                snprintf(t->comm, sizeof(t->comm), "%s", st->comm);
        }
        if (!t->kernel && argc > 0) {
                int r = dup_argv(argv, argc, &t->cmdline);
                if (r < 0) {
                        v->n--;
                        return r;
                }
                t->n_cmdline = argc;
        }
        if (!t->kernel && own) {
                t->has_uid = own->has_uid;
                t->uid = own->uid;
                if (own->stdout_path && !(t->stdout_path = strdup(own->stdout_path))) {
                        closer_proc_free_argv(t->cmdline, t->n_cmdline);
                        v->n--;
                        return -ENOMEM;
                }
        }
        return 0;
}

int closer_proc_parse_uid(const char *status, uint32_t *ret) {
        /* "Uid:\t<real>\t<effective>\t<saved>\t<fs>" at the start of a line */
        for (const char *line = status; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                if (strncmp(line, "Uid:", 4) != 0)
                        continue;
                const char *p = line + 4;
                while (*p == '\t' || *p == ' ')
                        p++;
                uint64_t v;
                const char *e;
                /* (uid_t) -1 is no uid */
                if (closer_parse_uint_prefix(p, UINT32_MAX - 1, 0, &v, &e) < 0 ||
                    (*e != '\t' && *e != ' ' && *e != '\n' && *e != '\0'))
                        return -EINVAL;
                *ret = (uint32_t) v;
                return 0;
        }
        return -EINVAL;
}

/* The xl binary (comm: the name of the file exec'd) run as xl (argv0): the
 * same test tools/closer-gather makes, so that a capture holds exactly what
 * closer reads here. */
static bool is_xl(const char *comm, char **argv, unsigned argc) {
        if (strcmp(comm, "xl") != 0 || argc == 0 || !argv[0])
                return false;
        const char *b = strrchr(argv[0], '/');
        return strcmp(b ? b + 1 : argv[0], "xl") == 0;
}

int closer_proc_read_owner(int pidfd, const char *comm, char **argv, unsigned argc, closer_proc_owner *ret) {
        *ret = (closer_proc_owner) {0};
        if (!is_xl(comm, argv, argc))
                return 0;
        char buf[8192];
        uint32_t uid;
        if (closer_read_small_at(pidfd, "status", buf, sizeof(buf)) > 0 && closer_proc_parse_uid(buf, &uid) == 0) {
                ret->has_uid = true;
                ret->uid = uid;
        }
        char link[4096];
        ssize_t n = readlinkat(pidfd, "fd/1", link, sizeof(link));
        if (n > 0 && (size_t) n < sizeof(link)) {
                ret->stdout_path = strndup(link, (size_t) n);
                if (!ret->stdout_path)
                        return -ENOMEM;
        }
        return 0;
}

void closer_proc_owner_done(closer_proc_owner *o) {
        free(o->stdout_path);
        o->stdout_path = NULL;
}

/* Read the threads of one user process through its /proc/PID dir fd. */
static int read_process(int pidfd, int pid, const closer_proc_stat *first, uint64_t ns_per_tick, char *cmdbuf,
                        closer_thread_vec *v, unsigned *vanished) {
        char **argv = NULL;
        unsigned argc = 0;
        int r = 0;
        char buf[1024];
        closer_proc_stat st;

        /* A single-threaded process is its own thread: read its stat again
         * through the fd, so that stat and cmdline surely belong to the same
         * process even if the pid was reused since the caller's look. (For
         * more threads, each thread's stat is read through the fd below.) */
        if (first->num_threads == 1 &&
            (closer_read_small_at(pidfd, "stat", buf, sizeof(buf)) <= 0 || closer_proc_parse_stat(buf, &st) < 0 ||
             st.pid != pid)) {
                (*vanished)++;
                return 0;
        }
        int n = closer_read_small_at(pidfd, "cmdline", cmdbuf, CMDLINE_MAX);
        if (n > 0) {
                r = closer_proc_split_cmdline(cmdbuf, (size_t) n, CMDLINE_ARGS_MAX, &argv, &argc);
                if (r < 0)
                        return r;
        }
        closer_proc_owner own;
        r = closer_proc_read_owner(pidfd, first->comm, argv, argc, &own);
        if (r < 0) {
                closer_proc_free_argv(argv, argc);
                return r;
        }
        if (first->num_threads == 1 && st.num_threads == 1) {
                /* single-threaded: the process's stat is its thread's */
                r = closer_proc_add_thread(v, pid, &st, pidfd, "comm", argv, argc, &own, ns_per_tick);
                closer_proc_free_argv(argv, argc);
                closer_proc_owner_done(&own);
                return r;
        }

        int tfd = openat(pidfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0) {
                (*vanished)++;
                closer_proc_free_argv(argv, argc);
                closer_proc_owner_done(&own);
                return 0;
        }
        DIR *d = fdopendir(tfd);
        if (!d) {
                r = -errno;
                close(tfd);
                closer_proc_free_argv(argv, argc);
                closer_proc_owner_done(&own);
                return r;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                int tid;
                char path[64];

                if (closer_proc_parse_pid(de->d_name, &tid) < 0)
                        continue;
                snprintf(path, sizeof(path), "%d/stat", tid);
                if (closer_read_small_at(dirfd(d), path, buf, sizeof(buf)) <= 0 ||
                    closer_proc_parse_stat(buf, &st) < 0 || st.pid != tid) {
                        (*vanished)++;          /* gone, or a torn read: not an error */
                        continue;
                }
                snprintf(path, sizeof(path), "%d/comm", tid);
                r = closer_proc_add_thread(v, pid, &st, dirfd(d), path, argv, argc, &own, ns_per_tick);
                if (r < 0)
                        break;
        }
        closedir(d);
        closer_proc_free_argv(argv, argc);
        closer_proc_owner_done(&own);
        return r;
}

uint64_t closer_proc_ns_per_tick(void) {
        long hz = sysconf(_SC_CLK_TCK);
        return hz > 0 ? UINT64_C(1000000000) / (uint64_t) hz : UINT64_C(10000000);
}

int closer_proc_read_threads(const closer_root *root, closer_thread **ret, unsigned *ret_n, unsigned *ret_vanished) {
        closer_thread_vec v = {0};
        unsigned vanished = 0;
        int r = 0;
        uint64_t ns_per_tick = closer_proc_ns_per_tick();

        int pfd = closer_root_openat(root, "/proc", O_RDONLY | O_DIRECTORY, 0);
        if (pfd < 0)
                return pfd;
        DIR *d = fdopendir(pfd);
        if (!d) {
                r = -errno;
                close(pfd);
                return r;
        }
        char *cmdbuf = malloc(CMDLINE_MAX);
        if (!cmdbuf) {
                closedir(d);
                return -ENOMEM;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                int pid;
                if (closer_proc_parse_pid(de->d_name, &pid) < 0)
                        continue;
                /* Kernel threads (most of a dom0's threads) are single
                 * processes with no cmdline: one read of /proc/PID/stat. */
                char path[64], buf[1024];
                closer_proc_stat st;
                snprintf(path, sizeof(path), "%d/stat", pid);
                if (closer_read_small_at(dirfd(d), path, buf, sizeof(buf)) <= 0 ||
                    closer_proc_parse_stat(buf, &st) < 0 || st.pid != pid) {
                        vanished++;
                        continue;
                }
                if (st.flags & CLOSER_PF_KTHREAD) {
                        snprintf(path, sizeof(path), "%d/comm", pid);
                        r = closer_proc_add_thread(&v, pid, &st, dirfd(d), path, NULL, 0, NULL, ns_per_tick);
                        if (r < 0)
                                break;
                        continue;
                }
                int pidfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (pidfd < 0) {
                        vanished++;
                        continue;
                }
                r = read_process(pidfd, pid, &st, ns_per_tick, cmdbuf, &v, &vanished);
                close(pidfd);
                if (r < 0)
                        break;
        }
        free(cmdbuf);
        closedir(d);
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

int closer_proc_read_process(const closer_root *root, int pid, closer_thread **ret) {
        char path[32], buf[1024];
        closer_proc_stat st;
        closer_thread_vec v = {0};
        char **argv = NULL;
        unsigned argc = 0;
        int r;

        if (pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof(path), "proc/%d", pid);
        int pidfd = closer_root_openat(root, path, O_RDONLY | O_DIRECTORY, 0);
        if (pidfd < 0)
                return pidfd == -ENOENT ? -ESRCH : pidfd;
        if (closer_read_small_at(pidfd, "stat", buf, sizeof(buf)) <= 0 || closer_proc_parse_stat(buf, &st) < 0 ||
            st.pid != pid) {
                close(pidfd);
                return -ESRCH;
        }
        char *cmd = malloc(CMDLINE_MAX);
        if (!cmd) {
                close(pidfd);
                return -ENOMEM;
        }
        int n = closer_read_small_at(pidfd, "cmdline", cmd, CMDLINE_MAX);
        r = n > 0 ? closer_proc_split_cmdline(cmd, (size_t) n, CMDLINE_ARGS_MAX, &argv, &argc) : 0;
        free(cmd);
        closer_proc_owner own = {0};
        if (r >= 0)
                r = closer_proc_read_owner(pidfd, st.comm, argv, argc, &own);
        if (r >= 0)
                r = closer_proc_add_thread(&v, pid, &st, pidfd, "comm", argv, argc, &own, closer_proc_ns_per_tick());
        closer_proc_free_argv(argv, argc);
        closer_proc_owner_done(&own);
        close(pidfd);
        if (r < 0)
                return r;
        *ret = v.t;
        return 0;
}

int closer_proc_start_time(const closer_root *root, int tid, uint64_t *ret) {
        char path[64], buf[1024];
        closer_proc_stat st;
        if (tid <= 0)
                return -EINVAL;
        /* /proc/TID works for any thread, even one not leading its group */
        snprintf(path, sizeof(path), "proc/%d/stat", tid);
        int n = closer_read_small_at(root->fd, path, buf, sizeof(buf));
        if (n == -ENOENT)
                return -ESRCH;
        if (n < 0)
                return n;
        if (closer_proc_parse_stat(buf, &st) < 0 || st.pid != tid)
                return -ESRCH;
        *ret = st.start_time_ticks;
        return 0;
}

int closer_proc_read_allowed(const closer_root *root, int pid, int tid, closer_cpuset *ret) {
        char path[96], buf[8192];
        snprintf(path, sizeof(path), "proc/%d/task/%d/status", pid, tid);
        int n = closer_read_small_at(root->fd, path, buf, sizeof(buf));
        if (n < 0)
                return n;
        static const char key[] = "Cpus_allowed_list:";
        for (char *line = buf; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (strncmp(line, key, sizeof(key) - 1) == 0) {
                        closer_cpuset s;
                        /* the value follows a tab; cpuset_parse skips blanks */
                        const char *v = line + sizeof(key) - 1;
                        while (*v == '\t')
                                v++;
                        int r = closer_cpuset_parse(v, &s);
                        if (r < 0)
                                return r;
                        *ret = s;
                        return 0;
                }
                line = nl ? nl + 1 : NULL;
        }
        return -ENOENT;
}
