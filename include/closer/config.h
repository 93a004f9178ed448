/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "closer/error.h"

/*
 * Policy configuration: /etc/closer/closer.conf (INI, docs/formats.md).
 * Parsed from a string so the core does no file I/O.
 */

typedef enum closer_profile {
        CLOSER_PROFILE_OPENSTACK,       /* thesis table 3.2: 2 vCPU / 2 GB */
        CLOSER_PROFILE_OPENNEBULA,      /* 2 vCPU / 1.85 GB = 1894 MiB */
        CLOSER_PROFILE_EUCALYPTUS,      /* 1 vCPU / 1.5 GB = 1536 MiB */
        CLOSER_PROFILE_ORACLE,          /* 502 + int(0.0205 * host MiB) MiB, 2 vCPU */
        CLOSER_PROFILE_CUSTOM,          /* vcpus and mem_mib must be given */
} closer_profile;

typedef enum closer_charge {
        CLOSER_CHARGE_METER,            /* bill dom0 work, do not enforce */
        CLOSER_CHARGE_CAP,              /* enforce dom0 work inside the VM's quota */
} closer_charge;

#define CLOSER_LEVELS_MAX 16u

typedef struct closer_mem_level {
        double min_ops_per_s;           /* level reached at or above this I/O rate */
        uint64_t extra_mib;             /* memory held in dom0 for the VM at this level */
} closer_mem_level;

typedef struct closer_config {
        closer_profile profile;
        int main_vcpus;                 /* -1: from the profile */
        int64_t main_mem_mib;           /* -1: from the profile */
        int main_node;                  /* node id */

        uint64_t eps_mib;               /* per-socket contribution of a VM at start */
        uint64_t floor_mib;             /* never balloon a VM below this */
        unsigned n_levels;              /* >= 1, levels[0].min_ops_per_s == 0 */
        closer_mem_level levels[CLOSER_LEVELS_MAX]; /* strictly increasing thresholds */
        unsigned hysteresis_pct;        /* 0..99: go down a level only below thr*(1-h) */

        closer_charge charge;
} closer_config;

/* The built-in defaults (those docs/formats.md and closer.conf(5) list). */
void closer_config_defaults(closer_config *c);

/*
 * Parse INI text on top of *c (start from closer_config_defaults()).
 * `source` names the file in errors. Unknown sections or keys, bad values,
 * custom profile without vcpus/mem_mib, non-increasing levels → -EINVAL with
 * err = "SOURCE:LINE: [section] key: expected ...". *c is left unchanged on
 * failure (a reload keeps the old configuration).
 */
int closer_config_parse(const char *text, const char *source, closer_config *c, closer_error *err);

/* The same on len bytes that need not end in NUL: a NUL byte inside is an
 * error naming its line (it would otherwise cut the file short silently). */
int closer_config_parse_buffer(const char *text, size_t len, const char *source, closer_config *c,
                               closer_error *err);

/* The largest closer.conf closerd and closerctl read. */
#define CLOSER_CONFIG_MAX_BYTES (1u << 20)

const char *closer_profile_to_string(closer_profile p);

/* Main container size for a host with host_mem_mib of memory, per the
 * profile and overrides. */
unsigned closer_config_main_vcpus(const closer_config *c);
uint64_t closer_config_main_mem_mib(const closer_config *c, uint64_t host_mem_mib);
