/*
 * wl_llm.c: the Megatron-style LLM training step (docs/WORKLOADS.md has
 * every formula used here, with the Megatron-LM code each follows).
 *
 * Invariants of an emitted trace:
 * - compute nodes form one chain in program order (a CUDA stream): each
 *   depends on the previous one, plus the communication results it needs;
 * - a collective or send depends on the compute node that produced its
 *   data, so it overlaps with whatever compute does not need its result;
 * - a receive is posted when the rank reaches the operation that needs it;
 * - node ids only refer backwards (wl_emit asserts it).
 * Ranks of one pipeline stage run the same program; with role-named
 * communicators (--groups role) their files are byte-identical.
 */
#include "wl_llm.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "et_graph.h"
#include "wl.h"
#include "sbuf.h"
#include "wl_emit.h"

/* ---- presets -------------------------------------------------------------- */

/* Shapes from the models' papers and released configurations (WORKLOADS.md
 * lists the source of each). */
static const wl_model presets[] = {
    /* name         h      f      a    g    L    s     V       E  k sw tied flash */
    {"gpt3-175b", 12288, 49152, 96, 96, 96, 2048, 50257, 0, 0, 0, 1, 0},
    {"llama3-8b", 4096, 14336, 32, 8, 32, 8192, 128256, 0, 0, 1, 0, 1},
    {"llama3-70b", 8192, 28672, 64, 8, 80, 8192, 128256, 0, 0, 1, 0, 1},
    {"llama3-405b", 16384, 53248, 128, 8, 126, 8192, 128256, 0, 0, 1, 0, 1},
    {"mixtral-8x7b", 4096, 14336, 32, 8, 32, 4096, 32000, 8, 2, 1, 0, 1},
    {"mt-nlg-530b", 20480, 81920, 128, 128, 105, 2048, 50257, 0, 0, 0, 1, 0},
};

int wl_llm_preset(const char *name, wl_model *m)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(name, presets[i].name) == 0) {
            *m = presets[i];
            return 0;
        }
    return -1;
}

const char *wl_llm_preset_names(void)
{
    return "gpt3-175b, llama3-8b, llama3-70b, llama3-405b, mixtral-8x7b, mt-nlg-530b";
}

/* ---- the plan ------------------------------------------------------------- */

struct wl_llm_plan {
    wl_llm_opts o;       /* options (strings owned below) */
    char *out, *device, *devices_file;
    wl_model m;          /* the shape */
    int t, pp, dp, ep;   /* degrees */
    int V;               /* model chunks per stage */
    int nmb;             /* microbatches per step per pipeline */
    int world;           /* ranks */
    int chunks;          /* pp * V virtual stages */
    int *chunk_layers;   /* [chunks]: layers of virtual stage v */
    int *chunk_first;    /* [chunks]: its first layer (global index) */
    int vocab;           /* padded vocabulary */
    int moe;             /* experts > 1 */
    int a_loc, kv_loc;   /* query and key/value heads per TP rank */
    int e_mm, e_act, e_w, e_g; /* bytes: GEMM operands, activations, weights, grads */
    double T;            /* tokens per microbatch, b * s */
    double Tl;           /* tokens in replicated/elementwise parts: T/t with SP */
    comp_cfg dev;        /* the device at the dtype (roofline with curves) */
    double capacity;     /* device HBM bytes */
    int e_loc;           /* experts per rank */
};

int wl_llm_world(const wl_llm_plan *p) { return p->world; }
int wl_llm_microbatches(const wl_llm_plan *p) { return p->nmb; }
int wl_llm_vocab_padded(const wl_llm_plan *p) { return p->vocab; }

void wl_llm_plan_free(wl_llm_plan *p)
{
    if (p == NULL)
        return;
    free(p->out);
    free(p->device);
    free(p->devices_file);
    free(p->chunk_layers);
    free(p->chunk_first);
    free(p);
}

static int positive(loom_err *err, const char *flag, long long v, long long hi)
{
    if (v < 1 || v > hi)
        return loom_err_set(err, LOOM_EUSAGE, "%s %lld: allowed 1 .. %lld", flag, v, hi);
    return 0;
}

/* Layers of virtual stage v when L does not divide evenly: the extra
 * layers go to the inner virtual stages first, so the first and last,
 * which also hold the embedding and the output layer, get fewer (the
 * arrangement Llama 3 405B was trained with: 126 layers on 16 stages,
 * 7 on the first and last, 8 elsewhere). */
static void split_layers(int L, int C, int *out)
{
    int base = L / C, extra = L % C;
    for (int v = 0; v < C; v++)
        out[v] = base;
    for (int v = 1; v < C - 1 && extra > 0; v++, extra--)
        out[v]++;
    if (extra > 0) {
        out[0]++;
        extra--;
    }
    if (extra > 0)
        out[C - 1]++;
}

wl_llm_plan *wl_llm_plan_new(const wl_llm_opts *o, loom_err *err)
{
    const wl_model *m = &o->m;
    wl_llm_plan *p = loom_xcalloc(1, sizeof *p);
    p->o = *o;
    p->m = *m;
    const int BIG = 1 << 24;
    if (positive(err, "--hidden", m->hidden, BIG) < 0 || positive(err, "--ffn", m->ffn, BIG) < 0 ||
        positive(err, "--heads", m->heads, 65536) < 0 ||
        positive(err, "--kv-heads", m->kv_heads, 65536) < 0 ||
        positive(err, "--layers", m->layers, 65536) < 0 || positive(err, "--seq", m->seq, BIG) < 0 ||
        positive(err, "--vocab", m->vocab, BIG) < 0 || positive(err, "--tp", o->tp, 65536) < 0 ||
        positive(err, "--pp", o->pp, 65536) < 0 || positive(err, "--ep", o->ep, 65536) < 0 ||
        positive(err, "--micro-batch", o->micro_batch, BIG) < 0 ||
        positive(err, "--virtual-stages", o->vstages, 1024) < 0)
        goto err;
    if (m->experts < 0 || m->experts > 65536 || m->topk < 0) {
        loom_err_set(err, LOOM_EUSAGE, "--experts %d / --topk %d: allowed experts 0 .. 65536, "
                     "topk >= 0", m->experts, m->topk);
        goto err;
    }
    if (m->hidden % m->heads) {
        loom_err_set(err, LOOM_EUSAGE, "--hidden %d is not a multiple of --heads %d", m->hidden,
                     m->heads);
        goto err;
    }
    if (m->kv_heads > m->heads || m->heads % m->kv_heads) {
        loom_err_set(err, LOOM_EUSAGE, "--kv-heads %d must divide --heads %d", m->kv_heads,
                     m->heads);
        goto err;
    }
    p->t = o->tp;
    p->pp = o->pp;
    p->ep = o->ep;
    if (m->heads % p->t) {
        loom_err_set(err, LOOM_EUSAGE, "--tp %d does not divide --heads %d", p->t, m->heads);
        goto err;
    }
    if (m->kv_heads % p->t && p->t % m->kv_heads) {
        loom_err_set(err, LOOM_EUSAGE, "--tp %d and --kv-heads %d: one must divide the other "
                     "(key/value heads are split, or replicated, across tensor-parallel ranks)",
                     p->t, m->kv_heads);
        goto err;
    }
    if (m->ffn % p->t) {
        loom_err_set(err, LOOM_EUSAGE, "--tp %d does not divide --ffn %d", p->t, m->ffn);
        goto err;
    }
    if (m->hidden % p->t) {
        loom_err_set(err, LOOM_EUSAGE, "--tp %d does not divide --hidden %d", p->t, m->hidden);
        goto err;
    }
    if (o->sp && p->t < 2) {
        loom_err_set(err, LOOM_EUSAGE, "--sequence-parallel needs --tp > 1");
        goto err;
    }
    if (o->sp && m->seq % p->t) {
        loom_err_set(err, LOOM_EUSAGE, "--sequence-parallel: --tp %d does not divide --seq %d",
                     p->t, m->seq);
        goto err;
    }
    /* ranks: tp * pp * dp */
    long long tpp = (long long)p->t * p->pp;
    if (o->dp > 0) {
        p->dp = o->dp;
        if (o->ranks > 0 && (long long)o->ranks != tpp * o->dp) {
            loom_err_set(err, LOOM_EUSAGE, "--ranks %d is not --tp %d x --pp %d x --dp %d = %lld",
                         o->ranks, p->t, p->pp, o->dp, tpp * o->dp);
            goto err;
        }
    } else if (o->ranks > 0) {
        if (o->ranks % tpp) {
            loom_err_set(err, LOOM_EUSAGE, "--ranks %d is not a multiple of --tp %d x --pp %d = %lld",
                         o->ranks, p->t, p->pp, tpp);
            goto err;
        }
        p->dp = (int)(o->ranks / tpp);
    } else {
        p->dp = 1;
    }
    if (tpp * p->dp > BIG) {
        loom_err_set(err, LOOM_EUSAGE, "--tp x --pp x --dp = %lld ranks: at most %d", tpp * p->dp, BIG);
        goto err;
    }
    p->world = (int)(tpp * p->dp);
    /* experts */
    p->moe = m->experts > 1;
    if (!p->moe && p->ep > 1) {
        loom_err_set(err, LOOM_EUSAGE, "--ep %d needs --experts > 1", p->ep);
        goto err;
    }
    if (p->moe) {
        if (m->topk < 1 || m->topk > m->experts) {
            loom_err_set(err, LOOM_EUSAGE, "--topk %d: allowed 1 .. --experts %d", m->topk, m->experts);
            goto err;
        }
        if (m->experts % p->ep) {
            loom_err_set(err, LOOM_EUSAGE, "--ep %d does not divide --experts %d", p->ep, m->experts);
            goto err;
        }
        if (p->dp % p->ep) {
            loom_err_set(err, LOOM_EUSAGE, "--ep %d does not divide the data-parallel size %d "
                         "(expert parallelism is carved out of data parallelism)", p->ep, p->dp);
            goto err;
        }
        if (p->t > 1 && !o->sp) {
            loom_err_set(err, LOOM_EUSAGE, "--experts with --tp %d needs --sequence-parallel "
                         "(as Megatron-Core requires)", p->t);
            goto err;
        }
        p->e_loc = m->experts / p->ep;
    }
    /* batch */
    long long per = (long long)o->micro_batch * p->dp;
    long long gb = o->global_batch > 0 ? o->global_batch : per;
    if (gb % per) {
        loom_err_set(err, LOOM_EUSAGE, "--global-batch %lld is not a multiple of --micro-batch %d x "
                     "data-parallel size %d = %lld", gb, o->micro_batch, p->dp, per);
        goto err;
    }
    if (gb / per > (1 << 20)) {
        loom_err_set(err, LOOM_EUSAGE, "--global-batch %lld: %lld microbatches per pipeline, at "
                     "most %d", gb, gb / per, 1 << 20);
        goto err;
    }
    p->nmb = (int)(gb / per);
    /* schedule */
    p->V = o->sched == WL_SCHED_INTERLEAVED ? o->vstages : 1;
    if (o->sched == WL_SCHED_1F1B && o->vstages != 1) {
        loom_err_set(err, LOOM_EUSAGE, "--virtual-stages %d needs --schedule interleaved", o->vstages);
        goto err;
    }
    if (o->sched == WL_SCHED_INTERLEAVED) {
        if (p->pp < 2 || p->V < 2) {
            loom_err_set(err, LOOM_EUSAGE, "--schedule interleaved needs --pp >= 2 and "
                         "--virtual-stages >= 2 (got %d, %d)", p->pp, p->V);
            goto err;
        }
        if (p->nmb % p->pp) {
            loom_err_set(err, LOOM_EUSAGE, "--schedule interleaved: the %d microbatches per pipeline "
                         "are not a multiple of --pp %d (Megatron-LM requires it)", p->nmb, p->pp);
            goto err;
        }
    }
    p->chunks = p->pp * p->V;
    if (m->layers < p->chunks) {
        loom_err_set(err, LOOM_EUSAGE, "--layers %d: fewer than --pp x --virtual-stages = %d",
                     m->layers, p->chunks);
        goto err;
    }
    p->chunk_layers = loom_xcalloc(p->chunks, sizeof *p->chunk_layers);
    p->chunk_first = loom_xcalloc(p->chunks, sizeof *p->chunk_first);
    split_layers(m->layers, p->chunks, p->chunk_layers);
    for (int v = 1; v < p->chunks; v++)
        p->chunk_first[v] = p->chunk_first[v - 1] + p->chunk_layers[v - 1];
    if (o->zero < 0 || o->zero > 3) {
        loom_err_set(err, LOOM_EUSAGE, "--zero %d: allowed 0, 1, 2, 3", o->zero);
        goto err;
    }
    /* bytes per element (WORKLOADS.md, "Datatypes") */
    p->e_act = o->dtype == COMP_FP32 || o->dtype == COMP_TF32 ? 4 : 2;
    p->e_mm = o->dtype == COMP_FP8 ? 1 : p->e_act;
    p->e_w = p->e_act;
    p->e_g = o->grad_bytes ? o->grad_bytes : (o->dtype == COMP_FP16 ? 2 : 4);
    /* Megatron pads the vocabulary to a multiple of 128 * tp */
    long long q = 128LL * p->t;
    p->vocab = (int)(((long long)m->vocab + q - 1) / q * q);
    p->a_loc = m->heads / p->t;
    p->kv_loc = m->kv_heads >= p->t ? m->kv_heads / p->t : 1;
    p->T = (double)o->micro_batch * m->seq;
    p->Tl = o->sp ? p->T / p->t : p->T;
    if (o->out == NULL || *o->out == '\0') {
        loom_err_set(err, LOOM_EUSAGE, "needs --out DIR/prefix");
        goto err;
    }
    if (o->bucket_bytes > (uint64_t)INT64_MAX) {
        loom_err_set(err, LOOM_EUSAGE, "--grad-bucket overflows");
        goto err;
    }
    /* the device */
    comp_catalog *cat = comp_catalog_load(o->devices_file, err);
    if (cat == NULL)
        goto err;
    const comp_device *d = comp_catalog_find(cat, o->device);
    if (d == NULL) {
        char names[512];
        int off = 0;
        for (size_t i = 0; i < comp_catalog_count(cat) && off < (int)sizeof names; i++)
            off += snprintf(names + off, sizeof names - off, "%s%s", i ? ", " : "",
                            comp_catalog_at(cat, i)->name);
        loom_err_set(err, LOOM_EUSAGE, "--device '%s' is not in the catalog (%s)", o->device, names);
        comp_catalog_free(cat);
        goto err;
    }
    p->dev.kind = COMP_ROOFLINE;
    if (comp_device_cfg(d, o->dtype, &p->dev, err) < 0) {
        comp_catalog_free(cat);
        goto err;
    }
    p->capacity = d->mem_bytes;
    comp_catalog_free(cat);
    p->out = loom_xstrdup(o->out);
    p->device = loom_xstrdup(o->device);
    p->devices_file = o->devices_file ? loom_xstrdup(o->devices_file) : NULL;
    p->o.out = p->out;
    p->o.device = p->device;
    p->o.devices_file = p->devices_file;
    return p;
err:
    wl_llm_plan_free(p);
    return NULL;
}

/* ---- parameters per rank (WORKLOADS.md, "Parameters") -------------------- */

static double attn_params(const wl_llm_plan *p)
{
    const wl_model *m = &p->m;
    double h = m->hidden, d = (double)m->hidden / m->heads;
    double nq = (double)p->a_loc * d, nkv = (double)p->kv_loc * d;
    double w = h * (nq + 2 * nkv) + nq * h;           /* QKV and output projection */
    double b = m->swiglu ? 0 : (nq + 2 * nkv) + h;    /* their biases */
    double norm = m->swiglu ? h : 2 * h;              /* RMSNorm weight / LayerNorm weight+bias */
    return w + b + norm;
}

static double mlp_dense_params(const wl_llm_plan *p)
{
    const wl_model *m = &p->m;
    double h = m->hidden, f = (double)m->ffn / p->t;
    double w = h * f * (m->swiglu ? 3 : 2);
    double b = m->swiglu ? 0 : f + h;
    double norm = m->swiglu ? h : 2 * h;
    return w + b + norm;
}

/* expert weights on this rank, and the replicated router and norm */
static double mlp_expert_params(const wl_llm_plan *p)
{
    const wl_model *m = &p->m;
    return (double)p->e_loc * m->hidden * m->ffn * (m->swiglu ? 3 : 2);
}

static double mlp_router_params(const wl_llm_plan *p)
{
    const wl_model *m = &p->m;
    return (double)m->hidden * m->experts + (m->swiglu ? m->hidden : 2.0 * m->hidden);
}

/* dense (data-parallel) parameters of one layer on one rank */
static double layer_dense(const wl_llm_plan *p)
{
    return attn_params(p) + (p->moe ? mlp_router_params(p) : mlp_dense_params(p));
}

static double layer_expert(const wl_llm_plan *p) { return p->moe ? mlp_expert_params(p) : 0; }

static double embed_params(const wl_llm_plan *p)
{
    double w = (double)p->vocab / p->t * p->m.hidden;
    if (!p->m.swiglu) /* GPT: learned position embeddings, replicated */
        w += (double)p->m.seq * p->m.hidden;
    return w;
}

/* final norm, and the output matrix unless pp = 1 and it is the embedding */
static double head_params(const wl_llm_plan *p)
{
    double norm = p->m.swiglu ? p->m.hidden : 2.0 * p->m.hidden;
    int shared = p->m.tied && p->chunks == 1;
    return norm + (shared ? 0 : (double)p->vocab / p->t * p->m.hidden);
}

/* dense and expert parameters of virtual stage v on one rank */
static void chunk_params(const wl_llm_plan *p, int v, double *dense, double *expert)
{
    *dense = p->chunk_layers[v] * layer_dense(p);
    *expert = p->chunk_layers[v] * layer_expert(p);
    if (v == 0)
        *dense += embed_params(p);
    if (v == p->chunks - 1)
        *dense += head_params(p);
}

/* ---- the pipeline schedule (Megatron-LM's, schedules.py) ----------------- */

typedef struct op {
    int fwd;   /* 1: forward, 0: backward */
    int mb;    /* microbatch */
    int chunk; /* model chunk on this stage, 0..V-1 */
} op;

/* The ops of stage s in program order; returns how many (2 * nmb * V). */
static int schedule(const wl_llm_plan *p, int s, op *out)
{
    int n = 0, pp = p->pp, V = p->V, M = p->nmb;
    if (V == 1) {
        int warm = pp - s - 1 < M ? pp - s - 1 : M;
        int f = 0, b = 0;
        for (int i = 0; i < warm; i++)
            out[n++] = (op){1, f++, 0};
        for (int i = 0; i < M - warm; i++) {
            out[n++] = (op){1, f++, 0};
            out[n++] = (op){0, b++, 0};
        }
        while (b < M)
            out[n++] = (op){0, b++, 0};
        return n;
    }
    int total = M * V;
    int warm = (pp - s - 1) * 2 + (V - 1) * pp;
    if (warm > total)
        warm = total;
#define VOP(fw, k)                                                              \
    (op)                                                                        \
    {                                                                           \
        (fw), ((k) / (pp * V)) * pp + (k) % pp,                                 \
            (fw) ? ((k) % (pp * V)) / pp : V - 1 - ((k) % (pp * V)) / pp        \
    }
    for (int k = 0; k < warm; k++)
        out[n++] = VOP(1, k);
    for (int i = 0; i < total - warm; i++) {
        out[n++] = VOP(1, warm + i);
        out[n++] = VOP(0, i);
    }
    for (int i = total - warm; i < total; i++)
        out[n++] = VOP(0, i);
#undef VOP
    return n;
}

/* ---- memory (WORKLOADS.md, "Memory") -------------------------------------- */

/* bytes one layer keeps for its backward, one microbatch, one rank */
static double layer_activations(const wl_llm_plan *p, wl_recompute rc)
{
    const wl_model *m = &p->m;
    double e = p->e_act, T = p->T, t = p->t, h = m->hidden, f = m->ffn;
    double d = (double)m->hidden / m->heads;
    double b = p->o.micro_batch, s = m->seq;
    if (rc == WL_RC_FULL) /* only the layer input */
        return e * T * h / (p->o.sp ? t : 1);
    /* replicated across TP unless SP: 2 norm inputs, QKV and fc1 inputs,
     * 2 dropout masks (1 byte) */
    double R = (4 * e + 2) * T * h;
    /* split across TP: Q, K, V, projection input, MLP intermediates */
    double S = e * T * (p->a_loc + 2 * p->kv_loc) * d + e * T * p->a_loc * d;
    if (p->moe) {
        double Tx = p->Tl * m->topk; /* tokens this rank's experts see */
        S += e * Tx * f * ((m->swiglu ? 2 : 1) + 1) + e * Tx * h;
        R -= e * T * h; /* the fc1 input is the experts' input, counted above */
    } else {
        S += e * T * f / t * ((m->swiglu ? 2 : 1) + 1);
    }
    /* the attention core: softmax output, dropout mask and output */
    if (!m->flash && rc != WL_RC_SELECTIVE)
        S += (2 * e + 1) * b * p->a_loc * s * s;
    if (m->flash)
        S += 4.0 * b * p->a_loc * s; /* the softmax statistics (fp32) */
    return p->o.sp ? (R / t + S) : (R + S);
}

void wl_llm_memory(const wl_llm_plan *p, int stage, wl_llm_mem *out)
{
    memset(out, 0, sizeof *out);
    double dense = 0, expert = 0;
    for (int c = 0; c < p->V; c++) {
        double dd, ee;
        chunk_params(p, c * p->pp + stage, &dd, &ee);
        dense += dd;
        expert += ee;
    }
    int edp = p->moe ? p->dp / p->ep : p->dp;
    double P = dense + expert;
    out->params = P;
    int z = p->o.zero;
    int mixed = p->e_w < 4; /* a separate fp32 master copy */
    double opt_per = mixed ? 12 : 8;
    out->weights = (z >= 3 ? dense / p->dp + expert / edp : P) * p->e_w;
    out->grads = (z >= 2 ? dense / p->dp + expert / edp : P) * p->e_g;
    out->optimizer = (z >= 1 ? dense / p->dp + expert / edp : P) * opt_per;
    /* activations: walk the schedule, count layers of microbatches whose
     * forward ran and backward did not */
    op *ops = loom_xmalloc(2 * (size_t)p->nmb * p->V * sizeof *ops);
    int n = schedule(p, stage, ops);
    double live = 0, peak = 0;
    int live_mb = 0, peak_mb = 0;
    for (int i = 0; i < n; i++) {
        int v = ops[i].chunk * p->pp + stage;
        double layers = p->chunk_layers[v];
        if (ops[i].fwd) {
            live += layers;
            live_mb++;
        }
        if (live > peak) {
            peak = live;
            peak_mb = live_mb;
        }
        if (!ops[i].fwd) {
            live -= layers;
            live_mb--;
        }
    }
    free(ops);
    out->inflight = peak_mb;
    out->activations = peak * layer_activations(p, p->o.recompute);
    if (p->o.recompute == WL_RC_FULL) /* the layer being recomputed holds everything */
        out->activations += layer_activations(p, WL_RC_NONE);
    /* the output layer's fp32 softmax for the loss on the last stage */
    if (stage == p->pp - 1)
        out->activations += 4.0 * p->T * p->vocab / p->t;
    out->total = out->weights + out->grads + out->optimizer + out->activations;
    out->capacity = p->capacity;
}

/* ---- emission ------------------------------------------------------------- */

enum { MAXNEED = 8 };

typedef struct wl_counts {
    uint64_t colls[ET_COLL_TYPES]; /* collectives per type */
    double coll_bytes[ET_COLL_TYPES];
    uint64_t sends, recvs;         /* point to point */
    double send_bytes;
} wl_counts;

typedef struct gen {
    const wl_llm_plan *p;
    wl_trace *tr;
    int stage;           /* pipeline stage */
    int rank;            /* global rank; -1 for role-named (shared) files */
    uint64_t last;       /* latest compute node: the stream position */
    uint64_t need[MAXNEED]; /* results the next compute node waits for */
    int nneed;
    /* a fused span (--granularity layer) */
    int fusing;
    char fname[96];
    double ff, fb, fsec; /* its FLOPs, bytes, seconds */
    uint64_t *kw;        /* its kernels: (FLOPs, bytes) pairs */
    uint32_t nkw;        /* kernels in kw */
    size_t capkw;        /* uint64s allocated in kw */
    uint64_t fdeps[MAXNEED + 1];
    int nfdeps;
    /* ZeRO-3 prefetch: the stream position at the start of the previous layer */
    uint64_t prev_layer_start;
    /* overlap: per local chunk and layer, the node ending that layer's backward */
    uint64_t *layer_end; /* [V * (max_layers + 2)], in unit order (see units()) */
    uint64_t *layer_end_tmp; /* [max_layers]: per layer of the current backward */
    int max_layers;
    /* communicator names of this rank (or roles) */
    char pg_tp[24], pg_dp[24], pg_ep[24], pg_edp[24], pg_emb[24], pg_pp[24];
    char nm[128];
    double overflow;     /* largest value that did not fit */
    wl_counts cnt;       /* what this file holds (summary) */
} gen;

static uint64_t to_u64(gen *g, double v)
{
    if (!(v < 9.2e18)) {
        if (v > g->overflow)
            g->overflow = v;
        return 0;
    }
    return (uint64_t)llround(v);
}

static double kernel_seconds(const gen *g, double flops, double bytes)
{
    comp_kernel k = {.num_ops = (uint64_t)(flops < 9.2e18 ? flops : 9.2e18),
                     .tensor_size = (uint64_t)(bytes < 9.2e18 ? bytes : 9.2e18),
                     .has_ops = 1};
    return (double)comp_time(&g->p->dev, &k, NULL) / (double)SIM_PS_PER_S;
}

static uint64_t us_of(double sec) { return (uint64_t)llround(sec * 1e6); }

static void flush(gen *g)
{
    if (!g->fusing)
        return;
    g->fusing = 0;
    uint64_t id = wl_comp_fused(g->tr, g->fname, to_u64(g, g->ff), to_u64(g, g->fb),
                                us_of(g->fsec), g->kw, g->nkw, g->fdeps, g->nfdeps);
    if (id)
        g->last = id;
}

static void need(gen *g, uint64_t id)
{
    if (id == 0)
        return;
    LOOM_ASSERT(g->nneed < MAXNEED);
    g->need[g->nneed++] = id;
}

/* One compute kernel, after the stream position and what it needs. */
static void kern(gen *g, int layer, char ph, int mb, const char *k, double flops, double bytes)
{
    double sec = kernel_seconds(g, flops, bytes);
    if (g->p->o.gran == WL_GRAN_KERNEL) {
        uint64_t deps[MAXNEED + 1];
        int n = 0;
        deps[n++] = g->last;
        for (int i = 0; i < g->nneed; i++)
            deps[n++] = g->need[i];
        g->nneed = 0;
        if (layer >= 0)
            snprintf(g->nm, sizeof g->nm, "L%d.%c%d.%s", layer, ph, mb, k);
        else
            snprintf(g->nm, sizeof g->nm, "%c%d.%s", ph, mb, k);
        uint64_t id = wl_comp(g->tr, g->nm, to_u64(g, flops), to_u64(g, bytes), us_of(sec), deps, n);
        if (id)
            g->last = id;
        return;
    }
    /* fused: a node waits for all its inputs at its start, so a kernel that
     * needs a communication result starts a new span */
    if (g->fusing && g->nneed > 0)
        flush(g);
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
        flush(g);
        kern(g, layer, ph, mb, k, flops, bytes);
        return;
    }
    g->kw = loom_vgrow(g->kw, &g->capkw, 2 * ((size_t)g->nkw + 1), sizeof *g->kw);
    g->kw[2 * g->nkw] = to_u64(g, flops);
    g->kw[2 * g->nkw + 1] = to_u64(g, bytes);
    g->nkw++;
    g->ff += flops;
    g->fb += bytes;
    g->fsec += sec;
}

/* A GEMM of (M x K) times (K x N): 2MKN FLOPs; reads both operands, writes
 * the product. */
static void gemm(gen *g, int layer, char ph, int mb, const char *k, double M, double K, double N)
{
    const wl_llm_plan *p = g->p;
    kern(g, layer, ph, mb, k, 2 * M * K * N, p->e_mm * (M * K + K * N) + p->e_act * M * N);
}

/* A weight-gradient GEMM: reads both activations, accumulates into the
 * gradient buffer (read + write at the gradient width). */
static void wgrad(gen *g, int layer, char ph, int mb, const char *k, double M, double K, double N)
{
    const wl_llm_plan *p = g->p;
    kern(g, layer, ph, mb, k, 2 * M * K * N, p->e_mm * (M * K + M * N) + 2.0 * p->e_g * K * N);
}

static uint64_t coll_after(gen *g, const char *name, int type, double bytes, const char *pg,
                           const uint64_t *deps, int ndeps)
{
    flush(g);
    g->cnt.colls[type]++;
    g->cnt.coll_bytes[type] += bytes;
    return wl_coll(g->tr, name, type, to_u64(g, bytes), pg, deps, ndeps);
}

/* A collective on the data the stream has just produced. */
static uint64_t coll(gen *g, int layer, char ph, int mb, const char *k, int type, double bytes,
                     const char *pg)
{
    flush(g);
    if (layer >= 0)
        snprintf(g->nm, sizeof g->nm, "L%d.%c%d.%s", layer, ph, mb, k);
    else
        snprintf(g->nm, sizeof g->nm, "%c%d.%s", ph, mb, k);
    g->cnt.colls[type]++;
    g->cnt.coll_bytes[type] += bytes;
    return wl_coll(g->tr, g->nm, type, to_u64(g, bytes), pg, &g->last, 1);
}

/* A tensor-parallel collective whose result the next kernel needs. */
static void tp_coll(gen *g, int layer, char ph, int mb, const char *k, int type, double bytes)
{
    if (g->p->t > 1)
        need(g, coll(g, layer, ph, mb, k, type, bytes, g->pg_tp));
}

/* ---- one transformer layer ------------------------------------------------ */

static double layer_dense_bytes_w(const wl_llm_plan *p) { return layer_dense(p) * p->e_w; }

static void zero3_gather(gen *g, int l, char ph, int mb)
{
    const wl_llm_plan *p = g->p;
    if (p->o.zero < 3)
        return;
    uint64_t dep = g->prev_layer_start ? g->prev_layer_start : g->last;
    g->prev_layer_start = g->last;
    snprintf(g->nm, sizeof g->nm, "L%d.%c%d.zero3_ag", l, ph, mb);
    if (p->dp > 1)
        need(g, coll_after(g, g->nm, ET_ALL_GATHER, layer_dense_bytes_w(p) / p->dp, g->pg_dp, &dep, 1));
    int edp = p->moe ? p->dp / p->ep : 0;
    if (edp > 1) {
        snprintf(g->nm, sizeof g->nm, "L%d.%c%d.zero3_ag_exp", l, ph, mb);
        need(g, coll_after(g, g->nm, ET_ALL_GATHER, layer_expert(p) * p->e_w / edp, g->pg_edp,
                           &dep, 1));
    }
}

static void attn_core_fwd(gen *g, int l, char ph, int mb)
{
    const wl_llm_plan *p = g->p;
    const wl_model *m = &p->m;
    double b = p->o.micro_batch, s = m->seq, d = (double)m->hidden / m->heads, e = p->e_act;
    double A = p->a_loc, T = p->T;
    if (m->flash) { /* causal: the kernel skips the masked half */
        kern(g, l, ph, mb, "flash_attn", 0.5 * 4 * b * A * s * s * d,
             e * (2 * T * A * d + 2 * T * p->kv_loc * d));
        return;
    }
    kern(g, l, ph, mb, "attn_score", 2 * b * A * s * s * d,
         e * (T * A * d + T * p->kv_loc * d + b * A * s * s));
    kern(g, l, ph, mb, "softmax", 5 * b * A * s * s, (2 * e + 1) * b * A * s * s);
    kern(g, l, ph, mb, "attn_ctx", 2 * b * A * s * s * d,
         e * (b * A * s * s + T * p->kv_loc * d + T * A * d));
}

static void layer_fwd(gen *g, int l, char ph, int mb)
{
    const wl_llm_plan *p = g->p;
    const wl_model *m = &p->m;
    double T = p->T, Tl = p->Tl, h = m->hidden, e = p->e_act, t = p->t;
    double d = (double)m->hidden / m->heads;
    double nqkv = (p->a_loc + 2.0 * p->kv_loc) * d;
    int sp = p->o.sp;
    zero3_gather(g, l, ph, mb);
    kern(g, l, ph, mb, "ln1", 5 * Tl * h, 2 * e * Tl * h);
    if (sp)
        tp_coll(g, l, ph, mb, "ag_qkv", ET_ALL_GATHER, Tl * h * e);
    gemm(g, l, ph, mb, "qkv", T, h, nqkv);
    attn_core_fwd(g, l, ph, mb);
    gemm(g, l, ph, mb, "proj", T, p->a_loc * d, h);
    tp_coll(g, l, ph, mb, sp ? "rs_proj" : "ar_proj", sp ? ET_REDUCE_SCATTER : ET_ALL_REDUCE, T * h * e);
    kern(g, l, ph, mb, "resid1", 2 * Tl * h, (3 * e + 1) * Tl * h);
    kern(g, l, ph, mb, "ln2", 5 * Tl * h, 2 * e * Tl * h);
    if (p->moe) {
        double E = m->experts, k = m->topk, f = m->ffn, Tx = Tl * k, El = p->e_loc;
        int nin = m->swiglu ? 2 : 1;
        gemm(g, l, ph, mb, "router", Tl, h, E);
        if (p->ep > 1)
            need(g, coll(g, l, ph, mb, "a2a_dispatch", ET_ALL_TO_ALL, Tx * h * e, g->pg_ep));
        kern(g, l, ph, mb, "exp_fc1", 2 * Tx * h * f * nin,
             p->e_mm * (Tx * h + El * h * f * nin) + e * Tx * f * nin);
        kern(g, l, ph, mb, "exp_act", 8 * Tx * f, (nin + 1) * e * Tx * f);
        kern(g, l, ph, mb, "exp_fc2", 2 * Tx * f * h, p->e_mm * (Tx * f + El * f * h) + e * Tx * h);
        if (p->ep > 1)
            need(g, coll(g, l, ph, mb, "a2a_combine", ET_ALL_TO_ALL, Tx * h * e, g->pg_ep));
        kern(g, l, ph, mb, "resid2", 2 * Tl * h + Tx * h, (3 * e + 1) * Tl * h + e * Tx * h);
        return;
    }
    double fl = (double)m->ffn / t, nin = m->swiglu ? 2 : 1;
    if (sp)
        tp_coll(g, l, ph, mb, "ag_fc1", ET_ALL_GATHER, Tl * h * e);
    gemm(g, l, ph, mb, "fc1", T, h, fl * nin);
    kern(g, l, ph, mb, m->swiglu ? "swiglu" : "gelu", 8 * T * fl, (nin + 1) * e * T * fl);
    gemm(g, l, ph, mb, "fc2", T, fl, h);
    tp_coll(g, l, ph, mb, sp ? "rs_fc2" : "ar_fc2", sp ? ET_REDUCE_SCATTER : ET_ALL_REDUCE, T * h * e);
    kern(g, l, ph, mb, "resid2", 2 * Tl * h, (3 * e + 1) * Tl * h);
}

static void attn_core_bwd(gen *g, int l, int mb)
{
    const wl_llm_plan *p = g->p;
    const wl_model *m = &p->m;
    double b = p->o.micro_batch, s = m->seq, d = (double)m->hidden / m->heads, e = p->e_act;
    double A = p->a_loc, T = p->T;
    if (m->flash) { /* FlashAttention-2 backward: 2.5x the forward's work */
        kern(g, l, 'B', mb, "flash_attn_bwd", 0.5 * 10 * b * A * s * s * d,
             e * (4 * T * A * d + 4 * T * p->kv_loc * d));
        return;
    }
    if (p->o.recompute == WL_RC_SELECTIVE)
        attn_core_fwd(g, l, 'R', mb);
    kern(g, l, 'B', mb, "attn_ctx_dgrad", 2 * b * A * s * s * d,
         e * (b * A * s * s + T * A * d + T * p->kv_loc * d));
    kern(g, l, 'B', mb, "attn_ctx_vgrad", 2 * b * A * s * s * d,
         e * (b * A * s * s + T * A * d + T * p->kv_loc * d));
    kern(g, l, 'B', mb, "softmax_bwd", 5 * b * A * s * s, (3 * e + 1) * b * A * s * s);
    kern(g, l, 'B', mb, "attn_score_qgrad", 2 * b * A * s * s * d,
         e * (b * A * s * s + T * p->kv_loc * d + T * A * d));
    kern(g, l, 'B', mb, "attn_score_kgrad", 2 * b * A * s * s * d,
         e * (b * A * s * s + T * A * d + T * p->kv_loc * d));
}

static void layer_bwd(gen *g, int l, int mb, int lc, int local_chunk)
{
    const wl_llm_plan *p = g->p;
    const wl_model *m = &p->m;
    double T = p->T, Tl = p->Tl, h = m->hidden, e = p->e_act, t = p->t;
    double d = (double)m->hidden / m->heads;
    double nqkv = (p->a_loc + 2.0 * p->kv_loc) * d;
    int sp = p->o.sp;
    if (p->o.recompute == WL_RC_FULL)
        layer_fwd(g, l, 'R', mb);
    else
        zero3_gather(g, l, 'B', mb);
    kern(g, l, 'B', mb, "resid2_bwd", Tl * h, (2 * e + 1) * Tl * h);
    if (p->moe) {
        double k = m->topk, f = m->ffn, Tx = Tl * k, El = p->e_loc;
        int nin = m->swiglu ? 2 : 1;
        if (p->ep > 1)
            need(g, coll(g, l, 'B', mb, "a2a_combine_bwd", ET_ALL_TO_ALL, Tx * h * e, g->pg_ep));
        kern(g, l, 'B', mb, "exp_fc2_dgrad", 2 * Tx * f * h,
             p->e_mm * (Tx * h + El * f * h) + e * Tx * f);
        kern(g, l, 'B', mb, "exp_fc2_wgrad", 2 * Tx * f * h,
             p->e_mm * (Tx * f + Tx * h) + 2.0 * p->e_g * El * f * h);
        kern(g, l, 'B', mb, "exp_act_bwd", 8 * Tx * f, (2 * nin + 1) * e * Tx * f);
        kern(g, l, 'B', mb, "exp_fc1_dgrad", 2 * Tx * h * f * nin,
             p->e_mm * (Tx * f * nin + El * h * f * nin) + e * Tx * h);
        kern(g, l, 'B', mb, "exp_fc1_wgrad", 2 * Tx * h * f * nin,
             p->e_mm * (Tx * h + Tx * f * nin) + 2.0 * p->e_g * El * h * f * nin);
        if (p->ep > 1)
            need(g, coll(g, l, 'B', mb, "a2a_dispatch_bwd", ET_ALL_TO_ALL, Tx * h * e, g->pg_ep));
        kern(g, l, 'B', mb, "router_bwd", 4 * Tl * h * m->experts,
             p->e_mm * (2 * Tl * m->experts + h * m->experts) + e * Tl * h);
    } else {
        double fl = (double)m->ffn / t, nin = m->swiglu ? 2 : 1;
        if (sp)
            tp_coll(g, l, 'B', mb, "ag_fc2_bwd", ET_ALL_GATHER, Tl * h * e);
        gemm(g, l, 'B', mb, "fc2_dgrad", T, h, fl);
        wgrad(g, l, 'B', mb, "fc2_wgrad", T, fl, h);
        kern(g, l, 'B', mb, m->swiglu ? "swiglu_bwd" : "gelu_bwd", 8 * T * fl,
             (2 * nin + 1) * e * T * fl);
        gemm(g, l, 'B', mb, "fc1_dgrad", T, fl * nin, h);
        /* the input-gradient reduction overlaps the weight-gradient GEMM
         * (Megatron's asynchronous tensor-parallel all-reduce) */
        uint64_t c = 0;
        if (p->t > 1)
            c = coll(g, l, 'B', mb, sp ? "rs_fc1_bwd" : "ar_fc1_bwd",
                     sp ? ET_REDUCE_SCATTER : ET_ALL_REDUCE, T * h * e, g->pg_tp);
        wgrad(g, l, 'B', mb, "fc1_wgrad", T, h, fl * nin);
        need(g, c);
    }
    kern(g, l, 'B', mb, "ln2_bwd", 8 * Tl * h, 3 * e * Tl * h);
    kern(g, l, 'B', mb, "resid1_bwd", Tl * h, (2 * e + 1) * Tl * h);
    if (sp)
        tp_coll(g, l, 'B', mb, "ag_proj_bwd", ET_ALL_GATHER, Tl * h * e);
    gemm(g, l, 'B', mb, "proj_dgrad", T, h, p->a_loc * d);
    wgrad(g, l, 'B', mb, "proj_wgrad", T, p->a_loc * d, h);
    attn_core_bwd(g, l, mb);
    gemm(g, l, 'B', mb, "qkv_dgrad", T, nqkv, h);
    uint64_t c = 0;
    if (p->t > 1)
        c = coll(g, l, 'B', mb, sp ? "rs_qkv_bwd" : "ar_qkv_bwd", sp ? ET_REDUCE_SCATTER : ET_ALL_REDUCE,
                 T * h * e, g->pg_tp);
    wgrad(g, l, 'B', mb, "qkv_wgrad", T, h, nqkv);
    need(g, c);
    kern(g, l, 'B', mb, "ln1_bwd", 8 * Tl * h, 3 * e * Tl * h);
    flush(g);
    (void)local_chunk;
    g->layer_end_tmp[lc] = g->last;
    if (p->o.zero == 3) { /* the layer's gradients leave at once */
        snprintf(g->nm, sizeof g->nm, "L%d.B%d.zero3_rs", l, mb);
        if (p->dp > 1)
            coll_after(g, g->nm, ET_REDUCE_SCATTER, layer_dense(p) * p->e_g, g->pg_dp, &g->last, 1);
        int edp = p->moe ? p->dp / p->ep : 0;
        if (edp > 1) {
            snprintf(g->nm, sizeof g->nm, "L%d.B%d.zero3_rs_exp", l, mb);
            coll_after(g, g->nm, ET_REDUCE_SCATTER, layer_expert(p) * p->e_g, g->pg_edp, &g->last, 1);
        }
    }
}

/* ---- embedding and output layer ------------------------------------------ */

static void embed_fwd(gen *g, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, h = p->m.hidden, e = p->e_act;
    double bytes = e * T * h * (p->m.swiglu ? 2 : 3); /* rows read, output written (+ positions) */
    kern(g, -1, 'F', mb, "embed", T * h, bytes);
    tp_coll(g, -1, 'F', mb, p->o.sp ? "rs_embed" : "ar_embed",
            p->o.sp ? ET_REDUCE_SCATTER : ET_ALL_REDUCE, T * h * e);
}

static void embed_bwd(gen *g, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, h = p->m.hidden, e = p->e_act;
    if (p->o.sp)
        tp_coll(g, -1, 'B', mb, "ag_embed_bwd", ET_ALL_GATHER, p->Tl * h * e);
    kern(g, -1, 'B', mb, "embed_wgrad", T * h, e * T * h + 2.0 * p->e_g * T * h);
}

static void head_fwd(gen *g, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, Tl = p->Tl, h = p->m.hidden, e = p->e_act, Vl = (double)p->vocab / p->t;
    kern(g, -1, 'F', mb, "final_norm", 5 * Tl * h, 2 * e * Tl * h);
    if (p->o.sp)
        tp_coll(g, -1, 'F', mb, "ag_logits", ET_ALL_GATHER, Tl * h * e);
    gemm(g, -1, 'F', mb, "logits", T, h, Vl);
    kern(g, -1, 'F', mb, "cross_entropy", 5 * T * Vl, T * Vl * (e + 4));
    if (p->t > 1) { /* vocab-parallel cross entropy: max, target logit, sum of exp (fp32) */
        tp_coll(g, -1, 'F', mb, "ar_ce_max", ET_ALL_REDUCE, T * 4);
        tp_coll(g, -1, 'F', mb, "ar_ce_target", ET_ALL_REDUCE, T * 4);
        tp_coll(g, -1, 'F', mb, "ar_ce_sumexp", ET_ALL_REDUCE, T * 4);
        kern(g, -1, 'F', mb, "loss", 4 * T, 4 * 4 * T);
    }
}

static void head_bwd(gen *g, int mb)
{
    const wl_llm_plan *p = g->p;
    double T = p->T, Tl = p->Tl, h = p->m.hidden, e = p->e_act, Vl = (double)p->vocab / p->t;
    kern(g, -1, 'B', mb, "cross_entropy_bwd", 2 * T * Vl, T * Vl * (4 + e));
    gemm(g, -1, 'B', mb, "logits_dgrad", T, Vl, h);
    uint64_t c = 0;
    if (p->t > 1)
        c = coll(g, -1, 'B', mb, p->o.sp ? "rs_logits_bwd" : "ar_logits_bwd",
                 p->o.sp ? ET_REDUCE_SCATTER : ET_ALL_REDUCE, T * h * e, g->pg_tp);
    wgrad(g, -1, 'B', mb, "logits_wgrad", T, h, Vl);
    need(g, c);
    kern(g, -1, 'B', mb, "final_norm_bwd", 8 * Tl * h, 3 * e * Tl * h);
}

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
static int peer(const gen *g, int peer_stage)
{
    if (g->rank < 0)
        return peer_stage;
    const wl_llm_plan *p = g->p;
    return g->rank + (peer_stage - g->stage) * p->t * p->dp;
}


static void recv_from(gen *g, int src_v, int tag, const char *what, int mb)
{
    const wl_llm_plan *p = g->p;
    flush(g);
    snprintf(g->nm, sizeof g->nm, "%c%d.recv_%s", what[0] == 'a' ? 'F' : 'B', mb, what);
    uint64_t r = wl_recv(g->tr, g->nm, peer(g, stage_of(p, src_v)), tag, to_u64(g, p2p_bytes(p)),
                         g->rank < 0 ? g->pg_pp : NULL, &g->last, 1);
    g->cnt.recvs++;
    need(g, r);
    if (p->t > 1 && !p->o.sp) { /* scatter-gather: re-assemble the full tensor */
        snprintf(g->nm, sizeof g->nm, "%c%d.ag_%s", what[0] == 'a' ? 'F' : 'B', mb, what);
        need(g, coll_after(g, g->nm, ET_ALL_GATHER, p2p_bytes(p), g->pg_tp, &r, 1));
    }
}

static void send_to(gen *g, int dst_v, int tag, const char *what, int mb)
{
    const wl_llm_plan *p = g->p;
    flush(g);
    snprintf(g->nm, sizeof g->nm, "%c%d.send_%s", what[0] == 'a' ? 'F' : 'B', mb, what);
    wl_send(g->tr, g->nm, peer(g, stage_of(p, dst_v)), tag, to_u64(g, p2p_bytes(p)),
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
            *dense = head_params(p);
    } else if (u <= nl) {
        *dense = layer_dense(p);
        *expert = layer_expert(p);
    } else if (v == 0) {
        *dense = embed_params(p);
    }
}

/* Emits the gradient-reduction buckets of local chunk c; returns the last
 * collective's id (0 if none). */
static uint64_t grad_buckets(gen *g, int c, int overlap, const char *tagname)
{
    const wl_llm_plan *p = g->p;
    int v = c * p->pp + g->stage;
    int type = p->o.zero == 0 ? ET_ALL_REDUCE : ET_REDUCE_SCATTER;
    int edp = p->moe ? p->dp / p->ep : 1;
    double cap = (double)p->o.bucket_bytes;
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
            lastc = coll_after(g, g->nm, type, acc[k], k ? g->pg_edp : g->pg_dp, &dep, 1);
            acc[k] = 0;
        }
    }
    return lastc;
}

static void op_fwd(gen *g, int c, int mb)
{
    const wl_llm_plan *p = g->p;
    int v = c * p->pp + g->stage;
    g->prev_layer_start = 0;
    if (v > 0)
        recv_from(g, v - 1, p2p_tag(p, 0, v, mb), "act", mb);
    if (v == 0)
        embed_fwd(g, mb);
    for (int i = 0; i < p->chunk_layers[v]; i++)
        layer_fwd(g, p->chunk_first[v] + i, 'F', mb);
    if (v == p->chunks - 1)
        head_fwd(g, mb);
    else
        send_to(g, v + 1, p2p_tag(p, 0, v + 1, mb), "act", mb);
    flush(g);
}

static uint64_t op_bwd(gen *g, int c, int mb)
{
    const wl_llm_plan *p = g->p;
    int v = c * p->pp + g->stage;
    int nl = p->chunk_layers[v];
    uint64_t *ue = &g->layer_end[(size_t)c * (g->max_layers + 2)];
    g->prev_layer_start = 0;
    if (v < p->chunks - 1)
        recv_from(g, v + 1, p2p_tag(p, 1, v, mb), "grad", mb);
    if (v == p->chunks - 1) {
        head_bwd(g, mb);
        flush(g);
        ue[0] = g->last;
    }
    for (int i = nl - 1; i >= 0; i--)
        layer_bwd(g, p->chunk_first[v] + i, mb, i, c);
    for (int i = 0; i < nl; i++)
        ue[1 + (nl - 1 - i)] = g->layer_end_tmp[i];
    if (v == 0) {
        embed_bwd(g, mb);
        flush(g);
        ue[nl + 1] = g->last;
    }
    if (v > 0)
        send_to(g, v - 1, p2p_tag(p, 1, v - 1, mb), "grad", mb);
    flush(g);
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

enum { R_TP, R_DP, R_PP, R_EP, R_EDP, R_EMB, R_N };

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
}

static void set_names(gen *g)
{
    role r[R_N];
    roles(g->p, r);
    char *dst[R_N] = {g->pg_tp, g->pg_dp, g->pg_pp, g->pg_ep, g->pg_edp, g->pg_emb};
    for (int i = 0; i < R_N; i++) {
        if (g->rank < 0) {
            snprintf(dst[i], 24, "%s", r[i].name);
            continue;
        }
        int b = group_base(g->rank, r[i].stride, r[i].size);
        snprintf(dst[i], 24, "%s%d", r[i].name, group_index(b, r[i].stride, r[i].size));
    }
}

static int write_rank(const wl_llm_plan *p, int stage, int rank, const char *path, wl_counts *cnt,
                      uint64_t *nodes, loom_err *err)
{
    gen *g = loom_xcalloc(1, sizeof *g);
    g->p = p;
    g->stage = stage;
    g->rank = rank;
    set_names(g);
    for (int v = 0; v < p->chunks; v++)
        if (p->chunk_layers[v] > g->max_layers)
            g->max_layers = p->chunk_layers[v];
    g->layer_end = loom_xcalloc((size_t)p->V * (g->max_layers + 2), sizeof *g->layer_end);
    g->layer_end_tmp = loom_xcalloc((size_t)g->max_layers, sizeof *g->layer_end_tmp);
    op *ops = loom_xmalloc(2 * (size_t)p->nmb * p->V * sizeof *ops);
    int n = schedule(p, stage, ops);
    int rc = 0;
    g->tr = wl_trace_open(path, err);
    if (g->tr == NULL) {
        rc = err->code ? err->code : LOOM_EIO;
        goto out;
    }
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
    /* data-parallel gradient reduction (ZeRO 0/1 without overlap) */
    if (p->o.zero <= 1 && !p->o.overlap_grad)
        for (int c = p->V - 1; c >= 0; c--) {
            uint64_t id = grad_buckets(g, c, 0, p->o.zero ? "grad_rs" : "grad_ar");
            if (id)
                lastc = id;
        }
    /* tied embeddings: the first and the last stage sum their copies */
    role r[R_N];
    roles(p, r);
    if (r[R_EMB].used && (stage == 0 || stage == p->pp - 1)) {
        snprintf(g->nm, sizeof g->nm, "embed_grad_ar");
        lastc = coll_after(g, g->nm, ET_ALL_REDUCE, (double)p->vocab / p->t * p->m.hidden * p->e_g,
                           g->pg_emb, &g->last, 1);
    }
    /* the optimizer step on what this rank owns */
    double dense = 0, expert = 0;
    for (int c = 0; c < p->V; c++) {
        double dd, ee;
        chunk_params(p, c * p->pp + stage, &dd, &ee);
        dense += dd;
        expert += ee;
    }
    int edp = p->moe ? p->dp / p->ep : 1;
    double own = p->o.zero >= 1 ? dense / p->dp + expert / edp : dense + expert;
    double bpp = p->e_g + 24.0 + (p->e_w < 4 ? p->e_w : 0);
    need(g, lastc);
    kern(g, -1, 'S', 0, "optimizer", 12 * own, bpp * own);
    flush(g);
    if (p->o.zero == 1 || p->o.zero == 2) { /* gather the updated parameters */
        if (p->dp > 1)
            coll_after(g, "S0.param_ag", ET_ALL_GATHER, dense / p->dp * p->e_w, g->pg_dp, &g->last, 1);
        if (p->moe && edp > 1)
            coll_after(g, "S0.param_ag_exp", ET_ALL_GATHER, expert / edp * p->e_w, g->pg_edp,
                       &g->last, 1);
    }
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
    free(g->kw);
    free(g);
    return rc;
}

/* ---- the comm-group and system files -------------------------------------- */


static int write_groups(const wl_llm_plan *p, const char *path, int *any, loom_err *err)
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
        rc = loom_write_text(path, b.p, b.n, err);
    free(b.p);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int write_system(const wl_llm_plan *p, const char *path, const char *groups_path, int any,
                        loom_err *err)
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
    sb_printf(&b, "compute-model: %s%s\n", o->compute_model_trace ? "trace" : "roofline",
              o->compute_model_trace ? "   # durations as generated for this device" : "");
    sb_printf(&b, "compute-dtype: %s\n", comp_dtype_name(o->dtype));
    if (any)
        sb_printf(&b, "comm-group: %s%s\n", base_name(groups_path),
                  o->groups == WL_GROUPS_ROLE ? "   # role-named: {stride, size} rules" : "");
    int rc = loom_write_text(path, b.p, b.n, err);
    free(b.p);
    return rc;
}

/* ---- the whole job -------------------------------------------------------- */

static void print_counts(FILE *f, const wl_counts *c)
{
    int any = 0;
    for (int t = 0; t < ET_COLL_TYPES; t++)
        if (c->colls[t]) {
            fprintf(f, "%s %llu %s (%.4g MiB)", any ? "," : "", (unsigned long long)c->colls[t],
                    et_coll_type_name(t), c->coll_bytes[t] / 1048576.0);
            any = 1;
        }
    if (!any)
        fprintf(f, " no collectives");
    fprintf(f, "; %llu sends (%.4g MiB), %llu recvs\n", (unsigned long long)c->sends,
            c->send_bytes / 1048576.0, (unsigned long long)c->recvs);
}

int wl_llm_write(const wl_llm_plan *p, wl_llm_stats *st, loom_err *err)
{
    wl_llm_stats s = {0, 0, 0, 0};
    if (wl_prepare_prefix(p->out, err) < 0)
        return err->code;
    char path[4200], gpath[4200], spath[4200];
    if (snprintf(gpath, sizeof gpath, "%s.comm.json", p->out) >= (int)sizeof gpath ||
        snprintf(spath, sizeof spath, "%s.system.yaml", p->out) >= (int)sizeof spath)
        return loom_err_set(err, LOOM_EUSAGE, "--out %s: path too long", p->out);
    if (2LL * p->chunks * p->nmb > INT_MAX)
        return loom_err_set(err, LOOM_EUSAGE, "%d virtual stages x %d microbatches: too many for "
                            "32-bit send/receive tags", p->chunks, p->nmb);
    int td = p->t * p->dp;
    wl_counts *per_stage = loom_xcalloc(p->pp, sizeof *per_stage);
    uint64_t *stage_nodes = loom_xcalloc(p->pp, sizeof *stage_nodes);
    int rc = 0;
    if (p->o.groups == WL_GROUPS_ROLE) {
        for (int stg = 0; stg < p->pp && rc == 0; stg++) {
            int first = stg * td;
            wl_rank_path(p->out, first, path, sizeof path);
            rc = write_rank(p, stg, -1, path, &per_stage[stg], &stage_nodes[stg], err);
            if (rc == 0) {
                wl_link_stats ls = {0, 0};
                rc = wl_write_ranks_linked(p->out, first, td, &ls, err);
                s.links += ls.links;
                s.copies += ls.copies;
                s.files_written++;
                s.nodes += stage_nodes[stg];
            }
        }
    } else {
        for (int r = 0; r < p->world && rc == 0; r++) {
            int stg = r / td;
            wl_counts c;
            uint64_t n = 0;
            if (wl_rank_path(p->out, r, path, sizeof path) < 0) {
                rc = loom_err_set(err, LOOM_EUSAGE, "--out %s: path too long", p->out);
                break;
            }
            rc = write_rank(p, stg, r, path, &c, &n, err);
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
        rc = write_groups(p, gpath, &any, err);
    if (rc == 0)
        rc = write_system(p, spath, gpath, any, err);
    if (rc == 0 && !p->o.quiet) {
        const wl_llm_opts *o = &p->o;
        static const char *const rcn[] = {"none", "selective", "full"};
        printf("loom gen llm: %s: h %d, ffn %d, heads %d/%d, %d layers, seq %d, vocab %d (padded "
               "%d)\n", p->m.name, p->m.hidden, p->m.ffn, p->m.heads, p->m.kv_heads, p->m.layers,
               p->m.seq, p->m.vocab, p->vocab);
        if (p->moe)
            printf("  experts %d, top-%d, ep %d\n", p->m.experts, p->m.topk, p->ep);
        char sched[48];
        if (o->sched == WL_SCHED_INTERLEAVED)
            snprintf(sched, sizeof sched, "interleaved, %d chunks per stage", p->V);
        else
            snprintf(sched, sizeof sched, "1f1b");
        printf("  %d ranks = tp %d x pp %d x dp %d%s; %d microbatch%s of %d x %d tokens per "
               "pipeline; %s; recompute %s; zero %d; %s on %s\n",
               p->world, p->t, p->pp, p->dp, o->sp ? " (sequence parallel)" : "", p->nmb,
               p->nmb == 1 ? "" : "es", o->micro_batch, p->m.seq, sched, rcn[o->recompute],
               o->zero, comp_dtype_name(o->dtype), p->device);
        printf("  files: %llu written, %llu hard link%s%s; %llu nodes written; groups %s\n",
               (unsigned long long)s.files_written, (unsigned long long)s.links,
               s.links == 1 ? "" : "s", s.copies ? " (some copied)" : "",
               (unsigned long long)s.nodes,
               o->groups == WL_GROUPS_ROLE ? "by role (one file per stage)" : "explicit (one file per rank)");
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
        printf("  wrote %s.{0..%d}.et%s%s, %s\n", p->out, p->world - 1, any ? ", " : "",
               any ? gpath : "", spath);
    }
    free(per_stage);
    free(stage_nodes);
    if (st)
        *st = s;
    return rc;
}
