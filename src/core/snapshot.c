/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/parse-util.h"
#include "basic/strbuf.h"
#include "closer/snapshot.h"
#include "closer/utf8.h"
#include "jsontape.h"
#include "basic/sort-util.h"

#define SNAPSHOT_FORMAT "closer-snapshot/1"

/* Sanity bounds. They are far above any real host and only exist so that a
 * corrupt or hostile document cannot make us allocate without limit or wrap
 * a counter. */
#define NODE_ID_MAX 1023                /* Xen's MAX_NUMNODES is 64; ids stay small */
#define DOMAINS_MAX 32768u              /* the domid space */
#define VCPUS_MAX CLOSER_CPUSET_MAX     /* vCPU ids are used as CPU numbers */
#define THREADS_MAX 4194304u            /* Linux PID_MAX_LIMIT */
#define PID_MAX 4194304
#define IRQS_MAX 1048576u
#define IRQ_MAX 1048575
#define ARGS_MAX 65536u
#define DISTANCE_MAX 255                /* SLIT distances are bytes */
#define IO_LEVEL_MAX 1024
#define QUEUE_MAX 65535
#define UID_MAX 4294967294              /* (uid_t) -1 is "no uid" */
#define PATH_MAX_LEN 4096u              /* Linux PATH_MAX, NUL included */

/* ------------------------------------------------------------------ */
/* Allocation and lookup */

closer_snapshot *closer_snapshot_new(void) {
        closer_snapshot *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        for (unsigned c = 0; c < CLOSER_CPUSET_MAX; c++)
                s->topo.cpu_node[c] = -1;
        return s;
}

static void thread_done(closer_thread *t) {
        for (unsigned i = 0; i < t->n_cmdline; i++)
                free(t->cmdline[i]);
        free(t->cmdline);
        free(t->stdout_path);
}

closer_snapshot *closer_snapshot_free(closer_snapshot *s) {
        if (!s)
                return NULL;
        free(s->dom0.vcpus);
        for (unsigned i = 0; i < s->n_domains; i++)
                free(s->domains[i].vcpus);
        free(s->domains);
        for (unsigned i = 0; i < s->n_threads; i++)
                thread_done(&s->threads[i]);
        free(s->threads);
        for (unsigned i = 0; i < s->n_irqs; i++)
                free(s->irqs[i].per_cpu_counts);
        free(s->irqs);
        free(s);
        return NULL;
}

const closer_domain *closer_snapshot_find_domain(const closer_snapshot *s, int domid) {
        for (unsigned i = 0; i < s->n_domains; i++)
                if (s->domains[i].domid == domid)
                        return &s->domains[i];
        return NULL;
}

/* ------------------------------------------------------------------ */
/* Reader: a JSON path kept alongside the walk, so every error names where. */

typedef struct reader {
        const char *source;
        closer_error *err;
        jt_doc *doc;
        size_t len;
        char path[256];
} reader;

static size_t path_push(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(reader *r, const char *fmt, ...) {
        size_t old = r->len;
        if (r->len < sizeof(r->path) - 1) {
                va_list ap;
                va_start(ap, fmt);
                int n = vsnprintf(r->path + r->len, sizeof(r->path) - r->len, fmt, ap);
                va_end(ap);
                if (n > 0)
                        r->len += (size_t) n;
                if (r->len > sizeof(r->path) - 1)
                        r->len = sizeof(r->path) - 1;   /* truncated; still NUL-terminated */
        }
        return old;
}

/* The hot paths (every member read, every array element) avoid printf. */
static size_t path_add(reader *r, const char *a, size_t n) {
        size_t old = r->len;
        if (n > sizeof(r->path) - 1 - r->len)
                n = sizeof(r->path) - 1 - r->len;
        memcpy(r->path + r->len, a, n);
        r->len += n;
        r->path[r->len] = '\0';
        return old;
}

static size_t path_key(reader *r, const char *key) {
        size_t old = path_add(r, ".", 1);
        path_add(r, key, strlen(key));
        return old;
}

static size_t path_index(reader *r, const char *array_key, size_t i) {
        char num[24], *p = num + sizeof(num);
        *--p = ']';
        do
                *--p = (char) ('0' + i % 10);
        while (i /= 10);
        *--p = '[';
        size_t old = array_key ? path_key(r, array_key) : r->len;
        path_add(r, p, (size_t) (num + sizeof(num) - p));
        return old;
}

static void path_pop(reader *r, size_t old) {
        r->len = old;
        r->path[old] = '\0';
}

static int fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(reader *r, const char *fmt, ...) {
        char what[384];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return closer_error_set(r->err, -EINVAL, "%s: %s: %s", r->source, r->path, what);
}

/* fail() with ".key" on the path: the scalar readers push their key only
 * when they have something to say about it. */
static int fail_key(reader *r, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_key(reader *r, const char *key, const char *fmt, ...) {
        char what[384];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        size_t old = path_key(r, key);
        int k = closer_error_set(r->err, -EINVAL, "%s: %s: %s", r->source, r->path, what);
        path_pop(r, old);
        return k;
}

static const char *type_name(const jt_node *v) {
        switch (jt_typeof(v)) {
        case JT_OBJECT:  return "an object";
        case JT_ARRAY:
        case JT_INTS:    return "an array";
        case JT_STRING:  return "a string";
        case JT_INTEGER: return "an integer";
        case JT_REAL:    return "a non-integer number";
        case JT_TRUE:    return "true";
        case JT_FALSE:   return "false";
        case JT_NULL:    return "null";
        }
        return "something else";
}

/* The document's values (jsontape.h), asked as one asked jansson's. */
static inline bool j_is_integer(const jt_node *v) { return v->type == JT_INTEGER; }
static inline bool j_is_number(const jt_node *v) { return v->type == JT_INTEGER || v->type == JT_REAL; }
static inline bool j_is_boolean(const jt_node *v) { return v->type == JT_TRUE || v->type == JT_FALSE; }
static inline bool j_is_true(const jt_node *v) { return v->type == JT_TRUE; }
static inline bool j_is_string(const jt_node *v) { return v->type == JT_STRING; }
static inline bool j_is_array(const jt_node *v) { return v->type == JT_ARRAY || v->type == JT_INTS; }
static inline bool j_is_object(const jt_node *v) { return v->type == JT_OBJECT; }
static inline int64_t j_int(const jt_node *v) { return v->v.i; }
static inline double j_number(const jt_node *v) { return v->type == JT_INTEGER ? (double) v->v.i : v->v.d; }
static inline const char *j_str(const jt_node *v) { return v->v.s; }
/* a string's length in bytes, an array's elements, an object's members */
static inline size_t j_size(const jt_node *v) { return v->n; }

/* The member `key` of obj; NULL when absent (an error when required). The
 * key is pushed on the path on success; the caller pops it with *old. */
static int member(reader *r, const jt_node *obj, const char *key, bool required,
                  const jt_node **ret, size_t *old) {
        const jt_node *v = jt_get(obj, key);
        *ret = v;
        *old = r->len;
        if (!v) {
                if (required)
                        return fail(r, "expected a member \"%s\"", key);
                return 0;
        }
        *old = path_key(r, key);
        return 0;
}

/* member() for a scalar: the key is not pushed (*old is the path as it
 * is); its reader names it with fail_key() when it fails. */
static int scalar(reader *r, const jt_node *obj, const char *key, bool required,
                  const jt_node **ret, size_t *old) {
        const jt_node *v = jt_get(obj, key);
        *ret = v;
        *old = r->len;
        if (!v && required)
                return fail(r, "expected a member \"%s\"", key);
        return 0;
}

/* Integer member in [min, max]; absent optional members give def. Range is
 * checked on the 64-bit value before the caller narrows it. */
static int read_int(reader *r, const jt_node *obj, const char *key, bool required,
                    int64_t min, int64_t max, int64_t def, int64_t *ret) {
        const jt_node *v;
        size_t old;
        int k = scalar(r, obj, key, required, &v, &old);
        if (k < 0)
                return k;
        if (!v) {
                *ret = def;
                return 0;
        }
        if (!j_is_integer(v)) {
                if (max == INT64_MAX)
                        k = fail_key(r, key, "expected an integer >= %" PRId64 ", got %s", min, type_name(v));
                else
                        k = fail_key(r, key, "expected an integer in %" PRId64 "..%" PRId64 ", got %s",
                                 min, max, type_name(v));
                path_pop(r, old);
                return k;
        }
        int64_t x = (int64_t) j_int(v);
        if (x < min || x > max) {
                if (max == INT64_MAX)
                        k = fail_key(r, key, "expected an integer >= %" PRId64 ", got %" PRId64, min, x);
                else
                        k = fail_key(r, key, "expected an integer in %" PRId64 "..%" PRId64 ", got %" PRId64,
                                 min, max, x);
                path_pop(r, old);
                return k;
        }
        path_pop(r, old);
        *ret = x;
        return 0;
}

static int read_u64(reader *r, const jt_node *obj, const char *key, bool required, uint64_t *ret) {
        int64_t x;
        int k = read_int(r, obj, key, required, 0, INT64_MAX, 0, &x);
        if (k < 0)
                return k;
        *ret = (uint64_t) x;
        return 0;
}

/* A finite, non-negative rate. Integers are accepted ("1200" = 1200.0). */
static int read_rate(reader *r, const jt_node *obj, const char *key, double *ret) {
        const jt_node *v;
        size_t old;
        int k = scalar(r, obj, key, false, &v, &old);
        if (k < 0)
                return k;
        if (!v) {
                *ret = 0;
                return 0;
        }
        if (!j_is_number(v)) {
                k = fail_key(r, key, "expected a non-negative number, got %s", type_name(v));
                path_pop(r, old);
                return k;
        }
        double x = j_number(v);
        if (!isfinite(x) || x < 0) {
                k = fail_key(r, key, "expected a non-negative number, got %g", x);
                path_pop(r, old);
                return k;
        }
        path_pop(r, old);
        *ret = x;
        return 0;
}

static int read_bool(reader *r, const jt_node *obj, const char *key, bool required, bool *ret) {
        const jt_node *v;
        size_t old;
        int k = scalar(r, obj, key, required, &v, &old);
        if (k < 0)
                return k;
        if (!v) {
                *ret = false;
                return 0;
        }
        if (!j_is_boolean(v)) {
                k = fail_key(r, key, "expected true or false, got %s", type_name(v));
                path_pop(r, old);
                return k;
        }
        path_pop(r, old);
        *ret = j_is_true(v);
        return 0;
}

/* A string that must fit buf with its NUL; absent optional ones give "". */
static int read_string(reader *r, const jt_node *obj, const char *key, bool required,
                       char *buf, size_t size) {
        const jt_node *v;
        size_t old;
        int k = scalar(r, obj, key, required, &v, &old);
        if (k < 0)
                return k;
        if (!v) {
                buf[0] = '\0';
                return 0;
        }
        if (!j_is_string(v)) {
                k = fail_key(r, key, "expected a string, got %s", type_name(v));
                path_pop(r, old);
                return k;
        }
        size_t n = j_size(v);
        if (n >= size) {
                k = fail_key(r, key, "expected a string of at most %zu bytes, got %zu", size - 1, n);
                path_pop(r, old);
                return k;
        }
        memcpy(buf, j_str(v), n + 1);
        path_pop(r, old);
        return 0;
}

/* Why closer_cpuset_parse() refused text, in words a user can act on. */
static const char *cpulist_problem(const char *text, int k) {
        if (k == -ERANGE)
                return "a CPU number above 4095";
        /* A reversed range is the classic mistake: name it. */
        for (const char *p = text; *p; p++) {
                if (*p < '0' || *p > '9' || (p > text && p[-1] >= '0' && p[-1] <= '9'))
                        continue;
                char *end;
                unsigned long lo = strtoul(p, &end, 10);
                if (*end == '-' && end[1] >= '0' && end[1] <= '9' && strtoul(end + 1, NULL, 10) < lo)
                        return "a reversed range";
        }
        return "a syntax error";
}

static int read_cpulist(reader *r, const jt_node *obj, const char *key, bool required,
                        closer_cpuset *ret, bool *ret_present) {
        const jt_node *v;
        size_t old;
        int k = scalar(r, obj, key, required, &v, &old);
        if (k < 0)
                return k;
        if (ret_present)
                *ret_present = v != NULL;
        if (!v) {
                closer_cpuset_zero(ret);
                return 0;
        }
        if (!j_is_string(v)) {
                k = fail_key(r, key, "expected a cpulist string like \"0-3,8\", got %s", type_name(v));
                path_pop(r, old);
                return k;
        }
        const char *text = j_str(v);
        k = closer_cpuset_parse(text, ret);
        if (k < 0) {
                k = fail_key(r, key, "expected a cpulist like \"0-3,8\" with CPUs 0..%u, got \"%.40s\" (%s)",
                         CLOSER_CPUSET_MAX - 1, text, cpulist_problem(text, k));
                path_pop(r, old);
                return k;
        }
        path_pop(r, old);
        return 0;
}

/* An array member with at most max elements; absent optional -> NULL. */
static int read_array(reader *r, const jt_node *obj, const char *key, bool required,
                      size_t max, const jt_node **ret) {
        const jt_node *v;
        size_t old;
        int k = member(r, obj, key, required, &v, &old);
        if (k < 0)
                return k;
        *ret = v;
        if (!v)
                return 0;
        if (!j_is_array(v))
                k = fail(r, "expected an array, got %s", type_name(v));
        else if (j_size(v) > max)
                k = fail(r, "expected at most %zu elements, got %zu", max, j_size(v));
        path_pop(r, old);
        return k;
}

static int expect_object(reader *r, const jt_node *v) {
        if (!j_is_object(v))
                return fail(r, "expected an object, got %s", type_name(v));
        return 0;
}

/* ---- host ---- */

static int read_node(reader *r, const jt_node *o, closer_node *n, unsigned n_nodes) {
        int64_t id;
        const jt_node *dist;
        int k;

        if ((k = expect_object(r, o)) < 0 ||
            (k = read_int(r, o, "id", true, 0, NODE_ID_MAX, 0, &id)) < 0 ||
            (k = read_cpulist(r, o, "cpus", true, &n->cpus, NULL)) < 0 ||
            (k = read_u64(r, o, "mem_kib", true, &n->mem_kib)) < 0 ||
            (k = read_u64(r, o, "free_kib", false, &n->free_kib)) < 0 ||
            (k = read_array(r, o, "distances", true, CLOSER_NODES_MAX, &dist)) < 0)
                return k;
        n->id = (int) id;

        size_t old = path_key(r, "distances");
        if (j_size(dist) != n_nodes) {
                k = fail(r, "expected %u distances (one per node), got %zu", n_nodes, j_size(dist));
                path_pop(r, old);
                return k;
        }
        path_pop(r, old);
        jt_iter it = jt_iter_start(dist);
        for (unsigned j = 0; j < n_nodes; j++) {
                const jt_node *d = jt_iter_next(&it);
                old = path_index(r, "distances", j);
                if (!j_is_integer(d) || j_int(d) < 0 || j_int(d) > DISTANCE_MAX) {
                        k = j_is_integer(d)
                                ? fail(r, "expected a distance in 0..%d, got %" PRId64,
                                       DISTANCE_MAX, j_int(d))
                                : fail(r, "expected a distance in 0..%d, got %s", DISTANCE_MAX, type_name(d));
                        path_pop(r, old);
                        return k;
                }
                n->distances[j] = (unsigned) j_int(d);
                path_pop(r, old);
        }
        return 0;
}

static int read_host(reader *r, const jt_node *root, closer_topology *topo) {
        const jt_node *host, *nodes;
        size_t old;
        int k = member(r, root, "host", true, &host, &old);
        if (k < 0)
                return k;
        if ((k = expect_object(r, host)) < 0 ||
            (k = read_array(r, host, "nodes", true, CLOSER_NODES_MAX, &nodes)) < 0)
                goto out;
        if (j_size(nodes) == 0) {
                size_t o2 = path_push(r, ".nodes");
                k = fail(r, "expected at least one node");
                path_pop(r, o2);
                goto out;
        }

        topo->n_nodes = (unsigned) j_size(nodes);
        jt_iter it = jt_iter_start(nodes);
        for (unsigned i = 0; i < topo->n_nodes; i++) {
                const jt_node *elem = jt_iter_next(&it);
                size_t o2 = path_index(r, "nodes", i);
                k = read_node(r, elem, &topo->nodes[i], topo->n_nodes);
                if (k >= 0)
                        for (unsigned j = 0; j < i; j++)
                                if (topo->nodes[j].id == topo->nodes[i].id) {
                                        size_t o3 = path_push(r, ".id");
                                        k = fail(r, "expected a unique node id, %d is also $.host.nodes[%u].id",
                                                 topo->nodes[i].id, j);
                                        path_pop(r, o3);
                                        break;
                                }
                if (k >= 0) {
                        /* Index as we go: the first node that reuses a pCPU is the one named. */
                        closer_error e;
                        unsigned saved = topo->n_nodes;
                        topo->n_nodes = i + 1;
                        int q = closer_topology_index(topo, &e);
                        topo->n_nodes = saved;
                        if (q < 0) {
                                size_t o3 = path_push(r, ".cpus");
                                k = fail(r, "expected pCPUs on no other node: %s", e.msg);
                                path_pop(r, o3);
                        }
                }
                path_pop(r, o2);
                if (k < 0)
                        goto out;
        }
        k = closer_topology_index(topo, r->err);
out:
        path_pop(r, old);
        return k;
}

/* ---- vCPUs (dom0's and domains') ---- */

static int read_vcpus(reader *r, const jt_node *owner, const closer_topology *topo,
                      unsigned *ret_n, closer_vcpu **ret) {
        const jt_node *arr;
        int k = read_array(r, owner, "vcpus", true, VCPUS_MAX, &arr);
        if (k < 0)
                return k;
        size_t old = path_key(r, "vcpus");
        size_t n = j_size(arr);
        if (n == 0) {
                k = fail(r, "expected at least one vCPU");
                path_pop(r, old);
                return k;
        }
        closer_vcpu *v = calloc(n, sizeof(*v));
        if (!v) {
                path_pop(r, old);
                return closer_error_set(r->err, -ENOMEM, "%s: out of memory", r->source);
        }
        closer_cpuset seen;
        closer_cpuset_zero(&seen);
        jt_iter it = jt_iter_start(arr);
        for (size_t i = 0; i < n; i++) {
                const jt_node *o = jt_iter_next(&it);
                size_t o2 = path_index(r, NULL, i);
                int64_t id, pcpu;
                if ((k = expect_object(r, o)) < 0 ||
                    (k = read_int(r, o, "id", true, 0, VCPUS_MAX - 1, 0, &id)) < 0 ||
                    (k = read_int(r, o, "pcpu", true, -1, CLOSER_CPUSET_MAX - 1, -1, &pcpu)) < 0 ||
                    (k = read_cpulist(r, o, "affinity", false, &v[i].affinity, &v[i].has_affinity)) < 0)
                        goto fail;
                if (closer_cpuset_test(&seen, (unsigned) id)) {
                        size_t o3 = path_push(r, ".id");
                        k = fail(r, "expected a unique vCPU id, %" PRId64 " appears twice", id);
                        path_pop(r, o3);
                        goto fail;
                }
                (void) closer_cpuset_set(&seen, (unsigned) id);
                if (pcpu >= 0 && closer_topology_node_of_cpu(topo, (int) pcpu) < 0) {
                        size_t o3 = path_push(r, ".pcpu");
                        k = fail(r, "pCPU %" PRId64 " is on no node (expected -1 or a pCPU of $.host.nodes)", pcpu);
                        path_pop(r, o3);
                        goto fail;
                }
                v[i].id = (unsigned) id;
                v[i].pcpu = (int) pcpu;
                path_pop(r, o2);
        }
        path_pop(r, old);
        *ret_n = (unsigned) n;
        *ret = v;
        return 0;
fail:
        free(v);
        path_pop(r, old);
        return k;
}

static int read_dom0(reader *r, const jt_node *root, closer_snapshot *s) {
        const jt_node *dom0;
        size_t old;
        int k = member(r, root, "dom0", true, &dom0, &old);
        if (k < 0)
                return k;
        if ((k = expect_object(r, dom0)) >= 0 &&
            (k = read_u64(r, dom0, "mem_kib", true, &s->dom0.mem_kib)) >= 0)
                k = read_vcpus(r, dom0, &s->topo, &s->dom0.n_vcpus, &s->dom0.vcpus);
        path_pop(r, old);
        return k;
}

/* ---- domains ---- */

static int read_mem_by_node(reader *r, const jt_node *o, const closer_topology *topo, uint64_t *by_node) {
        const jt_node *m;
        size_t old;
        int k = member(r, o, "mem_kib_by_node", false, &m, &old);
        if (k < 0 || !m)
                return k;
        if ((k = expect_object(r, m)) < 0)
                goto out;
        const jt_node *kn = m + 1;
        for (size_t i = 0; i < j_size(m); i++, kn = jt_next(kn + 1)) {
                const char *key = j_str(kn);
                const jt_node *val = kn + 1;
                size_t o2 = path_push(r, "[\"%.32s\"]", key);
                uint64_t id;
                int idx = -1;
                if (closer_parse_uint(key, NODE_ID_MAX, CLOSER_PARSE_NO_LEADING_ZERO, &id) == 0)
                        idx = closer_topology_node_index(topo, (int) id);
                if (idx < 0)
                        k = fail(r, "expected a node id of $.host.nodes as key, got \"%.32s\"", key);
                else if (!j_is_integer(val) || j_int(val) < 0)
                        k = j_is_integer(val)
                                ? fail(r, "expected an integer >= 0, got %" PRId64, j_int(val))
                                : fail(r, "expected an integer >= 0, got %s", type_name(val));
                else
                        by_node[idx] = (uint64_t) j_int(val);
                path_pop(r, o2);
                if (k < 0)
                        break;
        }
out:
        path_pop(r, old);
        return k;
}

static int read_domain(reader *r, const jt_node *o, const closer_topology *topo, closer_domain *d) {
        int64_t domid, level;
        const jt_node *io;
        size_t old;
        int k;

        if ((k = expect_object(r, o)) < 0 ||
            (k = read_int(r, o, "domid", true, 1, CLOSER_DOMID_MAX, 0, &domid)) < 0 ||
            (k = read_string(r, o, "name", true, d->name, sizeof(d->name))) < 0 ||
            (k = read_string(r, o, "uuid", false, d->uuid, sizeof(d->uuid))) < 0 ||
            (k = read_u64(r, o, "mem_kib", true, &d->mem_kib)) < 0 ||
            (k = read_mem_by_node(r, o, topo, d->mem_kib_by_node)) < 0 ||
            (k = read_int(r, o, "io_level", false, 0, IO_LEVEL_MAX, 0, &level)) < 0)
                return k;
        /* Where a domain's memory is cannot be more than it has: the policy
         * picks its node from these figures. */
        uint64_t on_nodes = 0;
        for (unsigned i = 0; i < CLOSER_NODES_MAX; i++) {
                if (d->mem_kib_by_node[i] > UINT64_MAX - on_nodes) {
                        on_nodes = UINT64_MAX;
                        break;
                }
                on_nodes += d->mem_kib_by_node[i];
        }
        if (on_nodes > d->mem_kib) {
                size_t o2 = path_push(r, ".mem_kib_by_node");
                k = fail(r, "expected at most mem_kib (%" PRIu64 " KiB) in all, got %" PRIu64, d->mem_kib, on_nodes);
                path_pop(r, o2);
                return k;
        }
        d->domid = (int) domid;
        d->io_level = (unsigned) level;

        if ((k = member(r, o, "io", false, &io, &old)) < 0)
                return k;
        if (io) {
                if ((k = expect_object(r, io)) >= 0 &&
                    (k = read_rate(r, io, "ops_per_s", &d->io_ops_per_s)) >= 0)
                        k = read_rate(r, io, "bytes_per_s", &d->io_bytes_per_s);
                path_pop(r, old);
                if (k < 0)
                        return k;
        }
        return read_vcpus(r, o, topo, &d->n_vcpus, &d->vcpus);
}

static int cmp_int_idx(const void *a, const void *b) {
        const int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* Find a duplicate among n keys: values packed as key << 32 | index so that a
 * sort by value also tells which elements collide. Returns the index of the
 * later duplicate, its earlier twin in *ret_first, or -1 (also on ENOMEM:
 * then *ret_first = -2). */
static long find_duplicate(const int64_t *keys, size_t n, long *ret_first) {
        if (n < 2)
                return -1;
        int64_t *packed = malloc(n * sizeof(*packed));
        if (!packed) {
                *ret_first = -2;
                return -1;
        }
        for (size_t i = 0; i < n; i++)
                packed[i] = (int64_t) ((uint64_t) keys[i] << 32 | i);
        closer_qsort_safe(packed, n, sizeof(*packed), cmp_int_idx);
        long dup = -1;
        for (size_t i = 1; i < n; i++)
                if (packed[i] >> 32 == packed[i - 1] >> 32) {
                        dup = (long) (packed[i] & 0xffffffff);
                        *ret_first = (long) (packed[i - 1] & 0xffffffff);
                        break;
                }
        free(packed);
        return dup;
}

static int check_unique(reader *r, const int64_t *keys, size_t n, const char *array, const char *field) {
        long first = -1;
        long dup = find_duplicate(keys, n, &first);
        if (first == -2)
                return closer_error_set(r->err, -ENOMEM, "%s: out of memory", r->source);
        if (dup < 0)
                return 0;
        size_t old = path_push(r, ".%s[%ld].%s", array, dup, field);
        int k = fail(r, "expected a unique %s, %" PRId64 " is also $.%s[%ld].%s",
                     field, keys[dup], array, first, field);
        path_pop(r, old);
        return k;
}

static int read_domains(reader *r, const jt_node *root, closer_snapshot *s) {
        const jt_node *arr;
        int k = read_array(r, root, "domains", true, DOMAINS_MAX, &arr);
        if (k < 0)
                return k;
        size_t n = j_size(arr);
        if (n == 0)
                return 0;
        s->domains = calloc(n, sizeof(*s->domains));
        int64_t *ids = malloc(n * sizeof(*ids));
        if (!s->domains || !ids) {
                free(ids);
                return closer_error_set(r->err, -ENOMEM, "%s: out of memory", r->source);
        }
        jt_iter it = jt_iter_start(arr);
        for (size_t i = 0; i < n; i++) {
                const jt_node *e = jt_iter_next(&it);
                size_t old = path_index(r, "domains", i);
                k = read_domain(r, e, &s->topo, &s->domains[i]);
                path_pop(r, old);
                if (k < 0) {
                        free(s->domains[i].vcpus);
                        goto out;
                }
                s->n_domains++;
                ids[i] = s->domains[i].domid;
        }
        k = check_unique(r, ids, n, "domains", "domid");
out:
        free(ids);
        return k;
}

/* ---- threads ---- */

static int read_cmdline(reader *r, const jt_node *o, closer_thread *t) {
        const jt_node *arr;
        int k = read_array(r, o, "cmdline", false, ARGS_MAX, &arr);
        if (k < 0 || !arr || j_size(arr) == 0)
                return k;
        size_t n = j_size(arr);
        t->cmdline = calloc(n, sizeof(char *));
        if (!t->cmdline)
                return closer_error_set(r->err, -ENOMEM, "%s: out of memory", r->source);
        jt_iter it = jt_iter_start(arr);
        for (size_t i = 0; i < n; i++) {
                const jt_node *a = jt_iter_next(&it);
                if (!j_is_string(a)) {
                        size_t old = path_push(r, ".cmdline[%zu]", i);
                        k = fail(r, "expected a string, got %s", type_name(a));
                        path_pop(r, old);
                        return k;
                }
                t->cmdline[i] = strdup(j_str(a));
                if (!t->cmdline[i])
                        return closer_error_set(r->err, -ENOMEM, "%s: out of memory", r->source);
                t->n_cmdline++;
        }
        return 0;
}

/* "stdout": where fd 1 points, as the kernel names it (at most PATH_MAX). */
static int read_stdout(reader *r, const jt_node *o, closer_thread *t) {
        char buf[PATH_MAX_LEN];
        const jt_node *v = jt_get(o, "stdout");
        int k = read_string(r, o, "stdout", false, buf, sizeof(buf));
        if (k < 0 || !v)
                return k;
        t->stdout_path = strdup(buf);
        if (!t->stdout_path)
                return closer_error_set(r->err, -ENOMEM, "%s: out of memory", r->source);
        return 0;
}

static int read_thread(reader *r, const jt_node *o, closer_thread *t) {
        int64_t tid, pid, ppid, last_cpu, uid;
        int k;
        if ((k = expect_object(r, o)) < 0 ||
            (k = read_int(r, o, "tid", true, 1, PID_MAX, 0, &tid)) < 0 ||
            (k = read_int(r, o, "pid", true, 1, PID_MAX, 0, &pid)) < 0 ||
            (k = read_int(r, o, "ppid", false, 0, PID_MAX, 0, &ppid)) < 0 ||
            (k = read_string(r, o, "comm", true, t->comm, sizeof(t->comm))) < 0 ||
            (k = read_bool(r, o, "kernel", true, &t->kernel)) < 0 ||
            (k = read_u64(r, o, "cpu_ns", true, &t->cpu_ns)) < 0 ||
            (k = read_u64(r, o, "start_time", false, &t->start_time)) < 0 ||
            (k = read_int(r, o, "last_cpu", false, -1, CLOSER_CPUSET_MAX - 1, -1, &last_cpu)) < 0 ||
            (k = read_int(r, o, "uid", false, -1, UID_MAX, -1, &uid)) < 0)
                return k;
        t->tid = (int) tid;
        t->pid = (int) pid;
        t->ppid = (int) ppid;
        t->last_cpu = (int) last_cpu;
        t->has_uid = uid >= 0;
        t->uid = t->has_uid ? (uint32_t) uid : 0;
        if ((k = read_stdout(r, o, t)) < 0)
                return k;
        return read_cmdline(r, o, t);
}

static int read_threads(reader *r, const jt_node *root, closer_snapshot *s) {
        const jt_node *arr;
        int k = read_array(r, root, "threads", false, THREADS_MAX, &arr);
        if (k < 0 || !arr || j_size(arr) == 0)
                return k;
        size_t n = j_size(arr);
        s->threads = calloc(n, sizeof(*s->threads));
        int64_t *ids = malloc(n * sizeof(*ids));
        if (!s->threads || !ids) {
                free(ids);
                return closer_error_set(r->err, -ENOMEM, "%s: out of memory", r->source);
        }
        jt_iter it = jt_iter_start(arr);
        for (size_t i = 0; i < n; i++) {
                const jt_node *e = jt_iter_next(&it);
                size_t old = path_index(r, "threads", i);
                /* Count it first: a half-read thread still gets its cmdline freed. */
                s->n_threads++;
                k = read_thread(r, e, &s->threads[i]);
                path_pop(r, old);
                if (k < 0)
                        goto out;
                ids[i] = s->threads[i].tid;
        }
        k = check_unique(r, ids, n, "threads", "tid");
out:
        free(ids);
        return k;
}

/* ---- irqs ---- */

static int read_irq(reader *r, const jt_node *o, closer_irq *q) {
        int64_t irq, domid, queue, cpu;
        char kind[16];
        const jt_node *counts;
        int k;
        if ((k = expect_object(r, o)) < 0 ||
            (k = read_int(r, o, "irq", true, 0, IRQ_MAX, 0, &irq)) < 0 ||
            (k = read_string(r, o, "chip", false, q->chip, sizeof(q->chip))) < 0 ||
            (k = read_string(r, o, "name", true, q->name, sizeof(q->name))) < 0 ||
            (k = read_int(r, o, "domid", false, -1, CLOSER_DOMID_MAX, -1, &domid)) < 0 ||
            (k = read_int(r, o, "queue", false, -1, QUEUE_MAX, -1, &queue)) < 0 ||
            (k = read_string(r, o, "kind", false, kind, sizeof(kind))) < 0 ||
            (k = read_int(r, o, "cpu", false, -1, CLOSER_CPUSET_MAX - 1, -1, &cpu)) < 0 ||
            (k = read_array(r, o, "per_cpu_counts", false, CLOSER_CPUSET_MAX, &counts)) < 0)
                return k;
        q->irq = (unsigned) irq;
        q->domid = (int) domid;
        q->queue = (int) queue;
        q->cpu = (int) cpu;
        if (kind[0] == '\0')
                q->kind = CLOSER_IRQ_UNKNOWN;
        else if (strcmp(kind, "vm") == 0)
                q->kind = CLOSER_IRQ_VM_INITIATED;
        else if (strcmp(kind, "external") == 0)
                q->kind = CLOSER_IRQ_EXTERNAL;
        else {
                size_t old = path_push(r, ".kind");
                k = fail(r, "expected \"vm\" or \"external\", got \"%s\"", kind);
                path_pop(r, old);
                return k;
        }

        size_t n = counts ? j_size(counts) : 0;
        if (n == 0)
                return 0;
        if (jt_typeof(counts) == JT_INTS) {
                /* plain integers, all >= 0: taken as the tape read them */
                q->per_cpu_counts = jt_ints_take(r->doc, counts);
                q->n_counts = (unsigned) n;
                return 0;
        }
        q->per_cpu_counts = malloc(n * sizeof(uint64_t));  /* every one is written below */
        if (!q->per_cpu_counts)
                return closer_error_set(r->err, -ENOMEM, "%s: out of memory", r->source);
        q->n_counts = (unsigned) n;
        jt_iter it = jt_iter_start(counts);
        for (size_t i = 0; i < n; i++) {
                const jt_node *c = jt_iter_next(&it);
                if (!j_is_integer(c) || j_int(c) < 0) {
                        size_t old = path_push(r, ".per_cpu_counts[%zu]", i);
                        k = j_is_integer(c)
                                ? fail(r, "expected an integer >= 0, got %" PRId64, j_int(c))
                                : fail(r, "expected an integer >= 0, got %s", type_name(c));
                        path_pop(r, old);
                        return k;
                }
                q->per_cpu_counts[i] = (uint64_t) j_int(c);
        }
        return 0;
}

static int read_irqs(reader *r, const jt_node *root, closer_snapshot *s) {
        const jt_node *arr;
        int k = read_array(r, root, "irqs", false, IRQS_MAX, &arr);
        if (k < 0 || !arr || j_size(arr) == 0)
                return k;
        size_t n = j_size(arr);
        s->irqs = calloc(n, sizeof(*s->irqs));
        int64_t *ids = malloc(n * sizeof(*ids));
        if (!s->irqs || !ids) {
                free(ids);
                return closer_error_set(r->err, -ENOMEM, "%s: out of memory", r->source);
        }
        jt_iter it = jt_iter_start(arr);
        for (size_t i = 0; i < n; i++) {
                const jt_node *e = jt_iter_next(&it);
                size_t old = path_index(r, "irqs", i);
                s->n_irqs++;
                k = read_irq(r, e, &s->irqs[i]);
                path_pop(r, old);
                if (k < 0)
                        goto out;
                ids[i] = s->irqs[i].irq;
        }
        k = check_unique(r, ids, n, "irqs", "irq");
out:
        free(ids);
        return k;
}

int closer_snapshot_from_json(const char *text, const char *source, closer_snapshot **ret, closer_error *err) {
        reader r = { .source = source ? source : "<snapshot>", .err = err, .len = 1, .path = "$" };
        closer_snapshot *s = NULL;
        const jt_node *root, *fmt;
        jt_doc doc = {};
        size_t at = 0;
        int64_t time_ns;
        size_t old;
        int k;

        if (!text)
                return fail(&r, "expected a JSON document, got nothing");
        /* Duplicate keys would let two writers disagree about one value:
         * refused, as jansson's JSON_REJECT_DUPLICATES does. */
        k = jt_parse(text, strlen(text), &doc, &at);
        if (k == -ENOMEM)
                return closer_error_set(err, -ENOMEM, "%s: out of memory", r.source);
        if (k < 0) {
                /* The tape reader says no; jansson, which refuses the same
                 * texts, says where and why, in the words users know. */
                json_error_t jerr;
                json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
                if (!j)
                        return fail(&r, "expected valid JSON: line %d, column %d: %s", jerr.line, jerr.column,
                                    jerr.text);
                json_decref(j);
                return fail(&r, "expected valid JSON: refused at byte %zu", at);
        }
        root = doc.nodes;
        r.doc = &doc;

        if ((k = expect_object(&r, root)) < 0)
                goto out;
        if ((k = member(&r, root, "format", true, &fmt, &old)) < 0)
                goto out;
        if (!j_is_string(fmt) || strcmp(j_str(fmt), SNAPSHOT_FORMAT) != 0) {
                k = j_is_string(fmt)
                        ? fail(&r, "expected \"" SNAPSHOT_FORMAT "\", got \"%.64s\"", j_str(fmt))
                        : fail(&r, "expected \"" SNAPSHOT_FORMAT "\", got %s", type_name(fmt));
                goto out;
        }
        path_pop(&r, old);

        s = closer_snapshot_new();
        if (!s) {
                k = closer_error_set(err, -ENOMEM, "%s: out of memory", r.source);
                goto out;
        }
        if ((k = read_int(&r, root, "time_ns", false, 0, INT64_MAX, 0, &time_ns)) < 0 ||
            (k = read_host(&r, root, &s->topo)) < 0 ||
            (k = read_dom0(&r, root, s)) < 0 ||
            (k = read_domains(&r, root, s)) < 0 ||
            (k = read_threads(&r, root, s)) < 0 ||
            (k = read_irqs(&r, root, s)) < 0)
                goto out;
        s->time_ns = (uint64_t) time_ns;

        *ret = s;
        s = NULL;
        k = 0;
out:
        closer_snapshot_free(s);
        jt_doc_free(&doc);
        return k;
}

/* ------------------------------------------------------------------ */
/* Writer. Optional keys at their "unknown" value are left out, which the
 * reader turns back into the same value: parse(to_json(s)) == s. */

typedef struct writer {
        bool oom;
        char buf[CLOSER_CPULIST_MAX];
} writer;

static void put(writer *w, json_t *obj, const char *key, json_t *v) {
        if (!v || json_object_set_new(obj, key, v) < 0)
                w->oom = true;
}

static void push(writer *w, json_t *arr, json_t *v) {
        if (!v || json_array_append_new(arr, v) < 0)
                w->oom = true;
}

/* JSON integers are signed 64-bit: larger counters saturate. */
static json_t *u64(uint64_t v) {
        return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t) v);
}

/* A JSON string. Names that came from a live host (comm, cmdline) are bytes,
 * not necessarily UTF-8, and JSON must be: invalid bytes become U+FFFD so
 * that a snapshot with an odd process name can still be written. Whatever the
 * reader accepted is valid UTF-8 and comes out unchanged. */
static json_t *str(const char *s) {
        json_t *v = json_string(s);
        if (v)
                return v;
        size_t n = strlen(s);
        char *clean = malloc(n * 3 + 1);
        if (!clean)
                return NULL;
        size_t o = 0;
        const unsigned char *end = (const unsigned char *) s + n;
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t k = closer_utf8_seq_len(p, (size_t) (end - p));
                if (k) {
                        memcpy(clean + o, p, k);
                        o += k;
                        p += k;
                } else {
                        memcpy(clean + o, "\xEF\xBF\xBD", 3);
                        o += 3;
                        p++;
                }
        }
        clean[o] = '\0';
        v = json_string(clean);
        free(clean);
        return v;
}

static json_t *cpulist(writer *w, const closer_cpuset *s) {
        if (closer_cpuset_format(s, w->buf, sizeof(w->buf)) < 0)
                return NULL;
        return json_string(w->buf);
}

static json_t *write_vcpus(writer *w, unsigned n, const closer_vcpu *v) {
        json_t *arr = json_array();
        if (!arr)
                return NULL;
        for (unsigned i = 0; i < n; i++) {
                json_t *o = json_object();
                put(w, o, "id", json_integer(v[i].id));
                put(w, o, "pcpu", json_integer(v[i].pcpu));
                if (v[i].has_affinity)
                        put(w, o, "affinity", cpulist(w, &v[i].affinity));
                push(w, arr, o);
        }
        return arr;
}

static json_t *write_host(writer *w, const closer_topology *t) {
        json_t *host = json_object(), *nodes = json_array();
        unsigned n_nodes = t->n_nodes < CLOSER_NODES_MAX ? t->n_nodes : CLOSER_NODES_MAX;
        for (unsigned i = 0; i < n_nodes; i++) {
                const closer_node *n = &t->nodes[i];
                json_t *o = json_object(), *d = json_array();
                put(w, o, "id", json_integer(n->id));
                put(w, o, "cpus", cpulist(w, &n->cpus));
                put(w, o, "mem_kib", u64(n->mem_kib));
                put(w, o, "free_kib", u64(n->free_kib));
                for (unsigned j = 0; j < n_nodes; j++)
                        push(w, d, json_integer(n->distances[j]));
                put(w, o, "distances", d);
                push(w, nodes, o);
        }
        put(w, host, "nodes", nodes);
        return host;
}

static json_t *write_domain(writer *w, const closer_topology *t, const closer_domain *d) {
        json_t *o = json_object(), *by = json_object(), *io = json_object();
        put(w, o, "domid", json_integer(d->domid));
        put(w, o, "name", str(d->name));
        if (d->uuid[0])
                put(w, o, "uuid", str(d->uuid));
        put(w, o, "mem_kib", u64(d->mem_kib));
        for (unsigned j = 0; j < t->n_nodes && j < CLOSER_NODES_MAX; j++)
                if (d->mem_kib_by_node[j]) {
                        char key[16];
                        snprintf(key, sizeof(key), "%d", t->nodes[j].id);
                        put(w, by, key, u64(d->mem_kib_by_node[j]));
                }
        put(w, o, "mem_kib_by_node", by);
        put(w, o, "vcpus", write_vcpus(w, d->n_vcpus, d->vcpus));
        put(w, io, "ops_per_s", json_real(d->io_ops_per_s));
        put(w, io, "bytes_per_s", json_real(d->io_bytes_per_s));
        put(w, o, "io", io);
        if (d->io_level)
                put(w, o, "io_level", json_integer(d->io_level));
        return o;
}

static json_t *write_thread(writer *w, const closer_thread *t) {
        json_t *o = json_object();
        put(w, o, "tid", json_integer(t->tid));
        put(w, o, "pid", json_integer(t->pid));
        if (t->ppid)
                put(w, o, "ppid", json_integer(t->ppid));
        put(w, o, "comm", str(t->comm));
        put(w, o, "kernel", json_boolean(t->kernel));
        put(w, o, "cpu_ns", u64(t->cpu_ns));
        if (t->start_time)
                put(w, o, "start_time", u64(t->start_time));
        if (t->last_cpu >= 0)
                put(w, o, "last_cpu", json_integer(t->last_cpu));
        if (t->n_cmdline) {
                json_t *a = json_array();
                for (unsigned i = 0; i < t->n_cmdline; i++)
                        push(w, a, str(t->cmdline[i]));
                put(w, o, "cmdline", a);
        }
        if (t->has_uid)
                put(w, o, "uid", json_integer(t->uid));
        if (t->stdout_path)
                put(w, o, "stdout", str(t->stdout_path));
        return o;
}

static json_t *write_irq(writer *w, const closer_irq *q) {
        json_t *o = json_object(), *c = json_array();
        put(w, o, "irq", json_integer(q->irq));
        put(w, o, "chip", str(q->chip));
        put(w, o, "name", str(q->name));
        for (unsigned i = 0; i < q->n_counts; i++)
                push(w, c, u64(q->per_cpu_counts[i]));
        put(w, o, "per_cpu_counts", c);
        if (q->domid >= 0)
                put(w, o, "domid", json_integer(q->domid));
        if (q->queue >= 0)
                put(w, o, "queue", json_integer(q->queue));
        if (q->cpu >= 0)
                put(w, o, "cpu", json_integer(q->cpu));
        if (q->kind == CLOSER_IRQ_VM_INITIATED)
                put(w, o, "kind", json_string("vm"));
        else if (q->kind == CLOSER_IRQ_EXTERNAL)
                put(w, o, "kind", json_string("external"));
        return o;
}

/* The document is laid out by hand around jansson's one-line dumps, one
 * array element per line: jansson alone would put every per-CPU count on its
 * own line, or everything on one. */

/* Appends v on one line and drops the reference. 17 significant digits:
 * doubles survive the round trip exactly. */
static void text_dump(closer_strbuf *t, writer *w, json_t *v) {
        char *d = v && !w->oom ? json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
        if (!d)
                t->oom = true;
        else
                closer_strbuf_append(t, d);
        free(d);
        json_decref(v);
}

char *closer_snapshot_to_json(const closer_snapshot *s) {
        writer *w = calloc(1, sizeof(*w));
        closer_strbuf t = {};
        char head[96];

        if (!w)
                return NULL;
        snprintf(head, sizeof(head), "{\"format\": \"%s\", \"time_ns\": %" PRIu64 ",\n \"host\": {\"nodes\": [",
                 SNAPSHOT_FORMAT, s->time_ns > INT64_MAX ? (uint64_t) INT64_MAX : s->time_ns);
        closer_strbuf_append(&t, head);
        json_t *host = write_host(w, &s->topo), *nodes = json_object_get(host, "nodes");
        for (unsigned i = 0; i < s->topo.n_nodes && i < CLOSER_NODES_MAX; i++) {
                closer_strbuf_append(&t, i ? ",\n  " : "\n  ");
                text_dump(&t, w, json_incref(json_array_get(nodes, i)));
        }
        json_decref(host);

        json_t *dom0 = json_object();
        put(w, dom0, "mem_kib", u64(s->dom0.mem_kib));
        put(w, dom0, "vcpus", write_vcpus(w, s->dom0.n_vcpus, s->dom0.vcpus));
        closer_strbuf_append(&t, "]},\n \"dom0\": ");
        text_dump(&t, w, dom0);

        closer_strbuf_append(&t, ",\n \"domains\": [");
        for (unsigned i = 0; i < s->n_domains; i++) {
                closer_strbuf_append(&t, i ? ",\n  " : "\n  ");
                text_dump(&t, w, write_domain(w, &s->topo, &s->domains[i]));
        }
        closer_strbuf_append(&t, "],\n \"threads\": [");
        for (unsigned i = 0; i < s->n_threads; i++) {
                closer_strbuf_append(&t, i ? ",\n  " : "\n  ");
                text_dump(&t, w, write_thread(w, &s->threads[i]));
        }
        closer_strbuf_append(&t, "],\n \"irqs\": [");
        for (unsigned i = 0; i < s->n_irqs; i++) {
                closer_strbuf_append(&t, i ? ",\n  " : "\n  ");
                text_dump(&t, w, write_irq(w, &s->irqs[i]));
        }
        closer_strbuf_append(&t, "]}\n");

        free(w);
        return closer_strbuf_steal(&t);
}
