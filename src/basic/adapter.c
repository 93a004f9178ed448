/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every adapter shares beside its op table (closer/hypervisor.h: xen,
 * sim; closer/hostos.h: linux, sim): here and not in an adapter, so that
 * another adapter or a caller needs only the op tables, never src/linux,
 * to free what it got.
 */
#include <stdlib.h>

#include "closer/hostos.h"
#include "closer/hypervisor.h"

/* Frees through ops->free; accepts NULL; returns NULL. */
#define DEFINE_ADAPTER_FREE(type, func)                         \
        type *func(type *a) {                                   \
                if (!a)                                         \
                        return NULL;                            \
                if (a->ops && a->ops->free)                     \
                        a->ops->free(a->data);                  \
                free(a);                                        \
                return NULL;                                    \
        }

DEFINE_ADAPTER_FREE(closer_hypervisor, closer_hypervisor_free)
DEFINE_ADAPTER_FREE(closer_hostos, closer_hostos_free)

void closer_hostos_threads_free(closer_thread *t, unsigned n) {
        for (unsigned i = 0; t && i < n; i++) {
                for (unsigned k = 0; t[i].cmdline && k < t[i].n_cmdline; k++)
                        free(t[i].cmdline[k]);
                free(t[i].cmdline);
                free(t[i].stdout_path);
        }
        free(t);
}

void closer_hostos_irqs_free(closer_irq *irqs, unsigned n) {
        for (unsigned i = 0; irqs && i < n; i++)
                free(irqs[i].per_cpu_counts);
        free(irqs);
}
