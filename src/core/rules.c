/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Classification of dom0 threads into the thesis' task groups (§3.1, table
 * 3.1) and of event-channel IRQs into (domain, queue, kind).
 *
 * Everything read here — comm, argv, IRQ names — is untrusted text: any user
 * can name a process anything. So every parser is bounded, every number is
 * validated in full (digits only, no sign, no leading zero, in range), and a
 * domid is only ever taken from text that names it unambiguously.
 */
#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "closer/rules.h"

/* domUs are 1..CLOSER_DOMID_MAX (32751); 0 is dom0. */
#define DOMU_MIN 1u
#define DOMU_MAX ((unsigned) CLOSER_DOMID_MAX)
/* Linux: TASK_COMM_LEN - 1. A comm of exactly this length may be cut. */
#define COMM_VISIBLE_MAX 15u
/* No argument we care about is longer; longer ones are not what we look for. */
#define ARG_MAX_LEN 4096u
#define QUEUE_MAX 65535u

const char *closer_class_to_string(closer_class c) {
        switch (c) {
        case CLOSER_T0: return "T0";
        case CLOSER_T1: return "T1";
        case CLOSER_T2: return "T2";
        case CLOSER_T3: return "T3";
        }
        return "T?";
}

/* ---- bounded text helpers ---------------------------------------------- */

/* Parse exactly s[0..len) as a decimal number <= max: digits only, no sign, no
 * leading zero (the kernel and xl never print one: "01" is not domain 1).
 * Returns 0 and *ret, or -errno. */
static int parse_dec(const char *s, size_t len, unsigned max, unsigned *ret) {
        uint64_t v;
        int r = closer_parse_uint_n(s, len, max, CLOSER_PARSE_NO_LEADING_ZERO, &v);
        if (r < 0)
                return r;
        *ret = (unsigned) v;
        return 0;
}

/* Length of the run of decimal digits at s (stops at len). */
static size_t digits_at(const char *s, size_t len) {
        size_t n = 0;
        while (n < len && s[n] >= '0' && s[n] <= '9')
                n++;
        return n;
}

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* argv[i] or "" (argv entries may be NULL or absurdly long). */
static const char *arg(const closer_thread *t, unsigned i) {
        if (!t->cmdline || i >= t->n_cmdline || !t->cmdline[i])
                return "";
        return t->cmdline[i];
}

static size_t arg_len(const char *a) {
        return strnlen(a, ARG_MAX_LEN + 1);
}

static bool arg_eq(const char *a, const char *lit) {
        size_t n = strlen(lit);
        return arg_len(a) == n && memcmp(a, lit, n) == 0;
}

/* Basename of an argument (after the last '/'), bounded. */
static const char *base(const char *a) {
        size_t n = arg_len(a);
        if (n > ARG_MAX_LEN)
                return "";
        const char *slash = memrchr(a, '/', n);
        return slash ? slash + 1 : a;
}

static bool starts_with(const char *s, size_t len, const char *prefix) {
        size_t n = strlen(prefix);
        return len >= n && memcmp(s, prefix, n) == 0;
}

static size_t comm_len(const closer_thread *t) {
        return strnlen(t->comm, sizeof(t->comm));
}

static bool comm_eq(const closer_thread *t, const char *lit) {
        size_t n = strlen(lit);
        return comm_len(t) == n && memcmp(t->comm, lit, n) == 0;
}

/* comm as a C string, safe even if the snapshot left it unterminated. */
static void comm_copy(const closer_thread *t, char *buf, size_t len) {
        size_t n = comm_len(t);
        if (n >= len)
                n = len - 1;
        memcpy(buf, t->comm, n);
        buf[n] = '\0';
}

static bool live_domid(const closer_snapshot *s, unsigned domid) {
        for (unsigned i = 0; s && i < s->n_domains; i++)
                if (s->domains[i].domid == (int) domid)
                        return true;
        return false;
}

/* ---- thread name parsers ----------------------------------------------- */

/* blkback ring thread (Linux >= 4.x): "<domid>.<vdev>-<ring>", e.g. "1.xvda-0".
 * The name is built by the kernel in a TASK_COMM_LEN buffer, so it is whole. */
static bool parse_blkback(const char *c, size_t len, unsigned *ret_domid, char *vdev, size_t vdev_len,
                          unsigned *ret_ring) {
        size_t d = digits_at(c, len);
        unsigned domid, ring;

        if (d == 0 || d >= len || c[d] != '.' || parse_dec(c, d, DOMU_MAX, &domid) < 0 || domid < DOMU_MIN)
                return false;
        const char *v = c + d + 1;
        const char *end = c + len;
        const char *dash = memrchr(v, '-', (size_t) (end - v));
        if (!dash || dash == v)
                return false;
        for (const char *p = v; p < dash; p++)
                if (!is_alnum(*p))
                        return false;
        if (parse_dec(dash + 1, (size_t) (end - dash - 1), QUEUE_MAX, &ring) < 0)
                return false;
        snprintf(vdev, vdev_len, "%.*s", (int) (dash - v), v);
        *ret_domid = domid;
        *ret_ring = ring;
        return true;
}

/* Parse "vif<D>.<N>" at the start of s; returns the length consumed or 0. */
static size_t parse_vif_prefix(const char *s, size_t len, unsigned *ret_domid, unsigned *ret_devid) {
        unsigned domid, devid;

        if (!starts_with(s, len, "vif"))
                return 0;
        size_t d = digits_at(s + 3, len - 3);
        if (parse_dec(s + 3, d, DOMU_MAX, &domid) < 0 || domid < DOMU_MIN)
                return 0;
        size_t p = 3 + d;
        if (p >= len || s[p] != '.')
                return 0;
        p++;
        size_t n = digits_at(s + p, len - p);
        if (parse_dec(s + p, n, QUEUE_MAX, &devid) < 0)
                return 0;
        *ret_domid = domid;
        *ret_devid = devid;
        return p + n;
}

/* netback kernel threads: "vif<D>.<N>-q<Q>-guest-rx" and "-dealloc" (Linux
 * >= 3.16, multi-queue), "vif<D>.<N>" and "vif<D>.<N>-dealloc" (older). A comm
 * of COMM_VISIBLE_MAX chars may be the cut of a longer name ("vif1.0-q0-guest"):
 * then the tail only has to be a prefix of a known suffix. The domid is whole
 * in any case (at most "vif32751." = 9 chars). */
static bool parse_netback_thread(const char *c, size_t len, unsigned *ret_domid, unsigned *ret_devid,
                                 int *ret_queue, const char **ret_role) {
        static const char *const roles[] = {"guest-rx", "dealloc"};
        unsigned domid, devid, q;
        int queue = -1;
        bool cut = len == COMM_VISIBLE_MAX;
        size_t p = parse_vif_prefix(c, len, &domid, &devid);

        if (p == 0)
                return false;
        if (p == len) {                 /* "vif1.0": the old single-queue thread */
                *ret_role = "guest-rx";
                goto ok;
        }
        if (c[p] != '-')
                return false;
        p++;
        if (p < len && c[p] == 'q') {
                size_t n = digits_at(c + p + 1, len - p - 1);
                if (p + 1 + n == len) {
                        /* cut inside or right after the queue number: domain still sure */
                        if (!cut || n == 0)
                                return false;
                        *ret_role = "netback";
                        goto ok;
                }
                if (parse_dec(c + p + 1, n, QUEUE_MAX, &q) < 0 || c[p + 1 + n] != '-')
                        return false;
                queue = (int) q;
                p += 1 + n + 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(roles); i++) {
                size_t rl = strlen(roles[i]), tail = len - p;
                if (tail == rl && memcmp(c + p, roles[i], rl) == 0) {
                        *ret_role = roles[i];
                        goto ok;
                }
                if (cut && tail > 0 && tail < rl && memcmp(c + p, roles[i], tail) == 0) {
                        *ret_role = roles[i];
                        goto ok;
                }
        }
        return false;
ok:
        *ret_domid = domid;
        *ret_devid = devid;
        *ret_queue = queue;
        return true;
}

/* ---- xl command lines --------------------------------------------------- */

typedef enum xl_verdict {
        XL_NOT_XL,
        XL_MAIN,                /* toolstack work of no single domain */
        XL_ADMIN,               /* a domain subcommand: *ret_domid if resolved */
} xl_verdict;

/* Subcommands that act on one existing domain (thesis §3.1: shutdown and
 * migration belong to the domain's secondary container), with their options
 * that take a value (so that the value is not mistaken for the domain).
 * `restore` names a checkpoint file, not a domain: it stays unresolved. */
static const struct xl_sub {
        const char *name;
        const char *opts_with_value;    /* short options taking an argument */
        bool names_domain;
} xl_subs[] = {
        {"save",        "",   true},
        {"migrate",     "Cs", true},
        {"shutdown",    "",   true},
        {"destroy",     "",   true},
        {"reboot",      "",   true},
        {"pause",       "",   true},
        {"unpause",     "",   true},
        {"remus",       "iue", true},
        {"restore",     "",   false},
        {"migrate-receive", "", false},
};

/* Resolve what an `xl` argument names: a live domid (numeric, as xl itself
 * parses it first) or the exact name of exactly one live domain. */
static bool xl_resolve_domain(const closer_snapshot *s, const char *a, unsigned *ret_domid, bool *ret_by_name) {
        size_t n = arg_len(a);
        unsigned v;

        if (n == 0 || n >= CLOSER_NAME_MAX)
                return false;
        if (digits_at(a, n) == n) {
                if (parse_dec(a, n, DOMU_MAX, &v) < 0 || v < DOMU_MIN || !live_domid(s, v))
                        return false;
                *ret_domid = v;
                *ret_by_name = false;
                return true;
        }
        unsigned found = 0, domid = 0;
        for (unsigned i = 0; s && i < s->n_domains; i++) {
                const char *name = s->domains[i].name;
                if (strnlen(name, CLOSER_NAME_MAX) == n && memcmp(name, a, n) == 0) {
                        found++;
                        domid = (unsigned) s->domains[i].domid;
                }
        }
        if (found != 1 || domid < DOMU_MIN || domid > DOMU_MAX)
                return false;
        *ret_domid = domid;
        *ret_by_name = true;
        return true;
}

static xl_verdict xl_parse(const closer_snapshot *s, const closer_thread *t, const char **ret_sub,
                           unsigned *ret_domid, bool *ret_resolved) {
        unsigned i = 1;

        if (t->n_cmdline == 0 || !arg_eq(base(arg(t, 0)), "xl"))
                return XL_NOT_XL;
        *ret_sub = NULL;
        *ret_resolved = false;
        /* global options (xl [-vfNtTA] subcommand ...) are all flags */
        while (i < t->n_cmdline && arg(t, i)[0] == '-')
                i++;
        if (i >= t->n_cmdline)
                return XL_MAIN;
        const char *sub = arg(t, i);
        const struct xl_sub *xs = NULL;
        for (size_t k = 0; k < ELEMENTSOF(xl_subs); k++)
                if (arg_eq(sub, xl_subs[k].name)) {
                        xs = &xl_subs[k];
                        break;
                }
        if (!xs)
                return XL_MAIN;
        *ret_sub = xs->name;
        if (!xs->names_domain)
                return XL_ADMIN;

        const char *cand = NULL;
        for (i++; i < t->n_cmdline; i++) {
                const char *a = arg(t, i);
                size_t n = arg_len(a);
                if (arg_eq(a, "--")) {
                        if (i + 1 < t->n_cmdline)
                                cand = arg(t, i + 1);
                        break;
                }
                if (n >= 2 && a[0] == '-') {
                        /* `shutdown -a`: every domain, so no single one */
                        if (arg_eq(a, "-a") || arg_eq(a, "--all"))
                                return XL_ADMIN;
                        if (n == 2 && a[1] != '-' && strchr(xs->opts_with_value, a[1]))
                                i++;    /* skip its value */
                        continue;
                }
                cand = a;
                break;
        }
        if (cand && xl_resolve_domain(s, cand, ret_domid, &(bool){false}))
                *ret_resolved = true;
        return XL_ADMIN;
}

/* ---- xl's domain monitor ("babysitter") ---------------------------------
 *
 * `xl create` (and `xl restore`, `xl migrate-receive`) leaves one process
 * per domain behind: after creating it, xl forks, daemonizes and waits for
 * the domain's death, then runs its destruction (device teardown with the
 * hotplug scripts, then the destroy hypercall, in a child it forks). That is
 * the domain's admin work, like `xl shutdown` (thesis §3.1). Its command
 * line only names a config file, whose content may have changed since and
 * which command-line overrides (`name="x"`) and restores (the config comes
 * from the image) bypass. What names the domain is the log xl opened when
 * it daemonized (xl_utils.c do_daemonize(): libxl_create_logfile("xl-" +
 * the domain's name), dup2'd onto fds 1 and 2):
 * "/var/log/xen/xl-<name>.log". The path is what the kernel reports for fd
 * 1 (readlink of /proc/PID/fd/1), so a process cannot write it, only open
 * such a file; the log is root's (0644 in a root-only directory), so the
 * process must be root's too (real uid 0), or any user could open it for
 * reading and pass as the monitor. The name is then resolved like an xl
 * argument: exactly one live domain of that exact name. Names come from
 * /local/domain/<domid>/name, which libxl creates under a node the guest may
 * only read (libxl__domain_make: roperm; xenstore-paths: "~/name = STRING
 * []", not guest-writable): the toolstack's word, not the guest's.
 *
 * Not attributed (stays in main, as before): a log rotated away (".log.1":
 * a newer domain of that name exists, so the name no longer says which one
 * this monitor serves) or deleted; a domain renamed since (`xl rename`); an
 * incoming migration (its log names "<name>--incoming" until the end); `xl
 * create -F` (no daemon, no log: the foreground xl is the monitor). */
#define XL_LOG_PREFIX "/var/log/xen/xl-"
#define XL_LOG_SUFFIX ".log"

static bool xl_monitor_sub(const char *sub) {
        return arg_eq(sub, "create") || arg_eq(sub, "restore") || arg_eq(sub, "migrate-receive");
}

/* The domain an xl monitor works for, from its log: 0 and *ret_domid, or
 * -1 (and *ret_name, when the log named one, for the `why`). */
static int xl_monitor_domain(const closer_snapshot *s, const closer_thread *t, unsigned *ret_domid,
                             char *ret_name, size_t name_len) {
        const char *p = t->stdout_path;
        ret_name[0] = '\0';
        if (!p)
                return -1;
        size_t n = strnlen(p, ARG_MAX_LEN + 1), pl = strlen(XL_LOG_PREFIX), sl = strlen(XL_LOG_SUFFIX);
        if (n > ARG_MAX_LEN || n <= pl + sl || memcmp(p, XL_LOG_PREFIX, pl) != 0 ||
            memcmp(p + n - sl, XL_LOG_SUFFIX, sl) != 0)
                return -1;
        size_t nl = n - pl - sl;
        if (nl >= CLOSER_NAME_MAX || memchr(p + pl, '/', nl))
                return -1;
        char name[CLOSER_NAME_MAX];
        memcpy(name, p + pl, nl);
        name[nl] = '\0';
        snprintf(ret_name, name_len, "%s", name);
        if (!t->has_uid || t->uid != 0)
                return -1;
        /* a name, never a number: "xl-7.log" is the log of a domain named 7 */
        unsigned found = 0, domid = 0;
        for (unsigned i = 0; s && i < s->n_domains; i++)
                if (strnlen(s->domains[i].name, CLOSER_NAME_MAX) == nl && memcmp(s->domains[i].name, name, nl) == 0) {
                        found++;
                        domid = (unsigned) s->domains[i].domid;
                }
        if (found != 1 || domid < DOMU_MIN || domid > DOMU_MAX)
                return -1;
        *ret_domid = domid;
        return 0;
}

/* ---- the rules table ---------------------------------------------------- */

typedef enum match_kind {
        MATCH_BLKBACK,          /* kernel thread "<domid>.<vdev>-<ring>" */
        MATCH_NETBACK,          /* kernel thread "vif<D>.<N>-q<Q>-guest-rx|dealloc" */
        MATCH_QEMU,             /* argv0 xen-qemu-system-* / qemu-system-* */
        MATCH_SAVE_HELPER,      /* libxl-save-helper */
        MATCH_XL_MONITOR,       /* xl create|restore|migrate-receive whose fd 1 is its domain's log */
        MATCH_XL,               /* xl SUBCOMMAND ... */
        MATCH_NAME,             /* comm or argv0 basename (or, for interpreters, the script) equals */
        MATCH_KTHREAD_NAME,     /* kernel thread whose comm equals */
} match_kind;

typedef struct rule {
        const char *name;
        match_kind kind;
        const char *pattern;    /* MATCH_NAME / MATCH_KTHREAD_NAME */
        closer_class cls;
        const char *what;       /* fixed text for name rules */
} rule;

/* First match wins: backends first (they carry a domain), then toolstack,
 * then agents, then named kernel threads. Everything else is T0. */
static const rule rules[] = {
        {"blkback",           MATCH_BLKBACK,     NULL, CLOSER_T3, NULL},
        {"netback",           MATCH_NETBACK,     NULL, CLOSER_T3, NULL},
        {"qemu",              MATCH_QEMU,        NULL, CLOSER_T3, NULL},
        {"libxl-save-helper", MATCH_SAVE_HELPER, NULL, CLOSER_T2, NULL},
        {"xl-monitor",        MATCH_XL_MONITOR,  NULL, CLOSER_T2, NULL},
        {"xl",                MATCH_XL,          NULL, CLOSER_T2, NULL},
        {"xenstored",         MATCH_NAME, "xenstored",     CLOSER_T2, "xenstore daemon"},
        {"oxenstored",        MATCH_NAME, "oxenstored",    CLOSER_T2, "xenstore daemon (OCaml)"},
        {"xenconsoled",       MATCH_NAME, "xenconsoled",   CLOSER_T2, "console daemon"},
        {"xenwatchdogd",      MATCH_NAME, "xenwatchdogd",  CLOSER_T2, "Xen watchdog daemon"},
        {"xen-init-dom0",     MATCH_NAME, "xen-init-dom0", CLOSER_T2, "dom0 toolstack init"},
        {"nova-compute",      MATCH_NAME, "nova-compute",  CLOSER_T1, "OpenStack compute agent"},
        {"libvirtd",          MATCH_NAME, "libvirtd",      CLOSER_T1, "libvirt daemon"},
        {"virtxend",          MATCH_NAME, "virtxend",      CLOSER_T1, "libvirt Xen daemon"},
        {"opennebula-node",   MATCH_NAME, "opennebula-node", CLOSER_T1, "OpenNebula node agent"},
        {"one-collectd",      MATCH_NAME, "collectd-client.rb", CLOSER_T1, "OpenNebula monitoring agent"},
        {"one-probes",        MATCH_NAME, "run_probes",    CLOSER_T1, "OpenNebula probes"},
        {"eucalyptus-nc",     MATCH_NAME, "eucalyptus-nc", CLOSER_T1, "Eucalyptus node controller"},
        {"xenbus",            MATCH_KTHREAD_NAME, "xenbus",      CLOSER_T0, "Xen bus kernel thread"},
        {"xenwatch",          MATCH_KTHREAD_NAME, "xenwatch",    CLOSER_T0, "xenstore watch kernel thread"},
        {"xen-balloon",       MATCH_KTHREAD_NAME, "xen-balloon", CLOSER_T0, "Xen balloon kernel thread"},
};

static bool is_interpreter(const char *b) {
        size_t n = arg_len(b);
        return starts_with(b, n, "python") || starts_with(b, n, "ruby") || starts_with(b, n, "perl") ||
               arg_eq(b, "sh") || arg_eq(b, "bash");
}

static bool match_name(const closer_thread *t, const char *pattern) {
        size_t pl = strlen(pattern);

        if (t->kernel)
                return false;   /* daemons and agents are processes */
        if (comm_eq(t, pattern))
                return true;
        /* comm holds at most 15 chars: "collectd-client.rb" shows cut */
        if (pl > COMM_VISIBLE_MAX && comm_len(t) == COMM_VISIBLE_MAX &&
            memcmp(t->comm, pattern, COMM_VISIBLE_MAX) == 0 && t->n_cmdline == 0)
                return true;
        if (t->n_cmdline == 0)
                return false;
        if (arg_eq(base(arg(t, 0)), pattern))
                return true;
        /* `python3 /usr/bin/nova-compute --config-file ...`: the script is the
         * first argument that is not an interpreter option. */
        if (is_interpreter(base(arg(t, 0)))) {
                for (unsigned i = 1; i < t->n_cmdline && i < 8; i++) {
                        const char *a = arg(t, i);
                        if (a[0] == '-')
                                continue;
                        return arg_eq(base(a), pattern);
                }
        }
        return false;
}

/* Find the parent process's main thread in the snapshot (tid == pid == ppid). */
static const closer_thread *find_parent(const closer_snapshot *s, const closer_thread *t) {
        if (!s || t->ppid <= 0)
                return NULL;
        for (unsigned i = 0; i < s->n_threads; i++)
                if (s->threads[i].tid == t->ppid)
                        return &s->threads[i];
        return NULL;
}

static void set(closer_classification *c, const rule *r, closer_class cls, int domid, bool admin) {
        c->cls = cls;
        c->domid = domid;
        c->admin_for_domain = admin;
        c->queue = -1;
        c->rule = r ? r->name : "default";
}

static bool apply(const rule *r, const closer_snapshot *s, const closer_thread *t, closer_classification *c) {
        char comm[CLOSER_NAME_MAX];
        size_t cl = comm_len(t);

        switch (r->kind) {
        case MATCH_BLKBACK: {
                unsigned domid, ring;
                char vdev[CLOSER_NAME_MAX];
                if (!t->kernel || !parse_blkback(t->comm, cl, &domid, vdev, sizeof(vdev), &ring))
                        return false;
                set(c, r, r->cls, (int) domid, false);
                c->queue = (int) ring;
                snprintf(c->what, sizeof(c->what), "blkback ring %u of %.32s of domain %u", ring, vdev, domid);
                return true;
        }
        case MATCH_NETBACK: {
                unsigned domid, devid;
                int q;
                const char *role;
                if (!t->kernel || !parse_netback_thread(t->comm, cl, &domid, &devid, &q, &role))
                        return false;
                set(c, r, r->cls, (int) domid, false);
                /* the old single-queue threads ("vif1.0", "vif1.0-dealloc")
                 * serve queue 0, as their event channels do; a name cut
                 * inside the queue number ("netback" role) says no queue */
                c->queue = q >= 0 ? q : strcmp(role, "netback") == 0 ? -1 : 0;
                if (q >= 0)
                        snprintf(c->what, sizeof(c->what), "netback %s queue %d of vif%u.%u (domain %u)", role, q,
                                 domid, devid, domid);
                else
                        snprintf(c->what, sizeof(c->what), "netback %s of vif%u.%u (domain %u)", role, domid, devid,
                                 domid);
                return true;
        }
        case MATCH_QEMU: {
                if (t->kernel)
                        return false;
                const char *b = base(arg(t, 0));
                size_t bl = arg_len(b);
                bool qemu_argv = starts_with(b, bl, "xen-qemu-system") || starts_with(b, bl, "qemu-system-");
                bool qemu_comm = starts_with(t->comm, cl, "xen-qemu-system") || starts_with(t->comm, cl, "qemu-system-");
                if (!qemu_argv && !(t->n_cmdline == 0 && qemu_comm))
                        return false;
                /* -xen-domid D; given twice with different values → ambiguous */
                int domid = -2;
                bool ambiguous = false;
                for (unsigned i = 1; i + 1 < t->n_cmdline; i++) {
                        const char *a = arg(t, i);
                        if (!arg_eq(a, "-xen-domid") && !arg_eq(a, "--xen-domid"))
                                continue;
                        const char *v = arg(t, ++i);
                        unsigned d;
                        int nd = parse_dec(v, arg_len(v), DOMU_MAX, &d) < 0 ? -3 : (int) d;
                        if (domid != -2 && domid != nd)
                                ambiguous = true;
                        domid = nd;
                }
                if (ambiguous || domid == -3) {
                        set(c, r, CLOSER_T2, CLOSER_DOMID_NONE, false);
                        snprintf(c->what, sizeof(c->what), "QEMU with an unclear -xen-domid (kept in main)");
                } else if (domid == -2) {
                        /* no -xen-domid: a Xen device model only if named so
                         * (a KVM QEMU in dom0 is no toolstack work) */
                        if (!starts_with(b, bl, "xen-qemu-system") && !(t->n_cmdline == 0 && qemu_comm))
                                return false;
                        set(c, r, CLOSER_T2, CLOSER_DOMID_NONE, false);
                        snprintf(c->what, sizeof(c->what), "QEMU serving no named domain (kept in main)");
                } else if (domid == 0) {
                        set(c, r, CLOSER_T2, CLOSER_DOMID_NONE, false);
                        snprintf(c->what, sizeof(c->what), "dom0's own QEMU (-xen-domid 0)");
                } else {
                        set(c, r, CLOSER_T3, domid, false);
                        snprintf(c->what, sizeof(c->what), "QEMU backend of domain %d", domid);
                }
                return true;
        }
        case MATCH_SAVE_HELPER: {
                if (t->kernel)
                        return false;
                bool by_argv = arg_eq(base(arg(t, 0)), "libxl-save-helper");
                if (!by_argv && !(t->n_cmdline == 0 && starts_with(t->comm, cl, "libxl-save-hel")))
                        return false;
                const char *mode = arg(t, 1);
                bool save = arg_eq(mode, "--save-domain"), restore = arg_eq(mode, "--restore-domain");
                const closer_thread *parent = (save || restore) ? find_parent(s, t) : NULL;
                const char *sub;
                unsigned domid;
                bool resolved = false;
                if (parent && xl_parse(s, parent, &sub, &domid, &resolved) == XL_ADMIN && resolved) {
                        set(c, r, CLOSER_T2, (int) domid, true);
                        snprintf(c->what, sizeof(c->what), "libxl-save-helper %s for xl %s of domain %u",
                                 save ? "save" : "restore", sub, domid);
                } else {
                        set(c, r, CLOSER_T2, CLOSER_DOMID_NONE, false);
                        snprintf(c->what, sizeof(c->what), "libxl-save-helper%s (domain not named by its parent)",
                                 save ? " save" : restore ? " restore" : "");
                }
                return true;
        }
        case MATCH_XL_MONITOR: {
                if (t->kernel || t->n_cmdline == 0 || !arg_eq(base(arg(t, 0)), "xl"))
                        return false;
                unsigned i = 1;
                while (i < t->n_cmdline && arg(t, i)[0] == '-')
                        i++;
                if (i >= t->n_cmdline || !xl_monitor_sub(arg(t, i)))
                        return false;
                unsigned domid;
                char name[CLOSER_NAME_MAX];
                if (xl_monitor_domain(s, t, &domid, name, sizeof(name)) < 0)
                        return false;   /* the "xl" rule says what it is */
                set(c, r, CLOSER_T2, (int) domid, true);
                snprintf(c->what, sizeof(c->what), "xl %s's monitor of domain %u (its log names %.32s)",
                         arg(t, i), domid, name);
                return true;
        }
        case MATCH_XL: {
                if (t->kernel)
                        return false;
                const char *sub;
                unsigned domid;
                bool resolved;
                switch (xl_parse(s, t, &sub, &domid, &resolved)) {
                case XL_NOT_XL:
                        return false;
                case XL_MAIN: {
                        set(c, r, CLOSER_T2, CLOSER_DOMID_NONE, false);
                        unsigned d;
                        char name[CLOSER_NAME_MAX];
                        if (xl_monitor_domain(s, t, &d, name, sizeof(name)) < 0 && name[0])
                                snprintf(c->what, sizeof(c->what), "xl %.16s, monitor of \"%.32s\" (not resolved)",
                                         t->n_cmdline > 1 ? arg(t, 1) : "", name);
                        else
                                snprintf(c->what, sizeof(c->what), "xl %.40s (toolstack)",
                                         t->n_cmdline > 1 ? arg(t, 1) : "");
                        return true;
                }
                case XL_ADMIN:
                        if (resolved) {
                                set(c, r, CLOSER_T2, (int) domid, true);
                                snprintf(c->what, sizeof(c->what), "xl %s of domain %u", sub, domid);
                        } else {
                                set(c, r, CLOSER_T2, CLOSER_DOMID_NONE, false);
                                snprintf(c->what, sizeof(c->what), "xl %s (domain not resolved to one live domain)",
                                         sub);
                        }
                        return true;
                }
                return false;
        }
        case MATCH_NAME:
                if (!match_name(t, r->pattern))
                        return false;
                break;
        case MATCH_KTHREAD_NAME:
                if (!t->kernel || !comm_eq(t, r->pattern))
                        return false;
                break;
        }
        set(c, r, r->cls, CLOSER_DOMID_NONE, false);
        comm_copy(t, comm, sizeof(comm));
        snprintf(c->what, sizeof(c->what), "%s (%.40s)", r->what, comm);
        return true;
}

static bool classify_by_rules(const closer_snapshot *s, const closer_thread *t, closer_classification *c) {
        for (size_t i = 0; i < ELEMENTSOF(rules); i++)
                if (apply(&rules[i], s, t, c))
                        return true;
        return false;
}

/* How far up a process's ancestors we look for one working for a domain. */
#define ANCESTORS_MAX 8

void closer_classify_thread(const closer_snapshot *s, const closer_thread *t, closer_classification *ret) {
        closer_classification c = {.cls = CLOSER_T0, .domid = CLOSER_DOMID_NONE, .queue = -1, .rule = "default"};

        if (classify_by_rules(s, t, &c)) {
                *ret = c;
                return;
        }
        /* What a domain's admin command or device model starts works for
         * that domain too: `xl save du1` tears du1's vif down with
         * vif-bridge, which runs ip, grep and logger. They run, and are
         * billed, where their ancestor does (and inherit its cgroup: a
         * placement on main's CPUs would be refused). The first ancestor a
         * rule names decides; base-OS ancestors (a shell) are looked
         * through. */
        const closer_thread *a = t;
        for (int depth = 0; !t->kernel && depth < ANCESTORS_MAX; depth++) {
                a = find_parent(s, a);
                if (!a || a == t)
                        break;
                closer_classification ac = {.cls = CLOSER_T0, .domid = CLOSER_DOMID_NONE, .queue = -1,
                                            .rule = "default"};
                if (!classify_by_rules(s, a, &ac))
                        continue;
                if (ac.domid >= 0 && (ac.admin_for_domain || ac.cls == CLOSER_T3)) {
                        char comm[CLOSER_NAME_MAX];
                        comm_copy(t, comm, sizeof(comm));
                        c = (closer_classification) {.cls = CLOSER_T2, .domid = ac.domid, .admin_for_domain = true,
                                                     .queue = -1,
                                                     .rule = "child-of-domain-work"};
                        snprintf(c.what, sizeof(c.what), "%.24s, started by %.60s", comm, ac.what);
                        *ret = c;
                        return;
                }
                break;
        }
        char comm[CLOSER_NAME_MAX];
        comm_copy(t, comm, sizeof(comm));
        snprintf(c.what, sizeof(c.what), "%s %.40s (base OS)", t->kernel ? "kernel thread" : "process", comm);
        *ret = c;
}

/* ---- IRQs --------------------------------------------------------------- */

/* netback event channels: "vif<D>.<N>-q<Q>-tx" (guest kicks: VM-initiated),
 * "-rx" (traffic towards the guest: external), single queue "vif<D>.<N>-tx",
 * "-rx", or one shared "vif<D>.<N>" (no split event channels). */
static bool parse_netback_irq(const char *n, size_t len, closer_irq_class *c) {
        unsigned domid, devid, q = 0;
        size_t p = parse_vif_prefix(n, len, &domid, &devid);

        if (p == 0)
                return false;
        if (p == len) {
                c->domid = (int) domid;
                c->queue = 0;
                c->kind = CLOSER_IRQ_VM_INITIATED;
                snprintf(c->what, sizeof(c->what), "netback vif%u.%u shared tx/rx (domain %u)", domid, devid, domid);
                return true;
        }
        if (n[p] != '-')
                return false;
        p++;
        if (p < len && n[p] == 'q') {
                size_t d = digits_at(n + p + 1, len - p - 1);
                if (parse_dec(n + p + 1, d, QUEUE_MAX, &q) < 0 || p + 1 + d >= len || n[p + 1 + d] != '-')
                        return false;
                p += d + 2;
        }
        if (len - p == 2 && memcmp(n + p, "tx", 2) == 0)
                c->kind = CLOSER_IRQ_VM_INITIATED;
        else if (len - p == 2 && memcmp(n + p, "rx", 2) == 0)
                c->kind = CLOSER_IRQ_EXTERNAL;
        else
                return false;
        c->domid = (int) domid;
        c->queue = (int) q;
        snprintf(c->what, sizeof(c->what), "netback vif%u.%u queue %u %s (domain %u)", domid, devid, q,
                 c->kind == CLOSER_IRQ_EXTERNAL ? "rx, external" : "tx, VM-initiated", domid);
        return true;
}

void closer_classify_irq(const closer_irq *irq, closer_irq_class *ret) {
        closer_irq_class c = {.domid = CLOSER_DOMID_NONE, .queue = -1, .kind = CLOSER_IRQ_UNKNOWN};
        size_t len = strnlen(irq->name, sizeof(irq->name));
        bool adapter_domid = irq->domid >= (int) DOMU_MIN && irq->domid <= (int) DOMU_MAX;
        int queue = irq->queue >= 0 && irq->queue <= (int) QUEUE_MAX ? irq->queue : -1;

        if (parse_netback_irq(irq->name, len, &c)) {
                *ret = c;
                return;
        }
        bool blkif = len == strlen("blkif-backend") && memcmp(irq->name, "blkif-backend", len) == 0;
        bool qemu = starts_with(irq->name, len, "evtchn:xen-qemu-system") ||
                    starts_with(irq->name, len, "evtchn:qemu-system");
        /* The name does not say: only the hypervisor adapter's (trusted) remote
         * domain can, for backend event channels, or when the adapter decided
         * the kind itself. */
        if (adapter_domid && (blkif || qemu || irq->kind != CLOSER_IRQ_UNKNOWN)) {
                c.domid = irq->domid;
                c.queue = queue;
                c.kind = irq->kind != CLOSER_IRQ_UNKNOWN ? irq->kind : CLOSER_IRQ_VM_INITIATED;
                snprintf(c.what, sizeof(c.what), "%s of domain %d%s (from the hypervisor's event channels)",
                         blkif ? "blkback" : qemu ? "QEMU backend" : "event channel", c.domid,
                         queue >= 0 ? ", queue from frontend" : "");
        } else if (blkif || qemu) {
                snprintf(c.what, sizeof(c.what), "%s, remote domain unknown", blkif ? "blkback" : "QEMU backend");
        } else {
                snprintf(c.what, sizeof(c.what), "not a backend event channel");
        }
        *ret = c;
}

bool closer_classification_for_domain(const closer_classification *c) {
        return c->domid >= 0 || (c->rule && strcmp(c->rule, "libxl-save-helper") == 0);
}
