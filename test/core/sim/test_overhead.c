/* The step overhead (system key step-overhead-us, or a stack profile's:
 * docs/VALIDATION.md "Stack profiles"): time each rank spends after its
 * last node, outside the trace, added to every finish and so to the step.
 * Every expected time is worked out from the durations in the trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replay_testutil.h"
#include "report.h"

static const char net2[] = "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 1 ]\nlatency: [ 0 ]\n";

/* Rank 0: kernels of 10 and 20 us in a chain (30 us); rank 1: one of 50 us. */
static void two_ranks(const char *prefix)
{
    tb b = {0};
    ChakraProtoMsg__Node *n[2] = {comp(&b, 1, 10), comp(&b, 2, 20)};
    tb_data(&b, n[1], 1);
    write_rank(prefix, 0, n, 2);
    ChakraProtoMsg__Node *m[1] = {comp(&b, 1, 50)};
    write_rank(prefix, 1, m, 1);
    tb_free(&b);
}

static void replay(const char *sysf, loom_cfg *cfg, loom_result *res)
{
    loom_err err;
    if (st_load(cfg, net2, sysf, NULL, 0, &err) < 0)
        fail_msg("%s", err.msg);
    char pre[512];
    snprintf(pre, sizeof pre, "%s", st_path("ov"));
    loom_replay_opts o = {.prefix = pre, .max_stuck = 8};
    memset(&err, 0, sizeof err);
    if (loom_replay(cfg, &o, res, &err) < 0)
        fail_msg("%s", err.msg);
}

/* 100 us a step: rank 0 finishes at 30 + 100 = 130 us, rank 1 at 50 + 100
 * = 150 us, the step is 150 us (50 us without); compute 30 and 50 us and
 * no idle time either way (the overhead is not the GPU's). */
static void test_finish_and_step(void **state)
{
    (void)state;
    two_ranks("ov");
    static const char *const sys[2] = {"local-mem-bw: 1000\n",
                                       "local-mem-bw: 1000\nstep-overhead-us: 100\n"};
    for (int k = 0; k < 2; k++) {
        loom_cfg cfg;
        loom_result res;
        replay(sys[k], &cfg, &res);
        sim_time ov = k ? 100 * US : 0;
        assert_int_equal(cfg.step_overhead, ov);
        assert_int_equal(res.ranks[0].finish, 30 * US + ov);
        assert_int_equal(res.ranks[1].finish, 50 * US + ov);
        assert_int_equal(res.step_time, 50 * US + ov);
        assert_int_equal(res.ranks[0].compute, 30 * US);
        assert_int_equal(res.ranks[1].compute, 50 * US);
        assert_int_equal(res.ranks[0].idle, 0);
        assert_int_equal(res.ranks[1].idle, 0);
        loom_result_free(&res);
        loom_cfg_free(&cfg);
    }
}

/* The text report says it in one line, the JSON in step_overhead_us; both
 * are absent without it. */
static void test_report(void **state)
{
    (void)state;
    two_ranks("ov");
    loom_cfg cfg;
    loom_result res;
    replay("local-mem-bw: 1000\nstep-overhead-us: 100\n", &cfg, &res);
    loom_run_info info = {"w", "n.yml", "s.yaml", NULL};
    char *buf = text_report(&cfg, &res);
    assert_non_null(strstr(buf, "overhead   100.0 us a step after each rank's last node"));
    assert_non_null(strstr(buf, "step time  150.000 us"));
    free(buf);
    loom_err err;
    assert_int_equal(loom_report_json(st_path("ov.json"), &info, &cfg, &res, 0, &err), 0);
    char *j = st_slurp(st_path("ov.json"));
    assert_non_null(strstr(j, "\"step_overhead_us\": 100"));
    free(j);
    loom_result_free(&res);
    loom_cfg_free(&cfg);
    replay("local-mem-bw: 1000\n", &cfg, &res);
    assert_int_equal(loom_report_json(st_path("ov0.json"), &info, &cfg, &res, 0, &err), 0);
    j = st_slurp(st_path("ov0.json"));
    assert_null(strstr(j, "step_overhead"));
    free(j);
    loom_result_free(&res);
    loom_cfg_free(&cfg);
}

static sim_time overhead_of(const loom_cfg *c) { return c->step_overhead; }

/* A stack profile's step-overhead-us (replay_testutil.h's rule); a bad
 * value in the system file names it and the key. */
static void test_profile_and_key(void **state)
{
    (void)state;
    stack_time_key_check(net2, "step-overhead-us", overhead_of);
    static const char *const badsys[] = {"local-mem-bw: 1000\nstep-overhead-us: -1\n",
                                         "local-mem-bw: 1000\nstep-overhead-us: slow\n"};
    for (int i = 0; i < 2; i++) {
        loom_cfg cfg;
        loom_err err;
        assert_int_equal(st_load(&cfg, net2, badsys[i], NULL, 0, &err), LOOM_EUSAGE);
        assert_non_null(strstr(err.msg, "sys.yaml"));
        assert_non_null(strstr(err.msg, "step-overhead-us"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finish_and_step),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_profile_and_key),
    };
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}
