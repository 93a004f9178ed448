/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "closer/snapshot.h"

/*
 * Classification of dom0 threads and processes into the thesis' task groups
 * (table 3.1), with the domain they work for. Rules are data (a table in
 * rules.c); the first matching rule wins; no match → T0, no domain.
 * A domid is only ever taken from what names it unambiguously (a backend
 * thread name, `-xen-domid D`, an `xl` argument that is a live domid or the
 * exact name of exactly one live domain): never guessed.
 */

typedef enum closer_class {
        CLOSER_T0 = 0,  /* base OS */
        CLOSER_T1,      /* datacenter agents */
        CLOSER_T2,      /* VM administration (toolstack) */
        CLOSER_T3,      /* I/O backends */
} closer_class;

typedef struct closer_classification {
        closer_class cls;
        int domid;                /* CLOSER_DOMID_NONE when not working for one domain */
        bool admin_for_domain;    /* T2 work on one domain (save/migrate/shutdown/destroy/restore):
                                   * placed like that domain's T3 */
        /* The backend queue it serves (blkback ring, netback queue), -1 when
         * its work is not one queue's (QEMU, toolstack) or the name does not
         * say: the policy runs a queue's thread on the socket of the vCPU
         * that uses the queue (queue q -> vCPU q mod n, as for its IRQ). */
        int queue;
        const char *rule;         /* name of the rule that matched (static string) */
        char what[96];            /* short human text for `why` */
} closer_classification;

const char *closer_class_to_string(closer_class c);

/*
 * Classify thread `t` of snapshot `s` (the snapshot supplies the parent's
 * cmdline and the live domains, to resolve `xl save NAME`). Pure.
 */
void closer_classify_thread(const closer_snapshot *s, const closer_thread *t, closer_classification *ret);

/*
 * Whether a classified process works for one domain, or may once its parent
 * is known (a libxl-save-helper): the processes closerd places at once when
 * they exec, instead of at the next tick. Pure.
 */
bool closer_classification_for_domain(const closer_classification *c);

typedef struct closer_irq_class {
        int domid;                /* CLOSER_DOMID_NONE if not a backend IRQ of a domain */
        int queue;                /* -1 if unknown */
        closer_irq_kind kind;
        char what[96];
} closer_irq_class;

/* Classify an IRQ from its name (netback carries domid/queue) or, failing
 * that, from the adapter-supplied domid/queue/kind fields. Pure. */
void closer_classify_irq(const closer_irq *irq, closer_irq_class *ret);
