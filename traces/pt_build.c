/*
 * pt_build.c: one rank's Kineto events of one step -> replay nodes.
 *
 * The step: ProfilerStep#N's span [ts, ts + dur) (--step N; by default
 * the last step whose last launch has its GPU op in the file); kept: the
 * host events that start in it and the GPU ops they launched.  A trace
 * without ProfilerStep: its GPU-busy span (first GPU op start to last GPU
 * op end), with the host events and GPU ops that start in it.
 *
 * Host threads: each thread's events nest (a cpu_op holds the ops it
 * calls, and the runtime calls they make); only the leaves become nodes,
 * so no two nodes of a thread overlap, chained in time order with the
 * gaps between them as is_delay nodes: replay launches each kernel when
 * the capture did.  GPU ops: a node per kernel, memcpy and memset, on its
 * stream, data-dependent on its launch (runtime call with the same
 * `correlation`) and control-dependent on the previous op of the stream.
 *
 * Cross-stream waits (the runtime calls carry no event or stream ids, so
 * they are read from the order of calls on a thread): cudaEventRecord
 * records the last GPU op the thread launched; a following
 * cudaStreamWaitEvent makes the next GPU op the thread launches wait for
 * it (when on another stream); cudaStreamSynchronize waits for the last op
 * the thread launched, cudaEventSynchronize for the recorded one,
 * cudaDeviceSynchronize for the last op of every stream.  The driver API's
 * and HIP's calls of the same meaning count the same (sync_kind).  An edge
 * is kept only when the capture's times agree with it (the waited op ended
 * before the waiting one started, within 1 us), so a wrong guess never
 * delays a replay below what was measured.
 */
#include "pt_import.h"
#include "et_ids.h"

#include <stdlib.h>
#include <string.h>

#include "et_graph.h"
#include "sbuf.h"

#define TOL_NS 1000 /* clock slack allowed between host and GPU times */

uint32_t pt_add(pt_rank *r, const pt_node *n)
{
    r->n = loom_vgrow(r->n, &r->cap, r->nn + 1, sizeof *r->n);
    r->n[r->nn] = *n;
    r->n[r->nn].deps = NULL;
    r->n[r->nn].nd = r->n[r->nn].cd = 0;
    return (uint32_t)r->nn++;
}

void pt_dep(pt_rank *r, uint32_t node, uint32_t dep)
{
    pt_node *n = &r->n[node];
    if (dep == node)
        return;
    for (uint32_t i = 0; i < n->nd; i++)
        if (n->deps[i] == dep)
            return;
    if (n->nd == n->cd) {
        n->cd = n->cd ? 2 * n->cd : 2;
        n->deps = loom_xrealloc(n->deps, n->cd * sizeof *n->deps);
    }
    n->deps[n->nd++] = dep;
}

void pt_rank_free(pt_rank *r)
{
    for (size_t i = 0; i < r->nn; i++)
        free(r->n[i].deps);
    free(r->n);
    free(r->kw);
    free(r->ks);
    memset(r, 0, sizeof *r);
}

/* ---- names --------------------------------------------------------------- */

static int strip_suffix(char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    if (n > m && strcmp(s + n - m, suf) == 0) {
        s[n - m] = '\0';
        return 1;
    }
    return 0;
}

int pt_coll_type(const char *name)
{
    char s[64];
    size_t n = 0;
    const char *p = name;
    if (strncmp(p, "ncclKernel_", 11) == 0 || strncmp(p, "ncclDevKernel_", 14) == 0) {
        p = strchr(p, '_') + 1; /* the token up to the next '_' */
        for (; *p && *p != '_' && *p != '(' && n + 1 < sizeof s; p++)
            s[n++] = (char)(*p | 0x20);
    } else {
        if (strncmp(p, "nccl:", 5) == 0)
            p += 5;
        else if (strncmp(p, "c10d::", 6) == 0)
            p += 6;
        for (; *p && n + 1 < sizeof s; p++)
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
                s[n++] = (char)(*p | 0x20);
    }
    s[n] = '\0';
    while (strip_suffix(s, "base") || strip_suffix(s, "intotensor") ||
           strip_suffix(s, "tensor") || strip_suffix(s, "coalesced"))
        ;
    static const struct { const char *n; int t; } m[] = {
        {"allreduce", 0}, {"reduce", 1}, {"allgather", 2}, {"gather", 3}, {"scatter", 4},
        {"broadcast", 5}, {"alltoall", 6}, {"alltoallv", 6}, {"reducescatter", 7},
        {"barrier", 9}, {"sendrecv", -2}, {"send", -2}, {"recv", -2}, {"recvsend", -2},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(s, m[i].n) == 0)
            return m[i].t;
    return -1;
}

int pt_dtype_bytes(const char *d)
{
    char s[32];
    size_t n = 0;
    const char *p = strchr(d, '(');
    p = p ? p + 1 : d;
    if (strncmp(p, "c10::", 5) == 0)
        p += 5;
    for (; *p && *p != ')' && n + 1 < sizeof s; p++)
        s[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p | 0x20 : *p);
    s[n] = '\0';
    static const struct { const char *n; int b; } m[] = {
        {"float", 4}, {"float32", 4}, {"double", 8}, {"float64", 8}, {"half", 2}, {"float16", 2},
        {"bfloat16", 2}, {"int", 4}, {"int32", 4}, {"long", 8}, {"int64", 8}, {"short", 2},
        {"int16", 2}, {"char", 1}, {"int8", 1}, {"byte", 1}, {"uint8", 1}, {"bool", 1},
        {"float8_e4m3fn", 1}, {"float8_e5m2", 1}, {"complexfloat", 8}, {"complexdouble", 16},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(s, m[i].n) == 0)
            return m[i].b;
    return 0;
}

/* ---- lookups ------------------------------------------------------------- */

/* correlation ids (never negative where stored) to event indices: et_ids.h's
 * sorted (id, index) pairs, as the graph loader maps node ids */

static int is_gpu(int kind) { return kind >= PT_K_KERNEL; }

/* The state of one build. */
typedef struct bld {
    const pt_kineto *k;
    pt_strs *strs;
    pt_rank *r;
    int64_t w0, w1;
    idpair *rt_by_corr, *gpu_by_corr;
    size_t nrt, ngpu;
    int32_t *node_of;   /* event -> node, -1 */
    int32_t *parent;    /* host event -> its innermost enclosing host event, -1 */
    int whole;          /* no ProfilerStep: the window is the GPU-busy span */
} bld;

static int64_t ev_end(const pt_kev *e) { return e->ts + e->dur; }

static void index_corr(bld *b)
{
    const pt_kineto *k = b->k;
    b->rt_by_corr = loom_xmalloc((k->nev + 1) * sizeof *b->rt_by_corr);
    b->gpu_by_corr = loom_xmalloc((k->nev + 1) * sizeof *b->gpu_by_corr);
    for (size_t i = 0; i < k->nev; i++) {
        const pt_kev *e = &k->ev[i];
        if (e->corr < 0)
            continue;
        if (e->kind == PT_K_RT)
            b->rt_by_corr[b->nrt++] = (idpair){(uint64_t)e->corr, (uint32_t)i};
        else if (is_gpu(e->kind))
            b->gpu_by_corr[b->ngpu++] = (idpair){(uint64_t)e->corr, (uint32_t)i};
    }
    qsort(b->rt_by_corr, b->nrt, sizeof *b->rt_by_corr, et_cmp_idpair);
    qsort(b->gpu_by_corr, b->ngpu, sizeof *b->gpu_by_corr, et_cmp_idpair);
}

/* ---- the step ------------------------------------------------------------ */

static int step_number(const char *name)
{
    if (strncmp(name, "ProfilerStep#", 13) != 0)
        return -1;
    char *end;
    long v = strtol(name + 13, &end, 10);
    return *end == '\0' && v >= 0 && v < (1L << 30) ? (int)v : -1;
}

static int is_launch(const char *n)
{
    return strstr(n, "Launch") || strstr(n, "Memcpy") || strstr(n, "Memset");
}

/* 1 when the step's last launch has its GPU op in the file (a profiler
 * stopped mid-step loses the GPU ops of the step's end). */
static int step_complete(const bld *b, int64_t w0, int64_t w1)
{
    const pt_kev *last = NULL;
    for (size_t i = 0; i < b->nrt; i++) {
        const pt_kev *e = &b->k->ev[b->rt_by_corr[i].idx];
        if (e->ts >= w0 && e->ts < w1 && is_launch(pt_str_get(b->strs, e->name)) &&
            (last == NULL || e->ts > last->ts))
            last = e;
    }
    return last && et_find_id(b->gpu_by_corr, b->ngpu, (uint64_t)last->corr) >= 0;
}

static int choose_step(bld *b, int step, int strict, loom_err *err)
{
    const pt_kineto *k = b->k;
    int found = 0, first = -1, last = -1, chosen = -1, any = 0;
    int64_t cw0 = 0, cw1 = 0;
    for (size_t i = 0; i < k->nev; i++) {
        const pt_kev *e = &k->ev[i];
        int s = e->kind == PT_K_CPU ? step_number(pt_str_get(b->strs, e->name)) : -1;
        if (s < 0)
            continue;
        any++;
        first = first < 0 || s < first ? s : first;
        last = s > last ? s : last;
        if (step >= 0 ? s == step : (s >= chosen && step_complete(b, e->ts, ev_end(e)))) {
            chosen = s;
            cw0 = e->ts;
            cw1 = ev_end(e);
            found = 1;
        }
    }
    if (step >= 0 && !any)
        return loom_err_set(err, LOOM_EUSAGE, "%s: --step %d: the trace has no ProfilerStep#N spans "
                            "(the profiler ran without a schedule and prof.step()); leave --step out "
                            "to import the whole trace", k->path, step);
    if (step >= 0 && !found)
        return loom_err_set(err, LOOM_EUSAGE, "%s: --step %d: no ProfilerStep#%d (steps %d .. %d)",
                            k->path, step, step, first, last);
    if (any && !found && strict)
        return loom_err_set(err, LOOM_ETRACE, "%s: --strict: no ProfilerStep is complete (its last "
                            "launch has no GPU op in the file)", k->path);
    if (any && !found) { /* none complete: the last one, said so */
        loom_warn("%s: no ProfilerStep is complete (its last launch has no GPU op in the file); "
                  "using #%d", k->path, last);
        return choose_step(b, last, 0, err);
    }
    if (found) {
        b->w0 = cw0;
        b->w1 = cw1;
        b->r->step = chosen;
        return 0;
    }
    /* no steps: the GPU-busy span, first GPU op start to last GPU op end */
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < k->nev; i++) {
        const pt_kev *e = &k->ev[i];
        if (!is_gpu(e->kind))
            continue;
        lo = e->ts < lo ? e->ts : lo;
        hi = ev_end(e) > hi ? ev_end(e) : hi;
    }
    b->w0 = lo;
    b->w1 = hi;
    b->whole = 1;
    b->r->step = -1;
    return 0;
}

/* ---- host threads -------------------------------------------------------- */

static const pt_kev *g_ev; /* for the qsort comparator */

static int cmp_host(const void *a, const void *b)
{
    const pt_kev *x = &g_ev[*(const uint32_t *)a], *y = &g_ev[*(const uint32_t *)b];
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->dur != y->dur) /* the enclosing op first */
        return x->dur > y->dur ? -1 : 1;
    if (x->kind != y->kind) /* an op before the runtime call it makes */
        return x->kind < y->kind ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static pt_node mk(int64_t t0, uint32_t name, int64_t stream, uint64_t dur)
{
    pt_node n;
    memset(&n, 0, sizeof n);
    n.t0 = t0;
    n.name = name;
    n.stream = stream;
    n.dur_ns = dur;
    n.has_dur = 1;
    n.ctrl = -1;
    n.type = ET_COMP_NODE;
    return n;
}

/* One thread's leaves, chained; host[lo..hi) are its events in order. */
static void thread_chain(bld *b, const uint32_t *host, size_t lo, size_t hi, uint32_t start,
                         uint32_t delay_name)
{
    const pt_kev *ev = b->k->ev;
    uint32_t *stack = loom_xmalloc((hi - lo + 1) * sizeof *stack); /* nesting: at most every op */
    size_t sp = 0;
    char *leaf = loom_xcalloc(hi - lo, 1);
    for (size_t i = lo; i < hi; i++) {
        const pt_kev *e = &ev[host[i]];
        while (sp > 0 && ev_end(&ev[host[stack[sp - 1]]]) <= e->ts)
            sp--;
        if (sp > 0) {
            leaf[stack[sp - 1] - lo] = 0;
            b->parent[host[i]] = (int32_t)host[stack[sp - 1]];
        }
        leaf[i - lo] = 1;
        stack[sp++] = (uint32_t)i;
    }
    uint32_t prev = start;
    int64_t prev_end = b->w0;
    for (size_t i = lo; i < hi; i++) {
        if (!leaf[i - lo])
            continue;
        const pt_kev *e = &ev[host[i]];
        if (e->ts > prev_end) {
            pt_node d = mk(prev_end, delay_name, e->tid, (uint64_t)(e->ts - prev_end));
            d.cpu = d.delay = 1;
            uint32_t di = pt_add(b->r, &d);
            pt_dep(b->r, di, prev);
            prev = di;
            b->r->ndelay++;
            prev_end = e->ts;
        }
        int64_t end = ev_end(e) > prev_end ? ev_end(e) : prev_end;
        pt_node n = mk(prev_end, e->name, e->tid, (uint64_t)(end - prev_end));
        n.cpu = 1;
        uint32_t ni = pt_add(b->r, &n);
        pt_dep(b->r, ni, prev);
        b->node_of[host[i]] = (int32_t)ni;
        prev = ni;
        prev_end = end;
        b->r->nops++;
    }
    free(leaf);
    free(stack);
}

static void host_threads(bld *b, uint32_t start)
{
    const pt_kineto *k = b->k;
    uint32_t *host = loom_xmalloc((k->nev + 1) * sizeof *host);
    size_t nh = 0;
    for (size_t i = 0; i < k->nev; i++) {
        const pt_kev *e = &k->ev[i];
        if ((e->kind == PT_K_CPU || e->kind == PT_K_RT) && e->ts >= b->w0 && e->ts < b->w1 &&
            step_number(pt_str_get(b->strs, e->name)) < 0)
            host[nh++] = (uint32_t)i;
    }
    g_ev = k->ev;
    qsort(host, nh, sizeof *host, cmp_host);
    uint32_t delay_name = pt_str(b->strs, "loom:host_gap", 13);
    for (size_t lo = 0; lo < nh;) {
        size_t hi = lo;
        while (hi < nh && k->ev[host[hi]].tid == k->ev[host[lo]].tid)
            hi++;
        thread_chain(b, host, lo, hi, start, delay_name);
        lo = hi;
    }
    free(host);
}

/* ---- GPU ops ------------------------------------------------------------- */

static int cmp_gpu(const void *a, const void *b)
{
    const pt_kev *x = &g_ev[*(const uint32_t *)a], *y = &g_ev[*(const uint32_t *)b];
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* The launching runtime event of GPU op g, -1 if not in the file. */
static int64_t launch_of(const bld *b, const pt_kev *g)
{
    return g->corr >= 0 ? et_find_id(b->rt_by_corr, b->nrt, (uint64_t)g->corr) : -1;
}

/* What the collective launched by runtime event rt is: the NCCL kernel's
 * own args, then its launch's enclosing ops (nccl:<coll> annotation,
 * record_param_comms, c10d::<coll>), the first that says wins. */
static void coll_info(const bld *b, const pt_kev *g, int64_t rt, int *type, pt_comm *cm)
{
    const pt_kineto *k = b->k;
    memset(cm, 0, sizeof *cm);
    *type = pt_coll_type(pt_str_get(b->strs, g->name));
    if (g->comm >= 0)
        *cm = k->comms[g->comm];
    for (int64_t p = rt >= 0 ? b->parent[rt] : -1, hops = 0; p >= 0 && hops < 8;
         p = b->parent[p], hops++) {
        const pt_kev *e = &k->ev[p];
        int t = pt_coll_type(pt_str_get(b->strs, e->name));
        if (*type < 0 || (*type == -2 && t >= 0))
            *type = t >= 0 || t == -2 ? t : *type;
        if (e->comm >= 0) {
            const pt_comm *c = &k->comms[e->comm];
            if (cm->coll == 0)
                cm->coll = c->coll;
            if (cm->dtype == 0)
                cm->dtype = c->dtype;
            if (cm->pg == 0)
                cm->pg = c->pg;
            if (cm->pg_ranks == 0)
                cm->pg_ranks = c->pg_ranks;
            if (cm->in_nelems == 0 && cm->out_nelems == 0) {
                cm->in_nelems = c->in_nelems;
                cm->out_nelems = c->out_nelems;
            }
        }
    }
    if (cm->coll) { /* record_param_comms' "Collective name" decides a SendRecv kernel */
        int t = pt_coll_type(pt_str_get(b->strs, cm->coll));
        if (t >= 0 && *type < 0)
            *type = t;
        else if (t >= 0 && *type == -2)
            *type = t;
    }
}

/* waited -> node when the capture agrees (wn: the waited op's node, or
 * -1 to look it up); sync nodes start when the waited op ended and keep
 * the rest of their measured time. */
static void wait_edge(bld *b, int64_t waited_ev, uint32_t node, int host, int64_t wn)
{
    if (wn < 0)
        wn = b->node_of[waited_ev];
    if (wn < 0)
        return;
    const pt_kev *w = &b->k->ev[waited_ev];
    pt_node *n = &b->r->n[node];
    int64_t n_end = n->t0 + (int64_t)n->dur_ns;
    if (host) {
        if (ev_end(w) > n_end + TOL_NS || ev_end(w) <= n->t0)
            return; /* it had ended before the call, or after it returned */
        int64_t end = ev_end(w) > n_end ? ev_end(w) : n_end;
        n->dur_ns = (uint64_t)(end - ev_end(w));
        n->t0 = ev_end(w);
    } else if (ev_end(w) > n->t0 + TOL_NS || b->r->n[wn].stream == n->stream) {
        return;
    }
    pt_dep(b->r, node, (uint32_t)wn);
    b->r->nsync++;
}

static void gpu_node(bld *b, uint32_t gi, uint32_t start, int64_t *last_on, int64_t *streams,
                     int *nstreams)
{
    const pt_kev *g = &b->k->ev[gi];
    pt_node n = mk(g->ts, g->name, g->tid, (uint64_t)g->dur);
    int64_t rt = launch_of(b, g);
    const char *name = pt_str_get(b->strs, g->name);
    if (g->kind == PT_K_KERNEL && strncmp(name, "nccl", 4) == 0 &&
        (strncmp(name, "ncclKernel_", 11) == 0 || strncmp(name, "ncclDevKernel_", 14) == 0)) {
        int type;
        pt_comm cm;
        coll_info(b, g, rt, &type, &cm);
        if (type >= 0) {
            n.type = ET_COMM_COLL_NODE;
            n.comm_type = (uint8_t)type;
            uint64_t ne = cm.in_nelems > cm.out_nelems ? cm.in_nelems : cm.out_nelems;
            int db = cm.dtype ? pt_dtype_bytes(pt_str_get(b->strs, cm.dtype)) : 0;
            n.comm_size = ne * (uint64_t)(db ? db : 1);
            n.pg = cm.pg;
            n.pg_ranks = cm.pg_ranks;
            b->r->ncoll++;
        } else {
            b->r->np2p++; /* a send/recv without its peer: kept as its time on the stream */
        }
    }
    if (n.type == ET_COMP_NODE)
        b->r->nkernels++;
    uint32_t ni = pt_add(b->r, &n);
    int64_t ln = rt >= 0 ? b->node_of[rt] : -1;
    if (ln >= 0 && g->ts < ev_end(&b->k->ev[rt]) && b->r->n[ln].nd > 0) {
        /* a blocking call (a copy from pageable memory, cudaMemcpy): the
         * op ran while the call was still in progress, which returned when
         * it ended: the op follows what came before the call, and the call
         * waits for the op */
        pt_dep(b->r, ni, b->r->n[ln].deps[0]);
        wait_edge(b, (int64_t)gi, (uint32_t)ln, 1, ni);
    } else {
        pt_dep(b->r, ni, ln >= 0 ? (uint32_t)ln : start);
    }
    int s = 0;
    while (s < *nstreams && streams[s] != g->tid)
        s++;
    if (s == *nstreams) { /* the tables hold one entry per GPU op at most */
        streams[s] = g->tid;
        last_on[s] = -1;
        (*nstreams)++;
    }
    if (last_on[s] >= 0)
        b->r->n[ni].ctrl = (int32_t)last_on[s];
    last_on[s] = ni;
    b->node_of[gi] = (int32_t)ni;
}

static void gpu_ops(bld *b, uint32_t start)
{
    const pt_kineto *k = b->k;
    uint32_t *gpu = loom_xmalloc((k->nev + 1) * sizeof *gpu);
    size_t ng = 0;
    for (size_t i = 0; i < k->nev; i++) {
        const pt_kev *e = &k->ev[i];
        if (!is_gpu(e->kind))
            continue;
        int64_t rt = launch_of(b, e);
        /* launched in the step; without steps, anything that ran in it */
        int in = (rt >= 0 && b->node_of[rt] >= 0) ||
                 ((b->whole || rt < 0) && e->ts >= b->w0 && e->ts < b->w1);
        if (in)
            gpu[ng++] = (uint32_t)i;
    }
    g_ev = k->ev;
    qsort(gpu, ng, sizeof *gpu, cmp_gpu);
    int64_t *streams = loom_xmalloc((ng + 1) * sizeof *streams);
    int64_t *last_on = loom_xmalloc((ng + 1) * sizeof *last_on);
    int nstreams = 0;
    b->r->busy_ns = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < ng; i++) {
        gpu_node(b, gpu[i], start, last_on, streams, &nstreams);
        const pt_kev *e = &k->ev[gpu[i]];
        lo = e->ts < lo ? e->ts : lo;
        hi = ev_end(e) > hi ? ev_end(e) : hi;
    }
    b->r->nstreams = (uint64_t)nstreams;
    if (ng) {
        b->r->busy_ns = hi - lo;
        b->r->end_ns = hi > b->r->end_ns ? hi : b->r->end_ns;
    }
    free(gpu);
    free(streams);
    free(last_on);
}

/* ---- cross-stream waits and host syncs ------------------------------------ */


/* What a runtime call does to the order of GPU work, by its name in the
 * CUDA runtime (cudaStreamSynchronize), the driver API (cuStreamSynchronize,
 * cuCtxSynchronize) or HIP (hipStreamSynchronize: ROCm's PyTorch), with
 * any suffix after '_' (cuEventRecord_v2, cudaStreamSynchronize_ptsz). */
enum { SY_NONE, SY_DEVICE, SY_STREAM, SY_EVENT_SYNC, SY_RECORD, SY_WAIT };

static int sync_kind(const char *name)
{
    static const char *const pre[] = {"cuda", "hip", "cu"};
    static const struct { const char *base; int kind; } m[] = {
        {"DeviceSynchronize", SY_DEVICE}, {"CtxSynchronize", SY_DEVICE},
        {"StreamSynchronize", SY_STREAM}, {"EventSynchronize", SY_EVENT_SYNC},
        {"EventRecord", SY_RECORD},       {"EventRecordWithFlags", SY_RECORD},
        {"StreamWaitEvent", SY_WAIT},
    };
    for (size_t p = 0; p < sizeof pre / sizeof pre[0]; p++) {
        size_t lp = strlen(pre[p]);
        if (strncmp(name, pre[p], lp) != 0)
            continue;
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
            size_t lb = strlen(m[i].base);
            if (strncmp(name + lp, m[i].base, lb) == 0 &&
                (name[lp + lb] == '\0' || name[lp + lb] == '_'))
                return m[i].kind;
        }
        return SY_NONE; /* "cuda..." is not also "cu..." */
    }
    return SY_NONE;
}

typedef struct tstate {
    int64_t last_gpu;      /* last GPU op this thread launched */
    int64_t recorded;      /* the op the last cudaEventRecord captured */
    int64_t pending;       /* a cudaStreamWaitEvent's op, for the next launch */
} tstate;

static void sync_call(bld *b, const tstate *t, int kind, uint32_t node,
                      const int64_t *last_of_stream, int nst)
{
    if (kind == SY_DEVICE) {
        for (int s = 0; s < nst; s++)
            if (last_of_stream[s] >= 0)
                wait_edge(b, last_of_stream[s], node, 1, -1);
    } else if (kind == SY_STREAM && t->last_gpu >= 0) {
        wait_edge(b, t->last_gpu, node, 1, -1);
    } else if (kind == SY_EVENT_SYNC && t->recorded >= 0) {
        wait_edge(b, t->recorded, node, 1, -1);
    }
}

static void cross_stream(bld *b)
{
    const pt_kineto *k = b->k;
    uint32_t *rt = loom_xmalloc((k->nev + 1) * sizeof *rt);
    size_t n = 0;
    for (size_t i = 0; i < k->nev; i++)
        if (k->ev[i].kind == PT_K_RT && b->node_of[i] >= 0)
            rt[n++] = (uint32_t)i;
    g_ev = k->ev;
    qsort(rt, n, sizeof *rt, cmp_host);
    int64_t *sid = loom_xmalloc((n + 1) * sizeof *sid), *last = loom_xmalloc((n + 1) * sizeof *last);
    int nst = 0;
    tstate t = {-1, -1, -1};
    for (size_t i = 0; i < n; i++) {
        const pt_kev *e = &k->ev[rt[i]];
        if (i == 0 || e->tid != k->ev[rt[i - 1]].tid)
            t = (tstate){-1, -1, -1};
        int kind = sync_kind(pt_str_get(b->strs, e->name));
        int64_t g = et_find_id(b->gpu_by_corr, b->ngpu, (uint64_t)e->corr);
        if (g >= 0 && b->node_of[g] >= 0) {
            if (t.pending >= 0)
                wait_edge(b, t.pending, (uint32_t)b->node_of[g], 0, -1);
            t.pending = -1;
            t.last_gpu = g;
            int s = 0;
            while (s < nst && sid[s] != k->ev[g].tid)
                s++;
            sid[s] = k->ev[g].tid; /* at most one stream per runtime call */
            last[s] = g;
            nst += s == nst;
        } else if (kind == SY_RECORD) {
            t.recorded = t.last_gpu;
        } else if (kind == SY_WAIT) {
            t.pending = t.recorded;
        } else {
            sync_call(b, &t, kind, (uint32_t)b->node_of[rt[i]], last, nst);
        }
    }
    free(rt);
    free(sid);
    free(last);
}

/* ---- launch latency ------------------------------------------------------- */

/* A GPU op that started later than everything it is known to wait for
 * (its launch, the op before it on its stream, a waited op) was held by
 * something the trace does not show (launch latency, lazy module loading,
 * an unseen event): an is_delay node between its launch and it keeps that
 * wait, so that replay starts it when the capture did. */
static void launch_gaps(bld *b, uint32_t first_gpu, uint32_t start)
{
    pt_rank *r = b->r;
    uint32_t name = pt_str(b->strs, "loom:launch_gap", 15);
    size_t nn = r->nn;
    for (size_t i = first_gpu; i < nn; i++) {
        if (r->n[i].cpu || r->n[i].nd == 0)
            continue;
        int64_t ready = b->w0;
        for (uint32_t k = 0; k < r->n[i].nd; k++) {
            const pt_node *d = &r->n[r->n[i].deps[k]];
            int64_t e = r->n[i].deps[k] == start ? b->w0 : d->t0 + (int64_t)d->dur_ns;
            ready = e > ready ? e : ready;
        }
        if (r->n[i].ctrl >= 0) {
            const pt_node *d = &r->n[r->n[i].ctrl];
            ready = d->t0 + (int64_t)d->dur_ns > ready ? d->t0 + (int64_t)d->dur_ns : ready;
        }
        if (r->n[i].t0 <= ready + TOL_NS)
            continue;
        uint32_t l = r->n[i].deps[0]; /* the launch, or the start node */
        int64_t from = l == start ? b->w0 : r->n[l].t0 + (int64_t)r->n[l].dur_ns;
        pt_node d = mk(from, name, PT_NOSTREAM, (uint64_t)(r->n[i].t0 - from));
        d.cpu = d.delay = 1;
        uint32_t di = pt_add(r, &d); /* r->n may move */
        pt_dep(r, di, l);
        r->n[i].deps[0] = di;
        r->ndelay++;
    }
}

/* ---- the rank ------------------------------------------------------------ */

int pt_build_kineto(const pt_kineto *k, pt_strs *strs, int step, int strict, pt_rank *r,
                    loom_err *err)
{
    memset(r, 0, sizeof *r);
    size_t ngpu = 0;
    for (size_t i = 0; i < k->nev; i++)
        ngpu += is_gpu(k->ev[i].kind);
    if (ngpu == 0)
        return loom_err_set(err, LOOM_ETRACE, "%s: no GPU events (kernel, gpu_memcpy, gpu_memset): "
                            "capture with activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]",
                            k->path);
    bld b = {.k = k, .strs = strs, .r = r};
    index_corr(&b);
    int rc = choose_step(&b, step, strict, err);
    if (rc == 0) {
        b.node_of = loom_xmalloc((k->nev + 1) * sizeof *b.node_of);
        b.parent = loom_xmalloc((k->nev + 1) * sizeof *b.parent);
        for (size_t i = 0; i < k->nev; i++)
            b.node_of[i] = b.parent[i] = -1;
        r->start_ns = b.w0;
        r->host_end_ns = r->end_ns = b.w1;
        r->has_clock = 1;
        r->device = k->device;
        pt_node s = mk(INT64_MIN, pt_str(strs, "loom:start_offset", 17), PT_NOSTREAM, 0);
        s.cpu = s.delay = 1;
        uint32_t start = pt_add(r, &s);
        host_threads(&b, start);
        uint32_t first_gpu = (uint32_t)r->nn;
        gpu_ops(&b, start);
        cross_stream(&b);
        launch_gaps(&b, first_gpu, start);
        if (r->nkernels + r->ncoll + r->np2p == 0)
            rc = loom_err_set(err, LOOM_ETRACE, "%s: no GPU events in the chosen step%s", k->path,
                              r->step >= 0 ? "" : " (the whole trace)");
    }
    free(b.rt_by_corr);
    free(b.gpu_by_corr);
    free(b.node_of);
    free(b.parent);
    if (rc < 0)
        pt_rank_free(r);
    return rc;
}
