/*
 * net_algo_ring.c: the ring (ASTRA-sim's "ring", "oneRing"; docs/MODEL.md
 * 5 "ring", NETWORK.md 4.2): p-1 steps to the next member, N/p each; an
 * all-reduce is a reduce-scatter then an all-gather, an all-to-all relays
 * its pieces round the ring in p(p-1)/2 steps.  It runs every phase, so it
 * is also what the plan falls back to when another algorithm has no form
 * for one.
 */
#include "net_algo.h"

static double ring_time(const net_phase *ph, const net_cost *c)
{
    const net_vdim *v = &ph->v;
    double p = v->p, m = ph->buf / p;
    int h = net_hops(v, 1);
    switch (ph->kind) {
    case PH_RS: return (p - 1) * net_step(v, c, h, m, ph->reduce ? m : 0);
    case PH_AG: return (p - 1) * net_step(v, c, h, m, 0);
    case PH_AR:
        return (p - 1) * (net_step(v, c, h, m, ph->reduce ? m : 0) + net_step(v, c, h, m, 0));
    case PH_A2A: return p * (p - 1) / 2 * net_step(v, c, h, m, 0);
    case PH_BARRIER: break;
    }
    LOOM_ASSERT(0);
    return 0;
}

static int ring_steps(const net_xphase *P)
{
    int p = P->p;
    switch (P->ph.kind) {
    case PH_RS:
    case PH_AG: return p - 1;
    case PH_AR: return 2 * (p - 1);
    case PH_A2A: return p * (p - 1) / 2;
    case PH_BARRIER: break;
    }
    LOOM_ASSERT(0);
    return 0;
}

/* Step s of position i: one piece to i+1.  In the reduce-scatter half
 * the piece is the one i reduced last step (i - s), reduced again by the
 * receiver; in the all-gather half it is passed on unchanged. */
static int ring_step(const net_xphase *P, int i, int s, uint64_t T, net_xstep *o)
{
    int p = P->p;
    net_phase_kind kind = P->ph.kind;
    int rs = kind == PH_RS || (kind == PH_AR && s < p - 1);
    int ss = kind == PH_AR && s >= p - 1 ? s - (p - 1) : s;
    o->peer[0] = (i + 1) % p;
    o->nrecv = 1;
    if (kind == PH_A2A) {
        o->bytes[0] = net_piece(T, (uint64_t)p, (uint64_t)((i + s) % p));
        return 1;
    }
    o->bytes[0] = net_piece(T, (uint64_t)p, (uint64_t)((i - ss % p + p) % p));
    if (rs && P->ph.reduce)
        o->red = (double)net_piece(T, (uint64_t)p, (uint64_t)((i - 1 - ss % p + 2 * p) % p));
    return 1;
}

static const char *const astra_names[] = {"ring", "oneRing", NULL};

const net_algo_ops net_algo_ring = {
    .name = "ring",
    .label = "ring",
    .astra = NET_ALGO_RING,
    .astra_names = astra_names,
    .time = ring_time,
    .steps = ring_steps,
    .step = ring_step,
};
