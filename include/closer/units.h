/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "closer/cpuset.h"

/*
 * systemd's units as closer uses them (pure: no I/O; the bus is the Linux
 * adapter's, src/linux/systemd.c). Under systemd, closerd gives the main
 * container's CPUs to the slices everything of dom0's own runs in
 * (AllowedCPUs= on system.slice, user.slice, init.scope), and moves whole
 * processes working for a VM into a scope of their own per container,
 * closer-node<N>-vm<domid>.scope in closer.slice.
 */

/* The units that get the main container's CPUs, in this order. */
#define CLOSER_MAIN_UNITS_N 3u
extern const char *const closer_main_units[CLOSER_MAIN_UNITS_N];

#define CLOSER_UNIT_NAME_MAX 256u

/* Whether s is a plain systemd unit name ("system.slice",
 * "closer-node0-vm4.scope", "getty@tty1.service"): 1..255 characters of
 * [A-Za-z0-9:_.\\@-], a non-empty name and a known unit type suffix. Nothing
 * that could be a path, an option or an escape sequence. */
bool closer_unit_name_valid(const char *s);

/* The scope of container node<N>/vm<domid>: "closer-node<N>-vm<domid>.scope".
 * 0, or -EINVAL (node or domid < 0), -ENAMETOOLONG. */
int closer_unit_scope_name(int node, int domid, char *buf, size_t len);
#define CLOSER_UNIT_SLICE "closer.slice"

/*
 * A CPU set as systemd's D-Bus "ay" (cpu_set_to_dbus): byte i bit j is CPU
 * 8i+j, as many bytes as the highest CPU needs, none for the empty set.
 * to_bitmask returns the number of bytes written (0: empty set), or -ENOSPC
 * if buf is shorter than that (CLOSER_CPUSET_MAX / 8 always suffices).
 * from_bitmask accepts any length; bits beyond CLOSER_CPUSET_MAX are
 * -ERANGE (*ret untouched).
 */
#define CLOSER_BITMASK_MAX (CLOSER_CPUSET_MAX / 8u)
int closer_cpuset_to_bitmask(const closer_cpuset *s, uint8_t *buf, size_t len);
int closer_cpuset_from_bitmask(const uint8_t *buf, size_t len, closer_cpuset *ret);
