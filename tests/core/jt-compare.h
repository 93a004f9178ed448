/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tape reader (src/core/jsontape.c) against jansson, the reference it
 * must agree with: same documents accepted, same values read. Shared by
 * test-snapshot and fuzz-snapshot. */
#pragma once

#include <string.h>

#include <jansson.h>

#include "core/jsontape.h"

/* 1 when the tape value v (and all it holds) equals jansson's j. */
static inline int jt_equal_json(const jt_node *v, const json_t *j) {
        switch (jt_typeof(v)) {
        case JT_NULL:
                return json_is_null(j);
        case JT_TRUE:
                return json_is_true(j);
        case JT_FALSE:
                return json_is_false(j);
        case JT_INTEGER:
                return json_is_integer(j) && json_integer_value(j) == v->v.i;
        case JT_REAL:
                return json_is_real(j) && memcmp(&v->v.d, &(double) {json_real_value(j)}, sizeof(double)) == 0;
        case JT_STRING:
                return json_is_string(j) && json_string_length(j) == v->n &&
                       memcmp(json_string_value(j), v->v.s, v->n) == 0 && v->v.s[v->n] == '\0';
        case JT_INTS:
        case JT_ARRAY: {
                if (!json_is_array(j) || json_array_size(j) != v->n)
                        return 0;
                jt_iter it = jt_iter_start(v);
                for (size_t i = 0; i < v->n; i++)
                        if (!jt_equal_json(jt_iter_next(&it), json_array_get(j, i)))
                                return 0;
                return 1;
        }
        case JT_OBJECT: {
                if (!json_is_object(j) || json_object_size(j) != v->n)
                        return 0;
                const jt_node *k = v + 1;
                for (size_t i = 0; i < v->n; i++, k = jt_next(k + 1)) {
                        const json_t *m = json_object_getn(j, k->v.s, k->n);
                        if (!m || jt_typeof(k) != JT_STRING || !jt_equal_json(k + 1, m))
                                return 0;
                }
                return 1;
        }
        }
        return 0;
}

/* 0 when the two readers agree on text (NUL-terminated), -1 when not. */
static inline int jt_agrees_with_jansson(const char *text) {
        jt_doc doc;
        size_t at;
        int k = jt_parse(text, strlen(text), &doc, &at);
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        int r = (k == 0) == (j != NULL) ? 0 : -1;
        if (r == 0 && k == 0 && !jt_equal_json(doc.nodes, j))
                r = -1;
        if (k == 0)
                jt_doc_free(&doc);
        json_decref(j);
        return r;
}
