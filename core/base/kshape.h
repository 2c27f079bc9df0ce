/*
 * kshape.h: the shape of one GPU kernel, as a trace states it and as the
 * `kernel` compute model prices it (docs/MODEL.md "The kernel model",
 * docs/TRACES.md "Kernel shapes").
 *
 * A plain value type on the ground floor because two floors share it
 * without seeing each other: traces/ reads it from node attributes
 * (kernel_class, gemm_m, gemm_n, gemm_k, gemm_batch, dtype_bytes, causal,
 * attention_dropout, comm_sms; a fused node's kernel_shape list) and
 * compute/ prices it.  Neither owns the other's types; this header has no
 * code.
 *
 * Meaning of the fields by class:
 *   GEMM           batch independent products of (m x k) by (k x n)
 *   ATTN, ATTN_BWD flash attention forward / backward: batch = batch x
 *                  query heads, m = query length, n = key length,
 *                  k = head dimension, causal = 1 for a causal mask,
 *                  dropout = 1 when the kernel applies dropout to the
 *                  probabilities itself (its random numbers drawn inside)
 *   ELEM           elementwise or softmax: no dimensions (bytes tell)
 *   DROPOUT        elementwise that draws a random number per element
 *                  (PyTorch's native_dropout: the mask and the output), no
 *                  dimensions; slower a byte than ELEM by the generator
 *   NORM           a reduction: layer norm or RMS norm, forward or backward
 *                  (each row reduced, then rescaled), and sums over rows
 *                  (bias gradients); no dimensions; slower a byte than
 *                  ELEM and slower to start
 * dtype_bytes is the operand width (2 for bf16/fp16, 1 for fp8, 4 for
 * fp32); 0 means the run's datatype.  comm_sms (GEMM, attention) is the
 * number of the device's SMs a communication kernel running beside it holds
 * (Transformer Engine's userbuffer overlap reserves them with
 * set_sm_margin): the GEMM's tiles, the attention's blocks, run in waves
 * over the rest.  The replay adds the SMs of collectives in flight beside
 * the kernel (the system key comm-sms).
 */
#ifndef LOOM_KSHAPE_H
#define LOOM_KSHAPE_H

#include <stdint.h>

enum {
    LOOM_K_NONE = 0,     /* no class: priced by FLOPs and bytes alone */
    LOOM_K_GEMM = 1,     /* matrix product */
    LOOM_K_ATTN = 2,     /* flash attention, forward */
    LOOM_K_ATTN_BWD = 3, /* flash attention, backward */
    LOOM_K_ELEM = 4,     /* elementwise / softmax: memory bound */
    LOOM_K_DROPOUT = 5,  /* elementwise drawing a random number an element */
    LOOM_K_NORM = 6,     /* norms and sums: reductions, memory bound */
    LOOM_K_CLASSES = 7,
};

/* Values stored per kernel in a fused node's kernel_shape list. */
#define LOOM_KSHAPE_FIELDS 6 /* class, m, n, k, batch, dtype_bytes | causal << 8 |
                               dropout << 9 | comm_sms << 16 */

/* The SMs an NCCL collective's kernel holds while in flight (one CTA per
 * channel), which the generators and importers write as the system key
 * comm-sms (docs/MODEL.md 12, "Communication beside compute"): the middle
 * of the CTA counts on record, 8 (an all-reduce of a 2-rank NCCL 2.17 job
 * on A100s, Kineto grid), 16 (send/receive of a 128-rank job, Kineto grid;
 * NCCL's channels on 3 x 8 H100s over InfiniBand, NVIDIA/nccl issue 1453)
 * and 24 (an all-gather on an H100, NVIDIA developer forum; one 8-GPU node
 * in that issue), and Transformer Engine's own 16 for its communication
 * kernels. */
#define LOOM_COMM_SMS 16

typedef struct loom_kshape {
    uint32_t m, n, k; /* dimensions (see above); 0 where the class has none */
    uint32_t batch;   /* independent problems; 0 is taken as 1 */
    uint8_t cls;      /* LOOM_K_* */
    uint8_t dtype_bytes; /* operand bytes per element; 0: the run's datatype */
    uint8_t causal;   /* attention: causal mask (half the score matrix) */
    uint8_t dropout;  /* attention: dropout inside the fused kernel */
    uint8_t comm_sms; /* GEMM, attention: SMs held by communication beside it; 0: none */
} loom_kshape;

#endif
