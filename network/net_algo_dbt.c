/*
 * net_algo_dbt.c: the double binary tree (ASTRA-sim's "doubleBinaryTree";
 * docs/MODEL.md 5
 * "doubleBinaryTree", NETWORK.md 4.5), all-reduce only: two trees of depth D = floor(log2 p),
 * each carrying N/2; D steps up (reducing), D steps down.  A node's two
 * children share its one ingress on SWITCH and RING (N per step), have
 * their own links on FC (N/2).  Reduction: the N bytes a parent receives
 * from its two children (2 * N/2), i.e. red(N) = 3N/M per up step.
 *
 * The flow model builds NCCL's two trees (restated below) per phase in
 * setup(); teardown() frees them.
 */
#include "net_algo.h"

#include <stdlib.h>

static int dbt_runs(net_model *m, const net_vdim *v, net_phase_kind kind, net_coll op, int inner,
                    int warn)
{
    char dl[64];
    if (kind == PH_AR)
        return 1;
    if (warn && inner)
        net_warn_once(m, v->dim,
                      "doubleBinaryTree on %s runs only as the top "
                      "phase of a hierarchical all-reduce; the "
                      "reduce-scatter/all-gather phases there use ring",
                      net_dim_label(v->dim, dl, sizeof dl));
    else if (warn)
        net_warn_once(m, v->dim,
                      "doubleBinaryTree on %s implements all-reduce "
                      "only; %s uses ring there",
                      net_dim_label(v->dim, dl, sizeof dl), net_coll_name(op));
    return 0;
}

static double dbt_time(const net_phase *ph, const net_cost *c)
{
    const net_vdim *v = &ph->v;
    LOOM_ASSERT(ph->kind == PH_AR);
    double N = ph->buf;
    int D = net_ilog2(v->p);
    int h;
    double m;
    switch (v->kind) {
    case NET_FULLY_CONNECTED: m = N / 2; h = net_hops(v, 1); break;
    case NET_SWITCH: m = N; h = net_hops(v, 1); break;
    case NET_RING:
    default: m = N; h = net_hops(v, (v->p + 3) / 4); break;
    }
    return D * (net_step(v, c, h, m, ph->reduce ? N : 0) + net_step(v, c, h, m, 0));
}

/* ---- the two trees (NCCL's construction, restated) ---------------------- */

typedef struct dbt {
    int D;       /* depth of the deeper tree */
    int *par[2]; /* parent position per tree, -1 at the root */
    int *dep[2]; /* depth per tree */
    int *ch[2];  /* two children per position, -1 if none */
} dbt;

/* In-order binary tree over 0..n-1: a rank's parent and children follow
 * from its lowest set bit; rank 0 is the root with one child. */
static void btree(int n, int r, int *up, int *d0, int *d1)
{
    int bit;
    for (bit = 1; bit < n; bit <<= 1)
        if (bit & r)
            break;
    if (r == 0) {
        *up = -1;
        *d0 = -1;
        *d1 = n > 1 ? bit >> 1 : -1;
        return;
    }
    int u = (r ^ bit) | (bit << 1);
    if (u >= n)
        u = r ^ bit;
    *up = u;
    int low = bit >> 1;
    *d0 = low == 0 ? -1 : r - low;
    int x = low == 0 ? -1 : r + low;
    while (low > 0 && x >= n) {
        low >>= 1;
        x = low == 0 ? -1 : r + low;
    }
    *d1 = x;
}

/* The second tree: mirrored (n even) or shifted by one (n odd), so that
 * a leaf of one tree is an inner node of the other. */
static int t2_map(int n, int r) { return n % 2 == 0 ? n - 1 - r : (r + n - 1) % n; }
static int t2_unmap(int n, int r) { return n % 2 == 0 ? n - 1 - r : (r + 1) % n; }

static void dbt_setup(net_xphase *P)
{
    int p = P->p;
    dbt *T = loom_xcalloc(1, sizeof *T);
    for (int t = 0; t < 2; t++) {
        T->par[t] = loom_xmalloc((size_t)p * sizeof(int));
        T->dep[t] = loom_xmalloc((size_t)p * sizeof(int));
        T->ch[t] = loom_xmalloc(2 * (size_t)p * sizeof(int));
        for (int i = 0; i < p; i++) {
            int r = t == 0 ? i : t2_map(p, i), u, a, b;
            btree(p, r, &u, &a, &b);
            if (t == 1) {
                u = u < 0 ? -1 : t2_unmap(p, u);
                a = a < 0 ? -1 : t2_unmap(p, a);
                b = b < 0 ? -1 : t2_unmap(p, b);
            }
            T->par[t][i] = u;
            T->ch[t][2 * i] = a;
            T->ch[t][2 * i + 1] = b;
        }
    }
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < p; i++) {
            int d = 0;
            for (int x = i; T->par[t][x] >= 0; x = T->par[t][x])
                d++;
            T->dep[t][i] = d;
            if (d > T->D)
                T->D = d;
        }
    P->priv = T;
}

static void dbt_teardown(net_xphase *P)
{
    dbt *T = P->priv;
    if (T == NULL)
        return;
    for (int t = 0; t < 2; t++) {
        free(T->par[t]);
        free(T->dep[t]);
        free(T->ch[t]);
    }
    free(T);
    P->priv = NULL;
}

static int dbt_steps(const net_xphase *P) { return 2 * ((const dbt *)P->priv)->D; }

/* Up (s < D): depth D-s sends its half to its parent, which reduces it;
 * down: depth s-D sends to its children. */
static int dbt_step(const net_xphase *P, int i, int s, uint64_t T, net_xstep *o)
{
    const dbt *tr = P->priv;
    int D = tr->D, ns = 0;
    for (int t = 0; t < 2; t++) {
        uint64_t half = net_piece(T, 2, (uint64_t)t);
        int dep = tr->dep[t][i];
        if (s < D) {
            if (dep == D - s && tr->par[t][i] >= 0) {
                o->peer[ns] = tr->par[t][i];
                o->bytes[ns++] = half;
            }
            if (dep == D - s - 1)
                for (int c = 0; c < 2; c++)
                    if (tr->ch[t][2 * i + c] >= 0) {
                        o->nrecv++;
                        if (P->ph.reduce)
                            o->red += (double)half;
                    }
        } else {
            int k = s - D;
            if (dep == k)
                for (int c = 0; c < 2; c++)
                    if (tr->ch[t][2 * i + c] >= 0) {
                        o->peer[ns] = tr->ch[t][2 * i + c];
                        o->bytes[ns++] = half;
                    }
            if (dep == k + 1)
                o->nrecv++;
        }
    }
    return ns;
}

static const char *const aliases[] = {"doubleBinaryTree", NULL};
static const char *const astra_names[] = {"doubleBinaryTree", NULL};

const net_algo_ops net_algo_dbt = {
    .name = "dbt",
    .aliases = aliases,
    .label = "doubleBinaryTree",
    .astra = NET_ALGO_DBT,
    .astra_names = astra_names,
    .runs = dbt_runs,
    .time = dbt_time,
    .steps = dbt_steps,
    .step = dbt_step,
    .setup = dbt_setup,
    .teardown = dbt_teardown,
};
