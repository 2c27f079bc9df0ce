/*
 * test_host.c: the host that launches GPU work, end to end (system key
 * host-launch-us, docs/MODEL.md 12 "The host"): `gen llm --host-launch-us`
 * writes the key, `loom run` reports the launches, and a generated step
 * becomes host-bound by the model's bounds.
 *
 * The step (2 layers of hidden 512, DP 2, --granularity kernel: one node a
 * kernel, 71 compute nodes and 1 all-reduce per rank, no CPU node: the
 * 67 of the layers, loss (the cross entropy's 6 forward and 2 backward
 * passes among them) and embeddings, and the step's zero_grad, grad_norm,
 * optimizer and param_copy; `loom trace info` on the same files, both
 * ranks, says 142) makes 72 launches a rank.  With
 * h per launch, H = 72 h is when the last launch ends, so the step, whose
 * last node starts after it, is at least H; and since every node starts at
 * most H later than it would without the host (each waits for at most
 * its launch, itself at most H, and for nodes that started at most H
 * late), the step is at most H + T0, T0 the step without the host.  At
 * h = 1000 us, H = 72 ms against T0 of a few ms: host-bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loomrun.h"

static const char net2[] = "topology: [ Switch ]\nnpus_count: [ 2 ]\nbandwidth: [ 450 ]\n"
                           "latency: [ 500 ]\n";

/* gen llm of the step into name/s, with --host-launch-us h unless h is
 * NULL; its exit code. */
static int gen(const char *name, const char *h)
{
    char out[512];
    snprintf(out, sizeof out, "%s/s", loomrun_path(name));
    if (h)
        return loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--hidden", "512",
                           "--heads", "8", "--kv-heads", "8", "--ffn", "1536", "--layers", "2",
                           "--seq", "512", "--vocab", "32000", "--dp", "2", "--global-batch", "2",
                           "--granularity", "kernel", "--host-launch-us", h, "-o", out, "-q", NULL);
    return loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--hidden", "512",
                       "--heads", "8", "--kv-heads", "8", "--ffn", "1536", "--layers", "2", "--seq",
                       "512", "--vocab", "32000", "--dp", "2", "--global-batch", "2", "--granularity",
                       "kernel", "-o", out, "-q", NULL);
}

/* Runs name/s with its system file (and one --set, or NULL) into a JSON
 * report; the parsed report (the caller frees it). */
static json_t *run(const char *name, const char *set)
{
    char w[512], s[512], j[512];
    snprintf(w, sizeof w, "%s/s", loomrun_path(name));
    snprintf(s, sizeof s, "%s/s.system.yaml", loomrun_path(name));
    snprintf(j, sizeof j, "%s/r.json", loomrun_path(name));
    int rc = set ? loomrun_run(loomrun_tmp, "run", "-w", w, "-s", s, "-n", loomrun_path("net2.yml"),
                               "--set", set, "--json", j, "-q", NULL)
                 : loomrun_run(loomrun_tmp, "run", "-w", w, "-s", s, "-n", loomrun_path("net2.yml"),
                               "--json", j, "-q", NULL);
    if (rc != 0)
        fail_msg("run %s: exit %d: %s", name, rc, loomrun_err);
    json_error_t je;
    json_t *root = json_load_file(j, 0, &je);
    if (root == NULL)
        fail_msg("%s: %s", j, je.text);
    return root;
}

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        fail_msg("no number %s in the report", k);
    return json_number_value(v);
}

static void test_gen_writes_and_bounds(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("net2.yml"), net2);
    assert_int_equal(gen("plain", NULL), 0);
    assert_int_equal(gen("h1000", "1000"), 0);
    char text[8192];
    loomrun_slurp(loomrun_path("h1000/s.system.yaml"), text, sizeof text);
    assert_non_null(strstr(text, "\nhost-launch-us: 1000\n"));
    loomrun_slurp(loomrun_path("plain/s.system.yaml"), text, sizeof text);
    assert_null(strstr(text, "host-launch-us"));

    assert_int_equal(loomrun_run(loomrun_tmp, "trace", "info", loomrun_path("plain/s"), NULL), 0);
    assert_non_null(strstr(loomrun_out, "COMP_NODE                    142"));
    assert_non_null(strstr(loomrun_out, "COMM_COLL_NODE                 2"));

    json_t *t0 = run("plain", NULL);
    assert_null(json_object_get(t0, "host_launches")); /* not modelled: absent */
    double step0 = num(t0, "step_time_ns");
    json_decref(t0);

    json_t *th = run("h1000", NULL);
    assert_int_equal((int)num(th, "host_launches"), 2 * 72);
    assert_true(num(th, "host_launch_us") == 1000);
    double H = 72 * 1000e3, step = num(th, "step_time_ns"); /* ns */
    assert_true(step >= H);
    assert_true(step <= H + step0);
    assert_true(num(th, "host_waits") > 2 * 50); /* nearly every launch */
    json_decref(th);

    /* the key at replay does the same to the plain files */
    json_t *ts = run("plain", "system.host-launch-us=1000");
    assert_true(num(ts, "step_time_ns") == step);
    json_decref(ts);
}

/* A bad value stops gen llm before it writes anything, and loom run
 * with the file and key named. */
static void test_bad_values(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("net2.yml"), net2);
    static const char *const bad[] = {"-1", "fast", "2e6", ""};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu", k);
        assert_int_equal(gen(name, bad[k]), 2);
        assert_non_null(strstr(loomrun_err, "--host-launch-us"));
        assert_int_equal(access(loomrun_path(name), F_OK), -1);
    }
    assert_int_equal(gen("ok", NULL), 0);
    char w[512], s[512];
    snprintf(w, sizeof w, "%s/s", loomrun_path("ok"));
    snprintf(s, sizeof s, "%s/s.system.yaml", loomrun_path("ok"));
    int rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-s", s, "-n", loomrun_path("net2.yml"),
                         "--set", "system.host-launch-us=-5", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "host-launch-us"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gen_writes_and_bounds),
        cmocka_unit_test(test_bad_values),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
