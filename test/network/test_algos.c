/*
 * test_algos.c: the collective algorithm library beyond ASTRA-sim's four
 * (bidirectional ring, staggered all-to-all, hierarchical, flat choices,
 * halving-doubling's non-power-of-two fold) and the NCCL cost mode.
 *
 * Expected values are written out here: the step formulas of
 * docs/NETWORK.md section 4, and NCCL 2.20.3's tuning model (its
 * src/graph/tuning.cc) evaluated by hand for two machines, with every
 * constant used named where it is used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "net.h"
#include "net_int.h"

#define GIB 1073741824.0
#define NS 1000.0
#define PS 1e12

static net_model *mk(const net_topo *t, net_model_kind kind, net_calgo calgo, net_algo algo,
                     int splits, double delta, double M)
{
    net_sys s = {.splits = splits, .active_chunks = 1, .endpoint_delay = (sim_time)delta,
                 .local_mem_bw = M, .model = kind, .calgo = calgo};
    for (int op = 0; op < NET_IMPL_OPS; op++)
        for (int d = 0; d < NET_MAX_DIMS; d++)
            s.impl[op][d] = algo;
    loom_err e = {0};
    net_model *m = net_model_create(t, &s, &e);
    if (m == NULL)
        fail_msg("%s", e.msg);
    return m;
}

static net_topo one_dim(net_dim_kind k, int p, double bw, double lat)
{
    net_topo t = {.ndims = 1};
    t.dims[0] = (net_dim){k, p, bw, (sim_time)lat};
    return t;
}

/* time of op on all ranks, by both models: the closed form (analytical)
 * and the schedule run as flows */
static void both(const net_topo *t, net_calgo c, net_algo a, int splits, net_coll op, uint64_t N,
                 sim_time *an, sim_time *fl)
{
    net_model *am = mk(t, NET_MODEL_ANALYTICAL, c, a, splits, 10 * NS, 1600e9);
    net_model *fm = mk(t, NET_MODEL_FLOW, c, a, splits, 10 * NS, 1600e9);
    int n = net_npus(am), *all = malloc(n * sizeof *all);
    for (int i = 0; i < n; i++)
        all[i] = i;
    loom_err e = {0};
    net_group *ga = net_group_create(am, all, n, &e), *gf = net_group_create(fm, all, n, &e);
    *an = net_coll_time(am, ga, op, N, 0xff);
    *fl = net_coll_time(fm, gf, op, N, 0xff);
    net_group_destroy(ga);
    net_group_destroy(gf);
    net_model_destroy(am);
    net_model_destroy(fm);
    free(all);
}

#define near(got, want, tol)                                                                 \
    do {                                                                                     \
        double w_ = (want);                                                                  \
        if (fabs((double)(got) - w_) > (tol))                                                \
            fail_msg("%s = %lld ps, want %.1f ps (tolerance %g)", #got, (long long)(got), w_, \
                     (double)(tol));                                                         \
    } while (0)

/* Bidirectional ring: half the buffer each way, p-1 steps of N/(2p) per
 * direction; each direction has its own link on a ring, the member's one
 * uplink carries both halves on a switch. */
static void test_ring2(void **state)
{
    (void)state;
    const double B = 50 * GIB, L = 500 * NS, d = 10 * NS, M = 1600e9;
    const uint64_t N = 8 * 1024 * 1024;
    const int p = 8;
    sim_time an, fl;
    net_topo ring = one_dim(NET_RING, p, B, L);
    both(&ring, NET_CALGO_RING2, NET_ALGO_RING, 1, NET_ALL_REDUCE, N, &an, &fl);
    double want = 2 * (p - 1) * (L + d + N / (2.0 * p) / B * PS) + (p - 1) * 3 * (N / p) / M * PS;
    near(an, want, 1);
    near(fl, want, 2 * (p - 1));
    /* vs the one-direction ring: the bandwidth term halves */
    net_model *m = mk(&ring, NET_MODEL_ANALYTICAL, NET_CALGO_RING, NET_ALGO_RING, 1, d, M);
    int all[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    loom_err e = {0};
    net_group *g = net_group_create(m, all, 8, &e);
    near(net_coll_time(m, g, NET_ALL_REDUCE, N, 1) - an, 2 * (p - 1) * N / (2.0 * p) / B * PS, 2);
    net_group_destroy(g);
    net_model_destroy(m);
    net_topo sw = one_dim(NET_SWITCH, p, B, L);
    both(&sw, NET_CALGO_RING2, NET_ALGO_RING, 1, NET_REDUCE_SCATTER, N, &an, &fl);
    want = (p - 1) * (2 * L + d + N / (double)p / B * PS) + (p - 1) * 3 * (N / p) / M * PS;
    near(an, want, 1);
    near(fl, want, p - 1);
}

/* Staggered all-to-all: p-1 rounds, round k sends N/p k members on. */
static void test_staggered(void **state)
{
    (void)state;
    const double B = 50 * GIB, L = 500 * NS, d = 10 * NS;
    const uint64_t N = 8 * 1024 * 1024;
    const int p = 8;
    sim_time an, fl;
    net_topo sw = one_dim(NET_SWITCH, p, B, L);
    both(&sw, NET_CALGO_STAGGER, NET_ALGO_RING, 1, NET_ALL_TO_ALL, N, &an, &fl);
    double want = (p - 1) * (2 * L + d + N / (double)p / B * PS);
    near(an, want, 1);
    near(fl, want, p - 1);
    /* on a ring, round k moves min(k, p-k) messages over each link of
     * the direction it takes, over min(k, p-k) hops */
    net_topo ring = one_dim(NET_RING, p, B, L);
    both(&ring, NET_CALGO_STAGGER, NET_ALGO_RING, 1, NET_ALL_TO_ALL, N, &an, &fl);
    want = 0;
    for (int k = 1; k < p; k++) {
        int x = k < p - k ? k : p - k;
        want += x * L + d + x * (N / (double)p) / B * PS;
    }
    near(an, want, 1);
    near(fl, want, p - 1);
}

/* Hierarchical = ring per dimension (RS in node, AR across, AG in node),
 * whatever the system's lists say; flat ring = one ring over all. */
static void test_hierarchical_and_flat(void **state)
{
    (void)state;
    net_topo t = {.ndims = 2};
    t.dims[0] = (net_dim){NET_SWITCH, 8, 400 * GIB, 936 * 1000};
    t.dims[1] = (net_dim){NET_SWITCH, 4, 50 * GIB, 2000 * 1000};
    const double d = 10 * NS, M = 1600e9;
    const uint64_t N = 64ULL << 20;
    sim_time an, fl;
    both(&t, NET_CALGO_HIER, NET_ALGO_DIRECT, 1, NET_ALL_REDUCE, N, &an, &fl);
    /* RS on 8 (7 steps of N/8), AR on 4 (6 steps of N/32), AG on 8 */
    double B0 = 400 * GIB, B1 = 50 * GIB, L0 = 936 * NS, L1 = 2000 * NS;
    double want = 7 * (2 * L0 + d + N / 8.0 / B0 * PS + 3 * (N / 8.0) / M * PS) +
                  3 * (2 * L1 + d + N / 32.0 / B1 * PS + 3 * (N / 32.0) / M * PS) +
                  3 * (2 * L1 + d + N / 32.0 / B1 * PS) + 7 * (2 * L0 + d + N / 8.0 / B0 * PS);
    near(an, want, 1);
    near(fl, want, 30);
    /* flat ring over 32 ranks: analytically the flat dimension (kind of
     * the outermost dim, slowest bandwidth, largest latency) */
    both(&t, NET_CALGO_RING, NET_ALGO_DIRECT, 1, NET_ALL_REDUCE, N, &an, &fl);
    want = 31 * (2 * L1 + d + N / 32.0 / B1 * PS + 3 * (N / 32.0) / M * PS) +
           31 * (2 * L1 + d + N / 32.0 / B1 * PS);
    near(an, want, 1);
    /* as flows the ring's steps inside a node take the fast dimension;
     * the 4 node-crossing neighbours of each step set the pace: 2 hops
     * on dim 0 and 2 on dim 1 (dimension order), at B1 */
    double step = 2 * L0 + 2 * L1 + d + N / 32.0 / B1 * PS;
    near(fl, 31 * (step + 3 * (N / 32.0) / M * PS) + 31 * step, 100);
}

/* Halving-doubling on p = 6: the 2 extra members fold into 0 and 1 (N
 * each), HD runs on 4, the result goes back; reduce-scatter has no
 * non-power-of-two form and falls back to ring. */
static void test_hd_non_power_of_two(void **state)
{
    (void)state;
    const double B = 50 * GIB, L = 500 * NS, d = 10 * NS, M = 1600e9;
    const uint64_t N = 6 * 4 * 1024 * 1024;
    sim_time an, fl;
    net_topo fc = one_dim(NET_FULLY_CONNECTED, 6, B, L);
    both(&fc, NET_CALGO_HD, NET_ALGO_RING, 1, NET_ALL_REDUCE, N, &an, &fl);
    double s = L + d;
    double want = (s + N / B * PS + 3.0 * N / M * PS) +                   /* fold */
                  (s + N / 2.0 / B * PS + 3 * (N / 2.0) / M * PS) +        /* RS 1 */
                  (s + N / 4.0 / B * PS + 3 * (N / 4.0) / M * PS) +        /* RS 2 */
                  (s + N / 4.0 / B * PS) + (s + N / 2.0 / B * PS) +        /* AG */
                  (s + N / B * PS);                                        /* unfold */
    near(an, want, 1);
    near(fl, want, 8);
    both(&fc, NET_CALGO_HD, NET_ALGO_RING, 1, NET_REDUCE_SCATTER, N, &an, &fl);
    want = 5 * (s + N / 6.0 / B * PS + 3 * (N / 6.0) / M * PS);
    near(an, want, 1);
    near(fl, want, 6);
}

/* ---- NCCL 2.20.3's tuner, by hand ----------------------------------------- */

/* NCCL's own time of (algorithm, protocol): lat + bytes / (1000 bw) us */
static double us(double lat, double bytes, double bw) { return lat + bytes / (1000 * bw); }

static void nccl_pick(const net_topo *t, int n, net_coll op, uint64_t bytes, net_nccl_pick *pk)
{
    net_model *m = mk(t, NET_MODEL_ANALYTICAL, NET_CALGO_NCCL, NET_ALGO_RING, 1, 0, 1e12);
    int *all = malloc(n * sizeof *all);
    for (int i = 0; i < n; i++)
        all[i] = i;
    loom_err e = {0};
    net_group *g = net_group_create(m, all, n, &e);
    assert_int_equal(net_nccl_choose(m, g, op, bytes, pk), 0);
    /* and the cost mode's collective time is that, in ps */
    near(net_coll_time(m, g, op, bytes, 0xff), pk->time_us * 1e6, 1);
    net_group_destroy(g);
    net_model_destroy(m);
    free(all);
}

/* One node of 8 Hopper GPUs on NVLink (one Switch dimension of 400e9
 * bytes/s), 16 channels (25 GB/s each), all-reduce:
 *   Ring  LL     bus min(llMaxBw 87.7, 400/4 = 100) = 87.7   alg x 8/14
 *                lat 6.6 + 14 x 0.6 = 15.0
 *   Ring  LL128  bus min(400 x 0.92, 16 x 36.7)  = 368      lat 14 + 14 x 1.9 = 40.6
 *   Ring  Simple bus 400                                    lat 8.4 + 14 x 3.4 = 56.0
 *   Tree  LL     bus min(400 x .92 = 368, 16 x 38.7) / 3.8 -> min(96.8, 87.7) = 87.7, alg x .5
 *                lat 6.8 + 2 x 7 x 0.6 = 15.2
 *   Tree  LL128  bus min(368 x 7/9, 16 x 36.7) = 286.2       lat 14 + 2 x 7 x 1.25 = 31.5
 *   Tree  Simple bus 368                                    lat 2 x 7 x 28 = 392
 * with the tree correction factor of log2(bytes/64). */
static void test_nccl_single_node(void **state)
{
    (void)state;
    net_topo t = one_dim(NET_SWITCH, 8, 400e9, 500 * NS);
    net_nccl_pick pk;
    double rLL = 87.7 * 8 / 14, rLL128 = 368.0 * 8 / 14, rS = 400.0 * 8 / 14;
    double tLL = 87.7 * .5, tLL128 = 368.0 * 7 / 9 * .5, tS = 368.0 * .5;
    /* 1 KiB: log2(16) = 4, tree factors LL .9, LL128 1.0, Simple .9 */
    nccl_pick(&t, 8, NET_ALL_REDUCE, 1024, &pk);
    double c[6] = {us(15.2, 1024, tLL * .9), us(31.5, 1024, tLL128), us(392, 1024, tS * .9),
                   us(15.0, 1024, rLL), us(40.6, 1024, rLL128), us(56.0, 1024, rS)};
    assert_int_equal(pk.algo, NET_NCCL_RING);
    assert_int_equal(pk.proto, NET_NCCL_LL);
    assert_true(fabs(pk.time_us - c[3]) < 1e-6);
    for (int i = 0; i < 6; i++)
        assert_true(pk.time_us <= c[i] + 1e-9);
    /* 256 MiB: log2(2^22) = 22, tree factors .9 (LL128 1.0) */
    double b = 268435456;
    nccl_pick(&t, 8, NET_ALL_REDUCE, (uint64_t)b, &pk);
    assert_int_equal(pk.algo, NET_NCCL_RING);
    assert_int_equal(pk.proto, NET_NCCL_SIMPLE);
    assert_true(fabs(pk.time_us - us(56.0, b, rS)) < 1e-6);
    assert_true(pk.time_us < us(40.6, b, rLL128));
    assert_true(pk.time_us < us(392, b, tS * .9));
    /* in between, each protocol has its range: at 1 MiB LL (15 +
     * 1048.576/50.11 = 35.92) beats LL128 (40.6 + 4.99 = 45.59) and Simple
     * (56 + 4.59); at 4 MiB LL128 (40.6 + 19.95 = 60.55) beats Simple
     * (56 + 18.35 = 74.35) and LL (15 + 83.7) */
    nccl_pick(&t, 8, NET_ALL_REDUCE, 1 << 20, &pk);
    assert_int_equal(pk.algo, NET_NCCL_RING);
    assert_int_equal(pk.proto, NET_NCCL_LL);
    nccl_pick(&t, 8, NET_ALL_REDUCE, 4 << 20, &pk);
    assert_int_equal(pk.algo, NET_NCCL_RING);
    assert_int_equal(pk.proto, NET_NCCL_LL128);
    assert_true(fabs(pk.time_us - us(40.6, 4 << 20, rLL128)) < 1e-6);
    /* all-gather counts the output: comm_size x 8, ring only, 7 steps */
    nccl_pick(&t, 8, NET_ALL_GATHER, 1 << 24, &pk);
    assert_int_equal(pk.algo, NET_NCCL_RING);
    assert_true(fabs(pk.time_us - us(8.4 + 7 * 3.4, 8.0 * (1 << 24), 400.0 * 8 / 7)) < 1e-6);
}

/* 16 rail nodes x 8 GPUs (NVLink 450 GiB/s = 483.2 GB/s, a NIC of 50e9
 * bytes/s per GPU), 128 ranks, all-reduce of 1 GiB.  More than 2 nodes:
 * the channels leave a node over its 8 NICs, inter = 8 x 50 = 400 GB/s <
 * intra, per channel 400/16 = 25 GB/s, bus 400 GB/s.
 *   Ring Simple: alg 400 x 128/254; lat = 8.4 + (254 - 32) x max(3.4,
 *     1.0 x 3) + 32 x 14.0 = 1211.2, x 1.4 (plateau: 1 GiB/(16 x 128)
 *     >= 64 on Hopper) = 1695.68: 1695.68 + 5326.9 = 7022.6 us
 *   Ring LL128: bus min(400 x .92, 16 x 36.7) = 368; lat 14 + 222 x
 *     max(1.9, 1.0) + 32 x 4.0 = 563.8: 563.8 + 5789.9 = 6353.7 us
 *   Tree Simple: bus min(400 x .92, 16 x 36.0) = 368, alg 184; lat 2 x (7 x
 *     28 + log2(16) x 28) = 616 (no correction past 256 MiB): 6451.6 us
 *   Tree LL128: bus min(368 x 120/128, 16 x 29.0) = 345, alg 172.5; lat 14
 *     + 2 x (7 x 1.25 + 4 x 8.5) = 99.5: 99.5 + 6224.6 = 6324.1 us, the pick
 * (busbw 1 GiB x 254/128 / 6324.1 us = 337 GB/s; 4 and 8 such nodes
 * measured 320-365 GB/s, bench/nccl).  A group of one GPU a node (16
 * ranks) leaves each node over one NIC: bus 50 GB/s. */
static void test_nccl_multi_node(void **state)
{
    (void)state;
    net_topo t = {0};
    t.x.kind = NET_X_RAIL;
    t.x.nodes = 16;
    t.x.gpus_per_node = 8;
    t.x.cls[0] = (net_link_class){450 * GIB, 468000};
    t.x.cls[1] = (net_link_class){50e9, 700000};
    net_nccl_pick pk;
    double b = GIB;
    nccl_pick(&t, 128, NET_ALL_REDUCE, (uint64_t)b, &pk);
    assert_int_equal(pk.nnodes, 16);
    assert_int_equal(pk.algo, NET_NCCL_TREE);
    assert_int_equal(pk.proto, NET_NCCL_LL128);
    double want = us(99.5, b, 172.5);
    if (fabs(pk.time_us - want) > 1e-6 * want)
        fail_msg("NCCL tree/LL128 %.3f us, by hand %.3f", pk.time_us, want);
    assert_true(pk.time_us < us(563.8, b, 368.0 * 128 / 254));
    assert_true(pk.time_us < us(1211.2 * 1.4, b, 400.0 * 128 / 254));
    assert_true(pk.time_us < us(616, b, 184.0));
    /* a small all-reduce on the same 128 ranks: tree wins on latency:
     * Tree LL lat 6.8 + 2 x (7 x 0.6 + 4 x 5.0) = 55.2 vs Ring LL 6.6 +
     * 222 x 1.0 + 32 x 2.7 = 315 */
    nccl_pick(&t, 128, NET_ALL_REDUCE, 4096, &pk);
    assert_int_equal(pk.algo, NET_NCCL_TREE);
    assert_int_equal(pk.proto, NET_NCCL_LL);
    assert_true(fabs(pk.lat_us - 55.2) < 1e-9);
    /* ops without a tuner entry */
    net_model *m = mk(&t, NET_MODEL_ANALYTICAL, NET_CALGO_NCCL, NET_ALGO_RING, 1, 0, 1e12);
    int all[16];
    for (int i = 0; i < 16; i++)
        all[i] = i * 8;
    loom_err e = {0};
    net_group *g = net_group_create(m, all, 16, &e);
    assert_int_equal(net_nccl_choose(m, g, NET_ALL_TO_ALL, 1 << 20, &pk), -1);
    /* all-to-all is not the tuner's: NCCL sends to every peer at once,
     * so the mode times it as the flat direct algorithm does */
    net_model *d = mk(&t, NET_MODEL_ANALYTICAL, NET_CALGO_DIRECT, NET_ALGO_RING, 1, 0, 1e12);
    net_group *gd = net_group_create(d, all, 16, &e);
    assert_int_equal(net_coll_time(m, g, NET_ALL_TO_ALL, 1 << 20, 0xff),
                     net_coll_time(d, gd, NET_ALL_TO_ALL, 1 << 20, 0xff));
    net_group_destroy(gd);
    net_model_destroy(d);
    /* one GPU a node: one NIC, bus 50 GB/s; Ring Simple (alg 50 x 16/30)
     * beats LL128 (bus 50 x 0.7 with ppn < 2) and Tree (alg 46 x .5) */
    assert_int_equal(net_nccl_choose(m, g, NET_ALL_REDUCE, (uint64_t)GIB, &pk), 0);
    assert_int_equal(pk.algo, NET_NCCL_RING);
    assert_int_equal(pk.proto, NET_NCCL_SIMPLE);
    assert_true(fabs(pk.bw - 50.0 * 16 / 30) < 1e-9);
    net_group_destroy(g);
    net_model_destroy(m);
}

/* The flow model under NCCL mode runs NCCL's pick: Ring -> ring
 * schedule, Tree -> double binary tree. */
static void test_nccl_flow_runs_pick(void **state)
{
    (void)state;
    net_topo t = one_dim(NET_SWITCH, 8, 400e9, 500 * NS);
    net_model *f = mk(&t, NET_MODEL_FLOW, NET_CALGO_NCCL, NET_ALGO_RING, 1, 10 * NS, 1600e9);
    net_model *r = mk(&t, NET_MODEL_FLOW, NET_CALGO_RING, NET_ALGO_RING, 1, 10 * NS, 1600e9);
    int all[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    loom_err e = {0};
    net_group *gf = net_group_create(f, all, 8, &e), *gr = net_group_create(r, all, 8, &e);
    /* big: NCCL picks Ring: the same schedule as the flat ring */
    assert_int_equal(net_coll_time(f, gf, NET_ALL_REDUCE, 1 << 28, 1),
                     net_coll_time(r, gr, NET_ALL_REDUCE, 1 << 28, 1));
    net_group_destroy(gf);
    net_group_destroy(gr);
    net_model_destroy(f);
    net_model_destroy(r);
}

int main(void)
{
    loom_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring2),
        cmocka_unit_test(test_staggered),
        cmocka_unit_test(test_hierarchical_and_flat),
        cmocka_unit_test(test_hd_non_power_of_two),
        cmocka_unit_test(test_nccl_single_node),
        cmocka_unit_test(test_nccl_multi_node),
        cmocka_unit_test(test_nccl_flow_runs_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
