/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Outputs: the table, closer-sim-result/1, closer-sim-summary/1, CSV, figures. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/strbuf.h"
#include "sim/sim.h"

extern char **environ;

static const char *const policy_legend[CLOSER_SIM_POLICY_MAX] = {
        "native (static dom0, 2 vCPUs on socket 0)",
        "closer (main + secondary containers)",
        "oracle (best placement on the VM's node, per metric)",
};

static void model_line(closer_strbuf *b, const closer_sim_config *m) {
        closer_strbuf_printf(b,
                             "SIMULATED on a modelled host, not measured: %g sockets x %g pCPUs, %g GiB; remote memory latency "
                             "%gx local, remote bandwidth %gx local; seed %g. Parameters and sources: docs/model.md.\n",
                             m->host_sockets, m->host_cpus_per_socket, m->host_mem_gib, m->mem_remote_latency_ratio,
                             m->mem_remote_bw_ratio, m->w_seed);
}

static void axis_text(char *buf, size_t len, const closer_sim_axis *a) {
        if (a->unit[0])
                snprintf(buf, len, "%s [%s]", a->label, a->unit);
        else
                snprintf(buf, len, "%s", a->label);
}

static void experiment_table(closer_strbuf *b, const closer_sim_outcome *o) {
        const closer_sim_scenario *sc = o->sc;
        char xa[160], ya[160];
        axis_text(xa, sizeof(xa), &sc->x);
        axis_text(ya, sizeof(ya), &sc->y);
        closer_strbuf_printf(b, "\n== %s: %s%s%s%s\n", sc->name, sc->title, sc->thesis[0] ? " (" : "", sc->thesis,
                             sc->thesis[0] ? ")" : "");
        if (sc->note[0])
                closer_strbuf_printf(b, "   %s\n", sc->note);
        closer_strbuf_printf(b, "   y = %s\n", ya);
        closer_strbuf_printf(b, "   %-28s %12s %12s %12s\n", xa, "native", "closer", "oracle");
        for (unsigned i = 0; i < o->series[0].n; i++)
                closer_strbuf_printf(b, "   %-28.6g %12.4g %12.4g %12.4g\n", o->series[0].x[i],
                                     o->series[CLOSER_SIM_NATIVE].y[i],
                                     o->series[CLOSER_SIM_CLOSER].y[i], o->series[CLOSER_SIM_ORACLE].y[i]);
}

static double average_gain(const closer_sim_outcome *o, unsigned n, unsigned *ret_n) {
        double sum = 0;
        unsigned k = 0;
        for (unsigned i = 0; i < n; i++)
                if (o[i].sc->in_summary && o[i].sc->in_average) {
                        sum += o[i].gain_pct;
                        k++;
                }
        *ret_n = k;
        return k ? sum / k : 0;
}

char *closer_sim_report_table(const closer_sim_outcome *o, unsigned n, const closer_sim_config *model) {
        closer_strbuf b = {};
        closer_strbuf_printf(&b, "closer-sim: dom0 policies compared on the thesis' experiments\n");
        model_line(&b, model);
        for (unsigned i = 0; i < n; i++)
                experiment_table(&b, &o[i]);

        unsigned n_sum = 0;
        for (unsigned i = 0; i < n; i++)
                n_sum += o[i].sc->in_summary;
        if (n_sum > 1 || (n_sum == 1 && n == 1)) {
                closer_strbuf_printf(&b, "\n== summary (gain: closer over native; gap: closer's distance to oracle)\n");
                closer_strbuf_printf(&b, "   %-24s %-46s %-6s %10s %10s %10s %9s %8s\n", "benchmark", "metric",
                                     "better", "native",
                                     "closer", "oracle", "gain %", "gap %");
                for (unsigned i = 0; i < n; i++) {
                        const closer_sim_scenario *sc = o[i].sc;
                        if (!sc->in_summary)
                                continue;
                        closer_strbuf_printf(&b, "   %-24s %-46s %-6s %10.4g %10.4g %10.4g %9.1f %8.1f%s\n", sc->name,
                                             sc->summary_metric,
                                             sc->higher_is_better ? "higher" : "lower", o[i].summary[CLOSER_SIM_NATIVE],
                                             o[i].summary[CLOSER_SIM_CLOSER], o[i].summary[CLOSER_SIM_ORACLE], o[i].gain_pct, o[i].oracle_gap_pct,
                                             sc->in_average ? " *" : "");
                }
                unsigned k;
                double avg = average_gain(o, n, &k);
                if (k > 0)
                        closer_strbuf_printf(&b,
                                             "   average gain over the %u benchmarks marked * (thesis ch. 4): %.1f %% "
                                             "(the thesis reports about 12 %% on real hardware)\n",
                                             k, avg);
        }
        return closer_strbuf_steal(&b);
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *parameters_json(const closer_sim_config *c, bool model_only) {
        json_t *p = json_object();
        for (unsigned i = 0; i < closer_sim_n_params; i++)
                if (!model_only || closer_sim_params[i].is_model)
                        json_object_set_new(p, closer_sim_params[i].name, json_real(closer_sim_config_get(c, &closer_sim_params[i])));
        return p;
}

static json_t *axis_json(const closer_sim_axis *a) {
        return json_pack("{s:s, s:s}", "label", a->label, "unit", a->unit);
}

static char *dump(json_t *j) {
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
        json_decref(j);
        if (!s)
                return NULL;
        size_t len = strlen(s);
        char *t = realloc(s, len + 2);
        if (!t) {
                free(s);
                return NULL;
        }
        t[len] = '\n';
        t[len + 1] = '\0';
        return t;
}

char *closer_sim_report_result_json(const closer_sim_outcome *o) {
        const closer_sim_scenario *sc = o->sc;
        json_t *j = json_object();
        json_object_set_new(j, "format", json_string("closer-sim-result/1"));
        json_object_set_new(j, "experiment", json_string(sc->name));
        json_object_set_new(j, "title", json_string(sc->title));
        json_object_set_new(j, "reproduces", json_string(sc->thesis));
        json_object_set_new(j, "note", json_string(sc->note));
        json_object_set_new(j, "simulated", json_true());
        json_object_set_new(j, "x", axis_json(&sc->x));
        json_object_set_new(j, "y", axis_json(&sc->y));
        json_t *series = json_array();
        for (unsigned p = 0; p < CLOSER_SIM_POLICY_MAX; p++) {
                json_t *pts = json_array();
                for (unsigned i = 0; i < o->series[p].n; i++)
                        json_array_append_new(pts, json_pack("[f, f]", o->series[p].x[i], o->series[p].y[i]));
                json_t *ps = json_pack("{s:s, s:o}", "policy", closer_sim_policy_to_string((closer_sim_policy) p), "points", pts);
                if (p == CLOSER_SIM_ORACLE && sc->kind == CLOSER_SIM_KIND_ENGINE) {
                        /* which placement each oracle point is the best of */
                        json_t *pl = json_array();
                        for (unsigned i = 0; i < o->series[p].n; i++)
                                json_array_append_new(pl, json_string(closer_sim_placement_to_string(o->series[p].placement[i])));
                        json_object_set_new(ps, "placements", pl);
                }
                json_array_append_new(series, ps);
        }
        json_object_set_new(j, "series", series);
        if (sc->sweep)
                json_object_set_new(j, "sweep", json_string(sc->sweep->name));
        json_object_set_new(j, "metric", json_string(closer_sim_metric_to_string(sc->metric)));
        json_object_set_new(j, "better", json_string(closer_sim_metric_higher_is_better(sc->metric) ? "higher" : "lower"));
        if (sc->in_summary)
                json_object_set_new(j, "summary",
                                    json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f}", "metric", sc->summary_metric, "better",
                                              sc->higher_is_better ? "higher" : "lower", "native", o->summary[CLOSER_SIM_NATIVE],
                                              "closer", o->summary[CLOSER_SIM_CLOSER], "oracle", o->summary[CLOSER_SIM_ORACLE],
                                              "gain_pct", o->gain_pct, "oracle_gap_pct", o->oracle_gap_pct));
        json_object_set_new(j, "parameters", parameters_json(&sc->cfg, false));
        return dump(j);
}

char *closer_sim_report_summary_json(const closer_sim_outcome *o, unsigned n, const closer_sim_config *model) {
        json_t *j = json_object();
        json_object_set_new(j, "format", json_string("closer-sim-summary/1"));
        json_object_set_new(j, "simulated", json_true());
        json_t *bm = json_array();
        json_t *over = json_array();
        for (unsigned i = 0; i < n; i++) {
                const closer_sim_scenario *sc = o[i].sc;
                if (!sc->in_summary)
                        continue;
                json_array_append_new(
                        bm, json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:s, s:b}", "name", sc->name, "metric",
                                      sc->summary_metric, "better", sc->higher_is_better ? "higher" : "lower", "native",
                                      o[i].summary[CLOSER_SIM_NATIVE], "closer", o[i].summary[CLOSER_SIM_CLOSER], "oracle",
                                      o[i].summary[CLOSER_SIM_ORACLE], "gain_pct", o[i].gain_pct, "oracle_gap_pct",
                                      o[i].oracle_gap_pct, "reproduces", sc->thesis, "in_average", sc->in_average));
                if (sc->in_average)
                        json_array_append_new(over, json_string(sc->name));
        }
        unsigned k;
        json_object_set_new(j, "benchmarks", bm);
        json_object_set_new(j, "average_gain_pct", json_real(average_gain(o, n, &k)));
        json_object_set_new(j, "average_over", over);
        json_object_set_new(j, "parameters", parameters_json(model, true));
        return dump(j);
}

char *closer_sim_report_csv(const closer_sim_outcome *o, unsigned n) {
        closer_strbuf b = {};
        closer_strbuf_printf(&b, "experiment,x_label,x_unit,y_label,y_unit,policy,x,y\n");
        for (unsigned i = 0; i < n; i++) {
                const closer_sim_scenario *sc = o[i].sc;
                for (unsigned p = 0; p < CLOSER_SIM_POLICY_MAX; p++)
                        for (unsigned k = 0; k < o[i].series[p].n; k++)
                                closer_strbuf_printf(&b, "%s,\"%s\",\"%s\",\"%s\",\"%s\",%s,%.6g,%.6g\n", sc->name,
                                                     sc->x.label,
                                                     sc->x.unit, sc->y.label, sc->y.unit, closer_sim_policy_to_string((closer_sim_policy) p),
                                                     o[i].series[p].x[k], o[i].series[p].y[k]);
        }
        return closer_strbuf_steal(&b);
}

/* ---- figures through gnuplot ---------------------------------------------- */

/* A gnuplot double-quoted string: escape backslash and quote. */
static void gp_quoted(closer_strbuf *b, const char *s) {
        closer_strbuf_printf(b, "\"");
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        closer_strbuf_printf(b, "\\%c", *s);
                else if (*s == '\n')
                        closer_strbuf_printf(b, " ");
                else
                        closer_strbuf_printf(b, "%c", *s);
        }
        closer_strbuf_printf(b, "\"");
}

static void gp_label(closer_strbuf *b, const char *cmd, const closer_sim_axis *a) {
        char t[160];
        axis_text(t, sizeof(t), a);
        closer_strbuf_printf(b, "%s ", cmd);
        gp_quoted(b, t);
        closer_strbuf_printf(b, " noenhanced\n");
}

static char *plot_script(const closer_sim_outcome *o, const char *dir) {
        const closer_sim_scenario *sc = o->sc;
        closer_strbuf b = {};
        char path[4096], title[320];
        for (unsigned p = 0; p < CLOSER_SIM_POLICY_MAX; p++) {
                closer_strbuf_printf(&b, "$%s << EOD\n", closer_sim_policy_to_string((closer_sim_policy) p));
                for (unsigned i = 0; i < o->series[p].n; i++)
                        closer_strbuf_printf(&b, "%.9g %.9g\n", o->series[p].x[i], o->series[p].y[i]);
                closer_strbuf_printf(&b, "EOD\n");
        }
        snprintf(title, sizeof(title), "%s%s%s%s - SIMULATED", sc->title, sc->thesis[0] ? " (" : "", sc->thesis,
                 sc->thesis[0] ? ")" : "");
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 0)
                        closer_strbuf_printf(&b,
                                             "set terminal svg size 900,560 dynamic font 'sans,12' background rgb 'white'\n");
                else
                        closer_strbuf_printf(&b,
                                             "set terminal pngcairo size 900,560 font 'sans,11' background rgb 'white'\n");
                snprintf(path, sizeof(path), "%s/%s.%s", dir, sc->name, pass == 0 ? "svg" : "png");
                closer_strbuf_printf(&b, "set output ");
                gp_quoted(&b, path);
                closer_strbuf_printf(&b, "\nset title ");
                gp_quoted(&b, title);
                closer_strbuf_printf(&b, " noenhanced\n");
                gp_label(&b, "set xlabel", &sc->x);
                gp_label(&b, "set ylabel", &sc->y);
                closer_strbuf_printf(&b, "set grid\nset key outside below center vertical Left reverse noenhanced\n");
                closer_strbuf_printf(&b, "%s\n%s\n", sc->x.log ? "set logscale x" : "unset logscale x",
                                     sc->y.log ? "set logscale y\nset yrange [*:*]" : "unset logscale y\nset yrange [0:*]");
                closer_strbuf_printf(&b, "plot ");
                static const char *const style[CLOSER_SIM_POLICY_MAX] = {
                        "lw 2 pt 7 lc rgb '#c0392b'", "lw 2 pt 5 lc rgb '#2471a3'", "lw 2 dt 2 pt 9 lc rgb '#7f8c8d'"};
                for (unsigned p = 0; p < CLOSER_SIM_POLICY_MAX; p++) {
                        closer_strbuf_printf(&b, "%s$%s using 1:2 with linespoints %s title ", p ? ", " : "",
                                             closer_sim_policy_to_string((closer_sim_policy) p), style[p]);
                        gp_quoted(&b, policy_legend[p]);
                }
                closer_strbuf_printf(&b, "\nunset output\n");
        }
        return closer_strbuf_steal(&b);
}

int closer_sim_report_plot(const closer_sim_outcome *o, const char *dir, closer_error *err) {
        char *script = plot_script(o, dir);
        if (!script)
                return -ENOMEM;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
                int r = -errno;
                free(script);
                return closer_error_set(err, r, "pipe: %s", strerror(-r));
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
        char *const argv[] = {(char *) "gnuplot", NULL};
        pid_t pid;
        int r = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[0]);
        if (r != 0) {
                close(fds[1]);
                free(script);
                return closer_error_set(err, -r, "cannot run gnuplot: %s (install gnuplot-nox)", strerror(r));
        }
        /* gnuplot may die early: do not let SIGPIPE kill us */
        struct sigaction sa = {.sa_handler = SIG_IGN}, old;
        sigaction(SIGPIPE, &sa, &old);
        size_t len = strlen(script), off = 0;
        int werr = 0;
        while (off < len) {
                ssize_t n = write(fds[1], script + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        werr = errno;
                        break;
                }
                off += (size_t) n;
        }
        close(fds[1]);
        sigaction(SIGPIPE, &old, NULL);
        free(script);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return closer_error_set(err, -errno, "waitpid gnuplot: %s", strerror(errno));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || werr)
                return closer_error_set(err, -EIO, "gnuplot failed drawing %s/%s (exit status %d)", dir, o->sc->name,
                                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
}
