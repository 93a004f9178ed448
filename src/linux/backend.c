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

#include "basic/parse-util.h"
#include "linux/linux.h"

/* A counter file: one decimal number. Missing or malformed counts as 0: a
 * device may go away between readdir and read. */
static uint64_t counter(const closer_root *root, const char *path) {
        char buf[64];
        int n = closer_read_small_at(root->fd, path, buf, sizeof(buf));
        if (n <= 0)
                return 0;
        uint64_t v;
        if (closer_parse_uint_n(buf, strcspn(buf, "\n"), UINT64_MAX, 0, &v) < 0)
                return 0;
        return v;
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

static closer_backend_io *row_for(closer_backend_io **rows, unsigned *n, int domid) {
        for (unsigned i = 0; i < *n; i++)
                if ((*rows)[i].domid == domid)
                        return &(*rows)[i];
        closer_backend_io *nr = realloc(*rows, (*n + 1) * sizeof(*nr));
        if (!nr)
                return NULL;
        *rows = nr;
        nr[*n] = (closer_backend_io) {.domid = domid};
        return &nr[(*n)++];
}

static int cmp_domid(const void *a, const void *b) {
        const closer_backend_io *x = a, *y = b;
        return x->domid < y->domid ? -1 : x->domid > y->domid;
}

int closer_backend_read_io(const closer_root *root, closer_backend_io **ret, unsigned *ret_n) {
        closer_backend_io *rows = NULL;
        unsigned n = 0;
        int fd = closer_root_openat(root, "/sys/bus/xen-backend/devices", O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        DIR *d = fdopendir(fd);
        if (!d) {
                int e = -errno;
                close(fd);
                return e;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                char type[CLOSER_BACKEND_TYPE_MAX], path[512];
                int domid, devid;
                if (closer_backend_parse_name(de->d_name, type, sizeof(type), &domid, &devid) < 0)
                        continue;
                bool vbd = strcmp(type, "vbd") == 0, vif = strcmp(type, "vif") == 0;
                if (!vbd && !vif)
                        continue;       /* qdisk, console: counted elsewhere or not at all */
                closer_backend_io *row = row_for(&rows, &n, domid);
                if (!row) {
                        closedir(d);
                        free(rows);
                        return -ENOMEM;
                }
                if (vbd) {
                        const char *f[] = {"rd_req", "wr_req", "rd_sect", "wr_sect"};
                        uint64_t v[4];
                        for (int i = 0; i < 4; i++) {
                                snprintf(path, sizeof(path), "sys/bus/xen-backend/devices/%s/statistics/%s", de->d_name,
                                         f[i]);
                                v[i] = counter(root, path);
                        }
                        row->block_ops = add_sat(row->block_ops, add_sat(v[0], v[1]));
                        uint64_t sect = add_sat(v[2], v[3]);
                        row->block_bytes = add_sat(row->block_bytes, sect > UINT64_MAX / 512 ? UINT64_MAX : sect * 512);
                } else {
                        const char *f[] = {"rx_packets", "tx_packets", "rx_bytes", "tx_bytes"};
                        uint64_t v[4];
                        for (int i = 0; i < 4; i++) {
                                snprintf(path, sizeof(path), "sys/class/net/vif%d.%d/statistics/%s", domid, devid, f[i]);
                                v[i] = counter(root, path);
                        }
                        row->net_packets = add_sat(row->net_packets, add_sat(v[0], v[1]));
                        row->net_bytes = add_sat(row->net_bytes, add_sat(v[2], v[3]));
                }
        }
        closedir(d);
        qsort(rows, n, sizeof(*rows), cmp_domid);
        *ret = rows;
        *ret_n = n;
        return 0;
}
