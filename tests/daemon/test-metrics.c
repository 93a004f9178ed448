/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Prometheus renderer: its output is parsed back line by line with the
 * format's grammar (a small parser here), so escaping mistakes show up as
 * parse failures or changed label values. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/metrics.h"

#define MAX_SAMPLES 256
#define MAX_LABELS 4

typedef struct sample {
        char name[64];
        unsigned n_labels;
        char label[MAX_LABELS][32];
        char value_text[MAX_LABELS][512];
        double value;
        char raw_value[64];
} sample;

typedef struct parsed {
        unsigned n;
        sample s[MAX_SAMPLES];
        unsigned n_types;
        char type_name[16][64];
        char type[16][16];
} parsed;

static bool is_name_char(char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
               (!first && c >= '0' && c <= '9');
}

/* One sample line: name{l="v",...} value. Fails the test on bad syntax. */
static void parse_sample(const char *line, sample *s) {
        const char *p = line;
        size_t k = 0;
        *s = (sample) {0};
        while (is_name_char(*p, k == 0)) {
                assert_true(k + 1 < sizeof(s->name));
                s->name[k++] = *p++;
        }
        assert_true(k > 0);
        if (*p == '{') {
                p++;
                while (*p != '}') {
                        assert_true(s->n_labels < MAX_LABELS);
                        size_t ln = 0;
                        while (is_name_char(*p, ln == 0))
                                s->label[s->n_labels][ln++] = *p++;
                        assert_true(ln > 0);
                        assert_int_equal(*p++, '=');
                        assert_int_equal(*p++, '"');
                        char *v = s->value_text[s->n_labels];
                        size_t vn = 0;
                        for (;;) {
                                assert_true(*p != '\0' && *p != '\n');  /* no raw line break */
                                if (*p == '"')
                                        break;
                                if (*p == '\\') {
                                        p++;
                                        if (*p == 'n')
                                                v[vn++] = '\n';
                                        else if (*p == '\\' || *p == '"')
                                                v[vn++] = *p;
                                        else
                                                fail_msg("bad escape \\%c in: %s", *p, line);
                                        p++;
                                } else
                                        v[vn++] = *p++;
                                assert_true(vn < sizeof(s->value_text[0]));
                        }
                        p++;
                        s->n_labels++;
                        if (*p == ',')
                                p++;
                        else
                                assert_int_equal(*p, '}');
                }
                p++;
        }
        assert_int_equal(*p++, ' ');
        snprintf(s->raw_value, sizeof(s->raw_value), "%s", p);
        char *end;
        s->value = strtod(p, &end);
        assert_true(end != p);
        assert_int_equal(*end, '\0');
}

static void parse(const char *text, parsed *out) {
        *out = (parsed) {0};
        size_t len = strlen(text);
        assert_true(len > 0);
        assert_int_equal(text[len - 1], '\n');   /* the format ends lines with \n */
        char *copy = strdup(text), *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, "# HELP ", 7) == 0)
                        continue;
                if (strncmp(line, "# TYPE ", 7) == 0) {
                        assert_true(out->n_types < 16);
                        assert_int_equal(sscanf(line, "# TYPE %63s %15s", out->type_name[out->n_types],
                                                out->type[out->n_types]), 2);
                        out->n_types++;
                        continue;
                }
                assert_int_not_equal(line[0], '#');
                assert_true(out->n < MAX_SAMPLES);
                sample *s = &out->s[out->n++];
                parse_sample(line, s);
                /* every sample follows the TYPE of its family */
                assert_true(out->n_types > 0);
                assert_string_equal(out->type_name[out->n_types - 1], s->name);
        }
        free(copy);
}

static const char *label(const sample *s, const char *key) {
        for (unsigned i = 0; i < s->n_labels; i++)
                if (strcmp(s->label[i], key) == 0)
                        return s->value_text[i];
        return NULL;
}

static const sample *find(const parsed *p, const char *name, const char *key, const char *value) {
        for (unsigned i = 0; i < p->n; i++)
                if (strcmp(p->s[i].name, name) == 0 && (!key || (label(&p->s[i], key) && strcmp(label(&p->s[i], key), value) == 0)))
                        return &p->s[i];
        return NULL;
}

static void test_render(void **state) {
        (void) state;
        const closer_metrics_domain doms[] = {
                {.domid = 3, .uuid = "3f1e0d3c-8b0a-4c1e-9a55-1d2e3f405162", .name = "web-1",
                 .dom0_cpu_ns_total = 12345678901, .dom0_mem_kib = 65536},
                {.domid = 7, .uuid = "aa0e0d3c-8b0a-4c1e-9a55-1d2e3f405162",
                 .name = "evil\" } 1\ncloser_errors_total{kind=\"x\"} 99\\", .dom0_cpu_ns_total = 5, .dom0_mem_kib = 1},
                {.domid = 9, .uuid = "bb0e0d3c-8b0a-4c1e-9a55-1d2e3f405162", .name = "bad\xc3(\xff",
                 .dom0_cpu_ns_total = 0, .dom0_mem_kib = 0},
                {.domid = 11, .uuid = "cc0e0d3c-8b0a-4c1e-9a55-1d2e3f405162", .name = NULL},
        };
        const closer_metrics_count actions[] = {{"cgroup_move", 40}, {"irq_affinity", 12}, {"balloon_target", 3}};
        const closer_metrics_count errors[] = {{"xenstore", 2}, {"cgroup_write", 0}};
        const closer_metrics_count tick_cpu[] = {{"threads", 1500000001}, {"plan", 7}};
        closer_metrics m = {
                .domains = doms, .n_domains = 4,
                .main_load = 1.75, .main_cpus = 4,
                .actions = actions, .n_actions = 3,
                .errors = errors, .n_errors = 2,
                .tick_cpu_ns = tick_cpu, .n_tick_cpu = 2,
        };
        char *text = NULL;
        int len = closer_metrics_render(&m, &text);
        assert_true(len > 0);
        assert_int_equal((size_t) len, strlen(text));

        parsed *p = calloc(1, sizeof(*p));
        parse(text, p);
        /* 4 domains × 2 families + load + cpus + 3 actions + 2 errors + 2 phases */
        assert_int_equal(p->n, 4 * 2 + 2 + 3 + 2 + 2);
        assert_int_equal(p->n_types, 7);

        for (size_t i = 0; i < 4; i++) {
                const sample *cpu = find(p, "closer_domain_dom0_cpu_seconds_total", "uuid", doms[i].uuid);
                const sample *mem = find(p, "closer_domain_dom0_memory_bytes", "uuid", doms[i].uuid);
                assert_non_null(cpu);
                assert_non_null(mem);
                char domid[16];
                snprintf(domid, sizeof(domid), "%d", doms[i].domid);
                assert_string_equal(label(cpu, "domid"), domid);
                assert_true(fabs(cpu->value - (double) doms[i].dom0_cpu_ns_total / 1e9) < 1e-9);
                assert_true(mem->value == (double) doms[i].dom0_mem_kib * 1024);
        }
        /* the hostile name comes back as it was: it did not break out of its label */
        assert_string_equal(label(find(p, "closer_domain_dom0_cpu_seconds_total", "domid", "7"), "name"), doms[1].name);
        assert_null(find(p, "closer_errors_total", "kind", "x"));
        /* invalid UTF-8 became U+FFFD, one per bad byte */
        assert_string_equal(label(find(p, "closer_domain_dom0_memory_bytes", "domid", "9"), "name"),
                            "bad\xef\xbf\xbd(\xef\xbf\xbd");
        assert_string_equal(label(find(p, "closer_domain_dom0_memory_bytes", "domid", "11"), "name"), "");
        /* exact seconds, not a rounded float */
        assert_string_equal(find(p, "closer_domain_dom0_cpu_seconds_total", "domid", "3")->raw_value, "12.345678901");

        assert_true(find(p, "closer_main_container_load", NULL, NULL)->value == 1.75);
        assert_true(find(p, "closer_main_container_cpus", NULL, NULL)->value == 4);
        for (size_t i = 0; i < 3; i++)
                assert_true(find(p, "closer_placement_actions_total", "kind", actions[i].kind)->value == (double) actions[i].total);
        for (size_t i = 0; i < 2; i++)
                assert_true(find(p, "closer_errors_total", "kind", errors[i].kind)->value == (double) errors[i].total);
        assert_string_equal(find(p, "closer_tick_cpu_seconds_total", "phase", "threads")->raw_value, "1.500000001");
        assert_string_equal(find(p, "closer_tick_cpu_seconds_total", "phase", "plan")->raw_value, "0.000000007");
        for (unsigned i = 0; i < p->n_types; i++)
                assert_string_equal(p->type[i], strstr(p->type_name[i], "_total") ? "counter" : "gauge");
        free(p);
        free(text);

        /* a phase named twice would be two samples of one series */
        const closer_metrics_count twice[] = {{"plan", 1}, {"plan", 2}};
        m.tick_cpu_ns = twice;
        text = NULL;
        assert_int_equal(closer_metrics_render(&m, &text), -EINVAL);
        assert_null(text);
}

/* Random names from an alphabet heavy in the characters that need escaping
 * round-trip exactly. */
static void test_escaping_roundtrip(void **state) {
        (void) state;
        static const char *alphabet[] = {"\"", "\\", "\n", "n", "{", "}", ",", "=", " ", "a", "\xc3\xa9", "\xe2\x82\xac", "\\n", "\r", "\t"};
        srand(20261126);
        parsed *p = calloc(1, sizeof(*p));
        for (int round = 0; round < 200; round++) {
                char name[200] = "";
                size_t n = (size_t) (rand() % 20);
                for (size_t i = 0; i < n; i++)
                        strcat(name, alphabet[rand() % (int) (sizeof(alphabet) / sizeof(*alphabet))]);
                closer_metrics_domain d = {.domid = round, .uuid = "00000000-0000-4000-8000-000000000001", .name = name};
                closer_metrics m = {.domains = &d, .n_domains = 1};
                char *text = NULL;
                assert_true(closer_metrics_render(&m, &text) > 0);
                parse(text, p);
                assert_int_equal(p->n, 4);
                assert_string_equal(label(&p->s[0], "name"), name);
                assert_string_equal(label(&p->s[1], "name"), name);
                free(text);
        }
        free(p);
}

static void test_edges(void **state) {
        (void) state;
        char *text = (char *) 1;
        /* no domains, no counts: still a valid exposition with every family */
        closer_metrics m = {.main_load = NAN};
        parsed *p = calloc(1, sizeof(*p));
        int len = closer_metrics_render(&m, &text);
        assert_true(len > 0);
        parse(text, p);
        assert_int_equal(p->n_types, 6);
        assert_string_equal(find(p, "closer_main_container_load", NULL, NULL)->raw_value, "NaN");
        free(text);
        free(p);

        /* refusals leave ret_text untouched */
        text = (char *) 1;
        const closer_metrics_count dup[] = {{"x", 1}, {"x", 2}};
        closer_metrics bad = {.actions = dup, .n_actions = 2};
        assert_int_equal(closer_metrics_render(&bad, &text), -EINVAL);
        const closer_metrics_count nokind[] = {{NULL, 1}};
        bad = (closer_metrics) {.errors = nokind, .n_errors = 1};
        assert_int_equal(closer_metrics_render(&bad, &text), -EINVAL);
        const closer_metrics_domain nouuid = {.domid = 1};
        bad = (closer_metrics) {.domains = &nouuid, .n_domains = 1};
        assert_int_equal(closer_metrics_render(&bad, &text), -EINVAL);
        assert_int_equal(closer_metrics_render(NULL, &text), -EINVAL);
        assert_ptr_equal(text, (char *) 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render),
                cmocka_unit_test(test_escaping_roundtrip),
                cmocka_unit_test(test_edges),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
