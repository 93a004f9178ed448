/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Preloaded into closerd by test-closerd: makes one of its sd_event_add_*
 * calls fail, as a loop out of memory or file descriptors would.
 * CLOSERD_TEST_FAIL=KIND:N fails the Nth call of sd_event_add_KIND (KIND:
 * signal, io, time, time_relative) with -ENOMEM; every other call is
 * libsystemd's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

/* Counts this call of kind; true if it is the one to fail. */
static bool fail_now(const char *kind, unsigned *calls) {
        const char *spec = getenv("CLOSERD_TEST_FAIL");
        size_t n = strlen(kind);
        ++*calls;
        return spec && strncmp(spec, kind, n) == 0 && spec[n] == ':' &&
               strtoul(spec + n + 1, NULL, 10) == *calls;
}

#define REAL(name) ((__typeof__(&name)) dlsym(RTLD_NEXT, #name))

int sd_event_add_signal(sd_event *e, sd_event_source **s, int sig, sd_event_signal_handler_t cb, void *ud) {
        static unsigned calls;
        return fail_now("signal", &calls) ? -ENOMEM : REAL(sd_event_add_signal)(e, s, sig, cb, ud);
}

int sd_event_add_io(sd_event *e, sd_event_source **s, int fd, uint32_t events, sd_event_io_handler_t cb,
                    void *ud) {
        static unsigned calls;
        return fail_now("io", &calls) ? -ENOMEM : REAL(sd_event_add_io)(e, s, fd, events, cb, ud);
}

int sd_event_add_time(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                      sd_event_time_handler_t cb, void *ud) {
        static unsigned calls;
        return fail_now("time", &calls) ? -ENOMEM : REAL(sd_event_add_time)(e, s, clock, usec, accuracy, cb, ud);
}

int sd_event_add_time_relative(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                               sd_event_time_handler_t cb, void *ud) {
        static unsigned calls;
        return fail_now("time_relative", &calls) ? -ENOMEM
                                                 : REAL(sd_event_add_time_relative)(e, s, clock, usec, accuracy, cb, ud);
}
