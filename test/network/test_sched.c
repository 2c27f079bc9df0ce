/*
 * test_sched.c: collectives run as step schedules over flows
 * (network/net_sched.c) on small multi-dimensional topologies, against
 * the closed forms (net_coll_time of the analytical model, docs/MODEL.md,
 * NETWORK.md 4).
 *
 * Where the closed form applies, the flow model must give its time to
 * 1 ps per step of rounding (NETWORK.md 4.1): the flow model rounds every
 * flow and every delay, the closed form once.  It applies when no link is
 * shared, which this file decides from the plan (closed_form_relation):
 * every phase's algorithm is contention-free on its dimension (phase_kind
 * names the schedules whose own flows share links), and no two phases
 * that use the same dimension's links overlap in time.  The second
 * part matters for an all-reduce over several dimensions cut into W >= 2
 * waves: its reduce-scatter and all-gather on dimension d use the same
 * links, and when the phases between them are quicker than d's
 * reduce-scatter, wave 0 reaches the all-gather while later waves are
 * still in the reduce-scatter, and the two share d's links.  There the
 * flow model is slower than the closed form (which charges each phase as
 * if alone), never faster.
 *
 * Issue 14: on Ring 2 x 4 with 3, 4 or 6 splits a member's phase restarted a
 * step still waiting out its delay (net_sched.c's XS_DELAY), which sent
 * its flows twice and stopped the run on an assertion.
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
#include "net_algo.h"
#include "net_int.h"

#define GIB 1073741824.0
#define NS 1000LL

/* 2^10 3^3 5^3 7 bytes: every buffer, wave and piece below is a whole
 * number of bytes (up to 5 x 5 x 5 members, W up to 8), so the integer
 * pieces of the flow model are the closed form's N/p exactly. */
#define NBYTES 24192000ULL

typedef struct tcase {
    int ndims;
    net_dim dims[3];
    net_algo impl[NET_IMPL_OPS][3]; /* per op list, per dimension */
    int splits;
    int chunks;           /* active chunks per dimension */
    sim_time delta;       /* endpoint delay, ps */
    double M;             /* local memory bandwidth, bytes/s */
    net_calgo calgo;
    net_coll op;
    uint64_t bytes;
    uint32_t mask;
    int n;                /* members */
    int ranks[125];
} tcase;

static net_model *mk(const tcase *c, net_model_kind kind)
{
    net_topo t = {.ndims = c->ndims};
    for (int d = 0; d < c->ndims; d++)
        t.dims[d] = c->dims[d];
    net_sys s = {.splits = c->splits, .active_chunks = c->chunks, .endpoint_delay = c->delta,
                 .local_mem_bw = c->M, .model = kind, .calgo = c->calgo};
    for (int op = 0; op < NET_IMPL_OPS; op++)
        for (int d = 0; d < c->ndims; d++)
            s.impl[op][d] = c->impl[op][d];
    loom_err e = {0};
    net_model *m = net_model_create(&t, &s, &e);
    if (m == NULL)
        fail_msg("net_model_create: %s", e.msg);
    return m;
}

static const char *kind_name(net_dim_kind k)
{
    return k == NET_RING ? "Ring" : k == NET_SWITCH ? "Switch" : "FC";
}

/* The case in words, for failure messages. */
static const char *describe(const tcase *c)
{
    static char buf[512];
    int len = 0;
    for (int d = 0; d < c->ndims; d++)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s %d", d ? " x " : "",
                        kind_name(c->dims[d].kind), c->dims[d].npus);
    len += snprintf(buf + len, sizeof buf - (size_t)len,
                    ", %s of %llu B, %d splits, %d active, delta %lld ps, calgo %s, lists",
                    net_coll_name(c->op), (unsigned long long)c->bytes, c->splits, c->chunks,
                    (long long)c->delta, net_calgo_name(c->calgo));
    for (int d = 0; d < c->ndims; d++)
        len += snprintf(buf + len, sizeof buf - (size_t)len, " %s/%s/%s/%s",
                        net_algo_name(c->impl[0][d]), net_algo_name(c->impl[1][d]),
                        net_algo_name(c->impl[2][d]), net_algo_name(c->impl[3][d]));
    snprintf(buf + len, sizeof buf - (size_t)len, ", %d members, mask 0x%x", c->n,
             (unsigned)c->mask);
    return buf;
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

/* How phase ph's closed form relates to its schedule run alone
 * (NETWORK.md 4): EXACT, the schedule shares no link and takes the closed
 * form's time; SHARED, the schedule's own flows share links that the
 * closed form charges as if each were alone, so the flow model is slower;
 * OTHER, the closed form is no bound either way. */
enum { OTHER = 0, EXACT = 1, SHARED = 2 };

static int phase_kind(const net_phase *ph)
{
    const net_algo_ops *a = ph->algo;
    const net_vdim *v = &ph->v;
    if (a == &net_algo_dbt)
        return OTHER; /* charges every up step a full parent (4.5): the
                         schedule is faster on a power of two, slower when
                         its trees are a level deeper */
    if (a == &net_algo_hd && v->kind == NET_RING && v->p > 2)
        return SHARED; /* partners p/2^k apart share the ring's links (4.4) */
    if (a == &net_algo_hd && v->kind == NET_SWITCH && ph->kind == PH_AR && !net_is_pow2(v->p))
        return SHARED; /* p = 3: member 1 has no fold to do and sends its
                          halving step's N/2 at once, into member 0's
                          downlink while the fold's N from member 2 arrives
                          there: N/(2B) later (4.4) */
    return a->time != NULL && a->steps != NULL ? EXACT : OTHER;
}

/* How the closed form relates to the flow model's time for c: EXACT
 * (equal to *tol: 1 ps per step a member runs, plus the closed form's own
 * rounding), SHARED (links shared within a phase: not faster), OVERLAP
 * (phases on one dimension overlap: not faster, and not slower than the
 * waves run one after another, *serial) or OTHER. */
enum { OVERLAP = 3 };

static int closed_form_relation(net_model *am, const net_group *g, const tcase *c,
                                sim_time *tol, double *serial)
{
    *tol = 1;
    *serial = 0;
    if (c->calgo == NET_CALGO_NCCL)
        return OTHER; /* the analytical model charges NCCL's own formula */
    int full = c->n == net_npus(am) && (c->mask & ((1u << c->ndims) - 1)) ==
                                           (1u << c->ndims) - 1;
    /* a flat algorithm is timed on MODEL.md 6's flat dimension, which is
     * the real one only for one dimension; a sub-group's flat dimension
     * or gapped ring is an approximation too */
    int flat = c->calgo != NET_CALGO_LISTS && c->calgo != NET_CALGO_HIER;
    if (!full || (flat && c->ndims > 1))
        return OTHER;
    /* other sizes cut into pieces that differ by a byte: the flow model
     * waits for the largest, the closed form charges the mean */
    if (c->bytes % NBYTES != 0)
        return OTHER;
    net_plan pl;
    net_make_plan(am, g, c->op, c->bytes, c->mask, 0, &pl);
    if (pl.n == 0)
        return OTHER;
    net_cost cost = {.W = pl.waves, .delta = (double)c->delta, .M = c->M};
    double tau[NET_MAX_PHASES], fin[NET_MAX_PHASES][8];
    int64_t steps = 0;
    int rel = EXACT;
    for (int i = 0; i < pl.n; i++) {
        int k = phase_kind(&pl.ph[i]);
        if (k == OTHER)
            return OTHER;
        if (k == SHARED)
            rel = SHARED;
        net_xphase x = {.ph = pl.ph[i], .p = pl.ph[i].v.p, .dim = pl.ph[i].v.dim};
        steps += pl.ph[i].algo->steps(&x);
        double T = pl.ph[i].algo->time(&pl.ph[i], &cost);
        tau[i] = T / pl.waves;
        *serial += T;
    }
    *tol = (sim_time)(steps * pl.waves) + 1;
    if (rel == SHARED)
        return SHARED;
    /* The contention-free pipeline (MODEL.md 7): wave w leaves phase i at
     * fin[i][w] = max(fin[i-1][w], fin[i][w-1]) + tau_i.  Phases i < j on
     * one dimension share its links if phase i still runs when wave 0
     * enters phase j. */
    LOOM_ASSERT(pl.waves <= 8);
    for (int i = 0; i < pl.n; i++)
        for (int w = 0; w < pl.waves; w++) {
            double ready = fmax(i > 0 ? fin[i - 1][w] : 0, w > 0 ? fin[i][w - 1] : 0);
            fin[i][w] = ready + tau[i];
        }
    for (int i = 0; i < pl.n; i++)
        for (int j = i + 1; j < pl.n; j++)
            if (pl.ph[i].v.dim == pl.ph[j].v.dim && fin[i][pl.waves - 1] > fin[j - 1][0])
                return OVERLAP;
    return EXACT;
}

typedef struct tally {
    int cases, exact, slower; /* run; equal to the closed form; links shared */
    double worst;             /* largest flow / closed form where contended */
} tally;

/* Runs c under both models: the flow model must finish, once, and give
 * the same time from net_coll_start and the synchronous net_coll_time;
 * where the closed form applies it must equal it; where only sharing
 * differs it must not be faster. */
static void run_case(const tcase *c, tally *t)
{
    net_model *fm = mk(c, NET_MODEL_FLOW), *am = mk(c, NET_MODEL_ANALYTICAL);
    loom_err e = {0};
    net_group *gf = net_group_create(fm, c->ranks, c->n, &e);
    net_group *ga = net_group_create(am, c->ranks, c->n, &e);
    assert_non_null(gf);
    assert_non_null(ga);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
    rec r = {0};
    net_coll_start(fm, eng, gf, c->op, c->bytes, c->mask, done, &r);
    sim_run(eng, SIM_TIME_MAX);
    if (r.calls != 1)
        fail_msg("%s: done called %d times", describe(c), r.calls);
    assert_int_equal(net_coll_time(fm, gf, c->op, c->bytes, c->mask), r.at);
    sim_time want = net_coll_time(am, ga, c->op, c->bytes, c->mask);
    sim_time tol;
    double serial;
    int rel = closed_form_relation(am, ga, c, &tol, &serial);
    t->cases++;
    if (rel == EXACT) {
        t->exact++;
        if (llabs(r.at - want) > tol)
            fail_msg("%s: flow %lld ps, closed form %lld ps (tolerance %lld)", describe(c),
                     (long long)r.at, (long long)want, (long long)tol);
    } else if (rel == SHARED || rel == OVERLAP) {
        t->slower++;
        if (r.at < want - tol)
            fail_msg("%s: flow %lld ps is faster than the contention-free %lld ps",
                     describe(c), (long long)r.at, (long long)want);
        /* overlapping phases can at worst take turns on the links */
        if (rel == OVERLAP && r.at > llround(serial) + tol)
            fail_msg("%s: flow %lld ps is slower than its waves one after another, %.0f ps",
                     describe(c), (long long)r.at, serial);
        t->worst = fmax(t->worst, (double)r.at / (double)want);
    }
    net_group_destroy(gf);
    net_group_destroy(ga);
    net_model_destroy(fm);
    net_model_destroy(am);
    sim_engine_destroy(eng);
}

static void all_members(tcase *c)
{
    c->n = 1;
    for (int d = 0; d < c->ndims; d++)
        c->n *= c->dims[d].npus;
    for (int i = 0; i < c->n; i++)
        c->ranks[i] = i;
}

static tcase ring_case(int ndims, const int *npus, const net_dim_kind *kinds, int splits,
                       net_coll op)
{
    tcase c = {.ndims = ndims, .splits = splits, .chunks = 1, .delta = 10 * NS, .M = 1600e9,
               .calgo = NET_CALGO_LISTS, .op = op, .bytes = NBYTES, .mask = 0xff};
    for (int d = 0; d < ndims; d++) {
        c.dims[d] = (net_dim){kinds ? kinds[d] : NET_RING, npus[d], 50 * GIB, 500 * NS};
        for (int o = 0; o < NET_IMPL_OPS; o++)
            c.impl[o][d] = NET_ALGO_RING;
    }
    all_members(&c);
    return c;
}

/* ---- issue 14: the smallest cases -------------------------------------- */

/* Ring 2 x 4 and 2 x 8 (the smallest cases of issue 14), every split
 * count, with and without endpoint delay.  Where dimension 0's
 * reduce-scatter still runs when wave 0 reaches its all-gather, the two
 * share dimension 0's links: with no endpoint delay and 5 splits on 2 x 4,
 * the two phases put 2 x 225 us of bytes on those links, and the closed
 * form's 466 us leaves them no room, so the flow model takes 480 us. */
static void test_ring_2xn_all_splits(void **state)
{
    (void)state;
    static const int shapes[][2] = {{2, 4}, {2, 8}};
    tally t = {0};
    for (int s = 0; s < 2; s++)
        for (int splits = 1; splits <= 8; splits++)
            for (int delta = 0; delta <= 1; delta++) {
                tcase c = ring_case(2, shapes[s], NULL, splits, NET_ALL_REDUCE);
                c.delta = delta ? 10 * NS : 0;
                run_case(&c, &t);
                c.bytes = 1048576; /* the 1 MiB: only finishing is checked */
                run_case(&c, &t);
            }
    print_message("ring 2 x n: %d cases, %d equal to the closed form, %d with shared links "
                  "(at most %.3f x the closed form)\n",
                  t.cases, t.exact, t.slower, t.worst);
    /* W = 1 and 2 on both shapes, with and without delay: from W = 3 on,
     * dimension 0's reduce-scatter (tau_0 about N/(2W B)) still runs when
     * wave 0 has passed dimension 1 (tau_1 about 3N/(4W B) on 2 x 4) */
    assert_int_equal(t.exact, 8);
}

/* The bidirectional ring on 2 members: both halves go to the one other
 * member over the one link between them, so by hand (L 500 ns, delta
 * 10 ns, B 50 GiB/s, M 1600 GB/s)
 *     AR = 2 (L + delta) + N/B + 3 (N/2)/M,
 * the same on Ring 2 and FullyConnected 2 and for both models (the closed
 * form once charged N/(2B), as if each direction had a link of its own). */
static void test_ring2_two_members(void **state)
{
    (void)state;
    static const net_dim_kind kinds[] = {NET_RING, NET_FULLY_CONNECTED, NET_SWITCH};
    for (int k = 0; k < 3; k++) {
        int two = 2;
        tcase c = ring_case(1, &two, &kinds[k], 1, NET_ALL_REDUCE);
        c.calgo = NET_CALGO_RING2;
        double N = (double)c.bytes, B = 50 * GIB, M = 1600e9;
        double L = kinds[k] == NET_SWITCH ? 1000e3 : 500e3; /* a Switch is 2 hops */
        double want = 2 * (L + 10e3) + (N / B + 1.5 * N / M) * 1e12;
        net_model *fm = mk(&c, NET_MODEL_FLOW), *am = mk(&c, NET_MODEL_ANALYTICAL);
        loom_err e = {0};
        net_group *gf = net_group_create(fm, c.ranks, 2, &e), *ga = net_group_create(am, c.ranks, 2, &e);
        sim_time a = net_coll_time(am, ga, c.op, c.bytes, 1);
        sim_time f = net_coll_time(fm, gf, c.op, c.bytes, 1);
        if (llabs(a - llround(want)) > 1 || llabs(f - llround(want)) > 3)
            fail_msg("%s: by hand %.0f ps, closed form %lld, flow %lld", describe(&c), want,
                     (long long)a, (long long)f);
        net_group_destroy(gf);
        net_group_destroy(ga);
        net_model_destroy(fm);
        net_model_destroy(am);
    }
}

/* Dimensions of 2 in every position, 2 and 3 dimensions, Ring, Switch and
 * FullyConnected, splits 1..8, the four collectives. */
static void test_small_shapes(void **state)
{
    (void)state;
    static const int shapes[][3] = {{2, 4, 0}, {4, 2, 0}, {2, 2, 0}, {8, 2, 0}, {2, 2, 2},
                                    {2, 3, 4}, {3, 2, 4}, {3, 4, 2}, {4, 3, 2}, {2, 4, 2}};
    static const net_dim_kind kinds[][3] = {{NET_RING, NET_RING, NET_RING},
                                            {NET_SWITCH, NET_RING, NET_FULLY_CONNECTED},
                                            {NET_FULLY_CONNECTED, NET_SWITCH, NET_RING}};
    static const net_coll ops[] = {NET_ALL_REDUCE, NET_ALL_GATHER, NET_REDUCE_SCATTER,
                                   NET_ALL_TO_ALL};
    tally t = {0};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            for (int splits = 1; splits <= 8; splits++)
                for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
                    int nd = shapes[s][2] ? 3 : 2;
                    tcase c = ring_case(nd, shapes[s], kinds[k], splits, ops[o]);
                    run_case(&c, &t);
                }
    /* every all-gather, reduce-scatter and all-to-all, and every W = 1 */
    assert_true(t.exact >= t.cases * 3 / 4);
    print_message("small shapes: %d cases, %d equal to the closed form, %d with shared links "
                  "(at most %.3f x the closed form)\n",
                  t.cases, t.exact, t.slower, t.worst);
}

/* ---- randomized: small topologies, every algorithm ---------------------- */

static uint64_t rng(uint64_t *s)
{
    *s = net_mix64(*s);
    return *s;
}

static int pick(uint64_t *s, int n) { return (int)(rng(s) % (uint64_t)n); }

static void random_case(uint64_t *s, tcase *c)
{
    static const net_dim_kind kinds[] = {NET_RING, NET_SWITCH, NET_FULLY_CONNECTED};
    static const double bws[] = {50 * GIB, 100 * GIB, 400 * GIB};
    static const sim_time lats[] = {100 * NS, 500 * NS, 2000 * NS};
    static const net_coll ops[] = {NET_ALL_REDUCE, NET_ALL_GATHER, NET_REDUCE_SCATTER,
                                   NET_ALL_TO_ALL, NET_ALL_REDUCE, NET_ALL_GATHER,
                                   NET_REDUCE_SCATTER, NET_ALL_TO_ALL, NET_REDUCE,
                                   NET_BROADCAST, NET_BARRIER};
    memset(c, 0, sizeof *c);
    c->ndims = 1 + pick(s, 3);
    for (int d = 0; d < c->ndims; d++) {
        c->dims[d] = (net_dim){kinds[pick(s, 3)], 2 + pick(s, 4), bws[pick(s, 3)],
                               lats[pick(s, 3)]};
        for (int o = 0; o < NET_IMPL_OPS; o++)
            c->impl[o][d] = (net_algo)pick(s, NET_ALGOS);
    }
    c->splits = 1 + pick(s, 8);
    c->chunks = pick(s, 4) == 0 ? 2 : 1;
    c->delta = pick(s, 3) == 0 ? 0 : 10 * NS;
    c->M = pick(s, 2) ? 1600e9 : 50e9;
    /* half the runs on the per-dimension lists, the rest every choice */
    c->calgo = pick(s, 2) ? NET_CALGO_LISTS : (net_calgo)pick(s, NET_CALGOS);
    c->op = ops[pick(s, (int)(sizeof ops / sizeof ops[0]))];
    c->bytes = pick(s, 4) == 0 ? 1 + rng(s) % 3000000 : NBYTES;
    c->mask = pick(s, 4) == 0 ? 1 + (uint32_t)pick(s, (1 << c->ndims) - 1) : 0xff;
    all_members(c);
    int shape = pick(s, 8);
    if (shape == 0) { /* a sub-grid: some coordinates of every dimension */
        int keep[3][5], nk[3];
        for (int d = 0; d < c->ndims; d++) {
            nk[d] = 0;
            for (int x = 0; x < c->dims[d].npus; x++)
                if (pick(s, 3) != 0)
                    keep[d][nk[d]++] = x;
            if (nk[d] == 0)
                keep[d][nk[d]++] = pick(s, c->dims[d].npus);
        }
        int n = 0;
        for (int r = 0; r < c->n; r++) {
            int in = 1, stride = 1;
            for (int d = 0; d < c->ndims; d++) {
                int x = r / stride % c->dims[d].npus, found = 0;
                for (int k = 0; k < nk[d]; k++)
                    found |= keep[d][k] == x;
                in &= found;
                stride *= c->dims[d].npus;
            }
            if (in)
                c->ranks[n++] = r;
        }
        c->n = n;
    } else if (shape == 1) { /* any members: mostly no sub-grid (flat) */
        int n = 0;
        for (int r = 0; r < c->n; r++)
            if (pick(s, 2))
                c->ranks[n++] = r;
        if (n == 0)
            c->ranks[n++] = 0;
        c->n = n;
    }
    /* A flat choice runs over all members as one dimension: a flat ring
     * all-to-all on 60 members relays 1,770 steps a wave, 640,000 flows
     * at W = 6 (1.5 s).  16 members keep each case in milliseconds. */
    if (c->calgo != NET_CALGO_LISTS && c->calgo != NET_CALGO_HIER && c->n > 16)
        c->n = 16;
}

/* 600 cases; the whole file takes about 2 s plain on the 2-core build
 * machine. */
static void test_random_small_topologies(void **state)
{
    (void)state;
    uint64_t s = 14;
    tally t = {0};
    for (int i = 0; i < 600; i++) {
        tcase c;
        random_case(&s, &c);
        run_case(&c, &t);
    }
    print_message("random: %d cases, %d equal to the closed form, %d with shared links "
                  "(at most %.3f x the closed form)\n",
                  t.cases, t.exact, t.slower, t.worst);
    assert_true(t.exact >= t.cases / 4);
}

int main(void)
{
    loom_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_2xn_all_splits),
        cmocka_unit_test(test_ring2_two_members),
        cmocka_unit_test(test_small_shapes),
        cmocka_unit_test(test_random_small_topologies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
