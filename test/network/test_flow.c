/*
 * test_flow.c: the flow model (network/net_flow.c, net_sched.c,
 * net_graph.c) against closed forms and against a slow, obvious global
 * max-min computation.
 *
 * Expected times are formulas: a flow of b bytes on a path of h links of
 * latency L, bottleneck B, takes b/B + h*L (+ endpoint delay); n equal
 * flows on one link each get B/n.  Collective closed forms are
 * net_coll_time() of the analytical model (docs/MODEL.md), which the flow
 * model must reproduce wherever no link is shared.  Rounding: the flow
 * model rounds once per flow and per step (to the ps), the closed form
 * once per collective, so they may differ by up to 1 ps per step.
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
#include "net_topo.h"

#define GIB 1073741824.0
#define NS 1000LL

static net_model *mk(int ndims, const net_dim *dims, net_model_kind kind, net_algo algo,
                     int splits, sim_time delta, net_calgo calgo)
{
    net_topo t = {.ndims = ndims};
    for (int d = 0; d < ndims; d++)
        t.dims[d] = dims[d];
    net_sys s = {.splits = splits, .active_chunks = 1, .endpoint_delay = delta,
                 .local_mem_bw = 1600e9, .model = kind, .calgo = calgo};
    for (int op = 0; op < NET_IMPL_OPS; op++)
        for (int d = 0; d < NET_MAX_DIMS; d++)
            s.impl[op][d] = algo;
    loom_err e = {0};
    net_model *m = net_model_create(&t, &s, &e);
    if (m == NULL)
        fail_msg("net_model_create: %s", e.msg);
    return m;
}

typedef struct rec {
    int calls;
    sim_time at;
} rec;

static void done(sim_engine *eng, void *ctx)
{
    rec *r = ctx;
    r->calls++;
    r->at = sim_now(eng);
}

/* ---- single flows -------------------------------------------------------- */

static void test_one_flow_equals_analytical(void **state)
{
    (void)state;
    net_dim dims[2] = {{NET_RING, 8, 50 * GIB, 500 * NS}, {NET_SWITCH, 4, 25 * GIB, 700 * NS}};
    net_model *fm = mk(2, dims, NET_MODEL_FLOW, NET_ALGO_RING, 1, 10 * NS, NET_CALGO_LISTS);
    net_model *am = mk(2, dims, NET_MODEL_ANALYTICAL, NET_ALGO_RING, 1, 10 * NS,
                       NET_CALGO_LISTS);
    static const int pairs[][2] = {{0, 1}, {0, 3}, {0, 4}, {5, 1}, {0, 8}, {3, 30}, {31, 0}};
    static const uint64_t sizes[] = {0, 1, 4096, 1048576, 1000000007};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            int s = pairs[i][0], d = pairs[i][1];
            /* by hand: ring hops min(|dc|, 8-|dc|) at 500 ns, switch 2 x 700 ns,
             * bottleneck the slower dimension crossed */
            int c0 = abs(s % 8 - d % 8), h0 = c0 < 8 - c0 ? c0 : 8 - c0;
            int crosses1 = s / 8 != d / 8;
            double bw = crosses1 ? 25 * GIB : 50 * GIB;
            double want = h0 * 500e3 + crosses1 * 2 * 700e3 + sizes[k] / bw * 1e12 + 10e3;
            sim_time a = net_p2p_time(am, s, d, sizes[k]);
            sim_time f = net_p2p_time(fm, s, d, sizes[k]);
            if (llabs(a - llround(want)) > 1 || llabs(f - a) > 1)
                fail_msg("%d->%d %llu bytes: flow %lld ps, analytical %lld ps, by hand %.1f", s,
                         d, (unsigned long long)sizes[k], (long long)f, (long long)a, want);
            /* the same through the async interface */
            loom_err e = {0};
            sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
            net_model *m2 = mk(2, dims, NET_MODEL_FLOW, NET_ALGO_RING, 1, 10 * NS,
                               NET_CALGO_LISTS);
            rec r = {0};
            net_p2p_start(m2, eng, s, d, sizes[k], done, &r);
            sim_run(eng, SIM_TIME_MAX);
            assert_int_equal(r.calls, 1);
            assert_int_equal(r.at, f);
            net_model_destroy(m2);
            sim_engine_destroy(eng);
        }
    net_model_destroy(fm);
    net_model_destroy(am);
}

/* ---- same-time batching ------------------------------------------------------ */

typedef struct blog {
    char s[16];
    int n;
    sim_time at[16];
    nf *f;
} blog;

static void bcall(sim_engine *eng, void *ctx, uint64_t a, uint64_t b)
{
    blog *l = ctx;
    l->at[l->n] = sim_now(eng);
    l->s[l->n++] = (char)a;
    if (b) /* scheduled now, at this same time: after the batch that runs */
        nf_at(l->f, eng, sim_now(eng), bcall, l, b, 0);
}

/* Callbacks due at one time share one engine event, in the order they
 * were scheduled; one scheduled at that time while its batch runs goes
 * after it (a new batch), as a separate event would. */
static void test_same_time_batch(void **state)
{
    (void)state;
    net_dim d = {NET_RING, 2, 40 * GIB, 300 * NS};
    net_model *m = mk(1, &d, NET_MODEL_FLOW, NET_ALGO_RING, 1, 0, NET_CALGO_LISTS);
    loom_err e = {0};
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    net_flow_bind(m, eng);
    blog l = {.f = m->flow};
    nf_at(m->flow, eng, 10, bcall, &l, 'a', 'c');
    nf_at(m->flow, eng, 5, bcall, &l, 'x', 0);
    nf_at(m->flow, eng, 10, bcall, &l, 'b', 0);
    sim_run(eng, SIM_TIME_MAX);
    l.s[l.n] = 0;
    assert_string_equal(l.s, "xabc");
    assert_true(l.at[0] == 5 && l.at[1] == 10 && l.at[2] == 10 && l.at[3] == 10);
    assert_int_equal(sim_events(eng), 3); /* t=5, t=10 (a, b), t=10 again (c) */
    net_model_destroy(m);
    sim_engine_destroy(eng);
}

/* Many times open at once, each asked for twice, the rounds interleaved:
 * one batch (one engine event) per time, its calls in the order they were
 * scheduled.  A table of the open batches that forgets one when another
 * time takes its place (a fixed direct-mapped table of 4,096 entries did)
 * opens a second batch for the second call: more events than times. */
typedef struct olog {
    int n, bad;
    sim_time last;
    uint64_t prev;
} olog;

static void ocall(sim_engine *eng, void *ctx, uint64_t a, uint64_t b)
{
    olog *l = ctx;
    /* times ascend; at each, round 0's call before round 1's */
    if (sim_now(eng) != (sim_time)a || (l->n > 0 && (sim_now(eng) < l->last ||
                                                     (sim_now(eng) == l->last && b <= l->prev))))
        l->bad++;
    l->last = sim_now(eng);
    l->prev = b;
    l->n++;
}

static void test_many_open_times(void **state)
{
    (void)state;
    enum { T = 20000 };
    net_dim d = {NET_RING, 2, 40 * GIB, 300 * NS};
    net_model *m = mk(1, &d, NET_MODEL_FLOW, NET_ALGO_RING, 1, 0, NET_CALGO_LISTS);
    loom_err e = {0};
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    net_flow_bind(m, eng);
    olog l = {0};
    for (uint64_t round = 0; round < 2; round++)
        for (uint64_t i = 0; i < T; i++) {
            uint64_t t = 1 + (i * 7919) % T; /* every time once a round, scattered */
            nf_at(m->flow, eng, (sim_time)t, ocall, &l, t, round);
        }
    sim_run(eng, SIM_TIME_MAX);
    assert_int_equal(l.n, 2 * T);
    assert_int_equal(l.bad, 0);
    assert_int_equal(sim_events(eng), T);
    net_model_destroy(m);
    sim_engine_destroy(eng);
}

/* ---- n flows on one link ---------------------------------------------------- */

static void test_n_flows_share_one_link(void **state)
{
    (void)state;
    /* Ring of 2: one link each way.  n flows 0 -> 1 of b bytes each get
     * B/n and all finish at n*b/B + L. */
    net_dim d = {NET_RING, 2, 40 * GIB, 300 * NS};
    for (int n = 1; n <= 9; n++) {
        net_model *m = mk(1, &d, NET_MODEL_FLOW, NET_ALGO_RING, 1, 0, NET_CALGO_LISTS);
        loom_err e = {0};
        sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
        rec r[9];
        memset(r, 0, sizeof r);
        const uint64_t b = 3000000;
        for (int i = 0; i < n; i++)
            net_p2p_start(m, eng, 0, 1, b, done, &r[i]);
        sim_run(eng, 0); /* arrivals and the re-rate at t = 0 */
        assert_int_equal(nf_in_flight(m->flow), n);
        double rate[9];
        int np[9];
        uint32_t links[9];
        nf_snapshot(m->flow, rate, np, links, 9);
        for (int i = 0; i < n; i++) {
            assert_int_equal(np[i], 1);
            assert_true(fabs(rate[i] - 40 * GIB / n) <= 1e-9 * 40 * GIB);
        }
        sim_run(eng, SIM_TIME_MAX);
        double want = n * (double)b / (40 * GIB) * 1e12 + 300e3;
        for (int i = 0; i < n; i++) {
            assert_int_equal(r[i].calls, 1);
            assert_true(llabs(r[i].at - llround(want)) <= 1);
        }
        net_model_destroy(m);
        sim_engine_destroy(eng);
    }
}

/* A short flow leaves early; the long one speeds up for the rest:
 * B/2 until the short one ends at 2*b1/B, then B for the remaining
 * b2 - b1 bytes. */
static void test_departure_rerates(void **state)
{
    (void)state;
    net_dim d = {NET_RING, 2, 10 * GIB, 0};
    net_model *m = mk(1, &d, NET_MODEL_FLOW, NET_ALGO_RING, 1, 0, NET_CALGO_LISTS);
    loom_err e = {0};
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    rec a = {0}, b = {0};
    const double B = 10 * GIB, b1 = 1e6, b2 = 5e6;
    net_p2p_start(m, eng, 0, 1, (uint64_t)b1, done, &a);
    net_p2p_start(m, eng, 0, 1, (uint64_t)b2, done, &b);
    sim_run(eng, SIM_TIME_MAX);
    assert_true(llabs(a.at - llround(2 * b1 / B * 1e12)) <= 1);
    assert_true(llabs(b.at - llround((2 * b1 / B + (b2 - b1) / B) * 1e12)) <= 2);
    net_model_destroy(m);
    sim_engine_destroy(eng);
}

/* ---- the slow global max-min, and random workloads against it ----------- */

/* Water-filling over all flows at once, no heap, no components. */
static void slow_maxmin(int nf, const int *np, const uint32_t *links, int nl, const double *bw,
                        double *rate)
{
    double *rem = malloc(nl * sizeof *rem);
    int *cnt = calloc(nl, sizeof *cnt);
    int *fixed = calloc(nf, sizeof *fixed);
    int *off = malloc((nf + 1) * sizeof *off);
    off[0] = 0;
    for (int f = 0; f < nf; f++)
        off[f + 1] = off[f] + np[f];
    for (int l = 0; l < nl; l++)
        rem[l] = bw[l];
    for (int left = nf; left > 0;) {
        memset(cnt, 0, nl * sizeof *cnt);
        for (int f = 0; f < nf; f++)
            if (!fixed[f])
                for (int h = off[f]; h < off[f + 1]; h++)
                    cnt[links[h]]++;
        int best = -1;
        double share = INFINITY;
        for (int l = 0; l < nl; l++)
            if (cnt[l] > 0 && rem[l] / cnt[l] < share) {
                share = rem[l] / cnt[l];
                best = l;
            }
        for (int f = 0; f < nf; f++) {
            if (fixed[f])
                continue;
            int on = 0;
            for (int h = off[f]; h < off[f + 1]; h++)
                on |= links[h] == (uint32_t)best;
            if (!on)
                continue;
            fixed[f] = 1;
            left--;
            rate[f] = share;
            for (int h = off[f]; h < off[f + 1]; h++)
                rem[links[h]] -= share;
        }
    }
    free(rem);
    free(cnt);
    free(fixed);
    free(off);
}

typedef struct rnd_ctx {
    nf *f;
    int npus;
    uint64_t seed;
    int started, finished;
} rnd_ctx;

static uint64_t rng(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void rnd_done(sim_engine *eng, void *ctx, uint64_t a, uint64_t b)
{
    (void)eng;
    (void)a;
    (void)b;
    ((rnd_ctx *)ctx)->finished++;
}

static rnd_ctx *g_rnd;
static void rnd_start(sim_engine *eng, void *payload, void *ctx)
{
    (void)payload;
    (void)ctx;
    rnd_ctx *c = g_rnd;
    int s = (int)(rng(&c->seed) % c->npus), d;
    do
        d = (int)(rng(&c->seed) % c->npus);
    while (d == s);
    uint64_t bytes = 1000 + rng(&c->seed) % 5000000;
    nf_start(c->f, eng, s, d, bytes, 0, rnd_done, c, 0, 0);
    c->started++;
}

static void check_against_slow(nf *f, const net_graph *g)
{
    assert_int_equal(nf_check_links(f), 0);
    size_t n = nf_in_flight(f);
    if (n == 0)
        return;
    double *rate = malloc(n * sizeof *rate), *want = malloc(n * sizeof *want);
    int *np = malloc(n * sizeof *np);
    size_t maxl = n * (size_t)g->max_hops;
    uint32_t *links = malloc(maxl * sizeof *links);
    nf_snapshot(f, rate, np, links, maxl);
    slow_maxmin((int)n, np, links, g->nlinks, g->lbw, want);
    double *load = calloc(g->nlinks, sizeof *load);
    size_t h = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(rate[i] - want[i]) > 1e-9 * want[i])
            fail_msg("flow %zu: rate %.9g bytes/s, global max-min %.9g", i, rate[i], want[i]);
        for (int k = 0; k < np[i]; k++, h++) {
            /* never faster than any link of its path */
            assert_true(rate[i] <= g->lbw[links[h]] * (1 + 1e-12));
            load[links[h]] += rate[i];
        }
    }
    for (int l = 0; l < g->nlinks; l++)
        assert_true(load[l] <= g->lbw[l] * (1 + 1e-9));
    free(rate);
    free(want);
    free(np);
    free(links);
    free(load);
}

/* The end of a run that drained: every byte sent was delivered, no
 * starter entry is held; frees. */
static void end_run(nf *f, sim_engine *eng, net_graph *g)
{
    net_flow_totals tot;
    nf_totals(f, &tot);
    assert_int_equal(tot.bytes_delivered, tot.bytes_sent);
    assert_int_equal(nf_starters_held(f), 0);
    nf_destroy(f);
    sim_engine_destroy(eng);
    net_graph_destroy(g);
}

/* Re-rates the growing region settled, and gave back (nf_grow), over the
 * random runs so far. */
static uint64_t g_grow_ok, g_grow_fell;

static void random_against_slow(const net_topo *t, uint64_t seed, int nflows, int grow)
{
    net_topo tt = *t;
    loom_err e = {0};
    if (tt.x.kind != NET_X_DIMS)
        assert_int_equal(net_xtopo_view(&tt, &e), 0);
    net_graph *g = net_graph_build(&tt, &e);
    assert_non_null(g);
    nf *f = nf_create(g);
    nf_grow(f, grow);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    rnd_ctx c = {f, g->npus, seed, 0, 0};
    g_rnd = &c;
    uint64_t s2 = seed ^ 0x5555;
    for (int i = 0; i < nflows; i++) /* arrivals over ~400 us, some at equal times */
        sim_schedule(eng, (sim_time)(rng(&s2) % 400) * 1000000, rnd_start);
    for (sim_time t = 0; t < 2000000000; t += 1234567) {
        sim_run(eng, t);
        check_against_slow(f, g);
    }
    sim_run(eng, SIM_TIME_MAX);
    assert_int_equal(c.finished, nflows);
    net_flow_totals tot;
    nf_totals(f, &tot);
    g_grow_ok += tot.region_rerates;
    g_grow_fell += tot.region_fallbacks;
    assert_true(tot.region_fills >= tot.region_rerates); /* a fill at least each */
    end_run(f, eng, g);
}

/* A two-tier fat tree of npus hosts, hpl per leaf, uplinks oversubscribed
 * 4:1; 50 GiB/s links, 100 ns to a leaf and 300 ns above. */
static net_topo fat_tree2(int npus, int hpl)
{
    net_topo t = {0};
    t.x.kind = NET_X_FAT_TREE;
    t.x.npus = npus;
    t.x.tiers = 2;
    t.x.hosts_per_leaf = hpl;
    t.x.oversub[0] = 4;
    t.x.cls[0] = (net_link_class){50 * GIB, 100 * NS};
    t.x.cls[1] = (net_link_class){50 * GIB, 300 * NS};
    return t;
}

/* Every workload three times: the growing region as shipped, never tried
 * (the whole component each time), and with one fill before it gives the
 * re-rate back (most re-rates that need the region to grow fall back). */
static void test_random_vs_global_maxmin(void **state)
{
    (void)state;
    static const int grows[] = {NF_GROW_STEPS, 0, 1};
    net_topo t = {.ndims = 2};
    t.dims[0] = (net_dim){NET_RING, 6, 50 * GIB, 500 * NS};
    t.dims[1] = (net_dim){NET_SWITCH, 3, 20 * GIB, 900 * NS};
    net_topo ft = fat_tree2(32, 8);
    net_topo df = {0};
    df.x.kind = NET_X_DRAGONFLY;
    df.x.groups = 5;
    df.x.routers = 2;
    df.x.hosts_per_router = 2;
    df.x.globals_per_router = 2;
    df.x.cls[0] = (net_link_class){40 * GIB, 50 * NS};
    df.x.cls[1] = (net_link_class){30 * GIB, 100 * NS};
    df.x.cls[2] = (net_link_class){10 * GIB, 1000 * NS};
    for (int k = 0; k < 3; k++) {
        g_grow_ok = g_grow_fell = 0;
        random_against_slow(&t, 1, 60, grows[k]);
        random_against_slow(&t, 2, 400, grows[k]);
        random_against_slow(&ft, 3, 600, grows[k]);
        random_against_slow(&ft, 5, 300, grows[k]);
        random_against_slow(&df, 4, 120, grows[k]);
        if (grows[k] == 0) /* never tried */
            assert_true(g_grow_ok == 0 && g_grow_fell == 0);
        else /* tried, settled most re-rates; with one fill some fell back */
            assert_true(g_grow_ok > 1000 && (grows[k] > 1 || g_grow_fell > 50));
    }
}

/* Bytes: delivered equals sent, and each link carried exactly the flows
 * routed over it.  Ring steps between neighbours are one-link flows, the
 * message 0 -> 15 crosses one FC link and one ring link (coordinate 0 -> 3
 * of a ring of 4 is one hop the short way), so the links carry
 * bytes_sent(collectives) + 2 x the message, and the message's two links
 * carry exactly it when it runs alone. */
static void test_bytes_conserved(void **state)
{
    (void)state;
    net_dim dims[2] = {{NET_FULLY_CONNECTED, 4, 50 * GIB, 500 * NS},
                       {NET_RING, 4, 25 * GIB, 1000 * NS}};
    loom_err e = {0};
    const uint64_t msg = 123456789;
    {
        net_model *m = mk(2, dims, NET_MODEL_FLOW, NET_ALGO_RING, 1, 10 * NS, NET_CALGO_LISTS);
        sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
        rec r = {0};
        net_p2p_start(m, eng, 0, 15, msg, done, &r);
        sim_run(eng, SIM_TIME_MAX);
        net_link_stat st[4];
        assert_int_equal(net_top_links(m, st, 4), 2);
        assert_int_equal(st[0].bytes, msg);
        assert_int_equal(st[1].bytes, msg);
        net_model_destroy(m);
        sim_engine_destroy(eng);
    }
    net_model *m = mk(2, dims, NET_MODEL_FLOW, NET_ALGO_RING, 3, 10 * NS, NET_CALGO_LISTS);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    int all[16];
    for (int i = 0; i < 16; i++)
        all[i] = i;
    net_group *g = net_group_create(m, all, 16, &e);
    rec r[3] = {{0}};
    net_coll_start(m, eng, g, NET_ALL_REDUCE, 1000003, 3, done, &r[0]);
    net_coll_start(m, eng, g, NET_ALL_TO_ALL, 777777, 3, done, &r[1]);
    net_p2p_start(m, eng, 0, 15, msg, done, &r[2]);
    sim_run(eng, SIM_TIME_MAX);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r[i].calls, 1);
    net_flow_totals tot;
    net_flow_totals_get(m, &tot);
    assert_true(tot.flows > 0);
    assert_int_equal(tot.bytes_delivered, tot.bytes_sent);
    net_link_stat *st = malloc(tot.links * sizeof *st);
    int k = net_top_links(m, st, tot.links);
    uint64_t sum = 0;
    for (int i = 0; i < k; i++) {
        sum += st[i].bytes;
        if (i > 0)
            assert_true(st[i - 1].saturated >= st[i].saturated);
    }
    assert_int_equal(sum, tot.bytes_sent + msg);
    free(st);
    net_group_destroy(g);
    net_model_destroy(m);
    sim_engine_destroy(eng);
}

/* Re-rating touches only the flows connected to the change. */
static void test_rerate_is_local(void **state)
{
    (void)state;
    net_dim d = {NET_RING, 8, 10 * GIB, 0};
    net_model *m = mk(1, &d, NET_MODEL_FLOW, NET_ALGO_RING, 1, 0, NET_CALGO_LISTS);
    loom_err e = {0};
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    rec r[6] = {{0}};
    /* three independent pairs of flows on links 0->1, 2->3, 4->5 */
    for (int i = 0; i < 3; i++) {
        net_p2p_start(m, eng, 2 * i, 2 * i + 1, 1 << 20, done, &r[2 * i]);
        net_p2p_start(m, eng, 2 * i, 2 * i + 1, 1 << 24, done, &r[2 * i + 1]);
    }
    sim_run(eng, 0);
    net_flow_totals t0, t1;
    net_flow_totals_get(m, &t0);
    assert_int_equal(t0.rerates, 1);
    assert_int_equal(t0.rerated_flows, 6);
    /* the short flows end together: one re-rate, visiting 3 flows */
    sim_run(eng, llround(2.0 * (1 << 20) / (10 * GIB) * 1e12) + 1);
    net_flow_totals_get(m, &t1);
    assert_int_equal(t1.rerates, 2);
    assert_int_equal(t1.rerated_flows - t0.rerated_flows, 3);
    sim_run(eng, SIM_TIME_MAX);
    net_model_destroy(m);
    sim_engine_destroy(eng);
}

/* ---- collectives: flow == closed form where no link is shared ------------ */

static void coll_equal(net_model *fm, net_model *am, const int *ranks, int n, net_coll op,
                       uint64_t bytes, int tol_ps)
{
    loom_err e = {0};
    net_group *gf = net_group_create(fm, ranks, n, &e), *ga = net_group_create(am, ranks, n, &e);
    sim_time want = net_coll_time(am, ga, op, bytes, 0xff);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    rec r = {0};
    net_coll_start(fm, eng, gf, op, bytes, 0xff, done, &r);
    sim_run(eng, SIM_TIME_MAX);
    assert_int_equal(r.calls, 1);
    if (llabs(r.at - want) > tol_ps)
        fail_msg("%s of %llu bytes on %d ranks: flow %lld ps, closed form %lld ps (tolerance %d)",
                 net_coll_name(op), (unsigned long long)bytes, n, (long long)r.at,
                 (long long)want, tol_ps);
    /* the synchronous call of the flow model runs it alone: same time */
    assert_int_equal(net_coll_time(fm, gf, op, bytes, 0xff), r.at);
    net_group_destroy(gf);
    net_group_destroy(ga);
    sim_engine_destroy(eng);
}

static void pair_equal(int ndims, const net_dim *dims, net_algo algo, int splits,
                       net_calgo calgo, net_coll op, uint64_t bytes, int tol)
{
    net_model *fm = mk(ndims, dims, NET_MODEL_FLOW, algo, splits, 10 * NS, calgo);
    net_model *am = mk(ndims, dims, NET_MODEL_ANALYTICAL, algo, splits, 10 * NS, calgo);
    int n = net_npus(am), all[256];
    for (int i = 0; i < n; i++)
        all[i] = i;
    coll_equal(fm, am, all, n, op, bytes, tol);
    net_model_destroy(fm);
    net_model_destroy(am);
}

static void dbt_check(const net_dim *d, uint64_t N, double less_ps)
{
    net_model *fm = mk(1, d, NET_MODEL_FLOW, NET_ALGO_DBT, 1, 10 * NS, NET_CALGO_LISTS);
    net_model *am = mk(1, d, NET_MODEL_ANALYTICAL, NET_ALGO_DBT, 1, 10 * NS, NET_CALGO_LISTS);
    int all[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    loom_err e = {0};
    net_group *gf = net_group_create(fm, all, 8, &e), *ga = net_group_create(am, all, 8, &e);
    sim_time closed = net_coll_time(am, ga, NET_ALL_REDUCE, N, 1);
    sim_time flow = net_coll_time(fm, gf, NET_ALL_REDUCE, N, 1);
    if (llabs(flow - (closed - llround(less_ps))) > 6)
        fail_msg("DBT: flow %lld ps, closed form %lld - %.1f ps", (long long)flow,
                 (long long)closed, less_ps);
    net_group_destroy(gf);
    net_group_destroy(ga);
    net_model_destroy(fm);
    net_model_destroy(am);
}

static void test_collectives_match_closed_forms(void **state)
{
    (void)state;
    const uint64_t N = 8 * 3 * 5 * 7 * 1024; /* divisible by p and W below */
    net_dim ring8 = {NET_RING, 8, 50 * GIB, 500 * NS};
    net_dim fc8 = {NET_FULLY_CONNECTED, 8, 50 * GIB, 500 * NS};
    net_dim sw8 = {NET_SWITCH, 8, 50 * GIB, 500 * NS};
    /* ring: every step one neighbour link per member, one direction */
    pair_equal(1, &ring8, NET_ALGO_RING, 1, NET_CALGO_LISTS, NET_ALL_REDUCE, N, 14);
    pair_equal(1, &ring8, NET_ALGO_RING, 4, NET_CALGO_LISTS, NET_ALL_REDUCE, N, 56);
    pair_equal(1, &ring8, NET_ALGO_RING, 1, NET_CALGO_LISTS, NET_REDUCE_SCATTER, N, 7);
    pair_equal(1, &ring8, NET_ALGO_RING, 2, NET_CALGO_LISTS, NET_ALL_GATHER, N, 14);
    pair_equal(1, &sw8, NET_ALGO_RING, 1, NET_CALGO_LISTS, NET_ALL_REDUCE, N, 14);
    pair_equal(1, &fc8, NET_ALGO_RING, 3, NET_CALGO_LISTS, NET_ALL_REDUCE, N, 42);
    /* direct: FC own link per pair; Switch p-1 flows share each up/downlink;
     * Ring shortest paths, the clockwise links the busiest */
    pair_equal(1, &fc8, NET_ALGO_DIRECT, 1, NET_CALGO_LISTS, NET_ALL_REDUCE, N, 2);
    pair_equal(1, &sw8, NET_ALGO_DIRECT, 1, NET_CALGO_LISTS, NET_ALL_REDUCE, N, 2);
    pair_equal(1, &sw8, NET_ALGO_DIRECT, 1, NET_CALGO_LISTS, NET_ALL_TO_ALL, N, 1);
    pair_equal(1, &ring8, NET_ALGO_DIRECT, 1, NET_CALGO_LISTS, NET_ALL_GATHER, N, 1);
    /* halving-doubling: partners one link apart on FC and Switch */
    pair_equal(1, &fc8, NET_ALGO_HD, 1, NET_CALGO_LISTS, NET_ALL_REDUCE, N, 6);
    pair_equal(1, &sw8, NET_ALGO_HD, 2, NET_CALGO_LISTS, NET_ALL_REDUCE, N, 12);
    pair_equal(1, &sw8, NET_ALGO_HD, 1, NET_CALGO_LISTS, NET_ALL_TO_ALL, N, 3);
    /* double binary tree on p = 8: N/2 per tree edge, each child its own
     * FC link, both children into the parent's one Switch downlink.  The
     * closed form charges every up step a full parent (two children, r =
     * N); in the schedule the root has one child, so its last up step
     * reduces N/2 (3(N/2)/M less) and on a Switch moves N/2 into it, and
     * the first down step sends N/2 out of each root (N/(2B) less each). */
    {
        const double B = 50 * GIB, M = 1600e9;
        dbt_check(&fc8, N, 3 * (N / 2.0) / M * 1e12);
        dbt_check(&sw8, N, (N / B + 3 * (N / 2.0) / M) * 1e12);
        (void)B;
    }
    /* barrier: dissemination, 0 bytes */
    pair_equal(1, &ring8, NET_ALGO_RING, 1, NET_CALGO_LISTS, NET_BARRIER, 0, 3);
    /* two dimensions, W = 1: RS on dim 0, AR on dim 1, AG on dim 0 */
    net_dim two[2] = {{NET_SWITCH, 8, 400 * GIB, 936 * NS}, {NET_SWITCH, 4, 50 * GIB, 2000 * NS}};
    pair_equal(2, two, NET_ALGO_RING, 1, NET_CALGO_LISTS, NET_ALL_REDUCE, N, 24);
    pair_equal(2, two, NET_ALGO_RING, 1, NET_CALGO_LISTS, NET_ALL_GATHER, N, 12);
    /* flat whole-collective algorithms on one dimension */
    pair_equal(1, &ring8, NET_ALGO_RING, 1, NET_CALGO_RING2, NET_ALL_REDUCE, N, 14);
    pair_equal(1, &fc8, NET_ALGO_RING, 1, NET_CALGO_RING2, NET_REDUCE_SCATTER, N, 7);
    pair_equal(1, &sw8, NET_ALGO_RING, 1, NET_CALGO_RING2, NET_ALL_GATHER, N, 7);
    pair_equal(1, &fc8, NET_ALGO_RING, 1, NET_CALGO_STAGGER, NET_ALL_TO_ALL, N, 7);
    pair_equal(1, &sw8, NET_ALGO_RING, 2, NET_CALGO_STAGGER, NET_ALL_TO_ALL, N, 14);
    pair_equal(1, &ring8, NET_ALGO_RING, 1, NET_CALGO_STAGGER, NET_ALL_TO_ALL, N, 7);
}

/* A collective with members sharing links with another: slower than
 * alone, never faster. */
static void test_contention_slows(void **state)
{
    (void)state;
    net_dim sw = {NET_SWITCH, 16, 50 * GIB, 500 * NS};
    net_model *m = mk(1, &sw, NET_MODEL_FLOW, NET_ALGO_DIRECT, 1, 10 * NS, NET_CALGO_LISTS);
    loom_err e = {0};
    int a[8], b[8];
    for (int i = 0; i < 8; i++) {
        a[i] = i;
        b[i] = 8 + i;
    }
    net_group *ga = net_group_create(m, a, 8, &e), *gb = net_group_create(m, b, 8, &e);
    sim_time alone = net_coll_time(m, ga, NET_ALL_TO_ALL, 1 << 22, 1);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    rec r1 = {0}, r2 = {0}, r3 = {0};
    net_coll_start(m, eng, ga, NET_ALL_TO_ALL, 1 << 22, 1, done, &r1);
    net_coll_start(m, eng, gb, NET_ALL_TO_ALL, 1 << 22, 1, done, &r2);
    sim_run(eng, SIM_TIME_MAX);
    /* disjoint members on a switch share no link: each as if alone */
    assert_int_equal(r1.at, alone);
    assert_int_equal(r2.at, alone);
    /* the same group twice at once: every uplink carries both, so the
     * bandwidth term doubles: alone + (p-1)/p N / B */
    net_coll_start(m, eng, ga, NET_ALL_TO_ALL, 1 << 22, 1, done, &r1);
    net_coll_start(m, eng, ga, NET_ALL_TO_ALL, 1 << 22, 1, done, &r3);
    sim_time t0 = sim_now(eng);
    sim_run(eng, SIM_TIME_MAX);
    double extra = 7.0 / 8 * (1 << 22) / (50 * GIB) * 1e12;
    assert_true(llabs(r1.at - t0 - alone - llround(extra)) <= 2);
    assert_true(llabs(r3.at - t0 - alone - llround(extra)) <= 2);
    net_group_destroy(ga);
    net_group_destroy(gb);
    net_model_destroy(m);
    sim_engine_destroy(eng);
}

/* nf_scan_fixed and nf_scan_none (net_flow_sum.c): a link none of whose
 * flows is re-rated has its saturation decided from four unordered sums,
 * or from its summary, and a bound on their error, not the in-order sum.
 * Bursts of flows over a fat tree put tens of flows on each uplink; every
 * completion time, every link's statistics and the totals must be those
 * of the in-order scan, and the shortcut must have been taken, with the
 * summaries' levels as shipped and capped at 1 and 3 (full tables). */
typedef struct burst {
    nf *f;
    int npus;
    uint64_t seed;
    int started;
    sim_time *at; /* per flow: delivery */
} burst;

static burst *g_burst;
static int g_pool_now; /* 1: the lists in the buddy allocator's blocks from the first */

static void burst_done(sim_engine *eng, void *ctx, uint64_t a, uint64_t b)
{
    (void)b;
    ((burst *)ctx)->at[a] = sim_now(eng);
}

static void burst_start(sim_engine *eng, void *payload, void *ctx)
{
    (void)payload;
    (void)ctx;
    burst *c = g_burst;
    for (int k = 0; k < 40; k++) {
        int s = (int)(rng(&c->seed) % c->npus), d;
        do
            d = (int)(rng(&c->seed) % c->npus);
        while (d == s);
        uint64_t bytes = 1000 + rng(&c->seed) % 3000000;
        nf_start(c->f, eng, s, d, bytes, 0, burst_done, c, (uint64_t)c->started, (uint64_t)c->started);
        c->started++;
    }
}

static uint64_t burst_run(int inorder, uint32_t cap, uint64_t seed, sim_time *at,
                          net_link_stat *top, int *ntop, net_flow_totals *tot)
{
    net_topo t = fat_tree2(64, 16);
    loom_err e = {0};
    assert_int_equal(net_xtopo_view(&t, &e), 0);
    net_graph *g = net_graph_build(&t, &e);
    assert_non_null(g);
    nf *f = nf_create(g);
    nf_scan_inorder(f, inorder);
    if (cap > 0)
        nf_level_cap(f, cap);
    if (g_pool_now)
        nf_pool_from(f, 0);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    burst c = {f, g->npus, seed, 0, at};
    g_burst = &c;
    uint64_t s2 = seed ^ 0x7777;
    for (int i = 0; i < 50; i++) /* 50 bursts of 40 flows over ~200 us */
        sim_schedule(eng, (sim_time)(rng(&s2) % 200) * 1000000, burst_start);
    for (sim_time t = 0; t < 4000000000; t += 3456789) { /* the summaries hold throughout */
        sim_run(eng, t);
        assert_int_equal(nf_check_links(f), 0);
    }
    sim_run(eng, SIM_TIME_MAX);
    nf_totals(f, tot);
    *ntop = nf_top_links(f, g, top, 512);
    uint64_t fast = nf_scan_inorder(f, inorder);
    assert_true(nf_compactions(f) > 0); /* the holes' paths, and nf_compact, ran */
    nf_destroy(f);
    sim_engine_destroy(eng);
    net_graph_destroy(g);
    return fast;
}

static void test_fixed_scan_same(void **state)
{
    (void)state;
    static sim_time a[2000], b[2000];
    static net_link_stat ta[512], tb[512];
    for (uint64_t seed = 1; seed <= 3; seed++) {
        int na, nb;
        net_flow_totals xa, xb;
        assert_int_equal(burst_run(1, 0, seed, b, tb, &nb, &xb), 0);
        /* the summaries as shipped, and with room for 1 or 3 levels (the
         * table full, levels falling to rest, rebuilt from the rates) */
        for (uint32_t cap = 0; cap <= 3; cap += cap ? 2 : 1) {
            memset(a, 0, sizeof a);
            uint64_t fast = burst_run(0, cap, seed, a, ta, &na, &xa);
            assert_true(fast > 100);
            assert_memory_equal(a, b, sizeof a);
            assert_memory_equal(&xa, &xb, sizeof xa);
            assert_int_equal(na, nb);
            assert_memory_equal(ta, tb, (size_t)na * sizeof ta[0]);
        }
        /* the lists in the buddy allocator's blocks (grown, moved, freed,
         * merged): the same results, the lists checked throughout */
        g_pool_now = 1;
        memset(a, 0, sizeof a);
        burst_run(0, 0, seed, a, ta, &na, &xa);
        g_pool_now = 0;
        assert_memory_equal(a, b, sizeof a);
        assert_memory_equal(&xa, &xb, sizeof xa);
        assert_int_equal(na, nb);
        assert_memory_equal(ta, tb, (size_t)na * sizeof ta[0]);
    }
}

/* Starters and routes longer than a slot holds: flows of two callers,
 * started in batches where the callers alternate one by one and run in
 * streaks (consecutive starts of one caller share a counted entry,
 * nf_starter), on a ring of 16 where a route takes up to 8 links (more
 * than the slot's six: its hops in a buffer the slot keeps for its next
 * flows, long or short; flows end and slots are reused throughout).
 * Every delivery reaches the caller that started it, with its words,
 * once; the lists stay consistent at every check. */
typedef struct st_ctx {
    int who;        /* 0 or 1 */
    int *got;       /* per flow index: deliveries */
    int n;          /* flows */
} st_ctx;

static int st_caller(uint64_t i) { return (int)((i % 7) % 3 == 1 || i % 11 == 0); }

static void st_done(sim_engine *eng, void *ctx, uint64_t a, uint64_t b)
{
    (void)eng;
    st_ctx *c = ctx;
    assert_true(a < (uint64_t)c->n);
    assert_int_equal(c->who, st_caller(a));
    assert_int_equal(b, a * 7919 + (uint64_t)c->who);
    c->got[a]++;
}

typedef struct st_run {
    nf *f;
    st_ctx who[2];
    uint64_t seed;
    int next;       /* next flow index */
} st_run;

static st_run *g_st;
static void st_batch(sim_engine *eng, void *payload, void *ctx)
{
    (void)payload;
    (void)ctx;
    st_run *r = g_st;
    int k = 1 + (int)(rng(&r->seed) % 6);
    for (int j = 0; j < k && r->next < r->who[0].n; j++) {
        uint64_t i = (uint64_t)r->next++;
        int s = (int)(rng(&r->seed) % 16), d = (int)(rng(&r->seed) % 16);
        int w = st_caller(i);
        nf_start(r->f, eng, s, d, 1000 + rng(&r->seed) % 200000, 0, st_done, &r->who[w], i,
                 i * 7919 + (uint64_t)w);
    }
}

static void test_starters_and_long_routes(void **state)
{
    (void)state;
    enum { N = 3000 };
    static int got[N];
    memset(got, 0, sizeof got);
    net_topo t = {.ndims = 1};
    t.dims[0] = (net_dim){NET_RING, 16, 50 * GIB, 500 * NS};
    loom_err e = {0};
    net_graph *g = net_graph_build(&t, &e);
    assert_non_null(g);
    assert_true(g->max_hops == 8); /* > NF_IH */
    nf *f = nf_create(g);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    st_run r = {f, {{0, got, N}, {1, got, N}}, 42, 0};
    g_st = &r;
    for (int i = 0; i < N; i++) /* more batches than flows: the last start none */
        sim_schedule(eng, (sim_time)i * 2000000, st_batch);
    for (sim_time at = 0; at < 20000000000; at += 7654321) {
        sim_run(eng, at);
        assert_int_equal(nf_check_links(f), 0);
    }
    sim_run(eng, SIM_TIME_MAX);
    assert_int_equal(r.next, N);
    for (int i = 0; i < N; i++)
        if (got[i] != 1)
            fail_msg("flow %d delivered %d times", i, got[i]);
    end_run(f, eng, g);
}

int main(void)
{
    loom_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_flow_equals_analytical),
        cmocka_unit_test(test_same_time_batch),
        cmocka_unit_test(test_many_open_times),
        cmocka_unit_test(test_n_flows_share_one_link),
        cmocka_unit_test(test_departure_rerates),
        cmocka_unit_test(test_random_vs_global_maxmin),
        cmocka_unit_test(test_bytes_conserved),
        cmocka_unit_test(test_rerate_is_local),
        cmocka_unit_test(test_collectives_match_closed_forms),
        cmocka_unit_test(test_contention_slows),
        cmocka_unit_test(test_fixed_scan_same),
        cmocka_unit_test(test_starters_and_long_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
