/*
 * test_topo.c: explicit fabrics (network/net_topo.c, net_graph.c): the
 * shipped example files, their counts, diameters and bisection bandwidths
 * against numbers worked out by hand from each fabric's shape, routing
 * (dimension order on tori, ECMP on fat trees, PXN on rails, minimal on
 * dragonflies), bad files, and loading through loom_cfg_load (config.c
 * hands a file with `kind:` to network/).
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
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "net.h"
#include "net_fabric.h"
#include "net_int.h"
#include "net_topo.h"

#define GIB 1073741824.0

static void load(const char *name, net_topo *t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/topologies/%s", EXAMPLES, name);
    loom_err e = {0};
    if (net_topo_load_file(path, t, &e) < 0)
        fail_msg("%s: %s", path, e.msg);
}

static void facts(const char *name, net_topo_facts *f)
{
    net_topo t;
    load(name, &t);
    loom_err e = {0};
    if (net_topo_measure(&t, f, &e) < 0)
        fail_msg("%s: %s", name, e.msg);
}

#define assert_bw(got, want_gib)                                                             \
    do {                                                                                     \
        double g_ = (got), w_ = (want_gib) * GIB;                                            \
        if (fabs(g_ - w_) > 1e-6 * w_)                                                       \
            fail_msg("%s = %.6g GB/s, want %.6g", #got, g_ / GIB, w_ / GIB);                  \
    } while (0)

/* Each example against its shape. */
static void test_examples(void **state)
{
    (void)state;
    net_topo_facts f;
    /* 2-tier, 32 leaves x 32 hosts, 32 uplinks each to 32 spines: links
     * 2*1024 host + 2*32*32 leaf-spine; routes host-leaf-spine-leaf-host;
     * bisection: ranks 0..511 fill leaves 0..15, whose 512 host links and
     * 16*32 uplinks both carry 512 x 46.566 GB/s */
    facts("fat_tree_1024.yml", &f);
    assert_int_equal(f.npus, 1024);
    assert_int_equal(f.switches, 64);
    assert_int_equal(f.links, 2 * 1024 + 2 * 32 * 32);
    assert_int_equal(f.diameter, 4);
    assert_int_equal(f.diameter_ps, (2 * 250 + 2 * 500) * 1000);
    assert_bw(f.bisection, 512 * 46.566);
    /* 3-tier: 32 leaves of 16, 4 pods of 8 leaves; 16/2 = 8 aggregation
     * switches per pod (32), 8/1 = 8 core uplinks each, 8*8 = 64 cores;
     * halves = pods 0-1 | 2-3: 16 aggregation switches x 8 core links */
    facts("fat_tree_3tier_os2.yml", &f);
    assert_int_equal(f.npus, 512);
    assert_int_equal(f.switches, 32 + 32 + 64);
    assert_int_equal(f.links, 2 * 512 + 2 * 32 * 8 + 2 * 32 * 8);
    assert_int_equal(f.diameter, 6);
    assert_bw(f.bisection, 16 * 8 * 46.566);
    /* rail: 16 servers x 8 GPUs, 16 NVSwitches + 8 rails, 4 links per GPU;
     * NVLink stays inside a server, so the halves (servers 0-7 | 8-15)
     * are cut at the 64 rail links of one half */
    facts("rail_dgx_h100_16.yml", &f);
    assert_int_equal(f.npus, 128);
    assert_int_equal(f.switches, 24);
    assert_int_equal(f.links, 4 * 128);
    assert_int_equal(f.diameter, 4); /* PXN: nvlink, nvlink, rail, rail */
    assert_int_equal(f.diameter_ps, (2 * 468 + 2 * 700) * 1000);
    assert_bw(f.bisection, 64 * 46.566);
    /* 8x8 torus: 2 links per NPU per dimension; DOR diameter 4 + 4; the
     * halves y < 4 | y >= 4 are cut at y = 3|4 and at the wrap 7|0: 2 x 8
     * links per direction */
    facts("torus_8x8.yml", &f);
    assert_int_equal(f.npus, 64);
    assert_int_equal(f.switches, 0);
    assert_int_equal(f.links, 64 * 2 * 2);
    assert_int_equal(f.diameter, 8);
    assert_bw(f.bisection, 16 * 50);
    /* 4x4x4: halves z < 2 | z >= 2: 2 x 16 links */
    facts("torus_4x4x4.yml", &f);
    assert_int_equal(f.links, 64 * 2 * 3);
    assert_int_equal(f.diameter, 6);
    assert_bw(f.bisection, 32 * 45);
    /* dragonfly 9 x 4 x 4: 144 hosts, 36 routers; links 2*144 host,
     * 36*3 local, 9*8 global; minimal route host-local-global-local-host */
    facts("dragonfly_144.yml", &f);
    assert_int_equal(f.npus, 144);
    assert_int_equal(f.switches, 36);
    assert_int_equal(f.links, 2 * 144 + 36 * 3 + 9 * 8);
    assert_int_equal(f.diameter, 5);
    assert_int_equal(f.diameter_ps, (100 + 300 + 1000 + 300 + 100) * 1000);
    /* 16 global cables between groups 0-3 and 5-8 plus, with group 4's
     * routers 0-1 (ranks 64..71, cabled to groups 5-8) on one side and
     * 2-3 on the other, 4 + 4 globals and 4 local cables: 24 x 25 + 4 x 50 */
    assert_bw(f.bisection, 24 * 25 + 4 * 50);
    /* ASTRA-sim's form: Ring 8 x Switch 4 (one switch per ring position) */
    char p[512];
    snprintf(p, sizeof p, "%s/allreduce_ring8/network.yml", EXAMPLES);
    net_topo t;
    loom_err e = {0};
    assert_int_equal(net_topo_load_file(p, &t, &e), 0);
    assert_int_equal(net_topo_measure(&t, &f, &e), 0);
    assert_int_equal(f.npus, 8);
    assert_int_equal(f.links, 16);
    assert_int_equal(f.diameter, 4);
}

/* ---- routing ------------------------------------------------------------- */

static net_graph *graph_of(const char *name, net_topo *t)
{
    load(name, t);
    loom_err e = {0};
    net_graph *g = net_graph_build(t, &e);
    assert_non_null(g);
    assert_int_equal(net_graph_check(g, &e), 0);
    return g;
}

static void walk(const net_graph *g, int s, int d, const uint32_t *p, int n)
{
    int cur = s;
    for (int i = 0; i < n; i++) {
        assert_int_equal(g->lsrc[p[i]], cur);
        cur = g->ldst[p[i]];
    }
    assert_int_equal(cur, d);
}

static void test_torus_dimension_order(void **state)
{
    (void)state;
    net_topo t;
    net_graph *g = graph_of("torus_8x8.yml", &t);
    uint32_t p[32];
    /* (0,0) -> (3,5): +x three times, then y the short way: 5 -> -3 */
    int n = net_graph_route(g, 0, 3 + 8 * 5, 0, p);
    assert_int_equal(n, 6);
    walk(g, 0, 43, p, n);
    int xs[] = {1, 2, 3, 3 + 8 * 7, 3 + 8 * 6, 3 + 8 * 5};
    for (int i = 0; i < 6; i++)
        assert_int_equal(g->ldst[p[i]], xs[i]);
    /* a tie (4 steps on a ring of 8) goes clockwise */
    n = net_graph_route(g, 0, 4, 0, p);
    assert_int_equal(n, 4);
    assert_int_equal(g->ldst[p[0]], 1);
    net_graph_destroy(g);
}

static void test_fat_tree_ecmp(void **state)
{
    (void)state;
    net_topo t;
    net_graph *g = graph_of("fat_tree_1024.yml", &t);
    uint32_t p[8], q[8];
    int used[32] = {0};
    for (uint64_t h = 0; h < 2000; h++) {
        uint64_t hh = net_mix64(h);
        int n = net_graph_route(g, 5, 900, hh, p);
        assert_int_equal(n, 4);
        walk(g, 5, 900, p, n);
        assert_int_equal(net_graph_route(g, 5, 900, hh, q), 4); /* deterministic */
        assert_memory_equal(p, q, sizeof p[0] * 4);
        char name[32];
        net_graph_node_name(g, g->ldst[p[1]], name, sizeof name);
        assert_true(strncmp(name, "spine", 5) == 0);
        used[atoi(name + 5)]++;
    }
    for (int s = 0; s < 32; s++) /* every spine carries some of 2000 hashes */
        assert_true(used[s] > 0);
    /* same leaf: up and down, no spine */
    assert_int_equal(net_graph_route(g, 0, 31, 7, p), 2);
    net_graph_destroy(g);
    /* 3 tiers, different pods: 6 links through one core */
    g = graph_of("fat_tree_3tier_os2.yml", &t);
    int n = net_graph_route(g, 0, 511, 12345, p);
    assert_int_equal(n, 6);
    walk(g, 0, 511, p, n);
    assert_int_equal(net_graph_route(g, 0, 20, 1, p), 4); /* same pod */
    walk(g, 0, 20, p, 4);
    net_graph_destroy(g);
}

static void test_rail_and_dragonfly_routes(void **state)
{
    (void)state;
    net_topo t;
    net_graph *g = graph_of("rail_dgx_h100_16.yml", &t);
    uint32_t p[8];
    char a[32];
    /* same server: NVLink only */
    assert_int_equal(net_graph_route(g, 8, 15, 0, p), 2);
    /* same rail (GPU 3 of servers 0 and 5): the rail switch */
    assert_int_equal(net_graph_route(g, 3, 43, 0, p), 2);
    net_graph_node_name(g, g->ldst[p[0]], a, sizeof a);
    assert_string_equal(a, "rail3");
    /* GPU 3 of server 0 -> GPU 6 of server 5: NVLink to GPU 6 of server
     * 0, then rail 6 */
    assert_int_equal(net_graph_route(g, 3, 46, 0, p), 4);
    walk(g, 3, 46, p, 4);
    assert_int_equal(g->ldst[p[1]], 6);
    net_graph_destroy(g);

    g = graph_of("dragonfly_144.yml", &t);
    for (int s = 0; s < 144; s += 7)
        for (int d = 0; d < 144; d += 5) {
            if (s == d)
                continue;
            int n = net_graph_route(g, s, d, 0, p);
            walk(g, s, d, p, n);
            int globals = 0;
            for (int i = 0; i < n; i++)
                globals += g->lcls[p[i]] == 2;
            assert_int_equal(globals, s / 16 != d / 16); /* one global hop between groups */
            assert_true(n <= 5);
        }
    net_graph_destroy(g);
}

/* ---- bad files ------------------------------------------------------------- */

static void expect_error(const char *yaml, const char *const *needles)
{
    char path[] = "/tmp/loom_topo_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fputs(yaml, fp);
    fclose(fp);
    net_topo t;
    loom_err e = {0};
    int rc = net_topo_load_file(path, &t, &e);
    if (rc == 0) { /* some errors surface when the graph is built */
        net_topo_facts f;
        rc = net_topo_measure(&t, &f, &e);
    }
    unlink(path);
    if (rc >= 0)
        fail_msg("accepted:\n%s", yaml);
    assert_int_equal(rc, LOOM_EUSAGE);
    if (strstr(e.msg, path) == NULL)
        fail_msg("message does not name the file: %s", e.msg);
    for (int i = 0; needles[i]; i++)
        if (strstr(e.msg, needles[i]) == NULL)
            fail_msg("message lacks '%s': %s", needles[i], e.msg);
}

static void test_bad_files(void **state)
{
    (void)state;
    expect_error("kind: fat_tree\nnpus: 64\ntiers: 2\nhosts_per_leaf: 16\n"
                 "bandwidth: [50, 0]\nlatency: [100, 100]\n",
                 (const char *[]){"bandwidth", "[1]", "> 0", NULL});
    expect_error("kind: fat_tree\nnpus: 100\ntiers: 2\nhosts_per_leaf: 32\n"
                 "bandwidth: 50\nlatency: 100\n",
                 (const char *[]){"npus", "96..99", "no leaf port", NULL});
    expect_error("kind: fat_tree\nnpus: 64\ntiers: 2\nhosts_per_leaf: 16\n"
                 "oversubscription: 3\nbandwidth: 50\nlatency: 100\n",
                 (const char *[]){"oversubscription", "whole number", NULL});
    expect_error("kind: dragonfly\ngroups: 4\nrouters_per_group: 2\nhosts_per_router: 2\n"
                 "global_links_per_router: 0\nbandwidth: 50\nlatency: 100\n",
                 (const char *[]){"global_links_per_router", "disconnected", NULL});
    expect_error("kind: rail\nnodes: 4\ngpus_per_node: 8\nnpus: 40\nbandwidth: [450, 50]\n"
                 "latency: [100, 500]\n",
                 (const char *[]){"npus", "mapped to no node", NULL});
    expect_error("kind: torus\ndims: [4, 4]\nnpus: 17\nbandwidth: 50\nlatency: 100\n",
                 (const char *[]){"npus", "mapped to no node", NULL});
    expect_error("kind: torus\ndims: [4, 4]\ntiers: 2\nbandwidth: 50\nlatency: 100\n",
                 (const char *[]){"tiers", "does not apply to kind torus", NULL});
    expect_error("kind: torus\ndims: [4, 4]\nbandwith: 50\nlatency: 100\n",
                 (const char *[]){"unknown key 'bandwith'", NULL});
    expect_error("kind: torus\ndims: [4, 4]\nbandwidth: [50, 50, 50]\nlatency: 100\n",
                 (const char *[]){"bandwidth", "list of 2", NULL});
    expect_error("kind: mesh\n", (const char *[]){"kind", "mesh", NULL});
    expect_error("kind: rail\nnodes: 2\ngpus_per_node: 8\nbandwidth: [450, 50]\n",
                 (const char *[]){"missing key 'latency'", NULL});
    expect_error("kind: rail\nnodes: 2\ngpus_per_node: 8\nbandwidth: [450, 50]\nlatency: [1, 2]\n"
                 "nccl: {gpu: pascal}\n",
                 (const char *[]){"nccl.gpu", "pascal", NULL});
    expect_error("topology: [Ring]\nnpus_count: [8]\nbandwidth: [0]\nlatency: [500]\n",
                 (const char *[]){"bandwidth", NULL});
}

/* ---- through loom_cfg_load, with --set ------------------------------------ */

static void test_config_delegation(void **state)
{
    (void)state;
    char sys[] = "/tmp/loom_sys_XXXXXX";
    int fd = mkstemp(sys);
    FILE *fp = fdopen(fd, "w");
    fputs("{\"local-mem-bw\": 1600, \"network-model\": \"flow\"}\n", fp);
    fclose(fp);
    char net[512];
    snprintf(net, sizeof net, "%s/topologies/fat_tree_1024.yml", EXAMPLES);
    const char *sets[] = {"network.bandwidth[1]=25", "network.oversubscription=2"};
    loom_cfg_files files = {.network = net, .system = sys, .sets = sets, .nsets = 2};
    loom_cfg cfg;
    loom_err e = {0};
    if (loom_cfg_load(&cfg, &files, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(cfg.topo.x.kind, NET_X_FAT_TREE);
    assert_int_equal(cfg.sys.model, NET_MODEL_FLOW);
    assert_true(cfg.topo.x.cls[1].bw == 25 * GIB);
    assert_true(cfg.topo.x.oversub[0] == 2);
    /* the view: 8-GPU nodes (npus_per_node) on 128 node positions */
    assert_int_equal(cfg.topo.ndims, 2);
    assert_int_equal(cfg.topo.dims[0].npus, 8);
    assert_int_equal(cfg.topo.dims[1].npus, 128);
    net_model *m = net_model_create(&cfg.topo, &cfg.sys, &e);
    assert_non_null(m);
    assert_int_equal(net_npus(m), 1024);
    net_model_destroy(m);
    loom_cfg_free(&cfg);
    /* a bad --set value is checked like the file's */
    const char *bad[] = {"network.tiers=4"};
    files.sets = bad;
    files.nsets = 1;
    assert_int_equal(loom_cfg_load(&cfg, &files, &e), LOOM_EUSAGE);
    assert_non_null(strstr(e.msg, "tiers"));
    /* network-model must be analytical or flow */
    fp = fopen(sys, "w");
    fputs("{\"local-mem-bw\": 1600, \"network-model\": \"packet\"}\n", fp);
    fclose(fp);
    files.nsets = 0;
    loom_err e2 = {0};
    assert_int_equal(loom_cfg_load(&cfg, &files, &e2), LOOM_EUSAGE);
    assert_non_null(strstr(e2.msg, "network-model"));
    unlink(sys);
}

/* ---- the flow model on explicit fabrics ---------------------------------- */

static void done(sim_engine *eng, void *ctx) { *(sim_time *)ctx = sim_now(eng); }

/* On a non-blocking fat tree a ring between NPUs of one leaf crosses only
 * host links: the flow time is the ring closed form with 2 host hops per
 * step; oversubscription slows an all-to-all that crosses leaves. */
static void test_flow_on_fabrics(void **state)
{
    (void)state;
    net_topo t = {0};
    t.x.kind = NET_X_FAT_TREE;
    t.x.npus = 64;
    t.x.tiers = 2;
    t.x.hosts_per_leaf = 16;
    t.x.oversub[0] = 1;
    t.x.cls[0] = (net_link_class){50 * GIB, 100000};
    t.x.cls[1] = (net_link_class){50 * GIB, 300000};
    net_sys s = {.splits = 1, .active_chunks = 1, .endpoint_delay = 0, .local_mem_bw = 1e300,
                 .model = NET_MODEL_FLOW, .calgo = NET_CALGO_RING};
    loom_err e = {0};
    net_model *m = net_model_create(&t, &s, &e);
    assert_non_null(m);
    int r16[16];
    for (int i = 0; i < 16; i++)
        r16[i] = i;
    net_group *g = net_group_create(m, r16, 16, &e);
    const uint64_t N = 16 << 20;
    sim_time got = net_coll_time(m, g, NET_ALL_REDUCE, N, 0xff);
    double want = 2 * 15 * (2 * 100e3 + (N / 16.0) / (50 * GIB) * 1e12);
    assert_true(llabs(got - llround(want)) <= 30);
    net_group_destroy(g);
    net_model_destroy(m);
    /* all-to-all over 4 leaves: 2:1 oversubscription doubles the time
     * the leaf uplinks need (each leaf sends 16 x 48 pieces through 8
     * uplinks instead of 16) */
    int all[64];
    for (int i = 0; i < 64; i++)
        all[i] = i;
    sim_time tt[2];
    double busiest = 0; /* ps the most loaded link needs for its bytes */
    for (int k = 0; k < 2; k++) {
        t.x.oversub[0] = k ? 2 : 1;
        s.calgo = NET_CALGO_DIRECT;
        m = net_model_create(&t, &s, &e);
        g = net_group_create(m, all, 64, &e);
        sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &e);
        net_coll_start(m, eng, g, NET_ALL_TO_ALL, 64 << 20, 0xff, done, &tt[k]);
        sim_run(eng, SIM_TIME_MAX);
        net_flow_totals tot;
        net_flow_totals_get(m, &tot);
        assert_int_equal(tot.bytes_delivered, tot.bytes_sent);
        net_link_stat top[4];
        assert_int_equal(net_top_links(m, top, 4), 4);
        if (k == 1) { /* the busiest links are leaf uplinks or spine downlinks */
            assert_true(strstr(top[0].name, "spine") != NULL);
            for (int i = 0; i < 4; i++)
                busiest = fmax(busiest, top[i].bytes / top[i].bw * 1e12);
        }
        sim_engine_destroy(eng);
        net_group_destroy(g);
        net_model_destroy(m);
    }
    /* non-blocking: host links bound it, (p-1)/p N / B (+ 0.8 us of path
     * latency); 2:1: the uplinks carry 48/64 of each leaf's 16 x N bytes
     * over 8 links, 1.5 N / B if ECMP spread them evenly; it does not, and
     * the busiest link, saturated from start to end, sets the time */
    double B = 50 * GIB, N2 = 64 << 20;
    assert_true(llabs(tt[0] - llround(63.0 / 64 * N2 / B * 1e12 + 800e3)) < 2000);
    assert_true(tt[1] >= 1.5 * N2 / B * 1e12);
    assert_true(fabs(tt[1] - (busiest + 800e3)) < 1e-3 * tt[1]);
}

static void test_describe_text(void **state)
{
    (void)state;
    net_topo t;
    load("torus_8x8.yml", &t);
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    loom_err e = {0};
    assert_int_equal(net_topo_describe(&t, o, &e), 0);
    fclose(o);
    assert_non_null(strstr(buf, "NPUs             64"));
    assert_non_null(strstr(buf, "diameter         8 links"));
    assert_non_null(strstr(buf, "bisection        800 GB/s"));
    free(buf);
}


/* The farthest-destination shortcut of dimension-ordered fabrics (ASTRA-sim
 * dimensions and tori) against the all-pairs loop it replaces in `topo
 * describe`: every source, every destination, most links and largest
 * latency, for mixes of Ring, FullyConnected and Switch with odd and even
 * sizes and different latencies per dimension. */
static void test_farthest_matches_all_pairs(void **state)
{
    (void)state;
    static const struct {
        int nd, kind[3], n[3];
    } cases[] = {
        {1, {NET_RING}, {7}},
        {1, {NET_RING}, {2}},
        {2, {NET_RING, NET_RING}, {4, 5}},
        {2, {NET_SWITCH, NET_RING}, {3, 6}},
        {3, {NET_FULLY_CONNECTED, NET_RING, NET_SWITCH}, {3, 4, 2}},
        {3, {NET_RING, NET_FULLY_CONNECTED, NET_RING}, {5, 1, 3}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        net_topo t;
        memset(&t, 0, sizeof t);
        t.ndims = cases[c].nd;
        for (int d = 0; d < t.ndims; d++)
            t.dims[d] = (net_dim){cases[c].kind[d], cases[c].n[d], 50 * GIB,
                                  (sim_time)(300 + 200 * d) * 1000};
        loom_err err = {0};
        net_graph *g = net_graph_build(&t, &err);
        assert_non_null(g);
        uint32_t path[256];
        for (int s = 0; s < g->npus; s++) {
            int h = 0, fh = -1;
            sim_time l = 0, fl = -1;
            for (int d = 0; d < g->npus; d++) {
                if (d == s)
                    continue;
                int np = net_graph_route(g, s, d, 0, path);
                sim_time x = 0;
                for (int i = 0; i < np; i++)
                    x += g->llat[path[i]];
                h = np > h ? np : h;
                l = x > l ? x : l;
            }
            assert_int_equal(net_fabric_dims_farthest(g, s, &fh, &fl), 0);
            if (fh != h || fl != l)
                fail_msg("case %zu source %d: farthest %d links %lld ps, all pairs %d, %lld",
                         c, s, fh, (long long)fl, h, (long long)l);
        }
        net_graph_destroy(g);
    }
    /* and `topo describe` on a 256 x 256 torus (65,536 NPUs) gives the
     * closed forms: 128 + 128 links, 2 x 2 x 256 links across the cut */
    net_topo t;
    memset(&t, 0, sizeof t);
    t.x.kind = NET_X_TORUS;
    t.ndims = 2;
    for (int d = 0; d < 2; d++)
        t.dims[d] = (net_dim){NET_RING, 256, 50 * GIB, 500 * 1000};
    net_topo_facts f;
    loom_err err = {0};
    assert_int_equal(net_topo_measure(&t, &f, &err), 0);
    assert_int_equal(f.diameter, 256);
    assert_int_equal(f.diameter_ps, 256 * 500 * 1000LL);
    assert_true(fabs(f.bisection - 2 * 256 * 50 * GIB) < 1);
}

int main(void)
{
    loom_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_torus_dimension_order),
        cmocka_unit_test(test_fat_tree_ecmp),
        cmocka_unit_test(test_rail_and_dragonfly_routes),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_config_delegation),
        cmocka_unit_test(test_flow_on_fabrics),
        cmocka_unit_test(test_describe_text),
        cmocka_unit_test(test_farthest_matches_all_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
