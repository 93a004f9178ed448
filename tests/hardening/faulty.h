/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Fault injection at the adapter boundary: op tables (closer_hostos,
 * closer_hypervisor) that wrap the simhost's and make write paths fail on a
 * schedule, and that check on every call that nobody asks for an empty CPU
 * set. Also cgroup ops (the simhost has none) that keep each leaf's CPUs.
 */
#include <stdbool.h>
#include <stdint.h>

#include "closer/hostos.h"
#include "closer/hypervisor.h"

enum {
        FAULT_NONE = 0,
        FAULT_ESRCH, FAULT_EBUSY, FAULT_EINVAL, FAULT_EACCES, FAULT_ENOSPC, FAULT_EIO,
        FAULT_SHORT,            /* part of the value lands, then -EIO (a short write) */
        _FAULT_MAX,
};

typedef struct faulty_leaf {
        int node, domid;
        closer_cpuset cpus;
} faulty_leaf;

typedef struct faulty {
        closer_hostos *os;              /* wrapped, not owned */
        closer_hypervisor *hv;          /* wrapped, not owned */
        closer_hostos wrap_os;
        closer_hypervisor wrap_hv;

        /* Schedule: each write fails with probability pct/100, the kind
         * drawn from `kinds` (bit per FAULT_*); force, when set, fails every
         * write with that kind. */
        uint64_t rng;
        unsigned pct;
        unsigned kinds;
        int force;
        /* Only objects with this id fail (-1: any). */
        int only_tid;

        uint64_t calls, injected[_FAULT_MAX];
        uint64_t empty_asked;           /* invariant violations: set to an empty set */
        unsigned n_leaves;
        faulty_leaf leaves[512];
        unsigned tid_sets[65536];       /* set_thread_affinity calls per tid */
} faulty;

void faulty_init(faulty *f, closer_hostos *os, closer_hypervisor *hv, uint64_t seed);
int faulty_errno(int kind);
