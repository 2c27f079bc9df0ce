/*
 * `loom gen` and `loom devices` end to end: run the binary, read the files
 * it wrote back through traces/, and replay them with `loom run` (the
 * layers' Transformer Engine kernels are test_layers.c's, `trace
 * convert-text` test_convert.c's; gen_check.h has what they share).  Counts and bytes are worked out by hand in the
 * comments; simulated times come from docs/MODEL.md's closed forms and the
 * roofline formula of docs/DEVICES.md, computed here independently.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loomrun.h"
#include "et_graph.h"
#include "gen_check.h"

/* The scratch folder (loomrun's), and no user configuration read. */
static int setup(void **state)
{
    setenv("XDG_CONFIG_HOME", "/nonexistent-loom-test", 1);
    return loomrun_setup(state);
}

/* ---- gen micro ------------------------------------------------------------ */

static void micro(const char *coll, int p, double expect)
{
    char prefix[400], net[400], sys[400], json[400], rr[16];
    snprintf(prefix, sizeof prefix, "%s/m_%s/x", loomrun_tmp, coll);
    snprintf(net, sizeof net, "%s/m_%s.yml", loomrun_tmp, coll);
    snprintf(sys, sizeof sys, "%s/m_%s.json", loomrun_tmp, coll);
    snprintf(json, sizeof json, "%s/m_%s.out.json", loomrun_tmp, coll);
    snprintf(rr, sizeof rr, "%d", p);
    int rc = loomrun_run(loomrun_tmp, "gen", "micro", "--collective", coll, "--size", "1MiB", "--ranks", rr, "--out",
                      prefix, "--network-out", net, "--system-out", sys, "--bandwidth", "50",
                      "--latency", "500", NULL);
    expect_exit(rc, 0, "hard link");
    /* every rank file is rank 0's file */
    char r0[640], rk[640];
    snprintf(r0, sizeof r0, "%s.0.et", prefix);
    for (int r = 1; r < p; r++) {
        snprintf(rk, sizeof rk, "%s.%d.et", prefix, r);
        assert_true(inode(r0) == inode(rk));
    }
    loom_err err = {0};
    et_graph *g = et_graph_load(r0, &err);
    assert_non_null(g);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->nodes[0].type, ET_COMM_COLL_NODE);
    assert_int_equal(g->nodes[0].comm_size, 1048576);
    et_graph_free(g);
    rc = loomrun_run(loomrun_tmp, "run", "-w", prefix, "-n", net, "-s", sys, "-j", json, "-q", NULL);
    expect_exit(rc, 0, NULL);
    double got = loomrun_step_ns(json);
    if (fabs(got - expect) > 0.002)
        fail_msg("%s on %d ranks: loom %.3f ns, closed form %.3f ns", coll, p, got, expect);
}

static void test_micro(void **state)
{
    (void)state;
    double B = 50 * GIB, L = 500, d = 10, M = 1600e9, N = 1048576;
    /* the generated system file: 1 split, ring everywhere */
    micro("all_reduce", 8, ring_ar(8, N, B, L, d, M, 1));
    /* RS: (p-1)(L + d) + (p-1)/p N/B + (p-1) 3 (N/p)/M */
    micro("reduce_scatter", 4, 3 * (L + d) + 0.75 * N / B * 1e9 + 3 * 3 * (N / 4) / M * 1e9);
    /* AG: comm_size is each rank's part, output p N: (p-1)(L + d) + (p-1) N/B */
    micro("all_gather", 4, 3 * (L + d) + 3 * N / B * 1e9);
    /* A2A on a ring: p(p-1)/2 steps of N/p */
    micro("all_to_all", 4, 6 * ((L + d) + (N / 4) / B * 1e9));
}

static void test_micro_errors(void **state)
{
    (void)state;
    const char *o = tp("bad/x");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_sum", "-b", "1", "-r", "2", "-o", o, NULL), 2,
                "--collective 'all_sum'");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "12XB", "-r", "2", "-o", o, NULL),
                2, "--size '12XB'");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "9000000TiB", "-r", "2", "-o", o,
                         NULL), 2, "--size '9000000TiB'");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "0", "-o", o, NULL), 2,
                "--ranks '0'");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "1", "-o", o, NULL), 2,
                "needs --collective, --size, --ranks and --out");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "2", "-o", o,
                         "--bandwidth", "5", NULL), 2, "--network-out");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "nano", NULL), 2, "unknown generator 'nano'");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "micro", "--help", NULL), 0, "--collective OP");
    assert_non_null(strstr(loomrun_out, "KiB/MiB/GiB"));
    expect_exit(loomrun_run(loomrun_tmp, "gen", "--help", NULL), 0, "llm");
}

/* ---- devices -------------------------------------------------------------- */

static void test_devices(void **state)
{
    (void)state;
    expect_exit(loomrun_run(loomrun_tmp, "devices", NULL), 0, "TFLOP/s");
    const char *names[] = {"a100-40g", "a100-80g", "h100-sxm", "h200", "b200", "mi300x"};
    for (int i = 0; i < 6; i++)
        assert_non_null(strstr(loomrun_out, names[i]));
    assert_non_null(strstr(loomrun_out, "GiB"));
    expect_exit(loomrun_run(loomrun_tmp, "devices", "--sources", NULL), 0, "datasheet");
    expect_exit(loomrun_run(loomrun_tmp, "devices", "--help", NULL), 0, "--devices FILE");
    put("bad.yaml", "x:\n  description: d\n  colour: red\n");
    expect_exit(loomrun_run(loomrun_tmp, "devices", "--devices", tp("bad.yaml"), NULL), 2, "unknown key 'colour'");
    expect_exit(loomrun_run(loomrun_tmp, "devices", "--frobnicate", NULL), 2, "unknown option");
}

/* ---- gen llm -------------------------------------------------------------- */



/*
 * GPT-style (GELU, biases, tied embeddings, standard attention), bf16 with
 * fp32 gradients, tp 2 pp 2 dp 2, 4 microbatches of 256 tokens:
 *   TP all-reduce of T*h*e = 256*1024*2 = 524288 bytes: per microbatch the
 *     embedding (stage 0) 1, each layer 2 forward + 2 backward, the output
 *     layer's input gradient (stage 1) 1; the vocab-parallel loss 3 of
 *     T*4 = 1024 bytes (stage 1);
 *   DP all-reduce of the stage's gradients in fp32: stage 0 7087616
 *     parameters (embedding 786432 + layer 6301184) = 28350464 bytes,
 *     stage 1 6827520 (layer + final LayerNorm 2048 + output copy 524288)
 *     = 27310080 bytes; the tied-embedding all-reduce 512*1024*4 = 2097152;
 *   pipeline: each rank sends its 1/tp slice T*h*e/2 = 262144 bytes per
 *     microbatch and the receiver all-gathers it over TP (Megatron's
 *     scatter-gather).
 */
static void test_llm_counts(void **state)
{
    (void)state;
    const char *pre = tp("llm/s");
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--out", pre, NULL);
    expect_exit(rc, 0, "memory per rank");
    for (int r = 0; r < 8; r++) {
        char path[640];
        snprintf(path, sizeof path, "%s.%d.et", pre, r);
        tally t = count(path);
        int stage = r / 4;
        if (stage == 0) {
            assert_int_equal(t.colls[ET_ALL_REDUCE], 4 * (1 + 4) + 1 + 1);
            assert_true(t.bytes[ET_ALL_REDUCE] == 20 * 524288.0 + 28350464 + 2097152);
            assert_int_equal(t.sends, 4); /* activations forward */
            assert_int_equal(t.recvs, 4); /* gradients back */
        } else {
            assert_int_equal(t.colls[ET_ALL_REDUCE], 4 * (4 + 1 + 3) + 1 + 1);
            assert_true(t.bytes[ET_ALL_REDUCE] == 20 * 524288.0 + 12 * 1024.0 + 27310080 + 2097152);
        }
        assert_int_equal(t.colls[ET_ALL_GATHER], 4);
        assert_true(t.bytes[ET_ALL_GATHER] == 4 * 262144.0);
        assert_true(t.send_bytes == 4 * 262144.0 && t.recv_bytes == 4 * 262144.0);
        assert_int_equal(t.colls[ET_REDUCE_SCATTER], 0);
    }
    /* the same model with sequence parallelism: each all-reduce becomes a
     * reduce-scatter (input T*h*e) and an all-gather of the rank's part
     * (T/t*h*e = 262144); the pipeline sends the rank's sequence shard */
    const char *sp = tp("llm/sp");
    rc = loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--out", sp, "-q", NULL);
    expect_exit(rc, 0, NULL);
    char p0[640];
    snprintf(p0, sizeof p0, "%s.0.et", sp);
    tally t = count(p0);
    /* stage 0: RS: embedding 1 + layer fwd 2 + bwd 2 per microbatch */
    assert_int_equal(t.colls[ET_REDUCE_SCATTER], 4 * 5);
    assert_true(t.bytes[ET_REDUCE_SCATTER] == 20 * 524288.0);
    /* AG per microbatch: layer fwd 2 (QKV's and FC1's inputs), bwd 2 (the
     * row-parallel layers' output gradients) + 2 (QKV's and FC1's inputs
     * again, for their weight gradients: the rank keeps its shard), the
     * embedding's backward 1 */
    assert_int_equal(t.colls[ET_ALL_GATHER], 4 * 7);
    assert_true(t.bytes[ET_ALL_GATHER] == 28 * 262144.0);
    /* all-reduces: DP, embedding, and the once-a-step sum over TP of the
     * gradients SP leaves partial (finalize_model_grads): stage 0's layer
     * has 2 LayerNorms (weight and bias, 2h each) and 2 row-parallel biases
     * (h each), 6h = 6144 parameters at 4 bytes; the last stage adds the
     * final LayerNorm's 2h */
    assert_int_equal(t.colls[ET_ALL_REDUCE], 3);
    assert_true(t.bytes[ET_ALL_REDUCE] == 28350464 + 2097152 + 6 * 1024 * 4.0);
    snprintf(p0, sizeof p0, "%s.4.et", sp);
    t = count(p0);
    assert_int_equal(t.colls[ET_ALL_REDUCE], 4 * 3 + 3); /* + the loss's 3 a microbatch */
    /* the last stage's AG per microbatch: its layer's 6 (as above), the
     * output layer's input forward and again for its weight gradient */
    assert_int_equal(t.colls[ET_ALL_GATHER], 4 * 8);
    assert_true(t.bytes[ET_ALL_GATHER] == 32 * 262144.0);
    assert_true(t.bytes[ET_ALL_REDUCE] == 12 * 1024.0 + 27310080 + 2097152 + 8 * 1024 * 4.0);
    /* ZeRO 1: the DP all-reduce becomes reduce-scatter + all-gather of the
     * bf16 parameters' share 7087616 / 2 * 2 bytes */
    const char *z = tp("llm/z1");
    rc = loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--zero", "1", "--out", z, "-q", NULL);
    expect_exit(rc, 0, NULL);
    snprintf(p0, sizeof p0, "%s.0.et", z);
    t = count(p0);
    assert_int_equal(t.colls[ET_REDUCE_SCATTER], 1);
    assert_true(t.bytes[ET_REDUCE_SCATTER] == 28350464.0);
    assert_int_equal(t.colls[ET_ALL_GATHER], 4 + 1);
    assert_true(t.bytes[ET_ALL_GATHER] == 4 * 262144.0 + 7087616.0);
    /* 4 MiB gradient buckets: whole layers are packed until a bucket
     * reaches 4 MiB; stage 0's units (layer 25204736 bytes, embedding
     * 3145728) make two buckets */
    const char *bk = tp("llm/bk");
    rc = loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--grad-bucket", "4MiB", "--overlap-grad-reduce", "--out", bk,
                  "-q", NULL);
    expect_exit(rc, 0, NULL);
    snprintf(p0, sizeof p0, "%s.0.et", bk);
    t = count(p0);
    assert_int_equal(t.colls[ET_ALL_REDUCE], 20 + 2 + 1);
}

/* --overlap-grad-reduce without --grad-bucket: Megatron-Core's buckets of
 * max(40 M, 1 M x dp) parameters in the first local model chunk, one bucket
 * in each later chunk.  16 layers of h 1024, f 4096 at tp 1: L = 12,596,224
 * parameters a layer (3h^2 + 3h, h^2 + h, hf + f, fh + h, two norms of 2h);
 * the head (output layer or, tied, the final norm) is under one layer, the
 * embedding 1024 x 1024 + 256 x 1024 = 1,310,720.  Backward order, head
 * first: at dp 2 (40 M) a bucket closes at head + 4L, then every 4L (3L =
 * 37.8 M < 40 M), and the embedding alone: 5 all-reduces; at dp 96 (96 M)
 * at head + 8L (7L = 88.2 M), 8L, the embedding: 3; --grad-bucket 0: one.
 * Interleaved over pp 2 with 2 chunks (4 layers a virtual stage): rank 0's
 * first chunk closes at 4L (50.4 M) and again at the embedding, its second
 * is one bucket, and the tied embedding's all-reduce with the last stage
 * (pp > 1) adds one: 4 (3 with --grad-bucket 0). */
static void test_llm_mcore_buckets(void **state)
{
    (void)state;
    static const struct {
        const char *name, *dp, *pp, *bucket;
        int interleaved, want;
    } cs[] = {
        {"mb/dp2", "2", "1", NULL, 0, 5},  {"mb/dp96", "96", "1", NULL, 0, 3},
        {"mb/b0", "2", "1", "0", 0, 1},    {"mb/il", "2", "2", NULL, 1, 4},
        {"mb/il0", "2", "2", "0", 1, 3},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const char *pre = tp(cs[i].name);
        const char *argv[40] = {"gen", "llm", "--hidden", "1024", "--ffn", "4096", "--heads", "16",
                                "--layers", "16", "--seq", "256", "--vocab", "1000", "--tp", "1",
                                "--pp", cs[i].pp, "--dp", cs[i].dp, "--global-batch", "192",
                                "--overlap-grad-reduce", "--out", pre, "-q"};
        int n = 26;
        if (cs[i].bucket) {
            argv[n++] = "--grad-bucket";
            argv[n++] = cs[i].bucket;
        }
        if (cs[i].interleaved) {
            argv[n++] = "--schedule";
            argv[n++] = "interleaved";
            argv[n++] = "--virtual-stages";
            argv[n++] = "2";
        }
        argv[n] = NULL;
        expect_exit(loomrun_wait(loomrun_tmp, loomrun_startv(loomrun_tmp, argv)), 0, NULL);
        char p0[640];
        snprintf(p0, sizeof p0, "%s.0.et", pre);
        tally t = count(p0);
        if (t.colls[ET_ALL_REDUCE] != cs[i].want)
            fail_msg("%s: %d gradient all-reduces, expected %d", cs[i].name,
                     t.colls[ET_ALL_REDUCE], cs[i].want);
    }
    /* An explicit bucket is a count of parameters for the parameter
     * gathers too: SMALL's stage 0 with --grad-bucket 16 MB of fp32
     * gradients (4 M parameters): its layer (6,301,184) closes a bucket,
     * the embedding (786,432) is the other, so two gathers of 786,432 and
     * 6,301,184 bytes (bf16 over dp 2), not one of 16 MB at the weight
     * width (8 M parameters, which would hold both) */
    const char *pg = tp("mb/pg");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--zero", "1", "--grad-bucket", "16MB",
                            "--overlap-grad-reduce", "--overlap-param-gather", "--out", pg, "-q",
                            NULL), 0, NULL);
    char p0[640];
    snprintf(p0, sizeof p0, "%s.0.et", pg);
    tally t = count(p0);
    assert_int_equal(t.colls[ET_REDUCE_SCATTER], 2);
    assert_int_equal(t.colls[ET_ALL_GATHER], 4 + 2); /* the 4 of test_llm_counts, and these */
    assert_true(t.bytes[ET_ALL_GATHER] - 4 * 262144.0 == 786432.0 + 6301184.0);
}

/* Communication streams: by default every collective and send carries
 * loom's `stream` attribute, one stream per communicator (so replay runs
 * TP, DP and PP communication side by side, as Megatron-LM does);
 * --comm-streams shared writes none (one communication stream per rank).
 * --overlap-param-gather (ZeRO 1) moves the gather of the updated
 * parameters to the start of the step, in the gradients' buckets (formed
 * from the output end): stage 0's layer (6301184 parameters, 12602368 bf16
 * bytes, over the 4 MiB bucket) closes one, the embedding (786432
 * parameters) is the remainder, and the forward needs it first: the file's
 * first node gathers each rank's share 786432 x 2 / dp 2 = 786432 bytes, the
 * second 6301184, neither with a dependency, each waited for by one kernel
 * (the embedding's first, the layer's); nothing is gathered after the
 * optimizer any more. */
static void test_llm_streams(void **state)
{
    (void)state;
    const char *pre = tp("st/s"), *sh = tp("st/sh"), *op = tp("st/op");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--out", pre, "-q", NULL), 0, NULL);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--comm-streams", "shared", "--out", sh, "-q",
                            NULL), 0, NULL);
    char path[640];
    loom_err err = {0};
    snprintf(path, sizeof path, "%s.0.et", pre);
    et_graph *g = et_graph_load(path, &err);
    assert_non_null(g);
    uint16_t of_pg[16] = {0};
    int npg = 0;
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        if (n->type != ET_COMM_COLL_NODE && n->type != ET_COMM_SEND_NODE) {
            assert_int_equal(n->stream, 0);
            continue;
        }
        assert_true(n->stream > 0 && n->pg < 16);
        if (of_pg[n->pg] == 0) {
            of_pg[n->pg] = n->stream;
            npg++;
        }
        assert_int_equal(of_pg[n->pg], n->stream); /* one stream per communicator */
    }
    assert_int_equal(g->nstreams, npg);
    assert_true(npg >= 3); /* tp, dp, pp at least */
    et_graph_free(g);
    snprintf(path, sizeof path, "%s.0.et", sh);
    g = et_graph_load(path, &err);
    assert_non_null(g);
    assert_int_equal(g->nstreams, 0);
    et_graph_free(g);

    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--zero", "1", "--grad-bucket", "4MiB",
                            "--overlap-param-gather", "--out", op, "-q", NULL), 0, NULL);
    snprintf(path, sizeof path, "%s.0.et", op);
    g = et_graph_load(path, &err);
    assert_non_null(g);
    static const char *const agname[2] = {"c0.param_ag.b0", "c0.param_ag.b1"};
    static const uint64_t agsize[2] = {786432, 6301184};
    for (int b = 0; b < 2; b++) {
        const et_gnode *ag = &g->nodes[b];
        assert_string_equal(et_gnode_name(g, ag), agname[b]);
        assert_int_equal(ag->type, ET_COMM_COLL_NODE);
        assert_int_equal(ag->comm_type, ET_ALL_GATHER);
        assert_true(ag->comm_size == agsize[b]);
        assert_int_equal(ag->ndata, 0);
        int waits = 0;
        for (uint32_t k = 0; k < ag->nsucc_data; k++)
            waits += g->nodes[g->succ[ag->succ + k]].type == ET_COMP_NODE;
        assert_int_equal(waits, 1);
    }
    int late = 0;
    for (size_t i = 2; i < g->n; i++)
        late += strstr(et_gnode_name(g, &g->nodes[i]), "param_ag") != NULL;
    assert_int_equal(late, 0);
    et_graph_free(g);
    put("st/net.yml", "topology: [ Switch, Switch ]\nnpus_count: [ 4, 2 ]\nbandwidth: [ 400, 50 ]\n"
                      "latency: [ 500, 2000 ]\n");
    const char *pres[3] = {pre, sh, op};
    for (int k = 0; k < 3; k++) {
        char sys[640];
        snprintf(sys, sizeof sys, "%s.system.yaml", pres[k]);
        int rc = loomrun_run(loomrun_tmp, "run", "-w", pres[k], "-s", sys, "-n", tp("st/net.yml"), "-q", NULL);
        if (rc != 0)
            fail_msg("%s: loom run exited %d: %s", pres[k], rc, loomrun_err);
    }
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--overlap-param-gather", "--out", op, NULL), 2,
                "--overlap-param-gather needs --zero 1 or 2");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--comm-streams", "two", "--out", op, NULL), 2,
                "--comm-streams 'two'");
}

/* Rank `rank`'s trace of the gen llm output at tp(pre), loaded. */
static et_graph *load_rank(const char *pre, int rank) { return load_prefix(tp(pre), rank); }

/* Layouts that trained (docs/WORKLOADS.md, "Memory estimate", cites each):
 * the estimate must not flag them.  Llama 3 405B at 8K tokens as Meta ran
 * it (TP8 PP16 DP64 on 80 GB H100s, FSDP: gradients and optimizer state
 * sharded, parameters not resharded after the forward: --zero 2) and at
 * 128K tokens (TP8 CP16 PP16 DP8), GPT 1T
 * of Narayanan et al. 2021 (TP8 PP64 DP6, full recomputation, A100 80GB),
 * MT-NLG 530B (TP8 PP35 DP8, ZeRO 1, fp16). */
static void test_llm_memory_published(void **state)
{
    (void)state;
    struct { const char *name; const char *args[32]; } runs[] = {
        {"l405", {"--preset", "llama3-405b", "--tp", "8", "--pp", "16", "--dp", "64", "--seq", "8192",
                  "--global-batch", "1024", "--sequence-parallel", "--zero", "2", "--device",
                  "h100-sxm", NULL}},
        /* the paper's layout (sec. 3.3.2): 8 one-layer chunks a stage, the
         * embedding and the loss counted as layers, 32 microbatches at DP64 */
        {"l405v8", {"--preset", "llama3-405b", "--tp", "8", "--pp", "16", "--dp", "64",
                    "--global-batch", "2048", "--sequence-parallel", "--zero", "2", "--schedule",
                    "interleaved", "--virtual-stages", "8",
                    "--account-for-embedding-in-pipeline-split",
                    "--account-for-loss-in-pipeline-split", "--device", "h100-sxm", NULL}},
        {"l405cp", {"--preset", "llama3-405b", "--tp", "8", "--cp", "16", "--pp", "16", "--dp", "8",
                    "--seq", "131072", "--global-batch", "128", "--sequence-parallel", "--zero", "2",
                    "--device", "h100-sxm", NULL}},
        {"g1t", {"--preset", "gpt3-175b", "--hidden", "25600", "--ffn", "102400", "--heads", "160",
                 "--layers", "128", "--seq", "2048", "--vocab", "51200", "--tp", "8", "--pp", "64",
                 "--dp", "6", "--global-batch", "3072", "--recompute", "full", "--device",
                 "a100-80g", NULL}},
        {"mtnlg", {"--preset", "mt-nlg-530b", "--tp", "8", "--pp", "35", "--dp", "8", "--global-batch",
                   "1920", "--recompute", "full", "--zero", "1", "--dtype", "fp16", "--device",
                   "a100-80g", NULL}},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        const char *argv[40] = {"gen", "llm"};
        int n = 2;
        for (int k = 0; runs[i].args[k]; k++)
            argv[n++] = runs[i].args[k];
        char out[600];
        snprintf(out, sizeof out, "%s/mem/%s", loomrun_tmp, runs[i].name);
        argv[n++] = "--out";
        argv[n++] = out;
        argv[n] = NULL;
        int rc = loomrun_wait(loomrun_tmp, loomrun_startv(loomrun_tmp, argv));
        expect_exit(rc, 0, "memory per rank");
        if (strstr(loomrun_out, "DOES NOT FIT"))
            fail_msg("%s: a layout that trained is flagged:\n%s", runs[i].name, loomrun_out);
        if (strcmp(runs[i].name, "l405v8") == 0 &&
            !strstr(loomrun_out, "(embedding and loss counted as layers: 0 in the first chunk, "
                                 "0 in the last)"))
            fail_msg("the summary does not say what the split did:\n%s", loomrun_out);
    }
}

/*
 * Context parallelism, --cp 2 --cp-comm all-gather on the SMALL model with
 * flash attention (16 ranks = tp 2 x cp 2 x pp 2 x dp 2; 4 microbatches: global batch 8 /
 * dp 2): each rank holds T = 256 / 2 = 128 tokens.  Stage 0 (one layer),
 * per microbatch: the forward all-gathers its K and V over the cp group,
 * 2 T (g/tp) d e = 2 x 128 x 8 x 64 x 2 = 262144 bytes, and the backward
 * gathers them again and reduce-scatters the whole sequence's dK, dV,
 * 2 x 128 x 2 x 8 x 64 x 2 = 524288 bytes: 8 all-gathers and 4
 * reduce-scatters on "cp"; the TP all-reduces carry T h e = 262144 bytes
 * (half of SMALL's 524288); gradients are reduced over dp x cp = 4 ranks.
 */
static void test_llm_cp(void **state)
{
    (void)state;
    const char *pre = tp("cp/s");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention", "flash", "--cp", "2",
                            "--cp-comm", "all-gather", "--out", pre, NULL),
                0, "16 ranks = tp 2 x cp 2 x pp 2 x dp 2");
    char path[640];
    loom_err err = {0};
    snprintf(path, sizeof path, "%s.0.et", pre);
    et_graph *g = et_graph_load(path, &err);
    assert_non_null(g);
    int ag = 0, rs = 0, ar_tp = 0;
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        const char *nm = et_gnode_name(g, n), *pg = g->pg_names[n->pg];
        if (strstr(nm, "ag_kv_cp")) {
            ag++;
            assert_true(n->comm_size == 262144 && strcmp(pg, "cp") == 0);
        } else if (strstr(nm, "rs_dkv_cp")) {
            rs++;
            assert_true(n->comm_size == 524288 && n->comm_type == ET_REDUCE_SCATTER);
        } else if (n->type == ET_COMM_COLL_NODE && strcmp(pg, "tp") == 0 &&
                   n->comm_type == ET_ALL_REDUCE) {
            ar_tp++;
            assert_true(n->comm_size == 262144);
        }
    }
    assert_int_equal(ag, 8);
    assert_int_equal(rs, 4);
    assert_true(ar_tp > 0);
    et_graph_free(g);
    snprintf(path, sizeof path, "%s.comm.json", pre);
    json_error_t je;
    json_t *groups = json_load_file(path, 0, &je);
    assert_non_null(groups);
    json_t *dp = json_object_get(groups, "dp"), *cp = json_object_get(groups, "cp");
    assert_non_null(dp);
    assert_non_null(cp);
    assert_int_equal(json_integer_value(json_object_get(dp, "size")), 4);
    assert_int_equal(json_integer_value(json_object_get(dp, "stride")), 2);
    assert_int_equal(json_integer_value(json_object_get(cp, "size")), 2);
    assert_int_equal(json_integer_value(json_object_get(cp, "stride")), 2);
    json_decref(groups);
    put("cp/net.yml", "topology: [ Switch, Switch ]\nnpus_count: [ 4, 4 ]\nbandwidth: [ 400, 50 ]\n"
                      "latency: [ 500, 2000 ]\n");
    char sys[640];
    snprintf(sys, sizeof sys, "%s.system.yaml", pre);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", pre, "-s", sys, "-n", tp("cp/net.yml"), "-q", NULL);
    if (rc != 0)
        fail_msg("loom run exited %d: %s", rc, loomrun_err);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention", "flash", "--cp", "3", "--out",
                            pre, NULL), 2, "--cp 3 does not divide --seq 256");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention", "standard", "--cp", "2",
                            "--out", pre, NULL), 2, "needs --attention flash");
}

/* Role-named communicators: the four ranks of a stage share one file. */
static void test_llm_roles(void **state)
{
    (void)state;
    const char *pre = tp("role/s");
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--groups", "role", "--out", pre, NULL);
    expect_exit(rc, 0, "2 written, 6 hard links");
    char a[640], b[640];
    for (int r = 1; r < 8; r++) {
        snprintf(a, sizeof a, "%s.%d.et", pre, r / 4 * 4);
        snprintf(b, sizeof b, "%s.%d.et", pre, r);
        assert_true(inode(a) == inode(b));
    }
    snprintf(a, sizeof a, "%s.0.et", pre);
    snprintf(b, sizeof b, "%s.4.et", pre);
    assert_true(inode(a) != inode(b));
    loom_err err = {0};
    et_graph *g = et_graph_load(a, &err);
    assert_non_null(g);
    int seen_tp = 0, seen_pp = 0;
    for (uint32_t i = 0; i < g->npg; i++) {
        seen_tp |= strcmp(g->pg_names[i], "tp") == 0;
        seen_pp |= strcmp(g->pg_names[i], "pp") == 0;
    }
    assert_true(seen_tp && seen_pp);
    for (size_t i = 0; i < g->n; i++) /* stage 0 sends to pp index 1 */
        if (g->nodes[i].type == ET_COMM_SEND_NODE)
            assert_int_equal(g->nodes[i].comm_dst, 1);
    et_graph_free(g);
    char groups[1024];
    loomrun_slurp(tp("role/s.comm.json"), groups, sizeof groups);
    assert_non_null(strstr(groups, "\"tp\": {\"stride\": 1, \"size\": 2}"));
    assert_non_null(strstr(groups, "\"dp\": {\"stride\": 2, \"size\": 2}"));
    assert_non_null(strstr(groups, "\"pp\": {\"stride\": 4, \"size\": 2}"));
    assert_non_null(strstr(groups, "\"emb\": {\"stride\": 4, \"size\": 2}"));
}

/* The members of rank r's group `name` under the role rule of
 * docs/WORKLOADS.md: base = r - ((r / S) mod N) S, members base + k S. */
static void role_members(json_t *groups, const char *name, int r, int *out, int *n)
{
    json_t *g = json_object_get(groups, name);
    assert_non_null(g);
    int S = (int)json_integer_value(json_object_get(g, "stride"));
    int N = (int)json_integer_value(json_object_get(g, "size"));
    int base = r - ((r / S) % N) * S;
    for (int k = 0; k < N; k++)
        out[k] = base + k * S;
    *n = N;
}

static void list_members(json_t *groups, const char *name, int *out, int *n)
{
    json_t *g = json_object_get(groups, name);
    if (g == NULL)
        fail_msg("explicit group %s missing", name);
    *n = (int)json_array_size(g);
    for (int k = 0; k < *n; k++)
        out[k] = (int)json_integer_value(json_array_get(g, k));
}

/* Role naming means exactly what explicit naming says: for every rank, node
 * by node, the role rule resolves each collective to the same members as
 * the explicit group, and each pp index to the same peer rank.  This is
 * the contract replay must implement (WORKLOADS.md). */
static void test_roles_equal_explicit(void **state)
{
    (void)state;
    const char *ex = tp("eq/x"), *ro = tp("eq/r");
    /* MoE (ep, edp), tied embeddings (emb), interleaving, ZeRO 1, SP */
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "mixtral-8x7b", "--layers", "8", "--seq", "512",
                      "--tp", "2", "--pp", "4", "--dp", "4", "--ep", "2", "--schedule", "interleaved",
                      "--virtual-stages", "2", "--global-batch", "16", "--zero", "1",
                      "--sequence-parallel", "--embeddings", "tied", "--groups", "explicit", "--out",
                      ex, "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "mixtral-8x7b", "--layers", "8", "--seq", "512", "--tp",
                  "2", "--pp", "4", "--dp", "4", "--ep", "2", "--schedule", "interleaved",
                  "--virtual-stages", "2", "--global-batch", "16", "--zero", "1",
                  "--sequence-parallel", "--embeddings", "tied", "--groups", "role", "--out", ro, "-q",
                  NULL);
    expect_exit(rc, 0, NULL);
    json_error_t je;
    json_t *gx = json_load_file(tp("eq/x.comm.json"), 0, &je);
    json_t *gr = json_load_file(tp("eq/r.comm.json"), 0, &je);
    assert_non_null(gx);
    assert_non_null(gr);
    int roles_seen = 0;
    for (int r = 0; r < 32; r++) {
        char pe[640], pr[640];
        snprintf(pe, sizeof pe, "%s.%d.et", ex, r);
        snprintf(pr, sizeof pr, "%s.%d.et", ro, r);
        loom_err err = {0};
        et_graph *E = et_graph_load(pe, &err), *R = et_graph_load(pr, &err);
        assert_non_null(E);
        assert_non_null(R);
        assert_int_equal(E->n, R->n);
        for (size_t i = 0; i < E->n; i++) {
            const et_gnode *a = &E->nodes[i], *b = &R->nodes[i];
            assert_int_equal(a->type, b->type);
            assert_int_equal(a->comm_size, b->comm_size);
            assert_int_equal(a->num_ops, b->num_ops);
            if (a->type == ET_COMM_COLL_NODE) {
                int m1[64], m2[64], n1, n2;
                list_members(gx, E->pg_names[a->pg], m1, &n1);
                role_members(gr, R->pg_names[b->pg], r, m2, &n2);
                assert_int_equal(n1, n2);
                for (int k = 0; k < n1; k++)
                    assert_int_equal(m1[k], m2[k]);
                roles_seen |= 1 << (R->pg_names[b->pg][0] - 'a');
            } else if (a->type == ET_COMM_SEND_NODE || a->type == ET_COMM_RECV_NODE) {
                int m[64], n;
                role_members(gr, R->pg_names[b->pg], r, m, &n);
                int k = a->type == ET_COMM_SEND_NODE ? b->comm_dst : b->comm_src;
                int want = a->type == ET_COMM_SEND_NODE ? a->comm_dst : a->comm_src;
                assert_true(k >= 0 && k < n);
                assert_int_equal(m[k], want);
                assert_int_equal(a->comm_tag, b->comm_tag);
            }
        }
        et_graph_free(E);
        et_graph_free(R);
    }
    /* tp, dp, ep, edp, emb all occurred */
    assert_true(roles_seen & (1 << ('t' - 'a')));
    assert_true(roles_seen & (1 << ('d' - 'a')));
    assert_true(roles_seen & (1 << ('e' - 'a')));
    json_decref(gx);
    json_decref(gr);
}

/*
 * The optimizer step as Megatron-LM's mixed-precision optimizer runs it
 * (docs/WORKLOADS.md, "The step's optimizer kernels"), on SMALL's stage 0
 * (7087616 parameters, bf16 weights, fp32 gradients, dp 2), one node a
 * kernel: zero_grad first, with no dependency, over the whole fp32
 * gradient buffer (4 x 7087616 bytes; ZeRO 2 shards it: / 2); at the end
 * grad_norm (4 bytes a parameter owned), Adam (4 + 24), param_copy (fp32
 * read, bf16 written: 6), on the 7087616 parameters the rank owns, or
 * 7087616 / 2 under ZeRO 1 and 2; fp32 training has no param_copy.  With
 * bf16 gradients the buffer is 2 bytes a parameter and the owned shard is
 * first copied to fp32 (grad_copy: 2 + 4).
 */
static double node_bytes(const et_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(et_gnode_name(g, &g->nodes[i]), name) == 0)
            return (double)g->nodes[i].tensor_size;
    return -1;
}

static void test_llm_optimizer_step(void **state)
{
    (void)state;
    const double P = 7087616;
    static const struct {
        const char *zero, *dtype, *grad;
        double held, own, copy, eg;
    } c[] = {{"0", "bf16", "fp32", 1, 1, 6, 4}, {"1", "bf16", "fp32", 1, 0.5, 6, 4},
             {"2", "bf16", "fp32", 0.5, 0.5, 6, 4}, {"0", "fp32", "fp32", 1, 1, -1, 4},
             {"1", "bf16", "bf16", 1, 0.5, 6, 2}};
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        char pre[64];
        snprintf(pre, sizeof pre, "opt/z%s%s%s", c[k].zero, c[k].dtype, c[k].grad);
        expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--zero", c[k].zero, "--dtype",
                                c[k].dtype, "--grad-dtype", c[k].grad, "--granularity", "kernel",
                                "--out", tp(pre), "-q", NULL),
                    0, NULL);
        et_graph *g = load_rank(pre, 0);
        const et_gnode *z = &g->nodes[0];
        assert_string_equal(et_gnode_name(g, z), "S0.zero_grad");
        assert_int_equal(z->type, ET_COMP_NODE);
        assert_int_equal(z->ndata + z->nctrl, 0);
        assert_true(node_bytes(g, "S0.zero_grad") == c[k].eg * P * c[k].held);
        /* 16-bit gradients: copied to fp32 first (e_g read, 4 written) */
        assert_true(node_bytes(g, "S0.grad_copy") == (c[k].eg < 4 ? (2 + 4) * P * c[k].own : -1));
        assert_true(node_bytes(g, "S0.grad_norm") == 4 * P * c[k].own);
        assert_true(node_bytes(g, "S0.optimizer") == 28 * P * c[k].own);
        assert_true(node_bytes(g, "S0.param_copy") == (c[k].copy < 0 ? -1 : c[k].copy * P * c[k].own));
        /* the first optimizer kernel waits for the data-parallel gradient
         * all-reduce and, on this tied-embedding first stage, for the
         * embeddings' all-reduce, which runs on a stream of its own */
        if (c[k].zero[0] == '0') {
            const et_gnode *first = named(g, c[k].eg < 4 ? "S0.grad_copy" : "S0.grad_norm");
            assert_true(depends(g, first, named(g, "embed_grad_ar")));
            int on_dp = 0;
            for (uint32_t d = 0; d < first->ndata; d++) {
                const et_gnode *n = &g->nodes[g->deps[first->dep + d]];
                on_dp += n->type == ET_COMM_COLL_NODE && strstr(et_gnode_name(g, n), "grad_ar");
            }
            assert_int_equal(on_dp, 2); /* the DP grad_ar and embed_grad_ar */
        }
        /* grad_norm, optimizer and param_copy come in that order */
        const char *last[3] = {"S0.grad_norm", "S0.optimizer", "S0.param_copy"};
        int seen = 0;
        for (size_t i = 0; i < g->n; i++) {
            const char *nm = et_gnode_name(g, &g->nodes[i]);
            if (seen < 3 && strcmp(nm, last[seen]) == 0)
                seen++;
        }
        assert_int_equal(seen, c[k].copy < 0 ? 2 : 3);
        et_graph_free(g);
    }
}

/*
 * --optimizer foreach (PyTorch's path, docs/WORKLOADS.md): no zero_grad
 * (set_to_none) and no fp32 copy of 16-bit gradients; grad_norm reads the
 * gradients and scales them (3 e_g a parameter owned), AdamW's eight
 * passes move 72 + 2 e_g (fp32 gradients: 80), param_copy as before.
 * SMALL's rank 0 owns its 7087616 parameters at ZeRO 0.  Any other value
 * is a usage error.
 */
static void test_llm_optimizer_foreach(void **state)
{
    (void)state;
    const double P = 7087616;
    for (int eg = 2; eg <= 4; eg += 2) {
        char pre[64];
        snprintf(pre, sizeof pre, "optfe/g%d", eg);
        expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--optimizer", "foreach",
                                "--grad-dtype", eg == 4 ? "fp32" : "bf16", "--granularity",
                                "kernel", "--out", tp(pre), "-q", NULL), 0, NULL);
        et_graph *g = load_rank(pre, 0);
        assert_true(node_bytes(g, "S0.zero_grad") == -1);
        assert_true(node_bytes(g, "S0.grad_copy") == -1);
        assert_true(node_bytes(g, "S0.grad_norm") == 3 * eg * P);
        assert_true(node_bytes(g, "S0.optimizer") == (72 + 2 * eg) * P);
        assert_true(node_bytes(g, "S0.param_copy") == 6 * P);
        et_graph_free(g);
    }
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--optimizer", "adam", "--out",
                            tp("optfe/bad"), NULL), 2, "--optimizer 'adam': expected fused or foreach");
}

/*
 * A step end to end: tp 1, pp 1, dp 2, one layer, one microbatch.  Every
 * compute node runs one after another on a rank; the gradient all-reduce
 * waits for the last backward kernel and the optimizer for the all-reduce.
 * So the step is the sum of the compute nodes' roofline times plus the
 * all-reduce's closed form.  Generated with --compute-model roofline (the
 * kernel model, gen llm's default, is test/e2e/test_kernel.c's); the
 * roofline with the H100's curve (docs/DEVICES.md): t = 4 us + max(F / (989.5e12 * 0.801), B / (3350e9 * 0.9)),
 * both curves having a 4 us overhead.
 */
static void test_llm_step(void **state)
{
    (void)state;
    const char *pre = tp("step/s");
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", "--hidden", "256", "--ffn", "1024", "--heads", "4", "--layers",
                      "1", "--seq", "128", "--vocab", "512", "--dp", "2", "--device", "h100-sxm",
                      "--compute-model", "roofline", "--out", pre, "-q", NULL);
    expect_exit(rc, 0, NULL);
    put("step/net.yml", "topology: [ Switch ]\nnpus_count: [ 2 ]\nbandwidth: [ 100 ]\n"
                        "latency: [ 1000 ]\n");
    /* at link rate: the system file's comm-efficiency (NCCL's achieved
     * NVLink bandwidth, which gen llm writes for the H100) is checked by
     * test/network/test_eff.c and e2e.eff; here the closed form alone */
    rc = loomrun_run(loomrun_tmp, "run", "-w", pre, "-s", tp("step/s.system.yaml"), "-n", tp("step/net.yml"),
                     "--set", "system.comm-efficiency=[none]", "-j", tp("step/out.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    char r0[640];
    snprintf(r0, sizeof r0, "%s.0.et", pre);
    loom_err err = {0};
    et_graph *g = et_graph_load(r0, &err);
    assert_non_null(g);
    double sum = 0, N = -1;
    int colls = 0;
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        if (n->type == ET_COMP_NODE) {
            double tf = (double)n->num_ops / (989.5e12 * 0.801);
            double tm = (double)n->tensor_size / (3350e9 * 0.9);
            sum += 4e3 + (tf > tm ? tf : tm) * 1e9;
        } else if (n->type == ET_COMM_COLL_NODE) {
            N = (double)n->comm_size;
            colls++;
        }
    }
    size_t nodes = g->n;
    et_graph_free(g);
    assert_int_equal(colls, 1); /* tp 1, pp 1: only the gradient all-reduce */
    /* the one all-reduce on a Switch of 2: 2 hops per step, reductions at
     * the device's HBM bandwidth, default endpoint delay 10 ns */
    double ar = ring_ar(2, N, 100 * GIB, 1000, 10, 3350e9, 2);
    double got = loomrun_step_ns(tp("step/out.json"));
    if (fabs(got - (sum + ar)) > 0.001 * nodes) /* each node rounds to 1 ps */
        fail_msg("step %.3f ns, expected %.3f (compute %.3f + all-reduce %.3f)", got, sum + ar, sum, ar);
}

/* Roofline time of one kernel, ns: the overhead plus the larger of the
 * matrix and memory terms (docs/DEVICES.md; both curves 4 us). */
static double kernel_ns(double F, double B, double P, double e_mat, double M)
{
    double tf = F / (P * e_mat), tm = B / (M * 0.9);
    return 4e3 + (tf > tm ? tf : tm) * 1e9;
}

/* Sum of kernel_ns over every kernel of a trace: a kernel node is one
 * kernel, a fused node (--granularity layer) lists its kernels. */
static double compute_ns(const char *path, double P, double e_mat, double M, size_t *kernels)
{
    loom_err err = {0};
    et_graph *g = et_graph_load(path, &err);
    if (g == NULL)
        fail_msg("%s", err.msg);
    double sum = 0;
    *kernels = 0;
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        if (n->type != ET_COMP_NODE)
            continue;
        if (n->nkern == 0) {
            sum += kernel_ns((double)n->num_ops, (double)n->tensor_size, P, e_mat, M);
            ++*kernels;
        }
        for (uint32_t k = 0; k < n->nkern; k++, ++*kernels)
            sum += kernel_ns((double)g->kwork[2 * (n->kern + k)],
                             (double)g->kwork[2 * (n->kern + k) + 1], P, e_mat, M);
    }
    et_graph_free(g);
    return sum;
}

/*
 * Cost is decided at replay (issue 9): the same generated trace, kernel by
 * kernel or fused by layer, replays to the roofline sum of its kernels on
 * whatever device or efficiency the run names, not the one it was
 * generated for.  The model is test_llm_step's (one all-reduce of the
 * gradients, its reductions at the device's HBM bandwidth), under
 * --compute-model roofline.
 */
static void test_llm_cost_at_replay(void **state)
{
    (void)state;
    const char *gran[2] = {"kernel", "layer"};
    put("car/net.yml", "topology: [ Switch ]\nnpus_count: [ 2 ]\nbandwidth: [ 100 ]\n"
                       "latency: [ 1000 ]\n");
    size_t kernels[2];
    double N = 0; /* gradient bytes: the all-reduce's comm_size */
    for (int gi = 0; gi < 2; gi++) {
        char pre[96], r0[128], sys[128];
        snprintf(pre, sizeof pre, "%s/%s", tp("car"), gran[gi]);
        int rc = loomrun_run(loomrun_tmp, "gen", "llm", "--hidden", "256", "--ffn", "1024", "--heads", "4",
                             "--layers", "2", "--seq", "128", "--vocab", "512", "--dp", "2",
                             "--device", "h100-sxm", "--compute-model", "roofline",
                             "--granularity", gran[gi], "--out", pre, "-q", NULL);
        expect_exit(rc, 0, NULL);
        snprintf(r0, sizeof r0, "%s.0.et", pre);
        snprintf(sys, sizeof sys, "%s.system.yaml", pre);
        loom_err err = {0};
        et_graph *g = et_graph_load(r0, &err);
        assert_non_null(g);
        for (size_t i = 0; i < g->n; i++)
            if (g->nodes[i].type == ET_COMM_COLL_NODE)
                N = (double)g->nodes[i].comm_size;
        et_graph_free(g);
        struct {
            const char *set;     /* --set, or NULL */
            double P, e, M;      /* bf16 peak, matrix efficiency, HBM bytes/s */
        } c[] = {
            {NULL, 989.5e12, 0.801, 3350e9},                          /* as generated */
            {"system.device=a100-80g", 312e12, 0.859, 2039e9},       /* another device */
            {"system.compute-matrix-efficiency=0.5", 989.5e12, 0.5, 3350e9},
        };
        for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
            const char *json = tp("car/out.json");
            /* at link rate, as test_llm_step */
            const char *off = "system.comm-efficiency=[none]";
            rc = c[k].set ? loomrun_run(loomrun_tmp, "run", "-w", pre, "-s", sys, "-n", tp("car/net.yml"),
                                        "--set", c[k].set, "--set", off, "-j", json, "-q", NULL)
                          : loomrun_run(loomrun_tmp, "run", "-w", pre, "-s", sys, "-n", tp("car/net.yml"),
                                        "--set", off, "-j", json, "-q", NULL);
            expect_exit(rc, 0, NULL);
            double comp = compute_ns(r0, c[k].P, c[k].e, c[k].M, &kernels[gi]);
            double want = comp + ring_ar(2, N, 100 * GIB, 1000, 10, c[k].M, 2);
            double got = loomrun_step_ns(json);
            if (fabs(got - want) > 0.001 * (double)kernels[gi] + 0.01) /* 1 ps per kernel */
                fail_msg("%s granularity, --set %s: step %.3f ns, expected %.3f", gran[gi],
                         c[k].set ? c[k].set : "(none)", got, want);
        }
    }
    /* the fused trace carries every kernel of the per-kernel one */
    assert_int_equal(kernels[0], kernels[1]);
    assert_true(kernels[0] > 10);
}

static void test_llm_errors(void **state)
{
    (void)state;
    const char *o = tp("bad/l");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "gpt-7", "--out", o, NULL), 2, "--preset 'gpt-7'");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--tp", "3", "--out", o, NULL), 2,
                "--tp 3 does not divide --heads 32");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--tp", "2", "--pp", "2", "--ranks",
                         "6", "--out", o, NULL), 2, "--ranks 6 is not a multiple");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--out", o, "--zero", "5", NULL), 2,
                "--zero '5'");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", NULL), 2, "needs --out");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--out", o, "--schedule", "zb", NULL),
                2, "--schedule 'zb'");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--help", NULL), 0, "--virtual-stages V");
    const char *flags[] = {"--hidden", "--ffn", "--heads", "--kv-heads", "--layers", "--seq",
                           "--vocab", "--experts", "--topk", "--tp", "--pp", "--dp", "--ep",
                           "--sequence-parallel", "--micro-batch", "--global-batch", "--schedule",
                           "--recompute", "--zero", "--grad-bucket", "--overlap-grad-reduce",
                           "--overlap-param-gather", "--comm-streams", "--tp-comm-overlap", "--cp",
                           "--dtype", "--device", "--groups", "--granularity"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strstr(loomrun_out, flags[i]) == NULL)
            fail_msg("gen llm --help does not list %s", flags[i]);
    /* --compute-model: comp_kind's names, table refused; kernel asked for
     * on a device without the kernel model's figures is refused (as loom
     * run refuses it), while the default falls back to roofline */
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--compute-model", "table",
                            "--out", o, NULL), 2, "--compute-model 'table'");
    put("nosms.yaml", "nosms:\n  description: no SM figures\n  source: none, a test\n"
                      "  peak-tflops: {fp32: 10, bf16: 100}\n  memory-gib: 16\n"
                      "  memory-bw-gbs: 1000\n  link-bw-gbs: 100\n");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--layers", "2", "--devices",
                            tp("nosms.yaml"), "--device", "nosms", "--compute-model", "kernel", "--out",
                            o, NULL), 2, "--compute-model kernel: device 'nosms'");
    /* a model that does not fit warns, and still writes */
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-70b", "--layers", "2", "--seq", "512",
                         "--device", "a100-40g", "--out", o, NULL), 0, "DOES NOT FIT");
    assert_non_null(strstr(loomrun_err, "warning: stage 0 needs"));
}

/* Every preset and feature generates and replays (interleaved, MoE with
 * expert parallelism, ZeRO 3, full recompute, layer granularity). */
static void test_llm_features(void **state)
{
    (void)state;
    put("f/net.yml", "topology: [ Switch, Switch ]\nnpus_count: [ 4, 4 ]\nbandwidth: [ 400, 50 ]\n"
                     "latency: [ 500, 2000 ]\n");
    struct {
        const char *name;
        const char *args[24];
    } cases[] = {
        {"il", {"--preset", "llama3-8b", "--layers", "8", "--seq", "1024", "--tp", "2", "--pp", "2",
                "--dp", "4", "--schedule", "interleaved", "--virtual-stages", "2", "--global-batch",
                "16", "--recompute", "selective", NULL}},
        /* microbatch groups of 5, the last of 4 (14 microbatches, pp 4) */
        {"ilg", {"--preset", "llama3-8b", "--layers", "8", "--seq", "512", "--tp", "2", "--pp", "4",
                 "--dp", "2", "--schedule", "interleaved", "--virtual-stages", "2",
                 "--microbatch-group", "5", "--global-batch", "28", NULL}},
        /* Llama 3 405B's layout in small: chunk 0 the embedding alone, the
         * last chunk the output layer and loss alone */
        {"acc", {"--preset", "llama3-8b", "--layers", "6", "--seq", "512", "--tp", "2", "--pp", "2",
                 "--dp", "4", "--schedule", "interleaved", "--virtual-stages", "4",
                 "--account-for-embedding-in-pipeline-split",
                 "--account-for-loss-in-pipeline-split", "--global-batch", "16", NULL}},
        /* Megatron's uneven ends: 1 layer on the first and last stage, 3 on
         * each between */
        {"ends", {"--preset", "llama3-8b", "--layers", "8", "--seq", "512", "--tp", "2",
                  "--pp", "4", "--dp", "2", "--decoder-first-pipeline-num-layers", "1",
                  "--decoder-last-pipeline-num-layers", "1", "--global-batch", "8", NULL}},
        {"moe", {"--preset", "mixtral-8x7b", "--layers", "2", "--seq", "512", "--tp", "2", "--dp", "8",
                 "--ep", "4", "--sequence-parallel", "--global-batch", "8", NULL}},
        {"z3", {"--preset", "llama3-8b", "--layers", "2", "--seq", "512", "--dp", "16", "--zero", "3",
                "--recompute", "full", NULL}},
        {"lay", {"--preset", "gpt3-175b", "--layers", "4", "--hidden", "2048", "--heads", "16", "--ffn",
                 "8192", "--seq", "512", "--tp", "4", "--pp", "4", "--granularity", "layer",
                 "--global-batch", "8", "--dp", "1", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[40];
        int n = 0;
        char out[600];
        snprintf(out, sizeof out, "%s/f/%s", loomrun_tmp, cases[i].name);
        argv[n++] = LOOM_BIN;
        argv[n++] = "gen";
        argv[n++] = "llm";
        for (int k = 0; cases[i].args[k]; k++)
            argv[n++] = cases[i].args[k];
        argv[n++] = "--out";
        argv[n++] = out;
        argv[n++] = "-q";
        argv[n] = NULL;
        char cmd[2048] = "";
        for (int k = 0; k < n; k++) {
            strcat(cmd, argv[k]);
            strcat(cmd, " ");
        }
        strcat(cmd, "> /dev/null 2>&1");
        if (system(cmd) != 0)
            fail_msg("%s failed", cmd);
        char sys[640];
        snprintf(sys, sizeof sys, "%s.system.yaml", out);
        int rc = loomrun_run(loomrun_tmp, "run", "-w", out, "-s", sys, "-n", tp("f/net.yml"), "-q", NULL);
        if (rc != 0)
            fail_msg("%s: loom run exited %d: %s", cases[i].name, rc, loomrun_err);
    }
    /* MoE: the expert all-to-alls, 2 forward + 2 backward per layer and
     * microbatch on the ep group, of T/t * topk * h * e bytes */
    char p0[600];
    snprintf(p0, sizeof p0, "%s/f/moe.0.et", loomrun_tmp);
    tally t = count(p0);
    assert_int_equal(t.colls[ET_ALL_TO_ALL], 2 * 4);
    assert_true(t.bytes[ET_ALL_TO_ALL] == 8 * (512.0 / 2 * 2 * 4096 * 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_micro),
        cmocka_unit_test(test_micro_errors),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_llm_counts),
        cmocka_unit_test(test_llm_roles),
        cmocka_unit_test(test_llm_streams),
        cmocka_unit_test(test_llm_mcore_buckets),
        cmocka_unit_test(test_llm_memory_published),
        cmocka_unit_test(test_llm_cp),
        cmocka_unit_test(test_roles_equal_explicit),
        cmocka_unit_test(test_llm_optimizer_step),
        cmocka_unit_test(test_llm_optimizer_foreach),
        cmocka_unit_test(test_llm_step),
        cmocka_unit_test(test_llm_cost_at_replay),
        cmocka_unit_test(test_llm_errors),
        cmocka_unit_test(test_llm_features),
    };
    return cmocka_run_group_tests(tests, setup, loomrun_teardown);
}
