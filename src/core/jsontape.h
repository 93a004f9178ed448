/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A JSON reader for large documents (the snapshot): one pass over the text
 * into a flat array of nodes (the "tape"), no allocation per value. It
 * accepts exactly what jansson's json_loads(text, JSON_REJECT_DUPLICATES)
 * accepts: RFC 8259 with an object or array at the top, valid UTF-8, no
 * U+0000 in strings or keys, integers within int64 (anything without '.',
 * 'e' or 'E' is an integer, as in jansson), finite reals, no duplicate keys,
 * at most 2048 levels of nesting (jansson's JSON_PARSER_MAX_DEPTH, counted
 * as jansson counts them). It does not explain a refusal: the caller asks
 * jansson, so that a malformed document is reported in jansson's words
 * (line, column, what) as before. The fuzz target fuzz-snapshot checks that
 * the two agree on every input.
 *
 * Layout: a value is one node; an array is its node followed by its
 * elements; an object is its node followed by key, value, key, value...
 * (each key a string node). jt_next() steps over a value and everything
 * inside it. An array of nothing but plain integers (0 or more, at most 18
 * digits: per-CPU counters, most of a snapshot's bytes) is one JT_INTS node
 * holding its values in an array of its own, sized to fit: 8 bytes per
 * element instead of a 16-byte node, and the reader can take the array as
 * it is (jt_ints_take) instead of copying it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum jt_type {
        JT_NULL,
        JT_FALSE,
        JT_TRUE,
        JT_INTEGER,
        JT_REAL,
        JT_STRING,
        JT_INTS,                /* an array of plain integers (an array for every purpose) */
        JT_ARRAY,
        JT_OBJECT,
} jt_type;

typedef struct jt_node {
        uint8_t type;           /* jt_type */
        uint32_t n;             /* string: length in bytes; array: elements; object: members */
        union {
                int64_t i;      /* JT_INTEGER */
                double d;       /* JT_REAL */
                const char *s;  /* JT_STRING: NUL-terminated, unescaped */
                uint64_t *ints; /* JT_INTS: n values, each < 10^18 (NULL once taken) */
                uint32_t skip;  /* JT_ARRAY, JT_OBJECT: nodes from this one to the next sibling */
        } v;
} jt_node;

typedef struct jt_doc {
        jt_node *nodes;         /* nodes[0] is the root */
        size_t n_nodes;
        char *strings;          /* every string's bytes, each NUL-terminated */
} jt_doc;

/* Parse text[0..len) (text[len] must be '\0'). Returns 0 and fills doc
 * (free it with jt_doc_free), -EINVAL when jansson would refuse the text
 * (*ret_offset: the byte where the refusal was noticed), -ENOMEM. */
int jt_parse(const char *text, size_t len, jt_doc *doc, size_t *ret_offset);
void jt_doc_free(jt_doc *doc);

static inline jt_type jt_typeof(const jt_node *v) {
        return (jt_type) v->type;
}

/* The value after v and all it contains. */
static inline const jt_node *jt_next(const jt_node *v) {
        return v->type >= JT_ARRAY ? v + v->v.skip : v + 1;
}

/* An array's elements, JT_ARRAY or JT_INTS alike:
 *     jt_iter it = jt_iter_start(arr);
 *     for (size_t i = 0; i < arr->n; i++) { const jt_node *e = jt_iter_next(&it); ... }
 * An element of a JT_INTS array lives in the iterator until the next call. */
typedef struct jt_iter {
        const jt_node *next;            /* JT_ARRAY */
        const uint64_t *ints;           /* JT_INTS */
        jt_node cur;
} jt_iter;

static inline jt_iter jt_iter_start(const jt_node *arr) {
        jt_iter it = {.next = arr + 1};
        if (arr->type == JT_INTS) {
                it.ints = arr->v.ints;
                it.cur.type = JT_INTEGER;
        }
        return it;
}

static inline const jt_node *jt_iter_next(jt_iter *it) {
        if (!it->ints) {
                const jt_node *e = it->next;
                it->next = jt_next(e);
                return e;
        }
        it->cur.v.i = (int64_t) *it->ints++;
        return &it->cur;
}

/* The values of a JT_INTS array, for the caller to keep (and free); the
 * node is no longer readable after. NULL if already taken. */
uint64_t *jt_ints_take(jt_doc *doc, const jt_node *v);

/* The object member `key`, or NULL. Objects are small and their keys come
 * in a usual order: a linear scan, length first, beats hashing here. */
static inline const jt_node *jt_get(const jt_node *obj, const char *key) {
        const jt_node *k = obj + 1;
        for (uint32_t i = 0; i < obj->n; i++) {
                /* keys hold no NUL (refused) and end with one: strcmp is byte equality */
                if (k->v.s[0] == key[0] && (key[0] == '\0' || strcmp(k->v.s + 1, key + 1) == 0))
                        return k + 1;
                k = jt_next(k + 1);
        }
        return NULL;
}
