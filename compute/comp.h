/*
 * comp.h: how long a compute node takes on a modeled device.
 *
 * Models (docs/MODEL.md, "Compute"):
 *   trace     t = duration_micros
 *   roofline  t = num_ops / min(peak, mem_bw * num_ops / tensor_size)
 *             = max(num_ops / peak, tensor_size / mem_bw)
 *             (ASTRA-sim's roofline; a node without num_ops keeps its
 *             trace duration, and the caller counts such fall-backs)
 * CPU operations (is_cpu_op) always keep their trace duration: the device
 * model describes the accelerator.  Knows nothing of ranks or networks.
 */
#ifndef LOOM_COMP_H
#define LOOM_COMP_H

#include <stdint.h>

#include "../core/err.h"
#include "../core/heap.h" /* sim_time */

typedef enum comp_kind {
    COMP_TRACE = 0,    /* duration_micros from the trace */
    COMP_ROOFLINE = 1, /* num_ops and tensor_size against the device */
} comp_kind;

typedef struct comp_cfg {
    comp_kind kind;    /* which model */
    double peak_flops; /* FLOP/s (> 0 for roofline) */
    double mem_bw;     /* device memory bandwidth, bytes/s (> 0) */
} comp_cfg;

typedef struct comp_kernel {
    uint64_t duration_us; /* duration_micros */
    uint64_t num_ops;     /* FLOPs */
    uint64_t tensor_size; /* bytes moved */
    int has_ops;          /* num_ops was present in the trace */
    int is_cpu;           /* runs on the host CPU */
} comp_kernel;

/* Checks a configuration; errors name the field and the value. */
int comp_cfg_check(const comp_cfg *c, loom_err *err);

/* Time of one kernel.  *fell_back (may be NULL) is set to 1 when the
 * roofline model had no num_ops and used the trace duration. */
sim_time comp_time(const comp_cfg *c, const comp_kernel *k, int *fell_back);

/* Time to move `bytes` through device memory at mem_bw (MEM_LOAD/STORE). */
sim_time comp_mem_time(const comp_cfg *c, uint64_t bytes);

#endif
