/*
 * net_algo_ring2.c: the bidirectional ring (docs/NETWORK.md 4.2): half
 * the buffer goes clockwise, half counter-clockwise, p-1 steps of N/(2p)
 * each way.  On a SWITCH both halves leave through the member's one
 * uplink (N/p on it); on RING and FC each direction has its own link,
 * except with 2 members: then "clockwise" and "counter-clockwise" are the
 * same member, reached over the same link (a Ring of 2 has one link each
 * way, a FullyConnected pair one, and on a longer ring both flows take the
 * one shortest route), so that link carries N/p too.  No all-to-all form:
 * the plan uses ring there.
 */
#include "net_algo.h"

static int ring2_runs(net_model *m, const net_vdim *v, net_phase_kind kind, net_coll op,
                      int inner, int warn)
{
    (void)op, (void)inner;
    char dl[64];
    if (kind != PH_A2A)
        return 1;
    if (warn)
        net_warn_once(m, v->dim,
                      "the bidirectional ring on %s has no all-to-all "
                      "form; ALL_TO_ALL uses ring there",
                      net_dim_label(v->dim, dl, sizeof dl));
    return 0;
}

static double ring2_time(const net_phase *ph, const net_cost *c)
{
    const net_vdim *v = &ph->v;
    double p = v->p, half = ph->buf / (2 * p);
    /* p = 2 on RING or FC: both halves on one link, so a step of a 1 MiB
     * all-reduce moves 512 KiB through it, 9.8 us at 50 GB/s, not 4.9 us
     * (the flow model takes 9.8) */
    double m = v->kind == NET_SWITCH || v->p == 2 ? 2 * half : half;
    int h = net_hops(v, 1);
    double r = ph->reduce ? 2 * half : 0; /* both halves are reduced */
    switch (ph->kind) {
    case PH_RS: return (p - 1) * net_step(v, c, h, m, r);
    case PH_AG: return (p - 1) * net_step(v, c, h, m, 0);
    case PH_AR: return (p - 1) * (net_step(v, c, h, m, r) + net_step(v, c, h, m, 0));
    case PH_A2A:
    case PH_BARRIER: break; /* ring2_runs() sends these elsewhere */
    }
    LOOM_ASSERT(0);
    return 0;
}

static int ring2_steps(const net_xphase *P)
{
    return P->ph.kind == PH_AR ? 2 * (P->p - 1) : P->p - 1;
}

/* Step s of position i: the ring's step on each half, one half to i+1,
 * the other to i-1 (walking its pieces the other way round). */
static int ring2_step(const net_xphase *P, int i, int s, uint64_t T, net_xstep *o)
{
    int p = P->p;
    net_phase_kind kind = P->ph.kind;
    int rs = kind == PH_RS || (kind == PH_AR && s < p - 1);
    int ss = kind == PH_AR && s >= p - 1 ? s - (p - 1) : s;
    uint64_t h0 = net_piece(T, 2, 0), h1 = net_piece(T, 2, 1);
    o->peer[0] = (i + 1) % p;
    o->bytes[0] = net_piece(h0, (uint64_t)p, (uint64_t)((i - ss % p + p) % p));
    o->peer[1] = (i - 1 + p) % p;
    o->bytes[1] = net_piece(h1, (uint64_t)p, (uint64_t)((i + ss) % p));
    o->nrecv = 2;
    if (rs && P->ph.reduce)
        o->red = (double)(net_piece(h0, (uint64_t)p, (uint64_t)((i - 1 - ss % p + 2 * p) % p)) +
                          net_piece(h1, (uint64_t)p, (uint64_t)((i + 1 + ss) % p)));
    return 2;
}

static const char *const aliases[] = {"bidir", NULL};

const net_algo_ops net_algo_ring2 = {
    .name = "ring2",
    .aliases = aliases,
    .label = "ring2",
    .astra = -1,
    .runs = ring2_runs,
    .time = ring2_time,
    .steps = ring2_steps,
    .step = ring2_step,
};
