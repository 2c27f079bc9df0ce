/*
 * pt_import.h: PyTorch captures to Chakra traces (`loom import pytorch`,
 * docs/IMPORT.md).
 *
 * Inputs, per rank: an execution trace (ET, ExecutionTraceObserver's
 * JSON), a Kineto trace (torch.profiler's JSON), or both from the same
 * process.  Files may be gzip-compressed (told by the magic bytes).
 *
 *   pt_kineto.c  streams a Kineto file through yajl (SAX callbacks): only
 *                the events kept are held, never the file's text
 *   pt_et.c      reads an ET through jansson (a tree: the files are small
 *                and a node's fields come in any order) and prices ops
 *   pt_build.c   Kineto events of one step -> replay nodes (host threads,
 *                streams, launches, cross-stream waits, collectives)
 *   pt_links.c   what events say of each other: launches, nesting, the
 *                host's time per launch (calibrate, the import's summary)
 *   pt_write.c   nodes -> PREFIX.<r>.et, PREFIX.system.yaml,
 *                PREFIX.comm.json, PREFIX.network.yaml, all through one
 *                output set (all land or none)
 *
 * What every written node carries (the contract with replay): a GPU op is
 * a COMP_NODE with attrs `stream` (int64) and `duration_ns` (uint64) and
 * duration_micros rounded; a host op is a COMP_NODE with is_cpu_op, its
 * thread id as `stream`, and `duration_ns`; a host gap is an `is_delay`
 * node; node 1 of every rank is `loom:start_offset`; collectives are
 * COMM_COLL_NODEs with comm_type, comm_size, pg_name, stream, duration_ns.
 */
#ifndef LOOM_PT_IMPORT_H
#define LOOM_PT_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kshape.h"

/* ---- strings: an intern table (index 0 is "") --------------------------- */

typedef struct pt_strs pt_strs;
pt_strs *pt_strs_new(void);
void pt_strs_free(pt_strs *s);
uint32_t pt_str(pt_strs *s, const char *p, size_t n); /* interns; returns its index */
const char *pt_str_get(const pt_strs *s, uint32_t i);

/* ---- input: a whole file or a stream, gzip or plain --------------------- */

/* Reads the whole (decompressed) file into *buf (NUL-terminated, caller
 * frees); errors name the file and the OS or zlib reason. */
int pt_read_all(const char *path, char **buf /* OUT */, size_t *len /* OUT */, loom_err *err);

/* ---- Kineto -------------------------------------------------------------- */

enum { PT_K_CPU = 1, PT_K_RT, PT_K_KERNEL, PT_K_MEMCPY, PT_K_MEMSET };

/* What a collective's events say about it (NCCL kernel args, a
 * record_param_comms op's args, or an nccl:* annotation's shapes). */
typedef struct pt_comm {
    uint32_t coll;      /* "Collective name" ("allreduce"), or 0 */
    uint32_t dtype;     /* "dtype" / "Input type" ("Float", "float"), or 0 */
    uint32_t pg;        /* "Process Group Name", or 0 */
    uint32_t pg_ranks;  /* "Process Group Ranks" ("[0, 1]"), or 0 */
    uint64_t in_nelems, out_nelems; /* 0 when unknown */
} pt_comm;

/* A host op's "Input Dims" (record_shapes=True): its first PT_DIMS_T
 * tensors' first PT_DIMS_D dimensions, and "Input type"'s first entry. */
enum { PT_DIMS_T = 4, PT_DIMS_D = 4 };
typedef struct pt_dims {
    int64_t d[PT_DIMS_T][PT_DIMS_D];
    uint8_t nd[PT_DIMS_T]; /* dimensions of each tensor (more than PT_DIMS_D: 255) */
    uint8_t nt;            /* tensors (at most PT_DIMS_T) */
    uint32_t dtype;        /* the first input's type ("float", "c10::BFloat16"), or 0 */
} pt_dims;

typedef struct pt_kev {
    int64_t ts, dur;    /* ns */
    int64_t tid;        /* host thread, or the GPU stream */
    int64_t pid;
    int64_t ext, corr, rfid; /* External id, correlation, Record function id; -1 absent */
    uint32_t name;
    int32_t comm;       /* index into comms, or -1 */
    int32_t dims;       /* a host op's shapes: index into dims, or -1 */
    uint8_t kind;       /* PT_K_* */
} pt_kev;

typedef struct pt_kineto {
    const char *path;
    pt_kev *ev;
    size_t nev, cap;
    pt_comm *comms;
    size_t ncomms, ccap;
    pt_dims *dims;      /* host ops' shapes (record_shapes) */
    size_t ndims, dcap;
    int rank;           /* distributedInfo.rank, -1 absent */
    int world;          /* distributedInfo.world_size, 0 absent */
    uint32_t device;    /* deviceProperties[0].name, 0 absent */
    uint64_t nflows;    /* ac2g flow events seen */
    uint64_t nevents;   /* trace events read */
    uint64_t bytes;     /* decompressed bytes parsed */
    int64_t base_ns;    /* baseTimeNanoseconds, 0 absent */
} pt_kineto;

/* Streams path into *k (zeroed first); strings go into strs. */
int pt_kineto_read(const char *path, pt_strs *strs, pt_kineto *k /* OUT */, loom_err *err);
void pt_kineto_free(pt_kineto *k);
/* The same, from a buffer (tests). */
int pt_kineto_parse(const char *path, const char *buf, size_t len, pt_strs *strs,
                    pt_kineto *k /* OUT */, loom_err *err);

/* pt_links.c: for every event, a GPU op's launching runtime call
 * (launch[i], -1 for other events or when its call is not in the file)
 * and, unless parent is NULL, a host event's (op or runtime call)
 * innermost enclosing op on its thread (parent[i], -1 none).  Both
 * arrays hold k->nev entries. */
void pt_kineto_links(const pt_kineto *k, int32_t *launch, int32_t *parent);

/* The host's time per GPU launch (docs/MODEL.md 12, "The host"): the
 * median interval between consecutive kernel launches of one host thread
 * where the GPU waited for the second (the previous kernel had ended by
 * the time the launch call returned, and the kernel started within 20 us
 * of it), over the whole file: in such a stretch the host's time per
 * launch is the interval.  `loom calibrate --kineto` writes it as a
 * profile's host-launch-us; `loom import pytorch` reports it. */
typedef struct pt_host_fit {
    size_t launches;  /* kernel launches whose kernel is in the file */
    size_t pairs;     /* intervals where the GPU waited */
    double median_us; /* their median, or -1 with fewer than 10 */
} pt_host_fit;
void pt_host_fit_of(const pt_kineto *k, const pt_strs *strs, pt_host_fit *out);

/* ---- replay nodes (what pt_write writes) -------------------------------- */

#define PT_NOSTREAM INT64_MIN

typedef struct pt_node {
    int64_t t0;          /* ordering key: captured start (ns), or sequence */
    int64_t stream;      /* attr stream, PT_NOSTREAM none */
    uint64_t dur_ns;
    uint64_t num_ops, tensor_size;
    uint64_t comm_size;
    uint32_t name, pg;   /* pg: the process group's name (0 = all ranks) */
    uint32_t pg_ranks;   /* the group's ranks as Kineto writes them ("[0, 1]"), 0 unknown */
    uint32_t *deps;      /* data deps: node indices */
    uint32_t nd, cd;
    int32_t ctrl;        /* ctrl dep node index, -1 none */
    int32_t src, dst, tag;
    uint8_t type;        /* ET_*_NODE */
    uint8_t cpu, delay, has_dur, priced, comm_type;
    /* a priced op's kernels (an execution trace's leaf ops): their FLOPs
     * and bytes at r->kw[2 kern ..], their shapes at r->ks[kern ..];
     * nkern 0: none (priced from num_ops and tensor_size alone) */
    uint32_t kern, nkern;
} pt_node;

typedef struct pt_rank {
    pt_node *n;
    size_t nn, cap;
    uint64_t *kw;             /* the nodes' kernels: (FLOPs, bytes) pairs */
    loom_kshape *ks;          /* and shapes */
    size_t nks, ckw, cks;     /* kernels; capacities */
    int64_t start_ns, end_ns; /* the step's captured start and end (ns, the file's clock) */
    int64_t host_end_ns;      /* the ProfilerStep span's end (or the window's) */
    int64_t busy_ns;          /* GPU-busy span: first GPU op start .. last end */
    int has_clock;            /* start_ns comes from a capture clock */
    uint64_t nops, nkernels, ncoll, np2p, nstreams, nsync, ndelay;
    int step;                 /* ProfilerStep# chosen, -1 none */
    uint32_t device;          /* Kineto device name, 0 unknown */
} pt_rank;

/* Appends a node; returns its index. */
uint32_t pt_add(pt_rank *r, const pt_node *n);
void pt_dep(pt_rank *r, uint32_t node, uint32_t dep); /* data dep (deduplicated) */
void pt_rank_free(pt_rank *r);

/* Collective type of an NCCL kernel or collective name, -1 unknown,
 * -2 point-to-point (SendRecv, send, recv). */
int pt_coll_type(const char *name);
/* Bytes of one element of a dtype name ("Float", "float", "c10::Half",
 * "Tensor(float)", ...), 0 unknown. */
int pt_dtype_bytes(const char *dtype);

/* Builds rank r's nodes from a Kineto trace: step -1 = the last complete
 * ProfilerStep (the GPU-busy span without any); strict refuses a trace
 * whose steps are all incomplete instead of taking the last. */
int pt_build_kineto(const pt_kineto *k, pt_strs *strs, int step, int strict,
                    pt_rank *r /* OUT */, loom_err *err);

/* ---- ET ------------------------------------------------------------------ */

typedef struct pt_et_info {
    const char *schema;   /* points into the parsed file; valid until pt_et_done */
    int64_t pid;
    uint64_t nodes;       /* ET nodes read */
    uint64_t ops;         /* top-level ops replayed */
    uint64_t gemm, membound, colls, linked;
    void *json;           /* the parsed document */
} pt_et_info;

/* Reads an ET; fills info (pid, schema) and, when r is non-NULL, builds
 * rank nodes priced from shapes. */
int pt_et_read(const char *path, pt_strs *strs, pt_rank *r, pt_et_info *info, loom_err *err);
/* Counts the ET ops whose rf_id names a Kineto op of the same name (by
 * Record function id, else External id): info->linked. */
void pt_et_link(pt_et_info *info, const pt_kineto *k, const pt_strs *strs);
void pt_et_done(pt_et_info *info);

/* ---- the whole import ---------------------------------------------------- */

typedef struct pt_import_opts {
    const char **et;      /* --et files, in order */
    int net;
    const char **kineto;  /* --kineto files, in order */
    int nkineto;
    const char *out;      /* PREFIX */
    int step;             /* --step, -1 none */
    const char *device;   /* --device, NULL none */
    int strict;           /* --strict: refuse what is otherwise repaired with a warning */
    int quiet;
} pt_import_opts;

/* Runs the import and prints its summary to stdout (unless quiet). */
int pt_import(const pt_import_opts *o, loom_err *err);

#endif
