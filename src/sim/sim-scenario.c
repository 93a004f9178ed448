/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scenario files, `closer-sim-scenario/1`: one experiment each. Every key is
 * checked; an unknown key is an error, not something silently ignored, so a
 * typo in a parameter name cannot turn into a quiet default.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc-util.h"
#include "sim/sim.h"

#define SCENARIO_FORMAT "closer-sim-scenario/1"

static int bad(closer_error *err, const char *source, const char *path, const char *what) {
        return closer_error_set(err, -EINVAL, "%s: %s: expected %s", source, path, what);
}

static int get_string(json_t *obj, const char *key, bool required, char *buf, size_t len, const char *source,
                      const char *parent, closer_error *err) {
        char path[160];
        snprintf(path, sizeof(path), "%s.%s", parent, key);
        json_t *v = json_object_get(obj, key);
        if (!v) {
                if (required)
                        return bad(err, source, path, "a string (missing)");
                return 0;
        }
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= len)
                return bad(err, source, path, "a non-empty string");
        snprintf(buf, len, "%s", json_string_value(v));
        return 0;
}

static int check_keys(json_t *obj, const char *const *allowed, const char *source, const char *parent,
                      closer_error *err) {
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) {
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        if (strcmp(*a, key) == 0)
                                ok = true;
                if (!ok) {
                        char path[200];
                        snprintf(path, sizeof(path), "%s.%s", parent, key);
                        return closer_error_set(err, -EINVAL, "%s: %s: unknown key", source, path);
                }
        }
        return 0;
}

static int parse_axis(json_t *root, const char *key, closer_sim_axis *ret, const char *source, closer_error *err) {
        char path[32];
        snprintf(path, sizeof(path), "$.%s", key);
        json_t *a = json_object_get(root, key);
        if (!json_is_object(a))
                return bad(err, source, path, "an object {\"label\", \"unit\"}");
        static const char *const keys[] = {"label", "unit", "log", NULL};
        int r = check_keys(a, keys, source, path, err);
        if (r < 0)
                return r;
        r = get_string(a, "label", true, ret->label, sizeof(ret->label), source, path, err);
        if (r < 0)
                return r;
        json_t *u = json_object_get(a, "unit");
        if (!json_is_string(u) || json_string_length(u) >= sizeof(ret->unit)) {
                char p[64];
                snprintf(p, sizeof(p), "%s.unit", path);
                return bad(err, source, p, "a string (may be empty)");
        }
        snprintf(ret->unit, sizeof(ret->unit), "%s", json_string_value(u));
        json_t *lg = json_object_get(a, "log");
        if (lg && !json_is_boolean(lg)) {
                char p[64];
                snprintf(p, sizeof(p), "%s.log", path);
                return bad(err, source, p, "true or false");
        }
        ret->log = lg && json_is_true(lg);
        return 0;
}

static int check_value(const closer_sim_param_info *p, json_t *v, const char *source, const char *path, double *ret,
                       closer_error *err) {
        if (!json_is_number(v))
                return bad(err, source, path, "a number");
        double d = json_number_value(v);
        if (!isfinite(d) || d < p->min || d > p->max) {
                char what[96];
                snprintf(what, sizeof(what), "a number in [%g, %g]", p->min, p->max);
                return bad(err, source, path, what);
        }
        *ret = d;
        return 0;
}

int closer_sim_scenario_parse(const char *text, const char *source, closer_sim_scenario *ret, closer_error *err) {
        json_error_t jerr;
        json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return closer_error_set(err, -EINVAL, "%s:%d:%d: invalid JSON: %s", source, jerr.line, jerr.column,
                                        jerr.text);
        closer_sim_scenario *sc = calloc(1, sizeof(*sc));
        int r = -ENOMEM;
        if (!sc)
                goto out;
        closer_sim_config_defaults(&sc->cfg);

        r = -EINVAL;
        if (!json_is_object(root)) {
                r = bad(err, source, "$", "an object");
                goto out;
        }
        static const char *const keys[] = {"format", "name", "title", "reproduces", "group", "kind", "parameters",
                                           "sweep", "metric", "x", "y", "summary", "note", NULL};
        if ((r = check_keys(root, keys, source, "$", err)) < 0)
                goto out;
        json_t *f = json_object_get(root, "format");
        if (!json_is_string(f) || strcmp(json_string_value(f), SCENARIO_FORMAT) != 0) {
                r = bad(err, source, "$.format", "\"" SCENARIO_FORMAT "\"");
                goto out;
        }
        if ((r = get_string(root, "name", true, sc->name, sizeof(sc->name), source, "$", err)) < 0)
                goto out;
        for (const char *c = sc->name; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) {
                        r = bad(err, source, "$.name", "lower-case letters, digits and '-'");
                        goto out;
                }
        if ((r = get_string(root, "title", true, sc->title, sizeof(sc->title), source, "$", err)) < 0 ||
            (r = get_string(root, "reproduces", false, sc->thesis, sizeof(sc->thesis), source, "$", err)) < 0 ||
            (r = get_string(root, "group", true, sc->group, sizeof(sc->group), source, "$", err)) < 0 ||
            (r = get_string(root, "note", false, sc->note, sizeof(sc->note), source, "$", err)) < 0)
                goto out;

        char kind[16] = "engine";
        if ((r = get_string(root, "kind", false, kind, sizeof(kind), source, "$", err)) < 0)
                goto out;
        if (strcmp(kind, "engine") == 0)
                sc->kind = CLOSER_SIM_KIND_ENGINE;
        else if (strcmp(kind, "trace") == 0)
                sc->kind = CLOSER_SIM_KIND_TRACE;
        else {
                r = bad(err, source, "$.kind", "\"engine\" or \"trace\"");
                goto out;
        }

        json_t *params = json_object_get(root, "parameters");
        if (params) {
                if (!json_is_object(params)) {
                        r = bad(err, source, "$.parameters", "an object of parameter: number");
                        goto out;
                }
                const char *key;
                json_t *v;
                json_object_foreach(params, key, v) {
                        char path[160];
                        snprintf(path, sizeof(path), "$.parameters.%s", key);
                        const closer_sim_param_info *p = closer_sim_param_find(key);
                        if (!p) {
                                r = closer_error_set(err, -EINVAL, "%s: %s: unknown parameter (closer-sim --help lists them)",
                                                     source, path);
                                goto out;
                        }
                        double d;
                        if ((r = check_value(p, v, source, path, &d, err)) < 0)
                                goto out;
                        closer_sim_config_set(&sc->cfg, p, d);
                }
        }

        json_t *m = json_object_get(root, "metric");
        if (!json_is_string(m) || closer_sim_metric_from_string(json_string_value(m)) < 0) {
                r = bad(err, source, "$.metric",
                        "one of main_load_pct, dom0_cpu_pct, io_mib_s, web_rps, migration_s, create_s, "
                        "heartbeat_max_gap_s, heartbeat_failed, wasted_tasks, dom0_mem_mib");
                goto out;
        }
        sc->metric = (closer_sim_metric) closer_sim_metric_from_string(json_string_value(m));

        json_t *sw = json_object_get(root, "sweep");
        if (sc->kind == CLOSER_SIM_KIND_ENGINE) {
                if (!json_is_object(sw)) {
                        r = bad(err, source, "$.sweep", "an object {\"parameter\", \"values\"}");
                        goto out;
                }
                static const char *const swkeys[] = {"parameter", "values", NULL};
                if ((r = check_keys(sw, swkeys, source, "$.sweep", err)) < 0)
                        goto out;
                json_t *pn = json_object_get(sw, "parameter");
                if (!json_is_string(pn) || !(sc->sweep = closer_sim_param_find(json_string_value(pn)))) {
                        r = bad(err, source, "$.sweep.parameter", "the name of a parameter");
                        goto out;
                }
                json_t *vals = json_object_get(sw, "values");
                if (!json_is_array(vals) || json_array_size(vals) == 0 || json_array_size(vals) > CLOSER_SIM_SWEEP_MAX) {
                        r = bad(err, source, "$.sweep.values", "an array of 1 to 64 numbers");
                        goto out;
                }
                size_t i;
                json_t *v;
                json_array_foreach(vals, i, v) {
                        char path[64];
                        snprintf(path, sizeof(path), "$.sweep.values[%zu]", i);
                        if ((r = check_value(sc->sweep, v, source, path, &sc->values[i], err)) < 0)
                                goto out;
                }
                sc->n_values = (unsigned) json_array_size(vals);
        } else if (sw) {
                r = bad(err, source, "$.sweep", "no sweep for a trace experiment (x is the day)");
                goto out;
        }

        if ((r = parse_axis(root, "x", &sc->x, source, err)) < 0 || (r = parse_axis(root, "y", &sc->y, source, err)) < 0)
                goto out;

        json_t *su = json_object_get(root, "summary");
        if (su) {
                if (!json_is_object(su)) {
                        r = bad(err, source, "$.summary", "an object");
                        goto out;
                }
                static const char *const sukeys[] = {"metric", "better", "at", "average", NULL};
                if ((r = check_keys(su, sukeys, source, "$.summary", err)) < 0)
                        goto out;
                if ((r = get_string(su, "metric", true, sc->summary_metric, sizeof(sc->summary_metric), source,
                                    "$.summary", err)) < 0)
                        goto out;
                json_t *b = json_object_get(su, "better");
                if (!json_is_string(b) || (strcmp(json_string_value(b), "lower") && strcmp(json_string_value(b), "higher"))) {
                        r = bad(err, source, "$.summary.better", "\"lower\" or \"higher\"");
                        goto out;
                }
                sc->higher_is_better = strcmp(json_string_value(b), "higher") == 0;
                /* the oracle keeps each metric's best value in the metric's own
                 * direction: a summary read the other way would rank by a
                 * value the oracle did not bound */
                if (sc->higher_is_better != closer_sim_metric_higher_is_better(sc->metric)) {
                        char want[96];
                        snprintf(want, sizeof(want), "\"%s\" (%s is better %s)",
                                 closer_sim_metric_higher_is_better(sc->metric) ? "higher" : "lower",
                                 closer_sim_metric_to_string(sc->metric),
                                 closer_sim_metric_higher_is_better(sc->metric) ? "higher" : "lower");
                        r = bad(err, source, "$.summary.better", want);
                        goto out;
                }
                json_t *at = json_object_get(su, "at");
                if (!json_is_string(at) || (strcmp(json_string_value(at), "last") && strcmp(json_string_value(at), "mean"))) {
                        r = bad(err, source, "$.summary.at", "\"last\" or \"mean\"");
                        goto out;
                }
                sc->summary_at_last = strcmp(json_string_value(at), "last") == 0;
                json_t *avg = json_object_get(su, "average");
                if (avg && !json_is_boolean(avg)) {
                        r = bad(err, source, "$.summary.average", "true or false");
                        goto out;
                }
                sc->in_average = avg && json_is_true(avg);
                sc->in_summary = true;
        }
        *ret = *sc;
        r = 0;
out:
        free(sc);
        json_decref(root);
        return r;
}

int closer_sim_scenario_load(const char *path, closer_sim_scenario *ret, closer_error *err) {
        FILE *f = fopen(path, "re");
        if (!f)
                return closer_error_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
        char *buf = NULL;
        size_t len = 0, cap = 0;
        int r = 0;
        for (;;) {
                if (len + 4096 + 1 > cap) {
                        if (cap * 2 > (16u << 20)) {
                                r = closer_error_set(err, -EFBIG, "%s: larger than 16 MiB", path);
                                break;
                        }
                        if (!GREEDY_REALLOC_MIN(buf, cap, len + 4096 + 1, 8192)) {
                                r = -ENOMEM;
                                break;
                        }
                }
                size_t n = fread(buf + len, 1, cap - len - 1, f);
                len += n;
                if (n == 0) {
                        if (ferror(f))
                                r = closer_error_set(err, -EIO, "%s: read error", path);
                        break;
                }
        }
        fclose(f);
        if (r == 0) {
                buf[len] = '\0';
                r = closer_sim_scenario_parse(buf, path, ret, err);
        }
        free(buf);
        return r;
}
