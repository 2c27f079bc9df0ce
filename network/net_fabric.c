/*
 * net_fabric.c: the table of fabric kinds (net_fabrics.def lists it) and
 * what the kinds share: reading an explicit-fabric file (docs/NETWORK.md
 * 3) up to the kind's own keys, link classes and NCCL facts, the key
 * checks, and dispatching the check and contention-free view to the kind.
 * Each kind's keys, graph, routes and view live in net_fabric_<kind>.c.
 *
 * Files are read with libyaml's document API; every key is checked
 * against the kinds' key lists, so an unknown key, a key that does not
 * apply to the kind, a missing key or a value out of range is an error
 * naming the file, the line and the key.
 */
#include "net_fabric.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const net_fabric_ops *const net_fabrics[NET_XKINDS] = {
#define NET_FABRIC(id, ops) [NET_X_##id] = &ops,
#include "net_fabrics.def"
#undef NET_FABRIC
};

const char *net_xkind_name(net_xkind k)
{
    const net_fabric_ops *f = net_fabric_of(k);
    return f ? f->name : "?";
}

/* ---- keys ----------------------------------------------------------------
 *
 * Keys every explicit kind takes, around each kind's own (its `keys`);
 * messages list them in this order: head, the kinds' in table order,
 * tail. */
static const char *const head_keys[] = {"kind", "npus", NULL};
static const char *const tail_keys[] = {"bandwidth", "latency", "nccl", NULL};

/* Every key any kind takes, for core/sim's --set check; the table test
 * (test/network/test_tables.c) checks it against the kinds' lists, so a
 * new kind's new key is added here too. */
const char *const net_xtopo_keys[] = {
    "kind", "npus", "npus_per_node", "tiers", "hosts_per_leaf",
    "leaves_per_pod", "oversubscription", "nodes", "gpus_per_node", "dims",
    "groups", "routers_per_group", "hosts_per_router",
    "global_links_per_router", "bandwidth", "latency", "nccl",
};
const int net_xtopo_nkeys = sizeof net_xtopo_keys / sizeof net_xtopo_keys[0];

static int in_words(const char *const *words, const char *k)
{
    for (; words && *words; words++)
        if (strcmp(*words, k) == 0)
            return 1;
    return 0;
}

static int key_common(const char *k) { return in_words(head_keys, k) || in_words(tail_keys, k); }

static int key_known(const char *k)
{
    if (key_common(k))
        return 1;
    for (int i = 0; i < NET_XKINDS; i++)
        if (in_words(net_fabrics[i]->keys, k))
            return 1;
    return 0;
}

/* "kind, npus, npus_per_node, ..., nccl" into buf */
static void key_list(char *buf, size_t sz)
{
    size_t off = 0;
    buf[0] = '\0';
    const char *const *groups[NET_XKINDS + 2];
    int ng = 0;
    groups[ng++] = head_keys;
    for (int i = 0; i < NET_XKINDS; i++)
        groups[ng++] = net_fabrics[i]->keys;
    groups[ng++] = tail_keys;
    for (int gi = 0; gi < ng; gi++)
        for (const char *const *w = groups[gi]; w && *w && off < sz; w++)
            off += (size_t)snprintf(buf + off, sz - off, "%s%s", off ? ", " : "", *w);
}

/* ---- typed values from the document ------------------------------------- */

yaml_node_t *net_rd_node(net_rd *r, int i) { return yaml_document_get_node(r->d, i); }

const char *net_rd_scal(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int net_rd_bad(net_rd *r, const yaml_node_t *n, const char *key, int idx, const char *what)
{
    char where[48] = "";
    if (n)
        snprintf(where, sizeof where, " (line %zu)", n->start_mark.line + 1);
    if (idx >= 0)
        return loom_err_set(r->err, LOOM_EUSAGE, "%s: key '%s'[%d]%s: %s", r->path, key, idx,
                            where, what);
    return loom_err_set(r->err, LOOM_EUSAGE, "%s: key '%s'%s: %s", r->path, key, where, what);
}

int net_rd_num(net_rd *r, const yaml_node_t *n, const char *key, int idx, double lo, int lo_open,
                   double hi, double *out)
{
    const char *s = net_rd_scal(n);
    char msg[192];
    if (s == NULL || *s == '\0')
        return net_rd_bad(r, n, key, idx, "expected a number");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v)) {
        snprintf(msg, sizeof msg, "'%s' is not a number", s);
        return net_rd_bad(r, n, key, idx, msg);
    }
    if ((lo_open ? !(v > lo) : !(v >= lo)) || !(v <= hi)) {
        snprintf(msg, sizeof msg, "%s is out of range: allowed %s%g .. %g", s,
                 lo_open ? "> " : "", lo, hi);
        return net_rd_bad(r, n, key, idx, msg);
    }
    *out = v;
    return 0;
}

int net_rd_int(net_rd *r, const yaml_node_t *n, const char *key, int idx, long lo, long hi,
                   int *out)
{
    double v = 0;
    int rc = net_rd_num(r, n, key, idx, (double)lo, 0, (double)hi, &v);
    if (rc < 0)
        return rc;
    if (v != floor(v)) {
        char msg[96];
        const char *s = net_rd_scal(n);
        snprintf(msg, sizeof msg, "'%s' is not an integer", s ? s : "?");
        return net_rd_bad(r, n, key, idx, msg);
    }
    *out = (int)v;
    return 0;
}

int net_rd_word(net_rd *r, const yaml_node_t *n, const char *key, const char *const *names,
                    const int *vals, int count, int *out)
{
    const char *s = net_rd_scal(n);
    char msg[256];
    for (int i = 0; s && i < count; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = vals ? vals[i] : i;
            return 0;
        }
    int off = snprintf(msg, sizeof msg, "'%s' is not one of", s ? s : "(not a name)");
    for (int i = 0; i < count && off < (int)sizeof msg; i++)
        off += snprintf(msg + off, sizeof msg - off, "%s %s", i ? "," : "", names[i]);
    return net_rd_bad(r, n, key, -1, msg);
}

/* items of a list value; a scalar is a list of one (*scalar = 1) */
int net_rd_items(net_rd *r, yaml_node_t *n, int **items, int *count, int *one, int *scalar)
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

yaml_node_t *net_rd_lookup(net_rd *r, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = net_rd_scal(net_rd_node(r, p->key));
        if (k && strcmp(k, key) == 0)
            return net_rd_node(r, p->value);
    }
    return NULL;
}

int net_rd_req_int(net_rd *r, yaml_node_t *root, const char *key, long lo, long hi, int *out)
{
    yaml_node_t *v = net_rd_lookup(r, root, key);
    if (v == NULL)
        return loom_err_set(r->err, LOOM_EUSAGE, "%s: missing key '%s' (%ld .. %ld)", r->path, key,
                            lo, hi);
    return net_rd_int(r, v, key, -1, lo, hi, out);
}

int net_rd_opt_int(net_rd *r, yaml_node_t *root, const char *key, long lo, long hi, int *out)
{
    yaml_node_t *v = net_rd_lookup(r, root, key);
    return v ? net_rd_int(r, v, key, -1, lo, hi, out) : 0;
}

/* bandwidth (GB/s, 2^30) and latency (ns), one entry per link class; a
 * single value applies to every class */
int net_rd_classes(net_rd *r, yaml_node_t *root, int ncls, net_xtopo *x)
{
    static const char *const which[2] = {"bandwidth", "latency"};
    for (int w = 0; w < 2; w++) {
        yaml_node_t *v = net_rd_lookup(r, root, which[w]);
        if (v == NULL)
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: missing key '%s' (%s, one per link class: %d for kind %s)",
                                r->path, which[w], w ? "ns" : "GB/s, GB = 2^30 bytes", ncls,
                                net_xkind_name(x->kind));
        int *it, one, cnt, sc;
        if (net_rd_items(r, v, &it, &cnt, &one, &sc) < 0 || (!sc && cnt != ncls))
            return loom_err_set(r->err, LOOM_EUSAGE,
                                "%s: key '%s' must be one value or a list of %d (one per link "
                                "class of kind %s)", r->path, which[w], ncls,
                                net_xkind_name(x->kind));
        for (int c = 0; c < ncls; c++) {
            yaml_node_t *n = net_rd_node(r, it[sc ? 0 : c]);
            double val;
            int rc = w == 0 ? net_rd_num(r, n, which[w], sc ? -1 : c, 0, 1, 1e9, &val)
                            : net_rd_num(r, n, which[w], sc ? -1 : c, 0, 0, 1e12, &val);
            if (rc < 0)
                return rc;
            if (w == 0)
                x->cls[c].bw = val * NET_GIB;
            else
                x->cls[c].latency = (sim_time)llround(val * SIM_PS_PER_NS);
        }
    }
    return 0;
}

static int read_nccl(net_rd *r, yaml_node_t *v, net_nccl_hw *h)
{
    static const char *const nk[] = {"channels", "gpu", "cpu", "intra", "ll128"};
    if (v->type != YAML_MAPPING_NODE)
        return net_rd_bad(r, v, "nccl", -1, "expected a mapping (channels, gpu, cpu, intra, ll128)");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = net_rd_node(r, p->key), *vn = net_rd_node(r, p->value);
        const char *k = net_rd_scal(kn);
        char key[48];
        snprintf(key, sizeof key, "nccl.%s", k ? k : "?");
        int rc = 0;
        if (k && strcmp(k, "channels") == 0) {
            rc = net_rd_int(r, vn, key, -1, 1, 64, &h->channels);
        } else if (k && strcmp(k, "gpu") == 0) {
            static const char *const n[] = {"volta", "ampere", "hopper"};
            static const int val[] = {70, 80, 90};
            rc = net_rd_word(r, vn, key, n, val, 3, &h->gpu_arch);
        } else if (k && strcmp(k, "cpu") == 0) {
            static const char *const n[] = {"intel", "amd"};
            static const int val[] = {0, 1};
            rc = net_rd_word(r, vn, key, n, val, 2, &h->cpu_amd);
        } else if (k && strcmp(k, "intra") == 0) {
            static const char *const n[] = {"nvlink", "pci"};
            static const int val[] = {0, 1};
            rc = net_rd_word(r, vn, key, n, val, 2, &h->pci);
        } else if (k && strcmp(k, "ll128") == 0) {
            static const char *const n[] = {"auto", "on", "off"};
            static const int val[] = {0, 1, -1};
            rc = net_rd_word(r, vn, key, n, val, 3, &h->ll128);
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown key (known keys: %s, %s, %s, %s, %s)", nk[0], nk[1],
                     nk[2], nk[3], nk[4]);
            rc = net_rd_bad(r, kn, key, -1, msg);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int net_xtopo_load(struct yaml_document_s *doc, const char *path, net_topo *out,
                   loom_err *err)
{
    net_rd r = {doc, path, err};
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE)
        return loom_err_set(err, LOOM_EUSAGE, "%s: the top level must be a mapping of keys", path);
    memset(out, 0, sizeof *out);
    net_xtopo *x = &out->x;
    snprintf(x->file, sizeof x->file, "%s", path);

    /* the words of every explicit kind, in table order */
    const char *kn[32];
    int kv[32], nk = 0;
    for (int i = 0; i < NET_XKINDS; i++)
        for (const char *const *w = net_fabrics[i]->kind_names; w && *w; w++) {
            LOOM_ASSERT(nk < 32);
            kn[nk] = *w;
            kv[nk++] = i;
        }
    yaml_node_t *kv_node = net_rd_lookup(&r, root, "kind");
    int kind, rc;
    if (kv_node == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: missing key 'kind'", path);
    if ((rc = net_rd_word(&r, kv_node, "kind", kn, kv, nk, &kind)) < 0)
        return rc;
    x->kind = (net_xkind)kind;
    const net_fabric_ops *f = net_fabrics[kind];

    /* every key known, applicable to this kind, and given once */
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn2 = net_rd_node(&r, p->key);
        const char *k = net_rd_scal(kn2);
        if (k == NULL || !key_known(k)) {
            char list[512];
            key_list(list, sizeof list);
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: unknown key '%s' (known keys: %s)",
                                path, kn2->start_mark.line + 1, k ? k : "?", list);
        }
        if (!key_common(k) && !in_words(f->keys, k))
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: key '%s' does not apply to kind %s",
                                path, kn2->start_mark.line + 1, k, net_xkind_name(x->kind));
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++)
            if (strcmp(net_rd_scal(net_rd_node(&r, q->key)), k) == 0)
                return loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: key '%s' appears twice",
                                    path, kn2->start_mark.line + 1, k);
    }

    if ((rc = f->load(&r, root, out)) < 0)
        return rc;
    yaml_node_t *nv = net_rd_lookup(&r, root, "nccl");
    if (nv && (rc = read_nccl(&r, nv, &x->nccl)) < 0)
        return rc;
    return net_xtopo_view(out, err);
}

/* ---- checks and the contention-free view --------------------------------- */

const char *net_fabric_file(const net_xtopo *x) { return x->file[0] ? x->file : "network"; }

int net_fabric_check_classes(const net_xtopo *x, int ncls, loom_err *err)
{
    for (int c = 0; c < ncls; c++) {
        if (!isfinite(x->cls[c].bw) || !(x->cls[c].bw > 0))
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: key 'bandwidth'[%d]: %g GB/s: a link needs a bandwidth > 0",
                                net_fabric_file(x), c, x->cls[c].bw / NET_GIB);
        if (x->cls[c].latency < 0)
            return loom_err_set(err, LOOM_EUSAGE, "%s: key 'latency'[%d]: must be >= 0 ns",
                                net_fabric_file(x), c);
    }
    return 0;
}

void net_fabric_switch_dim(net_dim *d, int npus, double bw, sim_time lat)
{
    d->kind = NET_SWITCH;
    d->npus = npus;
    d->bw = bw;
    d->latency = lat;
}

int net_xtopo_view(net_topo *t, loom_err *err)
{
    const net_fabric_ops *f = net_fabric_of(t->x.kind);
    if (f == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: unknown topology kind %d",
                            net_fabric_file(&t->x), (int)t->x.kind);
    int rc = f->view ? f->view(t, err) : 0;
    if (rc < 0 || t->x.nlogical == 0)
        return rc;
    /* logical dims given (ASTRA-sim's ns-3 and htsim front ends): each a
     * Switch at the view's slowest bandwidth and largest latency */
    long prod = 1;
    double bw = t->dims[0].bw;
    sim_time lat = 0;
    for (int i = 0; i < t->x.nlogical; i++)
        prod *= t->x.logical[i];
    for (int d = 0; d < t->ndims; d++) {
        bw = fmin(bw, t->dims[d].bw);
        lat = t->dims[d].latency > lat ? t->dims[d].latency : lat;
    }
    if (prod != t->x.npus)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: the logical dims multiply to %ld NPUs but the network has %d",
                            net_fabric_file(&t->x), prod, t->x.npus);
    t->ndims = t->x.nlogical;
    for (int i = 0; i < t->x.nlogical; i++)
        net_fabric_switch_dim(&t->dims[i], t->x.logical[i], bw, lat);
    return 0;
}

int net_xtopo_npus_per_node(const net_topo *t)
{
    /* one instance of dimension 0; a single dimension is one node, and
     * then that is all of it */
    return t->dims[0].npus;
}
