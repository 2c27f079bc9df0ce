/*
 * net_algo_hier.c: hierarchical (docs/NETWORK.md 4.4): ring on every
 * dimension, in the plan's dimension order: reduce-scatter inside the
 * node, all-reduce across, all-gather inside.  A choice of how to chain
 * rings, not a phase algorithm of its own.
 */
#include "net_algo.h"

static const net_algo_ops *hier_force(const net_model *m, const net_group *g, net_coll op,
                                      uint64_t bytes, int *flat)
{
    (void)m, (void)g, (void)op, (void)bytes;
    *flat = 0;
    return &net_algo_ring;
}

static const char *const aliases[] = {"hier", NULL};

const net_algo_ops net_algo_hier = {
    .name = "hierarchical",
    .aliases = aliases,
    .astra = -1,
    .force = hier_force,
};
