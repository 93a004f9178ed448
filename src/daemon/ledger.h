/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The billing ledger: an append-only SQLite database (default
 * /var/lib/closer/ledger.db, the caller passes the path) of what dom0 work
 * each domain caused, one row per domain and sampling interval.
 *
 * Crash contract. The daemon appends one *tick* at a time: the tick's
 * interval [start_ns, end_ns) and every domain's row for it go in one
 * transaction, so after any crash an interval is either fully present or
 * absent. At restart the daemon calls closer_ledger_last_end() and starts its
 * next interval exactly there: nothing is lost (no gap) and nothing counted
 * twice (an interval that overlaps a stored one is refused).
 *
 * Times. start_ns/end_ns are the daemon's CLOCK_MONOTONIC (immune to wall
 * clock steps, so intervals tile exactly); the monotonic clock restarts with
 * the host, so every tick also names the boot it belongs to (the kernel's
 * boot_id) and contiguity is only required within one boot. The wall-clock
 * columns (CLOCK_REALTIME ns) are for humans and for `--since`.
 *
 * Domains are keyed by UUID: domids are reused by Xen. domid and name are kept
 * as columns for humans; the name may be guest-controlled, treat it as data.
 *
 * Export format `closer-accounting/1` (closer_ledger_export):
 *   CSV: one header line, then one line per row, RFC 4180 quoting (a field
 *   holding a comma, quote, CR or LF is quoted, quotes doubled), columns
 *     boot_id,start_ns,end_ns,wall_start_ns,wall_end_ns,uuid,domid,name,
 *     dom0_cpu_ns,mem_kib_s,io_ops,io_bytes
 *   JSON: one object
 *     {"format":"closer-accounting/1","since_wall_ns":N,"rows":[
 *       {"boot_id":"…","start_ns":N,"end_ns":N,"wall_start_ns":N,
 *        "wall_end_ns":N,"uuid":"…","domid":N,"name":"…","dom0_cpu_ns":N,
 *        "mem_kib_s":N,"io_ops":N,"io_bytes":N}, …]}
 *   Rows come in append order (tick, then UUID). Strings are valid UTF-8
 *   (invalid bytes of a stored name become U+FFFD). Numbers are integers.
 *   A row belongs to the export when its interval ends after since_wall_ns
 *   (wall clock); intervals are never cut.
 *
 * Functions return 0 (or a count) on success and -errno on failure, leave
 * ret_ parameters untouched on failure, and never log.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "closer/accounting.h"
#include "closer/error.h"

#define CLOSER_LEDGER_DEFAULT_PATH "/var/lib/closer/ledger.db"
#define CLOSER_LEDGER_SCHEMA_VERSION 1
#define CLOSER_LEDGER_UUID_LEN 36       /* canonical 8-4-4-4-12, lower case */
#define CLOSER_LEDGER_NAME_MAX 255      /* bytes; longer names are cut at a UTF-8 boundary */

typedef struct closer_ledger closer_ledger;

/* One sampling interval of the daemon. */
typedef struct closer_ledger_tick {
        char boot_id[CLOSER_LEDGER_UUID_LEN + 1];       /* /proc/sys/kernel/random/boot_id */
        uint64_t start_ns;                              /* CLOCK_MONOTONIC, inclusive */
        uint64_t end_ns;                                /* CLOCK_MONOTONIC, exclusive; > start_ns */
        int64_t wall_start_ns;                          /* CLOCK_REALTIME, for humans */
        int64_t wall_end_ns;
} closer_ledger_tick;

/* One domain's dom0 work in one interval. acct.interval_ns is ignored on
 * append (the tick gives it) and filled on read. */
typedef struct closer_ledger_row {
        closer_acct_row acct;                           /* domid, dom0_cpu_ns, mem_kib_s */
        char uuid[CLOSER_LEDGER_UUID_LEN + 1];
        char name[CLOSER_LEDGER_NAME_MAX + 1];
        uint64_t io_ops;                                /* backend I/O requests served */
        uint64_t io_bytes;
} closer_ledger_row;

/* A domain's sums over the intervals ending after some wall-clock time. */
typedef struct closer_ledger_total {
        char uuid[CLOSER_LEDGER_UUID_LEN + 1];
        int domid;                                      /* from its latest interval */
        char name[CLOSER_LEDGER_NAME_MAX + 1];          /* from its latest interval */
        uint64_t n_intervals;
        uint64_t covered_ns;                            /* sum of its interval lengths */
        int64_t wall_last_ns;                           /* wall end of its latest interval */
        uint64_t dom0_cpu_ns;
        uint64_t mem_kib_s;
        uint64_t io_ops;
        uint64_t io_bytes;
} closer_ledger_total;

typedef enum closer_ledger_format {
        CLOSER_LEDGER_CSV,
        CLOSER_LEDGER_JSON,
} closer_ledger_format;

/*
 * Open (creating if missing, schema included) the ledger at path. Returns 0,
 * or -EBADMSG (not an SQLite file, corrupt, or an SQLite file that is not a
 * closer ledger), -EPROTONOSUPPORT (written by a newer closer: schema version
 * above CLOSER_LEDGER_SCHEMA_VERSION), -ENOENT/-EACCES/-EROFS/... from the file
 * system. err (may be NULL) gets one line naming the path and the reason.
 */
int closer_ledger_open(const char *path, closer_error *err, closer_ledger **ret);

/* Close; accepts NULL; returns NULL. */
closer_ledger *closer_ledger_close(closer_ledger *l);

/* How long a write waits for a lock another process holds before it fails
 * with -EBUSY (default 5000 ms; 0: not at all). */
void closer_ledger_set_busy_timeout(closer_ledger *l, unsigned ms);

/*
 * The last committed tick (where the daemon resumes). Returns 1 and fills
 * *ret_tick, 0 if the ledger holds no tick (ret_tick untouched), or -errno.
 */
int closer_ledger_last_end(closer_ledger *l, closer_ledger_tick *ret_tick);

/*
 * Append one tick and its rows in one transaction (all or nothing). Returns 0,
 * or:
 *   -EINVAL    end_ns <= start_ns, empty boot_id, a UUID not in canonical
 *              form, a value above INT64_MAX, the same UUID twice in rows;
 *   -EEXIST    a tick of this boot starting at start_ns is already stored
 *              (a replay after a crash: nothing is written);
 *   -ERANGE    same boot as the last tick but start_ns != its end_ns (a gap
 *              would lose work, an overlap would count it twice);
 *   -EBUSY, -EIO, -ENOSPC, -EBADMSG ... from SQLite.
 * n_rows may be 0 (an interval with no domain still advances the ledger).
 */
int closer_ledger_append(closer_ledger *l, const closer_ledger_tick *tick,
                         const closer_ledger_row *rows, size_t n_rows);

/*
 * Per-domain totals over the intervals whose wall end is after since_wall_ns
 * (INT64_MIN: everything), sorted by UUID. *ret_totals is malloc'd (NULL when
 * there are none); returns the count, or -errno (-EOVERFLOW if a sum does not
 * fit in 63 bits).
 */
int closer_ledger_totals(closer_ledger *l, int64_t since_wall_ns,
                         closer_ledger_total **ret_totals);

/* Write the rows ending after since_wall_ns to f in `closer-accounting/1`.
 * Returns the number of rows written, or -errno (-EIO if f fails). */
int closer_ledger_export(closer_ledger *l, int64_t since_wall_ns, closer_ledger_format fmt, FILE *f);

/*
 * The same, in steps, for a caller that must not be held (closerd's event
 * loop with a ledger of millions of rows). A reader has its own read-only
 * connection and one read transaction: it sees the ledger as it was when it
 * was opened, whatever is appended meanwhile, and never blocks the writer.
 * Each step handles at most max_rows rows (and scans a bounded number of
 * ticks), then returns 1 (more to come), 0 (finished) or -errno.
 */
typedef struct closer_ledger_reader closer_ledger_reader;

int closer_ledger_reader_open(closer_ledger *l, int64_t since_wall_ns, closer_ledger_reader **ret);
closer_ledger_reader *closer_ledger_reader_close(closer_ledger_reader *rd);
/* Write the next rows to f (the header with the first step, the closing
 * lines with the last). */
int closer_ledger_export_step(closer_ledger_reader *rd, closer_ledger_format fmt, FILE *f, size_t max_rows);
/* Rows written by export steps so far. */
int64_t closer_ledger_reader_rows(const closer_ledger_reader *rd);
/* Sum the next rows; once a step returned 0, closer_ledger_reader_totals()
 * hands over the totals (sorted by UUID; NULL when none) and returns their
 * count, or -EINVAL before that. */
int closer_ledger_totals_step(closer_ledger_reader *rd, size_t max_rows);
int closer_ledger_reader_totals(closer_ledger_reader *rd, closer_ledger_total **ret_totals);

/* Parse "csv" / "json"; returns 0 or -EINVAL. */
int closer_ledger_format_from_string(const char *s, closer_ledger_format *ret);

/* Copy name into row->name, cutting an over-long one at a UTF-8 character
 * boundary (a cut multi-byte sequence would make the export invalid). */
void closer_ledger_row_set_name(closer_ledger_row *row, const char *name);

/* 1 if s is a canonical lower-case UUID, else 0. */
int closer_ledger_uuid_valid(const char *s);
