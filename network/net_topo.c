/*
 * net_topo.c: reading a network file of either form (explicit fabric or
 * ASTRA-sim's lists) and `loom topo describe`: counts, link classes,
 * diameter along loom's routes and bisection bandwidth by max-flow
 * (docs/NETWORK.md 3.7).  Each fabric kind's keys, graph and view live in
 * net_fabric_<kind>.c behind the table of net_fabric.h.
 */
#include "net_topo.h"
#include "net_fabric.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yamlio.h"

int net_topo_load_file(const char *path, net_topo *out, loom_err *err)
{
    int form = net_file_form(path);
    if (form == NET_FORM_NS3_CONFIG || form == NET_FORM_NS3_TOPO)
        return net_ns3_load(path, NULL, out, NULL, NULL, err);
    if (form == NET_FORM_HTSIM)
        return net_htsim_load(path, out, NULL, NULL, err);
    yaml_document_t d;
    int rc = loom_yaml_load_file(path, &d, err);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    yaml_node_t *root = yaml_document_get_root_node(&d);
    net_rd r = {&d, path, err};
    if (root == NULL || root->type != YAML_MAPPING_NODE)
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: the top level must be a mapping of keys", path);
    else if (net_rd_lookup(&r, root, "kind"))
        rc = net_xtopo_load(&d, path, out, err);
    else /* ASTRA-sim's lists */
        rc = net_fabric_dims.load(&r, root, out);
    yaml_document_delete(&d);
    return rc;
}

/* ---- describe ------------------------------------------------------------- */

/* Max-flow (Dinic) from the first half of the NPUs to the second, over
 * link capacities in bytes/s: the minimum cut separating those halves,
 * with every switch free to fall on either side. */
typedef struct mf {
    int n;         /* vertices: nodes + source + sink */
    int *head;     /* first edge per vertex */
    int *nxt, *to; /* edge lists */
    double *cap;   /* residual capacities */
    int ne;        /* edges */
    int *lvl, *it, *q;
} mf;

static void mf_edge(mf *m, int u, int v, double c)
{
    m->to[m->ne] = v;
    m->cap[m->ne] = c;
    m->nxt[m->ne] = m->head[u];
    m->head[u] = m->ne++;
    m->to[m->ne] = u;
    m->cap[m->ne] = 0;
    m->nxt[m->ne] = m->head[v];
    m->head[v] = m->ne++;
}

static int mf_bfs(mf *m, int s, int t)
{
    for (int i = 0; i < m->n; i++)
        m->lvl[i] = -1;
    int qh = 0, qt = 0;
    m->lvl[s] = 0;
    m->q[qt++] = s;
    while (qh < qt) {
        int u = m->q[qh++];
        for (int e = m->head[u]; e >= 0; e = m->nxt[e])
            if (m->cap[e] > 1e-9 && m->lvl[m->to[e]] < 0) {
                m->lvl[m->to[e]] = m->lvl[u] + 1;
                m->q[qt++] = m->to[e];
            }
    }
    return m->lvl[t] >= 0;
}

/* iterative blocking-flow DFS */
static double mf_dfs(mf *m, int s, int t)
{
    double total = 0;
    int *stk = m->q; /* reuse: path of edges */
    for (;;) {
        int depth = 0, u = s;
        for (;;) {
            if (u == t)
                break;
            int e;
            for (e = m->it[u]; e >= 0; e = m->nxt[e])
                if (m->cap[e] > 1e-9 && m->lvl[m->to[e]] == m->lvl[u] + 1)
                    break;
            m->it[u] = e;
            if (e < 0) { /* dead end: retreat */
                if (depth == 0)
                    return total;
                m->lvl[u] = -1;
                depth--;
                u = m->to[stk[depth] ^ 1];
                m->it[u] = m->nxt[m->it[u]];
                continue;
            }
            stk[depth++] = e;
            u = m->to[e];
        }
        double f = INFINITY;
        for (int i = 0; i < depth; i++)
            f = fmin(f, m->cap[stk[i]]);
        for (int i = 0; i < depth; i++) {
            m->cap[stk[i]] -= f;
            m->cap[stk[i] ^ 1] += f;
        }
        total += f;
    }
}

static double bisection(const net_graph *g)
{
    mf m = {0};
    int S = g->nnodes, T = g->nnodes + 1;
    m.n = g->nnodes + 2;
    int maxe = 2 * (g->nlinks + g->npus);
    m.head = loom_xmalloc((size_t)m.n * sizeof *m.head);
    m.nxt = loom_xmalloc((size_t)maxe * sizeof *m.nxt);
    m.to = loom_xmalloc((size_t)maxe * sizeof *m.to);
    m.cap = loom_xmalloc((size_t)maxe * sizeof *m.cap);
    m.lvl = loom_xmalloc((size_t)m.n * sizeof *m.lvl);
    m.it = loom_xmalloc((size_t)m.n * sizeof *m.it);
    m.q = loom_xmalloc(((size_t)m.n + 1) * sizeof *m.q);
    for (int i = 0; i < m.n; i++)
        m.head[i] = -1;
    double inf = 0;
    for (int i = 0; i < g->nlinks; i++) {
        mf_edge(&m, g->lsrc[i], g->ldst[i], g->lbw[i]);
        inf += g->lbw[i];
    }
    int half = g->npus / 2;
    for (int r = 0; r < g->npus; r++) {
        if (r < half)
            mf_edge(&m, S, r, inf);
        else if (r < 2 * half)
            mf_edge(&m, r, T, inf);
    }
    double flow = 0;
    while (mf_bfs(&m, S, T)) {
        memcpy(m.it, m.head, (size_t)m.n * sizeof *m.it);
        flow += mf_dfs(&m, S, T);
    }
    free(m.head);
    free(m.nxt);
    free(m.to);
    free(m.cap);
    free(m.lvl);
    free(m.it);
    free(m.q);
    return flow;
}

static net_graph *checked_graph(const net_topo *t0, net_topo *t, loom_err *err)
{
    *t = *t0;
    if (t->x.kind != NET_X_DIMS && net_xtopo_view(t, err) < 0)
        return NULL;
    net_graph *g = net_graph_build(t, err);
    if (g && net_graph_check(g, err) < 0) {
        net_graph_destroy(g);
        return NULL;
    }
    return g;
}

/* diameter along the routes loom uses (dimension order, up/down,
 * minimal): all pairs up to 2,048 NPUs, else 256 evenly spaced sources to
 * every destination */
static void facts_of(const net_graph *g, net_topo_facts *f)
{
    memset(f, 0, sizeof *f);
    f->npus = g->npus;
    f->switches = g->nnodes - g->npus;
    f->links = g->nlinks;
    uint32_t *path = loom_xmalloc(((size_t)g->max_hops + 1) * sizeof *path);
    int step = g->npus <= 2048 ? 1 : g->npus / 256;
    f->sampled = step > 1;
    const net_fabric_ops *ops = net_fabric_of(g->t->x.kind);
    for (int s = 0; s < g->npus; s += step) {
        int h;
        sim_time l;
        if (g->npus >= 2 && ops && ops->farthest && ops->farthest(g, s, &h, &l) == 0) {
            f->diameter = h > f->diameter ? h : f->diameter;
            f->diameter_ps = l > f->diameter_ps ? l : f->diameter_ps;
            continue;
        }
        for (int d = 0; d < g->npus; d++) {
            if (s == d)
                continue;
            int np = net_graph_route(g, s, d, net_mix64((uint64_t)s << 32 | (uint32_t)d), path);
            sim_time l = 0;
            for (int i = 0; i < np; i++)
                l += g->llat[path[i]];
            if (np > f->diameter)
                f->diameter = np;
            if (l > f->diameter_ps)
                f->diameter_ps = l;
        }
    }
    free(path);
    f->bisection = g->npus >= 2 ? bisection(g) : 0;
}

int net_topo_measure(const net_topo *t0, net_topo_facts *out, loom_err *err)
{
    net_topo t;
    net_graph *g = checked_graph(t0, &t, err);
    if (g == NULL)
        return LOOM_EUSAGE;
    facts_of(g, out);
    net_graph_destroy(g);
    return 0;
}

int net_topo_describe(const net_topo *t0, FILE *o, loom_err *err)
{
    net_topo t;
    net_graph *g = checked_graph(t0, &t, err);
    if (g == NULL)
        return LOOM_EUSAGE;
    net_topo_facts f;
    facts_of(g, &f);
    const char *file = t.x.file[0] ? t.x.file : "(network)";
    fprintf(o, "%s: %s", file, net_xkind_name(t.x.kind));
    if (net_fabric_of(t.x.kind)->shows_dims) {
        fprintf(o, " (");
        for (int d = 0; d < t.ndims; d++)
            fprintf(o, "%s%s %d", d ? " x " : "", net_dim_kind_name(t.dims[d].kind),
                    t.dims[d].npus);
        fprintf(o, ")");
    }
    fprintf(o, "\n");
    fprintf(o, "  NPUs             %d\n", f.npus);
    fprintf(o, "  switches         %d\n", f.switches);
    fprintf(o, "  nodes            %d\n", g->nnodes);
    fprintf(o, "  links            %d directed (%d cables, a link per direction)\n", f.links,
            f.links / 2);
    fprintf(o, "  link classes     %-20s %8s %12s %12s\n", "", "links", "GB/s", "latency ns");
    for (int c = 0; c < g->ncls; c++) {
        int cnt = 0;
        double bw = 0;
        sim_time lat = 0;
        for (int i = 0; i < g->nlinks; i++)
            if (g->lcls[i] == c) {
                cnt++;
                bw = g->lbw[i];
                lat = g->llat[i];
            }
        if (cnt)
            fprintf(o, "                   %-20s %8d %12.6g %12.6g\n", g->clsname[c], cnt,
                    bw / NET_GIB, (double)lat / SIM_PS_PER_NS);
    }
    fprintf(o, "  diameter         %d links, %.6g ns: the longest of loom's routes between two "
               "NPUs%s\n", f.diameter, (double)f.diameter_ps / SIM_PS_PER_NS,
            f.sampled ? " (from 256 sampled sources)" : "");
    if (f.npus >= 2)
        fprintf(o,
                "  bisection        %.6g GB/s per direction: max-flow from NPUs 0..%d to NPUs "
                "%d..%d,\n"
                "                   i.e. the smallest cut between the two halves of the ranks "
                "(switches on either side)\n",
                f.bisection / NET_GIB, f.npus / 2 - 1, f.npus / 2, 2 * (f.npus / 2) - 1);
    if (t.x.kind != NET_X_DIMS) {
        fprintf(o, "  analytical view ");
        for (int d = 0; d < t.ndims; d++)
            fprintf(o, "%s%s %d @ %.6g GB/s, %.6g ns", d ? " x " : "",
                    net_dim_kind_name(t.dims[d].kind), t.dims[d].npus,
                    t.dims[d].bw / NET_GIB, (double)t.dims[d].latency / SIM_PS_PER_NS);
        fprintf(o, "\n");
    }
    fprintf(o, "  units            GB = 2^30 bytes, as in the network files\n");
    net_graph_destroy(g);
    return 0;
}
