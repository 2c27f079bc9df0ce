/*
 * net_topo.h: explicit fabrics described in YAML (fat-tree/Clos,
 * rail-optimized, 2D/3D torus, dragonfly), their contention-free view as
 * ASTRA-sim dimensions, and `loom topo describe`.  docs/NETWORK.md
 * section 3 has the file format, with every key, unit and range.
 *
 * A network file is an explicit fabric when its top level has the key
 * `kind` (ASTRA-sim's network files never do).  Link classes per kind
 * (the order of the `bandwidth` and `latency` lists):
 *   fat_tree   host-leaf, leaf-spine (or leaf-aggregation), aggregation-core
 *   rail       nvlink (GPU-NVSwitch), rail (GPU-rail switch)
 *   torus      one per dimension
 *   dragonfly  host-router, local (router-router in a group), global
 *   ns3        npu-switch, switch-switch, npu-npu (read from ns-3's files,
 *              not a `kind:` YAML; net_ns3_load below)
 * Units in the file are ASTRA-sim's: GB/s with GB = 2^30 bytes, ns.
 *
 * Ownership: everything is filled into caller-owned structs.
 */
#ifndef LOOM_NET_TOPO_H
#define LOOM_NET_TOPO_H

#include <stdio.h>

#include "net.h"

struct yaml_document_s;

/* Top-level keys an explicit-fabric file may have (for --set checks). */
extern const char *const net_xtopo_keys[];
extern const int net_xtopo_nkeys;

/* Reads an explicit fabric from a parsed document whose top level has
 * `kind`; fills out->x (and out->dims for a torus).  path names the file
 * in messages. */
int net_xtopo_load(struct yaml_document_s *doc, const char *path,
                   net_topo *out, loom_err *err);

/* Reads either form of network file (explicit fabric or ASTRA-sim's
 * topology/npus_count/bandwidth/latency lists), without --set overrides:
 * what `loom topo describe` reads. */
int net_topo_load_file(const char *path, net_topo *out, loom_err *err);

/* Checks t->x and fills t->ndims/t->dims with the fabric's contention-free
 * view (docs/NETWORK.md 3.6); errors name the file and the key. */
int net_xtopo_view(net_topo *t, loom_err *err);

/* NPUs per node: one instance of dimension 0 of the (view) dimensions; a
 * single-dimension network is one node. */
int net_xtopo_npus_per_node(const net_topo *t);

/* ASTRA-sim's other network back ends' files (docs/NETWORK.md 3.9).
 * net_file_form() tells them from YAML by their first line: */
enum {
    NET_FORM_YAML = 0,       /* ASTRA-sim's analytical YAML or a `kind:` fabric */
    NET_FORM_NS3_CONFIG = 1, /* ns-3's config.txt: `KEY value` lines */
    NET_FORM_NS3_TOPO = 2,   /* an ns-3 topology file: `<nodes> <switches> <links>` */
    NET_FORM_HTSIM = 3,      /* an htsim .topo: `Nodes <n>` */
};
int net_file_form(const char *path);

/* For an ns-3 config.txt: 1 and its TOPOLOGY_FILE, resolved as
 * net_ns3_load() does, in out (sz bytes); 0 for any other file (or one
 * without the line), so a command can list the file among its inputs
 * before reading anything. */
int net_ns3_topology_file(const char *config, char *out, size_t sz);

/* A setting read but not modelled, told to the caller as text. */
typedef void (*net_note_fn)(void *ctx, const char *text);

/* Reads ns-3's config.txt (its TOPOLOGY_FILE relative to the config's
 * folder) or a topology file itself (path), and the logical dims of
 * logical (ASTRA-sim's --logical-topology-configuration JSON; NULL: one
 * dimension of all NPUs) into out as kind ns3 (net_fabric_ns3.c).  The
 * config's settings loom does not model go to note (may be NULL). */
int net_ns3_load(const char *path, const char *logical, net_topo *out, net_note_fn note,
                 void *ctx, loom_err *err);

/* Reads an htsim fat tree by tiers into out as a fat_tree
 * (net_fabric_htsim.c). */
int net_htsim_load(const char *path, net_topo *out, net_note_fn note, void *ctx,
                   loom_err *err);

/* Fat tree: uplinks of a leaf (tier 0) or of an aggregation switch
 * (tier 1): ports / oversubscription. */
int net_xtopo_uplinks(const net_xtopo *x, int tier);

const char *net_xkind_name(net_xkind k);

/* What `loom topo describe` reports (docs/NETWORK.md 3.7 says how each
 * is computed). */
typedef struct net_topo_facts {
    int npus;            /* NPU nodes */
    int switches;        /* switch nodes */
    int links;           /* directed links (two per cable) */
    int diameter;        /* links on the longest route between NPUs */
    sim_time diameter_ps;/* latency of the slowest route between NPUs */
    int sampled;         /* 1: routes from a sample of sources only */
    double bisection;    /* bytes/s, one direction, rank halves (max-flow) */
} net_topo_facts;

int net_topo_measure(const net_topo *t, net_topo_facts *out, loom_err *err);

/* Prints kind, node/switch/link counts, link classes, diameter and
 * bisection bandwidth. */
int net_topo_describe(const net_topo *t, FILE *out, loom_err *err);

#endif
