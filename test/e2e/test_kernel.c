/*
 * test_kernel.c: the kernel compute model end to end (issue 11, item 1):
 * `loom gen llm` writes each GEMM's shape into the trace, `loom run`
 * prices it at replay by tile and wave quantization, and ASTRA-sim's
 * roofline stays what `compute-model: roofline` selects.
 *
 * A made-up device (tiny_device.h) makes the arithmetic short: 4 SMs,
 * one 128 x 128 tile, bf16 peak 4e12 FLOP/s (1e12 per SM), HBM 1e16
 * bytes/s so no GEMM here is memory bound.  With GPT's gelu MLP, b = 1,
 * s = 256 (M = 256 tokens), h = 512, the forward fc1 is a GEMM of
 * (256 x 512)(512 x ffn):
 *   ffn 1024: tiles = ceil(256/128) ceil(1024/128) = 2 x 8 = 16, 4 waves
 *   ffn 1025: tiles = 2 x ceil(1025/128) = 2 x 9 = 18, 5 waves
 * each wave 2 * 128 * 128 * (512 + k0) / (1e12 * e_gemm) seconds, plus one
 * launch (compute/comp_kernel.c; k0, e_gemm, launch from
 * comp_kparams_default()).  One more column than a tile multiple costs a
 * whole wave: 25% more time for 0.1% more work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "loomrun.h"
#include "tiny_device.h"

static const char net1[] = "topology: [ Switch ]\nnpus_count: [ 1 ]\nbandwidth: [ 100 ]\n"
                           "latency: [ 500 ]\n";

/* Generates the one-layer model with this ffn; returns its prefix (static
 * storage per name: loomrun_path's buffers rotate). */
static const char *gen(const char *name, const char *ffn)
{
    static char keep[2][512];
    char *out = keep[name[0] == 'a' ? 0 : 1];
    snprintf(out, 512, "%s", loomrun_path(name));
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "gpt3-175b", "--hidden", "512",
                         "--heads", "4", "--ffn", ffn, "--layers", "1", "--seq", "256", "--vocab",
                         "1024", "--global-batch", "1", "--micro-batch", "1", "--granularity",
                         "kernel", "--devices", loomrun_path("tiny.yaml"), "--device", "tiny",
                         "--out", out, "-q", NULL);
    if (rc != 0)
        fail_msg("gen llm --ffn %s: exit %d: %s", ffn, rc, loomrun_err);
    return out;
}

/* Replays prefix with its system file (or sys); returns node `node`'s
 * duration in us from the timeline. */
static double node_us(const char *prefix, const char *sys, const char *node)
{
    char sysp[600], tl[600];
    snprintf(sysp, sizeof sysp, "%s.system.yaml", prefix);
    snprintf(tl, sizeof tl, "%s.timeline.json", prefix);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", prefix, "-s", sys ? sys : sysp, "-n",
                         loomrun_path("net1.yml"), "--timeline", tl, "-q", NULL);
    if (rc != 0)
        fail_msg("run %s: exit %d: %s", prefix, rc, loomrun_err);
    json_error_t je;
    json_t *root = json_load_file(tl, 0, &je);
    if (root == NULL)
        fail_msg("%s: %s", tl, je.text);
    json_t *ev = json_is_array(root) ? root : json_object_get(root, "traceEvents");
    double dur = -1;
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e) {
        const char *nm = json_string_value(json_object_get(e, "name"));
        if (nm && strcmp(nm, node) == 0)
            dur = json_number_value(json_object_get(e, "dur"));
    }
    json_decref(root);
    if (dur < 0)
        fail_msg("no node %s in %s", node, tl);
    return dur;
}

static double fc1_us(int waves) { return tiny_gemm_us(waves, 512); }

static void test_one_more_column_one_more_wave(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("tiny.yaml"), tiny_device_yaml);
    loomrun_write(loomrun_path("net1.yml"), net1);
    const char *a = gen("a", "1024");
    double ta = node_us(a, NULL, "L0.F0.fc1");
    const char *b = gen("b", "1025");
    double tb = node_us(b, NULL, "L0.F0.fc1");
    /* the timeline prints us to 6 decimals (ps) */
    assert_true(fabs(ta - fc1_us(4)) < 2e-6);
    assert_true(fabs(tb - fc1_us(5)) < 2e-6);
    /* the system file gen llm wrote selects the kernel model */
    char sys[1 << 12], sp[600];
    snprintf(sp, sizeof sp, "%s.system.yaml", a);
    loomrun_slurp(sp, sys, sizeof sys);
    assert_non_null(strstr(sys, "compute-model: kernel"));
    /* the same trace under roofline: 2 * 256 * 512 * 1024 FLOPs at 4e12 with
     * no curve (tiny has none) = 67.108864 us; shapes do not matter there */
    char rs[512], text[1024];
    snprintf(rs, sizeof rs, "%s", loomrun_path("roof.yaml"));
    snprintf(text, sizeof text, "device: tiny\ndevice-file: %s\ncompute-model: roofline\n",
             loomrun_path("tiny.yaml"));
    loomrun_write(rs, text);
    assert_true(fabs(node_us(a, rs, "L0.F0.fc1") - 67.108864) < 2e-6);
}

/* Step time in ns from the JSON report of replaying prefix. */
static double step_ns(const char *prefix)
{
    char sysp[600], js[600];
    snprintf(sysp, sizeof sysp, "%s.system.yaml", prefix);
    snprintf(js, sizeof js, "%s.json", prefix);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", prefix, "-s", sysp, "-n",
                         loomrun_path("net1.yml"), "-j", js, "-q", NULL);
    if (rc != 0)
        fail_msg("run %s: exit %d: %s", prefix, rc, loomrun_err);
    return loomrun_step_ns(js);
}

/* A fused trace (--granularity layer) carries the same shapes in
 * kernel_shape: `loom trace validate` accepts it, and on one rank (no
 * communication) its step costs exactly what the kernel-per-node trace
 * costs: the same kernels, each priced and rounded to the ps alone. */
static void test_fused_same_as_kernels(void **state)
{
    (void)state;
    char out[512];
    snprintf(out, sizeof out, "%s", loomrun_path("f"));
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "gpt3-175b", "--hidden", "512",
                         "--heads", "4", "--ffn", "1025", "--layers", "1", "--seq", "256",
                         "--vocab", "1024", "--global-batch", "1", "--micro-batch", "1",
                         "--devices", loomrun_path("tiny.yaml"), "--device", "tiny", "--out", out,
                         "-q", NULL);
    if (rc != 0)
        fail_msg("gen llm (fused): exit %d: %s", rc, loomrun_err);
    rc = loomrun_run(loomrun_tmp, "trace", "validate", out, NULL);
    if (rc != 0)
        fail_msg("trace validate %s: exit %d: %s%s", out, rc, loomrun_out, loomrun_err);
    double fused = step_ns(out);
    double kern = step_ns(gen("b", "1025"));
    if (fabs(fused - kern) > 1e-3) /* the report prints ns to 3 decimals: ps */
        fail_msg("fused step %.3f ns, per-kernel step %.3f ns", fused, kern);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_more_column_one_more_wave),
        cmocka_unit_test(test_fused_same_as_kernels),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
