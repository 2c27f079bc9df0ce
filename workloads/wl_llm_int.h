/*
 * wl_llm_int.h: what the files of `loom gen llm` share, private to them
 * (the public side is wl_llm.h).  One job per file:
 *
 *   wl_llm_plan.c    presets, the plan and its checks, parameters per rank,
 *                    the pipeline schedule, the memory estimate
 *   wl_llm_layers.c  emission primitives (kernel, GEMM, collective, fused
 *                    span) and the model's pieces: one transformer layer
 *                    forward and backward, the embedding, the output layer
 *   wl_llm.c         pipeline operations (send, receive, gradient buckets),
 *                    one rank's file, the comm-group and system files, the
 *                    whole job
 *
 * Names shared across these files start with llm_; what one file alone
 * uses stays static there.
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
 *
 * Ownership: the plan owns its strings and per-chunk arrays (freed by
 * wl_llm_plan_free); an llm_gen belongs to the one rank file being written
 * (wl_llm.c's write_rank) and borrows the plan.
 */
#ifndef LOOM_WL_LLM_INT_H
#define LOOM_WL_LLM_INT_H

#include <stdint.h>

#include "wl_llm.h"
#include "et_graph.h" /* ET_COLL_TYPES */
#include "wl_emit.h"

/* ---- the plan (wl_llm_plan.c) --------------------------------------------- */

struct wl_llm_plan {
    wl_llm_opts o;       /* options (strings owned below) */
    char *out, *device, *devices_file;
    wl_model m;          /* the shape */
    int t, pp, dp, ep;   /* degrees; dp is the data-parallel group with context
                          * parallelism (dp_data x cp ranks: gradients, ZeRO) */
    int cp, dp_data;     /* context parallel; data-parallel replicas (the batch) */
    int V;               /* model chunks per stage */
    int N;               /* interleaved: microbatches per chunk in a row (pp..nmb) */
    int nmb;             /* microbatches per step per pipeline */
    int world;           /* ranks */
    int chunks;          /* pp * V virtual stages */
    int *chunk_layers;   /* [chunks]: layers of virtual stage v */
    int *chunk_first;    /* [chunks]: its first layer (global index) */
    int vocab;           /* padded vocabulary */
    int moe;             /* experts > 1 */
    int a_loc, kv_loc;   /* query and key/value heads per TP rank */
    double dh;           /* head dimension, h / a */
    double nqkv;         /* Q, K and V columns per TP rank, (a_loc + 2 kv_loc) * dh */
    int e_mm, e_act, e_w, e_g; /* bytes: GEMM operands, activations, weights, grads */
    double T;            /* tokens per microbatch, b * s */
    double Tl;           /* tokens in replicated/elementwise parts: T/t with SP */
    comp_cfg dev;        /* the device at the dtype (roofline with curves) */
    comp_kind cm;        /* the system file's compute model (--compute-model resolved) */
    double capacity;     /* device HBM bytes */
    int e_loc;           /* experts per rank */
};

/* Parameters on one rank (WORKLOADS.md, "Parameters"): of one layer, dense
 * (data-parallel) and expert; of the input embedding; of the output layer
 * (final norm, and the output matrix unless pp = 1 and it is the
 * embedding); and of all of stage `stage`'s model chunks. */
double llm_layer_dense(const wl_llm_plan *p);
double llm_layer_expert(const wl_llm_plan *p);
double llm_embed_params(const wl_llm_plan *p);
double llm_head_params(const wl_llm_plan *p);
void llm_stage_params(const wl_llm_plan *p, int stage, double *dense /* OUT */,
                      double *expert /* OUT */);
/* Stage `stage`'s parameters this rank keeps of a state that ZeRO shards
 * from level `from` on (optimizer 1, gradients 2, weights 3): all of them
 * below it, else the dense ones over dp and the experts' over dp / ep. */
double llm_stage_share(const wl_llm_plan *p, int stage, int from);
/* A norm's parameters: RMSNorm's weight or LayerNorm's weight and bias
 * (the plan has resolved the model's norm, biases and positions). */
static inline double llm_norm_params(const wl_model *m)
{
    return m->norm == WL_NORM_RMS ? m->hidden : 2.0 * m->hidden;
}

/* 1: the linear layers have biases. */
static inline int llm_biases(const wl_model *m)
{
    return m->bias == WL_BIAS_ON;
}

/* Input matrices of the MLP's first layer: 2 for a gated activation. */
static inline int llm_mlp_in(const wl_model *m)
{
    return wl_mlp_kinds[m->mlp].gated ? 2 : 1;
}

/* One step of the pipeline schedule (Megatron-LM's, schedules.py). */
typedef struct llm_op {
    int fwd;   /* 1: forward, 0: backward */
    int mb;    /* microbatch */
    int chunk; /* model chunk on this stage, 0..V-1 */
} llm_op;

/* The ops of stage s in program order into out (room for 2 * nmb * V);
 * returns how many. */
int llm_schedule(const wl_llm_plan *p, int s, llm_op *out /* OUT */);

/* ---- emission state (wl_llm_layers.c writes nodes through it) ------------- */

enum { LLM_MAXNEED = 8 }; /* communication results one kernel may wait for */

/* What one rank file holds, for the summary. */
typedef struct llm_counts {
    uint64_t colls[ET_COLL_TYPES]; /* collectives per type */
    double coll_bytes[ET_COLL_TYPES];
    uint64_t sends, recvs;         /* point to point */
    double send_bytes;
} llm_counts;

/* The writer of one rank file. */
typedef struct llm_gen {
    const wl_llm_plan *p;
    wl_trace *tr;
    int stage;           /* pipeline stage */
    int cpi;             /* index in the cp group (--cp-comm p2p: files differ by it) */
    int emm;             /* the current layer's GEMM operand bytes: e_mm, or e_act in a
                            layer --fp8-bf16-layers keeps in bf16 */
    int rank;            /* global rank; -1 for role-named (shared) files */
    uint64_t last;       /* latest compute node: the stream position */
    uint64_t need[LLM_MAXNEED]; /* results the next compute node waits for */
    int nneed;
    /* a fused span (--granularity layer) */
    int fusing;
    char fname[96];
    double ff, fb, fsec; /* its FLOPs, bytes, seconds */
    uint64_t *kw;        /* its kernels: (FLOPs, bytes) pairs */
    uint32_t nkw;        /* kernels in kw */
    size_t capkw;        /* uint64s allocated in kw */
    loom_kshape *ks;     /* their shapes, nkw of them (the kernel model) */
    size_t capks;        /* allocated in ks */
    uint64_t fdeps[LLM_MAXNEED + 1];
    int nfdeps;
    /* ZeRO-3 prefetch (wl_llm_layers.c zero3_gather): the layer the op runs
     * after the current one (-1: none), and the gathers already written for
     * it, ahead of their layer as FSDP issues them */
    int z3_next;
    int z3_layer;         /* the layer z3_ag gathers (-1: none) */
    char z3_ph;           /* its phase */
    uint64_t z3_ag[2];    /* its dense and expert all-gathers (0: none) */
    /* overlap: per local chunk and layer, the node ending that layer's backward */
    uint64_t *layer_end; /* [V * (max_layers + 2)], in unit order (see units()) */
    uint64_t *layer_end_tmp; /* [max_layers]: per layer of the current backward */
    /* --overlap-param-gather: per local chunk and unit (units() order), the
     * all-gathers of its dense and expert parameters' buckets; NULL if off */
    uint64_t *param_ag[2];
    uint8_t *fwd_seen;   /* [V]: a forward of the chunk was written */
    uint64_t ag_waited[2]; /* the buckets the latest param_wait asked for */
    int max_layers;
    /* communicator names of this rank (or roles) */
    char pg_tp[24], pg_dp[24], pg_ep[24], pg_edp[24], pg_emb[24], pg_pp[24], pg_cp[24];
    char nm[128];
    double overflow;     /* largest value that did not fit */
    llm_counts cnt;      /* what this file holds (summary) */
} llm_gen;

/* v as a trace's uint64; a value that does not fit is remembered in
 * g->overflow (write_rank then refuses the file) and written as 0. */
uint64_t llm_to_u64(llm_gen *g, double v);

/* Closes the fused span being built, if any, as one node. */
void llm_flush(llm_gen *g);

/* The next compute node also waits for node id (0: nothing). */
void llm_need(llm_gen *g, uint64_t id);

/* One compute kernel, after the stream position and what it needs; layer
 * -1 names it without a layer ("F3.embed"), ph is F, B, R (recompute) or
 * S (step).  llm_kern_s states the kernel's shape (s NULL: none, priced by
 * FLOPs and bytes); llm_kern is an elementwise kernel (memory bound),
 * llm_norm a reduction (class norm: a layer or RMS norm, forward or
 * backward, or a bias gradient's sum). */
void llm_kern_s(llm_gen *g, int layer, char ph, int mb, const char *k, double flops, double bytes,
                const loom_kshape *s);
void llm_kern(llm_gen *g, int layer, char ph, int mb, const char *k, double flops, double bytes);
void llm_norm(llm_gen *g, int layer, char ph, int mb, const char *k, double flops, double bytes);

/* A shape from the model's (double) dimensions; one that does not fit in
 * 32 bits leaves the kernel without a shape (class none). */
loom_kshape llm_shape(int cls, double m, double n, double k, double batch, int dtype_bytes);

/* A collective named `name` after deps (closes the fused span first);
 * returns its node id. */
uint64_t llm_coll_after(llm_gen *g, const char *name, int type, double bytes, const char *pg,
                        const uint64_t *deps, int ndeps);

/* ---- the model's pieces (wl_llm_layers.c) --------------------------------- */

/* Layer l (global index) of microbatch mb; ph is 'F' or 'R' (recompute). */
void llm_layer_fwd(llm_gen *g, int l, char ph, int mb);
/* Its backward; lc is the layer's index in its chunk (for layer_end_tmp). */
void llm_layer_bwd(llm_gen *g, int l, int mb, int lc);
void llm_embed_fwd(llm_gen *g, int mb);
void llm_embed_bwd(llm_gen *g, int mb);
void llm_head_fwd(llm_gen *g, int mb); /* final norm, logits, loss */

/* ---- context parallelism (wl_llm_cp.c) ------------------------------------ */

/* The attention core of layer l under --cp > 1 (flash attention), as
 * --cp-comm says: forward (ph F or R) and backward. */
void llm_cp_attn_fwd(llm_gen *g, int l, char ph, int mb);
void llm_cp_attn_bwd(llm_gen *g, int l, int mb);
void llm_head_bwd(llm_gen *g, int mb);

#endif
