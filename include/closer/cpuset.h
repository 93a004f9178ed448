/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A fixed-size CPU set, large enough for every CPU id Xen and Linux hand out
 * on the machines we target (Linux's default NR_CPUS on x86-64 is 8192, but
 * Xen's NR_CPUS default is 256..4095; 4096 covers both in practice).
 * 512 bytes: cheap to copy, no allocation, safe on the stack.
 */
#define CLOSER_CPUSET_MAX 4096u

typedef struct closer_cpuset {
        uint64_t bits[CLOSER_CPUSET_MAX / 64];
} closer_cpuset;

void closer_cpuset_zero(closer_cpuset *s);
/* Returns 0, or -ERANGE if cpu >= CLOSER_CPUSET_MAX (the set is unchanged). */
int closer_cpuset_set(closer_cpuset *s, unsigned cpu);
void closer_cpuset_clear(closer_cpuset *s, unsigned cpu);
bool closer_cpuset_test(const closer_cpuset *s, unsigned cpu);
unsigned closer_cpuset_count(const closer_cpuset *s);
bool closer_cpuset_is_empty(const closer_cpuset *s);
bool closer_cpuset_equal(const closer_cpuset *a, const closer_cpuset *b);
/* true if every CPU of a is in b */
bool closer_cpuset_is_subset(const closer_cpuset *a, const closer_cpuset *b);
bool closer_cpuset_intersects(const closer_cpuset *a, const closer_cpuset *b);
void closer_cpuset_or(closer_cpuset *dst, const closer_cpuset *a, const closer_cpuset *b);
void closer_cpuset_and(closer_cpuset *dst, const closer_cpuset *a, const closer_cpuset *b);
/* dst = a & ~b */
void closer_cpuset_andnot(closer_cpuset *dst, const closer_cpuset *a, const closer_cpuset *b);

/* Lowest CPU in the set, or -1 if empty. */
int closer_cpuset_first(const closer_cpuset *s);
/* Lowest CPU greater than prev, or -1 when there is none. */
int closer_cpuset_next(const closer_cpuset *s, int prev);

#define CLOSER_CPUSET_FOREACH(cpu, set) \
        for (int cpu = closer_cpuset_first(set); cpu >= 0; cpu = closer_cpuset_next(set, cpu))

/*
 * Parse a Linux cpulist ("0-3,8,10-11", also "0-15:4" strides? no: strides are
 * rejected, Xen and sysfs never print them). Whitespace around the whole string
 * (a trailing newline from sysfs) is accepted; the empty string is the empty set.
 * Returns 0 and fills *ret, or -EINVAL (syntax, reversed range "3-1") or
 * -ERANGE (a CPU >= CLOSER_CPUSET_MAX); *ret is untouched on failure.
 */
int closer_cpuset_parse(const char *text, closer_cpuset *ret);

/*
 * Format as a cpulist, shortest form ("0-3,8"), "" for the empty set.
 * Returns the length written (excluding NUL) or -ENOSPC if buf is too small
 * (CLOSER_CPULIST_MAX always suffices).
 */
#define CLOSER_CPULIST_MAX 20480u
int closer_cpuset_format(const closer_cpuset *s, char *buf, size_t len);
