/* SPDX-License-Identifier: GPL-2.0-or-later */
/* systemd unit names and CPU bitmasks (closer/units.h). Pure. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "closer/units.h"

const char *const closer_main_units[CLOSER_MAIN_UNITS_N] = {"system.slice", "user.slice", "init.scope"};

/* systemd's unit types (unit_type_from_string) */
static const char *const unit_types[] = {
        "service", "mount", "swap", "socket", "target", "device", "automount", "timer", "path", "slice", "scope",
};

bool closer_unit_name_valid(const char *s) {
        if (!s)
                return false;
        size_t n = strlen(s);
        if (n == 0 || n >= CLOSER_UNIT_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
                      c == '_' || c == '.' || c == '\\' || c == '@' || c == '-'))
                        return false;
        }
        const char *dot = strrchr(s, '.');
        if (!dot || dot == s || s[0] == '-' || s[0] == '.')
                return false;
        for (size_t i = 0; i < ELEMENTSOF(unit_types); i++)
                if (strcmp(dot + 1, unit_types[i]) == 0)
                        return true;
        return false;
}

int closer_unit_scope_name(int node, int domid, char *buf, size_t len) {
        if (node < 0 || domid < 0)
                return -EINVAL;
        int n = snprintf(buf, len, "closer-node%d-vm%d.scope", node, domid);
        return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

int closer_cpuset_to_bitmask(const closer_cpuset *s, uint8_t *buf, size_t len) {
        int last = -1;
        CLOSER_CPUSET_FOREACH(cpu, s)
                last = cpu;
        size_t need = last < 0 ? 0 : (size_t) last / 8 + 1;
        if (need > len)
                return -ENOSPC;
        memset(buf, 0, need);
        CLOSER_CPUSET_FOREACH(cpu, s)
                buf[cpu / 8] |= (uint8_t) (1u << (cpu % 8));
        return (int) need;
}

int closer_cpuset_from_bitmask(const uint8_t *buf, size_t len, closer_cpuset *ret) {
        closer_cpuset s;
        closer_cpuset_zero(&s);
        for (size_t i = 0; i < len; i++)
                for (unsigned j = 0; j < 8; j++)
                        if (buf[i] & (1u << j)) {
                                if (i >= CLOSER_CPUSET_MAX / 8)
                                        return -ERANGE;
                                (void) closer_cpuset_set(&s, (unsigned) (i * 8 + j));
                        }
        *ret = s;
        return 0;
}
