/*
 * config_groups.c: the comm-group file (ASTRA-sim's JSON form
 * {"1": [0, 1, ...]}, plus loom's rules {stride: S, size: N}) and the
 * remote-memory file (ASTRA-sim's four memory types and their keys).
 */
#include "config_int.h"

#include <stdlib.h>
#include <string.h>

#include "yamlio.h"

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int cfg_load_groups(loom_cfg *cfg, const char *path, loom_err *err)
{
    cfg_doc dc;
    int rc = cfg_doc_load(&dc, path, err);
    if (rc < 0)
        goto out;
    int n = 0;
    yaml_node_pair_t *p = cfg_pairs(&dc, &n, err);
    if (p == NULL) {
        rc = LOOM_EUSAGE;
        goto out;
    }
    /* names first: a file may hold a group per rank, so no pairwise search */
    const char **names = loom_xcalloc((size_t)n + 1, sizeof *names);
    for (int i = 0; i < n && rc == 0; i++) {
        yaml_node_t *kn = cfg_node(&dc, p[i].key);
        names[i] = cfg_scalar(kn);
        if (names[i] == NULL || *names[i] == '\0')
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: a group name must be a plain string",
                              path, kn->start_mark.line + 1);
    }
    int w, twice = rc == 0 ? loom_yaml_first_dup(names, n, &w) : -1;
    if (twice >= 0)
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: group '%s' appears twice", path, names[twice]);
    free(names);
    if (rc < 0)
        goto out;
    cfg->groups = loom_xcalloc(n, sizeof *cfg->groups);
    for (int i = 0; i < n; i++) {
        const char *k = cfg_scalar(cfg_node(&dc, p[i].key));
        yaml_node_t *v = cfg_node(&dc, p[i].value);
        if (v->type == YAML_MAPPING_NODE) { /* a rule: {stride: S, size: N} */
            loom_group *g = &cfg->groups[cfg->ngroups++];
            g->name = loom_xstrdup(k);
            long long val[2] = {0, 0};
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                const char *rk = cfg_scalar(cfg_node(&dc, q->key));
                int which = rk && strcmp(rk, "stride") == 0 ? 0 : rk && strcmp(rk, "size") == 0 ? 1 : -1;
                if (which < 0) {
                    rc = loom_err_set(err, LOOM_EUSAGE,
                                      "%s: group '%s': unknown key '%s' (a rule has stride and size)",
                                      path, k, rk ? rk : "?");
                    goto out;
                }
                cfg_ctx c = {path, k, -1, err};
                c.key = which ? "size" : "stride";
                if ((rc = cfg_get_int(&c, cfg_node(&dc, q->value), 1, (1 << 24) - 1, &val[which])) < 0)
                    goto out;
            }
            if (val[0] == 0 || val[1] == 0) {
                rc = loom_err_set(err, LOOM_EUSAGE, "%s: group '%s': a rule needs both stride and size",
                                  path, k);
                goto out;
            }
            g->stride = (int)val[0];
            g->n = (int)val[1];
            continue;
        }
        if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start) {
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: group '%s' must be a non-empty list of ranks or a rule "
                              "{stride: S, size: N}", path, k);
            goto out;
        }
        loom_group *g = &cfg->groups[cfg->ngroups++];
        g->name = loom_xstrdup(k);
        g->n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
        g->ranks = loom_xmalloc(g->n * sizeof *g->ranks);
        for (int j = 0; j < g->n; j++) {
            cfg_ctx c = {path, k, j, err};
            long long r;
            if ((rc = cfg_get_int(&c, cfg_node(&dc, v->data.sequence.items.start[j]), 0, (1 << 24) - 1, &r)) < 0)
                goto out;
            g->ranks[j] = (int)r;
        }
        qsort(g->ranks, g->n, sizeof *g->ranks, cmp_int);
        for (int j = 1; j < g->n; j++)
            if (g->ranks[j] == g->ranks[j - 1]) {
                rc = loom_err_set(err, LOOM_EUSAGE, "%s: group '%s' lists rank %d twice", path, k,
                                  g->ranks[j]);
                goto out;
            }
    }
out:
    cfg_doc_free(&dc);
    return rc;
}

const char *const loom_rmem_names[LOOM_RMEM_KINDS] = {
    "NO_MEMORY_EXPANSION", "PER_NODE_MEMORY_EXPANSION", "PER_NPU_MEMORY_EXPANSION", "MEMORY_POOL"};

/* ASTRA-sim's AnalyticalRemoteMemory::get_remote_mem_runtime: its
 * remote_mem_bw is GB/s times 10^9 and FREQ 10^9 ticks (ns) a second;
 * the double quotient is truncated to whole ns. */
sim_time loom_rmem_time(const loom_rmem *m, uint64_t bytes)
{
    double ns = (double)bytes / ((double)m->bw_gbps * 1e9) * 1e9;
    return ((sim_time)m->latency_ns + (sim_time)ns) * SIM_PS_PER_NS;
}

/* One integer key of the remote-memory file into *out (left alone when
 * the key is absent). */
static int rmem_int(cfg_doc *dc, const char *key, long long lo, long long hi, long long *out,
                    loom_err *err)
{
    yaml_node_t *v = cfg_lookup(dc, key);
    cfg_ctx c = {.path = dc->path, .key = key, .index = -1, .err = err};
    return v ? cfg_get_int(&c, v, lo, hi, out) : 0;
}

/* {"memory-type": T, "remote-mem-latency": ns, "remote-mem-bw": GB/s,
 *  "num-nodes": N, "num-npus-per-node": P}: the keys ASTRA-sim's
 * AnalyticalRemoteMemory constructor reads, with its defaults (latency 0;
 * the node shape only for PER_NODE).  It stores them in uint64_t, so loom
 * takes integers; a bandwidth of 0 (its default) would divide by zero
 * there and is refused here for the kinds that use it. */
int cfg_load_remote_mem(loom_cfg *cfg, const char *path, loom_err *err)
{
    static const char *const keys[] = {"memory-type", "remote-mem-latency", "remote-mem-bw",
                                       "num-nodes", "num-npus-per-node"};
    cfg_doc dc;
    loom_rmem *m = &cfg->rmem;
    long long lat = 0, bw = 0, nodes = 0, per = 0;
    int kind = 0;
    int rc = cfg_doc_load(&dc, path, err);
    if (rc == 0)
        rc = cfg_check_keys(&dc, keys, 5, err);
    if (rc == 0) {
        yaml_node_t *v = cfg_lookup(&dc, "memory-type");
        cfg_ctx c = {.path = path, .key = "memory-type", .index = -1, .err = err};
        if (v == NULL)
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: key 'memory-type' is missing (one of %s, %s, "
                              "%s, %s)", path, loom_rmem_names[0], loom_rmem_names[1],
                              loom_rmem_names[2], loom_rmem_names[3]);
        else
            rc = cfg_get_enum(&c, v, loom_rmem_names, LOOM_RMEM_KINDS, &kind);
    }
    if (rc == 0 && ((rc = rmem_int(&dc, "remote-mem-latency", 0, 1000000000000LL, &lat, err)) < 0 ||
                    (rc = rmem_int(&dc, "remote-mem-bw", kind == LOOM_RMEM_NONE ? 0 : 1,
                                   1000000000LL, &bw, err)) < 0 ||
                    (rc = rmem_int(&dc, "num-nodes", 1, 1 << 24, &nodes, err)) < 0 ||
                    (rc = rmem_int(&dc, "num-npus-per-node", 1, 1 << 24, &per, err)) < 0))
        goto out;
    if (rc == 0 && kind != LOOM_RMEM_NONE && cfg_lookup(&dc, "remote-mem-bw") == NULL)
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: key 'remote-mem-bw' is missing (GB/s, an "
                          "integer >= 1; %s needs it)", path, loom_rmem_names[kind]);
    if (rc == 0 && kind == LOOM_RMEM_PER_NODE && (nodes == 0 || per == 0))
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: key '%s' is missing (%s needs num-nodes and "
                          "num-npus-per-node)", path, nodes ? "num-npus-per-node" : "num-nodes",
                          loom_rmem_names[kind]);
    if (rc == 0) {
        *m = (loom_rmem){.kind = kind, .latency_ns = lat, .bw_gbps = bw, .num_nodes = (int)nodes,
                         .npus_per_node = (int)per, .path = loom_xstrdup(path)};
        if (kind != LOOM_RMEM_PER_NODE && (nodes || per))
            cfg_note(cfg, "remote memory: num-nodes and num-npus-per-node (read for "
                          "PER_NODE_MEMORY_EXPANSION only, as in ASTRA-sim; here %s)",
                     loom_rmem_names[kind]);
        if (kind == LOOM_RMEM_NONE && (lat || bw))
            cfg_note(cfg, "remote memory: remote-mem-latency and remote-mem-bw (%s: memory "
                          "nodes use local-mem-bw)", loom_rmem_names[kind]);
    }
out:
    cfg_doc_free(&dc);
    return rc;
}
