/*
 * net_algo_hd.c: halving-doubling (ASTRA-sim's "halvingDoubling",
 * "oneHalvingDoubling"; docs/MODEL.md 5 "halvingDoubling", NETWORK.md
 * 4.4): on a power of two p, recursive halving (reduce-scatter) then
 * recursive doubling (all-gather); an all-to-all is Bruck's log2 p steps.
 * The non-power-of-two all-reduce first folds the extra p - p' members
 * into partners p' member steps away and unfolds them at the end; other
 * phases on such a p have no form and use ring.
 */
#include "net_algo.h"

static int hd_runs(net_model *m, const net_vdim *v, net_phase_kind kind, net_coll op, int inner,
                   int warn)
{
    char dl[64];
    if (kind == PH_AR || net_is_pow2(v->p))
        return 1;
    if (warn)
        net_warn_once(m, v->dim,
                      "halvingDoubling on %s with %d members (not a "
                      "power of two) has only an all-reduce form; %s "
                      "uses ring there%s",
                      net_dim_label(v->dim, dl, sizeof dl), v->p,
                      net_coll_name(op),
                      inner ? " for its lower phases" : "");
    return 0;
}

static double hd_rs(const net_vdim *v, const net_cost *c, int p, double N, int reduce)
{
    double t = 0, m = N;
    for (int dist = p / 2; dist >= 1; dist /= 2) {
        m /= 2; /* step i moves N/2^i to the partner p/2^i away */
        t += net_step(v, c, net_hops(v, dist), m, reduce ? m : 0);
    }
    return t;
}

static double hd_ag(const net_vdim *v, const net_cost *c, int p, double N)
{
    double t = 0, m = N / p;
    for (int dist = 1; dist < p; dist *= 2) {
        t += net_step(v, c, net_hops(v, dist), m, 0); /* N/p, 2N/p, ... N/2 */
        m *= 2;
    }
    return t;
}

static double hd_time(const net_phase *ph, const net_cost *c)
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
            t += net_step(v, c, net_hops(v, dist), N / 2, 0);
        return t;
    }
    case PH_AR: {
        if (net_is_pow2(p))
            return hd_rs(v, c, p, N, ph->reduce) + hd_ag(v, c, p, N);
        int q = 1 << net_ilog2(p);
        int h = net_hops(v, q);
        return net_step(v, c, h, N, ph->reduce ? N : 0) + hd_rs(v, c, q, N, ph->reduce) +
               hd_ag(v, c, q, N) + net_step(v, c, h, N, 0);
    }
    case PH_BARRIER: break;
    }
    LOOM_ASSERT(0);
    return 0;
}

static int hd_steps(const net_xphase *P)
{
    int p = P->p, q = 1 << net_ilog2(p), lg = net_ilog2(q);
    if (P->ph.kind == PH_AR)
        return q == p ? 2 * lg : 2 * lg + 2;
    return lg; /* RS, AG, A2A: p is a power of two (hd_runs() saw to it) */
}

/* The fold (s == 0) and unfold (last step) of a non-power-of-two
 * all-reduce: the p - q members past q hand their whole buffer to the
 * member q below and take the result back. */
static int hd_fold_step(int p, int q, int i, int fold, uint64_t T, int reduce, net_xstep *o)
{
    int ns = 0, e = p - q;
    if (i >= q && fold) {
        o->peer[ns] = i - q;
        o->bytes[ns++] = T;
    }
    if (i < e && !fold) {
        o->peer[ns] = i + q;
        o->bytes[ns++] = T;
    }
    if (i < e && fold) {
        o->nrecv = 1;
        if (reduce)
            o->red = (double)T;
    }
    if (i >= q && !fold)
        o->nrecv = 1;
    return ns;
}

static int hd_step(const net_xphase *P, int i, int s, uint64_t T, net_xstep *o)
{
    int p = P->p, q = 1 << net_ilog2(p), lg = net_ilog2(q);
    net_phase_kind kind = P->ph.kind;
    if (kind == PH_A2A) { /* Bruck: T/2 to i + 2^s */
        o->peer[0] = (i + (1 << s)) % p;
        o->bytes[0] = net_piece(T, 2, 0);
        o->nrecv = 1;
        return 1;
    }
    int ss = s;
    if (kind == PH_AR && q != p) { /* fold the p - q extra members in */
        if (s == 0 || s == 2 * lg + 1)
            return hd_fold_step(p, q, i, s == 0, T, P->ph.reduce, o);
        if (i >= q)
            return 0; /* waits for the unfold */
        ss = s - 1;
    }
    if (kind == PH_RS || (kind == PH_AR && ss < lg)) {
        /* recursive halving: T/2^(s+1) to i ^ q/2^(s+1) */
        o->peer[0] = i ^ (q >> (ss + 1));
        o->bytes[0] = net_piece(T, (uint64_t)1 << (ss + 1), 0);
        o->nrecv = 1;
        if (P->ph.reduce)
            o->red = (double)o->bytes[0];
        return 1;
    }
    int as = kind == PH_AR ? ss - lg : ss; /* recursive doubling */
    o->peer[0] = i ^ (1 << as);
    o->bytes[0] = net_piece(T, (uint64_t)(q >> as), 0);
    o->nrecv = 1;
    return 1;
}

static const char *const aliases[] = {"halvingDoubling", NULL};
static const char *const astra_names[] = {"halvingDoubling", "oneHalvingDoubling", NULL};

const net_algo_ops net_algo_hd = {
    .name = "hd",
    .aliases = aliases,
    .label = "halvingDoubling",
    .astra = NET_ALGO_HD,
    .astra_names = astra_names,
    .runs = hd_runs,
    .time = hd_time,
    .steps = hd_steps,
    .step = hd_step,
};
