/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Small macros used everywhere (the systemd macro.h way): array sizes,
 * first-error gathering and scope-bound cleanup (of memory; fds, FILEs and
 * DIRs in fd-util.h: the pure core uses this one). Header only; GNU C
 * (statement expressions, __typeof__, the cleanup attribute), which gcc and
 * clang both speak.
 */

#include <stdlib.h>

/* The number of elements of an array (not of a pointer: that fails to build). */
#define ELEMENTSOF(x)                                                                                   \
        (__builtin_choose_expr(                                                                         \
                !__builtin_types_compatible_p(__typeof__(x), __typeof__(&*(x))),                        \
                sizeof(x) / sizeof((x)[0]),                                                             \
                (void) 0))

/* Keep the first error: when `ret` holds no error yet (>= 0) and `err` is one
 * (< 0), ret = err. Evaluates to err, so that
 *         RET_GATHER(r, do_this()); RET_GATHER(r, do_that());
 * runs both and returns the first failure. */
#define RET_GATHER(ret, err)                                                                            \
        ({                                                                                              \
                int _e_ = (err);                                                                        \
                if ((ret) >= 0 && _e_ < 0)                                                              \
                        (ret) = _e_;                                                                    \
                _e_;                                                                                    \
        })

/* Take ownership out of a variable: returns its value and leaves NULL (or -1
 * for an fd) behind, so a _cleanup_ variable can be handed on. */
#define TAKE_PTR(p)                                                                                     \
        ({                                                                                              \
                __typeof__(p) _p_ = (p);                                                                \
                (p) = NULL;                                                                             \
                _p_;                                                                                    \
        })
#define TAKE_FD(fd)                                                                                     \
        ({                                                                                              \
                int _fd_ = (fd);                                                                        \
                (fd) = -1;                                                                              \
                _fd_;                                                                                   \
        })

/* Scope-bound cleanup: the function runs with the variable's address when it
 * goes out of scope, on every path out. */
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void closer_freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(closer_freep)

/* Declares `static inline void <func>p(type *p)` calling func(*p) when *p is
 * set, for _cleanup_(<func>p) on an object with its own free function. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                         \
        static inline void func##p(type *p) {                                                           \
                if (*p)                                                                                 \
                        (void) func(*p);                                                                \
        }
