/*
 * replay.c: the per-rank scheduler and the run (replay.h says what it
 * does; replay_int.h holds the state and its invariants).  Nodes become
 * ready as their dependencies complete, queue per resource in id order,
 * and run one at a time per resource; collectives join on their
 * communicator and start when the last member joins; sends and receives
 * match by (src, dst, tag, size) in replay_p2p.c.  Setup lives beside it:
 * the run's state in replay_setup.c, rank files in traces/et_set.c,
 * per-graph preparation in replay_graph.c, communicators in comms.c, the
 * host's launches in replay_host.c, the stuck report in replay_stuck.c.
 */
#include "replay_int.h"
#include "replay_queue.h"
#include "sbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* The one event replay schedules itself: a node finishing, on n ranks in
 * a row (rank, rank + 1, ...: without symmetry collapse, consecutive ranks
 * of one graph whose same node ends at the same time, scheduled one right
 * after the other, are one event handled rank by rank: sim_last_payload).
 * Collectives and messages complete through the network model's callbacks. */
typedef struct ev {
    int32_t rank;   /* whose node (the first of n) */
    uint32_t node;  /* node index */
    sim_time at;    /* when it was scheduled, */
    uint64_t by;    /* by which handler (the tie check, replay_int.h) */
    uint32_t n;     /* ranks */
    const graph_info *gi; /* the graph those ranks replay */
} ev;


/* ---- accounting ----------------------------------------------------------- */

/* Adds the time since the last change to the bucket of the current mask
 * (and, while communication is exposed, to the collective in flight). */
static void close_interval_at(replay *rp, rank_state *rs, sim_time now)
{
    sim_time dt = now - rs->last;
    if ((rs->mask & A_COMM) && !(rs->mask & A_COMPUTE)) { /* each collective in flight: */
        const graph_info *gi = rs->gi;
        for (int k = 0, found = 0; k < gi->ncomm_lanes && found < rs->busy[RES_COMM]; k++) {
            const lane *ln = &rs->lanes[gi->comm_lanes[k]];
            if (ln->rec >= 0) { /* only busy lanes hold one */
                /* summed; averaged at the end */
                rp->res->colls[ln->rec].exposed += dt * (sim_time)ln->mult;
                found++;
            }
        }
    }
    rs->acc[rs->mask] += dt;
    rs->last = now;
}

/* Most calls find nothing to add (a node ending as the next starts): that
 * test inline, the work out of line. */
static inline void close_interval(replay *rp, rank_state *rs)
{
    sim_time now = sim_now(rp->eng);
    if (now != rs->last)
        close_interval_at(rp, rs, now);
}

static inline void set_mask(replay *rp, rank_state *rs, unsigned mask)
{
    if (mask == rs->mask)
        return;
    close_interval(rp, rs);
    rs->mask = mask;
}

static inline void update_mask(replay *rp, rank_state *rs)
{
    /* one load per counter: a wider load of busy[] right after the store of
     * one of them cannot be forwarded from it and waits for the store */
    unsigned m = (rs->busy[RES_COMPUTE] ? A_COMPUTE : 0) | (rs->busy[RES_CPU] ? A_CPU : 0) |
                 (rs->busy[RES_COMM] || rs->recvs ? A_COMM : 0) | (rs->busy[RES_MEM] ? A_MEM : 0);
    set_mask(rp, rs, m);
}

void rpl_update_mask(replay *rp, rank_state *rs) { update_mask(rp, rs); }

/* A lane of kind res takes a node, or frees one: only that counter moved,
 * so the mask (which update_mask would recompute from all of them) changes
 * only when it leaves or reaches 0. */
static const unsigned res_bit[RES_N] = {
    [RES_COMPUTE] = A_COMPUTE, [RES_COMM] = A_COMM, [RES_CPU] = A_CPU, [RES_MEM] = A_MEM};

static inline void busy_inc(replay *rp, rank_state *rs, int res)
{
    if (rs->busy[res]++ == 0)
        set_mask(rp, rs, rs->mask | res_bit[res]);
}

static inline void busy_dec(replay *rp, rank_state *rs, int res)
{
    if (--rs->busy[res] == 0 && !(res == RES_COMM && rs->recvs))
        set_mask(rp, rs, rs->mask & ~res_bit[res]);
}

/* --compute-scale and --comm-scale (loom_cfg): ASTRA-sim's factors on
 * compute times and communication sizes, rounded to the picosecond and
 * the byte; 0 or 1 leaves the value as it is. */
static sim_time compute_scaled(const replay *rp, sim_time t)
{
    double s = rp->cfg->compute_scale, k = rp->cfg->stack_scale;
    if (k > 0 && k != 1) /* a stack profile (config_stack.c) on top */
        s = (s > 0 ? s : 1) * k;
    return s > 0 && s != 1 ? (sim_time)llround((double)t * s) : t;
}

uint64_t rpl_comm_scaled(const replay *rp, uint64_t bytes)
{
    double s = rp->cfg->comm_scale;
    return s > 0 && s != 1 ? (uint64_t)llround((double)bytes * s) : bytes;
}

/* ---- failure -------------------------------------------------------------- */

void rpl_fail(replay *rp, const char *fmt, ...)
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

static inline void try_issue(replay *rp, rank_state *rs, int rank, int l);
void rpl_node_done(replay *rp, int rank, uint32_t i);

/* Makes node i of rank ready: queue it on its resource, or start it. */
static inline void make_ready(replay *rp, int rank, uint32_t i);
static inline void ready_on_lane(replay *rp, int rank, rank_state *rs, ps_word *w, uint32_t i,
                                 int l, uint32_t key);

/* What completing node i of a graph needs of the graph, the same on every
 * rank replaying it: a batch of ranks (on_event, coll_done) reads it once,
 * with the first DF_SUCC successors' part (the rest found per rank). */
enum { DF_SUCC = 4 };
typedef struct done_facts {
    const graph_info *gi;
    uint32_t i;
    int res;               /* its RES_* */
    int lane;              /* its lane; -1 without one (RES_NONE) */
    uint32_t nsucc;        /* successors it releases */
    const uint32_t *succ;  /* their indices */
    size_t off;            /* its ps word's offset in a rank's ps */
    struct {               /* the first DF_SUCC successors': */
        size_t off;        /* ps word's offset */
        int lane;          /* lane, -1 without one (make_ready then) */
        uint32_t key;      /* queue key on it */
    } s[DF_SUCC];
} done_facts;

static inline void facts_of(const replay *rp, const graph_info *gi, uint32_t i, done_facts *d)
{
    const et_graph *g = gi->g;
    const et_gnode *n = &g->nodes[i];
    d->gi = gi;
    d->i = i;
    d->res = gi->res[i];
    d->lane = d->res != RES_NONE ? lane_of(gi, i) : -1;
    d->nsucc = n->nsucc_data + (rp->cfg->ctrl_deps ? n->nsucc_ctrl : 0);
    d->succ = g->succ + n->succ;
    d->off = (size_t)i * gi->nshare;
    for (uint32_t k = 0; k < d->nsucc && k < DF_SUCC; k++) {
        uint32_t j = d->succ[k];
        d->s[k].off = (size_t)j * gi->nshare;
        d->s[k].lane = gi->res[j] != RES_NONE ? lane_of(gi, j) : -1;
        d->s[k].key = gi->lidx[j];
    }
}

static inline __attribute__((always_inline)) void release(replay *rp, int rank,
                                                          const done_facts *d)
{
    rank_state *rs = &rp->r[rank];
    for (uint32_t k = 0; k < d->nsucc; k++) {
        uint32_t s = d->succ[k];
        ps_word *w = k < DF_SUCC ? rs->ps + d->s[k].off : PS(rs, s);
        if (__builtin_expect(ps_pend(*w) == PS_BIG, 0)) { /* counted in big_block */
            if (rpl_big_release(rs, s))
                make_ready(rp, rank, s);
            continue;
        }
        LOOM_ASSERT(ps_pend(*w) > 0);
        if (ps_pend(--*w) != 0)
            continue;
        if (k < DF_SUCC && d->s[k].lane >= 0)
            ready_on_lane(rp, rank, rs, w, s, d->s[k].lane, d->s[k].key);
        else
            make_ready(rp, rank, s);
    }
}

static void on_event(sim_engine *eng, void *payload, void *ctx);

/* Node i of rank (d: its facts) completes now. */
static inline __attribute__((always_inline)) void node_done(replay *rp, int rank,
                                                            const done_facts *d)
{
    rank_state *rs = &rp->r[rank];
    uint32_t i = d->i;
    ps_word *w = rs->ps + d->off;
    LOOM_ASSERT(rs->gi == d->gi && ps_state(*w) == ST_ISSUED);
    *w = ps_with_state(*w, ST_DONE);
    rs->done++;
    rs->finish = sim_now(rp->eng);
    int res = d->res;
    lane *ln = d->lane >= 0 ? &rs->lanes[d->lane] : NULL;
    if (rp->obs && rp->obs->node)
        rp->obs->node(rp->obs->node_ctx, rank, rs->gi->g, i, res_public(res), rs->t0[i], rs->finish,
                      res == RES_COMM ? ln->rec : -1);
    if (__builtin_expect(rp->sms_on, 0) && res == RES_COMM && rs->gi->csms[i])
        rpl_sms_change(rp, rank, -(int)rs->gi->csms[i]); /* before its successors start */
    int held = 0;
    if (ln && ln->cur == i) {
        if (rp->rep)
            rpl_tie_free(rp, rank, d->lane);
        /* the time up to now is this collective's too: closed before its
         * record leaves the lane, even when another comm lane (or a posted
         * receive) keeps the mask as it is */
        if (res == RES_COMM)
            close_interval(rp, rs);
        ln->cur = LANE_FREE;
        held = 1;
        if (res == RES_COMM)
            ln->rec = -1;
    }
    release(rp, rank, d);
    if (ln)
        try_issue(rp, rs, rank, d->lane);
    /* The lane's count drops only now: a lane that took its next node at
     * once kept its kind busy, so the mask does not change twice at this
     * instant (every change at one instant closes a zero-length interval
     * after the first, which closes [last, now) with the mask that held
     * before it: the accounting is the same in either order) */
    if (held)
        busy_dec(rp, rs, res);
}

void rpl_node_done(replay *rp, int rank, uint32_t i)
{
    done_facts d;
    facts_of(rp, rp->r[rank].gi, i, &d);
    node_done(rp, rank, &d);
}

/* Node i of rank is due at now + dur on handler fn: its end (on_event) or
 * its launch's (on_launch). */
static inline void post_event(replay *rp, int rank, uint32_t i, sim_time dur, sim_handler fn)
{
    sim_time now = sim_now(rp->eng);
    if (dur < 0 || dur >= SIM_TIME_MAX - now) {
        const et_graph *g = rp->r[rank].gi->g;
        rpl_fail(rp, "%s: node %llu: simulated time overflows (past %.3g s)", g->path,
             (unsigned long long)g->nodes[i].id, (double)SIM_TIME_MAX / SIM_PS_PER_S);
        return;
    }
    ev *e;
    const graph_info *gi = rp->r[rank].gi;
    if (!rp->rep && (e = sim_last_payload(rp->eng, now + dur, fn)) != NULL &&
        e->node == i && e->rank + (int64_t)e->n == rank && e->gi == gi) {
        e->n++; /* handled right after the ranks before it, as its own event would be */
        return;
    }
    e = sim_schedule(rp->eng, now + dur, fn);
    e->rank = rank;
    e->node = i;
    e->gi = gi;
    e->at = now;
    e->by = rp->hid;
    e->n = 1;
}

static inline void post_node_event(replay *rp, int rank, uint32_t i, sim_time dur)
{
    post_event(rp, rank, i, dur, on_event);
}

static void on_launch(sim_engine *eng, void *payload, void *ctx);

/* Node i of rank may start now unless its launch has not ended (the host,
 * replay_host.c): then 1, and on_launch starts it when it has (cold). */
static __attribute__((noinline, cold)) int host_wait_at(replay *rp, int rank, uint32_t i)
{
    const graph_info *gi = rp->r[rank].gi;
    sim_time t = rpl_host_ready(rp, gi, i), now = sim_now(rp->eng);
    if (t <= now)
        return 0;
    rp->host_waits += rpl_class_size(rp, rank);
    post_event(rp, rank, i, t - now, on_launch);
    return 1;
}

static inline int host_wait(replay *rp, int rank, uint32_t i)
{
    return rp->r[rank].gi->hlb != NULL && host_wait_at(rp, rank, i);
}

void rpl_post_node_event(replay *rp, int rank, uint32_t i, sim_time dur)
{
    post_node_event(rp, rank, i, dur);
}

/* ---- collectives ---------------------------------------------------------- */

static void on_coll_done(sim_engine *eng, void *ctx);

static void on_coll_timer(sim_engine *eng, void *payload, void *ctx)
{
    (void)ctx;
    on_coll_done(eng, ((timer_ev *)payload)->what);
}

/* The custom algorithm that runs this collective, or NULL; a plan for
 * another member count fails the run (ASTRA-sim would wait forever on
 * positions the group lacks).  Part of the system file's choice, so a
 * whole-collective algorithm chosen instead (`loom compare --algorithms`)
 * replaces it as it replaces the *-implementation lists. */
static const net_cplan *custom_plan(replay *rp, const coll_inst *in, const comm *c)
{
    if (rp->cfg->sys.calgo != NET_CALGO_LISTS)
        return NULL;
    int op = in->type == ET_ALL_REDUCE       ? NET_IMPL_ALL_REDUCE
             : in->type == ET_ALL_GATHER     ? NET_IMPL_ALL_GATHER
             : in->type == ET_REDUCE_SCATTER ? NET_IMPL_REDUCE_SCATTER
             : in->type == ET_ALL_TO_ALL     ? NET_IMPL_ALL_TO_ALL
                                             : -1;
    const net_cplan *p = op >= 0 ? rp->cfg->custom[op] : NULL;
    if (p && p->members != c->n)
        rpl_fail(rp, "the %s on '%s' (%d ranks; rank %d node %llu) and the custom algorithm %s for "
                 "%d: ASTRA-sim runs it on groups of exactly that many",
             et_coll_type_name(in->type), c->name[0] ? c->name : "all ranks", c->n,
             in->first_rank, (unsigned long long)in->first_id, p->name, p->members);
    return p && p->members == c->n ? p : NULL;
}

static inline __attribute__((always_inline)) void coll_join(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    const et_graph *g = rs->gi->g;
    const et_gnode *n = &g->nodes[i];
    int ci = comm_of(rs, n->pg);
    comm *c = &rp->comms[ci];
    struct seq_slot *sl = rs->seq;
    while (sl->comm != ci && sl->comm != -1) /* a rank uses a handful: npg slots */
        sl++;
    LOOM_ASSERT(sl < rs->seq + g->npg);
    if (sl->comm == -1) { /* its first collective on c */
        sl->comm = ci;
        sl->mi = rpl_member_index(c, rank);
    }
    uint64_t seq = sl->n++;
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
    if (in == NULL) { /* the first member: its node sets the collective */
        uint32_t dims = n->involved_dim;
        if (n->involved_n > rp->cfg->topo.ndims) {
            rp->ignored_dims += c->weight;
            dims &= (1u << rp->cfg->topo.ndims) - 1;
        }
        in = loom_xcalloc(1, sizeof *in);
        in->comm = ci;
        in->seq = seq;
        in->type = n->comm_type;
        in->trace_bytes = n->comm_size;
        in->bytes = rpl_comm_scaled(rp, n->comm_size);
        in->dims = dims;
        in->first_rank = rank;
        in->first_id = n->id;
        in->first_join = sim_now(rp->eng);
        in->node = loom_xmalloc(c->n * sizeof *in->node);
        memset(in->node, 0xff, c->n * sizeof *in->node);
        c->q[slot] = in;
        loom_result *res = rp->res;
        res->colls = loom_vgrow(res->colls, &rp->capcolls, res->ncolls + 1, sizeof *res->colls);
        in->rec = (long)res->ncolls++;
        loom_coll_record *cr = &res->colls[in->rec];
        memset(cr, 0, sizeof *cr);
        cr->type = in->type;
        cr->bytes = in->bytes;
        cr->nranks = c->nreal;
        cr->weight = c->weight;
        cr->group = c->name;
        cr->algo = ""; /* until it starts */
        cr->seq = seq;
        cr->first_join = in->first_join;
        cr->start = cr->end = -1; /* until every member joins */
    } else if (in->type != n->comm_type || in->trace_bytes != n->comm_size) {
        rpl_fail(rp, "collective mismatch on communicator '%s' (collective #%llu): rank %d node %llu "
                 "issues %s of %llu bytes, but rank %d node %llu issued %s of %llu bytes",
             c->name, (unsigned long long)seq, rank, (unsigned long long)n->id,
             et_coll_type_name(n->comm_type), (unsigned long long)n->comm_size, in->first_rank,
             (unsigned long long)in->first_id, et_coll_type_name(in->type),
             (unsigned long long)in->trace_bytes);
        return;
    }
    int mi = sl->mi;
    LOOM_ASSERT(mi >= 0 && in->node[mi] == UINT32_MAX);
    in->node[mi] = i;
    close_interval(rp, rs); /* before the record in flight changes */
    lane *ln = &rs->lanes[lane_of(rs->gi, i)];
    ln->rec = in->rec;
    ln->mult = c->mult ? c->mult[mi] : 1;
    if (++in->joined < c->n)
        return;
    /* everyone is here: the transfer starts now; retire its slot */
    c->q[slot] = &rpl_inst_done;
    while (c->nq > 0 && c->q[0] == &rpl_inst_done) {
        memmove(c->q, c->q + 1, (c->nq - 1) * sizeof *c->q);
        c->nq--;
        c->base++;
    }
    loom_coll_record *cr = &rp->res->colls[in->rec];
    cr->start = sim_now(rp->eng);
    in->rp = rp;
    in->by = rp->hid;
    if (rp->cfg->comm_captured && rpl_captured_coll(rp, in, cr, on_coll_timer))
        return;
    /* Every network model saturates a time past the end of representable
     * time at SIM_TIME_MAX; on_coll_done reports it. */
    const net_cplan *plan = custom_plan(rp, in, c);
    if (rp->failed) { /* retired from the queue above: nobody else frees it */
        free(in->node);
        free(in);
        return;
    }
    if (plan) { /* the system file's *-implementation-custom */
        char lb[LOOM_ALGO_LABEL_MAX];
        snprintf(lb, sizeof lb, "custom(%s)", plan->name);
        cr->algo = rpl_algo_label(rp, lb);
        net_cplan_start(rp->net, rp->eng, plan, c->ranks, in->bytes, on_coll_done, in);
        return;
    }
    if (c->ltype != in->type || c->ldims != in->dims) {
        char lb[LOOM_ALGO_LABEL_MAX];
        net_coll_label(rp->net, c->ng, (net_coll)in->type, in->dims, lb, sizeof lb);
        c->label = rpl_algo_label(rp, lb);
        c->ltype = in->type;
        c->ldims = in->dims;
    }
    cr->algo = c->label;
    net_coll_start(rp->net, rp->eng, c->ng, (net_coll)in->type, in->bytes, in->dims, on_coll_done,
                   in);
}

/* Starts loading what a rank's next event touches (its record's first two
 * lines, its default compute and communication lanes), so that a loop over
 * ranks waits for several misses at once instead of one after the other. */
static inline void prefetch_rank(const replay *rp, int rank)
{
    const char *p = (const char *)&rp->r[rank];
    __builtin_prefetch(p, 1);
    __builtin_prefetch(p + 64, 1);
    __builtin_prefetch(&rp->r[rank].lane0[RES_COMPUTE], 1); /* and RES_COMM */
}

enum { PREFETCH_AHEAD = 8 }; /* ranks ahead: enough misses in flight to hide one */

static void coll_done(replay *rp, coll_inst *in)
{
    comm *c = &rp->comms[in->comm];
    /* node_done below may start collectives whose records grow res->colls:
     * no pointer into it is held across the loop */
    sim_time end = sim_now(rp->eng), begun = rp->res->colls[in->rec].start;
    rp->res->colls[in->rec].end = end;
    done_facts d = {.gi = NULL};
    for (int m = 0; m < c->n; m++) {
        if (m + PREFETCH_AHEAD < c->n)
            prefetch_rank(rp, c->ranks[m + PREFETCH_AHEAD]);
        if (rp->rep) /* without collapse the last member to join scheduled it:
                      * for the others another rank's handler, never their own */
            rpl_tie_event(rp, c->ranks[m], end, begun, c->nreal > 1 ? ++rp->hid : in->by);
        const graph_info *gi = rp->r[c->ranks[m]].gi;
        if (gi != d.gi || in->node[m] != d.i) /* most often the member before's */
            facts_of(rp, gi, in->node[m], &d);
        node_done(rp, c->ranks[m], &d);
    }
    free(in->node);
    free(in);
}

static void on_coll_done(sim_engine *eng, void *ctx)
{
    coll_inst *in = ctx;
    in->rp->hid++;
    if (sim_now(eng) == SIM_TIME_MAX) /* the network model saturated */
        rpl_fail(in->rp, "a %s of %llu bytes on '%s' (rank %d node %llu): simulated time overflows "
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

/* ---- issue ---------------------------------------------------------------- */

/* A memory load or store: local memory at local-mem-bw without remote
 * memory; else ASTRA-sim's AnalyticalRemoteMemory::issue, where a node's
 * (PER_NODE) or the pool's channel serves one access at a time, in the
 * order they were issued, and PER_NPU accesses never wait. */
static sim_time mem_time(replay *rp, int rank, uint64_t bytes)
{
    const loom_rmem *m = &rp->cfg->rmem;
    if (m->kind == LOOM_RMEM_NONE)
        return comp_mem_time(loom_cfg_comp(rp->cfg, rank), bytes);
    sim_time t = loom_rmem_time(m, bytes);
    if (m->kind == LOOM_RMEM_PER_NPU)
        return t;
    sim_time now = sim_now(rp->eng);
    sim_time *free_at = &rp->rmem_free[m->kind == LOOM_RMEM_PER_NODE ? rank / m->npus_per_node : 0];
    sim_time begin = *free_at > now ? *free_at : now;
    *free_at = begin + t;
    return *free_at - now;
}

sim_time rpl_comp_price(replay *rp, int rank, uint32_t i, uint32_t held, int count)
{
    graph_info *gi = rp->r[rank].gi;
    if (gi->dur && (held == 0 ? gi->dur[i] >= 0 : gi->dur_h && gi->dur_hk[i] == held)) {
        if (count && gi->dur_fb[i]) /* priced on an earlier rank */
            rp->fallbacks += rpl_class_size(rp, rank);
        return held == 0 ? gi->dur[i] : gi->dur_h[i];
    }
    const et_graph *g = gi->g;
    const et_gnode *n = &g->nodes[i];
    comp_kernel k = {.duration_ns = n->duration_ns,
                     .num_ops = n->num_ops,
                     .tensor_size = n->tensor_size,
                     .has_ops = (n->flags & ET_F_HAS_OPS) != 0,
                     .is_cpu = (n->flags & ET_F_CPU) != 0,
                     .name = et_gnode_name(g, n),
                     .kwork = n->nkern ? g->kwork + 2 * (size_t)n->kern : NULL,
                     .nkern = n->nkern,
                     .shape = n->shape ? g->kshape + (n->shape - 1) : NULL,
                     .busy_sms = held};
    int fb;
    sim_time t = compute_scaled(rp, comp_time(loom_cfg_comp(rp->cfg, rank), &k, &fb));
    if (count)
        rp->fallbacks += fb * rpl_class_size(rp, rank);
    if (gi->dur) { /* whether it falls back does not depend on held */
        gi->dur_fb[i] = (uint8_t)fb;
        if (held == 0) {
            gi->dur[i] = t;
        } else if (gi->dur_h) {
            gi->dur_h[i] = t;
            gi->dur_hk[i] = held;
        }
    }
    return t;
}

/* Compute node i of rank starts, not priced yet on its graph or timed
 * beside collectives' SMs (replay_sms.c): out of line, so that start()'s
 * common case stays short. */
static __attribute__((noinline)) void start_priced(replay *rp, rank_state *rs, int rank,
                                                   uint32_t i)
{
    const graph_info *gi = rs->gi;
    sim_time t0 = rpl_comp_price(rp, rank, i, rs->held, 1); /* held: 0 unless timed */
    sim_time t = rpl_host_fused_now(rp, gi, i, t0);
    if (rp->sms_on && gi->res[i] == RES_COMPUTE) /* timed beside collectives */
        rpl_sms_begin(rp, rs, i, t0, t);
    post_node_event(rp, rank, i, t);
}

/* Inline in issue() (its hot caller) and in on_launch(), a second caller
 * that would otherwise keep it out of line. */
static inline __attribute__((always_inline)) void start(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    const et_graph *g = rs->gi->g;
    const et_gnode *n = &g->nodes[i];
    *PS(rs, i) = ps_with_state(*PS(rs, i), ST_ISSUED);
    if (rp->obs && rp->obs->node)
        rs->t0[i] = sim_now(rp->eng);
    switch (n->type) {
    case ET_COMP_NODE: {
        graph_info *gi = rs->gi;
        if (!rp->sms_on && gi->dur && gi->dur[i] >= 0) { /* priced on an earlier rank */
            if (gi->dur_fb[i])
                rp->fallbacks += rpl_class_size(rp, rank);
            post_node_event(rp, rank, i, rpl_host_fused_now(rp, gi, i, gi->dur[i]));
            break;
        }
        start_priced(rp, rs, rank, i);
        break;
    }
    case ET_MEM_LOAD_NODE:
    case ET_MEM_STORE_NODE:
        rpl_post_node_event(rp, rank, i, mem_time(rp, rank, n->tensor_size));
        break;
    case ET_COMM_COLL_NODE:
        if (rs->gi->res[i] == RES_CPU) { /* host side of a c10d call */
            rpl_post_node_event(rp, rank, i, comp_time(loom_cfg_comp(rp->cfg, rank), &(comp_kernel){
                                                       .duration_ns = n->duration_ns, .is_cpu = 1},
                                                   NULL));
        } else {
            if (rp->sms_on && rs->gi->csms[i]) /* its kernel holds SMs from now */
                rpl_sms_change(rp, rank, rs->gi->csms[i]);
            coll_join(rp, rank, i);
        }
        break;
    case ET_COMM_SEND_NODE:
        rpl_send_issue(rp, rank, i);
        break;
    default:
        LOOM_ASSERT(0);
    }
}

static void issue(replay *rp, rank_state *rs, int rank, int l);
static void issue_node(replay *rp, rank_state *rs, int rank, int l, uint32_t i);

/* Most calls find the lane busy: that test inline, the issue out of line.
 * rs is rank's state (rp->r[rank]), as in the functions below. */
static inline void try_issue(replay *rp, rank_state *rs, int rank, int l)
{
    const lane *ln = &rs->lanes[l];
    if (ln->cur == LANE_FREE && lane_any(ln) && !rp->failed)
        issue(rp, rs, rank, l);
}

/* Lane l of rank is free and has a ready node: the least starts. */
static void issue(replay *rp, rank_state *rs, int rank, int l)
{
    lane *ln = &rs->lanes[l];
    uint32_t k = lane_pop(ln), i = rs->gi->lnode[rs->gi->lane_off[l] + k];
    if (rp->rep)
        rpl_tie_issue(rp, rank, l, k, lane_queued(ln));
    issue_node(rp, rs, rank, l, i);
}

/* Node i takes lane l of rank, free until now, and starts. */
static void issue_node(replay *rp, rank_state *rs, int rank, int l, uint32_t i)
{
    rs->lanes[l].cur = i;
    if (host_wait(rp, rank, i))
        return; /* the lane holds it, idle, until its launch ends */
    busy_inc(rp, rs, rs->gi->res[i]);
    start(rp, rank, i);
}

/* Node i, of lane l where its queue key is key, is ready on rank: queue it,
 * start it if the lane is free.  Its rank state (rs) and ps word (w) are
 * already found.  A free lane with nothing queued would pop what it was
 * pushed: it takes the node at once (not with symmetry collapse, whose tie
 * checks see every push). */
static inline __attribute__((always_inline)) void ready_on_lane(replay *rp, int rank,
                                                                rank_state *rs, ps_word *w,
                                                                uint32_t i, int l, uint32_t key)
{
    *w = ps_with_state(*w, ST_READY);
    lane *ln = &rs->lanes[l];
    if (ln->cur == LANE_FREE && !lane_any(ln) && !rp->rep && !rp->failed) {
        issue_node(rp, rs, rank, l, i);
        return;
    }
    if (rp->rep)
        rpl_tie_push(rp, rank, l, key);
    lane_push(ln, key);
    try_issue(rp, rs, rank, l);
}

static inline __attribute__((always_inline)) void make_ready(replay *rp, int rank, uint32_t i)
{
    rank_state *rs = &rp->r[rank];
    const et_gnode *n = &rs->gi->g->nodes[i];
    int res = rs->gi->res[i];
    if (res != RES_NONE) {
        ready_on_lane(rp, rank, rs, PS(rs, i), i, lane_of(rs->gi, i), rs->gi->lidx[i]);
    } else if (n->type == ET_COMM_RECV_NODE) {
        *PS(rs, i) = ps_with_state(*PS(rs, i), ST_READY);
        if (!host_wait(rp, rank, i))
            rpl_recv_post(rp, rank, i);
    } else { /* a delay waits its time on no resource; METADATA, INVALID are
              * done at once, through the queue so that long chains of them
              * never recurse */
        *PS(rs, i) = ps_with_state(*PS(rs, i), ST_ISSUED);
        if (rp->obs && rp->obs->node)
            rs->t0[i] = sim_now(rp->eng);
        sim_time d = 0;
        if (n->xflags & ET_X_DELAY)
            d = n->duration_ns > (uint64_t)(SIM_TIME_MAX / SIM_PS_PER_NS)
                    ? SIM_TIME_MAX : (sim_time)n->duration_ns * SIM_PS_PER_NS;
        rpl_post_node_event(rp, rank, i, d);
    }
}

static void on_event(sim_engine *eng, void *payload, void *ctx)
{
    replay *rp = ctx;
    ev *e = payload;
    if (rp->failed)
        return;
    /* the events after this one are most often other ranks' same node:
     * start loading the record of the rank a few events on */
    sim_handler fn;
    const ev *nx = sim_ahead_payload(eng, &fn);
    if (nx && fn == on_event)
        prefetch_rank(rp, nx->rank);
    int recv = e->gi->g->nodes[e->node].type == ET_COMM_RECV_NODE;
    done_facts d; /* once an event (a receive's are not used) */
    facts_of(rp, e->gi, e->node, &d);
    /* a compute node timed beside collectives: an event its re-timing
     * left behind does nothing (replay_sms.c) */
    int timed = rp->sms_on && d.res == RES_COMPUTE; /* (a compute lane: a COMP_NODE) */
    for (uint32_t k = 0; k < e->n && !rp->failed; k++) {
        int rank = e->rank + (int)k;
        if (k + PREFETCH_AHEAD < e->n)
            prefetch_rank(rp, rank + PREFETCH_AHEAD);
        if (timed && !rpl_sms_live(rp, rank, e->node))
            continue;
        rp->hid++;
        if (rp->rep) /* symmetry collapse: its one assumption */
            rpl_tie_event(rp, rank, sim_now(eng), e->at, e->by);
        if (recv)
            rpl_recv_done(rp, rank, e->node);
        else
            node_done(rp, rank, &d);
    }
}

/* Launches have ended: each rank's node starts (a receive is posted). */
static void on_launch(sim_engine *eng, void *payload, void *ctx)
{
    replay *rp = ctx;
    const ev *e = payload;
    if (rp->failed)
        return;
    for (uint32_t k = 0; k < e->n && !rp->failed; k++) {
        int rank = e->rank + (int)k;
        rank_state *rs = &rp->r[rank];
        rp->hid++;
        if (rp->rep)
            rpl_tie_event(rp, rank, sim_now(eng), e->at, e->by);
        if (rs->gi->g->nodes[e->node].type == ET_COMM_RECV_NODE) {
            rpl_recv_post(rp, rank, e->node);
        } else {
            busy_inc(rp, rs, rs->gi->res[e->node]);
            start(rp, rank, e->node);
        }
    }
}

/* ---- entry ---------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seeds every rank's roots (in id order per resource) and runs the engine
 * until nothing is left; a stuck run is an error naming who waits. */
static int run(replay *rp, const loom_replay_opts *opts)
{
    /* each graph's roots, ascending: a rank's nodes with nothing pending
     * before its seeding are its roots not yet seeded (a node whose count
     * reaches 0 is made ready at once, leaving WAIT) */
    uint32_t **roots = loom_xcalloc((size_t)rp->ngraphs, sizeof *roots);
    size_t *nroots = loom_xcalloc((size_t)rp->ngraphs, sizeof *nroots);
    for (int q = 0; q < rp->ngraphs; q++) {
        const et_graph *g = rp->graphs[q].g;
        roots[q] = loom_xmalloc((g->n ? g->n : 1) * sizeof **roots);
        for (size_t i = 0; i < g->n; i++)
            if (g->nodes[i].ndata + (rp->cfg->ctrl_deps ? g->nodes[i].nctrl : 0) == 0)
                roots[q][nroots[q]++] = (uint32_t)i;
    }
    for (int r = 0; r < rp->nranks && !rp->failed; r++) {
        rank_state *rs = &rp->r[r];
        if (rs->ps == NULL) /* replayed by its class's representative */
            continue;
        size_t q = (size_t)(rs->gi - rp->graphs);
        for (size_t k = 0; k < nroots[q]; k++)
            if (*PS(rs, roots[q][k]) == 0) /* WAIT, nothing pending */
                make_ready(rp, r, roots[q][k]);
    }
    for (int q = 0; q < rp->ngraphs; q++)
        free(roots[q]);
    free(roots);
    free(nroots);
    if (rp->obs && rp->obs->progress) {
        while (sim_run_budget(rp->eng, SIM_TIME_MAX, 1 << 16) > 0)
            rp->obs->progress(rp->obs->progress_ctx, sim_now(rp->eng), sim_events(rp->eng));
    } else {
        sim_run(rp->eng, SIM_TIME_MAX);
    }
    if (rp->failed)
        return LOOM_ESIM;
    int stuck = 0;
    for (int r = 0; r < rp->nranks; r++)
        stuck |= rpl_left(&rp->r[r]) > 0;
    if (stuck) {
        rpl_describe_stuck(rp, opts->max_stuck > 0 ? opts->max_stuck : 8);
        return LOOM_ESIM;
    }
    rpl_warn_unreceived(rp);
    if (rp->captured_fallbacks)
        loom_warn("comm-model captured: %llu collective%s and message%s had no traced duration; "
                  "the network model timed them", (unsigned long long)rp->captured_fallbacks,
                  rp->captured_fallbacks == 1 ? "" : "s", rp->captured_fallbacks == 1 ? "" : "s");
    if (rp->ignored_dims)
        loom_warn("%llu collective%s list more involved_dim entries than the network's %d "
                  "dimensions; the extra entries are ignored",
                  (unsigned long long)rp->ignored_dims, rp->ignored_dims == 1 ? "" : "s",
                  rp->cfg->topo.ndims);
    return 0;
}

/* The per-rank buckets of docs/REPORT.md from the time per activity mask,
 * the step time, the mean exposed time of each collective, and the
 * communicator names, moved (not copied) into the result. */
static void collect(replay *rp)
{
    loom_result *res = rp->res;
    res->nranks = rp->nranks;
    res->ranks = loom_xcalloc(rp->nranks, sizeof *res->ranks);
    for (int r = 0; r < rp->nranks; r++) {
        rank_state *rs = &rp->r[r];
        loom_rank_stats *st = &res->ranks[r];
        if (rp->rep && rp->rep[r] != r) { /* its representative ran for it: lower, done */
            *st = res->ranks[rp->rep[r]];
            continue;
        }
        rs->acc[rs->mask] += rs->finish - rs->last; /* close the last interval */
        res->host_launches += rs->gi->hl_total * rpl_class_size(rp, r);
        res->sms_stretch += rs->stretch * (sim_time)rpl_class_size(rp, r);
        st->finish = rs->finish + rp->cfg->step_overhead; /* the stack's time after the
                                                             * trace (step-overhead-us) */
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
    res->groups = loom_xcalloc(rp->ncomms, sizeof *res->groups);
    res->ngroups = rp->ncomms;
    for (int i = 0; i < rp->ncomms; i++) {
        res->groups[i] = rp->comms[i].name;
        rp->comms[i].name = NULL;
    }
    /* the collective records' group pointers stay valid: the names moved
     * to res->groups, they were not copied */
}

/* One replay; *tie: the representative whose same-time events could have
 * run in another order (the tie check, replay_int.h), or -1; *collapsed:
 * whether alike ranks were replayed once. */
static int replay_once(const loom_cfg *cfg, const loom_replay_opts *opts, loom_result *res,
                       loom_err *err, int *tie, int *collapsed)
{
    memset(res, 0, sizeof *res);
    replay rp;
    memset(&rp, 0, sizeof rp);
    rp.cfg = cfg;
    rp.res = res;
    rp.obs = opts->obs;
    rp.err = err;
    rp.tie_rank = -1;
    int rc = rpl_setup(&rp, opts, sizeof(ev), err);
    if (rc == 0)
        rc = run(&rp, opts);
    if (rc == 0)
        collect(&rp);
    if (rc == 0 && rp.net) {
        res->nlinks = net_top_links(rp.net, res->links, 10);
        net_flow_totals_get(rp.net, &res->flow);
    }
    res->events = rp.eng ? sim_events(rp.eng) : 0;
    res->queue_high = rp.eng ? sim_high_water(rp.eng) : 0;
    res->distinct_graphs = rp.ngraphs;
    res->roofline_fallbacks = rp.fallbacks;
    res->host_waits = rp.host_waits;
    res->sms_timed = rp.sms_on;
    res->p2p_messages = rp.messages;
    res->simulated_ranks = rp.rep ? rp.sim_ranks : rp.nranks;
    res->collapse_alone = rp.rep ? rp.sym_alone : 0;
    snprintf(res->collapse_off, sizeof res->collapse_off, "%s", rp.sym_why);
    *tie = rp.rep ? rp.tie_rank : -1;
    *collapsed = rp.rep != NULL;
    rpl_free(&rp);
    return rc;
}

int loom_replay(const loom_cfg *cfg, const loom_replay_opts *opts, loom_result *res, loom_err *err)
{
    double t0 = now_s();
    int tie, collapsed;
    int rc = replay_once(cfg, opts, res, err, &tie, &collapsed);
    if (collapsed && (rc < 0 || tie >= 0)) {
        /* collapse's assumption failed, or the run did: replay every rank,
         * so results and error messages are the full replay's; its warnings
         * were printed once already */
        int tie0 = tie, q = loom_quiet();
        loom_result_free(res);
        loom_err_clear(err);
        loom_replay_opts every = *opts;
        every.no_collapse = LOOM_COLLAPSE_OFF;
        loom_set_quiet(1);
        rc = replay_once(cfg, &every, res, err, &tie, &collapsed);
        loom_set_quiet(q);
        if (tie0 >= 0)
            snprintf(res->collapse_off, sizeof res->collapse_off,
                     "rank %d had two events at one picosecond, scheduled at one instant by two "
                     "handlers, acting on one lane: their order could differ with collapse", tie0);
    }
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

const char *rpl_algo_label(replay *rp, const char *s)
{
    loom_result *res = rp->res;
    for (int i = 0; i < res->nalgos; i++) /* a run has a handful */
        if (strcmp(res->algos[i], s) == 0)
            return res->algos[i];
    res->algos = loom_xrealloc(res->algos, (size_t)(res->nalgos + 1) * sizeof *res->algos);
    res->algos[res->nalgos] = loom_xstrdup(s);
    return res->algos[res->nalgos++];
}

void loom_result_free(loom_result *res)
{
    free(res->ranks);
    free(res->colls);
    for (int i = 0; i < res->ngroups; i++)
        free(res->groups[i]);
    free(res->groups);
    for (int i = 0; i < res->nalgos; i++)
        free(res->algos[i]);
    free(res->algos);
    res->ranks = NULL;
    res->colls = NULL;
    res->groups = NULL;
    res->ngroups = 0;
    res->algos = NULL;
    res->nalgos = 0;
    res->ncolls = 0;
}
