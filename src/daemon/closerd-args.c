/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd's command line: options, their checks and defaults, --help.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "basic/parse-util.h"
#include "daemon/closerd-args.h"
#include "daemon/ledger.h"
#include "daemon/log.h"

const struct option closerd_options[] = {
        {"config", required_argument, NULL, 'c'},   {"root", required_argument, NULL, 'r'},
        {"hypervisor", required_argument, NULL, 'H'}, {"dry-run", no_argument, NULL, 'n'},
        {"tick-ms", required_argument, NULL, 't'},  {"ticks", required_argument, NULL, 'T'},
        {"state", required_argument, NULL, 's'},    {"socket", required_argument, NULL, 'S'},
        {"cgroup-base", required_argument, NULL, 'g'}, {"verbose", no_argument, NULL, 'v'},
        {"ledger", required_argument, NULL, 'L'},
        {"ledger-interval", required_argument, NULL, 'I'},
        {"metrics", required_argument, NULL, 'M'},
        {"systemd-units", required_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},           {0},
};

void closerd_help(FILE *f) {
        fprintf(f, "Usage: closerd [OPTIONS]\n"
                   "\n"
                   "Keep dom0 split into a main container and one secondary container per NUMA\n"
                   "socket, run each VM's dom0 work on the dom0 vCPU under that VM's vCPU, move\n"
                   "memory between VMs and dom0 by I/O level, and meter each VM's dom0 use.\n"
                   "SIGHUP reloads the configuration; SIGTERM/SIGINT put every affinity and\n"
                   "memory target back as found and exit 0.\n"
                   "\n"
                   "  --config FILE       policy configuration (default " CLOSERD_DEFAULT_CONFIG "; built-in\n"
                   "                      defaults when that default file does not exist)\n"
                   "  --root DIR          host root for /proc, /sys and cgroups (default /)\n"
                   "  --hypervisor KIND   xen | sim (default: xen when /proc/xen exists, else sim,\n"
                   "                      the embedded modelled host of the thesis' 56-pCPU machine)\n"
                   "  --dry-run           plan and log what would change, change nothing\n"
                   "  --tick-ms N         sampling period (default 1000)\n"
                   "  --ticks N           stop cleanly after N ticks (tests, demos)\n"
                   "  --state FILE        what was changed and how it was (default " CLOSERD_DEFAULT_STATE ";\n"
                   "                      with --hypervisor sim " CLOSERD_DEFAULT_SIM_STATE ", reset at start)\n"
                   "  --ledger FILE       the billing ledger, SQLite (default " CLOSER_LEDGER_DEFAULT_PATH ";\n"
                   "                      with --hypervisor sim " CLOSERD_DEFAULT_SIM_LEDGER ")\n"
                   "  --ledger-interval S ticks are summed into ledger intervals of S seconds\n"
                   "                      (default 60; 0: one interval per tick)\n"
                   "  --socket PATH       control socket (default " CLOSERD_DEFAULT_SOCKET ")\n"
                   "  --cgroup-base NAME  cgroup v2 subtree closer owns (default closer)\n"
                   "  --systemd-units WHEN auto | yes | no: give the main container's CPUs to\n"
                   "                      system.slice, user.slice and init.scope (AllowedCPUs=) and\n"
                   "                      move VM processes into closer-node<N>-vm<D>.scope units\n"
                   "                      (default auto: when PID 1 is systemd and closerd runs in a\n"
                   "                      .service)\n"
                   "  --metrics ADDR:PORT serve Prometheus metrics on GET /metrics (off by default;\n"
                   "                      loopback addresses only, e.g. 127.0.0.1:9633)\n"
                   "  -v, --verbose       log debug messages\n"
                   "  -h, --help          this text\n"
                   "\n"
                   "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.\n");
}

/* ADDR:PORT, ADDR an IPv4 address or a bracketed IPv6 one ([::1]:9633).
 * Whether the address is loopback is for the server to say. */
static int parse_metrics(const char *s, closerd_args *a) {
        const char *colon = strrchr(s, ':');
        uint64_t port;

        if (!colon || closer_parse_uint(colon + 1, UINT16_MAX, 0, &port) < 0 ||
            (size_t) (colon - s) >= sizeof(a->metrics_addr))
                return -EINVAL;
        snprintf(a->metrics_addr, sizeof(a->metrics_addr), "%.*s", (int) (colon - s), s);
        size_t n = strlen(a->metrics_addr);
        if (n >= 2 && a->metrics_addr[0] == '[' && a->metrics_addr[n - 1] == ']') {
                memmove(a->metrics_addr, a->metrics_addr + 1, n - 2);
                a->metrics_addr[n - 2] = '\0';
        }
        a->metrics_listen = s;
        a->metrics_port = (uint16_t) port;
        return 0;
}

int closerd_args_parse(int argc, char **argv, FILE *out, FILE *err, closerd_args *ret) {
        closerd_args a = {
                .config_path = CLOSERD_DEFAULT_CONFIG, .root = "/", .tick_usec = 1000000, .ticks = -1,
                .state_path = CLOSERD_DEFAULT_STATE, .socket_path = CLOSERD_DEFAULT_SOCKET,
                .ledger_interval_s = 60, .verbosity = LOG_INFO, .systemd_units = CLOSERD_UNITS_AUTO,
        };
        uint64_t v;
        int o;

        opterr = 0;
        optind = 0;     /* from the start, also when called again (tests) */
        while ((o = getopt_long(argc, argv, "vh", closerd_options, NULL)) >= 0)
                switch (o) {
                case 'c':
                        a.config_path = optarg;
                        a.config_explicit = true;
                        break;
                case 'r':
                        a.root = optarg;
                        break;
                case 'H':
                        if (strcmp(optarg, "xen") != 0 && strcmp(optarg, "sim") != 0) {
                                fprintf(err, "closerd: --hypervisor: expected xen or sim, got '%s'\n", optarg);
                                return -EINVAL;
                        }
                        a.hypervisor = optarg;
                        break;
                case 'n':
                        a.dry_run = true;
                        break;
                case 't':
                        if (closer_parse_uint(optarg, 3600000, 0, &v) < 0 || v < 10) {
                                fprintf(err, "closerd: --tick-ms: expected 10..3600000, got '%s'\n", optarg);
                                return -EINVAL;
                        }
                        a.tick_usec = v * 1000;
                        break;
                case 'T':
                        if (closer_parse_uint(optarg, LONG_MAX, 0, &v) < 0 || v < 1) {
                                fprintf(err, "closerd: --ticks: expected a positive number, got '%s'\n", optarg);
                                return -EINVAL;
                        }
                        a.ticks = (long) v;
                        break;
                case 's':
                        a.state_path = optarg;
                        a.state_given = true;
                        break;
                case 'S':
                        a.socket_path = optarg;
                        break;
                case 'g':
                        a.cgroup_base = optarg;
                        break;
                case 'L':
                        a.ledger_path = optarg;
                        break;
                case 'M':
                        if (parse_metrics(optarg, &a) < 0) {
                                fprintf(err, "closerd: --metrics: expected ADDRESS:PORT, got '%s'\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'I':
                        if (closer_parse_uint(optarg, 86400, 0, &v) < 0) {
                                fprintf(err, "closerd: --ledger-interval: expected 0..86400 seconds, got '%s'\n",
                                        optarg);
                                return -EINVAL;
                        }
                        a.ledger_interval_s = (unsigned long) v;
                        break;
                case 'U':
                        if (strcmp(optarg, "auto") == 0)
                                a.systemd_units = CLOSERD_UNITS_AUTO;
                        else if (strcmp(optarg, "yes") == 0)
                                a.systemd_units = CLOSERD_UNITS_YES;
                        else if (strcmp(optarg, "no") == 0)
                                a.systemd_units = CLOSERD_UNITS_NO;
                        else {
                                fprintf(err, "closerd: --systemd-units: expected auto, yes or no, got '%s'\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case 'v':
                        a.verbosity = LOG_DEBUG;
                        break;
                case 'h':
                        closerd_help(out);
                        return 0;
                default:
                        fprintf(err, "closerd: bad option '%s' (see closerd --help)\n", argv[optind - 1]);
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(err, "closerd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        *ret = a;
        return 1;
}

void closerd_args_resolve(closerd_args *a, bool xen_present) {
        if (!a->hypervisor)
                a->hypervisor = xen_present ? "xen" : "sim";
        bool sim = strcmp(a->hypervisor, "sim") == 0;
        if (sim && !a->state_given)
                a->state_path = CLOSERD_DEFAULT_SIM_STATE;
        if (!a->ledger_path)
                a->ledger_path = sim ? CLOSERD_DEFAULT_SIM_LEDGER : CLOSER_LEDGER_DEFAULT_PATH;
}
