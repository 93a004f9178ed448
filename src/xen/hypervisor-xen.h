/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "closer/hypervisor.h"

/* closer_xen_hypervisor_new() with the files it reads itself
 * (proc/xen/capabilities, proc/irq/N/smp_affinity_list) under `root` ("/"
 * or NULL: the real ones). Tests run the adapter against a fake
 * libxenctrl/libxenstore and a fixture tree on a machine without Xen. */
int closer_xen_hypervisor_new_at(const char *root, closer_hypervisor **ret, closer_error *err);
