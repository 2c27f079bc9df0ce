#include "wl_emit.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "et_graph.h"
#include "et_io.h"
#include "et_shape.h"
#include "outfile.h"

struct wl_trace {
    et_writer *w;   /* the streaming writer */
    uint64_t next;  /* id of the next node */
    loom_err err;   /* first error */
    int failed;     /* err is set */
    int pg_streams; /* collectives and sends carry a stream per pg_name */
    char *spg[WL_MAX_STREAMS]; /* the pg names seen, in first-seen order */
    uint64_t slast[WL_MAX_STREAMS]; /* the last node written on each (0: none) */
    int nspg;       /* entries in spg */
};

#define V(x) CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_##x

wl_trace *wl_trace_open(const char *path, loom_err *err)
{
    et_writer *w = et_writer_open(path, 0, err);
    if (w == NULL)
        return NULL;
    ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
    md.version = (char *)WL_VERSION;
    if (et_writer_metadata(w, &md, err) < 0) {
        et_writer_abort(w);
        return NULL;
    }
    wl_trace *t = loom_xcalloc(1, sizeof *t);
    t->w = w;
    t->next = 1;
    return t;
}

static void free_streams(wl_trace *t)
{
    for (int i = 0; i < t->nspg; i++)
        free(t->spg[i]);
}

int wl_trace_close(wl_trace *t, loom_err *err)
{
    if (t->failed) {
        et_writer_abort(t->w);
        int code = t->err.code;
        loom_err_set(err, code, "%s", t->err.msg);
        free_streams(t);
        free(t);
        return code;
    }
    int rc = et_writer_close(t->w, err);
    free_streams(t);
    free(t);
    return rc;
}

void wl_trace_abort(wl_trace *t)
{
    if (t == NULL)
        return;
    et_writer_abort(t->w);
    free_streams(t);
    free(t);
}

void wl_trace_pg_streams(wl_trace *t, int on) { t->pg_streams = on; }

/* The stream of communicator pg: 1 + its index in first-seen order. */
static int64_t pg_stream(wl_trace *t, const char *pg)
{
    const char *k = pg ? pg : "";
    for (int i = 0; i < t->nspg; i++)
        if (strcmp(t->spg[i], k) == 0)
            return i + 1;
    LOOM_ASSERT(t->nspg < WL_MAX_STREAMS);
    t->spg[t->nspg++] = loom_xstrdup(k);
    return t->nspg;
}

uint64_t wl_trace_nodes(const wl_trace *t) { return t->next - 1; }

/* Up to 12 attributes per node: enough for every node kind written here. */
typedef struct attrs {
    ChakraProtoMsg__AttributeProto a[12];
    ChakraProtoMsg__AttributeProto *p[12];
    int n;
} attrs;

static ChakraProtoMsg__AttributeProto *attr(attrs *s, const char *name)
{
    LOOM_ASSERT(s->n < 12);
    ChakraProtoMsg__AttributeProto *a = &s->a[s->n];
    chakra_proto_msg__attribute_proto__init(a);
    a->name = (char *)name;
    s->p[s->n] = a;
    s->n++;
    return a;
}

static void a_i64(attrs *s, const char *name, int64_t v)
{
    ChakraProtoMsg__AttributeProto *a = attr(s, name);
    a->value_case = V(INT64_VAL);
    a->int64_val = v;
}

static void a_u64(attrs *s, const char *name, uint64_t v)
{
    ChakraProtoMsg__AttributeProto *a = attr(s, name);
    a->value_case = V(UINT64_VAL);
    a->uint64_val = v;
}

static void a_i32(attrs *s, const char *name, int32_t v)
{
    ChakraProtoMsg__AttributeProto *a = attr(s, name);
    a->value_case = V(INT32_VAL);
    a->int32_val = v;
}

static void a_str(attrs *s, const char *name, const char *v)
{
    ChakraProtoMsg__AttributeProto *a = attr(s, name);
    a->value_case = V(STRING_VAL);
    a->string_val = (char *)v;
}

/* A node; ctrl (0: none) becomes its ctrl_dep: it waits for ctrl to end
 * without taking data from it (the stream order, emit_on). */
static uint64_t emit_ctrl(wl_trace *t, const char *name, int type, uint64_t dur_us, attrs *s,
                          const uint64_t *deps, int ndeps, uint64_t ctrl)
{
    if (t->failed)
        return 0;
    uint64_t dd[64];
    int nd = 0;
    for (int i = 0; i < ndeps; i++) {
        LOOM_ASSERT(deps[i] < t->next); /* only earlier nodes */
        if (deps[i] == 0)
            continue;
        int dup = 0;
        for (int j = 0; j < nd; j++)
            dup |= dd[j] == deps[i];
        if (!dup) {
            LOOM_ASSERT(nd < 64);
            dd[nd++] = deps[i];
        }
    }
    ChakraProtoMsg__Node n = CHAKRA_PROTO_MSG__NODE__INIT;
    n.id = t->next;
    n.name = (char *)name;
    n.type = (ChakraProtoMsg__NodeType)type;
    n.n_data_deps = (size_t)nd;
    n.data_deps = dd;
    uint64_t cd = ctrl;
    for (int j = 0; j < nd; j++) /* already waited for through its data */
        cd = dd[j] == ctrl ? 0 : cd;
    n.n_ctrl_deps = cd != 0;
    n.ctrl_deps = &cd;
    n.duration_micros = dur_us;
    n.n_attr = (size_t)s->n;
    n.attr = s->p;
    if (et_writer_node(t->w, &n, &t->err) < 0) {
        t->failed = 1;
        return 0;
    }
    return t->next++;
}

static uint64_t emit(wl_trace *t, const char *name, int type, uint64_t dur_us, attrs *s,
                     const uint64_t *deps, int ndeps)
{
    return emit_ctrl(t, name, type, dur_us, s, deps, ndeps, 0);
}

/* A collective or send on stream pg (pg_streams on): its lane runs one node
 * at a time, and a CUDA stream runs its work in the order it was enqueued,
 * so the node also waits for the one written before it on the stream (a
 * ctrl_dep).  Without it replay would issue whichever of a stream's nodes
 * is ready first, and a rank made slower (a straggler) could issue two
 * collectives of one communicator in the other order than its peers. */
static uint64_t emit_on(wl_trace *t, const char *name, int type, attrs *s, const char *pg,
                        const uint64_t *deps, int ndeps)
{
    if (!t->pg_streams)
        return emit(t, name, type, 0, s, deps, ndeps);
    int64_t k = pg_stream(t, pg);
    a_i64(s, "stream", k);
    uint64_t id = emit_ctrl(t, name, type, 0, s, deps, ndeps, t->slast[k - 1]);
    if (id)
        t->slast[k - 1] = id;
    return id;
}

uint64_t wl_comp(wl_trace *t, const char *name, uint64_t flops, uint64_t bytes,
                 uint64_t duration_us, const uint64_t *deps, int ndeps)
{
    attrs s = {.n = 0};
    a_i64(&s, "num_ops", (int64_t)flops);
    a_u64(&s, "tensor_size", bytes);
    return emit(t, name, ET_COMP_NODE, duration_us, &s, deps, ndeps);
}

uint64_t wl_comp_shaped(wl_trace *t, const char *name, uint64_t flops, uint64_t bytes,
                        uint64_t duration_us, const loom_kshape *k, const uint64_t *deps,
                        int ndeps)
{
    attrs s = {.n = 0};
    a_i64(&s, "num_ops", (int64_t)flops);
    a_u64(&s, "tensor_size", bytes);
    if (k && k->cls != LOOM_K_NONE && k->cls < LOOM_K_CLASSES) {
        a_str(&s, "kernel_class", et_kclass_name(k->cls));
        if (k->m)
            a_u64(&s, "gemm_m", k->m);
        if (k->n)
            a_u64(&s, "gemm_n", k->n);
        if (k->k)
            a_u64(&s, "gemm_k", k->k);
        if (k->batch > 1)
            a_u64(&s, "gemm_batch", k->batch);
        if (k->dtype_bytes)
            a_i64(&s, "dtype_bytes", k->dtype_bytes);
        if (k->causal)
            a_i64(&s, "causal", 1);
        if (k->dropout)
            a_i64(&s, "attention_dropout", 1);
        if (k->comm_sms)
            a_i64(&s, "comm_sms", k->comm_sms);
    }
    return emit(t, name, ET_COMP_NODE, duration_us, &s, deps, ndeps);
}

uint64_t wl_comp_fused(wl_trace *t, const char *name, uint64_t flops, uint64_t bytes,
                       uint64_t duration_us, const uint64_t *kwork, uint32_t nkern,
                       const loom_kshape *shapes, const uint64_t *deps, int ndeps)
{
    LOOM_ASSERT(nkern >= 1 && nkern <= ET_MAX_KERNELS);
    attrs s = {.n = 0};
    a_i64(&s, "num_ops", (int64_t)flops);
    a_u64(&s, "tensor_size", bytes);
    /* the lists are written from copies: kwork holds (FLOPs, bytes) pairs */
    uint64_t *kv = loom_xmalloc(2 * (size_t)nkern * sizeof *kv);
    for (uint32_t i = 0; i < nkern; i++) {
        kv[i] = kwork[2 * i];
        kv[nkern + i] = kwork[2 * i + 1];
    }
    ChakraProtoMsg__Uint64List lf = CHAKRA_PROTO_MSG__UINT64_LIST__INIT;
    ChakraProtoMsg__Uint64List lb = CHAKRA_PROTO_MSG__UINT64_LIST__INIT;
    lf.n_values = lb.n_values = nkern;
    lf.values = kv;
    lb.values = kv + nkern;
    ChakraProtoMsg__AttributeProto *a = attr(&s, "kernel_flops");
    a->value_case = V(UINT64_LIST);
    a->uint64_list = &lf;
    a = attr(&s, "kernel_bytes");
    a->value_case = V(UINT64_LIST);
    a->uint64_list = &lb;
    ChakraProtoMsg__Uint64List ls = CHAKRA_PROTO_MSG__UINT64_LIST__INIT;
    uint64_t *sv = NULL;
    if (shapes) { /* LOOM_KSHAPE_FIELDS per kernel (kshape.h) */
        sv = loom_xmalloc((size_t)LOOM_KSHAPE_FIELDS * nkern * sizeof *sv);
        for (uint32_t i = 0; i < nkern; i++)
            et_shape_pack(&shapes[i], sv + (size_t)LOOM_KSHAPE_FIELDS * i);
        ls.n_values = (size_t)LOOM_KSHAPE_FIELDS * nkern;
        ls.values = sv;
        a = attr(&s, "kernel_shape");
        a->value_case = V(UINT64_LIST);
        a->uint64_list = &ls;
    }
    uint64_t id = emit(t, name, ET_COMP_NODE, duration_us, &s, deps, ndeps);
    free(kv);
    free(sv);
    return id;
}

uint64_t wl_comp_dur(wl_trace *t, const char *name, uint64_t duration_us, const uint64_t *deps,
                     int ndeps)
{
    attrs s = {.n = 0};
    return emit(t, name, ET_COMP_NODE, duration_us, &s, deps, ndeps);
}

uint64_t wl_coll_sms(wl_trace *t, const char *name, int comm_type, uint64_t bytes,
                     const char *pg, int sms, const uint64_t *deps, int ndeps)
{
    attrs s = {.n = 0};
    a_i64(&s, "comm_type", comm_type);
    a_i64(&s, "comm_size", (int64_t)bytes);
    if (pg && *pg)
        a_str(&s, "pg_name", pg);
    if (sms >= 0)
        a_i64(&s, "comm_sms", sms);
    return emit_on(t, name, ET_COMM_COLL_NODE, &s, pg, deps, ndeps);
}

uint64_t wl_coll(wl_trace *t, const char *name, int comm_type, uint64_t bytes, const char *pg,
                 const uint64_t *deps, int ndeps)
{
    return wl_coll_sms(t, name, comm_type, bytes, pg, -1, deps, ndeps);
}

static uint64_t p2p(wl_trace *t, const char *name, int type, int src, int dst, int tag,
                    uint64_t bytes, const char *pg, const uint64_t *deps, int ndeps)
{
    attrs s = {.n = 0};
    if (src >= 0)
        a_i32(&s, "comm_src", src);
    if (dst >= 0)
        a_i32(&s, "comm_dst", dst);
    a_i32(&s, "comm_tag", tag);
    a_i64(&s, "comm_size", (int64_t)bytes);
    if (pg && *pg)
        a_str(&s, "pg_name", pg);
    if (type == ET_COMM_SEND_NODE)
        return emit_on(t, name, type, &s, pg, deps, ndeps);
    return emit(t, name, type, 0, &s, deps, ndeps);
}

uint64_t wl_send(wl_trace *t, const char *name, int dst, int tag, uint64_t bytes, const char *pg,
                 const uint64_t *deps, int ndeps)
{
    return p2p(t, name, ET_COMM_SEND_NODE, -1, dst, tag, bytes, pg, deps, ndeps);
}

uint64_t wl_recv(wl_trace *t, const char *name, int src, int tag, uint64_t bytes, const char *pg,
                 const uint64_t *deps, int ndeps)
{
    return p2p(t, name, ET_COMM_RECV_NODE, src, -1, tag, bytes, pg, deps, ndeps);
}

/* ---- files ---------------------------------------------------------------- */

int wl_rank_path(const char *prefix, int rank, char *out, size_t n)
{
    int k = snprintf(out, n, "%s.%d.et", prefix, rank);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

static int tmp_name(const char *dst, char *out, size_t n)
{
    int k = snprintf(out, n, "%s.tmp.%ld", dst, (long)getpid());
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

static int copy_file(const char *src, const char *tmp, loom_err *err)
{
    int in = open(src, O_RDONLY);
    if (in < 0)
        return loom_err_set(err, LOOM_EIO, "%s: cannot open: %s", src, strerror(errno));
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        close(in);
        return loom_err_set(err, LOOM_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    char buf[1 << 16];
    ssize_t r;
    int rc = 0;
    while ((r = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                rc = loom_err_set(err, LOOM_EIO, "%s: write failed: %s", tmp, strerror(errno));
                goto done;
            }
            off += w;
        }
    }
    if (r < 0)
        rc = loom_err_set(err, LOOM_EIO, "%s: read failed: %s", src, strerror(errno));
done:
    close(in);
    if (close(out) != 0 && rc == 0)
        rc = loom_err_set(err, LOOM_EIO, "%s: close failed: %s", tmp, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int wl_link_or_copy(const char *src, const char *dst, int *copied, loom_err *err)
{
    char tmp[4200];
    if (copied)
        *copied = 0;
    if (tmp_name(dst, tmp, sizeof tmp) < 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: path too long", dst);
    unlink(tmp);
    if (link(src, tmp) != 0) {
        /* the file system may not do hard links (or not this many) */
        if (copy_file(src, tmp, err) < 0)
            return LOOM_EIO;
        if (copied)
            *copied = 1;
    }
    if (rename(tmp, dst) != 0) {
        int e = errno;
        unlink(tmp);
        return loom_err_set(err, LOOM_EIO, "%s: cannot rename into place: %s", dst, strerror(e));
    }
    /* rename() of two links to one file succeeds and leaves both: drop ours */
    unlink(tmp);
    return 0;
}

int wl_prepare_prefix(const char *prefix, int *made, loom_err *err)
{
    char buf[4096];
    if (made)
        *made = 0;
    if (snprintf(buf, sizeof buf, "%s", prefix) >= (int)sizeof buf)
        return loom_err_set(err, LOOM_EUSAGE, "--out %s: path too long", prefix);
    const char *base = strrchr(prefix, '/');
    if (*prefix == '\0' || (base && base[1] == '\0'))
        return loom_err_set(err, LOOM_EUSAGE, "--out '%s': give DIR/prefix (a file name prefix, "
                            "not a folder)", prefix);
    char *dir = dirname(buf);
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return loom_err_set(err, LOOM_EUSAGE, "--out %s: %s is not a folder", prefix, dir);
        return 0;
    }
    if (mkdir(dir, 0755) != 0) {
        if (errno == EEXIST)
            return 0;
        return loom_err_set(err, LOOM_EIO, "--out %s: cannot create folder %s: %s", prefix, dir,
                            strerror(errno));
    }
    if (made)
        *made = 1;
    return 0;
}

void wl_unprepare_prefix(const char *prefix)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", prefix) < (int)sizeof buf)
        rmdir(dirname(buf));
}


/* ---- sizes ---------------------------------------------------------------- */

int wl_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *u;
        double m;
    } units[] = {
        {"", 1},
        {"B", 1},
        {"K", 1024.0},
        {"KiB", 1024.0},
        {"KB", 1e3},
        {"M", 1048576.0},
        {"MiB", 1048576.0},
        {"MB", 1e6},
        {"G", 1073741824.0},
        {"GiB", 1073741824.0},
        {"GB", 1e9},
        {"T", 1099511627776.0},
        {"TiB", 1099511627776.0},
        {"TB", 1e12},
    };
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    const char *p = s;
    while ((*p >= '0' && *p <= '9') || *p == '.')
        p++;
    if (p == s)
        return -1;
    size_t nlen = (size_t)(p - s);
    char num[64];
    if (nlen >= sizeof num)
        return -1;
    memcpy(num, s, nlen);
    num[nlen] = '\0';
    double m = -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(p, units[i].u) == 0)
            m = units[i].m;
    if (m < 0)
        return -1;
    if (strchr(num, '.') == NULL) { /* integers exactly, no double rounding */
        errno = 0;
        char *end;
        unsigned long long v = strtoull(num, &end, 10);
        if (*end != '\0' || errno != 0)
            return -1;
        uint64_t mul = (uint64_t)m;
        if (mul != 0 && v > (uint64_t)INT64_MAX / mul)
            return -1;
        *out = (uint64_t)v * mul;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(num, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v))
        return -1;
    double b = v * m;
    if (!(b <= 9.2e18) || b != floor(b))
        return -1;
    *out = (uint64_t)b;
    return 0;
}
