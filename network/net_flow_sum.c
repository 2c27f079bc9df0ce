/*
 * net_flow_sum.c: link summaries, the flow model's shortcut through the
 * re-rate's scan of a link (net_flow_int.h, "Link summaries";
 * docs/PERFORMANCE.md, "Flow model at scale"), and the links' lists grown,
 * closed up and checked.
 *
 * A departure marks the links of its path; the re-rate must learn, for
 * each, whether any of its flows is to be re-rated (unrated, or at or
 * above theta) and, when none is, only whether the link is saturated.
 * On the direct all-to-all that is every departure's links, N flows each,
 * and almost never a flow to re-rate.  nf_scan_none answers from the
 * link's summary alone; nf_scan_fixed reads the rates once, with four
 * independent sums instead of the in-order chain, and rebuilds the
 * summary (sum_build).  Either gives the verdict the in-order scan would
 * give, or declines and the in-order scan runs (net_flow_rerate.c).
 */
#include "net_flow_int.h"

#include "buddy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A link's levels from its rates, every one rated (nf_scan_fixed's
 * rebuild): the rates sorted, the largest f->lvmax (NF_LVMAX) distinct
 * ones kept with their counts, the next below them as rest.  An LSD radix
 * sort of the rates' bit patterns (a positive double's order is its bits'
 * order), a pass per digit that is not the same in every rate (a link's
 * rates share their sign, exponent and leading bits): O(n).  Keeping 16
 * levels by insertion cost a search and a move per rate above the table's
 * floor, and was redone every 16 levels as the fastest flows left (a fifth
 * of the 4,096-rank all-to-all's time); qsort would be n log n calls of a
 * comparison function. */
static void sum_build(nf *f, nf_link *l)
{
    uint32_t n = l->n;
    if (f->caprs < n) {
        f->caprs = 2 * (size_t)n;
        f->rs = loom_xrealloc(f->rs, 2 * f->caprs * sizeof *f->rs);
    }
    uint64_t *a = f->rs, *b = f->rs + f->caprs;
    uint64_t all = ~(uint64_t)0, any = 0;
    for (uint32_t k = 0, j = 0; k < l->m; k++) {
        double r = l->e[k].r;
        if (nf_dead(r))
            continue;
        memcpy(&a[j], &r, sizeof r);
        all &= a[j];
        any |= a[j++];
    }
    /* digits of 11 bits for long lists (5 passes where rates share sign
     * and exponent, against 7 of 8 bits; 8 KB of counts), 8 for short
     * ones (whose passes the 2,048 counts would outweigh) */
    int bits = n >= 1024 ? 11 : 8;
    uint32_t mask = (1u << bits) - 1, cnt[1 << 11];
    for (int sh = 0; sh < 64; sh += bits) {
        if ((((all ^ any) >> sh) & mask) == 0)
            continue; /* the same digit in every rate */
        memset(cnt, 0, ((size_t)mask + 1) * sizeof *cnt);
        for (uint32_t k = 0; k < n; k++)
            cnt[(a[k] >> sh) & mask]++;
        for (uint32_t d = 0, sum = 0; d <= mask; d++) {
            uint32_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (uint32_t k = 0; k < n; k++)
            b[cnt[(a[k] >> sh) & mask]++] = a[k];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    /* the distinct rates from the largest down: levels, then rest */
    uint32_t most = 1, nl = 0, k = n;
    for (uint32_t j = 1; j < n && most < f->lvmax; j++)
        most += a[j] != a[j - 1];
    l->nk = 0; /* rebuilt: nothing to keep */
    nf_lv_grow(f, l, most);
    nf_sum_reset(l);
    while (k > 0 && nl < f->lvmax) { /* descending first */
        uint64_t v = a[--k];
        uint32_t c = 1;
        while (k > 0 && a[k - 1] == v) {
            k--;
            c++;
        }
        memcpy(&l->lv[nl].r, &v, sizeof v);
        l->lv[nl++].c = c;
    }
    if (k > 0)
        memcpy(&l->rest, &a[k - 1], sizeof l->rest);
    for (uint32_t i = 0, j = nl - 1; i < j; i++, j--) { /* then ascending */
        nf_lvl t = l->lv[i];
        l->lv[i] = l->lv[j];
        l->lv[j] = t;
    }
    l->nk = nl;
    if (nl > 0) { /* the top in the link too (net_flow_int.h) */
        l->topr = l->lv[nl - 1].r;
        l->topc = l->lv[nl - 1].c;
    }
}

/* 1 when rate r is a flow the re-rate leaves as it is (rated, below
 * theta) or a hole: an int, so that four of them combine with | without
 * branches (bitwise on comparisons is what clang's -Wbitwise-instead-of-
 * logical refuses). */
static inline int nf_stays(double r, double theta)
{
    return (r > 0 && r < theta) || nf_dead(r);
}

/* 1a. A link none of whose flows is re-rated (every rate > 0 and below
 * theta): the common case once departures outnumber rate changes (on the
 * direct all-to-all no flow is re-rated after the first re-rate, yet
 * every departure rescans its links: N flows each).  Nothing on it joins
 * the filling (nun 0); its fixed sum only decides its saturation in
 * rerate_links, and in-order summation is a chain of dependent additions
 * (4 cycles a flow).  Here four independent sums s bound it instead: any
 * order of adding n positive terms is within gamma_(n-1) = (n-1)u/(1-(n-1)u)
 * (u = 2^-53) of the exact sum, so the in-order sum lies in [s - e, s + e]
 * for e = 4.5e-16 (n + 4) s (over twice 2 gamma_n s plus the rounding of
 * s +- e); lbw - x is monotone in x, so when both ends give the same
 * verdict the in-order sum gives it too, and l->rem is set to a value
 * that gives it (0: saturated, lbw: not).  Otherwise (a flow to re-rate,
 * or a sum within e of the threshold) returns 0: the in-order scan. */
int nf_scan_fixed(nf *f, nf_link *l, double lbw, double theta)
{
    const nf_ent *fr = l->e;
    uint32_t n = l->m, k = 0;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int out = 0;
    for (; k + 4 <= n; k += 4) {
        double a = fr[k].r, b = fr[k + 1].r, c = fr[k + 2].r, d = fr[k + 3].r;
        out |= (nf_stays(a, theta) & nf_stays(b, theta) & nf_stays(c, theta) &
                nf_stays(d, theta)) ^ 1;
        if (out)
            return 0; /* a flow to re-rate: the in-order scan, at once */
        s0 += a;
        s1 += b;
        s2 += c;
        s3 += d;
    }
    for (; k < n; k++) {
        double a = fr[k].r;
        out |= nf_stays(a, theta) ^ 1;
        s0 += a;
    }
    if (out)
        return 0;
    double sum = (s0 + s1) + (s2 + s3);
    double e = 4.5e-16 * ((double)l->n + 4) * sum, thr = lbw * 1e-9;
    int lo = lbw - (sum - e) <= thr; /* the verdict at the smallest sum */
    int hi = lbw - (sum + e) <= thr; /* at the largest */
    if (lo != hi)
        return 0;
    l->rem = lo ? 0 : lbw;
    l->nun = 0;
    /* the summary anew (the rates are in the cache now): levels exact
     * again, the sum within e */
    sum_build(f, l);
    l->srun = sum;
    l->serr = e;
    l->sumok = 1; /* n >= NF_SUM_MIN here */
    return 1;
}

/* 1b. The same verdict from the link's summary alone ("Link summaries",
 * net_flow_int.h), when no flow on it is unrated and its largest rate is
 * below theta: the in-order sum is within gamma_(n-1) T of the exact sum
 * T, and T within serr of srun, so within e = serr + gamma (srun + serr)
 * of srun (doubled below for the rounding of these bounds). */
int nf_scan_none(nf_link *l, double lbw, double theta)
{
    if (!l->sumok || l->nfr != 0 || !(nf_sum_max(l) < theta))
        return 0;
    double e = l->serr + 1.2e-16 * (double)l->n * (l->srun + l->serr), thr = lbw * 1e-9;
    int lo = lbw - (l->srun - 2 * e) <= thr;
    int hi = lbw - (l->srun + 2 * e) <= thr;
    if (lo != hi)
        return 0;
    l->rem = lo ? 0 : lbw;
    l->nun = 0;
    return 1;
}

/* Doubles link l's list.  Once the lists hold NF_POOL_FROM entries (12
 * MB) a list that grows moves to the buddy allocator's chunks on 2 MiB
 * pages (core/base/buddy.h): the lists are read and written at random, and
 * on 4 KiB pages nearly every access was a TLB miss (docs/PERFORMANCE.md,
 * "Lists on 2 MiB pages").  Smaller runs keep malloc's lists (no 2 MiB
 * page touched for a few flows), and so do AddressSanitizer builds (its
 * checks). */
void nf_list_grow(nf *f, nf_link *l)
{
    uint32_t cap = l->cap ? 2 * l->cap : 4;
    f->ents += cap - l->cap;
    int k = __builtin_ctz(cap);
    /* (a test's pool_from 0 asks for the pool anywhere, to check it) */
    if (k <= LOOM_BUDDY_MAXK && f->ents >= f->pool_from &&
        (loom_buddy_huge() || f->pool_from == 0)) {
        if (f->pool == NULL)
            f->pool = loom_buddy_create(sizeof(nf_ent));
        nf_ent *e = loom_buddy_alloc(f->pool, k);
        if (l->m > 0)
            memcpy(e, l->e, l->m * sizeof *e);
        if (l->pooled)
            loom_buddy_free(f->pool, l->e, k - 1);
        else
            free(l->e);
        l->e = e;
        l->pooled = 1;
    } else if (l->pooled) { /* past the largest block: malloc's */
        nf_ent *e = loom_xmalloc(cap * sizeof *e);
        memcpy(e, l->e, l->m * sizeof *e);
        loom_buddy_free(f->pool, l->e, k - 1);
        l->e = e;
        l->pooled = 0;
    } else {
        l->e = loom_xrealloc(l->e, cap * sizeof *l->e);
    }
    l->cap = cap;
}

void nf_lv_grow(nf *f, nf_link *l, uint32_t want)
{
    uint32_t cap = 16;
    while (cap < want)
        cap *= 2;
    if (cap <= l->capk)
        return;
    int k = __builtin_ctz(cap), pool = f->pool != NULL && k <= LOOM_BUDDY_MAXK;
    nf_lvl *lv = pool ? loom_buddy_alloc(f->pool, k) : loom_xmalloc(cap * sizeof *lv);
    if (l->nk > 0)
        memcpy(lv, l->lv, l->nk * sizeof *lv);
    if (l->lvpooled)
        loom_buddy_free(f->pool, l->lv, __builtin_ctz(l->capk));
    else
        free(l->lv);
    l->lv = lv;
    l->capk = cap;
    l->lvpooled = (uint8_t)pool;
}

/* Link li's list without its holes, its flows in the same order (so every
 * in-order sum is the same as before: a hole adds -0.0, which changes no
 * sum); each flow moved learns its new position.  The flows are visited in
 * list order, so a prefetch 8 ahead overlaps their misses. */
void nf_compact(nf *f, uint32_t li)
{
    nf_link *l = &f->l[li];
    uint32_t j = 0;
    for (uint32_t k = 0; k < l->m; k++) {
        if (nf_dead(l->e[k].r))
            continue;
        if (k + 8 < l->m && !nf_dead(l->e[k + 8].r))
            __builtin_prefetch(&f->f[l->e[k + 8].id].hop);
        if (j != k) {
            l->e[j] = l->e[k];
            uint32_t *mh = nf_hop(&f->f[l->e[j].id]), h = 0;
            while (mh[h] != li)
                h += 2;
            mh[h + 1] = j;
        }
        j++;
    }
    LOOM_ASSERT(j == l->n);
    l->m = j;
    l->hole = NF_NOHOLE;
    f->compactions++;
}

/* Link li's list: its n flows each live, draining and at the position its
 * hop records; its m - n holes (rate -0.0) chained once each from
 * l->hole; the chain's positions below m. */
static int check_list(const nf *f, int li)
{
    const nf_link *l = &f->l[li];
    uint32_t live = 0, dead = 0, chain = 0;
    if (l->n > l->m || l->m > l->cap || (l->n == 0 && l->m != 0))
        return 0;
    for (uint32_t k = 0; k < l->m; k++) {
        const nf_ent *e = &l->e[k];
        if (nf_dead(e->r)) {
            dead += e->r == 0; /* -0.0, nothing else negative */
            continue;
        }
        if (e->id >= f->nf || !f->f[e->id].live || f->f[e->id].npath == 0)
            return 0;
        const nf_flow *fl = &f->f[e->id];
        const uint32_t *hop = nf_chop(fl);
        uint32_t h = 0;
        while (h < fl->npath && hop[2 * h] != (uint32_t)li)
            h++;
        if (h == fl->npath || hop[2 * h + 1] != k || e->r != fl->rate)
            return 0;
        live++;
    }
    for (uint32_t p = l->hole; p != NF_NOHOLE && chain <= dead; p = l->e[p].id) {
        if (p >= l->m || !nf_dead(l->e[p].r))
            return 0;
        chain++;
    }
    return live == l->n && dead == l->m - l->n && chain == dead;
}

int nf_check_links(const nf *f)
{
    for (int i = 0; i < f->g->nlinks; i++)
        if (!check_list(f, i))
            return -1 - i;
    for (int i = 0; i < f->g->nlinks; i++) {
        const nf_link *l = &f->l[i];
        if (!l->sumok)
            continue;
        uint32_t zeros = 0, *cnt = loom_xcalloc(l->nk + 1, sizeof *cnt);
        int bad = l->nk > f->lvmax;
        long double sum = 0; /* 64-bit mantissa: the exact sum to ~1e-19 n */
        for (uint32_t k = 0; k < l->m; k++) {
            double r = l->e[k].r;
            uint32_t j;
            if (nf_dead(r))
                continue;
            sum += r;
            if (r == 0) {
                zeros++;
                continue;
            }
            for (j = 0; j < l->nk && l->lv[j].r != r; j++) /* not nf_sum_find: */
                ;                                          /* order checked below */
            if (j < l->nk)
                cnt[j]++;
            else if (r > l->rest)
                bad = 1; /* a rate above the bound */
        }
        if (zeros != l->nfr)
            bad = 1;
        for (uint32_t j = 0; j < l->nk; j++) /* the top's count is the link's */
            if (cnt[j] != (j == l->nk - 1 ? l->topc : l->lv[j].c) || l->lv[j].r <= l->rest ||
                (j > 0 && l->lv[j].r <= l->lv[j - 1].r))
                bad = 1;
        if (l->nk > 0 && l->topr != l->lv[l->nk - 1].r)
            bad = 1;
        free(cnt);
        if (bad)
            return -1 - i;
        long double d = (long double)l->srun - sum;
        if ((d < 0 ? -d : d) > (long double)l->serr + 1e-18L * (l->n + 1) * sum)
            return -1 - i;
    }
    return 0;
}

void nf_level_cap(nf *f, uint32_t cap)
{
    LOOM_ASSERT(cap >= 1 && cap <= NF_LVMAX);
    f->lvmax = cap;
}
