/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reconcile as data: plan vs what was found -> the changes to make. No I/O;
 * the daemon reads, records and applies (src/daemon/manager.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "basic/alloc-util.h"
#include "closer/reconcile.h"

void closer_actions_clear(closer_actions *l) {
        l->n = 0;
}

void closer_actions_done(closer_actions *l) {
        free(l->a);
        *l = (closer_actions) {0};
}

static int push(closer_actions *l, closer_action a) {
        if (!GREEDY_REALLOC(l->a, l->cap, l->n + 1))
                return -ENOMEM;
        l->a[l->n++] = a;
        return 0;
}

/* Kernel T0 threads are left to the kernel: most are bound per CPU and the
 * rest are the kernel's business. T0 user processes are confined to main. */
bool closer_reconcile_manages_thread(const closer_thread *t, const closer_plan_thread *pt) {
        if (pt->domain_index >= 0)
                return true;
        return !(t->kernel && pt->cls == CLOSER_T0);
}

bool closer_reconcile_skipped(const closer_applied *ap, bool is_irq, int id, uint64_t start_time) {
        for (unsigned i = 0; i < ap->n_skip; i++)
                if (ap->skip[i].is_irq == is_irq && ap->skip[i].id == id && ap->skip[i].start_time == start_time)
                        return true;
        return false;
}

/* Stuck: more than half of what was asked is still to go, and more than
 * 8 MiB of it (a balloon that stops a few pages short has followed). */
bool closer_reconcile_balloon_stuck(uint64_t want_kib, uint64_t was_kib, uint64_t actual_kib) {
        uint64_t asked = want_kib > was_kib ? want_kib - was_kib : was_kib - want_kib;
        uint64_t left = want_kib > actual_kib ? want_kib - actual_kib : actual_kib - want_kib;
        return left * 2 > asked && left > 8192;
}

/* charge = cap: "the resources consumed by the secondary containers are
 * taken from the resource quota of the domU" (§3.3), enforced. The floor
 * keeps a VM whose dom0 work exceeds its quota running at all. */
unsigned closer_reconcile_cap(unsigned found_pct, unsigned n_vcpus, uint64_t dom0_cpu_ns, uint64_t interval_ns) {
        unsigned quota = found_pct ? found_pct : n_vcpus * 100u;
        unsigned dom0_pct = interval_ns ? (unsigned) ((dom0_cpu_ns * 100 + interval_ns - 1) / interval_ns) : 0;
        return quota > dom0_pct + 10 ? quota - dom0_pct : 10;
}

static const closer_leaf_made *leaf_made(const closer_applied *ap, int node, int domid) {
        for (unsigned i = 0; i < ap->n_leaves; i++)
                if (ap->leaves[i].node == node && ap->leaves[i].domid == domid)
                        return &ap->leaves[i];
        return NULL;
}

/* A process this run moved into that very leaf stays there: not moved
 * again (its cgroup as found is recorded already). */
static bool moved_already(const closer_applied *ap, int pid, uint64_t start_time, int node, int domid) {
        for (unsigned i = 0; i < ap->n_moved; i++)
                if (ap->moved[i].pid == pid)
                        return ap->moved[i].start_time == start_time && ap->moved[i].node == node &&
                               ap->moved[i].domid == domid;
        return false;
}

int closer_reconcile_cgroups(const closer_plan *p, const closer_snapshot *s, const closer_applied *ap,
                             closer_actions *out) {
        int last_pid = -1;

        for (unsigned i = 0; i < p->n_secondary; i++) {
                const closer_plan_secondary *sec = &p->secondary[i];
                if (closer_cpuset_is_empty(&sec->dom0_cpus) || sec->node < 0 || sec->node >= (int) CLOSER_NODES_MAX ||
                    closer_cpuset_equal(&ap->node_cpus[sec->node], &sec->dom0_cpus))
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_NODE_CPUS,
                                               .leaf = {.node = sec->node, .domid = -1, .cpus = &sec->dom0_cpus}}) < 0)
                        return -ENOMEM;
        }
        for (unsigned i = 0; i < p->n_leaves; i++) {
                const closer_plan_leaf *pl = &p->leaves[i];
                const closer_leaf_made *made = leaf_made(ap, pl->node, pl->domid);
                if (made && closer_cpuset_equal(&made->cpus, &pl->dom0_cpus))
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_LEAF,
                                               .leaf = {.node = pl->node, .domid = pl->domid, .cpus = &pl->dom0_cpus}}) < 0)
                        return -ENOMEM;
        }
        for (unsigned i = 0; i < p->n_threads; i++) {
                const closer_plan_thread *pt = &p->threads[i];
                const closer_thread *t = &s->threads[i];
                if (pt->domain_index < 0 || t->pid == last_pid || t->tid != t->pid)
                        continue;       /* one entry per process: its main thread */
                last_pid = t->pid;
                if (moved_already(ap, t->pid, t->start_time, pt->node, pt->domid) ||
                    closer_reconcile_skipped(ap, false, t->pid, t->start_time))
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_PROCESS,
                                               .process = {.index = i, .pid = t->pid, .start_time = t->start_time,
                                                           .node = pt->node, .domid = pt->domid}}) < 0)
                        return -ENOMEM;
        }
        /* A running domain's leaf on a node it left (its vCPUs were
         * re-pinned): empty once its processes moved (above). Leaves of
         * domains that left go with their domain, not here. */
        for (unsigned i = ap->n_leaves; i-- > 0;) {
                const closer_leaf_made *l = &ap->leaves[i];
                bool live = false, planned = false;
                for (unsigned k = 0; k < p->n_domains && !live; k++)
                        live = p->domains[k].domid == l->domid;
                for (unsigned k = 0; k < p->n_leaves && !planned; k++)
                        planned = p->leaves[k].domid == l->domid && p->leaves[k].node == l->node;
                if (!live || planned)
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_LEAF_REMOVE,
                                               .leaf = {.node = l->node, .domid = l->domid}}) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int closer_reconcile_threads(const closer_plan *p, const closer_snapshot *s, const closer_found_cpus *found,
                             unsigned n_found, closer_actions *out) {
        for (unsigned k = 0; k < n_found; k++) {
                unsigned i = found[k].index;
                if (i >= p->n_threads || i >= s->n_threads)
                        continue;
                const closer_thread *t = &s->threads[i];
                const closer_plan_thread *pt = &p->threads[i];
                if (!closer_reconcile_manages_thread(t, pt) || closer_cpuset_equal(&found[k].cpus, pt->dom0_cpus))
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_THREAD,
                                               .thread = {.index = i, .tid = t->tid, .start_time = t->start_time,
                                                          .cpus = pt->dom0_cpus, .found = &found[k].cpus}}) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int closer_reconcile_irqs(const closer_plan *p, const closer_found_cpus *found, unsigned n_found,
                          closer_actions *out) {
        for (unsigned k = 0; k < n_found; k++) {
                if (found[k].index >= p->n_irqs)
                        continue;
                const closer_plan_irq *pi = &p->irqs[found[k].index];
                closer_cpuset want;
                closer_cpuset_zero(&want);
                if (pi->dom0_cpu < 0 || closer_cpuset_set(&want, (unsigned) pi->dom0_cpu) < 0 ||
                    closer_cpuset_equal(&found[k].cpus, &want))
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_IRQ,
                                               .irq = {.index = found[k].index, .irq = pi->irq, .domid = pi->domid,
                                                       .cpu = pi->dom0_cpu, .found = &found[k].cpus}}) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* What memory leaves one side arrives on the other only after: a VM shrinks
 * (pass 0) before dom0 grows, dom0 shrinks before a VM grows (pass 1).
 * A first target counts as a shrink: it never exceeds M. */
int closer_reconcile_memory(const closer_plan *p, const closer_snapshot *s, const closer_mem_now *now,
                            uint64_t dom0_found_kib, closer_actions *out) {
        uint64_t planned = dom0_found_kib;
        unsigned first = out->n;

        for (unsigned i = 0; i < p->n_domains && i < s->n_domains; i++) {
                const closer_mem_now *n = &now[i];
                if (!n->tracked || n->stuck)
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_VM_MEM_LEVEL,
                                               .vm_mem = {.index = i, .domid = s->domains[i].domid,
                                                          .io_level = p->domains[i].io_level}}) < 0)
                        return -ENOMEM;
                if (n->checked && closer_reconcile_balloon_stuck(n->applied_kib, n->actual_at_set_kib, n->actual_kib)) {
                        uint64_t want = n->applied_kib, was = n->actual_at_set_kib, actual = n->actual_kib;
                        if (push(out, (closer_action) {.op = CLOSER_OP_VM_MEM_PUT_BACK,
                                                       .vm_mem = {.index = i, .domid = s->domains[i].domid,
                                                                  .asked_kib = want > was ? want - was : was - want,
                                                                  .left_kib = want > actual ? want - actual
                                                                                            : actual - want}}) < 0)
                                return -ENOMEM;
                        continue;
                }
                planned += p->domains[i].dom0_reserve_kib;
                uint64_t want = p->domains[i].mem_target_kib;
                bool shrink = n->applied_kib == 0 || want < n->applied_kib;
                if (want == n->applied_kib || !shrink)
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_VM_MEM,
                                               .vm_mem = {.index = i, .domid = s->domains[i].domid, .target_kib = want}}) < 0)
                        return -ENOMEM;
        }
        if (push(out, (closer_action) {.op = CLOSER_OP_DOM0_MEM,
                                       .dom0_mem = {.shrink_only = true, .found_kib = dom0_found_kib,
                                                    .planned_kib = planned}}) < 0)
                return -ENOMEM;
        for (unsigned i = 0; i < p->n_domains && i < s->n_domains; i++) {
                const closer_mem_now *n = &now[i];
                bool put_back = false;
                for (unsigned k = first; k < out->n && !put_back; k++)
                        put_back = out->a[k].op == CLOSER_OP_VM_MEM_PUT_BACK && out->a[k].vm_mem.index == i;
                if (!n->tracked || n->stuck || put_back)
                        continue;
                uint64_t want = p->domains[i].mem_target_kib;
                if (n->applied_kib == 0 || want <= n->applied_kib)
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_VM_MEM,
                                               .vm_mem = {.index = i, .domid = s->domains[i].domid, .target_kib = want,
                                                          .grow = true}}) < 0)
                        return -ENOMEM;
        }
        if (push(out, (closer_action) {.op = CLOSER_OP_DOM0_MEM,
                                       .dom0_mem = {.found_kib = dom0_found_kib, .planned_kib = planned}}) < 0)
                return -ENOMEM;
        return 0;
}

int closer_reconcile_caps(const closer_snapshot *s, const closer_acct_row *rows, unsigned n_rows,
                          const closer_cap_now *now, closer_actions *out) {
        for (unsigned i = 0; i < n_rows; i++) {
                const closer_acct_row *row = &rows[i];
                const closer_domain *d = i < s->n_domains && s->domains[i].domid == row->domid
                                                 ? &s->domains[i]
                                                 : closer_snapshot_find_domain(s, row->domid);
                if (!d || !now[i].known || row->interval_ns == 0)
                        continue;
                unsigned cap = closer_reconcile_cap(now[i].found_pct, d->n_vcpus, row->dom0_cpu_ns, row->interval_ns);
                unsigned applied = now[i].applied_pct;
                /* no churn: a cap moves by 5 points or more */
                if (applied && (cap > applied ? cap - applied : applied - cap) < 5)
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_CAP,
                                               .cap = {.index = (unsigned) (d - s->domains), .domid = d->domid, .cap_pct = cap,
                                                       .found_pct = now[i].found_pct}}) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int closer_reconcile_caps_put_back(const closer_cap_found *found, unsigned n_found, closer_actions *out) {
        for (unsigned i = 0; i < n_found; i++)
                if (push(out, (closer_action) {.op = CLOSER_OP_CAP_PUT_BACK,
                                               .cap = {.domid = found[i].domid, .cap_pct = found[i].cap_pct,
                                                       .found_pct = found[i].cap_pct}}) < 0)
                        return -ENOMEM;
        return 0;
}

int closer_reconcile_units(const closer_cpuset *main_cpus, const closer_unit_now *now, unsigned n,
                           closer_actions *out) {
        if (closer_cpuset_is_empty(main_cpus))
                return 0;
        for (unsigned i = 0; i < n; i++) {
                if (!now[i].known || !now[i].unit || closer_cpuset_equal(&now[i].cpus, main_cpus))
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_UNIT_CPUS,
                                               .unit = {.name = now[i].unit, .cpus = main_cpus,
                                                        .found = &now[i].cpus}}) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int closer_reconcile_units_put_back(const closer_unit_now *found, unsigned n, closer_actions *out) {
        for (unsigned i = 0; i < n; i++) {
                if (!found[i].known || !found[i].unit)
                        continue;
                if (push(out, (closer_action) {.op = CLOSER_OP_UNIT_CPUS_PUT_BACK,
                                               .unit = {.name = found[i].unit, .cpus = &found[i].cpus,
                                                        .found = &found[i].cpus}}) < 0)
                        return -ENOMEM;
        }
        return 0;
}
