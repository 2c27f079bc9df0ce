/*
 * `loom gen`, `loom devices` and `loom trace convert-text` end to end: run
 * the binary, read the files it wrote back through traces/, and replay
 * them with `loom run`.  Counts and bytes are worked out by hand in the
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

static char tmpdir[64];

static const char *tp(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void put(const char *name, const char *text)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tp(name));
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    mkdir(dir, 0755); /* the test's own sub-folder, if new */
    FILE *f = fopen(tp(name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/loom_genXXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    setenv("XDG_CONFIG_HOME", "/nonexistent-loom-test", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd);
}

static double step_ns(const char *json)
{
    json_error_t je;
    json_t *j = json_load_file(json, 0, &je);
    if (j == NULL)
        fail_msg("%s: %s", json, je.text);
    double v = json_real_value(json_object_get(j, "step_time_ns"));
    json_decref(j);
    return v;
}

static void expect_exit(int rc, int want, const char *needle)
{
    if (rc != want)
        fail_msg("exit %d, expected %d; stderr: %s", rc, want, loomrun_err);
    if (needle && strstr(loomrun_err, needle) == NULL && strstr(loomrun_out, needle) == NULL)
        fail_msg("output lacks '%s'; stderr: %s", needle, loomrun_err);
}

static ino_t inode(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("%s: missing", path);
    return st.st_ino;
}

/* ---- closed forms (docs/MODEL.md), in ns ---------------------------------- */

#define GIB 1073741824.0

/* ring on one dimension with W = 1 and hops h per step:
 * AR = 2(p-1)(hL + d) + 2(p-1)/p N/B + (p-1) 3 (N/p)/M */
static double ring_ar(int p, double N, double B, double L, double d, double M, int h)
{
    return 2 * (p - 1) * (h * L + d) + 2.0 * (p - 1) / p * N / B * 1e9 + (p - 1) * 3 * (N / p) / M * 1e9;
}

/* ---- gen micro ------------------------------------------------------------ */

static void micro(const char *coll, int p, double expect)
{
    char prefix[128], net[128], sys[128], json[128], rr[16];
    snprintf(prefix, sizeof prefix, "%s/m_%s/x", tmpdir, coll);
    snprintf(net, sizeof net, "%s/m_%s.yml", tmpdir, coll);
    snprintf(sys, sizeof sys, "%s/m_%s.json", tmpdir, coll);
    snprintf(json, sizeof json, "%s/m_%s.out.json", tmpdir, coll);
    snprintf(rr, sizeof rr, "%d", p);
    int rc = loomrun_run(tmpdir, "gen", "micro", "--collective", coll, "--size", "1MiB", "--ranks", rr, "--out",
                      prefix, "--network-out", net, "--system-out", sys, "--bandwidth", "50",
                      "--latency", "500", NULL);
    expect_exit(rc, 0, "hard link");
    /* every rank file is rank 0's file */
    char r0[160], rk[160];
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
    rc = loomrun_run(tmpdir, "run", "-w", prefix, "-n", net, "-s", sys, "-j", json, "-q", NULL);
    expect_exit(rc, 0, NULL);
    double got = step_ns(json);
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
    expect_exit(loomrun_run(tmpdir, "gen", "micro", "-c", "all_sum", "-b", "1", "-r", "2", "-o", o, NULL), 2,
                "--collective 'all_sum'");
    expect_exit(loomrun_run(tmpdir, "gen", "micro", "-c", "all_reduce", "-b", "12XB", "-r", "2", "-o", o, NULL),
                2, "--size '12XB'");
    expect_exit(loomrun_run(tmpdir, "gen", "micro", "-c", "all_reduce", "-b", "9000000TiB", "-r", "2", "-o", o,
                         NULL), 2, "--size '9000000TiB'");
    expect_exit(loomrun_run(tmpdir, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "0", "-o", o, NULL), 2,
                "--ranks '0'");
    expect_exit(loomrun_run(tmpdir, "gen", "micro", "-c", "all_reduce", "-b", "1", "-o", o, NULL), 2,
                "needs --collective, --size, --ranks and --out");
    expect_exit(loomrun_run(tmpdir, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "2", "-o", o,
                         "--bandwidth", "5", NULL), 2, "--network-out");
    expect_exit(loomrun_run(tmpdir, "gen", "nano", NULL), 2, "unknown generator 'nano'");
    expect_exit(loomrun_run(tmpdir, "gen", "micro", "--help", NULL), 0, "--collective OP");
    assert_non_null(strstr(loomrun_out, "KiB/MiB/GiB"));
    expect_exit(loomrun_run(tmpdir, "gen", "--help", NULL), 0, "llm");
}

/* ---- devices -------------------------------------------------------------- */

static void test_devices(void **state)
{
    (void)state;
    expect_exit(loomrun_run(tmpdir, "devices", NULL), 0, "TFLOP/s");
    const char *names[] = {"a100-40g", "a100-80g", "h100-sxm", "h200", "b200", "mi300x"};
    for (int i = 0; i < 6; i++)
        assert_non_null(strstr(loomrun_out, names[i]));
    assert_non_null(strstr(loomrun_out, "GiB"));
    expect_exit(loomrun_run(tmpdir, "devices", "--sources", NULL), 0, "datasheet");
    expect_exit(loomrun_run(tmpdir, "devices", "--help", NULL), 0, "--devices FILE");
    put("bad.yaml", "x:\n  description: d\n  colour: red\n");
    expect_exit(loomrun_run(tmpdir, "devices", "--devices", tp("bad.yaml"), NULL), 2, "unknown key 'colour'");
    expect_exit(loomrun_run(tmpdir, "devices", "--frobnicate", NULL), 2, "unknown option");
}

/* ---- gen llm -------------------------------------------------------------- */

typedef struct tally {
    int colls[ET_COLL_TYPES];
    double bytes[ET_COLL_TYPES];
    int sends, recvs, comps;
    double send_bytes, recv_bytes;
} tally;

static tally count(const char *path)
{
    loom_err err = {0};
    et_graph *g = et_graph_load(path, &err);
    if (g == NULL)
        fail_msg("%s", err.msg);
    tally t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        if (n->type == ET_COMM_COLL_NODE) {
            t.colls[n->comm_type]++;
            t.bytes[n->comm_type] += (double)n->comm_size;
        } else if (n->type == ET_COMM_SEND_NODE) {
            t.sends++;
            t.send_bytes += (double)n->comm_size;
        } else if (n->type == ET_COMM_RECV_NODE) {
            t.recvs++;
            t.recv_bytes += (double)n->comm_size;
        } else if (n->type == ET_COMP_NODE) {
            t.comps++;
        }
    }
    et_graph_free(g);
    return t;
}

#define SMALL "--hidden", "1024", "--ffn", "4096", "--heads", "16", "--layers", "2", "--seq", "256", \
              "--vocab", "1000", "--tp", "2", "--pp", "2", "--dp", "2", "--global-batch", "8"

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
    int rc = loomrun_run(tmpdir, "gen", "llm", SMALL, "--out", pre, NULL);
    expect_exit(rc, 0, "memory per rank");
    for (int r = 0; r < 8; r++) {
        char path[160];
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
    rc = loomrun_run(tmpdir, "gen", "llm", SMALL, "--sequence-parallel", "--out", sp, "-q", NULL);
    expect_exit(rc, 0, NULL);
    char p0[160];
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
    rc = loomrun_run(tmpdir, "gen", "llm", SMALL, "--zero", "1", "--out", z, "-q", NULL);
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
    rc = loomrun_run(tmpdir, "gen", "llm", SMALL, "--grad-bucket", "4MiB", "--overlap-grad-reduce", "--out", bk,
                  "-q", NULL);
    expect_exit(rc, 0, NULL);
    snprintf(p0, sizeof p0, "%s.0.et", bk);
    t = count(p0);
    assert_int_equal(t.colls[ET_ALL_REDUCE], 20 + 2 + 1);
}

/* Communication streams: by default every collective and send carries
 * loom's `stream` attribute, one stream per communicator (so replay runs
 * TP, DP and PP communication side by side, as Megatron-LM does);
 * --comm-streams shared writes none (one communication stream per rank).
 * --overlap-param-gather (ZeRO 1) moves the gather of the updated
 * parameters to the start of the step: stage 0's units in forward order are
 * the embedding (786432 parameters, 1572864 bf16 bytes, under the 4 MiB
 * bucket) and its layer (6301184 parameters: the bucket is full), so one
 * bucket of 7087616 parameters, gathered as each rank's share 7087616 x 2 /
 * dp 2 = 7087616 bytes: the file's first node, with no dependency, which
 * the embedding's first kernel waits for; nothing is gathered after the
 * optimizer any more. */
static void test_llm_streams(void **state)
{
    (void)state;
    const char *pre = tp("st/s"), *sh = tp("st/sh"), *op = tp("st/op");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--out", pre, "-q", NULL), 0, NULL);
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--comm-streams", "shared", "--out", sh, "-q",
                            NULL), 0, NULL);
    char path[200];
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

    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--zero", "1", "--grad-bucket", "4MiB",
                            "--overlap-param-gather", "--out", op, "-q", NULL), 0, NULL);
    snprintf(path, sizeof path, "%s.0.et", op);
    g = et_graph_load(path, &err);
    assert_non_null(g);
    const et_gnode *ag = &g->nodes[0];
    assert_string_equal(et_gnode_name(g, ag), "c0.param_ag.b0");
    assert_int_equal(ag->type, ET_COMM_COLL_NODE);
    assert_int_equal(ag->comm_type, ET_ALL_GATHER);
    assert_true(ag->comm_size == 7087616);
    assert_int_equal(ag->ndata, 0);
    int waits = 0, late = 0;
    for (uint32_t k = 0; k < ag->nsucc_data; k++)
        waits += g->nodes[g->succ[ag->succ + k]].type == ET_COMP_NODE;
    for (size_t i = 1; i < g->n; i++)
        late += strstr(et_gnode_name(g, &g->nodes[i]), "param_ag") != NULL;
    assert_int_equal(waits, 1);
    assert_int_equal(late, 0);
    et_graph_free(g);
    put("st/net.yml", "topology: [ Switch, Switch ]\nnpus_count: [ 4, 2 ]\nbandwidth: [ 400, 50 ]\n"
                      "latency: [ 500, 2000 ]\n");
    const char *pres[3] = {pre, sh, op};
    for (int k = 0; k < 3; k++) {
        char sys[200];
        snprintf(sys, sizeof sys, "%s.system.yaml", pres[k]);
        int rc = loomrun_run(tmpdir, "run", "-w", pres[k], "-s", sys, "-n", tp("st/net.yml"), "-q", NULL);
        if (rc != 0)
            fail_msg("%s: loom run exited %d: %s", pres[k], rc, loomrun_err);
    }
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--overlap-param-gather", "--out", op, NULL), 2,
                "--overlap-param-gather needs --zero 1 or 2");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--comm-streams", "two", "--out", op, NULL), 2,
                "--comm-streams 'two'");
}

static const et_gnode *named(const et_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(et_gnode_name(g, &g->nodes[i]), name) == 0)
            return &g->nodes[i];
    fail_msg("no node %s", name);
    return NULL;
}

static int depends(const et_graph *g, const et_gnode *n, const et_gnode *on)
{
    for (uint32_t k = 0; k < n->ndata; k++)
        if (&g->nodes[g->deps[n->dep + k]] == on)
            return 1;
    return 0;
}

/* Rank `rank`'s trace of the gen llm output at tp(pre), loaded. */
static et_graph *load_rank(const char *pre, int rank)
{
    char path[200];
    snprintf(path, sizeof path, "%s.%d.et", tp(pre), rank);
    loom_err err = {0};
    et_graph *g = et_graph_load(path, &err);
    if (g == NULL)
        fail_msg("%s: %s", path, err.msg);
    return g;
}

/* --tp-comm-overlap as Transformer Engine's default userbuffers run it
 * (workloads/wl_llm_layers.c, docs/WORKLOADS.md), on SMALL with sequence
 * parallelism (T = 256 tokens, tp 2, h 1024, bf16):
 *   ring exchange: ag_qkv from ln1's position; the QKV GEMM's first
 *     T - T/tp = 128 rows beside it, its last 128 rows (qkv.last) after
 *     the gather; no SMs held;
 *   pipeline: proj in 4 GEMMs of 64 rows on the SMs less 16, each
 *     followed by its reduce-scatter of T*h*e/4 = 131072 bytes; the next
 *     chunk does not wait for it; resid1 waits for the last chunk and its
 *     reduce-scatter;
 *   bulk (backward): the QKV input gathered again (T/tp*h*e = 262144)
 *     beside qkv_dgrad, dX's reduce-scatter beside qkv_wgrad, which waits
 *     for the gather; both GEMMs leave 16 SMs.
 * Without the flag: the gather, then the whole GEMM; the GEMM, then its
 * reduce-scatter; the backward's gather and reduce-scatter as with it but
 * on all the SMs.  Under --dtype fp8 the gathers feeding the linear layers
 * move 1-byte elements (131072), the output layer's stays 2-byte.
 * Without --sequence-parallel the flag is refused. */
static void test_llm_tp_overlap(void **state)
{
    (void)state;
    const char *ov = tp("tpo/o"), *no = tp("tpo/n"), *f8 = tp("tpo/f");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--sequence-parallel", "--tp-comm-overlap",
                            "--out", ov, "-q", NULL), 0, NULL);
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--sequence-parallel", "--out", no, "-q",
                            NULL), 0, NULL);
    et_graph *g = load_rank("tpo/o", 0);
    const et_gnode *ln1 = named(g, "L0.F0.ln1"), *ag = named(g, "L0.F0.ag_qkv"),
                   *qkv = named(g, "L0.F0.qkv"), *qkl = named(g, "L0.F0.qkv.last"),
                   *res = named(g, "L0.F0.resid1");
    assert_true(depends(g, ag, ln1) && depends(g, qkv, ln1) && !depends(g, qkv, ag));
    assert_true(depends(g, qkl, qkv) && depends(g, qkl, ag));
    assert_int_equal(g->kshape[qkv->shape - 1].m, 128);
    assert_int_equal(g->kshape[qkl->shape - 1].m, 128);
    assert_int_equal(g->kshape[qkl->shape - 1].n, 1536);
    assert_int_equal(g->kshape[qkl->shape - 1].comm_sms, 0);
    assert_true(ag->comm_size == 262144);
    const et_gnode *prev = NULL, *rs = NULL;
    for (int i = 0; i < 4; i++) {
        char a[40], b[40];
        snprintf(a, sizeof a, "L0.F0.proj.c%d", i);
        snprintf(b, sizeof b, "L0.F0.rs_proj.c%d", i);
        const et_gnode *pj = named(g, a);
        rs = named(g, b);
        assert_int_equal(g->kshape[pj->shape - 1].m, 64);
        assert_int_equal(g->kshape[pj->shape - 1].comm_sms, 16);
        assert_true(depends(g, rs, pj) && rs->comm_size == 131072);
        if (prev)
            assert_true(depends(g, pj, prev) && !depends(g, pj, named(g, "L0.F0.rs_proj.c0")));
        prev = pj;
    }
    assert_true(depends(g, res, prev) && depends(g, res, rs));
    const et_gnode *agb = named(g, "L0.B0.ag_qkv_bwd"), *qd = named(g, "L0.B0.qkv_dgrad"),
                   *rsb = named(g, "L0.B0.rs_qkv_bwd"), *qw = named(g, "L0.B0.qkv_wgrad");
    assert_true(agb->comm_size == 262144 && !depends(g, qd, agb));
    assert_true(depends(g, rsb, qd) && depends(g, qw, agb) && !depends(g, qw, rsb));
    assert_true(depends(g, named(g, "L0.B0.ln1_bwd"), rsb));
    assert_int_equal(g->kshape[qd->shape - 1].comm_sms, 16);
    assert_int_equal(g->kshape[qw->shape - 1].comm_sms, 16);
    et_graph_free(g);
    g = load_rank("tpo/n", 0);
    qkv = named(g, "L0.F0.qkv");
    assert_true(depends(g, qkv, named(g, "L0.F0.ag_qkv")));
    assert_int_equal(g->kshape[qkv->shape - 1].m, 256);
    const et_gnode *pj = named(g, "L0.F0.proj");
    assert_true(depends(g, named(g, "L0.F0.rs_proj"), pj));
    assert_int_equal(g->kshape[pj->shape - 1].comm_sms, 0);
    qw = named(g, "L0.B0.qkv_wgrad");
    assert_true(depends(g, qw, named(g, "L0.B0.ag_qkv_bwd")));
    assert_int_equal(g->kshape[qw->shape - 1].comm_sms, 0);
    et_graph_free(g);
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--sequence-parallel", "--dtype", "fp8",
                            "--out", f8, "-q", NULL), 0, NULL);
    g = load_rank("tpo/f", 4);
    assert_true(named(g, "L1.F0.ag_qkv")->comm_size == 131072);
    assert_true(named(g, "L1.F0.ag_fc1")->comm_size == 131072);
    assert_true(named(g, "L1.B0.ag_proj_bwd")->comm_size == 131072);
    assert_true(named(g, "L1.B0.ag_qkv_bwd")->comm_size == 131072);
    assert_true(named(g, "F0.ag_logits")->comm_size == 262144);
    et_graph_free(g);
    /* --tp-comm-sms sets the SMs held (0..255) */
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--sequence-parallel", "--tp-comm-overlap",
                            "--tp-comm-sms", "4", "--out", ov, "-q", NULL), 0, NULL);
    g = load_rank("tpo/o", 0);
    assert_int_equal(g->kshape[named(g, "L0.F0.fc2.c3")->shape - 1].comm_sms, 4);
    assert_int_equal(g->kshape[named(g, "L0.B0.fc1_wgrad")->shape - 1].comm_sms, 4);
    et_graph_free(g);
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--sequence-parallel", "--tp-comm-overlap",
                            "--tp-comm-sms", "256", "--out", ov, NULL), 2,
                "--tp-comm-sms '256': expected an integer 0 .. 255");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--tp-comm-overlap", "--out", ov, NULL), 2,
                "--tp-comm-overlap needs --sequence-parallel");
}

/* Fails if a node's name in g contains one of the NULL-ended strings. */
static void no_node_with(const et_graph *g, const char *const *subs)
{
    for (size_t i = 0; i < g->n; i++)
        for (const char *const *q = subs; *q; q++)
            if (strstr(et_gnode_name(g, &g->nodes[i]), *q))
                fail_msg("node %s: no name should contain %s", et_gnode_name(g, &g->nodes[i]), *q);
}

/* The FP8 recipe's casts (wl_llm_layers.c, fp8_cast), on SMALL with
 * sequence parallelism (T = 256, Tl = 128, h = 1024, tp 2: a/tp d = 512,
 * f/tp = 2048, QKV 1536 columns), bytes by hand:
 *   qkv_in: amax reads 2 Tl h = 262144; its amax all-reduced over tp (4
 *     bytes) before the cast, which reads 2 Tl h and writes the row-wise
 *     copy Tl h: 393216;
 *   proj_in (not gathered): the cast writes both copies: 4 T a/tp d =
 *     524288; fc2_in 4 T f/tp = 2097152;
 *   backward: fc2_dy cast 3 Tl h = 393216 before its gather, its
 *     transpose fc2_dy_t 2 T h = 524288 before fc2_wgrad; qkv_in_t (the
 *     gathered input transposed) 524288, after ag_qkv_bwd and before
 *     qkv_wgrad; fc1_dy 4 T f/tp = 2097152; qkv_dy 4 T 1536 = 1572864.
 * A bf16 run has none of them. */
static void test_llm_fp8_casts(void **state)
{
    (void)state;
    const char *f8 = tp("f8c/f"), *bf = tp("f8c/b");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--sequence-parallel", "--dtype", "fp8",
                            "--out", f8, "-q", NULL), 0, NULL);
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--sequence-parallel", "--out", bf, "-q",
                            NULL), 0, NULL);
    et_graph *g = load_rank("f8c/f", 0);
    const et_gnode *am = named(g, "L0.F0.qkv_in_amax"), *ar = named(g, "L0.F0.qkv_in_amax_ar"),
                   *ca = named(g, "L0.F0.qkv_in_cast");
    assert_true(am->tensor_size == 262144 && ca->tensor_size == 393216);
    assert_true(ar->comm_type == ET_ALL_REDUCE && ar->comm_size == 4);
    assert_true(depends(g, ar, am) && depends(g, ca, ar));
    assert_true(depends(g, named(g, "L0.F0.ag_qkv"), ca));
    assert_true(named(g, "L0.F0.proj_in_cast")->tensor_size == 524288);
    assert_true(named(g, "L0.F0.fc2_in_cast")->tensor_size == 2097152);
    assert_true(named(g, "L0.B0.fc2_dy_cast")->tensor_size == 393216);
    const et_gnode *t2 = named(g, "L0.B0.fc2_dy_t"), *qt = named(g, "L0.B0.qkv_in_t");
    assert_true(t2->tensor_size == 524288 && qt->tensor_size == 524288);
    assert_true(depends(g, named(g, "L0.B0.fc2_wgrad"), t2));
    assert_true(depends(g, qt, named(g, "L0.B0.ag_qkv_bwd")));
    assert_true(depends(g, named(g, "L0.B0.qkv_wgrad"), qt));
    assert_true(named(g, "L0.B0.fc1_dy_cast")->tensor_size == 2097152);
    assert_true(named(g, "L0.B0.qkv_dy_cast")->tensor_size == 1572864);
    et_graph_free(g);
    /* --fp8-recipe delayed: one cast kernel a tensor (its amax taken by the
     * cast), no all-reduce, the norms' outputs cast by the norms */
    const char *dl = tp("f8c/d");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--sequence-parallel", "--dtype", "fp8",
                            "--fp8-recipe", "delayed", "--out", dl, "-q", NULL), 0, NULL);
    g = load_rank("f8c/d", 0);
    assert_true(named(g, "L0.F0.proj_in_cast")->tensor_size == 524288);
    assert_true(named(g, "L0.B0.fc2_dy_cast")->tensor_size == 393216);
    assert_true(depends(g, named(g, "L0.F0.ag_qkv"), named(g, "L0.F0.ln1")));
    no_node_with(g, (const char *const[]){"_amax", "qkv_in_cast", "fc1_in_cast", NULL});
    et_graph_free(g);
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--fp8-recipe", "delayed", "--out", dl, NULL),
                2, "--fp8-recipe needs --dtype fp8");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--dtype", "fp8", "--fp8-recipe", "mx",
                            "--out", dl, NULL), 2, "--fp8-recipe 'mx': expected current or delayed");
    g = load_rank("f8c/b", 0);
    no_node_with(g, (const char *const[]){"_amax", "_cast", "_in_t", NULL});
    et_graph_free(g);
}

/* --attention-kernel cudnn: the system file says so (absent without the
 * flag), the report's system line and the JSON name it, and a step with
 * flash attention is shorter than with flash2's figures (cuDNN's fitted
 * efficiencies are about twice FlashAttention-2's); a bad name exits 2. */
static void test_llm_attention_kernel(void **state)
{
    (void)state;
    const char *cu = tp("ak/c"), *fl = tp("ak/f");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--attention", "flash", "--attention-kernel",
                            "cudnn", "--out", cu, "-q", NULL), 0, NULL);
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--attention", "flash", "--out", fl, "-q",
                            NULL), 0, NULL);
    char text[4096], sys[200], js[200];
    snprintf(sys, sizeof sys, "%s.system.yaml", cu);
    loomrun_slurp(sys, text, sizeof text);
    assert_non_null(strstr(text, "\nattention-kernel: cudnn\n"));
    snprintf(sys, sizeof sys, "%s.system.yaml", fl);
    loomrun_slurp(sys, text, sizeof text);
    assert_null(strstr(text, "attention-kernel"));
    put("ak/net.yml", "topology: [ Switch, Switch ]\nnpus_count: [ 4, 2 ]\nbandwidth: [ 400, 50 ]\n"
                      "latency: [ 500, 2000 ]\n");
    double step[2];
    const char *pres[2] = {cu, fl};
    for (int k = 0; k < 2; k++) {
        snprintf(sys, sizeof sys, "%s.system.yaml", pres[k]);
        snprintf(js, sizeof js, "%s.json", pres[k]);
        int rc = loomrun_run(tmpdir, "run", "-w", pres[k], "-s", sys, "-n", tp("ak/net.yml"), "-j", js,
                             NULL);
        if (rc != 0)
            fail_msg("loom run exited %d: %s", rc, loomrun_err);
        assert_true((strstr(loomrun_out, "compute model kernel, attention cudnn\n") != NULL) == (k == 0));
        static char jt[1 << 16];
        loomrun_slurp(js, jt, sizeof jt);
        assert_true((strstr(jt, "\"attention_kernel\": \"cudnn\"") != NULL) == (k == 0));
        const char *p = strstr(jt, "\"step_time_ns\":");
        assert_non_null(p);
        step[k] = strtod(p + strlen("\"step_time_ns\":"), NULL);
    }
    assert_true(step[0] < step[1]);
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--attention-kernel", "fa3", "--out", cu, NULL),
                2, "--attention-kernel 'fa3': expected flash2 or cudnn");
}

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
        char out[160];
        snprintf(out, sizeof out, "%s/mem/%s", tmpdir, runs[i].name);
        argv[n++] = "--out";
        argv[n++] = out;
        argv[n] = NULL;
        int rc = loomrun_wait(tmpdir, loomrun_startv(tmpdir, argv));
        expect_exit(rc, 0, "memory per rank");
        if (strstr(loomrun_out, "DOES NOT FIT"))
            fail_msg("%s: a layout that trained is flagged:\n%s", runs[i].name, loomrun_out);
    }
}

/*
 * Context parallelism, --cp 2 on the SMALL model with flash attention
 * (16 ranks = tp 2 x cp 2 x pp 2 x dp 2; 4 microbatches: global batch 8 /
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
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--attention", "flash", "--cp", "2", "--out",
                            pre, NULL), 0, "16 ranks = tp 2 x cp 2 x pp 2 x dp 2");
    char path[200];
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
    char sys[200];
    snprintf(sys, sizeof sys, "%s.system.yaml", pre);
    int rc = loomrun_run(tmpdir, "run", "-w", pre, "-s", sys, "-n", tp("cp/net.yml"), "-q", NULL);
    if (rc != 0)
        fail_msg("loom run exited %d: %s", rc, loomrun_err);
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--attention", "flash", "--cp", "3", "--out",
                            pre, NULL), 2, "--cp 3 does not divide --seq 256");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--attention", "standard", "--cp", "2",
                            "--out", pre, NULL), 2, "needs --attention flash");
}

/* Role-named communicators: the four ranks of a stage share one file. */
static void test_llm_roles(void **state)
{
    (void)state;
    const char *pre = tp("role/s");
    int rc = loomrun_run(tmpdir, "gen", "llm", SMALL, "--groups", "role", "--out", pre, NULL);
    expect_exit(rc, 0, "2 written, 6 hard links");
    char a[160], b[160];
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
    int rc = loomrun_run(tmpdir, "gen", "llm", "--preset", "mixtral-8x7b", "--layers", "8", "--seq", "512",
                      "--tp", "2", "--pp", "4", "--dp", "4", "--ep", "2", "--schedule", "interleaved",
                      "--virtual-stages", "2", "--global-batch", "16", "--zero", "1",
                      "--sequence-parallel", "--embeddings", "tied", "--groups", "explicit", "--out",
                      ex, "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(tmpdir, "gen", "llm", "--preset", "mixtral-8x7b", "--layers", "8", "--seq", "512", "--tp",
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
        char pe[160], pr[160];
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
        expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--zero", c[k].zero, "--dtype",
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
 * The FP8 recipe converts Transformer Engine's modules only: Megatron-Core's
 * output layer is its own ColumnParallelLinear, so the logits GEMMs keep
 * 16-bit operands while the layers' linear GEMMs take FP8.  SMALL's last
 * stage (rank 4: tp 2, pp 2), one kernel a node, microbatch 0: logits is
 * (T x h)(h x V/tp) with T = 256, h = 1024, V/tp = 512 (the vocabulary of
 * 1000 padded to a multiple of 128 tp, as Megatron does): operands 2 bytes,
 * 2 (T h + h V/tp) + 2 T V/tp bytes read and written; its layer's fc2 reads
 * 1-byte operands: (T x f/tp)(f/tp x h), f/tp = 2048, 1 (T f/tp + f/tp h)
 * + 2 T h.  In bf16 both are 2-byte.
 */
static void test_llm_fp8_head(void **state)
{
    (void)state;
    const double T = 256, h = 1024, V = 512, f = 2048;
    for (int k = 0; k < 2; k++) {
        char pre[64];
        snprintf(pre, sizeof pre, "fp8h/%d", k);
        expect_exit(loomrun_run(tmpdir, "gen", "llm", SMALL, "--dtype", k ? "fp8" : "bf16",
                                "--device", "h100-sxm", "--granularity", "kernel", "--out", tp(pre),
                                "-q", NULL), 0, NULL);
        et_graph *g = load_rank(pre, 4);
        const et_gnode *lg = named(g, "F0.logits"), *fc2 = named(g, "L1.F0.fc2");
        assert_true(lg->shape && fc2->shape);
        assert_int_equal(g->kshape[lg->shape - 1].dtype_bytes, 2);
        assert_true((double)lg->tensor_size == 2 * (T * h + h * V) + 2 * T * V);
        int eb = k ? 1 : 2;
        assert_int_equal(g->kshape[fc2->shape - 1].dtype_bytes, eb);
        assert_true((double)fc2->tensor_size == eb * (T * f + f * h) + 2 * T * h);
        assert_int_equal(g->kshape[named(g, "B0.logits_wgrad")->shape - 1].dtype_bytes, 2);
        assert_int_equal(g->kshape[named(g, "B0.logits_dgrad")->shape - 1].dtype_bytes, 2);
        et_graph_free(g);
    }
}

/*
 * MoE token movement around the experts (Megatron-Core's all-to-all
 * dispatcher), one kernel a node: mixtral-8x7b (h 4096, 8 experts, top 2),
 * sequence 512, tp 2 with SP, so Tl = 256 tokens a rank and Tx = 2 Tl =
 * 512 copies, e = 2.  Forward: permute gathers the copies (2 e Tx h
 * bytes); with ep 4 each rank holds 2 experts, so the arrivals are
 * regrouped by expert and back (sort_chunks, unsort_chunks: 2 e Tx h
 * each); unpermute reads the copies and writes the tokens (e (Tx + Tl) h).
 * Backward: unpermute_bwd reads the tokens' gradient and writes the
 * copies and the scores' gradient (e (Tl + 2 Tx) h), permute_bwd sums the
 * copies back (e (Tx + Tl) h).  With ep 8 (one expert a rank) nothing is
 * regrouped.
 */
static void test_llm_moe_kernels(void **state)
{
    (void)state;
    const double e = 2, h = 4096, Tl = 256, Tx = 512;
    for (int k = 0; k < 2; k++) {
        char pre[64];
        snprintf(pre, sizeof pre, "moek/%d", k);
        expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "mixtral-8x7b", "--layers", "2",
                                "--seq", "512", "--tp", "2", "--dp", "8", "--ep", k ? "8" : "4",
                                "--sequence-parallel", "--global-batch", "8", "--granularity",
                                "kernel", "--out", tp(pre), "-q", NULL),
                    0, NULL);
        et_graph *g = load_rank(pre, 0);
        assert_true((double)named(g, "L0.F0.permute")->tensor_size == 2 * e * Tx * h);
        assert_true((double)named(g, "L0.F0.unpermute")->tensor_size == e * (Tx + Tl) * h);
        assert_true((double)named(g, "L0.B0.unpermute_bwd")->tensor_size == e * (Tl + 2 * Tx) * h);
        assert_true((double)named(g, "L0.B0.permute_bwd")->tensor_size == e * (Tx + Tl) * h);
        const char *regroup[4] = {"L0.F0.sort_chunks", "L0.F0.unsort_chunks",
                                  "L0.B0.unsort_chunks_bwd", "L0.B0.sort_chunks_bwd"};
        for (int r = 0; r < 4; r++) {
            const et_gnode *n = NULL;
            for (size_t i = 0; i < g->n && !n; i++)
                if (strcmp(et_gnode_name(g, &g->nodes[i]), regroup[r]) == 0)
                    n = &g->nodes[i];
            if (k)
                assert_null(n);
            else
                assert_true(n && (double)n->tensor_size == 2 * e * Tx * h);
        }
        et_graph_free(g);
    }
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
    int rc = loomrun_run(tmpdir, "gen", "llm", "--hidden", "256", "--ffn", "1024", "--heads", "4", "--layers",
                      "1", "--seq", "128", "--vocab", "512", "--dp", "2", "--device", "h100-sxm",
                      "--compute-model", "roofline", "--out", pre, "-q", NULL);
    expect_exit(rc, 0, NULL);
    put("step/net.yml", "topology: [ Switch ]\nnpus_count: [ 2 ]\nbandwidth: [ 100 ]\n"
                        "latency: [ 1000 ]\n");
    /* at link rate: the system file's comm-efficiency (NCCL's achieved
     * NVLink bandwidth, which gen llm writes for the H100) is checked by
     * test/network/test_eff.c and e2e.eff; here the closed form alone */
    rc = loomrun_run(tmpdir, "run", "-w", pre, "-s", tp("step/s.system.yaml"), "-n", tp("step/net.yml"),
                     "--set", "system.comm-efficiency=[none]", "-j", tp("step/out.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    char r0[160];
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
    double got = step_ns(tp("step/out.json"));
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
        int rc = loomrun_run(tmpdir, "gen", "llm", "--hidden", "256", "--ffn", "1024", "--heads", "4",
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
            rc = c[k].set ? loomrun_run(tmpdir, "run", "-w", pre, "-s", sys, "-n", tp("car/net.yml"),
                                        "--set", c[k].set, "--set", off, "-j", json, "-q", NULL)
                          : loomrun_run(tmpdir, "run", "-w", pre, "-s", sys, "-n", tp("car/net.yml"),
                                        "--set", off, "-j", json, "-q", NULL);
            expect_exit(rc, 0, NULL);
            double comp = compute_ns(r0, c[k].P, c[k].e, c[k].M, &kernels[gi]);
            double want = comp + ring_ar(2, N, 100 * GIB, 1000, 10, c[k].M, 2);
            double got = step_ns(json);
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
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "gpt-7", "--out", o, NULL), 2, "--preset 'gpt-7'");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "llama3-8b", "--tp", "3", "--out", o, NULL), 2,
                "--tp 3 does not divide --heads 32");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "llama3-8b", "--tp", "2", "--pp", "2", "--ranks",
                         "6", "--out", o, NULL), 2, "--ranks 6 is not a multiple");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "llama3-8b", "--out", o, "--zero", "5", NULL), 2,
                "--zero '5'");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "llama3-8b", NULL), 2, "needs --out");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "llama3-8b", "--out", o, "--schedule", "zb", NULL),
                2, "--schedule 'zb'");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--help", NULL), 0, "--virtual-stages V");
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
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "llama3-8b", "--compute-model", "table",
                            "--out", o, NULL), 2, "--compute-model 'table'");
    put("nosms.yaml", "nosms:\n  description: no SM figures\n  source: none, a test\n"
                      "  peak-tflops: {fp32: 10, bf16: 100}\n  memory-gib: 16\n"
                      "  memory-bw-gbs: 1000\n  link-bw-gbs: 100\n");
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "llama3-8b", "--layers", "2", "--devices",
                            tp("nosms.yaml"), "--device", "nosms", "--compute-model", "kernel", "--out",
                            o, NULL), 2, "--compute-model kernel: device 'nosms'");
    /* a model that does not fit warns, and still writes */
    expect_exit(loomrun_run(tmpdir, "gen", "llm", "--preset", "llama3-70b", "--layers", "2", "--seq", "512",
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
        char out[160];
        snprintf(out, sizeof out, "%s/f/%s", tmpdir, cases[i].name);
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
        char sys[200];
        snprintf(sys, sizeof sys, "%s.system.yaml", out);
        int rc = loomrun_run(tmpdir, "run", "-w", out, "-s", sys, "-n", tp("f/net.yml"), "-q", NULL);
        if (rc != 0)
            fail_msg("%s: loom run exited %d: %s", cases[i].name, rc, loomrun_err);
    }
    /* MoE: the expert all-to-alls, 2 forward + 2 backward per layer and
     * microbatch on the ep group, of T/t * topk * h * e bytes */
    char p0[200];
    snprintf(p0, sizeof p0, "%s/f/moe.0.et", tmpdir);
    tally t = count(p0);
    assert_int_equal(t.colls[ET_ALL_TO_ALL], 2 * 4);
    assert_true(t.bytes[ET_ALL_TO_ALL] == 8 * (512.0 / 2 * 2 * 4096 * 2));
}

/* ---- trace convert-text --------------------------------------------------- */

static void test_convert_text(void **state)
{
    (void)state;
    put("t/data.txt", "DATA\n2\n"
                      "l0 -1 10 NONE 0 20 NONE 0 30 ALLREDUCE 1048576 10\n"
                      "l1 -1 40 NONE 0 50 NONE 0 60 ALLREDUCE 2097152 10\n");
    const char *pre = tp("t/d");
    int rc = loomrun_run(tmpdir, "trace", "convert-text", tp("t/data.txt"), "--ranks", "4", "--out", pre, NULL);
    expect_exit(rc, 0, "DATA, 2 layers");
    char r0[160], r3[160];
    snprintf(r0, sizeof r0, "%s.0.et", pre);
    snprintf(r3, sizeof r3, "%s.3.et", pre);
    assert_true(inode(r0) == inode(r3));
    tally t = count(r0);
    /* Chakra's DATA structure: FWD l0, FWD l1; BWD_WG l1, its all-reduce,
     * BWD_IG l1; BWD_WG l0, its all-reduce (no input gradient for l0) */
    assert_int_equal(t.comps, 5);
    assert_int_equal(t.colls[ET_ALL_REDUCE], 2);
    /* replay on a Ring 4 at 50 GB/s, 500 ns, the micro generator's system:
     * compute 10 + 40 + 60 = 110 us, then the 2 MiB all-reduce (~64.6 us)
     * overlaps BWD_IG l1 and BWD_WG l0 (80 us); the 1 MiB all-reduce starts
     * when BWD_WG l0 ends at 190 us */
    rc = loomrun_run(tmpdir, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "4", "-o", tp("t/unused"),
                  "--network-out", tp("t/net.yml"), "--system-out", tp("t/sys.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(tmpdir, "run", "-w", pre, "-n", tp("t/net.yml"), "-s", tp("t/sys.json"), "-j",
                  tp("t/out.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    double B = 50 * GIB;
    double ar2 = ring_ar(4, 2097152, B, 500, 10, 1600e9, 1);
    assert_true(ar2 < 80000);
    double want = 190000 + ring_ar(4, 1048576, B, 500, 10, 1600e9, 1);
    double got = step_ns(tp("t/out.json"));
    if (fabs(got - want) > 0.01)
        fail_msg("convert-text DATA step %.3f ns, expected %.3f", got, want);
    /* two passes: the second pass's forward of a layer waits for the first
     * pass's weight-gradient all-reduce of that layer */
    rc = loomrun_run(tmpdir, "trace", "convert-text", tp("t/data.txt"), "-r", "4", "-o", tp("t/d2"), "-p", "2",
                  "-q", NULL);
    expect_exit(rc, 0, NULL);
    snprintf(r0, sizeof r0, "%s.0.et", tp("t/d2"));
    t = count(r0);
    assert_int_equal(t.comps, 10);
    /* HYBRID_DATA_MODEL with model-parallel groups of 2: fwd/ig on mp
     * groups, wg on dp groups; the comm-group file is written */
    put("t/hdm.txt", "HYBRID_DATA_MODEL model_parallel_NPU_group: 2\n2\n"
                     "a -1 5 ALLGATHER 4096 5 ALLREDUCE 4096 5 ALLREDUCE 8192 1\n"
                     "b -1 5 ALLREDUCE 4096 5 NONE 0 5 ALLREDUCE 8192 1\n");
    rc = loomrun_run(tmpdir, "trace", "convert-text", tp("t/hdm.txt"), "-r", "4", "-o", tp("t/h"), NULL);
    expect_exit(rc, 0, "comm.json");
    char groups[512];
    loomrun_slurp(tp("t/h.comm.json"), groups, sizeof groups);
    assert_non_null(strstr(groups, "\"mp0\": [0, 1]"));
    assert_non_null(strstr(groups, "\"dp1\": [1, 3]"));
    rc = loomrun_run(tmpdir, "run", "-w", tp("t/h"), "-n", tp("t/net.yml"), "-s", tp("t/sys.json"), "-g",
                  tp("t/h.comm.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    snprintf(r0, sizeof r0, "%s.0.et", tp("t/h"));
    t = count(r0);
    assert_int_equal(t.colls[ET_ALL_GATHER], 1);
    /* forward of b, and both weight gradients; the first layer has no
     * input-gradient collective and b's is NONE */
    assert_int_equal(t.colls[ET_ALL_REDUCE], 1 + 2);
}

static void test_convert_text_errors(void **state)
{
    (void)state;
    struct {
        const char *text, *needle;
    } bad[] = {
        {"PIPELINE\n1\n", "line 1: parallelism 'PIPELINE'"},
        {"DATA\nmany\n", "line 2: expected the number of layers"},
        {"DATA\n1\nl0 -1 10 NONE 0 20 NONE 0 30 ALLREDUCE\n", "line 3: a layer has 12 columns"},
        {"DATA\n1\nl0 -1 10 NONE 0 20 NONE 0 30 ALLSUM 1 1\n", "weight-gradient communication 'ALLSUM'"},
        {"DATA\n1\nl0 -1 x NONE 0 20 NONE 0 30 NONE 0 1\n", "forward compute time 'x'"},
        {"DATA\n2\nl0 -1 1 NONE 0 2 NONE 0 3 NONE 0 1\n", "announces 2 layers but 1 follow"},
        {"DATA\n1\nl0 -1 1 NONE 0 2 NONE 0 3 NONE 0 1\nl1 -1 1 NONE 0 2 NONE 0 3 NONE 0 1\n",
         "more layer lines"},
        {"HYBRID_DLRM\n2\n", "last bottom layer"},
        {"", "expected the parallelism"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put("t/bad.txt", bad[i].text);
        int rc = loomrun_run(tmpdir, "trace", "convert-text", tp("t/bad.txt"), "-r", "2", "-o", tp("t/b"), NULL);
        expect_exit(rc, 2, bad[i].needle);
    }
    put("t/hdm3.txt", "HYBRID_DATA_MODEL model_parallel_NPU_group: 3\n1\n"
                      "a -1 5 ALLGATHER 4096 5 ALLREDUCE 4096 5 ALLREDUCE 8192 1\n");
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", tp("t/hdm3.txt"), "-r", "4", "-o", tp("t/b"), NULL),
                2, "not a multiple of the file's model_parallel_NPU_group 3");
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", "/nonexistent.txt", "-r", "2", "-o", tp("t/b"),
                         NULL), 2, "/nonexistent.txt");
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", tp("t/data.txt"), "-o", tp("t/b"), NULL), 2,
                "needs --ranks and --out");
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", "--help", NULL), 0, "--time-scale X");
}

#define TXT FIXTURES "/text-workloads"

/* HYBRID_TRANSFORMER_FWD_IN_BCKWD (ASTRA-sim 1.0): before layer 2's input
 * gradient the forward of layers 0 .. 1 runs again (layer 0 is the
 * checkpoint).  Compute only, one chain on each rank:
 *     forward 10 + 20 + 30, recompute 10 + 20, input gradients 3 + 2 + 1,
 *     weight gradients 6 + 5 + 4  = 111 us. */
static void test_convert_fwd_in_bckwd(void **state)
{
    (void)state;
    int rc = loomrun_run(tmpdir, "trace", "convert-text", TXT "/fwd_in_bckwd.txt", "-r", "2", "-o",
                         tp("t/fib"), NULL);
    expect_exit(rc, 0, "HYBRID_TRANSFORMER_FWD_IN_BCKWD, 3 layers");
    char r0[160];
    snprintf(r0, sizeof r0, "%s.0.et", tp("t/fib"));
    tally t = count(r0);
    assert_int_equal(t.comps, 3 + 2 + 3 + 3);
    rc = loomrun_run(tmpdir, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "2", "-o", tp("t/unused2"),
                     "--network-out", tp("t/net2.yml"), "--system-out", tp("t/sys2.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(tmpdir, "run", "-w", tp("t/fib"), "-n", tp("t/net2.yml"), "-s", tp("t/sys2.json"),
                     "-g", tp("t/fib.comm.json"), "-j", tp("t/fib.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    if (fabs(step_ns(tp("t/fib.json")) - 111000) > 0.01)
        fail_msg("FWD_IN_BCKWD step %.3f ns, expected 111000", step_ns(tp("t/fib.json")));
    /* with collectives: the forward all-reduce of layer 0 and all-gather of
     * layer 1 run again in the recomputation; input-gradient collectives of
     * layers 2 and 1 (none for layer 0), weight-gradient ones of all three */
    rc = loomrun_run(tmpdir, "trace", "convert-text", TXT "/fwd_in_bckwd_comm.txt", "-r", "4", "-o",
                     tp("t/fibc"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    snprintf(r0, sizeof r0, "%s.0.et", tp("t/fibc"));
    t = count(r0);
    assert_int_equal(t.colls[ET_ALL_GATHER], 2);
    assert_int_equal(t.colls[ET_ALL_REDUCE], 2 + 2 + 3);
    /* an initiating layer with no checkpoint before it, or one out of range */
    put("t/fib_bad.txt", "HYBRID_TRANSFORMER_FWD_IN_BCKWD model_parallel_NPU_group: 2 checkpoints: 1 "
                         "1 checkpoint_initiates: 1 1\n2\na -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n"
                         "b -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n");
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", tp("t/fib_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "layer 1 initiates a recomputation but is a checkpoint");
    put("t/fib_bad.txt", "HYBRID_TRANSFORMER_FWD_IN_BCKWD model_parallel_NPU_group: 2 checkpoints: 1 "
                         "5 checkpoint_initiates: 0\n1\na -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n");
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", tp("t/fib_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "checkpoints: layer 5: the file has layers 0 .. 0");
    put("t/fib_bad.txt", "HYBRID_TRANSFORMER_FWD_IN_BCKWD model_parallel_NPU_group: 2\n1\n"
                         "a -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n");
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", tp("t/fib_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "checkpoint_initiates");
}

/* HYBRID_CUSTOMIZED: each layer's 13th column picks its collectives, as
 * ASTRA-sim 1.0's involved dimensions do: emb (MODEL) keeps its forward
 * all-reduce (its input gradient is the first layer's, never written) and
 * drops the weight gradient's; mlp (DATA) keeps only the weight
 * gradient's; att (HYBRID_MODEL_DATA) keeps all three, on the groups of
 * HYBRID_MODEL_DATA (model-parallel across, data-parallel within). */
static void test_convert_customized(void **state)
{
    (void)state;
    int rc = loomrun_run(tmpdir, "trace", "convert-text", TXT "/customized.txt", "-r", "4", "-o",
                         tp("t/cu"), NULL);
    expect_exit(rc, 0, "HYBRID_CUSTOMIZED, 3 layers");
    char r0[160];
    snprintf(r0, sizeof r0, "%s.0.et", tp("t/cu"));
    tally t = count(r0);
    assert_int_equal(t.colls[ET_ALL_REDUCE], 1 + 1 + 3);
    assert_int_equal(t.colls[ET_ALL_GATHER], 0);
    assert_int_equal(t.colls[ET_REDUCE_SCATTER], 0);
    char groups[1024];
    loomrun_slurp(tp("t/cu.comm.json"), groups, sizeof groups);
    assert_non_null(strstr(groups, "\"mp0\": [0, 1]"));
    assert_non_null(strstr(groups, "\"hmd_mp0\": [0, 2]"));
    assert_non_null(strstr(groups, "\"hmd_dp1\": [2, 3]"));
    rc = loomrun_run(tmpdir, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "4", "-o", tp("t/unused3"),
                     "--network-out", tp("t/net4.yml"), "--system-out", tp("t/sys4.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(tmpdir, "run", "-w", tp("t/cu"), "-n", tp("t/net4.yml"), "-s", tp("t/sys4.json"),
                     "-g", tp("t/cu.comm.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    put("t/cu_bad.txt", "HYBRID_CUSTOMIZED\n1\na -1 1 NONE 0 1 NONE 0 1 NONE 0 1 PIPELINE\n");
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", tp("t/cu_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "parallelism 'PIPELINE' is not DATA, MODEL");
    put("t/cu_bad.txt", "HYBRID_CUSTOMIZED\n1\na -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n");
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", tp("t/cu_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "a layer has 13 columns");
}

/* Chakra's converter's spellings: `chakra_converter Text --input F
 * --output P --num-npus N --num-passes K` and et_converter's underscores;
 * the same files as loom's own flags. */
static void test_convert_chakra_flags(void **state)
{
    (void)state;
    int rc = loomrun_run(tmpdir, "trace", "convert-text", "Text", "--input", TXT "/fwd_in_bckwd.txt",
                         "--output", tp("t/ch"), "--num-npus", "2", "--num-passes", "2",
                         "--num-dims", "1", "-q", NULL);
    expect_exit(rc, 0, NULL);
    assert_non_null(strstr(loomrun_err, "--num-dims 1 is not used"));
    rc = loomrun_run(tmpdir, "trace", "convert-text", "--input_type", "Text", "--input_filename",
                     TXT "/fwd_in_bckwd.txt", "--output_filename", tp("t/ch2"), "--num_npus", "2",
                     "--num_passes", "2", "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(tmpdir, "trace", "convert-text", TXT "/fwd_in_bckwd.txt", "-r", "2", "-p", "2",
                     "-o", tp("t/ch3"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    char a[160], b[160], c[160];
    snprintf(a, sizeof a, "%s.1.et", tp("t/ch"));
    snprintf(b, sizeof b, "%s.1.et", tp("t/ch2"));
    snprintf(c, sizeof c, "%s.1.et", tp("t/ch3"));
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s' && cmp -s '%s' '%s'", a, b, a, c);
    assert_int_equal(system(cmd), 0);
    expect_exit(loomrun_run(tmpdir, "trace", "convert-text", "--input_type", "PyTorch", "--input", "x",
                            NULL), 2, "--input_type 'PyTorch': loom converts Text only");
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
        cmocka_unit_test(test_llm_tp_overlap),
        cmocka_unit_test(test_llm_attention_kernel),
        cmocka_unit_test(test_llm_fp8_casts),
        cmocka_unit_test(test_llm_memory_published),
        cmocka_unit_test(test_llm_cp),
        cmocka_unit_test(test_roles_equal_explicit),
        cmocka_unit_test(test_llm_optimizer_step),
        cmocka_unit_test(test_llm_fp8_head),
        cmocka_unit_test(test_llm_moe_kernels),
        cmocka_unit_test(test_llm_step),
        cmocka_unit_test(test_llm_cost_at_replay),
        cmocka_unit_test(test_llm_errors),
        cmocka_unit_test(test_llm_features),
        cmocka_unit_test(test_convert_text),
        cmocka_unit_test(test_convert_text_errors),
        cmocka_unit_test(test_convert_fwd_in_bckwd),
        cmocka_unit_test(test_convert_customized),
        cmocka_unit_test(test_convert_chakra_flags),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
