/*
 * bench_flow.c: the flow model on a big collective: an all-to-all of
 * 1 GiB per rank (1 MiB to each peer) over 1,024 ranks of a two-tier
 * non-blocking fat tree (32 leaves of 32 hosts, 32 spines, 400 Gb/s =
 * 50 GB/s links, 100 ns host and 300 ns spine links), with the direct
 * (every pair at once: 1,047,552 flows in flight) and the staggered
 * (1,023 rounds of 1,024 flows) algorithms.  Prints wall time, engine
 * events, flows, re-rates and the simulated time, plus the time the
 * links' bandwidth alone bounds it by: each host sends (p-1)/p GiB through
 * its one uplink.
 *
 * Usage: bench_flow [ranks] [algorithm...]   (default 1024 direct staggered)
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

static int run(int ranks, net_calgo algo)
{
    net_topo t = {0};
    t.x.kind = NET_X_FAT_TREE;
    t.x.npus = ranks;
    t.x.tiers = 2;
    t.x.hosts_per_leaf = ranks >= 32 ? 32 : ranks;
    t.x.oversub[0] = 1;
    t.x.cls[0] = (net_link_class){50e9, 100000};
    t.x.cls[1] = (net_link_class){50e9, 300000};
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
    printf("all-to-all %d ranks, 1 GiB/rank, fat tree 2 tiers, %-9s: wall %.2f s, cpu %.2f s (setup %.2f s), "
           "%llu events, %llu flows, peak %zu in flight, %llu re-rates visiting %llu flows, "
           "simulated %.1f us (link bound %.1f us), bytes delivered %s sent\n",
           ranks, net_calgo_name(algo), t2 - t0, c2 - c0, t1 - t0, (unsigned long long)sim_events(eng),
           (unsigned long long)tot.flows, tot.peak_flows, (unsigned long long)tot.rerates,
           (unsigned long long)tot.rerated_flows, end / 1e6, bound,
           tot.bytes_delivered == tot.bytes_sent ? "==" : "!=");
    sim_engine_destroy(eng);
    net_group_destroy(g);
    net_model_destroy(m);
    free(all);
    return end < 0;
}

int main(int argc, char **argv)
{
    int ranks = argc > 1 ? atoi(argv[1]) : 1024;
    loom_set_quiet(1);
    if (ranks < 2 || ranks % 32 != 0) {
        fprintf(stderr, "bench_flow: ranks must be a multiple of 32\n");
        return 2;
    }
    int rc = 0;
    if (argc <= 2) {
        rc |= run(ranks, NET_CALGO_DIRECT);
        rc |= run(ranks, NET_CALGO_STAGGER);
    }
    for (int i = 2; i < argc; i++) {
        net_calgo a;
        if (net_calgo_parse(argv[i], &a) < 0) {
            fprintf(stderr, "bench_flow: unknown algorithm '%s'\n", argv[i]);
            return 2;
        }
        rc |= run(ranks, a);
    }
    return rc;
}
