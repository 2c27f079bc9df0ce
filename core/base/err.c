#include "err.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

static int quiet;

int loom_err_set(loom_err *e, int code, const char *fmt, ...)
{
    if (e == NULL || e->code != 0)
        return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void loom_err_clear(loom_err *e)
{
    e->code = 0;
    e->msg[0] = '\0';
}

void loom_set_quiet(int q) { quiet = q; }

void loom_warn(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("loom: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void oom(size_t n)
{
    fprintf(stderr, "loom: out of memory allocating %zu bytes\n", n);
    abort();
}

void *loom_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *loom_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *loom_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *loom_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = loom_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

size_t loom_memory_budget(void)
{
    const char *env = getenv("LOOM_MEMORY_LIMIT");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        double mult = 1;
        switch (*end) {
        case 'k': case 'K': mult = 1024.0; break;
        case 'm': case 'M': mult = 1024.0 * 1024; break;
        case 'g': case 'G': mult = 1024.0 * 1024 * 1024; break;
        case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
        default: break;
        }
        if (v > 0)
            return (size_t)(v * mult);
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return SIZE_MAX;
    return (size_t)((double)pages * (double)page * 0.9);
}

const char *loom_fmt_bytes(double b, char buf[32])
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (b >= 1024 && u < 5) {
        b /= 1024;
        u++;
    }
    snprintf(buf, 32, u ? "%.2f %s" : "%.0f %s", b, unit[u]);
    return buf;
}
