/*
 * heap.h: the event queue, a 4-ary min-heap ordered by (time, seq).
 *
 * Each slot caches the key beside the pointer, so sifting compares keys in
 * the array and never dereferences an event (libev's lesson: that, not the
 * arity, is where the speed is).  seq is assigned at push from a counter,
 * so entries with equal times pop in insertion order: deterministic, and
 * collectives produce equal times all the time.
 *
 * The heap owns its array only; the pointers are the caller's.
 */
#ifndef LOOM_HEAP_H
#define LOOM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "simtime.h"

typedef struct sim_heap_entry {
    sim_time time; /* key, part 1 */
    uint64_t seq;  /* key, part 2: insertion order */
    void *item;    /* the caller's */
} sim_heap_entry;

typedef struct sim_heap {
    sim_heap_entry *a; /* private: a[0..n) is the heap */
    size_t n;          /* ro: entries held */
    size_t cap;        /* private: allocated entries */
    size_t high;       /* ro: high-water mark of n */
    uint64_t next_seq; /* private */
} sim_heap;

void sim_heap_init(sim_heap *h);
void sim_heap_free(sim_heap *h);
void sim_heap_push(sim_heap *h, sim_time t, void *item);
/* Removes the least entry into *out; returns 0 when empty. */
int sim_heap_pop(sim_heap *h, sim_heap_entry *out);
/* The least entry, or NULL when empty; valid until the next push/pop. */
static inline const sim_heap_entry *sim_heap_top(const sim_heap *h)
{
    return h->n ? &h->a[0] : NULL;
}

#endif
