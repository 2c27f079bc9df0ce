/*
 * net_coll.c: collectives of the analytical (alpha-beta, contention-free)
 * model: the plan that chains phases over dimensions (which phases, on
 * which dimensions, with which algorithm after fallbacks), the pipelining
 * of chunks across those phases, and the labels of reports.  Each
 * algorithm's closed form lives in its own file (net_algo_<name>.c,
 * behind net_algo_ops); docs/MODEL.md has every formula.
 *
 * Units: bytes, ps, bytes/s, all in double until the one llround per
 * collective (net_round_ps), so a run is deterministic to the picosecond.
 *
 * A step that moves m bytes over h hops costs
 *     W*(h*L + delta) + m/B + (reduce ? 3*r/M : 0)
 * where W = ceil(splits / active_chunks) waves (net_step() in net_algo.h).
 * Nothing here allocates: a plan is at most 2*8-1 phases on the stack.
 */
#include "net_algo.h"

#include <math.h>
#include <stdio.h>

/* The plan's types live in net_int.h (net_sched.c runs the same plan as
 * flows); the short names keep this file readable. */
typedef net_phase_kind phase_kind;
typedef net_phase phase;
typedef net_plan plan;
#define MAX_PHASES NET_MAX_PHASES

static net_cost cost_of(const net_model *m, int waves)
{
    return (net_cost){.W = waves,
                      .delta = (double)m->sys.endpoint_delay,
                      .M = m->sys.local_mem_bw,
                      .astra = m->sys.astra_timing};
}

/* ---- the plan: which phases, on which dims, with which algorithm */

/* The algorithm a phase really runs: the forced one or the list's, unless
 * it has no form for the phase (its runs() says so, and warns once per
 * model per message and dim): then ring.  A barrier always disseminates. */
static const net_algo_ops *choose(net_model *m, const net_vdim *v, net_impl_op list,
                                  phase_kind kind, net_coll op, const net_algo_ops *forced,
                                  int warn)
{
    if (kind == PH_BARRIER)
        return &net_algo_dissemination;
    const net_algo_ops *a = forced ? forced : net_algo_ops_of(v->impl[list]);
    /* The lower phases of an all-reduce (and of reduce, broadcast) read
     * the all-reduce list but are reduce-scatters and all-gathers. */
    int inner = list == NET_IMPL_ALL_REDUCE &&
                (op == NET_ALL_REDUCE || op == NET_REDUCE || op == NET_BROADCAST);
    if (a->runs && !a->runs(m, v, kind, op, inner, warn))
        return &net_algo_ring;
    return a;
}

/* The algorithm the whole-collective choice forces on every phase, or
 * NULL for the per-dimension lists; *flat: all members as one dimension. */
static const net_algo_ops *forced_algo(const net_model *m, const net_group *g, net_coll op,
                                       uint64_t bytes, int *flat)
{
    const net_algo_ops *c = net_calgo_ops(m->sys.calgo);
    if (c->force)
        return c->force(m, g, op, bytes, flat);
    *flat = 1; /* a phase algorithm chosen whole: itself, flat */
    return c;
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
    ph->algo = &net_algo_ring; /* choose() decides */
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
    const net_algo_ops *forced = forced_algo(m, g, op, bytes, &flat);
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
        /* ascending (ASTRA-sim's): u_0 first, so the outer dimensions move
         * what the inner ones gathered; descending (all-gather-order):
         * each rank's part crosses the outer dimensions first, as an
         * all-reduce's gather half does and as NCCL's rings move 1/p_0 of
         * the output over the network (docs/MODEL.md 7) */
        for (int k = 0; k < q; k++) {
            int i = m->sys.ag_descending ? q - 1 - k : k;
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
    net_eff_apply(m, g, op, bytes, mask, pl);
}

sim_time net_coll_time(net_model *m, const net_group *g, net_coll op,
                       uint64_t bytes, uint32_t dim_mask)
{
    LOOM_ASSERT(g->m == m);
    LOOM_ASSERT((unsigned)op < NET_COLLS);
    if (m->sys.model == NET_MODEL_FLOW)
        return net_sched_coll_alone(m, g, op, bytes, dim_mask);
    const net_algo_ops *choice = net_calgo_ops(m->sys.calgo);
    sim_time whole;
    if (choice->coll_time && choice->coll_time(m, g, op, bytes, dim_mask, &whole))
        return whole; /* the choice times the whole collective itself */
    plan pl;
    net_make_plan(m, g, op, bytes, dim_mask, 1, &pl);
    if (pl.n == 0)
        return 0;
    net_cost c = cost_of(m, pl.waves);
    /* Chunks pipeline across phases: each phase handles a wave in
     * tau_i = T_i / W; the first wave crosses all phases, the other W-1
     * follow behind the slowest. */
    double sum = 0, slowest = 0, xsum = 0, xmax = 0;
    int overlap = m->sys.phase_overlap > 0 && pl.n > 1;
    for (int i = 0; i < pl.n; i++) {
        double T = pl.ph[i].algo->time(&pl.ph[i], &c);
        double tau = T / pl.waves;
        if (c.astra) /* ASTRA-sim: one more endpoint delay as each chunk ends */
            tau += c.delta;
        sum += tau;
        slowest = fmax(slowest, tau);
        if (overlap) { /* the wave's transfer: its time less its time on no
                        * bytes (latencies and endpoint delays stay) */
            phase empty = pl.ph[i];
            empty.buf = 0;
            double x = (T - empty.algo->time(&empty, &c)) / pl.waves;
            xsum += x;
            xmax = fmax(xmax, x);
        }
    }
    double t = sum + (pl.waves - 1) * slowest;
    if (overlap) /* phase-overlap (docs/MODEL.md 7): that share of the first
                  * wave's transfers in every phase but the longest hides */
        t -= m->sys.phase_overlap * (xsum - xmax);
    return net_round_ps(t);
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
    const net_algo_ops *choice = net_calgo_ops(m->sys.calgo);
    if (m->sys.model == NET_MODEL_ANALYTICAL && choice->coll_label &&
        choice->coll_label(m, g, op, dim_mask, buf, sz))
        return;
    net_make_plan(m, g, op, 0, dim_mask, 0, &pl);
    if (pl.n == 0) {
        snprintf(buf, sz, "none");
        return;
    }
    /* One entry per dimension, in phase order (ascending, but for an
     * all-gather with all-gather-order: descending): the AG phases of an
     * all-reduce repeat the RS phases' dimensions and algorithms. */
    size_t len = 0;
    uint32_t seen = 0;
    for (int i = 0; i < pl.n && len < sz; i++) {
        const phase *ph = &pl.ph[i];
        uint32_t bit = 1u << ph->v.dim;
        if (seen & bit)
            continue;
        seen |= bit;
        const char *name = ph->algo->label;
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
