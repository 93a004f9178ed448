/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /proc/interrupts and /proc/irq/N/{smp,effective}_affinity_list.
 *
 * Line shape (kernel/irq/proc.c show_interrupts):
 *   "%*d: " irq, one "%10u " count per online CPU, chip name, optional hwirq
 *   number glued to "-<flow>" ("5-edge", "-event", "-ioapic-edge"), then the
 *   action names (may be absent, may contain spaces and ", ").
 * On a Xen PV dom0: " 61:  1  0  2001  0  xen-dyn-lateeoi    -event     blkif-backend".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/parse-util.h"
#include "basic/alloc-util.h"
#include "linux/linux.h"

#define INTERRUPTS_MAX (256u * 1024u * 1024u)
#define IRQ_MAX 1048576u        /* well above any NR_IRQS */

static const char *skip_blanks(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

static const char *token_end(const char *p, const char *end) {
        while (p < end && *p != ' ' && *p != '\t')
                p++;
        return p;
}

/* The header: "CPU0 CPU1 ..." → column → CPU number. */
static int parse_header(const char *p, const char *end, unsigned **ret_cols, unsigned *ret_n, unsigned *ret_max) {
        unsigned n = 0, cap = 64, max = 0;
        unsigned *cols = malloc(cap * sizeof(*cols));
        if (!cols)
                return -ENOMEM;
        for (;;) {
                p = skip_blanks(p, end);
                if (p >= end)
                        break;
                const char *e = token_end(p, end);
                uint64_t cpu;
                if (e - p < 4 || memcmp(p, "CPU", 3) != 0 ||
                    closer_parse_uint_n(p + 3, (size_t) (e - p - 3), CLOSER_CPUSET_MAX - 1, 0, &cpu) < 0 ||
                    (n > 0 && cpu <= cols[n - 1])) {
                        free(cols);
                        return -EINVAL;
                }
                if (!GREEDY_REALLOC(cols, cap, n + 1)) {
                        free(cols);
                        return -ENOMEM;
                }
                cols[n++] = (unsigned) cpu;
                max = (unsigned) cpu;
                p = e;
        }
        if (n == 0) {
                free(cols);
                return -EINVAL;
        }
        *ret_cols = cols;
        *ret_n = n;
        *ret_max = max;
        return 0;
}

int closer_irq_parse_interrupts(const char *text, closer_irq **ret, unsigned *ret_n, unsigned *ret_line,
                                closer_error *err) {
        const char *p = text, *end = text + strlen(text);
        unsigned *cols = NULL, ncols = 0, maxcpu = 0, line = 1, n = 0, cap = 0;
        closer_irq *irqs = NULL;
        int r;

        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *le = nl ? nl : end;
        r = parse_header(p, le, &cols, &ncols, &maxcpu);
        if (r < 0) {
                if (ret_line)
                        *ret_line = 1;
                return r == -ENOMEM ? r : closer_error_set(err, -EINVAL, "line 1: expected a header of CPU<n> columns");
        }
        p = nl ? nl + 1 : end;

        for (line = 2; p < end; line++, p = nl ? nl + 1 : end) {
                nl = memchr(p, '\n', (size_t) (end - p));
                le = nl ? nl : end;
                const char *q = skip_blanks(p, le);
                if (q == le)
                        continue;               /* blank line */
                const char *colon = memchr(q, ':', (size_t) (le - q));
                uint64_t irqno;
                if (!colon) {
                        r = closer_error_set(err, -EINVAL, "line %u: expected '<irq>:'", line);
                        goto fail;
                }
                if (closer_parse_uint_n(q, (size_t) (colon - q), IRQ_MAX, 0, &irqno) < 0) {
                        /* NMI:, LOC:, ERR:, MIS:... summary lines, not IRQs we can move */
                        bool label = (*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z');
                        for (const char *c = q; c < colon; c++)
                                label &= (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
                        if (label && colon > q)
                                continue;
                        r = closer_error_set(err, -EINVAL, "line %u: expected an IRQ number before ':'", line);
                        goto fail;
                }
                if (!GREEDY_REALLOC_MIN(irqs, cap, n + 1, 64)) {
                        r = -ENOMEM;
                        goto fail;
                }
                closer_irq *irq = &irqs[n];
                memset(irq, 0, sizeof(*irq));
                irq->irq = (unsigned) irqno;
                irq->domid = CLOSER_DOMID_NONE;
                irq->queue = -1;
                irq->cpu = -1;
                irq->n_counts = maxcpu + 1;
                irq->per_cpu_counts = calloc(maxcpu + 1, sizeof(uint64_t));
                if (!irq->per_cpu_counts) {
                        r = -ENOMEM;
                        goto fail;
                }
                n++;
                q = colon + 1;
                for (unsigned c = 0; c < ncols; c++) {
                        q = skip_blanks(q, le);
                        const char *e = token_end(q, le);
                        uint64_t v;
                        if (closer_parse_uint_n(q, (size_t) (e - q), UINT64_MAX, 0, &v) < 0) {
                                r = closer_error_set(err, -EINVAL, "line %u: IRQ %u: expected %u counts, got %u", line,
                                                     irq->irq, ncols, c);
                                goto fail;
                        }
                        irq->per_cpu_counts[cols[c]] = v;
                        q = e;
                }
                /* chip, then "[hwirq]-flow", then the name (rest of the line) */
                q = skip_blanks(q, le);
                const char *e = token_end(q, le);
                snprintf(irq->chip, sizeof(irq->chip), "%.*s", (int) (e - q), q);
                q = skip_blanks(e, le);
                e = token_end(q, le);
                const char *dash = memchr(q, '-', (size_t) (e - q));
                bool flow = dash != NULL;
                for (const char *c = q; flow && c < dash; c++)
                        flow = *c >= '0' && *c <= '9';
                if (flow)
                        q = skip_blanks(e, le);
                const char *ne = le;
                while (ne > q && (ne[-1] == ' ' || ne[-1] == '\t' || ne[-1] == '\r'))
                        ne--;
                snprintf(irq->name, sizeof(irq->name), "%.*s", (int) (ne - q), q);
        }
        free(cols);
        *ret = irqs;
        *ret_n = n;
        return 0;
fail:
        if (ret_line)
                *ret_line = line;
        free(cols);
        closer_hostos_irqs_free(irqs, n);
        return r;
}

int closer_irq_read(const closer_root *root, closer_irq **ret, unsigned *ret_n, closer_error *err) {
        char *text;
        int r = closer_read_file_at(root->fd, "proc/interrupts", INTERRUPTS_MAX, &text, NULL);
        if (r < 0)
                return closer_error_set(err, r, "%s/proc/interrupts: %s", root->path, strerror(-r));
        closer_error e = {{0}};
        r = closer_irq_parse_interrupts(text, ret, ret_n, NULL, &e);
        free(text);
        if (r < 0)
                return closer_error_set(err, r, "%s/proc/interrupts: %s", root->path, e.msg[0] ? e.msg : strerror(-r));
        return 0;
}

int closer_irq_read_affinity(const closer_root *root, unsigned irq, bool effective, closer_cpuset *ret) {
        char path[96], buf[CLOSER_CPULIST_MAX];
        snprintf(path, sizeof(path), "proc/irq/%u/%s", irq, effective ? "effective_affinity_list" : "smp_affinity_list");
        int n = closer_read_small_at(root->fd, path, buf, sizeof(buf));
        if (n < 0)
                return n;
        return closer_cpuset_parse(buf, ret);
}
