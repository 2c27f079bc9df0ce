/*
 * net_int.h: private to network/: the layout of the model and of a group,
 * and the seams between net.c (topology, groups, point-to-point, names)
 * and net_coll.c (collective algorithms and their multi-dimension plan).
 *
 * Nothing outside network/ includes this file.  Formulas and units are
 * written out in docs/MODEL.md; the code cites its sections.
 */
#ifndef LOOM_NET_INT_H
#define LOOM_NET_INT_H

#include "net.h"

/* Reasons for a warning; each is printed once per model per dimension. */
typedef enum net_warn_reason {
    NET_WARN_HD_NONPOW2 = 0, /* halvingDoubling on p != 2^k, not an AR */
    NET_WARN_DBT_OP = 1,     /* doubleBinaryTree named for a non-AR op */
    NET_WARN_DBT_INNER = 2,  /* doubleBinaryTree on a lower AR phase */
    NET_WARN_REASONS = 3,
} net_warn_reason;

/* Index used in warned[] for the flat dimension of an irregular group. */
#define NET_FLAT_DIM NET_MAX_DIMS

struct net_model {
    net_topo topo;                       /* copy of the caller's topology */
    net_sys sys;                         /* copy of the caller's system */
    int npus;                            /* product of npus over dims */
    int stride[NET_MAX_DIMS];            /* prod of npus below dim d */
    int waves;                           /* W = ceil(splits/active_chunks) */
    uint32_t warned[NET_WARN_REASONS];   /* bit d: reason already printed */
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
    net_vdim flat;               /* irregular groups: the one dimension */
};

/* Hop count of a transfer between members `j` member steps apart on v
 * (j >= 1): FC 1, SWITCH 2, RING the shorter way round.  net.c. */
int net_hops(const net_vdim *v, long j);

/* Fills v from dimension d of m restricted to the group's p and gap. */
void net_vdim_of(const net_model *m, const net_group *g, int d,
                 net_vdim *v);

/* Prints the warning for (reason, dim) unless it was printed before. */
void net_warn_once(net_model *m, net_warn_reason r, int dim,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ps from a double, rounded once; aborts when it cannot fit sim_time. */
sim_time net_round_ps(double ps);

#endif
