/*
 * wl_llm_layers.c: what `loom gen llm` emits for the model itself.  The
 * primitives (a kernel, a GEMM, a weight-gradient GEMM, a collective, a
 * fused span for --granularity layer) keep the stream order and the
 * dependencies stated in wl_llm_int.h; on them, one transformer layer
 * forward and backward, the embedding and the output layer, with the
 * FLOPs and bytes of docs/WORKLOADS.md.
 */
#include "wl_llm_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "sbuf.h" /* loom_vgrow */

/* ---- emission ------------------------------------------------------------- */

uint64_t llm_to_u64(llm_gen *g, double v)
{
    if (!(v < 9.2e18)) {
        if (v > g->overflow)
            g->overflow = v;
        return 0;
    }
    return (uint64_t)llround(v);
}

static double kernel_seconds(const llm_gen *g, double flops, double bytes, const loom_kshape *s)
{
    comp_kernel k = {.num_ops = (uint64_t)(flops < 9.2e18 ? flops : 9.2e18),
                     .tensor_size = (uint64_t)(bytes < 9.2e18 ? bytes : 9.2e18),
                     .has_ops = 1, .shape = s};
    return (double)comp_time(&g->p->dev, &k, NULL) / (double)SIM_PS_PER_S;
}

loom_kshape llm_shape(int cls, double m, double n, double k, double batch, int dtype_bytes)
{
    loom_kshape s = {0};
    if (!(m < 4294967295.0 && n < 4294967295.0 && k < 4294967295.0 && batch < 4294967295.0))
        return s;
    s.cls = (uint8_t)cls;
    s.m = (uint32_t)llround(m);
    s.n = (uint32_t)llround(n);
    s.k = (uint32_t)llround(k);
    s.batch = (uint32_t)llround(batch);
    s.dtype_bytes = (uint8_t)dtype_bytes;
    return s;
}

static uint64_t us_of(double sec) { return (uint64_t)llround(sec * 1e6); }

void llm_flush(llm_gen *g)
{
    if (!g->fusing)
        return;
    g->fusing = 0;
    uint64_t id = wl_comp_fused(g->tr, g->fname, llm_to_u64(g, g->ff), llm_to_u64(g, g->fb),
                                us_of(g->fsec), g->kw, g->nkw, g->ks, g->fdeps, g->nfdeps);
    if (id)
        g->last = id;
}

void llm_need(llm_gen *g, uint64_t id)
{
    if (id == 0)
        return;
    LOOM_ASSERT(g->nneed < LLM_MAXNEED);
    g->need[g->nneed++] = id;
}

void llm_kern(llm_gen *g, int layer, char ph, int mb, const char *k, double flops, double bytes)
{
    loom_kshape s = {.cls = LOOM_K_ELEM};
    llm_kern_s(g, layer, ph, mb, k, flops, bytes, &s);
}

void llm_norm(llm_gen *g, int layer, char ph, int mb, const char *k, double flops, double bytes)
{
    loom_kshape s = {.cls = LOOM_K_NORM};
    llm_kern_s(g, layer, ph, mb, k, flops, bytes, &s);
}

/* One compute kernel, after the stream position and what it needs. */
void llm_kern_s(llm_gen *g, int layer, char ph, int mb, const char *k, double flops, double bytes,
                const loom_kshape *s)
{
    loom_kshape sd;
    if (s && (s->cls == LOOM_K_ATTN || s->cls == LOOM_K_ATTN_BWD) && g->p->m.adrop == WL_DROP_ON) {
        /* the attention dropout runs inside the fused kernel, forward and
         * backward (FlashAttention's and cuDNN's dropout_p) */
        sd = *s;
        sd.dropout = 1;
        s = &sd;
    }
    double sec = kernel_seconds(g, flops, bytes, s);
    if (g->p->o.gran == WL_GRAN_KERNEL) {
        uint64_t deps[LLM_MAXNEED + 1];
        int n = 0;
        deps[n++] = g->last;
        for (int i = 0; i < g->nneed; i++)
            deps[n++] = g->need[i];
        g->nneed = 0;
        if (layer >= 0)
            snprintf(g->nm, sizeof g->nm, "L%d.%c%d.%s", layer, ph, mb, k);
        else
            snprintf(g->nm, sizeof g->nm, "%c%d.%s", ph, mb, k);
        uint64_t id = wl_comp_shaped(g->tr, g->nm, llm_to_u64(g, flops), llm_to_u64(g, bytes),
                                     us_of(sec), s, deps, n);
        if (id)
            g->last = id;
        return;
    }
    /* fused: a node waits for all its inputs at its start, so a kernel that
     * needs a communication result starts a new span */
    if (g->fusing && g->nneed > 0)
        llm_flush(g);
    if (!g->fusing) {
        g->fusing = 1;
        g->ff = g->fb = g->fsec = 0;
        g->nkw = 0;
        g->nfdeps = 0;
        g->fdeps[g->nfdeps++] = g->last;
        for (int i = 0; i < g->nneed; i++)
            g->fdeps[g->nfdeps++] = g->need[i];
        g->nneed = 0;
        if (layer >= 0)
            snprintf(g->fname, sizeof g->fname, "L%d.%c%d.%s+", layer, ph, mb, k);
        else
            snprintf(g->fname, sizeof g->fname, "%c%d.%s+", ph, mb, k);
    }
    if (g->nkw == ET_MAX_KERNELS) { /* a span that long: close it, open a new one */
        llm_flush(g);
        llm_kern_s(g, layer, ph, mb, k, flops, bytes, s);
        return;
    }
    g->kw = loom_vgrow(g->kw, &g->capkw, 2 * ((size_t)g->nkw + 1), sizeof *g->kw);
    g->ks = loom_vgrow(g->ks, &g->capks, (size_t)g->nkw + 1, sizeof *g->ks);
    g->ks[g->nkw] = s ? *s : (loom_kshape){0};
    g->kw[2 * g->nkw] = llm_to_u64(g, flops);
    g->kw[2 * g->nkw + 1] = llm_to_u64(g, bytes);
    g->nkw++;
    g->ff += flops;
    g->fb += bytes;
    g->fsec += sec;
}

/* A GEMM of (M x K) times (K x N) on operands of eb bytes: 2MKN FLOPs;
 * reads both operands, writes the product; sms: SMs a communication
 * kernel beside it holds (kshape.h comm_sms). */
static void gemm_x(llm_gen *g, int layer, char ph, int mb, const char *k, double M, double K,
                   double N, int eb, int sms)
{
    const wl_llm_plan *p = g->p;
    loom_kshape s = llm_shape(LOOM_K_GEMM, M, N, K, 1, eb);
    s.comm_sms = (uint8_t)sms;
    llm_kern_s(g, layer, ph, mb, k, 2 * M * K * N, eb * (M * K + K * N) + p->e_act * M * N, &s);
}

static void gemm_e(llm_gen *g, int layer, char ph, int mb, const char *k, double M, double K,
                   double N, int eb)
{
    gemm_x(g, layer, ph, mb, k, M, K, N, eb, 0);
}

/* A linear layer's GEMM: operands of e_mm bytes (1 under the FP8 recipe). */
static void gemm(llm_gen *g, int layer, char ph, int mb, const char *k, double M, double K, double N)
{
    gemm_e(g, layer, ph, mb, k, M, K, N, g->emm);
}

/* batch GEMMs of (M x K)(K x N) in one kernel (attention's, experts'),
 * with the FLOPs and bytes the caller counts; operands of eb bytes
 * (attention keeps 16-bit operands under the FP8 recipe). */
static void bgemm(llm_gen *g, int layer, char ph, int mb, const char *k, double eb, double batch,
                  double M, double K, double N, double flops, double bytes)
{
    loom_kshape s = llm_shape(LOOM_K_GEMM, M, N, K, batch, (int)eb);
    llm_kern_s(g, layer, ph, mb, k, flops, bytes, &s);
}

/* A weight-gradient GEMM on operands of eb bytes: reads both activations,
 * accumulates into the gradient buffer (read + write at the gradient
 * width). */
static void wgrad_x(llm_gen *g, int layer, char ph, int mb, const char *k, double M, double K,
                    double N, int eb, int sms)
{
    const wl_llm_plan *p = g->p;
    /* (K x M)(M x N): the K x N gradient, reduced over the M tokens */
    loom_kshape s = llm_shape(LOOM_K_GEMM, K, N, M, 1, eb);
    s.comm_sms = (uint8_t)sms;
    llm_kern_s(g, layer, ph, mb, k, 2 * M * K * N, eb * (M * K + M * N) + 2.0 * p->e_g * K * N, &s);
}

static void wgrad_e(llm_gen *g, int layer, char ph, int mb, const char *k, double M, double K,
                    double N, int eb)
{
    wgrad_x(g, layer, ph, mb, k, M, K, N, eb, 0);
}

static void wgrad(llm_gen *g, int layer, char ph, int mb, const char *k, double M, double K, double N)
{
    wgrad_e(g, layer, ph, mb, k, M, K, N, g->emm);
}

uint64_t llm_coll_after(llm_gen *g, const char *name, int type, double bytes, const char *pg,
                        const uint64_t *deps, int ndeps)
{
    llm_flush(g);
    g->cnt.colls[type]++;
    g->cnt.coll_bytes[type] += bytes;
    return wl_coll(g->tr, name, type, llm_to_u64(g, bytes), pg, deps, ndeps);
}

/* A collective on the data the stream has just produced; sms >= 0 is the
 * SMs it holds (comm_sms), -1 the system's comm-sms. */
static uint64_t coll_x(llm_gen *g, int layer, char ph, int mb, const char *k, int type,
                       double bytes, const char *pg, int sms)
{
    llm_flush(g);
    if (layer >= 0)
        snprintf(g->nm, sizeof g->nm, "L%d.%c%d.%s", layer, ph, mb, k);
    else
        snprintf(g->nm, sizeof g->nm, "%c%d.%s", ph, mb, k);
    g->cnt.colls[type]++;
    g->cnt.coll_bytes[type] += bytes;
    return wl_coll_sms(g->tr, g->nm, type, llm_to_u64(g, bytes), pg, sms, &g->last, 1);
}

static uint64_t coll(llm_gen *g, int layer, char ph, int mb, const char *k, int type, double bytes,
                     const char *pg)
{
    return coll_x(g, layer, ph, mb, k, type, bytes, pg, -1);
}

/* A userbuffer collective of --tp-comm-overlap (below): comm_sms 0, as its
 * SMs are the --tp-comm-sms the GEMMs beside it already give up (a ring
 * exchange holds none: copy engines). */
static uint64_t coll_ub(llm_gen *g, int layer, char ph, int mb, const char *k, int type,
                        double bytes)
{
    return coll_x(g, layer, ph, mb, k, type, bytes, g->pg_tp, 0);
}

/* A tensor-parallel collective whose result the next kernel needs. */
static void tp_coll(llm_gen *g, int layer, char ph, int mb, const char *k, int type, double bytes)
{
    if (g->p->t > 1)
        llm_need(g, coll(g, layer, ph, mb, k, type, bytes, g->pg_tp));
}

/* --tp-comm-overlap as Transformer Engine runs it with its default
 * userbuffer settings (transformer_engine/pytorch/module/base.py,
 * initialize_ub: get_default_config): all-gathers feeding a GEMM by
 * "ring_exchange" (copy-engine transfers, no SMs held, the GEMM in tp
 * chunks as they arrive), reduce-scatters of a forward GEMM's output by
 * "pipeline" (the GEMM in UB_SPLITS chunks, each chunk's reduce-scatter
 * beside the next chunk), and the backward's bulk overlaps (a whole
 * collective beside a whole GEMM); "pipeline" and "bulk" hold
 * --tp-comm-sms SMs (its default, WL_TP_COMM_SMS, is TE's) for their
 * communication kernels and start the GEMM with that margin
 * (set_sm_margin). */
enum { UB_SPLITS = 4 };

static int ub_on(const llm_gen *g) { return g->p->o.tp_overlap && g->p->t > 1; }

/* A tensor-parallel all-gather of `bytes` feeding a GEMM (M x K)(K x N).
 * Overlapped (ring exchange): the gather runs from the stream position
 * and the GEMM beside it on the chunks already there, so all but the last
 * tp-th of its rows go at once and the last waits for the gather's end:
 * max(gather, GEMM on (tp-1)/tp of M) + GEMM on M/tp.  Otherwise the gather,
 * then the GEMM. */
static void ag_gemm(llm_gen *g, int l, char ph, int mb, const char *kc, double bytes, const char *kg,
                    double M, double K, double N)
{
    const wl_llm_plan *p = g->p;
    if (!ub_on(g)) {
        tp_coll(g, l, ph, mb, kc, ET_ALL_GATHER, bytes);
        gemm(g, l, ph, mb, kg, M, K, N);
        return;
    }
    uint64_t c = coll_ub(g, l, ph, mb, kc, ET_ALL_GATHER, bytes);
    double last = M / p->t;
    gemm(g, l, ph, mb, kg, M - last, K, N);
    llm_need(g, c);
    char nm[64];
    snprintf(nm, sizeof nm, "%s.last", kg);
    gemm(g, l, ph, mb, nm, last, K, N);
}

/* A GEMM (M x K)(K x N) whose output is reduced over tensor parallelism:
 * reduce-scattered (`bytes` in all) with sequence parallelism, else
 * all-reduced.  Overlapped (pipeline): UB_SPLITS GEMMs of M / UB_SPLITS
 * rows on the SMs the communication leaves (--tp-comm-sms), each chunk's reduce-scatter
 * issued after it (the chunks' reductions queue on the tensor-parallel
 * stream), the next kernel after the last. */
static void gemm_rs(llm_gen *g, int l, char ph, int mb, const char *kc, double bytes, const char *kg,
                    double M, double K, double N)
{
    const wl_llm_plan *p = g->p;
    if (!ub_on(g)) { /* (the overlap needs sequence parallelism: the plan checks) */
        gemm(g, l, ph, mb, kg, M, K, N);
        tp_coll(g, l, ph, mb, kc, p->o.sp ? ET_REDUCE_SCATTER : ET_ALL_REDUCE, bytes);
        return;
    }
    uint64_t c = 0;
    for (int i = 0; i < UB_SPLITS; i++) {
        char ng[64], nc[64];
        snprintf(ng, sizeof ng, "%s.c%d", kg, i);
        snprintf(nc, sizeof nc, "%s.c%d", kc, i);
        gemm_x(g, l, ph, mb, ng, M / UB_SPLITS, K, N, g->emm, p->o.tp_comm_sms);
        c = coll_ub(g, l, ph, mb, nc, ET_REDUCE_SCATTER, bytes / UB_SPLITS);
    }
    llm_need(g, c);
}

/* ---- the FP8 recipe's casts ----------------------------------------------- */

/* Under --dtype fp8 every input and output gradient of a linear layer's
 * GEMM is cast to FP8 by Transformer Engine's current scaling
 * (transformer_engine/pytorch/csrc/quantizer.cpp,
 * Float8CurrentScalingQuantizer::quantize_impl): an amax pass that reads
 * the n-element bf16 tensor (nvte_compute_amax), the scale, then the cast
 * that reads it again and writes the FP8 copy (nvte_quantize_v2): row-wise,
 * and column-wise too when a backward GEMM takes it transposed (Hopper's
 * FP8 GEMMs).  The scale cannot be fused into the kernel that produced the
 * tensor (csrc/extensions/activation.cpp: the activation writes bf16, then
 * amax and cast), so a norm's or an activation's output is cast the same
 * way.  A tensor about to be all-gathered (sequence parallelism) is cast
 * row-wise only ("All-gather is not supported with FP8 column-wise data",
 * layernorm_linear.py), its amax first all-reduced over tp (the quantizer's
 * amax reduction group), and transposed after the gather where the weight
 * gradient needs it (fp8_t).  The weights' own casts (once a step, on the
 * first microbatch) are not emitted.
 * --fp8-recipe delayed (TE's DelayedScaling: the scale comes from past
 * steps' amax history, and the amax of this one is taken by the cast
 * kernel itself, reduced once a step): one cast kernel, no amax pass and
 * no all-reduce, and a norm's output (norm = 1) is written in FP8 by the
 * norm kernel (with_quantized_norm), so it costs no kernel of its own. */
static void fp8_cast(llm_gen *g, int l, char ph, int mb, const char *k, double n, int gathered,
                     int norm)
{
    const wl_llm_plan *p = g->p;
    if (g->emm != 1 || (p->o.fp8_delayed && norm)) /* emm is 1 in FP8 layers only */
        return;
    char nm[64];
    if (!p->o.fp8_delayed) { /* current scaling: the amax first */
        snprintf(nm, sizeof nm, "%s_amax", k);
        llm_kern(g, l, ph, mb, nm, n, 2 * n);
        if (gathered) {
            snprintf(nm, sizeof nm, "%s_amax_ar", k);
            llm_need(g, coll(g, l, ph, mb, nm, ET_ALL_REDUCE, 4, g->pg_tp));
        }
    }
    snprintf(nm, sizeof nm, "%s_cast", k);
    llm_kern(g, l, ph, mb, nm, n, 2 * n + (gathered ? 1 : 2) * n);
}

/* The column-wise (transposed) FP8 copy of a gathered tensor of n
 * elements: reads and writes one byte each. */
static void fp8_t(llm_gen *g, int l, char ph, int mb, const char *k, double n)
{
    if (g->emm == 1 && g->p->o.sp)
        llm_kern(g, l, ph, mb, k, 0, 2 * n);
}

/* The backward of a column-parallel linear layer (QKV, FC1) whose output
 * gradient dY (M x N) arrives complete: its input gradient dX = dY W^T
 * (M x N)(N x K), reduced over tensor parallelism, and its weight gradient
 * X^T dY, which needs the whole input X.  With sequence parallelism X was
 * kept as the rank's shard and is gathered again (`gbytes`) beside the
 * input-gradient GEMM, and dX's reduce-scatter (`rbytes`) runs beside the
 * weight-gradient GEMM (Megatron's and Transformer Engine's asynchronous
 * tensor-parallel communication; without sequence parallelism, dX's
 * all-reduce beside the weight gradient).  Overlapped (bulk), both GEMMs
 * leave --tp-comm-sms SMs to the communication. */
static void col_bwd_x(llm_gen *g, int l, int mb, const char *kag, double gbytes, const char *kd,
                      const char *krs, double rbytes, const char *kw, double M, double K, double N,
                      int eb, int ub)
{
    const wl_llm_plan *p = g->p;
    /* userbuffers: the GEMMs leave --tp-comm-sms SMs to the transfers, which
     * hold none of their own; else NCCL's (the system's comm-sms) */
    int sp = p->o.sp, sms = ub ? p->o.tp_comm_sms : 0, csms = ub ? 0 : -1;
    uint64_t ca = 0, cr = 0;
    if (p->t > 1 && sp)
        ca = coll_x(g, l, 'B', mb, kag, ET_ALL_GATHER, gbytes, g->pg_tp, csms);
    gemm_x(g, l, 'B', mb, kd, M, N, K, eb, sms);
    if (p->t > 1)
        cr = coll_x(g, l, 'B', mb, krs, sp ? ET_REDUCE_SCATTER : ET_ALL_REDUCE, rbytes, g->pg_tp,
                    csms);
    llm_need(g, ca);
    if (eb == 1) { /* the gathered input's FP8 copy transposed for the weight gradient */
        char nm[64];
        snprintf(nm, sizeof nm, "%.*s_in_t", (int)strcspn(kw, "_"), kw); /* qkv_wgrad: qkv_in_t */
        fp8_t(g, l, 'B', mb, nm, M * K);
    }
    wgrad_x(g, l, 'B', mb, kw, M, K, N, eb, sms);
    llm_need(g, cr);
}

/* A layer's: at its operand width, the userbuffer SMs when overlapped. */
static void col_bwd(llm_gen *g, int l, int mb, const char *kag, double gbytes, const char *kd,
                    const char *krs, double rbytes, const char *kw, double M, double K, double N)
{
    col_bwd_x(g, l, mb, kag, gbytes, kd, krs, rbytes, kw, M, K, N, g->emm,
              ub_on(g));
}

/* ---- one transformer layer ------------------------------------------------ */

static double layer_dense_bytes_w(const wl_llm_plan *p) { return llm_layer_dense(p) * p->e_w; }

/* Bytes per element of the sequence-parallel all-gathers feeding a linear
 * layer's GEMM (its input forward, again for the weight gradient, and the
 * output gradient of the row-parallel ones): the GEMM's operand width.
 * Under the FP8 recipe Transformer Engine casts the norm's output to FP8
 * before the gather (layernorm_linear.py, with_quantized_norm; fp8_cast
 * below) and the gather moves that row-wise FP8 data; output gradients
 * are cast before theirs likewise. */
static double gather_bytes(const llm_gen *g) { return g->emm; }

/* Layer l's ZeRO-3 parameter all-gathers (dense on dp, experts on edp),
 * each after node dep; ids[] gets them (0: none). */
static void zero3_ag(llm_gen *g, int l, char ph, int mb, uint64_t dep, uint64_t ids[2])
{
    const wl_llm_plan *p = g->p;
    ids[0] = ids[1] = 0;
    snprintf(g->nm, sizeof g->nm, "L%d.%c%d.zero3_ag", l, ph, mb);
    if (p->dp > 1)
        ids[0] = llm_coll_after(g, g->nm, ET_ALL_GATHER, layer_dense_bytes_w(p) / p->dp,
                                g->pg_dp, &dep, 1);
    int edp = p->moe ? p->dp / p->ep : 0;
    if (edp > 1) {
        snprintf(g->nm, sizeof g->nm, "L%d.%c%d.zero3_ag_exp", l, ph, mb);
        ids[1] = llm_coll_after(g, g->nm, ET_ALL_GATHER, llm_layer_expert(p) * p->e_w / edp,
                                g->pg_edp, &dep, 1);
    }
}

/* ZeRO-3: layer l waits for its parameters' all-gathers, and the next
 * layer's (g->z3_next) are issued now, one layer ahead, as FSDP prefetches
 * them: written before this layer's kernels and its gradients'
 * reduce-scatter, so that the data-parallel stream, which runs in the
 * order it is written (wl_emit.c emit_on), has them in the order the host
 * issues them.  Each gather may start when the layer before the one it
 * serves starts (the first of an op: now). */
static void zero3_gather(llm_gen *g, int l, char ph, int mb)
{
    const wl_llm_plan *p = g->p;
    if (p->o.zero < 3)
        return;
    uint64_t at = g->last, ids[2];
    if (g->z3_layer == l && g->z3_ph == ph) { /* prefetched */
        ids[0] = g->z3_ag[0];
        ids[1] = g->z3_ag[1];
    } else {
        zero3_ag(g, l, ph, mb, at, ids);
    }
    llm_need(g, ids[0]);
    llm_need(g, ids[1]);
    g->z3_layer = g->z3_next;
    g->z3_ph = ph;
    if (g->z3_next >= 0)
        zero3_ag(g, g->z3_next, ph, mb, at, g->z3_ag);
}

/* Rotary position embeddings on the rank's queries and keys (forward) or
 * their gradients (backward): each element x becomes x cos + rot(x) sin,
 * 3 FLOPs, read and written once (the cos/sin table stays in cache). */
static void rope(llm_gen *g, int l, char ph, int mb, const char *k)
{
    const wl_llm_plan *p = g->p;
    if (p->m.pos != WL_POS_ROPE)
        return;
    double n = p->T * (p->a_loc + p->kv_loc) * p->dh;
    llm_kern(g, l, ph, mb, k, 3 * n, 2 * p->e_act * n);
}

static void attn_core_fwd(llm_gen *g, int l, char ph, int mb)
{
    const wl_llm_plan *p = g->p;
    const wl_model *m = &p->m;
    double b = p->o.micro_batch, s = m->seq, d = p->dh, e = p->e_act;
    double A = p->a_loc, T = p->T, cp = p->cp, sq = s / cp;
    if (m->flash) { /* causal: the kernel skips the masked half */
        if (p->cp > 1) { /* context parallelism: wl_llm_cp.c */
            llm_cp_attn_fwd(g, l, ph, mb);
            return;
        }
        loom_kshape fs = llm_shape(LOOM_K_ATTN, sq, s, d, b * A, (int)e); /* bf16 under FP8 */
        fs.causal = 1;
        llm_kern_s(g, l, ph, mb, "flash_attn", 0.5 * 4 * b * A * sq * s * d,
                   e * (2 * T * A * d + 2 * T * cp * p->kv_loc * d), &fs);
        return;
    }
    /* unfused: per head, scores Q K^T (s x d)(d x s), then P V (s x s)(s x d) */
    bgemm(g, l, ph, mb, "attn_score", e, b * A, s, d, s, 2 * b * A * s * s * d,
          e * (T * A * d + T * p->kv_loc * d + b * A * s * s));
    /* Megatron's fused scale-mask-softmax, then its attention dropout as a
     * kernel of its own (nn.Dropout on the probabilities: read, write, and
     * the byte mask), as ParallelAttention and Megatron-Core's unfused
     * DotProductAttention run them */
    llm_kern(g, l, ph, mb, "softmax", 5 * b * A * s * s, 2 * e * b * A * s * s);
    loom_kshape ds = {.cls = LOOM_K_DROPOUT}; /* nn.Dropout: torch's native_dropout */
    if (p->m.adrop == WL_DROP_ON)
        llm_kern_s(g, l, ph, mb, "attn_dropout", b * A * s * s, (2 * e + 1) * b * A * s * s, &ds);
    bgemm(g, l, ph, mb, "attn_ctx", e, b * A, s, s, d, 2 * b * A * s * s * d,
          e * (b * A * s * s + T * p->kv_loc * d + T * A * d));
}

/* The bias-dropout-add's mask, bytes an element: Megatron's fused kernel
 * (x + bias, dropout, + residual) writes a byte mask when the hidden
 * dropout runs, and its backward multiplies the gradient by it; at p = 0
 * ATen's dropout returns its input, so the kernel is the adds alone and
 * their backward passes the gradient on, no kernel. */
static double hmask(const wl_llm_plan *p) { return p->m.hdrop == WL_DROP_ON ? 1 : 0; }

/* A residual block's input feeds its norm and its residual add, so
 * autograd sums the two gradients that reach it: the one the add passes
 * on and the norm's backward output, an add kernel (two read, one
 * written) after the norm's backward. */
static void resid_acc(llm_gen *g, int l, int mb, const char *k)
{
    const wl_llm_plan *p = g->p;
    double Tl = p->Tl, h = p->m.hidden, e = p->e_act;
    llm_kern(g, l, 'B', mb, k, Tl * h, 3 * e * Tl * h);
}

/* A linear layer's bias gradient (with biases): the sums of its output
 * gradient's columns over the rows (tokens), a reduction kernel that reads
 * the gradient and writes the bias's.  Megatron computes it apart from the
 * GEMMs: `grad_output.sum(dim=0)` in its linear layers' backward, and
 * autograd's sum of the broadcast bias in the backward of its fused
 * bias-GeLU and bias-dropout-add (their `backward` returns the input's
 * gradient for the bias too); PyTorch's nn.Linear likewise (addmm's
 * backward).  Priced as the norm class, the reduction class (torch's sum
 * kernels measured in H200 layers run at its speed, docs/DEVICES.md).
 * Transformer Engine fuses its own linear layers' bias gradient into the
 * GEMM or the FP8 cast (`skip` 1: QKV's under --dtype fp8). */
static void bias_grad(llm_gen *g, int l, int mb, const char *k, double rows, double cols, int skip)
{
    const wl_llm_plan *p = g->p;
    if (!llm_biases(&p->m) || skip)
        return;
    llm_norm(g, l, 'B', mb, k, rows * cols, p->e_act * rows * cols + p->e_g * cols);
}

/* The layer's GEMM operand width: --fp8-bf16-layers keeps the model's
 * first and last layers in bf16 under FP8 (Megatron's
 * --first-last-layers-bf16; Megatron-Bridge's current-scaling recipe keeps
 * one at each end), their GEMMs, gathers and saved inputs at e_act and
 * none of the FP8 casts. */
static void layer_width(llm_gen *g, int l)
{
    const wl_llm_plan *p = g->p;
    int bf16 = l < p->o.fp8_bf16_first || l >= p->m.layers - p->o.fp8_bf16_last;
    g->emm = bf16 ? p->e_act : p->e_mm;
}

void llm_layer_fwd(llm_gen *g, int l, char ph, int mb)
{
    const wl_llm_plan *p = g->p;
    layer_width(g, l);
    const wl_model *m = &p->m;
    double T = p->T, Tl = p->Tl, h = m->hidden, e = p->e_act, t = p->t;
    double d = p->dh, nqkv = p->nqkv, eg = gather_bytes(g);
    int sp = p->o.sp;
    zero3_gather(g, l, ph, mb);
    llm_norm(g, l, ph, mb, "ln1", 5 * Tl * h, 2 * e * Tl * h);
    fp8_cast(g, l, ph, mb, "qkv_in", Tl * h, sp, 1);
    if (sp)
        ag_gemm(g, l, ph, mb, "ag_qkv", Tl * h * eg, "qkv", T, h, nqkv);
    else
        gemm(g, l, ph, mb, "qkv", T, h, nqkv);
    rope(g, l, ph, mb, "rope");
    attn_core_fwd(g, l, ph, mb);
    fp8_cast(g, l, ph, mb, "proj_in", T * p->a_loc * d, 0, 0);
    gemm_rs(g, l, ph, mb, sp ? "rs_proj" : "ar_proj", T * h * e, "proj", T, p->a_loc * d, h);
    llm_kern(g, l, ph, mb, "resid1", 2 * Tl * h, (3 * e + hmask(p)) * Tl * h);
    llm_norm(g, l, ph, mb, "ln2", 5 * Tl * h, 2 * e * Tl * h);
    if (p->moe) {
        double E = m->experts, k = m->topk, f = m->ffn, Tx = Tl * k, El = p->e_loc;
        int nin = llm_mlp_in(m);
        gemm_e(g, l, ph, mb, "router", Tl, h, E, (int)e); /* not FP8: see llm_head_fwd */
        /* the token copies grouped by expert (Megatron-Core's permute: Tx
         * rows gathered), and with several experts a rank, the chunks that
         * arrive by source rank regrouped by expert around the experts
         * (sort_chunks_by_idxs); each reads and writes Tx rows */
        int regroup = p->ep > 1 && El > 1;
        llm_kern(g, l, ph, mb, "permute", 0, 2 * e * Tx * h);
        if (p->ep > 1)
            llm_need(g, coll(g, l, ph, mb, "a2a_dispatch", ET_ALL_TO_ALL, Tx * h * e, g->pg_ep));
        if (regroup)
            llm_kern(g, l, ph, mb, "sort_chunks", 0, 2 * e * Tx * h);
        /* grouped GEMMs: El experts, Tx / El tokens each (balanced routing) */
        fp8_cast(g, l, ph, mb, "exp_fc1_in", Tx * h, 0, 0);
        bgemm(g, l, ph, mb, "exp_fc1", g->emm, El, Tx / El, h, f * nin, 2 * Tx * h * f * nin,
              g->emm * (Tx * h + El * h * f * nin) + e * Tx * f * nin);
        llm_kern(g, l, ph, mb, "exp_act", wl_mlp_kinds[m->mlp].flops * Tx * f,
                 (nin + 1) * e * Tx * f);
        fp8_cast(g, l, ph, mb, "exp_fc2_in", Tx * f, 0, 0);
        bgemm(g, l, ph, mb, "exp_fc2", g->emm, El, Tx / El, f, h, 2 * Tx * f * h,
              g->emm * (Tx * f + El * f * h) + e * Tx * h);
        if (regroup)
            llm_kern(g, l, ph, mb, "unsort_chunks", 0, 2 * e * Tx * h);
        if (p->ep > 1)
            llm_need(g, coll(g, l, ph, mb, "a2a_combine", ET_ALL_TO_ALL, Tx * h * e, g->pg_ep));
        /* each token's k copies weighted by their router scores and summed */
        llm_kern(g, l, ph, mb, "unpermute", 2 * Tx * h, e * (Tx * h + Tl * h));
        llm_kern(g, l, ph, mb, "resid2", 2 * Tl * h, (3 * e + hmask(p)) * Tl * h);
        return;
    }
    double fl = (double)m->ffn / t, nin = llm_mlp_in(m);
    fp8_cast(g, l, ph, mb, "fc1_in", Tl * h, sp, 1);
    if (sp)
        ag_gemm(g, l, ph, mb, "ag_fc1", Tl * h * eg, "fc1", T, h, fl * nin);
    else
        gemm(g, l, ph, mb, "fc1", T, h, fl * nin);
    llm_kern(g, l, ph, mb, wl_mlp_kinds[m->mlp].act, wl_mlp_kinds[m->mlp].flops * T * fl,
             (nin + 1) * e * T * fl);
    fp8_cast(g, l, ph, mb, "fc2_in", T * fl, 0, 0);
    gemm_rs(g, l, ph, mb, sp ? "rs_fc2" : "ar_fc2", T * h * e, "fc2", T, fl, h);
    llm_kern(g, l, ph, mb, "resid2", 2 * Tl * h, (3 * e + hmask(p)) * Tl * h);
}

static void attn_core_bwd(llm_gen *g, int l, int mb)
{
    const wl_llm_plan *p = g->p;
    const wl_model *m = &p->m;
    double b = p->o.micro_batch, s = m->seq, d = p->dh, e = p->e_act;
    double A = p->a_loc, T = p->T, cp = p->cp, sq = s / cp;
    if (m->flash) { /* FlashAttention-2 backward: 2.5x the forward's work */
        if (p->cp > 1) {
            llm_cp_attn_bwd(g, l, mb);
            return;
        }
        loom_kshape fs = llm_shape(LOOM_K_ATTN_BWD, sq, s, d, b * A, (int)e);
        fs.causal = 1;
        llm_kern_s(g, l, 'B', mb, "flash_attn_bwd", 0.5 * 10 * b * A * sq * s * d,
                   e * (4 * T * A * d + 4 * T * cp * p->kv_loc * d), &fs);
        return;
    }
    if (p->o.recompute == WL_RC_SELECTIVE)
        attn_core_fwd(g, l, 'R', mb);
    /* dP = dO V^T (s x d)(d x s); dV = P^T dO, dQ = dS K, dK = dS^T Q: (s x s)(s x d) */
    bgemm(g, l, 'B', mb, "attn_ctx_dgrad", e, b * A, s, d, s, 2 * b * A * s * s * d,
          e * (b * A * s * s + T * A * d + T * p->kv_loc * d));
    bgemm(g, l, 'B', mb, "attn_ctx_vgrad", e, b * A, s, s, d, 2 * b * A * s * s * d,
          e * (b * A * s * s + T * A * d + T * p->kv_loc * d));
    /* the dropout's backward (the gradient through the mask), then the
     * softmax's (its output and gradient read, the input's gradient written) */
    if (p->m.adrop == WL_DROP_ON)
        llm_kern(g, l, 'B', mb, "attn_dropout_bwd", b * A * s * s, (2 * e + 1) * b * A * s * s);
    llm_kern(g, l, 'B', mb, "softmax_bwd", 5 * b * A * s * s, 3 * e * b * A * s * s);
    bgemm(g, l, 'B', mb, "attn_score_qgrad", e, b * A, s, s, d, 2 * b * A * s * s * d,
          e * (b * A * s * s + T * p->kv_loc * d + T * A * d));
    bgemm(g, l, 'B', mb, "attn_score_kgrad", e, b * A, s, s, d, 2 * b * A * s * s * d,
          e * (b * A * s * s + T * A * d + T * p->kv_loc * d));
}

void llm_layer_bwd(llm_gen *g, int l, int mb, int lc)
{
    const wl_llm_plan *p = g->p;
    layer_width(g, l);
    const wl_model *m = &p->m;
    double T = p->T, Tl = p->Tl, h = m->hidden, e = p->e_act, t = p->t;
    double d = p->dh, nqkv = p->nqkv, eg = gather_bytes(g);
    int sp = p->o.sp;
    if (p->o.recompute == WL_RC_FULL)
        llm_layer_fwd(g, l, 'R', mb);
    else
        zero3_gather(g, l, 'B', mb);
    if (p->m.hdrop == WL_DROP_ON) /* the gradient through the mask; else none */
        llm_kern(g, l, 'B', mb, "resid2_bwd", Tl * h, (2 * e + 1) * Tl * h);
    if (p->moe) {
        double k = m->topk, f = m->ffn, Tx = Tl * k, El = p->e_loc;
        int nin = llm_mlp_in(m);
        int regroup = p->ep > 1 && El > 1;
        /* the output gradient copied to each token's k experts (and the
         * scores' gradient): Tx rows written */
        llm_kern(g, l, 'B', mb, "unpermute_bwd", 2 * Tx * h, e * (Tl * h + 2 * Tx * h));
        if (p->ep > 1)
            llm_need(g, coll(g, l, 'B', mb, "a2a_combine_bwd", ET_ALL_TO_ALL, Tx * h * e, g->pg_ep));
        if (regroup)
            llm_kern(g, l, 'B', mb, "unsort_chunks_bwd", 0, 2 * e * Tx * h);
        double Te = Tx / El; /* tokens per local expert */
        fp8_cast(g, l, 'B', mb, "exp_fc2_dy", Tx * h, 0, 0);
        bgemm(g, l, 'B', mb, "exp_fc2_dgrad", g->emm, El, Te, h, f, 2 * Tx * f * h,
              g->emm * (Tx * h + El * f * h) + e * Tx * f);
        bgemm(g, l, 'B', mb, "exp_fc2_wgrad", g->emm, El, f, Te, h, 2 * Tx * f * h,
              g->emm * (Tx * f + Tx * h) + 2.0 * p->e_g * El * f * h);
        llm_kern(g, l, 'B', mb, "exp_act_bwd", wl_mlp_kinds[m->mlp].flops * Tx * f,
                 (2 * nin + 1) * e * Tx * f);
        fp8_cast(g, l, 'B', mb, "exp_fc1_dy", Tx * f * nin, 0, 0);
        bgemm(g, l, 'B', mb, "exp_fc1_dgrad", g->emm, El, Te, f * nin, h, 2 * Tx * h * f * nin,
              g->emm * (Tx * f * nin + El * h * f * nin) + e * Tx * h);
        bgemm(g, l, 'B', mb, "exp_fc1_wgrad", g->emm, El, h, Te, f * nin, 2 * Tx * h * f * nin,
              g->emm * (Tx * h + Tx * f * nin) + 2.0 * p->e_g * El * h * f * nin);
        if (regroup)
            llm_kern(g, l, 'B', mb, "sort_chunks_bwd", 0, 2 * e * Tx * h);
        if (p->ep > 1)
            llm_need(g, coll(g, l, 'B', mb, "a2a_dispatch_bwd", ET_ALL_TO_ALL, Tx * h * e, g->pg_ep));
        /* the copies' gradients summed back into their tokens */
        llm_kern(g, l, 'B', mb, "permute_bwd", Tx * h, e * (Tx * h + Tl * h));
        /* its data and weight gradients in one node: no single GEMM shape */
        llm_kern_s(g, l, 'B', mb, "router_bwd", 4 * Tl * h * m->experts,
                   e * (2 * Tl * m->experts + h * m->experts) + e * Tl * h, NULL);
    } else {
        double fl = (double)m->ffn / t, nin = llm_mlp_in(m);
        bias_grad(g, l, mb, "fc2_bgrad", Tl, h, 0);
        fp8_cast(g, l, 'B', mb, "fc2_dy", Tl * h, sp, 0);
        if (sp)
            ag_gemm(g, l, 'B', mb, "ag_fc2_bwd", Tl * h * eg, "fc2_dgrad", T, h, fl);
        else
            gemm(g, l, 'B', mb, "fc2_dgrad", T, h, fl);
        fp8_t(g, l, 'B', mb, "fc2_dy_t", T * h);
        wgrad(g, l, 'B', mb, "fc2_wgrad", T, fl, h);
        llm_kern(g, l, 'B', mb, wl_mlp_kinds[m->mlp].act_bwd, wl_mlp_kinds[m->mlp].flops * T * fl,
                 (2 * nin + 1) * e * T * fl);
        bias_grad(g, l, mb, "fc1_bgrad", T, fl * nin, 0);
        fp8_cast(g, l, 'B', mb, "fc1_dy", T * fl * nin, 0, 0);
        col_bwd(g, l, mb, "ag_fc1_bwd", Tl * h * eg, "fc1_dgrad", sp ? "rs_fc1_bwd" : "ar_fc1_bwd",
                T * h * e, "fc1_wgrad", T, h, fl * nin);
    }
    llm_norm(g, l, 'B', mb, "ln2_bwd", 8 * Tl * h, 3 * e * Tl * h);
    resid_acc(g, l, mb, "resid2_acc");
    if (p->m.hdrop == WL_DROP_ON)
        llm_kern(g, l, 'B', mb, "resid1_bwd", Tl * h, (2 * e + 1) * Tl * h);
    bias_grad(g, l, mb, "proj_bgrad", Tl, h, 0);
    fp8_cast(g, l, 'B', mb, "proj_dy", Tl * h, sp, 0);
    if (sp)
        ag_gemm(g, l, 'B', mb, "ag_proj_bwd", Tl * h * eg, "proj_dgrad", T, h, p->a_loc * d);
    else
        gemm(g, l, 'B', mb, "proj_dgrad", T, h, p->a_loc * d);
    fp8_t(g, l, 'B', mb, "proj_dy_t", T * h);
    wgrad(g, l, 'B', mb, "proj_wgrad", T, p->a_loc * d, h);
    attn_core_bwd(g, l, mb);
    rope(g, l, 'B', mb, "rope_bwd");
    bias_grad(g, l, mb, "qkv_bgrad", T, nqkv, p->e_mm == 1);
    fp8_cast(g, l, 'B', mb, "qkv_dy", T * nqkv, 0, 0);
    col_bwd(g, l, mb, "ag_qkv_bwd", Tl * h * eg, "qkv_dgrad", sp ? "rs_qkv_bwd" : "ar_qkv_bwd",
            T * h * e, "qkv_wgrad", T, h, nqkv);
    llm_norm(g, l, 'B', mb, "ln1_bwd", 8 * Tl * h, 3 * e * Tl * h);
    resid_acc(g, l, mb, "resid1_acc");
    llm_flush(g);
    g->layer_end_tmp[lc] = g->last;
    if (p->o.zero == 3) { /* the layer's gradients leave at once */
        snprintf(g->nm, sizeof g->nm, "L%d.B%d.zero3_rs", l, mb);
        if (p->dp > 1)
            llm_coll_after(g, g->nm, ET_REDUCE_SCATTER, llm_layer_dense(p) * p->e_g, g->pg_dp,
                           &g->last, 1);
        int edp = p->moe ? p->dp / p->ep : 0;
        if (edp > 1) {
            snprintf(g->nm, sizeof g->nm, "L%d.B%d.zero3_rs_exp", l, mb);
            llm_coll_after(g, g->nm, ET_REDUCE_SCATTER, llm_layer_expert(p) * p->e_g, g->pg_edp,
                           &g->last, 1);
        }
    }
}

/* ---- embedding and output layer ------------------------------------------ */

void llm_embed_fwd(llm_gen *g, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, h = p->m.hidden, e = p->e_act;
    /* rows read, output written (+ learned positions read) */
    double bytes = e * T * h * (p->m.pos == WL_POS_LEARNED ? 3 : 2);
    llm_kern(g, -1, 'F', mb, "embed", T * h, bytes);
    tp_coll(g, -1, 'F', mb, p->o.sp ? "rs_embed" : "ar_embed",
            p->o.sp ? ET_REDUCE_SCATTER : ET_ALL_REDUCE, T * h * e);
}

void llm_embed_bwd(llm_gen *g, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, h = p->m.hidden, e = p->e_act;
    if (p->o.sp)
        tp_coll(g, -1, 'B', mb, "ag_embed_bwd", ET_ALL_GATHER, p->Tl * h * e);
    llm_kern(g, -1, 'B', mb, "embed_wgrad", T * h, e * T * h + 2.0 * p->e_g * T * h);
}

void llm_head_fwd(llm_gen *g, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, Tl = p->Tl, h = p->m.hidden, e = p->e_act, Vl = (double)p->vocab / p->t;
    llm_norm(g, -1, 'F', mb, "final_norm", 5 * Tl * h, 2 * e * Tl * h);
    if (p->o.sp)
        tp_coll(g, -1, 'F', mb, "ag_logits", ET_ALL_GATHER, Tl * h * e);
    /* 16-bit operands under the FP8 recipe too: Megatron-Core's output
     * layer (and MoE router) is its own ColumnParallelLinear, not a
     * Transformer Engine module, which FP8 autocast alone converts */
    gemm_e(g, -1, 'F', mb, "logits", T, h, Vl, (int)e);
    /* Megatron's vocab-parallel cross entropy (tensor_parallel/
     * cross_entropy.py), one pass each over the T x Vl logits: cast to fp32
     * (e read, 4 written), max (4), subtract it (4 + 4), exp (4 + 4), sum
     * (4), divide by the sum (4 + 4), the softmax kept for the backward;
     * with tp > 1 the max, the target's logit and the sum of exps are
     * all-reduced (fp32, T each).  --cross-entropy-fusion
     * (fusions/fused_cross_entropy.py, jit-fused): cast with max,
     * subtract-exp-sum, divide, and the target's logit and the sum in one
     * all-reduce */
    double n = T * Vl;
    int fused = p->o.ce_fusion, tp = p->t > 1;
    llm_kern(g, -1, 'F', mb, "cross_entropy", n, n * (e + 4));
    if (!fused)
        llm_kern(g, -1, 'F', mb, "ce_max", n, 4 * n);
    if (tp)
        tp_coll(g, -1, 'F', mb, "ar_ce_max", ET_ALL_REDUCE, T * 4);
    if (!fused) {
        llm_kern(g, -1, 'F', mb, "ce_sub", n, 8 * n);
        llm_kern(g, -1, 'F', mb, "ce_exp", n, 8 * n);
        llm_kern(g, -1, 'F', mb, "ce_sum", n, 4 * n);
    } else {
        llm_kern(g, -1, 'F', mb, "ce_exp", 3 * n, 8 * n);
    }
    if (tp && !fused) {
        tp_coll(g, -1, 'F', mb, "ar_ce_target", ET_ALL_REDUCE, T * 4);
        tp_coll(g, -1, 'F', mb, "ar_ce_sumexp", ET_ALL_REDUCE, T * 4);
    } else if (tp) {
        tp_coll(g, -1, 'F', mb, "ar_ce_sumexp", ET_ALL_REDUCE, T * 8);
    }
    llm_kern(g, -1, 'F', mb, "ce_softmax", n, 8 * n);
    if (tp)
        llm_kern(g, -1, 'F', mb, "loss", 4 * T, 4 * 4 * T);
}

void llm_head_bwd(llm_gen *g, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, Tl = p->Tl, h = p->m.hidden, e = p->e_act, Vl = (double)p->vocab / p->t;
    /* the softmax times the loss's gradient, in place (fp32), then the
     * cast back to the logits' width for the output layer's GEMMs */
    llm_kern(g, -1, 'B', mb, "cross_entropy_bwd", T * Vl, 8 * T * Vl);
    llm_kern(g, -1, 'B', mb, "ce_grad_cast", 0, T * Vl * (4 + e));
    /* a column-parallel GEMM like the layers', in Megatron's own linear:
     * 16-bit operands, no userbuffers */
    col_bwd_x(g, -1, mb, "ag_logits_bwd", Tl * h * e, "logits_dgrad",
              p->o.sp ? "rs_logits_bwd" : "ar_logits_bwd", T * h * e, "logits_wgrad", T, h, Vl,
              (int)e, 0);
    llm_norm(g, -1, 'B', mb, "final_norm_bwd", 8 * Tl * h, 3 * e * Tl * h);
}
