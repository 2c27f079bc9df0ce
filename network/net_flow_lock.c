/*
 * net_flow_lock.c: lockstep classes, the flow model's bulk path
 * (docs/PERFORMANCE.md, "Flow model at scale").
 *
 * A ring step is N flows that start together, carry the same bytes over
 * links of the same bandwidth and latency, each alone on its links; a ring
 * all-reduce is 2(N-1) x W such steps, N^2 flows in all (134 M at 4,096),
 * and each flow costs a route, a link insertion, two re-rate visits, a
 * completion, a delivery and its member's bookkeeping (160-200 ns).
 *
 * Once nothing else is left in the simulation (the engine holds no event
 * but the re-rate of the step's flows), nothing can touch their links
 * until the collective ends: every engine event from then on is one of
 * its own, and the only code that runs is the flow model's and the
 * collective's.  So the class runs in bulk: each step is the five engine
 * events its N flows would cause, at the same times, scheduled from the
 * same handlers in the same order (the engine's event count, its queue's
 * high-water mark and the order of anything at equal times do not
 * change), each O(1):
 *
 *   E0 start (t0): the flows begin, a re-rate is queued at t0;
 *   E1 re-rate (t0): each flow alone, rated at its narrowest link's
 *      bandwidth (rerate_alone's double); completion at
 *      t0 + llround(B / rate * 1e12) as rerate_settle computes it; the
 *      links whose bandwidth is then all allocated are saturated;
 *   E2 completion (tc): the links carried B more bytes and were busy
 *      tc - t0; a re-rate queued at tc, then the deliveries at tc + the
 *      path latency (complete, schedule_tail);
 *   E3 re-rate (tc): nothing left on the links, their saturation ends;
 *   E4 delivery: the members wait the step's delay, then the next step
 *      starts (E5, then E0), or at once when the delay is 0.
 *
 * No flow is materialised: the links' statistics, the same on every link
 * of the class, accumulate here and are added at the end (or read in
 * passing by nf_top_links).  net_sched.c decides what is a class
 * (lock_hook): one phase; in every remaining step every member one send
 * and one receive, to the same peer as now, the same bytes and reduction
 * as every other member; routes that do not depend on the ECMP hash, so
 * the links stay those of the flows in flight.  nf_lock_flows checks the
 * flows themselves.  Every simulated time is the one the flows give: the
 * same doubles from the same operations.
 */
#include "net_flow_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ev_lock {
    nf *f;         /* owner */
    uint32_t kind; /* LK_* */
} ev_lock;

/* The engine events of a step, as the head comment numbers them. */
enum { LK_RERATE0, LK_COMPLETE, LK_RERATE1, LK_DELIVER, LK_STEP };

_Static_assert(sizeof(ev_lock) <= NET_EV_PAYLOAD_MAX, "payload too big");

static void on_lock(sim_engine *eng, void *payload, void *engine_ctx);

static void lock_at(nf *f, sim_engine *eng, sim_time t, uint32_t kind)
{
    ev_lock *e = sim_schedule(eng, t, on_lock);
    e->f = f;
    e->kind = kind;
}

uint64_t nf_lock_runs(const nf *f) { return f->lk.runs; }

void nf_lock_offer(nf *f, nf_lock_hook hook, void *ctx)
{
    f->lk.hook = hook;
    f->lk.hctx = ctx;
}

size_t nf_lock_flows(const nf *f, nf_cb cb, const void *ctx, uint64_t *a, uint64_t *bytes,
                     double *rate, sim_time *tail)
{
    const net_graph *g = f->g;
    if (f->lk.on || f->nfresh != f->live || f->live == 0)
        return 0;
    for (size_t i = 0; i < f->nfresh; i++) {
        const nf_flow *fl = &f->f[f->fresh[i]];
        const nf_starter *c = &f->st[fl->starter];
        if (!fl->live || !fl->fresh || fl->npath == 0 || c->cb != cb || c->ctx != ctx)
            return 0;
        double bw = INFINITY; /* rerate_alone's rate */
        sim_time lat = 0;
        for (uint32_t h = 0; h < fl->npath; h++) {
            uint32_t li = nf_chop(fl)[2 * h];
            if (f->l[li].n != 1 || f->l[li].saturated)
                return 0;
            if (g->lbw[li] < bw)
                bw = g->lbw[li];
            lat += g->llat[li];
        }
        if (i == 0) {
            *bytes = fl->bytes;
            *rate = bw;
            *tail = fl->tail;
        }
        if (fl->bytes != *bytes || bw != *rate || fl->tail != *tail || fl->tail != lat ||
            fl->tail <= 0)
            return 0;
        a[i] = fl->a;
    }
    return f->nfresh;
}

void nf_lock_stats(const nf *f, int i, sim_time now, uint64_t *bytes, sim_time *busy,
                   sim_time *sat)
{
    const nf_lock *lk = &f->lk;
    const net_graph *g = f->g;
    *bytes += lk->acc_bytes;
    *busy += lk->acc_busy + (lk->drain ? now - lk->t0 : 0);
    if (g->lbw[i] - lk->rate <= g->lbw[i] * 1e-9) /* nf_lock_run's satl */
        *sat += lk->acc_sat + (lk->sat ? now - lk->t0 : 0);
}

void nf_lock_free(nf *f)
{
    nf_lock *lk = &f->lk;
    free(lk->links);
    free(lk->satl);
    free(lk->bytes);
    free(lk->delay);
    lk->links = NULL;
    lk->satl = NULL;
    lk->bytes = NULL;
    lk->delay = NULL;
}

void nf_lock_run(nf *f, sim_engine *eng, size_t nsteps, const uint64_t *bytes,
                 const sim_time *delay, void (*fin)(sim_engine *eng, void *ctx), void *ctx)
{
    const net_graph *g = f->g;
    nf_lock *lk = &f->lk;
    LOOM_ASSERT(!lk->on && nsteps >= 1 && f->nfresh == f->live);
    size_t nl = 0;
    for (size_t i = 0; i < f->nfresh; i++)
        nl += f->f[f->fresh[i]].npath;
    lk->links = loom_xmalloc(nl * sizeof *lk->links);
    lk->satl = loom_xmalloc(nl);
    lk->bytes = loom_xmalloc(nsteps * sizeof *lk->bytes);
    lk->delay = loom_xmalloc(nsteps * sizeof *lk->delay);
    memcpy(lk->bytes, bytes, nsteps * sizeof *bytes);
    memcpy(lk->delay, delay, nsteps * sizeof *delay);
    /* the flows leave the links (each was alone on them) and their slots;
     * the class stands for them from here */
    nl = 0;
    for (size_t i = 0; i < f->nfresh; i++) {
        uint32_t id = f->fresh[i];
        nf_flow *fl = &f->f[id];
        double bw = INFINITY;
        for (uint32_t h = 0; h < fl->npath; h++) {
            uint32_t li = nf_hop(fl)[2 * h];
            nf_link *l = &f->l[li];
            LOOM_ASSERT(l->n == 1 && l->e[nf_hop(fl)[2 * h + 1]].id == id && !l->lock);
            l->n = 0;
            l->m = 0;
            l->hole = NF_NOHOLE;
            nf_sum_reset(l);
            l->lock = 1;
            l->dirty = 0;
            lk->links[nl++] = li;
            if (g->lbw[li] < bw)
                bw = g->lbw[li];
        }
        lk->rate = bw; /* the same for every flow (nf_lock_flows) */
        lk->tail = fl->tail;
        nf_slot_free(f, id);
    }
    lk->nlinks = nl;
    for (size_t i = 0; i < nl; i++) { /* rerate_alone then rerate_links */
        uint32_t li = lk->links[i];
        lk->satl[i] = g->lbw[li] - lk->rate <= g->lbw[li] * 1e-9;
    }
    lk->nfl = (uint32_t)f->nfresh;
    f->ndirty = 0;
    f->nfresh = 0;
    f->theta = INFINITY;
    lk->on = 1;
    lk->drain = 1;
    lk->sat = 0;
    lk->nsteps = nsteps;
    lk->s = 0;
    lk->t0 = sim_now(eng);
    lk->acc_bytes = 0;
    lk->acc_busy = 0;
    lk->acc_sat = 0;
    lk->fin = fin;
    lk->ctx = ctx;
    lk->runs++;
    ev_lock e = {f, LK_RERATE0}; /* the re-rate running now is step 0's E1 */
    on_lock(eng, &e, NULL);
}

/* Adds the class's accumulated statistics to its links. */
static void lock_flush(nf *f)
{
    nf_lock *lk = &f->lk;
    for (size_t i = 0; i < lk->nlinks; i++) {
        nf_link *l = &f->l[lk->links[i]];
        l->bytes += lk->acc_bytes;
        l->busy += lk->acc_busy;
        if (lk->satl[i])
            l->sat += lk->acc_sat;
    }
    lk->acc_bytes = 0;
    lk->acc_busy = 0;
    lk->acc_sat = 0;
}

/* After step s's delay: the next step starts (E0), or the class ends and
 * the links are left as the last step's flows would have left them. */
static void lock_next(nf *f, sim_engine *eng)
{
    nf_lock *lk = &f->lk;
    sim_time now = sim_now(eng);
    if (++lk->s == lk->nsteps) {
        lock_flush(f);
        for (size_t i = 0; i < lk->nlinks; i++) {
            nf_link *l = &f->l[lk->links[i]];
            l->lock = 0;
            l->busy_since = lk->t0;
            if (lk->satl[i])
                l->sat_since = lk->t0;
        }
        lk->on = 0;
        nf_lock_free(f);
        lk->fin(eng, lk->ctx); /* may start anything: the flows are real again */
        return;
    }
    uint64_t B = lk->bytes[lk->s];
    f->tot.flows += lk->nfl;
    f->tot.bytes_sent += B * lk->nfl;
    f->live += lk->nfl;
    if (f->live > f->tot.peak_flows)
        f->tot.peak_flows = f->live;
    lk->t0 = now;
    lk->drain = 1;
    f->pending = 1; /* want_rerate */
    lock_at(f, eng, now, LK_RERATE0);
}

static void on_lock(sim_engine *eng, void *payload, void *engine_ctx)
{
    (void)engine_ctx;
    ev_lock *e = payload;
    nf *f = e->f;
    nf_lock *lk = &f->lk;
    sim_time now = sim_now(eng);
    uint64_t B = lk->bytes[lk->s];
    switch (e->kind) {
    case LK_RERATE0: { /* E1: rerate() on lone fresh flows */
        f->pending = 0;
        uint32_t st = ++f->stamp; /* a re-rate's stamp, as rerate() */
        LOOM_ASSERT(st != 0);
        f->tot.rerates++;
        f->tot.rerated_flows += lk->nfl;
        lk->sat = 1;
        double rem = (double)B; /* rerate_settle: minus 0 B/s x 0 ps */
        double dt = rem > 0 ? rem / lk->rate * 1e12 : 0;
        sim_time at = dt < (double)(SIM_TIME_MAX - now) ? now + (sim_time)llround(dt) : SIM_TIME_MAX;
        lock_at(f, eng, at, LK_COMPLETE);
        break;
    }
    case LK_COMPLETE: /* E2: complete() then schedule_tail() */
        lk->acc_bytes += B;
        lk->acc_busy += now - lk->t0;
        lk->drain = 0;
        f->live -= lk->nfl;
        f->pending = 1;
        lock_at(f, eng, now, LK_RERATE1);
        lock_at(f, eng, lk->tail < SIM_TIME_MAX - now ? now + lk->tail : SIM_TIME_MAX,
                LK_DELIVER);
        break;
    case LK_RERATE1: { /* E3: the links are empty */
        f->pending = 0;
        uint32_t st1 = ++f->stamp;
        LOOM_ASSERT(st1 != 0);
        f->tot.rerates++;
        lk->acc_sat += now - lk->t0; /* saturated since E1, at t0 */
        lk->sat = 0;
        break;
    }
    case LK_DELIVER: { /* E4: the members' step_done */
        f->tot.bytes_delivered += B * lk->nfl;
        sim_time d = lk->delay[lk->s];
        if (d > 0) /* nf_at, saturating as step_done does */
            lock_at(f, eng, d < SIM_TIME_MAX - now ? now + d : SIM_TIME_MAX, LK_STEP);
        else
            lock_next(f, eng);
        break;
    }
    case LK_STEP: /* E5 */
        lock_next(f, eng);
        break;
    default: LOOM_ASSERT(0);
    }
}
