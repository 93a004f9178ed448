/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Thread affinity (sched_setaffinity) and IRQ affinity
 * (/proc/irq/N/smp_affinity_list). Nothing is remembered here: what was
 * there before is the caller's to record (closerd writes it to its state
 * file before the change, which is what survives its own restarts).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/linux.h"

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

int closer_affinity_set_thread(const closer_root *root, int tid, const closer_cpuset *cpus) {
        /* sched_setaffinity cannot go through a root: on a fixture tree it
         * would move the caller's own threads. Refuse. */
        if (!root->is_real)
                return -EOPNOTSUPP;
        if (tid <= 0 || closer_cpuset_is_empty(cpus))
                return -EINVAL;
        return set_thread(tid, cpus);
}

int closer_affinity_get_irq(const closer_root *root, unsigned irq, closer_cpuset *ret) {
        return closer_irq_read_affinity(root, irq, false, ret);
}

int closer_affinity_set_irq(const closer_root *root, unsigned irq, const closer_cpuset *cpus) {
        char path[64], list[CLOSER_CPULIST_MAX + 1];
        if (closer_cpuset_is_empty(cpus))
                return -EINVAL;         /* the kernel would refuse too, but never try */
        int n = closer_cpuset_format(cpus, list, sizeof(list) - 1);
        if (n < 0)
                return n;
        list[n] = '\n';
        list[n + 1] = '\0';
        snprintf(path, sizeof(path), "proc/irq/%u/smp_affinity_list", irq);
        return closer_write_file_at(root->fd, path, list);
}
