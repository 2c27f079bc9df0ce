/* workloads/ as a library: byte counts, hard links, the LLM plan's checks
 * and its memory estimate against the published activation formula
 * (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
 * Transformer Models", eq. 2: s*b*h*(10 + 24/t + 5*a*s/(h*t)) bytes per
 * layer with tensor parallelism), worked out by hand below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "et_graph.h"
#include "wl.h"
#include "wl_emit.h"
#include "wl_llm.h"
#include "wl_llm_int.h"

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t v;
    } ok[] = {
        {"1048576", 1048576},   {"1MiB", 1048576},  {"1M", 1048576},   {"4GiB", 4294967296ULL},
        {"100MB", 100000000},   {"2KiB", 2048},     {"3KB", 3000},     {"1.5GiB", 1610612736ULL},
        {"0", 0},               {"7B", 7},          {"1TiB", 1099511627776ULL},
        {"9223372036854775807", 9223372036854775807ULL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 1;
        if (wl_parse_size(ok[i].s, &v) != 0 || v != ok[i].v)
            fail_msg("%s: got %llu", ok[i].s, (unsigned long long)v);
    }
    static const char *bad[] = {"", "-1", "1.5B", "12XB", "MiB", "1 MiB", "9223372036854775808",
                                "9000000TiB", "8388608TiB", "1e9", "0x10", "+5", "1..2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        if (wl_parse_size(bad[i], &v) == 0)
            fail_msg("'%s' was accepted as %llu", bad[i], (unsigned long long)v);
    }
}

static char tmp[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/loom_wlXXXXXX");
    assert_non_null(mkdtemp(tmp));
    setenv("XDG_CONFIG_HOME", "/nonexistent-loom-test", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd);
}

/* a written trace reads back through et_graph with its ids, deps and
 * attributes; a linked rank file is the same inode; relinking replaces */
static void test_emit_and_link(void **state)
{
    (void)state;
    char p0[128], p1[128];
    snprintf(p0, sizeof p0, "%s/e.0.et", tmp);
    snprintf(p1, sizeof p1, "%s/e.1.et", tmp);
    loom_err err = {0};
    wl_trace *t = wl_trace_open(p0, &err);
    assert_non_null(t);
    uint64_t a = wl_comp(t, "k", 1000, 2000, 3, NULL, 0);
    uint64_t deps[3] = {a, 0, a}; /* 0 skipped, duplicates folded */
    uint64_t b = wl_coll(t, "c", ET_ALL_GATHER, 4096, "tp0", deps, 3);
    uint64_t c = wl_send(t, "s", 5, 77, 8, NULL, &b, 1);
    uint64_t d = wl_recv(t, "r", 6, 78, 9, "pp", &c, 1);
    assert_int_equal(a, 1);
    assert_int_equal(d, 4);
    assert_int_equal(wl_trace_close(t, &err), 0);
    et_graph *g = et_graph_load(p0, &err);
    assert_non_null(g);
    assert_int_equal(g->n, 4);
    assert_int_equal(g->nodes[0].num_ops, 1000);
    assert_int_equal(g->nodes[0].tensor_size, 2000);
    assert_int_equal(g->nodes[0].duration_ns, 3000);
    assert_int_equal(g->nodes[1].comm_type, ET_ALL_GATHER);
    assert_int_equal(g->nodes[1].comm_size, 4096);
    assert_int_equal(g->nodes[1].ndata, 1);
    assert_string_equal(g->pg_names[g->nodes[1].pg], "tp0");
    assert_int_equal(g->nodes[2].comm_dst, 5);
    assert_int_equal(g->nodes[2].comm_tag, 77);
    assert_int_equal(g->nodes[3].comm_src, 6);
    assert_string_equal(g->pg_names[g->nodes[3].pg], "pp");
    et_graph_free(g);
    /* links */
    FILE *f = fopen(p1, "w"); /* an old file in the way is replaced */
    fputs("old", f);
    fclose(f);
    int copied = -1;
    assert_int_equal(wl_link_or_copy(p0, p1, &copied, &err), 0);
    assert_int_equal(copied, 0);
    struct stat s0, s1;
    assert_int_equal(stat(p0, &s0), 0);
    assert_int_equal(stat(p1, &s1), 0);
    assert_true(s0.st_ino == s1.st_ino);
    /* again: already the same file, nothing left behind */
    assert_int_equal(wl_link_or_copy(p0, p1, &copied, &err), 0);
    char tmpname[160];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", p1, (long)getpid());
    assert_int_equal(access(tmpname, F_OK), -1);
    /* a missing source fails with the name */
    loom_err e2 = {0};
    assert_true(wl_link_or_copy("/nonexistent/x.et", p1, NULL, &e2) < 0);
    assert_non_null(strstr(e2.msg, "/nonexistent/x.et"));
}

/* The small model of the generator tests: 2 layers, h 1024, tp2 pp2 dp2. */
/* With streams on, a collective or send waits (ctrl_dep) for the node
 * written before it on its stream, as a CUDA stream runs its work in order;
 * not when that node is already a data dependency, and never across
 * streams or on a receive. */
static void test_emit_stream_order(void **state)
{
    (void)state;
    char p0[128];
    snprintf(p0, sizeof p0, "%s/so.0.et", tmp);
    loom_err err = {0};
    wl_trace *t = wl_trace_open(p0, &err);
    assert_non_null(t);
    wl_trace_pg_streams(t, 1);
    uint64_t k = wl_comp(t, "k", 1, 1, 1, NULL, 0);
    uint64_t a = wl_coll(t, "a", ET_ALL_GATHER, 64, "dp", &k, 1);     /* first on dp */
    uint64_t b = wl_coll(t, "b", ET_ALL_REDUCE, 64, "tp", &k, 1);     /* first on tp */
    uint64_t c = wl_coll(t, "c", ET_REDUCE_SCATTER, 64, "dp", &k, 1); /* after a */
    uint64_t d = wl_coll(t, "d", ET_ALL_GATHER, 64, "dp", &c, 1);     /* c is its data */
    uint64_t e = wl_send(t, "e", 1, 7, 8, "pp", &k, 1);
    uint64_t f = wl_recv(t, "f", 1, 8, 8, "pp", &k, 1);               /* no lane */
    uint64_t h = wl_send(t, "h", 1, 9, 8, "pp", &k, 1);               /* after e */
    (void)b;
    (void)f;
    assert_int_equal(wl_trace_close(t, &err), 0);
    et_graph *g = et_graph_load(p0, &err);
    assert_non_null(g);
    static const uint32_t nctrl[8] = {0, 0, 0, 1, 0, 0, 0, 1};
    for (uint32_t i = 0; i < g->n; i++)
        assert_int_equal(g->nodes[i].nctrl, nctrl[i]);
    const et_gnode *nc = &g->nodes[c - 1], *nh = &g->nodes[h - 1];
    assert_int_equal(g->deps[nc->dep + nc->ndata], a - 1); /* indices: ids from 1 */
    assert_int_equal(g->deps[nh->dep + nh->ndata], e - 1);
    assert_int_equal(g->nodes[d - 1].ndata, 1);
    et_graph_free(g);
}

static wl_llm_opts small(const char *out)
{
    wl_llm_opts o = {.tp = 2, .pp = 2, .dp = 2, .ep = 1, .micro_batch = 1, .global_batch = 8,
                     .vstages = 1, .dtype = COMP_BF16, .device = "h100-sxm", .out = out,
                     .quiet = 1};
    assert_int_equal(wl_llm_preset("gpt3-175b", &o.m), 0);
    o.m.hidden = 1024;
    o.m.ffn = 4096;
    o.m.heads = o.m.kv_heads = 16;
    o.m.layers = 2;
    o.m.seq = 256;
    o.m.vocab = 1000;
    return o;
}

static void test_memory(void **state)
{
    (void)state;
    loom_err err = {0};
    wl_llm_opts o = small("/tmp/unused/x");
    wl_llm_plan *p = wl_llm_plan_new(&o, &err);
    if (p == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(wl_llm_world(p), 8);
    assert_int_equal(wl_llm_microbatches(p), 4);   /* 8 / (1 x 2) */
    assert_int_equal(wl_llm_vocab_padded(p), 1024); /* 1000 up to 128 x 2 */
    /* parameters on a stage-0 rank: embedding 1024/2*1024 + positions
     * 256*1024 = 786432; one layer: QKV 1024*1536 + proj 512*1024 + biases
     * 1536 + 1024 + LayerNorm 2048 = 2101760; MLP 2*1024*2048 + biases
     * 2048 + 1024 + LayerNorm 2048 = 4199424: 7087616 in all */
    wl_llm_mem m;
    wl_llm_memory(p, 0, &m);
    assert_true(m.params == 7087616);
    assert_true(m.weights == 7087616.0 * 2);   /* bf16 */
    assert_true(m.grads == 7087616.0 * 4);     /* fp32 gradients */
    assert_true(m.optimizer == 7087616.0 * 12); /* fp32 master, Adam m and v */
    /* activations: s*b*h*(10 + 24/t + 5*a*s/(h*t)) = 256*1024*(10 + 12 + 10)
     * = 8388608 per layer; 1F1B keeps pp - stage = 2 microbatches on stage 0 */
    assert_int_equal(m.inflight, 2);
    assert_true(m.activations == 2 * 8388608.0);
    /* stage 1: one microbatch, plus the fp32 logits 4*T*V/t = 4*256*512 */
    wl_llm_memory(p, 1, &m);
    assert_int_equal(m.inflight, 1);
    assert_true(m.activations == 8388608.0 + 524288.0);
    assert_true(m.params == 6301184.0 + 2048 + 524288); /* layer + final norm + output copy */
    wl_llm_plan_free(p);
    /* FP8: the GEMMs' inputs are kept as their 1-byte FP8 copies: with
     * T h = 262144, R = (2e + 2 + 2) T h = 8 T h (the norms' inputs stay
     * bf16), S = (e 3h + h + e f + f) T / t = (6 + 1 + 8 + 4) / 2 T h =
     * 9.5 T h, the attention core's 10 T h as before: 27.5 T h a layer */
    o.dtype = COMP_FP8;
    p = wl_llm_plan_new(&o, &err);
    assert_non_null(p);
    wl_llm_memory(p, 0, &m);
    assert_true(m.activations == 2 * 27.5 * 262144);
    wl_llm_plan_free(p);
    o.dtype = COMP_BF16;
    /* without dropout (--hidden-dropout 0 --attention-dropout 0, the
     * SwiGLU family's default) ATen keeps no masks: R = (2e + 2e) T h = 8 T
     * h, the attention core only its softmax output, e a/t s^2 = 4 T h:
     * s b h (8 + 24/t + 2 a s/(h t)) = 24 T h a layer; hidden dropout alone
     * adds its 2 masks, 2 T h */
    o.m.hdrop = o.m.adrop = WL_DROP_OFF;
    p = wl_llm_plan_new(&o, &err);
    assert_non_null(p);
    wl_llm_memory(p, 0, &m);
    assert_true(m.activations == 2 * 24.0 * 262144);
    wl_llm_plan_free(p);
    o.m.hdrop = WL_DROP_ON;
    p = wl_llm_plan_new(&o, &err);
    assert_non_null(p);
    wl_llm_memory(p, 0, &m);
    assert_true(m.activations == 2 * 26.0 * 262144);
    wl_llm_plan_free(p);
    o.m.hdrop = o.m.adrop = WL_DROP_AUTO;
    /* ZeRO 1 shards the optimizer state over dp = 2; full recomputation
     * keeps each layer's input, 2*s*b*h/t with sequence parallelism, plus
     * the one layer being recomputed */
    o.zero = 1;
    o.sp = 1;
    o.recompute = WL_RC_FULL;
    p = wl_llm_plan_new(&o, &err);
    assert_non_null(p);
    wl_llm_memory(p, 0, &m);
    assert_true(m.optimizer == 7087616.0 * 12 / 2);
    /* 2 inputs of 2*256*1024/2 bytes, and one layer with SP and nothing
     * recomputed: s*b*h/t*(34 + 5*a*s/h) = 131072 * 54 (Korthikanti eq. 4) */
    assert_true(m.activations == 2 * (2.0 * 256 * 1024 / 2) + 131072.0 * 54);
    wl_llm_plan_free(p);
}

static void expect_plan_error(wl_llm_opts o, const char *needle)
{
    loom_err err = {0};
    wl_llm_plan *p = wl_llm_plan_new(&o, &err);
    if (p != NULL || err.code != LOOM_EUSAGE || strstr(err.msg, needle) == NULL)
        fail_msg("expected an error with '%s', got '%s'", needle, err.msg);
}

static void test_plan_errors(void **state)
{
    (void)state;
    wl_llm_opts o = small("/tmp/unused/x");
    wl_llm_opts b;
    b = o; b.tp = 3; expect_plan_error(b, "--tp 3 does not divide --heads 16");
    b = o; b.dp = 0; b.ranks = 10; expect_plan_error(b, "--ranks 10 is not a multiple of --tp 2 x --pp 2");
    b = o; b.ranks = 16; expect_plan_error(b, "--ranks 16 is not --tp 2 x --pp 2 x --dp 2");
    b = o; b.global_batch = 7; expect_plan_error(b, "--global-batch 7 is not a multiple");
    b = o; b.tp = 1; b.sp = 1; expect_plan_error(b, "--sequence-parallel needs --tp > 1");
    b = o; b.sched = WL_SCHED_INTERLEAVED; b.vstages = 2; b.m.layers = 4; b.global_batch = 6;
    expect_plan_error(b, "the 3 microbatches per pipeline are not a multiple of --pp 2");
    b.mb_group = 1; expect_plan_error(b, "--microbatch-group 1 must be in [--pp 2, the 3");
    b.mb_group = 4; expect_plan_error(b, "--microbatch-group 4 must be in [--pp 2, the 3");
    b.global_batch = 10; b.mb_group = 4; /* 5 microbatches: groups of 4 leave 1 */
    expect_plan_error(b, "--microbatch-group 4 leaves a last group of 1 of the 5");
    b.global_batch = 6; b.mb_group = 3; loom_err ok = {0}; /* one group of all 3: accepted */
    wl_llm_plan *pg = wl_llm_plan_new(&b, &ok);
    if (pg == NULL)
        fail_msg("%s", ok.msg);
    wl_llm_plan_free(pg);
    b = o; b.mb_group = 2;
    expect_plan_error(b, "--microbatch-group 2 needs --schedule interleaved");
    b = o; b.sched = WL_SCHED_INTERLEAVED; b.vstages = 2; expect_plan_error(b, "--layers 2: fewer than");
    b = o; b.vstages = 2; expect_plan_error(b, "needs --schedule interleaved");
    b = o; b.ep = 2; expect_plan_error(b, "--ep 2 needs --experts > 1");
    b = o; b.m.experts = 8; b.m.topk = 2; b.ep = 2; expect_plan_error(b, "needs --sequence-parallel");
    b = o; b.m.experts = 6; b.m.topk = 2; b.ep = 4; b.sp = 1; expect_plan_error(b, "--ep 4 does not divide --experts 6");
    b = o; b.m.experts = 8; b.m.topk = 9; b.sp = 1; expect_plan_error(b, "--topk 9");
    b = o; b.m.hidden = 1000; expect_plan_error(b, "--hidden 1000 is not a multiple of --heads 16");
    b = o; b.m.kv_heads = 3; expect_plan_error(b, "--kv-heads 3 must divide --heads 16");
    b = o; b.device = "tpu"; expect_plan_error(b, "--device 'tpu' is not in the catalog");
    b = o; b.device = "a100-40g"; b.dtype = COMP_FP8; expect_plan_error(b, "no fp8");
    b = o; b.zero = 4; expect_plan_error(b, "--zero 4");
    wl_model m;
    assert_int_equal(wl_llm_preset("llama3-405b", &m), 0);
    assert_int_equal(m.layers, 126);
    assert_int_equal(wl_llm_preset("gpt-5", &m), -1);
}

static wl_llm_plan *plan_ok(wl_llm_opts o)
{
    loom_err err = {0};
    wl_llm_plan *p = wl_llm_plan_new(&o, &err);
    if (p == NULL)
        fail_msg("%s", err.msg);
    return p;
}

/* Megatron-Core's --account-for-{embedding,loss}-in-pipeline-split: the
 * embedding and the loss count as a layer each, L + e + l split evenly
 * over pp x V, the first virtual stage e layers fewer, the last l. */
static void test_split_counted(void **state)
{
    (void)state;
    wl_llm_opts o = small("/tmp/unused/x");
    o.sched = WL_SCHED_INTERLEAVED;
    o.vstages = 4; /* 8 chunks over pp 2 */
    o.m.layers = 6;
    o.split_embed = o.split_loss = 1; /* 8 / 8: one a chunk, none at the ends */
    wl_llm_plan *p = plan_ok(o);
    for (int v = 0; v < 8; v++) {
        assert_int_equal(p->chunk_layers[v], v == 0 || v == 7 ? 0 : 1);
        assert_int_equal(p->chunk_first[v], v == 0 ? 0 : v - 1);
    }
    wl_llm_plan_free(p);
    o.m.layers = 7;
    o.split_loss = 0; /* the embedding alone: chunk 0 empty */
    p = plan_ok(o);
    for (int v = 0; v < 8; v++)
        assert_int_equal(p->chunk_layers[v], v == 0 ? 0 : 1);
    wl_llm_plan_free(p);
    o.split_embed = 0;
    o.split_loss = 1; /* the loss alone: the last chunk empty */
    p = plan_ok(o);
    for (int v = 0; v < 8; v++)
        assert_int_equal(p->chunk_layers[v], v == 7 ? 0 : 1);
    wl_llm_plan_free(p);
    o.vstages = 2; /* 4 chunks: 8 / 4 = 2 a chunk, the last one fewer */
    p = plan_ok(o);
    assert_int_equal(p->chunk_layers[0], 2);
    assert_int_equal(p->chunk_layers[3], 1);
    wl_llm_plan_free(p);
    o.split_embed = 1; /* 9 over 4 does not divide */
    expect_plan_error(o, "--layers 7 + the embedding + the loss does not divide over --pp x "
                         "--virtual-stages = 4");
    /* Llama 3 405B on 16 stages: 128 / 128 at V = 8 (Dubey et al. 2024,
     * sec. 3.3.2); at V = 2 the same split as without the flags, 3, 4, .., 4, 3 */
    o.m.layers = 126;
    o.pp = 16;
    o.dp = 1;
    o.global_batch = 16;
    o.vstages = 8;
    p = plan_ok(o);
    assert_int_equal(p->chunk_layers[0], 0);
    assert_int_equal(p->chunk_layers[127], 0);
    assert_int_equal(p->chunk_first[127], 126);
    wl_llm_plan_free(p);
    o.vstages = 2;
    p = plan_ok(o);
    o.split_embed = o.split_loss = 0;
    wl_llm_plan *q = plan_ok(o);
    for (int v = 0; v < 32; v++) {
        assert_int_equal(p->chunk_layers[v], v == 0 || v == 31 ? 3 : 4);
        assert_int_equal(q->chunk_layers[v], p->chunk_layers[v]);
    }
    wl_llm_plan_free(p);
    wl_llm_plan_free(q);
}

/* Megatron's --decoder-first/last-pipeline-num-layers: the ends hold the
 * layers given, the stages between split the rest, each stage over its V
 * chunks (chunk v = c pp + s), all evenly, by hand. */
static void test_split_ends(void **state)
{
    (void)state;
    wl_llm_opts o = small("/tmp/unused/x");
    o.pp = 4;
    o.dp = 1;
    o.global_batch = 4;
    o.sched = WL_SCHED_INTERLEAVED;
    o.vstages = 2;
    o.m.layers = 12;
    o.first_given = o.last_given = 1;
    o.first_layers = o.last_layers = 2; /* 1 a chunk at the ends, 8 / (2 x 2) = 2 between */
    wl_llm_plan *p = plan_ok(o);
    static const int want[8] = {1, 2, 2, 1, 1, 2, 2, 1}, first[8] = {0, 1, 3, 5, 6, 7, 9, 11};
    for (int v = 0; v < 8; v++) {
        assert_int_equal(p->chunk_layers[v], want[v]);
        assert_int_equal(p->chunk_first[v], first[v]);
    }
    wl_llm_plan_free(p);
    wl_llm_opts b = o; /* the first stage alone: 9 over the other 3 */
    b.sched = WL_SCHED_1F1B;
    b.vstages = 1;
    b.m.layers = 10;
    b.first_layers = 1;
    b.last_given = 0;
    p = plan_ok(b);
    for (int v = 0; v < 4; v++)
        assert_int_equal(p->chunk_layers[v], v == 0 ? 1 : 3);
    wl_llm_plan_free(p);
    b.pp = 2; /* both ends, nothing between */
    b.global_batch = 2;
    b.first_layers = 4;
    b.last_given = 1;
    b.last_layers = 6;
    p = plan_ok(b);
    assert_int_equal(p->chunk_layers[0], 4);
    assert_int_equal(p->chunk_layers[1], 6);
    wl_llm_plan_free(p);
    b.last_layers = 5; /* one layer left and no stage for it */
    expect_plan_error(b, "--layers 10 with 4 on the first stage and 5 on the last: the 1 left");
    b = o;
    b.first_layers = b.last_layers = 6; /* nothing for the 2 stages between */
    expect_plan_error(b, "virtual stage 1 (stage 1, chunk 0) would hold no layer");
    b = o;
    b.first_layers = 4; /* the last stage's first chunk empty: 8 - 4 - 0 = 4 between */
    b.last_layers = 0;
    expect_plan_error(b, "virtual stage 3 (stage 3, chunk 0) would hold no layer");
    b = o;
    b.first_layers = 3; /* 3 over 2 chunks */
    expect_plan_error(b, "or an end does not over --virtual-stages 2");
    b = o;
    b.split_loss = 1;
    expect_plan_error(b, "one or the other");
    b = o;
    b.last_layers = -2; /* the command refuses it; the library too */
    expect_plan_error(b, "pipeline-num-layers 2, -2: a count of layers is >= 0");
    b = o;
    b.pp = 1;
    b.sched = WL_SCHED_1F1B;
    b.vstages = 1;
    expect_plan_error(b, "need --pp >= 2");
}

/* Interleaved schedule: the memory walk sees Megatron's warm-up of
 * (pp - s - 1) * 2 + (V - 1) * pp forward chunks, plus the one in flight. */
static void test_interleaved_inflight(void **state)
{
    (void)state;
    wl_llm_opts o = small("/tmp/unused/x");
    o.m.layers = 8;
    o.pp = 2;
    o.sched = WL_SCHED_INTERLEAVED;
    o.vstages = 2;
    o.global_batch = 8; /* 4 microbatches, 8 virtual */
    loom_err err = {0};
    wl_llm_plan *p = wl_llm_plan_new(&o, &err);
    if (p == NULL)
        fail_msg("%s", err.msg);
    wl_llm_mem m;
    wl_llm_memory(p, 0, &m);
    assert_int_equal(m.inflight, (2 - 0 - 1) * 2 + (2 - 1) * 2 + 1); /* 5 */
    wl_llm_memory(p, 1, &m);
    assert_int_equal(m.inflight, (2 - 1 - 1) * 2 + (2 - 1) * 2 + 1); /* 3 */
    wl_llm_plan_free(p);
}

/* Megatron-Core's schedule table with microbatch groups, its own example
 * (schedules.py, forward_backward_pipelining_with_interleaving: "PP2 N3M5
 * with VP2"): virtual microbatches 0..9 run microbatches 0 1 2 0 1 2 3 4 3 4
 * on chunks 0 0 0 1 1 1 0 0 1 1 (the last group the remaining 2), the
 * backward the same with the chunks reversed; the warm-up is
 * (pp - s - 1) * 2 + (V - 1) * N (get_pp_rank_microbatches). */
static void test_interleaved_groups(void **state)
{
    (void)state;
    wl_llm_opts o = small("/tmp/unused/x");
    o.m.layers = 8;
    o.sched = WL_SCHED_INTERLEAVED;
    o.vstages = 2;
    o.mb_group = 3;
    o.global_batch = 10; /* 5 microbatches per pipeline (dp 2) */
    loom_err err = {0};
    wl_llm_plan *p = wl_llm_plan_new(&o, &err);
    if (p == NULL)
        fail_msg("%s", err.msg);
    static const int tmb[10] = {0, 1, 2, 0, 1, 2, 3, 4, 3, 4};
    static const int tch[10] = {0, 0, 0, 1, 1, 1, 0, 0, 1, 1};
    for (int s = 0; s < 2; s++) {
        int warm = (2 - s - 1) * 2 + (2 - 1) * 3, f = 0, b = 0;
        llm_op want[20], got[20];
        int n = 0;
        while (f < warm)
            want[n++] = (llm_op){1, tmb[f], tch[f]}, f++;
        while (f < 10) {
            want[n++] = (llm_op){1, tmb[f], tch[f]}, f++;
            want[n++] = (llm_op){0, tmb[b], 1 - tch[b]}, b++;
        }
        while (b < 10)
            want[n++] = (llm_op){0, tmb[b], 1 - tch[b]}, b++;
        assert_int_equal(llm_schedule(p, s, got), 20);
        for (int i = 0; i < 20; i++) {
            if (got[i].fwd != want[i].fwd || got[i].mb != want[i].mb ||
                got[i].chunk != want[i].chunk)
                fail_msg("stage %d op %d: got %s mb %d chunk %d, want %s mb %d chunk %d", s, i,
                         got[i].fwd ? "F" : "B", got[i].mb, got[i].chunk,
                         want[i].fwd ? "F" : "B", want[i].mb, want[i].chunk);
        }
        wl_llm_mem m;
        wl_llm_memory(p, s, &m);
        assert_int_equal(m.inflight, warm + 1);
    }
    wl_llm_plan_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_emit_and_link),
        cmocka_unit_test(test_emit_stream_order),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_plan_errors),
        cmocka_unit_test(test_interleaved_inflight),
        cmocka_unit_test(test_split_counted),
        cmocka_unit_test(test_split_ends),
        cmocka_unit_test(test_interleaved_groups),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
