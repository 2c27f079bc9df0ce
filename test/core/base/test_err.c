/*
 * test_err.c: the error record's allocators end an out-of-memory with a
 * message and exit code 1 (docs/CLI.md), never SIGABRT, the aligned ones
 * align and keep what they hold, and the file-kind names used by messages
 * that refuse special files.
 */
#include "err.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined(__SANITIZE_ADDRESS__)
/* In a child with its address space capped at 256 MiB more than now, and
 * stderr to a file: allocates 1 GiB with which (0 malloc, 1 calloc, 2
 * realloc).  Returns the exit status (128 + signal), stderr in msg. */
static int oom_child(int which, char *msg, size_t cap)
{
    char path[] = "/tmp/loom_test_errXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30);
        dup2(fd, 2);
        unsigned long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f == NULL || fscanf(f, "%lu", &pages) != 1)
            _exit(99);
        fclose(f);
        rlim_t lim = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256u << 20);
        struct rlimit rl = {lim, lim};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(98);
        size_t big = (size_t)1 << 30;
        void *p = which == 0   ? loom_xmalloc(big)
                  : which == 1 ? loom_xcalloc(big / 8, 8)
                               : loom_xrealloc(loom_xmalloc(16), big);
        (void)p;
        _exit(0); /* not reached: the allocation cannot succeed */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    ssize_t n = pread(fd, msg, cap - 1, 0);
    msg[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
#endif

static void test_oom_exits(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan reserves terabytes up front: no address-space cap */
#else
    char msg[4096];
    for (int which = 0; which < 3; which++) {
        int rc = oom_child(which, msg, sizeof msg);
        if (rc != LOOM_EXIT_OOM ||
            !strstr(msg, "loom: error: out of memory: cannot allocate 1.00 GiB (1073741824 bytes)"))
            fail_msg("allocator %d: exit %d, stderr \"%s\"", which, rc, msg);
    }
#endif
}

/* n * size overflowing size_t is reported as out of memory, not wrapped */
static void test_calloc_overflow(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan reports the overflow itself */
#else
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        (void)loom_xcalloc(SIZE_MAX / 2, 4);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), LOOM_EXIT_OOM);
#endif
}

static void *grow_aligned(void *p, size_t old, size_t n)
{
    return loom_xrealloc_aligned(p, old, n, 64);
}

/* Grows a block with grow from 0 through sizes first, first * mul + add,
 * ... up to last, writing each new byte and checking every old one (and
 * the 64-byte alignment; to `huge` too once that large, 0: not checked);
 * the block, *cap its size. */
static unsigned char *grow_checked(void *(*grow)(void *, size_t, size_t), size_t first,
                                   size_t mul, size_t add, size_t last, size_t huge, size_t *cap)
{
    size_t old = 0;
    unsigned char *p = NULL;
    for (size_t n = first; n <= last; n = n * mul + add) {
        p = grow(p, old, n);
        assert_int_equal((uintptr_t)p % 64, 0);
        if (huge && n >= huge)
            assert_int_equal((uintptr_t)p % huge, 0);
        for (size_t i = 0; i < old; i++)
            if (p[i] != (unsigned char)(i * 7))
                fail_msg("byte %zu lost growing %zu -> %zu", i, old, n);
        for (size_t i = old; i < n; i++)
            p[i] = (unsigned char)(i * 7);
        old = n;
    }
    *cap = old;
    return p;
}

/* loom_xrealloc_aligned: the address aligned (to 2 MiB once that large:
 * huge pages), the old bytes kept, small and large, growing past the
 * 2 MiB mark; loom_big_grow (the flow model's slot arrays): the same
 * through the heap block, the change to a mapping at LOOM_BIG_MAP (one
 * copy) and the mremaps after it */
static void test_realloc_aligned(void **state)
{
    (void)state;
    size_t cap;
    unsigned char *p = grow_checked(grow_aligned, 100, 3, 1, (size_t)8 << 20, (size_t)2 << 20, &cap);
    free(p);
    p = grow_checked(loom_big_grow, 1000, 2, 0, (size_t)24 << 20, 0, &cap);
    assert_true(cap >= LOOM_BIG_MAP);
    loom_big_free(p, cap);
    loom_big_free(NULL, 0);
    unsigned char *z = loom_xcalloc_aligned(3, 1000, 256);
    assert_int_equal((uintptr_t)z % 256, 0);
    for (size_t i = 0; i < 3000; i++)
        assert_int_equal(z[i], 0);
    free(z);
}

static void test_file_kind(void **state)
{
    (void)state;
    assert_string_equal(loom_file_kind(S_IFIFO | 0600), "a FIFO (named pipe)");
    assert_string_equal(loom_file_kind(S_IFDIR | 0755), "a directory");
    assert_string_equal(loom_file_kind(S_IFCHR | 0666), "a character device");
    assert_string_equal(loom_file_kind(S_IFREG | 0644), "a regular file");
    struct stat st;
    assert_int_equal(stat("/dev/zero", &st), 0);
    assert_string_equal(loom_file_kind(st.st_mode), "a character device");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_exits),
        cmocka_unit_test(test_calloc_overflow),
        cmocka_unit_test(test_file_kind),
        cmocka_unit_test(test_realloc_aligned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
