/*
 * bench_flow.c: the flow model on big collectives (issue 12, item 5).
 *
 *   bench_flow [ranks] [algorithm...]   an all-to-all of 1 GiB per rank
 *       (1 MiB to each peer) over a two-tier non-blocking fat tree (32
 *       leaves of 32 hosts, 32 spines, 400 Gb/s = 50 GB/s links, 100 ns
 *       host and 300 ns spine links), default 1,024 ranks with the direct
 *       (every pair at once) and the staggered (p-1 rounds of p flows)
 *       algorithms;
 *   bench_flow --tiers 3 [ranks] [algorithm...]   the same on a three-tier
 *       fat tree: leaves of 32 hosts, pods of 16 leaves, non-blocking, the
 *       same 50 GB/s links (100, 300, 300 ns), ECMP up to the core;
 *   bench_flow --ring N...   a 1 MiB ring all-reduce on a Ring of N NPUs
 *       (50 GiB/s, 500 ns per hop), 4 splits, 1 active chunk, 10 ns
 *       endpoint delay, 1,600 GB/s local memory: examples/allreduce_ring8's
 *       system at N ranks.
 *
 * Prints wall and CPU time, engine events, flows, re-rates and the
 * simulated time; for the all-to-all also the time the links' bandwidth
 * alone bounds it by (each host sends (p-1)/p GiB through its one uplink).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "net.h"

#define GIB 1073741824.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void done(sim_engine *eng, void *ctx) { *(sim_time *)ctx = sim_now(eng); }

static int run(int ranks, int tiers, net_calgo algo)
{
    net_topo t = {0};
    t.x.kind = NET_X_FAT_TREE;
    t.x.npus = ranks;
    t.x.tiers = tiers;
    t.x.hosts_per_leaf = ranks >= 32 ? 32 : ranks;
    t.x.leaves_per_pod = 16;
    t.x.oversub[0] = 1;
    t.x.oversub[1] = 1;
    t.x.cls[0] = (net_link_class){50e9, 100000};
    t.x.cls[1] = (net_link_class){50e9, 300000};
    t.x.cls[2] = (net_link_class){50e9, 300000};
    net_sys s = {.splits = 1, .active_chunks = 1, .endpoint_delay = 0, .local_mem_bw = 2e12,
                 .model = NET_MODEL_FLOW, .calgo = algo};
    loom_err err = {0};
    double t0 = now_s(), c0 = cpu_s();
    net_model *m = net_model_create(&t, &s, &err);
    if (m == NULL) {
        fprintf(stderr, "bench_flow: %s\n", err.msg);
        return 1;
    }
    int *all = malloc(ranks * sizeof *all);
    for (int i = 0; i < ranks; i++)
        all[i] = i;
    net_group *g = net_group_create(m, all, ranks, &err);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &err);
    sim_time end = -1;
    const uint64_t bytes = 1ULL << 30;
    double t1 = now_s();
    net_coll_start(m, eng, g, NET_ALL_TO_ALL, bytes, 0xff, done, &end);
    sim_run(eng, SIM_TIME_MAX);
    double t2 = now_s(), c2 = cpu_s();
    net_flow_totals tot;
    net_flow_totals_get(m, &tot);
    double bound = (ranks - 1.0) / ranks * bytes / 50e9 * 1e6;
    printf("all-to-all %d ranks, 1 GiB/rank, fat tree %d tiers, %-9s: wall %.2f s, cpu %.2f s (setup %.2f s), "
           "%llu events, %llu flows, peak %zu in flight, %llu re-rates visiting %llu flows "
           "(%llu by a region in %llu fills, %llu given back), "
           "simulated %.1f us (link bound %.1f us), bytes delivered %s sent\n",
           ranks, tiers, net_calgo_name(algo), t2 - t0, c2 - c0, t1 - t0, (unsigned long long)sim_events(eng),
           (unsigned long long)tot.flows, tot.peak_flows, (unsigned long long)tot.rerates,
           (unsigned long long)tot.rerated_flows, (unsigned long long)tot.region_rerates,
           (unsigned long long)tot.region_fills, (unsigned long long)tot.region_fallbacks,
           end / 1e6, bound,
           tot.bytes_delivered == tot.bytes_sent ? "==" : "!=");
    sim_engine_destroy(eng);
    net_group_destroy(g);
    net_model_destroy(m);
    free(all);
    return end < 0;
}

/* A 1 MiB ring all-reduce on a Ring of n NPUs (see the head comment). */
static int run_ring(int n)
{
    net_topo t = {.ndims = 1};
    t.dims[0] = (net_dim){NET_RING, n, 50.0 * GIB, 500000};
    net_sys s = {.splits = 4, .active_chunks = 1, .endpoint_delay = 10000, .local_mem_bw = 1600e9,
                 .model = NET_MODEL_FLOW};
    loom_err err = {0};
    double t0 = now_s(), c0 = cpu_s();
    net_model *m = net_model_create(&t, &s, &err);
    if (m == NULL) {
        fprintf(stderr, "bench_flow: %s\n", err.msg);
        return 1;
    }
    int *all = malloc(n * sizeof *all);
    for (int i = 0; i < n; i++)
        all[i] = i;
    net_group *g = net_group_create(m, all, n, &err);
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &err);
    sim_time end = -1;
    net_coll_start(m, eng, g, NET_ALL_REDUCE, 1 << 20, 0xff, done, &end);
    sim_run(eng, SIM_TIME_MAX);
    double t2 = now_s(), c2 = cpu_s();
    net_flow_totals tot;
    net_flow_totals_get(m, &tot);
    printf("ring all-reduce 1 MiB, Ring of %5d: wall %.2f s, cpu %.2f s, %llu events, %llu flows, "
           "%llu re-rates visiting %llu flows, simulated %.3f us\n",
           n, t2 - t0, c2 - c0, (unsigned long long)sim_events(eng), (unsigned long long)tot.flows,
           (unsigned long long)tot.rerates, (unsigned long long)tot.rerated_flows, end / 1e6);
    sim_engine_destroy(eng);
    net_group_destroy(g);
    net_model_destroy(m);
    free(all);
    return end < 0;
}

int main(int argc, char **argv)
{
    loom_set_quiet(1);
    int tiers = 2, i = 1, rc = 0;
    if (argc > 1 && strcmp(argv[1], "--ring") == 0) {
        for (i = 2; i < argc; i++)
            rc |= run_ring(atoi(argv[i]));
        return rc;
    }
    if (argc > 2 && strcmp(argv[1], "--tiers") == 0) {
        tiers = atoi(argv[2]);
        i = 3;
    }
    int ranks = argc > i ? atoi(argv[i]) : 1024;
    if (ranks < 2 || ranks % 32 != 0 || (tiers == 3 && ranks % 512 != 0)) {
        fprintf(stderr, "bench_flow: ranks must be a multiple of 32 (512 with --tiers 3)\n");
        return 2;
    }
    if (argc <= i + 1) {
        rc |= run(ranks, tiers, NET_CALGO_DIRECT);
        rc |= run(ranks, tiers, NET_CALGO_STAGGER);
    }
    for (int k = i + 1; k < argc; k++) {
        net_calgo a;
        if (net_calgo_parse(argv[k], &a) < 0) {
            fprintf(stderr, "bench_flow: unknown algorithm '%s'\n", argv[k]);
            return 2;
        }
        rc |= run(ranks, tiers, a);
    }
    return rc;
}
