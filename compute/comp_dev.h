/*
 * comp_dev.h: the device catalog, read from YAML (compute/devices.yaml).
 *
 * A catalog maps a device name ("h100-sxm") to its datasheet figures: dense
 * peak FLOP/s per datatype, HBM capacity and bandwidth, scale-up link
 * bandwidth, and the efficiency curves of the roofline model.  Catalog files
 * are merged in order; a device defined again replaces the earlier entry, so
 * a user file can correct or add devices (docs/DEVICES.md):
 *   1. the built-in catalog: $LOOM_DEVICE_CATALOG if set, else the source
 *      tree's compute/devices.yaml if it is readable, else the installed
 *      <datadir>/loom/devices.yaml;
 *   2. the user's $XDG_CONFIG_HOME/loom/devices.yaml (or
 *      ~/.config/loom/devices.yaml) when it exists;
 *   3. a file named by the caller (--devices, or the system key
 *      device-file).
 *
 * File format: a top-level mapping of device name to a mapping with the keys
 *   description      text (required)
 *   source           where every figure comes from (required)
 *   peak-tflops      mapping fp32/tf32/fp16/bf16/fp8 -> dense TFLOP/s (10^12);
 *                    fp32 required, others where the device has them
 *   memory-gib       HBM capacity, GiB (2^30 bytes), > 0
 *   memory-bw-gbs    HBM bandwidth, GB/s (10^9 bytes/s), > 0
 *   link-bw-gbs      scale-up link bandwidth per GPU per direction, GB/s, > 0
 *   matrix-efficiency, matrix-overhead-us, memory-efficiency,
 *   memory-overhead-us, efficiency-source
 *                    the roofline curves (optional: all five or none).  A
 *                    curve e(x) = eff * x / (x + half) is the same as a
 *                    fixed overhead t0 plus the rest at eff, with
 *                    half = t0 * rate * eff; the file gives eff and t0
 *                    (us), so one curve serves every datatype.
 *   sms, gemm-tiles, kernel-source
 *                    the kernel model's hardware figures (optional: all
 *                    three or none): streaming multiprocessors (compute
 *                    units), the GEMM output tiles the vendor library
 *                    chooses among as a list of "MxN" (at most
 *                    COMP_MAX_TILES), and where both come from.
 *   attention-efficiency, gemm-efficiency-scale
 *                    the kernel model's, optional, with the three above:
 *                    an attention family's own [forward, backward]
 *                    efficiencies, and a factor in (0, 2] on the GEMM
 *                    efficiency fitted on the H200 (docs/DEVICES.md).
 * Unknown keys, duplicates, missing required keys and values out of range
 * are errors naming the file, the line, the device and the key.
 *
 * Ownership: comp_catalog_* returns a catalog freed by comp_catalog_free();
 * the comp_device pointers live as long as it.
 */
#ifndef LOOM_COMP_DEV_H
#define LOOM_COMP_DEV_H

#include <stddef.h>

#include "comp.h"

typedef enum comp_dtype {
    COMP_FP32 = 0,
    COMP_TF32 = 1,
    COMP_FP16 = 2,
    COMP_BF16 = 3,
    COMP_FP8 = 4,
    COMP_DTYPES = 5,
} comp_dtype;

typedef struct comp_device {
    char *name;             /* catalog key */
    char *description;      /* e.g. "NVIDIA H100 SXM5 80GB" */
    char *source;           /* datasheet(s) the figures come from */
    char *eff_source;       /* where the curve constants come from, or NULL */
    char *file;             /* catalog file that defined it */
    double peak[COMP_DTYPES]; /* dense FLOP/s; 0: not supported */
    double mem_bytes;       /* HBM capacity, bytes */
    double mem_bw;          /* HBM bandwidth, bytes/s */
    double link_bw;         /* scale-up bandwidth per direction, bytes/s */
    double matrix_eff;      /* asymptotic fraction of peak FLOP/s; 0: no curve */
    double matrix_overhead; /* seconds per matrix kernel at small sizes */
    double memory_eff;      /* asymptotic fraction of HBM bandwidth; 0: no curve */
    double memory_overhead; /* seconds per memory-bound kernel */
    /* the kernel model (0 sms: the device has no figures for it) */
    uint32_t sms;           /* streaming multiprocessors / compute units */
    uint32_t ntiles;        /* GEMM tiles in tile_m/tile_n */
    uint16_t tile_m[COMP_MAX_TILES], tile_n[COMP_MAX_TILES];
    char *kernel_source;    /* where sms and the tiles come from */
    /* attention-efficiency: this device's forward and backward efficiency
     * per attention family (comp_attn), measured on it; 0: the family's */
    double attn_eff[COMP_ATTN_KINDS][2];
    /* gemm-efficiency-scale: the kernel model's GEMM efficiency on this
     * device over the H200's, where it was fitted (the device's best-shape
     * GEMM fraction of its peak over the H200's); 0 when not given (1) */
    double gemm_scale;
} comp_device;

typedef struct comp_catalog comp_catalog;

/* Loads the built-in catalog, then the user file if present, then `extra`
 * (may be NULL).  Fails naming the file and key on any malformed entry. */
comp_catalog *comp_catalog_load(const char *extra, loom_err *err);

/* An empty catalog, and adding one file to it (later files override). */
comp_catalog *comp_catalog_new(void);
int comp_catalog_add_file(comp_catalog *c, const char *path, loom_err *err);
void comp_catalog_free(comp_catalog *c);

/* Files read, in order (for messages and `loom devices`). */
size_t comp_catalog_files(const comp_catalog *c);
const char *comp_catalog_file(const comp_catalog *c, size_t i);

size_t comp_catalog_count(const comp_catalog *c);
const comp_device *comp_catalog_at(const comp_catalog *c, size_t i); /* sorted by name */
/* "a100-40g, a100-80g, ..." into buf (cut at n bytes), for messages. */
const char *comp_catalog_names(const comp_catalog *c, char *buf, size_t n);
const comp_device *comp_catalog_find(const comp_catalog *c, const char *name);

/* "fp32", "tf32", "fp16", "bf16", "fp8". */
const char *comp_dtype_name(comp_dtype t);
int comp_dtype_parse(const char *s, comp_dtype *out /* OUT */);
/* Bytes per element of a datatype as stored (tf32 is stored as fp32). */
int comp_dtype_bytes(comp_dtype t);

/* Fills peak_flops, mem_bw, both curves and the kernel model's figures
 * (the device's sms and tiles, comp_kparams_default()'s fitted constants)
 * of *out from the device at the datatype (half = overhead * rate * eff);
 * leaves kind, slowdown and table alone.  Fails when the device has no peak for that datatype. */
int comp_device_cfg(const comp_device *d, comp_dtype t, comp_cfg *out, loom_err *err);

/* The paths searched for the built-in and the user catalog (NULL where
 * none applies), for help texts and messages. */
const char *comp_catalog_builtin_path(void);
const char *comp_catalog_user_path(char *buf, size_t n);

#endif
