/*
 * End-to-end tests of `loom` itself: run the binary on the fixtures and on
 * broken copies of them, then check exit codes, messages, output files and
 * simulated times.  Every expected time below is computed here from the
 * closed forms in docs/MODEL.md (or compared with what ASTRA-sim printed,
 * an independent tool), never copied from loom's own output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "et_graph.h"
#include "loomrun.h"
#include "et_io.h"

#define FIX FIXTURES "/chakra"
#define CFG FIXTURES "/astra-sim-configs"


/* ---- helpers -------------------------------------------------------------- */

/* Copies <FIX>/<dir>/<name>.<r>.et for r < n into tmp as <name>.<r>.et. */
static void copy_ranks(const char *dir, const char *name, int n)
{
    for (int r = 0; r < n; r++) {
        char from[512], to[64];
        snprintf(from, sizeof from, "%s/%s/%s.%d.et", FIX, dir, name, r);
        snprintf(to, sizeof to, "%s.%d.et", name, r);
        loomrun_copy(from, loomrun_path(to));
    }
}

/* No file in loomrun_tmp whose name starts with `stem` (no half-written output). */
static void assert_no_file_like(const char *stem)
{
    DIR *d = opendir(loomrun_tmp);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, stem, strlen(stem)) == 0)
            fail_msg("leftover output file %s", e->d_name);
    closedir(d);
}

static double step_ns(json_t *j) { return json_real_value(json_object_get(j, "step_time_ns")); }

/* ---- the closed forms of docs/MODEL.md, written out independently -------- */

typedef struct sysp {
    double B;     /* link bytes/s */
    double L;     /* ns per hop */
    double delta; /* endpoint delay, ns */
    double M;     /* local memory bytes/s */
    int W;        /* waves = ceil(splits / active chunks) */
} sysp;

/* one step: W*(hops*L + delta) + m/B (+ 3m/M with a reduction), in ns */
static double step(const sysp *s, int hops, double m, int reduce)
{
    return s->W * (hops * s->L + s->delta) + m / s->B * 1e9 + (reduce ? 3 * m / s->M * 1e9 : 0);
}

static const sysp ring_sys = {50.0 * 1073741824.0, 500, 10, 1600e9, 4}; /* Ring_4chunks */
#define MIB 1048576.0

static double ring_rs(int p, double N) { return (p - 1) * step(&ring_sys, 1, N / p, 1); }
static double ring_ag_out(int p, double out) { return (p - 1) * step(&ring_sys, 1, out / p, 0); }
static double ring_ar(int p, double N) { return ring_rs(p, N) + ring_ag_out(p, N); }
static double ring_a2a(int p, double N) { return p * (p - 1) / 2.0 * step(&ring_sys, 1, N / p, 0); }

/* ---- tests: single collectives against the closed forms and ASTRA-sim ---- */

static void run_micro(const char *coll, int p, double expect_ns, double astra_ns)
{
    char dir[128], prefix[512], net[512], json[512];
    snprintf(dir, sizeof dir, "micro_%s_%dnpus_1MB", coll, p);
    snprintf(prefix, sizeof prefix, "%s/%s/%s", FIX, dir, coll);
    snprintf(net, sizeof net, "%s/Ring_%dnpus.yml", CFG, p);
    snprintf(json, sizeof json, "%s/out.json", loomrun_tmp);
    int rc = loomrun_run(loomrun_tmp, "run", "--workload", prefix, "--network", net, "--system",
                      CFG "/Ring_4chunks.json", "--json", json, "--quiet", NULL);
    if (rc != 0)
        fail_msg("loom exited %d: %s", rc, loomrun_err);
    json_t *j = loomrun_json(json);
    double got = step_ns(j);
    /* the closed form, to the picosecond loom rounds to */
    if (fabs(got - expect_ns) > 0.002)
        fail_msg("%s %d ranks: loom %.3f ns, closed form %.3f ns", coll, p, got, expect_ns);
    /* and within 0.5%% of what ASTRA-sim printed for the same files */
    if (fabs(got - astra_ns) / astra_ns > 0.005)
        fail_msg("%s %d ranks: loom %.3f ns vs ASTRA-sim %.0f ns", coll, p, got, astra_ns);
    json_t *ranks = json_object_get(j, "ranks");
    assert_int_equal(json_array_size(ranks), p);
    for (int r = 0; r < p; r++) { /* every rank finishes with the collective */
        json_t *o = json_array_get(ranks, r);
        assert_true(fabs(json_real_value(json_object_get(o, "finish_ns")) - got) < 1e-6);
        assert_true(fabs(json_real_value(json_object_get(o, "exposed_comm_ns")) - got) < 1e-6);
    }
    /* one kind, of one instance (instances are listed only with --json-detail) */
    assert_null(json_object_get(j, "collectives"));
    json_t *kinds = json_object_get(j, "collective_kinds");
    assert_int_equal(json_array_size(kinds), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(kinds, 0), "count")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(kinds, 0), "bytes")), 1048576);
    json_decref(j);
}

static void test_micro_all_reduce(void **state)
{
    (void)state;
    run_micro("all_reduce", 4, ring_ar(4, MIB), 43000);
    run_micro("all_reduce", 8, ring_ar(8, MIB), 64440);
    run_micro("all_reduce", 16, ring_ar(16, MIB), 99640);
}

static void test_micro_reduce_scatter(void **state)
{
    (void)state;
    run_micro("reduce_scatter", 4, ring_rs(4, MIB), 22240);
    run_micro("reduce_scatter", 8, ring_rs(8, MIB), 33080);
    run_micro("reduce_scatter", 16, ring_rs(16, MIB), 50740);
}

static void test_micro_all_gather(void **state)
{
    (void)state; /* comm_size is each rank's contribution: output p * 1 MiB */
    run_micro("all_gather", 4, ring_ag_out(4, 4 * MIB), 64744);
    run_micro("all_gather", 8, ring_ag_out(8, 8 * MIB), 151016);
    run_micro("all_gather", 16, ring_ag_out(16, 16 * MIB), 323560);
}

static void test_micro_all_to_all(void **state)
{
    (void)state;
    run_micro("all_to_all", 4, ring_a2a(4, MIB), 41560);
    run_micro("all_to_all", 8, ring_a2a(8, MIB), 125480);
    run_micro("all_to_all", 16, ring_a2a(16, MIB), 391240);
}

/* --set overrides: doubling the bandwidth and changing the splits must give
 * the closed form with those values. */
static void test_set_overrides(void **state)
{
    (void)state;
    const char *json = loomrun_path("set.json");
    int rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/micro_all_reduce_8npus_1MB/all_reduce", "-n",
                      CFG "/Ring_8npus.yml", "-s", CFG "/Ring_4chunks.json", "--set",
                      "network.bandwidth[0]=100", "--set", "system.preferred-dataset-splits=2",
                      "--json", json, "-q", NULL);
    assert_int_equal(rc, 0);
    sysp s = ring_sys;
    s.B *= 2;
    s.W = 2;
    int p = 8;
    double expect = (p - 1) * step(&s, 1, MIB / p, 1) + (p - 1) * step(&s, 1, MIB / p, 0);
    json_t *j = loomrun_json(json);
    assert_true(fabs(step_ns(j) - expect) < 0.002);
    json_decref(j);
}

/* ASTRA-sim's own option spellings, with and without a subcommand. */
static void test_astra_spellings(void **state)
{
    (void)state;
    const char *json = loomrun_path("astra.json");
    char jopt[600];
    snprintf(jopt, sizeof jopt, "--json=%s", json);
    int rc = loomrun_run(loomrun_tmp, "--workload-configuration=" FIX "/micro_all_reduce_4npus_1MB/all_reduce",
                      "--system-configuration=" CFG "/Ring_4chunks.json",
                      "--network-configuration=" CFG "/Ring_4npus.yml",
                      "--remote-memory-configuration=" CFG "/no_memory_expansion.json",
                      "--comm-group-configuration=empty", jopt, "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    /* an ASTRA-sim command line rounds as ASTRA-sim does (timing:
     * astra-sim): 4 chunks x (6 steps x (500 + 10 + floor(m/B)) + 3 x 3
     * floor(m/M) + 10) ns with m = 1 MiB / 16, B = 50 GiB/s, M = 1600 GB/s:
     * 43,000 ns, the number ASTRA-sim printed (test/data/README.md) */
    double m = MIB / 16, B = 50 * 1073741824.0 / 1e9, M = 1600;
    double astra = 4 * (6 * (510 + floor(m / B)) + 9 * floor(m / M) + 10);
    assert_true(astra == 43000);
    json_t *j = loomrun_json(json);
    assert_true(fabs(step_ns(j) - astra) < 0.002);
    json_decref(j);
    /* as loom run, the same inputs give loom's closed form */
    rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/micro_all_reduce_4npus_1MB/all_reduce",
                     "-s", CFG "/Ring_4chunks.json", "-n", CFG "/Ring_4npus.yml", "-j", json, "-q",
                     NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    j = loomrun_json(json);
    assert_true(fabs(step_ns(j) - ring_ar(4, MIB)) < 0.002);
    json_decref(j);
}

/* The tutorial's 1 MiB all-reduce with direct on FullyConnected 8 (its
 * system file: S=4, k=1, delta=10 ns, local-mem-bw 50 GB/s): RS and AG are
 * one step each; the RS sums 8 pieces of N/8 in one pass, (p+1)N/p bytes of
 * memory traffic.  ASTRA-sim printed 4,120 ns here, the time of a 0-byte
 * collective (docs/MODEL.md explains). */
static void test_tutorial_direct(void **state)
{
    (void)state;
    const char *d = FIX "/tutorial_allreduce_8npus_2dim";
    char w[512], n[512], s_[512];
    snprintf(w, sizeof w, "%s/allreduce", d);
    snprintf(n, sizeof n, "%s/FullyConnected_8.yml", d);
    snprintf(s_, sizeof s_, "%s/Direct_sys.json", d);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", n, "-s", s_, "-j", loomrun_path("fc.json"), "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    sysp s = {50.0 * 1073741824.0, 500, 10, 50e9, 4};
    double p = 8, N = MIB;
    double expect = 2 * s.W * (s.L + s.delta) + 2 * (N / p) / s.B * 1e9 + (p + 1) * N / p / s.M * 1e9;
    json_t *j = loomrun_json(loomrun_path("fc.json"));
    if (fabs(step_ns(j) - expect) > 0.002)
        fail_msg("loom %.3f ns, closed form %.3f ns", step_ns(j), expect);
    json_decref(j);
    /* its involved_dim has two entries on one dimension: the warning counts
     * the one collective, not its 8 members' nodes */
    rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", n, "-s", s_, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(loomrun_err, "1 collective list more involved_dim entries"));
}

/* MSCCL-style ring all-reduce spelled out as sends, receives and reduction
 * kernels: each rank's 14 transfers of 128 KiB and 7 reductions form one
 * chain, so the step is 14 neighbour messages (L + m/B + delta each) plus
 * the reductions' trace durations.  ASTRA-sim's congestion-aware backend
 * printed 90,174 ns for it. */
static void test_custom_ring_sends(void **state)
{
    (void)state;
    int rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/custom_ring_allreduce_8npus_1MB/custom_allreduce", "-n",
                      CFG "/Ring_8npus.yml", "-s", FIX "/custom_ring_allreduce_8npus_1MB/system.json",
                      "-j", loomrun_path("cr.json"), "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    et_graph *g = et_graph_load(FIX "/custom_ring_allreduce_8npus_1MB/custom_allreduce.0.et",
                                &(loom_err){0});
    assert_non_null(g);
    double comp_us = 0;
    int sends = 0;
    uint64_t m = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (g->nodes[i].type == ET_COMP_NODE)
            comp_us += (double)g->nodes[i].duration_ns / 1000;
        if (g->nodes[i].type == ET_COMM_SEND_NODE) {
            sends++;
            m = g->nodes[i].comm_size;
        }
    }
    et_graph_free(g);
    assert_int_equal(sends, 14);
    double msg = 500 + (double)m / (50.0 * 1073741824.0) * 1e9 + 10;
    double expect = sends * msg + comp_us * 1000;
    json_t *j = loomrun_json(loomrun_path("cr.json"));
    if (fabs(step_ns(j) - expect) > 0.01)
        fail_msg("loom %.3f ns, by hand %.3f ns", step_ns(j), expect);
    assert_true(fabs(step_ns(j) - 90174) / 90174 < 0.005);
    assert_int_equal(json_integer_value(json_object_get(j, "p2p_messages")), 112);
    json_decref(j);
}

/* ---- bad input: a clear message, a documented exit code, no output file --- */

static void expect_failure(int rc, int code, const char *needle, const char *json_stem)
{
    if (rc != code)
        fail_msg("expected exit %d, got %d; stderr: %s", code, rc, loomrun_err);
    if (strstr(loomrun_err, needle) == NULL)
        fail_msg("stderr does not name '%s': %s", needle, loomrun_err);
    if (json_stem)
        assert_no_file_like(json_stem);
}

static void test_missing_rank_file(void **state)
{
    (void)state;
    copy_ranks("micro_all_reduce_4npus_1MB", "all_reduce", 4);
    unlink(loomrun_path("all_reduce.2.et"));
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("all_reduce"), "-n", CFG "/Ring_4npus.yml", "-s",
                      CFG "/Ring_4chunks.json", "-j", loomrun_path("bad1.json"), NULL);
    expect_failure(rc, 3, "all_reduce.2.et", "bad1.json");
}

static void test_truncated_and_garbage_trace(void **state)
{
    (void)state;
    copy_ranks("micro_all_reduce_4npus_1MB", "all_reduce", 4);
    /* truncate rank 1 in the middle of its node message */
    assert_int_equal(truncate(loomrun_path("all_reduce.1.et"), 40), 0);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("all_reduce"), "-n", CFG "/Ring_4npus.yml", "-s",
                      CFG "/Ring_4chunks.json", "-j", loomrun_path("bad2.json"), NULL);
    expect_failure(rc, 3, "all_reduce.1.et", "bad2.json");
    /* garbage bytes in rank 3 */
    copy_ranks("micro_all_reduce_4npus_1MB", "all_reduce", 4);
    loomrun_write(loomrun_path("all_reduce.3.et"), "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01garbage");
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("all_reduce"), "-n", CFG "/Ring_4npus.yml", "-s",
                  CFG "/Ring_4chunks.json", "-j", loomrun_path("bad2.json"), NULL);
    expect_failure(rc, 3, "all_reduce.3.et", "bad2.json");
    /* an empty file is a truncated trace, not an empty workload */
    copy_ranks("micro_all_reduce_4npus_1MB", "all_reduce", 4);
    loomrun_write(loomrun_path("all_reduce.0.et"), "");
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("all_reduce"), "-n", CFG "/Ring_4npus.yml", "-s",
                  CFG "/Ring_4chunks.json", NULL);
    assert_int_not_equal(rc, 0);
}

static void test_config_errors(void **state)
{
    (void)state;
    const char *w = FIX "/micro_all_reduce_4npus_1MB/all_reduce";
    /* a misspelled key in the network file */
    loomrun_write(loomrun_path("typo.yml"), "topology: [ Ring ]\nnpus_count: [ 4 ]\nbandwith: [ 50 ]\n"
                                  "latency: [ 500 ]\n");
    int rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", loomrun_path("typo.yml"), "-s", CFG "/Ring_4chunks.json",
                      "-j", loomrun_path("bad3.json"), NULL);
    expect_failure(rc, 2, "bandwith", "bad3.json");
    assert_non_null(strstr(loomrun_err, "typo.yml"));
    /* zero and negative bandwidth */
    loomrun_write(loomrun_path("zero.yml"), "topology: [ Ring ]\nnpus_count: [ 4 ]\nbandwidth: [ 0 ]\n"
                                  "latency: [ 500 ]\n");
    rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", loomrun_path("zero.yml"), "-s", CFG "/Ring_4chunks.json", NULL);
    expect_failure(rc, 2, "bandwidth", NULL);
    rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", CFG "/Ring_4npus.yml", "-s", CFG "/Ring_4chunks.json",
                  "--set", "network.bandwidth[0]=-5", NULL);
    expect_failure(rc, 2, "bandwidth", NULL);
    /* an unknown key on the command line */
    rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", CFG "/Ring_4npus.yml", "-s", CFG "/Ring_4chunks.json",
                  "--set", "system.endpoint-dealy=5", NULL);
    expect_failure(rc, 2, "endpoint-dealy", NULL);
    /* an unknown algorithm */
    loomrun_write(loomrun_path("sys.json"), "{\"all-reduce-implementation\": [\"rnig\"], \"local-mem-bw\": 50}");
    rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", CFG "/Ring_4npus.yml", "-s", loomrun_path("sys.json"), NULL);
    expect_failure(rc, 2, "rnig", NULL);
    /* malformed JSON names the file and line */
    loomrun_write(loomrun_path("broken.json"), "{\"local-mem-bw\": 50,\n  \"endpoint-delay\": [\n");
    rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", CFG "/Ring_4npus.yml", "-s", loomrun_path("broken.json"), NULL);
    expect_failure(rc, 2, "broken.json", NULL);
    /* missing file */
    rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", loomrun_path("nope.yml"), "-s", CFG "/Ring_4chunks.json", NULL);
    expect_failure(rc, 2, "nope.yml", NULL);
    /* usage */
    rc = loomrun_run(loomrun_tmp, "run", "-w", w, NULL);
    expect_failure(rc, 2, "--network", NULL);
    rc = loomrun_run(loomrun_tmp, "frobnicate", NULL);
    expect_failure(rc, 2, "frobnicate", NULL);
}

/* Rank 3's trace has no collective: the others wait forever.  loom must say
 * so, naming the waiting nodes and the rank that never joined. */
static void test_collective_never_joined(void **state)
{
    (void)state;
    copy_ranks("micro_all_reduce_4npus_1MB", "all_reduce", 4);
    loom_err err = {0};
    et_writer *w = et_writer_open(loomrun_path("all_reduce.3.et"), 0, &err);
    assert_non_null(w);
    ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
    md.version = "0.0.4";
    assert_int_equal(et_writer_metadata(w, &md, &err), 0);
    assert_int_equal(et_writer_close(w, &err), 0);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("all_reduce"), "-n", CFG "/Ring_4npus.yml", "-s",
                      CFG "/Ring_4chunks.json", "-j", loomrun_path("dead.json"), NULL);
    expect_failure(rc, 4, "never issue", "dead.json");
    assert_non_null(strstr(loomrun_err, "rank 0"));
    assert_non_null(strstr(loomrun_err, " 3 "));
}

/* A receive whose send never comes. */
static void test_recv_without_send(void **state)
{
    (void)state;
    loom_err err = {0};
    for (int r = 0; r < 2; r++) {
        char name[32];
        snprintf(name, sizeof name, "p2p.%d.et", r);
        et_writer *w = et_writer_open(loomrun_path(name), 0, &err);
        assert_non_null(w);
        ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
        md.version = "1.0.0";
        et_writer_metadata(w, &md, &err);
        if (r == 1) {
            ChakraProtoMsg__AttributeProto a[3] = {CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT,
                                                   CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT,
                                                   CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT};
            const char *names[3] = {"comm_src", "comm_tag", "comm_size"};
            for (int k = 0; k < 3; k++) {
                a[k].name = (char *)names[k];
                a[k].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL;
            }
            a[0].int64_val = 0;
            a[1].int64_val = 7;
            a[2].int64_val = 4096;
            ChakraProtoMsg__AttributeProto *ap[3] = {&a[0], &a[1], &a[2]};
            ChakraProtoMsg__Node n = CHAKRA_PROTO_MSG__NODE__INIT;
            n.id = 42;
            n.name = "recv_from_0";
            n.type = CHAKRA_PROTO_MSG__NODE_TYPE__COMM_RECV_NODE;
            n.n_attr = 3;
            n.attr = ap;
            assert_int_equal(et_writer_node(w, &n, &err), 0);
        }
        assert_int_equal(et_writer_close(w, &err), 0);
    }
    loomrun_write(loomrun_path("ring2.yml"), "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\n"
                                   "latency: [ 500 ]\n");
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("p2p"), "-n", loomrun_path("ring2.yml"), "-s",
                      CFG "/Ring_4chunks.json", NULL);
    expect_failure(rc, 4, "no matching send", NULL);
    assert_non_null(strstr(loomrun_err, "node 42"));
}

/* ---- traces written here: communicators, involved_dim, memory, roofline -- */

typedef struct tnode {
    uint64_t id;        /* node id */
    int type;           /* ChakraProtoMsg NodeType */
    uint64_t dur_us;    /* duration_micros */
    uint64_t dep;       /* one data dep (id), 0 = none */
    int ctype;          /* comm_type, -1 = absent */
    int64_t size;       /* comm_size, -1 = absent */
    const char *pg;     /* pg_name or NULL */
    int ndims;          /* involved_dim entries */
    int dims[4];        /* involved_dim values */
    int64_t ops;        /* num_ops, -1 = absent */
    int64_t tsize;      /* tensor_size, -1 = absent */
} tnode;

static void write_trace(const char *path, const tnode *nodes, int n)
{
    loom_err err = {0};
    et_writer *w = et_writer_open(path, 0, &err);
    assert_non_null(w);
    ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
    md.version = "1.0.0";
    assert_int_equal(et_writer_metadata(w, &md, &err), 0);
    for (int k = 0; k < n; k++) {
        const tnode *t = &nodes[k];
        ChakraProtoMsg__AttributeProto a[8];
        ChakraProtoMsg__AttributeProto *ap[8];
        ChakraProtoMsg__BoolList bl = CHAKRA_PROTO_MSG__BOOL_LIST__INIT;
        protobuf_c_boolean bv[4];
        int na = 0;
#define ATTR_I(nm, v)                                                                              \
    do {                                                                                           \
        a[na] = (ChakraProtoMsg__AttributeProto)CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT;           \
        a[na].name = nm;                                                                           \
        a[na].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL;                     \
        a[na].int64_val = (v);                                                                     \
        ap[na] = &a[na];                                                                           \
        na++;                                                                                      \
    } while (0)
        if (t->ctype >= 0)
            ATTR_I("comm_type", t->ctype);
        if (t->size >= 0)
            ATTR_I("comm_size", t->size);
        if (t->ops >= 0)
            ATTR_I("num_ops", t->ops);
        if (t->tsize >= 0)
            ATTR_I("tensor_size", t->tsize);
        if (t->pg) {
            a[na] = (ChakraProtoMsg__AttributeProto)CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT;
            a[na].name = "pg_name";
            a[na].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_STRING_VAL;
            a[na].string_val = (char *)t->pg;
            ap[na] = &a[na];
            na++;
        }
        if (t->ndims) {
            for (int d = 0; d < t->ndims; d++)
                bv[d] = t->dims[d];
            bl.n_values = t->ndims;
            bl.values = bv;
            a[na] = (ChakraProtoMsg__AttributeProto)CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT;
            a[na].name = "involved_dim";
            a[na].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_BOOL_LIST;
            a[na].bool_list = &bl;
            ap[na] = &a[na];
            na++;
        }
#undef ATTR_I
        ChakraProtoMsg__Node nd = CHAKRA_PROTO_MSG__NODE__INIT;
        uint64_t dep = t->dep;
        nd.id = t->id;
        nd.name = "n";
        nd.type = t->type;
        nd.duration_micros = t->dur_us;
        if (t->dep) {
            nd.n_data_deps = 1;
            nd.data_deps = &dep;
        }
        nd.n_attr = na;
        nd.attr = ap;
        assert_int_equal(et_writer_node(w, &nd, &err), 0);
    }
    assert_int_equal(et_writer_close(w, &err), 0);
}

#define COLL CHAKRA_PROTO_MSG__NODE_TYPE__COMM_COLL_NODE
#define COMP CHAKRA_PROTO_MSG__NODE_TYPE__COMP_NODE

/* Ring 4 x Ring 2 (8 ranks).  Groups "1" = {0..3} and "2" = {4..7} lie
 * along dimension 0; each all-reduces 1 MiB after a 10 us kernel, then all
 * 8 ranks all-reduce 1 MiB with involved_dim [true, false]: dimension 0
 * only.  Each collective is the 4-rank ring closed form. */
static void test_comm_groups_and_involved_dim(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("r42.yml"), "topology: [ Ring, Ring ]\nnpus_count: [ 4, 2 ]\n"
                                 "bandwidth: [ 50, 50 ]\nlatency: [ 500, 500 ]\n");
    loomrun_write(loomrun_path("groups.json"), "{\"1\": [0, 1, 2, 3], \"2\": [7, 6, 5, 4]}");
    /* Ring_4chunks.json's settings, one ring per dimension */
    loomrun_write(loomrun_path("sys2.json"),
               "{\"endpoint-delay\": 10, \"active-chunks-per-dimension\": 1,\n"
               " \"preferred-dataset-splits\": 4, \"local-mem-bw\": 1600,\n"
               " \"all-reduce-implementation\": [\"ring\", \"ring\"],\n"
               " \"all-gather-implementation\": [\"ring\", \"ring\"],\n"
               " \"reduce-scatter-implementation\": [\"ring\", \"ring\"],\n"
               " \"all-to-all-implementation\": [\"ring\", \"ring\"]}");
    for (int r = 0; r < 8; r++) {
        tnode t[3] = {
            {.id = 10, .type = COMP, .dur_us = 10, .ctype = -1, .size = -1, .ops = -1, .tsize = -1},
            {.id = 11, .type = COLL, .dep = 10, .ctype = 0, .size = 1048576, .pg = r < 4 ? "1" : "2",
             .ops = -1, .tsize = -1},
            {.id = 12, .type = COLL, .dep = 11, .ctype = 0, .size = 1048576, .ndims = 2,
             .dims = {1, 0}, .ops = -1, .tsize = -1},
        };
        char name[32];
        snprintf(name, sizeof name, "grp.%d.et", r);
        write_trace(loomrun_path(name), t, 3);
    }
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("grp"), "-n", loomrun_path("r42.yml"), "-s",
                      loomrun_path("sys2.json"), "-g", loomrun_path("groups.json"), "-j", loomrun_path("grp.json"),
                      "--json-detail", "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    json_t *j = loomrun_json(loomrun_path("grp.json"));
    double expect = 10000 + 2 * ring_ar(4, MIB);
    if (fabs(step_ns(j) - expect) > 0.002)
        fail_msg("loom %.3f ns, closed form %.3f ns", step_ns(j), expect);
    json_t *colls = json_object_get(j, "collectives");
    assert_int_equal(json_array_size(colls), 3); /* one per group, then the all-ranks one */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(colls, 0), "ranks")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(colls, 2), "ranks")), 8);
    json_t *r0 = json_array_get(json_object_get(j, "ranks"), 0);
    assert_true(fabs(json_real_value(json_object_get(r0, "compute_ns")) - 10000) < 1e-6);
    assert_true(fabs(json_real_value(json_object_get(r0, "exposed_comm_ns")) - 2 * ring_ar(4, MIB)) < 0.002);
    json_decref(j);

    /* pg_name naming no group, and a rank outside its group */
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("grp"), "-n", loomrun_path("r42.yml"), "-s", loomrun_path("sys2.json"),
                  NULL);
    expect_failure(rc, 3, "pg_name '1'", NULL);
    loomrun_write(loomrun_path("groups2.json"), "{\"1\": [0, 1, 2], \"2\": [3, 4, 5, 6, 7]}");
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("grp"), "-n", loomrun_path("r42.yml"), "-s", loomrun_path("sys2.json"),
                  "-g", loomrun_path("groups2.json"), NULL);
    expect_failure(rc, 3, "does not include it", NULL);
}

/* Two communicators interleaved on one Ring 8, {0,2,4,6} and {1,3,5,7}, each
 * all-reducing 1 MiB at once.  Each ring step spans 2 hops, and every link
 * carries one step of each group.  The analytical model ignores that: each
 * group's closed form with h = 2.  The flow model shares each link between
 * the two groups, so each gets half the bandwidth: exactly the closed form
 * at 25 GB/s. */
static void test_flow_model_contention(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("inter.json"), "{\"a\": [0, 2, 4, 6], \"b\": [1, 3, 5, 7]}");
    for (int r = 0; r < 8; r++) {
        tnode t = {.id = 1, .type = COLL, .ctype = 0, .size = 1048576, .pg = r % 2 ? "b" : "a",
                   .ops = -1, .tsize = -1};
        char name[32];
        snprintf(name, sizeof name, "inter.%d.et", r);
        write_trace(loomrun_path(name), &t, 1);
    }
    double p = 4, m = MIB / p;
    sysp s = ring_sys;
    double ana50 = (p - 1) * step(&s, 2, m, 1) + (p - 1) * step(&s, 2, m, 0);
    s.B /= 2;
    double ana25 = (p - 1) * step(&s, 2, m, 1) + (p - 1) * step(&s, 2, m, 0);
    const char *models[2] = {"system.network-model=analytical", "system.network-model=flow"};
    double want[2] = {ana50, ana25};
    for (int k = 0; k < 2; k++) {
        int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("inter"), "-n", CFG "/Ring_8npus.yml", "-s",
                          CFG "/Ring_4chunks.json", "-g", loomrun_path("inter.json"), "--set", models[k],
                          "-j", loomrun_path("inter.out.json"), "-q", NULL);
        if (rc != 0)
            fail_msg("exit %d: %s", rc, loomrun_err);
        json_t *j = loomrun_json(loomrun_path("inter.out.json"));
        if (fabs(step_ns(j) - want[k]) > 0.01)
            fail_msg("%s: loom %.3f ns, expected %.3f ns", models[k], step_ns(j), want[k]);
        json_decref(j);
    }
}

/* Role-named communicators: `loom gen llm --groups role` writes one file
 * per pipeline stage, whose pg_names ("tp", "dp") and pipeline peers ("pp",
 * an index in the group) the comm-group file's {stride, size} rules resolve
 * per rank.  The same step generated with one explicit group per instance
 * (one file per rank, global ranks) must replay to the same figures. */
static void test_role_groups_equal_explicit(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("n8.yml"), "topology: [ Switch, Switch ]\nnpus_count: [ 2, 4 ]\n"
                                "bandwidth: [ 300, 25 ]\nlatency: [ 500, 1000 ]\n");
    const char *modes[2] = {"explicit", "role"};
    double step[2];
    json_t *ranks[2];
    for (int k = 0; k < 2; k++) {
        char out[400], sys[512], json[512];
        snprintf(out, sizeof out, "%s/%s/l", loomrun_tmp, modes[k]);
        snprintf(sys, sizeof sys, "%s.system.yaml", out);
        snprintf(json, sizeof json, "%s.out.json", out);
        int rc = loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--layers", "4", "--tp", "2",
                          "--pp", "2", "--dp", "2", "--global-batch", "8", "--micro-batch", "1",
                          "--groups", modes[k], "--out", out, NULL);
        if (rc != 0)
            fail_msg("gen %s: exit %d: %s", modes[k], rc, loomrun_err);
        rc = loomrun_run(loomrun_tmp, "run", "-w", out, "-s", sys, "-n", loomrun_path("n8.yml"), "-j", json, "-q", NULL);
        if (rc != 0)
            fail_msg("run %s: exit %d: %s", modes[k], rc, loomrun_err);
        json_t *j = loomrun_json(json);
        step[k] = step_ns(j);
        ranks[k] = json_incref(json_object_get(j, "ranks"));
        int distinct = (int)json_integer_value(json_object_get(json_object_get(j, "sim"),
                                                               "distinct_traces"));
        assert_int_equal(distinct, k == 0 ? 8 : 2); /* role: one file per stage */
        json_decref(j);
    }
    assert_true(step[0] > 0);
    assert_true(step[0] == step[1]);
    assert_true(json_equal(ranks[0], ranks[1]));
    json_decref(ranks[0]);
    json_decref(ranks[1]);
    /* a rule whose groups run past the ranks is refused, naming the group */
    loomrun_write(loomrun_path("badrule.json"), "{\"tp\": {\"stride\": 1, \"size\": 3}, "
                                      "\"dp\": {\"stride\": 2, \"size\": 2}, "
                                      "\"pp\": {\"stride\": 4, \"size\": 2}}");
    char w[400], sys[512];
    snprintf(w, sizeof w, "%s/role/l", loomrun_tmp);
    snprintf(sys, sizeof sys, "%s.system.yaml", w);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-s", sys, "-n", loomrun_path("n8.yml"), "-g", loomrun_path("badrule.json"),
                      "-q", NULL);
    expect_failure(rc, 2, "'tp'", NULL);
}

/* Two ranks issue different collectives as their first on the same
 * communicator: a simulation error naming both nodes. */
static void test_collective_mismatch(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("ring2.yml"), "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\n"
                                   "latency: [ 500 ]\n");
    tnode a = {.id = 1, .type = COLL, .ctype = 0, .size = 4096, .ops = -1, .tsize = -1};
    tnode b = {.id = 2, .type = COLL, .ctype = 2, .size = 4096, .ops = -1, .tsize = -1};
    write_trace(loomrun_path("mm.0.et"), &a, 1);
    write_trace(loomrun_path("mm.1.et"), &b, 1);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("mm"), "-n", loomrun_path("ring2.yml"), "-s",
                      CFG "/Ring_4chunks.json", "-j", loomrun_path("mm.json"), NULL);
    expect_failure(rc, 4, "mismatch", "mm.json");
    assert_non_null(strstr(loomrun_err, "ALL_GATHER"));
}

/* Memory nodes move tensor_size at local-mem-bw; the roofline model takes
 * max(num_ops / peak, tensor_size / mem_bw); a CPU-less single rank. */
static void test_memory_and_roofline(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("one.yml"), "topology: [ Switch ]\nnpus_count: [ 1 ]\nbandwidth: [ 50 ]\n"
                                 "latency: [ 500 ]\n");
    /* local-mem-bw 1600 GB/s (10^9), peak-perf 900 TFLOP/s */
    loomrun_write(loomrun_path("roof.json"), "{\"local-mem-bw\": 1600, \"roofline-enabled\": 1, "
                                   "\"peak-perf\": 900}");
    tnode t[3] = {
        {.id = 1, .type = CHAKRA_PROTO_MSG__NODE_TYPE__MEM_LOAD_NODE, .ctype = -1, .size = -1,
         .ops = -1, .tsize = 16000000},                         /* 16 MB / 1600e9 = 10 us */
        {.id = 2, .type = COMP, .dep = 1, .dur_us = 999, .ctype = -1, .size = -1,
         .ops = 9000000000LL, .tsize = 1000},                  /* 9e9 / 900e12 = 10 us */
        {.id = 3, .type = COMP, .dep = 2, .dur_us = 999, .ctype = -1, .size = -1,
         .ops = 1000, .tsize = 32000000},                      /* memory bound: 20 us */
    };
    write_trace(loomrun_path("roof.0.et"), t, 3);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("roof"), "-n", loomrun_path("one.yml"), "-s", loomrun_path("roof.json"),
                      "-j", loomrun_path("roof.out.json"), "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    json_t *j = loomrun_json(loomrun_path("roof.out.json"));
    assert_true(fabs(step_ns(j) - 40000) < 0.002);
    json_t *r0 = json_array_get(json_object_get(j, "ranks"), 0);
    assert_true(fabs(json_real_value(json_object_get(r0, "mem_ns")) - 10000) < 0.002);
    assert_true(fabs(json_real_value(json_object_get(r0, "compute_ns")) - 30000) < 0.002);
    json_decref(j);
    /* roofline without peak-perf is a configuration error */
    loomrun_write(loomrun_path("roof2.json"), "{\"local-mem-bw\": 1600, \"roofline-enabled\": 1}");
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("roof"), "-n", loomrun_path("one.yml"), "-s", loomrun_path("roof2.json"), NULL);
    expect_failure(rc, 2, "peak-perf", NULL);
}

/* ---- outputs: timeline, CSV, determinism --------------------------------- */

/* The timeline parses as JSON; it has one complete slice per node of every
 * rank, slices on one thread never partly overlap, and each collective's
 * members are chained by flow arrows (members - 1 pairs). */
static void test_timeline_and_csv(void **state)
{
    (void)state;
    const char *w = FIX "/tutorial_mlp_model_parallel_32npus/MLP_ModelParallel";
    int rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", FIX "/tutorial_mlp_model_parallel_32npus/DGX_H100-32.yml",
                      "-s", FIX "/tutorial_mlp_model_parallel_32npus/DGX_H100.json", "--timeline",
                      loomrun_path("tl.json.gz"), "--csv", loomrun_path("ranks.csv"), "--csv-collectives",
                      loomrun_path("colls.csv"), "-j", loomrun_path("tl_run.json"), "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    /* gzip by name: jansson reads it through zlib's transparent reader */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' > '%s'", loomrun_path("tl.json.gz"), loomrun_path("tl.json"));
    assert_int_equal(system(cmd), 0);
    json_t *tl = loomrun_json(loomrun_path("tl.json"));
    json_t *evs = json_object_get(tl, "traceEvents");
    assert_non_null(evs);
    size_t slices = 0, starts = 0, finishes = 0;
    enum { R = 32, T = 6, MAXS = 64 };
    static double beg[R][T][MAXS], end_[R][T][MAXS];
    static int cnt[R][T];
    memset(cnt, 0, sizeof cnt);
    for (size_t k = 0; k < json_array_size(evs); k++) {
        json_t *e = json_array_get(evs, k);
        const char *ph = json_string_value(json_object_get(e, "ph"));
        if (strcmp(ph, "X") == 0) {
            int pid = (int)json_integer_value(json_object_get(e, "pid"));
            int tid = (int)json_integer_value(json_object_get(e, "tid"));
            assert_true(pid >= 0 && pid < R && tid >= 1 && tid < T);
            double ts = json_real_value(json_object_get(e, "ts"));
            double du = json_real_value(json_object_get(e, "dur"));
            assert_true(du >= 0);
            assert_true(cnt[pid][tid] < MAXS);
            beg[pid][tid][cnt[pid][tid]] = ts;
            end_[pid][tid][cnt[pid][tid]++] = ts + du;
            slices++;
        } else if (strcmp(ph, "s") == 0) {
            starts++;
        } else if (strcmp(ph, "f") == 0) {
            finishes++;
        }
    }
    /* 29 nodes per rank (loom trace info), 32 ranks */
    assert_int_equal(slices, 32 * 29);
    /* 11 collectives over all 32 ranks: 31 links each */
    assert_int_equal(starts, 11 * 31);
    assert_int_equal(finishes, 11 * 31);
    for (int r = 0; r < R; r++) /* no two slices of one thread partly overlap */
        for (int t = 1; t < T; t++)
            for (int a = 0; a < cnt[r][t]; a++)
                for (int b = 0; b < cnt[r][t]; b++) {
                    if (a == b)
                        continue;
                    int disjoint = end_[r][t][a] <= beg[r][t][b] + 1e-6 || end_[r][t][b] <= beg[r][t][a] + 1e-6;
                    int nested = (beg[r][t][a] >= beg[r][t][b] - 1e-6 && end_[r][t][a] <= end_[r][t][b] + 1e-6) ||
                                 (beg[r][t][b] >= beg[r][t][a] - 1e-6 && end_[r][t][b] <= end_[r][t][a] + 1e-6);
                    if (!disjoint && !nested)
                        fail_msg("rank %d thread %d: slices partly overlap", r, t);
                }
    json_decref(tl);

    /* CSV: a header and one row per rank; per collective */
    FILE *f = fopen(loomrun_path("ranks.csv"), "r");
    assert_non_null(f);
    char line[1024];
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines++;
    fclose(f);
    assert_int_equal(lines, 1 + 32);
    f = fopen(loomrun_path("colls.csv"), "r");
    assert_non_null(f);
    lines = 0;
    while (fgets(line, sizeof line, f))
        lines++;
    fclose(f);
    assert_int_equal(lines, 1 + 11);
}

/* The same run twice gives byte-identical JSON with --reproducible. */
static void test_deterministic_json(void **state)
{
    (void)state;
    const char *w = FIX "/legacy_resnet50_dp_64npus/resnet50_DataParallel";
    for (int k = 0; k < 2; k++) {
        int rc = loomrun_run(loomrun_tmp, "run", "-w", w, "-n", FIX "/legacy_resnet50_dp_64npus/network.yml", "-s",
                          FIX "/legacy_resnet50_dp_64npus/system.json", "-j",
                          loomrun_path(k ? "det2.json" : "det1.json"), "--reproducible", "-q", NULL);
        assert_int_equal(rc, 0);
    }
    static char a[1 << 20], b[1 << 20];
    loomrun_slurp(loomrun_path("det1.json"), a, sizeof a);
    loomrun_slurp(loomrun_path("det2.json"), b, sizeof b);
    assert_true(strlen(a) > 1000);
    assert_string_equal(a, b);
}

/* ---- resource limits: absurd inputs end with a clear error ---------------- */

/* Two nodes: `first` (id, type, duration, comm_size as uint64) and a
 * 5 us kernel with id first-1 that depends on it. */
static void write_pair(const char *path, uint64_t id, int type, uint64_t dur, uint64_t csize)
{
    loom_err e = {0};
    et_writer *w = et_writer_open(path, 0, &e);
    assert_non_null(w);
    ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
    md.version = "1.0.0";
    et_writer_metadata(w, &md, &e);
    ChakraProtoMsg__AttributeProto a[2] = {CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT,
                                           CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT};
    a[0].name = "comm_type";
    a[0].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL;
    a[1].name = "comm_size";
    a[1].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_UINT64_VAL;
    a[1].uint64_val = csize;
    ChakraProtoMsg__AttributeProto *ap[2] = {&a[0], &a[1]};
    ChakraProtoMsg__Node n = CHAKRA_PROTO_MSG__NODE__INIT;
    n.id = id;
    n.name = "first";
    n.type = type;
    n.duration_micros = dur;
    if (type == COLL) {
        n.n_attr = 2;
        n.attr = ap;
    }
    assert_int_equal(et_writer_node(w, &n, &e), 0);
    ChakraProtoMsg__Node m = CHAKRA_PROTO_MSG__NODE__INIT;
    uint64_t dep = id;
    m.id = id - 1;
    m.name = "after";
    m.type = COMP;
    m.duration_micros = 5;
    m.n_data_deps = 1;
    m.data_deps = &dep;
    assert_int_equal(et_writer_node(w, &m, &e), 0);
    assert_int_equal(et_writer_close(w, &e), 0);
}

static void test_resource_limits(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("r2.yml"), "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\n"
                                "latency: [ 500 ]\n");
    loomrun_write(loomrun_path("r1.yml"), "topology: [ Ring ]\nnpus_count: [ 1 ]\nbandwidth: [ 50 ]\n"
                                "latency: [ 500 ]\n");
    /* a 2^63-byte all-reduce: in both network models, an error, not an abort */
    write_pair(loomrun_path("huge.0.et"), 100, COLL, 0, 1ULL << 63);
    write_pair(loomrun_path("huge.1.et"), 100, COLL, 0, 1ULL << 63);
    const char *models[2] = {"system.network-model=analytical", "system.network-model=flow"};
    for (int k = 0; k < 2; k++) {
        int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("huge"), "-n", loomrun_path("r2.yml"), "-s",
                          CFG "/Ring_4chunks.json", "--set", models[k], "-j", loomrun_path("huge.json"), NULL);
        expect_failure(rc, 4, "overflows", "huge.json");
        assert_non_null(strstr(loomrun_err, "9223372036854775808"));
    }
    /* a kernel of 2^64-1 us */
    write_pair(loomrun_path("long.0.et"), 100, COMP, UINT64_MAX, 0);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("long"), "-n", loomrun_path("r1.yml"), "-s",
                      CFG "/Ring_4chunks.json", NULL);
    expect_failure(rc, 4, "overflows", NULL);
    assert_non_null(strstr(loomrun_err, "node 100"));
    /* ids at the top of uint64: a 3 us kernel then the 5 us one */
    write_pair(loomrun_path("ids.0.et"), UINT64_MAX, COMP, 3, 0);
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("ids"), "-n", loomrun_path("r1.yml"), "-s", CFG "/Ring_4chunks.json",
                  "-j", loomrun_path("ids.json"), "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    json_t *j = loomrun_json(loomrun_path("ids.json"));
    assert_true(fabs(step_ns(j) - 8000) < 1e-6);
    json_decref(j);
    /* more nodes than memory allows: refused while loading, naming the file */
    setenv("LOOM_MEMORY_LIMIT", "200K", 1);
    rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/pytorch_converted_1rank/chakra", "-n", loomrun_path("r1.yml"), "-s",
                  CFG "/Ring_4chunks.json", "--ignore-ctrl-deps", NULL);
    unsetenv("LOOM_MEMORY_LIMIT");
    expect_failure(rc, 3, "LOOM_MEMORY_LIMIT", NULL);
    assert_non_null(strstr(loomrun_err, "chakra.0.et.gz"));
}


/* ---- resources: cheap checks before big allocations; special files ------- */

/* A 2^24-NPU network with an 8-rank trace: refused by the rank count at
 * once, before any per-NPU state (it used to allocate 6.9 GB first, and
 * died of SIGABRT under a memory cap).  Run under a 512 MiB cap. */
static void test_rank_count_before_allocation(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("huge.yml"), "topology: [ Ring ]\nnpus_count: [ 16777216 ]\n"
                                     "bandwidth: [ 50 ]\nlatency: [ 500 ]\n");
#if !defined(__SANITIZE_ADDRESS__)
    loomrun_as_limit = 512ull << 20;
#endif
    loomrun_alarm_s = 20;
    int rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/micro_all_reduce_8npus_1MB/all_reduce", "-n",
                         loomrun_path("huge.yml"), "-s", CFG "/Ring_4chunks.json", NULL);
    loomrun_as_limit = 0;
    loomrun_alarm_s = 240;
    expect_failure(rc, 3, "missing rank file", NULL);
    assert_non_null(strstr(loomrun_err, "all_reduce.8.et"));
    assert_non_null(strstr(loomrun_err, "the network has 16777216 NPUs"));
    /* the same count, but a budget too small for per-rank state: refused
     * before allocating it, with the figure */
    loomrun_write(loomrun_path("r8.yml"), "topology: [ Ring ]\nnpus_count: [ 8 ]\n"
                                   "bandwidth: [ 50 ]\nlatency: [ 500 ]\n");
    setenv("LOOM_MEMORY_LIMIT", "1K", 1);
    rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/micro_all_reduce_8npus_1MB/all_reduce", "-n",
                     loomrun_path("r8.yml"), "-s", CFG "/Ring_4chunks.json", NULL);
    unsetenv("LOOM_MEMORY_LIMIT");
    expect_failure(rc, 4, "8 ranks need about", NULL);
    assert_non_null(strstr(loomrun_err, "LOOM_MEMORY_LIMIT"));
}

/* loom run of the 512-rank all-to-all below under LOOM_MEMORY_LIMIT=limit. */
static int run_a2a_under(const char *limit)
{
    setenv("LOOM_MEMORY_LIMIT", limit, 1);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("a2a/a2a"), "-n", loomrun_path("sw512.yml"),
                         "-s", CFG "/Ring_4chunks.json", "--set", "system.network-model=flow",
                         "--set", "system.all-to-all-implementation=direct", "-j",
                         loomrun_path("a2a.json"), "-q", NULL);
    unsetenv("LOOM_MEMORY_LIMIT");
    return rc;
}

/* The flow model's flows grow while the simulation runs, past anything a
 * loader could refuse first: a 512-rank direct all-to-all on a switch
 * holds 261,632 flows of two hops each.  The model counts 144 bytes a flow
 * (slot 128, a completion and a delivery queued, 8 each), 12 for each
 * entry its links' lists allocated and 24 for each starter entry (one
 * here: every member starts its sends one after the other with the same
 * callback and context), checked every 65,536 flows: at 65,536, 9 MiB +
 * 131,072 entries (1.5 MiB) = 10.5 MiB, under a 16 MiB budget; at 131,072,
 * 18 MiB + 262,144 entries (3 MiB) = 21 MiB (and 24 bytes), over it: one
 * line naming the flows, the figure and LOOM_MEMORY_LIMIT, exit 1 as out
 * of memory, no JSON written.  Under 1 GiB it runs. */
static void test_flow_model_memory_budget(void **state)
{
    (void)state;
    int rc = loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_to_all", "-b", "512K", "-r", "512",
                         "-o", loomrun_path("a2a/a2a"), "--network-out", loomrun_path("sw512.yml"),
                         "--topology", "Switch", "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    rc = run_a2a_under("16M");
    expect_failure(rc, 1, "out of memory: the flow model's 131072 flows need about 21.00 MiB, more than the 16.00 MiB",
                   loomrun_path("a2a.json"));
    assert_non_null(strstr(loomrun_err, "LOOM_MEMORY_LIMIT"));
    rc = run_a2a_under("1G");
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
}

/* A FIFO or /dev/zero as a rank file: refused at once, naming the file and
 * what it is (they used to hang forever); a symlink loop names ELOOP. */
static void test_special_rank_files(void **state)
{
    (void)state;
    for (int r = 0; r < 4; r++) {
        char from[512], to[64];
        snprintf(from, sizeof from, "%s/micro_all_reduce_4npus_1MB/all_reduce.%d.et", FIX, r);
        snprintf(to, sizeof to, "sp.%d.et", r);
        loomrun_copy(from, loomrun_path(to));
    }
    loomrun_alarm_s = 20;
    const char *what[3] = {"is a FIFO (named pipe), not a regular file",
                           "is a character device, not a regular file", strerror(ELOOP)};
    for (int k = 0; k < 3; k++) {
        unlink(loomrun_path("sp.2.et"));
        if (k == 0)
            assert_int_equal(mkfifo(loomrun_path("sp.2.et"), 0600), 0);
        else
            assert_int_equal(symlink(k == 1 ? "/dev/zero" : loomrun_path("sp.2.et"), loomrun_path("sp.2.et")), 0);
        int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("sp"), "-n", CFG "/Ring_4npus.yml", "-s",
                             CFG "/Ring_4chunks.json", NULL);
        expect_failure(rc, 3, "sp.2.et", NULL);
        if (!strstr(loomrun_err, what[k]) || strstr(loomrun_err, "missing rank file"))
            fail_msg("case %d: %s", k, loomrun_err);
    }
    unlink(loomrun_path("sp.2.et"));
    loomrun_alarm_s = 240;
}


/* ---- messages that say what happened ------------------------------------- */

/* One p2p node (type SEND or RECV) with peer, tag and size (size < 0:
 * absent) into an open writer. */
static void put_p2p(et_writer *w, uint64_t id, int type, int peer, int tag, int64_t size)
{
    loom_err err = {0};
    ChakraProtoMsg__AttributeProto a[3];
    ChakraProtoMsg__AttributeProto *ap[3];
    const char *names[3] = {type == CHAKRA_PROTO_MSG__NODE_TYPE__COMM_SEND_NODE ? "comm_dst"
                                                                                 : "comm_src",
                            "comm_tag", "comm_size"};
    int64_t v[3] = {peer, tag, size};
    int na = size < 0 ? 2 : 3;
    for (int k = 0; k < na; k++) {
        a[k] = (ChakraProtoMsg__AttributeProto)CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT;
        a[k].name = (char *)names[k];
        a[k].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL;
        a[k].int64_val = v[k];
        ap[k] = &a[k];
    }
    ChakraProtoMsg__Node n = CHAKRA_PROTO_MSG__NODE__INIT;
    n.id = id;
    n.name = "p2p";
    n.type = type;
    n.n_attr = (size_t)na;
    n.attr = ap;
    assert_int_equal(et_writer_node(w, &n, &err), 0);
}

static et_writer *open_rank(const char *name)
{
    loom_err err = {0};
    et_writer *w = et_writer_open(loomrun_path(name), 0, &err);
    assert_non_null(w);
    ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
    md.version = "1.0.0";
    assert_int_equal(et_writer_metadata(w, &md, &err), 0);
    return w;
}

static void close_rank(et_writer *w)
{
    loom_err err = {0};
    assert_int_equal(et_writer_close(w, &err), 0);
}

#define SEND CHAKRA_PROTO_MSG__NODE_TYPE__COMM_SEND_NODE
#define RECV CHAKRA_PROTO_MSG__NODE_TYPE__COMM_RECV_NODE

/* A 1,024-byte send against a 4,096-byte receive (same peers and tag):
 * the stall names both sizes; a send nobody receives finishes the run
 * with a warning that says what loom assumed; a send without comm_size
 * warns that it moves 0 bytes. */
static void test_p2p_messages(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("r2.yml"), "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\n"
                                   "latency: [ 500 ]\n");
    et_writer *w = open_rank("sz.0.et");
    put_p2p(w, 5, SEND, 1, 7, 1024);
    close_rank(w);
    w = open_rank("sz.1.et");
    put_p2p(w, 9, RECV, 0, 7, 4096);
    close_rank(w);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("sz"), "-n", loomrun_path("r2.yml"), "-s",
                         CFG "/Ring_4chunks.json", NULL);
    expect_failure(rc, 4, "no matching send", NULL);
    if (!strstr(loomrun_err, "receive from rank 0 (tag 7, 4096 bytes) has no matching send; "
                             "rank 0 sent 1024 bytes with that tag (its node 5): a send and "
                             "its receive must give the same comm_size"))
        fail_msg("%s", loomrun_err);

    w = open_rank("lone.0.et");
    put_p2p(w, 5, SEND, 1, 7, 1024);
    put_p2p(w, 6, SEND, 1, 8, 64);
    close_rank(w);
    w = open_rank("lone.1.et");
    put_p2p(w, 9, RECV, 0, 8, 64);
    close_rank(w);
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("lone"), "-n", loomrun_path("r2.yml"), "-s",
                     CFG "/Ring_4chunks.json", "-j", loomrun_path("lone.json"), NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    if (!strstr(loomrun_err, "loom: warning: 1 send was never received: e.g. ") ||
        !strstr(loomrun_err, "lone.0.et: node 5, rank 0 to rank 1, tag 7, 1024 bytes, has no "
                             "COMM_RECV_NODE on rank 1") ||
        !strstr(loomrun_err, "as if received"))
        fail_msg("%s", loomrun_err);

    w = open_rank("nosz.0.et");
    put_p2p(w, 5, SEND, 1, 7, -1);
    close_rank(w);
    w = open_rank("nosz.1.et");
    put_p2p(w, 9, RECV, 0, 7, -1);
    close_rank(w);
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("nosz"), "-n", loomrun_path("r2.yml"), "-s",
                     CFG "/Ring_4chunks.json", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    if (!strstr(loomrun_err, "nosz.0.et: 1 communication node without comm_size (e.g. node 5, "
                             "COMM_SEND_NODE): loom moves 0 bytes for it"))
        fail_msg("%s", loomrun_err);
}

/* A collective without comm_size runs as 0 bytes, with a warning naming
 * the file and node; pg_name "0" with a comm-group file that defines a
 * group "0" is refused as ambiguous ("0" is all ranks). */
static void test_collective_messages(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("r2.yml"), "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\n"
                                   "latency: [ 500 ]\n");
    tnode c = {.id = 3, .type = COLL, .ctype = 0, .size = -1, .ops = -1, .tsize = -1};
    write_trace(loomrun_path("cs.0.et"), &c, 1);
    write_trace(loomrun_path("cs.1.et"), &c, 1);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("cs"), "-n", loomrun_path("r2.yml"), "-s",
                         CFG "/Ring_4chunks.json", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    if (!strstr(loomrun_err, "cs.0.et: 1 communication node without comm_size (e.g. node 3, "
                             "ALL_REDUCE): loom moves 0 bytes for it, so only latency is "
                             "simulated"))
        fail_msg("%s", loomrun_err);

    tnode z = {.id = 3, .type = COLL, .ctype = 0, .size = 1024, .pg = "0", .ops = -1, .tsize = -1};
    write_trace(loomrun_path("pg.0.et"), &z, 1);
    write_trace(loomrun_path("pg.1.et"), &z, 1);
    loomrun_write(loomrun_path("groups.json"), "{\"0\": [0], \"1\": [1]}\n");
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("pg"), "-n", loomrun_path("r2.yml"), "-s",
                     CFG "/Ring_4chunks.json", "--comm-group", loomrun_path("groups.json"), NULL);
    expect_failure(rc, 2, "pg.0.et: node 3: pg_name '0' means all ranks", NULL);
    assert_non_null(strstr(loomrun_err, "also defines a group '0'"));
    /* without such a group, "0" is all ranks, as documented: it runs */
    loomrun_write(loomrun_path("groups.json"), "{\"1\": [1]}\n");
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("pg"), "-n", loomrun_path("r2.yml"), "-s",
                     CFG "/Ring_4chunks.json", "--comm-group", loomrun_path("groups.json"), "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
}

/* ---- every fixture folder runs ------------------------------------------- */

static void test_legacy_resnet(void **state)
{
    (void)state;
    const char *d = FIX "/legacy_resnet50_dp_64npus";
    const char *json = loomrun_path("resnet.json");
    int rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/legacy_resnet50_dp_64npus/resnet50_DataParallel", "-n",
                      FIX "/legacy_resnet50_dp_64npus/network.yml", "-s",
                      FIX "/legacy_resnet50_dp_64npus/system.json", "--remote-memory",
                      FIX "/legacy_resnet50_dp_64npus/memory.json", "-j", json, "-q", NULL);
    (void)d;
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    json_t *j = loomrun_json(json);
    json_t *ranks = json_object_get(j, "ranks");
    assert_int_equal(json_array_size(ranks), 64);
    /* every rank's compute time is the sum of its compute nodes' durations:
     * read it from the trace itself */
    et_graph *g = et_graph_load(FIX "/legacy_resnet50_dp_64npus/resnet50_DataParallel.0.et",
                                &(loom_err){0});
    assert_non_null(g);
    double sum_us = 0;
    for (size_t i = 0; i < g->n; i++)
        if (g->nodes[i].type == ET_COMP_NODE && !(g->nodes[i].flags & ET_F_CPU))
            sum_us += (double)g->nodes[i].duration_ns / 1000;
    json_t *r0 = json_array_get(ranks, 0);
    assert_true(fabs(json_real_value(json_object_get(r0, "compute_ns")) - sum_us * 1000) < 1e-3);
    assert_int_equal(json_integer_value(json_object_get(r0, "nodes")), (json_int_t)g->n);
    assert_true(step_ns(j) >= sum_us * 1000);
    et_graph_free(g);
    json_decref(j);
}

static void test_every_fixture_runs(void **state)
{
    (void)state;
    struct {
        const char *prefix, *net, *sys;
    } runs[] = {
        {FIX "/tutorial_allreduce_8npus_2dim/allreduce", FIX "/tutorial_allreduce_8npus_2dim/Ring_8.yml",
         FIX "/tutorial_allreduce_8npus_2dim/Ring_sys.json"},
        {FIX "/tutorial_allreduce_8npus_2dim/allreduce",
         FIX "/tutorial_allreduce_8npus_2dim/FullyConnected_8.yml",
         FIX "/tutorial_allreduce_8npus_2dim/Direct_sys.json"},
        {FIX "/tutorial_mlp_model_parallel_32npus/MLP_ModelParallel",
         FIX "/tutorial_mlp_model_parallel_32npus/DGX_H100-32.yml",
         FIX "/tutorial_mlp_model_parallel_32npus/DGX_H100.json"},
        {FIX "/tutorial_mlp_model_parallel_32npus/MLP_ModelParallel",
         FIX "/tutorial_mlp_model_parallel_32npus/TPUv4-32.yml",
         FIX "/tutorial_mlp_model_parallel_32npus/TPUv4.json"},
        {FIX "/custom_ring_allreduce_8npus_1MB/custom_allreduce", CFG "/Ring_8npus.yml",
         FIX "/custom_ring_allreduce_8npus_1MB/system.json"},
    };
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        int rc = loomrun_run(loomrun_tmp, "run", "-w", runs[k].prefix, "-n", runs[k].net, "-s", runs[k].sys,
                          "-j", loomrun_path("fx.json"), "-q", NULL);
        if (rc != 0)
            fail_msg("%s on %s: exit %d: %s", runs[k].prefix, runs[k].net, rc, loomrun_err);
        json_t *j = loomrun_json(loomrun_path("fx.json"));
        assert_true(step_ns(j) > 0);
        json_decref(j);
    }
}

static void test_pytorch_converted(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("one.yml"), "topology: [ Switch ]\nnpus_count: [ 1 ]\nbandwidth: [ 50 ]\n"
                                 "latency: [ 500 ]\n");
    /* its ctrl_deps hold cycles (383 nodes list themselves): --strict
     * refuses them clearly */
    int rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/pytorch_converted_1rank/chakra", "-n", loomrun_path("one.yml"),
                      "-s", CFG "/Ring_4chunks.json", "-j", loomrun_path("pt.json"), "--strict", NULL);
    expect_failure(rc, 3, "cycle", "pt.json");
    assert_non_null(strstr(loomrun_err, "--ignore-ctrl-deps"));
    assert_non_null(strstr(loomrun_err, "--strict"));
    /* the dangling ctrl_deps are dropped with one counted warning */
    assert_non_null(strstr(loomrun_err, "1277"));
    /* without --strict it runs: the edges closing cycles are dropped with
     * one warning, every node runs, and keeping the other ctrl_deps can
     * only make the step longer than data_deps alone */
    rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/pytorch_converted_1rank/chakra", "-n", loomrun_path("one.yml"),
                     "-s", CFG "/Ring_4chunks.json", "-j", loomrun_path("tol.json"), NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    assert_non_null(strstr(loomrun_err, "closed dependency cycles; loom dropped them"));
    json_t *tol = loomrun_json(loomrun_path("tol.json"));
    rc = loomrun_run(loomrun_tmp, "run", "-w", FIX "/pytorch_converted_1rank/chakra", "-n", loomrun_path("one.yml"),
                  "-s", CFG "/Ring_4chunks.json", "-j", loomrun_path("pt.json"), "--json-detail", "--ignore-ctrl-deps",
                  NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    json_t *j = loomrun_json(loomrun_path("pt.json"));
    assert_true(step_ns(tol) >= step_ns(j));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(tol, "ranks"), 0),
                                                        "nodes")), 3664);
    json_decref(tol);
    json_t *r0 = json_array_get(json_object_get(j, "ranks"), 0);
    assert_int_equal(json_integer_value(json_object_get(r0, "nodes")), 3664);
    /* one rank: every collective is a group of one and takes no time */
    json_t *colls = json_object_get(j, "collectives");
    for (size_t k = 0; k < json_array_size(colls); k++) {
        json_t *c = json_array_get(colls, k);
        assert_true(json_real_value(json_object_get(c, "end_ns")) ==
                    json_real_value(json_object_get(c, "start_ns")));
    }
    json_decref(j);
}

static void test_trace_commands(void **state)
{
    (void)state;
    int rc = loomrun_run(loomrun_tmp, "trace", "info", FIX "/micro_all_reduce_8npus_1MB/all_reduce", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(loomrun_out, "ALL_REDUCE"));
    rc = loomrun_run(loomrun_tmp, "trace", "validate", FIX "/micro_all_reduce_8npus_1MB/all_reduce", NULL);
    assert_int_equal(rc, 0);
    rc = loomrun_run(loomrun_tmp, "trace", "validate", FIX "/pytorch_converted_1rank/chakra", NULL);
    assert_int_equal(rc, 3); /* its dangling ctrl_deps are problems to validate */
    rc = loomrun_run(loomrun_tmp, "run", "--help", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(loomrun_out, "--workload"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_micro_all_reduce),
        cmocka_unit_test(test_micro_reduce_scatter),
        cmocka_unit_test(test_micro_all_gather),
        cmocka_unit_test(test_micro_all_to_all),
        cmocka_unit_test(test_set_overrides),
        cmocka_unit_test(test_astra_spellings),
        cmocka_unit_test(test_tutorial_direct),
        cmocka_unit_test(test_custom_ring_sends),
        cmocka_unit_test(test_missing_rank_file),
        cmocka_unit_test(test_truncated_and_garbage_trace),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_collective_never_joined),
        cmocka_unit_test(test_recv_without_send),
        cmocka_unit_test(test_comm_groups_and_involved_dim),
        cmocka_unit_test(test_flow_model_contention),
        cmocka_unit_test(test_role_groups_equal_explicit),
        cmocka_unit_test(test_collective_mismatch),
        cmocka_unit_test(test_memory_and_roofline),
        cmocka_unit_test(test_timeline_and_csv),
        cmocka_unit_test(test_deterministic_json),
        cmocka_unit_test(test_resource_limits),
        cmocka_unit_test(test_rank_count_before_allocation),
        cmocka_unit_test(test_flow_model_memory_budget),
        cmocka_unit_test(test_special_rank_files),
        cmocka_unit_test(test_p2p_messages),
        cmocka_unit_test(test_collective_messages),
        cmocka_unit_test(test_legacy_resnet),
        cmocka_unit_test(test_every_fixture_runs),
        cmocka_unit_test(test_pytorch_converted),
        cmocka_unit_test(test_trace_commands),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
