/*
 * test_cp.c: `loom gen llm --cp N --cp-comm p2p` (workloads/wl_llm_cp.c,
 * docs/WORKLOADS.md "Context parallelism"): Transformer Engine's ring.
 *
 * SMALL with flash attention and --cp 4: 32 ranks = tp 2 x cp 4 x pp 2 x
 * dp 2, rank = t + 2 (c + 4 (d + 2 p)), so stage 0's ranks 0..15 have cp
 * index c = (rank / 2) % 4.  Each rank holds s / cp = 64 tokens of the
 * 256 (two chunks of 32); on a TP rank a = 16 / 2 = 8 heads of d = 64, and
 * as many key/value heads, so a rank's K and V are 2 x 64 x 8 x 64 x 2 =
 * 131,072 bytes.  Forward step j attends the rank's queries to the K, V of
 * rank c - j: step 0 its own (64 x 64, causal), j <= c all 64 queries to
 * the first 32 keys, j > c the last 32 queries to all 64 keys; each is
 * 4 x 8 x 64 x 32 x 64 = 4,194,304 FLOPs (step 0: half of 4 x 8 x 64 x 64
 * x 64), and the four add up to the all-gather variant's one kernel,
 * 0.5 x 4 x 8 x 64 x 256 x 64 = 16,777,216.  The forward sends K, V on 3
 * times (to c + 1, from c - 1); the backward 4 times the other way round:
 * K, V; K, V with dK, dV (twice the bytes) twice; dK, dV.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gen_check.h"

#define CP4 SMALL, "--attention", "flash", "--cp", "4", "-q"

/* Rank `rank` (cp index c) of the step written to pre: layer 0, microbatch
 * 0, forward and backward, as the head comment works out. */
static void check_rank(const char *pre, int rank, int c)
{
    et_graph *g = load_prefix(pre, rank);
    char k[64];
    for (int j = 0; j < 4; j++) {
        snprintf(k, sizeof k, "L0.F0.flash_attn.s%d", j);
        const et_gnode *a = named(g, k);
        const loom_kshape *s = &g->kshape[a->shape - 1];
        assert_int_equal(a->num_ops, 4194304);
        assert_int_equal(s->causal, j == 0);
        assert_int_equal(s->m, j == 0 || j <= c ? 64 : 32);
        assert_int_equal(s->n, j == 0 || j > c ? 64 : 32);
        assert_int_equal(s->batch, 8);
        snprintf(k, sizeof k, "L0.B0.flash_attn_bwd.s%d", j);
        assert_int_equal(named(g, k)->num_ops, 10485760); /* 2.5 x */
    }
    for (int i = 0; i < 3; i++) { /* forward: K, V on to c + 1 */
        snprintf(k, sizeof k, "L0.F0.cp_send%d", i);
        const et_gnode *s = named(g, k);
        assert_int_equal(s->type, ET_COMM_SEND_NODE);
        assert_int_equal(s->comm_size, 131072);
        assert_int_equal(s->comm_dst, (c + 1) % 4);
        assert_string_equal(g->pg_names[s->pg], "cp");
        snprintf(k, sizeof k, "L0.F0.cp_recv%d", i);
        const et_gnode *r = named(g, k);
        assert_int_equal(r->comm_src, (c + 3) % 4);
        /* step i + 1 attends what step i received */
        snprintf(k, sizeof k, "L0.F0.flash_attn.s%d", i + 1);
        assert_true(depends(g, named(g, k), r));
    }
    /* the send of step 2 waits for step 1's receive and for step 0's
     * attention (TE's two streams: what ran before on its own) */
    assert_true(depends(g, named(g, "L0.F0.cp_send2"), named(g, "L0.F0.cp_recv1")));
    assert_true(depends(g, named(g, "L0.F0.cp_send2"), named(g, "L0.F0.flash_attn.s0")));
    assert_false(depends(g, named(g, "L0.F0.cp_send2"), named(g, "L0.F0.flash_attn.s1")));
    static const uint64_t bwd[4] = {131072, 262144, 262144, 131072};
    for (int i = 0; i < 4; i++) { /* backward: the other way round */
        snprintf(k, sizeof k, "L0.B0.cp_send%d", i);
        const et_gnode *s = named(g, k);
        assert_int_equal(s->comm_size, bwd[i]);
        assert_int_equal(s->comm_dst, (c + 3) % 4);
        snprintf(k, sizeof k, "L0.B0.cp_recv%d", i);
        assert_int_equal(named(g, k)->comm_src, (c + 1) % 4);
        /* what it sends on includes the dK, dV added at the step before */
        if (i > 0) {
            char a[64];
            snprintf(a, sizeof a, "L0.B0.cp_dkv_add.s%d", 4 - i);
            assert_true(depends(g, s, named(g, a)));
        }
    }
    /* the backward runs the forward's steps in reverse, and a step's dK, dV
     * are added to those received at that step */
    assert_true(depends(g, named(g, "L0.B0.cp_dkv_add.s3"), named(g, "L0.B0.cp_recv0")));
    assert_true(depends(g, named(g, "L0.B0.cp_dkv_add.s0"), named(g, "L0.B0.cp_recv3")));
    no_node_with(g, (const char *const[]){"ag_kv_cp", "rs_dkv_cp", NULL});
    et_graph_free(g);
}

static void test_ring(void **state)
{
    (void)state;
    const char *pre = tp("ring/s");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", CP4, "--out", pre, NULL), 0, NULL);
    check_rank(pre, 0, 0);
    check_rank(pre, 6, 3);
    check_rank(pre, 3, 1);
    /* role-named files: one a stage and cp index, shared by its TP and DP
     * ranks (rank 1 is c 0 too, rank 8 is c 0 of the next DP replica) */
    char a[600], b[600];
    snprintf(a, sizeof a, "%s.0.et", pre);
    snprintf(b, sizeof b, "%s.1.et", pre);
    assert_true(inode(a) == inode(b));
    snprintf(b, sizeof b, "%s.8.et", pre);
    assert_true(inode(a) == inode(b));
    snprintf(b, sizeof b, "%s.2.et", pre);
    assert_true(inode(a) != inode(b));
    /* explicit naming: peers are global ranks, c +- 1 in the cp group */
    const char *px = tp("ring/x");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", CP4, "--groups", "explicit", "--out", px,
                            NULL), 0, NULL);
    et_graph *g = load_prefix(px, 6); /* c 3: its neighbours are ranks 0 and 4 */
    assert_int_equal(named(g, "L0.F0.cp_send0")->comm_dst, 0);
    assert_int_equal(named(g, "L0.F0.cp_recv0")->comm_src, 4);
    assert_int_equal(named(g, "L0.B0.cp_send0")->comm_dst, 4);
    et_graph_free(g);
}

/* The ring's steps do the all-gather variant's work, split: the same
 * attention FLOPs forward and backward, summed over the steps. */
static void test_same_work(void **state)
{
    (void)state;
    const char *pa = tp("work/a"), *pp = tp("work/p");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", CP4, "--cp-comm", "all-gather", "--out", pa,
                            NULL), 0, NULL);
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", CP4, "--out", pp, NULL), 0, NULL);
    et_graph *ga = load_prefix(pa, 2), *gp = load_prefix(pp, 2);
    uint64_t f = named(ga, "L0.F0.flash_attn")->num_ops;
    uint64_t fb = named(ga, "L0.B0.flash_attn_bwd")->num_ops;
    assert_int_equal(f, 16777216);
    uint64_t sf = 0, sb = 0;
    char k[64];
    for (int j = 0; j < 4; j++) {
        snprintf(k, sizeof k, "L0.F0.flash_attn.s%d", j);
        sf += named(gp, k)->num_ops;
        snprintf(k, sizeof k, "L0.B0.flash_attn_bwd.s%d", j);
        sb += named(gp, k)->num_ops;
    }
    assert_int_equal(sf, f);
    assert_int_equal(sb, fb);
    et_graph_free(ga);
    et_graph_free(gp);
}

/* --cp-comm a2a (DeepSpeed-Ulysses): Q, K, V and the output of a rank's 64
 * tokens by all-to-all over "cp", 64 x 8 x 64 x 2 = 65,536 bytes each (8
 * query and 8 key/value heads a TP rank), so that the attention runs the
 * whole sequence, 256 x 256 causal, on 8 / 4 = 2 heads: 0.5 x 4 x 2 x
 * 256^2 x 64 = 16,777,216 FLOPs, the same work again; the backward moves
 * dO in and dQ, dK, dV out. */
static void test_ulysses(void **state)
{
    (void)state;
    const char *pre = tp("uly/s");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", CP4, "--cp-comm", "a2a", "--out", pre, NULL),
                0, NULL);
    et_graph *g = load_prefix(pre, 2);
    static const char *const a2a[] = {"L0.F0.cp_a2a_q", "L0.F0.cp_a2a_k", "L0.F0.cp_a2a_v",
                                      "L0.F0.cp_a2a_out", "L0.B0.cp_a2a_dout", "L0.B0.cp_a2a_dq",
                                      "L0.B0.cp_a2a_dk", "L0.B0.cp_a2a_dv"};
    for (size_t i = 0; i < sizeof a2a / sizeof a2a[0]; i++) {
        const et_gnode *n = named(g, a2a[i]);
        assert_int_equal(n->comm_type, ET_ALL_TO_ALL);
        assert_int_equal(n->comm_size, 65536);
        assert_string_equal(g->pg_names[n->pg], "cp");
    }
    const et_gnode *f = named(g, "L0.F0.flash_attn");
    const loom_kshape *s = &g->kshape[f->shape - 1];
    assert_int_equal(f->num_ops, 16777216);
    assert_true(s->m == 256 && s->n == 256 && s->batch == 2 && s->causal);
    assert_int_equal(named(g, "L0.B0.flash_attn_bwd")->num_ops, 41943040);
    /* V's exchange, then its reordering, then the attention */
    assert_true(depends(g, named(g, "L0.F0.cp_a2a_v_unpack"), named(g, "L0.F0.cp_a2a_v")));
    assert_true(depends(g, f, named(g, "L0.F0.cp_a2a_v_unpack")));
    no_node_with(g, (const char *const[]){"cp_send", "ag_kv_cp", NULL});
    et_graph_free(g);
}

/* Replayed with and without symmetry collapse: byte-identical results
 * (the classes are a stage and cp index). */
static void test_collapse(void **state)
{
    (void)state;
    const char *pre = tp("col/s");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", CP4, "--out", pre, NULL), 0, NULL);
    put("col/net.yml", "topology: [ Switch, Switch ]\nnpus_count: [ 8, 4 ]\n"
                       "bandwidth: [ 400, 50 ]\nlatency: [ 500, 2000 ]\n");
    char sys[640], ja[640], jb[640];
    snprintf(sys, sizeof sys, "%s.system.yaml", pre);
    snprintf(ja, sizeof ja, "%s", tp("col/a.json"));
    snprintf(jb, sizeof jb, "%s", tp("col/b.json"));
    expect_exit(loomrun_run(loomrun_tmp, "run", "-w", pre, "-s", sys, "-n", tp("col/net.yml"), "-q",
                            "--json", ja, "--reproducible", NULL), 0, NULL);
    expect_exit(loomrun_run(loomrun_tmp, "run", "-w", pre, "-s", sys, "-n", tp("col/net.yml"), "-q",
                            "--json", jb, "--reproducible", "--no-collapse", NULL), 0, NULL);
    static char x[1 << 20], y[1 << 20];
    loomrun_slurp(ja, x, sizeof x);
    loomrun_slurp(jb, y, sizeof y);
    assert_true(strlen(x) > 100 && strlen(x) < sizeof x - 1);
    assert_string_equal(x, y);
}

static void test_refusals(void **state)
{
    (void)state;
    const char *pre = tp("bad/s");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention", "flash", "--cp", "2",
                            "--cp-comm", "ring", "--out", pre, NULL), 2,
                "--cp-comm 'ring': expected p2p, all-gather or a2a");
    /* Ulysses splits heads: 8 a TP rank over 16 cp ranks do not split */
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention", "flash", "--cp", "16",
                            "--cp-comm", "a2a", "--out", pre, NULL), 2,
                "must split over the cp group");
    /* 256 / 128 = 2 tokens a rank split in two chunks is fine; 256 / 256 is
     * one token, which does not split */
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", SMALL, "--attention", "flash", "--cp", "256",
                            "--out", pre, NULL), 2, "must split in two load-balanced chunks");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_same_work),
        cmocka_unit_test(test_ulysses),
        cmocka_unit_test(test_collapse),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
