/*
 * net_algo_custom.c: a custom collective (ASTRA-sim's
 * `*-implementation-custom`) run as its plan: every member's DAG of sends,
 * receives and compute steps, as ASTRA-sim's CustomAlgorithm runs the
 * algorithm's Chakra traces (astra-sim/system/astraccl/custom_collectives/
 * CustomAlgorithm.cc: issue the dependency-free nodes, release successors
 * when one finishes, the collective ends when every node has).
 *
 * A send is a point-to-point message through net_p2p_start(), so the
 * analytical model prices it as any message (route latency plus bytes
 * over the slowest link) and the flow model shares links with everything
 * else in flight.  A send finishes when its message arrives; a receive
 * when it is posted (its dependencies done) and the matching message --
 * the first not yet matched from that source with that tag -- has
 * arrived.  Compute steps take the time core/sim gave them.
 *
 * Sizes: each send moves bytes x (collective size / the plan's size),
 * rounded to the byte, so a plan written for 1 MiB also times other sizes
 * (ASTRA-sim instead moves the plan's bytes whatever the workload's size;
 * the two agree when the sizes are equal, docs/NETWORK.md).
 *
 * Not an entry of net_algos.def: it is chosen by the system file's key,
 * per operation, not by name, and has no closed form or step plan.
 */
#include "net.h"
#include "net_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pexec {
    net_model *m;
    const net_cplan *p;
    int *ranks;         /* position -> rank */
    double scale;       /* bytes / p->bytes */
    net_done_fn done;
    void *ctx;
    uint32_t *left;     /* per node (global index): dependencies not done */
    uint32_t *succ;     /* successors, grouped per node: succ[sfirst[i] ..) */
    uint32_t *sfirst;   /* nodes + 1 entries */
    uint8_t *posted;    /* RECV: dependencies done */
    uint8_t *arrived;   /* RECV: its message is in */
    size_t remaining;   /* nodes not finished */
} pexec;

typedef struct pev {   /* an event's payload (<= NET_EV_PAYLOAD_MAX bytes) */
    pexec *x;
    uint32_t node;      /* global node index */
} pev;

void net_cplan_free(net_cplan *p)
{
    if (p == NULL)
        return;
    free(p->name);
    free(p->first);
    free(p->nodes);
    free(p->deps);
    free(p);
}

static void issue(pexec *x, sim_engine *eng, uint32_t i);

static void finish(pexec *x, sim_engine *eng, uint32_t i)
{
    for (uint32_t k = x->sfirst[i]; k < x->sfirst[i + 1]; k++)
        if (--x->left[x->succ[k]] == 0)
            issue(x, eng, x->succ[k]);
    if (--x->remaining == 0) {
        net_done_fn done = x->done;
        void *ctx = x->ctx;
        free(x->ranks);
        free(x->left);
        free(x->succ);
        free(x->sfirst);
        free(x->posted);
        free(x->arrived);
        free(x);
        done(eng, ctx);
    }
}

static void on_comp(sim_engine *eng, void *payload, void *ctx)
{
    (void)ctx;
    pev *e = payload;
    finish(e->x, eng, e->node);
}

/* The member (position) whose nodes hold global index i. */
static int member_of(const net_cplan *p, uint32_t i)
{
    int lo = 0, hi = p->members - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (p->first[mid] <= i)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

typedef struct psend { /* a message in flight */
    pexec *x;
    uint32_t node;
} psend;

static void on_arrive(sim_engine *eng, void *ctx)
{
    psend *s = ctx;
    pexec *x = s->x;
    const net_cplan *p = x->p;
    uint32_t i = s->node;
    free(s);
    int src = member_of(p, i), dst = p->nodes[i].peer;
    /* the first receive at dst from src with this tag not yet matched */
    for (uint32_t r = p->first[dst]; r < p->first[dst + 1]; r++) {
        const net_pnode *n = &p->nodes[r];
        if (n->kind == NET_PRECV && n->peer == src && n->tag == p->nodes[i].tag && !x->arrived[r]) {
            x->arrived[r] = 1;
            if (x->posted[r])
                finish(x, eng, r);
            break;
        }
    }
    finish(x, eng, i); /* the send */
}

static void issue(pexec *x, sim_engine *eng, uint32_t i)
{
    const net_pnode *n = &x->p->nodes[i];
    switch (n->kind) {
    case NET_PSEND: {
        psend *s = loom_xmalloc(sizeof *s);
        s->x = x;
        s->node = i;
        double b = nearbyint((double)n->bytes * x->scale);
        net_p2p_start(x->m, eng, x->ranks[member_of(x->p, i)], x->ranks[n->peer],
                      b < 1.8e19 ? (uint64_t)b : UINT64_MAX, on_arrive, s);
        break;
    }
    case NET_PRECV:
        x->posted[i] = 1;
        if (x->arrived[i])
            finish(x, eng, i);
        break;
    case NET_PCOMP: {
        sim_time now = sim_now(eng);
        pev *e = sim_schedule(eng, n->dur < SIM_TIME_MAX - now ? now + n->dur : SIM_TIME_MAX,
                              on_comp);
        e->x = x;
        e->node = i;
        break;
    }
    }
}

void net_cplan_start(net_model *m, sim_engine *eng, const net_cplan *p, const int *ranks,
                    uint64_t bytes, net_done_fn done, void *ctx)
{
    LOOM_ASSERT(sizeof(pev) <= NET_EV_PAYLOAD_MAX && p->members >= 1 && done != NULL);
    size_t n = p->first[p->members];
    LOOM_ASSERT(n > 0); /* core/sim refuses an empty plan */
    pexec *x = loom_xcalloc(1, sizeof *x);
    x->m = m;
    x->p = p;
    x->ranks = loom_xmalloc((size_t)p->members * sizeof *x->ranks);
    memcpy(x->ranks, ranks, (size_t)p->members * sizeof *x->ranks);
    x->scale = p->bytes ? (double)bytes / (double)p->bytes : 1.0;
    x->done = done;
    x->ctx = ctx;
    x->remaining = n;
    x->left = loom_xcalloc(n, sizeof *x->left);
    x->sfirst = loom_xcalloc(n + 1, sizeof *x->sfirst);
    x->posted = loom_xcalloc(n, 1);
    x->arrived = loom_xcalloc(n, 1);
    /* successors by counting: sfirst[d+1] counts d's, then prefix sums */
    size_t nd = 0;
    for (int mm = 0; mm < p->members; mm++)
        for (uint32_t i = p->first[mm]; i < p->first[mm + 1]; i++) {
            x->left[i] = p->nodes[i].ndeps;
            for (uint32_t k = 0; k < p->nodes[i].ndeps; k++)
                x->sfirst[p->first[mm] + p->deps[p->nodes[i].dep + k] + 1]++;
            nd += p->nodes[i].ndeps;
        }
    for (size_t i = 0; i < n; i++)
        x->sfirst[i + 1] += x->sfirst[i];
    x->succ = loom_xcalloc(nd ? nd : 1, sizeof *x->succ);
    uint32_t *fill = loom_xcalloc(n, sizeof *fill);
    for (int mm = 0; mm < p->members; mm++)
        for (uint32_t i = p->first[mm]; i < p->first[mm + 1]; i++)
            for (uint32_t k = 0; k < p->nodes[i].ndeps; k++) {
                uint32_t d = p->first[mm] + p->deps[p->nodes[i].dep + k];
                x->succ[x->sfirst[d] + fill[d]++] = i;
            }
    free(fill);
    for (size_t i = 0; i < n; i++)
        if (x->left[i] == 0)
            issue(x, eng, (uint32_t)i);
}
