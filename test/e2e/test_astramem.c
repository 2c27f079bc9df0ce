/*
 * End-to-end tests of ASTRA-sim's remote memory, custom collectives and
 * the system keys of issue 13 in `loom run`: every
 * --remote-memory-configuration memory type with its keys, priced on
 * memory load/store nodes; `*-implementation-custom` running the
 * Chakra-defined algorithm; the system keys local-mem-trace-filename and
 * per-node-custom-implementation (accepted, named in the note line).
 *
 * Times come from ASTRA-sim's formula (AnalyticalRemoteMemory::
 * get_remote_mem_runtime, docs/CONFIG.md), written out per case here:
 *     access = latency + floor(bytes / (bw * 10^9) * 10^9) ns
 * with latency 100 ns, bw 10 GB/s and 1,000,005 bytes:
 *     100 + floor(100,000.5) = 100,100 ns.
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

#include "et_io.h"
#include "loomrun.h"

#define CFG FIXTURES "/astra-sim-configs"
#define SYS CFG "/Ring_4chunks.json"
#define BYTES 1000005
#define ACCESS_NS 100100.0 /* 100 + floor(1,000,005 / 10e9 * 1e9) */

static void expect_ok(int rc)
{
    if (rc != 0)
        fail_msg("loom exited %d: %s", rc, loomrun_err);
}

/* Four ranks, each: a MEM_LOAD_NODE of BYTES, then a MEM_STORE_NODE of
 * BYTES that depends on it. */
static void write_mem_trace(void)
{
    for (int r = 0; r < 4; r++) {
        char path[600];
        snprintf(path, sizeof path, "%s.%d.et", loomrun_path("mem"), r);
        loom_err err = {0};
        et_writer *w = et_writer_open(path, 0, &err);
        assert_non_null(w);
        ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
        md.version = "1.0.0";
        assert_int_equal(et_writer_metadata(w, &md, &err), 0);
        for (uint64_t id = 1; id <= 2; id++) {
            ChakraProtoMsg__AttributeProto a = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT;
            ChakraProtoMsg__AttributeProto *ap = &a;
            a.name = "tensor_size";
            a.value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_UINT64_VAL;
            a.uint64_val = BYTES;
            ChakraProtoMsg__Node n = CHAKRA_PROTO_MSG__NODE__INIT;
            uint64_t dep = 1;
            n.id = id;
            n.name = id == 1 ? "load" : "store";
            n.type = id == 1 ? CHAKRA_PROTO_MSG__NODE_TYPE__MEM_LOAD_NODE
                             : CHAKRA_PROTO_MSG__NODE_TYPE__MEM_STORE_NODE;
            if (id == 2) {
                n.n_data_deps = 1;
                n.data_deps = &dep;
            }
            n.n_attr = 1;
            n.attr = &ap;
            assert_int_equal(et_writer_node(w, &n, &err), 0);
        }
        assert_int_equal(et_writer_close(w, &err), 0);
    }
}

static double run_mem(const char *rmem_json)
{
    loomrun_write(loomrun_path("rmem.json"), rmem_json);
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("mem"), "-n", CFG "/Ring_4npus.yml",
                          "-s", SYS, "--remote-memory-configuration", loomrun_path("rmem.json"),
                          "-j", loomrun_path("mem.out.json"), "-q", NULL));
    return loomrun_step_ns(loomrun_path("mem.out.json"));
}

static double tolerance = 0.002; /* loom rounds to the picosecond */

static void expect_near(double got, double want, const char *what)
{
    if (fabs(got - want) > tolerance)
        fail_msg("%s: loom %.3f ns, expected %.3f ns", what, got, want);
}

/* Each memory type on the same trace (4 ranks x load then store). */
static void test_memory_types(void **state)
{
    (void)state;
    write_mem_trace();
    /* NO_MEMORY_EXPANSION: local memory at local-mem-bw 1600 GB/s:
     * 2 x 1,000,005 / 1600e9 s = 2 x 625.003125 ns (rounded to the ps
     * each: 625.003) */
    expect_near(run_mem("{\"memory-type\": \"NO_MEMORY_EXPANSION\"}"), 1250.006, "none");
    /* PER_NPU: every access on its own channel: 2 x 100,100 ns */
    expect_near(run_mem("{\"memory-type\": \"PER_NPU_MEMORY_EXPANSION\", \"remote-mem-latency\": "
                        "100, \"remote-mem-bw\": 10}"),
                2 * ACCESS_NS, "per NPU");
    /* PER_NODE, 2 nodes of 2 NPUs: each node's channel serves its 2 ranks'
     * 4 accesses one after another: 4 x 100,100 ns */
    expect_near(run_mem("{\"memory-type\": \"PER_NODE_MEMORY_EXPANSION\", \"remote-mem-latency\": "
                        "100, \"remote-mem-bw\": 10, \"num-nodes\": 2, \"num-npus-per-node\": 2}"),
                4 * ACCESS_NS, "per node");
    /* one node of 4: the same as the pool */
    expect_near(run_mem("{\"memory-type\": \"PER_NODE_MEMORY_EXPANSION\", \"remote-mem-latency\": "
                        "100, \"remote-mem-bw\": 10, \"num-nodes\": 1, \"num-npus-per-node\": 4}"),
                8 * ACCESS_NS, "one node");
    /* MEMORY_POOL: one channel for all 8 accesses: 8 x 100,100 ns */
    expect_near(run_mem("{\"memory-type\": \"MEMORY_POOL\", \"remote-mem-latency\": 100, "
                        "\"remote-mem-bw\": 10}"),
                8 * ACCESS_NS, "pool");
    /* latency 0, 3 GB/s: floor(1,000,005 / 3) = 333,335 ns per access */
    expect_near(run_mem("{\"memory-type\": \"PER_NPU_MEMORY_EXPANSION\", \"remote-mem-bw\": 3}"),
                2 * 333335.0, "latency 0");
}

static void expect_refused(const char *rmem_json, const char *words)
{
    loomrun_write(loomrun_path("bad.json"), rmem_json);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("mem"), "-n", CFG "/Ring_4npus.yml",
                         "-s", SYS, "--remote-memory", loomrun_path("bad.json"), "-q", NULL);
    if (rc != 2)
        fail_msg("%s: exit %d, expected 2: %s", rmem_json, rc, loomrun_err);
    if (strstr(loomrun_err, words) == NULL || strstr(loomrun_err, "bad.json") == NULL)
        fail_msg("%s: message lacks '%s' or the file: %s", rmem_json, words, loomrun_err);
}

/* Bad remote-memory files: one line naming the file and the key. */
static void test_memory_refusals(void **state)
{
    (void)state;
    write_mem_trace();
    expect_refused("{\"memory-type\": \"MEM_POOL\"}", "MEMORY_POOL");
    expect_refused("{\"memory-type\": \"MEMORY_POOL\"}", "'remote-mem-bw' is missing");
    expect_refused("{\"memory-type\": \"MEMORY_POOL\", \"remote-mem-bw\": 0}", "remote-mem-bw");
    expect_refused("{\"memory-type\": \"MEMORY_POOL\", \"remote-mem-bw\": 1.5}", "remote-mem-bw");
    expect_refused("{\"memory-type\": \"PER_NODE_MEMORY_EXPANSION\", \"remote-mem-bw\": 1, "
                   "\"num-nodes\": 2}", "num-npus-per-node");
    expect_refused("{\"memory-type\": \"PER_NODE_MEMORY_EXPANSION\", \"remote-mem-bw\": 1, "
                   "\"num-nodes\": 1, \"num-npus-per-node\": 2}", "every rank needs a node");
    expect_refused("{\"memory-type\": \"MEMORY_POOL\", \"remote-mem-bw\": 1, \"remote-mem-latncy\": 1}",
                   "remote-mem-latncy");
    expect_refused("{\"remote-mem-bw\": 1}", "'memory-type' is missing");
    /* the node shape is read for PER_NODE only, as ASTRA-sim does: a note */
    loomrun_write(loomrun_path("pool.json"), "{\"memory-type\": \"MEMORY_POOL\", \"remote-mem-bw\": 1, "
                                              "\"num-nodes\": 2}");
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("mem"), "-n", CFG "/Ring_4npus.yml",
                          "-s", SYS, "--remote-memory", loomrun_path("pool.json"), NULL));
    assert_non_null(strstr(loomrun_out, "num-nodes and num-npus-per-node (read for "
                                        "PER_NODE_MEMORY_EXPANSION only"));
}

/* local-mem-trace-filename and per-node-custom-implementation: accepted
 * and named in the one note line; a non-string value is refused. */
static void test_system_keys(void **state)
{
    (void)state;
    write_mem_trace();
    loomrun_write(loomrun_path("sys.json"),
                  "{\"local-mem-bw\": 1600, \"track-local-mem\": 1, "
                  "\"local-mem-trace-filename\": \"mem_trace\", "
                  "\"per-node-custom-implementation\": \"per_node.yaml\"}");
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("mem"), "-n", CFG "/Ring_4npus.yml",
                          "-s", loomrun_path("sys.json"), NULL));
    char *note = strstr(loomrun_out, "\nnote       accepted, not modelled: ");
    assert_non_null(note);
    char *eol = strchr(note + 1, '\n');
    assert_non_null(eol);
    *eol = '\0';
    assert_non_null(strstr(note, "local-mem-trace-filename mem_trace"));
    assert_non_null(strstr(note, "per-node-custom-implementation per_node.yaml"));
    assert_non_null(strstr(note, "track-local-mem"));
    assert_null(strstr(eol + 1, "\nnote "));
    loomrun_write(loomrun_path("sys2.json"),
                  "{\"local-mem-bw\": 1600, \"local-mem-trace-filename\": [1, 2]}");
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("mem"), "-n", CFG "/Ring_4npus.yml",
                         "-s", loomrun_path("sys2.json"), NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "local-mem-trace-filename"));
}

#define CUSTOM FIXTURES "/chakra/custom_ring_allreduce_8npus_1MB"
#define AR8 FIXTURES "/chakra/micro_all_reduce_8npus_1MB/all_reduce"

/* One custom ring step of m bytes on Ring_8npus (50 GiB/s, 500 ns, the
 * system file's default endpoint delay 10 ns): a point-to-point message,
 * L + delta + m/B (docs/MODEL.md). */
static double p2p_ns(double m) { return 500 + 10 + m / (50.0 * 1073741824.0) * 1e9; }

/* The fixture's algorithm: per member 14 sends of 128 KiB to the next
 * member, each after the previous receive (and, the first 7, after a
 * reduction of 7 us: duration_micros 7): 14 p2p steps + 7 x 7 us.
 * ASTRA-sim printed 90,174 ns (14 x (500 + 2441) + 49,000: it truncates
 * the serialization to whole ns and adds no endpoint delay to a send). */
static void test_custom_collective(void **state)
{
    (void)state;
    tolerance = 0.008; /* each of the 14 messages rounded to the ps on its own */
    /* the fixture's own system.json names the prefix relative to
     * ASTRA-sim's folder; loom finds the traces beside it */
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", CFG "/Ring_8npus.yml", "-s",
                          CUSTOM "/system.json", "-j", loomrun_path("cu.json"), NULL));
    expect_near(loomrun_step_ns(loomrun_path("cu.json")), 14 * p2p_ns(131072) + 7 * 7000.0, "custom 1 MiB");
    assert_non_null(strstr(loomrun_out, "custom(custom_allreduce)"));
    assert_null(strstr(loomrun_out, "implementation-custom")); /* run, not a note */
    /* the congestion-aware model: one message per link at a time, the same */
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", CFG "/Ring_8npus.yml", "-s",
                          CUSTOM "/system.json", "--network-model", "flow", "-j",
                          loomrun_path("cuf.json"), "-q", NULL));
    expect_near(loomrun_step_ns(loomrun_path("cuf.json")), 14 * p2p_ns(131072) + 7 * 7000.0, "custom, flow");
    /* a 2 MiB all-reduce: the plan is for 1 MiB (14 x 128 KiB sent =
     * 2 (p-1)/p x 1 MiB), so every send moves twice its bytes */
    expect_ok(loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "2097152", "-r", "8",
                          "-o", loomrun_path("ar2"), "-q", NULL));
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("ar2"), "-n", CFG "/Ring_8npus.yml",
                          "-s", CUSTOM "/system.json", "-j", loomrun_path("cu2.json"), "-q", NULL));
    expect_near(loomrun_step_ns(loomrun_path("cu2.json")), 14 * p2p_ns(262144) + 7 * 7000.0, "custom 2 MiB");
    /* loom compare: `lists` (the system file's choice) runs the custom
     * algorithm, a forced ring replaces it (the ring's 96.37 us differs) */
    expect_ok(loomrun_run(loomrun_tmp, "compare", "-w", AR8, "-n", CFG "/Ring_8npus.yml", "-s",
                          CUSTOM "/system.json", "--algorithms", "lists,ring", NULL));
    assert_non_null(strstr(loomrun_out, "\nlists                 90.320"));
    assert_null(strstr(loomrun_out, "\nring                  90.320"));
    /* an absolute prefix in a system file of our own */
    char sys[1024];
    snprintf(sys, sizeof sys, "{\"local-mem-bw\": 50, \"all-reduce-implementation-custom\": "
                              "[\"%s/custom_allreduce\"]}", CUSTOM);
    loomrun_write(loomrun_path("cs.json"), sys);
    expect_ok(loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", CFG "/Ring_8npus.yml", "-s",
                          loomrun_path("cs.json"), "-j", loomrun_path("cu3.json"), "-q", NULL));
    expect_near(loomrun_step_ns(loomrun_path("cu3.json")), 14 * p2p_ns(131072) + 7 * 7000.0, "absolute");
    /* a 4-rank all-reduce cannot run the 8-member algorithm */
    int rc = loomrun_run(loomrun_tmp, "run", "-w", FIXTURES "/chakra/micro_all_reduce_4npus_1MB/all_reduce",
                         "-n", CFG "/Ring_4npus.yml", "-s", loomrun_path("cs.json"), "-q", NULL);
    if (rc != 4 || strstr(loomrun_err, "custom algorithm custom_allreduce for 8") == NULL)
        fail_msg("4 ranks: exit %d: %s", rc, loomrun_err);
    /* a prefix with no traces, and a list of two */
    loomrun_write(loomrun_path("cs2.json"), "{\"local-mem-bw\": 50, \"all-reduce-implementation-custom\": "
                                            "[\"nowhere/x\"]}");
    rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", CFG "/Ring_8npus.yml", "-s",
                     loomrun_path("cs2.json"), "-q", NULL);
    if (rc != 2 || strstr(loomrun_err, "no rank files nowhere/x.0.et") == NULL)
        fail_msg("missing traces: exit %d: %s", rc, loomrun_err);
    loomrun_write(loomrun_path("cs3.json"), "{\"local-mem-bw\": 50, \"all-reduce-implementation-custom\": "
                                            "[\"a\", \"b\"]}");
    rc = loomrun_run(loomrun_tmp, "run", "-w", AR8, "-n", CFG "/Ring_8npus.yml", "-s",
                     loomrun_path("cs3.json"), "-q", NULL);
    if (rc != 2 || strstr(loomrun_err, "a list of one trace prefix") == NULL)
        fail_msg("two prefixes: exit %d: %s", rc, loomrun_err);
    tolerance = 0.002;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_types),
        cmocka_unit_test(test_memory_refusals),
        cmocka_unit_test(test_system_keys),
        cmocka_unit_test(test_custom_collective),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
