/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "basic/alloc-util.h"
#include "basic/fd-util.h"
#include "basic/macro.h"
#include "closer/snapshot.h"
#include "closer/units.h"
#include "daemon/state.h"

closer_state *closer_state_new(void) {
        return calloc(1, sizeof(closer_state));
}

closer_state *closer_state_free(closer_state *st) {
        if (!st)
                return NULL;
        free(st->threads);
        free(st->irqs);
        free(st->mem);
        free(st->caps);
        free(st->cgroups);
        free(st->units);
        free(st);
        return NULL;
}

/* Index of the first thread with tid >= key. */
static unsigned thread_pos(const closer_state *st, int tid) {
        unsigned lo = 0, hi = st->n_threads;
        while (lo < hi) {
                unsigned mid = (lo + hi) / 2;
                if (st->threads[mid].tid < tid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

const closer_saved_thread *closer_state_find_thread(const closer_state *st, int tid) {
        unsigned i = thread_pos(st, tid);
        return i < st->n_threads && st->threads[i].tid == tid ? &st->threads[i] : NULL;
}

int closer_state_add_thread(closer_state *st, int tid, uint64_t start_time, const closer_cpuset *cpus) {
        unsigned i = thread_pos(st, tid);
        if (i < st->n_threads && st->threads[i].tid == tid) {
                if (st->threads[i].start_time == start_time)
                        return 0;
                /* the tid was reused by a new thread: what we saved is stale */
                st->threads[i] = (closer_saved_thread) {.tid = tid, .start_time = start_time, .cpus = *cpus};
                st->dirty = true;
                return 1;
        }
        if (!GREEDY_REALLOC_MIN(st->threads, st->cap_threads, st->n_threads + 1, 64))
                return -ENOMEM;
        memmove(&st->threads[i + 1], &st->threads[i], (st->n_threads - i) * sizeof(*st->threads));
        st->threads[i] = (closer_saved_thread) {.tid = tid, .start_time = start_time, .cpus = *cpus};
        st->n_threads++;
        st->dirty = true;
        return 1;
}

void closer_state_drop_thread(closer_state *st, int tid) {
        unsigned i = thread_pos(st, tid);
        if (i >= st->n_threads || st->threads[i].tid != tid)
                return;
        memmove(&st->threads[i], &st->threads[i + 1], (st->n_threads - i - 1) * sizeof(*st->threads));
        st->n_threads--;
        st->dirty = true;
}

const closer_saved_irq *closer_state_find_irq(const closer_state *st, unsigned irq) {
        for (unsigned i = 0; i < st->n_irqs; i++)
                if (st->irqs[i].irq == irq)
                        return &st->irqs[i];
        return NULL;
}

int closer_state_add_irq(closer_state *st, unsigned irq, const closer_cpuset *cpus) {
        if (closer_state_find_irq(st, irq))
                return 0;
        if (!GREEDY_REALLOC_MIN(st->irqs, st->cap_irqs, st->n_irqs + 1, 64))
                return -ENOMEM;
        st->irqs[st->n_irqs++] = (closer_saved_irq) {.irq = irq, .cpus = *cpus};
        st->dirty = true;
        return 1;
}

/* mem is kept sorted by domid: first index with domid >= key */
static unsigned mem_pos(const closer_state *st, int domid) {
        unsigned lo = 0, hi = st->n_mem;
        while (lo < hi) {
                unsigned mid = (lo + hi) / 2;
                if (st->mem[mid].domid < domid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

const closer_saved_mem *closer_state_find_mem(const closer_state *st, int domid) {
        unsigned i = mem_pos(st, domid);
        return i < st->n_mem && st->mem[i].domid == domid ? &st->mem[i] : NULL;
}

int closer_state_add_mem(closer_state *st, int domid, const char *uuid, uint64_t target_kib) {
        unsigned i = mem_pos(st, domid);
        if (i < st->n_mem && st->mem[i].domid == domid)
                return 0;
        if (!GREEDY_REALLOC_MIN(st->mem, st->cap_mem, st->n_mem + 1, 64))
                return -ENOMEM;
        memmove(&st->mem[i + 1], &st->mem[i], (st->n_mem - i) * sizeof(*st->mem));
        closer_saved_mem *m = &st->mem[i];
        *m = (closer_saved_mem) {.domid = domid, .target_kib = target_kib};
        snprintf(m->uuid, sizeof(m->uuid), "%s", uuid ? uuid : "");
        st->n_mem++;
        st->dirty = true;
        return 1;
}

void closer_state_drop_mem(closer_state *st, int domid) {
        unsigned i = mem_pos(st, domid);
        if (i >= st->n_mem || st->mem[i].domid != domid)
                return;
        memmove(&st->mem[i], &st->mem[i + 1], (st->n_mem - i - 1) * sizeof(*st->mem));
        st->n_mem--;
        st->dirty = true;
}

/* Caps are few (only with charge = cap) and change rarely: a plain list. */
const closer_saved_cap *closer_state_find_cap(const closer_state *st, int domid) {
        for (unsigned i = 0; i < st->n_caps; i++)
                if (st->caps[i].domid == domid)
                        return &st->caps[i];
        return NULL;
}

int closer_state_add_cap(closer_state *st, int domid, const char *uuid, unsigned cap_pct) {
        if (closer_state_find_cap(st, domid))
                return 0;
        if (!GREEDY_REALLOC_MIN(st->caps, st->cap_caps, st->n_caps + 1, 64))
                return -ENOMEM;
        closer_saved_cap *c = &st->caps[st->n_caps++];
        *c = (closer_saved_cap) {.domid = domid, .cap_pct = cap_pct};
        snprintf(c->uuid, sizeof(c->uuid), "%s", uuid ? uuid : "");
        st->dirty = true;
        return 1;
}

void closer_state_drop_cap(closer_state *st, int domid) {
        for (unsigned i = 0; i < st->n_caps; i++)
                if (st->caps[i].domid == domid) {
                        st->caps[i] = st->caps[--st->n_caps];
                        st->dirty = true;
                        return;
                }
}

/* Processes moved between cgroups are few (device models, helpers). */
const closer_saved_cgroup *closer_state_find_cgroup(const closer_state *st, int pid) {
        for (unsigned i = 0; i < st->n_cgroups; i++)
                if (st->cgroups[i].pid == pid)
                        return &st->cgroups[i];
        return NULL;
}

int closer_state_add_cgroup(closer_state *st, int pid, uint64_t start_time, const char *path) {
        if (strlen(path) >= sizeof(st->cgroups[0].path))
                return -ENAMETOOLONG;
        const closer_saved_cgroup *old = closer_state_find_cgroup(st, pid);
        if (old && old->start_time == start_time)
                return 0;
        if (old)
                closer_state_drop_cgroup(st, pid);      /* pid reused by another process */
        if (!GREEDY_REALLOC_MIN(st->cgroups, st->cap_cgroups, st->n_cgroups + 1, 64))
                return -ENOMEM;
        closer_saved_cgroup *c = &st->cgroups[st->n_cgroups++];
        *c = (closer_saved_cgroup) {.pid = pid, .start_time = start_time};
        snprintf(c->path, sizeof(c->path), "%s", path);
        st->dirty = true;
        return 1;
}

void closer_state_drop_cgroup(closer_state *st, int pid) {
        for (unsigned i = 0; i < st->n_cgroups; i++)
                if (st->cgroups[i].pid == pid) {
                        st->cgroups[i] = st->cgroups[--st->n_cgroups];
                        st->dirty = true;
                        return;
                }
}

/* The units closerd sets AllowedCPUs= on: a handful. */
const closer_saved_unit *closer_state_find_unit(const closer_state *st, const char *unit) {
        for (unsigned i = 0; i < st->n_units; i++)
                if (strcmp(st->units[i].unit, unit) == 0)
                        return &st->units[i];
        return NULL;
}

int closer_state_add_unit(closer_state *st, const char *unit, const closer_cpuset *cpus) {
        if (!closer_unit_name_valid(unit))
                return -EINVAL;
        if (closer_state_find_unit(st, unit))
                return 0;
        if (!GREEDY_REALLOC_MIN(st->units, st->cap_units, st->n_units + 1, 4))
                return -ENOMEM;
        closer_saved_unit *u = &st->units[st->n_units++];
        snprintf(u->unit, sizeof(u->unit), "%s", unit);
        u->cpus = *cpus;
        st->dirty = true;
        return 1;
}

void closer_state_drop_unit(closer_state *st, const char *unit) {
        for (unsigned i = 0; i < st->n_units; i++)
                if (strcmp(st->units[i].unit, unit) == 0) {
                        st->units[i] = st->units[--st->n_units];
                        st->dirty = true;
                        return;
                }
}

static json_t *cpus_json(const closer_cpuset *s) {
        char buf[CLOSER_CPULIST_MAX];
        if (closer_cpuset_format(s, buf, sizeof(buf)) < 0)
                buf[0] = '\0';
        return json_string(buf);
}

int closer_state_save(closer_state *st, const char *path) {
        json_t *root = json_object(), *arr;
        int r;

        if (!root)
                return -ENOMEM;
        json_object_set_new(root, "format", json_string("closer-state/1"));
        if (st->have_dom0_target)
                json_object_set_new(root, "dom0_target_kib", json_integer((json_int_t) st->dom0_target_kib));
        arr = json_array();
        for (unsigned i = 0; i < st->n_threads; i++)
                json_array_append_new(arr, json_pack("{s:i, s:I, s:o}", "tid", st->threads[i].tid, "start_time",
                                                     (json_int_t) st->threads[i].start_time, "cpus",
                                                     cpus_json(&st->threads[i].cpus)));
        json_object_set_new(root, "threads", arr);
        arr = json_array();
        for (unsigned i = 0; i < st->n_irqs; i++)
                json_array_append_new(arr, json_pack("{s:i, s:o}", "irq", (int) st->irqs[i].irq, "cpus",
                                                     cpus_json(&st->irqs[i].cpus)));
        json_object_set_new(root, "irqs", arr);
        arr = json_array();
        for (unsigned i = 0; i < st->n_mem; i++)
                json_array_append_new(arr, json_pack("{s:i, s:s, s:I}", "domid", st->mem[i].domid, "uuid",
                                                     st->mem[i].uuid, "target_kib",
                                                     (json_int_t) st->mem[i].target_kib));
        json_object_set_new(root, "mem", arr);
        arr = json_array();
        for (unsigned i = 0; i < st->n_caps; i++)
                json_array_append_new(arr, json_pack("{s:i, s:s, s:i}", "domid", st->caps[i].domid, "uuid",
                                                     st->caps[i].uuid, "cap_pct", (int) st->caps[i].cap_pct));
        json_object_set_new(root, "caps", arr);
        arr = json_array();
        for (unsigned i = 0; i < st->n_cgroups; i++)
                json_array_append_new(arr, json_pack("{s:i, s:I, s:s}", "pid", st->cgroups[i].pid, "start_time",
                                                     (json_int_t) st->cgroups[i].start_time, "path",
                                                     st->cgroups[i].path));
        json_object_set_new(root, "cgroups", arr);
        if (st->n_units) {
                arr = json_array();
                for (unsigned i = 0; i < st->n_units; i++)
                        json_array_append_new(arr, json_pack("{s:s, s:o}", "unit", st->units[i].unit, "allowed_cpus",
                                                             cpus_json(&st->units[i].cpus)));
                json_object_set_new(root, "units", arr);
        }

        _cleanup_free_ char *text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        if (!text)
                return -ENOMEM;

        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        size_t len = strlen(text), off = 0;
        while (off < len) {
                ssize_t n = write(fd, text + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        unlink(tmp);
                        return r;
                }
                off += (size_t) n;
        }
        /* close's own error counts too (NFS reports a failed write there) */
        if (fsync(fd) < 0 || close(TAKE_FD(fd)) < 0) {
                r = -errno;
                unlink(tmp);
                return r;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                unlink(tmp);
                return r;
        }
        /* make the rename itself durable */
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", path);
        _cleanup_close_ int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        st->dirty = false;
        return 0;
}

static int nomem(closer_error *err, const char *path) {
        return closer_error_set(err, -ENOMEM, "%s: out of memory", path);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(closer_state *, closer_state_free);

static int bad(closer_error *err, const char *path, const char *where) {
        return closer_error_set(err, -EINVAL, "%s: %s: not a valid closer-state/1 entry", path, where);
}

int closer_state_load(const char *path, closer_state **ret, closer_error *err) {
        json_error_t jerr;
        _cleanup_(closer_state_freep) closer_state *st = closer_state_new();
        size_t i;
        json_t *v;

        if (!st)
                return -ENOMEM;
        if (access(path, F_OK) < 0 && errno == ENOENT) {
                *ret = TAKE_PTR(st);
                return 0;
        }
        json_auto_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return closer_error_set(err, -EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        const char *fmt = json_string_value(json_object_get(root, "format"));
        if (!fmt || strcmp(fmt, "closer-state/1") != 0)
                return closer_error_set(err, -EINVAL, "%s: $.format: expected \"closer-state/1\"", path);
        json_t *d0 = json_object_get(root, "dom0_target_kib");
        if (d0) {
                if (!json_is_integer(d0) || json_integer_value(d0) < 0)
                        return bad(err, path, "$.dom0_target_kib");
                st->have_dom0_target = true;
                st->dom0_target_kib = (uint64_t) json_integer_value(d0);
        }
        json_array_foreach(json_object_get(root, "threads"), i, v) {
                json_int_t tid, start;
                const char *cpus;
                closer_cpuset set;
                if (json_unpack(v, "{s:I, s:I, s:s}", "tid", &tid, "start_time", &start, "cpus", &cpus) < 0 ||
                    tid <= 0 || tid > INT32_MAX || start < 0 || closer_cpuset_parse(cpus, &set) < 0 ||
                    closer_cpuset_is_empty(&set))
                        return bad(err, path, "$.threads[]");
                if (closer_state_add_thread(st, (int) tid, (uint64_t) start, &set) < 0)
                        return nomem(err, path);
        }
        json_array_foreach(json_object_get(root, "irqs"), i, v) {
                json_int_t irq;
                const char *cpus;
                closer_cpuset set;
                if (json_unpack(v, "{s:I, s:s}", "irq", &irq, "cpus", &cpus) < 0 || irq < 0 || irq > INT32_MAX ||
                    closer_cpuset_parse(cpus, &set) < 0 || closer_cpuset_is_empty(&set))
                        return bad(err, path, "$.irqs[]");
                if (closer_state_add_irq(st, (unsigned) irq, &set) < 0)
                        return nomem(err, path);
        }
        json_array_foreach(json_object_get(root, "mem"), i, v) {
                json_int_t domid, target;
                const char *uuid;
                if (json_unpack(v, "{s:I, s:s, s:I}", "domid", &domid, "uuid", &uuid, "target_kib", &target) < 0 ||
                    domid < 0 || domid > CLOSER_DOMID_MAX || target < 0)
                        return bad(err, path, "$.mem[]");
                if (closer_state_add_mem(st, (int) domid, uuid, (uint64_t) target) < 0)
                        return nomem(err, path);
        }
        json_array_foreach(json_object_get(root, "caps"), i, v) {
                json_int_t domid, cap;
                const char *uuid;
                if (json_unpack(v, "{s:I, s:s, s:I}", "domid", &domid, "uuid", &uuid, "cap_pct", &cap) < 0 ||
                    domid <= 0 || domid > CLOSER_DOMID_MAX || cap < 0 || cap > 65535)
                        return bad(err, path, "$.caps[]");
                if (closer_state_add_cap(st, (int) domid, uuid, (unsigned) cap) < 0)
                        return nomem(err, path);
        }
        json_array_foreach(json_object_get(root, "cgroups"), i, v) {
                json_int_t pid, start;
                const char *cpath;
                if (json_unpack(v, "{s:I, s:I, s:s}", "pid", &pid, "start_time", &start, "path", &cpath) < 0 ||
                    pid <= 0 || pid > INT32_MAX || start < 0 || cpath[0] != '/' || strstr(cpath, ".."))
                        return bad(err, path, "$.cgroups[]");
                if (closer_state_add_cgroup(st, (int) pid, (uint64_t) start, cpath) < 0)
                        return bad(err, path, "$.cgroups[]");
        }
        /* optional (closerd under systemd): older files have none */
        json_t *units = json_object_get(root, "units");
        if (units && !json_is_array(units))
                return bad(err, path, "$.units");
        json_array_foreach(units, i, v) {
                const char *unit, *cpus;
                closer_cpuset set;
                if (json_unpack(v, "{s:s, s:s}", "unit", &unit, "allowed_cpus", &cpus) < 0 ||
                    !closer_unit_name_valid(unit) || closer_cpuset_parse(cpus, &set) < 0)
                        return bad(err, path, "$.units[]");
                if (closer_state_add_unit(st, unit, &set) < 0)
                        return nomem(err, path);
        }
        st->dirty = false;
        *ret = TAKE_PTR(st);
        return 0;
}
