/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One experiment: every sweep point under every policy, then the summary. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "sim/sim.h"

static double summary_of(const closer_sim_scenario *sc, const closer_sim_series *s) {
        if (s->n == 0)
                return 0;
        if (sc->summary_at_last)
                return s->y[s->n - 1];
        double sum = 0;
        for (unsigned i = 0; i < s->n; i++)
                sum += s->y[i];
        return sum / s->n;
}

int closer_sim_experiment_run(const closer_sim_scenario *sc, closer_sim_outcome *ret, closer_sim_progress_fn progress, void *userdata,
                       closer_error *err) {
        closer_sim_outcome o;
        memset(&o, 0, sizeof(o));
        o.sc = sc;
        int r;

        if (sc->kind == CLOSER_SIM_KIND_TRACE) {
                unsigned days = (unsigned) sc->cfg.trace_days;
                if (days > CLOSER_SIM_SWEEP_MAX)
                        return closer_error_set(err, -EINVAL, "%s: trace.days: at most %u", sc->name, CLOSER_SIM_SWEEP_MAX);
                for (unsigned p = 0; p < CLOSER_SIM_POLICY_MAX; p++) {
                        closer_sim_result res;
                        r = closer_sim_trace_run(&sc->cfg, (closer_sim_policy) p, o.series[p].y, days, &res);
                        if (r < 0)
                                return closer_error_set(err, r, "%s: trace generator failed", sc->name);
                        o.series[p].n = days;
                        for (unsigned d = 0; d < days; d++)
                                o.series[p].x[d] = d + 1;
                        o.summary[p] = res.v[CLOSER_SIM_M_WASTE_TASKS];
                        if (progress)
                                progress(userdata, sc->name, p + 1, CLOSER_SIM_POLICY_MAX);
                }
        } else {
                unsigned total = sc->n_values * CLOSER_SIM_POLICY_MAX, done = 0;
                for (unsigned i = 0; i < sc->n_values; i++) {
                        closer_sim_config cfg = sc->cfg;
                        closer_sim_config_set(&cfg, sc->sweep, sc->values[i]);
                        for (unsigned p = 0; p < CLOSER_SIM_POLICY_MAX; p++) {
                                closer_sim_result res;
                                r = closer_sim_run(&cfg, (closer_sim_policy) p, &res, err);
                                if (r < 0)
                                        return r;
                                closer_sim_series *s = &o.series[p];
                                s->x[s->n] = sc->values[i];
                                s->y[s->n] = res.v[sc->metric];
                                s->placement[s->n] = res.placement[sc->metric];
                                s->n++;
                                if (progress)
                                        progress(userdata, sc->name, ++done, total);
                        }
                }
                for (unsigned p = 0; p < CLOSER_SIM_POLICY_MAX; p++)
                        o.summary[p] = summary_of(sc, &o.series[p]);
        }

        double n = o.summary[CLOSER_SIM_NATIVE], c = o.summary[CLOSER_SIM_CLOSER], b = o.summary[CLOSER_SIM_ORACLE];
        if (sc->higher_is_better) {
                o.gain_pct = n != 0 ? 100.0 * (c - n) / fabs(n) : 0;
                o.oracle_gap_pct = b != 0 ? 100.0 * (b - c) / fabs(b) : 0;
        } else {
                o.gain_pct = n != 0 ? 100.0 * (n - c) / fabs(n) : 0;
                o.oracle_gap_pct = b != 0 ? 100.0 * (c - b) / fabs(b) : 0;
        }
        *ret = o;
        return 0;
}
