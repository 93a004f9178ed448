/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "basic/root.h"
#include "closer/hostos.h"
#include "closer/hypervisor.h"
#include "daemon/closerd-args.h"
#include "daemon/control.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/meter.h"
#include "daemon/metrics-http.h"
#include "linux/procevents.h"
#include "simhost/simhost.h"

/*
 * The daemon as its event loop (closerd.c) and its control-protocol and
 * metrics handlers (closerd-handlers.c) share it. One per process.
 */
typedef struct closerd_ctx {
        const closerd_args *args;
        sd_event *ev;
        sd_event_source *tick_src;
        closer_manager *m;
        closer_meter *meter;            /* NULL in dry-run */
        closer_metrics_http *metrics;   /* NULL unless --metrics */
        sd_event_source *metrics_timer; /* the server's next connection timeout */
        closer_procevents *procev;      /* exec notifications (real dom0 only) */
        closer_root *proc_root;         /* to look at an exec'd process */
        sd_event_source *soon_src;      /* a tick armed by an exec, coalesced */
        closer_control_server *control;
        int control_fd;                 /* the listening socket, or -errno */
        int locks[3];                   /* on the socket, state file and ledger; -1: not held */
        closer_hypervisor *hv;
        closer_hostos *host;
        closer_simhost *sim;
        const char *config_source;      /* the config path, or what stands for the built-in defaults */
        uint64_t last_tick_usec;
        long ticks_left;                /* --ticks N: stop after N; -1 forever */
        bool ready;
        bool told_unmetered;
        int exit_status;                /* set when the loop must end with it (2: bad configuration) */
        closer_ratelimit ledger_log;    /* a failing ledger fails every tick */
        closer_ratelimit tick_log;
} closerd_ctx;

/* A closer-control/1 request (docs/formats.md): the answer, or NULL with
 * *ret_work set for an answer made in steps. userdata is the closerd_ctx. */
json_t *closerd_handle(void *userdata, const json_t *req, closer_control_work *ret_work);

/* The Prometheus text of GET /metrics. userdata is the closerd_ctx. */
int closerd_render_metrics(void *userdata, char **ret_text);
