/*
 * net_fabric_dims.c: ASTRA-sim's multi-dimensional form (docs/MODEL.md 2,
 * NETWORK.md 3.1): per dimension Ring, FullyConnected or Switch, read from
 * its own network file (topology, npus_count, bandwidth, latency lists;
 * no `kind` key), and its graph for the flow model, which the torus
 * shares.  No view to compute: the dimensions are the topology.
 *
 * Layout, per dimension d from base[d]:
 *   RING n>=3: 2 links per rank (+1 and -1 neighbour), n=2: 1
 *   FULLY_CONNECTED: n-1 per rank (to every other member of its line)
 *   SWITCH: 2 per rank (up to the line's switch, down from it); the
 *     line's switches from nbase[d]
 * routed in dimension order (0 first); on a ring the shorter way round,
 * ties clockwise (+1).
 */
#include "net_fabric.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the file ------------------------------------------------------------ */

static int dims_load(net_rd *r, yaml_node_t *root, net_topo *out)
{
    static const char *const k4[] = {"topology", "npus_count", "bandwidth", "latency"};
    int counts[4];
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const char *k = net_rd_scal(net_rd_node(r, p->key));
        int i;
        for (i = 0; k && i < 4; i++)
            if (strcmp(k, k4[i]) == 0)
                break;
        if (i == 4)
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: unknown key '%s' (known keys: topology, npus_count, "
                                "bandwidth, latency; or 'kind' for an explicit fabric)",
                                r->path, k ? k : "?");
    }
    for (int k = 0; k < 4; k++) {
        yaml_node_t *v = net_rd_lookup(r, root, k4[k]);
        int *it, one, cnt, sc, rc;
        if (v == NULL)
            return loom_err_set(r->err, LOOM_EUSAGE, "%s: missing key '%s' (one entry per dimension)",
                                r->path, k4[k]);
        if (net_rd_items(r, v, &it, &cnt, &one, &sc) < 0 || cnt < 1 || cnt > NET_MAX_DIMS)
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: key '%s' must be a list of 1 to %d entries", r->path, k4[k],
                                NET_MAX_DIMS);
        counts[k] = cnt;
        for (int d = 0; d < cnt; d++) {
            yaml_node_t *n = net_rd_node(r, it[d]);
            net_dim *dim = &out->dims[d];
            double v2;
            int e;
            switch (k) {
            case 0:
                rc = net_rd_word(r, n, k4[k], net_dim_kind_names, NULL, NET_DIM_KINDS, &e);
                if (rc < 0)
                    return rc;
                dim->kind = (net_dim_kind)e;
                break;
            case 1:
                if ((rc = net_rd_int(r, n, k4[k], d, 1, 1 << 24, &dim->npus)) < 0)
                    return rc;
                break;
            case 2:
                if ((rc = net_rd_num(r, n, k4[k], d, 0, 1, 1e9, &v2)) < 0)
                    return rc;
                dim->bw = v2 * NET_GIB;
                break;
            case 3:
                if ((rc = net_rd_num(r, n, k4[k], d, 0, 0, 1e12, &v2)) < 0)
                    return rc;
                dim->latency = (sim_time)llround(v2 * SIM_PS_PER_NS);
                break;
            }
        }
    }
    for (int k = 1; k < 4; k++)
        if (counts[k] != counts[0])
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: 'topology' has %d entries but '%s' has %d", r->path,
                                counts[0], k4[k], counts[k]);
    out->ndims = counts[0];
    snprintf(out->x.file, sizeof out->x.file, "%s", r->path);
    return 0;
}

/* ---- the graph ----------------------------------------------------------- */

static int stride_of(const net_topo *t, int d)
{
    int s = 1;
    for (int k = 0; k < d; k++)
        s *= t->dims[k].npus;
    return s;
}

static int dcoord(const net_topo *t, int r, int d)
{
    return (r / stride_of(t, d)) % t->dims[d].npus;
}

/* line of r along d: r with its coordinate d removed */
static int line_of(const net_topo *t, int r, int d)
{
    int s = stride_of(t, d), n = t->dims[d].npus;
    return r % s + (r / (s * n)) * s;
}

int net_fabric_dims_build(net_graph *g, const net_topo *t, loom_err *err)
{
    (void)err; /* the view refused what cannot be built */
    g->npus = 1;
    for (int d = 0; d < t->ndims; d++)
        g->npus *= t->dims[d].npus;
    int N = g->npus;
    g->nnodes = N;
    g->max_hops = 0;
    for (int d = 0; d < t->ndims; d++) {
        const net_dim *x = &t->dims[d];
        int n = x->npus;
        snprintf(g->clsname[d], sizeof g->clsname[d], "dim %d %s", d,
                 net_dim_kind_name(x->kind));
        g->base[d] = g->nlinks;
        g->nbase[d] = g->nnodes;
        if (n < 2)
            continue;
        int s = stride_of(t, d);
        switch (x->kind) {
        case NET_RING: {
            int k = n >= 3 ? 2 : 1;
            g->ring_k[d] = k;
            net_graph_add_links(g, N * k);
            for (int r = 0; r < N; r++) {
                int c = dcoord(t, r, d);
                int nx = r + (((c + 1) % n) - c) * s;
                int pv = r + (((c + n - 1) % n) - c) * s;
                net_graph_set_link(g, g->nlinks + r * k, r, nx, x->bw, x->latency, d);
                if (k == 2)
                    net_graph_set_link(g, g->nlinks + r * k + 1, r, pv, x->bw,
                             x->latency, d);
            }
            g->nlinks += N * k;
            g->max_hops += n / 2;
            break;
        }
        case NET_FULLY_CONNECTED:
            net_graph_add_links(g, N * (n - 1));
            for (int r = 0; r < N; r++) {
                int c = dcoord(t, r, d);
                for (int c2 = 0; c2 < n; c2++) {
                    if (c2 == c)
                        continue;
                    int id = g->nlinks + r * (n - 1) + (c2 < c ? c2 : c2 - 1);
                    net_graph_set_link(g, id, r, r + (c2 - c) * s, x->bw, x->latency, d);
                }
            }
            g->nlinks += N * (n - 1);
            g->max_hops += 1;
            break;
        case NET_SWITCH: {
            net_graph_add_links(g, 2 * N);
            for (int r = 0; r < N; r++) {
                int sw = g->nnodes + line_of(t, r, d);
                net_graph_set_link(g, g->nlinks + 2 * r, r, sw, x->bw, x->latency, d);
                net_graph_set_link(g, g->nlinks + 2 * r + 1, sw, r, x->bw, x->latency, d);
            }
            g->nlinks += 2 * N;
            g->nnodes += N / n;
            g->max_hops += 2;
            break;
        }
        }
    }
    g->ncls = t->ndims;
    return 0;
}

int net_fabric_dims_route(const net_graph *g, int src, int dst, uint64_t hash, uint32_t *out)
{
    (void)hash; /* one path per pair: dimension order */
    const net_topo *t = g->t;
    int k = 0, cur = src;
    for (int d = 0; d < t->ndims; d++) {
        int n = t->dims[d].npus, s = stride_of(t, d);
        int a = (cur / s) % n, b = (dst / s) % n;
        if (a == b)
            continue;
        switch (t->dims[d].kind) {
        case NET_RING: {
            int cw = (b - a + n) % n, kk = g->ring_k[d];
            int dir = cw <= n - cw ? 0 : 1; /* ties clockwise */
            int steps = dir == 0 ? cw : n - cw;
            /* fast path: the coordinate is tracked, not divided out per hop;
             * the wrap is a jump of -(n-1)*s */
            for (int i = 0, c = a; i < steps; i++) {
                out[k++] = (uint32_t)(g->base[d] + cur * kk + (kk == 2 ? dir : 0));
                if (dir == 0) {
                    cur += c == n - 1 ? -(n - 1) * s : s;
                    c = c == n - 1 ? 0 : c + 1;
                } else {
                    cur += c == 0 ? (n - 1) * s : -s;
                    c = c == 0 ? n - 1 : c - 1;
                }
            }
            break;
        }
        case NET_FULLY_CONNECTED:
            out[k++] = (uint32_t)(g->base[d] + cur * (n - 1) + (b < a ? b : b - 1));
            cur += (b - a) * s;
            break;
        case NET_SWITCH: {
            int nxt = cur + (b - a) * s;
            out[k++] = (uint32_t)(g->base[d] + 2 * cur);
            out[k++] = (uint32_t)(g->base[d] + 2 * nxt + 1);
            cur = nxt;
            break;
        }
        }
    }
    return k;
}

int net_fabric_dims_farthest(const net_graph *g, int src, int *hops, sim_time *lat)
{
    /* exact because net_fabric_dims_build gives every link of dimension d
     * the latency t->dims[d].latency, and a route handles dimension d from
     * a node whose coordinate d is still src's, so its part in d is the
     * route from src to src moved along d alone, whatever the other
     * coordinates are (test_topo checks it against the all-pairs loop) */
    const net_topo *t = g->t;
    uint32_t *path = loom_xmalloc(((size_t)g->max_hops + 1) * sizeof *path);
    int h = 0;
    sim_time l = 0;
    for (int d = 0; d < t->ndims; d++) {
        int n = t->dims[d].npus, s = stride_of(t, d), a = dcoord(t, src, d);
        int hd = 0;
        sim_time ld = 0;
        for (int b = 0; b < n; b++) { /* src with coordinate d moved to b */
            if (b == a)
                continue;
            int np = net_fabric_dims_route(g, src, src + (b - a) * s, 0, path);
            sim_time x = 0;
            for (int i = 0; i < np; i++)
                x += g->llat[path[i]];
            hd = np > hd ? np : hd;
            ld = x > ld ? x : ld;
        }
        h += hd;
        l += ld;
    }
    free(path);
    *hops = h;
    *lat = l;
    return 0;
}

/* the switch of a Switch dimension's line: "sw<dim>.<line>" */
int net_fabric_dims_node_name(const net_graph *g, int node, char *buf, size_t sz)
{
    const net_topo *t = g->t;
    for (int d = t->ndims - 1; d >= 0; d--)
        if (t->dims[d].kind == NET_SWITCH && t->dims[d].npus >= 2 && node >= g->nbase[d]) {
            snprintf(buf, sz, "sw%d.%d", d, node - g->nbase[d]);
            return 1;
        }
    return 0;
}

const net_fabric_ops net_fabric_dims = {
    .name = "dims",
    .shows_dims = 1,
    .load = dims_load,
    .build = net_fabric_dims_build,
    .route = net_fabric_dims_route,
    .node_name = net_fabric_dims_node_name,
    .farthest = net_fabric_dims_farthest,
};
