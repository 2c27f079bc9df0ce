/*
 * End to end: ASTRA-sim's ns-3 and htsim networks through `loom run`,
 * spelt as ASTRA-sim's run scripts spell them, on the 8-rank 1 MB
 * all-reduce of test/data/chakra with Ring_4chunks.json (ring, W = 4
 * waves, δ = 10 ns endpoint delay, M = 1600e9 B/s local memory), and
 * `loom topo describe` of both.
 *
 * The closed form (docs/NETWORK.md 4; a ring all-reduce of p members is
 * 2(p-1) steps, the first p-1 reduce what they receive): with m = N/(W p)
 * bytes a step, H links and latency L on the slowest step's route and B
 * the bottleneck link's bytes/s,
 *
 *     T = W * 2(p-1) * (H L + δ + m / B) + W * (p-1) * 3m / M
 *
 * No link carries two flows of a step in either network (each ring
 * neighbour's flow has its own up and down links), so the flow model
 * gives T to 1 ps per step.
 *   ns-3, 8 NPUs on one switch: H = 2, L = 500 ns, B = 400 Gbps = 5e10 B/s.
 *   htsim 8nodes.topo: pods of 4; the ring's step from NPU 3 to 4 (and 7
 *   to 0) crosses the cores: H = 6, L = 1000 ns, B = 200 Gbps = 2.5e10 B/s.
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
#include <unistd.h>

#include "loomrun.h"

#define CFG FIXTURES "/astra-sim-configs"
#define W8 FIXTURES "/chakra/micro_all_reduce_8npus_1MB/all_reduce"
#define SYS "--system-configuration=" CFG "/Ring_4chunks.json"

/* T above, ns */
static double ring_ar_ns(int hops, double lat_ns, double bw)
{
    const double N = 1048576, W = 4, p = 8, delta = 10, M = 1600e9;
    double m = N / (W * p);
    return W * 2 * (p - 1) * (hops * lat_ns + delta + m / bw * 1e9) +
           W * (p - 1) * 3 * m / M * 1e9;
}

static double step_ns(void) { return loomrun_step_ns(loomrun_path("r.json")); }

static void near(double got, double want)
{
    /* 1 ps per step of rounding: W * 2(p-1) steps, plus 1 */
    if (fabs(got - want) > (4 * 14 + 1) * 1e-3)
        fail_msg("step time %.3f ns, the closed form gives %.3f ns", got, want);
}

static void test_ns3(void **state)
{
    (void)state;
    int rc = loomrun_run(loomrun_tmp, "run", "--workload-configuration=" W8,
                         "--network-configuration=" CFG "/ns3/config.txt",
                         "--logical-topology-configuration=" CFG "/ns3/sample_8nodes_1D.json", SYS,
                         "--comm-group-configuration=empty", "--json", loomrun_path("r.json"), NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    near(step_ns(), ring_ar_ns(2, 500, 5e10)); /* 94980.48 ns */
    assert_non_null(strstr(loomrun_out, "(flow model;"));
    assert_non_null(strstr(loomrun_out, "ns-3 PFC: USE_DYNAMIC_PFC_THRESHOLD 1"));
    assert_non_null(strstr(loomrun_out, "ns-3 congestion control: ENABLE_QCN 1, CC_MODE 12"));
    assert_non_null(strstr(loomrun_out, "BUFFER_SIZE 32"));
    /* the analytical view is exact on one switch; the user's choice wins */
    rc = loomrun_run(loomrun_tmp, "run", "-w", W8, "-n", CFG "/ns3/config.txt", SYS, "--set",
                     "system.network-model=analytical", "--json", loomrun_path("r.json"), NULL);
    assert_int_equal(rc, 0);
    assert_null(strstr(loomrun_out, "(flow model;"));
    near(step_ns(), ring_ar_ns(2, 500, 5e10));
    /* ns-3's files are not YAML: --set network.* cannot edit them */
    rc = loomrun_run(loomrun_tmp, "run", "-w", W8, "-n", CFG "/ns3/config.txt", SYS, "--set",
                     "network.bandwidth[0]=1", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "config.txt is not a YAML network file"));
    /* a logical topology that does not fit */
    rc = loomrun_run(loomrun_tmp, "run", "-w", W8, "-n", CFG "/ns3/config.txt",
                     "--logical-topology-configuration", CFG "/ns3/sample_16nodes_2D.json", SYS,
                     NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "the logical dims multiply to 16 NPUs but the network has 8"));
    /* the TOPOLOGY_FILE config.txt names is an input: no output may be it
     * (a copy, so that a failure could not clobber the fixture) */
    loomrun_copy(CFG "/ns3/config.txt", loomrun_path("config.txt"));
    loomrun_copy(CFG "/ns3/8_nodes_1_switch_topology.txt",
                 loomrun_path("8_nodes_1_switch_topology.txt"));
    char before[4096], after[4096];
    loomrun_slurp(loomrun_path("8_nodes_1_switch_topology.txt"), before, sizeof before);
    rc = loomrun_run(loomrun_tmp, "run", "-w", W8, "-n", loomrun_path("config.txt"), SYS, "--json",
                     loomrun_path("8_nodes_1_switch_topology.txt"), NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "the ns-3 topology file"));
    loomrun_slurp(loomrun_path("8_nodes_1_switch_topology.txt"), after, sizeof after);
    assert_string_equal(before, after);
}

static void test_htsim(void **state)
{
    (void)state;
    int rc = loomrun_run(loomrun_tmp, "run", "--workload-configuration=" W8, SYS,
                         "--network-configuration=" CFG "/Ring_8npus.yml", "--htsim_opts", "-topo",
                         CFG "/htsim/8nodes.topo", "--json", loomrun_path("r.json"), NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    near(step_ns(), ring_ar_ns(6, 1000, 2.5e10)); /* 411680.64 ns */
    assert_non_null(strstr(loomrun_out, "(flow model;"));
    /* without the YAML: one logical dimension of all NPUs */
    rc = loomrun_run(loomrun_tmp, "run", "-w", W8, SYS, "--htsim_opts", "-topo",
                     CFG "/htsim/8nodes.topo", "--json", loomrun_path("r.json"), NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    near(step_ns(), ring_ar_ns(6, 1000, 2.5e10));
    /* ASTRA-sim's htsim command line as its run script writes it, no
     * `run`: its log, whose times are whole ns */
    rc = loomrun_run(loomrun_tmp, "--workload-configuration=" W8, SYS,
                     "--remote-memory-configuration=" CFG "/no_memory_expansion.json",
                     "--network-configuration=" CFG "/Ring_8npus.yml", "--htsim_opts", "-topo",
                     CFG "/htsim/8nodes.topo", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    assert_non_null(strstr(loomrun_out, "sys[7], Wall time: 411681"));
    rc = loomrun_run(loomrun_tmp, "run", "-w", W8, SYS, "--htsim_opts", "-nodes", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "loom reads only -topo FILE"));
    /* the sample with Tiers first is still htsim's form through --network;
     * a Radix_Down that does not match the tree is refused with the count */
    loomrun_write(loomrun_path("t.topo"), "Tiers 3\nNodes 8\nPodsize 4\nTier 0\n"
                  "Downlink_speed_Gbps 200\nRadix_Down 2\nRadix_Up 2\nDownlink_Latency_ns 1000\n"
                  "Tier 1\nDownlink_speed_Gbps 200\nRadix_Down 2\nRadix_Up 4\n"
                  "Downlink_Latency_ns 1000\nBundle 1\nTier 2\nDownlink_speed_Gbps 100\n"
                  "Radix_Down 4\nDownlink_Latency_ns 1000\nBundle 2\n");
    rc = loomrun_run(loomrun_tmp, "run", "-w", W8, SYS, "-n", loomrun_path("t.topo"), "--json",
                     loomrun_path("r.json"), NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    near(step_ns(), ring_ar_ns(6, 1000, 2.5e10));
    loomrun_write(loomrun_path("t.topo"), "Tiers 3\nNodes 8\nPodsize 4\nTier 0\n"
                  "Downlink_speed_Gbps 200\nRadix_Down 2\nRadix_Up 2\nDownlink_Latency_ns 1000\n"
                  "Tier 1\nDownlink_speed_Gbps 200\nRadix_Down 2\nRadix_Up 4\n"
                  "Downlink_Latency_ns 1000\nBundle 1\nTier 2\nDownlink_speed_Gbps 100\n"
                  "Radix_Down 8\nDownlink_Latency_ns 1000\nBundle 2\n");
    rc = loomrun_run(loomrun_tmp, "run", "-w", W8, SYS, "--htsim_opts", "-topo",
                     loomrun_path("t.topo"), NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(loomrun_err, "t.topo: Tier 2 Radix_Down 8: its switches face the 2 pods "
                                        "through Bundle 2 links each, so 4 ports"));
}

static void test_describe(void **state)
{
    (void)state;
    assert_int_equal(loomrun_run(loomrun_tmp, "topo", "describe", CFG "/ns3/config.txt", NULL), 0);
    assert_non_null(strstr(loomrun_out, "8_nodes_1_switch_topology.txt: ns3"));
    assert_non_null(strstr(loomrun_out, "16 directed (8 cables"));
    assert_non_null(strstr(loomrun_out, "npu-switch                 16      46.5661          500"));
    assert_int_equal(loomrun_run(loomrun_tmp, "topo", "describe", CFG "/htsim/8nodes.topo", NULL), 0);
    assert_non_null(strstr(loomrun_out, "8nodes.topo: fat_tree"));
    assert_non_null(strstr(loomrun_out, "diameter         6 links, 6000 ns"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ns3),
        cmocka_unit_test(test_htsim),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}
