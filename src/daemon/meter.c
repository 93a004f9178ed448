/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc-util.h"
#include "daemon/meter.h"

int closer_meter_open(const char *path, const char *boot_id, uint64_t interval_ns, closer_meter **ret,
                      closer_error *err) {
        closer_meter *mt = calloc(1, sizeof(*mt));
        closer_ledger_tick last;

        if (!mt)
                return closer_error_set(err, -ENOMEM, "out of memory");
        mt->interval_ns = interval_ns;
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
        /* A tick that waited for another process's lock would stall the
         * daemon's loop: fail at once and try again at the next tick. */
        closer_ledger_set_busy_timeout(mt->ledger, 0);
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
        free(mt->acc);
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
        if (r < 0) {
                mt->failures++;
                mt->last_error = r;
                return r;
        }
        mt->last_error = 0;
        mt->have_last = true;
        mt->last_end_ns = end_ns;
        mt->intervals++;
        mt->rows += n;
        return 0;
}

/* Add one tick's rows to the interval being summed. */
static int accumulate(closer_meter *mt, const closer_manager *m, uint64_t start_ns, uint64_t end_ns,
                      int64_t wall_end_ns) {
        double dt_s = (double) (end_ns - start_ns) / 1e9;

        for (int i = 0; i < m->n_rows; i++) {
                const closer_domain *d = closer_snapshot_find_domain(m->snap, m->rows[i].domid);
                if (!d || !closer_ledger_uuid_valid(d->uuid))
                        continue;       /* billing needs a stable key; domids are reused */
                closer_ledger_row *row = NULL;
                for (size_t k = 0; k < mt->n_acc && !row; k++)
                        if (strcmp(mt->acc[k].uuid, d->uuid) == 0)
                                row = &mt->acc[k];
                if (!row) {
                        if (!GREEDY_REALLOC_MIN(mt->acc, mt->cap_acc, mt->n_acc + 1, 64))
                                return -ENOMEM;
                        row = &mt->acc[mt->n_acc++];
                        memset(row, 0, sizeof(*row));
                        snprintf(row->uuid, sizeof(row->uuid), "%s", d->uuid);
                }
                row->acct.domid = d->domid;
                closer_ledger_row_set_name(row, d->name);
                row->acct.dom0_cpu_ns += m->rows[i].dom0_cpu_ns;
                row->acct.mem_kib_s += m->rows[i].mem_kib_s;
                row->io_ops += (uint64_t) (d->io_ops_per_s * dt_s + 0.5);
                row->io_bytes += (uint64_t) (d->io_bytes_per_s * dt_s + 0.5);
        }
        mt->acc_end_ns = end_ns;
        mt->acc_wall_end_ns = wall_end_ns;
        return 0;
}

/* Where the interval being summed starts: after the unmetered bridge when
 * that is still to be written. */
static uint64_t acc_start_ns(const closer_meter *mt) {
        return mt->bridge_end_ns ? mt->bridge_end_ns : mt->last_end_ns;
}

uint64_t closer_meter_unwritten_ns(const closer_meter *mt) {
        uint64_t end = mt->acc_end_ns ? mt->acc_end_ns : mt->bridge_end_ns;
        return end > mt->last_end_ns ? end - mt->last_end_ns : 0;
}

int closer_meter_flush(closer_meter *mt) {
        int r;

        /* In time order: the bridge first, then what was summed after it. */
        if (mt->bridge_end_ns) {
                r = append(mt, mt->last_end_ns, mt->bridge_end_ns, mt->bridge_wall_end_ns, NULL, 0);
                if (r < 0)
                        return r;
                mt->bridge_end_ns = 0;
        }
        if (!mt->acc_end_ns || mt->acc_end_ns <= mt->last_end_ns)
                return 0;
        r = append(mt, mt->last_end_ns, mt->acc_end_ns, mt->acc_wall_end_ns, mt->acc, mt->n_acc);
        if (r < 0)
                return r;
        mt->n_acc = 0;
        mt->acc_end_ns = 0;
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
                if (mt->last_end_ns < end_ns && !mt->bridge_end_ns && !mt->acc_end_ns) {
                        /* Remembered before it is written: a failed write
                         * is tried again, and the ticks after it are summed
                         * from here (the next tick starts at end_ns). */
                        mt->bridge_end_ns = end_ns;
                        mt->bridge_wall_end_ns = wall_end_ns;
                        mt->unmetered_ns += end_ns - mt->last_end_ns;
                        return closer_meter_flush(mt);
                }
                return 0;
        }
        uint64_t expect = mt->acc_end_ns ? mt->acc_end_ns : acc_start_ns(mt);
        if (start_ns != expect)
                return -ERANGE;         /* the caller lost track: never count twice */
        r = accumulate(mt, m, start_ns, end_ns, wall_end_ns);
        if (r < 0)
                return r;
        /* Also when an earlier write failed: the interval just grows until
         * a write works. */
        if (end_ns - acc_start_ns(mt) < mt->interval_ns && !mt->bridge_end_ns && !mt->last_error)
                return 0;
        return closer_meter_flush(mt);
}
