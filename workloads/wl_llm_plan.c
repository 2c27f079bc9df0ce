/*
 * wl_llm_plan.c: the plan of `loom gen llm`: presets, the checked options
 * and what they imply (degrees, microbatches, layers per virtual stage,
 * bytes per element), parameters per rank, the pipeline schedule and the
 * memory estimate.  Nothing here writes a trace (wl_llm_layers.c and
 * wl_llm.c do); docs/WORKLOADS.md has every formula.
 */
#include "wl_llm_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* ---- presets -------------------------------------------------------------- */

/* Shapes from the models' papers and released configurations (WORKLOADS.md
 * lists the source of each). */
static const wl_model presets[] = {
    /* name, h, f, a, g, L, s, V, E, k, mlp, tied, flash, pos, then norm, bias
     * and the two dropouts (0: the MLP's, wl_mlp_kinds) */
    {"gpt3-175b", 12288, 49152, 96, 96, 96, 2048, 50257, 0, 0, WL_MLP_GELU, 1, 0, WL_POS_LEARNED,
     0, 0, 0, 0},
    {"llama3-8b", 4096, 14336, 32, 8, 32, 8192, 128256, 0, 0, WL_MLP_SWIGLU, 0, 1, WL_POS_ROPE, 0,
     0, 0, 0},
    {"llama3-70b", 8192, 28672, 64, 8, 80, 8192, 128256, 0, 0, WL_MLP_SWIGLU, 0, 1, WL_POS_ROPE, 0,
     0, 0, 0},
    {"llama3-405b", 16384, 53248, 128, 8, 126, 8192, 128256, 0, 0, WL_MLP_SWIGLU, 0, 1, WL_POS_ROPE,
     0, 0, 0, 0},
    {"mixtral-8x7b", 4096, 14336, 32, 8, 32, 4096, 32000, 8, 2, WL_MLP_SWIGLU, 0, 1, WL_POS_ROPE, 0,
     0, 0, 0},
    {"mt-nlg-530b", 20480, 81920, 128, 128, 105, 2048, 50257, 0, 0, WL_MLP_GELU, 1, 0,
     WL_POS_LEARNED, 0, 0, 0, 0},
    {"nemotron4-340b", 18432, 73728, 96, 8, 96, 4096, 256000, 0, 0, WL_MLP_RELU2, 0, 1, WL_POS_ROPE,
     0, 0, 0, 0},
};

/* The MLP activations (WORKLOADS.md, "MLP, norm and biases"): GELU (GPT-2,
 * GPT-3, BLOOM: LayerNorm, biases), SwiGLU (Shazeer 2020; LLaMA: RMSNorm,
 * no biases), squared ReLU (So et al. 2021; Nemotron-4: LayerNorm, no
 * biases, NeMo's NemotronConfig), GeGLU (Shazeer 2020; Gemma: RMSNorm, no
 * biases).  FLOPs per element of the activation's output, forward or
 * backward: 8 for the GELU family and SwiGLU (a transcendental, its
 * product and the gate's), 2 for squared ReLU (a max and a product); the
 * kernels are memory-bound, priced by their bytes. */
const wl_mlp_kind wl_mlp_kinds[WL_MLP_N] = {
    [WL_MLP_GELU] = {"gelu", 0, "gelu", "gelu_bwd", 8, WL_NORM_LAYER, WL_BIAS_ON, WL_POS_LEARNED,
                     WL_DROP_ON},
    [WL_MLP_SWIGLU] = {"swiglu", 1, "swiglu", "swiglu_bwd", 8, WL_NORM_RMS, WL_BIAS_OFF,
                       WL_POS_ROPE, WL_DROP_OFF},
    [WL_MLP_RELU2] = {"relu2", 0, "relu2", "relu2_bwd", 2, WL_NORM_LAYER, WL_BIAS_OFF,
                      WL_POS_ROPE, WL_DROP_OFF},
    [WL_MLP_GEGLU] = {"geglu", 1, "geglu", "geglu_bwd", 8, WL_NORM_RMS, WL_BIAS_OFF, WL_POS_ROPE,
                      WL_DROP_OFF},
};

int wl_mlp_parse(const char *s)
{
    for (int i = 0; i < WL_MLP_N; i++)
        if (strcmp(s, wl_mlp_kinds[i].name) == 0)
            return i;
    return -1;
}

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
    return "gpt3-175b, llama3-8b, llama3-70b, llama3-405b, mixtral-8x7b, mt-nlg-530b, "
           "nemotron4-340b";
}

/* ---- the plan ------------------------------------------------------------- */

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

/* The largest size, count or rank total accepted, 2^24 = 16,777,216: what
 * cmd_gen_llm.c accepts for these flags too. */
enum { BIG = 1 << 24 };

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

/* The plan is built in steps, each checking what it derives; they run in
 * this order so that of several mistakes the same one is reported first. */

/* Every number in range, and the attention heads consistent. */
static int check_shape(const wl_llm_opts *o, loom_err *err)
{
    const wl_model *m = &o->m;
    if (positive(err, "--hidden", m->hidden, BIG) < 0 || positive(err, "--ffn", m->ffn, BIG) < 0 ||
        positive(err, "--heads", m->heads, 65536) < 0 ||
        positive(err, "--kv-heads", m->kv_heads, 65536) < 0 ||
        positive(err, "--layers", m->layers, 65536) < 0 || positive(err, "--seq", m->seq, BIG) < 0 ||
        positive(err, "--vocab", m->vocab, BIG) < 0 || positive(err, "--tp", o->tp, 65536) < 0 ||
        positive(err, "--pp", o->pp, 65536) < 0 || positive(err, "--ep", o->ep, 65536) < 0 ||
        positive(err, "--micro-batch", o->micro_batch, BIG) < 0 ||
        positive(err, "--virtual-stages", o->vstages, 1024) < 0)
        return LOOM_EUSAGE;
    if (m->experts < 0 || m->experts > 65536 || m->topk < 0)
        return loom_err_set(err, LOOM_EUSAGE, "--experts %d / --topk %d: allowed experts 0 .. "
                            "65536, topk >= 0", m->experts, m->topk);
    if (m->hidden % m->heads)
        return loom_err_set(err, LOOM_EUSAGE, "--hidden %d is not a multiple of --heads %d",
                            m->hidden, m->heads);
    if (m->kv_heads > m->heads || m->heads % m->kv_heads)
        return loom_err_set(err, LOOM_EUSAGE, "--kv-heads %d must divide --heads %d", m->kv_heads,
                            m->heads);
    if ((unsigned)m->mlp >= WL_MLP_N || (unsigned)m->norm > WL_NORM_RMS ||
        (unsigned)m->bias > WL_BIAS_OFF || (unsigned)m->hdrop > WL_DROP_OFF ||
        (unsigned)m->adrop > WL_DROP_OFF)
        return loom_err_set(err, LOOM_EUSAGE, "model: --mlp %d / --norm %d / --bias %d / "
                            "dropout %d, %d out of range", m->mlp, m->norm, m->bias, m->hdrop,
                            m->adrop);
    return 0;
}

/* Tensor parallelism splits heads, the MLP and (with SP) the sequence. */
static int plan_tensor(wl_llm_plan *p, loom_err *err)
{
    const wl_model *m = &p->m;
    const wl_llm_opts *o = &p->o;
    p->t = o->tp;
    p->pp = o->pp;
    p->ep = o->ep;
    if (m->heads % p->t)
        return loom_err_set(err, LOOM_EUSAGE, "--tp %d does not divide --heads %d", p->t, m->heads);
    if (m->kv_heads % p->t && p->t % m->kv_heads)
        return loom_err_set(err, LOOM_EUSAGE, "--tp %d and --kv-heads %d: one must divide the "
                            "other (key/value heads are split, or replicated, across "
                            "tensor-parallel ranks)", p->t, m->kv_heads);
    if (m->ffn % p->t)
        return loom_err_set(err, LOOM_EUSAGE, "--tp %d does not divide --ffn %d", p->t, m->ffn);
    if (m->hidden % p->t)
        return loom_err_set(err, LOOM_EUSAGE, "--tp %d does not divide --hidden %d", p->t,
                            m->hidden);
    if (o->sp && p->t < 2)
        return loom_err_set(err, LOOM_EUSAGE, "--sequence-parallel needs --tp > 1");
    p->a_loc = m->heads / p->t; /* heads a TP rank holds; key/value heads replicated */
    p->kv_loc = m->kv_heads >= p->t ? m->kv_heads / p->t : 1; /* when fewer than tp */
    p->cp = o->cp > 1 ? o->cp : 1;
    if (m->seq % p->cp)
        return loom_err_set(err, LOOM_EUSAGE, "--cp %d does not divide --seq %d", p->cp, m->seq);
    if (o->sp && (m->seq / p->cp) % p->t)
        return loom_err_set(err, LOOM_EUSAGE, "--sequence-parallel: --tp %d does not divide "
                            "the %d tokens per rank (--seq %d / --cp %d)", p->t, m->seq / p->cp,
                            m->seq, p->cp);
    if (p->cp > 1 && !m->flash)
        return loom_err_set(err, LOOM_EUSAGE, "--cp %d needs --attention flash (context "
                            "parallelism runs in Transformer Engine's fused attention)", p->cp);
    if (p->cp > 1 && m->experts > 1)
        return loom_err_set(err, LOOM_EUSAGE, "--cp with --experts is not generated yet");
    if (p->cp > 1 && o->cp_comm == WL_CP_A2A && (p->a_loc % p->cp || p->kv_loc % p->cp))
        return loom_err_set(err, LOOM_EUSAGE, "--cp %d with --cp-comm a2a: the %d query and %d "
                            "key/value heads a tensor-parallel rank holds must split over the cp "
                            "group", p->cp, p->a_loc, p->kv_loc);
    if (p->cp > 1 && o->cp_comm == WL_CP_P2P && (m->seq / p->cp) % 2)
        return loom_err_set(err, LOOM_EUSAGE, "--cp %d with --cp-comm p2p: the %d tokens per rank "
                            "(--seq %d / --cp %d) must split in two load-balanced chunks",
                            p->cp, m->seq / p->cp, m->seq, p->cp);
    return 0;
}

/* "--tp T x --pp P", with " x --cp C" between them when cp > 1 */
static const char *degrees(const wl_llm_plan *p, char *buf, size_t n)
{
    if (p->cp > 1)
        snprintf(buf, n, "--tp %d x --cp %d x --pp %d", p->t, p->cp, p->pp);
    else
        snprintf(buf, n, "--tp %d x --pp %d", p->t, p->pp);
    return buf;
}

/* ranks: tp * cp * pp * dp, dp given or from --ranks; then dp becomes the
 * data-parallel group with context parallelism, dp x cp */
static int plan_ranks(wl_llm_plan *p, loom_err *err)
{
    const wl_llm_opts *o = &p->o;
    long long tpp = (long long)p->t * p->pp * p->cp;
    char dg[96];
    if (o->dp > 0) {
        p->dp = o->dp;
        if (o->ranks > 0 && (long long)o->ranks != tpp * o->dp)
            return loom_err_set(err, LOOM_EUSAGE, "--ranks %d is not %s x --dp %d = %lld",
                                o->ranks, degrees(p, dg, sizeof dg), o->dp, tpp * o->dp);
    } else if (o->ranks > 0) {
        if (o->ranks % tpp)
            return loom_err_set(err, LOOM_EUSAGE, "--ranks %d is not a multiple of %s = %lld",
                                o->ranks, degrees(p, dg, sizeof dg), tpp);
        p->dp = (int)(o->ranks / tpp);
    } else {
        p->dp = 1;
    }
    if (tpp * p->dp > BIG)
        return loom_err_set(err, LOOM_EUSAGE, "--tp x --cp x --pp x --dp = %lld ranks: at most %d",
                            tpp * p->dp, BIG);
    p->world = (int)(tpp * p->dp);
    p->dp_data = p->dp;
    p->dp *= p->cp; /* the gradient and ZeRO group: contiguous in the layout */
    return 0;
}

/* experts: top-k routing, expert parallelism carved out of dp */
static int plan_experts(wl_llm_plan *p, loom_err *err)
{
    const wl_model *m = &p->m;
    p->moe = m->experts > 1;
    if (!p->moe && p->ep > 1)
        return loom_err_set(err, LOOM_EUSAGE, "--ep %d needs --experts > 1", p->ep);
    if (!p->moe)
        return 0;
    if (m->topk < 1 || m->topk > m->experts)
        return loom_err_set(err, LOOM_EUSAGE, "--topk %d: allowed 1 .. --experts %d", m->topk,
                            m->experts);
    if (m->experts % p->ep)
        return loom_err_set(err, LOOM_EUSAGE, "--ep %d does not divide --experts %d", p->ep,
                            m->experts);
    if (p->dp % p->ep)
        return loom_err_set(err, LOOM_EUSAGE, "--ep %d does not divide the data-parallel size %d "
                            "(expert parallelism is carved out of data parallelism)", p->ep, p->dp);
    if (p->t > 1 && !p->o.sp)
        return loom_err_set(err, LOOM_EUSAGE, "--experts with --tp %d needs --sequence-parallel "
                            "(as Megatron-Core requires)", p->t);
    p->e_loc = m->experts / p->ep;
    return 0;
}

/* microbatches per pipeline (at most 2^20: the schedule holds 2 * nmb * V
 * ops in memory), and the schedule that runs them */
static int plan_batch(wl_llm_plan *p, loom_err *err)
{
    const wl_llm_opts *o = &p->o;
    long long per = (long long)o->micro_batch * p->dp_data;
    long long gb = o->global_batch > 0 ? o->global_batch : per;
    if (gb % per)
        return loom_err_set(err, LOOM_EUSAGE, "--global-batch %lld is not a multiple of "
                            "--micro-batch %d x data-parallel size %d = %lld", gb, o->micro_batch,
                            p->dp_data, per);
    if (gb / per > (1 << 20))
        return loom_err_set(err, LOOM_EUSAGE, "--global-batch %lld: %lld microbatches per "
                            "pipeline, at most %d", gb, gb / per, 1 << 20);
    p->nmb = (int)(gb / per);
    p->V = o->sched == WL_SCHED_INTERLEAVED ? o->vstages : 1;
    if (o->sched == WL_SCHED_1F1B && o->vstages != 1)
        return loom_err_set(err, LOOM_EUSAGE, "--virtual-stages %d needs --schedule interleaved",
                            o->vstages);
    if (o->sched != WL_SCHED_INTERLEAVED) {
        if (o->mb_group)
            return loom_err_set(err, LOOM_EUSAGE, "--microbatch-group %d needs --schedule "
                                "interleaved", o->mb_group);
        return 0;
    }
    if (p->pp < 2 || p->V < 2)
        return loom_err_set(err, LOOM_EUSAGE, "--schedule interleaved needs --pp >= 2 and "
                            "--virtual-stages >= 2 (got %d, %d)", p->pp, p->V);
    /* Megatron-Core's checks (schedules.py,
     * forward_backward_pipelining_with_interleaving): pp <= N <= M, and a
     * last, shorter group of at least pp microbatches */
    p->N = o->mb_group ? o->mb_group : p->pp;
    int r = p->nmb % p->N;
    if (!o->mb_group && (p->nmb < p->pp || r))
        return loom_err_set(err, LOOM_EUSAGE, "--schedule interleaved: the %d microbatches per "
                            "pipeline are not a multiple of --pp %d (Megatron-Core requires it "
                            "unless --microbatch-group N leaves a last group of at least pp)",
                            p->nmb, p->pp);
    if (p->N < p->pp || p->N > p->nmb)
        return loom_err_set(err, LOOM_EUSAGE, "--microbatch-group %d must be in [--pp %d, the %d "
                            "microbatches per pipeline] (Megatron-Core requires it)", p->N, p->pp,
                            p->nmb);
    if (r > 0 && r < p->pp)
        return loom_err_set(err, LOOM_EUSAGE, "--microbatch-group %d leaves a last group of %d of "
                            "the %d microbatches per pipeline, fewer than --pp %d (Megatron-Core "
                            "requires 0 or at least pp)", p->N, r, p->nmb, p->pp);
    return 0;
}

/* Megatron-Core's --account-for-embedding-in-pipeline-split and
 * --account-for-loss-in-pipeline-split (transformer_block.py
 * get_num_layers_to_build): the embedding, the output layer with its loss,
 * or both count as one layer each, the L + e + l split evenly over the pp x
 * V virtual stages (Megatron-Core's check: it must divide), and the first
 * virtual stage builds e fewer transformer layers, the last l fewer.  Llama
 * 3 405B's layout (Dubey et al. 2024, sec. 3.3.2: 126 layers, the first
 * model chunk holding only the embedding, the last only the output and the
 * loss) is both at 8 chunks of one layer a stage. */
static int split_counted(const wl_llm_opts *o, wl_llm_plan *p, loom_err *err)
{
    int e = o->split_embed != 0, l = o->split_loss != 0, n = p->m.layers + e + l;
    if (n % p->chunks)
        return loom_err_set(err, LOOM_EUSAGE, "--layers %d%s%s does not divide over --pp x "
                            "--virtual-stages = %d (Megatron-Core requires it with "
                            "--account-for-*-in-pipeline-split)", p->m.layers,
                            e ? " + the embedding" : "", l ? " + the loss" : "", p->chunks);
    /* n / chunks >= 1, so neither end goes below 0 layers (one chunk: L) */
    for (int v = 0; v < p->chunks; v++)
        p->chunk_layers[v] = n / p->chunks;
    p->chunk_layers[0] -= e;
    p->chunk_layers[p->chunks - 1] -= l;
    return 0;
}

/* Megatron's --decoder-first-pipeline-num-layers and
 * --decoder-last-pipeline-num-layers (Megatron-Core's
 * num_layers_in_first/last_pipeline_stage): the first (last) stage holds
 * the layers given, the stages in between split the rest evenly, and each
 * stage's layers split evenly over its V chunks; every split must be exact
 * (Megatron's checks), and neither goes with the account-for flags. */
static int split_ends(const wl_llm_opts *o, wl_llm_plan *p, loom_err *err)
{
    int F = o->first_given ? o->first_layers : 0, E = o->last_given ? o->last_layers : 0;
    int mids = p->pp - (o->first_given != 0) - (o->last_given != 0), V = p->V;
    int mid = p->m.layers - F - E;
    if (o->split_embed || o->split_loss)
        return loom_err_set(err, LOOM_EUSAGE, "--decoder-first/last-pipeline-num-layers and "
                            "--account-for-*-in-pipeline-split: one or the other (Megatron-Core "
                            "refuses both)");
    if (p->pp < 2)
        return loom_err_set(err, LOOM_EUSAGE, "--decoder-first/last-pipeline-num-layers need "
                            "--pp >= 2");
    if (F < 0 || E < 0) /* the command's range; other callers' too */
        return loom_err_set(err, LOOM_EUSAGE, "--decoder-first/last-pipeline-num-layers %d, %d: "
                            "a count of layers is >= 0", F, E);
    if (mid < 0 || (mids == 0 && mid != 0) || (mids > 0 && mid % (mids * V)) || F % V || E % V)
        return loom_err_set(err, LOOM_EUSAGE, "--layers %d with %d on the first stage and %d on "
                            "the last: the %d left do not split evenly over the %d stage%s "
                            "between, or an end does not over --virtual-stages %d (Megatron "
                            "requires even splits)", p->m.layers, F, E, mid < 0 ? 0 : mid, mids,
                            mids == 1 ? "" : "s", V);
    for (int v = 0; v < p->chunks; v++) {
        int s = v % p->pp;
        p->chunk_layers[v] = s == 0 && o->first_given          ? F / V
                             : s == p->pp - 1 && o->last_given ? E / V
                                                               : mid / (mids * V);
    }
    return 0;
}

/* layers per virtual stage (split_layers, split_counted or split_ends) and
 * each one's first layer */
static int plan_layers(const wl_llm_opts *o, wl_llm_plan *p, loom_err *err)
{
    p->chunks = p->pp * p->V;
    p->chunk_layers = loom_xcalloc(p->chunks, sizeof *p->chunk_layers);
    p->chunk_first = loom_xcalloc(p->chunks, sizeof *p->chunk_first);
    if (o->first_given || o->last_given) {
        if (split_ends(o, p, err) < 0)
            return -1;
    } else if (o->split_embed || o->split_loss) {
        if (split_counted(o, p, err) < 0)
            return -1;
    } else if (p->m.layers < p->chunks) {
        return loom_err_set(err, LOOM_EUSAGE, "--layers %d: fewer than --pp x --virtual-stages "
                            "= %d", p->m.layers, p->chunks);
    } else {
        split_layers(p->m.layers, p->chunks, p->chunk_layers);
    }
    for (int v = 1; v < p->chunks; v++) {
        p->chunk_first[v] = p->chunk_first[v - 1] + p->chunk_layers[v - 1];
        if (v < p->chunks - 1 && p->chunk_layers[v] == 0) /* only the ends have other work */
            return loom_err_set(err, LOOM_EUSAGE, "--layers %d: virtual stage %d (stage %d, "
                                "chunk %d) would hold no layer, and only the first and last hold "
                                "anything else", p->m.layers, v, v % p->pp, v / p->pp);
    }
    return 0;
}

/* the options no step above reads */
static int check_rest(const wl_llm_opts *o, loom_err *err)
{
    if (o->zero < 0 || o->zero > 3)
        return loom_err_set(err, LOOM_EUSAGE, "--zero %d: allowed 0, 1, 2, 3", o->zero);
    if (o->out == NULL || *o->out == '\0')
        return loom_err_set(err, LOOM_EUSAGE, "needs --out DIR/prefix");
    if (o->bucket_bytes > (uint64_t)INT64_MAX)
        return loom_err_set(err, LOOM_EUSAGE, "--grad-bucket overflows");
    if (o->fp8_delayed && o->dtype != COMP_FP8)
        return loom_err_set(err, LOOM_EUSAGE, "--fp8-recipe needs --dtype fp8");
    if ((o->fp8_bf16_first || o->fp8_bf16_last) && o->dtype != COMP_FP8)
        return loom_err_set(err, LOOM_EUSAGE, "--fp8-bf16-layers needs --dtype fp8");
    if (o->fp8_bf16_first < 0 || o->fp8_bf16_last < 0 ||
        (long)o->fp8_bf16_first + o->fp8_bf16_last > o->m.layers)
        return loom_err_set(err, LOOM_EUSAGE, "--fp8-bf16-layers %d,%d: more layers than the "
                            "model's %d", o->fp8_bf16_first, o->fp8_bf16_last, o->m.layers);
    if (o->tp_overlap && !o->sp)
        return loom_err_set(err, LOOM_EUSAGE, "--tp-comm-overlap needs --sequence-parallel "
                            "(Transformer Engine overlaps the all-gathers and reduce-scatters "
                            "of sequence parallelism with their GEMMs)");
    if (o->overlap_param && o->zero != 1 && o->zero != 2)
        return loom_err_set(err, LOOM_EUSAGE, "--overlap-param-gather needs --zero 1 or 2 "
                            "(ZeRO 0 keeps whole parameters; ZeRO 3 gathers every layer "
                            "anyway); this run has --zero %d", o->zero);
    return 0;
}

/* bytes per element, padded vocabulary, heads and tokens per rank */
static void plan_sizes(wl_llm_plan *p)
{
    const wl_llm_opts *o = &p->o;
    const wl_model *m = &p->m;
    /* bytes per element (WORKLOADS.md, "Datatypes") */
    p->e_act = o->dtype == COMP_FP32 || o->dtype == COMP_TF32 ? 4 : 2;
    p->e_mm = o->dtype == COMP_FP8 ? 1 : p->e_act;
    p->e_w = p->e_act;
    p->e_g = o->grad_bytes ? o->grad_bytes : (o->dtype == COMP_FP16 ? 2 : 4);
    /* Megatron pads the vocabulary to a multiple of 128 * tp */
    long long q = 128LL * p->t;
    p->vocab = (int)(((long long)m->vocab + q - 1) / q * q);
    p->dh = (double)m->hidden / m->heads;
    p->nqkv = (p->a_loc + 2.0 * p->kv_loc) * p->dh;
    p->T = (double)o->micro_batch * m->seq / p->cp; /* this rank's share of the sequence */
    p->Tl = o->sp ? p->T / p->t : p->T;
}

/* the device from the catalog, as a roofline at the math dtype */
static int plan_device(wl_llm_plan *p, loom_err *err)
{
    const wl_llm_opts *o = &p->o;
    comp_catalog *cat = comp_catalog_load(o->devices_file, err);
    if (cat == NULL)
        return err->code ? err->code : LOOM_EUSAGE;
    int rc = 0;
    p->cm = COMP_KERNEL;
    if (o->compute_model && (comp_kind_parse(o->compute_model, &p->cm) < 0 || p->cm == COMP_TABLE)) {
        comp_catalog_free(cat);
        return loom_err_set(err, LOOM_EUSAGE, "--compute-model '%s': expected kernel, roofline or "
                            "trace", o->compute_model);
    }
    const comp_device *d = comp_catalog_find(cat, o->device);
    if (d == NULL) {
        char names[512];
        rc = loom_err_set(err, LOOM_EUSAGE, "--device '%s' is not in the catalog (%s)", o->device,
                          comp_catalog_names(cat, names, sizeof names));
    } else {
        /* durations written for readers that only know them: priced by the
         * model the system file selects (trace keeps the kernel model's) */
        p->dev.kind = p->cm == COMP_ROOFLINE ? COMP_ROOFLINE : COMP_KERNEL;
        rc = comp_device_cfg(d, o->dtype, &p->dev, err);
        if (o->attn_kernel > 0) /* as the system file will say */
            comp_kparams_attention(&p->dev.kp, (comp_attn)(o->attn_kernel - 1));
        if (rc >= 0 && p->dev.kind == COMP_KERNEL && p->dev.kp.sms == 0) {
            /* a user's device without the kernel model's figures: by
             * default the system file selects roofline, which it can
             * price; asked for by name, kernel is refused, as loom run
             * would refuse it */
            if (o->compute_model && p->cm == COMP_KERNEL)
                rc = loom_err_set(err, LOOM_EUSAGE, "--compute-model kernel: device '%s' (%s) has "
                                  "no sms/gemm-tiles for the kernel model", d->name, d->file);
            p->dev.kind = COMP_ROOFLINE;
            if (!o->compute_model)
                p->cm = COMP_ROOFLINE;
        }
        if (rc >= 0)
            p->capacity = d->mem_bytes;
    }
    comp_catalog_free(cat);
    return rc < 0 ? rc : 0;
}

wl_llm_plan *wl_llm_plan_new(const wl_llm_opts *o, loom_err *err)
{
    wl_llm_plan *p = loom_xcalloc(1, sizeof *p);
    p->o = *o;
    p->m = o->m;
    if ((unsigned)p->m.mlp < WL_MLP_N) { /* the family's norm, biases, positions */
        const wl_mlp_kind *k = &wl_mlp_kinds[p->m.mlp];
        if (p->m.pos == WL_POS_AUTO)
            p->m.pos = k->pos;
        if (p->m.norm == WL_NORM_AUTO)
            p->m.norm = k->norm;
        if (p->m.bias == WL_BIAS_AUTO)
            p->m.bias = k->bias;
        if (p->m.hdrop == WL_DROP_AUTO)
            p->m.hdrop = k->drop;
        if (p->m.adrop == WL_DROP_AUTO)
            p->m.adrop = k->drop;
    }
    if (check_shape(o, err) < 0 || plan_tensor(p, err) < 0 || plan_ranks(p, err) < 0 ||
        plan_experts(p, err) < 0 || plan_batch(p, err) < 0 || plan_layers(o, p, err) < 0 ||
        check_rest(o, err) < 0)
        goto err;
    plan_sizes(p);
    if (plan_device(p, err) < 0)
        goto err;
    /* the plan keeps its own copies of the strings */
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
    double h = m->hidden, d = p->dh;
    double nq = (double)p->a_loc * d, nkv = (double)p->kv_loc * d;
    double w = h * (nq + 2 * nkv) + nq * h;           /* QKV and output projection */
    double b = llm_biases(m) ? (nq + 2 * nkv) + h : 0; /* their biases */
    return w + b + llm_norm_params(m);
}

static double mlp_dense_params(const wl_llm_plan *p)
{
    const wl_model *m = &p->m;
    double h = m->hidden, f = (double)m->ffn / p->t;
    double w = h * f * (llm_mlp_in(m) + 1);
    double b = llm_biases(m) ? f * llm_mlp_in(m) + h : 0;
    return w + b + llm_norm_params(m);
}

/* expert weights on this rank, and the replicated router and norm */
static double mlp_expert_params(const wl_llm_plan *p)
{
    const wl_model *m = &p->m;
    return (double)p->e_loc * m->hidden * m->ffn * (llm_mlp_in(m) + 1);
}

static double mlp_router_params(const wl_llm_plan *p)
{
    const wl_model *m = &p->m;
    return (double)m->hidden * m->experts + llm_norm_params(m);
}

/* dense (data-parallel) parameters of one layer on one rank */
double llm_layer_dense(const wl_llm_plan *p)
{
    return attn_params(p) + (p->moe ? mlp_router_params(p) : mlp_dense_params(p));
}

double llm_layer_expert(const wl_llm_plan *p) { return p->moe ? mlp_expert_params(p) : 0; }

double llm_embed_params(const wl_llm_plan *p)
{
    double w = (double)p->vocab / p->t * p->m.hidden;
    if (p->m.pos == WL_POS_LEARNED) /* GPT: learned position embeddings, replicated */
        w += (double)p->m.seq * p->m.hidden;
    return w;
}

/* final norm, and the output matrix unless pp = 1 and it is the embedding */
double llm_head_params(const wl_llm_plan *p)
{
    int shared = p->m.tied && p->chunks == 1;
    return llm_norm_params(&p->m) + (shared ? 0 : (double)p->vocab / p->t * p->m.hidden);
}

/* dense and expert parameters of virtual stage v on one rank */
static void chunk_params(const wl_llm_plan *p, int v, double *dense, double *expert)
{
    *dense = p->chunk_layers[v] * llm_layer_dense(p);
    *expert = p->chunk_layers[v] * llm_layer_expert(p);
    if (v == 0)
        *dense += llm_embed_params(p);
    if (v == p->chunks - 1)
        *dense += llm_head_params(p);
}

/* stage s holds virtual stages s, s + pp, ... (one per local chunk) */
void llm_stage_params(const wl_llm_plan *p, int stage, double *dense, double *expert)
{
    *dense = *expert = 0;
    for (int c = 0; c < p->V; c++) {
        double dd, ee;
        chunk_params(p, c * p->pp + stage, &dd, &ee);
        *dense += dd;
        *expert += ee;
    }
}

double llm_stage_share(const wl_llm_plan *p, int stage, int from)
{
    double dense, expert;
    llm_stage_params(p, stage, &dense, &expert);
    if (p->o.zero < from)
        return dense + expert;
    return dense / p->dp + (expert > 0 ? expert / (p->dp / p->ep) : 0);
}

/* ---- the pipeline schedule (Megatron-LM's, schedules.py) ----------------- */

/* Virtual microbatch k of an interleaved schedule: Megatron-Core's
 * get_schedule_table.  Microbatches run in groups of N, each group through
 * every chunk in turn (chunk 0 for the group's N, then chunk 1, ...); the
 * last group takes the remaining M mod N when that is not 0.  The backward
 * walks the same table with the chunks reversed. */
static llm_op vop(const wl_llm_plan *p, int fwd, int k)
{
    int N = p->N, V = p->V, full = p->nmb / N, mb, chunk;
    if (k < full * N * V) {
        int w = k % (N * V);
        chunk = w / N;
        mb = (k / (N * V)) * N + w % N;
    } else { /* the last, shorter group */
        int r = p->nmb - full * N, w = k - full * N * V;
        chunk = w / r;
        mb = full * N + w % r;
    }
    return (llm_op){fwd, mb, fwd ? chunk : V - 1 - chunk};
}

/* 1F1B: warm-up forwards, then one forward and one backward each, then
 * the remaining backwards.  Interleaved: the same over V chunks, the
 * warm-up (pp - s - 1) * 2 + (V - 1) * N virtual microbatches
 * (get_pp_rank_microbatches), each op mapped by vop. */
int llm_schedule(const wl_llm_plan *p, int s, llm_op *out)
{
    int n = 0, pp = p->pp, V = p->V, M = p->nmb;
    if (V == 1) {
        int warm = pp - s - 1 < M ? pp - s - 1 : M;
        int f = 0, b = 0;
        for (int i = 0; i < warm; i++)
            out[n++] = (llm_op){1, f++, 0};
        for (int i = 0; i < M - warm; i++) {
            out[n++] = (llm_op){1, f++, 0};
            out[n++] = (llm_op){0, b++, 0};
        }
        while (b < M)
            out[n++] = (llm_op){0, b++, 0};
        return n;
    }
    int total = M * V;
    long long w = (long long)(pp - s - 1) * 2 + (long long)(V - 1) * p->N;
    int warm = w > total ? total : (int)w;
    for (int k = 0; k < warm; k++)
        out[n++] = vop(p, 1, k);
    for (int i = 0; i < total - warm; i++) {
        out[n++] = vop(p, 1, warm + i);
        out[n++] = vop(p, 0, i);
    }
    for (int i = total - warm; i < total; i++)
        out[n++] = vop(p, 0, i);
    return n;
}

/* ---- memory (WORKLOADS.md, "Memory") -------------------------------------- */

/* bytes one layer keeps for its backward, one microbatch, one rank */
static double layer_activations(const wl_llm_plan *p, wl_recompute rc)
{
    const wl_model *m = &p->m;
    double e = p->e_act, T = p->T, t = p->t, h = m->hidden, f = m->ffn;
    double d = p->dh;
    double b = p->o.micro_batch, s = m->seq;
    if (rc == WL_RC_FULL) /* only the layer input */
        return e * T * h / (p->o.sp ? t : 1);
    /* the GEMMs' inputs are kept at their operand width em: under the FP8
     * recipe Transformer Engine saves the FP8 copy it cast for the GEMM
     * (1 byte), not the bf16 tensor; the rest at e */
    double em = p->e_mm, nin = llm_mlp_in(m);
    /* replicated across TP unless SP: 2 norm inputs, QKV and fc1 inputs,
     * and with hidden dropout the bias-dropout-adds' 2 masks (1 byte; at p
     * = 0 ATen's dropout keeps none) */
    double hmask = m->hdrop == WL_DROP_ON ? 2 : 0, amask = m->adrop == WL_DROP_ON;
    double R = (2 * e + 2 * em + hmask) * T * h;
    /* split across TP: Q, K, V, projection input, MLP intermediates (fc1's
     * output for the activation's backward, the activation's output, fc2's
     * input) */
    double S = e * T * (p->a_loc + 2 * p->kv_loc) * d + em * T * p->a_loc * d;
    if (p->moe) {
        double Tx = p->Tl * m->topk; /* tokens this rank's experts see */
        S += e * Tx * f * nin + em * Tx * f + em * Tx * h;
        R -= em * T * h; /* the fc1 input is the experts' input, counted above */
    } else {
        S += e * T * f / t * nin + em * T * f / t;
    }
    /* the attention core: softmax output, and with attention dropout its
     * mask and output */
    if (!m->flash && rc != WL_RC_SELECTIVE)
        S += (e + amask * (e + 1)) * b * p->a_loc * s * s;
    if (m->flash)
        S += 4.0 * b * p->a_loc * s / p->cp; /* the softmax statistics (fp32) of its queries */
    return p->o.sp ? (R / t + S) : (R + S);
}

void wl_llm_memory(const wl_llm_plan *p, int stage, wl_llm_mem *out)
{
    memset(out, 0, sizeof *out);
    double dense, expert;
    llm_stage_params(p, stage, &dense, &expert);
    out->params = dense + expert;
    int mixed = p->e_w < 4; /* a separate fp32 master copy */
    double opt_per = mixed ? 12 : 8;
    out->weights = llm_stage_share(p, stage, 3) * p->e_w;
    out->grads = llm_stage_share(p, stage, 2) * p->e_g;
    out->optimizer = llm_stage_share(p, stage, 1) * opt_per;
    /* activations: walk the schedule, count layers of microbatches whose
     * forward ran and backward did not */
    llm_op *ops = loom_xmalloc(2 * (size_t)p->nmb * p->V * sizeof *ops);
    int n = llm_schedule(p, stage, ops);
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
