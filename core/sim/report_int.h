/*
 * report_int.h: private to the report writers (report.c, report_text.c,
 * report_json.c, report_csv.c): unit conversions and the comparison of
 * field values they share.  Nothing outside core/sim includes this file.
 */
#ifndef LOOM_REPORT_INT_H
#define LOOM_REPORT_INT_H

#include "report.h"

static inline double rpt_ns(sim_time t) { return (double)t / SIM_PS_PER_NS; }
static inline double rpt_us(sim_time t) { return (double)t / SIM_PS_PER_US; }
/* The network model's name, as the system file's network-model spells it. */
static inline const char *rpt_net_model(net_model_kind m)
{
    return m == NET_MODEL_FLOW ? "flow" : "analytical";
}

/* The attention family the kernel model prices the run's attention as,
 * when not the default (flash2); NULL otherwise or without the kernel
 * model.  The text report's system line and the JSON say it. */
static inline const char *rpt_attention(const loom_cfg *cfg)
{
    if (cfg->comp.kind != COMP_KERNEL || cfg->comp.kp.attn_kind == COMP_ATTN_FLASH2)
        return NULL;
    return comp_attn_names[cfg->comp.kp.attn_kind];
}

/* -1, 0, 1 as a is below, equal to, above b (same kind; TIME or COUNT). */
static inline int rpt_cmp(loom_fval a, loom_fval b)
{
    if (a.kind == LOOM_FK_COUNT)
        return (a.u > b.u) - (a.u < b.u);
    return (a.t > b.t) - (a.t < b.t);
}

/* ---- summaries (report_sum.c) ---------------------------------------------- */

/* A distribution of values in a field's raw unit (picoseconds for a time, the
 * count for a count): nearest-rank percentiles, exact mean. */
typedef struct rpt_dist {
    int64_t min, p50, p99, max;
    double mean;
} rpt_dist;

enum { RPT_MAX_RANK_FIELDS = 16, RPT_SLOWEST = 8 };

/* Each per-rank field's distribution over ranks (field[k] is
 * loom_rank_fields[k]), and the slowest ranks: finish descending, then
 * rank ascending. */
typedef struct rpt_rank_sum {
    rpt_dist field[RPT_MAX_RANK_FIELDS];
    int slowest[RPT_SLOWEST];
    int nslowest;
} rpt_rank_sum;

void rpt_rank_summary(const loom_result *res, rpt_rank_sum *s);

/* The collectives of one kind: same type, bytes per rank, communicator
 * size and algorithm (the text table's rows). */
typedef struct rpt_kind {
    int type, nranks;
    uint64_t bytes;
    const char *algo;  /* the first instance's; owned by the result */
    uint64_t count;    /* instances */
    sim_time total;    /* transfer time (start to end), summed over instances */
    sim_time exposed;  /* exposed time, summed over instances */
    rpt_dist time;     /* transfer time per instance */
} rpt_kind;

/* The kinds, costliest first (exposed total, then time total, then the
 * key); *out is the caller's to free. */
size_t rpt_coll_kinds(const loom_result *res, rpt_kind **out);

#endif
