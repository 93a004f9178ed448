/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerctl scan [--root DIR] [--json]: what closer sees in this dom0 without
 * a hypervisor — every thread with its class (thesis table 3.1) and domain,
 * every IRQ with its domain and queue — all read through --root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "basic/sort-util.h"
#include "cli/closerctl.h"
#include "closer/rules.h"
#include "linux/linux.h"

typedef struct scan {
        closer_root *root;
        closer_snapshot snap;           /* threads, irqs and live domains only */
        unsigned vanished;
        closer_classification *tcls;
        closer_irq_class *icls;
        closer_cpuset *aff, *eff, *tallowed;
        bool *has_aff, *has_eff, *has_tallowed;
        closer_backend_io *io;
        unsigned n_io;
        bool cgroup_ok;
        char cgroup[4096];              /* mount point, or the error */
} scan;

static void scan_done(scan *s) {
        closer_hostos_threads_free(s->snap.threads, s->snap.n_threads);
        closer_hostos_irqs_free(s->snap.irqs, s->snap.n_irqs);
        free(s->snap.domains);
        free(s->tcls);
        free(s->icls);
        free(s->aff);
        free(s->eff);
        free(s->has_aff);
        free(s->has_eff);
        free(s->tallowed);
        free(s->has_tallowed);
        free(s->io);
        closer_root_free(s->root);
}

static int cmp_thread(const void *a, const void *b) {
        const closer_thread *x = a, *y = b;
        if (x->pid != y->pid)
                return x->pid < y->pid ? -1 : 1;
        return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int cmp_irq(const void *a, const void *b) {
        const closer_irq *x = a, *y = b;
        return x->irq < y->irq ? -1 : x->irq > y->irq;
}

static int cmp_domain(const void *a, const void *b) {
        const closer_domain *x = a, *y = b;
        return x->domid < y->domid ? -1 : x->domid > y->domid;
}

/* Live domains as dom0's backends see them: /sys/bus/xen-backend/devices/
 * <type>-<domid>-<devid>. Without a hypervisor this is the only trusted
 * source of domids (names stay unknown, so `xl save NAME` stays unresolved). */
static int read_backend_domains(scan *s) {
        int fd = closer_root_openat(s->root, "/sys/bus/xen-backend/devices", O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
                return 0;       /* not a Xen dom0, or no backend yet */
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                char type[CLOSER_BACKEND_TYPE_MAX];
                int domid, devid;
                /* the very names closer_backend_read_io() counts I/O for */
                if (closer_backend_parse_name(de->d_name, type, sizeof(type), &domid, &devid) < 0)
                        continue;
                bool dup = false;
                for (unsigned i = 0; i < s->snap.n_domains; i++)
                        dup |= s->snap.domains[i].domid == domid;
                if (dup)
                        continue;
                closer_domain *nd = realloc(s->snap.domains, (s->snap.n_domains + 1) * sizeof(*nd));
                if (!nd) {
                        closedir(d);
                        return -ENOMEM;
                }
                s->snap.domains = nd;
                memset(&nd[s->snap.n_domains], 0, sizeof(*nd));
                nd[s->snap.n_domains++].domid = domid;
        }
        closedir(d);
        closer_qsort_safe(s->snap.domains, s->snap.n_domains, sizeof(*s->snap.domains), cmp_domain);
        return 0;
}

static int scan_run(scan *s, const char *root, closer_error *err) {
        int r = closer_root_open(root, &s->root);
        if (r < 0)
                return closer_error_set(err, r, "%s: cannot open root: %s", root, strerror(-r));
        r = closer_proc_read_threads(s->root, &s->snap.threads, &s->snap.n_threads, &s->vanished);
        if (r < 0)
                return closer_error_set(err, r, "%s/proc: cannot read threads: %s", root, strerror(-r));
        r = closer_irq_read(s->root, &s->snap.irqs, &s->snap.n_irqs, err);
        if (r < 0)
                return r;
        r = read_backend_domains(s);
        if (r < 0)
                return closer_error_set(err, r, "%s/sys/bus/xen-backend/devices: %s", root, strerror(-r));
        r = closer_backend_read_io(s->root, &s->io, &s->n_io);
        if (r < 0)
                return closer_error_set(err, r, "%s/sys/bus/xen-backend/devices: %s", root, strerror(-r));
        closer_backend_io_by_domain(s->io, &s->n_io);   /* shown per domain */
        closer_qsort_safe(s->snap.threads, s->snap.n_threads, sizeof(*s->snap.threads), cmp_thread);
        closer_qsort_safe(s->snap.irqs, s->snap.n_irqs, sizeof(*s->snap.irqs), cmp_irq);

        unsigned nt = s->snap.n_threads ? s->snap.n_threads : 1, ni = s->snap.n_irqs ? s->snap.n_irqs : 1;
        s->tcls = calloc(nt, sizeof(*s->tcls));
        s->icls = calloc(ni, sizeof(*s->icls));
        s->aff = calloc(ni, sizeof(*s->aff));
        s->eff = calloc(ni, sizeof(*s->eff));
        s->has_aff = calloc(ni, sizeof(*s->has_aff));
        s->has_eff = calloc(ni, sizeof(*s->has_eff));
        s->tallowed = calloc(nt, sizeof(*s->tallowed));
        s->has_tallowed = calloc(nt, sizeof(*s->has_tallowed));
        if (!s->tcls || !s->icls || !s->aff || !s->eff || !s->has_aff || !s->has_eff || !s->tallowed ||
            !s->has_tallowed)
                return closer_error_set(err, -ENOMEM, "out of memory");
        for (unsigned i = 0; i < s->snap.n_threads; i++) {
                const closer_thread *t = &s->snap.threads[i];
                closer_classify_thread(&s->snap, t, &s->tcls[i]);
                s->has_tallowed[i] = closer_proc_read_allowed(s->root, t->pid, t->tid, &s->tallowed[i]) == 0;
        }
        for (unsigned i = 0; i < s->snap.n_irqs; i++) {
                closer_classify_irq(&s->snap.irqs[i], &s->icls[i]);
                s->has_aff[i] = closer_irq_read_affinity(s->root, s->snap.irqs[i].irq, false, &s->aff[i]) == 0;
                s->has_eff[i] = closer_irq_read_affinity(s->root, s->snap.irqs[i].irq, true, &s->eff[i]) == 0;
        }
        closer_error cerr = {{0}};
        s->cgroup_ok = closer_cgroup_find_mount(s->root, s->cgroup, sizeof(s->cgroup), &cerr) == 0;
        if (!s->cgroup_ok) {
                /* the message names the root path: keep only what follows it, so
                 * outputs do not depend on where a fixture tree lives */
                const char *m = strstr(cerr.msg, "proc/self/mountinfo: ");
                snprintf(s->cgroup, sizeof(s->cgroup), "%s", m ? m + strlen("proc/self/mountinfo: ") : cerr.msg);
        }
        return 0;
}

static const char *kind_str(closer_irq_kind k) {
        switch (k) {
        case CLOSER_IRQ_VM_INITIATED: return "vm-initiated";
        case CLOSER_IRQ_EXTERNAL: return "external";
        case CLOSER_IRQ_UNKNOWN: break;
        }
        return "-";
}

static uint64_t irq_total(const closer_irq *irq) {
        uint64_t t = 0;
        for (unsigned c = 0; c < irq->n_counts; c++)
                t += irq->per_cpu_counts[c];
        return t;
}

static void fmt_set(const closer_cpuset *set, bool has, char *buf, size_t len) {
        if (!has || closer_cpuset_format(set, buf, len) < 0)
                snprintf(buf, len, "-");
}

/* Thread and IRQ names are chosen by whoever runs the process (or by a
 * guest, for some backend names): never send their control bytes to the
 * operator's terminal. */
static const char *printable(const char *in, size_t max, char *buf, size_t len) {
        size_t o = 0;
        for (size_t i = 0; i < max && in[i] && o + 1 < len; i++) {
                unsigned char c = (unsigned char) in[i];
                buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char) c;
        }
        buf[o] = '\0';
        return buf;
}

static int print_text(const scan *s) {
        unsigned by_class[4] = {0};
        for (unsigned i = 0; i < s->snap.n_threads; i++)
                by_class[s->tcls[i].cls]++;
        printf("closer scan: %u threads (T0 %u, T1 %u, T2 %u, T3 %u; %u vanished while reading), %u IRQs\n",
               s->snap.n_threads, by_class[0], by_class[1], by_class[2], by_class[3], s->vanished, s->snap.n_irqs);
        printf("cgroup: %s%s\n", s->cgroup_ok ? "v2 at " : "", s->cgroup);
        printf("live domains (xen-backend):");
        if (s->snap.n_domains == 0)
                printf(" none");
        for (unsigned i = 0; i < s->snap.n_domains; i++)
                printf(" %d", s->snap.domains[i].domid);
        printf("\n");
        if (s->n_io > 0) {
                printf("\nBACKEND I/O (cumulative)\n%6s %12s %16s %12s %16s\n", "DOMID", "BLOCK_OPS", "BLOCK_BYTES",
                       "NET_PACKETS", "NET_BYTES");
                for (unsigned i = 0; i < s->n_io; i++)
                        printf("%6d %12llu %16llu %12llu %16llu\n", s->io[i].domid,
                               (unsigned long long) s->io[i].block_ops, (unsigned long long) s->io[i].block_bytes,
                               (unsigned long long) s->io[i].net_packets, (unsigned long long) s->io[i].net_bytes);
        }
        printf("\nTHREADS\n%7s %7s %-5s %5s %-5s %-4s %4s %-10s %-16s %-18s %s\n", "PID", "TID", "CLASS", "DOMID",
               "ADMIN", "KIND", "CPU", "ALLOWED", "COMM", "RULE", "WHY");
        for (unsigned i = 0; i < s->snap.n_threads; i++) {
                const closer_thread *t = &s->snap.threads[i];
                const closer_classification *c = &s->tcls[i];
                char dom[16];
                if (c->domid == CLOSER_DOMID_NONE)
                        snprintf(dom, sizeof(dom), "-");
                else
                        snprintf(dom, sizeof(dom), "%d", c->domid);
                char allowed[CLOSER_CPULIST_MAX];
                fmt_set(&s->tallowed[i], s->has_tallowed[i], allowed, sizeof(allowed));
                char comm[CLOSER_NAME_MAX], what[sizeof(c->what)];
                printf("%7d %7d %-5s %5s %-5s %-4s %4d %-10s %-16s %-18s %s\n", t->pid, t->tid,
                       closer_class_to_string(c->cls), dom, c->admin_for_domain ? "yes" : "-",
                       t->kernel ? "kthr" : "user", t->last_cpu, allowed,
                       printable(t->comm, sizeof(t->comm), comm, sizeof(comm)), c->rule,
                       printable(c->what, sizeof(c->what), what, sizeof(what)));
        }
        printf("\nIRQS\n%6s %-18s %-26s %5s %5s %-12s %-10s %-10s %12s %s\n", "IRQ", "CHIP", "NAME", "DOMID", "QUEUE",
               "KIND", "AFFINITY", "EFFECTIVE", "COUNT", "WHY");
        for (unsigned i = 0; i < s->snap.n_irqs; i++) {
                const closer_irq *irq = &s->snap.irqs[i];
                const closer_irq_class *c = &s->icls[i];
                char dom[16], q[16], aff[CLOSER_CPULIST_MAX], eff[CLOSER_CPULIST_MAX];
                snprintf(dom, sizeof(dom), c->domid == CLOSER_DOMID_NONE ? "-" : "%d", c->domid);
                snprintf(q, sizeof(q), c->queue < 0 ? "-" : "%d", c->queue);
                fmt_set(&s->aff[i], s->has_aff[i], aff, sizeof(aff));
                fmt_set(&s->eff[i], s->has_eff[i], eff, sizeof(eff));
                char chip[CLOSER_NAME_MAX], name[CLOSER_NAME_MAX], what[sizeof(c->what)];
                printf("%6u %-18s %-26s %5s %5s %-12s %-10s %-10s %12llu %s\n", irq->irq,
                       printable(irq->chip, sizeof(irq->chip), chip, sizeof(chip)),
                       irq->name[0] ? printable(irq->name, sizeof(irq->name), name, sizeof(name)) : "-", dom, q,
                       kind_str(c->kind), aff, eff, (unsigned long long) irq_total(irq),
                       printable(c->what, sizeof(c->what), what, sizeof(what)));
        }
        return 0;
}

static json_t *domid_json(int domid) {
        return domid == CLOSER_DOMID_NONE ? json_null() : json_integer(domid);
}

static int print_json(const scan *s) {
        json_t *root = json_object(), *threads = json_array(), *irqs = json_array(), *doms = json_array();
        char buf[CLOSER_CPULIST_MAX];

        json_object_set_new(root, "format", json_string("closer-scan/1"));
        json_object_set_new(root, "vanished_threads", json_integer(s->vanished));
        json_t *cg = json_object();
        json_object_set_new(cg, "v2", json_boolean(s->cgroup_ok));
        json_object_set_new(cg, s->cgroup_ok ? "mount" : "error", json_string(s->cgroup));
        json_object_set_new(root, "cgroup", cg);
        for (unsigned i = 0; i < s->snap.n_domains; i++)
                json_array_append_new(doms, json_integer(s->snap.domains[i].domid));
        json_object_set_new(root, "backend_domids", doms);
        json_t *io = json_array();
        for (unsigned i = 0; i < s->n_io; i++) {
                json_t *o = json_object();
                json_object_set_new(o, "domid", json_integer(s->io[i].domid));
                json_object_set_new(o, "block_ops", json_integer((json_int_t) s->io[i].block_ops));
                json_object_set_new(o, "block_bytes", json_integer((json_int_t) s->io[i].block_bytes));
                json_object_set_new(o, "net_packets", json_integer((json_int_t) s->io[i].net_packets));
                json_object_set_new(o, "net_bytes", json_integer((json_int_t) s->io[i].net_bytes));
                json_array_append_new(io, o);
        }
        json_object_set_new(root, "backend_io", io);
        for (unsigned i = 0; i < s->snap.n_threads; i++) {
                const closer_thread *t = &s->snap.threads[i];
                const closer_classification *c = &s->tcls[i];
                json_t *o = json_object(), *argv = json_array();
                json_object_set_new(o, "tid", json_integer(t->tid));
                json_object_set_new(o, "pid", json_integer(t->pid));
                json_object_set_new(o, "ppid", json_integer(t->ppid));
                json_t *comm = json_stringn(t->comm, strnlen(t->comm, sizeof(t->comm)));
                json_object_set_new(o, "comm", comm ? comm : json_string("<not UTF-8>"));
                json_object_set_new(o, "kernel", json_boolean(t->kernel));
                json_object_set_new(o, "cpu_ns", json_integer((json_int_t) t->cpu_ns));
                json_object_set_new(o, "start_time", json_integer((json_int_t) t->start_time));
                json_object_set_new(o, "last_cpu", json_integer(t->last_cpu));
                fmt_set(&s->tallowed[i], s->has_tallowed[i], buf, sizeof(buf));
                json_object_set_new(o, "allowed_cpus", s->has_tallowed[i] ? json_string(buf) : json_null());
                for (unsigned k = 0; k < t->n_cmdline; k++) {
                        /* argv is arbitrary bytes: keep it valid UTF-8 for JSON */
                        json_t *a = json_string(t->cmdline[k]);
                        json_array_append_new(argv, a ? a : json_string("<not UTF-8>"));
                }
                json_object_set_new(o, "cmdline", argv);
                json_object_set_new(o, "class", json_string(closer_class_to_string(c->cls)));
                json_object_set_new(o, "domid", domid_json(c->domid));
                json_object_set_new(o, "admin_for_domain", json_boolean(c->admin_for_domain));
                json_object_set_new(o, "rule", json_string(c->rule));
                json_t *why = json_string(c->what);
                json_object_set_new(o, "why", why ? why : json_string("<not UTF-8>"));
                json_array_append_new(threads, o);
        }
        for (unsigned i = 0; i < s->snap.n_irqs; i++) {
                const closer_irq *irq = &s->snap.irqs[i];
                const closer_irq_class *c = &s->icls[i];
                json_t *o = json_object();
                json_object_set_new(o, "irq", json_integer(irq->irq));
                json_t *chip = json_stringn(irq->chip, strnlen(irq->chip, sizeof(irq->chip)));
                json_object_set_new(o, "chip", chip ? chip : json_string("<not UTF-8>"));
                json_t *name = json_stringn(irq->name, strnlen(irq->name, sizeof(irq->name)));
                json_object_set_new(o, "name", name ? name : json_string("<not UTF-8>"));
                json_object_set_new(o, "domid", domid_json(c->domid));
                json_object_set_new(o, "queue", c->queue < 0 ? json_null() : json_integer(c->queue));
                json_object_set_new(o, "kind", json_string(kind_str(c->kind)));
                fmt_set(&s->aff[i], s->has_aff[i], buf, sizeof(buf));
                json_object_set_new(o, "affinity", s->has_aff[i] ? json_string(buf) : json_null());
                fmt_set(&s->eff[i], s->has_eff[i], buf, sizeof(buf));
                json_object_set_new(o, "effective_affinity", s->has_eff[i] ? json_string(buf) : json_null());
                json_object_set_new(o, "count", json_integer((json_int_t) irq_total(irq)));
                json_t *why = json_string(c->what);
                json_object_set_new(o, "why", why ? why : json_string("<not UTF-8>"));
                json_array_append_new(irqs, o);
        }
        json_object_set_new(root, "threads", threads);
        json_object_set_new(root, "irqs", irqs);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
        if (!text)
                return -ENOMEM;
        puts(text);
        free(text);
        return 0;
}

static void scan_help(FILE *f) {
        fprintf(f,
                "Usage: closerctl scan [--root DIR] [--json]\n"
                "\n"
                "Show what closer sees in this dom0, without a hypervisor: every thread with its\n"
                "task class (T0 base OS, T1 datacenter agents, T2 VM administration, T3 I/O\n"
                "backends) and the domain it works for; every IRQ with its domain, queue and\n"
                "kind. Everything is read through DIR (default /): /proc/*/task/*, /proc/interrupts,\n"
                "/proc/irq/*/, /proc/self/mountinfo, /sys/bus/xen-backend/devices.\n"
                "Domains are known only by id here (from the backends), so `xl save NAME` is\n"
                "reported unresolved; closerd resolves names through the hypervisor.\n"
                "\n"
                "  --root DIR   read the host tree under DIR (e.g. a closer-gather capture)\n"
                "  --json       print closer-scan/1 JSON instead of tables\n"
                "  -h, --help   show this help\n"
                "\n"
                "Exit status: 0 ok, 2 bad usage or unreadable/malformed input.\n");
}

int closer_cmd_scan(int argc, char **argv) {
        static const struct option opts[] = {
                {"root", required_argument, NULL, 'r'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *root = "/";
        bool json = false;
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                switch (c) {
                case 'r':
                        root = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        scan_help(stdout);
                        return 0;
                default:
                        fprintf(stderr, "closerctl scan: unknown or incomplete option '%s' (see --help)\n",
                                argv[optind - 1]);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "closerctl scan: unexpected argument '%s' (see --help)\n", argv[optind]);
                return 2;
        }

        scan s = {0};
        closer_error err = {{0}};
        int r = scan_run(&s, root, &err);
        if (r < 0) {
                fprintf(stderr, "closerctl scan: %s\n", err.msg[0] ? err.msg : strerror(-r));
                scan_done(&s);
                return 2;
        }
        r = json ? print_json(&s) : print_text(&s);
        scan_done(&s);
        if (r < 0 || fflush(stdout) != 0) {
                fprintf(stderr, "closerctl scan: cannot write output: %s\n", strerror(r < 0 ? -r : errno));
                return 1;
        }
        return 0;
}
