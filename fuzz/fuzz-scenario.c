/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closer-sim scenario files (closer-sim-scenario/1) on arbitrary bytes.
 * Oracles: a rejection is -EINVAL with a one-line message naming the source
 * and leaves the output untouched; an accepted scenario has every model and
 * workload parameter inside its documented range, a sweep of at most
 * CLOSER_SIM_SWEEP_MAX values each inside the swept parameter's range, and
 * NUL-terminated texts.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(a) (strnlen((a), sizeof(a)) < sizeof(a))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static closer_sim_scenario sc, before;
        char *text = malloc(size + 1);
        closer_error err = {};

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        memset(&sc, 0x5a, sizeof(sc));
        before = sc;
        int r = closer_sim_scenario_parse(text, "fuzz.json", &sc, &err);
        free(text);
        if (r < 0) {
                if ((r != -EINVAL && r != -ENOMEM) || memcmp(&sc, &before, sizeof(sc)) != 0 ||
                    strncmp(err.msg, "fuzz.json", 9) != 0 || strchr(err.msg, '\n'))
                        abort();
                return 0;
        }
        for (unsigned i = 0; i < closer_sim_n_params; i++) {
                double v = closer_sim_config_get(&sc.cfg, &closer_sim_params[i]);
                if (!isfinite(v) || v < closer_sim_params[i].min || v > closer_sim_params[i].max)
                        abort();
        }
        if (sc.n_values > CLOSER_SIM_SWEEP_MAX)
                abort();
        if (sc.kind == CLOSER_SIM_KIND_ENGINE && sc.sweep)
                for (unsigned i = 0; i < sc.n_values; i++)
                        if (!isfinite(sc.values[i]) || sc.values[i] < sc.sweep->min || sc.values[i] > sc.sweep->max)
                                abort();
        if (!TERMINATED(sc.name) || !TERMINATED(sc.title) || !TERMINATED(sc.thesis) || !TERMINATED(sc.group) ||
            !TERMINATED(sc.note) || !TERMINATED(sc.x.label) || !TERMINATED(sc.y.unit) ||
            !TERMINATED(sc.summary_metric))
                abort();
        return 0;
}
