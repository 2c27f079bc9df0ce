/*
 * replay_int.h: private to core/sim's replay: the run's state and the seams
 * between replay.c (the per-rank scheduler and the run), replay_graph.c
 * (each distinct trace file made ready to replay: id order, resources,
 * checks), comms.c (communicators: pg names and comm groups resolved,
 * members checked) and replay_stuck.c (the report of a stuck run).
 * Loading the rank files and sharing identical ones is traces/et_set.c.
 *
 * Invariants:
 * - a node's state only moves forward: WAIT -> READY -> ISSUED -> DONE;
 * - a resource holds at most one ISSUED node; cur[res] names it;
 * - a collective instance is freed only after every member has joined and
 *   its completion event has run;
 * - bucket accounting: acc[mask] grows by (now - last) whenever the set of
 *   busy activities (mask) of a rank changes, so the buckets sum to finish.
 *
 * Nothing outside these files includes this header.
 */
#ifndef LOOM_REPLAY_INT_H
#define LOOM_REPLAY_INT_H

#include "engine.h"
#include "et_graph.h"
#include "et_set.h"
#include "replay.h"

enum { RES_COMPUTE = LOOM_RES_COMPUTE, RES_CPU = LOOM_RES_CPU, RES_COMM = LOOM_RES_COMM,
       RES_MEM = LOOM_RES_MEM, RES_N, RES_NONE = LOOM_RES_NONE };
enum { ST_WAIT, ST_READY, ST_ISSUED, ST_DONE };
/* activity bits for accounting */
enum { A_COMPUTE = 1, A_CPU = 2, A_COMM = 4, A_MEM = 8, A_N = 16 };

/* Ready nodes of one resource, keyed by their position in id order
 * (graph_info.pos).  Nodes usually become ready in increasing id order, so
 * keys that arrive in order go to a FIFO (O(1), one cache line per pop);
 * a key smaller than the FIFO's last goes to a binary heap beside it.  A pop
 * takes the smaller of the two heads. */
typedef struct idq {
    uint32_t *fifo;              /* fifo[head..tail): ascending keys */
    uint32_t head, tail, fcap;   /* FIFO bounds and capacity */
    uint32_t *heap;              /* out-of-order keys, a min-heap */
    uint32_t hn, hcap;           /* heap entries and capacity */
} idq;

typedef struct graph_info {  /* per distinct trace file */
    et_graph *g;            /* the parsed graph, shared by ranks */
    int *comm_of_pg;        /* pg index -> communicator index; -1 unused;
                             * COMM_RULE(g): rule group g, resolved per rank */
    int *p2p_rule;          /* pg index -> rule group whose index a send/recv's
                             * peer is, or -1 (peer is a global rank) */
    int has_rules;          /* some collective's pg is a rule group */
    uint8_t *res;           /* per node: RES_* or RES_NONE */
    uint64_t host_colls;    /* host-side collective nodes run on the CPU */
    uint32_t *pos;          /* node index -> its position in id order */
    uint32_t *at;           /* position in id order -> node index */
} graph_info;

typedef struct rank_state {
    graph_info *gi;          /* its graph */
    uint32_t *pending;       /* per node: unmet dependencies */
    uint8_t *state;          /* per node: ST_* */
    idq ready[RES_N];        /* ready nodes per resource */
    int64_t cur[RES_N];      /* node in flight per resource, -1 if free */
    uint64_t left;           /* nodes not done */
    uint32_t *seq;           /* per communicator: collectives issued */
    uint32_t recvs;          /* receives posted, not done */
    unsigned mask;           /* busy activities now (A_*) */
    sim_time last;           /* when mask last changed */
    sim_time acc[A_N];       /* time spent per activity mask */
    sim_time finish;         /* last completion */
    uint64_t done;           /* nodes completed */
    long comm_rec;           /* collective record its comm resource holds, or -1 */
    int *comm;               /* per pg: communicator, when the graph has rule
                              * groups (else gi->comm_of_pg serves) */
    sim_time *t0;            /* per node: start time (only with an observer) */
} rank_state;

typedef struct coll_inst {
    int comm;            /* communicator index */
    uint64_t seq;        /* sequence number on it */
    int type;            /* ET_* collective type */
    uint64_t bytes;      /* comm_size x --comm-scale: what the network moves */
    uint64_t trace_bytes;/* comm_size as the first member's trace gives it */
    uint32_t dims;       /* involved dimensions */
    int first_rank;      /* who issued it first (for mismatch messages) */
    uint64_t first_id;   /* that rank's node id */
    int joined;          /* members issued so far */
    sim_time first_join; /* time of the first join */
    uint32_t *node;      /* per member index: node index, UINT32_MAX if not yet */
    long rec;            /* its record in loom_result.colls */
    struct replay *rp;   /* for the network's completion callback */
} coll_inst;

typedef struct comm {
    char *name;          /* "" for all ranks */
    int *ranks;          /* members, ascending */
    int n;               /* members */
    net_group *ng;       /* its mapping onto the topology */
    coll_inst **q;       /* open instances: q[i] has seq base+i */
    uint64_t base;       /* seq of q[0] */
    size_t nq, capq;     /* entries, capacity */
} comm;

struct p2p_entry;

typedef struct replay replay;
struct replay {
    const loom_cfg *cfg;       /* the run's configuration */
    net_model *net;            /* the network model */
    sim_engine *eng;           /* the clock and event queue */
    int nranks;                /* ranks simulated: the network's NPUs */
    rank_state *r;             /* per rank */
    et_set *set;               /* the rank files' graphs, owned */
    graph_info *graphs;        /* per distinct graph (et_set index) */
    int ngraphs;               /* entries in graphs */
    comm *comms;               /* communicators; 0 is all ranks */
    int ncomms;                /* entries in comms */
    struct p2p_entry *p2p;     /* uthash table of sends and receives */
    loom_result *res;          /* what the run fills */
    size_t capcolls;           /* records allocated in res->colls */
    loom_err *err;             /* where a failure during the run goes */
    int failed;                /* stop issuing: err is set */
    uint64_t fallbacks;        /* roofline fall-backs */
    uint64_t messages;         /* p2p completed */
    uint32_t ignored_dims;     /* involved_dim entries past the topology */
    const loom_observer *obs;  /* callbacks, or NULL */
    sim_time *rmem_free;       /* remote memory: when each FIFO channel (a node's, or
                                  the pool's) is next free; NULL for NONE and PER_NPU */
};

/* comm_of_pg entries below -1 name a rule group resolved per rank */
#define COMM_RULE(g) (-2 - (g))
#define RULE_OF(ci) (-2 - (ci))

static inline int comm_of(const rank_state *rs, uint32_t pg)
{
    return rs->comm ? rs->comm[pg] : rs->gi->comm_of_pg[pg];
}


/* A member's index in a communicator, or -1.  O(log members). */
static inline int rpl_member_index(const comm *c, int rank)
{
    if (c->n == 0)
        return -1;
    int lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c->ranks[mid] == rank)
            return mid;
        if (c->ranks[mid] < rank)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* ---- comms.c -------------------------------------------------------------------- */

/* Marks a retired slot in comm.q: every member joined. */
extern coll_inst rpl_inst_done;

/* A new communicator of the given members; its index, or -1 (err set). */
int rpl_add_comm(replay *rp, const char *name, const int *ranks, int n);
/* The pg -> communicator and pg -> rule tables of a graph, before its
 * nodes are read: rule groups named by pg_name, all else unresolved. */
void rpl_pg_tables(replay *rp, graph_info *gi);
/* The communicator of collective node n's pg_name, created on first use. */
int rpl_resolve_pg(replay *rp, graph_info *gi, const et_gnode *n, loom_err *err);
/* Rule groups: each rank's own communicator of the role. */
int rpl_resolve_rules(replay *rp, loom_err *err);
/* Every rank is a member of the communicators its collectives use. */
int rpl_check_membership(replay *rp, loom_err *err);
void rpl_comms_free(replay *rp);

/* ---- replay_graph.c ----------------------------------------------------------- */

/* et_set's on_graph: makes graph idx ready to replay (ctx is the replay). */
int rpl_graph_ready(void *ctx, et_graph *g, int idx, int rep, loom_err *err);
void rpl_graphs_free(replay *rp);

/* ---- replay_stuck.c ----------------------------------------------------------- */

/* Fills rp->err (LOOM_ESIM) with the waiting nodes of up to max_ranks
 * stuck ranks: which collective waits for whom, which receive has no send,
 * how many nodes wait on dependencies that never complete. */
void rpl_describe_stuck(replay *rp, int max_ranks);

/* For a receive (node i of rank) with no matching send: when its source
 * sent a message with its tag but another size, "; rank S sent N bytes
 * with that tag ..." into buf and 1; else "" and 0 (replay.c). */
int rpl_recv_hint(replay *rp, int rank, uint32_t i, char *buf, size_t cap);

#endif
