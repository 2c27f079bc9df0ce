/*
 * report_astra.c: ASTRA-sim's log lines from loom's result, so scripts that
 * grep ASTRA-sim's output, and its regression test (tests/rt_template: the
 * stdout after clean_log, diffed against refs/stdout.txt), work with loom
 * in its place.  docs/REPORT.md ("ASTRA-sim's log") lists what is and is
 * not reproduced.
 *
 * What ASTRA-sim prints, and where (astra-sim/astra-sim):
 *  - system/topology/RingTopology.cc: the ring constructor logs "ring of
 *    node 0, ..." when the id is 0.  system/topology/GeneralComplexTopology.cc
 *    builds one ring per dimension whose implementation is ring, direct or
 *    halvingDoubling (total = that dimension's NPUs, offset = the product of
 *    the dimensions before it, index = (id % (offset * total)) / offset, the
 *    dimension Dimension::NA, so named "local"); a oneRing, oneDirect or
 *    oneHalvingDoubling dimension builds a single ring over all NPUs (offset
 *    1) and ends the list; doubleBinaryTree builds no ring.  system/Sys.cc
 *    builds one such topology per list, in the order all-reduce,
 *    reduce-scatter, all-gather, all-to-all.  So sys[0] prints one line per
 *    ring dimension of each of the four lists: 4 for rt_template's Ring 8.
 *  - workload/Workload.cc (report(), when a rank's last node completes):
 *    "sys[N] finished, T cycles, exposed communication C cycles." with T
 *    the current tick and C = T - tics_gpu_ops (the sum of its GPU compute
 *    nodes' durations); then workload/Statistics.cc: "sys[N]. Post
 *    statistics processing start." / "... end.", "sys[N], Wall time: W"
 *    (the latest node end) and one "sys[N], <type> time: X" per node type
 *    the rank ran (the union of that type's node intervals).
 *  - "Exiting" when the last system is deleted (Sys::~Sys).
 * Every line goes through spdlog as "[time] [logger] [level] message";
 * here the time is "loom" so the output is deterministic, and the logger
 * names are ASTRA-sim's.  Cycles are ns: loom's picoseconds are rounded to
 * the nearest ns.
 */
#include "report.h"

#include <stdlib.h>

#include "err.h"

/* ps to whole ns, half up (ASTRA-sim's ticks are ns) */
static unsigned long long astra_ns(sim_time t)
{
    return (unsigned long long)((t + SIM_PS_PER_NS / 2) / SIM_PS_PER_NS);
}

static void ring_line(FILE *out, int total, int offset)
{
    /* rank 0's index in any ring is (0 % (offset * total)) / offset = 0 */
    fprintf(out,
            "[loom] [system::topology::RingTopology] [info] ring of node 0, id: 0 dimension: local "
            "total nodes in ring: %d index in ring: 0 offset: %d total nodes in ring: %d\n",
            total, offset, total);
}

/* The rings sys[0] builds for one implementation list (GeneralComplexTopology). */
static void ring_lines(FILE *out, const loom_cfg *cfg, net_impl_op op)
{
    const net_topo *t = &cfg->topo;
    if (t->x.kind != NET_X_DIMS)
        return; /* an explicit fabric: no ASTRA-sim counterpart */
    int n = cfg->impl_n[op];
    if (n > t->ndims)
        n = t->ndims; /* ASTRA-sim asserts the list is no longer than the dims */
    int offset = 1;
    for (int d = 0; d < n; d++) {
        int npus = t->dims[d].npus;
        if (d < 32 && (cfg->impl_one[op] >> d & 1u)) {
            int all = 1;
            for (int e = 0; e < t->ndims; e++)
                all *= t->dims[e].npus;
            ring_line(out, all, 1);
            return;
        }
        if (cfg->sys.impl[op][d] != NET_ALGO_DBT)
            ring_line(out, npus, offset);
        offset *= npus;
    }
}

/* Ranks by finish time, ties by rank: the order ASTRA-sim reports them in
 * (each rank's lines are logged when its last node completes). */
typedef struct astra_order {
    sim_time finish; /* the rank's finish */
    int rank;        /* its id */
} astra_order;

static int by_finish(const void *a, const void *b)
{
    const astra_order *x = a, *y = b;
    if (x->finish != y->finish)
        return x->finish < y->finish ? -1 : 1;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

void loom_report_astra(FILE *out, const loom_cfg *cfg, const loom_result *res)
{
    static const net_impl_op order[] = {NET_IMPL_ALL_REDUCE, NET_IMPL_REDUCE_SCATTER,
                                        NET_IMPL_ALL_GATHER, NET_IMPL_ALL_TO_ALL};
    for (int i = 0; i < 4; i++)
        ring_lines(out, cfg, order[i]);

    astra_order *ord = loom_xcalloc(res->nranks > 0 ? (size_t)res->nranks : 1, sizeof *ord);
    for (int r = 0; r < res->nranks; r++)
        ord[r] = (astra_order){res->ranks[r].finish, r};
    qsort(ord, (size_t)res->nranks, sizeof *ord, by_finish);

    for (int i = 0; i < res->nranks; i++) {
        int r = ord[i].rank;
        const loom_rank_stats *s = &res->ranks[r];
        unsigned long long fin = astra_ns(s->finish), gpu = astra_ns(s->compute);
        fprintf(out, "[loom] [workload] [info] sys[%d] finished, %llu cycles, "
                     "exposed communication %llu cycles.\n",
                r, fin, fin - gpu);
        fprintf(out, "[loom] [statistics] [info] sys[%d]. Post statistics processing start.\n", r);
        fprintf(out, "[loom] [statistics] [info] sys[%d]. Post statistics processing end.\n", r);
        fprintf(out, "[loom] [statistics] [info] sys[%d], Wall time: %llu\n", r, fin);
        /* a type's line when the rank spent time on it; ASTRA-sim's order
         * follows an unordered_map and varies, loom's is fixed */
        const struct { const char *name; sim_time t; } types[] = {
            {"CPU", s->cpu}, {"GPU", s->compute}, {"Comm", s->comm}, {"Remote mem", s->mem}};
        for (int k = 0; k < 4; k++)
            if (types[k].t > 0)
                fprintf(out, "[loom] [statistics] [info] sys[%d], %s time: %llu\n", r,
                        types[k].name, astra_ns(types[k].t));
    }
    free(ord);
    fputs("[loom] [system] [info] Exiting\n", out);
}
