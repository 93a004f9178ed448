/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd's answers: the control protocol (closer-control/1: status,
 * snapshot, plan, accounting, explain; docs/formats.md) and the metrics
 * page, made from what the last tick saw, planned and counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "daemon/closerd.h"
#include "daemon/metrics.h"

static json_t *answer_json_text(char *text, const char *key) {
        json_error_t jerr;
        json_t *doc = text ? json_loads(text, 0, &jerr) : NULL;
        free(text);
        if (!doc)
                return json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
        return json_pack("{s:b, s:o}", "ok", 1, key, doc);
}

static json_t *explain(closerd_ctx *d, const json_t *req) {
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
        _cleanup_free_ closer_ledger_total *tot = NULL;
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
        *ret_answer = json_pack("{s:b, s:s, s:o}", "ok", 1, "scope", "ledger", "rows", rows);
        return 0;
}

static json_t *accounting_ledger(closerd_ctx *d, const json_t *req, closer_control_work *ret_work) {
        json_t *since = json_object_get(req, "since_wall_ns");
        int64_t since_ns = json_is_integer(since) ? (int64_t) json_integer_value(since) : INT64_MIN;
        const char *fmt = json_string_value(json_object_get(req, "format"));
        _cleanup_free_ ledger_work *w = calloc(1, sizeof(*w));

        if (!w)
                return json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
        if (fmt && closer_ledger_format_from_string(fmt, &w->fmt) < 0)
                return json_pack("{s:b, s:s}", "ok", 0, "error", "format: expected csv or json");
        int r = closer_ledger_reader_open(d->meter->ledger, since_ns, &w->rd);
        if (r < 0)
                return json_pack("{s:b, s:s}", "ok", 0, "error", strerror(-r));
        *ret_work = (closer_control_work) {.step = fmt ? export_step : totals_step, .free = ledger_work_free,
                                           .state = TAKE_PTR(w), .stream_key = fmt ? "export" : NULL};
        return NULL;
}

static json_t *accounting(closerd_ctx *d, const json_t *req, closer_control_work *ret_work) {
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

static json_t *status(closerd_ctx *d) {
        const closer_manager_stats *st = &d->m->stats;
        char main_cpus[256];
        (void) closer_cpuset_format(&d->m->plan->main.dom0_cpus, main_cpus, sizeof(main_cpus));
        json_t *ans = json_pack("{s:b, s:s, s:b, s:I, s:I, s:i, s:i, s:{s:s, s:i, s:I}, s:{s:I, s:I, s:I, s:I, s:I}, "
                         "s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
                         "ok", 1, "hypervisor", d->args->hypervisor, "dry_run", d->m->dry_run, "ticks",
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

json_t *closerd_handle(void *userdata, const json_t *req, closer_control_work *ret_work) {
        closerd_ctx *d = userdata;
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

int closerd_render_metrics(void *userdata, char **ret_text) {
        closerd_ctx *d = userdata;
        const closer_manager *m = d->m;
        _cleanup_free_ closer_metrics_domain *doms = calloc(m->n_dom ? m->n_dom : 1, sizeof(*doms));
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
                             .actions = actions, .n_actions = ELEMENTSOF(actions), .errors = errors,
                             .n_errors = ELEMENTSOF(errors),
                             .tick_cpu_ns = tick_cpu, .n_tick_cpu = m->cpu_ns ? _CLOSER_PHASE_MAX : 0};
        return closer_metrics_render(&mx, ret_text);
}

