/* Symmetry collapse (core/sim/replay_sym.c, docs/MODEL.md 13): ranks that
 * replay alike are replayed once, and the results are those of replaying
 * every rank.  Each case runs both ways and compares every per-rank figure
 * and every collective kind; the expected classes and times are worked out
 * in the comment above each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report_int.h"
#include "replay_testutil.h"

/* 8 ranks on one switch: 100 GB/s (2^30 B/s), 1 us per hop */
static const char net8[] = "topology: [ Switch ]\nnpus_count: [ 8 ]\nbandwidth: [ 100 ]\nlatency: [ 1000 ]\n";

static ChakraProtoMsg__Node *p2p(tb *b, uint64_t id, int send, const char *pg, int peer,
                                 uint64_t bytes)
{
    ChakraProtoMsg__Node *n = tb_node(b, id, send ? ET_COMM_SEND_NODE : ET_COMM_RECV_NODE, "m");
    tb_i64(b, n, send ? "comm_dst" : "comm_src", peer);
    tb_i64(b, n, "comm_tag", 7);
    tb_u64(b, n, "comm_size", bytes);
    tb_str(b, n, "pg_name", pg);
    return n;
}

/* Replays the scratch folder's prefix on net and sysf, every rank
 * (`--no-collapse`) or not; loom_replay's status. */
static int replay_mode(const char *net, const char *sysf, const char *prefix, int every,
                       loom_result *res, loom_err *err)
{
    loom_cfg cfg;
    if (st_load(&cfg, net, sysf, NULL, 0, err) < 0)
        fail_msg("%s", err->msg);
    char pre[512];
    snprintf(pre, sizeof pre, "%s", st_path(prefix));
    loom_replay_opts o = {.prefix = pre, .max_stuck = 8, .no_collapse = every ? LOOM_COLLAPSE_OFF : 0};
    memset(err, 0, sizeof *err);
    int rc = loom_replay(&cfg, &o, res, err);
    loom_cfg_free(&cfg);
    return rc;
}

/* Replays prefix both ways; checks that they agree figure by figure and
 * returns the collapsed result (the caller frees it). */
static loom_result both(const char *sysf, const char *prefix, int expect_simulated)
{
    loom_result r[2];
    for (int k = 0; k < 2; k++) {
        loom_err err;
        if (replay_mode(net8, sysf, prefix, k, &r[k], &err) < 0)
            fail_msg("%s", err.msg);
    }
    assert_int_equal(r[0].simulated_ranks, expect_simulated);
    assert_int_equal(r[1].simulated_ranks, 8);
    assert_string_equal(r[1].collapse_off, "--no-collapse");
    assert_true(r[0].step_time == r[1].step_time);
    assert_memory_equal(r[0].ranks, r[1].ranks, 8 * sizeof *r[0].ranks);
    assert_true(r[0].nodes == r[1].nodes);
    assert_true(r[0].p2p_messages == r[1].p2p_messages);
    rpt_kind *k0, *k1;
    size_t n0 = rpt_coll_kinds(&r[0], &k0), n1 = rpt_coll_kinds(&r[1], &k1);
    assert_int_equal(n0, n1);
    for (size_t i = 0; i < n0; i++) {
        assert_true(k0[i].count == k1[i].count && k0[i].total == k1[i].total);
        assert_true(k0[i].exposed == k1[i].exposed && k0[i].nranks == k1[i].nranks);
        assert_memory_equal(&k0[i].time, &k1[i].time, sizeof k0[i].time);
    }
    free(k0);
    free(k1);
    loom_result_free(&r[1]);
    return r[0];
}

/* One file for all 8 ranks: 10 us of compute, an all-reduce of 1 MiB on
 * the tensor-parallel pair {stride 1, size 2}, 5 us of compute.  Every rank
 * is alike: one is replayed, its all-reduce stands for the four pairs'
 * (count 4), and each rank finishes at 10 us + T + 5 us, T the pair's
 * all-reduce time. */
static void test_sym_pairs(void **state)
{
    (void)state;
    st_put("pairs.json", "{\"tp\": {\"stride\": 1, \"size\": 2}}\n");
    char sysf[600];
    snprintf(sysf, sizeof sysf, "local-mem-bw: 1000\ncomm-group: %s\n", st_path("pairs.json"));
    for (int r = 0; r < 8; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[3] = {comp(&b, 1, 10), allreduce(&b, 2, 1 << 20, "tp", 0),
                                      comp(&b, 3, 5)};
        tb_data(&b, n[1], 1);
        tb_data(&b, n[2], 2);
        write_rank("pairs", r, n, 3);
        tb_free(&b);
    }
    loom_result res = both(sysf, "pairs", 1);
    assert_int_equal(res.ncolls, 1);
    assert_true(res.colls[0].weight == 4 && res.colls[0].nranks == 2);
    sim_time t = res.colls[0].end - res.colls[0].start;
    assert_true(t > 0);
    for (int r = 0; r < 8; r++)
        assert_true(res.ranks[r].finish == 15 * US + t);
    assert_string_equal(res.collapse_off, "");
    loom_result_free(&res);
}

/* The same job with rank 2 a straggler at 3x: rank 2 computes 30 us, so
 * its pair {2, 3} starts the all-reduce at 30 us and rank 2 ends at
 * 30 + T + 15 us, rank 3 at 30 + T + 5 us; the other three pairs end at
 * 10 + T + 5 us.  Classes: {2}, {3}, and the six others (their partners
 * are alike); 3 ranks replayed. */
static void test_sym_straggler(void **state)
{
    (void)state;
    char sysf[600];
    snprintf(sysf, sizeof sysf, "local-mem-bw: 1000\ncomm-group: %s\nstraggler: {\"2\": 3}\n",
             st_path("pairs.json"));
    loom_result res = both(sysf, "pairs", 3);
    sim_time t = -1;
    for (size_t k = 0; k < res.ncolls; k++) {
        t = res.colls[k].end - res.colls[k].start; /* every pair's: one shape */
        assert_true(res.colls[k].weight == (res.colls[k].start == 30 * US ? 1 : 3));
    }
    assert_true(res.ranks[2].finish == 45 * US + t);
    assert_true(res.ranks[3].finish == 35 * US + t);
    assert_true(res.ranks[0].finish == 15 * US + t && res.ranks[7].finish == 15 * US + t);
    assert_true(res.step_time == 45 * US + t);
    loom_result_free(&res);
}

/* A two-stage pipeline: ranks 0-3 (stage 0) compute 10 us and send 1 MiB
 * to the rank four above ({stride 4, size 2}, peer index 1); ranks 4-7
 * receive it (index 0) and compute 5 us.  Two classes, one per stage;
 * four messages; stage 1 finishes at 10 us + M + 5 us, M the message's
 * time, and stage 0 at 10 us + M (a send completes on arrival). */
static void test_sym_pipeline(void **state)
{
    (void)state;
    st_put("pp.json", "{\"pp\": {\"stride\": 4, \"size\": 2}}\n");
    char sysf[600];
    snprintf(sysf, sizeof sysf, "local-mem-bw: 1000\ncomm-group: %s\n", st_path("pp.json"));
    for (int r = 0; r < 8; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[2];
        if (r < 4) {
            n[0] = comp(&b, 1, 10);
            n[1] = p2p(&b, 2, 1, "pp", 1, 1 << 20);
        } else {
            n[0] = p2p(&b, 1, 0, "pp", 0, 1 << 20);
            n[1] = comp(&b, 2, 5);
        }
        tb_data(&b, n[1], 1);
        write_rank("pipe", r, n, 2);
        tb_free(&b);
    }
    loom_result res = both(sysf, "pipe", 2);
    assert_true(res.p2p_messages == 4);
    sim_time m = res.ranks[0].finish - 10 * US;
    assert_true(m > 0);
    for (int r = 4; r < 8; r++)
        assert_true(res.ranks[r].finish == 15 * US + m);
    loom_result_free(&res);
}

/* Rank 5's file differs (20 us of compute before the all-reduce on all
 * ranks): the all-ranks all-reduce starts at 20 us for everyone.  Rank 5 is
 * a class of its own, the seven others one class: 2 replayed, every rank
 * ends at 20 us + T + 5 us. */
static void test_sym_rank_specific(void **state)
{
    (void)state;
    for (int r = 0; r < 8; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[3] = {comp(&b, 1, r == 5 ? 20 : 10),
                                      allreduce(&b, 2, 1 << 20, NULL, 0),
                                      comp(&b, 3, 5)};
        tb_data(&b, n[1], 1);
        tb_data(&b, n[2], 2);
        write_rank("one", r, n, 3);
        tb_free(&b);
    }
    loom_result res = both("local-mem-bw: 1000\n", "one", 2);
    assert_int_equal(res.ncolls, 1);
    assert_true(res.colls[0].weight == 1 && res.colls[0].nranks == 8);
    sim_time t = res.colls[0].end - res.colls[0].start;
    for (int r = 0; r < 8; r++)
        assert_true(res.ranks[r].finish == 25 * US + t);
    loom_result_free(&res);
}

/* A tie that breaks the one assumption (docs/MODEL.md 13).  Each of 8
 * ranks: A (10 us), then B, an all-reduce of 0 bytes on all ranks (0 s on
 * a network without latency), and C (0 us) both after A; D (1 us) after B,
 * E (5 us) after C; F, a 1 MiB all-reduce, after D.  At 10 us, D and E
 * become ready on the compute lane in the same picosecond, from two
 * events scheduled in the same instant: C's completion, scheduled by the
 * rank itself, and B's, scheduled by the last rank to join.  Without
 * collapse, rank 7 (last to join) sees B end first, queues D behind C and
 * runs D, then E; ranks 0-6 see C end first and run E, then D.  Replaying
 * one rank for all cannot tell them apart: loom notices and replays every
 * rank, so the results are the same both ways. */
static void test_sym_tie(void **state)
{
    (void)state;
    for (int r = 0; r < 8; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[6] = {comp(&b, 1, 10), allreduce(&b, 2, 0, NULL, 0), comp(&b, 3, 0),
                                      comp(&b, 4, 1), comp(&b, 5, 5),
                                      allreduce(&b, 6, 1 << 20, NULL, 0)};
        tb_data(&b, n[1], 1);
        tb_data(&b, n[2], 1);
        tb_data(&b, n[3], 2);
        tb_data(&b, n[4], 3);
        tb_data(&b, n[5], 4);
        write_rank("tie", r, n, 6);
        tb_free(&b);
    }
    loom_result r[2];
    for (int k = 0; k < 2; k++) {
        loom_err err;
        if (replay_mode("topology: [ Switch ]\nnpus_count: [ 8 ]\nbandwidth: [ 100 ]\nlatency: [ 0 ]\n",
                        "local-mem-bw: 1000\nendpoint-delay: 0\n", "tie", k, &r[k], &err) < 0)
            fail_msg("%s", err.msg);
    }
    /* the ranks really differ: rank 7 ran D before E, so F waited on it */
    assert_true(r[1].ranks[7].overlapped_comm != r[1].ranks[0].overlapped_comm);
    assert_int_equal(r[0].simulated_ranks, 8);
    assert_non_null(strstr(r[0].collapse_off, "picosecond"));
    assert_memory_equal(r[0].ranks, r[1].ranks, 8 * sizeof *r[0].ranks);
    loom_result_free(&r[0]);
    loom_result_free(&r[1]);
}

/* A run that fails fails the same way: rank 3's file lacks the pair's
 * all-reduce, so rank 2 waits forever; the message (which ranks are stuck,
 * on what) is the full replay's, not the representatives'. */
static void test_sym_stuck(void **state)
{
    (void)state;
    for (int r = 0; r < 8; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[3] = {comp(&b, 1, 10), allreduce(&b, 2, 1 << 20, "tp", 0),
                                      comp(&b, 3, 5)};
        tb_data(&b, n[1], 1);
        tb_data(&b, n[2], 2);
        if (r == 3) {
            n[1] = comp(&b, 2, 1);
            tb_data(&b, n[1], 1);
        }
        write_rank("stuck", r, n, 3);
        tb_free(&b);
    }
    char sysf[600], msg[2][sizeof ((loom_err *)0)->msg];
    snprintf(sysf, sizeof sysf, "local-mem-bw: 1000\ncomm-group: %s\n", st_path("pairs.json"));
    for (int k = 0; k < 2; k++) {
        loom_err err;
        loom_result res;
        assert_int_equal(replay_mode(net8, sysf, "stuck", k, &res, &err), LOOM_ESIM);
        snprintf(msg[k], sizeof msg[k], "%s", err.msg);
    }
    assert_string_equal(msg[0], msg[1]);
    assert_non_null(strstr(msg[0], "rank 2"));
}

/* The flow model shares links: collapse is off and says why. */
static void test_sym_flow_off(void **state)
{
    (void)state;
    loom_err err;
    loom_result res;
    if (replay_mode(net8, "local-mem-bw: 1000\nnetwork-model: flow\n", "one", 0, &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(res.simulated_ranks, 8);
    assert_non_null(strstr(res.collapse_off, "flow model"));
    loom_result_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sym_pairs),
        cmocka_unit_test(test_sym_straggler),
        cmocka_unit_test(test_sym_pipeline),
        cmocka_unit_test(test_sym_rank_specific),
        cmocka_unit_test(test_sym_tie),
        cmocka_unit_test(test_sym_stuck),
        cmocka_unit_test(test_sym_flow_off),
    };
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}
