#define _GNU_SOURCE /* mremap */
#include "err.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
int loom_quiet(void) { return quiet; }

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

/* Out of memory ends the program with exit code 1 ("internal error",
 * docs/CLI.md) and one message, never SIGABRT: under a memory cap (ulimit
 * -v, a cgroup) the user sees what happened and a sweep records a failed
 * row, not a crash.  exit() rather than _exit() so stdio is flushed and
 * any atexit() cleanup runs; nothing here allocates. */
static void oom(size_t n)
{
    char b[32];
    fprintf(stderr, "loom: error: out of memory: cannot allocate %s (%zu bytes); the input "
                    "needs more memory than this machine or its limit (ulimit -v, a cgroup) "
                    "gives loom\n", loom_fmt_bytes((double)n, b), n);
    exit(LOOM_EXIT_OOM);
}

void loom_memory_check(double need, const char *what)
{
    size_t budget = loom_memory_budget();
    if (need <= (double)budget)
        return;
    char b1[32], b2[32];
    fprintf(stderr, "loom: error: out of memory: %s need about %s, more than the %s loom may use "
                    "(set LOOM_MEMORY_LIMIT to change it; by default 90%% of physical memory)\n",
            what, loom_fmt_bytes(need, b1), loom_fmt_bytes((double)budget, b2));
    exit(LOOM_EXIT_OOM);
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
        oom(size && n > SIZE_MAX / size ? SIZE_MAX : n * size);
    return p;
}

void *loom_xmalloc_aligned(size_t bytes, size_t align)
{
    void *p = NULL;
    if (bytes == 0)
        bytes = 1;
#ifdef MADV_HUGEPAGE
    /* a large array read at random (per-rank records, flow slots) misses
     * the TLB on nearly every access with 4 KiB pages: ask for 2 MiB ones
     * (transparent huge pages; advice only) */
    const size_t huge = (size_t)2 << 20;
    if (bytes >= huge && align < huge) {
        if (posix_memalign(&p, huge, bytes) != 0)
            oom(bytes);
        madvise(p, bytes - bytes % huge, MADV_HUGEPAGE);
        return p;
    }
#endif
    if (posix_memalign(&p, align, bytes) != 0)
        oom(bytes);
    return p;
}

void *loom_xcalloc_aligned(size_t n, size_t size, size_t align)
{
    if (size && n > SIZE_MAX / size)
        oom(SIZE_MAX);
    size_t bytes = n * size;
    void *p = loom_xmalloc_aligned(bytes, align);
    memset(p, 0, bytes > 0 ? bytes : 1);
    return p;
}

void *loom_xrealloc_aligned(void *p, size_t old, size_t n, size_t align)
{
    LOOM_ASSERT(old <= n);
    void *q = loom_xmalloc_aligned(n, align);
    if (old > 0)
        memcpy(q, p, old);
    free(p);
    return q;
}

#if defined(__linux__) && defined(MREMAP_MAYMOVE) && !defined(__SANITIZE_ADDRESS__)
#define BIG_MAPS 1
#else
#define BIG_MAPS 0
#endif

void *loom_big_grow(void *p, size_t old, size_t n)
{
    LOOM_ASSERT(old <= n && (p != NULL || old == 0));
#if BIG_MAPS
    if (n >= LOOM_BIG_MAP) {
        void *q;
        if (old >= LOOM_BIG_MAP) {
            q = mremap(p, old, n, MREMAP_MAYMOVE);
        } else {
            q = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (q != MAP_FAILED) {
                if (old > 0)
                    memcpy(q, p, old);
                free(p);
            }
        }
        if (q == MAP_FAILED)
            oom(n);
#ifdef MADV_HUGEPAGE
        madvise(q, n, MADV_HUGEPAGE); /* advice only; kept by later mremaps */
#endif
        return q;
    }
#endif
    return loom_xrealloc_aligned(p, old, n, 64);
}

void loom_big_free(void *p, size_t cap)
{
#if BIG_MAPS
    if (p != NULL && cap >= LOOM_BIG_MAP) {
        munmap(p, cap);
        return;
    }
#else
    (void)cap;
#endif
    free(p);
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

const char *loom_file_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO (named pipe)";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
    }
}
