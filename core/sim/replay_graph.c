/*
 * replay_graph.c: one distinct trace file made ready to replay, once
 * however many ranks share it: its nodes ranked in id order (the ready
 * queues' keys), each node's resource, the checks that make a bad trace
 * an error naming the file and node before the run starts (sends and
 * receives without peers, collectives without a type, dependency cycles),
 * and its pg names resolved to communicators (comms.c).
 */
#include "replay_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const et_graph *sort_graph; /* qsort has no context argument */
static int by_id(const void *a, const void *b)
{
    uint64_t x = sort_graph->nodes[*(const uint32_t *)a].id;
    uint64_t y = sort_graph->nodes[*(const uint32_t *)b].id;
    return (x > y) - (x < y);
}

/* Ready queues order nodes by id; ranking the ids once per graph lets the
 * queues hold and compare 4-byte positions instead of chasing nodes[]. */
static void order_graph(graph_info *gi)
{
    const et_graph *g = gi->g;
    size_t n = g->n ? g->n : 1;
    gi->at = loom_xmalloc(n * sizeof *gi->at);
    gi->pos = loom_xmalloc(n * sizeof *gi->pos);
    int sorted = 1;
    for (size_t i = 0; i < g->n; i++) {
        gi->at[i] = (uint32_t)i;
        if (i > 0 && g->nodes[i].id < g->nodes[i - 1].id)
            sorted = 0;
    }
    if (!sorted) { /* ids are unique (the loader refuses duplicates) */
        sort_graph = g;
        qsort(gi->at, g->n, sizeof *gi->at, by_id);
    }
    for (size_t k = 0; k < g->n; k++)
        gi->pos[gi->at[k]] = (uint32_t)k;
}

/* Resolves a graph's pg names to communicators and checks every node that
 * replay will need to understand. */
static int prepare_graph(replay *rp, graph_info *gi, loom_err *err)
{
    et_graph *g = gi->g;
    rpl_pg_tables(rp, gi);
    gi->res = loom_xmalloc(g->n ? g->n : 1);
    uint64_t nosize = 0; /* sends, receives, collectives without comm_size */
    const et_gnode *first_nosize = NULL;
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        unsigned long long id = (unsigned long long)n->id;
        if ((n->type == ET_COMM_SEND_NODE || n->type == ET_COMM_RECV_NODE ||
             (n->type == ET_COMM_COLL_NODE && (n->flags & ET_F_HAS_CTYPE) &&
              n->comm_type != ET_BARRIER)) &&
            !(n->flags & ET_F_HAS_CSIZE) && nosize++ == 0)
            first_nosize = n;
        if ((uint64_t)n->ndata + n->nctrl > PS_DEPS_MAX)
            return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: %llu dependencies, more than "
                                "the %u replay counts", g->path, id,
                                (unsigned long long)n->ndata + n->nctrl, PS_DEPS_MAX);
        if ((n->xflags & ET_X_DELAY) && n->type != ET_COMP_NODE)
            return loom_err_set(err, LOOM_ETRACE,
                                "%s: node %llu: is_delay on a %s; only a COMP_NODE can be a delay",
                                g->path, id, et_node_type_name(n->type));
        switch (n->type) {
        case ET_COMP_NODE:
            gi->res[i] = (n->xflags & ET_X_DELAY) ? RES_NONE
                         : (n->flags & ET_F_CPU)  ? RES_CPU
                                                  : RES_COMPUTE;
            break;
        case ET_MEM_LOAD_NODE:
        case ET_MEM_STORE_NODE:
            gi->res[i] = RES_MEM;
            break;
        case ET_COMM_SEND_NODE:
            if (!(n->flags & ET_F_HAS_DST) || !(n->flags & ET_F_HAS_TAG))
                return loom_err_set(err, LOOM_ETRACE,
                                    "%s: node %llu: COMM_SEND_NODE without %s: loom cannot tell "
                                    "where the message goes",
                                    g->path, id, (n->flags & ET_F_HAS_DST) ? "comm_tag" : "comm_dst");
            if (gi->p2p_rule[n->pg] >= 0) { /* an index in the sender's group */
                const loom_group *grp = &rp->cfg->groups[gi->p2p_rule[n->pg]];
                if (n->comm_dst < 0 || n->comm_dst >= grp->n)
                    return loom_err_set(err, LOOM_ETRACE,
                                        "%s: node %llu: comm_dst %d is not an index of group '%s' "
                                        "(0..%d)", g->path, id, n->comm_dst, grp->name, grp->n - 1);
            } else if (n->comm_dst < 0 || n->comm_dst >= rp->nranks) {
                return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: comm_dst %d is not a rank (0..%d)",
                                    g->path, id, n->comm_dst, rp->nranks - 1);
            }
            gi->res[i] = RES_COMM;
            break;
        case ET_COMM_RECV_NODE:
            if (!(n->flags & ET_F_HAS_SRC) || !(n->flags & ET_F_HAS_TAG))
                return loom_err_set(err, LOOM_ETRACE,
                                    "%s: node %llu: COMM_RECV_NODE without %s: loom cannot match it "
                                    "to a send",
                                    g->path, id, (n->flags & ET_F_HAS_SRC) ? "comm_tag" : "comm_src");
            if (gi->p2p_rule[n->pg] >= 0) {
                const loom_group *grp = &rp->cfg->groups[gi->p2p_rule[n->pg]];
                if (n->comm_src < 0 || n->comm_src >= grp->n)
                    return loom_err_set(err, LOOM_ETRACE,
                                        "%s: node %llu: comm_src %d is not an index of group '%s' "
                                        "(0..%d)", g->path, id, n->comm_src, grp->name, grp->n - 1);
            } else if (n->comm_src < 0 || n->comm_src >= rp->nranks) {
                return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: comm_src %d is not a rank (0..%d)",
                                    g->path, id, n->comm_src, rp->nranks - 1);
            }
            gi->res[i] = RES_NONE;
            break;
        case ET_COMM_COLL_NODE: {
            if (!(n->flags & ET_F_HAS_CTYPE) && (n->flags & ET_F_CPU)) {
                /* PyTorch-converted traces mark the host side of a c10d call
                 * (no comm_type, is_cpu_op) as a collective; the GPU kernel
                 * beside it carries the real one.  Run it as a CPU op. */
                gi->res[i] = RES_CPU;
                gi->host_colls++;
                break;
            }
            if (!(n->flags & ET_F_HAS_CTYPE) || n->comm_type >= ET_COLL_TYPES)
                return loom_err_set(err, LOOM_ETRACE,
                                    "%s: node %llu: COMM_COLL_NODE without a known comm_type", g->path, id);
            gi->res[i] = RES_COMM;
            if (gi->comm_of_pg[n->pg] != -1)
                break;
            int rc = rpl_resolve_pg(rp, gi, n, err);
            if (rc < 0)
                return rc;
            break;
        }
        case ET_METADATA_NODE:
        case ET_INVALID_NODE:
            gi->res[i] = RES_NONE;
            break;
        default:
            return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: unknown node type %d", g->path, id,
                                n->type);
        }
    }
    /* ASTRA-sim reads a missing comm_size as 0; so does loom, but says so
     * (`loom trace validate` reports each one) */
    if (nosize)
        loom_warn("%s: %llu communication node%s without comm_size (e.g. node %llu, %s): loom "
                  "moves 0 bytes for %s, so only latency is simulated",
                  g->path, (unsigned long long)nosize, nosize == 1 ? "" : "s",
                  (unsigned long long)first_nosize->id,
                  first_nosize->type == ET_COMM_COLL_NODE
                      ? et_coll_type_name(first_nosize->comm_type)
                      : et_node_type_name(first_nosize->type),
                  nosize == 1 ? "it" : "each");
    return 0;
}

/* The lanes of a graph: the RES_N default ones, then one per (resource,
 * stream) pair its nodes use, numbered in node order. */
static int build_lanes(graph_info *gi, loom_err *err)
{
    const et_graph *g = gi->g;
    int cap = RES_N;
    gi->nlanes = RES_N;
    gi->lane_res = loom_xmalloc(RES_N);
    for (int k = 0; k < RES_N; k++)
        gi->lane_res[k] = (uint8_t)k;
    if (g->nstreams > 0) {
        size_t nmap = (size_t)RES_N * g->nstreams;
        uint16_t *map = loom_xmalloc(nmap * sizeof *map);
        memset(map, 0xff, nmap * sizeof *map);
        gi->lane = loom_xmalloc((g->n ? g->n : 1) * sizeof *gi->lane);
        for (size_t i = 0; i < g->n; i++) {
            int res = gi->res[i];
            uint16_t st = g->nodes[i].stream;
            if (res == RES_NONE || st == 0) {
                gi->lane[i] = (uint16_t)(res == RES_NONE ? 0 : res);
                continue;
            }
            size_t key = (size_t)res * g->nstreams + (st - 1);
            if (map[key] == UINT16_MAX) {
                if (gi->nlanes == UINT16_MAX) {
                    free(map);
                    return loom_err_set(err, LOOM_ETRACE, "%s: more than %d (resource, stream) "
                                        "pairs", g->path, UINT16_MAX - 1);
                }
                if (gi->nlanes == cap) {
                    cap *= 2;
                    gi->lane_res = loom_xrealloc(gi->lane_res, (size_t)cap);
                }
                gi->lane_res[gi->nlanes] = (uint8_t)res;
                map[key] = (uint16_t)gi->nlanes++;
            }
            gi->lane[i] = map[key];
        }
        free(map);
    }
    gi->comm_lanes = loom_xmalloc((size_t)gi->nlanes * sizeof *gi->comm_lanes);
    for (int l = 0; l < gi->nlanes; l++)
        if (gi->lane_res[l] == RES_COMM)
            gi->comm_lanes[gi->ncomm_lanes++] = (uint16_t)l;
    return 0;
}

/* Each lane's nodes in id order: lidx (node -> index in its lane) and
 * lnode (lane_off[l] + index -> node), the ready queues' keys. */
static void order_lanes(graph_info *gi)
{
    const et_graph *g = gi->g;
    size_t n = g->n ? g->n : 1;
    gi->lidx = loom_xmalloc(n * sizeof *gi->lidx);
    gi->lnode = loom_xmalloc(n * sizeof *gi->lnode);
    gi->lane_off = loom_xcalloc((size_t)gi->nlanes + 1, sizeof *gi->lane_off);
    for (size_t i = 0; i < g->n; i++)
        if (gi->res[i] != RES_NONE)
            gi->lane_off[lane_of(gi, (uint32_t)i) + 1]++;
    for (int l = 0; l < gi->nlanes; l++)
        gi->lane_off[l + 1] += gi->lane_off[l];
    uint32_t *fill = loom_xmalloc((size_t)gi->nlanes * sizeof *fill);
    for (int l = 0; l < gi->nlanes; l++)
        fill[l] = 0;
    for (size_t k = 0; k < g->n; k++) {
        uint32_t i = gi->at[k];
        if (gi->res[i] == RES_NONE)
            continue;
        int l = lane_of(gi, i);
        gi->lidx[i] = fill[l];
        gi->lnode[gi->lane_off[l] + fill[l]++] = i;
    }
    free(fill);
}

/* Removes the ctrl edge from node u to its successor at succ index k (in
 * u's ctrl part), from both of its lists. */
static void drop_ctrl_edge(et_graph *g, uint32_t u, uint32_t k)
{
    et_gnode *nu = &g->nodes[u];
    uint32_t s = g->succ[k], last = nu->succ + nu->nsucc_data + nu->nsucc_ctrl - 1;
    g->succ[k] = g->succ[last];
    nu->nsucc_ctrl--;
    et_gnode *ns = &g->nodes[s];
    uint32_t a = ns->dep + ns->ndata, b = a + ns->nctrl;
    for (uint32_t d = a; d < b; d++)
        if (g->deps[d] == u) {
            g->deps[d] = g->deps[b - 1];
            ns->nctrl--;
            return;
        }
    LOOM_ASSERT(0);
}

/* Breaks the cycles among the nodes Kahn's walk could not reach (pend > 0)
 * by dropping every ctrl edge that closes one: a depth-first walk in id
 * order, where an edge back to a node on the walk's path closes a cycle.
 * Data edges are never dropped.  Returns the edges dropped. */
static uint64_t break_ctrl_cycles(graph_info *gi, const uint32_t *pend)
{
    et_graph *g = gi->g;
    size_t n = g->n ? g->n : 1;
    uint8_t *color = loom_xcalloc(n, 1); /* 0 new, 1 on the path, 2 finished */
    uint32_t *stk = loom_xmalloc(n * sizeof *stk), *next = loom_xmalloc(n * sizeof *next);
    uint64_t dropped = 0;
    for (size_t p = 0; p < g->n; p++) {
        uint32_t root = gi->at[p];
        if (pend[root] == 0 || color[root])
            continue;
        size_t top = 0;
        stk[top] = root;
        next[top++] = 0;
        color[root] = 1;
        while (top > 0) {
            uint32_t u = stk[top - 1];
            et_gnode *nu = &g->nodes[u];
            uint32_t k = next[top - 1];
            if (k >= nu->nsucc_data + nu->nsucc_ctrl) {
                color[u] = 2;
                top--;
                continue;
            }
            uint32_t s = g->succ[nu->succ + k];
            if (color[s] == 1 && k >= nu->nsucc_data) { /* a ctrl edge closes a cycle */
                drop_ctrl_edge(g, u, nu->succ + k); /* k now holds another edge */
                dropped++;
                continue;
            }
            next[top - 1] = k + 1;
            if (color[s] == 0 && pend[s] > 0) {
                color[s] = 1;
                stk[top] = s;
                next[top++] = 0;
            }
        }
    }
    free(color);
    free(stk);
    free(next);
    return dropped;
}

/* Kahn's algorithm over the edges replay will honour: a node on a cycle
 * can never become ready, so refuse the trace now, naming nodes on it,
 * rather than simulate up to a stall.  O(nodes + edges), once per file. */
static size_t kahn(const et_graph *g, int ctrl, uint32_t *pend, uint32_t *stack)
{
    size_t top = 0, seen = 0;
    for (size_t i = 0; i < g->n; i++) {
        pend[i] = g->nodes[i].ndata + (ctrl ? g->nodes[i].nctrl : 0);
        if (pend[i] == 0)
            stack[top++] = (uint32_t)i;
    }
    while (top > 0) {
        const et_gnode *n = &g->nodes[stack[--top]];
        seen++;
        uint32_t ns = n->nsucc_data + (ctrl ? n->nsucc_ctrl : 0);
        for (uint32_t k = 0; k < ns; k++) {
            uint32_t s = g->succ[n->succ + k];
            if (--pend[s] == 0)
                stack[top++] = s;
        }
    }
    return seen;
}

/* Refuses a graph whose honoured edges form a cycle; unless --strict,
 * first breaks cycles closed by ctrl_deps (PyTorch-converted traces have
 * hundreds), counting what it dropped in gi->dropped_ctrl. */
static int check_acyclic(replay *rp, graph_info *gi, loom_err *err)
{
    const et_graph *g = gi->g;
    int ctrl = rp->cfg->ctrl_deps;
    uint32_t *pend = loom_xmalloc((g->n ? g->n : 1) * sizeof *pend);
    uint32_t *stack = loom_xmalloc((g->n ? g->n : 1) * sizeof *stack);
    size_t seen = kahn(g, ctrl, pend, stack);
    if (seen < g->n && ctrl && !rp->cfg->strict_deps) {
        gi->dropped_ctrl = break_ctrl_cycles(gi, pend);
        if (gi->dropped_ctrl)
            seen = kahn(g, ctrl, pend, stack);
    }
    int rc = 0;
    if (seen < g->n) {
        char ids[256] = "";
        size_t off = 0;
        int shown = 0;
        for (size_t i = 0; i < g->n && shown < 5; i++)
            if (pend[i] > 0) {
                uint32_t d;
                int self = 0;
                for (d = 0; d < g->nodes[i].ndata + g->nodes[i].nctrl; d++)
                    self |= g->deps[g->nodes[i].dep + d] == i;
                off += snprintf(ids + off, sizeof ids - off, "%s%llu%s", shown ? ", " : "",
                                (unsigned long long)g->nodes[i].id, self ? " (on itself)" : "");
                shown++;
            }
        rc = loom_err_set(err, LOOM_ETRACE,
                          "%s: %zu of %zu nodes can never become ready: they depend on each other "
                          "in a cycle or wait on such nodes (first: %s). `loom trace validate` lists "
                          "the cycles%s",
                          g->path, g->n - seen, g->n, ids,
                          !ctrl ? ""
                          : rp->cfg->strict_deps
                              ? "; --strict refuses cycles closed by ctrl_deps: without it loom "
                                "drops those edges, --ignore-ctrl-deps runs on data_deps alone"
                              : "; loom drops only ctrl_deps that close a cycle, and this one is "
                                "closed by a data_dep");
    }
    free(pend);
    free(stack);
    return rc;
}


int rpl_graph_ready(void *ctx, et_graph *g, int idx, int rep, loom_err *err)
{
    replay *rp = ctx;
    (void)rep;
    if (g->n >= UINT32_MAX) /* node indices are uint32_t */
        return loom_err_set(err, LOOM_ETRACE, "%s: more than 2^32 nodes", g->path);
    graph_info *gi = &rp->graphs[idx]; /* sized for one graph per rank */
    rp->ngraphs = idx + 1;
    gi->g = g;
    order_graph(gi);
    int rc;
    if ((rc = prepare_graph(rp, gi, err)) < 0 || (rc = build_lanes(gi, err)) < 0 ||
        (rc = check_acyclic(rp, gi, err)) < 0)
        return rc;
    order_lanes(gi);
    rpl_host_prep(rp, gi);
    if (gi->dropped_ctrl)
        loom_warn("%s: %llu ctrl_dep%s closed dependency cycles; loom dropped %s (--strict "
                  "refuses such a trace)", g->path, (unsigned long long)gi->dropped_ctrl,
                  gi->dropped_ctrl == 1 ? "" : "s", gi->dropped_ctrl == 1 ? "it" : "them");
    if (gi->host_colls)
        loom_warn("%s: %llu COMM_COLL_NODEs without comm_type but with is_cpu_op run as "
                  "CPU operations (the host side of a collective call)",
                  g->path, (unsigned long long)gi->host_colls);
    return 0;
}

void rpl_graphs_free(replay *rp)
{
    for (int q = 0; q < rp->ngraphs; q++) {
        free(rp->graphs[q].comm_of_pg);
        free(rp->graphs[q].p2p_rule);
        free(rp->graphs[q].res);
        free(rp->graphs[q].lane);
        free(rp->graphs[q].lane_res);
        free(rp->graphs[q].comm_lanes);
        free(rp->graphs[q].pos);
        free(rp->graphs[q].at);
        free(rp->graphs[q].lidx);
        free(rp->graphs[q].lane_off);
        free(rp->graphs[q].lnode);
        free(rp->graphs[q].dur);
        free(rp->graphs[q].dur_fb);
        free(rp->graphs[q].hlb);
    }
    free(rp->graphs);
}
