/*
 * err.h: the error record that setup, parsing and I/O fill for the user.
 *
 * A function that can fail on bad input returns int (0 on success, a
 * negative LOOM_E* code on failure) or NULL, and writes one message into
 * the caller's loom_err naming the file, the node or the key.  The first
 * error set wins; later ones are ignored, so the root cause survives.
 * Hot paths never return errors: they use LOOM_ASSERT, which aborts with
 * file and line.
 */
#ifndef LOOM_ERR_H
#define LOOM_ERR_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Error classes; loom's exit code is the negated value (see docs/CLI.md). */
enum {
    LOOM_OK = 0,
    LOOM_EUSAGE = -2,    /* bad command line, unknown/invalid config key */
    LOOM_ETRACE = -3,    /* missing, truncated or malformed trace */
    LOOM_ESIM = -4,      /* simulation cannot finish (deadlock, overflow) */
    LOOM_EIO = -5,       /* cannot write an output file */
    LOOM_EINTERNAL = -1, /* out of memory, broken invariant */
};

typedef struct loom_err {
    int code;       /* 0 while no error is set; else a LOOM_E* value */
    char msg[4096]; /* what happened, with the file/node/key named */
} loom_err;

/* Sets the error if none is set yet; returns code so callers can
 * `return loom_err_set(e, LOOM_ETRACE, "...")`.  e may be NULL. */
int loom_err_set(loom_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears e (code 0, empty message). */
void loom_err_clear(loom_err *e);

/* Warnings go to stderr, prefixed "loom: warning: ", unless silenced. */
void loom_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void loom_set_quiet(int quiet);
int loom_quiet(void); /* the current setting, to restore it */

/* For state that grows while a simulation runs (the flow model's flows in
 * flight), where no loader could refuse the input first: when need bytes
 * exceed loom_memory_budget(), ends the program as out of memory does
 * (one line naming what needs them and LOOM_MEMORY_LIMIT, exit
 * LOOM_EXIT_OOM, outputs' temporaries removed), instead of growing into
 * the kernel's OOM killer (a signal, nothing said).  what: "the flow
 * model's 65536 flows", say. */
void loom_memory_check(double need, const char *what);

/* Allocation that never returns NULL: out of memory prints "loom: error:
 * out of memory: ..." and exits with LOOM_EXIT_OOM (1, "internal error" in
 * docs/CLI.md), never a signal.  Used where a failure could only be
 * reported as "internal error" anyway. */
#define LOOM_EXIT_OOM 1
void *loom_xmalloc(size_t n);
void *loom_xcalloc(size_t n, size_t size);
void *loom_xrealloc(void *p, size_t n);
/* n zeroed elements of size bytes at an address that is a multiple of
 * align (a power of two, at least sizeof(void *)); freed with free(). */
void *loom_xcalloc_aligned(size_t n, size_t size, size_t align);
/* The same uninitialised, of bytes bytes (2 MiB pages asked for when that
 * large: arrays read at random). */
void *loom_xmalloc_aligned(size_t bytes, size_t align);
/* p (from one of these, its first old bytes in use) grown to n bytes at an
 * aligned address: a new block, those bytes copied, p freed. */
void *loom_xrealloc_aligned(void *p, size_t old, size_t n, size_t align);
/* Arrays that grow by doubling to gigabytes (the flow model's slots).
 * Grown by a copy, each doubling touches every byte twice more (the copy
 * and the new block's first-touch page faults): a tenth of a run at 16.7 M
 * flows.  From LOOM_BIG_MAP bytes on, a block is a mapping of its own
 * (Linux), grown by mremap: the kernel moves page tables, nothing is
 * copied or faulted in twice; 2 MiB pages advised.  Below that, on other
 * systems and under AddressSanitizer (which then still checks them), an
 * aligned heap block.  64-byte aligned.  The caller keeps the capacity in
 * bytes: it tells grow and free which kind of block p is. */
#define LOOM_BIG_MAP ((size_t)2 << 20)
/* p (NULL, or a block of old bytes from here) grown to n >= old bytes, its
 * first old bytes kept. */
void *loom_big_grow(void *p, size_t old, size_t n);
/* Frees p, a block of cap bytes from loom_big_grow (NULL: nothing). */
void loom_big_free(void *p, size_t cap);
char *loom_xstrdup(const char *s);

/* Bytes loom may plan to hold: $LOOM_MEMORY_LIMIT (bytes; K/M/G/T suffixes
 * of 2^10.. accepted) if set, else 90% of physical memory.  Loaders check
 * their estimates against it, so an input that would exhaust memory ends
 * with an error that says so instead of an OOM kill. */
size_t loom_memory_budget(void);
/* What a file of this st_mode is, for messages that refuse anything but a
 * regular file: "a directory", "a FIFO (named pipe)", "a character
 * device", ... */
const char *loom_file_kind(unsigned mode);

/* "1.50 GiB" for messages; buf holds 32 bytes. */
const char *loom_fmt_bytes(double bytes, char buf[32]);

#define LOOM_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "loom: internal error at %s:%d: %s\n", __FILE__,   \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
