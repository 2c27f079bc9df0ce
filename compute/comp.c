#include "comp.h"

#include <math.h>

int comp_cfg_check(const comp_cfg *c, loom_err *err)
{
    if (c->kind == COMP_ROOFLINE && !(c->peak_flops > 0 && isfinite(c->peak_flops)))
        return loom_err_set(err, LOOM_EUSAGE,
                            "compute: peak-perf must be > 0 for the roofline model (got %g FLOP/s)",
                            c->peak_flops);
    if (!(c->mem_bw > 0 && isfinite(c->mem_bw)))
        return loom_err_set(err, LOOM_EUSAGE,
                            "compute: memory bandwidth must be > 0 (got %g bytes/s)", c->mem_bw);
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

static sim_time trace_time(uint64_t us)
{
    if (us > (uint64_t)(SIM_TIME_MAX / SIM_PS_PER_US))
        return SIM_TIME_MAX;
    return (sim_time)us * SIM_PS_PER_US;
}

sim_time comp_time(const comp_cfg *c, const comp_kernel *k, int *fell_back)
{
    if (fell_back)
        *fell_back = 0;
    if (c->kind == COMP_TRACE || k->is_cpu)
        return trace_time(k->duration_us);
    if (!k->has_ops) {
        if (fell_back)
            *fell_back = 1;
        return trace_time(k->duration_us);
    }
    double t_ops = (double)k->num_ops / c->peak_flops;
    double t_mem = (double)k->tensor_size / c->mem_bw;
    return sec_to_ps(t_ops > t_mem ? t_ops : t_mem);
}

sim_time comp_mem_time(const comp_cfg *c, uint64_t bytes)
{
    return sec_to_ps((double)bytes / c->mem_bw);
}
