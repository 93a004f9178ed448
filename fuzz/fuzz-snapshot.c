/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The snapshot reader on arbitrary bytes. Besides the sanitizers, two
 * oracles: its JSON layer (the tape reader, src/core/jsontape.c) accepts
 * exactly what jansson accepts and reads the same values; and whatever is
 * accepted must survive a round trip through the writer, and the writer must
 * be stable (to_json(parse(to_json(s))) == to_json(s)).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "closer/snapshot.h"
#include "../tests/core/jt-compare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        closer_snapshot *s = NULL, *t = NULL;
        closer_error e = {};

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        if (jt_agrees_with_jansson(text) < 0) {
                fprintf(stderr, "the tape reader and jansson disagree\n");
                abort();
        }
        if (closer_snapshot_from_json(text, "fuzz", &s, &e) < 0) {
                /* one line, starting with the source */
                if (strncmp(e.msg, "fuzz: $", 7) != 0 || strchr(e.msg, '\n'))
                        abort();
                free(text);
                return 0;
        }
        char *j1 = closer_snapshot_to_json(s);
        if (!j1)
                abort();
        if (closer_snapshot_from_json(j1, "roundtrip", &t, &e) < 0) {
                fprintf(stderr, "written snapshot rejected: %s\n", e.msg);
                abort();
        }
        char *j2 = closer_snapshot_to_json(t);
        if (!j2 || strcmp(j1, j2) != 0)
                abort();
        free(j1);
        free(j2);
        closer_snapshot_free(s);
        closer_snapshot_free(t);
        free(text);
        return 0;
}
