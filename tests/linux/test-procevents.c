/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The process-events connector on this machine's real kernel: an exec we
 * cause is seen. Skipped (not passed) where the kernel or our privileges do
 * not allow subscribing. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "linux/procevents.h"

extern char **environ;

static void test_exec_seen(void **state) {
        (void) state;
        closer_procevents *p = NULL;
        int r = closer_procevents_open(&p);
        if (r == -EPERM || r == -EPROTONOSUPPORT || r == -EACCES) {
                print_message("SKIP: cannot subscribe to process events here: %d\n", r);
                skip();
        }
        assert_int_equal(r, 0);

        unsigned execs = 0, total = 0;
        int pids[64];
        bool seen = false;
        int lost = 0;
        char *argv[] = {"/bin/true", NULL};
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0);
        waitpid(pid, NULL, 0);
        struct pollfd pfd = {.fd = closer_procevents_fd(p), .events = POLLIN};
        for (int i = 0; i < 20 && !seen; i++) {
                if (poll(&pfd, 1, 100) > 0) {
                        assert_int_equal(closer_procevents_drain(p, pids, 64, &execs, &lost), 0);
                        for (unsigned k = 0; k < execs && k < 64; k++)
                                seen |= pids[k] == pid;         /* the exec'd process is named */
                        total += execs;
                }
        }
        assert_true(total >= 1);
        assert_true(seen);
        assert_int_equal(closer_procevents_refused(p), 0);     /* as root, accepted */
        assert_null(closer_procevents_close(p));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exec_seen),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
