/*
 * replay_sms.c: communication beside compute (the system key comm-sms,
 * docs/MODEL.md "Communication beside compute").
 *
 * A GPU collective's kernel holds SMs from its issue to its end: NCCL
 * launches one CTA per channel, resident while it waits for its peers and
 * while it moves data.  A GEMM or attention kernel that runs beside it has
 * the rest for its waves (compute/comp_kernel.c, comm_sms).  Per rank,
 * `held` is the sum of the SMs of its collectives in flight (comm-sms each,
 * or the collective's own comm_sms attribute).  A compute node is priced
 * at the SMs held when it starts, and whenever `held` changes while it
 * runs it is re-timed: the time it has left, at the old rate, is scaled by
 * t_new / t_old (its whole times at the new and old `held`: the fraction
 * of its work done is kept), and its end is posted again.  The event
 * posted before stays queued; rpl_sms_live() tells it apart by its time,
 * kept in the lane (lane.due).  Launch waits inside a node (the host
 * model, replay_host.c), fixed at its start, are part of both whole
 * times, unchanged by `held` (progress is taken as even over the node):
 * the only per-node state kept apart (sms_run), and only with the host
 * model.  Only kernels priced by the kernel model with a GEMM or attention
 * shape change; sends and receives hold no SMs here (NCCL runs
 * point-to-point transfers on a few channels).  rank_state.stretch sums
 * what the SMs added: at a start, the node's time beside them less its
 * time alone; at each re-timing, how far its end moved.
 */
#include "replay_int.h"

#include <math.h>

enum { SMS_NONE = UINT32_MAX };

/* Whether any rank prices compute by the kernel model: only it reads SMs. */
static int kernel_priced(const replay *rp)
{
    const loom_cfg *cfg = rp->cfg;
    if (!cfg->rank_comp)
        return cfg->comp.kind == COMP_KERNEL;
    for (int r = 0; r < cfg->nrank_comp; r++)
        if (cfg->rank_comp[r].kind == COMP_KERNEL)
            return 1;
    return 0;
}

/* Per node of graph gi: the SMs a GPU collective holds; 1 when any does. */
static int graph_sms(const replay *rp, graph_info *gi, uint8_t *out)
{
    const et_graph *g = gi->g;
    int any = 0;
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        out[i] = 0;
        if (n->type != ET_COMM_COLL_NODE || gi->res[i] != RES_COMM)
            continue;
        out[i] = (uint8_t)((n->xflags & ET_X_HAS_CSMS) ? n->csms : rp->cfg->comm_sms);
        any |= out[i] != 0;
    }
    return any;
}

void rpl_sms_prep(replay *rp)
{
    if (!kernel_priced(rp))
        return;
    int any = 0;
    for (int q = 0; q < rp->ngraphs; q++) {
        graph_info *gi = &rp->graphs[q];
        gi->csms = loom_xmalloc(gi->g->n ? gi->g->n : 1);
        any |= graph_sms(rp, gi, gi->csms);
    }
    if (!any) { /* nothing holds SMs: the run is as without */
        for (int q = 0; q < rp->ngraphs; q++) {
            free(rp->graphs[q].csms);
            rp->graphs[q].csms = NULL;
        }
        return;
    }
    rp->sms_on = 1;
    for (int q = 0; q < rp->ngraphs; q++) {
        graph_info *gi = &rp->graphs[q];
        size_t n = gi->g->n ? gi->g->n : 1;
        if (gi->dur) {
            gi->dur_h = loom_xmalloc(n * sizeof *gi->dur_h);
            gi->dur_hk = loom_xcalloc(n, sizeof *gi->dur_hk);
        }
        gi->comp_lanes = loom_xmalloc((size_t)gi->nlanes * sizeof *gi->comp_lanes);
        for (int l = 0; l < gi->nlanes; l++)
            if (gi->lane_res[l] == RES_COMPUTE)
                gi->comp_lanes[gi->ncomp_lanes++] = (uint16_t)l;
    }
    for (int r = 0; r < rp->nranks; r++) {
        rank_state *rs = &rp->r[r];
        if (rs->ps == NULL || rs->gi->hlb == NULL) /* replayed by another; no host */
            continue;
        int nl = rs->gi->nlanes;
        rs->sms = loom_xmalloc((size_t)nl * sizeof *rs->sms);
        for (int l = 0; l < nl; l++)
            rs->sms[l] = (sms_run){.node = SMS_NONE, .gap = 0};
    }
}

void rpl_sms_free(replay *rp)
{
    for (int r = 0; rp->r && r < rp->nranks; r++) {
        free(rp->r[r].sms);
        rp->r[r].sms = NULL;
    }
    for (int q = 0; q < rp->ngraphs; q++) {
        graph_info *gi = &rp->graphs[q];
        free(gi->csms);
        free(gi->dur_h);
        free(gi->dur_hk);
        free(gi->comp_lanes);
        gi->csms = NULL;
        gi->dur_h = NULL;
        gi->dur_hk = NULL;
        gi->comp_lanes = NULL;
        gi->ncomp_lanes = 0;
    }
}

void rpl_sms_begin(replay *rp, rank_state *rs, uint32_t i, sim_time t0, sim_time t)
{
    int l = lane_of(rs->gi, i);
    sim_time now = sim_now(rp->eng);
    if (rs->held) /* what the SMs held add to it: its time alone is priced once a graph */
        rs->stretch += t0 - rpl_comp_price(rp, (int)(rs - rp->r), i, 0, 0);
    if (rs->sms)
        rs->sms[l] = (sms_run){.node = i, .gap = t - t0};
    rs->lanes[l].due = t < SIM_TIME_MAX - now ? now + t : SIM_TIME_MAX;
}

/* Node i's whole time beside `held` SMs, with its launch waits gap. */
static sim_time whole(replay *rp, int rank, uint32_t i, uint32_t held, sim_time gap)
{
    sim_time t = rpl_comp_price(rp, rank, i, held, 0);
    return t < SIM_TIME_MAX - gap ? t + gap : SIM_TIME_MAX;
}

void rpl_sms_change(replay *rp, int rank, int delta)
{
    rank_state *rs = &rp->r[rank];
    LOOM_ASSERT(delta > 0 || rs->held >= (uint32_t)-delta);
    uint32_t old = rs->held;
    rs->held = (uint32_t)((int64_t)old + delta);
    sim_time now = sim_now(rp->eng);
    const graph_info *gi = rs->gi;
    for (int k = 0; k < gi->ncomp_lanes; k++) {
        int l = gi->comp_lanes[k];
        lane *ln = &rs->lanes[l];
        uint32_t i = ln->cur;
        /* a node holds its lane from its issue; it runs once started (a
         * node waiting for its launch has not) and until its end, now or
         * later */
        if (i == LANE_FREE || ps_state(*PS(rs, i)) != ST_ISSUED || ln->due <= now)
            continue;
        sim_time gap = rs->sms && rs->sms[l].node == i ? rs->sms[l].gap : 0;
        sim_time t_old = whole(rp, rank, i, old, gap), t_new = whole(rp, rank, i, rs->held, gap);
        if (t_new == t_old || t_old <= 0)
            continue; /* the same rate: its event stands */
        double rest = (double)(ln->due - now) * ((double)t_new / (double)t_old);
        sim_time d = rest < (double)(SIM_TIME_MAX - now) ? (sim_time)llround(rest)
                                                         : SIM_TIME_MAX - now;
        if (now + d == ln->due)
            continue;
        rs->stretch += now + d - ln->due;
        ln->due = now + d;
        rpl_post_node_event(rp, rank, i, d);
    }
}
