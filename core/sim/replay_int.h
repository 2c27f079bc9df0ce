/*
 * replay_int.h: private to core/sim's replay: the run's state and the seams
 * between replay.c (the per-rank scheduler and the run), replay_graph.c
 * (each distinct trace file made ready to replay: id order, resources,
 * checks), comms.c (communicators: pg names and comm groups resolved,
 * members checked) and replay_stuck.c (the report of a stuck run).
 * replay_queue.h holds a lane's ready queue (inline, for replay.c).
 * Loading the rank files and sharing identical ones is traces/et_set.c.
 *
 * replay_setup.c allocates and frees the run's state.
 *
 * Invariants:
 * - a node's state only moves forward: WAIT -> READY -> ISSUED -> DONE;
 * - a lane holds at most one node; lanes[l].cur names it: ISSUED, or
 *   READY while it waits for its launch to end (replay_host.c, with
 *   host-launch-us), which lets nothing else onto the lane.  A lane
 *   is one resource of a rank: the default compute, CPU, communication
 *   and memory lanes (index = RES_*), plus one per (resource, `stream`
 *   attribute value) a trace uses, so nodes on different streams overlap;
 * - busy[res] counts the lanes of kind res whose node has started (a node
 *   waiting for its launch is idle time);
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

#include <stdio.h>
#include <stdlib.h>

/* Resources, numbered for the layout: the default lane of resource r is
 * lanes[r], and compute and communication, the two every step uses, share
 * a cache line (rank_state.lane0).  LOOM_RES_* (replay.h) is the public
 * numbering (observers): res_public(). */
enum { RES_COMPUTE, RES_COMM, RES_CPU, RES_MEM, RES_N, RES_NONE = LOOM_RES_NONE };
static inline int res_public(int res)
{
    static const int pub[RES_N] = {LOOM_RES_COMPUTE, LOOM_RES_COMM, LOOM_RES_CPU, LOOM_RES_MEM};
    return res == RES_NONE ? LOOM_RES_NONE : pub[res];
}
enum { ST_WAIT, ST_READY, ST_ISSUED, ST_DONE };
/* activity bits for accounting */
enum { A_COMPUTE = 1, A_CPU = 2, A_COMM = 4, A_MEM = 8, A_N = 16 };

/* Ready nodes of one lane, keyed by their index in the lane's id order
 * (graph_info.lidx).  Nodes usually become ready in the lane's order, one
 * after the other, so a lane's queue is first a run: every index in
 * [lane.rlo, lane.rhi) is queued, and such a push or pop touches no memory
 * but those two words (the node comes from the graph's shared lnode[], the
 * same line for every rank replaying the file).  A key that does not
 * extend the run goes to the lane's idq, allocated then: a FIFO when it is
 * larger than the FIFO's last, else a binary heap beside it.  A pop takes
 * the least of the three heads. */
typedef struct idq {
    uint32_t head, tail, fcap;   /* FIFO bounds and capacity */
    uint32_t hn, hcap;           /* heap entries and capacity */
    uint32_t last;               /* fifo[tail - 1] when the FIFO is not empty,
                                  * kept here so a push reads no FIFO memory */
    uint32_t *fifo;              /* fifo[head..tail): ascending keys */
    uint32_t *heap;              /* out-of-order keys, a min-heap */
} idq;

/* A node's state and unmet dependencies on one rank (PS, below). */
typedef uint16_t ps_word;

typedef struct graph_info {  /* per distinct trace file */
    et_graph *g;            /* the parsed graph, shared by ranks */
    int *comm_of_pg;        /* pg index -> communicator index; -1 unused;
                             * COMM_RULE(g): rule group g, resolved per rank */
    int *p2p_rule;          /* pg index -> rule group whose index a send/recv's
                             * peer is, or -1 (peer is a global rank) */
    int has_rules;          /* some collective's pg is a rule group */
    uint8_t *res;           /* per node: RES_* or RES_NONE */
    uint64_t *hlb;          /* per node: the rank's GPU launches before it in id
                             * order (replay_host.c); NULL: host not modelled (read
                             * by every issue: beside res, on a line issue reads) */
    uint64_t hl_total;      /* launches of the whole graph */
    uint16_t *lane;         /* per node: its lane; NULL when the file has no
                             * `stream` attribute (then the lane is res) */
    int nlanes;             /* lanes: RES_N defaults, then one per
                             * (resource, stream) pair in use */
    uint8_t *lane_res;      /* per lane: its RES_* kind */
    uint16_t *comm_lanes;   /* the lanes of kind RES_COMM */
    int ncomm_lanes;        /* entries in comm_lanes */
    uint64_t dropped_ctrl;  /* ctrl_deps dropped to break cycles */
    ps_word *ps_block;      /* the ps words of every rank replaying it */
    uint32_t *big;          /* per node: 1 + its row in big_block when it has
                             * more than PS_DIRECT_MAX dependencies, else 0
                             * (NULL: no such node) */
    uint32_t *big_block;    /* those nodes' counts, a row of nshare each */
    size_t nshare;          /* those ranks */
    uint64_t host_colls;    /* host-side collective nodes run on the CPU */
    uint32_t *pos;          /* node index -> its position in id order */
    uint32_t *at;           /* position in id order -> node index */
    uint32_t *lidx;         /* node index -> its index among its lane's nodes
                             * in id order (the ready queues' key) */
    uint32_t *lane_off;     /* per lane: where its nodes start in lnode */
    uint32_t *lnode;        /* lane_off[l] + lidx -> node index */
    sim_time *dur;          /* per compute node: its time once priced (-1
                             * before); NULL when ranks have their own compute
                             * models (stragglers, per-rank devices) */
    uint8_t *dur_fb;        /* per node: that pricing fell back (comp_time) */
    /* communication beside compute (replay_sms.c), when the run times it: */
    uint8_t *csms;          /* per node: SMs a GPU collective holds in flight (0
                             * for every other node) */
    uint16_t *comp_lanes;   /* the lanes of kind RES_COMPUTE, ncomp_lanes of them */
    int ncomp_lanes;
    sim_time *dur_h;        /* per compute node: its time beside dur_hk[i] held SMs
                             * (one entry; beside dur, NULL with it) */
    uint32_t *dur_hk;       /*   (0: none yet) */
} graph_info;

#define LANE_FREE UINT32_MAX
typedef struct lane {        /* 32 bytes: two to a cache line */
    uint32_t rlo, rhi;       /* the run of its ready nodes (empty: rlo == rhi) */
    uint32_t cur;            /* node in flight, LANE_FREE if none */
    uint32_t mult;           /* members that rank stands for in that collective
                              * (symmetry collapse; 1 without): its exposed
                              * time counts that many times */
    union {
        long rec;            /* a comm lane's collective record in flight, or -1 */
        sim_time due;        /* a compute lane's node timed beside collectives
                              * (replay_sms.c): when its live end event is */
    };
    idq *more;               /* ready nodes off the run; NULL until one is */
} lane;

/* Node i's lane in graph gi. */
static inline int lane_of(const graph_info *gi, uint32_t i)
{
    return gi->lane ? gi->lane[i] : gi->res[i];
}

/* A node's state and its unmet dependencies share one 16-bit word (one
 * cache line for both; a word a rank and node is a replay's largest state:
 * 1 GB on the 131,072-GPU step replayed rank by rank): ST_* in the top two
 * bits, the count below.  A node with more dependencies than the word counts
 * (PS_DIRECT_MAX) holds PS_BIG there and its count in its graph's
 * big_block, 32 bits a rank (rpl_big_release); such a node is rare, and
 * its first test is the only cost the others pay. */
#define PS_SHIFT 14
#define PS_BIG ((1u << PS_SHIFT) - 1)
#define PS_DIRECT_MAX (PS_BIG - 1)
#define PS_DEPS_MAX ((1u << 30) - 1) /* dependencies a node may have */
static inline unsigned ps_state(ps_word w) { return (unsigned)w >> PS_SHIFT; }
static inline unsigned ps_pend(ps_word w) { return w & PS_BIG; }
#define PS(rs, i) (&(rs)->ps[(size_t)(i) * (rs)->gi->nshare])
static inline ps_word ps_with_state(ps_word w, unsigned st)
{
    return (ps_word)((w & PS_BIG) | (st << PS_SHIFT));
}

/* A rank's state, laid out by use (one line each, the record aligned to
 * 64 bytes): line 0 is what every event of the rank touches, line 1 the
 * accounting of the activity mask's common values (idle, compute,
 * communication, both), then the four default lanes, compute and
 * communication in one line.  A symmetric job's
 * node completes on every rank in turn, so a rank costs the lines it
 * touches, not its size. */
typedef struct rank_state {
    _Alignas(64) graph_info *gi; /* its graph */
    ps_word *ps;             /* per node: state and unmet dependencies (ps_*),
                              * node i at ps[i * gi->nshare] (PS): ranks sharing
                              * the graph have their words of one node adjacent,
                              * so replaying node i on every rank of a symmetric
                              * job walks one array in order */
    lane *lanes;             /* gi->nlanes lanes: lane0, or allocated */
    struct seq_slot {        /* per communicator this rank uses (at most one per
                              * pg name of its graph): collectives issued on it */
        int comm;            /* communicator index; -1: slot unused */
        int mi;              /* this rank's member index in it */
        uint32_t n;          /* issued so far */
    } *seq;                  /* gi->g->npg slots in replay.seq_block, not one per
                              * communicator of the run: 131,072 ranks x 24,000
                              * communicators would be 12 GB */
    int *comm;               /* per pg: communicator, when the graph has rule
                              * groups or symmetry collapse joins it to quotient
                              * communicators (else gi->comm_of_pg serves) */
    sim_time finish;         /* last completion */
    uint32_t done;           /* nodes completed (of gi->g->n) */
    uint32_t recvs;          /* receives posted, not done */
    uint16_t busy[RES_N];    /* lanes of each kind holding a node */
    /* line 1 */
    sim_time last;           /* when mask last changed */
    unsigned mask;           /* busy activities now (A_*) */
    uint32_t held;           /* SMs its collectives in flight hold (replay_sms.c) */
    sim_time acc[A_N];       /* time spent per activity mask */
    sim_time *t0;            /* per node: start time (only with an observer) */
    struct tie_state *tie;   /* symmetry collapse's tie check (rpl_tie_*), for
                              * representatives; NULL without collapse */
    struct sms_run *sms;     /* per lane: the launch waits of the compute node timed
                              * beside collectives (replay_sms.c), with the host
                              * model; else NULL */
    sim_time stretch;        /* compute time its collectives' SMs added (replay_sms.c) */
    _Alignas(64) lane lane0[RES_N]; /* the default lanes */
} rank_state;
_Static_assert(sizeof(rank_state) == 384, "rank_state: six cache lines");

/* Nodes a rank has not completed; 0 for a rank another replays for
 * (symmetry collapse: no ps words). */
static inline uint64_t rpl_left(const rank_state *rs)
{
    return rs->ps ? rs->gi->g->n - rs->done : 0;
}

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
    uint64_t by;         /* the handler that started it (the tie check, replay_int.h) */
} coll_inst;

typedef struct comm {
    char *name;          /* "" for all ranks */
    int *ranks;          /* members, ascending */
    int n;               /* members */
    net_group *ng;       /* its mapping onto the topology */
    /* a quotient communicator (replay_sym.c) joins representatives; it is
     * timed and named as one of the real ones it stands for */
    int nreal;           /* members of the real communicator (n when real) */
    uint64_t weight;     /* real instances each instance stands for (1) */
    uint32_t *mult;      /* per member: real members it stands for; NULL: 1 */
    int borrowed;        /* ng belongs to the real communicator */
    int ltype;           /* the collective type and dimensions whose network */
    uint32_t ldims;      /*   label `label` holds (ltype -1: none yet): a    */
    const char *label;   /*   label depends on nothing else, and formatting  */
                         /*   it per instance was 4% of a replay; the        */
                         /*   result's copy (rpl_algo_label)                 */
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
    rank_state *r;             /* per rank (64-byte aligned) */
    struct seq_slot *seq_block;/* every replayed rank's seq slots, in rank order */
    et_set *set;               /* the rank files' graphs, owned */
    graph_info *graphs;        /* per distinct graph (et_set index) */
    int ngraphs;               /* entries in graphs */
    comm *comms;               /* communicators; 0 is all ranks */
    int ncomms;                /* entries in comms */
    size_t capcomms;           /* allocated in comms */
    struct p2p_entry *p2p;     /* uthash table of sends and receives */
    loom_result *res;          /* what the run fills */
    size_t capcolls;           /* records allocated in res->colls */
    loom_err *err;             /* where a failure during the run goes */
    int failed;                /* stop issuing: err is set */
    uint64_t fallbacks;        /* roofline fall-backs */
    uint64_t messages;         /* p2p completed */
    uint64_t host_waits;       /* launches a GPU operation waited for (replay_host.c) */
    uint64_t captured_fallbacks; /* comm-model captured: transfers without a
                                  * traced duration, timed by the network */
    uint32_t ignored_dims;     /* involved_dim entries past the topology */
    const loom_observer *obs;  /* callbacks, or NULL */
    int *rep;                  /* symmetry collapse (replay_sym.c): per rank, the
                                * rank it replays as; NULL when every rank runs */
    uint32_t *csize;           /* per rank: ranks its class holds */
    int sim_ranks;             /* ranks simulated (representatives) */
    int sym_alone;             /* ranks forced into classes of their own */
    char sym_why[160];         /* why collapse is off, or "" */
    int tie_rank;              /* a representative whose same-time events could
                                * run in another order without collapse, or -1 */
    uint64_t hid;              /* handlers run so far: the one running now */
    int sms_on;                /* communication beside compute is timed (replay_sms.c) */
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


/* A member's index in a communicator, or -1.  O(1) when the members are
 * evenly spaced (all ranks, a node, a data-parallel group: the guess by
 * interpolation is the index), else O(log members). */
static inline int rpl_member_index(const comm *c, int rank)
{
    if (c->n == 0)
        return -1;
    int lo = 0, hi = c->n - 1;
    int64_t span = (int64_t)c->ranks[hi] - c->ranks[0];
    if (rank >= c->ranks[0] && rank <= c->ranks[hi]) {
        int64_t d = (int64_t)rank - c->ranks[0]; /* consecutive members: no division */
        int guess = span == hi ? (int)d : span ? (int)(d * hi / span) : 0;
        if (c->ranks[guess] == rank)
            return guess;
    }
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

/* A quotient communicator of members reps (ascending), timed and named as
 * real communicator `real`; its index. */
int rpl_add_quotient(replay *rp, int real, const int *reps, const uint32_t *mult, int n,
                     uint64_t weight);

/* ---- replay_sym.c ------------------------------------------------------------ */

/* Decides the classes of alike ranks and their quotient communicators
 * (rp->rep, rp->csize), or leaves every rank to run, saying why in
 * rp->sym_why.  After the rank files and communicators, before the
 * per-rank state is allocated. */
void rpl_sym_plan(replay *rp, const loom_replay_opts *opts);
/* Symmetry collapse's one assumption (docs/MODEL.md 13).  Events at one
 * time run in the order they were scheduled; two events of a rank
 * scheduled at the same instant by two different handlers run in the
 * order those handlers ran, and that order among ranks is not the same
 * with and without collapse (a collective's completion is scheduled by
 * its last member to join: another rank, without collapse).  Such a pair
 * changes nothing unless it decides which node a lane issues: a node one
 * of them queues that the other's issue would have taken instead, or
 * that an issue by the other took.  rpl_tie_push/_free/_issue/_recv find
 * exactly those (per lane, per group of events of one time and one
 * scheduling instant) and set rp->tie_rank; the run is then replayed
 * again without collapse. */
typedef struct tie_ev {
    sim_time t, s;           /* the event being handled: its time, when it was */
    uint64_t by;             /*   scheduled, and by which handler */
} tie_ev;
typedef struct tie_lane {
    sim_time t, s;           /* the group the fields below are for */
    uint64_t dby;            /* handler of the group's issues (0 none, UINT64_MAX
                              * several) */
    uint64_t pby;            /* handler of its pushes (0 none, UINT64_MAX several) */
    uint64_t fby;            /* handler that last freed the lane in the group (0 none) */
    uint32_t dpos;           /* least position an issue took from a lane its own
                              * handler had freed (UINT32_MAX: none) */
    uint32_t dfree;          /* an issue took a node from a lane free before its
                              * handler ran (a push onto an idle lane) */
    uint32_t pmin;           /* least position pushed (receives: the key's hash) */
} tie_lane;
enum { TIE_RECVS = 4 }; /* receives of one group told apart; more: judged as racing */
typedef struct tie_recv {
    sim_time t, s;           /* the group */
    int n;                   /* receives posted in it (capped at TIE_RECVS) */
    uint64_t by[TIE_RECVS];  /* by which handler, */
    uint32_t key[TIE_RECVS]; /*   with which (source, tag, size) hash */
} tie_recv;
typedef struct tie_state {
    tie_ev cur;              /* the event of this rank being handled */
    tie_recv recv;           /* receives posted */
    tie_lane lane[];         /* per lane */
} tie_state;

/* Rank's event now, scheduled at sched by handler by, is being handled. */
static inline void rpl_tie_event(replay *rp, int rank, sim_time now, sim_time sched, uint64_t by)
{
    rp->r[rank].tie->cur = (tie_ev){now, sched, by};
}

static inline tie_lane *rpl_tie_group(tie_state *ts, int l)
{
    tie_lane *x = &ts->lane[l];
    if (x->t != ts->cur.t || x->s != ts->cur.s)
        *x = (tie_lane){.t = ts->cur.t, .s = ts->cur.s, .dpos = UINT32_MAX};
    return x;
}

static inline void rpl_tie_flag(replay *rp, int rank)
{
    if (rp->tie_rank < 0)
        rp->tie_rank = rank;
}

/* A node of key pos (its lidx) is queued on lane l: had it come first, an issue
 * another handler made in this group from an idle lane would have taken
 * it, or one made when that handler freed the lane would have preferred
 * it.  Every issue of the group counts (several issues by several
 * handlers: judged as if by another). */
static inline void rpl_tie_push(replay *rp, int rank, int l, uint32_t pos)
{
    tie_state *ts = rp->r[rank].tie;
    tie_lane *x = rpl_tie_group(ts, l);
    if (x->dby && x->dby != ts->cur.by && (x->dfree || pos < x->dpos))
        rpl_tie_flag(rp, rank);
    x->pby = !x->pby || x->pby == ts->cur.by ? ts->cur.by : UINT64_MAX;
    if (x->pmin == 0 || pos + 1 < x->pmin)
        x->pmin = pos + 1; /* 0: none */
}

static inline void rpl_tie_free(replay *rp, int rank, int l)
{
    tie_state *ts = rp->r[rank].tie;
    rpl_tie_group(ts, l)->fby = ts->cur.by;
}

/* Lane l issues the node at pos, with `left` nodes still queued: had the
 * handler that queued it in this group come later, another node would
 * have been issued (when one is left to take its place). */
static inline void rpl_tie_issue(replay *rp, int rank, int l, uint32_t pos, uint32_t left)
{
    tie_state *ts = rp->r[rank].tie;
    tie_lane *x = rpl_tie_group(ts, l);
    if (left && x->pby && x->pby != ts->cur.by && x->pmin <= pos + 1)
        rpl_tie_flag(rp, rank);
    x->dby = !x->dby || x->dby == ts->cur.by ? ts->cur.by : UINT64_MAX;
    if (x->fby != ts->cur.by)
        x->dfree = 1;
    else if (pos < x->dpos)
        x->dpos = pos;
}

/* A receive with key hash k is posted: receives match in posting order,
 * so two with one key from two handlers in one group could swap partners. */
static inline void rpl_tie_recv(replay *rp, int rank, uint32_t k)
{
    tie_state *ts = rp->r[rank].tie;
    tie_recv *x = &ts->recv;
    if (x->t != ts->cur.t || x->s != ts->cur.s) {
        x->t = ts->cur.t;
        x->s = ts->cur.s;
        x->n = 0;
    }
    for (int i = 0; i < x->n; i++)
        if (x->by[i] != ts->cur.by && (x->key[i] == k || x->n == TIE_RECVS))
            rpl_tie_flag(rp, rank);
    if (x->n < TIE_RECVS) {
        x->by[x->n] = ts->cur.by;
        x->key[x->n++] = k;
    }
}

/* Ranks rank stands for (1 without collapse). */
static inline uint64_t rpl_class_size(const replay *rp, int rank)
{
    return rp->csize ? rp->csize[rank] : 1;
}

/* ---- replay.c, for replay_p2p.c ------------------------------------------------ */

/* Stops issuing and sets rp->err (LOOM_ESIM); the first failure wins. */
void rpl_fail(replay *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rpl_node_done(replay *rp, int rank, uint32_t i);   /* node i of rank completes now */
/* One dependency of node s of rank met, s counted in its graph's big_block:
 * 1 when it was the last (its ps word's count is then 0). */
int rpl_big_release(rank_state *rs, uint32_t s) __attribute__((cold));
/* The result's copy of algorithm label s (rp->res->algos, each distinct
 * label once: a record points at it, not a copy of its own). */
const char *rpl_algo_label(replay *rp, const char *s);
void rpl_post_node_event(replay *rp, int rank, uint32_t i, sim_time dur); /* ... after dur */
void rpl_update_mask(replay *rp, rank_state *rs);       /* after busy lanes or recvs change */
uint64_t rpl_comm_scaled(const replay *rp, uint64_t bytes); /* --comm-scale */
sim_time rpl_ns_to_ps(uint64_t ns);                     /* saturating */
typedef struct timer_ev { void *what; } timer_ev;       /* a captured transfer's end */
/* Schedules fn at now + dur (saturating) with a timer_ev payload. */
void rpl_schedule_timer(replay *rp, sim_time dur, sim_handler fn, void *what);

/* ---- replay_p2p.c -------------------------------------------------------------- */

void rpl_send_issue(replay *rp, int rank, uint32_t i); /* a send starts */
void rpl_recv_post(replay *rp, int rank, uint32_t i);  /* a receive is posted */
void rpl_recv_done(replay *rp, int rank, uint32_t i);  /* ... and completes */
void rpl_warn_unreceived(replay *rp);                  /* sends nobody received */
void rpl_p2p_free(replay *rp);
/* comm-model captured: starts collective in with the least traced duration
 * of its members' nodes, done(in) at its end, 1; 0 when no member's node
 * has a duration (the network model times it, counted). */
int rpl_captured_coll(replay *rp, coll_inst *in, loom_coll_record *cr, sim_handler done);
/* The global rank a send's destination or a receive's source (idx) names
 * on rank's node of pg pg: idx, or an index in a rule group. */
int rpl_peer_rank(const replay *rp, int rank, uint32_t pg, int idx);

/* Node i's time on rank (a compute node) with `held` SMs held beside it
 * by collectives (0: none), priced once per graph where ranks share a
 * compute model; count: add a fall-back to the run's count. */
sim_time rpl_comp_price(replay *rp, int rank, uint32_t i, uint32_t held, int count);

/* ---- replay_sms.c: communication beside compute ---------------------------- */

typedef struct sms_run {     /* a compute lane's last node started (its end: lane.due) */
    uint32_t node;           /* in flight while it is the lane's cur */
    sim_time gap;            /* the launch waits inside it (the host), unchanged by SMs */
} sms_run;

/* Decides whether the run times communication beside compute (comm-sms
 * or a collective's comm_sms, and a rank priced by the kernel model) and
 * allocates its state; after the per-rank state. */
void rpl_sms_prep(replay *rp);
void rpl_sms_free(replay *rp);
/* Compute node i of rank state rs starts now, priced t0 beside the SMs
 * held (rank_state.held) and t with its launch waits: its end kept in its
 * lane (the caller posts it), its waits beside them with the host model. */
void rpl_sms_begin(replay *rp, rank_state *rs, uint32_t i, sim_time t0, sim_time t);
/* A collective of rank takes (delta > 0) or gives back SMs now: the
 * compute nodes in flight are re-timed. */
void rpl_sms_change(replay *rp, int rank, int delta);
/* The end of compute node i of rank is due now: 1 when this event is its
 * live one, 0 when a re-timing left it behind (the lane's lines, which the
 * completion reads anyway). */
static inline int rpl_sms_live(replay *rp, int rank, uint32_t i)
{
    const rank_state *rs = &rp->r[rank];
    const lane *ln = &rs->lanes[lane_of(rs->gi, i)];
    return ln->cur == i && ln->due == sim_now(rp->eng);
}

/* ---- replay_host.c: the host that launches GPU work ------------------------ */

/* Per graph: hlb and hl_total, when host-launch-us is set. */
void rpl_host_prep(const replay *rp, graph_info *gi);
/* When node i's (first) launch ends; 0 when it makes none or the host is
 * not modelled. */
sim_time rpl_host_ready(const replay *rp, const graph_info *gi, uint32_t i);
/* A fused compute node's time d, started now, with its later kernels
 * waiting for their launches. */
sim_time rpl_host_fused(const replay *rp, const graph_info *gi, uint32_t i, sim_time now,
                        sim_time d);
/* The same at the engine's now, and no call when the host is not modelled
 * (replay.c's start, every compute node). */
static inline sim_time rpl_host_fused_now(const replay *rp, const graph_info *gi, uint32_t i,
                                          sim_time d)
{
    return gi->hlb ? rpl_host_fused(rp, gi, i, sim_now(rp->eng), d) : d;
}

/* ---- replay_setup.c ----------------------------------------------------------- */

/* Everything before the first event: the network, the all-ranks
 * communicator (index 0), the rank files, the engine (events of up to
 * ev_size bytes, replay.c's), the counters.  0, or an error in err. */
int rpl_setup(replay *rp, const loom_replay_opts *opts, size_t ev_size, loom_err *err);
/* Frees what rpl_setup and the run allocated (not the result). */
void rpl_free(replay *rp);

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
