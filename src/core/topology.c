/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "closer/snapshot.h"

int closer_topology_index(closer_topology *topo, closer_error *err) {
        int16_t cpu_node[CLOSER_CPUSET_MAX];

        if (topo->n_nodes > CLOSER_NODES_MAX)
                return closer_error_set(err, -EINVAL, "%u nodes, expected at most %u",
                                        topo->n_nodes, CLOSER_NODES_MAX);

        /* Build into a copy so that topo->cpu_node stays as it was on failure. */
        for (unsigned c = 0; c < CLOSER_CPUSET_MAX; c++)
                cpu_node[c] = -1;
        for (unsigned i = 0; i < topo->n_nodes; i++)
                CLOSER_CPUSET_FOREACH(cpu, &topo->nodes[i].cpus) {
                        if (cpu_node[cpu] >= 0)
                                return closer_error_set(err, -EINVAL, "pCPU %d is on nodes %d and %d",
                                                        cpu, topo->nodes[cpu_node[cpu]].id,
                                                        topo->nodes[i].id);
                        cpu_node[cpu] = (int16_t) i;
                }
        for (unsigned c = 0; c < CLOSER_CPUSET_MAX; c++)
                topo->cpu_node[c] = cpu_node[c];
        return 0;
}

int closer_topology_node_of_cpu(const closer_topology *topo, int pcpu) {
        if (pcpu < 0 || (unsigned) pcpu >= CLOSER_CPUSET_MAX)
                return -1;
        return topo->cpu_node[pcpu];
}

int closer_topology_node_index(const closer_topology *topo, int node_id) {
        /* At most CLOSER_NODES_MAX entries: a scan beats any index here. */
        for (unsigned i = 0; i < topo->n_nodes && i < CLOSER_NODES_MAX; i++)
                if (topo->nodes[i].id == node_id)
                        return (int) i;
        return -1;
}
