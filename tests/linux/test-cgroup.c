/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroup v2: finding the mount (and refusing v1), creating node<N>/vm<D>
 * leaves and moving processes, all through a root that is a temporary tree. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "linux/linux.h"

static closer_root *fixture(const char *name) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", getenv("CLOSER_TEST_DATA"), name);
        closer_root *r;
        assert_int_equal(closer_root_open(path, &r), 0);
        return r;
}

static void test_find_mount(void **state) {
        (void) state;
        char mnt[4096];
        closer_error err = {{0}};
        closer_root *r = fixture("linux-xen-dom0");
        assert_int_equal(closer_cgroup_find_mount(r, mnt, sizeof(mnt), &err), 0);
        assert_string_equal(mnt, "/sys/fs/cgroup");
        closer_root_free(r);

        r = fixture("linux-cgroup1");
        strcpy(mnt, "untouched");
        assert_int_equal(closer_cgroup_find_mount(r, mnt, sizeof(mnt), &err), -EMEDIUMTYPE);
        assert_non_null(strstr(err.msg, "cgroup v2 is required"));
        assert_non_null(strstr(err.msg, "proc/self/mountinfo"));
        assert_string_equal(mnt, "untouched");
        closer_root_free(r);
}

static char tmpdir[64];

static void put(const char *rel, const char *text) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
        /* mkdir -p of the parent */
        for (char *p = path + strlen(tmpdir) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                mkdir(path, 0755);
                *p = '/';
        }
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static char *get(const char *rel) {
        static char buf[4096];
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static void test_leaves(void **state) {
        (void) state;
        strcpy(tmpdir, "/tmp/closer-cgroup-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        put("proc/self/mountinfo", "28 1 254:0 / / rw - ext4 /dev/vda rw\n"
                                   "35 23 0:30 / /sys/fs/cgroup\\040v2 rw,relatime - cgroup2 none rw\n");
        closer_root *r;
        assert_int_equal(closer_root_open(tmpdir, &r), 0);
        char mnt[4096];
        assert_int_equal(closer_cgroup_find_mount(r, mnt, sizeof(mnt), NULL), 0);
        assert_string_equal(mnt, "/sys/fs/cgroup v2");           /* \040 unescaped */

        /* what the kernel shows after mkdir: control files in each group */
        put("sys/fs/cgroup v2/cgroup.subtree_control", "");
        put("sys/fs/cgroup v2/closer/cgroup.subtree_control", "");
        put("sys/fs/cgroup v2/closer/node1/cpuset.cpus", "");
        put("sys/fs/cgroup v2/closer/node1/vm3/cpuset.cpus", "");
        put("sys/fs/cgroup v2/closer/node1/vm3/cpuset.mems", "");
        put("sys/fs/cgroup v2/closer/node1/vm3/cgroup.procs", "");

        assert_int_equal(closer_cgroup_enable(r, mnt, "closer", "cpuset cpu"), 0);
        assert_string_equal(get("sys/fs/cgroup v2/cgroup.subtree_control"), "+cpuset +cpu");
        assert_string_equal(get("sys/fs/cgroup v2/closer/cgroup.subtree_control"), "+cpuset +cpu");
        /* the kernel lists enabled controllers without '+': write only what lacks */
        put("sys/fs/cgroup v2/cgroup.subtree_control", "cpuset cpu io memory pids\n");
        put("sys/fs/cgroup v2/closer/cgroup.subtree_control", "cpu\n");
        assert_int_equal(closer_cgroup_enable(r, mnt, "closer", "cpuset cpu"), 0);
        assert_string_equal(get("sys/fs/cgroup v2/cgroup.subtree_control"), "cpuset cpu io memory pids\n");
        assert_string_equal(get("sys/fs/cgroup v2/closer/cgroup.subtree_control"), "+cpuset");

        closer_cpuset cpus, mems, empty;
        closer_cpuset_parse("14-15", &cpus);
        closer_cpuset_parse("1", &mems);
        closer_cpuset_zero(&empty);
        assert_int_equal(closer_cgroup_make_leaf(r, mnt, "closer", 1, -1, &cpus, NULL), 0);
        assert_string_equal(get("sys/fs/cgroup v2/closer/node1/cpuset.cpus"), "14-15");
        assert_int_equal(closer_cgroup_make_leaf(r, mnt, "closer", 1, 3, &cpus, &mems), 0);
        assert_string_equal(get("sys/fs/cgroup v2/closer/node1/vm3/cpuset.cpus"), "14-15");
        assert_string_equal(get("sys/fs/cgroup v2/closer/node1/vm3/cpuset.mems"), "1");
        /* never an empty cpuset.cpus (it would mean "all CPUs") */
        assert_int_equal(closer_cgroup_make_leaf(r, mnt, "closer", 1, 3, &empty, &mems), -EINVAL);
        assert_string_equal(get("sys/fs/cgroup v2/closer/node1/vm3/cpuset.cpus"), "14-15");

        assert_int_equal(closer_cgroup_move(r, mnt, "closer", 1, 3, 387, false), 0);
        assert_string_equal(get("sys/fs/cgroup v2/closer/node1/vm3/cgroup.procs"), "387");
        assert_int_equal(closer_cgroup_move(r, mnt, "closer", 1, 4, 387, false), -ENOENT); /* no such leaf */
        assert_int_equal(closer_cgroup_move(r, mnt, "closer", 1, 3, 0, false), -EINVAL);

        put("proc/387/cgroup", "0::/system.slice/xen-qemu.service\n");
        char cg[256];
        assert_int_equal(closer_cgroup_of_pid(r, 387, cg, sizeof(cg)), 0);
        assert_string_equal(cg, "/system.slice/xen-qemu.service");
        put("proc/388/cgroup", "4:cpuset:/\n");
        assert_int_equal(closer_cgroup_of_pid(r, 388, cg, sizeof(cg)), -ENOENT);
        closer_root_free(r);

        assert_int_equal(nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Through the op table: leaf, move, and the host put back as found the
 * way closerd does it: where each process was is read (cgroup_of) before
 * it is moved, and written back (cgroup_move_to); the adapter itself
 * remembers nothing. */
static void test_move_and_put_back(void **state) {
        (void) state;
        strcpy(tmpdir, "/tmp/closer-cgroup-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        put("proc/self/mountinfo", "35 23 0:30 / /sys/fs/cgroup rw,relatime - cgroup2 none rw\n");
        put("proc/387/stat", "387 (xen-qemu-system) S 1 387 387 0 -1 4194560 0 0 0 0 30 60 0 0 20 0 28 0 5200 0\n");
        put("proc/387/cgroup", "0::/system.slice/xen-qemu.service\n");
        put("proc/368/stat", "368 (1.xvda-0) S 2 0 0 0 -1 2129984 0 0 0 0 0 800 0 0 20 0 1 0 3400 0\n");
        put("proc/368/cgroup", "0::/\n");
        put("sys/fs/cgroup/cgroup.subtree_control", "");
        put("sys/fs/cgroup/cgroup.procs", "");
        put("sys/fs/cgroup/system.slice/xen-qemu.service/cgroup.procs", "");
        put("sys/fs/cgroup/closer/cgroup.subtree_control", "");
        put("sys/fs/cgroup/closer/node1/cgroup.subtree_control", "");
        put("sys/fs/cgroup/closer/node1/vm3/cpuset.cpus", "");
        put("sys/fs/cgroup/closer/node1/vm3/cpuset.mems", "");
        put("sys/fs/cgroup/closer/node1/vm3/cgroup.procs", "");

        closer_hostos *h;
        assert_int_equal(closer_linux_hostos_new(tmpdir, "closer", &h, NULL), 0);
        closer_cpuset cpus, mems;
        closer_cpuset_parse("2-3", &cpus);
        closer_cpuset_parse("1", &mems);
        assert_int_equal(h->ops->cgroup_leaf(h->data, 1, 3, &cpus, &mems), 0);
        assert_string_equal(get("sys/fs/cgroup/closer/node1/cgroup.subtree_control"), "+cpuset");
        assert_string_equal(get("sys/fs/cgroup/closer/node1/vm3/cpuset.cpus"), "2-3");
        char was387[256], was368[256], gone[256];
        assert_int_equal(h->ops->cgroup_of(h->data, 387, was387, sizeof(was387)), 0);
        assert_string_equal(was387, "/system.slice/xen-qemu.service");
        assert_int_equal(h->ops->cgroup_of(h->data, 368, was368, sizeof(was368)), 0);
        assert_string_equal(was368, "/");
        assert_int_equal(h->ops->cgroup_of(h->data, 4242, gone, sizeof(gone)), -ESRCH);
        assert_int_equal(h->ops->cgroup_move(h->data, 1, 3, 387), 0);
        assert_string_equal(get("sys/fs/cgroup/closer/node1/vm3/cgroup.procs"), "387");
        assert_int_equal(h->ops->cgroup_move(h->data, 1, 3, 368), 0);
        assert_string_equal(get("sys/fs/cgroup/closer/node1/vm3/cgroup.procs"), "368");
        assert_int_equal(h->ops->cgroup_move(h->data, 1, 3, 4242), -ESRCH);      /* no such process */
        put("sys/fs/cgroup/closer/node1/vm3/cgroup.procs", "");

        assert_int_equal(h->ops->cgroup_move_to(h->data, 387, was387), 0);
        assert_int_equal(h->ops->cgroup_move_to(h->data, 368, was368), 0);
        assert_string_equal(get("sys/fs/cgroup/system.slice/xen-qemu.service/cgroup.procs"), "387");
        assert_string_equal(get("sys/fs/cgroup/cgroup.procs"), "368");
        /* and nothing more is written at free: no journal to replay */
        closer_hostos_free(h);
        assert_string_equal(get("sys/fs/cgroup/closer/node1/vm3/cgroup.procs"), "");

        /* cgroup v1 only: the op says so */
        put("proc/self/mountinfo", "31 30 0:26 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n");
        assert_int_equal(closer_linux_hostos_new(tmpdir, "closer", &h, NULL), 0);
        assert_int_equal(h->ops->cgroup_leaf(h->data, 1, 3, &cpus, &mems), -EMEDIUMTYPE);
        closer_hostos_free(h);
        assert_int_equal(nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* The host-OS ops closerd uses to put processes back and to remove its
 * containers, also those a crashed run made. On a plain directory tree rmdir
 * needs empty directories, so the leaves here have no control files. */
static void test_clear_and_move_to(void **state) {
        (void) state;
        char root[64], path[4300];
        strcpy(root, "/tmp/closer-cgclear-XXXXXX");
        assert_non_null(mkdtemp(root));
        strcpy(tmpdir, root);
        put("proc/self/mountinfo", "35 23 0:30 / /sys/fs/cgroup rw,relatime - cgroup2 none rw\n");
        const char *dirs[] = {"sys/fs/cgroup/closer/node0/vm3", "sys/fs/cgroup/closer/node0/vm4",
                              "sys/fs/cgroup/closer/node1", "sys/fs/cgroup/closer/keep-me",
                              "sys/fs/cgroup/system.slice"};
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                char *p2 = path + snprintf(path, sizeof(path), "%s/", root);
                snprintf(p2, sizeof(path) - (size_t) (p2 - path), "%s", dirs[i]);
                for (char *c = p2; (c = strchr(c, '/')); c++) {
                        *c = '\0';
                        mkdir(path, 0755);
                        *c = '/';
                }
                assert_int_equal(mkdir(path, 0755), 0);
        }
        closer_hostos *h;
        closer_error err;
        assert_int_equal(closer_linux_hostos_new(root, "closer", &h, &err), 0);
        assert_int_equal(h->ops->cgroup_clear(h->data), 0);
        snprintf(path, sizeof(path), "%s/sys/fs/cgroup/closer/node0", root);
        assert_int_equal(access(path, F_OK), -1);
        snprintf(path, sizeof(path), "%s/sys/fs/cgroup/closer/node1", root);
        assert_int_equal(access(path, F_OK), -1);
        snprintf(path, sizeof(path), "%s/sys/fs/cgroup/closer/keep-me", root);
        assert_int_equal(access(path, F_OK), 0);        /* not ours */

        put("sys/fs/cgroup/system.slice/cgroup.procs", "");
        assert_int_equal(h->ops->cgroup_move_to(h->data, 387, "/system.slice"), 0);
        assert_string_equal(get("sys/fs/cgroup/system.slice/cgroup.procs"), "387");
        assert_int_equal(h->ops->cgroup_move_to(h->data, 387, "/system.slice/../../etc"), -EINVAL);
        assert_int_equal(h->ops->cgroup_move_to(h->data, 387, "relative"), -EINVAL);
        closer_hostos_free(h);

        const char *rm[] = {"sys/fs/cgroup/system.slice/cgroup.procs", "sys/fs/cgroup/system.slice",
                            "sys/fs/cgroup/closer/keep-me", "sys/fs/cgroup/closer", "sys/fs/cgroup", "sys/fs", "sys",
                            "proc/self/mountinfo", "proc/self", "proc"};
        for (size_t i = 0; i < sizeof(rm) / sizeof(rm[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", root, rm[i]);
                remove(path);
        }
        rmdir(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find_mount),
                cmocka_unit_test(test_leaves),
                cmocka_unit_test(test_move_and_put_back),
                cmocka_unit_test(test_clear_and_move_to),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
