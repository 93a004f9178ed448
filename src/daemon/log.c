/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <systemd/sd-journal.h>

#include "daemon/log.h"

static const char *log_ident = "closerd";
static int log_max = LOG_INFO;
static bool to_journal;

/* JOURNAL_STREAM is "DEV:INODE" of the journal stream systemd gave us; only
 * trust it when it is our stderr (a child may inherit the variable). */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void closer_log_open(const char *ident, int max_priority) {
        log_ident = ident;
        log_max = max_priority;
        to_journal = stderr_is_journal();
}

void closer_log_internal(int priority, const char *file, int line, const char *func, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        if (priority > log_max)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (to_journal) {
                /* sd_journal_send() would add its own CODE_FILE/LINE/FUNC
                 * (this file's), making each field an array of two in the
                 * journal: give the caller's location instead. */
                char code_file[512], code_line[32];
                snprintf(code_file, sizeof(code_file), "CODE_FILE=%s", file);
                snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
                sd_journal_send_with_location(code_file, code_line, func, "MESSAGE=%s", msg, "PRIORITY=%i",
                                              priority, "SYSLOG_IDENTIFIER=%s", log_ident, NULL);
                return;
        }
        fprintf(stderr, "%s: %s\n", log_ident, msg);
}

bool closer_ratelimit_below(closer_ratelimit *rl, uint64_t now_usec, uint64_t *ret_suppressed) {
        if (rl->begin_usec == 0 || now_usec < rl->begin_usec || now_usec - rl->begin_usec >= rl->interval_usec) {
                rl->begin_usec = now_usec ? now_usec : 1;
                rl->n = 0;
        }
        if (rl->n >= rl->burst) {
                rl->suppressed++;
                return false;
        }
        rl->n++;
        if (ret_suppressed)
                *ret_suppressed = rl->suppressed;
        rl->suppressed = 0;
        return true;
}
