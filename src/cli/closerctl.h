/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* closerctl subcommands: each takes its own argv (argv[0] = the subcommand
 * name) and returns the process exit status (0 ok, 1 runtime failure, 2 bad
 * usage or bad input). */
int closer_cmd_scan(int argc, char **argv);
int closer_cmd_plan(int argc, char **argv);
int closer_cmd_status(int argc, char **argv);
int closer_cmd_snapshot(int argc, char **argv);
int closer_cmd_accounting(int argc, char **argv);
int closer_cmd_explain(int argc, char **argv);
