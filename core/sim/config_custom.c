/*
 * config_custom.c: ASTRA-sim's custom collectives, the system file's
 * `all-reduce-implementation-custom: [PREFIX]` (and all-gather-,
 * reduce-scatter-, all-to-all-): the algorithm's Chakra traces
 * PREFIX.<position>.et, one per member, read through traces/ (et_graph)
 * into a net_cplan that network/net_algo_custom.c runs.
 *
 * As ASTRA-sim's CustomAlgorithm reads them: sends (comm_dst, comm_tag,
 * comm_size), receives (comm_src, comm_tag, comm_size) and compute nodes
 * (duration_micros, 1 ns when 0: "the computation time here is assumed to
 * be trivial"); data and ctrl dependencies both order them.
 *
 * The plan's size (net_cplan.bytes), the comm_size it stands for, is the
 * size whose ring collective moves what the plan's busiest member sends,
 * S bytes over p members: all-reduce S p / (2(p-1)), all-gather,
 * reduce-scatter and all-to-all S p / (p-1) (the 8-member ring all-reduce
 * sending 14 x 128 KiB is 1 MiB).  docs/NETWORK.md says why and how sizes
 * scale.
 */
#include "config_int.h"

#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "et_graph.h"

/* The prefix as ASTRA-sim reads it (from the working directory); else,
 * for a relative one, beside the system file, whole or by its last
 * component (a copied example folder keeps its system file and traces
 * together).  Returns the members found, 0 when none; out gets the prefix. */
static int resolve(const char *given, const char *sys, char *out, size_t sz)
{
    snprintf(out, sz, "%s", given);
    int n = et_count_ranks(out);
    if (n > 0 || given[0] == '/')
        return n;
    char *s1 = loom_xstrdup(sys), *s2 = loom_xstrdup(given);
    const char *dir = dirname(s1), *base = basename(s2);
    snprintf(out, sz, "%s/%s", dir, given);
    if ((n = et_count_ranks(out)) == 0) {
        snprintf(out, sz, "%s/%s", dir, base);
        n = et_count_ranks(out);
    }
    free(s1);
    free(s2);
    return n;
}

/* One member's trace into the plan's arrays (grown in place). */
static int add_member(net_cplan *p, int m, const et_graph *g, size_t *cap_n, size_t *cap_d,
                      size_t *nd, uint64_t *sent, loom_err *err)
{
    p->first[m + 1] = p->first[m] + (uint32_t)g->n;
    if (p->first[m + 1] > *cap_n) {
        *cap_n = p->first[m + 1] * 2;
        p->nodes = loom_xrealloc(p->nodes, *cap_n * sizeof *p->nodes);
    }
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *e = &g->nodes[i];
        net_pnode *n = &p->nodes[p->first[m] + i];
        memset(n, 0, sizeof *n);
        unsigned long long id = (unsigned long long)e->id;
        if (e->type == ET_COMM_SEND_NODE || e->type == ET_COMM_RECV_NODE) {
            int send = e->type == ET_COMM_SEND_NODE;
            if (!(e->flags & (send ? ET_F_HAS_DST : ET_F_HAS_SRC)))
                return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: a %s without %s",
                                    g->path, id, send ? "send" : "receive",
                                    send ? "comm_dst" : "comm_src");
            n->kind = send ? NET_PSEND : NET_PRECV;
            n->peer = send ? e->comm_dst : e->comm_src;
            if (n->peer < 0 || n->peer >= p->members || n->peer == m)
                return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: peer %d is not another of "
                                    "the algorithm's %d members", g->path, id, n->peer,
                                    p->members);
            n->tag = (e->flags & ET_F_HAS_TAG) ? e->comm_tag : 0;
            n->bytes = e->comm_size;
            if (send)
                *sent += e->comm_size;
        } else if (e->type == ET_COMP_NODE) {
            n->kind = NET_PCOMP;
            n->dur = e->duration_ns == 0 ? SIM_PS_PER_NS
                     : e->duration_ns > (uint64_t)(SIM_TIME_MAX / SIM_PS_PER_NS)
                         ? SIM_TIME_MAX
                         : (sim_time)e->duration_ns * SIM_PS_PER_NS;
        } else {
            return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: a %s in a custom collective (it "
                                "holds sends, receives and compute nodes only)", g->path, id,
                                et_node_type_name(e->type));
        }
        uint32_t k = e->ndata + e->nctrl;
        if (*nd + k > *cap_d) {
            *cap_d = (*nd + k) * 2;
            p->deps = loom_xrealloc(p->deps, *cap_d * sizeof *p->deps);
        }
        n->dep = (uint32_t)*nd;
        n->ndeps = k;
        if (k)
            memcpy(p->deps + *nd, g->deps + e->dep, k * sizeof *p->deps);
        *nd += k;
    }
    return 0;
}

/* Every send has its receive: equal counts per (source, destination, tag),
 * by sorting one key per send and per receive (O(n log n): a scan per send
 * was members x nodes^2). */
typedef struct mkey {
    int src, dst, tag;
    int send;           /* 1 a send, 0 a receive */
} mkey;

static int cmp_mkey(const void *a, const void *b)
{
    const mkey *x = a, *y = b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    if (x->dst != y->dst)
        return x->dst < y->dst ? -1 : 1;
    return x->tag < y->tag ? -1 : x->tag > y->tag;
}

static int check_matching(const net_cplan *p, const char *prefix, loom_err *err)
{
    size_t n = 0, nall = p->first[p->members];
    mkey *k = loom_xmalloc((nall ? nall : 1) * sizeof *k);
    for (int m = 0; m < p->members; m++)
        for (uint32_t i = p->first[m]; i < p->first[m + 1]; i++) {
            const net_pnode *e = &p->nodes[i];
            if (e->kind == NET_PSEND)
                k[n++] = (mkey){m, e->peer, e->tag, 1};
            else if (e->kind == NET_PRECV)
                k[n++] = (mkey){e->peer, m, e->tag, 0};
        }
    qsort(k, n, sizeof *k, cmp_mkey);
    int rc = 0;
    for (size_t a = 0, b; a < n && rc == 0; a = b) {
        int ns = 0, nr = 0;
        for (b = a; b < n && cmp_mkey(&k[a], &k[b]) == 0; b++)
            ns += k[b].send, nr += !k[b].send;
        if (ns != nr && ns > 0) /* a receive without a send is the send side's miss */
            rc = loom_err_set(err, LOOM_ETRACE, "custom collective %s: member %d sends %d "
                              "message%s with tag %d to member %d, which receives %d",
                              prefix, k[a].src, ns, ns == 1 ? "" : "s", k[a].tag, k[a].dst, nr);
    }
    free(k);
    return rc;
}

int cfg_load_custom(loom_cfg *cfg, net_impl_op op, const char *given, const char *sys,
                    loom_err *err)
{
    char prefix[4096];
    int members = resolve(given, sys, prefix, sizeof prefix);
    if (members == 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: custom collective '%s': no rank files %s.0.et "
                            "(ASTRA-sim reads the prefix from the working directory; loom also "
                            "looked beside the system file)", sys, given, given);
    net_cplan *p = loom_xcalloc(1, sizeof *p);
    char *g2 = loom_xstrdup(given);
    p->name = loom_xstrdup(basename(g2)); /* labels: custom(custom_allreduce) */
    free(g2);
    p->members = members;
    p->first = loom_xcalloc((size_t)members + 1, sizeof *p->first);
    size_t cap_n = 0, cap_d = 0, nd = 0;
    uint64_t busiest = 0;
    int rc = 0;
    for (int m = 0; m < members && rc == 0; m++) {
        char path[4200];
        et_rank_path(prefix, m, path, sizeof path);
        et_graph *g = et_graph_load(path, err);
        uint64_t sent = 0;
        rc = g ? add_member(p, m, g, &cap_n, &cap_d, &nd, &sent, err) : LOOM_ETRACE;
        if (sent > busiest)
            busiest = sent;
        et_graph_free(g);
    }
    if (rc == 0 && p->first[members] == 0)
        rc = loom_err_set(err, LOOM_ETRACE, "custom collective %s: its rank files have no nodes",
                          prefix);
    if (rc == 0)
        rc = check_matching(p, prefix, err);
    if (rc < 0) {
        net_cplan_free(p);
        return rc;
    }
    double q = members > 1 ? (double)members / (members - 1) : 1;
    p->bytes = (uint64_t)llround((double)busiest * q / (op == NET_IMPL_ALL_REDUCE && members > 1
                                                            ? 2 : 1));
    net_cplan_free(cfg->custom[op]);
    cfg->custom[op] = p;
    return 0;
}
