/*
 * et_graph.h: one rank's Chakra trace as a compact, read-only graph.
 *
 * This is what replay consumes: no protobuf types cross this header.
 * Nodes are stored in file order in one array; dependencies are resolved
 * from node ids to array indices, and successor lists (the reverse edges)
 * are built so replay can release dependents in O(out-degree).
 * A dependency on an id absent from the file is dropped and counted
 * (dangling_deps), as CHAKRA.md asks; the loader warns once per file.
 *
 * A fused compute node (attributes kernel_flops and kernel_bytes, written by
 * `loom gen llm --granularity layer`) keeps its kernels' work in kwork, so
 * the compute model prices each kernel at replay.
 *
 * Kernel shapes (traces/et_shape.h: kernel_class, gemm_m/n/k/batch,
 * dtype_bytes, causal; a fused node's kernel_shape) go to the kshape arena
 * for the `kernel` compute model: a plain node's one shape, or a fused
 * node's nkern shapes in kwork's order.
 *
 * Ranks whose files are the same share one et_graph (traces/et_set.h
 * finds them); replay keeps its own counters.
 *
 * Ownership: et_graph_load() returns a graph the caller frees with
 * et_graph_free(); every pointer inside lives and dies with it.
 */
#ifndef LOOM_ET_GRAPH_H
#define LOOM_ET_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "err.h"
#include "kshape.h"

/* Chakra NodeType values (CHAKRA.md). */
enum {
    ET_INVALID_NODE = 0,
    ET_METADATA_NODE = 1,
    ET_MEM_LOAD_NODE = 2,
    ET_MEM_STORE_NODE = 3,
    ET_COMP_NODE = 4,
    ET_COMM_SEND_NODE = 5,
    ET_COMM_RECV_NODE = 6,
    ET_COMM_COLL_NODE = 7,
    ET_NODE_TYPES = 8,
};

/* Chakra CollectiveCommType values. */
enum {
    ET_ALL_REDUCE = 0,
    ET_REDUCE = 1,
    ET_ALL_GATHER = 2,
    ET_GATHER = 3,
    ET_SCATTER = 4,
    ET_BROADCAST = 5,
    ET_ALL_TO_ALL = 6,
    ET_REDUCE_SCATTER = 7,
    ET_REDUCE_SCATTER_BLOCK = 8,
    ET_BARRIER = 9,
    ET_COLL_TYPES = 10,
};

/* et_gnode.flags */
enum {
    ET_F_CPU = 1u << 0,       /* is_cpu_op true */
    ET_F_HAS_SRC = 1u << 1,   /* comm_src present */
    ET_F_HAS_DST = 1u << 2,   /* comm_dst present */
    ET_F_HAS_TAG = 1u << 3,   /* comm_tag present */
    ET_F_HAS_CTYPE = 1u << 4, /* comm_type present */
    ET_F_HAS_OPS = 1u << 5,   /* num_ops present */
    ET_F_HAS_TSIZE = 1u << 6, /* tensor_size present */
    ET_F_HAS_CSIZE = 1u << 7, /* comm_size present */
};

/* et_gnode.xflags: loom's own attributes */
enum {
    ET_X_DELAY = 1u << 0,      /* is_delay true: waits its duration on no resource */
    ET_X_HAS_DNS = 1u << 1,    /* duration_ns present */
    ET_X_HAS_CSMS = 1u << 2,   /* a collective's comm_sms present (et_gnode.csms) */
};

#define ET_MAX_STREAMS 65535    /* distinct stream values in one file */
#define ET_DIMS_ALL 0xffffffffu /* involved_dim absent: every dimension */
#define ET_MAX_KERNELS 65535    /* kernels one fused compute node may carry */

typedef struct et_gnode {
    uint64_t id;          /* Node.id as in the file */
    uint64_t duration_ns; /* attr duration_ns, else duration_micros x 1000
                           * (saturating at UINT64_MAX) */
    uint64_t num_ops;     /* attr num_ops (FLOPs), 0 if absent */
    uint64_t tensor_size; /* attr tensor_size (bytes), 0 if absent */
    uint64_t comm_size;   /* attr comm_size (bytes), 0 if absent */
    uint32_t dep;         /* index into et_graph.deps of the first dependency */
    uint32_t ndata;       /* deps[dep .. dep+ndata) are data deps */
    uint32_t nctrl;       /* then nctrl ctrl deps (dangling ones dropped) */
    uint32_t succ;        /* index into et_graph.succ of the first successor */
    uint32_t nsucc_data;  /* succ[succ .. +nsucc_data) depend on it as data */
    uint32_t nsucc_ctrl;  /* then nsucc_ctrl that depend on it as ctrl */
    uint32_t name;        /* offset of its NUL-terminated name in names */
    uint32_t pg;          /* index into et_graph.pg_names; 0 is "" */
    uint32_t involved_dim;/* bit d set: dimension d involved; ET_DIMS_ALL */
    union {
        struct {
            int32_t comm_src; /* attr comm_src (valid if ET_F_HAS_SRC) */
            int32_t comm_dst; /* attr comm_dst (valid if ET_F_HAS_DST) */
        };
        struct {              /* a compute node (comm_src/dst are not kept): */
            uint32_t kern;    /* its first kernel in et_graph.kwork */
            uint32_t nkern;   /* its kernels; 0: not fused */
        };
    };
    int32_t comm_tag;     /* attr comm_tag (valid if ET_F_HAS_TAG) */
    int32_t comm_priority;/* attr comm_priority, 0 if absent */
    uint8_t type;         /* ET_*_NODE */
    uint8_t comm_type;    /* ET_ALL_REDUCE..ET_BARRIER if ET_F_HAS_CTYPE */
    uint8_t flags;        /* ET_F_* */
    uint8_t involved_n;   /* entries in involved_dim list; 0 if absent */
    uint8_t xflags;       /* ET_X_* */
    uint8_t csms;         /* a collective's comm_sms (ET_X_HAS_CSMS): SMs it holds */
    uint16_t stream;      /* 1 + index into et_graph.streams; 0: no stream attr */
    /* ---- kernel shapes (issue 11, the kernel model) ---- */
    uint32_t shape;       /* 1 + index into et_graph.kshape of its (first
                           * kernel's) shape; 0: no shape */
    /* ---- end kernel shapes ---- */
} et_gnode;

typedef struct et_graph {
    char *path;             /* file it was read from */
    int has_metadata;       /* 0: legacy layout without GlobalMetadata */
    char *version;          /* GlobalMetadata.version, "" if none */
    size_t n;               /* nodes */
    et_gnode *nodes;        /* n nodes in file order */
    uint32_t *deps;         /* dependency node indices */
    uint32_t *succ;         /* successor node indices */
    char *names;            /* name arena */
    char **pg_names;        /* distinct pg_name values; [0] is "" */
    uint32_t npg;           /* entries in pg_names */
    uint64_t *kwork;        /* fused kernels: (FLOPs, bytes) pairs, 2 x nkwork */
    size_t nkwork;          /* kernels in kwork */
    int64_t *streams;       /* distinct `stream` attribute values, first-seen order */
    uint32_t nstreams;      /* entries in streams */
    loom_kshape *kshape;    /* kernel shapes (et_gnode.shape), nkshape of them */
    size_t nkshape;
    uint64_t dangling_deps; /* dependencies on ids absent from the file */
    uint64_t file_bytes;    /* bytes read (decompressed) */
    uint64_t digest;        /* et_digest (XXH3 64) of the decompressed bytes */
} et_graph;

/* Loads one trace file (.et or gzip, detected by magic).  Fails with
 * LOOM_ETRACE naming the file (and node id where one applies) on a missing,
 * truncated or malformed file, a duplicate node id, or an attribute of the
 * wrong kind (a string or float where a number is needed). */
et_graph *et_graph_load(const char *path, loom_err *err);
void et_graph_free(et_graph *g);

/* The node's name, "" if none. */
static inline const char *et_gnode_name(const et_graph *g, const et_gnode *n)
{
    return g->names + n->name;
}

/* Path of rank r's file for PREFIX: "<prefix>.<r>.et" if it exists, else
 * "<prefix>.<r>.et.gz" if that exists; returns 0 and the name in out.  A
 * name that is there but leads nowhere (a symlink loop, a dangling link)
 * counts as the rank's file, so opening it names the OS reason.
 * Else returns -1 (the .et name goes in out for messages); also -1 if the
 * name does not fit.  out must hold at least outsz bytes. */
int et_rank_path(const char *prefix, int rank, char *out, size_t outsz);

/* et_rank_path's choice and its stat in one go (one call per name tried,
 * not an existence check and then a stat): 0 with *st filled; -1 when
 * there is no such file (out as et_rank_path leaves it); 1 when the name
 * is there but stat fails (errno says why: a symlink loop, a dangling
 * link). */
int et_rank_stat(const char *prefix, int rank, char *out, size_t outsz, struct stat *st);

/* Number of consecutive rank files prefix.0.et, prefix.1.et, ... present
 * (from one listing of their folder where it can). */
int et_count_ranks(const char *prefix);

/* The prefix a user most likely meant by `given` when it names no rank
 * files: a rank file's own name ("X.3.et", "X.0.et.gz" -> "X"), or a
 * folder holding "S.0.et" (-> "FOLDER/S", the first S in name order when
 * there are several).  Returns 1 with the prefix in out (which holds
 * outsz bytes) when that prefix has rank files, else 0. */
int et_prefix_hint(const char *given, char *out, size_t outsz);

const char *et_node_type_name(int type);  /* "COMP_NODE", ...; "?" */
const char *et_coll_type_name(int ctype); /* "ALL_REDUCE", ...; "?" */

#endif
