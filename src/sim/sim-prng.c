/* SPDX-License-Identifier: GPL-2.0-or-later */
/* splitmix64 (Steele, Lea, Flood 2014): tiny, seedable with any value, and
 * the same sequence on every platform: what byte-identical output needs. */
#include "sim/sim.h"

void closer_sim_prng_seed(closer_sim_prng *r, uint64_t seed) {
        r->s = seed;
}

uint64_t closer_sim_prng_next(closer_sim_prng *r) {
        uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

double closer_sim_prng_uniform(closer_sim_prng *r) {
        return (double) (closer_sim_prng_next(r) >> 11) * 0x1.0p-53;
}
