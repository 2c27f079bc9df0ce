#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/*
 * Invariants: a regular output's final name is touched once, by rename(2)
 * of a complete temporary beside it (same folder, so the rename is atomic),
 * and only by loom_outset_commit() once every writer of the set succeeded;
 * every other path removes the temporaries.  Nothing is created before
 * loom_outset_check() has accepted the whole set.
 */

enum { OS_FILE, OS_DIRECT, OS_FD }; /* temporary + rename; open and write; a descriptor */

typedef struct os_ent {
    char *path;    /* as given; a rank family's PREFIX */
    char *what;    /* the option naming it, or NULL */
    int count;     /* a rank family's members; 0: one file */
    int kind;      /* OS_FILE, OS_DIRECT or OS_FD */
    int fd;        /* OS_FILE: the temporary, open from check until written; OS_FD: 1 or 2 */
    char *final;   /* OS_FILE: the name it lands on; a family: resolved folder + "/" + base */
    char *tmp;     /* OS_FILE: the temporary's name */
    int exists;    /* dev, ino and mode are those of the existing file */
    dev_t dev;     /* of the existing file */
    ino_t ino;     /* of the existing file */
    mode_t mode;   /* of the existing file */
    int written;   /* its writer succeeded */
    int failed;    /* its writer failed */
    int hw;        /* a family: temporaries of ranks [0, hw) may exist */
} os_ent;

typedef struct os_in {
    char *path;    /* as given */
    char *what;    /* e.g. "the network file" */
    dev_t dev;     /* of the file */
    ino_t ino;     /* of the file */
} os_in;

struct loom_outset {
    os_ent *e;       /* outputs, in registration order */
    int n, cap;      /* used, allocated */
    os_in *in;       /* inputs that exist */
    int nin, incap;  /* used, allocated */
    char token[32];  /* family temporaries are "NAME.tmp.<token>" */
    int checked;     /* loom_outset_check succeeded */
    int done;        /* committed or aborted */
    struct loom_outset *next; /* the live sets, for the exit handler */
};

/* Sets not yet freed.  An exit() while one is live (out of memory:
 * loom_x* end with exit(1)) removes its temporaries, so only a signal or
 * a crash can leave a NAME.tmp.* behind (docs/CLI.md, "Outputs"). */
static loom_outset *live;

static void abort_live(void)
{
    for (loom_outset *s = live; s; s = s->next)
        loom_outset_abort(s);
}

/* ---- names ---------------------------------------------------------------- */

static char *cat(const char *a, const char *b, const char *c)
{
    size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
    char *p = loom_xmalloc(na + nb + nc + 1);
    memcpy(p, a, na);
    memcpy(p + na, b, nb);
    memcpy(p + na + nb, c, nc + 1);
    return p;
}

/* "--json out.json", "out.json", or "standard output" for "-". */
static const char *label(const os_ent *e, char *buf, size_t n)
{
    const char *p = strcmp(e->path, "-") == 0 ? "- (standard output)" : e->path;
    if (e->what)
        snprintf(buf, n, "%s %s", e->what, p);
    else
        snprintf(buf, n, "%s", p);
    return buf;
}

/* path's folder resolved by realpath, joined to its last component.  NULL
 * with errno set and *dir (malloc'd) naming the folder that failed. */
static char *in_real_dir(const char *path, char **dir)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    *dir = NULL;
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        errno = EISDIR;
        return NULL;
    }
    char *d = slash == NULL ? loom_xstrdup(".") : slash == path ? loom_xstrdup("/")
                                                                : loom_xmalloc((size_t)(slash - path) + 1);
    if (slash && slash != path) {
        memcpy(d, path, (size_t)(slash - path));
        d[slash - path] = '\0';
    }
    char rd[PATH_MAX]; /* not realpath(d, NULL): its block would be libc's, not loom_xmalloc's */
    if (realpath(d, rd) == NULL) {
        *dir = d;
        return NULL;
    }
    free(d);
    return cat(rd, strcmp(rd, "/") == 0 ? "" : "/", base);
}

/* The name a write to path lands on: symbolic links in its last component
 * followed (at most 40, as the kernel does), then in_real_dir().  malloc'd;
 * NULL with errno set (and *dir as in_real_dir). */
static char *resolve(const char *path, char **dir)
{
    char *cur = loom_xstrdup(path);
    *dir = NULL;
    for (int hop = 0;; hop++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
            break;
        char t[PATH_MAX];
        ssize_t k = hop < 40 ? readlink(cur, t, sizeof t) : -1;
        if (k < 0 || (size_t)k >= sizeof t) {
            int e = hop >= 40 ? ELOOP : k < 0 ? errno : ENAMETOOLONG;
            free(cur);
            errno = e;
            return NULL;
        }
        t[k] = '\0';
        char *slash = strrchr(cur, '/');
        char *next;
        if (t[0] == '/' || slash == NULL) {
            next = loom_xstrdup(t);
        } else {
            slash[1] = '\0';
            next = cat(cur, t, "");
        }
        free(cur);
        cur = next;
    }
    char *r = in_real_dir(cur, dir);
    int e = errno;
    free(cur);
    errno = e;
    return r;
}

/* mkstemp creates 0600; an output file gets the usual 0666 less umask. */
static void fix_mode(int fd)
{
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) { /* harmless: the file stays private */
    }
}

/* ---- rank families -------------------------------------------------------- */

/* Where rank r of family e lands (its symbolic link followed); malloc'd,
 * NULL with errno set. */
static char *member_final(const os_ent *e, int r)
{
    char num[32];
    snprintf(num, sizeof num, ".%d.et", r);
    char *name = cat(e->final, num, "");
    struct stat st;
    if (lstat(name, &st) != 0 || !S_ISLNK(st.st_mode))
        return name;
    char *dir;
    char *res = resolve(name, &dir);
    int er = errno;
    free(dir);
    free(name);
    errno = er;
    return res;
}

static char *member_tmp(const loom_outset *s, const os_ent *e, int r)
{
    char *f = member_final(e, r);
    if (f == NULL)
        return NULL;
    char *t = cat(f, ".tmp.", s->token);
    free(f);
    return t;
}

/* 1 when name is one of family e's members (not followed through links). */
static int is_member(const os_ent *e, const char *name)
{
    size_t n = strlen(e->final);
    if (strncmp(name, e->final, n) != 0 || name[n] != '.')
        return 0;
    const char *p = name + n + 1;
    if (!(*p >= '0' && *p <= '9') || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return 0;
    long r = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((r = r * 10 + (*p - '0')) > INT_MAX)
            return 0;
    return strcmp(p, ".et") == 0 && r < e->count;
}

/* ---- the set -------------------------------------------------------------- */

loom_outset *loom_outset_create(void)
{
    /* a write beyond the file-size limit then fails with EFBIG, and the
     * temporaries are removed, instead of SIGXFSZ killing us beside them */
    signal(SIGXFSZ, SIG_IGN);
    static unsigned seq;
    static int registered;
    if (!registered)
        registered = atexit(abort_live) == 0;
    loom_outset *s = loom_xcalloc(1, sizeof *s);
    snprintf(s->token, sizeof s->token, "%lx%x", (long)getpid(), seq++);
    s->next = live;
    live = s;
    return s;
}

static os_ent *add(loom_outset *s, const char *path, const char *what, int count)
{
    LOOM_ASSERT(!s->checked);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        s->e = loom_xrealloc(s->e, (size_t)s->cap * sizeof *s->e);
    }
    os_ent *e = &s->e[s->n++];
    memset(e, 0, sizeof *e);
    e->path = loom_xstrdup(path);
    e->what = what ? loom_xstrdup(what) : NULL;
    e->count = count;
    e->fd = -1;
    return e;
}

int loom_outset_add(loom_outset *s, const char *path, const char *what)
{
    add(s, path, what, 0);
    return s->n - 1;
}

int loom_outset_add_ranks(loom_outset *s, const char *prefix, int count, const char *what)
{
    LOOM_ASSERT(count >= 1);
    add(s, prefix, what, count);
    return s->n - 1;
}

void loom_outset_input(loom_outset *s, const char *path, const char *what)
{
    struct stat st;
    if (path != NULL && stat(path, &st) == 0) /* else its reader reports it */
        loom_outset_input_stat(s, path, &st, what);
}

void loom_outset_input_stat(loom_outset *s, const char *path, const struct stat *st,
                            const char *what)
{
    if (S_ISCHR(st->st_mode))
        return; /* /dev/null as an input is no file to protect */
    if (s->nin == s->incap) {
        s->incap = s->incap ? 2 * s->incap : 8;
        s->in = loom_xrealloc(s->in, (size_t)s->incap * sizeof *s->in);
    }
    os_in *in = &s->in[s->nin++];
    in->path = loom_xstrdup(path);
    in->what = loom_xstrdup(what ? what : "an input");
    in->dev = st->st_dev;
    in->ino = st->st_ino;
}

/* Decides where output e lands (the table in outfile.h). */
static int classify(loom_outset *s, os_ent *e, loom_err *err)
{
    (void)s;
    char lb[512];
    struct stat st;
    char *dir = NULL;
    if (e->count) { /* a family: its folder must exist */
        e->kind = OS_FILE;
        if ((e->final = in_real_dir(e->path, &dir)) != NULL)
            return 0;
        int er = errno;
        int rc = dir ? loom_err_set(err, LOOM_EIO, "%s: folder %s: %s", label(e, lb, sizeof lb), dir,
                                    strerror(er))
                     : loom_err_set(err, LOOM_EUSAGE, "%s: give DIR/prefix (a file name prefix, "
                                    "not a folder)", label(e, lb, sizeof lb));
        free(dir);
        return rc;
    }
    if (strcmp(e->path, "-") == 0) {
        e->kind = OS_FD;
        e->fd = 1;
    } else if (stat(e->path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return loom_err_set(err, LOOM_EIO, "%s: is a folder", label(e, lb, sizeof lb));
        struct stat fs;
        for (int fd = 1; fd <= 2 && e->kind != OS_FD; fd++)
            if (fstat(fd, &fs) == 0 && fs.st_dev == st.st_dev && fs.st_ino == st.st_ino) {
                e->kind = OS_FD; /* /dev/stdout, or the file stdout is redirected to */
                e->fd = fd;
            }
        if (e->kind != OS_FD && !S_ISREG(st.st_mode)) {
            e->kind = OS_DIRECT;
            if (access(e->path, W_OK) != 0)
                return loom_err_set(err, LOOM_EIO, "%s: cannot write: %s", label(e, lb, sizeof lb),
                                    strerror(errno));
        }
    } else if (errno != ENOENT) {
        return loom_err_set(err, LOOM_EIO, "%s: %s", label(e, lb, sizeof lb), strerror(errno));
    }
    if (e->kind == OS_FD) {
        if (fstat(e->fd, &st) != 0)
            return loom_err_set(err, LOOM_EIO, "%s: %s", label(e, lb, sizeof lb), strerror(errno));
    } else if (e->kind == OS_FILE) {
        if ((e->final = resolve(e->path, &dir)) == NULL) {
            int er = errno;
            int rc = dir ? loom_err_set(err, LOOM_EIO, "%s: folder %s: %s", label(e, lb, sizeof lb),
                                        dir, strerror(er))
                         : loom_err_set(err, LOOM_EIO, "%s: %s", label(e, lb, sizeof lb), strerror(er));
            free(dir);
            return rc;
        }
        if (stat(e->final, &st) != 0)
            return 0; /* a new file */
    }
    e->exists = 1;
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    e->mode = st.st_mode;
    return 0;
}

/* Outputs a and b would clobber each other (outfile.h). */
static int same_output(const os_ent *a, const os_ent *b)
{
    if (a->kind == OS_FILE && b->kind == OS_FILE)
        return strcmp(a->final, b->final) == 0;
    return a->exists && b->exists && a->dev == b->dev && a->ino == b->ino && !S_ISCHR(a->mode);
}

/* The input that is (dev, ino): the one named `path` if several are (hard
 * links, such as gen micro's rank files), so the message names that one. */
static const os_in *is_input(const loom_outset *s, dev_t dev, ino_t ino, const char *path)
{
    const os_in *hit = NULL;
    for (int i = 0; i < s->nin; i++)
        if (s->in[i].dev == dev && s->in[i].ino == ino) {
            if (hit == NULL || strcmp(s->in[i].path, path) == 0)
                hit = &s->in[i];
        }
    return hit;
}

static int refuse_input(const os_ent *e, const char *name, const os_in *in, loom_err *err)
{
    char lb[512];
    return loom_err_set(err, LOOM_EUSAGE, "%s%s%s is %s %s: an output may not overwrite an input",
                        label(e, lb, sizeof lb), name ? ": " : "", name ? name : "", in->what,
                        in->path);
}

/* Rank family f's members against the other outputs and the inputs: only
 * a member that is a link, or exists, can be something else. */
static int check_family(loom_outset *s, os_ent *f, loom_err *err)
{
    char lb[512], lb2[512];
    for (int k = 0; k < s->n; k++) {
        os_ent *o = &s->e[k];
        if (o != f && o->count == 0 && o->kind == OS_FILE && is_member(f, o->final))
            return loom_err_set(err, LOOM_EUSAGE, "%s and %s name the same file %s",
                                label(f, lb, sizeof lb), label(o, lb2, sizeof lb2), o->final);
        if (o != f && o->count && strcmp(o->final, f->final) == 0)
            return loom_err_set(err, LOOM_EUSAGE, "%s and %s name the same files",
                                label(f, lb, sizeof lb), label(o, lb2, sizeof lb2));
    }
    for (int r = 0; r < f->count; r++) {
        char num[32];
        snprintf(num, sizeof num, ".%d.et", r);
        char *name = cat(f->final, num, "");
        struct stat st;
        int rc = 0;
        if (lstat(name, &st) == 0 && S_ISLNK(st.st_mode)) {
            char *to = member_final(f, r);
            if (to == NULL) {
                rc = loom_err_set(err, LOOM_EIO, "%s: %s: %s", label(f, lb, sizeof lb), name,
                                  strerror(errno));
            } else {
                for (int k = 0; k < s->n && rc == 0; k++) {
                    os_ent *o = &s->e[k];
                    if ((o->count ? is_member(o, to) : o->kind == OS_FILE && strcmp(o->final, to) == 0))
                        rc = loom_err_set(err, LOOM_EUSAGE, "%s: %s is a link to %s, which %s "
                                          "also writes", label(f, lb, sizeof lb), name, to,
                                          label(o, lb2, sizeof lb2));
                }
                free(to);
            }
        }
        const os_in *in;
        if (rc == 0 && stat(name, &st) == 0 && (in = is_input(s, st.st_dev, st.st_ino, name)) != NULL)
            rc = refuse_input(f, name, in, err);
        free(name);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int loom_outset_check(loom_outset *s, loom_err *err)
{
    LOOM_ASSERT(!s->checked && !s->done);
    char lb[512], lb2[512];
    int rc = 0;
    for (int k = 0; k < s->n && rc == 0; k++)
        rc = classify(s, &s->e[k], err);
    for (int a = 0; a < s->n && rc == 0; a++) {
        os_ent *e = &s->e[a];
        if (e->count) {
            rc = check_family(s, e, err);
            continue;
        }
        for (int b = a + 1; b < s->n && rc == 0; b++)
            if (s->e[b].count == 0 && same_output(e, &s->e[b]))
                rc = loom_err_set(err, LOOM_EUSAGE, "%s and %s name the same file%s%s",
                                  label(e, lb, sizeof lb), label(&s->e[b], lb2, sizeof lb2),
                                  e->kind == OS_FILE ? " " : "", e->kind == OS_FILE ? e->final : "");
        const os_in *in;
        if (rc == 0 && e->exists && !S_ISCHR(e->mode) &&
            (in = is_input(s, e->dev, e->ino, e->path)) != NULL)
            rc = refuse_input(e, NULL, in, err);
    }
    /* only now create anything: each single file's temporary, and a probe
     * in each family's folder, so a folder that takes no new file (no
     * write permission, read-only, out of inodes) fails before any work */
    for (int k = 0; k < s->n && rc == 0; k++) {
        os_ent *e = &s->e[k];
        if (e->kind != OS_FILE)
            continue;
        char *t = cat(e->final, ".tmp.XXXXXX", "");
        int fd = mkstemp(t);
        if (fd < 0) {
            rc = loom_err_set(err, LOOM_EIO, "%s: cannot create a file in its folder: %s",
                              label(e, lb, sizeof lb), strerror(errno));
            free(t);
            break;
        }
        fix_mode(fd);
        if (e->count) {
            close(fd);
            unlink(t);
            free(t);
        } else {
            e->fd = fd;
            e->tmp = t;
        }
    }
    if (rc < 0) {
        loom_outset_abort(s);
        return rc;
    }
    s->checked = 1;
    return 0;
}

int loom_outset_stdout(const loom_outset *s)
{
    for (int k = 0; k < s->n; k++)
        if (s->e[k].kind == OS_FD && s->e[k].fd == 1)
            return 1;
    return 0;
}

/* ---- writing -------------------------------------------------------------- */

/* stdout or stderr itself for a descriptor output, so what it gets stays
 * in order with what the command prints there. */
static FILE *std_file(const os_ent *e) { return e->fd == 1 ? stdout : stderr; }

/* A descriptor to write output e on, or -1 with err set. */
static int ent_fd(os_ent *e, loom_err *err)
{
    char lb[512];
    int fd = -1;
    LOOM_ASSERT(e->count == 0 && !e->written && !e->failed);
    switch (e->kind) {
    case OS_FILE:
        LOOM_ASSERT(e->fd >= 0); /* written once */
        fd = e->fd;
        e->fd = -1;
        break;
    case OS_DIRECT: /* a FIFO waits here for its reader */
        if ((fd = open(e->path, O_WRONLY | O_NOCTTY | O_CLOEXEC)) < 0)
            loom_err_set(err, LOOM_EIO, "%s: cannot open: %s", label(e, lb, sizeof lb), strerror(errno));
        break;
    default: /* gzip to stdout: our own copy of the descriptor, after stdio's bytes */
        fflush(std_file(e));
        if ((fd = dup(e->fd)) < 0)
            loom_err_set(err, LOOM_EIO, "%s: %s", label(e, lb, sizeof lb), strerror(errno));
    }
    if (fd < 0)
        e->failed = 1;
    return fd;
}

static int write_failed(os_ent *e, int errnum, loom_err *err)
{
    char lb[512];
    e->failed = 1;
    return loom_err_set(err, LOOM_EIO, "%s: cannot write: %s", label(e, lb, sizeof lb),
                        strerror(errnum ? errnum : EIO));
}

int loom_outset_write(loom_outset *s, int k, int (*fn)(FILE *f, void *arg), void *arg,
                      loom_err *err)
{
    LOOM_ASSERT(s->checked && !s->done && k >= 0 && k < s->n);
    os_ent *e = &s->e[k];
    int borrowed = e->kind == OS_FD;
    FILE *f = borrowed ? std_file(e) : NULL;
    if (!borrowed) {
        int fd = ent_fd(e, err);
        if (fd < 0)
            return LOOM_EIO;
        if ((f = fdopen(fd, "w")) == NULL) {
            int er = errno;
            close(fd);
            return write_failed(e, er, err);
        }
    }
    errno = 0;
    int rc = fn(f, arg);
    int er = rc != 0 || ferror(f) ? (errno ? errno : EIO) : 0;
    if (fflush(f) != 0 && er == 0)
        er = errno ? errno : EIO;
    if (!borrowed && fclose(f) != 0 && er == 0)
        er = errno ? errno : EIO;
    if (er)
        return write_failed(e, er, err);
    e->written = 1;
    return 0;
}

typedef struct text_arg {
    const void *p; /* bytes */
    size_t n;      /* how many */
} text_arg;

static int put_text(FILE *f, void *arg)
{
    const text_arg *t = arg;
    return t->n == 0 || fwrite(t->p, 1, t->n, f) == t->n ? 0 : -1;
}

int loom_outset_text(loom_outset *s, int k, const void *text, size_t n, loom_err *err)
{
    text_arg t = {text, n};
    return loom_outset_write(s, k, put_text, &t, err);
}

int loom_outset_member(loom_outset *s, int k, int r, char *buf, size_t n, loom_err *err)
{
    LOOM_ASSERT(s->checked && !s->done && k >= 0 && k < s->n);
    os_ent *e = &s->e[k];
    LOOM_ASSERT(r >= 0 && r < e->count);
    char lb[512];
    char *t = member_tmp(s, e, r);
    if (t == NULL)
        return loom_err_set(err, LOOM_EIO, "%s: rank %d: %s", label(e, lb, sizeof lb), r,
                            strerror(errno));
    int fits = strlen(t) < n;
    if (fits)
        memcpy(buf, t, strlen(t) + 1);
    free(t);
    if (!fits)
        return loom_err_set(err, LOOM_EUSAGE, "%s: path too long", label(e, lb, sizeof lb));
    if (r + 1 > e->hw)
        e->hw = r + 1;
    return 0;
}

/* ---- commit and abort ----------------------------------------------------- */

void loom_outset_abort(loom_outset *s)
{
    if (s == NULL || s->done)
        return;
    for (int k = 0; k < s->n; k++) {
        os_ent *e = &s->e[k];
        if (e->count) {
            for (int r = 0; r < e->hw; r++) {
                char *t = member_tmp(s, e, r);
                if (t)
                    unlink(t);
                free(t);
            }
            continue;
        }
        if (e->kind == OS_FILE && e->fd >= 0)
            close(e->fd);
        if (e->kind == OS_FILE)
            e->fd = -1;
        if (e->tmp)
            unlink(e->tmp);
    }
    s->done = 1;
}

static int commit_family(loom_outset *s, os_ent *e, loom_err *err)
{
    char lb[512];
    for (int r = 0; r < e->count; r++) {
        char *f = member_final(e, r);
        char *t = f ? cat(f, ".tmp.", s->token) : NULL;
        int rc = 0;
        if (f == NULL)
            rc = loom_err_set(err, LOOM_EIO, "%s: rank %d: %s", label(e, lb, sizeof lb), r,
                              strerror(errno));
        else if (rename(t, f) != 0)
            rc = loom_err_set(err, LOOM_EIO, "%s: cannot rename %s into place: %s",
                              label(e, lb, sizeof lb), t, strerror(errno));
        else
            unlink(t); /* rename() of two links to one file succeeds and leaves both */
        free(f);
        free(t);
        if (rc < 0)
            return rc;
    }
    e->hw = 0;
    return 0;
}

int loom_outset_commit(loom_outset *s, loom_err *err)
{
    LOOM_ASSERT(s->checked && !s->done);
    char lb[512];
    for (int k = 0; k < s->n; k++)
        if (s->e[k].failed) {
            if (err == NULL || err->code == 0)
                loom_err_set(err, LOOM_EIO, "%s: not written", label(&s->e[k], lb, sizeof lb));
            loom_outset_abort(s);
            return LOOM_EIO;
        }
    /* every rank file of a family written, before anything is renamed:
     * a set lands whole or not at all */
    for (int k = 0; k < s->n; k++) {
        os_ent *e = &s->e[k];
        for (int r = 0; e->count && e->hw > 0 && r < e->count; r++) {
            char *t = member_tmp(s, e, r);
            int ok = t != NULL && access(t, F_OK) == 0;
            free(t);
            if (!ok) {
                loom_err_set(err, LOOM_EIO, "%s: rank %d was not written",
                             label(e, lb, sizeof lb), r);
                loom_outset_abort(s);
                return LOOM_EIO;
            }
        }
    }
    int rc = 0;
    for (int k = 0; k < s->n && rc == 0; k++) {
        os_ent *e = &s->e[k];
        if (e->count) {
            if (e->hw > 0)
                rc = commit_family(s, e, err);
        } else if (e->kind == OS_FILE && e->written) {
            if (rename(e->tmp, e->final) != 0)
                rc = loom_err_set(err, LOOM_EIO, "%s: cannot rename %s into place: %s",
                                  label(e, lb, sizeof lb), e->tmp, strerror(errno));
            else {
                free(e->tmp);
                e->tmp = NULL;
            }
        }
    }
    loom_outset_abort(s); /* the temporaries of outputs never written, or all after a failure */
    return rc;
}

void loom_outset_free(loom_outset *s)
{
    if (s == NULL)
        return;
    loom_outset_abort(s);
    for (loom_outset **p = &live; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    for (int k = 0; k < s->n; k++) {
        free(s->e[k].path);
        free(s->e[k].what);
        free(s->e[k].final);
        free(s->e[k].tmp);
    }
    for (int i = 0; i < s->nin; i++) {
        free(s->in[i].path);
        free(s->in[i].what);
    }
    free(s->e);
    free(s->in);
    free(s);
}

/* ---- one output on its own ------------------------------------------------ */

int loom_write_atomic(const char *path, int (*fn)(FILE *f, void *arg), void *arg, loom_err *err)
{
    loom_outset *s = loom_outset_create();
    loom_outset_add(s, path, NULL);
    int rc = loom_outset_check(s, err);
    if (rc == 0)
        rc = loom_outset_write(s, 0, fn, arg, err);
    if (rc == 0)
        rc = loom_outset_commit(s, err);
    loom_outset_free(s);
    return rc;
}

int loom_write_text(const char *path, const void *text, size_t n, loom_err *err)
{
    text_arg t = {text, n};
    return loom_write_atomic(path, put_text, &t, err);
}

/* ---- streams -------------------------------------------------------------- */

struct loom_out {
    loom_outset *set; /* the set output k belongs to */
    int k;            /* its index */
    loom_outset *own; /* set, when loom_out_open made it for this stream alone */
    FILE *f;          /* plain output, or NULL */
    gzFile gz;        /* gzip output, or NULL */
    int borrowed;     /* f is stdout or stderr: flushed, never closed */
    int failed;       /* a write failed */
    int errnum;       /* its errno */
};

loom_out *loom_outset_stream(loom_outset *s, int k, loom_err *err)
{
    LOOM_ASSERT(s->checked && !s->done && k >= 0 && k < s->n);
    os_ent *e = &s->e[k];
    size_t n = strlen(e->path);
    int gz = n > 3 && strcmp(e->path + n - 3, ".gz") == 0;
    if (e->kind == OS_FD && !gz) {
        loom_out *o = loom_xcalloc(1, sizeof *o);
        o->set = s;
        o->k = k;
        o->f = std_file(e);
        o->borrowed = 1;
        return o;
    }
    int fd = ent_fd(e, err);
    if (fd < 0)
        return NULL;
    loom_out *o = loom_xcalloc(1, sizeof *o);
    o->set = s;
    o->k = k;
    if (gz)
        o->gz = gzdopen(fd, "wb6");
    else
        o->f = fdopen(fd, "w");
    if (o->gz == NULL && o->f == NULL) {
        int er = errno;
        close(fd);
        free(o);
        write_failed(e, er ? er : ENOMEM, err);
        return NULL;
    }
    return o;
}

loom_out *loom_out_open(const char *path, loom_err *err)
{
    loom_outset *s = loom_outset_create();
    loom_outset_add(s, path, NULL);
    loom_out *o = loom_outset_check(s, err) == 0 ? loom_outset_stream(s, 0, err) : NULL;
    if (o == NULL) {
        loom_outset_free(s);
        return NULL;
    }
    o->own = s;
    return o;
}

int loom_out_write(loom_out *o, const void *buf, size_t n)
{
    if (o->failed || n == 0)
        return o->failed ? -1 : 0;
    errno = 0;
    if (o->gz ? gzwrite(o->gz, buf, (unsigned)n) != (int)n : fwrite(buf, 1, n, o->f) != n) {
        int zerr = Z_OK;
        if (o->gz)
            gzerror(o->gz, &zerr);
        o->failed = 1;
        o->errnum = o->gz && zerr != Z_ERRNO ? EIO : errno ? errno : EIO;
    }
    return o->failed ? -1 : 0;
}

int loom_out_printf(loom_out *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k < 0) {
        o->failed = 1;
        o->errnum = EINVAL;
        return -1;
    }
    if ((size_t)k < sizeof buf)
        return loom_out_write(o, buf, (size_t)k);
    char *big = loom_xmalloc((size_t)k + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    int rc = loom_out_write(o, big, (size_t)k);
    free(big);
    return rc;
}

/* Closes the stream; 0, or the errno of the first failure. */
static int out_close(loom_out *o)
{
    int er = o->failed ? o->errnum : 0;
    errno = 0;
    if (o->gz) {
        int zr = gzclose(o->gz);
        if (zr != Z_OK && er == 0)
            er = zr == Z_ERRNO && errno ? errno : EIO;
    } else {
        if (fflush(o->f) != 0 && er == 0)
            er = errno ? errno : EIO;
        if (!o->borrowed && fclose(o->f) != 0 && er == 0)
            er = errno ? errno : EIO;
    }
    return er;
}

int loom_out_commit(loom_out *o, loom_err *err)
{
    os_ent *e = &o->set->e[o->k];
    int er = out_close(o), rc = 0;
    if (er)
        rc = write_failed(e, er, err);
    else
        e->written = 1;
    if (o->own) {
        if (rc == 0)
            rc = loom_outset_commit(o->own, err);
        loom_outset_free(o->own);
    }
    free(o);
    return rc;
}

void loom_out_abort(loom_out *o)
{
    if (o == NULL)
        return;
    out_close(o);
    loom_outset_free(o->own); /* removes its temporary; a shared set is the caller's */
    free(o);
}

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p, 0 if none starts there. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) { /* stops at the NUL too */
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    return v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ? 0 : n;
}

const char *loom_utf8(const char *s, char **fixed)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k;
    *fixed = NULL;
    while (*p && (k = utf8_seq(p)) > 0)
        p += k;
    if (*p == '\0')
        return s; /* the usual case: no copy */
    size_t len = strlen(s);
    char *out = loom_xmalloc(3 * len + 1), *q = out;
    for (p = (const unsigned char *)s; *p;) {
        if ((k = utf8_seq(p)) > 0) {
            memcpy(q, p, k);
            q += k;
            p += k;
        } else {
            memcpy(q, "\xEF\xBF\xBD", 3); /* U+FFFD */
            q += 3;
            p++;
        }
    }
    *q = '\0';
    *fixed = out;
    return out;
}
