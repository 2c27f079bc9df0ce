#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

void sb_add(sbuf *b, const void *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2 + 64;
        b->p = loom_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    LOOM_ASSERT(k >= 0);
    if (b->p && b->n + (size_t)k < b->cap) { /* fast path: it fitted */
        b->n += (size_t)k;
        return;
    }
    size_t need = b->n + (size_t)k + 1;
    if (need > b->cap) {
        b->cap = need * 2 + 64;
        b->p = loom_xrealloc(b->p, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void *loom_vgrow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    *cap = c;
    return loom_xrealloc(p, c * elem);
}
