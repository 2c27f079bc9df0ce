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
    json_error_t je;
    json_t *j = json_load_file(json, 0, &je);
    if (j == NULL)
        fail_msg("%s: %s", json, je.text);
    double t = json_real_value(json_object_get(j, "step_time_ns"));
    json_decref(j);
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
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
