/*
 * config.h: loading what a run needs from files and --set overrides.
 *
 * Files are YAML, read with libyaml; ASTRA-sim's JSON system and
 * comm-group files load through the same parser (YAML is a superset of
 * JSON).  One key table per file kind drives both the file and --set, so
 * an unknown key, a wrong type or a value out of range is an error naming
 * the file (or "--set"), the key and the allowed range.
 *
 * Units: ASTRA-sim's network "GB/s" is 2^30 bytes/s and its latency is ns;
 * its system "local-mem-bw" is 10^9 bytes/s, "peak-perf" 10^12 FLOP/s and
 * "endpoint-delay" ns.  Everything is converted to bytes/s, FLOP/s and ps
 * here, so no layer below knows about GB.
 *
 * Ownership: loom_cfg_load() fills a loom_cfg that the caller releases
 * with loom_cfg_free().
 */
#ifndef LOOM_CONFIG_H
#define LOOM_CONFIG_H

#include "comp.h"
#include "err.h"
#include "net.h"

/* A communicator from the comm-group file: a list of ranks, or a rule
 * {stride: S, size: N} that gives every rank r its own group of the role,
 *     base(r) = r - ((r / S) mod N) * S,  members base + k S, k < N
 * (docs/WORKLOADS.md: how `loom gen llm --groups role` names groups). */
typedef struct loom_group {
    char *name;   /* the comm-group file's key, e.g. "1" or "tp" */
    int *ranks;   /* ascending, distinct; NULL for a rule */
    int n;        /* members (a rule: N) */
    int stride;   /* a rule's S; 0 for a list */
} loom_group;

/* A rule group's lowest member for rank r. */
static inline int loom_group_base(const loom_group *g, int r)
{
    return r - ((r / g->stride) % g->n) * g->stride;
}

/* ASTRA-sim's remote memory (--remote-memory-configuration), as its
 * AnalyticalRemoteMemory reads it.  Memory load/store nodes cost
 *     latency + floor(bytes / (bw * 10^9 B/s) * 10^9) ns
 * (get_remote_mem_runtime); NONE prices them with local-mem-bw instead,
 * PER_NPU gives every access its own channel, PER_NODE one FIFO channel per
 * node of npus_per_node ranks, POOL one FIFO channel for every rank. */
typedef enum {
    LOOM_RMEM_NONE,     /* NO_MEMORY_EXPANSION, or no file */
    LOOM_RMEM_PER_NODE, /* PER_NODE_MEMORY_EXPANSION */
    LOOM_RMEM_PER_NPU,  /* PER_NPU_MEMORY_EXPANSION */
    LOOM_RMEM_POOL,     /* MEMORY_POOL */
    LOOM_RMEM_KINDS
} loom_rmem_kind;

typedef struct loom_rmem {
    loom_rmem_kind kind;
    long long latency_ns;  /* remote-mem-latency: ns, an integer */
    long long bw_gbps;     /* remote-mem-bw: 10^9 bytes/s, an integer */
    int num_nodes;         /* PER_NODE: num-nodes */
    int npus_per_node;     /* PER_NODE: num-npus-per-node */
    char *path;            /* the file, for messages; owned, or NULL */
} loom_rmem;

extern const char *const loom_rmem_names[LOOM_RMEM_KINDS]; /* ASTRA-sim's spellings */

/* The time of one access of `bytes` (a kind other than NONE). */
sim_time loom_rmem_time(const loom_rmem *m, uint64_t bytes);

enum { LOOM_STACK_HOST, LOOM_STACK_OVERHEAD, LOOM_STACK_TIMES }; /* loom_cfg.stack_time */

typedef struct loom_cfg {
    net_topo topo;          /* from the network file */
    net_sys sys;            /* collective settings from the system file */
    comp_cfg comp;          /* compute model from the system file */
    int ctrl_deps;          /* 1: ctrl_deps gate readiness (default) */
    int strict_deps;        /* --strict: refuse cycles closed by ctrl_deps
                               (default: drop those edges, with a warning) */
    sim_time host_launch;   /* host-launch-us in ps: the host's time per GPU launch
                               (core/sim/replay_host.c); 0: the host is not modelled */
    sim_time step_overhead; /* step-overhead-us in ps: time each rank spends after its
                               last node, outside the trace (a stack profile's
                               fitted per-step cost); 0: none */
    /* the times a stack profile may give (host-launch-us, step-overhead-us:
     * LOOM_STACK_*), which the system file's own override: the profile's
     * values (ps, 0: none) and whether the file gave its own */
    sim_time stack_time[LOOM_STACK_TIMES];
    uint8_t time_set[LOOM_STACK_TIMES];
    double stack_scale;     /* the system file's stack profile: accelerator kernel
                               times x this (0: no profile); with compute_scale */
    char *stack_name;       /* its name, or NULL */
    int comm_sms;           /* comm-sms: SMs a GPU collective holds while in flight
                               (its kernel's CTAs, one per NCCL channel), which GEMM and
                               attention kernels beside it lose (core/sim/replay_sms.c);
                               a collective's comm_sms attribute overrides; 0: none */
    int comm_captured;      /* comm-model: captured: collectives and messages take
                               their traced durations (docs/IMPORT.md) */
    loom_group *groups;     /* from the comm-group file, in file order */
    int ngroups;            /* entries in groups */
    char **notes;           /* settings accepted but not modelled */
    int nnotes;             /* entries in notes */
    comp_cfg *rank_comp;    /* per-rank compute models (rank-devices, straggler), nrank_comp
                               entries; NULL when every rank uses comp */
    int nrank_comp;         /* entries in rank_comp: the network's rank count */
    comp_table *comp_table; /* compute-table, owned; comp.table points at it */
    int impl_n[NET_IMPL_OPS];        /* names in each *-implementation list (0: key
                                        absent); for ASTRA-sim's log (report_astra.c) */
    unsigned impl_one[NET_IMPL_OPS]; /* bit d: dimension d's name starts with "one"
                                        (oneRing, oneDirect, oneHalvingDoubling) */
    double compute_scale;   /* --compute-scale: compute node times x this; 0 or 1: none */
    double comm_scale;      /* --comm-scale: collective and send sizes x this; 0 or 1: none */
    int timing_set;         /* the system file named `timing` (sys.astra_timing) */
    loom_rmem rmem;         /* the remote-memory file; kind NONE without one */
    net_cplan *custom[NET_IMPL_OPS]; /* *-implementation-custom plans, owned; NULL: none */
} loom_cfg;

/* The compute model of one rank: its entry in rank_comp, or comp. */
static inline const comp_cfg *loom_cfg_comp(const loom_cfg *cfg, int rank)
{
    return cfg->rank_comp ? &cfg->rank_comp[rank] : &cfg->comp;
}

typedef struct loom_cfg_files {
    const char *network;     /* ASTRA-sim network YAML or ns-3 config (required
                                unless htsim_topo) */
    const char *system;      /* ASTRA-sim system JSON/YAML (required) */
    const char *comm_group;  /* comm-group JSON, or NULL */
    const char *remote_mem;  /* remote-memory JSON, or NULL */
    const char *const *sets; /* "section.key[i]=value" overrides */
    int nsets;               /* entries in sets */
    const char *logical;     /* ns-3's --logical-topology-configuration JSON, or NULL */
    const char *htsim_topo;  /* htsim's --htsim_opts -topo FILE, or NULL: the fabric */
} loom_cfg_files;

int loom_cfg_load(loom_cfg *cfg, const loom_cfg_files *files, loom_err *err);
void loom_cfg_free(loom_cfg *cfg);

/* Adds `text` to the settings accepted but not modelled (the report's
 * note line); for command-line flags, after loom_cfg_load(). */
void loom_cfg_add_note(loom_cfg *cfg, const char *text);

/* Checks a stack profile (a name or a file, as the system key `stack`
 * takes it, files relative to the working directory): 0, or an error
 * naming the profile.  For `gen llm --stack`, before anything is written. */
int loom_stack_check(const char *value, loom_err *err);
/* Leaves the system file's stack profile out of a loaded configuration:
 * its scale and the times it gave (the file's own times stay). */
void loom_cfg_drop_stack(loom_cfg *cfg);
/* 1 when the system key `stack` takes value as a file, 0 as a shipped name
 * (config_stack.c's one rule). */
int loom_stack_is_file(const char *value);

/* The group named `name`, or NULL. */
const loom_group *loom_cfg_group(const loom_cfg *cfg, const char *name);

#endif
