/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/strbuf.h"
#include "closer/plan.h"

closer_plan *closer_plan_free(closer_plan *p) {
        if (!p)
                return NULL;
        free(p->secondary);
        free(p->domains);
        free(p->leaves);
        free(p->threads);
        free(p->irqs);
        free(p);
        return NULL;
}

const char *closer_plan_thread_container(const closer_plan_thread *t, char *buf, size_t len) {
        if (t->node < 0 || t->domain_index < 0)
                snprintf(buf, len, "main");
        else
                snprintf(buf, len, "node%d/vm%d", t->node, t->domid);
        return buf;
}

static void short_cpulist(const closer_cpuset *s, char *buf, size_t len) {
        if (closer_cpuset_format(s, buf, len) < 0)
                snprintf(buf, len, "%u CPUs", closer_cpuset_count(s));
}

const char *closer_plan_thread_why(const closer_plan *p, const closer_plan_thread *t, char *buf, size_t len) {
        char cpus[64];

        if (t->domain_index < 0 || (unsigned) t->domain_index >= p->n_domains) {
                if (t->domid > 0)
                        snprintf(buf, len, "%s: domain %d is not running, main container", t->what, t->domid);
                else
                        snprintf(buf, len, "%s: %s, main container", t->what, closer_class_to_string(t->cls));
                return buf;
        }
        const closer_plan_domain *pd = &p->domains[t->domain_index];
        if (t->admin)
                snprintf(buf, len, "%s: admin work, dom0 CPU %d under its vCPU 0, node %d container", t->what,
                         pd->admin_dom0_cpu, pd->node);
        else if (pd->n_leaves <= 1 || t->leaf_index < 0 || (unsigned) t->leaf_index >= p->n_leaves) {
                short_cpulist(&pd->backend_dom0_cpus, cpus, sizeof(cpus));
                snprintf(buf, len, "%s: its vCPUs on pCPUs %s -> dom0 CPUs %s", t->what, pd->vcpu_pcpus, cpus);
        } else {
                /* a domain on several sockets: say which one, and why */
                const closer_plan_leaf *l = &p->leaves[t->leaf_index];
                short_cpulist(&l->dom0_cpus, cpus, sizeof(cpus));
                if (t->vcpu >= 0)
                        snprintf(buf, len, "%s: queue %d -> vCPU %d, on node %d -> dom0 CPUs %s", t->what, t->queue,
                                 t->vcpu, l->node, cpus);
                else if (t->queue >= 0)
                        snprintf(buf, len, "%s: queue %d, its vCPU offline or on a node without secondary dom0 CPUs "
                                 "-> home node %d, dom0 CPUs %s", t->what, t->queue, l->node, cpus);
                else
                        snprintf(buf, len, "%s: no one queue's work -> home node %d, dom0 CPUs %s", t->what, l->node,
                                 cpus);
        }
        return buf;
}

static const char *irq_kind_to_string(closer_irq_kind k) {
        switch (k) {
        case CLOSER_IRQ_VM_INITIATED:
                return "vm";
        case CLOSER_IRQ_EXTERNAL:
                return "external";
        default:
                return "unknown";
        }
}

/* A cpulist as a JSON string; on the (impossible with CLOSER_CPULIST_MAX)
 * format failure an empty string, never garbage. */
static json_t *cpulist_json(const closer_cpuset *s) {
        static _Thread_local char buf[CLOSER_CPULIST_MAX];
        if (closer_cpuset_format(s, buf, sizeof(buf)) < 0)
                buf[0] = '\0';
        return json_string(buf);
}

static json_t *plan_json(const closer_plan *p) {
        json_t *root = json_object(), *arr, *o;
        char cont[48], why[256];

        if (!root)
                return NULL;
        json_object_set_new(root, "format", json_string("closer-plan/1"));
        json_object_set_new(root, "time_ns", json_integer((json_int_t) p->time_ns));
        o = json_object();
        json_object_set_new(o, "dom0_cpus", cpulist_json(&p->main.dom0_cpus));
        json_object_set_new(o, "mem_kib", json_integer((json_int_t) p->main.mem_kib));
        json_object_set_new(o, "node", json_integer(p->main.node));
        json_object_set_new(o, "vcpus", json_integer(p->main.vcpus));
        json_object_set_new(root, "main", o);

        arr = json_array();
        for (unsigned i = 0; i < p->n_secondary; i++) {
                o = json_object();
                json_object_set_new(o, "node", json_integer(p->secondary[i].node));
                json_object_set_new(o, "dom0_cpus", cpulist_json(&p->secondary[i].dom0_cpus));
                json_array_append_new(arr, o);
        }
        json_object_set_new(root, "secondary", arr);

        arr = json_array();
        for (unsigned i = 0; i < p->n_domains; i++) {
                const closer_plan_domain *d = &p->domains[i];
                o = json_object();
                json_object_set_new(o, "domid", json_integer(d->domid));
                json_object_set_new(o, "node", json_integer(d->node));
                json_object_set_new(o, "sockets", json_integer(d->n_sockets));
                json_object_set_new(o, "backend_dom0_cpus", cpulist_json(&d->backend_dom0_cpus));
                json_t *leaves = json_array();
                for (unsigned k = 0; k < d->n_leaves && d->first_leaf + k < p->n_leaves; k++) {
                        const closer_plan_leaf *l = &p->leaves[d->first_leaf + k];
                        json_t *lo = json_object();
                        json_object_set_new(lo, "node", json_integer(l->node));
                        json_object_set_new(lo, "dom0_cpus", cpulist_json(&l->dom0_cpus));
                        json_object_set_new(lo, "vcpus", json_integer(l->n_vcpus));
                        json_object_set_new(lo, "dom0_reserve_kib", json_integer((json_int_t) l->dom0_reserve_kib));
                        json_object_set_new(lo, "home", json_boolean(d->first_leaf + k == d->home_leaf));
                        json_array_append_new(leaves, lo);
                }
                json_object_set_new(o, "containers", leaves);
                json_object_set_new(o, "admin_dom0_cpu", json_integer(d->admin_dom0_cpu));
                json_object_set_new(o, "mem_target_kib", json_integer((json_int_t) d->mem_target_kib));
                json_object_set_new(o, "dom0_reserve_kib", json_integer((json_int_t) d->dom0_reserve_kib));
                json_object_set_new(o, "io_level", json_integer(d->io_level));
                json_object_set_new(o, "why", json_string(d->why));
                json_array_append_new(arr, o);
        }
        json_object_set_new(root, "domains", arr);

        arr = json_array();
        for (unsigned i = 0; i < p->n_threads; i++) {
                const closer_plan_thread *t = &p->threads[i];
                o = json_object();
                json_object_set_new(o, "tid", json_integer(t->tid));
                json_object_set_new(o, "pid", json_integer(t->pid));
                json_object_set_new(o, "class", json_string(closer_class_to_string(t->cls)));
                json_object_set_new(o, "domid", t->domid == CLOSER_DOMID_NONE ? json_null() : json_integer(t->domid));
                json_object_set_new(o, "container", json_string(closer_plan_thread_container(t, cont, sizeof(cont))));
                json_object_set_new(o, "dom0_cpus", cpulist_json(t->dom0_cpus));
                json_object_set_new(o, "why", json_string(closer_plan_thread_why(p, t, why, sizeof(why))));
                json_array_append_new(arr, o);
        }
        json_object_set_new(root, "threads", arr);

        arr = json_array();
        for (unsigned i = 0; i < p->n_irqs; i++) {
                const closer_plan_irq *q = &p->irqs[i];
                o = json_object();
                json_object_set_new(o, "irq", json_integer(q->irq));
                json_object_set_new(o, "domid", json_integer(q->domid));
                json_object_set_new(o, "queue", q->queue < 0 ? json_null() : json_integer(q->queue));
                json_object_set_new(o, "kind", json_string(irq_kind_to_string(q->kind)));
                json_object_set_new(o, "dom0_cpu", json_integer(q->dom0_cpu));
                json_object_set_new(o, "why", json_string(q->why));
                json_array_append_new(arr, o);
        }
        json_object_set_new(root, "irqs", arr);
        return root;
}

char *closer_plan_to_json(const closer_plan *p) {
        json_t *root = plan_json(p);
        if (!root)
                return NULL;
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
        return s;
}

char *closer_plan_to_table(const closer_plan *p) {
        closer_strbuf b = {};
        char l1[CLOSER_CPULIST_MAX], cont[48], why[256];
        unsigned main_threads = 0;

        (void) closer_cpuset_format(&p->main.dom0_cpus, l1, sizeof(l1));
        closer_strbuf_printf(&b,
                             "MAIN CONTAINER (provider-paid, static)\n  node %d, dom0 CPUs %s (%u vCPUs), %llu MiB\n\n",
                             p->main.node, l1, p->main.vcpus, (unsigned long long) (p->main.mem_kib / 1024));

        closer_strbuf_printf(&b, "SECONDARY CONTAINERS (one per socket, VM-paid)\n");
        if (p->n_secondary == 0)
                closer_strbuf_printf(&b, "  none: no domain runs\n");
        for (unsigned i = 0; i < p->n_secondary; i++) {
                (void) closer_cpuset_format(&p->secondary[i].dom0_cpus, l1, sizeof(l1));
                closer_strbuf_printf(&b, "  node %-3d dom0 CPUs %s\n", p->secondary[i].node, *l1 ? l1 : "(none)");
        }

        closer_strbuf_printf(&b, "\nDOMAINS\n  %5s %4s %7s %-14s %5s %12s %12s %5s  %s\n", "DOMID", "NODE", "SOCKETS",
                             "BACKEND CPUS", "ADMIN", "TARGET MiB", "DOM0 MiB", "LEVEL", "WHY");
        for (unsigned i = 0; i < p->n_domains; i++) {
                const closer_plan_domain *d = &p->domains[i];
                (void) closer_cpuset_format(&d->backend_dom0_cpus, l1, sizeof(l1));
                closer_strbuf_printf(&b, "  %5d %4d %7u %-14s %5d %12.1f %12.1f %5u  %s\n", d->domid, d->node,
                                     d->n_sockets, l1, d->admin_dom0_cpu, (double) d->mem_target_kib / 1024.0,
                                     (double) d->dom0_reserve_kib / 1024.0, d->io_level, d->why);
        }

        closer_strbuf_printf(&b,
                             "\nDOMAIN CONTAINERS (node<N>/vm<D>: one per node a domain runs on, eps each; the home "
                             "one also holds its admin work, device model and I/O level's memory)\n  %-14s %-14s %5s %12s  %s\n",
                             "CONTAINER", "DOM0 CPUS", "VCPUS", "DOM0 MiB", "HOME");
        for (unsigned i = 0; i < p->n_domains; i++) {
                const closer_plan_domain *d = &p->domains[i];
                for (unsigned k = 0; k < d->n_leaves && d->first_leaf + k < p->n_leaves; k++) {
                        const closer_plan_leaf *l = &p->leaves[d->first_leaf + k];
                        (void) closer_cpuset_format(&l->dom0_cpus, l1, sizeof(l1));
                        snprintf(cont, sizeof(cont), "node%d/vm%d", l->node, l->domid);
                        closer_strbuf_printf(&b, "  %-14s %-14s %5u %12.1f  %s\n", cont, l1, l->n_vcpus,
                                             (double) l->dom0_reserve_kib / 1024.0,
                                             d->first_leaf + k == d->home_leaf ? "yes" : "-");
                }
        }

        closer_strbuf_printf(&b, "\nTHREADS (T0 threads in the main container are counted, not listed)\n");
        closer_strbuf_printf(&b, "  %7s %5s %5s %-12s %-10s  %s\n", "TID", "CLASS", "DOMID", "CONTAINER", "DOM0 CPUS",
                             "WHY");
        for (unsigned i = 0; i < p->n_threads; i++) {
                const closer_plan_thread *t = &p->threads[i];
                if (t->cls == CLOSER_T0 && t->domid == CLOSER_DOMID_NONE) {
                        main_threads++;
                        continue;
                }
                (void) closer_cpuset_format(t->dom0_cpus, l1, sizeof(l1));
                char dom[16];
                if (t->domid == CLOSER_DOMID_NONE)
                        snprintf(dom, sizeof(dom), "-");
                else
                        snprintf(dom, sizeof(dom), "%d", t->domid);
                closer_strbuf_printf(&b, "  %7d %5s %5s %-12s %-10s  %s\n", t->tid, closer_class_to_string(t->cls), dom,
                                     closer_plan_thread_container(t, cont, sizeof(cont)), l1,
                                     closer_plan_thread_why(p, t, why, sizeof(why)));
        }
        closer_strbuf_printf(&b, "  + %u T0 threads -> main\n", main_threads);

        closer_strbuf_printf(&b, "\nIRQS (event channels of domain backends)\n  %5s %5s %5s %-8s %8s  %s\n", "IRQ",
                             "DOMID",
                             "QUEUE", "KIND", "DOM0 CPU", "WHY");
        for (unsigned i = 0; i < p->n_irqs; i++) {
                const closer_plan_irq *q = &p->irqs[i];
                char queue[16];
                if (q->queue < 0)
                        snprintf(queue, sizeof(queue), "-");
                else
                        snprintf(queue, sizeof(queue), "%d", q->queue);
                closer_strbuf_printf(&b, "  %5u %5d %5s %-8s %8d  %s\n", q->irq, q->domid, queue,
                                     irq_kind_to_string(q->kind),
                                     q->dom0_cpu, q->why);
        }
        return closer_strbuf_steal(&b);
}
