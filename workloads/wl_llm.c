/*
 * wl_llm.c: the Megatron-style LLM training step as files (docs/WORKLOADS.md
 * has every formula used, with the Megatron-LM code each follows).  Here:
 * the pipeline operations (a microbatch's forward or backward on one model
 * chunk, the sends and receives between stages, the gradient buckets), one
 * rank's file in schedule order, the comm-group and system files, and the
 * whole job wl_llm_write().  The plan is wl_llm_plan.c's, the layers'
 * kernels wl_llm_layers.c's; the trace invariants are in wl_llm_int.h.
 */
#include "wl_llm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "et_graph.h"
#include "sbuf.h"
#include "wl.h"
#include "wl_emit.h"
#include "wl_llm_int.h"

/* ---- pipeline operations -------------------------------------------------- */

static int stage_of(const wl_llm_plan *p, int v) { return v % p->pp; }

static int p2p_tag(const wl_llm_plan *p, int dir, int v, int mb)
{
    return (dir * p->chunks + v) * p->nmb + mb;
}

/* bytes a rank sends between stages per microbatch: Megatron's
 * scatter-gather sends each TP rank a 1/tp slice (re-gathered over the TP
 * group by the receiver); with SP the slice is the rank's own shard */
static double p2p_bytes(const wl_llm_plan *p)
{
    return p->T * p->m.hidden * p->e_act / p->t;
}

/* the peer's rank (explicit naming) or its index in the pp group (roles) */
static int peer(const llm_gen *g, int peer_stage)
{
    if (g->rank < 0)
        return peer_stage;
    const wl_llm_plan *p = g->p;
    return g->rank + (peer_stage - g->stage) * p->t * p->dp;
}


static void recv_from(llm_gen *g, int src_v, int tag, const char *what, int mb)
{
    const wl_llm_plan *p = g->p;
    llm_flush(g);
    snprintf(g->nm, sizeof g->nm, "%c%d.recv_%s", what[0] == 'a' ? 'F' : 'B', mb, what);
    uint64_t r = wl_recv(g->tr, g->nm, peer(g, stage_of(p, src_v)), tag, llm_to_u64(g, p2p_bytes(p)),
                         g->rank < 0 ? g->pg_pp : NULL, &g->last, 1);
    g->cnt.recvs++;
    llm_need(g, r);
    if (p->t > 1 && !p->o.sp) { /* scatter-gather: re-assemble the full tensor */
        snprintf(g->nm, sizeof g->nm, "%c%d.ag_%s", what[0] == 'a' ? 'F' : 'B', mb, what);
        llm_need(g, llm_coll_after(g, g->nm, ET_ALL_GATHER, p2p_bytes(p), g->pg_tp, &r, 1));
    }
}

static void send_to(llm_gen *g, int dst_v, int tag, const char *what, int mb)
{
    const wl_llm_plan *p = g->p;
    llm_flush(g);
    snprintf(g->nm, sizeof g->nm, "%c%d.send_%s", what[0] == 'a' ? 'F' : 'B', mb, what);
    wl_send(g->tr, g->nm, peer(g, stage_of(p, dst_v)), tag, llm_to_u64(g, p2p_bytes(p)),
            g->rank < 0 ? g->pg_pp : NULL, &g->last, 1);
    g->cnt.sends++;
    g->cnt.send_bytes += p2p_bytes(p);
}

/* gradient units of a chunk in backward order: output layer, layers last
 * to first, embedding; unit_end holds the node that ends each one's
 * backward in the latest microbatch */
static int units(const wl_llm_plan *p, int v) { return p->chunk_layers[v] + 2; }

static void unit_params(const wl_llm_plan *p, int v, int u, double *dense, double *expert)
{
    int nl = p->chunk_layers[v];
    *dense = *expert = 0;
    if (u == 0) {
        if (v == p->chunks - 1)
            *dense = llm_head_params(p);
    } else if (u <= nl) {
        *dense = llm_layer_dense(p);
        *expert = llm_layer_expert(p);
    } else if (v == 0) {
        *dense = llm_embed_params(p);
    }
}

/* Megatron-Core's default bucket, in parameters, when --overlap-grad-reduce
 * is on and --grad-bucket is not given: max(40 M, 1 M x the gradient
 * group's size) (DistributedDataParallel: "larger DP sizes need larger
 * buckets"; the group is dp with cp, as p->dp). */
enum { MCORE_BUCKET_MIN = 40000000, MCORE_BUCKET_PER_RANK = 1000000 };

/* The bytes (at width e a parameter) that close a bucket of local chunk c;
 * 0: one bucket for the chunk.  A bucket is a count of parameters, as
 * Megatron-Core's (the gradients' and the parameter gathers' buckets are
 * one set): --grad-bucket's bytes of gradients (0 too); else with
 * --overlap-grad-reduce Megatron-Core's default for the first local chunk
 * and one bucket for the others (Megatron-LM's get_model turns bucketing
 * off for model chunks after the first, "overlapped with compute
 * anyway"); else one bucket (no overlap: Megatron-Core sets no bucket
 * size). */
static double bucket_cap(const wl_llm_plan *p, int c, double e)
{
    if (p->o.bucket_given)
        return (double)p->o.bucket_bytes / p->e_g * e;
    if (!p->o.overlap_grad || c > 0)
        return 0;
    double n = (double)MCORE_BUCKET_PER_RANK * p->dp;
    return (n > MCORE_BUCKET_MIN ? n : MCORE_BUCKET_MIN) * e;
}

/* Emits the gradient-reduction buckets of local chunk c; returns the last
 * collective's id (0 if none). */
static uint64_t grad_buckets(llm_gen *g, int c, int overlap, const char *tagname)
{
    const wl_llm_plan *p = g->p;
    int v = c * p->pp + g->stage;
    int type = p->o.zero == 0 ? ET_ALL_REDUCE : ET_REDUCE_SCATTER;
    int edp = p->moe ? p->dp / p->ep : 1;
    double cap = bucket_cap(p, c, p->e_g);
    double acc[2] = {0, 0};
    int nb[2] = {0, 0};
    uint64_t lastc = 0;
    const uint64_t *ue = &g->layer_end[(size_t)c * (g->max_layers + 2)];
    int nu = units(p, v);
    uint64_t lastdep = 0;
    for (int u = 0; u < nu; u++) {
        double pd, pe;
        unit_params(p, v, u, &pd, &pe);
        if (ue[u])
            lastdep = ue[u];
        acc[0] += pd * p->e_g;
        acc[1] += pe * p->e_g;
        for (int k = 0; k < 2; k++) {
            int size = k == 0 ? p->dp : edp;
            int full = cap > 0 ? acc[k] >= cap : u == nu - 1;
            if (u == nu - 1 && acc[k] > 0)
                full = 1;
            if (!full || acc[k] == 0 || size < 2)
                continue;
            uint64_t dep = overlap && lastdep ? lastdep : g->last;
            snprintf(g->nm, sizeof g->nm, "c%d.%s%s.b%d", v, tagname, k ? "_exp" : "", nb[k]++);
            lastc = llm_coll_after(g, g->nm, type, acc[k], k ? g->pg_edp : g->pg_dp, &dep, 1);
            acc[k] = 0;
        }
    }
    return lastc;
}

/* --overlap-param-gather (ZeRO 1/2): every local chunk's updated
 * parameters gathered at the start of the step, in the gradients' buckets
 * (bucket_cap at the weight width, formed in backward order from the
 * output layer as grad_buckets forms them: Megatron-Core's parameter and
 * gradient buffer shares its buckets, so the first a forward needs is the
 * remainder that holds the embedding), dispatched in forward order, as
 * Megatron-LM's overlap_param_gather does after the optimizer step; each
 * unit's first forward waits for its bucket (param_wait).  No dependency:
 * they start at once, on the DP stream. */
static void param_gather_start(llm_gen *g)
{
    const wl_llm_plan *p = g->p;
    int edp = p->moe ? p->dp / p->ep : 1;
    size_t per = (size_t)g->max_layers + 2;
    for (int k = 0; k < 2; k++)
        g->param_ag[k] = loom_xcalloc((size_t)p->V * per, sizeof *g->param_ag[k]);
    g->fwd_seen = loom_xcalloc((size_t)p->V, 1);
    int *last = loom_xmalloc(per * sizeof *last); /* a bucket's last unit (backward order) */
    double *bytes = loom_xmalloc(per * sizeof *bytes);
    for (int c = 0; c < p->V; c++) {
        int v = c * p->pp + g->stage, nu = units(p, v);
        double cap = bucket_cap(p, c, p->e_w);
        for (int k = 0; k < 2; k++) {
            int size = k == 0 ? p->dp : edp, nbk = 0, nb = 0;
            if (size < 2)
                continue;
            double acc = 0;
            for (int u = 0; u < nu; u++) {
                double pw[2];
                unit_params(p, v, u, &pw[0], &pw[1]);
                acc += pw[k] * p->e_w;
                if ((cap > 0 && acc >= cap) || u == nu - 1) {
                    last[nbk] = u;
                    bytes[nbk++] = acc;
                    acc = 0;
                }
            }
            for (int q = nbk - 1; q >= 0; q--) { /* forward order */
                if (bytes[q] == 0)
                    continue;
                snprintf(g->nm, sizeof g->nm, "c%d.param_ag%s.b%d", v, k ? "_exp" : "", nb++);
                uint64_t none = 0;
                uint64_t id = llm_coll_after(g, g->nm, ET_ALL_GATHER, bytes[q] / size,
                                             k ? g->pg_edp : g->pg_dp, &none, 1);
                for (int w = q > 0 ? last[q - 1] + 1 : 0; w <= last[q]; w++)
                    g->param_ag[k][(size_t)c * per + w] = id;
            }
        }
    }
    free(last);
    free(bytes);
}

/* The next kernel of chunk c's first forward waits for unit u's buckets. */
static void param_wait(llm_gen *g, int c, int u)
{
    if (g->param_ag[0] == NULL || g->fwd_seen[c])
        return;
    size_t at = (size_t)c * (g->max_layers + 2) + u;
    for (int k = 0; k < 2; k++) { /* a bucket once: later units of it follow anyway */
        uint64_t id = g->param_ag[k][at];
        if (id != g->ag_waited[k])
            llm_need(g, id);
        g->ag_waited[k] = id;
    }
}

static void op_fwd(llm_gen *g, int c, int mb)
{
    const wl_llm_plan *p = g->p;
    int v = c * p->pp + g->stage, nl = p->chunk_layers[v];
    g->z3_layer = -1;
    if (v > 0)
        recv_from(g, v - 1, p2p_tag(p, 0, v, mb), "act", mb);
    if (v == 0) {
        param_wait(g, c, nl + 1);
        llm_embed_fwd(g, mb);
    }
    for (int i = 0; i < nl; i++) {
        param_wait(g, c, nl - i);
        g->z3_next = i + 1 < nl ? p->chunk_first[v] + i + 1 : -1;
        llm_layer_fwd(g, p->chunk_first[v] + i, 'F', mb);
    }
    if (v == p->chunks - 1) {
        param_wait(g, c, 0);
        llm_head_fwd(g, mb);
    } else {
        send_to(g, v + 1, p2p_tag(p, 0, v + 1, mb), "act", mb);
    }
    if (g->fwd_seen)
        g->fwd_seen[c] = 1;
    llm_flush(g);
}

static uint64_t op_bwd(llm_gen *g, int c, int mb)
{
    const wl_llm_plan *p = g->p;
    int v = c * p->pp + g->stage;
    int nl = p->chunk_layers[v];
    uint64_t *ue = &g->layer_end[(size_t)c * (g->max_layers + 2)];
    g->z3_layer = -1;
    if (v < p->chunks - 1)
        recv_from(g, v + 1, p2p_tag(p, 1, v, mb), "grad", mb);
    if (v == p->chunks - 1) {
        llm_head_bwd(g, mb);
        llm_flush(g);
        ue[0] = g->last;
    }
    for (int i = nl - 1; i >= 0; i--) {
        g->z3_next = i > 0 ? p->chunk_first[v] + i - 1 : -1;
        llm_layer_bwd(g, p->chunk_first[v] + i, mb, i);
    }
    for (int i = 0; i < nl; i++)
        ue[1 + (nl - 1 - i)] = g->layer_end_tmp[i];
    if (v == 0) {
        llm_embed_bwd(g, mb);
        llm_flush(g);
        ue[nl + 1] = g->last;
    }
    if (v > 0)
        send_to(g, v - 1, p2p_tag(p, 1, v - 1, mb), "grad", mb);
    llm_flush(g);
    uint64_t lastc = 0;
    if (p->o.zero == 2) { /* gradients are sharded: reduce-scatter every microbatch */
        char nm[32];
        snprintf(nm, sizeof nm, "B%d.grad_rs", mb);
        lastc = grad_buckets(g, c, 1, nm);
    } else if (p->o.zero <= 1 && p->o.overlap_grad && mb == p->nmb - 1) {
        lastc = grad_buckets(g, c, 1, p->o.zero ? "grad_rs" : "grad_ar");
    }
    return lastc;
}

/* ---- one rank's file ------------------------------------------------------ */

/* The group of `rank` with this stride and size: its lowest member, and
 * the index of the group among all groups of that role (docs/WORKLOADS.md,
 * "Communicators"). */
static int group_base(int rank, int stride, int size)
{
    return rank - ((rank / stride) % size) * stride;
}

static int group_index(int base, int stride, int size)
{
    return (base / (stride * size)) * stride + base % stride;
}

typedef struct role {
    const char *name; /* "tp", "dp", ... */
    int stride, size;
    int used;         /* collectives or sends on it */
} role;

enum { R_TP, R_DP, R_PP, R_EP, R_EDP, R_EMB, R_CP, R_N };

static void roles(const wl_llm_plan *p, role *r)
{
    int td = p->t * p->dp;
    int edp = p->moe ? p->dp / p->ep : 1;
    r[R_TP] = (role){"tp", 1, p->t, p->t > 1};
    r[R_DP] = (role){"dp", p->t, p->dp, p->dp > 1};
    r[R_PP] = (role){"pp", td, p->pp, p->pp > 1 && p->o.groups == WL_GROUPS_ROLE};
    r[R_EP] = (role){"ep", p->t, p->ep, p->moe && p->ep > 1};
    r[R_EDP] = (role){"edp", p->t * p->ep, edp, p->moe && edp > 1};
    r[R_EMB] = (role){"emb", td * (p->pp > 1 ? p->pp - 1 : 1), 2, p->m.tied && p->pp > 1};
    r[R_CP] = (role){"cp", p->t, p->cp, p->cp > 1}; /* the dp role holds cp x dp_data */
}

static void set_names(llm_gen *g)
{
    role r[R_N];
    roles(g->p, r);
    char *dst[R_N] = {g->pg_tp, g->pg_dp, g->pg_pp, g->pg_ep, g->pg_edp, g->pg_emb, g->pg_cp};
    for (int i = 0; i < R_N; i++) {
        if (g->rank < 0) {
            snprintf(dst[i], 24, "%s", r[i].name);
            continue;
        }
        int b = group_base(g->rank, r[i].stride, r[i].size);
        snprintf(dst[i], 24, "%s%d", r[i].name, group_index(b, r[i].stride, r[i].size));
    }
}

/* Before the first forward: the gradient buffer this rank accumulates
 * into is zeroed (Megatron-LM's zero_grad_buffer at the start of each
 * iteration): every parameter the rank holds, or its shard under ZeRO 2
 * and 3, at e_g bytes. */
static void step_start(llm_gen *g)
{
    if (g->p->o.opt_foreach) /* optimizer.zero_grad(set_to_none=True): no kernel */
        return;
    llm_kern(g, -1, 'S', 0, "zero_grad", 0, g->p->e_g * llm_stage_share(g->p, g->stage, 2));
}

/* Parameters replicated across TP whose gradients, under sequence
 * parallelism, each rank computes on its share of the tokens: the norms,
 * the row-parallel linears' biases and an MoE router, on this stage's
 * layers, and the final norm on the last virtual stage.  Megatron sums
 * them over TP once a step, in one coalesced all-reduce
 * (finalize_model_grads' _allreduce_layernorm_grads). */
static double sp_replicated_params(const wl_llm_plan *p, int stage)
{
    const wl_model *m = &p->m;
    double h = m->hidden, norm = llm_norm_params(m);
    double per_layer = 2 * norm + (llm_biases(m) ? 2 * h : 0) + (p->moe ? h * m->experts : 0);
    double n = 0;
    for (int c = 0; c < p->V; c++) {
        int v = c * p->pp + stage;
        n += p->chunk_layers[v] * per_layer;
        if (v == p->chunks - 1)
            n += norm;
    }
    return n;
}

/* After the last backward: the gradient reductions still to do, the tied
 * embeddings' sum, the optimizer step on what this rank owns and, with
 * ZeRO 1 and 2, the gather of the updated parameters.  lastc is the
 * latest gradient collective so far (0: none); the optimizer waits for
 * the last one. */
static void step_end(llm_gen *g, uint64_t lastc)
{
    const wl_llm_plan *p = g->p;
    /* data-parallel gradient reduction (ZeRO 0/1 without overlap) */
    if (p->o.zero <= 1 && !p->o.overlap_grad)
        for (int c = p->V - 1; c >= 0; c--) {
            uint64_t id = grad_buckets(g, c, 0, p->o.zero ? "grad_rs" : "grad_ar");
            if (id)
                lastc = id;
        }
    /* tied embeddings: the first and the last stage sum their copies (on
     * their own stream: the optimizer waits for this and the above) */
    role r[R_N];
    roles(p, r);
    uint64_t embc = 0, spc = 0;
    if (r[R_EMB].used && (g->stage == 0 || g->stage == p->pp - 1)) {
        snprintf(g->nm, sizeof g->nm, "embed_grad_ar");
        embc = llm_coll_after(g, g->nm, ET_ALL_REDUCE,
                              (double)p->vocab / p->t * p->m.hidden * p->e_g, g->pg_emb,
                              &g->last, 1);
    }
    if (p->o.sp && p->t > 1) {
        double n = sp_replicated_params(p, g->stage);
        if (n > 0)
            spc = llm_coll_after(g, "S0.sp_grad_ar", ET_ALL_REDUCE, n * p->e_g, g->pg_tp,
                                 &g->last, 1);
    }
    /* the optimizer step on what this rank owns, as Megatron-LM's
     * mixed-precision optimizer runs it (docs/WORKLOADS.md): 16-bit
     * gradients copied to fp32 main gradients, their norm for clipping,
     * Adam, then the copy of the updated fp32 master weights into the e_w
     * model weights */
    double own = llm_stage_share(p, g->stage, 1);
    llm_need(g, lastc);
    llm_need(g, embc);
    llm_need(g, spc);
    if (p->o.opt_foreach) {
        /* PyTorch's foreach path (docs/WORKLOADS.md): clip_grad_norm_ reads
         * the gradients for their norm and always scales them (read, write);
         * AdamW's eight passes read and write the fp32 weights and moments
         * and read the gradients twice: 72 + 2 e_g bytes a parameter */
        llm_kern(g, -1, 'S', 0, "grad_norm", 3 * own, 3.0 * p->e_g * own);
        llm_kern(g, -1, 'S', 0, "optimizer", 12 * own, (72.0 + 2.0 * p->e_g) * own);
    } else {
        if (p->e_g < 4) /* 16-bit gradients: the optimizer's fp32 copy (.float()) */
            llm_kern(g, -1, 'S', 0, "grad_copy", 0, (p->e_g + 4.0) * own);
        llm_kern(g, -1, 'S', 0, "grad_norm", 2 * own, 4.0 * own);
        llm_kern(g, -1, 'S', 0, "optimizer", 12 * own, 28.0 * own);
    }
    if (p->e_w < 4)
        llm_kern(g, -1, 'S', 0, "param_copy", own, (4.0 + p->e_w) * own);
    llm_flush(g);
    if ((p->o.zero == 1 || p->o.zero == 2) && !p->o.overlap_param) { /* gather the updated parameters */
        double dense, expert;
        llm_stage_params(p, g->stage, &dense, &expert);
        int edp = p->moe ? p->dp / p->ep : 1;
        if (p->dp > 1)
            llm_coll_after(g, "S0.param_ag", ET_ALL_GATHER, dense / p->dp * p->e_w, g->pg_dp,
                           &g->last, 1);
        if (p->moe && edp > 1)
            llm_coll_after(g, "S0.param_ag_exp", ET_ALL_GATHER, expert / edp * p->e_w,
                           g->pg_edp, &g->last, 1);
    }
}

/* Rank file of pipeline stage `stage` and cp index cpi; rank -1: the
 * role-named file every rank of that stage (and cp index) shares. */
static int write_rank(const wl_llm_plan *p, int stage, int cpi, int rank, const char *path,
                      llm_counts *cnt, uint64_t *nodes, loom_err *err)
{
    llm_gen *g = loom_xcalloc(1, sizeof *g);
    g->p = p;
    g->emm = p->e_mm;
    g->stage = stage;
    g->cpi = cpi;
    g->rank = rank;
    set_names(g);
    for (int v = 0; v < p->chunks; v++)
        if (p->chunk_layers[v] > g->max_layers)
            g->max_layers = p->chunk_layers[v];
    g->layer_end = loom_xcalloc((size_t)p->V * (g->max_layers + 2), sizeof *g->layer_end);
    g->layer_end_tmp = loom_xcalloc((size_t)g->max_layers, sizeof *g->layer_end_tmp);
    llm_op *ops = loom_xmalloc(2 * (size_t)p->nmb * p->V * sizeof *ops);
    int n = llm_schedule(p, stage, ops);
    int rc = 0;
    g->tr = wl_trace_open(path, err);
    if (g->tr == NULL) {
        rc = err->code ? err->code : LOOM_EIO;
        goto out;
    }
    wl_trace_pg_streams(g->tr, !p->o.shared_comm);
    if (p->o.overlap_param) /* dispatched by the last step's optimizer */
        param_gather_start(g);
    step_start(g);
    uint64_t lastc = 0;
    for (int i = 0; i < n; i++) {
        if (ops[i].fwd) {
            op_fwd(g, ops[i].chunk, ops[i].mb);
        } else {
            uint64_t c = op_bwd(g, ops[i].chunk, ops[i].mb);
            if (c)
                lastc = c;
        }
    }
    step_end(g, lastc);
    if (g->overflow > 0) {
        wl_trace_abort(g->tr);
        g->tr = NULL;
        rc = loom_err_set(err, LOOM_EUSAGE, "a kernel of %.3g FLOPs or bytes overflows the trace's "
                          "64-bit counters: reduce --micro-batch, --seq or --hidden", g->overflow);
        goto out;
    }
    *nodes = wl_trace_nodes(g->tr);
    rc = wl_trace_close(g->tr, err);
    g->tr = NULL;
    *cnt = g->cnt;
out:
    if (g->tr)
        wl_trace_abort(g->tr);
    free(ops);
    free(g->layer_end);
    free(g->layer_end_tmp);
    free(g->param_ag[0]);
    free(g->param_ag[1]);
    free(g->fwd_seen);
    free(g->kw);
    free(g->ks);
    free(g);
    return rc;
}

/* ---- the comm-group and system files -------------------------------------- */

static int write_groups(const wl_llm_plan *p, loom_outset *set, int k, int *any, loom_err *err)
{
    role r[R_N];
    roles(p, r);
    sbuf b = {0};
    sb_printf(&b, "{");
    int first = 1;
    *any = 0;
    for (int i = 0; i < R_N; i++) {
        if (!r[i].used || (i == R_PP && p->o.groups != WL_GROUPS_ROLE))
            continue;
        *any = 1;
        if (p->o.groups == WL_GROUPS_ROLE) {
            sb_printf(&b, "%s\n  \"%s\": {\"stride\": %d, \"size\": %d}", first ? "" : ",",
                      r[i].name, r[i].stride, r[i].size);
            first = 0;
            continue;
        }
        int limit = i == R_EMB ? p->t * p->dp : p->world; /* emb groups start on stage 0 */
        for (int base = 0; base < limit; base++) {
            if (group_base(base, r[i].stride, r[i].size) != base)
                continue;
            sb_printf(&b, "%s\n  \"%s%d\": [", first ? "" : ",", r[i].name,
                      group_index(base, r[i].stride, r[i].size));
            first = 0;
            for (int k = 0; k < r[i].size; k++)
                sb_printf(&b, "%s%d", k ? ", " : "", base + k * r[i].stride);
            sb_printf(&b, "]");
        }
    }
    sb_printf(&b, "\n}\n");
    int rc = 0;
    if (*any)
        rc = loom_outset_text(set, k, b.p, b.n, err);
    free(b.p);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The achieved-bandwidth curve of the device's node fabric (network/net_eff.c,
 * docs/NETWORK.md 9), or NULL: NVLink 3 on A100 SXM, NVLink 4 on H100 SXM
 * and H200 (the same NVLink 4 and NVSwitch), NVLink 5 on B200; the others
 * have no published curve in bench/nccl/. */
static const char *node_curve(const char *device)
{
    if (strncmp(device, "a100", 4) == 0)
        return "nvlink3";
    if (strcmp(device, "h100-sxm") == 0 || strcmp(device, "h200") == 0)
        return "nvlink4";
    if (strcmp(device, "b200") == 0)
        return "nvlink5";
    return NULL;
}

/* The phase-overlap written (docs/MODEL.md 7): fitted by bench/nccl/compare.py
 * --fit-overlap to nccl-tests' all_reduce on 4 nodes of 8 H100 at 256 MiB
 * and above (Voltage Park, NCCL 2.24.3; bench/nccl/README.md), with the
 * other keys written here beside it; the other multi-node rows are its
 * checks (docs/NETWORK.md 9). */
#define NCCL_PHASE_OVERLAP 0.38

static int write_system(const wl_llm_plan *p, loom_outset *set, int k, const char *path,
                        const char *groups_path, int any, loom_err *err)
{
    sbuf b = {0};
    const wl_llm_opts *o = &p->o;
    sb_printf(&b, "# written by loom gen llm: %s, tp %d pp %d dp %d, %s on %s\n", p->m.name, p->t,
              p->pp, p->dp, comp_dtype_name(o->dtype), p->device);
    sb_printf(&b, "# run: loom run --workload %s --system %s --network NET\n", base_name(p->out),
              base_name(path));
    sb_printf(&b, "device: %s\n", p->device);
    if (p->devices_file) {
        char *abs = realpath(p->devices_file, NULL);
        sb_printf(&b, "device-file: %s\n", abs ? abs : p->devices_file);
        free(abs);
    }
    /* cost is decided at replay: nodes carry their work (num_ops,
     * tensor_size; fused nodes each kernel's in kernel_flops/kernel_bytes)
     * and the compute model prices it, so --set system.device=... or an
     * efficiency change takes effect on this trace */
    sb_printf(&b, "compute-model: %s%s\n", comp_kind_name(p->cm),
              p->cm == COMP_TRACE ? "   # durations as generated for this device" : "");
    sb_printf(&b, "compute-dtype: %s\n", comp_dtype_name(o->dtype));
    if (o->attn_kernel > 0) /* docs/DEVICES.md, "The kernel model" */
        sb_printf(&b, "attention-kernel: %s\n", comp_attn_names[o->attn_kernel - 1]);
    if (o->stack) /* as the command line resolved it (a file: absolute) */
        sb_printf(&b, "stack: %s\n", o->stack);
    /* NCCL's kernels hold SMs beside the compute (docs/MODEL.md,
     * "Communication beside compute"); the userbuffer transfers say 0 */
    sb_printf(&b, "comm-sms: %d   # SMs a collective's kernel holds while in flight; 0: none\n",
              o->comm_sms);
    if (o->host_launch_us > 0) /* docs/MODEL.md, "The host" */
        sb_printf(&b, "host-launch-us: %.15g\n", o->host_launch_us);
    if (node_curve(p->device)) /* dimension 0 is the node; the rest at link rate */
        sb_printf(&b, "comm-efficiency: [ %s ]   # NCCL's achieved bandwidth in the node "
                      "(docs/NETWORK.md 9); [ none ]: link rate\n", node_curve(p->device));
    /* NCCL's order for an all-gather over several dimensions (docs/MODEL.md 7) */
    sb_printf(&b, "all-gather-order: descending   # each rank's part over the network first, "
                  "as NCCL's rings; ascending: ASTRA-sim's\n");
    /* NCCL overlaps NVLink and network work that loom's phases run in turn */
    sb_printf(&b, "phase-overlap: %.2f   # of a collective's other phases' transfers, hidden "
                  "behind its slowest (NCCL, nccl-tests); 0: in turn, ASTRA-sim's\n",
              NCCL_PHASE_OVERLAP);
    /* NCCL's all-to-all is sends and receives to every peer at once, not
     * ASTRA-sim's default ring (4x slower on 8 ranks): one name, every
     * dimension (docs/CONFIG.md) */
    sb_printf(&b, "all-to-all-implementation: direct   # NCCL's: every peer at once, on every "
                  "dimension; [ ring, ... ]: ASTRA-sim's default\n");
    if (any)
        sb_printf(&b, "comm-group: %s%s\n", base_name(groups_path),
                  o->groups == WL_GROUPS_ROLE ? "   # role-named: {stride, size} rules" : "");
    int rc = loom_outset_text(set, k, b.p, b.n, err);
    free(b.p);
    return rc;
}

/* ---- the whole job -------------------------------------------------------- */

/* Bytes as a plain number of MiB, never in exponent form ("41472",
 * "12.5", "0.031"): buf holds 32 bytes. */
static const char *mib(char *buf, double bytes)
{
    double v = bytes / 1048576.0;
    snprintf(buf, 32, v >= 100 || v == 0 ? "%.0f" : v >= 1 ? "%.1f" : "%.3f", v);
    return buf;
}

static void print_counts(FILE *f, const llm_counts *c)
{
    int any = 0;
    char m[32];
    for (int t = 0; t < ET_COLL_TYPES; t++)
        if (c->colls[t]) {
            fprintf(f, "%s %llu %s (%s MiB)", any ? "," : "", (unsigned long long)c->colls[t],
                    et_coll_type_name(t), mib(m, (double)c->coll_bytes[t]));
            any = 1;
        }
    if (!any)
        fprintf(f, " no collectives");
    fprintf(f, "; %llu sends (%s MiB), %llu recvs\n", (unsigned long long)c->sends,
            mib(m, (double)c->send_bytes), (unsigned long long)c->recvs);
}

/* The summary on stdout: the model, the layout, what the files hold per
 * stage, and the memory per rank of each stage against the device (a
 * warning where it does not fit). */
static void print_summary(const wl_llm_plan *p, const wl_llm_stats *s, const llm_counts *per_stage,
                          const uint64_t *stage_nodes, int any, const char *gpath,
                          const char *spath)
{
    const wl_llm_opts *o = &p->o;
    static const char *const rcn[] = {"none", "selective", "full"};
    printf("loom gen llm: %s: h %d, ffn %d, heads %d/%d, %d layers, seq %d, vocab %d (padded "
           "%d)\n", p->m.name, p->m.hidden, p->m.ffn, p->m.heads, p->m.kv_heads, p->m.layers,
           p->m.seq, p->m.vocab, p->vocab);
    if (p->moe)
        printf("  experts %d, top-%d, ep %d\n", p->m.experts, p->m.topk, p->ep);
    char sched[192];
    int k = o->sched == WL_SCHED_INTERLEAVED
                ? snprintf(sched, sizeof sched, "interleaved, %d chunks per stage, microbatches "
                           "in groups of %d", p->V, p->N)
                : snprintf(sched, sizeof sched, "1f1b");
    if (o->split_embed || o->split_loss) /* the ends' layers say what the split did */
        snprintf(sched + k, sizeof sched - (size_t)k, " (%s counted as layers: %d in the first "
                 "chunk, %d in the last)", o->split_embed && o->split_loss ? "embedding and loss"
                 : o->split_embed ? "embedding" : "loss", p->chunk_layers[0],
                 p->chunk_layers[p->chunks - 1]);
    else if (o->first_given || o->last_given) { /* pp >= 2 (the plan's check); fits */
        k += snprintf(sched + k, sizeof sched - (size_t)k, " (layers a chunk: %d on the first "
                      "stage, %d on the last", p->chunk_layers[0], p->chunk_layers[p->pp - 1]);
        if (p->pp > 2) /* the stages between, if any */
            k += snprintf(sched + k, sizeof sched - (size_t)k, ", %d between", p->chunk_layers[1]);
        snprintf(sched + k, sizeof sched - (size_t)k, ")");
    }
    char cps[32] = "";
    if (p->cp > 1)
        snprintf(cps, sizeof cps, " x cp %d", p->cp);
    printf("  %d rank%s = tp %d%s x pp %d x dp %d%s; %d microbatch%s of %d x %d tokens per "
           "pipeline; %s; recompute %s; zero %d; %s on %s\n",
           p->world, p->world == 1 ? "" : "s", p->t, cps, p->pp, p->dp_data,
           o->sp ? " (sequence parallel)" : "", p->nmb,
           p->nmb == 1 ? "" : "es", o->micro_batch, p->m.seq, sched, rcn[o->recompute],
           o->zero, comp_dtype_name(o->dtype), p->device);
    const char *naming = o->groups != WL_GROUPS_ROLE ? "explicit (one file per rank)"
                         : p->cp > 1 && o->cp_comm == WL_CP_P2P
                             ? "by role (one file per stage and cp index)"
                             : "by role (one file per stage)";
    printf("  files: %llu written, %llu hard link%s%s; %llu nodes written; groups %s\n",
           (unsigned long long)s->files_written, (unsigned long long)s->links,
           s->links == 1 ? "" : "s", s->copies ? " (some copied)" : "",
           (unsigned long long)s->nodes, naming);
    for (int stg = 0; stg < p->pp; stg++) {
        printf("  stage %d: %llu nodes;", stg, (unsigned long long)stage_nodes[stg]);
        print_counts(stdout, &per_stage[stg]);
    }
    printf("  memory per rank, GiB (weights + grads + optimizer + activations = total of "
           "%.4g):\n", p->capacity / 1073741824.0);
    for (int stg = 0; stg < p->pp; stg++) {
        wl_llm_mem mm;
        wl_llm_memory(p, stg, &mm);
        double G = 1073741824.0;
        printf("    stage %d: %.4g + %.4g + %.4g + %.4g = %.4g%s\n", stg, mm.weights / G,
               mm.grads / G, mm.optimizer / G, mm.activations / G, mm.total / G,
               mm.total > mm.capacity ? "  DOES NOT FIT" : "");
        if (mm.total > mm.capacity)
            loom_warn("stage %d needs %.4g GiB per rank but %s has %.4g GiB: the run would not "
                      "fit (try --recompute full, --zero, a larger --tp/--pp, or a smaller "
                      "--micro-batch)", stg, mm.total / G, p->device, mm.capacity / G);
    }
    char ranks[32]; /* "{0..7}", or "0" for one rank */
    snprintf(ranks, sizeof ranks, p->world == 1 ? "0" : "{0..%d}", p->world - 1);
    printf("  wrote %s.%s.et%s%s, %s\n", p->out, ranks, any ? ", " : "", any ? gpath : "", spath);
}

/* Role-named files: one a pipeline stage, linked to every rank of it; with
 * --cp-comm p2p one a stage and cp index (a ring step's peers are the
 * neighbours of the rank's own index).  per_stage and stage_nodes get cp
 * index 0's. */
static int write_roles(const wl_llm_plan *p, loom_outset *set, int kr, llm_counts *per_stage,
                       uint64_t *stage_nodes, wl_llm_stats *s, loom_err *err)
{
    int td = p->t * p->dp, ncls = p->cp > 1 && p->o.cp_comm == WL_CP_P2P ? p->cp : 1, rc = 0;
    int *members = loom_xmalloc((size_t)td * sizeof *members);
    char path[4200];
    for (int stg = 0; stg < p->pp && rc == 0; stg++)
        for (int c = 0; c < ncls && rc == 0; c++) {
            int n = 0;
            for (int o = 0; o < td; o++) /* o = t + tp (c + cp d) */
                if (ncls == 1 || (o / p->t) % p->cp == c)
                    members[n++] = stg * td + o;
            llm_counts cnt;
            uint64_t nodes = 0;
            rc = loom_outset_member(set, kr, members[0], path, sizeof path, err);
            if (rc == 0)
                rc = write_rank(p, stg, c, -1, path, &cnt, &nodes, err);
            if (rc == 0) {
                wl_link_stats ls = {0, 0};
                rc = wl_link_ranks(set, kr, members, n, &ls, err);
                s->links += ls.links;
                s->copies += ls.copies;
                s->files_written++;
                s->nodes += nodes;
            }
            if (rc == 0 && c == 0) {
                per_stage[stg] = cnt;
                stage_nodes[stg] = nodes;
            }
        }
    free(members);
    return rc;
}

/* The files are checked first and put into place together at the end
 * (outfile.h), so a failed generation leaves none of them. */
int wl_llm_write(const wl_llm_plan *p, wl_llm_stats *st, loom_err *err)
{
    wl_llm_stats s = {0, 0, 0, 0};
    char path[4200], gpath[4200], spath[4200];
    if (snprintf(gpath, sizeof gpath, "%s.comm.json", p->out) >= (int)sizeof gpath ||
        snprintf(spath, sizeof spath, "%s.system.yaml", p->out) >= (int)sizeof spath)
        return loom_err_set(err, LOOM_EUSAGE, "--out %s: path too long", p->out);
    if (2LL * p->chunks * p->nmb + 2 > INT_MAX) /* wl_llm_cp.c's two tags above */
        return loom_err_set(err, LOOM_EUSAGE, "%d virtual stages x %d microbatches: too many for "
                            "32-bit send/receive tags", p->chunks, p->nmb);
    int made = 0;
    if (wl_prepare_prefix(p->out, &made, err) < 0)
        return err->code;
    loom_outset *set = loom_outset_create();
    int kr = loom_outset_add_ranks(set, p->out, p->world, "--out");
    int kg = loom_outset_add(set, gpath, "--out");
    int ks = loom_outset_add(set, spath, "--out");
    loom_outset_input(set, p->devices_file, "the device catalog");
    int rc = loom_outset_check(set, err);
    int td = p->t * p->dp;
    llm_counts *per_stage = loom_xcalloc(p->pp, sizeof *per_stage);
    uint64_t *stage_nodes = loom_xcalloc(p->pp, sizeof *stage_nodes);
    if (rc == 0 && p->o.groups == WL_GROUPS_ROLE)
        rc = write_roles(p, set, kr, per_stage, stage_nodes, &s, err);
    else if (rc == 0) {
        for (int r = 0; r < p->world && rc == 0; r++) {
            int stg = r / td;
            llm_counts c;
            uint64_t n = 0;
            rc = loom_outset_member(set, kr, r, path, sizeof path, err);
            if (rc == 0)
                rc = write_rank(p, stg, (r / p->t) % p->cp, r, path, &c, &n, err);
            if (rc == 0) {
                s.files_written++;
                s.nodes += n;
                if (r % td == 0) {
                    per_stage[stg] = c;
                    stage_nodes[stg] = n;
                }
            }
        }
    }
    int any = 0;
    if (rc == 0)
        rc = write_groups(p, set, kg, &any, err);
    if (rc == 0)
        rc = write_system(p, set, ks, spath, gpath, any, err);
    if (rc == 0)
        rc = loom_outset_commit(set, err); /* the comm-group file only if written */
    loom_outset_free(set); /* after a failure: removes every temporary */
    if (rc < 0 && made)
        wl_unprepare_prefix(p->out);
    if (rc == 0 && !p->o.quiet)
        print_summary(p, &s, per_stage, stage_nodes, any, gpath, spath);
    free(per_stage);
    free(stage_nodes);
    if (st)
        *st = s;
    return rc;
}
