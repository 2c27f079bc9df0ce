/* The device catalog: the shipped file's figures against the vendors'
 * datasheets (the numbers below are typed from the datasheets, not from
 * devices.yaml), user files that override it, and malformed files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "comp_dev.h"

#define T12 1e12
#define GIB 1073741824.0

static const comp_device *find(const comp_catalog *c, const char *name)
{
    const comp_device *d = comp_catalog_find(c, name);
    if (d == NULL)
        fail_msg("device %s missing from the catalog", name);
    return d;
}

static void near(double got, double want)
{
    if (fabs(got - want) > 1e-9 * fabs(want))
        fail_msg("got %.17g, want %.17g", got, want);
}

/* The catalog: the built-in file and path (NULL: none), no user file. */
static comp_catalog *load_catalog(const char *path)
{
    loom_err err = {0};
    setenv("XDG_CONFIG_HOME", "/nonexistent-loom-test", 1); /* no user file */
    comp_catalog *c = comp_catalog_load(path, &err);
    if (c == NULL)
        fail_msg("%s", err.msg);
    return c;
}

/* Dense peaks: datasheet sparse figures halved where the sheet prints only
 * those (H100, H200, B200). */
static void test_builtin_figures(void **state)
{
    (void)state;
    comp_catalog *c = load_catalog(NULL);
    loom_err err = {0};
    assert_true(comp_catalog_count(c) >= 6);
    const comp_device *a = find(c, "a100-40g");
    near(a->peak[COMP_BF16], 312 * T12);
    near(a->peak[COMP_TF32], 156 * T12);
    near(a->peak[COMP_FP32], 19.5 * T12);
    assert_true(a->peak[COMP_FP8] == 0); /* Ampere has no FP8 */
    near(a->mem_bytes, 40 * GIB);
    near(a->mem_bw, 1555e9);
    near(a->link_bw, 300e9);
    /* the kernel model's hardware: whitepaper SM counts, cuBLAS tiles */
    assert_int_equal(a->sms, 108);
    assert_int_equal(a->ntiles, 3);
    assert_int_equal(a->tile_m[0], 256);
    assert_int_equal(a->tile_n[0], 128);
    assert_int_equal(find(c, "h200")->sms, 132);
    assert_int_equal(find(c, "h100-sxm")->sms, 132);
    comp_cfg kc = {.kind = COMP_KERNEL};
    loom_err ke = {0};
    assert_int_equal(comp_device_cfg(find(c, "h200"), COMP_BF16, &kc, &ke), 0);
    assert_int_equal(kc.kp.sms, 132);
    assert_int_equal(kc.kp.tile_m[0], 128);
    assert_int_equal(kc.kp.tile_n[0], 256);
    near(kc.kp.peak_fp8, 3958 * T12 / 2);
    near(kc.kp.peak_32, 67 * T12); /* float matmuls: FP32, PyTorch's default */
    near(kc.kp.gemm_eff, comp_kparams_default().gemm_eff);
    comp_cfg kt = {.kind = COMP_KERNEL};
    assert_int_equal(comp_device_cfg(find(c, "h200"), COMP_TF32, &kt, &ke), 0);
    near(kt.kp.peak_32, kt.peak_flops); /* a TF32 run: its own peak */
    assert_int_equal(comp_cfg_check(&kc, &ke), 0);
    const comp_device *a8 = find(c, "a100-80g");
    near(a8->mem_bw, 2039e9);
    near(a8->mem_bytes, 80 * GIB);
    const comp_device *h = find(c, "h100-sxm");
    near(h->peak[COMP_BF16], 1979 * T12 / 2);
    near(h->peak[COMP_FP8], 3958 * T12 / 2);
    near(h->peak[COMP_FP32], 67 * T12);
    near(h->mem_bw, 3350e9);
    near(h->link_bw, 450e9);
    const comp_device *h2 = find(c, "h200");
    near(h2->mem_bw, 4800e9);
    near(h2->mem_bytes, 141 * GIB);
    const comp_device *b = find(c, "b200");
    near(b->peak[COMP_BF16], 4.5e15 / 2);
    near(b->peak[COMP_FP8], 9e15 / 2);
    near(b->mem_bw, 7700e9);
    const comp_device *m = find(c, "mi300x");
    near(m->peak[COMP_BF16], 1307.4 * T12);
    near(m->peak[COMP_FP8], 2614.9 * T12);
    near(m->mem_bytes, 192 * GIB);
    near(m->mem_bw, 5300e9);
    /* every device cites its sources */
    for (size_t i = 0; i < comp_catalog_count(c); i++) {
        const comp_device *d = comp_catalog_at(c, i);
        assert_non_null(d->source);
        assert_non_null(d->eff_source);
        if (i > 0) /* sorted by name */
            assert_true(strcmp(comp_catalog_at(c, i - 1)->name, d->name) < 0);
    }
    /* a device at a datatype: half = overhead * peak * efficiency */
    comp_cfg cc = {.kind = COMP_ROOFLINE};
    assert_int_equal(comp_device_cfg(h, COMP_BF16, &cc, &err), 0);
    near(cc.peak_flops, 989.5 * T12);
    near(cc.matrix.eff, h->matrix_eff);
    near(cc.matrix.half, h->matrix_overhead * 989.5 * T12 * h->matrix_eff);
    near(cc.memory.half, h->memory_overhead * 3350e9 * h->memory_eff);
    loom_err e2 = {0};
    assert_int_equal(comp_device_cfg(a, COMP_FP8, &cc, &e2), LOOM_EUSAGE);
    assert_non_null(strstr(e2.msg, "no fp8"));
    comp_catalog_free(c);
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/loom_devicesXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

#define GOOD_DEV                                                                                   \
    "  description: test part\n  source: none, a test\n  peak-tflops: {fp32: 10, bf16: 100}\n"  \
    "  memory-gib: 16\n  memory-bw-gbs: 1000\n  link-bw-gbs: 100\n"

/* A user file adds a device and replaces a built-in one. */
static void test_override(void **state)
{
    (void)state;
    char *path = write_tmp("mydev:\n" GOOD_DEV "a100-40g:\n" GOOD_DEV);
    comp_catalog *c = load_catalog(path);
    const comp_device *d = find(c, "mydev");
    near(d->peak[COMP_BF16], 100 * T12);
    assert_true(d->matrix_eff == 0); /* no curve: the plain roofline */
    near(find(c, "a100-40g")->mem_bw, 1000e9); /* replaced */
    near(find(c, "a100-80g")->mem_bw, 2039e9); /* untouched */
    assert_int_equal(comp_catalog_files(c), 2);
    comp_catalog_free(c);
    unlink(path);
    free(path);
}

static void expect_error(const char *text, const char *needle)
{
    char *path = write_tmp(text);
    comp_catalog *c = comp_catalog_new();
    loom_err err = {0};
    int rc = comp_catalog_add_file(c, path, &err);
    if (rc != LOOM_EUSAGE || strstr(err.msg, needle) == NULL || strstr(err.msg, path) == NULL)
        fail_msg("expected an error naming %s and '%s'; got %d '%s'", path, needle, rc, err.msg);
    comp_catalog_free(c);
    unlink(path);
    free(path);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_error("", "mapping of device names");
    expect_error("[1, 2]\n", "mapping of device names");
    expect_error("x: {description: y\n", "line");
    expect_error("x:\n" GOOD_DEV "  colour: red\n", "device 'x': unknown key 'colour'");
    expect_error("x:\n  description: d\n  source: s\n  peak-tflops: {fp32: 1}\n  memory-gib: 1\n"
                 "  memory-bw-gbs: 1\n", "missing key 'link-bw-gbs'");
    expect_error("x:\n  description: d\n  source: s\n  peak-tflops: {bf16: 1}\n  memory-gib: 1\n"
                 "  memory-bw-gbs: 1\n  link-bw-gbs: 1\n", "fp32 is required");
    expect_error("x:\n  description: d\n  source: s\n  peak-tflops: {fp32: 1, fp4: 3}\n",
                 "unknown key 'fp4'");
    expect_error("x:\n  description: d\n  source: s\n  peak-tflops: {fp32: -1}\n",
                 "peak-tflops.fp32");
    expect_error("x:\n" GOOD_DEV "  memory-gib: 2\n", "key 'memory-gib' appears twice");
    expect_error("x:\n  description: d\n  source: s\n  peak-tflops: {fp32: 1}\n  memory-gib: lots\n",
                 "'lots' is not a number");
    expect_error("x:\n" GOOD_DEV "  matrix-efficiency: 0.8\n", "give all of");
    expect_error("x:\n" GOOD_DEV "  matrix-efficiency: 1.5\n", "out of range");
    expect_error("x:\n" GOOD_DEV "x:\n" GOOD_DEV, "device 'x' appears twice");
    /* the kernel model's figures: all three or none, tiles "MxN" */
    expect_error("x:\n" GOOD_DEV "  sms: 10\n", "give all of sms, gemm-tiles and kernel-source");
    expect_error("x:\n" GOOD_DEV "  sms: 10.5\n  gemm-tiles: [128x128]\n  kernel-source: s\n",
                 "whole number");
    expect_error("x:\n" GOOD_DEV "  sms: 10\n  gemm-tiles: [128by128]\n  kernel-source: s\n",
                 "'128by128' is not a tile shape");
    expect_error("x:\n" GOOD_DEV "  sms: 10\n  gemm-tiles: 128x128\n  kernel-source: s\n",
                 "key 'gemm-tiles': expected a list");
    expect_error("x:\n" GOOD_DEV "  sms: 10\n  gemm-tiles: [1x1, 2x2, 3x3, 4x4, 5x5, 6x6, "
                 "7x7, 8x8, 9x9]\n  kernel-source: s\n", "9 tiles; give 1 .. 8");
    /* through core/base/yamlio: keys are names, aliases end (docs/CONFIG.md) */
    expect_error("? [x]\n:\n" GOOD_DEV, "line 1, column 3: a mapping key must be a scalar");
    expect_error("x: &d\n  description: *d\n", "line 2, column 16: alias '*d' refers to a collection");
    /* an empty catalog into an empty one: nothing to sort (fuzz_yaml found
     * qsort(NULL, 0) here, undefined behaviour) */
    char *empty = write_tmp("{}\n");
    comp_catalog *ec = comp_catalog_new();
    loom_err ee = {0};
    assert_int_equal(comp_catalog_add_file(ec, empty, &ee), 0);
    assert_int_equal(comp_catalog_count(ec), 0);
    comp_catalog_free(ec);
    unlink(empty);
    free(empty);
    loom_err err = {0};
    comp_catalog *c = comp_catalog_new();
    assert_int_equal(comp_catalog_add_file(c, "/nonexistent/devices.yaml", &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "/nonexistent/devices.yaml"));
    comp_catalog_free(c);
    /* a missing built-in catalog names where it looked */
    setenv("LOOM_DEVICE_CATALOG", "/nonexistent/builtin.yaml", 1);
    loom_err e2 = {0};
    assert_null(comp_catalog_load(NULL, &e2));
    assert_non_null(strstr(e2.msg, "/nonexistent/builtin.yaml"));
    unsetenv("LOOM_DEVICE_CATALOG");
}

/* attention-efficiency: a device's own forward and backward efficiency per
 * attention family replaces that family's H200 fit, for that family only
 * and whichever family the system selects after the device (comp_kernel.c
 * comp_kparams_attention); the built-in B200's FlashAttention-2 ones
 * (bench/gpu/cudnn_sdpa.py --fit). */
static void test_attention_efficiency(void **state)
{
    (void)state;
    char *path = write_tmp("mydev:\n" GOOD_DEV "  sms: 10\n  gemm-tiles: [128x128]\n"
                           "  kernel-source: s\n  attention-efficiency: {cudnn: [0.5, 0.25]}\n");
    comp_catalog *c = load_catalog(path);
    loom_err err = {0};
    comp_cfg cfg = {0};
    assert_int_equal(comp_device_cfg(find(c, "mydev"), COMP_BF16, &cfg, &err), 0);
    comp_kparams fit = comp_kparams_default(); /* the H200 fit, FlashAttention-2 */
    near(cfg.kp.attn_eff, fit.attn_eff); /* flash2: the device has none of its own */
    near(cfg.kp.attn_bwd_eff, fit.attn_bwd_eff);
    comp_kparams_attention(&cfg.kp, COMP_ATTN_CUDNN);
    near(cfg.kp.attn_eff, 0.5);
    near(cfg.kp.attn_bwd_eff, 0.25);
    assert_int_equal(cfg.kp.attn_kind, COMP_ATTN_CUDNN);
    comp_kparams cu = fit;
    comp_kparams_attention(&cu, COMP_ATTN_CUDNN);
    near(cfg.kp.attn_launch, cu.attn_launch); /* the launch stays the family's */
    /* the built-in B200: FlashAttention-2 its own, cuDNN the H200 fit */
    assert_int_equal(comp_device_cfg(find(c, "b200"), COMP_BF16, &cfg, &err), 0);
    near(cfg.kp.attn_eff, 0.19);
    near(cfg.kp.attn_bwd_eff, 0.15);
    comp_kparams_attention(&cfg.kp, COMP_ATTN_CUDNN);
    near(cfg.kp.attn_eff, cu.attn_eff);
    near(cfg.kp.attn_bwd_eff, cu.attn_bwd_eff);
    comp_catalog_free(c);
    unlink(path);
    free(path);
#define KERN "  sms: 10\n  gemm-tiles: [128x128]\n  kernel-source: s\n"
    expect_error("x:\n" GOOD_DEV KERN "  attention-efficiency: {flash3: [0.5, 0.5]}\n",
                 "unknown key 'flash3' (known keys: flash2, cudnn)");
    expect_error("x:\n" GOOD_DEV KERN "  attention-efficiency: {flash2: [0.5]}\n",
                 "expected [forward, backward]");
    expect_error("x:\n" GOOD_DEV KERN "  attention-efficiency: {flash2: 0.5}\n",
                 "expected [forward, backward]");
    expect_error("x:\n" GOOD_DEV KERN "  attention-efficiency: {flash2: [0.5, 0]}\n",
                 "key 'attention-efficiency.flash2': 0 is out of range");
    expect_error("x:\n" GOOD_DEV KERN "  attention-efficiency: {flash2: [1.5, 0.5]}\n",
                 "out of range");
    expect_error("x:\n" GOOD_DEV KERN "  attention-efficiency: {flash2: [0.5, 0.5], flash2: "
                 "[0.4, 0.4]}\n", "a family appears twice");
    expect_error("x:\n" GOOD_DEV KERN "  attention-efficiency: [0.5, 0.5]\n",
                 "expected a mapping of attention family");
    expect_error("x:\n" GOOD_DEV "  attention-efficiency: {flash2: [0.5, 0.5]}\n",
                 "attention-efficiency is the kernel model's");
#undef KERN
}

/* gemm-efficiency-scale: the GEMM efficiency fitted on the H200 times the
 * device's factor (at most 1); the built-in A100s' 0.859 / 0.803 (their
 * MAMF fraction over the H200's), none on the H200 itself. */
static void test_gemm_scale(void **state)
{
    (void)state;
    char *path = write_tmp("half:\n" GOOD_DEV "  sms: 10\n  gemm-tiles: [128x128]\n"
                           "  kernel-source: s\n  gemm-efficiency-scale: 0.5\n"
                           "over:\n" GOOD_DEV "  sms: 10\n  gemm-tiles: [128x128]\n"
                           "  kernel-source: s\n  gemm-efficiency-scale: 2\n");
    comp_catalog *c = load_catalog(path);
    loom_err err = {0};
    double fit = comp_kparams_default().gemm_eff; /* 0.73 */
    comp_cfg cfg = {0};
    assert_int_equal(comp_device_cfg(find(c, "half"), COMP_BF16, &cfg, &err), 0);
    near(cfg.kp.gemm_eff, fit * 0.5);
    assert_int_equal(comp_device_cfg(find(c, "over"), COMP_BF16, &cfg, &err), 0);
    near(cfg.kp.gemm_eff, 1.0); /* 0.73 x 2 is more than the SMs' peak: capped */
    assert_int_equal(comp_device_cfg(find(c, "a100-80g"), COMP_BF16, &cfg, &err), 0);
    near(find(c, "a100-80g")->gemm_scale, 1.070);
    near(cfg.kp.gemm_eff, fit * 1.070);
    near(cfg.kp.attn_eff, comp_kparams_default().attn_eff); /* GEMMs only */
    assert_int_equal(comp_device_cfg(find(c, "h200"), COMP_BF16, &cfg, &err), 0);
    near(cfg.kp.gemm_eff, fit);
    /* the rule devices.yaml states: each built-in scale is the device's MAMF
     * fraction (matrix-efficiency) over the H200's, to the 3 digits given */
    double ref = find(c, "h200")->matrix_eff;
    for (size_t i = 0; i < comp_catalog_count(c); i++) {
        const comp_device *d = comp_catalog_at(c, i);
        if (d->gemm_scale > 0 && strcmp(d->file, path) != 0 &&
            fabs(d->gemm_scale - d->matrix_eff / ref) > 5e-4)
            fail_msg("%s: gemm-efficiency-scale %g, matrix-efficiency %g / %g = %.4f", d->name,
                     d->gemm_scale, d->matrix_eff, ref, d->matrix_eff / ref);
    }
    comp_catalog_free(c);
    unlink(path);
    free(path);
#define KERN "  sms: 10\n  gemm-tiles: [128x128]\n  kernel-source: s\n"
    expect_error("x:\n" GOOD_DEV KERN "  gemm-efficiency-scale: 0\n",
                 "key 'gemm-efficiency-scale': 0 is out of range");
    expect_error("x:\n" GOOD_DEV KERN "  gemm-efficiency-scale: 2.5\n", "out of range");
    expect_error("x:\n" GOOD_DEV KERN "  gemm-efficiency-scale: fast\n", "is not a number");
    expect_error("x:\n" GOOD_DEV "  gemm-efficiency-scale: 1.1\n",
                 "gemm-efficiency-scale is the kernel model's");
#undef KERN
}

static void test_dtypes(void **state)
{
    (void)state;
    comp_dtype t;
    assert_int_equal(comp_dtype_parse("bf16", &t), 0);
    assert_int_equal(t, COMP_BF16);
    assert_int_equal(comp_dtype_bytes(t), 2);
    assert_int_equal(comp_dtype_parse("fp8", &t), 0);
    assert_int_equal(comp_dtype_bytes(t), 1);
    assert_int_equal(comp_dtype_parse("int4", &t), -1);
    assert_string_equal(comp_dtype_name(COMP_TF32), "tf32");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_figures),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_attention_efficiency),
        cmocka_unit_test(test_gemm_scale),
        cmocka_unit_test(test_dtypes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
