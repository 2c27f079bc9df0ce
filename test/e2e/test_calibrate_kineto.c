/*
 * test_calibrate_kineto.c: `loom calibrate --kineto` (issue 11, item 7:
 * a profile fitted to Kineto kernel times by shape; core/cli/
 * calibrate_kineto.c).
 *
 * The truth is made by construction.  A made-up device (tiny_device.h:
 * 4 SMs, one 128 x 128 tile, 1e12 FLOP/s per SM at bf16, no GEMM memory
 * bound) prices a GEMM of (m x k)(k x n) in the kernel model as
 *     launch + waves * 2 * 128 * 128 * (k + k0) / (1e12 * e_gemm),
 *     waves = ceil(ceil(m / 128) ceil(n / 128) / 4)
 * (docs/DEVICES.md "The kernel model"; test_kernel.c checks the same
 * formula through replay).  The capture
 * below has three matrix-product ops whose kernels take exactly 1.25 times
 * that: an aten::mm of 256 x 512 x 1024 (16 tiles, 4 waves), one of
 * 256 x 512 x 1025 (18 tiles, 5 waves), and an aten::linear of x[2, 128,
 * 512] by W[1024, 512] around the aten::addmm that launches its kernel
 * (4 waves, the addmm's shape, the innermost op).  An aten::add's kernel
 * and a kernel whose launch is missing are left out.  Calibrate must find
 * compute-time-scale 1.25 with errors of 0 (within the capture's 0.1 ns
 * rounding), and the profile must load in `loom run`.
 *
 * A real capture (test/data/pytorch/sampled_kineto_rank0.json.gz, A100,
 * fp32 inputs through TF32 kernels) fits too; one without shapes
 * (linear_kineto) is refused with exit 3 and no profile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loomrun.h"
#include "tiny_device.h"

static double gemm_us(int waves, int k) { return tiny_gemm_us(waves, k); }

/* One host op (with shapes, or none: dims NULL), its launch and its kernel
 * of dur us, at ts; corr < 0: the kernel's launch is not in the file. */
static void event(FILE *f, const char *name, const char *dims, double ts, double op_dur, int corr,
                  double dur)
{
    fprintf(f, "{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"%s\", \"pid\": 1, \"tid\": 1, "
               "\"ts\": %.4f, \"dur\": %.4f, \"args\": {\"External id\": %d", name, ts, op_dur,
            corr > 0 ? corr : 99);
    if (dims)
        fprintf(f, ", \"Input Dims\": %s, \"Input type\": [\"c10::BFloat16\", "
                   "\"c10::BFloat16\"]", dims);
    fprintf(f, "}},\n");
    if (corr > 0)
        fprintf(f, "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaLaunchKernel\", "
                   "\"pid\": 1, \"tid\": 1, \"ts\": %.4f, \"dur\": 3, \"args\": "
                   "{\"correlation\": %d}},\n", ts + op_dur - 5, corr);
    fprintf(f, "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"gemm_%d\", \"pid\": 0, \"tid\": 7, "
               "\"ts\": %.4f, \"dur\": %.4f, \"args\": {\"correlation\": %d, \"stream\": 7}},\n",
            corr, ts + op_dur, dur, corr > 0 ? corr : 1000);
}

static void write_capture(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"schemaVersion\": 1, \"record_shapes\": 1, \"traceEvents\": [\n");
    event(f, "aten::mm", "[[256, 512], [512, 1024]]", 100, 20, 1, 1.25 * gemm_us(4, 512));
    event(f, "aten::mm", "[[256, 512], [512, 1025]]", 1000, 20, 2, 1.25 * gemm_us(5, 512));
    /* AddmmBackward0 [2000, 2100], with shapes but not a product, around
     * aten::addmm [2010, 2040], whose launch it is */
    fprintf(f, "{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"AddmmBackward0\", \"pid\": 1, "
               "\"tid\": 1, \"ts\": 2000, \"dur\": 100, \"args\": {\"Input Dims\": [[256, 1024]], "
               "\"Input type\": [\"c10::BFloat16\"]}},\n");
    event(f, "aten::addmm", "[[1024], [256, 512], [512, 1024]]", 2010, 30, 3,
          1.25 * gemm_us(4, 512));
    event(f, "aten::add", "[[256, 1024], [256, 1024]]", 3000, 20, 4, 17); /* not a product */
    event(f, "aten::mm", "[[256, 512], [512, 1024]]", 4000, 20, -1, 999); /* launch missing */
    fprintf(f, "{\"ph\": \"i\", \"cat\": \"marker\", \"name\": \"end\", \"pid\": 1, \"tid\": 1, "
               "\"ts\": 5000}\n]}\n");
    assert_int_equal(fclose(f), 0);
}

/* The value of `key: ` in text, or NAN. */
static double yaml_num(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

static void test_recovers_scale(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("tiny.yaml"), tiny_device_yaml);
    write_capture(loomrun_path("cap.json"));
    int rc = loomrun_run(loomrun_tmp, "calibrate", "--kineto", loomrun_path("cap.json"),
                         "--device", "tiny", "--devices", loomrun_path("tiny.yaml"), "--dtype",
                         "bf16", "-o", loomrun_path("p.yaml"), NULL);
    if (rc != 0)
        fail_msg("calibrate: exit %d: %s", rc, loomrun_err);
    char text[8192];
    loomrun_slurp(loomrun_path("p.yaml"), text, sizeof text);
    double s = yaml_num(text, "\ncompute-time-scale: ");
    if (!(fabs(s - 1.25) < 1e-5))
        fail_msg("compute-time-scale %.6f, wanted 1.25:\n%s", s, text);
    assert_true(yaml_num(text, "\n  kernels-by-shape: ") == 3);
    assert_true(yaml_num(text, "\n  max-abs-error: ") < 1e-4);
    assert_true(yaml_num(text, "\n  loo-max-abs-error: ") < 1e-4);
    assert_non_null(strstr(text, "\nstack: p\n"));
    /* 256 x 1024 x 512 twice (the mm and the addmm), 4 waves at x 1.25 */
    char row[128];
    snprintf(row, sizeof row, "      1x   256x  1024x   512      2 %12.2f %12.2f", 1.25 * gemm_us(4, 512),
             gemm_us(4, 512));
    if (strstr(text, row) == NULL)
        fail_msg("no row '%s' in\n%s", row, text);
    assert_non_null(strstr(loomrun_out, "3 kernels of 3 ops fitted; 1 kernels without their launch"));

    /* the profile loads: a run names it as its stack */
    char sys[512];
    snprintf(sys, sizeof sys, "local-mem-bw: 1000\nstack: %s\n", loomrun_path("p.yaml"));
    loomrun_write(loomrun_path("s.yaml"), sys);
    loomrun_write(loomrun_path("n.yml"), "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\n"
                                         "latency: [ 500 ]\n");
    rc = loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "1MiB", "-r", "2", "-o",
                     loomrun_path("m/ar"), NULL);
    assert_int_equal(rc, 0);
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("m/ar"), "-s", loomrun_path("s.yaml"),
                     "-n", loomrun_path("n.yml"), NULL);
    if (rc != 0)
        fail_msg("run with the profile: exit %d: %s", rc, loomrun_err);
    assert_non_null(strstr(loomrun_out, "stack      p: compute times x 1.25"));
}

/* host-launch-us: 12 launches 50 us apart on one thread, each kernel
 * (an aten::mm of 256 x 64 x 1024 at 1.25 times the model, about 31 us)
 * starting 2 us after its launch returns and ending before the next
 * launch: the GPU waited for every launch after the first, so the 11
 * intervals are 50 us and the profile says host-launch-us 50.  The
 * capture of test_recovers_scale has only 5 launches: none fitted. */
static void test_host_launch(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("tiny.yaml"), tiny_device_yaml);
    FILE *f = fopen(loomrun_path("host.json"), "w");
    assert_non_null(f);
    fprintf(f, "{\"schemaVersion\": 1, \"traceEvents\": [\n");
    double d = 1.25 * gemm_us(4, 64);
    assert_true(d < 45);
    for (int i = 0; i < 12; i++)
        event(f, "aten::mm", "[[256, 64], [64, 1024]]", 100 + 50.0 * i, 10, i + 1, d);
    fprintf(f, "{\"ph\": \"i\", \"cat\": \"marker\", \"name\": \"end\", \"pid\": 1, \"tid\": 1, "
               "\"ts\": 5000}\n]}\n");
    assert_int_equal(fclose(f), 0);
    int rc = loomrun_run(loomrun_tmp, "calibrate", "--kineto", loomrun_path("host.json"),
                         "--device", "tiny", "--devices", loomrun_path("tiny.yaml"), "--dtype",
                         "bf16", "-o", loomrun_path("h.yaml"), "-q", NULL);
    if (rc != 0)
        fail_msg("calibrate: exit %d: %s", rc, loomrun_err);
    char text[8192];
    loomrun_slurp(loomrun_path("h.yaml"), text, sizeof text);
    assert_true(fabs(yaml_num(text, "\nhost-launch-us: ") - 50) < 1e-3);
    assert_true(yaml_num(text, "\n  host-bound-intervals: ") == 11);
    assert_true(fabs(yaml_num(text, "\ncompute-time-scale: ") - 1.25) < 1e-5);

    write_capture(loomrun_path("cap.json"));
    rc = loomrun_run(loomrun_tmp, "calibrate", "--kineto", loomrun_path("cap.json"), "--device",
                     "tiny", "--devices", loomrun_path("tiny.yaml"), "--dtype", "bf16", "-o",
                     loomrun_path("p.yaml"), "-q", NULL);
    assert_int_equal(rc, 0);
    loomrun_slurp(loomrun_path("p.yaml"), text, sizeof text);
    assert_null(strstr(text, "\nhost-launch-us:"));
    assert_non_null(strstr(text, "fewer than 10, not fitted"));
}

static void test_real_and_bad(void **state)
{
    (void)state;
    char cap[512];
    snprintf(cap, sizeof cap, "%s/pytorch/sampled_kineto_rank0.json.gz", FIXTURES);
    int rc = loomrun_run(loomrun_tmp, "calibrate", "--kineto", cap, "--device", "a100-80g",
                         "--dtype", "tf32", "-o", loomrun_path("real.yaml"), NULL);
    if (rc != 0)
        fail_msg("calibrate on %s: exit %d: %s", cap, rc, loomrun_err);
    char text[8192];
    loomrun_slurp(loomrun_path("real.yaml"), text, sizeof text);
    double s = yaml_num(text, "\ncompute-time-scale: ");
    assert_true(s > 0 && s <= 1000);
    /* counted with Python from the Kineto file alone: kernels whose launch
     * (first runtime call of their correlation) lies in an op with Input
     * Dims, the innermost such op being a matrix product of agreeing
     * dims: 386 kernels of 377 ops */
    assert_true(yaml_num(text, "\n  kernels-by-shape: ") == 377);
    if (strstr(loomrun_out, "# 386 kernels of 377 ops fitted") == NULL)
        fail_msg("kernels and ops: %s", loomrun_out);

    snprintf(cap, sizeof cap, "%s/pytorch/linear_kineto.json.gz", FIXTURES); /* no shapes */
    rc = loomrun_run(loomrun_tmp, "calibrate", "--kineto", cap, "--device", "a100-80g", "--dtype",
                     "tf32", "-o", loomrun_path("none.yaml"), NULL);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(loomrun_err, "record_shapes=True"));
    assert_int_equal(access(loomrun_path("none.yaml"), F_OK), -1);

    static const char *const usage[][10] = {
        {"calibrate", "--kineto", "x.json", "-o", "o.yaml", NULL}, /* no device, dtype */
        {"calibrate", "--kineto", "x.json", "--runs", "r.csv", "--device", "a100-80g", "-o", "o.yaml",
         NULL},
        {"calibrate", "--runs", "r.csv", "--dtype", "bf16", "-o", "o.yaml", NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        pid_t pid = loomrun_startv(loomrun_tmp, usage[i]);
        assert_int_equal(loomrun_wait(loomrun_tmp, pid), 2);
    }
    rc = loomrun_run(loomrun_tmp, "calibrate", "--kineto", cap, "--device", "a100-90g", "--dtype",
                     "tf32", "-o", loomrun_path("none.yaml"), NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "--device a100-90g"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovers_scale),
        cmocka_unit_test(test_host_launch),
        cmocka_unit_test(test_real_and_bad),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
