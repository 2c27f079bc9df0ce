/*
 * report_sum.c: the summaries the text and JSON reports show instead of
 * one line per rank or per collective instance (docs/REPORT.md,
 * "Summaries"): the distribution of each per-rank figure, the slowest
 * ranks, and the collectives grouped by kind.
 *
 * Percentiles are nearest-rank ones: the p-th percentile of n values is
 * the ceil(p n / 100)-th smallest, so it is always one of the values, is
 * exact (integer picoseconds, no interpolation) and does not depend on the
 * order the values came in.  Means are exact to the picosecond (sums in
 * integer picoseconds, the remainder kept apart so nothing overflows).
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>

#include <uthash.h>

/* The ceil(p n / 100)-th smallest of the n sorted values a; n >= 1. */
static int64_t pctl(const int64_t *a, size_t n, unsigned p)
{
    size_t k = (size_t)(((unsigned long long)p * n + 99) / 100);
    return a[k ? k - 1 : 0];
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The exact mean of the n values a, in the values' unit: the sum of the
 * quotients by n plus the sum of the remainders over n. */
static double exact_mean(const int64_t *a, size_t n)
{
    int64_t q = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        q += a[i] / (int64_t)n;
        r += a[i] % (int64_t)n;
    }
    q += r / (int64_t)n;
    r %= (int64_t)n;
    return (double)q + (double)r / (double)n;
}

/* Fills d from the n values a (sorted here). */
static void distribution(int64_t *a, size_t n, rpt_dist *d)
{
    memset(d, 0, sizeof *d);
    if (n == 0)
        return;
    qsort(a, n, sizeof *a, cmp_i64);
    d->min = a[0];
    d->p50 = pctl(a, n, 50);
    d->p99 = pctl(a, n, 99);
    d->max = a[n - 1];
    d->mean = exact_mean(a, n);
}

/* A value that stands for w equal ones (a collective record's weight). */
typedef struct wval {
    int64_t v;
    uint64_t w;
} wval;

static int cmp_wval(const void *a, const void *b)
{
    const wval *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/* distribution() of the values each a[i].v counted a[i].w times: the same
 * figures as if they had been listed one by one (nearest-rank percentiles;
 * the mean floor(sum / n) + (sum mod n) / n, which is exact_mean's). */
static void distribution_w(wval *a, size_t n, rpt_dist *d)
{
    memset(d, 0, sizeof *d);
    unsigned __int128 sum = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += a[i].w;
        sum += (unsigned __int128)(uint64_t)a[i].v * a[i].w; /* times are >= 0 */
    }
    if (total == 0)
        return;
    qsort(a, n, sizeof *a, cmp_wval);
    d->min = a[0].v;
    d->max = a[n - 1].v;
    uint64_t k50 = (50 * (unsigned __int128)total + 99) / 100, k99 = (99 * (unsigned __int128)total + 99) / 100;
    uint64_t seen = 0;
    int got50 = 0;
    for (size_t i = 0; i < n; i++) {
        seen += a[i].w;
        if (!got50 && seen >= (k50 ? k50 : 1)) {
            d->p50 = a[i].v;
            got50 = 1;
        }
        if (seen >= (k99 ? k99 : 1)) {
            d->p99 = a[i].v;
            break;
        }
    }
    d->mean = (double)(uint64_t)(sum / total) + (double)(uint64_t)(sum % total) / (double)total;
}

static int64_t rank_raw(const loom_rank_field *f, const loom_rank_stats *s)
{
    loom_fval v = loom_rank_value(f, s);
    return f->kind == LOOM_FK_COUNT ? (int64_t)v.u : v.t;
}

/* The slowest first: finish descending, then rank ascending. */
static const loom_result *slow_res; /* qsort has no context argument */
static int cmp_slow(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    sim_time fx = slow_res->ranks[x].finish, fy = slow_res->ranks[y].finish;
    if (fx != fy)
        return fx > fy ? -1 : 1;
    return (x > y) - (x < y);
}

void rpt_rank_summary(const loom_result *res, rpt_rank_sum *s)
{
    memset(s, 0, sizeof *s);
    size_t n = (size_t)res->nranks;
    int64_t *a = loom_xmalloc((n ? n : 1) * sizeof *a);
    for (int k = 0; k < loom_nrank_fields && k < RPT_MAX_RANK_FIELDS; k++) {
        for (size_t r = 0; r < n; r++)
            a[r] = rank_raw(&loom_rank_fields[k], &res->ranks[r]);
        distribution(a, n, &s->field[k]);
    }
    free(a);
    int *ord = loom_xmalloc((n ? n : 1) * sizeof *ord);
    for (size_t r = 0; r < n; r++)
        ord[r] = (int)r;
    slow_res = res;
    qsort(ord, n, sizeof *ord, cmp_slow);
    s->nslowest = n < RPT_SLOWEST ? (int)n : RPT_SLOWEST;
    memcpy(s->slowest, ord, (size_t)s->nslowest * sizeof *ord);
    free(ord);
}

/* ---- collectives by kind -------------------------------------------------- */

typedef struct kind_key {
    int type, nranks;
    uint64_t bytes;
    char algo[LOOM_ALGO_LABEL_MAX];
} kind_key;

typedef struct kind_ent {
    kind_key key; /* zero-padded, hashed as bytes */
    size_t id;    /* index into the kinds */
    UT_hash_handle hh;
} kind_ent;

/* Costliest first: exposed total, then time total, descending; then the
 * key, so that the order is total. */
static int cmp_kind(const void *a, const void *b)
{
    const rpt_kind *x = a, *y = b;
    if (x->exposed != y->exposed)
        return x->exposed > y->exposed ? -1 : 1;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    if (x->type != y->type)
        return (x->type > y->type) - (x->type < y->type);
    if (x->bytes != y->bytes)
        return (x->bytes > y->bytes) - (x->bytes < y->bytes);
    if (x->nranks != y->nranks)
        return (x->nranks > y->nranks) - (x->nranks < y->nranks);
    return strcmp(x->algo, y->algo);
}

/* Each instance's kind id (into kinds, which grows); O(instances). */
static size_t *kind_ids(const loom_result *res, rpt_kind **kinds, size_t *nk)
{
    size_t *id = loom_xmalloc((res->ncolls ? res->ncolls : 1) * sizeof *id);
    kind_ent *table = NULL, *e, *tmp;
    size_t cap = 0;
    *nk = 0;
    *kinds = NULL;
    for (size_t k = 0; k < res->ncolls; k++) {
        const loom_coll_record *c = &res->colls[k];
        kind_key key;
        memset(&key, 0, sizeof key);
        key.type = c->type;
        key.nranks = c->nranks;
        key.bytes = c->bytes;
        memcpy(key.algo, c->algo, strnlen(c->algo, sizeof key.algo - 1));
        HASH_FIND(hh, table, &key, sizeof key, e);
        if (e == NULL) {
            e = loom_xcalloc(1, sizeof *e);
            e->key = key;
            e->id = (*nk)++;
            HASH_ADD(hh, table, key, sizeof key, e);
            if (*nk > cap) {
                cap = cap ? 2 * cap : 16;
                *kinds = loom_xrealloc(*kinds, cap * sizeof **kinds);
            }
            (*kinds)[e->id] = (rpt_kind){.type = c->type, .nranks = c->nranks, .bytes = c->bytes,
                                         .algo = c->algo};
        }
        id[k] = e->id;
    }
    HASH_ITER(hh, table, e, tmp) {
        HASH_DEL(table, e);
        free(e);
    }
    return id;
}

size_t rpt_coll_kinds(const loom_result *res, rpt_kind **out)
{
    size_t nk;
    rpt_kind *kinds;
    size_t *id = kind_ids(res, &kinds, &nk);
    /* the instances' times grouped by kind (a counting sort), then sorted */
    size_t *from = loom_xcalloc(nk + 1, sizeof *from);
    for (size_t k = 0; k < res->ncolls; k++)
        from[id[k] + 1]++;
    for (size_t i = 0; i < nk; i++)
        from[i + 1] += from[i];
    wval *t = loom_xmalloc((res->ncolls ? res->ncolls : 1) * sizeof *t);
    size_t *at = loom_xmalloc((nk ? nk : 1) * sizeof *at);
    memcpy(at, from, (nk ? nk : 1) * sizeof *at);
    for (size_t k = 0; k < res->ncolls; k++) {
        const loom_coll_record *c = &res->colls[k];
        rpt_kind *w = &kinds[id[k]];
        uint64_t wt = c->weight ? c->weight : 1; /* instances it stands for */
        t[at[id[k]]++] = (wval){c->end - c->start, wt};
        w->count += wt;
        w->total += (c->end - c->start) * (sim_time)wt;
        w->exposed += c->exposed * (sim_time)wt;
    }
    for (size_t i = 0; i < nk; i++)
        distribution_w(t + from[i], from[i + 1] - from[i], &kinds[i].time);
    free(at);
    free(t);
    free(from);
    free(id);
    if (nk)
        qsort(kinds, nk, sizeof *kinds, cmp_kind);
    *out = kinds;
    return nk;
}
