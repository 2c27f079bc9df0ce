/*
 * wl_llm.h: `loom gen llm`, a Megatron-LM-style training step as Chakra
 * traces (formulas, layout and naming in docs/WORKLOADS.md).
 *
 * A plan is the validated configuration with everything derived from it
 * (microbatches, layers per virtual stage, bytes per element, parameters
 * per rank).  wl_llm_write() writes one trace per distinct kind of rank,
 * hard-links the others, the comm-group file and PREFIX.system.yaml.
 *
 * Ranks are laid out tensor-parallel fastest, then context-parallel, then
 * data-parallel, then pipeline:  rank = t + tp * (c + cp * (d + dp * p))
 * (Megatron-Core's order); with cp = 1 that is t + tp * (d + dp * p).  Communicators are strided
 * groups of that layout: tp (stride 1, size tp), dp (stride tp, size dp),
 * pp (stride tp*dp, size pp), ep (stride tp, size ep), edp (stride tp*ep,
 * size dp/ep), emb (stride tp*dp*(pp-1), size 2: first and last stage).
 *
 * Ownership: wl_llm_plan_new() returns a plan freed by wl_llm_plan_free().
 */
#ifndef LOOM_WL_LLM_H
#define LOOM_WL_LLM_H

#include <stdint.h>

#include "err.h"
#include "comp_dev.h"

/* Transformer Engine's default userbuffer setting for its "pipeline" and
 * "bulk" overlaps (transformer_engine/pytorch/module/base.py, initialize_ub:
 * num_sm 16 with set_sm_margin), what Megatron-LM's --tp-comm-overlap runs
 * without a --tp-comm-overlap-cfg file. */
#define WL_TP_COMM_SMS 16

/* gen llm's comm-sms (core/base/kshape.h gives the sources). */
#define WL_COMM_SMS LOOM_COMM_SMS

typedef struct wl_model {
    char name[32];  /* preset name or "custom" */
    int hidden;     /* h */
    int ffn;        /* f: MLP inner size (per expert for MoE) */
    int heads;      /* a: query heads */
    int kv_heads;   /* g: key/value heads (g < a: grouped-query attention) */
    int layers;     /* L */
    int seq;        /* s: tokens per sequence */
    int vocab;      /* V before padding */
    int experts;    /* E: 0 or 1 = dense; > 1 = every layer's MLP is a mixture */
    int topk;       /* experts per token */
    int mlp;        /* its activation (wl_mlp): GELU (0: 2 matrices, GPT), SwiGLU
                       (1: gated, 3 matrices, LLaMA), squared ReLU (Nemotron),
                       GeGLU (gated) */
    int tied;       /* input and output embeddings share one matrix */
    int flash;      /* 1: fused attention (no s^2 score tensor in memory) */
    int pos;        /* positions (wl_pos): WL_POS_AUTO (0) follows the MLP: learned
                       with GELU (GPT), else rotary (LLaMA, Nemotron) */
    int norm;       /* wl_norm: WL_NORM_AUTO (0) follows the MLP (wl_mlp_kinds) */
    int bias;       /* wl_bias: WL_BIAS_AUTO (0) follows the MLP: biases with GELU */
    int hdrop;      /* wl_drop: hidden dropout (the bias-dropout-add's), WL_DROP_AUTO
                       (0) follows the MLP: on with GELU, as Megatron-LM's defaults */
    int adrop;      /* wl_drop: attention dropout (the probabilities'), likewise */
} wl_model;

/* How a model encodes positions (docs/WORKLOADS.md): learned absolute
 * embeddings added to the input (GPT-3), rotary embeddings applied to q and
 * k in every layer (LLaMA, Mixtral), or ALiBi's bias on the attention
 * scores (BLOOM: fused into the score GEMM, no kernel of its own). */
typedef enum { WL_POS_AUTO = 0, WL_POS_LEARNED = 1, WL_POS_ROPE = 2, WL_POS_ALIBI = 3 } wl_pos;

/* The MLP's activation (docs/WORKLOADS.md, "MLP, norm and biases"); one
 * row each in wl_mlp_kinds (wl_llm_plan.c): its name, whether it is gated
 * (two input matrices), its kernels and what a model of that family
 * takes by default for its norm, biases and positions. */
typedef enum { WL_MLP_GELU = 0, WL_MLP_SWIGLU = 1, WL_MLP_RELU2 = 2, WL_MLP_GEGLU = 3,
               WL_MLP_N } wl_mlp;
typedef enum { WL_NORM_AUTO = 0, WL_NORM_LAYER = 1, WL_NORM_RMS = 2 } wl_norm;
typedef enum { WL_BIAS_AUTO = 0, WL_BIAS_ON = 1, WL_BIAS_OFF = 2 } wl_bias;
/* Whether a dropout runs (its probability above 0; what it costs does not
 * depend on the probability): ATen's dropout returns its input untouched
 * at p = 0, no kernel and no mask (docs/WORKLOADS.md "Dropout"). */
typedef enum { WL_DROP_AUTO = 0, WL_DROP_ON = 1, WL_DROP_OFF = 2 } wl_drop;
typedef struct wl_mlp_kind {
    const char *name;    /* --mlp */
    int gated;           /* 1: act(x W1) * (x W3), 3 matrices */
    const char *act;     /* the activation kernel, forward */
    const char *act_bwd; /* and backward */
    double flops;        /* per output element, forward and backward */
    wl_norm norm;        /* the family's norm */
    wl_bias bias;        /* and biases */
    wl_pos pos;          /* and positions */
    wl_drop drop;        /* and dropout, hidden and attention */
} wl_mlp_kind;
extern const wl_mlp_kind wl_mlp_kinds[WL_MLP_N];
int wl_mlp_parse(const char *s); /* its wl_mlp, or -1 */

typedef enum { WL_SCHED_1F1B = 0, WL_SCHED_INTERLEAVED = 1 } wl_sched;
typedef enum { WL_RC_NONE = 0, WL_RC_SELECTIVE = 1, WL_RC_FULL = 2 } wl_recompute;
typedef enum { WL_GROUPS_EXPLICIT = 0, WL_GROUPS_ROLE = 1 } wl_groups;
typedef enum { WL_GRAN_KERNEL = 0, WL_GRAN_LAYER = 1 } wl_gran;
/* How context parallelism moves K and V (Transformer Engine's cp_comm_type;
 * docs/WORKLOADS.md "Context parallelism"): p2p, TE's and Megatron-Core's
 * default (a ring of sends, one step a peer's chunk), all-gather (Llama
 * 3's) or a2a (DeepSpeed-Ulysses: heads split by all-to-all). */
typedef enum { WL_CP_P2P = 0, WL_CP_ALLGATHER = 1, WL_CP_A2A = 2 } wl_cp_comm;

typedef struct wl_llm_opts {
    wl_model m;            /* the model shape */
    int tp, pp, dp, ep;    /* parallel degrees (dp = 0: from ranks) */
    int cp;                /* context parallel (0 or 1: none): the sequence split
                              over cp ranks */
    wl_cp_comm cp_comm;    /* how K and V reach the other cp ranks */
    int ranks;             /* 0, or the total that tp*pp*dp must equal */
    int sp;                /* Megatron sequence parallelism (needs tp > 1) */
    int micro_batch;       /* sequences per microbatch */
    int global_batch;      /* sequences per step (0: micro_batch * dp) */
    wl_sched sched;        /* pipeline schedule */
    int vstages;           /* model chunks per stage (interleaved) */
    int split_embed;       /* Megatron-Core's --account-for-embedding-in-pipeline-split:
                              the embedding counts as a layer in the split */
    int split_loss;        /* --account-for-loss-in-pipeline-split: the output layer
                              and loss count as one (wl_llm_plan.c plan_layers) */
    int first_given, first_layers; /* Megatron's --decoder-first-pipeline-num-layers:
                              the first stage's layers (when given) */
    int last_given, last_layers;   /* --decoder-last-pipeline-num-layers: the last's */
    int mb_group;          /* interleaved: microbatches a chunk runs in a row
                              (Megatron-Core's microbatch_group_size_per_vp_stage;
                              0: pp, Megatron's default) */
    wl_recompute recompute;/* activation recomputation */
    int zero;              /* 0..3 */
    uint64_t bucket_bytes; /* gradient bucket size; 0 = one per model chunk */
    int bucket_given;      /* --grad-bucket given; else with overlap_grad
                              Megatron-Core's default (wl_llm.c bucket_cap) */
    int overlap_grad;      /* start bucket reductions during the last backward */
    int overlap_param;     /* ZeRO 1/2: gather the updated parameters at the step's
                              start, bucket by bucket, each before its first use */
    const char *stack;     /* the system file's `stack` (a name, or a file's absolute
                              path: the caller resolves --stack), or NULL */
    double host_launch_us; /* the system file's `host-launch-us` (0: not written) */
    int ce_fusion;         /* --cross-entropy-fusion: Megatron-Core's fused
                              cross entropy (3 forward passes, not 6) */
    int opt_foreach;       /* --optimizer foreach: PyTorch's torch.optim.AdamW and
                              clip_grad_norm_ on their foreach path, gradients set
                              to None (0: Megatron-LM's fused Adam over a zeroed
                              gradient buffer) */
    int tp_overlap;        /* --tp-comm-overlap: TP all-gathers and reduce-scatters
                              pipelined with their GEMMs (needs sp) */
    int fp8_bf16_first;    /* --fp8-bf16-layers S,E: the model's first S and last E */
    int fp8_bf16_last;     /* layers run in bf16 under --dtype fp8 (Megatron's
                              --first-last-layers-bf16); 0, 0: none */
    int fp8_delayed;       /* --fp8-recipe delayed: Transformer Engine's delayed scaling
                              (casts fused with the amax); 0: current scaling */
    int attn_kernel;       /* --attention-kernel: comp_attn + 1, written to the system
                              file; 0: not given (the kernel model's flash2) */
    int tp_comm_sms;       /* --tp-comm-sms: SMs the overlap's reduce-scatter and bulk
                              transfers hold from the GEMMs beside them, 0..255
                              (the command's default: WL_TP_COMM_SMS) */
    int comm_sms;          /* --comm-sms: the system file's comm-sms, 0..255 (the
                              command's default: WL_COMM_SMS) */
    int shared_comm;       /* 1: one communication stream per rank (collectives and
                              sends of every group queue behind each other); 0
                              (default): a stream per communicator, as Megatron-LM
                              runs TP, DP and PP communication */
    comp_dtype dtype;      /* math datatype */
    int grad_bytes;        /* bytes per gradient element; 0 = by dtype */
    const char *device;    /* catalog name */
    const char *devices_file; /* extra catalog, or NULL */
    const char *compute_model; /* --compute-model: "kernel", "roofline" or "trace"
                              (comp_kind_names); NULL: kernel, or roofline on a
                              device without the kernel model's figures */
    wl_gran gran;          /* node per kernel, or per fused span */
    wl_groups groups;      /* communicator naming */
    const char *out;       /* DIR/prefix */
    int quiet;             /* no summary */
} wl_llm_opts;

/* Fills *m with a preset (gpt3-175b, llama3-8b, llama3-70b, llama3-405b,
 * mixtral-8x7b, mt-nlg-530b, nemotron4-340b); -1 if unknown. */
int wl_llm_preset(const char *name, wl_model *m /* OUT */);
const char *wl_llm_preset_names(void); /* "gpt3-175b, llama3-8b, ..." */

typedef struct wl_llm_plan wl_llm_plan;

/* Checks the options (errors name the flag) and derives the plan.  Loads
 * the device catalog for o->device. */
wl_llm_plan *wl_llm_plan_new(const wl_llm_opts *o, loom_err *err);
void wl_llm_plan_free(wl_llm_plan *p);

int wl_llm_world(const wl_llm_plan *p);        /* tp * pp * dp */
int wl_llm_microbatches(const wl_llm_plan *p); /* per step per pipeline */
int wl_llm_vocab_padded(const wl_llm_plan *p); /* vocabulary as simulated */

/* Per-rank memory of pipeline stage `stage` in bytes (docs/WORKLOADS.md). */
typedef struct wl_llm_mem {
    double weights;     /* parameters as stored for compute */
    double grads;       /* gradient buffers */
    double optimizer;   /* fp32 master copy and Adam moments */
    double activations; /* saved for backward, peak over the schedule */
    double total;       /* the sum */
    double capacity;    /* the device's HBM */
    double params;      /* parameters held (before ZeRO sharding) */
    int inflight;       /* microbatches in flight at the peak (layers weighted) */
} wl_llm_mem;
void wl_llm_memory(const wl_llm_plan *p, int stage, wl_llm_mem *out /* OUT */);

/* What the files hold, summed over one rank of each stage. */
typedef struct wl_llm_stats {
    uint64_t files_written; /* distinct trace files */
    uint64_t links;         /* rank files hard-linked */
    uint64_t copies;        /* rank files copied */
    uint64_t nodes;         /* nodes in all distinct files */
} wl_llm_stats;

/* Writes the traces, the comm-group file (PREFIX.comm.json) and
 * PREFIX.system.yaml; prints the summary and memory table unless quiet. */
int wl_llm_write(const wl_llm_plan *p, wl_llm_stats *st /* OUT, may be NULL */, loom_err *err);


#endif
