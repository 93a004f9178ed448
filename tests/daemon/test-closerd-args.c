/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd's command line: every bad value is one line on stderr and exit
 * status 2 (before anything is opened), good ones land in the right fields,
 * and --help tells the truth: the options it lists are the ones parsed, and
 * the defaults it states are the ones used.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "daemon/closerd-args.h"
#include "daemon/ledger.h"

#define ARGV_MAX 32

typedef struct parsed {
        int r;
        char *out, *err;
        closerd_args a;
} parsed;

/* Parse "closerd" followed by the NULL-ended words, capturing what it says. */
static parsed parse_v(const char *first, va_list ap) {
        char *argv[ARGV_MAX + 1] = {"closerd"};
        int argc = 1;
        for (const char *w = first; w; w = va_arg(ap, const char *)) {
                assert_true(argc < ARGV_MAX);
                argv[argc++] = (char *) w;
        }
        parsed p = {.out = NULL};
        size_t out_len, err_len;
        FILE *out = open_memstream(&p.out, &out_len), *err = open_memstream(&p.err, &err_len);
        assert_non_null(out);
        assert_non_null(err);
        memset(&p.a, 0xa5, sizeof(p.a));
        p.r = closerd_args_parse(argc, argv, out, err, &p.a);
        fclose(out);
        fclose(err);
        return p;
}

static parsed parse(const char *first, ...) {
        va_list ap;
        va_start(ap, first);
        parsed p = parse_v(first, ap);
        va_end(ap);
        return p;
}

static void parsed_done(parsed *p) {
        free(p->out);
        free(p->err);
}

/* Bad usage: -EINVAL (closerd exits 2), nothing on stdout, and exactly one
 * line on stderr, "closerd: ...", that quotes what was wrong. */
static void expect_bad(const char *quoted, const char *first, ...) {
        va_list ap;
        va_start(ap, first);
        parsed p = parse_v(first, ap);
        va_end(ap);
        if (p.r != -EINVAL)
                fail_msg("%s %s: parsed (%d), expected bad usage", first, quoted);
        assert_string_equal(p.out, "");
        assert_int_equal(strncmp(p.err, "closerd: ", 9), 0);
        const char *nl = strchr(p.err, '\n');
        assert_non_null(nl);
        assert_int_equal(nl[1], '\0');
        if (!strstr(p.err, quoted))
                fail_msg("'%s' does not quote '%s'", p.err, quoted);
        parsed_done(&p);
}

static void test_bad_input(void **state) {
        (void) state;
        char long_addr[CLOSERD_METRICS_ADDR_MAX + 16];
        memset(long_addr, '1', sizeof(long_addr) - 6);
        strcpy(long_addr + sizeof(long_addr) - 6, ":9633");

        expect_bad("'kvm'", "--hypervisor", "kvm", NULL);
        expect_bad("'Xen'", "--hypervisor=Xen", NULL);
        expect_bad("'9'", "--tick-ms", "9", NULL);
        expect_bad("'3600001'", "--tick-ms", "3600001", NULL);
        expect_bad("'-100'", "--tick-ms", "-100", NULL);
        expect_bad("'100ms'", "--tick-ms", "100ms", NULL);
        expect_bad("''", "--tick-ms", "", NULL);
        expect_bad("'+100'", "--tick-ms", "+100", NULL);       /* digits only, as everywhere in closer */
        expect_bad("' 100'", "--tick-ms", " 100", NULL);
        expect_bad("'99999999999999999999999'", "--tick-ms", "99999999999999999999999", NULL);
        expect_bad("'0'", "--ticks", "0", NULL);
        expect_bad("'-1'", "--ticks", "-1", NULL);
        expect_bad("'ten'", "--ticks", "ten", NULL);
        expect_bad("'99999999999999999999999'", "--ticks", "99999999999999999999999", NULL);
        expect_bad("'86401'", "--ledger-interval", "86401", NULL);
        expect_bad("'-1'", "--ledger-interval", "-1", NULL);
        expect_bad("'1m'", "--ledger-interval", "1m", NULL);
        expect_bad("'127.0.0.1'", "--metrics", "127.0.0.1", NULL);
        expect_bad("'127.0.0.1:'", "--metrics", "127.0.0.1:", NULL);
        expect_bad("'127.0.0.1:65536'", "--metrics", "127.0.0.1:65536", NULL);
        expect_bad("'127.0.0.1:http'", "--metrics", "127.0.0.1:http", NULL);
        expect_bad("'127.0.0.1:-1'", "--metrics", "127.0.0.1:-1", NULL);
        expect_bad("'127.0.0.1: 80'", "--metrics", "127.0.0.1: 80", NULL);
        expect_bad(long_addr, "--metrics", long_addr, NULL);
        expect_bad("'maybe'", "--systemd-units", "maybe", NULL);
        expect_bad("'YES'", "--systemd-units", "YES", NULL);
        expect_bad("''", "--systemd-units=", NULL);
        expect_bad("'--systemd-units'", "--systemd-units", NULL);
        expect_bad("'--bogus'", "--bogus", NULL);
        expect_bad("'-x'", "-x", NULL);
        expect_bad("'--tick-ms'", "--tick-ms", NULL);             /* its value is missing */
        expect_bad("'--dry-run=yes'", "--dry-run=yes", NULL);
        expect_bad("'extra'", "--dry-run", "extra", NULL);
        /* the first bad one is said, once, and nothing is parsed after it */
        expect_bad("'kvm'", "--hypervisor", "kvm", "--ticks", "0", NULL);
}

static void test_good_input(void **state) {
        (void) state;
        parsed p = parse("--config", "/c.conf", "--root", "/r", "--hypervisor", "sim", "--dry-run", "--tick-ms", "10",
                         "--ticks", "3", "--state", "/s.json", "--socket", "/c.sock", "--cgroup-base", "cb",
                         "--ledger", "/l.db", "--ledger-interval", "0", "--metrics", "127.0.0.1:9633", "-v", NULL);
        assert_int_equal(p.r, 1);
        assert_string_equal(p.out, "");
        assert_string_equal(p.err, "");
        assert_string_equal(p.a.config_path, "/c.conf");
        assert_true(p.a.config_explicit);
        assert_string_equal(p.a.root, "/r");
        assert_string_equal(p.a.hypervisor, "sim");
        assert_true(p.a.dry_run);
        assert_int_equal(p.a.tick_usec, 10000);
        assert_int_equal(p.a.ticks, 3);
        assert_string_equal(p.a.state_path, "/s.json");
        assert_true(p.a.state_given);
        assert_string_equal(p.a.socket_path, "/c.sock");
        assert_string_equal(p.a.cgroup_base, "cb");
        assert_string_equal(p.a.ledger_path, "/l.db");
        assert_int_equal(p.a.ledger_interval_s, 0);
        assert_string_equal(p.a.metrics_listen, "127.0.0.1:9633");
        assert_string_equal(p.a.metrics_addr, "127.0.0.1");
        assert_int_equal(p.a.metrics_port, 9633);
        assert_int_equal(p.a.verbosity, LOG_DEBUG);
        parsed_done(&p);

        /* the limits themselves are good, an IPv6 address goes in brackets */
        p = parse("--tick-ms=3600000", "--ledger-interval", "86400", "--metrics", "[::1]:0", "--verbose", NULL);
        assert_int_equal(p.r, 1);
        assert_int_equal(p.a.tick_usec, 3600000000ull);
        assert_int_equal(p.a.ledger_interval_s, 86400);
        assert_string_equal(p.a.metrics_addr, "::1");
        assert_int_equal(p.a.metrics_port, 0);
        assert_int_equal(p.a.verbosity, LOG_DEBUG);
        parsed_done(&p);

        /* parsed again from the start: nothing kept from the call before */
        p = parse("--hypervisor", "xen", NULL);
        assert_int_equal(p.r, 1);
        assert_string_equal(p.a.hypervisor, "xen");
        assert_false(p.a.dry_run);
        assert_null(p.a.metrics_listen);
        assert_int_equal(p.a.systemd_units, CLOSERD_UNITS_AUTO);
        parsed_done(&p);

        /* --systemd-units: auto (the default), yes, no; the last one counts */
        p = parse("--systemd-units", "no", NULL);
        assert_int_equal(p.r, 1);
        assert_int_equal(p.a.systemd_units, CLOSERD_UNITS_NO);
        parsed_done(&p);
        p = parse("--systemd-units=yes", NULL);
        assert_int_equal(p.r, 1);
        assert_int_equal(p.a.systemd_units, CLOSERD_UNITS_YES);
        parsed_done(&p);
        p = parse("--systemd-units", "no", "--systemd-units", "auto", NULL);
        assert_int_equal(p.r, 1);
        assert_int_equal(p.a.systemd_units, CLOSERD_UNITS_AUTO);
        parsed_done(&p);
}

/* The help text names each option that is parsed and no other. */
static void test_help_lists_every_option(void **state) {
        (void) state;
        parsed p = parse("--help", NULL);
        assert_int_equal(p.r, 0);
        assert_string_equal(p.err, "");
        assert_int_equal(strncmp(p.out, "Usage: closerd [OPTIONS]\n", 25), 0);

        unsigned n_opts = 0;
        for (const struct option *o = closerd_options; o->name; o++, n_opts++) {
                char item[64];
                /* listed as an item: "  --name" (or "  -v, --name") at the start of a line */
                snprintf(item, sizeof(item), " --%s ", o->name);
                if (!strstr(p.out, item))
                        fail_msg("--%s is parsed but --help does not list it", o->name);
        }
        unsigned n_listed = 0;
        for (const char *s = p.out; (s = strstr(s, "\n  ")); s++) {
                const char *name = s + 3;
                if (strncmp(name, "-v, ", 4) == 0 || strncmp(name, "-h, ", 4) == 0)
                        name += 4;
                if (strncmp(name, "--", 2) != 0)
                        continue;       /* a continuation line */
                name += 2;
                size_t len = strcspn(name, " ");
                bool known = false;
                for (const struct option *o = closerd_options; o->name; o++)
                        known = known || (strlen(o->name) == len && strncmp(o->name, name, len) == 0);
                if (!known)
                        fail_msg("--help lists --%.*s, which is not parsed", (int) len, name);
                n_listed++;
        }
        assert_int_equal(n_listed, n_opts);
        parsed_done(&p);

        /* -h is --help, and -v is --verbose, as listed */
        p = parse("-h", NULL);
        assert_int_equal(p.r, 0);
        assert_non_null(strstr(p.out, "  -h, --help"));
        parsed_done(&p);
        p = parse("-v", NULL);
        assert_int_equal(p.r, 1);
        assert_int_equal(p.a.verbosity, LOG_DEBUG);
        parsed_done(&p);
        /* --help wins over what follows it, even bad usage */
        p = parse("--help", "--ticks", "0", NULL);
        assert_int_equal(p.r, 0);
        assert_string_equal(p.err, "");
        parsed_done(&p);
}

static void expect_help_says(const char *help, const char *text) {
        if (!strstr(help, text))
                fail_msg("--help does not say '%s'", text);
}

/* help says before, path, after in one run */
static void expect_help_says_path(const char *help, const char *before, const char *path, const char *after) {
        char text[256];
        snprintf(text, sizeof(text), "%s%s%s", before, path, after);
        expect_help_says(help, text);
}

/* a resolved on a host with or without Xen: the state file and ledger it
 * uses are the ones help states after state_before and ledger_before */
static closerd_args resolved(const char *help, const closerd_args *a, bool xen_present, const char *state_before,
                             const char *state_after, const char *ledger_before, const char *ledger_after) {
        closerd_args r = *a;
        closerd_args_resolve(&r, xen_present);
        expect_help_says_path(help, state_before, r.state_path, state_after);
        expect_help_says_path(help, ledger_before, r.ledger_path, ledger_after);
        return r;
}

/* The defaults --help states are the ones used. */
static void test_help_defaults(void **state) {
        (void) state;
        parsed h = parse("--help", NULL);
        parsed p = parse(NULL);
        assert_int_equal(p.r, 1);
        assert_string_equal(p.err, "");
        const closerd_args *a = &p.a;
        char text[128];

        expect_help_says_path(h.out, "(default ", a->config_path, ";");
        assert_false(a->config_explicit);
        expect_help_says_path(h.out, "(default ", a->root, ")");
        snprintf(text, sizeof(text), "sampling period (default %llu)", (unsigned long long) a->tick_usec / 1000);
        expect_help_says(h.out, text);
        assert_int_equal(a->ticks, -1);
        snprintf(text, sizeof(text), "(default %lu;", a->ledger_interval_s);
        expect_help_says(h.out, text);
        expect_help_says_path(h.out, "control socket (default ", a->socket_path, ")");
        expect_help_says(h.out, "(default closer)");
        assert_null(a->cgroup_base);    /* the adapter's default, "closer" */
        expect_help_says(h.out, "(off by default;");
        assert_null(a->metrics_listen);
        assert_false(a->dry_run);
        assert_int_equal(a->verbosity, LOG_INFO);

        /* what depends on the hypervisor */
        closerd_args xen = resolved(h.out, a, true, "how it was (default ", ";", "SQLite (default ", ";");
        assert_string_equal(xen.hypervisor, "xen");
        assert_string_equal(xen.ledger_path, CLOSER_LEDGER_DEFAULT_PATH);
        closerd_args sim = resolved(h.out, a, false, "with --hypervisor sim ", ", reset at start)",
                                    "with --hypervisor sim ", ")");
        assert_string_equal(sim.hypervisor, "sim");
        assert_string_not_equal(sim.state_path, xen.state_path);
        assert_string_not_equal(sim.ledger_path, xen.ledger_path);
        parsed_done(&p);
        parsed_done(&h);
}

/* An explicit hypervisor, state file or ledger is kept whatever the host. */
static void test_resolve_keeps_explicit(void **state) {
        (void) state;
        parsed p = parse("--hypervisor", "sim", "--state", "/s.json", "--ledger", "/l.db", NULL);
        assert_int_equal(p.r, 1);
        closerd_args_resolve(&p.a, true);
        assert_string_equal(p.a.hypervisor, "sim");
        assert_string_equal(p.a.state_path, "/s.json");
        assert_string_equal(p.a.ledger_path, "/l.db");
        parsed_done(&p);

        p = parse("--hypervisor", "xen", NULL);
        closerd_args_resolve(&p.a, false);
        assert_string_equal(p.a.hypervisor, "xen");
        assert_string_equal(p.a.state_path, CLOSERD_DEFAULT_STATE);
        assert_string_equal(p.a.ledger_path, CLOSER_LEDGER_DEFAULT_PATH);
        parsed_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_good_input),
                cmocka_unit_test(test_help_lists_every_option),
                cmocka_unit_test(test_help_defaults),
                cmocka_unit_test(test_resolve_keeps_explicit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
