/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The reference experiment set, compiled in from the scenarios directory. */
typedef struct sim_embedded_scenario {
        const char *file;       /* basename, for error messages */
        const char *text;
} sim_embedded_scenario;

extern const sim_embedded_scenario sim_embedded_scenarios[];
extern const unsigned sim_n_embedded_scenarios;
