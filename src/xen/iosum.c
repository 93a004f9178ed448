/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One I/O counter per domain from several sources' counters (xen.h says why). */
#include <errno.h>
#include <stdlib.h>

#include "basic/alloc-util.h"
#include "basic/macro.h"
#include "basic/sort-util.h"
#include "xen/xen.h"

static closer_xen_io_source *find(closer_xen_io_sum *s, unsigned n, int domid, uint64_t source) {
        for (unsigned i = 0; i < n; i++)
                if (s->v[i].domid == domid && s->v[i].source == source)
                        return &s->v[i];
        return NULL;
}

static bool domain_known(const closer_xen_io_sum *s, unsigned n, int domid) {
        for (unsigned i = 0; i < n; i++)
                if (s->v[i].domid == domid)
                        return true;
        return false;
}

static bool domain_read(const closer_xen_io_reading *r, unsigned n_r, int domid) {
        for (unsigned i = 0; i < n_r; i++)
                if (r[i].domid == domid)
                        return true;
        return false;
}

static int cmp_domid(const void *a, const void *b) {
        const closer_hv_io *x = a, *y = b;
        return (x->domid > y->domid) - (x->domid < y->domid);
}

int closer_xen_io_sum_update(closer_xen_io_sum *s, const closer_xen_io_reading *r, unsigned n_r,
                             closer_hv_io **ret, unsigned *ret_n) {
        _cleanup_free_ closer_hv_io *rows = NULL;
        unsigned n_rows = 0, cap_rows = 0, n_old = s->n;

        /* room first: past this point nothing fails, the sum moves or not */
        if (!GREEDY_REALLOC(s->v, s->cap, s->n + n_r) || !GREEDY_REALLOC(rows, cap_rows, n_r))
                return -ENOMEM;
        for (unsigned i = 0; i < n_r; i++) {
                const closer_xen_io_reading *x = &r[i];
                if (!x->valid)
                        continue;
                closer_xen_io_source *e = find(s, s->n, x->domid, x->source);
                if (!e) {
                        bool late = domain_known(s, n_old, x->domid);
                        e = &s->v[s->n++];
                        *e = (closer_xen_io_source) {.domid = x->domid, .source = x->source,
                                                     .ops = late ? 0 : x->ops, .bytes = late ? 0 : x->bytes};
                } else if (x->ops >= e->last_ops && x->bytes >= e->last_bytes) {
                        e->ops += x->ops - e->last_ops;
                        e->bytes += x->bytes - e->last_bytes;
                }
                e->last_ops = x->ops;
                e->last_bytes = x->bytes;
        }
        /* domains not read at all are gone */
        unsigned k = 0;
        for (unsigned i = 0; i < s->n; i++)
                if (domain_read(r, n_r, s->v[i].domid))
                        s->v[k++] = s->v[i];
        s->n = k;

        for (unsigned i = 0; i < n_r; i++) {
                closer_hv_io *row = NULL;
                for (unsigned j = 0; j < n_rows && !row; j++)
                        if (rows[j].domid == r[i].domid)
                                row = &rows[j];
                if (row)
                        continue;
                row = &rows[n_rows++];
                *row = (closer_hv_io) {.domid = r[i].domid};
                for (unsigned j = 0; j < s->n; j++)
                        if (s->v[j].domid == row->domid) {
                                row->ops += s->v[j].ops;
                                row->bytes += s->v[j].bytes;
                        }
        }
        closer_qsort_safe(rows, n_rows, sizeof(*rows), cmp_domid);
        *ret = n_rows ? TAKE_PTR(rows) : NULL;
        *ret_n = n_rows;
        return 0;
}

void closer_xen_io_sum_free(closer_xen_io_sum *s) {
        free(s->v);
        *s = (closer_xen_io_sum) {0};
}
