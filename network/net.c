/*
 * net.c: the network model's setup half: validating and copying a
 * topology and system, mapping a communicator onto the topology
 * (net_group), point-to-point times, the asynchronous interface that
 * dispatches to the analytical or the flow model, and algorithm/operation
 * names.  The collective algorithms live in net_coll.c, the flow model in
 * net_flow.c and net_sched.c, explicit fabrics in net_topo.c/net_graph.c.
 *
 * Invariants once net_model_create() returns a model:
 *   - 1 <= ndims <= NET_MAX_DIMS, every npus >= 1 and their product fits
 *     an int; every bw is finite and > 0; every latency >= 0;
 *   - splits, active_chunks >= 1, endpoint_delay >= 0, local_mem_bw > 0;
 *   - every impl[op][d] for d < ndims is a valid net_algo.
 * Hot paths (net_coll_time, net_p2p_time) rely on these and never fail.
 *
 * The model owns its copies; a group points at its model and must not
 * outlive it.
 */
#include "net.h"
#include "net_int.h"
#include "net_topo.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ASTRA-sim's spellings, indexed by net_dim_kind. */
const char *const net_dim_kind_names[NET_DIM_KINDS] = {"Ring", "FullyConnected", "Switch"};

const char *net_dim_kind_name(net_dim_kind k)
{
    return (unsigned)k < NET_DIM_KINDS ? net_dim_kind_names[k] : "?";
}

static const char *impl_key(int op)
{
    static const char *const keys[NET_IMPL_OPS] = {
        "all-reduce-implementation", "all-gather-implementation",
        "reduce-scatter-implementation", "all-to-all-implementation",
    };
    return keys[op];
}

static int check_topo(const net_topo *t, loom_err *err)
{
    if (t->ndims < 1 || t->ndims > NET_MAX_DIMS)
        return loom_err_set(err, LOOM_EUSAGE,
                            "network: %d dimensions; must be 1..%d",
                            t->ndims, NET_MAX_DIMS);
    long long prod = 1;
    for (int d = 0; d < t->ndims; d++) {
        const net_dim *x = &t->dims[d];
        if (x->kind != NET_RING && x->kind != NET_FULLY_CONNECTED &&
            x->kind != NET_SWITCH)
            return loom_err_set(err, LOOM_EUSAGE,
                                "network dimension %d: topology kind %d is "
                                "not Ring, FullyConnected or Switch",
                                d, (int)x->kind);
        if (x->npus < 1)
            return loom_err_set(err, LOOM_EUSAGE,
                                "network dimension %d: npus_count %d must "
                                "be >= 1", d, x->npus);
        if (!isfinite(x->bw) || !(x->bw > 0))
            return loom_err_set(err, LOOM_EUSAGE,
                                "network dimension %d: bandwidth %g bytes/s "
                                "must be finite and > 0", d, x->bw);
        if (x->latency < 0)
            return loom_err_set(err, LOOM_EUSAGE,
                                "network dimension %d: latency %lld ps must "
                                "be >= 0", d, (long long)x->latency);
        prod *= x->npus;
        if (prod > INT_MAX)
            return loom_err_set(err, LOOM_EUSAGE,
                                "network dimension %d: npus product %lld "
                                "exceeds %d", d, prod, INT_MAX);
    }
    return 0;
}

static int check_sys(const net_sys *s, int ndims, loom_err *err)
{
    if (s->splits < 1)
        return loom_err_set(err, LOOM_EUSAGE,
                            "system: preferred-dataset-splits %d must be "
                            ">= 1", s->splits);
    if (s->active_chunks < 1)
        return loom_err_set(err, LOOM_EUSAGE,
                            "system: active-chunks-per-dimension %d must "
                            "be >= 1", s->active_chunks);
    if (s->endpoint_delay < 0)
        return loom_err_set(err, LOOM_EUSAGE,
                            "system: endpoint-delay %lld ps must be >= 0",
                            (long long)s->endpoint_delay);
    if (!isfinite(s->local_mem_bw) || !(s->local_mem_bw > 0))
        return loom_err_set(err, LOOM_EUSAGE,
                            "system: local-mem-bw %g bytes/s must be finite "
                            "and > 0", s->local_mem_bw);
    if ((unsigned)s->model > NET_MODEL_FLOW)
        return loom_err_set(err, LOOM_EUSAGE,
                            "system: network-model %d is not analytical (0) "
                            "or flow (1)", (int)s->model);
    if ((unsigned)s->calgo >= NET_CALGOS)
        return loom_err_set(err, LOOM_EUSAGE,
                            "system: collective algorithm %d is not one of "
                            "0..%d", (int)s->calgo, NET_CALGOS - 1);
    for (int op = 0; op < NET_IMPL_OPS; op++)
        for (int d = 0; d < ndims; d++)
            if ((unsigned)s->impl[op][d] >= NET_ALGOS)
                return loom_err_set(err, LOOM_EUSAGE,
                                    "system: %s for dimension %d is %d, "
                                    "not an algorithm", impl_key(op), d,
                                    (int)s->impl[op][d]);
    return 0;
}

int net_topo_npus(const net_topo *topo, loom_err *err)
{
    net_topo view = *topo;
    if (topo->x.kind != NET_X_DIMS && net_xtopo_view(&view, err) < 0)
        return LOOM_EUSAGE;
    if (check_topo(&view, err) < 0)
        return LOOM_EUSAGE;
    long long n = 1;
    for (int d = 0; d < view.ndims; d++)
        n *= view.dims[d].npus; /* check_topo: <= INT_MAX */
    return (int)n;
}

net_model *net_model_create(const net_topo *topo, const net_sys *sys,
                            loom_err *err)
{
    net_model *m = NULL;
    if (topo == NULL || sys == NULL) {
        loom_err_set(err, LOOM_EUSAGE, "network: no %s given",
                     topo == NULL ? "topology" : "system");
        goto err;
    }
    net_topo view = *topo;
    /* An explicit fabric is checked and given its contention-free view
     * as dimensions (net_topo.c; docs/NETWORK.md 3.6) */
    if (topo->x.kind != NET_X_DIMS && net_xtopo_view(&view, err) < 0)
        goto err;
    if (check_topo(&view, err) < 0 || check_sys(sys, view.ndims, err) < 0)
        goto err;
    m = loom_xcalloc(1, sizeof *m);
    m->topo = view;
    m->sys = *sys;
    m->npus = 1;
    for (int d = 0; d < m->topo.ndims; d++) {
        m->stride[d] = m->npus;
        m->npus *= m->topo.dims[d].npus;
    }
    m->waves = (sys->splits + sys->active_chunks - 1) / sys->active_chunks;
    m->npn = net_xtopo_npus_per_node(&m->topo);
    if (sys->model == NET_MODEL_FLOW) { /* build and check the graph now */
        m->graph = net_graph_build(&m->topo, err);
        if (m->graph == NULL || net_graph_check(m->graph, err) < 0)
            goto err;
    }
    return m;
err:
    if (m)
        net_graph_destroy(m->graph);
    free(m);
    return NULL;
}

void net_model_destroy(net_model *m)
{
    if (m == NULL)
        return;
    nf_destroy(m->flow);
    net_graph_destroy(m->graph);
    free(m->cache);
    free(m);
}

int net_npus(const net_model *m) { return m->npus; }

static int coord(const net_model *m, int r, int d)
{
    return (r / m->stride[d]) % m->topo.dims[d].npus;
}

/* Physical positions between neighbouring members of a RING dimension.
 * The members are treated as an arc: the largest circular gap is the
 * arc's opening and is left out; g is the largest of the others.
 * {0,1,2,3} of 8 -> 1 (gaps 1,1,1,[5]); {0,2,4,6} of 8 -> 2;
 * {0,7} of 8 -> 1 (gaps [7],1); {0,3} of 8 -> 3. */
static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The members' coordinates c[0..n) along a dimension of npus positions:
 * sorted and made distinct in place; *p gets how many.  Returns the
 * second-largest cyclic gap between consecutive distinct coordinates (the
 * last back round to the first), or 1 (see net_vdim's gap).  Sorting the
 * n members, not scanning all npus positions: a group of 8 on a dimension
 * of 131,072 costs 8, not 131,072. */
static int group_gap(int *c, int n, int npus, int *p)
{
    qsort(c, (size_t)n, sizeof *c, cmp_int);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || c[i] != c[k - 1])
            c[k++] = c[i];
    *p = k;
    int largest = 0, second = 0;
    for (int i = 1; i <= k; i++) {
        int gap = i < k ? c[i] - c[i - 1] : c[0] + npus - c[k - 1]; /* wrap last */
        if (gap > largest) {
            second = largest;
            largest = gap;
        } else if (gap > second)
            second = gap;
    }
    return second > 0 ? second : 1;
}

/* Warned once per group (at creation); says what loom does instead. */
static void warn_irregular(const net_model *m, const net_group *g,
                           const int *ranks, long long prod)
{
    char dims[160] = "";
    size_t len = 0;
    for (int d = 0; d < m->topo.ndims && len < sizeof dims; d++)
        if (g->span & (1u << d))
            len += (size_t)snprintf(dims + len, sizeof dims - len,
                                    "%s%d in dim %d", len ? ", " : "",
                                    g->p[d], d);
    loom_warn("communicator of %d ranks (%d, %d, ...) is not a sub-grid of "
              "the topology (distinct coordinates: %s; product %lld != %d); "
              "modelled as one flat %s dimension of %d ranks at %.6g "
              "bytes/s and %.6g ns per hop",
              g->n, ranks[0], ranks[1], dims, prod, g->n,
              net_dim_kind_name(g->all.kind), g->n, g->all.bw,
              g->all.lat / SIM_PS_PER_NS);
}

net_group *net_group_create(net_model *m, const int *ranks, int n,
                            loom_err *err)
{
    net_group *g = NULL;
    int *coords = NULL;
    if (n < 1 || ranks == NULL) {
        loom_err_set(err, LOOM_EUSAGE, "communicator with %d ranks: needs "
                     "at least one", n);
        goto err;
    }
    for (int i = 0; i < n; i++) {
        if (ranks[i] < 0 || ranks[i] >= m->npus) {
            loom_err_set(err, LOOM_EUSAGE, "communicator rank %d (member %d) "
                         "is outside the topology's ranks 0..%d", ranks[i], i,
                         m->npus - 1);
            goto err;
        }
        if (i > 0 && ranks[i] <= ranks[i - 1]) {
            loom_err_set(err, LOOM_EUSAGE, "communicator rank %d (member %d) "
                         "follows rank %d: ranks must be ascending and "
                         "distinct", ranks[i], i, ranks[i - 1]);
            goto err;
        }
    }

    g = loom_xcalloc(1, sizeof *g);
    g->m = m;
    g->n = n;
    long long prod = 1;
    coords = loom_xmalloc((size_t)n * sizeof *coords);
    for (int d = 0; d < m->topo.ndims; d++) {
        for (int i = 0; i < n; i++)
            coords[i] = coord(m, ranks[i], d);
        int p, gap = group_gap(coords, n, m->topo.dims[d].npus, &p);
        g->p[d] = p;
        g->gap[d] = p > 1 ? gap : 1;
        if (p > 1)
            g->span |= 1u << d;
        prod *= p;
    }
    free(coords);
    coords = NULL;
    /* n distinct members inside C_0 x ... x C_{D-1}, which has prod
     * elements: equal sizes mean the members are that whole product. */
    g->regular = prod == n;
    g->ranks = loom_xmalloc((size_t)n * sizeof *g->ranks);
    memcpy(g->ranks, ranks, (size_t)n * sizeof *g->ranks);
    { /* every group: all members as one flat dimension (section 6's rule) */
        net_vdim *f = &g->all;
        int outer = 0;
        f->bw = INFINITY;
        f->lat = 0;
        for (int d = 0; d < m->topo.ndims; d++) {
            if (!(g->span & (1u << d)))
                continue;
            outer = d;
            f->bw = fmin(f->bw, m->topo.dims[d].bw);
            f->lat = fmax(f->lat, (double)m->topo.dims[d].latency);
        }
        if (g->span == 0)
            f->bw = m->topo.dims[0].bw;
        f->kind = m->topo.dims[outer].kind;
        f->dim = NET_FLAT_DIM;
        f->p = n;
        f->gap = 1;
        f->ring_npus = n;
        for (int op = 0; op < NET_IMPL_OPS; op++)
            f->impl[op] = m->sys.impl[op][outer];
    }
    if (!g->regular) /* modelled as `all`, the members as one flat dimension */
        warn_irregular(m, g, ranks, prod);
    return g;
err:
    free(coords);
    free(g);
    return NULL;
}

void net_group_destroy(net_group *g)
{
    if (g == NULL)
        return;
    free(g->ranks);
    free(g);
}

void net_vdim_of(const net_model *m, const net_group *g, int d, net_vdim *v)
{
    const net_dim *x = &m->topo.dims[d];
    v->kind = x->kind;
    v->dim = d;
    v->p = g->p[d];
    v->gap = g->gap[d];
    v->ring_npus = x->npus;
    v->bw = x->bw;
    v->lat = (double)x->latency;
    for (int op = 0; op < NET_IMPL_OPS; op++)
        v->impl[op] = m->sys.impl[op][d];
}

int net_hops(const net_vdim *v, long j)
{
    switch (v->kind) {
    case NET_FULLY_CONNECTED: return 1;
    case NET_SWITCH: return 2; /* NPU -> switch -> NPU */
    case NET_RING: break;
    }
    /* j * gap is exact for evenly spaced members; for uneven ones
     * ({0,1,3,4,6} of 8: gap 2) it can land back on the source (4 * 2 =
     * 8), where the estimate is floored at one hop. */
    long d = (j * v->gap) % v->ring_npus;
    long h = d < v->ring_npus - d ? d : v->ring_npus - d;
    return h > 1 ? (int)h : 1;
}

void net_warn_once(net_model *m, int dim, const char *fmt, ...)
{
    uint32_t bit = 1u << dim;
    int i = 0;
    while (i < m->nwarned && m->warned[i].fmt != fmt)
        i++;
    if (i == m->nwarned) { /* a message not printed yet on any dimension */
        LOOM_ASSERT(i < NET_WARN_SLOTS);
        m->warned[m->nwarned++].fmt = fmt;
    }
    if (m->warned[i].dims & bit)
        return;
    m->warned[i].dims |= bit;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    loom_warn("%s", msg);
}

sim_time net_round_ps(double ps)
{
    /* 9.2e18 ps is 106 days of simulated time: past it the inputs (a
     * 2^63-byte message, a bandwidth of a few bytes/s) are broken.  Saturate
     * so the caller can report it: replay refuses a time of SIM_TIME_MAX. */
    LOOM_ASSERT(!isnan(ps) && ps >= 0);
    if (!(ps < 9.2e18))
        return SIM_TIME_MAX;
    return (sim_time)llround(ps);
}

/* A dimension-order route's latency (ps) and bottleneck bandwidth. */
static void route(const net_model *m, int src, int dst, double *lat_ps, double *bw)
{
    double lat = 0, b = INFINITY;
    for (int d = 0; d < m->topo.ndims; d++) {
        int x0 = coord(m, src, d), x1 = coord(m, dst, d);
        if (x0 == x1)
            continue;
        const net_dim *x = &m->topo.dims[d];
        net_vdim v = {.kind = x->kind, .gap = 1, .ring_npus = x->npus};
        long j = x0 > x1 ? x0 - x1 : x1 - x0;
        lat += net_hops(&v, j) * (double)x->latency;
        b = fmin(b, x->bw);
    }
    *lat_ps = lat;
    *bw = b;
}

sim_time net_p2p_time(net_model *m, int src, int dst, uint64_t bytes)
{
    LOOM_ASSERT(src >= 0 && src < m->npus && dst >= 0 && dst < m->npus);
    if (m->sys.model == NET_MODEL_FLOW && src != dst)
        return net_sched_p2p_alone(m, src, dst, bytes);
    if (src == dst) /* a local copy: one pass at local-mem-bw */
        return net_round_ps((double)bytes * 1e12 / m->sys.local_mem_bw);
    double lat, bw;
    route(m, src, dst, &lat, &bw);
    return net_round_ps(lat + (double)bytes * 1e12 / bw +
                        (double)m->sys.endpoint_delay);
}

const char *net_coll_name(net_coll op)
{
    static const char *const names[NET_COLLS] = {
        "ALL_REDUCE", "REDUCE", "ALL_GATHER", "GATHER", "SCATTER",
        "BROADCAST", "ALL_TO_ALL", "REDUCE_SCATTER", "REDUCE_SCATTER_BLOCK",
        "BARRIER",
    };
    return (unsigned)op < NET_COLLS ? names[op] : "?";
}

/* ---- asynchronous interface ------------------------------------------- */

/* The analytical model's one event: its payload carries the caller's
 * callback, never the engine's ctx. */
typedef struct done_ev {
    net_done_fn done; /* the caller's */
    void *ctx;        /* the caller's */
} done_ev;

_Static_assert(sizeof(done_ev) <= NET_EV_PAYLOAD_MAX, "payload too big");

static void on_done(sim_engine *eng, void *payload, void *engine_ctx)
{
    (void)engine_ctx;
    done_ev *e = payload;
    e->done(eng, e->ctx);
}

static void schedule_done(sim_engine *eng, sim_time dur, net_done_fn done,
                          void *ctx)
{
    sim_time now = sim_now(eng);
    LOOM_ASSERT(dur >= 0);
    done_ev *e = sim_schedule(eng, dur < SIM_TIME_MAX - now ? now + dur : SIM_TIME_MAX, on_done);
    e->done = done;
    e->ctx = ctx;
}

void net_coll_start(net_model *m, sim_engine *eng, const net_group *g,
                    net_coll op, uint64_t bytes, uint32_t dim_mask,
                    net_done_fn done, void *ctx)
{
    LOOM_ASSERT(g->m == m && done != NULL);
    if (m->sys.model == NET_MODEL_FLOW)
        net_sched_coll(m, eng, g, op, bytes, dim_mask, done, ctx);
    else
        schedule_done(eng, net_coll_time(m, g, op, bytes, dim_mask), done,
                      ctx);
}

void net_p2p_start(net_model *m, sim_engine *eng, int src, int dst,
                   uint64_t bytes, net_done_fn done, void *ctx)
{
    LOOM_ASSERT(src >= 0 && src < m->npus && dst >= 0 && dst < m->npus);
    LOOM_ASSERT(done != NULL);
    if (m->sys.model == NET_MODEL_FLOW && src != dst) {
        net_sched_p2p(m, eng, src, dst, bytes, done, ctx);
        return;
    }
    schedule_done(eng, net_p2p_time(m, src, dst, bytes), done, ctx);
}

/* ---- flow statistics ---------------------------------------------------- */

void net_flow_totals_get(const net_model *m, net_flow_totals *out)
{
    memset(out, 0, sizeof *out);
    if (m->flow)
        nf_totals(m->flow, out);
    if (m->graph)
        out->links = m->graph->nlinks;
}

int net_top_links(const net_model *m, net_link_stat *out, int n)
{
    if (m->flow == NULL || m->graph == NULL || n <= 0)
        return 0;
    return nf_top_links(m->flow, m->graph, out, n);
}

/* ---- symmetry keys (net.h) ------------------------------------------------- */

int net_group_key_of(const net_group *g, net_group_key *k)
{
    memset(k, 0, sizeof *k);
    const net_model *m = g->m;
    if (m->sys.model != NET_MODEL_ANALYTICAL)
        return -1;
    int nnodes = 0, prev = -1; /* what the NCCL cost mode reads of the ranks */
    for (int i = 0; i < g->n && m->npn > 0; i++) {
        int node = g->ranks[i] / m->npn;
        nnodes += node != prev;
        prev = node;
    }
    int64_t *w = k->w;
    *w++ = g->n;
    *w++ = g->regular;
    *w++ = g->span;
    *w++ = nnodes;
    for (int d = 0; d < NET_MAX_DIMS; d++) {
        *w++ = g->p[d];
        *w++ = g->gap[d];
    }
    const net_vdim *f = &g->all;
    *w++ = f->kind;
    *w++ = f->p;
    *w++ = f->gap;
    *w++ = f->ring_npus;
    memcpy(w++, &f->bw, sizeof f->bw); /* the bits: equal bits, equal times */
    memcpy(w++, &f->lat, sizeof f->lat);
    for (int op = 0; op < NET_IMPL_OPS; op++)
        *w++ = f->impl[op];
    LOOM_ASSERT(w <= k->w + sizeof k->w / sizeof k->w[0]);
    return 0;
}

int net_p2p_key_of(const net_model *m, int src, int dst, net_p2p_key *k)
{
    memset(k, 0, sizeof *k);
    if (m->sys.model != NET_MODEL_ANALYTICAL)
        return -1;
    if (src == dst) {
        k->lat_ps = -1;
        k->bw = m->sys.local_mem_bw;
        return 0;
    }
    double lat, bw;
    route(m, src, dst, &lat, &bw);
    k->lat_ps = lat;
    k->bw = bw;
    return 0;
}
