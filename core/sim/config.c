/*
 * config.c: the loader's entry points and what every file kind shares:
 * parsed documents, typed and range-checked values, key checks, and --set
 * overrides applied to a document before it is read.
 *
 * Loading goes file -> libyaml document -> --set overrides applied to the
 * document -> typed structs.  Applying overrides to the document (not the
 * structs) means a value given on the command line is parsed, typed and
 * range-checked by exactly the code that checks the file.  The file kinds
 * are read by config_net.c, config_sys.c (+ config_comp.c) and
 * config_groups.c.
 */
#include "config.h"
#include "config_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_topo.h"
#include "yamlio.h"

/* ---- documents ---------------------------------------------------------- */


/* A file (f != NULL) or len bytes of buf into dc; "the file is empty" is
 * an error here, since every loom file has keys. */
static int cfg_doc_parse(cfg_doc *dc, const char *path, const unsigned char *buf, size_t len,
                     int from_file, loom_err *err)
{
    memset(dc, 0, sizeof *dc); /* cfg_doc_free() on a file that did not load is a no-op */
    dc->path = path;
    int rc = from_file ? loom_yaml_load_file(path, &dc->d, err)
                       : loom_yaml_load_string(path, buf, len, &dc->d, err);
    if (rc < 0)
        return rc;
    dc->loaded = 1;
    if (yaml_document_get_root_node(&dc->d) == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: the %s is empty", path, from_file ? "file" : "value");
    return 0;
}

int cfg_doc_load(cfg_doc *dc, const char *path, loom_err *err)
{
    return cfg_doc_parse(dc, path, NULL, 0, 1, err);
}

void cfg_doc_free(cfg_doc *dc)
{
    if (dc->loaded)
        yaml_document_delete(&dc->d);
    dc->loaded = 0;
}

/* Copies node i of src, and what it holds, into dst; returns its index
 * there.  done[j - 1] is node j's copy, or 0: a node that aliases make
 * appear twice is copied once and shared the same way, so the copy costs
 * the nodes as written, not as expanded.  yamlio.h bounds the recursion:
 * src is acyclic and at most LOOM_YAML_MAX_DEPTH levels deep. */
static int copy_node(cfg_doc *dst, cfg_doc *src, int i, int *done, int depth)
{
    LOOM_ASSERT(depth <= LOOM_YAML_MAX_DEPTH);
    if (done[i - 1])
        return done[i - 1];
    yaml_node_t *n = cfg_node(src, i);
    int c = 0;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        c = yaml_document_add_scalar(&dst->d, NULL, n->data.scalar.value,
                                     (int)n->data.scalar.length, n->data.scalar.style);
        break;
    case YAML_SEQUENCE_NODE: {
        c = yaml_document_add_sequence(&dst->d, NULL, YAML_FLOW_SEQUENCE_STYLE);
        /* node pointers move when dst grows: re-fetch n after each add */
        int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        for (int k = 0; k < count; k++) {
            int item = cfg_node(src, i)->data.sequence.items.start[k];
            yaml_document_append_sequence_item(&dst->d, c, copy_node(dst, src, item, done, depth + 1));
        }
        break;
    }
    case YAML_MAPPING_NODE: {
        c = yaml_document_add_mapping(&dst->d, NULL, YAML_FLOW_MAPPING_STYLE);
        int count = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        for (int k = 0; k < count; k++) {
            yaml_node_pair_t pr = cfg_node(src, i)->data.mapping.pairs.start[k];
            int kk = copy_node(dst, src, pr.key, done, depth + 1);
            int vv = copy_node(dst, src, pr.value, done, depth + 1);
            yaml_document_append_mapping_pair(&dst->d, c, kk, vv);
        }
        break;
    }
    default:
        LOOM_ASSERT(0);
    }
    LOOM_ASSERT(c > 0);
    done[i - 1] = c;
    return c;
}

/* ---- typed values --------------------------------------------------------- */

int cfg_bad(const cfg_ctx *c, const yaml_node_t *n, const char *what)
{
    char where[64] = "";
    if (n && strcmp(c->path, "--set") != 0)
        snprintf(where, sizeof where, " (line %zu)", n->start_mark.line + 1);
    if (c->index >= 0)
        return loom_err_set(c->err, LOOM_EUSAGE, "%s: key '%s'[%d]%s: %s", c->path, c->key,
                            c->index, where, what);
    return loom_err_set(c->err, LOOM_EUSAGE, "%s: key '%s'%s: %s", c->path, c->key, where, what);
}

int cfg_get_double(const cfg_ctx *c, const yaml_node_t *n, double lo, double hi,
                      int lo_open, double *out)
{
    const char *s = cfg_scalar(n);
    char msg[160];
    if (s == NULL || *s == '\0')
        return cfg_bad(c, n, "expected a number");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v)) {
        snprintf(msg, sizeof msg, "'%s' is not a number", s);
        return cfg_bad(c, n, msg);
    }
    if ((lo_open ? !(v > lo) : !(v >= lo)) || !(v <= hi)) {
        snprintf(msg, sizeof msg, "%s is out of range: allowed %s%g .. %g", s,
                 lo_open ? "> " : "", lo, hi);
        return cfg_bad(c, n, msg);
    }
    *out = v;
    return 0;
}

int cfg_get_int(const cfg_ctx *c, const yaml_node_t *n, long long lo, long long hi, long long *out)
{
    const char *s = cfg_scalar(n);
    char msg[160];
    if (s == NULL || *s == '\0')
        return cfg_bad(c, n, "expected an integer");
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
            return cfg_bad(c, n, msg);
        }
        v = (long long)d;
    }
    if (*end != '\0' || errno != 0) {
        snprintf(msg, sizeof msg, "'%s' is not an integer", s);
        return cfg_bad(c, n, msg);
    }
    *out = v;
    if (v < lo || v > hi)
        goto range;
    return 0;
range:
    snprintf(msg, sizeof msg, "%s is out of range: allowed %lld .. %lld", s, lo, hi);
    return cfg_bad(c, n, msg);
}

int cfg_get_enum(const cfg_ctx *c, const yaml_node_t *n, const char *const *names, int count,
                    int *out)
{
    const char *s = cfg_scalar(n);
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
    return cfg_bad(c, n, msg);
}

/* The items of a list value; a scalar counts as a list of one. */
int cfg_list_items(cfg_doc *dc, yaml_node_t *n, int **items, int *count, int *one)
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

/* ---- keys ---------------------------------------------------------------- */

int cfg_key_index(const char *const *keys, int n, const char *k)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0)
            return i;
    return -1;
}

/* Edit distance (insertions, deletions, substitutions) between a and b,
 * stopping at 99: keys are short, so O(|a| |b|) is nothing. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 98 || lb > 98)
        return 99;
    int row[100];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The other file kind k belongs to, when the network and system files
 * look swapped ("this looks like a system file"); else NULL. */
static const char *swapped_kind(const char *const *keys, const char *k)
{
    if (keys == cfg_net_keys && cfg_key_index(cfg_sys_keys, cfg_nsys_keys, k) >= 0)
        return "a system file (--system)";
    if (keys == cfg_sys_keys && (cfg_key_index(cfg_net_keys, CFG_NET_KEYS, k) >= 0 ||
                                 cfg_key_index(net_xtopo_keys, net_xtopo_nkeys, k) >= 0))
        return "a network file (--network)";
    return NULL;
}

/* "unknown key 'K'": for a file, with its line, or what kind of file it
 * looks like when network and system are swapped; else the nearest known
 * key (edit distance at most a third of the longer name, at least 1, and
 * less than the known key's length) and the known keys sorted. */
int cfg_unknown_key(loom_err *err, const char *path, const yaml_node_t *kn, const char *k,
                       const char *const *keys, int n)
{
    char where[64] = "";
    if (kn && strcmp(path, "--set") != 0) {
        snprintf(where, sizeof where, " line %zu:", kn->start_mark.line + 1);
        const char *other = swapped_kind(keys, k);
        if (other)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s:%s unknown key '%s': this looks like %s, not a %s file: "
                                "are --network and --system swapped?", path, where, k, other,
                                keys == cfg_net_keys ? "network" : "system");
    }
    const char **sorted = loom_xmalloc((size_t)n * sizeof *sorted);
    memcpy(sorted, keys, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    char list[3000], near[300] = "";
    int off = 0, best = 99;
    for (int i = 0; i < n; i++) {
        if (off < (int)sizeof list)
            off += snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", sorted[i]);
        int lk = (int)strlen(k), lo = (int)strlen(sorted[i]);
        int d = edit_distance(k, sorted[i]), lim = (lk > lo ? lk : lo) / 3;
        if (d < best && d < lo && d <= (lim > 1 ? lim : 1)) {
            best = d;
            snprintf(near, sizeof near, "; did you mean '%s'?", sorted[i]);
        }
    }
    free(sorted);
    return loom_err_set(err, LOOM_EUSAGE, "%s:%s unknown key '%s'%s (known keys: %s)", path, where,
                        k, near, list);
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
    if (strcmp(o->section, "network") == 0 && cfg_key_index(cfg_net_keys, CFG_NET_KEYS, o->key) < 0 &&
        cfg_key_index(net_xtopo_keys, net_xtopo_nkeys, o->key) < 0) /* explicit fabrics' keys */
        return cfg_unknown_key(err, "--set", NULL, o->key, cfg_net_keys, CFG_NET_KEYS);
    if (strcmp(o->section, "system") == 0 && cfg_key_index(cfg_sys_keys, cfg_nsys_keys, o->key) < 0)
        return cfg_unknown_key(err, "--set", NULL, o->key, cfg_sys_keys, cfg_nsys_keys);
    return 0;
}

static int apply_override(cfg_doc *dc, const override *o, loom_err *err)
{
    cfg_doc val;
    char name[300]; /* "--set network.bandwidth[1]": the value's messages name its key */
    snprintf(name, sizeof name, "--set %.*s", (int)(o->value - 1 - o->text), o->text);
    if (cfg_doc_parse(&val, name, (const unsigned char *)o->value, strlen(o->value), 0, err) < 0) {
        cfg_doc_free(&val);
        return LOOM_EUSAGE;
    }
    yaml_node_t *root = yaml_document_get_root_node(&dc->d);
    if (root->type != YAML_MAPPING_NODE) {
        cfg_doc_free(&val);
        return loom_err_set(err, LOOM_EUSAGE, "%s: the top level must be a mapping of keys", dc->path);
    }
    int root_i = (int)(root - dc->d.nodes.start) + 1;
    int nsrc = (int)(val.d.nodes.top - val.d.nodes.start);
    int *done = loom_xcalloc((size_t)nsrc, sizeof *done);
    int v = copy_node(dc, &val, 1, done, 1);
    free(done);
    cfg_doc_free(&val);
    root = cfg_node(dc, root_i);
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const char *k = cfg_scalar(cfg_node(dc, p->key));
        if (k == NULL || strcmp(k, o->key) != 0)
            continue;
        if (o->index < 0) {
            p->value = v;
            return 0;
        }
        yaml_node_t *list = cfg_node(dc, p->value);
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
        /* a list aliases may share (bandwidth: &b [...], latency: *b):
         * the override changes this key's own copy of it */
        int li = p->value, copy = yaml_document_add_sequence(&dc->d, NULL, YAML_FLOW_SEQUENCE_STYLE);
        LOOM_ASSERT(copy > 0);
        for (int k = 0; k < count; k++)
            yaml_document_append_sequence_item(&dc->d, copy, k == o->index ? v
                                               : cfg_node(dc, li)->data.sequence.items.start[k]);
        cfg_node(dc, copy)->start_mark = cfg_node(dc, li)->start_mark;
        p->value = copy;
        return 0;
    }
    if (o->index > 0)
        return loom_err_set(err, LOOM_EUSAGE, "--set %s: '%s' is not in %s, so it has no entry %d",
                            o->text, o->key, dc->path, o->index);
    int k = yaml_document_add_scalar(&dc->d, NULL, (yaml_char_t *)o->key, -1, YAML_PLAIN_SCALAR_STYLE);
    yaml_document_append_mapping_pair(&dc->d, root_i, k, v);
    return 0;
}

int cfg_apply_overrides(cfg_doc *dc, const char *section, const loom_cfg_files *f, loom_err *err)
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
yaml_node_pair_t *cfg_pairs(cfg_doc *dc, int *n, loom_err *err)
{
    yaml_node_t *root = yaml_document_get_root_node(&dc->d);
    if (root->type != YAML_MAPPING_NODE) {
        loom_err_set(err, LOOM_EUSAGE, "%s: the top level must be a mapping of keys", dc->path);
        return NULL;
    }
    *n = (int)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
    return root->data.mapping.pairs.start;
}

int cfg_check_keys(cfg_doc *dc, const char *const *keys, int nkeys, loom_err *err)
{
    int n = 0;
    yaml_node_pair_t *p = cfg_pairs(dc, &n, err);
    if (p == NULL)
        return LOOM_EUSAGE;
    for (int i = 0; i < n; i++) {
        yaml_node_t *kn = cfg_node(dc, p[i].key);
        const char *k = cfg_scalar(kn);
        if (k == NULL)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: a key must be a plain name",
                                dc->path, kn->start_mark.line + 1);
        if (cfg_key_index(keys, nkeys, k) < 0)
            return cfg_unknown_key(err, dc->path, kn, k, keys, nkeys);
        for (int j = 0; j < i; j++)
            if (strcmp(cfg_scalar(cfg_node(dc, p[j].key)), k) == 0)
                return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: key '%s' appears twice",
                                    dc->path, kn->start_mark.line + 1, k);
    }
    return 0;
}

yaml_node_t *cfg_lookup(cfg_doc *dc, const char *key)
{
    int n = 0;
    yaml_node_pair_t *p = cfg_pairs(dc, &n, NULL);
    for (int i = 0; p && i < n; i++) {
        const char *k = cfg_scalar(cfg_node(dc, p[i].key)); /* never NULL after yamlio */
        if (k && strcmp(k, key) == 0)
            return cfg_node(dc, p[i].value);
    }
    return NULL;
}

/* ---- notes ---------------------------------------------------------------- */

void cfg_note(loom_cfg *cfg, const char *fmt, const char *a)
{
    char buf[256];
    snprintf(buf, sizeof buf, fmt, a);
    cfg->notes = loom_xrealloc(cfg->notes, (cfg->nnotes + 1) * sizeof *cfg->notes);
    cfg->notes[cfg->nnotes++] = loom_xstrdup(buf);
}

void loom_cfg_add_note(loom_cfg *cfg, const char *text)
{
    cfg_note(cfg, "%s", text);
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
    if ((f->network == NULL && f->htsim_topo == NULL) || f->system == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "a run needs --network and --system files");
    if ((rc = cfg_load_network(cfg, f, err)) < 0 || (rc = cfg_load_system(cfg, f, err)) < 0)
        goto err;
    if (f->comm_group && (rc = cfg_load_groups(cfg, f->comm_group, err)) < 0)
        goto err;
    if (f->remote_mem && (rc = cfg_load_remote_mem(cfg, f->remote_mem, err)) < 0)
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
    free(cfg->stack_name);
    cfg->stack_name = NULL;
    free(cfg->rmem.path);
    cfg->rmem.path = NULL;
    for (int op = 0; op < NET_IMPL_OPS; op++) {
        net_cplan_free(cfg->custom[op]);
        cfg->custom[op] = NULL;
    }
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
