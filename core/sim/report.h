/*
 * report.h: what a run prints and writes.
 *
 * The text report goes to a FILE (stdout); the JSON report is written to a
 * temporary name beside OUT and renamed into place only when complete, so
 * a failed run leaves no half file.  Field meanings: docs/REPORT.md.
 */
#ifndef LOOM_REPORT_H
#define LOOM_REPORT_H

#include <stdio.h>

#include "outfile.h"
#include "replay.h"

typedef struct loom_run_info {
    const char *workload; /* trace prefix */
    const char *network;  /* network file */
    const char *system;   /* system file */
    const char *comm_group; /* comm-group file or NULL */
} loom_run_info;

void loom_report_text(FILE *out, const loom_run_info *info, const loom_cfg *cfg,
                      const loom_result *res);
/* The JSON report; reproducible zeroes the wall time and peak RSS so that
 * the same run gives byte-identical files. */
int loom_report_json(const char *path, const loom_run_info *info, const loom_cfg *cfg,
                     const loom_result *res, int reproducible, loom_err *err);

/* One row per rank / per collective (docs/REPORT.md lists the columns). */
int loom_report_csv_ranks(const char *path, const loom_result *res, loom_err *err);
int loom_report_csv_colls(const char *path, const loom_result *res, loom_err *err);

/* nccl-tests' bus bandwidth factor and data size of a collective: algbw =
 * size / time, busbw = algbw * factor.  size is comm_size, except for
 * all-gather and gather, whose size is the output, ranks * comm_size. */
double loom_busbw_factor(int type, int nranks);
double loom_coll_size(int type, uint64_t bytes, int nranks);

/* Chrome trace-event timeline (opens in Perfetto and chrome://tracing):
 * one process per rank, a thread per resource, a slice per node, flow
 * arrows linking each collective's members.  Feed it to loom_replay as
 * the observer; finish after the run. */
typedef struct loom_timeline loom_timeline;
loom_timeline *loom_timeline_open(const char *path, int nranks_hint, loom_err *err);
void loom_timeline_observer(loom_timeline *t, loom_observer *obs);
int loom_timeline_finish(loom_timeline *t, int ok, loom_err *err); /* frees t */

/* A progress line on stderr for runs over a second when stderr is a
 * terminal: simulated time reached and events per second. */
typedef struct loom_progress loom_progress;
loom_progress *loom_progress_start(void); /* NULL when stderr is no terminal */
void loom_progress_observer(loom_progress *p, loom_observer *obs);
void loom_progress_done(loom_progress *p); /* clears the line; frees p */

#endif
