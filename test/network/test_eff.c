/*
 * test_eff.c: the achieved-bandwidth curves (network/net_eff.c,
 * docs/NETWORK.md section 9): the table read by hand at its points,
 * between them and beyond its ends; the analytical model's ring with a
 * curve against the step formula evaluated here; the flow model moving
 * buf / eff; curve 0 and NCCL's cost mode untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "net.h"
#include "net_int.h"

#define NS 1000.0

static int curve(const char *name)
{
    int c = -1;
    assert_int_equal(net_eff_parse(name, &c), 0);
    return c;
}

/* Table values copied from net_eff.c's nvlink3 row (Azure ND A100 v4). */
static void test_factor(void **state)
{
    (void)state;
    int c3 = curve("nvlink3"), c4 = curve("nvlink4"), none = curve("none");
    assert_int_equal(none, 0);
    assert_string_equal(net_eff_name(c3), "nvlink3");
    assert_string_equal(net_eff_name(99), "?");
    int x;
    assert_int_equal(net_eff_parse("nvlink6", &x), -1);
    /* at points: 2^20 bytes is point 10, 2^33 the last */
    assert_float_equal(net_eff_factor(c3, NET_ALL_REDUCE, 1048576.0), 0.2889, 1e-12);
    assert_float_equal(net_eff_factor(c3, NET_ALL_REDUCE, 8589934592.0), 0.9309, 1e-12);
    /* halfway in log2 between 2^20 (0.2889) and 2^21 (0.3244): 2^20.5 */
    assert_float_equal(net_eff_factor(c3, NET_ALL_REDUCE, 1048576.0 * sqrt(2.0)),
                       (0.2889 + 0.3244) / 2, 1e-12);
    /* a quarter of the way from 2^30 (0.9174) to 2^31 (0.9258) */
    assert_float_equal(net_eff_factor(c3, NET_ALL_REDUCE, 1073741824.0 * pow(2.0, 0.25)),
                       0.9174 + 0.25 * (0.9258 - 0.9174), 1e-12);
    /* flat beyond the ends */
    assert_float_equal(net_eff_factor(c3, NET_ALL_REDUCE, 8.0), 0.0004, 1e-12);
    assert_float_equal(net_eff_factor(c3, NET_ALL_REDUCE, 1e15), 0.9309, 1e-12);
    /* nvlink3: other collectives read the all-reduce's table */
    assert_float_equal(net_eff_factor(c3, NET_ALL_GATHER, 1048576.0), 0.2889, 1e-12);
    /* nvlink4: all-reduce 1.3562 at 8 GiB (NVLS); the others at 370/450 there */
    assert_float_equal(net_eff_factor(c4, NET_ALL_REDUCE, 8589934592.0), 1.3562, 1e-12);
    assert_float_equal(net_eff_factor(c4, NET_REDUCE_SCATTER, 8589934592.0), 0.8222, 1e-12);
    /* nvlink5 (OpenXLA's 8 x B200 table): 2 GiB is point 21, flat beyond;
     * the others at the all-gather's and reduce-scatter's mean busbw over
     * the all-reduce's there, 629.1 / 613.8 */
    int c5 = curve("nvlink5");
    assert_float_equal(net_eff_factor(c5, NET_ALL_REDUCE, 16777216.0), 0.3356, 1e-12);
    assert_float_equal(net_eff_factor(c5, NET_ALL_REDUCE, 2147483648.0), 0.7787, 1e-12);
    assert_float_equal(net_eff_factor(c5, NET_ALL_REDUCE, 8589934592.0), 0.7787, 1e-12);
    assert_float_equal(net_eff_factor(c5, NET_ALL_GATHER, 2147483648.0), 0.7787 * 629.1 / 613.8,
                       1e-12);
    assert_float_equal(net_eff_factor(none, NET_ALL_REDUCE, 1048576.0), 1.0, 0);
}

static net_model *mk(net_model_kind kind, net_calgo calgo, int eff)
{
    net_topo t = {.ndims = 1};
    t.dims[0] = (net_dim){NET_SWITCH, 8, 300e9, (sim_time)(1000 * NS)};
    /* no endpoint delay, reductions free: the step formula's bandwidth
     * and latency terms alone */
    net_sys s = {.splits = 1, .active_chunks = 1, .endpoint_delay = 0, .local_mem_bw = 1e300,
                 .model = kind, .calgo = calgo};
    s.eff[0] = (uint8_t)eff;
    loom_err e = {0};
    net_model *m = net_model_create(&t, &s, &e);
    if (m == NULL)
        fail_msg("%s", e.msg);
    return m;
}

static sim_time time_of(net_model_kind kind, net_calgo calgo, int eff, net_coll op, uint64_t N)
{
    net_model *m = mk(kind, calgo, eff);
    int all[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    loom_err e = {0};
    net_group *g = net_group_create(m, all, 8, &e);
    assert_non_null(g);
    sim_time t = net_coll_time(m, g, op, N, 0x1);
    net_group_destroy(g);
    net_model_destroy(m);
    return t;
}

/* Ring all-reduce of N bytes on a switch of p = 8 at B = 300e9 B/s, 1 us
 * per hop: 2(p-1) = 14 steps of 2 hops and N/p bytes each (MODEL.md 5):
 *     T = 14 * 2 * 1 us + 14 * (N/8) / (B * eff(N))
 * At N = 1 MiB, eff = 0.2889: 28 us + 1.75 * 1048576 / (300e9 * 0.2889) s
 * = 28 us + 21.1712 us. */
static void test_analytical(void **state)
{
    (void)state;
    int c3 = curve("nvlink3");
    uint64_t N = 1048576;
    double want = 28e6 + 1.75 * N / (300e9 * 0.2889) * 1e12;
    sim_time got = time_of(NET_MODEL_ANALYTICAL, NET_CALGO_LISTS, c3, NET_ALL_REDUCE, N);
    if (fabs((double)got - want) > 2)
        fail_msg("ring all-reduce with nvlink3: %lld ps, want %.1f", (long long)got, want);
    /* off: link rate */
    double off = 28e6 + 1.75 * N / 300e9 * 1e12;
    got = time_of(NET_MODEL_ANALYTICAL, NET_CALGO_LISTS, 0, NET_ALL_REDUCE, N);
    if (fabs((double)got - off) > 2)
        fail_msg("ring all-reduce off: %lld ps, want %.1f", (long long)got, off);
    /* all-gather of N per rank: read at the output, 8 N = 2^23 bytes,
     * point 13 (0.3940): 7 steps of N bytes */
    double ag = 7 * 2e6 + 7.0 * N / (300e9 * 0.3940) * 1e12;
    got = time_of(NET_MODEL_ANALYTICAL, NET_CALGO_LISTS, c3, NET_ALL_GATHER, N);
    if (fabs((double)got - ag) > 2)
        fail_msg("ring all-gather with nvlink3: %lld ps, want %.1f", (long long)got, ag);
    /* NCCL's cost mode keeps its own model */
    assert_int_equal(time_of(NET_MODEL_ANALYTICAL, NET_CALGO_NCCL, c3, NET_ALL_REDUCE, N),
                     time_of(NET_MODEL_ANALYTICAL, NET_CALGO_NCCL, 0, NET_ALL_REDUCE, N));
}

/* Flow model: a phase moves buf / eff bytes at the links' rate, so the
 * collective with the curve takes what N / eff bytes take without it. */
static void test_flow(void **state)
{
    (void)state;
    int c3 = curve("nvlink3");
    uint64_t N = 1048576;
    sim_time on = time_of(NET_MODEL_FLOW, NET_CALGO_LISTS, c3, NET_ALL_REDUCE, N);
    sim_time same = time_of(NET_MODEL_FLOW, NET_CALGO_LISTS, 0, NET_ALL_REDUCE,
                            (uint64_t)llround(N / 0.2889));
    /* one byte of rounding per step at most: 14 x 1.75/8 ... < 100 ps */
    if (llabs((long long)(on - same)) > 100)
        fail_msg("flow with nvlink3: %lld ps; N/eff bytes without: %lld ps", (long long)on,
                 (long long)same);
    /* and it is the analytical time, the ring alone on a switch */
    sim_time an = time_of(NET_MODEL_ANALYTICAL, NET_CALGO_LISTS, c3, NET_ALL_REDUCE, N);
    if (llabs((long long)(on - an)) > 1000)
        fail_msg("flow %lld ps, analytical %lld ps", (long long)on, (long long)an);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_factor),
        cmocka_unit_test(test_analytical),
        cmocka_unit_test(test_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
