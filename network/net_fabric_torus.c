/*
 * net_fabric_torus.c: the 2D/3D torus (`kind: torus`; docs/NETWORK.md
 * 3.4): rings in every dimension, one link class per dimension, routed in
 * dimension order, the shorter way round each ring.  Its graph and routes
 * are ASTRA-sim's Ring dimensions (net_fabric_dims.c); its view is itself.
 */
#include "net_fabric.h"

#include <stdio.h>

static int torus_load(net_rd *r, yaml_node_t *root, net_topo *out)
{
    net_xtopo *x = &out->x;
    int rc;
    yaml_node_t *dv = net_rd_lookup(r, root, "dims");
    int *it, one, cnt, sc;
    if (dv == NULL)
        return loom_err_set(r->err, LOOM_EUSAGE, "%s: missing key 'dims' (2 or 3 ring sizes)",
                            r->path);
    if (net_rd_items(r, dv, &it, &cnt, &one, &sc) < 0 || sc || cnt < 2 || cnt > 3)
        return loom_err_set(r->err, LOOM_EUSAGE,
                            "%s: key 'dims' must be a list of 2 or 3 ring sizes (a 2D or 3D "
                            "torus)", r->path);
    out->ndims = cnt;
    for (int d = 0; d < cnt; d++) {
        if ((rc = net_rd_int(r, net_rd_node(r, it[d]), "dims", d, 2, 65536,
                             &out->dims[d].npus)) < 0)
            return rc;
        out->dims[d].kind = NET_RING;
    }
    if ((rc = net_rd_opt_int(r, root, "npus", 1, 1 << 24, &x->npus)) < 0)
        return rc;
    if ((rc = net_rd_classes(r, root, cnt, x)) < 0)
        return rc;
    for (int d = 0; d < out->ndims; d++) { /* class d is ring d */
        out->dims[d].bw = x->cls[d].bw;
        out->dims[d].latency = x->cls[d].latency;
    }
    return 0;
}

static int torus_view(net_topo *t, loom_err *err)
{
    net_xtopo *x = &t->x;
    const char *f = net_fabric_file(x);
    if (t->ndims < 2 || t->ndims > 3)
        return loom_err_set(err, LOOM_EUSAGE, "%s: key 'dims': a torus has 2 or 3 dimensions", f);
    long long n = 1;
    for (int d = 0; d < t->ndims; d++) {
        if (t->dims[d].kind != NET_RING || t->dims[d].npus < 2)
            return loom_err_set(err, LOOM_EUSAGE, "%s: key 'dims'[%d]: a torus ring needs >= 2 NPUs",
                                f, d);
        if (!(t->dims[d].bw > 0))
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'bandwidth'[%d]: a link needs a bandwidth > 0", f, d);
        n *= t->dims[d].npus;
    }
    if (x->npus && x->npus != n)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: key 'npus': %d, but the torus has %lld positions: %s", f,
                            x->npus, n,
                            x->npus > n ? "the extra ranks are mapped to no node"
                                        : "some positions would have no rank");
    x->npus = (int)n;
    return 0;
}

static int torus_build(net_graph *g, const net_topo *t, loom_err *err)
{
    net_fabric_dims_build(g, t, err);
    for (int d = 0; d < t->ndims; d++)
        snprintf(g->clsname[d], sizeof g->clsname[d], "torus dim %d", d);
    return 0;
}

static const char *const kind_names[] = {"torus", NULL};
static const char *const keys[] = {"dims", NULL};

const net_fabric_ops net_fabric_torus = {
    .name = "torus",
    .kind_names = kind_names,
    .keys = keys,
    .shows_dims = 1,
    .load = torus_load,
    .view = torus_view,
    .build = torus_build,
    .route = net_fabric_dims_route,
    .node_name = net_fabric_dims_node_name,
    .farthest = net_fabric_dims_farthest,
};
