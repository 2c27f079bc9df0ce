/*
 * net_fabric.h: private to network/: what a fabric kind is.
 *
 * Each kind lives in one file, net_fabric_<kind>.c, exporting one const
 * net_fabric_ops: the words `kind:` takes for it and the keys it reads,
 * its loader (its keys and link classes from the file), its check and
 * contention-free view as ASTRA-sim dimensions (docs/NETWORK.md 3.6), its
 * graph (nodes, links, link-class names) and routing, and the names of
 * its switches.  net_fabrics.def lists the table, one line per kind in
 * net_xkind order; net_fabric.c builds it and holds what kinds share:
 * the YAML readers below, the key checks, link classes, NCCL facts.
 * Adding a kind is one new file plus one line there (and its line in
 * network/meson.build).
 *
 * The ops are static data: nothing to free.  Readers fill caller-owned
 * structs; errors name the file, the line and the key.
 */
#ifndef LOOM_NET_FABRIC_H
#define LOOM_NET_FABRIC_H

#include "net_int.h"
#include "net_topo.h"

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#define NET_GIB 1073741824.0 /* ASTRA-sim's network GB */

/* A document being read: where messages point. */
typedef struct net_rd {
    yaml_document_t *d; /* the document */
    const char *path;   /* file, for messages */
    loom_err *err;      /* filled on failure */
} net_rd;

struct net_fabric_ops {
    const char *name;              /* net_xkind_name(), describe's first line */
    const char *const *kind_names; /* words the `kind` key takes, NULL-ended;
                                      NULL: no explicit kind (ASTRA-sim's form) */
    const char *const *keys;       /* its own top-level keys beyond kind, npus,
                                      bandwidth, latency, nccl; NULL-ended */
    int shows_dims;                /* 1: describe prints its dimensions */
    /* reads its keys and its link classes (net_rd_classes) from root into
     * out; out->x.kind is set and the keys were checked against `keys` */
    int (*load)(net_rd *r, yaml_node_t *root, net_topo *out);
    /* checks t->x and fills t->ndims/t->dims with the contention-free
     * view; NULL: t->dims already is the topology */
    int (*view)(net_topo *t, loom_err *err);
    /* sets g->npus and lays out nodes, links (net_graph_add_links/
     * set_link), link-class names, max_hops; < 0 (err set) only when a
     * file it reads again no longer matches the view (ns3) */
    int (*build)(net_graph *g, const net_topo *t, loom_err *err);
    /* the hot path: route src -> dst (src != dst) as link ids into out */
    int (*route)(const net_graph *g, int src, int dst, uint64_t hash, uint32_t *out);
    /* 1 and buf when node (a switch: >= g->npus) has a name of its kind */
    int (*node_name)(const net_graph *g, int node, char *buf, size_t sz);
    /* optional, for `topo describe`: the most links (*hops) and the largest
     * latency (*lat) over route(src, d) for every NPU d != src, exactly as
     * that loop would find them, but faster; returns -1 when it cannot
     * (describe then runs the loop).  NULL: the loop. */
    int (*farthest)(const net_graph *g, int src, int *hops, sim_time *lat);
};

/* The table (net_fabric.c), indexed by net_xkind; every entry non-NULL. */
extern const net_fabric_ops *const net_fabrics[NET_XKINDS];

#define NET_FABRIC(id, ops) extern const net_fabric_ops ops;
#include "net_fabrics.def"
#undef NET_FABRIC

/* The entry of kind k, or NULL when k is out of range. */
static inline const net_fabric_ops *net_fabric_of(net_xkind k)
{
    return (unsigned)k < NET_XKINDS ? net_fabrics[k] : NULL;
}

/* ---- reading (net_fabric.c) ------------------------------------------- */

yaml_node_t *net_rd_node(net_rd *r, int i);
const char *net_rd_scal(const yaml_node_t *n); /* a scalar's text, else NULL */
yaml_node_t *net_rd_lookup(net_rd *r, yaml_node_t *map, const char *key);
/* "file: key 'k'[idx] (line n): what"; idx < 0: no index */
int net_rd_bad(net_rd *r, const yaml_node_t *n, const char *key, int idx, const char *what);
/* a number in lo..hi (lo excluded when lo_open) */
int net_rd_num(net_rd *r, const yaml_node_t *n, const char *key, int idx, double lo,
               int lo_open, double hi, double *out);
int net_rd_int(net_rd *r, const yaml_node_t *n, const char *key, int idx, long lo, long hi,
               int *out);
/* one of count words; *out = vals[i], or i when vals is NULL */
int net_rd_word(net_rd *r, const yaml_node_t *n, const char *key, const char *const *names,
                const int *vals, int count, int *out);
/* items of a list value; a scalar is a list of one (*scalar = 1, *one
 * holds it); -1 for a mapping */
int net_rd_items(net_rd *r, yaml_node_t *n, int **items, int *count, int *one, int *scalar);
/* a key that must be there / may be there (out left alone if absent) */
int net_rd_req_int(net_rd *r, yaml_node_t *root, const char *key, long lo, long hi, int *out);
int net_rd_opt_int(net_rd *r, yaml_node_t *root, const char *key, long lo, long hi, int *out);
/* `bandwidth` (GB/s, 2^30) and `latency` (ns) into x->cls[0..ncls): one
 * value for every class or a list of ncls */
int net_rd_classes(net_rd *r, yaml_node_t *root, int ncls, net_xtopo *x);

/* ---- checks and views (net_fabric.c) ---------------------------------- */

const char *net_fabric_file(const net_xtopo *x); /* x->file, or "network" */
/* bandwidth > 0 and latency >= 0 for classes 0..ncls-1 */
int net_fabric_check_classes(const net_xtopo *x, int ncls, loom_err *err);
/* a Switch dimension of the analytical view */
void net_fabric_switch_dim(net_dim *d, int npus, double bw, sim_time lat);

/* ---- graphs (net_graph.c) --------------------------------------------- */

void net_graph_add_links(net_graph *g, int count); /* room for count more */
void net_graph_set_link(net_graph *g, int id, int src, int dst, double bw, sim_time lat,
                        int cls);

/* ASTRA-sim's dimensions as a graph (net_fabric_dims.c), shared with the
 * torus, whose rings are dimensions. */
int net_fabric_dims_build(net_graph *g, const net_topo *t, loom_err *err);
/* Routes in dimension order: the part of a route in dimension d depends
 * only on the source's and destination's coordinates d (the links of a
 * dimension share one latency), so the farthest destination is the sum,
 * over dimensions, of the farthest along each: sum(n_d) routes instead
 * of prod(n_d). */
int net_fabric_dims_farthest(const net_graph *g, int src, int *hops, sim_time *lat);
int net_fabric_dims_route(const net_graph *g, int src, int dst, uint64_t hash, uint32_t *out);
int net_fabric_dims_node_name(const net_graph *g, int node, char *buf, size_t sz);

#endif
