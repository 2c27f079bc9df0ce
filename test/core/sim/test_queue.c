/* A lane's ready queue (replay_queue.h): the run, then the FIFO and heap
 * of keys off it.  Against a reference (a sorted set by brute force), on
 * random pushes and pops: in order, out of order, gaps, runs restarted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "replay_queue.h"

enum { KEYS = 4096 };

/* xorshift: the same sequence everywhere */
static uint32_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}

static uint32_t ref_min(const unsigned char *in)
{
    for (uint32_t k = 0; k < KEYS; k++)
        if (in[k])
            return k;
    return UINT32_MAX;
}

/* mostly in order (the run), sometimes ahead (FIFO), sometimes behind
 * (heap), popped now and then: every pop is the least key queued */
static void test_random_against_reference(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        uint64_t s = seed * 0x9e3779b97f4a7c15ull;
        lane ln = {0};
        unsigned char in[KEYS] = {0}, used[KEYS] = {0};
        uint32_t next = 0, queued = 0;
        for (int step = 0; step < 3000; step++) {
            uint32_t r = rnd(&s) % 10;
            if (r < 6 || queued == 0) { /* push: the next key, or one ahead, or a skipped one */
                uint32_t key = next;
                if (r == 4)
                    key = next + 1 + rnd(&s) % 8;
                else if (r == 5 && next > 0)
                    key = rnd(&s) % next;
                if (key >= KEYS || used[key])
                    continue;
                used[key] = in[key] = 1;
                queued++;
                if (key >= next)
                    next = key + 1;
                lane_push(&ln, key);
            } else {
                uint32_t want = ref_min(in);
                assert_int_equal(lane_pop(&ln), want);
                in[want] = 0;
                queued--;
            }
            assert_int_equal(lane_queued(&ln), queued);
        }
        while (queued) {
            uint32_t want = ref_min(in);
            assert_int_equal(lane_pop(&ln), want);
            in[want] = 0;
            queued--;
        }
        assert_int_equal(lane_queued(&ln), 0);
        lane_release(&ln);
    }
}

/* keys in the lane's order touch no memory but the run */
static void test_in_order_stays_a_run(void **state)
{
    (void)state;
    lane ln = {0};
    for (uint32_t k = 0; k < 1000; k++)
        lane_push(&ln, k);
    assert_null(ln.more);
    assert_int_equal(lane_queued(&ln), 1000);
    for (uint32_t k = 0; k < 1000; k++)
        assert_int_equal(lane_pop(&ln), k);
    lane_push(&ln, 5000); /* an empty run starts anywhere */
    lane_push(&ln, 5001);
    assert_null(ln.more);
    lane_push(&ln, 7); /* off the run, and smaller: the FIFO beside it */
    assert_non_null(ln.more);
    assert_int_equal(lane_pop(&ln), 7);
    assert_int_equal(lane_pop(&ln), 5000);
    assert_int_equal(lane_pop(&ln), 5001);
    assert_int_equal(lane_queued(&ln), 0);
    lane_release(&ln);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_in_order_stays_a_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
