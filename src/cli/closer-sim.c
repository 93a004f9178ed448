/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closer-sim: the thesis' experiments on a modelled NUMA host, with dom0
 * under native, closer (the real core) and oracle side by side.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim-embedded.h"
#include "sim/sim.h"

#define MAX_SCENARIOS 64u

static void help(void) {
        printf("Usage: closer-sim [OPTIONS]\n"
               "\n"
               "Runs the thesis' experiments on a modelled NUMA host (by default the thesis'\n"
               "reference host, 4 sockets x 14 pCPUs, 40 GiB) with dom0 under three policies:\n"
               "native (stock Xen: static dom0, 2 vCPUs / 2 GiB on socket 0), closer (main +\n"
               "secondary containers as closer's core plans them) and oracle (a bound: each\n"
               "VM's dom0 work beside or under the VM on its node, the better per metric).\n"
               "All results are SIMULATED, not measured.\n"
               "Without options: runs the whole reference set and prints the comparison table.\n"
               "\n"
               "Options:\n"
               "  --experiment NAME   run one experiment of the reference set (see --list)\n"
               "  --scenario FILE     run the experiment described by a scenario file\n"
               "  --list              list the experiments of the reference set and exit\n"
               "  --json              print JSON: closer-sim-result/1 for one experiment,\n"
               "                      closer-sim-summary/1 for the set\n"
               "  --csv               print every series as CSV\n"
               "  --plot DIR          draw DIR/NAME.svg and DIR/NAME.png with gnuplot\n"
               "  --out DIR           write everything in one run: DIR/summary.txt,\n"
               "                      DIR/summary.json, DIR/NAME.json, DIR/NAME.csv,\n"
               "                      DIR/figures/NAME.svg|png (and the table on stdout)\n"
               "  --snapshot          print the closer-snapshot/1 closerd would read on the\n"
               "                      modelled host (first point of the experiment given with\n"
               "                      --experiment or --scenario, end of its warm-up), for\n"
               "                      closerctl plan --snapshot FILE\n"
               "  --set NAME=VALUE    override a parameter in every experiment run\n"
               "  --seed N            shorthand for --set workload.seed=N\n"
               "  --params            list every parameter with its default and unit\n"
               "  -h, --help          this help\n"
               "\n"
               "Exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input.\n"
               "Model and sources of every parameter: docs/model.md.\n"
               "\n"
               "Experiments of the reference set:\n");
        for (unsigned i = 0; i < closer_sim_n_embedded_scenarios; i++) {
                closer_sim_scenario sc;
                if (closer_sim_scenario_parse(closer_sim_embedded_scenarios[i].text, closer_sim_embedded_scenarios[i].file, &sc, NULL) == 0)
                        printf("  %-24s %s%s%s%s\n", sc.name, sc.title, sc.thesis[0] ? " (" : "", sc.thesis,
                               sc.thesis[0] ? ")" : "");
        }
}

typedef struct progress_state {
        struct timespec start;
        double last_print;
        bool tty, printed;
} progress_state;

static double elapsed_s(const struct timespec *start) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double) (now.tv_sec - start->tv_sec) + (double) (now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Only runs longer than a second get a progress line; a terminal sees it
 * updated in place, a log at most once a second. */
static void progress(void *userdata, const char *name, unsigned done, unsigned total) {
        progress_state *ps = userdata;
        double t = elapsed_s(&ps->start);
        if (t < 1.0 || (t - ps->last_print < (ps->tty ? 0.1 : 1.0) && done != total))
                return;
        ps->last_print = t;
        fprintf(stderr, "%scloser-sim: %s: %u/%u runs, %.1f s elapsed%s", ps->tty ? "\r" : "", name, done, total, t,
                ps->tty ? "\033[K" : "\n");
        ps->printed = true;
}

static int write_file(const char *dir, const char *name, const char *text) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        if (!f) {
                fprintf(stderr, "closer-sim: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        fputs(text, f);
        if (fclose(f) != 0) {
                fprintf(stderr, "closer-sim: %s: %s\n", path, strerror(errno));
                return -EIO;
        }
        return 0;
}

static int mkdir_p(const char *dir) {
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", dir);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

typedef struct override {
        const closer_sim_param_info *p;
        double v;
} override;

int main(int argc, char **argv) {
        enum { OPT_EXPERIMENT = 256, OPT_SCENARIO, OPT_LIST, OPT_JSON, OPT_CSV, OPT_PLOT, OPT_OUT, OPT_SET, OPT_SEED, OPT_PARAMS, OPT_SNAPSHOT };
        static const struct option opts[] = {
                {"experiment", required_argument, NULL, OPT_EXPERIMENT},
                {"scenario", required_argument, NULL, OPT_SCENARIO},
                {"list", no_argument, NULL, OPT_LIST},
                {"json", no_argument, NULL, OPT_JSON},
                {"csv", no_argument, NULL, OPT_CSV},
                {"plot", required_argument, NULL, OPT_PLOT},
                {"out", required_argument, NULL, OPT_OUT},
                {"set", required_argument, NULL, OPT_SET},
                {"seed", required_argument, NULL, OPT_SEED},
                {"params", no_argument, NULL, OPT_PARAMS},
                {"snapshot", no_argument, NULL, OPT_SNAPSHOT},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *experiment = NULL, *scenario_file = NULL, *plot_dir = NULL, *out_dir = NULL;
        bool json = false, csv = false, list = false, params = false, snapshot = false;
        override ov[64];
        unsigned n_ov = 0;
        int c;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case OPT_EXPERIMENT:
                        experiment = optarg;
                        break;
                case OPT_SCENARIO:
                        scenario_file = optarg;
                        break;
                case OPT_LIST:
                        list = true;
                        break;
                case OPT_JSON:
                        json = true;
                        break;
                case OPT_CSV:
                        csv = true;
                        break;
                case OPT_PLOT:
                        plot_dir = optarg;
                        break;
                case OPT_OUT:
                        out_dir = optarg;
                        break;
                case OPT_PARAMS:
                        params = true;
                        break;
                case OPT_SNAPSHOT:
                        snapshot = true;
                        break;
                case OPT_SET:
                case OPT_SEED: {
                        char name[96];
                        const char *val;
                        if (c == OPT_SEED) {
                                snprintf(name, sizeof(name), "workload.seed");
                                val = optarg;
                        } else {
                                const char *eq = strchr(optarg, '=');
                                if (!eq || (size_t) (eq - optarg) >= sizeof(name)) {
                                        fprintf(stderr, "closer-sim: --set %s: expected NAME=VALUE\n", optarg);
                                        return 2;
                                }
                                snprintf(name, sizeof(name), "%.*s", (int) (eq - optarg), optarg);
                                val = eq + 1;
                        }
                        const closer_sim_param_info *p = closer_sim_param_find(name);
                        char *end;
                        errno = 0;
                        double v = strtod(val, &end);
                        if (!p) {
                                fprintf(stderr, "closer-sim: --set %s: unknown parameter (see --params)\n", name);
                                return 2;
                        }
                        if (errno || end == val || *end || v < p->min || v > p->max) {
                                fprintf(stderr, "closer-sim: %s=%s: expected a number in [%g, %g]\n", name, val, p->min,
                                        p->max);
                                return 2;
                        }
                        if (n_ov == 64) {
                                fprintf(stderr, "closer-sim: too many --set\n");
                                return 2;
                        }
                        ov[n_ov++] = (override) {p, v};
                        break;
                }
                default:
                        fprintf(stderr, "closer-sim: try --help\n");
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "closer-sim: unexpected argument '%s' (try --help)\n", argv[optind]);
                return 2;
        }
        if (experiment && scenario_file) {
                fprintf(stderr, "closer-sim: --experiment and --scenario exclude each other\n");
                return 2;
        }
        if ((json && csv) || (out_dir && (json || csv))) {
                fprintf(stderr, "closer-sim: choose one of --json, --csv, --out\n");
                return 2;
        }

        if (params) {
                closer_sim_config d;
                closer_sim_config_defaults(&d);
                for (unsigned i = 0; i < closer_sim_n_params; i++)
                        printf("%-30s %12g %-8s %s\n", closer_sim_params[i].name, closer_sim_params[i].def, closer_sim_params[i].unit,
                               closer_sim_params[i].is_model ? "model" : "workload");
                return 0;
        }

        static closer_sim_scenario scs[MAX_SCENARIOS];
        unsigned n = 0;
        closer_error err = {{0}};
        if (scenario_file) {
                if (closer_sim_scenario_load(scenario_file, &scs[0], &err) < 0) {
                        fprintf(stderr, "closer-sim: %s\n", err.msg);
                        return 2;
                }
                n = 1;
        } else {
                for (unsigned i = 0; i < closer_sim_n_embedded_scenarios && n < MAX_SCENARIOS; i++) {
                        if (closer_sim_scenario_parse(closer_sim_embedded_scenarios[i].text, closer_sim_embedded_scenarios[i].file, &scs[n],
                                               &err) < 0) {
                                fprintf(stderr, "closer-sim: %s\n", err.msg);
                                return 1;
                        }
                        if (!experiment || strcmp(scs[n].name, experiment) == 0)
                                n++;
                }
                if (list) {
                        for (unsigned i = 0; i < n; i++)
                                printf("%-26s %-14s %-18s %s\n", scs[i].name, scs[i].group, scs[i].thesis, scs[i].title);
                        return 0;
                }
                if (experiment && n == 0) {
                        fprintf(stderr, "closer-sim: --experiment %s: no such experiment (see --list)\n", experiment);
                        return 2;
                }
        }
        for (unsigned i = 0; i < n; i++)
                for (unsigned k = 0; k < n_ov; k++)
                        closer_sim_config_set(&scs[i].cfg, ov[k].p, ov[k].v);

        if (snapshot) {
                if (n != 1 || scs[0].kind != CLOSER_SIM_KIND_ENGINE || (!experiment && !scenario_file)) {
                        fprintf(stderr, "closer-sim: --snapshot needs --experiment or --scenario naming an engine experiment\n");
                        return 2;
                }
                closer_sim_config cfg = scs[0].cfg;
                closer_sim_config_set(&cfg, scs[0].sweep, scs[0].values[0]);
                char *js = NULL;
                int r = closer_sim_snapshot_json(&cfg, &js, &err);
                if (r < 0) {
                        fprintf(stderr, "closer-sim: %s: %s\n", scs[0].name, err.msg[0] ? err.msg : strerror(-r));
                        return r == -EINVAL ? 2 : 1;
                }
                fputs(js, stdout);
                free(js);
                return fflush(stdout) == 0 ? 0 : 1;
        }

        if (out_dir) {
                char fig[4096];
                snprintf(fig, sizeof(fig), "%s/figures", out_dir);
                int r = mkdir_p(fig);
                if (r < 0) {
                        fprintf(stderr, "closer-sim: %s: %s\n", fig, strerror(-r));
                        return 1;
                }
                plot_dir = fig;
        } else if (plot_dir) {
                int r = mkdir_p(plot_dir);
                if (r < 0) {
                        fprintf(stderr, "closer-sim: %s: %s\n", plot_dir, strerror(-r));
                        return 1;
                }
        }

        static closer_sim_outcome out[MAX_SCENARIOS];
        progress_state ps = {.tty = isatty(STDERR_FILENO)};
        clock_gettime(CLOCK_MONOTONIC, &ps.start);
        for (unsigned i = 0; i < n; i++) {
                int r = closer_sim_experiment_run(&scs[i], &out[i], progress, &ps, &err);
                if (r < 0) {
                        if (ps.printed && ps.tty)
                                fputc('\n', stderr);
                        fprintf(stderr, "closer-sim: %s: %s\n", scs[i].name, err.msg[0] ? err.msg : strerror(-r));
                        return r == -EINVAL ? 2 : 1;
                }
                if (plot_dir) {
                        r = closer_sim_report_plot(&out[i], plot_dir, &err);
                        if (r < 0) {
                                fprintf(stderr, "closer-sim: %s\n", err.msg);
                                return 1;
                        }
                }
        }
        if (ps.printed && ps.tty)
                fputc('\n', stderr);

        /* the model the table describes: the first experiment's */
        const closer_sim_config *model = &scs[0].cfg;
        char *text;
        if (json)
                text = n == 1 && (experiment || scenario_file) ? closer_sim_report_result_json(&out[0])
                                                               : closer_sim_report_summary_json(out, n, model);
        else if (csv)
                text = closer_sim_report_csv(out, n);
        else
                text = closer_sim_report_table(out, n, model);
        if (!text) {
                fprintf(stderr, "closer-sim: out of memory\n");
                return 1;
        }
        fputs(text, stdout);

        int ret = 0;
        if (out_dir) {
                if (write_file(out_dir, "summary.txt", text) < 0)
                        ret = 1;
                char *sj = closer_sim_report_summary_json(out, n, model);
                if (!sj || write_file(out_dir, "summary.json", sj) < 0)
                        ret = 1;
                free(sj);
                for (unsigned i = 0; i < n && ret == 0; i++) {
                        char name[96];
                        const closer_sim_outcome one = out[i];
                        char *rj = closer_sim_report_result_json(&one);
                        char *cv = closer_sim_report_csv(&one, 1);
                        snprintf(name, sizeof(name), "%s.json", scs[i].name);
                        if (!rj || write_file(out_dir, name, rj) < 0)
                                ret = 1;
                        snprintf(name, sizeof(name), "%s.csv", scs[i].name);
                        if (!cv || write_file(out_dir, name, cv) < 0)
                                ret = 1;
                        free(rj);
                        free(cv);
                }
        }
        free(text);
        if (fflush(stdout) != 0) {
                fprintf(stderr, "closer-sim: writing output: %s\n", strerror(errno));
                return 1;
        }
        return ret;
}
