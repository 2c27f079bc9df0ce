/*
 * config_groups.c: the comm-group file (ASTRA-sim's JSON form
 * {"1": [0, 1, ...]}, plus loom's rules {stride: S, size: N}) and the
 * remote-memory file (only NO_MEMORY_EXPANSION is modelled).
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

int cfg_load_remote_mem(const char *path, loom_err *err)
{
    static const char *const keys[] = {"memory-type"};
    cfg_doc dc;
    int rc = cfg_doc_load(&dc, path, err);
    if (rc == 0)
        rc = cfg_check_keys(&dc, keys, 1, err);
    if (rc == 0) {
        yaml_node_t *v = cfg_lookup(&dc, "memory-type");
        const char *s = v ? cfg_scalar(v) : NULL;
        if (s == NULL || strcmp(s, "NO_MEMORY_EXPANSION") != 0)
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: key 'memory-type': '%s' is not supported (loom models "
                              "NO_MEMORY_EXPANSION only)", path, s ? s : "(missing)");
    }
    cfg_doc_free(&dc);
    return rc;
}

