/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The op-table wrapper and the array frees shared by every host-OS adapter
 * (linux, sim): here and not in src/linux, so that an adapter or a caller
 * needs only the op table, never the Linux adapter, to free what it got. */
#include <stdlib.h>

#include "closer/hostos.h"

closer_hostos *closer_hostos_free(closer_hostos *h) {
        if (!h)
                return NULL;
        if (h->ops && h->ops->free)
                h->ops->free(h->data);
        free(h);
        return NULL;
}

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
