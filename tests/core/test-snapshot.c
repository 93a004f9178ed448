/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "closer/snapshot.h"
#include "jt-compare.h"

/* ---- helpers ---- */

static char *read_file(const char *dir, const char *rel) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        FILE *f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s", path);
        char *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
                if (len + 4096 + 1 > cap) {
                        cap = cap ? cap * 2 : 65536;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
                size_t n = fread(buf + len, 1, cap - len - 1, f);
                len += n;
                if (n == 0)
                        break;
        }
        fclose(f);
        buf[len] = '\0';
        return buf;
}

static const char *data_dir(void) {
        const char *d = getenv("CLOSER_TEST_DATA");
        assert_non_null(d);
        return d;
}

static closer_snapshot *parse_ok(const char *text, const char *source) {
        closer_snapshot *s = NULL;
        closer_error e = {};
        int r = closer_snapshot_from_json(text, source, &s, &e);
        if (r != 0)
                fail_msg("%s: unexpected rejection: %s", source, e.msg);
        assert_non_null(s);
        return s;
}

static closer_snapshot *parse_file(const char *rel) {
        char *text = read_file(data_dir(), rel);
        closer_snapshot *s = parse_ok(text, rel);
        free(text);
        return s;
}

/* Field-by-field equality, so that a failure says which field differs. */
static void assert_vcpus_equal(unsigned n, const closer_vcpu *a, const closer_vcpu *b) {
        for (unsigned i = 0; i < n; i++) {
                assert_int_equal(a[i].id, b[i].id);
                assert_int_equal(a[i].pcpu, b[i].pcpu);
                assert_int_equal(a[i].has_affinity, b[i].has_affinity);
                assert_true(closer_cpuset_equal(&a[i].affinity, &b[i].affinity));
        }
}

static void assert_snapshots_equal(const closer_snapshot *a, const closer_snapshot *b) {
        assert_int_equal(a->time_ns, b->time_ns);
        assert_int_equal(a->topo.n_nodes, b->topo.n_nodes);
        for (unsigned i = 0; i < a->topo.n_nodes; i++) {
                const closer_node *x = &a->topo.nodes[i], *y = &b->topo.nodes[i];
                assert_int_equal(x->id, y->id);
                assert_true(closer_cpuset_equal(&x->cpus, &y->cpus));
                assert_int_equal(x->mem_kib, y->mem_kib);
                assert_int_equal(x->free_kib, y->free_kib);
                assert_memory_equal(x->distances, y->distances, sizeof(x->distances));
        }
        assert_memory_equal(a->topo.cpu_node, b->topo.cpu_node, sizeof(a->topo.cpu_node));

        assert_int_equal(a->dom0.mem_kib, b->dom0.mem_kib);
        assert_int_equal(a->dom0.n_vcpus, b->dom0.n_vcpus);
        assert_vcpus_equal(a->dom0.n_vcpus, a->dom0.vcpus, b->dom0.vcpus);

        assert_int_equal(a->n_domains, b->n_domains);
        for (unsigned i = 0; i < a->n_domains; i++) {
                const closer_domain *x = &a->domains[i], *y = &b->domains[i];
                assert_int_equal(x->domid, y->domid);
                assert_string_equal(x->name, y->name);
                assert_string_equal(x->uuid, y->uuid);
                assert_int_equal(x->mem_kib, y->mem_kib);
                assert_memory_equal(x->mem_kib_by_node, y->mem_kib_by_node, sizeof(x->mem_kib_by_node));
                assert_int_equal(x->n_vcpus, y->n_vcpus);
                assert_vcpus_equal(x->n_vcpus, x->vcpus, y->vcpus);
                assert_true(x->io_ops_per_s == y->io_ops_per_s);      /* exact, not approximate */
                assert_true(x->io_bytes_per_s == y->io_bytes_per_s);
                assert_int_equal(x->io_level, y->io_level);
        }

        assert_int_equal(a->n_threads, b->n_threads);
        for (unsigned i = 0; i < a->n_threads; i++) {
                const closer_thread *x = &a->threads[i], *y = &b->threads[i];
                assert_int_equal(x->tid, y->tid);
                assert_int_equal(x->pid, y->pid);
                assert_int_equal(x->ppid, y->ppid);
                assert_string_equal(x->comm, y->comm);
                assert_int_equal(x->kernel, y->kernel);
                assert_int_equal(x->cpu_ns, y->cpu_ns);
                assert_int_equal(x->start_time, y->start_time);
                assert_int_equal(x->last_cpu, y->last_cpu);
                assert_int_equal(x->n_cmdline, y->n_cmdline);
                for (unsigned j = 0; j < x->n_cmdline; j++)
                        assert_string_equal(x->cmdline[j], y->cmdline[j]);
                assert_int_equal(x->has_uid, y->has_uid);
                assert_int_equal(x->uid, y->uid);
                assert_int_equal(!x->stdout_path, !y->stdout_path);
                if (x->stdout_path)
                        assert_string_equal(x->stdout_path, y->stdout_path);
        }

        assert_int_equal(a->n_irqs, b->n_irqs);
        for (unsigned i = 0; i < a->n_irqs; i++) {
                const closer_irq *x = &a->irqs[i], *y = &b->irqs[i];
                assert_int_equal(x->irq, y->irq);
                assert_string_equal(x->chip, y->chip);
                assert_string_equal(x->name, y->name);
                assert_int_equal(x->n_counts, y->n_counts);
                for (unsigned j = 0; j < x->n_counts; j++)
                        assert_int_equal(x->per_cpu_counts[j], y->per_cpu_counts[j]);
                assert_int_equal(x->domid, y->domid);
                assert_int_equal(x->queue, y->queue);
                assert_int_equal(x->kind, y->kind);
        }
}

/* parse(to_json(s)) == s, and writing again gives the same text. */
static void assert_roundtrip(const closer_snapshot *s) {
        char *j1 = closer_snapshot_to_json(s);
        assert_non_null(j1);
        closer_snapshot *t = parse_ok(j1, "roundtrip");
        assert_snapshots_equal(s, t);
        char *j2 = closer_snapshot_to_json(t);
        assert_non_null(j2);
        assert_string_equal(j1, j2);
        free(j1);
        free(j2);
        closer_snapshot_free(t);
}

/* ---- tests ---- */

static void test_topology(void **state) {
        (void) state;
        closer_topology *t = calloc(1, sizeof(*t));
        closer_error e = {};
        assert_non_null(t);
        t->n_nodes = 2;
        t->nodes[0].id = 4;
        t->nodes[1].id = 7;
        assert_int_equal(closer_cpuset_parse("0-3", &t->nodes[0].cpus), 0);
        assert_int_equal(closer_cpuset_parse("8-11,4095", &t->nodes[1].cpus), 0);
        assert_int_equal(closer_topology_index(t, &e), 0);
        assert_int_equal(closer_topology_node_of_cpu(t, 0), 0);
        assert_int_equal(closer_topology_node_of_cpu(t, 3), 0);
        assert_int_equal(closer_topology_node_of_cpu(t, 4), -1);
        assert_int_equal(closer_topology_node_of_cpu(t, 9), 1);
        assert_int_equal(closer_topology_node_of_cpu(t, 4095), 1);
        assert_int_equal(closer_topology_node_of_cpu(t, 4096), -1);
        assert_int_equal(closer_topology_node_of_cpu(t, -1), -1);
        assert_int_equal(closer_topology_node_index(t, 7), 1);
        assert_int_equal(closer_topology_node_index(t, 4), 0);
        assert_int_equal(closer_topology_node_index(t, 0), -1);

        /* a pCPU on two nodes is refused and the old index stays */
        assert_int_equal(closer_cpuset_parse("3,8", &t->nodes[1].cpus), 0);
        assert_int_equal(closer_topology_index(t, &e), -EINVAL);
        assert_string_equal(e.msg, "pCPU 3 is on nodes 4 and 7");
        assert_int_equal(closer_topology_node_of_cpu(t, 9), 1);
        free(t);
}

static void test_good_fixtures(void **state) {
        (void) state;
        closer_snapshot *s = parse_file("snapshots/good/two-nodes.json");

        assert_int_equal(s->time_ns, 1000000000);
        assert_int_equal(s->topo.n_nodes, 2);
        assert_int_equal(s->topo.nodes[1].distances[0], 21);
        assert_int_equal(closer_topology_node_of_cpu(&s->topo, 5), 1);
        assert_int_equal(s->dom0.n_vcpus, 8);
        assert_int_equal(s->dom0.vcpus[6].pcpu, 6);
        assert_false(s->dom0.vcpus[6].has_affinity);

        const closer_domain *d = closer_snapshot_find_domain(s, 2);
        assert_non_null(d);
        assert_string_equal(d->name, "db1");
        assert_string_equal(d->uuid, "");
        assert_int_equal(d->mem_kib_by_node[0], 524288);
        assert_int_equal(d->mem_kib_by_node[1], 1572864);
        assert_int_equal(d->vcpus[1].pcpu, -1);
        assert_true(d->io_ops_per_s == 0);
        assert_int_equal(d->io_level, 0);
        d = closer_snapshot_find_domain(s, 1);
        assert_non_null(d);
        assert_true(d->io_ops_per_s == 1200.5);
        assert_true(d->io_bytes_per_s == 52428800.0);    /* an integer in JSON is accepted */
        assert_int_equal(d->io_level, 1);
        assert_true(d->vcpus[0].has_affinity);
        assert_int_equal(closer_cpuset_count(&d->vcpus[0].affinity), 2);
        assert_null(closer_snapshot_find_domain(s, 3));

        assert_int_equal(s->n_threads, 3);
        assert_int_equal(s->threads[0].ppid, 0);         /* absent -> unknown */
        assert_int_equal(s->threads[0].last_cpu, -1);
        assert_int_equal(s->threads[1].last_cpu, 2);
        assert_true(s->threads[1].kernel);
        assert_int_equal(s->threads[2].start_time, 4242);
        assert_int_equal(s->threads[2].n_cmdline, 5);
        assert_string_equal(s->threads[2].cmdline[2], "2");

        assert_int_equal(s->n_irqs, 2);
        assert_int_equal(s->irqs[0].domid, 1);
        assert_int_equal(s->irqs[0].queue, 0);
        assert_int_equal(s->irqs[0].kind, CLOSER_IRQ_VM_INITIATED);
        assert_int_equal(s->irqs[0].per_cpu_counts[2], 2001);
        assert_int_equal(s->irqs[1].domid, -1);
        assert_int_equal(s->irqs[1].queue, -1);
        assert_int_equal(s->irqs[1].kind, CLOSER_IRQ_EXTERNAL);
        assert_roundtrip(s);
        closer_snapshot_free(s);

        s = parse_file("snapshots/good/one-node-no-domains.json");
        assert_int_equal(s->n_domains, 0);
        assert_int_equal(s->n_threads, 0);
        assert_int_equal(s->n_irqs, 0);
        assert_int_equal(s->topo.nodes[0].free_kib, 0);
        assert_roundtrip(s);
        closer_snapshot_free(s);
}

static void test_reference_host(void **state) {
        (void) state;
        const char *root = getenv("CLOSER_SOURCE_ROOT");
        assert_non_null(root);
        char *text = read_file(root, "data/reference-host.json");
        closer_snapshot *s = parse_ok(text, "reference-host.json");
        free(text);
        /* thesis §4.2.1: 4 sockets x 14 pCPUs, 10 GiB per node, dom0 pinned 1:1 */
        assert_int_equal(s->topo.n_nodes, 4);
        for (unsigned i = 0; i < 4; i++) {
                assert_int_equal(closer_cpuset_count(&s->topo.nodes[i].cpus), 14);
                assert_int_equal(s->topo.nodes[i].mem_kib, 10485760);
        }
        assert_int_equal(s->dom0.n_vcpus, 56);
        for (unsigned i = 0; i < 56; i++)
                assert_int_equal(s->dom0.vcpus[i].pcpu, (int) s->dom0.vcpus[i].id);
        assert_true(s->n_domains >= 10);
        assert_roundtrip(s);
        closer_snapshot_free(s);
}

/* Every rejection: the file, the JSON path, and what was expected. */
static const struct {
        const char *file;
        const char *prefix;     /* "FILE: $.path: " */
        const char *says;       /* a word of the explanation */
} bad[] = {
        {"malformed", "$: ", "line 3, column"},
        {"truncated", "$: ", "line 7"},
        {"empty", "$: ", "valid JSON"},
        {"duplicate-key", "$: ", "duplicate object key"},
        {"huge-integer", "$: ", "too big integer"},
        {"not-an-object", "$: ", "expected an object"},
        {"format-unknown", "$.format: ", "closer-snapshot/1"},
        {"format-missing", "$: ", "\"format\""},
        {"unknown-node-pcpu", "$.domains[1].vcpus[0].pcpu: ", "pCPU 99 is on no node"},
        {"dom0-pcpu-unknown", "$.dom0.vcpus[7].pcpu: ", "pCPU 8 is on no node"},
        {"cpu-out-of-range", "$.host.nodes[1].cpus: ", "above 4095"},
        {"pcpu-out-of-range", "$.domains[0].vcpus[1].pcpu: ", "-1..4095"},
        {"duplicate-domid", "$.domains[1].domid: ", "$.domains[0].domid"},
        {"domid-zero", "$.domains[0].domid: ", "1..32751"},
        {"negative-memory", "$.domains[1].mem_kib: ", "got -1"},
        {"non-integer-memory", "$.domains[0].mem_kib: ", "non-integer"},
        {"string-memory", "$.dom0.mem_kib: ", "got a string"},
        {"reversed-cpulist", "$.domains[0].vcpus[1].affinity: ", "\"3-1\" (a reversed range)"},
        {"cpulist-syntax", "$.domains[0].vcpus[0].affinity: ", "\"2,,3\""},
        {"pcpu-on-two-nodes", "$.host.nodes[1].cpus: ", "pCPU 3 is on nodes 0 and 1"},
        {"duplicate-node-id", "$.host.nodes[1].id: ", "unique node id"},
        {"node-id-huge", "$.host.nodes[1].id: ", "got 100000"},
        {"distances-length", "$.host.nodes[0].distances: ", "expected 2 distances"},
        {"distance-negative", "$.host.nodes[1].distances[1]: ", "got -10"},
        {"mem-by-node-unknown", "$.domains[1].mem_kib_by_node[\"7\"]: ", "node id"},
        {"mem-by-node-not-a-number", "$.domains[0].mem_kib_by_node[\"zero\"]: ", "node id"},
        {"mem-by-node-negative", "$.domains[1].mem_kib_by_node[\"1\"]: ", "got -5"},
        {"mem-by-node-over-mem", "$.domains[1].mem_kib_by_node: ", "at most mem_kib (2097152 KiB) in all, got 2097153"},
        {"dom0-duplicate-vcpu", "$.dom0.vcpus[3].id: ", "unique vCPU id"},
        {"domain-duplicate-vcpu", "$.domains[0].vcpus[1].id: ", "unique vCPU id"},
        {"dom0-no-vcpus", "$.dom0.vcpus: ", "at least one"},
        {"no-nodes", "$.host.nodes: ", "at least one"},
        {"domains-missing", "$: ", "\"domains\""},
        {"name-too-long", "$.domains[0].name: ", "at most 63 bytes"},
        {"name-not-string", "$.domains[0].name: ", "expected a string"},
        {"duplicate-tid", "$.threads[2].tid: ", "$.threads[1].tid"},
        {"thread-kernel-not-bool", "$.threads[1].kernel: ", "true or false"},
        {"thread-uid-negative", "$.threads[0].uid: ", "got -5"},
        {"thread-stdout-not-string", "$.threads[2].stdout: ", "expected a string"},
        {"cmdline-not-strings", "$.threads[2].cmdline[2]: ", "expected a string"},
        {"irq-kind-unknown", "$.irqs[0].kind: ", "\"guest\""},
        {"irq-count-negative", "$.irqs[1].per_cpu_counts[3]: ", "got -1"},
        {"duplicate-irq", "$.irqs[1].irq: ", "$.irqs[0].irq"},
        {"io-rate-negative", "$.domains[0].io.ops_per_s: ", "non-negative"},
        {"time-negative", "$.time_ns: ", "got -1"},
};

static void test_bad_fixtures(void **state) {
        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char rel[256], want[512];
                snprintf(rel, sizeof(rel), "snapshots/bad/%s.json", bad[i].file);
                char *text = read_file(data_dir(), rel);
                closer_snapshot *s = (closer_snapshot *) 0x1;   /* must stay untouched */
                closer_error e = {};
                int r = closer_snapshot_from_json(text, rel, &s, &e);
                free(text);
                if (r != -EINVAL)
                        fail_msg("%s: expected -EINVAL, got %d (%s)", rel, r, e.msg);
                assert_ptr_equal(s, (closer_snapshot *) 0x1);
                snprintf(want, sizeof(want), "%s: %s", rel, bad[i].prefix);
                if (strncmp(e.msg, want, strlen(want)) != 0 || !strstr(e.msg + strlen(want), "expected") ||
                    !strstr(e.msg, bad[i].says))
                        fail_msg("%s:\n  got  \"%s\"\n  want \"%s...%s\"", rel, e.msg, want, bad[i].says);
                assert_null(strchr(e.msg, '\n'));               /* one line */
        }
}

/* The tape reader accepts what jansson (JSON_REJECT_DUPLICATES) accepts and
 * reads the same values: the corners of the grammar, one by one. */
static void test_tape_agrees_with_jansson(void **state) {
        (void) state;
        static const char *docs[] = {
                "{}", "[]", " [ ] ", "\t{\r\n}\n", "", " ", "1", "\"s\"", "null", "{} {}", "[] x", "{}\x01",
                "[1,]", "[,1]", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{\"a\":1,}", "{,}", "{1:2}", "[1", "{\"a\":1",
                "[0]", "[-0]", "[00]", "[01]", "[-01]", "[-]", "[+1]", "[1.]", "[.5]", "[1.5]", "[-1.5e3]",
                "[1e5]", "[1E+5]", "[1e-5]", "[1e]", "[1e+]", "[0x10]", "[1.0]", "[1e400]", "[-1e400]", "[1e-400]",
                "[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]",
                "[-9223372036854775809]", "[99999999999999999999]", "[123456789012345678]",
                "[1234567890123456789]", "[0, 1, 2, 18446744073709551615]", "[1,2,-3]", "[1,2,\"x\"]",
                "[1,2,[3]]", "[1 , 2 ,\n3\t]", "[1,  3]", "[1, \n 3, 4,5 ,6]", "[[1,  2], {\"a\": [3,\t4]}]", "[1,2", "[1,2,", "[1,2 x]", "[1,2.5]", "[007]", "[1,0,00]",
                "[true]", "[false]", "[null]", "[tru]", "[truex]", "[nul]", "[True]", "[NaN]", "[Infinity]",
                "[\"\"]", "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]", "[\"\\u00e9\\u20ac\"]", "[\"\\uD83D\\uDE00\"]",
                "[\"\\uD83D\"]", "[\"\\uDE00\"]", "[\"\\uD83Dx\"]", "[\"\\uD83D\\u0041\"]", "[\"\\u0000\"]",
                "{\"\\u0000\":1}", "[\"\\u12\"]", "[\"\\uZZZZ\"]", "[\"\\x\"]", "[\"a\nb\"]", "[\"a\tb\"]",
                "[\"\x7f\"]", "[\"\xc3\xa9\"]", "[\"\xc3\"]", "[\"\xc0\x80\"]", "[\"\xed\xa0\x80\"]",
                "[\"\xf4\x90\x80\x80\"]", "[\"\xf0\x9f\x98\x80\"]", "[\"\xff\"]", "[\"abc", "\xef\xbb\xbf[]",
                "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":{\"a\":2}}", "{\"a\":1,\"A\":2}", "{\"\":1,\"\":2}",
                "{\"a\":1,\"\\u0061\":2}", "{\"ab\":1,\"a\":2,\"b\":3}",
        };
        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
                if (jt_agrees_with_jansson(docs[i]) < 0)
                        fail_msg("tape reader and jansson disagree on '%s'", docs[i]);

        /* objects past the pairwise duplicate check (sorted instead) */
        char big[4096];
        for (int dup = 0; dup < 2; dup++) {
                size_t n = (size_t) snprintf(big, sizeof(big), "{");
                for (int k = 0; k < 40; k++)
                        n += (size_t) snprintf(big + n, sizeof(big) - n, "%s\"k%d\": %d", k ? ", " : "",
                                               dup && k == 39 ? 7 : k, k);
                snprintf(big + n, sizeof(big) - n, "}");
                if (jt_agrees_with_jansson(big) < 0)
                        fail_msg("tape reader and jansson disagree on a 40-key object (duplicate: %d)", dup);
        }
        /* nesting: jansson allows 2048 levels, counting a scalar as one */
        static const int depths[] = {2047, 2048, 2049};
        for (size_t d = 0; d < 3; d++)
                for (int leaf = 0; leaf < 3; leaf++) {
                        int n = depths[d];
                        char *t = malloc((size_t) n * 2 + 8), *o = t;
                        assert_non_null(t);
                        for (int i = 0; i < n; i++)
                                *o++ = '[';
                        o += leaf == 1 ? sprintf(o, "1") : leaf == 2 ? sprintf(o, "{}") : 0;
                        for (int i = 0; i < n; i++)
                                *o++ = ']';
                        *o = '\0';
                        if (jt_agrees_with_jansson(t) < 0)
                                fail_msg("tape reader and jansson disagree at depth %d (leaf %d)", n, leaf);
                        free(t);
                }
        /* every fixture, good or bad */
        const char *names[] = {"snapshots/good/two-nodes.json", "snapshots/good/one-node-no-domains.json"};
        for (size_t i = 0; i < 2; i++) {
                char *text = read_file(data_dir(), names[i]);
                assert_int_equal(jt_agrees_with_jansson(text), 0);
                free(text);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char rel[256];
                snprintf(rel, sizeof(rel), "snapshots/bad/%s.json", bad[i].file);
                char *text = read_file(data_dir(), rel);
                if (jt_agrees_with_jansson(text) < 0)
                        fail_msg("tape reader and jansson disagree on %s", rel);
                free(text);
        }
}

static void test_misc_rejections(void **state) {
        (void) state;
        closer_snapshot *s = NULL;
        closer_error e = {};
        assert_int_equal(closer_snapshot_from_json(NULL, "x.json", &s, &e), -EINVAL);
        assert_int_equal(closer_snapshot_from_json("{}", NULL, &s, &e), -EINVAL);
        assert_string_equal(e.msg, "<snapshot>: $: expected a member \"format\"");
        /* NUL inside a string: jansson refuses \u0000 without JSON_ALLOW_NUL */
        assert_int_equal(closer_snapshot_from_json("{\"format\": \"closer-snapshot/1\\u0000\"}", "n", &s, &e),
                         -EINVAL);
        assert_null(s);
        /* a NULL err is allowed */
        assert_int_equal(closer_snapshot_from_json("nope", "n", &s, NULL), -EINVAL);
        assert_null(closer_snapshot_free(NULL));
}

/* Names from a live host are bytes; the writer must still emit valid JSON. */
static void test_write_invalid_utf8(void **state) {
        (void) state;
        closer_snapshot *s = parse_file("snapshots/good/two-nodes.json");
        strcpy(s->threads[0].comm, "\xff\xfe" "bad");             /* not UTF-8 at all */
        strcpy(s->threads[0].cmdline[0], "/x\xC0\x80y");            /* overlong NUL */
        strcpy(s->irqs[0].name, "\xED\xA0\x80" "q");                /* a surrogate */
        strcpy(s->domains[0].name, "caf\xC3\xA9-\xE2\x82\xAC");     /* valid: kept as is */
        char *j = closer_snapshot_to_json(s);
        assert_non_null(j);
        closer_snapshot *t = parse_ok(j, "utf8");
        assert_string_equal(t->threads[0].comm, "\xEF\xBF\xBD\xEF\xBF\xBD" "bad");
        assert_string_equal(t->threads[0].cmdline[0], "/x\xEF\xBF\xBD\xEF\xBF\xBDy");
        assert_string_equal(t->irqs[0].name, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "q");
        assert_string_equal(t->domains[0].name, "caf\xC3\xA9-\xE2\x82\xAC");
        free(j);
        closer_snapshot_free(t);
        closer_snapshot_free(s);
}

/* ---- property: random snapshots survive the round trip ---- */

static uint64_t rng_state;
static uint64_t rnd(void) {
        /* xorshift64*: deterministic so a failure reproduces from the seed */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}
static unsigned rndn(unsigned n) {
        return (unsigned) (rnd() % n);
}

static void random_string(char *buf, size_t size) {
        static const char *pieces[] = {"a", "Z", "0", "-", ".", " ", "\"", "\\", "/", "\t", "é", "€", "vif", "xvda"};
        size_t len = 0;
        unsigned n = rndn(8);
        buf[0] = '\0';
        for (unsigned i = 0; i < n; i++) {
                const char *p = pieces[rndn(sizeof(pieces) / sizeof(pieces[0]))];
                if (len + strlen(p) + 1 > size)
                        break;
                strcpy(buf + len, p);
                len += strlen(p);
        }
}

static void random_cpuset(closer_cpuset *s, unsigned lo, unsigned hi) {
        closer_cpuset_zero(s);
        for (unsigned c = lo; c < hi; c++)
                if (rndn(3))
                        closer_cpuset_set(s, c);
}

static void random_vcpus(const closer_snapshot *s, unsigned n, closer_vcpu *v, unsigned n_pcpus) {
        unsigned id = rndn(100);
        for (unsigned i = 0; i < n; i++) {
                v[i].id = id;                   /* unique, not necessarily dense */
                id += 1 + rndn(3);
                int p = (int) rndn(n_pcpus + 1) - 1;
                v[i].pcpu = p >= 0 && closer_topology_node_of_cpu(&s->topo, p) < 0 ? -1 : p;
                v[i].has_affinity = rndn(2);
                if (v[i].has_affinity)
                        random_cpuset(&v[i].affinity, rndn(n_pcpus), n_pcpus + rndn(3));
        }
}

static closer_snapshot *random_snapshot(void) {
        closer_snapshot *s = closer_snapshot_new();
        closer_error e;
        assert_non_null(s);

        s->time_ns = rnd() >> 1;
        s->topo.n_nodes = 1 + rndn(8);
        unsigned per = 1 + rndn(16), cpu = 0;
        for (unsigned i = 0; i < s->topo.n_nodes; i++) {
                closer_node *n = &s->topo.nodes[i];
                n->id = (int) (i * 2 + rndn(2));
                random_cpuset(&n->cpus, cpu, cpu + per);
                cpu += per;
                n->mem_kib = rnd() >> (1 + rndn(60));
                n->free_kib = rnd() >> (1 + rndn(60));
                for (unsigned j = 0; j < s->topo.n_nodes; j++)
                        n->distances[j] = i == j ? 10 : 11 + rndn(245);
        }
        assert_int_equal(closer_topology_index(&s->topo, &e), 0);

        s->dom0.n_vcpus = 1 + rndn(cpu);
        s->dom0.vcpus = calloc(s->dom0.n_vcpus, sizeof(closer_vcpu));
        random_vcpus(s, s->dom0.n_vcpus, s->dom0.vcpus, cpu);
        s->dom0.mem_kib = rnd() >> 20;

        s->n_domains = rndn(12);
        s->domains = calloc(s->n_domains + 1, sizeof(closer_domain));
        for (unsigned i = 0; i < s->n_domains; i++) {
                closer_domain *d = &s->domains[i];
                d->domid = (int) (1 + i * 7 + rndn(7));
                random_string(d->name, sizeof(d->name));
                if (rndn(2))
                        snprintf(d->uuid, sizeof(d->uuid), "%08" PRIx64 "-0000-4000-8000-%012" PRIx64,
                                 rnd() & 0xffffffff, rnd() & 0xffffffffffff);
                d->mem_kib = rnd() >> 24;
                /* the parts within the whole (the parser checks it) */
                for (unsigned j = 0; j < s->topo.n_nodes; j++)
                        d->mem_kib_by_node[j] = rndn(2) ? (rnd() >> (1 + rndn(62))) % (d->mem_kib / s->topo.n_nodes + 1)
                                                        : 0;
                d->n_vcpus = 1 + rndn(6);
                d->vcpus = calloc(d->n_vcpus, sizeof(closer_vcpu));
                random_vcpus(s, d->n_vcpus, d->vcpus, cpu);
                d->io_ops_per_s = rndn(2) ? (double) rnd() / (double) (rnd() | 1) : 0;
                d->io_bytes_per_s = (double) (rnd() >> 11) * 0x1p-20;
                d->io_level = rndn(4);
        }

        s->n_threads = rndn(20);
        s->threads = calloc(s->n_threads + 1, sizeof(closer_thread));
        for (unsigned i = 0; i < s->n_threads; i++) {
                closer_thread *t = &s->threads[i];
                t->tid = (int) (1 + i * 100 + rndn(100));
                t->pid = (int) (1 + rndn(1000));
                t->ppid = (int) rndn(3);
                random_string(t->comm, sizeof(t->comm));
                t->kernel = rndn(2);
                t->cpu_ns = rnd() >> 1;
                t->start_time = rndn(2) ? rnd() >> 1 : 0;
                t->last_cpu = (int) rndn(cpu + 1) - 1;
                t->n_cmdline = rndn(4);
                t->cmdline = calloc(t->n_cmdline + 1, sizeof(char *));
                for (unsigned j = 0; j < t->n_cmdline; j++) {
                        t->cmdline[j] = malloc(64);
                        random_string(t->cmdline[j], 64);
                }
                if (rndn(3) == 0) {
                        t->has_uid = true;
                        t->uid = rndn(2) ? 0 : (uint32_t) rndn(4294967295u);
                        t->stdout_path = malloc(64);
                        random_string(t->stdout_path, 64);
                }
        }

        s->n_irqs = rndn(10);
        s->irqs = calloc(s->n_irqs + 1, sizeof(closer_irq));
        for (unsigned i = 0; i < s->n_irqs; i++) {
                closer_irq *q = &s->irqs[i];
                q->irq = i * 3 + rndn(3);
                random_string(q->chip, sizeof(q->chip));
                random_string(q->name, sizeof(q->name));
                q->n_counts = rndn(s->dom0.n_vcpus + 1);
                q->per_cpu_counts = calloc(q->n_counts + 1, sizeof(uint64_t));
                for (unsigned j = 0; j < q->n_counts; j++)
                        q->per_cpu_counts[j] = rnd() >> (1 + rndn(63));
                q->domid = (int) rndn(40) - 1;
                q->queue = (int) rndn(8) - 1;
                q->kind = (closer_irq_kind) rndn(3);
        }
        return s;
}

static void test_property_roundtrip(void **state) {
        (void) state;
        for (uint64_t seed = 1; seed <= 300; seed++) {
                rng_state = seed * UINT64_C(0x9E3779B97F4A7C15);
                closer_snapshot *s = random_snapshot();
                assert_roundtrip(s);
                closer_snapshot_free(s);
        }
}

/* A big host: 1000 domains, 10k dom0 threads. The budget is loose (it runs
 * under sanitizers too): it catches quadratic behaviour, not cycles. */
static void test_large(void **state) {
        (void) state;
        closer_snapshot *s = closer_snapshot_new();
        closer_error e;
        s->topo.n_nodes = 8;
        for (unsigned i = 0; i < 8; i++) {
                s->topo.nodes[i].id = (int) i;
                for (unsigned c = 0; c < 56; c++)
                        closer_cpuset_set(&s->topo.nodes[i].cpus, i * 56 + c);
                s->topo.nodes[i].mem_kib = UINT64_C(256) << 20;
                for (unsigned j = 0; j < 8; j++)
                        s->topo.nodes[i].distances[j] = i == j ? 10 : 21;
        }
        assert_int_equal(closer_topology_index(&s->topo, &e), 0);
        s->dom0.n_vcpus = 448;
        s->dom0.vcpus = calloc(448, sizeof(closer_vcpu));
        for (unsigned i = 0; i < 448; i++)
                s->dom0.vcpus[i] = (closer_vcpu) { .id = i, .pcpu = (int) i };
        s->n_domains = 1000;
        s->domains = calloc(1000, sizeof(closer_domain));
        for (unsigned i = 0; i < 1000; i++) {
                closer_domain *d = &s->domains[i];
                d->domid = (int) (1000 - i);            /* unsorted */
                snprintf(d->name, sizeof(d->name), "vm%u", i);
                d->mem_kib = 2 << 20;
                d->mem_kib_by_node[i % 8] = 2 << 20;
                d->n_vcpus = 4;
                d->vcpus = calloc(4, sizeof(closer_vcpu));
                for (unsigned v = 0; v < 4; v++) {
                        d->vcpus[v].id = v;
                        d->vcpus[v].pcpu = (int) ((i * 4 + v) % 448);
                        d->vcpus[v].has_affinity = true;
                        closer_cpuset_set(&d->vcpus[v].affinity, (unsigned) d->vcpus[v].pcpu);
                }
                d->io_ops_per_s = i * 10.5;
        }
        s->n_threads = 10000;
        s->threads = calloc(10000, sizeof(closer_thread));
        for (unsigned i = 0; i < 10000; i++) {
                closer_thread *t = &s->threads[i];
                t->tid = (int) (10000 - i) * 3;
                t->pid = t->tid;
                snprintf(t->comm, sizeof(t->comm), "%u.xvda-%u", i / 10, i % 4);
                t->kernel = true;
                t->cpu_ns = i * UINT64_C(1000003);
                t->last_cpu = (int) (i % 448);
        }
        char *j = closer_snapshot_to_json(s);
        assert_non_null(j);

        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        closer_snapshot *t = parse_ok(j, "large");
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = (double) (b.tv_sec - a.tv_sec) * 1e3 + (double) (b.tv_nsec - a.tv_nsec) / 1e6;
        print_message("parse of %zu bytes (1000 domains, 10000 threads): %.1f ms\n", strlen(j), ms);
        /* a time bound means nothing under valgrind (make check-valgrind) */
        if (!getenv("CLOSER_UNDER_VALGRIND"))
                assert_true(ms < 2000);
        assert_snapshots_equal(s, t);
        free(j);
        closer_snapshot_free(t);
        closer_snapshot_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_topology),
                cmocka_unit_test(test_good_fixtures),
                cmocka_unit_test(test_reference_host),
                cmocka_unit_test(test_bad_fixtures),
                cmocka_unit_test(test_misc_rejections),
                cmocka_unit_test(test_tape_agrees_with_jansson),
                cmocka_unit_test(test_write_invalid_utf8),
                cmocka_unit_test(test_property_roundtrip),
                cmocka_unit_test(test_large),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
