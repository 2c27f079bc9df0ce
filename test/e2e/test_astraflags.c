/*
 * End-to-end tests of ASTRA-sim's front-end flags in `loom run` (issue 13):
 * --compute-scale, --comm-scale, --network-model, the logging flags, and
 * the flags loom accepts without modelling them (named in the note line).
 * Expected times come from the closed forms of docs/MODEL.md, written out
 * here, and from traces whose durations are set by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "et_io.h"
#include "loomrun.h"

#define FIX FIXTURES "/chakra"
#define CFG FIXTURES "/astra-sim-configs"
#define AR8 FIX "/micro_all_reduce_8npus_1MB/all_reduce"
#define RING8 CFG "/Ring_8npus.yml"
#define SYS CFG "/Ring_4chunks.json"
#define MIB 1048576.0

static double step_ns(json_t *j) { return json_real_value(json_object_get(j, "step_time_ns")); }

/* Ring_4chunks on links of 50 GiB/s and 500 ns (docs/MODEL.md): one ring
 * step is W*(L + delta) + m/B (+ 3m/M with a reduction), W = 4 waves. */
static double step(double m, int reduce)
{
    const double B = 50.0 * 1073741824.0, L = 500, delta = 10, M = 1600e9, W = 4;
    return W * (L + delta) + m / B * 1e9 + (reduce ? 3 * m / M * 1e9 : 0);
}

static double ring_ar(int p, double N) { return (p - 1) * (step(N / p, 1) + step(N / p, 0)); }

static void expect_ok(int rc)
{
    if (rc != 0)
        fail_msg("loom exited %d: %s", rc, loomrun_err);
}

static void expect_near(double got, double want, const char *what)
{
    if (fabs(got - want) > 0.002) /* loom rounds to the picosecond */
        fail_msg("%s: loom %.3f ns, expected %.3f ns", what, got, want);
}

/* Two ranks: a 10 us and a 25 us kernel, then an all-reduce of `bytes`. */
static void write_two_rank_trace(const char *prefix, int64_t bytes)
{
    for (int r = 0; r < 2; r++) {
        char path[600];
        snprintf(path, sizeof path, "%s.%d.et", prefix, r);
        loom_err err = {0};
        et_writer *w = et_writer_open(path, 0, &err);
        assert_non_null(w);
        ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
        md.version = "1.0.0";
        assert_int_equal(et_writer_metadata(w, &md, &err), 0);
        for (uint64_t id = 1; id <= 3; id++) {
            ChakraProtoMsg__AttributeProto a[2] = {CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT,
                                                   CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT};
            ChakraProtoMsg__AttributeProto *ap[2] = {&a[0], &a[1]};
            a[0].name = "comm_type";
            a[0].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL;
            a[0].int64_val = 0; /* ALL_REDUCE */
            a[1].name = "comm_size";
            a[1].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL;
            a[1].int64_val = bytes;
            ChakraProtoMsg__Node n = CHAKRA_PROTO_MSG__NODE__INIT;
            uint64_t dep = id - 1;
            n.id = id;
            n.name = "n";
            if (id > 1) {
                n.n_data_deps = 1;
                n.data_deps = &dep;
            }
            if (id < 3) {
                n.type = CHAKRA_PROTO_MSG__NODE_TYPE__COMP_NODE;
                n.duration_micros = id == 1 ? 10 : 25;
            } else {
                n.type = CHAKRA_PROTO_MSG__NODE_TYPE__COMM_COLL_NODE;
                n.n_attr = 2;
                n.attr = ap;
            }
            assert_int_equal(et_writer_node(w, &n, &err), 0);
        }
        assert_int_equal(et_writer_close(w, &err), 0);
    }
    loomrun_write(loomrun_path("ring2.yml"), "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\n"
                                      "latency: [ 500 ]\n");
}

/* --compute-scale 2: each rank computes 2 x (10 + 25) us = 70 us, then
 * the 1 MiB all-reduce as without the flag; 0.5 halves the compute. */
static void test_compute_scale(void **state)
{
    (void)state;
    write_two_rank_trace(loomrun_path("cs"), 1048576);
    const double scales[] = {1, 2, 0.5};
    for (int i = 0; i < 3; i++) {
        char sc[16];
        snprintf(sc, sizeof sc, "%g", scales[i]);
        expect_ok(loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("cs"), "-n", loomrun_path("ring2.yml"), "-s", SYS,
                              "--compute-scale", sc, "-j", loomrun_path("cs.json"), "-q", NULL));
        json_t *j = loomrun_json(loomrun_path("cs.json"));
        double comp = scales[i] * 35000.0;
        for (int r = 0; r < 2; r++)
            expect_near(json_real_value(json_object_get(json_array_get(json_object_get(j, "ranks"), r),
                                                        "compute_ns")),
                        comp, "compute_ns");
        expect_near(step_ns(j), comp + ring_ar(2, MIB), "step time");
        json_decref(j);
    }
}

/* --comm-scale 2 on the 1 MiB all-reduce is the closed form at 2 MiB, and
 * the same step as a 2 MiB trace from `loom gen micro`; the collective's
 * bytes are the scaled size.  0.5 gives the 512 KiB closed form. */
static void test_comm_scale(void **state)
{
    (void)state;
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--comm-scale", "2",
                          "-j", loomrun_path("c2.json"), "-q", NULL));
    json_t *j = loomrun_json(loomrun_path("c2.json"));
    expect_near(step_ns(j), ring_ar(8, 2 * MIB), "--comm-scale 2");
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(j, "collective_kinds"), 0), "bytes")),
                     2097152);
    expect_ok(loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "2097152", "-r", "8",
                          "-o", loomrun_path("ar2/ar"), "-q", NULL));
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("ar2/ar"), "-n", RING8, "-s", SYS, "-j",
                          loomrun_path("g2.json"), "-q", NULL));
    json_t *g = loomrun_json(loomrun_path("g2.json"));
    assert_true(step_ns(g) == step_ns(j));
    json_decref(g);
    json_decref(j);

    /* ASTRA-sim's spelling, with no subcommand (loom's own timing asked
     * for: an ASTRA-sim command line otherwise rounds as ASTRA-sim does) */
    expect_ok(loomrun_run(loomrun_tmp, "--workload-configuration=" AR8, "--network-configuration=" RING8,
                          "--system-configuration=" SYS, "--comm-scale=0.5", "--json",
                          loomrun_path("c05.json"), "--set", "system.timing=loom", "-q", NULL));
    j = loomrun_json(loomrun_path("c05.json"));
    expect_near(step_ns(j), ring_ar(8, MIB / 2), "--comm-scale 0.5");
    json_decref(j);

    /* sends: the custom ring all-reduce is 14 dependent steps of a 128 KiB
     * send per rank (2 (p - 1), p = 8), so each unit of --comm-scale adds
     * 14 x 131072 B / 50 GiB/s to the step; the latencies stay */
    double st[3];
    for (int k = 0; k < 3; k++) {
        char sc[4];
        snprintf(sc, sizeof sc, "%d", k + 1);
        expect_ok(loomrun_run(loomrun_tmp, "run", "-w", FIX "/custom_ring_allreduce_8npus_1MB/custom_allreduce",
                              "-n", RING8, "-s", FIX "/custom_ring_allreduce_8npus_1MB/system.json",
                              "--comm-scale", sc, "-j", loomrun_path("p.json"), "-q", NULL));
        j = loomrun_json(loomrun_path("p.json"));
        st[k] = step_ns(j);
        assert_int_equal(json_integer_value(json_object_get(j, "p2p_messages")), 112);
        json_decref(j);
    }
    double slope = 14 * 131072.0 / (50.0 * 1073741824.0) * 1e9;
    /* each of the 14 sends is rounded to the picosecond on both runs */
    if (fabs(st[1] - st[0] - slope) > 0.015 || fabs(st[2] - st[1] - slope) > 0.015)
        fail_msg("sends: steps %.3f %.3f %.3f ns, expected +%.3f ns per unit", st[0], st[1], st[2],
                 slope);

    /* compute and communication scales on one run: 2 x 35 us + the 2 MiB form */
    write_two_rank_trace(loomrun_path("both"), 1048576);
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("both"), "-n", loomrun_path("ring2.yml"), "-s", SYS,
                          "--compute-scale", "2", "--comm-scale", "2", "-j", loomrun_path("b.json"), "-q",
                          NULL));
    j = loomrun_json(loomrun_path("b.json"));
    expect_near(step_ns(j), 70000.0 + ring_ar(2, 2 * MIB), "both scales");
    json_decref(j);
}

/* Values that are no scale are usage errors naming the flag. */
static void test_bad_values(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"--compute-scale", "0"},        {"--comm-scale", "-1"},       {"--injection-scale", "x"},
        {"--num-queues-per-dim", "0"},
        {"--network-model", "garnet"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, bad[i][0], bad[i][1],
                             "-q", NULL);
        assert_int_equal(rc, 2);
        if (strstr(loomrun_err, bad[i][0]) == NULL)
            fail_msg("%s %s: message does not name the flag: %s", bad[i][0], bad[i][1], loomrun_err);
    }
    assert_int_equal(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS,
                                 "--rendezvous-protocol=maybe", "-q", NULL), 2);
    assert_non_null(strstr(loomrun_err, "--rendezvous-protocol 'maybe': expected true or false"));
}

/* Flags loom does not model: a value other than ASTRA-sim's default is
 * named in the one note line; the default changes nothing and is not. */
static void test_not_modelled_notes(void **state)
{
    (void)state;
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--num-queues-per-dim",
                          "2", "--rendezvous-protocol", "true", "--injection-scale", "4",
                          "--logging-configuration", "log.toml", "-q", NULL));
    char *note = strstr(loomrun_out, "\nnote       accepted, not modelled: ");
    assert_non_null(note);
    char *eol = strchr(note + 1, '\n');
    assert_non_null(eol);
    *eol = '\0';
    const char *want[] = {"--num-queues-per-dim 2", "--rendezvous-protocol true",
                          "--injection-scale 4", "--logging-configuration log.toml"};
    for (int i = 0; i < 4; i++)
        if (strstr(note, want[i]) == NULL)
            fail_msg("note line lacks '%s': %s", want[i], note);
    /* cxxopts' bool spellings: bare is true, =false is false.  An ASTRA-sim
     * command line (no subcommand) prints ASTRA-sim's log on stdout and the
     * text report, note line included, on stderr */
    expect_ok(loomrun_run(loomrun_tmp, "--network-configuration=" RING8, "--rendezvous-protocol",
                          "--workload-configuration=" AR8, "--system-configuration=" SYS, NULL));
    assert_non_null(strstr(loomrun_err, "; --rendezvous-protocol true"));
    expect_ok(loomrun_run(loomrun_tmp, "--network-configuration=" RING8, "--rendezvous-protocol=false",
                          "--workload-configuration=" AR8, "--system-configuration=" SYS, NULL));
    assert_non_null(strstr(loomrun_err, "\nstep time  "));
    assert_null(strstr(loomrun_err, "--rendezvous-protocol"));
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--num-queues-per-dim",
                          "2", "--rendezvous-protocol", "true", "--injection-scale", "4",
                          "--logging-configuration", "log.toml", "-q", NULL));
    note = strstr(loomrun_out, "\nnote       accepted, not modelled: ");
    eol = strchr(note + 1, '\n');
    *eol = '\0';
    /* one note line only */
    assert_null(strstr(eol + 1, "\nnote "));

    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--num-queues-per-dim",
                          "1", "--rendezvous-protocol", "false", "--injection-scale", "1",
                          "--logging-configuration", "empty", "-j", loomrun_path("d.json"), "-q", NULL));
    assert_null(strstr(loomrun_out, "--num-queues"));
    assert_null(strstr(loomrun_out, "--rendezvous"));
    assert_null(strstr(loomrun_out, "--injection"));
    assert_null(strstr(loomrun_out, "--logging"));
    json_t *j = loomrun_json(loomrun_path("d.json"));
    expect_near(step_ns(j), ring_ar(8, MIB), "defaults");
    json_decref(j);
}

/* --logging-folder DIR: created when missing, and DIR/log.log holds the
 * text report that went to standard output. */
static void test_logging_folder(void **state)
{
    (void)state;
    char *dir = loomrun_path("logs");
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--logging-folder", dir,
                          "-q", NULL));
    static char log[1 << 16];
    loomrun_slurp(loomrun_path("logs/log.log"), log, sizeof log);
    assert_true(log[0] != '\0');
    assert_string_equal(log, loomrun_out);
    /* an existing folder is fine; the log is replaced */
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--logging-folder", dir,
                          "--comm-scale", "2", "-q", NULL));
    loomrun_slurp(loomrun_path("logs/log.log"), log, sizeof log);
    assert_string_equal(log, loomrun_out);
    assert_non_null(strstr(log, "\nstep time  "));
    /* an ASTRA-sim command line: log.log holds ASTRA-sim's log lines, as stdout */
    expect_ok(loomrun_run(loomrun_tmp, "--workload-configuration=" AR8, "--network-configuration=" RING8,
                          "--system-configuration=" SYS, "--logging-folder", loomrun_path("alog"), NULL));
    loomrun_slurp(loomrun_path("alog/log.log"), log, sizeof log);
    assert_string_equal(log, loomrun_out);
    assert_non_null(strstr(log, "sys[0] finished, "));
    /* a folder that cannot be created: exit 5, naming it */
    int rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--logging-folder",
                         loomrun_path("no/such/dir"), "-q", NULL);
    assert_int_equal(rc, 5);
    assert_non_null(strstr(loomrun_err, "--logging-folder"));
}

/* --network-model: the text report's model line and the JSON name the
 * model that ran; the flag overrides the system file's network-model. */
static void test_network_model(void **state)
{
    (void)state;
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "-j", loomrun_path("a.json"),
                          "-q", NULL));
    assert_non_null(strstr(loomrun_out, "\nmodel      network analytical (congestion-unaware"));
    json_t *j = loomrun_json(loomrun_path("a.json"));
    assert_string_equal(json_string_value(json_object_get(j, "network_model")), "analytical");
    json_decref(j);

    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--network-model",
                          "flow", "-j", loomrun_path("f.json"), "-q", NULL));
    assert_non_null(strstr(loomrun_out, "\nmodel      network flow (congestion-aware"));
    j = loomrun_json(loomrun_path("f.json"));
    assert_string_equal(json_string_value(json_object_get(j, "network_model")), "flow");
    json_decref(j);

    /* the flag wins over the system file (and over --set, given after it) */
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--set",
                          "system.network-model=flow", "--network-model", "analytical", "-q", NULL));
    assert_non_null(strstr(loomrun_out, "\nmodel      network analytical"));
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--set",
                          "system.network-model=flow", "-q", NULL));
    assert_non_null(strstr(loomrun_out, "\nmodel      network flow"));

    /* the help names both models with ASTRA-sim's meaning */
    expect_ok(loomrun_run(loomrun_tmp, "run", "--help", NULL));
    assert_non_null(strstr(loomrun_out, "--network-model KIND  analytical"));
    assert_non_null(strstr(loomrun_out, "congestion-unaware"));
    assert_non_null(strstr(loomrun_out, "or flow (congestion-aware"));
    for (const char *const *f = (const char *const[]){"--compute-scale", "--comm-scale",
             "--logging-folder", "--logging-configuration", "--num-queues-per-dim",
             "--rendezvous-protocol", "--injection-scale", NULL}; *f; f++)
        if (strstr(loomrun_out, *f) == NULL)
            fail_msg("run --help does not list %s", *f);

    /* loom compare: --model and its --network-model spelling */
    expect_ok(loomrun_run(loomrun_tmp, "compare", "-w", AR8, "-n", RING8, "-s", SYS, "--model", "flow",
                          "-q", NULL));
    assert_non_null(strstr(loomrun_out, "model flow"));
    expect_ok(loomrun_run(loomrun_tmp, "compare", "-w", AR8, "-n", RING8, "-s", SYS, "--network-model",
                          "flow", "-q", NULL));
    assert_non_null(strstr(loomrun_out, "model flow"));
}

/* ---- frictions of issue 13 ------------------------------------------------ */

/* `run -j 4` (sweep's "jobs") would write the JSON to a file named 4:
 * refused with the hint, no file made; ./4 names that file on purpose. */
static void test_json_named_like_jobs(void **state)
{
    (void)state;
    assert_int_equal(chdir(loomrun_tmp), 0);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "-j", "4", "-q", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "looks like a job count"));
    assert_non_null(strstr(loomrun_err, "--jobs"));
    assert_int_equal(access(loomrun_path("4"), F_OK), -1);
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--json", "./4", "-q",
                          NULL));
    assert_int_equal(access(loomrun_path("4"), F_OK), 0);
}

/* A folder or a rank file given as the prefix: the error names the prefix
 * meant; `trace info` on one rank file says it read that file alone. */
static void test_prefix_hints(void **state)
{
    (void)state;
    const char *dir = FIX "/micro_all_reduce_8npus_1MB";
    const char *given[] = {dir, FIX "/micro_all_reduce_8npus_1MB/", AR8 ".0.et", AR8 ".5.et"};
    for (int i = 0; i < 4; i++) {
        int rc = loomrun_run(loomrun_tmp, "run", "-w", given[i], "-n", RING8, "-s", SYS, "-q", NULL);
        assert_int_equal(rc, 3);
        if (strstr(loomrun_err, "did you mean --workload " AR8 "?") == NULL)
            fail_msg("%s: no hint: %s", given[i], loomrun_err);
    }
    /* a prefix with nothing near it: no hint */
    assert_int_equal(loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("none"), "-n", RING8, "-s", SYS, "-q",
                                 NULL), 3);
    assert_null(strstr(loomrun_err, "did you mean"));
    /* trace info / validate on the folder */
    assert_int_equal(loomrun_run(loomrun_tmp, "trace", "info", dir, NULL), 3);
    assert_non_null(strstr(loomrun_err, "did you mean " AR8 "?"));
    /* trace info on one rank file */
    expect_ok(loomrun_run(loomrun_tmp, "trace", "info", AR8 ".3.et", NULL));
    assert_non_null(strstr(loomrun_out, "is one rank file, summarized alone; the workload is " AR8
                                        " (8 rank files): loom trace info " AR8 "\n"));
    expect_ok(loomrun_run(loomrun_tmp, "trace", "info", AR8, NULL));
    assert_null(strstr(loomrun_out, "one rank file"));
}

/* Network and system files swapped: said so; a misspelt key: the nearest
 * key, and the known keys sorted. */
static void test_config_key_messages(void **state)
{
    (void)state;
    int rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", SYS, "-s", RING8, "-q", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "this looks like a system file (--system), not a network "
                                        "file: are --network and --system swapped?"));
    rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", RING8, "-q", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "this looks like a network file (--network), not a system "
                                        "file"));
    loomrun_write(loomrun_path("typo.json"), "{\"scheduling-polcy\": \"LIFO\", \"local-mem-bw\": 50}\n");
    rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", loomrun_path("typo.json"), "-q", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "unknown key 'scheduling-polcy'; did you mean "
                                        "'scheduling-policy'? (known keys: G, L, active-chunks"));
    /* sorted: every listed key is >= the one before it */
    char *list = strstr(loomrun_err, "(known keys: ") + 13;
    char prev[128] = "", cur[128];
    for (char *p = list; *p && *p != ')';) {
        size_t n = strcspn(p, ",)");
        snprintf(cur, sizeof cur, "%.*s", (int)n, p);
        if (strcmp(prev, cur) > 0)
            fail_msg("keys not sorted: '%s' before '%s'", prev, cur);
        snprintf(prev, sizeof prev, "%s", cur);
        p += n;
        if (*p == ',')
            p += 2;
    }
    rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--set",
                     "network.latncy[0]=5", "-q", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "unknown key 'latncy'; did you mean 'latency'? (known keys: "
                                        "bandwidth, latency, npus_count, topology)"));
    /* nothing near: no suggestion */
    rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--set",
                     "system.colour=red", "-q", NULL);
    assert_int_equal(rc, 2);
    assert_null(strstr(loomrun_err, "did you mean"));
}

/* The collective table says which figures are per instance and which is a
 * total (issue 12: a time summed over 3.1 M instances read as nonsense). */
static void test_collective_table_header(void **state)
{
    (void)state;
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "-q", NULL));
    assert_non_null(strstr(loomrun_out, "\ncollectives by kind, most exposed first (mean and p99: "
                                        "transfer time per instance; exposed: total over the count "
                                        "instances; algbw, busbw at the mean time"));
    assert_non_null(strstr(loomrun_out, " mean(us)      p99(us)    exposed(us) "));
    /* --json-detail adds to --json: alone it is refused */
    assert_int_equal(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", RING8, "-s", SYS, "--json-detail",
                                 "-q", NULL), 2);
    assert_non_null(strstr(loomrun_err, "--json-detail needs --json OUT"));
}

/* One rank is "1 rank", "1 NPU", "rank 0"; the gen llm summary prints
 * MiB as plain numbers (stage 0's 1936 all-gathers of 16 MiB are 30976
 * MiB: 16 microbatches x (20 layers x 6 + the embedding's backward one);
 * such sums were once printed 2.074e+04). */
static void test_plurals_and_plain_numbers(void **state)
{
    (void)state;
    const char *pt = FIX "/pytorch_converted_1rank/chakra";
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", pt, "-n", CFG "/Ring_4npus.yml", "-s", SYS,
                          "--ignore-ctrl-deps", "--set", "network.npus_count[0]=1", "-q", NULL));
    assert_non_null(strstr(loomrun_out, " (1 rank, 1 distinct trace file, "));
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("none"), "-n", CFG "/Ring_4npus.yml", "-s", SYS,
                         "--set", "network.npus_count[0]=1", "-q", NULL);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(loomrun_err, "has 1 NPU, so rank 0 needs a trace)"));
    assert_null(strstr(loomrun_err, "0..0"));

    expect_ok(loomrun_run(loomrun_tmp, "gen", "llm", "-o", loomrun_path("l70/l"), "--preset", "llama3-70b",
                          "--tp", "8", "--pp", "4", "--dp", "2", "--sequence-parallel",
                          "--global-batch", "32", "--device", "h100-sxm", NULL));
    assert_non_null(strstr(loomrun_out, "1936 ALL_GATHER (30976 MiB)"));
    assert_null(strstr(loomrun_out, "e+"));
    assert_non_null(strstr(loomrun_out, "  64 ranks = tp 8"));
    expect_ok(loomrun_run(loomrun_tmp, "gen", "llm", "-o", loomrun_path("one/g"), "--layers", "2", NULL));
    assert_non_null(strstr(loomrun_out, "  1 rank = tp 1 x pp 1 x dp 1;"));
    assert_non_null(strstr(loomrun_out, "0 sends (0 MiB)"));
    assert_non_null(strstr(loomrun_out, "wrote "));
    assert_null(strstr(loomrun_out, "{0..0}"));
}

/* Friction 8: every usage error is one line starting "loom: error:"
 * (docs/CLI.md), naming the command and its --help. */
static void test_usage_errors_one_line(void **state)
{
    (void)state;
    const char *const cases[][4] = {
        {"run", "--bogus", NULL, "run: unknown option '--bogus' (see 'loom run --help')"},
        {"run", "-w", NULL, "run: option '-w' needs a value"},
        {"frob", NULL, NULL, "unknown command 'frob' (see 'loom --help')"},
        {"sweep", "--jobs", NULL, "sweep: option '--jobs' needs a value"},
        {"run", "--compute-scale", "x", "run: --compute-scale 'x': expected a number"},
        {"topo", NULL, NULL, "topo: expects: describe FILE"},
        {"trace", NULL, NULL, "trace: expects: info PREFIX"},
        {"gen", NULL, NULL, "gen: expects a generator"},
        {"trace", "convert-text", "--zzz", "trace convert-text: unknown option '--zzz'"},
        {"gen", "llm", "--preset", "gen llm: option '--preset' needs a value"},
        {NULL, NULL, NULL, "no command given"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = loomrun_run(loomrun_tmp, cases[i][0], cases[i][1], cases[i][2], NULL);
        if (rc != 2)
            fail_msg("case %zu: exit %d, expected 2", i, rc);
        const char *nl = strchr(loomrun_err, '\n');
        if (strncmp(loomrun_err, "loom: error: ", 13) != 0 || nl == NULL || nl[1] != '\0' ||
            strstr(loomrun_err, cases[i][3]) == NULL)
            fail_msg("case %zu: not one line 'loom: error: ...%s': %s", i, cases[i][3], loomrun_err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compute_scale),    cmocka_unit_test(test_comm_scale),
        cmocka_unit_test(test_bad_values),       cmocka_unit_test(test_not_modelled_notes),
        cmocka_unit_test(test_logging_folder),   cmocka_unit_test(test_network_model),
        cmocka_unit_test(test_json_named_like_jobs), cmocka_unit_test(test_prefix_hints),
        cmocka_unit_test(test_config_key_messages), cmocka_unit_test(test_collective_table_header),
        cmocka_unit_test(test_plurals_and_plain_numbers),
        cmocka_unit_test(test_usage_errors_one_line),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
