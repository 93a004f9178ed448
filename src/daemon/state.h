/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "closer/cpuset.h"
#include "closer/error.h"
#include "closer/units.h"

/*
 * What closerd changed, and what was there before: the thread and IRQ
 * affinities, balloon targets and cgroups as found. Kept in memory and in a
 * state file (/run/closer/state.json, format closer-state/1) rewritten
 * atomically whenever it grows, so that a restart after a crash still knows
 * how to put the host back, and a clean stop restores exactly.
 */

typedef struct closer_saved_thread {
        int tid;
        uint64_t start_time;            /* tid reuse guard */
        closer_cpuset cpus;
} closer_saved_thread;

typedef struct closer_saved_irq {
        unsigned irq;
        closer_cpuset cpus;
} closer_saved_irq;

typedef struct closer_saved_mem {
        int domid;
        char uuid[40];                  /* domid reuse guard */
        uint64_t target_kib;
} closer_saved_mem;

typedef struct closer_saved_cap {
        int domid;
        char uuid[40];
        unsigned cap_pct;               /* scheduler cap as found, 0 = none */
} closer_saved_cap;

typedef struct closer_saved_cgroup {
        int pid;
        uint64_t start_time;            /* pid reuse guard */
        char path[512];                 /* its cgroup v2 path as found */
} closer_saved_cgroup;

/* A systemd unit's AllowedCPUs= as found (closer/units.h). */
typedef struct closer_saved_unit {
        char unit[CLOSER_UNIT_NAME_MAX]; /* a plain unit name (closer_unit_name_valid) */
        closer_cpuset cpus;             /* empty: none was set (every CPU) */
} closer_saved_unit;

typedef struct closer_state {
        bool have_dom0_target;
        uint64_t dom0_target_kib;
        unsigned n_threads, cap_threads;
        closer_saved_thread *threads;   /* sorted by tid */
        unsigned n_irqs, cap_irqs;
        closer_saved_irq *irqs;         /* sorted by irq */
        unsigned n_mem, cap_mem;
        closer_saved_mem *mem;
        unsigned n_caps, cap_caps;
        closer_saved_cap *caps;
        unsigned n_cgroups, cap_cgroups;
        closer_saved_cgroup *cgroups;
        unsigned n_units, cap_units;
        closer_saved_unit *units;
        bool dirty;                     /* changed since the last save */
} closer_state;

closer_state *closer_state_new(void);
closer_state *closer_state_free(closer_state *st);

/* Load path; a missing file is an empty state. Returns 0 and *ret, -ENOMEM,
 * or -EINVAL with err naming the file and JSON path. */
int closer_state_load(const char *path, closer_state **ret, closer_error *err);
/* Write path atomically (temp file, fsync, rename, fsync dir). 0 / -errno. */
int closer_state_save(closer_state *st, const char *path);

/* Lookups return NULL when absent; adds keep the first value (the one found)
 * and return 1 if added, 0 if already there, -ENOMEM. */
const closer_saved_thread *closer_state_find_thread(const closer_state *st, int tid);
int closer_state_add_thread(closer_state *st, int tid, uint64_t start_time, const closer_cpuset *cpus);
void closer_state_drop_thread(closer_state *st, int tid);
const closer_saved_irq *closer_state_find_irq(const closer_state *st, unsigned irq);
int closer_state_add_irq(closer_state *st, unsigned irq, const closer_cpuset *cpus);
const closer_saved_mem *closer_state_find_mem(const closer_state *st, int domid);
int closer_state_add_mem(closer_state *st, int domid, const char *uuid, uint64_t target_kib);
void closer_state_drop_mem(closer_state *st, int domid);
const closer_saved_cap *closer_state_find_cap(const closer_state *st, int domid);
int closer_state_add_cap(closer_state *st, int domid, const char *uuid, unsigned cap_pct);
void closer_state_drop_cap(closer_state *st, int domid);
const closer_saved_cgroup *closer_state_find_cgroup(const closer_state *st, int pid);
int closer_state_add_cgroup(closer_state *st, int pid, uint64_t start_time, const char *path);
void closer_state_drop_cgroup(closer_state *st, int pid);
/* -EINVAL for a name that is not a plain unit name. */
const closer_saved_unit *closer_state_find_unit(const closer_state *st, const char *unit);
int closer_state_add_unit(closer_state *st, const char *unit, const closer_cpuset *cpus);
void closer_state_drop_unit(closer_state *st, const char *unit);
