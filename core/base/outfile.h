/*
 * outfile.h: output files that appear whole or not at all.
 *
 * Every output loom writes (reports, timelines, CSVs, generated traces'
 * side files) is first written to a temporary name beside the target
 * ("PATH.tmp.XXXXXX", created 0666 less umask) and renamed over it only
 * when complete, so a failed or interrupted run leaves no half file.
 * Errors name the path and the OS reason (LOOM_EIO).
 */
#ifndef LOOM_OUTFILE_H
#define LOOM_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

/* Writes n bytes of text to path atomically. */
int loom_write_text(const char *path, const void *text, size_t n, loom_err *err);

/* Writes `path` atomically: fn fills the temporary file; on success it is
 * renamed to path, on failure removed.  Shared by every output writer. */
int loom_write_atomic(const char *path, int (*fn)(FILE *f, void *arg), void *arg, loom_err *err);

/* An output stream written during a run (timelines): a temporary file,
 * gzip-compressed when the name ends in ".gz", renamed into place by
 * loom_out_commit() and removed by loom_out_abort(). */
typedef struct loom_out loom_out;
loom_out *loom_out_open(const char *path, loom_err *err);
int loom_out_write(loom_out *o, const void *buf, size_t n); /* 0 or -1 */
int loom_out_printf(loom_out *o, const char *fmt, ...)     /* 0 or -1 */
    __attribute__((format(printf, 2, 3)));
int loom_out_commit(loom_out *o, loom_err *err);            /* frees o */
void loom_out_abort(loom_out *o);                           /* frees o */

#endif
