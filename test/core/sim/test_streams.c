/* Replay of what captured traces need (core/sim/replay.c, replay_graph.c):
 * lanes per `stream` attribute, is_delay waits, duration_ns, ctrl_dep
 * cycles dropped (or refused with --strict), and comm-model: captured.
 * Every expected time is worked out by hand in the comment above its test
 * from the durations written into the trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replay_testutil.h"

#define NS 1000LL    /* ps */

static const char net1[] = "topology: [ Ring ]\nnpus_count: [ 1 ]\nbandwidth: [ 1 ]\nlatency: [ 0 ]\n";
static const char net2[] = "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 1 ]\nlatency: [ 500 ]\n";
static const char sys[] = "local-mem-bw: 1000\n";
static const char sys_captured[] = "local-mem-bw: 1000\ncomm-model: captured\n";

static ChakraProtoMsg__Node *on_stream(tb *b, ChakraProtoMsg__Node *n, int64_t stream)
{
    tb_i64(b, n, "stream", stream);
    return n;
}

static int run(const char *net, const char *sysf, int strict, const char *prefix,
               loom_result *res, loom_err *err)
{
    return replay_run(net, sysf, NULL, strict, prefix, res, err);
}

static sim_time step_of(const char *net, const char *sysf, const char *prefix)
{
    loom_result res;
    loom_err err;
    if (run(net, sysf, 0, prefix, &res, &err) < 0)
        fail_msg("%s", err.msg);
    sim_time t = res.step_time;
    loom_result_free(&res);
    return t;
}

/* Kernels of 3 and 4 us with no dependency: on streams 7 and 20 they
 * overlap (step max(3, 4) = 4 us, compute busy 4 us); both on stream 7
 * they queue (3 + 4 = 7 us), as without any stream attribute.  Host ops on
 * threads 100 and 200 overlap the same way (5 and 6 us: 6 us). */
static void test_streams_overlap(void **state)
{
    (void)state;
    struct { int64_t s0, s1; sim_time step; const char *name; } cases[] = {
        {7, 20, 4 * US, "two"}, {7, 7, 7 * US, "one"}};
    for (size_t c = 0; c < 2; c++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[2] = {on_stream(&b, comp(&b, 1, 3), cases[c].s0),
                                      on_stream(&b, comp(&b, 2, 4), cases[c].s1)};
        write_rank(cases[c].name, 0, n, 2);
        tb_free(&b);
        loom_result res;
        loom_err err;
        if (run(net1, sys, 0, cases[c].name, &res, &err) < 0)
            fail_msg("%s", err.msg);
        assert_true(res.step_time == cases[c].step);
        assert_true(res.ranks[0].compute == cases[c].step);
        assert_true(res.ranks[0].idle == 0);
        loom_result_free(&res);
    }
    tb b = {0};
    ChakraProtoMsg__Node *h[2] = {on_stream(&b, comp(&b, 1, 5), 100),
                                  on_stream(&b, comp(&b, 2, 6), 200)};
    tb_bool(&b, h[0], "is_cpu_op", 1);
    tb_bool(&b, h[1], "is_cpu_op", 1);
    write_rank("threads", 0, h, 2);
    tb_free(&b);
    assert_true(step_of(net1, sys, "threads") == 6 * US);
}

/* A 5 us delay (is_delay) then a 3 us kernel that depends on it: the
 * kernel starts at 5 us, the step is 8 us, of which 5 us idle (the delay
 * holds no resource) and 3 us compute.  duration_ns wins over
 * duration_micros: a kernel of 1,500 ns that says 2 us takes 1.5 us. */
static void test_delay_and_ns(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n[2] = {tb_node(&b, 1, ET_COMP_NODE, "loom:start_offset"), comp(&b, 2, 3)};
    tb_bool(&b, n[0], "is_delay", 1);
    tb_u64(&b, n[0], "duration_ns", 5000);
    tb_data(&b, n[1], 1);
    write_rank("delay", 0, n, 2);
    ChakraProtoMsg__Node *k[1] = {comp(&b, 1, 2)};
    tb_u64(&b, k[0], "duration_ns", 1500);
    write_rank("ns", 0, k, 1);
    ChakraProtoMsg__Node *bad[1] = {allreduce(&b, 1, 64, NULL, 10)};
    tb_bool(&b, bad[0], "is_delay", 1);
    write_rank("baddelay", 0, bad, 1);
    tb_free(&b);
    loom_result res;
    loom_err err;
    if (run(net1, sys, 0, "delay", &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(res.step_time == 8 * US);
    assert_true(res.ranks[0].idle == 5 * US);
    assert_true(res.ranks[0].compute == 3 * US);
    loom_result_free(&res);
    assert_true(step_of(net1, sys, "ns") == 1500 * NS);
    assert_int_equal(run(net1, sys, 0, "baddelay", &res, &err), LOOM_ETRACE);
    if (!strstr(err.msg, "node 1: is_delay on a COMM_COLL_NODE"))
        fail_msg("%s", err.msg);
}

/* Nodes 1 and 2 (1 and 2 us) ctrl-depend on each other; node 3 (3 us)
 * data-depends on node 1.  By default the edge that closes the cycle in
 * id order (node 1's ctrl_dep on node 2) is dropped: node 1 runs first,
 * then nodes 2 and 3 on the one compute stream: 1 + 2 + 3 = 6 us.
 * --strict refuses the trace, naming the cycle's nodes. */
static void test_ctrl_cycles(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *n[3] = {comp(&b, 1, 1), comp(&b, 2, 2), comp(&b, 3, 3)};
    tb_ctrl(&b, n[0], 2);
    tb_ctrl(&b, n[1], 1);
    tb_data(&b, n[2], 1);
    write_rank("cyc", 0, n, 3);
    tb_free(&b);
    loom_result res;
    loom_err err;
    if (run(net1, sys, 0, "cyc", &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(res.step_time == 6 * US);
    assert_true(res.ranks[0].nodes == 3);
    loom_result_free(&res);
    assert_int_equal(run(net1, sys, 1, "cyc", &res, &err), LOOM_ETRACE);
    if (!strstr(err.msg, "3 of 3 nodes can never become ready") || !strstr(err.msg, "--strict"))
        fail_msg("%s", err.msg);
}

/* comm-model: captured.  Rank 0 computes 5 us, then joins an all-reduce
 * whose kernel it measured at 4,000 ns; rank 1 joins at once and measured
 * 9,000 ns (it waited for rank 0).  The transfer starts at the last join
 * (5 us) and takes the least measured time, 4 us: both end at 9 us.
 * Under the network model the same trace takes 5 us + T instead, where T
 * (the ring all-reduce of 2^20 bytes on net2, test_replay.c) is 979.155364 us. */
static void test_captured_collective(void **state)
{
    (void)state;
    for (int r = 0; r < 2; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[2] = {comp(&b, 1, r ? 0 : 5),
                                      allreduce(&b, 2, 1u << 20, NULL, r ? 9000 : 4000)};
        tb_data(&b, n[1], 1);
        write_rank("cap", r, n, 2);
        tb_free(&b);
    }
    loom_result res;
    loom_err err;
    if (run(net2, sys_captured, 0, "cap", &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(res.step_time == 9 * US);
    assert_int_equal(res.ncolls, 1);
    assert_true(res.colls[0].start == 5 * US);
    assert_true(res.colls[0].end == 9 * US);
    assert_string_equal(res.colls[0].algo, "captured");
    loom_result_free(&res);
    assert_true(step_of(net2, sys, "cap") == 5 * US + 979155364);
}

/* Two all-reduces of 10 us measured each, issued together: on streams 1
 * and 2 they run side by side (10 us); on one stream, one after the other
 * (20 us). */
static void test_captured_comm_streams(void **state)
{
    (void)state;
    struct { int64_t s1; sim_time step; const char *name; } cases[] = {
        {2, 10 * US, "cs2"}, {1, 20 * US, "cs1"}};
    for (size_t c = 0; c < 2; c++) {
        for (int r = 0; r < 2; r++) {
            tb b = {0};
            ChakraProtoMsg__Node *n[2] = {on_stream(&b, allreduce(&b, 1, 64, NULL, 10000), 1),
                                          on_stream(&b, allreduce(&b, 2, 64, NULL, 10000), cases[c].s1)};
            write_rank(cases[c].name, r, n, 2);
            tb_free(&b);
        }
        assert_true(step_of(net2, sys_captured, cases[c].name) == cases[c].step);
    }
}

/* A member without a duration says nothing about the transfer: the
 * all-reduce of test_captured_collective with rank 1's node carrying no
 * duration still takes rank 0's 4 us (from its join at 5 us: 9 us), not
 * the network model's time. */
static void test_captured_partial(void **state)
{
    (void)state;
    for (int r = 0; r < 2; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[2] = {comp(&b, 1, r ? 0 : 5),
                                      allreduce(&b, 2, 1u << 20, NULL, r ? 0 : 4000)};
        tb_data(&b, n[1], 1);
        write_rank("capp", r, n, 2);
        tb_free(&b);
    }
    assert_true(step_of(net2, sys_captured, "capp") == 9 * US);
}

/* A collective's exposed time is every interval it is in flight with no
 * compute busy: all-reduces of 10 and 20 us (captured) on two streams from
 * time 0, no compute: 10 us and 20 us exposed.  (The first used to lose
 * its 10 us: its end changed no activity, since the other kept the rank
 * communicating, and its record left before the interval was closed.) */
static void test_exposed_two_streams(void **state)
{
    (void)state;
    for (int r = 0; r < 2; r++) {
        tb b = {0};
        ChakraProtoMsg__Node *n[2] = {on_stream(&b, allreduce(&b, 1, 64, NULL, 10000), 1),
                                      on_stream(&b, allreduce(&b, 2, 64, NULL, 20000), 2)};
        write_rank("ex2", r, n, 2);
        tb_free(&b);
    }
    loom_result res;
    loom_err err;
    if (run(net2, sys_captured, 0, "ex2", &res, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(res.ncolls, 2);
    assert_true(res.colls[0].exposed == 10 * US);
    assert_true(res.colls[1].exposed == 20 * US);
    assert_true(res.ranks[0].exposed_comm == 20 * US);
    loom_result_free(&res);
}

/* Captured messages: rank 1 posts its receive at 0 (measured 3,000 ns);
 * rank 0 sends after a 1 us kernel (measured 2,000 ns).  The transfer
 * starts when both are there (1 us) and takes the lesser, 2 us: step 3 us. */
static void test_captured_p2p(void **state)
{
    (void)state;
    tb b = {0};
    ChakraProtoMsg__Node *s[2] = {comp(&b, 1, 1), tb_node(&b, 2, ET_COMM_SEND_NODE, "send")};
    tb_data(&b, s[1], 1);
    tb_i32(&b, s[1], "comm_dst", 1);
    tb_i32(&b, s[1], "comm_tag", 5);
    tb_u64(&b, s[1], "comm_size", 4096);
    tb_u64(&b, s[1], "duration_ns", 2000);
    write_rank("p2p", 0, s, 2);
    ChakraProtoMsg__Node *r[1] = {tb_node(&b, 1, ET_COMM_RECV_NODE, "recv")};
    tb_i32(&b, r[0], "comm_src", 0);
    tb_i32(&b, r[0], "comm_tag", 5);
    tb_u64(&b, r[0], "comm_size", 4096);
    tb_u64(&b, r[0], "duration_ns", 3000);
    write_rank("p2p", 1, r, 1);
    tb_free(&b);
    assert_true(step_of(net2, sys_captured, "p2p") == 3 * US);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_overlap),
        cmocka_unit_test(test_delay_and_ns),
        cmocka_unit_test(test_ctrl_cycles),
        cmocka_unit_test(test_captured_collective),
        cmocka_unit_test(test_captured_comm_streams),
        cmocka_unit_test(test_captured_p2p),
        cmocka_unit_test(test_exposed_two_streams),
        cmocka_unit_test(test_captured_partial),
    };
    loom_set_quiet(1);
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}
