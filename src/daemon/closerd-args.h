/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * closerd's command line: parsed and checked here, before anything is
 * opened, so that bad usage is one line on stderr and exit status 2 whatever
 * the host. What depends on the host (the hypervisor when none is given, and
 * the state and ledger paths that follow from it) is filled in by
 * closerd_args_resolve().
 */
#define CLOSERD_DEFAULT_CONFIG "/etc/closer/closer.conf"
#define CLOSERD_DEFAULT_STATE "/run/closer/state.json"
#define CLOSERD_DEFAULT_SOCKET "/run/closer/closerd.sock"
#define CLOSERD_DEFAULT_SIM_LEDGER "/run/closer/sim-ledger.db"
#define CLOSERD_DEFAULT_SIM_STATE "/run/closer/sim-state.json"
#define CLOSERD_METRICS_ADDR_MAX 64

enum {
        CLOSERD_UNITS_AUTO = -1,        /* when PID 1 is systemd and closerd runs in a .service */
        CLOSERD_UNITS_NO = 0,
        CLOSERD_UNITS_YES = 1,
};

typedef struct closerd_args {
        const char *config_path;
        bool config_explicit;           /* --config given: the file must exist */
        const char *root;
        const char *hypervisor;         /* "xen", "sim", or NULL until resolved */
        bool dry_run;
        uint64_t tick_usec;
        long ticks;                     /* --ticks N: stop after N; -1 forever */
        const char *state_path;
        bool state_given;
        const char *socket_path;
        const char *cgroup_base;        /* NULL: the adapter's default */
        const char *ledger_path;        /* NULL until resolved */
        unsigned long ledger_interval_s;
        const char *metrics_listen;     /* --metrics as given, NULL: off */
        char metrics_addr[CLOSERD_METRICS_ADDR_MAX]; /* its address, without [] */
        uint16_t metrics_port;
        int verbosity;                  /* LOG_INFO, or LOG_DEBUG with -v */
        int systemd_units;              /* CLOSERD_UNITS_*: use systemd's units */
} closerd_args;

/* The long options closerd accepts, ending with a zeroed entry. */
extern const struct option closerd_options[];

/* Write the --help text to f. */
void closerd_help(FILE *f);

/*
 * Parse argv into *ret (the strings point into argv). Returns 1: run;
 * 0: --help was printed on out, exit 0; -EINVAL: bad usage, one line said on
 * err, exit 2.
 */
int closerd_args_parse(int argc, char **argv, FILE *out, FILE *err, closerd_args *ret);

/* Fill in what depends on the host: the hypervisor when none was given
 * (xen when xen_present), and the state and ledger defaults for it. */
void closerd_args_resolve(closerd_args *a, bool xen_present);
