/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "closer/hostos.h"

/* irqbalance's activate.c sorting, generalised: what to do after a failed
 * write to one thread or IRQ. */
closer_err_kind closer_err_kind_of(int r) {
        switch (-r) {
        case 0:
                return CLOSER_ERR_NONE;
        case EBUSY:
        case EAGAIN:
        case EINTR:
                return CLOSER_ERR_TRANSIENT;
        case ESRCH:             /* the thread exited */
        case ENOENT:            /* the IRQ was freed */
        case EINVAL:            /* an IRQ that cannot move (per-CPU, managed), a set the object refuses */
        case EIO:
                return CLOSER_ERR_PERMANENT;
        default:
                return CLOSER_ERR_FATAL;
        }
}

const char *closer_err_kind_to_string(closer_err_kind k) {
        switch (k) {
        case CLOSER_ERR_NONE: return "none";
        case CLOSER_ERR_TRANSIENT: return "transient";
        case CLOSER_ERR_PERMANENT: return "permanent";
        case CLOSER_ERR_FATAL: return "fatal";
        }
        return "?";
}
