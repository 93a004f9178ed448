/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus text exposition (format 0.0.4) of closerd's metrics. Only the
 * renderer: plain struct in, text out, so the tests read it back without a
 * server. Counters in the format's base units (seconds, bytes).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "closer/utf8.h"
#include "daemon/metrics.h"

void closer_metrics_put_label_value(FILE *f, const char *str) {
        const unsigned char *s = (const unsigned char *) (str ? str : "");
        size_t n = strlen((const char *) s);
        for (size_t i = 0; i < n;) {
                size_t len = closer_utf8_seq_len(s + i, n - i);
                if (len == 0) {
                        fputs("\xef\xbf\xbd", f);
                        i++;
                        continue;
                }
                if (s[i] == '\\')
                        fputs("\\\\", f);
                else if (s[i] == '"')
                        fputs("\\\"", f);
                else if (s[i] == '\n')
                        fputs("\\n", f);
                else
                        fwrite(s + i, 1, len, f);
                i += len;
        }
}

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ns → seconds, exactly: integer part and nine decimals. */
static void put_seconds(FILE *f, uint64_t ns) {
        fprintf(f, "%" PRIu64 ".%09" PRIu64, ns / UINT64_C(1000000000), ns % UINT64_C(1000000000));
}

/* A float as the format spells it (Go's ParseFloat): NaN, +Inf, -Inf. */
static void put_double(FILE *f, double v) {
        if (isnan(v))
                fputs("NaN", f);
        else if (isinf(v))
                fputs(v > 0 ? "+Inf" : "-Inf", f);
        else
                fprintf(f, "%.17g", v);
}

static void domain_labels(FILE *f, const closer_metrics_domain *d) {
        fprintf(f, "{domid=\"%d\",uuid=\"", d->domid);
        closer_metrics_put_label_value(f, d->uuid);
        fputs("\",name=\"", f);
        closer_metrics_put_label_value(f, d->name);
        fputs("\"}", f);
}

static int check_counts(const closer_metrics_count *c, size_t n) {
        if (n > 0 && !c)
                return -EINVAL;
        /* A kind twice would be two samples of one series: refuse. The
         * arrays hold a handful of kinds, so quadratic is fine. */
        for (size_t i = 0; i < n; i++) {
                if (!c[i].kind || !*c[i].kind)
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(c[i].kind, c[j].kind) == 0)
                                return -EINVAL;
        }
        return 0;
}

static void counts(FILE *f, const char *name, const closer_metrics_count *c, size_t n) {
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s{kind=\"", name);
                closer_metrics_put_label_value(f, c[i].kind);
                fprintf(f, "\"} %" PRIu64 "\n", c[i].total);
        }
}

int closer_metrics_render(const closer_metrics *m, char **ret_text) {
        char *buf = NULL;
        size_t len = 0;
        int r;

        if (!m || !ret_text || (m->n_domains > 0 && !m->domains))
                return -EINVAL;
        for (size_t i = 0; i < m->n_domains; i++)
                if (!m->domains[i].uuid)
                        return -EINVAL;
        r = check_counts(m->actions, m->n_actions);
        if (r >= 0)
                r = check_counts(m->errors, m->n_errors);
        if (r >= 0)
                r = check_counts(m->tick_cpu_ns, m->n_tick_cpu);
        if (r < 0)
                return r;

        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;

        header(f, "closer_domain_dom0_cpu_seconds_total", "counter",
               "dom0 CPU time spent on behalf of the domain (its backends, device model, toolstack work).");
        for (size_t i = 0; i < m->n_domains; i++) {
                fputs("closer_domain_dom0_cpu_seconds_total", f);
                domain_labels(f, &m->domains[i]);
                fputc(' ', f);
                put_seconds(f, m->domains[i].dom0_cpu_ns_total);
                fputc('\n', f);
        }

        header(f, "closer_domain_dom0_memory_bytes", "gauge",
               "dom0 memory held for the domain now.");
        for (size_t i = 0; i < m->n_domains; i++) {
                uint64_t kib = m->domains[i].dom0_mem_kib;
                fputs("closer_domain_dom0_memory_bytes", f);
                domain_labels(f, &m->domains[i]);
                fprintf(f, " %" PRIu64 "\n", kib > UINT64_MAX / 1024 ? UINT64_MAX : kib * 1024);
        }

        header(f, "closer_main_container_load", "gauge",
               "CPUs' worth of work done in the main dom0 container over the last tick.");
        fputs("closer_main_container_load ", f);
        put_double(f, m->main_load);
        fputc('\n', f);
        header(f, "closer_main_container_cpus", "gauge", "CPUs of the main dom0 container.");
        fprintf(f, "closer_main_container_cpus %u\n", m->main_cpus);

        header(f, "closer_placement_actions_total", "counter",
               "Placement actions applied (affinities, cgroup moves, IRQ routes, balloon targets), by kind.");
        counts(f, "closer_placement_actions_total", m->actions, m->n_actions);
        header(f, "closer_errors_total", "counter", "Errors met by closerd, by kind.");
        counts(f, "closer_errors_total", m->errors, m->n_errors);
        if (m->n_tick_cpu) {
                header(f, "closer_tick_cpu_seconds_total", "counter",
                       "CPU time closerd itself used, by phase of its tick.");
                for (size_t i = 0; i < m->n_tick_cpu; i++) {
                        fputs("closer_tick_cpu_seconds_total{phase=\"", f);
                        closer_metrics_put_label_value(f, m->tick_cpu_ns[i].kind);
                        fputs("\"} ", f);
                        put_seconds(f, m->tick_cpu_ns[i].total);
                        fputc('\n', f);
                }
        }

        bool bad = ferror(f);
        if (fclose(f) != 0 || bad) {
                free(buf);
                return -ENOMEM;
        }
        if (len > INT_MAX) {
                free(buf);
                return -E2BIG;
        }
        *ret_text = buf;
        return (int) len;
}
