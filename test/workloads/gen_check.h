/*
 * gen_check.h: how the `loom gen` tests (test_gen.c, test_layers.c,
 * test_pos.c, test_mlp.c) (and test_convert.c, `loom trace convert-text`)
 * look into what they wrote: a node by name or by the end of its name, a
 * data dependency between two nodes, a rank's trace loaded and tallied, an
 * exit code with its message, names that must not appear, a file's inode,
 * the ring all-reduce's closed form; and the small model they generate.  Included after
 * <cmocka.h>; every function is static inline, so each test program keeps
 * only what it uses.
 */
#ifndef LOOM_TEST_GEN_CHECK_H
#define LOOM_TEST_GEN_CHECK_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "et_graph.h"
#include "loomrun.h"

/* GPT-style, 2 layers of h 1024 (16 heads, f 4096), sequence 256, a
 * vocabulary of 1000, tp 2 pp 2 dp 2, 8 sequences a step */
#define SMALL "--hidden", "1024", "--ffn", "4096", "--heads", "16", "--layers", "2", "--seq", "256", \
              "--vocab", "1000", "--tp", "2", "--pp", "2", "--dp", "2", "--global-batch", "8"

/* A path in the test program's scratch folder (loomrun_setup's). */
static inline const char *tp(const char *name) { return loomrun_path(name); }

/* Writes a small file into the scratch folder, its sub-folder made first. */
static inline void put(const char *name, const char *text)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", tp(name));
    *strrchr(dir, '/') = '\0';
    mkdir(dir, 0755);
    loomrun_write(tp(name), text);
}

/* The node called name (the test fails without one). */
static inline const et_gnode *named(const et_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(et_gnode_name(g, &g->nodes[i]), name) == 0)
            return &g->nodes[i];
    fail_msg("no node %s", name);
    return NULL;
}

/* Nodes whose name ends with "." suffix (every layer's kernel of that
 * name); the last one's FLOPs and bytes. */
static inline int ending_with(const et_graph *g, const char *suffix, uint64_t *flops,
                              uint64_t *bytes)
{
    int n = 0;
    size_t ls = strlen(suffix);
    for (size_t i = 0; i < g->n; i++) {
        const char *nm = et_gnode_name(g, &g->nodes[i]);
        size_t ln = strlen(nm);
        if (ln > ls && nm[ln - ls - 1] == '.' && strcmp(nm + ln - ls, suffix) == 0) {
            n++;
            *flops = g->nodes[i].num_ops;
            *bytes = g->nodes[i].tensor_size;
        }
    }
    return n;
}

/* 1 when n has a data dependency on `on`. */
static inline int depends(const et_graph *g, const et_gnode *n, const et_gnode *on)
{
    for (uint32_t k = 0; k < n->ndata; k++)
        if (&g->nodes[g->deps[n->dep + k]] == on)
            return 1;
    return 0;
}

/* 1 when n waits for `on`: a data or a ctrl dependency. */
static inline int waits_for(const et_graph *g, const et_gnode *n, const et_gnode *on)
{
    for (uint32_t k = 0; k < n->ndata + n->nctrl; k++)
        if (&g->nodes[g->deps[n->dep + k]] == on)
            return 1;
    return 0;
}

/* Rank `rank`'s trace of a step written with --out prefix, loaded. */
static inline et_graph *load_prefix(const char *prefix, int rank)
{
    char path[600];
    snprintf(path, sizeof path, "%s.%d.et", prefix, rank);
    loom_err err = {0};
    et_graph *g = et_graph_load(path, &err);
    if (g == NULL)
        fail_msg("%s: %s", path, err.msg);
    return g;
}

/* The last run exited `want` and, when needle is given, said it. */
static inline void expect_exit(int rc, int want, const char *needle)
{
    if (rc != want)
        fail_msg("exit %d, expected %d; stderr: %s", rc, want, loomrun_err);
    if (needle && strstr(loomrun_err, needle) == NULL && strstr(loomrun_out, needle) == NULL)
        fail_msg("output lacks '%s'; stderr: %s", needle, loomrun_err);
}

/* Fails if a node's name in g contains one of the NULL-ended strings. */
static inline void no_node_with(const et_graph *g, const char *const *subs)
{
    for (size_t i = 0; i < g->n; i++)
        for (const char *const *q = subs; *q; q++)
            if (strstr(et_gnode_name(g, &g->nodes[i]), *q))
                fail_msg("node %s: no name should contain %s", et_gnode_name(g, &g->nodes[i]), *q);
}

/* What one rank's trace holds: collectives by type, sends, receives,
 * compute nodes, and their bytes. */
typedef struct tally {
    int colls[ET_COLL_TYPES];
    double bytes[ET_COLL_TYPES];
    int sends, recvs, comps;
    double send_bytes, recv_bytes;
} tally;

static inline tally count(const char *path)
{
    loom_err err = {0};
    et_graph *g = et_graph_load(path, &err);
    if (g == NULL)
        fail_msg("%s", err.msg);
    tally t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        if (n->type == ET_COMM_COLL_NODE) {
            t.colls[n->comm_type]++;
            t.bytes[n->comm_type] += (double)n->comm_size;
        } else if (n->type == ET_COMM_SEND_NODE) {
            t.sends++;
            t.send_bytes += (double)n->comm_size;
        } else if (n->type == ET_COMM_RECV_NODE) {
            t.recvs++;
            t.recv_bytes += (double)n->comm_size;
        } else if (n->type == ET_COMP_NODE) {
            t.comps++;
        }
    }
    et_graph_free(g);
    return t;
}

/* A file's inode (hard links share one). */
static inline ino_t inode(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("%s: missing", path);
    return st.st_ino;
}

/* Closed forms (docs/MODEL.md), in ns. */
#define GIB 1073741824.0

/* ring on one dimension with W = 1 and hops h per step:
 * AR = 2(p-1)(hL + d) + 2(p-1)/p N/B + (p-1) 3 (N/p)/M */
static inline double ring_ar(int p, double N, double B, double L, double d, double M, int h)
{
    return 2 * (p - 1) * (h * L + d) + 2.0 * (p - 1) / p * N / B * 1e9 + (p - 1) * 3 * (N / p) / M * 1e9;
}

#endif
