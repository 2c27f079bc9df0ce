/*
 * net_eff.c: achieved bus bandwidth against message size (issue 11, "NCCL
 * as it performs"): one curve per fabric, fitted to published nccl-tests
 * figures (bench/nccl/published.csv, provenance in bench/nccl/README.md),
 * applied by both network models to the dimensions the system key
 * `comm-efficiency` names (docs/NETWORK.md section 9).
 *
 * A curve is a table: the factor eff_i on the dimension's link bandwidth
 * (the datasheet's per-direction rate, what the network file says) at
 * sizes S_i = 2^(10+i) bytes, i = 0..23, read linearly in log2(S) between
 * points and flat beyond the ends:
 *
 *     eff(S) = eff_i + (log2 S - 10 - i) (eff_{i+1} - eff_i),  S_i <= S < S_{i+1}
 *
 * S is the collective's size in bytes as nccl-tests counts it (the whole
 * buffer; all-gather: its output), so the table is read where it was
 * measured.  eff_i is what makes loom's ring on that fabric take the
 * published time at S_i: loom's time splits into L (latency, endpoint
 * delay, reductions) and X (bytes / bandwidth), and eff_i = X / (T_pub -
 * L).  A closed form peak / (1 + s_half / S) was tried first and left out:
 * fitted the same way it is 13-43% fast between 4 and 128 MiB on 8 x A100
 * (the sizes of tensor-parallel all-reduces), where NCCL's published
 * curve rises more slowly than that form can.
 *
 * Analytical model: a phase on a dimension with a curve sees link
 * bandwidth x eff(S), latency unchanged.  Flow model: the phase's flows
 * carry buf / eff(S) bytes at the links' own rates, which takes the same
 * time on an idle fabric and keeps max-min sharing untouched (a slower
 * NCCL is more bytes' worth of link time, not a slower link for others).
 * A flat phase (irregular group or flat algorithm) takes the curve of the
 * outermost dimension the group spans, as it takes that dimension's kind
 * (docs/MODEL.md section 6).  Off (curve 0 on every dimension, the default)
 * the plan is untouched: ASTRA-sim's inputs time as before.  NCCL's cost
 * mode is left alone: its tuner is NCCL's own model of the same losses.
 */
#include "net_int.h"

#include <math.h>
#include <string.h>

/* Factors at sizes 2^10, 2^11, .. 2^33 bytes (nccl-tests' -b 1K -e 8G -f 2). */
#define EFF_LOG2_FIRST 10
#define EFF_POINTS 24

typedef struct eff_curve {
    const char *name;        /* comm-efficiency value */
    double other;            /* other collectives: x this (all-reduce's own: 1) */
    double eff[EFF_POINTS];  /* all-reduce's factor at 2^(10+i) bytes */
} eff_curve;

/* Printed by bench/nccl/compare.py --fit from the rows named, nothing
 * else; link bandwidth and latency as the networks in bench/nccl/ state
 * them (1 us per hop), reductions at the device's HBM rate.  Below
 * 1 MiB the factors mostly stand for NCCL's latency beyond loom's alpha
 * (8 x A100: 45 us measured at 1 KiB against loom's 28 us). */
static const eff_curve curves[] = {
    {"none", 1.0, {0}},
    /* NVLink 3 / NVSwitch, 8 x A100 SXM, 300e9 B/s per direction: Azure ND
     * A100 v4, all_reduce 1 KiB .. 8 GiB (NCCL 2.18.5; ring/tree, A100 has
     * no NVLS).  Other collectives: no figures; the all-reduce's. */
    {"nvlink3", 1.0,
     {0.0004, 0.0007, 0.0017, 0.0031, 0.0065, 0.0140, 0.0268, 0.0471, 0.0905, 0.1621, 0.2889,
      0.3244, 0.3535, 0.3940, 0.4467, 0.5277, 0.6632, 0.6823, 0.8591, 0.8895, 0.9174, 0.9258,
      0.9261, 0.9309}},
    /* NVLink 4 / NVSwitch, 8 x H100 SXM, 450e9 B/s per direction: Azure ND
     * H100 v5, all_reduce 1 KiB .. 8 GiB (NCCL 2.18.5, NVLS: the switch
     * reduces, so the large sizes pass the ring's bound, 1.36).  Other
     * collectives run without NVLink SHARP: ceiling 370 GB/s busbw, "the
     * effective NVLink bandwidth" (NCCL's maintainer, NVIDIA/nccl-tests#212)
     * = 0.8222 of 450 against the all-reduce's 1.3562 at 8 GiB. */
    {"nvlink4", 0.8222 / 1.3562,
     {0.0314, 0.0314, 0.0314, 0.0314, 0.0314, 0.0237, 0.0182, 0.0358, 0.0734, 0.1414, 0.3130,
      0.5433, 0.6373, 0.6451, 0.7772, 0.9045, 1.0701, 1.1522, 1.1984, 1.2325, 1.3215, 1.3373,
      1.3457, 1.3562}},
    /* NVLink 5 / NVSwitch, 8 x B200, 900e9 B/s per direction: OpenXLA's
     * collective table for sm_100 (bench/nccl/published.csv xla-b200-8:
     * XLA's median time of an executable holding the one collective),
     * all_reduce 1 KiB .. 2 GiB, flat beyond.  Other collectives: x the
     * all-gather's and reduce-scatter's mean busbw over the all-reduce's at
     * 2 GiB, (616.4 + 641.8) / 2 / 613.8.  The same table's 8 x H100 rows
     * run 5-15% below nccl-tests' on H100 at >= 256 MiB (docs/NETWORK.md
     * 9): this curve is likely that much slow. */
    {"nvlink5", 629.1 / 613.8,
     {0.0001, 0.0003, 0.0004, 0.0003, 0.0019, 0.0029, 0.0076, 0.0094, 0.0205, 0.0289, 0.0992,
      0.1214, 0.1528, 0.2584, 0.3356, 0.4154, 0.4956, 0.6819, 0.7217, 0.7469, 0.7674, 0.7787,
      0.7787, 0.7787}},
};
#define NCURVES ((int)(sizeof curves / sizeof curves[0]))

int net_eff_parse(const char *name, int *out)
{
    for (int c = 0; c < NCURVES; c++)
        if (strcmp(name, curves[c].name) == 0) {
            *out = c;
            return 0;
        }
    return -1;
}

const char *net_eff_name(int curve)
{
    return curve >= 0 && curve < NCURVES ? curves[curve].name : "?";
}

const char *net_eff_names(void)
{
    return "none, nvlink3, nvlink4, nvlink5";
}

double net_eff_factor(int curve, net_coll op, double size)
{
    LOOM_ASSERT(curve >= 0 && curve < NCURVES);
    LOOM_ASSERT(size > 0);
    if (curve == 0)
        return 1.0;
    const eff_curve *c = &curves[curve];
    /* linear in log2(size) between points, flat beyond the ends */
    double x = log2(size) - EFF_LOG2_FIRST;
    double e;
    if (x <= 0)
        e = c->eff[0];
    else if (x >= EFF_POINTS - 1)
        e = c->eff[EFF_POINTS - 1];
    else {
        int i = (int)x;
        double f = x - i;
        e = c->eff[i] + f * (c->eff[i + 1] - c->eff[i]);
    }
    return op == NET_ALL_REDUCE ? e : e * c->other;
}

/* The curve a phase on dimension dim of group g follows. */
static int curve_of(const net_model *m, const net_group *g, uint32_t mask, int dim)
{
    if (dim != NET_FLAT_DIM)
        return m->sys.eff[dim];
    uint32_t span = g->span & mask ? g->span & mask : g->span;
    int outer = 0;
    for (int d = 0; d < m->topo.ndims; d++)
        if (span & (1u << d))
            outer = d;
    return m->sys.eff[outer];
}

void net_eff_apply(const net_model *m, const net_group *g, net_coll op,
                   uint64_t bytes, uint32_t dim_mask, net_plan *pl)
{
    int any = 0;
    for (int d = 0; d < m->topo.ndims; d++)
        any |= m->sys.eff[d];
    /* labels plan with 0 bytes; NCCL's tuner models its own losses */
    if (!any || bytes == 0 || m->sys.calgo == NET_CALGO_NCCL)
        return;
    double size = (double)bytes;
    if (op == NET_ALL_GATHER || op == NET_GATHER)
        size *= g->n; /* nccl-tests counts the output */
    for (int i = 0; i < pl->n; i++) {
        net_phase *ph = &pl->ph[i];
        int c = curve_of(m, g, dim_mask, ph->v.dim);
        if (c == 0 || ph->kind == PH_BARRIER)
            continue;
        double e = net_eff_factor(c, op, size);
        if (m->sys.model == NET_MODEL_FLOW)
            ph->buf /= e;
        else
            ph->v.bw *= e;
    }
}
