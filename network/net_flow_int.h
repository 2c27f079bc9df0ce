/*
 * net_flow_int.h: private to net_flow.c and net_flow_lock.c: the flow
 * model's state (links, flows, same-time buckets, the lockstep class).
 * net_flow.c's head comment gives the invariants, net_flow_lock.c's the
 * lockstep classes'.
 */
#ifndef LOOM_NET_FLOW_INT_H
#define LOOM_NET_FLOW_INT_H

#include "net_int.h"

#include <math.h>

enum { NF_TOPK = 16 }; /* rate levels a link summary tracks exactly */

typedef struct nf_link {
    uint32_t *fl;        /* flows draining through it now */
    double *fr;          /* their rates (copies; 0 until first rated), so
                            a scan reads one array, not every flow */
    uint32_t n, cap;     /* entries, capacity of fl */
    uint32_t stamp;      /* component mark of the current re-rate */
    uint32_t nun;        /* water-filling: flows not yet fixed */
    double rem;          /* water-filling: bandwidth not yet allocated */
    uint64_t bytes;      /* bytes of drained flows that crossed it */
    sim_time busy;       /* time with >= 1 flow, closed intervals */
    sim_time busy_since; /* start of the open busy interval */
    sim_time sat;        /* time fully allocated, closed intervals */
    sim_time sat_since;  /* start of the open saturated interval */
    uint32_t peak;       /* most flows at once */
    double ub;           /* >= the largest rate of its flows */
    double mxi;          /* re-rate scratch: largest rate not re-rated */
    uint8_t saturated;   /* 1: all of its bandwidth is allocated */
    uint8_t dirty;       /* 1: in nf.dirty */
    uint8_t lock;        /* 1: a link of the lockstep class running in bulk */
    uint8_t sumok;       /* 1: the summary below is kept (NF_SUM_MIN flows) */
    /* what a re-rate may know of its flows without reading them
     * (net_flow.c, "Link summaries"): */
    uint32_t nfr;        /* flows not yet rated (rate 0) */
    uint32_t nk;         /* levels used in top */
    double top[NF_TOPK]; /* the largest rates, descending, each distinct */
    uint32_t ctop[NF_TOPK]; /* flows at each */
    double rest;         /* >= every other rate, < every level */
    double srun;         /* running sum of the rates */
    double serr;         /* >= |srun - the exact sum| */
} nf_link;

/* What is due in a bucket: a flow's completion or its delivery, or a
 * caller's callback (nf_at). */
enum { NF_DUE_COMPLETE, NF_DUE_DELIVER, NF_DUE_CALL };
typedef struct nf_due {
    uint32_t kind; /* NF_DUE_* */
    uint32_t id;   /* flow slot, or NF_DUE_CALL: its entry in nf.calls */
    uint32_t gen;  /* the flow's generation when scheduled */
} nf_due;

/* A caller's callback waiting in a bucket (nf_at): cb(eng, ctx, a, b). */
typedef struct nf_call {
    nf_cb cb;
    void *ctx;
    uint64_t a, b;
    uint32_t next; /* free list */
} nf_call;

/* Everything due at time t that was scheduled before it fired. */
typedef struct nf_bucket {
    sim_time t;
    nf_due *v;       /* in scheduling order */
    uint32_t n, cap; /* entries, capacity */
    uint32_t slot;   /* its entry in nf.btab while it takes more */
    uint32_t next;   /* free list */
} nf_bucket;

enum { NF_BTAB = 4096 }; /* direct-mapped table of open buckets by time */

/* Routes of up to NF_IH links (fat trees of three tiers, rings' and
 * switches' neighbours) keep their hops in the flow itself: the unlink of
 * a departing flow moves another flow of each link and rewrites that
 * flow's position there, one cache miss instead of two (its slot, then a
 * separate allocation), and 64 fewer bytes a flow. */
enum { NF_IH = 6 };

typedef struct nf_flow {
    uint32_t *hop;     /* npath link ids, then npath positions: ih or hbuf
                          while draining, else NULL */
    uint32_t npath;    /* links; 0 while not draining */
    uint32_t gen;      /* bumped on every rate change and at the end */
    uint32_t ih[2 * NF_IH]; /* the hops of a route of <= NF_IH links */
    uint32_t *hbuf;    /* longer routes' hop storage, kept when the slot is
                          reused (owned; one malloc per slot, not per flow) */
    uint32_t hcap;     /* words in hbuf */
    uint32_t stamp;    /* component mark */
    uint32_t fixed;    /* stamp of the re-rate that fixed its new rate */
    uint32_t next;     /* free-list link */
    uint8_t live;      /* slot in use (draining or in its tail) */
    uint8_t fresh;     /* arrived, not yet rated */
    double rem;        /* bytes left at `last` */
    double rate;       /* bytes/s, 0 before the first re-rate */
    double newrate;    /* water-filling result */
    sim_time last;     /* when rem was settled */
    uint64_t bytes;    /* size */
    sim_time tail;     /* path latency + caller's delay, ps */
    nf_cb cb;          /* the starter's callback */
    void *ctx;         /* its context */
    uint64_t a, b;     /* its words */
} nf_flow;

/* A lockstep class run in bulk (net_flow_lock.c). */
typedef struct nf_lock {
    nf_lock_hook hook;     /* offered: asked at the next re-rate */
    void *hctx;            /* its context */
    int on;                /* 1: a class runs in bulk */
    int drain;             /* 1: its flows drain now (E0 to E2) */
    int sat;               /* 1: its saturated links are so now (E1 to E3) */
    uint32_t nfl;          /* flows per step */
    uint32_t *links;       /* its links, each once (owned) */
    uint8_t *satl;         /* per entry of links: saturated while draining */
    size_t nlinks;         /* entries */
    double rate;           /* every flow's rate, bytes/s */
    sim_time tail;         /* every flow's path latency, ps */
    size_t nsteps, s;      /* steps, the current one */
    uint64_t *bytes;       /* per step: bytes per flow (owned) */
    sim_time *delay;       /* per step: the members' delay after it (owned) */
    sim_time t0;           /* the current step's start */
    uint64_t acc_bytes;    /* link statistics not yet added to the links: */
    sim_time acc_busy;     /* the same on every link of the class */
    sim_time acc_sat;      /* on the links of satl */
    void (*fin)(sim_engine *eng, void *ctx); /* after the last step */
    void *ctx;             /* its context */
    uint64_t runs;         /* classes run in bulk so far (tests) */
} nf_lock;

struct nf {
    const net_graph *g;   /* links' bandwidth and latency */
    sim_engine *eng;      /* the engine it runs on (first start binds) */
    nf_link *l;           /* g->nlinks entries */
    nf_flow *f;           /* flow slots */
    uint32_t nf, capf;    /* slots used, allocated */
    uint32_t free;        /* first free slot, UINT32_MAX if none */
    size_t live;          /* flows draining */
    uint32_t *dirty;      /* links changed since the last re-rate */
    size_t ndirty, capdirty;
    int pending;          /* a re-rate event is queued */
    uint32_t stamp;       /* re-rate counter */
    uint32_t *cl, *cf;    /* component links, flows (scratch) */
    size_t capcf;         /* capacity of cf (cl has nlinks) */
    double *hk;           /* heap keys */
    uint32_t *hv;         /* heap values (links) */
    size_t hn, hcap;      /* heap entries, capacity */
    uint32_t *route;      /* scratch route of g->max_hops */
    uint32_t *fresh;      /* flows arrived since the last re-rate */
    size_t nfresh, capfresh;
    double theta;         /* smallest departed rate since the last re-rate */
    net_flow_totals tot;  /* counters */
    nf_bucket *bk;        /* buckets (index = id) */
    uint32_t nbk, capbk;  /* used, allocated */
    uint32_t bfree;       /* first free bucket, UINT32_MAX if none */
    uint32_t btab[NF_BTAB]; /* open bucket id + 1 by hash of its time, 0: none */
    uint32_t blast;       /* the bucket last appended to, + 1; 0: none */
    nf_call *calls;       /* callbacks waiting (nf_at) */
    uint32_t ncalls, capcalls; /* used, allocated */
    uint32_t cfree;       /* first free call, UINT32_MAX if none */
    nf_lock lk;           /* the lockstep class (net_flow_lock.c) */
    int scan_inorder;     /* 1: every link scanned in order (tests) */
    uint64_t fast_scans;  /* links that scan_fixed settled (tests) */
};

/* ---- link summaries ---------------------------------------------------------
 *
 * A departure marks its links dirty, and the re-rate used to read every
 * flow of each (N of them on a host's link in an all-to-all) to learn
 * whether any is to be re-rated (rate 0 or >= theta) and, when none is,
 * only to sum their rates for the saturation verdict.  Each link keeps a
 * summary, updated on every change of its flows' rates, that often
 * answers both without reading them:
 *   - nfr: flows not yet rated;
 *   - the NF_TOPK largest rates with their exact counts, every other rate
 *     <= rest < every level (a level that falls out joins rest; a level
 *     emptied by departures goes, and the next one is exact), so the
 *     largest rate is top[0], or at most rest when no level is left;
 *   - srun, the rates' running sum, and serr >= |srun - exact sum|: every
 *     addition or subtraction rounds by at most u |result| (u = 2^-53),
 *     serr adds twice that.
 * rerate_collect's quick path uses them (net_flow.c, scan_fixed's
 * comment gives the verdict's argument); an exact scan rebuilds them. */
#define NF_U2 2.3e-16 /* 2u, with room for serr's own rounding */

/* Links of fewer flows keep no summary (sumok 0: the scan is short, and
 * the upkeep cost the staggered all-to-all 10%); an exact scan of a link
 * of at least that many starts one again (scan_fixed). */
enum { NF_SUM_MIN = 16 };

/* 1 when l's summary is to be updated for a change that leaves it n
 * flows; else the summary is dropped. */
static inline int nf_sum_keep(nf_link *l)
{
    if (!l->sumok)
        return 0;
    if (l->n < NF_SUM_MIN) {
        l->sumok = 0;
        return 0;
    }
    return 1;
}

static inline void nf_sum_reset(nf_link *l)
{
    l->sumok = 0;
    l->nfr = 0;
    l->nk = 0;
    l->rest = 0;
    l->srun = 0;
    l->serr = 0;
}

/* A rated flow of rate r joins the levels (sorted, descending: a rate
 * below the smallest level of a full table is decided by one comparison,
 * the common case on a link of many flows). */
static inline void nf_sum_level(nf_link *l, double r)
{
    uint32_t k = l->nk, i, j;
    if (r <= l->rest || (k == NF_TOPK && r < l->top[k - 1])) { /* no level */
        if (r > l->rest)
            l->rest = r; /* still below every level */
        return;
    }
    for (i = 0; i < k && l->top[i] > r; i++)
        ;
    if (i < k && l->top[i] == r) {
        l->ctop[i]++;
        return;
    }
    if (k == NF_TOPK) /* the smallest level (below r) joins the rest */
        l->rest = l->top[--k];
    for (j = k; j > i; j--) {
        l->top[j] = l->top[j - 1];
        l->ctop[j] = l->ctop[j - 1];
    }
    l->top[i] = r;
    l->ctop[i] = 1;
    l->nk = k + 1;
}

static inline void nf_sum_add(nf_link *l, double r)
{
    l->srun += r;
    l->serr += NF_U2 * fabs(l->srun);
    nf_sum_level(l, r);
}

static inline void nf_sum_del(nf_link *l, double r)
{
    l->srun -= r;
    l->serr += NF_U2 * fabs(l->srun);
    uint32_t k = l->nk, i;
    if (k == 0 || r < l->top[k - 1])
        return; /* one of the rest: rest stays a bound */
    for (i = 0; i < k && l->top[i] > r; i++)
        ;
    if (i == k || l->top[i] != r)
        return; /* cannot be: a rate >= the smallest level is a level */
    if (--l->ctop[i] == 0) {
        for (uint32_t j = i + 1; j < k; j++) {
            l->top[j - 1] = l->top[j];
            l->ctop[j - 1] = l->ctop[j];
        }
        l->nk = k - 1;
    }
}

/* >= the largest rate of its rated flows */
static inline double nf_sum_max(const nf_link *l) { return l->nk ? l->top[0] : l->rest; }

/* Frees a flow's slot (its generation moves on: stale entries die). */
void nf_slot_free(nf *f, uint32_t id);

/* net_flow_lock.c: adds what the class running in bulk has not yet
 * added to link i's statistics (nf_top_links); frees its arrays. */
void nf_lock_stats(const nf *f, int i, sim_time now, uint64_t *bytes, sim_time *busy,
                   sim_time *sat);
void nf_lock_free(nf *f);

#endif
