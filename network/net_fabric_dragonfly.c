/*
 * net_fabric_dragonfly.c: the dragonfly (`kind: dragonfly`;
 * docs/NETWORK.md 3.5): groups of routers connected all-to-all inside a
 * group, one global cable per pair of groups.  Link classes: host-router,
 * local (router-router in a group), global.  Minimal routing: local hop
 * to the group's gateway, the global cable, local hop to the destination
 * router.
 *
 * Layout: links host up [base0], host down [base1], local [base2],
 * global [base3]; routers from nbase0.
 */
#include "net_fabric.h"

#include <math.h>
#include <stdio.h>

static int df_load(net_rd *r, yaml_node_t *root, net_topo *out)
{
    net_xtopo *x = &out->x;
    int rc;
    if ((rc = net_rd_req_int(r, root, "groups", 1, 65536, &x->groups)) < 0 ||
        (rc = net_rd_req_int(r, root, "routers_per_group", 1, 4096, &x->routers)) < 0 ||
        (rc = net_rd_req_int(r, root, "hosts_per_router", 1, 4096, &x->hosts_per_router)) < 0 ||
        (rc = net_rd_req_int(r, root, "global_links_per_router", 0, 4096,
                             &x->globals_per_router)) < 0 ||
        (rc = net_rd_opt_int(r, root, "npus", 1, 1 << 24, &x->npus)) < 0)
        return rc;
    return net_rd_classes(r, root, 3, x);
}

/* the view: dim 0 the hosts of a router, dim 1 all routers at the
 * slowest class and half the longest minimal route's latency */
static int df_view(net_topo *t, loom_err *err)
{
    net_xtopo *x = &t->x;
    const char *f = net_fabric_file(x);
    const net_link_class *c = x->cls;
    if (net_fabric_check_classes(x, 3, err) < 0)
        return LOOM_EUSAGE;
    if (x->groups < 1 || x->routers < 1 || x->hosts_per_router < 1)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: keys 'groups', 'routers_per_group', 'hosts_per_router' must be "
                            ">= 1", f);
    if (x->groups > 1 && (long)x->routers * x->globals_per_router < x->groups - 1)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: key 'global_links_per_router': %d routers x %d global links "
                            "cannot reach the other %d groups: the topology is disconnected "
                            "(need routers_per_group x global_links_per_router >= groups - 1)",
                            f, x->routers, x->globals_per_router, x->groups - 1);
    long long n = (long long)x->groups * x->routers * x->hosts_per_router;
    if (n > (1 << 24))
        return loom_err_set(err, LOOM_EUSAGE, "%s: %lld NPUs: more than %d", f, n, 1 << 24);
    if (x->npus && x->npus != n)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: key 'npus': %d, but the dragonfly has %lld host ports: %s", f,
                            x->npus, n,
                            x->npus > n ? "the extra ranks are mapped to no node"
                                        : "some ports would have no rank");
    x->npus = (int)n;
    double bw = fmin(c[0].bw, fmin(c[1].bw, c[2].bw));
    /* longest minimal route: host, local, global, local, host */
    sim_time lat2 = 2 * c[0].latency + 2 * c[1].latency + c[2].latency;
    t->ndims = 2;
    net_fabric_switch_dim(&t->dims[0], x->hosts_per_router, c[0].bw, c[0].latency);
    net_fabric_switch_dim(&t->dims[1], x->groups * x->routers, bw, (lat2 + 1) / 2);
    return 0;
}

/* The global cable from group G to group G2 leaves from port
 * q = (G2 - G - 1) mod groups, on router q / globals_per_router. */
static int df_gate(const net_xtopo *x, int G, int G2)
{
    int q = ((G2 - G - 1) % x->groups + x->groups) % x->groups;
    return q / x->globals_per_router;
}

static int df_global(const net_graph *g, const net_xtopo *x, int G, int G2)
{
    return g->base[3] + G * (x->groups - 1) + (G2 < G ? G2 : G2 - 1);
}

static int df_local(const net_graph *g, const net_xtopo *x, int R, int R2)
{
    int a = x->routers, y = R2 % a, xr = R % a;
    return g->base[2] + R * (a - 1) + (y < xr ? y : y - 1);
}

static int df_build(net_graph *g, const net_topo *t, loom_err *err)
{
    (void)err; /* the view refused what cannot be built */
    const net_xtopo *x = &t->x;
    int gr = x->groups, a = x->routers, hp = x->hosts_per_router;
    int N = gr * a * hp, R = gr * a;
    const net_link_class *c = x->cls;
    g->npus = N;
    g->nbase[0] = N;
    g->nnodes = N + R;
    int total = 2 * N + R * (a - 1) + gr * (gr - 1);
    net_graph_add_links(g, total);
    g->base[0] = 0;
    g->base[1] = N;
    g->base[2] = 2 * N;
    g->base[3] = 2 * N + R * (a - 1);
    for (int r = 0; r < N; r++) {
        int rt = N + r / hp;
        net_graph_set_link(g, g->base[0] + r, r, rt, c[0].bw, c[0].latency, 0);
        net_graph_set_link(g, g->base[1] + r, rt, r, c[0].bw, c[0].latency, 0);
    }
    for (int rr = 0; rr < R; rr++)
        for (int y = 0; y < a; y++) {
            int r2 = (rr / a) * a + y;
            if (r2 == rr)
                continue;
            net_graph_set_link(g, df_local(g, x, rr, r2), N + rr, N + r2, c[1].bw, c[1].latency,
                               1);
        }
    for (int G = 0; G < gr; G++)
        for (int G2 = 0; G2 < gr; G2++) {
            if (G2 == G)
                continue;
            int from = N + G * a + df_gate(x, G, G2);
            int to = N + G2 * a + df_gate(x, G2, G);
            net_graph_set_link(g, df_global(g, x, G, G2), from, to, c[2].bw, c[2].latency, 2);
        }
    g->nlinks = total;
    g->max_hops = 5;
    g->ncls = 3;
    snprintf(g->clsname[0], sizeof g->clsname[0], "host-router");
    snprintf(g->clsname[1], sizeof g->clsname[1], "local");
    snprintf(g->clsname[2], sizeof g->clsname[2], "global");
    return 0;
}

static int df_route(const net_graph *g, int src, int dst, uint64_t hash, uint32_t *out)
{
    (void)hash; /* minimal routing: one path per pair */
    const net_xtopo *x = &g->t->x;
    int hp = x->hosts_per_router, a = x->routers;
    int Rs = src / hp, Rd = dst / hp, Gs = Rs / a, Gd = Rd / a;
    int k = 0;
    out[k++] = (uint32_t)(g->base[0] + src);
    if (Gs == Gd) {
        if (Rs != Rd)
            out[k++] = (uint32_t)df_local(g, x, Rs, Rd);
    } else {
        int gw = Gs * a + df_gate(x, Gs, Gd);  /* exits the source group */
        int gw2 = Gd * a + df_gate(x, Gd, Gs); /* enters the destination */
        if (gw != Rs)
            out[k++] = (uint32_t)df_local(g, x, Rs, gw);
        out[k++] = (uint32_t)df_global(g, x, Gs, Gd);
        if (gw2 != Rd)
            out[k++] = (uint32_t)df_local(g, x, gw2, Rd);
    }
    out[k++] = (uint32_t)(g->base[1] + dst);
    return k;
}

static int df_node_name(const net_graph *g, int node, char *buf, size_t sz)
{
    int r = node - g->nbase[0];
    snprintf(buf, sz, "rt%d.%d", r / g->t->x.routers, r % g->t->x.routers);
    return 1;
}

static const char *const kind_names[] = {"dragonfly", NULL};
static const char *const keys[] = {"groups", "routers_per_group", "hosts_per_router",
                                   "global_links_per_router", NULL};

const net_fabric_ops net_fabric_dragonfly = {
    .name = "dragonfly",
    .kind_names = kind_names,
    .keys = keys,
    .load = df_load,
    .view = df_view,
    .build = df_build,
    .route = df_route,
    .node_name = df_node_name,
};
