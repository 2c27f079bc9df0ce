/*
 * et_set.h: a workload's trace set: the rank files PREFIX.<r>.et (or
 * PREFIX.<r>.et.gz) for ranks 0..nranks-1, loaded so that ranks whose files
 * are the same share one parsed et_graph.  Two files are the same when one
 * is a hard link of the other (same device and inode: how `loom gen` writes
 * identical ranks, shared without reading a byte), or when their bytes are
 * equal (an XXH3 digest and size, then a byte-by-byte compare, before
 * either is parsed): a 16,384-rank job with 8 distinct stage traces parses
 * 8 files.
 *
 * Knows files and graphs only, nothing of what replays them: a caller that
 * must check or index each graph does so in on_graph, which runs as each
 * distinct graph is parsed, before the next rank file is looked at, so the
 * first problem in rank order is the one reported.
 *
 * Ownership: et_set_load() returns a set freed by et_set_free(), which frees
 * every graph in it.
 */
#ifndef LOOM_ET_SET_H
#define LOOM_ET_SET_H

#include "err.h"
#include "et_graph.h"

typedef struct et_set et_set;

/* Called once per distinct graph, idx 0, 1, ... in the order of the first
 * rank (rep) that uses it; < 0 stops the load with that status (err set). */
typedef int (*et_set_graph_fn)(void *ctx, et_graph *g, int idx, int rep, loom_err *err);

typedef struct et_set_opts {
    const char *prefix;      /* PREFIX of PREFIX.<r>.et */
    int nranks;              /* ranks to load: 0 .. nranks-1 */
    const char *nranks_from; /* for messages: what has nranks NPUs, e.g. "the network" */
    et_set_graph_fn on_graph;/* or NULL */
    void *ctx;               /* for on_graph */
    int counted;             /* 1: the caller has run et_set_check_count on these
                                options, so et_set_load does not count again */
} et_set_opts;

/* The cheap check et_set_load() starts with: as many rank files as
 * nranks (counting names only, reading nothing).  Callers about to
 * allocate per-rank state for nranks run it first, so a 2^24-NPU network
 * with an 8-rank trace is refused before 2^24 of anything is allocated. */
int et_set_check_count(const et_set_opts *o, loom_err *err);

/* Loads the set into *out (NULL on failure).  Fails with LOOM_ETRACE on
 * more rank files than nranks, a missing or unreadable one, or one that
 * does not parse; with on_graph's status when that refuses a graph. */
int et_set_load(const et_set_opts *o, et_set **out /* OUT */, loom_err *err);
void et_set_free(et_set *s);

int et_set_ngraphs(const et_set *s);            /* distinct graphs parsed */
et_graph *et_set_graph(const et_set *s, int idx); /* graph idx, 0 .. ngraphs-1 */
int et_set_index(const et_set *s, int rank);    /* the graph index rank uses */

#endif
