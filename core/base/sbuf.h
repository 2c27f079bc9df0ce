/*
 * sbuf.h: a growable NUL-terminated text buffer, and a growable array.
 *
 * Allocation goes through loom_xrealloc (out of memory aborts), so appends
 * cannot fail.  The caller owns b.p and frees it with free().
 */
#ifndef LOOM_SBUF_H
#define LOOM_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *p;    /* text, NUL-terminated once anything was added; NULL before */
    size_t n;   /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
} sbuf;

void sb_add(sbuf *b, const void *s, size_t n);
void sb_str(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Grows an array of elem-sized items so that it holds at least `need`:
 * capacity doubles from 64.  Returns the (possibly moved) array. */
void *loom_vgrow(void *p, size_t *cap /* IN/OUT */, size_t need, size_t elem);

#endif
