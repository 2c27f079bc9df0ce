/*
 * wl_emit.h: writing generated Chakra traces, node by node, and placing
 * identical rank files as hard links.
 *
 * A wl_trace streams nodes through traces/et_io's writer (which writes to
 * a temporary name and renames on close): node ids are handed out from 1
 * upward in file order, dependencies are data_deps on earlier ids (and,
 * with streams on, a ctrl_dep on the stream's previous node), so a trace
 * is written in one pass and never held in memory.  The first write
 * error sticks; every later call is a no-op and wl_trace_close() reports it.
 *
 * Attribute kinds written: num_ops int64, tensor_size uint64, comm_type
 * int64, comm_size int64, comm_src/comm_dst/comm_tag int32, pg_name string
 * (the kinds ASTRA-sim's own generators use, CHAKRA.md); a fused node adds
 * kernel_flops and kernel_bytes as uint64_list, and wl_trace_pg_streams()
 * a `stream` int64 on collectives and sends (loom's own; other readers
 * ignore attributes they do not know).  Kernel shapes (traces/et_shape.h):
 * kernel_class string, gemm_m/gemm_n/gemm_k/gemm_batch uint64, dtype_bytes
 * and causal int64 on a plain node; kernel_shape uint64_list on a fused one;
 * comm_sms int64 on a plain node or a collective (wl_coll_sms).
 *
 * Ownership: wl_trace_open() returns a trace freed by wl_trace_close()
 * (or wl_trace_abort()).
 */
#ifndef LOOM_WL_EMIT_H
#define LOOM_WL_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kshape.h"
#include "outfile.h" /* the output set every generator writes through */

#define WL_VERSION "0.0.4" /* GlobalMetadata.version written (Chakra schema) */

typedef struct wl_trace wl_trace;

wl_trace *wl_trace_open(const char *path, loom_err *err);
int wl_trace_close(wl_trace *t, loom_err *err); /* renames into place; frees t */
void wl_trace_abort(wl_trace *t);               /* removes the temporary; frees t */
uint64_t wl_trace_nodes(const wl_trace *t);     /* nodes written so far */

#define WL_MAX_STREAMS 16 /* distinct pg names one trace's streams may name */
/* on: every later collective and send carries loom's `stream` attribute,
 * one stream per pg_name (1 + its first-seen index), so replay runs
 * communicators on their own lanes, side by side (docs/MODEL.md 12), each
 * in the order written (a ctrl_dep on the stream's previous node, as a CUDA
 * stream runs its work in order: the caller writes in the host's order). */
void wl_trace_pg_streams(wl_trace *t, int on);

/* Each returns the new node's id (0 after an error).  deps lists earlier
 * ids; a 0 entry is skipped, so callers can pass "no previous node" as 0. */
uint64_t wl_comp(wl_trace *t, const char *name, uint64_t flops, uint64_t bytes,
                 uint64_t duration_us, const uint64_t *deps, int ndeps);
/* A compute node with its kernel's shape (s may be NULL: wl_comp). */
uint64_t wl_comp_shaped(wl_trace *t, const char *name, uint64_t flops, uint64_t bytes,
                        uint64_t duration_us, const loom_kshape *s, const uint64_t *deps,
                        int ndeps);
/* A fused compute node: several kernels in one node.  num_ops and
 * tensor_size are the sums, duration_us the sum of their times on the
 * generating device (for readers that only know durations), and the
 * kernels themselves go in kernel_flops / kernel_bytes (uint64 lists; kwork
 * holds nkern (FLOPs, bytes) pairs) so loom prices each at replay;
 * shapes (NULL: none) holds their nkern shapes, written as kernel_shape. */
uint64_t wl_comp_fused(wl_trace *t, const char *name, uint64_t flops, uint64_t bytes,
                       uint64_t duration_us, const uint64_t *kwork, uint32_t nkern,
                       const loom_kshape *shapes, const uint64_t *deps, int ndeps);
/* A compute node with a duration and no num_ops/tensor_size (the roofline
 * model then keeps its duration). */
uint64_t wl_comp_dur(wl_trace *t, const char *name, uint64_t duration_us, const uint64_t *deps,
                     int ndeps);
uint64_t wl_coll(wl_trace *t, const char *name, int comm_type, uint64_t bytes, const char *pg,
                 const uint64_t *deps, int ndeps);
/* A collective with loom's comm_sms attribute: the SMs its kernel holds
 * in flight (sms >= 0; -1 writes none: the system's comm-sms). */
uint64_t wl_coll_sms(wl_trace *t, const char *name, int comm_type, uint64_t bytes,
                     const char *pg, int sms, const uint64_t *deps, int ndeps);
/* pg may be NULL: peers are then global ranks. */
uint64_t wl_send(wl_trace *t, const char *name, int dst, int tag, uint64_t bytes, const char *pg,
                 const uint64_t *deps, int ndeps);
uint64_t wl_recv(wl_trace *t, const char *name, int src, int tag, uint64_t bytes, const char *pg,
                 const uint64_t *deps, int ndeps);

/* Makes dst the same file as src: a hard link (through a temporary name
 * and rename, so dst is replaced atomically), or a copy when the file
 * system refuses links (EXDEV, EPERM, EMLINK, ENOTSUP...).  *copied
 * (may be NULL) is set to 1 when it copied. */
int wl_link_or_copy(const char *src, const char *dst, int *copied, loom_err *err);

/* "<prefix>.<rank>.et" into out; -1 if it does not fit. */
int wl_rank_path(const char *prefix, int rank, char *out, size_t n);

/* Creates the folder of "DIR/prefix" (one level, like mkdir) if missing;
 * *made (may be NULL) is set to 1 when it did, for wl_unprepare_prefix. */
int wl_prepare_prefix(const char *prefix, int *made /* OUT */, loom_err *err);
/* After a failed generation: removes the folder wl_prepare_prefix made
 * (rmdir: only while empty). */
void wl_unprepare_prefix(const char *prefix);

/* Parses a byte count: an integer with an optional unit, B, KB/MB/GB/TB
 * (10^3 steps), KiB/MiB/GiB/TiB (2^10 steps), or K/M/G/T (taken as the
 * binary ones, as ASTRA-sim's file names use them); "1.5GiB" is accepted
 * when the result is a whole number of bytes.  Fails on anything else and
 * on values above INT64_MAX (comm_size is an int64 attribute). */
int wl_parse_size(const char *s, uint64_t *out /* OUT */);


#endif
