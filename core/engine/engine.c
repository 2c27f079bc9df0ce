#include "engine.h"

#include <string.h>

/*
 * Event slots: | sim_ev header | payload (payload_size, 16-aligned) |,
 * carved from slabs of SLAB_SLOTS and recycled through an intrusive free
 * list.  A slab is never returned before the engine dies, so the memory
 * high-water mark is the most events ever pending, times the slot size.
 *
 * Same-time batches: the heap holds batches, each a FIFO of events of one
 * time, not events.  An event joins the last batch created at its time
 * when that is the batch created last of all (`last`) or the last one
 * created for the time it was created at (`now_b`: a handler's zero-delay
 * events, between its events for later times); any other time starts a
 * new batch.  A batch stops growing once a later batch of its own time
 * exists, so for every time its batches hold events in insertion order,
 * and the heap's (time, seq) order of batches gives exactly the (time,
 * seq) order of events that a heap of events would.  A symmetric job (every rank's kernel ending at
 * the same time) then pops thousands of events from one heap entry.
 */

#define SLAB_SLOTS 4096
#define AHEAD 8 /* sim_ahead_payload's distance, in events */

typedef struct sim_ev {
    sim_handler fn;      /* called at the event's time */
    struct sim_ev *next; /* next in its batch while pending; free-list link
                          * while the slot is free */
} sim_ev;

typedef struct batch {
    sim_time t;          /* its events' time */
    sim_ev *head, *tail; /* its events, FIFO */
    struct batch *next;  /* free-list link */
} batch;

#define HDR_SIZE ((sizeof(sim_ev) + 15) & ~(size_t)15)

struct sim_engine {
    struct sim_clock clock; /* first: sim_now(), sim_last_payload() read it inline (engine.h) */
    sim_heap q;          /* pending batches by (time, seq) */
    batch *last;         /* the batch created last, while pending; else NULL */
    batch *now_b;        /* the batch created last at the time it was created at
                          * (zero-delay events), while pending; else NULL */
    batch *free_b;       /* free batches (from blocks of SLAB_SLOTS, kept) */
    batch **bslabs;      /* every batch block allocated */
    size_t nbslabs, cap_bslabs;
    size_t pending;      /* events queued */
    size_t high;         /* most events queued at once */
    uint64_t nrun;       /* events run */
    size_t slot;         /* bytes per slot: header + payload */
    sim_ev *free;        /* free slots */
    void **slabs;        /* every slab allocated */
    size_t nslabs;       /* slabs in use */
    size_t cap_slabs;    /* capacity of slabs[] */
    void *ctx;           /* handed to every handler */
    batch *ab;           /* the batch `ahead` walks, while pending; else NULL */
    sim_ev *ahead;       /* the event AHEAD after the running one in ab, or NULL */
};

sim_engine *sim_engine_create(size_t payload_size, void *ctx, loom_err *err)
{
    if (payload_size > 4096) {
        loom_err_set(err, LOOM_EINTERNAL, "event payload of %zu bytes is too large",
                     payload_size);
        return NULL;
    }
    sim_engine *e = loom_xcalloc(1, sizeof *e);
    sim_heap_init(&e->q);
    e->slot = HDR_SIZE + ((payload_size + 15) & ~(size_t)15);
    e->ctx = ctx;
    return e;
}

void sim_engine_destroy(sim_engine *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->nslabs; i++)
        free(e->slabs[i]);
    free(e->slabs);
    for (size_t i = 0; i < e->nbslabs; i++)
        free(e->bslabs[i]);
    free(e->bslabs);
    sim_heap_free(&e->q);
    free(e);
}

static void grow(sim_engine *e)
{
    if (e->nslabs == e->cap_slabs) {
        e->cap_slabs = e->cap_slabs ? 2 * e->cap_slabs : 16;
        e->slabs = loom_xrealloc(e->slabs, e->cap_slabs * sizeof *e->slabs);
    }
    char *slab = loom_xmalloc(e->slot * SLAB_SLOTS);
    e->slabs[e->nslabs++] = slab;
    for (size_t i = SLAB_SLOTS; i-- > 0;) { /* lowest address on top */
        sim_ev *ev = (sim_ev *)(slab + i * e->slot);
        ev->next = e->free;
        e->free = ev;
    }
}

static batch *new_batch(sim_engine *e)
{
    if (e->free_b == NULL) {
        if (e->nbslabs == e->cap_bslabs) {
            e->cap_bslabs = e->cap_bslabs ? 2 * e->cap_bslabs : 16;
            e->bslabs = loom_xrealloc(e->bslabs, e->cap_bslabs * sizeof *e->bslabs);
        }
        batch *blk = loom_xmalloc(SLAB_SLOTS * sizeof *blk);
        e->bslabs[e->nbslabs++] = blk;
        for (size_t i = SLAB_SLOTS; i-- > 0;) {
            blk[i].next = e->free_b;
            e->free_b = &blk[i];
        }
    }
    batch *b = e->free_b;
    e->free_b = b->next;
    return b;
}

void *sim_schedule(sim_engine *e, sim_time t, sim_handler fn)
{
    LOOM_ASSERT(t >= e->clock.now); /* the clock never goes backwards */
    if (e->free == NULL)
        grow(e);
    sim_ev *ev = e->free;
    e->free = ev->next;
    ev->fn = fn;
    ev->next = NULL;
    batch *b = e->last && e->last->t == t ? e->last : e->now_b && e->now_b->t == t ? e->now_b : NULL;
    if (b != NULL) {
        b->tail->next = ev;
        b->tail = ev;
    } else {
        b = new_batch(e);
        b->t = t;
        b->head = b->tail = ev;
        sim_heap_push(&e->q, t, b);
        e->last = b;
        if (t == e->clock.now)
            e->now_b = b;
    }
    if (++e->pending > e->high)
        e->high = e->pending;
    e->clock.last = (char *)ev + HDR_SIZE;
    e->clock.last_t = t;
    e->clock.last_fn = fn;
    return e->clock.last;
}

void *sim_schedule_in(sim_engine *e, sim_time delay, sim_handler fn)
{
    LOOM_ASSERT(delay >= 0 && e->clock.now <= SIM_TIME_MAX - delay);
    return sim_schedule(e, e->clock.now + delay, fn);
}

uint64_t sim_run_budget(sim_engine *e, sim_time until, uint64_t max)
{
    uint64_t ran = 0;
    const sim_heap_entry *top;
    while (ran < max && (top = sim_heap_top(&e->q)) != NULL && top->time <= until) {
        batch *b = top->item;
        sim_ev *ev = b->head;
        e->clock.now = b->t;
        b->head = ev->next;
        if (e->ab == b) {
            if (e->ahead)
                e->ahead = e->ahead->next;
        } else { /* a new batch: AHEAD events on, or its end */
            e->ab = b;
            e->ahead = b->head;
            for (int k = 1; k < AHEAD && e->ahead; k++)
                e->ahead = e->ahead->next;
        }
        if (b->head == NULL) { /* drained: events its handler adds start a new batch */
            sim_heap_entry ent;
            sim_heap_pop(&e->q, &ent);
            e->ab = NULL;
            if (e->last == b)
                e->last = NULL;
            if (e->now_b == b)
                e->now_b = NULL;
            b->next = e->free_b;
            e->free_b = b;
        }
        e->pending--;
        if ((char *)ev + HDR_SIZE == e->clock.last)
            e->clock.last = NULL;
        ev->fn(e, (char *)ev + HDR_SIZE, e->ctx);
        ev->next = e->free; /* recycle after the handler is done with it */
        e->free = ev;
        ran++;
    }
    e->nrun += ran;
    return ran;
}

uint64_t sim_run(sim_engine *e, sim_time until) { return sim_run_budget(e, until, UINT64_MAX); }

const void *sim_ahead_payload(const sim_engine *e, sim_handler *fn)
{
    if (e->ahead == NULL)
        return NULL;
    *fn = e->ahead->fn;
    return (const char *)e->ahead + HDR_SIZE;
}

uint64_t sim_events(const sim_engine *e) { return e->nrun; }
size_t sim_pending(const sim_engine *e) { return e->pending; }
size_t sim_high_water(const sim_engine *e) { return e->high; }
