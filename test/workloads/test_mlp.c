/*
 * test_mlp.c: `loom gen llm --mlp`, `--norm` and `--bias`
 * (docs/WORKLOADS.md, "MLP, norm and biases").  Every expected figure is
 * the parameter count or the kernel's FLOPs and bytes worked out by hand
 * for one small model: h = 1024, f = 4096, 16 heads of d = 64 (no
 * grouping), 2 layers, s = 256, V = 1024, untied embeddings, TP 1, DP 2, one
 * microbatch of one sequence (T = 256 tokens), bf16 with fp32 gradients, so
 * the data-parallel all-reduce carries 4 bytes per parameter:
 *
 *   embeddings   2 V h = 2,097,152   (input and output layer)
 *   attention    3 h^2 + h^2 = 4,194,304 a layer
 *   MLP          2 h f = 8,388,608 a layer (gated: 3 h f = 12,582,912)
 *   norms        2 a layer and a final one: LayerNorm 2h, RMSNorm h each
 *   biases       3h + h (attention) and f + h (MLP; gated 2f + h) a layer
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gen_check.h"

/* Nemotron-4's family (squared ReLU, LayerNorm, no biases, rotary, untied)
 * on the small shape above */
#define NEMO "--preset", "nemotron4-340b", "--hidden", "1024", "--ffn", "4096", "--heads", "16", \
             "--kv-heads", "16", "--layers", "2", "--seq", "256", "--vocab", "1024", "--dp", "2", \
             "--global-batch", "2", "-q"

#define EMB 2097152.0
#define ATTN 4194304.0
#define MLP2 8388608.0
#define MLP3 12582912.0
#define H 1024.0
#define F 4096.0

/* Generates with the extra arguments (NULL-ended) into name; loads rank 0. */
static et_graph *gen(const char *name, const char *a1, const char *a2, const char *a3,
                     const char *a4)
{
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", NEMO, "--out", tp(name), a1, a2, a3, a4, NULL);
    if (rc != 0)
        fail_msg("gen llm %s: exit %d: %s", name, rc, loomrun_err);
    return load_prefix(tp(name), 0);
}

/* Parameters, from the bytes the data-parallel all-reduces carry (fp32). */
static double params(const et_graph *g)
{
    double bytes = 0;
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        if (n->type == ET_COMM_COLL_NODE && n->comm_type == ET_ALL_REDUCE &&
            strcmp(g->pg_names[n->pg], "dp") == 0)
            bytes += (double)n->comm_size;
    }
    return bytes / 4;
}

/* Squared ReLU: two MLP matrices, LayerNorm, no biases, no position
 * parameters (rotary).  Its kernel reads T f and writes T f elements
 * (2 x 2 B x 256 x 4096 = 4,194,304 bytes) at 2 FLOPs each (2,097,152);
 * the backward reads the input and the output gradient and writes one
 * (6,291,456 bytes).  Nothing of GELU's or SwiGLU's. */
static void test_relu2(void **state)
{
    (void)state;
    et_graph *g = gen("relu2", NULL, NULL, NULL, NULL);
    assert_true(params(g) == EMB + 2 * (ATTN + MLP2 + 2 * 2 * H) + 2 * H);
    uint64_t f = 0, b = 0;
    assert_int_equal(ending_with(g, "relu2", &f, &b), 2);
    assert_true(f == 2097152ull && b == 4194304ull);
    assert_int_equal(ending_with(g, "relu2_bwd", &f, &b), 2);
    assert_true(f == 2097152ull && b == 6291456ull);
    assert_int_equal(ending_with(g, "gelu", &f, &b) + ending_with(g, "swiglu", &f, &b), 0);
    assert_int_equal(ending_with(g, "rope", &f, &b), 2);
    et_graph_free(g);
}

/* --norm and --bias override the family's: RMSNorm halves each norm's
 * parameters (5 norms: h fewer each); biases add 3h + h and f + h a
 * layer. */
static void test_norm_bias(void **state)
{
    (void)state;
    et_graph *g = gen("rms", "--norm", "rmsnorm", NULL, NULL);
    assert_true(params(g) == EMB + 2 * (ATTN + MLP2 + 2 * H) + H);
    et_graph_free(g);
    g = gen("bias", "--bias", "on", NULL, NULL);
    assert_true(params(g) == EMB + 2 * (ATTN + MLP2 + 4 * H + 4 * H + F + H) + 2 * H);
    et_graph_free(g);
    assert_int_equal(loomrun_run(loomrun_tmp, "gen", "llm", NEMO, "--norm", "batchnorm", "--out",
                                 loomrun_path("bad"), NULL), 2);
    assert_non_null(strstr(loomrun_err, "--norm 'batchnorm': expected layernorm or rmsnorm"));
    assert_int_equal(loomrun_run(loomrun_tmp, "gen", "llm", NEMO, "--bias", "maybe", "--out",
                                 loomrun_path("bad"), NULL), 2);
    assert_non_null(strstr(loomrun_err, "--bias 'maybe': expected on or off"));
}

/* GeGLU: gated (three matrices, the FC1 GEMM's output 2f wide), RMSNorm
 * and no biases by default; its kernel reads two inputs and writes one
 * (3 x 2 B x 256 x 4096 = 6,291,456 bytes) at 8 FLOPs an element.  With
 * --mlp gelu on the same preset the norm and biases follow the MLP
 * (LayerNorm, biases) and the positions stay the preset's (rotary: no
 * s h position parameters, the rotary kernels kept). */
static void test_geglu_gelu(void **state)
{
    (void)state;
    et_graph *g = gen("geglu", "--mlp", "geglu", NULL, NULL);
    assert_true(params(g) == EMB + 2 * (ATTN + MLP3 + 2 * H) + H);
    uint64_t f = 0, b = 0;
    assert_int_equal(ending_with(g, "geglu", &f, &b), 2);
    assert_true(f == 8ull * 256 * 4096 && b == 6291456ull);
    et_graph_free(g);
    g = gen("gelu", "--mlp", "gelu", NULL, NULL);
    assert_true(params(g) == EMB + 2 * (ATTN + MLP2 + 4 * H + 4 * H + F + H) + 2 * H);
    assert_int_equal(ending_with(g, "rope", &f, &b), 2);
    assert_int_equal(ending_with(g, "gelu", &f, &b), 2);
    et_graph_free(g);
    assert_int_equal(loomrun_run(loomrun_tmp, "gen", "llm", NEMO, "--mlp", "relu", "--out",
                                 loomrun_path("bad"), NULL), 2);
    assert_non_null(strstr(loomrun_err, "--mlp 'relu': expected gelu, swiglu, relu2 or geglu"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu2),
        cmocka_unit_test(test_norm_bias),
        cmocka_unit_test(test_geglu_gelu),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
