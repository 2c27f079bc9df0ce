/* The engine: order, clock, payloads, slot reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine.h"

typedef struct rec {
    sim_time seen[64]; /* clock at each handler call */
    int tag[64];       /* payload of each call */
    int n;             /* calls so far */
} rec;

static void on_ev(sim_engine *eng, void *payload, void *ctx)
{
    rec *r = ctx;
    r->seen[r->n] = sim_now(eng);
    r->tag[r->n] = *(int *)payload;
    r->n++;
}

static void test_order_and_clock(void **state)
{
    (void)state;
    rec r = {0};
    loom_err err = {0};
    sim_engine *e = sim_engine_create(sizeof(int), &r, &err);
    assert_non_null(e);
    *(int *)sim_schedule(e, 30, on_ev) = 3;
    *(int *)sim_schedule(e, 10, on_ev) = 1;
    *(int *)sim_schedule(e, 30, on_ev) = 4; /* tie: after 3 */
    *(int *)sim_schedule(e, 20, on_ev) = 2;
    assert_int_equal(sim_run(e, 25), 2); /* stops before 30 */
    assert_int_equal(sim_now(e), 20);
    assert_int_equal(sim_run(e, SIM_TIME_MAX), 2);
    assert_int_equal(r.n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(r.tag[i], i + 1);
    assert_int_equal(r.seen[3], 30);
    assert_int_equal(sim_events(e), 4);
    assert_int_equal(sim_pending(e), 0);
    sim_engine_destroy(e);
}

/* A handler that reschedules itself: a chain of 100000 events must reuse
 * slots (the high-water mark of pending events stays at 1). */
static void chain(sim_engine *eng, void *payload, void *ctx)
{
    int *left = payload;
    (void)ctx;
    if (*left > 0)
        *(int *)sim_schedule_in(eng, 7, chain) = *left - 1;
}

static void test_chain_reuses_slots(void **state)
{
    (void)state;
    loom_err err = {0};
    sim_engine *e = sim_engine_create(sizeof(int), NULL, &err);
    *(int *)sim_schedule(e, 0, chain) = 100000;
    sim_run(e, SIM_TIME_MAX);
    assert_int_equal(sim_events(e), 100001);
    assert_int_equal(sim_now(e), 700000);
    assert_int_equal(sim_high_water(e), 1);
    sim_engine_destroy(e);
}

/* Same-time batches keep (time, seq) order: A and C at 10 are in two
 * batches (B at 20 came between them), D joins C's batch, and events a
 * handler schedules at the current time run after every event already
 * pending at that time (E, from A's handler, after C and D).  Checked
 * against a random mix: the order must be by time, then insertion. */
static void spawn(sim_engine *eng, void *payload, void *ctx)
{
    on_ev(eng, payload, ctx);
    if (*(int *)payload == 1)
        *(int *)sim_schedule(eng, sim_now(eng), on_ev) = 5;
}

static void test_batches_keep_order(void **state)
{
    (void)state;
    rec r = {0};
    loom_err err = {0};
    sim_engine *e = sim_engine_create(sizeof(int), &r, &err);
    *(int *)sim_schedule(e, 10, spawn) = 1; /* A */
    *(int *)sim_schedule(e, 20, on_ev) = 6; /* B */
    *(int *)sim_schedule(e, 10, on_ev) = 2; /* C */
    *(int *)sim_schedule(e, 10, on_ev) = 3; /* D */
    sim_run(e, SIM_TIME_MAX);
    int want[] = {1, 2, 3, 5, 6};
    assert_int_equal(r.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(r.tag[i], want[i]);
    assert_int_equal(sim_high_water(e), 4);
    sim_engine_destroy(e);

    rec q = {0};
    e = sim_engine_create(sizeof(int), &q, &err);
    sim_time t[64];
    unsigned x = 12345;
    for (int i = 0; i < 64; i++) {
        x = x * 1103515245u + 12345u;
        t[i] = (x >> 16) % 4; /* many ties, batches interleaved */
        *(int *)sim_schedule(e, t[i], on_ev) = i;
    }
    sim_run(e, SIM_TIME_MAX);
    assert_int_equal(q.n, 64);
    for (int i = 1; i < 64; i++) {
        int a = q.tag[i - 1], b = q.tag[i];
        assert_true(t[a] < t[b] || (t[a] == t[b] && a < b));
    }
    sim_engine_destroy(e);
}

/* A run stopped inside a batch (budget 1) and an event scheduled at the
 * same time before resuming: it runs after the batch's other events. */
static void test_budget_inside_batch(void **state)
{
    (void)state;
    rec r = {0};
    loom_err err = {0};
    sim_engine *e = sim_engine_create(sizeof(int), &r, &err);
    for (int i = 1; i <= 3; i++)
        *(int *)sim_schedule(e, 5, on_ev) = i;
    assert_int_equal(sim_run_budget(e, SIM_TIME_MAX, 1), 1);
    assert_int_equal(r.n, 1);
    *(int *)sim_schedule(e, 5, on_ev) = 4;
    sim_run(e, SIM_TIME_MAX);
    assert_int_equal(r.n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(r.tag[i], i + 1);
    sim_engine_destroy(e);
}

/* Handlers that schedule both at their own time and later, many times
 * over: events must still run in (time, insertion) order, the order a heap
 * of events keyed by (time, a counter) gives. */
typedef struct mix {
    sim_time time[512];
    int seq[512];  /* insertion counter of each run event */
    int n, next;   /* run so far, next counter */
} mix;

static void mix_ev(sim_engine *eng, void *payload, void *ctx)
{
    mix *m = ctx;
    int tag = *(int *)payload;
    m->time[m->n] = sim_now(eng);
    m->seq[m->n++] = tag;
    if (m->next < 400) {
        *(int *)sim_schedule(eng, sim_now(eng), mix_ev) = m->next++;         /* zero delay */
        *(int *)sim_schedule(eng, sim_now(eng) + tag % 3, mix_ev) = m->next++; /* later, or now */
    }
}

static void test_handler_mix_order(void **state)
{
    (void)state;
    mix m = {0};
    loom_err err = {0};
    sim_engine *e = sim_engine_create(sizeof(int), &m, &err);
    for (int i = 0; i < 4; i++)
        *(int *)sim_schedule(e, i % 2, mix_ev) = m.next++;
    sim_run(e, SIM_TIME_MAX);
    assert_int_equal(m.n, m.next);
    for (int i = 1; i < m.n; i++)
        assert_true(m.time[i - 1] < m.time[i] ||
                    (m.time[i - 1] == m.time[i] && m.seq[i - 1] < m.seq[i]));
    sim_engine_destroy(e);
}

/* sim_ahead_payload names the event 8 after the running one in its batch,
 * and NULL when the batch ends sooner. */
typedef struct ahead_rec {
    int tag[32], ahead[32], n;
} ahead_rec;

static void ahead_ev(sim_engine *eng, void *payload, void *ctx)
{
    ahead_rec *a = ctx;
    sim_handler fn;
    const int *nx = sim_ahead_payload(eng, &fn);
    a->tag[a->n] = *(int *)payload;
    a->ahead[a->n++] = nx ? *nx : -1;
    if (nx)
        assert_true(fn == ahead_ev);
}

static void test_ahead_payload(void **state)
{
    (void)state;
    ahead_rec a = {0};
    loom_err err = {0};
    sim_engine *e = sim_engine_create(sizeof(int), &a, &err);
    for (int i = 1; i <= 20; i++)
        *(int *)sim_schedule(e, 5, ahead_ev) = i;
    *(int *)sim_schedule(e, 6, ahead_ev) = 21; /* another batch: not ahead of 13 */
    sim_run(e, SIM_TIME_MAX);
    assert_int_equal(a.n, 21);
    for (int i = 0; i < 21; i++)
        assert_int_equal(a.ahead[i], a.tag[i] + 8 <= 20 ? a.tag[i] + 8 : -1);
    sim_engine_destroy(e);
}

/* Folding: an event that sim_last_payload offers may stand for the next
 * one (its payload lists both); handling the list in order must give
 * exactly the sequence of the unfolded run, on a mix of handlers that
 * schedule at their own time and later. */
typedef struct fold_ev {
    int n, tag[6];
} fold_ev;
typedef struct fold {
    sim_time time[1200];
    int tag[1200];
    int n, next, folding, folded;
} fold;

static void fold_handler(sim_engine *eng, void *payload, void *ctx);

static void fold_post(sim_engine *eng, fold *f, sim_time t)
{
    fold_ev *p = f->folding ? sim_last_payload(eng, t, fold_handler) : NULL;
    if (p && p->n < 6) {
        p->tag[p->n++] = f->next++;
        f->folded++;
        return;
    }
    p = sim_schedule(eng, t, fold_handler);
    p->n = 1;
    p->tag[0] = f->next++;
}

static void fold_handler(sim_engine *eng, void *payload, void *ctx)
{
    fold *f = ctx;
    fold_ev ev = *(fold_ev *)payload;
    for (int k = 0; k < ev.n; k++) {
        f->time[f->n] = sim_now(eng);
        f->tag[f->n++] = ev.tag[k];
        if (f->next < 1000) {
            fold_post(eng, f, sim_now(eng));                 /* zero delay */
            fold_post(eng, f, sim_now(eng) + ev.tag[k] % 3); /* later, or now */
            if (ev.tag[k] % 5 == 0)
                fold_post(eng, f, sim_now(eng) + 2);
        }
    }
}

static void test_fold_keeps_order(void **state)
{
    (void)state;
    static fold runs[2];
    for (int folding = 0; folding < 2; folding++) {
        fold *f = &runs[folding];
        *f = (fold){.folding = folding};
        loom_err err = {0};
        sim_engine *e = sim_engine_create(sizeof(fold_ev), f, &err);
        for (int i = 0; i < 4; i++)
            fold_post(e, f, i % 2);
        assert_null(sim_last_payload(e, 0, fold_handler)); /* the last is at 1 */
        assert_null(sim_last_payload(e, 1, on_ev));        /* another handler */
        sim_run(e, SIM_TIME_MAX);
        assert_null(sim_last_payload(e, sim_now(e), fold_handler)); /* it ran */
        sim_engine_destroy(e);
    }
    assert_true(runs[1].folded > 100); /* the test folds something */
    assert_int_equal(runs[0].n, runs[1].n);
    for (int i = 0; i < runs[0].n; i++) {
        assert_int_equal(runs[0].tag[i], runs[1].tag[i]);
        assert_int_equal(runs[0].time[i], runs[1].time[i]);
    }
}

static void test_destroy_null(void **state)
{
    (void)state;
    sim_engine_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_clock),
        cmocka_unit_test(test_chain_reuses_slots),
        cmocka_unit_test(test_batches_keep_order),
        cmocka_unit_test(test_budget_inside_batch),
        cmocka_unit_test(test_handler_mix_order),
        cmocka_unit_test(test_ahead_payload),
        cmocka_unit_test(test_fold_keeps_order),
        cmocka_unit_test(test_destroy_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
