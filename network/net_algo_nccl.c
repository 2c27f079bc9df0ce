/*
 * net_algo_nccl.c: NCCL's own cost model and automatic algorithm/protocol
 * choice, as NCCL 2.20.3 computes them (src/graph/tuning.cc,
 * ncclTopoTuneModel and ncclTopoGetAlgoTime; src/enqueue.cc, getAlgoInfo).
 * The constants below are NCCL's published tables (facts); the code is
 * loom's.  docs/NETWORK.md section 5 restates every formula.
 *
 * Modelled: algorithms Ring and Tree, protocols LL, LL128 and Simple; the
 * base latency per (algorithm, protocol), per-step hardware latency per
 * link type (NVLink, PCIe, network), the per-channel bandwidth caps and
 * protocol efficiencies, the tree correction factors by size, the ring
 * "plateau" latency factor, and the choice of the fastest (algorithm,
 * protocol) for each size.  Not modelled: CollNet, NVLS and NVLS-Tree
 * (need SHARP/NVSwitch multicast hardware), user overrides (NCCL_ALGO,
 * NCCL_PROTO), the topology search itself: channels and per-channel
 * bandwidth come from the topology (below).
 *
 * From loom's topology: a node is one instance of dimension 0 of the
 * (view) dimensions; intra-node bandwidth is dimension 0's link bandwidth,
 * inter-node the slowest of the other dimensions times the group's GPUs
 * per node: those bandwidths are each NPU's own (a NIC per GPU, as the
 * network files and rail fabrics describe them), and NCCL spreads its
 * channels over the NICs of the node, so a ring's channels together leave
 * a node at ppn NICs' rate.  NCCL's search gives a multi-node ring the
 * same per-channel speed inside and between nodes, so with more than one
 * node both are min(intra, inter) / channels.
 */
#include "net_algo.h"

#include <math.h>
#include <stdio.h>

/* indexes: algorithm Tree 0, Ring 1; protocol LL 0, LL128 1, Simple 2;
 * hardware NVLink 0, PCI 1, NET 2 */
enum { HW_NVLINK = 0, HW_PCI = 1, HW_NET = 2 };

/* us */
static const double base_lat[2][3] = {{6.8, 14.0, 0}, {6.6, 14.0, 8.4}};
static const double hw_lat[3][2][3] = {
    {{.6, 1.25, 28}, {.6, 1.9, 3.4}},   /* NVLink: Tree, Ring */
    {{1.0, 1.9, 28}, {1.0, 2.5, 5.7}},  /* PCI */
    {{5.0, 8.5, 28}, {2.7, 4.0, 14.0}}, /* NET */
};
/* GB/s; [Volta, Ampere, Hopper][1 node, 2 nodes, more] (LL: [CPU/GPU
 * index][nodes index]) */
static const double ll_max_bw[3][3] = {
    {39.0, 39.0, 20.4}, {87.7, 22.5, 19.0}, {87.7, 22.5, 19.0}};
static const double per_ch_ring_ll128[3][3] = {
    {20.0, 20.0, 20.0}, {20.0, 20.0, 20.0}, {36.7, 36.7, 36.7}};
static const double per_ch_tree_ll128[3][3] = {
    {20.0, 20.0, 20.0}, {20.0, 20.0, 20.0}, {36.7, 36.7, 29.0}};
static const double per_ch_tree[3][3] = {
    {26.5, 18.5, 10.0}, {24.0, 23.6, 17.8}, {38.7, 41.4, 36.0}};
/* by log2(bytes / 64), 64 B .. 256 MiB */
static const double tree_corr[3][23] = {
    {1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0, 1.0,
     1.0, 1.0},
    {1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9,
     1.0, 1.0},
    {.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9,
     .9}};

/* NCCL's functions */
enum { F_BCAST, F_REDUCE, F_AG, F_RS, F_AR };

const char *net_nccl_algo_name(int a) { return a == NET_NCCL_TREE ? "Tree" : "Ring"; }

const char *net_nccl_proto_name(int p)
{
    return p == NET_NCCL_LL ? "LL" : p == NET_NCCL_LL128 ? "LL128" : "Simple";
}

int net_nccl_choose(const net_model *m, const net_group *g, net_coll op, uint64_t bytes,
                    net_nccl_pick *out)
{
    int fn;
    double nbytes = (double)bytes;
    switch (op) {
    case NET_ALL_REDUCE: fn = F_AR; break;
    case NET_ALL_GATHER: fn = F_AG; nbytes *= g->n; break; /* NCCL counts the output */
    case NET_REDUCE_SCATTER:
    case NET_REDUCE_SCATTER_BLOCK: fn = F_RS; break;       /* the input */
    case NET_BROADCAST: fn = F_BCAST; break;
    case NET_REDUCE: fn = F_REDUCE; break;
    default: return -1;
    }
    const net_nccl_hw *hw = &m->topo.x.nccl;
    int nch = hw->channels > 0 ? hw->channels : 16;
    int arch = hw->gpu_arch > 0 ? hw->gpu_arch : 90;
    int cc = arch >= 90 ? 2 : arch >= 80 ? 1 : 0;
    int nranks = g->n, nnodes = 0, prev = -1;
    for (int i = 0; i < g->n; i++) { /* ranks ascending: count node changes */
        int node = g->ranks[i] / m->npn;
        if (node != prev)
            nnodes++;
        prev = node;
    }
    double ppn = (double)nranks / nnodes;
    double intra = m->topo.dims[0].bw / 1e9, inter = intra; /* GB/s, 10^9 */
    for (int d = 1; d < m->topo.ndims; d++)
        if (m->topo.dims[d].npus > 1)
            inter = fmin(inter, m->topo.dims[d].bw / 1e9);
    inter *= floor(ppn); /* the channels leave the node over ppn NICs */
    double bw_intra = intra / nch, bw_inter = inter / nch;
    if (nnodes > 1)
        bw_intra = bw_inter = fmin(intra, inter) / nch;
    int i2 = nnodes <= 2 ? nnodes - 1 : 2;
    int i1 = nnodes == 1 ? cc : hw->cpu_amd ? 1 : 0;
    double llmax = ll_max_bw[i1][i2];
    int intra_hw = hw->pci ? HW_PCI : HW_NVLINK;
    int hwk = nnodes == 1 ? intra_hw : HW_NET;
    int nsteps = fn == F_AR ? 2 * (nranks - 1) : (fn == F_RS || fn == F_AG) ? nranks - 1 : nranks;
    int ninter = fn == F_AR ? (nnodes > 1 ? 2 * nnodes : 0)
                 : (fn == F_RS || fn == F_AG) ? nnodes - 1 : nnodes;
    /* NCCL enables LL128 by default on NVLink Volta/Ampere/Hopper (with
     * the NIC close to the GPU, which loom assumes) */
    int ll128_on = hw->ll128 != 0 ? hw->ll128 > 0
                                  : (!hw->pci && (arch == 70 || arch == 80 || arch == 90));

    double best = INFINITY;
    int found = 0;
    for (int a = 0; a < 2; a++) {
        if (a == NET_NCCL_TREE && fn != F_AR)
            continue; /* 2.20: Tree only for all-reduce (among Ring/Tree) */
        for (int p = 0; p < 3; p++) {
            if (p == NET_NCCL_LL128 && !ll128_on)
                continue;
            double bw = nnodes <= 2 ? bw_intra : bw_inter;
            double bus = nch * bw;
            if (a == NET_NCCL_RING && p == NET_NCCL_LL)
                bus = fmin(llmax, bus * ((nnodes > 1 || fn == F_AR || fn == F_REDUCE) ? 1.0 / 4.0
                                                                                       : 1.0 / 3.0));
            if (a == NET_NCCL_RING && p == NET_NCCL_LL128)
                bus = fmin(bus * (ppn < 2 ? 0.7 : 0.92), nch * per_ch_ring_ll128[cc][i2]);
            if (a == NET_NCCL_TREE)
                bus = fmin(bus * .92, nch * per_ch_tree[cc][i2]);
            if (a == NET_NCCL_TREE && p == NET_NCCL_LL)
                bus = fmin(bus * 1.0 / 3.8, llmax);
            if (a == NET_NCCL_TREE && p == NET_NCCL_LL128)
                bus = fmin(bus * (nnodes == 1 ? 7.0 / 9.0 : 120.0 / 128.0),
                           nch * per_ch_tree_ll128[cc][i2]);
            double ratio = a == NET_NCCL_RING ? (double)nranks / nsteps : 0.5;
            double algbw = bus * ratio;

            double lat = base_lat[a][p];
            double intra_lat = hw_lat[intra_hw][a][p];
            double inter_lat = hw_lat[HW_NET][a][p];
            if (a == NET_NCCL_RING) {
                if (fn == F_REDUCE || fn == F_BCAST) {
                    lat += hw_lat[hwk][a][p]; /* rings on the same channels */
                } else {
                    double net_oh = 0;
                    if (nnodes > 1) {
                        net_oh = hw->cpu_amd ? 2.0 : 1.0;
                        if (p == NET_NCCL_SIMPLE)
                            net_oh *= 3;
                    }
                    intra_lat = fmax(intra_lat, net_oh);
                    lat += (nsteps - ninter) * intra_lat + ninter * inter_lat;
                }
            } else {
                lat += 2 * ((nranks / nnodes - 1) * intra_lat + net_ilog2(nnodes) * inter_lat);
            }

            /* ncclTopoGetAlgoTime */
            int ls = net_ilog2((long long)nbytes >> 6);
            if (a == NET_NCCL_TREE && ls < 23)
                algbw *= tree_corr[p][ls];
            if (a == NET_NCCL_RING && p == NET_NCCL_SIMPLE && nnodes > 1 && fn == F_AR &&
                nbytes / ((double)nch * nranks) >= 64)
                lat *= arch < 80 ? 1.9 : 1.4; /* NCCL's "plateau effect of ring" */
            double t = lat + nbytes / (1000 * algbw);
            if (t < best) {
                best = t;
                found = 1;
                out->algo = a;
                out->proto = p;
                out->lat_us = lat;
                out->bw = algbw;
                out->time_us = t;
            }
        }
    }
    LOOM_ASSERT(found);
    out->nranks = nranks;
    out->nnodes = nnodes;
    return 0;
}

/* ---- as a whole-collective choice ---------------------------------------
 *
 * The analytical model takes the tuner's time for the whole collective;
 * the flow model runs the algorithm it picks (Ring: ring, Tree: double
 * binary tree) flat.  An all-to-all, which NCCL runs as a group of sends
 * and receives to every peer at once (ncclAllToAll in nccl-tests, torch's
 * all_to_all_single), not through its tuner, is flat direct.  Other ops
 * outside NCCL's table use the lists. */

static const net_algo_ops *nccl_force(const net_model *m, const net_group *g, net_coll op,
                                      uint64_t bytes, int *flat)
{
    net_nccl_pick pk;
    if (op == NET_ALL_TO_ALL) {
        *flat = 1;
        return &net_algo_direct;
    }
    if (net_nccl_choose(m, g, op, bytes, &pk) == 0) {
        *flat = 1;
        return pk.algo == NET_NCCL_TREE ? &net_algo_dbt : &net_algo_ring;
    }
    *flat = 0;
    return NULL;
}

static int nccl_coll_time(net_model *m, const net_group *g, net_coll op, uint64_t bytes,
                          uint32_t mask, sim_time *out)
{
    net_nccl_pick pk;
    if (g->n > 1 && (g->span & mask) && net_nccl_choose(m, g, op, bytes, &pk) == 0) {
        *out = net_round_ps(pk.time_us * 1e6);
        return 1;
    }
    /* outside NCCL's table: all-to-all as direct (nccl_force), the rest
     * by the per-dimension lists, said once */
    if (g->n > 1 && (g->span & mask) && op != NET_BARRIER && op != NET_ALL_TO_ALL)
        net_warn_once(m, 0,
                      "NCCL's tuner has no model for %s; the NCCL mode "
                      "times it with the system's implementation lists",
                      net_coll_name(op));
    return 0;
}

static int nccl_coll_label(net_model *m, const net_group *g, net_coll op, uint32_t mask,
                           char *buf, size_t sz)
{
    net_nccl_pick pk;
    if (g->n > 1 && (g->span & mask) && net_nccl_choose(m, g, op, 1, &pk) == 0) {
        snprintf(buf, sz, "nccl(size-dependent)");
        return 1;
    }
    return 0;
}

const net_algo_ops net_algo_nccl = {
    .name = "nccl",
    .astra = -1,
    .force = nccl_force,
    .coll_time = nccl_coll_time,
    .coll_label = nccl_coll_label,
};
