/*
 * net_fabric_rail.c: rail-optimized (`kind: rail`; docs/NETWORK.md 3.3):
 * every GPU of a node on the node's NVSwitch, GPU i of every node on rail
 * switch i.  Link classes: nvlink (GPU-NVSwitch), rail (GPU-rail switch).
 * A transfer between GPUs of different rails and nodes goes over NVLink
 * to the GPU on the destination's rail, then over that rail (PXN).
 *
 * Layout: links GPU->NVSwitch [base0], NVSwitch->GPU [base1], GPU->rail
 * [base2], rail->GPU [base3]; nodes: NVSwitches from nbase0, rail
 * switches from nbase1.
 */
#include "net_fabric.h"

#include <stdio.h>

static int rail_load(net_rd *r, yaml_node_t *root, net_topo *out)
{
    net_xtopo *x = &out->x;
    int rc;
    if ((rc = net_rd_req_int(r, root, "nodes", 1, 1 << 24, &x->nodes)) < 0 ||
        (rc = net_rd_req_int(r, root, "gpus_per_node", 1, 1024, &x->gpus_per_node)) < 0 ||
        (rc = net_rd_opt_int(r, root, "npus", 1, 1 << 24, &x->npus)) < 0)
        return rc;
    return net_rd_classes(r, root, 2, x);
}

/* the view: dim 0 the GPUs of a node over NVLink, dim 1 the nodes over
 * the rails */
static int rail_view(net_topo *t, loom_err *err)
{
    net_xtopo *x = &t->x;
    const char *f = net_fabric_file(x);
    const net_link_class *c = x->cls;
    if (net_fabric_check_classes(x, 2, err) < 0)
        return LOOM_EUSAGE;
    if (x->nodes < 1 || x->gpus_per_node < 1)
        return loom_err_set(err, LOOM_EUSAGE, "%s: keys 'nodes' and 'gpus_per_node' must be >= 1",
                            f);
    if (x->npus && x->npus != x->nodes * x->gpus_per_node)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: key 'npus': %d, but %d nodes x %d GPUs give %d GPU slots: %s",
                            f, x->npus, x->nodes, x->gpus_per_node,
                            x->nodes * x->gpus_per_node,
                            x->npus > x->nodes * x->gpus_per_node
                                ? "the extra ranks are mapped to no node"
                                : "some GPUs would have no rank");
    x->npus = x->nodes * x->gpus_per_node;
    t->ndims = 2;
    net_fabric_switch_dim(&t->dims[0], x->gpus_per_node, c[0].bw, c[0].latency);
    net_fabric_switch_dim(&t->dims[1], x->nodes, c[1].bw, c[1].latency);
    return 0;
}

static int rail_build(net_graph *g, const net_topo *t, loom_err *err)
{
    (void)err; /* the view refused what cannot be built */
    const net_xtopo *x = &t->x;
    int S = x->nodes, G = x->gpus_per_node, N = S * G;
    const net_link_class *c = x->cls;
    g->npus = N;
    g->nbase[0] = N;     /* NVSwitches */
    g->nbase[1] = N + S; /* rail switches */
    g->nnodes = N + S + G;
    net_graph_add_links(g, 4 * N);
    for (int i = 0; i < 4; i++)
        g->base[i] = i * N;
    for (int r = 0; r < N; r++) {
        int nvs = g->nbase[0] + r / G, rail = g->nbase[1] + r % G;
        net_graph_set_link(g, g->base[0] + r, r, nvs, c[0].bw, c[0].latency, 0);
        net_graph_set_link(g, g->base[1] + r, nvs, r, c[0].bw, c[0].latency, 0);
        net_graph_set_link(g, g->base[2] + r, r, rail, c[1].bw, c[1].latency, 1);
        net_graph_set_link(g, g->base[3] + r, rail, r, c[1].bw, c[1].latency, 1);
    }
    g->nlinks = 4 * N;
    g->max_hops = 4;
    g->ncls = 2;
    snprintf(g->clsname[0], sizeof g->clsname[0], "nvlink");
    snprintf(g->clsname[1], sizeof g->clsname[1], "rail");
    return 0;
}

static int rail_route(const net_graph *g, int src, int dst, uint64_t hash, uint32_t *out)
{
    (void)hash; /* one path per pair */
    int G = g->t->x.gpus_per_node;
    int ns = src / G, nd = dst / G, is = src % G, id = dst % G;
    if (ns == nd) {
        out[0] = (uint32_t)(g->base[0] + src);
        out[1] = (uint32_t)(g->base[1] + dst);
        return 2;
    }
    if (is == id) {
        out[0] = (uint32_t)(g->base[2] + src);
        out[1] = (uint32_t)(g->base[3] + dst);
        return 2;
    }
    int via = ns * G + id; /* the source node's GPU on the destination's rail */
    out[0] = (uint32_t)(g->base[0] + src);
    out[1] = (uint32_t)(g->base[1] + via);
    out[2] = (uint32_t)(g->base[2] + via);
    out[3] = (uint32_t)(g->base[3] + dst);
    return 4;
}

static int rail_node_name(const net_graph *g, int node, char *buf, size_t sz)
{
    if (node < g->nbase[1])
        snprintf(buf, sz, "nvs%d", node - g->nbase[0]);
    else
        snprintf(buf, sz, "rail%d", node - g->nbase[1]);
    return 1;
}

static const char *const kind_names[] = {"rail", "rail_optimized", NULL};
static const char *const keys[] = {"nodes", "gpus_per_node", NULL};

const net_fabric_ops net_fabric_rail = {
    .name = "rail",
    .kind_names = kind_names,
    .keys = keys,
    .load = rail_load,
    .view = rail_view,
    .build = rail_build,
    .route = rail_route,
    .node_name = rail_node_name,
};
