/* SPDX-License-Identifier: GPL-2.0-or-later */
/* closerctl status | snapshot | accounting | explain: ask a running closerd
 * over its control socket (closer-control/1, see src/daemon/control.h). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "cli/closerctl.h"
#include "daemon/control.h"

#define DEFAULT_SOCKET "/run/closer/closerd.sock"

typedef struct client_opts {
        const char *socket;
        int timeout_ms;
        bool json, csv;
        const char *arg;        /* the one positional argument, if any */
} client_opts;

static int parse(int argc, char **argv, const char *usage, bool want_arg, bool allow_csv, client_opts *o) {
        static const struct option opts[] = {
                {"socket", required_argument, NULL, 's'},
                {"json", no_argument, NULL, 'j'},
                {"csv", no_argument, NULL, 'c'},
                {"timeout", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;
        char *end;
        *o = (client_opts) {.socket = DEFAULT_SOCKET, .timeout_ms = CLOSER_CONTROL_CLIENT_TIMEOUT_MS};
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 's':
                        o->socket = optarg;
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 'c':
                        if (!allow_csv)
                                goto bad;
                        o->csv = true;
                        break;
                case 't': {
                        errno = 0;
                        double v = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !(v >= 0.001 && v <= 86400)) {
                                fprintf(stderr, "closerctl %s: --timeout: expected seconds in 0.001..86400, got '%s'\n",
                                        argv[0], optarg);
                                return 2;
                        }
                        o->timeout_ms = (int) (v * 1000 + 0.5);
                        break;
                }
                case 'h':
                        fputs(usage, stdout);
                        return 0;
                default:
                bad:
                        fprintf(stderr, "closerctl %s: bad option '%s'\n", argv[0], argv[optind - 1]);
                        return 2;
                }
        if (want_arg) {
                if (optind != argc - 1) {
                        fprintf(stderr, "closerctl %s: expected exactly one argument\n", argv[0]);
                        return 2;
                }
                o->arg = argv[optind];
        } else if (optind < argc) {
                fprintf(stderr, "closerctl %s: unexpected argument '%s'\n", argv[0], argv[optind]);
                return 2;
        }
        if (o->json && o->csv) {
                fprintf(stderr, "closerctl %s: --json and --csv exclude each other\n", argv[0]);
                return 2;
        }
        return -1;      /* go on */
}

/* Send the request; on success *ret is the answer with ok == true. With
 * stream_key, that member of the answer goes to stdout as it arrives. */
static int call_stream(const char *cmd, const client_opts *o, json_t *req, const char *stream_key, json_t **ret) {
        json_t *ans = NULL;
        int r = req ? closer_control_call_stream(o->socket, req, stream_key, stdout, o->timeout_ms, &ans) : -ENOMEM;
        json_decref(req);
        if (r < 0) {
                if (r == -ETIMEDOUT)
                        fprintf(stderr, "closerctl %s: %s: no answer for %.3g s (is closerd stopped or hung? "
                                "--timeout)\n", cmd, o->socket, o->timeout_ms / 1000.0);
                else if (r == -EPROTO && stream_key)
                        fprintf(stderr, "closerctl %s: %s: the answer was cut short (see closerd's log); what "
                                "was written is incomplete\n", cmd, o->socket);
                else
                        fprintf(stderr, "closerctl %s: %s: %s%s\n", cmd, o->socket, strerror(-r),
                                r == -ENOENT || r == -ECONNREFUSED ? " (is closerd running?)" : "");
                return 1;
        }
        if (!json_is_true(json_object_get(ans, "ok"))) {
                const char *e = json_string_value(json_object_get(ans, "error"));
                fprintf(stderr, "closerctl %s: closerd says: %s\n", cmd, e ? e : "(no reason given)");
                json_decref(ans);
                return 1;
        }
        *ret = ans;
        return 0;
}

static int call(const char *cmd, const client_opts *o, json_t *req, json_t **ret) {
        return call_stream(cmd, o, req, NULL, ret);
}

static int print_json(json_t *o) {
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!s)
                return 1;
        puts(s);
        free(s);
        return 0;
}

int closer_cmd_status(int argc, char **argv) {
        client_opts o;
        json_t *ans;
        int r = parse(argc, argv,
                      "Usage: closerctl status [--socket PATH] [--timeout S] [--json]\n"
                      "What the running closerd does: containers, domains, actions and errors.\n",
                      false, false, &o);
        if (r >= 0)
                return r;
        if (call("status", &o, json_pack("{s:s}", "command", "status"), &ans))
                return 1;
        if (o.json)
                r = print_json(ans);
        else {
                json_t *mn = json_object_get(ans, "main"), *ac = json_object_get(ans, "actions"),
                       *er = json_object_get(ans, "errors");
                printf("hypervisor      %s%s\n", json_string_value(json_object_get(ans, "hypervisor")),
                       json_is_true(json_object_get(ans, "dry_run")) ? " (dry run: acting on nothing)" : "");
                printf("ticks           %lld (last took %.2f ms)\n",
                       (long long) json_integer_value(json_object_get(ans, "ticks")),
                       (double) json_integer_value(json_object_get(ans, "last_tick_ns")) / 1e6);
                json_t *cpu = json_object_get(ans, "tick_cpu_ns");
                long long ticks = json_integer_value(json_object_get(ans, "ticks"));
                if (json_is_object(cpu) && ticks > 0) {
                        /* closerd's own cost, per tick on average, by phase. */
                        const char *phase;
                        json_t *v;
                        long long sum = 0;
                        json_object_foreach(cpu, phase, v)
                                sum += json_integer_value(v);
                        printf("own CPU         %.2f ms per tick (", (double) sum / 1e6 / (double) ticks);
                        bool first = true;
                        json_object_foreach(cpu, phase, v) {
                                printf("%s%s %.2f", first ? "" : ", ", phase,
                                       (double) json_integer_value(v) / 1e6 / (double) ticks);
                                first = false;
                        }
                        printf(")\n");
                }
                printf("main container  node %lld, dom0 CPUs %s, %lld MiB\n",
                       (long long) json_integer_value(json_object_get(mn, "node")),
                       json_string_value(json_object_get(mn, "dom0_cpus")),
                       (long long) json_integer_value(json_object_get(mn, "mem_kib")) / 1024);
                printf("domains         %lld in %lld secondary containers\n",
                       (long long) json_integer_value(json_object_get(ans, "domains")),
                       (long long) json_integer_value(json_object_get(ans, "secondary_containers")));
                printf("actions         %lld thread, %lld IRQ, %lld cgroup, %lld memory, %lld cap\n",
                       (long long) json_integer_value(json_object_get(ac, "thread")),
                       (long long) json_integer_value(json_object_get(ac, "irq")),
                       (long long) json_integer_value(json_object_get(ac, "cgroup")),
                       (long long) json_integer_value(json_object_get(ac, "memory")),
                       (long long) json_integer_value(json_object_get(ac, "cap")));
                printf("errors          %lld transient (retried), %lld permanent (object left alone), %lld other, "
                       "%lld ledger, %lld tick, %lld state\n",
                       (long long) json_integer_value(json_object_get(er, "transient")),
                       (long long) json_integer_value(json_object_get(er, "permanent")),
                       (long long) json_integer_value(json_object_get(er, "fatal")),
                       (long long) json_integer_value(json_object_get(er, "ledger")),
                       (long long) json_integer_value(json_object_get(er, "tick")),
                       (long long) json_integer_value(json_object_get(er, "state")));
                json_t *sf = json_object_get(ans, "state_file");
                if (json_is_object(sf) && !json_is_true(json_object_get(sf, "ok")))
                        printf("state file      cannot be written: %s; changing nothing until it can\n",
                               json_string_value(json_object_get(sf, "error")));
                json_t *lg = json_object_get(ans, "ledger");
                if (json_is_object(lg) && !json_is_true(json_object_get(lg, "ok")))
                        printf("ledger          cannot be written: %s; %.1f s of billing held in memory (%lld failed "
                               "writes)\n",
                               json_string_value(json_object_get(lg, "error")),
                               (double) json_integer_value(json_object_get(lg, "unwritten_ns")) / 1e9,
                               (long long) json_integer_value(json_object_get(lg, "failed_writes")));
                else if (json_is_object(lg))
                        printf("ledger          ok\n");
                r = 0;
        }
        json_decref(ans);
        return r;
}

int closer_cmd_snapshot(int argc, char **argv) {
        client_opts o;
        json_t *ans;
        int r = parse(argc, argv,
                      "Usage: closerctl snapshot [--socket PATH] [--timeout S]\n"
                      "The running closerd's last closer-snapshot/1 (feed it to `closerctl plan --snapshot -`).\n",
                      false, false, &o);
        if (r >= 0)
                return r;
        if (call("snapshot", &o, json_pack("{s:s}", "command", "snapshot"), &ans))
                return 1;
        r = print_json(json_object_get(ans, "snapshot"));
        json_decref(ans);
        return r;
}

/* "90", "90s", "15m", "2h", "7d" -> seconds; -1 if malformed. */
static long long parse_duration(const char *s) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || v < 0)
                return -1;
        long long mul = 1;
        if (*end == 's')
                end++;
        else if (*end == 'm')
                mul = 60, end++;
        else if (*end == 'h')
                mul = 3600, end++;
        else if (*end == 'd')
                mul = 86400, end++;
        if (*end || v > INT64_MAX / 1000000000 / mul)
                return -1;
        return v * mul;
}

int closer_cmd_accounting(int argc, char **argv) {
        static const char usage[] =
                "Usage: closerctl accounting [--socket PATH] [--timeout S] [--since DURATION] [--json | --csv]\n"
                "dom0 work done for each domain, from closerd's ledger: dom0 CPU time, dom0\n"
                "memory held for it (MiB x s) and I/O served, summed per domain (by UUID).\n"
                "  --since DURATION  only intervals that ended in the last DURATION (90s, 15m,\n"
                "                    2h, 7d); default: everything\n"
                "  --json, --csv     every interval row, in closer-accounting/1\n";
        long long since_s = -1;
        int k = 1;
        /* pull --since out before the common parser sees the rest */
        char **rest = calloc((size_t) argc + 1, sizeof(char *));
        if (!rest)
                return 1;
        rest[0] = argv[0];
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--since") == 0 || strncmp(argv[i], "--since=", 8) == 0) {
                        const char *v = argv[i][7] == '=' ? argv[i] + 8 : (i + 1 < argc ? argv[++i] : NULL);
                        since_s = v ? parse_duration(v) : -1;
                        if (since_s < 0) {
                                fprintf(stderr, "closerctl accounting: --since: expected a duration like 90s, 15m, 2h, 7d\n");
                                free(rest);
                                return 2;
                        }
                        continue;
                }
                rest[k++] = argv[i];
        }
        client_opts o;
        json_t *ans, *row;
        size_t i;
        int r = parse(k, rest, usage, false, true, &o);
        free(rest);
        if (r >= 0)
                return r;

        json_t *req = json_pack("{s:s}", "command", "accounting");
        if (since_s >= 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                int64_t now = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
                json_object_set_new(req, "since_wall_ns", json_integer(now - since_s * 1000000000));
        }
        if (o.json || o.csv)
                json_object_set_new(req, "format", json_string(o.json ? "json" : "csv"));
        /* an export (any size) goes to stdout as it arrives */
        if (call_stream("accounting", &o, req, o.json || o.csv ? "export" : NULL, &ans))
                return 1;
        const char *export = json_string_value(json_object_get(ans, "export"));
        if (export)
                fputs(export, stdout);          /* an answer in another order than ours */
        if (export || ((o.json || o.csv) && !json_object_get(ans, "rows"))) {
                json_decref(ans);
                return fflush(stdout) == 0 ? 0 : 1;
        }
        json_t *rows = json_object_get(ans, "rows");
        if (o.json || o.csv) {
                /* a daemon without a ledger (dry run) answers its last interval only */
                r = print_json(ans);
                json_decref(ans);
                return r;
        }
        printf("%6s  %-16s %-36s %14s %14s %12s\n", "DOMID", "NAME", "UUID", "DOM0 CPU ms", "DOM0 MiB*s", "I/O ops");
        json_array_foreach(rows, i, row)
                printf("%6lld  %-16.16s %-36s %14.3f %14.1f %12lld\n",
                       (long long) json_integer_value(json_object_get(row, "domid")),
                       json_string_value(json_object_get(row, "name")),
                       json_string_value(json_object_get(row, "uuid")),
                       (double) json_integer_value(json_object_get(row, "dom0_cpu_ns")) / 1e6,
                       (double) json_integer_value(json_object_get(row, "mem_kib_s")) / 1024.0,
                       (long long) json_integer_value(json_object_get(row, "io_ops")));
        json_decref(ans);
        return 0;
}

int closer_cmd_explain(int argc, char **argv) {
        client_opts o;
        json_t *ans, *req;
        char *end;
        int r = parse(argc, argv,
                      "Usage: closerctl explain [--socket PATH] [--timeout S] [--json] TID|irq:N\n"
                      "Where closerd puts one dom0 thread or interrupt, and why.\n",
                      true, false, &o);
        if (r >= 0)
                return r;
        bool irq = strncmp(o.arg, "irq:", 4) == 0;
        const char *num = irq ? o.arg + 4 : o.arg;
        errno = 0;
        long v = strtol(num, &end, 10);
        if (errno || *end || end == num || v < 0 || v > 0x7fffffff) {
                fprintf(stderr, "closerctl explain: expected a thread id or irq:N, got '%s'\n", o.arg);
                return 2;
        }
        req = json_pack("{s:s, s:I}", "command", "explain", irq ? "irq" : "tid", (json_int_t) v);
        if (call("explain", &o, req, &ans))
                return 1;
        if (o.json)
                r = print_json(ans);
        else if (irq)
                printf("IRQ %lld (domain %lld) -> dom0 CPU %lld: %s\n",
                       (long long) json_integer_value(json_object_get(ans, "irq")),
                       (long long) json_integer_value(json_object_get(ans, "domid")),
                       (long long) json_integer_value(json_object_get(ans, "dom0_cpu")),
                       json_string_value(json_object_get(ans, "why")));
        else
                printf("thread %lld (%s), %s -> %s, dom0 CPUs %s: %s\n",
                       (long long) json_integer_value(json_object_get(ans, "tid")),
                       json_string_value(json_object_get(ans, "comm")),
                       json_string_value(json_object_get(ans, "class")),
                       json_string_value(json_object_get(ans, "container")),
                       json_string_value(json_object_get(ans, "dom0_cpus")),
                       json_string_value(json_object_get(ans, "why")));
        json_decref(ans);
        return r;
}
