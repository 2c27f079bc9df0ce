/*
 * replay_sym.c: symmetry collapse (docs/MODEL.md 13).  Ranks that replay
 * the same graph on the same compute model, whose communicators have the
 * same shape on the network and the same mix of alike ranks, and whose
 * message partners are alike in turn, run identically: replay simulates
 * the lowest rank of each such class and gives the others its results.
 *
 * Classes are the coarsest equitable partition, found by colour
 * refinement: a rank's colour starts as (graph, compute model) and is
 * refined by the colours of the members of each communicator it uses and
 * of each rank it sends to or receives from, with the network's keys for
 * those (net_group_key_of, net_p2p_key_of), until no class splits.  The
 * colours are 64-bit hashes; the result is then checked exactly, rank by
 * rank, against its representative, so a collision cannot make it wrong.
 *
 * The representatives then meet on quotient communicators: the members of
 * a representative's communicator belong to classes whose representatives
 * issue the matching collective on their own communicators, and a union
 * of (representative, pg) pairs finds which; each quotient communicator
 * joins those representatives, is timed on one real communicator (all of
 * them have the same key), and stands for `weight` real instances.
 * Messages match by the representatives of their ends.  Wherever that
 * cannot hold (a representative meeting itself twice, a class sending to
 * two ranks of another, sizes that do not pair), the classes involved
 * become one rank each and the refinement runs again: the fallback is per
 * class.
 */
#include "replay_int.h"
#include "sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct spec {  /* a peer a graph's sends or receives name */
    uint32_t pg;       /* the node's pg (a rule group makes idx relative) */
    int idx;           /* comm_dst or comm_src */
    int dir;           /* 0 send, 1 receive */
} spec;

typedef struct gsym {  /* per graph */
    uint32_t *cpg;     /* pgs its collectives use, ascending */
    uint32_t ncpg;
    spec *sp;          /* distinct peers of its sends and receives */
    uint32_t nsp;
} gsym;

typedef struct sym {
    replay *rp;
    int n;                /* ranks */
    gsym *gs;             /* per graph */
    uint32_t *comp;       /* per rank: compute model id */
    uint32_t *netk;       /* per communicator: its network key's id */
    uint8_t *forced;      /* per rank: a class of its own */
    uint32_t *col;        /* per rank: colour (dense) */
    uint64_t *ccol;       /* per communicator: hash of its members' colours */
    uint32_t *canon;      /* per communicator: first one with equal members' colours */
    int *rep;             /* per rank: its class's lowest rank */
    uint32_t *csize;      /* per rank: its class's size */
    char why[160];        /* why collapse is off, if it is */
} sym;

static inline uint64_t smix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static inline uint64_t mix(uint64_t h, uint64_t v) { return smix(h ^ smix(v)); }

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_spec(const void *a, const void *b)
{
    const spec *x = a, *y = b;
    if (x->dir != y->dir)
        return x->dir - y->dir;
    if (x->pg != y->pg)
        return (x->pg > y->pg) - (x->pg < y->pg);
    return (x->idx > y->idx) - (x->idx < y->idx);
}

typedef struct hr { uint64_t h; uint32_t i; } hr; /* a hash and whose */

static int cmp_hr(const void *a, const void *b)
{
    const hr *x = a, *y = b;
    if (x->h != y->h)
        return (x->h > y->h) - (x->h < y->h);
    return (x->i > y->i) - (x->i < y->i);
}

/* Dense ids of n hashes, equal hashes equal ids, numbered in hash order;
 * returns how many distinct. */
static uint32_t densify(const uint64_t *h, uint32_t n, uint32_t *id)
{
    hr *v = loom_xmalloc((n ? n : 1) * sizeof *v);
    for (uint32_t i = 0; i < n; i++)
        v[i] = (hr){h[i], i};
    qsort(v, n, sizeof *v, cmp_hr);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0 && v[i].h != v[i - 1].h)
            k++;
        id[v[i].i] = k;
    }
    free(v);
    return n ? k + 1 : 0;
}

/* ---- what each graph uses ---------------------------------------------- */

static void graph_specs(const graph_info *gi, gsym *s)
{
    const et_graph *g = gi->g;
    s->cpg = loom_xmalloc((g->npg ? g->npg : 1) * sizeof *s->cpg);
    for (uint32_t p = 0; p < g->npg; p++)
        if (gi->comm_of_pg[p] != -1)
            s->cpg[s->ncpg++] = p;
    size_t cap = 0;
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        if (n->type != ET_COMM_SEND_NODE && n->type != ET_COMM_RECV_NODE)
            continue;
        spec x = {n->pg, n->type == ET_COMM_SEND_NODE ? n->comm_dst : n->comm_src,
                  n->type == ET_COMM_RECV_NODE};
        s->sp = loom_vgrow(s->sp, &cap, s->nsp + 1, sizeof *s->sp);
        s->sp[s->nsp++] = x;
    }
    if (s->nsp) {
        qsort(s->sp, s->nsp, sizeof *s->sp, cmp_spec);
        uint32_t k = 1;
        for (uint32_t i = 1; i < s->nsp; i++)
            if (cmp_spec(&s->sp[i], &s->sp[k - 1]) != 0)
                s->sp[k++] = s->sp[i];
        s->nsp = k;
    }
}

static inline const gsym *gs_of(const sym *S, int r)
{
    return &S->gs[S->rp->r[r].gi - S->rp->graphs];
}

/* The global rank a spec names for rank r. */
static inline int spec_peer(const replay *rp, int r, const spec *x)
{
    return rpl_peer_rank(rp, r, x->pg, x->idx);
}

/* ---- colour refinement -------------------------------------------------- */

/* Hashes of the communicators' members' colours (sorted: a multiset). */
static void comm_colours(sym *S, uint32_t *tmp)
{
    replay *rp = S->rp;
    for (int c = 0; c < rp->ncomms; c++) {
        const comm *cm = &rp->comms[c];
        for (int m = 0; m < cm->n; m++)
            tmp[m] = S->col[cm->ranks[m]];
        qsort(tmp, cm->n, sizeof *tmp, cmp_u32);
        uint64_t h = mix(0x636f6d6d, S->netk[c]);
        for (int m = 0; m < cm->n; m++)
            h = mix(h, tmp[m]);
        S->ccol[c] = h;
    }
}

static uint64_t rank_hash(const sym *S, int r)
{
    const replay *rp = S->rp;
    const rank_state *rs = &rp->r[r];
    const gsym *gs = gs_of(S, r);
    uint64_t h = mix(0x72616e6b, S->col[r]);
    for (uint32_t k = 0; k < gs->ncpg; k++) {
        int c = comm_of(rs, gs->cpg[k]);
        uint32_t first = k; /* which pgs share a communicator */
        for (uint32_t j = 0; j < k; j++)
            if (comm_of(rs, gs->cpg[j]) == c) {
                first = j;
                break;
            }
        h = mix(mix(h, S->ccol[c]), first);
    }
    for (uint32_t k = 0; k < gs->nsp; k++) {
        int q = spec_peer(rp, r, &gs->sp[k]);
        net_p2p_key key;
        int src = gs->sp[k].dir ? q : r, dst = gs->sp[k].dir ? r : q;
        net_p2p_key_of(rp->net, src, dst, &key);
        uint32_t first = k;
        for (uint32_t j = 0; j < k; j++)
            if (spec_peer(rp, r, &gs->sp[j]) == q) {
                first = j;
                break;
            }
        h = mix(mix(mix(mix(h, S->col[q]), dbits(key.lat_ps)), dbits(key.bw)), first);
    }
    return h;
}

enum { REFINE_ROUNDS = 64 }; /* a chain of unlike ranks longer than this
                               * (a straggler on a ring of p2p) does not
                               * settle: replayed in full */

/* Refines S->col to the coarsest stable colouring; returns the classes, or
 * 0 when REFINE_ROUNDS rounds did not settle it. */
static uint32_t refine(sym *S)
{
    replay *rp = S->rp;
    int n = S->n;
    uint64_t *h = loom_xmalloc(n * sizeof *h);
    int maxc = 1;
    for (int c = 0; c < rp->ncomms; c++)
        if (rp->comms[c].n > maxc)
            maxc = rp->comms[c].n;
    uint32_t *tmp = loom_xmalloc(maxc * sizeof *tmp);
    for (int r = 0; r < n; r++) /* graph, compute model, forced apart */
        h[r] = mix(mix(mix(1, (uint64_t)(rp->r[r].gi - rp->graphs)), S->comp[r]),
                   S->forced[r] ? (uint64_t)r + 1 : 0);
    uint32_t k = densify(h, n, S->col);
    int settled = 0;
    for (int round = 0; round < REFINE_ROUNDS && !settled; round++) {
        comm_colours(S, tmp);
        for (int r = 0; r < n; r++)
            h[r] = rank_hash(S, r);
        uint32_t k2 = densify(h, n, S->col);
        settled = k2 == k;
        k = k2;
    }
    comm_colours(S, tmp);
    free(tmp);
    free(h);
    return settled ? k : 0;
}

/* ---- the exact check ----------------------------------------------------- */

/* canon[c]: the first communicator whose members' colours are the same
 * multiset (compared, not hashed); 0 when a hash collided. */
static int canon_comms(sym *S)
{
    replay *rp = S->rp;
    uint32_t nc = (uint32_t)rp->ncomms;
    uint32_t *id = loom_xmalloc((nc ? nc : 1) * sizeof *id);
    densify(S->ccol, nc, id);
    uint32_t *first = loom_xmalloc((nc ? nc : 1) * sizeof *first);
    for (uint32_t i = 0; i < nc; i++)
        first[i] = UINT32_MAX;
    int ok = 1;
    uint32_t *a = NULL, *b = NULL;
    size_t cap = 0;
    for (uint32_t c = 0; c < nc && ok; c++) {
        if (first[id[c]] == UINT32_MAX) {
            first[id[c]] = c;
            S->canon[c] = c;
            continue;
        }
        const comm *x = &rp->comms[c], *y = &rp->comms[first[id[c]]];
        if (x->n != y->n || S->netk[c] != S->netk[first[id[c]]]) {
            ok = 0;
            break;
        }
        if ((size_t)x->n > cap) {
            cap = x->n;
            a = loom_xrealloc(a, cap * sizeof *a);
            b = loom_xrealloc(b, cap * sizeof *b);
        }
        for (int m = 0; m < x->n; m++) {
            a[m] = S->col[x->ranks[m]];
            b[m] = S->col[y->ranks[m]];
        }
        qsort(a, x->n, sizeof *a, cmp_u32);
        qsort(b, x->n, sizeof *b, cmp_u32);
        ok = memcmp(a, b, x->n * sizeof *a) == 0;
        S->canon[c] = first[id[c]];
    }
    free(a);
    free(b);
    free(first);
    free(id);
    return ok;
}

/* Rank r is everything its representative q is (graph, compute model,
 * communicators by members' colours and key, peers by colour and key, and
 * which pgs and which peers coincide). */
static int same_as_rep(const sym *S, int r, int q)
{
    const replay *rp = S->rp;
    const rank_state *a = &rp->r[r], *b = &rp->r[q];
    if (a->gi != b->gi || S->comp[r] != S->comp[q])
        return 0;
    const gsym *gs = gs_of(S, r);
    for (uint32_t k = 0; k < gs->ncpg; k++) {
        int ca = comm_of(a, gs->cpg[k]), cb = comm_of(b, gs->cpg[k]);
        if (S->canon[ca] != S->canon[cb])
            return 0;
        for (uint32_t j = 0; j < k; j++)
            if ((comm_of(a, gs->cpg[j]) == ca) != (comm_of(b, gs->cpg[j]) == cb))
                return 0;
    }
    for (uint32_t k = 0; k < gs->nsp; k++) {
        const spec *x = &gs->sp[k];
        int pa = spec_peer(rp, r, x), pb = spec_peer(rp, q, x);
        if (S->col[pa] != S->col[pb])
            return 0;
        net_p2p_key ka, kb;
        net_p2p_key_of(rp->net, x->dir ? pa : r, x->dir ? r : pa, &ka);
        net_p2p_key_of(rp->net, x->dir ? pb : q, x->dir ? q : pb, &kb);
        if (ka.lat_ps != kb.lat_ps || ka.bw != kb.bw)
            return 0;
        for (uint32_t j = 0; j < k; j++)
            if ((spec_peer(rp, r, &gs->sp[j]) == pa) != (spec_peer(rp, q, &gs->sp[j]) == pb))
                return 0;
    }
    return 1;
}

/* ---- quotient communicators ---------------------------------------------- */

typedef struct quo {
    int *uf;            /* union-find over (representative, cpg index) */
    uint32_t *base;     /* per rank: its first node (representatives only) */
    uint32_t nnodes;
} quo;

static int uf_find(int *uf, int x)
{
    while (uf[x] != x) {
        uf[x] = uf[uf[x]];
        x = uf[x];
    }
    return x;
}

static void uf_union(int *uf, int a, int b)
{
    a = uf_find(uf, a);
    b = uf_find(uf, b);
    if (a != b)
        uf[a > b ? a : b] = a < b ? a : b; /* the lower root wins: deterministic */
}

/* Joins the (representative, pg) pairs that issue the same collectives:
 * for each communicator, the pair of each member's representative whose pg
 * names that communicator on the member.  One pass over the communicators'
 * members: O(memberships x pgs), not per representative. */
static void quotient_union(sym *S, quo *Q)
{
    replay *rp = S->rp;
    Q->base = loom_xmalloc(S->n * sizeof *Q->base);
    Q->nnodes = 0;
    for (int r = 0; r < S->n; r++) {
        Q->base[r] = Q->nnodes;
        if (S->rep[r] == r)
            Q->nnodes += gs_of(S, r)->ncpg;
    }
    Q->uf = loom_xmalloc((Q->nnodes ? Q->nnodes : 1) * sizeof *Q->uf);
    for (uint32_t i = 0; i < Q->nnodes; i++)
        Q->uf[i] = (int)i;
    for (int c = 0; c < rp->ncomms; c++) {
        const comm *cm = &rp->comms[c];
        int anchor = -1;
        for (int m = 0; m < cm->n; m++) {
            int x = cm->ranks[m], q = S->rep[x];
            const gsym *gq = gs_of(S, q);
            for (uint32_t j = 0; j < gq->ncpg; j++) {
                if (comm_of(&rp->r[x], gq->cpg[j]) != c)
                    continue;
                int node = (int)(Q->base[q] + j);
                if (anchor < 0)
                    anchor = node;
                else
                    uf_union(Q->uf, anchor, node);
            }
        }
    }
}

typedef struct qnode {
    int root, rep;   /* its union's root; the representative */
    uint32_t k;      /* its cpg index */
    uint32_t own;    /* members of its communicator in the representative's
                      * class (quotient_check fills it, build_quotient reads it) */
} qnode;

static int cmp_qnode(const void *a, const void *b)
{
    const qnode *x = a, *y = b;
    if (x->root != y->root)
        return x->root - y->root;
    return x->rep - y->rep;
}

/* Members of r's communicator for cpg k that are in r's class. */
static uint32_t own_members(const sym *S, int r, int c)
{
    const comm *cm = &S->rp->comms[c];
    uint32_t a = 0;
    for (int m = 0; m < cm->n; m++)
        a += S->col[cm->ranks[m]] == S->col[r];
    return a;
}

/* Checks every quotient communicator; on a break, marks the classes in it
 * (badcol, by colour) to be forced apart and returns 0. */
static int quotient_check(sym *S, quo *Q, qnode *v, uint8_t *badcol)
{
    replay *rp = S->rp;
    uint32_t nv = 0;
    for (int r = 0; r < S->n; r++)
        if (S->rep[r] == r)
            for (uint32_t k = 0; k < gs_of(S, r)->ncpg; k++)
                v[nv++] = (qnode){uf_find(Q->uf, (int)(Q->base[r] + k)), r, k, 0};
    qsort(v, nv, sizeof *v, cmp_qnode);
    int ok = 1;
    for (uint32_t i = 0, j; i < nv; i = j) {
        int bad = 0;
        uint64_t weight = 0;
        long total = 0;
        const comm *c0 = &rp->comms[comm_of(&rp->r[v[i].rep], gs_of(S, v[i].rep)->cpg[v[i].k])];
        for (j = i; j < nv && v[j].root == v[i].root; j++) {
            int r = v[j].rep, c = comm_of(&rp->r[r], gs_of(S, r)->cpg[v[j].k]);
            const comm *cm = &rp->comms[c];
            bad |= j > i && v[j].rep == v[j - 1].rep; /* it would meet itself */
            bad |= cm->n != c0->n || S->netk[c] != S->netk[c0 - rp->comms];
            uint32_t a = v[j].own = own_members(S, r, c);
            bad |= a == 0 || S->csize[r] % a != 0;
            if (!bad) {
                bad |= weight && weight != S->csize[r] / a;
                weight = S->csize[r] / a;
                total += a;
            }
        }
        bad |= !bad && total != c0->n;
        if (bad) {
            ok = 0;
            for (uint32_t t = i; t < j; t++)
                badcol[S->col[v[t].rep]] = 1;
        }
    }
    return ok;
}

/* Messages pair one to one between classes: a representative's peers of
 * one direction in one class are one rank, and classes that exchange
 * messages are the same size.  On a break, marks the classes (badcol). */
static int p2p_check(sym *S, uint8_t *badcol)
{
    replay *rp = S->rp;
    int ok = 1;
    for (int r = 0; r < S->n; r++) {
        if (S->rep[r] != r)
            continue;
        const gsym *gs = gs_of(S, r);
        for (uint32_t k = 0; k < gs->nsp; k++) {
            int p = spec_peer(rp, r, &gs->sp[k]), bad = S->csize[S->rep[p]] != S->csize[r];
            for (uint32_t j = 0; j < k && !bad; j++) {
                int q = spec_peer(rp, r, &gs->sp[j]);
                bad = gs->sp[j].dir == gs->sp[k].dir && q != p && S->col[q] == S->col[p];
            }
            if (bad) {
                ok = 0;
                badcol[S->col[r]] = badcol[S->col[p]] = 1;
            }
        }
    }
    return ok;
}

/* The quotient communicators from the checked union (v sorted by root,
 * then representative), and each representative's pg table pointed at
 * them. */
static void build_quotient(sym *S, const quo *Q, const qnode *v)
{
    replay *rp = S->rp;
    uint32_t nv = Q->nnodes;
    int *qof = loom_xmalloc((nv ? nv : 1) * sizeof *qof);
    int *reps = loom_xmalloc((nv ? nv : 1) * sizeof *reps);
    uint32_t *mult = loom_xmalloc((nv ? nv : 1) * sizeof *mult);
    for (uint32_t i = 0, j; i < nv; i = j) {
        for (j = i; j < nv && v[j].root == v[i].root; j++) {
            int r = v[j].rep;
            reps[j - i] = r;
            mult[j - i] = v[j].own;
        }
        int r0 = v[i].rep, c0 = comm_of(&rp->r[r0], gs_of(S, r0)->cpg[v[i].k]);
        int qi = rpl_add_quotient(rp, c0, reps, mult, (int)(j - i), S->csize[r0] / mult[0]);
        for (uint32_t t = i; t < j; t++)
            qof[Q->base[v[t].rep] + v[t].k] = qi;
    }
    for (int r = 0; r < S->n; r++) {
        if (S->rep[r] != r)
            continue;
        rank_state *rs = &rp->r[r];
        const gsym *gs = gs_of(S, r);
        if (rs->comm == NULL) {
            rs->comm = loom_xmalloc(rs->gi->g->npg * sizeof *rs->comm);
            memcpy(rs->comm, rs->gi->comm_of_pg, rs->gi->g->npg * sizeof *rs->comm);
        }
        for (uint32_t k = 0; k < gs->ncpg; k++)
            rs->comm[gs->cpg[k]] = qof[Q->base[r] + k];
    }
    free(mult);
    free(reps);
    free(qof);
}

/* ---- the plan ------------------------------------------------------------- */

/* Why no rank may stand for another in this run, or NULL. */
static const char *global_break(const replay *rp, const loom_replay_opts *opts)
{
    const loom_cfg *cfg = rp->cfg;
    if (opts->no_collapse == LOOM_COLLAPSE_INSTANCES)
        return "every collective instance was asked for (--json-detail, --csv-collectives)";
    if (opts->no_collapse)
        return "--no-collapse";
    if (cfg->sys.model != NET_MODEL_ANALYTICAL)
        return "the flow model shares links between every transfer";
    if (opts->obs && opts->obs->node)
        return "every rank's nodes were asked for (timeline)";
    for (int op = 0; op < NET_IMPL_OPS; op++)
        if (cfg->custom[op])
            return "custom collective algorithms run per member";
    if (cfg->rmem.kind == LOOM_RMEM_PER_NODE || cfg->rmem.kind == LOOM_RMEM_POOL)
        return "remote memory channels are shared between ranks";
    if (rp->nranks < 2)
        return "one rank";
    return NULL;
}

/* Compute model ids: equal bytes, equal id. */
static void comp_ids(sym *S)
{
    const loom_cfg *cfg = S->rp->cfg;
    uint64_t *h = loom_xmalloc(S->n * sizeof *h);
    for (int r = 0; r < S->n; r++) {
        const unsigned char *b = (const unsigned char *)loom_cfg_comp(cfg, r);
        uint64_t x = 0x636f6d70;
        for (size_t i = 0; i < sizeof(comp_cfg); i++)
            x = mix(x, b[i]);
        h[r] = x;
    }
    densify(h, S->n, S->comp);
    free(h);
    /* a hash is not proof: ranks with one id must have equal bytes */
    int *first = loom_xmalloc(S->n * sizeof *first);
    for (int r = 0; r < S->n; r++)
        first[r] = -1;
    for (int r = 0; r < S->n; r++) {
        int f = first[S->comp[r]];
        if (f < 0)
            first[S->comp[r]] = r;
        else if (memcmp(loom_cfg_comp(cfg, r), loom_cfg_comp(cfg, f), sizeof(comp_cfg)) != 0)
            S->forced[r] = 1;
    }
    free(first);
}

/* Network keys of the communicators, and every peer inside the run;
 * NULL, or why not. */
static const char *prepare(sym *S)
{
    replay *rp = S->rp;
    uint64_t *h = loom_xmalloc((rp->ncomms ? rp->ncomms : 1) * sizeof *h);
    for (int c = 0; c < rp->ncomms; c++) {
        net_group_key k;
        if (net_group_key_of(rp->comms[c].ng, &k) < 0) {
            free(h);
            return "the network model gives no group keys";
        }
        uint64_t x = 0x6e6574;
        for (size_t i = 0; i < sizeof k.w / sizeof k.w[0]; i++)
            x = mix(x, (uint64_t)k.w[i]);
        h[c] = x;
    }
    densify(h, (uint32_t)rp->ncomms, S->netk);
    free(h);
    for (int q = 0; q < rp->ngraphs; q++) {
        graph_specs(&rp->graphs[q], &S->gs[q]);
        if (S->gs[q].nsp > 64)
            return "a trace names more than 64 message peers";
    }
    for (int r = 0; r < S->n; r++) {
        const gsym *gs = gs_of(S, r);
        for (uint32_t k = 0; k < gs->nsp; k++) {
            int p = spec_peer(rp, r, &gs->sp[k]);
            if (p < 0 || p >= S->n)
                return "a message names a rank outside the run";
        }
    }
    comp_ids(S);
    return NULL;
}

/* Classes, checked; 1 when collapse holds, 0 when it does not (S->why). */
static int classes(sym *S)
{
    replay *rp = S->rp;
    uint8_t *badcol = loom_xmalloc(S->n);
    qnode *v = NULL;
    int done = 0;
    for (int attempt = 0; attempt < 8 && !done; attempt++) {
        uint32_t k = refine(S);
        if (k == 0) {
            snprintf(S->why, sizeof S->why, "the classes did not settle in %d rounds", REFINE_ROUNDS);
            break;
        }
        if (k == (uint32_t)S->n) {
            snprintf(S->why, sizeof S->why, "no two ranks replay alike");
            break;
        }
        int *first = loom_xmalloc(k * sizeof *first);
        for (uint32_t c = 0; c < k; c++)
            first[c] = -1;
        memset(S->csize, 0, S->n * sizeof *S->csize);
        for (int r = 0; r < S->n; r++) {
            if (first[S->col[r]] < 0)
                first[S->col[r]] = r;
            S->rep[r] = first[S->col[r]];
            S->csize[S->rep[r]]++;
        }
        for (int r = 0; r < S->n; r++)
            S->csize[r] = S->csize[S->rep[r]];
        free(first);
        int exact = canon_comms(S);
        for (int r = 0; r < S->n && exact; r++)
            exact = same_as_rep(S, r, S->rep[r]);
        if (!exact) { /* a 64-bit collision: do without */
            snprintf(S->why, sizeof S->why, "the class check failed");
            break;
        }
        memset(badcol, 0, S->n);
        quo Q = {0};
        quotient_union(S, &Q);
        v = loom_xrealloc(v, (Q.nnodes ? Q.nnodes : 1) * sizeof *v);
        int ok = p2p_check(S, badcol);
        ok &= quotient_check(S, &Q, v, badcol);
        if (ok) {
            done = 1;
            S->why[0] = '\0';
            build_quotient(S, &Q, v);
        } else {
            for (int r = 0; r < S->n; r++)
                if (badcol[S->col[r]])
                    S->forced[r] = 1;
            snprintf(S->why, sizeof S->why, "classes kept breaking apart");
        }
        free(Q.uf);
        free(Q.base);
    }
    free(v);
    free(badcol);
    (void)rp;
    return done;
}

void rpl_sym_plan(replay *rp, const loom_replay_opts *opts)
{
    const char *why = global_break(rp, opts);
    if (why) {
        snprintf(rp->sym_why, sizeof rp->sym_why, "%s", why);
        return;
    }
    sym S;
    memset(&S, 0, sizeof S);
    S.rp = rp;
    S.n = rp->nranks;
    S.gs = loom_xcalloc(rp->ngraphs, sizeof *S.gs);
    S.comp = loom_xmalloc(S.n * sizeof *S.comp);
    S.netk = loom_xmalloc((rp->ncomms ? rp->ncomms : 1) * sizeof *S.netk);
    S.forced = loom_xcalloc(S.n, 1);
    S.col = loom_xmalloc(S.n * sizeof *S.col);
    S.ccol = loom_xmalloc((rp->ncomms ? rp->ncomms : 1) * sizeof *S.ccol);
    S.canon = loom_xmalloc((rp->ncomms ? rp->ncomms : 1) * sizeof *S.canon);
    S.rep = loom_xmalloc(S.n * sizeof *S.rep);
    S.csize = loom_xmalloc(S.n * sizeof *S.csize);
    why = prepare(&S);
    if (why == NULL && classes(&S)) {
        rp->rep = S.rep;
        rp->csize = S.csize;
        S.rep = NULL;
        S.csize = NULL;
        for (int r = 0; r < S.n; r++) {
            rp->sim_ranks += rp->rep[r] == r;
            rp->sym_alone += S.forced[r];
        }
    } else {
        snprintf(rp->sym_why, sizeof rp->sym_why, "%s", why ? why : S.why);
    }
    for (int q = 0; q < rp->ngraphs; q++) {
        free(S.gs[q].cpg);
        free(S.gs[q].sp);
    }
    free(S.gs);
    free(S.comp);
    free(S.netk);
    free(S.forced);
    free(S.col);
    free(S.ccol);
    free(S.canon);
    free(S.rep);
    free(S.csize);
}
