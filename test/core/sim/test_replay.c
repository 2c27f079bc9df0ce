/* Replay (core/sim/replay.c) of tiny traces written here: every expected
 * time is derived by hand from the trace's durations and docs/MODEL.md's
 * formulas, never taken from a previous run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "replay_testutil.h"

static const char net1[] = "topology: [ Ring ]\nnpus_count: [ 1 ]\nbandwidth: [ 1 ]\nlatency: [ 0 ]\n";
/* Ring of 2: B = 1 GB/s = 2^30 B/s, L = 500 ns */
static const char net2[] = "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 1 ]\nlatency: [ 500 ]\n";
/* M = 1000 GB/s = 10^12 B/s; endpoint delay 10 ns by default */
static const char sys[] = "local-mem-bw: 1000\n";

static int run(const char *net, const char *sysf, const char *sets, const char *prefix,
               loom_result *res, loom_err *err)
{
    return replay_run(net, sysf, sets, 0, prefix, res, err);
}

/* Two compute nodes, the second depending on the first: 3 us + 4 us = 7 us,
 * all of it compute. */
static void test_chain(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n[2] = {comp(&b, 1, 3), comp(&b, 2, 4)};
    tb_data(&b, n[1], 1);
    write_rank("chain", 0, n, 2);
    tb_free(&b);
    loom_result res;
    loom_err err;
    if (run(net1, sys, NULL, "chain", &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(res.nranks, 1);
    assert_true(res.step_time == 7 * US);
    assert_true(res.ranks[0].finish == 7 * US);
    assert_true(res.ranks[0].compute == 7 * US);
    assert_true(res.ranks[0].idle == 0);
    assert_true(res.ranks[0].comm == 0);
    assert_true(res.ranks[0].nodes == 2);
    assert_int_equal(res.distinct_graphs, 1);
    assert_true(res.nodes == 2);
    loom_result_free(&res);
}

/* Without a dependency the two kernels still share the one compute
 * stream: 3 + 4 = 7 us.  A CPU operation (is_cpu_op) runs beside them:
 * a 5 us CPU op ends before 7 us, so the finish stays 7 us, with
 * cpu = 5 us. */
static void test_resources(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n[3] = {comp(&b, 1, 3), comp(&b, 2, 4), comp(&b, 3, 5)};
    tb_bool(&b, n[2], "is_cpu_op", 1);
    write_rank("res", 0, n, 3);
    tb_free(&b);
    loom_result res;
    loom_err err;
    if (run(net1, sys, NULL, "res", &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(res.step_time == 7 * US);
    assert_true(res.ranks[0].compute == 7 * US);
    assert_true(res.ranks[0].cpu == 5 * US);
    loom_result_free(&res);
}

/* Roofline: 10^9 FLOPs at peak-perf 1 TFLOP/s take 10^9 / 10^12 s = 1 ms,
 * whatever the trace's 3 us says (its 16 bytes take 16 ps of memory). */
static void test_roofline(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n[1] = {comp(&b, 1, 3)};
    tb_u64(&b, n[0], "num_ops", 1000000000ull);
    tb_u64(&b, n[0], "tensor_size", 16);
    write_rank("roof", 0, n, 1);
    tb_free(&b);
    loom_result res;
    loom_err err;
    if (run(net1, "local-mem-bw: 1000\npeak-perf: 1\ncompute-model: roofline\n", NULL, "roof",
            &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(res.step_time == 1000 * US);
    loom_result_free(&res);
    /* --set picks the model at replay: the same trace under trace is 3 us */
    if (run(net1, "local-mem-bw: 1000\npeak-perf: 1\ncompute-model: roofline\n",
            "system.compute-model=trace", "roof", &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(res.step_time == 3 * US);
    loom_result_free(&res);
}

/* Rank r computes c_r (10 us, 20 us), all-reduces N = 2^20 bytes, then
 * computes 5 us.  On a Ring of 2 with one split (W = 1), docs/MODEL.md 5:
 *   T = 2(p-1)(hL + d) + 2(p-1)/p N/B + (p-1) 3(N/p)/M,  p = 2, h = 1
 *     = 2 (500 + 10) ns + 2^20 / 2^30 s + 3 * 2^19 / 10^12 s
 *     = 1,020,000 + 976,562,500 + 1,572,864 ps = 979,155,364 ps.
 * The transfer starts when the last member joins (20 us) and ends at
 * 20 us + T; each rank then finishes 5 us later.  Rank 0 waits from 10 us:
 * its comm is 10 us + T, all exposed; rank 1's is T. */
static void test_allreduce_ring2(void **state)
{
    (void)state;
    const sim_time T = 979155364;
    for (int r = 0; r < 2; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[3] = {comp(&b, 1, r ? 20 : 10), allreduce(&b, 2, 1u << 20, NULL, 0),
                                      comp(&b, 3, 5)};
        tb_data(&b, n[1], 1);
        tb_data(&b, n[2], 2);
        write_rank("ar", r, n, 3);
        tb_free(&b);
    }
    loom_result res;
    loom_err err;
    if (run(net2, sys, NULL, "ar", &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(res.nranks, 2);
    assert_int_equal(res.distinct_graphs, 2); /* the files differ in c_r */
    assert_true(res.step_time == 25 * US + T);
    assert_int_equal(res.ncolls, 1);
    const loom_coll_record *c = &res.colls[0];
    assert_int_equal(c->type, ET_ALL_REDUCE);
    assert_true(c->bytes == 1u << 20);
    assert_int_equal(c->nranks, 2);
    assert_string_equal(c->group, "");
    assert_true(c->first_join == 10 * US);
    assert_true(c->start == 20 * US);
    assert_true(c->end == 20 * US + T);
    assert_true(c->exposed == ((10 * US + T) + T) / 2); /* mean over members */
    assert_string_equal(c->algo, "ring@0");
    assert_int_equal(res.nalgos, 1); /* the label is the result's one copy */
    assert_ptr_equal(c->algo, res.algos[0]);
    for (int r = 0; r < 2; r++) {
        const loom_rank_stats *s = &res.ranks[r];
        sim_time wait = r ? 0 : 10 * US;
        assert_true(s->finish == 25 * US + T);
        assert_true(s->compute == (r ? 25 : 15) * US);
        assert_true(s->comm == wait + T);
        assert_true(s->exposed_comm == wait + T);
        assert_true(s->overlapped_comm == 0);
        assert_true(s->idle == 0);
        assert_true(s->nodes == 3);
    }
    loom_result_free(&res);
}

/* Rank 1 never issues the all-reduce rank 0 waits on: a stuck run, not a
 * silent zero; the message names the node and the missing rank. */
static void test_stuck(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n0[1] = {allreduce(&b, 7, 64, NULL, 0)};
    write_rank("stuck", 0, n0, 1);
    ChakraProtoMsg__Node *n1[1] = {comp(&b, 1, 1)};
    write_rank("stuck", 1, n1, 1);
    tb_free(&b);
    loom_result res;
    loom_err err;
    assert_int_equal(run(net2, sys, NULL, "stuck", &res, &err), LOOM_ESIM);
    if (!strstr(err.msg, "1 of 2 ranks cannot finish") || !strstr(err.msg, "node 7 'ar'") ||
        !strstr(err.msg, "waits for ranks 1 that never issue it"))
        fail_msg("%s", err.msg);
}

/* A workload with fewer rank files than the network has NPUs is refused,
 * naming the missing file. */
static void test_missing_rank(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n[1] = {comp(&b, 1, 1)};
    write_rank("one", 0, n, 1);
    tb_free(&b);
    loom_result res;
    loom_err err;
    assert_int_equal(run(net2, sys, NULL, "one", &res, &err), LOOM_ETRACE);
    if (!strstr(err.msg, "one.1.et") || !strstr(err.msg, "missing rank file"))
        fail_msg("%s", err.msg);
}

/* Identical rank files share one parsed graph, and so do hard links. */
static void test_sharing(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n[1] = {comp(&b, 1, 2)};
    write_rank("same", 0, n, 1);
    write_rank("same", 1, n, 1);
    tb_free(&b);
    loom_result res;
    loom_err err;
    if (run(net2, sys, NULL, "same", &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(res.distinct_graphs, 1);
    assert_true(res.step_time == 2 * US);
    loom_result_free(&res);
}

/* A node's unmet dependencies fit its 16-bit word up to PS_DIRECT_MAX
 * (16,382); above, its count lives beside (replay_int.h).  D = 16,383
 * roots of 1 us, node A on the first 16,382 (the word's most), node B on
 * all D (one more: counted beside), node C on A and B; 2, 3 and 4 us.  On
 * the one compute stream in id order: the roots end at D us, A at D + 2,
 * B at D + 5, C at D + 9 = 16,392 us.  Three ranks replay the file, every
 * rank replayed (no collapse), so each has its own count of B's
 * dependencies: one shared or misplaced would make B ready too early (and
 * fail the count's check) or never. */
static void test_many_deps(void **state)
{
    (void)state;
    enum { D = 16383 };
    tb b = {0};
    ChakraProtoMsg__Node **n = malloc((D + 3) * sizeof *n);
    assert_non_null(n);
    for (uint64_t i = 0; i < D; i++)
        n[i] = comp(&b, i + 1, 1);
    n[D] = comp(&b, D + 1, 2);
    n[D + 1] = comp(&b, D + 2, 3);
    n[D + 2] = comp(&b, D + 3, 4);
    for (uint64_t i = 1; i <= D; i++) {
        if (i < D)
            tb_data(&b, n[D], i);
        tb_data(&b, n[D + 1], i);
    }
    tb_data(&b, n[D + 2], D + 1);
    tb_data(&b, n[D + 2], D + 2);
    for (int r = 0; r < 3; r++)
        write_rank("deps", r, n, D + 3);
    tb_free(&b);
    free(n);
    static const char net3[] = "topology: [ Ring ]\nnpus_count: [ 3 ]\nbandwidth: [ 1 ]\n"
                               "latency: [ 500 ]\n";
    loom_cfg cfg;
    loom_err err = {0};
    if (st_load(&cfg, net3, sys, NULL, 0, &err) < 0)
        fail_msg("%s", err.msg);
    char pre[512];
    snprintf(pre, sizeof pre, "%s", st_path("deps"));
    loom_replay_opts o = {.prefix = pre, .no_collapse = LOOM_COLLAPSE_OFF};
    loom_result res;
    if (loom_replay(&cfg, &o, &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(res.nranks, 3);
    assert_true(res.step_time == (D + 9) * US);
    for (int r = 0; r < 3; r++)
        assert_true(res.ranks[r].finish == (D + 9) * US);
    loom_result_free(&res);
    loom_cfg_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_roofline),
        cmocka_unit_test(test_allreduce_ring2),
        cmocka_unit_test(test_stuck),
        cmocka_unit_test(test_missing_rank),
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_many_deps),
    };
    loom_set_quiet(1);
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}
