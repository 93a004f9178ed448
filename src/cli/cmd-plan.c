/* SPDX-License-Identifier: GPL-2.0-or-later */
/* closerctl plan: run the policy on a snapshot file, offline. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/closerctl.h"
#include "basic/config-file.h"
#include "basic/readfile.h"
#include "closer/policy.h"

#define INPUT_MAX_BYTES (256u << 20)

static void plan_usage(FILE *f) {
        fprintf(f,
                "Usage: closerctl plan --snapshot FILE [--config FILE] [--json]\n"
                "\n"
                "Run closer's policy on a closer-snapshot/1 file (\"-\" for stdin) and print\n"
                "the plan: main and secondary containers, each domain's backend CPUs, admin\n"
                "CPU and memory split, where every dom0 thread and backend IRQ goes, and why.\n"
                "Offline: touches nothing on this host.\n"
                "\n"
                "  --snapshot FILE  the snapshot to plan for (required)\n"
                "  --config FILE    closer.conf to use; without it the built-in defaults\n"
                "                   (profile openstack, main node 0) apply, not /etc/closer\n"
                "  --json           print closer-plan/1 JSON instead of the table\n"
                "  -h, --help       this text\n");
}

int closer_cmd_plan(int argc, char **argv) {
        static const struct option opts[] = {
                {"snapshot", required_argument, NULL, 's'},
                {"config", required_argument, NULL, 'c'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *snap_path = NULL, *conf_path = NULL;
        bool json = false;
        int o;

        optind = 1;
        opterr = 0;
        while ((o = getopt_long(argc, argv, "s:c:jh", opts, NULL)) >= 0)
                switch (o) {
                case 's':
                        snap_path = optarg;
                        break;
                case 'c':
                        conf_path = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        plan_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "closerctl plan: bad option '%s' (see closerctl plan --help)\n",
                                argv[optind - 1]);
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "closerctl plan: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (!snap_path) {
                fprintf(stderr, "closerctl plan: --snapshot FILE is required\n");
                return 2;
        }

        closer_config cfg;
        closer_error err = {{0}};
        char *text = NULL;
        int r;

        closer_config_defaults(&cfg);
        /* read exactly as closerd reads it: what plan accepts, closerd does */
        if (conf_path && closer_config_load(conf_path, true, &cfg, &err) < 0) {
                fprintf(stderr, "closerctl plan: %s\n", err.msg);
                return 2;
        }

        r = closer_read_file(snap_path, INPUT_MAX_BYTES, &text);
        if (r < 0) {
                fprintf(stderr, "closerctl plan: %s: %s\n", snap_path, strerror(-r));
                return 2;
        }
        closer_snapshot *snap = NULL;
        r = closer_snapshot_from_json(text, snap_path, &snap, &err);
        free(text);
        if (r < 0) {
                fprintf(stderr, "closerctl plan: %s\n", err.msg);
                return 2;
        }

        closer_plan *plan = NULL;
        r = closer_plan_compute(snap, &cfg, &plan, &err);
        if (r < 0) {
                fprintf(stderr, "closerctl plan: %s: %s\n", snap_path, err.msg);
                closer_snapshot_free(snap);
                return r == -ENOMEM ? 1 : 2;
        }
        char *out = json ? closer_plan_to_json(plan) : closer_plan_to_table(plan);
        closer_plan_free(plan);
        closer_snapshot_free(snap);
        if (!out) {
                fprintf(stderr, "closerctl plan: out of memory\n");
                return 1;
        }
        fputs(out, stdout);
        if (json)
                fputc('\n', stdout);
        free(out);
        return fflush(stdout) == 0 ? 0 : 1;
}
