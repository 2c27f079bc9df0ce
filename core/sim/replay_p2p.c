/*
 * replay_p2p.c: point-to-point messages of the replay (replay.c runs the
 * rest): sends and receives match by (src, dst, tag, size), first in first
 * out, in a uthash table; a send completes when its message arrives
 * (eager), a receive at max(arrival, posting).  With comm-model captured a
 * message waits for its receive and takes the lesser traced duration of
 * the two nodes, and a collective the least of its members' (docs/MODEL.md
 * 12; the collective's part is at the end, beside the message's).
 */
#include "replay_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

typedef struct msg { /* one send, matched or waiting for its receive */
    struct replay *rp;     /* for the network's completion callback */
    int src, dst;          /* ranks (with symmetry collapse, the representatives
                            * that replay the two ends) */
    int net_dst;           /* the destination the network times: the real one */
    uint32_t snode;        /* send node index on src */
    int64_t rnode;         /* recv node index on dst, -1 until matched */
    int arrived;           /* its last byte has arrived */
    int started;           /* its transfer is under way (comm-model: captured
                            * starts it when the receive is posted) */
    sim_time t_start;      /* when it was put on its way, */
    uint64_t by;           /* by which handler (the tie check, replay_int.h), */
    int by_dst;            /*   the receiver's (1) or the sender's (0) */
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

/* A send's destination or a receive's source as a global rank: the trace
 * gives a rank, or (pg_name naming a rule group) an index in the group. */
static void on_msg_done(sim_engine *eng, void *ctx);
static void on_msg_timer(sim_engine *eng, void *payload, void *ctx);

int rpl_peer_rank(const replay *rp, int rank, uint32_t pg, int idx)
{
    int gx = rp->r[rank].gi->p2p_rule[pg];
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

/* Puts message m on its way: at once through the network, or (captured)
 * for the lesser traced duration of its send and receive, which must be
 * matched by then. */
static void msg_start(replay *rp, msg *m, uint64_t bytes, int by_dst)
{
    m->started = 1;
    m->t_start = sim_now(rp->eng);
    m->by = rp->hid;
    m->by_dst = by_dst;
    if (rp->cfg->comm_captured) {
        uint64_t ds = rp->r[m->src].gi->g->nodes[m->snode].duration_ns;
        uint64_t dr = rp->r[m->dst].gi->g->nodes[m->rnode].duration_ns;
        uint64_t d = ds && dr ? (ds < dr ? ds : dr) : ds ? ds : dr; /* 0: no duration */
        if (d > 0) {
            rpl_schedule_timer(rp, rpl_ns_to_ps(d), on_msg_timer, m);
            return;
        }
        rp->captured_fallbacks += rpl_class_size(rp, m->dst);
    }
    net_p2p_start(rp->net, rp->eng, m->src, m->net_dst, bytes, on_msg_done, m);
}

void rpl_send_issue(replay *rp, int rank, uint32_t i)
{
    const et_gnode *n = &rp->r[rank].gi->g->nodes[i];
    int dst = rpl_peer_rank(rp, rank, n->pg, n->comm_dst);
    if (dst >= rp->nranks) {
        rpl_fail(rp, "%s: node %llu: rank %d sends to rank %d, but the run has %d rank%s",
             rp->r[rank].gi->g->path, (unsigned long long)n->id, rank, dst, rp->nranks,
             rp->nranks == 1 ? "" : "s");
        return;
    }
    msg *m = loom_xcalloc(1, sizeof *m);
    m->rp = rp;
    m->src = rank;
    m->net_dst = dst;
    if (rp->rep) /* the receive is posted by the rank that replays dst */
        dst = rp->rep[dst];
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
    if (!rp->cfg->comm_captured || m->rnode >= 0) /* captured: when the receive is posted */
        msg_start(rp, m, rpl_comm_scaled(rp, n->comm_size), 0);
}

void rpl_recv_post(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    const et_gnode *n = &rs->gi->g->nodes[i];
    *PS(rs, i) = ps_with_state(*PS(rs, i), ST_ISSUED);
    if (rp->obs && rp->obs->node)
        rs->t0[i] = sim_now(rp->eng);
    rs->recvs++;
    rpl_update_mask(rp, rs);
    int src = rpl_peer_rank(rp, rank, n->pg, n->comm_src);
    if (src >= rp->nranks) {
        rpl_fail(rp, "%s: node %llu: rank %d receives from rank %d, but the run has %d rank%s",
             rs->gi->g->path, (unsigned long long)n->id, rank, src, rp->nranks,
             rp->nranks == 1 ? "" : "s");
        return;
    }
    if (rp->rep) /* the send comes from the rank that replays src */
        src = rp->rep[src];
    if (rp->rep) /* receives match in posting order: one more "lane" */
        rpl_tie_recv(rp, rank,
                     (uint32_t)(((uint64_t)src * 0x9e3779b1u) ^ ((uint64_t)n->comm_tag << 16) ^
                                n->comm_size ^ (n->comm_size >> 32)) | 1u);
    p2p_entry *e = p2p_find(rp, src, rank, n->comm_tag, n->comm_size);
    if (e->sends) { /* the message was sent already */
        msg *m = e->sends;
        e->sends = m->next;
        if (e->sends == NULL)
            e->sends_tail = NULL;
        if (m->arrived) { /* and has arrived: done now */
            free(m);
            rp->messages += rpl_class_size(rp, rank);
            rpl_post_node_event(rp, rank, i, 0);
        } else {
            m->rnode = i;
            if (!m->started)
                msg_start(rp, m, rpl_comm_scaled(rp, n->comm_size), 1);
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

int rpl_recv_hint(replay *rp, int rank, uint32_t i, char *buf, size_t cap)
{
    const et_gnode *n = &rp->r[rank].gi->g->nodes[i];
    int src = rpl_peer_rank(rp, rank, n->pg, n->comm_src), found = 0;
    if (rp->rep && src >= 0 && src < rp->nranks)
        src = rp->rep[src];
    buf[0] = '\0';
    p2p_entry *e, *tmp;
    HASH_ITER(hh, rp->p2p, e, tmp) {
        if (e->sends == NULL || e->key.src != src || e->key.dst != rank ||
            e->key.tag != n->comm_tag || e->key.size == n->comm_size)
            continue;
        const et_graph *sg = rp->r[src].gi->g;
        snprintf(buf, cap, "; rank %d sent %llu bytes with that tag (its node %llu): a send and "
                 "its receive must give the same comm_size", src, (unsigned long long)e->key.size,
                 (unsigned long long)sg->nodes[e->sends->snode].id);
        found = 1;
        break;
    }
    return found;
}

/* Sends whose receive never came: the run can finish (a send completes on
 * arrival), but the traces disagree, so say so, with the first one in
 * (src, dst, tag) order so the message does not depend on hash order. */
void rpl_warn_unreceived(replay *rp)
{
    uint64_t n = 0;
    const p2p_entry *first = NULL;
    p2p_entry *e, *tmp;
    HASH_ITER(hh, rp->p2p, e, tmp) {
        if (e->sends == NULL)
            continue;
        for (const msg *m = e->sends; m; m = m->next)
            n += rpl_class_size(rp, m->src);
        const p2p_key *k = &e->key, *f = first ? &first->key : NULL;
        if (!f || k->src < f->src || (k->src == f->src && (k->dst < f->dst ||
            (k->dst == f->dst && (k->tag < f->tag || (k->tag == f->tag && k->size < f->size))))))
            first = e;
    }
    if (n == 0)
        return;
    const et_graph *g = rp->r[first->key.src].gi->g;
    loom_warn("%llu send%s never received: e.g. %s: node %llu, rank %d to rank %d, tag %d, %llu "
              "bytes, has no COMM_RECV_NODE on rank %d with that source, tag and comm_size; "
              "loom completed %s on arrival, as if received",
              (unsigned long long)n, n == 1 ? " was" : "s were", g->path,
              (unsigned long long)g->nodes[first->sends->snode].id, first->key.src,
              first->key.dst, first->key.tag, (unsigned long long)first->key.size,
              first->key.dst, n == 1 ? "it" : "each");
}

void rpl_recv_done(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    rs->recvs--;
    rpl_update_mask(rp, rs);
    rpl_node_done(rp, rank, i);
}

static void msg_arrived(replay *rp, msg *m)
{
    if (rp->rep) /* symmetry collapse: its one assumption */
        rpl_tie_event(rp, m->src, sim_now(rp->eng), m->t_start,
                      m->by_dst && m->src != m->net_dst ? ++rp->hid : m->by); /* the other end's: */
    rpl_node_done(rp, m->src, m->snode); /* eager: the send completes on arrival */
    if (m->rnode >= 0) {
        if (rp->rep)
            rpl_tie_event(rp, m->dst, sim_now(rp->eng), m->t_start, /* foreign */
                          !m->by_dst && m->src != m->net_dst ? ++rp->hid : m->by);
        rp->messages += rpl_class_size(rp, m->dst);
        rpl_recv_done(rp, m->dst, (uint32_t)m->rnode);
        free(m);
    } else {
        m->arrived = 1; /* stays in the FIFO until its receive is posted */
    }
}

static void on_msg_timer(sim_engine *eng, void *payload, void *ctx)
{
    (void)ctx;
    on_msg_done(eng, ((timer_ev *)payload)->what);
}

static void on_msg_done(sim_engine *eng, void *ctx)
{
    msg *m = ctx;
    m->rp->hid++;
    if (sim_now(eng) == SIM_TIME_MAX) {
        const et_graph *g = m->rp->r[m->src].gi->g;
        rpl_fail(m->rp, "%s: node %llu: a message from rank %d to rank %d: simulated time overflows "
                    "(past %.3g s)",
             g->path, (unsigned long long)g->nodes[m->snode].id, m->src, m->dst,
             (double)SIM_TIME_MAX / SIM_PS_PER_S);
    }
    if (!m->rp->failed)
        msg_arrived(m->rp, m);
    else if (m->rnode >= 0) /* matched: no FIFO holds it any more */
        free(m);
}


void rpl_p2p_free(replay *rp)
{
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
}

/* ---- comm-model: captured -------------------------------------------------
 * A collective takes the least traced duration among its members' nodes:
 * each member's measured kernel time includes waiting for the members that
 * came later, and the last to arrive waited least, so the least is the
 * transfer itself (docs/IMPORT.md).  A message likewise takes the lesser
 * of its send's and its receive's durations, from when both are posted.
 * Nodes without a duration (0) are left out of the least; a transfer none
 * of whose nodes has one falls back to the network model, counted. */

sim_time rpl_ns_to_ps(uint64_t ns)
{
    return ns > (uint64_t)(SIM_TIME_MAX / SIM_PS_PER_NS) ? SIM_TIME_MAX
                                                         : (sim_time)ns * SIM_PS_PER_NS;
}

void rpl_schedule_timer(replay *rp, sim_time dur, sim_handler fn, void *what)
{
    sim_time now = sim_now(rp->eng);
    timer_ev *t = sim_schedule(rp->eng, dur >= SIM_TIME_MAX - now ? SIM_TIME_MAX : now + dur, fn);
    t->what = what;
}

int rpl_captured_coll(replay *rp, coll_inst *in, loom_coll_record *cr, sim_handler done)
{
    const comm *c = &rp->comms[in->comm];
    uint64_t least = UINT64_MAX;
    for (int m = 0; m < c->n; m++) {
        const rank_state *rs = &rp->r[c->ranks[m]];
        uint64_t d = rs->gi->g->nodes[in->node[m]].duration_ns;
        if (d > 0 && d < least) /* a member without a duration says nothing */
            least = d;
    }
    if (least == UINT64_MAX) {
        rp->captured_fallbacks += c->weight;
        return 0;
    }
    cr->algo = rpl_algo_label(rp, "captured");
    rpl_schedule_timer(rp, rpl_ns_to_ps(least), done, in);
    return 1;
}
