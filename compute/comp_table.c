/*
 * comp_table.c: measured kernel times from a CSV, interpolated by size
 * (the `table` compute model; format in comp.h and docs/DEVICES.md).
 *
 * The CSV is split by libcsv (RFC 4180 quoting, so a pattern may hold a
 * comma inside quotes), one line at a time so errors name the line.
 * A table is a list of series, each one kernel-name glob with its rows
 * sorted by size.  Measured tables can name every kernel of a model
 * (100,000 series), so neither loading nor lookup scans the series: a
 * hash of patterns finds a row's series while loading, and a hash of the
 * patterns without glob characters (exact names) finds a node's series in
 * O(1); only the wildcard patterns listed before it in the file are tried
 * with fnmatch, in order, which keeps "the first series in file order
 * that matches" exact.  Inside a series, a binary search.
 */
#include "comp.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uthash.h>

typedef struct row {
    double x; /* size on the series' axis: FLOPs or bytes */
    double t; /* seconds */
} row;

typedef struct series {
    char *glob;   /* kernel-name pattern */
    int exact;    /* 1: no glob characters, so it matches its own text only */
    int by_flops; /* 1: x is FLOPs; 0: bytes */
    row *rows;    /* sorted by x, distinct */
    size_t n;     /* rows */
    /* while loading: raw rows, both axes */
    double *fl, *by, *tm;
    int *line;
    size_t cap;
} series;

/* A pattern's series, by index (t->s moves as it grows). */
typedef struct pat {
    const char *glob;  /* key: the series' glob (owned by the series) */
    size_t idx;        /* its index in t->s */
    UT_hash_handle hh;
} pat;

struct comp_table {
    series *s;     /* in file order of first appearance */
    size_t n;      /* series */
    size_t cap;    /* allocated in s */
    size_t rows;
    pat *all;      /* every pattern (loading) */
    pat *exact;    /* patterns without glob characters (lookup) */
    pat *pats;     /* the entries of both hashes, 2 per series */
    size_t *wild;  /* indices of the wildcard series, ascending */
    size_t nwild;  /* entries in wild */
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
    pat *p, *tmp;
    HASH_ITER(hh, t->all, p, tmp) { /* a load that failed before index_series */
        HASH_DEL(t->all, p);
        free(p);
    }
    HASH_CLEAR(hh, t->exact); /* its entries live in t->pats */
    for (size_t i = 0; i < t->n; i++)
        table_free_series(&t->s[i]);
    free(t->s);
    free(t->pats);
    free(t->wild);
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

/* One CSV record as libcsv hands it over (RFC 4180: quotes, commas in a
 * quoted kernel pattern).  More than 4 fields are counted, not kept. */
typedef struct rec {
    char col[4][1024]; /* fields, NUL-terminated (longer ones cut) */
    int nc;            /* fields seen */
} rec;

static void on_field(void *s, size_t len, void *data)
{
    rec *r = data;
    if (r->nc < 4) {
        size_t n = len < sizeof r->col[0] - 1 ? len : sizeof r->col[0] - 1;
        memcpy(r->col[r->nc], s, n);
        r->col[r->nc][n] = '\0';
    }
    r->nc++;
}

/* Splits one line (the file is read a line at a time, so messages can
 * name the line; a quoted field cannot span lines). */
static int split_line(struct csv_parser *cp, const char *line, rec *r)
{
    memset(r, 0, sizeof *r);
    csv_init(cp, CSV_APPEND_NULL);
    size_t n = strlen(line);
    int bad = csv_parse(cp, line, n, on_field, NULL, r) != n || csv_fini(cp, on_field, NULL, r) != 0;
    csv_free(cp);
    for (int i = 0; i < 4 && i < r->nc; i++)
        memmove(r->col[i], trim(r->col[i]), strlen(trim(r->col[i])) + 1);
    return bad ? -1 : 0;
}

/* The series for a kernel pattern, made on its first row.  The hash's
 * entries are one malloc'd record each while loading (t->s moves as it
 * grows, so they hold an index); index() rebuilds them in one array. */
static series *series_for(comp_table *t, const char *glob)
{
    pat *p;
    HASH_FIND_STR(t->all, glob, p);
    if (p)
        return &t->s[p->idx];
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->s = loom_xrealloc(t->s, t->cap * sizeof *t->s);
    }
    series *se = &t->s[t->n];
    memset(se, 0, sizeof *se);
    se->glob = loom_xstrdup(glob);
    se->exact = strpbrk(glob, "*?[\\") == NULL; /* fnmatch(glob, name, 0) == strcmp */
    p = loom_xcalloc(1, sizeof *p);
    p->glob = se->glob;
    p->idx = t->n++;
    HASH_ADD_KEYPTR(hh, t->all, p->glob, strlen(p->glob), p);
    return se;
}

/* The lookup indexes: exact names in a hash, wildcards in file order. */
static void index_series(comp_table *t)
{
    pat *p, *tmp;
    HASH_ITER(hh, t->all, p, tmp) {
        HASH_DEL(t->all, p);
        free(p);
    }
    t->pats = loom_xcalloc(t->n ? t->n : 1, sizeof *t->pats);
    t->wild = loom_xmalloc((t->n ? t->n : 1) * sizeof *t->wild);
    for (size_t i = 0; i < t->n; i++) {
        if (!t->s[i].exact) {
            t->wild[t->nwild++] = i;
            continue;
        }
        p = &t->pats[i];
        p->glob = t->s[i].glob;
        p->idx = i;
        HASH_ADD_KEYPTR(hh, t->exact, p->glob, strlen(p->glob), p);
    }
}

/* Checks one data row and appends it to its series. */
static int add_row(comp_table *t, const rec *r, const char *path, int lineno, loom_err *err)
{
    if (r->nc != 4)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: expected 4 columns "
                            "(kernel,flops,bytes,time_us), found %d", path, lineno, r->nc);
    double fl, by, tm;
    if (r->col[0][0] == '\0')
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: empty kernel name (use * for any)",
                            path, lineno);
    if (num(r->col[1], 0, &fl) < 0 || num(r->col[2], 0, &by) < 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: flops and bytes must be numbers >= 0 "
                            "(got '%s', '%s')", path, lineno, r->col[1], r->col[2]);
    if (num(r->col[3], 1, &tm) < 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: time_us must be a number > 0 (got '%s')",
                            path, lineno, r->col[3]);
    if (fl == 0 && by == 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: a row needs flops or bytes > 0", path,
                            lineno);
    series *se = series_for(t, r->col[0]);
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
    return 0;
}

/* Settles a series' axis, sorts it, refuses rows that cannot be placed,
 * and drops the raw columns. */
static int settle(series *se, const char *path, loom_err *err)
{
    for (size_t j = 0; j < se->n; j++)
        se->by_flops |= se->fl[j] > 0;
    se->rows = loom_xmalloc(se->n * sizeof *se->rows);
    for (size_t j = 0; j < se->n; j++) {
        double x = se->by_flops ? se->fl[j] : se->by[j];
        if (x == 0)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: kernel '%s' is indexed by flops "
                                "(another of its rows has flops > 0), but this row has flops 0",
                                path, se->line[j], se->glob);
        se->rows[j] = (row){x, se->tm[j]};
    }
    qsort(se->rows, se->n, sizeof *se->rows, cmp_row);
    for (size_t j = 1; j < se->n; j++)
        if (se->rows[j].x == se->rows[j - 1].x)
            return loom_err_set(err, LOOM_EUSAGE, "%s: kernel '%s' has two rows at %s %.17g", path,
                                se->glob, se->by_flops ? "flops" : "bytes", se->rows[j].x);
    free(se->fl);
    free(se->by);
    free(se->tm);
    free(se->line);
    se->fl = se->by = se->tm = NULL;
    se->line = NULL;
    return 0;
}

/* Reads every line of f into t (header first); blank lines and '#'
 * comments are skipped. */
static int read_lines(comp_table *t, FILE *f, const char *path, char **bufp, size_t *cap,
                      loom_err *err);

#define LINE_MAX_CHARS 4094 /* a row is 4 short fields; longer is not a table */

/* One line into *buf (getline), so a NUL inside is seen for what it is. */
static int read_rows(comp_table *t, FILE *f, const char *path, loom_err *err)
{
    char *buf = NULL;
    size_t cap = 0;
    int rc = read_lines(t, f, path, &buf, &cap, err);
    free(buf);
    return rc;
}

static int read_lines(comp_table *t, FILE *f, const char *path, char **bufp, size_t *cap,
                      loom_err *err)
{
    int lineno = 0, header = 0;
    struct csv_parser cp;
    rec r;
    ssize_t len;
    errno = 0;
    while ((len = getline(bufp, cap, f)) >= 0) {
        char *buf = *bufp;
        lineno++;
        const char *nul = memchr(buf, '\0', (size_t)len);
        if (nul)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d, column %d: a NUL byte (the "
                                "table must be text: kernel,flops,bytes,time_us)", path, lineno,
                                (int)(nul - buf) + 1);
        if (len - (buf[len - 1] == '\n') > LINE_MAX_CHARS)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d is longer than %d characters", path,
                                lineno, LINE_MAX_CHARS);
        char *s = trim(buf);
        if (*s == '\0' || *s == '#')
            continue;
        if (split_line(&cp, s, &r) < 0)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: malformed CSV (%s)", path, lineno,
                                csv_strerror(csv_error(&cp)));
        if (header) {
            if (add_row(t, &r, path, lineno, err) < 0)
                return err->code;
            continue;
        }
        if (r.nc != 4 || strcmp(r.col[0], "kernel") || strcmp(r.col[1], "flops") ||
            strcmp(r.col[2], "bytes") || strcmp(r.col[3], "time_us"))
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: line %d: the first line must be the header "
                                "'kernel,flops,bytes,time_us'", path, lineno);
        header = 1;
    }
    if (ferror(f))
        return loom_err_set(err, LOOM_EUSAGE, "%s: read error: %s", path, strerror(errno));
    if (!header || t->rows == 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: no rows (expected the header "
                            "'kernel,flops,bytes,time_us' and at least one row)", path);
    return 0;
}

comp_table *comp_table_load(const char *path, loom_err *err)
{
    /* a regular file only: a FIFO would block the open and the read */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        loom_err_set(err, LOOM_EUSAGE, "%s: cannot open the kernel table: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        loom_err_set(err, LOOM_EUSAGE, "%s: the kernel table is %s, not a regular file", path,
                     loom_file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "r");
    if (f == NULL) {
        loom_err_set(err, LOOM_EUSAGE, "%s: cannot open the kernel table: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    comp_table *t = loom_xcalloc(1, sizeof *t);
    int rc = read_rows(t, f, path, err);
    for (size_t i = 0; rc == 0 && i < t->n; i++)
        rc = settle(&t->s[i], path, err);
    fclose(f);
    index_series(t);
    if (rc < 0) {
        comp_table_free(t);
        return NULL;
    }
    return t;
}

/* Series i's time at x (> 0). */
static double interpolate(const series *se, double x)
{
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

static double axis(const series *se, uint64_t flops, uint64_t bytes)
{
    return se->by_flops ? (double)flops : (double)bytes;
}

double comp_table_lookup(const comp_table *t, const char *name, uint64_t flops, uint64_t bytes)
{
    if (t == NULL)
        return -1;
    /* the exact series of this name, if the node has its axis; a wildcard
     * series before it in the file wins (first in file order) */
    size_t first = t->n;
    pat *p;
    HASH_FIND_STR(t->exact, name, p);
    if (p && axis(&t->s[p->idx], flops, bytes) > 0)
        first = p->idx;
    for (size_t k = 0; k < t->nwild && t->wild[k] < first; k++) {
        const series *se = &t->s[t->wild[k]];
        if (axis(se, flops, bytes) > 0 && fnmatch(se->glob, name, 0) == 0) {
            first = t->wild[k];
            break;
        }
    }
    if (first == t->n)
        return -1;
    return interpolate(&t->s[first], axis(&t->s[first], flops, bytes));
}
