/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/config-file.h"
#include "basic/readfile.h"

int closer_config_load(const char *path, bool required, closer_config *ret, closer_error *err) {
        closer_config c;
        char *text = NULL;
        size_t len = 0;

        closer_config_defaults(&c);
        int r = closer_read_regular_file(path, CLOSER_CONFIG_MAX_BYTES, &text, &len);
        if (r == -ENOENT && !required) {
                *ret = c;
                return 0;
        }
        if (r == -EBADFD)
                return closer_error_set(err, -EINVAL, "%s: not a regular file", path);
        if (r == -EFBIG)
                return closer_error_set(err, r, "%s: larger than %u KiB", path, CLOSER_CONFIG_MAX_BYTES / 1024);
        if (r < 0)
                return closer_error_set(err, r, "%s: %s", path, strerror(-r));
        r = closer_config_parse_buffer(text, len, path, &c, err);
        free(text);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}
