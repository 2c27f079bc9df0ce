/*
 * net_algo_staggered.c: the staggered pairwise all-to-all (docs/NETWORK.md
 * 4.6): p-1 rounds; in round k member i sends its N/p for member i+k.  On
 * a RING all members send k member steps the same way, so each link of
 * that direction carries min(k, p-k) messages of the round.  All-to-all
 * only: the plan uses ring for other phases.
 */
#include "net_algo.h"

static int stagger_runs(net_model *m, const net_vdim *v, net_phase_kind kind, net_coll op,
                        int inner, int warn)
{
    (void)inner;
    char dl[64];
    if (kind == PH_A2A)
        return 1;
    if (warn)
        net_warn_once(m, v->dim,
                      "staggered is an all-to-all algorithm; %s uses "
                      "ring on %s", net_coll_name(op),
                      net_dim_label(v->dim, dl, sizeof dl));
    return 0;
}

static double stagger_time(const net_phase *ph, const net_cost *c)
{
    const net_vdim *v = &ph->v;
    LOOM_ASSERT(ph->kind == PH_A2A);
    double t = 0, piece = ph->buf / v->p;
    for (int k = 1; k < v->p; k++) {
        int x = k < v->p - k ? k : v->p - k;
        double m = v->kind == NET_RING ? piece * x : piece;
        t += net_step(v, c, net_hops(v, k), m, 0);
    }
    return t;
}

static int stagger_steps(const net_xphase *P) { return P->p - 1; }

static int stagger_step(const net_xphase *P, int i, int s, uint64_t T, net_xstep *o)
{
    int p = P->p, k = s + 1;
    o->peer[0] = (i + k) % p;
    o->bytes[0] = net_piece(T, (uint64_t)p, (uint64_t)((i + k) % p));
    o->nrecv = 1;
    return 1;
}

static const char *const aliases[] = {"stagger", NULL};

const net_algo_ops net_algo_staggered = {
    .name = "staggered",
    .aliases = aliases,
    .label = "staggered",
    .astra = -1,
    .runs = stagger_runs,
    .time = stagger_time,
    .steps = stagger_steps,
    .step = stagger_step,
};
