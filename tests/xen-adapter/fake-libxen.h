/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A fake libxenctrl + libxenstore + libxenstat, just the calls the adapter
 * makes, over one global host model that tests set up and inspect. Linked in
 * place of the real libraries, so hypervisor-xen.c runs unchanged on a
 * machine without Xen.
 */

#include <stdbool.h>
#include <stdint.h>

#define FAKE_CPUS_MAX 8u               /* xc_get_max_cpus: 8 possible, fewer online */
#define FAKE_DOMS_MAX 8u
#define FAKE_VCPUS_MAX 8u
#define FAKE_PORTS_MAX 64u
#define FAKE_KEYS_MAX 128u
#define FAKE_VALUE_MAX 8192u

typedef struct fake_dom {
        uint32_t domid;
        uint32_t flags;                 /* XEN_DOMINF_* */
        uint64_t tot_pages, max_pages;
        unsigned n_vcpus;
        int vcpu_cpu[FAKE_VCPUS_MAX];
        bool vcpu_offline[FAKE_VCPUS_MAX];
        uint8_t hard[FAKE_VCPUS_MAX];   /* bitmap of pCPUs */
        uint8_t nodemap;
        uint8_t handle[16];
        uint16_t weight, cap;
        uint64_t rpk, tpk, rb, tb, rd_reqs, wr_reqs, rd_sects, wr_sects;
        unsigned vbd_type;              /* libxenstat's: 0 qdisk (QMP), 1 kernel vbd */
} fake_dom;

typedef struct fake_port {
        unsigned status;                /* EVTCHNSTAT_* */
        unsigned vcpu;
        unsigned rdom, rport;
} fake_port;

typedef struct fake_xen {
        unsigned n_cpus;
        uint32_t cpu_node[FAKE_CPUS_MAX];
        unsigned n_nodes;
        uint64_t memsize[4], memfree[4];
        uint32_t dist[16];
        unsigned n_doms;
        fake_dom doms[FAKE_DOMS_MAX];
        int sched_id;
        const char *conring;            /* console ring after a 'u' key */
        unsigned debug_keys;
        unsigned n_ports;               /* ports 1..n_ports */
        fake_port ports[FAKE_PORTS_MAX + 1];

        /* xenstore */
        unsigned n_keys;
        char key[FAKE_KEYS_MAX][256];
        char val[FAKE_KEYS_MAX][FAKE_VALUE_MAX];
        unsigned val_len[FAKE_KEYS_MAX];
        unsigned tx_eagain;             /* next transaction ends failing with EAGAIN */
        unsigned xenstat_flags;         /* what the last xenstat_get_node asked for */
        unsigned tx_started, tx_committed;
        int pipe[2];                    /* the watch fd */
        unsigned watches, pending, opens;
        bool xs_dead;                   /* the connection to xenstored broke */
} fake_xen;

extern fake_xen fake;

/* The Xen lab's host (docs/xen-lab.md): 4 pCPUs on 2 nodes, dom0 with 4
 * vCPUs pinned 1:1, du1 (domid 1, node 0) and du2 (domid 2, node 1), 2 vCPUs
 * each. */
void fake_lab(void);
void fake_done(void);
void fake_xs_set(const char *key, const char *val, unsigned len);
void fake_xs_del(const char *key);
/* Value of a key, NULL when absent. */
const char *fake_xs_get(const char *key);
/* A domain appears or leaves: fire the watches. */
void fake_fire(void);
