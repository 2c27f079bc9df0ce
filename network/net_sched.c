/*
 * net_sched.c: collectives as step schedules, run as flows (the flow
 * model's side of net_coll_start; docs/NETWORK.md section 4).
 *
 * A collective runs the plan net_make_plan() makes for the analytical
 * model (the same phases, dimensions, algorithms and fallbacks), so the
 * two models differ only in how transfers are timed.  Each phase is cut
 * into W waves of buf/W bytes (W = ceil(splits / active-chunks)); a wave
 * is the phase's algorithm, a fixed sequence of steps (its steps() and
 * step() hooks, net_algo.h; this file knows no algorithm by name).  In a
 * step a member sends some bytes to some peers (one flow each) and
 * expects some receives; the step ends when its sends have been delivered and its
 * receives have arrived, then the member waits the endpoint delay (if the
 * step moved anything) and its local reduction (3r/M for r reduced bytes)
 * and starts its next step.  Members advance independently: a step waits
 * only for the transfers it names, so a late member delays exactly those
 * who need its data.  Phase k's wave w starts at a member once that member
 * has finished phase k-1's wave w and its own wave w-1 (chunks pipeline
 * through the phases).  The collective is done when every member is.
 *
 * Positions: a phase on dimension d runs inside each line of members that
 * differ only in coordinate d, position = rank of that coordinate among
 * the group's; a flat phase (irregular group, flat algorithm) runs over all
 * members, position = member index.
 *
 * A receive that arrives before its member reached that step is kept in
 * the member's inbox, keyed by (phase, step), until it does.
 *
 * Each (member, phase) is in one of three states, kept in pend[]: running
 * a step (pend >= 0: transfers outstanding), waiting out the delay after a
 * step (XS_DELAY: the step's transfers are done, cur[] not yet advanced),
 * or idle (XS_IDLE: cur[] is the next step, started once its wave has come
 * out of the previous phase).  Only an idle cell may start a step.  The
 * delay state has to be told apart from idle: the previous phase ends a
 * wave at whatever moment its own steps end, and when that falls inside
 * the delay of this phase's step, starting "the next step" there would run
 * the step still at cur[] a second time (its sends twice, then the
 * assertion in on_flow or a wrong time; issue 14: Ring 2 x 4, 4 splits).
 */
#include "net_algo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef net_xphase xs_phase; /* net_algo.h: the phase as flows run it */

/* pend[] values of a (member, phase) that runs no step (see above) */
enum { XS_IDLE = -1, XS_DELAY = -2 };

typedef struct xs_inbox {
    int ph;    /* phase */
    int64_t g; /* step index within the phase (wave * steps + step) */
    int cnt;   /* receives arrived early */
} xs_inbox;

typedef struct xs_member {
    xs_inbox *in; /* early receives */
    int nin, cap; /* entries, capacity */
} xs_member;

typedef struct xs_inst {
    net_model *m;
    nf *fl;           /* flows run here */
    sim_engine *eng;
    int n;            /* members */
    int *ranks;       /* members' ranks, ascending (owned) */
    int contig;       /* 1: ranks[i] == ranks[0] + i */
    int nph;          /* phases */
    xs_phase ph[NET_MAX_PHASES];
    int W;            /* waves */
    int64_t *cur;     /* n * nph: current (or next) step index */
    int *pend;        /* n * nph: transfers outstanding, or XS_IDLE, XS_DELAY */
    double *red;      /* n * nph: bytes reduced after the current step */
    uint8_t *comm;    /* n * nph: the current step moves data */
    xs_member *mb;    /* n */
    int left;         /* members not finished */
    int *sp;          /* scratch: peers of a step (positions) */
    uint64_t *sb;     /* scratch: bytes per peer */
    net_done_fn done; /* caller's */
    void *ctx;
} xs_inst;

typedef struct ev_done {
    net_done_fn done;
    void *ctx;
} ev_done;


/* ---- positions, ranks, members ------------------------------------------ */

static int pos_of(const xs_inst *in, const xs_phase *P, int mbr)
{
    if (P->dim == NET_FLAT_DIM)
        return mbr;
    return P->pos_of[net_coord(in->m, in->ranks[mbr], P->dim)];
}

static int rank_at(const xs_inst *in, const xs_phase *P, int mbr, int pos)
{
    if (P->dim == NET_FLAT_DIM)
        return in->ranks[pos];
    int r = in->ranks[mbr];
    return r + (P->coords[pos] - net_coord(in->m, r, P->dim)) * P->stride;
}

static int member_of(const xs_inst *in, int rank)
{
    if (in->contig) /* ranks r0 .. r0 + n - 1, the usual group */
        return rank - in->ranks[0];
    int lo = 0, hi = in->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (in->ranks[mid] == rank)
            return mid;
        if (in->ranks[mid] < rank)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    LOOM_ASSERT(0);
    return -1;
}

static int inbox_take(xs_inst *in, int mbr, int k, int64_t g)
{
    xs_member *mb = &in->mb[mbr];
    for (int i = 0; i < mb->nin; i++)
        if (mb->in[i].ph == k && mb->in[i].g == g) {
            int c = mb->in[i].cnt;
            mb->in[i] = mb->in[--mb->nin];
            return c;
        }
    return 0;
}

static void inbox_add(xs_inst *in, int mbr, int k, int64_t g)
{
    xs_member *mb = &in->mb[mbr];
    for (int i = 0; i < mb->nin; i++)
        if (mb->in[i].ph == k && mb->in[i].g == g) {
            mb->in[i].cnt++;
            return;
        }
    if (mb->nin == mb->cap) {
        mb->cap = mb->cap ? 2 * mb->cap : 4;
        mb->in = loom_xrealloc(mb->in, (size_t)mb->cap * sizeof *mb->in);
    }
    mb->in[mb->nin++] = (xs_inbox){k, g, 1};
}

/* ---- the run -------------------------------------------------------------- */

static void inst_free(xs_inst *in)
{
    for (int k = 0; k < in->nph; k++) {
        free(in->ph[k].coords);
        free(in->ph[k].pos_of);
        if (in->ph[k].ph.algo->teardown)
            in->ph[k].ph.algo->teardown(&in->ph[k]);
    }
    for (int i = 0; i < in->n; i++) {
        LOOM_ASSERT(in->mb[i].nin == 0); /* every early receive was taken */
        free(in->mb[i].in);
    }
    free(in->mb);
    free(in->ranks);
    free(in->cur);
    free(in->pend);
    free(in->red);
    free(in->comm);
    free(in->sp);
    free(in->sb);
    free(in);
}

static void step_start(xs_inst *in, int mbr, int k);
static void step_done(xs_inst *in, int mbr, int k);

static void try_start(xs_inst *in, int mbr, int k)
{
    int idx = mbr * in->nph + k;
    const xs_phase *P = &in->ph[k];
    if (in->pend[idx] != XS_IDLE || in->cur[idx] == (int64_t)in->W * P->steps)
        return; /* running or in its delay: it comes back here when done */
    int64_t w = in->cur[idx] / P->steps;
    if (k > 0 && in->cur[idx - 1] < (w + 1) * in->ph[k - 1].steps)
        return; /* this wave has not come out of the previous phase yet */
    step_start(in, mbr, k);
}

static void member_finished(xs_inst *in)
{
    if (--in->left > 0)
        return;
    net_done_fn done = in->done;
    void *ctx = in->ctx;
    sim_engine *eng = in->eng;
    inst_free(in);
    done(eng, ctx);
}

static void step_advance(xs_inst *in, int mbr, int k)
{
    int idx = mbr * in->nph + k;
    const xs_phase *P = &in->ph[k];
    int64_t g = ++in->cur[idx];
    if (g % P->steps == 0) { /* a wave of this phase is through */
        int phase_done = g == (int64_t)in->W * P->steps;
        if (k + 1 < in->nph) {
            try_start(in, mbr, k + 1);
            if (phase_done)
                return;
        } else if (phase_done) {
            member_finished(in); /* may free in */
            return;
        }
    }
    try_start(in, mbr, k);
}

/* A step's delay is over (a: member, b: phase); called from the flow
 * model's same-time batch, so members in lockstep share one event. */
static void on_step(sim_engine *eng, void *ctx, uint64_t a, uint64_t b)
{
    (void)eng;
    xs_inst *in = ctx;
    in->pend[(int)a * in->nph + (int)b] = XS_IDLE;
    step_advance(in, (int)a, (int)b);
}

/* A member's wait after a step: the endpoint delay if it moved data, and
 * its local reduction (3r/M for r reduced bytes). */
static sim_time step_delay(const xs_inst *in, int comm, double red)
{
    const net_sys *sys = &in->m->sys;
    double d = comm ? (double)sys->endpoint_delay : 0;
    if (red > 0)
        d += 3.0 * red * 1e12 / sys->local_mem_bw;
    return net_round_ps(d);
}

static void step_done(xs_inst *in, int mbr, int k)
{
    int idx = mbr * in->nph + k;
    sim_time delay = step_delay(in, in->comm[idx], in->red[idx]);
    if (delay > 0) {
        in->pend[idx] = XS_DELAY;
        sim_time now = sim_now(in->eng);
        nf_at(in->fl, in->eng, delay < SIM_TIME_MAX - now ? now + delay : SIM_TIME_MAX, on_step, in,
              (uint64_t)mbr, (uint64_t)k); /* saturates; replay reports it */
    } else {
        in->pend[idx] = XS_IDLE;
        step_advance(in, mbr, k);
    }
}

static void on_flow(sim_engine *eng, void *ctx, uint64_t a, uint64_t b)
{
    (void)eng;
    xs_inst *in = ctx;
    int src = (int)(a >> 32), dst = (int)(a & 0xffffffffu);
    int k = (int)(b >> 56);
    int64_t g = (int64_t)(b & ((1ULL << 56) - 1));
    int si = src * in->nph + k, di = dst * in->nph + k;
    LOOM_ASSERT(in->cur[si] == g && in->pend[si] > 0);
    int src_ready = --in->pend[si] == 0;
    int dst_ready = 0;
    if (in->pend[di] > 0 && in->cur[di] == g)
        dst_ready = --in->pend[di] == 0;
    else {
        /* early, never late: a step ends only once all its receives came */
        LOOM_ASSERT(in->cur[di] < g || (in->cur[di] == g && in->pend[di] == XS_IDLE));
        inbox_add(in, dst, k, g);
    }
    /* neither can finish the collective while the other still has a step
     * to end, so `in` is alive for the second call */
    if (src_ready)
        step_done(in, src, k);
    if (dst_ready)
        step_done(in, dst, k);
}

static void step_start(xs_inst *in, int mbr, int k)
{
    int idx = mbr * in->nph + k;
    const xs_phase *P = &in->ph[k];
    int64_t g = in->cur[idx];
    int s = (int)(g % P->steps);
    uint64_t w = (uint64_t)(g / P->steps);
    uint64_t T = net_piece(P->buf, (uint64_t)in->W, w);
    net_xstep st = {.peer = in->sp, .bytes = in->sb, .nrecv = 0, .red = 0};
    int ns = P->ph.algo->step(P, pos_of(in, P, mbr), s, T, &st);
    int early = inbox_take(in, mbr, k, g);
    in->pend[idx] = ns + st.nrecv - early;
    LOOM_ASSERT(in->pend[idx] >= 0);
    in->red[idx] = st.red;
    in->comm[idx] = (uint8_t)(ns + st.nrecv > 0);
    int rank = in->ranks[mbr];
    for (int j = 0; j < ns; j++) {
        int pr = rank_at(in, P, mbr, in->sp[j]);
        int pm = P->dim == NET_FLAT_DIM ? in->sp[j] : member_of(in, pr);
        nf_start(in->fl, in->eng, rank, pr, in->sb[j], 0, on_flow, in,
                 (uint64_t)mbr << 32 | (uint32_t)pm, (uint64_t)k << 56 | (uint64_t)g);
    }
    if (in->pend[idx] == 0)
        step_done(in, mbr, k);
}

/* ---- lockstep classes (net_flow_lock.c) ---------------------------------- */

static void lock_fin(sim_engine *eng, void *ctx)
{
    (void)eng;
    xs_inst *in = ctx;
    in->left = 1; /* every member finishes now; the last calls done */
    member_finished(in);
}

/* The steps after `g` of every member: each one send to the peer it has
 * now and one receive, the same bytes (> 0) and reduction as every other
 * member's.  Fills bytes[] and delay[] from index 1; 0 when one is not. */
static int lock_steps(xs_inst *in, int64_t g, const int *peer, uint64_t *bytes, sim_time *delay)
{
    const xs_phase *P = &in->ph[0];
    int n = in->n;
    int *pos = loom_xmalloc(2 * (size_t)n * sizeof *pos), *ppos = pos + n;
    for (int m = 0; m < n; m++) {
        pos[m] = pos_of(in, P, m);
        ppos[m] = pos_of(in, P, peer[m]);
    }
    int ok = 1;
    int64_t total = (int64_t)in->W * P->steps;
    for (int64_t s = g + 1; s < total && ok; s++) {
        uint64_t T = net_piece(P->buf, (uint64_t)in->W, (uint64_t)(s / P->steps));
        int ss = (int)(s % P->steps);
        uint64_t B = 0;
        double R = 0;
        for (int m = 0; m < n; m++) {
            net_xstep st = {.peer = in->sp, .bytes = in->sb, .nrecv = 0, .red = 0};
            int ns = P->ph.algo->step(P, pos[m], ss, T, &st);
            if (m == 0) {
                B = in->sb[0];
                R = st.red;
            }
            if (ns != 1 || st.nrecv != 1 || in->sp[0] != ppos[m] || in->sb[0] != B || B == 0 ||
                st.red != R) {
                ok = 0;
                break;
            }
        }
        bytes[s - g] = B;
        delay[s - g] = step_delay(in, 1, R);
    }
    free(pos);
    return ok;
}

/* nf's question at the re-rate after the collective's first step started,
 * when nothing else is left in the simulation: are the members a lockstep
 * class for the rest of the collective?  Then it runs in bulk. */
static int lock_hook(nf *f, sim_engine *eng, void *ctx)
{
    xs_inst *in = ctx;
    size_t nfl = nf_in_flight(f);
    uint64_t *a = loom_xmalloc(nfl * sizeof *a), B0;
    double rate;
    sim_time tail;
    int n = in->n, ok = nf_lock_flows(f, on_flow, in, a, &B0, &rate, &tail) == (size_t)n &&
                        in->nph == 1;
    int *peer = loom_xmalloc(2 * (size_t)n * sizeof *peer), *recv = peer + n;
    for (int m = 0; m < n; m++)
        peer[m] = recv[m] = -1;
    int64_t g = in->cur[0];
    for (int m = 0; ok && m < n; m++) /* every member one step in, one send and one receive */
        ok = in->cur[m] == g && in->pend[m] == 2 && in->mb[m].nin == 0 && in->comm[m] &&
             in->red[m] == in->red[0];
    for (size_t i = 0; ok && i < nfl; i++) { /* the sends: a permutation */
        int src = (int)(a[i] >> 32), dst = (int)(a[i] & 0xffffffffu);
        ok = src != dst && peer[src] < 0 && recv[dst] < 0;
        if (ok) {
            peer[src] = dst;
            recv[dst] = src;
        }
    }
    int64_t nsteps = (int64_t)in->W * in->ph[0].steps - g;
    uint64_t *bytes = NULL;
    sim_time *delay = NULL;
    if (ok) {
        bytes = loom_xmalloc((size_t)nsteps * sizeof *bytes);
        delay = loom_xmalloc((size_t)nsteps * sizeof *delay);
        bytes[0] = B0;
        delay[0] = step_delay(in, 1, in->red[0]);
        ok = lock_steps(in, g, peer, bytes, delay);
    }
    if (ok)
        nf_lock_run(f, eng, (size_t)nsteps, bytes, delay, lock_fin, in);
    free(a);
    free(peer);
    free(bytes);
    free(delay);
    return ok;
}

static void on_done_ev(sim_engine *eng, void *payload, void *engine_ctx)
{
    (void)engine_ctx;
    ev_done *e = payload;
    e->done(eng, e->ctx);
}

static void coll_on(net_model *m, nf *fl, sim_engine *eng, const net_group *g, net_coll op,
                    uint64_t bytes, uint32_t mask, net_done_fn done, void *ctx)
{
    net_plan pl;
    net_make_plan(m, g, op, bytes, mask, 1, &pl);
    if (pl.n == 0) { /* nothing to move: done now */
        ev_done *e = sim_schedule(eng, sim_now(eng), on_done_ev);
        e->done = done;
        e->ctx = ctx;
        return;
    }
    xs_inst *in = loom_xcalloc(1, sizeof *in);
    in->m = m;
    in->fl = fl;
    in->eng = eng;
    in->n = g->n;
    in->ranks = loom_xmalloc((size_t)g->n * sizeof *in->ranks);
    memcpy(in->ranks, g->ranks, (size_t)g->n * sizeof *in->ranks);
    in->contig = in->ranks[g->n - 1] - in->ranks[0] == g->n - 1; /* ascending, distinct */
    in->nph = pl.n;
    in->W = pl.waves;
    in->done = done;
    in->ctx = ctx;
    int maxp = 2;
    for (int k = 0; k < pl.n; k++) {
        xs_phase *P = &in->ph[k];
        P->ph = pl.ph[k];
        P->p = P->ph.v.p;
        P->dim = P->ph.v.dim;
        P->buf = (uint64_t)llround(P->ph.buf);
        if (P->dim != NET_FLAT_DIM) { /* the group's coordinates on dim */
            int np = m->topo.dims[P->dim].npus;
            P->stride = m->stride[P->dim];
            P->pos_of = loom_xmalloc((size_t)np * sizeof(int));
            P->coords = loom_xmalloc((size_t)P->p * sizeof(int));
            for (int c = 0; c < np; c++)
                P->pos_of[c] = -1;
            for (int i = 0; i < g->n; i++)
                P->pos_of[net_coord(m, g->ranks[i], P->dim)] = 0;
            int pos = 0;
            for (int c = 0; c < np; c++)
                if (P->pos_of[c] == 0) {
                    P->coords[pos] = c;
                    P->pos_of[c] = pos++;
                }
            LOOM_ASSERT(pos == P->p);
        }
        if (P->ph.algo->setup)
            P->ph.algo->setup(P);
        P->steps = P->ph.algo->steps(P);
        LOOM_ASSERT(P->steps >= 1);
        if (P->p > maxp)
            maxp = P->p;
    }
    size_t cells = (size_t)in->n * (size_t)in->nph;
    in->cur = loom_xcalloc(cells, sizeof *in->cur);
    in->pend = loom_xmalloc(cells * sizeof *in->pend);
    for (size_t i = 0; i < cells; i++)
        in->pend[i] = XS_IDLE;
    in->red = loom_xcalloc(cells, sizeof *in->red);
    in->comm = loom_xcalloc(cells, 1);
    in->mb = loom_xcalloc((size_t)in->n, sizeof *in->mb);
    in->sp = loom_xmalloc((size_t)maxp * sizeof *in->sp);
    in->sb = loom_xmalloc((size_t)maxp * sizeof *in->sb);
    in->left = in->n + 1; /* + 1: held by this loop, so in outlives it */
    for (int mbr = 0; mbr < in->n; mbr++)
        try_start(in, mbr, 0);
    if (in->left > 1 && !m->lockstep_off && in->nph == 1 && nf_in_flight(fl) > 0 &&
        net_graph_route_fixed(m->graph))
        nf_lock_offer(fl, lock_hook, in); /* asked at the re-rate now queued */
    member_finished(in); /* the loop's hold: the last one calls done */
}

/* ---- entry points ---------------------------------------------------------- */

void net_flow_bind(net_model *m, sim_engine *eng)
{
    LOOM_ASSERT(m->graph != NULL);
    if (m->flow == NULL)
        m->flow = nf_create(m->graph);
    if (m->eng == NULL)
        m->eng = eng;
    LOOM_ASSERT(m->eng == eng);
}

void net_sched_coll(net_model *m, sim_engine *eng, const net_group *g, net_coll op,
                    uint64_t bytes, uint32_t dim_mask, net_done_fn done, void *ctx)
{
    net_flow_bind(m, eng);
    coll_on(m, m->flow, eng, g, op, bytes, dim_mask, done, ctx);
}

static void p2p_cb(sim_engine *eng, void *ctx, uint64_t a, uint64_t b)
{
    (void)b;
    net_done_fn done;
    memcpy(&done, &a, sizeof done);
    done(eng, ctx);
}

_Static_assert(sizeof(net_done_fn) <= sizeof(uint64_t), "function pointer too wide");

static void start_p2p(net_model *m, nf *fl, sim_engine *eng, int src, int dst, uint64_t bytes,
                      net_done_fn done, void *ctx)
{
    uint64_t a = 0;
    memcpy(&a, &done, sizeof done);
    /* the endpoint delay once per message, as the analytical p2p; b: the
     * message's number, for ECMP */
    nf_start(fl, eng, src, dst, bytes, m->sys.endpoint_delay, p2p_cb, ctx, a, m->p2p_serial++);
}

void net_sched_p2p(net_model *m, sim_engine *eng, int src, int dst, uint64_t bytes,
                   net_done_fn done, void *ctx)
{
    net_flow_bind(m, eng);
    start_p2p(m, m->flow, eng, src, dst, bytes, done, ctx);
}

/* ---- one collective alone (the synchronous net_coll_time) ----------------- */

static void alone_done(sim_engine *eng, void *ctx)
{
    *(sim_time *)ctx = sim_now(eng);
}

/* Collectives repeat (every iteration of a training step): the last 256
 * results are kept, keyed by the group's members, op, size and mask. */
#define CACHE_SLOTS 256

typedef struct cache_ent {
    uint64_t ghash; /* members */
    int n;
    int op;
    uint64_t bytes;
    uint32_t mask;
    int valid;
    sim_time t;
} cache_ent;

static uint64_t group_hash(const net_group *g)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < g->n; i++)
        h = net_mix64(h ^ (uint64_t)g->ranks[i]);
    return h;
}

sim_time net_sched_coll_alone(net_model *m, const net_group *g, net_coll op, uint64_t bytes,
                              uint32_t dim_mask)
{
    uint64_t gh = group_hash(g);
    if (m->cache == NULL)
        m->cache = loom_xcalloc(CACHE_SLOTS, sizeof(cache_ent));
    cache_ent *c = &((cache_ent *)m->cache)[net_mix64(gh ^ bytes ^ ((uint64_t)op << 40) ^
                                                      ((uint64_t)dim_mask << 48)) %
                                            CACHE_SLOTS];
    if (c->valid && c->ghash == gh && c->n == g->n && c->op == (int)op && c->bytes == bytes &&
        c->mask == dim_mask)
        return c->t;
    loom_err err = {0};
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &err);
    LOOM_ASSERT(eng != NULL);
    nf *fl = nf_create(m->graph);
    sim_time t = -1;
    coll_on(m, fl, eng, g, op, bytes, dim_mask, alone_done, &t);
    sim_run(eng, SIM_TIME_MAX);
    LOOM_ASSERT(t >= 0);
    nf_destroy(fl);
    sim_engine_destroy(eng);
    *c = (cache_ent){gh, g->n, (int)op, bytes, dim_mask, 1, t};
    return t;
}

sim_time net_sched_p2p_alone(net_model *m, int src, int dst, uint64_t bytes)
{
    loom_err err = {0};
    sim_engine *eng = sim_engine_create(NET_EV_PAYLOAD_MAX, NULL, &err);
    LOOM_ASSERT(eng != NULL);
    nf *fl = nf_create(m->graph);
    sim_time t = -1;
    start_p2p(m, fl, eng, src, dst, bytes, alone_done, &t);
    sim_run(eng, SIM_TIME_MAX);
    LOOM_ASSERT(t >= 0);
    nf_destroy(fl);
    sim_engine_destroy(eng);
    return t;
}
