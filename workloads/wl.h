/*
 * wl.h: trace generators (workloads/), the public side.
 *
 *   loom gen micro     one collective on every rank          wl_micro.c
 *   loom gen llm       Megatron-style LLM training step      wl_llm*.c
 *   loom trace convert-text  ASTRA-sim text workload         wl_text.c
 *
 * Generators write Chakra traces through traces/et_io (wl_emit.h) and
 * never simulate.  Every entry point returns 0 or a negative LOOM_E* code
 * with err filled.  Their command lines are core/cli/cmd_gen*.c.
 */
#ifndef LOOM_WL_H
#define LOOM_WL_H

#include <stdint.h>

#include "err.h"
#include "outfile.h"

/* ---- shared --------------------------------------------------------------- */

typedef struct wl_link_stats {
    uint64_t links;  /* rank files made as hard links */
    uint64_t copies; /* rank files copied (the file system refused a link) */
} wl_link_stats;

/* Makes rank r's file for r in (first, first+count) the same file as rank
 * first's: the temporaries of output k of set (loom_outset_add_ranks), put
 * into place with the rest at the set's commit. */
int wl_write_ranks_linked(loom_outset *set, int k, int first, int count, wl_link_stats *st,
                          loom_err *err);
/* The same for a list: ranks[1..n) made the same file as ranks[0]'s. */
int wl_link_ranks(loom_outset *set, int k, const int *ranks, int n, wl_link_stats *st,
                  loom_err *err);

/* "all_reduce" etc. to the Chakra CollectiveCommType; -1 if unknown. */
int wl_coll_parse(const char *s, int *type /* OUT */);

/* ---- gen micro ------------------------------------------------------------ */

typedef struct wl_micro_opts {
    int coll;              /* Chakra CollectiveCommType */
    uint64_t size;         /* comm_size, bytes per rank */
    int ranks;             /* rank files to write */
    const char *out;       /* DIR/prefix */
    const char *network_out; /* also write a one-dimension network YAML, or NULL */
    const char *system_out;  /* also write a system JSON, or NULL */
    const char *topology;  /* for network_out: Ring, Switch or FullyConnected */
    double bandwidth_gbs;  /* for network_out: GB/s (2^30) */
    double latency_ns;     /* for network_out: ns */
    int quiet;             /* no summary line */
} wl_micro_opts;

int wl_micro_write(const wl_micro_opts *o, loom_err *err);

/* ---- gen llm (wl_llm.h has the model and plan types) ---------------------- */

/* ---- trace convert-text --------------------------------------------------- */

typedef struct wl_text_opts {
    const char *in;     /* the text workload */
    int ranks;          /* NPUs */
    const char *out;    /* DIR/prefix */
    double time_scale;  /* compute times in the file * time_scale = microseconds */
    int passes;         /* training iterations to write (>= 1) */
    int quiet;
} wl_text_opts;

int wl_text_convert(const wl_text_opts *o, loom_err *err);

#endif
