#include "sweep_int.h"

/*
 * sweep_csv.c: the results CSV of a sweep (docs/SWEEP.md, "The CSV" and
 * "Resuming"): its header, its rows, and reading it back on resume.
 *
 * Invariants:
 *  - The file holds only whole lines: every row is built in memory and
 *    handed to one write() on an O_APPEND descriptor, then fsync'd.  A row
 *    has no raw newline inside (values are YAML flow text, error text has
 *    its control characters turned into spaces), so a write cut short by a
 *    kill is the only way to get a partial line, and it is always the last
 *    one: on start it is truncated away.
 *  - Every row carries the spec's hash; the header must be this spec's
 *    columns.  A file of another sweep is refused, never mixed with.
 *  - While a sweep writes the file it holds an exclusive flock on it.
 *
 * Quoting and reading use libcsv (Debian libcsv-dev): csv_write() quotes a
 * field RFC 4180 style, csv_parse() reads the rows back.
 */

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "outfile.h"
#include "report.h"

static const char *const head_cols[C_FIGURES] = {"status", "exit_code", "ranks",
                                                 "step_time_ns"};

/* Rank fields the results CSV summarizes (LOOM_SHOW_SWEEP), in table order. */
static int swept(int i) { return (loom_rank_fields[i].show & LOOM_SHOW_SWEEP) != 0; }

int sw_csv_nfixed(void)
{
    int n = C_FIGURES + 2; /* ..., error, spec */
    for (int i = 0; i < loom_nrank_fields; i++)
        n += 2 * swept(i);
    return n;
}

/* ---- writing -------------------------------------------------------------- */

/* Quoted only when it must be: a comma, a quote, a line break or an edge
 * space (libcsv's reader trims unquoted spaces). */
void sw_csv_field(sbuf *b, const char *s, int first)
{
    if (!first)
        sb_str(b, ",");
    size_t n = strlen(s);
    if (strpbrk(s, ",\"\r\n") == NULL && !(n && (s[0] == ' ' || s[n - 1] == ' '))) {
        sb_add(b, s, n);
        return;
    }
    size_t need = csv_write(NULL, 0, s, n);
    char *q = loom_xmalloc(need + 1);
    csv_write(q, need, s, n);
    sb_add(b, q, need);
    free(q);
}

void sw_csv_header(const sw_spec *s, sbuf *b)
{
    sw_csv_field(b, "key", 1);
    for (int a = 0; a < s->naxes; a++)
        sw_csv_field(b, s->axes[a].key, 0);
    for (int c = 0; c < C_FIGURES; c++)
        sw_csv_field(b, head_cols[c], 0);
    for (int i = 0; i < loom_nrank_fields; i++) {
        if (!swept(i))
            continue;
        const char *nm = loom_rank_fields[i].name;
        size_t stem = strlen(nm) - (strlen(nm) > 3 && !strcmp(nm + strlen(nm) - 3, "_ns") ? 3 : 0);
        char col[96];
        snprintf(col, sizeof col, "%.*s_mean_ns", (int)stem, nm);
        sw_csv_field(b, col, 0);
        snprintf(col, sizeof col, "%.*s_max_ns", (int)stem, nm);
        sw_csv_field(b, col, 0);
    }
    sw_csv_field(b, "error", 0);
    sw_csv_field(b, "spec", 0);
    sb_str(b, "\n");
}

/* Mean and max of one figure over the report's ranks. */
static void stats(json_t *ranks, const char *field, double *mean, double *max)
{
    size_t n = json_array_size(ranks);
    double sum = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        double v = json_number_value(json_object_get(json_array_get(ranks, i), field));
        sum += v;
        if (i == 0 || v > mx)
            mx = v;
    }
    /* loom's times are whole picoseconds: round the mean to one, so that the
     * mean of equal figures prints as that figure, not 707806.460000001 */
    *mean = n ? round(sum / (double)n * 1000.0) / 1000.0 : 0;
    *max = mx;
}

static void num_field(sbuf *b, double v)
{
    char t[64];
    snprintf(t, sizeof t, "%.15g", v);
    sw_csv_field(b, t, 0);
}

/* ranks, step_time_ns, and the mean and max of each breakdown figure: from
 * the ranks listed one by one, or else (over LOOM_JSON_RANKS_LISTED ranks)
 * from the report's rank_summary, whose mean is exact. */
static void figures(sbuf *b, json_t *report)
{
    char t[64];
    json_t *ranks = json_object_get(report, "ranks");
    json_t *sum = json_object_get(report, "rank_summary");
    if (json_is_array(ranks))
        snprintf(t, sizeof t, "%zu", json_array_size(ranks));
    else
        snprintf(t, sizeof t, "%lld", (long long)json_integer_value(json_object_get(sum, "ranks")));
    sw_csv_field(b, t, 0);
    num_field(b, json_number_value(json_object_get(report, "step_time_ns")));
    for (int i = 0; i < loom_nrank_fields; i++) {
        if (!swept(i))
            continue;
        double mean, max;
        if (json_is_array(ranks)) {
            stats(ranks, loom_rank_fields[i].name, &mean, &max);
        } else {
            json_t *d = json_object_get(json_object_get(sum, "fields"), loom_rank_fields[i].name);
            mean = round(json_number_value(json_object_get(d, "mean")) * 1000.0) / 1000.0;
            max = json_number_value(json_object_get(d, "max"));
        }
        num_field(b, mean);
        num_field(b, max);
    }
}

void sw_csv_row(const sw_spec *s, long long idx, const char *status, int code,
                json_t *report, const char *err, sbuf *b)
{
    int *pos = loom_xcalloc((size_t)s->ngroups, sizeof *pos);
    sw_conf_pos(s, idx, pos);
    char t[64];
    snprintf(t, sizeof t, "%016llx", (unsigned long long)sw_conf_key(s, pos));
    sw_csv_field(b, t, 1);
    for (int a = 0; a < s->naxes; a++)
        sw_csv_field(b, sw_conf_val(s, pos, a), 0);
    free(pos);
    sw_csv_field(b, status, 0);
    snprintf(t, sizeof t, "%d", code);
    sw_csv_field(b, t, 0);
    if (report)
        figures(b, report);
    else
        for (int k = C_RANKS; k < sw_csv_nfixed() - 2; k++) /* no figures */
            sw_csv_field(b, "", 0);
    char *line = loom_xstrdup(err);
    for (char *c = line; *c; c++) /* one line, printable */
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    sw_csv_field(b, line, 0);
    free(line);
    snprintf(t, sizeof t, "%016llx", (unsigned long long)s->hash);
    sw_csv_field(b, t, 0);
    sb_str(b, "\n");
}

int sw_csv_append(int fd, const char *buf, size_t n)
{
    while (n > 0) { /* retrying EINTR and short writes */
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return fsync(fd);
}

/* ---- reading back --------------------------------------------------------- */

static void rd_field(void *data, size_t len, void *ctx)
{
    sw_csv *r = ctx;
    r->f = loom_vgrow(r->f, &r->capf, (size_t)r->nf + 1, sizeof *r->f);
    char *v = loom_xmalloc(len + 1);
    memcpy(v, data ? data : "", len);
    v[len] = '\0';
    r->f[r->nf++] = v;
}

/* Record 0: the header must be exactly this spec's. */
static void rd_header(sw_csv *r)
{
    sbuf want = {0}, got = {0};
    sw_csv_header(r->s, &want);
    for (int i = 0; i < r->nf; i++)
        sw_csv_field(&got, r->f[i], i == 0);
    sb_str(&got, "\n");
    if (strcmp(want.p, got.p) != 0) {
        want.p[want.n - 1] = got.p[got.n - 1] = '\0';
        loom_err_set(r->err, LOOM_EUSAGE,
                     "%s: its columns are not this spec's:\n  file: %s\n  spec: %s\n"
                     "(write this sweep to another --out)", r->path, got.p, want.p);
    } else if (r->retry)
        sb_str(&r->kept, want.p);
    free(want.p);
    free(got.p);
}

/* A row: this spec's hash, a well-formed key; kept unless --retry-failed
 * drops it. */
static void rd_row(sw_csv *r, long rec)
{
    int ncols = 1 + r->s->naxes + sw_csv_nfixed();
    if (r->nf != ncols) {
        loom_err_set(r->err, LOOM_EUSAGE, "%s: row %ld has %d fields, the header %d", r->path,
                     rec, r->nf, ncols);
        return;
    }
    char want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)r->s->hash);
    if (strcmp(r->f[ncols - 1], want) != 0) {
        loom_err_set(r->err, LOOM_EUSAGE,
                     "%s: row %ld was written by another spec (spec %s, this one %s): its base "
                     "run or axes differ; write this sweep to another --out", r->path, rec,
                     r->f[ncols - 1], want);
        return;
    }
    char *end;
    errno = 0;
    unsigned long long key = strtoull(r->f[0], &end, 16);
    if (errno || *end || strlen(r->f[0]) != 16) {
        loom_err_set(r->err, LOOM_EUSAGE, "%s: row %ld: bad key '%s'", r->path, rec, r->f[0]);
        return;
    }
    int ok = strcmp(r->f[1 + r->s->naxes + C_STATUS], "ok") == 0;
    if (r->retry && !ok) {
        r->dropped++;
        return;
    }
    r->rows = loom_vgrow(r->rows, &r->caprows, r->nrows + 1, sizeof *r->rows);
    r->rows[r->nrows++] = (sw_done){key, ok};
    if (r->retry) {
        for (int i = 0; i < r->nf; i++)
            sw_csv_field(&r->kept, r->f[i], i == 0);
        sb_str(&r->kept, "\n");
    }
}

static void rd_record(int term, void *ctx)
{
    (void)term;
    sw_csv *r = ctx;
    long rec = r->rec++;
    if (!r->err->code) {
        if (rec == 0)
            rd_header(r);
        else
            rd_row(r, rec);
    }
    for (int i = 0; i < r->nf; i++)
        free(r->f[i]);
    r->nf = 0;
}

static int cmp_done(const void *a, const void *b)
{
    uint64_t x = ((const sw_done *)a)->key, y = ((const sw_done *)b)->key;
    return x < y ? -1 : x > y;
}

const sw_done *sw_csv_find(const sw_csv *r, uint64_t key)
{
    sw_done k = {key, 0};
    if (r->nrows == 0)
        return NULL;
    return bsearch(&k, r->rows, r->nrows, sizeof *r->rows, cmp_done);
}

void sw_csv_plan(const sw_csv *r, const uint64_t *keys, long k, long n, sw_run_state *sw)
{
    sw->todo = loom_xmalloc((size_t)(r->s->nconf / n + 1) * sizeof *sw->todo);
    for (long long i = k; i < r->s->nconf; i += n) {
        const sw_done *d = sw_csv_find(r, keys[i]);
        sw->total++;
        if (d) {
            sw->skipped++;
            sw->old_bad += !d->ok;
        } else
            sw->todo[sw->ntodo++] = i;
    }
}

void sw_csv_free(sw_csv *r)
{
    free(r->rows);
    free(r->kept.p);
    r->rows = NULL;
    r->kept.p = NULL;
    r->nrows = r->caprows = r->kept.n = r->kept.cap = 0;
}

/* A results file must be a regular file: a FIFO would block the sweep
 * forever (opening it waits for a reader, reading it for a writer), and a
 * device or a directory holds no rows. */
static int not_regular(sw_csv *r, int code, const struct stat *st)
{
    return loom_err_set(r->err, code, "%s: is %s, not a regular file (the results CSV is "
                        "read back and appended to)", r->path, loom_file_kind(st->st_mode));
}

/* The whole file into b; absent: empty. */
static int slurp(sw_csv *r, sbuf *b)
{
    int fd = open(r->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0
                               : loom_err_set(r->err, LOOM_EUSAGE, "%s: cannot read: %s", r->path,
                                              strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return loom_err_set(r->err, LOOM_EUSAGE, "%s: cannot read: %s", r->path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return not_regular(r, LOOM_EUSAGE, &st);
    }
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        close(fd);
        return loom_err_set(r->err, LOOM_EUSAGE, "%s: cannot read: %s", r->path, strerror(errno));
    }
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_add(b, buf, n);
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (rerr)
        return loom_err_set(r->err, LOOM_EUSAGE, "%s: cannot read: %s", r->path, strerror(rerr));
    return 0;
}

/* A row cut by a kill: b loses it and, with fix, so does the file. */
static int drop_partial(sw_csv *r, sbuf *b, int fd, int fix, int quiet)
{
    if (b->n == 0 || b->p[b->n - 1] == '\n')
        return 0;
    size_t keep = b->n;
    while (keep > 0 && b->p[keep - 1] != '\n')
        keep--;
    if (fix) {
        if (ftruncate(fd, (off_t)keep) != 0 || fsync(fd) != 0)
            return loom_err_set(r->err, LOOM_EIO, "%s: cannot truncate: %s", r->path,
                                strerror(errno));
        if (!quiet)
            fprintf(stderr, "loom sweep: %s: dropped a partial last line (%zu bytes) left by "
                            "an interrupted sweep\n", r->path, b->n - keep);
    }
    b->n = keep;
    return 0;
}

static void parse(sw_csv *r, const sbuf *b)
{
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    if (b->n && csv_parse(&p, b->p, b->n, rd_field, rd_record, r) != b->n && !r->err->code)
        loom_err_set(r->err, LOOM_EUSAGE, "%s: row %ld: %s", r->path, r->rec,
                     csv_strerror(csv_error(&p)));
    if (!r->err->code && csv_fini(&p, rd_field, rd_record, r) != 0)
        loom_err_set(r->err, LOOM_EUSAGE, "%s: %s", r->path, csv_strerror(csv_error(&p)));
    csv_free(&p);
    for (int i = 0; i < r->nf; i++)
        free(r->f[i]);
    free(r->f);
    r->f = NULL;
    r->nf = r->capf = 0;
}

/* fsync the directory holding path, so a newly created file's entry is on disk. */
static void fsync_dir_of(const char *path)
{
    char *d = loom_xstrdup(path);
    char *slash = strrchr(d, '/');
    const char *dir = ".";
    if (slash) {
        slash[slash == d ? 1 : 0] = '\0';
        dir = d;
    }
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(d);
}

/* Fills the temporary file of the rewrite: on disk before the rename puts
 * it in place of rows that are already there. */
static int put_kept(FILE *f, void *arg)
{
    const sbuf *k = arg;
    if (k->n && fwrite(k->p, 1, k->n, f) != k->n)
        return -1;
    return fflush(f) != 0 || fsync(fileno(f)) != 0 ? -1 : 0;
}

/* --retry-failed: the file again without the rows to rerun. */
static int rewrite_kept(sw_csv *r, int quiet)
{
    if (loom_write_atomic(r->path, put_kept, &r->kept, r->err) < 0)
        return r->err->code;
    fsync_dir_of(r->path);
    if (!quiet)
        fprintf(stderr, "loom sweep: %s: removed %ld row%s not ok, to run again\n", r->path,
                r->dropped, r->dropped == 1 ? "" : "s");
    return 0;
}

int sw_csv_load(sw_csv *r, int fd, int fix, int quiet)
{
    sbuf b = {0};
    if (slurp(r, &b) == 0 && drop_partial(r, &b, fd, fix, quiet) == 0)
        parse(r, &b);
    free(b.p);
    if (r->err->code)
        return r->err->code;
    if (r->nrows)
        qsort(r->rows, r->nrows, sizeof *r->rows, cmp_done);
    if (fix && r->retry && r->dropped > 0)
        return rewrite_kept(r, quiet);
    return 0;
}

/* ---- the file a sweep writes ---------------------------------------------- */

/* An exclusive lock on fd: a second sweep on the same file is refused. */
static int lock(sw_csv *r, int fd)
{
    /* a SIGKILLed sweep's workers may hold the lock for the moment they
     * take to die (forked, not yet exec'd): wait up to 2 s for it */
    int locked = -1;
    for (int tries = 0; tries < 40 && (locked = flock(fd, LOCK_EX | LOCK_NB)) != 0 &&
                        errno == EWOULDBLOCK;
         tries++)
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    if (locked == 0)
        return 0;
    return loom_err_set(r->err, LOOM_EIO, "%s: %s", r->path,
                        errno == EWOULDBLOCK ? "another loom sweep is writing it"
                                             : strerror(errno));
}

/* Opens r->path for appending (creating it with O_CREAT) and locks it:
 * the descriptor, or -1 with r->err set.  The lock is on an inode, and
 * --retry-failed replaces the file by rename: a sweep that waited on the
 * old inode would get its lock and append to a deleted file.  So after
 * locking, the path must still name the locked inode; if not, the file
 * was replaced meanwhile: open the path again and lock that. */
static int open_path_locked(sw_csv *r, int flags, int *existed)
{
    for (int tries = 0;; tries++) {
        struct stat st, at;
        int there = stat(r->path, &st) == 0;
        if (there && !S_ISREG(st.st_mode)) {
            not_regular(r, LOOM_EIO, &st);
            return -1;
        }
        if (existed)
            *existed = there;
        /* O_NONBLOCK: a FIFO put there after the stat fails the open (no
         * reader) instead of blocking; cleared below for the file */
        int fd = open(r->path, flags | O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
        if (fd < 0) {
            loom_err_set(r->err, LOOM_EIO, "%s: cannot open: %s", r->path, strerror(errno));
            return -1;
        }
        if (fstat(fd, &at) != 0) {
            loom_err_set(r->err, LOOM_EIO, "%s: cannot open: %s", r->path, strerror(errno));
            close(fd);
            return -1;
        }
        if (!S_ISREG(at.st_mode)) {
            not_regular(r, LOOM_EIO, &at);
            close(fd);
            return -1;
        }
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        if (lock(r, fd) < 0) {
            close(fd);
            return -1;
        }
        if (fstat(fd, &at) == 0 && stat(r->path, &st) == 0 && st.st_dev == at.st_dev &&
            st.st_ino == at.st_ino)
            return fd; /* the lock is on the file the path names */
        close(fd);
        if (tries == 100) {
            loom_err_set(r->err, LOOM_EIO, "%s: keeps being replaced while this sweep opens it",
                         r->path);
            return -1;
        }
    }
}

/* The rest of sw_csv_open once fd is locked; -1 with r->err set. */
static int open_locked(sw_csv *r, int fd, int existed, int quiet)
{
    if (!existed)
        fsync_dir_of(r->path);
    if (sw_csv_load(r, fd, 1, quiet) < 0) {
        close(fd);
        return -1;
    }
    if (r->retry && r->dropped > 0) {
        /* the file was replaced by rename: lock the new one before letting
         * go of the old, so a sweep waiting on the old inode finds, when it
         * gets that lock, a path that names another (locked) file */
        int nfd = open_path_locked(r, 0, NULL);
        close(fd);
        if (nfd < 0)
            return -1;
        fd = nfd;
    }
    if (r->rec == 0) { /* new or empty file: the header */
        sbuf h = {0};
        sw_csv_header(r->s, &h);
        if (sw_csv_append(fd, h.p, h.n) != 0)
            loom_err_set(r->err, LOOM_EIO, "%s: cannot write: %s", r->path, strerror(errno));
        free(h.p);
    }
    if (r->err->code) {
        close(fd);
        return -1;
    }
    return fd;
}

int sw_csv_open(sw_csv *r, int quiet)
{
    int existed = 0;
    int fd = open_path_locked(r, O_CREAT, &existed);
    if (fd < 0)
        return -1;
    return open_locked(r, fd, existed, quiet);
}
