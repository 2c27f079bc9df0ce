/*
 * net_int.h: private to network/: the layout of the model and of a group,
 * and the seams between net.c (topology, groups, point-to-point),
 * net_coll.c (the multi-dimension plan of a collective and its analytical
 * time), the algorithms (net_algo.h: one file each, one ops table),
 * net_graph.c (explicit graphs and routing), net_flow.c and
 * net_flow_rerate.c (max-min fair flows), net_sched.c (collectives as step schedules run as flows),
 * net_algo_nccl.c (NCCL's tuner) and net_topo.c (explicit-fabric files,
 * describe).
 *
 * Nothing outside network/ includes this file (tests of network/ do).
 * Formulas and units are written out in docs/MODEL.md; the code cites
 * its sections.
 */
#ifndef LOOM_NET_INT_H
#define LOOM_NET_INT_H

#include "net.h"

/* The table of collective algorithms (net_algo.h). */
typedef struct net_algo_ops net_algo_ops;
/* The table of fabric kinds (net_fabric.h). */
typedef struct net_fabric_ops net_fabric_ops;

/* Warnings printed once per model per dimension, told apart by their
 * format string (net_warn_once): distinct messages, distinct slots. */
#define NET_WARN_SLOTS 16

/* Index used in warned[] for the flat dimension of an irregular group. */
#define NET_FLAT_DIM NET_MAX_DIMS

typedef struct net_graph net_graph;
typedef struct nf nf;

struct net_model {
    net_topo topo;                       /* copy of the caller's topology */
    net_sys sys;                         /* copy of the caller's system */
    int npus;                            /* product of npus over dims */
    int stride[NET_MAX_DIMS];            /* prod of npus below dim d */
    int waves;                           /* W = ceil(splits/active_chunks) */
    struct {
        const char *fmt;                 /* the warning's format string */
        uint32_t dims;                   /* bit d: printed for dimension d */
    } warned[NET_WARN_SLOTS];            /* warnings already printed */
    int nwarned;                         /* slots used */
    int npn;                             /* NPUs per node (hierarchical, NCCL) */
    net_graph *graph;                    /* explicit graph: flow model only */
    nf *flow;                            /* flow state of the bound engine */
    sim_engine *eng;                     /* engine bound by the async API */
    uint64_t p2p_serial;                 /* messages started (ECMP input) */
    void *cache;                         /* net_sched.c: results of
                                            collectives run alone */
    int lockstep_off;                    /* 1: net_sched.c never runs a
                                            lockstep class in bulk (tests
                                            compare both ways) */
};

/* One dimension as a collective phase sees it: a real dimension of the
 * topology restricted to the group's members, or the flat virtual one. */
typedef struct net_vdim {
    net_dim_kind kind; /* shape, decides the hop count */
    int dim;           /* topology dimension, or NET_FLAT_DIM */
    int p;             /* members along it (>= 2 when used) */
    int gap;           /* RING: physical positions per member step */
    int ring_npus;     /* RING: physical ring length, folds hop counts */
    double bw;         /* bytes/s per link direction */
    double lat;        /* ps per hop */
    net_algo impl[NET_IMPL_OPS]; /* algorithm named per op list */
} net_vdim;

struct net_group {
    const net_model *m;          /* the model it was mapped on (not owned) */
    int n;                       /* members */
    int regular;                 /* 1: members form a sub-grid */
    uint32_t span;               /* bit d: p[d] > 1 */
    int p[NET_MAX_DIMS];         /* distinct coordinates per dim */
    int gap[NET_MAX_DIMS];       /* RING dims: see net.c group_gap() */
    net_vdim all;                /* all members as one flat dimension: flat
                                    whole-collective algorithms and groups
                                    that are no sub-grid (section 6) */

    int *ranks;                  /* members, ascending (owned) */
};

/* Hop count of a transfer between members `j` member steps apart on v
 * (j >= 1): FC 1, SWITCH 2, RING the shorter way round.  net.c. */
int net_hops(const net_vdim *v, long j);

/* Fills v from dimension d of m restricted to the group's p and gap. */
void net_vdim_of(const net_model *m, const net_group *g, int d,
                 net_vdim *v);

/* Prints the warning unless the same fmt (the same call site's literal)
 * was printed before for dim. */
void net_warn_once(net_model *m, int dim, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ps from a double, rounded once; aborts when it cannot fit sim_time. */
sim_time net_round_ps(double ps);

/* coord_d(r) */
static inline int net_coord(const net_model *m, int r, int d)
{
    return (r / m->stride[d]) % m->topo.dims[d].npus;
}

/* ---- the plan (net_coll.c): phases of one collective -------------------- */

typedef enum net_phase_kind {
    PH_RS = 0,  /* reduce-scatter: buf is the input */
    PH_AG = 1,  /* all-gather: buf is the output */
    PH_AR = 2,  /* all-reduce: buf in = out */
    PH_A2A = 3, /* all-to-all: buf is each rank's send buffer */
    PH_BARRIER = 4,
} net_phase_kind;

typedef struct net_phase {
    net_vdim v;          /* dimension it runs on */
    net_phase_kind kind; /* shape */
    const net_algo_ops *algo; /* its algorithm, after fallbacks */
    double buf;          /* phase buffer N, bytes (see net_phase_kind) */
    int reduce;          /* 1: pay the local reduction */
} net_phase;

#define NET_MAX_PHASES (2 * NET_MAX_DIMS - 1)

typedef struct net_plan {
    net_phase ph[NET_MAX_PHASES]; /* in execution order */
    int n;                        /* phases used */
    int waves;                    /* W for pipelining (1 for a barrier) */
} net_plan;

/* The phases of `op` on g restricted to dim_mask, honouring sys.calgo
 * (flat algorithms make one phase on g->all); warn: print fallbacks.
 * NET_CALGO_NCCL plans its chosen algorithm (Ring or Tree) flat. */
void net_make_plan(net_model *m, const net_group *g, net_coll op,
                   uint64_t bytes, uint32_t dim_mask, int warn, net_plan *pl);
/* Applies net_sys.eff to a plan of `bytes` (net_eff.c): analytical, each
 * phase's bandwidth x the factor; flow, its buffer / the factor. */
void net_eff_apply(const net_model *m, const net_group *g, net_coll op,
                   uint64_t bytes, uint32_t dim_mask, net_plan *pl);

/* ---- NCCL 2.20's tuner (net_algo_nccl.c) ------------------------------------- */

enum { NET_NCCL_TREE = 0, NET_NCCL_RING = 1 };
enum { NET_NCCL_LL = 0, NET_NCCL_LL128 = 1, NET_NCCL_SIMPLE = 2 };

typedef struct net_nccl_pick {
    int algo;      /* NET_NCCL_TREE or NET_NCCL_RING */
    int proto;     /* NET_NCCL_LL, _LL128, _SIMPLE */
    double lat_us; /* latency term, us */
    double bw;     /* algorithm bandwidth, GB/s (10^9 bytes/s) */
    double time_us;/* lat + nbytes / (1000 bw) */
    int nranks;    /* ranks, nodes and ppn it saw */
    int nnodes;
} net_nccl_pick;

/* NCCL's automatic choice for op on g (0 when the op is in NCCL's tuning
 * table: all-reduce, all-gather, reduce-scatter, broadcast, reduce), or -1
 * when NCCL has no model for it (all-to-all, gather, scatter, barrier). */
int net_nccl_choose(const net_model *m, const net_group *g, net_coll op,
                    uint64_t bytes, net_nccl_pick *out);
const char *net_nccl_algo_name(int a);
const char *net_nccl_proto_name(int p);

/* ---- explicit graph (net_graph.c) --------------------------------------- */

/* Nodes 0..npus-1 are the NPUs (node r is rank r); switches follow.
 * Links are directed; every cable is two links. */
struct net_graph {
    net_xkind kind;      /* what it was built from */
    const net_fabric_ops *fabric; /* its kind's builder and router */
    const net_topo *t;   /* the model's topology (not owned) */
    int npus;            /* NPU nodes */
    int nnodes;          /* NPUs + switches */
    int nlinks;          /* directed links */
    int *lsrc, *ldst;    /* per link: nodes */
    double *lbw;         /* per link: bytes/s */
    sim_time *llat;      /* per link: ps */
    uint8_t *lcls;       /* per link: class (dimension, tier) for reports */
    int ncls;            /* classes used */
    char clsname[NET_MAX_DIMS + NET_X_CLASSES][32]; /* class names */
    int max_hops;        /* longest route, links */
    /* layout, per kind (net_graph.c) */
    int base[NET_MAX_DIMS * 2 + 8]; /* first link id of each link group */
    int nbase[8];                   /* first node id of each switch group */
    int ring_k[NET_MAX_DIMS];       /* RING dims: links per rank (1 or 2) */
    int up1, up2;                   /* fat tree: uplinks per leaf, per agg */
    int *dist;                      /* ns-3: hops to each NPU, [npu * nnodes + node]
                                       (owned; NULL for the other kinds) */
    int *off, *adj;                 /* CSR of out-links (for BFS), built lazily */
};

net_graph *net_graph_build(const net_topo *t, loom_err *err);
void net_graph_destroy(net_graph *g);
/* Route from NPU src to NPU dst (src != dst) as link ids into out[] (room
 * for g->max_hops); hash picks among equal-cost paths (ECMP).  Returns the
 * number of links. */
int net_graph_route(const net_graph *g, int src, int dst, uint64_t hash,
                    uint32_t *out);
void net_graph_node_name(const net_graph *g, int node, char *buf, size_t sz);
/* Checks connectivity and routes; fails naming the file. */
int net_graph_check(net_graph *g, loom_err *err);
void net_graph_csr(net_graph *g);

/* splitmix64: the ECMP hash of a flow */
static inline uint64_t net_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* ---- flows (net_flow.c) -------------------------------------------------- */

/* Called once a flow's last byte has arrived (drain + path latency +
 * extra delay).  a, b: the starter's words. */
typedef void (*nf_cb)(sim_engine *eng, void *ctx, uint64_t a, uint64_t b);

nf *nf_create(const net_graph *g);
void nf_destroy(nf *f);
/* Starts a flow of `bytes` from NPU src to NPU dst now; the completion
 * comes `delay` ps after its last byte arrives.  ECMP picks its path from
 * a hash of (src, dst, b).  src == dst or bytes == 0:
 * no links, the callback runs after the path latency plus delay. */
void nf_start(nf *f, sim_engine *eng, int src, int dst, uint64_t bytes,
              sim_time delay, nf_cb cb, void *ctx, uint64_t a, uint64_t b);
/* Calls cb(eng, ctx, a, b) at time t (>= now), in the same batch as the
 * flows' completions and deliveries due then (one engine event per time;
 * net_flow.c, "Same-time batching"). */
void nf_at(nf *f, sim_engine *eng, sim_time t, nf_cb cb, void *ctx, uint64_t a, uint64_t b);
void nf_totals(const nf *f, net_flow_totals *out);
int nf_top_links(const nf *f, const net_graph *g, net_link_stat *out, int n);
/* Test hooks: current rate (bytes/s) of every flow in flight, in start
 * order, and the links of each (for the fair-share checks). */
size_t nf_in_flight(const nf *f);
/* on: every re-rate scans each link in order (net_flow_sum.c nf_scan_fixed's
 * shortcut off); returns the links the shortcut settled so far. */
uint64_t nf_scan_inorder(nf *f, int on);
/* steps > 0: a re-rate first tries the growing region, for at most that
 * many fills (NF_GROW_STEPS by default; net_flow_rerate.c); 0: the whole
 * component every time.  Its outcomes are in nf_totals (region_*). */
void nf_grow(nf *f, int steps);
enum { NF_GROW_STEPS = 6 };
/* At most cap rate levels in each link's summary (net_flow_int.h, "Link
 * summaries"; NF_LVMAX unless a test asks for fewer to reach its bound). */
void nf_level_cap(nf *f, uint32_t cap);
/* Checks every link's list (its flows at the positions their hops record,
 * its holes chained; net_flow.c's invariants) and summary (net_flow_int.h,
 * "Link summaries") against its flows, slowly: 0, or -1 - the first link
 * that fails. */
int nf_check_links(const nf *f);
/* Lists move to the buddy allocator's 2 MiB pages once all lists hold
 * ents entries (NF_POOL_FROM unless a test asks for 0: at once). */
void nf_pool_from(nf *f, uint64_t ents);
/* Lists closed up so far (compact(): a re-rate about to read a list that
 * is more than half holes). */
uint64_t nf_compactions(const nf *f);
/* Starter entries some flow holds (nf_starter; 0 once every flow ended,
 * delivered or run in bulk by a lockstep class). */
uint32_t nf_starters_held(const nf *f);
void nf_snapshot(const nf *f, double *rate, int *npath, uint32_t *links,
                 size_t max_links);

/* Lockstep classes (net_flow_lock.c): a collective whose members all
 * send one flow per step, each alone on its links, runs in bulk
 * once nothing else is left in the simulation.  The collective offers its
 * class when its first step starts; at the re-rate after that, if the engine holds no other
 * event, the flow model asks hook, which checks the members' remaining
 * steps and either calls nf_lock_run and returns 1, or returns 0. */
typedef int (*nf_lock_hook)(nf *f, sim_engine *eng, void *ctx);
void nf_lock_offer(nf *f, nf_lock_hook hook, void *ctx);
/* The flows in flight, when they can be a class: each fresh (not yet
 * rated), alone on every link of its path, from cb and ctx, of the same
 * bytes, rate (their narrowest link) and path latency (> 0).  Returns how
 * many (their words a[] in start order, room for nf_in_flight), else 0. */
size_t nf_lock_flows(const nf *f, nf_cb cb, const void *ctx, uint64_t *a, uint64_t *bytes,
                     double *rate, sim_time *tail);
/* Runs the class: the flows in flight are its step 0, nsteps steps in all,
 * step s of bytes[s] per flow, on the same links, the members waiting
 * delay[s] after it; fin(eng, ctx) comes when the last member would have
 * finished.  Every engine event of the flows it stands for happens at its
 * time, in its order, so the engine's counts do not change. */
void nf_lock_run(nf *f, sim_engine *eng, size_t nsteps, const uint64_t *bytes,
                 const sim_time *delay, void (*fin)(sim_engine *eng, void *ctx), void *ctx);
/* Classes run in bulk so far (a test hook). */
uint64_t nf_lock_runs(const nf *f);
/* 1 when routes do not depend on the ECMP hash (one path per pair). */
int net_graph_route_fixed(const net_graph *g);

/* ---- collectives as flows (net_sched.c) ---------------------------------- */

void net_sched_coll(net_model *m, sim_engine *eng, const net_group *g,
                    net_coll op, uint64_t bytes, uint32_t dim_mask,
                    net_done_fn done, void *ctx);
/* net_coll_time() of the flow model: the collective alone on a fresh
 * fabric, run on a private engine. */
sim_time net_sched_coll_alone(net_model *m, const net_group *g, net_coll op,
                              uint64_t bytes, uint32_t dim_mask);
sim_time net_sched_p2p_alone(net_model *m, int src, int dst, uint64_t bytes);
void net_sched_p2p(net_model *m, sim_engine *eng, int src, int dst,
                   uint64_t bytes, net_done_fn done, void *ctx);
/* Makes sure m->graph and m->flow exist and m is bound to eng. */
void net_flow_bind(net_model *m, sim_engine *eng);

#endif
