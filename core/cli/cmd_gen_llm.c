/*
 * cmd_gen_llm.c: the command line of `loom gen llm` (getopt_long), turned
 * into wl_llm_opts (workloads/wl_llm.c); every flag is checked with a
 * message naming it.
 */
#include "cmds.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "wl.h"
#include "wl_llm.h"
#include "wl_emit.h"

static void llm_help(FILE *o)
{
    fprintf(o,
        "usage: loom gen llm --out DIR/prefix [--preset NAME] [shape] [parallelism] [...]\n"
        "\n"
        "Writes a Megatron-LM-style training step (one optimizer step over the global\n"
        "batch) as Chakra traces PREFIX.<rank>.et, the communicators PREFIX.comm.json and\n"
        "PREFIX.system.yaml (device, compute model, comm-group file), so that\n"
        "  loom run --workload PREFIX --system PREFIX.system.yaml --network NET\n"
        "replays it.  Prints the files' contents per stage and a per-rank memory\n"
        "estimate against the device's HBM (a warning when it does not fit).\n"
        "Formulas: docs/WORKLOADS.md.\n"
        "\n"
        "output:\n"
        "  -o, --out DIR/prefix     required; DIR is created\n"
        "      --groups MODE        communicator names: role (default: \"tp\", \"dp\", ...\n"
        "                           resolved per rank by strided groups, so the ranks of a\n"
        "                           stage share one file) or explicit (one group per\n"
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
        "      --mlp gelu|swiglu    GELU (2 matrices, LayerNorm, biases: GPT) or SwiGLU\n"
        "                           (3 matrices, RMSNorm, no biases: LLaMA)\n"
        "      --attention standard|flash  scores in memory (s^2) or fused (FlashAttention)\n"
        "      --embeddings tied|untied    output layer shares the input embedding\n"
        "parallelism (ranks = tp x pp x dp, laid out tp fastest, then dp, then pp):\n"
        "      --tp N               tensor parallel (default 1)\n"
        "      --pp N               pipeline stages (default 1)\n"
        "      --dp N               data parallel (default: --ranks / (tp x pp), else 1)\n"
        "      --ranks N            total ranks, checked against tp x pp x dp\n"
        "      --ep N               expert parallel, carved out of dp (default 1)\n"
        "      --sequence-parallel  Megatron sequence parallelism (reduce-scatter and\n"
        "                           all-gather instead of all-reduce; needs tp > 1)\n"
        "      --micro-batch N      sequences per microbatch (default 1)\n"
        "      --global-batch N     sequences per step (default micro-batch x dp)\n"
        "      --schedule S         1f1b (default) or interleaved\n"
        "      --virtual-stages V   model chunks per stage for interleaved (default 1)\n"
        "      --recompute R        none (default), selective (attention core) or full\n"
        "      --zero Z             0 (default: all-reduce gradients), 1 (shard optimizer\n"
        "                           state: reduce-scatter + all-gather), 2 (also gradients:\n"
        "                           reduce-scatter every microbatch), 3 (also parameters:\n"
        "                           all-gather per layer)\n"
        "      --grad-bucket BYTES  gradient bucket size (e.g. 40MiB; default 0: one bucket\n"
        "                           per model chunk)\n"
        "      --overlap-grad-reduce  start each bucket's reduction as soon as the last\n"
        "                           microbatch's backward has produced it\n"
        "device and numbers:\n"
        "      --dtype T            bf16 (default), fp16, fp8, tf32, fp32\n"
        "      --grad-dtype T       gradient reduction width: fp32 or bf16/fp16 (default:\n"
        "                           fp16 for fp16, else fp32, as Megatron-LM does)\n"
        "      --device NAME        catalog device (default h100-sxm; see loom devices)\n"
        "      --devices FILE       extra device catalog\n"
        "      --compute-model M    roofline (default) or trace, written to the system file\n"
        "  -h, --help               this help\n",
        wl_llm_preset_names());
}

int loom_cmd_gen_llm(int argc, char **argv)
{
    enum {
        O_PRESET = 256, O_HIDDEN, O_FFN, O_HEADS, O_KV, O_LAYERS, O_SEQ, O_VOCAB, O_EXPERTS,
        O_TOPK, O_MLP, O_ATTN, O_EMB, O_TP, O_PP, O_DP, O_RANKS, O_EP, O_SP, O_MB, O_GB, O_SCHED,
        O_VS, O_RC, O_ZERO, O_BUCKET, O_OVERLAP, O_DTYPE, O_GDTYPE, O_DEVICE, O_DEVICES, O_CM,
        O_GROUPS, O_GRAN,
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
        {"attention", required_argument, NULL, O_ATTN},
        {"embeddings", required_argument, NULL, O_EMB},
        {"tp", required_argument, NULL, O_TP},
        {"pp", required_argument, NULL, O_PP},
        {"dp", required_argument, NULL, O_DP},
        {"ranks", required_argument, NULL, O_RANKS},
        {"ep", required_argument, NULL, O_EP},
        {"sequence-parallel", no_argument, NULL, O_SP},
        {"micro-batch", required_argument, NULL, O_MB},
        {"global-batch", required_argument, NULL, O_GB},
        {"schedule", required_argument, NULL, O_SCHED},
        {"virtual-stages", required_argument, NULL, O_VS},
        {"recompute", required_argument, NULL, O_RC},
        {"zero", required_argument, NULL, O_ZERO},
        {"grad-bucket", required_argument, NULL, O_BUCKET},
        {"overlap-grad-reduce", no_argument, NULL, O_OVERLAP},
        {"dtype", required_argument, NULL, O_DTYPE},
        {"grad-dtype", required_argument, NULL, O_GDTYPE},
        {"device", required_argument, NULL, O_DEVICE},
        {"devices", required_argument, NULL, O_DEVICES},
        {"compute-model", required_argument, NULL, O_CM},
        {"groups", required_argument, NULL, O_GROUPS},
        {"granularity", required_argument, NULL, O_GRAN},
        {NULL, 0, NULL, 0},
    };
    /* two passes: the preset first, so shape flags override it wherever
     * they appear on the line */
    wl_llm_opts o = {.tp = 1, .pp = 1, .ep = 1, .micro_batch = 1, .vstages = 1,
                     .dtype = COMP_BF16, .device = "h100-sxm", .groups = WL_GROUPS_ROLE};
    const char *preset = "gpt3-175b";
    int c, kv_given = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
        if (c == 'h') {
            llm_help(stdout);
            return 0;
        }
        if (c == O_PRESET)
            preset = optarg;
        if (c == ':')
            return loom_usage("gen llm", "option '%s' needs a value", argv[optind - 1]);
        if (c == '?')
            return loom_usage("gen llm", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc)
        return loom_usage("gen llm", "unexpected argument '%s'", argv[optind]);
    if (wl_llm_preset(preset, &o.m) < 0) {
        fprintf(stderr, "loom gen llm: --preset '%s' is not one of %s\nTry 'loom gen llm --help'.\n",
                preset, wl_llm_preset_names());
        return 2;
    }
    int shape_changed = 0, preset_mha = o.m.kv_heads == o.m.heads;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
        int *ip = NULL, lo = 1, hi = 1 << 24;
        const char *flag = NULL;
        switch (c) {
        case 'o': o.out = optarg; break;
        case 'q': o.quiet = 1; break;
        case O_PRESET: break;
        case O_HIDDEN: ip = &o.m.hidden; flag = "--hidden"; break;
        case O_FFN: ip = &o.m.ffn; flag = "--ffn"; break;
        case O_HEADS: ip = &o.m.heads; flag = "--heads"; hi = 65536; break;
        case O_KV: ip = &o.m.kv_heads; flag = "--kv-heads"; hi = 65536; kv_given = 1; break;
        case O_LAYERS: ip = &o.m.layers; flag = "--layers"; hi = 65536; break;
        case O_SEQ: ip = &o.m.seq; flag = "--seq"; break;
        case O_VOCAB: ip = &o.m.vocab; flag = "--vocab"; break;
        case O_EXPERTS: ip = &o.m.experts; flag = "--experts"; lo = 0; hi = 65536; break;
        case O_TOPK: ip = &o.m.topk; flag = "--topk"; hi = 65536; break;
        case O_TP: ip = &o.tp; flag = "--tp"; hi = 65536; break;
        case O_PP: ip = &o.pp; flag = "--pp"; hi = 65536; break;
        case O_DP: ip = &o.dp; flag = "--dp"; break;
        case O_RANKS: ip = &o.ranks; flag = "--ranks"; break;
        case O_EP: ip = &o.ep; flag = "--ep"; hi = 65536; break;
        case O_MB: ip = &o.micro_batch; flag = "--micro-batch"; break;
        case O_GB: ip = &o.global_batch; flag = "--global-batch"; hi = 1 << 30; break;
        case O_VS: ip = &o.vstages; flag = "--virtual-stages"; hi = 1024; break;
        case O_ZERO: ip = &o.zero; flag = "--zero"; lo = 0; hi = 3; break;
        case O_SP: o.sp = 1; break;
        case O_OVERLAP: o.overlap_grad = 1; break;
        case O_MLP:
            if (strcmp(optarg, "gelu") && strcmp(optarg, "swiglu"))
                return loom_usage("gen llm", "--mlp '%s': expected gelu or swiglu", optarg);
            o.m.swiglu = strcmp(optarg, "swiglu") == 0;
            shape_changed = 1;
            break;
        case O_ATTN:
            if (strcmp(optarg, "standard") && strcmp(optarg, "flash"))
                return loom_usage("gen llm", "--attention '%s': expected standard or flash", optarg);
            o.m.flash = strcmp(optarg, "flash") == 0;
            shape_changed = 1;
            break;
        case O_EMB:
            if (strcmp(optarg, "tied") && strcmp(optarg, "untied"))
                return loom_usage("gen llm", "--embeddings '%s': expected tied or untied", optarg);
            o.m.tied = strcmp(optarg, "tied") == 0;
            shape_changed = 1;
            break;
        case O_SCHED:
            if (strcmp(optarg, "1f1b") == 0)
                o.sched = WL_SCHED_1F1B;
            else if (strcmp(optarg, "interleaved") == 0)
                o.sched = WL_SCHED_INTERLEAVED;
            else
                return loom_usage("gen llm", "--schedule '%s': expected 1f1b or interleaved", optarg);
            break;
        case O_RC:
            if (strcmp(optarg, "none") == 0)
                o.recompute = WL_RC_NONE;
            else if (strcmp(optarg, "selective") == 0)
                o.recompute = WL_RC_SELECTIVE;
            else if (strcmp(optarg, "full") == 0)
                o.recompute = WL_RC_FULL;
            else
                return loom_usage("gen llm", "--recompute '%s': expected none, selective or full", optarg);
            break;
        case O_BUCKET:
            if (wl_parse_size(optarg, &o.bucket_bytes) < 0)
                return loom_usage("gen llm", "--grad-bucket '%s': expected a byte count such as 40MiB", optarg);
            break;
        case O_DTYPE:
            if (comp_dtype_parse(optarg, &o.dtype) < 0)
                return loom_usage("gen llm", "--dtype '%s': expected bf16, fp16, fp8, tf32 or fp32", optarg);
            break;
        case O_GDTYPE:
            if (strcmp(optarg, "fp32") == 0)
                o.grad_bytes = 4;
            else if (strcmp(optarg, "bf16") == 0 || strcmp(optarg, "fp16") == 0)
                o.grad_bytes = 2;
            else
                return loom_usage("gen llm", "--grad-dtype '%s': expected fp32, bf16 or fp16", optarg);
            break;
        case O_DEVICE: o.device = optarg; break;
        case O_DEVICES: o.devices_file = optarg; break;
        case O_CM:
            if (strcmp(optarg, "roofline") == 0)
                o.compute_model_trace = 0;
            else if (strcmp(optarg, "trace") == 0)
                o.compute_model_trace = 1;
            else
                return loom_usage("gen llm", "--compute-model '%s': expected roofline or trace", optarg);
            break;
        case O_GROUPS:
            if (strcmp(optarg, "explicit") == 0)
                o.groups = WL_GROUPS_EXPLICIT;
            else if (strcmp(optarg, "role") == 0)
                o.groups = WL_GROUPS_ROLE;
            else
                return loom_usage("gen llm", "--groups '%s': expected explicit or role", optarg);
            break;
        case O_GRAN:
            if (strcmp(optarg, "kernel") == 0)
                o.gran = WL_GRAN_KERNEL;
            else if (strcmp(optarg, "layer") == 0)
                o.gran = WL_GRAN_LAYER;
            else
                return loom_usage("gen llm", "--granularity '%s': expected kernel or layer", optarg);
            break;
        default:
            return loom_usage("gen llm", "unknown option '%s'", argv[optind - 1]);
        }
        if (ip) {
            if (loom_opt_int("gen llm", flag, optarg, lo, hi, ip) < 0)
                return 2;
            if (c <= O_TOPK)
                shape_changed = 1;
        }
    }
    if (o.out == NULL)
        return loom_usage("gen llm", "%s", "needs --out DIR/prefix");
    if (shape_changed)
        snprintf(o.m.name, sizeof o.m.name, "%.22s+custom", preset);
    if (!kv_given && (preset_mha || o.m.kv_heads > o.m.heads)) /* --heads changed a preset */
        o.m.kv_heads = o.m.heads;
    loom_err err = {0};
    wl_llm_plan *p = wl_llm_plan_new(&o, &err);
    if (p == NULL || wl_llm_write(p, NULL, &err) < 0) {
        wl_llm_plan_free(p);
        fprintf(stderr, "loom: error: %s\n", err.msg);
        return err.code ? -err.code : 1;
    }
    wl_llm_plan_free(p);
    return 0;
}
