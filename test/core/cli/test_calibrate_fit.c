/*
 * The fits of `loom calibrate --runs` (core/cli/calibrate_fit.c): runs
 * built from a known profile, T_i = a_i + b_i s + c, give that profile
 * back; the step overhead is kept only where it predicts left-out runs
 * better; a negative overhead and too few runs fall back to the scale.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "calibrate_fit.h"

/* Three runs' replayed lines (a seconds not compute-bound, b compute-bound
 * at x1), unlike in their mix so that s and c are told apart. */
static const double A[] = {6.6, 2.0, 10.0, 4.0};
static const double B[] = {82.9, 40.0, 30.0, 55.0};

static void build(cal_point *p, int n, double s, double c)
{
    for (int i = 0; i < n; i++)
        p[i] = (cal_point){A[i], B[i], A[i] + B[i] * s + c};
}

/* s = sum x y / sum x^2 by hand: runs (a 0, b 1) measured 1 s and 2 s give
 * x = 1, 1/2 and y = 1, so s = 1.5 / 1.25 = 1.2; errors +20% and -40%. */
static void test_scale_by_hand(void **state)
{
    (void)state;
    cal_point p[2] = {{0, 1, 1}, {0, 1, 2}};
    cal_fit f = cal_fit_runs(p, 2, -1, 0);
    assert_true(fabs(f.s - 1.2) < 1e-12);
    assert_true(f.c == 0);
    assert_true(fabs(cal_error(&p[0], f) - 0.2) < 1e-12);
    assert_true(fabs(cal_error(&p[1], f) + 0.4) < 1e-12);
    /* left out: each run alone gives its own s (1 and 2) */
    assert_true(fabs(cal_fit_runs(p, 2, 0, 0).s - 2) < 1e-12);
    assert_true(fabs(cal_fit_runs(p, 2, 1, 0).s - 1) < 1e-12);
}

/* Built with s 1.15 and 6.2 s a step: both come back, every left-out run
 * is predicted exactly, and the overhead is kept. */
static void test_overhead_recovered(void **state)
{
    (void)state;
    cal_point p[4];
    build(p, 4, 1.15, 6.2);
    cal_fit one, two;
    double l1[4], l2[4];
    assert_int_equal(cal_choose(p, 4, &one, &two, l1, l2), 1);
    assert_true(fabs(two.s - 1.15) < 1e-9 && fabs(two.c - 6.2) < 1e-9);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(l2[i]) < 1e-9);
    /* the scale alone absorbs the overhead: larger, and wrong left out */
    assert_true(one.s > 1.15);
    assert_true(fabs(l1[0]) > 0.01);
}

/* Built with the scale alone: it comes back and no overhead is kept. */
static void test_scale_only_kept(void **state)
{
    (void)state;
    cal_point p[4];
    build(p, 4, 1.25, 0);
    cal_fit one, two;
    double l1[4], l2[4];
    assert_int_equal(cal_choose(p, 4, &one, &two, l1, l2), 0);
    assert_true(fabs(one.s - 1.25) < 1e-12);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(l1[i]) < 1e-12);
}

/* An overhead that fits negative (runs faster than their compute at any
 * positive c) is the scale alone. */
static void test_negative_overhead_refused(void **state)
{
    (void)state;
    cal_point p[4];
    build(p, 4, 1.3, -2.0);
    cal_fit one = cal_fit_runs(p, 4, -1, 0), two = cal_fit_runs(p, 4, -1, 1);
    assert_true(two.c == 0 && two.s == one.s);
    cal_fit o, t;
    double l1[4], l2[4];
    assert_int_equal(cal_choose(p, 4, &o, &t, l1, l2), 0);
}

/* Two runs fit two parameters exactly, so nothing is left to judge the
 * second by: never kept; alike runs cannot tell c from s. */
static void test_too_few_runs(void **state)
{
    (void)state;
    cal_point p[3];
    build(p, 2, 1.15, 6.2);
    cal_fit one, two;
    double l1[2], l2[2];
    assert_int_equal(cal_choose(p, 2, &one, &two, l1, l2), 0);
    p[1] = p[2] = p[0]; /* three copies of one run */
    cal_fit f = cal_fit_runs(p, 3, -1, 1);
    assert_true(f.c == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_by_hand),
        cmocka_unit_test(test_overhead_recovered),
        cmocka_unit_test(test_scale_only_kept),
        cmocka_unit_test(test_negative_overhead_refused),
        cmocka_unit_test(test_too_few_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
