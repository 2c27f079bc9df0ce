/*
 * timeline.h: a Chrome trace-event timeline of a run (--timeline OUT;
 * docs/REPORT.md, "Timeline"), which Perfetto and chrome://tracing open:
 * one process per rank, a thread per resource, a slice per node, flow
 * arrows linking each collective's members.
 *
 * Feed it to loom_replay as the observer; finish after the run.  The file
 * is written to a temporary name (gzip when OUT ends in .gz) and renamed
 * into place only by a successful finish.  loom_timeline_finish frees the
 * handle whatever it returns.
 */
#ifndef LOOM_TIMELINE_H
#define LOOM_TIMELINE_H

#include "replay.h"

typedef struct loom_timeline loom_timeline;
loom_timeline *loom_timeline_open(const char *path, int nranks_hint, loom_err *err);
void loom_timeline_observer(loom_timeline *t, loom_observer *obs);
int loom_timeline_finish(loom_timeline *t, int ok, loom_err *err); /* frees t */

#endif
