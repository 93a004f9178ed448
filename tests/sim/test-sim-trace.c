/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Over-provisioning: a static socket idles more than a main container,
 * which idles more than the oracle; the trace is the same for all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim.h"

static void test_order(void **state) {
        closer_sim_config c;
        closer_sim_config_defaults(&c);
        double d[3][29];
        closer_sim_result r[3];
        for (unsigned p = 0; p < 3; p++)
                assert_int_equal(closer_sim_trace_run(&c, (closer_sim_policy) p, d[p], 29, &r[p]), 0);
        assert_true(r[CLOSER_SIM_NATIVE].v[CLOSER_SIM_M_WASTE_TASKS] > r[CLOSER_SIM_CLOSER].v[CLOSER_SIM_M_WASTE_TASKS]);
        assert_true(r[CLOSER_SIM_CLOSER].v[CLOSER_SIM_M_WASTE_TASKS] >= r[CLOSER_SIM_ORACLE].v[CLOSER_SIM_M_WASTE_TASKS]);
        for (unsigned i = 0; i < 29; i++)
                assert_true(d[CLOSER_SIM_NATIVE][i] >= d[CLOSER_SIM_CLOSER][i]);
        /* more dom0 work per task: less idle in the static socket */
        c.trace_dom0_per_task_cpu *= 2;
        closer_sim_result more;
        assert_int_equal(closer_sim_trace_run(&c, CLOSER_SIM_NATIVE, d[0], 29, &more), 0);
        assert_true(more.v[CLOSER_SIM_M_WASTE_TASKS] < r[CLOSER_SIM_NATIVE].v[CLOSER_SIM_M_WASTE_TASKS]);
}

static void test_deterministic(void **state) {
        closer_sim_config c;
        closer_sim_config_defaults(&c);
        double a[29], b[29];
        closer_sim_result ra, rb;
        assert_int_equal(closer_sim_trace_run(&c, CLOSER_SIM_NATIVE, a, 29, &ra), 0);
        assert_int_equal(closer_sim_trace_run(&c, CLOSER_SIM_NATIVE, b, 29, &rb), 0);
        assert_memory_equal(a, b, sizeof(a));
        c.w_seed = 7;
        assert_int_equal(closer_sim_trace_run(&c, CLOSER_SIM_NATIVE, b, 29, &rb), 0);
        assert_memory_not_equal(a, b, sizeof(a));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order),
                cmocka_unit_test(test_deterministic),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
