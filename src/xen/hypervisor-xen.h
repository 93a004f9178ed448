/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "closer/hypervisor.h"

/* closer_xen_hypervisor_new() with the one file it reads itself
 * (proc/xen/capabilities) under `root` ("/" or NULL: the real one). Tests
 * run the adapter against a fake libxenctrl/libxenstore and a fixture tree
 * on a machine without Xen; every other host file comes through the
 * attached host-OS adapter, on its own root. */
int closer_xen_hypervisor_new_at(const char *root, closer_hypervisor **ret, closer_error *err);

/* How often libxenstat is asked for the qdisk QEMUs' block counters (a QMP
 * query-blockstats to each, which wakes the QEMU: work billed to its VM);
 * between polls the last answers stand. Default 10 s; 0: every read_io. */
#define CLOSER_XEN_QDISK_POLL_NS_DEFAULT (10ull * 1000000000ull)
void closer_xen_set_qdisk_poll_ns(closer_hypervisor *hv, uint64_t ns);
