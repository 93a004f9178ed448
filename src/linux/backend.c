/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dom0's view of each domain's I/O, for the memory levels (thesis Algorithm
 * 1): blkback counts requests and sectors per device in
 * /sys/bus/xen-backend/devices/vbd-D-N/statistics/; netback's vifD.N is a
 * net device with the usual /sys/class/net/.../statistics/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc-util.h"
#include "basic/fd-util.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/sort-util.h"
#include "linux/linux.h"

/* A counter file: one decimal number. -errno when it cannot be read or is
 * malformed: a device may go away between readdir and read. */
static int counter(const closer_root *root, const char *path, uint64_t *ret) {
        char buf[64];
        int n = closer_read_small_at(root->fd, path, buf, sizeof(buf));
        if (n < 0)
                return n;
        if (n == 0)
                return -ENODATA;
        return closer_parse_uint_n(buf, strcspn(buf, "\n"), UINT64_MAX, 0, ret);
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a + b < a ? UINT64_MAX : a + b;
}

int closer_backend_parse_name(const char *name, char *type, size_t type_len, int *ret_domid, int *ret_devid) {
        const char *d1 = strchr(name, '-'), *d2;
        uint64_t domid, devid;
        if (!d1 || (size_t) (d1 - name) >= type_len)
                return -EINVAL;
        if (closer_parse_uint_prefix(d1 + 1, CLOSER_DOMID_MAX, CLOSER_PARSE_NO_LEADING_ZERO, &domid, &d2) < 0 || domid < 1 ||
            *d2 != '-' || closer_parse_uint(d2 + 1, INT32_MAX, 0, &devid) < 0)
                return -EINVAL;
        snprintf(type, type_len, "%.*s", (int) (d1 - name), name);
        *ret_domid = (int) domid;
        *ret_devid = (int) devid;
        return 0;
}

static void merge(closer_backend_io *into, const closer_backend_io *x) {
        into->valid = into->valid && x->valid;
        into->block_ops = add_sat(into->block_ops, x->block_ops);
        into->block_bytes = add_sat(into->block_bytes, x->block_bytes);
        into->net_packets = add_sat(into->net_packets, x->net_packets);
        into->net_bytes = add_sat(into->net_bytes, x->net_bytes);
}

static int cmp_device(const void *a, const void *b) {
        const closer_backend_io *x = a, *y = b;
        if (x->domid != y->domid)
                return x->domid < y->domid ? -1 : 1;
        if (x->kind != y->kind)
                return x->kind < y->kind ? -1 : 1;
        return x->devid < y->devid ? -1 : x->devid > y->devid;
}

/* Merge each run of rows (sorted) of one device, or with by_domain of one
 * domain (devid -1 then), into its first row, in place; the rows left. */
static unsigned merge_runs(closer_backend_io *v, unsigned n, bool by_domain) {
        unsigned k = 0;
        for (unsigned i = 0; i < n; i++) {
                if (k && (by_domain ? v[k - 1].domid == v[i].domid : cmp_device(&v[k - 1], &v[i]) == 0)) {
                        merge(&v[k - 1], &v[i]);
                        continue;
                }
                v[k] = v[i];
                if (by_domain)
                        v[k].devid = -1;
                k++;
        }
        return k;
}

/* The four counters of one device, into v (0 where one is missing): false
 * when one of them could not be read. */
static bool read_counters(const closer_root *root, const char *dir, const char *const f[4], uint64_t v[4]) {
        bool ok = true;
        for (int i = 0; i < 4; i++) {
                char path[512];
                snprintf(path, sizeof(path), "%s/%s", dir, f[i]);
                if (counter(root, path, &v[i]) < 0) {
                        v[i] = 0;
                        ok = false;
                }
        }
        return ok;
}

int closer_backend_read_io(const closer_root *root, closer_backend_io **ret, unsigned *ret_n) {
        _cleanup_free_ closer_backend_io *rows = NULL;
        unsigned n = 0, cap = 0;
        int fd = closer_root_openat(root, "/sys/bus/xen-backend/devices", O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                int e = -errno;
                close(fd);
                return e;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                char type[CLOSER_BACKEND_TYPE_MAX], dir[512];
                int domid, devid;
                if (closer_backend_parse_name(de->d_name, type, sizeof(type), &domid, &devid) < 0)
                        continue;
                bool vbd = strcmp(type, "vbd") == 0, vif = strcmp(type, "vif") == 0;
                if (!vbd && !vif)
                        continue;       /* qdisk, console: counted elsewhere or not at all */
                if (!GREEDY_REALLOC(rows, cap, n + 1))
                        return -ENOMEM;
                closer_backend_io *row = &rows[n++];
                *row = (closer_backend_io) {.domid = domid, .kind = vbd ? CLOSER_BACKEND_VBD : CLOSER_BACKEND_VIF,
                                            .devid = devid};
                uint64_t v[4];
                if (vbd) {
                        static const char *const f[] = {"rd_req", "wr_req", "rd_sect", "wr_sect"};
                        snprintf(dir, sizeof(dir), "sys/bus/xen-backend/devices/%s/statistics", de->d_name);
                        row->valid = read_counters(root, dir, f, v);
                        row->block_ops = add_sat(v[0], v[1]);
                        uint64_t sect = add_sat(v[2], v[3]);
                        row->block_bytes = sect > UINT64_MAX / 512 ? UINT64_MAX : sect * 512;
                } else {
                        static const char *const f[] = {"rx_packets", "tx_packets", "rx_bytes", "tx_bytes"};
                        snprintf(dir, sizeof(dir), "sys/class/net/vif%d.%d/statistics", domid, devid);
                        row->valid = read_counters(root, dir, f, v);
                        row->net_packets = add_sat(v[0], v[1]);
                        row->net_bytes = add_sat(v[2], v[3]);
                }
        }
        closer_qsort_safe(rows, n, sizeof(*rows), cmp_device);
        /* one row per device even for names the kernel does not make
         * ("vbd-3-07" beside "vbd-3-7"): two rows of one source would read
         * as its counter jumping back and forth */
        n = merge_runs(rows, n, false);
        *ret = n ? TAKE_PTR(rows) : NULL;
        *ret_n = n;
        return 0;
}

void closer_backend_io_by_domain(closer_backend_io *v, unsigned *n) {
        *n = merge_runs(v, *n, true);
}
