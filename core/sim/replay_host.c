/*
 * replay_host.c: the host that launches a rank's GPU work (system key
 * `host-launch-us`, docs/MODEL.md "The host").
 *
 * One host thread per rank launches every GPU operation of its trace, in
 * id order (the program order a generated or captured trace keeps): a
 * kernel (a COMP_NODE that is not is_cpu_op, one launch per kernel of a
 * fused node), a collective, a send and a receive.  Each launch takes the
 * host h (`host-launch-us`), and the host never waits for the GPU, so the
 * k-th launch of a rank ends at k h; an operation cannot start on the GPU
 * before its launch has ended.  Where kernels are longer than h the host
 * runs ahead and the launches cost nothing; where they are shorter, the
 * GPU waits and a chain of N kernels takes N h: the host-bound regime.
 *
 * With L the launches before node i in id order and K its own (1, or a
 * fused node's kernels), its first launch ends at (L + 1) h; its kernels,
 * of equal share d / K of its priced time d, each start when the one
 * before it has ended and its own launch has, so from a start s >= (L+1) h
 * the node ends at
 *     max(s + d, (L + K) h + d / K)
 * (the recurrence e_j = max(e_{j-1}, (L + j) h) + d / K is linear in j
 * between its ends).  Everything here is per graph (shared by the ranks
 * that replay a file); replay.c holds a node whose launch has not ended
 * (rpl_host_wait) and starts it when it has.
 *
 * Not modelled: calls that make the host wait for the GPU (a .item(), a
 * torch.cuda.synchronize(), Megatron's synchronised pipeline sends): each
 * would cost about one h more after it; the CUDA launch queue's bound
 * (host far ahead is GPU-bound anyway).  A trace that carries its host
 * (is_cpu_op nodes, an imported PyTorch capture) keeps host-launch-us 0.
 */
#include "replay_int.h"

/* GPU launches node i makes: 0 for what runs on no GPU stream. */
static uint32_t launches(const graph_info *gi, uint32_t i)
{
    const et_gnode *n = &gi->g->nodes[i];
    switch (n->type) {
    case ET_COMP_NODE:
        return gi->res[i] == RES_COMPUTE ? (n->nkern ? n->nkern : 1) : 0;
    case ET_COMM_COLL_NODE:
        return gi->res[i] == RES_COMM; /* not the host side of a c10d call */
    case ET_COMM_SEND_NODE:
    case ET_COMM_RECV_NODE:
        return 1;
    default:
        return 0;
    }
}

void rpl_host_prep(const replay *rp, graph_info *gi)
{
    if (rp->cfg->host_launch == 0)
        return;
    const et_graph *g = gi->g;
    gi->hlb = loom_xmalloc((g->n ? g->n : 1) * sizeof *gi->hlb);
    uint64_t k = 0;
    for (size_t p = 0; p < g->n; p++) { /* id order */
        uint32_t i = gi->at[p];
        gi->hlb[i] = k;
        k += launches(gi, i);
    }
    gi->hl_total = k;
}

/* k launches' time, saturated */
static sim_time host_time(const replay *rp, uint64_t k)
{
    sim_time h = rp->cfg->host_launch;
    return k > (uint64_t)(SIM_TIME_MAX / h) ? SIM_TIME_MAX : (sim_time)k * h;
}

sim_time rpl_host_ready(const replay *rp, const graph_info *gi, uint32_t i)
{
    if (gi->hlb == NULL || launches(gi, i) == 0)
        return 0;
    return host_time(rp, gi->hlb[i] + 1);
}

sim_time rpl_host_fused(const replay *rp, const graph_info *gi, uint32_t i, sim_time now,
                        sim_time d)
{
    uint32_t k = gi->hlb ? launches(gi, i) : 0;
    if (k <= 1)
        return d; /* one kernel: it started after its launch */
    sim_time last = host_time(rp, gi->hlb[i] + k);
    if (last == SIM_TIME_MAX)
        return SIM_TIME_MAX;
    sim_time end = last + d / k;
    return end - now > d ? end - now : d;
}
