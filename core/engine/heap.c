#include "heap.h"

#include "err.h"

/*
 * 4-ary heap in a[0..n): the children of i are 4i+1 .. 4i+4.  A 4-ary heap
 * is half as deep as a binary one, and a node's four children share a
 * cache line or two of keys (24-byte entries), so sift-down costs fewer
 * misses; sift-up (the common case for near-future events) is shorter too.
 */

static inline int less(const sim_heap_entry *x, const sim_heap_entry *y)
{
    return x->time < y->time || (x->time == y->time && x->seq < y->seq);
}

void sim_heap_init(sim_heap *h)
{
    h->a = NULL;
    h->n = h->cap = h->high = 0;
    h->next_seq = 0;
}

void sim_heap_free(sim_heap *h)
{
    free(h->a);
    sim_heap_init(h);
}

void sim_heap_push(sim_heap *h, sim_time t, void *item)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->a = loom_xrealloc(h->a, h->cap * sizeof *h->a);
    }
    sim_heap_entry e = {t, h->next_seq++, item};
    size_t i = h->n++;
    while (i > 0) { /* sift up: move the hole, write once */
        size_t parent = (i - 1) / 4;
        if (!less(&e, &h->a[parent]))
            break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i] = e;
    if (h->n > h->high)
        h->high = h->n;
}

int sim_heap_pop(sim_heap *h, sim_heap_entry *out)
{
    if (h->n == 0)
        return 0;
    *out = h->a[0];
    sim_heap_entry last = h->a[--h->n];
    size_t n = h->n, i = 0;
    for (;;) { /* sift down the last entry from the root */
        size_t c = 4 * i + 1;
        if (c >= n)
            break;
        size_t best = c, end = c + 4 < n ? c + 4 : n;
        for (size_t j = c + 1; j < end; j++)
            if (less(&h->a[j], &h->a[best]))
                best = j;
        if (!less(&h->a[best], &last))
            break;
        h->a[i] = h->a[best];
        i = best;
    }
    if (n > 0)
        h->a[i] = last;
    return 1;
}
