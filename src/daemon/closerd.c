/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd: keeps dom0 split into a main container and per-socket secondary
 * containers, places each VM's dom0 work next to it, moves memory by I/O
 * level, and meters what each VM costs dom0. One sd-event loop: a sampling
 * tick, hypervisor events (domains appearing/leaving), signals, the control
 * socket. This file is the loop and its set-up; the command line is
 * closerd-args.c, the answers to closerctl and Prometheus closerd-handlers.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "basic/config-file.h"
#include "basic/fd-util.h"
#include "basic/macro.h"
#include "basic/rlimit.h"
#include "closer/policy.h"
#include "closer/rules.h"
#include "closer/units.h"
#include "daemon/closerd.h"
#include "daemon/state.h"
#include "linux/linux.h"

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* closerd's own CPU, by tick phase: all of a tick runs on this thread. */
static uint64_t thread_cpu_ns(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int64_t wall_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Count every failed ledger write; log the first, then at most a few a
 * minute, and say when it works again. Nothing is lost meanwhile: the meter
 * keeps what it could not write. */
static void ledger_result(closerd_ctx *d, int r, bool was_failing, uint64_t now) {
        uint64_t left_out = 0;
        if (r < 0) {
                d->m->stats.errors_ledger++;
                if (closer_ratelimit_below(&d->ledger_log, now, &left_out))
                        log_error("ledger: cannot write: %s; %.1f s of billing kept in memory until it can "
                                  "(%llu failed writes, %llu such messages left out)",
                                  strerror(-r), (double) closer_meter_unwritten_ns(d->meter) / 1e9,
                                  (unsigned long long) d->meter->failures, (unsigned long long) left_out);
        } else if (was_failing && d->meter->last_error == 0)
                log_notice("ledger: written again after %llu failed writes; nothing was lost",
                           (unsigned long long) d->meter->failures);
}

static void do_tick(closerd_ctx *d) {
        closer_error err = {{0}};
        uint64_t t0 = now_usec();
        uint64_t prev_ns = d->m->snap ? d->m->snap->time_ns : t0 * 1000u;

        if (d->sim && d->last_tick_usec)
                closer_simhost_advance(d->sim, (t0 - d->last_tick_usec) * 1000u);
        d->last_tick_usec = t0;
        int r = closer_manager_tick(d->m, t0 * 1000u, &err);
        d->m->stats.last_tick_ns = (now_usec() - t0) * 1000u;
        if (r < 0 && !d->ready && d->m->config_rejected) {
                /* The configuration cannot work on this host: bad input,
                 * said once, exit 2 (systemd does not restart on 2). */
                fprintf(stderr, "closerd: %s: %s\n", d->config_source, err.msg);
                d->exit_status = 2;
                (void) sd_event_exit(d->ev, 0);
                return;
        }
        if (r < 0) {
                uint64_t left_out = 0;
                d->m->stats.errors_tick++;
                if (closer_ratelimit_below(&d->tick_log, t0, &left_out))
                        log_error("tick: %s (%llu such messages left out)", err.msg, (unsigned long long) left_out);
                return;
        }
        if (d->meter) {
                bool was_failing = d->meter->last_error < 0;
                r = closer_meter_commit(d->meter, d->m, prev_ns, t0 * 1000u, wall_ns());
                closer_manager_phase(d->m, CLOSER_PHASE_LEDGER);
                ledger_result(d, r, was_failing, t0);
                if (r >= 0 && d->meter->unmetered_ns && !d->told_unmetered && (d->told_unmetered = true))
                        log_notice("ledger: %.1f s while closerd was down are recorded as unmetered",
                                   (double) d->meter->unmetered_ns / 1e9);
        }
        if (!d->ready) {
                d->ready = true;
                (void) sd_notify(0, "READY=1");
                log_info("ready: %u domains, main container on dom0 CPUs of node %d, %u secondary containers",
                         d->m->plan->n_domains, d->m->plan->main.node, d->m->plan->n_secondary);
        }
        (void) sd_notifyf(0, "STATUS=%u domains, %llu actions, %llu errors%s", d->m->plan->n_domains,
                          (unsigned long long) (d->m->stats.actions[CLOSER_ACT_THREAD] +
                                                d->m->stats.actions[CLOSER_ACT_IRQ] +
                                                d->m->stats.actions[CLOSER_ACT_MEMORY] +
                                                d->m->stats.actions[CLOSER_ACT_CGROUP]),
                          (unsigned long long) (d->m->stats.errors_transient + d->m->stats.errors_permanent +
                                                d->m->stats.errors_fatal + d->m->stats.errors_ledger +
                                                d->m->stats.errors_tick + d->m->stats.errors_state),
                          d->m->state_error < 0 ? "; the state file cannot be written, changing nothing"
                          : d->meter && d->meter->last_error < 0 ? "; the ledger cannot be written" : "");
        if (d->ticks_left > 0 && --d->ticks_left == 0)
                (void) sd_event_exit(d->ev, 0);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        closerd_ctx *d = userdata;
        do_tick(d);
        (void) sd_event_source_set_time(s, usec + d->args->tick_usec);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* A domain appeared or left: plan now rather than at the next tick, so a new
 * VM's backends are placed before they carry much traffic. */
static int on_hv_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        closerd_ctx *d = userdata;
        bool changed = false;
        (void) s, (void) fd, (void) revents;

        int r = d->hv->ops->process_events(d->hv->data, &changed);
        if (r < 0)
                log_warning("hypervisor events: %s", strerror(-r));
        if (changed)
                do_tick(d);
        return 0;
}

static int on_soon(sd_event_source *s, uint64_t usec, void *userdata) {
        closerd_ctx *d = userdata;
        (void) s, (void) usec;
        do_tick(d);
        return 0;
}

#define EXEC_PIDS_MAX 32
#define EXEC_TICK_USEC 10000          /* an exec for a domain: a tick within 10 ms */

/* Whether one of the exec'd processes works for a domain (`xl save du1`, a
 * libxl-save-helper, a device model): a tick now places it. Anything else
 * (scripts, monitoring, `xl list`) waits for the next tick: a tick costs far
 * more than a look at one process, and a busy dom0 execs a lot. */
static bool exec_for_domain(closerd_ctx *d, const int *pids, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                closer_thread *t;
                if (closer_proc_read_process(d->proc_root, pids[i], &t) < 0)
                        continue;       /* gone already: nothing to place */
                closer_classification c;
                closer_classify_thread(d->m->snap, t, &c);
                closer_hostos_threads_free(t, 1);
                if (closer_classification_for_domain(&c))
                        return true;
        }
        return false;
}

/* Something exec'd in dom0: it may be `xl save` or a libxl helper working
 * on one domain. Plan within 10 ms (bursts of execs coalesce into one tick)
 * so it runs in that domain's container from its first seconds. */
static int on_procevents(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        closerd_ctx *d = userdata;
        unsigned execs = 0;
        int lost = 0, pids[EXEC_PIDS_MAX];
        (void) s, (void) fd, (void) revents;

        if (closer_procevents_drain(d->procev, pids, EXEC_PIDS_MAX, &execs, &lost) < 0)
                return 0;
        int refused = closer_procevents_refused(d->procev);
        if (d->host->ops->exec_seen) {
                /* command lines change at exec only: tell the host adapter
                 * which ones did, so it need not read every one each tick */
                if (refused < 0)
                        d->host->ops->exec_seen(d->host->data, CLOSER_EXECS_UNTRACKED);
                else if (lost || execs > EXEC_PIDS_MAX)
                        d->host->ops->exec_seen(d->host->data, CLOSER_EXECS_LOST);
                else
                        for (unsigned i = 0; i < execs; i++)
                                d->host->ops->exec_seen(d->host->data, pids[i]);
        }
        if (refused < 0) {
                log_warning("process events: the kernel refused the subscription (%s); short-lived admin commands "
                            "are placed at the next tick only",
                            strerror(-refused));
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        if (!execs && !lost)
                return 0;
        /* events lost, or too many to look at: just plan */
        if (!lost && execs <= EXEC_PIDS_MAX && d->proc_root && d->m->snap && !exec_for_domain(d, pids, execs))
                return 0;
        int enabled = SD_EVENT_OFF;
        if (sd_event_source_get_enabled(d->soon_src, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return 0;       /* already armed */
        (void) sd_event_source_set_time_relative(d->soon_src, EXEC_TICK_USEC);
        (void) sd_event_source_set_enabled(d->soon_src, SD_EVENT_ONESHOT);
        return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        closerd_ctx *d = userdata;
        (void) s;
        log_info("%s: putting the host back as found", strsignal((int) si->ssi_signo));
        (void) sd_event_exit(d->ev, 0);
        return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        closerd_ctx *d = userdata;
        closer_config c;
        closer_error err = {{0}};
        (void) s, (void) si;

        (void) sd_notify(0, "RELOADING=1");
        /* a missing default file means built-in defaults; a missing
         * explicit file is an error */
        if (closer_config_load(d->args->config_path, d->args->config_explicit, &c, &err) < 0)
                log_error("reload: %s; keeping the running configuration", err.msg);
        else if (closer_manager_check_config(d->m, &c, &err) < 0)
                /* it parses, but the planner refuses it on this host: taking
                 * it would fail every tick from now on */
                log_error("reload: %s: %s; keeping the running configuration", d->args->config_path, err.msg);
        else {
                /* The next tick plans with it; no tick now: a burst of
                 * SIGHUPs must not become a burst of ticks (and of ledger
                 * intervals). */
                closer_manager_set_config(d->m, &c);
                log_info("reloaded %s", d->args->config_path);
        }
        (void) sd_notify(0, "READY=1");
        return 0;
}

/* Serve the metrics, then wake up again at the server's next deadline:
 * idle connections are only closed when it runs, and its epoll fd says
 * nothing about deadlines (without this, 16 idle connections held the
 * endpoint for good). */
static void metrics_process(closerd_ctx *d) {
        uint64_t ms;
        int r = closer_metrics_http_process(d->metrics);
        if (r < 0)
                log_debug("metrics: %s", strerror(-r));
        if (closer_metrics_http_timeout_ms(d->metrics, &ms) > 0) {
                (void) sd_event_source_set_time_relative(d->metrics_timer, (ms + 1) * 1000);
                (void) sd_event_source_set_enabled(d->metrics_timer, SD_EVENT_ONESHOT);
        } else
                (void) sd_event_source_set_enabled(d->metrics_timer, SD_EVENT_OFF);
}

static int on_metrics(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) s, (void) fd, (void) revents;
        metrics_process(userdata);
        return 0;
}

static int on_metrics_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s, (void) usec;
        metrics_process(userdata);
        return 0;
}

/* ---- the files the options name ------------------------------------------ */

static int make_parent_dir(const char *path) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Hold "<path>.lock" (flock) for as long as closerd runs, so that a second
 * closerd on the same socket, state file or ledger stops before it touches
 * any of them (before, it took the first one's socket and, in sim mode,
 * deleted its state file). The lock file holds the holder's pid for the
 * message, and stays: removing a lock file races with the next locker. */
static int take_lock(const char *path, int *ret_fd, long *ret_holder) {
        char lp[4096], buf[32];
        if ((size_t) snprintf(lp, sizeof(lp), "%s.lock", path) >= sizeof(lp))
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = -errno;
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                buf[n > 0 ? n : 0] = '\0';
                *ret_holder = strtol(buf, NULL, 10);
                return r;
        }
        int n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t) n, 0) != n) {
                /* the pid is only for the message: the lock is what counts */
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* What an option names must be ours to replace: a file of another kind at
 * that path is bad usage, and left alone (before, --socket and --state
 * deleted whatever was there, even with --dry-run). */
static bool path_is_other(const char *path, mode_t want) {
        struct stat st;
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) != want;
}

/* ---- set-up -------------------------------------------------------------- */

/* Each stage returns 0, or the exit status closerd ends with (1: a runtime
 * failure, 2: bad usage or a bad configuration), having said why in one line.
 * What a stage opened is in the context, freed by closerd_ctx_done() however
 * far set-up got. */

static bool is_sim(const closerd_ctx *d) {
        return strcmp(d->args->hypervisor, "sim") == 0;
}

/* The files the options name: ours to replace, their directories made, and
 * locked (one closerd per socket, state file and ledger), before any of them
 * is touched. */
static int claim_files(closerd_ctx *d) {
        const closerd_args *a = d->args;
        closer_error err = {{0}};
        int r;

        if (path_is_other(a->socket_path, S_IFSOCK)) {
                fprintf(stderr, "closerd: --socket %s: exists and is not a socket; not replacing it\n", a->socket_path);
                return 2;
        }
        if (!a->dry_run && path_is_other(a->state_path, S_IFREG)) {
                fprintf(stderr, "closerd: --state %s: exists and is not a regular file\n", a->state_path);
                return 2;
        }
        if (make_parent_dir(a->state_path) < 0 || make_parent_dir(a->socket_path) < 0 ||
            (!a->dry_run && make_parent_dir(a->ledger_path) < 0))
                log_warning("cannot create the directories of %s / %s / %s", a->state_path, a->socket_path,
                            a->ledger_path);
        const char *locked[3] = {a->socket_path, a->state_path, a->ledger_path};
        for (unsigned i = 0; i < (a->dry_run ? 1u : 3u); i++) {
                long holder = 0;
                r = take_lock(locked[i], &d->locks[i], &holder);
                if (r == -EWOULDBLOCK) {
                        fprintf(stderr, "closerd: another closerd (pid %ld) uses %s\n", holder, locked[i]);
                        return 1;
                }
                if (r < 0) {
                        fprintf(stderr, "closerd: cannot lock %s.lock: %s\n", locked[i], strerror(-r));
                        return 1;
                }
        }
        if (is_sim(d) && !a->dry_run && access(a->state_path, F_OK) == 0) {
                /* Each run models a new host: what a previous run changed on
                 * its own modelled host is nothing to restore here. Only a
                 * state file is reset, never someone else's file. */
                closer_state *old = NULL;
                r = closer_state_load(a->state_path, &old, &err);
                closer_state_free(old);
                if (r < 0) {
                        fprintf(stderr, "closerd: --state %s: not a closer-state/1 file; not replacing it (%s)\n",
                                a->state_path, err.msg);
                        return 2;
                }
                (void) unlink(a->state_path);
        }
        return 0;
}

/* Whether closerd itself runs in a .service (its own cgroup, through the
 * Linux adapter): started by systemd as a unit, not from a shell. */
static bool in_service(closerd_ctx *d) {
        char cg[4096];
        if (!d->host->ops->cgroup_of || d->host->ops->cgroup_of(d->host->data, (int) getpid(), cg, sizeof(cg)) < 0)
                return false;
        size_t n = strlen(cg);
        return n > 8 && strcmp(cg + n - 8, ".service") == 0;
}

/* --systemd-units: under systemd (auto: PID 1 is systemd and closerd runs
 * in a .service, on the real root), the Linux adapter uses systemd's units
 * (closer_linux_hostos_use_systemd). Said once either way. */
static void use_systemd_units(closerd_ctx *d) {
        const closerd_args *a = d->args;
        const char *why = NULL;

        if (a->systemd_units == CLOSERD_UNITS_NO)
                why = "--systemd-units no";
        else if (a->systemd_units == CLOSERD_UNITS_AUTO && strcmp(a->root, "/") != 0)
                why = "--root is not /";
        else if (a->systemd_units == CLOSERD_UNITS_AUTO && sd_booted() <= 0)
                why = "PID 1 is not systemd";
        else if (a->systemd_units == CLOSERD_UNITS_AUTO && !in_service(d))
                why = "closerd does not run in a systemd .service";
        if (why) {
                log_info("systemd units: no (%s): per-thread affinity, processes in closer's own cgroups", why);
                return;
        }
        closer_error err = {{0}};
        int r = closer_linux_hostos_use_systemd(d->host, &err);
        if (r < 0)
                log_warning("systemd units: %s; falling back to per-thread affinity and closer's own cgroups",
                            err.msg);
        else
                log_info("systemd units: yes: main CPUs on system.slice, user.slice, init.scope (AllowedCPUs=); VM "
                         "processes in closer-node<N>-vm<D>.scope units in " CLOSER_UNIT_SLICE);
}

/* The hypervisor and dom0's OS: the modelled host, or Xen and Linux. */
static int open_host(closerd_ctx *d) {
        if (is_sim(d)) {
                d->sim = closer_simhost_new_reference();
                if (!d->sim || closer_simhost_hypervisor(d->sim, &d->hv) < 0 ||
                    closer_simhost_hostos(d->sim, &d->host) < 0) {
                        fprintf(stderr, "closerd: out of memory\n");
                        return 1;
                }
                log_info("hypervisor: sim (modelled host: 4 sockets x 14 pCPUs, 40 GiB, 12 domains)");
                return 0;
        }
#ifdef HAVE_XEN
        closer_error err = {{0}};
        int r = closer_xen_hypervisor_new(&d->hv, &err);
        if (r < 0) {
                fprintf(stderr, "closerd: %s\n", err.msg);
                return 1;
        }
        r = closer_linux_hostos_new(d->args->root, d->args->cgroup_base, &d->host, &err);
        if (r < 0) {
                fprintf(stderr, "closerd: %s\n", err.msg);
                return 1;
        }
        use_systemd_units(d);
        /* the Xen adapter reaches dom0's OS (IRQ affinity, backend
         * counters) through this one, on its one root; it outlives d->hv */
        r = d->hv->ops->attach_hostos ? d->hv->ops->attach_hostos(d->hv->data, d->host) : 0;
        if (r < 0) {
                fprintf(stderr, "closerd: attaching the host OS to the hypervisor: %s\n", strerror(-r));
                return 1;
        }
        /* a kept stat file per dom0 thread (linux/proc-cache.c) */
        long nofile = closer_rlimit_nofile_raise();
        if (nofile < 0)
                log_warning("cannot raise the open-files limit: %s; dom0 threads beyond it are read "
                            "the slow way", strerror((int) -nofile));
        return 0;
#else
        fprintf(stderr, "closerd: this build has no Xen support (libxen-dev was missing); use --hypervisor sim\n");
        return 2;
#endif
}

/* The manager with its state file, and the meter with its ledger. */
static int open_manager(closerd_ctx *d, const closer_config *cfg) {
        const closerd_args *a = d->args;
        closer_error err = {{0}};

        int r = closer_manager_new(cfg, d->hv, d->host, a->dry_run, a->dry_run ? NULL : a->state_path, &d->m, &err);
        if (r < 0) {
                fprintf(stderr, "closerd: %s\n", err.msg);
                return r == -EINVAL ? 2 : 1;
        }
        d->m->cpu_ns = thread_cpu_ns;
        if (a->dry_run)
                return 0;
        /* closerd writes there what it is about to change before it changes
         * it: if it cannot, it could do nothing but fail every tick while
         * saying READY. */
        r = closer_manager_save_state(d->m);
        if (r < 0) {
                fprintf(stderr, "closerd: cannot write the state file %s: %s\n", a->state_path, strerror(-r));
                return 1;
        }

        char boot_id[64] = "";
        _cleanup_fclose_ FILE *bf = fopen("/proc/sys/kernel/random/boot_id", "re");
        if (bf && !fgets(boot_id, sizeof(boot_id), bf))
                boot_id[0] = '\0';
        boot_id[strcspn(boot_id, "\n")] = '\0';
        r = closer_meter_open(a->ledger_path, boot_id, a->ledger_interval_s * 1000000000ull, &d->meter, &err);
        if (r < 0) {
                fprintf(stderr, "closerd: ledger: %s\n", err.msg);
                return r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EINVAL ? 2 : 1;
        }
        return 0;
}

/* SIGTERM, SIGINT and SIGHUP as events: a daemon that cannot be told to stop
 * must not start. */
static int add_signals(closerd_ctx *d) {
        static const struct {
                int sig;
                const char *name;
                sd_event_signal_handler_t handler;
        } sigs[] = {
                {SIGTERM, "SIGTERM", on_term},
                {SIGINT, "SIGINT", on_term},
                {SIGHUP, "SIGHUP", on_hup},
        };
        sigset_t mask;

        sigemptyset(&mask);
        for (unsigned i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&mask, sigs[i].sig);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                log_error("cannot block SIGTERM, SIGINT and SIGHUP: %s", strerror(errno));
                return 1;
        }
        for (unsigned i = 0; i < ELEMENTSOF(sigs); i++) {
                int r = sd_event_add_signal(d->ev, NULL, sigs[i].sig, sigs[i].handler, d);
                if (r < 0) {
                        log_error("cannot watch for %s: %s", sigs[i].name, strerror(-r));
                        return 1;
                }
        }
        return 0;
}

/* Prometheus metrics on --metrics ADDR:PORT, served from the loop. */
static int start_metrics(closerd_ctx *d) {
        const closerd_args *a = d->args;

        int r = closer_metrics_http_start(a->metrics_addr, a->metrics_port, closerd_render_metrics, d, &d->metrics);
        if (r < 0) {
                fprintf(stderr, "closerd: --metrics %s: %s\n", a->metrics_listen,
                        r == -EPERM ? "only loopback addresses are served" : strerror(-r));
                return r == -EPERM || r == -EINVAL ? 2 : 1;
        }
        r = sd_event_add_io(d->ev, NULL, closer_metrics_http_fd(d->metrics), EPOLLIN, on_metrics, d);
        if (r < 0) {
                log_error("metrics: cannot watch the server's connections: %s", strerror(-r));
                return 1;
        }
        r = sd_event_add_time_relative(d->ev, &d->metrics_timer, CLOCK_MONOTONIC, 1000000, 100000, on_metrics_timer,
                                       d);
        if (r < 0) {
                log_error("metrics timer: %s", strerror(-r));
                return 1;
        }
        (void) sd_event_source_set_enabled(d->metrics_timer, SD_EVENT_OFF);
        log_info("metrics on http://%s/metrics", a->metrics_listen);
        return 0;
}

/* Execs in dom0 (real dom0 only): one for a domain ticks at once. Without
 * the kernel's process events, it waits for the next tick: said, not fatal. */
static int watch_execs(closerd_ctx *d) {
        int r = closer_procevents_open(&d->procev);
        if (r >= 0 && (r = closer_root_open("/", &d->proc_root)) < 0)
                d->procev = closer_procevents_close(d->procev);
        if (r < 0) {
                log_warning("process events: %s; short-lived admin commands are placed at the next tick only",
                            strerror(-r));
                return 0;
        }
        r = sd_event_add_io(d->ev, NULL, closer_procevents_fd(d->procev), EPOLLIN, on_procevents, d);
        if (r < 0) {
                log_error("process events: cannot watch them: %s", strerror(-r));
                return 1;
        }
        r = sd_event_add_time_relative(d->ev, &d->soon_src, CLOCK_MONOTONIC, EXEC_TICK_USEC, 1000, on_soon, d);
        if (r < 0) {
                log_error("process events: cannot set up their tick timer: %s", strerror(-r));
                return 1;
        }
        (void) sd_event_source_set_enabled(d->soon_src, SD_EVENT_OFF);
        if (d->host->ops->exec_seen)
                d->host->ops->exec_seen(d->host->data, CLOSER_EXECS_TRACKED);
        return 0;
}

/* The control socket for closerctl: without it closerd still works, and
 * says so. */
static int serve_control(closerd_ctx *d) {
        const char *path = d->args->socket_path;
        int r;

        d->control_fd = closer_control_listen(path);
        if (d->control_fd >= 0 &&
            (r = closer_control_server_new(d->ev, d->control_fd, geteuid(), closerd_handle, d, &d->control)) < 0) {
                close(d->control_fd);
                d->control_fd = r;
        }
        if (d->control_fd == -EEXIST) {
                fprintf(stderr, "closerd: --socket %s: exists and is not a socket; not replacing it\n", path);
                return 2;
        }
        if (d->control_fd < 0)
                log_warning("control socket %s: %s (closerctl will not reach this daemon)", path,
                            strerror(-d->control_fd));
        return 0;
}

/* The loop and every event source in it. */
static int add_event_sources(closerd_ctx *d) {
        int r = sd_event_default(&d->ev);
        if (r < 0) {
                log_error("sd-event: %s", strerror(-r));
                return 1;
        }
        (void) sd_event_set_watchdog(d->ev, true);
        r = add_signals(d);
        if (r)
                return r;
        r = sd_event_add_time(d->ev, &d->tick_src, CLOCK_MONOTONIC, now_usec(), 1000, on_tick, d);
        if (r < 0) {
                log_error("tick timer: %s", strerror(-r));
                return 1;
        }
        int hv_fd = d->hv->ops->event_fd ? d->hv->ops->event_fd(d->hv->data) : -1;
        if (hv_fd >= 0 && (r = sd_event_add_io(d->ev, NULL, hv_fd, EPOLLIN, on_hv_event, d)) < 0) {
                log_error("hypervisor events: cannot watch them: %s", strerror(-r));
                return 1;
        }
        if (d->args->metrics_listen && (r = start_metrics(d)))
                return r;
        if (!d->sim && strcmp(d->args->root, "/") == 0 && (r = watch_execs(d)))
                return r;
        return serve_control(d);
}

static int set_up(closerd_ctx *d) {
        closer_config cfg;
        closer_error err = {{0}};
        int r;

        /* a missing default file means built-in defaults; a missing explicit
         * file is an error */
        if (closer_config_load(d->args->config_path, d->args->config_explicit, &cfg, &err) < 0) {
                fprintf(stderr, "closerd: %s\n", err.msg);
                return 2;
        }
        d->config_source = d->args->config_explicit || access(d->args->config_path, F_OK) == 0
                                   ? d->args->config_path
                                   : "built-in configuration";
        if ((r = claim_files(d)) || (r = open_host(d)) || (r = open_manager(d, &cfg)))
                return r;
        return add_event_sources(d);
}

/* ---- run and stop -------------------------------------------------------- */

/* The loop, until SIGTERM/SIGINT, --ticks or a fatal error; then the ledger
 * interval in progress and the host as found. */
static int run(closerd_ctx *d) {
        int r = sd_event_loop(d->ev);
        (void) sd_notify(0, "STOPPING=1");
        if (r < 0)
                log_error("event loop: %s", strerror(-r));
        if (d->meter) {
                /* Stopping: waiting a little for a lock costs nothing now. */
                closer_ledger_set_busy_timeout(d->meter->ledger, 5000);
                int rr = closer_meter_flush(d->meter);
                if (rr < 0)
                        log_error("ledger: the last %.1f s could not be recorded: %s",
                                  (double) closer_meter_unwritten_ns(d->meter) / 1e9, strerror(-rr));
        }
        if (!d->args->dry_run) {
                int rr = closer_manager_restore(d->m);
                if (rr < 0)
                        log_error("restoring the host: %s", strerror(-rr));
                else
                        log_info("host restored as found");
        }
        if (d->exit_status)
                return d->exit_status;
        return r < 0 ? 1 : 0;
}

/* Whatever set_up() and run() left open, however far set-up got. */
static void closerd_ctx_done(closerd_ctx *d) {
        d->control = closer_control_server_free(d->control);
        if (d->control_fd >= 0) {
                close(d->control_fd);
                (void) unlink(d->args->socket_path);
        }
        sd_event_source_unref(d->tick_src);
        sd_event_source_unref(d->soon_src);
        sd_event_source_unref(d->metrics_timer);
        closer_procevents_close(d->procev);
        closer_root_free(d->proc_root);
        sd_event_unref(d->ev);
        closer_manager_free(d->m);
        closer_meter_free(d->meter);
        closer_metrics_http_stop(d->metrics);
        closer_hypervisor_free(d->hv);
        closer_hostos_free(d->host);
        closer_simhost_free(d->sim);
        for (unsigned i = 0; i < ELEMENTSOF(d->locks); i++)
                if (d->locks[i] >= 0)
                        close(d->locks[i]);
}

int main(int argc, char **argv) {
        closerd_args args;
        int r = closerd_args_parse(argc, argv, stdout, stderr, &args);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        closer_log_open("closerd", args.verbosity);
        closerd_args_resolve(&args, access("/proc/xen/capabilities", F_OK) == 0);

        _cleanup_(closerd_ctx_done) closerd_ctx d = {
                .args = &args, .ticks_left = args.ticks, .control_fd = -1, .locks = {-1, -1, -1},
                .ledger_log = CLOSER_RATELIMIT_INIT(60 * 1000000, 3),
                .tick_log = CLOSER_RATELIMIT_INIT(60 * 1000000, 3)};
        r = set_up(&d);
        return r ? r : run(&d);
}
