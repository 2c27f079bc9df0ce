/*
 * net_graph.c: explicit graphs of the flow model and their routing
 * (docs/NETWORK.md section 3).
 *
 * Nodes 0..npus-1 are the NPUs (node r is rank r); switches follow.  Every
 * cable is two directed links, one per direction, each with the cable's
 * bandwidth and latency.  Links are laid out in groups whose ids are
 * computed, not searched, so a route costs O(hops):
 *
 *   dims (ASTRA-sim's form, and tori)  per dimension d, from base[d]:
 *       RING n>=3: 2 links per rank (+1 and -1 neighbour), n=2: 1
 *       FULLY_CONNECTED: n-1 per rank (to every other member of its line)
 *       SWITCH: 2 per rank (up to the line's switch, down from it)
 *     routed in dimension order (0 first); on a ring the shorter way
 *     round, ties clockwise (+1).
 *   fat tree   host up/down, leaf up/down (2 tiers), agg up/down (3 tiers);
 *     up/down routing, the uplink picked by the flow's hash (ECMP).
 *   rail       GPU <-> its node's NVSwitch, GPU i <-> rail switch i; a
 *     transfer between GPUs of different rails and nodes goes over NVLink
 *     to the GPU on the destination's rail, then over that rail (PXN).
 *   dragonfly  host <-> router, router <-> router inside a group, one
 *     global cable per pair of groups; minimal routing.
 */
#include "net_int.h"
#include "net_topo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- construction ----------------------------------------------------- */

static void add_links(net_graph *g, int count)
{
    int n = g->nlinks + count;
    g->lsrc = loom_xrealloc(g->lsrc, (size_t)n * sizeof *g->lsrc);
    g->ldst = loom_xrealloc(g->ldst, (size_t)n * sizeof *g->ldst);
    g->lbw = loom_xrealloc(g->lbw, (size_t)n * sizeof *g->lbw);
    g->llat = loom_xrealloc(g->llat, (size_t)n * sizeof *g->llat);
    g->lcls = loom_xrealloc(g->lcls, (size_t)n * sizeof *g->lcls);
}

static void set_link(net_graph *g, int id, int src, int dst, double bw,
                     sim_time lat, int cls)
{
    g->lsrc[id] = src;
    g->ldst[id] = dst;
    g->lbw[id] = bw;
    g->llat[id] = lat;
    g->lcls[id] = (uint8_t)cls;
}

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

static void build_dims(net_graph *g, const net_topo *t)
{
    int N = g->npus;
    static const char *const kn[] = {"Ring", "FullyConnected", "Switch"};
    g->nnodes = N;
    g->max_hops = 0;
    for (int d = 0; d < t->ndims; d++) {
        const net_dim *x = &t->dims[d];
        int n = x->npus;
        if (t->x.kind == NET_X_TORUS)
            snprintf(g->clsname[d], sizeof g->clsname[d], "torus dim %d", d);
        else
            snprintf(g->clsname[d], sizeof g->clsname[d], "dim %d %s", d,
                     kn[x->kind]);
        g->base[d] = g->nlinks;
        g->nbase[d] = g->nnodes;
        if (n < 2)
            continue;
        int s = stride_of(t, d);
        switch (x->kind) {
        case NET_RING: {
            int k = n >= 3 ? 2 : 1;
            g->ring_k[d] = k;
            add_links(g, N * k);
            for (int r = 0; r < N; r++) {
                int c = dcoord(t, r, d);
                int nx = r + (((c + 1) % n) - c) * s;
                int pv = r + (((c + n - 1) % n) - c) * s;
                set_link(g, g->nlinks + r * k, r, nx, x->bw, x->latency, d);
                if (k == 2)
                    set_link(g, g->nlinks + r * k + 1, r, pv, x->bw,
                             x->latency, d);
            }
            g->nlinks += N * k;
            g->max_hops += n / 2;
            break;
        }
        case NET_FULLY_CONNECTED:
            add_links(g, N * (n - 1));
            for (int r = 0; r < N; r++) {
                int c = dcoord(t, r, d);
                for (int c2 = 0; c2 < n; c2++) {
                    if (c2 == c)
                        continue;
                    int id = g->nlinks + r * (n - 1) + (c2 < c ? c2 : c2 - 1);
                    set_link(g, id, r, r + (c2 - c) * s, x->bw, x->latency, d);
                }
            }
            g->nlinks += N * (n - 1);
            g->max_hops += 1;
            break;
        case NET_SWITCH: {
            add_links(g, 2 * N);
            for (int r = 0; r < N; r++) {
                int sw = g->nnodes + line_of(t, r, d);
                set_link(g, g->nlinks + 2 * r, r, sw, x->bw, x->latency, d);
                set_link(g, g->nlinks + 2 * r + 1, sw, r, x->bw, x->latency, d);
            }
            g->nlinks += 2 * N;
            g->nnodes += N / n;
            g->max_hops += 2;
            break;
        }
        }
    }
    g->ncls = t->ndims;
}

static void build_fat_tree(net_graph *g, const net_xtopo *x)
{
    int N = x->npus, H = x->hosts_per_leaf, L = N / H;
    int u1 = g->up1, u2 = g->up2;
    const net_link_class *c = x->cls;
    g->nbase[0] = N;           /* leaves */
    g->nbase[1] = N + L;       /* spines (2 tiers) or aggregation (3) */
    int n1 = x->tiers == 2 ? u1 : (L / x->leaves_per_pod) * u1;
    g->nbase[2] = g->nbase[1] + n1; /* cores (3 tiers) */
    g->nnodes = g->nbase[2] + (x->tiers == 3 ? u1 * u2 : 0);
    int total = 2 * N + 2 * L * u1 + (x->tiers == 3 ? 2 * n1 * u2 : 0);
    add_links(g, total);
    g->base[0] = 0;
    g->base[1] = N;
    g->base[2] = 2 * N;
    g->base[3] = 2 * N + L * u1;
    g->base[4] = 2 * N + 2 * L * u1;
    g->base[5] = g->base[4] + n1 * u2;
    for (int r = 0; r < N; r++) {
        int leaf = g->nbase[0] + r / H;
        set_link(g, g->base[0] + r, r, leaf, c[0].bw, c[0].latency, 0);
        set_link(g, g->base[1] + r, leaf, r, c[0].bw, c[0].latency, 0);
    }
    for (int lf = 0; lf < L; lf++)
        for (int j = 0; j < u1; j++) {
            int up;
            if (x->tiers == 2)
                up = g->nbase[1] + j;
            else
                up = g->nbase[1] + (lf / x->leaves_per_pod) * u1 + j;
            int leaf = g->nbase[0] + lf;
            set_link(g, g->base[2] + lf * u1 + j, leaf, up, c[1].bw,
                     c[1].latency, 1);
            set_link(g, g->base[3] + lf * u1 + j, up, leaf, c[1].bw,
                     c[1].latency, 1);
        }
    if (x->tiers == 3)
        for (int a = 0; a < n1; a++) { /* agg a = pod * u1 + j */
            int j = a % u1;
            for (int k = 0; k < u2; k++) {
                int core = g->nbase[2] + j * u2 + k;
                int agg = g->nbase[1] + a;
                set_link(g, g->base[4] + a * u2 + k, agg, core, c[2].bw,
                         c[2].latency, 2);
                set_link(g, g->base[5] + a * u2 + k, core, agg, c[2].bw,
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
}

static void build_rail(net_graph *g, const net_xtopo *x)
{
    int S = x->nodes, G = x->gpus_per_node, N = S * G;
    const net_link_class *c = x->cls;
    g->nbase[0] = N;     /* NVSwitches */
    g->nbase[1] = N + S; /* rail switches */
    g->nnodes = N + S + G;
    add_links(g, 4 * N);
    for (int i = 0; i < 4; i++)
        g->base[i] = i * N;
    for (int r = 0; r < N; r++) {
        int nvs = g->nbase[0] + r / G, rail = g->nbase[1] + r % G;
        set_link(g, g->base[0] + r, r, nvs, c[0].bw, c[0].latency, 0);
        set_link(g, g->base[1] + r, nvs, r, c[0].bw, c[0].latency, 0);
        set_link(g, g->base[2] + r, r, rail, c[1].bw, c[1].latency, 1);
        set_link(g, g->base[3] + r, rail, r, c[1].bw, c[1].latency, 1);
    }
    g->nlinks = 4 * N;
    g->max_hops = 4;
    g->ncls = 2;
    snprintf(g->clsname[0], sizeof g->clsname[0], "nvlink");
    snprintf(g->clsname[1], sizeof g->clsname[1], "rail");
}

/* Dragonfly: the global cable from group G to group G2 leaves from port
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

static void build_dragonfly(net_graph *g, const net_xtopo *x)
{
    int gr = x->groups, a = x->routers, hp = x->hosts_per_router;
    int N = gr * a * hp, R = gr * a;
    const net_link_class *c = x->cls;
    g->nbase[0] = N;
    g->nnodes = N + R;
    int total = 2 * N + R * (a - 1) + gr * (gr - 1);
    add_links(g, total);
    g->base[0] = 0;
    g->base[1] = N;
    g->base[2] = 2 * N;
    g->base[3] = 2 * N + R * (a - 1);
    for (int r = 0; r < N; r++) {
        int rt = N + r / hp;
        set_link(g, g->base[0] + r, r, rt, c[0].bw, c[0].latency, 0);
        set_link(g, g->base[1] + r, rt, r, c[0].bw, c[0].latency, 0);
    }
    for (int rr = 0; rr < R; rr++)
        for (int y = 0; y < a; y++) {
            int r2 = (rr / a) * a + y;
            if (r2 == rr)
                continue;
            set_link(g, df_local(g, x, rr, r2), N + rr, N + r2, c[1].bw,
                     c[1].latency, 1);
        }
    for (int G = 0; G < gr; G++)
        for (int G2 = 0; G2 < gr; G2++) {
            if (G2 == G)
                continue;
            int from = N + G * a + df_gate(x, G, G2);
            int to = N + G2 * a + df_gate(x, G2, G);
            set_link(g, df_global(g, x, G, G2), from, to, c[2].bw,
                     c[2].latency, 2);
        }
    g->nlinks = total;
    g->max_hops = 5;
    g->ncls = 3;
    snprintf(g->clsname[0], sizeof g->clsname[0], "host-router");
    snprintf(g->clsname[1], sizeof g->clsname[1], "local");
    snprintf(g->clsname[2], sizeof g->clsname[2], "global");
}

net_graph *net_graph_build(const net_topo *t, loom_err *err)
{
    (void)err;
    net_graph *g = loom_xcalloc(1, sizeof *g);
    g->kind = t->x.kind;
    g->t = t;
    const net_xtopo *x = &t->x;
    switch (t->x.kind) {
    case NET_X_DIMS:
    case NET_X_TORUS:
        g->npus = 1;
        for (int d = 0; d < t->ndims; d++)
            g->npus *= t->dims[d].npus;
        build_dims(g, t);
        break;
    case NET_X_FAT_TREE:
        g->npus = x->npus;
        g->up1 = net_xtopo_uplinks(x, 0);
        g->up2 = x->tiers == 3 ? net_xtopo_uplinks(x, 1) : 0;
        build_fat_tree(g, x);
        break;
    case NET_X_RAIL:
        g->npus = x->nodes * x->gpus_per_node;
        build_rail(g, x);
        break;
    case NET_X_DRAGONFLY:
        g->npus = x->groups * x->routers * x->hosts_per_router;
        build_dragonfly(g, x);
        break;
    case NET_XKINDS:
        LOOM_ASSERT(0);
    }
    if (g->max_hops < 1)
        g->max_hops = 1;
    return g;
}

void net_graph_destroy(net_graph *g)
{
    if (g == NULL)
        return;
    free(g->lsrc);
    free(g->ldst);
    free(g->lbw);
    free(g->llat);
    free(g->lcls);
    free(g->off);
    free(g->adj);
    free(g);
}

/* ---- routing ------------------------------------------------------------ */

static int route_dims(const net_graph *g, int src, int dst, uint32_t *out)
{
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
            for (int i = 0; i < steps; i++) {
                out[k++] = (uint32_t)(g->base[d] + cur * kk + (kk == 2 ? dir : 0));
                int c = (cur / s) % n;
                int nc = dir == 0 ? (c + 1) % n : (c + n - 1) % n;
                cur += (nc - c) * s;
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

static int route_fat_tree(const net_graph *g, int src, int dst, uint64_t h,
                          uint32_t *out)
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

static int route_rail(const net_graph *g, int src, int dst, uint32_t *out)
{
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

static int route_dragonfly(const net_graph *g, int src, int dst, uint32_t *out)
{
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

int net_graph_route(const net_graph *g, int src, int dst, uint64_t hash,
                    uint32_t *out)
{
    switch (g->kind) {
    case NET_X_DIMS:
    case NET_X_TORUS: return route_dims(g, src, dst, out);
    case NET_X_FAT_TREE: return route_fat_tree(g, src, dst, hash, out);
    case NET_X_RAIL: return route_rail(g, src, dst, out);
    case NET_X_DRAGONFLY: return route_dragonfly(g, src, dst, out);
    case NET_XKINDS: break;
    }
    LOOM_ASSERT(0);
    return 0;
}

/* ---- names ------------------------------------------------------------- */

void net_graph_node_name(const net_graph *g, int node, char *buf, size_t sz)
{
    if (node < g->npus) {
        snprintf(buf, sz, "npu%d", node);
        return;
    }
    const net_topo *t = g->t;
    switch (g->kind) {
    case NET_X_DIMS:
    case NET_X_TORUS:
        for (int d = t->ndims - 1; d >= 0; d--)
            if (t->dims[d].kind == NET_SWITCH && t->dims[d].npus >= 2 &&
                node >= g->nbase[d]) {
                snprintf(buf, sz, "sw%d.%d", d, node - g->nbase[d]);
                return;
            }
        break;
    case NET_X_FAT_TREE:
        if (node < g->nbase[1])
            snprintf(buf, sz, "leaf%d", node - g->nbase[0]);
        else if (node < g->nbase[2])
            snprintf(buf, sz, "%s%d", t->x.tiers == 2 ? "spine" : "agg",
                     node - g->nbase[1]);
        else
            snprintf(buf, sz, "core%d", node - g->nbase[2]);
        return;
    case NET_X_RAIL:
        if (node < g->nbase[1])
            snprintf(buf, sz, "nvs%d", node - g->nbase[0]);
        else
            snprintf(buf, sz, "rail%d", node - g->nbase[1]);
        return;
    case NET_X_DRAGONFLY: {
        int r = node - g->nbase[0];
        snprintf(buf, sz, "rt%d.%d", r / t->x.routers, r % t->x.routers);
        return;
    }
    case NET_XKINDS: break;
    }
    snprintf(buf, sz, "node%d", node);
}

/* ---- checks ------------------------------------------------------------ */

void net_graph_csr(net_graph *g)
{
    if (g->off)
        return;
    g->off = loom_xcalloc((size_t)g->nnodes + 1, sizeof *g->off);
    g->adj = loom_xmalloc(((size_t)g->nlinks + 1) * sizeof *g->adj);
    for (int i = 0; i < g->nlinks; i++)
        g->off[g->lsrc[i] + 1]++;
    for (int v = 0; v < g->nnodes; v++)
        g->off[v + 1] += g->off[v];
    int *fill = loom_xmalloc((size_t)g->nnodes * sizeof *fill);
    memcpy(fill, g->off, (size_t)g->nnodes * sizeof *fill);
    for (int i = 0; i < g->nlinks; i++)
        g->adj[fill[g->lsrc[i]]++] = i;
    free(fill);
}

static const char *file_of(const net_graph *g)
{
    return g->t->x.file[0] ? g->t->x.file : "network";
}

int net_graph_check(net_graph *g, loom_err *err)
{
    char a[28], b[28];
    /* bandwidth: every link positive (the loaders refuse 0 with the key
     * named; this catches topologies built in code) */
    for (int i = 0; i < g->nlinks; i++)
        if (!(g->lbw[i] > 0) || g->llat[i] < 0) {
            net_graph_node_name(g, g->lsrc[i], a, sizeof a);
            net_graph_node_name(g, g->ldst[i], b, sizeof b);
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: link %s->%s (%s) has bandwidth %g "
                                "bytes/s and latency %lld ps: bandwidth must "
                                "be > 0, latency >= 0", file_of(g), a, b,
                                g->clsname[g->lcls[i]], g->lbw[i],
                                (long long)g->llat[i]);
        }
    /* connectivity: every cable is a pair of links, so reaching every node
     * from node 0 along links means every node reaches every other */
    net_graph_csr(g);
    int *seen = loom_xcalloc((size_t)g->nnodes, sizeof *seen);
    int *q = loom_xmalloc((size_t)g->nnodes * sizeof *q);
    int qh = 0, qt = 0;
    seen[0] = 1;
    q[qt++] = 0;
    while (qh < qt) {
        int v = q[qh++];
        for (int e = g->off[v]; e < g->off[v + 1]; e++) {
            int w = g->ldst[g->adj[e]];
            if (!seen[w]) {
                seen[w] = 1;
                q[qt++] = w;
            }
        }
    }
    int rc = 0;
    for (int v = 0; v < g->nnodes && rc == 0; v++)
        if (!seen[v]) {
            net_graph_node_name(g, v, b, sizeof b);
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: the topology is disconnected: npu0 cannot "
                              "reach %s (%d of %d nodes reachable)",
                              file_of(g), b, qt, g->nnodes);
        }
    free(seen);
    free(q);
    if (rc < 0)
        return rc;
    /* routes: each a walk from src to dst that never revisits a node;
     * every pair up to 128 NPUs, else 128 sources to every destination */
    uint32_t *path = loom_xmalloc(((size_t)g->max_hops + 1) * sizeof *path);
    int *visit = loom_xcalloc((size_t)g->nnodes, sizeof *visit);
    int mark = 0;
    int step = g->npus <= 128 ? 1 : g->npus / 128;
    for (int s = 0; s < g->npus && rc == 0; s += step)
        for (int d = 0; d < g->npus && rc == 0; d++) {
            if (s == d)
                continue;
            int np = net_graph_route(g, s, d, net_mix64((uint64_t)s * 7919 + d),
                                     path);
            int cur = s;
            mark++;
            visit[cur] = mark;
            for (int i = 0; i < np && rc == 0; i++) {
                int l = (int)path[i];
                if (l < 0 || l >= g->nlinks || g->lsrc[l] != cur) {
                    net_graph_node_name(g, cur, a, sizeof a);
                    rc = loom_err_set(err, LOOM_EINTERNAL,
                                      "%s: route npu%d->npu%d leaves %s on a "
                                      "link that does not start there",
                                      file_of(g), s, d, a);
                    break;
                }
                cur = g->ldst[l];
                if (visit[cur] == mark) {
                    net_graph_node_name(g, cur, a, sizeof a);
                    rc = loom_err_set(err, LOOM_EUSAGE,
                                      "%s: routing loop: the route from npu%d "
                                      "to npu%d passes %s twice", file_of(g),
                                      s, d, a);
                }
                visit[cur] = mark;
            }
            if (rc == 0 && cur != d)
                rc = loom_err_set(err, LOOM_EINTERNAL,
                                  "%s: the route from npu%d to npu%d ends at "
                                  "node %d", file_of(g), s, d, cur);
        }
    free(path);
    free(visit);
    return rc;
}
