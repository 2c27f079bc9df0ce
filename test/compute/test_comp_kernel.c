/* The kernel model (compute/comp_kernel.c, docs/MODEL.md "The kernel
 * model"): GEMM tile and wave quantization, split-K, the tile choice, the
 * memory floor, flash attention blocks and waves, elementwise bytes, the
 * roofline for kernels without a shape, and comp_time on plain and fused
 * nodes (with SMs held beside them: busy_sms).  The device here is made up so that every time is a short sum:
 * 4 SMs, peak 4e12 FLOP/s (1e12 per SM), efficiencies 0.5, so one SM does
 * 0.5e12 useful FLOP/s; HBM 1e12 bytes/s.  Each expected time is worked out
 * in the comment above it from the formulas in comp_kernel.c's header. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "comp.h"

#define US 1e-6

static comp_cfg dev(void)
{
    comp_cfg c = {.kind = COMP_KERNEL, .peak_flops = 4e12, .mem_bw = 1e12};
    c.kp = (comp_kparams){.sms = 4, .ntiles = 1, .tile_m = {128}, .tile_n = {128},
                          .gemm_eff = 0.5, .gemm_k0 = 0, .gemm_mem_eff = 0.5, .gemm_fp8 = 1,
                          .gemm_launch = 0, .attn_eff = 0.5, .attn_bwd_eff = 0.25,
                          .attn_launch = 0, .elem_eff = 0.5, .elem_launch = 0,
                          .drop_eff = 0.25, .norm_eff = 0.2, .norm_launch = 0,
                          .attn_drop = {1, 1}};
    return c;
}

static loom_kshape gemm(uint32_t m, uint32_t n, uint32_t k, uint32_t batch)
{
    return (loom_kshape){.cls = LOOM_K_GEMM, .m = m, .n = n, .k = k, .batch = batch};
}

static void near(double got, double want)
{
    if (fabs(got - want) > 1e-9 * fabs(want) + 1e-15)
        fail_msg("got %.12g, want %.12g", got, want);
}

/* One 128 x 128 tile over K = 1024 on one SM: 2*128*128*1024 = 33,554,432
 * FLOPs at 0.5e12/s = 67.108864 us. */
#define TILE_1024 (2.0 * 128 * 128 * 1024 / 0.5e12)

static void test_gemm_waves(void **state)
{
    (void)state;
    comp_cfg c = dev();
    uint64_t tiles, waves;
    /* 256 x 256: 2 x 2 = 4 tiles on 4 SMs, one wave: one tile's time */
    loom_kshape s = gemm(256, 256, 1024, 1);
    near(comp_gemm_seconds(&c, &s, 0, &tiles, &waves, NULL), TILE_1024);
    assert_int_equal(tiles, 4);
    assert_int_equal(waves, 1);
    near(comp_gemm_seconds(&c, &s, 0, NULL, NULL, NULL), 67.108864 * US);
    /* N one more than a tile multiple: 2 x ceil(257/128) = 6 tiles, two
     * waves: twice the time for 0.4% more work */
    s = gemm(256, 257, 1024, 1);
    near(comp_gemm_seconds(&c, &s, 0, &tiles, &waves, NULL), 2 * TILE_1024);
    assert_int_equal(tiles, 6);
    assert_int_equal(waves, 2);
    /* a batch of 2 such products: 8 tiles, 2 waves */
    s = gemm(256, 256, 1024, 2);
    near(comp_gemm_seconds(&c, &s, 0, &tiles, &waves, NULL), 2 * TILE_1024);
    assert_int_equal(tiles, 8);
    /* the fixed cost per tile: k0 = 1024 K steps doubles a 1024-deep tile */
    c.kp.gemm_k0 = 1024;
    s = gemm(256, 256, 1024, 1);
    near(comp_gemm_seconds(&c, &s, 0, NULL, NULL, NULL), 2 * TILE_1024);
    /* communication beside it on 2 of the 4 SMs (comm_sms): the 4 tiles
     * take two waves on the other 2, each SM as fast as before */
    c.kp.gemm_k0 = 0;
    s.comm_sms = 2;
    near(comp_gemm_seconds(&c, &s, 0, &tiles, &waves, NULL), 2 * TILE_1024);
    assert_int_equal(waves, 2);
    /* holding every SM (or more) leaves the GEMM one */
    s.comm_sms = 4;
    near(comp_gemm_seconds(&c, &s, 0, &tiles, &waves, NULL), 4 * TILE_1024);
    assert_int_equal(waves, 4);
    s.comm_sms = 0;
    c.kp.gemm_k0 = 1024;
    /* and the launch cost is added once */
    c.kp.gemm_k0 = 0;
    c.kp.gemm_launch = 5 * US;
    near(comp_gemm_seconds(&c, &s, 0, NULL, NULL, NULL), 5 * US + TILE_1024);
}

static void test_gemm_split_k(void **state)
{
    (void)state;
    comp_cfg c = dev();
    uint64_t tiles, waves;
    /* 128 x 128 x 4096: one tile on 4 SMs; split = min(4 / 1, 4096 / 512)
     * = 4, so 4 slices of K = 1024 in one wave: TILE_1024 */
    loom_kshape s = gemm(128, 128, 4096, 1);
    near(comp_gemm_seconds(&c, &s, 0, &tiles, &waves, NULL), TILE_1024);
    assert_int_equal(tiles, 1);
    assert_int_equal(waves, 1);
    /* K = 1024 allows only 1024 / 512 = 2 slices of 512: half a TILE_1024 */
    s = gemm(128, 128, 1024, 1);
    near(comp_gemm_seconds(&c, &s, 0, NULL, NULL, NULL), TILE_1024 / 2);
    /* K = 300 < 512: no split, one 300-deep tile */
    s = gemm(128, 128, 300, 1);
    near(comp_gemm_seconds(&c, &s, 0, NULL, NULL, NULL), 2.0 * 128 * 128 * 300 / 0.5e12);
}

static void test_gemm_tile_choice_and_floor(void **state)
{
    (void)state;
    comp_cfg c = dev();
    c.kp.ntiles = 2;
    c.kp.tile_m[0] = 128, c.kp.tile_n[0] = 256;
    c.kp.tile_m[1] = 128, c.kp.tile_n[1] = 128;
    /* 128 x 384 x 512: with 128x256, 2 tiles (split min(2, 1) = 1), one
     * wave of 2*128*256*512 / 0.5e12 = 67.108864 us; with 128x128, 3 tiles,
     * one wave of 2*128*128*512 / 0.5e12 = 33.554432 us: the second wins */
    loom_kshape s = gemm(128, 384, 512, 1);
    uint64_t tiles;
    int tile;
    near(comp_gemm_seconds(&c, &s, 0, &tiles, NULL, &tile), 33.554432 * US);
    assert_int_equal(tile, 1);
    assert_int_equal(tiles, 3);
    /* 1e8 bytes at 1e12 * 0.5 bytes/s = 200 us: more than the math */
    near(comp_gemm_seconds(&c, &s, 1e8, NULL, NULL, NULL), 200 * US);
    /* fp8 operands: the fp8 peak (8e12) times the fp8 factor (0.5) is the
     * bf16 rate again */
    c.kp.peak_fp8 = 8e12;
    c.kp.gemm_fp8 = 0.5;
    s.dtype_bytes = 1;
    near(comp_gemm_seconds(&c, &s, 0, NULL, NULL, NULL), 33.554432 * US);
    c.kp.gemm_fp8 = 1; /* and at the full fp8 rate, half the time */
    near(comp_gemm_seconds(&c, &s, 0, NULL, NULL, NULL), 16.777216 * US);
}

/* The attention families: comp_kparams_attention sets each one's fitted
 * figures (compute/comp_kernel.c's table), the default is flash2, and the
 * same kernel under cudnn runs at its efficiency: the forward case of
 * test_attention at 0.66 of the 1e12 per SM instead of 0.5, one wave of
 * 4,194,304 FLOPs: 6.355 us plus the 32 us launch. */
static void test_attention_families(void **state)
{
    (void)state;
    comp_kparams k = comp_kparams_default();
    assert_int_equal(k.attn_kind, COMP_ATTN_FLASH2);
    near(k.attn_eff, 0.31);
    near(k.attn_bwd_eff, 0.25);
    near(k.attn_launch, 50 * US);
    near(k.attn_drop[0], 1.20); /* attention_dropout.csv of 2026-11-30 */
    near(k.attn_drop[1], 1.13);
    comp_kparams_attention(&k, COMP_ATTN_CUDNN);
    assert_int_equal(k.attn_kind, COMP_ATTN_CUDNN);
    near(k.attn_eff, 0.66);
    near(k.attn_bwd_eff, 0.47);
    near(k.attn_launch, 32 * US);
    near(k.attn_drop[0], 1.99);
    near(k.attn_drop[1], 1.21);
    assert_string_equal(comp_attn_names[COMP_ATTN_CUDNN], "cudnn");
    assert_string_equal(comp_attn_names[COMP_ATTN_FLASH2], "flash2");
    comp_attn a;
    assert_int_equal(comp_attn_parse("cudnn", &a), 0);
    assert_int_equal(a, COMP_ATTN_CUDNN);
    assert_int_equal(comp_attn_parse("fa3", &a), -1);
    comp_cfg c = dev();
    comp_kparams_attention(&c.kp, COMP_ATTN_CUDNN);
    loom_kshape s = {.cls = LOOM_K_ATTN, .m = 256, .n = 256, .k = 64, .batch = 2, .causal = 1};
    near(comp_kernel_seconds(&c, 0, 0, &s), 32 * US + 4194304.0 / (1e12 * 0.66));
}

static void test_attention(void **state)
{
    (void)state;
    comp_cfg c = dev();
    /* flash forward, batch x heads 2, 256 queries and keys, d 64, causal:
     * F = 4 * 2 * 256 * 256 * 64 / 2 = 16,777,216; blocks = 2 * 256/128 = 4
     * on 4 SMs, one wave of F/4 = 4,194,304 FLOPs at 0.5e12 = 8.388608 us */
    loom_kshape s = {.cls = LOOM_K_ATTN, .m = 256, .n = 256, .k = 64, .batch = 2, .causal = 1};
    near(comp_kernel_seconds(&c, 0, 0, &s), 8.388608 * US);
    near(comp_kernel_seconds(&c, 16777216, 0, &s), 8.388608 * US); /* the node's FLOPs */
    /* batch 3: 6 blocks, 2 waves of F/6 each: 2 * (25,165,824 / 6) / 0.5e12 */
    s.batch = 3;
    near(comp_kernel_seconds(&c, 0, 0, &s), 2 * (25165824.0 / 6) / 0.5e12);
    /* backward: 2.5x the FLOPs, blocks over keys, efficiency 0.25:
     * 2 * 2.5 * 16,777,216 / 4 blocks / (1e12 * 0.25) = 41.94304 us */
    s = (loom_kshape){.cls = LOOM_K_ATTN_BWD, .m = 256, .n = 256, .k = 64, .batch = 2,
                      .causal = 1};
    near(comp_kernel_seconds(&c, 0, 0, &s), 41.94304 * US);
    /* launch cost and the memory floor (1e7 bytes at 0.5e12: 20 us) */
    c.kp.attn_launch = 3 * US;
    s.cls = LOOM_K_ATTN;
    near(comp_kernel_seconds(&c, 0, 1e7, &s), 23 * US);
    /* the FP8 recipe: in an FP8 run (peak_flops the FP8 peak, 8e12; peak_16
     * the bf16 peak, 4e12) attention with 2-byte operands runs at the bf16
     * peak: the forward case above again, 8.388608 us; without dtype_bytes
     * it takes the run's FP8 peak, half that */
    c = dev();
    c.peak_flops = 8e12;
    c.kp.peak_fp8 = 8e12;
    c.kp.peak_16 = 4e12;
    s = (loom_kshape){.cls = LOOM_K_ATTN, .m = 256, .n = 256, .k = 64, .batch = 2, .causal = 1,
                      .dtype_bytes = 2};
    near(comp_kernel_seconds(&c, 0, 0, &s), 8.388608 * US);
    s.dtype_bytes = 0;
    near(comp_kernel_seconds(&c, 0, 0, &s), 8.388608 / 2 * US);
    /* 4-byte operands (an imported float32 matmul) take peak_32, the FP32
     * peak, whatever the run's datatype: 1e12 against the run's 4e12, so
     * four times the 2-byte time; peak_32 0 keeps the run's peak */
    c = dev();
    c.peak_flops = 4e12;
    c.kp.peak_32 = 1e12;
    s.dtype_bytes = 2;
    double t16 = comp_kernel_seconds(&c, 0, 0, &s);
    s.dtype_bytes = 4;
    near(comp_kernel_seconds(&c, 0, 0, &s) - c.kp.attn_launch,
         4 * (t16 - c.kp.attn_launch));
    c.kp.peak_32 = 0;
    near(comp_kernel_seconds(&c, 0, 0, &s), t16);
    /* communication holding 2 of the 4 SMs (comm_sms): the causal forward's
     * 4 blocks take two waves on the other 2, 2 x 8.388608 us; holding all
     * 4 leaves one SM, 4 waves */
    c = dev();
    s = (loom_kshape){.cls = LOOM_K_ATTN, .m = 256, .n = 256, .k = 64, .batch = 2, .causal = 1,
                      .comm_sms = 2};
    near(comp_kernel_seconds(&c, 0, 0, &s), 2 * 8.388608 * US);
    s.comm_sms = 4;
    near(comp_kernel_seconds(&c, 0, 0, &s), 4 * 8.388608 * US);
}

/* Dropout inside the fused kernel (the shape's dropout): the kernel's
 * whole time, launch and memory floor included, times the family's
 * forward or backward factor; without it, the time of test_attention. */
static void test_attention_dropout(void **state)
{
    (void)state;
    comp_cfg c = dev();
    c.kp.attn_drop[0] = 1.5;
    c.kp.attn_drop[1] = 1.25;
    c.kp.attn_launch = 3 * US;
    loom_kshape s = {.cls = LOOM_K_ATTN, .m = 256, .n = 256, .k = 64, .batch = 2, .causal = 1};
    near(comp_kernel_seconds(&c, 0, 0, &s), 3 * US + 8.388608 * US);
    s.dropout = 1; /* (3 + 8.388608) x 1.5 */
    near(comp_kernel_seconds(&c, 0, 0, &s), 1.5 * 11.388608 * US);
    near(comp_kernel_seconds(&c, 0, 1e7, &s), 1.5 * 23 * US); /* the memory floor: 20 + 3 us */
    s.cls = LOOM_K_ATTN_BWD; /* (3 + 41.94304) x 1.25 */
    near(comp_kernel_seconds(&c, 0, 0, &s), 1.25 * 44.94304 * US);
    /* the check refuses a factor under 1 (dropout cannot make it faster) */
    loom_err err = {0};
    c.kp.attn_drop[1] = 0.9;
    assert_int_equal(comp_kparams_check(&c.kp, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "attention backward dropout factor"));
}

static void test_elementwise_and_fallback(void **state)
{
    (void)state;
    comp_cfg c = dev();
    c.kp.elem_launch = 2 * US;
    /* 1e6 bytes at 1e12 * 0.5: 2 us, plus 2 us launch */
    loom_kshape s = {.cls = LOOM_K_ELEM};
    near(comp_kernel_seconds(&c, 123, 1e6, &s), 4 * US);
    /* a dropout: the same bytes at 1e12 * 0.25 (4 us), the same launch */
    loom_kshape d = {.cls = LOOM_K_DROPOUT};
    near(comp_kernel_seconds(&c, 123, 1e6, &d), 6 * US);
    /* a norm: the same bytes at 1e12 * 0.2 (5 us), its own 3 us launch */
    c.kp.norm_launch = 3 * US;
    loom_kshape nm = {.cls = LOOM_K_NORM};
    near(comp_kernel_seconds(&c, 123, 1e6, &nm), 8 * US);
    /* a norm without bytes has nothing to be priced by: the roofline */
    near(comp_kernel_seconds(&c, 4e12, 0, &nm), 1.0);
    /* as shipped: a dropout a byte is 0.83 / 0.63 of an elementwise kernel */
    c.kp = comp_kparams_default();
    c.kp.sms = 4;
    c.kp.ntiles = 1;
    near(comp_kernel_seconds(&c, 0, 1e9, &d) - c.kp.elem_launch,
         (comp_kernel_seconds(&c, 0, 1e9, &s) - c.kp.elem_launch) * 0.83 / 0.63);
    /* and a norm 0.83 / 0.76 of it, after a launch of 10.5 us, not 5 */
    near(comp_kernel_seconds(&c, 0, 1e9, &nm) - 10.5 * US,
         (comp_kernel_seconds(&c, 0, 1e9, &s) - 5 * US) * 0.83 / 0.76);
    c = dev();
    /* no shape, class none, a GEMM without K, a device without SMs: the
     * roofline of the same cfg (no curves: 4e12 FLOPs at 4e12 = 1 s) */
    loom_kshape none = {0}, nok = gemm(128, 128, 0, 1);
    near(comp_kernel_seconds(&c, 4e12, 0, NULL), 1.0);
    near(comp_kernel_seconds(&c, 4e12, 0, &none), 1.0);
    near(comp_kernel_seconds(&c, 4e12, 0, &nok), 1.0);
    c.kp.sms = 0;
    s = gemm(256, 256, 1024, 1);
    near(comp_kernel_seconds(&c, 4e12, 0, &s), 1.0);
}

static void test_comp_time_nodes(void **state)
{
    (void)state;
    comp_cfg c = dev();
    loom_err err = {0};
    assert_int_equal(comp_cfg_check(&c, &err), 0);
    /* a plain node with a shape: TILE_1024 = 67.108864 us = 67,108,864 ps */
    loom_kshape s = gemm(256, 256, 1024, 1);
    comp_kernel k = {.num_ops = 2ULL * 256 * 256 * 1024, .tensor_size = 0, .has_ops = 1,
                     .shape = &s};
    assert_int_equal(comp_time(&c, &k, NULL), 67108864);
    /* a straggler at 1.5x */
    c.slowdown = 1.5;
    assert_int_equal(comp_time(&c, &k, NULL), 100663296);
    c.slowdown = 0;
    /* the same shape under roofline is 2^27 FLOPs / 4e12 = 33.554432 us */
    c.kind = COMP_ROOFLINE;
    assert_int_equal(comp_time(&c, &k, NULL), 33554432);
    c.kind = COMP_KERNEL;
    /* an elementwise node without num_ops is priced, not a fall-back:
     * 1e6 bytes at 0.5e12 = 2 us */
    loom_kshape e = {.cls = LOOM_K_ELEM};
    comp_kernel ke = {.tensor_size = 1000000, .shape = &e, .duration_ns = 99000};
    int fb = -1;
    assert_int_equal(comp_time(&c, &ke, &fb), 2000000);
    assert_int_equal(fb, 0);
    /* a fused node: GEMM (67.108864 us) + elementwise (2 us) + a kernel with
     * no class, priced by roofline: 4e6 FLOPs / 4e12 = 1 us */
    loom_kshape ks[3] = {gemm(256, 256, 1024, 1), {.cls = LOOM_K_ELEM}, {0}};
    uint64_t kw[6] = {2ULL * 256 * 256 * 1024, 0, 0, 1000000, 4000000, 0};
    comp_kernel kf = {.has_ops = 1, .kwork = kw, .nkern = 3, .shape = ks};
    assert_int_equal(comp_time(&c, &kf, NULL), 67108864 + 2000000 + 1000000);
    /* collectives in flight holding 2 SMs (busy_sms, the replay's comm-sms):
     * the GEMM's 4 tiles take two waves on the other 2 (2 x 67.108864 us);
     * the elementwise kernel and the roofline one do not change */
    kf.busy_sms = 2;
    assert_int_equal(comp_time(&c, &kf, NULL), 2 * 67108864 + 2000000 + 1000000);
    /* on a plain node too, added to the SMs its own shape holds: 1 + 2 of
     * 4 leave one SM, 4 waves */
    s.comm_sms = 1;
    k.busy_sms = 2;
    assert_int_equal(comp_time(&c, &k, NULL), 4 * 67108864);
    kf.busy_sms = 0;
    /* without shapes, every kernel is roofline: 33.554432 + 1 (memory:
     * 1e6 / 1e12) + 1 us */
    kf.shape = NULL;
    assert_int_equal(comp_time(&c, &kf, NULL), 33554432 + 1000000 + 1000000);
    kf.busy_sms = 2; /* and SMs held beside them change nothing */
    assert_int_equal(comp_time(&c, &kf, NULL), 33554432 + 1000000 + 1000000);
}

/* A plain node whose shape the model cannot price keeps the roofline's
 * rules: a GEMM without its sizes and without num_ops keeps its trace
 * duration (7 us), counted as a fall-back, instead of ~0; an elementwise
 * node without tensor_size likewise. */
static void test_unpriceable_shape(void **state)
{
    (void)state;
    comp_cfg c = dev();
    loom_kshape g = {.cls = LOOM_K_GEMM}, e = {.cls = LOOM_K_ELEM};
    comp_kernel k = {.duration_ns = 7000, .shape = &g};
    int fb = 0;
    assert_int_equal(comp_time(&c, &k, &fb), 7000000);
    assert_int_equal(fb, 1);
    k.shape = &e;
    fb = 0;
    assert_int_equal(comp_time(&c, &k, &fb), 7000000);
    assert_int_equal(fb, 1);
}

static void test_check(void **state)
{
    (void)state;
    comp_cfg c = dev();
    loom_err err = {0};
    c.kp.sms = 0;
    assert_int_equal(comp_cfg_check(&c, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "sms and gemm-tiles"));
    c = dev();
    c.kp.attn_eff = 1.5;
    err = (loom_err){0};
    assert_int_equal(comp_cfg_check(&c, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "attention efficiency"));
    c = dev();
    c.kp.norm_eff = 0; /* a class that would cost nothing to a division by 0 */
    err = (loom_err){0};
    assert_int_equal(comp_cfg_check(&c, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "norm efficiency"));
    c = dev();
    c.kp.norm_launch = 2; /* seconds */
    err = (loom_err){0};
    assert_int_equal(comp_cfg_check(&c, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "norm launch must be in [0, 1) s"));
    c = dev();
    c.peak_flops = 0;
    err = (loom_err){0};
    assert_int_equal(comp_cfg_check(&c, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "kernel model"));
    /* the shipped constants pass their own check */
    c = dev();
    comp_kparams d = comp_kparams_default();
    d.sms = 132, d.ntiles = 1, d.tile_m[0] = 128, d.tile_n[0] = 256;
    c.kp = d;
    err = (loom_err){0};
    assert_int_equal(comp_cfg_check(&c, &err), 0);
    assert_string_equal(comp_kind_name(COMP_KERNEL), "kernel");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_waves),
        cmocka_unit_test(test_gemm_split_k),
        cmocka_unit_test(test_gemm_tile_choice_and_floor),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_attention_families),
        cmocka_unit_test(test_attention_dropout),
        cmocka_unit_test(test_elementwise_and_fallback),
        cmocka_unit_test(test_comp_time_nodes),
        cmocka_unit_test(test_unpriceable_shape),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
