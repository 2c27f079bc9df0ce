/*
 * net_flow_int.h: private to net_flow.c, net_flow_rerate.c,
 * net_flow_lock.c and net_flow_sum.c: the flow model's state (links,
 * flows, same-time buckets, the lockstep class, link summaries).
 * net_flow.c's head comment gives the invariants, net_flow_rerate.c's the
 * re-rate's, net_flow_lock.c's the lockstep classes'.
 */
#ifndef LOOM_NET_FLOW_INT_H
#define LOOM_NET_FLOW_INT_H

#include "net_int.h"

#include <math.h>
#include <string.h>

/* Rate levels a link summary tracks exactly, at most: every distinct rate
 * of a link of the direct all-to-all at 4,096 ranks (up to ~1,400), so
 * that one rebuild lasts the link's life (48 KB at most a link). */
enum { NF_LVMAX = 4096 };

/* A flow draining through a link: its slot and a copy of its rate (0
 * until first rated), so that a scan reads one array, not every flow, and
 * a departure writes one entry (mostly one cache line, not one in each of
 * two arrays). */
typedef struct __attribute__((packed)) nf_ent {
    double r;
    uint32_t id;
} nf_ent; /* 12 bytes: 94 M of them at 4,096 ranks (x86 and arm64 read the
             unaligned double at no cost) */

/* A hole in a link's list: the entry of a flow that left, rate -0.0 (it
 * adds nothing to any sum: x + -0.0 == x for every x, +0 included; no
 * rate is negative), id the next hole (NF_NOHOLE: none).  A start fills
 * the last hole made first. */
enum { NF_NOHOLE = UINT32_MAX };
static inline int nf_dead(double r)
{
    return signbit(r);
}

/* A summary's level: a rate and the flows at it (12 bytes; read together
 * on every departure, so in one array, not two). */
typedef struct __attribute__((packed)) nf_lvl {
    double r;
    uint32_t c;
} nf_lvl;

typedef struct nf_link {
    /* line 0: what a departure, a re-rate's visit and the settle touch */
    _Alignas(64) nf_ent *e; /* the flows draining through it now, and holes */
    uint32_t n, m;       /* flows; entries used in e (flows and holes) */
    uint32_t stamp;      /* component mark of the current re-rate */
    uint32_t nun;        /* water-filling: flows not yet fixed */
    uint32_t nfr;        /* summary: flows not yet rated (rate 0) */
    uint32_t nk;         /* summary: levels used in lv */
    uint8_t saturated;   /* 1: all of its bandwidth is allocated */
    uint8_t dirty;       /* 1: in nf.dirty */
    uint8_t lock;        /* 1: a link of the lockstep class running in bulk */
    uint8_t sumok;       /* 1: the summary is kept (NF_SUM_MIN flows) */
    uint32_t hole;       /* first hole in e (NF_NOHOLE: none) */
    double rem;          /* water-filling: bandwidth not yet allocated */
    double srun;         /* summary: running sum of the rates */
    double serr;         /* summary: >= |srun - the exact sum| */
    /* line 1: the summary's (a departure, a re-rate's verdict), the
     * intervals' open ends */
    double rest;         /* summary: >= every rate not a level, < every level */
    uint64_t bytes;      /* bytes of drained flows that crossed it */
    sim_time busy_since; /* start of the open busy interval */
    sim_time sat;        /* time fully allocated, closed intervals */
    sim_time sat_since;  /* start of the open saturated interval */
    double topr;         /* summary: the largest level's rate (lv[nk - 1].r) */
    /* what else a re-rate may know of its flows without reading them
     * ("Link summaries" below) */
    nf_lvl *lv;          /* the largest rates, ascending, each distinct, and
                            the flows at each (one array: one line a level;
                            nf_lv_grow) */
    uint32_t topc;       /* summary: the largest level's flows (not kept in lv) */
    uint32_t capk;       /* entries allocated in lv */
    /* line 2: what only a start touches, then what a re-rate's region
     * does, and the busy time's total (when the link empties) */
    uint32_t cap;        /* entries allocated in e */
    uint32_t peak;       /* most flows at once */
    uint8_t pooled;      /* 1: e is a block of nf.pool, else malloc's */
    uint8_t lvpooled;    /* 1: lv is a block of nf.pool, else malloc's */
    uint32_t gnun;       /* growing re-rate: region flows on it */
    double grem;         /* growing re-rate: bandwidth less the flows outside */
    double gmaxo;        /* growing re-rate: fastest flow outside at >= theta (-1: none) */
    double gmaxa;        /* growing re-rate: fastest flow on it, old rates */
    double gmaxs;        /* re-rate: fastest new rate of a region flow on it */
    double glvl;         /* re-rate: the share it fixed flows at (-1: none) */
    sim_time busy;       /* time with >= 1 flow, closed intervals */
} nf_link;
_Static_assert(sizeof(nf_link) % 64 == 0, "nf_link: whole cache lines");
_Static_assert(sizeof(void *) != 8 || sizeof(nf_link) == 192, "nf_link: three lines (LP64)");

/* What is due in a bucket: a flow's completion or its delivery, or a
 * caller's callback (nf_at); 8 bytes (16.7 M completions queued at once
 * at 4,096 ranks), the kind in the id's top two bits. */
enum { NF_DUE_COMPLETE, NF_DUE_DELIVER, NF_DUE_CALL };
enum { NF_DUE_SHIFT = 30 }; /* ids (slots, calls) below 2^30 */
typedef struct nf_due {
    uint32_t kid;  /* kind << NF_DUE_SHIFT | id: the flow slot, or
                      NF_DUE_CALL: its entry in nf.calls */
    uint32_t gen;  /* the flow's generation when scheduled */
} nf_due;

static inline uint32_t nf_due_kind(nf_due d) { return d.kid >> NF_DUE_SHIFT; }
static inline uint32_t nf_due_id(nf_due d) { return d.kid & ((1u << NF_DUE_SHIFT) - 1); }

/* A callback waiting in a bucket: cb(eng, ctx, a, b).  A caller's
 * (nf_at), or a drained flow's delivery after its tail, its slot freed at
 * completion (bytes: the flow's, counted as delivered when it runs; 0 for
 * a caller's), so that the delivery reads this entry, written moments
 * before and still in the cache, not the slot. */
typedef struct nf_call {
    nf_cb cb;
    void *ctx;
    uint64_t a, b;
    uint64_t bytes;
    uint32_t next; /* free list */
} nf_call;

/* Everything due at time t that was scheduled before it fired. */
typedef struct nf_bucket {
    sim_time t;
    nf_due *v;       /* in scheduling order */
    uint32_t n, cap; /* entries, capacity */
    uint32_t open;   /* 1: in nf.bt, taking more */
    uint32_t next;   /* free list */
} nf_bucket;

/* An open bucket in the table by time (nf.bt): linear probing, at most
 * half full, an entry removed by shifting its successors back. */
typedef struct nf_bt {
    sim_time t;  /* its time */
    uint32_t b;  /* bucket id + 1; 0: an empty entry */
} nf_bt;

/* Entries in all lists from which a list that grows moves to the buddy
 * allocator's 2 MiB pages (net_flow_sum.c nf_list_grow): 12 MB of lists. */
enum { NF_POOL_FROM = 1 << 20 };

/* Slots between two checks of the flows' memory against the budget
 * (net_flow.c mem_check). */
enum { NF_MEMCHECK = 1 << 16 };

/* Routes of up to NF_IH links (fat trees of three tiers, rings' and
 * switches' neighbours) keep their hops in the flow itself: a departure
 * reads its own hops, and nf_compact rewrites a moved flow's position, in
 * the slot's line 1, not a separate allocation, and 64 fewer bytes a
 * flow. */
enum { NF_IH = 6 };
/* A slot whose line 1 holds a buffer for a longer route's hops: the first
 * word, no link's id (nf_create checks that links are fewer). */
#define NF_LONG UINT32_MAX

/* A flow slot, by use: what the re-rate, a completion and a list's
 * compaction touch is two aligned cache lines (line 0 its state, line 1
 * its hops), and its delivery reads nothing else (its starter's entry in
 * nf.st aside, a few hot lines): the starter's words a and b are in line
 * 1, its callback and context shared in nf.st.  Re-rating the direct
 * all-to-all's 16.7 M flows at 4,096 ranks reads slots in an order no
 * prefetcher guesses (a link's flows in list order), so every line a slot
 * spans is a miss (the slot was 176 bytes, 3-4 lines), and every byte of
 * it is a byte the kernel zeroes on first touch (the callback's 32 bytes
 * apart, 537 MB at 4,096 ranks, went into nf.st and line 1). */
typedef struct nf_flow {
    /* line 0 */
    _Alignas(64) double rem; /* bytes left at `last` */
    double rate;       /* bytes/s, 0 before the first re-rate */
    double newrate;    /* water-filling result; 0 until fixed in the
                          current re-rate (a fixed rate is > 0) */
    sim_time last;     /* when rem was settled */
    sim_time tail;     /* path latency + caller's delay, ps */
    uint64_t bytes;    /* size */
    uint32_t gen;      /* bumped on every rate change and at the end */
    union {
        uint32_t stamp; /* component mark (live) */
        uint32_t next;  /* free-list link (free) */
    };
    uint32_t starter;  /* its entry in nf.st (live) */
    unsigned npath : 30; /* links; 0 while not draining */
    unsigned live : 1;   /* slot in use (draining or in its tail) */
    unsigned fresh : 1;  /* arrived, not yet rated */
    /* line 1: the hops (nf_hop), the starter's words */
    union {
        uint32_t ih[2 * NF_IH]; /* the hops of a route of <= NF_IH links */
        struct {                /* a buffer for longer routes' hops, kept
                                   when the slot is reused */
            uint32_t mark;      /* NF_LONG (ih[0], a link id otherwise) */
            uint32_t cap;       /* words in buf */
            uint32_t *buf;      /* (owned) */
        } lg;
    } hop;
    uint64_t a, b;     /* the starter's words, passed to its callback */
} nf_flow;
_Static_assert(sizeof(nf_flow) == 128, "nf_flow: two cache lines");

/* A draining flow's hops: npath pairs (link id, its position in that
 * link's list), read from line 1 alone (nf_compact rewrites the position
 * of a flow it moves, which is all it touches of that flow). */
static inline int nf_long(const nf_flow *fl)
{
    return fl->hop.lg.mark == NF_LONG;
}

static inline uint32_t *nf_hop(nf_flow *fl)
{
    return nf_long(fl) ? fl->hop.lg.buf : fl->hop.ih;
}

static inline const uint32_t *nf_chop(const nf_flow *fl)
{
    return nf_long(fl) ? fl->hop.lg.buf : fl->hop.ih;
}

/* Whom a flow's delivery calls: cb(eng, ctx, a, b), a and b the flow's.
 * Consecutive starts of one (cb, ctx) share an entry (a collective's
 * member starts all of its sends at once), counted; an entry no flow
 * holds is free (nf.sfree). */
typedef struct nf_starter {
    nf_cb cb;          /* the starter's callback */
    void *ctx;         /* its context */
    uint32_t refs;     /* flows that hold it; 0: free */
    uint32_t next;     /* free list */
} nf_starter;

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
    nf_flow *f;           /* flow slots (64-byte aligned) */
    uint32_t nf, capf;    /* slots used, allocated */
    nf_starter *st;       /* the flows' starters (nf_flow.starter) */
    uint32_t nst, capst;  /* entries used, allocated */
    uint32_t sfree;       /* first free entry, UINT32_MAX if none */
    uint32_t slast;       /* the entry the last start took (UINT32_MAX: none) */
    uint64_t ents;        /* entries allocated in all links' lists */
    struct loom_buddy *pool; /* lists' blocks once ents >= pool_from */
    uint64_t pool_from;   /* NF_POOL_FROM (tests: fewer) */
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
    nf_bt *bt;            /* open buckets by time (a power of two entries) */
    uint32_t nbt, capbt;  /* open buckets, entries of bt */
    uint32_t blast;       /* the bucket last appended to, + 1; 0: none */
    nf_call *calls;       /* callbacks waiting (nf_at) */
    uint32_t ncalls, capcalls; /* used, allocated */
    uint32_t cfree;       /* first free call, UINT32_MAX if none */
    nf_lock lk;           /* the lockstep class (net_flow_lock.c) */
    int scan_inorder;     /* 1: every link scanned in order (tests) */
    uint64_t fast_scans;  /* links that nf_scan_fixed settled (tests) */
    uint64_t compactions; /* lists closed up (nf_compact; tests) */
    uint32_t lvmax;       /* levels a summary keeps: NF_LVMAX (tests: fewer) */
    uint64_t *rs;         /* radix sort scratch (sum_build): 2 x caprs */
    size_t caprs;
    int grow;             /* fills a growing region may take before the whole
                             component is re-rated (NF_GROW_STEPS; 0: never
                             tried; net_flow_rerate.c) */
};

/* Both lines of slot id, ahead of use (re-rates and completions visit
 * slots in an order the hardware prefetcher cannot follow). */
static inline void nf_prefetch(const nf *f, uint32_t id)
{
    const nf_flow *fl = &f->f[id];
    __builtin_prefetch(fl);
    __builtin_prefetch(&fl->hop);
}

/* ---- link summaries ---------------------------------------------------------
 *
 * A departure marks its links dirty, and the re-rate used to read every
 * flow of each (N of them on a host's link in an all-to-all) to learn
 * whether any is to be re-rated (rate 0 or >= theta) and, when none is,
 * only to sum their rates for the saturation verdict.  Each link keeps a
 * summary, updated on every change of its flows' rates, that often
 * answers both without reading them:
 *   - nfr: flows not yet rated;
 *   - the NF_LVMAX largest rates with their exact counts, every other rate
 *     <= rest < every level (a level that falls out joins rest; a level
 *     emptied by departures goes, and the next one is exact), so the
 *     largest rate is lv[nk - 1].r, or at most rest when no level is left;
 *     the largest level is also in the link itself (topr, topc; its count
 *     only there), since departures take it most and the levels' array is
 *     a cache miss away (17% of a departure's misses at 4,096 ranks);
 *   - srun, the rates' running sum, and serr >= |srun - exact sum|: every
 *     addition or subtraction rounds by at most u |result| (u = 2^-53),
 *     serr adds twice that.
 * rerate_collect's quick path uses them (net_flow_sum.c, nf_scan_fixed's
 * comment gives the verdict's argument); an exact scan rebuilds them. */
#define NF_U2 2.3e-16 /* 2u, with room for serr's own rounding */

/* Links of fewer flows keep no summary (sumok 0: the scan is short, and
 * the upkeep cost the staggered all-to-all 10%); an exact scan of a link
 * of at least that many starts one again (nf_scan_fixed). */
enum { NF_SUM_MIN = 16 };

/* net_flow_sum.c: room for at least want levels in l->lv, the levels
 * kept: 2^k entries, from nf.pool once the lists use it (levels are read
 * at random on every departure, 285 MB of them at 4,096 ranks: on 4 KiB
 * pages a TLB miss each), else malloc's. */
void nf_lv_grow(nf *f, nf_link *l, uint32_t want);
_Static_assert(sizeof(nf_lvl) == sizeof(nf_ent), "levels and lists: one pool");

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

/* The first level >= r (nk when none): levels ascend, so the largest,
 * which departures usually take (the fastest flows end first), is the
 * last, and leaves without moving the others. */
static inline uint32_t nf_sum_find(const nf_link *l, double r)
{
    uint32_t lo = 0, hi = l->nk;
    while (lo < hi) {
        uint32_t m = (lo + hi) / 2;
        if (l->lv[m].r < r)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

/* A rated flow of rate r joins the levels (sorted, ascending: a rate
 * below the smallest level of a full table is decided by one comparison;
 * a new level moves the ones above it, fewer than the link's flows, which
 * any re-rate that reads the link in order also reads). */
static inline void nf_sum_level(nf *f, nf_link *l, double r)
{
    uint32_t k = l->nk, i, cap = f->lvmax;
    if (r <= l->rest || (k >= cap && r < l->lv[0].r)) { /* no level */
        if (r > l->rest)
            l->rest = r; /* still below every level */
        return;
    }
    if (k > 0 && r == l->topr) {
        l->topc++;
        return;
    }
    i = k > 0 && r > l->topr ? k : nf_sum_find(l, r);
    if (i < k && l->lv[i].r == r) {
        l->lv[i].c++; /* below the top: its count is in the array */
        return;
    }
    if (i == k && k > 0)
        l->lv[k - 1].c = l->topc; /* the top steps down: its count back in */
    if (k >= cap) { /* the smallest level (below r) joins the rest */
        l->rest = l->lv[0].r;
        i--;
        memmove(l->lv, l->lv + 1, i * sizeof *l->lv);
    } else {
        if (k == l->capk)
            nf_lv_grow(f, l, k + 1);
        memmove(l->lv + i + 1, l->lv + i, (k - i) * sizeof *l->lv);
        l->nk = k + 1;
    }
    l->lv[i].r = r;
    l->lv[i].c = 1;
    if (i == l->nk - 1) { /* the new top */
        l->topr = r;
        l->topc = 1;
    }
}

static inline void nf_sum_add(nf *f, nf_link *l, double r)
{
    l->srun += r;
    l->serr += NF_U2 * fabs(l->srun);
    nf_sum_level(f, l, r);
}

static inline void nf_sum_del(nf_link *l, double r)
{
    l->srun -= r;
    l->serr += NF_U2 * fabs(l->srun);
    uint32_t k = l->nk, i;
    if (k == 0 || r <= l->rest)
        return; /* one of the rest (every rate not a level is <= rest <
                   every level; the levels not read): rest stays a bound */
    if (r == l->topr) { /* the top: the link alone, until it empties */
        if (--l->topc > 0)
            return;
        l->nk = k - 1; /* the next level down is the top now */
        if (k > 1) {
            l->topr = l->lv[k - 2].r;
            l->topc = l->lv[k - 2].c;
        }
        return;
    }
    i = nf_sum_find(l, r);
    if (i >= k - 1 || l->lv[i].r != r)
        return; /* cannot be: a rate above rest is a level */
    if (--l->lv[i].c == 0) { /* the top moves down one, its count stays in the link */
        memmove(l->lv + i, l->lv + i + 1, (k - 1 - i) * sizeof *l->lv);
        l->nk = k - 1;
    }
}

/* >= the largest rate of its rated flows */
static inline double nf_sum_max(const nf_link *l) { return l->nk ? l->topr : l->rest; }

/* net_flow_sum.c: the verdict of the in-order scan of link l (with
 * bandwidth lbw, at threshold theta) when none of its flows is to be
 * re-rated, from its summary alone (nf_scan_none) or from four unordered
 * sums over its rates, the summary rebuilt (nf_scan_fixed): l->rem and
 * l->nun set, 1; else 0 and the in-order scan is to run. */
int nf_scan_none(nf_link *l, double lbw, double theta);
int nf_scan_fixed(nf *f, nf_link *l, double lbw, double theta);
/* net_flow_sum.c: closes up link li's holes (net_flow.c's invariants);
 * doubles link l's list. */
void nf_compact(nf *f, uint32_t li);
void nf_list_grow(nf *f, nf_link *l);

/* Frees a flow's slot (its generation moves on: stale entries die) and
 * its hold on its starter entry. */
void nf_slot_free(nf *f, uint32_t id);

/* net_flow.c: queues what is due at time t (a completion, a delivery or a
 * call: NF_DUE_*) in that time's bucket. */
void nf_due_at(nf *f, sim_engine *eng, sim_time t, uint32_t kind, uint32_t id, uint32_t gen);

/* net_flow_rerate.c: the re-rate event (one per timestamp, want_rerate
 * in net_flow.c queues it), its payload the nf. */
typedef struct ev_rerate {
    nf *f; /* owner */
} ev_rerate;
void nf_on_rerate(sim_engine *eng, void *payload, void *engine_ctx);

/* net_flow_lock.c: adds what the class running in bulk has not yet
 * added to link i's statistics (nf_top_links); frees its arrays. */
void nf_lock_stats(const nf *f, int i, sim_time now, uint64_t *bytes, sim_time *busy,
                   sim_time *sat);
void nf_lock_free(nf *f);

#endif
