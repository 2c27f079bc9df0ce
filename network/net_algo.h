/*
 * net_algo.h: private to network/: what a collective algorithm is.
 *
 * Each algorithm lives in one file, net_algo_<name>.c, exporting one const
 * net_algo_ops: the names it answers to, which phases it can run (and so
 * when the plan falls back to ring), its closed form (the analytical
 * model, docs/MODEL.md 5 and NETWORK.md 4) and its step plan (the flow
 * model: net_sched.c runs the steps as flows).  Whole-collective choices
 * that are no phase algorithm of their own (the per-dimension lists,
 * hierarchical, NCCL's tuner) are entries of the same table with a
 * force() hook instead of a closed form.
 *
 * net_algos.def lists the table, one line per entry, in net_calgo order;
 * net_algo.c builds it and derives every name lookup and parser from it
 * (net_algo_name/parse, net_calgo_name/parse).  Adding an algorithm is one
 * new file plus one line there (and its line in network/meson.build).
 *
 * The ops are static data: nothing to free.  An algorithm's setup() may
 * allocate per-phase state for the flow model; its teardown() frees it.
 */
#ifndef LOOM_NET_ALGO_H
#define LOOM_NET_ALGO_H

#include "net_int.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Per-collective constants of the step formula (net_coll.c fills them). */
typedef struct net_cost {
    double W;     /* waves */
    double delta; /* endpoint delay, ps */
    double M;     /* local memory bandwidth, bytes/s */
    int astra;    /* ASTRA-sim's rounding (net_sys.astra_timing) */
} net_cost;

/* Whole ns below x ps, in ps (ASTRA-sim's cycles are integer ns). */
static inline double net_floor_ns(double ps) { return floor(ps / 1e3) * 1e3; }

/* One step moving m bytes over `hops` hops and reducing red bytes:
 *     W*(h*L + delta) + m/B + 3*red/M
 * latency and endpoint delay once per wave, bandwidth and reduction once
 * on the whole data (a reduction reads two operands and writes one).
 * ASTRA-sim's analytical backend instead truncates each chunk's
 * serialization, and each of the reduction's three passes, to whole ns:
 *     W*(h*L + delta) + W*floor(m/(W B)) + 3 W*floor(red/(W M))
 * (it reproduces every number ASTRA-sim printed on the fixtures,
 * test/network/test_analytical.c). */
static inline double net_step(const net_vdim *v, const net_cost *c, int hops, double m,
                              double red)
{
    if (c->astra)
        return c->W * (hops * v->lat + c->delta + net_floor_ns(m * 1e12 / v->bw / c->W) +
                       3.0 * net_floor_ns(red * 1e12 / c->M / c->W));
    return c->W * (hops * v->lat + c->delta) + m * 1e12 / v->bw + 3.0 * red * 1e12 / c->M;
}

static inline int net_is_pow2(int p) { return p > 0 && (p & (p - 1)) == 0; }

/* floor(log2 n), n >= 1 */
static inline int net_ilog2(long long n)
{
    int k = 0;
    while (n >>= 1)
        k++;
    return k;
}

/* ceil(log2 p), p >= 1 */
static inline int net_ceil_log2(int p)
{
    int k = 0;
    while ((1 << k) < p)
        k++;
    return k;
}

/* The k-th of p nearly equal pieces of T bytes; the pieces sum to T. */
static inline uint64_t net_piece(uint64_t T, uint64_t p, uint64_t k)
{
    if (T % p == 0) /* equal pieces, the usual case: one division (the % shares it) */
        return T / p;
    if (T <= UINT32_MAX && k < UINT32_MAX) /* the products fit in 64 bits: the same, faster */
        return T * (k + 1) / p - T * k / p;
    unsigned __int128 a = (unsigned __int128)T * (k + 1) / p;
    unsigned __int128 b = (unsigned __int128)T * k / p;
    return (uint64_t)(a - b);
}

/* A phase as the flow model runs it (net_sched.c fills all but priv). */
typedef struct net_xphase {
    net_phase ph;  /* from the plan */
    int p;         /* members per line */
    int steps;     /* steps per wave (the algorithm's steps()) */
    int dim;       /* topology dimension or NET_FLAT_DIM */
    int stride;    /* stride of dim */
    int *coords;   /* dim phases: the group's coordinates, ascending */
    int *pos_of;   /* dim phases: coordinate -> position, -1 if absent */
    uint64_t buf;  /* phase buffer, bytes (rounded) */
    void *priv;    /* the algorithm's own (setup/teardown), else NULL */
} net_xphase;

/* What one member does in one step: the step() hook's out-parameters.
 * The caller zeroes nrecv and red and gives peer/bytes room for p. */
typedef struct net_xstep {
    int *peer;       /* OUT: positions sent to */
    uint64_t *bytes; /* OUT: bytes per send */
    int nrecv;       /* OUT: receives the step waits for */
    double red;      /* OUT: bytes reduced after the step (time 3r/M) */
} net_xstep;

struct net_algo_ops {
    /* names */
    const char *name;               /* net_calgo_name(): loom compare's word */
    const char *const *aliases;     /* more words net_calgo_parse() takes, NULL-ended */
    const char *label;              /* net_algo_name(), net_coll_label(); NULL:
                                       no phase algorithm of its own */
    int astra;                      /* its net_algo in ASTRA-sim's lists, -1: none */
    const char *const *astra_names; /* names net_algo_parse() takes, NULL-ended */
    int (*astra_parse)(const char *name); /* 1: another spelling it takes
                                             ("direct8"); may be NULL */

    /* as a whole-collective choice (sys.calgo); NULL: this phase algorithm
     * on every phase, all members as one flat dimension */
    const net_algo_ops *(*force)(const net_model *m, const net_group *g, net_coll op,
                                 uint64_t bytes, int *flat /* OUT */);
    /* the analytical model's whole-collective shortcut: 1 and *out when
     * it times op itself, 0 to run the plan; may be NULL */
    int (*coll_time)(net_model *m, const net_group *g, net_coll op, uint64_t bytes,
                     uint32_t mask, sim_time *out);
    /* the analytical model's label when the shortcut applies: 1 when it
     * wrote buf; may be NULL */
    int (*coll_label)(net_model *m, const net_group *g, net_coll op, uint32_t mask, char *buf,
                      size_t sz);

    /* as a phase algorithm (all NULL for pure choices) */
    /* 0: no form for this phase, the plan uses ring (warned once when
     * warn); 1: runs it.  inner: the phase is a lower RS/AG phase of an
     * all-reduce-like op.  NULL: runs every phase kind. */
    int (*runs)(net_model *m, const net_vdim *v, net_phase_kind kind, net_coll op, int inner,
                int warn);
    double (*time)(const net_phase *ph, const net_cost *c); /* closed form, ps */
    int (*steps)(const net_xphase *P);                       /* steps per wave */
    /* sends of position i in step s of a wave of T bytes; returns how many */
    int (*step)(const net_xphase *P, int i, int s, uint64_t T, net_xstep *out);
    void (*setup)(net_xphase *P);    /* per-phase state into P->priv; may be NULL */
    void (*teardown)(net_xphase *P); /* frees P->priv; may be NULL */
};

/* The table (net_algo.c), indexed by net_calgo; every entry non-NULL. */
extern const net_algo_ops *const net_algos[NET_CALGOS];

#define NET_ALGO(id, ops) extern const net_algo_ops ops;
#include "net_algos.def"
#undef NET_ALGO

/* The barrier's algorithm: no name to choose it by, so not in the table. */
extern const net_algo_ops net_algo_dissemination;

/* The entry of whole-collective choice a (a < NET_CALGOS). */
static inline const net_algo_ops *net_calgo_ops(net_calgo a) { return net_algos[a]; }

/* The phase algorithm ASTRA-sim's list value a names (a < NET_ALGOS). */
const net_algo_ops *net_algo_ops_of(net_algo a);

/* "dimension 2" or "the flat dimension (all members as one)", for
 * warnings; returns buf. */
const char *net_dim_label(int dim, char *buf, size_t sz);

#endif
