/*
 * test_eff.c: the system key comm-efficiency through the loom binary
 * (docs/NETWORK.md section 9): opting in changes `loom compare`'s time of
 * a ring all-reduce by the curve's factor, as the step formula says;
 * bad values are refused naming the file and the key; gen llm writes the
 * key for the devices that have a curve and not for the others.
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

#include "loomrun.h"

/* 8 GPUs on a switch, 300e9 B/s per direction (279.397 GiB/s), 1 us */
static const char *NET = "topology: [ Switch ]\nnpus_count: [ 8 ]\n"
                         "bandwidth: [ 279.3967723846435546875 ]\nlatency: [ 1000 ]\n";

/* the time (us) of the lists row of `loom compare --csv` at one size */
static double compare_us(const char *sys, const char *size)
{
    int rc = loomrun_run(loomrun_tmp, "compare", "-c", "all_reduce", "-S", size, "-n",
                         loomrun_path("net.yml"), "-s", loomrun_path(sys), "-a", "lists", "-q",
                         "--csv", loomrun_path("c.csv"), NULL);
    if (rc != 0)
        fail_msg("compare: %s", loomrun_err);
    static char buf[4096];
    loomrun_slurp(loomrun_path("c.csv"), buf, sizeof buf);
    const char *row = strstr(buf, "\nlists,");
    assert_non_null(row);
    double t = -1;
    /* lists,analytical,all_reduce,8,SIZE,TIME,... */
    const char *p = row + 1;
    for (int commas = 0; commas < 5; p++)
        if (*p == ',')
            commas++;
    t = strtod(p, NULL);
    return t;
}

/* Ring all-reduce, 8 ranks, N = 1 MiB, endpoint delay 10 ns per step
 * (the system default), reductions negligible (local-mem-bw 1e9 GB/s):
 *     T = 14 (2 us + 10 ns) + 1.75 N / (300e9 eff)
 * off: eff = 1, 28.14 us + 6.116693 us; nvlink3 at 1 MiB: eff = 0.2889
 * (its table, net_eff.c), 28.14 us + 21.171662 us. */
static void test_opt_in(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("net.yml"), NET);
    loomrun_write(loomrun_path("off.yml"), "local-mem-bw: 1e9\n");
    loomrun_write(loomrun_path("on.yml"), "local-mem-bw: 1e9\ncomm-efficiency: [ nvlink3 ]\n");
    double N = 1048576, bw = 1.75 * N / 300e9 * 1e6;
    double off = compare_us("off.yml", "1M"), on = compare_us("on.yml", "1M");
    if (fabs(off - (28.14 + bw)) > 1e-3)
        fail_msg("off: %.6f us, want %.6f", off, 28.14 + bw);
    if (fabs(on - (28.14 + bw / 0.2889)) > 1e-3)
        fail_msg("nvlink3: %.6f us, want %.6f", on, 28.14 + bw / 0.2889);
}

static void test_bad(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("net.yml"), NET);
    struct { const char *sys, *needle; } bad[] = {
        {"local-mem-bw: 1e9\ncomm-efficiency: [ nvlink9 ]\n",
         "bad.yml: key 'comm-efficiency'[0] (line 2): 'nvlink9' is not a curve (none, nvlink3, nvlink4, nvlink5)"},
        {"local-mem-bw: 1e9\ncomm-efficiency: [ nvlink3, none ]\n",
         "bad.yml: key 'comm-efficiency' names 2 curves but the network has 1 dimension"},
        {"local-mem-bw: 1e9\ncomm-efficiency: { a: 1 }\n",
         "bad.yml: key 'comm-efficiency' must be a list of curve names"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        loomrun_write(loomrun_path("bad.yml"), bad[i].sys);
        int rc = loomrun_run(loomrun_tmp, "compare", "-c", "all_reduce", "-S", "1M", "-n",
                             loomrun_path("net.yml"), "-s", loomrun_path("bad.yml"), "-q", NULL);
        assert_int_equal(rc, 2);
        if (strstr(loomrun_err, bad[i].needle) == NULL)
            fail_msg("case %zu: %s", i, loomrun_err);
    }
}

static void test_gen(void **state)
{
    (void)state;
    struct { const char *device, *want; } dev[] = {
        {"a100-40g", "comm-efficiency: [ nvlink3 ]"},
        {"h100-sxm", "comm-efficiency: [ nvlink4 ]"},
        {"b200", "comm-efficiency: [ nvlink5 ]"},
        {"mi300x", NULL},
    };
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) {
        char out[300], sys[320];
        snprintf(out, sizeof out, "%s/g%zu/s", loomrun_tmp, i);
        int rc = loomrun_run(loomrun_tmp, "gen", "llm", "--out", out, "--preset", "llama3-8b",
                             "--layers", "2", "--tp", "2", "--device", dev[i].device, "-q", NULL);
        if (rc != 0)
            fail_msg("gen llm: %s", loomrun_err);
        static char buf[4096];
        snprintf(sys, sizeof sys, "%s.system.yaml", out);
        loomrun_slurp(sys, buf, sizeof buf);
        if (dev[i].want ? strstr(buf, dev[i].want) == NULL : strstr(buf, "comm-efficiency") != NULL)
            fail_msg("%s: %s", dev[i].device, buf);
        if (strstr(buf, "\nall-gather-order: descending") == NULL) /* every device */
            fail_msg("%s: no all-gather-order: %s", dev[i].device, buf);
        if (strstr(buf, "\nphase-overlap: 0.38 ") == NULL) /* bench/nccl --fit-overlap */
            fail_msg("%s: no phase-overlap: %s", dev[i].device, buf);
        if (strstr(buf, "\nall-to-all-implementation: direct ") == NULL) /* NCCL's */
            fail_msg("%s: no all-to-all-implementation: %s", dev[i].device, buf);
    }
}

/* The step time of run k of a generated step on network net: k 0 as
 * generated, k 1 with --set SET; the report's first row of kind (e.g.
 * "\nALL_GATHER") whose algorithm column is label must be there. */
static double run_labelled(const char *out, const char *net, int k, const char *set,
                           const char *kind, const char *label)
{
    char sys[320];
    snprintf(sys, sizeof sys, "%s.system.yaml", out);
    int rc = k ? loomrun_run(loomrun_tmp, "run", "-w", out, "-s", sys, "-n", net, "--set", set, NULL)
               : loomrun_run(loomrun_tmp, "run", "-w", out, "-s", sys, "-n", net, NULL);
    if (rc != 0)
        fail_msg("run: %s", loomrun_err);
    const char *row = strstr(loomrun_out, kind);
    char *p = NULL;
    for (; row && !(p = strstr(row, label)); row = strstr(row + 1, kind))
        ;
    if (p == NULL || memchr(row + 1, '\n', (size_t)(p - row - 1)) != NULL)
        fail_msg("no %s row with %s:\n%s", kind + 1, label, loomrun_out);
    const char *st = strstr(loomrun_out, "step time  ");
    assert_non_null(st);
    return atof(st + 11);
}

/* The all-to-all gen llm writes (one name: every dimension) reaches the
 * replay: an MoE step's expert all-to-all over a 4 x 2 network runs
 * direct on both dimensions, and ASTRA-sim's ring (the default without
 * the key) takes longer: each of its steps forwards what direct sends
 * once. */
static void test_gen_all_to_all(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("n42.yml"), "topology: [ Switch, Switch ]\nnpus_count: [ 4, 2 ]\n"
                                           "bandwidth: [ 400, 50 ]\nlatency: [ 500, 2000 ]\n");
    char out[300];
    snprintf(out, sizeof out, "%s/a2a/s", loomrun_tmp);
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", "--out", out, "--preset", "llama3-8b", "--layers",
                         "2", "--experts", "8", "--topk", "2", "--ep", "8", "--dp", "8",
                         "--global-batch", "8", "-q", NULL);
    if (rc != 0)
        fail_msg("gen llm: %s", loomrun_err);
    const char *label[2] = {"direct@0+direct@1", "ring@0+ring@1"};
    double t[2];
    for (int k = 0; k < 2; k++)
        t[k] = run_labelled(out, loomrun_path("n42.yml"), k,
                            "system.all-to-all-implementation=[ring,ring]", "\nALL_TO_ALL", label[k]);
    if (!(t[0] < t[1]))
        fail_msg("direct %.3f us, ring %.3f us", t[0], t[1]);
}

/* The order as gen llm writes it reaches the replay: with TP 2 and ZeRO 1
 * on nodes of 4 GPUs, the data-parallel parameter all-gather (8 ranks, two
 * a node) spans both dimensions; descending runs the network first
 * (label ring@1+ring@0) and takes less time than ascending (ring@0+ring@1:
 * the network then moves the node's gathered half, 2x the bytes). */
static void test_gen_order(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("n44.yml"), "topology: [ Switch, Switch ]\nnpus_count: [ 4, 4 ]\n"
                                           "bandwidth: [ 400, 50 ]\nlatency: [ 500, 2000 ]\n");
    char out[300], sys[320];
    snprintf(out, sizeof out, "%s/ord/s", loomrun_tmp);
    snprintf(sys, sizeof sys, "%s.system.yaml", out);
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", "--out", out, "--preset", "llama3-8b", "--layers",
                         "2", "--tp", "2", "--dp", "8", "--global-batch", "8", "--zero", "1", "-q",
                         NULL);
    if (rc != 0)
        fail_msg("gen llm: %s", loomrun_err);
    const char *label[2] = {"ring@1+ring@0", "ring@0+ring@1"};
    double t[2];
    for (int k = 0; k < 2; k++) {
        t[k] = run_labelled(out, loomrun_path("n44.yml"), k, "system.all-gather-order=ascending",
                            "\nALL_GATHER", label[k]);
        /* the phase-overlap gen llm wrote, named in the report's head */
        assert_non_null(strstr(loomrun_out, "\nphases     38% of a collective's other phases' "));
        char js[320];
        snprintf(js, sizeof js, "%s/ord/r%d.json", loomrun_tmp, k);
        rc = loomrun_run(loomrun_tmp, "run", "-w", out, "-s", sys, "-n", loomrun_path("n44.yml"),
                         "--set", "system.phase-overlap=0.5", "-j", js, "-q", NULL);
        if (rc != 0)
            fail_msg("run: %s", loomrun_err);
        char jtext[8192];
        loomrun_slurp(js, jtext, sizeof jtext);
        assert_non_null(strstr(jtext, "\"phase_overlap\": 0.5"));
    }
    if (!(t[0] < t[1]))
        fail_msg("descending %.3f us, ascending %.3f us", t[0], t[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opt_in),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_gen),
        cmocka_unit_test(test_gen_order),
        cmocka_unit_test(test_gen_all_to_all),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
