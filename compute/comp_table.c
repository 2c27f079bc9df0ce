/*
 * comp_table.c: measured kernel times from a CSV, interpolated by size
 * (the `table` compute model; format in comp.h and docs/DEVICES.md).
 *
 * A table is a list of series, each one kernel-name glob with its rows
 * sorted by size.  Lookup is a linear scan over series (tables hold tens
 * of kernels, not thousands) and a binary search inside one.
 */
#include "comp.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
    double x; /* size on the series' axis: FLOPs or bytes */
    double t; /* seconds */
} row;

typedef struct series {
    char *glob;   /* kernel-name pattern */
    int by_flops; /* 1: x is FLOPs; 0: bytes */
    row *rows;    /* sorted by x, distinct */
    size_t n;     /* rows */
    /* while loading: raw rows, both axes */
    double *fl, *by, *tm;
    int *line;
    size_t cap;
} series;

struct comp_table {
    series *s; /* in file order of first appearance */
    size_t n;  /* series */
    size_t rows;
};

static void table_free_series(series *s)
{
    free(s->glob);
    free(s->rows);
    free(s->fl);
    free(s->by);
    free(s->tm);
    free(s->line);
}

void comp_table_free(comp_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        table_free_series(&t->s[i]);
    free(t->s);
    free(t);
}

size_t comp_table_rows(const comp_table *t) { return t ? t->rows : 0; }

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Parses a finite number >= 0 (or > 0 when positive is set). */
static int num(const char *s, int positive, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < 0 || (positive && v == 0))
        return -1;
    *out = v;
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    double x = ((const row *)a)->x, y = ((const row *)b)->x;
    return (x > y) - (x < y);
}

comp_table *comp_table_load(const char *path, loom_err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        loom_err_set(err, LOOM_EUSAGE, "%s: cannot open the kernel table: %s", path, strerror(errno));
        return NULL;
    }
    comp_table *t = loom_xcalloc(1, sizeof *t);
    char buf[4096];
    int lineno = 0, header = 0;
    while (fgets(buf, sizeof buf, f)) {
        lineno++;
        if (strchr(buf, '\n') == NULL && !feof(f)) {
            loom_err_set(err, LOOM_EUSAGE, "%s: line %d is longer than %zu characters", path, lineno,
                         sizeof buf - 2);
            goto err;
        }
        char *s = trim(buf);
        if (*s == '\0' || *s == '#')
            continue;
        char *col[5];
        int nc = 0;
        for (char *p = s; nc < 5;) {
            col[nc++] = p;
            char *c = strchr(p, ',');
            if (c == NULL)
                break;
            *c = '\0';
            p = c + 1;
        }
        for (int i = 0; i < nc; i++)
            col[i] = trim(col[i]);
        if (!header) {
            if (nc != 4 || strcmp(col[0], "kernel") || strcmp(col[1], "flops") ||
                strcmp(col[2], "bytes") || strcmp(col[3], "time_us")) {
                loom_err_set(err, LOOM_EUSAGE,
                             "%s: line %d: the first line must be the header "
                             "'kernel,flops,bytes,time_us'", path, lineno);
                goto err;
            }
            header = 1;
            continue;
        }
        if (nc != 4) {
            loom_err_set(err, LOOM_EUSAGE, "%s: line %d: expected 4 columns "
                         "(kernel,flops,bytes,time_us), found %d", path, lineno, nc);
            goto err;
        }
        double fl, by, tm;
        if (*col[0] == '\0') {
            loom_err_set(err, LOOM_EUSAGE, "%s: line %d: empty kernel name (use * for any)", path,
                         lineno);
            goto err;
        }
        if (num(col[1], 0, &fl) < 0 || num(col[2], 0, &by) < 0) {
            loom_err_set(err, LOOM_EUSAGE, "%s: line %d: flops and bytes must be numbers >= 0 "
                         "(got '%s', '%s')", path, lineno, col[1], col[2]);
            goto err;
        }
        if (num(col[3], 1, &tm) < 0) {
            loom_err_set(err, LOOM_EUSAGE, "%s: line %d: time_us must be a number > 0 (got '%s')",
                         path, lineno, col[3]);
            goto err;
        }
        if (fl == 0 && by == 0) {
            loom_err_set(err, LOOM_EUSAGE, "%s: line %d: a row needs flops or bytes > 0", path,
                         lineno);
            goto err;
        }
        series *se = NULL;
        for (size_t i = 0; i < t->n; i++)
            if (strcmp(t->s[i].glob, col[0]) == 0)
                se = &t->s[i];
        if (se == NULL) {
            t->s = loom_xrealloc(t->s, (t->n + 1) * sizeof *t->s);
            se = &t->s[t->n++];
            memset(se, 0, sizeof *se);
            se->glob = loom_xstrdup(col[0]);
        }
        if (se->n == se->cap) {
            se->cap = se->cap ? 2 * se->cap : 8;
            se->fl = loom_xrealloc(se->fl, se->cap * sizeof *se->fl);
            se->by = loom_xrealloc(se->by, se->cap * sizeof *se->by);
            se->tm = loom_xrealloc(se->tm, se->cap * sizeof *se->tm);
            se->line = loom_xrealloc(se->line, se->cap * sizeof *se->line);
        }
        se->fl[se->n] = fl;
        se->by[se->n] = by;
        se->tm[se->n] = tm * 1e-6;
        se->line[se->n] = lineno;
        se->n++;
        t->rows++;
    }
    if (ferror(f)) {
        loom_err_set(err, LOOM_EUSAGE, "%s: read error", path);
        goto err;
    }
    if (!header || t->rows == 0) {
        loom_err_set(err, LOOM_EUSAGE, "%s: no rows (expected the header "
                     "'kernel,flops,bytes,time_us' and at least one row)", path);
        goto err;
    }
    /* settle each series' axis, sort, refuse rows that cannot be placed */
    for (size_t i = 0; i < t->n; i++) {
        series *se = &t->s[i];
        for (size_t j = 0; j < se->n; j++)
            se->by_flops |= se->fl[j] > 0;
        se->rows = loom_xmalloc(se->n * sizeof *se->rows);
        for (size_t j = 0; j < se->n; j++) {
            double x = se->by_flops ? se->fl[j] : se->by[j];
            if (x == 0) {
                loom_err_set(err, LOOM_EUSAGE, "%s: line %d: kernel '%s' is indexed by flops "
                             "(another of its rows has flops > 0), but this row has flops 0",
                             path, se->line[j], se->glob);
                goto err;
            }
            se->rows[j] = (row){x, se->tm[j]};
        }
        qsort(se->rows, se->n, sizeof *se->rows, cmp_row);
        for (size_t j = 1; j < se->n; j++)
            if (se->rows[j].x == se->rows[j - 1].x) {
                loom_err_set(err, LOOM_EUSAGE, "%s: kernel '%s' has two rows at %s %.17g", path,
                             se->glob, se->by_flops ? "flops" : "bytes", se->rows[j].x);
                goto err;
            }
        free(se->fl);
        free(se->by);
        free(se->tm);
        free(se->line);
        se->fl = se->by = se->tm = NULL;
        se->line = NULL;
    }
    fclose(f);
    return t;
err:
    fclose(f);
    comp_table_free(t);
    return NULL;
}

double comp_table_lookup(const comp_table *t, const char *name, uint64_t flops, uint64_t bytes)
{
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        const series *se = &t->s[i];
        double x = se->by_flops ? (double)flops : (double)bytes;
        if (x <= 0 || fnmatch(se->glob, name, 0) != 0)
            continue;
        const row *r = se->rows;
        size_t n = se->n;
        if (x <= r[0].x)
            return r[0].t;
        if (x >= r[n - 1].x)
            return r[n - 1].t * (x / r[n - 1].x);
        size_t lo = 0, hi = n - 1; /* r[lo].x < x < r[hi].x */
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (r[mid].x <= x)
                lo = mid;
            else
                hi = mid;
        }
        double w = (x - r[lo].x) / (r[hi].x - r[lo].x);
        return r[lo].t + w * (r[hi].t - r[lo].t);
    }
    return -1;
}
