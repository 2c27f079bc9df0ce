/*
 * net_flow_stat.c: what the flow model tells about itself: its totals,
 * its busiest links, and the tests' views and switches (net_flow.h).
 * Apart from net_flow.c and net_flow_rerate.c, whose events and re-rates
 * it does not touch.
 */
#include "net_flow_int.h"

#include <stdlib.h>

/* ---- statistics ----------------------------------------------------------- */

void nf_totals(const nf *f, net_flow_totals *out)
{
    *out = f->tot;
    out->links = f->g->nlinks;
}

static int cmp_stat(const void *pa, const void *pb)
{
    const net_link_stat *a = pa, *b = pb;
    if (a->saturated != b->saturated)
        return a->saturated > b->saturated ? -1 : 1;
    if (a->busy != b->busy)
        return a->busy > b->busy ? -1 : 1;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return (a->link > b->link) - (a->link < b->link);
}

int nf_top_links(const nf *f, const net_graph *g, net_link_stat *out, int n)
{
    sim_time now = f->eng ? sim_now(f->eng) : 0;
    net_link_stat *all = loom_xmalloc((size_t)g->nlinks * sizeof *all);
    int k = 0;
    for (int i = 0; i < g->nlinks; i++) {
        const nf_link *l = &f->l[i];
        sim_time busy = l->busy + (l->n > 0 ? now - l->busy_since : 0);
        sim_time sat = l->sat + (l->saturated ? now - l->sat_since : 0);
        uint64_t bytes = l->bytes;
        if (l->lock) /* a class runs in bulk: what it has not added yet */
            nf_lock_stats(f, i, now, &bytes, &busy, &sat);
        if (busy == 0 && bytes == 0)
            continue;
        net_link_stat *s = &all[k++];
        memset(s, 0, sizeof *s);
        s->link = i;
        s->bw = g->lbw[i];
        s->bytes = bytes;
        s->busy = busy;
        s->saturated = sat;
        s->peak_flows = l->peak;
    }
    qsort(all, (size_t)k, sizeof *all, cmp_stat);
    if (k > n)
        k = n;
    for (int i = 0; i < k; i++) {
        char a[28], b[28];
        out[i] = all[i];
        net_graph_node_name(g, g->lsrc[all[i].link], a, sizeof a);
        net_graph_node_name(g, g->ldst[all[i].link], b, sizeof b);
        snprintf(out[i].name, sizeof out[i].name, "%s->%s", a, b);
    }
    free(all);
    return k;
}

size_t nf_in_flight(const nf *f) { return f->live; }

void nf_pool_from(nf *f, uint64_t ents)
{
    f->pool_from = ents;
}

uint64_t nf_compactions(const nf *f)
{
    return f->compactions;
}

uint32_t nf_starters_held(const nf *f)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->nst; i++)
        n += f->st[i].refs > 0;
    return n;
}

uint64_t nf_scan_inorder(nf *f, int on)
{
    f->scan_inorder = on;
    return f->fast_scans;
}

void nf_grow(nf *f, int steps)
{
    f->grow = steps;
}

void nf_snapshot(const nf *f, double *rate, int *npath, uint32_t *links,
                 size_t max_links)
{
    size_t k = 0, used = 0;
    for (uint32_t i = 0; i < f->nf; i++) {
        const nf_flow *fl = &f->f[i];
        if (!fl->live || fl->npath == 0)
            continue;
        rate[k] = fl->rate;
        npath[k] = (int)fl->npath;
        for (uint32_t h = 0; h < fl->npath && used < max_links; h++)
            links[used++] = nf_chop(fl)[2 * h];
        k++;
    }
}
