/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Thread affinity (sched_setaffinity) and IRQ affinity
 * (/proc/irq/N/smp_affinity_list), remembering what was there before our
 * first change so that the host can be put back exactly as found.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/alloc-util.h"
#include "linux/linux.h"

void closer_affinity_journal_done(closer_affinity_journal *j) {
        free(j->saved);
        *j = (closer_affinity_journal) {0};
}

static closer_affinity_saved *journal_find(closer_affinity_journal *j, bool is_irq, int id) {
        for (unsigned i = 0; i < j->n; i++)
                if (j->saved[i].is_irq == is_irq && j->saved[i].id == id)
                        return &j->saved[i];
        return NULL;
}

/* Remember `previous` unless we already hold an older value for the object. */
static int journal_note(closer_affinity_journal *j, bool is_irq, int id, uint64_t start_time,
                        const closer_cpuset *previous) {
        if (!j || journal_find(j, is_irq, id))
                return 0;
        if (!GREEDY_REALLOC(j->saved, j->cap, j->n + 1))
                return -ENOMEM;
        j->saved[j->n++] = (closer_affinity_saved) {
                .is_irq = is_irq, .id = id, .start_time = start_time, .previous = *previous};
        return 0;
}

static void journal_forget(closer_affinity_journal *j, bool is_irq, int id) {
        closer_affinity_saved *s = j ? journal_find(j, is_irq, id) : NULL;
        if (s) {
                *s = j->saved[j->n - 1];
                j->n--;
        }
}

int closer_affinity_get_thread(const closer_root *root, int tid, closer_cpuset *ret) {
        if (!root->is_real)
                return -EOPNOTSUPP;
        if (tid <= 0)
                return -EINVAL;
        cpu_set_t *set = CPU_ALLOC(CLOSER_CPUSET_MAX);
        size_t size = CPU_ALLOC_SIZE(CLOSER_CPUSET_MAX);
        if (!set)
                return -ENOMEM;
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(tid, size, set) < 0) {
                int e = -errno;
                CPU_FREE(set);
                return e;
        }
        closer_cpuset s;
        closer_cpuset_zero(&s);
        for (unsigned c = 0; c < CLOSER_CPUSET_MAX; c++)
                if (CPU_ISSET_S(c, size, set))
                        closer_cpuset_set(&s, c);
        CPU_FREE(set);
        *ret = s;
        return 0;
}

static int set_thread(int tid, const closer_cpuset *cpus) {
        cpu_set_t *set = CPU_ALLOC(CLOSER_CPUSET_MAX);
        size_t size = CPU_ALLOC_SIZE(CLOSER_CPUSET_MAX);
        if (!set)
                return -ENOMEM;
        CPU_ZERO_S(size, set);
        CLOSER_CPUSET_FOREACH(c, cpus)
                CPU_SET_S((unsigned) c, size, set);
        int r = sched_setaffinity(tid, size, set) < 0 ? -errno : 0;
        CPU_FREE(set);
        return r;
}

int closer_affinity_set_thread(const closer_root *root, closer_affinity_journal *j, int tid,
                               const closer_cpuset *cpus) {
        closer_cpuset prev;
        int r;

        /* sched_setaffinity cannot go through a root: on a fixture tree it
         * would move the caller's own threads. Refuse. */
        if (!root->is_real)
                return -EOPNOTSUPP;
        if (tid <= 0 || closer_cpuset_is_empty(cpus))
                return -EINVAL;
        r = closer_affinity_get_thread(root, tid, &prev);
        if (r < 0)
                return r;
        bool known = j && journal_find(j, false, tid);
        uint64_t start = 0;
        r = closer_proc_start_time(root, tid, &start);
        if (r < 0)
                return r;
        r = journal_note(j, false, tid, start, &prev);
        if (r < 0)
                return r;
        r = set_thread(tid, cpus);
        if (r < 0 && !known)
                journal_forget(j, false, tid);  /* nothing changed: nothing to restore */
        return r;
}

int closer_affinity_get_irq(const closer_root *root, unsigned irq, closer_cpuset *ret) {
        return closer_irq_read_affinity(root, irq, false, ret);
}

static int write_irq(const closer_root *root, unsigned irq, const closer_cpuset *cpus) {
        char path[64], list[CLOSER_CPULIST_MAX + 1];
        int n = closer_cpuset_format(cpus, list, sizeof(list) - 1);
        if (n < 0)
                return n;
        list[n] = '\n';
        list[n + 1] = '\0';
        snprintf(path, sizeof(path), "proc/irq/%u/smp_affinity_list", irq);
        return closer_write_file_at(root->fd, path, list);
}

int closer_affinity_set_irq(const closer_root *root, closer_affinity_journal *j, unsigned irq,
                            const closer_cpuset *cpus) {
        closer_cpuset prev;
        int r;

        if (closer_cpuset_is_empty(cpus))
                return -EINVAL;         /* the kernel would refuse too, but never try */
        r = closer_affinity_get_irq(root, irq, &prev);
        if (r < 0)
                return r;
        bool known = j && journal_find(j, true, (int) irq);
        r = journal_note(j, true, (int) irq, 0, &prev);
        if (r < 0)
                return r;
        r = write_irq(root, irq, cpus);
        if (r < 0 && !known)
                journal_forget(j, true, (int) irq);
        return r;
}

int closer_affinity_restore(const closer_root *root, closer_affinity_journal *j) {
        int first = 0;
        for (unsigned i = j->n; i-- > 0;) {
                const closer_affinity_saved *s = &j->saved[i];
                int r;
                if (closer_cpuset_is_empty(&s->previous))
                        continue;       /* never write an empty set, even if we read one */
                if (s->is_irq)
                        r = write_irq(root, (unsigned) s->id, &s->previous);
                else {
                        uint64_t start;
                        r = closer_proc_start_time(root, s->id, &start);
                        if (r == 0 && start != s->start_time)
                                r = -ESRCH;     /* the tid now names another thread: leave it */
                        if (r == 0)
                                r = root->is_real ? set_thread(s->id, &s->previous) : -EOPNOTSUPP;
                }
                if (r == -ESRCH || r == -ENOENT)
                        continue;       /* gone since: nothing to put back */
                RET_GATHER(first, r);
        }
        if (first == 0)
                j->n = 0;
        return first;
}
