/*
 * outfile.h: output files that appear whole or not at all, and never in
 * place of something else.
 *
 * A command registers every output it will write in an output set
 * (loom_outset), together with the input files they must not be, and
 * checks the set before any work: each output's folder exists and takes a
 * new file, no two outputs are the same file, no output is an input.  The
 * writers then fill temporaries, and loom_outset_commit() renames all of
 * them into place at the end, only when every one was written;
 * loom_outset_abort() (or freeing an uncommitted set) removes them all.
 *
 * Where an output lands:
 *   - a regular file or a new name: a temporary "NAME.tmp.XXXXXX" beside
 *     it (0666 less umask), renamed over it at commit;
 *   - a symbolic link: its target (followed to the end, the folder
 *     resolved by realpath), so the link stays a link;
 *   - "-", or the file standard output (or error) already is (/dev/stdout):
 *     that descriptor, directly;
 *   - anything else that exists and is not a regular file (a character
 *     device such as /dev/null, a FIFO): opened and written directly, when
 *     its writer runs; such output cannot be taken back.
 * Two outputs are the same file when they land on the same name, or when
 * one is not a regular file and both are the same device and inode;
 * character devices (/dev/null) may be named by several outputs.  An
 * output is an input when both exist as the same device and inode.
 *
 * Every message names the path and, for a failed system call, the OS
 * reason (strerror).  Codes: LOOM_EIO when a file cannot be created,
 * written or renamed; LOOM_EUSAGE when outputs collide with each other or
 * with an input.  Sets ignore SIGXFSZ (loom_outset_create), so a write
 * beyond the file-size limit (ulimit -f) fails with EFBIG and the
 * temporaries are removed instead of the process dying beside them.
 *
 * Ownership: loom_outset_create() returns a set freed by
 * loom_outset_free(); a loom_out from loom_outset_stream() is freed by
 * loom_out_commit() or loom_out_abort().
 */
#ifndef LOOM_OUTFILE_H
#define LOOM_OUTFILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "err.h"

/* ---- output sets ---------------------------------------------------------- */

typedef struct loom_outset loom_outset;

loom_outset *loom_outset_create(void);
void loom_outset_free(loom_outset *s); /* removes what was not committed; NULL is a no-op */

/* Registers an output; returns its index.  `what` names it in messages
 * (an option such as "--json"; copied). */
int loom_outset_add(loom_outset *s, const char *path, const char *what);
/* Registers the rank files "PREFIX.<r>.et", r < count, as one output. */
int loom_outset_add_ranks(loom_outset *s, const char *prefix, int count, const char *what);
/* Registers an input no output may be; one that does not exist is left to
 * its reader to report. */
void loom_outset_input(loom_outset *s, const char *path, const char *what);
/* The same for a file the caller has just stat'ed (no second lookup: a
 * run's 131,072 rank files). */
void loom_outset_input_stat(loom_outset *s, const char *path, const struct stat *st,
                            const char *what);

/* Checks the set (above) and creates the temporaries of single files. */
int loom_outset_check(loom_outset *s, loom_err *err);

/* Writes output k (after check): fn fills f and returns 0, or -1 on a
 * failure it has reported in err (else a write error is assumed). */
int loom_outset_write(loom_outset *s, int k, int (*fn)(FILE *f, void *arg), void *arg,
                      loom_err *err);
int loom_outset_text(loom_outset *s, int k, const void *text, size_t n, loom_err *err);
/* Output k as a stream (gzip when its name ends in ".gz"); loom_out_commit
 * closes it, and the set renames it at its own commit. */
typedef struct loom_out loom_out;
loom_out *loom_outset_stream(loom_outset *s, int k, loom_err *err);
/* The temporary of rank r of output k (loom_outset_add_ranks), for writers
 * that create files themselves (trace writers, hard links): written into
 * buf; -1 if it does not fit. */
int loom_outset_member(loom_outset *s, int k, int r, char *buf, size_t n, loom_err *err);
/* 1 when some output is standard output (the text report then goes to
 * standard error). */
int loom_outset_stdout(const loom_outset *s);

/* Renames every written temporary into place; fails (removing them all)
 * if a writer failed.  An output never written is left alone. */
int loom_outset_commit(loom_outset *s, loom_err *err);
void loom_outset_abort(loom_outset *s);

/* ---- one output on its own (a set of one) -------------------------------- */

/* Writes n bytes of text to path atomically. */
int loom_write_text(const char *path, const void *text, size_t n, loom_err *err);

/* Writes `path` atomically: fn fills the temporary file; on success it is
 * renamed to path, on failure removed. */
int loom_write_atomic(const char *path, int (*fn)(FILE *f, void *arg), void *arg, loom_err *err);

/* An output stream (timelines, CSV tables written as they are computed),
 * gzip-compressed when the name ends in ".gz": put into place by
 * loom_out_commit() and removed by loom_out_abort(). */
loom_out *loom_out_open(const char *path, loom_err *err);
int loom_out_write(loom_out *o, const void *buf, size_t n); /* 0 or -1 */
int loom_out_printf(loom_out *o, const char *fmt, ...)     /* 0 or -1 */
    __attribute__((format(printf, 2, 3)));
int loom_out_commit(loom_out *o, loom_err *err);            /* frees o */
void loom_out_abort(loom_out *o);                           /* frees o; NULL is a no-op */

/* ---- text for JSON -------------------------------------------------------- */

/* s when it is valid UTF-8 (RFC 3629: no overlong forms, surrogates or
 * values above U+10FFFF, which JSON writers refuse); else a malloc'd copy,
 * also stored in *fixed for the caller to free, in which every byte that
 * does not belong to a valid sequence is replaced by U+FFFD.  *fixed is
 * set to NULL when s is returned. */
const char *loom_utf8(const char *s, char **fixed /* OUT */);

#endif
