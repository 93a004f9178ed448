/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc-util.h"
#include "closer/utf8.h"
#include "jsontape.h"
#include "basic/sort-util.h"

#define JT_MAX_DEPTH 2048       /* jansson's JSON_PARSER_MAX_DEPTH */
#define JT_SMALL_OBJECT 16      /* up to this many keys, duplicates are found pairwise */

typedef struct parser {
        const unsigned char *s;         /* next byte; the text ends with a NUL */
        const unsigned char *start, *end;
        jt_node *nodes;
        size_t n, cap;
        char *str;                      /* strings arena: at most the text's length */
        size_t slen;
        const char *point;              /* the locale's decimal point (strtod) */
        size_t point_len;
        int error;                      /* -EINVAL or -ENOMEM */
        uint64_t *run;                  /* the values of the integer array being read */
        size_t run_cap;
} parser;

static int fail(parser *p, int error) {
        if (!p->error)
                p->error = error;
        return -1;
}

static const bool ws[256] = {[' '] = true, ['\n'] = true, ['\r'] = true, ['\t'] = true};

/* bytes that stand for themselves in a string: printable ASCII but '"' and '\\' */
static const bool plain[256] = {
        [' '] = true, ['!'] = true, ['#' ... '['] = true, [']' ... '~'] = true, [0x7f] = true,
};

static inline void skip_ws(parser *p) {
        while (ws[*p->s])
                p->s++;
}

static int grow(parser *p) {
        /* node indexes are 32-bit */
        if (p->cap > UINT32_MAX / 2 || !GREEDY_REALLOC(p->nodes, p->cap, p->n + 1))
                return fail(p, -ENOMEM);
        return 0;
}

/* A new node; its index (the array may move while parsing). */
static inline long push(parser *p, jt_type type) {
        if (p->n == p->cap && grow(p) < 0)
                return -1;
        p->nodes[p->n].type = (uint8_t) type;
        p->nodes[p->n].n = 0;
        return (long) p->n++;
}

static int hex4(const unsigned char *s) {
        int v = 0;
        for (int i = 0; i < 4; i++) {
                unsigned char c = s[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= c - '0';
                else if (c >= 'a' && c <= 'f')
                        v |= c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        v |= c - 'A' + 10;
                else
                        return -1;
        }
        return v;
}

static size_t utf8_put(char *o, uint32_t cp) {
        if (cp < 0x80) {
                o[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char) (0xC0 | cp >> 6);
                o[1] = (char) (0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (char) (0xE0 | cp >> 12);
                o[1] = (char) (0x80 | (cp >> 6 & 0x3F));
                o[2] = (char) (0x80 | (cp & 0x3F));
                return 3;
        }
        o[0] = (char) (0xF0 | cp >> 18);
        o[1] = (char) (0x80 | (cp >> 12 & 0x3F));
        o[2] = (char) (0x80 | (cp >> 6 & 0x3F));
        o[3] = (char) (0x80 | (cp & 0x3F));
        return 4;
}

/* A string at p->s (the opening quote) into the arena; U+0000 refused (as
 * jansson does without JSON_ALLOW_NUL, and for keys always). */
static int string(parser *p, jt_node *node) {
        const unsigned char *s = p->s + 1;
        char *o = p->str + p->slen, *o0 = o;
        for (;;) {
                /* the common case: a run of plain printable ASCII */
                const unsigned char *run = s;
                while (plain[*s])
                        s++;
                memcpy(o, run, (size_t) (s - run));
                o += s - run;
                unsigned char c = *s;
                if (c == '"')
                        break;
                if (c < 0x20) {         /* a control character, or the end of the text */
                        p->s = s;
                        return fail(p, -EINVAL);
                }
                if (c >= 0x80) {
                        size_t k = closer_utf8_seq_len(s, 4);
                        if (!k) {
                                p->s = s;
                                return fail(p, -EINVAL);
                        }
                        memcpy(o, s, k);
                        o += k;
                        s += k;
                        continue;
                }
                /* an escape */
                c = s[1];
                s += 2;
                switch (c) {
                case '"': case '\\': case '/':
                        *o++ = (char) c;
                        break;
                case 'b': *o++ = '\b'; break;
                case 'f': *o++ = '\f'; break;
                case 'n': *o++ = '\n'; break;
                case 'r': *o++ = '\r'; break;
                case 't': *o++ = '\t'; break;
                case 'u': {
                        int v = hex4(s);
                        if (v < 0)
                                goto bad;
                        s += 4;
                        uint32_t cp = (uint32_t) v;
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                                int v2 = s[0] == '\\' && s[1] == 'u' ? hex4(s + 2) : -1;
                                if (v2 < 0xDC00 || v2 > 0xDFFF)
                                        goto bad;
                                s += 6;
                                cp = ((cp - 0xD800) << 10) + ((uint32_t) v2 - 0xDC00) + 0x10000;
                        } else if (cp >= 0xDC00 && cp <= 0xDFFF)
                                goto bad;
                        if (cp == 0)
                                goto bad;
                        o += utf8_put(o, cp);
                        break;
                }
                default:
                        goto bad;
                }
        }
        *o = '\0';
        node->type = JT_STRING;
        node->v.s = o0;
        if ((size_t) (o - o0) > UINT32_MAX)
                return fail(p, -ENOMEM);
        node->n = (uint32_t) (o - o0);
        p->slen += (size_t) (o - o0) + 1;
        p->s = s + 1;
        return 0;
bad:
        p->s = s;
        return fail(p, -EINVAL);
}

static int real(parser *p, const unsigned char *start, jt_node *node) {
        size_t n = (size_t) (p->s - start);
        char *end;
        double d;
        errno = 0;
        if (p->point_len == 1 && p->point[0] == '.') {
                d = strtod((const char *) start, &end);
                if (end != (const char *) p->s)
                        return fail(p, -EINVAL);
        } else {
                /* as jansson does: the text's '.' becomes the locale's */
                char *copy = malloc(n + p->point_len + 1), *o = copy;
                if (!copy)
                        return fail(p, -ENOMEM);
                for (size_t i = 0; i < n; i++)
                        if (start[i] == '.') {
                                memcpy(o, p->point, p->point_len);
                                o += p->point_len;
                        } else
                                *o++ = (char) start[i];
                *o = '\0';
                d = strtod(copy, &end);
                bool whole = *end == '\0';
                free(copy);
                if (!whole)
                        return fail(p, -EINVAL);
        }
        if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
                return fail(p, -EINVAL);       /* jansson: "real number overflow" */
        node->type = JT_REAL;
        node->v.d = d;
        return 0;
}

static inline int number(parser *p, jt_node *node) {
        const unsigned char *start = p->s, *s = p->s;
        bool neg = *s == '-';
        s += neg;
        const unsigned char *digits = s;
        uint64_t v = 0;         /* exact up to 19 digits; more are refused */
        if (*s == '0') {
                s++;
                if (*s >= '0' && *s <= '9') {
                        p->s = s;
                        return fail(p, -EINVAL);
                }
        } else if (*s >= '1' && *s <= '9') {
                do
                        v = v * 10 + (uint64_t) (*s++ - '0');
                while (*s >= '0' && *s <= '9');
        } else {
                p->s = s;
                return fail(p, -EINVAL);
        }
        if (*s != '.' && *s != 'e' && *s != 'E') {
                size_t n = (size_t) (s - digits);
                p->s = s;
                /* jansson: "too big integer" */
                if (n > 19 || (n == 19 && v > (uint64_t) INT64_MAX + neg))
                        return fail(p, -EINVAL);
                node->type = JT_INTEGER;
                node->v.i = neg ? (int64_t) (0 - v) : (int64_t) v;
                return 0;
        }
        if (*s == '.') {
                s++;
                if (*s < '0' || *s > '9') {
                        p->s = s;
                        return fail(p, -EINVAL);
                }
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        if (*s == 'e' || *s == 'E') {
                s++;
                if (*s == '+' || *s == '-')
                        s++;
                if (*s < '0' || *s > '9') {
                        p->s = s;
                        return fail(p, -EINVAL);
                }
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        p->s = s;
        return real(p, start, node);
}

static bool literal(parser *p, const char *word, size_t n) {
        if (strncmp((const char *) p->s, word, n) != 0)
                return false;
        p->s += n;
        return true;
}

/* Reads the elements of an array at p->s for as long as they are plain
 * integers (0 or more, at most 18 digits), with the text in a register,
 * into p->run. Returns 1 at the closing ']' (not consumed: every element was
 * one), 0 at the first element that is not (p->s unchanged: the caller
 * starts again), -1 on error. */
static int int_run(parser *p, uint32_t *count) {
        const unsigned char *s = p->s;
        uint64_t *run = p->run;
        size_t c = 0, cap = p->run_cap;
        for (;;) {
                /* by far the most common element: a counter still at zero,
                 * then ", " (a CPU the IRQ never ran on); four at a time */
                while (p->end - s >= 12 && cap - c >= 4 && memcmp(s, "0, 0, 0, 0, ", 12) == 0) {
                        memset(run + c, 0, 4 * sizeof(*run));
                        c += 4;
                        s += 12;
                }
                while (s[0] == '0' && s[1] == ',' && s[2] == ' ' && c < cap) {
                        run[c++] = 0;
                        s += 3;
                }
                const unsigned char *d = s;
                uint64_t v;
                if ((unsigned) (*s - '1') < 9) {
                        v = (uint64_t) (*s++ - '0');
                        while ((unsigned) (*s - '0') < 10)
                                v = v * 10 + (uint64_t) (*s++ - '0');
                        if (s - d > 18)
                                return 0;
                } else if (*s == '0') {
                        s++;
                        if ((unsigned) (*s - '0') < 10)
                                return 0;
                        v = 0;
                } else
                        return 0;
                if (c == cap) {
                        if (cap > UINT32_MAX / 2 || !GREEDY_REALLOC_MIN(p->run, p->run_cap, c + 1, 512))
                                return fail(p, -ENOMEM);
                        run = p->run;
                        cap = p->run_cap;
                }
                run[c++] = v;
                if (*s != ',') {
                        if (*s == '.' || *s == 'e' || *s == 'E')
                                return 0;
                        while (ws[*s])
                                s++;
                        if (*s != ',') {
                                p->s = s;
                                if (*s != ']')
                                        return fail(p, -EINVAL);
                                *count = (uint32_t) c;
                                return 1;
                        }
                }
                s++;
                if (*s == ' ')
                        s++;
                while (ws[*s])
                        s++;
        }
}

static int key_cmp(const void *a, const void *b) {
        const jt_node *x = *(const jt_node *const *) a, *y = *(const jt_node *const *) b;
        if (x->n != y->n)
                return x->n < y->n ? -1 : 1;
        return memcmp(x->v.s, y->v.s, x->n);
}

/* Duplicate keys among the n members of the object at nodes[obj]. */
static int check_duplicates(parser *p, size_t obj, uint32_t n) {
        const jt_node *o = &p->nodes[obj];
        if (n <= JT_SMALL_OBJECT) {
                const jt_node *keys[JT_SMALL_OBJECT], *k = o + 1;
                for (uint32_t i = 0; i < n; i++) {
                        for (uint32_t j = 0; j < i; j++)
                                if (keys[j]->n == k->n && memcmp(keys[j]->v.s, k->v.s, k->n) == 0)
                                        return fail(p, -EINVAL);
                        keys[i] = k;
                        k = jt_next(k + 1);
                }
                return 0;
        }
        const jt_node **keys = malloc(n * sizeof(*keys)), *k = o + 1;
        if (!keys)
                return fail(p, -ENOMEM);
        for (uint32_t i = 0; i < n; i++) {
                keys[i] = k;
                k = jt_next(k + 1);
        }
        closer_qsort_safe(keys, n, sizeof(*keys), key_cmp);
        int r = 0;
        for (uint32_t i = 1; i < n && r == 0; i++)
                if (key_cmp(&keys[i - 1], &keys[i]) == 0)
                        r = fail(p, -EINVAL);
        free(keys);
        return r;
}

/* One value at p->s (no leading blanks), `depth` counted as jansson does:
 * every value, scalars too, one deeper than its container. */
static int value(parser *p, unsigned depth) {
        if (depth > JT_MAX_DEPTH)
                return fail(p, -EINVAL);
        long i = push(p, JT_NULL);
        if (i < 0)
                return -1;
        unsigned char c = *p->s;
        if (c == '"')
                return string(p, &p->nodes[i]);
        if (c == '-' || (c >= '0' && c <= '9'))
                return number(p, &p->nodes[i]);
        if (c == '[') {
                uint32_t count = 0;
                p->nodes[i].type = JT_ARRAY;
                p->s++;
                skip_ws(p);
                if (*p->s != ']' && depth < JT_MAX_DEPTH) {
                        int r = int_run(p, &count);
                        if (r < 0)
                                return -1;
                        if (r > 0) {
                                uint64_t *ints = malloc(count * sizeof(*ints));
                                if (!ints)
                                        return fail(p, -ENOMEM);
                                memcpy(ints, p->run, count * sizeof(*ints));
                                p->s++;
                                p->nodes[i].type = JT_INTS;
                                p->nodes[i].n = count;
                                p->nodes[i].v.ints = ints;
                                return 0;
                        }
                }
                if (*p->s != ']')
                        for (;;) {
                                if (value(p, depth + 1) < 0)
                                        return -1;
                                count++;
                                skip_ws(p);
                                if (*p->s == ']')
                                        break;
                                if (*p->s != ',')
                                        return fail(p, -EINVAL);
                                p->s++;
                                skip_ws(p);
                        }
                p->s++;
                p->nodes[i].n = count;
                p->nodes[i].v.skip = (uint32_t) (p->n - (size_t) i);
                return 0;
        }
        if (c == '{') {
                uint32_t count = 0;
                p->nodes[i].type = JT_OBJECT;
                p->s++;
                skip_ws(p);
                if (*p->s != '}')
                        for (;;) {
                                if (*p->s != '"')
                                        return fail(p, -EINVAL);
                                long k = push(p, JT_STRING);
                                if (k < 0 || string(p, &p->nodes[k]) < 0)
                                        return -1;
                                skip_ws(p);
                                if (*p->s != ':')
                                        return fail(p, -EINVAL);
                                p->s++;
                                skip_ws(p);
                                if (value(p, depth + 1) < 0)
                                        return -1;
                                count++;
                                skip_ws(p);
                                if (*p->s == '}')
                                        break;
                                if (*p->s != ',')
                                        return fail(p, -EINVAL);
                                p->s++;
                                skip_ws(p);
                        }
                p->s++;
                p->nodes[i].n = count;
                p->nodes[i].v.skip = (uint32_t) (p->n - (size_t) i);
                return count > 1 ? check_duplicates(p, (size_t) i, count) : 0;
        }
        if (literal(p, "true", 4))
                p->nodes[i].type = JT_TRUE;
        else if (literal(p, "false", 5))
                p->nodes[i].type = JT_FALSE;
        else if (!literal(p, "null", 4))
                return fail(p, -EINVAL);
        return 0;
}

int jt_parse(const char *text, size_t len, jt_doc *doc, size_t *ret_offset) {
        parser p = {
                .s = (const unsigned char *) text,
                .start = (const unsigned char *) text,
                .end = (const unsigned char *) text + len,
                /* about one value per 4 bytes of a snapshot; grows as needed */
                .cap = len / 4 + 16,
        };
        const char *point = localeconv()->decimal_point;
        p.point = point && point[0] ? point : ".";
        p.point_len = strlen(p.point);
        *doc = (jt_doc) {};
        p.nodes = malloc(p.cap * sizeof(*p.nodes));
        /* a string takes at least its bytes plus two quotes in the text, and
         * its bytes plus a NUL here: the text's length is enough */
        p.str = malloc(len + 1);
        if (!p.nodes || !p.str) {
                free(p.nodes);
                free(p.str);
                return -ENOMEM;
        }
        skip_ws(&p);
        if (*p.s != '{' && *p.s != '[')
                fail(&p, -EINVAL);
        else if (value(&p, 1) == 0) {
                skip_ws(&p);
                if (*p.s != '\0' || (size_t) (p.s - p.start) != len)
                        fail(&p, -EINVAL);
        }
        free(p.run);
        doc->nodes = p.nodes;
        doc->n_nodes = p.n;
        doc->strings = p.str;
        if (p.error) {
                if (ret_offset)
                        *ret_offset = (size_t) (p.s - p.start);
                /* the nodes after a failure are half made: only the arrays
                 * read in full (JT_INTS) hold anything to free */
                jt_doc_free(doc);
                return p.error;
        }
        return 0;
}

uint64_t *jt_ints_take(jt_doc *doc, const jt_node *v) {
        jt_node *m = &doc->nodes[v - doc->nodes];
        uint64_t *ints = m->v.ints;
        m->v.ints = NULL;
        return ints;
}

void jt_doc_free(jt_doc *doc) {
        for (size_t i = 0; i < doc->n_nodes; i++)
                if (doc->nodes[i].type == JT_INTS)
                        free(doc->nodes[i].v.ints);
        free(doc->nodes);
        free(doc->strings);
        *doc = (jt_doc) {};
}
