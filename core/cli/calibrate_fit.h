/*
 * calibrate_fit.h: the least-squares fits of `loom calibrate --runs`
 * (calibrate_fit.c; docs/VALIDATION.md, "Stack profiles").
 */
#ifndef LOOM_CALIBRATE_FIT_H
#define LOOM_CALIBRATE_FIT_H

/* One run: replayed, its step is T(s) = a + b s seconds with every compute
 * node's time x s; m is its measured seconds. */
typedef struct cal_point {
    double a, b, m;
} cal_point;

/* A profile's parameters: compute-time-scale s and the step overhead c
 * (seconds a step outside the trace). */
typedef struct cal_fit {
    double s, c;
} cal_fit;

/* The fit over p[0..n) except skip (-1: none) minimising the squared
 * relative errors sum ((a_i + b_i s + c) / m_i - 1)^2: with overhead 0,
 * c = 0 and s alone; with overhead 1, s and c together, constrained to
 * c >= 0 (a negative c is the fit without it). */
cal_fit cal_fit_runs(const cal_point *p, int n, int skip, int overhead);

/* Run i's relative error at f: (a + b s + c) / m - 1. */
double cal_error(const cal_point *p, cal_fit f);

/* Both fits and their leave-one-out errors (loo1, loo2: n entries each,
 * run i predicted by the fit without it); returns 1 when the overhead is
 * kept: n >= 3, its c > 0, and it lowers the mean leave-one-out |error| by
 * more than CAL_KEEP_MARGIN (a second parameter must predict held-out runs
 * better, not only fit the ones it saw). */
#define CAL_KEEP_MARGIN 0.0005
int cal_choose(const cal_point *p, int n, cal_fit *one, cal_fit *two, double *loo1, double *loo2);

#endif
