/* Loading a run's configuration (core/sim/config*.c): the network and
 * system files in loom's units, --set overrides, comm groups, and errors
 * that name the file and the key.  Expected values are converted by hand
 * from the units docs/CONFIG.md gives (network GB/s = 2^30 B/s, latency
 * and endpoint-delay in ns, local-mem-bw 10^9 B/s, peak-perf 10^12 FLOP/s). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "et_graph.h"
#include "et_testutil.h"
#include "sbuf.h"
#include "sim_testutil.h"

static const char net2[] = "topology: [ Ring, Switch ]\nnpus_count: [ 2, 4 ]\n"
                           "bandwidth: [ 50, 12.5 ]\nlatency: [ 500, 1000 ]\n";
static const char sys_min[] = "local-mem-bw: 100\n";

static void load_ok(loom_cfg *cfg, const char *net, const char *sys, const char *const *sets,
                    int nsets)
{
    loom_err err;
    if (st_load(cfg, net, sys, sets, nsets, &err) < 0)
        fail_msg("%s", err.msg);
}

/* Loads expecting LOOM_EUSAGE with every one of words[] in the message. */
static void load_bad(const char *net, const char *sys, const char *const *sets, int nsets,
                     const char *const *words)
{
    loom_cfg cfg;
    loom_err err;
    int rc = st_load(&cfg, net, sys, sets, nsets, &err);
    if (rc != LOOM_EUSAGE)
        fail_msg("loaded with %d (%s), wanted an error", rc, err.msg);
    for (const char *const *w = words; *w; w++)
        if (strstr(err.msg, *w) == NULL)
            fail_msg("message \"%s\" lacks \"%s\"", err.msg, *w);
}

/* 50 GB/s = 50 * 2^30 B/s; 500 ns = 500,000 ps. */
static void test_network_units(void **state)
{
    (void)state;
    loom_cfg cfg;
    load_ok(&cfg, net2, sys_min, NULL, 0);
    assert_int_equal(cfg.topo.ndims, 2);
    assert_int_equal(cfg.topo.dims[0].kind, NET_RING);
    assert_int_equal(cfg.topo.dims[1].kind, NET_SWITCH);
    assert_int_equal(cfg.topo.dims[0].npus, 2);
    assert_int_equal(cfg.topo.dims[1].npus, 4);
    assert_true(cfg.topo.dims[0].bw == 50.0 * 1073741824.0);
    assert_true(cfg.topo.dims[1].bw == 12.5 * 1073741824.0);
    assert_true(cfg.topo.dims[0].latency == 500000);
    assert_true(cfg.topo.dims[1].latency == 1000000);
    loom_cfg_free(&cfg);
}

/* A file with only local-mem-bw takes ASTRA-sim's defaults: one split, one
 * active chunk, 10 ns endpoint delay, ring everywhere, trace durations. */
static void test_system_defaults(void **state)
{
    (void)state;
    loom_cfg cfg;
    load_ok(&cfg, net2, sys_min, NULL, 0);
    assert_int_equal(cfg.sys.splits, 1);
    assert_int_equal(cfg.sys.active_chunks, 1);
    assert_true(cfg.sys.endpoint_delay == 10000);
    assert_true(cfg.sys.local_mem_bw == 100e9);
    for (int op = 0; op < NET_IMPL_OPS; op++)
        for (int d = 0; d < 2; d++)
            assert_int_equal(cfg.sys.impl[op][d], NET_ALGO_RING);
    assert_int_equal(cfg.comp.kind, COMP_TRACE);
    assert_int_equal(cfg.ctrl_deps, 1);
    assert_int_equal(cfg.nnotes, 0);
    assert_int_equal(cfg.sys.ag_descending, 0); /* ASTRA-sim's order */
    assert_true(cfg.sys.phase_overlap == 0);     /* phases in turn */
    assert_null(cfg.rank_comp);
    loom_cfg_free(&cfg);
}

static void test_system_keys(void **state)
{
    (void)state;
    loom_cfg cfg;
    load_ok(&cfg, net2,
            "endpoint-delay: 25\nactive-chunks-per-dimension: 2\npreferred-dataset-splits: 8\n"
            "all-reduce-implementation: [direct, halvingDoubling]\nlocal-mem-bw: 1600\n"
            "peak-perf: 312\nroofline-enabled: 1\nnetwork-model: flow\n"
            "all-gather-order: descending\nphase-overlap: 0.25\n",
            NULL, 0);
    assert_true(cfg.sys.endpoint_delay == 25000);
    assert_int_equal(cfg.sys.active_chunks, 2);
    assert_int_equal(cfg.sys.splits, 8);
    assert_int_equal(cfg.sys.impl[NET_IMPL_ALL_REDUCE][0], NET_ALGO_DIRECT);
    assert_int_equal(cfg.sys.impl[NET_IMPL_ALL_REDUCE][1], NET_ALGO_HD);
    assert_int_equal(cfg.sys.impl[NET_IMPL_ALL_GATHER][0], NET_ALGO_RING);
    assert_true(cfg.sys.local_mem_bw == 1600e9);
    assert_true(cfg.comp.mem_bw == 1600e9);
    assert_true(cfg.comp.peak_flops == 312e12);
    assert_int_equal(cfg.comp.kind, COMP_ROOFLINE);
    assert_int_equal(cfg.sys.model, NET_MODEL_FLOW);
    assert_int_equal(cfg.sys.ag_descending, 1);
    assert_true(cfg.sys.phase_overlap == 0.25);
    loom_cfg_free(&cfg);
    /* one name, not a list: every dimension (what gen llm writes for
     * NCCL's all-to-all, not knowing the network) */
    load_ok(&cfg, net2, "local-mem-bw: 100\nall-to-all-implementation: direct\n", NULL, 0);
    assert_int_equal(cfg.sys.impl[NET_IMPL_ALL_TO_ALL][0], NET_ALGO_DIRECT);
    assert_int_equal(cfg.sys.impl[NET_IMPL_ALL_TO_ALL][1], NET_ALGO_DIRECT);
    assert_int_equal(cfg.sys.impl[NET_IMPL_ALL_REDUCE][1], NET_ALGO_RING);
    loom_cfg_free(&cfg);
}

/* Keys loom accepts without modelling become notes for the report. */
static void test_notes(void **state)
{
    (void)state;
    loom_cfg cfg;
    load_ok(&cfg, net2, "local-mem-bw: 100\nscheduling-policy: FIFO\nboost-mode: 0\nL: 3\n", NULL, 0);
    assert_int_equal(cfg.nnotes, 2); /* boost-mode 0 is the default: no note */
    assert_non_null(strstr(cfg.notes[0], "scheduling-policy FIFO"));
    assert_string_equal(cfg.notes[1], "L");
    loom_cfg_free(&cfg);
}

/* --set changes a list entry, a whole key, a key the file lacks, and a
 * dimension through network.dims[i].key: the same units as the file. */
static void test_set_overrides(void **state)
{
    (void)state;
    static const char *const sets[] = {
        "network.bandwidth[1]=25",        /* 25 * 2^30 B/s */
        "network.dims[0].latency=750",    /* 750 ns */
        "system.local-mem-bw=200",        /* replaces the file's 100 */
        "system.preferred-dataset-splits=4", /* not in the file: added */
        "system.all-gather-implementation=[direct, direct]",
    };
    loom_cfg cfg;
    load_ok(&cfg, net2, sys_min, sets, 5);
    assert_true(cfg.topo.dims[0].bw == 50.0 * 1073741824.0);
    assert_true(cfg.topo.dims[1].bw == 25.0 * 1073741824.0);
    assert_true(cfg.topo.dims[0].latency == 750000);
    assert_true(cfg.topo.dims[1].latency == 1000000);
    assert_true(cfg.sys.local_mem_bw == 200e9);
    assert_int_equal(cfg.sys.splits, 4);
    assert_int_equal(cfg.sys.impl[NET_IMPL_ALL_GATHER][1], NET_ALGO_DIRECT);
    loom_cfg_free(&cfg);
}

static void test_set_errors(void **state)
{
    (void)state;
    const char *s1[] = {"system.nokey=1"};
    load_bad(net2, sys_min, s1, 1, (const char *[]){"--set", "unknown key 'nokey'", NULL});
    const char *s2[] = {"nosection.x=1"};
    load_bad(net2, sys_min, s2, 1, (const char *[]){"--set nosection.x=1", "unknown section", NULL});
    const char *s3[] = {"network.bandwidth[5]=1"};
    load_bad(net2, sys_min, s3, 1, (const char *[]){"index 5", "'bandwidth'", NULL});
    const char *s4[] = {"system.local-mem-bw=-1"}; /* checked by the file's own reader */
    load_bad(net2, sys_min, s4, 1, (const char *[]){"key 'local-mem-bw'", "out of range", NULL});
    const char *s5[] = {"system.local-mem-bw"};
    load_bad(net2, sys_min, s5, 1, (const char *[]){"--set system.local-mem-bw", "SECTION.KEY=VALUE", NULL});
}

/* Errors name the file and the key (and the line where there is one). */
static void test_file_errors(void **state)
{
    (void)state;
    const char *net = st_path("net.yml"), *sys = st_path("sys.yaml");
    load_bad(net2, "local-mem-bw: 100\nbogus: 1\n", NULL, 0,
             (const char *[]){sys, "line 2", "unknown key 'bogus'", NULL});
    load_bad(net2, "local-mem-bw: 100\nlocal-mem-bw: 100\n", NULL, 0,
             (const char *[]){sys, "key 'local-mem-bw' appears twice", NULL});
    load_bad(net2, "local-mem-bw: abc\n", NULL, 0,
             (const char *[]){sys, "key 'local-mem-bw' (line 1)", "'abc' is not a number", NULL});
    load_bad(net2, "endpoint-delay: 10\n", NULL, 0,
             (const char *[]){sys, "missing key 'local-mem-bw'", NULL});
    load_bad(net2, "local-mem-bw: 100\nall-reduce-implementation: [ring]\n", NULL, 0,
             (const char *[]){sys, "'all-reduce-implementation'", "network has 2 dimensions", NULL});
    load_bad(net2, "local-mem-bw: 100\nall-to-all-implementation: sideways\n", NULL, 0,
             (const char *[]){sys, "key 'all-to-all-implementation' (line 2)",
                              "'sideways' is not an algorithm", NULL});
    load_bad(net2, "local-mem-bw: 100\ncompute-model: banana\n", NULL, 0,
             (const char *[]){sys, "key 'compute-model'", "trace, roofline, table", NULL});
    load_bad(net2, "local-mem-bw: 100\nall-gather-order: outward\n", NULL, 0,
             (const char *[]){sys, "key 'all-gather-order'", "ascending, descending", NULL});
    load_bad(net2, "local-mem-bw: 100\nphase-overlap: 1.5\n", NULL, 0,
             (const char *[]){sys, "key 'phase-overlap'", NULL});
    load_bad(net2, "local-mem-bw: 100\nphase-overlap: half\n", NULL, 0,
             (const char *[]){sys, "key 'phase-overlap'", "'half' is not a number", NULL});
    load_bad(net2, "local-mem-bw: 100\nroofline-enabled: 1\n", NULL, 0,
             (const char *[]){sys, "'peak-perf'", NULL});
    load_bad("topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\n", sys_min, NULL, 0,
             (const char *[]){net, "missing key 'latency'", NULL});
    load_bad("topology: [ Ring, Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50, 50 ]\nlatency: [ 1, 1 ]\n",
             sys_min, NULL, 0, (const char *[]){net, "'npus_count' has 1", NULL});
    load_bad("topology: [ Rung ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\nlatency: [ 1 ]\n", sys_min,
             NULL, 0, (const char *[]){net, "key 'topology'", "'Rung' is not one of", NULL});
    load_bad("topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 0 ]\nlatency: [ 1 ]\n", sys_min,
             NULL, 0, (const char *[]){net, "key 'bandwidth'", "out of range", NULL});
    load_bad(net2, "", NULL, 0, (const char *[]){sys, "the file is empty", NULL});
    load_bad(net2, "[1, 2]\n", NULL, 0, (const char *[]){sys, "mapping", NULL});

    loom_cfg cfg;
    loom_err err = {0};
    loom_cfg_files none = {.network = NULL, .system = sys};
    assert_int_equal(loom_cfg_load(&cfg, &none, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "--network"));
}

/* Every file and --set value goes through core/base/yamlio (docs/CONFIG.md,
 * "Limits of every file"): a complex key, at the top of either network
 * form or inside a value, is refused where it stands (it crashed in
 * strcmp: 'kind' was looked up before the keys were checked); so are a
 * recursive alias, text after the value and a second value in --set. */
static void test_yaml_layer(void **state)
{
    (void)state;
    const char *net = st_path("net.yml"), *sys = st_path("sys.yaml");
    load_bad("topology: [Ring]\n? [a, b]\n: 1\n", sys_min, NULL, 0,
             (const char *[]){net, ": line 2, column 3: a mapping key must be a scalar", NULL});
    load_bad("kind: rail\n? {a: 1}\n: 1\n", sys_min, NULL, 0,
             (const char *[]){net, ": line 2, column 3:", "not a mapping", NULL});
    load_bad(net2, "local-mem-bw: 100\nstraggler: {[0]: 2}\n", NULL, 0,
             (const char *[]){sys, ": line 2, column 13: a mapping key must be a scalar", NULL});
    const char *s1[] = {"network.bandwidth=&a [*a]"};
    load_bad(net2, sys_min, s1, 1,
             (const char *[]){"--set network.bandwidth: line 1, column 5: alias '*a' refers to a "
                              "collection that contains it (a cycle)", NULL});
    const char *s2[] = {"network.bandwidth[0]=[50]] garbage"};
    load_bad(net2, sys_min, s2, 1,
             (const char *[]){"--set network.bandwidth[0]: line 1, column 5: text after the end "
                              "of the document", NULL});
    const char *s3[] = {"system.straggler={\"0\": 2}{\"1\": 3}"};
    load_bad(net2, sys_min, s3, 1,
             (const char *[]){"--set system.straggler: line 1, column 9: text after", NULL});
    const char *s4[] = {"network.bandwidth=[1, 2]\n--- [3]"};
    load_bad(net2, sys_min, s4, 1,
             (const char *[]){"--set network.bandwidth: line 2, column 1: a second document", NULL});
    const char *s5[] = {"network.bandwidth="};
    load_bad(net2, sys_min, s5, 1, (const char *[]){"--set network.bandwidth: the value is empty", NULL});
    /* --set laughs: 8 levels of 10 aliases, 10^8 nodes if copied out */
    sbuf t = {0};
    sb_str(&t, "network.bandwidth=[&l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]");
    for (int k = 1; k < 8; k++) {
        sb_printf(&t, ", &l%d [", k);
        for (int j = 0; j < 10; j++)
            sb_printf(&t, "%s*l%d", j ? ", " : "", k - 1);
        sb_str(&t, "]");
    }
    sb_str(&t, "]");
    const char *s6[] = {t.p};
    load_bad(net2, sys_min, s6, 1,
             (const char *[]){"--set network.bandwidth: line 1, column ",
                              "more than 4194304 nodes with aliases expanded", NULL});
    free(t.p);
}

/* Aliases read as what they name: a --set value's alias gives both entries
 * the value, and --set KEY[i] on a list another key aliases changes that
 * key alone (it changed both: the list was edited in place). */
static void test_yaml_aliases(void **state)
{
    (void)state;
    static const char net[] = "topology: [Ring, Ring]\nnpus_count: [2, 2]\n"
                              "bandwidth: &b [50, 50]\nlatency: *b\n";
    const char *sets[] = {"network.bandwidth[1]=25"};
    loom_cfg cfg;
    load_ok(&cfg, net, sys_min, sets, 1);
    assert_true(cfg.topo.dims[0].bw == 50.0 * 1073741824.0);
    assert_true(cfg.topo.dims[1].bw == 25.0 * 1073741824.0);
    assert_true(cfg.topo.dims[0].latency == 50000); /* 50 ns, still */
    assert_true(cfg.topo.dims[1].latency == 50000);
    loom_cfg_free(&cfg);
    const char *s2[] = {"network.bandwidth=[&x 10, *x]"};
    load_ok(&cfg, net2, sys_min, s2, 1);
    assert_true(cfg.topo.dims[0].bw == 10.0 * 1073741824.0);
    assert_true(cfg.topo.dims[1].bw == 10.0 * 1073741824.0);
    loom_cfg_free(&cfg);
}

/* A list group and a rule {stride: 2, size: 4}: rank 5's group has base
 * 5 - ((5 / 2) mod 4) * 2 = 5 - 2 * 2 = 1, so its members are 1, 3, 5, 7. */
static void test_groups(void **state)
{
    (void)state;
    st_put("cg.json", "{\"1\": [3, 0, 2], \"dp\": {\"stride\": 2, \"size\": 4}}");
    st_put("net.yml", net2);
    st_put("sys.yaml", sys_min);
    char net[512], sys[512], cg[512];
    snprintf(net, sizeof net, "%s", st_path("net.yml"));
    snprintf(sys, sizeof sys, "%s", st_path("sys.yaml"));
    snprintf(cg, sizeof cg, "%s", st_path("cg.json"));
    loom_cfg_files f = {.network = net, .system = sys, .comm_group = cg};
    loom_cfg cfg;
    loom_err err = {0};
    if (loom_cfg_load(&cfg, &f, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg.ngroups, 2);
    const loom_group *g = loom_cfg_group(&cfg, "1");
    assert_non_null(g);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->ranks[0], 0); /* sorted */
    assert_int_equal(g->ranks[1], 2);
    assert_int_equal(g->ranks[2], 3);
    const loom_group *dp = loom_cfg_group(&cfg, "dp");
    assert_non_null(dp);
    assert_null(dp->ranks);
    assert_int_equal(dp->stride, 2);
    assert_int_equal(dp->n, 4);
    assert_int_equal(loom_group_base(dp, 5), 1);
    assert_int_equal(loom_group_base(dp, 6), 0);
    assert_int_equal(loom_group_base(dp, 9), 9 - ((9 / 2) % 4) * 2); /* 9 - 0 = 9 */
    assert_null(loom_cfg_group(&cfg, "2"));
    loom_cfg_free(&cfg);

    st_put("cg.json", "{\"1\": [0, 1, 1]}");
    assert_int_equal(loom_cfg_load(&cfg, &f, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, cg));
    assert_non_null(strstr(err.msg, "group '1' lists rank 1 twice"));
}

/* The remote-memory file: each memory type and its keys; one access of
 * 1,000,005 bytes at latency 100 ns and 10 GB/s takes
 * 100 + floor(1,000,005 / 10e9 * 1e9) = 100,100 ns (AnalyticalRemoteMemory). */
static void test_remote_memory(void **state)
{
    (void)state;
    st_put("net.yml", net2);
    st_put("sys.yaml", sys_min);
    char net[512], sys[512], rm[512];
    snprintf(net, sizeof net, "%s", st_path("net.yml"));
    snprintf(sys, sizeof sys, "%s", st_path("sys.yaml"));
    snprintf(rm, sizeof rm, "%s", st_path("rm.json"));
    loom_cfg_files f = {.network = net, .system = sys, .remote_mem = rm};
    loom_cfg cfg;
    loom_err err = {0};
    st_put("rm.json", "{\"memory-type\": \"PER_NODE_MEMORY_EXPANSION\", \"remote-mem-latency\": 100, "
                      "\"remote-mem-bw\": 10, \"num-nodes\": 2, \"num-npus-per-node\": 4}");
    if (loom_cfg_load(&cfg, &f, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg.rmem.kind, LOOM_RMEM_PER_NODE);
    assert_int_equal(cfg.rmem.latency_ns, 100);
    assert_int_equal(cfg.rmem.bw_gbps, 10);
    assert_int_equal(cfg.rmem.num_nodes, 2);
    assert_int_equal(cfg.rmem.npus_per_node, 4);
    assert_int_equal(loom_rmem_time(&cfg.rmem, 1000005), 100100 * SIM_PS_PER_NS);
    assert_int_equal(cfg.nnotes, 0);
    loom_cfg_free(&cfg);
    static const char *const kinds[] = {"NO_MEMORY_EXPANSION", "PER_NODE_MEMORY_EXPANSION",
                                        "PER_NPU_MEMORY_EXPANSION", "MEMORY_POOL"};
    for (int k = 0; k < 4; k++) {
        char text[200];
        snprintf(text, sizeof text, "{\"memory-type\": \"%s\", \"remote-mem-bw\": 3%s}", kinds[k],
                 k == 1 ? ", \"num-nodes\": 1, \"num-npus-per-node\": 8" : "");
        st_put("rm.json", text);
        if (loom_cfg_load(&cfg, &f, &err) < 0)
            fail_msg("%s: %s", kinds[k], err.msg);
        assert_int_equal(cfg.rmem.kind, k);
        assert_int_equal(cfg.rmem.latency_ns, 0); /* ASTRA-sim's default */
        /* floor(1,000,005 / 3) = 333,335 ns */
        assert_int_equal(loom_rmem_time(&cfg.rmem, 1000005), 333335 * SIM_PS_PER_NS);
        assert_int_equal(cfg.nnotes, k == 0); /* NO_MEMORY_EXPANSION ignores the bandwidth */
        loom_cfg_free(&cfg);
    }
    st_put("rm.json", "{\"memory-type\": \"PER_NPU_MEMORY_EXPANSION\", \"remote-mem-bw\": -1}");
    assert_int_equal(loom_cfg_load(&cfg, &f, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, rm));
    assert_non_null(strstr(err.msg, "remote-mem-bw"));
}

/* *-implementation-custom: the fixture's ring all-reduce becomes a plan of
 * 8 members x (14 sends + 14 receives + 7 compute nodes); its busiest
 * member sends 14 x 131,072 B, so the plan is for
 * 14 x 131,072 x 8 / (2 x 7) = 1,048,576 B; a compute node of
 * duration_micros 7 takes 7 us. */
static void test_custom_plan(void **state)
{
    (void)state;
    char sys[1024];
    snprintf(sys, sizeof sys, "local-mem-bw: 50\nall-reduce-implementation-custom: "
                              "[\"%s/chakra/custom_ring_allreduce_8npus_1MB/custom_allreduce\"]\n",
             FIXTURES);
    loom_cfg cfg;
    load_ok(&cfg, "topology: [ Ring ]\nnpus_count: [ 8 ]\nbandwidth: [ 50 ]\nlatency: [ 500 ]\n", sys,
            NULL, 0);
    const net_cplan *p = cfg.custom[NET_IMPL_ALL_REDUCE];
    assert_non_null(p);
    assert_null(cfg.custom[NET_IMPL_ALL_GATHER]);
    assert_int_equal(p->members, 8);
    assert_int_equal(p->first[8], 8 * 35);
    assert_int_equal(p->bytes, 1048576);
    assert_string_equal(p->name, "custom_allreduce");
    int sends = 0, recvs = 0, comps = 0;
    for (uint32_t i = p->first[3]; i < p->first[4]; i++) {
        sends += p->nodes[i].kind == NET_PSEND;
        recvs += p->nodes[i].kind == NET_PRECV;
        if (p->nodes[i].kind == NET_PCOMP) {
            comps++;
            assert_int_equal(p->nodes[i].dur, 7 * SIM_PS_PER_US);
        } else {
            assert_int_equal(p->nodes[i].bytes, 131072);
        }
    }
    assert_int_equal(sends, 14);
    assert_int_equal(recvs, 14);
    assert_int_equal(comps, 7);
    assert_int_equal(cfg.nnotes, 0); /* run, not noted */
    loom_cfg_free(&cfg);
    load_bad("topology: [ Ring ]\nnpus_count: [ 8 ]\nbandwidth: [ 50 ]\nlatency: [ 500 ]\n",
             "local-mem-bw: 50\nall-gather-implementation-custom: [nowhere/x]\n", NULL, 0,
             (const char *[]){"custom collective 'nowhere/x'", "no rank files", NULL});
}

/* A custom collective whose members disagree: member 0 sends tag 5 to
 * member 1, which receives tag 6 from member 0.  ASTRA-sim would wait
 * forever; loom refuses the plan at load, naming both members and the tag
 * (config_custom.c, check_matching), with the trace error's code. */
static void test_custom_unmatched(void **state)
{
    (void)state;
    for (int m = 0; m < 2; m++) {
        tb b = {0};
        ChakraProtoMsg__Node *n = tb_node(&b, 1, m == 0 ? ET_COMM_SEND_NODE : ET_COMM_RECV_NODE, "x");
        tb_i64(&b, n, m == 0 ? "comm_dst" : "comm_src", 1 - m);
        tb_i64(&b, n, "comm_tag", m == 0 ? 5 : 6);
        tb_u64(&b, n, "comm_size", 1024);
        char name[64];
        snprintf(name, sizeof name, "bad_custom.%d.et", m);
        tb_write(st_path(name), "1.0.0", &n, 1, 0);
        tb_free(&b);
    }
    char sys[700];
    snprintf(sys, sizeof sys, "local-mem-bw: 50\nall-reduce-implementation-custom: [\"%s\"]\n",
             st_path("bad_custom"));
    loom_cfg cfg;
    loom_err err;
    int rc = st_load(&cfg, "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 50 ]\nlatency: [ 500 ]\n",
                     sys, NULL, 0, &err);
    assert_int_equal(rc, LOOM_ETRACE);
    assert_non_null(strstr(err.msg, "member 0 sends 1 message with tag 5 to member 1, which receives 0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_units),
        cmocka_unit_test(test_system_defaults),
        cmocka_unit_test(test_system_keys),
        cmocka_unit_test(test_notes),
        cmocka_unit_test(test_set_overrides),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_remote_memory),
        cmocka_unit_test(test_custom_plan),
        cmocka_unit_test(test_custom_unmatched),
        cmocka_unit_test(test_yaml_layer),
        cmocka_unit_test(test_yaml_aliases),
    };
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}
