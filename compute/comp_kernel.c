/*
 * comp_kernel.c: the `kernel` compute model, a kernel priced by its shape
 * as it runs on the device (docs/MODEL.md "The kernel model";
 * docs/DEVICES.md for the figures and how they were fitted).
 *
 * GEMM (batch x (m x k)(k x n)), for each output tile tm x tn the device's
 * library chooses among (the catalog's gemm-tiles), on S SMs of peak P/S:
 *     tiles = batch * ceil(m / tm) * ceil(n / tn)
 *     split = tiles < S ? max(1, min(floor(S / tiles), floor(k / 512))) : 1
 *                                          (split-K when a wave is not full)
 *     waves = ceil(tiles * split / S)
 *     t_tile = 2 tm tn (ceil(k / split) + k0) / (P/S * e_gemm)
 *     t = launch + max(min over tiles of waves * t_tile, bytes / (M * e_mem))
 * Flash attention (forward; backward likewise with its own efficiency):
 *     blocks = batch * ceil(rows / 128)     (rows: queries forward, keys
 *                                           backward; FlashAttention-2)
 *     waves = ceil(blocks / S)
 *     t = launch + max(waves * (F / blocks) / (P/S * e_attn), bytes / (M * e_elem))
 *     t x r_drop when the kernel applies dropout inside (the family's
 *     measured ratio of the kernel's time with dropout to without)
 * Elementwise and softmax kernels (dropout: e_drop for e_elem; the norm
 * class, norms and sums: e_norm and launch_norm):
 *     t = launch + bytes / (M * e_elem)
 *       (= bytes / (M * e(bytes)), e(x) = e_elem * x / (x + launch * M * e_elem):
 *        a fraction of HBM bandwidth that grows with size)
 * A kernel without a class, or whose class lacks the dimensions, is priced
 * by the roofline of the same comp_cfg.
 */
#include "comp.h"

#include <math.h>
#include <string.h>

enum {
    SPLITK_MIN_K = 512, /* the least K one split-K slice keeps */
    ATTN_BLOCK = 128,   /* FlashAttention-2's row block on Hopper/Ampere */
};

comp_kparams comp_kparams_default(void)
{
    /* Fitted on half of the H200 measurements of bench/gpu/h200-2026-11-28
     * (every even row of gemm.csv, attention.csv and elementwise.csv) by
     * bench/gpu/compare.py --fit; the other half is the held-out check
     * (docs/DEVICES.md).  Devices other than the H200 take the same
     * constants until measured: they are the software's, not the chip's. */
    comp_kparams k = {0};
    k.gemm_eff = 0.73;
    k.gemm_k0 = 64;
    k.gemm_mem_eff = 0.70;
    k.gemm_fp8 = 0.92;
    k.gemm_launch = 5e-6;
    comp_kparams_attention(&k, COMP_ATTN_FLASH2);
    k.elem_eff = 0.83;
    k.elem_launch = 5e-6;
    /* the dropout rows alone (their even half), the elementwise launch
     * kept: torch's native_dropout at 63% of HBM bandwidth where a copy
     * reaches 88% (docs/DEVICES.md "Dropout") */
    k.drop_eff = 0.63;
    /* the layer_norm and rms_norm rows alone (the even half of each):
     * torch's norms at 76% of HBM bandwidth and 10.5 us to start, where the
     * elementwise fit (norms among its rows) gives 83% and 5 us
     * (docs/DEVICES.md "Norms") */
    k.norm_eff = 0.76;
    k.norm_launch = 10.5e-6;
    return k;
}

/* Attention families, fitted like the rest on the even rows of the H200's
 * attention.csv for their back-end (bench/gpu/kernel_model.py --fit):
 * forward efficiency and launch on the forward rows, backward efficiency
 * on the forward+backward rows.  drop: the kernel's time with dropout 0.1
 * inside over its time without, forward and backward (the backward from
 * forward+backward less forward), the mean of the two shapes of the
 * H200's attention_dropout.csv (bench/gpu/h200-2026-11-30; docs/DEVICES.md
 * "Dropout inside fused attention"). */
const char *const comp_attn_names[COMP_ATTN_KINDS] = {"flash2", "cudnn"};
static const struct {
    double eff, bwd_eff, launch, drop[2];
} attn_fit[COMP_ATTN_KINDS] = {
    [COMP_ATTN_FLASH2] = {0.31, 0.25, 50e-6, {1.20, 1.13}},
    [COMP_ATTN_CUDNN] = {0.66, 0.47, 32e-6, {1.99, 1.21}},
};

int comp_attn_parse(const char *s, comp_attn *out)
{
    for (int i = 0; i < COMP_ATTN_KINDS; i++)
        if (strcmp(s, comp_attn_names[i]) == 0) {
            *out = (comp_attn)i;
            return 0;
        }
    return -1;
}

void comp_kparams_attention(comp_kparams *k, comp_attn a)
{
    if ((unsigned)a >= COMP_ATTN_KINDS)
        a = COMP_ATTN_FLASH2;
    k->attn_eff = attn_fit[a].eff;
    k->attn_bwd_eff = attn_fit[a].bwd_eff;
    if (k->attn_dev[a][0] > 0) { /* measured on this device (catalog) */
        k->attn_eff = k->attn_dev[a][0];
        k->attn_bwd_eff = k->attn_dev[a][1];
    }
    k->attn_launch = attn_fit[a].launch;
    k->attn_drop[0] = attn_fit[a].drop[0];
    k->attn_drop[1] = attn_fit[a].drop[1];
    k->attn_kind = (int)a;
}

static uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

/* The peak a kernel's operands get: FP8 GEMMs the FP8 peak; in an FP8
 * run, kernels with 2-byte operands (attention under the FP8 recipe) the
 * bf16 peak; everything else the run's. */
static double peak_of(const comp_cfg *c, const loom_kshape *s)
{
    if (s->dtype_bytes == 1 && c->kp.peak_fp8 > 0)
        return c->kp.peak_fp8;
    if (s->dtype_bytes == 2 && c->kp.peak_16 > 0)
        return c->kp.peak_16;
    if (s->dtype_bytes == 4 && c->kp.peak_32 > 0)
        return c->kp.peak_32;
    return c->peak_flops;
}

double comp_gemm_seconds(const comp_cfg *c, const loom_kshape *s, double bytes, uint64_t *tiles,
                         uint64_t *waves, int *tile)
{
    const comp_kparams *kp = &c->kp;
    double eff = kp->gemm_eff * (s->dtype_bytes == 1 && kp->gemm_fp8 > 0 ? kp->gemm_fp8 : 1.0);
    double per_sm = peak_of(c, s) / kp->sms;
    /* SMs held by a communication kernel beside it leave the GEMM fewer
     * for its waves (at least one) */
    uint64_t batch = s->batch ? s->batch : 1;
    uint64_t S = s->comm_sms < kp->sms ? kp->sms - s->comm_sms : 1;
    double best = INFINITY;
    for (uint32_t i = 0; i < kp->ntiles; i++) {
        uint64_t tm = kp->tile_m[i], tn = kp->tile_n[i];
        uint64_t nt = batch * ceil_div(s->m, tm) * ceil_div(s->n, tn), split = 1;
        if (nt < S) {
            split = S / nt;
            if (split > s->k / SPLITK_MIN_K)
                split = s->k / SPLITK_MIN_K;
            if (split < 1)
                split = 1;
        }
        uint64_t w = ceil_div(nt * split, S);
        double t = (double)w * 2.0 * (double)tm * (double)tn *
                   ((double)ceil_div(s->k, split) + kp->gemm_k0) / (per_sm * eff);
        if (t < best) {
            best = t;
            if (tiles)
                *tiles = nt;
            if (waves)
                *waves = w;
            if (tile)
                *tile = (int)i;
        }
    }
    double t_mem = bytes / (c->mem_bw * kp->gemm_mem_eff);
    return kp->gemm_launch + (best > t_mem ? best : t_mem);
}

/* Flash attention; flops 0 takes them from the shape. */
static double attn_seconds(const comp_cfg *c, double flops, double bytes, const loom_kshape *s)
{
    const comp_kparams *kp = &c->kp;
    int bwd = s->cls == LOOM_K_ATTN_BWD;
    uint64_t batch = s->batch ? s->batch : 1;
    if (flops <= 0) /* forward 4 b m n d (QK^T and PV); backward 2.5 times that */
        flops = (bwd ? 10.0 : 4.0) * (double)batch * s->m * s->n * s->k * (s->causal ? 0.5 : 1.0);
    uint64_t blocks = batch * ceil_div(bwd ? s->n : s->m, ATTN_BLOCK);
    /* its blocks' waves on the SMs communication leaves it (at least one);
     * each block at one SM's share of the peak */
    uint64_t w = ceil_div(blocks, s->comm_sms < kp->sms ? kp->sms - s->comm_sms : 1);
    double per_sm = peak_of(c, s) / kp->sms;
    double t = (double)w * (flops / (double)blocks) / (per_sm * (bwd ? kp->attn_bwd_eff : kp->attn_eff));
    double t_mem = bytes / (c->mem_bw * kp->elem_eff);
    double r = s->dropout ? kp->attn_drop[bwd] : 1.0; /* its random numbers drawn inside */
    return r * (kp->attn_launch + (t > t_mem ? t : t_mem));
}

int comp_kernel_by_shape(const comp_cfg *c, double flops, double bytes, const loom_kshape *s)
{
    const comp_kparams *kp = &c->kp;
    if (s == NULL || kp->sms == 0)
        return 0;
    switch (s->cls) {
    case LOOM_K_GEMM: return s->m && s->n && s->k && kp->ntiles > 0;
    case LOOM_K_ATTN:
    case LOOM_K_ATTN_BWD: return s->m && s->n && (flops > 0 || s->k);
    case LOOM_K_ELEM:
    case LOOM_K_DROPOUT:
    case LOOM_K_NORM: return bytes > 0;
    default: return 0;
    }
}

double comp_kernel_seconds(const comp_cfg *c, double flops, double bytes, const loom_kshape *s)
{
    const comp_kparams *kp = &c->kp;
    if (!comp_kernel_by_shape(c, flops, bytes, s))
        return comp_roofline_seconds(c, flops, bytes);
    if (s->cls == LOOM_K_GEMM)
        return comp_gemm_seconds(c, s, bytes, NULL, NULL, NULL);
    if (s->cls == LOOM_K_ELEM)
        return kp->elem_launch + bytes / (c->mem_bw * kp->elem_eff);
    if (s->cls == LOOM_K_DROPOUT)
        return kp->elem_launch + bytes / (c->mem_bw * kp->drop_eff);
    if (s->cls == LOOM_K_NORM)
        return kp->norm_launch + bytes / (c->mem_bw * kp->norm_eff);
    return attn_seconds(c, flops, bytes, s);
}

static int frac_ok(double x) { return x > 0 && x <= 1; }
static int secs_ok(double x) { return x >= 0 && x < 1; }

int comp_kparams_check(const comp_kparams *k, loom_err *err)
{
    if (k->sms == 0 || k->ntiles == 0)
        return loom_err_set(err, LOOM_EUSAGE, "compute: the kernel model needs the device's SM "
                            "count and GEMM tiles (catalog keys sms and gemm-tiles; a 'device' "
                            "that has them, see loom devices)");
    for (uint32_t i = 0; i < k->ntiles; i++)
        if (k->tile_m[i] == 0 || k->tile_n[i] == 0)
            return loom_err_set(err, LOOM_EUSAGE, "compute: GEMM tile %u is %ux%u; both sides "
                                "must be > 0", i, k->tile_m[i], k->tile_n[i]);
    const struct { const char *name; double v; int frac; } f[] = {
        {"gemm efficiency", k->gemm_eff, 1},      {"gemm memory efficiency", k->gemm_mem_eff, 1},
        {"fp8 gemm factor", k->gemm_fp8, 1},      {"attention efficiency", k->attn_eff, 1},
        {"attention backward efficiency", k->attn_bwd_eff, 1},
        {"elementwise efficiency", k->elem_eff, 1}, {"dropout efficiency", k->drop_eff, 1},
        {"norm efficiency", k->norm_eff, 1},      {"gemm launch", k->gemm_launch, 0},
        {"attention launch", k->attn_launch, 0},  {"elementwise launch", k->elem_launch, 0},
        {"norm launch", k->norm_launch, 0}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].frac ? !frac_ok(f[i].v) : !secs_ok(f[i].v))
            return loom_err_set(err, LOOM_EUSAGE, "compute: kernel model %s must be %s (got %g)",
                                f[i].name, f[i].frac ? "in (0, 1]" : "in [0, 1) s", f[i].v);
    for (int i = 0; i < 2; i++)
        if (!(k->attn_drop[i] >= 1 && k->attn_drop[i] < 10))
            return loom_err_set(err, LOOM_EUSAGE, "compute: kernel model attention %s dropout "
                                "factor must be in [1, 10) (got %g)", i ? "backward" : "forward",
                                k->attn_drop[i]);
    if (!(k->gemm_k0 >= 0 && k->gemm_k0 < 1e6))
        return loom_err_set(err, LOOM_EUSAGE, "compute: kernel model gemm k0 must be in [0, 1e6) "
                            "(got %g)", k->gemm_k0);
    return 0;
}
