/*
 * replay.h: run every rank's Chakra graph on the modeled system.
 *
 * Per DESIGN.md: each rank holds a dependency counter per node; a node is
 * ready when its data_deps (and ctrl_deps, unless cfg->ctrl_deps is 0) are
 * done.  Ready nodes issue in ascending id order onto per-rank resources:
 *   compute  COMP_NODE on the accelerator        one at a time
 *   cpu      COMP_NODE with is_cpu_op            one at a time
 *   comm     COMM_COLL_NODE, COMM_SEND_NODE      one at a time
 *   mem      MEM_LOAD_NODE, MEM_STORE_NODE       one at a time
 * COMM_RECV_NODE is posted at once (receives excepted), METADATA_NODE and
 * INVALID_NODE complete at once.  Collectives match across ranks by
 * (communicator, sequence number on that communicator); sends and receives
 * by (src, dst, tag, size) first in first out.
 *
 * Ownership: loom_replay() fills a loom_result that the caller releases
 * with loom_result_free().
 */
#ifndef LOOM_REPLAY_H
#define LOOM_REPLAY_H

#include "config.h"

typedef struct loom_rank_stats {
    sim_time finish;       /* completion of its last node */
    sim_time compute;      /* accelerator compute busy */
    sim_time comm;         /* communication in flight (incl. waiting for peers) */
    sim_time exposed_comm; /* communication while compute is idle */
    sim_time overlapped_comm; /* communication while compute is busy */
    sim_time cpu;          /* host CPU operations busy */
    sim_time mem;          /* memory loads/stores busy */
    sim_time idle;         /* nothing in flight, before finish */
    uint64_t nodes;        /* nodes completed */
} loom_rank_stats;

/* An algorithm label's longest (with its terminating 0). */
enum { LOOM_ALGO_LABEL_MAX = 48 };

/* One collective instance (88 bytes: a replay that does not collapse keeps
 * millions). */
typedef struct loom_coll_record {
    int type;           /* ET_ALL_REDUCE .. ET_BARRIER */
    int nranks;         /* members of its communicator */
    uint64_t bytes;     /* comm_size per rank */
    const char *group;  /* communicator name ("" = all ranks); owned by result */
    uint64_t seq;       /* its sequence number on that communicator */
    sim_time exposed;   /* mean over members of its time in flight while
                         * that member's compute was idle (waiting included) */
    sim_time first_join;/* first member issued it */
    sim_time start;     /* last member issued it: the transfer starts */
    sim_time end;       /* all members done */
    const char *algo;   /* algorithm label from the network model, one of the
                         * result's algos (each distinct label once) */
    uint64_t weight;    /* instances it stands for: 1, or with symmetry
                         * collapse the alike communicators' instances
                         * (docs/MODEL.md 13); counts and totals weigh it */
} loom_coll_record;

typedef struct loom_result {
    int nranks;               /* ranks simulated */
    sim_time step_time;       /* the latest finish over ranks */
    loom_rank_stats *ranks;   /* nranks entries */
    loom_coll_record *colls;  /* collectives in the order their first member issued them */
    size_t ncolls;            /* entries in colls */
    uint64_t p2p_messages;    /* send/recv pairs completed */
    uint64_t events;          /* engine events run */
    size_t queue_high;        /* most events pending at once */
    int distinct_graphs;      /* trace files parsed (identical files share) */
    uint64_t nodes;           /* nodes over all ranks */
    uint64_t roofline_fallbacks; /* compute nodes without num_ops under roofline */
    uint64_t host_launches;   /* with host-launch-us: GPU launches over all ranks */
    uint64_t host_waits;      /* ... of which a GPU operation waited for (host-bound) */
    int sms_timed;            /* collectives' SMs were charged (comm-sms, docs/MODEL.md 12) */
    sim_time sms_stretch;     /* ... the compute time they added, over all ranks */
    double wall_seconds;      /* time spent in setup + simulation */
    long peak_rss_bytes;      /* process high-water mark */
    char **groups;            /* communicator names, owned */
    int ngroups;              /* entries in groups */
    char **algos;             /* the records' algorithm labels, each once, owned */
    int nalgos;               /* entries in algos */
    net_link_stat links[10];  /* flow model: most congested links first */
    int nlinks;               /* entries in links (0 for analytical) */
    net_flow_totals flow;     /* flow model totals (zero for analytical) */
    int simulated_ranks;      /* ranks replayed: nranks, or the classes'
                               * representatives under symmetry collapse */
    int collapse_alone;       /* ranks put in classes of their own where
                               * symmetry broke */
    char collapse_off[160];   /* why every rank was replayed, or "" */
} loom_result;

/* Resources a node runs on (timeline threads). */
enum { LOOM_RES_COMPUTE, LOOM_RES_CPU, LOOM_RES_COMM, LOOM_RES_MEM, LOOM_RES_NONE };

struct et_graph;

/* Optional callbacks during a run; any may be NULL. */
typedef struct loom_observer {
    /* every node as it completes: it ran on `resource` from start to end;
     * coll is its record index in loom_result.colls, or -1 */
    void (*node)(void *ctx, int rank, const struct et_graph *g, uint32_t node, int resource,
                 sim_time start, sim_time end, long coll);
    void *node_ctx;
    /* about every 2^16 events: simulated time, events so far */
    void (*progress)(void *ctx, sim_time now, uint64_t events);
    void *progress_ctx;
} loom_observer;

enum { LOOM_COLLAPSE_OFF = 1, LOOM_COLLAPSE_INSTANCES = 2 };

typedef struct loom_replay_opts {
    const char *prefix;       /* workload: <prefix>.<rank>.et */
    int max_stuck;            /* stuck ranks listed in a deadlock message */
    const loom_observer *obs; /* or NULL */
    int no_collapse;          /* 0: alike ranks are replayed once (MODEL.md 13);
                               * LOOM_COLLAPSE_OFF (--no-collapse) or
                               * LOOM_COLLAPSE_INSTANCES (every instance is
                               * listed): every rank is replayed */
} loom_replay_opts;

/* Runs the workload.  On a stuck simulation (a collective some member never
 * issues, a receive without a send, a dependency cycle) returns LOOM_ESIM
 * with the waiting nodes of each stuck rank in err. */
int loom_replay(const loom_cfg *cfg, const loom_replay_opts *opts, loom_result *res,
                loom_err *err);
void loom_result_free(loom_result *res);

#endif
