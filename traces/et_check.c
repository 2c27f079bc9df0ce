#include "et_check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "et_attr.h"
#include "et_shape.h"
#include "et_graph.h"
#include "et_ids.h"
#include "et_io.h"
#include "sbuf.h"

#include <uthash.h>

/*
 * One scan per rank file serves both commands: it streams the nodes once,
 * checks each node's attributes as it goes (et_attr, the same code the
 * graph loader uses), keeps only ids and dependency ids, then checks ids,
 * dependencies and cycles.  info runs the same scan silently, so the
 * problem count it prints is the one validate would report.
 *
 * Cycle search is Tarjan's strongly connected components over "a depends
 * on b" edges, run with explicit stacks (no recursion: a trace may chain
 * millions of nodes).  Each component of two or more nodes is one problem,
 * printed at its first node in file order with the shortest cycle through
 * that node; self-dependencies are reported on their own and left out.
 */

#define CYCLE_SHOW 8 /* ids printed per cycle before "..." */


/* What one file contributes to info. */
typedef struct {
    uint64_t nodes;                      /* nodes read */
    uint64_t by_type[ET_NODE_TYPES + 1]; /* per NodeType; last: unknown */
    uint64_t coll_n[ET_COLL_TYPES + 1];  /* per comm_type; last: none/bad */
    uint64_t coll_bytes[ET_COLL_TYPES + 1]; /* comm_size summed, same index */
    uint64_t send_n, send_bytes;         /* COMM_SEND_NODEs, comm_size sum */
    uint64_t recv_n, recv_bytes;         /* COMM_RECV_NODEs, comm_size sum */
    uint64_t dangling;                   /* deps on absent ids */
    uint64_t problems;                   /* what validate prints */
    uint64_t bytes;                      /* decompressed file size */
    uint64_t digest;                     /* et_digest of those bytes */
    int gzip;                            /* file was gzip */
    int has_meta;                        /* 0: legacy layout */
    char *version;                       /* version as printed; NULL: legacy */
} fstats;

/* Per-file scan state. */
typedef struct {
    const char *path;  /* file, as printed */
    FILE *out;         /* where problems go; NULL: count only */
    uint64_t id;       /* node being checked */
    uint64_t problems; /* found so far */
    uint64_t n;        /* nodes */
    uint64_t *ids;     /* n node ids in file order */
    size_t capn;       /* allocated in ids and dstart */
    size_t *dstart;    /* node i's deps: depid[dstart[i] .. dstart[i+1]) */
    uint32_t *ndata;   /* of which the first ndata[i] are data deps */
    uint64_t *depid;   /* dependency ids */
    size_t ndep, capdep; /* used and allocated in depid */
} scan;


static void node_problem(scan *s, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void node_problem(scan *s, uint64_t id, const char *fmt, ...)
{
    s->problems++;
    if (s->out == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->out, "%s: node %" PRIu64 ": ", s->path, id);
    vfprintf(s->out, fmt, ap);
    fputc('\n', s->out);
    va_end(ap);
}

static void attr_problem(void *ctx, const char *problem)
{
    scan *s = ctx;
    node_problem(s, s->id, "%s", problem);
}

/* A reader error as a problem line: "<file>: <what>", without the
 * "trace <file>: " the reader puts in front for standalone use. */
static const char *after_path(const char *path, const char *m)
{
    size_t pl = strlen(path);
    if (strncmp(m, "trace ", 6) == 0 && strncmp(m + 6, path, pl) == 0 &&
        strncmp(m + 6 + pl, ": ", 2) == 0)
        return m + 6 + pl + 2;
    return m;
}

static void file_problem(scan *s, const loom_err *e)
{
    const char *m = after_path(s->path, e->msg);
    s->problems++;
    if (s->out != NULL)
        fprintf(s->out, "%s: %s\n", s->path, m);
}

static int has_attr(const ChakraProtoMsg__Node *nd, const char *name)
{
    for (size_t i = 0; i < nd->n_attr; i++)
        if (strcmp(nd->attr[i]->name, name) == 0)
            return 1;
    return 0;
}

/* Node-level checks, and the node's share of the statistics. */
static void check_node(scan *s, const ChakraProtoMsg__Node *nd, fstats *st)
{
    et_nattr at;
    s->id = nd->id;
    et_nattr_read(nd, &at, attr_problem, s);
    et_nshape sh;
    et_shape_read(nd, at.nkernels, &sh, attr_problem, s);
    int type = (int)nd->type;
    if (type < 0 || type >= ET_NODE_TYPES) {
        node_problem(s, nd->id, "unknown node type %d", type);
        st->by_type[ET_NODE_TYPES]++;
        return;
    }
    st->by_type[type]++;
    const char *tn = et_node_type_name(type);
    int comm = type == ET_COMM_SEND_NODE || type == ET_COMM_RECV_NODE ||
               type == ET_COMM_COLL_NODE;
    /* ASTRA-sim sends to comm_dst and receives from comm_src; real
     * converters write only the peer each side needs, so only that one is
     * required (the sender's own rank is implied). */
    if (type == ET_COMM_SEND_NODE) {
        if (!(at.flags & ET_F_HAS_DST) && !has_attr(nd, "comm_dst"))
            node_problem(s, nd->id, "%s without comm_dst", tn);
        st->send_n++;
        st->send_bytes += at.comm_size;
    }
    if (type == ET_COMM_RECV_NODE) {
        if (!(at.flags & ET_F_HAS_SRC) && !has_attr(nd, "comm_src"))
            node_problem(s, nd->id, "%s without comm_src", tn);
        st->recv_n++;
        st->recv_bytes += at.comm_size;
    }
    if ((type == ET_COMM_SEND_NODE || type == ET_COMM_RECV_NODE) &&
        !(at.flags & ET_F_HAS_TAG) && !has_attr(nd, "comm_tag"))
        node_problem(s, nd->id, "%s without comm_tag", tn);
    int ct = ET_COLL_TYPES; /* "none or invalid" bucket */
    if (type == ET_COMM_COLL_NODE) {
        if (at.flags & ET_F_HAS_CTYPE)
            ct = at.comm_type;
        else if (!has_attr(nd, "comm_type"))
            node_problem(s, nd->id, "%s without comm_type", tn);
        st->coll_n[ct]++;
        st->coll_bytes[ct] += at.comm_size;
    }
    /* a barrier moves no data: comm_size is optional there */
    if (comm && ct != ET_BARRIER && !has_attr(nd, "comm_size"))
        node_problem(s, nd->id, "%s without comm_size", tn);
}

/* Records the node's id and dependency ids; flags self-dependencies. */
static void keep_deps(scan *s, const ChakraProtoMsg__Node *nd)
{
    size_t i = (size_t)s->n;
    size_t old = s->capn;
    s->ids = loom_vgrow(s->ids, &s->capn, i + 2, sizeof *s->ids); /* dstart: n+1 */
    if (s->capn != old) {
        s->dstart = loom_xrealloc(s->dstart, s->capn * sizeof *s->dstart);
        s->ndata = loom_xrealloc(s->ndata, s->capn * sizeof *s->ndata);
    }
    s->ids[i] = nd->id;
    s->dstart[i] = s->ndep;
    s->ndata[i] = (uint32_t)nd->n_data_deps;
    size_t nd_deps = nd->n_data_deps + nd->n_ctrl_deps;
    if (nd_deps > 0) {
        s->depid = loom_vgrow(s->depid, &s->capdep, s->ndep + nd_deps,
                         sizeof *s->depid);
        if (nd->n_data_deps > 0)
            memcpy(s->depid + s->ndep, nd->data_deps,
                   nd->n_data_deps * sizeof(uint64_t));
        if (nd->n_ctrl_deps > 0)
            memcpy(s->depid + s->ndep + nd->n_data_deps, nd->ctrl_deps,
                   nd->n_ctrl_deps * sizeof(uint64_t));
    }
    for (size_t k = 0; k < nd_deps; k++)
        if (s->depid[s->ndep + k] == nd->id)
            node_problem(s, nd->id, "depends on itself (%s)",
                         k < nd->n_data_deps ? "data_deps" : "ctrl_deps");
    s->ndep += nd_deps;
    s->n++;
    s->dstart[s->n] = s->ndep;
}



#define NONE UINT32_MAX

/* Prints one cycle of the strongly connected component comp[] == c
 * through v: a breadth-first search inside the component from v back to v
 * finds the shortest one.  queue and parent are n-sized scratch. */
static void print_cycle(scan *s, uint32_t v, uint32_t c, size_t members,
                        const uint32_t *comp, const size_t *estart,
                        const uint32_t *edge, uint32_t *queue,
                        uint32_t *parent)
{
    size_t head = 0, tail = 0;
    uint32_t last = NONE; /* node whose edge closes the cycle at v */
    queue[tail++] = v;
    parent[v] = v;
    while (head < tail && last == NONE) {
        uint32_t u = queue[head++];
        for (size_t k = estart[u]; k < estart[u + 1]; k++) {
            uint32_t w = edge[k];
            if (comp[w] != c)
                continue;
            if (w == v) {
                last = u;
                break;
            }
            if (parent[w] == NONE) {
                parent[w] = u;
                queue[tail++] = w;
            }
        }
    }
    LOOM_ASSERT(last != NONE); /* v's component is strongly connected */
    /* the path runs backwards through parent[]: collect, then print */
    size_t len = 0;
    for (uint32_t u = last; u != v; u = parent[u])
        len++;
    uint32_t *path = loom_xmalloc((len + 1) * sizeof *path);
    size_t i = len + 1;
    for (uint32_t u = last;; u = parent[u]) {
        path[--i] = u;
        if (u == v)
            break;
    }
    char buf[CYCLE_SHOW * 24 + 32];
    size_t o = 0;
    for (i = 0; i <= len && i < CYCLE_SHOW; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%" PRIu64 " -> ",
                              s->ids[path[i]]);
    if (len + 1 > CYCLE_SHOW)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "... -> ");
    snprintf(buf + o, sizeof buf - o, "%" PRIu64, s->ids[v]);
    node_problem(s, s->ids[v], "dependency cycle: %s (each waits for the "
                 "next; %zu nodes wait on each other)", buf, members);
    for (i = 0; i < tail; i++)
        parent[queue[i]] = NONE;
    free(path);
}

/* Tarjan's strongly connected components, with explicit stacks: every
 * component of more than one node is a set of nodes that can never start,
 * reported once, at its first node in file order, with one concrete cycle.
 * O(n + edges). */
static void find_cycles(scan *s, size_t n, const size_t *estart,
                        const uint32_t *edge)
{
    size_t m = n ? n : 1;
    uint32_t *index = loom_xmalloc(m * sizeof *index);
    uint32_t *low = loom_xmalloc(m * sizeof *low);
    uint32_t *comp = loom_xmalloc(m * sizeof *comp); /* NONE: on stack */
    uint32_t *call = loom_xmalloc(m * sizeof *call); /* DFS path */
    uint32_t *tstack = loom_xmalloc(m * sizeof *tstack); /* Tarjan's */
    size_t *cursor = loom_xmalloc(m * sizeof *cursor);  /* next edge */
    uint32_t *queue = loom_xmalloc(m * sizeof *queue);
    uint32_t *parent = loom_xmalloc(m * sizeof *parent);
    for (size_t i = 0; i < n; i++)
        index[i] = comp[i] = parent[i] = NONE;
    uint32_t counter = 0, ncomp = 0;
    for (size_t root = 0; root < n; root++) {
        if (index[root] != NONE)
            continue;
        size_t csp = 0, tsp = 0;
        uint32_t r = (uint32_t)root;
        index[r] = low[r] = counter++;
        cursor[r] = estart[r];
        call[csp++] = tstack[tsp++] = r;
        while (csp > 0) {
            uint32_t v = call[csp - 1];
            if (cursor[v] < estart[v + 1]) {
                uint32_t w = edge[cursor[v]++];
                if (index[w] == NONE) {
                    index[w] = low[w] = counter++;
                    cursor[w] = estart[w];
                    call[csp++] = tstack[tsp++] = w;
                } else if (comp[w] == NONE && index[w] < low[v]) {
                    low[v] = index[w]; /* w is on Tarjan's stack */
                }
                continue;
            }
            csp--;
            if (csp > 0 && low[v] < low[call[csp - 1]])
                low[call[csp - 1]] = low[v];
            if (low[v] != index[v])
                continue;
            /* v roots a component: everything above it on tstack */
            size_t members = 0;
            uint32_t first = v, w;
            do {
                w = tstack[--tsp];
                comp[w] = ncomp;
                members++;
                if (w < first)
                    first = w;
            } while (w != v);
            if (members > 1)
                print_cycle(s, first, ncomp, members, comp, estart, edge,
                            queue, parent);
            ncomp++;
        }
    }
    free(index);
    free(low);
    free(comp);
    free(call);
    free(tstack);
    free(cursor);
    free(queue);
    free(parent);
}

/* Duplicate ids, dangling dependencies and cycles. */
static void check_graph(scan *s, fstats *st)
{
    size_t n = (size_t)s->n;
    idpair *ids = loom_xmalloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        ids[i].id = s->ids[i];
        ids[i].idx = (uint32_t)i;
    }
    qsort(ids, n, sizeof *ids, et_cmp_idpair);
    for (size_t i = 1; i < n; i++)
        if (ids[i].id == ids[i - 1].id)
            node_problem(s, ids[i].id, "duplicate id (nodes %u and %u in "
                         "file order)", ids[i - 1].idx + 1, ids[i].idx + 1);

    /* resolve to indices (the first node of a duplicated id), CSR form;
     * dangling and self edges are left out of the cycle search */
    uint32_t *edge = loom_xmalloc((s->ndep ? s->ndep : 1) * sizeof *edge);
    size_t *estart = loom_xmalloc((n + 1) * sizeof *estart);
    size_t ne = 0;
    for (size_t i = 0; i < n; i++) {
        estart[i] = ne;
        for (size_t k = s->dstart[i]; k < s->dstart[i + 1]; k++) {
            uint64_t d = s->depid[k];
            int64_t j = et_find_id(ids, n, d);
            if (j < 0) {
                st->dangling++;
                node_problem(s, s->ids[i], "%s %" PRIu64 " not in file",
                             k - s->dstart[i] < s->ndata[i] ? "data_dep"
                                                            : "ctrl_dep",
                             d);
            } else if ((size_t)j != i) {
                edge[ne++] = (uint32_t)j;
            }
        }
    }
    estart[n] = ne;
    free(ids);

    find_cycles(s, n, estart, edge);
    free(edge);
    free(estart);
}

/* How the file names its schema version: the version field, or (newer
 * Chakra converters leave it empty) the "schema" string attribute. */
static char *version_of(const ChakraProtoMsg__GlobalMetadata *m)
{
    char buf[256];
    if (m->version[0] != '\0') {
        snprintf(buf, sizeof buf, "\"%s\"", m->version);
        return loom_xstrdup(buf);
    }
    for (size_t i = 0; i < m->n_attr; i++)
        if (strcmp(m->attr[i]->name, "schema") == 0 &&
            m->attr[i]->value_case ==
                CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_STRING_VAL) {
            snprintf(buf, sizeof buf, "\"%s\" (attr schema; version empty)",
                     m->attr[i]->string_val);
            return loom_xstrdup(buf);
        }
    return loom_xstrdup("empty");
}

/* Scans one file.  Returns 0 (problems counted in st), or a negative code
 * with err filled when the file cannot be opened or is not a trace. */
static int scan_file(const char *path, FILE *out, fstats *st, loom_err *err)
{
    scan s;
    memset(&s, 0, sizeof s);
    memset(st, 0, sizeof *st);
    s.path = path;
    s.out = out;
    s.dstart = loom_xmalloc(sizeof *s.dstart);
    s.dstart[0] = 0;
    et_reader *r = et_reader_open(path, err);
    if (r == NULL) {
        free(s.dstart);
        return err != NULL && err->code ? err->code : LOOM_ETRACE;
    }
    const ChakraProtoMsg__GlobalMetadata *m = et_reader_metadata(r);
    st->has_meta = m != NULL;
    st->version = m != NULL ? version_of(m) : NULL;
    st->gzip = et_reader_is_gzip(r);

    ChakraProtoMsg__Node *nd;
    loom_err rerr = {0, ""};
    int rc;
    while ((rc = et_reader_next(r, &nd, &rerr)) == 1) {
        if (s.n >= UINT32_MAX - 1) { /* indices are uint32 */
            et_node_free(nd);
            loom_err_set(&rerr, LOOM_ETRACE, "more than %u nodes; the rest "
                         "is not checked", UINT32_MAX - 2);
            rc = LOOM_ETRACE;
            break;
        }
        check_node(&s, nd, st);
        keep_deps(&s, nd);
        et_node_free(nd);
    }
    if (rc < 0) {
        file_problem(&s, &rerr); /* what was read is still checked */
    } else {
        st->bytes = et_reader_offset(r);
        st->digest = et_reader_digest(r);
    }
    et_reader_close(r);
    st->nodes = s.n;
    check_graph(&s, st);
    st->problems = s.problems;
    free(s.ids);
    free(s.dstart);
    free(s.ndata);
    free(s.depid);
    return 0;
}

/* The rank files of prefix (or prefix itself if it is a file): returns
 * their count and a malloc'd array of malloc'd paths in *paths. */
static int list_files(const char *prefix, char ***paths, loom_err *err)
{
    int n = et_count_ranks(prefix);
    struct stat sb;
    if (n == 0) {
        if (stat(prefix, &sb) == 0 && S_ISREG(sb.st_mode)) {
            *paths = loom_xmalloc(sizeof **paths);
            (*paths)[0] = loom_xstrdup(prefix);
            return 1;
        }
        char meant[4096];
        if (et_prefix_hint(prefix, meant, sizeof meant))
            return loom_err_set(err, LOOM_ETRACE,
                                "trace %s: no rank files (%s.0.et or %s.0.et.gz): did you "
                                "mean %s?", prefix, prefix, prefix, meant);
        return loom_err_set(err, LOOM_ETRACE,
                            "trace %s: no rank files (%s.0.et or %s.0.et.gz)",
                            prefix, prefix, prefix);
    }
    size_t sz = strlen(prefix) + 32;
    *paths = loom_xmalloc((size_t)n * sizeof **paths);
    for (int r = 0; r < n; r++) {
        (*paths)[r] = loom_xmalloc(sz);
        et_rank_path(prefix, r, (*paths)[r], sz);
    }
    return n;
}

static void free_files(char **paths, int n)
{
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* Files already scanned, by device and inode: `loom gen` makes every rank
 * of a stage a hard link of one file, so a 16,384-rank step of 16 files
 * is 16 scans, not 16,384 (7.4 GB read, 137 s, before this). */
typedef struct seen_file {
    et_inode_key key; /* hashed as bytes: zeroed first */
    int first;        /* the path scanned */
    fstats st;        /* what its scan found (version owned here) */
    UT_hash_handle hh;
} seen_file;

/* Path i's stats: a copy of those of a file it is a hard link of, or its
 * own scan (remembered); 1 when copied, 0 when scanned, < 0 on a read
 * error (not remembered). */
static int scan_once(seen_file **tab, char **paths, int i, FILE *out, fstats *st, loom_err *err)
{
    struct stat sb;
    int known = stat(paths[i], &sb) == 0 && S_ISREG(sb.st_mode);
    et_inode_key k;
    seen_file *f = NULL;
    if (known) {
        k = et_inode_key_of(&sb);
        HASH_FIND(hh, *tab, &k, sizeof k, f);
    }
    if (f != NULL) {
        *st = f->st;
        st->version = f->st.version ? loom_xstrdup(f->st.version) : NULL;
        if (out != NULL && f->st.problems > 0)
            fprintf(out, "%s: the same file as %s (a hard link): its %" PRIu64 " problem%s "
                    "above\n", paths[i], paths[f->first], f->st.problems,
                    f->st.problems == 1 ? "" : "s");
        return 1;
    }
    int rc = scan_file(paths[i], out, st, err);
    if (rc < 0 || !known)
        return rc < 0 ? rc : 0;
    f = loom_xcalloc(1, sizeof *f);
    f->key = k;
    f->first = i;
    f->st = *st;
    f->st.version = st->version ? loom_xstrdup(st->version) : NULL;
    HASH_ADD(hh, *tab, key, sizeof k, f);
    return 0;
}

static void seen_free(seen_file **tab)
{
    seen_file *f, *t;
    HASH_ITER(hh, *tab, f, t) {
        HASH_DEL(*tab, f);
        free(f->st.version);
        free(f);
    }
}

int et_validate(const char *prefix, FILE *out, loom_err *err)
{
    char **paths;
    int n = list_files(prefix, &paths, err);
    if (n < 0)
        return n;
    uint64_t problems = 0;
    int rc = 0;
    seen_file *tab = NULL;
    for (int i = 0; i < n; i++) {
        fstats st;
        loom_err ferr = {0, ""};
        int frc = scan_once(&tab, paths, i, out, &st, &ferr);
        if (frc < 0) {
            /* unreadable: said here, and the whole run fails */
            fprintf(out, "%s: cannot be read: %s\n", paths[i],
                    after_path(paths[i], ferr.msg));
            loom_err_set(err, frc, "%s", ferr.msg);
            if (rc == 0)
                rc = frc;
            continue;
        }
        problems += st.problems;
        free(st.version);
    }
    seen_free(&tab);
    free_files(paths, n);
    if (rc < 0)
        return rc;
    return problems > INT32_MAX ? INT32_MAX : (int)problems;
}

/* "12,345,678": digits grouped by thousands so sizes read at a glance. */
static const char *grp(uint64_t v, char buf[32])
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%" PRIu64, v), o = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

/* Bytes with a binary-prefixed figure beside them: "8,388,608 B (8.00 MiB)". */
static const char *bytes_str(uint64_t v, char buf[64])
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    char g[32];
    if (v < 1024) {
        snprintf(buf, 64, "%s B", grp(v, g));
        return buf;
    }
    double x = (double)v;
    int u = -1;
    while (x >= 1024.0 && u < 4) {
        x /= 1024.0;
        u++;
    }
    snprintf(buf, 64, "%s B (%.2f %s)", grp(v, g), x, unit[u]);
    return buf;
}

typedef struct {
    uint64_t digest; /* et_digest of the decompressed file */
    uint64_t bytes;  /* its size */
} fkey;

static int cmp_fkey(const void *a, const void *b)
{
    const fkey *x = a, *y = b;
    if (x->digest != y->digest)
        return x->digest < y->digest ? -1 : 1;
    return x->bytes < y->bytes ? -1 : x->bytes > y->bytes;
}

#define LBL "%-22s" /* label column */

int et_info(const char *prefix, FILE *out, loom_err *err)
{
    char **paths;
    int n = list_files(prefix, &paths, err);
    if (n < 0)
        return n;
    fstats tot;
    memset(&tot, 0, sizeof tot);
    fkey *keys = loom_xmalloc((size_t)n * sizeof *keys);
    /* distinct version strings with file counts; NULL = legacy layout */
    char **vers = loom_xcalloc((size_t)n, sizeof *vers);
    int *vcount = loom_xcalloc((size_t)n, sizeof *vcount);
    int nvers = 0, legacy = 0, gz = 0, rc = 0;
    seen_file *tab = NULL;
    for (int i = 0; i < n; i++) {
        fstats st;
        rc = scan_once(&tab, paths, i, NULL, &st, err);
        if (rc < 0)
            goto done;
        keys[i].digest = st.digest;
        keys[i].bytes = st.bytes;
        tot.nodes += st.nodes;
        for (int t = 0; t <= ET_NODE_TYPES; t++)
            tot.by_type[t] += st.by_type[t];
        for (int c = 0; c <= ET_COLL_TYPES; c++) {
            tot.coll_n[c] += st.coll_n[c];
            tot.coll_bytes[c] += st.coll_bytes[c];
        }
        tot.send_n += st.send_n;
        tot.send_bytes += st.send_bytes;
        tot.recv_n += st.recv_n;
        tot.recv_bytes += st.recv_bytes;
        tot.dangling += st.dangling;
        tot.problems += st.problems;
        tot.bytes += st.bytes;
        gz += st.gzip;
        if (!st.has_meta) {
            legacy++;
        } else {
            int v;
            for (v = 0; v < nvers; v++)
                if (strcmp(vers[v], st.version) == 0)
                    break;
            if (v == nvers)
                vers[nvers++] = loom_xstrdup(st.version);
            vcount[v]++;
        }
        free(st.version);
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_fkey);
    int distinct = n > 0;
    for (int i = 1; i < n; i++)
        distinct += cmp_fkey(&keys[i - 1], &keys[i]) != 0;

    char g[32], b[64];
    fprintf(out, LBL "%s\n", "trace", prefix);
    fprintf(out, LBL "%d\n", "ranks", n);
    if (n == 1 && et_count_ranks(prefix) == 0) { /* list_files took one file as itself */
        char meant[4096];
        fprintf(out, LBL "%s is one rank file, summarized alone", "note", prefix);
        if (et_prefix_hint(prefix, meant, sizeof meant))
            fprintf(out, "; the workload is %s (%d rank file%s): loom trace info %s", meant,
                    et_count_ranks(meant), et_count_ranks(meant) == 1 ? "" : "s", meant);
        fputc('\n', out);
    }
    fprintf(out, LBL "%d (%d distinct by content", "files", n, distinct);
    if (gz > 0)
        fprintf(out, ", %d gzip", gz);
    fprintf(out, ")\n");
    fprintf(out, LBL "%s decompressed, in all\n", "size",
            bytes_str(tot.bytes, b));
    for (int v = 0; v < nvers; v++)
        fprintf(out, LBL "%s (%d file%s)\n", v == 0 ? "version" : "",
                vers[v], vcount[v], vcount[v] == 1 ? "" : "s");
    if (legacy > 0)
        fprintf(out, LBL "none: legacy layout without GlobalMetadata (%d "
                "file%s)\n", nvers == 0 ? "version" : "", legacy,
                legacy == 1 ? "" : "s");
    fprintf(out, LBL "%s", "nodes", grp(tot.nodes, g));
    if (n > 1)
        fprintf(out, " in all, %s per rank on average",
                grp((tot.nodes + (uint64_t)n / 2) / (uint64_t)n, g));
    fputc('\n', out);
    for (int t = 0; t <= ET_NODE_TYPES; t++)
        if (tot.by_type[t] > 0)
            fprintf(out, "  " "%-20s" "%12s\n",
                    t < ET_NODE_TYPES ? et_node_type_name(t) : "unknown type",
                    grp(tot.by_type[t], g));
    if (tot.by_type[ET_COMM_COLL_NODE] > 0) {
        fprintf(out, LBL "%12s  %s\n", "collectives", "count", "bytes (all ranks)");
        for (int c = 0; c <= ET_COLL_TYPES; c++)
            if (tot.coll_n[c] > 0)
                fprintf(out, "  " "%-20s" "%12s  %s\n",
                        c < ET_COLL_TYPES ? et_coll_type_name(c)
                                          : "no/bad comm_type",
                        grp(tot.coll_n[c], g), bytes_str(tot.coll_bytes[c], b));
    }
    fprintf(out, LBL "%12s  %s\n", "sends", grp(tot.send_n, g),
            bytes_str(tot.send_bytes, b));
    fprintf(out, LBL "%12s  %s\n", "recvs", grp(tot.recv_n, g),
            bytes_str(tot.recv_bytes, b));
    fprintf(out, LBL "%12s%s\n", "dangling deps", grp(tot.dangling, g),
            tot.dangling ? "  (dropped on load)" : "");
    fprintf(out, LBL "%12s%s\n", "problems", grp(tot.problems, g),
            tot.problems ? "  (loom trace validate lists them)" : "");
done:
    seen_free(&tab);
    for (int v = 0; v < nvers; v++)
        free(vers[v]);
    free(vers);
    free(vcount);
    free(keys);
    free_files(paths, n);
    return rc < 0 ? rc : 0;
}
