/*
 * net_algo_direct.c: direct (ASTRA-sim's "direct", "oneDirect",
 * "direct<N>"; docs/MODEL.md 5 "direct",
 * NETWORK.md 4.3): one step to every peer at once.  The
 * busiest link carries
 *   FC: N/p (own link per pair); SWITCH: (p-1)N/p (one uplink);
 *   RING: (N/p) * s(s+1)/2 with s = floor(p/2) (shortest paths, ties
 *   clockwise), over s member steps.
 */
#include "net_algo.h"

#include <limits.h>
#include <string.h>

static double direct_time(const net_phase *ph, const net_cost *c)
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
     * N/p, (p+1)·N/p bytes of memory traffic.  net_step() charges 3 bytes
     * per reduced byte (the two-operand pass of ring steps), so pass a
     * third. */
    double red = ph->reduce ? (p + 1) * N / (3 * p) : 0;
    switch (ph->kind) {
    case PH_RS: return net_step(v, c, h, m, red);
    case PH_AG:
    case PH_A2A: return net_step(v, c, h, m, 0);
    case PH_AR: return net_step(v, c, h, m, red) + net_step(v, c, h, m, 0);
    case PH_BARRIER: break;
    }
    LOOM_ASSERT(0);
    return 0;
}

static int direct_steps(const net_xphase *P) { return P->ph.kind == PH_AR ? 2 : 1; }

static int direct_step(const net_xphase *P, int i, int s, uint64_t T, net_xstep *o)
{
    int p = P->p, ns = 0;
    net_phase_kind kind = P->ph.kind;
    int rs = kind == PH_RS || (kind == PH_AR && s == 0);
    for (int j = 0; j < p; j++) {
        if (j == i)
            continue;
        o->peer[ns] = j;
        /* RS, A2A: the piece for j; AG (and AR's second step): my own */
        o->bytes[ns++] = net_piece(T, (uint64_t)p, (uint64_t)(rs || kind == PH_A2A ? j : i));
    }
    o->nrecv = p - 1;
    if (rs && P->ph.reduce) /* one p-way pass: (p+1)T/p bytes of traffic */
        o->red = (p + 1) * (double)T / (3.0 * p);
    return ns;
}

/* "direct<N>": ASTRA-sim's window of N concurrent transfers.  The
 * contention-free model has nothing for a window to limit, so N is
 * checked (a positive integer) and then not kept. */
static int direct_window(const char *name)
{
    if (strncmp(name, "direct", 6) != 0)
        return 0;
    const char *s = name + 6;
    long w = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        w = w * 10 + (*s - '0');
        if (w > INT_MAX)
            return 0;
    }
    return *s == '\0' && s != name + 6 && w >= 1;
}

static const char *const astra_names[] = {"direct", "oneDirect", NULL};

const net_algo_ops net_algo_direct = {
    .name = "direct",
    .label = "direct",
    .astra = NET_ALGO_DIRECT,
    .astra_names = astra_names,
    .astra_parse = direct_window,
    .time = direct_time,
    .steps = direct_steps,
    .step = direct_step,
};
