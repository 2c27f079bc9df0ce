/*
 * engine.h: one clock and one event queue; every completion is an event.
 *
 * An event is a slot from a slab pool laid out as | header | payload |:
 * sim_schedule() hands back the payload for the caller to fill, and the
 * handler receives it when the clock reaches the event's time.  Slots are
 * recycled through a free list after the handler returns: no malloc per
 * event.  The engine knows nothing of ranks, traces or networks.
 *
 * Invariant: the clock never goes backwards; scheduling in the past aborts.
 */
#ifndef LOOM_ENGINE_H
#define LOOM_ENGINE_H

#include "err.h"
#include "heap.h"

typedef struct sim_engine sim_engine;

/* Called at the event's time with its payload; may schedule more events. */
typedef void (*sim_handler)(sim_engine *eng, void *payload, void *ctx);

/* payload_size: the largest payload any event of this engine carries.
 * ctx: handed to every handler. */
sim_engine *sim_engine_create(size_t payload_size, void *ctx, loom_err *err);
void sim_engine_destroy(sim_engine *eng);

/* Schedules fn at absolute time t (>= now); returns the payload to fill. */
void *sim_schedule(sim_engine *eng, sim_time t, sim_handler fn);
/* Same, at now + delay. */
void *sim_schedule_in(sim_engine *eng, sim_time delay, sim_handler fn);

/* Runs events in (time, seq) order until the queue is empty or the next
 * event lies beyond `until`; returns the number of events run by this call. */
uint64_t sim_run(sim_engine *eng, sim_time until);
/* Same, but stops after at most max events (for progress reporting). */
uint64_t sim_run_budget(sim_engine *eng, sim_time until, uint64_t max);

/* The payload of the event scheduled last, when it is still pending and is
 * at time t with handler fn; else NULL.  An event scheduled right after
 * another of the same time runs right after it (same batch, next in line),
 * so the caller may fold the new one into this payload instead (one event
 * standing for two handled back to back): the order of handling, and so
 * every result, is the same; only the count of events run differs. */
static inline void *sim_last_payload(sim_engine *eng, sim_time t, sim_handler fn);

/* The payload of a pending event of the running event's time some events
 * (8) after it, and its handler in *fn; NULL when there is none (the time's
 * events end sooner).  A hint for prefetching a loop's worth of misses at
 * once, nothing more. */
const void *sim_ahead_payload(const sim_engine *eng, sim_handler *fn /* OUT */);

/* The clock, and the event scheduled last.  The engine's first member, so
 * that reading them is a load, not a call (replay reads the clock several
 * times per event, and asks for the last event once per node). */
struct sim_clock {
    sim_time now;
    void *last;          /* the payload of the event scheduled last, while it is
                          * pending; else NULL */
    sim_time last_t;     /* its time */
    sim_handler last_fn; /* its handler */
};
static inline sim_time sim_now(const sim_engine *eng)
{
    return ((const struct sim_clock *)(const void *)eng)->now;
}
static inline void *sim_last_payload(sim_engine *eng, sim_time t, sim_handler fn)
{
    const struct sim_clock *c = (const struct sim_clock *)(const void *)eng;
    return c->last && c->last_t == t && c->last_fn == fn ? c->last : NULL;
}
uint64_t sim_events(const sim_engine *eng);  /* events run so far */
size_t sim_pending(const sim_engine *eng);   /* events queued now */
size_t sim_high_water(const sim_engine *eng);/* most events queued at once */

#endif
