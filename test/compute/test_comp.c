/* Compute models: trace durations and ASTRA-sim's roofline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "comp.h"

static void test_trace(void **state)
{
    (void)state;
    comp_cfg c = {COMP_TRACE, 0, 1e9};
    comp_kernel k = {.duration_us = 1234, .num_ops = 1, .has_ops = 1};
    assert_int_equal(comp_time(&c, &k, NULL), 1234 * SIM_PS_PER_US);
}

static void test_roofline_compute_and_memory_bound(void **state)
{
    (void)state;
    /* 900 TFLOP/s, 1600 GB/s (10^9): 9e12 FLOPs on 1 MB is compute bound,
     * 9e12 / 900e12 = 10 ms; 1 FLOP on 1.6e9 bytes is memory bound, 1 ms. */
    comp_cfg c = {COMP_ROOFLINE, 900e12, 1600e9};
    loom_err err = {0};
    assert_int_equal(comp_cfg_check(&c, &err), 0);
    comp_kernel k1 = {.num_ops = 9000000000000ULL, .tensor_size = 1000000, .has_ops = 1};
    assert_int_equal(comp_time(&c, &k1, NULL), 10 * SIM_PS_PER_US * 1000);
    comp_kernel k2 = {.num_ops = 1, .tensor_size = 1600000000ULL, .has_ops = 1};
    assert_int_equal(comp_time(&c, &k2, NULL), 1000 * SIM_PS_PER_US);
}

static void test_roofline_fallbacks(void **state)
{
    (void)state;
    comp_cfg c = {COMP_ROOFLINE, 1e12, 1e9};
    int fb = 0;
    comp_kernel nops = {.duration_us = 5};
    assert_int_equal(comp_time(&c, &nops, &fb), 5 * SIM_PS_PER_US);
    assert_int_equal(fb, 1);
    comp_kernel cpu = {.duration_us = 7, .num_ops = 1000000, .has_ops = 1, .is_cpu = 1};
    assert_int_equal(comp_time(&c, &cpu, &fb), 7 * SIM_PS_PER_US);
    assert_int_equal(fb, 0);
}

static void test_bad_config(void **state)
{
    (void)state;
    loom_err err = {0};
    comp_cfg c = {COMP_ROOFLINE, 0, 1e9};
    assert_int_equal(comp_cfg_check(&c, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "peak-perf"));
}

static void test_mem_time(void **state)
{
    (void)state;
    comp_cfg c = {COMP_TRACE, 0, 50e9}; /* 50 GB/s: 1 MB takes 20 us */
    assert_int_equal(comp_mem_time(&c, 1000000), 20 * SIM_PS_PER_US);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_roofline_compute_and_memory_bound),
        cmocka_unit_test(test_roofline_fallbacks),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_mem_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
