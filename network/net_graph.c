/*
 * net_graph.c: explicit graphs of the flow model and their routing
 * (docs/NETWORK.md section 3): building one through its fabric kind's
 * ops (net_fabric.h; the layouts live in net_fabric_<kind>.c), routes,
 * node names, and the checks every graph passes (positive links,
 * connectivity, loop-free routes that end where they should).
 *
 * Nodes 0..npus-1 are the NPUs (node r is rank r); switches follow.  Every
 * cable is two directed links, one per direction, each with the cable's
 * bandwidth and latency.  Links are laid out in groups whose ids are
 * computed, not searched, so a route costs O(hops).
 */
#include "net_fabric.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- construction ----------------------------------------------------- */

void net_graph_add_links(net_graph *g, int count)
{
    int n = g->nlinks + count;
    g->lsrc = loom_xrealloc(g->lsrc, (size_t)n * sizeof *g->lsrc);
    g->ldst = loom_xrealloc(g->ldst, (size_t)n * sizeof *g->ldst);
    g->lbw = loom_xrealloc(g->lbw, (size_t)n * sizeof *g->lbw);
    g->llat = loom_xrealloc(g->llat, (size_t)n * sizeof *g->llat);
    g->lcls = loom_xrealloc(g->lcls, (size_t)n * sizeof *g->lcls);
}

void net_graph_set_link(net_graph *g, int id, int src, int dst, double bw, sim_time lat,
                        int cls)
{
    g->lsrc[id] = src;
    g->ldst[id] = dst;
    g->lbw[id] = bw;
    g->llat[id] = lat;
    g->lcls[id] = (uint8_t)cls;
}

net_graph *net_graph_build(const net_topo *t, loom_err *err)
{
    net_graph *g = loom_xcalloc(1, sizeof *g);
    g->kind = t->x.kind;
    g->t = t;
    g->fabric = net_fabric_of(t->x.kind);
    LOOM_ASSERT(g->fabric != NULL);
    if (g->fabric->build(g, t, err) < 0) { /* the view refused all else */
        net_graph_destroy(g);
        return NULL;
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
    free(g->dist);
    free(g);
}

/* ---- routing ------------------------------------------------------------ */

int net_graph_route(const net_graph *g, int src, int dst, uint64_t hash,
                    uint32_t *out)
{
    return g->fabric->route(g, src, dst, hash, out);
}

/* ---- names ------------------------------------------------------------- */

void net_graph_node_name(const net_graph *g, int node, char *buf, size_t sz)
{
    if (node < g->npus) {
        snprintf(buf, sz, "npu%d", node);
        return;
    }
    if (g->fabric->node_name && g->fabric->node_name(g, node, buf, sz))
        return;
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

#define CHECK_LINKS 5e7 /* links net_graph_check walks at most checking routes */

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
     * every pair up to 128 NPUs, else 128 sources to every destination,
     * or to every dstep-th one when that could walk more than CHECK_LINKS
     * links (a 512 x 512 torus: 17 G links, minutes, for a sanity check) */
    uint32_t *path = loom_xmalloc(((size_t)g->max_hops + 1) * sizeof *path);
    int *visit = loom_xcalloc((size_t)g->nnodes, sizeof *visit);
    int mark = 0;
    int step = g->npus <= 128 ? 1 : g->npus / 128;
    double work = (double)((g->npus + step - 1) / step) * g->npus * (g->max_hops + 1);
    int dstep = work > CHECK_LINKS ? (int)ceil(work / CHECK_LINKS) : 1;
    for (int s = 0; s < g->npus && rc == 0; s += step)
        for (int d = s % dstep; d < g->npus && rc == 0; d += dstep) {
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

int net_graph_route_fixed(const net_graph *g)
{
    /* the kinds whose route ignores its hash (one path per pair); a kind
     * that spreads over equal-cost paths is not listed */
    return g->fabric == &net_fabric_dims || g->fabric == &net_fabric_rail ||
           g->fabric == &net_fabric_dragonfly;
}
