/*
 * et_attr.h: the attributes a simulator reads from a Chakra node, read by
 * name and checked by kind (CHAKRA.md, "Attributes a simulator reads").
 *
 * Writers disagree on kinds, so any integer or bool kind is accepted where
 * a number is needed (int32/64, uint32/64, sint32/64, fixed32/64,
 * sfixed32/64, bool).  A string, float, double, bytes or list there is a
 * problem, as is a negative size, a value that does not fit, or a
 * collective's comm_type outside CollectiveCommType.  involved_dim is a
 * bool_list, or an integer list of 0/1, of at most 32 entries.  pg_name is
 * a string_val (an integer kind is taken as its decimal spelling).
 * kernel_flops and kernel_bytes (a fused compute node's kernels, written by
 * `loom gen llm --granularity layer`) are equal-length integer lists of
 * non-negative values on a compute node, 1 .. ET_MAX_KERNELS entries.
 * loom's own attributes (written by `loom import pytorch`): `stream` (any
 * integer: the GPU stream, or the host thread, a node ran on), `duration_ns`
 * (a non-negative integer: the exact duration) and `is_delay` (bool: a wait
 * that occupies no resource).  An
 * attribute given twice takes its last value; unknown names are ignored.
 *
 * Both et_graph (which stops at the first problem) and et_check (which
 * lists them all) read attributes through here, so they cannot disagree.
 * Nothing here allocates; et_nattr.pg_name points into the node or into
 * the et_nattr itself, so it lives as long as both.
 */
#ifndef LOOM_ET_ATTR_H
#define LOOM_ET_ATTR_H

#include <stdint.h>

#include "et_def.pb-c.h"

/* What et_nattr_read found on one node; flags use et_graph.h's ET_F_*. */
typedef struct et_nattr {
    unsigned flags;        /* ET_F_* bits: which attributes are present */
    uint64_t num_ops;      /* FLOPs */
    uint64_t tensor_size;  /* bytes */
    uint64_t comm_size;    /* bytes */
    int32_t comm_src;      /* peer rank of a recv */
    int32_t comm_dst;      /* peer rank of a send */
    int32_t comm_tag;      /* send/recv tag */
    int32_t comm_priority; /* issue priority, 0 if absent */
    int comm_type;         /* CollectiveCommType if ET_F_HAS_CTYPE */
    int has_priority;      /* comm_priority present */
    int has_dims;          /* involved_dim present */
    uint32_t involved_dim; /* bit d: dimension d involved (if has_dims) */
    uint8_t involved_n;    /* entries in the involved_dim list */
    const char *pg_name;   /* pg_name, NULL if absent */
    /* a fused compute node's kernels (kernel_flops[i], kernel_bytes[i]);
     * both NULL and nkernels 0 when absent or malformed */
    const ChakraProtoMsg__AttributeProto *kernel_flops;
    const ChakraProtoMsg__AttributeProto *kernel_bytes;
    uint32_t nkernels;     /* entries in each list, 1 .. ET_MAX_KERNELS */
    /* loom's own attributes (docs/TRACES.md; ASTRA-sim ignores them) */
    int has_stream;        /* stream present */
    int64_t stream;        /* the stream (GPU) or thread (CPU) the node ran on */
    int has_duration_ns;   /* duration_ns present */
    uint64_t duration_ns;  /* exact duration, ns; preferred to duration_micros */
    int is_delay;          /* is_delay true: a wait on no resource */
    char pg_buf[24];       /* decimal pg_name when given as an integer */
} et_nattr;

/* Called once per problem with a short description ("attribute num_ops is
 * a string_val, not a number"); ctx is the caller's. */
typedef void (*et_problem_fn)(void *ctx, const char *problem);

/* Where checks report problems: the caller's callback and a count.  A
 * checker fills one and reports through et_problem(). */
typedef struct et_sink {
    et_problem_fn report; /* caller's callback, or NULL */
    void *ctx;            /* its context */
    int count;            /* problems so far */
} et_sink;
/* Formats one problem (512 bytes at most), counts it, reports it. */
void et_problem(et_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads node n's attributes into *out; calls report for every problem and
 * returns how many there were (0 = all well-formed). */
int et_nattr_read(const ChakraProtoMsg__Node *n, et_nattr *out /* OUT */,
                  et_problem_fn report, void *ctx);

/* Reads a scalar integer or bool attribute as sign and magnitude: returns
 * 0, or -1 if the attribute holds no integer (string, float, list, unset). */
int et_attr_int(const ChakraProtoMsg__AttributeProto *a, int *neg /* OUT */,
                uint64_t *mag /* OUT */);

/* Entry i of an integer list attribute (any integer kind), 0 if negative;
 * for the lists et_nattr_read has checked (kernel_flops, kernel_bytes). */
uint64_t et_attr_list_u64(const ChakraProtoMsg__AttributeProto *a, size_t i);

/* Entries of an integer list attribute (any integer list kind), or -1
 * when it is not one (a bool_list is not); entry i as sign and magnitude. */
long et_attr_list_len(const ChakraProtoMsg__AttributeProto *a);
void et_attr_list_int(const ChakraProtoMsg__AttributeProto *a, size_t i, int *neg /* OUT */,
                      uint64_t *mag /* OUT */);

/* The name of the attribute's value field ("int64_val", "string_val",
 * ...), or "no value" when the oneof is unset. */
const char *et_attr_kind(const ChakraProtoMsg__AttributeProto *a);

#endif
