/*
 * replay_queue.h: private to core/sim's replay.c: a lane's ready queue
 * (the run, then the FIFO and heap of keys off it; replay_int.h's idq and
 * lane say why), inline because every issue and every readiness goes
 * through it.
 */
#ifndef LOOM_REPLAY_QUEUE_H
#define LOOM_REPLAY_QUEUE_H

#include "replay_int.h"

#include <string.h>

/* Ready nodes queued on a lane. */
static inline uint32_t lane_queued(const lane *ln)
{
    const idq *q = ln->more;
    return ln->rhi - ln->rlo + (q ? q->tail - q->head + q->hn : 0);
}

/* Some ready node is queued on a lane (lane_queued(ln) != 0, in the run
 * first: most often all that is read). */
static inline int lane_any(const lane *ln)
{
    return ln->rlo != ln->rhi || (ln->more && (ln->more->tail != ln->more->head || ln->more->hn));
}

static inline void idq_heap_push(idq *q, uint32_t key)
{
    if (q->hn == q->hcap) {
        q->hcap = q->hcap ? 2 * q->hcap : 8;
        q->heap = loom_xrealloc(q->heap, q->hcap * sizeof *q->heap);
    }
    uint32_t i = q->hn++;
    while (i > 0 && key < q->heap[(i - 1) / 2]) {
        q->heap[i] = q->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->heap[i] = key;
}

static inline uint32_t idq_heap_pop(idq *q)
{
    uint32_t top = q->heap[0], last = q->heap[--q->hn], i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= q->hn)
            break;
        if (c + 1 < q->hn && q->heap[c + 1] < q->heap[c])
            c++;
        if (!(q->heap[c] < last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (q->hn)
        q->heap[i] = last;
    return top;
}

static inline void idq_push(idq *q, uint32_t key)
{
    if (q->tail > q->head && key < q->last) {
        idq_heap_push(q, key);
        return;
    }
    if (q->tail == q->fcap) {
        if (q->head > 0) { /* slide down: amortised O(1) */
            memmove(q->fifo, q->fifo + q->head, (q->tail - q->head) * sizeof *q->fifo);
            q->tail -= q->head;
            q->head = 0;
        }
        if (q->tail == q->fcap) {
            q->fcap = q->fcap ? 2 * q->fcap : 4;
            q->fifo = loom_xrealloc(q->fifo, q->fcap * sizeof *q->fifo);
        }
    }
    q->fifo[q->tail++] = key;
    q->last = key;
}

static inline void lane_push(lane *ln, uint32_t key)
{
    if (ln->rlo == ln->rhi) { /* the run is empty: it starts here */
        ln->rlo = key;
        ln->rhi = key + 1;
    } else if (key == ln->rhi) {
        ln->rhi++;
    } else {
        if (ln->more == NULL)
            ln->more = loom_xcalloc(1, sizeof *ln->more);
        idq_push(ln->more, key);
    }
}

/* The least key queued on a lane that has one. */
static inline uint32_t lane_pop(lane *ln)
{
    idq *q = ln->more;
    uint32_t key;
    int fifo = q && q->tail > q->head;
    if (ln->rlo < ln->rhi && (!fifo || ln->rlo < q->fifo[q->head]) &&
        (!q || q->hn == 0 || ln->rlo < q->heap[0]))
        return ln->rlo++;
    if (q->hn > 0 && (!fifo || q->heap[0] < q->fifo[q->head]))
        key = idq_heap_pop(q);
    else
        key = q->fifo[q->head++];
    if (q->head == q->tail)
        q->head = q->tail = 0;
    return key;
}

/* Frees what a lane's queue allocated (its keys off the run). */
static inline void lane_release(lane *ln)
{
    if (ln->more) {
        free(ln->more->fifo);
        free(ln->more->heap);
        free(ln->more);
        ln->more = NULL;
    }
}

#endif
