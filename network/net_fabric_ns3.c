/*
 * net_fabric_ns3.c: ASTRA-sim's ns-3 back end's network (kind ns3;
 * docs/NETWORK.md 3.9): its config.txt (`KEY value` lines; TOPOLOGY_FILE
 * names the topology) and the topology file: line 1 `<nodes> <switches>
 * <links>`, then the switch ids, then one cable a line: `<a> <b> <rate>
 * <latency> <error rate>`.  Nodes and cables as given; NPUs are the nodes
 * not listed as switches, ranks in ascending id order, switches after
 * them.  Routes are shortest paths in hops (a BFS from every NPU); where
 * several next hops are equally short the flow's hash picks one (ECMP),
 * so a flow's route is deterministic.  Link classes: npu-switch,
 * switch-switch, npu-npu.
 *
 * Units: rates bps, Kbps, Mbps, Gbps (bits, 10^3 steps) -> bytes/s;
 * latencies s, ms, us, ns, ps -> ps.
 *
 * The topology struct holds no heap, so the load keeps what the views need
 * (the NPU and cable counts, the view's bandwidth and latency, a digest of
 * the cables) in net_xtopo and every later view uses that; the flow
 * model's graph reads the file once more (x->file names it) and refuses
 * it, naming the file, when it no longer matches that digest: a file
 * changed while loom runs is an error, not an assertion.  Layout: cable i
 * is links 2i (a -> b) and 2i + 1 (b -> a).
 */
#include "net_fabric.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_topo.h"

typedef struct ns3_file {
    int nodes, nsw, ncab;  /* nodes, switches, cables */
    int npus;              /* nodes - switches */
    int *id;               /* per graph node: its ns-3 id (owned) */
    int *a, *b;            /* per cable: graph nodes (owned) */
    double *bw;            /* per cable: bytes/s (owned) */
    sim_time *lat;         /* per cable: ps (owned) */
    double max_err;        /* the largest error rate given */
    int *off, *adj, *dst;  /* CSR of directed links by source; link heads (owned) */
    int *dist;             /* [npu * nodes + node]: hops to that NPU, -1 unreached */
    uint64_t digest;       /* FNV-1a of the cables (ends, rates, latencies) */
} ns3_file;

/* FNV-1a 64 over n bytes, continuing from h */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static void ns3_free(ns3_file *f)
{
    free(f->id);
    free(f->a);
    free(f->b);
    free(f->bw);
    free(f->lat);
    free(f->off);
    free(f->adj);
    free(f->dst);
    free(f->dist);
    memset(f, 0, sizeof *f);
}

/* "400Gbps" -> bytes/s; 0 on a bad word */
static int parse_rate(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || !(v > 0))
        return -1;
    static const struct { const char *u; double m; } units[] = {
        {"Gbps", 1e9}, {"Mbps", 1e6}, {"Kbps", 1e3}, {"kbps", 1e3}, {"bps", 1}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].u) == 0) {
            double bps = v * units[i].m;
            if (!isfinite(bps) || bps < 1 || bps > 1e18) /* 1 bit/s .. 1 Eb/s */
                return -1;
            *out = bps / 8;
            return 0;
        }
    return -1;
}

/* "0.0005ms" -> ps */
static int parse_lat(const char *s, sim_time *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return -1;
    static const struct { const char *u; double m; } units[] = {
        {"ms", 1e9}, {"us", 1e6}, {"ns", 1e3}, {"ps", 1}, {"s", 1e12}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].u) == 0) {
            if (v * units[i].m > 1e18)
                return -1;
            *out = (sim_time)llround(v * units[i].m);
            return 0;
        }
    return -1;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* splits line into at most max whitespace-separated words */
static int words(char *line, char **w, int max)
{
    int n = 0;
    char *sv;
    for (char *p = strtok_r(line, " \t\r\n", &sv); p; p = strtok_r(NULL, " \t\r\n", &sv))
        if (n < max)
            w[n++] = p;
        else
            return max + 1;
    return n;
}

#define NS3_MAX_TABLE (1L << 28) /* NPUs x nodes of the BFS tables */

/* hops from every node to NPU s: a BFS over the cables (both ways) */
static void bfs(const ns3_file *f, int s, int *d, int *q)
{
    for (int v = 0; v < f->nodes; v++)
        d[v] = -1;
    int h = 0, t = 0;
    d[s] = 0;
    q[t++] = s;
    while (h < t) {
        int v = q[h++];
        for (int k = f->off[v]; k < f->off[v + 1]; k++) {
            int w = f->dst[f->adj[k]];
            if (d[w] < 0) {
                d[w] = d[v] + 1;
                q[t++] = w;
            }
        }
    }
}

/* Reads the topology file at path into f; errors name the file and line. */
/* Line 2 (and on): the switch ids, possibly over several lines. */
static int ns3_switch_ids(ns3_file *f, char *line, char *isw, int *seen, const char *path, int ln,
                          loom_err *err)
{
    char *sv;
    for (char *p = strtok_r(line, " \t\r\n", &sv); p; p = strtok_r(NULL, " \t\r\n", &sv)) {
        int id;
        if (*seen == f->nsw)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: more switch ids than the header's %d",
                                path, ln, f->nsw);
        if (parse_int(p, 0, f->nodes - 1, &id) < 0)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: line %d: switch id '%s' is not a node id 0..%d", path, ln, p,
                                f->nodes - 1);
        if (isw[id])
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: switch %d listed twice", path, ln,
                                id);
        isw[id] = 1;
        ++*seen;
    }
    return 0;
}

/* Line 1: '<nodes> <switches> <links>'; sizes the arrays. */
static int ns3_header(ns3_file *f, char **w, int nw, const char *path, int ln, loom_err *err)
{
    if (nw != 3 || parse_int(w[0], 1, 1 << 24, &f->nodes) < 0 ||
        parse_int(w[1], 0, f->nodes - 1, &f->nsw) < 0 || parse_int(w[2], 0, 1 << 26, &f->ncab) < 0)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: line %d: the header must be '<nodes> <switches> <links>' "
                            "(nodes >= 1, switches < nodes, links >= 0)", path, ln);
    f->npus = f->nodes - f->nsw;
    f->a = loom_xmalloc(((size_t)f->ncab + 1) * sizeof *f->a);
    f->b = loom_xmalloc(((size_t)f->ncab + 1) * sizeof *f->b);
    f->bw = loom_xmalloc(((size_t)f->ncab + 1) * sizeof *f->bw);
    f->lat = loom_xmalloc(((size_t)f->ncab + 1) * sizeof *f->lat);
    return 0;
}

/* One link line, '<a> <b> <rate> <latency> [<error rate>]', into cable c. */
static int ns3_cable(ns3_file *f, char **w, int nw, int c, const char *path, int ln, loom_err *err)
{
    if (c == f->ncab)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: more links than the header's %d", path,
                            ln, f->ncab);
    if (nw < 4 || nw > 5)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: line %d: a link is '<a> <b> <rate> <latency> <error rate>' "
                            "(%d words here)", path, ln, nw);
    if (parse_int(w[0], 0, f->nodes - 1, &f->a[c]) < 0 ||
        parse_int(w[1], 0, f->nodes - 1, &f->b[c]) < 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: link ends '%s %s': node ids are 0..%d",
                            path, ln, w[0], w[1], f->nodes - 1);
    if (f->a[c] == f->b[c])
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: a link from node %d to itself", path,
                            ln, f->a[c]);
    if (parse_rate(w[2], &f->bw[c]) < 0)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: line %d: rate '%s': 1 bps .. 1e9 Gbps, as a number and Gbps, Mbps, Kbps or bps",
                            path, ln, w[2]);
    if (parse_lat(w[3], &f->lat[c]) < 0)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: line %d: latency '%s': a number >= 0 and s, ms, us, ns or ps",
                            path, ln, w[3]);
    if (nw == 5) {
        char *end;
        double er = strtod(w[4], &end);
        if (end == w[4] || *end || !(er >= 0 && er <= 1))
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: error rate '%s': a number in 0..1",
                                path, ln, w[4]);
        f->max_err = fmax(f->max_err, er);
    }
    return 0;
}

/* After the last line: the counts the header promised. */
static int ns3_counts(const ns3_file *f, int stage, int seen, int cab, const char *path, int ln,
                      loom_err *err)
{
    if (stage == 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: empty: no '<nodes> <switches> <links>' line",
                            path);
    if (stage == 1)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: %d switch ids, the header says %d",
                            path, ln, seen, f->nsw);
    if (cab != f->ncab)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: %d links, the header says %d", path, ln,
                            cab, f->ncab);
    if (f->npus < 1)
        return loom_err_set(err, LOOM_EUSAGE, "%s: every node is a switch: no NPUs", path);
    if ((long)f->npus * f->nodes > NS3_MAX_TABLE)
        return loom_err_set(err, LOOM_EUSAGE, "%s: %d NPUs x %d nodes: too large for loom's "
                            "route tables (at most %ld)", path, f->npus, f->nodes, NS3_MAX_TABLE);
    return 0;
}

/* Renumbers nodes (NPUs first in id order, then switches), builds the
 * adjacency (link l runs a->b for even l, b->a for odd) and the distance
 * table by BFS from every NPU; every NPU must reach NPU 0. */
static int ns3_index(ns3_file *f, const char *isw, const char *path, loom_err *err)
{
    int *rank = loom_xmalloc((size_t)f->nodes * sizeof *rank);
    f->id = loom_xmalloc((size_t)f->nodes * sizeof *f->id);
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int v = 0; v < f->nodes; v++)
            if (isw[v] == pass) {
                f->id[n] = v;
                rank[v] = n++;
            }
    for (int c = 0; c < f->ncab; c++) {
        f->a[c] = rank[f->a[c]];
        f->b[c] = rank[f->b[c]];
    }
    free(rank);
    int nl = 2 * f->ncab;
    f->dst = loom_xmalloc(((size_t)nl + 1) * sizeof *f->dst);
    f->off = loom_xcalloc((size_t)f->nodes + 1, sizeof *f->off);
    f->adj = loom_xmalloc(((size_t)nl + 1) * sizeof *f->adj);
    for (int l = 0; l < nl; l++) {
        int s = l & 1 ? f->b[l / 2] : f->a[l / 2];
        f->dst[l] = l & 1 ? f->a[l / 2] : f->b[l / 2];
        f->off[s + 1]++;
    }
    for (int v = 0; v < f->nodes; v++)
        f->off[v + 1] += f->off[v];
    int *fill = loom_xmalloc(((size_t)f->nodes + 1) * sizeof *fill);
    memcpy(fill, f->off, (size_t)f->nodes * sizeof *fill);
    for (int l = 0; l < nl; l++)
        f->adj[fill[l & 1 ? f->b[l / 2] : f->a[l / 2]]++] = l;
    f->dist = loom_xmalloc((size_t)f->npus * (size_t)f->nodes * sizeof *f->dist);
    for (int s = 0; s < f->npus; s++)
        bfs(f, s, f->dist + (size_t)s * f->nodes, fill);
    free(fill);
    for (int s = 1; s < f->npus; s++)
        if (f->dist[(size_t)s * f->nodes] < 0)
            return loom_err_set(err, LOOM_EUSAGE, "%s: NPU %d (node %d) has no path to NPU 0 (node %d)",
                                path, s, f->id[s], f->id[0]);
    return 0;
}

static int ns3_read(const char *path, ns3_file *f, loom_err *err)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return loom_err_set(err, LOOM_EIO, "%s: cannot open the ns-3 topology file: %s", path,
                            strerror(errno));
    char *line = NULL, *w[10];
    size_t cap = 0;
    int ln = 0, rc = 0, nw, stage = 0, seen = 0, cab = 0; /* stage 0 header, 1 switches, 2 links */
    char *isw = NULL;                                      /* [nodes]: 1 for a switch */
    while (rc == 0 && getline(&line, &cap, fp) >= 0) {
        ln++;
        if (stage == 1) {
            rc = ns3_switch_ids(f, line, isw, &seen, path, ln, err);
            if (seen == f->nsw)
                stage = 2;
        } else if ((nw = words(line, w, 9)) == 0) {
            continue;
        } else if (stage == 0) {
            rc = ns3_header(f, w, nw, path, ln, err);
            if (rc == 0) {
                isw = loom_xcalloc((size_t)f->nodes, 1);
                stage = f->nsw ? 1 : 2;
            }
        } else if ((rc = ns3_cable(f, w, nw, cab, path, ln, err)) == 0) {
            cab++;
        }
    }
    if (rc == 0)
        rc = ns3_counts(f, stage, seen, cab, path, ln, err);
    if (rc == 0)
        rc = ns3_index(f, isw, path, err);
    if (rc == 0) {
        uint64_t h = 14695981039346656037ULL;
        h = fnv(h, f->a, (size_t)f->ncab * sizeof *f->a);
        h = fnv(h, f->b, (size_t)f->ncab * sizeof *f->b);
        h = fnv(h, f->bw, (size_t)f->ncab * sizeof *f->bw);
        f->digest = fnv(h, f->lat, (size_t)f->ncab * sizeof *f->lat);
    }
    free(isw);
    free(line);
    fclose(fp);
    if (rc < 0)
        ns3_free(f);
    return rc;
}

/* The route from src to dst over the links of off/adj/dst, the next hop
 * among the equally short ones picked by hash. */
static int walk(const int *off, const int *adj, const int *head, const int *d, int src, int dst,
                uint64_t hash, uint32_t *out)
{
    int v = src, n = 0;
    while (v != dst) {
        int want = d[v] - 1, cnt = 0;
        for (int k = off[v]; k < off[v + 1]; k++)
            cnt += d[head[adj[k]]] == want;
        LOOM_ASSERT(cnt > 0 && want >= 0);
        int pick = (int)(hash % (uint64_t)cnt);
        hash = net_mix64(hash);
        for (int k = off[v]; k < off[v + 1]; k++)
            if (d[head[adj[k]]] == want && pick-- == 0) {
                out[n++] = (uint32_t)adj[k];
                v = head[adj[k]];
                break;
            }
    }
    return n;
}

static int ns3_load_yaml(net_rd *r, yaml_node_t *root, net_topo *out)
{
    (void)root;
    (void)out;
    return loom_err_set(r->err, LOOM_EUSAGE, "%s: the ns3 kind is read from ns-3's own files",
                        r->path);
}

/* The view: the logical dims (or one of all NPUs), each a Switch at the
 * bottleneck of NPU 0's routes: the smallest bandwidth on any of them,
 * and half the latency of the longest (a Switch dimension crosses two
 * links), so on one switch the view is exact. */
/* The view from a file read: kept in t->x (npus, counts, bandwidth,
 * latency, digest) so that later views need not read the file again. */
static void ns3_set_view(net_topo *t, const ns3_file *f)
{
    net_xtopo *x = &t->x;
    double bw = INFINITY;
    sim_time lat = 0;
    int hops = 0;
    uint32_t *path = loom_xmalloc(((size_t)f->nodes + 1) * sizeof *path);
    for (int d = 1; d < f->npus; d++) {
        int n = walk(f->off, f->adj, f->dst, f->dist + (size_t)d * f->nodes, 0, d, 0, path);
        sim_time l = 0;
        for (int i = 0; i < n; i++) {
            bw = fmin(bw, f->bw[path[i] / 2]);
            l += f->lat[path[i] / 2];
        }
        if (n > hops || (n == hops && l > lat))
            hops = n, lat = l;
    }
    free(path);
    if (f->npus == 1 && f->ncab > 0)
        bw = f->bw[0];
    if (!isfinite(bw))
        bw = 1e9; /* one NPU and no links: nothing is ever sent */
    x->npus = f->npus;
    x->ns3_nodes = f->nodes;
    x->ns3_links = f->ncab;
    x->ns3_bw = bw;
    x->ns3_lat = lat / 2;
    x->ns3_digest = f->digest;
}

static int ns3_view(net_topo *t, loom_err *err)
{
    net_xtopo *x = &t->x;
    if (x->ns3_nodes == 0) { /* not read at a load (a topology built by hand) */
        ns3_file f;
        int rc = ns3_read(x->file, &f, err);
        if (rc < 0)
            return rc;
        ns3_set_view(t, &f);
        ns3_free(&f);
    }
    t->ndims = 1; /* net_xtopo_view applies the logical dims */
    net_fabric_switch_dim(&t->dims[0], x->npus, x->ns3_bw, x->ns3_lat);
    return 0;
}

static int ns3_build(net_graph *g, const net_topo *t, loom_err *err)
{
    ns3_file f;
    int rc = ns3_read(t->x.file, &f, err); /* the one read after the load's */
    if (rc < 0)
        return rc;
    if (f.npus != t->x.npus || f.nodes != t->x.ns3_nodes || f.ncab != t->x.ns3_links ||
        f.digest != t->x.ns3_digest) {
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: changed while loom ran (%d nodes, %d links "
                          "when first read; now %d, %d, or other rates and latencies)",
                          t->x.file, t->x.ns3_nodes, t->x.ns3_links, f.nodes, f.ncab);
        ns3_free(&f);
        return rc;
    }
    g->npus = f.npus;
    g->nnodes = f.nodes;
    net_graph_add_links(g, 2 * f.ncab);
    for (int c = 0; c < f.ncab; c++) {
        int cls = (f.a[c] < f.npus) + (f.b[c] < f.npus); /* 1, 0, 2: NPUs at its ends */
        cls = cls == 1 ? 0 : cls == 0 ? 1 : 2;
        net_graph_set_link(g, 2 * c, f.a[c], f.b[c], f.bw[c], f.lat[c], cls);
        net_graph_set_link(g, 2 * c + 1, f.b[c], f.a[c], f.bw[c], f.lat[c], cls);
    }
    g->nlinks = 2 * f.ncab;
    g->ncls = 3;
    snprintf(g->clsname[0], sizeof g->clsname[0], "npu-switch");
    snprintf(g->clsname[1], sizeof g->clsname[1], "switch-switch");
    snprintf(g->clsname[2], sizeof g->clsname[2], "npu-npu");
    g->max_hops = 1;
    for (size_t i = 0; i < (size_t)f.npus * f.nodes; i++)
        if ((int)(i % (size_t)f.nodes) < f.npus && f.dist[i] > g->max_hops)
            g->max_hops = f.dist[i];
    g->dist = f.dist;
    f.dist = NULL;
    /* node ids for names: kept in nbase[] is too small; names use the
     * ns-3 id, recomputed from the order (switches ascending) */
    ns3_free(&f);
    net_graph_csr(g); /* link ids ascending per node: the order walk() saw */
    return 0;
}

static int ns3_route(const net_graph *g, int src, int dst, uint64_t hash, uint32_t *out)
{
    return walk(g->off, g->adj, g->ldst, g->dist + (size_t)dst * g->nnodes, src, dst, hash, out);
}

static int ns3_node_name(const net_graph *g, int node, char *buf, size_t sz)
{
    snprintf(buf, sz, "switch%d", node - g->npus);
    return 1;
}

const net_fabric_ops net_fabric_ns3 = {
    .name = "ns3",
    .kind_names = NULL, /* read from ns-3's files, not a `kind:` YAML */
    .keys = NULL,
    .load = ns3_load_yaml,
    .view = ns3_view,
    .build = ns3_build,
    .route = ns3_route,
    .node_name = ns3_node_name,
};

/* ---- ns-3's config.txt and ASTRA-sim's logical dims --------------------- */

/* What each ns-3 setting loom does not model is about, for the notes. */
static const char *ns3_topic(const char *k)
{
    static const char *const pfc[] = {"USE_DYNAMIC_PFC_THRESHOLD", "NIC_TOTAL_PAUSE_TIME",
                                      "ENABLE_PFC", NULL};
    static const char *const buf[] = {"BUFFER_SIZE", "KMAX_MAP", "KMIN_MAP", "PMAX_MAP", NULL};
    static const char *const pkt[] = {"PACKET_PAYLOAD_SIZE", "L2_CHUNK_SIZE", "L2_ACK_INTERVAL",
                                      "L2_BACK_TO_ZERO", "ACK_HIGH_PRIO", NULL};
    static const char *const fault[] = {"ERROR_RATE_PER_LINK", "LINK_DOWN", NULL};
    static const char *const out[] = {"FLOW_FILE", "TRACE_FILE", "TRACE_OUTPUT_FILE",
                                      "FCT_OUTPUT_FILE", "PFC_OUTPUT_FILE", "QLEN_MON_FILE",
                                      "QLEN_MON_START", "QLEN_MON_END", "SIMULATOR_STOP_TIME",
                                      NULL};
    static const char *const cc[] = {
        "ENABLE_QCN", "CC_MODE", "ALPHA_RESUME_INTERVAL", "RATE_DECREASE_INTERVAL",
        "CLAMP_TARGET_RATE", "RP_TIMER", "EWMA_GAIN", "FAST_RECOVERY_TIMES", "RATE_AI",
        "RATE_HAI", "MIN_RATE", "DCTCP_RATE_AI", "HAS_WIN", "GLOBAL_T", "VAR_WIN", "FAST_REACT",
        "U_TARGET", "MI_THRESH", "INT_MULTI", "MULTI_RATE", "SAMPLE_FEEDBACK", "PINT_LOG_BASE",
        "PINT_PROB", "RATE_BOUND", NULL};
    static const struct { const char *const *keys; const char *topic; } topics[] = {
        {pfc, "PFC"}, {cc, "congestion control"}, {buf, "buffers and ECN marking"},
        {pkt, "packets and ACKs"}, {fault, "link faults"}, {out, "outputs and stop time"}};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        for (const char *const *w = topics[i].keys; *w; w++)
            if (strcmp(*w, k) == 0)
                return topics[i].topic;
    return "other settings";
}

#define NS3_TOPICS 7

/* ASTRA-sim's {"logical-dims": ["8", "2"]} */
static int read_logical(const char *path, net_xtopo *x, loom_err *err)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return loom_err_set(err, LOOM_EIO, "%s: cannot open the logical topology: %s", path,
                            strerror(errno));
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    char *p = strstr(buf, "\"logical-dims\"");
    if (p == NULL || (p = strchr(p, '[')) == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: no \"logical-dims\" list", path);
    x->nlogical = 0;
    for (p++;;) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (*p == ']')
            break;
        int line = 1;
        for (char *q = buf; q < p; q++)
            line += *q == '\n';
        int quoted = *p == '"';
        char *end;
        long v = strtol(p + quoted, &end, 10);
        if (end == p + quoted || v < 1 || v > 1 << 24 || (quoted && *end != '"') ||
            x->nlogical == NET_MAX_DIMS)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: line %d: logical-dims entry %d: each entry is a whole number "
                                ">= 1, at most %d entries", path, line, x->nlogical, NET_MAX_DIMS);
        x->logical[x->nlogical++] = (int)v;
        p = end + quoted;
    }
    if (x->nlogical == 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: \"logical-dims\" is empty", path);
    return 0;
}

/* TOPOLOGY_FILE relative to the config's folder; ASTRA-sim's samples name
 * it relative to ns-3's build folder, so when that is not there the file
 * of that name beside the config. */
static int resolve(const char *config, const char *name, char *out, size_t sz)
{
    const char *slash = strrchr(config, '/');
    int dirlen = slash ? (int)(slash - config) : 0;
    char buf[1024], alt[1024];
    if (name[0] == '/' || !slash)
        snprintf(buf, sizeof buf, "%s", name);
    else
        snprintf(buf, sizeof buf, "%.*s/%s", dirlen, config, name);
    FILE *fp = fopen(buf, "r");
    if (fp == NULL) {
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        if (slash)
            snprintf(alt, sizeof alt, "%.*s/%s", dirlen, config, base);
        else
            snprintf(alt, sizeof alt, "%s", base);
        if ((fp = fopen(alt, "r")) != NULL)
            memcpy(buf, alt, sizeof buf);
    }
    if (fp)
        fclose(fp);
    size_t n = strlen(buf);
    if (n + 1 > sz)
        return -1;
    memcpy(out, buf, n + 1);
    return 0;
}

int net_ns3_load(const char *path, const char *logical, net_topo *out, net_note_fn note,
                 void *ctx, loom_err *err)
{
    memset(out, 0, sizeof *out);
    net_xtopo *x = &out->x;
    x->kind = NET_X_NS3;
    int rc;
    if (net_file_form(path) != NET_FORM_NS3_CONFIG) { /* a topology file itself */
        if (strlen(path) >= sizeof x->file)
            return loom_err_set(err, LOOM_EUSAGE, "%s: path longer than %zu bytes", path,
                                sizeof x->file - 1);
        snprintf(x->file, sizeof x->file, "%s", path);
    } else {
        FILE *fp = fopen(path, "r");
        if (fp == NULL)
            return loom_err_set(err, LOOM_EIO, "%s: cannot open: %s", path, strerror(errno));
        char *line = NULL, *topo = NULL;
        size_t cap = 0;
        int ln = 0;
        char notes[NS3_TOPICS][200];
        const char *names[NS3_TOPICS] = {0};
        int nn = 0;
        rc = 0;
        while (getline(&line, &cap, fp) >= 0) {
            ln++;
            char *k = line + strspn(line, " \t\r\n");
            if (*k == 0 || *k == '#')
                continue;
            size_t kl = strcspn(k, " \t\r\n");
            char *v = k + kl + strspn(k + kl, " \t");
            k[kl] = 0;
            v[strcspn(v, "\r\n")] = 0;
            for (size_t e = strlen(v); e > 0 && isspace((unsigned char)v[e - 1]); e--)
                v[e - 1] = 0;
            if (*v == 0) {
                rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %d: setting '%s' has no value",
                                  path, ln, k);
                break;
            }
            if (strcmp(k, "TOPOLOGY_FILE") == 0) {
                free(topo);
                topo = loom_xstrdup(v);
                continue;
            }
            if (note == NULL)
                continue;
            const char *topic = ns3_topic(k);
            int i = 0;
            while (i < nn && names[i] != topic)
                i++;
            char item[64];
            snprintf(item, sizeof item, "%s %.24s", k, v);
            if (i < nn && strlen(notes[i]) + strlen(item) + 3 > sizeof notes[i]) {
                note(ctx, notes[i]); /* full: say it, start again */
                notes[i][0] = 0;
            }
            if (i == nn) {
                names[nn++] = topic;
                notes[i][0] = 0;
            }
            if (notes[i][0] == 0)
                snprintf(notes[i], sizeof notes[i], "ns-3 %s: %s", topic, item);
            else
                snprintf(notes[i] + strlen(notes[i]), sizeof notes[i] - strlen(notes[i]),
                         ", %s", item);
        }
        free(line);
        fclose(fp);
        if (rc == 0 && topo == NULL)
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: no TOPOLOGY_FILE line: ns-3's config names its topology so",
                              path);
        if (rc == 0 && resolve(path, topo, x->file, sizeof x->file) < 0)
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: TOPOLOGY_FILE %s: path too long", path, topo);
        free(topo);
        if (rc < 0)
            return rc;
        for (int i = 0; i < nn; i++)
            note(ctx, notes[i]);
    }
    ns3_file f;
    if ((rc = ns3_read(x->file, &f, err)) < 0)
        return rc;
    if (note && f.max_err > 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "ns-3 link error rates (up to %g): links are lossless",
                 f.max_err);
        note(ctx, msg);
    }
    ns3_set_view(out, &f); /* the one read the views use */
    ns3_free(&f);
    if (logical && (rc = read_logical(logical, x, err)) < 0)
        return rc;
    return net_xtopo_view(out, err);
}

int net_ns3_topology_file(const char *config, char *out, size_t sz)
{
    if (net_file_form(config) != NET_FORM_NS3_CONFIG)
        return 0;
    FILE *fp = fopen(config, "r");
    if (fp == NULL)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    while (!found && getline(&line, &cap, fp) >= 0) {
        char *w[3];
        if (words(line, w, 2) == 2 && strcmp(w[0], "TOPOLOGY_FILE") == 0)
            found = resolve(config, w[1], out, sz) == 0;
    }
    free(line);
    fclose(fp);
    return found;
}

/* ---- telling the forms apart ------------------------------------------- */

int net_file_form(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return NET_FORM_YAML; /* the YAML reader says why */
    char line[512];
    int form = NET_FORM_YAML;
    while (fgets(line, sizeof line, fp)) {
        char *w[4];
        int n = words(line, w, 3);
        if (n == 0 || w[0][0] == '#')
            continue;
        int a;
        if ((strcmp(w[0], "Nodes") == 0 || strcmp(w[0], "Tiers") == 0) && n == 2)
            form = NET_FORM_HTSIM;
        else if (n == 3 && parse_int(w[0], 0, 1L << 30, &a) == 0 &&
                 parse_int(w[1], 0, 1L << 30, &a) == 0 && parse_int(w[2], 0, 1L << 30, &a) == 0)
            form = NET_FORM_NS3_TOPO;
        else if (n >= 2 && strspn(w[0], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(w[0]) &&
                 isupper((unsigned char)w[0][0]))
            form = NET_FORM_NS3_CONFIG;
        break;
    }
    fclose(fp);
    return form;
}
