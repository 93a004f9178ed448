/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The op-table wrapper shared by every hypervisor adapter (xen, sim). */
#include <stdlib.h>

#include "closer/hypervisor.h"

closer_hypervisor *closer_hypervisor_free(closer_hypervisor *h) {
        if (!h)
                return NULL;
        if (h->ops && h->ops->free)
                h->ops->free(h->data);
        free(h);
        return NULL;
}
