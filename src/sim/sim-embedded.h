/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The reference experiment set, compiled in from the scenarios directory. */
typedef struct closer_sim_embedded_scenario {
        const char *file;       /* basename, for error messages */
        const char *text;
} closer_sim_embedded_scenario;

extern const closer_sim_embedded_scenario closer_sim_embedded_scenarios[];
extern const unsigned closer_sim_n_embedded_scenarios;
