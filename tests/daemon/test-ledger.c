/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The billing ledger on real SQLite files: schema, append and queries,
 * refusals, and the crash contract under SIGKILL at random moments. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "daemon/ledger.h"

#define BOOT_A "0b7a6f0e-1d7c-4f39-9a57-3c1f0e7f2a01"
#define BOOT_B "9f1c2d3e-4b5a-4678-9abc-def012345678"
#define T0_NS UINT64_C(5000000000)
#define STEP_NS UINT64_C(1000000000)
#define WALL0_NS INT64_C(1700000000000000000)

static char tmpdir[64];

static int setup_dir(void **state) {
        (void) state;
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/closer-ledger-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state) {
        (void) state;
        /* Only the files the tests made: *.db, *.db-wal, *.db-shm, *.txt */
        char cmd[256];
        const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
        const char *names[] = {"a.db", "b.db", "c.db", "d.db", "e.db", "crash.db", "text.db", "other.db", "corrupt.db"};
        for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
                for (size_t j = 0; j < sizeof(suffixes) / sizeof(*suffixes); j++) {
                        snprintf(cmd, sizeof(cmd), "%s/%s%s", tmpdir, names[i], suffixes[j]);
                        (void) unlink(cmd);
                }
        return rmdir(tmpdir);
}

static void path_of(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void uuid_of(char *buf, unsigned j) {
        snprintf(buf, CLOSER_LEDGER_UUID_LEN + 1, "00000000-0000-4000-8000-%012x", j);
}

/* Tick k of a deterministic history: which domains it holds and their
 * figures, so a reader can recompute exactly what must be stored. */
static size_t tick_rows(uint64_t k, closer_ledger_row *rows) {
        size_t n = 1 + (size_t) ((k * 7) % 13);
        for (size_t j = 0; j < n; j++) {
                closer_ledger_row *w = &rows[j];
                *w = (closer_ledger_row) {0};
                uuid_of(w->uuid, (unsigned) j);
                w->acct.domid = (int) (j + 1 + (k / 5) * 20);  /* domids move around */
                char name[32];
                snprintf(name, sizeof(name), "vm-%zu", j);
                closer_ledger_row_set_name(w, name);
                w->acct.dom0_cpu_ns = k * 1000 + j;
                w->acct.mem_kib_s = k + j * 10;
                w->io_ops = j * 3 + k % 7;
                w->io_bytes = k * j * 4096;
        }
        return n;
}

static closer_ledger_tick tick_at(const char *boot, uint64_t start_ns) {
        closer_ledger_tick t = {
                .start_ns = start_ns,
                .end_ns = start_ns + STEP_NS,
                .wall_start_ns = WALL0_NS + (int64_t) (start_ns - T0_NS),
                .wall_end_ns = WALL0_NS + (int64_t) (start_ns + STEP_NS - T0_NS),
        };
        snprintf(t.boot_id, sizeof(t.boot_id), "%s", boot);
        return t;
}

static closer_ledger *open_ok(const char *name) {
        char p[128];
        closer_error err = {{0}};
        closer_ledger *l = NULL;
        path_of(p, sizeof(p), name);
        int r = closer_ledger_open(p, &err, &l);
        if (r < 0)
                fail_msg("open %s: %d %s", p, r, err.msg);
        return l;
}

static sqlite3 *raw_open(const char *name) {
        char p[128];
        sqlite3 *db = NULL;
        path_of(p, sizeof(p), name);
        assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
        return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static void test_schema(void **state) {
        (void) state;
        closer_ledger_tick t;
        closer_ledger *l = open_ok("a.db");
        assert_int_equal(closer_ledger_last_end(l, &t), 0);     /* empty */
        l = closer_ledger_close(l);
        assert_null(l);

        sqlite3 *db = raw_open("a.db");
        assert_int_equal(raw_int(db, "PRAGMA user_version"), CLOSER_LEDGER_SCHEMA_VERSION);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('ticks','intervals','accounting')"), 3);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *) sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);

        /* reopening an existing ledger keeps it (no re-creation error) */
        l = open_ok("a.db");
        closer_ledger_close(l);
        assert_null(closer_ledger_close(NULL));
}

static void test_append_query(void **state) {
        (void) state;
        closer_ledger *l = open_ok("b.db");
        closer_ledger_row rows[16];
        uint64_t want_cpu[16] = {0}, want_mem[16] = {0}, want_ops[16] = {0}, want_bytes[16] = {0};
        uint64_t want_n[16] = {0}, want_cpu_late[16] = {0};
        int want_domid[16] = {0};
        const uint64_t K = 6;

        for (uint64_t k = 0; k < K; k++) {
                closer_ledger_tick t = tick_at(BOOT_A, T0_NS + k * STEP_NS);
                size_t n = tick_rows(k, rows);
                assert_int_equal(closer_ledger_append(l, &t, rows, n), 0);
                for (size_t j = 0; j < n; j++) {
                        want_cpu[j] += rows[j].acct.dom0_cpu_ns;
                        want_mem[j] += rows[j].acct.mem_kib_s;
                        want_ops[j] += rows[j].io_ops;
                        want_bytes[j] += rows[j].io_bytes;
                        want_n[j]++;
                        want_domid[j] = rows[j].acct.domid;
                        if (k >= 3)
                                want_cpu_late[j] += rows[j].acct.dom0_cpu_ns;
                }
        }
        closer_ledger_tick last;
        assert_int_equal(closer_ledger_last_end(l, &last), 1);
        assert_int_equal(last.end_ns, T0_NS + K * STEP_NS);
        assert_string_equal(last.boot_id, BOOT_A);

        closer_ledger_total *tot = NULL;
        int n = closer_ledger_totals(l, INT64_MIN, &tot);
        size_t n_domains = 0;
        for (size_t j = 0; j < 16; j++)
                n_domains += want_n[j] > 0;
        assert_int_equal(n, (int) n_domains);
        for (int i = 0; i < n; i++) {
                char u[40];
                uuid_of(u, (unsigned) i);
                assert_string_equal(tot[i].uuid, u);            /* sorted by UUID */
                assert_int_equal(tot[i].dom0_cpu_ns, want_cpu[i]);
                assert_int_equal(tot[i].mem_kib_s, want_mem[i]);
                assert_int_equal(tot[i].io_ops, want_ops[i]);
                assert_int_equal(tot[i].io_bytes, want_bytes[i]);
                assert_int_equal(tot[i].n_intervals, want_n[i]);
                assert_int_equal(tot[i].covered_ns, want_n[i] * STEP_NS);
                assert_int_equal(tot[i].domid, want_domid[i]);  /* the latest domid */
        }
        free(tot);

        /* --since: intervals ending after the end of tick 2 (ticks 3..5) */
        tot = NULL;
        n = closer_ledger_totals(l, WALL0_NS + 3 * (int64_t) STEP_NS, &tot);
        assert_true(n > 0);
        for (int i = 0; i < n; i++)
                assert_int_equal(tot[i].dom0_cpu_ns, want_cpu_late[i]);
        free(tot);
        tot = (closer_ledger_total *) 1;
        assert_int_equal(closer_ledger_totals(l, WALL0_NS + 100 * (int64_t) STEP_NS, &tot), 0);

        /* JSON export parses back to the same rows */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int rows_out = closer_ledger_export(l, INT64_MIN, CLOSER_LEDGER_JSON, f);
        fclose(f);
        json_error_t jerr;
        json_t *doc = json_loads(buf, 0, &jerr);
        if (!doc)
                fail_msg("export JSON does not parse: %s (line %d)", jerr.text, jerr.line);
        assert_string_equal(json_string_value(json_object_get(doc, "format")), "closer-accounting/1");
        json_t *jrows = json_object_get(doc, "rows");
        assert_int_equal(json_array_size(jrows), (size_t) rows_out);
        size_t total_rows = 0, idx = 0;
        for (uint64_t k = 0; k < K; k++) {
                size_t m = tick_rows(k, rows);
                total_rows += m;
                for (size_t j = 0; j < m; j++, idx++) {
                        json_t *o = json_array_get(jrows, idx);
                        assert_string_equal(json_string_value(json_object_get(o, "uuid")), rows[j].uuid);
                        assert_string_equal(json_string_value(json_object_get(o, "name")), rows[j].name);
                        assert_int_equal(json_integer_value(json_object_get(o, "start_ns")), T0_NS + k * STEP_NS);
                        assert_int_equal(json_integer_value(json_object_get(o, "domid")), rows[j].acct.domid);
                        assert_int_equal(json_integer_value(json_object_get(o, "dom0_cpu_ns")), rows[j].acct.dom0_cpu_ns);
                        assert_int_equal(json_integer_value(json_object_get(o, "io_bytes")), rows[j].io_bytes);
                }
        }
        assert_int_equal(rows_out, (int) total_rows);
        json_decref(doc);
        free(buf);

        /* CSV: a header and one line per row */
        f = open_memstream(&buf, &len);
        assert_int_equal(closer_ledger_export(l, INT64_MIN, CLOSER_LEDGER_CSV, f), (int) total_rows);
        fclose(f);
        size_t lines = 0;
        for (char *p = buf; *p; p++)
                lines += *p == '\n';
        assert_int_equal(lines, total_rows + 1);
        assert_true(strncmp(buf, "boot_id,start_ns,end_ns,", 24) == 0);
        free(buf);

        closer_ledger_format fmt;
        assert_int_equal(closer_ledger_format_from_string("csv", &fmt), 0);
        assert_int_equal(fmt, CLOSER_LEDGER_CSV);
        assert_int_equal(closer_ledger_format_from_string("json", &fmt), 0);
        assert_int_equal(fmt, CLOSER_LEDGER_JSON);
        assert_int_equal(closer_ledger_format_from_string("xml", &fmt), -EINVAL);
        closer_ledger_close(l);

        /* reopen: everything still there */
        l = open_ok("b.db");
        assert_int_equal(closer_ledger_last_end(l, &last), 1);
        assert_int_equal(last.end_ns, T0_NS + K * STEP_NS);
        tot = NULL;
        assert_int_equal(closer_ledger_totals(l, INT64_MIN, &tot), (int) n_domains);
        assert_int_equal(tot[0].dom0_cpu_ns, want_cpu[0]);
        free(tot);
        closer_ledger_close(l);
}

/* A guest may name itself anything: the exports must stay well-formed. */
static void test_hostile_names(void **state) {
        (void) state;
        closer_ledger *l = open_ok("e.db");
        closer_ledger_row rows[3] = {0};
        const char *names[3] = {"evil,\"name\"\nnext", "bad\xff\xfeutf8\\", "tab\there"};
        for (unsigned j = 0; j < 3; j++) {
                uuid_of(rows[j].uuid, j);
                rows[j].acct.domid = (int) j + 1;
                closer_ledger_row_set_name(&rows[j], names[j]);
        }
        closer_ledger_tick t = tick_at(BOOT_A, T0_NS);
        assert_int_equal(closer_ledger_append(l, &t, rows, 3), 0);

        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_int_equal(closer_ledger_export(l, INT64_MIN, CLOSER_LEDGER_JSON, f), 3);
        fclose(f);
        json_error_t jerr;
        json_t *doc = json_loads(buf, 0, &jerr);   /* jansson checks UTF-8 too */
        if (!doc)
                fail_msg("hostile export JSON does not parse: %s", jerr.text);
        json_t *jrows = json_object_get(doc, "rows");
        assert_string_equal(json_string_value(json_object_get(json_array_get(jrows, 0), "name")), names[0]);
        assert_string_equal(json_string_value(json_object_get(json_array_get(jrows, 1), "name")),
                            "bad\xef\xbf\xbd\xef\xbf\xbdutf8\\");
        assert_string_equal(json_string_value(json_object_get(json_array_get(jrows, 2), "name")), names[2]);
        json_decref(doc);
        free(buf);

        /* CSV: the quoted name spans the embedded newline; quotes doubled */
        f = open_memstream(&buf, &len);
        assert_int_equal(closer_ledger_export(l, INT64_MIN, CLOSER_LEDGER_CSV, f), 3);
        fclose(f);
        assert_non_null(strstr(buf, ",\"evil,\"\"name\"\"\nnext\","));
        free(buf);
        closer_ledger_close(l);

        /* names are cut at a character boundary */
        closer_ledger_row w;
        char longname[400];
        size_t i = 0;
        while (i + 3 < sizeof(longname)) {
                memcpy(longname + i, "\xe2\x82\xac", 3);        /* € */
                i += 3;
        }
        longname[i] = '\0';
        closer_ledger_row_set_name(&w, longname);
        assert_int_equal(strlen(w.name), 255);  /* 85 whole characters */
        closer_ledger_row_set_name(&w, longname + 1);           /* starts mid-character */
        assert_true(strlen(w.name) <= CLOSER_LEDGER_NAME_MAX);
        assert_int_equal(strlen(w.name) % 3, 2);                /* 2 stray bytes, then whole € */
}

static void test_refusals(void **state) {
        (void) state;
        closer_ledger *l = open_ok("c.db");
        closer_ledger_row rows[16];
        size_t n = tick_rows(0, rows);
        closer_ledger_tick t0 = tick_at(BOOT_A, T0_NS), t1 = tick_at(BOOT_A, T0_NS + STEP_NS), last;
        assert_int_equal(closer_ledger_append(l, &t0, rows, n), 0);

        /* the same tick again: refused, nothing written */
        assert_int_equal(closer_ledger_append(l, &t0, rows, n), -EEXIST);
        /* an overlap or a gap in the same boot */
        closer_ledger_tick o = tick_at(BOOT_A, T0_NS + STEP_NS / 2);
        assert_int_equal(closer_ledger_append(l, &o, rows, n), -ERANGE);
        closer_ledger_tick g = tick_at(BOOT_A, T0_NS + 3 * STEP_NS);
        assert_int_equal(closer_ledger_append(l, &g, rows, n), -ERANGE);
        /* the same UUID twice in one tick: the whole tick is refused */
        closer_ledger_row dup[2] = {rows[0], rows[0]};
        assert_int_equal(closer_ledger_append(l, &t1, dup, 2), -EINVAL);
        assert_int_equal(closer_ledger_last_end(l, &last), 1);
        assert_int_equal(last.end_ns, T0_NS + STEP_NS);         /* t1 not stored */

        /* malformed input */
        closer_ledger_row bad = rows[0];
        bad.uuid[0] = 'G';
        assert_int_equal(closer_ledger_append(l, &t1, &bad, 1), -EINVAL);
        bad = rows[0];
        bad.uuid[0] = 'A';                                      /* upper case is not canonical */
        assert_int_equal(closer_ledger_append(l, &t1, &bad, 1), -EINVAL);
        bad = rows[0];
        bad.acct.dom0_cpu_ns = UINT64_MAX;
        assert_int_equal(closer_ledger_append(l, &t1, &bad, 1), -EINVAL);
        closer_ledger_tick backwards = t1;
        backwards.end_ns = backwards.start_ns;
        assert_int_equal(closer_ledger_append(l, &backwards, rows, n), -EINVAL);
        closer_ledger_tick noboot = t1;
        noboot.boot_id[0] = '\0';
        assert_int_equal(closer_ledger_append(l, &noboot, rows, n), -EINVAL);

        /* the next tick is fine, with no rows too */
        assert_int_equal(closer_ledger_append(l, &t1, NULL, 0), 0);
        /* a new boot restarts the monotonic clock: any start is accepted */
        closer_ledger_tick nb = tick_at(BOOT_B, 1000);
        assert_int_equal(closer_ledger_append(l, &nb, rows, n), 0);
        assert_int_equal(closer_ledger_last_end(l, &last), 1);
        assert_string_equal(last.boot_id, BOOT_B);
        assert_int_equal(last.end_ns, 1000 + STEP_NS);
        closer_ledger_close(l);

        /* exactly 2n rows and 3 ticks are stored; the tables refuse edits */
        sqlite3 *db = raw_open("c.db");
        assert_int_equal(raw_int(db, "SELECT count(*) FROM intervals"), (int64_t) (2 * n));
        assert_int_equal(raw_int(db, "SELECT count(*) FROM ticks"), 3);
        assert_int_not_equal(sqlite3_exec(db, "UPDATE intervals SET dom0_cpu_ns = 0", NULL, NULL, NULL), SQLITE_OK);
        assert_int_not_equal(sqlite3_exec(db, "DELETE FROM ticks", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM ticks"), 3);
        sqlite3_close(db);
}

static void test_bad_files(void **state) {
        (void) state;
        char p[128];
        closer_error err = {{0}};
        closer_ledger *l = NULL;

        /* a newer schema version is refused with a clear message */
        closer_ledger_close(open_ok("d.db"));
        sqlite3 *db = raw_open("d.db");
        assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        path_of(p, sizeof(p), "d.db");
        assert_int_equal(closer_ledger_open(p, &err, &l), -EPROTONOSUPPORT);
        assert_null(l);
        assert_non_null(strstr(err.msg, p));
        assert_non_null(strstr(err.msg, "version 7 is newer"));

        /* not an SQLite file */
        path_of(p, sizeof(p), "text.db");
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        for (int i = 0; i < 200; i++)
                fputs("this is not a database, it is a text file\n", f);
        fclose(f);
        err.msg[0] = '\0';
        assert_int_equal(closer_ledger_open(p, &err, &l), -EBADMSG);
        assert_null(l);
        assert_non_null(strstr(err.msg, "not an SQLite database"));
        assert_non_null(strstr(err.msg, p));

        /* an SQLite database of something else */
        db = raw_open("other.db");
        assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        path_of(p, sizeof(p), "other.db");
        assert_int_equal(closer_ledger_open(p, &err, &l), -EBADMSG);
        assert_non_null(strstr(err.msg, "not a closer ledger"));

        /* a ledger whose first page (the schema) was overwritten */
        l = open_ok("corrupt.db");
        closer_ledger_row rows[16];
        size_t n = tick_rows(1, rows);
        closer_ledger_tick t = tick_at(BOOT_A, T0_NS);
        assert_int_equal(closer_ledger_append(l, &t, rows, n), 0);
        closer_ledger_close(l);                 /* last close checkpoints the WAL */
        path_of(p, sizeof(p), "corrupt.db");
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char junk[3996];
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (char) (i * 131 + 7);
        assert_int_equal(pwrite(fd, junk, sizeof(junk), 100), (ssize_t) sizeof(junk));
        close(fd);
        err.msg[0] = '\0';
        l = NULL;
        int r = closer_ledger_open(p, &err, &l);
        assert_int_equal(r, -EBADMSG);
        assert_null(l);
        assert_non_null(strstr(err.msg, p));

        /* a directory that does not exist */
        path_of(p, sizeof(p), "missing/dir/ledger.db");
        assert_int_equal(closer_ledger_open(p, &err, &l), -ENOENT);
        assert_non_null(strstr(err.msg, "cannot open"));
}

/* The child of the crash test: resume where the ledger ends, append
 * forever, telling the parent "r" once open and "c" after each commit.
 * Never returns; killed by the parent. */
_Noreturn static void crash_child(const char *path, int ready_fd) {
        closer_ledger *l = NULL;
        closer_ledger_row rows[16];
        closer_ledger_tick last;
        if (closer_ledger_open(path, NULL, &l) < 0)
                _exit(3);
        if (write(ready_fd, "r", 1) != 1)
                _exit(6);
        for (;;) {
                int r = closer_ledger_last_end(l, &last);
                if (r < 0)
                        _exit(4);
                uint64_t start = r > 0 ? last.end_ns : T0_NS;
                closer_ledger_tick t = tick_at(BOOT_A, start);
                size_t n = tick_rows((start - T0_NS) / STEP_NS, rows);
                if (closer_ledger_append(l, &t, rows, n) < 0)
                        _exit(5);
                /* acknowledged: this tick must survive whatever comes next */
                if (write(ready_fd, "c", 1) != 1)
                        _exit(6);
        }
}

/* Everything stored is exactly the deterministic history, complete and
 * contiguous from T0. Returns the number of ticks. */
static uint64_t check_history(const char *path) {
        sqlite3 *db;
        sqlite3_stmt *ticks, *rows_st;
        closer_ledger_row want[16];
        uint64_t k = 0;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, boot_id, start_ns, end_ns, n_rows FROM ticks ORDER BY id",
                                            -1, &ticks, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT uuid, domid, name, dom0_cpu_ns, mem_kib_s, io_ops, io_bytes"
                                            " FROM intervals WHERE tick_id = ?1 ORDER BY uuid",
                                            -1, &rows_st, NULL), SQLITE_OK);
        while (sqlite3_step(ticks) == SQLITE_ROW) {
                assert_string_equal((const char *) sqlite3_column_text(ticks, 1), BOOT_A);
                /* contiguous: tick k starts where tick k-1 ended */
                assert_int_equal(sqlite3_column_int64(ticks, 2), T0_NS + k * STEP_NS);
                assert_int_equal(sqlite3_column_int64(ticks, 3), T0_NS + (k + 1) * STEP_NS);
                size_t n = tick_rows(k, want);
                assert_int_equal(sqlite3_column_int64(ticks, 4), (int64_t) n);
                /* complete: all its rows, with the right figures */
                sqlite3_bind_int64(rows_st, 1, sqlite3_column_int64(ticks, 0));
                size_t j = 0;
                while (sqlite3_step(rows_st) == SQLITE_ROW) {
                        assert_true(j < n);
                        assert_string_equal((const char *) sqlite3_column_text(rows_st, 0), want[j].uuid);
                        assert_int_equal(sqlite3_column_int(rows_st, 1), want[j].acct.domid);
                        assert_string_equal((const char *) sqlite3_column_text(rows_st, 2), want[j].name);
                        assert_int_equal(sqlite3_column_int64(rows_st, 3), want[j].acct.dom0_cpu_ns);
                        assert_int_equal(sqlite3_column_int64(rows_st, 4), want[j].acct.mem_kib_s);
                        assert_int_equal(sqlite3_column_int64(rows_st, 5), want[j].io_ops);
                        assert_int_equal(sqlite3_column_int64(rows_st, 6), want[j].io_bytes);
                        j++;
                }
                assert_int_equal(j, n);
                sqlite3_reset(rows_st);
                k++;
        }
        /* no duplicate anywhere, no orphan row */
        assert_int_equal(raw_int(db, "SELECT count(*) FROM (SELECT DISTINCT boot_id, start_ns FROM ticks)"), (int64_t) k);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM intervals"),
                         raw_int(db, "SELECT coalesce(sum(n_rows), 0) FROM ticks"));
        assert_int_equal(raw_int(db, "SELECT count(*) FROM intervals WHERE tick_id NOT IN (SELECT id FROM ticks)"), 0);
        sqlite3_finalize(ticks);
        sqlite3_finalize(rows_st);
        sqlite3_close(db);
        return k;
}

static void test_crash(void **state) {
        (void) state;
        const unsigned seeds[] = {1, 7, 42, 1234, 99991};
        const int kills_per_seed = 12;
        char p[128];
        unsigned total_kills = 0, grew = 0;
        path_of(p, sizeof(p), "crash.db");

        for (size_t s = 0; s < sizeof(seeds) / sizeof(*seeds); s++) {
                const char *sfx[] = {"", "-wal", "-shm"};
                for (size_t i = 0; i < 3; i++) {
                        char q[160];
                        snprintf(q, sizeof(q), "%s%s", p, sfx[i]);
                        (void) unlink(q);
                }
                srand(seeds[s]);
                uint64_t before = 0;
                for (int kill_i = 0; kill_i < kills_per_seed; kill_i++) {
                        int pfd[2];
                        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
                        pid_t pid = fork();
                        assert_true(pid >= 0);
                        if (pid == 0) {
                                close(pfd[0]);
                                crash_child(p, pfd[1]);
                        }
                        close(pfd[1]);
                        /* The first kill of a seed may land in the schema
                         * creation. The others wait until the child is open
                         * and has committed 0 to 2 ticks, so that a slow or
                         * loaded machine still sees progress; then 0 to 20 ms,
                         * which lands anywhere in the append loop. */
                        char c;
                        unsigned acked = 0;
                        if (kill_i > 0) {
                                assert_int_equal(read(pfd[0], &c, 1), 1);
                                assert_int_equal(c, 'r');
                                for (int w = rand() % 3; w > 0; w--) {
                                        assert_int_equal(read(pfd[0], &c, 1), 1);
                                        acked += c == 'c';
                                }
                        }
                        struct timespec d = {0, (long) (rand() % 20000) * 1000L};
                        nanosleep(&d, NULL);
                        assert_int_equal(kill(pid, SIGKILL), 0);
                        int status;
                        assert_int_equal(waitpid(pid, &status, 0), pid);
                        /* killed by us, not exited on an error */
                        if (!WIFSIGNALED(status))
                                fail_msg("crash child exited with %d (seed %u)", WEXITSTATUS(status), seeds[s]);
                        /* the acknowledgements it sent before dying */
                        while (read(pfd[0], &c, 1) == 1)
                                acked += c == 'c';
                        close(pfd[0]);
                        total_kills++;
                        /* a ledger is only read after a crash by opening it as
                         * the daemon would: that recovers the WAL */
                        closer_ledger_close(open_ok("crash.db"));
                        uint64_t k = check_history(p);
                        /* nothing acknowledged was lost */
                        assert_true(k >= before + acked);
                        grew += k > before;
                        before = k;
                }
                /* resume continues exactly where the last committed tick ended */
                closer_ledger *l = open_ok("crash.db");
                closer_ledger_tick last;
                closer_ledger_row rows[16];
                if (before > 0) {
                        assert_int_equal(closer_ledger_last_end(l, &last), 1);
                        assert_int_equal(last.end_ns, T0_NS + before * STEP_NS);
                        /* replaying the last tick is refused */
                        closer_ledger_tick again = tick_at(BOOT_A, last.start_ns);
                        size_t n = tick_rows(before - 1, rows);
                        assert_int_equal(closer_ledger_append(l, &again, rows, n), -EEXIST);
                }
                closer_ledger_tick next = tick_at(BOOT_A, T0_NS + before * STEP_NS);
                size_t n = tick_rows(before, rows);
                assert_int_equal(closer_ledger_append(l, &next, rows, n), 0);
                closer_ledger_close(l);
                assert_int_equal(check_history(p), before + 1);
                print_message("seed %u: %d kills, %" PRIu64 " ticks committed\n", seeds[s], kills_per_seed, before);
        }
        assert_true(total_kills >= 50);
        /* the children made progress (else the test proved nothing) */
        assert_true(grew >= total_kills / 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_schema),
                cmocka_unit_test(test_append_query),
                cmocka_unit_test(test_hostile_names),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_bad_files),
                cmocka_unit_test(test_crash),
        };
        return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
