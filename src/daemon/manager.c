/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/alloc-util.h"
#include "closer/policy.h"
#include "daemon/log.h"
#include "daemon/manager.h"

#define NSEC_PER_SEC 1000000000ull

int closer_manager_new(const closer_config *cfg, closer_hypervisor *hv, closer_hostos *host, bool dry_run,
                       const char *state_path, closer_manager **ret, closer_error *err) {
        closer_manager *m = calloc(1, sizeof(*m));
        int r;

        if (!m)
                return closer_error_set(err, -ENOMEM, "out of memory");
        m->cfg = *cfg;
        m->hv = hv;
        m->host = host;
        m->dry_run = dry_run;
        m->balloon_grace_ns = 30 * NSEC_PER_SEC;
        m->state_log = CLOSER_RATELIMIT_INIT(60 * 1000000, 3);
        m->io_tau_ns = 10 * NSEC_PER_SEC;
        closer_acct_state_init(&m->acct);
        if (state_path) {
                m->state_path = strdup(state_path);
                if (!m->state_path) {
                        closer_manager_free(m);
                        return closer_error_set(err, -ENOMEM, "out of memory");
                }
                r = closer_state_load(state_path, &m->state, err);
        } else {
                m->state = closer_state_new();
                r = m->state ? 0 : closer_error_set(err, -ENOMEM, "out of memory");
        }
        if (r < 0) {
                closer_manager_free(m);
                return r;
        }
        if (m->state->n_threads || m->state->n_irqs || m->state->n_mem || m->state->n_caps ||
            m->state->n_units || m->state->have_dom0_target)
                log_notice("resuming: %u thread, %u IRQ and %u memory changes of a previous run are recorded in %s",
                           m->state->n_threads, m->state->n_irqs, m->state->n_mem, state_path);
        *ret = m;
        return 0;
}

closer_manager *closer_manager_free(closer_manager *m) {
        if (!m)
                return NULL;
        closer_snapshot_free(m->snap);
        closer_plan_free(m->plan);
        closer_acct_state_done(&m->acct);
        free(m->rows);
        free(m->dom);
        free(m->skip);
        free(m->moved);
        free(m->leaves);
        free(m->found);
        closer_actions_done(&m->actions);
        closer_state_free(m->state);
        free(m->state_path);
        free(m);
        return NULL;
}

void closer_manager_set_config(closer_manager *m, const closer_config *cfg) {
        m->cfg = *cfg;
}

int closer_manager_save_state(closer_manager *m) {
        if (!m->state_path)
                return 0;
        int r = closer_state_save(m->state, m->state_path);
        m->state_error = r < 0 ? r : 0;
        return r;
}

int closer_manager_check_config(closer_manager *m, const closer_config *cfg, closer_error *err) {
        closer_plan *p = NULL;
        if (!m->snap)
                return 0;
        int r = closer_plan_compute(m->snap, cfg, &p, err);
        closer_plan_free(p);
        return r;
}

static closer_dom_track *track_of(closer_manager *m, int domid, const char *uuid, unsigned hint) {
        /* Tracks are created in the hypervisor's domain order and that order
         * rarely changes: try the same index first (1000 domains would
         * otherwise cost a million compares a tick). */
        if (hint < m->n_dom && m->dom[hint].domid == domid && strcmp(m->dom[hint].uuid, uuid) == 0)
                return &m->dom[hint];
        for (unsigned i = 0; i < m->n_dom; i++)
                if (m->dom[i].domid == domid) {
                        if (strcmp(m->dom[i].uuid, uuid) == 0)
                                return &m->dom[i];
                        /* domid reused by another domain: start over */
                        memset(&m->dom[i], 0, sizeof(m->dom[i]));
                        m->dom[i].domid = domid;
                        snprintf(m->dom[i].uuid, sizeof(m->dom[i].uuid), "%s", uuid);
                        return &m->dom[i];
                }
        if (!GREEDY_REALLOC_MIN(m->dom, m->cap_dom, m->n_dom + 1, 32))
                return NULL;
        closer_dom_track *t = &m->dom[m->n_dom++];
        memset(t, 0, sizeof(*t));
        t->domid = domid;
        snprintf(t->uuid, sizeof(t->uuid), "%s", uuid);
        log_info("domain %d (%s) appeared", domid, uuid[0] ? uuid : "no uuid");
        return t;
}

static void skip_add(closer_manager *m, bool is_irq, int id, uint64_t start_time) {
        if (!GREEDY_REALLOC_MIN(m->skip, m->cap_skip, m->n_skip + 1, 32))
                return;         /* we will just try again next tick */
        m->skip[m->n_skip++] = (struct closer_skip) {.is_irq = is_irq, .id = id, .start_time = start_time};
}

/* Count and log a failed change; permanent failures are not retried. */
static void act_failed(closer_manager *m, int r, bool is_irq, int id, uint64_t start_time, const char *what) {
        switch (closer_err_kind_of(r)) {
        case CLOSER_ERR_TRANSIENT:
                m->stats.errors_transient++;
                log_debug("%s: %s, will retry", what, strerror(-r));
                break;
        case CLOSER_ERR_PERMANENT:
                m->stats.errors_permanent++;
                skip_add(m, is_irq, id, start_time);
                log_info("%s: %s, leaving it alone", what, strerror(-r));
                break;
        default:
                m->stats.errors_fatal++;
                /* the same failure every tick is said once a minute */
                if (m->last_fatal_r != r || strcmp(m->last_fatal_what, what) != 0 ||
                    m->stats.ticks >= m->last_fatal_tick + 60) {
                        log_warning("%s: %s", what, strerror(-r));
                        m->last_fatal_r = r;
                        m->last_fatal_tick = m->stats.ticks;
                        snprintf(m->last_fatal_what, sizeof(m->last_fatal_what), "%s", what);
                } else
                        log_debug("%s: %s", what, strerror(-r));
                break;
        }
}

static int cmp_unsigned(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return (x > y) - (x < y);
}

const char *closer_tick_phase_name(closer_tick_phase p) {
        static const char *const names[_CLOSER_PHASE_MAX] = {
                [CLOSER_PHASE_HYPERVISOR] = "hypervisor", [CLOSER_PHASE_THREADS] = "threads",
                [CLOSER_PHASE_IRQS] = "irqs",             [CLOSER_PHASE_IRQ_MAP] = "irq_map",
                [CLOSER_PHASE_PLAN] = "plan",             [CLOSER_PHASE_APPLY] = "apply",
                [CLOSER_PHASE_ACCOUNT] = "account",       [CLOSER_PHASE_LEDGER] = "ledger",
        };
        return (unsigned) p < _CLOSER_PHASE_MAX ? names[p] : NULL;
}

void closer_manager_phase(closer_manager *m, closer_tick_phase p) {
        if (!m->cpu_ns || (unsigned) p >= _CLOSER_PHASE_MAX)
                return;
        uint64_t now = m->cpu_ns();
        if (now > m->phase_mark_ns)
                m->stats.phase_cpu_ns[p] += now - m->phase_mark_ns;
        m->phase_mark_ns = now;
}

/* Whether this tick asks the hypervisor for its exact per-node memory count
 * (Xen: the 'u' debug key, a block per domain on its console): when the
 * last snapshot has a domain with memory on more than one node, whose home
 * (Algorithm 2: the node with most of its memory) an even split over its
 * node affinity would only guess, and at most every NUMA_EXACT_EVERY_NS.
 * Between counts the adapter scales the last one to each domain's size. */
#define NUMA_EXACT_EVERY_NS (30ull * 1000000000ull)
static bool want_exact_numa(const closer_manager *m, uint64_t now_ns) {
        if (!m->snap || (m->numa_exact_ns && now_ns - m->numa_exact_ns < NUMA_EXACT_EVERY_NS))
                return false;
        for (unsigned i = 0; i < m->snap->n_domains; i++) {
                unsigned on = 0;
                for (unsigned k = 0; k < CLOSER_NODES_MAX; k++)
                        on += m->snap->domains[i].mem_kib_by_node[k] > 0;
                if (on > 1)
                        return true;
        }
        return false;
}

static int sense(closer_manager *m, uint64_t now_ns, closer_snapshot **ret, closer_error *err) {
        closer_snapshot *s = closer_snapshot_new();
        closer_hv_io *io = NULL;
        unsigned n_io = 0, vanished = 0;
        int r;

        if (!s)
                return closer_error_set(err, -ENOMEM, "out of memory");
        s->time_ns = now_ns;
        bool exact = want_exact_numa(m, now_ns);
        r = m->hv->ops->read_host(m->hv->data, exact, s, err);
        if (r >= 0 && exact)
                m->numa_exact_ns = now_ns;
        if (r < 0)
                goto fail;
        r = m->hv->ops->read_io(m->hv->data, &io, &n_io);
        if (r < 0) {
                closer_error_set(err, r, "reading domains' I/O counters: %s", strerror(-r));
                goto fail;
        }
        double dt_s = m->snap && now_ns > m->snap->time_ns ? (double) (now_ns - m->snap->time_ns) / 1e9 : 0;
        for (unsigned i = 0; i < m->n_dom; i++)
                m->dom[i].seen = false;
        for (unsigned i = 0; i < s->n_domains; i++) {
                closer_domain *d = &s->domains[i];
                closer_dom_track *t = track_of(m, d->domid, d->uuid, i);
                if (!t) {
                        r = closer_error_set(err, -ENOMEM, "out of memory");
                        goto fail;
                }
                t->seen = true;
                /* M of Algorithm 1: the VM's balloon target as found, read
                 * once (the current target is ours). */
                if (!t->mem_m_kib) {
                        const closer_saved_mem *sm = closer_state_find_mem(m->state, d->domid);
                        uint64_t found;
                        if (sm)
                                t->mem_m_kib = sm->target_kib;
                        else if (m->hv->ops->get_mem_target &&
                                 m->hv->ops->get_mem_target(m->hv->data, d->domid, &found) == 0)
                                t->mem_m_kib = found;
                }
                d->mem_kib = closer_vm_mem_m(t->mem_m_kib, d->mem_kib);
                for (unsigned j = 0; j < n_io; j++) {
                        unsigned k = (i + j) % n_io;   /* same order as the domains, usually */
                        if (io[k].domid != d->domid)
                                continue;
                        closer_io_rate_sample(&t->io, io[k].ops, io[k].bytes, dt_s, (double) m->io_tau_ns / 1e9);
                        break;
                }
                d->io_ops_per_s = t->io.ops_per_s;
                d->io_bytes_per_s = t->io.bytes_per_s;
                d->io_level = t->io_level;
        }
        free(io);
        io = NULL;
        closer_manager_phase(m, CLOSER_PHASE_HYPERVISOR);

        r = m->host->ops->read_threads(m->host->data, &s->threads, &s->n_threads, &vanished);
        if (r < 0) {
                closer_error_set(err, r, "reading dom0's threads: %s", strerror(-r));
                goto fail;
        }
        closer_manager_phase(m, CLOSER_PHASE_THREADS);
        r = m->host->ops->read_irqs(m->host->data, &s->irqs, &s->n_irqs);
        if (r < 0) {
                closer_error_set(err, r, "reading dom0's interrupts: %s", strerror(-r));
                goto fail;
        }
        /* Where the IRQs we manage sit now (only those: reading every IRQ's
         * affinity each tick would cost more than the whole plan). */
        if (m->plan && m->plan->n_irqs) {
                unsigned *managed = malloc(m->plan->n_irqs * sizeof(unsigned));
                if (managed) {
                        for (unsigned i = 0; i < m->plan->n_irqs; i++)
                                managed[i] = m->plan->irqs[i].irq;
                        qsort(managed, m->plan->n_irqs, sizeof(unsigned), cmp_unsigned);
                        for (unsigned i = 0; i < s->n_irqs; i++) {
                                closer_cpuset cur;
                                if (!bsearch(&s->irqs[i].irq, managed, m->plan->n_irqs, sizeof(unsigned), cmp_unsigned) ||
                                    m->host->ops->get_irq_affinity(m->host->data, s->irqs[i].irq, &cur) < 0 ||
                                    closer_cpuset_count(&cur) != 1)
                                        continue;
                                s->irqs[i].cpu = closer_cpuset_first(&cur);
                        }
                        free(managed);
                }
        }
        closer_manager_phase(m, CLOSER_PHASE_IRQS);
        if (m->hv->ops->map_irqs) {
                r = m->hv->ops->map_irqs(m->hv->data, s->irqs, s->n_irqs);
                if (r < 0)
                        log_debug("mapping event-channel IRQs to domains: %s", strerror(-r));
        }
        closer_manager_phase(m, CLOSER_PHASE_IRQ_MAP);
        *ret = s;
        return 0;
fail:
        free(io);
        closer_snapshot_free(s);
        return r;
}

/* Write-ahead: what is about to change is on disk, with the value found,
 * before it changes. A crash between the two leaves a record of something
 * not yet changed (restoring it is harmless); the other order would lose
 * the value found forever. Returns 0, or -errno when the record could not
 * be written: the caller then changes nothing this tick. */
static int save_state(closer_manager *m, const char *consequence) {
        uint64_t left_out = 0;
        int r = closer_state_save(m->state, m->state_path);
        if (r < 0) {
                /* counted each time (status, metrics), logged a few times a
                 * minute: a read-only or full /run fails at every change */
                m->stats.errors_state++;
                if (closer_ratelimit_below(&m->state_log, m->now_usec, &left_out))
                        log_error("saving %s: %s; %s (%llu such messages left out)", m->state_path, strerror(-r),
                                  consequence, (unsigned long long) left_out);
        } else if (m->state_error < 0)
                log_notice("saving %s works again", m->state_path);
        m->state_error = r < 0 ? r : 0;
        return r;
}

static int persist(closer_manager *m) {
        if (!m->state->dirty || !m->state_path)
                return 0;
        return save_state(m, "changing nothing until it can be saved");
}

/* What this run did and refuses to touch again, as the pure part reads it. */
static closer_applied applied_of(const closer_manager *m) {
        return (closer_applied) {
                .skip = m->skip,
                .n_skip = m->n_skip,
                .node_cpus = m->node_leaf_cpus,
                .leaves = m->leaves,
                .n_leaves = m->n_leaves,
                .moved = m->moved,
                .n_moved = m->n_moved,
        };
}

static void note_moved(closer_manager *m, int pid, uint64_t start_time, int node, int domid) {
        for (unsigned i = 0; i < m->n_moved; i++)
                if (m->moved[i].pid == pid) {
                        m->moved[i] = (closer_moved) {pid, start_time, node, domid};
                        return;
                }
        if (!GREEDY_REALLOC(m->moved, m->cap_moved, m->n_moved + 1))
                return;
        m->moved[m->n_moved++] = (closer_moved) {pid, start_time, node, domid};
}

static closer_leaf_made *leaf_find(closer_manager *m, int node, int domid) {
        for (unsigned i = 0; i < m->n_leaves; i++)
                if (m->leaves[i].node == node && m->leaves[i].domid == domid)
                        return &m->leaves[i];
        return NULL;
}

static closer_leaf_made *leaf_add(closer_manager *m, int node, int domid) {
        if (!GREEDY_REALLOC_MIN(m->leaves, m->cap_leaves, m->n_leaves + 1, 32))
                return NULL;    /* written again next tick: harmless */
        closer_leaf_made *l = &m->leaves[m->n_leaves++];
        l->node = node;
        l->domid = domid;
        closer_cpuset_zero(&l->cpus);
        return l;
}

/* An action in words, for the logs ("move thread 12 (qemu) to dom0 CPUs
 * 3-4"); false when there is nothing worth saying. */
static bool describe(const closer_manager *m, const closer_action *a, char *buf, size_t len) {
        char cpus[64] = "";

        switch (a->op) {
        case CLOSER_OP_THREAD:
                (void) closer_cpuset_format(a->thread.cpus, cpus, sizeof(cpus));
                snprintf(buf, len, "move thread %d (%s) to dom0 CPUs %s", a->thread.tid,
                         m->snap->threads[a->thread.index].comm, cpus);
                return true;
        case CLOSER_OP_IRQ:
                snprintf(buf, len, "bind IRQ %u of domain %d to dom0 CPU %d", a->irq.irq, a->irq.domid, a->irq.cpu);
                return true;
        case CLOSER_OP_NODE_CPUS:
                (void) closer_cpuset_format(a->leaf.cpus, cpus, sizeof(cpus));
                snprintf(buf, len, "give the secondary container node%d dom0 CPUs %s", a->leaf.node, cpus);
                return true;
        case CLOSER_OP_LEAF:
                (void) closer_cpuset_format(a->leaf.cpus, cpus, sizeof(cpus));
                snprintf(buf, len, "make the container node%d/vm%d on dom0 CPUs %s", a->leaf.node, a->leaf.domid,
                         cpus);
                return true;
        case CLOSER_OP_LEAF_REMOVE:
                snprintf(buf, len, "remove the container node%d/vm%d, no longer planned", a->leaf.node, a->leaf.domid);
                return true;
        case CLOSER_OP_PROCESS:
                snprintf(buf, len, "move process %d (%s) into the container node%d/vm%d", a->process.pid,
                         m->snap->threads[a->process.index].comm, a->process.node, a->process.domid);
                return true;
        case CLOSER_OP_VM_MEM:
                snprintf(buf, len, "set the balloon target of domain %d to %llu KiB", a->vm_mem.domid,
                         (unsigned long long) a->vm_mem.target_kib);
                return true;
        case CLOSER_OP_VM_MEM_PUT_BACK:
                snprintf(buf, len, "put the balloon target of domain %d back as found", a->vm_mem.domid);
                return true;
        case CLOSER_OP_VM_MEM_LEVEL:
                return false;   /* bookkeeping: said by the target it gives */
        case CLOSER_OP_DOM0_MEM:
                /* the shrink before the VMs grow is only ever what they
                 * gave: said once, by the step that gives it to dom0 */
                if (a->dom0_mem.shrink_only)
                        return false;
                snprintf(buf, len, "set dom0's balloon target to %llu KiB (%llu KiB as found, plus what the VMs give)",
                         (unsigned long long) a->dom0_mem.planned_kib, (unsigned long long) a->dom0_mem.found_kib);
                return true;
        case CLOSER_OP_CAP:
                snprintf(buf, len, "cap domain %d at %u %% of a pCPU (%u %% as found)", a->cap.domid, a->cap.cap_pct,
                         a->cap.found_pct);
                return true;
        case CLOSER_OP_CAP_PUT_BACK:
                snprintf(buf, len, "put the cap of domain %d back to %u %% as found", a->cap.domid, a->cap.cap_pct);
                return true;
        case CLOSER_OP_UNIT_CPUS:
                (void) closer_cpuset_format(a->unit.cpus, cpus, sizeof(cpus));
                snprintf(buf, len, "give %s the main container's dom0 CPUs %s (AllowedCPUs=)", a->unit.name, cpus);
                return true;
        case CLOSER_OP_UNIT_CPUS_PUT_BACK:
                (void) closer_cpuset_format(a->unit.cpus, cpus, sizeof(cpus));
                snprintf(buf, len, "put AllowedCPUs= of %s back as found (%s)", a->unit.name,
                         cpus[0] ? cpus : "none: every CPU");
                return true;
        default:
                return false;
        }
}

/* The actions made only once the save worked: the changes a restore must
 * put back (the value found goes on disk before them), and the I/O level
 * that is in force only when memory moves. closer's own containers are
 * removed whole at stop, and a put-back puts back what is recorded already. */
static bool needs_record(closer_action_op op) {
        return op == CLOSER_OP_THREAD || op == CLOSER_OP_IRQ || op == CLOSER_OP_PROCESS || op == CLOSER_OP_VM_MEM ||
               op == CLOSER_OP_VM_MEM_LEVEL || op == CLOSER_OP_DOM0_MEM || op == CLOSER_OP_CAP ||
               op == CLOSER_OP_UNIT_CPUS;
}

/* Record the value found of what a changes, in memory (persist() writes
 * it). 0, or -errno: a is not made (we could not put it back). */
static int record(closer_manager *m, const closer_action *a) {
        const closer_hypervisor_ops *hv = m->hv->ops;
        char found[512];
        uint64_t kib = 0;
        int r;

        switch (a->op) {
        case CLOSER_OP_THREAD:
                return closer_state_add_thread(m->state, a->thread.tid, a->thread.start_time, a->thread.found);
        case CLOSER_OP_IRQ:
                return closer_state_add_irq(m->state, a->irq.irq, a->irq.found);
        case CLOSER_OP_PROCESS: {
                const closer_saved_cgroup *sc = closer_state_find_cgroup(m->state, a->process.pid);
                if (sc && sc->start_time == a->process.start_time)
                        return 0;
                r = m->host->ops->cgroup_of(m->host->data, a->process.pid, found, sizeof(found));
                if (r < 0)
                        return r;
                return closer_state_add_cgroup(m->state, a->process.pid, a->process.start_time, found);
        }
        case CLOSER_OP_VM_MEM:
                if (closer_state_find_mem(m->state, a->vm_mem.domid))
                        return 0;
                if (!hv->get_mem_target)
                        return -EIO;
                r = hv->get_mem_target(m->hv->data, a->vm_mem.domid, &kib);
                if (r < 0)
                        return r == -ESRCH ? r : -EIO;
                r = closer_state_add_mem(m->state, a->vm_mem.domid, m->snap->domains[a->vm_mem.index].uuid, kib);
                return r < 0 ? -ENOMEM : r;
        case CLOSER_OP_DOM0_MEM:
                if (!m->state->have_dom0_target) {
                        m->state->have_dom0_target = true;
                        m->state->dom0_target_kib = a->dom0_mem.found_kib;
                        m->state->dirty = true;
                }
                m->dom0_base_kib = m->state->dom0_target_kib;
                return 0;
        case CLOSER_OP_CAP:
                return closer_state_add_cap(m->state, a->cap.domid, m->snap->domains[a->cap.index].uuid,
                                            a->cap.found_pct);
        case CLOSER_OP_UNIT_CPUS:
                return closer_state_add_unit(m->state, a->unit.name, a->unit.found);
        default:
                return 0;
        }
}

/* dom0's share: its target as found plus what each VM gave, i.e. the
 * difference between the VM's target as found and the target it has (or,
 * with planned, will have) from us. Evaluated when its step comes, after
 * the VM steps before it. Shrink_only: set it only if smaller. */
static int set_dom0_target(closer_manager *m, const closer_plan *p, bool planned_shrink_only) {
        uint64_t reserve_kib = 0;

        for (unsigned i = 0; i < m->n_dom; i++) {
                const closer_dom_track *t = &m->dom[i];
                const closer_saved_mem *sm = closer_state_find_mem(m->state, t->domid);
                if (!t->seen || t->balloon_stuck || !sm)
                        continue;
                /* what the VM has now: what we set, or what it had */
                uint64_t target = t->applied_target_kib ? t->applied_target_kib : sm->target_kib;
                if (planned_shrink_only) {
                        /* ... and after the grow steps: a VM whose shrink
                         * failed still holds its pages */
                        unsigned k = i < p->n_domains && p->domains[i].domid == t->domid ? i : 0;
                        for (; k < p->n_domains; k++)
                                if (p->domains[k].domid == t->domid) {
                                        if (p->domains[k].mem_target_kib > target)
                                                target = p->domains[k].mem_target_kib;
                                        break;
                                }
                }
                if (target && sm->target_kib > target)
                        reserve_kib += sm->target_kib - target;
        }
        uint64_t want = m->dom0_base_kib + reserve_kib;
        if (want == m->dom0_applied_kib || (planned_shrink_only && want > m->dom0_applied_kib))
                return 0;
        int r = m->hv->ops->set_mem_target(m->hv->data, 0, want);
        if (r < 0) {
                act_failed(m, r, false, -1, 0, "dom0 balloon target");
                return r;
        }
        m->dom0_applied_kib = want;
        m->stats.actions[CLOSER_ACT_MEMORY]++;
        return 0;
}

static void set_vm_target(closer_manager *m, const closer_action *a, uint64_t now_ns) {
        const closer_domain *d = &m->snap->domains[a->vm_mem.index];
        closer_dom_track *t = track_of(m, d->domid, d->uuid, a->vm_mem.index);
        uint64_t actual = 0;

        if (!t)
                return;
        /* where it starts from, to tell later whether its balloon followed */
        if (m->hv->ops->get_mem_actual)
                (void) m->hv->ops->get_mem_actual(m->hv->data, d->domid, &actual);
        int r = m->hv->ops->set_mem_target(m->hv->data, d->domid, a->vm_mem.target_kib);
        if (r < 0) {
                act_failed(m, r, false, -1, 0, "balloon target");
                return;
        }
        m->stats.actions[CLOSER_ACT_MEMORY]++;
        t->applied_target_kib = a->vm_mem.target_kib;
        t->target_set_ns = now_ns;
        t->actual_at_set_kib = actual;
}

/* The level the next snapshot says is in force (the plan's hysteresis):
 * only once memory moves by it, so never in a dry run. */
static void set_io_level(closer_manager *m, const closer_action *a) {
        const closer_domain *d = &m->snap->domains[a->vm_mem.index];
        closer_dom_track *t = track_of(m, d->domid, d->uuid, a->vm_mem.index);

        if (t)
                t->io_level = a->vm_mem.io_level;
}

/* A guest whose balloon does not follow is left alone and its share is not
 * counted in dom0's. */
static void put_back_stuck(closer_manager *m, const closer_action *a, uint64_t now_ns) {
        const closer_domain *d = &m->snap->domains[a->vm_mem.index];
        closer_dom_track *t = track_of(m, d->domid, d->uuid, a->vm_mem.index);

        if (!t)
                return;
        t->balloon_stuck = true;
        log_warning("domain %d: its balloon does not follow the target (%llu KiB asked, %llu KiB still to go after "
                    "%llus): no longer moving its memory",
                    d->domid, (unsigned long long) a->vm_mem.asked_kib, (unsigned long long) a->vm_mem.left_kib,
                    (unsigned long long) ((now_ns - t->target_set_ns) / NSEC_PER_SEC));
        const closer_saved_mem *sm = closer_state_find_mem(m->state, d->domid);
        if (sm)
                (void) m->hv->ops->set_mem_target(m->hv->data, d->domid, sm->target_kib);
}

static void leaf_remove(closer_manager *m, const closer_action *a) {
        const closer_hostos_ops *os = m->host->ops;
        int r;

        if (!os->cgroup_remove)
                return;
        r = os->cgroup_remove(m->host->data, a->leaf.node, a->leaf.domid);
        if (r < 0) {
                log_debug("container node%d/vm%d, no longer planned, stays for now: %s", a->leaf.node, a->leaf.domid,
                          strerror(-r));
                return;
        }
        closer_leaf_made *l = leaf_find(m, a->leaf.node, a->leaf.domid);
        if (l)
                *l = m->leaves[--m->n_leaves];
}

static void set_cap(closer_manager *m, const closer_action *a) {
        const closer_domain *d = &m->snap->domains[a->cap.index];
        int r = m->hv->ops->set_cap(m->hv->data, a->cap.domid, a->cap.cap_pct);

        if (r < 0) {
                act_failed(m, r, false, -1, 0, "scheduler cap");
                return;
        }
        closer_dom_track *t = track_of(m, d->domid, d->uuid, a->cap.index);
        if (t)
                t->applied_cap_pct = a->cap.cap_pct;
        m->stats.actions[CLOSER_ACT_CAP]++;
}

static void cap_put_back(closer_manager *m, const closer_action *a) {
        if (m->hv->ops->set_cap)
                (void) m->hv->ops->set_cap(m->hv->data, a->cap.domid, a->cap.cap_pct);
        for (unsigned k = 0; k < m->n_dom; k++)
                if (m->dom[k].domid == a->cap.domid)
                        m->dom[k].applied_cap_pct = 0;
        closer_state_drop_cap(m->state, a->cap.domid);
}

/* Put a unit's AllowedCPUs= back as found. Found empty (none set, the
 * usual case) takes two steps: every dom0 CPU first, then none. A reset
 * alone left the tasks there on the main CPUs (Xen lab, Linux 6.1: PID 1
 * and system.slice's threads on CPU 0 after `systemctl stop closerd`; once
 * no unit asks for a cpuset systemd turns the controller off, and the
 * kernel does not widen the tasks' affinity then). Every CPU first has the
 * kernel give the tasks all of them back while the cpuset is still there.
 * (Linux before 6.2 does not keep a task's own narrower affinity across a
 * cpuset change; 6.2 and later give it back.) */
static int unit_put_back(closer_manager *m, const char *unit, const closer_cpuset *found) {
        closer_error e = {{0}};
        int r;

        if (closer_cpuset_is_empty(found) && m->snap && m->snap->dom0.n_vcpus) {
                closer_cpuset all;
                closer_cpuset_zero(&all);
                for (unsigned i = 0; i < m->snap->dom0.n_vcpus; i++)
                        (void) closer_cpuset_set(&all, m->snap->dom0.vcpus[i].id);
                r = m->host->ops->unit_set_cpus(m->host->data, unit, &all, &e);
                if (r < 0) {
                        log_warning("%s", e.msg);
                        return r;
                }
        }
        r = m->host->ops->unit_set_cpus(m->host->data, unit, found, &e);
        if (r < 0)
                log_warning("%s", e.msg);
        return r;
}

/* A failing bus: closerd goes on as without systemd (each thread's own
 * affinity, closer's own leaves), and says so once. */
static void units_off(closer_manager *m, const closer_error *e) {
        if (!m->units_off)
                log_warning("%s; falling back to per-thread affinity", e->msg);
        m->units_off = true;
}

static void set_unit_cpus(closer_manager *m, const closer_action *a) {
        closer_error e = {{0}};
        int r = m->host->ops->unit_set_cpus(m->host->data, a->unit.name, a->unit.cpus, &e);
        if (r < 0) {
                m->stats.errors_fatal++;
                units_off(m, &e);
                return;
        }
        for (unsigned i = 0; i < CLOSER_MAIN_UNITS_N; i++)
                if (strcmp(closer_main_units[i], a->unit.name) == 0) {
                        m->units[i].cpus = *a->unit.cpus;
                        m->units_set[i] = true;
                }
        m->stats.actions[CLOSER_ACT_CGROUP]++;
}

/* Make one change; failures are counted and logged (act_failed). dom0_failed:
 * dom0 could not shrink, so no VM grows in this list: growing one would
 * promise the pages dom0 still holds a second time. */
static void apply(closer_manager *m, const closer_action *a, uint64_t now_ns, bool *dom0_failed) {
        const closer_hostos_ops *os = m->host->ops;
        closer_leaf_made *made;
        closer_cpuset want;
        char what[96];
        int r;

        switch (a->op) {
        case CLOSER_OP_THREAD:
                r = os->set_thread_affinity(m->host->data, a->thread.tid, a->thread.cpus);
                if (r < 0) {
                        snprintf(what, sizeof(what), "thread %d (%s)", a->thread.tid,
                                 m->snap->threads[a->thread.index].comm);
                        act_failed(m, r, false, a->thread.tid, a->thread.start_time, what);
                } else
                        m->stats.actions[CLOSER_ACT_THREAD]++;
                break;
        case CLOSER_OP_IRQ:
                closer_cpuset_zero(&want);
                (void) closer_cpuset_set(&want, (unsigned) a->irq.cpu);
                r = os->set_irq_affinity(m->host->data, a->irq.irq, &want);
                if (r < 0) {
                        snprintf(what, sizeof(what), "IRQ %u of domain %d", a->irq.irq, a->irq.domid);
                        act_failed(m, r, true, (int) a->irq.irq, 0, what);
                } else
                        m->stats.actions[CLOSER_ACT_IRQ]++;
                break;
        case CLOSER_OP_NODE_CPUS:
                r = os->cgroup_leaf(m->host->data, a->leaf.node, -1, a->leaf.cpus, NULL);
                if (r < 0)
                        act_failed(m, r, false, -1, 0, "secondary container");
                else
                        m->node_leaf_cpus[a->leaf.node] = *a->leaf.cpus;
                break;
        case CLOSER_OP_LEAF:
                made = leaf_find(m, a->leaf.node, a->leaf.domid);
                r = os->cgroup_leaf(m->host->data, a->leaf.node, a->leaf.domid, a->leaf.cpus, NULL);
                if (r < 0) {
                        act_failed(m, r, false, -1, 0, "domain container");
                        break;
                }
                if (!made)
                        made = leaf_add(m, a->leaf.node, a->leaf.domid);
                if (made)
                        made->cpus = *a->leaf.cpus;
                m->stats.actions[CLOSER_ACT_CGROUP]++;
                break;
        case CLOSER_OP_LEAF_REMOVE:
                leaf_remove(m, a);
                break;
        case CLOSER_OP_PROCESS:
                r = os->cgroup_move(m->host->data, a->process.node, a->process.domid, a->process.pid);
                if (r < 0)
                        act_failed(m, r, false, a->process.pid, a->process.start_time, "moving a backend process");
                else {
                        note_moved(m, a->process.pid, a->process.start_time, a->process.node, a->process.domid);
                        m->stats.actions[CLOSER_ACT_CGROUP]++;
                }
                break;
        case CLOSER_OP_VM_MEM:
                if (!(a->vm_mem.grow && *dom0_failed))
                        set_vm_target(m, a, now_ns);
                break;
        case CLOSER_OP_VM_MEM_PUT_BACK:
                put_back_stuck(m, a, now_ns);
                break;
        case CLOSER_OP_VM_MEM_LEVEL:
                set_io_level(m, a);
                break;
        case CLOSER_OP_DOM0_MEM:
                if (set_dom0_target(m, m->plan, a->dom0_mem.shrink_only) < 0 && a->dom0_mem.shrink_only)
                        *dom0_failed = true;
                break;
        case CLOSER_OP_CAP:
                set_cap(m, a);
                break;
        case CLOSER_OP_CAP_PUT_BACK:
                cap_put_back(m, a);
                break;
        case CLOSER_OP_UNIT_CPUS:
                set_unit_cpus(m, a);
                break;
        default:
                break;
        }
}

/* One phase's list, empty. */
static closer_actions *phase_actions(closer_manager *m) {
        closer_actions_clear(&m->actions);
        return &m->actions;
}

/* The one place that acts on the host, on the phase's list (m->actions)
 * the pure part made, returning r (-ENOMEM: a part only; nothing is done).
 * A dry run says what it would do and changes nothing. Otherwise,
 * write-ahead: the values found of every change in the list are recorded
 * and on disk, in one save, before the first change; a change whose value
 * cannot be recorded is not made, and when the save fails none that needs a
 * record is. Then the changes, in order. */
static void execute(closer_manager *m, int r, uint64_t now_ns) {
        closer_actions *l = &m->actions;
        bool dom0_failed = false;
        char what[160];
        unsigned n = 0;

        if (r < 0)
                return;
        if (m->dry_run) {
                for (unsigned i = 0; i < l->n; i++)
                        if (describe(m, &l->a[i], what, sizeof(what)))
                                log_info("dry run: would %s", what);
                return;
        }
        for (unsigned i = 0; i < l->n; i++) {
                r = needs_record(l->a[i].op) ? record(m, &l->a[i]) : 0;
                if (r < 0) {
                        /* what cannot be recorded is left as it is, and
                         * only a balloon target counts that as a failure;
                         * a domain whose target is not written yet is
                         * being built (or restored) by the toolstack: its
                         * turn comes when it is */
                        if (l->a[i].op == CLOSER_OP_VM_MEM && r == -ESRCH)
                                log_debug("domain %d: no balloon target yet (being built?), later",
                                          l->a[i].vm_mem.domid);
                        else if (l->a[i].op == CLOSER_OP_VM_MEM)
                                act_failed(m, r, false, -1, 0, "balloon target");
                        continue;
                }
                l->a[n++] = l->a[i];
        }
        l->n = n;
        if (persist(m) < 0) {
                n = 0;
                for (unsigned i = 0; i < l->n; i++)
                        if (!needs_record(l->a[i].op))
                                l->a[n++] = l->a[i];
                l->n = n;
        }
        for (unsigned i = 0; i < l->n; i++)
                apply(m, &l->a[i], now_ns, &dom0_failed);
}

/* The affinities found (m->found) of n objects; NULL without memory. */
static closer_found_cpus *found_room(closer_manager *m, unsigned n) {
        return GREEDY_REALLOC(m->found, m->cap_found, n);
}

static void reconcile_threads(closer_manager *m) {
        const closer_applied ap = applied_of(m);
        unsigned n = 0;

        if (!found_room(m, m->plan->n_threads))
                return;
        for (unsigned i = 0; i < m->plan->n_threads; i++) {
                const closer_thread *t = &m->snap->threads[i];
                /* only those closer moves: reading every kernel thread's
                 * affinity would cost more than the plan */
                if (!closer_reconcile_manages_thread(t, &m->plan->threads[i]) ||
                    closer_reconcile_skipped(&ap, false, t->tid, t->start_time))
                        continue;
                if (m->host->ops->get_thread_affinity(m->host->data, t->tid, &m->found[n].cpus) < 0)
                        continue;       /* gone since the scan: normal */
                m->found[n++].index = i;
        }
        execute(m, closer_reconcile_threads(m->plan, m->snap, m->found, n, phase_actions(m)), 0);
}

/* Only the IRQs the plan places: reading every IRQ's affinity each tick
 * would cost more than the whole plan. */
static void reconcile_irqs(closer_manager *m) {
        const closer_plan *p = m->plan;
        const closer_applied ap = applied_of(m);
        unsigned n = 0;

        for (unsigned i = 0; i < p->n_irqs && found_room(m, n + 1); i++) {
                unsigned irq = p->irqs[i].irq;
                if (closer_reconcile_skipped(&ap, true, (int) irq, 0) ||
                    m->host->ops->get_irq_affinity(m->host->data, irq, &m->found[n].cpus) < 0)
                        continue;
                m->found[n++].index = i;
        }
        execute(m, closer_reconcile_irqs(p, m->found, n, phase_actions(m)), 0);
}

/* The secondary containers as cgroup v2 leaves, node<N>/vm<domid>, and what
 * works for a domain moved into its leaf: its kernel backend threads
 * (blkback, netback: each its own process; they accept it, as the Xen lab's
 * placement check shows, docs/xen-lab.md), QEMU device models, xl and libxl
 * helpers acting on it. A process is moved only once its cgroup as found is
 * on disk (write-ahead).
 *
 * cpuset.mems is left as inherited: the node numbers in the plan are Xen's,
 * and a PV dom0 has no NUMA view of its own (its Linux sees node 0 only),
 * so which node dom0's memory comes from is not ours to set from here. */
static void reconcile_cgroups(closer_manager *m) {
        const closer_hostos_ops *os = m->host->ops;
        const closer_applied ap = applied_of(m);

        /* without a way to put processes back, none is moved */
        if (!os->cgroup_leaf || !os->cgroup_move || !os->cgroup_of || !os->cgroup_move_to)
                return;
        execute(m, closer_reconcile_cgroups(m->plan, m->snap, &ap, phase_actions(m)), 0);
}

/* Under systemd: the main container's CPUs on the slices dom0's own work
 * runs in (AllowedCPUs=), in the cgroup phase, before the threads'
 * affinities are read. The kernel resets the affinity of the tasks in a
 * cpuset it changes, so their threads then have the main CPUs already, and
 * a process started there later starts on them without waiting for a tick.
 * Per-thread affinity stays for what is in none of those slices: kernel
 * threads (root cgroup), closer's own leaves; and IRQs, no cgroup thing.
 * A unit is read until this run set it (then what it set is its value);
 * one not loaded (no user.slice before a login) is asked again next tick. */
static void reconcile_units(closer_manager *m) {
        const closer_hostos_ops *os = m->host->ops;

        if (!os->unit_get_cpus || !os->unit_set_cpus || m->units_off)
                return;
        for (unsigned i = 0; i < CLOSER_MAIN_UNITS_N; i++) {
                closer_error e = {{0}};
                m->units[i].unit = closer_main_units[i];
                if (m->units_set[i])
                        continue;
                int r = os->unit_get_cpus(m->host->data, closer_main_units[i], &m->units[i].cpus, &e);
                m->units[i].known = r >= 0;
                if (r < 0 && r != -ENOENT) {
                        units_off(m, &e);
                        return;
                }
        }
        execute(m, closer_reconcile_units(&m->plan->main.dom0_cpus, m->units, CLOSER_MAIN_UNITS_N, phase_actions(m)),
                0);
}

/* Said once: a bus call of a cgroup op failed and the adapter did it
 * without systemd. */
static void units_message(closer_manager *m) {
        closer_error e = {{0}};
        if (m->host->ops->take_message && m->host->ops->take_message(m->host->data, &e) > 0)
                log_warning("%s; that container is closer's own cgroup now, as without systemd", e.msg);
}

/* Algorithm 1 through the balloons. What dom0 is given is exactly what the
 * VMs gave; memory leaves one side before it arrives on the other, so the
 * host never promises the same page twice (the order is the pure part's;
 * dom0's target is evaluated at its step, from what the VMs did). */
static void reconcile_memory(closer_manager *m, uint64_t now_ns) {
        const closer_hypervisor_ops *hv = m->hv->ops;
        const closer_plan *p = m->plan;
        uint64_t dom0_found;

        if (m->state->have_dom0_target)
                dom0_found = m->state->dom0_target_kib;
        else if (!hv->get_mem_target || hv->get_mem_target(m->hv->data, 0, &dom0_found) < 0)
                return;         /* could not put dom0 back: move no memory */
        _cleanup_free_ closer_mem_now *now = calloc(p->n_domains ? p->n_domains : 1, sizeof(*now));
        if (!now)
                return;
        for (unsigned i = 0; i < p->n_domains; i++) {
                const closer_domain *d = &m->snap->domains[i];
                closer_dom_track *t = track_of(m, d->domid, d->uuid, i);
                if (!t || t->balloon_stuck) {
                        now[i] = (closer_mem_now) {.tracked = t != NULL, .stuck = t != NULL};
                        continue;
                }
                now[i] = (closer_mem_now) {
                        .tracked = true,
                        .applied_kib = t->applied_target_kib,
                        .actual_at_set_kib = t->actual_at_set_kib,
                };
                /* Has its balloon followed our last target? Asked once its
                 * grace is over; once it has, no more. */
                if (t->applied_target_kib && hv->get_mem_actual && t->applied_target_kib != t->actual_at_set_kib &&
                    now_ns - t->target_set_ns > m->balloon_grace_ns &&
                    hv->get_mem_actual(m->hv->data, d->domid, &now[i].actual_kib) == 0) {
                        now[i].checked = true;
                        if (!closer_reconcile_balloon_stuck(t->applied_target_kib, t->actual_at_set_kib,
                                                            now[i].actual_kib))
                                t->actual_at_set_kib = t->applied_target_kib;
                }
        }
        execute(m, closer_reconcile_memory(p, m->snap, now, dom0_found, phase_actions(m)), now_ns);
}

/* What was saved for objects that no longer exist is dropped: a thread that
 * exited (or whose tid now names another thread), an IRQ that was freed, a
 * domain that left (or whose domid now names another domain). Restoring those
 * would write a stale value onto something else. */
static void prune_state(closer_manager *m) {
        closer_state *st = m->state;
        const closer_snapshot *s = m->snap;
        bool *alive = calloc(st->n_threads ? st->n_threads : 1, sizeof(bool));

        if (!alive)
                return;
        for (unsigned i = 0; i < s->n_threads; i++) {
                const closer_saved_thread *sv = closer_state_find_thread(st, s->threads[i].tid);
                if (sv && sv->start_time == s->threads[i].start_time)
                        alive[sv - st->threads] = true;
        }
        for (unsigned i = st->n_threads; i-- > 0;)
                if (!alive[i])
                        closer_state_drop_thread(st, st->threads[i].tid);
        free(alive);

        unsigned *live = malloc((s->n_irqs ? s->n_irqs : 1) * sizeof(unsigned));
        if (live) {
                for (unsigned k = 0; k < s->n_irqs; k++)
                        live[k] = s->irqs[k].irq;
                qsort(live, s->n_irqs, sizeof(unsigned), cmp_unsigned);
                for (unsigned i = st->n_irqs; i-- > 0;)
                        if (!bsearch(&st->irqs[i].irq, live, s->n_irqs, sizeof(unsigned), cmp_unsigned)) {
                                st->irqs[i] = st->irqs[--st->n_irqs];
                                st->dirty = true;
                        }
                free(live);
        }
        /* saved targets of domains that left, or whose domid now names
         * another domain (uuid differs): keep those a live track vouches for */
        bool *keep = calloc(st->n_mem ? st->n_mem : 1, sizeof(bool));
        if (!keep)
                return;
        for (unsigned k = 0; k < m->n_dom; k++) {
                const closer_saved_mem *sm = m->dom[k].seen ? closer_state_find_mem(st, m->dom[k].domid) : NULL;
                if (sm && strcmp(sm->uuid, m->dom[k].uuid) == 0)
                        keep[sm - st->mem] = true;
        }
        for (unsigned i = st->n_mem; i-- > 0;)
                if (!keep[i] && st->mem[i].domid != 0)
                        closer_state_drop_mem(st, st->mem[i].domid);
        free(keep);
        for (unsigned i = st->n_cgroups; i-- > 0;) {
                bool same = false;
                for (unsigned k = 0; k < s->n_threads; k++)
                        if (s->threads[k].tid == st->cgroups[i].pid) {
                                same = s->threads[k].start_time == st->cgroups[i].start_time;
                                break;
                        }
                if (!same)
                        closer_state_drop_cgroup(st, st->cgroups[i].pid);
        }
        for (unsigned i = m->n_moved; i-- > 0;)
                if (!closer_state_find_cgroup(st, m->moved[i].pid))
                        m->moved[i] = m->moved[--m->n_moved];
        for (unsigned i = st->n_caps; i-- > 0;) {
                const closer_domain *d = closer_snapshot_find_domain(s, st->caps[i].domid);
                if (!d || strcmp(d->uuid, st->caps[i].uuid) != 0)
                        closer_state_drop_cap(st, st->caps[i].domid);
        }
}

/* charge = cap: a VM's quota is its cap as found (or all its vCPUs when
 * uncapped), less the dom0 CPU spent for it (closer_reconcile_caps). With
 * charge = meter (also after a SIGHUP to it) the caps go back as found. */
static void reconcile_caps(closer_manager *m) {
        const closer_hypervisor_ops *hv = m->hv->ops;
        closer_actions *l = phase_actions(m);
        int r;

        if (m->cfg.charge != CLOSER_CHARGE_CAP) {
                if (!m->state->n_caps)
                        return;
                _cleanup_free_ closer_cap_found *found = malloc(m->state->n_caps * sizeof(*found));
                if (!found)
                        return;
                for (unsigned i = 0; i < m->state->n_caps; i++)
                        found[i] = (closer_cap_found) {m->state->caps[i].domid, m->state->caps[i].cap_pct};
                r = closer_reconcile_caps_put_back(found, m->state->n_caps, l);
        } else if (!hv->set_cap || !hv->get_cap) {
                if (!m->warned_no_caps)
                        log_warning("charge = cap: the %s hypervisor adapter cannot read and set caps; metering only",
                                    hv->name);
                m->warned_no_caps = true;
                return;
        } else {
                _cleanup_free_ closer_cap_now *now = calloc(m->n_rows > 0 ? (size_t) m->n_rows : 1, sizeof(*now));
                if (!now)
                        return;
                for (int i = 0; i < m->n_rows; i++) {
                        const closer_acct_row *row = &m->rows[i];
                        const closer_domain *d = (unsigned) i < m->snap->n_domains &&
                                                                 m->snap->domains[i].domid == row->domid
                                                         ? &m->snap->domains[i]
                                                         : closer_snapshot_find_domain(m->snap, row->domid);
                        closer_dom_track *t = d ? track_of(m, d->domid, d->uuid, (unsigned) i) : NULL;
                        const closer_saved_cap *sc = d ? closer_state_find_cap(m->state, d->domid) : NULL;
                        unsigned found;
                        if (!t || row->interval_ns == 0)
                                continue;
                        if (sc)
                                found = sc->cap_pct;
                        else if (hv->get_cap(m->hv->data, d->domid, &found) < 0)
                                continue;
                        now[i] = (closer_cap_now) {.known = true, .found_pct = found, .applied_pct = t->applied_cap_pct};
                }
                r = closer_reconcile_caps(m->snap, m->rows, (unsigned) m->n_rows, now, l);
        }
        execute(m, r, 0);
}

/* Domains that left: nothing to put back for them; forget them. */
static void forget_gone(closer_manager *m) {
        for (unsigned i = 0; i < m->n_dom;) {
                if (m->dom[i].seen) {
                        i++;
                        continue;
                }
                log_info("domain %d left", m->dom[i].domid);
                for (unsigned k = m->n_leaves; k-- > 0;) {
                        const struct closer_leaf_made *l = &m->leaves[k];
                        if (l->domid != m->dom[i].domid)
                                continue;
                        int r = m->host->ops->cgroup_remove ? m->host->ops->cgroup_remove(m->host->data, l->node,
                                                                                          l->domid)
                                                            : 0;
                        if (r < 0)
                                log_info("container node%d/vm%d of domain %d stays: %s", l->node, l->domid, l->domid,
                                         strerror(-r));
                        m->leaves[k] = m->leaves[--m->n_leaves];
                }
                closer_state_drop_mem(m->state, m->dom[i].domid);
                m->dom[i] = m->dom[--m->n_dom];
        }
}

/* Running totals per domain (for metrics), and the main container's load:
 * all dom0 CPU of the interval minus what was billed to domains. Threads
 * that exited since the last tick take their CPU with them, so the load is
 * a lower bound, clamped at zero. */
static void account_totals(closer_manager *m, uint64_t prev_ns, uint64_t now_ns) {
        uint64_t total = 0, billed = 0;

        for (unsigned i = 0; i < m->snap->n_threads; i++)
                total += m->snap->threads[i].cpu_ns;
        for (int i = 0; i < m->n_rows; i++) {
                billed += m->rows[i].dom0_cpu_ns;
                for (unsigned k = 0; k < m->n_dom; k++)
                        if (m->dom[(i + k) % m->n_dom].domid == m->rows[i].domid) {
                                m->dom[(i + k) % m->n_dom].dom0_cpu_ns_total += m->rows[i].dom0_cpu_ns;
                                break;
                        }
        }
        for (unsigned i = 0; i < m->plan->n_domains; i++) {
                unsigned k = i < m->n_dom && m->dom[i].domid == m->plan->domains[i].domid ? i : 0;
                for (; k < m->n_dom; k++)
                        if (m->dom[k].domid == m->plan->domains[i].domid) {
                                m->dom[k].dom0_reserve_kib = m->plan->domains[i].dom0_reserve_kib;
                                break;
                        }
        }
        if (prev_ns && now_ns > prev_ns && total >= m->cpu_total_ns) {
                uint64_t delta = total - m->cpu_total_ns;
                m->stats.main_load = delta > billed ? (double) (delta - billed) / (double) (now_ns - prev_ns) : 0.0;
        }
        m->cpu_total_ns = total;
}

int closer_manager_tick(closer_manager *m, uint64_t now_ns, closer_error *err) {
        closer_snapshot *s = NULL;
        closer_plan *p = NULL;
        int r;

        if (m->cpu_ns)
                m->phase_mark_ns = m->cpu_ns();
        m->now_usec = now_ns / 1000;
        r = sense(m, now_ns, &s, err);
        if (r < 0)
                return r;
        r = closer_plan_compute(s, &m->cfg, &p, err);
        closer_manager_phase(m, CLOSER_PHASE_PLAN);
        m->config_rejected = false;
        if (r < 0) {
                /* Tell a configuration this host cannot have (a main node it
                 * lacks) from a host the policy cannot serve now. */
                closer_config def;
                closer_plan *dp = NULL;
                closer_config_defaults(&def);
                m->config_rejected = r != -ENOMEM && closer_plan_compute(s, &def, &dp, NULL) >= 0;
                closer_plan_free(dp);
                closer_snapshot_free(s);
                return r;
        }
        closer_snapshot_free(m->snap);
        closer_plan_free(m->plan);
        m->snap = s;
        m->plan = p;

        if (!m->warned_unpinned)
                for (unsigned i = 0; i < s->dom0.n_vcpus; i++)
                        if (s->dom0.vcpus[i].has_affinity && closer_cpuset_count(&s->dom0.vcpus[i].affinity) > 1) {
                                /* The thesis' design needs one dom0 vCPU pinned per pCPU: without it
                                 * "the dom0 CPU under a VM's vCPU" moves with Xen's scheduler. */
                                log_warning("dom0 vCPU %u is not pinned to one pCPU (boot Xen with dom0_max_vcpus=<all "
                                            "pCPUs> dom0_vcpus_pin, or `xl vcpu-pin 0 all` per vCPU): closer places "
                                            "work by where dom0 vCPUs run now, which Xen may change",
                                            s->dom0.vcpus[i].id);
                                m->warned_unpinned = true;
                                break;
                        }
        reconcile_units(m);
        reconcile_cgroups(m);
        units_message(m);
        reconcile_threads(m);
        reconcile_irqs(m);
        reconcile_memory(m, now_ns);
        forget_gone(m);
        prune_state(m);
        closer_manager_phase(m, CLOSER_PHASE_APPLY);

        free(m->rows);
        m->rows = NULL;
        uint64_t prev_ns = m->acct.primed ? m->acct.time_ns : 0;
        m->n_rows = closer_acct_step(&m->acct, s, p, &m->rows);
        if (m->n_rows < 0) {
                m->n_rows = 0;
                log_warning("accounting: out of memory, interval skipped");
        }
        account_totals(m, prev_ns, now_ns);
        closer_manager_phase(m, CLOSER_PHASE_ACCOUNT);
        reconcile_caps(m);
        if (m->state->dirty && m->state_path)
                (void) save_state(m, "a crash now would lose what to restore");
        closer_manager_phase(m, CLOSER_PHASE_APPLY);
        m->stats.ticks++;
        return 0;
}

int closer_manager_restore(closer_manager *m) {
        int first = 0, r;

        /* Threads: only the very thread we changed (same start time). */
        for (unsigned i = 0; i < m->state->n_threads; i++) {
                const closer_saved_thread *st = &m->state->threads[i];
                bool same = false;
                for (unsigned k = 0; m->snap && k < m->snap->n_threads; k++)
                        if (m->snap->threads[k].tid == st->tid) {
                                same = m->snap->threads[k].start_time == st->start_time;
                                break;
                        }
                if (!same)
                        continue;
                r = m->host->ops->set_thread_affinity(m->host->data, st->tid, &st->cpus);
                if (r != -ESRCH)
                        RET_GATHER(first, r);
        }
        for (unsigned i = 0; i < m->state->n_irqs; i++) {
                r = m->host->ops->set_irq_affinity(m->host->data, m->state->irqs[i].irq, &m->state->irqs[i].cpus);
                if (r != -ENOENT)
                        RET_GATHER(first, r);
        }
        /* Memory: give back to the VMs first, then shrink dom0. */
        for (unsigned i = 0; i < m->state->n_mem; i++) {
                const closer_saved_mem *sm = &m->state->mem[i];
                const closer_domain *d = m->snap ? closer_snapshot_find_domain(m->snap, sm->domid) : NULL;
                if (!d || strcmp(d->uuid, sm->uuid) != 0)
                        continue;
                r = m->hv->ops->set_mem_target(m->hv->data, sm->domid, sm->target_kib);
                RET_GATHER(first, r);
        }
        for (unsigned i = 0; i < m->state->n_caps && m->hv->ops->set_cap; i++) {
                const closer_saved_cap *sc = &m->state->caps[i];
                const closer_domain *d = m->snap ? closer_snapshot_find_domain(m->snap, sc->domid) : NULL;
                if (!d || strcmp(d->uuid, sc->uuid) != 0)
                        continue;
                r = m->hv->ops->set_cap(m->hv->data, sc->domid, sc->cap_pct);
                RET_GATHER(first, r);
        }
        if (m->state->have_dom0_target) {
                r = m->hv->ops->set_mem_target(m->hv->data, 0, m->state->dom0_target_kib);
                RET_GATHER(first, r);
        }
        /* Processes back into the cgroups they were found in, then our
         * leaves away (they are empty now). */
        for (unsigned i = 0; i < m->state->n_cgroups && m->host->ops->cgroup_move_to; i++) {
                const closer_saved_cgroup *sc = &m->state->cgroups[i];
                bool same = false;
                for (unsigned k = 0; m->snap && k < m->snap->n_threads; k++)
                        if (m->snap->threads[k].tid == sc->pid) {
                                same = m->snap->threads[k].start_time == sc->start_time;
                                break;
                        }
                if (!same)
                        continue;
                r = m->host->ops->cgroup_move_to(m->host->data, sc->pid, sc->path);
                if (r != -ESRCH && r != -ENOENT)
                        RET_GATHER(first, r);
        }
        if (m->host->ops->cgroup_clear) {
                /* also what a crashed run made and this one never knew of */
                r = m->host->ops->cgroup_clear(m->host->data);
                RET_GATHER(first, r);
                m->n_leaves = 0;
                for (unsigned n = 0; n < CLOSER_NODES_MAX; n++)
                        closer_cpuset_zero(&m->node_leaf_cpus[n]);
        } else if (m->host->ops->cgroup_remove) {
                for (unsigned i = 0; i < m->n_leaves; i++) {
                        r = m->host->ops->cgroup_remove(m->host->data, m->leaves[i].node, m->leaves[i].domid);
                        RET_GATHER(first, r);
                }
                m->n_leaves = 0;
                for (unsigned n = 0; n < CLOSER_NODES_MAX; n++)
                        if (!closer_cpuset_is_empty(&m->node_leaf_cpus[n])) {
                                r = m->host->ops->cgroup_remove(m->host->data, (int) n, -1);
                                RET_GATHER(first, r);
                                closer_cpuset_zero(&m->node_leaf_cpus[n]);
                        }
        }
        m->n_moved = 0;
        units_message(m);
        /* systemd units' AllowedCPUs= as found (empty: reset) */
        /* (also after a bus failure during the run: worth one more try) */
        if (m->state->n_units && !m->host->ops->unit_set_cpus)
                log_warning("%u systemd units' AllowedCPUs= as found are recorded, but closerd does not reach "
                            "systemd now: left as they are",
                            m->state->n_units);
        else if (m->state->n_units) {
                _cleanup_free_ closer_unit_now *found = calloc(m->state->n_units, sizeof(*found));
                closer_actions l = {0};
                for (unsigned i = 0; found && i < m->state->n_units; i++)
                        found[i] = (closer_unit_now) {.unit = m->state->units[i].unit, .known = true,
                                                      .cpus = m->state->units[i].cpus};
                r = found ? closer_reconcile_units_put_back(found, m->state->n_units, &l) : -ENOMEM;
                RET_GATHER(first, r);
                for (unsigned i = 0; i < l.n; i++)
                        RET_GATHER(first, unit_put_back(m, l.a[i].unit.name, l.a[i].unit.cpus));
                closer_actions_done(&l);
                for (unsigned i = 0; i < CLOSER_MAIN_UNITS_N; i++)
                        m->units_set[i] = false;
        }
        /* The state file is the one record of what was found (the adapters
         * keep none): all of it is back, so it starts empty. */
        closer_state *empty = closer_state_new();
        if (empty) {
                closer_state_free(m->state);
                m->state = empty;
                if (m->state_path)
                        (void) closer_state_save(m->state, m->state_path);
        }
        return first;
}
