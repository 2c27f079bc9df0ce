/*
 * net_flow_rerate.c: re-rating the flow model's flows, max-min fairly
 * (docs/NETWORK.md 2.3); net_flow.c holds the flows, their lists and
 * events, and its head comment the invariants a re-rate keeps.
 *
 * Re-rating is incremental: an arrival or a departure marks the links of
 * its path dirty, and one re-rate event per timestamp (queued at the same
 * time, after the events already queued there) re-computes only the flows
 * that can change, which are found from the dirty links outwards:
 *
 *   1. Only a component can change: the flows that share a link with a
 *      changed flow, the flows that share a link with those, and so on.
 *      Max-min allocations of different components do not interact.
 *   2. Inside it, only flows at or above a threshold theta can change,
 *      where theta is the smallest rate among the departed flows and a
 *      lower bound on the rate of each arrived flow (its smallest equal
 *      share cap_l / n_l over its links: a max-min rate is at least that,
 *      since a flow is bottlenecked where it has the largest rate).  Proof:
 *      progressive filling of the old and the new set of flows is
 *      identical at every level below theta, because every link of a
 *      departed or arrived flow saturates at or above that flow's rate, in
 *      the system that has the flow, and later in the one that has not;
 *      so the flows fixed below theta are fixed at the same rates.
 *
 * So the re-rate walks from the dirty links through the flows whose rate
 * is >= theta (and new flows) only; every link it reaches is scanned once,
 * its slower flows counted as fixed consumption.  When the fastest flows
 * finish (the common case: equal messages at equal rates), nothing else
 * is touched.  Then progressive filling on those flows: repeatedly the
 * link with the smallest fair share (unallocated bandwidth / unfixed
 * flows) fixes its unfixed flows at that share.  Shares only grow as flows
 * are fixed, so a lazy min-heap (a popped entry whose share has grown is
 * pushed back) finds each bottleneck.  Cost: O((F*H + L) log L + S) per
 * re-rate for F flows of H hops on L links re-rated, S the flows on the
 * links scanned.  test_flow.c checks the result against a slow global
 * max-min after every event of random workloads.
 *
 * A re-rate first tries a smaller region than the component and grows it
 * only where the max-min conditions fail ("the growing region" below);
 * the component above is what it falls back to.
 */
#include "net_flow_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- heap of (share, link), smallest share first ----------------------- */

static void hpush(nf *f, double k, uint32_t v)
{
    if (f->hn == f->hcap) {
        f->hcap = f->hcap ? 2 * f->hcap : 1024;
        f->hk = loom_xrealloc(f->hk, f->hcap * sizeof *f->hk);
        f->hv = loom_xrealloc(f->hv, f->hcap * sizeof *f->hv);
    }
    size_t i = f->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (f->hk[p] < k || (f->hk[p] == k && f->hv[p] <= v))
            break;
        f->hk[i] = f->hk[p];
        f->hv[i] = f->hv[p];
        i = p;
    }
    f->hk[i] = k;
    f->hv[i] = v;
}

static void hpop(nf *f, double *k, uint32_t *v)
{
    *k = f->hk[0];
    *v = f->hv[0];
    double lk = f->hk[--f->hn];
    uint32_t lv = f->hv[f->hn];
    size_t i = 0, n = f->hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && (f->hk[c + 1] < f->hk[c] ||
                          (f->hk[c + 1] == f->hk[c] && f->hv[c + 1] < f->hv[c])))
            c++;
        if (lk < f->hk[c] || (lk == f->hk[c] && lv <= f->hv[c]))
            break;
        f->hk[i] = f->hk[c];
        f->hv[i] = f->hv[c];
        i = c;
    }
    f->hk[i] = lk;
    f->hv[i] = lv;
}

/* ---- re-rating ---------------------------------------------------------- */

static void push_cf(nf *f, size_t *ncf, uint32_t id)
{
    if (*ncf == f->capcf) {
        f->capcf = f->capcf ? 2 * f->capcf : 1024;
        f->cf = loom_xrealloc(f->cf, f->capcf * sizeof *f->cf);
    }
    f->cf[(*ncf)++] = id;
}

/* Re-rating runs in five passes over the flows and links a batch of
 * arrivals and departures touched (docs/NETWORK.md 2.3), a function each;
 * rerate() strings them together.  st stamps what this re-rating has
 * seen; f->cl and f->cf collect the links and flows it re-rates. */

/* 0. theta: the smallest departed rate, and for each arrival the
 * smallest equal share over its links (a lower bound on its rate) */
static double rerate_theta(nf *f)
{
    const net_graph *g = f->g;
    double theta = f->theta;
    for (size_t i = 0; i < f->nfresh; i++) {
        nf_flow *fl = &f->f[f->fresh[i]];
        if (i + 16 < f->nfresh)
            nf_prefetch(f, f->fresh[i + 16]);
        if (!fl->live || !fl->fresh)
            continue;
        for (uint32_t h = 0; h < fl->npath; h++) {
            uint32_t li = nf_hop(fl)[2 * h];
            uint32_t n = f->l[li].n; /* a division saved when alone (B / 1 == B) */
            double eq = n == 1 ? g->lbw[li] : g->lbw[li] / n;
            if (eq < theta)
                theta = eq;
        }
    }
    f->nfresh = 0;
    f->theta = INFINITY;
    /* rates at one level differ in their last bits (different sums of
     * shares); a lower theta is always safe, it only re-rates more flows */
    theta *= 1 - 1e-9;
    return theta;
}

/* 1. from the dirty links outwards, through flows at >= theta and new
 * flows; each link reached is scanned once.  Link cl[i]: its flows below
 * theta are fixed consumption (l->rem), the others join the component
 * (stamped, in cf) and their links join cl (l->nun: the component's flows
 * on it). */
static void collect_link(nf *f, uint32_t st, double theta, size_t i, size_t *ncl, size_t *ncf)
{
    const net_graph *g = f->g;
    uint32_t li = f->cl[i];
    nf_link *l = &f->l[li];
    if (l->n >= NF_SUM_MIN && !f->scan_inorder && nf_scan_none(l, g->lbw[li], theta)) {
        f->fast_scans++;
        return;
    }
    if (l->m >= 2 * l->n + 16)
        nf_compact(f, li);
    if (l->n >= NF_SUM_MIN && !f->scan_inorder && nf_scan_fixed(f, l, g->lbw[li], theta)) {
        f->fast_scans++;
        return;
    }
    double fixed = 0;
    uint32_t nact = 0;
    const nf_ent *fr = l->e;
    for (uint32_t k = 0; k < l->m; k++) {
        double r = fr[k].r;
        if (k + 8 < l->m && !(fr[k + 8].r > 0 && fr[k + 8].r < theta) &&
            !nf_dead(fr[k + 8].r))
            nf_prefetch(f, fr[k + 8].id); /* a flow it will visit */
        if (r > 0 && r < theta) { /* the common case: fixed, untouched */
            fixed += r;
            continue;
        }
        if (nf_dead(r))
            continue; /* a hole */
        uint32_t id = fr[k].id;
        nf_flow *fl = &f->f[id];
        if (fl->stamp == st) {
            nact++;
            continue;
        }
        fl->stamp = st;
        fl->newrate = 0; /* not fixed yet */
        nact++;
        push_cf(f, ncf, id);
        for (uint32_t h = 0; h < fl->npath; h++) {
            nf_link *l2 = &f->l[nf_hop(fl)[2 * h]];
            if (l2->stamp != st) {
                l2->stamp = st;
                f->cl[(*ncl)++] = nf_hop(fl)[2 * h];
            }
        }
    }
    l->rem = g->lbw[li] - fixed;
    l->nun = nact;
}

/* The dirty links into cl, stamped (their flags cleared when `take`). */
static size_t dirty_links(nf *f, uint32_t st, int take)
{
    size_t ncl = 0;
    for (size_t i = 0; i < f->ndirty; i++) {
        uint32_t li = f->dirty[i];
        nf_link *l = &f->l[li];
        if (take)
            l->dirty = 0;
        if (l->stamp != st) {
            l->stamp = st;
            f->cl[ncl++] = li;
        }
    }
    if (take)
        f->ndirty = 0;
    return ncl;
}

static void rerate_collect(nf *f, uint32_t st, double theta, size_t *ncl_out, size_t *ncf_out)
{
    size_t ncl = dirty_links(f, st, 1), ncf = 0;
    for (size_t i = 0; i < ncl; i++)
        collect_link(f, st, theta, i, &ncl, &ncf);
    *ncl_out = ncl;
    *ncf_out = ncf;
}

/* 2a. a flow alone on every link of its path is its own component: its
 * rate is its narrowest link's bandwidth.  Progressive filling would give
 * the same double (that link's share is lbw / 1, popped first); fixing it
 * here keeps a lockstep collective's flows (a ring step) out of the heap. */
static void rerate_alone(nf *f, size_t ncf)
{
    const net_graph *g = f->g;
    for (size_t i = 0; i < ncf; i++) {
        nf_flow *fl = &f->f[f->cf[i]];
        if (i + 16 < ncf)
            nf_prefetch(f, f->cf[i + 16]);
        double bw = INFINITY;
        uint32_t h;
        for (h = 0; h < fl->npath; h++) {
            uint32_t li = nf_hop(fl)[2 * h];
            if (f->l[li].n != 1)
                break;
            if (g->lbw[li] < bw)
                bw = g->lbw[li];
        }
        if (h < fl->npath)
            continue;
        fl->newrate = bw;
        for (h = 0; h < fl->npath; h++) {
            nf_link *l2 = &f->l[nf_hop(fl)[2 * h]];
            l2->rem -= bw;
            l2->nun--;
        }
    }
}

/* 2b. progressive filling of the other flows (recording, for the growing
 * region's checks, each link's share and fastest new rate: l->glvl,
 * l->gmaxs, which the region resets before each fill) */
static void rerate_fill(nf *f, uint32_t st, double theta, size_t ncl)
{
    f->hn = 0;
    for (size_t i = 0; i < ncl; i++) {
        nf_link *l = &f->l[f->cl[i]];
        if (l->nun > 0)
            hpush(f, fmax(l->rem, 0) / l->nun, f->cl[i]);
    }
    while (f->hn > 0) {
        double key;
        uint32_t li;
        hpop(f, &key, &li);
        nf_link *l = &f->l[li];
        if (l->nun == 0)
            continue;
        double share = fmax(l->rem, 0) / l->nun;
        if (share > key) { /* grew since it was pushed */
            hpush(f, share, li);
            continue;
        }
        for (uint32_t k = 0; k < l->m; k++) {
            if (k + 8 < l->m && !(l->e[k + 8].r > 0 && l->e[k + 8].r < theta) &&
                !nf_dead(l->e[k + 8].r))
                nf_prefetch(f, l->e[k + 8].id);
            if ((l->e[k].r > 0 && l->e[k].r < theta) || nf_dead(l->e[k].r))
                continue; /* not re-rated, or a hole */
            nf_flow *fl = &f->f[l->e[k].id];
            if (fl->stamp != st || fl->newrate != 0)
                continue; /* not of this re-rate, or fixed */
            LOOM_ASSERT(share > 0);
            fl->newrate = share;
            l->glvl = share;
            for (uint32_t h = 0; h < fl->npath; h++) {
                nf_link *l2 = &f->l[nf_hop(fl)[2 * h]];
                l2->rem -= share;
                l2->nun--;
                if (share > l2->gmaxs)
                    l2->gmaxs = share;
            }
        }
    }
}

/* ---- the growing region --------------------------------------------------
 *
 * Most flows a component re-rates get back the rate they had (95% of them
 * in the large components of a staggered all-to-all on a fat tree,
 * docs/PERFORMANCE.md), and its cost grows with the fabric.  So a re-rate
 * first tries a region: the flows at >= theta (and the new ones) on the
 * links the arrivals and departures touched, every other flow held at its
 * rate.  It fills the region and checks the max-min conditions (a
 * feasible allocation is the max-min one iff every flow has a saturated
 * link on which no flow is faster: Bertsekas and Gallager, Data Networks,
 * sec. 6.5) where the region could have broken them:
 *   - every region flow at >= theta: the true rates of these flows are
 *     (1. above), so a flow below theta on a link it is fixed on would
 *     make it slower than a held flow;
 *   - on a link the region fixed flows at share s, no held flow at >=
 *     theta faster than s;
 *   - a held flow at >= theta that may have had its bottleneck on a link
 *     of the region (saturated before, it the fastest there) keeps it: the
 *     link stays saturated and no region flow is faster than it.
 * Held flows below theta need no check: by 2. above they keep their rates,
 * and a link that is their bottleneck carries no flow at >= theta (such a
 * flow would be faster there), so no region flow, and is as it was.  The
 * held flows that fail join the region, which is filled again; when none
 * fails, the allocation is the max-min one, to the 1e-9 the checks allow
 * (rates that equal ones compute in another order differ in their last
 * bits).  After nf.grow fills (NF_GROW_STEPS), or when a region flow ends
 * below theta or a held one below it would have to join, the whole
 * component is re-rated as before. */
#define GROW_EPS 1e-9

/* Link cl[i] outside the touched ones: its flows not in the region are
 * held at their rates. */
static void grow_scan(nf *f, uint32_t st, double theta, uint32_t li)
{
    nf_link *l = &f->l[li];
    double fixed = 0, maxo = -1, maxa = 0;
    uint32_t nact = 0;
    const nf_ent *fr = l->e;
    for (uint32_t k = 0; k < l->m; k++) {
        double r = fr[k].r;
        if (nf_dead(r))
            continue;
        if (r > maxa)
            maxa = r;
        if (r > 0 && r < theta) {
            fixed += r;
            continue;
        }
        if (f->f[fr[k].id].stamp == st) {
            nact++;
            continue;
        }
        fixed += r;
        if (r > maxo)
            maxo = r;
    }
    l->grem = f->g->lbw[li] - fixed;
    l->gnun = nact;
    l->gmaxo = maxo;
    l->gmaxa = maxa;
}

/* Flow id joins the region; its links not yet in it are added to cl. */
static void grow_join(nf *f, uint32_t st, uint32_t id, size_t *ncl, size_t *ncf)
{
    nf_flow *fl = &f->f[id];
    fl->stamp = st;
    push_cf(f, ncf, id);
    for (uint32_t h = 0; h < fl->npath; h++) {
        uint32_t li = nf_hop(fl)[2 * h];
        nf_link *l2 = &f->l[li];
        if (l2->stamp != st) {
            l2->stamp = st;
            l2->gmaxo = -2; /* to be scanned */
            f->cl[(*ncl)++] = li;
        } else if (l2->gmaxo != -2 && !l2->dirty) {
            l2->gmaxo = -2; /* its outside flows changed: scanned again */
        }
    }
}

/* The flows of link li that break the conditions, into the region: 0 if
 * none did, 1 if some joined, -1 if one below theta would have to. */
static int grow_check(nf *f, uint32_t st, double theta, uint32_t li, size_t *ncl, size_t *ncf)
{
    nf_link *l = &f->l[li];
    if (l->gmaxo < 0)
        return 0; /* no flow outside at >= theta */
    int sat = l->rem <= f->g->lbw[li] * 1e-9;
    double thr = INFINITY;
    if (l->glvl >= 0 && l->gmaxo > l->glvl * (1 + GROW_EPS)) /* faster than a fixed one */
        thr = l->glvl * (1 + GROW_EPS);
    if (l->saturated && l->gmaxo >= l->gmaxa * (1 - GROW_EPS) &&
        (!sat || l->gmaxs > l->gmaxo * (1 + GROW_EPS))) { /* its bottleneck, lost */
        double t2 = l->gmaxa * (1 - GROW_EPS);
        if (t2 < thr)
            thr = t2;
    }
    if (thr == INFINITY)
        return 0;
    if (thr < theta)
        return -1;
    int joined = 0;
    for (uint32_t k = 0; k < l->m; k++) {
        double r = l->e[k].r;
        if (nf_dead(r) || r < thr || (r > 0 && r < theta))
            continue;
        uint32_t id = l->e[k].id;
        if (f->f[id].stamp == st)
            continue;
        grow_join(f, st, id, ncl, ncf);
        joined = 1;
    }
    return joined;
}

/* 1 and the region in cl (ncl) and cf (ncf), filled and checked; 0: the
 * whole component is to be re-rated (the dirty links kept for it). */
static int rerate_grow(nf *f, uint32_t st, double theta, size_t *ncl_out, size_t *ncf_out)
{
    size_t ncl = dirty_links(f, st, 0), nd = ncl, ncf = 0;
    for (size_t i = 0; i < nd; i++) { /* touched: as the whole re-rate does */
        size_t n0 = ncl;
        collect_link(f, st, theta, i, &ncl, &ncf);
        nf_link *l = &f->l[f->cl[i]];
        l->grem = l->rem;
        l->gnun = l->nun;
        for (size_t j = n0; j < ncl; j++)
            f->l[f->cl[j]].gmaxo = -2;
    }
    for (int step = 0; step < f->grow; step++) {
        for (size_t i = nd; i < ncl; i++) {
            uint32_t li = f->cl[i];
            if (f->l[li].gmaxo == -2)
                grow_scan(f, st, theta, li);
        }
        for (size_t i = 0; i < ncl; i++) {
            nf_link *l = &f->l[f->cl[i]];
            l->rem = l->grem;
            l->nun = l->gnun;
            l->glvl = -1;
            l->gmaxs = 0;
        }
        for (size_t i = 0; i < ncf; i++)
            f->f[f->cf[i]].newrate = 0;
        rerate_alone(f, ncf);
        rerate_fill(f, st, theta, ncl);
        f->tot.region_fills++;
        for (size_t i = 0; i < ncf; i++)
            if (f->f[f->cf[i]].newrate < theta)
                return 0; /* below theta: not the max-min rates (the head comment) */
        int more = 0;
        size_t n = ncl;
        for (size_t i = nd; i < n; i++) {
            int r = grow_check(f, st, theta, f->cl[i], &ncl, &ncf);
            if (r < 0)
                return 0;
            more |= r;
        }
        if (!more) {
            dirty_links(f, st, 1);
            *ncl_out = ncl;
            *ncf_out = ncf;
            return 1;
        }
    }
    return 0;
}

/* 3. new rates: settle, reschedule the flows whose rate changed */
static void rerate_settle(nf *f, sim_engine *eng, uint32_t st, size_t ncf)
{
    sim_time now = sim_now(eng);
    for (size_t i = 0; i < ncf; i++) {
        uint32_t id = f->cf[i];
        nf_flow *fl = &f->f[id];
        if (i + 16 < ncf)
            nf_prefetch(f, f->cf[i + 16]);
        if (i + 8 < ncf) { /* its rate's copies, from its hops (asked for above) */
            const nf_flow *ah = &f->f[f->cf[i + 8]];
            const uint32_t *hop = nf_chop(ah);
            for (uint32_t h = 0; h < ah->npath && h < NF_IH; h++)
                __builtin_prefetch(&f->l[hop[2 * h]].e[hop[2 * h + 1]], 1);
        }
        LOOM_ASSERT(fl->stamp == st && fl->newrate > 0);
        fl->fresh = 0;
        if (fl->newrate == fl->rate)
            continue;
        for (uint32_t h = 0; h < fl->npath; h++) { /* the links' copies, summaries */
            nf_link *l2 = &f->l[nf_hop(fl)[2 * h]];
            l2->e[nf_hop(fl)[2 * h + 1]].r = fl->newrate;
            if (!nf_sum_keep(l2))
                continue;
            if (fl->rate == 0) /* its first rate */
                l2->nfr--;
            else
                nf_sum_del(l2, fl->rate);
            nf_sum_add(f, l2, fl->newrate);
        }
        fl->rem -= fl->rate * (double)(now - fl->last) * 1e-12;
        fl->last = now;
        fl->rate = fl->newrate;
        fl->gen++;
        double dt = fl->rem > 0 ? fl->rem / fl->rate * 1e12 : 0;
        /* a time past the end of representable time saturates (absurd
         * inputs: a 2^63-byte message); replay reports the overflow */
        sim_time at = dt < (double)(SIM_TIME_MAX - now) ? now + (sim_time)llround(dt)
                                                        : SIM_TIME_MAX;
        nf_due_at(f, eng, at, NF_DUE_COMPLETE, id, fl->gen);
    }
}

/* 4. the links scanned: their saturation */
static void rerate_links(nf *f, sim_time now, size_t ncl)
{
    const net_graph *g = f->g;
    for (size_t i = 0; i < ncl; i++) {
        uint32_t li = f->cl[i];
        nf_link *l = &f->l[li];
        int sat = l->n > 0 && l->rem <= g->lbw[li] * 1e-9;
        if (sat && !l->saturated)
            l->sat_since = now;
        else if (!sat && l->saturated)
            l->sat += now - l->sat_since;
        l->saturated = (uint8_t)sat;
    }
}

static void rerate(nf *f, sim_engine *eng)
{
    uint32_t st = ++f->stamp;
    LOOM_ASSERT(st != 0);
    size_t ncl, ncf;
    double theta = rerate_theta(f);
    if (f->grow && rerate_grow(f, st, theta, &ncl, &ncf)) {
        f->tot.region_rerates++;
    } else {
        if (f->grow) {
            f->tot.region_fallbacks++;
            st = ++f->stamp;
            LOOM_ASSERT(st != 0);
        }
        rerate_collect(f, st, theta, &ncl, &ncf);
        rerate_alone(f, ncf);
        rerate_fill(f, st, theta, ncl);
    }
    rerate_settle(f, eng, st, ncf);
    rerate_links(f, sim_now(eng), ncl);
    f->tot.rerates++;
    f->tot.rerated_flows += ncf;
}

void nf_on_rerate(sim_engine *eng, void *payload, void *engine_ctx)
{
    (void)engine_ctx;
    nf *f = ((ev_rerate *)payload)->f;
    f->pending = 0;
    if (f->lk.hook != NULL) { /* a class was offered: nothing else left? */
        nf_lock_hook hook = f->lk.hook;
        f->lk.hook = NULL;
        if (sim_pending(eng) == 0 && hook(f, eng, f->lk.hctx))
            return; /* nf_lock_run ran this re-rate */
    }
    rerate(f, eng);
}
