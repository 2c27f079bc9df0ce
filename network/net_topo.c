/*
 * net_topo.c: explicit-fabric files (docs/NETWORK.md 3), their
 * contention-free view as dimensions, and `loom topo describe`.
 *
 * Files are read with libyaml's document API; every key is checked
 * against one table, so an unknown key, a key that does not apply to the
 * kind, a missing key or a value out of range is an error naming the
 * file, the line and the key.
 */
#include "net_topo.h"
#include "net_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define GIB 1073741824.0 /* ASTRA-sim's network GB */

enum { K_FAT = 1 << NET_X_FAT_TREE, K_RAIL = 1 << NET_X_RAIL,
       K_TORUS = 1 << NET_X_TORUS, K_DF = 1 << NET_X_DRAGONFLY,
       K_ALL = K_FAT | K_RAIL | K_TORUS | K_DF };

typedef struct keydef {
    const char *name; /* key */
    int kinds;        /* K_* it applies to */
} keydef;

static const keydef keys[] = {
    {"kind", K_ALL},
    {"npus", K_ALL},
    {"npus_per_node", K_FAT},
    {"tiers", K_FAT},
    {"hosts_per_leaf", K_FAT},
    {"leaves_per_pod", K_FAT},
    {"oversubscription", K_FAT},
    {"nodes", K_RAIL},
    {"gpus_per_node", K_RAIL},
    {"dims", K_TORUS},
    {"groups", K_DF},
    {"routers_per_group", K_DF},
    {"hosts_per_router", K_DF},
    {"global_links_per_router", K_DF},
    {"bandwidth", K_ALL},
    {"latency", K_ALL},
    {"nccl", K_ALL},
};
enum { NKEYS = sizeof keys / sizeof keys[0] };

const char *const net_xtopo_keys[] = {
    "kind", "npus", "npus_per_node", "tiers", "hosts_per_leaf",
    "leaves_per_pod", "oversubscription", "nodes", "gpus_per_node", "dims",
    "groups", "routers_per_group", "hosts_per_router",
    "global_links_per_router", "bandwidth", "latency", "nccl",
};
const int net_xtopo_nkeys = NKEYS;

const char *net_xkind_name(net_xkind k)
{
    switch (k) {
    case NET_X_DIMS: return "dims";
    case NET_X_FAT_TREE: return "fat_tree";
    case NET_X_RAIL: return "rail";
    case NET_X_TORUS: return "torus";
    case NET_X_DRAGONFLY: return "dragonfly";
    case NET_XKINDS: break;
    }
    return "?";
}

/* ---- typed values from the document ------------------------------------- */

typedef struct rd {
    yaml_document_t *d; /* the document */
    const char *path;   /* file, for messages */
    loom_err *err;
} rd;

static yaml_node_t *node(rd *r, int i) { return yaml_document_get_node(r->d, i); }

static const char *scal(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int bad(rd *r, const yaml_node_t *n, const char *key, int idx, const char *what)
{
    char where[48] = "";
    if (n)
        snprintf(where, sizeof where, " (line %zu)", n->start_mark.line + 1);
    if (idx >= 0)
        return loom_err_set(r->err, LOOM_EUSAGE, "%s: key '%s'[%d]%s: %s", r->path, key, idx,
                            where, what);
    return loom_err_set(r->err, LOOM_EUSAGE, "%s: key '%s'%s: %s", r->path, key, where, what);
}

static int get_num(rd *r, const yaml_node_t *n, const char *key, int idx, double lo, int lo_open,
                   double hi, double *out)
{
    const char *s = scal(n);
    char msg[192];
    if (s == NULL || *s == '\0')
        return bad(r, n, key, idx, "expected a number");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v)) {
        snprintf(msg, sizeof msg, "'%s' is not a number", s);
        return bad(r, n, key, idx, msg);
    }
    if ((lo_open ? !(v > lo) : !(v >= lo)) || !(v <= hi)) {
        snprintf(msg, sizeof msg, "%s is out of range: allowed %s%g .. %g", s,
                 lo_open ? "> " : "", lo, hi);
        return bad(r, n, key, idx, msg);
    }
    *out = v;
    return 0;
}

static int get_int(rd *r, const yaml_node_t *n, const char *key, int idx, long lo, long hi,
                   int *out)
{
    double v = 0;
    int rc = get_num(r, n, key, idx, (double)lo, 0, (double)hi, &v);
    if (rc < 0)
        return rc;
    if (v != floor(v)) {
        char msg[96];
        const char *s = scal(n);
        snprintf(msg, sizeof msg, "'%s' is not an integer", s ? s : "?");
        return bad(r, n, key, idx, msg);
    }
    *out = (int)v;
    return 0;
}

static int get_word(rd *r, const yaml_node_t *n, const char *key, const char *const *names,
                    const int *vals, int count, int *out)
{
    const char *s = scal(n);
    char msg[256];
    for (int i = 0; s && i < count; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = vals[i];
            return 0;
        }
    int off = snprintf(msg, sizeof msg, "'%s' is not one of", s ? s : "(not a name)");
    for (int i = 0; i < count && off < (int)sizeof msg; i++)
        off += snprintf(msg + off, sizeof msg - off, "%s %s", i ? "," : "", names[i]);
    return bad(r, n, key, -1, msg);
}

/* items of a list value; a scalar is a list of one (*scalar = 1) */
static int items_of(rd *r, yaml_node_t *n, int **items, int *count, int *one, int *scalar)
{
    *scalar = 0;
    if (n->type == YAML_SEQUENCE_NODE) {
        *items = n->data.sequence.items.start;
        *count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        return 0;
    }
    if (n->type == YAML_SCALAR_NODE) {
        *one = (int)(n - r->d->nodes.start) + 1;
        *items = one;
        *count = 1;
        *scalar = 1;
        return 0;
    }
    return -1;
}

static yaml_node_t *lookup(rd *r, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = scal(node(r, p->key));
        if (k && strcmp(k, key) == 0)
            return node(r, p->value);
    }
    return NULL;
}

static int req_int(rd *r, yaml_node_t *root, const char *key, long lo, long hi, int *out)
{
    yaml_node_t *v = lookup(r, root, key);
    if (v == NULL)
        return loom_err_set(r->err, LOOM_EUSAGE, "%s: missing key '%s' (%ld .. %ld)", r->path, key,
                            lo, hi);
    return get_int(r, v, key, -1, lo, hi, out);
}

static int opt_int(rd *r, yaml_node_t *root, const char *key, long lo, long hi, int *out)
{
    yaml_node_t *v = lookup(r, root, key);
    return v ? get_int(r, v, key, -1, lo, hi, out) : 0;
}

/* bandwidth (GB/s, 2^30) and latency (ns), one entry per link class; a
 * single value applies to every class */
static int read_classes(rd *r, yaml_node_t *root, int ncls, net_xtopo *x)
{
    static const char *const which[2] = {"bandwidth", "latency"};
    for (int w = 0; w < 2; w++) {
        yaml_node_t *v = lookup(r, root, which[w]);
        if (v == NULL)
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: missing key '%s' (%s, one per link class: %d for kind %s)",
                                r->path, which[w], w ? "ns" : "GB/s, GB = 2^30 bytes", ncls,
                                net_xkind_name(x->kind));
        int *it, one, cnt, sc;
        if (items_of(r, v, &it, &cnt, &one, &sc) < 0 || (!sc && cnt != ncls))
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: key '%s' must be one value or a list of %d (one per link "
                                "class of kind %s)", r->path, which[w], ncls,
                                net_xkind_name(x->kind));
        for (int c = 0; c < ncls; c++) {
            yaml_node_t *n = node(r, it[sc ? 0 : c]);
            double val;
            int rc = w == 0 ? get_num(r, n, which[w], sc ? -1 : c, 0, 1, 1e9, &val)
                            : get_num(r, n, which[w], sc ? -1 : c, 0, 0, 1e12, &val);
            if (rc < 0)
                return rc;
            if (w == 0)
                x->cls[c].bw = val * GIB;
            else
                x->cls[c].latency = (sim_time)llround(val * SIM_PS_PER_NS);
        }
    }
    return 0;
}

static int read_nccl(rd *r, yaml_node_t *v, net_nccl_hw *h)
{
    static const char *const nk[] = {"channels", "gpu", "cpu", "intra", "ll128"};
    if (v->type != YAML_MAPPING_NODE)
        return bad(r, v, "nccl", -1, "expected a mapping (channels, gpu, cpu, intra, ll128)");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(r, p->key), *vn = node(r, p->value);
        const char *k = scal(kn);
        char key[48];
        snprintf(key, sizeof key, "nccl.%s", k ? k : "?");
        int rc = 0;
        if (k && strcmp(k, "channels") == 0) {
            rc = get_int(r, vn, key, -1, 1, 64, &h->channels);
        } else if (k && strcmp(k, "gpu") == 0) {
            static const char *const n[] = {"volta", "ampere", "hopper"};
            static const int val[] = {70, 80, 90};
            rc = get_word(r, vn, key, n, val, 3, &h->gpu_arch);
        } else if (k && strcmp(k, "cpu") == 0) {
            static const char *const n[] = {"intel", "amd"};
            static const int val[] = {0, 1};
            rc = get_word(r, vn, key, n, val, 2, &h->cpu_amd);
        } else if (k && strcmp(k, "intra") == 0) {
            static const char *const n[] = {"nvlink", "pci"};
            static const int val[] = {0, 1};
            rc = get_word(r, vn, key, n, val, 2, &h->pci);
        } else if (k && strcmp(k, "ll128") == 0) {
            static const char *const n[] = {"auto", "on", "off"};
            static const int val[] = {0, 1, -1};
            rc = get_word(r, vn, key, n, val, 3, &h->ll128);
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown key (known keys: %s, %s, %s, %s, %s)", nk[0], nk[1],
                     nk[2], nk[3], nk[4]);
            rc = bad(r, kn, key, -1, msg);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int net_xtopo_load(struct yaml_document_s *doc, const char *path, net_topo *out,
                   loom_err *err)
{
    rd r = {doc, path, err};
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE)
        return loom_err_set(err, LOOM_EUSAGE, "%s: the top level must be a mapping of keys", path);
    memset(out, 0, sizeof *out);
    net_xtopo *x = &out->x;
    snprintf(x->file, sizeof x->file, "%s", path);

    static const char *const kn[] = {"fat_tree", "fat-tree", "clos", "rail", "rail_optimized",
                                     "torus", "dragonfly"};
    static const int kv[] = {NET_X_FAT_TREE, NET_X_FAT_TREE, NET_X_FAT_TREE, NET_X_RAIL,
                             NET_X_RAIL, NET_X_TORUS, NET_X_DRAGONFLY};
    yaml_node_t *kv_node = lookup(&r, root, "kind");
    int kind, rc;
    if (kv_node == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: missing key 'kind'", path);
    if ((rc = get_word(&r, kv_node, "kind", kn, kv, 7, &kind)) < 0)
        return rc;
    x->kind = (net_xkind)kind;

    /* every key known, applicable to this kind, and given once */
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn2 = node(&r, p->key);
        const char *k = scal(kn2);
        int i;
        for (i = 0; k && i < NKEYS; i++)
            if (strcmp(k, keys[i].name) == 0)
                break;
        if (k == NULL || i == NKEYS) {
            char list[512];
            int off = 0;
            for (int j = 0; j < NKEYS && off < (int)sizeof list; j++)
                off += snprintf(list + off, sizeof list - off, "%s%s", j ? ", " : "",
                                keys[j].name);
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: unknown key '%s' (known keys: %s)",
                                path, kn2->start_mark.line + 1, k ? k : "?", list);
        }
        if (!(keys[i].kinds & (1 << kind)))
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: key '%s' does not apply to kind %s",
                                path, kn2->start_mark.line + 1, k, net_xkind_name(x->kind));
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++)
            if (strcmp(scal(node(&r, q->key)), k) == 0)
                return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: key '%s' appears twice",
                                    path, kn2->start_mark.line + 1, k);
    }

    int ncls = 0;
    const long MAXN = 1 << 24;
    switch (x->kind) {
    case NET_X_FAT_TREE: {
        if ((rc = req_int(&r, root, "npus", 1, MAXN, &x->npus)) < 0 ||
            (rc = req_int(&r, root, "tiers", 2, 3, &x->tiers)) < 0 ||
            (rc = req_int(&r, root, "hosts_per_leaf", 1, 65536, &x->hosts_per_leaf)) < 0 ||
            (rc = opt_int(&r, root, "npus_per_node", 1, 65536, &x->npus_per_node)) < 0)
            return rc;
        if (x->tiers == 3 &&
            (rc = req_int(&r, root, "leaves_per_pod", 1, 65536, &x->leaves_per_pod)) < 0)
            return rc;
        if (x->tiers == 2 && lookup(&r, root, "leaves_per_pod"))
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'leaves_per_pod' applies to 3 tiers only (tiers is 2)",
                                path);
        x->oversub[0] = x->oversub[1] = 1;
        yaml_node_t *ov = lookup(&r, root, "oversubscription");
        if (ov) {
            int *it, one, cnt, sc;
            if (items_of(&r, ov, &it, &cnt, &one, &sc) < 0 || (!sc && cnt != x->tiers - 1))
                return loom_err_set(err, LOOM_EUSAGE,
                                    "%s: key 'oversubscription' must be one ratio or a list of %d "
                                    "(leaf%s)", path, x->tiers - 1,
                                    x->tiers == 3 ? ", aggregation" : "");
            for (int i = 0; i < x->tiers - 1; i++)
                if ((rc = get_num(&r, node(&r, it[sc ? 0 : i]), "oversubscription", sc ? -1 : i,
                                  1, 0, 65536, &x->oversub[i])) < 0)
                    return rc;
        }
        ncls = x->tiers;
        break;
    }
    case NET_X_RAIL:
        if ((rc = req_int(&r, root, "nodes", 1, MAXN, &x->nodes)) < 0 ||
            (rc = req_int(&r, root, "gpus_per_node", 1, 1024, &x->gpus_per_node)) < 0 ||
            (rc = opt_int(&r, root, "npus", 1, MAXN, &x->npus)) < 0)
            return rc;
        ncls = 2;
        break;
    case NET_X_TORUS: {
        yaml_node_t *dv = lookup(&r, root, "dims");
        int *it, one, cnt, sc;
        if (dv == NULL)
            return loom_err_set(err, LOOM_EUSAGE, "%s: missing key 'dims' (2 or 3 ring sizes)",
                                path);
        if (items_of(&r, dv, &it, &cnt, &one, &sc) < 0 || sc || cnt < 2 || cnt > 3)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'dims' must be a list of 2 or 3 ring sizes (a 2D or 3D "
                                "torus)", path);
        out->ndims = cnt;
        for (int d = 0; d < cnt; d++) {
            if ((rc = get_int(&r, node(&r, it[d]), "dims", d, 2, 65536, &out->dims[d].npus)) < 0)
                return rc;
            out->dims[d].kind = NET_RING;
        }
        if ((rc = opt_int(&r, root, "npus", 1, MAXN, &x->npus)) < 0)
            return rc;
        ncls = cnt;
        break;
    }
    case NET_X_DRAGONFLY:
        if ((rc = req_int(&r, root, "groups", 1, 65536, &x->groups)) < 0 ||
            (rc = req_int(&r, root, "routers_per_group", 1, 4096, &x->routers)) < 0 ||
            (rc = req_int(&r, root, "hosts_per_router", 1, 4096, &x->hosts_per_router)) < 0 ||
            (rc = req_int(&r, root, "global_links_per_router", 0, 4096,
                          &x->globals_per_router)) < 0 ||
            (rc = opt_int(&r, root, "npus", 1, MAXN, &x->npus)) < 0)
            return rc;
        ncls = 3;
        break;
    case NET_X_DIMS:
    case NET_XKINDS: LOOM_ASSERT(0);
    }
    if ((rc = read_classes(&r, root, ncls, x)) < 0)
        return rc;
    if (x->kind == NET_X_TORUS)
        for (int d = 0; d < out->ndims; d++) {
            out->dims[d].bw = x->cls[d].bw;
            out->dims[d].latency = x->cls[d].latency;
        }
    yaml_node_t *nv = lookup(&r, root, "nccl");
    if (nv && (rc = read_nccl(&r, nv, &x->nccl)) < 0)
        return rc;
    return net_xtopo_view(out, err);
}

/* ---- checks and the contention-free view --------------------------------- */

static const char *fname(const net_xtopo *x) { return x->file[0] ? x->file : "network"; }

int net_xtopo_uplinks(const net_xtopo *x, int tier)
{
    int ports = tier == 0 ? x->hosts_per_leaf : x->leaves_per_pod;
    return (int)llround(ports / x->oversub[tier]);
}

static int check_classes(const net_xtopo *x, int ncls, loom_err *err)
{
    for (int c = 0; c < ncls; c++) {
        if (!isfinite(x->cls[c].bw) || !(x->cls[c].bw > 0))
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'bandwidth'[%d]: %g GB/s: a link needs a bandwidth > 0",
                                fname(x), c, x->cls[c].bw / GIB);
        if (x->cls[c].latency < 0)
            return loom_err_set(err, LOOM_EUSAGE, "%s: key 'latency'[%d]: must be >= 0 ns",
                                fname(x), c);
    }
    return 0;
}

static void sw_dim(net_dim *d, int npus, double bw, sim_time lat)
{
    d->kind = NET_SWITCH;
    d->npus = npus;
    d->bw = bw;
    d->latency = lat;
}

int net_xtopo_view(net_topo *t, loom_err *err)
{
    net_xtopo *x = &t->x;
    const char *f = fname(x);
    const net_link_class *c = x->cls;
    switch (x->kind) {
    case NET_X_DIMS: return 0;
    case NET_X_FAT_TREE: {
        if (x->tiers != 2 && x->tiers != 3)
            return loom_err_set(err, LOOM_EUSAGE, "%s: key 'tiers': %d; must be 2 or 3", f,
                                x->tiers);
        if (check_classes(x, x->tiers, err) < 0)
            return LOOM_EUSAGE;
        int H = x->hosts_per_leaf;
        if (H < 1 || x->npus < 1)
            return loom_err_set(err, LOOM_EUSAGE, "%s: keys 'npus' and 'hosts_per_leaf' must be >= 1",
                                f);
        if (x->npus % H != 0)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'npus': %d ranks on leaves of %d hosts: ranks %d..%d are "
                                "mapped to no leaf port (npus must be a multiple of hosts_per_leaf)",
                                f, x->npus, H, x->npus / H * H, x->npus - 1);
        for (int tier = 0; tier < x->tiers - 1; tier++) {
            int ports = tier == 0 ? H : x->leaves_per_pod;
            double up = ports / x->oversub[tier];
            if (!(x->oversub[tier] >= 1) || fabs(up - llround(up)) > 1e-9 || llround(up) < 1)
                return loom_err_set(err, LOOM_EUSAGE,
                                    "%s: key 'oversubscription'[%d]: %g: %d down ports / %g must be "
                                    "a whole number of uplinks (>= 1)", f, tier, x->oversub[tier],
                                    ports, x->oversub[tier]);
        }
        int leaves = x->npus / H;
        if (x->tiers == 3 && (x->leaves_per_pod < 1 || leaves % x->leaves_per_pod != 0))
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'leaves_per_pod': %d leaves do not fill pods of %d: ranks "
                                "%d..%d are mapped to no pod", f, leaves, x->leaves_per_pod,
                                leaves / (x->leaves_per_pod ? x->leaves_per_pod : 1) *
                                    (x->leaves_per_pod ? x->leaves_per_pod : 1) * H,
                                x->npus - 1);
        int npn = x->npus_per_node ? x->npus_per_node : 1;
        if (H % npn != 0)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'npus_per_node': %d does not divide hosts_per_leaf %d "
                                "(a node's NPUs sit on one leaf)", f, npn, H);
        double bw = c[0].bw;
        sim_time lat = c[0].latency;
        for (int k = 1; k < x->tiers; k++) {
            bw = fmin(bw, c[k].bw);
            lat += c[k].latency;
        }
        /* dim 0: the NPUs of a node (same leaf: 2 host hops); dim 1: the
         * nodes, at the longest route's latency (2 * lat) and the slowest
         * class */
        t->ndims = 2;
        sw_dim(&t->dims[0], npn, c[0].bw, c[0].latency);
        sw_dim(&t->dims[1], x->npus / npn, bw, lat);
        return 0;
    }
    case NET_X_RAIL:
        if (check_classes(x, 2, err) < 0)
            return LOOM_EUSAGE;
        if (x->nodes < 1 || x->gpus_per_node < 1)
            return loom_err_set(err, LOOM_EUSAGE, "%s: keys 'nodes' and 'gpus_per_node' must be >= 1",
                                f);
        if (x->npus && x->npus != x->nodes * x->gpus_per_node)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'npus': %d, but %d nodes x %d GPUs give %d GPU slots: %s",
                                f, x->npus, x->nodes, x->gpus_per_node,
                                x->nodes * x->gpus_per_node,
                                x->npus > x->nodes * x->gpus_per_node
                                    ? "the extra ranks are mapped to no node"
                                    : "some GPUs would have no rank");
        x->npus = x->nodes * x->gpus_per_node;
        t->ndims = 2;
        sw_dim(&t->dims[0], x->gpus_per_node, c[0].bw, c[0].latency);
        sw_dim(&t->dims[1], x->nodes, c[1].bw, c[1].latency);
        return 0;
    case NET_X_TORUS: {
        if (t->ndims < 2 || t->ndims > 3)
            return loom_err_set(err, LOOM_EUSAGE, "%s: key 'dims': a torus has 2 or 3 dimensions",
                                f);
        long long n = 1;
        for (int d = 0; d < t->ndims; d++) {
            if (t->dims[d].kind != NET_RING || t->dims[d].npus < 2)
                return loom_err_set(err, LOOM_EUSAGE, "%s: key 'dims'[%d]: a torus ring needs >= 2 NPUs",
                                    f, d);
            if (!(t->dims[d].bw > 0))
                return loom_err_set(err, LOOM_EUSAGE,
                                    "%s: key 'bandwidth'[%d]: a link needs a bandwidth > 0", f, d);
            n *= t->dims[d].npus;
        }
        if (x->npus && x->npus != n)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'npus': %d, but the torus has %lld positions: %s", f,
                                x->npus, n,
                                x->npus > n ? "the extra ranks are mapped to no node"
                                            : "some positions would have no rank");
        x->npus = (int)n;
        return 0;
    }
    case NET_X_DRAGONFLY: {
        if (check_classes(x, 3, err) < 0)
            return LOOM_EUSAGE;
        if (x->groups < 1 || x->routers < 1 || x->hosts_per_router < 1)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: keys 'groups', 'routers_per_group', 'hosts_per_router' must be "
                                ">= 1", f);
        if (x->groups > 1 && (long)x->routers * x->globals_per_router < x->groups - 1)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'global_links_per_router': %d routers x %d global links "
                                "cannot reach the other %d groups: the topology is disconnected "
                                "(need routers_per_group x global_links_per_router >= groups - 1)",
                                f, x->routers, x->globals_per_router, x->groups - 1);
        long long n = (long long)x->groups * x->routers * x->hosts_per_router;
        if (n > (1 << 24))
            return loom_err_set(err, LOOM_EUSAGE, "%s: %lld NPUs: more than %d", f, n, 1 << 24);
        if (x->npus && x->npus != n)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'npus': %d, but the dragonfly has %lld host ports: %s", f,
                                x->npus, n,
                                x->npus > n ? "the extra ranks are mapped to no node"
                                            : "some ports would have no rank");
        x->npus = (int)n;
        double bw = fmin(c[0].bw, fmin(c[1].bw, c[2].bw));
        /* longest minimal route: host, local, global, local, host */
        sim_time lat2 = 2 * c[0].latency + 2 * c[1].latency + c[2].latency;
        t->ndims = 2;
        sw_dim(&t->dims[0], x->hosts_per_router, c[0].bw, c[0].latency);
        sw_dim(&t->dims[1], x->groups * x->routers, bw, (lat2 + 1) / 2);
        return 0;
    }
    case NET_XKINDS: break;
    }
    return loom_err_set(err, LOOM_EUSAGE, "%s: unknown topology kind %d", f, (int)x->kind);
}

int net_xtopo_npus_per_node(const net_topo *t)
{
    if (t->ndims >= 2)
        return t->dims[0].npus;
    return t->dims[0].npus; /* one dimension: one node */
}

/* ---- reading either form of file ---------------------------------------- */

static int load_dims(rd *r, yaml_node_t *root, net_topo *out)
{
    static const char *const k4[] = {"topology", "npus_count", "bandwidth", "latency"};
    static const char *const kinds[] = {"Ring", "FullyConnected", "Switch"};
    static const int kv[] = {NET_RING, NET_FULLY_CONNECTED, NET_SWITCH};
    int counts[4];
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const char *k = scal(node(r, p->key));
        int i;
        for (i = 0; k && i < 4; i++)
            if (strcmp(k, k4[i]) == 0)
                break;
        if (i == 4)
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: unknown key '%s' (known keys: topology, npus_count, "
                                "bandwidth, latency; or 'kind' for an explicit fabric)",
                                r->path, k ? k : "?");
    }
    for (int k = 0; k < 4; k++) {
        yaml_node_t *v = lookup(r, root, k4[k]);
        int *it, one, cnt, sc, rc;
        if (v == NULL)
            return loom_err_set(r->err, LOOM_EUSAGE, "%s: missing key '%s' (one entry per dimension)",
                                r->path, k4[k]);
        if (items_of(r, v, &it, &cnt, &one, &sc) < 0 || cnt < 1 || cnt > NET_MAX_DIMS)
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: key '%s' must be a list of 1 to %d entries", r->path, k4[k],
                                NET_MAX_DIMS);
        counts[k] = cnt;
        for (int d = 0; d < cnt; d++) {
            yaml_node_t *n = node(r, it[d]);
            net_dim *dim = &out->dims[d];
            double v2;
            int e;
            switch (k) {
            case 0:
                if ((rc = get_word(r, n, k4[k], kinds, kv, 3, &e)) < 0)
                    return rc;
                dim->kind = (net_dim_kind)e;
                break;
            case 1:
                if ((rc = get_int(r, n, k4[k], d, 1, 1 << 24, &dim->npus)) < 0)
                    return rc;
                break;
            case 2:
                if ((rc = get_num(r, n, k4[k], d, 0, 1, 1e9, &v2)) < 0)
                    return rc;
                dim->bw = v2 * GIB;
                break;
            case 3:
                if ((rc = get_num(r, n, k4[k], d, 0, 0, 1e12, &v2)) < 0)
                    return rc;
                dim->latency = (sim_time)llround(v2 * SIM_PS_PER_NS);
                break;
            }
        }
    }
    for (int k = 1; k < 4; k++)
        if (counts[k] != counts[0])
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: 'topology' has %d entries but '%s' has %d", r->path,
                                counts[0], k4[k], counts[k]);
    out->ndims = counts[0];
    snprintf(out->x.file, sizeof out->x.file, "%s", r->path);
    return 0;
}

int net_topo_load_file(const char *path, net_topo *out, loom_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: cannot open: %s", path, strerror(errno));
    yaml_parser_t p;
    yaml_document_t d;
    int rc = 0;
    if (!yaml_parser_initialize(&p)) {
        fclose(fp);
        return loom_err_set(err, LOOM_EINTERNAL, "%s: cannot start the YAML parser", path);
    }
    yaml_parser_set_input_file(&p, fp);
    if (!yaml_parser_load(&p, &d)) {
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %zu, column %zu: %s", path,
                          p.problem_mark.line + 1, p.problem_mark.column + 1,
                          p.problem ? p.problem : "malformed YAML");
        yaml_parser_delete(&p);
        fclose(fp);
        return rc;
    }
    yaml_parser_delete(&p);
    fclose(fp);
    memset(out, 0, sizeof *out);
    yaml_node_t *root = yaml_document_get_root_node(&d);
    rd r = {&d, path, err};
    if (root == NULL || root->type != YAML_MAPPING_NODE)
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: the top level must be a mapping of keys", path);
    else if (lookup(&r, root, "kind"))
        rc = net_xtopo_load(&d, path, out, err);
    else
        rc = load_dims(&r, root, out);
    yaml_document_delete(&d);
    return rc;
}

/* ---- describe ------------------------------------------------------------- */

/* Max-flow (Dinic) from the first half of the NPUs to the second, over
 * link capacities in bytes/s: the minimum cut separating those halves,
 * with every switch free to fall on either side. */
typedef struct mf {
    int n;         /* vertices: nodes + source + sink */
    int *head;     /* first edge per vertex */
    int *nxt, *to; /* edge lists */
    double *cap;   /* residual capacities */
    int ne;        /* edges */
    int *lvl, *it, *q;
} mf;

static void mf_edge(mf *m, int u, int v, double c)
{
    m->to[m->ne] = v;
    m->cap[m->ne] = c;
    m->nxt[m->ne] = m->head[u];
    m->head[u] = m->ne++;
    m->to[m->ne] = u;
    m->cap[m->ne] = 0;
    m->nxt[m->ne] = m->head[v];
    m->head[v] = m->ne++;
}

static int mf_bfs(mf *m, int s, int t)
{
    for (int i = 0; i < m->n; i++)
        m->lvl[i] = -1;
    int qh = 0, qt = 0;
    m->lvl[s] = 0;
    m->q[qt++] = s;
    while (qh < qt) {
        int u = m->q[qh++];
        for (int e = m->head[u]; e >= 0; e = m->nxt[e])
            if (m->cap[e] > 1e-9 && m->lvl[m->to[e]] < 0) {
                m->lvl[m->to[e]] = m->lvl[u] + 1;
                m->q[qt++] = m->to[e];
            }
    }
    return m->lvl[t] >= 0;
}

/* iterative blocking-flow DFS */
static double mf_dfs(mf *m, int s, int t)
{
    double total = 0;
    int *stk = m->q; /* reuse: path of edges */
    for (;;) {
        int depth = 0, u = s;
        for (;;) {
            if (u == t)
                break;
            int e;
            for (e = m->it[u]; e >= 0; e = m->nxt[e])
                if (m->cap[e] > 1e-9 && m->lvl[m->to[e]] == m->lvl[u] + 1)
                    break;
            m->it[u] = e;
            if (e < 0) { /* dead end: retreat */
                if (depth == 0)
                    return total;
                m->lvl[u] = -1;
                depth--;
                u = m->to[stk[depth] ^ 1];
                m->it[u] = m->nxt[m->it[u]];
                continue;
            }
            stk[depth++] = e;
            u = m->to[e];
        }
        double f = INFINITY;
        for (int i = 0; i < depth; i++)
            f = fmin(f, m->cap[stk[i]]);
        for (int i = 0; i < depth; i++) {
            m->cap[stk[i]] -= f;
            m->cap[stk[i] ^ 1] += f;
        }
        total += f;
    }
}

static double bisection(const net_graph *g)
{
    mf m = {0};
    int S = g->nnodes, T = g->nnodes + 1;
    m.n = g->nnodes + 2;
    int maxe = 2 * (g->nlinks + g->npus);
    m.head = loom_xmalloc((size_t)m.n * sizeof *m.head);
    m.nxt = loom_xmalloc((size_t)maxe * sizeof *m.nxt);
    m.to = loom_xmalloc((size_t)maxe * sizeof *m.to);
    m.cap = loom_xmalloc((size_t)maxe * sizeof *m.cap);
    m.lvl = loom_xmalloc((size_t)m.n * sizeof *m.lvl);
    m.it = loom_xmalloc((size_t)m.n * sizeof *m.it);
    m.q = loom_xmalloc(((size_t)m.n + 1) * sizeof *m.q);
    for (int i = 0; i < m.n; i++)
        m.head[i] = -1;
    double inf = 0;
    for (int i = 0; i < g->nlinks; i++) {
        mf_edge(&m, g->lsrc[i], g->ldst[i], g->lbw[i]);
        inf += g->lbw[i];
    }
    int half = g->npus / 2;
    for (int r = 0; r < g->npus; r++) {
        if (r < half)
            mf_edge(&m, S, r, inf);
        else if (r < 2 * half)
            mf_edge(&m, r, T, inf);
    }
    double flow = 0;
    while (mf_bfs(&m, S, T)) {
        memcpy(m.it, m.head, (size_t)m.n * sizeof *m.it);
        flow += mf_dfs(&m, S, T);
    }
    free(m.head);
    free(m.nxt);
    free(m.to);
    free(m.cap);
    free(m.lvl);
    free(m.it);
    free(m.q);
    return flow;
}

static net_graph *checked_graph(const net_topo *t0, net_topo *t, loom_err *err)
{
    *t = *t0;
    if (t->x.kind != NET_X_DIMS && net_xtopo_view(t, err) < 0)
        return NULL;
    net_graph *g = net_graph_build(t, err);
    if (g && net_graph_check(g, err) < 0) {
        net_graph_destroy(g);
        return NULL;
    }
    return g;
}

/* diameter along the routes loom uses (dimension order, up/down,
 * minimal): all pairs up to 2,048 NPUs, else 256 evenly spaced sources to
 * every destination */
static void facts_of(const net_graph *g, net_topo_facts *f)
{
    memset(f, 0, sizeof *f);
    f->npus = g->npus;
    f->switches = g->nnodes - g->npus;
    f->links = g->nlinks;
    uint32_t *path = loom_xmalloc(((size_t)g->max_hops + 1) * sizeof *path);
    int step = g->npus <= 2048 ? 1 : g->npus / 256;
    f->sampled = step > 1;
    for (int s = 0; s < g->npus; s += step)
        for (int d = 0; d < g->npus; d++) {
            if (s == d)
                continue;
            int np = net_graph_route(g, s, d, net_mix64((uint64_t)s << 32 | (uint32_t)d), path);
            sim_time l = 0;
            for (int i = 0; i < np; i++)
                l += g->llat[path[i]];
            if (np > f->diameter)
                f->diameter = np;
            if (l > f->diameter_ps)
                f->diameter_ps = l;
        }
    free(path);
    f->bisection = g->npus >= 2 ? bisection(g) : 0;
}

int net_topo_measure(const net_topo *t0, net_topo_facts *out, loom_err *err)
{
    net_topo t;
    net_graph *g = checked_graph(t0, &t, err);
    if (g == NULL)
        return LOOM_EUSAGE;
    facts_of(g, out);
    net_graph_destroy(g);
    return 0;
}

int net_topo_describe(const net_topo *t0, FILE *o, loom_err *err)
{
    net_topo t;
    net_graph *g = checked_graph(t0, &t, err);
    if (g == NULL)
        return LOOM_EUSAGE;
    net_topo_facts f;
    facts_of(g, &f);
    const char *file = t.x.file[0] ? t.x.file : "(network)";
    fprintf(o, "%s: %s", file, net_xkind_name(t.x.kind));
    if (t.x.kind == NET_X_DIMS || t.x.kind == NET_X_TORUS) {
        static const char *const kn[] = {"Ring", "FullyConnected", "Switch"};
        fprintf(o, " (");
        for (int d = 0; d < t.ndims; d++)
            fprintf(o, "%s%s %d", d ? " x " : "", kn[t.dims[d].kind], t.dims[d].npus);
        fprintf(o, ")");
    }
    fprintf(o, "\n");
    fprintf(o, "  NPUs             %d\n", f.npus);
    fprintf(o, "  switches         %d\n", f.switches);
    fprintf(o, "  nodes            %d\n", g->nnodes);
    fprintf(o, "  links            %d directed (%d cables, a link per direction)\n", f.links,
            f.links / 2);
    fprintf(o, "  link classes     %-20s %8s %12s %12s\n", "", "links", "GB/s", "latency ns");
    for (int c = 0; c < g->ncls; c++) {
        int cnt = 0;
        double bw = 0;
        sim_time lat = 0;
        for (int i = 0; i < g->nlinks; i++)
            if (g->lcls[i] == c) {
                cnt++;
                bw = g->lbw[i];
                lat = g->llat[i];
            }
        if (cnt)
            fprintf(o, "                   %-20s %8d %12.6g %12.6g\n", g->clsname[c], cnt,
                    bw / GIB, (double)lat / SIM_PS_PER_NS);
    }
    fprintf(o, "  diameter         %d links, %.6g ns: the longest of loom's routes between two "
               "NPUs%s\n", f.diameter, (double)f.diameter_ps / SIM_PS_PER_NS,
            f.sampled ? " (from 256 sampled sources)" : "");
    if (f.npus >= 2)
        fprintf(o,
                "  bisection        %.6g GB/s per direction: max-flow from NPUs 0..%d to NPUs "
                "%d..%d,\n"
                "                   i.e. the smallest cut between the two halves of the ranks "
                "(switches on either side)\n",
                f.bisection / GIB, f.npus / 2 - 1, f.npus / 2, 2 * (f.npus / 2) - 1);
    if (t.x.kind != NET_X_DIMS) {
        fprintf(o, "  analytical view ");
        for (int d = 0; d < t.ndims; d++)
            fprintf(o, "%s%s %d @ %.6g GB/s, %.6g ns", d ? " x " : "",
                    t.dims[d].kind == NET_RING ? "Ring" : "Switch", t.dims[d].npus,
                    t.dims[d].bw / GIB, (double)t.dims[d].latency / SIM_PS_PER_NS);
        fprintf(o, "\n");
    }
    fprintf(o, "  units            GB = 2^30 bytes, as in the network files\n");
    net_graph_destroy(g);
    return 0;
}
