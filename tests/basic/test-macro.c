/* SPDX-License-Identifier: GPL-2.0-or-later */
/* macro.h and fd-util.h: ELEMENTSOF, RET_GATHER, TAKE_PTR/TAKE_FD and the _cleanup_ helpers. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "basic/fd-util.h"
#include "basic/macro.h"
#include "basic/sort-util.h"

static void test_elementsof(void **state) {
        (void) state;
        static const int a[7] = {0};
        const char *b[] = {"x", "y", "z"};
        struct { int x[2]; } c[5];
        assert_int_equal(ELEMENTSOF(a), 7);
        assert_int_equal(ELEMENTSOF(b), 3);
        assert_int_equal(ELEMENTSOF(c), 5);
        assert_int_equal(ELEMENTSOF(c[0].x), 2);
}

static int calls;
static int step(int r) {
        calls++;
        return r;
}

static void test_ret_gather(void **state) {
        (void) state;
        int r = 0;
        calls = 0;
        assert_int_equal(RET_GATHER(r, step(0)), 0);
        assert_int_equal(r, 0);
        assert_int_equal(RET_GATHER(r, step(5)), 5);          /* a success value is no error */
        assert_int_equal(r, 0);
        assert_int_equal(RET_GATHER(r, step(-EIO)), -EIO);
        assert_int_equal(r, -EIO);
        assert_int_equal(RET_GATHER(r, step(-ENOENT)), -ENOENT); /* the first one is kept */
        assert_int_equal(r, -EIO);
        assert_int_equal(RET_GATHER(r, step(0)), 0);
        assert_int_equal(r, -EIO);
        assert_int_equal(calls, 5);                              /* each evaluated once */
}

static int fd_probe = -1;
static void open_and_leave(void) {
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        fd_probe = fd;
}

static int hand_on(void) {
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return TAKE_FD(fd);
}

static char *keep(void) {
        _cleanup_free_ char *s = strdup("kept");
        return TAKE_PTR(s);
}

static void test_cleanup(void **state) {
        (void) state;
        open_and_leave();
        struct stat st;
        assert_int_equal(fstat(fd_probe, &st), -1);      /* closed at scope exit */
        assert_int_equal(errno, EBADF);

        int fd = hand_on();
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);             /* taken: still open */
        close(fd);

        char *s = keep();
        assert_string_equal(s, "kept");
        free(s);

        {
                _cleanup_free_ char *p = malloc(16);       /* freed (ASan/valgrind would see a leak) */
                _cleanup_fclose_ FILE *f = fopen("/dev/null", "re");
                _cleanup_closedir_ DIR *d = opendir("/");
                _cleanup_close_ int none = -1;           /* nothing to close */
                _cleanup_free_ char *null = NULL;
                _cleanup_fclose_ FILE *nof = NULL;
                assert_non_null(p);
                assert_non_null(f);
                assert_non_null(d);
                (void) none;
                (void) null;
                (void) nof;
        }
        /* errno survives a cleanup close */
        {
                _cleanup_close_ int bad = 1000000;
                errno = ENOSPC;
        }
        assert_int_equal(errno, ENOSPC);
}

static int cmp_int(const void *a, const void *b) {
        return *(const int *) a - *(const int *) b;
}

static void test_qsort_safe(void **state) {
        (void) state;
        closer_qsort_safe(NULL, 0, sizeof(int), cmp_int);       /* UBSan: no null passed to qsort */
        int one = 5;
        closer_qsort_safe(&one, 1, sizeof(int), cmp_int);
        assert_int_equal(one, 5);
        int a[] = {3, 1, 2};
        closer_qsort_safe(a, ELEMENTSOF(a), sizeof(a[0]), cmp_int);
        assert_int_equal(a[0], 1);
        assert_int_equal(a[2], 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_elementsof),
                cmocka_unit_test(test_ret_gather),
                cmocka_unit_test(test_cleanup),
                cmocka_unit_test(test_qsort_safe),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
