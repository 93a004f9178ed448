/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every benchmark figure on one line with its target, the same way in every
 * bench: "  WHAT  VALUE UNIT  [target < LIMIT UNIT: met|MISSED]". A bench
 * counts what it missed and exits 3 when it missed anything; scripts/bench
 * (make bench) lists those lines and fails. Figures without a target say so.
 */
#pragma once

#include <stdio.h>
#include <string.h>

/* cmp is "<", "<=", ">" or ">="; returns 1 when the target is missed. */
static inline int bench_target(const char *what, double value, const char *unit, const char *cmp, double limit) {
        int met = strcmp(cmp, "<") == 0    ? value < limit
                  : strcmp(cmp, "<=") == 0 ? value <= limit
                  : strcmp(cmp, ">") == 0  ? value > limit
                                           : value >= limit;
        printf("  %-62s %10.3f %-4s [target %s %g %s: %s]\n", what, value, unit, cmp, limit, unit,
               met ? "met" : "MISSED");
        return !met;
}

static inline void bench_figure(const char *what, double value, const char *unit) {
        printf("  %-62s %10.3f %-4s (no target)\n", what, value, unit);
}
