/*
 * test_buddy.c: the buddy allocator (core/base/buddy.h) hands out blocks
 * that do not overlap and keep what is written in them, at offsets that
 * are multiples of their size, and a block freed merges with its free
 * buddy, so that everything freed serves a whole chunk again.
 */
#include "buddy.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

enum { UNIT = 12 }; /* the flow model's list entry */

static uint64_t rng(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Two halves of a chunk, then four quarters, freed in another order each
 * time: a whole chunk's block comes from the same single chunk after. */
static void test_merge_back(void **state)
{
    (void)state;
    loom_buddy *b = loom_buddy_create(UNIT);
    const int K = LOOM_BUDDY_MAXK;
    char *whole = loom_buddy_alloc(b, K);
    assert_int_equal(loom_buddy_chunks(b), 1);
    loom_buddy_free(b, whole, K);
    char *h0 = loom_buddy_alloc(b, K - 1), *h1 = loom_buddy_alloc(b, K - 1);
    assert_int_equal(loom_buddy_chunks(b), 1);
    assert_true(h0 == whole || h1 == whole);
    assert_int_equal((size_t)(h0 > h1 ? h0 - h1 : h1 - h0), (size_t)UNIT << (K - 1));
    loom_buddy_free(b, h1, K - 1);
    loom_buddy_free(b, h0, K - 1);
    char *q[4];
    for (int i = 0; i < 4; i++)
        q[i] = loom_buddy_alloc(b, K - 2);
    static const int order[4] = {2, 0, 3, 1};
    for (int i = 0; i < 4; i++)
        loom_buddy_free(b, q[order[i]], K - 2);
    assert_ptr_equal(loom_buddy_alloc(b, K), whole);
    assert_int_equal(loom_buddy_chunks(b), 1);
    /* the chunk taken: the next whole block needs a second one */
    char *second = loom_buddy_alloc(b, K);
    assert_int_equal(loom_buddy_chunks(b), 2);
    assert_true(second != whole);
    loom_buddy_destroy(b);
}

/* Random allocations of 4 to 4,096 units and frees, up to 300 blocks
 * alive: each block is filled with its own byte and checked when freed
 * and at the end (an overlap would overwrite another's), its offset from
 * the first chunk's base a multiple of its size; everything freed, a
 * whole chunk comes from the chunks already there. */
static void test_random_blocks(void **state)
{
    (void)state;
    enum { LIVE = 300, OPS = 20000 };
    loom_buddy *b = loom_buddy_create(UNIT);
    char *base = loom_buddy_alloc(b, LOOM_BUDDY_MAXK);
    loom_buddy_free(b, base, LOOM_BUDDY_MAXK); /* the first chunk's base */
    struct {
        char *p;
        int k;
        unsigned char v;
    } live[LIVE];
    int n = 0;
    uint64_t s = 7;
    for (int op = 0; op < OPS; op++) {
        if (n < LIVE && (n == 0 || rng(&s) % 3 != 0)) {
            int k = LOOM_BUDDY_MINK + (int)(rng(&s) % 11);
            char *p = loom_buddy_alloc(b, k);
            size_t bytes = (size_t)UNIT << k;
            if (p >= base && p < base + ((size_t)UNIT << LOOM_BUDDY_MAXK))
                assert_int_equal((size_t)(p - base) % bytes, 0);
            unsigned char v = (unsigned char)(1 + op % 251);
            memset(p, v, bytes);
            live[n].p = p;
            live[n].k = k;
            live[n].v = v;
            n++;
        } else {
            int i = (int)(rng(&s) % (uint64_t)n);
            size_t bytes = (size_t)UNIT << live[i].k;
            for (size_t j = 0; j < bytes; j++)
                if ((unsigned char)live[i].p[j] != live[i].v)
                    fail_msg("block %p (2^%d units) changed at byte %zu", (void *)live[i].p, live[i].k, j);
            loom_buddy_free(b, live[i].p, live[i].k);
            live[i] = live[--n];
        }
    }
    for (int i = 0; i < n; i++) {
        size_t bytes = (size_t)UNIT << live[i].k;
        for (size_t j = 0; j < bytes; j++)
            assert_int_equal((unsigned char)live[i].p[j], live[i].v);
        loom_buddy_free(b, live[i].p, live[i].k);
    }
    size_t chunks = loom_buddy_chunks(b);
    for (size_t i = 0; i < chunks; i++) /* each chunk whole again */
        (void)loom_buddy_alloc(b, LOOM_BUDDY_MAXK);
    assert_int_equal(loom_buddy_chunks(b), chunks);
    loom_buddy_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_back),
        cmocka_unit_test(test_random_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
