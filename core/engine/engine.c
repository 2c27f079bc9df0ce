#include "engine.h"

#include <string.h>

/*
 * Event slots: | sim_ev header | payload (payload_size, 16-aligned) |,
 * carved from slabs of SLAB_SLOTS and recycled through an intrusive free
 * list.  A slab is never returned before the engine dies, so the memory
 * high-water mark is the most events ever pending, times the slot size.
 */

#define SLAB_SLOTS 4096

typedef struct sim_ev {
    sim_handler fn;      /* called at the event's time */
    struct sim_ev *next; /* free-list link while the slot is free */
} sim_ev;

#define HDR_SIZE ((sizeof(sim_ev) + 15) & ~(size_t)15)

struct sim_engine {
    sim_heap q;          /* pending events by (time, seq) */
    sim_time now;        /* the clock */
    uint64_t nrun;       /* events run */
    size_t slot;         /* bytes per slot: header + payload */
    sim_ev *free;        /* free slots */
    void **slabs;        /* every slab allocated */
    size_t nslabs;       /* slabs in use */
    size_t cap_slabs;    /* capacity of slabs[] */
    void *ctx;           /* handed to every handler */
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

void *sim_schedule(sim_engine *e, sim_time t, sim_handler fn)
{
    LOOM_ASSERT(t >= e->now); /* the clock never goes backwards */
    if (e->free == NULL)
        grow(e);
    sim_ev *ev = e->free;
    e->free = ev->next;
    ev->fn = fn;
    sim_heap_push(&e->q, t, ev);
    return (char *)ev + HDR_SIZE;
}

void *sim_schedule_in(sim_engine *e, sim_time delay, sim_handler fn)
{
    LOOM_ASSERT(delay >= 0 && e->now <= SIM_TIME_MAX - delay);
    return sim_schedule(e, e->now + delay, fn);
}

uint64_t sim_run_budget(sim_engine *e, sim_time until, uint64_t max)
{
    uint64_t ran = 0;
    const sim_heap_entry *top;
    while (ran < max && (top = sim_heap_top(&e->q)) != NULL && top->time <= until) {
        sim_heap_entry ent;
        sim_heap_pop(&e->q, &ent);
        sim_ev *ev = ent.item;
        e->now = ent.time;
        ev->fn(e, (char *)ev + HDR_SIZE, e->ctx);
        ev->next = e->free; /* recycle after the handler is done with it */
        e->free = ev;
        ran++;
    }
    e->nrun += ran;
    return ran;
}

uint64_t sim_run(sim_engine *e, sim_time until) { return sim_run_budget(e, until, UINT64_MAX); }

sim_time sim_now(const sim_engine *e) { return e->now; }
uint64_t sim_events(const sim_engine *e) { return e->nrun; }
size_t sim_pending(const sim_engine *e) { return e->q.n; }
size_t sim_high_water(const sim_engine *e) { return e->q.high; }
