/*
 * et_ids.h (private to traces/): node ids to file-order indices by sorting
 * (id, index) pairs once and binary-searching them, which costs 12 bytes a
 * node and no hash table.  Shared by the graph loader and the validator.
 */
#ifndef LOOM_ET_IDS_H
#define LOOM_ET_IDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t id;  /* node id */
    uint32_t idx; /* its index in file order */
} idpair;

/* qsort order: by id, then by index (so duplicates sit together, first first) */
static inline int et_cmp_idpair(const void *a, const void *b)
{
    const idpair *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Index of id in the sorted pairs, or -1 (as int64) if absent. */
static inline int64_t et_find_id(const idpair *v, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo].id == id ? (int64_t)v[lo].idx : -1;
}

#endif
