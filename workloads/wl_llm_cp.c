/*
 * wl_llm_cp.c: a layer's attention core under context parallelism (--cp >
 * 1), in the three ways `--cp-comm` names (docs/WORKLOADS.md, "Context
 * parallelism").
 *
 * Each rank holds T = b s / cp tokens: two chunks of s / (2 cp), the c-th
 * and the (2 cp - 1 - c)-th of the sequence (c its index in the cp group),
 * so that causal work is even over the group.
 *
 * all-gather (Llama 3's, Dubey et al. 2024 sec. 3.3.2; Transformer
 * Engine's cp_comm_type "all_gather"): K and V gathered before the
 * attention, the whole sequence's dK and dV reduce-scattered after its
 * backward.
 *
 * p2p (Transformer Engine's AttnFuncWithCPAndKVP2P, its default and
 * Megatron-Core's; transformer_engine/pytorch/attention/dot_product_attention/
 * context_parallel.py): a ring.  Forward step i (0 .. cp-1) attends the
 * rank's queries to the K and V of rank c - i, received at step i - 1,
 * while step i sends them on to c + 1: step 0 the rank's own chunks
 * (causal), a step whose chunks come from an earlier rank (i <= c) all
 * queries against their first half, a later one (i > c) the second half of
 * the queries against both; every step is a quarter of the (s/cp)^2 square.
 * Each step's output is merged into the result by its softmax statistics
 * (TE's out and lse corrections).  The backward runs the steps in reverse
 * the other way round the ring (send to c - 1), passing K and V and the
 * dK, dV accumulated so far: step 0 sends K, V; the middle steps K, V and
 * dK, dV; the last dK, dV alone, which reach their owner with every rank's
 * share added.
 *
 * a2a (DeepSpeed-Ulysses, TE's AttnFuncWithCPAndQKVOA2A): Q, K and V
 * exchanged by all-to-all so that each rank holds the whole sequence for
 * 1/cp of the heads, attention on those, the output exchanged back; the
 * backward mirrors it (dO in, dQ, dK, dV out).
 */
#include "wl_llm_int.h"

#include <stdio.h>

#include "wl_emit.h"

/* The cp group member k's rank (explicit naming) or its index in the cp
 * group (role-named files, one per stage and cp index). */
static int cp_peer(const llm_gen *g, int k)
{
    int cp = g->p->cp;
    k = ((k % cp) + cp) % cp;
    if (g->rank < 0)
        return k;
    return g->rank + (k - g->cpi) * g->p->t;
}

/* Tags above the pipeline's (wl_llm.c p2p_tag: below 2 chunks nmb). */
static int cp_tag(const wl_llm_plan *p, int bwd)
{
    return 2 * p->chunks * p->nmb + bwd;
}

/* One ring step's transfer: the send to `to` and the receive from `from`,
 * both after deps; returns the receive. */
static uint64_t ring_step(llm_gen *g, int l, char ph, int mb, int i, int to, int from,
                          double bytes, const uint64_t *deps, int ndeps)
{
    const wl_llm_plan *p = g->p;
    llm_flush(g);
    const char *pg = g->rank < 0 ? g->pg_cp : NULL;
    int tag = cp_tag(p, ph == 'B');
    snprintf(g->nm, sizeof g->nm, "L%d.%c%d.cp_send%d", l, ph, mb, i);
    wl_send(g->tr, g->nm, cp_peer(g, to), tag, llm_to_u64(g, bytes), pg, deps, ndeps);
    snprintf(g->nm, sizeof g->nm, "L%d.%c%d.cp_recv%d", l, ph, mb, i);
    uint64_t r = wl_recv(g->tr, g->nm, cp_peer(g, from), tag, llm_to_u64(g, bytes), pg, deps,
                         ndeps);
    g->cnt.sends++;
    g->cnt.recvs++;
    g->cnt.send_bytes += bytes;
    return r;
}

/* The forward step j of the ring on the rank with cp index c: its query and
 * key rows (of the rank's s/cp) and whether it is causal. */
static void step_rows(int j, int c, double sq, double *mq, double *nk, int *causal)
{
    *causal = j == 0;
    *mq = j == 0 || j <= c ? sq : sq / 2;
    *nk = j == 0 || j > c ? sq : sq / 2;
}

/* The attention kernel of forward step j (bwd: its backward, 2.5x the
 * work, reading and writing twice the bytes). */
static void step_attn(llm_gen *g, int l, char ph, int mb, int j, int bwd)
{
    const wl_llm_plan *p = g->p;
    double b = p->o.micro_batch, d = p->dh, e = p->e_act, A = p->a_loc;
    double mq, nk;
    int causal;
    step_rows(j, g->cpi, p->m.seq / p->cp, &mq, &nk, &causal);
    double f = 4 * b * A * mq * nk * d * (causal ? 0.5 : 1) * (bwd ? 2.5 : 1);
    double bytes = (bwd ? 2 : 1) * e * (2 * b * mq * A * d + 2 * b * nk * p->kv_loc * d);
    loom_kshape s = llm_shape(bwd ? LOOM_K_ATTN_BWD : LOOM_K_ATTN, mq, nk, d, b * A, (int)e);
    s.causal = causal;
    char k[32];
    snprintf(k, sizeof k, "%s.s%d", bwd ? "flash_attn_bwd" : "flash_attn", j);
    llm_kern_s(g, l, ph, mb, k, f, bytes, &s);
}

static void p2p_fwd(llm_gen *g, int l, char ph, int mb)
{
    const wl_llm_plan *p = g->p;
    int cp = p->cp, c = g->cpi;
    double b = p->o.micro_batch, e = p->e_act, A = p->a_loc, d = p->dh, T = p->T;
    double sq = p->m.seq / cp, kvb = 2 * T * p->kv_loc * d * e;
    llm_flush(g);
    uint64_t rv = 0, start = g->last, attn[2] = {0, 0};
    for (int i = 0; i < cp; i++) {
        uint64_t got = rv;
        if (i < cp - 1) { /* TE's two compute streams: the send of step i waits
                           * for what its stream ran before, step i - 2 */
            uint64_t deps[2] = {i ? got : start, i >= 2 ? attn[i % 2] : 0};
            rv = ring_step(g, l, ph, mb, i, c + 1, c - 1, kvb, deps, deps[1] ? 2 : 1);
        }
        llm_need(g, got);
        step_attn(g, l, ph, mb, i, 0);
        llm_flush(g);
        attn[i % 2] = g->last;
        if (i > 0) { /* the softmax statistics merged: fp32, read two, write one */
            double mq, nk;
            int causal;
            step_rows(i, c, sq, &mq, &nk, &causal);
            char k[32];
            snprintf(k, sizeof k, "cp_lse_correction.s%d", i);
            llm_kern(g, l, ph, mb, k, 3 * b * A * mq, 12 * b * A * mq);
        }
    }
    /* each step's output scaled by its statistics into the result: the
     * first read and written, the others read and added (half the rows
     * for the steps with half the queries) */
    double rows = 2;
    for (int i = 1; i < cp; i++)
        rows += i <= c ? 3 : 1.5;
    llm_kern(g, l, ph, mb, "cp_out_correction", 3 * T * A * d * (cp - 1),
             rows * e * T * A * d);
}

static void p2p_bwd(llm_gen *g, int l, int mb)
{
    const wl_llm_plan *p = g->p;
    int cp = p->cp, c = g->cpi;
    double e = p->e_act, A = p->a_loc, d = p->dh, T = p->T, b = p->o.micro_batch;
    double sq = p->m.seq / cp, kvb = 2 * T * p->kv_loc * d * e;
    /* K and V into the first of the two send buffers */
    llm_kern(g, l, 'B', mb, "cp_kv_copy", 0, 2 * kvb);
    llm_flush(g);
    uint64_t rv = 0, acc = 0;
    for (int i = 0; i < cp; i++) {
        int j = cp - 1 - i; /* the forward step it reverses */
        double bytes = i == 0 || i == cp - 1 ? kvb : 2 * kvb; /* K, V / both / dK, dV */
        uint64_t deps[2] = {i ? rv : g->last, acc};
        uint64_t got = rv;
        rv = ring_step(g, l, 'B', mb, i, c - 1, c + 1, bytes, deps, acc ? 2 : 1);
        llm_need(g, got);
        step_attn(g, l, 'B', mb, j, 1);
        double mq, nk;
        int causal;
        step_rows(j, c, sq, &mq, &nk, &causal);
        double w = i == 0 ? 2 : 3; /* the first written, the rest added */
        char k[32];
        snprintf(k, sizeof k, "cp_dq_add.s%d", j);
        llm_kern(g, l, 'B', mb, k, i ? b * mq * A * d : 0, w * e * b * mq * A * d);
        /* this step's dK, dV added to those received (TE waits for them) */
        llm_need(g, rv);
        snprintf(k, sizeof k, "cp_dkv_add.s%d", j);
        llm_kern(g, l, 'B', mb, k, 2 * b * nk * p->kv_loc * d, 3 * e * 2 * b * nk * p->kv_loc * d);
        llm_flush(g);
        acc = g->last;
    }
}

static void allgather_fwd(llm_gen *g, int l, char ph, int mb)
{
    const wl_llm_plan *p = g->p;
    double b = p->o.micro_batch, s = p->m.seq, d = p->dh, e = p->e_act;
    double A = p->a_loc, T = p->T, cp = p->cp, sq = s / cp;
    snprintf(g->nm, sizeof g->nm, "L%d.%c%d.ag_kv_cp", l, ph, mb);
    llm_need(g, llm_coll_after(g, g->nm, ET_ALL_GATHER, 2 * T * p->kv_loc * d * e, g->pg_cp,
                               &g->last, 1));
    loom_kshape fs = llm_shape(LOOM_K_ATTN, sq, s, d, b * A, (int)e); /* bf16 under FP8 */
    fs.causal = 1;
    llm_kern_s(g, l, ph, mb, "flash_attn", 0.5 * 4 * b * A * sq * s * d,
               e * (2 * T * A * d + 2 * T * cp * p->kv_loc * d), &fs);
}

static void allgather_bwd(llm_gen *g, int l, int mb)
{
    const wl_llm_plan *p = g->p;
    double b = p->o.micro_batch, s = p->m.seq, d = p->dh, e = p->e_act;
    double A = p->a_loc, T = p->T, cp = p->cp, sq = s / cp;
    if (p->o.recompute != WL_RC_FULL) { /* K, V gathered again (not kept) */
        snprintf(g->nm, sizeof g->nm, "L%d.B%d.ag_kv_cp", l, mb);
        llm_need(g, llm_coll_after(g, g->nm, ET_ALL_GATHER, 2 * T * p->kv_loc * d * e, g->pg_cp,
                                   &g->last, 1));
    }
    loom_kshape fs = llm_shape(LOOM_K_ATTN_BWD, sq, s, d, b * A, (int)e);
    fs.causal = 1;
    llm_kern_s(g, l, 'B', mb, "flash_attn_bwd", 0.5 * 10 * b * A * sq * s * d,
               e * (4 * T * A * d + 4 * T * cp * p->kv_loc * d), &fs);
    /* the gradients of the whole sequence's K and V, summed back to their
     * owners before the QKV GEMM's input gradient */
    snprintf(g->nm, sizeof g->nm, "L%d.B%d.rs_dkv_cp", l, mb);
    llm_need(g, llm_coll_after(g, g->nm, ET_REDUCE_SCATTER, 2 * T * cp * p->kv_loc * d * e,
                               g->pg_cp, &g->last, 1));
}

/* One tensor of `elems` elements a rank through an all-to-all over the cp
 * group, as TE's flash_attn_a2a_communicate moves it: laid out by
 * destination (a copy), exchanged, reordered into sequence order (a copy);
 * the next kernel waits for it. */
static void a2a_tensor(llm_gen *g, int l, char ph, int mb, const char *what, double elems)
{
    double e = g->p->e_act;
    char k[48];
    snprintf(k, sizeof k, "cp_a2a_%s_pack", what);
    llm_kern(g, l, ph, mb, k, 0, 2 * e * elems);
    snprintf(g->nm, sizeof g->nm, "L%d.%c%d.cp_a2a_%s", l, ph, mb, what);
    llm_need(g, llm_coll_after(g, g->nm, ET_ALL_TO_ALL, e * elems, g->pg_cp, &g->last, 1));
    snprintf(k, sizeof k, "cp_a2a_%s_unpack", what);
    llm_kern(g, l, ph, mb, k, 0, 2 * e * elems);
}

/* The whole sequence's attention on a/(tp cp) heads (bwd: its backward). */
static void a2a_attn(llm_gen *g, int l, char ph, int mb, int bwd)
{
    const wl_llm_plan *p = g->p;
    double b = p->o.micro_batch, s = p->m.seq, d = p->dh, e = p->e_act, cp = p->cp;
    double A = p->a_loc / cp, G = p->kv_loc / cp, n = b * s;
    loom_kshape fs = llm_shape(bwd ? LOOM_K_ATTN_BWD : LOOM_K_ATTN, s, s, d, b * A, (int)e);
    fs.causal = 1;
    llm_kern_s(g, l, ph, mb, bwd ? "flash_attn_bwd" : "flash_attn",
               0.5 * (bwd ? 10 : 4) * b * A * s * s * d,
               (bwd ? 2 : 1) * e * (2 * n * A * d + 2 * n * G * d), &fs);
}

static void a2a_fwd(llm_gen *g, int l, char ph, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, d = p->dh;
    a2a_tensor(g, l, ph, mb, "q", T * p->a_loc * d);
    a2a_tensor(g, l, ph, mb, "k", T * p->kv_loc * d);
    a2a_tensor(g, l, ph, mb, "v", T * p->kv_loc * d);
    a2a_attn(g, l, ph, mb, 0);
    a2a_tensor(g, l, ph, mb, "out", T * p->a_loc * d);
}

static void a2a_bwd(llm_gen *g, int l, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, d = p->dh;
    a2a_tensor(g, l, 'B', mb, "dout", T * p->a_loc * d);
    a2a_attn(g, l, 'B', mb, 1);
    a2a_tensor(g, l, 'B', mb, "dq", T * p->a_loc * d);
    a2a_tensor(g, l, 'B', mb, "dk", T * p->kv_loc * d);
    a2a_tensor(g, l, 'B', mb, "dv", T * p->kv_loc * d);
}

void llm_cp_attn_fwd(llm_gen *g, int l, char ph, int mb)
{
    switch (g->p->o.cp_comm) {
    case WL_CP_ALLGATHER: allgather_fwd(g, l, ph, mb); break;
    case WL_CP_A2A: a2a_fwd(g, l, ph, mb); break;
    default: p2p_fwd(g, l, ph, mb); break;
    }
}

void llm_cp_attn_bwd(llm_gen *g, int l, int mb)
{
    switch (g->p->o.cp_comm) {
    case WL_CP_ALLGATHER: allgather_bwd(g, l, mb); break;
    case WL_CP_A2A: a2a_bwd(g, l, mb); break;
    default: p2p_bwd(g, l, mb); break;
    }
}
