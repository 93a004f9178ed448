/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/meter.h"

int closer_meter_open(const char *path, const char *boot_id, closer_meter **ret, closer_error *err) {
        closer_meter *mt = calloc(1, sizeof(*mt));
        closer_ledger_tick last;

        if (!mt)
                return closer_error_set(err, -ENOMEM, "out of memory");
        if (strlen(boot_id) != CLOSER_LEDGER_UUID_LEN || !closer_ledger_uuid_valid(boot_id)) {
                free(mt);
                return closer_error_set(err, -EINVAL, "boot id '%s' is not a UUID", boot_id);
        }
        snprintf(mt->boot_id, sizeof(mt->boot_id), "%s", boot_id);
        int r = closer_ledger_open(path, err, &mt->ledger);
        if (r < 0) {
                free(mt);
                return r;
        }
        r = closer_ledger_last_end(mt->ledger, &last);
        if (r < 0) {
                closer_ledger_close(mt->ledger);
                free(mt);
                return closer_error_set(err, r, "%s: reading the last interval: %s", path, strerror(-r));
        }
        if (r == 1 && strcmp(last.boot_id, mt->boot_id) == 0) {
                mt->have_last = true;
                mt->last_end_ns = last.end_ns;
        }
        *ret = mt;
        return 0;
}

closer_meter *closer_meter_free(closer_meter *mt) {
        if (!mt)
                return NULL;
        closer_ledger_close(mt->ledger);
        free(mt);
        return NULL;
}

static int append(closer_meter *mt, uint64_t start_ns, uint64_t end_ns, int64_t wall_end_ns,
                  const closer_ledger_row *rows, size_t n) {
        closer_ledger_tick t = {.start_ns = start_ns, .end_ns = end_ns, .wall_end_ns = wall_end_ns,
                                .wall_start_ns = wall_end_ns - (int64_t) (end_ns - start_ns)};
        snprintf(t.boot_id, sizeof(t.boot_id), "%s", mt->boot_id);
        int r = closer_ledger_append(mt->ledger, &t, rows, n);
        if (r == -EEXIST)
                r = 0;          /* a replay of what is already there: counted once */
        if (r < 0)
                return r;
        mt->have_last = true;
        mt->last_end_ns = end_ns;
        mt->intervals++;
        mt->rows += n;
        return 0;
}

int closer_meter_commit(closer_meter *mt, const closer_manager *m, uint64_t start_ns, uint64_t end_ns,
                        int64_t wall_end_ns) {
        int r;

        if (!mt->have_last) {
                /* the very first tick on this boot: the ledger starts here */
                mt->have_last = true;
                mt->last_end_ns = end_ns;
                return 0;
        }
        if (start_ns >= end_ns) {
                /* first tick of this run: accounting only primed. Whatever
                 * happened since the last committed interval was not metered:
                 * say so with an interval that has no rows. */
                if (mt->last_end_ns < end_ns) {
                        uint64_t gap = end_ns - mt->last_end_ns;
                        r = append(mt, mt->last_end_ns, end_ns, wall_end_ns, NULL, 0);
                        if (r < 0)
                                return r;
                        mt->unmetered_ns += gap;
                }
                return 0;
        }
        if (start_ns != mt->last_end_ns)
                return -ERANGE;         /* the caller lost track: never count twice */
        if (m->n_rows <= 0)
                return append(mt, start_ns, end_ns, wall_end_ns, NULL, 0);

        closer_ledger_row *rows = calloc((size_t) m->n_rows, sizeof(*rows));
        size_t n = 0;
        if (!rows)
                return -ENOMEM;
        double dt_s = (double) (end_ns - start_ns) / 1e9;
        for (int i = 0; i < m->n_rows; i++) {
                const closer_domain *d = closer_snapshot_find_domain(m->snap, m->rows[i].domid);
                if (!d || !closer_ledger_uuid_valid(d->uuid))
                        continue;       /* billing needs a stable key; domids are reused */
                closer_ledger_row *row = &rows[n++];
                row->acct = m->rows[i];
                snprintf(row->uuid, sizeof(row->uuid), "%s", d->uuid);
                closer_ledger_row_set_name(row, d->name);
                row->io_ops = (uint64_t) (d->io_ops_per_s * dt_s + 0.5);
                row->io_bytes = (uint64_t) (d->io_bytes_per_s * dt_s + 0.5);
        }
        r = append(mt, start_ns, end_ns, wall_end_ns, rows, n);
        free(rows);
        return r;
}
