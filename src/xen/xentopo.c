/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Xen's topology (xc_cputopoinfo, xc_numainfo) and per-node memory as closer sees them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xen/xen.h"

#define SLIT_MAX 255u

int closer_xen_topology_build(const uint32_t *cpu_node, unsigned n_cpus,
                              const uint64_t *memsize, const uint64_t *memfree,
                              const uint32_t *dist, unsigned n_nodes,
                              closer_topology *ret, closer_error *err) {
        if (n_cpus > CLOSER_CPUSET_MAX)
                return closer_error_set(err, -E2BIG, "Xen reports %u pCPUs, closer handles %u",
                                        n_cpus, CLOSER_CPUSET_MAX);
        if (n_nodes > CLOSER_NODES_MAX)
                return closer_error_set(err, -E2BIG, "Xen reports %u NUMA nodes, closer handles %u",
                                        n_nodes, CLOSER_NODES_MAX);

        /* Which node ids exist: memory known, or a CPU on it. */
        bool present[CLOSER_NODES_MAX] = {false};
        for (unsigned n = 0; n < n_nodes; n++)
                if (memsize[n] != CLOSER_XEN_INVALID && memsize[n] != UINT64_MAX)
                        present[n] = true;
        for (unsigned c = 0; c < n_cpus; c++) {
                if (cpu_node[c] == CLOSER_XEN_INVALID)
                        continue;
                if (cpu_node[c] >= n_nodes)
                        return closer_error_set(err, -EIO, "pCPU %u is on node %u, but Xen reports %u nodes",
                                                c, cpu_node[c], n_nodes);
                present[cpu_node[c]] = true;
        }

        closer_topology *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        int index_of[CLOSER_NODES_MAX];
        for (unsigned n = 0; n < n_nodes; n++) {
                index_of[n] = -1;
                if (!present[n])
                        continue;
                closer_node *node = &t->nodes[t->n_nodes];
                index_of[n] = (int) t->n_nodes++;
                node->id = (int) n;
                bool mem_ok = memsize[n] != CLOSER_XEN_INVALID && memsize[n] != UINT64_MAX;
                bool free_ok = memfree[n] != CLOSER_XEN_INVALID && memfree[n] != UINT64_MAX;
                node->mem_kib = mem_ok ? memsize[n] / 1024 : 0;
                node->free_kib = free_ok ? memfree[n] / 1024 : 0;
        }
        for (unsigned c = 0; c < n_cpus; c++)
                if (cpu_node[c] != CLOSER_XEN_INVALID)
                        closer_cpuset_set(&t->nodes[index_of[cpu_node[c]]].cpus, c);
        for (unsigned a = 0; a < n_nodes; a++) {
                if (index_of[a] < 0)
                        continue;
                for (unsigned b = 0; b < n_nodes; b++) {
                        if (index_of[b] < 0)
                                continue;
                        uint32_t d = dist[(size_t) a * n_nodes + b];
                        if (d == CLOSER_XEN_INVALID || d > SLIT_MAX || d == 0) {
                                free(t);
                                return closer_error_set(err, -EIO, "Xen reports distance %u from node %u to node %u",
                                                        d, a, b);
                        }
                        t->nodes[index_of[a]].distances[index_of[b]] = d;
                }
        }
        int r = closer_topology_index(t, err);
        if (r < 0) {
                free(t);
                return r;
        }
        *ret = *t;
        free(t);
        return 0;
}

void closer_xen_split_by_nodemap(uint64_t mem_kib, const uint8_t *nodemap, size_t nodemap_bytes,
                                 const closer_topology *topo, uint64_t ret[CLOSER_NODES_MAX]) {
        bool in[CLOSER_NODES_MAX] = {false};
        unsigned count = 0;

        for (unsigned i = 0; i < topo->n_nodes && i < CLOSER_NODES_MAX; i++) {
                int id = topo->nodes[i].id;
                if (id >= 0 && (size_t) id / 8 < nodemap_bytes && nodemap && (nodemap[id / 8] >> (id % 8)) & 1) {
                        in[i] = true;
                        count++;
                }
        }
        if (count == 0)
                for (unsigned i = 0; i < topo->n_nodes && i < CLOSER_NODES_MAX; i++) {
                        in[i] = true;
                        count++;
                }

        memset(ret, 0, sizeof(uint64_t) * CLOSER_NODES_MAX);
        if (count == 0)
                return;
        uint64_t share = mem_kib / count, rest = mem_kib % count;
        bool first = true;
        for (unsigned i = 0; i < topo->n_nodes && i < CLOSER_NODES_MAX; i++) {
                if (!in[i])
                        continue;
                ret[i] = share + (first ? rest : 0);
                first = false;
        }
}

/* Parse "<spaces>Node <id>: <pages>" or "Domain <id> (total: <n>):" after the
 * console prefix. Lines are short; anything odd in a domain's block is an
 * error rather than a guess. */
static const char *skip_prefix(const char *p, const char *end) {
        /* "(XEN) " and optionally a timestamp "[...] " */
        if (end - p >= 5 && memcmp(p, "(XEN)", 5) == 0)
                p += 5;
        while (p < end && *p == ' ')
                p++;
        if (p < end && *p == '[') {
                const char *q = memchr(p, ']', (size_t) (end - p));
                if (q) {
                        p = q + 1;
                        while (p < end && *p == ' ')
                                p++;
                }
        }
        return p;
}

static bool parse_num(const char **pp, const char *end, uint64_t *ret) {
        const char *p = *pp;
        const char *s = p;
        while (p < end && *p >= '0' && *p <= '9')
                p++;
        if (closer_xs_parse_u64(s, (size_t) (p - s), UINT64_MAX / 4, ret) < 0)
                return false;
        *pp = p;
        return true;
}

static bool eat(const char **pp, const char *end, const char *lit) {
        size_t l = strlen(lit);
        if ((size_t) (end - *pp) < l || memcmp(*pp, lit, l) != 0)
                return false;
        *pp += l;
        return true;
}

int closer_xen_parse_numa_dump(const char *text, size_t len, int domid, const closer_topology *topo,
                               uint64_t ret[CLOSER_NODES_MAX]) {
        static const char marker[] = "Memory location of each domain:";
        const char *end = text + len;
        const char *start = NULL;

        /* The last dump only: older ones are stale. */
        for (const char *p = text; p && p < end;) {
                const char *m = memmem(p, (size_t) (end - p), marker, sizeof(marker) - 1);
                if (!m)
                        break;
                start = m;
                p = m + 1;
        }
        if (!start)
                return -ENOENT;

        uint64_t out[CLOSER_NODES_MAX] = {0};
        bool in_block = false, found = false;
        for (const char *line = start; line < end;) {
                const char *nl = memchr(line, '\n', (size_t) (end - line));
                const char *le = nl ? nl : end;
                const char *p = skip_prefix(line, le);
                uint64_t a, b;

                if (eat(&p, le, "Domain ")) {
                        if (in_block)
                                break;          /* next domain: ours is done */
                        const char *q = p;
                        if (parse_num(&q, le, &a) && a == (uint64_t) domid && eat(&q, le, " (total: ")) {
                                in_block = true;
                                found = true;
                        }
                } else if (in_block) {
                        if (eat(&p, le, "Node ")) {
                                if (!parse_num(&p, le, &a) || !eat(&p, le, ": ") || !parse_num(&p, le, &b))
                                        return -EINVAL;
                                int idx = a <= INT32_MAX ? closer_topology_node_index(topo, (int) a) : -1;
                                if (idx < 0)
                                        return -EINVAL;
                                out[idx] = b * 4;       /* 4 KiB pages */
                        } else if (p != le) {
                                break;          /* end of the dump */
                        }
                }
                line = nl ? nl + 1 : end;
        }
        if (!found)
                return -ENOENT;
        memcpy(ret, out, sizeof(out));
        return 0;
}

static closer_xen_numa_entry *numa_cache_find(closer_xen_numa_cache *c, int domid, const uint8_t handle[16]) {
        for (unsigned i = 0; i < c->n; i++)
                if (c->v[i].domid == domid && memcmp(c->v[i].handle, handle, sizeof(c->v[i].handle)) == 0)
                        return &c->v[i];
        return NULL;
}

int closer_xen_numa_cache_put(closer_xen_numa_cache *c, int domid, const uint8_t handle[16],
                              const uint64_t kib[CLOSER_NODES_MAX]) {
        closer_xen_numa_entry *e = numa_cache_find(c, domid, handle);
        if (!e) {
                /* a reused domid: the old domain's entry goes */
                for (unsigned i = 0; i < c->n; i++)
                        if (c->v[i].domid == domid) {
                                e = &c->v[i];
                                break;
                        }
        }
        if (!e) {
                if (c->n == c->cap) {
                        unsigned ncap = c->cap ? c->cap * 2 : 16;
                        closer_xen_numa_entry *nv = reallocarray(c->v, ncap, sizeof(*nv));
                        if (!nv)
                                return -ENOMEM;
                        c->v = nv;
                        c->cap = ncap;
                }
                e = &c->v[c->n++];
        }
        e->domid = domid;
        memcpy(e->handle, handle, sizeof(e->handle));
        memcpy(e->kib, kib, sizeof(e->kib));
        e->seen = true;
        return 0;
}

bool closer_xen_numa_cache_get(closer_xen_numa_cache *c, int domid, const uint8_t handle[16], uint64_t mem_kib,
                               uint64_t ret[CLOSER_NODES_MAX]) {
        closer_xen_numa_entry *e = numa_cache_find(c, domid, handle);
        if (!e)
                return false;
        e->seen = true;
        unsigned __int128 sum = 0;
        unsigned largest = 0;
        for (unsigned i = 0; i < CLOSER_NODES_MAX; i++) {
                sum += e->kib[i];
                if (e->kib[i] > e->kib[largest])
                        largest = i;
        }
        if (sum == 0)
                return false;
        uint64_t given = 0;
        for (unsigned i = 0; i < CLOSER_NODES_MAX; i++) {
                ret[i] = (uint64_t) ((unsigned __int128) e->kib[i] * mem_kib / sum);
                given += ret[i];
        }
        ret[largest] += mem_kib - given;        /* rounding: given <= mem_kib */
        return true;
}

void closer_xen_numa_cache_sweep(closer_xen_numa_cache *c) {
        unsigned k = 0;
        for (unsigned i = 0; i < c->n; i++)
                if (c->v[i].seen) {
                        c->v[k] = c->v[i];
                        c->v[k++].seen = false;
                }
        c->n = k;
}

void closer_xen_numa_cache_free(closer_xen_numa_cache *c) {
        free(c->v);
        *c = (closer_xen_numa_cache) {0};
}
