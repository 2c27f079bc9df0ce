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

#include "replay.h"

typedef struct loom_run_info {
    const char *workload; /* trace prefix */
    const char *network;  /* network file */
    const char *system;   /* system file */
    const char *comm_group; /* comm-group file or NULL */
} loom_run_info;

void loom_report_text(FILE *out, const loom_run_info *info, const loom_cfg *cfg,
                      const loom_result *res);
int loom_report_json(const char *path, const loom_run_info *info, const loom_cfg *cfg,
                     const loom_result *res, loom_err *err);

/* Writes `path` atomically: fn fills the temporary file; on success it is
 * renamed to path, on failure removed.  Shared by every output writer. */
int loom_write_atomic(const char *path, int (*fn)(FILE *f, void *arg), void *arg, loom_err *err);

#endif
