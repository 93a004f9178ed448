/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd: keeps dom0 split into a main container and per-socket secondary
 * containers, places each VM's dom0 work next to it, moves memory by I/O
 * level, and meters what each VM costs dom0. One sd-event loop: a sampling
 * tick, hypervisor events (domains appearing/leaving), signals, the control
 * socket.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "basic/config-file.h"
#include "basic/readfile.h"
#include "basic/rlimit.h"
#include "closer/policy.h"
#include "daemon/control.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/meter.h"
#include "daemon/metrics-http.h"
#include "daemon/metrics.h"
#include "daemon/state.h"
#include "closer/rules.h"
#include "linux/linux.h"
#include "linux/procevents.h"
#include "simhost/simhost.h"

#define DEFAULT_CONFIG "/etc/closer/closer.conf"
#define DEFAULT_STATE "/run/closer/state.json"
#define DEFAULT_SOCKET "/run/closer/closerd.sock"
#define DEFAULT_SIM_LEDGER "/run/closer/sim-ledger.db"
#define DEFAULT_SIM_STATE "/run/closer/sim-state.json"

typedef struct daemon_ctx {
        sd_event *ev;
        sd_event_source *tick_src;
        closer_manager *m;
        closer_meter *meter;            /* NULL in dry-run */
        closer_metrics_http *metrics;   /* NULL unless --metrics */
        sd_event_source *metrics_timer; /* the server's next connection timeout */
        closer_procevents *procev;      /* exec notifications (real dom0 only) */
        closer_root *proc_root;         /* to look at an exec'd process */
        sd_event_source *soon_src;      /* a tick armed by an exec, coalesced */
        closer_hypervisor *hv;
        closer_hostos *host;
        closer_simhost *sim;
        const char *hypervisor;
        const char *config_path;
        const char *config_source;      /* config_path, or what stands for the built-in defaults */
        bool config_explicit;
        uint64_t tick_usec;
        uint64_t last_tick_usec;
        long ticks_left;                /* --ticks N: stop after N; -1 forever */
        bool ready;
        bool told_unmetered;
        int exit_status;                /* set when the loop must end with it (2: bad configuration) */
        closer_ratelimit ledger_log;    /* a failing ledger fails every tick */
        closer_ratelimit tick_log;
} daemon_ctx;

static void help(void) {
        printf("Usage: closerd [OPTIONS]\n"
               "\n"
               "Keep dom0 split into a main container and one secondary container per NUMA\n"
               "socket, run each VM's dom0 work on the dom0 vCPU under that VM's vCPU, move\n"
               "memory between VMs and dom0 by I/O level, and meter each VM's dom0 use.\n"
               "SIGHUP reloads the configuration; SIGTERM/SIGINT put every affinity and\n"
               "memory target back as found and exit 0.\n"
               "\n"
               "  --config FILE       policy configuration (default " DEFAULT_CONFIG "; built-in\n"
               "                      defaults when that default file does not exist)\n"
               "  --root DIR          host root for /proc, /sys and cgroups (default /)\n"
               "  --hypervisor KIND   xen | sim (default: xen when /proc/xen exists, else sim,\n"
               "                      the embedded modelled host of the thesis' 56-pCPU machine)\n"
               "  --dry-run           plan and log what would change, change nothing\n"
               "  --tick-ms N         sampling period (default 1000)\n"
               "  --ticks N           stop cleanly after N ticks (tests, demos)\n"
               "  --state FILE        what was changed and how it was (default " DEFAULT_STATE ";\n"
               "                      with --hypervisor sim " DEFAULT_SIM_STATE ", reset at start)\n"
               "  --ledger FILE       the billing ledger, SQLite (default " CLOSER_LEDGER_DEFAULT_PATH ";\n"
               "                      with --hypervisor sim " DEFAULT_SIM_LEDGER ")\n"
               "  --ledger-interval S ticks are summed into ledger intervals of S seconds\n"
               "                      (default 60; 0: one interval per tick)\n"
               "  --socket PATH       control socket (default " DEFAULT_SOCKET ")\n"
               "  --cgroup-base NAME  cgroup v2 subtree closer owns (default closer)\n"
               "  --metrics ADDR:PORT serve Prometheus metrics on GET /metrics (off by default;\n"
               "                      loopback addresses only, e.g. 127.0.0.1:9633)\n"
               "  -v, --verbose       log debug messages\n"
               "  -h, --help          this text\n"
               "\n"
               "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.\n");
}

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

/* The configuration file: a missing default file means built-in defaults;
 * a missing explicit file is an error. */
static int load_config(const char *path, bool explicit_path, closer_config *ret, closer_error *err) {
        return closer_config_load(path, explicit_path, ret, err);
}

static int64_t wall_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Count every failed ledger write; log the first, then at most a few a
 * minute, and say when it works again. Nothing is lost meanwhile: the meter
 * keeps what it could not write. */
static void ledger_result(daemon_ctx *d, int r, bool was_failing, uint64_t now) {
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

static void do_tick(daemon_ctx *d) {
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
        daemon_ctx *d = userdata;
        do_tick(d);
        (void) sd_event_source_set_time(s, usec + d->tick_usec);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* A domain appeared or left: plan now rather than at the next tick, so a new
 * VM's backends are placed before they carry much traffic. */
static int on_hv_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        daemon_ctx *d = userdata;
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
        daemon_ctx *d = userdata;
        (void) s, (void) usec;
        do_tick(d);
        return 0;
}

#define EXEC_PIDS_MAX 32

/* Whether one of the exec'd processes works for a domain (`xl save du1`, a
 * libxl-save-helper, a device model): a tick now places it. Anything else
 * (scripts, monitoring, `xl list`) waits for the next tick: a tick costs far
 * more than a look at one process, and a busy dom0 execs a lot. */
static bool exec_for_domain(daemon_ctx *d, const int *pids, unsigned n) {
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
        daemon_ctx *d = userdata;
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
        if (d->soon_src && sd_event_source_get_enabled(d->soon_src, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return 0;       /* already armed */
        if (!d->soon_src)
                (void) sd_event_add_time_relative(d->ev, &d->soon_src, CLOCK_MONOTONIC, 10000, 1000, on_soon, d);
        else {
                (void) sd_event_source_set_time_relative(d->soon_src, 10000);
                (void) sd_event_source_set_enabled(d->soon_src, SD_EVENT_ONESHOT);
        }
        return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        daemon_ctx *d = userdata;
        (void) s;
        log_info("%s: putting the host back as found", strsignal((int) si->ssi_signo));
        (void) sd_event_exit(d->ev, 0);
        return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        daemon_ctx *d = userdata;
        closer_config c;
        closer_error err = {{0}};
        (void) s, (void) si;

        (void) sd_notify(0, "RELOADING=1");
        if (load_config(d->config_path, d->config_explicit, &c, &err) < 0)
                log_error("reload: %s; keeping the running configuration", err.msg);
        else if (closer_manager_check_config(d->m, &c, &err) < 0)
                /* it parses, but the planner refuses it on this host: taking
                 * it would fail every tick from now on */
                log_error("reload: %s: %s; keeping the running configuration", d->config_path, err.msg);
        else {
                /* The next tick plans with it; no tick now: a burst of
                 * SIGHUPs must not become a burst of ticks (and of ledger
                 * intervals). */
                closer_manager_set_config(d->m, &c);
                log_info("reloaded %s", d->config_path);
        }
        (void) sd_notify(0, "READY=1");
        return 0;
}

/* ---- control requests ------------------------------------------------------ */

static json_t *answer_json_text(char *text, const char *key) {
        json_error_t jerr;
        json_t *doc = text ? json_loads(text, 0, &jerr) : NULL;
        free(text);
        if (!doc)
                return json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
        return json_pack("{s:b, s:o}", "ok", 1, key, doc);
}

static json_t *explain(daemon_ctx *d, const json_t *req) {
        const closer_plan *p = d->m->plan;
        json_t *tid = json_object_get(req, "tid"), *irq = json_object_get(req, "irq");
        char why[256], cpus[256], cont[48];

        if (json_is_integer(tid)) {
                for (unsigned i = 0; i < p->n_threads; i++)
                        if (p->threads[i].tid == json_integer_value(tid)) {
                                const closer_plan_thread *t = &p->threads[i];
                                (void) closer_cpuset_format(t->dom0_cpus, cpus, sizeof(cpus));
                                return json_pack("{s:b, s:i, s:s, s:s, s:s, s:o, s:s, s:s}", "ok", 1, "tid", t->tid,
                                                 "comm", d->m->snap->threads[i].comm, "class",
                                                 closer_class_to_string(t->cls), "container",
                                                 closer_plan_thread_container(t, cont, sizeof(cont)), "domid",
                                                 t->domid > 0 ? json_integer(t->domid) : json_null(), "dom0_cpus",
                                                 cpus, "why", closer_plan_thread_why(p, t, why, sizeof(why)));
                        }
                return json_pack("{s:b, s:s}", "ok", 0, "error", "no such thread in the last scan");
        }
        if (json_is_integer(irq)) {
                for (unsigned i = 0; i < p->n_irqs; i++)
                        if (p->irqs[i].irq == json_integer_value(irq))
                                return json_pack("{s:b, s:i, s:i, s:i, s:s}", "ok", 1, "irq", p->irqs[i].irq, "domid",
                                                 p->irqs[i].domid, "dom0_cpu", p->irqs[i].dom0_cpu, "why",
                                                 p->irqs[i].why);
                return json_pack("{s:b, s:s}", "ok", 0, "error",
                                 "IRQ not a backend event channel of a running domain (closer leaves it alone)");
        }
        return json_pack("{s:b, s:s}", "ok", 0, "error", "explain needs \"tid\" or \"irq\"");
}

/* Ledger answers are made in steps from the control socket's loop turns: a
 * ledger of millions of rows must not hold the ticks (control.h). */
#define LEDGER_ROWS_PER_STEP 2000
#define LEDGER_TOTALS_ROWS_PER_STEP 20000

typedef struct ledger_work {
        closer_ledger_reader *rd;
        closer_ledger_format fmt;
} ledger_work;

static void ledger_work_free(void *state) {
        ledger_work *w = state;
        if (w)
                closer_ledger_reader_close(w->rd);
        free(w);
}

static int export_step(void *state, FILE *piece, json_t **ret_answer) {
        ledger_work *w = state;
        (void) ret_answer;
        return closer_ledger_export_step(w->rd, w->fmt, piece, LEDGER_ROWS_PER_STEP);
}

static int totals_step(void *state, FILE *piece, json_t **ret_answer) {
        ledger_work *w = state;
        closer_ledger_total *tot = NULL;
        (void) piece;
        int r = closer_ledger_totals_step(w->rd, LEDGER_TOTALS_ROWS_PER_STEP);
        if (r != 0)
                return r;
        int n = closer_ledger_reader_totals(w->rd, &tot);
        if (n < 0)
                return n;
        json_t *rows = json_array();
        for (int i = 0; i < n; i++)
                json_array_append_new(rows, json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I}", "uuid", tot[i].uuid,
                                                      "domid", tot[i].domid, "name", tot[i].name, "intervals",
                                                      (json_int_t) tot[i].n_intervals, "covered_ns",
                                                      (json_int_t) tot[i].covered_ns, "dom0_cpu_ns",
                                                      (json_int_t) tot[i].dom0_cpu_ns, "mem_kib_s",
                                                      (json_int_t) tot[i].mem_kib_s, "io_ops",
                                                      (json_int_t) tot[i].io_ops));
        free(tot);
        *ret_answer = json_pack("{s:b, s:s, s:o}", "ok", 1, "scope", "ledger", "rows", rows);
        return 0;
}

static json_t *accounting_ledger(daemon_ctx *d, const json_t *req, closer_control_work *ret_work) {
        json_t *since = json_object_get(req, "since_wall_ns");
        int64_t since_ns = json_is_integer(since) ? (int64_t) json_integer_value(since) : INT64_MIN;
        const char *fmt = json_string_value(json_object_get(req, "format"));
        ledger_work *w = calloc(1, sizeof(*w));

        if (!w)
                return json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
        if (fmt && closer_ledger_format_from_string(fmt, &w->fmt) < 0) {
                free(w);
                return json_pack("{s:b, s:s}", "ok", 0, "error", "format: expected csv or json");
        }
        int r = closer_ledger_reader_open(d->meter->ledger, since_ns, &w->rd);
        if (r < 0) {
                free(w);
                return json_pack("{s:b, s:s}", "ok", 0, "error", strerror(-r));
        }
        *ret_work = (closer_control_work) {.step = fmt ? export_step : totals_step, .free = ledger_work_free,
                                           .state = w, .stream_key = fmt ? "export" : NULL};
        return NULL;
}

static json_t *accounting(daemon_ctx *d, const json_t *req, closer_control_work *ret_work) {
        if (d->meter)
                return accounting_ledger(d, req, ret_work);
        json_t *rows = json_array();
        for (int i = 0; i < d->m->n_rows; i++) {
                const closer_acct_row *r = &d->m->rows[i];
                const closer_domain *dom = closer_snapshot_find_domain(d->m->snap, r->domid);
                json_array_append_new(rows, json_pack("{s:i, s:s, s:s, s:I, s:I, s:I}", "domid", r->domid, "uuid",
                                                      dom ? dom->uuid : "", "name", dom ? dom->name : "",
                                                      "dom0_cpu_ns", (json_int_t) r->dom0_cpu_ns, "mem_kib_s",
                                                      (json_int_t) r->mem_kib_s, "interval_ns",
                                                      (json_int_t) r->interval_ns));
        }
        return json_pack("{s:b, s:s, s:o}", "ok", 1, "scope", "last interval", "rows", rows);
}

static json_t *status(daemon_ctx *d) {
        const closer_manager_stats *st = &d->m->stats;
        char main_cpus[256];
        (void) closer_cpuset_format(&d->m->plan->main.dom0_cpus, main_cpus, sizeof(main_cpus));
        json_t *ans = json_pack("{s:b, s:s, s:b, s:I, s:I, s:i, s:i, s:{s:s, s:i, s:I}, s:{s:I, s:I, s:I, s:I, s:I}, "
                         "s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
                         "ok", 1, "hypervisor", d->hypervisor, "dry_run", d->m->dry_run, "ticks",
                         (json_int_t) st->ticks, "last_tick_ns", (json_int_t) st->last_tick_ns, "domains",
                         (int) d->m->plan->n_domains, "secondary_containers", (int) d->m->plan->n_secondary,
                         "main", "dom0_cpus", main_cpus, "node", d->m->plan->main.node, "mem_kib",
                         (json_int_t) d->m->plan->main.mem_kib, "actions", "thread",
                         (json_int_t) st->actions[CLOSER_ACT_THREAD], "irq", (json_int_t) st->actions[CLOSER_ACT_IRQ],
                         "cgroup", (json_int_t) st->actions[CLOSER_ACT_CGROUP], "memory",
                         (json_int_t) st->actions[CLOSER_ACT_MEMORY], "cap", (json_int_t) st->actions[CLOSER_ACT_CAP],
                         "errors", "transient",
                         (json_int_t) st->errors_transient, "permanent", (json_int_t) st->errors_permanent, "fatal",
                         (json_int_t) st->errors_fatal, "ledger", (json_int_t) st->errors_ledger, "tick",
                         (json_int_t) st->errors_tick, "state", (json_int_t) st->errors_state);
        if (ans && !d->m->dry_run)
                json_object_set_new(ans, "state_file",
                                    json_pack("{s:b, s:s?}", "ok", d->m->state_error == 0, "error",
                                              d->m->state_error < 0 ? strerror(-d->m->state_error) : NULL));
        if (ans && d->meter)
                /* a failing ledger is visible here, not only in the log */
                json_object_set_new(ans, "ledger",
                                    json_pack("{s:b, s:s?, s:I, s:I}", "ok", d->meter->last_error == 0, "error",
                                              d->meter->last_error < 0 ? strerror(-d->meter->last_error) : NULL,
                                              "unwritten_ns", (json_int_t) closer_meter_unwritten_ns(d->meter),
                                              "failed_writes", (json_int_t) d->meter->failures));
        json_t *cpu = json_object();
        if (!ans || !cpu) {
                json_decref(cpu);
                return ans;
        }
        for (unsigned i = 0; i < _CLOSER_PHASE_MAX; i++)
                json_object_set_new(cpu, closer_tick_phase_name(i), json_integer((json_int_t) st->phase_cpu_ns[i]));
        json_object_set_new(ans, "tick_cpu_ns", cpu);
        return ans;
}

static json_t *handle(void *userdata, const json_t *req, closer_control_work *ret_work) {
        daemon_ctx *d = userdata;
        const char *cmd = json_string_value(json_object_get(req, "command"));

        if (!cmd)
                return json_pack("{s:b, s:s}", "ok", 0, "error", "missing \"command\"");
        if (!d->m->plan)
                return json_pack("{s:b, s:s}", "ok", 0, "error", "not ready: no tick has completed yet");
        if (strcmp(cmd, "status") == 0)
                return status(d);
        if (strcmp(cmd, "snapshot") == 0)
                return answer_json_text(closer_snapshot_to_json(d->m->snap), "snapshot");
        if (strcmp(cmd, "plan") == 0)
                return answer_json_text(closer_plan_to_json(d->m->plan), "plan");
        if (strcmp(cmd, "accounting") == 0)
                return accounting(d, req, ret_work);
        if (strcmp(cmd, "explain") == 0)
                return explain(d, req);
        return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command");
}

static int render_metrics(void *userdata, char **ret_text) {
        daemon_ctx *d = userdata;
        const closer_manager *m = d->m;
        closer_metrics_domain *doms = calloc(m->n_dom ? m->n_dom : 1, sizeof(*doms));
        if (!doms)
                return -ENOMEM;
        size_t n = 0;
        for (unsigned i = 0; i < m->n_dom; i++) {
                const closer_domain *dom = m->snap ? closer_snapshot_find_domain(m->snap, m->dom[i].domid) : NULL;
                doms[n++] = (closer_metrics_domain) {.domid = m->dom[i].domid, .uuid = m->dom[i].uuid,
                                                     .name = dom ? dom->name : "",
                                                     .dom0_cpu_ns_total = m->dom[i].dom0_cpu_ns_total,
                                                     .dom0_mem_kib = m->dom[i].dom0_reserve_kib};
        }
        const closer_metrics_count actions[] = {
                {"thread", m->stats.actions[CLOSER_ACT_THREAD]}, {"irq", m->stats.actions[CLOSER_ACT_IRQ]},
                {"cgroup", m->stats.actions[CLOSER_ACT_CGROUP]}, {"memory", m->stats.actions[CLOSER_ACT_MEMORY]},
                {"cap", m->stats.actions[CLOSER_ACT_CAP]},
        };
        const closer_metrics_count errors[] = {
                {"transient", m->stats.errors_transient}, {"permanent", m->stats.errors_permanent},
                {"fatal", m->stats.errors_fatal},     {"ledger", m->stats.errors_ledger},
                {"tick", m->stats.errors_tick},       {"state", m->stats.errors_state},
        };
        closer_metrics_count tick_cpu[_CLOSER_PHASE_MAX];
        for (unsigned i = 0; i < _CLOSER_PHASE_MAX; i++)
                tick_cpu[i] = (closer_metrics_count) {closer_tick_phase_name(i), m->stats.phase_cpu_ns[i]};
        closer_metrics mx = {.domains = doms, .n_domains = n, .main_load = m->stats.main_load,
                             .main_cpus = m->plan ? closer_cpuset_count(&m->plan->main.dom0_cpus) : 0,
                             .actions = actions, .n_actions = 5, .errors = errors,
                             .n_errors = sizeof(errors) / sizeof(errors[0]),
                             .tick_cpu_ns = tick_cpu, .n_tick_cpu = m->cpu_ns ? _CLOSER_PHASE_MAX : 0};
        int r = closer_metrics_render(&mx, ret_text);
        free(doms);
        return r;
}

/* Serve the metrics, then wake up again at the server's next deadline:
 * idle connections are only closed when it runs, and its epoll fd says
 * nothing about deadlines (without this, 16 idle connections held the
 * endpoint for good). */
static void metrics_process(daemon_ctx *d) {
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

/* ---- main --------------------------------------------------------------------- */

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
        int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = -errno;
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                buf[n > 0 ? n : 0] = '\0';
                *ret_holder = strtol(buf, NULL, 10);
                close(fd);
                return r;
        }
        int n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t) n, 0) != n) {
                /* the pid is only for the message: the lock is what counts */
        }
        *ret_fd = fd;
        return 0;
}

/* What an option names must be ours to replace: a file of another kind at
 * that path is bad usage, and left alone (before, --socket and --state
 * deleted whatever was there, even with --dry-run). */
static bool path_is_other(const char *path, mode_t want) {
        struct stat st;
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) != want;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},   {"root", required_argument, NULL, 'r'},
                {"hypervisor", required_argument, NULL, 'H'}, {"dry-run", no_argument, NULL, 'n'},
                {"tick-ms", required_argument, NULL, 't'},  {"ticks", required_argument, NULL, 'T'},
                {"state", required_argument, NULL, 's'},    {"socket", required_argument, NULL, 'S'},
                {"cgroup-base", required_argument, NULL, 'g'}, {"verbose", no_argument, NULL, 'v'},
                {"ledger", required_argument, NULL, 'L'},
                {"ledger-interval", required_argument, NULL, 'I'},
                {"metrics", required_argument, NULL, 'M'},
                {"help", no_argument, NULL, 'h'},           {0},
        };
        daemon_ctx d = {.config_path = DEFAULT_CONFIG, .tick_usec = 1000000, .ticks_left = -1,
                        .ledger_log = CLOSER_RATELIMIT_INIT(60 * 1000000, 3),
                        .tick_log = CLOSER_RATELIMIT_INIT(60 * 1000000, 3)};
        const char *root = "/", *state_path = DEFAULT_STATE, *socket_path = DEFAULT_SOCKET, *cgroup_base = NULL;
        const char *ledger_path = NULL;
        unsigned long ledger_interval_s = 60;
        const char *metrics_listen = NULL;
        bool state_given = false;
        bool dry_run = false;
        int verbosity = LOG_INFO, o;
        char *end;

        opterr = 0;
        while ((o = getopt_long(argc, argv, "vh", opts, NULL)) >= 0)
                switch (o) {
                case 'c':
                        d.config_path = optarg;
                        d.config_explicit = true;
                        break;
                case 'r':
                        root = optarg;
                        break;
                case 'H':
                        if (strcmp(optarg, "xen") != 0 && strcmp(optarg, "sim") != 0) {
                                fprintf(stderr, "closerd: --hypervisor: expected xen or sim, got '%s'\n", optarg);
                                return 2;
                        }
                        d.hypervisor = optarg;
                        break;
                case 'n':
                        dry_run = true;
                        break;
                case 't': {
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || *end || v < 10 || v > 3600000 || optarg[0] == '-') {
                                fprintf(stderr, "closerd: --tick-ms: expected 10..3600000, got '%s'\n", optarg);
                                return 2;
                        }
                        d.tick_usec = v * 1000;
                        break;
                }
                case 'T': {
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || *end || v < 1) {
                                fprintf(stderr, "closerd: --ticks: expected a positive number, got '%s'\n", optarg);
                                return 2;
                        }
                        d.ticks_left = v;
                        break;
                }
                case 's':
                        state_path = optarg;
                        state_given = true;
                        break;
                case 'S':
                        socket_path = optarg;
                        break;
                case 'g':
                        cgroup_base = optarg;
                        break;
                case 'L':
                        ledger_path = optarg;
                        break;
                case 'M':
                        metrics_listen = optarg;
                        break;
                case 'I':
                        errno = 0;
                        ledger_interval_s = strtoul(optarg, &end, 10);
                        if (errno || *end || optarg[0] == '-' || ledger_interval_s > 86400) {
                                fprintf(stderr, "closerd: --ledger-interval: expected 0..86400 seconds, got '%s'\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'v':
                        verbosity = LOG_DEBUG;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        fprintf(stderr, "closerd: bad option '%s' (see closerd --help)\n", argv[optind - 1]);
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "closerd: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        closer_log_open("closerd", verbosity);

        closer_config cfg;
        closer_error err = {{0}};
        if (load_config(d.config_path, d.config_explicit, &cfg, &err) < 0) {
                fprintf(stderr, "closerd: %s\n", err.msg);
                return 2;
        }
        d.config_source = d.config_explicit || access(d.config_path, F_OK) == 0 ? d.config_path
                                                                                : "built-in configuration";
        if (!d.hypervisor)
                d.hypervisor = access("/proc/xen/capabilities", F_OK) == 0 ? "xen" : "sim";

        int r;
        bool sim = strcmp(d.hypervisor, "sim") == 0;
        if (sim && !state_given)
                state_path = DEFAULT_SIM_STATE;
        if (!ledger_path)
                ledger_path = sim ? DEFAULT_SIM_LEDGER : CLOSER_LEDGER_DEFAULT_PATH;
        if (path_is_other(socket_path, S_IFSOCK)) {
                fprintf(stderr, "closerd: --socket %s: exists and is not a socket; not replacing it\n", socket_path);
                return 2;
        }
        if (!dry_run && path_is_other(state_path, S_IFREG)) {
                fprintf(stderr, "closerd: --state %s: exists and is not a regular file\n", state_path);
                return 2;
        }
        if (make_parent_dir(state_path) < 0 || make_parent_dir(socket_path) < 0 ||
            (!dry_run && make_parent_dir(ledger_path) < 0))
                log_warning("cannot create the directories of %s / %s / %s", state_path, socket_path, ledger_path);
        /* One closerd per socket, state file and ledger, checked before any
         * of them is touched. */
        int locks[3] = {-1, -1, -1};
        const char *locked[3] = {socket_path, state_path, ledger_path};
        for (unsigned i = 0; i < (dry_run ? 1u : 3u); i++) {
                long holder = 0;
                r = take_lock(locked[i], &locks[i], &holder);
                if (r == -EWOULDBLOCK) {
                        fprintf(stderr, "closerd: another closerd (pid %ld) uses %s\n", holder, locked[i]);
                        return 1;
                }
                if (r < 0) {
                        fprintf(stderr, "closerd: cannot lock %s.lock: %s\n", locked[i], strerror(-r));
                        return 1;
                }
        }
        if (sim && !dry_run && access(state_path, F_OK) == 0) {
                /* Each run models a new host: what a previous run changed on
                 * its own modelled host is nothing to restore here. Only a
                 * state file is reset, never someone else's file. */
                closer_state *old = NULL;
                r = closer_state_load(state_path, &old, &err);
                closer_state_free(old);
                if (r < 0) {
                        fprintf(stderr, "closerd: --state %s: not a closer-state/1 file; not replacing it (%s)\n",
                                state_path, err.msg);
                        return 2;
                }
                (void) unlink(state_path);
        }
        if (sim) {
                d.sim = closer_simhost_new_reference();
                if (!d.sim || closer_simhost_hypervisor(d.sim, &d.hv) < 0 || closer_simhost_hostos(d.sim, &d.host) < 0) {
                        fprintf(stderr, "closerd: out of memory\n");
                        return 1;
                }
                log_info("hypervisor: sim (modelled host: 4 sockets x 14 pCPUs, 40 GiB, 12 domains)");
        } else {
#ifdef HAVE_XEN
                r = closer_xen_hypervisor_new(&d.hv, &err);
                if (r < 0) {
                        fprintf(stderr, "closerd: %s\n", err.msg);
                        return 1;
                }
                r = closer_linux_hostos_new(root, cgroup_base, &d.host, &err);
                if (r < 0) {
                        fprintf(stderr, "closerd: %s\n", err.msg);
                        return 1;
                }
                /* a kept stat file per dom0 thread (linux/proc-cache.c) */
                long nofile = closer_rlimit_nofile_raise();
                if (nofile < 0)
                        log_warning("cannot raise the open-files limit: %s; dom0 threads beyond it are read "
                                    "the slow way", strerror((int) -nofile));
#else
                (void) root, (void) cgroup_base;
                fprintf(stderr, "closerd: this build has no Xen support (libxen-dev was missing); use --hypervisor sim\n");
                return 2;
#endif
        }

        r = closer_manager_new(&cfg, d.hv, d.host, dry_run, dry_run ? NULL : state_path, &d.m, &err);
        if (r < 0) {
                fprintf(stderr, "closerd: %s\n", err.msg);
                return r == -EINVAL ? 2 : 1;
        }
        d.m->cpu_ns = thread_cpu_ns;
        if (!dry_run) {
                /* closerd writes there what it is about to change before it
                 * changes it: if it cannot, it could do nothing but fail
                 * every tick while saying READY. */
                r = closer_manager_save_state(d.m);
                if (r < 0) {
                        fprintf(stderr, "closerd: cannot write the state file %s: %s\n", state_path, strerror(-r));
                        return 1;
                }
        }

        if (!dry_run) {
                char boot_id[64] = "";
                FILE *bf = fopen("/proc/sys/kernel/random/boot_id", "re");
                if (bf) {
                        if (!fgets(boot_id, sizeof(boot_id), bf))
                                boot_id[0] = '\0';
                        fclose(bf);
                }
                boot_id[strcspn(boot_id, "\n")] = '\0';
                r = closer_meter_open(ledger_path, boot_id, ledger_interval_s * 1000000000ull, &d.meter, &err);
                if (r < 0) {
                        fprintf(stderr, "closerd: ledger: %s\n", err.msg);
                        return r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EINVAL ? 2 : 1;
                }
        }

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&d.ev);
        if (r < 0) {
                log_error("sd-event: %s", strerror(-r));
                return 1;
        }
        (void) sd_event_set_watchdog(d.ev, true);
        sd_event_add_signal(d.ev, NULL, SIGTERM, on_term, &d);
        sd_event_add_signal(d.ev, NULL, SIGINT, on_term, &d);
        sd_event_add_signal(d.ev, NULL, SIGHUP, on_hup, &d);
        r = sd_event_add_time(d.ev, &d.tick_src, CLOCK_MONOTONIC, now_usec(), 1000, on_tick, &d);
        if (r < 0) {
                log_error("tick timer: %s", strerror(-r));
                return 1;
        }
        if (d.hv->ops->event_fd && d.hv->ops->event_fd(d.hv->data) >= 0)
                sd_event_add_io(d.ev, NULL, d.hv->ops->event_fd(d.hv->data), EPOLLIN, on_hv_event, &d);
        if (metrics_listen) {
                char addr[64];
                const char *colon = strrchr(metrics_listen, ':');
                unsigned long port = 0;
                if (colon) {
                        errno = 0;
                        port = strtoul(colon + 1, &end, 10);
                }
                if (!colon || errno || *end || colon[1] == '\0' || port > 65535 ||
                    (size_t) (colon - metrics_listen) >= sizeof(addr)) {
                        fprintf(stderr, "closerd: --metrics: expected ADDRESS:PORT, got '%s'\n", metrics_listen);
                        return 2;
                }
                snprintf(addr, sizeof(addr), "%.*s", (int) (colon - metrics_listen), metrics_listen);
                /* [::1]:9633 */
                if (addr[0] == '[' && addr[strlen(addr) - 1] == ']') {
                        memmove(addr, addr + 1, strlen(addr));
                        addr[strlen(addr) - 1] = '\0';
                }
                r = closer_metrics_http_start(addr, (uint16_t) port, render_metrics, &d, &d.metrics);
                if (r < 0) {
                        fprintf(stderr, "closerd: --metrics %s: %s\n", metrics_listen,
                                r == -EPERM ? "only loopback addresses are served" : strerror(-r));
                        return r == -EPERM || r == -EINVAL ? 2 : 1;
                }
                sd_event_add_io(d.ev, NULL, closer_metrics_http_fd(d.metrics), EPOLLIN, on_metrics, &d);
                r = sd_event_add_time_relative(d.ev, &d.metrics_timer, CLOCK_MONOTONIC, 1000000, 100000,
                                               on_metrics_timer, &d);
                if (r < 0) {
                        log_error("metrics timer: %s", strerror(-r));
                        return 1;
                }
                (void) sd_event_source_set_enabled(d.metrics_timer, SD_EVENT_OFF);
                log_info("metrics on http://%s/metrics", metrics_listen);
        }
        if (!d.sim && strcmp(root, "/") == 0) {
                r = closer_procevents_open(&d.procev);
                if (r >= 0 && (r = closer_root_open("/", &d.proc_root)) < 0)
                        d.procev = closer_procevents_close(d.procev);
                if (r >= 0 && d.host->ops->exec_seen)
                        d.host->ops->exec_seen(d.host->data, CLOSER_EXECS_TRACKED);
                if (r < 0)
                        log_warning("process events: %s; short-lived admin commands are placed at the next tick only",
                                    strerror(-r));
                else
                        sd_event_add_io(d.ev, NULL, closer_procevents_fd(d.procev), EPOLLIN, on_procevents, &d);
        }
        closer_control_server *control = NULL;
        int cfd = closer_control_listen(socket_path);
        if (cfd >= 0 && (r = closer_control_server_new(d.ev, cfd, geteuid(), handle, &d, &control)) < 0) {
                close(cfd);
                cfd = r;
        }
        if (cfd == -EEXIST) {
                fprintf(stderr, "closerd: --socket %s: exists and is not a socket; not replacing it\n", socket_path);
                return 2;
        }
        if (cfd < 0)
                log_warning("control socket %s: %s (closerctl will not reach this daemon)", socket_path,
                            strerror(-cfd));

        r = sd_event_loop(d.ev);
        (void) sd_notify(0, "STOPPING=1");
        if (r < 0)
                log_error("event loop: %s", strerror(-r));
        if (d.meter) {
                /* Stopping: waiting a little for a lock costs nothing now. */
                closer_ledger_set_busy_timeout(d.meter->ledger, 5000);
                int rr = closer_meter_flush(d.meter);
                if (rr < 0)
                        log_error("ledger: the last %.1f s could not be recorded: %s",
                                  (double) closer_meter_unwritten_ns(d.meter) / 1e9, strerror(-rr));
        }
        if (!dry_run) {
                int rr = closer_manager_restore(d.m);
                if (rr < 0)
                        log_error("restoring the host: %s", strerror(-rr));
                else
                        log_info("host restored as found");
        }
        control = closer_control_server_free(control);
        if (cfd >= 0) {
                close(cfd);
                (void) unlink(socket_path);
        }
        sd_event_source_unref(d.tick_src);
        sd_event_source_unref(d.soon_src);
        sd_event_source_unref(d.metrics_timer);
        closer_procevents_close(d.procev);
        closer_root_free(d.proc_root);
        sd_event_unref(d.ev);
        closer_manager_free(d.m);
        closer_meter_free(d.meter);
        closer_metrics_http_stop(d.metrics);
        closer_hypervisor_free(d.hv);
        closer_hostos_free(d.host);
        closer_simhost_free(d.sim);
        for (unsigned i = 0; i < 3; i++)
                if (locks[i] >= 0)
                        close(locks[i]);
        if (d.exit_status)
                return d.exit_status;
        return r < 0 ? 1 : 0;
}
