/*
 * calibrate_fit.c: the fits of `loom calibrate --runs` (docs/VALIDATION.md,
 * "Stack profiles").
 *
 * Run i replays as T_i(s) = a_i + b_i s (compute-bound in part b_i), and a
 * profile may add c seconds to every step (step-overhead-us: work outside
 * the trace that does not scale with it).  With x_i = b_i / m_i,
 * z_i = 1 / m_i and y_i = 1 - a_i / m_i, the relative error is
 * x_i s + z_i c - y_i, and least squares gives
 *     c = 0:    s = Sxy / Sxx
 *     both:     [Sxx Sxz; Sxz Szz] [s; c] = [Sxy; Szy]
 * (S.. the sums of the products).  c < 0 would be time the stack saves
 * outside the trace: such a fit falls back to c = 0.
 *
 * Which to keep is decided on leave-one-out, not on the fit itself (two
 * parameters always fit at least as well as one): the overhead stays only
 * where predicting each run from the others gets better with it.
 */
#include "calibrate_fit.h"

#include <math.h>

cal_fit cal_fit_runs(const cal_point *p, int n, int skip, int overhead)
{
    double sxx = 0, sxz = 0, szz = 0, sxy = 0, szy = 0;
    for (int i = 0; i < n; i++) {
        if (i == skip)
            continue;
        double x = p[i].b / p[i].m, z = 1 / p[i].m, y = 1 - p[i].a / p[i].m;
        sxx += x * x;
        sxz += x * z;
        szz += z * z;
        sxy += x * y;
        szy += z * y;
    }
    cal_fit one = {sxx > 0 ? sxy / sxx : 1, 0};
    if (!overhead)
        return one;
    double det = sxx * szz - sxz * sxz;
    if (!(fabs(det) > 1e-12 * sxx * szz)) /* one run, or runs alike: no second parameter */
        return one;
    cal_fit two = {(sxy * szz - szy * sxz) / det, (sxx * szy - sxz * sxy) / det};
    return two.c > 0 ? two : one;
}

double cal_error(const cal_point *p, cal_fit f)
{
    return (p->a + p->b * f.s + f.c) / p->m - 1;
}

int cal_choose(const cal_point *p, int n, cal_fit *one, cal_fit *two, double *loo1, double *loo2)
{
    *one = cal_fit_runs(p, n, -1, 0);
    *two = cal_fit_runs(p, n, -1, 1);
    double m1 = 0, m2 = 0;
    for (int i = 0; i < n; i++) {
        loo1[i] = cal_error(&p[i], n > 1 ? cal_fit_runs(p, n, i, 0) : *one);
        loo2[i] = cal_error(&p[i], n > 2 ? cal_fit_runs(p, n, i, 1) : *one);
        m1 += fabs(loo1[i]) / n;
        m2 += fabs(loo2[i]) / n;
    }
    return n >= 3 && two->c > 0 && m2 < m1 - CAL_KEEP_MARGIN;
}
