/*
 * net_fabric_fat_tree.c: the fat tree / Clos (`kind: fat_tree`;
 * docs/NETWORK.md 3.2): 2 tiers (leaves, spines) or 3 (leaves, aggregation
 * in pods, cores), with oversubscription at the leaf and aggregation
 * tiers.  Link classes: host-leaf, leaf-spine (or leaf-aggregation),
 * aggregation-core.  Routing is up/down; the uplink is picked by the
 * flow's hash (ECMP).
 *
 * Layout: links host up [base0], host down [base1], leaf up [base2], leaf
 * down [base3], agg up [base4], agg down [base5]; nodes: leaves from
 * nbase0, spines/aggregation from nbase1, cores from nbase2.
 */
#include "net_fabric.h"

#include <math.h>
#include <stdio.h>

int net_xtopo_uplinks(const net_xtopo *x, int tier)
{
    int ports = tier == 0 ? x->hosts_per_leaf : x->leaves_per_pod;
    return (int)llround(ports / x->oversub[tier]);
}

static int fat_load(net_rd *r, yaml_node_t *root, net_topo *out)
{
    net_xtopo *x = &out->x;
    const char *path = r->path;
    int rc;
    if ((rc = net_rd_req_int(r, root, "npus", 1, 1 << 24, &x->npus)) < 0 ||
        (rc = net_rd_req_int(r, root, "tiers", 2, 3, &x->tiers)) < 0 ||
        (rc = net_rd_req_int(r, root, "hosts_per_leaf", 1, 65536, &x->hosts_per_leaf)) < 0 ||
        (rc = net_rd_opt_int(r, root, "npus_per_node", 1, 65536, &x->npus_per_node)) < 0)
        return rc;
    if (x->tiers == 3 &&
        (rc = net_rd_req_int(r, root, "leaves_per_pod", 1, 65536, &x->leaves_per_pod)) < 0)
        return rc;
    if (x->tiers == 2 && net_rd_lookup(r, root, "leaves_per_pod"))
        return loom_err_set(r->err, LOOM_EUSAGE,
                            "%s: key 'leaves_per_pod' applies to 3 tiers only (tiers is 2)", path);
    x->oversub[0] = x->oversub[1] = 1;
    yaml_node_t *ov = net_rd_lookup(r, root, "oversubscription");
    if (ov) {
        int *it, one, cnt, sc;
        if (net_rd_items(r, ov, &it, &cnt, &one, &sc) < 0 || (!sc && cnt != x->tiers - 1))
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: key 'oversubscription' must be one ratio or a list of %d "
                                "(leaf%s)", path, x->tiers - 1,
                                x->tiers == 3 ? ", aggregation" : "");
        for (int i = 0; i < x->tiers - 1; i++)
            if ((rc = net_rd_num(r, net_rd_node(r, it[sc ? 0 : i]), "oversubscription",
                                 sc ? -1 : i, 1, 0, 65536, &x->oversub[i])) < 0)
                return rc;
    }
    return net_rd_classes(r, root, x->tiers, x);
}

/* every port mapped, whole uplink counts; the view: dim 0 the NPUs of a
 * node (same leaf: 2 host hops), dim 1 the nodes at the longest route's
 * latency (2 * lat) and the slowest class */
static int fat_view(net_topo *t, loom_err *err)
{
    net_xtopo *x = &t->x;
    const char *f = net_fabric_file(x);
    const net_link_class *c = x->cls;
    if (x->tiers != 2 && x->tiers != 3)
        return loom_err_set(err, LOOM_EUSAGE, "%s: key 'tiers': %d; must be 2 or 3", f, x->tiers);
    if (net_fabric_check_classes(x, x->tiers, err) < 0)
        return LOOM_EUSAGE;
    int H = x->hosts_per_leaf;
    if (H < 1 || x->npus < 1)
        return loom_err_set(err, LOOM_EUSAGE, "%s: keys 'npus' and 'hosts_per_leaf' must be >= 1",
                            f);
    if (x->npus % H != 0)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: key 'npus': %d ranks on leaves of %d hosts: ranks %d..%d are "
                            "mapped to no leaf port (npus must be a multiple of hosts_per_leaf)",
                            f, x->npus, H, x->npus / H * H, x->npus - 1);
    for (int tier = 0; tier < x->tiers - 1; tier++) {
        int ports = tier == 0 ? H : x->leaves_per_pod;
        double up = ports / x->oversub[tier];
        if (!(x->oversub[tier] >= 1) || fabs(up - llround(up)) > 1e-9 || llround(up) < 1)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'oversubscription'[%d]: %g: %d down ports / %g must be "
                                "a whole number of uplinks (>= 1)", f, tier, x->oversub[tier],
                                ports, x->oversub[tier]);
    }
    int leaves = x->npus / H;
    if (x->tiers == 3 && (x->leaves_per_pod < 1 || leaves % x->leaves_per_pod != 0))
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: key 'leaves_per_pod': %d leaves do not fill pods of %d: ranks "
                            "%d..%d are mapped to no pod", f, leaves, x->leaves_per_pod,
                            leaves / (x->leaves_per_pod ? x->leaves_per_pod : 1) *
                                (x->leaves_per_pod ? x->leaves_per_pod : 1) * H,
                            x->npus - 1);
    int npn = x->npus_per_node ? x->npus_per_node : 1;
    if (H % npn != 0)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: key 'npus_per_node': %d does not divide hosts_per_leaf %d "
                            "(a node's NPUs sit on one leaf)", f, npn, H);
    double bw = c[0].bw;
    sim_time lat = c[0].latency;
    for (int k = 1; k < x->tiers; k++) {
        bw = fmin(bw, c[k].bw);
        lat += c[k].latency;
    }
    t->ndims = 2;
    net_fabric_switch_dim(&t->dims[0], npn, c[0].bw, c[0].latency);
    net_fabric_switch_dim(&t->dims[1], x->npus / npn, bw, lat);
    return 0;
}

static int fat_build(net_graph *g, const net_topo *t, loom_err *err)
{
    (void)err; /* the view refused what cannot be built */
    const net_xtopo *x = &t->x;
    g->npus = x->npus;
    g->up1 = net_xtopo_uplinks(x, 0);
    g->up2 = x->tiers == 3 ? net_xtopo_uplinks(x, 1) : 0;
    int N = x->npus, H = x->hosts_per_leaf, L = N / H;
    int u1 = g->up1, u2 = g->up2;
    const net_link_class *c = x->cls;
    g->nbase[0] = N;           /* leaves */
    g->nbase[1] = N + L;       /* spines (2 tiers) or aggregation (3) */
    int n1 = x->tiers == 2 ? u1 : (L / x->leaves_per_pod) * u1;
    g->nbase[2] = g->nbase[1] + n1; /* cores (3 tiers) */
    g->nnodes = g->nbase[2] + (x->tiers == 3 ? u1 * u2 : 0);
    int total = 2 * N + 2 * L * u1 + (x->tiers == 3 ? 2 * n1 * u2 : 0);
    net_graph_add_links(g, total);
    g->base[0] = 0;
    g->base[1] = N;
    g->base[2] = 2 * N;
    g->base[3] = 2 * N + L * u1;
    g->base[4] = 2 * N + 2 * L * u1;
    g->base[5] = g->base[4] + n1 * u2;
    for (int r = 0; r < N; r++) {
        int leaf = g->nbase[0] + r / H;
        net_graph_set_link(g, g->base[0] + r, r, leaf, c[0].bw, c[0].latency, 0);
        net_graph_set_link(g, g->base[1] + r, leaf, r, c[0].bw, c[0].latency, 0);
    }
    for (int lf = 0; lf < L; lf++)
        for (int j = 0; j < u1; j++) {
            int up;
            if (x->tiers == 2)
                up = g->nbase[1] + j;
            else
                up = g->nbase[1] + (lf / x->leaves_per_pod) * u1 + j;
            int leaf = g->nbase[0] + lf;
            net_graph_set_link(g, g->base[2] + lf * u1 + j, leaf, up, c[1].bw, c[1].latency, 1);
            net_graph_set_link(g, g->base[3] + lf * u1 + j, up, leaf, c[1].bw, c[1].latency, 1);
        }
    if (x->tiers == 3)
        for (int a = 0; a < n1; a++) { /* agg a = pod * u1 + j */
            int j = a % u1;
            for (int k = 0; k < u2; k++) {
                int core = g->nbase[2] + j * u2 + k;
                int agg = g->nbase[1] + a;
                net_graph_set_link(g, g->base[4] + a * u2 + k, agg, core, c[2].bw,
                                   c[2].latency, 2);
                net_graph_set_link(g, g->base[5] + a * u2 + k, core, agg, c[2].bw,
                                   c[2].latency, 2);
            }
        }
    g->nlinks = total;
    g->max_hops = x->tiers == 2 ? 4 : 6;
    g->ncls = x->tiers;
    snprintf(g->clsname[0], sizeof g->clsname[0], "host-leaf");
    snprintf(g->clsname[1], sizeof g->clsname[1],
             x->tiers == 2 ? "leaf-spine" : "leaf-aggregation");
    snprintf(g->clsname[2], sizeof g->clsname[2], "aggregation-core");
    return 0;
}

static int fat_route(const net_graph *g, int src, int dst, uint64_t h, uint32_t *out)
{
    const net_xtopo *x = &g->t->x;
    int H = x->hosts_per_leaf, ls = src / H, ld = dst / H;
    int k = 0;
    out[k++] = (uint32_t)(g->base[0] + src);
    if (ls != ld) {
        int u1 = g->up1;
        int j = (int)(h % (uint64_t)u1);
        if (x->tiers == 2 || ls / x->leaves_per_pod == ld / x->leaves_per_pod) {
            out[k++] = (uint32_t)(g->base[2] + ls * u1 + j);
            out[k++] = (uint32_t)(g->base[3] + ld * u1 + j);
        } else {
            int P = x->leaves_per_pod, u2 = g->up2;
            int kk = (int)((h >> 24) % (uint64_t)u2);
            int as = (ls / P) * u1 + j, ad = (ld / P) * u1 + j;
            out[k++] = (uint32_t)(g->base[2] + ls * u1 + j);
            out[k++] = (uint32_t)(g->base[4] + as * u2 + kk);
            out[k++] = (uint32_t)(g->base[5] + ad * u2 + kk);
            out[k++] = (uint32_t)(g->base[3] + ld * u1 + j);
        }
    }
    out[k++] = (uint32_t)(g->base[1] + dst);
    return k;
}

static int fat_node_name(const net_graph *g, int node, char *buf, size_t sz)
{
    if (node < g->nbase[1])
        snprintf(buf, sz, "leaf%d", node - g->nbase[0]);
    else if (node < g->nbase[2])
        snprintf(buf, sz, "%s%d", g->t->x.tiers == 2 ? "spine" : "agg", node - g->nbase[1]);
    else
        snprintf(buf, sz, "core%d", node - g->nbase[2]);
    return 1;
}

static const char *const kind_names[] = {"fat_tree", "fat-tree", "clos", NULL};
static const char *const keys[] = {"npus_per_node", "tiers", "hosts_per_leaf",
                                   "leaves_per_pod", "oversubscription", NULL};

const net_fabric_ops net_fabric_fat_tree = {
    .name = "fat_tree",
    .kind_names = kind_names,
    .keys = keys,
    .load = fat_load,
    .view = fat_view,
    .build = fat_build,
    .route = fat_route,
    .node_name = fat_node_name,
};
