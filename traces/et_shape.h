/*
 * et_shape.h: the kernel-shape attributes of a compute node (loom's own,
 * docs/TRACES.md "Kernel shapes"), read into core/base's loom_kshape for
 * the `kernel` compute model.  Other readers ignore them.
 *
 * A plain compute node:
 *   kernel_class  string: "gemm", "attention", "attention_bwd", "elementwise",
 *                 "dropout", "norm"
 *   gemm_m, gemm_n, gemm_k, gemm_batch
 *                 integers 0 .. 2^32-1 (attention: m = query length,
 *                 n = key length, k = head dimension, batch = batch x heads)
 *   dtype_bytes   integer 0 .. 8, operand width (0: the run's datatype)
 *   causal        integer or bool (attention)
 *   attention_dropout  integer or bool (attention): dropout applied inside
 *                 the fused kernel
 *   comm_sms      integer 0 .. 255: SMs communication holds beside it
 * A node with gemm_m, gemm_n and gemm_k but no kernel_class is a GEMM.
 * A fused node (kernel_flops/kernel_bytes) carries its kernels' shapes in
 * kernel_shape, an integer list of LOOM_KSHAPE_FIELDS entries per kernel
 * in kernel_flops' order: class code (kshape.h LOOM_K_*), m, n, k, batch,
 * dtype_bytes + 256 * causal + 512 * dropout + 65536 * comm_sms.
 * A collective (COMM_COLL_NODE) may carry comm_sms, an integer 0 .. 255:
 * the SMs its kernel holds while in flight (the system key comm-sms
 * otherwise; 0: none, a transfer that runs on copy engines).
 * Malformed values are problems reported through et_problem_fn, as for
 * et_attr.h; et_graph stops at the first, et_check lists them all.
 */
#ifndef LOOM_ET_SHAPE_H
#define LOOM_ET_SHAPE_H

#include "et_attr.h"
#include "kshape.h"

typedef struct et_nshape {
    int has_one;            /* `one` holds a plain node's shape */
    loom_kshape one;
    /* a fused node's kernel_shape list (checked: LOOM_KSHAPE_FIELDS x
     * nkernels entries); NULL when absent or malformed */
    const ChakraProtoMsg__AttributeProto *list;
    /* a collective's comm_sms: the SMs it holds while in flight (its
     * kernel's CTAs), in place of the system's comm-sms */
    int has_coll_sms;
    uint8_t coll_sms;
} et_nshape;

/* Reads node n's shape attributes (nkernels: its fused kernels, 0 if
 * none); returns the number of problems. */
int et_shape_read(const ChakraProtoMsg__Node *n, uint32_t nkernels, et_nshape *out /* OUT */,
                  et_problem_fn report, void *ctx);

/* Kernel i of a checked kernel_shape list. */
loom_kshape et_shape_at(const et_nshape *s, uint32_t i);
/* k as the LOOM_KSHAPE_FIELDS integers of a kernel_shape entry, into f:
 * the one place, with et_shape_at, that knows the layout. */
void et_shape_pack(const loom_kshape *k, uint64_t *f);

/* "gemm", "attention", "attention_bwd", "elementwise", "dropout", "norm";
 * "" for none. */
const char *et_kclass_name(int cls);

#endif
