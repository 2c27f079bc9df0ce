/* The system file's device and compute-model keys (docs/CONFIG.md), read
 * through loom_cfg_load: device figures, curve overrides, per-rank devices,
 * stragglers, the kernel table, the comm-group file named by the system
 * file, and every error a key can raise. */
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

#include "config.h"

static char dir[64];

static const char *path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const char *text)
{
    FILE *f = fopen(path(name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/loom_sysconfXXXXXX");
    assert_non_null(mkdtemp(dir));
    put("net.yml", "topology: [ Switch ]\nnpus_count: [ 8 ]\nbandwidth: [ 100 ]\nlatency: [ 1000 ]\n");
    setenv("XDG_CONFIG_HOME", "/nonexistent-loom-test", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static int load(loom_cfg *cfg, const char *sys_text, loom_err *err)
{
    put("sys.yaml", sys_text);
    char net[256], sys[256];
    snprintf(net, sizeof net, "%s", path("net.yml"));
    snprintf(sys, sizeof sys, "%s", path("sys.yaml"));
    loom_cfg_files f = {.network = net, .system = sys};
    memset(err, 0, sizeof *err);
    return loom_cfg_load(cfg, &f, err);
}

static void near(double got, double want)
{
    if (fabs(got - want) > 1e-9 * fabs(want))
        fail_msg("got %.17g, want %.17g", got, want);
}

static void test_device(void **state)
{
    (void)state;
    loom_cfg cfg;
    loom_err err;
    if (load(&cfg, "device: h100-sxm\ncompute-model: roofline\n", &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg.comp.kind, COMP_ROOFLINE);
    near(cfg.comp.peak_flops, 989.5e12);       /* bf16 by default */
    near(cfg.comp.mem_bw, 3350e9);
    near(cfg.sys.local_mem_bw, 3350e9);        /* reductions at HBM speed */
    near(cfg.comp.matrix.eff, 0.801);
    near(cfg.comp.matrix.half, 4e-6 * 989.5e12 * 0.801);
    assert_null(cfg.rank_comp);
    assert_true(loom_cfg_comp(&cfg, 3) == &cfg.comp);
    loom_cfg_free(&cfg);
    /* explicit keys win over the device; fp8; curve overrides */
    if (load(&cfg, "device: h100-sxm\ncompute-model: roofline\ncompute-dtype: fp8\n"
                   "local-mem-bw: 1000\ncompute-matrix-efficiency: 0.5\n"
                   "compute-memory-overhead-us: 0\n", &err) < 0)
        fail_msg("%s", err.msg);
    near(cfg.comp.peak_flops, 1979e12);
    near(cfg.comp.mem_bw, 1000e9);
    near(cfg.sys.local_mem_bw, 1000e9);
    near(cfg.comp.matrix.eff, 0.5);
    near(cfg.comp.matrix.half, 4e-6 * 1979e12 * 0.5); /* the device's overhead kept */
    near(cfg.comp.memory.eff, 0.9);
    assert_true(cfg.comp.memory.half == 0);
    loom_cfg_free(&cfg);
    /* the kernel model: the device's SMs and tiles, the shipped constants */
    if (load(&cfg, "device: a100-80g\ncompute-model: kernel\n", &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg.comp.kind, COMP_KERNEL);
    assert_int_equal(cfg.comp.kp.sms, 108);
    assert_int_equal(cfg.comp.kp.ntiles, 3);
    /* the GEMM efficiency times the A100's gemm-efficiency-scale (its MAMF
     * fraction over the H200's, 0.859 / 0.803) */
    near(cfg.comp.kp.gemm_eff, comp_kparams_default().gemm_eff * 1.070);
    near(cfg.comp.peak_flops, 312e12);
    assert_int_equal(cfg.comp.kp.attn_kind, COMP_ATTN_FLASH2);
    near(cfg.comp.kp.attn_eff, 0.31);
    loom_cfg_free(&cfg);
    /* attention-kernel: cudnn takes that family's fitted figures
     * (compute/comp_kernel.c), on every rank's device */
    if (load(&cfg, "device: h100-sxm\ncompute-model: kernel\nattention-kernel: cudnn\n"
                   "rank-devices: {h200: \"1\"}\n", &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg.comp.kp.attn_kind, COMP_ATTN_CUDNN);
    near(cfg.comp.kp.attn_eff, 0.66);
    near(cfg.comp.kp.attn_bwd_eff, 0.47);
    near(cfg.comp.kp.attn_launch, 32e-6);
    assert_non_null(cfg.rank_comp);
    near(cfg.rank_comp[1].kp.attn_eff, 0.66);
    loom_cfg_free(&cfg);
    /* with another compute model the key is a note, not an error */
    if (load(&cfg, "device: h100-sxm\ncompute-model: roofline\nattention-kernel: cudnn\n", &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(cfg.nnotes >= 1);
    assert_non_null(strstr(cfg.notes[cfg.nnotes - 1], "attention-kernel cudnn prices attention in "
                                                      "the kernel compute model only"));
    loom_cfg_free(&cfg);
    /* a plain roofline with an overhead and no device */
    if (load(&cfg, "local-mem-bw: 100\npeak-perf: 10\ncompute-model: roofline\n"
                   "compute-matrix-overhead-us: 2\n", &err) < 0)
        fail_msg("%s", err.msg);
    near(cfg.comp.matrix.eff, 1);
    near(cfg.comp.matrix.half, 2e-6 * 10e12);
    loom_cfg_free(&cfg);
}

static void test_rank_devices_and_stragglers(void **state)
{
    (void)state;
    loom_cfg cfg;
    loom_err err;
    if (load(&cfg, "device: a100-80g\ncompute-model: roofline\n"
                   "rank-devices: {h100-sxm: \"4-7\"}\nstraggler: {\"3\": 1.5, \"6-7\": 2}\n",
             &err) < 0)
        fail_msg("%s", err.msg);
    assert_non_null(cfg.rank_comp);
    assert_int_equal(cfg.nrank_comp, 8);
    for (int r = 0; r < 8; r++) {
        const comp_cfg *c = loom_cfg_comp(&cfg, r);
        near(c->peak_flops, r >= 4 ? 989.5e12 : 312e12);
        double want = r == 3 ? 1.5 : r >= 6 ? 2 : 0;
        assert_true(c->slowdown == want);
        assert_int_equal(c->kind, COMP_ROOFLINE);
    }
    loom_cfg_free(&cfg);
    /* a list of ranks works too */
    if (load(&cfg, "local-mem-bw: 100\nstraggler: {\"0,2\": 1.25}\n", &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(cfg.rank_comp[0].slowdown == 1.25 && cfg.rank_comp[1].slowdown == 0 &&
                cfg.rank_comp[2].slowdown == 1.25);
    loom_cfg_free(&cfg);
    /* entries apply in file order, a later one over an earlier (a key is
     * text: a list as a key is refused, core/base/yamlio) */
    if (load(&cfg, "local-mem-bw: 100\nstraggler: {\"0-5\": 1.5, \"2,4\": 3, \"4\": 2}\n",
             &err) < 0)
        fail_msg("%s", err.msg);
    static const double want[8] = {1.5, 1.5, 3, 1.5, 2, 1.5, 0, 0};
    for (int r = 0; r < 8; r++)
        assert_true(cfg.rank_comp[r].slowdown == want[r]);
    loom_cfg_free(&cfg);
}

static void test_table_and_groups(void **state)
{
    (void)state;
    put("k.csv", "kernel,flops,bytes,time_us\n*,1000,0,5\n");
    put("g.json", "{\"a\": [0, 1], \"b\": [2, 3]}");
    loom_cfg cfg;
    loom_err err;
    if (load(&cfg, "local-mem-bw: 100\ncompute-model: table\ncompute-table: k.csv\n"
                   "comm-group: g.json\n", &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg.comp.kind, COMP_TABLE);
    assert_non_null(cfg.comp.table);
    comp_kernel k = {.num_ops = 2000, .has_ops = 1};
    assert_int_equal(comp_time(&cfg.comp, &k, NULL), 10 * SIM_PS_PER_US); /* 5 us x 2000/1000 */
    assert_int_equal(cfg.ngroups, 2);
    assert_non_null(loom_cfg_group(&cfg, "b"));
    loom_cfg_free(&cfg);
}

static void expect(const char *sys, const char *needle)
{
    loom_cfg cfg;
    loom_err err;
    int rc = load(&cfg, sys, &err);
    if (rc != LOOM_EUSAGE || strstr(err.msg, needle) == NULL)
        fail_msg("system '%s': expected an error with '%s', got %d '%s'", sys, needle, rc, err.msg);
}

static void test_errors(void **state)
{
    (void)state;
    expect("device: tpu-v9\n", "device 'tpu-v9' is not in the catalog");
    expect("device: a100-40g\ncompute-dtype: fp8\n", "no fp8");
    expect("device: a100-40g\ncompute-dtype: int4\n", "'compute-dtype'");
    expect("device: a100-40g\ncompute-model: magic\n", "'compute-model'");
    expect("device: a100-40g\nattention-kernel: fa3\n", "'attention-kernel'");
    expect("local-mem-bw: 1\ncompute-model: roofline\n", "needs 'peak-perf' (TFLOP/s) or a 'device'");
    expect("local-mem-bw: 1\ncompute-model: table\n", "needs 'compute-table'");
    expect("local-mem-bw: 1\ncompute-table: x.csv\n", "'compute-model' is not table");
    expect("local-mem-bw: 1\ncompute-model: table\ncompute-table: missing.csv\n", "missing.csv");
    expect("device: a100-40g\nroofline-enabled: 0\ncompute-model: roofline\n", "contradicts");
    expect("local-mem-bw: 1\npeak-perf: 10\ncompute-model: kernel\n",
           "'compute-model: kernel' needs a 'device' whose catalog entry has sms");
    expect("device: a100-40g\nroofline-enabled: 1\ncompute-model: kernel\n", "contradicts");
    expect("device: a100-40g\ncompute-matrix-efficiency: 1.5\n", "'compute-matrix-efficiency'");
    expect("device: a100-40g\ncompute-memory-overhead-us: -1\n", "'compute-memory-overhead-us'");
    expect("device: a100-40g\nstraggler: {\"9\": 2}\n", "rank 9 is out of range");
    expect("device: a100-40g\nstraggler: {\"1\": 0}\n", "'straggler'");
    expect("device: a100-40g\nstraggler: {\"1-x\": 2}\n", "is not a rank list");
    expect("device: a100-40g\nstraggler: 2\n", "expected a mapping of ranks");
    expect("device: a100-40g\nrank-devices: {nope: \"0\"}\n", "device 'nope' is not in the catalog");
    expect("local-mem-bw: 1\ndevice-file: d.yaml\n", "no 'device' or 'rank-devices'");
    expect("device: a100-40g\ndevice-file: nothere.yaml\n", "nothere.yaml");
    expect("local-mem-bw: 1\ncomm-group: nothere.json\n", "nothere.json");
    expect("compute-model: trace\n", "missing key 'local-mem-bw'");
    expect("device: a100-40g\ndevice: h200\n", "appears twice");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device),
        cmocka_unit_test(test_rank_devices_and_stragglers),
        cmocka_unit_test(test_table_and_groups),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
