/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "closer/config.h"

#define VCPUS_MAX 4096
#define MEM_MIB_MAX (INT64_C(1) << 24)  /* 16 TiB: far above any dom0 or VM */
#define NODE_ID_MAX 1023
#define OPS_MAX 1e12

void closer_config_defaults(closer_config *c) {
        *c = (closer_config) {
                .profile = CLOSER_PROFILE_OPENSTACK,
                .main_vcpus = -1,
                .main_mem_mib = -1,
                .main_node = 0,
                .eps_mib = 75,
                .floor_mib = 128,
                .n_levels = 3,
                .levels = {
                        { .min_ops_per_s = 0, .extra_mib = 0 },
                        { .min_ops_per_s = 2000, .extra_mib = 64 },
                        { .min_ops_per_s = 10000, .extra_mib = 256 },
                },
                .hysteresis_pct = 20,
                .charge = CLOSER_CHARGE_METER,
        };
}

static const char *const profile_names[] = {
        [CLOSER_PROFILE_OPENSTACK] = "openstack",
        [CLOSER_PROFILE_OPENNEBULA] = "opennebula",
        [CLOSER_PROFILE_EUCALYPTUS] = "eucalyptus",
        [CLOSER_PROFILE_ORACLE] = "oracle",
        [CLOSER_PROFILE_CUSTOM] = "custom",
};

const char *closer_profile_to_string(closer_profile p) {
        if ((unsigned) p >= ELEMENTSOF(profile_names))
                return "unknown";
        return profile_names[p];
}

unsigned closer_config_main_vcpus(const closer_config *c) {
        if (c->main_vcpus > 0)
                return (unsigned) c->main_vcpus;
        switch (c->profile) {
        case CLOSER_PROFILE_OPENSTACK:
        case CLOSER_PROFILE_OPENNEBULA:
        case CLOSER_PROFILE_ORACLE:
                return 2;
        case CLOSER_PROFILE_EUCALYPTUS:
                return 1;
        case CLOSER_PROFILE_CUSTOM:
                break;          /* the parser refuses custom without vcpus */
        }
        return 0;
}

uint64_t closer_config_main_mem_mib(const closer_config *c, uint64_t host_mem_mib) {
        if (c->main_mem_mib >= 0)
                return (uint64_t) c->main_mem_mib;
        switch (c->profile) {
        case CLOSER_PROFILE_OPENSTACK:
                return 2048;
        case CLOSER_PROFILE_OPENNEBULA:
                return 1894;    /* 1.85 GB */
        case CLOSER_PROFILE_EUCALYPTUS:
                return 1536;
        case CLOSER_PROFILE_ORACLE:
                /* Oracle VM: dom0_mem = 502 + int(0.0205 * host MiB). In integers
                 * (205/10000) so that the truncation is the exact one, not the
                 * one of the nearest double to 0.0205. */
                if (host_mem_mib > UINT64_MAX / 205)
                        host_mem_mib = UINT64_MAX / 205;
                return 502 + host_mem_mib * 205 / 10000;
        case CLOSER_PROFILE_CUSTOM:
                break;
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* Parser */

enum key_id {
        K_PROFILE, K_VCPUS, K_MEM_MIB, K_NODE,
        K_EPS_MIB, K_FLOOR_MIB, K_LEVELS, K_HYSTERESIS_PCT,
        K_CHARGE,
        _K_MAX,
};

static const struct {
        const char *section, *name;
} keys[_K_MAX] = {
        [K_PROFILE] = {"main", "profile"},
        [K_VCPUS] = {"main", "vcpus"},
        [K_MEM_MIB] = {"main", "mem_mib"},
        [K_NODE] = {"main", "node"},
        [K_EPS_MIB] = {"memory", "eps_mib"},
        [K_FLOOR_MIB] = {"memory", "floor_mib"},
        [K_LEVELS] = {"memory", "levels"},
        [K_HYSTERESIS_PCT] = {"memory", "hysteresis_pct"},
        [K_CHARGE] = {"cpu", "charge"},
};

typedef struct parser {
        const char *source;
        const char *next;               /* reader position in the text */
        int lineno;                     /* lines handed to inih so far */
        int error_line;                 /* first error found by us (0: none) */
        char error[448];
        int key_line[_K_MAX];           /* where each key was set */
        closer_config c;
} parser;

static void error_at(parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void error_at(parser *p, int line, const char *fmt, ...) {
        if (p->error_line && p->error_line <= line)
                return;                 /* keep the first one */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->error, sizeof(p->error), fmt, ap);
        va_end(ap);
        p->error_line = line;
}

/*
 * inih's own string reader does not tell the handler which line it is on,
 * and silently splits lines longer than INI_MAX_LINE. Ours counts lines and
 * refuses long ones; it also checks section names, which inih does not pass
 * to the handler when the section is empty.
 */
static char *reader(char *buf, int size, void *user) {
        parser *p = user;
        const char *s = p->next, *eol;
        size_t n;

        if (!s || !*s)
                return NULL;
        eol = strchr(s, '\n');
        n = eol ? (size_t) (eol - s) + 1 : strlen(s);
        p->next = s + n;
        p->lineno++;
        if (n > (size_t) size - 1) {
                error_at(p, p->lineno, "expected a line of at most %d characters", size - 2);
                n = 0;          /* hand inih an empty line instead */
        }
        memcpy(buf, s, n);
        buf[n] = '\0';

        /* A section header (inih also takes indented ones). */
        const char *h = buf;
        while (*h == ' ' || *h == '\t')
                h++;
        if (*h == '[') {
                const char *end = strchr(h, ']');
                size_t len = end ? (size_t) (end - h - 1) : 0;
                if (end && !((len == 4 && strncmp(h + 1, "main", 4) == 0) ||
                             (len == 6 && strncmp(h + 1, "memory", 6) == 0) ||
                             (len == 3 && strncmp(h + 1, "cpu", 3) == 0)))
                        error_at(p, p->lineno, "[%.*s]: expected a section [main], [memory] or [cpu]",
                                 (int) (len > 64 ? 64 : len), h + 1);
        }
        /* closer.conf(5): no indented lines. inih would take an indented
         * key after a section header as a key, and one after a key as the
         * continuation of its value. Blank and comment lines may be. */
        if (h > buf && *h && *h != '\r' && *h != '\n' && *h != '#' && *h != ';')
                error_at(p, p->lineno, "expected a key or a section at the start of the line "
                         "(indented lines are not supported)");
        return buf;
}

/* inih strips ';' inline comments; '#' ones (after whitespace) are ours. */
static void strip_value(const char *in, char *out, size_t size) {
        size_t n = 0;
        for (const char *q = in; *q && n + 1 < size; q++) {
                if ((*q == '#' || *q == ';') && (q == in || isspace((unsigned char) q[-1])))
                        break;
                out[n++] = *q;
        }
        while (n > 0 && isspace((unsigned char) out[n - 1]))
                n--;
        out[n] = '\0';
}

/* A decimal integer, the whole string, in [min, max]. */
static bool parse_int(const char *v, int64_t min, int64_t max, int64_t *ret) {
        uint64_t x;
        if (closer_parse_uint(v, (uint64_t) max, 0, &x) < 0 || (int64_t) x < min)
                return false;
        *ret = (int64_t) x;
        return true;
}

static bool parse_rate(const char *v, double *ret) {
        char *end;
        if (!isdigit((unsigned char) *v))
                return false;
        for (const char *q = v; *q; q++)
                if (!isdigit((unsigned char) *q) && *q != '.')
                        return false;   /* no exponents, no hex, no inf */
        errno = 0;
        double x = strtod(v, &end);
        if (errno || *end || !isfinite(x) || x > OPS_MAX)
                return false;
        *ret = x;
        return true;
}

/* "0:0, 2000:64, 10000:256" */
static int parse_levels(parser *p, const char *v, const char *where) {
        closer_mem_level lv[CLOSER_LEVELS_MAX];
        unsigned n = 0;
        char buf[256];

        if (strlen(v) >= sizeof(buf)) {
                error_at(p, p->lineno, "%s: expected at most %zu characters", where, sizeof(buf) - 1);
                return 0;
        }
        if (!*v) {
                error_at(p, p->lineno, "%s: expected at least one level, like \"0:0\"", where);
                return 0;
        }
        strcpy(buf, v);
        /* strsep, not strtok: "0:0,,1:1" has an empty entry, which is an error */
        char *rest = buf;
        for (char *tok; (tok = strsep(&rest, ","));) {
                while (isspace((unsigned char) *tok))
                        tok++;
                size_t len = strlen(tok);
                while (len > 0 && isspace((unsigned char) tok[len - 1]))
                        tok[--len] = '\0';
                char *colon = strchr(tok, ':');
                int64_t mib;
                double thr;
                if (n >= CLOSER_LEVELS_MAX) {
                        error_at(p, p->lineno, "%s: expected at most %u levels", where, CLOSER_LEVELS_MAX);
                        return 0;
                }
                if (!colon) {
                        error_at(p, p->lineno, "%s: expected OPS:MIB pairs like \"0:0, 2000:64\", got \"%.32s\"",
                                 where, tok);
                        return 0;
                }
                *colon = '\0';
                char *a = colon + 1;
                while (isspace((unsigned char) *a))
                        a++;
                len = strlen(tok);
                while (len > 0 && isspace((unsigned char) tok[len - 1]))
                        tok[--len] = '\0';
                if (!parse_rate(tok, &thr)) {
                        error_at(p, p->lineno, "%s: level %u: expected an I/O rate (ops/s) >= 0, got \"%.32s\"",
                                 where, n, tok);
                        return 0;
                }
                if (!parse_int(a, 0, MEM_MIB_MAX, &mib)) {
                        error_at(p, p->lineno, "%s: level %u: expected MiB in 0..%" PRId64 ", got \"%.32s\"",
                                 where, n, MEM_MIB_MAX, a);
                        return 0;
                }
                if (n == 0 && thr != 0) {
                        error_at(p, p->lineno, "%s: expected the first level at 0 ops/s, got %g", where, thr);
                        return 0;
                }
                if (n > 0 && thr <= lv[n - 1].min_ops_per_s) {
                        error_at(p, p->lineno, "%s: expected increasing thresholds, %g follows %g",
                                 where, thr, lv[n - 1].min_ops_per_s);
                        return 0;
                }
                if (n > 0 && (uint64_t) mib < lv[n - 1].extra_mib) {
                        error_at(p, p->lineno, "%s: expected non-decreasing MiB, %" PRId64 " follows %" PRIu64,
                                 where, mib, lv[n - 1].extra_mib);
                        return 0;
                }
                lv[n++] = (closer_mem_level) { .min_ops_per_s = thr, .extra_mib = (uint64_t) mib };
        }
        memcpy(p->c.levels, lv, n * sizeof(lv[0]));
        memset(p->c.levels + n, 0, (CLOSER_LEVELS_MAX - n) * sizeof(lv[0]));
        p->c.n_levels = n;
        return 1;
}

static int handler(void *user, const char *section, const char *name, const char *raw) {
        parser *p = user;
        char where[160], v[256];
        int64_t x;
        int k;

        snprintf(where, sizeof(where), "[%.40s] %.64s", section, name);
        for (k = 0; k < _K_MAX; k++)
                if (strcmp(keys[k].section, section) == 0 && strcmp(keys[k].name, name) == 0)
                        break;
        if (k == _K_MAX) {
                bool known_section = false;
                for (int j = 0; j < _K_MAX; j++)
                        known_section |= strcmp(keys[j].section, section) == 0;
                if (!known_section)
                        /* the reader already named the section; a key outside any is ours */
                        error_at(p, p->lineno, "%s: expected a key inside [main], [memory] or [cpu]", where);
                else {
                        char list[128] = "";
                        for (int j = 0; j < _K_MAX; j++)
                                if (strcmp(keys[j].section, section) == 0) {
                                        strcat(list, list[0] ? ", " : "");
                                        strcat(list, keys[j].name);
                                }
                        error_at(p, p->lineno, "%s: expected one of %s", where, list);
                }
                return 0;
        }
        if (p->key_line[k]) {
                /* also what an indented line looks like: inih continues the value */
                error_at(p, p->lineno, "%s: expected once, already set on line %d "
                         "(indented lines continue a value and are not supported)", where, p->key_line[k]);
                return 0;
        }
        p->key_line[k] = p->lineno;
        strip_value(raw, v, sizeof(v));

        switch (k) {
        case K_PROFILE:
                for (unsigned i = 0; i < ELEMENTSOF(profile_names); i++)
                        if (strcmp(v, profile_names[i]) == 0) {
                                p->c.profile = (closer_profile) i;
                                return 1;
                        }
                error_at(p, p->lineno, "%s: expected openstack, opennebula, eucalyptus, oracle or custom, got \"%.32s\"",
                         where, v);
                return 0;
        case K_VCPUS:
                if (!parse_int(v, 1, VCPUS_MAX, &x))
                        break;
                p->c.main_vcpus = (int) x;
                return 1;
        case K_MEM_MIB:
                if (!parse_int(v, 1, MEM_MIB_MAX, &x))
                        break;
                p->c.main_mem_mib = x;
                return 1;
        case K_NODE:
                if (!parse_int(v, 0, NODE_ID_MAX, &x))
                        break;
                p->c.main_node = (int) x;
                return 1;
        case K_EPS_MIB:
                if (!parse_int(v, 0, MEM_MIB_MAX, &x))
                        break;
                p->c.eps_mib = (uint64_t) x;
                return 1;
        case K_FLOOR_MIB:
                if (!parse_int(v, 0, MEM_MIB_MAX, &x))
                        break;
                p->c.floor_mib = (uint64_t) x;
                return 1;
        case K_LEVELS:
                return parse_levels(p, v, where);
        case K_HYSTERESIS_PCT:
                if (!parse_int(v, 0, 99, &x))
                        break;
                p->c.hysteresis_pct = (unsigned) x;
                return 1;
        case K_CHARGE:
                if (strcmp(v, "meter") == 0)
                        p->c.charge = CLOSER_CHARGE_METER;
                else if (strcmp(v, "cap") == 0)
                        p->c.charge = CLOSER_CHARGE_CAP;
                else {
                        error_at(p, p->lineno, "%s: expected meter or cap, got \"%.32s\"", where, v);
                        return 0;
                }
                return 1;
        }

        /* the integer keys */
        static const struct { int64_t min, max; } range[_K_MAX] = {
                [K_VCPUS] = {1, VCPUS_MAX},
                [K_MEM_MIB] = {1, MEM_MIB_MAX},
                [K_NODE] = {0, NODE_ID_MAX},
                [K_EPS_MIB] = {0, MEM_MIB_MAX},
                [K_FLOOR_MIB] = {0, MEM_MIB_MAX},
                [K_HYSTERESIS_PCT] = {0, 99},
        };
        error_at(p, p->lineno, "%s: expected an integer in %" PRId64 "..%" PRId64 ", got \"%.32s\"",
                 where, range[k].min, range[k].max, v);
        return 0;
}

int closer_config_parse(const char *text, const char *source, closer_config *c, closer_error *err) {
        return closer_config_parse_buffer(text ? text : "", text ? strlen(text) : 0, source, c, err);
}

int closer_config_parse_buffer(const char *text, size_t len, const char *source, closer_config *c,
                               closer_error *err) {
        parser *p;
        int r;

        source = source ? source : "<config>";
        const char *nul = text ? memchr(text, '\0', len) : NULL;
        if (nul) {
                int line = 1;
                for (const char *q = text; q < nul; q++)
                        line += *q == '\n';
                return closer_error_set(err, -EINVAL, "%s:%d: expected text, found a NUL byte", source, line);
        }
        /* the reader below walks a NUL-terminated string */
        char *copy = strndup(text ? text : "", text ? len : 0);
        p = calloc(1, sizeof(*p));
        if (!p || !copy) {
                free(p);
                free(copy);
                return closer_error_set(err, -ENOMEM, "out of memory");
        }
        p->source = source;
        p->next = copy;
        p->c = *c;

        r = ini_parse_stream(reader, p, handler, p);
        if (r < 0) {
                r = closer_error_set(err, -ENOMEM, "%s: out of memory", p->source);
                goto out;
        }
        if (r > 0 && (!p->error_line || r < p->error_line)) {
                /* inih's own complaint: a line that is neither a key, a
                 * section nor a comment */
                r = closer_error_set(err, -EINVAL, "%s:%d: expected \"key = value\", \"[section]\" or a comment",
                                     p->source, r);
                goto out;
        }
        if (p->error_line) {
                r = closer_error_set(err, -EINVAL, "%s:%d: %s", p->source, p->error_line, p->error);
                goto out;
        }
        if (p->c.profile == CLOSER_PROFILE_CUSTOM && (p->c.main_vcpus <= 0 || p->c.main_mem_mib < 0)) {
                const char *missing = p->c.main_vcpus <= 0 && p->c.main_mem_mib < 0 ? "vcpus and mem_mib"
                                      : p->c.main_vcpus <= 0 ? "vcpus" : "mem_mib";
                if (p->key_line[K_PROFILE])
                        r = closer_error_set(err, -EINVAL, "%s:%d: [main] profile: expected %s in [main] with profile = custom",
                                             p->source, p->key_line[K_PROFILE], missing);
                else
                        r = closer_error_set(err, -EINVAL, "%s: [main] profile: expected %s in [main] with profile = custom",
                                             p->source, missing);
                goto out;
        }
        *c = p->c;
        r = 0;
out:
        free(p);
        free(copy);
        return r;
}
