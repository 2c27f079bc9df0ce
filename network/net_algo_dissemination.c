/*
 * net_algo_dissemination.c: the barrier's algorithm (docs/MODEL.md 5
 * "dissemination barrier"):
 * ceil(log2 p) steps of 0 bytes, partner 2^k member steps away; W = 1, so
 * a step is h*L + delta.  Every barrier phase runs it whatever the lists
 * or the whole-collective choice say, so it has no name to be chosen by
 * and is not in the table (net_algos.def).
 */
#include "net_algo.h"

static double dissemination_time(const net_phase *ph, const net_cost *c)
{
    double t = 0;
    for (int dist = 1; dist < ph->v.p; dist *= 2)
        t += net_step(&ph->v, c, net_hops(&ph->v, dist), 0, 0);
    return t;
}

static int dissemination_steps(const net_xphase *P) { return net_ceil_log2(P->p); }

static int dissemination_step(const net_xphase *P, int i, int s, uint64_t T, net_xstep *o)
{
    (void)T;
    o->peer[0] = (i + (1 << s)) % P->p; /* 0 bytes to i + 2^s */
    o->bytes[0] = 0;
    o->nrecv = 1;
    return 1;
}

const net_algo_ops net_algo_dissemination = {
    .name = "dissemination",
    .label = "dissemination",
    .astra = -1,
    .time = dissemination_time,
    .steps = dissemination_steps,
    .step = dissemination_step,
};
