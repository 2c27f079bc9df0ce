/* The host that launches GPU work (core/sim/replay_host.c, system key
 * host-launch-us, docs/MODEL.md "The host"): the k-th GPU launch of a rank
 * ends at k h, and nothing starts on the GPU before its launch has ended.
 * Every expected time is worked out in the comment above its test from
 * the durations written into the trace and h. */
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

static const char net1[] = "topology: [ Ring ]\nnpus_count: [ 1 ]\nbandwidth: [ 1 ]\nlatency: [ 0 ]\n";
static const char net2[] = "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 1 ]\nlatency: [ 0 ]\n";
static const char net8[] = "topology: [ Switch ]\nnpus_count: [ 8 ]\nbandwidth: [ 100 ]\n"
                           "latency: [ 1000 ]\n";
static const char sys_h10[] = "local-mem-bw: 1000\nhost-launch-us: 10\n";
static const char sys_none[] = "local-mem-bw: 1000\n";
static const char sys_cap_h10[] = "local-mem-bw: 1000\nhost-launch-us: 10\ncomm-model: captured\n";

static ChakraProtoMsg__Node *p2p(tb *b, uint64_t id, int send, int peer, uint64_t dur_ns)
{
    ChakraProtoMsg__Node *n = tb_node(b, id, send ? ET_COMM_SEND_NODE : ET_COMM_RECV_NODE, "m");
    tb_i64(b, n, send ? "comm_dst" : "comm_src", peer);
    tb_i64(b, n, "comm_tag", 3);
    tb_u64(b, n, "comm_size", 64);
    tb_u64(b, n, "duration_ns", dur_ns);
    return n;
}

/* Replays prefix; fails the test on an error.  every: --no-collapse. */
static void replay(const char *net, const char *sysf, const char *prefix, int every,
                   loom_result *res)
{
    loom_cfg cfg;
    loom_err err;
    if (st_load(&cfg, net, sysf, NULL, 0, &err) < 0)
        fail_msg("%s", err.msg);
    char pre[512];
    snprintf(pre, sizeof pre, "%s", st_path(prefix));
    loom_replay_opts o = {.prefix = pre, .max_stuck = 8,
                          .no_collapse = every ? LOOM_COLLAPSE_OFF : 0};
    memset(&err, 0, sizeof err);
    if (loom_replay(&cfg, &o, res, &err) < 0)
        fail_msg("%s", err.msg);
    loom_cfg_free(&cfg);
}

/* A chain of 5 kernels of d us each (data deps), written as prefix. */
static void chain(const char *prefix, uint64_t d)
{
    tb b = {0};
    ChakraProtoMsg__Node *n[5];
    for (uint64_t i = 0; i < 5; i++) {
        n[i] = comp(&b, i + 1, d);
        if (i)
            tb_data(&b, n[i], i);
    }
    write_rank(prefix, 0, n, 5);
    tb_free(&b);
}

/* h = 10 us.  Kernels of 2 us: kernel k (0-based) waits for its launch,
 * which ends at (k + 1) 10 us, so it runs over [10 (k+1), 10 (k+1) + 2]:
 * the step is 5 x 10 + 2 = 52 us, compute 10 us, idle 42 us, and the GPU
 * waited for all 5 launches (host-bound).  Kernels of 30 us: the first
 * starts at 10 us and each later launch ended long before its kernel
 * could start: 10 + 5 x 30 = 160 us, one wait.  Without host-launch-us
 * the same chain takes 5 x 2 = 10 us. */
static void test_chain(void **state)
{
    (void)state;
    static const struct {
        uint64_t d;
        const char *sys;
        sim_time step, idle;
        uint64_t launches, waits;
    } cases[] = {
        {2, sys_h10, 52 * US, 42 * US, 5, 5},
        {30, sys_h10, 160 * US, 10 * US, 5, 1},
        {2, sys_none, 10 * US, 0, 0, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[32];
        snprintf(name, sizeof name, "chain%zu", c);
        chain(name, cases[c].d);
        loom_result res;
        replay(net1, cases[c].sys, name, 0, &res);
        assert_int_equal(res.step_time, cases[c].step);
        assert_int_equal(res.ranks[0].compute, 5 * cases[c].d * US);
        assert_int_equal(res.ranks[0].idle, cases[c].idle);
        assert_int_equal(res.host_launches, cases[c].launches);
        assert_int_equal(res.host_waits, cases[c].waits);
        loom_result_free(&res);
    }
}

/* A fused node of K = 4 kernels (kernel_flops, 4 entries) and 8 us under
 * the trace model, first in the trace (L = 0): it starts when its first
 * launch ends (10 us) and its last kernel, of d / K = 2 us, waits for the
 * fourth launch (40 us): max(10 + 8, 40 + 2) = 42 us.  A second node, one
 * kernel of 1 us after it (data dep), is launch 5 (50 us): ends at 51 us.
 * Launches 4 + 1 = 5; both waited.  Compute: the fused node's 32 us (its
 * kernels' waits for their launches included) and 1 us. */
static void test_fused(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n[2] = {comp(&b, 1, 8), comp(&b, 2, 1)};
    const int64_t fl[4] = {1, 2, 3, 4}, by[4] = {0, 0, 0, 0};
    tb_i64s(&b, n[0], "kernel_flops", fl, 4);
    tb_i64s(&b, n[0], "kernel_bytes", by, 4);
    tb_data(&b, n[1], 1);
    write_rank("fused", 0, n, 2);
    tb_free(&b);
    loom_result res;
    replay(net1, sys_h10, "fused", 0, &res);
    assert_int_equal(res.step_time, 51 * US);
    assert_int_equal(res.ranks[0].compute, 33 * US);
    assert_int_equal(res.host_launches, 5);
    assert_int_equal(res.host_waits, 2);
    loom_result_free(&res);
}

/* comm-model captured, h = 10 us.  Rank 0 launches three 1-us kernels
 * (no dependencies) and then the all-reduce, its fourth launch (40 us);
 * rank 1 only the all-reduce (10 us).  The collective starts with its
 * last member at 40 us and takes the least traced duration, 5 us: the
 * step is 45 us (without the host: 5 us, the kernels ending at 3 us).  A
 * message: rank 0's send is its first launch (10 us), rank 1's receive
 * comes after two 1-us kernels, its third launch (30 us); the message
 * takes the lesser traced duration (4 us) from when both are posted:
 * 34 us. */
static void test_comm_waits(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *r0[4] = {comp(&b, 1, 1), comp(&b, 2, 1), comp(&b, 3, 1),
                                   allreduce(&b, 4, 1024, NULL, 5000)};
    ChakraProtoMsg__Node *r1[1] = {allreduce(&b, 1, 1024, NULL, 5000)};
    write_rank("ar", 0, r0, 4);
    write_rank("ar", 1, r1, 1);
    ChakraProtoMsg__Node *s0[1] = {p2p(&b, 1, 1, 1, 4000)};
    ChakraProtoMsg__Node *s1[3] = {comp(&b, 1, 1), comp(&b, 2, 1), p2p(&b, 3, 0, 0, 4000)};
    write_rank("msg", 0, s0, 1);
    write_rank("msg", 1, s1, 3);
    tb_free(&b);
    loom_result res;
    replay(net2, sys_cap_h10, "ar", 0, &res);
    assert_int_equal(res.step_time, 45 * US);
    assert_int_equal(res.ncolls, 1);
    assert_int_equal(res.colls[0].start, 40 * US);
    assert_int_equal(res.host_launches, 5);
    loom_result_free(&res);
    replay(net2, "local-mem-bw: 1000\ncomm-model: captured\n", "ar", 0, &res);
    assert_int_equal(res.step_time, 5 * US);
    loom_result_free(&res);
    replay(net2, sys_cap_h10, "msg", 0, &res);
    assert_int_equal(res.step_time, 34 * US);
    assert_int_equal(res.ranks[1].finish, 34 * US);
    assert_int_equal(res.host_launches, 4);
    loom_result_free(&res);
}

/* 8 alike ranks, each a chain of five 2-us kernels and then an all-reduce
 * on all: host-bound as in test_chain, the same with symmetry collapse as
 * replaying every rank (per-rank figures, the step, the host counters). */
static void test_collapse_same(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n[6];
    for (uint64_t i = 0; i < 5; i++) {
        n[i] = comp(&b, i + 1, 2);
        if (i)
            tb_data(&b, n[i], i);
    }
    n[5] = allreduce(&b, 6, 1 << 20, NULL, 0);
    tb_data(&b, n[5], 5);
    for (int r = 0; r < 8; r++)
        write_rank("sym", r, n, 6);
    tb_free(&b);
    loom_result a, e;
    replay(net8, sys_h10, "sym", 0, &a);
    replay(net8, sys_h10, "sym", 1, &e);
    assert_true(a.simulated_ranks < e.simulated_ranks);
    assert_int_equal(a.step_time, e.step_time);
    assert_true(a.step_time > 60 * US); /* the all-reduce launched at 60 us */
    assert_memory_equal(a.ranks, e.ranks, 8 * sizeof *a.ranks);
    assert_int_equal(a.host_launches, 48);
    assert_int_equal(a.host_launches, e.host_launches);
    assert_int_equal(a.host_waits, e.host_waits);
    loom_result_free(&a);
    loom_result_free(&e);
}

/* The key: a negative or non-numeric value stops with the file and key;
 * the text report says what the host did. */
static void test_key_and_report(void **state)
{
    (void)state;
    static const char *const bad[] = {"local-mem-bw: 1000\nhost-launch-us: -1\n",
                                      "local-mem-bw: 1000\nhost-launch-us: fast\n"};
    for (size_t k = 0; k < 2; k++) {
        loom_cfg cfg;
        loom_err err;
        assert_int_equal(st_load(&cfg, net1, bad[k], NULL, 0, &err), LOOM_EUSAGE);
        assert_non_null(strstr(err.msg, "host-launch-us"));
        assert_non_null(strstr(err.msg, "sys.yaml"));
    }
    chain("rep", 2);
    loom_cfg cfg;
    loom_err err;
    if (st_load(&cfg, net1, sys_h10, NULL, 0, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg.host_launch, 10 * US);
    loom_result res;
    replay(net1, sys_h10, "rep", 0, &res);
    char *buf = text_report(&cfg, &res);
    assert_non_null(strstr(buf, "host       10 us a GPU launch (host-launch-us): 5 launches, "
                                "the GPU waited for 5 of them"));
    free(buf);
    loom_result_free(&res);
    loom_cfg_free(&cfg);
}

static sim_time host_of(const loom_cfg *c) { return c->host_launch; }

/* A stack profile's host-launch-us (replay_testutil.h's rule). */
static void test_stack_profile(void **state)
{
    (void)state;
    stack_time_key_check(net1, "host-launch-us", host_of);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_fused),
        cmocka_unit_test(test_comm_waits),
        cmocka_unit_test(test_collapse_same),
        cmocka_unit_test(test_key_and_report),
        cmocka_unit_test(test_stack_profile),
    };
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}
