#include "outfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/*
 * Invariant: the final name is touched once, by rename(2) of a complete
 * temporary file beside it (same folder, so the rename is atomic); every
 * failure path unlinks the temporary.
 */

/* mkstemp creates 0600; an output file gets the usual 0666 less umask. */
static void fix_mode(int fd)
{
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) { /* harmless: the file stays private */
    }
}

int loom_write_atomic(const char *path, int (*fn)(FILE *f, void *arg), void *arg, loom_err *err)
{
    size_t n = strlen(path);
    char *tmp = loom_xmalloc(n + 16);
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        loom_err_set(err, LOOM_EIO, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return LOOM_EIO;
    }
    fix_mode(fd);
    FILE *f = fdopen(fd, "w");
    int rc = f ? fn(f, arg) : -1;
    if (f && fflush(f) != 0)
        rc = -1;
    int saved = errno;
    if (f ? fclose(f) != 0 : close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0) {
        saved = errno;
        rc = -1;
    }
    if (rc != 0) {
        unlink(tmp);
        loom_err_set(err, LOOM_EIO, "%s: cannot write: %s", path, strerror(saved ? saved : EIO));
        free(tmp);
        return LOOM_EIO;
    }
    free(tmp);
    return 0;
}

struct loom_out {
    char *path;  /* final name */
    char *tmp;   /* name while being written */
    FILE *f;     /* plain output, or NULL */
    gzFile gz;   /* gzip output, or NULL */
    int failed;  /* a write failed */
};

loom_out *loom_out_open(const char *path, loom_err *err)
{
    size_t n = strlen(path);
    loom_out *o = loom_xcalloc(1, sizeof *o);
    o->path = loom_xstrdup(path);
    o->tmp = loom_xmalloc(n + 16);
    snprintf(o->tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0)
        goto err;
    fix_mode(fd);
    if (n > 3 && strcmp(path + n - 3, ".gz") == 0) {
        o->gz = gzdopen(fd, "wb6");
        if (o->gz == NULL) {
            close(fd);
            unlink(o->tmp);
            goto err;
        }
    } else if ((o->f = fdopen(fd, "w")) == NULL) {
        close(fd);
        unlink(o->tmp);
        goto err;
    }
    return o;
err:
    loom_err_set(err, LOOM_EIO, "%s: cannot create: %s", path, strerror(errno));
    free(o->path);
    free(o->tmp);
    free(o);
    return NULL;
}

int loom_out_write(loom_out *o, const void *buf, size_t n)
{
    if (o->failed || n == 0)
        return o->failed ? -1 : 0;
    if (o->gz ? gzwrite(o->gz, buf, (unsigned)n) != (int)n : fwrite(buf, 1, n, o->f) != n)
        o->failed = 1;
    return o->failed ? -1 : 0;
}

int loom_out_printf(loom_out *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k < 0)
        return o->failed = 1, -1;
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

static void out_free(loom_out *o)
{
    free(o->path);
    free(o->tmp);
    free(o);
}

int loom_out_commit(loom_out *o, loom_err *err)
{
    int bad = o->failed;
    if (o->gz)
        bad |= gzclose(o->gz) != Z_OK;
    else
        bad |= fclose(o->f) != 0;
    if (!bad && rename(o->tmp, o->path) == 0) {
        out_free(o);
        return 0;
    }
    unlink(o->tmp);
    loom_err_set(err, LOOM_EIO, "%s: cannot write", o->path);
    out_free(o);
    return LOOM_EIO;
}

void loom_out_abort(loom_out *o)
{
    if (o == NULL)
        return;
    if (o->gz)
        gzclose(o->gz);
    else
        fclose(o->f);
    unlink(o->tmp);
    out_free(o);
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

int loom_write_text(const char *path, const void *text, size_t n, loom_err *err)
{
    text_arg t = {text, n};
    return loom_write_atomic(path, put_text, &t, err);
}
