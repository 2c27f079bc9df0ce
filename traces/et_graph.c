#include "et_graph.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <sys/stat.h>
#include <unistd.h>

#include "et_attr.h"
#include "et_shape.h"
#include "et_ids.h"
#include "sbuf.h"
#include "et_io.h"

/*
 * Loading is one streaming pass over the file plus O(n log n) resolution:
 * each node is converted to its et_gnode as it is read and its protobuf
 * message freed at once, with dependency ids parked in a temporary array.
 * Then ids are sorted with their indices, duplicates found by comparing
 * neighbours, and every dependency resolved by binary search (ids may start
 * anywhere, be sparse and refer forward).  Successor lists are built by
 * counting sort, so each node's successors appear in file order: data
 * successors first, then ctrl successors.
 *
 * Indices are uint32_t: a file with 2^32 nodes or dependencies is refused
 * rather than silently truncated.
 */

/* Memory per node while loading, all arrays together: the record, its
 * id pair, a name, two dependencies and their successor entries. */
#define NODE_BYTES (sizeof(et_gnode) + 64)





/* Interning of pg_name strings: open addressing over indices into
 * g->pg_names, so a trace with one communicator per node still loads in
 * linear time.  Slot 0 means empty, else pg index + 1. */
typedef struct {
    uint32_t *slot; /* mask + 1 slots */
    uint32_t mask;  /* table size - 1 (a power of two) */
} pgtab;

static uint32_t pg_hash(const char *s)
{
    uint64_t h = et_fnv1a(ET_FNV_OFFSET, s, strlen(s));
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t pg_intern(et_graph *g, pgtab *t, const char *s)
{
    if (*s == '\0')
        return 0;
    if ((uint64_t)g->npg * 2 >= (uint64_t)t->mask + 1) {
        uint32_t size = (t->mask + 1) * 2;
        uint32_t *ns = loom_xcalloc(size, sizeof *ns);
        for (uint32_t i = 1; i < g->npg; i++) {
            uint32_t h = pg_hash(g->pg_names[i]) & (size - 1);
            while (ns[h] != 0)
                h = (h + 1) & (size - 1);
            ns[h] = i + 1;
        }
        free(t->slot);
        t->slot = ns;
        t->mask = size - 1;
        g->pg_names = loom_xrealloc(g->pg_names, size * sizeof *g->pg_names);
    }
    uint32_t h = pg_hash(s) & t->mask;
    while (t->slot[h] != 0) {
        if (strcmp(g->pg_names[t->slot[h] - 1], s) == 0)
            return t->slot[h] - 1;
        h = (h + 1) & t->mask;
    }
    t->slot[h] = g->npg + 1;
    g->pg_names[g->npg] = loom_xstrdup(s);
    return g->npg++;
}

/* The first attribute problem becomes the load error. */
typedef struct {
    loom_err *err;    /* caller's record */
    const char *path; /* file */
    uint64_t id;      /* node being read */
} attr_ctx;

static void attr_problem(void *ctx, const char *problem)
{
    attr_ctx *c = ctx;
    loom_err_set(c->err, LOOM_ETRACE, "trace %s: node %" PRIu64 ": %s",
                 c->path, c->id, problem);
}

/* Loading state beside the graph being built. */
typedef struct loader {
    et_graph *g;        /* the graph being built */
    const char *path;   /* file, for messages */
    loom_err *err;      /* caller's record */
    uint64_t *depid;    /* dependency ids: per node, data then ctrl */
    size_t ndepid, capdep; /* used and allocated in depid */
    size_t capnodes;    /* allocated in g->nodes */
    size_t capnames, namelen; /* allocated and used in g->names */
    size_t capkern;     /* allocated in g->kwork (uint64 pairs) */
    size_t capshape;    /* allocated in g->kshape */
    size_t budget;      /* loom_memory_budget() */
    pgtab pgt;          /* pg_name interning */
    size_t capstreams;  /* allocated in g->streams */
    uint32_t last_stream; /* stream index of the last node with one */
    struct sentry *sh;  /* stream value -> index (uthash) */
} loader;

struct sentry {
    int64_t v;       /* a stream value */
    uint32_t idx;    /* its index in g->streams */
    UT_hash_handle hh;
};

/* The node's stream index (1-based) for a `stream` value: nodes of one
 * stream come in runs (a last-hit check), and a hash finds the others, so
 * a trace that puts a per-op id in `stream` is refused in linear time. */
static int stream_intern(loader *L, int64_t v, uint16_t *out)
{
    et_graph *g = L->g;
    if (L->last_stream > 0 && g->streams[L->last_stream - 1] == v) {
        *out = (uint16_t)L->last_stream;
        return 0;
    }
    struct sentry *e;
    HASH_FIND(hh, L->sh, &v, sizeof v, e);
    if (e == NULL) {
        if (g->nstreams == ET_MAX_STREAMS)
            return loom_err_set(L->err, LOOM_ETRACE, "trace %s: more than %d distinct stream "
                                "values", L->path, ET_MAX_STREAMS);
        g->streams = loom_vgrow(g->streams, &L->capstreams, g->nstreams + 1, sizeof *g->streams);
        e = loom_xmalloc(sizeof *e);
        e->v = v;
        e->idx = g->nstreams;
        HASH_ADD(hh, L->sh, v, sizeof e->v, e);
        g->streams[g->nstreams++] = v;
    }
    L->last_stream = e->idx + 1;
    *out = (uint16_t)(e->idx + 1);
    return 0;
}

/* Appends a fused node's kernels to the graph's kwork arena. */
static int add_kernels(loader *L, et_gnode *gn, const et_nattr *at)
{
    et_graph *g = L->g;
    if (g->nkwork + at->nkernels > UINT32_MAX)
        return loom_err_set(L->err, LOOM_ETRACE, "trace %s: more than %u fused kernels", L->path,
                            UINT32_MAX);
    g->kwork = loom_vgrow(g->kwork, &L->capkern, 2 * (g->nkwork + at->nkernels),
                          sizeof *g->kwork);
    for (uint32_t k = 0; k < at->nkernels; k++) {
        g->kwork[2 * (g->nkwork + k)] = et_attr_list_u64(at->kernel_flops, k);
        g->kwork[2 * (g->nkwork + k) + 1] = et_attr_list_u64(at->kernel_bytes, k);
    }
    gn->kern = (uint32_t)g->nkwork;
    gn->nkern = at->nkernels;
    g->nkwork += at->nkernels;
    return 0;
}

/* Appends a compute node's shapes (one, or one per fused kernel). */
static int add_shapes(loader *L, et_gnode *gn, const et_nshape *sh)
{
    et_graph *g = L->g;
    /* a fused node's shapes come from its list only: comp_time reads nkern */
    uint32_t n = gn->nkern ? (sh->list ? gn->nkern : 0) : (sh->has_one ? 1 : 0);
    if (n == 0)
        return 0;
    if (g->nkshape + n >= UINT32_MAX)
        return loom_err_set(L->err, LOOM_ETRACE, "trace %s: more than %u kernel shapes", L->path,
                            UINT32_MAX - 1);
    g->kshape = loom_vgrow(g->kshape, &L->capshape, g->nkshape + n, sizeof *g->kshape);
    for (uint32_t k = 0; k < n; k++)
        g->kshape[g->nkshape + k] = sh->list ? et_shape_at(sh, k) : sh->one;
    gn->shape = (uint32_t)g->nkshape + 1;
    g->nkshape += n;
    return 0;
}

/* Converts one protobuf node into the next et_gnode; parks its
 * dependency ids in L->depid. */
static int add_node(loader *L, const ChakraProtoMsg__Node *nd)
{
    et_graph *g = L->g;
    const char *path = L->path;
    if (g->n >= UINT32_MAX)
        return loom_err_set(L->err, LOOM_ETRACE, "trace %s: more than %u nodes", path,
                            UINT32_MAX - 1);
    if ((unsigned)nd->type >= ET_NODE_TYPES)
        return loom_err_set(L->err, LOOM_ETRACE, "trace %s: node %" PRIu64 ": unknown node type %d",
                            path, nd->id, (int)nd->type);
    et_nattr at;
    attr_ctx ac = {L->err, path, nd->id};
    if (et_nattr_read(nd, &at, attr_problem, &ac) > 0)
        return L->err->code;
    et_nshape sh;
    if (et_shape_read(nd, at.nkernels, &sh, attr_problem, &ac) > 0)
        return L->err->code;

    if (g->n + 1 > L->capnodes && (g->n + 1) * 2 * NODE_BYTES > L->budget) {
        /* the next doubling would pass the memory budget */
        char b1[32], b2[32];
        return loom_err_set(L->err, LOOM_ETRACE,
                            "trace %s: more than %zu nodes would need about %s, more than the %s "
                            "loom may use (set LOOM_MEMORY_LIMIT to change it)",
                            path, g->n, loom_fmt_bytes((double)(g->n + 1) * 2 * NODE_BYTES, b1),
                            loom_fmt_bytes((double)L->budget, b2));
    }
    g->nodes = loom_vgrow(g->nodes, &L->capnodes, g->n + 1, sizeof *g->nodes);
    et_gnode *gn = &g->nodes[g->n];
    memset(gn, 0, sizeof *gn);
    gn->id = nd->id;
    if (at.has_duration_ns) {
        gn->duration_ns = at.duration_ns;
        gn->xflags |= ET_X_HAS_DNS;
    } else {
        gn->duration_ns = nd->duration_micros > UINT64_MAX / 1000 ? UINT64_MAX
                                                                  : nd->duration_micros * 1000;
    }
    if (at.is_delay)
        gn->xflags |= ET_X_DELAY;
    if (at.has_stream && stream_intern(L, at.stream, &gn->stream) < 0)
        return L->err->code;
    gn->type = (uint8_t)nd->type;
    gn->num_ops = at.num_ops;
    gn->tensor_size = at.tensor_size;
    gn->comm_size = at.comm_size;
    gn->comm_tag = at.comm_tag;
    gn->comm_priority = at.comm_priority;
    gn->comm_type = (uint8_t)at.comm_type;
    gn->flags = (uint8_t)at.flags;
    gn->involved_dim = at.has_dims ? at.involved_dim : ET_DIMS_ALL;
    gn->involved_n = at.involved_n;
    gn->pg = at.pg_name != NULL ? pg_intern(g, &L->pgt, at.pg_name) : 0;
    if (gn->type == ET_COMP_NODE) { /* kern/nkern share storage with comm_src/dst */
        gn->flags &= (uint8_t) ~(ET_F_HAS_SRC | ET_F_HAS_DST); /* not kept: no stale flag */
        if (at.nkernels > 0 && add_kernels(L, gn, &at) < 0)
            return L->err->code;
        if (add_shapes(L, gn, &sh) < 0)
            return L->err->code;
    } else {
        gn->comm_src = at.comm_src;
        gn->comm_dst = at.comm_dst;
        if (sh.has_coll_sms) {
            gn->csms = sh.coll_sms;
            gn->xflags |= ET_X_HAS_CSMS;
        }
    }

    size_t nl = nd->name != NULL ? strlen(nd->name) : 0;
    if (nl > 0) {
        if (L->namelen + nl + 1 > UINT32_MAX)
            return loom_err_set(L->err, LOOM_ETRACE, "trace %s: node names exceed 4 GiB", path);
        g->names = loom_vgrow(g->names, &L->capnames, L->namelen + nl + 1, 1);
        memcpy(g->names + L->namelen, nd->name, nl + 1);
        gn->name = (uint32_t)L->namelen;
        L->namelen += nl + 1;
    }

    /* ids parked until every node is known; counts checked here so the
     * uint32 fields and the later uint32 indices cannot wrap */
    size_t nd_deps = nd->n_data_deps + nd->n_ctrl_deps;
    if (L->ndepid + nd_deps > UINT32_MAX)
        return loom_err_set(L->err, LOOM_ETRACE, "trace %s: more than %u dependencies", path,
                            UINT32_MAX);
    if (nd_deps > 0) {
        L->depid = loom_vgrow(L->depid, &L->capdep, L->ndepid + nd_deps, sizeof *L->depid);
        if (nd->n_data_deps > 0)
            memcpy(L->depid + L->ndepid, nd->data_deps, nd->n_data_deps * sizeof *L->depid);
        if (nd->n_ctrl_deps > 0)
            memcpy(L->depid + L->ndepid + nd->n_data_deps, nd->ctrl_deps,
                   nd->n_ctrl_deps * sizeof *L->depid);
    }
    gn->dep = (uint32_t)L->ndepid;
    gn->ndata = (uint32_t)nd->n_data_deps;
    gn->nctrl = (uint32_t)nd->n_ctrl_deps;
    L->ndepid += nd_deps;
    g->n++;
    return 0;
}

/* Streams the file into g->nodes; fills file_bytes and digest. */
static int read_nodes(loader *L)
{
    et_graph *g = L->g;
    et_reader *r = et_reader_open(L->path, L->err);
    if (r == NULL)
        return L->err->code;
    const ChakraProtoMsg__GlobalMetadata *meta = et_reader_metadata(r);
    g->has_metadata = meta != NULL;
    g->version = loom_xstrdup(meta != NULL && meta->version ? meta->version : "");
    ChakraProtoMsg__Node *nd = NULL;
    int rc;
    while ((rc = et_reader_next(r, &nd, L->err)) == 1) {
        rc = add_node(L, nd);
        et_node_free(nd);
        nd = NULL;
        if (rc < 0)
            break;
    }
    if (rc == 0) {
        g->file_bytes = et_reader_offset(r);
        g->digest = et_reader_digest(r);
    }
    et_reader_close(r);
    return rc < 0 ? L->err->code : 0;
}

/* Dependency ids to node indices, in place: kept deps never overtake the
 * ids still to read.  Fails on a duplicate node id. */
static int resolve_deps(loader *L)
{
    et_graph *g = L->g;
    idpair *ids = loom_xmalloc((g->n ? g->n : 1) * sizeof *ids);
    for (size_t i = 0; i < g->n; i++) {
        ids[i].id = g->nodes[i].id;
        ids[i].idx = (uint32_t)i;
    }
    qsort(ids, g->n, sizeof *ids, et_cmp_idpair);
    for (size_t i = 1; i < g->n; i++)
        if (ids[i].id == ids[i - 1].id) {
            loom_err_set(L->err, LOOM_ETRACE,
                         "trace %s: node id %" PRIu64 " appears twice (nodes "
                         "%u and %u in file order)",
                         L->path, ids[i].id, ids[i - 1].idx + 1, ids[i].idx + 1);
            free(ids);
            return L->err->code;
        }

    g->deps = loom_xmalloc((L->ndepid ? L->ndepid : 1) * sizeof *g->deps);
    size_t out = 0;
    uint64_t first_dangling = 0, first_owner = 0;
    for (size_t i = 0; i < g->n; i++) {
        et_gnode *gn = &g->nodes[i];
        size_t at = gn->dep;
        uint32_t nkind[2] = {gn->ndata, gn->nctrl};
        gn->dep = (uint32_t)out;
        for (int k = 0; k < 2; k++) {
            uint32_t kept = 0;
            for (uint32_t j = 0; j < nkind[k]; j++) {
                int64_t idx = et_find_id(ids, g->n, L->depid[at++]);
                if (idx < 0) {
                    if (g->dangling_deps++ == 0) {
                        first_dangling = L->depid[at - 1];
                        first_owner = gn->id;
                    }
                    continue;
                }
                g->deps[out++] = (uint32_t)idx;
                kept++;
            }
            if (k == 0)
                gn->ndata = kept;
            else
                gn->nctrl = kept;
        }
    }
    free(ids);
    if (g->dangling_deps > 0)
        loom_warn("trace %s: %" PRIu64 " dependencies on node ids absent "
                  "from the file dropped (first: node %" PRIu64 " depends "
                  "on %" PRIu64 ")",
                  L->path, g->dangling_deps, first_owner, first_dangling);
    return 0;
}

/* Successor lists by counting sort: cnt[2j] data, cnt[2j+1] ctrl, so each
 * node's successors appear in file order, data ones first. */
static void build_succ(et_graph *g)
{
    uint32_t *cnt = loom_xcalloc(2 * (g->n ? g->n : 1), sizeof *cnt);
    size_t total = 0;
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *gn = &g->nodes[i];
        total += gn->ndata + gn->nctrl;
        for (uint32_t j = 0; j < gn->ndata + gn->nctrl; j++)
            cnt[2 * g->deps[gn->dep + j] + (j >= gn->ndata)]++;
    }
    uint32_t run = 0;
    for (size_t i = 0; i < g->n; i++) {
        et_gnode *gn = &g->nodes[i];
        gn->succ = run;
        gn->nsucc_data = cnt[2 * i];
        gn->nsucc_ctrl = cnt[2 * i + 1];
        cnt[2 * i] = run;                      /* cursor for data successors */
        cnt[2 * i + 1] = run + gn->nsucc_data; /* ... and ctrl ones */
        run += gn->nsucc_data + gn->nsucc_ctrl;
    }
    g->succ = loom_xmalloc((total ? total : 1) * sizeof *g->succ);
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *gn = &g->nodes[i];
        for (uint32_t j = 0; j < gn->ndata + gn->nctrl; j++)
            g->succ[cnt[2 * g->deps[gn->dep + j] + (j >= gn->ndata)]++] = (uint32_t)i;
    }
    free(cnt);
}

et_graph *et_graph_load(const char *path, loom_err *err)
{
    et_graph *g = loom_xcalloc(1, sizeof *g);
    loader L = {.g = g, .path = path, .err = err, .budget = loom_memory_budget()};
    g->path = loom_xstrdup(path);
    g->names = loom_xmalloc(1);
    g->names[0] = '\0'; /* offset 0 is "" for nameless nodes */
    L.namelen = L.capnames = 1;
    L.pgt.slot = loom_xcalloc(8, sizeof *L.pgt.slot);
    L.pgt.mask = 7;
    g->pg_names = loom_xcalloc(8, sizeof *g->pg_names);
    g->pg_names[0] = loom_xstrdup("");
    g->npg = 1;

    int rc = read_nodes(&L);
    if (rc == 0)
        rc = resolve_deps(&L);
    free(L.depid);
    free(L.pgt.slot);
    struct sentry *se, *stmp;
    HASH_ITER(hh, L.sh, se, stmp) {
        HASH_DEL(L.sh, se);
        free(se);
    }
    if (rc < 0) {
        et_graph_free(g);
        return NULL;
    }
    build_succ(g);
    return g;
}

void et_graph_free(et_graph *g)
{
    if (g == NULL)
        return;
    for (uint32_t i = 0; i < g->npg; i++)
        free(g->pg_names[i]);
    free(g->pg_names);
    free(g->streams);
    free(g->path);
    free(g->version);
    free(g->nodes);
    free(g->deps);
    free(g->succ);
    free(g->names);
    free(g->kwork);
    free(g->kshape);
    free(g);
}

int et_rank_path(const char *prefix, int rank, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s.%d.et.gz", prefix, rank);
    if (n < 0 || (size_t)n >= outsz) {
        /* too long for out: leave the .et name, truncated, for messages */
        snprintf(out, outsz, "%s.%d.et", prefix, rank);
        return -1;
    }
    out[n - 3] = '\0'; /* "<prefix>.<r>.et" */
    if (access(out, F_OK) == 0)
        return 0;
    out[n - 3] = '.';
    if (access(out, F_OK) == 0)
        return 0;
    /* Neither name leads to a file, but one may still be there: a symlink
     * loop or a dangling link, a name under a directory that cannot be
     * searched.  That name is the rank's file, so opening it reports the
     * OS reason (ELOOP, ENOENT) instead of "missing rank file". */
    struct stat st;
    out[n - 3] = '\0';
    if (lstat(out, &st) == 0)
        return 0;
    out[n - 3] = '.';
    if (lstat(out, &st) == 0)
        return 0;
    out[n - 3] = '\0';
    return -1;
}

int et_rank_stat(const char *prefix, int rank, char *out, size_t outsz, struct stat *st)
{
    /* what et_rank_path would choose, in one call for each name tried: the
     * .et name if stat finds a file there, else the .et.gz name */
    int n = snprintf(out, outsz, "%s.%d.et.gz", prefix, rank);
    if (n > 3 && (size_t)n < outsz) {
        out[n - 3] = '\0';
        if (stat(out, st) == 0)
            return 0;
        out[n - 3] = '.';
        if (stat(out, st) == 0)
            return 0;
    }
    if (et_rank_path(prefix, rank, out, outsz) < 0)
        return -1;
    return stat(out, st) == 0 ? 0 : 1; /* a name that leads nowhere: errno says why */
}

/* The first rank r whose "<base>.<r>.et" and "<base>.<r>.et.gz" are both
 * absent from the listing of prefix's folder (base: prefix's last
 * component; r in decimal without leading zeros, as et_rank_path writes
 * it), from one pass over the folder instead of a lookup per rank (131,072
 * ranks are 131,072 metadata requests on a network file system); -1 when
 * the folder cannot be listed. */
static int count_listed(const char *prefix)
{
    const char *slash = strrchr(prefix, '/');
    const char *base = slash ? slash + 1 : prefix;
    char *dname = loom_xstrdup(slash ? prefix : ".");
    if (slash) /* "dir/s" -> "dir", "/s" -> "/" */
        dname[slash == prefix ? 1 : slash - prefix] = '\0';
    DIR *dir = opendir(dname);
    free(dname);
    if (dir == NULL)
        return -1;
    size_t blen = strlen(base), nr = 0, cap = 0;
    uint32_t *ranks = NULL;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        const char *p = e->d_name;
        if (strncmp(p, base, blen) != 0 || p[blen] != '.')
            continue;
        p += blen + 1;
        if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
            continue;
        uint64_t r = 0;
        while (*p >= '0' && *p <= '9' && r < INT32_MAX)
            r = 10 * r + (uint64_t)(*p++ - '0');
        if (r >= INT32_MAX || (strcmp(p, ".et") != 0 && strcmp(p, ".et.gz") != 0))
            continue;
        if (nr == cap) {
            cap = cap ? 2 * cap : 1024;
            ranks = loom_xrealloc(ranks, cap * sizeof *ranks);
        }
        ranks[nr++] = (uint32_t)r;
    }
    closedir(dir);
    /* the count is at most the names found: mark those below it */
    uint8_t *seen = loom_xcalloc(nr + 1, 1);
    for (size_t i = 0; i < nr; i++)
        if (ranks[i] < nr)
            seen[ranks[i]] = 1;
    int n = 0;
    while ((size_t)n < nr && seen[n])
        n++;
    free(seen);
    free(ranks);
    return n;
}

int et_count_ranks(const char *prefix)
{
    size_t sz = strlen(prefix) + 32;
    char *buf = loom_xmalloc(sz);
    /* the listing's count, when the names agree with it at its edges (a
     * folder that can be listed but not searched does not) */
    int r = count_listed(prefix);
    if (r < 0 || (r > 0 && et_rank_path(prefix, r - 1, buf, sz) != 0) ||
        et_rank_path(prefix, r, buf, sz) == 0) {
        r = 0;
        while (r < INT32_MAX && et_rank_path(prefix, r, buf, sz) == 0)
            r++;
    }
    free(buf);
    return r;
}

int et_prefix_hint(const char *given, char *out, size_t outsz)
{
    size_t len = strlen(given);
    /* "X.<digits>.et" or "X.<digits>.et.gz": drop ".<digits>.et[.gz]" */
    size_t end = len;
    if (end >= 3 && strcmp(given + end - 3, ".gz") == 0)
        end -= 3;
    if (end >= 3 && strncmp(given + end - 3, ".et", 3) == 0) {
        size_t d = end - 3;
        while (d > 0 && given[d - 1] >= '0' && given[d - 1] <= '9')
            d--;
        if (d < end - 3 && d > 1 && given[d - 1] == '.' && d - 1 < outsz) {
            memcpy(out, given, d - 1);
            out[d - 1] = '\0';
            if (et_count_ranks(out) > 0)
                return 1;
        }
    }
    /* a folder: the first stem S of its S.0.et / S.0.et.gz files */
    struct stat sb;
    if (stat(given, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return 0;
    DIR *dir = opendir(given);
    if (dir == NULL)
        return 0;
    char *best = NULL;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name), cut = 0;
        if (n > 5 && strcmp(e->d_name + n - 5, ".0.et") == 0)
            cut = n - 5;
        else if (n > 8 && strcmp(e->d_name + n - 8, ".0.et.gz") == 0)
            cut = n - 8;
        if (cut == 0)
            continue;
        if (best == NULL || strncmp(e->d_name, best, cut) < 0 ||
            (strncmp(e->d_name, best, cut) == 0 && strlen(best) > cut)) {
            free(best);
            best = loom_xstrdup(e->d_name);
            best[cut] = '\0';
        }
    }
    closedir(dir);
    int ok = 0;
    if (best) {
        while (len > 1 && given[len - 1] == '/') /* "dir/" -> "dir/S", not "dir//S" */
            len--;
        ok = snprintf(out, outsz, "%.*s/%s", (int)len, given, best) < (int)outsz &&
             et_count_ranks(out) > 0;
    }
    free(best);
    return ok;
}

const char *et_node_type_name(int type)
{
    static const char *const names[ET_NODE_TYPES] = {
        "INVALID_NODE",  "METADATA_NODE",  "MEM_LOAD_NODE",
        "MEM_STORE_NODE", "COMP_NODE",     "COMM_SEND_NODE",
        "COMM_RECV_NODE", "COMM_COLL_NODE",
    };
    return type >= 0 && type < ET_NODE_TYPES ? names[type] : "?";
}

const char *et_coll_type_name(int ctype)
{
    static const char *const names[ET_COLL_TYPES] = {
        "ALL_REDUCE", "REDUCE",         "ALL_GATHER",
        "GATHER",     "SCATTER",        "BROADCAST",
        "ALL_TO_ALL", "REDUCE_SCATTER", "REDUCE_SCATTER_BLOCK",
        "BARRIER",
    };
    return ctype >= 0 && ctype < ET_COLL_TYPES ? names[ctype] : "?";
}
