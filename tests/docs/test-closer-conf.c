/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The closer.conf the package installs as /etc/closer/closer.conf (etc/ in
 * the source tree) must parse, and must set every key it claims to set to
 * closerd's built-in default: "deleting this file changes nothing" is what
 * its header and closer.conf(5) promise the operator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "closer/config.h"

static char *read_shipped_conf(void) {
        const char *root = getenv("CLOSER_SOURCE_ROOT");
        char path[4096];
        assert_non_null(root);
        snprintf(path, sizeof(path), "%s/etc/closer.conf", root);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        char *text = calloc(1, 1 << 16);
        assert_non_null(text);
        size_t n = fread(text, 1, (1 << 16) - 1, f);
        assert_true(n > 0 && n < (1 << 16) - 1);
        fclose(f);
        return text;
}

/* Start from values that differ from every default, so a key the file does
 * not set (or sets to something else) shows up as a difference. */
static void poisoned(closer_config *c) {
        closer_config_defaults(c);
        c->profile = CLOSER_PROFILE_EUCALYPTUS;
        c->main_node = 7;
        c->eps_mib = 1;
        c->floor_mib = 2;
        c->n_levels = 1;
        memset(c->levels, 0, sizeof(c->levels));
        c->levels[0] = (closer_mem_level) { .min_ops_per_s = 0, .extra_mib = 3 };
        c->hysteresis_pct = 4;
        c->charge = CLOSER_CHARGE_CAP;
}

static void test_shipped_conf_is_the_defaults(void **state) {
        (void) state;
        char *text = read_shipped_conf();
        closer_config def, c;
        closer_error err = {{0}};

        closer_config_defaults(&def);
        poisoned(&c);
        int r = closer_config_parse(text, "etc/closer.conf", &c, &err);
        if (r < 0)
                fail_msg("etc/closer.conf does not parse: %s", err.msg);

        assert_int_equal(c.profile, def.profile);
        /* vcpus and mem_mib are commented out: from the profile */
        assert_int_equal(c.main_vcpus, -1);
        assert_int_equal(c.main_mem_mib, -1);
        assert_int_equal(c.main_node, def.main_node);
        assert_int_equal(c.eps_mib, def.eps_mib);
        assert_int_equal(c.floor_mib, def.floor_mib);
        assert_int_equal(c.n_levels, def.n_levels);
        for (unsigned i = 0; i < def.n_levels; i++) {
                assert_true(c.levels[i].min_ops_per_s == def.levels[i].min_ops_per_s);
                assert_int_equal(c.levels[i].extra_mib, def.levels[i].extra_mib);
        }
        assert_int_equal(c.hysteresis_pct, def.hysteresis_pct);
        assert_int_equal(c.charge, def.charge);
        free(text);
}

/* Its commented-out overrides are real keys with valid values: uncommenting
 * them (what the comments invite) must give a file closerd accepts. */
static void test_shipped_conf_overrides_parse_uncommented(void **state) {
        (void) state;
        char *text = read_shipped_conf();
        char *out = calloc(1, 1 << 16);
        closer_config c;
        closer_error err = {{0}};
        unsigned uncommented = 0;
        assert_non_null(out);

        /* "#key = value" (no space after '#') is a disabled setting */
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' && strchr(line, '=')) {
                        line++;
                        uncommented++;
                }
                strcat(out, line);
                strcat(out, "\n");
        }
        assert_int_equal(uncommented, 2);       /* vcpus, mem_mib */
        closer_config_defaults(&c);
        int r = closer_config_parse(out, "etc/closer.conf (uncommented)", &c, &err);
        if (r < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(c.main_vcpus, 2);
        assert_int_equal(c.main_mem_mib, 2048);
        /* and they equal what the openstack profile gives anyway */
        assert_int_equal(closer_config_main_vcpus(&c), 2);
        assert_int_equal(closer_config_main_mem_mib(&c, 65536), 2048);
        free(out);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shipped_conf_is_the_defaults),
                cmocka_unit_test(test_shipped_conf_overrides_parse_uncommented),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
