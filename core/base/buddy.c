/*
 * buddy.c: the buddy allocator of buddy.h.  A chunk is 2^MAXK units; a
 * block of 2^k units starts at a multiple of 2^k units from its chunk's
 * base, and its buddy is the block at that offset XOR 2^k.  A free block
 * holds its links and order in its first bytes; a bitmap per chunk, a bit
 * per 2^MINK units, marks where free blocks start, so that a block's
 * buddy is known free (its bit set and its order k) without trusting
 * bytes that a caller may have written.  Free lists are doubly linked per
 * order: a buddy merged away leaves its list in O(1).
 */
#include "buddy.h"
#include "err.h"
#include "prefault.h"

#include <stdlib.h>
#include <string.h>
#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
#include <sys/mman.h>
#define HUGE 1
#else
#define HUGE 0
#endif

typedef struct fblk {
    struct fblk *next, *prev;
    int k;
} fblk;

typedef struct chunk {
    char *base;
    uint64_t *bits; /* a bit per 2^MINK units: a free block starts here */
    int mapped;     /* 1: its own mapping (munmap); 0: malloc'd */
} chunk;

struct loom_buddy {
    size_t unit;  /* bytes per unit */
    size_t csz;   /* bytes per chunk */
    chunk *c;     /* sorted by base */
    size_t nc, capc;
    fblk *fl[LOOM_BUDDY_MAXK + 1];
    char *spare;  /* the next chunk, mapped and being backed ahead (NULL: none) */
};

int loom_buddy_huge(void)
{
    return HUGE;
}

loom_buddy *loom_buddy_create(size_t unit)
{
    LOOM_ASSERT(unit << LOOM_BUDDY_MINK >= sizeof(fblk));
    loom_buddy *b = loom_xcalloc(1, sizeof *b);
    b->unit = unit;
    b->csz = unit << LOOM_BUDDY_MAXK;
    return b;
}

void loom_buddy_destroy(loom_buddy *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->nc; i++) {
#if HUGE
        if (b->c[i].mapped)
            munmap(b->c[i].base, b->csz);
        else
#endif
            free(b->c[i].base);
        free(b->c[i].bits);
    }
#if HUGE
    if (b->spare != NULL)
        munmap(b->spare, b->csz);
#endif
    free(b->c);
    free(b);
}

size_t loom_buddy_chunks(const loom_buddy *b)
{
    return b->nc;
}

/* The chunk holding p: the last whose base is <= p. */
static chunk *chunk_of(loom_buddy *b, const char *p)
{
    size_t lo = 0, hi = b->nc;
    while (hi - lo > 1) {
        size_t m = (lo + hi) / 2;
        if (b->c[m].base <= p)
            lo = m;
        else
            hi = m;
    }
    LOOM_ASSERT(b->nc > 0 && p >= b->c[lo].base && p < b->c[lo].base + b->csz);
    return &b->c[lo];
}

static size_t granule(const loom_buddy *b, const chunk *c, const char *p)
{
    return (size_t)(p - c->base) / b->unit >> LOOM_BUDDY_MINK;
}

static void mark(uint64_t *w, size_t i, int on)
{
    if (on)
        w[i >> 6] |= (uint64_t)1 << (i & 63);
    else
        w[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

static int marked(const uint64_t *w, size_t i)
{
    return (int)(w[i >> 6] >> (i & 63)) & 1;
}

static void push(loom_buddy *b, chunk *c, char *p, int k)
{
    fblk *f = (fblk *)(void *)p;
    f->k = k;
    f->prev = NULL;
    f->next = b->fl[k];
    if (f->next != NULL)
        f->next->prev = f;
    b->fl[k] = f;
    mark(c->bits, granule(b, c, p), 1);
}

static void take(loom_buddy *b, chunk *c, fblk *f)
{
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        b->fl[f->k] = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    mark(c->bits, granule(b, c, (char *)f), 0);
}

/* A chunk on 2 MiB pages: mapped 2 MiB larger, the ends trimmed so that
 * its base is 2 MiB-aligned (huge pages need aligned 2 MiB ranges); NULL
 * where there are no mappings or the mapping failed. */
static char *map_chunk(size_t n)
{
#if HUGE
    size_t al = (size_t)2 << 20;
    char *raw = mmap(NULL, n + al, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *base = (char *)(((uintptr_t)raw + al - 1) & ~(uintptr_t)(al - 1));
    if (base > raw)
        munmap(raw, (size_t)(base - raw));
    char *end = raw + n + al;
    if (end > base + n)
        munmap(base + n, (size_t)(end - (base + n)));
#ifdef MADV_HUGEPAGE
    madvise(base, n, MADV_HUGEPAGE); /* advice only */
#endif
    loom_prefault(base, n); /* backed by the helper thread before it is used */
    return base;
#else
    (void)n;
    return NULL;
#endif
}

/* A chunk joins: the spare when there is one, and a new spare is mapped,
 * so that the helper thread backs a chunk's pages before its first block
 * is written (a chunk backed as it is handed out was faulted in by the
 * simulation itself: 5% of the 4,096-rank all-to-all's samples). */
static void new_chunk(loom_buddy *b)
{
    char *base = b->spare != NULL ? b->spare : map_chunk(b->csz);
    int mapped = base != NULL;
    b->spare = mapped ? map_chunk(b->csz) : NULL;
    if (base == NULL) /* malloc's, or out of memory as loom_xmalloc ends it */
        base = loom_xmalloc(b->csz);
    if (b->nc == b->capc) {
        b->capc = b->capc ? 2 * b->capc : 16;
        b->c = loom_xrealloc(b->c, b->capc * sizeof *b->c);
    }
    size_t i = b->nc++;
    for (; i > 0 && b->c[i - 1].base > base; i--)
        b->c[i] = b->c[i - 1];
    b->c[i].base = base;
    b->c[i].mapped = mapped;
    b->c[i].bits = loom_xcalloc(((size_t)1 << (LOOM_BUDDY_MAXK - LOOM_BUDDY_MINK)) / 64, 8);
    push(b, &b->c[i], base, LOOM_BUDDY_MAXK);
}

void *loom_buddy_alloc(loom_buddy *b, int k)
{
    LOOM_ASSERT(k >= LOOM_BUDDY_MINK && k <= LOOM_BUDDY_MAXK);
    int j = k;
    while (j <= LOOM_BUDDY_MAXK && b->fl[j] == NULL)
        j++;
    if (j > LOOM_BUDDY_MAXK) {
        new_chunk(b);
        j = LOOM_BUDDY_MAXK;
    }
    fblk *f = b->fl[j];
    chunk *c = chunk_of(b, (char *)f);
    take(b, c, f);
    char *p = (char *)f;
    while (j > k) { /* split: the upper halves go free */
        j--;
        push(b, c, p + (b->unit << j), j);
    }
    return p;
}

void loom_buddy_free(loom_buddy *b, void *vp, int k)
{
    LOOM_ASSERT(k >= LOOM_BUDDY_MINK && k <= LOOM_BUDDY_MAXK);
    char *p = vp;
    chunk *c = chunk_of(b, p);
    size_t off = (size_t)(p - c->base) / b->unit;
    LOOM_ASSERT((size_t)(p - c->base) % b->unit == 0 && off % ((size_t)1 << k) == 0 &&
                !marked(c->bits, granule(b, c, p)));
    while (k < LOOM_BUDDY_MAXK) {
        size_t boff = off ^ ((size_t)1 << k);
        char *q = c->base + boff * b->unit;
        if (!marked(c->bits, boff >> LOOM_BUDDY_MINK) || ((fblk *)(void *)q)->k != k)
            break;
        take(b, c, (fblk *)(void *)q);
        off &= ~((size_t)1 << k);
        k++;
    }
    push(b, c, c->base + off * b->unit, k);
}
