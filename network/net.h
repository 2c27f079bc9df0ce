/*
 * net.h: the network as replay sees it: topologies, collective algorithms
 * and the analytical (alpha-beta, contention-free) transport model.
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

#include "../core/err.h"
#include "../core/heap.h" /* sim_time */

#define NET_MAX_DIMS 8

typedef enum net_dim_kind {
    NET_RING = 0,            /* bidirectional ring: neighbour links */
    NET_FULLY_CONNECTED = 1, /* a link between every pair */
    NET_SWITCH = 2,          /* every NPU one link to one switch */
} net_dim_kind;

typedef struct net_dim {
    net_dim_kind kind; /* shape of this dimension */
    int npus;          /* NPUs along it (>= 1) */
    double bw;         /* link bandwidth per direction, bytes/s (> 0) */
    sim_time latency;  /* per-hop link latency, ps (>= 0) */
} net_dim;

typedef struct net_topo {
    int ndims;                 /* 1..NET_MAX_DIMS */
    net_dim dims[NET_MAX_DIMS];/* dimension 0 first (fastest varying) */
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

typedef struct net_sys {
    net_algo impl[NET_IMPL_OPS][NET_MAX_DIMS]; /* algorithm per op per dim */
    int splits;             /* preferred-dataset-splits: chunks (>= 1) */
    int active_chunks;      /* active-chunks-per-dimension (>= 1) */
    sim_time endpoint_delay;/* endpoint-delay: per step, ps (>= 0) */
    double local_mem_bw;    /* local-mem-bw: bytes/s, for reductions (> 0) */
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
 * spans no selected dimension, takes 0.  Never fails. */
sim_time net_coll_time(net_model *m, const net_group *g, net_coll op,
                       uint64_t bytes, uint32_t dim_mask);

/* The algorithms that net_coll_time() used, for reports, e.g.
 * "ring@0+direct@1"; writes at most sz bytes including the NUL. */
void net_coll_label(net_model *m, const net_group *g, net_coll op,
                    uint32_t dim_mask, char *buf, size_t sz);

/* Time for a point-to-point message of `bytes` from src to dst
 * (dimension-order route), from the send's start to its arrival. */
sim_time net_p2p_time(net_model *m, int src, int dst, uint64_t bytes);

/* Short algorithm label for reports, e.g. "ring" or "ring+direct". */
const char *net_algo_name(net_algo a);
/* Parses ASTRA-sim's name ("ring", "oneRing", "direct", "direct8",
 * "oneDirect", "halvingDoubling", "oneHalvingDoubling",
 * "doubleBinaryTree"); returns -1 if unknown. */
int net_algo_parse(const char *name, net_algo *out);
const char *net_coll_name(net_coll op); /* "ALL_REDUCE", ... */

#endif
