/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <math.h>

#include "closer/sense.h"

void closer_io_rate_sample(closer_io_rate *r, uint64_t ops, uint64_t bytes, double dt_s, double tau_s) {
        /* backwards (either counter): a new baseline, the interval counts 0 */
        bool reset = ops < r->ops || bytes < r->bytes;
        uint64_t dops = reset ? 0 : ops - r->ops;
        uint64_t dbytes = reset ? 0 : bytes - r->bytes;

        if (dt_s > 0 && r->sampled) {
                double ops_s = (double) dops / dt_s, bytes_s = (double) dbytes / dt_s;
                double a = r->primed && tau_s > 0 ? 1.0 - exp(-dt_s / tau_s) : 1.0;
                r->ops_per_s += a * (ops_s - r->ops_per_s);
                r->bytes_per_s += a * (bytes_s - r->bytes_per_s);
                r->primed = true;
        }
        r->ops = ops;
        r->bytes = bytes;
        r->sampled = true;
}

uint64_t closer_vm_mem_m(uint64_t found_kib, uint64_t max_kib) {
        return found_kib && found_kib < max_kib ? found_kib : max_kib;
}
