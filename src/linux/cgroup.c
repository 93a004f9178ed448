/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cgroup v2 subtree closer owns: <mount>/<base>/node<N>/vm<domid>.
 * cgroup v1 has no single hierarchy with cpuset+cpu for threads of kernel and
 * user processes alike: closer requires v2 and says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "linux/linux.h"

#define MOUNTINFO_MAX (16u * 1024u * 1024u)

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(const char *s, size_t len, char *out, size_t out_len) {
        size_t o = 0;
        for (size_t i = 0; i < len && o + 1 < out_len; i++) {
                if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        out[o++] = (char) ((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        i += 3;
                } else {
                        out[o++] = s[i];
                }
        }
        out[o] = '\0';
}

int closer_cgroup_find_mount(const closer_root *root, char *ret, size_t len, closer_error *err) {
        char *text;
        int r = closer_read_file_at(root->fd, "proc/self/mountinfo", MOUNTINFO_MAX, &text, NULL);
        if (r < 0)
                return closer_error_set(err, r, "%s/proc/self/mountinfo: %s", root->path, strerror(-r));

        bool v1 = false, found = false;
        char mnt[4096];
        for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
                char *sep = strstr(line, " - ");
                if (!sep)
                        continue;
                *sep = '\0';
                char *fstype = sep + 3;
                char *mp = line;
                for (int i = 0; i < 4 && mp; i++) {
                        mp = strchr(mp, ' ');
                        if (mp)
                                while (*mp == ' ')
                                        mp++;
                }
                if (!mp || !*mp)
                        continue;
                size_t ml = strcspn(mp, " ");
                size_t fl = strcspn(fstype, " ");
                if (fl == 7 && memcmp(fstype, "cgroup2", 7) == 0) {
                        unescape(mp, ml, mnt, sizeof(mnt));
                        found = true;
                        /* keep the first: later ones are usually bind mounts in containers */
                        break;
                }
                if (fl == 6 && memcmp(fstype, "cgroup", 6) == 0)
                        v1 = true;
        }
        free(text);
        if (!found) {
                if (v1)
                        return closer_error_set(err, -EMEDIUMTYPE,
                                                "%s/proc/self/mountinfo: cgroup v2 is required, but only cgroup v1 "
                                                "is mounted (boot with systemd.unified_cgroup_hierarchy=1 or mount "
                                                "cgroup2)",
                                                root->path);
                return closer_error_set(err, -ENOENT, "%s/proc/self/mountinfo: no cgroup2 file system is mounted",
                                        root->path);
        }
        if (strlen(mnt) >= len)
                return closer_error_set(err, -ENAMETOOLONG, "cgroup2 mount path too long");
        strcpy(ret, mnt);
        return 0;
}

/* mount[/base][/rest] */
static int join(char *buf, size_t len, const char *mount, const char *base, const char *rest) {
        bool has_base = base && *base;
        int n = snprintf(buf, len, "%s%s%s/%s", mount, has_base ? "/" : "", has_base ? base : "", rest);
        return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

static int mkdir_at_root(const closer_root *root, const char *path) {
        if (mkdirat(root->fd, closer_root_rel(path), 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Write to a cgroup.subtree_control only the "+ctl" words it lacks: closerd
 * calls this every tick, and a write is not free (nor always allowed: "+cpu"
 * is refused while realtime threads sit outside the root group). */
static int enable_missing(const closer_root *root, const char *path, const char *wanted) {
        char cur[512], text[256];
        size_t o = 0;
        int n = closer_read_small_at(root->fd, path, cur, sizeof(cur));
        if (n < 0)
                cur[0] = '\0';
        for (const char *p = wanted; *p;) {
                while (*p == ' ')
                        p++;
                if (*p != '+')
                        break;
                const char *e = strchr(p, ' ');
                size_t l = e ? (size_t) (e - p) : strlen(p);
                bool have = false;
                for (const char *c = cur; *c;) {
                        while (*c == ' ' || *c == '\n')
                                c++;
                        size_t cl = strcspn(c, " \n");
                        if (cl == l - 1 && memcmp(c, p + 1, cl) == 0)
                                have = true;
                        c += cl;
                }
                if (!have) {
                        int k = snprintf(text + o, sizeof(text) - o, "%s%.*s", o ? " " : "", (int) l, p);
                        if (k < 0 || (size_t) k >= sizeof(text) - o)
                                return -E2BIG;
                        o += (size_t) k;
                }
                p += l;
        }
        return o == 0 ? 0 : closer_write_file_at(root->fd, path, text);
}

int closer_cgroup_enable(const closer_root *root, const char *mount, const char *base, const char *controllers) {
        char path[4096], text[256];
        size_t o = 0;

        /* "cpuset cpu" → "+cpuset +cpu" */
        for (const char *p = controllers; *p;) {
                while (*p == ' ')
                        p++;
                if (!*p)
                        break;
                const char *e = strchr(p, ' ');
                size_t l = e ? (size_t) (e - p) : strlen(p);
                int n = snprintf(text + o, sizeof(text) - o, "%s+%.*s", o ? " " : "", (int) l, p);
                if (n < 0 || (size_t) n >= sizeof(text) - o)
                        return -E2BIG;
                o += (size_t) n;
                p += l;
        }
        if (o == 0)
                return -EINVAL;

        /* enable at the mount root, then at each level of base (creating it) */
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", mount);
        int r = enable_missing(root, path, text);
        if (r < 0)
                return r;
        char level[4096];
        snprintf(level, sizeof(level), "%s", mount);
        for (const char *p = base; p && *p;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *e = strchr(p, '/');
                size_t l = e ? (size_t) (e - p) : strlen(p);
                size_t ll = strlen(level);
                if (ll + 1 + l + 1 > sizeof(level))
                        return -ENAMETOOLONG;
                snprintf(level + ll, sizeof(level) - ll, "/%.*s", (int) l, p);
                r = mkdir_at_root(root, level);
                if (r < 0)
                        return r;
                snprintf(path, sizeof(path), "%s/cgroup.subtree_control", level);
                r = enable_missing(root, path, text);
                if (r < 0)
                        return r;
                p += l;
        }
        return 0;
}

int closer_cgroup_make_leaf(const closer_root *root, const char *mount, const char *base, int node, int domid,
                            const closer_cpuset *cpus, const closer_cpuset *mems) {
        char rel[64], dir[4096], path[4200], list[CLOSER_CPULIST_MAX];
        int r;

        if (node < 0 || closer_cpuset_is_empty(cpus))
                return -EINVAL;         /* an empty cpuset.cpus means "inherit all": never write one */
        if (domid >= 0)
                snprintf(rel, sizeof(rel), "node%d/vm%d", node, domid);
        else
                snprintf(rel, sizeof(rel), "node%d", node);

        /* node level first: its cpus bound the leaf's */
        char nodedir[4096];
        snprintf(path, sizeof(path), "node%d", node);
        if (join(nodedir, sizeof(nodedir), mount, base, path) < 0 || join(dir, sizeof(dir), mount, base, rel) < 0)
                return -ENAMETOOLONG;
        r = mkdir_at_root(root, nodedir);
        if (r < 0)
                return r;
        if (domid >= 0) {
                r = mkdir_at_root(root, dir);
                if (r < 0)
                        return r;
        }
        r = closer_cpuset_format(cpus, list, sizeof(list));
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/cpuset.cpus", dir);
        r = closer_write_file_at(root->fd, path, list);
        if (r < 0)
                return r;
        if (mems && !closer_cpuset_is_empty(mems)) {
                r = closer_cpuset_format(mems, list, sizeof(list));
                if (r < 0)
                        return r;
                snprintf(path, sizeof(path), "%s/cpuset.mems", dir);
                r = closer_write_file_at(root->fd, path, list);
                if (r < 0)
                        return r;
        }
        return 0;
}

int closer_cgroup_move(const closer_root *root, const char *mount, const char *base, int node, int domid, int id,
                       bool thread) {
        char rel[96], path[4200], text[24];
        if (node < 0 || id <= 0)
                return -EINVAL;
        if (domid >= 0)
                snprintf(rel, sizeof(rel), "node%d/vm%d/%s", node, domid, thread ? "cgroup.threads" : "cgroup.procs");
        else
                snprintf(rel, sizeof(rel), "node%d/%s", node, thread ? "cgroup.threads" : "cgroup.procs");
        if (join(path, sizeof(path), mount, base, rel) < 0)
                return -ENAMETOOLONG;
        snprintf(text, sizeof(text), "%d", id);
        return closer_write_file_at(root->fd, path, text);
}

int closer_cgroup_of_pid(const closer_root *root, int pid, char *ret, size_t len) {
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "proc/%d/cgroup", pid);
        int n = closer_read_small_at(root->fd, path, buf, sizeof(buf));
        if (n < 0)
                return n;
        for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (strncmp(line, "0::", 3) == 0) {
                        if (strlen(line + 3) >= len)
                                return -ENAMETOOLONG;
                        strcpy(ret, line + 3);
                        return 0;
                }
        }
        return -ENOENT;
}
