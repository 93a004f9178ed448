/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/*
 * closerd's logging: to the journal (sd-journal, with PRIORITY and
 * CODE_* fields) when stderr is connected to it (JOURNAL_STREAM, as systemd
 * sets it), else one line per message on stderr. Only the daemon logs;
 * libraries return errors and the caller logs once.
 */
void closer_log_open(const char *ident, int max_priority);
void closer_log_internal(int priority, const char *file, int line, const char *func, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

#define log_full(prio, ...) closer_log_internal((prio), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

/*
 * A failure that repeats every tick (a full disk, a lock held for minutes)
 * must not flood the journal: at most `burst` messages per `interval_usec`;
 * the rest are counted, and the next message allowed says how many were
 * left out. Failures are also counted where status and metrics show them, so
 * nothing is only in the log.
 */
typedef struct closer_ratelimit {
        uint64_t interval_usec;
        unsigned burst;
        uint64_t begin_usec;
        unsigned n;
        uint64_t suppressed;            /* left out since the last message allowed */
} closer_ratelimit;

#define CLOSER_RATELIMIT_INIT(interval, b) ((closer_ratelimit) {.interval_usec = (interval), .burst = (b)})

/* true: log it now (*ret_suppressed, if given, is how many were left out
 * before it); false: leave it out (counted). */
bool closer_ratelimit_below(closer_ratelimit *rl, uint64_t now_usec, uint64_t *ret_suppressed);
