#include "replay.h"

#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <uthash.h>

#include "engine.h"
#include "et_graph.h"

/*
 * Invariants:
 * - a node's state only moves forward: WAIT -> READY -> ISSUED -> DONE;
 * - a resource holds at most one ISSUED node; cur[res] names it;
 * - a collective instance is freed only after every member has joined and
 *   its completion event has run;
 * - bucket accounting: acc[mask] grows by (now - last) whenever the set of
 *   busy activities (mask) of a rank changes, so the buckets sum to finish.
 */

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
    int rep;                /* the rank whose file was parsed */
    uint32_t *pos;          /* node index -> its position in id order */
    uint32_t *at;           /* position in id order -> node index */
    dev_t dev;              /* that file's device and inode: hard links */
    ino_t ino;              /*   of it share the graph unread */
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
    uint64_t bytes;      /* comm_size */
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

typedef struct msg { /* one send, matched or waiting for its receive */
    struct replay *rp;     /* for the network's completion callback */
    int src, dst;          /* ranks */
    uint32_t snode;        /* send node index on src */
    int64_t rnode;         /* recv node index on dst, -1 until matched */
    int arrived;           /* its last byte has arrived */
    struct msg *next;      /* FIFO link */
} msg;

typedef struct p2p_key {
    int src, dst, tag;     /* peers and tag */
    uint64_t size;         /* bytes */
} p2p_key;

typedef struct recv_wait {
    uint32_t node;         /* recv node index on key.dst */
    struct recv_wait *next;/* FIFO link */
} recv_wait;

typedef struct p2p_entry {
    p2p_key key;               /* hash key */
    msg *sends, *sends_tail;   /* sends not yet received, FIFO */
    recv_wait *recvs, *recvs_tail; /* receives not yet matched, FIFO */
    UT_hash_handle hh;
} p2p_entry;

typedef struct replay replay;
struct replay {
    const loom_cfg *cfg;
    net_model *net;
    sim_engine *eng;
    int nranks;
    rank_state *r;
    graph_info *graphs;
    int ngraphs;
    comm *comms;
    int ncomms;
    p2p_entry *p2p;            /* uthash table */
    loom_result *res;
    loom_err *err;             /* where a failure during the run goes */
    int failed;                /* stop issuing: err is set */
    uint64_t fallbacks;        /* roofline fall-backs */
    uint64_t messages;         /* p2p completed */
    uint32_t ignored_dims;     /* involved_dim entries past the topology */
    const loom_observer *obs;  /* callbacks, or NULL */
};

/* The one event replay schedules itself: a node finishing.  Collectives and
 * messages complete through the network model's callbacks. */
typedef struct ev {
    int32_t rank;   /* whose node */
    uint32_t node;  /* node index */
} ev;

#define COMM_RULE(g) (-2 - (g))
#define RULE_OF(ci) (-2 - (ci))

static inline int comm_of(const rank_state *rs, uint32_t pg)
{
    return rs->comm ? rs->comm[pg] : rs->gi->comm_of_pg[pg];
}

/* ---- ready queues --------------------------------------------------------- */

static inline uint32_t idq_size(const idq *q) { return q->tail - q->head + q->hn; }

static void heap_push(idq *q, uint32_t key)
{
    if (q->hn == q->hcap) {
        q->hcap = q->hcap ? 2 * q->hcap : 8;
        q->heap = loom_xrealloc(q->heap, q->hcap * sizeof *q->heap);
    }
    uint32_t i = q->hn++;
    while (i > 0 && key < q->heap[(i - 1) / 2]) {
        q->heap[i] = q->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->heap[i] = key;
}

static uint32_t heap_pop(idq *q)
{
    uint32_t top = q->heap[0], last = q->heap[--q->hn], i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= q->hn)
            break;
        if (c + 1 < q->hn && q->heap[c + 1] < q->heap[c])
            c++;
        if (!(q->heap[c] < last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (q->hn)
        q->heap[i] = last;
    return top;
}

static void idq_push(idq *q, uint32_t key)
{
    if (q->tail > q->head && key < q->fifo[q->tail - 1]) {
        heap_push(q, key);
        return;
    }
    if (q->tail == q->fcap) {
        if (q->head > 0) { /* slide down: amortised O(1) */
            memmove(q->fifo, q->fifo + q->head, (q->tail - q->head) * sizeof *q->fifo);
            q->tail -= q->head;
            q->head = 0;
        }
        if (q->tail == q->fcap) {
            q->fcap = q->fcap ? 2 * q->fcap : 4;
            q->fifo = loom_xrealloc(q->fifo, q->fcap * sizeof *q->fifo);
        }
    }
    q->fifo[q->tail++] = key;
}

static uint32_t idq_pop(idq *q)
{
    uint32_t key;
    if (q->hn > 0 && (q->tail == q->head || q->heap[0] < q->fifo[q->head]))
        key = heap_pop(q);
    else
        key = q->fifo[q->head++];
    if (q->head == q->tail)
        q->head = q->tail = 0;
    return key;
}

/* ---- accounting ----------------------------------------------------------- */

/* Adds the time since the last change to the bucket of the current mask
 * (and, while communication is exposed, to the collective in flight). */
static void close_interval(replay *rp, rank_state *rs)
{
    sim_time now = sim_now(rp->eng);
    if ((rs->mask & A_COMM) && !(rs->mask & A_COMPUTE) && rs->comm_rec >= 0)
        rp->res->colls[rs->comm_rec].exposed += now - rs->last; /* summed; averaged at the end */
    rs->acc[rs->mask] += now - rs->last;
    rs->last = now;
}

static void set_mask(replay *rp, rank_state *rs, unsigned mask)
{
    if (mask == rs->mask)
        return;
    close_interval(rp, rs);
    rs->mask = mask;
}

static unsigned res_bit(int res)
{
    static const unsigned bit[RES_N] = {A_COMPUTE, A_CPU, A_COMM, A_MEM};
    return bit[res];
}

static void update_mask(replay *rp, rank_state *rs)
{
    unsigned m = 0;
    for (int k = 0; k < RES_N; k++)
        if (rs->cur[k] >= 0)
            m |= res_bit(k);
    if (rs->recvs)
        m |= A_COMM;
    set_mask(rp, rs, m);
}

/* ---- failure -------------------------------------------------------------- */

static void fail(replay *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(replay *rp, const char *fmt, ...)
{
    if (rp->failed)
        return;
    rp->failed = 1;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    loom_err_set(rp->err, LOOM_ESIM, "%s", buf);
}

/* ---- node life cycle ------------------------------------------------------ */

static void try_issue(replay *rp, int rank, int res);
static void node_done(replay *rp, int rank, uint32_t i);

/* Makes node i of rank ready: queue it on its resource, or start it. */
static void make_ready(replay *rp, int rank, uint32_t i);

static void release(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    const et_graph *g = rs->gi->g;
    const et_gnode *n = &g->nodes[i];
    uint32_t nsucc = n->nsucc_data + (rp->cfg->ctrl_deps ? n->nsucc_ctrl : 0);
    for (uint32_t k = 0; k < nsucc; k++) {
        uint32_t s = g->succ[n->succ + k];
        LOOM_ASSERT(rs->pending[s] > 0);
        if (--rs->pending[s] == 0)
            make_ready(rp, rank, s);
    }
}

static void on_event(sim_engine *eng, void *payload, void *ctx);

static void node_done(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    LOOM_ASSERT(rs->state[i] == ST_ISSUED);
    rs->state[i] = ST_DONE;
    rs->left--;
    rs->done++;
    rs->finish = sim_now(rp->eng);
    int res = rs->gi->res[i];
    if (rp->obs && rp->obs->node)
        rp->obs->node(rp->obs->node_ctx, rank, rs->gi->g, i, res, rs->t0[i], rs->finish,
                      res == RES_COMM ? rs->comm_rec : -1);
    if (res != RES_NONE && rs->cur[res] == (int64_t)i) {
        rs->cur[res] = -1;
        update_mask(rp, rs);
        if (res == RES_COMM)
            rs->comm_rec = -1;
    }
    release(rp, rank, i);
    if (res != RES_NONE)
        try_issue(rp, rank, res);
}

static void post_node_event(replay *rp, int rank, uint32_t i, sim_time dur)
{
    sim_time now = sim_now(rp->eng);
    if (dur < 0 || dur >= SIM_TIME_MAX - now) {
        const et_graph *g = rp->r[rank].gi->g;
        fail(rp, "%s: node %llu: simulated time overflows (past %.3g s)", g->path,
             (unsigned long long)g->nodes[i].id, (double)SIM_TIME_MAX / SIM_PS_PER_S);
        return;
    }
    ev *e = sim_schedule(rp->eng, now + dur, on_event);
    e->rank = rank;
    e->node = i;
}

/* ---- collectives ---------------------------------------------------------- */

static int member_index(const comm *c, int rank)
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

static void on_coll_done(sim_engine *eng, void *ctx);
static void on_msg_done(sim_engine *eng, void *ctx);

/* Marks a retired slot in comm.q: every member joined. */
static coll_inst inst_done;

static void coll_join(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    const et_graph *g = rs->gi->g;
    const et_gnode *n = &g->nodes[i];
    int ci = comm_of(rs, n->pg);
    comm *c = &rp->comms[ci];
    uint64_t seq = rs->seq[ci]++;
    LOOM_ASSERT(seq >= c->base);
    size_t slot = (size_t)(seq - c->base);
    while (slot >= c->nq) { /* open instances up to this seq */
        if (c->nq == c->capq) {
            c->capq = c->capq ? 2 * c->capq : 4;
            c->q = loom_xrealloc(c->q, c->capq * sizeof *c->q);
        }
        c->q[c->nq++] = NULL;
    }
    coll_inst *in = c->q[slot];
    uint32_t dims = n->involved_dim;
    if (n->involved_n > rp->cfg->topo.ndims) {
        rp->ignored_dims++;
        dims &= (1u << rp->cfg->topo.ndims) - 1;
    }
    if (in == NULL) {
        in = loom_xcalloc(1, sizeof *in);
        in->comm = ci;
        in->seq = seq;
        in->type = n->comm_type;
        in->bytes = n->comm_size;
        in->dims = dims;
        in->first_rank = rank;
        in->first_id = n->id;
        in->first_join = sim_now(rp->eng);
        in->node = loom_xmalloc(c->n * sizeof *in->node);
        memset(in->node, 0xff, c->n * sizeof *in->node);
        c->q[slot] = in;
        loom_result *res = rp->res;
        if (res->ncolls % 1024 == 0)
            res->colls = loom_xrealloc(res->colls, (res->ncolls + 1024) * sizeof *res->colls);
        in->rec = (long)res->ncolls++;
        loom_coll_record *cr = &res->colls[in->rec];
        memset(cr, 0, sizeof *cr);
        cr->type = in->type;
        cr->bytes = in->bytes;
        cr->nranks = c->n;
        cr->group = c->name;
        cr->seq = seq;
        cr->first_join = in->first_join;
        cr->start = cr->end = -1; /* until every member joins */
    } else if (in->type != n->comm_type || in->bytes != n->comm_size) {
        fail(rp, "collective mismatch on communicator '%s' (collective #%llu): rank %d node %llu "
                 "issues %s of %llu bytes, but rank %d node %llu issued %s of %llu bytes",
             c->name, (unsigned long long)seq, rank, (unsigned long long)n->id,
             et_coll_type_name(n->comm_type), (unsigned long long)n->comm_size, in->first_rank,
             (unsigned long long)in->first_id, et_coll_type_name(in->type),
             (unsigned long long)in->bytes);
        return;
    }
    int mi = member_index(c, rank);
    LOOM_ASSERT(mi >= 0 && in->node[mi] == UINT32_MAX);
    in->node[mi] = i;
    close_interval(rp, rs); /* before the record in flight changes */
    rs->comm_rec = in->rec;
    if (++in->joined < c->n)
        return;
    /* everyone is here: the transfer starts now; retire its slot */
    c->q[slot] = &inst_done;
    while (c->nq > 0 && c->q[0] == &inst_done) {
        memmove(c->q, c->q + 1, (c->nq - 1) * sizeof *c->q);
        c->nq--;
        c->base++;
    }
    loom_coll_record *cr = &rp->res->colls[in->rec];
    cr->start = sim_now(rp->eng);
    net_coll_label(rp->net, c->ng, (net_coll)in->type, in->dims, cr->algo, sizeof cr->algo);
    /* Every network model saturates a time past the end of representable
     * time at SIM_TIME_MAX; on_coll_done reports it. */
    in->rp = rp;
    net_coll_start(rp->net, rp->eng, c->ng, (net_coll)in->type, in->bytes, in->dims, on_coll_done,
                   in);
}

static void coll_done(replay *rp, coll_inst *in)
{
    comm *c = &rp->comms[in->comm];
    rp->res->colls[in->rec].end = sim_now(rp->eng);
    for (int m = 0; m < c->n; m++)
        node_done(rp, c->ranks[m], in->node[m]);
    free(in->node);
    free(in);
}

/* ---- point to point ------------------------------------------------------- */

/* A send's destination or a receive's source as a global rank: the trace
 * gives a rank, or (pg_name naming a rule group) an index in the group. */
static int peer_rank(const replay *rp, int rank, const et_gnode *n, int idx)
{
    int gx = rp->r[rank].gi->p2p_rule[n->pg];
    if (gx < 0)
        return idx;
    const loom_group *grp = &rp->cfg->groups[gx];
    return loom_group_base(grp, rank) + idx * grp->stride;
}

static p2p_entry *p2p_find(replay *rp, int src, int dst, int tag, uint64_t size)
{
    p2p_key k;
    memset(&k, 0, sizeof k); /* padding takes part in the hash */
    k.src = src;
    k.dst = dst;
    k.tag = tag;
    k.size = size;
    p2p_entry *e;
    HASH_FIND(hh, rp->p2p, &k, sizeof k, e);
    if (e == NULL) {
        e = loom_xcalloc(1, sizeof *e);
        e->key = k;
        HASH_ADD(hh, rp->p2p, key, sizeof k, e);
    }
    return e;
}

static void send_issue(replay *rp, int rank, uint32_t i)
{
    const et_gnode *n = &rp->r[rank].gi->g->nodes[i];
    int dst = peer_rank(rp, rank, n, n->comm_dst);
    if (dst >= rp->nranks) {
        fail(rp, "%s: node %llu: rank %d sends to rank %d, but the run has %d ranks",
             rp->r[rank].gi->g->path, (unsigned long long)n->id, rank, dst, rp->nranks);
        return;
    }
    msg *m = loom_xcalloc(1, sizeof *m);
    m->rp = rp;
    m->src = rank;
    m->dst = dst;
    m->snode = i;
    m->rnode = -1;
    p2p_entry *e = p2p_find(rp, rank, dst, n->comm_tag, n->comm_size);
    if (e->recvs) { /* a receive is waiting: match it */
        recv_wait *w = e->recvs;
        e->recvs = w->next;
        if (e->recvs == NULL)
            e->recvs_tail = NULL;
        m->rnode = w->node;
        free(w);
    } else {
        if (e->sends_tail)
            e->sends_tail->next = m;
        else
            e->sends = m;
        e->sends_tail = m;
    }
    net_p2p_start(rp->net, rp->eng, rank, dst, n->comm_size, on_msg_done, m);
}

static void recv_post(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    const et_gnode *n = &rs->gi->g->nodes[i];
    rs->state[i] = ST_ISSUED;
    if (rs->t0)
        rs->t0[i] = sim_now(rp->eng);
    rs->recvs++;
    update_mask(rp, rs);
    int src = peer_rank(rp, rank, n, n->comm_src);
    if (src >= rp->nranks) {
        fail(rp, "%s: node %llu: rank %d receives from rank %d, but the run has %d ranks",
             rs->gi->g->path, (unsigned long long)n->id, rank, src, rp->nranks);
        return;
    }
    p2p_entry *e = p2p_find(rp, src, rank, n->comm_tag, n->comm_size);
    if (e->sends) { /* the message was sent already */
        msg *m = e->sends;
        e->sends = m->next;
        if (e->sends == NULL)
            e->sends_tail = NULL;
        if (m->arrived) { /* and has arrived: done now */
            free(m);
            rp->messages++;
            post_node_event(rp, rank, i, 0);
        } else {
            m->rnode = i;
        }
        return;
    }
    recv_wait *w = loom_xcalloc(1, sizeof *w);
    w->node = i;
    if (e->recvs_tail)
        e->recvs_tail->next = w;
    else
        e->recvs = w;
    e->recvs_tail = w;
}

static void recv_done(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    rs->recvs--;
    update_mask(rp, rs);
    node_done(rp, rank, i);
}

static void msg_arrived(replay *rp, msg *m)
{
    node_done(rp, m->src, m->snode); /* eager: the send completes on arrival */
    if (m->rnode >= 0) {
        rp->messages++;
        recv_done(rp, m->dst, (uint32_t)m->rnode);
        free(m);
    } else {
        m->arrived = 1; /* stays in the FIFO until its receive is posted */
    }
}

static void on_coll_done(sim_engine *eng, void *ctx)
{
    coll_inst *in = ctx;
    if (sim_now(eng) == SIM_TIME_MAX) /* the network model saturated */
        fail(in->rp, "a %s of %llu bytes on '%s' (rank %d node %llu): simulated time overflows "
                     "(past %.3g s)",
             et_coll_type_name(in->type), (unsigned long long)in->bytes,
             in->rp->comms[in->comm].name[0] ? in->rp->comms[in->comm].name : "all ranks",
             in->first_rank, (unsigned long long)in->first_id, (double)SIM_TIME_MAX / SIM_PS_PER_S);
    if (!in->rp->failed) {
        coll_done(in->rp, in);
    } else { /* retired from its communicator's queue: nobody else frees it */
        free(in->node);
        free(in);
    }
}

static void on_msg_done(sim_engine *eng, void *ctx)
{
    msg *m = ctx;
    if (sim_now(eng) == SIM_TIME_MAX) {
        const et_graph *g = m->rp->r[m->src].gi->g;
        fail(m->rp, "%s: node %llu: a message from rank %d to rank %d: simulated time overflows "
                    "(past %.3g s)",
             g->path, (unsigned long long)g->nodes[m->snode].id, m->src, m->dst,
             (double)SIM_TIME_MAX / SIM_PS_PER_S);
    }
    if (!m->rp->failed)
        msg_arrived(m->rp, m);
    else if (m->rnode >= 0) /* matched: no FIFO holds it any more */
        free(m);
}

/* ---- issue ---------------------------------------------------------------- */

static void start(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    const et_graph *g = rs->gi->g;
    const et_gnode *n = &g->nodes[i];
    rs->state[i] = ST_ISSUED;
    if (rs->t0)
        rs->t0[i] = sim_now(rp->eng);
    switch (n->type) {
    case ET_COMP_NODE: {
        comp_kernel k = {.duration_us = n->duration_us,
                         .num_ops = n->num_ops,
                         .tensor_size = n->tensor_size,
                         .has_ops = (n->flags & ET_F_HAS_OPS) != 0,
                         .is_cpu = (n->flags & ET_F_CPU) != 0,
                         .name = et_gnode_name(g, n),
                         .kwork = n->nkern ? g->kwork + 2 * (size_t)n->kern : NULL,
                         .nkern = n->nkern};
        int fb;
        sim_time t = comp_time(loom_cfg_comp(rp->cfg, rank), &k, &fb);
        rp->fallbacks += fb;
        post_node_event(rp, rank, i, t);
        break;
    }
    case ET_MEM_LOAD_NODE:
    case ET_MEM_STORE_NODE:
        post_node_event(rp, rank, i, comp_mem_time(loom_cfg_comp(rp->cfg, rank), n->tensor_size));
        break;
    case ET_COMM_COLL_NODE:
        if (rs->gi->res[i] == RES_CPU) /* host side of a c10d call */
            post_node_event(rp, rank, i, comp_time(loom_cfg_comp(rp->cfg, rank), &(comp_kernel){
                                                       .duration_us = n->duration_us, .is_cpu = 1},
                                                   NULL));
        else
            coll_join(rp, rank, i);
        break;
    case ET_COMM_SEND_NODE:
        send_issue(rp, rank, i);
        break;
    default:
        LOOM_ASSERT(0);
    }
}

static void try_issue(replay *rp, int rank, int res)
{
    rank_state *rs = &rp->r[rank];
    if (rp->failed || rs->cur[res] >= 0 || idq_size(&rs->ready[res]) == 0)
        return;
    uint32_t i = rs->gi->at[idq_pop(&rs->ready[res])];
    rs->cur[res] = i;
    update_mask(rp, rs);
    start(rp, rank, i);
}

static void make_ready(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    const et_gnode *n = &rs->gi->g->nodes[i];
    rs->state[i] = ST_READY;
    int res = rs->gi->res[i];
    if (res != RES_NONE) {
        idq_push(&rs->ready[res], rs->gi->pos[i]);
        try_issue(rp, rank, res);
    } else if (n->type == ET_COMM_RECV_NODE) {
        recv_post(rp, rank, i);
    } else { /* METADATA, INVALID: done at once, through the queue so that
              * long chains of them never recurse */
        rs->state[i] = ST_ISSUED;
        if (rs->t0)
            rs->t0[i] = sim_now(rp->eng);
        post_node_event(rp, rank, i, 0);
    }
}

static void on_event(sim_engine *eng, void *payload, void *ctx)
{
    (void)eng;
    replay *rp = ctx;
    ev *e = payload;
    if (rp->failed)
        return;
    if (rp->r[e->rank].gi->g->nodes[e->node].type == ET_COMM_RECV_NODE)
        recv_done(rp, e->rank, e->node);
    else
        node_done(rp, e->rank, e->node);
}

/* ---- setup ---------------------------------------------------------------- */

/* FNV-1a 64 over a file's raw bytes, to find byte-identical rank files
 * before parsing any (identical files share one parsed graph). */
static int file_digest(const char *path, uint64_t *digest, uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    unsigned char buf[1 << 16];
    uint64_t h = 1469598103934665603ULL, n = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t k = 0; k < got; k++)
            h = (h ^ buf[k]) * 1099511628211ULL;
        n += got;
    }
    int bad = ferror(f);
    fclose(f);
    *digest = h;
    *size = n;
    return bad ? -1 : 0;
}

static int same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    unsigned char x[1 << 15], y[1 << 15];
    while (same) {
        size_t na = fread(x, 1, sizeof x, fa), nb = fread(y, 1, sizeof y, fb);
        if (na != nb || memcmp(x, y, na) != 0)
            same = 0;
        if (na == 0)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static int add_comm(replay *rp, const char *name, const int *ranks, int n)
{
    rp->comms = loom_xrealloc(rp->comms, (rp->ncomms + 1) * sizeof *rp->comms);
    comm *c = &rp->comms[rp->ncomms];
    memset(c, 0, sizeof *c);
    c->name = loom_xstrdup(name);
    c->n = n;
    c->ranks = loom_xmalloc(n * sizeof *c->ranks);
    memcpy(c->ranks, ranks, n * sizeof *ranks);
    rp->ncomms++;
    c->ng = net_group_create(rp->net, ranks, n, rp->err);
    return c->ng ? rp->ncomms - 1 : -1;
}

static int comm_by_name(replay *rp, const char *name)
{
    for (int i = 0; i < rp->ncomms; i++)
        if (strcmp(rp->comms[i].name, name) == 0)
            return i;
    return -1;
}

static const et_graph *sort_graph; /* qsort has no context argument */
static int by_id(const void *a, const void *b)
{
    uint64_t x = sort_graph->nodes[*(const uint32_t *)a].id;
    uint64_t y = sort_graph->nodes[*(const uint32_t *)b].id;
    return (x > y) - (x < y);
}

/* Ready queues order nodes by id; ranking the ids once per graph lets the
 * queues hold and compare 4-byte positions instead of chasing nodes[]. */
static void order_graph(graph_info *gi)
{
    const et_graph *g = gi->g;
    size_t n = g->n ? g->n : 1;
    gi->at = loom_xmalloc(n * sizeof *gi->at);
    gi->pos = loom_xmalloc(n * sizeof *gi->pos);
    int sorted = 1;
    for (size_t i = 0; i < g->n; i++) {
        gi->at[i] = (uint32_t)i;
        if (i > 0 && g->nodes[i].id < g->nodes[i - 1].id)
            sorted = 0;
    }
    if (!sorted) { /* ids are unique (the loader refuses duplicates) */
        sort_graph = g;
        qsort(gi->at, g->n, sizeof *gi->at, by_id);
    }
    for (size_t k = 0; k < g->n; k++)
        gi->pos[gi->at[k]] = (uint32_t)k;
}

/* Resolves a graph's pg names to communicators and checks every node that
 * replay will need to understand. */
static int prepare_graph(replay *rp, graph_info *gi, loom_err *err)
{
    et_graph *g = gi->g;
    gi->comm_of_pg = loom_xmalloc(g->npg * sizeof *gi->comm_of_pg);
    gi->p2p_rule = loom_xmalloc(g->npg * sizeof *gi->p2p_rule);
    for (uint32_t p = 0; p < g->npg; p++) {
        gi->comm_of_pg[p] = -1;
        gi->p2p_rule[p] = -1;
        const loom_group *grp = g->pg_names[p][0] ? loom_cfg_group(rp->cfg, g->pg_names[p]) : NULL;
        if (grp && grp->stride)
            gi->p2p_rule[p] = (int)(grp - rp->cfg->groups);
    }
    gi->res = loom_xmalloc(g->n ? g->n : 1);
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        unsigned long long id = (unsigned long long)n->id;
        switch (n->type) {
        case ET_COMP_NODE:
            gi->res[i] = (n->flags & ET_F_CPU) ? RES_CPU : RES_COMPUTE;
            break;
        case ET_MEM_LOAD_NODE:
        case ET_MEM_STORE_NODE:
            gi->res[i] = RES_MEM;
            break;
        case ET_COMM_SEND_NODE:
            if (!(n->flags & ET_F_HAS_DST) || !(n->flags & ET_F_HAS_TAG))
                return loom_err_set(err, LOOM_ETRACE,
                                    "%s: node %llu: COMM_SEND_NODE without %s: loom cannot tell "
                                    "where the message goes",
                                    g->path, id, (n->flags & ET_F_HAS_DST) ? "comm_tag" : "comm_dst");
            if (gi->p2p_rule[n->pg] >= 0) { /* an index in the sender's group */
                const loom_group *grp = &rp->cfg->groups[gi->p2p_rule[n->pg]];
                if (n->comm_dst < 0 || n->comm_dst >= grp->n)
                    return loom_err_set(err, LOOM_ETRACE,
                                        "%s: node %llu: comm_dst %d is not an index of group '%s' "
                                        "(0..%d)", g->path, id, n->comm_dst, grp->name, grp->n - 1);
            } else if (n->comm_dst < 0 || n->comm_dst >= rp->nranks) {
                return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: comm_dst %d is not a rank (0..%d)",
                                    g->path, id, n->comm_dst, rp->nranks - 1);
            }
            gi->res[i] = RES_COMM;
            break;
        case ET_COMM_RECV_NODE:
            if (!(n->flags & ET_F_HAS_SRC) || !(n->flags & ET_F_HAS_TAG))
                return loom_err_set(err, LOOM_ETRACE,
                                    "%s: node %llu: COMM_RECV_NODE without %s: loom cannot match it "
                                    "to a send",
                                    g->path, id, (n->flags & ET_F_HAS_SRC) ? "comm_tag" : "comm_src");
            if (gi->p2p_rule[n->pg] >= 0) {
                const loom_group *grp = &rp->cfg->groups[gi->p2p_rule[n->pg]];
                if (n->comm_src < 0 || n->comm_src >= grp->n)
                    return loom_err_set(err, LOOM_ETRACE,
                                        "%s: node %llu: comm_src %d is not an index of group '%s' "
                                        "(0..%d)", g->path, id, n->comm_src, grp->name, grp->n - 1);
            } else if (n->comm_src < 0 || n->comm_src >= rp->nranks) {
                return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: comm_src %d is not a rank (0..%d)",
                                    g->path, id, n->comm_src, rp->nranks - 1);
            }
            gi->res[i] = RES_NONE;
            break;
        case ET_COMM_COLL_NODE: {
            if (!(n->flags & ET_F_HAS_CTYPE) && (n->flags & ET_F_CPU)) {
                /* PyTorch-converted traces mark the host side of a c10d call
                 * (no comm_type, is_cpu_op) as a collective; the GPU kernel
                 * beside it carries the real one.  Run it as a CPU op. */
                gi->res[i] = RES_CPU;
                gi->host_colls++;
                break;
            }
            if (!(n->flags & ET_F_HAS_CTYPE) || n->comm_type >= ET_COLL_TYPES)
                return loom_err_set(err, LOOM_ETRACE,
                                    "%s: node %llu: COMM_COLL_NODE without a known comm_type", g->path, id);
            gi->res[i] = RES_COMM;
            if (gi->comm_of_pg[n->pg] != -1)
                break;
            const char *pg = g->pg_names[n->pg];
            int ci;
            if (pg[0] == '\0' || strcmp(pg, "0") == 0) {
                ci = comm_by_name(rp, "");
            } else if ((ci = comm_by_name(rp, pg)) < 0) {
                const loom_group *grp = loom_cfg_group(rp->cfg, pg);
                if (grp == NULL)
                    return loom_err_set(err, LOOM_ETRACE,
                                        "%s: node %llu: pg_name '%s' names no group %s", g->path, id, pg,
                                        rp->cfg->ngroups ? "in the comm-group file"
                                                         : "(give the comm-group file with --comm-group)");
                if (grp->stride) { /* a rule: each rank's group is found per rank */
                    gi->comm_of_pg[n->pg] = COMM_RULE((int)(grp - rp->cfg->groups));
                    gi->has_rules = 1;
                    break;
                }
                for (int k = 0; k < grp->n; k++)
                    if (grp->ranks[k] >= rp->nranks)
                        return loom_err_set(err, LOOM_EUSAGE,
                                            "comm group '%s' lists rank %d, but the run has %d ranks",
                                            pg, grp->ranks[k], rp->nranks);
                if ((ci = add_comm(rp, pg, grp->ranks, grp->n)) < 0)
                    return LOOM_EUSAGE;
            }
            gi->comm_of_pg[n->pg] = ci;
            break;
        }
        case ET_METADATA_NODE:
        case ET_INVALID_NODE:
            gi->res[i] = RES_NONE;
            break;
        default:
            return loom_err_set(err, LOOM_ETRACE, "%s: node %llu: unknown node type %d", g->path, id,
                                n->type);
        }
    }
    return 0;
}

/* Kahn's algorithm over the edges replay will honour: a node on a cycle
 * can never become ready, so refuse the trace now, naming nodes on it,
 * rather than simulate up to a stall.  O(nodes + edges), once per file. */
static int check_acyclic(replay *rp, const et_graph *g, loom_err *err)
{
    int ctrl = rp->cfg->ctrl_deps;
    uint32_t *pend = loom_xmalloc((g->n ? g->n : 1) * sizeof *pend);
    uint32_t *stack = loom_xmalloc((g->n ? g->n : 1) * sizeof *stack);
    size_t top = 0, seen = 0;
    for (size_t i = 0; i < g->n; i++) {
        pend[i] = g->nodes[i].ndata + (ctrl ? g->nodes[i].nctrl : 0);
        if (pend[i] == 0)
            stack[top++] = (uint32_t)i;
    }
    while (top > 0) {
        const et_gnode *n = &g->nodes[stack[--top]];
        seen++;
        uint32_t ns = n->nsucc_data + (ctrl ? n->nsucc_ctrl : 0);
        for (uint32_t k = 0; k < ns; k++) {
            uint32_t s = g->succ[n->succ + k];
            if (--pend[s] == 0)
                stack[top++] = s;
        }
    }
    int rc = 0;
    if (seen < g->n) {
        char ids[256] = "";
        size_t off = 0;
        int shown = 0;
        for (size_t i = 0; i < g->n && shown < 5; i++)
            if (pend[i] > 0) {
                uint32_t d;
                int self = 0;
                for (d = 0; d < g->nodes[i].ndata + g->nodes[i].nctrl; d++)
                    self |= g->deps[g->nodes[i].dep + d] == i;
                off += snprintf(ids + off, sizeof ids - off, "%s%llu%s", shown ? ", " : "",
                                (unsigned long long)g->nodes[i].id, self ? " (on itself)" : "");
                shown++;
            }
        rc = loom_err_set(err, LOOM_ETRACE,
                          "%s: %zu of %zu nodes can never become ready: they depend on each other "
                          "in a cycle or wait on such nodes (first: %s). `loom trace validate` lists "
                          "the cycles%s",
                          g->path, g->n - seen, g->n, ids,
                          ctrl ? "; PyTorch-converted traces often have such ctrl_deps: "
                                 "--ignore-ctrl-deps runs on data_deps alone"
                               : "");
    }
    free(pend);
    free(stack);
    return rc;
}

static int load_ranks(replay *rp, const char *prefix, loom_err *err)
{
    int nfiles = et_count_ranks(prefix);
    char path[4096];
    if (nfiles > rp->nranks)
        return loom_err_set(err, LOOM_ETRACE,
                            "workload %s has %d rank files but the network has %d NPUs", prefix,
                            nfiles, rp->nranks);
    uint64_t *dig = loom_xcalloc(rp->nranks, sizeof *dig), *sz = loom_xcalloc(rp->nranks, sizeof *sz);
    char **paths = loom_xcalloc(rp->nranks, sizeof *paths);
    int rc = 0;
    for (int r = 0; r < rp->nranks; r++) {
        if (et_rank_path(prefix, r, path, sizeof path) < 0) {
            rc = loom_err_set(err, LOOM_ETRACE,
                              "missing rank file %s (the network has %d NPUs, so ranks 0..%d need a "
                              "trace each)", path, rp->nranks, rp->nranks - 1);
            goto out;
        }
        paths[r] = loom_xstrdup(path);
        struct stat st;
        if (stat(path, &st) != 0) {
            rc = loom_err_set(err, LOOM_ETRACE, "%s: cannot read: %s", path, strerror(errno));
            goto out;
        }
        int share = -1;
        /* a hard link of a parsed file (how loom gen writes identical
         * ranks): same graph, without reading a byte */
        for (int q = 0; q < rp->ngraphs && share < 0; q++)
            if (rp->graphs[q].dev == st.st_dev && rp->graphs[q].ino == st.st_ino)
                share = q;
        if (share < 0) {
            if (file_digest(path, &dig[r], &sz[r]) < 0) {
                rc = loom_err_set(err, LOOM_ETRACE, "%s: cannot read", path);
                goto out;
            }
            for (int q = 0; q < rp->ngraphs && share < 0; q++) {
                int rep = rp->graphs[q].rep; /* the rank whose file it was parsed from */
                if (dig[rep] == dig[r] && sz[rep] == sz[r] && same_bytes(paths[rep], path))
                    share = q;
            }
        }
        if (share < 0) {
            et_graph *g = et_graph_load(path, err);
            if (g == NULL) {
                rc = LOOM_ETRACE;
                goto out;
            }
            if (g->n >= UINT32_MAX) {
                et_graph_free(g);
                rc = loom_err_set(err, LOOM_ETRACE, "%s: more than 2^32 nodes", path);
                goto out;
            }
            /* graphs[] must not move: ranks point into it, so size it for
             * the worst case once */
            if (rp->graphs == NULL)
                rp->graphs = loom_xcalloc(rp->nranks, sizeof *rp->graphs);
            share = rp->ngraphs++;
            rp->graphs[share].g = g;
            rp->graphs[share].rep = r;
            rp->graphs[share].dev = st.st_dev;
            rp->graphs[share].ino = st.st_ino;
            order_graph(&rp->graphs[share]);
            if ((rc = prepare_graph(rp, &rp->graphs[share], err)) < 0 ||
                (rc = check_acyclic(rp, g, err)) < 0)
                goto out;
            if (rp->graphs[share].host_colls)
                loom_warn("%s: %llu COMM_COLL_NODEs without comm_type but with is_cpu_op run as "
                          "CPU operations (the host side of a collective call)",
                          path, (unsigned long long)rp->graphs[share].host_colls);
        }
        rp->r[r].gi = &rp->graphs[share];
    }
out:
    for (int r = 0; r < rp->nranks; r++)
        free(paths[r]);
    free(paths);
    free(dig);
    free(sz);
    return rc;
}

/* Rule groups ({stride, size}) give each rank its own communicator of the
 * role: create one per (group, base) on first use, named "name@base", and
 * give every rank whose graph uses rules its own pg -> communicator table. */
static int resolve_rules(replay *rp, loom_err *err)
{
    int ng = rp->cfg->ngroups;
    int **by_num = loom_xcalloc(ng ? ng : 1, sizeof *by_num); /* per group: number -> comm */
    int rc = 0;
    for (int r = 0; r < rp->nranks && rc == 0; r++) {
        rank_state *rs = &rp->r[r];
        graph_info *gi = rs->gi;
        if (!gi->has_rules)
            continue;
        rs->comm = loom_xmalloc(gi->g->npg * sizeof *rs->comm);
        for (uint32_t p = 0; p < gi->g->npg; p++) {
            int ci = gi->comm_of_pg[p];
            if (ci >= -1) {
                rs->comm[p] = ci;
                continue;
            }
            int gx = RULE_OF(ci);
            const loom_group *grp = &rp->cfg->groups[gx];
            int S = grp->stride, N = grp->n, base = loom_group_base(grp, r);
            /* groups of a rule are numbered by their lowest rank */
            long num = (long)(base / ((long)S * N)) * S + base % S;
            if (by_num[gx] == NULL) {
                long count = ((long)(rp->nranks - 1) / ((long)S * N) + 1) * S;
                by_num[gx] = loom_xmalloc(count * sizeof **by_num);
                for (long k = 0; k < count; k++)
                    by_num[gx][k] = -1;
            }
            if (by_num[gx][num] < 0) {
                int *members = loom_xmalloc(N * sizeof *members);
                for (int k = 0; k < N; k++) {
                    members[k] = base + k * S;
                    if (members[k] >= rp->nranks) {
                        rc = loom_err_set(err, LOOM_EUSAGE,
                                          "comm group '%s' {stride: %d, size: %d}: rank %d's group "
                                          "would include rank %d, but the run has %d ranks",
                                          grp->name, S, N, r, members[k], rp->nranks);
                        free(members);
                        goto out;
                    }
                }
                char name[160];
                snprintf(name, sizeof name, "%s@%d", grp->name, base);
                by_num[gx][num] = add_comm(rp, name, members, N);
                free(members);
                if (by_num[gx][num] < 0) {
                    rc = LOOM_EUSAGE;
                    goto out;
                }
            }
            rs->comm[p] = by_num[gx][num];
        }
    }
out:
    for (int g = 0; g < ng; g++)
        free(by_num[g]);
    free(by_num);
    return rc;
}

/* Every member of a collective's communicator must be that communicator's
 * member: a rank that issues a collective on a group it is not in can
 * never be matched. */
static int check_membership(replay *rp, loom_err *err)
{
    for (int r = 0; r < rp->nranks; r++) {
        graph_info *gi = rp->r[r].gi;
        for (uint32_t p = 0; p < gi->g->npg; p++) {
            int ci = comm_of(&rp->r[r], p);
            if (ci >= 0 && member_index(&rp->comms[ci], r) < 0)
                return loom_err_set(err, LOOM_ETRACE,
                                    "%s: rank %d issues collectives on group '%s', which does not "
                                    "include it", gi->g->path, r, rp->comms[ci].name);
        }
    }
    return 0;
}

/* ---- deadlock report ------------------------------------------------------ */

static void describe_stuck(replay *rp, int max_ranks)
{
    char buf[4000];
    size_t off = 0;
    int stuck = 0;
    for (int r = 0; r < rp->nranks; r++)
        stuck += rp->r[r].left > 0;
    off += snprintf(buf + off, sizeof buf - off,
                    "simulation stalled at %.3f us: %d of %d ranks cannot finish", 
                    (double)sim_now(rp->eng) / SIM_PS_PER_US, stuck, rp->nranks);
    int listed = 0;
    for (int r = 0; r < rp->nranks && off < sizeof buf - 200; r++) {
        rank_state *rs = &rp->r[r];
        if (rs->left == 0)
            continue;
        if (listed++ == max_ranks) {
            off += snprintf(buf + off, sizeof buf - off, "\n  ... and %d more ranks", stuck - max_ranks);
            break;
        }
        const et_graph *g = rs->gi->g;
        uint64_t blocked = 0;
        off += snprintf(buf + off, sizeof buf - off, "\n  rank %d (%s):", r, g->path);
        int shown = 0;
        for (size_t i = 0; i < g->n && off < sizeof buf - 200; i++) {
            const et_gnode *n = &g->nodes[i];
            if (rs->state[i] == ST_WAIT) {
                blocked++;
                continue;
            }
            if (rs->state[i] != ST_ISSUED || shown >= 4)
                continue;
            shown++;
            if (n->type == ET_COMM_COLL_NODE) {
                int ci = comm_of(rs, n->pg);
                comm *c = &rp->comms[ci];
                off += snprintf(buf + off, sizeof buf - off,
                                "\n    node %llu '%s': %s on group '%s' waits for ranks",
                                (unsigned long long)n->id, et_gnode_name(g, n),
                                et_coll_type_name(n->comm_type), c->name[0] ? c->name : "all");
                int missing = 0;
                for (size_t q = 0; q < c->nq; q++) {
                    coll_inst *in = c->q[q];
                    if (in == NULL || in == &inst_done || member_index(c, r) < 0 || in->node[member_index(c, r)] != i)
                        continue;
                    for (int m = 0; m < c->n && off < sizeof buf - 100; m++)
                        if (in->node[m] == UINT32_MAX && missing++ < 8)
                            off += snprintf(buf + off, sizeof buf - off, " %d", c->ranks[m]);
                }
                if (missing > 8)
                    off += snprintf(buf + off, sizeof buf - off, " (and %d more)", missing - 8);
                off += snprintf(buf + off, sizeof buf - off, " that never issue it");
            } else if (n->type == ET_COMM_RECV_NODE) {
                off += snprintf(buf + off, sizeof buf - off,
                                "\n    node %llu '%s': receive from rank %d (tag %d, %llu bytes) has "
                                "no matching send",
                                (unsigned long long)n->id, et_gnode_name(g, n), n->comm_src,
                                n->comm_tag, (unsigned long long)n->comm_size);
            } else {
                off += snprintf(buf + off, sizeof buf - off, "\n    node %llu '%s' (%s) in flight",
                                (unsigned long long)n->id, et_gnode_name(g, n),
                                et_node_type_name(n->type));
            }
        }
        if (blocked && off < sizeof buf - 200)
            off += snprintf(buf + off, sizeof buf - off,
                            "\n    %llu node%s wait on dependencies that never complete",
                            (unsigned long long)blocked, blocked == 1 ? "" : "s");
    }
    loom_err_set(rp->err, LOOM_ESIM, "%s", buf);
}

/* ---- entry ---------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void replay_free(replay *rp)
{
    for (int r = 0; r < rp->nranks && rp->r; r++) {
        rank_state *rs = &rp->r[r];
        free(rs->pending);
        free(rs->state);
        free(rs->t0);
        free(rs->comm);
        free(rs->seq);
        for (int k = 0; k < RES_N; k++) {
            free(rs->ready[k].fifo);
            free(rs->ready[k].heap);
        }
    }
    free(rp->r);
    for (int q = 0; q < rp->ngraphs; q++) {
        et_graph_free(rp->graphs[q].g);
        free(rp->graphs[q].comm_of_pg);
        free(rp->graphs[q].p2p_rule);
        free(rp->graphs[q].res);
        free(rp->graphs[q].pos);
        free(rp->graphs[q].at);
    }
    free(rp->graphs);
    for (int i = 0; i < rp->ncomms; i++) {
        comm *c = &rp->comms[i];
        for (size_t q = 0; q < c->nq; q++)
            if (c->q[q] && c->q[q] != &inst_done) {
                free(c->q[q]->node);
                free(c->q[q]);
            }
        free(c->q);
        free(c->ranks);
        free(c->name);
        net_group_destroy(c->ng);
    }
    free(rp->comms);
    p2p_entry *e, *tmp;
    HASH_ITER(hh, rp->p2p, e, tmp) {
        HASH_DEL(rp->p2p, e);
        while (e->sends) {
            msg *m = e->sends;
            e->sends = m->next;
            free(m);
        }
        while (e->recvs) {
            recv_wait *w = e->recvs;
            e->recvs = w->next;
            free(w);
        }
        free(e);
    }
    sim_engine_destroy(rp->eng);
    net_model_destroy(rp->net);
}

int loom_replay(const loom_cfg *cfg, const loom_replay_opts *opts, loom_result *res, loom_err *err)
{
    double t0 = now_s();
    memset(res, 0, sizeof *res);
    replay rp;
    memset(&rp, 0, sizeof rp);
    rp.cfg = cfg;
    rp.res = res;
    rp.obs = opts->obs;
    rp.err = err;
    int rc = 0;

    rp.net = net_model_create(&cfg->topo, &cfg->sys, err);
    if (rp.net == NULL) {
        rc = LOOM_EUSAGE;
        goto out;
    }
    rp.nranks = net_npus(rp.net);
    rp.r = loom_xcalloc(rp.nranks, sizeof *rp.r);
    { /* the all-ranks communicator is index 0 */
        int *all = loom_xmalloc(rp.nranks * sizeof *all);
        for (int r = 0; r < rp.nranks; r++)
            all[r] = r;
        int ci = add_comm(&rp, "", all, rp.nranks);
        free(all);
        if (ci < 0) {
            rc = LOOM_EUSAGE;
            goto out;
        }
    }
    if ((rc = load_ranks(&rp, opts->prefix, err)) < 0 || (rc = resolve_rules(&rp, err)) < 0 ||
        (rc = check_membership(&rp, err)) < 0)
        goto out;
    rp.eng = sim_engine_create(sizeof(ev) > NET_EV_PAYLOAD_MAX ? sizeof(ev) : NET_EV_PAYLOAD_MAX,
                               &rp, err);
    if (rp.eng == NULL) {
        rc = LOOM_EINTERNAL;
        goto out;
    }

    { /* per-rank counters: refuse a run that cannot fit before allocating it */
        double need = 0;
        for (int r = 0; r < rp.nranks; r++)
            need += (double)rp.r[r].gi->g->n *
                    (sizeof(uint32_t) + 1 + (opts->obs && opts->obs->node ? sizeof(sim_time) : 0));
        if (need > (double)loom_memory_budget()) {
            char b1[32], b2[32];
            rc = loom_err_set(err, LOOM_ESIM,
                              "%d ranks x their nodes need about %s of per-rank counters, more than "
                              "the %s loom may use (set LOOM_MEMORY_LIMIT to change it)",
                              rp.nranks, loom_fmt_bytes(need, b1),
                              loom_fmt_bytes((double)loom_memory_budget(), b2));
            goto out;
        }
    }
    /* per-rank counters; ranks sharing a graph share nothing else */
    for (int r = 0; r < rp.nranks; r++) {
        rank_state *rs = &rp.r[r];
        const et_graph *g = rs->gi->g;
        rs->pending = loom_xmalloc((g->n ? g->n : 1) * sizeof *rs->pending);
        rs->state = loom_xcalloc(g->n ? g->n : 1, 1);
        rs->seq = loom_xcalloc(rp.ncomms, sizeof *rs->seq);
        for (int k = 0; k < RES_N; k++)
            rs->cur[k] = -1;
        rs->comm_rec = -1;
        if (opts->obs && opts->obs->node)
            rs->t0 = loom_xcalloc(g->n ? g->n : 1, sizeof *rs->t0);
        rs->left = g->n;
        for (size_t i = 0; i < g->n; i++)
            rs->pending[i] = g->nodes[i].ndata + (cfg->ctrl_deps ? g->nodes[i].nctrl : 0);
        res->nodes += g->n;
    }
    /* seed: roots of every rank, in id order per resource */
    for (int r = 0; r < rp.nranks && !rp.failed; r++) {
        rank_state *rs = &rp.r[r];
        for (size_t i = 0; i < rs->gi->g->n; i++)
            if (rs->pending[i] == 0 && rs->state[i] == ST_WAIT)
                make_ready(&rp, r, (uint32_t)i);
    }
    if (rp.obs && rp.obs->progress) {
        while (sim_run_budget(rp.eng, SIM_TIME_MAX, 1 << 16) > 0)
            rp.obs->progress(rp.obs->progress_ctx, sim_now(rp.eng), sim_events(rp.eng));
    } else {
        sim_run(rp.eng, SIM_TIME_MAX);
    }
    if (rp.failed) {
        rc = LOOM_ESIM;
        goto out;
    }
    int stuck = 0;
    for (int r = 0; r < rp.nranks; r++)
        stuck |= rp.r[r].left > 0;
    if (stuck) {
        describe_stuck(&rp, opts->max_stuck > 0 ? opts->max_stuck : 8);
        rc = LOOM_ESIM;
        goto out;
    }
    if (rp.ignored_dims)
        loom_warn("%llu collective%s list more involved_dim entries than the network's %d "
                  "dimensions; the extra entries are ignored",
                  (unsigned long long)rp.ignored_dims, rp.ignored_dims == 1 ? "" : "s",
                  cfg->topo.ndims);

    res->nranks = rp.nranks;
    res->ranks = loom_xcalloc(rp.nranks, sizeof *res->ranks);
    for (int r = 0; r < rp.nranks; r++) {
        rank_state *rs = &rp.r[r];
        loom_rank_stats *st = &res->ranks[r];
        rs->acc[rs->mask] += rs->finish - rs->last; /* close the last interval */
        st->finish = rs->finish;
        st->nodes = rs->done;
        for (unsigned m = 0; m < A_N; m++) {
            if (m & A_COMPUTE)
                st->compute += rs->acc[m];
            if (m & A_CPU)
                st->cpu += rs->acc[m];
            if (m & A_MEM)
                st->mem += rs->acc[m];
            if (m & A_COMM)
                st->comm += rs->acc[m];
            if ((m & A_COMM) && !(m & A_COMPUTE))
                st->exposed_comm += rs->acc[m];
            if ((m & A_COMM) && (m & A_COMPUTE))
                st->overlapped_comm += rs->acc[m];
            if (m == 0)
                st->idle += rs->acc[m];
        }
        if (st->finish > res->step_time)
            res->step_time = st->finish;
    }
    for (size_t k = 0; k < res->ncolls; k++) /* sum over members -> mean */
        res->colls[k].exposed /= res->colls[k].nranks;
    res->groups = loom_xcalloc(rp.ncomms, sizeof *res->groups);
    res->ngroups = rp.ncomms;
    for (int i = 0; i < rp.ncomms; i++) {
        res->groups[i] = rp.comms[i].name;
        rp.comms[i].name = NULL;
    }
    /* the collective records' group pointers stay valid: the names moved
     * to res->groups, they were not copied */
out:
    if (rc == 0 && rp.net) {
        res->nlinks = net_top_links(rp.net, res->links, 10);
        net_flow_totals_get(rp.net, &res->flow);
    }
    res->events = rp.eng ? sim_events(rp.eng) : 0;
    res->queue_high = rp.eng ? sim_high_water(rp.eng) : 0;
    res->distinct_graphs = rp.ngraphs;
    res->roofline_fallbacks = rp.fallbacks;
    res->p2p_messages = rp.messages;
    replay_free(&rp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    res->peak_rss_bytes = ru.ru_maxrss * 1024L;
    res->wall_seconds = now_s() - t0;
    if (rc < 0) {
        loom_result_free(res);
        return rc;
    }
    return 0;
}

void loom_result_free(loom_result *res)
{
    free(res->ranks);
    free(res->colls);
    for (int i = 0; i < res->ngroups; i++)
        free(res->groups[i]);
    free(res->groups);
    res->ranks = NULL;
    res->colls = NULL;
    res->groups = NULL;
    res->ngroups = 0;
    res->ncolls = 0;
}
