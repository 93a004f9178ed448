/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * What the daemon derives from what it reads, before planning: pure
 * arithmetic, so that it can be tested without a host.
 */

/* A domain's I/O rates from its cumulative backend counters. */
typedef struct closer_io_rate {
        uint64_t ops, bytes;            /* cumulative, last sample */
        double ops_per_s, bytes_per_s;  /* moving average */
        bool sampled;                   /* ops, bytes hold a sample */
        bool primed;                    /* the average has its first rate */
} closer_io_rate;

/*
 * Take the sample (ops, bytes) dt_s after the last one. Guests do I/O in
 * bursts: a rate per tick would move a VM's memory a level up and down every
 * tick, so the rates follow an exponential moving average with time constant
 * tau_s (0: none, the last rate). The first rate is taken as it is.
 * Counters that went backwards (either of them: a backend that reconnected)
 * are a new baseline and the interval counts 0, not their new values: the
 * rule src/xen/iosum.c applies to each source of a domain's counter
 * (src/xen/xen.h), so that a reset is read the same way at both depths and
 * never becomes a burst. Nothing is averaged when dt_s is 0 or there is no
 * earlier sample; an earlier sample of 0 and 0 is one (the Xen adapter's
 * counters start at 0 for every domain: its first interval of I/O counts).
 */
void closer_io_rate_sample(closer_io_rate *r, uint64_t ops, uint64_t bytes, double dt_s, double tau_s);

/*
 * M of Algorithm 1 for a domain whose memory Xen reports as max_kib: the
 * memory the toolstack gave it, its balloon target as found (found_kib, 0:
 * unknown). Xen's max_pages is that plus libxl's slack (1 MiB), so M is the
 * found target when known and smaller, else max_kib.
 */
uint64_t closer_vm_mem_m(uint64_t found_kib, uint64_t max_kib);
