#include "config.h"
#include "net_topo.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "comp_dev.h"
#include "yamlio.h"

/*
 * Loading goes file -> libyaml document -> --set overrides applied to the
 * document -> typed structs.  Applying overrides to the document (not the
 * structs) means a value given on the command line is parsed, typed and
 * range-checked by exactly the code that checks the file.
 */

#define GIB 1073741824.0 /* ASTRA-sim network GB */

/* ---- documents ---------------------------------------------------------- */

typedef struct doc {
    yaml_document_t d; /* the parsed file */
    const char *path;  /* for messages; "--set" for override values */
    int loaded;        /* d must be deleted */
} doc;

/* A file (f != NULL) or len bytes of buf into dc; "the file is empty" is
 * an error here, since every loom file has keys. */
static int doc_parse(doc *dc, const char *path, const unsigned char *buf, size_t len,
                     int from_file, loom_err *err)
{
    memset(dc, 0, sizeof *dc); /* doc_free() on a file that did not load is a no-op */
    dc->path = path;
    int rc = from_file ? loom_yaml_load_file(path, &dc->d, err)
                       : loom_yaml_load_string(path, buf, len, &dc->d, err);
    if (rc < 0)
        return rc;
    dc->loaded = 1;
    if (yaml_document_get_root_node(&dc->d) == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: the file is empty", path);
    return 0;
}

static int doc_load(doc *dc, const char *path, loom_err *err)
{
    return doc_parse(dc, path, NULL, 0, 1, err);
}

static void doc_free(doc *dc)
{
    if (dc->loaded)
        yaml_document_delete(&dc->d);
    dc->loaded = 0;
}

static yaml_node_t *node_at(doc *dc, int i) { return yaml_document_get_node(&dc->d, i); }

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Deep copy of node `i` of `src` into `dst`; returns its index in dst. */
static int copy_node(doc *dst, doc *src, int i)
{
    yaml_node_t *n = node_at(src, i);
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return yaml_document_add_scalar(&dst->d, NULL, n->data.scalar.value,
                                        (int)n->data.scalar.length, n->data.scalar.style);
    case YAML_SEQUENCE_NODE: {
        int s = yaml_document_add_sequence(&dst->d, NULL, YAML_FLOW_SEQUENCE_STYLE);
        /* node pointers move when dst grows: re-fetch n after each add */
        int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        for (int k = 0; k < count; k++) {
            int item = node_at(src, i)->data.sequence.items.start[k];
            yaml_document_append_sequence_item(&dst->d, s, copy_node(dst, src, item));
        }
        return s;
    }
    case YAML_MAPPING_NODE: {
        int m = yaml_document_add_mapping(&dst->d, NULL, YAML_FLOW_MAPPING_STYLE);
        int count = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        for (int k = 0; k < count; k++) {
            yaml_node_pair_t pr = node_at(src, i)->data.mapping.pairs.start[k];
            int kk = copy_node(dst, src, pr.key);
            int vv = copy_node(dst, src, pr.value);
            yaml_document_append_mapping_pair(&dst->d, m, kk, vv);
        }
        return m;
    }
    default:
        return 0;
    }
}

/* ---- typed values --------------------------------------------------------- */

typedef struct ctx {
    const char *path; /* file name, or "--set" */
    const char *key;  /* key being read */
    int index;        /* list index, or -1 */
    loom_err *err;
} ctx;

static int bad(const ctx *c, const yaml_node_t *n, const char *what)
{
    char where[64] = "";
    if (n && strcmp(c->path, "--set") != 0)
        snprintf(where, sizeof where, " (line %zu)", n->start_mark.line + 1);
    if (c->index >= 0)
        return loom_err_set(c->err, LOOM_EUSAGE, "%s: key '%s'[%d]%s: %s", c->path, c->key,
                            c->index, where, what);
    return loom_err_set(c->err, LOOM_EUSAGE, "%s: key '%s'%s: %s", c->path, c->key, where, what);
}

static int get_double(const ctx *c, const yaml_node_t *n, double lo, double hi,
                      int lo_open, double *out)
{
    const char *s = scalar(n);
    char msg[160];
    if (s == NULL || *s == '\0')
        return bad(c, n, "expected a number");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v)) {
        snprintf(msg, sizeof msg, "'%s' is not a number", s);
        return bad(c, n, msg);
    }
    if ((lo_open ? !(v > lo) : !(v >= lo)) || !(v <= hi)) {
        snprintf(msg, sizeof msg, "%s is out of range: allowed %s%g .. %g", s,
                 lo_open ? "> " : "", lo, hi);
        return bad(c, n, msg);
    }
    *out = v;
    return 0;
}

static int get_int(const ctx *c, const yaml_node_t *n, long long lo, long long hi, long long *out)
{
    const char *s = scalar(n);
    char msg[160];
    if (s == NULL || *s == '\0')
        return bad(c, n, "expected an integer");
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        *out = s[0] == 't';
        if (*out < lo || *out > hi)
            goto range;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end == '.' || *end == 'e' || *end == 'E') { /* 10.0 is accepted as 10 */
        double d = strtod(s, &end);
        if (*end != '\0' || d != floor(d) || fabs(d) > 9e15) {
            snprintf(msg, sizeof msg, "'%s' is not an integer", s);
            return bad(c, n, msg);
        }
        v = (long long)d;
    }
    if (*end != '\0' || errno != 0) {
        snprintf(msg, sizeof msg, "'%s' is not an integer", s);
        return bad(c, n, msg);
    }
    *out = v;
    if (v < lo || v > hi)
        goto range;
    return 0;
range:
    snprintf(msg, sizeof msg, "%s is out of range: allowed %lld .. %lld", s, lo, hi);
    return bad(c, n, msg);
}

static int get_enum(const ctx *c, const yaml_node_t *n, const char *const *names, int count,
                    int *out)
{
    const char *s = scalar(n);
    char msg[512];
    if (s != NULL)
        for (int i = 0; i < count; i++)
            if (strcmp(s, names[i]) == 0) {
                *out = i;
                return 0;
            }
    int off = snprintf(msg, sizeof msg, "'%s' is not one of", s ? s : "(not a scalar)");
    for (int i = 0; i < count && off < (int)sizeof msg; i++)
        off += snprintf(msg + off, sizeof msg - off, "%s %s", i ? "," : "", names[i]);
    return bad(c, n, msg);
}

/* The items of a list value; a scalar counts as a list of one. */
static int list_items(doc *dc, yaml_node_t *n, int **items, int *count, int *one)
{
    if (n->type == YAML_SEQUENCE_NODE) {
        *items = n->data.sequence.items.start;
        *count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        return 0;
    }
    if (n->type == YAML_SCALAR_NODE) {
        *one = (int)(n - dc->d.nodes.start) + 1;
        *items = one;
        *count = 1;
        return 0;
    }
    return -1;
}

/* ---- key tables ----------------------------------------------------------- */

/* What each key of a file kind is; used for --set validation and for the
 * "known keys" list in messages. */
static const char *const net_keys[] = {"topology", "npus_count", "bandwidth", "latency"};
enum { NET_KEYS = 4 };

/* System keys loom models, then those it accepts for compatibility. */
static const char *const sys_keys[] = {
    "endpoint-delay", "active-chunks-per-dimension", "preferred-dataset-splits",
    "all-reduce-implementation", "all-gather-implementation",
    "reduce-scatter-implementation", "all-to-all-implementation", "local-mem-bw",
    "roofline-enabled", "peak-perf", "network-model",
    /* device and compute model (docs/CONFIG.md, docs/DEVICES.md) */
    "device", "device-file", "compute-model", "compute-dtype", "compute-table",
    "compute-matrix-efficiency", "compute-matrix-overhead-us", "compute-memory-efficiency",
    "compute-memory-overhead-us", "rank-devices", "straggler", "comm-group",
    /* accepted, not modelled (see docs/CONFIG.md) */
    "scheduling-policy", "collective-optimization", "boost-mode", "trace-enabled",
    "replay-only", "track-local-mem", "local-reduction-delay", "L", "o", "g", "G",
    "model-shared-bus", "intra-dimension-scheduling", "inter-dimension-scheduling",
    "all-reduce-implementation-custom", "all-gather-implementation-custom",
    "reduce-scatter-implementation-custom", "all-to-all-implementation-custom"};
enum { SYS_KEYS = sizeof sys_keys / sizeof sys_keys[0], SYS_MODELLED = 23 };

static int key_index(const char *const *keys, int n, const char *k)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0)
            return i;
    return -1;
}

static int unknown_key(loom_err *err, const char *path, const yaml_node_t *kn, const char *k,
                       const char *const *keys, int n)
{
    char list[1024];
    int off = 0;
    for (int i = 0; i < n && off < (int)sizeof list; i++)
        off += snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", keys[i]);
    if (kn && strcmp(path, "--set") != 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: unknown key '%s' (known keys: %s)",
                            path, kn->start_mark.line + 1, k, list);
    return loom_err_set(err, LOOM_EUSAGE, "%s: unknown key '%s' (known keys: %s)", path, k, list);
}

/* ---- --set ---------------------------------------------------------------- */

/* Parses "section.key[idx]=value" (also "network.dims[i].key=value"). */
typedef struct override {
    char section[16]; /* "network" or "system" */
    char key[256];    /* file key */
    int index;        /* list index or -1 */
    const char *value;/* text after '=' */
    const char *text; /* the whole argument, for messages */
} override;

static int parse_override(const char *s, override *o, loom_err *err)
{
    memset(o, 0, sizeof *o);
    o->index = -1;
    o->text = s;
    const char *eq = strchr(s, '=');
    const char *dot = strchr(s, '.');
    if (eq == NULL || dot == NULL || dot > eq)
        return loom_err_set(err, LOOM_EUSAGE,
                            "--set %s: expected SECTION.KEY=VALUE or SECTION.KEY[I]=VALUE "
                            "(sections: network, system)", s);
    size_t sl = (size_t)(dot - s);
    if (sl >= sizeof o->section)
        sl = sizeof o->section - 1;
    memcpy(o->section, s, sl);
    if (strcmp(o->section, "network") != 0 && strcmp(o->section, "system") != 0)
        return loom_err_set(err, LOOM_EUSAGE, "--set %s: unknown section '%s' (sections: network, system)",
                            s, o->section);
    char path[256];
    size_t pl = (size_t)(eq - dot - 1);
    if (pl == 0 || pl >= sizeof path)
        return loom_err_set(err, LOOM_EUSAGE, "--set %s: missing key", s);
    memcpy(path, dot + 1, pl);
    path[pl] = '\0';
    /* network.dims[I].key is the per-dimension spelling of network.key[I] */
    int di;
    char dk[128];
    if (sscanf(path, "dims[%d].%127s", &di, dk) == 2) {
        snprintf(o->key, sizeof o->key, "%s", dk);
        o->index = di;
    } else {
        char *br = strchr(path, '[');
        if (br) {
            char *end;
            long v = strtol(br + 1, &end, 10);
            if (end == br + 1 || strcmp(end, "]") != 0 || v < 0 || v > 1000)
                return loom_err_set(err, LOOM_EUSAGE, "--set %s: bad index in '%s'", s, path);
            o->index = (int)v;
            *br = '\0';
        }
        snprintf(o->key, sizeof o->key, "%s", path);
    }
    o->value = eq + 1;
    if (strcmp(o->section, "network") == 0 && key_index(net_keys, NET_KEYS, o->key) < 0 &&
        key_index(net_xtopo_keys, net_xtopo_nkeys, o->key) < 0) /* explicit fabrics' keys */
        return unknown_key(err, "--set", NULL, o->key, net_keys, NET_KEYS);
    if (strcmp(o->section, "system") == 0 && key_index(sys_keys, SYS_KEYS, o->key) < 0)
        return unknown_key(err, "--set", NULL, o->key, sys_keys, SYS_KEYS);
    return 0;
}

static int apply_override(doc *dc, const override *o, loom_err *err)
{
    doc val;
    if (doc_parse(&val, "--set", (const unsigned char *)o->value, strlen(o->value), 0, err) < 0) {
        doc_free(&val);
        return LOOM_EUSAGE;
    }
    yaml_node_t *root = yaml_document_get_root_node(&dc->d);
    if (root->type != YAML_MAPPING_NODE) {
        doc_free(&val);
        return loom_err_set(err, LOOM_EUSAGE, "%s: the top level must be a mapping of keys", dc->path);
    }
    int root_i = (int)(root - dc->d.nodes.start) + 1;
    int v = copy_node(dc, &val, 1);
    doc_free(&val);
    root = node_at(dc, root_i);
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const char *k = scalar(node_at(dc, p->key));
        if (k == NULL || strcmp(k, o->key) != 0)
            continue;
        if (o->index < 0) {
            p->value = v;
            return 0;
        }
        yaml_node_t *list = node_at(dc, p->value);
        if (list->type == YAML_SCALAR_NODE && o->index == 0) {
            p->value = v;
            return 0;
        }
        if (list->type != YAML_SEQUENCE_NODE)
            return loom_err_set(err, LOOM_EUSAGE, "--set %s: '%s' in %s is not a list", o->text,
                                o->key, dc->path);
        int count = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
        if (o->index >= count)
            return loom_err_set(err, LOOM_EUSAGE, "--set %s: index %d is past the %d entries of '%s'",
                                o->text, o->index, count, o->key);
        list->data.sequence.items.start[o->index] = v;
        return 0;
    }
    if (o->index > 0)
        return loom_err_set(err, LOOM_EUSAGE, "--set %s: '%s' is not in %s, so it has no entry %d",
                            o->text, o->key, dc->path, o->index);
    int k = yaml_document_add_scalar(&dc->d, NULL, (yaml_char_t *)o->key, -1, YAML_PLAIN_SCALAR_STYLE);
    yaml_document_append_mapping_pair(&dc->d, root_i, k, v);
    return 0;
}

static int apply_overrides(doc *dc, const char *section, const loom_cfg_files *f, loom_err *err)
{
    for (int i = 0; i < f->nsets; i++) {
        override o;
        if (parse_override(f->sets[i], &o, err) < 0)
            return LOOM_EUSAGE;
        if (strcmp(o.section, section) == 0 && apply_override(dc, &o, err) < 0)
            return LOOM_EUSAGE;
    }
    return 0;
}

/* Walks a top-level mapping; rejects duplicates and keys not in `keys`. */
static yaml_node_pair_t *pairs_of(doc *dc, int *n, loom_err *err)
{
    yaml_node_t *root = yaml_document_get_root_node(&dc->d);
    if (root->type != YAML_MAPPING_NODE) {
        loom_err_set(err, LOOM_EUSAGE, "%s: the top level must be a mapping of keys", dc->path);
        return NULL;
    }
    *n = (int)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
    return root->data.mapping.pairs.start;
}

static int check_keys(doc *dc, const char *const *keys, int nkeys, loom_err *err)
{
    int n = 0;
    yaml_node_pair_t *p = pairs_of(dc, &n, err);
    if (p == NULL)
        return LOOM_EUSAGE;
    for (int i = 0; i < n; i++) {
        yaml_node_t *kn = node_at(dc, p[i].key);
        const char *k = scalar(kn);
        if (k == NULL)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: a key must be a plain name",
                                dc->path, kn->start_mark.line + 1);
        if (key_index(keys, nkeys, k) < 0)
            return unknown_key(err, dc->path, kn, k, keys, nkeys);
        for (int j = 0; j < i; j++)
            if (strcmp(scalar(node_at(dc, p[j].key)), k) == 0)
                return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: key '%s' appears twice",
                                    dc->path, kn->start_mark.line + 1, k);
    }
    return 0;
}

static yaml_node_t *lookup(doc *dc, const char *key)
{
    int n = 0;
    yaml_node_pair_t *p = pairs_of(dc, &n, NULL);
    for (int i = 0; p && i < n; i++)
        if (strcmp(scalar(node_at(dc, p[i].key)), key) == 0)
            return node_at(dc, p[i].value);
    return NULL;
}

/* ---- network -------------------------------------------------------------- */

static int load_network(loom_cfg *cfg, const loom_cfg_files *f, loom_err *err)
{
    doc dc;
    int rc = doc_load(&dc, f->network, err);
    if (rc == 0)
        rc = apply_overrides(&dc, "network", f, err);
    if (rc == 0 && yaml_document_get_root_node(&dc.d)->type == YAML_MAPPING_NODE &&
        lookup(&dc, "kind") != NULL) {
        /* an explicit fabric (fat_tree, rail, torus, dragonfly): ASTRA-sim's
         * files never have 'kind'; network/net_topo.c reads and checks it */
        rc = net_xtopo_load(&dc.d, f->network, &cfg->topo, err);
        goto out;
    }
    if (rc == 0)
        rc = check_keys(&dc, net_keys, NET_KEYS, err);
    if (rc < 0)
        goto out;
    int counts[NET_KEYS];
    for (int k = 0; k < NET_KEYS; k++) {
        yaml_node_t *v = lookup(&dc, net_keys[k]);
        if (v == NULL) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: missing key '%s' (one entry per dimension)",
                              f->network, net_keys[k]);
            goto out;
        }
        int *items, one, cnt;
        if (list_items(&dc, v, &items, &cnt, &one) < 0 || cnt < 1 || cnt > NET_MAX_DIMS) {
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: key '%s' must be a list of 1 to %d entries, one per dimension",
                              f->network, net_keys[k], NET_MAX_DIMS);
            goto out;
        }
        counts[k] = cnt;
        for (int d = 0; d < cnt; d++) {
            ctx c = {f->network, net_keys[k], cnt > 1 || v->type == YAML_SEQUENCE_NODE ? d : -1, err};
            yaml_node_t *it = node_at(&dc, items[d]);
            net_dim *dim = &cfg->topo.dims[d];
            int e;
            long long iv;
            double dv;
            switch (k) {
            case 0:
                if ((rc = get_enum(&c, it, net_dim_kind_names, NET_DIM_KINDS, &e)) < 0)
                    goto out;
                dim->kind = (net_dim_kind)e;
                break;
            case 1:
                if ((rc = get_int(&c, it, 1, 1 << 24, &iv)) < 0)
                    goto out;
                dim->npus = (int)iv;
                break;
            case 2: /* GB/s with ASTRA-sim's GB = 2^30 bytes */
                if ((rc = get_double(&c, it, 0, 1e9, 1, &dv)) < 0)
                    goto out;
                dim->bw = dv * GIB;
                break;
            case 3: /* ns */
                if ((rc = get_double(&c, it, 0, 1e12, 0, &dv)) < 0)
                    goto out;
                dim->latency = (sim_time)llround(dv * SIM_PS_PER_NS);
                break;
            }
        }
    }
    for (int k = 1; k < NET_KEYS; k++)
        if (counts[k] != counts[0]) {
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: 'topology' has %d entries but '%s' has %d: give one per dimension",
                              f->network, counts[0], net_keys[k], counts[k]);
            goto out;
        }
    cfg->topo.ndims = counts[0];
    long long total = 1;
    for (int d = 0; d < cfg->topo.ndims; d++) {
        total *= cfg->topo.dims[d].npus;
        if (total > (1 << 24)) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: npus_count multiplies to more than %d NPUs",
                              f->network, 1 << 24);
            goto out;
        }
    }
out:
    doc_free(&dc);
    return rc;
}

/* ---- system --------------------------------------------------------------- */

static void note(loom_cfg *cfg, const char *fmt, const char *a)
{
    char buf[256];
    snprintf(buf, sizeof buf, fmt, a);
    cfg->notes = loom_xrealloc(cfg->notes, (cfg->nnotes + 1) * sizeof *cfg->notes);
    cfg->notes[cfg->nnotes++] = loom_xstrdup(buf);
}

static int load_impl(loom_cfg *cfg, doc *dc, yaml_node_t *v, const char *key, net_impl_op op,
                     loom_err *err)
{
    int *items, one, cnt;
    if (list_items(dc, v, &items, &cnt, &one) < 0 || cnt < 1)
        return loom_err_set(err, LOOM_EUSAGE, "%s: key '%s' must be a list of algorithm names, one per dimension",
                            dc->path, key);
    if (cnt < cfg->topo.ndims)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: key '%s' names %d algorithm%s but the network has %d dimensions: give one per dimension",
                            dc->path, key, cnt, cnt == 1 ? "" : "s", cfg->topo.ndims);
    if (cnt > cfg->topo.ndims)
        loom_warn("%s: key '%s' names %d algorithms for %d dimensions; the extra ones are ignored",
                  dc->path, key, cnt, cfg->topo.ndims);
    for (int d = 0; d < cnt; d++) {
        yaml_node_t *it = node_at(dc, items[d]);
        const char *s = scalar(it);
        net_algo a;
        if (s == NULL || net_algo_parse(s, &a) < 0) {
            ctx c = {dc->path, key, d, err};
            char msg[256];
            snprintf(msg, sizeof msg, "'%s' is not an algorithm (ring, oneRing, direct, directN, "
                     "oneDirect, halvingDoubling, oneHalvingDoubling, doubleBinaryTree)",
                     s ? s : "(not a name)");
            return bad(&c, it, msg);
        }
        if (d < NET_MAX_DIMS)
            cfg->sys.impl[op][d] = a;
    }
    return 0;
}

/* ---- system: device and compute model -------------------------------------
 * The keys of docs/CONFIG.md "Device and compute model", gathered while
 * load_system() walks the file and applied after it, so their order in the
 * file does not matter.  Paths are relative to the system file. */

static int load_groups(loom_cfg *cfg, const char *path, loom_err *err);

typedef struct sys_comp {
    const char *device;      /* device name, or NULL */
    char *device_file;       /* resolved path, or NULL */
    int model;               /* comp_kind, or -1 when compute-model is absent */
    int roofline_key;        /* roofline-enabled: -1 absent, 0, 1 */
    comp_dtype dtype;        /* compute-dtype (bf16) */
    char *table;             /* resolved compute-table path, or NULL */
    double eff[2], ovh[2];   /* curve overrides: matrix, memory; < 0 absent */
    yaml_node_t *rank_dev;   /* rank-devices mapping, or NULL */
    yaml_node_t *straggler;  /* straggler mapping, or NULL */
    char *comm_group;        /* resolved comm-group path, or NULL */
    double mem_bw, peak;     /* explicit local-mem-bw and peak-perf (bytes/s, FLOP/s), or 0 */
} sys_comp;

/* A path from the system file, relative to the file's folder. */
static char *sys_path(const char *system, const char *p)
{
    if (p[0] == '/')
        return loom_xstrdup(p);
    const char *slash = strrchr(system, '/');
    if (slash == NULL)
        return loom_xstrdup(p);
    size_t n = (size_t)(slash - system) + 1 + strlen(p) + 1;
    char *out = loom_xmalloc(n);
    snprintf(out, n, "%.*s/%s", (int)(slash - system), system, p);
    return out;
}

/* "0-7,16" (or an integer, or a list of integers) into marks[0..nranks). */
static int rank_spec(doc *dc, const ctx *c, yaml_node_t *v, int nranks, unsigned char *marks)
{
    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            long long r;
            if (get_int(c, node_at(dc, *it), 0, nranks - 1, &r) < 0)
                return LOOM_EUSAGE;
            marks[r] = 1;
        }
        return 0;
    }
    const char *s = scalar(v);
    if (s == NULL || *s == '\0')
        return bad(c, v, "expected ranks such as \"0-7,16\" or a list of ranks");
    char msg[200];
    for (const char *q = s; *q;) {
        char *end;
        long a = strtol(q, &end, 10), b;
        if (end == q || a < 0)
            goto malformed;
        b = a;
        if (*end == '-') {
            const char *q2 = end + 1;
            b = strtol(q2, &end, 10);
            if (end == q2 || b < a)
                goto malformed;
        }
        if (b >= nranks) {
            snprintf(msg, sizeof msg, "rank %ld is out of range: the network has %d ranks (0 .. %d)",
                     b, nranks, nranks - 1);
            return bad(c, v, msg);
        }
        for (long r = a; r <= b; r++)
            marks[r] = 1;
        if (*end == ',')
            end++;
        else if (*end != '\0')
            goto malformed;
        q = end;
    }
    return 0;
malformed:
    snprintf(msg, sizeof msg, "'%s' is not a rank list such as \"0-7,16\"", s);
    return bad(c, v, msg);
}

/* Curve overrides on top of a device's (or on a plain roofline). */
static void apply_curves(const sys_comp *sc, comp_cfg *cc)
{
    comp_curve *cv[2] = {&cc->matrix, &cc->memory};
    double rate[2] = {cc->peak_flops, cc->mem_bw};
    for (int k = 0; k < 2; k++) {
        if (sc->eff[k] < 0 && sc->ovh[k] < 0)
            continue;
        double eff = sc->eff[k] >= 0 ? sc->eff[k] : (cv[k]->eff > 0 ? cv[k]->eff : 1.0);
        double t0 = sc->ovh[k] >= 0 ? sc->ovh[k] * 1e-6
                                    : (cv[k]->eff > 0 ? cv[k]->half / (rate[k] * cv[k]->eff) : 0);
        cv[k]->eff = eff;
        cv[k]->half = t0 * rate[k] * eff;
    }
}

static int device_cfg(loom_cfg *cfg, const sys_comp *sc, const comp_catalog *cat, const char *name,
                      const char *path, comp_cfg *out, loom_err *err)
{
    const comp_device *d = comp_catalog_find(cat, name);
    if (d == NULL) {
        char list[512];
        int off = 0;
        for (size_t i = 0; i < comp_catalog_count(cat) && off < (int)sizeof list; i++)
            off += snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                            comp_catalog_at(cat, i)->name);
        return loom_err_set(err, LOOM_EUSAGE, "%s: device '%s' is not in the catalog (%s; see "
                            "loom devices)", path, name, list);
    }
    if (comp_device_cfg(d, sc->dtype, out, err) < 0)
        return LOOM_EUSAGE;
    if (sc->peak > 0)
        out->peak_flops = sc->peak;
    if (sc->mem_bw > 0)
        out->mem_bw = sc->mem_bw;
    apply_curves(sc, out);
    (void)cfg;
    return 0;
}

static int load_compute(loom_cfg *cfg, doc *dc, sys_comp *sc, const loom_cfg_files *f, int *have_mem,
                        int have_peak, loom_err *err)
{
    const char *path = f->system;
    int rc = 0;
    comp_catalog *cat = NULL;
    if (sc->model >= 0 && sc->roofline_key >= 0 &&
        (sc->roofline_key == 1) != (sc->model == COMP_ROOFLINE))
        return loom_err_set(err, LOOM_EUSAGE, "%s: 'roofline-enabled: %d' contradicts "
                            "'compute-model: %s'", path, sc->roofline_key,
                            comp_kind_name((comp_kind)sc->model));
    if (sc->model >= 0)
        cfg->comp.kind = (comp_kind)sc->model;
    if (sc->device || sc->rank_dev) {
        if ((cat = comp_catalog_load(sc->device_file, err)) == NULL)
            return LOOM_EUSAGE;
    } else if (sc->device_file) {
        return loom_err_set(err, LOOM_EUSAGE, "%s: 'device-file' is set but no 'device' or "
                            "'rank-devices' uses it", path);
    }
    if (sc->device) {
        comp_cfg dcfg = cfg->comp;
        if ((rc = device_cfg(cfg, sc, cat, sc->device, path, &dcfg, err)) < 0)
            goto out;
        cfg->comp = dcfg;
        if (!*have_mem) { /* reductions run at the device's HBM bandwidth */
            cfg->sys.local_mem_bw = dcfg.mem_bw;
            *have_mem = 1;
        }
    } else {
        apply_curves(sc, &cfg->comp);
    }
    if (cfg->comp.kind == COMP_ROOFLINE && !have_peak && !sc->device) {
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: the roofline compute model needs 'peak-perf' "
                          "(TFLOP/s) or a 'device'", path);
        goto out;
    }
    if (sc->table && cfg->comp.kind != COMP_TABLE) {
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: 'compute-table' is set but 'compute-model' is not "
                          "table", path);
        goto out;
    }
    if (cfg->comp.kind == COMP_TABLE) {
        if (sc->table == NULL) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: 'compute-model: table' needs 'compute-table' "
                              "(a CSV kernel,flops,bytes,time_us)", path);
            goto out;
        }
        if ((cfg->comp_table = comp_table_load(sc->table, err)) == NULL) {
            rc = LOOM_EUSAGE;
            goto out;
        }
        cfg->comp.table = cfg->comp_table;
    }
    if (sc->rank_dev || sc->straggler) { /* one compute model per rank */
        long long nranks = 1;
        for (int d = 0; d < cfg->topo.ndims; d++)
            nranks *= cfg->topo.dims[d].npus;
        cfg->rank_comp = loom_xcalloc((size_t)nranks, sizeof *cfg->rank_comp);
        cfg->nrank_comp = (int)nranks;
        for (long long r = 0; r < nranks; r++)
            cfg->rank_comp[r] = cfg->comp;
        unsigned char *marks = loom_xmalloc((size_t)nranks);
        yaml_node_t *maps[2] = {sc->rank_dev, sc->straggler};
        const char *keys[2] = {"rank-devices", "straggler"};
        for (int k = 0; k < 2 && rc == 0; k++) {
            yaml_node_t *m = maps[k];
            if (m == NULL)
                continue;
            ctx c = {path, keys[k], -1, err};
            if (m->type != YAML_MAPPING_NODE) {
                rc = bad(&c, m, k == 0 ? "expected a mapping of device name to ranks, e.g. "
                                         "{a100-80g: \"0-7\"}"
                                       : "expected a mapping of ranks to slow-down factors, e.g. "
                                         "{\"3\": 1.5, \"8-15\": 1.1}");
                break;
            }
            for (yaml_node_pair_t *pr = m->data.mapping.pairs.start;
                 rc == 0 && pr < m->data.mapping.pairs.top; pr++) {
                yaml_node_t *kn = node_at(dc, pr->key), *vn = node_at(dc, pr->value);
                memset(marks, 0, (size_t)nranks);
                comp_cfg dcfg;
                double factor = 0;
                if (k == 0) {
                    const char *name = scalar(kn);
                    if (name == NULL) {
                        rc = bad(&c, kn, "a device name must be plain text");
                        break;
                    }
                    if ((rc = rank_spec(dc, &c, vn, (int)nranks, marks)) < 0)
                        break;
                    dcfg = cfg->comp;
                    if ((rc = device_cfg(cfg, sc, cat, name, path, &dcfg, err)) < 0)
                        break;
                } else {
                    if ((rc = rank_spec(dc, &c, kn, (int)nranks, marks)) < 0 ||
                        (rc = get_double(&c, vn, 0, 1000, 1, &factor)) < 0)
                        break;
                }
                for (long long r = 0; r < nranks; r++) {
                    if (!marks[r])
                        continue;
                    if (k == 0) {
                        double sd = cfg->rank_comp[r].slowdown;
                        cfg->rank_comp[r] = dcfg;
                        cfg->rank_comp[r].slowdown = sd;
                    } else {
                        cfg->rank_comp[r].slowdown = factor;
                    }
                }
            }
        }
        free(marks);
        for (long long r = 0; rc == 0 && r < nranks; r++)
            rc = comp_cfg_check(&cfg->rank_comp[r], err);
        if (rc < 0)
            goto out;
    }
    if (sc->comm_group) {
        if (f->comm_group)
            note(cfg, "comm-group %s (the command line's --comm-group is used)", sc->comm_group);
        else if ((rc = load_groups(cfg, sc->comm_group, err)) < 0)
            goto out;
    }
out:
    comp_catalog_free(cat);
    return rc;
}

static int load_system(loom_cfg *cfg, const loom_cfg_files *f, loom_err *err)
{
    doc dc;
    sys_comp sc = {.model = -1, .roofline_key = -1, .dtype = COMP_BF16,
                   .eff = {-1, -1}, .ovh = {-1, -1}};
    int rc = doc_load(&dc, f->system, err);
    if (rc == 0)
        rc = apply_overrides(&dc, "system", f, err);
    if (rc == 0)
        rc = check_keys(&dc, sys_keys, SYS_KEYS, err);
    if (rc < 0)
        goto out;

    /* Defaults are ASTRA-sim's where it has one (docs/CONFIG.md). */
    cfg->sys.splits = 1;
    cfg->sys.active_chunks = 1;
    cfg->sys.endpoint_delay = 10 * SIM_PS_PER_NS;
    for (int op = 0; op < NET_IMPL_OPS; op++)
        for (int d = 0; d < NET_MAX_DIMS; d++)
            cfg->sys.impl[op][d] = NET_ALGO_RING;
    cfg->comp.kind = COMP_TRACE;

    int n = 0;
    yaml_node_pair_t *p = pairs_of(&dc, &n, err);
    int have_mem = 0, have_peak = 0;
    for (int i = 0; i < n; i++) {
        const char *k = scalar(node_at(&dc, p[i].key));
        yaml_node_t *v = node_at(&dc, p[i].value);
        ctx c = {f->system, k, -1, err};
        long long iv;
        double dv;
        int e;
        if (strcmp(k, "endpoint-delay") == 0) {
            if ((rc = get_int(&c, v, 0, 1000000000LL, &iv)) < 0)
                goto out;
            cfg->sys.endpoint_delay = iv * SIM_PS_PER_NS;
        } else if (strcmp(k, "active-chunks-per-dimension") == 0) {
            if ((rc = get_int(&c, v, 1, 1024, &iv)) < 0)
                goto out;
            cfg->sys.active_chunks = (int)iv;
        } else if (strcmp(k, "preferred-dataset-splits") == 0) {
            if ((rc = get_int(&c, v, 1, 65536, &iv)) < 0)
                goto out;
            cfg->sys.splits = (int)iv;
        } else if (strcmp(k, "all-reduce-implementation") == 0) {
            if ((rc = load_impl(cfg, &dc, v, k, NET_IMPL_ALL_REDUCE, err)) < 0)
                goto out;
        } else if (strcmp(k, "all-gather-implementation") == 0) {
            if ((rc = load_impl(cfg, &dc, v, k, NET_IMPL_ALL_GATHER, err)) < 0)
                goto out;
        } else if (strcmp(k, "reduce-scatter-implementation") == 0) {
            if ((rc = load_impl(cfg, &dc, v, k, NET_IMPL_REDUCE_SCATTER, err)) < 0)
                goto out;
        } else if (strcmp(k, "all-to-all-implementation") == 0) {
            if ((rc = load_impl(cfg, &dc, v, k, NET_IMPL_ALL_TO_ALL, err)) < 0)
                goto out;
        } else if (strcmp(k, "local-mem-bw") == 0) { /* GB/s, GB = 10^9 */
            if ((rc = get_double(&c, v, 0, 1e9, 1, &dv)) < 0)
                goto out;
            cfg->sys.local_mem_bw = cfg->comp.mem_bw = sc.mem_bw = dv * 1e9;
            have_mem = 1;
        } else if (strcmp(k, "roofline-enabled") == 0) {
            if ((rc = get_int(&c, v, 0, 1, &iv)) < 0)
                goto out;
            cfg->comp.kind = iv ? COMP_ROOFLINE : COMP_TRACE;
            sc.roofline_key = (int)iv;
        } else if (strcmp(k, "peak-perf") == 0) { /* TFLOP/s */
            if ((rc = get_double(&c, v, 0, 1e9, 1, &dv)) < 0)
                goto out;
            cfg->comp.peak_flops = sc.peak = dv * 1e12;
            have_peak = 1;
        } else if (strcmp(k, "device") == 0) {
            if ((sc.device = scalar(v)) == NULL || *sc.device == '\0') {
                rc = bad(&c, v, "expected a device name (see loom devices)");
                goto out;
            }
        } else if (strcmp(k, "device-file") == 0 || strcmp(k, "compute-table") == 0 ||
                   strcmp(k, "comm-group") == 0) {
            const char *s = scalar(v);
            if (s == NULL || *s == '\0') {
                rc = bad(&c, v, "expected a file path (relative to the system file)");
                goto out;
            }
            char **dst = strcmp(k, "device-file") == 0     ? &sc.device_file
                         : strcmp(k, "compute-table") == 0 ? &sc.table
                                                           : &sc.comm_group;
            free(*dst);
            *dst = sys_path(f->system, s);
        } else if (strcmp(k, "compute-model") == 0) {
            if ((rc = get_enum(&c, v, comp_kind_names, COMP_KINDS, &e)) < 0)
                goto out;
            sc.model = e; /* comp_kind_names is in comp_kind order */
        } else if (strcmp(k, "compute-dtype") == 0) {
            static const char *const dts[] = {"fp32", "tf32", "fp16", "bf16", "fp8"};
            if ((rc = get_enum(&c, v, dts, 5, &e)) < 0)
                goto out;
            sc.dtype = (comp_dtype)e;
        } else if (strcmp(k, "compute-matrix-efficiency") == 0 ||
                   strcmp(k, "compute-memory-efficiency") == 0) {
            if ((rc = get_double(&c, v, 0, 1, 1, &dv)) < 0)
                goto out;
            sc.eff[strstr(k, "memory") != NULL] = dv; /* [0] matrix, [1] memory */
        } else if (strcmp(k, "compute-matrix-overhead-us") == 0 ||
                   strcmp(k, "compute-memory-overhead-us") == 0) {
            if ((rc = get_double(&c, v, 0, 1e6, 0, &dv)) < 0)
                goto out;
            sc.ovh[strstr(k, "memory") != NULL] = dv;
        } else if (strcmp(k, "rank-devices") == 0) {
            sc.rank_dev = v;
        } else if (strcmp(k, "straggler") == 0) {
            sc.straggler = v;
        } else if (strcmp(k, "network-model") == 0) { /* docs/NETWORK.md */
            static const char *const models[] = {"analytical", "flow"};
            if ((rc = get_enum(&c, v, models, 2, &e)) < 0)
                goto out;
            cfg->sys.model = (net_model_kind)e;
        } else if (strcmp(k, "scheduling-policy") == 0) {
            static const char *const pol[] = {"LIFO", "FIFO", "EXPLICIT"};
            if ((rc = get_enum(&c, v, pol, 3, &e)) < 0)
                goto out;
            note(cfg, "scheduling-policy %s (loom issues ready nodes in id order)", pol[e]);
        } else if (strcmp(k, "collective-optimization") == 0) {
            static const char *const opt[] = {"baseline", "localBWAware"};
            if ((rc = get_enum(&c, v, opt, 2, &e)) < 0)
                goto out;
            note(cfg, "collective-optimization %s", opt[e]);
        } else if (strstr(k, "-implementation-custom") != NULL) {
            note(cfg, "%s (custom collective files are not run; traces with explicit "
                      "sends and receives replay as written)", k);
        } else if (strcmp(k, "intra-dimension-scheduling") == 0 ||
                   strcmp(k, "inter-dimension-scheduling") == 0) {
            if (scalar(v) == NULL) {
                rc = bad(&c, v, "expected a name");
                goto out;
            }
            note(cfg, "%s", k);
        } else { /* numeric switches and LogGP parameters: checked, not modelled */
            if ((rc = get_double(&c, v, 0, 1e15, 0, &dv)) < 0)
                goto out;
            if (dv != 0)
                note(cfg, "%s", k);
        }
    }
    if ((rc = load_compute(cfg, &dc, &sc, f, &have_mem, have_peak, err)) < 0)
        goto out;
    if (!have_mem) {
        rc = loom_err_set(err, LOOM_EUSAGE,
                          "%s: missing key 'local-mem-bw' (GB/s, 10^9 bytes/s) or 'device': loom "
                          "needs it for reductions and memory nodes", f->system);
        goto out;
    }
    if (cfg->comp.kind == COMP_ROOFLINE && !have_peak && !sc.device) {
        rc = loom_err_set(err, LOOM_EUSAGE,
                          "%s: 'roofline-enabled' is 1 but 'peak-perf' (TFLOP/s) is missing", f->system);
        goto out;
    }
    rc = comp_cfg_check(&cfg->comp, err);
out:
    free(sc.device_file);
    free(sc.table);
    free(sc.comm_group);
    doc_free(&dc);
    return rc;
}

/* ---- comm groups and remote memory --------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int load_groups(loom_cfg *cfg, const char *path, loom_err *err)
{
    doc dc;
    int rc = doc_load(&dc, path, err);
    if (rc < 0)
        goto out;
    int n = 0;
    yaml_node_pair_t *p = pairs_of(&dc, &n, err);
    if (p == NULL) {
        rc = LOOM_EUSAGE;
        goto out;
    }
    cfg->groups = loom_xcalloc(n, sizeof *cfg->groups);
    for (int i = 0; i < n; i++) {
        yaml_node_t *kn = node_at(&dc, p[i].key);
        const char *k = scalar(kn);
        if (k == NULL || *k == '\0') {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: a group name must be a plain string",
                              path, kn->start_mark.line + 1);
            goto out;
        }
        if (loom_cfg_group(cfg, k) != NULL) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: group '%s' appears twice", path, k);
            goto out;
        }
        yaml_node_t *v = node_at(&dc, p[i].value);
        if (v->type == YAML_MAPPING_NODE) { /* a rule: {stride: S, size: N} */
            loom_group *g = &cfg->groups[cfg->ngroups++];
            g->name = loom_xstrdup(k);
            long long val[2] = {0, 0};
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                const char *rk = scalar(node_at(&dc, q->key));
                int which = rk && strcmp(rk, "stride") == 0 ? 0 : rk && strcmp(rk, "size") == 0 ? 1 : -1;
                if (which < 0) {
                    rc = loom_err_set(err, LOOM_EUSAGE,
                                      "%s: group '%s': unknown key '%s' (a rule has stride and size)",
                                      path, k, rk ? rk : "?");
                    goto out;
                }
                ctx c = {path, k, -1, err};
                c.key = which ? "size" : "stride";
                if ((rc = get_int(&c, node_at(&dc, q->value), 1, (1 << 24) - 1, &val[which])) < 0)
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
            ctx c = {path, k, j, err};
            long long r;
            if ((rc = get_int(&c, node_at(&dc, v->data.sequence.items.start[j]), 0, (1 << 24) - 1, &r)) < 0)
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
    doc_free(&dc);
    return rc;
}

static int load_remote_mem(const char *path, loom_err *err)
{
    static const char *const keys[] = {"memory-type"};
    doc dc;
    int rc = doc_load(&dc, path, err);
    if (rc == 0)
        rc = check_keys(&dc, keys, 1, err);
    if (rc == 0) {
        yaml_node_t *v = lookup(&dc, "memory-type");
        const char *s = v ? scalar(v) : NULL;
        if (s == NULL || strcmp(s, "NO_MEMORY_EXPANSION") != 0)
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: key 'memory-type': '%s' is not supported (loom models "
                              "NO_MEMORY_EXPANSION only)", path, s ? s : "(missing)");
    }
    doc_free(&dc);
    return rc;
}

/* ---- entry points --------------------------------------------------------- */

int loom_cfg_load(loom_cfg *cfg, const loom_cfg_files *f, loom_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ctrl_deps = 1;
    int rc;
    for (int i = 0; i < f->nsets; i++) { /* report a bad --set before any file */
        override o;
        if ((rc = parse_override(f->sets[i], &o, err)) < 0)
            return rc;
    }
    if (f->network == NULL || f->system == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "a run needs --network and --system files");
    if ((rc = load_network(cfg, f, err)) < 0 || (rc = load_system(cfg, f, err)) < 0)
        goto err;
    if (f->comm_group && (rc = load_groups(cfg, f->comm_group, err)) < 0)
        goto err;
    if (f->remote_mem && (rc = load_remote_mem(f->remote_mem, err)) < 0)
        goto err;
    return 0;
err:
    loom_cfg_free(cfg);
    return rc;
}

void loom_cfg_free(loom_cfg *cfg)
{
    for (int i = 0; i < cfg->ngroups; i++) {
        free(cfg->groups[i].name);
        free(cfg->groups[i].ranks);
    }
    free(cfg->groups);
    for (int i = 0; i < cfg->nnotes; i++)
        free(cfg->notes[i]);
    free(cfg->notes);
    free(cfg->rank_comp);
    comp_table_free(cfg->comp_table);
    cfg->rank_comp = NULL;
    cfg->comp_table = NULL;
    cfg->groups = NULL;
    cfg->notes = NULL;
    cfg->ngroups = cfg->nnotes = 0;
}

const loom_group *loom_cfg_group(const loom_cfg *cfg, const char *name)
{
    for (int i = 0; i < cfg->ngroups; i++)
        if (cfg->groups[i].name && strcmp(cfg->groups[i].name, name) == 0)
            return &cfg->groups[i];
    return NULL;
}
