/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The root-fd file helpers: every path relative to one opened root. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/root.h"

static void test_root(void **state) {
        (void) state;
        char dir[] = "/tmp/closer-root-XXXXXX", p[128];
        assert_non_null(mkdtemp(dir));
        snprintf(p, sizeof(p), "%s/etc", dir);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/etc/hostname", dir);
        FILE *f = fopen(p, "we");
        fputs("fixture-host\n", f);
        fclose(f);

        closer_root *r;
        assert_int_equal(closer_root_open(dir, &r), 0);
        assert_false(r->is_real);
        char buf[64];
        /* "/etc/hostname" is read under the root, not from the machine */
        assert_int_equal(closer_read_small_at(r->fd, "/etc/hostname", buf, sizeof(buf)), 13);
        assert_string_equal(buf, "fixture-host\n");
        assert_int_equal(closer_read_small_at(r->fd, "etc/hostname", buf, 5), 4);   /* cut, terminated */
        assert_string_equal(buf, "fixt");
        char *big;
        size_t len;
        assert_int_equal(closer_read_file_at(r->fd, "///etc/hostname", 1024, &big, &len), 0);
        assert_int_equal(len, 13);
        free(big);
        assert_int_equal(closer_read_file_at(r->fd, "/etc/hostname", 4, &big, &len), -EFBIG);
        assert_int_equal(closer_read_small_at(r->fd, "/etc/nothing", buf, sizeof(buf)), -ENOENT);
        assert_int_equal(closer_write_file_at(r->fd, "/etc/hostname", "other\n"), 0);
        assert_int_equal(closer_read_small_at(r->fd, "/etc/hostname", buf, sizeof(buf)), 6);
        assert_string_equal(buf, "other\n");
        assert_int_equal(closer_write_file_at(r->fd, "/etc/new", "x"), -ENOENT);  /* never creates */
        int fd = closer_root_openat(r, "/etc", O_RDONLY | O_DIRECTORY, 0);
        assert_true(fd >= 0);
        close(fd);
        assert_string_equal(closer_root_rel("/"), ".");
        assert_string_equal(closer_root_rel("//proc/1"), "proc/1");
        closer_root_free(r);
        assert_null(closer_root_free(NULL));

        /* large /proc-like files grow the buffer */
        assert_int_equal(closer_root_open("/", &r), 0);
        assert_true(r->is_real);
        assert_int_equal(closer_read_file_at(r->fd, "/proc/self/maps", 64 << 20, &big, &len), 0);
        assert_true(len > 0 && strlen(big) == len);
        free(big);
        closer_root_free(r);
        assert_int_equal(closer_root_open("/nonexistent-closer-root", &r), -ENOENT);

        unlink(p);
        snprintf(p, sizeof(p), "%s/etc", dir);
        rmdir(p);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_root),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
