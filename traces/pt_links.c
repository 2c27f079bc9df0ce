/*
 * pt_links.c: what the events of a Kineto trace say of each other, for
 * `loom calibrate --kineto` and the summary of `loom import pytorch`: a
 * GPU op's launch (the runtime call of its `correlation`, found through
 * et_ids.h's sorted pairs as pt_build.c finds it), a host event's
 * innermost enclosing op on its thread (ops nest: a stack over each
 * thread's events by start), and the host's time per launch.
 */
#include "et_ids.h"
#include "pt_import.h"

#include <stdlib.h>
#include <string.h>

typedef struct hostev { /* a host op or runtime call, for the nesting sweep */
    int64_t tid, ts, dur;
    uint32_t kind, idx;
} hostev;

/* by thread, then start; an enclosing op before what it holds (longer
 * first), an op before the runtime call it makes, then file order */
static int by_thread_start(const void *pa, const void *pb)
{
    const hostev *a = pa, *b = pb;
    if (a->tid != b->tid)
        return a->tid < b->tid ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->dur != b->dur)
        return a->dur > b->dur ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

void pt_kineto_links(const pt_kineto *k, int32_t *launch, int32_t *parent)
{
    idpair *rt = loom_xmalloc((k->nev + 1) * sizeof *rt);
    size_t nr = 0;
    for (size_t i = 0; i < k->nev; i++) {
        launch[i] = -1;
        if (k->ev[i].kind == PT_K_RT && k->ev[i].corr >= 0)
            rt[nr++] = (idpair){(uint64_t)k->ev[i].corr, (uint32_t)i};
    }
    qsort(rt, nr, sizeof *rt, et_cmp_idpair);
    for (size_t i = 0; i < k->nev; i++)
        if (k->ev[i].kind >= PT_K_KERNEL && k->ev[i].corr >= 0)
            launch[i] = (int32_t)et_find_id(rt, nr, (uint64_t)k->ev[i].corr);
    free(rt);
    if (parent == NULL)
        return;
    hostev *h = loom_xmalloc((k->nev + 1) * sizeof *h);
    size_t nh = 0;
    for (size_t i = 0; i < k->nev; i++) {
        const pt_kev *e = &k->ev[i];
        parent[i] = -1;
        if (e->kind == PT_K_CPU || e->kind == PT_K_RT)
            h[nh++] = (hostev){e->tid, e->ts, e->dur, e->kind, (uint32_t)i};
    }
    qsort(h, nh, sizeof *h, by_thread_start);
    uint32_t *stack = loom_xmalloc((nh + 1) * sizeof *stack); /* indices into h */
    size_t sp = 0;
    for (size_t i = 0; i < nh; i++) {
        if (i > 0 && h[i].tid != h[i - 1].tid)
            sp = 0;
        while (sp > 0 && h[stack[sp - 1]].ts + h[stack[sp - 1]].dur <= h[i].ts)
            sp--; /* ended before this one starts */
        if (sp > 0)
            parent[h[i].idx] = (int32_t)h[stack[sp - 1]].idx;
        if (h[i].kind == PT_K_CPU) /* runtime calls enclose nothing */
            stack[sp++] = (uint32_t)i;
    }
    free(stack);
    free(h);
}

/* ---- the host's time per launch ------------------------------------------- */

typedef struct launch { /* a kernel launch and its kernel */
    int64_t tid, ts, end; /* the launch call */
    int64_t kts, kend;    /* its kernel */
} launch;

static int by_launch(const void *pa, const void *pb) /* (tid, start, kernel start) */
{
    const launch *a = pa, *b = pb;
    if (a->tid != b->tid)
        return a->tid < b->tid ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return (a->kts > b->kts) - (a->kts < b->kts);
}

static int by_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

void pt_host_fit_of(const pt_kineto *k, const pt_strs *strs, pt_host_fit *out)
{
    int32_t *lau = loom_xmalloc((k->nev + 1) * sizeof *lau);
    int32_t *kern = loom_xmalloc((k->nev + 1) * sizeof *kern); /* a launch's first kernel */
    pt_kineto_links(k, lau, NULL);
    for (size_t i = 0; i < k->nev; i++)
        kern[i] = -1;
    for (size_t i = 0; i < k->nev; i++)
        if (k->ev[i].kind == PT_K_KERNEL && lau[i] >= 0 && kern[lau[i]] < 0)
            kern[lau[i]] = (int32_t)i;
    launch *l = loom_xmalloc((k->nev + 1) * sizeof *l);
    size_t nl = 0;
    for (size_t i = 0; i < k->nev; i++) {
        const pt_kev *e = &k->ev[i];
        if (kern[i] < 0 || !strstr(pt_str_get(strs, e->name), "aunch"))
            continue; /* cudaLaunchKernel, cuLaunchKernel, cudaLaunchKernelExC */
        const pt_kev *g = &k->ev[kern[i]];
        l[nl++] = (launch){e->tid, e->ts, e->ts + e->dur, g->ts, g->ts + g->dur};
    }
    qsort(l, nl, sizeof *l, by_launch);
    double *iv = loom_xmalloc((nl + 1) * sizeof *iv);
    size_t n = 0;
    for (size_t i = 1; i < nl; i++)
        if (l[i].tid == l[i - 1].tid && l[i - 1].kend <= l[i].end && l[i].kts >= l[i].end &&
            l[i].kts - l[i].end < 20000)
            iv[n++] = (double)(l[i].ts - l[i - 1].ts) * 1e-3;
    qsort(iv, n, sizeof *iv, by_double);
    out->launches = nl;
    out->pairs = n;
    out->median_us = n < 10 ? -1 : n % 2 ? iv[n / 2] : (iv[n / 2 - 1] + iv[n / 2]) / 2;
    free(lau);
    free(kern);
    free(l);
    free(iv);
}
