/*
 * prefault.h: memory backed ahead of its first touch, by a second thread.
 *
 * A page of fresh anonymous memory costs its first toucher a fault: the
 * kernel zeroes it (and, in a virtual machine, the host backs it).  The
 * flow model's largest runs touch gigabytes of new memory as their flows
 * start (4.1 GB at 4,096 ranks), and on the 2-core build machine that
 * first touch cost 11-14 s of a 38-47 s run (docs/PERFORMANCE.md, "Pages
 * backed ahead").  loom_prefault hands a range to a helper thread that
 * faults it in with madvise(MADV_POPULATE_WRITE) while the simulation
 * runs on the other core.
 *
 * Advice only: the helper never reads or writes the range's bytes (the
 * kernel's populate makes its pages present and writable, contents as
 * they were: zero for fresh memory), so nothing it does can change a
 * result, and a range freed or remapped before the helper reaches it is
 * harmless (populating an unmapped range fails and is ignored; another
 * mapping there is only backed early).  The helper takes the newest
 * request first (the memory about to be touched), in 4 MiB slices;
 * requests beyond LOOM_PREFAULT_QUEUE waiting are dropped.  It starts with
 * the first request, and does nothing where the kernel lacks the call
 * (Linux before 5.14) or on other systems; a child of fork(2) starts a
 * helper of its own.  loom's data is never shared
 * with it; the simulation stays single-threaded and deterministic.
 */
#ifndef LOOM_PREFAULT_H
#define LOOM_PREFAULT_H

#include <stddef.h>

enum { LOOM_PREFAULT_QUEUE = 64 };

/* Asks for the pages of [p, p + n) to be backed soon (the whole pages
 * inside it: the ends are rounded inwards).  Returns at once. */
void loom_prefault(void *p, size_t n);

/* Waits until every request made so far has been served or dropped (for
 * tests and benchmarks).  Returns the bytes populated since the start. */
size_t loom_prefault_wait(void);

#endif
