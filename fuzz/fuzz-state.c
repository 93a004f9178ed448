/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd's state file (closer-state/1) on arbitrary bytes: after a crash
 * it is read back as it is, and anyone who could write /run/closer could
 * have written it. Oracles: a rejection is -EINVAL with a one-line message
 * naming the file; an accepted state holds only what restore may write
 * (non-empty CPU sets, tids > 0, domids in Xen's range, sorted lookups
 * that find every entry), and save -> load gives the same state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], in[128], out[128];

static void check(const closer_state *st) {
        for (unsigned i = 0; i < st->n_threads; i++) {
                if (st->threads[i].tid <= 0 || closer_cpuset_is_empty(&st->threads[i].cpus) ||
                    closer_state_find_thread(st, st->threads[i].tid) != &st->threads[i])
                        abort();
                if (i && st->threads[i - 1].tid >= st->threads[i].tid)
                        abort();
        }
        for (unsigned i = 0; i < st->n_irqs; i++)
                if (closer_cpuset_is_empty(&st->irqs[i].cpus) ||
                    closer_state_find_irq(st, st->irqs[i].irq) != &st->irqs[i])
                        abort();
        for (unsigned i = 0; i < st->n_mem; i++)
                if (st->mem[i].domid < 0 || st->mem[i].domid > 0x7ff0 ||
                    strnlen(st->mem[i].uuid, sizeof(st->mem[i].uuid)) == sizeof(st->mem[i].uuid) ||
                    closer_state_find_mem(st, st->mem[i].domid) != &st->mem[i])
                        abort();
}

static bool same(const closer_state *a, const closer_state *b) {
        if (a->have_dom0_target != b->have_dom0_target ||
            (a->have_dom0_target && a->dom0_target_kib != b->dom0_target_kib) || a->n_threads != b->n_threads ||
            a->n_irqs != b->n_irqs || a->n_mem != b->n_mem)
                return false;
        for (unsigned i = 0; i < a->n_threads; i++)
                if (a->threads[i].tid != b->threads[i].tid || a->threads[i].start_time != b->threads[i].start_time ||
                    !closer_cpuset_equal(&a->threads[i].cpus, &b->threads[i].cpus))
                        return false;
        for (unsigned i = 0; i < a->n_irqs; i++)
                if (a->irqs[i].irq != b->irqs[i].irq || !closer_cpuset_equal(&a->irqs[i].cpus, &b->irqs[i].cpus))
                        return false;
        for (unsigned i = 0; i < a->n_mem; i++)
                if (a->mem[i].domid != b->mem[i].domid || a->mem[i].target_kib != b->mem[i].target_kib ||
                    strcmp(a->mem[i].uuid, b->mem[i].uuid) != 0)
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        closer_state *st = NULL, *again = NULL;
        closer_error err = {};

        if (!dir[0]) {
                /* tmpfs when there is one: every save fsyncs */
                snprintf(dir, sizeof(dir), "%s", access("/dev/shm", W_OK) == 0 ? "/dev/shm/closer-fuzz-XXXXXX"
                                                                                 : "/tmp/closer-fuzz-XXXXXX");
                if (!mkdtemp(dir))
                        abort();
                snprintf(in, sizeof(in), "%s/in.json", dir);
                snprintf(out, sizeof(out), "%s/out.json", dir);
        }
        int fd = open(in, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || (size && write(fd, data, size) != (ssize_t) size))
                abort();
        close(fd);
        int r = closer_state_load(in, &st, &err);
        if (r < 0) {
                if (r != -EINVAL || st || strncmp(err.msg, in, strlen(in)) != 0 || strchr(err.msg, '\n'))
                        abort();
                return 0;
        }
        check(st);
        if (closer_state_save(st, out) < 0 || closer_state_load(out, &again, &err) < 0)
                abort();
        check(again);
        if (!same(st, again))
                abort();
        closer_state_free(again);
        closer_state_free(st);
        return 0;
}
