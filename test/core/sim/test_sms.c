/* Communication beside compute (core/sim/replay_sms.c, the system key
 * comm-sms, a collective's comm_sms attribute).  Two ranks each run one
 * GEMM (8192 x 8192 x 8192, bf16, on an H100 under the kernel model) and,
 * from 2 us (after a delay), an all-reduce whose measured time is 1 ms
 * (comm-model: captured, so the network plays no part).  t_f is the GEMM's
 * time on every SM and t_c its time beside the collective's SMs, both
 * from compute/'s comp_time (test_comp_kernel checks those by hand).  The
 * replay keeps the fraction of the GEMM done at each rate (2 us at t_f,
 * then 1,000 us at t_c, then the rest at t_f): at each change the time
 * left is scaled by t_new / t_old, so it ends at
 *     e1 = 2 us + round((t_f - 2 us) x (t_c / t_f))
 *     end = 1002 us + round((e1 - 1002 us) x (t_f / t_c))
 * = 1002 us + (1 - 2 us / t_f - 1000 us / t_c) t_f to a picosecond or two,
 * each step rounded as replay_sms.c rounds it.  test_host_waits: the same
 * with the host model's launch waits inside a node. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replay_testutil.h"

static const char net2[] = "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 100 ]\n"
                           "latency: [ 500 ]\n";
static const char sys_base[] = "device: h100-sxm\ncompute-model: kernel\ncompute-dtype: bf16\n"
                               "comm-model: captured\n";

enum { G = 8192 };

/* The time of a d x d x d GEMM with `held` SMs held beside it, as the
 * replay prices it. */
static sim_time gemm_of(const char *sysf, uint32_t held, uint64_t d)
{
    loom_cfg cfg;
    loom_err err;
    if (st_load(&cfg, net2, sysf, NULL, 0, &err) < 0)
        fail_msg("%s", err.msg);
    loom_kshape s = {.cls = LOOM_K_GEMM, .m = (uint32_t)d, .n = (uint32_t)d, .k = (uint32_t)d,
                     .batch = 1};
    comp_kernel k = {.num_ops = 2 * d * d * d, .tensor_size = 3 * d * d * 2, .has_ops = 1,
                     .shape = &s, .busy_sms = held};
    sim_time t = comp_time(&cfg.comp, &k, NULL);
    loom_cfg_free(&cfg);
    return t;
}

static sim_time gemm_time(const char *sysf, uint32_t held) { return gemm_of(sysf, held, G); }

/* Each rank: node 1 the GEMM (from 0, or after the delay when `late`),
 * node 2 a 2 us delay, node 3 the all-reduce after it (measured 1 ms),
 * with comm_sms `attr` when >= 0. */
static void write_job(const char *prefix, int late, int attr)
{
    for (int r = 0; r < 2; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[3] = {tb_node(&b, 1, ET_COMP_NODE, "gemm"),
                                      tb_node(&b, 2, ET_COMP_NODE, "loom:wait"),
                                      allreduce(&b, 3, 1 << 20, NULL, 1000000)};
        tb_u64(&b, n[0], "num_ops", 2ULL * G * G * G);
        tb_u64(&b, n[0], "tensor_size", 3ULL * G * G * 2);
        tb_u64(&b, n[0], "gemm_m", G);
        tb_u64(&b, n[0], "gemm_n", G);
        tb_u64(&b, n[0], "gemm_k", G);
        if (late)
            tb_data(&b, n[0], 2);
        tb_bool(&b, n[1], "is_delay", 1);
        tb_u64(&b, n[1], "duration_ns", 2000);
        tb_data(&b, n[2], 2);
        if (attr >= 0)
            tb_i64(&b, n[2], "comm_sms", attr);
        write_rank(prefix, r, n, 3);
        tb_free(&b);
    }
}

/* What the last step_of reported besides the step: the compute time the
 * collectives' SMs added over all ranks, and the text report's line. */
static sim_time last_stretch;
static char last_line[256];

/* The step of the job at prefix (every rank completing its n nodes). */
static sim_time step_of(const char *sysf, const char *prefix, int collapse_off, uint64_t n)
{
    loom_cfg cfg;
    loom_err err;
    if (st_load(&cfg, net2, sysf, NULL, 0, &err) < 0)
        fail_msg("%s", err.msg);
    char pre[512];
    snprintf(pre, sizeof pre, "%s", st_path(prefix));
    loom_replay_opts o = {.prefix = pre, .no_collapse = collapse_off ? LOOM_COLLAPSE_OFF : 0};
    loom_result res;
    if (loom_replay(&cfg, &o, &res, &err) < 0)
        fail_msg("%s", err.msg);
    sim_time t = res.step_time;
    assert_int_equal(res.ranks[0].nodes, n);
    assert_int_equal(res.roofline_fallbacks, 0);
    last_stretch = res.sms_timed ? res.sms_stretch : -1;
    char *report = text_report(&cfg, &res);
    char *text = strdup(report); /* (gcc takes report for text_report's local) */
    free(report);
    const char *l = strstr(text, "comm SMs");
    snprintf(last_line, sizeof last_line, "%.*s", l ? (int)strcspn(l, "\n") : 0, l ? l : "");
    free(text);
    loom_result_free(&res);
    loom_cfg_free(&cfg);
    return t;
}

/* The time left at `now` of a node due at `due`, scaled from t_old to t_new. */
static sim_time rescale(sim_time now, sim_time due, sim_time t_old, sim_time t_new)
{
    return now + llround((double)(due - now) * ((double)t_new / (double)t_old));
}

/* The GEMM started at `at` (0 or 2 us, at t_f), the collective over
 * [2 us, 1002 us] at t_c. */
static sim_time expect(sim_time tf, sim_time tc, sim_time at)
{
    sim_time e1 = rescale(2 * US, at + tf, tf, tc);
    return rescale(1002 * US, e1, tc, tf);
}

static void test_gemm_beside_collective(void **state)
{
    (void)state;
    char sys16[256], sys0[256];
    snprintf(sys16, sizeof sys16, "%scomm-sms: 16\n", sys_base);
    snprintf(sys0, sizeof sys0, "%scomm-sms: 0\n", sys_base);
    sim_time tf = gemm_time(sys16, 0), tc = gemm_time(sys16, 16);
    /* not vacuous: the GEMM outlasts the collective at either rate, and is
     * slower beside it (on 132 - 16 of 132 SMs) */
    assert_true(tf > 1002 * US && tc > tf);
    write_job("early", 0, -1);
    sim_time want = expect(tf, tc, 0);
    double exact = 1002.0 * US + (1 - 2.0 * US / tf - 1000.0 * US / tc) * tf;
    assert_true(fabs((double)want - exact) < 4);
    assert_true(step_of(sys16, "early", 0, 3) == want);
    /* the report: each rank's GEMM took want - t_f longer (its share of
     * the rank's compute, want) */
    assert_true(last_stretch == 2 * (want - tf));
    char line[256];
    snprintf(line, sizeof line, "comm SMs   16 SMs a collective in flight (comm-sms, or its "
             "comm_sms): compute %.3f us longer a rank, %.1f%% of its compute",
             (double)(want - tf) / US, 100.0 * (double)(want - tf) / (double)want);
    assert_string_equal(last_line, line);
    assert_true(step_of(sys16, "early", 1, 3) == want); /* collapse or not */
    assert_true(last_stretch == 2 * (want - tf));
    assert_true(want > tf && want < tc);
    /* comm-sms 0 (or absent): the GEMM alone, t_f; no line */
    assert_true(step_of(sys0, "early", 0, 3) == tf);
    assert_true(last_stretch == -1 && last_line[0] == 0);
    assert_true(step_of(sys_base, "early", 0, 3) == tf);
    /* a GEMM that starts with the collective: priced beside it at once
     * (the rank starts its nodes in id order: the GEMM, then the
     * collective that re-times it from no progress), ends 2 us + 1,000 us
     * at t_c, then the rest at t_f */
    write_job("late", 1, -1);
    sim_time late = expect(tf, tc, 2 * US);
    assert_true(step_of(sys16, "late", 0, 3) == late);
    assert_true(last_stretch == 2 * (late - 2 * US - tf));
    assert_true(step_of(sys16, "late", 1, 3) == late);
}

/* A collective's comm_sms attribute wins over the system's comm-sms:
 * 0 (a copy-engine transfer) holds none, so the GEMM takes t_f; 40 with
 * comm-sms 0 holds 40 SMs.  Under the roofline model SMs change nothing. */
static void test_attribute_and_models(void **state)
{
    (void)state;
    char sys16[256], roof[256];
    snprintf(sys16, sizeof sys16, "%scomm-sms: 16\n", sys_base);
    snprintf(roof, sizeof roof, "device: h100-sxm\ncompute-model: roofline\ncompute-dtype: bf16\n"
                                "comm-model: captured\ncomm-sms: 16\n");
    sim_time tf = gemm_time(sys16, 0), t40 = gemm_time(sys16, 40);
    write_job("none", 0, 0);
    assert_true(step_of(sys16, "none", 0, 3) == tf);
    write_job("forty", 0, 40);
    assert_true(t40 > gemm_time(sys16, 16));
    sim_time f40 = expect(tf, t40, 0);
    assert_true(step_of(sys_base, "forty", 0, 3) == f40);
    /* without the key the report says where the SMs come from */
    char line[256];
    snprintf(line, sizeof line, "comm SMs   SMs as each collective's comm_sms says (comm-sms, or "
             "its comm_sms): compute %.3f us longer a rank, %.1f%% of its compute",
             (double)(f40 - tf) / US, 100.0 * (double)(f40 - tf) / (double)f40);
    assert_string_equal(last_line, line);
    write_job("roof", 0, -1);
    assert_true(step_of(roof, "roof", 0, 3) == gemm_time(roof, 0));
}

/* With the host model (host-launch-us h = 1 ms): each rank issues node 1,
 * an all-reduce measured at 2.5 ms, then node 2, a fused node of two
 * GEMMs of 6144^3 (g_f alone, g_c beside 16 SMs held, each).  Launches
 * in id order: the all-reduce's ends at h, so it runs over [1, 3.5] ms;
 * the fused node's two end at 2h and 3h, so it starts at 2 ms, beside
 * the collective, priced d = 2 g_c, and ends at max(2 ms + d, 3h + d / 2)
 * (docs/MODEL.md 12, the host) = 3 ms + g_c: its time h + g_c holds a
 * launch wait of h - g_c.  At 3.5 ms the collective ends and the time
 * left is scaled by (2 g_f + wait) / (2 g_c + wait), the wait unchanged. */
static void test_host_waits(void **state)
{
    (void)state;
    enum { H = 6144 };
    char sysf[256];
    snprintf(sysf, sizeof sysf, "%scomm-sms: 16\nhost-launch-us: 1000\n", sys_base);
    sim_time gf = gemm_of(sysf, 0, H), gc = gemm_of(sysf, 16, H);
    /* the case above: one launch wait inside the node, the re-timing
     * before its end */
    assert_true(gc < 1000 * US && 2 * gc > 1000 * US && gc > gf);
    for (int r = 0; r < 2; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[2] = {allreduce(&b, 1, 1 << 20, NULL, 2500000),
                                      tb_node(&b, 2, ET_COMP_NODE, "gemms")};
        const int64_t kw[2] = {2LL * H * H * H, 2LL * H * H * H};
        const int64_t kb[2] = {3LL * H * H * 2, 3LL * H * H * 2};
        const int64_t sh[12] = {LOOM_K_GEMM, H, H, H, 1, 0, LOOM_K_GEMM, H, H, H, 1, 0};
        tb_i64s(&b, n[1], "kernel_flops", kw, 2);
        tb_i64s(&b, n[1], "kernel_bytes", kb, 2);
        tb_i64s(&b, n[1], "kernel_shape", sh, 12);
        write_rank("host", r, n, 2);
        tb_free(&b);
    }
    sim_time wait = 1000 * US - gc, due = 3000 * US + gc;
    sim_time want = rescale(3500 * US, due, 2 * gc + wait, 2 * gf + wait);
    assert_true(step_of(sysf, "host", 0, 2) == want);
    assert_true(step_of(sysf, "host", 1, 2) == want);
}

/* The system key's range: 0 .. 255, an integer. */
static void test_key(void **state)
{
    (void)state;
    loom_cfg cfg;
    loom_err err;
    char s[256];
    snprintf(s, sizeof s, "%scomm-sms: 256\n", sys_base);
    assert_int_equal(st_load(&cfg, net2, s, NULL, 0, &err), LOOM_EUSAGE);
    if (!strstr(err.msg, "comm-sms"))
        fail_msg("%s", err.msg);
    snprintf(s, sizeof s, "%scomm-sms: 24\n", sys_base);
    if (st_load(&cfg, net2, s, NULL, 0, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg.comm_sms, 24);
    loom_cfg_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_beside_collective),
        cmocka_unit_test(test_attribute_and_models),
        cmocka_unit_test(test_host_waits),
        cmocka_unit_test(test_key),
    };
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}
