/*
 * net.h: the network as replay sees it: topologies, collective algorithms
 * and two transport models behind one interface:
 *   analytical  alpha-beta per hop, contention-free, closed forms
 *               (docs/MODEL.md);
 *   flow        every transfer a flow on a routed path of an explicit
 *               graph; flows share link bandwidth max-min fairly and are
 *               re-rated on every arrival and departure (docs/NETWORK.md).
 * The model is chosen by net_sys.model; the topology is either ASTRA-sim's
 * multi-dimensional form (net_topo.dims) or an explicit fabric described
 * by net_topo.x (fat-tree, rail-optimized, torus, dragonfly; net_topo.h).
 *
 * Units at this interface: bytes, picoseconds (sim_time), bytes per second.
 * ASTRA-sim's files say "GB/s" meaning 2^30 bytes/s for network bandwidth
 * and 10^9 bytes/s for memory; core/config converts before filling these
 * structs, so nothing here knows about GB.
 *
 * Rank r's coordinate in dimension d (dimension 0 varies fastest):
 *     coord_d(r) = (r / (npus_0 * ... * npus_{d-1})) % npus_d
 *
 * Ownership: net_model_create() copies what it needs from its arguments;
 * the caller frees the model with net_model_destroy().
 */
#ifndef LOOM_NET_H
#define LOOM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "err.h"
#include "simtime.h"

#define NET_MAX_DIMS 8

typedef enum net_dim_kind {
    NET_RING = 0,            /* bidirectional ring: neighbour links */
    NET_FULLY_CONNECTED = 1, /* a link between every pair */
    NET_SWITCH = 2,          /* every NPU one link to one switch */
} net_dim_kind;
#define NET_DIM_KINDS 3 /* kinds above (a macro: switches stay exhaustive) */

/* "Ring", "FullyConnected", "Switch" (ASTRA-sim's topology names), indexed
 * by kind; the name of k, or "?" when out of range. */
extern const char *const net_dim_kind_names[NET_DIM_KINDS];
const char *net_dim_kind_name(net_dim_kind k);

typedef struct net_dim {
    net_dim_kind kind; /* shape of this dimension */
    int npus;          /* NPUs along it (>= 1) */
    double bw;         /* link bandwidth per direction, bytes/s (> 0) */
    sim_time latency;  /* per-hop link latency, ps (>= 0) */
} net_dim;

/* Explicit fabrics (docs/NETWORK.md section 3).  NET_X_DIMS is
 * ASTRA-sim's multi-dimensional form, described by net_topo.dims alone.
 * The values and what each is come from network/net_fabrics.def, the
 * table of fabric kinds (one line each: NET_X_DIMS 0, _FAT_TREE, _RAIL,
 * _TORUS, _DRAGONFLY 4, then any appended). */
typedef enum net_xkind {
#define NET_FABRIC(id, ops) NET_X_##id,
#include "net_fabrics.def"
#undef NET_FABRIC
    NET_XKINDS
} net_xkind;

/* One class of links of an explicit fabric (which class is which depends on
 * the kind; net_topo.h lists them). */
typedef struct net_link_class {
    double bw;        /* bytes/s per direction (> 0) */
    sim_time latency; /* ps per link (>= 0) */
} net_link_class;

#define NET_X_CLASSES 4

/* What NCCL's tuner needs to know of the hardware (docs/NETWORK.md 5). */
typedef struct net_nccl_hw {
    int channels; /* NCCL channels (1..64); 0: default 16 */
    int gpu_arch; /* compute capability: 70 Volta, 80 Ampere, 90 Hopper; 0: 90 */
    int cpu_amd;  /* 1: AMD host CPUs (NCCL's LL caps and net overhead differ) */
    int pci;      /* 1: GPUs of a node talk over PCIe, not NVLink */
    int ll128;    /* 0: NCCL's default rule, 1: on, -1: off */
} net_nccl_hw;

typedef struct net_xtopo {
    net_xkind kind;         /* NET_X_DIMS: dims[] says everything */
    char file[256];         /* file it came from, for messages ("" if none) */
    int npus;               /* ranks (explicit kinds) */
    int npus_per_node;      /* GPUs per node: "node" of hierarchical and NCCL
                               (0: the kind's own default) */
    /* fat tree */
    int tiers;              /* 2 or 3 */
    int hosts_per_leaf;     /* NPU ports of a leaf switch */
    int leaves_per_pod;     /* 3 tiers: leaves under one set of aggregation switches */
    double oversub[2];      /* leaf, aggregation: down:up port ratio (>= 1) */
    /* rail-optimized */
    int nodes;              /* servers */
    int gpus_per_node;      /* GPUs per server = rails */
    /* dragonfly */
    int groups;             /* groups */
    int routers;            /* routers per group */
    int hosts_per_router;   /* NPUs per router */
    int globals_per_router; /* global ports per router */
    /* ns-3 topology file (file above names it; net_fabric_ns3.c) */
    int ns3_nodes;          /* nodes: NPUs and switches */
    int ns3_links;          /* cables (two directed links each) */
    double ns3_bw;          /* its view's bandwidth (bytes/s) and latency (ps), */
    sim_time ns3_lat;       /*   kept so later views need not read it again */
    uint64_t ns3_digest;    /* of its cables, so the graph's read can tell a change */
    int nlogical;           /* logical dims given (0: one of all NPUs) */
    int logical[NET_MAX_DIMS]; /* --logical-topology-configuration's dims */
    net_link_class cls[NET_X_CLASSES]; /* per link class, see net_topo.h */
    net_nccl_hw nccl;       /* hardware facts for the NCCL cost mode */
} net_xtopo;

typedef struct net_topo {
    int ndims;                 /* 1..NET_MAX_DIMS */
    net_dim dims[NET_MAX_DIMS];/* dimension 0 first (fastest varying); for an
                                  explicit fabric, its contention-free view
                                  (filled by net_model_create) */
    net_xtopo x;               /* explicit fabric; x.kind == NET_X_DIMS (0)
                                  for ASTRA-sim's form */
} net_topo;

/* Collective algorithms, one per dimension (ASTRA-sim's names). */
typedef enum net_algo {
    NET_ALGO_RING = 0,    /* "ring", "oneRing" */
    NET_ALGO_DIRECT = 1,  /* "direct", "oneDirect", "directN" */
    NET_ALGO_HD = 2,      /* "halvingDoubling", "oneHalvingDoubling" */
    NET_ALGO_DBT = 3,     /* "doubleBinaryTree" */
    NET_ALGOS = 4,
} net_algo;

/* Which implementation list an operation reads (ASTRA-sim's
 * all-reduce-implementation, all-gather-..., reduce-scatter-..., all-to-all-...). */
typedef enum net_impl_op {
    NET_IMPL_ALL_REDUCE = 0,
    NET_IMPL_ALL_GATHER = 1,
    NET_IMPL_REDUCE_SCATTER = 2,
    NET_IMPL_ALL_TO_ALL = 3,
    NET_IMPL_OPS = 4,
} net_impl_op;

/* Which transport model runs the transfers (system key network-model). */
typedef enum net_model_kind {
    NET_MODEL_ANALYTICAL = 0, /* closed forms, no contention (default) */
    NET_MODEL_FLOW = 1,       /* flows, max-min fair sharing of links */
} net_model_kind;

/* A whole-collective algorithm choice that replaces the per-dimension
 * implementation lists (what `loom compare --algorithms` selects).  The
 * flat ones run over all members of the group as one dimension.  The
 * values and what each is come from network/net_algos.def, the table of
 * algorithms (one line each: NET_CALGO_LISTS 0, _RING, _RING2, _DIRECT,
 * _HD, _DBT, _HIER, _STAGGER, _NCCL 8, then any appended). */
typedef enum net_calgo {
#define NET_ALGO(id, ops) NET_CALGO_##id,
#include "net_algos.def"
#undef NET_ALGO
    NET_CALGOS
} net_calgo;

typedef struct net_sys {
    net_algo impl[NET_IMPL_OPS][NET_MAX_DIMS]; /* algorithm per op per dim */
    int splits;             /* preferred-dataset-splits: chunks (>= 1) */
    int active_chunks;      /* active-chunks-per-dimension (>= 1) */
    sim_time endpoint_delay;/* endpoint-delay: per step, ps (>= 0) */
    double local_mem_bw;    /* local-mem-bw: bytes/s, for reductions (> 0) */
    net_model_kind model;   /* network-model: analytical (0) or flow */
    net_calgo calgo;        /* NET_CALGO_LISTS (0): the impl lists above */
    int astra_timing;       /* timing: astra-sim: the analytical model rounds as
                             * ASTRA-sim does (net_algo.h, docs/MODEL.md 9) */
    uint8_t eff[NET_MAX_DIMS]; /* comm-efficiency: achieved-bandwidth curve per
                                * dimension (net_eff.c); 0 (none): link rate */
    int ag_descending;      /* all-gather-order: descending: an all-gather's
                             * phases run from the outermost dimension in
                             * (docs/MODEL.md 7); 0: ascending, ASTRA-sim's */
    double phase_overlap;   /* phase-overlap: fraction of a collective's other
                             * phases' transfer time hidden behind its
                             * slowest phase's, 0..1 (docs/MODEL.md 7); 0:
                             * phases in turn, ASTRA-sim's */
} net_sys;


/* Collective operation (same values as Chakra's CollectiveCommType). */
typedef enum net_coll {
    NET_ALL_REDUCE = 0,
    NET_REDUCE = 1,
    NET_ALL_GATHER = 2,
    NET_GATHER = 3,
    NET_SCATTER = 4,
    NET_BROADCAST = 5,
    NET_ALL_TO_ALL = 6,
    NET_REDUCE_SCATTER = 7,
    NET_REDUCE_SCATTER_BLOCK = 8,
    NET_BARRIER = 9,
    NET_COLLS = 10,
} net_coll;

typedef struct net_model net_model;

net_model *net_model_create(const net_topo *topo, const net_sys *sys,
                            loom_err *err);
void net_model_destroy(net_model *m);

int net_npus(const net_model *m); /* product of npus over dimensions */
/* The NPUs a model of topo would have, or a negative LOOM_E* code (err
 * set) when net_model_create() would refuse the topology; allocates
 * nothing, so callers can check inputs against it first. */
int net_topo_npus(const net_topo *topo, loom_err *err);

/* A communicator mapped onto the topology: which dimensions its members
 * span and how many distinct coordinates (members) it has in each.
 * ranks: ascending, distinct, each < net_npus(m); n >= 1.  Fails with
 * LOOM_EUSAGE naming the offending rank when one is out of range. */
typedef struct net_group net_group;
net_group *net_group_create(net_model *m, const int *ranks, int n,
                            loom_err *err);
void net_group_destroy(net_group *g);

/* Time for one collective of `bytes` per rank (the Chakra comm_size; see
 * docs/MODEL.md for what it means per operation) in group g, restricted to
 * the dimensions set in dim_mask (bit d = dimension d).  All members start
 * together and finish together.  A group of one rank, or a group that
 * spans no selected dimension, takes 0.  Never fails.  Flow model: the
 * collective run alone on an idle fabric (no other transfer in flight);
 * net_coll_start() is the one that shares links with others. */
sim_time net_coll_time(net_model *m, const net_group *g, net_coll op,
                       uint64_t bytes, uint32_t dim_mask);

/* The algorithms that net_coll_time() used, for reports, e.g.
 * "ring@0+direct@1", "ring2@flat"; "nccl(size-dependent)" for the NCCL cost
 * mode, whose choice depends on the size; writes at most sz bytes
 * including the NUL. */
void net_coll_label(net_model *m, const net_group *g, net_coll op,
                    uint32_t dim_mask, char *buf, size_t sz);

/* Time for a point-to-point message of `bytes` from src to dst
 * (dimension-order route), from the send's start to its arrival.  Flow
 * model: the message alone on an idle fabric. */
sim_time net_p2p_time(net_model *m, int src, int dst, uint64_t bytes);

/* ---- asynchronous interface: both models ------------------------------
 *
 * Replay creates its engine with payloads of at least NET_EV_PAYLOAD_MAX
 * bytes; the network's events carry their own context in the payload and
 * never read the engine-wide ctx.  A model is bound to the first engine it
 * is started on; starting it on another engine aborts.
 */
#define NET_EV_PAYLOAD_MAX 32

typedef void (*net_done_fn)(sim_engine *eng, void *ctx);

/* Starts a collective now on eng; calls done(eng, ctx) once, when the last
 * member finishes.  Analytical: one event at now + net_coll_time().  Flow:
 * the algorithm's steps run as flows that share links with every other
 * transfer in flight on this model. */
void net_coll_start(net_model *m, sim_engine *eng, const net_group *g,
                    net_coll op, uint64_t bytes, uint32_t dim_mask,
                    net_done_fn done, void *ctx);
/* Starts a message now; calls done(eng, ctx) once, when it has arrived. */
void net_p2p_start(net_model *m, sim_engine *eng, int src, int dst,
                   uint64_t bytes, net_done_fn done, void *ctx);

/* ---- custom collectives (net_algo_custom.c) ---------------------------
 *
 * A collective algorithm given as a plan: per member, a DAG of sends,
 * receives and compute steps (ASTRA-sim's `*-implementation-custom`, a
 * Chakra trace per member; core/sim turns those into this, so nothing
 * here knows the trace format).  Members are positions in the
 * collective's group; peers name positions too.
 */
typedef enum net_pkind { NET_PSEND, NET_PRECV, NET_PCOMP } net_pkind;

typedef struct net_pnode {
    net_pkind kind;
    int peer;        /* SEND: destination position; RECV: source position */
    int tag;         /* SEND/RECV: matched by (source, destination, tag) */
    uint64_t bytes;  /* SEND/RECV: bytes at the plan's size */
    sim_time dur;    /* COMP: its time, ps */
    uint32_t dep;    /* deps[dep .. dep+ndeps): this member's earlier nodes */
    uint32_t ndeps;
} net_pnode;

typedef struct net_cplan {
    char *name;       /* for labels: "custom(NAME)" */
    int members;      /* positions 0 .. members-1 */
    uint32_t *first;  /* member m's nodes: nodes[first[m] .. first[m+1]) */
    net_pnode *nodes;
    uint32_t *deps;   /* indices into the member's own nodes */
    uint64_t bytes;   /* the collective size (comm_size) the plan moves */
} net_cplan;

void net_cplan_free(net_cplan *p);

/* Runs plan p now for the members ranks[0 .. p->members) (ranks[i] is
 * position i), every send's bytes times `bytes / p->bytes` (rounded to
 * the byte); sends go through net_p2p_start (so the flow model shares
 * links), compute steps take their time.  done(eng, ctx) once, when every
 * node of every member has finished.  ranks is copied. */
void net_cplan_start(net_model *m, sim_engine *eng, const net_cplan *p, const int *ranks,
                    uint64_t bytes, net_done_fn done, void *ctx);

/* ---- link statistics (flow model) ------------------------------------- */

typedef struct net_link_stat {
    int link;            /* link id */
    char name[64];       /* "npu3->leaf0", "sw(d1,l2)->npu9", ... */
    double bw;           /* bytes/s */
    uint64_t bytes;      /* bytes of finished flows that crossed it */
    sim_time busy;       /* time with at least one flow on it, ps */
    sim_time saturated;  /* time its flows used all of its bandwidth, ps */
    uint32_t peak_flows; /* most flows at once */
} net_link_stat;

/* Totals of the flow model since creation (all zero for analytical). */
typedef struct net_flow_totals {
    uint64_t flows;          /* flows started */
    uint64_t bytes_sent;     /* bytes of flows started */
    uint64_t bytes_delivered;/* bytes of flows delivered */
    uint64_t rerates;        /* rate recomputations (one per batch of changes) */
    uint64_t rerated_flows;  /* flows visited by those recomputations */
    uint64_t region_rerates; /* of them, settled by a growing region */
    uint64_t region_fills;   /* progressive fillings the regions took */
    uint64_t region_fallbacks; /* regions given back to the whole component */
    size_t peak_flows;       /* most flows in flight at once */
    int links;               /* directed links of the graph */
} net_flow_totals;

void net_flow_totals_get(const net_model *m, net_flow_totals *out);
/* The n most congested links (by saturated time, then busy time, then
 * bytes), most congested first, into out[0..); returns how many were
 * written (links that never carried a byte are left out). */
int net_top_links(const net_model *m, net_link_stat *out, int n);

/* Short label of a whole-collective algorithm ("ring", "hierarchical", ...)
 * and its parser (also accepts "hd", "dbt", "ring2", "stagger", "lists"). */
const char *net_calgo_name(net_calgo a);
int net_calgo_parse(const char *name, net_calgo *out);

/* Short algorithm label for reports, e.g. "ring" or "ring+direct". */
const char *net_algo_name(net_algo a);
/* Parses ASTRA-sim's name ("ring", "oneRing", "direct", "direct8",
 * "oneDirect", "halvingDoubling", "oneHalvingDoubling",
 * "doubleBinaryTree"); returns -1 if unknown. */
int net_algo_parse(const char *name, net_algo *out);
const char *net_coll_name(net_coll op); /* "ALL_REDUCE", ... */

/* ---- symmetry: when two groups or two pairs take the same time ---------
 *
 * core/sim simulates one rank of a class of equivalent ranks (docs/MODEL.md
 * 13); it needs to know when the network promises equal times.  A key is
 * everything a time depends on besides the operation, the bytes and the
 * dimension mask: two groups (two pairs) with equal keys take equal times
 * for every operation and size.  The analytical model keys a group by its
 * shape on the topology (members, distinct coordinates and gaps per
 * dimension, its flat view, nodes spanned) and a pair by its route's
 * latency and bottleneck bandwidth; the flow model promises nothing
 * (transfers share links), and both functions return -1 there. */
typedef struct net_group_key {
    int64_t w[32]; /* compared with memcmp: zeroed, then filled */
} net_group_key;
int net_group_key_of(const net_group *g, net_group_key *k);
typedef struct net_p2p_key {
    double lat_ps, bw; /* route latency and bottleneck bandwidth; a copy to
                        * itself: lat_ps -1, bw local-mem-bw */
} net_p2p_key;
int net_p2p_key_of(const net_model *m, int src, int dst, net_p2p_key *k);

/* ---- achieved bandwidth (net_eff.c, docs/NETWORK.md 9) ------------------
 *
 * Curves of NCCL's achieved bus bandwidth against message size, fitted to
 * published nccl-tests figures (bench/nccl/): with curve c on a dimension
 * (net_sys.eff), both models move a collective's data over it at
 * net_eff_factor() times its link bandwidth.  Curve 0 is "none" (factor 1).
 */
/* Parses a curve name ("none", "nvlink3", "nvlink4"); -1 if unknown. */
int net_eff_parse(const char *name, int *out);
const char *net_eff_name(int curve); /* "?" when out of range */
/* The names, comma-separated, for messages. */
const char *net_eff_names(void);
/* The curve's factor at size (its table read linearly in log2 size, flat
 * past the ends; net_eff.c): size is the collective's bytes as nccl-tests
 * counts them (the whole buffer; all-gather: the output), > 0; 1 for
 * curve 0. */
double net_eff_factor(int curve, net_coll op, double size);

#endif
