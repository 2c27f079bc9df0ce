/*
 * test_models.c: every fixture folder of test/data/chakra and every
 * example with traces under examples/ through both network models
 * (`--set system.network-model=flow` and the analytical default), with the
 * network and system files each folder ships or test/data/README.md names.
 *
 * Both must exit 0 with a positive step time (issue 14: the flow model
 * stopped on an internal error on the TPUv4-32 fixture, Ring 2 x 4 x 4 with
 * 4 splits, which the analytical model ran).  For the single-collective
 * runs on topologies that share no link (ring on a Ring, direct on a
 * FullyConnected) the two step times must agree to the rounding
 * docs/NETWORK.md 4.1 allows: the flow model rounds each step to the ps,
 * the closed form once, so 1 ps per step a rank runs (W waves x the
 * algorithm's steps), plus 1.
 *
 * A folder added to test/data/chakra or an example with traces that is
 * missing from the tables below fails test_tables_cover_every_folder.
 *
 * Symmetry collapse (docs/MODEL.md 13): every folder, example and a set of
 * generated LLM steps give the byte-identical `--json --reproducible`
 * with and without --no-collapse, and the generated steps replay the
 * number of ranks the classes predict (one per pipeline stage, more with
 * a straggler).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loomrun.h"

#define FIX FIXTURES "/chakra"
#define CFG FIXTURES "/astra-sim-configs"
#define EX SRCDIR "/examples"


typedef struct run {
    const char *folder;  /* under test/data/chakra or examples/ */
    const char *prefix;  /* workload prefix */
    const char *net, *sys;
    const char *extra[4]; /* more arguments, NULL-ended */
    long same_ps;        /* > 0: both models within this many ps */
} run;

/* Ring_4chunks.json: 4 splits, one active chunk, so W = 4 waves of a ring
 * on one Ring dimension of p members: AR 2(p-1) steps, RS and AG p-1, the
 * relay all-to-all p(p-1)/2 (NETWORK.md 4.2). */
#define W4(steps) (4L * (steps) + 1)

static const run fixtures[] = {
    {"micro_all_reduce_4npus_1MB", FIX "/micro_all_reduce_4npus_1MB/all_reduce",
     CFG "/Ring_4npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(2 * 3)},
    {"micro_all_reduce_8npus_1MB", FIX "/micro_all_reduce_8npus_1MB/all_reduce",
     CFG "/Ring_8npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(2 * 7)},
    {"micro_all_reduce_16npus_1MB", FIX "/micro_all_reduce_16npus_1MB/all_reduce",
     CFG "/Ring_16npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(2 * 15)},
    {"micro_all_gather_4npus_1MB", FIX "/micro_all_gather_4npus_1MB/all_gather",
     CFG "/Ring_4npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(3)},
    {"micro_all_gather_8npus_1MB", FIX "/micro_all_gather_8npus_1MB/all_gather",
     CFG "/Ring_8npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(7)},
    {"micro_all_gather_16npus_1MB", FIX "/micro_all_gather_16npus_1MB/all_gather",
     CFG "/Ring_16npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(15)},
    {"micro_reduce_scatter_4npus_1MB", FIX "/micro_reduce_scatter_4npus_1MB/reduce_scatter",
     CFG "/Ring_4npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(3)},
    {"micro_reduce_scatter_8npus_1MB", FIX "/micro_reduce_scatter_8npus_1MB/reduce_scatter",
     CFG "/Ring_8npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(7)},
    {"micro_reduce_scatter_16npus_1MB", FIX "/micro_reduce_scatter_16npus_1MB/reduce_scatter",
     CFG "/Ring_16npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(15)},
    {"micro_all_to_all_4npus_1MB", FIX "/micro_all_to_all_4npus_1MB/all_to_all",
     CFG "/Ring_4npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(4 * 3 / 2)},
    {"micro_all_to_all_8npus_1MB", FIX "/micro_all_to_all_8npus_1MB/all_to_all",
     CFG "/Ring_8npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(8 * 7 / 2)},
    {"micro_all_to_all_16npus_1MB", FIX "/micro_all_to_all_16npus_1MB/all_to_all",
     CFG "/Ring_16npus.yml", CFG "/Ring_4chunks.json", {NULL}, W4(16 * 15 / 2)},
    /* point-to-point sends round the ring: each message on its own link */
    {"custom_ring_allreduce_8npus_1MB", FIX "/custom_ring_allreduce_8npus_1MB/custom_allreduce",
     CFG "/Ring_8npus.yml", FIX "/custom_ring_allreduce_8npus_1MB/system.json", {NULL}, 0},
    {"legacy_resnet50_dp_64npus", FIX "/legacy_resnet50_dp_64npus/resnet50_DataParallel",
     FIX "/legacy_resnet50_dp_64npus/network.yml", FIX "/legacy_resnet50_dp_64npus/system.json",
     {"--remote-memory", FIX "/legacy_resnet50_dp_64npus/memory.json", NULL}, 0},
    /* one 1 MiB all-reduce: ring on Ring 8 (Ring_sys: 4 splits) ... */
    {"tutorial_allreduce_8npus_2dim", FIX "/tutorial_allreduce_8npus_2dim/allreduce",
     FIX "/tutorial_allreduce_8npus_2dim/Ring_8.yml",
     FIX "/tutorial_allreduce_8npus_2dim/Ring_sys.json", {NULL}, W4(2 * 7)},
    /* ... and direct on FullyConnected 8 (Direct_sys: 4 splits; RS step,
     * AG step, each pair its own link: NETWORK.md 4.3) */
    {"tutorial_allreduce_8npus_2dim", FIX "/tutorial_allreduce_8npus_2dim/allreduce",
     FIX "/tutorial_allreduce_8npus_2dim/FullyConnected_8.yml",
     FIX "/tutorial_allreduce_8npus_2dim/Direct_sys.json", {NULL}, W4(2)},
    {"tutorial_mlp_model_parallel_32npus", FIX "/tutorial_mlp_model_parallel_32npus/MLP_ModelParallel",
     FIX "/tutorial_mlp_model_parallel_32npus/DGX_H100-32.yml",
     FIX "/tutorial_mlp_model_parallel_32npus/DGX_H100.json", {NULL}, 0},
    /* Ring 2 x 4 x 4, 4 splits: issue 14's crash */
    {"tutorial_mlp_model_parallel_32npus", FIX "/tutorial_mlp_model_parallel_32npus/MLP_ModelParallel",
     FIX "/tutorial_mlp_model_parallel_32npus/TPUv4-32.yml",
     FIX "/tutorial_mlp_model_parallel_32npus/TPUv4.json", {NULL}, 0},
    /* one rank (README: its ctrl_deps need --ignore-ctrl-deps); a 1-NPU ring */
    {"pytorch_converted_1rank", FIX "/pytorch_converted_1rank/chakra", CFG "/Ring_4npus.yml",
     CFG "/Ring_4chunks.json", {"--ignore-ctrl-deps", "--set", "network.npus_count[0]=1", NULL},
     0},
};

static const run examples[] = {
    /* 1 MiB ring all-reduce on Ring 8, 4 splits */
    {"allreduce_ring8", EX "/allreduce_ring8/all_reduce", EX "/allreduce_ring8/network.yml",
     EX "/allreduce_ring8/system.json", {NULL}, W4(2 * 7)},
    {"mlp_dgx_h100", EX "/mlp_dgx_h100/MLP_ModelParallel", EX "/mlp_dgx_h100/network.yml",
     EX "/mlp_dgx_h100/system.json", {NULL}, 0},
};

/* Runs r under one model; returns its step time in ns. */
static double step_of(const run *r, int flow)
{
    const char *args[24];
    int n = 0;
    const char *json = loomrun_path(flow ? "flow.json" : "analytical.json");
    args[n++] = "run";
    args[n++] = "-w";
    args[n++] = r->prefix;
    args[n++] = "-n";
    args[n++] = r->net;
    args[n++] = "-s";
    args[n++] = r->sys;
    for (int k = 0; r->extra[k]; k++)
        args[n++] = r->extra[k];
    args[n++] = "--set";
    args[n++] = flow ? "system.network-model=flow" : "system.network-model=analytical";
    args[n++] = "-j";
    args[n++] = json;
    args[n++] = "-q";
    args[n] = NULL;
    int rc = loomrun_wait(loomrun_tmp, loomrun_startv(loomrun_tmp, args));
    if (rc != 0)
        fail_msg("%s on %s, %s model: exit %d: %s", r->prefix, r->net,
                 flow ? "flow" : "analytical", rc, loomrun_err);
    double t = loomrun_step_ns(json);
    if (!(t > 0))
        fail_msg("%s on %s, %s model: step time %g ns", r->prefix, r->net,
                 flow ? "flow" : "analytical", t);
    return t;
}

static void both_models(const run *runs, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const run *r = &runs[k];
        double a = step_of(r, 0), f = step_of(r, 1);
        /* the report's ns carry ps as three decimals */
        long diff = labs(lround((f - a) * 1000));
        if (r->same_ps > 0 && diff > r->same_ps)
            fail_msg("%s on %s: flow %.3f ns, analytical %.3f ns: %ld ps apart (at most %ld)",
                     r->prefix, r->net, f, a, diff, r->same_ps);
    }
}

static void test_fixtures_both_models(void **state)
{
    (void)state;
    both_models(fixtures, sizeof fixtures / sizeof fixtures[0]);
}

static void test_examples_both_models(void **state)
{
    (void)state;
    both_models(examples, sizeof examples / sizeof examples[0]);
}

/* Runs loom with args (NULL-ended, after "run") plus -q; fails on a
 * nonzero exit. */
static void run_args(const char *const *args)
{
    const char *v[40];
    int n = 0;
    v[n++] = "run";
    for (int k = 0; args[k]; k++)
        v[n++] = args[k];
    v[n++] = "-q";
    v[n] = NULL;
    int rc = loomrun_wait(loomrun_tmp, loomrun_startv(loomrun_tmp, v));
    if (rc != 0)
        fail_msg("loom run -w %s: exit %d: %s", args[1], rc, loomrun_err);
}

/* Whole file into a malloc'd buffer; *len its size. */
static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *b = malloc(*len + 1);
    assert_true(fread(b, 1, *len, f) == (size_t)*len);
    fclose(f);
    return b;
}

/* The workload w on net and sys (extra arguments x, NULL-ended): the
 * reproducible JSON with and without --no-collapse must be the same bytes;
 * returns the ranks the collapsed run replayed. */
static int collapse_same(const char *w, const char *net, const char *sys, const char *const *x)
{
    const char *a = loomrun_path("collapsed.json"), *b = loomrun_path("every.json"),
               *c = loomrun_path("sim.json");
    for (int k = 0; k < 3; k++) {
        const char *v[32] = {"-w", w, "-n", net, "-s", sys, "-j", k == 0 ? a : k == 1 ? b : c};
        int n = 8;
        for (int i = 0; x && x[i]; i++)
            v[n++] = x[i];
        if (k < 2)
            v[n++] = "--reproducible";
        if (k == 1)
            v[n++] = "--no-collapse";
        v[n] = NULL;
        run_args(v);
    }
    long la, lb;
    char *ba = slurp(a, &la), *bb = slurp(b, &lb);
    if (la != lb || memcmp(ba, bb, la) != 0)
        fail_msg("%s on %s: --json --reproducible differs with --no-collapse", w, net);
    free(ba);
    free(bb);
    json_error_t je;
    json_t *j = json_load_file(c, 0, &je);
    if (j == NULL)
        fail_msg("%s: %s", c, je.text);
    int sim = (int)json_integer_value(json_object_get(json_object_get(j, "sim"), "simulated_ranks"));
    json_decref(j);
    return sim;
}

static void test_collapse_identical(void **state)
{
    (void)state;
    int collapsed = 0;
    const run *tables[2] = {fixtures, examples};
    size_t sizes[2] = {sizeof fixtures / sizeof fixtures[0], sizeof examples / sizeof examples[0]};
    for (int t = 0; t < 2; t++)
        for (size_t k = 0; k < sizes[t]; k++) {
            const run *r = &tables[t][k];
            int sim = collapse_same(r->prefix, r->net, r->sys, r->extra);
            collapsed += sim > 0 && sim < 8; /* the ASTRA-sim fixtures have 8+ ranks or 1 */
        }
    /* the tutorial's all-reduce: one file for 8 ranks, replayed once */
    assert_true(collapsed >= 2);
}

/* gen llm args into the step `name`, on a Switch of 8 x nodes GPUs with
 * rank slow (1.25 x) in its system file, replayed with and without collapse
 * (collapse_same, run options extra); returns the ranks simulated. */
static int straggler_step(const char *name, const char *const *args, int nodes, int slow,
                          const char *const *extra)
{
    char out[512], net[600], sys[600], sys2[600], text[4096];
    snprintf(out, sizeof out, "%s", loomrun_path(name));
    snprintf(net, sizeof net, "%s.net.yml", out);
    snprintf(text, sizeof text, "topology: [ Switch, Switch ]\nnpus_count: [ 8, %d ]\n"
             "bandwidth: [ 450, 50 ]\nlatency: [ 500, 2000 ]\n", nodes);
    loomrun_write(net, text);
    const char *v[64] = {"gen", "llm", "-q", "--out", out};
    int n = 5;
    for (int i = 0; args[i]; i++)
        v[n++] = args[i];
    v[n] = NULL;
    int rc = loomrun_wait(loomrun_tmp, loomrun_startv(loomrun_tmp, v));
    if (rc != 0)
        fail_msg("gen llm %s: exit %d: %s", name, rc, loomrun_err);
    snprintf(sys, sizeof sys, "%s.system.yaml", out);
    snprintf(sys2, sizeof sys2, "%s.straggler.yaml", out);
    loomrun_slurp(sys, text, sizeof text);
    snprintf(text + strlen(text), sizeof text - strlen(text), "straggler: {\"%d\": 1.25}\n", slow);
    loomrun_write(sys2, text);
    return collapse_same(out, net, sys2, extra);
}

/* Generated LLM steps: tp 2 x pp 2 x dp 2 (8 ranks, a file per stage), and
 * variants: one class per stage, 2 ranks replayed.  With rank 1 a
 * straggler no two ranks are alike: 1 is slower; 0 is its tensor-parallel
 * partner; 2 and 3 are the data-parallel partners of 0 and of 1 ({0, 2},
 * {1, 3}); ranks 4-7 receive from 0-3 down the pipeline, each from a
 * different one: all 8 replayed, and still the same results. */
static void test_collapse_generated(void **state)
{
    (void)state;
    char net[512];
    snprintf(net, sizeof net, "%s", loomrun_path("net8.yml"));
    loomrun_write(net, "topology: [ Switch, Switch ]\nnpus_count: [ 2, 4 ]\n"
                       "bandwidth: [ 450, 50 ]\nlatency: [ 500, 2000 ]\n");
    struct { const char *name, *args[12]; int sim; } g[] = {
        {"sp", {"--sequence-parallel", NULL}, 2},
        {"il", {"--schedule", "interleaved", "--virtual-stages", "2", NULL}, 2},
        {"z3", {"--zero", "3", "--overlap-grad-reduce", NULL}, 2},
    };
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        char out[512], sys[600];
        snprintf(out, sizeof out, "%s", loomrun_path(g[k].name));
        const char *v[32] = {"gen", "llm", "-q", "--preset", "llama3-8b", "--layers", "4",
                             "--tp", "2", "--pp", "2", "--dp", "2", "--global-batch", "8",
                             "--out", out};
        int n = 17;
        for (int i = 0; g[k].args[i]; i++)
            v[n++] = g[k].args[i];
        v[n] = NULL;
        int rc = loomrun_wait(loomrun_tmp, loomrun_startv(loomrun_tmp, v));
        if (rc != 0)
            fail_msg("gen llm %s: exit %d: %s", g[k].name, rc, loomrun_err);
        snprintf(sys, sizeof sys, "%s.system.yaml", out);
        assert_int_equal(collapse_same(out, net, sys, NULL), g[k].sim);
    }
    /* a straggler: rank 1 at 1.5x breaks every class (above) */
    char sys[600], sys2[600], text[4096];
    snprintf(sys, sizeof sys, "%s.system.yaml", loomrun_path("sp"));
    snprintf(sys2, sizeof sys2, "%s", loomrun_path("sp.straggler.yaml"));
    loomrun_slurp(sys, text, sizeof text);
    strncat(text, "straggler: {\"1\": 1.5}\n", sizeof text - strlen(text) - 1);
    loomrun_write(sys2, text);
    assert_int_equal(collapse_same(loomrun_path("sp"), net, sys2, NULL), 8);
    /* found by scripts/collapse-check (seed 7): with a straggler on 64
     * ranks a member's node_done in coll_done issued a collective whose
     * record grew the result's array while the loop still read the old
     * record through a pointer (a crash in the release build, a
     * heap-use-after-free under AddressSanitizer) */
    static const char *const cc7[] = {
        "--preset", "llama3-8b", "--layers", "4", "--tp", "2", "--pp", "4", "--dp", "4",
        "--micro-batch", "2", "--global-batch", "128", "--sequence-parallel", "--tp-comm-overlap",
        "--dtype", "fp8", "--fp8-recipe", "delayed", "--fp8-bf16-layers", "1,1",
        "--overlap-grad-reduce", "--cp", "2", "--cp-comm", "p2p", "--attention", "flash", NULL};
    assert_true(straggler_step("cc7", cc7, 8, 34, NULL) > 0);
    /* found by scripts/collapse-check once it required both runs to succeed
     * (seed 11): under ZeRO-3 a straggler's data-parallel stream issued a
     * prefetched all-gather before its slower gradient reduce-scatter, its
     * peers the other way, and the replay stopped on a collective mismatch;
     * streams now run in the order written, the prefetch written first */
    static const char *const cc11[] = {
        "--preset", "gpt3-175b", "--layers", "8", "--tp", "1", "--pp", "1", "--dp", "32",
        "--micro-batch", "2", "--global-batch", "64", "--dtype", "fp8", "--fp8-recipe", "current",
        "--fp8-bf16-layers", "1,1", "--zero", "3", NULL};
    static const char *const flow[] = {"--network-model", "flow", NULL};
    assert_true(straggler_step("cc11", cc11, 4, 22, flow) > 0);
}

/* Is a folder named `name` in runs[]? */
static int listed(const run *runs, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(runs[k].folder, name) == 0)
            return 1;
    return 0;
}

/* Does folder dir hold a trace (a name with ".et")? */
static int has_trace(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL)
        found = strstr(e->d_name, ".et") != NULL;
    closedir(d);
    return found;
}

static void cover(const char *root, const run *runs, size_t n, int *seen)
{
    DIR *d = opendir(root);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        if (!has_trace(path))
            continue;
        (*seen)++;
        if (!listed(runs, n, e->d_name))
            fail_msg("%s holds traces but is not run through both models here", path);
    }
    closedir(d);
}

static void test_tables_cover_every_folder(void **state)
{
    (void)state;
    int seen = 0;
    cover(FIX, fixtures, sizeof fixtures / sizeof fixtures[0], &seen);
    assert_int_equal(seen, 17); /* test/data/README.md's chakra/ table */
    seen = 0;
    cover(EX, examples, sizeof examples / sizeof examples[0], &seen);
    assert_int_equal(seen, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_cover_every_folder),
        cmocka_unit_test(test_fixtures_both_models),
        cmocka_unit_test(test_examples_both_models),
        cmocka_unit_test(test_collapse_identical),
        cmocka_unit_test(test_collapse_generated),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
