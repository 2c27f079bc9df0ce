#include "comp.h"

#include <math.h>
#include <string.h>

/*
 * Invariant: every time this file returns is a non-negative sim_time, and
 * a value that would not fit saturates at SIM_TIME_MAX so replay's
 * overflow check sees it instead of a wrapped number.
 */

static int curve_ok(const comp_curve *cv)
{
    if (cv->eff == 0 && cv->half == 0)
        return 1; /* unset: e = 1 */
    return cv->eff > 0 && cv->eff <= 1 && cv->half >= 0 && isfinite(cv->half);
}

int comp_cfg_check(const comp_cfg *c, loom_err *err)
{
    if ((unsigned)c->kind >= COMP_KINDS)
        return loom_err_set(err, LOOM_EUSAGE, "compute: unknown model %d", (int)c->kind);
    if ((c->kind == COMP_ROOFLINE || c->kind == COMP_KERNEL) &&
        !(c->peak_flops > 0 && isfinite(c->peak_flops)))
        return loom_err_set(err, LOOM_EUSAGE,
                            "compute: peak-perf must be > 0 for the %s model (got %g FLOP/s)",
                            comp_kind_name(c->kind), c->peak_flops);
    if (c->kind == COMP_KERNEL && comp_kparams_check(&c->kp, err) < 0)
        return LOOM_EUSAGE;
    if (!(c->mem_bw > 0 && isfinite(c->mem_bw)))
        return loom_err_set(err, LOOM_EUSAGE,
                            "compute: memory bandwidth must be > 0 (got %g bytes/s)", c->mem_bw);
    if (!curve_ok(&c->matrix))
        return loom_err_set(err, LOOM_EUSAGE,
                            "compute: matrix efficiency must be in (0, 1] with a half size >= 0 "
                            "(got %g, %g FLOPs)", c->matrix.eff, c->matrix.half);
    if (!curve_ok(&c->memory))
        return loom_err_set(err, LOOM_EUSAGE,
                            "compute: memory efficiency must be in (0, 1] with a half size >= 0 "
                            "(got %g, %g bytes)", c->memory.eff, c->memory.half);
    if (!(c->slowdown == 0 || (c->slowdown > 0 && c->slowdown <= 1000)))
        return loom_err_set(err, LOOM_EUSAGE,
                            "compute: straggler slowdown must be in (0, 1000] (got %g)", c->slowdown);
    if (c->kind == COMP_TABLE && c->table == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "compute: the table model needs a kernel table");
    return 0;
}

/* Seconds to ps, rounded to nearest; saturates instead of overflowing so a
 * huge num_ops shows up as an absurd time the caller can detect. */
static sim_time sec_to_ps(double s)
{
    double ps = s * (double)SIM_PS_PER_S;
    if (!(ps < 9.2e18))
        return SIM_TIME_MAX;
    return (sim_time)llround(ps);
}

static double slow(const comp_cfg *c) { return c->slowdown > 0 ? c->slowdown : 1.0; }

/* Trace duration times the straggler factor (exact when there is none).
 * A whole number of microseconds scales as microseconds, so a trace
 * without duration_ns gives the same picoseconds as it always did. */
static sim_time trace_time(const comp_cfg *c, uint64_t ns, int accel)
{
    if (accel && slow(c) != 1.0)
        return sec_to_ps(ns % 1000 == 0 ? (double)(ns / 1000) * 1e-6 * slow(c)
                                        : (double)ns * 1e-9 * slow(c));
    if (ns > (uint64_t)(SIM_TIME_MAX / SIM_PS_PER_NS))
        return SIM_TIME_MAX;
    return (sim_time)ns * SIM_PS_PER_NS;
}

double comp_curve_eff(const comp_curve *cv, double x)
{
    if (cv->eff == 0)
        return 1.0;
    if (cv->half == 0)
        return cv->eff;
    return cv->eff * x / (x + cv->half);
}

/* x / (R * e(x)) = (x + half) / (R * eff): written this way it stays
 * finite at x = 0 (a pure overhead) and needs no division by e. */
static double curve_time(const comp_curve *cv, double x, double rate)
{
    if (cv->eff == 0)
        return x / rate;
    return (x + cv->half) / (rate * cv->eff);
}

/* Seconds of one kernel under roofline (before the straggler factor). */
double comp_roofline_seconds(const comp_cfg *c, double flops, double bytes)
{
    double t_ops = curve_time(&c->matrix, flops, c->peak_flops);
    double t_mem = curve_time(&c->memory, bytes, c->mem_bw);
    return t_ops > t_mem ? t_ops : t_mem;
}

/* Shape s with `busy` more SMs held beside it, in *tmp, when it is a
 * kernel whose waves run on the SMs (GEMM, attention); else s. */
static const loom_kshape *busy_shape(const loom_kshape *s, uint32_t busy, loom_kshape *tmp)
{
    if (busy == 0 || s == NULL ||
        (s->cls != LOOM_K_GEMM && s->cls != LOOM_K_ATTN && s->cls != LOOM_K_ATTN_BWD))
        return s;
    *tmp = *s;
    uint32_t v = s->comm_sms + busy;
    tmp->comm_sms = (uint8_t)(v > 255 ? 255 : v);
    return tmp;
}

/* A fused node: the sum of its kernels' times, each rounded to ps as if it
 * ran alone, saturating.  Returns -1 when the table misses a kernel. */
static sim_time fused_time(const comp_cfg *c, const comp_kernel *k)
{
    sim_time sum = 0;
    for (uint32_t i = 0; i < k->nkern; i++) {
        uint64_t f = k->kwork[2 * i], b = k->kwork[2 * i + 1];
        double sec;
        if (c->kind == COMP_TABLE) {
            sec = comp_table_lookup(c->table, k->name ? k->name : "", f, b);
            if (sec < 0)
                return -1;
        } else if (c->kind == COMP_KERNEL) {
            loom_kshape tmp;
            sec = comp_kernel_seconds(c, (double)f, (double)b,
                                      busy_shape(k->shape ? &k->shape[i] : NULL, k->busy_sms,
                                                 &tmp));
        } else {
            sec = comp_roofline_seconds(c, (double)f, (double)b);
        }
        sim_time t = sec_to_ps(sec * slow(c));
        sum = t > SIM_TIME_MAX - sum ? SIM_TIME_MAX : sum + t;
    }
    return sum;
}

sim_time comp_time(const comp_cfg *c, const comp_kernel *k, int *fell_back)
{
    if (fell_back)
        *fell_back = 0;
    if (k->is_cpu || c->kind == COMP_TRACE)
        return trace_time(c, k->duration_ns, !k->is_cpu);
    if (k->nkern > 0) {
        sim_time t = fused_time(c, k);
        if (t >= 0)
            return t;
        if (fell_back)
            *fell_back = 1;
        return trace_time(c, k->duration_ns, 1);
    }
    if (c->kind == COMP_TABLE) {
        double s = comp_table_lookup(c->table, k->name ? k->name : "",
                                     k->has_ops ? k->num_ops : 0, k->tensor_size);
        if (s >= 0)
            return sec_to_ps(s * slow(c));
        if (fell_back)
            *fell_back = 1;
        return trace_time(c, k->duration_ns, 1);
    }
    /* a shape the model cannot price (a GEMM without its sizes, an
     * elementwise kernel without bytes) goes on as the roofline would:
     * by num_ops, else the trace's duration, counted as a fall-back */
    loom_kshape tmp;
    if (c->kind == COMP_KERNEL &&
        comp_kernel_by_shape(c, (double)k->num_ops, (double)k->tensor_size, k->shape))
        return sec_to_ps(comp_kernel_seconds(c, (double)k->num_ops, (double)k->tensor_size,
                                             busy_shape(k->shape, k->busy_sms, &tmp)) *
                         slow(c));
    if (!k->has_ops) {
        if (fell_back)
            *fell_back = 1;
        return trace_time(c, k->duration_ns, 1);
    }
    return sec_to_ps(comp_roofline_seconds(c, (double)k->num_ops, (double)k->tensor_size) *
                     slow(c));
}

sim_time comp_mem_time(const comp_cfg *c, uint64_t bytes)
{
    return sec_to_ps((double)bytes / c->mem_bw * slow(c));
}

/* ---- model names ------------------------------------------------------------ */

const char *const comp_kind_names[COMP_KINDS] = {"trace", "roofline", "table",
                                                "kernel"};

const char *comp_kind_name(comp_kind k)
{
    return (unsigned)k < COMP_KINDS ? comp_kind_names[k] : "?";
}

int comp_kind_parse(const char *s, comp_kind *out)
{
    for (int i = 0; i < COMP_KINDS; i++)
        if (strcmp(s, comp_kind_names[i]) == 0) {
            *out = (comp_kind)i;
            return 0;
        }
    return -1;
}
