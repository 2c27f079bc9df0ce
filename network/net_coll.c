/*
 * net_coll.c: collective times of the analytical (alpha-beta,
 * contention-free) model: per-dimension algorithms (ring, direct,
 * halvingDoubling, doubleBinaryTree, dissemination barrier), the
 * hierarchical plan that chains them over dimensions, and the pipelining
 * of chunks across those phases.  docs/MODEL.md has every formula.
 *
 * Units: bytes, ps, bytes/s, all in double until the one llround per
 * collective (net_round_ps), so a run is deterministic to the picosecond.
 *
 * A step that moves m bytes over h hops costs
 *     W*(h*L + delta) + m/B + (reduce ? 3*r/M : 0)
 * where W = ceil(splits / active_chunks) waves: latency and endpoint delay
 * are paid once per wave, bandwidth and reduction once on the whole data
 * (r = bytes the rank reduces in that step, reads two operands and writes
 * one).  Nothing here allocates: a plan is at most 2*8-1 phases on the
 * stack.
 */
#include "net_int.h"

#include <math.h>
#include <stdio.h>

/* The plan's types live in net_int.h (net_sched.c runs the same plan as
 * flows); the short names keep this file's formulas readable. */
typedef net_phase_kind phase_kind;
typedef net_phase phase;
typedef net_plan plan;
#define MAX_PHASES NET_MAX_PHASES

/* Per-collective constants of the step formula. */
typedef struct cost {
    double W;     /* waves */
    double delta; /* endpoint delay, ps */
    double M;     /* local memory bandwidth, bytes/s */
} cost;

static double step(const net_vdim *v, const cost *c, int hops, double m,
                   double red)
{
    return c->W * (hops * v->lat + c->delta) + m * 1e12 / v->bw +
           3.0 * red * 1e12 / c->M;
}

static int is_pow2(int p) { return p > 0 && (p & (p - 1)) == 0; }

static int ilog2(int p) /* floor(log2 p), p >= 1 */
{
    int k = 0;
    while (p >>= 1)
        k++;
    return k;
}

/* ---- ring: p-1 neighbour steps of N/p (A2A: p(p-1)/2 relayed steps) */

static double ring_time(const phase *ph, const cost *c)
{
    const net_vdim *v = &ph->v;
    double p = v->p, m = ph->buf / p;
    int h = net_hops(v, 1);
    switch (ph->kind) {
    case PH_RS: return (p - 1) * step(v, c, h, m, ph->reduce ? m : 0);
    case PH_AG: return (p - 1) * step(v, c, h, m, 0);
    case PH_AR:
        return (p - 1) * (step(v, c, h, m, ph->reduce ? m : 0) +
                          step(v, c, h, m, 0));
    case PH_A2A: return p * (p - 1) / 2 * step(v, c, h, m, 0);
    case PH_BARRIER: break;
    }
    LOOM_ASSERT(0);
    return 0;
}

/* ---- direct: one step to every peer at once.  The busiest link carries
 * FC: N/p (own link per pair); SWITCH: (p-1)N/p (one uplink);
 * RING: (N/p) * s(s+1)/2 with s = floor(p/2) (shortest paths, ties
 * clockwise), over s member steps. */

static double direct_time(const phase *ph, const cost *c)
{
    const net_vdim *v = &ph->v;
    double p = v->p, N = ph->buf, m;
    int h;
    switch (v->kind) {
    case NET_FULLY_CONNECTED: m = N / p; h = net_hops(v, 1); break;
    case NET_SWITCH: m = (p - 1) * N / p; h = net_hops(v, 1); break;
    case NET_RING:
    default: {
        long s = v->p / 2;
        m = N / p * (double)(s * (s + 1) / 2);
        h = net_hops(v, s);
        break;
    }
    }
    /* One p-way pass sums the p pieces of N/p: it reads p·N/p and writes
     * N/p, (p+1)·N/p bytes of memory traffic.  step() charges 3 bytes per
     * reduced byte (the two-operand pass of ring steps), so pass a third. */
    double red = ph->reduce ? (p + 1) * N / (3 * p) : 0;
    switch (ph->kind) {
    case PH_RS: return step(v, c, h, m, red);
    case PH_AG:
    case PH_A2A: return step(v, c, h, m, 0);
    case PH_AR: return step(v, c, h, m, red) + step(v, c, h, m, 0);
    case PH_BARRIER: break;
    }
    LOOM_ASSERT(0);
    return 0;
}

/* ---- halvingDoubling on a power of two p (recursive halving, then
 * recursive doubling); the non-power-of-two all-reduce folds the extra
 * p - p' ranks into partners p' member steps away first. */

static double hd_rs(const net_vdim *v, const cost *c, int p, double N,
                    int reduce)
{
    double t = 0, m = N;
    for (int dist = p / 2; dist >= 1; dist /= 2) {
        m /= 2; /* step i moves N/2^i to the partner p/2^i away */
        t += step(v, c, net_hops(v, dist), m, reduce ? m : 0);
    }
    return t;
}

static double hd_ag(const net_vdim *v, const cost *c, int p, double N)
{
    double t = 0, m = N / p;
    for (int dist = 1; dist < p; dist *= 2) {
        t += step(v, c, net_hops(v, dist), m, 0); /* N/p, 2N/p, ... N/2 */
        m *= 2;
    }
    return t;
}

static double hd_time(const phase *ph, const cost *c)
{
    const net_vdim *v = &ph->v;
    int p = v->p;
    double N = ph->buf;
    switch (ph->kind) {
    case PH_RS: return hd_rs(v, c, p, N, ph->reduce);
    case PH_AG: return hd_ag(v, c, p, N);
    case PH_A2A: { /* Bruck: log2 p steps of N/2 at 1, 2, 4, ... */
        double t = 0;
        for (int dist = 1; dist < p; dist *= 2)
            t += step(v, c, net_hops(v, dist), N / 2, 0);
        return t;
    }
    case PH_AR: {
        if (is_pow2(p))
            return hd_rs(v, c, p, N, ph->reduce) + hd_ag(v, c, p, N);
        int q = 1 << ilog2(p);
        int h = net_hops(v, q);
        return step(v, c, h, N, ph->reduce ? N : 0) +
               hd_rs(v, c, q, N, ph->reduce) + hd_ag(v, c, q, N) +
               step(v, c, h, N, 0);
    }
    case PH_BARRIER: break;
    }
    LOOM_ASSERT(0);
    return 0;
}

/* ---- doubleBinaryTree all-reduce: two trees of depth D = floor(log2 p),
 * each carrying N/2; D steps up (reducing), D steps down.  A node's two
 * children share its one ingress on SWITCH and RING (N per step), have
 * their own links on FC (N/2).  Reduction: the N bytes a parent receives
 * from its two children (2 * N/2), i.e. red(N) = 3N/M per up step. */

static double dbt_time(const phase *ph, const cost *c)
{
    const net_vdim *v = &ph->v;
    LOOM_ASSERT(ph->kind == PH_AR);
    double N = ph->buf;
    int D = ilog2(v->p);
    int h;
    double m;
    switch (v->kind) {
    case NET_FULLY_CONNECTED: m = N / 2; h = net_hops(v, 1); break;
    case NET_SWITCH: m = N; h = net_hops(v, 1); break;
    case NET_RING:
    default: m = N; h = net_hops(v, (v->p + 3) / 4); break;
    }
    return D * (step(v, c, h, m, ph->reduce ? N : 0) + step(v, c, h, m, 0));
}

/* ---- dissemination barrier: ceil(log2 p) steps of 0 bytes, partner
 * 2^k member steps away; W = 1, so a step is h*L + delta. */

static double barrier_time(const phase *ph, const cost *c)
{
    double t = 0;
    for (int dist = 1; dist < ph->v.p; dist *= 2)
        t += step(&ph->v, c, net_hops(&ph->v, dist), 0, 0);
    return t;
}

/* ---- bidirectional ring (docs/NETWORK.md 4.2): half the buffer goes
 * clockwise, half counter-clockwise, p-1 steps of N/(2p) each way.  On a
 * SWITCH both halves leave through the member's one uplink (N/p on it);
 * on RING and FC each direction has its own link. */

static double ring2_time(const phase *ph, const cost *c)
{
    const net_vdim *v = &ph->v;
    double p = v->p, half = ph->buf / (2 * p);
    double m = v->kind == NET_SWITCH ? 2 * half : half;
    int h = net_hops(v, 1);
    double r = ph->reduce ? 2 * half : 0; /* both halves are reduced */
    switch (ph->kind) {
    case PH_RS: return (p - 1) * step(v, c, h, m, r);
    case PH_AG: return (p - 1) * step(v, c, h, m, 0);
    case PH_AR: return (p - 1) * (step(v, c, h, m, r) + step(v, c, h, m, 0));
    case PH_A2A:
    case PH_BARRIER: break; /* choose() sends these elsewhere */
    }
    LOOM_ASSERT(0);
    return 0;
}

/* ---- staggered pairwise all-to-all (NETWORK.md 4.6): p-1 rounds; in
 * round k member i sends its N/p for member i+k.  On a RING all members
 * send k member steps the same way, so each link of that direction
 * carries min(k, p-k) messages of the round. */

static double stagger_time(const phase *ph, const cost *c)
{
    const net_vdim *v = &ph->v;
    LOOM_ASSERT(ph->kind == PH_A2A);
    double t = 0, piece = ph->buf / v->p;
    for (int k = 1; k < v->p; k++) {
        int x = k < v->p - k ? k : v->p - k;
        double m = v->kind == NET_RING ? piece * x : piece;
        t += step(v, c, net_hops(v, k), m, 0);
    }
    return t;
}

static double phase_time(const phase *ph, const cost *c)
{
    if (ph->kind == PH_BARRIER)
        return barrier_time(ph, c);
    switch (ph->algo) {
    case NET_ALGO_RING: return ring_time(ph, c);
    case NET_ALGO_DIRECT: return direct_time(ph, c);
    case NET_ALGO_HD: return hd_time(ph, c);
    case NET_ALGO_DBT: return dbt_time(ph, c);
    case NET_XALGO_RING2: return ring2_time(ph, c);
    case NET_XALGO_STAGGER: return stagger_time(ph, c);
    default: break;
    }
    LOOM_ASSERT(0);
    return 0;
}

double net_phase_time(const net_model *m, const net_phase *ph, int waves)
{
    cost c = {.W = waves,
              .delta = (double)m->sys.endpoint_delay,
              .M = m->sys.local_mem_bw};
    return phase_time(ph, &c);
}

/* ---- the plan: which phases, on which dims, with which algorithm */

static const char *dim_label(int dim, char *buf, size_t sz)
{
    if (dim == NET_FLAT_DIM)
        snprintf(buf, sz, "the flat dimension (all members as one)");
    else
        snprintf(buf, sz, "dimension %d", dim);
    return buf;
}

/* The algorithm a phase really runs: DBT exists only as a whole
 * all-reduce, HD on a non-power of two only as an all-reduce; both fall
 * back to ring otherwise, with one warning per model per (reason, dim). */
static int choose(net_model *m, const net_vdim *v, net_impl_op list,
                  phase_kind kind, net_coll op, int forced, int warn)
{
    int a = forced >= 0 ? forced : (int)v->impl[list];
    char dl[64];
    if (kind == PH_BARRIER)
        return NET_ALGO_RING; /* unused: the barrier has one algorithm */
    /* The lower phases of an all-reduce (and of reduce, broadcast) read
     * the all-reduce list but are reduce-scatters and all-gathers. */
    int inner = list == NET_IMPL_ALL_REDUCE &&
                (op == NET_ALL_REDUCE || op == NET_REDUCE ||
                 op == NET_BROADCAST);
    if (a == NET_ALGO_DBT && kind != PH_AR) {
        if (warn && inner)
            net_warn_once(m, NET_WARN_DBT_INNER, v->dim,
                          "doubleBinaryTree on %s runs only as the top "
                          "phase of a hierarchical all-reduce; the "
                          "reduce-scatter/all-gather phases there use ring",
                          dim_label(v->dim, dl, sizeof dl));
        else if (warn)
            net_warn_once(m, NET_WARN_DBT_OP, v->dim,
                          "doubleBinaryTree on %s implements all-reduce "
                          "only; %s uses ring there",
                          dim_label(v->dim, dl, sizeof dl),
                          net_coll_name(op));
        return NET_ALGO_RING;
    }
    if (a == NET_ALGO_HD && kind != PH_AR && !is_pow2(v->p)) {
        if (warn)
            net_warn_once(m, NET_WARN_HD_NONPOW2, v->dim,
                          "halvingDoubling on %s with %d members (not a "
                          "power of two) has only an all-reduce form; %s "
                          "uses ring there%s",
                          dim_label(v->dim, dl, sizeof dl), v->p,
                          net_coll_name(op),
                          inner ? " for its lower phases" : "");
        return NET_ALGO_RING;
    }
    if (a == NET_XALGO_RING2 && kind == PH_A2A) {
        if (warn)
            net_warn_once(m, NET_WARN_RING2_OP, v->dim,
                          "the bidirectional ring on %s has no all-to-all "
                          "form; ALL_TO_ALL uses ring there",
                          dim_label(v->dim, dl, sizeof dl));
        return NET_ALGO_RING;
    }
    if (a == NET_XALGO_STAGGER && kind != PH_A2A) {
        if (warn)
            net_warn_once(m, NET_WARN_STAGGER_OP, v->dim,
                          "staggered is an all-to-all algorithm; %s uses "
                          "ring on %s", net_coll_name(op),
                          dim_label(v->dim, dl, sizeof dl));
        return NET_ALGO_RING;
    }
    return a;
}

/* The algorithm a whole-collective choice forces on every phase, or -1
 * for the per-dimension lists.  NCCL plans the algorithm its tuner picks
 * (Ring: ring; Tree: double binary tree); ops outside its table use the
 * lists. */
static int forced_algo(const net_model *m, const net_group *g, net_coll op,
                       uint64_t bytes, int *flat)
{
    *flat = 1;
    switch (m->sys.calgo) {
    case NET_CALGO_RING: return NET_ALGO_RING;
    case NET_CALGO_RING2: return NET_XALGO_RING2;
    case NET_CALGO_DIRECT: return NET_ALGO_DIRECT;
    case NET_CALGO_HD: return NET_ALGO_HD;
    case NET_CALGO_DBT: return NET_ALGO_DBT;
    case NET_CALGO_STAGGER: return NET_XALGO_STAGGER;
    case NET_CALGO_HIER: *flat = 0; return NET_ALGO_RING;
    case NET_CALGO_NCCL: {
        net_nccl_pick pk;
        if (net_nccl_choose(m, g, op, bytes, &pk) == 0)
            return pk.algo == NET_NCCL_TREE ? NET_ALGO_DBT : NET_ALGO_RING;
        *flat = 0;
        return -1;
    }
    case NET_CALGO_LISTS:
    case NET_CALGOS: break;
    }
    *flat = 0;
    return -1;
}

static void add_phase(plan *pl, const net_vdim *v, phase_kind kind,
                      double buf, int reduce)
{
    LOOM_ASSERT(pl->n < MAX_PHASES);
    phase *ph = &pl->ph[pl->n++];
    ph->v = *v;
    ph->kind = kind;
    ph->buf = buf;
    ph->reduce = reduce;
    ph->algo = NET_ALGO_RING;
}

/* Dimensions used, ascending: spanned (p > 1) and selected by mask.  An
 * irregular group has one, its flat dimension, used when the mask
 * selects any dimension it spans.  Returns the count. */
static int used_dims(const net_model *m, const net_group *g, uint32_t mask,
                     int flat, net_vdim *out)
{
    /* a flat whole-collective algorithm, or a group that is no sub-grid:
     * all members as one dimension */
    if (flat || !g->regular) {
        if (!(g->span & mask))
            return 0;
        out[0] = g->all;
        return 1;
    }
    int q = 0;
    for (int d = 0; d < m->topo.ndims; d++)
        if ((g->span & mask) & (1u << d))
            net_vdim_of(m, g, d, &out[q++]);
    return q;
}

void net_make_plan(net_model *m, const net_group *g, net_coll op,
                   uint64_t bytes, uint32_t mask, int warn, plan *pl)
{
    net_vdim u[NET_MAX_DIMS];
    int flat;
    int forced = forced_algo(m, g, op, bytes, &flat);
    int q = used_dims(m, g, mask, flat, u);
    double N = (double)bytes;
    pl->n = 0;
    pl->waves = m->waves;
    if (q == 0)
        return;

    net_impl_op list = NET_IMPL_ALL_REDUCE;
    switch (op) {
    case NET_ALL_REDUCE:
    case NET_REDUCE:     /* RS + gather: AR's phases, reduction in RS */
    case NET_BROADCAST: { /* scatter + AG: AR's phases, no reduction */
        int red = op != NET_BROADCAST;
        double b = N;
        for (int i = 0; i < q - 1; i++) {
            add_phase(pl, &u[i], PH_RS, b, red);
            b /= u[i].p;
        }
        add_phase(pl, &u[q - 1], PH_AR, b, red);
        for (int i = q - 2; i >= 0; i--) {
            b *= u[i].p;
            add_phase(pl, &u[i], PH_AG, b, 0);
        }
        break;
    }
    case NET_REDUCE_SCATTER:
    case NET_REDUCE_SCATTER_BLOCK:
    case NET_SCATTER: { /* N is the input; shrinks by p per phase */
        double b = N;
        list = op == NET_SCATTER ? NET_IMPL_ALL_REDUCE
                                 : NET_IMPL_REDUCE_SCATTER;
        for (int i = 0; i < q; i++) {
            add_phase(pl, &u[i], PH_RS, b, op != NET_SCATTER);
            b /= u[i].p;
        }
        break;
    }
    case NET_ALL_GATHER:
    case NET_GATHER: { /* N is each rank's part; output grows by p */
        double b = N;
        list = op == NET_GATHER ? NET_IMPL_ALL_REDUCE : NET_IMPL_ALL_GATHER;
        for (int i = 0; i < q; i++) {
            b *= u[i].p;
            add_phase(pl, &u[i], PH_AG, b, 0);
        }
        break;
    }
    case NET_ALL_TO_ALL:
        list = NET_IMPL_ALL_TO_ALL;
        for (int i = 0; i < q; i++)
            add_phase(pl, &u[i], PH_A2A, N, 0);
        break;
    case NET_BARRIER:
        for (int i = 0; i < q; i++)
            add_phase(pl, &u[i], PH_BARRIER, 0, 0);
        pl->waves = 1; /* no data, nothing to chunk */
        break;
    case NET_COLLS:
    default: LOOM_ASSERT(0);
    }
    for (int i = 0; i < pl->n; i++) {
        phase *ph = &pl->ph[i];
        ph->algo = choose(m, &ph->v, list, ph->kind, op, forced, warn);
    }
}

sim_time net_coll_time(net_model *m, const net_group *g, net_coll op,
                       uint64_t bytes, uint32_t dim_mask)
{
    LOOM_ASSERT(g->m == m);
    LOOM_ASSERT((unsigned)op < NET_COLLS);
    if (m->sys.model == NET_MODEL_FLOW)
        return net_sched_coll_alone(m, g, op, bytes, dim_mask);
    if (m->sys.calgo == NET_CALGO_NCCL) {
        net_nccl_pick pk;
        if (g->n > 1 && (g->span & dim_mask) &&
            net_nccl_choose(m, g, op, bytes, &pk) == 0)
            return net_round_ps(pk.time_us * 1e6);
        /* outside NCCL's table: the per-dimension lists, said once */
        if (g->n > 1 && (g->span & dim_mask) && op != NET_BARRIER)
            net_warn_once(m, NET_WARN_NCCL_OP, 0,
                          "NCCL's tuner has no model for %s; the NCCL mode "
                          "times it with the system's implementation lists",
                          net_coll_name(op));
    }
    plan pl;
    net_make_plan(m, g, op, bytes, dim_mask, 1, &pl);
    if (pl.n == 0)
        return 0;
    cost c = {.W = pl.waves,
              .delta = (double)m->sys.endpoint_delay,
              .M = m->sys.local_mem_bw};
    /* Chunks pipeline across phases: each phase handles a wave in
     * tau_i = T_i / W; the first wave crosses all phases, the other W-1
     * follow behind the slowest. */
    double sum = 0, slowest = 0;
    for (int i = 0; i < pl.n; i++) {
        double tau = phase_time(&pl.ph[i], &c) / pl.waves;
        sum += tau;
        slowest = fmax(slowest, tau);
    }
    return net_round_ps(sum + (pl.waves - 1) * slowest);
}

void net_coll_label(net_model *m, const net_group *g, net_coll op,
                    uint32_t dim_mask, char *buf, size_t sz)
{
    LOOM_ASSERT(g->m == m);
    LOOM_ASSERT((unsigned)op < NET_COLLS);
    if (sz == 0)
        return;
    plan pl;
    buf[0] = '\0';
    if (m->sys.calgo == NET_CALGO_NCCL && m->sys.model == NET_MODEL_ANALYTICAL) {
        net_nccl_pick pk;
        if (g->n > 1 && (g->span & dim_mask) &&
            net_nccl_choose(m, g, op, 1, &pk) == 0) {
            snprintf(buf, sz, "nccl(size-dependent)");
            return;
        }
    }
    net_make_plan(m, g, op, 0, dim_mask, 0, &pl);
    if (pl.n == 0) {
        snprintf(buf, sz, "none");
        return;
    }
    /* One entry per dimension, ascending: the AG phases of an all-reduce
     * repeat the RS phases' dimensions and algorithms. */
    size_t len = 0;
    uint32_t seen = 0;
    for (int i = 0; i < pl.n && len < sz; i++) {
        const phase *ph = &pl.ph[i];
        uint32_t bit = 1u << ph->v.dim;
        if (seen & bit)
            continue;
        seen |= bit;
        const char *name = ph->kind == PH_BARRIER ? "dissemination"
                           : ph->algo == NET_XALGO_RING2 ? "ring2"
                           : ph->algo == NET_XALGO_STAGGER ? "staggered"
                           : net_algo_name((net_algo)ph->algo);
        char where[8];
        if (ph->v.dim == NET_FLAT_DIM)
            snprintf(where, sizeof where, "flat");
        else
            snprintf(where, sizeof where, "%d", ph->v.dim);
        int w = snprintf(buf + len, sz - len, "%s%s@%s", len ? "+" : "",
                         name, where);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}
