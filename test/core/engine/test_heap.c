/* The 4-ary heap against a slow obvious reference: a sorted array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "heap.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct ref_entry {
    sim_time t;
    uint64_t seq;
    uintptr_t item;
} ref_entry;

static void test_empty(void **state)
{
    (void)state;
    sim_heap h;
    sim_heap_init(&h);
    sim_heap_entry e;
    assert_int_equal(sim_heap_pop(&h, &e), 0);
    assert_null(sim_heap_top(&h));
    sim_heap_free(&h);
}

static void test_equal_times_pop_in_insertion_order(void **state)
{
    (void)state;
    sim_heap h;
    sim_heap_init(&h);
    for (uintptr_t i = 1; i <= 1000; i++)
        sim_heap_push(&h, 42, (void *)i);
    for (uintptr_t i = 1; i <= 1000; i++) {
        sim_heap_entry e;
        assert_int_equal(sim_heap_pop(&h, &e), 1);
        assert_int_equal(e.time, 42);
        assert_ptr_equal(e.item, (void *)i);
    }
    sim_heap_free(&h);
}

/* Random pushes and pops, times drawn from a small range so ties are
 * common; every pop must match the least element of the reference. */
static void test_random_against_sorted_array(void **state)
{
    (void)state;
    enum { OPS = 200000 };
    sim_heap h;
    sim_heap_init(&h);
    ref_entry *ref = malloc(OPS * sizeof *ref);
    size_t nref = 0;
    uint64_t seq = 0;
    sim_time now = 0;
    for (int op = 0; op < OPS; op++) {
        int push = nref == 0 || xorshift() % 100 < 55;
        if (push) {
            sim_time t = now + (sim_time)(xorshift() % 64);
            uintptr_t item = (uintptr_t)op + 1;
            sim_heap_push(&h, t, (void *)item);
            /* insert into the sorted reference (by t, then seq) */
            size_t i = nref;
            while (i > 0 && ref[i - 1].t > t) {
                ref[i] = ref[i - 1];
                i--;
            }
            ref[i] = (ref_entry){t, seq++, item};
            nref++;
        } else {
            sim_heap_entry e;
            assert_int_equal(sim_heap_pop(&h, &e), 1);
            assert_int_equal(e.time, ref[0].t);
            assert_ptr_equal(e.item, (void *)ref[0].item);
            now = e.time;
            memmove(ref, ref + 1, (nref - 1) * sizeof *ref);
            nref--;
        }
        assert_int_equal(h.n, nref);
    }
    while (nref > 0) {
        sim_heap_entry e;
        assert_int_equal(sim_heap_pop(&h, &e), 1);
        assert_int_equal(e.time, ref[0].t);
        assert_ptr_equal(e.item, (void *)ref[0].item);
        memmove(ref, ref + 1, (nref - 1) * sizeof *ref);
        nref--;
    }
    assert_true(h.high > 0);
    free(ref);
    sim_heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_equal_times_pop_in_insertion_order),
        cmocka_unit_test(test_random_against_sorted_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
