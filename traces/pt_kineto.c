/*
 * pt_kineto.c: the Kineto trace reader, streaming (yajl 2 SAX callbacks
 * fed 256 KiB at a time through zlib), and the intern table and
 * whole-file reader the importer shares.
 *
 * Memory is bounded by the events kept (a pt_kev each, 72 bytes, and the
 * distinct names), never by the file's text: a 500 MB trace is never
 * held.  Kept: complete events ("ph": "X") of the categories cpu_op,
 * user_annotation, cuda_runtime, cuda_driver, kernel, gpu_memcpy,
 * gpu_memset, and their names in the traces of PyTorch 1.8 and 1.9
 * (Operator, Runtime, Kernel, Memcpy, Memset; categories are compared
 * without case, as PyTorch's TensorBoard plugin reads them, and so is
 * "External id", which those traces spell "external id" on launches and
 * kernels); ac2g flows are counted (kernels are tied to their launch by
 * `correlation`, which the flows' ids repeat).  Timestamps are parsed from
 * the number's text, so microseconds with a fraction become exact ns.
 */
#include "et_io.h"
#include "pt_import.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <uthash.h>
#include <yajl/yajl_parse.h>
#include <zlib.h>

#include "sbuf.h"

/* ---- strings ------------------------------------------------------------- */

typedef struct pt_sent {
    UT_hash_handle hh;
    uint32_t idx;
    char s[];
} pt_sent;

struct pt_strs {
    pt_sent *h;
    pt_sent **v;
    size_t n, cap;
};

pt_strs *pt_strs_new(void)
{
    pt_strs *s = loom_xcalloc(1, sizeof *s);
    pt_str(s, "", 0);
    return s;
}

void pt_strs_free(pt_strs *s)
{
    if (s == NULL)
        return;
    HASH_CLEAR(hh, s->h);
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    free(s);
}

uint32_t pt_str(pt_strs *s, const char *p, size_t n)
{
    pt_sent *e = NULL;
    HASH_FIND(hh, s->h, p, n, e);
    if (e)
        return e->idx;
    e = loom_xmalloc(sizeof *e + n + 1);
    memcpy(e->s, p, n);
    e->s[n] = '\0';
    e->idx = (uint32_t)s->n;
    s->v = loom_vgrow(s->v, &s->cap, s->n + 1, sizeof *s->v);
    s->v[s->n++] = e;
    HASH_ADD_KEYPTR(hh, s->h, e->s, n, e);
    return e->idx;
}

const char *pt_str_get(const pt_strs *s, uint32_t i) { return i < s->n ? s->v[i]->s : ""; }

/* ---- input --------------------------------------------------------------- */

/* A regular file only (et_io's rule: a FIFO or a directory is refused at
 * once, never waited on), read through zlib whether gzip or not. */
static gzFile open_gz(const char *path, loom_err *err)
{
    int fd = et_open_regular(path, "capture", err);
    if (fd < 0)
        return NULL;
    gzFile g = gzdopen(fd, "rb");
    if (g == NULL) {
        close(fd);
        loom_err_set(err, LOOM_ETRACE, "%s: cannot open: out of memory", path);
        return NULL;
    }
    gzbuffer(g, 1 << 18);
    return g;
}

/* Reads up to n bytes; -1 with err set on a read or decompression error
 * (a truncated .gz is one). */
static long read_gz(gzFile g, const char *path, char *buf, size_t n, loom_err *err)
{
    int got = gzread(g, buf, (unsigned)n);
    if (got < 0 || (got == 0 && !gzeof(g))) {
        int zerr = 0;
        const char *m = gzerror(g, &zerr);
        return loom_err_set(err, LOOM_ETRACE, "%s: cannot read: %s", path,
                            zerr == Z_ERRNO ? strerror(errno) : m), -1;
    }
    return got;
}

int pt_read_all(const char *path, char **buf, size_t *len, loom_err *err)
{
    *buf = NULL;
    *len = 0;
    errno = 0;
    gzFile g = open_gz(path, err);
    if (g == NULL)
        return LOOM_ETRACE;
    sbuf b = {0};
    char chunk[1 << 16];
    long got;
    while ((got = read_gz(g, path, chunk, sizeof chunk, err)) > 0)
        sb_add(&b, chunk, (size_t)got);
    gzclose(g);
    if (got < 0) {
        free(b.p);
        return LOOM_ETRACE;
    }
    sb_add(&b, "", 1); /* NUL */
    *buf = b.p;
    *len = b.n - 1;
    return 0;
}

/* ---- the SAX state ------------------------------------------------------- */

#define MAXD 16

enum { SEC_NONE, SEC_EVENTS, SEC_DIST, SEC_DEV };

typedef struct kstate {
    pt_kineto *k;
    pt_strs *strs;
    int depth;               /* containers open */
    char key[MAXD][40];      /* the key at each depth (object members) */
    int sec;                 /* top-level member being read */
    int devn;                /* deviceProperties entries seen */
    /* the event being read (depth 3 of traceEvents) */
    char ph[4], cat[24];
    sbuf name;
    int64_t ts, dur, tid, pid, ext, corr, rfid;
    int ts_ok, dur_ok, tid_ok, pid_ok;
    pt_comm cm;
    int has_cm;
    uint64_t dims_prod;      /* "Input Dims": product of the first tensor's dims */
    int dims_tensor;         /* tensors opened so far in Input Dims */
    int in_type_n;           /* strings of "Input type" seen */
    pt_dims dm;              /* Input Dims as read (pt_dims) */
} kstate;

static const char *cur_key(const kstate *s, int d) { return d >= 0 && d < MAXD ? s->key[d] : ""; }

/* Copies n bytes of p into dst (cap bytes), truncated, NUL-terminated
 * (snprintf per key cost a tenth of the import). */
static void set_str(char *dst, size_t cap, const void *p, size_t n)
{
    n = n < cap - 1 ? n : cap - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* Microseconds as text ("1689180448563241", "4458676416788.066", "1e3")
 * to ns, exactly when there is no exponent. */
static int us_to_ns(const char *t, size_t n, int64_t *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, t, n);
    tmp[n] = '\0';
    if (strpbrk(tmp, "eE") == NULL) {
        int neg = tmp[0] == '-';
        const char *p = tmp + neg;
        int64_t ip = 0, fr = 0;
        int fd = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (ip > (INT64_MAX / 1000 - 9) / 10)
                return -1;
            ip = ip * 10 + (*p - '0');
        }
        if (*p == '.') {
            p++;
            for (; *p >= '0' && *p <= '9'; p++, fd++)
                if (fd < 4)
                    fr = fr * 10 + (*p - '0');
        }
        for (int i = fd; i < 4; i++)
            fr *= 10;
        int64_t ns = ip * 1000 + (fr + 5) / 10; /* 4 digits: round the 4th */
        *out = neg ? -ns : ns;
        return 0;
    }
    double v = strtod(tmp, NULL) * 1000.0;
    if (!(v > -9e18 && v < 9e18))
        return -1;
    *out = (int64_t)(v < 0 ? v - 0.5 : v + 0.5);
    return 0;
}

static int num_i64(const char *t, size_t n, int64_t *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, t, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double d = 0;
    long long v = strtoll(tmp, &end, 10);
    if (*end != '\0') { /* 1.0, 68.0: a float holding an integer */
        d = strtod(tmp, &end);
        if (*end != '\0' || !(d > -9e18 && d < 9e18))
            return -1;
        v = (long long)d;
    } else if (errno) {
        return -1;
    }
    *out = v;
    return 0;
}

static void event_reset(kstate *s)
{
    s->ph[0] = s->cat[0] = '\0';
    s->name.n = 0;
    s->ts = s->dur = s->tid = s->pid = 0;
    s->ext = s->corr = s->rfid = -1;
    s->ts_ok = s->dur_ok = s->tid_ok = s->pid_ok = 0;
    memset(&s->cm, 0, sizeof s->cm);
    s->has_cm = 0;
    s->dims_prod = 0;
    s->dims_tensor = 0;
    s->in_type_n = 0;
    memset(&s->dm, 0, sizeof s->dm);
}

static int kind_of(const char *cat)
{
    static const struct { const char *cat; int kind; } m[] = {
        {"cpu_op", PT_K_CPU}, {"user_annotation", PT_K_CPU}, {"cuda_runtime", PT_K_RT},
        {"cuda_driver", PT_K_RT}, {"kernel", PT_K_KERNEL}, {"gpu_memcpy", PT_K_MEMCPY},
        {"gpu_memset", PT_K_MEMSET},
        /* PyTorch 1.8 and 1.9 */
        {"operator", PT_K_CPU}, {"runtime", PT_K_RT}, {"memcpy", PT_K_MEMCPY},
        {"memset", PT_K_MEMSET},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcasecmp(cat, m[i].cat) == 0)
            return m[i].kind;
    return 0;
}

static void event_end(kstate *s)
{
    pt_kineto *k = s->k;
    k->nevents++;
    if (strcmp(s->cat, "ac2g") == 0) {
        k->nflows++;
        return;
    }
    int kind = kind_of(s->cat);
    if (strcmp(s->ph, "X") != 0 || kind == 0 || !s->ts_ok || !s->tid_ok || !s->pid_ok)
        return;
    k->ev = loom_vgrow(k->ev, &k->cap, k->nev + 1, sizeof *k->ev);
    pt_kev *e = &k->ev[k->nev++];
    e->ts = s->ts;
    e->dur = s->dur_ok && s->dur > 0 ? s->dur : 0;
    e->tid = s->tid;
    e->pid = s->pid;
    e->ext = s->ext;
    e->corr = s->corr;
    e->rfid = s->rfid;
    e->name = pt_str(s->strs, s->name.p ? s->name.p : "", s->name.n);
    e->kind = (uint8_t)kind;
    e->comm = -1;
    /* an nccl:* annotation's shapes (record_shapes=True) give its size */
    int nccl = s->name.n > 5 && memcmp(s->name.p, "nccl:", 5) == 0;
    if (nccl && s->dims_prod && s->cm.in_nelems == 0)
        s->cm.in_nelems = s->cm.out_nelems = s->dims_prod;
    if (s->has_cm || (nccl && s->dims_prod)) {
        k->comms = loom_vgrow(k->comms, &k->ccap, k->ncomms + 1, sizeof *k->comms);
        k->comms[k->ncomms] = s->cm;
        e->comm = (int32_t)k->ncomms++;
    }
    e->dims = -1;
    if (kind == PT_K_CPU && s->dm.nt > 0) { /* calibrate's kernels by shape */
        k->dims = loom_vgrow(k->dims, &k->dcap, k->ndims + 1, sizeof *k->dims);
        k->dims[k->ndims] = s->dm;
        e->dims = (int32_t)k->ndims++;
    }
}

/* ---- callbacks ----------------------------------------------------------- */

static void arg_string(kstate *s, const char *key, const char *v, size_t n)
{
    uint32_t id = pt_str(s->strs, v, n);
    if (strcmp(key, "Collective name") == 0)
        s->cm.coll = id;
    else if (strcmp(key, "dtype") == 0)
        s->cm.dtype = id;
    else if (strcmp(key, "Process Group Name") == 0)
        s->cm.pg = id;
    else if (strcmp(key, "Process Group Ranks") == 0)
        s->cm.pg_ranks = id;
    else
        return;
    s->has_cm = 1;
}

static int cb_string(void *ctx, const unsigned char *v, size_t n)
{
    kstate *s = ctx;
    const char *p = (const char *)v;
    const char *key = cur_key(s, s->depth - 1);
    if (s->sec == SEC_EVENTS && s->depth == 3) {
        if (strcmp(key, "ph") == 0)
            set_str(s->ph, sizeof s->ph, p, n);
        else if (strcmp(key, "cat") == 0)
            set_str(s->cat, sizeof s->cat, p, n);
        else if (strcmp(key, "tid") == 0 || strcmp(key, "pid") == 0) {
            /* older traces' GPU lanes ("stream 7"; args.stream also says
             * it) and ids written as strings ("123") */
            if (n > 7 && memcmp(p, "stream ", 7) == 0)
                p += 7, n -= 7;
            if (key[0] == 't')
                s->tid_ok = n > 0 && p[0] != '-' && num_i64(p, n, &s->tid) == 0;
            else
                s->pid_ok = n > 0 && p[0] != '-' && num_i64(p, n, &s->pid) == 0;
        } else if (strcmp(key, "name") == 0)
            sb_add(&s->name, p, n);
    } else if (s->sec == SEC_EVENTS && s->depth == 4 && strcmp(cur_key(s, 2), "args") == 0) {
        arg_string(s, key, p, n);
    } else if (s->sec == SEC_EVENTS && s->depth == 5 && strcmp(cur_key(s, 3), "Input type") == 0) {
        if (s->in_type_n++ == 0) {
            uint32_t id = pt_str(s->strs, p, n);
            s->dm.dtype = id;
            if (s->cm.dtype == 0)
                s->cm.dtype = id; /* an annotation's shapes (record_shapes) */
        }
    } else if (s->sec == SEC_DEV && s->depth == 3 && s->devn == 1 && strcmp(key, "name") == 0) {
        s->k->device = pt_str(s->strs, p, n);
    }
    return 1;
}

static void event_number(kstate *s, const char *key, const char *t, size_t n)
{
    if (strcmp(key, "ts") == 0)
        s->ts_ok = us_to_ns(t, n, &s->ts) == 0;
    else if (strcmp(key, "dur") == 0)
        s->dur_ok = us_to_ns(t, n, &s->dur) == 0;
    else if (strcmp(key, "tid") == 0)
        s->tid_ok = num_i64(t, n, &s->tid) == 0;
    else if (strcmp(key, "pid") == 0)
        s->pid_ok = num_i64(t, n, &s->pid) == 0;
}

static void arg_number(kstate *s, const char *key, const char *t, size_t n)
{
    int64_t v;
    if (num_i64(t, n, &v) < 0)
        return;
    if (strcasecmp(key, "External id") == 0)
        s->ext = v;
    else if (strcmp(key, "correlation") == 0)
        s->corr = v;
    else if (strcmp(key, "Record function id") == 0)
        s->rfid = v;
    else if (strcmp(key, "stream") == 0) {
        s->tid = v; /* a GPU op's lane is its stream (Kineto's tid repeats it) */
        s->tid_ok = 1;
    } else if (strcmp(key, "In msg nelems") == 0 && v >= 0) {
        s->cm.in_nelems = (uint64_t)v;
        s->has_cm = 1;
    } else if (strcmp(key, "Out msg nelems") == 0 && v >= 0) {
        s->cm.out_nelems = (uint64_t)v;
        s->has_cm = 1;
    }
}

static int cb_number(void *ctx, const char *t, size_t n)
{
    kstate *s = ctx;
    const char *key = cur_key(s, s->depth - 1);
    if (s->sec == SEC_EVENTS && s->depth == 3) {
        event_number(s, key, t, n);
    } else if (s->sec == SEC_EVENTS && s->depth == 4 && strcmp(cur_key(s, 2), "args") == 0) {
        arg_number(s, key, t, n);
    } else if (s->sec == SEC_EVENTS && s->depth == 6 && strcmp(cur_key(s, 3), "Input Dims") == 0) {
        int64_t v;
        int ok = num_i64(t, n, &v) == 0 && v >= 0;
        if (ok && s->dims_tensor == 1)
            s->dims_prod = (s->dims_prod ? s->dims_prod : 1) * (uint64_t)v;
        int ti = s->dims_tensor - 1;
        if (ti >= 0 && ti < PT_DIMS_T) { /* its dims, in order (a bad one: unusable, 255) */
            uint8_t *nd = &s->dm.nd[ti];
            if (!ok || *nd >= PT_DIMS_D)
                *nd = 255;
            else
                s->dm.d[ti][(*nd)++] = v;
        }
    } else if (s->sec == SEC_DIST && s->depth == 2) {
        int64_t v;
        if (num_i64(t, n, &v) == 0 && v >= 0 && v < (1 << 24)) {
            if (strcmp(key, "rank") == 0)
                s->k->rank = (int)v;
            else if (strcmp(key, "world_size") == 0)
                s->k->world = (int)v;
        }
    } else if (s->depth == 1 && strcmp(key, "baseTimeNanoseconds") == 0) {
        num_i64(t, n, &s->k->base_ns);
    }
    return 1;
}

static int cb_scalar(void *ctx) { (void)ctx; return 1; }
static int cb_bool(void *ctx, int b) { (void)ctx; (void)b; return 1; }

static int cb_map_key(void *ctx, const unsigned char *v, size_t n)
{
    kstate *s = ctx;
    if (s->depth >= 1 && s->depth <= MAXD)
        set_str(s->key[s->depth - 1], sizeof s->key[0], v, n);
    return 1;
}

static int open_container(kstate *s)
{
    if (s->depth == 1) {
        const char *k = cur_key(s, 0);
        s->sec = strcmp(k, "traceEvents") == 0         ? SEC_EVENTS
                 : strcmp(k, "distributedInfo") == 0  ? SEC_DIST
                 : strcmp(k, "deviceProperties") == 0 ? SEC_DEV
                                                      : SEC_NONE;
    }
    if (s->sec == SEC_EVENTS && s->depth == 2)
        event_reset(s);
    if (s->sec == SEC_DEV && s->depth == 2)
        s->devn++;
    if (s->sec == SEC_EVENTS && s->depth == 5 && strcmp(cur_key(s, 3), "Input Dims") == 0 &&
        ++s->dims_tensor <= PT_DIMS_T)
        s->dm.nt = (uint8_t)s->dims_tensor;
    if (s->depth < MAXD)
        s->key[s->depth][0] = '\0';
    s->depth++;
    return 1;
}

static int cb_start_map(void *ctx) { return open_container(ctx); }
static int cb_start_array(void *ctx) { return open_container(ctx); }

static int close_container(kstate *s)
{
    s->depth--;
    if (s->sec == SEC_EVENTS && s->depth == 2)
        event_end(s);
    if (s->depth == 1)
        s->sec = SEC_NONE;
    return 1;
}

static int cb_end_map(void *ctx) { return close_container(ctx); }
static int cb_end_array(void *ctx) { return close_container(ctx); }

static const yajl_callbacks kcb = {
    cb_scalar, cb_bool, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array,
};

/* ---- driving the parser -------------------------------------------------- */

static int parse_error(yajl_handle h, const char *path, const unsigned char *chunk, size_t n,
                       uint64_t before, int at_end, loom_err *err)
{
    size_t at = yajl_get_bytes_consumed(h);
    unsigned char *m = yajl_get_error(h, 0, chunk, n);
    char msg[160];
    snprintf(msg, sizeof msg, "%s", m ? (const char *)m : "parse error");
    yajl_free_error(h, m);
    for (char *c = msg; *c; c++)
        if (*c == '\n')
            *c = ' ';
    size_t l = strlen(msg);
    while (l && msg[l - 1] == ' ')
        msg[--l] = '\0';
    if (at_end)
        return loom_err_set(err, LOOM_ETRACE, "%s: truncated JSON (ends after %llu bytes: %s)",
                            path, (unsigned long long)before, msg);
    return loom_err_set(err, LOOM_ETRACE, "%s: malformed JSON at byte %llu: %s", path,
                        (unsigned long long)(before + at), msg);
}

static yajl_handle k_begin(kstate *s, pt_kineto *k, pt_strs *strs, const char *path)
{
    memset(k, 0, sizeof *k);
    memset(s, 0, sizeof *s);
    k->path = path;
    k->rank = -1;
    s->k = k;
    s->strs = strs;
    yajl_handle h = yajl_alloc(&kcb, NULL, s);
    yajl_config(h, yajl_allow_multiple_values, 0);
    return h;
}

static int k_check(const pt_kineto *k, const char *path, loom_err *err)
{
    if (k->nevents == 0)
        return loom_err_set(err, LOOM_ETRACE, "%s: not a Kineto trace (no traceEvents)", path);
    return 0;
}

int pt_kineto_parse(const char *path, const char *buf, size_t len, pt_strs *strs,
                    pt_kineto *k, loom_err *err)
{
    kstate s;
    yajl_handle h = k_begin(&s, k, strs, path);
    int rc = 0;
    if (yajl_parse(h, (const unsigned char *)buf, len) != yajl_status_ok)
        rc = parse_error(h, path, (const unsigned char *)buf, len, 0, 0, err);
    else if (yajl_complete_parse(h) != yajl_status_ok)
        rc = parse_error(h, path, (const unsigned char *)buf, len, len, 1, err);
    yajl_free(h);
    free(s.name.p);
    k->bytes = len;
    if (rc == 0)
        rc = k_check(k, path, err);
    if (rc < 0)
        pt_kineto_free(k);
    return rc;
}

int pt_kineto_read(const char *path, pt_strs *strs, pt_kineto *k, loom_err *err)
{
    errno = 0;
    gzFile g = open_gz(path, err);
    if (g == NULL) {
        memset(k, 0, sizeof *k);
        return LOOM_ETRACE;
    }
    kstate s;
    yajl_handle h = k_begin(&s, k, strs, path);
    size_t cap = 1 << 18;
    unsigned char *chunk = loom_xmalloc(cap);
    uint64_t total = 0;
    int rc = 0;
    long got;
    while ((got = read_gz(g, path, (char *)chunk, cap, err)) > 0) {
        if (yajl_parse(h, chunk, (size_t)got) != yajl_status_ok) {
            rc = parse_error(h, path, chunk, (size_t)got, total, 0, err);
            break;
        }
        total += (uint64_t)got;
    }
    if (got < 0)
        rc = LOOM_ETRACE;
    if (rc == 0 && yajl_complete_parse(h) != yajl_status_ok)
        rc = parse_error(h, path, chunk, 0, total, 1, err);
    yajl_free(h);
    gzclose(g);
    free(chunk);
    free(s.name.p);
    k->bytes = total;
    if (rc == 0)
        rc = k_check(k, path, err);
    if (rc < 0)
        pt_kineto_free(k);
    return rc;
}

void pt_kineto_free(pt_kineto *k)
{
    free(k->ev);
    free(k->comms);
    free(k->dims);
    k->ev = NULL;
    k->comms = NULL;
    k->dims = NULL;
    k->nev = k->ncomms = k->cap = k->ccap = k->ndims = k->dcap = 0;
}
