/*
 * test_ns3.c: ASTRA-sim's ns-3 and htsim network files (net_fabric_ns3.c,
 * net_fabric_htsim.c): the samples of test/data/astra-sim-configs parsed
 * into nodes, links, bandwidths in bytes/s (400 Gbps = 400e9 / 8) and
 * latencies in ps (0.0005 ms = 500 ns), the routes between NPUs, the
 * analytical view with logical dims, and malformed files refused with
 * the file, the line and what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_int.h"
#include "net_topo.h"

#define NS3 FIXTURES "/astra-sim-configs/ns3"
#define HTSIM FIXTURES "/astra-sim-configs/htsim"

static char tmpdir[64];

static void test_forms(void **state)
{
    (void)state;
    assert_int_equal(net_file_form(NS3 "/config.txt"), NET_FORM_NS3_CONFIG);
    assert_int_equal(net_file_form(NS3 "/8_nodes_1_switch_topology.txt"), NET_FORM_NS3_TOPO);
    assert_int_equal(net_file_form(NS3 "/8nodes_ring_topology.txt"), NET_FORM_NS3_TOPO);
    assert_int_equal(net_file_form(HTSIM "/8nodes.topo"), NET_FORM_HTSIM);
    assert_int_equal(net_file_form(FIXTURES "/astra-sim-configs/Ring_8npus.yml"), NET_FORM_YAML);
}

static int notes;
static int pfc, cc, buffers;
static void count_note(void *ctx, const char *text)
{
    (void)ctx;
    notes++;
    pfc += strstr(text, "ns-3 PFC: USE_DYNAMIC_PFC_THRESHOLD 1") != NULL;
    cc += strstr(text, "CC_MODE 12") != NULL;
    buffers += strstr(text, "BUFFER_SIZE") != NULL;
}

/* config.txt -> 8_nodes_1_switch_topology.txt (its TOPOLOGY_FILE path is
 * ns-3's build folder's; the file of that name beside the config) */
static void test_one_switch(void **state)
{
    (void)state;
    net_topo t;
    loom_err e = {0};
    notes = pfc = cc = buffers = 0;
    assert_int_equal(net_ns3_load(NS3 "/config.txt", NS3 "/sample_8nodes_1D.json", &t, count_note,
                                  NULL, &e), 0);
    assert_true(pfc == 1 && cc >= 1 && buffers == 1);
    assert_non_null(strstr(t.x.file, "8_nodes_1_switch_topology.txt"));
    assert_int_equal(t.x.kind, NET_X_NS3);
    assert_int_equal(t.x.npus, 8);
    assert_int_equal(t.x.ns3_nodes, 9);
    assert_int_equal(t.x.ns3_links, 8);
    /* view: Switch 8 at 400 Gbps = 5e10 B/s, 500 ns a link */
    assert_int_equal(t.ndims, 1);
    assert_int_equal(t.dims[0].kind, NET_SWITCH);
    assert_int_equal(t.dims[0].npus, 8);
    assert_true(t.dims[0].bw == 400e9 / 8);
    assert_int_equal(t.dims[0].latency, 500 * SIM_PS_PER_NS);

    net_graph *g = net_graph_build(&t, &e);
    assert_non_null(g);
    assert_int_equal(net_graph_check(g, &e), 0);
    assert_int_equal(g->npus, 8);
    assert_int_equal(g->nnodes, 9);
    assert_int_equal(g->nlinks, 16);
    for (int l = 0; l < g->nlinks; l++) {
        assert_true(g->lbw[l] == 5e10);
        assert_int_equal(g->llat[l], 500000);
    }
    /* npu 2 -> switch -> npu 5: cable "8 2" reversed, then cable "8 5" */
    uint32_t path[8];
    int n = net_graph_route(g, 2, 5, 12345, path);
    assert_int_equal(n, 2);
    assert_int_equal(g->lsrc[path[0]], 2);
    assert_int_equal(g->ldst[path[0]], 8);
    assert_int_equal(g->ldst[path[1]], 5);
    assert_int_equal(path[0], 2 * 2 + 1);
    assert_int_equal(path[1], 2 * 5);
    char name[32];
    net_graph_node_name(g, 8, name, sizeof name);
    assert_string_equal(name, "switch0");
    net_graph_destroy(g);
}

/* 8nodes_ring_topology.txt: no switches, NPUs forward; 0 -> 4 is four
 * hops either way round, and the hash picks the way (ECMP) */
static void test_ring(void **state)
{
    (void)state;
    net_topo t;
    loom_err e = {0};
    assert_int_equal(net_ns3_load(NS3 "/8nodes_ring_topology.txt", NULL, &t, NULL, NULL, &e), 0);
    assert_int_equal(t.x.npus, 8);
    assert_true(t.dims[0].bw == 25e9 / 8);
    /* the longest route, 0 -> 4, is 4 links of 5 us: a Switch's two
     * links at 10 us each */
    assert_int_equal(t.dims[0].latency, 10 * SIM_PS_PER_US);
    net_graph *g = net_graph_build(&t, &e);
    assert_int_equal(net_graph_check(g, &e), 0);
    assert_int_equal(g->max_hops, 4);
    uint32_t path[8];
    int ways[2] = {0, 0};
    for (uint64_t h = 0; h < 64; h++) {
        int n = net_graph_route(g, 0, 4, net_mix64(h), path);
        assert_int_equal(n, 4);
        ways[g->ldst[path[0]] == 1]++;
        assert_int_equal(g->ldst[path[3]], 4);
        /* deterministic: the same hash, the same route */
        uint32_t again[8];
        net_graph_route(g, 0, 4, net_mix64(h), again);
        assert_memory_equal(path, again, sizeof path[0] * 4);
    }
    assert_true(ways[0] > 0 && ways[1] > 0);
    assert_int_equal(net_graph_route(g, 0, 1, 7, path), 1);
    net_graph_destroy(g);
}

/* 128 NPUs on 16 switches, 200 Gbps and 5 us to the NPUs */
static void test_128(void **state)
{
    (void)state;
    net_topo t;
    loom_err e = {0};
    assert_int_equal(net_ns3_load(NS3 "/128_nodes_16_switch_topology.txt", NULL, &t, NULL, NULL,
                                  &e), 0);
    assert_int_equal(t.x.npus, 128);
    assert_int_equal(t.x.ns3_nodes, 144);
    assert_int_equal(t.x.ns3_links, 192);
    net_graph *g = net_graph_build(&t, &e);
    assert_int_equal(net_graph_check(g, &e), 0);
    assert_int_equal(g->lbw[0], 200e9 / 8);
    assert_int_equal(g->llat[0], 5 * SIM_PS_PER_US);
    uint32_t path[8];
    assert_int_equal(net_graph_route(g, 0, 1, 1, path), 2); /* same switch */
    net_graph_destroy(g);
}

static void test_logical(void **state)
{
    (void)state;
    net_topo t;
    loom_err e = {0};
    assert_int_equal(net_ns3_load(NS3 "/128_nodes_16_switch_topology.txt", NS3 "/sample_16nodes_2D.json",
                                  &t, NULL, NULL, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "multiply to 16 NPUs but the network has 128"));
    char top[128];
    snprintf(top, sizeof top, "%s/t16.txt", tmpdir);
    FILE *f = fopen(top, "w");
    fprintf(f, "17 1 16\n16\n");
    for (int i = 0; i < 16; i++)
        fprintf(f, "%d 16 100Gbps 1us 0\n", i);
    fclose(f);
    memset(&e, 0, sizeof e);
    assert_int_equal(net_ns3_load(top, NS3 "/sample_16nodes_2D.json", &t, NULL, NULL, &e), 0);
    assert_int_equal(t.ndims, 2);
    assert_int_equal(t.dims[0].npus, 8);
    assert_int_equal(t.dims[1].npus, 2);
    assert_true(t.dims[1].bw == 100e9 / 8);
    assert_int_equal(t.dims[1].latency, SIM_PS_PER_US);
}

/* a copy of the one-switch topology with line `line` replaced */
static const char *broken(int line, const char *text)
{
    static const char *const good[] = {"9 1 8",
                                       "8",
                                       "8 0 400Gbps 0.0005ms 0",
                                       "8 1 400Gbps 0.0005ms 0",
                                       "8 2 400Gbps 0.0005ms 0",
                                       "8 3 400Gbps 0.0005ms 0",
                                       "8 4 400Gbps 0.0005ms 0",
                                       "8 5 400Gbps 0.0005ms 0",
                                       "8 6 400Gbps 0.0005ms 0",
                                       "8 7 400Gbps 0.0005ms 0"};
    static char path[96];
    snprintf(path, sizeof path, "%s/bad.txt", tmpdir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 10; i++)
        fprintf(f, "%s\n", i + 1 == line ? text : good[i]);
    fclose(f);
    return path;
}

static void refused(int line, const char *text, const char *want)
{
    net_topo t;
    loom_err e = {0};
    const char *p = broken(line, text);
    assert_int_equal(net_ns3_load(p, NULL, &t, NULL, NULL, &e), LOOM_EUSAGE);
    char pre[160];
    snprintf(pre, sizeof pre, "%s: line %d: ", p, line);
    if (strncmp(e.msg, pre, strlen(pre)) != 0 || strstr(e.msg, want) == NULL)
        fail_msg("line %d '%s': got \"%s\", want \"%s...%s\"", line, text, e.msg, pre, want);
}

static void test_malformed(void **state)
{
    (void)state;
    refused(1, "9 1", "the header must be '<nodes> <switches> <links>'");
    refused(2, "12", "switch id '12' is not a node id 0..8");
    refused(3, "8 0 400Gbit 0.0005ms 0", "rate '400Gbit'");
    refused(3, "8 0 1e308Gbps 0.0005ms 0", "rate '1e308Gbps'"); /* infinite once scaled */
    refused(3, "8 0 1e-300bps 0.0005ms 0", "rate '1e-300bps'"); /* below 1 bit/s */
    refused(4, "8 1 400Gbps 0.5 0", "latency '0.5'");
    refused(5, "8 2 400Gbps", "a link is '<a> <b> <rate> <latency> <error rate>'");
    refused(6, "8 9 400Gbps 1us 0", "link ends '8 9'");
    refused(7, "8 8 400Gbps 1us 0", "a link from node 8 to itself");
    refused(8, "8 5 400Gbps 1us 2", "error rate '2'");
    /* units */
    net_topo t;
    loom_err e = {0};
    const char *p = broken(3, "8 0 800Mbps 20ns 0");
    assert_int_equal(net_ns3_load(p, NULL, &t, NULL, NULL, &e), 0);
    net_graph *g = net_graph_build(&t, &e);
    assert_true(g->lbw[0] == 1e8);
    assert_int_equal(g->llat[0], 20000);
    net_graph_destroy(g);
    /* too many links, and an NPU with no cable */
    char path[96];
    snprintf(path, sizeof path, "%s/extra.txt", tmpdir);
    FILE *f = fopen(path, "w");
    fprintf(f, "3 1 1\n2\n0 2 1Gbps 1us 0\n1 2 1Gbps 1us 0\n");
    fclose(f);
    assert_int_equal(net_ns3_load(path, NULL, &t, NULL, NULL, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "extra.txt: line 4: more links than the header's 1"));
    f = fopen(path, "w");
    fprintf(f, "3 1 1\n2\n0 2 1Gbps 1us 0\n");
    fclose(f);
    memset(&e, 0, sizeof e);
    assert_int_equal(net_ns3_load(path, NULL, &t, NULL, NULL, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "NPU 1 (node 1) has no path to NPU 0"));
    /* config.txt with no TOPOLOGY_FILE */
    snprintf(path, sizeof path, "%s/config.txt", tmpdir);
    f = fopen(path, "w");
    fprintf(f, "ENABLE_QCN 1\nCC_MODE 12\n");
    fclose(f);
    memset(&e, 0, sizeof e);
    assert_int_equal(net_ns3_load(path, NULL, &t, NULL, NULL, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "config.txt: no TOPOLOGY_FILE line"));
}

/* htsim's 8nodes.topo as loom's fat tree: 3 tiers, 2 hosts a leaf, pods
 * of 2 leaves; 200 Gbps to hosts and leaves; the cores' 4 x 100 Gbps up
 * ports of an aggregation switch over its 2 uplinks: 200 Gbps each */
static void test_htsim(void **state)
{
    (void)state;
    net_topo t;
    loom_err e = {0};
    assert_int_equal(net_htsim_load(HTSIM "/8nodes.topo", &t, NULL, NULL, &e), 0);
    assert_int_equal(t.x.kind, NET_X_FAT_TREE);
    assert_int_equal(t.x.npus, 8);
    assert_int_equal(t.x.tiers, 3);
    assert_int_equal(t.x.hosts_per_leaf, 2);
    assert_int_equal(t.x.leaves_per_pod, 2);
    assert_true(t.x.oversub[0] == 1 && t.x.oversub[1] == 1);
    for (int c = 0; c < 3; c++) {
        assert_true(t.x.cls[c].bw == 200e9 / 8);
        assert_int_equal(t.x.cls[c].latency, 1000 * SIM_PS_PER_NS);
    }
    net_graph *g = net_graph_build(&t, &e);
    assert_int_equal(net_graph_check(g, &e), 0);
    uint32_t path[8];
    assert_int_equal(net_graph_route(g, 0, 1, 3, path), 2);
    assert_int_equal(net_graph_route(g, 0, 2, 3, path), 4);
    assert_int_equal(net_graph_route(g, 0, 7, 3, path), 6);
    net_graph_destroy(g);
    /* a radix missing */
    char p[96];
    snprintf(p, sizeof p, "%s/bad.topo", tmpdir);
    FILE *f = fopen(p, "w");
    fprintf(f, "Nodes 8\nTiers 2\nTier 0\nDownlink_speed_Gbps 100\nRadix_Down 4\n"
               "Downlink_Latency_ns 10\nTier 1\nDownlink_speed_Gbps x\n");
    fclose(f);
    assert_int_equal(net_htsim_load(p, &t, NULL, NULL, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "bad.topo: line 8: 'Downlink_speed_Gbps' needs a number"));
    f = fopen(p, "w");
    fprintf(f, "Nodes 8\nTiers 2\nTier 0\nDownlink_speed_Gbps 100\nRadix_Down 4\nRadix_Up 2\n"
               "Downlink_Latency_ns 10\nTier 1\nDownlink_speed_Gbps 100\nRadix_Down 2\n"
               "Downlink_Latency_ns 10\nTier 2\nRadix_Down 2\n");
    fclose(f);
    memset(&e, 0, sizeof e);
    assert_int_equal(net_htsim_load(p, &t, NULL, NULL, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "bad.topo: a 'Tier 2' section, but Tiers is 2"));
    /* Radix_Down above tier 0 against the tree: 8 nodes, 4 a leaf = 2
     * leaves, so a tier-1 switch with Bundle 1 has 2 down ports, not 3;
     * with Bundle 2, 4.  The file starts with Tiers: still htsim's form */
    const char *two = "Tiers 2\nNodes 8\nTier 0\nDownlink_speed_Gbps 100\nRadix_Down 4\n"
                      "Radix_Up 2\nDownlink_Latency_ns 10\nTier 1\nDownlink_speed_Gbps 100\n"
                      "Downlink_Latency_ns 10\n";
    f = fopen(p, "w");
    fprintf(f, "%sRadix_Down 3\n", two);
    fclose(f);
    assert_int_equal(net_file_form(p), NET_FORM_HTSIM);
    memset(&e, 0, sizeof e);
    assert_int_equal(net_htsim_load(p, &t, NULL, NULL, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "bad.topo: Tier 1 Radix_Down 3: its switches face the 2 leaves "
                                  "through Bundle 1 link each, so 2 ports"));
    f = fopen(p, "w");
    fprintf(f, "%sRadix_Down 2\nBundle 2\n", two);
    fclose(f);
    memset(&e, 0, sizeof e);
    assert_int_equal(net_htsim_load(p, &t, NULL, NULL, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "through Bundle 2 links each, so 4 ports"));
    f = fopen(p, "w");
    fprintf(f, "%sRadix_Down 4\nBundle 2\n", two);
    fclose(f);
    memset(&e, 0, sizeof e);
    if (net_htsim_load(p, &t, NULL, NULL, &e) != 0)
        fail_msg("%s", e.msg);
    /* nodes that do not fill whole leaves (the sample, 8nodes.topo, passes
     * with its tier 2 facing 8 / 4 = 2 pods through Bundle 2: 4 ports) */
    f = fopen(p, "w");
    fprintf(f, "Nodes 6\nTiers 2\nTier 0\nDownlink_speed_Gbps 100\nRadix_Down 4\nRadix_Up 2\n"
               "Downlink_Latency_ns 10\nTier 1\nDownlink_speed_Gbps 100\nRadix_Down 2\n"
               "Downlink_Latency_ns 10\n");
    fclose(f);
    memset(&e, 0, sizeof e);
    assert_int_equal(net_htsim_load(p, &t, NULL, NULL, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "Nodes 6 is not a multiple of tier 0's Radix_Down 4"));
}

/* The file is read at the load, and once more by the flow model's graph,
 * which refuses it when it changed in between (an assertion once). */
static void test_changed_file(void **state)
{
    (void)state;
    char p[96], text[8192];
    snprintf(p, sizeof p, "%s/topo.txt", tmpdir);
    FILE *f = fopen(NS3 "/8_nodes_1_switch_topology.txt", "r");
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    net_topo t;
    loom_err e = {0};
    assert_int_equal(net_ns3_load(p, NULL, &t, NULL, NULL, &e), 0);
    net_topo t2 = t; /* the views use what the load kept: no file needed */
    remove(p);
    assert_int_equal(net_xtopo_view(&t2, &e), 0);
    assert_int_equal(t2.dims[0].npus, 8);
    /* another rate on every cable: same counts, other digest */
    char *q;
    while ((q = strstr(text, "400Gbps")) != NULL)
        memcpy(q, "200Gbps", 7);
    f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    assert_null(net_graph_build(&t, &e));
    assert_non_null(strstr(e.msg, "topo.txt: changed while loom ran"));
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/loom-ns3-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),   cmocka_unit_test(test_one_switch),
        cmocka_unit_test(test_ring),    cmocka_unit_test(test_128),
        cmocka_unit_test(test_logical), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_htsim),
        cmocka_unit_test(test_changed_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
