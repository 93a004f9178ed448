/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The /proc/interrupts parser on arbitrary bytes. Oracles: a rejection
 * names a line inside the text and leaves the outputs untouched; every
 * accepted IRQ has counts for each CPU the header names, a NUL-terminated
 * chip and name, and no owner yet (domid/queue come from the policy).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linux/linux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        closer_irq *irqs = (closer_irq *) &irqs, *before = irqs;
        unsigned n = 12345, line = 0, lines = 1;
        closer_error err = {};

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        for (const char *p = text; *p; p++)
                lines += *p == '\n';
        int r = closer_irq_parse_interrupts(text, &irqs, &n, &line, &err);
        free(text);
        if (r < 0) {
                if (r != -EINVAL && r != -ENOMEM)
                        abort();
                if (irqs != before || n != 12345 || line < 1 || line > lines || strchr(err.msg, '\n'))
                        abort();
                return 0;
        }
        for (unsigned i = 0; i < n; i++) {
                const closer_irq *q = &irqs[i];
                if (q->n_counts == 0 || q->n_counts > CLOSER_CPUSET_MAX || !q->per_cpu_counts)
                        abort();
                if (strnlen(q->chip, sizeof(q->chip)) == sizeof(q->chip) ||
                    strnlen(q->name, sizeof(q->name)) == sizeof(q->name))
                        abort();
                if (q->domid != CLOSER_DOMID_NONE || q->queue != -1)
                        abort();
                uint64_t sum = 0;
                for (unsigned c = 0; c < q->n_counts; c++)
                        sum += q->per_cpu_counts[c];        /* ASan: the array really is n_counts long */
                (void) sum;
        }
        closer_hostos_irqs_free(irqs, n);
        return 0;
}
