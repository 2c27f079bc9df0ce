/*
 * test_prefault.c: the helper thread of core/base/prefault.h backs the
 * whole pages of a range (resident, as mincore(2) reports) and never
 * changes a byte of it; ends are rounded inwards; ranges gone before it
 * reaches them, and more requests than the queue holds, are harmless; a
 * child of fork(2) gets a helper of its own.
 * Where the kernel cannot populate on request (before Linux 5.14) the
 * residency checks are skipped, the content checks still hold.
 */
#include "prefault.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t pg(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static char *map(size_t n)
{
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
#ifdef MADV_NOHUGEPAGE
    madvise(p, n, MADV_NOHUGEPAGE); /* pages of pg() bytes: residency per page */
#endif
    return p;
}

/* pages of [p, p + n) resident now */
static size_t resident(char *p, size_t n)
{
    size_t np = n / pg(), r = 0;
    unsigned char v[256];
    assert_true(np <= sizeof v);
    assert_int_equal(mincore(p, n, v), 0);
    for (size_t i = 0; i < np; i++)
        r += v[i] & 1;
    return r;
}

/* does this build and kernel populate on request?  (the helper's own
 * probe; without the macro prefault.c is built to do nothing) */
static int populates(void)
{
#ifdef MADV_POPULATE_WRITE
    char *t = map(pg());
    int ok = madvise(t, pg(), MADV_POPULATE_WRITE) == 0;
    munmap(t, pg());
    return ok;
#else
    return 0;
#endif
}

static void test_backs_whole_range(void **state)
{
    (void)state;
    size_t n = 64 * pg();
    char *p = map(n);
    assert_int_equal(resident(p, n), 0);
    size_t before = loom_prefault_wait();
    loom_prefault(p, n);
    size_t after = loom_prefault_wait();
    if (populates()) {
        assert_int_equal(resident(p, n), 64);
        assert_int_equal(after - before, n);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(p[i], 0); /* fresh memory stays zero */
    munmap(p, n);
}

/* bytes written before the request are kept, the rest stays zero */
static void test_keeps_content(void **state)
{
    (void)state;
    size_t n = 32 * pg();
    char *p = map(n);
    for (size_t i = 0; i < n; i += 3 * pg() + 17)
        p[i] = (char)(1 + i % 251);
    loom_prefault(p, n);
    loom_prefault_wait();
    for (size_t i = 0; i < n; i++) {
        char want = i % (3 * pg() + 17) == 0 ? (char)(1 + i % 251) : 0;
        assert_int_equal(p[i], want);
    }
    munmap(p, n);
}

/* only the whole pages inside a range: one byte short at either end
 * leaves that page alone; a range inside one page is nothing */
static void test_rounds_inwards(void **state)
{
    (void)state;
    size_t n = 8 * pg();
    char *p = map(n);
    loom_prefault(p + 1, n - 2);
    loom_prefault(p + 3, 10);
    loom_prefault(NULL, n);
    loom_prefault(p, 0);
    loom_prefault_wait();
    if (populates()) {
        assert_int_equal(resident(p, pg()), 0);
        assert_int_equal(resident(p + pg(), 6 * pg()), 6);
        assert_int_equal(resident(p + 7 * pg(), pg()), 0);
    }
    munmap(p, n);
}

/* a range unmapped before the helper reaches it, and a burst of more
 * requests than the queue holds: no fault, and the wait returns */
static void test_gone_and_overflow(void **state)
{
    (void)state;
    size_t n = 256 * pg();
    for (int r = 0; r < 8; r++) {
        char *p = map(n);
        loom_prefault(p, n);
        munmap(p, n);
    }
    char *p = map(n);
    for (int i = 0; i < 4 * LOOM_PREFAULT_QUEUE; i++)
        loom_prefault(p + (size_t)(i % 256) * pg(), pg());
    loom_prefault_wait();
    for (size_t i = 0; i < n; i += pg())
        assert_int_equal(p[i], 0);
    munmap(p, n);
}

/* a child of fork(2), where the helper thread is not copied, starts its
 * own: its requests are served and its wait returns (the alarm ends a
 * child that would hang) */
static void test_after_fork(void **state)
{
    (void)state;
    size_t n = 16 * pg();
    char *p = map(n);
    loom_prefault(p, n); /* the parent's helper is running */
    loom_prefault_wait();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        char *c = map(n);
        loom_prefault(c, n);
        loom_prefault_wait();
        _exit(populates() && resident(c, n) != 16 ? 1 : 0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    munmap(p, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backs_whole_range),
        cmocka_unit_test(test_keeps_content),
        cmocka_unit_test(test_rounds_inwards),
        cmocka_unit_test(test_gone_and_overflow),
        cmocka_unit_test(test_after_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
