/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * systemd's units over sd-bus, on org.freedesktop.systemd1's Manager: the
 * AllowedCPUs= of a unit, and transient scopes for the processes closerd
 * moves into a domain's container. Every call's return is checked; a
 * failure is one line naming the unit and the call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "closer/units.h"
#include "linux/linux.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

static int bus_fail(closer_error *err, const sd_bus_error *e, int r, const char *unit, const char *call) {
        if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit") ||
            sd_bus_error_has_name(e, "org.freedesktop.systemd1.LoadFailed"))
                r = -ENOENT;
        else if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.UnitExists"))
                r = -EEXIST;
        else if (sd_bus_error_is_set(e))
                r = -sd_bus_error_get_errno(e);
        if (r >= 0)
                r = -EIO;
        return closer_error_set(err, r, "systemd unit %s: %s: %s", unit, call,
                                sd_bus_error_is_set(e) && e->message ? e->message : strerror(-r));
}

int closer_systemd_open(sd_bus **ret, closer_error *err) {
        sd_bus *bus = NULL;
        int r = sd_bus_new(&bus);
        if (r < 0)
                return closer_error_set(err, r, "systemd: sd_bus_new: %s", strerror(-r));
        r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0) {
                *ret = bus;
                return 0;
        }
        sd_bus_unref(bus);
        bus = NULL;
        /* no private socket (not root, or PID 1 not systemd): the bus */
        int r2 = sd_bus_open_system(&bus);
        if (r2 < 0)
                return closer_error_set(err, r2, "systemd: neither /run/systemd/private (%s) nor the system bus (%s)",
                                        strerror(-r), strerror(-r2));
        *ret = bus;
        return 0;
}

/* GetUnit: the unit's object path; -ENOENT when not loaded. */
static int unit_path(sd_bus *bus, const char *unit, char **ret, closer_error *err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &e, &reply, "s", unit);
        if (r < 0) {
                r = bus_fail(err, &e, r, unit, "GetUnit");
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0) {
                *ret = strdup(path);
                r = *ret ? 0 : -ENOMEM;
        }
        sd_bus_message_unref(reply);
        return r < 0 ? closer_error_set(err, r, "systemd unit %s: GetUnit: reply: %s", unit, strerror(-r)) : 0;
}

static const char *unit_interface(const char *unit) {
        const char *dot = strrchr(unit, '.');
        if (dot && strcmp(dot, ".slice") == 0)
                return "org.freedesktop.systemd1.Slice";
        if (dot && strcmp(dot, ".scope") == 0)
                return "org.freedesktop.systemd1.Scope";
        if (dot && strcmp(dot, ".service") == 0)
                return "org.freedesktop.systemd1.Service";
        return NULL;
}

int closer_systemd_get_cpus(sd_bus *bus, const char *unit, closer_cpuset *ret, closer_error *err) {
        const char *iface = unit_interface(unit);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char *path = NULL;
        const void *bytes;
        size_t n = 0;

        if (!iface || !closer_unit_name_valid(unit))
                return closer_error_set(err, -EINVAL, "systemd unit %s: not a slice, scope or service", unit);
        int r = unit_path(bus, unit, &path, err);
        if (r < 0)
                return r;
        r = sd_bus_get_property(bus, SD_DEST, path, iface, "AllowedCPUs", &e, &reply, "ay");
        free(path);
        if (r < 0) {
                r = bus_fail(err, &e, r, unit, "Get AllowedCPUs");
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_read_array(reply, 'y', &bytes, &n);
        if (r >= 0)
                r = closer_cpuset_from_bitmask(bytes, n, ret);
        sd_bus_message_unref(reply);
        return r < 0 ? closer_error_set(err, r, "systemd unit %s: Get AllowedCPUs: reply: %s", unit, strerror(-r)) : 0;
}

/* One ("Name", "ay", mask) entry of an a(sv). */
static int append_mask(sd_bus_message *m, const char *name, const closer_cpuset *s) {
        uint8_t buf[CLOSER_BITMASK_MAX];
        int n = closer_cpuset_to_bitmask(s, buf, sizeof(buf));
        if (n < 0)
                return n;
        int r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "ay");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', buf, (size_t) n);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int call(sd_bus *bus, sd_bus_message *m, const char *unit, const char *what, closer_error *err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call(bus, m, 0, &e, NULL);
        if (r < 0)
                r = bus_fail(err, &e, r, unit, what);
        sd_bus_error_free(&e);
        return r < 0 ? r : 0;
}

int closer_systemd_set_cpus(sd_bus *bus, const char *unit, const closer_cpuset *cpus, const closer_cpuset *mems,
                            closer_error *err) {
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(m, "sb", unit, 1);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = append_mask(m, "AllowedCPUs", cpus);
        if (r >= 0 && mems && !closer_cpuset_is_empty(mems))
                r = append_mask(m, "AllowedMemoryNodes", mems);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0) {
                sd_bus_message_unref(m);
                return closer_error_set(err, r, "systemd unit %s: SetUnitProperties: %s", unit, strerror(-r));
        }
        r = call(bus, m, unit, "SetUnitProperties", err);
        sd_bus_message_unref(m);
        return r;
}

int closer_systemd_start_scope(sd_bus *bus, const char *scope, const char *slice, int pid, const closer_cpuset *cpus,
                               const closer_cpuset *mems, closer_error *err) {
        char desc[128];
        sd_bus_message *m = NULL;

        if (pid <= 0)
                return closer_error_set(err, -EINVAL, "systemd unit %s: StartTransientUnit: pid %d", scope, pid);
        snprintf(desc, sizeof(desc), "closer: work done for a VM (%s)", scope);
        int r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", scope, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)", "Description", "s", desc, "Slice", "s", slice,
                                          "Delegate", "b", 1, "CollectMode", "s", "inactive-or-failed", "PIDs",
                                          "au", 1, (uint32_t) pid);
        if (r >= 0 && cpus && !closer_cpuset_is_empty(cpus))
                r = append_mask(m, "AllowedCPUs", cpus);
        if (r >= 0 && mems && !closer_cpuset_is_empty(mems))
                r = append_mask(m, "AllowedMemoryNodes", mems);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0) {
                sd_bus_message_unref(m);
                return closer_error_set(err, r, "systemd unit %s: StartTransientUnit: %s", scope, strerror(-r));
        }
        r = call(bus, m, scope, "StartTransientUnit", err);
        sd_bus_message_unref(m);
        return r;
}

int closer_systemd_attach(sd_bus *bus, const char *scope, int pid, closer_error *err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "AttachProcessesToUnit", &e, NULL, "ssau", scope,
                                   "", 1, (uint32_t) pid);
        if (r < 0)
                r = bus_fail(err, &e, r, scope, "AttachProcessesToUnit");
        sd_bus_error_free(&e);
        return r < 0 ? r : 0;
}

int closer_systemd_stop(sd_bus *bus, const char *unit, closer_error *err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit", &e, NULL, "ss", unit, "replace");
        if (r < 0)
                r = bus_fail(err, &e, r, unit, "StopUnit");
        sd_bus_error_free(&e);
        return r == -ENOENT ? 0 : r < 0 ? r : 0;
}
