/*
 * test_async.c: the asynchronous interface (net_coll_start, net_p2p_start)
 * of the analytical model: a started collective completes exactly
 * net_coll_time() after it started, calls its callback once with its own
 * context (never the engine's), and concurrent transfers do not interact
 * (the analytical model is contention-free).
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

#define GIB 1073741824.0
#define NS 1000LL

typedef struct rec {
    int calls;       /* times the callback ran */
    sim_time at;     /* when */
    int engine_ctx;  /* 1 if it was handed the engine's ctx by mistake */
} rec;

static int engine_sentinel;

static void done(sim_engine *eng, void *ctx)
{
    rec *r = ctx;
    if (ctx == &engine_sentinel) {
        engine_sentinel = 1;
        return;
    }
    r->calls++;
    r->at = sim_now(eng);
}

static net_model *model(net_dim_kind k0, int n0, net_dim_kind k1, int n1, net_algo algo,
                        int splits, net_calgo calgo)
{
    net_topo t = {.ndims = n1 ? 2 : 1};
    t.dims[0] = (net_dim){k0, n0, 50 * GIB, 500 * NS};
    if (n1)
        t.dims[1] = (net_dim){k1, n1, 25 * GIB, 2000 * NS};
    net_sys s = {.splits = splits, .active_chunks = 1, .endpoint_delay = 10 * NS,
                 .local_mem_bw = 1600e9, .calgo = calgo};
    for (int op = 0; op < NET_IMPL_OPS; op++)
        for (int d = 0; d < NET_MAX_DIMS; d++)
            s.impl[op][d] = algo;
    loom_err e = {0};
    net_model *m = net_model_create(&t, &s, &e);
    if (m == NULL)
        fail_msg("net_model_create: %s", e.msg);
    return m;
}

typedef struct start_args {
    net_model *m;
    net_group *g;
    net_coll op;
    uint64_t bytes;
    rec *r;
} start_args;

/* starts the collective from inside an event at a nonzero time */
static start_args *pending;
static void start_ev(sim_engine *eng, void *payload, void *ctx)
{
    (void)payload;
    (void)ctx;
    start_args *a = pending;
    net_coll_start(a->m, eng, a->g, a->op, a->bytes, 0xffffffffu, done, a->r);
}

static void check_coll(net_model *m, const int *ranks, int n, net_coll op, uint64_t bytes)
{
    loom_err e = {0};
    net_group *g = net_group_create(m, ranks, n, &e);
    assert_non_null(g);
    sim_time want = net_coll_time(m, g, op, bytes, 0xffffffffu);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, &engine_sentinel, &e);
    assert_non_null(eng);
    rec r = {0};
    start_args a = {m, g, op, bytes, &r};
    pending = &a;
    const sim_time t0 = 123456789; /* start somewhere past zero */
    sim_schedule(eng, t0, start_ev);
    sim_run(eng, SIM_TIME_MAX);
    assert_int_equal(r.calls, 1);
    assert_int_equal(engine_sentinel, 0);
    if (r.at - t0 != want)
        fail_msg("%s of %llu bytes on %d ranks: completed after %lld ps, net_coll_time %lld ps",
                 net_coll_name(op), (unsigned long long)bytes, n, (long long)(r.at - t0),
                 (long long)want);
    sim_engine_destroy(eng);
    net_group_destroy(g);
}

static void test_coll_matches_closed_form(void **state)
{
    (void)state;
    int all16[16], even[8];
    for (int i = 0; i < 16; i++)
        all16[i] = i;
    for (int i = 0; i < 8; i++)
        even[i] = 2 * i;
    static const net_coll ops[] = {NET_ALL_REDUCE, NET_ALL_GATHER, NET_REDUCE_SCATTER,
                                   NET_ALL_TO_ALL, NET_BROADCAST, NET_BARRIER};
    static const net_algo algos[] = {NET_ALGO_RING, NET_ALGO_DIRECT, NET_ALGO_HD,
                                     NET_ALGO_DBT};
    for (size_t a = 0; a < 4; a++) {
        net_model *m1 = model(NET_RING, 16, 0, 0, algos[a], 4, NET_CALGO_LISTS);
        net_model *m2 = model(NET_SWITCH, 4, NET_FULLY_CONNECTED, 4, algos[a], 1,
                              NET_CALGO_LISTS);
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            check_coll(m1, all16, 16, ops[o], 1 << 20);
            check_coll(m1, even, 8, ops[o], 3 << 20);
            check_coll(m2, all16, 16, ops[o], 1 << 20);
            check_coll(m2, even, 8, ops[o], 12345);
        }
        net_model_destroy(m1);
        net_model_destroy(m2);
    }
    /* whole-collective choices, including NCCL's tuner */
    for (int c = NET_CALGO_RING; c < NET_CALGOS; c++) {
        net_model *m = model(NET_SWITCH, 8, NET_SWITCH, 2, NET_ALGO_RING, 1, (net_calgo)c);
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
            check_coll(m, all16, 16, ops[o], 1 << 22);
        net_model_destroy(m);
    }
}

/* A one-rank group and an unselected dimension take 0: done at start. */
static void test_empty_collective(void **state)
{
    (void)state;
    net_model *m = model(NET_RING, 8, 0, 0, NET_ALGO_RING, 1, NET_CALGO_LISTS);
    int one = 3;
    check_coll(m, &one, 1, NET_ALL_REDUCE, 1 << 20);
    net_model_destroy(m);
}

typedef struct p2p_args {
    net_model *m;
    int src, dst;
    uint64_t bytes;
    rec *r;
} p2p_args;

static p2p_args *p2p_pending;
static void p2p_ev(sim_engine *eng, void *payload, void *ctx)
{
    (void)payload;
    (void)ctx;
    p2p_args *a = p2p_pending;
    net_p2p_start(a->m, eng, a->src, a->dst, a->bytes, done, a->r);
}

static void test_p2p_matches(void **state)
{
    (void)state;
    net_model *m = model(NET_RING, 8, NET_SWITCH, 4, NET_ALGO_RING, 1, NET_CALGO_LISTS);
    static const int pairs[][2] = {{0, 1}, {0, 4}, {3, 29}, {7, 7}, {12, 20}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        loom_err e = {0};
        sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, &engine_sentinel, &e);
        rec r = {0};
        p2p_args a = {m, pairs[i][0], pairs[i][1], 1000003, &r};
        p2p_pending = &a;
        sim_schedule(eng, 777, p2p_ev);
        sim_run(eng, SIM_TIME_MAX);
        assert_int_equal(r.calls, 1);
        assert_int_equal(r.at - 777, net_p2p_time(m, a.src, a.dst, a.bytes));
        sim_engine_destroy(eng);
    }
    net_model_destroy(m);
}

/* Many transfers at once: each completes at its own closed form, as if
 * alone (no contention in the analytical model). */
static void test_concurrent_independent(void **state)
{
    (void)state;
    net_model *m = model(NET_RING, 8, NET_SWITCH, 4, NET_ALGO_RING, 2, NET_CALGO_LISTS);
    loom_err e = {0};
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, &engine_sentinel, &e);
    enum { K = 12 };
    net_group *g[K];
    rec r[K];
    sim_time want[K];
    memset(r, 0, sizeof r);
    for (int k = 0; k < K; k++) {
        int ranks[8];
        for (int i = 0; i < 8; i++)
            ranks[i] = (k % 4) * 8 + i; /* four row groups, reused */
        g[k] = net_group_create(m, ranks, 8, &e);
        uint64_t bytes = (uint64_t)(k + 1) << 18;
        want[k] = net_coll_time(m, g[k], NET_ALL_REDUCE, bytes, 1);
        net_coll_start(m, eng, g[k], NET_ALL_REDUCE, bytes, 1, done, &r[k]);
    }
    sim_run(eng, SIM_TIME_MAX);
    for (int k = 0; k < K; k++) {
        assert_int_equal(r[k].calls, 1);
        assert_int_equal(r[k].at, want[k]);
        net_group_destroy(g[k]);
    }
    sim_engine_destroy(eng);
    net_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coll_matches_closed_form),
        cmocka_unit_test(test_empty_collective),
        cmocka_unit_test(test_p2p_matches),
        cmocka_unit_test(test_concurrent_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
