/*
 * comp.h: how long a compute node takes on a modeled device.
 *
 * Models (docs/MODEL.md, "Compute"; docs/DEVICES.md for the curves):
 *   trace     t = the trace's duration (duration_ns, else duration_micros)
 *   roofline  t = max(num_ops / (P * e_mat(num_ops)),
 *                     tensor_size / (M * e_mem(tensor_size)))
 *             with the size-dependent efficiency
 *                 e(x) = e_max * x / (x + x_half)        (comp_curve)
 *             so t = max((num_ops + F_half) / (P * e_mat_max),
 *                        (tensor_size + B_half) / (M * e_mem_max)).
 *             A curve left zero is e = 1: ASTRA-sim's plain roofline,
 *             num_ops / min(P, M * num_ops / tensor_size).
 *   table     measured kernel times (comp_table), interpolated by size;
 *             a kernel no table row matches keeps its trace duration.
 *   kernel    a kernel whose shape the trace states (loom_kshape: GEMM
 *             dimensions, flash attention, elementwise) is priced as it
 *             runs (compute/comp_kernel.c: tile and wave quantization on
 *             the device's SMs, attention at its own efficiency, bytes at
 *             a fraction of HBM bandwidth, a launch cost each); a kernel
 *             without a shape is priced by roofline.  A separate name, so
 *             ASTRA-sim's `roofline-enabled` keeps meaning its roofline.
 * A fused node (comp_kernel.nkern > 0: a layer's kernels in one node, as
 * `loom gen llm --granularity layer` writes them) costs the sum of its
 * kernels' times, each priced alone: roofline sums per-kernel times (so
 * each kernel pays its own efficiency and overhead), table sums per-kernel
 * lookups under the node's name (any kernel without a row: the node keeps
 * its trace duration).  Cost is decided here, at replay, never baked into
 * a generated trace.
 * Every accelerator time is then multiplied by the straggler factor
 * `slowdown` (0 or 1: none).  CPU operations (is_cpu_op) always keep their
 * trace duration: the device model describes the accelerator.  A node
 * without num_ops under roofline (or without a matching row under table)
 * keeps its trace duration, and the caller counts such fall-backs.
 *
 * Knows nothing of ranks or networks: per-rank devices and stragglers are
 * one comp_cfg per rank, built by core/config (loom_cfg.rank_comp).
 *
 * Ownership: comp_table_load() returns a table freed by comp_table_free();
 * a comp_cfg only points at it (config owns both).
 */
#ifndef LOOM_COMP_H
#define LOOM_COMP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kshape.h"
#include "simtime.h"

typedef enum comp_kind {
    COMP_TRACE = 0,    /* duration_micros from the trace */
    COMP_ROOFLINE = 1, /* num_ops and tensor_size against the device */
    COMP_TABLE = 2,    /* measured kernel times, interpolated */
    COMP_KERNEL = 3,   /* shapes priced as the kernels run; roofline without */
} comp_kind;
enum { COMP_KINDS = 4 };

/* The model names of the system file's `compute-model` key, in comp_kind
 * order: "trace", "roofline", "table", "kernel".  One table here, used by the config
 * loader and the report. */
extern const char *const comp_kind_names[COMP_KINDS];
const char *comp_kind_name(comp_kind k); /* "?" for a value out of range */
int comp_kind_parse(const char *s, comp_kind *out /* OUT */); /* 0, or -1: no such model */

/* e(x) = eff * x / (x + half): reaches eff for x >> half and eff/2 at
 * x = half.  eff = 0 means "no curve": e = 1 for every size. */
typedef struct comp_curve {
    double eff;  /* asymptotic fraction of the peak, (0, 1]; 0: none */
    double half; /* size (FLOPs or bytes) at which e = eff/2, >= 0 */
} comp_curve;

typedef struct comp_table comp_table;

enum { COMP_MAX_TILES = 8 }; /* GEMM tile shapes one device may list */

/* The attention kernels a software stack runs (the system file's
 * `attention-kernel`), each with its fitted efficiencies and launch cost
 * (docs/DEVICES.md "The kernel model"): FlashAttention-2 (PyTorch's flash
 * back-end) or cuDNN's fused attention (what Transformer Engine picks on
 * Hopper and later). */
typedef enum { COMP_ATTN_FLASH2 = 0, COMP_ATTN_CUDNN = 1, COMP_ATTN_KINDS } comp_attn;

/* The kernel model's figures (docs/DEVICES.md "The kernel model").  The
 * hardware half comes from the device catalog (sms, gemm-tiles); the
 * fitted half from comp_kparams_default() (fitted on kernel measurements:
 * bench/gpu/h200-2026-11-28), which a software-stack profile may replace. */
typedef struct comp_kparams {
    uint32_t sms;            /* streaming multiprocessors (compute units); 0: none */
    uint32_t ntiles;         /* GEMM output tiles the library chooses among */
    uint16_t tile_m[COMP_MAX_TILES], tile_n[COMP_MAX_TILES];
    double peak_fp8;         /* FLOP/s of 1-byte operands (dtype_bytes 1); 0: peak_flops */
    double peak_16;          /* FLOP/s of 2-byte operands (dtype_bytes 2) in an FP8 run
                                (the FP8 recipe's bf16 attention); 0: peak_flops */
    double peak_32;          /* FLOP/s of 4-byte operands (dtype_bytes 4): FP32, as
                                PyTorch multiplies float matrices by default, or TF32
                                in a TF32 run; 0: peak_flops */
    double gemm_eff;         /* fraction of one SM's peak a tile's main loop reaches */
    double gemm_k0;          /* per-tile fixed cost (prologue, epilogue), in K steps */
    double gemm_mem_eff;     /* fraction of HBM bandwidth a memory-bound GEMM reaches */
    double gemm_fp8;         /* gemm_eff multiplier for fp8 operands */
    double gemm_launch;      /* seconds per GEMM: launch and tail */
    double attn_eff;         /* flash attention forward: fraction of one SM's peak */
    double attn_bwd_eff;     /* flash attention backward */
    double attn_launch;      /* seconds per attention kernel */
    double attn_drop[2];     /* time factor of an attention kernel that applies dropout
                                inside (shape's dropout), forward and backward */
    int attn_kind;           /* comp_attn: the family the four above are */
    /* a device's own forward and backward efficiency per family (catalog
     * attention-efficiency); 0: the family's fitted ones */
    double attn_dev[COMP_ATTN_KINDS][2];
    double elem_eff;         /* elementwise: fraction of HBM bandwidth at large sizes */
    double elem_launch;      /* seconds per elementwise kernel */
    double drop_eff;         /* dropout (random numbers an element): fraction of HBM
                                bandwidth at large sizes; its launch is elem_launch */
    double norm_eff;         /* norm (norms and sums, reductions): fraction of HBM
                                bandwidth at large sizes */
    double norm_launch;      /* seconds per norm kernel */
} comp_kparams;

typedef struct comp_cfg {
    comp_kind kind;           /* which model */
    double peak_flops;        /* FLOP/s at the run's datatype (> 0 for roofline) */
    double mem_bw;            /* device memory bandwidth, bytes/s (> 0) */
    comp_curve matrix;        /* efficiency of the num_ops term, by num_ops */
    comp_curve memory;        /* efficiency of the tensor_size term, by tensor_size */
    double slowdown;          /* straggler factor on accelerator times; 0 or 1: none */
    const comp_table *table;  /* COMP_TABLE: the measured times (not owned) */
    comp_kparams kp;          /* COMP_KERNEL: the kernel model's figures */
} comp_cfg;

typedef struct comp_kernel {
    uint64_t duration_ns; /* the trace's duration (duration_ns, else duration_micros) */
    uint64_t num_ops;     /* FLOPs */
    uint64_t tensor_size; /* bytes moved */
    int has_ops;          /* num_ops was present in the trace */
    int is_cpu;           /* runs on the host CPU */
    const char *name;     /* node name, for the table model's patterns; NULL = "" */
    /* a fused node: nkern kernels, kwork[2i] FLOPs and kwork[2i+1] bytes
     * of kernel i (not owned); nkern 0: one kernel, num_ops/tensor_size */
    const uint64_t *kwork;
    uint32_t nkern;
    /* shapes (COMP_KERNEL): one for a plain node, nkern for a fused one, in
     * kwork's order; NULL: none (not owned) */
    const loom_kshape *shape;
    /* SMs held by communication kernels in flight beside it (the replay's
     * comm-sms, docs/MODEL.md "Communication beside compute"): each GEMM and
     * attention kernel's shape holds that many more (its comm_sms); 0: none */
    uint32_t busy_sms;
} comp_kernel;

/* Checks a configuration; errors name the field and the value. */
int comp_cfg_check(const comp_cfg *c, loom_err *err);

/* Time of one kernel.  *fell_back (may be NULL) is set to 1 when the
 * roofline model had no num_ops, or the table model had no matching row,
 * and the trace duration was used. */
sim_time comp_time(const comp_cfg *c, const comp_kernel *k, int *fell_back);

/* Time to move `bytes` through device memory at mem_bw (MEM_LOAD/STORE),
 * times the straggler factor.  No efficiency curve: ASTRA-sim's rule. */
sim_time comp_mem_time(const comp_cfg *c, uint64_t bytes);

/* ---- the kernel model (compute/comp_kernel.c) ---------------------------- */

/* The fitted constants every device starts with (docs/DEVICES.md);
 * attention as COMP_ATTN_FLASH2. */
comp_kparams comp_kparams_default(void);

extern const char *const comp_attn_names[COMP_ATTN_KINDS]; /* "flash2", "cudnn" */
int comp_attn_parse(const char *s, comp_attn *out /* OUT */); /* 0, or -1: no such family */
/* Sets k's attention efficiencies and launch cost to family a's (its
 * efficiencies k->attn_dev[a] where the device has its own). */
void comp_kparams_attention(comp_kparams *k, comp_attn a);

/* Checks the figures (an SM count and tiles present, efficiencies in
 * (0, 1], launch costs in [0, 1) s); errors name the figure. */
int comp_kparams_check(const comp_kparams *k, loom_err *err);

/* Seconds of one kernel of `flops` FLOPs and `bytes` bytes under the
 * kernel model, before the straggler factor: by its shape when s gives a
 * class the device's figures can price, else by c's roofline. */
double comp_kernel_seconds(const comp_cfg *c, double flops, double bytes, const loom_kshape *s);
/* 1 when the kernel model prices this kernel by its shape: a GEMM with
 * m, n, k (and tiles), attention with m, n and k or FLOPs, elementwise
 * with bytes, on a device with SMs. */
int comp_kernel_by_shape(const comp_cfg *c, double flops, double bytes, const loom_kshape *s);

/* The roofline (with c's curves) of one kernel, before the straggler factor. */
double comp_roofline_seconds(const comp_cfg *c, double flops, double bytes);

/* The GEMM part alone, for tests and reports: output tiles, waves and the
 * tile the model picked (any pointer may be NULL). */
double comp_gemm_seconds(const comp_cfg *c, const loom_kshape *s, double bytes,
                         uint64_t *tiles, uint64_t *waves, int *tile);

/* The efficiency e(x) of a curve (1 when the curve is unset). */
double comp_curve_eff(const comp_curve *cv, double x);

/* ---- measured kernel tables (compute/comp_table.c) ------------------------
 *
 * CSV with the header line `kernel,flops,bytes,time_us` and one row per
 * measurement.  `kernel` is a glob (fnmatch) on the node name ("*" matches
 * every node); rows with the same pattern form a series, and a series is
 * indexed by FLOPs when any of its rows has flops > 0, else by bytes.  A
 * node takes the first series, in file order, whose pattern matches its
 * name and whose axis the node has (> 0); its time is interpolated
 * linearly between the two rows around its size, held at the first row's
 * time below the smallest size (a floor: launch cost), and scaled in
 * proportion to size past the largest.  Blank lines and lines starting
 * with '#' are skipped. */
comp_table *comp_table_load(const char *path, loom_err *err);
void comp_table_free(comp_table *t);
size_t comp_table_rows(const comp_table *t);

/* Seconds for the kernel, or -1 when no series applies. */
double comp_table_lookup(const comp_table *t, const char *name, uint64_t flops,
                         uint64_t bytes);

#endif
