/*
 * cliutil.h: what every `loom <command>` does the same way: exit codes,
 * error and usage messages, and numeric option values.
 *
 * Exit codes (docs/CLI.md) are the negated LOOM_E* codes: 0 ok, 1
 * internal, 2 usage or configuration, 3 trace, 4 simulation, 5 output.
 * Messages: one line each, "loom: error: MSG" for a failure, and for a
 * usage error
 *   loom: error: CMD: MSG (see 'loom CMD --help')
 */
#ifndef LOOM_CLIUTIL_H
#define LOOM_CLIUTIL_H

#include "err.h"

/* The exit code of a 0 / LOOM_E* status (either sign accepted). */
int loom_exit_code(int rc);

/* Prints err's message as "loom: error: ..." and returns its exit code
 * (1 when no code is set). */
int loom_fail(const loom_err *err);

/* Prints a usage error for `loom CMD` (cmd NULL: plain `loom`); fmt takes
 * one string argument.  Returns 2. */
int loom_usage(const char *cmd, const char *fmt, const char *arg);

/* A finite number in [lo, hi] (or (lo, hi] with lo_open) for option
 * `opt`; on anything else prints a usage error and returns -1. */
int loom_opt_double(const char *cmd, const char *opt, const char *s, double lo, int lo_open,
                    double hi, double *out /* OUT */);
/* A decimal integer in [lo, hi]; likewise. */
int loom_opt_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
                 int *out /* OUT */);

#endif
