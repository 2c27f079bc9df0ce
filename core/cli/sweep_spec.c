#include "sweep_int.h"

#include <getopt.h>

#include "cmds.h"

/*
 * sweep_spec.c: a sweep spec (docs/SWEEP.md, "The spec") read from YAML,
 * and what each of its configurations runs.
 *
 * Invariants:
 *  - Every axis value is kept as text: YAML flow text for a --set axis
 *    (what `--set KEY=TEXT` parses back to the same value), the scalar as
 *    written for a file or generator axis.  Keys and the CSV are built from
 *    that text, so they do not depend on how YAML spelled a value.
 *  - No two configurations share a key: an axis (or a zip group's tuple)
 *    may not list a value twice, and an axis may not be given twice.
 *  - Configuration i is the nested-loop index over the groups, the last
 *    group fastest; a group's axes advance together.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "yamlio.h"

#define FNV0 0xcbf29ce484222325ULL

/* FNV-1a over s and its NUL, so that ("ab","c") and ("a","bc") differ. */
static uint64_t fnv_str(uint64_t h, const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    do {
        h ^= *c;
        h *= 0x100000001b3ULL;
    } while (*c++);
    return h;
}

static const char *const base_keys[4] = {"workload", "network", "system", "comm-group"};

void sw_spec_free(sw_spec *s)
{
    free(s->dir);
    free(s->gen);
    for (int i = 0; i < 2 * s->ngenflags; i++)
        free(s->genflags[i]);
    free(s->genflags);
    for (int i = 0; i < 4; i++)
        free(s->base[i]);
    for (int i = 0; i < s->nsets; i++)
        free(s->sets[i]);
    free(s->sets);
    for (int a = 0; a < s->naxes; a++) {
        free(s->axes[a].key);
        for (int v = 0; s->axes[a].vals && s->axes[a].vals[v]; v++)
            free(s->axes[a].vals[v]);
        free(s->axes[a].vals);
    }
    free(s->axes);
    free(s->groups);
    memset(s, 0, sizeof *s);
}

/* ---- YAML helpers --------------------------------------------------------- */

typedef struct yctx {
    yaml_document_t d; /* the spec */
    const char *path;  /* for messages */
    loom_err *err;     /* where the first problem goes */
} yctx;

static yaml_node_t *ynode(yctx *y, int i) { return yaml_document_get_node(&y->d, i); }
static int yline(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

static const char *yscalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int spec_bad(yctx *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int spec_bad(yctx *y, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        return loom_err_set(y->err, LOOM_EUSAGE, "%s: line %d: %s", y->path, yline(n), msg);
    return loom_err_set(y->err, LOOM_EUSAGE, "%s: %s", y->path, msg);
}

/* A scalar that YAML reads back as the same text without quotes. */
static int plain_safe(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '+' || c == '-' || c == '/'))
            return 0;
    }
    return 1;
}

static void yflow_scalar(const char *s, size_t len, sbuf *b)
{
    if (plain_safe(s, len)) {
        sb_add(b, s, len);
        return;
    }
    sb_str(b, "\"");
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c == '\n')
            sb_str(b, "\\n");
        else if (c == '\t')
            sb_str(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            sb_printf(b, "\\x%02x", c);
        else
            sb_add(b, &s[k], 1);
    }
    sb_str(b, "\"");
}

/* Node i as YAML flow text: what `--set KEY=TEXT` parses back to the same
 * value.  Aliases are written out expanded; yamlio.h bounds that text (at
 * most LOOM_YAML_MAX_NODES nodes, LOOM_YAML_MAX_TEXT bytes of scalars) and
 * the recursion (acyclic, at most LOOM_YAML_MAX_DEPTH levels). */
static void yflow(yctx *y, int i, sbuf *b, int depth)
{
    LOOM_ASSERT(depth <= LOOM_YAML_MAX_DEPTH);
    yaml_node_t *n = ynode(y, i);
    switch (n->type) {
    case YAML_SCALAR_NODE:
        yflow_scalar((const char *)n->data.scalar.value, n->data.scalar.length, b);
        break;
    case YAML_SEQUENCE_NODE: {
        sb_str(b, "[");
        int cnt = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        for (int k = 0; k < cnt; k++) {
            if (k)
                sb_str(b, ",");
            yflow(y, ynode(y, i)->data.sequence.items.start[k], b, depth + 1);
        }
        sb_str(b, "]");
        break;
    }
    case YAML_MAPPING_NODE: {
        sb_str(b, "{");
        int cnt = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        for (int k = 0; k < cnt; k++) {
            yaml_node_pair_t p = ynode(y, i)->data.mapping.pairs.start[k];
            if (k)
                sb_str(b, ",");
            yflow(y, p.key, b, depth + 1);
            sb_str(b, ": ");
            yflow(y, p.value, b, depth + 1);
        }
        sb_str(b, "}");
        break;
    }
    default:
        break;
    }
}

static char *yflow_dup(yctx *y, int i)
{
    sbuf b = {0};
    yflow(y, i, &b, 1);
    if (b.p == NULL)
        return loom_xstrdup("");
    return b.p;
}

static int check_unique_keys(yctx *y, yaml_node_t *map)
{
    yaml_node_pair_t *p = map->data.mapping.pairs.start;
    int n = (int)(map->data.mapping.pairs.top - p), w;
    const char **keys = loom_xcalloc((size_t)n + 1, sizeof *keys);
    for (int i = 0; i < n; i++) {
        keys[i] = yscalar(ynode(y, p[i].key));
        if (keys[i] == NULL) { /* yamlio refuses these; kept for the message */
            free(keys);
            return spec_bad(y, ynode(y, p[i].key), "a key must be a plain name");
        }
    }
    int j = loom_yaml_first_dup(keys, n, &w);
    free(keys);
    if (j >= 0)
        return spec_bad(y, ynode(y, p[j].key), "key '%s' appears twice", yscalar(ynode(y, p[j].key)));
    return 0;
}

/* "key=value", malloc'd. */
static char *key_eq(const char *key, const char *val)
{
    size_t n = strlen(key) + strlen(val) + 2;
    char *r = loom_xmalloc(n);
    snprintf(r, n, "%s=%s", key, val);
    return r;
}

/* "--flag", malloc'd. */
static char *dashdash(const char *flag)
{
    size_t n = strlen(flag) + 3;
    char *r = loom_xmalloc(n);
    snprintf(r, n, "--%s", flag);
    return r;
}

/* ---- axes ----------------------------------------------------------------- */

static int axis_kind(const char *k)
{
    if (strncmp(k, "network.", 8) == 0 || strncmp(k, "system.", 7) == 0)
        return AX_SET;
    for (int i = 0; i < 4; i++)
        if (strcmp(k, base_keys[i]) == 0)
            return AX_WORKLOAD + i;
    return -1;
}

/* Whether a spec may set `loom gen GEN --f V`: f must be, by its exact
 * name, a flag of that generator that takes a value, and not one the
 * sweep owns (the output and the noise).  Exact, because getopt_long
 * would also take an abbreviation: `network-o` reached --network-out and
 * wrote a file anywhere.  NULL if it may; else why not. */
static const char *gen_flag_refused(const char *gen, const char *f)
{
    static const char *const owned[] = {"out", "quiet", "help", "network-out", "system-out"};
    const struct option *o = loom_gen_options(gen);
    if (o == NULL)
        return "the generator is not micro or llm";
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (strcmp(f, owned[i]) == 0)
            return "the sweep sets --out and --quiet itself, and writes no network or system "
                   "file";
    for (; o->name; o++)
        if (strcmp(o->name, f) == 0)
            return o->has_arg == required_argument ? NULL : "it takes no value";
    return "no such flag (flags are named in full, as `loom gen GENERATOR --help` lists them)";
}

/* The kind of axis `key` (at kn), or an error naming it. */
static int axis_key_kind(yctx *y, const sw_spec *s, yaml_node_t *kn, const char *key)
{
    int kind = axis_kind(key);
    if (strncmp(key, "gen.", 4) == 0) {
        if (s->gen == NULL)
            return spec_bad(y, kn, "axis '%s': a generator flag needs a 'gen' recipe", key);
        const char *why = gen_flag_refused(s->gen, key + 4);
        if (why)
            return spec_bad(y, kn, "axis '%s': not a flag of `loom gen %s` the sweep may set: "
                                   "%s", key, s->gen, why);
        kind = AX_GEN;
    }
    if (kind == AX_WORKLOAD && s->gen)
        return spec_bad(y, kn, "axis 'workload' and a 'gen' recipe exclude each other");
    if (kind < 0)
        return spec_bad(y, kn, "unknown axis key '%s' (an axis is a --set key such as "
                               "network.bandwidth[1] or system.preferred-dataset-splits, "
                               "or an input file: workload, network, system, comm-group)",
                        key);
    return kind; /* an axis given twice: axes_unique(), once all are read */
}

/* Adds the axis of pair p (key: [values]) to group g, the last group. */
static int add_axis(yctx *y, sw_spec *s, sw_group *g, yaml_node_pair_t p)
{
    yaml_node_t *kn = ynode(y, p.key), *vn = ynode(y, p.value);
    const char *key = yscalar(kn);
    int kind = axis_key_kind(y, s, kn, key);
    if (kind < 0)
        return kind;
    if (vn->type != YAML_SEQUENCE_NODE)
        return spec_bad(y, vn, "axis '%s' must be a list of values, e.g. [25, 50, 100]", key);
    int len = (int)(vn->data.sequence.items.top - vn->data.sequence.items.start);
    if (len == 0)
        return spec_bad(y, vn, "axis '%s' has no values", key);
    if (g->len >= 0 && len != g->len)
        return spec_bad(y, vn, "zipped axis '%s' has %d values but '%s' has %d: lists in one "
                               "zip group advance together and need the same length",
                        key, len, s->axes[g->first].key, g->len);
    g->len = len;
    s->axes = loom_xrealloc(s->axes, (size_t)(s->naxes + 1) * sizeof *s->axes);
    sw_axis *ax = &s->axes[s->naxes++];
    g->naxes++;
    ax->key = loom_xstrdup(key);
    ax->kind = kind;
    ax->line = yline(kn);
    ax->vals = loom_xcalloc((size_t)len + 1, sizeof *ax->vals);
    for (int v = 0; v < len; v++) {
        int item = ynode(y, p.value)->data.sequence.items.start[v];
        yaml_node_t *it = ynode(y, item);
        if (kind == AX_GEN && yscalar(it) == NULL)
            return spec_bad(y, it, "axis '%s': value %d must be a single value", key, v);
        if (kind != AX_SET && kind != AX_GEN && (yscalar(it) == NULL || !yscalar(it)[0]))
            return spec_bad(y, it, "axis '%s': value %d must be a file name", key, v);
        ax->vals[v] = kind == AX_SET ? yflow_dup(y, item) : loom_xstrdup(yscalar(it));
    }
    return 0;
}

/* Adds one group from a mapping {key: [values], ...} whose lists have equal length. */
static int add_group(yctx *y, sw_spec *s, yaml_node_t *map, int zipped)
{
    int rc = check_unique_keys(y, map);
    if (rc < 0)
        return rc;
    int n = (int)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n == 0)
        return spec_bad(y, map, "an entry of 'axes' must name at least one axis");
    s->groups = loom_xrealloc(s->groups, (size_t)(s->ngroups + 1) * sizeof *s->groups);
    sw_group *g = &s->groups[s->ngroups++];
    g->first = s->naxes;
    g->naxes = 0;
    g->len = -1;
    for (int k = 0; k < n; k++)
        if ((rc = add_axis(y, s, g, map->data.mapping.pairs.start[k])) < 0)
            return rc;
    /* a repeated value (or tuple, for a zip group) would make two rows with
     * one key; a tuple is compared as its values, each length-prefixed */
    char **tup = loom_xcalloc((size_t)g->len, sizeof *tup);
    for (int v = 0; v < g->len; v++) {
        sbuf t = {0};
        for (int a = g->first; a < g->first + g->naxes; a++)
            sb_printf(&t, "%zu:%s", strlen(s->axes[a].vals[v]), s->axes[a].vals[v]);
        tup[v] = t.p;
    }
    int w, v = loom_yaml_first_dup((const char *const *)tup, g->len, &w);
    for (int k = 0; k < g->len; k++)
        free(tup[k]);
    free(tup);
    if (v >= 0)
        return spec_bad(y, map, "%s '%s' lists value %s twice (entries %d and %d)",
                        zipped ? "zip group of" : "axis", s->axes[g->first].key,
                        s->axes[g->first].vals[v], w, v);
    return 0;
}

/* No axis twice, across groups; the later one is named. */
static int axes_unique(yctx *y, const sw_spec *s)
{
    const char **keys = loom_xcalloc((size_t)s->naxes + 1, sizeof *keys);
    for (int a = 0; a < s->naxes; a++)
        keys[a] = s->axes[a].key;
    int w, a = loom_yaml_first_dup(keys, s->naxes, &w);
    free(keys);
    if (a >= 0)
        return loom_err_set(y->err, LOOM_EUSAGE, "%s: line %d: axis '%s' is given twice", y->path,
                            s->axes[a].line, s->axes[a].key);
    return 0;
}

/* `axes` (node index axes_i): a mapping, each key its own group, or a list
 * of mappings, each a zip group. */
static int spec_axes(yctx *y, sw_spec *s, int axes_i)
{
    yaml_node_t *axes = ynode(y, axes_i);
    int rc;
    if (axes->type == YAML_MAPPING_NODE) { /* shorthand: every key its own axis */
        int n = (int)(axes->data.mapping.pairs.top - axes->data.mapping.pairs.start);
        if (n == 0)
            return spec_bad(y, axes, "'axes' names no axis");
        if ((rc = check_unique_keys(y, axes)) < 0)
            return rc;
        for (int k = 0; k < n; k++) {
            /* a one-key mapping node for each axis, built in the document
             * (which may move its nodes: hence ynode() again each time) */
            yaml_node_pair_t pr = ynode(y, axes_i)->data.mapping.pairs.start[k];
            int m = yaml_document_add_mapping(&y->d, NULL, YAML_BLOCK_MAPPING_STYLE);
            yaml_document_append_mapping_pair(&y->d, m, pr.key, pr.value);
            ynode(y, m)->start_mark = ynode(y, pr.key)->start_mark;
            if ((rc = add_group(y, s, ynode(y, m), 0)) < 0)
                return rc;
        }
        return axes_unique(y, s);
    }
    if (axes->type == YAML_SEQUENCE_NODE) {
        int n = (int)(axes->data.sequence.items.top - axes->data.sequence.items.start);
        if (n == 0)
            return spec_bad(y, axes, "'axes' names no axis");
        for (int k = 0; k < n; k++) {
            yaml_node_t *g = ynode(y, ynode(y, axes_i)->data.sequence.items.start[k]);
            if (g->type != YAML_MAPPING_NODE)
                return spec_bad(y, g, "each entry of 'axes' must map keys to lists of values");
            int nk = (int)(g->data.mapping.pairs.top - g->data.mapping.pairs.start);
            if ((rc = add_group(y, s, g, nk > 1)) < 0)
                return rc;
        }
        return axes_unique(y, s);
    }
    return spec_bad(y, axes, "'axes' must be a mapping (one axis per key) or a list of "
                             "mappings (each a group of lists that advance together)");
}

/* ---- the base run --------------------------------------------------------- */

/* `set`: a mapping of --set keys to values, kept as "key=value". */
static int spec_sets(yctx *y, sw_spec *s, int vi)
{
    yaml_node_t *vn = ynode(y, vi);
    if (vn->type != YAML_MAPPING_NODE)
        return spec_bad(y, vn, "key 'set' must be a mapping of --set keys to values, "
                               "e.g. system.preferred-dataset-splits: 8");
    int rc = check_unique_keys(y, vn);
    if (rc < 0)
        return rc;
    int n = (int)(vn->data.mapping.pairs.top - vn->data.mapping.pairs.start);
    s->sets = loom_xcalloc((size_t)n + 1, sizeof *s->sets);
    for (int j = 0; j < n; j++) {
        yaml_node_pair_t sp = ynode(y, vi)->data.mapping.pairs.start[j];
        const char *sk = yscalar(ynode(y, sp.key));
        if (axis_kind(sk) != AX_SET)
            return spec_bad(y, ynode(y, sp.key), "set: '%s' is not a --set key (network.<key>, "
                                                 "network.<key>[i], system.<key>)", sk);
        char *v = yflow_dup(y, sp.value);
        s->sets[s->nsets++] = key_eq(sk, v);
        free(v);
    }
    return 0;
}

/* `gen`: {generator: NAME, FLAG: VALUE, ...}. */
static int spec_gen(yctx *y, sw_spec *s, int vi)
{
    yaml_node_t *vn = ynode(y, vi);
    if (vn->type != YAML_MAPPING_NODE)
        return spec_bad(y, vn, "key 'gen' must be a mapping: generator: micro (or llm), "
                               "then `loom gen` flags, e.g. collective: all_reduce");
    int rc = check_unique_keys(y, vn);
    if (rc < 0)
        return rc;
    int n = (int)(vn->data.mapping.pairs.top - vn->data.mapping.pairs.start);
    s->genflags = loom_xcalloc((size_t)(2 * n) + 1, sizeof *s->genflags);
    for (int pass = 0; pass < 2; pass++) /* the generator first: it decides the flags */
        for (int j = 0; j < n; j++) {
            yaml_node_pair_t gp = ynode(y, vi)->data.mapping.pairs.start[j];
            yaml_node_t *gk = ynode(y, gp.key), *gv = ynode(y, gp.value);
            const char *name = yscalar(gk), *val = yscalar(gv);
            if ((strcmp(name, "generator") == 0) != (pass == 0))
                continue;
            if (val == NULL)
                return spec_bad(y, gv, "gen: '%s' must be a single value", name);
            if (pass == 0) {
                if (loom_gen_options(val) == NULL)
                    return spec_bad(y, gv, "gen: generator '%s' is not micro or llm", val);
                s->gen = loom_xstrdup(val);
                continue;
            }
            if (s->gen == NULL)
                break;
            const char *why = gen_flag_refused(s->gen, name);
            if (why)
                return spec_bad(y, gk, "gen: '%s' is not a flag of `loom gen %s` the sweep may "
                                       "set: %s", name, s->gen, why);
            s->genflags[2 * s->ngenflags] = loom_xstrdup(name);
            s->genflags[2 * s->ngenflags++ + 1] = loom_xstrdup(val);
        }
    if (s->gen == NULL)
        return spec_bad(y, vn, "gen: 'generator' is missing (micro or llm: `loom gen "
                               "--help`)");
    return 0;
}

static const char *const top_keys[] = {"workload", "network", "system", "comm-group",
                                       "ignore-ctrl-deps", "set", "axes", "gen"};
enum { K_FILES = 4, K_NOCTRL = 4, K_SET, K_AXES, K_GEN, NKEYS };

/* One top-level key; *axes_i receives the node of `axes`, read last. */
static int spec_key(yctx *y, sw_spec *s, yaml_node_pair_t pr, int *axes_i /* OUT */)
{
    yaml_node_t *kn = ynode(y, pr.key), *vn = ynode(y, pr.value);
    const char *k = yscalar(kn);
    int ki = -1;
    for (int j = 0; j < NKEYS; j++)
        if (strcmp(k, top_keys[j]) == 0)
            ki = j;
    if (ki < 0)
        return spec_bad(y, kn, "unknown key '%s' (known keys: workload, gen, network, system, "
                               "comm-group, ignore-ctrl-deps, set, axes)", k);
    if (ki < K_FILES) {
        if (yscalar(vn) == NULL || !yscalar(vn)[0])
            return spec_bad(y, vn, "key '%s' must be a file name", k);
        s->base[ki] = loom_xstrdup(yscalar(vn));
        return 0;
    }
    if (ki == K_NOCTRL) {
        const char *v = yscalar(vn);
        if (!v || (strcmp(v, "true") != 0 && strcmp(v, "false") != 0))
            return spec_bad(y, vn, "key 'ignore-ctrl-deps' must be true or false");
        s->noctrl = strcmp(v, "true") == 0;
        return 0;
    }
    if (ki == K_SET)
        return spec_sets(y, s, pr.value);
    if (ki == K_AXES) {
        *axes_i = pr.value;
        return 0;
    }
    return spec_gen(y, s, pr.value);
}

/* Why a gen llm sweep refuses comm-group "empty" (spec_complete, spec_finish):
 * its traces name their groups by role in the PREFIX.comm.json the
 * generator writes, and a run without it cannot start, so "no file" is
 * refused rather than overridden or left to fail every row. */
static const char *const sw_no_comm = "a gen llm recipe's traces name their groups in the "
                                      "generated PREFIX.comm.json, which each run needs (leave "
                                      "comm-group out to get it, or name a file)";

/* What the whole spec needs once every key is read. */
static int spec_complete(yctx *y, const sw_spec *s, int axes_i)
{
    if (s->gen && s->base[0])
        return spec_bad(y, NULL, "'workload' and 'gen' exclude each other: name a trace or a "
                                 "recipe");
    for (int i = s->gen ? 1 : 0; i < 3; i++)
        if (s->base[i] == NULL && !(i == 2 && sw_gen_system(s)))
            return spec_bad(y, NULL, "key '%s' is missing (a sweep needs workload (or gen), "
                                     "network and system; a gen llm recipe brings its own "
                                     "system)", base_keys[i]);
    if (axes_i == 0)
        return spec_bad(y, NULL, "key 'axes' is missing: a sweep needs at least one axis");
    /* a gen llm trace names its groups by role, in the PREFIX.comm.json its
     * generator writes: a run without it cannot start, so "no file" is
     * refused here rather than overridden or left to fail every row */
    if (sw_gen_system(s) && s->base[3] && strcmp(s->base[3], "empty") == 0)
        return spec_bad(y, NULL, "'comm-group: empty': %s", sw_no_comm);
    return 0;
}

/* The axes against `set`, their product, and the spec's hash. */
static int spec_finish(yctx *y, sw_spec *s)
{
    for (int a = 0; sw_gen_system(s) && a < s->naxes; a++)
        for (int v = 0; s->axes[a].kind == AX_COMM && s->axes[a].vals[v]; v++)
            if (strcmp(s->axes[a].vals[v], "empty") == 0)
                return spec_bad(y, NULL, "line %d: axis 'comm-group': value %d is 'empty': %s",
                                s->axes[a].line, v, sw_no_comm);
    /* set keys and axis keys are each unique: a repeat in both lists
     * together is a key in both */
    char **keys = loom_xcalloc((size_t)(s->nsets + s->naxes) + 1, sizeof *keys);
    for (int i = 0; i < s->nsets; i++)
        keys[i] = loom_xstrdup(s->sets[i]);
    for (int i = 0; i < s->nsets; i++)
        *strchr(keys[i], '=') = '\0';
    for (int a = 0; a < s->naxes; a++)
        keys[s->nsets + a] = s->axes[a].key;
    int w, j = loom_yaml_first_dup((const char *const *)keys, s->nsets + s->naxes, &w);
    for (int i = 0; i < s->nsets; i++)
        free(keys[i]);
    free(keys);
    if (j >= 0)
        return spec_bad(y, NULL, "'%s' is both in 'set' and an axis", s->axes[j - s->nsets].key);
    s->nconf = 1;
    for (int g = 0; g < s->ngroups; g++) {
        s->nconf *= s->groups[g].len;
        if (s->nconf > SW_MAX_CONFS)
            return spec_bad(y, NULL, "the axes make more than %lld configurations",
                            SW_MAX_CONFS);
    }
    uint64_t h = fnv_str(FNV0, "loom-sweep-1");
    for (int i = 0; i < 4; i++)
        h = fnv_str(h, s->base[i] ? s->base[i] : "");
    h = fnv_str(h, s->noctrl ? "noctrl" : "ctrl");
    if (s->gen) {
        h = fnv_str(h, "gen");
        h = fnv_str(h, s->gen);
        for (int i = 0; i < 2 * s->ngenflags; i++)
            h = fnv_str(h, s->genflags[i]);
    }
    for (int i = 0; i < s->nsets; i++)
        h = fnv_str(h, s->sets[i]);
    h = fnv_str(h, "axes");
    for (int a = 0; a < s->naxes; a++)
        h = fnv_str(h, s->axes[a].key);
    s->hash = h;
    return 0;
}

/* The directory of path ("/" for a file at the root, "." for none). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return loom_xstrdup(".");
    size_t n = (size_t)(slash - path) + (slash == path);
    char *d = loom_xmalloc(n + 1);
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

int sw_spec_load(sw_spec *s, const char *path, loom_err *err)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    yctx y = {.path = path, .err = err};
    if (loom_yaml_load_file(path, &y.d, err) < 0)
        return LOOM_EUSAGE;
    s->dir = dir_of(path);
    int rc = 0, axes_i = 0;
    yaml_node_t *root = yaml_document_get_root_node(&y.d);
    if (root == NULL)
        rc = spec_bad(&y, NULL, "the file is empty");
    else if (root->type != YAML_MAPPING_NODE)
        rc = spec_bad(&y, root, "the top level must be a mapping of keys (%s, ...)",
                      top_keys[0]);
    else
        rc = check_unique_keys(&y, root);
    int npairs = rc < 0 ? 0 : (int)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
    for (int i = 0; i < npairs && rc == 0; i++)
        rc = spec_key(&y, s, root->data.mapping.pairs.start[i], &axes_i);
    if (rc == 0)
        rc = spec_complete(&y, s, axes_i);
    if (rc == 0)
        rc = spec_axes(&y, s, axes_i);
    if (rc == 0)
        rc = spec_finish(&y, s);
    yaml_document_delete(&y.d);
    return rc;
}

/* ---- configurations ------------------------------------------------------- */

void sw_conf_pos(const sw_spec *s, long long i, int *pos)
{
    for (int g = s->ngroups - 1; g >= 0; g--) {
        pos[g] = (int)(i % s->groups[g].len);
        i /= s->groups[g].len;
    }
}

const char *sw_conf_val(const sw_spec *s, const int *pos, int a)
{
    int g = 0;
    while (a >= s->groups[g].first + s->groups[g].naxes)
        g++;
    return s->axes[a].vals[pos[g]];
}

uint64_t sw_conf_key(const sw_spec *s, const int *pos)
{
    uint64_t h = FNV0;
    for (int a = 0; a < s->naxes; a++) {
        h = fnv_str(h, s->axes[a].key);
        h = fnv_str(h, sw_conf_val(s, pos, a));
    }
    return h;
}

void sw_conf_describe(const sw_spec *s, const int *pos, sbuf *b)
{
    for (int a = 0; a < s->naxes; a++)
        sb_printf(b, "%s%s=%s", a ? " " : "", s->axes[a].key, sw_conf_val(s, pos, a));
}

static char *resolve(const sw_spec *s, const char *p)
{
    if (p[0] == '/' || strcmp(s->dir, ".") == 0)
        return loom_xstrdup(p);
    size_t n = strlen(s->dir) + strlen(p) + 2;
    char *r = loom_xmalloc(n);
    snprintf(r, n, "%s/%s", s->dir, p);
    return r;
}

/* A gen.FLAG axis: replaces the recipe's value of --FLAG, or adds the flag. */
static void conf_gen_flag(sw_conf *c, const char *flag, const char *v)
{
    int k = 0;
    while (k < c->ngargs && strcmp(c->gargs[k] + 2, flag) != 0)
        k += 2;
    if (k == c->ngargs) {
        c->gargs[k] = dashdash(flag);
        c->ngargs += 2;
    } else
        free(c->gargs[k + 1]);
    c->gargs[k + 1] = loom_xstrdup(v);
}

void sw_conf_build(const sw_spec *s, const int *pos, sw_conf *c)
{
    memset(c, 0, sizeof *c);
    const char *f[4] = {s->base[0], s->base[1], s->base[2], s->base[3]};
    c->sets = loom_xcalloc((size_t)(s->nsets + s->naxes) + 1, sizeof *c->sets);
    for (int i = 0; i < s->nsets; i++)
        c->sets[c->nsets++] = loom_xstrdup(s->sets[i]);
    c->gargs = loom_xcalloc((size_t)(2 * (s->ngenflags + s->naxes)) + 1, sizeof *c->gargs);
    for (int i = 0; i < s->ngenflags; i++) {
        c->gargs[c->ngargs++] = dashdash(s->genflags[2 * i]);
        c->gargs[c->ngargs++] = loom_xstrdup(s->genflags[2 * i + 1]);
    }
    for (int a = 0; a < s->naxes; a++) {
        const char *v = sw_conf_val(s, pos, a);
        if (s->axes[a].kind == AX_GEN)
            conf_gen_flag(c, s->axes[a].key + 4, v);
        else if (s->axes[a].kind != AX_SET)
            f[s->axes[a].kind - AX_WORKLOAD] = v;
        else
            c->sets[c->nsets++] = key_eq(s->axes[a].key, v);
    }
    for (int i = 0; i < 4; i++) /* ASTRA-sim writes "empty" for no comm-group file */
        c->file[i] = f[i] && !(i == 3 && strcmp(f[i], "empty") == 0) ? resolve(s, f[i]) : NULL;
}

int sw_gen_system(const sw_spec *s)
{
    return s->gen != NULL && strcmp(s->gen, "llm") == 0;
}

/* PREFIX + suffix, allocated. */
static char *with_suffix(const char *prefix, const char *suffix)
{
    size_t n = strlen(prefix) + strlen(suffix) + 1;
    char *r = loom_xmalloc(n);
    snprintf(r, n, "%s%s", prefix, suffix);
    return r;
}

void sw_conf_generated(const sw_spec *s, sw_conf *c, const char *prefix)
{
    if (!sw_gen_system(s))
        return;
    if (c->file[2] == NULL) {
        c->file[2] = with_suffix(prefix, ".system.yaml"); /* it names its comm-group file */
    } else if (c->file[3] == NULL) {
        char *comm = with_suffix(prefix, ".comm.json");
        if (access(comm, F_OK) == 0)
            c->file[3] = comm;
        else
            free(comm);
    }
}

void sw_conf_free(sw_conf *c)
{
    for (int i = 0; i < 4; i++)
        free(c->file[i]);
    for (int i = 0; i < c->ngargs; i++)
        free(c->gargs[i]);
    free(c->gargs);
    for (int i = 0; i < c->nsets; i++)
        free(c->sets[i]);
    free(c->sets);
}

const char **sw_conf_gen_argv(const sw_spec *s, const sw_conf *c, const char *prefix)
{
    const char **argv = loom_xcalloc((size_t)c->ngargs + 8, sizeof *argv);
    int n = 0;
    argv[n++] = "loom";
    argv[n++] = "gen";
    argv[n++] = s->gen;
    for (int i = 0; i < c->ngargs; i++)
        argv[n++] = c->gargs[i];
    argv[n++] = "--out";
    argv[n++] = prefix;
    argv[n++] = "--quiet";
    argv[n] = NULL;
    return argv;
}

const char **sw_conf_run_argv(const sw_spec *s, const sw_conf *c, const char *workload,
                              const char *json)
{
    const char **argv = loom_xcalloc((size_t)(2 * c->nsets + 16), sizeof *argv);
    int n = 0;
    argv[n++] = "loom";
    argv[n++] = "run";
    argv[n++] = "--workload";
    argv[n++] = workload;
    argv[n++] = "--network";
    argv[n++] = c->file[1];
    argv[n++] = "--system";
    argv[n++] = c->file[2];
    if (c->file[3]) {
        argv[n++] = "--comm-group";
        argv[n++] = c->file[3];
    }
    if (s->noctrl)
        argv[n++] = "--ignore-ctrl-deps";
    for (int i = 0; i < c->nsets; i++) {
        argv[n++] = "--set";
        argv[n++] = c->sets[i];
    }
    argv[n++] = "--json";
    argv[n++] = json;
    argv[n++] = "--quiet";
    argv[n] = NULL;
    return argv;
}
