/*
 * test_lock.c: lockstep classes (network/net_flow_lock.c;
 * net_sched.c's lock_hook).  A collective whose members each send one
 * flow per step, alone on its links, runs in bulk once nothing else is
 * left in the simulation; it must give what its flows give, to the bit:
 * the completion time, the engine's event count and queue high-water
 * mark, the flow totals and every link's statistics.  Each case runs twice
 * on fresh models, bulk allowed and not (net_model.lockstep_off), and the
 * two are compared field by field; the cases where bulk must and must not
 * engage are checked through nf_lock_runs().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "net.h"
#include "net_int.h"

#define GIB 1073741824.0

typedef struct lcase {
    int ndims;
    net_dim dims[2];
    net_calgo calgo;
    net_coll op;
    uint64_t bytes;
    int splits;
    sim_time delta;  /* endpoint delay, ps */
    int extra;       /* 0: the collective alone; 1: also an unrelated engine
                        event; 2: also a message on the fabric; 3: two
                        collectives on halves of the ranks */
} lcase;

/* What one run gives, every field compared. */
typedef struct result {
    sim_time end[2];        /* completion of each collective */
    uint64_t events;        /* engine events */
    size_t high;            /* engine queue high-water mark */
    net_flow_totals tot;    /* flow totals */
    int nl;                 /* links in top */
    net_link_stat top[256]; /* every link that carried a byte */
    uint64_t runs;          /* classes run in bulk */
} result;

static void done(sim_engine *eng, void *ctx) { *(sim_time *)ctx = sim_now(eng); }

static void nop(sim_engine *eng, void *payload, void *ctx)
{
    (void)eng;
    (void)payload;
    (void)ctx;
}

static void run(const lcase *c, int off, result *r)
{
    net_topo t = {.ndims = c->ndims};
    for (int d = 0; d < c->ndims; d++)
        t.dims[d] = c->dims[d];
    net_sys s = {.splits = c->splits, .active_chunks = 1, .endpoint_delay = c->delta,
                 .local_mem_bw = 1600e9, .model = NET_MODEL_FLOW, .calgo = c->calgo};
    loom_err err = {0};
    net_model *m = net_model_create(&t, &s, &err);
    assert_non_null(m);
    m->lockstep_off = off;
    int n = 1;
    for (int d = 0; d < c->ndims; d++)
        n *= c->dims[d].npus;
    int ranks[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++)
        ranks[i] = i;
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &err);
    assert_non_null(eng);
    memset(r, 0, sizeof *r);
    r->end[0] = r->end[1] = -1;
    net_group *g[2] = {NULL, NULL};
    if (c->extra == 3) { /* two halves at once */
        g[0] = net_group_create(m, ranks, n / 2, &err);
        g[1] = net_group_create(m, ranks + n / 2, n - n / 2, &err);
        assert_non_null(g[0]);
        assert_non_null(g[1]);
        net_coll_start(m, eng, g[0], c->op, c->bytes, 0xff, done, &r->end[0]);
        net_coll_start(m, eng, g[1], c->op, c->bytes, 0xff, done, &r->end[1]);
    } else {
        g[0] = net_group_create(m, ranks, n, &err);
        assert_non_null(g[0]);
        net_coll_start(m, eng, g[0], c->op, c->bytes, 0xff, done, &r->end[0]);
        if (c->extra == 1)
            sim_schedule(eng, 123456789, nop);
        if (c->extra == 2)
            net_p2p_start(m, eng, 0, n - 1, 65536, done, &r->end[1]);
    }
    sim_run(eng, SIM_TIME_MAX);
    assert_true(r->end[0] >= 0);
    r->events = sim_events(eng);
    r->high = sim_high_water(eng);
    net_flow_totals_get(m, &r->tot);
    /* how the flows' re-rates ran (a growing region or not) is not compared:
     * a class in bulk runs none of them; what they computed is */
    r->tot.region_rerates = r->tot.region_fills = r->tot.region_fallbacks = 0;
    r->nl = net_top_links(m, r->top, 256);
    r->runs = m->flow ? nf_lock_runs(m->flow) : 0;
    if (m->flow) /* every flow ended, in bulk or not: no starter held */
        assert_int_equal(nf_starters_held(m->flow), 0);
    sim_engine_destroy(eng);
    net_group_destroy(g[0]);
    net_group_destroy(g[1]);
    net_model_destroy(m);
}

static const char *describe(const lcase *c)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s %d%s%s, %s %s of %llu B, %d splits, delta %lld, extra %d",
             c->dims[0].kind == NET_RING ? "Ring" : c->dims[0].kind == NET_SWITCH ? "Switch" : "FC",
             c->dims[0].npus, c->ndims > 1 ? " x " : "", c->ndims > 1 ? "2" : "",
             net_calgo_name(c->calgo), net_coll_name(c->op), (unsigned long long)c->bytes,
             c->splits, (long long)c->delta, c->extra);
    return buf;
}

/* Runs c both ways and compares; returns the bulk run's class count. */
static uint64_t check(const lcase *c)
{
    static result a, b; /* 256 link records each: off the stack */
    run(c, 0, &a);
    run(c, 1, &b);
    assert_int_equal(b.runs, 0);
    if (a.end[0] != b.end[0] || a.end[1] != b.end[1] || a.events != b.events ||
        a.high != b.high || memcmp(&a.tot, &b.tot, sizeof a.tot) != 0 || a.nl != b.nl ||
        memcmp(a.top, b.top, (size_t)a.nl * sizeof a.top[0]) != 0)
        fail_msg("%s: bulk %lld/%lld ps, %llu events, high %zu, %d links; flows %lld/%lld ps, "
                 "%llu events, high %zu, %d links",
                 describe(c), (long long)a.end[0], (long long)a.end[1],
                 (unsigned long long)a.events, a.high, a.nl, (long long)b.end[0],
                 (long long)b.end[1], (unsigned long long)b.events, b.high, b.nl);
    return a.runs;
}

/* Rings, switches and fully connected dimensions, every collective and
 * flat algorithm, sizes that cut evenly and not, with and without the
 * endpoint delay: bulk or not, the same figures. */
static void test_same_figures(void **state)
{
    (void)state;
    const net_dim_kind kinds[] = {NET_RING, NET_SWITCH, NET_FULLY_CONNECTED};
    const net_coll ops[] = {NET_ALL_REDUCE, NET_ALL_GATHER, NET_REDUCE_SCATTER, NET_ALL_TO_ALL};
    const net_calgo algos[] = {NET_CALGO_LISTS, NET_CALGO_RING, NET_CALGO_RING2,
                               NET_CALGO_DIRECT, NET_CALGO_HD};
    const uint64_t sizes[] = {1 << 20, 1000003, 4096, 1};
    const int npus[] = {2, 3, 4, 5, 8, 16};
    uint64_t bulk = 0;
    int cases = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t p = 0; p < sizeof npus / sizeof npus[0]; p++)
            for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
                for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++)
                    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
                        for (int v = 0; v < 2; v++) {
                            lcase c = {.ndims = 1, .calgo = algos[a], .op = ops[o],
                                       .bytes = sizes[z], .splits = v ? 4 : 1,
                                       .delta = v ? 10000 : 0};
                            c.dims[0] = (net_dim){kinds[k], npus[p], 50.0 * GIB,
                                                  kinds[k] == NET_RING ? 500000 : 700000};
                            bulk += check(&c) > 0;
                            cases++;
                        }
    /* the ring all-reduce, gather and scatter of sizes that cut evenly
     * ran in bulk in many of them */
    assert_true(bulk > (uint64_t)cases / 10);
}

/* Two dimensions: a plan of several phases is no class; the flows run. */
static void test_two_dims(void **state)
{
    (void)state;
    const net_coll ops[] = {NET_ALL_REDUCE, NET_ALL_GATHER, NET_REDUCE_SCATTER, NET_ALL_TO_ALL};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (int v = 0; v < 2; v++) {
            lcase c = {.ndims = 2, .op = ops[o], .bytes = 1 << 20, .splits = v ? 4 : 1,
                       .delta = 10000};
            c.dims[0] = (net_dim){NET_RING, 4, 50.0 * GIB, 500000};
            c.dims[1] = (net_dim){NET_SWITCH, 2, 25.0 * GIB, 1000000};
            check(&c);
            c.calgo = NET_CALGO_RING; /* flat: one phase over all */
            check(&c);
        }
}

/* Whatever else is in the simulation keeps the flows: an engine event
 * (anything could start at it), a message, a second collective. */
static void test_not_alone(void **state)
{
    (void)state;
    lcase c = {.ndims = 1, .op = NET_ALL_REDUCE, .bytes = 1 << 20, .splits = 4,
               .delta = 10000};
    c.dims[0] = (net_dim){NET_RING, 8, 50.0 * GIB, 500000};
    assert_true(check(&c) == 1); /* alone: in bulk */
    for (int e = 1; e <= 3; e++) {
        c.extra = e;
        assert_int_equal(check(&c), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_figures),
        cmocka_unit_test(test_two_dims),
        cmocka_unit_test(test_not_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
