/*
 * net_flow.c: the flow model's core.  Every transfer is a flow on a routed
 * path of directed links; the flows in flight share each link's bandwidth
 * max-min fairly (docs/NETWORK.md section 2).
 *
 * Invariants, between events:
 *   - a live, draining flow appears exactly once in the flow list of every
 *     link of its path, at the position its hop records (pos[h]); a
 *     departing flow's entry becomes a hole (rate -0.0, chained from
 *     l->hole), which the next flow to start on the link fills, the last
 *     hole made first; the last entry goes without a hole, and an emptied
 *     list starts over.  Nothing else moves on a departure: moving the
 *     list's last flow into the gap, as before, read that entry and
 *     rewrote that flow's position, two cache misses a hop on large
 *     fabrics.  A re-rate about to read a list that is more than half holes
 *     first closes them up, in order (nf_compact, net_flow_sum.c);
 *   - after a re-rate has run, the rates are the max-min fair allocation of
 *     the flows in flight: no link is over its bandwidth, and every flow
 *     crosses a saturated link on which no flow has a higher rate;
 *   - a flow's pending completion event carries the flow's generation; a
 *     rate change bumps the generation, so older events are ignored.
 *
 * Re-rating (net_flow_rerate.c) is incremental: an arrival or a
 * departure marks the links of its path dirty, and one re-rate event per
 * timestamp (queued at the same time, after the events already queued
 * there) re-computes only the flows that can change.
 *
 * Bytes: a flow's remaining bytes are a double, settled to the current
 * time whenever its rate changes; its completion is at now + remaining /
 * rate, rounded to the nearest ps.  What is counted (bytes per link, sent,
 * delivered) are the flows' integer sizes, so delivered == sent exactly.
 * A completed flow's last byte reaches the destination after its path
 * latency (plus the caller's delay): the link is occupied while the flow
 * drains, the latency is added once (cut-through).  Its slot is freed at
 * its completion, and its delivery waits as a call entry (the starter's
 * callback and words, its bytes), so that the delivery does not read the
 * slot again: at 16.7 M flows a slot read later is a cache miss.
 *
 * Same-time batching: completions and deliveries due at the same
 * picosecond share one engine event (a bucket of (flow, generation) in the
 * order they were scheduled), found through a hash table of the open
 * buckets by time that grows with them.  A collective whose members move
 * in lockstep (a ring step: N flows that end together) costs one event
 * per step, not N, and the engine's queue holds one entry per distinct
 * time: the direct all-to-all's first re-rate schedules 16.7 M
 * completions at ~11,600 distinct times (4,096 ranks), which a fixed
 * table of 4,096 entries had spread over 2.1 M buckets and events.  A
 * bucket is taken off the table when it fires, so whatever is scheduled
 * at that time from then on goes into a new bucket, after it, as separate
 * events did.
 */
#include "net_flow_int.h"

#include "buddy.h"
#include "prefault.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Event payloads: each carries the nf it belongs to (ev_rerate: net_flow_int.h). */
typedef struct ev_bucket {
    nf *f;      /* owner */
    uint32_t b; /* bucket */
} ev_bucket;

_Static_assert(sizeof(ev_bucket) <= NET_EV_PAYLOAD_MAX, "payload too big");

nf *nf_create(const net_graph *g)
{
    nf *f = loom_xcalloc(1, sizeof *f);
    f->g = g;
    /* read at random on every hop of every event: on 2 MiB pages where
     * they are megabytes (24,576 links at 4,096 ranks, 4.7 MB) */
    f->l = loom_big_grow(NULL, 0, (size_t)g->nlinks * sizeof *f->l);
    memset(f->l, 0, (size_t)g->nlinks * sizeof *f->l);
    for (int i = 0; i < g->nlinks; i++)
        f->l[i].hole = NF_NOHOLE;
    f->cl = loom_xmalloc(((size_t)g->nlinks + 1) * sizeof *f->cl);
    f->route = loom_xmalloc(((size_t)g->max_hops + 1) * sizeof *f->route);
    f->free = UINT32_MAX;
    f->bfree = UINT32_MAX;
    f->cfree = UINT32_MAX;
    f->sfree = UINT32_MAX;
    f->slast = UINT32_MAX;
    LOOM_ASSERT(g->max_hops < (1 << 30)); /* nf_flow.npath */
    LOOM_ASSERT((uint32_t)g->nlinks < NF_LONG);
    f->theta = INFINITY;
    f->lvmax = NF_LVMAX;
    f->pool_from = NF_POOL_FROM;
    f->grow = NF_GROW_STEPS;
    return f;
}

void nf_destroy(nf *f)
{
    if (f == NULL)
        return;
    for (int i = 0; i < f->g->nlinks; i++) {
        if (!f->l[i].pooled) /* the pool's go with it */
            free(f->l[i].e);
        if (!f->l[i].lvpooled)
            free(f->l[i].lv);
    }
    for (uint32_t i = 0; i < f->nbk; i++)
        free(f->bk[i].v);
    free(f->bk);
    free(f->bt);
    free(f->calls);
    for (uint32_t i = 0; i < f->nf; i++)
        if (nf_long(&f->f[i]))
            free(f->f[i].hop.lg.buf);
    loom_big_free(f->l, (size_t)f->g->nlinks * sizeof *f->l);
    loom_big_free(f->f, (size_t)f->capf * sizeof *f->f);
    free(f->st);
    free(f->dirty);
    free(f->cl);
    free(f->cf);
    free(f->hk);
    free(f->hv);
    free(f->route);
    free(f->fresh);
    free(f->rs);
    nf_lock_free(f);
    loom_buddy_destroy(f->pool);
    free(f);
}

/* ---- bookkeeping -------------------------------------------------------- */

static void mark_dirty(nf *f, uint32_t li)
{
    nf_link *l = &f->l[li];
    if (l->dirty)
        return;
    l->dirty = 1;
    if (f->ndirty == f->capdirty) {
        f->capdirty = f->capdirty ? 2 * f->capdirty : 256;
        f->dirty = loom_xrealloc(f->dirty, f->capdirty * sizeof *f->dirty);
    }
    f->dirty[f->ndirty++] = li;
}

static void want_rerate(nf *f, sim_engine *eng)
{
    if (f->pending)
        return;
    f->pending = 1;
    ev_rerate *e = sim_schedule(eng, sim_now(eng), nf_on_rerate);
    e->f = f;
}

/* Every NF_MEMCHECK new slots: what the flows held so far take (their
 * slots, the lists' entries allocated, a completion and a delivery queued
 * each, the starter entries), against the memory loom may use, so that a
 * run too big for the machine ends with a message before the kernel's OOM
 * killer ends it without one (about 4 GB for the 16.7 M flows of a
 * 4,096-rank all-to-all; docs/PERFORMANCE.md). */
static void mem_check(const nf *f)
{
    double need = (double)f->nf * (sizeof(nf_flow) + 2 * sizeof(nf_due)) +
                  (double)f->ents * sizeof(nf_ent) + (double)f->nst * sizeof(nf_starter);
    char what[96];
    snprintf(what, sizeof what, "the flow model's %u flows", f->nf);
    loom_memory_check(need, what);
}

static uint32_t slot_alloc(nf *f)
{
    uint32_t id;
    if (f->free != UINT32_MAX) {
        id = f->free;
        f->free = f->f[id].next;
    } else {
        if (f->nf == 1u << NF_DUE_SHIFT) { /* 137 GB of slots: before growing past */
            fprintf(stderr, "loom: error: out of memory: the flow model holds at most %u "
                            "flows at once\n", f->nf);
            exit(LOOM_EXIT_OOM);
        }
        if (f->nf == f->capf) { /* aligned (two lines a slot), 2 MiB pages */
            uint32_t cap = f->capf ? 2 * f->capf : 1024;
            f->f = loom_big_grow(f->f, (size_t)f->capf * sizeof *f->f, (size_t)cap * sizeof *f->f);
            f->capf = cap;
        }
        id = f->nf++;
        memset(&f->f[id], 0, sizeof f->f[id]);
        if ((f->nf & (NF_MEMCHECK - 1)) == 0) {
            mem_check(f);
            /* the next NF_MEMCHECK slots after those two ahead (8 MiB,
             * 16 to 24 MiB past the slot in use) handed to the helper
             * thread to back (core/base/prefault.h), never past what the
             * array holds; a growth that moves the array loses the windows
             * asked for at the old address, harmlessly */
            uint64_t lo = (uint64_t)f->nf + 2 * NF_MEMCHECK, hi = lo + NF_MEMCHECK;
            if (hi > f->capf)
                hi = f->capf;
            if (lo < hi)
                loom_prefault(&f->f[lo], (size_t)(hi - lo) * sizeof *f->f);
        }
    }
    nf_flow *fl = &f->f[id];
    uint32_t gen = fl->gen;
    int lng = nf_long(fl);
    uint32_t *buf = fl->hop.lg.buf, cap = fl->hop.lg.cap;
    memset(fl, 0, sizeof *fl);
    fl->gen = gen + 1;
    if (lng) { /* a longer route's buffer, kept */
        fl->hop.lg.mark = NF_LONG;
        fl->hop.lg.buf = buf;
        fl->hop.lg.cap = cap;
    }
    fl->live = 1;
    return id;
}

/* The starter entry of (cb, ctx) for a new flow: the last start's when
 * it is the same and still held, else a new one. */
static uint32_t starter_hold(nf *f, nf_cb cb, void *ctx)
{
    uint32_t s = f->slast;
    if (s != UINT32_MAX && f->st[s].refs > 0 && f->st[s].cb == cb && f->st[s].ctx == ctx) {
        f->st[s].refs++;
        return s;
    }
    if (f->sfree != UINT32_MAX) {
        s = f->sfree;
        f->sfree = f->st[s].next;
    } else {
        if (f->nst == f->capst) {
            f->capst = f->capst ? 2 * f->capst : 64;
            f->st = loom_xrealloc(f->st, (size_t)f->capst * sizeof *f->st);
        }
        s = f->nst++;
    }
    f->st[s] = (nf_starter){cb, ctx, 1, UINT32_MAX};
    f->slast = s;
    return s;
}

static void starter_drop(nf *f, uint32_t s)
{
    LOOM_ASSERT(f->st[s].refs > 0);
    if (--f->st[s].refs == 0) {
        f->st[s].next = f->sfree;
        f->sfree = s;
    }
}

void nf_slot_free(nf *f, uint32_t id)
{
    nf_flow *fl = &f->f[id];
    starter_drop(f, fl->starter); /* delivered, or run in bulk by a class */
    fl->npath = 0;
    fl->live = 0;
    fl->gen++;
    fl->next = f->free;
    f->free = id;
}

static void on_bucket(sim_engine *eng, void *payload, void *engine_ctx);

/* ---- same-time buckets ----------------------------------------------------- */

static uint32_t bt_home(const nf *f, sim_time t)
{
    return (uint32_t)(net_mix64((uint64_t)t) & (f->capbt - 1));
}

/* The open bucket of time t + 1, or 0. */
static uint32_t bt_find(const nf *f, sim_time t)
{
    if (f->nbt == 0)
        return 0;
    for (uint32_t i = bt_home(f, t);; i = (i + 1) & (f->capbt - 1)) {
        if (f->bt[i].b == 0)
            return 0;
        if (f->bt[i].t == t)
            return f->bt[i].b;
    }
}

static void bt_put(nf *f, sim_time t, uint32_t b1)
{
    if (2 * (f->nbt + 1) > f->capbt) { /* grow: every open bucket anew */
        nf_bt *old = f->bt;
        uint32_t n = f->capbt;
        f->capbt = n ? 2 * n : 1024;
        f->bt = loom_xcalloc(f->capbt, sizeof *f->bt);
        f->nbt = 0;
        for (uint32_t i = 0; i < n; i++)
            if (old[i].b != 0)
                bt_put(f, old[i].t, old[i].b);
        free(old);
    }
    uint32_t i = bt_home(f, t);
    while (f->bt[i].b != 0)
        i = (i + 1) & (f->capbt - 1);
    f->bt[i] = (nf_bt){t, b1};
    f->nbt++;
}

/* Takes time t's open bucket out; the entries after it in its run move
 * back where a lookup starting at their home still finds them. */
static void bt_del(nf *f, sim_time t)
{
    uint32_t mask = f->capbt - 1, i = bt_home(f, t);
    while (f->bt[i].t != t || f->bt[i].b == 0)
        i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask; f->bt[j].b != 0; j = (j + 1) & mask) {
        uint32_t h = bt_home(f, f->bt[j].t);
        /* j's entry may fill the hole at i when its home is not in (i, j] */
        if (((j - h) & mask) >= ((j - i) & mask)) {
            f->bt[i] = f->bt[j];
            i = j;
        }
    }
    f->bt[i].b = 0;
    f->nbt--;
}

/* (kind, id, gen) is due at time t: into the open bucket of t, or a new
 * one with its own event.  Scalars, not an nf_due built by the caller: a
 * struct of 4-byte fields written then read 8 bytes at a time stalls the
 * store forwarding (it was a tenth of the ring all-reduce's time). */
void nf_due_at(nf *f, sim_engine *eng, sim_time t, uint32_t kind, uint32_t id, uint32_t gen)
{
    nf_bucket *bk = f->blast ? &f->bk[f->blast - 1] : NULL;
    /* the bucket last appended to, if still open at t (a lockstep batch),
     * else the table's */
    if (bk == NULL || bk->t != t || !bk->open) {
        uint32_t b = bt_find(f, t);
        bk = b ? &f->bk[b - 1] : NULL;
        if (bk == NULL) { /* none open at t */
            if (f->bfree != UINT32_MAX) {
                b = f->bfree;
                f->bfree = f->bk[b].next;
            } else {
                if (f->nbk == f->capbk) {
                    f->capbk = f->capbk ? 2 * f->capbk : 64;
                    f->bk = loom_xrealloc(f->bk, (size_t)f->capbk * sizeof *f->bk);
                }
                b = f->nbk++;
                f->bk[b] = (nf_bucket){0};
            }
            bk = &f->bk[b];
            bk->t = t;
            bk->n = 0;
            bk->open = 1;
            bt_put(f, t, b + 1);
            ev_bucket *e = sim_schedule(eng, t, on_bucket);
            e->f = f;
            e->b = b;
        }
        f->blast = (uint32_t)(bk - f->bk) + 1;
    }
    if (bk->n == bk->cap) {
        bk->cap = bk->cap ? 2 * bk->cap : 8;
        bk->v = loom_xrealloc(bk->v, bk->cap * sizeof *bk->v);
    }
    LOOM_ASSERT(id < 1u << NF_DUE_SHIFT);
    nf_due *d = &bk->v[bk->n++];
    d->kid = kind << NF_DUE_SHIFT | id;
    d->gen = gen;
}

/* A free entry of f->calls (the last one freed first). */
static uint32_t call_new(nf *f)
{
    uint32_t c;
    if (f->cfree != UINT32_MAX) {
        c = f->cfree;
        f->cfree = f->calls[c].next;
    } else {
        if (f->ncalls == f->capcalls) {
            f->capcalls = f->capcalls ? 2 * f->capcalls : 256;
            f->calls = loom_xrealloc(f->calls, (size_t)f->capcalls * sizeof *f->calls);
        }
        c = f->ncalls++;
    }
    return c;
}

void nf_at(nf *f, sim_engine *eng, sim_time t, nf_cb cb, void *ctx, uint64_t a, uint64_t b)
{
    if (f->eng == NULL)
        f->eng = eng;
    LOOM_ASSERT(f->eng == eng && t >= sim_now(eng) && !f->lk.on);
    uint32_t c = call_new(f);
    f->calls[c] = (nf_call){cb, ctx, a, b, 0, 0};
    nf_due_at(f, eng, t, NF_DUE_CALL, c, 0);
}

static void complete(nf *f, sim_engine *eng, uint32_t id, uint32_t gen);

static void deliver(nf *f, sim_engine *eng, uint32_t id)
{
    const nf_flow *fl = &f->f[id];
    nf_cb cb = f->st[fl->starter].cb;
    void *ctx = f->st[fl->starter].ctx;
    uint64_t a = fl->a, b = fl->b;
    f->tot.bytes_delivered += fl->bytes;
    nf_slot_free(f, id);
    cb(eng, ctx, a, b);
}

/* When flow fl's tail (latency and delay) ends, from now; past the end of
 * representable time it saturates, and replay reports it. */
static sim_time tail_end(const nf_flow *fl, sim_time now)
{
    LOOM_ASSERT(fl->tail >= 0);
    return fl->tail < SIM_TIME_MAX - now ? now + fl->tail : SIM_TIME_MAX;
}

/* The delivery after its tail of a flow that never drains (no bytes, or
 * its source is its destination); a drained flow's is a call (complete). */
static void schedule_tail(nf *f, sim_engine *eng, uint32_t id)
{
    nf_flow *fl = &f->f[id];
    nf_due_at(f, eng, tail_end(fl, sim_now(eng)), NF_DUE_DELIVER, id, fl->gen);
}

void nf_start(nf *f, sim_engine *eng, int src, int dst, uint64_t bytes,
              sim_time delay, nf_cb cb, void *ctx, uint64_t a, uint64_t b)
{
    const net_graph *g = f->g;
    LOOM_ASSERT(src >= 0 && src < g->npus && dst >= 0 && dst < g->npus);
    LOOM_ASSERT(delay >= 0 && cb != NULL);
    /* a class in bulk holds the links it stands for as empty: nothing may
     * start while it runs (nothing can, the engine holding only its events,
     * unless a caller stops the engine half-way and starts more) */
    LOOM_ASSERT(!f->lk.on);
    if (f->eng == NULL)
        f->eng = eng;
    LOOM_ASSERT(f->eng == eng);
    sim_time now = sim_now(eng);
    f->tot.flows++;
    f->tot.bytes_sent += bytes;
    uint32_t id = slot_alloc(f);
    nf_flow *fl = &f->f[id];
    fl->bytes = bytes;
    fl->starter = starter_hold(f, cb, ctx);
    fl->a = a;
    fl->b = b;
    fl->tail = delay;
    if (src == dst) { /* nothing crosses a link */
        schedule_tail(f, eng, id);
        return;
    }
    /* ECMP: a hash of the endpoints and the starter's second word (a
     * collective's phase and step, a message's number), never of timing,
     * so paths do not move when a rate changes in its last bit */
    uint64_t h = net_mix64(((uint64_t)(uint32_t)src << 32 | (uint32_t)dst) ^
                           net_mix64(b));
    int np = net_graph_route(g, src, dst, h, f->route);
    LOOM_ASSERT(np >= 1 && np <= g->max_hops);
    sim_time lat = 0;
    for (int i = 0; i < np; i++)
        lat += g->llat[f->route[i]];
    fl->tail = delay + lat;
    if (bytes == 0) { /* a pure latency message */
        schedule_tail(f, eng, id);
        return;
    }
    if (np > NF_IH && (!nf_long(fl) || fl->hop.lg.cap < 2 * (uint32_t)np)) {
        uint32_t cap = 2 * (uint32_t)np;
        fl->hop.lg.buf = loom_xrealloc(nf_long(fl) ? fl->hop.lg.buf : NULL, cap * sizeof(uint32_t));
        fl->hop.lg.cap = cap;
        fl->hop.lg.mark = NF_LONG;
    } else if (np <= NF_IH && nf_long(fl)) { /* its hops go in line 1 */
        free(fl->hop.lg.buf);
        fl->hop.lg.mark = 0;
    }
    fl->npath = (uint32_t)np;
    uint32_t *hop = nf_hop(fl);
    fl->rem = (double)bytes;
    fl->last = now;
    for (int i = 0; i < np; i++) {
        uint32_t li = f->route[i];
        nf_link *l = &f->l[li];
        uint32_t pos = l->hole;
        if (pos != NF_NOHOLE) {
            l->hole = l->e[pos].id;
        } else {
            if (l->m == l->cap)
                nf_list_grow(f, l);
            pos = l->m++;
        }
        hop[2 * i] = li;
        hop[2 * i + 1] = pos;
        l->e[pos] = (nf_ent){0, id};
        l->n++;
        if (nf_sum_keep(l))
            l->nfr++;
        if (l->n == 1)
            l->busy_since = now;
        if (l->n > l->peak)
            l->peak = l->n;
        mark_dirty(f, li);
    }
    fl->fresh = 1;
    if (f->nfresh == f->capfresh) {
        f->capfresh = f->capfresh ? 2 * f->capfresh : 256;
        f->fresh = loom_xrealloc(f->fresh, f->capfresh * sizeof *f->fresh);
    }
    f->fresh[f->nfresh++] = id;
    f->live++;
    if (f->live > f->tot.peak_flows)
        f->tot.peak_flows = f->live;
    want_rerate(f, eng);
}

/* Takes a drained flow off its links: each entry becomes a hole, or goes
 * if it is the list's last (net_flow.c's invariants).  A store a hop: the
 * entry is not read (its position is its hop's; nf_check_links checks
 * that in the tests), no other flow moves. */
static void unlink_flow(nf *f, uint32_t id, sim_time now)
{
    nf_flow *fl = &f->f[id];
    uint32_t np = fl->npath;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t li = nf_hop(fl)[2 * i], pos = nf_hop(fl)[2 * i + 1];
        nf_link *l = &f->l[li];
        LOOM_ASSERT(pos < l->m);
        l->n--;
        if (l->n == 0) { /* the list is empty: holes and all */
            l->m = 0;
            l->hole = NF_NOHOLE;
        } else if (pos == l->m - 1) { /* the last entry: no hole */
            l->m--;
        } else {
            l->e[pos] = (nf_ent){-0.0, l->hole};
            l->hole = pos;
        }
        l->bytes += fl->bytes;
        if (nf_sum_keep(l)) {
            if (fl->rate > 0)
                nf_sum_del(l, fl->rate);
            else
                l->nfr--;
        }
        if (l->n == 0)
            l->busy += now - l->busy_since;
        mark_dirty(f, li);
    }
    f->live--;
}

static void complete(nf *f, sim_engine *eng, uint32_t id, uint32_t gen)
{
    nf_flow *fl = &f->f[id];
    if (!fl->live || fl->gen != gen || fl->npath == 0)
        return; /* re-rated since: a newer entry stands for it */
    sim_time now = sim_now(eng);
    if (fl->rate < f->theta)
        f->theta = fl->rate;
    unlink_flow(f, id, now);
    fl->npath = 0; /* drained: its tail (latency) is all that is left */
    fl->rem = 0;
    fl->rate = 0;
    fl->gen++;
    want_rerate(f, eng);
    if (fl->tail == 0) {
        deliver(f, eng, id);
        return;
    }
    /* its delivery after the tail, as a call: the slot is read now, while
     * in the cache, and freed (the delivery's place in its bucket is the
     * one schedule_tail would give it) */
    sim_time at = tail_end(fl, now);
    uint32_t c = call_new(f);
    f->calls[c] = (nf_call){f->st[fl->starter].cb, f->st[fl->starter].ctx, fl->a, fl->b,
                            fl->bytes, 0};
    nf_slot_free(f, id);
    nf_due_at(f, eng, at, NF_DUE_CALL, c, 0);
}

/* What the entries ahead of a bucket's i-th will touch, asked for in
 * stages so that each stage's addresses are in the cache when read: the
 * slot 12 ahead; the links of a completion 6 ahead (from its hops, in
 * line 1 of its slot); its entry in each list, to be written into a hole,
 * 3 ahead.  A delivery reads its slot and its starter's entry (few, hot);
 * a call, its entry in f->calls (written when its flow completed, or by
 * nf_at).  Stale entries are asked for too: harmless. */
static inline void bucket_ahead(const nf *f, const nf_due *v, uint32_t i, uint32_t n)
{
    if (i + 12 < n && nf_due_kind(v[i + 12]) != NF_DUE_CALL)
        nf_prefetch(f, nf_due_id(v[i + 12]));
    if (i + 6 < n && nf_due_kind(v[i + 6]) == NF_DUE_COMPLETE) {
        const nf_flow *fl = &f->f[nf_due_id(v[i + 6])];
        const uint32_t *hop = nf_chop(fl);
        for (uint32_t h = 0; h < fl->npath && h < NF_IH; h++)
            __builtin_prefetch(&f->l[hop[2 * h]]);
    }
    if (i + 3 < n && nf_due_kind(v[i + 3]) == NF_DUE_COMPLETE) {
        const nf_flow *fl = &f->f[nf_due_id(v[i + 3])];
        const uint32_t *hop = nf_chop(fl);
        for (uint32_t h = 0; h < fl->npath && h < NF_IH; h++) {
            const nf_link *l = &f->l[hop[2 * h]];
            if (hop[2 * h + 1] < l->m)
                __builtin_prefetch(&l->e[hop[2 * h + 1]], 1);
        }
    }
}

/* Runs a bucket's entries in order.  It is closed first (taken off the
 * table), so what they schedule at this same time opens a new one. */
static void on_bucket(sim_engine *eng, void *payload, void *engine_ctx)
{
    (void)engine_ctx;
    ev_bucket *e = payload;
    nf *f = e->f;
    uint32_t b = e->b;
    if (f->bk[b].open) {
        f->bk[b].open = 0;
        bt_del(f, f->bk[b].t);
    }
    for (uint32_t i = 0; i < f->bk[b].n; i++) { /* f->bk may move: index it */
        nf_due d = f->bk[b].v[i];
        uint32_t kind = nf_due_kind(d), id = nf_due_id(d);
        bucket_ahead(f, f->bk[b].v, i, f->bk[b].n);
        if (kind == NF_DUE_COMPLETE) {
            complete(f, eng, id, d.gen);
        } else if (kind == NF_DUE_CALL) {
            nf_call c = f->calls[id]; /* freed first: the call may schedule more */
            f->calls[id].next = f->cfree;
            f->cfree = id;
            f->tot.bytes_delivered += c.bytes;
            c.cb(eng, c.ctx, c.a, c.b);
        } else {
            LOOM_ASSERT(f->f[id].live && f->f[id].gen == d.gen);
            deliver(f, eng, id);
        }
    }
    f->bk[b].n = 0;
    f->bk[b].next = f->bfree;
    f->bfree = b;
}

