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

/* -1, 0, 1 as a is below, equal to, above b (same kind; TIME or COUNT). */
static inline int rpt_cmp(loom_fval a, loom_fval b)
{
    if (a.kind == LOOM_FK_COUNT)
        return (a.u > b.u) - (a.u < b.u);
    return (a.t > b.t) - (a.t < b.t);
}

#endif
