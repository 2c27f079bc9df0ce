/*
 * test_layers.c: the layer kernels `loom gen llm` writes as Megatron-Core
 * with Transformer Engine launches them (workloads/wl_llm_layers.c,
 * docs/WORKLOADS.md): the userbuffer overlap of tensor-parallel
 * communication, the FP8 recipe's casts and which GEMMs keep 16-bit
 * operands, the attention kernel family, MoE token movements.  Shapes,
 * bytes and dependencies are worked out by hand in the comments.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen_check.h"

static et_graph *load_rank(const char *name, int rank) { return load_prefix(tp(name), rank); }

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
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--tp-comm-overlap",
                            "--out", ov, "-q", NULL), 0, NULL);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--out", no, "-q",
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
    /* the userbuffer transfers hold no SMs of their own (comm_sms 0: the
     * GEMMs' margin is theirs); the output layer's gather, NCCL's, holds
     * the system's comm-sms, 16 by default */
    const et_gnode *ub[4] = {ag, rs, agb, rsb};
    for (int i = 0; i < 4; i++)
        assert_true((ub[i]->xflags & ET_X_HAS_CSMS) && ub[i]->csms == 0);
    et_graph_free(g);
    g = load_rank("tpo/o", 4); /* the last stage */
    assert_false(named(g, "F0.ag_logits")->xflags & ET_X_HAS_CSMS);
    assert_false(named(g, "B0.ag_logits_bwd")->xflags & ET_X_HAS_CSMS);
    char text[8192], sysf[512];
    snprintf(sysf, sizeof sysf, "%s.system.yaml", ov);
    loomrun_slurp(sysf, text, sizeof text);
    assert_non_null(strstr(text, "\ncomm-sms: 16 "));
    et_graph_free(g);
    g = load_rank("tpo/n", 0);
    assert_false(named(g, "L0.F0.rs_proj")->xflags & ET_X_HAS_CSMS);
    assert_false(named(g, "L0.B0.rs_qkv_bwd")->xflags & ET_X_HAS_CSMS);
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
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--dtype", "fp8",
                            "--out", f8, "-q", NULL), 0, NULL);
    g = load_rank("tpo/f", 4);
    assert_true(named(g, "L1.F0.ag_qkv")->comm_size == 131072);
    assert_true(named(g, "L1.F0.ag_fc1")->comm_size == 131072);
    assert_true(named(g, "L1.B0.ag_proj_bwd")->comm_size == 131072);
    assert_true(named(g, "L1.B0.ag_qkv_bwd")->comm_size == 131072);
    assert_true(named(g, "F0.ag_logits")->comm_size == 262144);
    et_graph_free(g);
    /* --tp-comm-sms sets the SMs held (0..255) */
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--tp-comm-overlap",
                            "--tp-comm-sms", "4", "--out", ov, "-q", NULL), 0, NULL);
    g = load_rank("tpo/o", 0);
    assert_int_equal(g->kshape[named(g, "L0.F0.fc2.c3")->shape - 1].comm_sms, 4);
    assert_int_equal(g->kshape[named(g, "L0.B0.fc1_wgrad")->shape - 1].comm_sms, 4);
    et_graph_free(g);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--tp-comm-overlap",
                            "--tp-comm-sms", "256", "--out", ov, NULL), 2,
                "--tp-comm-sms '256': expected an integer 0 .. 255");
    /* --comm-sms: the system file's comm-sms, 0 .. 255 */
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--comm-sms", "0", "--out", no, "-q",
                            NULL), 0, NULL);
    snprintf(sysf, sizeof sysf, "%s.system.yaml", no);
    loomrun_slurp(sysf, text, sizeof text);
    assert_non_null(strstr(text, "\ncomm-sms: 0 "));
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--comm-sms", "256", "--out", no, NULL),
                2, "--comm-sms '256': expected an integer 0 .. 255");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--tp-comm-overlap", "--out", ov, NULL), 2,
                "--tp-comm-overlap needs --sequence-parallel");
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
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--dtype", "fp8",
                            "--out", f8, "-q", NULL), 0, NULL);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--out", bf, "-q",
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
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--dtype", "fp8",
                            "--fp8-recipe", "delayed", "--out", dl, "-q", NULL), 0, NULL);
    g = load_rank("f8c/d", 0);
    assert_true(named(g, "L0.F0.proj_in_cast")->tensor_size == 524288);
    assert_true(named(g, "L0.B0.fc2_dy_cast")->tensor_size == 393216);
    assert_true(depends(g, named(g, "L0.F0.ag_qkv"), named(g, "L0.F0.ln1")));
    no_node_with(g, (const char *const[]){"_amax", "qkv_in_cast", "fc1_in_cast", NULL});
    et_graph_free(g);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--fp8-recipe", "delayed", "--out", dl, NULL),
                2, "--fp8-recipe needs --dtype fp8");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--dtype", "fp8", "--fp8-recipe", "mx",
                            "--out", dl, NULL), 2, "--fp8-recipe 'mx': expected current or delayed");
    g = load_rank("f8c/b", 0);
    no_node_with(g, (const char *const[]){"_amax", "_cast", "_in_t", NULL});
    et_graph_free(g);
}

/* --fp8-bf16-layers 1,0 on SMALL (2 layers, one a stage): layer 0 (rank 0)
 * stays bf16, its GEMMs' operands 2 bytes, its gather T/tp h e = 262144
 * bytes, no cast; layer 1 (rank 4) is FP8: 1-byte operands, a 131072-byte
 * gather, its casts.  Without --dtype fp8, or with more layers than the
 * model has, the flag is refused. */
static void test_llm_fp8_bf16_layers(void **state)
{
    (void)state;
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--sequence-parallel", "--dtype", "fp8",
                            "--fp8-bf16-layers", "1,0", "--out", tp("fbl/x"), "-q", NULL), 0, NULL);
    et_graph *g = load_rank("fbl/x", 0);
    const et_gnode *q = named(g, "L0.F0.qkv");
    assert_int_equal(g->kshape[q->shape - 1].dtype_bytes, 2);
    assert_true(named(g, "L0.F0.ag_qkv")->comm_size == 262144);
    no_node_with(g, (const char *const[]){"_amax", "_cast", "_in_t", NULL});
    et_graph_free(g);
    g = load_rank("fbl/x", 4);
    q = named(g, "L1.F0.qkv");
    assert_int_equal(g->kshape[q->shape - 1].dtype_bytes, 1);
    assert_true(named(g, "L1.F0.ag_qkv")->comm_size == 131072);
    assert_true(named(g, "L1.F0.qkv_in_cast")->tensor_size == 393216);
    et_graph_free(g);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--fp8-bf16-layers", "1,1", "--out",
                            tp("fbl/y"), NULL), 2, "--fp8-bf16-layers needs --dtype fp8");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--dtype", "fp8", "--fp8-bf16-layers",
                            "2,1", "--out", tp("fbl/y"), NULL), 2, "more layers than the model's 2");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--dtype", "fp8", "--fp8-bf16-layers",
                            "1,", "--out", tp("fbl/y"), NULL), 2, "expected S,E");
}

/* --attention-kernel cudnn: the system file says so (absent without the
 * flag), the report's system line and the JSON name it, and a step with
 * flash attention is shorter than with flash2's figures (cuDNN's fitted
 * efficiencies are about twice FlashAttention-2's); a bad name exits 2. */
static void test_llm_attention_kernel(void **state)
{
    (void)state;
    const char *cu = tp("ak/c"), *fl = tp("ak/f");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention", "flash", "--attention-kernel",
                            "cudnn", "--out", cu, "-q", NULL), 0, NULL);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention", "flash", "--out", fl, "-q",
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
        int rc = loomrun_run(loomrun_tmp, "run", "-w", pres[k], "-s", sys, "-n", tp("ak/net.yml"), "-j", js,
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
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention-kernel", "fa3", "--out", cu, NULL),
                2, "--attention-kernel 'fa3': expected flash2 or cudnn");
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
        expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--dtype", k ? "fp8" : "bf16",
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
 * Standard (unfused) attention as Megatron runs it: the fused
 * scale-mask-softmax, then nn.Dropout on the probabilities as a kernel of
 * its own, and both again backward (docs/WORKLOADS.md).  SMALL: b = 1, a/tp
 * = 8 heads, s = 256, bf16 (e = 2): n = b (a/tp) s^2 = 524,288 elements;
 * softmax 2e n, attn_dropout (2e + 1) n (the byte mask), attn_dropout_bwd
 * (2e + 1) n, softmax_bwd 3e n; the dropout between the softmax and the
 * context GEMM, its backward between the context GEMM's two gradients
 * (dgrad, then vgrad, on one stream) and the softmax's.
 */
static void test_llm_attention_dropout(void **state)
{
    (void)state;
    const double n = 8.0 * 256 * 256;
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--granularity", "kernel", "--out",
                            tp("drop/s"), "-q", NULL), 0, NULL);
    et_graph *g = load_rank("drop/s", 0);
    const et_gnode *sm = named(g, "L0.F0.softmax"), *dr = named(g, "L0.F0.attn_dropout"),
                   *ctx = named(g, "L0.F0.attn_ctx"), *drb = named(g, "L0.B0.attn_dropout_bwd"),
                   *smb = named(g, "L0.B0.softmax_bwd"), *cvg = named(g, "L0.B0.attn_ctx_vgrad");
    assert_true((double)sm->tensor_size == 4 * n && (double)dr->tensor_size == 5 * n);
    assert_true((double)drb->tensor_size == 5 * n && (double)smb->tensor_size == 6 * n);
    assert_true((double)sm->num_ops == 5 * n && (double)dr->num_ops == n);
    assert_true(depends(g, dr, sm) && depends(g, ctx, dr));
    assert_true(depends(g, drb, cvg) && depends(g, smb, drb)); /* after both ctx gradients */
    /* the forward dropout draws its mask (torch's native_dropout: the
     * dropout class); its backward only multiplies by it (elementwise) */
    assert_true(dr->shape && drb->shape && sm->shape);
    assert_int_equal(g->kshape[dr->shape - 1].cls, LOOM_K_DROPOUT);
    assert_int_equal(g->kshape[drb->shape - 1].cls, LOOM_K_ELEM);
    assert_int_equal(g->kshape[sm->shape - 1].cls, LOOM_K_ELEM);
    et_graph_free(g);
}

/*
 * The norms are kernels of the norm class (a reduction a row: torch's
 * measured norms, priced at their own efficiency and launch,
 * compute/comp_kernel.c), forward and backward and the final norm: T h
 * elements (SMALL: a micro-batch of 256 tokens of 1024, whole on each
 * tensor-parallel rank without sequence parallelism; bf16) read and written
 * forward, read twice and written backward; the residual add beside them
 * stays elementwise.
 */
static void test_llm_norm_class(void **state)
{
    (void)state;
    const double n = 256.0 * 1024;
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--pp", "1", "--granularity",
                            "kernel", "--out", tp("norm/s"), "-q", NULL), 0, NULL);
    et_graph *g = load_rank("norm/s", 0);
    const char *fwd[] = {"L0.F0.ln1", "L0.F0.ln2", "F0.final_norm"};
    const char *bwd[] = {"L0.B0.ln1_bwd", "L0.B0.ln2_bwd", "B0.final_norm_bwd"};
    for (int i = 0; i < 3; i++) {
        const et_gnode *f = named(g, fwd[i]), *b = named(g, bwd[i]);
        assert_true(f->shape && b->shape);
        assert_int_equal(g->kshape[f->shape - 1].cls, LOOM_K_NORM);
        assert_int_equal(g->kshape[b->shape - 1].cls, LOOM_K_NORM);
        assert_true((double)f->tensor_size == 4 * n && (double)b->tensor_size == 6 * n);
    }
    const et_gnode *r = named(g, "L0.F0.resid1");
    assert_int_equal(g->kshape[r->shape - 1].cls, LOOM_K_ELEM);
    et_graph_free(g);
}

/*
 * With biases (SMALL is GELU: biases on), every linear layer's bias
 * gradient is a reduction kernel of its own in the backward (Megatron's
 * grad_output.sum(dim=0) and autograd's sum of its fused bias functions'
 * broadcast bias): class norm, the output gradient's rows x cols read at
 * e = 2 and the bias's cols gradient written at e_g = 4 (fp32).  SMALL at
 * tp 2 without sequence parallelism: T = 256 rows; QKV 3 x 1024 / 2 = 1536
 * columns, FC1 4096 / 2 = 2048, the output projection and FC2 h = 1024.
 * --bias off writes none; under --dtype fp8 Transformer Engine fuses QKV's
 * into its GEMM / cast, so that one goes.
 */
static void test_llm_bias_grads(void **state)
{
    (void)state;
    const char *names[4] = {"L0.B0.qkv_bgrad", "L0.B0.proj_bgrad", "L0.B0.fc1_bgrad",
                            "L0.B0.fc2_bgrad"};
    const double cols[4] = {1536, 1024, 2048, 1024}, rows = 256;
    const char *pre[3] = {"bgrad/on", "bgrad/off", "bgrad/fp8"};
    const char *extra[3][2] = {{"--bias", "on"}, {"--bias", "off"}, {"--dtype", "fp8"}};
    for (int k = 0; k < 3; k++) {
        expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--pp", "1", "--grad-dtype",
                                "fp32", extra[k][0], extra[k][1], "--granularity", "kernel",
                                "--out", tp(pre[k]), "-q", NULL), 0, NULL);
        et_graph *g = load_rank(pre[k], 0);
        for (int i = 0; i < 4; i++) {
            const et_gnode *n = NULL;
            for (size_t j = 0; j < g->n; j++)
                if (strcmp(et_gnode_name(g, &g->nodes[j]), names[i]) == 0)
                    n = &g->nodes[j];
            int want = k == 0 || (k == 2 && i > 0);
            if (!want) {
                assert_null(n);
                continue;
            }
            assert_non_null(n);
            assert_true(n->shape);
            assert_int_equal(g->kshape[n->shape - 1].cls, LOOM_K_NORM);
            assert_true((double)n->num_ops == rows * cols[i]);
            assert_true((double)n->tensor_size == 2 * rows * cols[i] + 4 * cols[i]);
        }
        et_graph_free(g);
    }
}

/*
 * Flash attention with attention dropout (SMALL's default, GELU): the
 * dropout runs inside the fused kernels, forward and backward, so their
 * shapes say so (attention_dropout) and no dropout kernel of its own runs;
 * with --attention-dropout 0 they do not.  The kernel model prices each
 * at its family's factor (flash2: 1.20 forward, 1.13 backward, measured
 * on the H200, compute/comp_kernel.c) times the time without: the node
 * durations gen llm writes, whole microseconds, agree to their rounding.
 */
static void test_llm_flash_dropout(void **state)
{
    (void)state;
    const char *const names[2] = {"L0.F0.flash_attn", "L0.B0.flash_attn_bwd"};
    const double factor[2] = {1.20, 1.13};
    et_graph *g[2];
    for (int k = 0; k < 2; k++) {
        char pre[64];
        snprintf(pre, sizeof pre, "fdrop/%d", k);
        expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention", "flash",
                                "--attention-dropout", k ? "0.1" : "0", "--device", "h200",
                                "--granularity", "kernel", "--out", tp(pre), "-q", NULL), 0, NULL);
        g[k] = load_rank(pre, 0);
        uint64_t f, b;
        assert_int_equal(ending_with(g[k], "attn_dropout", &f, &b), 0); /* inside the kernel */
    }
    for (int i = 0; i < 2; i++) {
        const et_gnode *off = named(g[0], names[i]), *on = named(g[1], names[i]);
        assert_true(off->shape && on->shape);
        assert_int_equal(g[0]->kshape[off->shape - 1].dropout, 0);
        assert_int_equal(g[1]->kshape[on->shape - 1].dropout, 1);
        double want = factor[i] * (double)off->duration_ns;
        if (fabs((double)on->duration_ns - want) > 1000 * (1 + factor[i]))
            fail_msg("%s: %llu ns with dropout, want %.0f", names[i],
                     (unsigned long long)on->duration_ns, want);
    }
    et_graph_free(g[0]);
    et_graph_free(g[1]);
}

/*
 * Dropout settings (docs/WORKLOADS.md "Dropout").  SMALL is GELU, so both
 * dropouts run by default (Megatron-LM's 0.1): the bias-dropout-adds move
 * (3e + 1) Tl h bytes forward with their byte mask, Tl = 256 (without
 * sequence parallelism each rank holds the microbatch's 256 tokens), h =
 * 1024, e = 2: 7 x 256 x 1024 = 1,835,008; their backward (2e + 1) = 5
 * bytes an element.  Rank 0 (stage 0, one layer) runs 4 microbatches.  With
 * --hidden-dropout 0 the adds move 3e = 6 bytes an element and no backward
 * kernel runs (ATen's dropout at p = 0 is its input); with
 * --attention-dropout 0 neither attention dropout kernel runs.  The
 * llama3-8b preset (SwiGLU) runs neither by default, both with 0.1.
 */
static void test_llm_dropout_settings(void **state)
{
    (void)state;
    const double el = 256.0 * 1024;
    static const char *const drop_kernels[] = {"L0.F0.attn_dropout", "L0.B0.attn_dropout_bwd",
                                               "L0.B0.resid1_bwd", "L0.B0.resid2_bwd"};
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--granularity", "kernel", "--out",
                            tp("dset/on"), "-q", NULL), 0, NULL);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--granularity", "kernel",
                            "--hidden-dropout", "0", "--attention-dropout", "0.0", "--out",
                            tp("dset/off"), "-q", NULL), 0, NULL);
    et_graph *on = load_rank("dset/on", 0), *off = load_rank("dset/off", 0);
    assert_true((double)named(on, "L0.F0.resid1")->tensor_size == 7 * el);
    assert_true((double)named(on, "L0.F0.resid2")->tensor_size == 7 * el);
    assert_true((double)named(on, "L0.B0.resid2_bwd")->tensor_size == 5 * el);
    assert_true((double)named(off, "L0.F0.resid1")->tensor_size == 6 * el);
    assert_true((double)named(off, "L0.F0.resid2")->tensor_size == 6 * el);
    for (size_t k = 0; k < sizeof drop_kernels / sizeof drop_kernels[0]; k++) {
        (void)named(on, drop_kernels[k]);
        for (size_t i = 0; i < off->n; i++)
            if (strcmp(et_gnode_name(off, &off->nodes[i]), drop_kernels[k]) == 0)
                fail_msg("%s with both dropouts at 0", drop_kernels[k]);
    }
    assert_int_equal(off->n + 4 * 4, on->n); /* the four kernels in each of 4 microbatches */
    et_graph_free(on);
    et_graph_free(off);
    /* the SwiGLU family's default is none; 0.1 turns the hidden one on */
    const char *lm[] = {"--preset", "llama3-8b", "--layers", "2", "--seq", "256", "--tp", "2",
                        "--pp", "2", "--dp", "2", "--global-batch", "8", "--granularity",
                        "kernel", "-q"};
    for (int on2 = 0; on2 < 2; on2++) {
        const char *argv[32] = {"gen", "llm"};
        int n = 2;
        for (size_t i = 0; i < sizeof lm / sizeof lm[0]; i++)
            argv[n++] = lm[i];
        argv[n++] = "--out";
        argv[n++] = tp(on2 ? "dset/l1" : "dset/l0");
        if (on2) {
            argv[n++] = "--hidden-dropout";
            argv[n++] = "0.1";
        }
        argv[n] = NULL;
        expect_exit(loomrun_wait(loomrun_tmp, loomrun_startv(loomrun_tmp, argv)), 0, NULL);
        et_graph *g = load_rank(on2 ? "dset/l1" : "dset/l0", 0);
        int found = 0;
        for (size_t i = 0; i < g->n; i++)
            found += strcmp(et_gnode_name(g, &g->nodes[i]), "L0.B0.resid1_bwd") == 0;
        assert_int_equal(found, on2);
        et_graph_free(g);
    }
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--hidden-dropout", "1", "--out",
                            tp("dset/bad"), NULL), 2, "--hidden-dropout '1'");
}

/*
 * The cross entropy on the last stage as Megatron's passes over the n =
 * T x V/tp logits (docs/WORKLOADS.md "Output layer"): SMALL, T = 256, V/tp
 * = 512, n = 131072, bf16 logits (e = 2).  Unfused: cast (e + 4) n, max 4
 * n, subtract 8 n, exp 8 n, sum 4 n, divide 8 n = 38 n forward, with the
 * max all-reduced after the max and the target logit and the sum after
 * the sum (T x 4 bytes each); backward: scale 8 n, cast back (4 + e) n =
 * 14 n; each once per microbatch (4).  --cross-entropy-fusion: cast with max (e + 4) n, subtract-exp-sum
 * 8 n, divide 8 n = 22 n forward, one all-reduce of T x 8 bytes for the
 * two sums; the backward as without it.
 */
static void test_llm_cross_entropy(void **state)
{
    (void)state;
    const double n = 256.0 * 512, T = 256;
    static const char *const fwd_names[] = {"cross_entropy", "ce_max", "ce_sub", "ce_exp",
                                            "ce_sum", "ce_softmax", NULL};
    for (int fused = 0; fused < 2; fused++) {
        char pre[64];
        snprintf(pre, sizeof pre, "ce/%d", fused);
        if (fused)
            expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--granularity", "kernel",
                                    "--cross-entropy-fusion", "--out", tp(pre), "-q", NULL), 0,
                        NULL);
        else
            expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--granularity", "kernel",
                                    "--out", tp(pre), "-q", NULL), 0, NULL);
        et_graph *g = load_rank(pre, 4); /* the last stage */
        double fwd = 0;
        int kernels = 0;
        for (const char *const *k = fwd_names; *k; k++) {
            uint64_t fl = 0, by = 0;
            int c = ending_with(g, *k, &fl, &by); /* one a microbatch: 4 */
            assert_true(c == 0 || c == 4);
            kernels += c / 4;
            fwd += c ? (double)by : 0;
        }
        assert_int_equal(kernels, fused ? 3 : 6);
        assert_true(fwd == (fused ? 22 : 38) * n);
        const et_gnode *bw = named(g, "B0.cross_entropy_bwd"), *bc = named(g, "B0.ce_grad_cast");
        assert_true((double)bw->tensor_size == 8 * n && (double)bc->tensor_size == 6 * n);
        assert_true(depends(g, bc, bw));
        const et_gnode *sm = named(g, "F0.ce_softmax");
        if (fused) {
            const et_gnode *ar = named(g, "F0.ar_ce_sumexp");
            assert_true((double)ar->comm_size == 8 * T);
            assert_true(depends(g, ar, named(g, "F0.ce_exp")));
            no_node_with(g, (const char *const[]){"ar_ce_target", ".ce_max", ".ce_sub", NULL});
        } else {
            const et_gnode *mx = named(g, "F0.ar_ce_max"), *sum = named(g, "F0.ar_ce_sumexp");
            assert_true((double)mx->comm_size == 4 * T && (double)sum->comm_size == 4 * T);
            assert_true(depends(g, mx, named(g, "F0.ce_max")));
            assert_true(depends(g, named(g, "F0.ce_sub"), mx));
            const et_gnode *tg = named(g, "F0.ar_ce_target");
            assert_true((double)tg->comm_size == 4 * T);
            const et_gnode *cs = named(g, "F0.ce_sum");
            assert_true(depends(g, tg, cs) && depends(g, sum, cs));
            assert_true(depends(g, sm, tg));
        }
        /* the softmax divides by the all-reduced sum: it waits for it */
        assert_true(depends(g, sm, named(g, "F0.ar_ce_sumexp")));
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
        expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "mixtral-8x7b", "--layers", "2",
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llm_tp_overlap),
        cmocka_unit_test(test_llm_fp8_casts),
        cmocka_unit_test(test_llm_fp8_bf16_layers),
        cmocka_unit_test(test_llm_attention_kernel),
        cmocka_unit_test(test_llm_fp8_head),
        cmocka_unit_test(test_llm_cross_entropy),
        cmocka_unit_test(test_llm_attention_dropout),
        cmocka_unit_test(test_llm_norm_class),
        cmocka_unit_test(test_llm_bias_grads),
        cmocka_unit_test(test_llm_flash_dropout),
        cmocka_unit_test(test_llm_dropout_settings),
        cmocka_unit_test(test_llm_moe_kernels),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
