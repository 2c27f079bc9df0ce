#include "cliutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int loom_exit_code(int rc) { return rc < 0 ? -rc : rc; }

int loom_fail(const loom_err *err)
{
    fprintf(stderr, "loom: error: %s\n", err->msg[0] ? err->msg : "unknown error");
    return loom_exit_code(err->code ? err->code : LOOM_EINTERNAL);
}

int loom_usage(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "loom: error: %s%s", cmd ? cmd : "", cmd ? ": " : "");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'loom%s%s --help')\n", cmd ? " " : "", cmd ? cmd : "");
    return loom_exit_code(LOOM_EUSAGE);
}

int loom_opt_double(const char *cmd, const char *opt, const char *s, double lo, int lo_open,
                    double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !isfinite(v) || (lo_open ? !(v > lo) : !(v >= lo)) ||
        !(v <= hi)) {
        fprintf(stderr, "loom: error: %s: %s '%s': expected a number %s%g .. %g (see 'loom %s --help')\n",
                cmd, opt, s, lo_open ? "> " : "", lo, hi, cmd);
        return -1;
    }
    *out = v;
    return 0;
}

int loom_opt_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "loom: error: %s: %s '%s': expected an integer %ld .. %ld (see 'loom %s --help')\n",
                cmd, opt, s, lo, hi, cmd);
        return -1;
    }
    *out = (int)v;
    return 0;
}
