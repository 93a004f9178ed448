/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The billing ledger on SQLite (see ledger.h for the contract).
 *
 * Schema (user_version 1, application_id "Clsr"):
 *   ticks      one row per committed interval: (boot_id, start_ns) UNIQUE,
 *              end_ns, wall clock, and how many domain rows it holds.
 *   intervals  one row per (tick, domain UUID), PRIMARY KEY (tick_id, uuid):
 *              a domain cannot be counted twice for one interval. Together
 *              with UNIQUE (boot_id, start_ns) on ticks this is the
 *              UNIQUE (uuid, start_ns) of the design, made exact across
 *              reboots (the monotonic clock restarts with the host). WITHOUT
 *              ROWID keeps rows clustered in append order, so the primary
 *              key is the only index and export needs no sort.
 *   accounting a view joining both, for a human with the sqlite3 shell.
 * Triggers refuse UPDATE and DELETE: the ledger is append-only.
 *
 * Durability: WAL with synchronous=FULL. In WAL mode NORMAL is already
 * atomic across a *process* crash (kill -9 of closerd), but a power loss or
 * host crash may take back the last commits, i.e. billing figures closerctl
 * already showed. FULL costs one fsync of the WAL per tick (one per second by
 * default), which is nothing next to the rows it protects.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "basic/alloc-util.h"
#include "closer/utf8.h"
#include "daemon/ledger.h"

#define LEDGER_APPLICATION_ID 0x436c7372        /* "Clsr" */

struct closer_ledger {
        sqlite3 *db;
        sqlite3_stmt *insert_tick;
        sqlite3_stmt *insert_row;
        sqlite3_stmt *last_tick;
};

static const char schema_sql[] =
        "CREATE TABLE ticks ("
        "  id INTEGER PRIMARY KEY,"
        "  boot_id TEXT NOT NULL,"
        "  start_ns INTEGER NOT NULL,"
        "  end_ns INTEGER NOT NULL,"
        "  wall_start_ns INTEGER NOT NULL,"
        "  wall_end_ns INTEGER NOT NULL,"
        "  n_rows INTEGER NOT NULL,"
        "  CHECK (end_ns > start_ns AND start_ns >= 0),"
        "  UNIQUE (boot_id, start_ns));"
        "CREATE INDEX ticks_wall_end ON ticks (wall_end_ns);"
        "CREATE TABLE intervals ("
        "  tick_id INTEGER NOT NULL REFERENCES ticks (id),"
        "  uuid TEXT NOT NULL,"
        "  domid INTEGER NOT NULL,"
        "  name TEXT NOT NULL,"
        "  dom0_cpu_ns INTEGER NOT NULL CHECK (dom0_cpu_ns >= 0),"
        "  mem_kib_s INTEGER NOT NULL CHECK (mem_kib_s >= 0),"
        "  io_ops INTEGER NOT NULL CHECK (io_ops >= 0),"
        "  io_bytes INTEGER NOT NULL CHECK (io_bytes >= 0),"
        "  PRIMARY KEY (tick_id, uuid)) WITHOUT ROWID;"
        "CREATE VIEW accounting AS"
        "  SELECT t.boot_id, t.start_ns, t.end_ns, t.wall_start_ns, t.wall_end_ns,"
        "         datetime(t.wall_end_ns / 1000000000, 'unixepoch') AS wall_end,"
        "         i.uuid, i.domid, i.name, i.dom0_cpu_ns, i.mem_kib_s, i.io_ops, i.io_bytes"
        "  FROM intervals i JOIN ticks t ON t.id = i.tick_id;"
        "CREATE TRIGGER ticks_append_only_u BEFORE UPDATE ON ticks"
        "  BEGIN SELECT RAISE(ABORT, 'the closer ledger is append-only'); END;"
        "CREATE TRIGGER ticks_append_only_d BEFORE DELETE ON ticks"
        "  BEGIN SELECT RAISE(ABORT, 'the closer ledger is append-only'); END;"
        "CREATE TRIGGER intervals_append_only_u BEFORE UPDATE ON intervals"
        "  BEGIN SELECT RAISE(ABORT, 'the closer ledger is append-only'); END;"
        "CREATE TRIGGER intervals_append_only_d BEFORE DELETE ON intervals"
        "  BEGIN SELECT RAISE(ABORT, 'the closer ledger is append-only'); END;";

/* SQLite result code → -errno. Extended codes carry the OS errno for I/O. */
static int errno_from_sqlite(sqlite3 *db, int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
                return -EBADMSG;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EPERM;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_RANGE:
        case SQLITE_MISMATCH:
                return -EINVAL;
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR: {
                int e = db ? sqlite3_system_errno(db) : 0;
                return e > 0 ? -e : ((rc & 0xff) == SQLITE_CANTOPEN ? -ENOENT : -EIO);
        }
        case SQLITE_ERROR:
                /* sum() of integers raises a plain error on overflow */
                if (db && strstr(sqlite3_errmsg(db), "overflow"))
                        return -EOVERFLOW;
                return -EIO;
        default:
                return -EIO;
        }
}

static int exec(closer_ledger *l, const char *sql) {
        int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : errno_from_sqlite(l->db, rc);
}

/* One integer from a one-row query; -errno or 0. */
static int query_int(sqlite3 *db, const char *sql, int64_t *ret) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        *ret = sqlite3_column_int64(st, 0);
                        rc = SQLITE_OK;
                }
        }
        int r = rc == SQLITE_OK ? 0 : errno_from_sqlite(db, rc);
        sqlite3_finalize(st);
        return r;
}

closer_ledger *closer_ledger_close(closer_ledger *l) {
        if (!l)
                return NULL;
        sqlite3_finalize(l->insert_tick);
        sqlite3_finalize(l->insert_row);
        sqlite3_finalize(l->last_tick);
        sqlite3_close_v2(l->db);
        free(l);
        return NULL;
}

static int fail(closer_error *err, closer_ledger *l, const char *path, int r, const char *what) {
        closer_error_set(err, r, "%s: %s: %s", path, what,
                         l && l->db ? sqlite3_errmsg(l->db) : strerror(-r));
        closer_ledger_close(l);
        return r;
}

/* Create the schema in an empty database, or check an existing one. */
static int setup_schema(closer_ledger *l, const char *path, closer_error *err) {
        int64_t version, app_id, n_objects;
        int r;

        /* The first read of the file: a non-SQLite file fails here. */
        r = query_int(l->db, "PRAGMA user_version", &version);
        if (r == -EBADMSG)
                return closer_error_set(err, r, "%s: not an SQLite database, or corrupt (%s)",
                                        path, sqlite3_errmsg(l->db));
        if (r < 0)
                return closer_error_set(err, r, "%s: cannot read: %s", path, sqlite3_errmsg(l->db));
        r = query_int(l->db, "PRAGMA application_id", &app_id);
        if (r >= 0)
                r = query_int(l->db, "SELECT count(*) FROM sqlite_master", &n_objects);
        if (r < 0)
                return closer_error_set(err, r, "%s: cannot read: %s", path, sqlite3_errmsg(l->db));

        if (app_id != 0 && app_id != LEDGER_APPLICATION_ID)
                return closer_error_set(err, -EBADMSG,
                                        "%s: an SQLite database but not a closer ledger (application_id %#" PRIx64 ")",
                                        path, (uint64_t) app_id);
        if (version > CLOSER_LEDGER_SCHEMA_VERSION)
                return closer_error_set(err, -EPROTONOSUPPORT,
                                        "%s: ledger schema version %" PRId64 " is newer than this closer understands (%d); "
                                        "use a newer closer or another path",
                                        path, version, CLOSER_LEDGER_SCHEMA_VERSION);
        if (version == CLOSER_LEDGER_SCHEMA_VERSION && app_id == LEDGER_APPLICATION_ID)
                return 0;
        if (version != 0 || n_objects != 0)
                return closer_error_set(err, -EBADMSG,
                                        "%s: an SQLite database but not a closer ledger (user_version %" PRId64 ", %" PRId64 " objects)",
                                        path, version, n_objects);

        /* Empty: create. BEGIN IMMEDIATE so that two openers cannot both
         * create; the loser sees the schema on its re-check. */
        r = exec(l, "BEGIN IMMEDIATE");
        if (r < 0)
                return closer_error_set(err, r, "%s: cannot lock to create the schema: %s", path, sqlite3_errmsg(l->db));
        r = query_int(l->db, "PRAGMA user_version", &version);
        if (r >= 0 && version == 0) {
                r = exec(l, schema_sql);
                if (r >= 0) {
                        char sql[128];
                        snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
                                 LEDGER_APPLICATION_ID, CLOSER_LEDGER_SCHEMA_VERSION);
                        r = exec(l, sql);
                }
        }
        if (r < 0) {
                closer_error_set(err, r, "%s: cannot create the schema: %s", path, sqlite3_errmsg(l->db));
                (void) exec(l, "ROLLBACK");
                return r;
        }
        r = exec(l, "COMMIT");
        if (r < 0) {
                closer_error_set(err, r, "%s: cannot commit the schema: %s", path, sqlite3_errmsg(l->db));
                (void) exec(l, "ROLLBACK");
        }
        return r;
}

int closer_ledger_open(const char *path, closer_error *err, closer_ledger **ret) {
        closer_ledger *l;
        int rc, r;

        if (!path || !*path || !ret)
                return closer_error_set(err, -EINVAL, "ledger: no path given");
        l = calloc(1, sizeof(*l));
        if (!l)
                return closer_error_set(err, -ENOMEM, "%s: out of memory", path);

        rc = sqlite3_open_v2(path, &l->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                             NULL);
        if (rc != SQLITE_OK) {
                r = errno_from_sqlite(l->db, rc);
                return fail(err, l, path, r, "cannot open");
        }
        sqlite3_extended_result_codes(l->db, 1);
        /* A reader (closerctl) and the writer may meet: wait, don't fail. */
        sqlite3_busy_timeout(l->db, 5000);

        r = setup_schema(l, path, err);
        if (r < 0) {
                closer_ledger_close(l);
                return r;
        }

        /* journal_mode answers the mode it ended in: WAL can be refused
         * (e.g. on a file system without shared memory). */
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(l->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const char *mode = (const char *) sqlite3_column_text(st, 0);
                bool wal = mode && strcmp(mode, "wal") == 0;
                sqlite3_finalize(st);
                if (!wal) {
                        closer_error_set(err, -EOPNOTSUPP, "%s: SQLite refused WAL mode (journal_mode is %s)",
                                         path, mode ? mode : "?");
                        closer_ledger_close(l);
                        return -EOPNOTSUPP;
                }
        } else {
                sqlite3_finalize(st);
                return fail(err, l, path, errno_from_sqlite(l->db, rc), "cannot enable WAL");
        }

        r = exec(l, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
        if (r < 0)
                return fail(err, l, path, r, "cannot set pragmas");

        rc = sqlite3_prepare_v3(l->db,
                                "INSERT INTO ticks (boot_id, start_ns, end_ns, wall_start_ns, wall_end_ns, n_rows)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                -1, SQLITE_PREPARE_PERSISTENT, &l->insert_tick, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v3(l->db,
                                        "INSERT INTO intervals (tick_id, uuid, domid, name, dom0_cpu_ns, mem_kib_s, io_ops, io_bytes)"
                                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                        -1, SQLITE_PREPARE_PERSISTENT, &l->insert_row, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v3(l->db,
                                        "SELECT boot_id, start_ns, end_ns, wall_start_ns, wall_end_ns"
                                        " FROM ticks ORDER BY id DESC LIMIT 1",
                                        -1, SQLITE_PREPARE_PERSISTENT, &l->last_tick, NULL);
        if (rc != SQLITE_OK)
                return fail(err, l, path, errno_from_sqlite(l->db, rc), "cannot prepare statements");

        *ret = l;
        return 0;
}

void closer_ledger_set_busy_timeout(closer_ledger *l, unsigned ms) {
        if (l)
                sqlite3_busy_timeout(l->db, ms > INT_MAX ? INT_MAX : (int) ms);
}

/* Reads the last tick with l->last_tick: 1 found, 0 none, -errno. */
static int read_last_tick(closer_ledger *l, closer_ledger_tick *ret) {
        int rc = sqlite3_step(l->last_tick), r;
        if (rc == SQLITE_ROW) {
                closer_ledger_tick t = {0};
                const char *boot = (const char *) sqlite3_column_text(l->last_tick, 0);
                snprintf(t.boot_id, sizeof(t.boot_id), "%s", boot ? boot : "");
                t.start_ns = (uint64_t) sqlite3_column_int64(l->last_tick, 1);
                t.end_ns = (uint64_t) sqlite3_column_int64(l->last_tick, 2);
                t.wall_start_ns = sqlite3_column_int64(l->last_tick, 3);
                t.wall_end_ns = sqlite3_column_int64(l->last_tick, 4);
                *ret = t;
                r = 1;
        } else
                r = rc == SQLITE_DONE ? 0 : errno_from_sqlite(l->db, rc);
        sqlite3_reset(l->last_tick);
        return r;
}

int closer_ledger_last_end(closer_ledger *l, closer_ledger_tick *ret_tick) {
        if (!l || !ret_tick)
                return -EINVAL;
        closer_ledger_tick t;
        int r = read_last_tick(l, &t);
        if (r > 0)
                *ret_tick = t;
        return r;
}

int closer_ledger_uuid_valid(const char *s) {
        if (!s)
                return 0;
        for (int i = 0; i < CLOSER_LEDGER_UUID_LEN; i++) {
                char c = s[i];
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (c != '-')
                                return 0;
                } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return 0;
        }
        return s[CLOSER_LEDGER_UUID_LEN] == '\0';
}

void closer_ledger_row_set_name(closer_ledger_row *row, const char *name) {
        const unsigned char *s = (const unsigned char *) (name ? name : "");
        size_t n = strlen((const char *) s), keep = 0;
        /* Keep whole characters only; an invalid byte counts as one. */
        while (keep < n) {
                size_t len = closer_utf8_seq_len(s + keep, n - keep);
                if (len == 0)
                        len = 1;
                if (keep + len > CLOSER_LEDGER_NAME_MAX)
                        break;
                keep += len;
        }
        memcpy(row->name, s, keep);
        row->name[keep] = '\0';
}

static bool fits_int64(uint64_t v) {
        return v <= (uint64_t) INT64_MAX;
}

static int validate(const closer_ledger_tick *tick, const closer_ledger_row *rows, size_t n_rows) {
        if (!tick || (n_rows > 0 && !rows))
                return -EINVAL;
        if (memchr(tick->boot_id, '\0', sizeof(tick->boot_id)) == NULL || tick->boot_id[0] == '\0')
                return -EINVAL;
        if (tick->end_ns <= tick->start_ns || !fits_int64(tick->end_ns))
                return -EINVAL;
        if (n_rows > INT_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n_rows; i++) {
                const closer_ledger_row *w = &rows[i];
                if (!closer_ledger_uuid_valid(w->uuid) || w->acct.domid < 0)
                        return -EINVAL;
                if (memchr(w->name, '\0', sizeof(w->name)) == NULL)
                        return -EINVAL;
                if (!fits_int64(w->acct.dom0_cpu_ns) || !fits_int64(w->acct.mem_kib_s) ||
                    !fits_int64(w->io_ops) || !fits_int64(w->io_bytes))
                        return -EINVAL;
        }
        return 0;
}

static int step_done(closer_ledger *l, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc == SQLITE_DONE ? 0 : errno_from_sqlite(l->db, rc);
}

int closer_ledger_append(closer_ledger *l, const closer_ledger_tick *tick,
                         const closer_ledger_row *rows, size_t n_rows) {
        closer_ledger_tick last;
        int r, has_last;

        if (!l)
                return -EINVAL;
        r = validate(tick, rows, n_rows);
        if (r < 0)
                return r;

        /* IMMEDIATE: take the write lock now, so the last tick we check
         * against cannot change before our insert. */
        r = exec(l, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;

        has_last = read_last_tick(l, &last);
        if (has_last < 0) {
                r = has_last;
                goto rollback;
        }

        sqlite3_bind_text(l->insert_tick, 1, tick->boot_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(l->insert_tick, 2, (int64_t) tick->start_ns);
        sqlite3_bind_int64(l->insert_tick, 3, (int64_t) tick->end_ns);
        sqlite3_bind_int64(l->insert_tick, 4, tick->wall_start_ns);
        sqlite3_bind_int64(l->insert_tick, 5, tick->wall_end_ns);
        sqlite3_bind_int64(l->insert_tick, 6, (int64_t) n_rows);
        r = step_done(l, l->insert_tick);
        if (r < 0)
                goto rollback;          /* -EEXIST: this tick is already stored */

        /* Checked after the insert so that a replayed tick says -EEXIST
         * rather than -ERANGE. */
        if (has_last > 0 && strcmp(last.boot_id, tick->boot_id) == 0 && last.end_ns != tick->start_ns) {
                r = -ERANGE;
                goto rollback;
        }

        int64_t tick_id = sqlite3_last_insert_rowid(l->db);
        for (size_t i = 0; i < n_rows; i++) {
                const closer_ledger_row *w = &rows[i];
                sqlite3_bind_int64(l->insert_row, 1, tick_id);
                sqlite3_bind_text(l->insert_row, 2, w->uuid, -1, SQLITE_STATIC);
                sqlite3_bind_int(l->insert_row, 3, w->acct.domid);
                sqlite3_bind_text(l->insert_row, 4, w->name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(l->insert_row, 5, (int64_t) w->acct.dom0_cpu_ns);
                sqlite3_bind_int64(l->insert_row, 6, (int64_t) w->acct.mem_kib_s);
                sqlite3_bind_int64(l->insert_row, 7, (int64_t) w->io_ops);
                sqlite3_bind_int64(l->insert_row, 8, (int64_t) w->io_bytes);
                r = step_done(l, l->insert_row);
                if (r == -EEXIST)
                        r = -EINVAL;    /* the same UUID twice in this tick */
                if (r < 0)
                        goto rollback;
        }

        r = exec(l, "COMMIT");
        if (r < 0)
                goto rollback;
        return 0;

rollback:
        /* Fails harmlessly when SQLite already rolled back on its own. */
        (void) sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int closer_ledger_format_from_string(const char *s, closer_ledger_format *ret) {
        if (s && strcmp(s, "csv") == 0)
                *ret = CLOSER_LEDGER_CSV;
        else if (s && strcmp(s, "json") == 0)
                *ret = CLOSER_LEDGER_JSON;
        else
                return -EINVAL;
        return 0;
}

/* s as valid UTF-8: invalid bytes become U+FFFD. For JSON, also escape. */
static void put_text(FILE *f, const char *str, bool json) {
        const unsigned char *s = (const unsigned char *) (str ? str : "");
        size_t n = strlen((const char *) s);
        for (size_t i = 0; i < n;) {
                size_t len = closer_utf8_seq_len(s + i, n - i);
                if (len == 0) {
                        fputs("\xef\xbf\xbd", f);
                        i++;
                        continue;
                }
                unsigned char c = s[i];
                if (json && len == 1 && (c == '"' || c == '\\'))
                        fprintf(f, "\\%c", c);
                else if (json && len == 1 && c < 0x20)
                        fprintf(f, "\\u%04x", c);
                else
                        fwrite(s + i, 1, len, f);
                i += len;
        }
}

/* RFC 4180: quote a field holding a separator, quote or line break. */
static void put_csv(FILE *f, const char *s) {
        if (!strpbrk(s, ",\"\r\n")) {
                put_text(f, s, false);
                return;
        }
        fputc('"', f);
        for (const char *p = s;;) {
                const char *q = strchr(p, '"');
                if (!q) {
                        put_text(f, p, false);
                        break;
                }
                /* a quote is ASCII, never inside a multi-byte sequence */
                char *part = strndup(p, (size_t) (q - p));
                if (part)
                        put_text(f, part, false);
                free(part);
                fputs("\"\"", f);
                p = q + 1;
        }
        fputc('"', f);
}

/* ---- reading in steps --------------------------------------------------- */

/* Ticks per query: a step scans at most this many ticks (to skip those
 * ending before `since`) besides the rows it hands out. */
#define READER_TICKS_PER_CHUNK 4096

struct closer_ledger_reader {
        sqlite3 *db;                    /* our own read-only connection */
        sqlite3_stmt *st;               /* the chunk being read, NULL between chunks */
        int64_t since_wall_ns;
        int64_t next_id, max_id;        /* tick ids still to read: [next_id, max_id] */
        bool header_done, done;
        int64_t n_out;                  /* rows handed out */
        closer_ledger_total *tot;       /* totals so far, sorted by UUID */
        size_t n_tot, cap_tot;
};

closer_ledger_reader *closer_ledger_reader_close(closer_ledger_reader *rd) {
        if (!rd)
                return NULL;
        sqlite3_finalize(rd->st);
        sqlite3_close_v2(rd->db);
        free(rd->tot);
        free(rd);
        return NULL;
}

int closer_ledger_reader_open(closer_ledger *l, int64_t since_wall_ns, closer_ledger_reader **ret) {
        if (!l || !ret)
                return -EINVAL;
        const char *path = sqlite3_db_filename(l->db, "main");
        if (!path || !*path)
                return -EINVAL;         /* an in-memory database has no file to open again */
        closer_ledger_reader *rd = calloc(1, sizeof(*rd));
        if (!rd)
                return -ENOMEM;
        rd->since_wall_ns = since_wall_ns;
        rd->next_id = 1;
        int rc = sqlite3_open_v2(path, &rd->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        int r = rc == SQLITE_OK ? 0 : errno_from_sqlite(rd->db, rc);
        if (r < 0)
                goto fail;
        sqlite3_extended_result_codes(rd->db, 1);
        /* A WAL reader waits for nobody; if it ever would, say so at once
         * rather than hold the caller's loop. */
        sqlite3_busy_timeout(rd->db, 0);
        /* One read transaction for the whole reading: every chunk sees the
         * same ledger, whatever the daemon appends meanwhile. */
        rc = sqlite3_exec(rd->db, "BEGIN", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
                int64_t max_id = 0;
                r = query_int(rd->db, "SELECT ifnull(max(id), 0) FROM ticks", &max_id);
                rd->max_id = max_id;
        } else
                r = errno_from_sqlite(rd->db, rc);
        if (r < 0)
                goto fail;
        *ret = rd;
        return 0;
fail:
        closer_ledger_reader_close(rd);
        return r;
}

/* Columns: 0 boot_id, 1 start_ns, 2 end_ns, 3 wall_start_ns, 4 wall_end_ns,
 * 5 uuid, 6 domid, 7 name, 8 dom0_cpu_ns, 9 mem_kib_s, 10 io_ops, 11 io_bytes.
 * Returns 1 (a row in rd->st), 0 (no more rows), -EAGAIN (a chunk ended:
 * a good moment to yield), -errno. */
static int reader_next_row(closer_ledger_reader *rd) {
        static const char sql[] =
                "SELECT t.boot_id, t.start_ns, t.end_ns, t.wall_start_ns, t.wall_end_ns,"
                "       i.uuid, i.domid, i.name, i.dom0_cpu_ns, i.mem_kib_s, i.io_ops, i.io_bytes"
                " FROM ticks t JOIN intervals i ON i.tick_id = t.id"
                " WHERE t.id BETWEEN ?1 AND ?2 AND t.wall_end_ns > ?3"
                " ORDER BY t.id, i.uuid";
        if (rd->done)
                return 0;
        if (!rd->st) {
                if (rd->next_id > rd->max_id) {
                        rd->done = true;
                        return 0;
                }
                int rc = sqlite3_prepare_v2(rd->db, sql, -1, &rd->st, NULL);
                if (rc != SQLITE_OK)
                        return errno_from_sqlite(rd->db, rc);
                int64_t hi = rd->next_id + READER_TICKS_PER_CHUNK - 1;
                sqlite3_bind_int64(rd->st, 1, rd->next_id);
                sqlite3_bind_int64(rd->st, 2, hi);
                sqlite3_bind_int64(rd->st, 3, rd->since_wall_ns);
                rd->next_id = hi + 1;
        }
        int rc = sqlite3_step(rd->st);
        if (rc == SQLITE_ROW)
                return 1;
        sqlite3_finalize(rd->st);
        rd->st = NULL;
        return rc == SQLITE_DONE ? -EAGAIN : errno_from_sqlite(rd->db, rc);
}

int closer_ledger_export_step(closer_ledger_reader *rd, closer_ledger_format fmt, FILE *f, size_t max_rows) {
        if (!rd || !f || (fmt != CLOSER_LEDGER_CSV && fmt != CLOSER_LEDGER_JSON))
                return -EINVAL;
        if (!rd->header_done) {
                if (fmt == CLOSER_LEDGER_CSV)
                        fputs("boot_id,start_ns,end_ns,wall_start_ns,wall_end_ns,uuid,domid,name,"
                              "dom0_cpu_ns,mem_kib_s,io_ops,io_bytes\n", f);
                else
                        fprintf(f, "{\"format\":\"closer-accounting/1\",\"since_wall_ns\":%" PRId64 ",\"rows\":[",
                                rd->since_wall_ns);
                rd->header_done = true;
        }
        for (size_t units = 0; units < max_rows;) {
                int r = reader_next_row(rd);
                if (r == -EAGAIN) {
                        units += max_rows / 4 + 1;      /* a chunk scanned: count its cost */
                        continue;
                }
                if (r < 0)
                        return r;
                if (r == 0) {
                        if (fmt == CLOSER_LEDGER_JSON)
                                fputs("\n]}\n", f);
                        return ferror(f) ? -EIO : 0;
                }
                sqlite3_stmt *st = rd->st;
                const char *boot = (const char *) sqlite3_column_text(st, 0);
                int64_t start = sqlite3_column_int64(st, 1), end = sqlite3_column_int64(st, 2);
                int64_t wstart = sqlite3_column_int64(st, 3), wend = sqlite3_column_int64(st, 4);
                const char *uuid = (const char *) sqlite3_column_text(st, 5);
                int domid = sqlite3_column_int(st, 6);
                const char *name = (const char *) sqlite3_column_text(st, 7);
                int64_t cpu = sqlite3_column_int64(st, 8), mem = sqlite3_column_int64(st, 9);
                int64_t ops = sqlite3_column_int64(st, 10), bytes = sqlite3_column_int64(st, 11);
                boot = boot ? boot : "";
                uuid = uuid ? uuid : "";
                name = name ? name : "";

                if (fmt == CLOSER_LEDGER_CSV) {
                        put_csv(f, boot);
                        fprintf(f, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",", start, end, wstart, wend);
                        put_csv(f, uuid);
                        fprintf(f, ",%d,", domid);
                        put_csv(f, name);
                        fprintf(f, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "\n", cpu, mem, ops, bytes);
                } else {
                        fputs(rd->n_out ? ",\n{\"boot_id\":\"" : "\n{\"boot_id\":\"", f);
                        put_text(f, boot, true);
                        fprintf(f, "\",\"start_ns\":%" PRId64 ",\"end_ns\":%" PRId64
                                ",\"wall_start_ns\":%" PRId64 ",\"wall_end_ns\":%" PRId64 ",\"uuid\":\"",
                                start, end, wstart, wend);
                        put_text(f, uuid, true);
                        fprintf(f, "\",\"domid\":%d,\"name\":\"", domid);
                        put_text(f, name, true);
                        fprintf(f, "\",\"dom0_cpu_ns\":%" PRId64 ",\"mem_kib_s\":%" PRId64
                                ",\"io_ops\":%" PRId64 ",\"io_bytes\":%" PRId64 "}",
                                cpu, mem, ops, bytes);
                }
                rd->n_out++;
                units++;
        }
        return ferror(f) ? -EIO : 1;
}

int64_t closer_ledger_reader_rows(const closer_ledger_reader *rd) {
        return rd ? rd->n_out : 0;
}

static bool add_overflows(uint64_t *sum, int64_t v) {
        if (v < 0 || (uint64_t) v > (uint64_t) INT64_MAX - *sum)
                return true;
        *sum += (uint64_t) v;
        return false;
}

/* The total of uuid, added in UUID order if new; NULL on ENOMEM. */
static closer_ledger_total *total_of(closer_ledger_reader *rd, const char *uuid) {
        size_t lo = 0, hi = rd->n_tot;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(rd->tot[mid].uuid, uuid);
                if (c == 0)
                        return &rd->tot[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (!GREEDY_REALLOC(rd->tot, rd->cap_tot, rd->n_tot + 1))
                return NULL;
        memmove(&rd->tot[lo + 1], &rd->tot[lo], (rd->n_tot - lo) * sizeof(*rd->tot));
        rd->n_tot++;
        closer_ledger_total *t = &rd->tot[lo];
        *t = (closer_ledger_total) {0};
        snprintf(t->uuid, sizeof(t->uuid), "%s", uuid);
        return t;
}

int closer_ledger_totals_step(closer_ledger_reader *rd, size_t max_rows) {
        if (!rd)
                return -EINVAL;
        for (size_t units = 0; units < max_rows;) {
                int r = reader_next_row(rd);
                if (r == -EAGAIN) {
                        units += max_rows / 4 + 1;
                        continue;
                }
                if (r <= 0)
                        return r;
                if (rd->n_tot >= INT_MAX)
                        return -E2BIG;
                sqlite3_stmt *st = rd->st;
                const char *uuid = (const char *) sqlite3_column_text(st, 5);
                const char *name = (const char *) sqlite3_column_text(st, 7);
                closer_ledger_total *t = total_of(rd, uuid ? uuid : "");
                if (!t)
                        return -ENOMEM;
                /* rows come in tick order: the last one seen is the latest */
                t->domid = sqlite3_column_int(st, 6);
                snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
                t->wall_last_ns = sqlite3_column_int64(st, 4);
                t->n_intervals++;
                if (add_overflows(&t->covered_ns, sqlite3_column_int64(st, 2) - sqlite3_column_int64(st, 1)) ||
                    add_overflows(&t->dom0_cpu_ns, sqlite3_column_int64(st, 8)) ||
                    add_overflows(&t->mem_kib_s, sqlite3_column_int64(st, 9)) ||
                    add_overflows(&t->io_ops, sqlite3_column_int64(st, 10)) ||
                    add_overflows(&t->io_bytes, sqlite3_column_int64(st, 11)))
                        return -EOVERFLOW;
                units++;
        }
        return 1;
}

int closer_ledger_reader_totals(closer_ledger_reader *rd, closer_ledger_total **ret_totals) {
        if (!rd || !ret_totals || !rd->done)
                return -EINVAL;
        *ret_totals = rd->tot;
        int n = (int) rd->n_tot;
        rd->tot = NULL;
        rd->n_tot = rd->cap_tot = 0;
        return n;
}

int closer_ledger_totals(closer_ledger *l, int64_t since_wall_ns, closer_ledger_total **ret_totals) {
        closer_ledger_reader *rd = NULL;
        if (!ret_totals)
                return -EINVAL;
        int r = closer_ledger_reader_open(l, since_wall_ns, &rd);
        while (r >= 0 && (r = closer_ledger_totals_step(rd, 1u << 16)) > 0)
                ;
        if (r == 0)
                r = closer_ledger_reader_totals(rd, ret_totals);
        closer_ledger_reader_close(rd);
        return r;
}

int closer_ledger_export(closer_ledger *l, int64_t since_wall_ns, closer_ledger_format fmt, FILE *f) {
        closer_ledger_reader *rd = NULL;
        if (!f || (fmt != CLOSER_LEDGER_CSV && fmt != CLOSER_LEDGER_JSON))
                return -EINVAL;
        int r = closer_ledger_reader_open(l, since_wall_ns, &rd);
        while (r >= 0 && (r = closer_ledger_export_step(rd, fmt, f, 1u << 16)) > 0)
                ;
        int64_t n = closer_ledger_reader_rows(rd);
        closer_ledger_reader_close(rd);
        if (r < 0)
                return r;
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return n > INT_MAX ? INT_MAX : (int) n;
}
