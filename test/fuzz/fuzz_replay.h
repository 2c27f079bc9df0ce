/*
 * fuzz_replay.h: what the fuzz targets share: PREFIX.<r>.et replayed on
 * a ring of `ranks` NPUs (50 GiB/s, 500 ns links, trace-given compute),
 * with the analytical network model and again with the flow model (its
 * re-rates, growing regions and lockstep classes under whatever the trace
 * does), errors dropped (a fuzzer looks for crashes, not for refusals).
 */
#ifndef LOOM_FUZZ_REPLAY_H
#define LOOM_FUZZ_REPLAY_H

#include <string.h>

#include "replay.h"

static inline void fuzz_replay(const char *prefix, int ranks)
{
    loom_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ctrl_deps = 1;
    cfg.topo.ndims = 1;
    cfg.topo.dims[0] = (net_dim){NET_RING, ranks, 50.0 * 1073741824.0, 500 * SIM_PS_PER_NS};
    cfg.sys.splits = 4;
    cfg.sys.active_chunks = 1;
    cfg.sys.endpoint_delay = 10 * SIM_PS_PER_NS;
    cfg.sys.local_mem_bw = 1600e9;
    cfg.comp.kind = COMP_TRACE;
    cfg.comp.mem_bw = 1600e9;
    loom_replay_opts ro = {.prefix = prefix, .max_stuck = 8};
    for (int model = 0; model < 2; model++) {
        cfg.sys.model = model ? NET_MODEL_FLOW : NET_MODEL_ANALYTICAL;
        loom_result res;
        loom_err err = {0};
        if (loom_replay(&cfg, &ro, &res, &err) == 0)
            loom_result_free(&res);
    }
}

#endif
