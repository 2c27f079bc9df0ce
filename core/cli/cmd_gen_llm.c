/*
 * cmd_gen_llm.c: the command line of `loom gen llm` (getopt_long), turned
 * into wl_llm_opts (workloads/wl_llm.h); every flag is checked with a
 * message naming it.  Two passes: the first finds --help, --preset and
 * malformed lines; the second applies each flag over the preset's shape
 * (apply_opt), then finish() fills what follows from the whole line.
 */
#include "cmds.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "config.h" /* loom_stack_check */
#include "wl.h"
#include "wl_llm.h"
#include "wl_emit.h"

/* The preset names, wrapped under the help's second column (27) at 80. */
static const char *presets_wrapped(char *buf, size_t n)
{
    const char *s = wl_llm_preset_names();
    size_t col = 27, used = 0;
    buf[0] = '\0';
    while (*s && used + 40 < n) {
        const char *e = strstr(s, ", ");
        size_t len = e ? (size_t)(e - s) + 1 : strlen(s); /* the name and its comma */
        if (col > 27 && col + 1 + len > 80) {
            used += (size_t)snprintf(buf + used, n - used, "\n%27s", "");
            col = 27;
        } else if (col > 27) {
            used += (size_t)snprintf(buf + used, n - used, " ");
            col++;
        }
        used += (size_t)snprintf(buf + used, n - used, "%.*s", (int)len, s);
        col += len;
        s += len + (e != NULL);
    }
    return buf;
}

static void llm_help(FILE *o)
{
    char names[1024];
    fprintf(o,
        "usage: loom gen llm --out DIR/prefix [--preset NAME] [shape] [parallelism] [...]\n"
        "\n"
        "Writes a Megatron-LM-style training step (one optimizer step over the global\n"
        "batch) as Chakra traces PREFIX.<rank>.et, the communicators PREFIX.comm.json and\n"
        "PREFIX.system.yaml (device, compute model, comm-group file, comm-efficiency:\n"
        "NCCL's achieved bandwidth on A100/H100/H200/B200 NVLink; all-gather-order and\n"
        "phase-overlap: how NCCL orders and overlaps a collective's phases across\n"
        "nodes, docs/MODEL.md 7; all-to-all-implementation: direct, NCCL's), so that\n"
        "  loom run --workload PREFIX --system PREFIX.system.yaml --network NET\n"
        "replays it.  Prints the files' contents per stage and a per-rank memory\n"
        "estimate against the device's HBM (a warning when it does not fit).\n"
        "Formulas: docs/WORKLOADS.md.\n"
        "\n"
        "output:\n"
        "  -o, --out DIR/prefix     required; DIR is created\n"
        "      --groups MODE        communicator names: role (default: \"tp\", \"dp\", ...\n"
        "                           resolved per rank by strided groups, so the ranks of a\n"
        "                           stage share one file; with --cp-comm p2p, of a stage\n"
        "                           and cp index) or explicit (one group per\n"
        "                           instance, \"tp3\", \"dp5\"; one file per rank)\n"
        "      --granularity G      kernel (default: one node per kernel) or layer (compute\n"
        "                           between two communications fused into one node that\n"
        "                           lists its kernels' FLOPs and bytes; replay prices each)\n"
        "  -q, --quiet              no summary\n"
        "model (a preset, then any shape flag overrides it; default: gpt3-175b):\n"
        "      --preset NAME        %s\n"
        "      --hidden N           hidden size h\n"
        "      --ffn N              MLP inner size f (per expert)\n"
        "      --heads N            attention heads a\n"
        "      --kv-heads N         key/value heads g (grouped-query attention; default a)\n"
        "      --layers N           transformer layers L\n"
        "      --seq N              sequence length s, tokens\n"
        "      --vocab N            vocabulary V (padded to a multiple of 128 x tp)\n"
        "      --experts N          experts per MoE layer (0: dense)\n"
        "      --topk N             experts per token\n"
        "      --mlp A              the MLP's activation: gelu (2 matrices: GPT), swiglu\n"
        "                           (gated, 3 matrices: LLaMA), relu2 (squared ReLU, 2\n"
        "                           matrices: Nemotron) or geglu (gated: Gemma); each\n"
        "                           brings its family's norm and biases: LayerNorm and\n"
        "                           biases with gelu, LayerNorm and none with relu2,\n"
        "                           RMSNorm and none with swiglu and geglu\n"
        "      --norm layernorm|rmsnorm    the layers' norms (default: the MLP's)\n"
        "      --bias on|off        biases on the linear layers (default: the MLP's)\n"
        "      --hidden-dropout P, --attention-dropout P  Megatron's dropout probabilities,\n"
        "                           0 <= P < 1: above 0 the bias-dropout-add writes its\n"
        "                           mask and the attention drops out its probabilities\n"
        "                           (unfused: a dropout kernel of its own; flash: inside\n"
        "                           its kernels, priced at the measured factor); 0 runs\n"
        "                           neither (default: on with gelu, as Megatron-LM's\n"
        "                           0.1, off with the other MLPs)\n"
        "      --attention standard|flash  scores in memory (s^2) or fused (FlashAttention)\n"
        "      --position P         learned (absolute embeddings added to the input: GPT),\n"
        "                           rope (rotary, applied to q and k in every layer:\n"
        "                           LLaMA) or alibi (a bias on the scores, fused: BLOOM);\n"
        "                           default: the preset's (rope: LLaMA, Mixtral,\n"
        "                           Nemotron; learned: GPT-3, MT-NLG)\n"
        "      --embeddings tied|untied    output layer shares the input embedding\n"
        "parallelism (ranks = tp x cp x pp x dp, laid out tp fastest, then cp, dp, pp):\n"
        "      --tp N               tensor parallel (default 1)\n"
        "      --pp N               pipeline stages (default 1)\n"
        "      --dp N               data parallel (default: --ranks / (tp x pp), else 1)\n"
        "      --ranks N            total ranks, checked against tp x pp x dp\n"
        "      --ep N               expert parallel, carved out of dp (default 1)\n"
        "      --cp N               context parallel (default 1): each rank holds seq/N\n"
        "                           tokens (needs flash attention)\n"
        "      --cp-comm C          how K and V reach the cp group: p2p (default; a ring\n"
        "                           of sends overlapped with attention, one step a\n"
        "                           peer's chunk, as Transformer Engine and Megatron-Core\n"
        "                           run it), all-gather (Llama 3's: gathered once a\n"
        "                           layer, the gradients reduce-scattered) or a2a\n"
        "                           (DeepSpeed-Ulysses: all-to-alls give each rank the\n"
        "                           whole sequence for 1/N of the heads)\n"
        "      --sequence-parallel  Megatron sequence parallelism (reduce-scatter and\n"
        "                           all-gather instead of all-reduce; needs tp > 1)\n"
        "      --micro-batch N      sequences per microbatch (default 1)\n"
        "      --global-batch N     sequences per step (default micro-batch x dp)\n"
        "      --schedule S         1f1b (default) or interleaved\n"
        "      --virtual-stages V   model chunks per stage for interleaved (default 1)\n"
        "      --microbatch-group N  interleaved: microbatches each chunk runs in a row,\n"
        "                           pp..microbatches (default pp; Megatron-Core's\n"
        "                           --microbatch-group-size-per-virtual-pipeline-stage)\n"
        "      --account-for-embedding-in-pipeline-split\n"
        "      --account-for-loss-in-pipeline-split\n"
        "                           Megatron-Core's: the embedding (the output layer and\n"
        "                           loss) count as a layer when layers are split over the\n"
        "                           pp x V virtual stages, which must divide evenly; the\n"
        "                           first (last) virtual stage holds one layer fewer\n"
        "      --decoder-first-pipeline-num-layers N\n"
        "      --decoder-last-pipeline-num-layers N\n"
        "                           Megatron's: the first (last) stage holds N layers,\n"
        "                           the stages between split the rest evenly\n"
        "      --recompute R        none (default), selective (attention core) or full\n"
        "      --zero Z             0 (default: all-reduce gradients), 1 (shard optimizer\n"
        "                           state: reduce-scatter + all-gather), 2 (also gradients:\n"
        "                           reduce-scatter every microbatch), 3 (also parameters:\n"
        "                           all-gather per layer)\n"
        "      --grad-bucket BYTES  gradient bucket size (e.g. 40MiB; 0: one bucket per\n"
        "                           model chunk, the default without --overlap-grad-reduce)\n"
        "      --overlap-grad-reduce  start each bucket's reduction as soon as the last\n"
        "                           microbatch's backward has produced it; without\n"
        "                           --grad-bucket, Megatron-Core's buckets: max(40 M,\n"
        "                           1 M x dp) parameters in the first model chunk, one\n"
        "                           bucket in each later one\n"
        "      --overlap-param-gather  ZeRO 1/2: gather the updated parameters at the\n"
        "                           start of the step, bucket by bucket, overlapping the\n"
        "                           forward (default: after the optimizer step)\n"
        "      --tp-comm-overlap    pipeline each TP all-gather / reduce-scatter with its\n"
        "                           GEMM as Transformer Engine's userbuffers do (needs\n"
        "                           --sequence-parallel): gathers in tp chunks, forward\n"
        "                           reduce-scatters in 4, backward ones beside the GEMM\n"
        "      --tp-comm-sms N      SMs those reduce-scatters and the backward's\n"
        "                           transfers take from the GEMMs beside them (default\n"
        "                           16, Transformer Engine's; tuned recipes use fewer)\n"
        "      --comm-sms N         SMs each NCCL collective's kernel holds while in\n"
        "                           flight, which GEMMs and attention beside it lose;\n"
        "                           written to the system file (default 16; 0: none)\n"
        "      --comm-streams S     per-group (default: each communicator on its own\n"
        "                           stream, so TP, DP and PP communication overlap as in\n"
        "                           Megatron-LM) or shared (one communication stream per\n"
        "                           rank, ASTRA-sim's rule)\n"
        "device and numbers:\n"
        "      --dtype T            bf16 (default), fp16, fp8, tf32, fp32; fp8 as\n"
        "                           Transformer Engine's current-scaling recipe: the\n"
        "                           layers' linear GEMMs in FP8, their inputs and output\n"
        "                           gradients cast (amax, then cast); attention, the\n"
        "                           output layer and the MoE router in bf16\n"
        "      --fp8-recipe R       current (default: current scaling, an amax pass then\n"
        "                           the cast, as NeMo's FP8-CS runs) or delayed (the scale\n"
        "                           from past steps: one cast pass, the norm's fused)\n"
        "      --fp8-bf16-layers S,E  under --dtype fp8, the model's first S and last E\n"
        "                           layers in bf16 (Megatron's --first-last-layers-bf16;\n"
        "                           NeMo's current-scaling recipe: 1,1; default 0,0)\n"
        "      --attention-kernel K  flash2 (FlashAttention-2's speed, the default) or\n"
        "                           cudnn (cuDNN's fused attention, which Transformer\n"
        "                           Engine runs on Hopper and later): written to the\n"
        "                           system file's attention-kernel; a catalog device\n"
        "                           may carry its own efficiencies for either (B200:\n"
        "                           FlashAttention-2's, a fifth of its peak)\n"
        "      --cross-entropy-fusion  the loss as Megatron-Core's fused cross entropy\n"
        "                           (--cross-entropy-loss-fusion; NeMo's default): 3\n"
        "                           forward passes over the fp32 logits, not 6\n"
        "      --optimizer K        fused (default: Megatron-LM's fused Adam over a\n"
        "                           gradient buffer zeroed each step) or foreach\n"
        "                           (torch.optim.AdamW and clip_grad_norm_ on their\n"
        "                           foreach path, gradients set to None: FSDP and\n"
        "                           other PyTorch-native trainers; docs/WORKLOADS.md)\n"
        "      --grad-dtype T       gradient reduction width: fp32 or bf16/fp16 (default:\n"
        "                           fp16 for fp16, else fp32, as Megatron-LM does)\n"
        "      --device NAME        catalog device (default h100-sxm; see loom devices)\n"
        "      --devices FILE       extra device catalog\n"
        "      --compute-model M    kernel (default: shapes priced as the kernels run),\n"
        "                           roofline or trace, written to the system file\n"
        "      --stack NAME|FILE    a software-stack profile, written to the system file\n"
        "                           (megatron-lm, megatron-deepspeed, or `loom calibrate`'s\n"
        "                           output; docs/VALIDATION.md)\n"
        "      --host-launch-us US  the host's time per GPU launch, written to the system\n"
        "                           file: kernels shorter than it wait for the host\n"
        "                           (docs/MODEL.md, \"The host\"; default: not modelled)\n"
        "  -h, --help               this help\n",
        presets_wrapped(names, sizeof names));
}

enum {
    O_PRESET = 256, O_HIDDEN, O_FFN, O_HEADS, O_KV, O_LAYERS, O_SEQ, O_VOCAB, O_EXPERTS,
    O_TOPK, /* the shape flags end here: a value for any of them renames the model "+custom" */
    O_MLP, O_NORM, O_BIAS, O_POS, O_ATTN, O_EMB, O_TP, O_PP, O_DP, O_RANKS, O_EP, O_SP, O_MB,
    O_GB, O_SCHED, O_VS, O_MBG,
    O_RC, O_ZERO, O_BUCKET, O_OVERLAP, O_DTYPE, O_GDTYPE, O_DEVICE, O_DEVICES, O_CM,
    O_GROUPS, O_GRAN, O_OVERLAP_PARAM, O_COMM_STREAMS, O_TP_OVERLAP, O_TP_SMS, O_COMM_SMS,
    O_ATTN_KERNEL,
    O_FP8_RECIPE, O_FP8_BF16, O_CP, O_CP_COMM, O_STACK, O_HOST, O_CE_FUSION, O_HDROP, O_ADROP,
    O_SPLIT_EMB, O_SPLIT_LOSS, O_FIRST_LAYERS, O_LAST_LAYERS, O_OPTIMIZER,
};

static const struct option opts[] = {
    {"out", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"preset", required_argument, NULL, O_PRESET},
    {"hidden", required_argument, NULL, O_HIDDEN},
    {"ffn", required_argument, NULL, O_FFN},
    {"heads", required_argument, NULL, O_HEADS},
    {"kv-heads", required_argument, NULL, O_KV},
    {"layers", required_argument, NULL, O_LAYERS},
    {"seq", required_argument, NULL, O_SEQ},
    {"vocab", required_argument, NULL, O_VOCAB},
    {"experts", required_argument, NULL, O_EXPERTS},
    {"topk", required_argument, NULL, O_TOPK},
    {"mlp", required_argument, NULL, O_MLP},
    {"norm", required_argument, NULL, O_NORM},
    {"bias", required_argument, NULL, O_BIAS},
    {"hidden-dropout", required_argument, NULL, O_HDROP},
    {"attention-dropout", required_argument, NULL, O_ADROP},
    {"position", required_argument, NULL, O_POS},
    {"attention", required_argument, NULL, O_ATTN},
    {"embeddings", required_argument, NULL, O_EMB},
    {"tp", required_argument, NULL, O_TP},
    {"pp", required_argument, NULL, O_PP},
    {"dp", required_argument, NULL, O_DP},
    {"ranks", required_argument, NULL, O_RANKS},
    {"ep", required_argument, NULL, O_EP},
    {"cp", required_argument, NULL, O_CP},
    {"cp-comm", required_argument, NULL, O_CP_COMM},
    {"sequence-parallel", no_argument, NULL, O_SP},
    {"micro-batch", required_argument, NULL, O_MB},
    {"global-batch", required_argument, NULL, O_GB},
    {"schedule", required_argument, NULL, O_SCHED},
    {"virtual-stages", required_argument, NULL, O_VS},
    {"microbatch-group", required_argument, NULL, O_MBG},
    {"account-for-embedding-in-pipeline-split", no_argument, NULL, O_SPLIT_EMB},
    {"account-for-loss-in-pipeline-split", no_argument, NULL, O_SPLIT_LOSS},
    {"decoder-first-pipeline-num-layers", required_argument, NULL, O_FIRST_LAYERS},
    {"decoder-last-pipeline-num-layers", required_argument, NULL, O_LAST_LAYERS},
    {"recompute", required_argument, NULL, O_RC},
    {"zero", required_argument, NULL, O_ZERO},
    {"grad-bucket", required_argument, NULL, O_BUCKET},
    {"overlap-grad-reduce", no_argument, NULL, O_OVERLAP},
    {"overlap-param-gather", no_argument, NULL, O_OVERLAP_PARAM},
    {"comm-streams", required_argument, NULL, O_COMM_STREAMS},
    {"tp-comm-overlap", no_argument, NULL, O_TP_OVERLAP},
    {"cross-entropy-fusion", no_argument, NULL, O_CE_FUSION},
    {"tp-comm-sms", required_argument, NULL, O_TP_SMS},
    {"comm-sms", required_argument, NULL, O_COMM_SMS},
    {"attention-kernel", required_argument, NULL, O_ATTN_KERNEL},
    {"fp8-recipe", required_argument, NULL, O_FP8_RECIPE},
    {"fp8-bf16-layers", required_argument, NULL, O_FP8_BF16},
    {"stack", required_argument, NULL, O_STACK},
    {"host-launch-us", required_argument, NULL, O_HOST},
    {"dtype", required_argument, NULL, O_DTYPE},
    {"grad-dtype", required_argument, NULL, O_GDTYPE},
    {"optimizer", required_argument, NULL, O_OPTIMIZER},
    {"device", required_argument, NULL, O_DEVICE},
    {"devices", required_argument, NULL, O_DEVICES},
    {"compute-model", required_argument, NULL, O_CM},
    {"groups", required_argument, NULL, O_GROUPS},
    {"granularity", required_argument, NULL, O_GRAN},
    {NULL, 0, NULL, 0},
};

/* The integer flags: where each value goes in wl_llm_opts and its range.
 * Sizes and counts stop at 2^24, head, layer, expert and parallel counts
 * at 65536 (wl_llm_plan_new checks the shape and degree bounds again, for
 * callers other than this command). */
static const struct int_flag {
    int code;
    const char *flag;
    long lo, hi;
    size_t off; /* offsetof(wl_llm_opts, ...) */
} int_flags[] = {
    {O_HIDDEN, "--hidden", 1, 1 << 24, offsetof(wl_llm_opts, m.hidden)},
    {O_FFN, "--ffn", 1, 1 << 24, offsetof(wl_llm_opts, m.ffn)},
    {O_HEADS, "--heads", 1, 65536, offsetof(wl_llm_opts, m.heads)},
    {O_KV, "--kv-heads", 1, 65536, offsetof(wl_llm_opts, m.kv_heads)},
    {O_LAYERS, "--layers", 1, 65536, offsetof(wl_llm_opts, m.layers)},
    {O_SEQ, "--seq", 1, 1 << 24, offsetof(wl_llm_opts, m.seq)},
    {O_VOCAB, "--vocab", 1, 1 << 24, offsetof(wl_llm_opts, m.vocab)},
    {O_EXPERTS, "--experts", 0, 65536, offsetof(wl_llm_opts, m.experts)},
    {O_TOPK, "--topk", 1, 65536, offsetof(wl_llm_opts, m.topk)},
    {O_TP, "--tp", 1, 65536, offsetof(wl_llm_opts, tp)},
    {O_PP, "--pp", 1, 65536, offsetof(wl_llm_opts, pp)},
    {O_DP, "--dp", 1, 1 << 24, offsetof(wl_llm_opts, dp)},
    {O_RANKS, "--ranks", 1, 1 << 24, offsetof(wl_llm_opts, ranks)},
    {O_EP, "--ep", 1, 65536, offsetof(wl_llm_opts, ep)},
    {O_CP, "--cp", 1, 65536, offsetof(wl_llm_opts, cp)},
    {O_MB, "--micro-batch", 1, 1 << 24, offsetof(wl_llm_opts, micro_batch)},
    {O_GB, "--global-batch", 1, 1 << 30, offsetof(wl_llm_opts, global_batch)},
    {O_VS, "--virtual-stages", 1, 1024, offsetof(wl_llm_opts, vstages)},
    {O_MBG, "--microbatch-group", 1, 1 << 20, offsetof(wl_llm_opts, mb_group)},
    {O_ZERO, "--zero", 0, 3, offsetof(wl_llm_opts, zero)},
    {O_TP_SMS, "--tp-comm-sms", 0, 255, offsetof(wl_llm_opts, tp_comm_sms)},
    {O_COMM_SMS, "--comm-sms", 0, 255, offsetof(wl_llm_opts, comm_sms)},
};

/* What the command line has said so far. */
typedef struct llm_args {
    wl_llm_opts o;      /* the options, over the preset's shape */
    const char *preset; /* --preset (default gpt3-175b) */
    int kv_given;       /* --kv-heads was given: --heads leaves it alone */
    int shape_changed;  /* a shape flag changed the preset */
} llm_args;

/* The index of arg in the NULL-terminated words, or -1. */
static int pick(const char *arg, const char *const *words)
{
    for (int i = 0; words[i]; i++)
        if (strcmp(arg, words[i]) == 0)
            return i;
    return -1;
}

/* First pass: --help, --preset and malformed lines, so that shape flags
 * override the preset wherever they appear.  Returns an exit code, or -1
 * to go on. */
static int first_pass(int argc, char **argv, const char **preset /* OUT */)
{
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
        if (c == 'h') {
            llm_help(stdout);
            return 0;
        }
        if (c == O_PRESET)
            *preset = optarg;
        if (c == ':')
            return loom_usage("gen llm", "option '%s' needs a value", argv[optind - 1]);
        if (c == '?')
            return loom_usage("gen llm", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc)
        return loom_usage("gen llm", "unexpected argument '%s'", argv[optind]);
    return -1;
}

/* An integer flag; 0, or the exit code of a bad value. */
static int int_opt(llm_args *a, const struct int_flag *f, const char *arg)
{
    if (f->code == O_KV)
        a->kv_given = 1;
    int *dst = (int *)((char *)&a->o + f->off);
    if (loom_opt_int("gen llm", f->flag, arg, f->lo, f->hi, dst) < 0)
        return 2;
    if (f->code <= O_TOPK)
        a->shape_changed = 1;
    return 0;
}

/* Option c of the second pass, its value in optarg; 0, or an exit code. */
static int apply_opt(llm_args *a, int c, char **argv)
{
    wl_llm_opts *o = &a->o;
    int k;
    for (size_t i = 0; i < sizeof int_flags / sizeof int_flags[0]; i++)
        if (int_flags[i].code == c)
            return int_opt(a, &int_flags[i], optarg);
    switch (c) {
    case 'o': o->out = optarg; break;
    case 'q': o->quiet = 1; break;
    case O_PRESET: break;
    case O_SP: o->sp = 1; break;
    case O_OVERLAP: o->overlap_grad = 1; break;
    case O_OVERLAP_PARAM: o->overlap_param = 1; break;
    case O_TP_OVERLAP: o->tp_overlap = 1; break;
    case O_CE_FUSION: o->ce_fusion = 1; break;
    case O_OPTIMIZER:
        if (strcmp(optarg, "fused") != 0 && strcmp(optarg, "foreach") != 0)
            return loom_usage("gen llm", "--optimizer '%s': expected fused or foreach", optarg);
        o->opt_foreach = strcmp(optarg, "foreach") == 0;
        break;
    case O_SPLIT_EMB: o->split_embed = 1; break;
    case O_SPLIT_LOSS: o->split_loss = 1; break;
    case O_FIRST_LAYERS:
    case O_LAST_LAYERS: {
        int first = c == O_FIRST_LAYERS;
        if (loom_opt_int("gen llm", first ? "--decoder-first-pipeline-num-layers"
                                          : "--decoder-last-pipeline-num-layers",
                         optarg, 0, 65536, first ? &o->first_layers : &o->last_layers) < 0)
            return 2;
        *(first ? &o->first_given : &o->last_given) = 1;
        break;
    }
    case O_STACK: o->stack = optarg; break;
    case O_HOST: { /* the system key's range */
        char *end;
        errno = 0;
        double v = strtod(optarg, &end);
        if (errno || end == optarg || *end || !(v >= 0) || v > 1e6)
            return loom_usage("gen llm", "--host-launch-us '%s': expected microseconds, 0 to 10^6",
                              optarg);
        o->host_launch_us = v;
        break;
    }
    case O_HDROP:
    case O_ADROP: { /* a probability: what it costs does not depend on it, only on p > 0 */
        char *end;
        errno = 0;
        double v = strtod(optarg, &end);
        if (errno || end == optarg || *end || !(v >= 0) || !(v < 1))
            return loom_usage("gen llm", c == O_HDROP
                                  ? "--hidden-dropout '%s': expected a probability, 0 <= P < 1"
                                  : "--attention-dropout '%s': expected a probability, 0 <= P < 1",
                              optarg);
        *(c == O_HDROP ? &o->m.hdrop : &o->m.adrop) = v > 0 ? WL_DROP_ON : WL_DROP_OFF;
        break;
    }
    case O_ATTN_KERNEL: {
        comp_attn a;
        if (comp_attn_parse(optarg, &a) < 0)
            return loom_usage("gen llm", "--attention-kernel '%s': expected flash2 or cudnn", optarg);
        o->attn_kernel = (int)a + 1;
        break;
    }
    case O_CP_COMM:
        if ((k = pick(optarg, (const char *const[]){"p2p", "all-gather", "a2a", NULL})) < 0)
            return loom_usage("gen llm", "--cp-comm '%s': expected p2p, all-gather or a2a",
                              optarg);
        o->cp_comm = (wl_cp_comm)k;
        break;
    case O_COMM_STREAMS:
        if ((k = pick(optarg, (const char *const[]){"per-group", "shared", NULL})) < 0)
            return loom_usage("gen llm", "--comm-streams '%s': expected per-group or shared",
                              optarg);
        o->shared_comm = k;
        break;
    case O_DEVICE: o->device = optarg; break;
    case O_DEVICES: o->devices_file = optarg; break;
    case O_MLP:
        if ((k = wl_mlp_parse(optarg)) < 0)
            return loom_usage("gen llm", "--mlp '%s': expected gelu, swiglu, relu2 or geglu",
                              optarg);
        o->m.mlp = k;
        a->shape_changed = 1;
        break;
    case O_NORM: /* wl_norm: 0 is "follow the MLP" */
        if ((k = pick(optarg, (const char *const[]){"layernorm", "rmsnorm", NULL})) < 0)
            return loom_usage("gen llm", "--norm '%s': expected layernorm or rmsnorm", optarg);
        o->m.norm = WL_NORM_LAYER + k;
        a->shape_changed = 1;
        break;
    case O_BIAS: /* wl_bias: 0 is "follow the MLP" */
        if ((k = pick(optarg, (const char *const[]){"on", "off", NULL})) < 0)
            return loom_usage("gen llm", "--bias '%s': expected on or off", optarg);
        o->m.bias = WL_BIAS_ON + k;
        a->shape_changed = 1;
        break;
    case O_POS: /* wl_pos: 0 is "follow the MLP" */
        if ((k = pick(optarg, (const char *const[]){"learned", "rope", "alibi", NULL})) < 0)
            return loom_usage("gen llm", "--position '%s': expected learned, rope or alibi", optarg);
        o->m.pos = WL_POS_LEARNED + k;
        a->shape_changed = 1;
        break;
    case O_ATTN:
        if ((k = pick(optarg, (const char *const[]){"standard", "flash", NULL})) < 0)
            return loom_usage("gen llm", "--attention '%s': expected standard or flash", optarg);
        o->m.flash = k;
        a->shape_changed = 1;
        break;
    case O_EMB:
        if ((k = pick(optarg, (const char *const[]){"untied", "tied", NULL})) < 0)
            return loom_usage("gen llm", "--embeddings '%s': expected tied or untied", optarg);
        o->m.tied = k;
        a->shape_changed = 1;
        break;
    case O_SCHED: /* the words in the order of wl_sched's values (0, 1) */
        if ((k = pick(optarg, (const char *const[]){"1f1b", "interleaved", NULL})) < 0)
            return loom_usage("gen llm", "--schedule '%s': expected 1f1b or interleaved", optarg);
        o->sched = (wl_sched)k;
        break;
    case O_RC: /* likewise, wl_recompute (0, 1, 2) */
        if ((k = pick(optarg, (const char *const[]){"none", "selective", "full", NULL})) < 0)
            return loom_usage("gen llm", "--recompute '%s': expected none, selective or full",
                              optarg);
        o->recompute = (wl_recompute)k;
        break;
    case O_BUCKET:
        if (wl_parse_size(optarg, &o->bucket_bytes) < 0)
            return loom_usage("gen llm", "--grad-bucket '%s': expected a byte count such as 40MiB",
                              optarg);
        o->bucket_given = 1;
        break;
    case O_DTYPE:
        if (comp_dtype_parse(optarg, &o->dtype) < 0)
            return loom_usage("gen llm", "--dtype '%s': expected bf16, fp16, fp8, tf32 or fp32",
                              optarg);
        break;
    case O_FP8_BF16: { /* S,E: two counts */
        char *end;
        errno = 0;
        long a = strtol(optarg, &end, 10), b = -1;
        if (!errno && end != optarg && *end == ',') {
            char *second = end + 1;
            b = strtol(second, &end, 10);
            if (end == second)
                b = -1; /* nothing after the comma */
        }
        if (errno || *end || a < 0 || b < 0 || a > 65536 || b > 65536)
            return loom_usage("gen llm", "--fp8-bf16-layers '%s': expected S,E (two counts, e.g. "
                              "1,1)", optarg);
        o->fp8_bf16_first = (int)a;
        o->fp8_bf16_last = (int)b;
        break;
    }
    case O_FP8_RECIPE:
        if ((k = pick(optarg, (const char *const[]){"current", "delayed", NULL})) < 0)
            return loom_usage("gen llm", "--fp8-recipe '%s': expected current or delayed", optarg);
        o->fp8_delayed = k;
        break;
    case O_GDTYPE: /* bytes per gradient element */
        if ((k = pick(optarg, (const char *const[]){"fp32", "bf16", "fp16", NULL})) < 0)
            return loom_usage("gen llm", "--grad-dtype '%s': expected fp32, bf16 or fp16", optarg);
        o->grad_bytes = k == 0 ? 4 : 2;
        break;
    case O_CM: o->compute_model = optarg; break; /* checked by the plan */
    case O_GROUPS: /* likewise, wl_groups */
        if ((k = pick(optarg, (const char *const[]){"explicit", "role", NULL})) < 0)
            return loom_usage("gen llm", "--groups '%s': expected explicit or role", optarg);
        o->groups = (wl_groups)k;
        break;
    case O_GRAN: /* likewise, wl_gran */
        if ((k = pick(optarg, (const char *const[]){"kernel", "layer", NULL})) < 0)
            return loom_usage("gen llm", "--granularity '%s': expected kernel or layer", optarg);
        o->gran = (wl_gran)k;
        break;
    default:
        return loom_usage("gen llm", "unknown option '%s'", argv[optind - 1]);
    }
    return 0;
}

/* After the second pass: --out is required; a changed preset is named
 * "<preset>+custom"; key/value heads follow --heads unless given (or the
 * preset had grouped-query attention that still fits).  0 or an exit
 * code. */
static int finish(llm_args *a, int preset_mha)
{
    wl_llm_opts *o = &a->o;
    if (o->out == NULL)
        return loom_usage("gen llm", "%s", "needs --out DIR/prefix");
    if (a->shape_changed)
        snprintf(o->m.name, sizeof o->m.name, "%.22s+custom", a->preset);
    if (!a->kv_given && (preset_mha || o->m.kv_heads > o->m.heads)) /* --heads changed a preset */
        o->m.kv_heads = o->m.heads;
    return 0;
}

const struct option *loom_gen_llm_options(void) { return opts; }

int loom_cmd_gen_llm(int argc, char **argv)
{
    llm_args a = {.o = {.tp = 1, .pp = 1, .ep = 1, .micro_batch = 1, .vstages = 1,
                        .tp_comm_sms = WL_TP_COMM_SMS, .comm_sms = WL_COMM_SMS,
                        .dtype = COMP_BF16, .device = "h100-sxm", .groups = WL_GROUPS_ROLE},
                  .preset = "gpt3-175b"};
    int rc = first_pass(argc, argv, &a.preset);
    if (rc >= 0)
        return rc;
    if (wl_llm_preset(a.preset, &a.o.m) < 0) {
        fprintf(stderr, "loom: error: gen llm: --preset '%s' is not one of %s (see 'loom gen llm --help')\n",
                a.preset, wl_llm_preset_names());
        return 2;
    }
    int preset_mha = a.o.m.kv_heads == a.o.m.heads;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1)
        if ((rc = apply_opt(&a, c, argv)) != 0)
            return rc;
    if ((rc = finish(&a, preset_mha)) != 0)
        return rc;
    loom_err err = {0};
    if (a.o.stack && loom_stack_check(a.o.stack, &err) < 0) /* a typo costs nothing */
        return loom_fail(&err);
    char *stack_abs = a.o.stack && loom_stack_is_file(a.o.stack) ? realpath(a.o.stack, NULL) : NULL;
    if (stack_abs) /* the system file moves with the traces: an absolute path */
        a.o.stack = stack_abs;
    wl_llm_plan *p = wl_llm_plan_new(&a.o, &err);
    if (p == NULL || wl_llm_write(p, NULL, &err) < 0) {
        wl_llm_plan_free(p);
        free(stack_abs);
        return loom_fail(&err);
    }
    wl_llm_plan_free(p);
    free(stack_abs);
    return 0;
}
