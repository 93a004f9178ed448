/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "closer/error.h"
#include "daemon/ledger.h"
#include "daemon/manager.h"

/*
 * The meter: after each tick, the manager's accounting rows become one
 * ledger interval. Intervals tile the daemon's monotonic time within a boot;
 * after a restart the first interval starts where the last committed one
 * ended. Work done while no closerd ran cannot be attributed (thread CPU
 * counters are only sampled while it runs): that stretch is committed as an
 * interval with no rows, so the gap is explicit in the ledger, never silent.
 *
 * Ticks (1 s) are summed into ledger intervals (default 60 s): at 1000
 * domains a row per domain and second would be ~7 GiB a day. A crash loses
 * at most the interval being summed, and the restart records it as
 * unmetered; a clean stop flushes it.
 *
 * A failed write (disk full, the ledger locked by another process, an I/O
 * error) loses nothing: what could not be written stays summed in memory,
 * the next tick tries again (never waiting for a lock: the tick must not
 * stall), and the first write that works records everything since the last
 * committed interval, in order, once. The failures are counted for status
 * and metrics.
 */
typedef struct closer_meter {
        closer_ledger *ledger;
        uint64_t interval_ns;           /* ledger interval: ticks are summed until it is full */
        uint64_t acc_start_ns;          /* start of the interval being summed (== last_end_ns) */
        int64_t acc_wall_end_ns;
        uint64_t acc_end_ns;            /* end of the last tick summed; 0: nothing summed */
        size_t n_acc, cap_acc;
        closer_ledger_row *acc;         /* per-domain sums of the interval being summed */
        char boot_id[CLOSER_LEDGER_UUID_LEN + 1];
        bool have_last;
        uint64_t last_end_ns;           /* end of the last committed interval (this boot) */
        uint64_t intervals, rows;       /* committed by this run */
        uint64_t unmetered_ns;          /* daemon-down time bridged at start */
        uint64_t bridge_end_ns;         /* 0, or the end of the unmetered interval
                                         * [last_end_ns, bridge_end_ns) not written yet */
        int64_t bridge_wall_end_ns;
        uint64_t failures;              /* ledger writes that failed (this run) */
        int last_error;                 /* -errno of the last write, 0 once one worked */
} closer_meter;

/* Open the ledger at path and find where to resume. boot_id names this boot
 * (/proc/sys/kernel/random/boot_id). Returns 0 or -errno with err. Writes
 * after this never wait for a lock held by another process (-EBUSY, tried
 * again at the next commit). */
int closer_meter_open(const char *path, const char *boot_id, uint64_t interval_ns, closer_meter **ret,
                      closer_error *err);
/* Commit what is being summed (clean stop). Returns 0 or -errno (kept in
 * memory for another try). */
int closer_meter_flush(closer_meter *mt);
closer_meter *closer_meter_free(closer_meter *mt);

/* Nanoseconds of monotonic time summed or bridged but not written yet (what
 * a failing ledger holds back). */
uint64_t closer_meter_unwritten_ns(const closer_meter *mt);

/* Commit the manager's last interval [start_ns, end_ns) (monotonic), with
 * wall_end_ns the wall clock at end_ns. Call after every successful tick,
 * with start_ns == end_ns for the first tick of a run (accounting only
 * primed). Returns 0, -ERANGE if start_ns is not where the last tick
 * ended (the caller lost track: nothing is summed), or -errno from the ledger:
 * then the tick is kept in memory and written with the next commit or flush
 * that works (the caller counts and logs). */
int closer_meter_commit(closer_meter *mt, const closer_manager *m, uint64_t start_ns, uint64_t end_ns,
                        int64_t wall_end_ns);
