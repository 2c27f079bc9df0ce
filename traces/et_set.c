#include "et_set.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "et_io.h"

#include <uthash.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

/*
 * Invariant: graphs[k] was parsed from the file of rank rep[k], and every
 * rank r has of[r] = k for the graph its file shares; a file is read whole
 * (digest) at most once before the one parse that follows.
 */

typedef struct set_graph {
    et_graph *g;   /* the parsed graph */
    int rep;       /* the rank whose file it was parsed from */
} set_graph;

/* A file (device, inode) already known to hold graph q: every hard link
 * to it shares the graph without being read again.  Beside the graphs'
 * own files, copies found byte-identical are entered too, so a copy with
 * 65,000 links (ext4's limit, which `loom gen` works around with copies)
 * is read once, not once per rank. */
typedef struct inode_ent {
    et_inode_key key;  /* hashed as bytes: zeroed first */
    int graph;
    UT_hash_handle hh;
} inode_ent;

struct et_set {
    inode_ent *inodes; /* uthash: (dev, ino) -> graph */
    set_graph *graphs; /* distinct graphs, in order of first use */
    int ngraphs;       /* entries in graphs */
    int *of;           /* per rank: index in graphs */
    int nranks;        /* entries in of */
};

/* XXH3 64 (et_digest's hash) over a file's raw bytes, to find byte-identical rank files
 * before parsing any.  Only a regular file is read (et_open_regular): a
 * FIFO or /dev/zero would never end. */
static int file_digest(const char *path, uint64_t *digest, uint64_t *size, loom_err *err)
{
    int fd = et_open_regular(path, "rank file", err);
    if (fd < 0)
        return fd;
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        close(fd);
        return loom_err_set(err, LOOM_ETRACE, "rank file %s: cannot read: %s", path,
                            strerror(errno));
    }
    unsigned char buf[1 << 16];
    uint64_t n = 0;
    size_t got;
    XXH3_state_t *xs = loom_xcalloc_aligned(1, sizeof *xs, 64);
    XXH3_INITSTATE(xs);
    XXH3_64bits_reset(xs);
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        XXH3_64bits_update(xs, buf, got);
        n += got;
    }
    uint64_t h = XXH3_64bits_digest(xs);
    free(xs);
    int bad = ferror(f) ? errno : 0;
    fclose(f);
    *digest = h;
    *size = n;
    if (bad)
        return loom_err_set(err, LOOM_ETRACE, "rank file %s: cannot read: %s", path,
                            strerror(bad));
    return 0;
}

static int same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    unsigned char x[1 << 15], y[1 << 15];
    while (same) {
        size_t na = fread(x, 1, sizeof x, fa), nb = fread(y, 1, sizeof y, fb);
        if (na != nb || memcmp(x, y, na) != 0)
            same = 0;
        if (na == 0)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void remember_inode(et_set *s, const struct stat *st, int graph)
{
    et_inode_key k = et_inode_key_of(st);
    inode_ent *e;
    HASH_FIND(hh, s->inodes, &k, sizeof k, e);
    if (e != NULL)
        return;
    e = loom_xcalloc(1, sizeof *e);
    e->key = k;
    e->graph = graph;
    HASH_ADD(hh, s->inodes, key, sizeof k, e);
}

/* The graph rank r's file shares, or -1: a file known by its inode first,
 * then equal bytes (dig/sz hold the digests of the ranks read so far). */
static int find_shared(const et_set *s, char **paths, int r, const struct stat *st, uint64_t *dig,
                       uint64_t *sz, loom_err *err)
{
    et_inode_key k = et_inode_key_of(st);
    inode_ent *e;
    HASH_FIND(hh, s->inodes, &k, sizeof k, e);
    if (e != NULL)
        return e->graph;
    if (file_digest(paths[r], &dig[r], &sz[r], err) < 0)
        return -2;
    for (int q = 0; q < s->ngraphs; q++) {
        int rep = s->graphs[q].rep;
        if (dig[rep] == dig[r] && sz[rep] == sz[r] && same_bytes(paths[rep], paths[r]))
            return q;
    }
    return -1;
}

/* "missing rank file", with the OS reason when it is not plain absence
 * (a directory on the way that cannot be searched), and for rank 0 the
 * prefix the user likely meant (a folder or a rank file given instead). */
static int missing(const et_set_opts *o, int r, const char *path, loom_err *err)
{
    int n = o->nranks;
    char why[160] = "", hint[4200] = "", meant[4096];
    if (access(path, F_OK) != 0 && errno != ENOENT)
        snprintf(why, sizeof why, ": %s", strerror(errno));
    if (r == 0 && et_prefix_hint(o->prefix, meant, sizeof meant))
        snprintf(hint, sizeof hint, "; %s is no trace prefix: did you mean --workload %s?",
                 o->prefix, meant);
    if (n == 1)
        return loom_err_set(err, LOOM_ETRACE,
                            "missing rank file %s%s (%s has 1 NPU, so rank 0 needs a trace)%s",
                            path, why, o->nranks_from, hint);
    return loom_err_set(err, LOOM_ETRACE,
                        "missing rank file %s%s (%s has %d NPUs, so ranks 0..%d need a "
                        "trace each)%s", path, why, o->nranks_from, n, n - 1, hint);
}

static int load_ranks(et_set *s, const et_set_opts *o, loom_err *err)
{
    char path[4096];
    int n = o->nranks, rc = 0;
    uint64_t *dig = loom_xcalloc(n, sizeof *dig), *sz = loom_xcalloc(n, sizeof *sz);
    char **paths = loom_xcalloc(n, sizeof *paths);
    for (int r = 0; r < n; r++) {
        struct stat st;
        int k = et_rank_stat(o->prefix, r, path, sizeof path, &st);
        if (k < 0) {
            rc = missing(o, r, path, err);
            goto out;
        }
        if (k > 0) {
            rc = loom_err_set(err, LOOM_ETRACE, "rank file %s: cannot open: %s", path,
                              strerror(errno));
            goto out;
        }
        paths[r] = loom_xstrdup(path);
        if (!S_ISREG(st.st_mode)) {
            rc = loom_err_set(err, LOOM_ETRACE,
                              "rank file %s: is %s, not a regular file (a trace is read from "
                              "a file on disk)", path, loom_file_kind(st.st_mode));
            goto out;
        }
        int share = find_shared(s, paths, r, &st, dig, sz, err);
        if (share == -2) {
            rc = LOOM_ETRACE;
            goto out;
        }
        if (share < 0) {
            et_graph *g = et_graph_load(path, err);
            if (g == NULL) {
                rc = LOOM_ETRACE;
                goto out;
            }
            share = s->ngraphs++;
            s->graphs[share] = (set_graph){g, r};
            if (o->on_graph && (rc = o->on_graph(o->ctx, g, share, r, err)) < 0)
                goto out;
        }
        remember_inode(s, &st, share);
        s->of[r] = share;
    }
out:
    for (int r = 0; r < n; r++)
        free(paths[r]);
    free(paths);
    free(dig);
    free(sz);
    return rc;
}

int et_set_check_count(const et_set_opts *o, loom_err *err)
{
    char path[4096];
    int nfiles = et_count_ranks(o->prefix);
    if (nfiles > o->nranks)
        return loom_err_set(err, LOOM_ETRACE, "workload %s has %d rank files but %s has %d NPU%s",
                            o->prefix, nfiles, o->nranks_from, o->nranks, o->nranks == 1 ? "" : "s");
    if (nfiles < o->nranks) { /* the first gap: what load_ranks would stop at */
        et_rank_path(o->prefix, nfiles, path, sizeof path);
        return missing(o, nfiles, path, err);
    }
    return 0;
}

int et_set_load(const et_set_opts *o, et_set **out, loom_err *err)
{
    *out = NULL;
    int rc = o->counted ? 0 : et_set_check_count(o, err);
    if (rc < 0)
        return rc;
    et_set *s = loom_xcalloc(1, sizeof *s);
    s->nranks = o->nranks;
    s->of = loom_xcalloc(o->nranks ? o->nranks : 1, sizeof *s->of);
    /* at most one graph per rank: sized once */
    s->graphs = loom_xcalloc(o->nranks ? o->nranks : 1, sizeof *s->graphs);
    rc = load_ranks(s, o, err);
    if (rc < 0) {
        et_set_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void et_set_free(et_set *s)
{
    if (s == NULL)
        return;
    for (int q = 0; q < s->ngraphs; q++)
        et_graph_free(s->graphs[q].g);
    inode_ent *e, *tmp;
    HASH_ITER(hh, s->inodes, e, tmp) {
        HASH_DEL(s->inodes, e);
        free(e);
    }
    free(s->graphs);
    free(s->of);
    free(s);
}

int et_set_ngraphs(const et_set *s) { return s->ngraphs; }
et_graph *et_set_graph(const et_set *s, int idx) { return s->graphs[idx].g; }
int et_set_index(const et_set *s, int rank) { return s->of[rank]; }
