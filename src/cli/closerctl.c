/* SPDX-License-Identifier: GPL-2.0-or-later */
/* closerctl: one executable, subcommands from a table. */
#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "cli/closerctl.h"

typedef struct closer_command {
        const char *name;
        int (*fn)(int argc, char **argv);
        const char *help;
} closer_command;

static const closer_command commands[] = {
        {"plan", closer_cmd_plan, "plan containers, placement and memory for a snapshot, offline (--snapshot FILE)"},
        {"status", closer_cmd_status, "what the running closerd does (--socket PATH, --json)"},
        {"snapshot", closer_cmd_snapshot, "the running closerd's last snapshot, as closer-snapshot/1 JSON"},
        {"accounting", closer_cmd_accounting, "dom0 work done for each domain (--json, --csv)"},
        {"explain", closer_cmd_explain, "where closerd puts a thread or IRQ and why (TID | irq:N)"},
        {"scan", closer_cmd_scan, "show what closer sees in this dom0: threads, classes, IRQs (--root DIR, --json)"},
};

static void usage(FILE *f) {
        fprintf(f, "Usage: closerctl COMMAND [OPTIONS]\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
        fprintf(f, "\n`closerctl COMMAND --help` describes each command.\n");
}

int main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].fn(argc - 1, argv + 1);
        fprintf(stderr, "closerctl: unknown command '%s' (see closerctl --help)\n", argv[1]);
        return 2;
}
