/*
 * timeline.h: a Chrome trace-event timeline of a run (--timeline OUT;
 * docs/REPORT.md, "Timeline"), which Perfetto and chrome://tracing open:
 * one process per rank, a thread per resource, a slice per node, flow
 * arrows linking each collective's members.
 *
 * Feed it to loom_replay as the observer; finish after the run.  It writes
 * to a stream of the command's output set (outfile.h: gzip when OUT ends
 * in .gz), which a successful finish closes with loom_out_commit (the set
 * puts it into place with the command's other outputs) and a failed one
 * with loom_out_abort.  loom_timeline_finish frees the handle and the
 * stream whatever it returns.  Node names that are not valid UTF-8 are
 * written with U+FFFD for each invalid byte, so the file is always JSON.
 */
#ifndef LOOM_TIMELINE_H
#define LOOM_TIMELINE_H

#include "outfile.h"
#include "replay.h"

typedef struct loom_timeline loom_timeline;
loom_timeline *loom_timeline_open(loom_out *out, int nranks_hint);
void loom_timeline_observer(loom_timeline *t, loom_observer *obs);
/* After a successful run with step-overhead-us (> 0): each rank's
 * overhead as a slice "step overhead" on its cpu thread, ending at its
 * finish (docs/REPORT.md). */
void loom_timeline_overhead(loom_timeline *t, const loom_result *res, sim_time overhead);
int loom_timeline_finish(loom_timeline *t, int ok, loom_err *err); /* frees t */

#endif
