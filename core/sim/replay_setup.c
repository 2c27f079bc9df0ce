/*
 * replay_setup.c: what a replay does before its first event and after its
 * last (replay.c runs the events): the network model, the all-ranks
 * communicator, the rank files (each distinct one made ready once by
 * replay_graph.c), rule groups and the membership check, the symmetry
 * plan, the per-rank state with its memory checked against the budget
 * first, and freeing all of it.
 */
#include "replay_int.h"
#include "replay_queue.h"

#include <stdlib.h>
#include <string.h>

void rpl_free(replay *rp)
{
    rpl_sms_free(rp);
    for (int r = 0; r < rp->nranks && rp->r; r++) {
        rank_state *rs = &rp->r[r];
        free(rs->t0);
        free(rs->tie);
        free(rs->comm);
        for (int k = 0; rs->lanes && k < rs->gi->nlanes; k++)
            lane_release(&rs->lanes[k]);
        if (rs->lanes != rs->lane0)
            free(rs->lanes);
    }
    free(rp->r);
    free(rp->seq_block);
    for (int q = 0; q < rp->ngraphs; q++) {
        free(rp->graphs[q].ps_block);
        free(rp->graphs[q].big);
        free(rp->graphs[q].big_block);
    }
    free(rp->rmem_free);
    free(rp->rep);
    free(rp->csize);
    rpl_graphs_free(rp);
    et_set_free(rp->set);
    rpl_comms_free(rp);
    rpl_p2p_free(rp);
    sim_engine_destroy(rp->eng);
    net_model_destroy(rp->net);
}

/* The rank files, each distinct one made ready once (replay_graph.c), then
 * the communicators of rule groups and the membership check. */
static int load_ranks(replay *rp, const loom_replay_opts *opts, loom_err *err)
{
    rp->graphs = loom_xcalloc(rp->nranks, sizeof *rp->graphs); /* at most one per rank */
    /* rpl_setup has counted the rank files, before anything per rank */
    et_set_opts so = {.prefix = opts->prefix, .nranks = rp->nranks, .nranks_from = "the network",
                      .on_graph = rpl_graph_ready, .ctx = rp, .counted = 1};
    int rc = et_set_load(&so, &rp->set, err);
    if (rc < 0)
        return rc;
    for (int r = 0; r < rp->nranks; r++)
        rp->r[r].gi = &rp->graphs[et_set_index(rp->set, r)];
    if ((rc = rpl_resolve_rules(rp, err)) < 0 || (rc = rpl_check_membership(rp, err)) < 0)
        return rc;
    rpl_sym_plan(rp, opts);
    return 0;
}

/* The dependencies a node waits for at replay. */
static uint32_t node_deps(const replay *rp, const et_gnode *n)
{
    return n->ndata + (rp->cfg->ctrl_deps ? n->nctrl : 0);
}

/* WAIT, every dependency pending, in every rank's ps word of gi's nodes:
 * node-major, one row of the block per node; a node with more than
 * PS_DIRECT_MAX dependencies counts them in big_block (replay_int.h). */
static void init_ps(replay *rp, graph_info *gi)
{
    if (gi->nshare == 0)
        return;
    uint32_t nbig = 0;
    for (size_t i = 0; i < gi->g->n; i++) /* counted first: one allocation */
        nbig += node_deps(rp, &gi->g->nodes[i]) > PS_DIRECT_MAX;
    if (nbig) {
        gi->big = loom_xcalloc(gi->g->n, sizeof *gi->big);
        gi->big_block = loom_xmalloc((size_t)nbig * gi->nshare * sizeof *gi->big_block);
    }
    nbig = 0;
    for (size_t i = 0; i < gi->g->n; i++) {
        uint32_t w = node_deps(rp, &gi->g->nodes[i]);
        ps_word *row = gi->ps_block + i * gi->nshare;
        if (w > PS_DIRECT_MAX) {
            gi->big[i] = ++nbig;
            uint32_t *brow = gi->big_block + (size_t)(nbig - 1) * gi->nshare;
            for (size_t k = 0; k < gi->nshare; k++)
                brow[k] = w;
            w = PS_BIG;
        }
        for (size_t k = 0; k < gi->nshare; k++)
            row[k] = (ps_word)w;
    }
}

int rpl_big_release(rank_state *rs, uint32_t s)
{
    graph_info *gi = rs->gi;
    size_t slot = (size_t)(rs->ps - gi->ps_block);
    uint32_t *c = &gi->big_block[(size_t)(gi->big[s] - 1) * gi->nshare + slot];
    LOOM_ASSERT(*c > 0);
    if (--*c)
        return 0;
    *PS(rs, s) = ps_with_state(0, ps_state(*PS(rs, s)));
    return 1;
}

/* Per-rank counters; ranks sharing a graph share nothing else.  A run that
 * cannot fit is refused before anything is allocated. */
static int alloc_ranks(replay *rp, const loom_replay_opts *opts, loom_err *err)
{
    double need = 0;
    for (int r = 0; r < rp->nranks; r++)
        if (!rp->rep || rp->rep[r] == r) /* only the ranks replayed */
            need += (double)rp->r[r].gi->g->n *
                (sizeof(ps_word) + (opts->obs && opts->obs->node ? sizeof(sim_time) : 0)) +
                (rp->r[r].gi->nlanes > RES_N ? (double)rp->r[r].gi->nlanes * sizeof(lane) : 0);
    if (need > (double)loom_memory_budget()) {
        char b1[32], b2[32];
        return loom_err_set(err, LOOM_ESIM,
                            "%d ranks x their nodes need about %s of per-rank counters, more than "
                            "the %s loom may use (set LOOM_MEMORY_LIMIT to change it)",
                            rp->nranks, loom_fmt_bytes(need, b1),
                            loom_fmt_bytes((double)loom_memory_budget(), b2));
    }
    /* the ps words of the ranks sharing a graph, node-major (PS); a rank
     * another replays for (symmetry collapse) has none and never runs */
    for (int r = 0; r < rp->nranks; r++)
        if (!rp->rep || rp->rep[r] == r)
            rp->r[r].gi->nshare++;
    size_t *slot = loom_xcalloc((size_t)rp->ngraphs, sizeof *slot);
    size_t nseq = 0, seq_at = 0; /* every replayed rank's seq slots, in rank order */
    for (int r = 0; r < rp->nranks; r++)
        if (!rp->rep || rp->rep[r] == r)
            nseq += rp->r[r].gi->g->npg;
    rp->seq_block = loom_xmalloc((nseq ? nseq : 1) * sizeof *rp->seq_block);
    for (int q = 0; q < rp->ngraphs; q++) {
        graph_info *gi = &rp->graphs[q];
        if (gi->nshare)
            gi->ps_block = loom_xmalloc((gi->g->n ? gi->g->n : 1) * gi->nshare * sizeof(ps_word));
    }
    for (int r = 0; r < rp->nranks; r++) {
        rank_state *rs = &rp->r[r];
        const et_graph *g = rs->gi->g;
        rp->res->nodes += g->n;
        if (rp->rep && rp->rep[r] != r)
            continue;
        rs->ps = rs->gi->ps_block + slot[rs->gi - rp->graphs]++;
        rs->seq = rp->seq_block + seq_at;
        seq_at += g->npg; /* npg >= 1: "" */
        for (uint32_t k = 0; k < g->npg; k++)
            rs->seq[k] = (struct seq_slot){-1, -1, 0};
        rs->lanes = rs->gi->nlanes > RES_N ? loom_xcalloc(rs->gi->nlanes, sizeof *rs->lanes)
                                           : rs->lane0;
        if (rp->rep) { /* the tie check (replay_int.h): seeding is one handler */
            rs->tie = loom_xcalloc(1, sizeof *rs->tie + rs->gi->nlanes * sizeof(tie_lane));
            rs->tie->cur = (tie_ev){0, -1, 0};
            rs->tie->recv.t = -1;
            for (int k = 0; k < rs->gi->nlanes; k++)
                rs->tie->lane[k].t = -1;
        }
        for (int k = 0; k < rs->gi->nlanes; k++) {
            rs->lanes[k].cur = LANE_FREE;
            rs->lanes[k].rec = -1;
            rs->lanes[k].mult = 1;
        }
        if (opts->obs && opts->obs->node)
            rs->t0 = loom_xcalloc(g->n ? g->n : 1, sizeof *rs->t0);
    }
    free(slot);
    for (int q = 0; q < rp->ngraphs && !rp->cfg->rank_comp; q++) {
        /* one compute model for every rank: a node's time is the same on each
         * rank replaying its graph, priced once (-1: not yet) */
        graph_info *gi = &rp->graphs[q];
        size_t n = gi->g->n ? gi->g->n : 1;
        gi->dur = loom_xmalloc(n * sizeof *gi->dur);
        memset(gi->dur, 0xff, n * sizeof *gi->dur);
        gi->dur_fb = loom_xcalloc(n, 1);
    }
    for (int q = 0; q < rp->ngraphs; q++)
        init_ps(rp, &rp->graphs[q]);
    return 0;
}

int rpl_setup(replay *rp, const loom_replay_opts *opts, size_t ev_size, loom_err *err)
{
    const loom_cfg *cfg = rp->cfg;
    int rc;
    /* cheap checks first: the rank files against the network's NPUs, by
     * name only, then what per-rank state will cost, before the model or
     * anything per rank is allocated (a 2^24-NPU network with an 8-rank
     * trace is refused at once, not after 6.9 GB) */
    int npus = net_topo_npus(&cfg->topo, err);
    if (npus < 0)
        return npus;
    et_set_opts so = {.prefix = opts->prefix, .nranks = npus, .nranks_from = "the network"};
    if ((rc = et_set_check_count(&so, err)) < 0)
        return rc;
    double need = (double)npus * (sizeof *rp->r + sizeof *rp->graphs + 2 * sizeof(int));
    if (need > (double)loom_memory_budget()) {
        char b1[32], b2[32];
        return loom_err_set(err, LOOM_ESIM,
                            "%d ranks need about %s of per-rank state, more than the %s loom "
                            "may use (set LOOM_MEMORY_LIMIT to change it)",
                            npus, loom_fmt_bytes(need, b1),
                            loom_fmt_bytes((double)loom_memory_budget(), b2));
    }
    if ((rp->net = net_model_create(&cfg->topo, &cfg->sys, err)) == NULL)
        return LOOM_EUSAGE;
    rp->nranks = net_npus(rp->net);
    LOOM_ASSERT(rp->nranks == npus);
    const loom_rmem *m = &cfg->rmem;
    if (m->kind == LOOM_RMEM_PER_NODE && (long long)m->num_nodes * m->npus_per_node < npus)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: num-nodes %d x num-npus-per-node %d cover %lld NPUs, but the "
                            "network has %d (every rank needs a node)",
                            m->path, m->num_nodes, m->npus_per_node,
                            (long long)m->num_nodes * m->npus_per_node, npus);
    if (m->kind == LOOM_RMEM_PER_NODE || m->kind == LOOM_RMEM_POOL)
        rp->rmem_free = loom_xcalloc(m->kind == LOOM_RMEM_POOL ? 1 : m->num_nodes,
                                     sizeof *rp->rmem_free);
    rp->r = loom_xcalloc_aligned(rp->nranks, sizeof *rp->r, _Alignof(rank_state));
    int *all = loom_xmalloc(rp->nranks * sizeof *all);
    for (int r = 0; r < rp->nranks; r++)
        all[r] = r;
    int ci = rpl_add_comm(rp, "", all, rp->nranks);
    free(all);
    if (ci < 0)
        return LOOM_EUSAGE;
    if ((rc = load_ranks(rp, opts, err)) < 0)
        return rc;
    rp->eng = sim_engine_create(ev_size > NET_EV_PAYLOAD_MAX ? ev_size : NET_EV_PAYLOAD_MAX, rp, err);
    if (rp->eng == NULL)
        return LOOM_EINTERNAL;
    if ((rc = alloc_ranks(rp, opts, err)) < 0)
        return rc;
    rpl_sms_prep(rp);
    return 0;
}
