/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The kernel's process-events connector (netlink NETLINK_CONNECTOR,
 * CN_IDX_PROC): a notification for every exec in dom0. closerd re-plans when
 * one arrives, so short-lived admin commands (`xl shutdown`, `xl save` and
 * its libxl-save-helper) are placed in their domain's container at once
 * instead of slipping between two /proc scans. The /proc scan stays the
 * truth; this only says "look now". Needs CAP_NET_ADMIN and the real root.
 */

typedef struct closer_procevents closer_procevents;

/* Subscribe. Returns 0 and *ret, or -errno: -EPERM (not privileged),
 * -EPROTONOSUPPORT (kernel without CONFIG_PROC_EVENTS). */
int closer_procevents_open(closer_procevents **ret);
/* The fd to poll for input. */
int closer_procevents_fd(const closer_procevents *p);
/* Read everything pending without blocking. *ret_execs counts exec events;
 * the first max_pids exec'd processes (thread group ids) go to pids (may be
 * NULL with max_pids 0). *ret_lost is set when the kernel dropped events
 * (socket overrun): the caller should rescan. Returns 0 or -errno. */
int closer_procevents_drain(closer_procevents *p, int *pids, unsigned max_pids, unsigned *ret_execs, int *ret_lost);
/* After a drain: 0 while the subscription stands, or the -errno the kernel
 * answered it with (-EPERM without CAP_NET_ADMIN): no events will come. */
int closer_procevents_refused(const closer_procevents *p);
/* Unsubscribe and close; accepts NULL; returns NULL. */
closer_procevents *closer_procevents_close(closer_procevents *p);
