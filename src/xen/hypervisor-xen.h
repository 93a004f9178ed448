/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "closer/hypervisor.h"

/* closer_xen_hypervisor_new() with the capabilities file named (tests run
 * the adapter against a fake libxenctrl/libxenstore on a machine without
 * Xen). */
int closer_xen_hypervisor_new_at(const char *caps_path, closer_hypervisor **ret, closer_error *err);
