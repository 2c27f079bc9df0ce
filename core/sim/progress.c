#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct loom_progress {
    double t0;          /* wall clock at start */
    double last;        /* last line drawn */
    uint64_t last_ev;   /* events at the last line */
    int drawn;          /* a line is on screen */
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

loom_progress *loom_progress_start(void)
{
    if (!isatty(STDERR_FILENO))
        return NULL;
    loom_progress *p = loom_xcalloc(1, sizeof *p);
    p->t0 = p->last = wall_now();
    return p;
}

static void pg_tick(void *ctx, sim_time now, uint64_t events)
{
    loom_progress *p = ctx;
    double w = wall_now();
    if (w - p->t0 < 1.0 || w - p->last < 0.2) /* quiet for runs under a second */
        return;
    double rate = (events - p->last_ev) / (w - p->last);
    fprintf(stderr, "\r\033[Kloom: simulated %.3f ms, %llu events, %.3g events/s, %.1f s",
            (double)now / 1e9, (unsigned long long)events, rate, w - p->t0);
    p->last = w;
    p->last_ev = events;
    p->drawn = 1;
}

void loom_progress_observer(loom_progress *p, loom_observer *obs)
{
    obs->progress = pg_tick;
    obs->progress_ctx = p;
}

void loom_progress_done(loom_progress *p)
{
    if (p == NULL)
        return;
    if (p->drawn)
        fputs("\r\033[K", stderr);
    free(p);
}
