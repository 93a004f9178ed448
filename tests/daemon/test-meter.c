/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The meter between the manager and the ledger: a write that fails (here:
 * another process holds the ledger's write lock, as `sqlite3 ledger.db` with
 * an open transaction or a backup tool would) neither stalls the tick nor
 * stops billing; once the lock is gone everything is written, once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon/meter.h"
#include "simhost/simhost.h"

#define SEC UINT64_C(1000000000)
#define BOOT "0b7a6f0e-1d7c-4f39-9a57-3c1f0e7f2a01"

typedef struct run {
        closer_simhost *sim;
        closer_hypervisor *hv;
        closer_hostos *os;
        closer_manager *m;
        closer_meter *mt;
        uint64_t now, prev;
        uint64_t billed_cpu_ns;         /* what the manager attributed after priming */
} run;

static char dir[64], path[128];

static uint64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec;
}

static void run_start(run *r, uint64_t now) {
        closer_config cfg;
        closer_error err = {{0}};
        memset(r, 0, sizeof(*r));
        closer_config_defaults(&cfg);
        r->sim = closer_simhost_new_reference();
        assert_non_null(r->sim);
        assert_int_equal(closer_simhost_hypervisor(r->sim, &r->hv), 0);
        assert_int_equal(closer_simhost_hostos(r->sim, &r->os), 0);
        assert_int_equal(closer_manager_new(&cfg, r->hv, r->os, true, NULL, &r->m, &err), 0);
        assert_int_equal(closer_meter_open(path, BOOT, 0, &r->mt, &err), 0);
        r->now = now;
}

/* One daemon tick: what closerd's do_tick does. Returns the meter's answer. */
static int run_tick(run *r) {
        closer_error err = {{0}};
        uint64_t prev = r->m->snap ? r->m->snap->time_ns : r->now;
        if (r->m->snap)
                closer_simhost_advance(r->sim, SEC);
        r->now += r->m->snap ? SEC : 0;
        assert_int_equal(closer_manager_tick(r->m, r->now, &err), 0);
        if (prev < r->now)
                for (int i = 0; i < r->m->n_rows; i++)
                        r->billed_cpu_ns += r->m->rows[i].dom0_cpu_ns;
        return closer_meter_commit(r->mt, r->m, prev, r->now, (int64_t) r->now);
}

static void run_stop(run *r) {
        assert_int_equal(closer_meter_flush(r->mt), 0);
        closer_meter_free(r->mt);
        closer_manager_free(r->m);
        closer_hypervisor_free(r->hv);
        closer_hostos_free(r->os);
        closer_simhost_free(r->sim);
}

static void test_locked_after_restart(void **state) {
        (void) state;
        run a, b;

        snprintf(dir, sizeof(dir), "/tmp/closer-meter-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/ledger.db", dir);

        run_start(&a, 10 * SEC);
        for (int i = 0; i < 4; i++)
                assert_int_equal(run_tick(&a), 0);
        uint64_t end_a = a.now;
        run_stop(&a);

        /* Another process takes the write lock and keeps it. */
        sqlite3 *other;
        assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

        /* closerd restarts 5 s later: its first write (the unmetered bridge)
         * and every one after it fail, at once, not after a lock wait. */
        run_start(&b, end_a + 5 * SEC);
        for (int i = 0; i < 6; i++) {
                uint64_t t0 = mono_ns();
                assert_int_equal(run_tick(&b), -EBUSY);
                assert_true(mono_ns() - t0 < SEC);
        }
        assert_int_equal(b.mt->failures, 6);
        assert_int_equal(b.mt->last_error, -EBUSY);
        assert_int_equal(closer_meter_unwritten_ns(b.mt), 5 * SEC + 5 * SEC);

        /* The lock goes: the next tick writes everything held back. */
        assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(run_tick(&b), 0);
        assert_int_equal(b.mt->last_error, 0);
        assert_int_equal(closer_meter_unwritten_ns(b.mt), 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(run_tick(&b), 0);
        uint64_t end_b = b.now;
        run_stop(&b);

        /* Time tiles from the first commit of run a to the last of run b, the
         * down time is one interval without rows, and every nanosecond of
         * dom0 CPU attributed is in the ledger exactly once. */
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(other, "SELECT start_ns, end_ns, n_rows FROM ticks ORDER BY start_ns", -1,
                                            &q, NULL),
                         SQLITE_OK);
        int64_t prev_end = -1, first = -1;
        unsigned empty = 0;
        while (sqlite3_step(q) == SQLITE_ROW) {
                int64_t s = sqlite3_column_int64(q, 0), e = sqlite3_column_int64(q, 1);
                if (first < 0)
                        first = s;
                if (prev_end >= 0 && s != prev_end)
                        fail_msg("interval at %lld: the previous one ended at %lld", (long long) s, (long long) prev_end);
                if (sqlite3_column_int(q, 2) == 0) {
                        assert_int_equal(s, (int64_t) end_a);
                        assert_int_equal(e, (int64_t) (end_a + 5 * SEC));
                        empty++;
                }
                prev_end = e;
        }
        sqlite3_finalize(q);
        assert_int_equal(first, (int64_t) (10 * SEC));
        assert_int_equal(prev_end, (int64_t) end_b);
        assert_int_equal(empty, 1);
        int64_t stored = 0;
        assert_int_equal(sqlite3_prepare_v2(other, "SELECT sum(dom0_cpu_ns) FROM intervals", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        stored = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        assert_true(a.billed_cpu_ns + b.billed_cpu_ns > 0);
        assert_int_equal(stored, (int64_t) (a.billed_cpu_ns + b.billed_cpu_ns));
        sqlite3_close(other);
}

static int teardown(void **state) {
        (void) state;
        const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
        char p[160];
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
                snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
                (void) unlink(p);
        }
        (void) rmdir(dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_locked_after_restart),
        };
        return cmocka_run_group_tests(tests, NULL, teardown);
}
