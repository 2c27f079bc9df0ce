/*
 * test_convert.c: `loom trace convert-text` end to end (workloads/wl_text.c,
 * docs/WORKLOADS.md "trace convert-text"): ASTRA-sim 1.0's text workloads
 * converted to Chakra, read back through traces/ and replayed.  Counts and
 * bytes are worked out by hand in the comments; simulated times from
 * docs/MODEL.md's closed forms (gen_check.h's ring_ar).
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
#include <sys/stat.h>

#include "gen_check.h"

/* ---- trace convert-text --------------------------------------------------- */

static void test_convert_text(void **state)
{
    (void)state;
    put("t/data.txt", "DATA\n2\n"
                      "l0 -1 10 NONE 0 20 NONE 0 30 ALLREDUCE 1048576 10\n"
                      "l1 -1 40 NONE 0 50 NONE 0 60 ALLREDUCE 2097152 10\n");
    const char *pre = tp("t/d");
    int rc = loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/data.txt"), "--ranks", "4", "--out", pre, NULL);
    expect_exit(rc, 0, "DATA, 2 layers");
    char r0[160], r3[160];
    snprintf(r0, sizeof r0, "%s.0.et", pre);
    snprintf(r3, sizeof r3, "%s.3.et", pre);
    assert_true(inode(r0) == inode(r3));
    tally t = count(r0);
    /* Chakra's DATA structure: FWD l0, FWD l1; BWD_WG l1, its all-reduce,
     * BWD_IG l1; BWD_WG l0, its all-reduce (no input gradient for l0) */
    assert_int_equal(t.comps, 5);
    assert_int_equal(t.colls[ET_ALL_REDUCE], 2);
    /* replay on a Ring 4 at 50 GB/s, 500 ns, the micro generator's system:
     * compute 10 + 40 + 60 = 110 us, then the 2 MiB all-reduce (~64.6 us)
     * overlaps BWD_IG l1 and BWD_WG l0 (80 us); the 1 MiB all-reduce starts
     * when BWD_WG l0 ends at 190 us */
    rc = loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "4", "-o", tp("t/unused"),
                  "--network-out", tp("t/net.yml"), "--system-out", tp("t/sys.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(loomrun_tmp, "run", "-w", pre, "-n", tp("t/net.yml"), "-s", tp("t/sys.json"), "-j",
                  tp("t/out.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    double B = 50 * GIB;
    double ar2 = ring_ar(4, 2097152, B, 500, 10, 1600e9, 1);
    assert_true(ar2 < 80000);
    double want = 190000 + ring_ar(4, 1048576, B, 500, 10, 1600e9, 1);
    double got = loomrun_step_ns(tp("t/out.json"));
    if (fabs(got - want) > 0.01)
        fail_msg("convert-text DATA step %.3f ns, expected %.3f", got, want);
    /* two passes: the second pass's forward of a layer waits for the first
     * pass's weight-gradient all-reduce of that layer */
    rc = loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/data.txt"), "-r", "4", "-o", tp("t/d2"), "-p", "2",
                  "-q", NULL);
    expect_exit(rc, 0, NULL);
    snprintf(r0, sizeof r0, "%s.0.et", tp("t/d2"));
    t = count(r0);
    assert_int_equal(t.comps, 10);
    /* HYBRID_DATA_MODEL with model-parallel groups of 2: fwd/ig on mp
     * groups, wg on dp groups; the comm-group file is written */
    put("t/hdm.txt", "HYBRID_DATA_MODEL model_parallel_NPU_group: 2\n2\n"
                     "a -1 5 ALLGATHER 4096 5 ALLREDUCE 4096 5 ALLREDUCE 8192 1\n"
                     "b -1 5 ALLREDUCE 4096 5 NONE 0 5 ALLREDUCE 8192 1\n");
    rc = loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/hdm.txt"), "-r", "4", "-o", tp("t/h"), NULL);
    expect_exit(rc, 0, "comm.json");
    char groups[512];
    loomrun_slurp(tp("t/h.comm.json"), groups, sizeof groups);
    assert_non_null(strstr(groups, "\"mp0\": [0, 1]"));
    assert_non_null(strstr(groups, "\"dp1\": [1, 3]"));
    rc = loomrun_run(loomrun_tmp, "run", "-w", tp("t/h"), "-n", tp("t/net.yml"), "-s", tp("t/sys.json"), "-g",
                  tp("t/h.comm.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    snprintf(r0, sizeof r0, "%s.0.et", tp("t/h"));
    t = count(r0);
    assert_int_equal(t.colls[ET_ALL_GATHER], 1);
    /* forward of b, and both weight gradients; the first layer has no
     * input-gradient collective and b's is NONE */
    assert_int_equal(t.colls[ET_ALL_REDUCE], 1 + 2);
}

static void test_convert_text_errors(void **state)
{
    (void)state;
    struct {
        const char *text, *needle;
    } bad[] = {
        {"PIPELINE\n1\n", "line 1: parallelism 'PIPELINE'"},
        {"DATA\nmany\n", "line 2: expected the number of layers"},
        {"DATA\n1\nl0 -1 10 NONE 0 20 NONE 0 30 ALLREDUCE\n", "line 3: a layer has 12 columns"},
        {"DATA\n1\nl0 -1 10 NONE 0 20 NONE 0 30 ALLSUM 1 1\n", "weight-gradient communication 'ALLSUM'"},
        {"DATA\n1\nl0 -1 x NONE 0 20 NONE 0 30 NONE 0 1\n", "forward compute time 'x'"},
        {"DATA\n2\nl0 -1 1 NONE 0 2 NONE 0 3 NONE 0 1\n", "announces 2 layers but 1 follow"},
        {"DATA\n1\nl0 -1 1 NONE 0 2 NONE 0 3 NONE 0 1\nl1 -1 1 NONE 0 2 NONE 0 3 NONE 0 1\n",
         "more layer lines"},
        {"HYBRID_DLRM\n2\n", "last bottom layer"},
        {"", "expected the parallelism"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put("t/bad.txt", bad[i].text);
        int rc = loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/bad.txt"), "-r", "2", "-o", tp("t/b"), NULL);
        expect_exit(rc, 2, bad[i].needle);
    }
    put("t/hdm3.txt", "HYBRID_DATA_MODEL model_parallel_NPU_group: 3\n1\n"
                      "a -1 5 ALLGATHER 4096 5 ALLREDUCE 4096 5 ALLREDUCE 8192 1\n");
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/hdm3.txt"), "-r", "4", "-o", tp("t/b"), NULL),
                2, "not a multiple of the file's model_parallel_NPU_group 3");
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", "/nonexistent.txt", "-r", "2", "-o", tp("t/b"),
                         NULL), 2, "/nonexistent.txt");
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/data.txt"), "-o", tp("t/b"), NULL), 2,
                "needs --ranks and --out");
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", "--help", NULL), 0, "--time-scale X");
}

#define TXT FIXTURES "/text-workloads"

/* Converts the fixture text workload `file` for `ranks` ranks to tp(out),
 * its summary saying `says` (if given); rank 0's tally. */
static tally convert(const char *file, const char *ranks, const char *out, const char *says)
{
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", file, "-r", ranks, "-o", tp(out),
                            NULL), 0, says);
    char r0[600];
    snprintf(r0, sizeof r0, "%s.0.et", tp(out));
    return count(r0);
}

/* HYBRID_TRANSFORMER_FWD_IN_BCKWD (ASTRA-sim 1.0): before layer 2's input
 * gradient the forward of layers 0 .. 1 runs again (layer 0 is the
 * checkpoint).  Compute only, one chain on each rank:
 *     forward 10 + 20 + 30, recompute 10 + 20, input gradients 3 + 2 + 1,
 *     weight gradients 6 + 5 + 4  = 111 us. */
static void test_convert_fwd_in_bckwd(void **state)
{
    (void)state;
    tally t = convert(TXT "/fwd_in_bckwd.txt", "2", "t/fib", "HYBRID_TRANSFORMER_FWD_IN_BCKWD, 3 layers");
    assert_int_equal(t.comps, 3 + 2 + 3 + 3);
    int rc = loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "2", "-o", tp("t/unused2"),
                     "--network-out", tp("t/net2.yml"), "--system-out", tp("t/sys2.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(loomrun_tmp, "run", "-w", tp("t/fib"), "-n", tp("t/net2.yml"), "-s", tp("t/sys2.json"),
                     "-g", tp("t/fib.comm.json"), "-j", tp("t/fib.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    if (fabs(loomrun_step_ns(tp("t/fib.json")) - 111000) > 0.01)
        fail_msg("FWD_IN_BCKWD step %.3f ns, expected 111000", loomrun_step_ns(tp("t/fib.json")));
    /* with collectives: the forward all-reduce of layer 0 and all-gather of
     * layer 1 run again in the recomputation; input-gradient collectives of
     * layers 2 and 1 (none for layer 0), weight-gradient ones of all three */
    t = convert(TXT "/fwd_in_bckwd_comm.txt", "4", "t/fibc", NULL);
    assert_int_equal(t.colls[ET_ALL_GATHER], 2);
    assert_int_equal(t.colls[ET_ALL_REDUCE], 2 + 2 + 3);
    /* an initiating layer with no checkpoint before it, or one out of range */
    put("t/fib_bad.txt", "HYBRID_TRANSFORMER_FWD_IN_BCKWD model_parallel_NPU_group: 2 checkpoints: 1 "
                         "1 checkpoint_initiates: 1 1\n2\na -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n"
                         "b -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n");
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/fib_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "layer 1 initiates a recomputation but is a checkpoint");
    put("t/fib_bad.txt", "HYBRID_TRANSFORMER_FWD_IN_BCKWD model_parallel_NPU_group: 2 checkpoints: 1 "
                         "5 checkpoint_initiates: 0\n1\na -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n");
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/fib_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "checkpoints: layer 5: the file has layers 0 .. 0");
    put("t/fib_bad.txt", "HYBRID_TRANSFORMER_FWD_IN_BCKWD model_parallel_NPU_group: 2\n1\n"
                         "a -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n");
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/fib_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "checkpoint_initiates");
}

/* HYBRID_CUSTOMIZED: each layer's 13th column picks its collectives, as
 * ASTRA-sim 1.0's involved dimensions do: emb (MODEL) keeps its forward
 * all-reduce (its input gradient is the first layer's, never written) and
 * drops the weight gradient's; mlp (DATA) keeps only the weight
 * gradient's; att (HYBRID_MODEL_DATA) keeps all three, on the groups of
 * HYBRID_MODEL_DATA (model-parallel across, data-parallel within). */
static void test_convert_customized(void **state)
{
    (void)state;
    tally t = convert(TXT "/customized.txt", "4", "t/cu", "HYBRID_CUSTOMIZED, 3 layers");
    assert_int_equal(t.colls[ET_ALL_REDUCE], 1 + 1 + 3);
    assert_int_equal(t.colls[ET_ALL_GATHER], 0);
    assert_int_equal(t.colls[ET_REDUCE_SCATTER], 0);
    char groups[1024];
    loomrun_slurp(tp("t/cu.comm.json"), groups, sizeof groups);
    assert_non_null(strstr(groups, "\"mp0\": [0, 1]"));
    assert_non_null(strstr(groups, "\"hmd_mp0\": [0, 2]"));
    assert_non_null(strstr(groups, "\"hmd_dp1\": [2, 3]"));
    int rc = loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "1", "-r", "4", "-o", tp("t/unused3"),
                     "--network-out", tp("t/net4.yml"), "--system-out", tp("t/sys4.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(loomrun_tmp, "run", "-w", tp("t/cu"), "-n", tp("t/net4.yml"), "-s", tp("t/sys4.json"),
                     "-g", tp("t/cu.comm.json"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    put("t/cu_bad.txt", "HYBRID_CUSTOMIZED\n1\na -1 1 NONE 0 1 NONE 0 1 NONE 0 1 PIPELINE\n");
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/cu_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "parallelism 'PIPELINE' is not DATA, MODEL");
    put("t/cu_bad.txt", "HYBRID_CUSTOMIZED\n1\na -1 1 NONE 0 1 NONE 0 1 NONE 0 1\n");
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", tp("t/cu_bad.txt"), "-r", "2", "-o",
                            tp("t/b"), NULL), 2, "a layer has 13 columns");
}

/* Chakra's converter's spellings: `chakra_converter Text --input F
 * --output P --num-npus N --num-passes K` and et_converter's underscores;
 * the same files as loom's own flags. */
static void test_convert_chakra_flags(void **state)
{
    (void)state;
    int rc = loomrun_run(loomrun_tmp, "trace", "convert-text", "Text", "--input", TXT "/fwd_in_bckwd.txt",
                         "--output", tp("t/ch"), "--num-npus", "2", "--num-passes", "2",
                         "--num-dims", "1", "-q", NULL);
    expect_exit(rc, 0, NULL);
    assert_non_null(strstr(loomrun_err, "--num-dims 1 is not used"));
    rc = loomrun_run(loomrun_tmp, "trace", "convert-text", "--input_type", "Text", "--input_filename",
                     TXT "/fwd_in_bckwd.txt", "--output_filename", tp("t/ch2"), "--num_npus", "2",
                     "--num_passes", "2", "-q", NULL);
    expect_exit(rc, 0, NULL);
    rc = loomrun_run(loomrun_tmp, "trace", "convert-text", TXT "/fwd_in_bckwd.txt", "-r", "2", "-p", "2",
                     "-o", tp("t/ch3"), "-q", NULL);
    expect_exit(rc, 0, NULL);
    char a[160], b[160], c[160];
    snprintf(a, sizeof a, "%s.1.et", tp("t/ch"));
    snprintf(b, sizeof b, "%s.1.et", tp("t/ch2"));
    snprintf(c, sizeof c, "%s.1.et", tp("t/ch3"));
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s' && cmp -s '%s' '%s'", a, b, a, c);
    assert_int_equal(system(cmd), 0);
    expect_exit(loomrun_run(loomrun_tmp, "trace", "convert-text", "--input_type", "PyTorch", "--input", "x",
                            NULL), 2, "--input_type 'PyTorch': loom converts Text only");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convert_text),
        cmocka_unit_test(test_convert_text_errors),
        cmocka_unit_test(test_convert_fwd_in_bckwd),
        cmocka_unit_test(test_convert_customized),
        cmocka_unit_test(test_convert_chakra_flags),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
