/*
 * buddy.h: a buddy allocator of blocks of 2^k units (k from LOOM_BUDDY_MINK
 * to LOOM_BUDDY_MAXK) carved from chunks of 2^LOOM_BUDDY_MAXK units, each
 * chunk one mapping on 2 MiB pages (madvise(MADV_HUGEPAGE)).  A freed block
 * merges with its buddy while the buddy is free, so blocks freed by arrays
 * that grew past them serve the next arrays to grow.
 *
 * For many arrays read and written at random that grow by doubling: the
 * flow model's link lists (network/net_flow.c), 1.2 GB of 12-byte entries
 * in 24,576 arrays at 4,096 ranks, where 4 KiB pages made every access a
 * TLB miss (docs/PERFORMANCE.md, "Lists on 2 MiB pages"), and their
 * summaries' levels, 12 bytes each as well.  glibc's malloc
 * puts them on 2 MiB pages only when the user sets
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1; Debian's mimalloc and jemalloc
 * replace malloc for the whole program once linked (libmimalloc.so exports
 * malloc, free and realloc), which is not what is wanted for one structure.
 *
 * Blocks are not zeroed; unit * 2^LOOM_BUDDY_MINK must hold a free
 * block's links (24 bytes).  Out of memory ends as loom_xmalloc does.
 * One chunk more than in use is kept mapped, and each mapped chunk is
 * handed to prefault.h's helper thread as it is mapped, so that its pages
 * are backed before its first block is written.  Not thread-safe.
 */
#ifndef LOOM_BUDDY_H
#define LOOM_BUDDY_H

#include <stddef.h>
#include <stdint.h>

enum { LOOM_BUDDY_MINK = 2, LOOM_BUDDY_MAXK = 20 };

typedef struct loom_buddy loom_buddy;

/* unit: bytes per unit (>= 24 / 2^LOOM_BUDDY_MINK, i.e. 6). */
loom_buddy *loom_buddy_create(size_t unit);
/* Unmaps every chunk: every block handed out is gone with it. */
void loom_buddy_destroy(loom_buddy *b);
/* A block of 2^k units, at a multiple of unit * 2^k bytes from its
 * chunk's start (which is 2 MiB-aligned where chunks are mappings, malloc's
 * alignment elsewhere). */
void *loom_buddy_alloc(loom_buddy *b, int k);
/* Returns block p, allocated with this k. */
void loom_buddy_free(loom_buddy *b, void *p, int k);
/* Chunks mapped so far (tests: a block freed merges back). */
size_t loom_buddy_chunks(const loom_buddy *b);
/* 1 where the chunks go on 2 MiB pages (Linux, not under AddressSanitizer,
 * whose checks a caller may rather keep by using malloc there). */
int loom_buddy_huge(void);

#endif
