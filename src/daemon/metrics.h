/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * closerd's metrics in the Prometheus text exposition format 0.0.4, rendered
 * from a plain struct the daemon fills each tick. Series:
 *
 *   closer_domain_dom0_cpu_seconds_total{domid,uuid,name}  counter
 *   closer_domain_dom0_memory_bytes{domid,uuid,name}       gauge
 *   closer_main_container_load                             gauge
 *   closer_main_container_cpus                             gauge
 *   closer_placement_actions_total{kind}                   counter
 *   closer_errors_total{kind}                              counter
 *     (kinds from closerd: transient, permanent, fatal, ledger, tick, ...)
 *   closer_tick_cpu_seconds_total{phase}                   counter
 *
 * Label values are escaped as the format requires (backslash, double quote,
 * line feed) and made valid UTF-8 (invalid bytes become U+FFFD): a domain's
 * name can be chosen by its guest. A domain's series carry its UUID because
 * Xen reuses domids: a new domain with an old domid is a new series.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct closer_metrics_domain {
        int domid;
        const char *uuid;
        const char *name;               /* untrusted; NULL = "" */
        uint64_t dom0_cpu_ns_total;     /* dom0 CPU spent for it since closerd tracks it */
        uint64_t dom0_mem_kib;          /* dom0 memory held for it now */
} closer_metrics_domain;

/* One labelled counter: kind is a short word (e.g. "irq_affinity",
 * "balloon_target"); kinds must be unique within their array. */
typedef struct closer_metrics_count {
        const char *kind;
        uint64_t total;
} closer_metrics_count;

typedef struct closer_metrics {
        const closer_metrics_domain *domains;
        size_t n_domains;
        double main_load;               /* CPUs' worth of work in the main container, last tick */
        unsigned main_cpus;             /* CPUs of the main container */
        const closer_metrics_count *actions;    /* placement actions applied, by kind */
        size_t n_actions;
        const closer_metrics_count *errors;     /* errors, by kind */
        size_t n_errors;
        const closer_metrics_count *tick_cpu_ns;        /* closerd's own CPU, kind = phase */
        size_t n_tick_cpu;
} closer_metrics;

#define CLOSER_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Render m into a malloc'd NUL-terminated text (caller frees). Returns its
 * length (>= 0), or -EINVAL (a NULL kind or uuid, a kind given twice) or
 * -ENOMEM. *ret_text is untouched on failure.
 */
int closer_metrics_render(const closer_metrics *m, char **ret_text);

/* Write s to f as a Prometheus label value (without the quotes). */
void closer_metrics_put_label_value(FILE *f, const char *s);
