/*
 * pt_write.c: the import as a whole: read each rank's files, pair them,
 * place the ranks in time, and write PREFIX.<r>.et, PREFIX.system.yaml,
 * PREFIX.comm.json and PREFIX.network.yaml through one output set, so a
 * failure anywhere leaves none of them.
 *
 * Rank clocks: Kineto timestamps of ranks on one host share a clock (the
 * host's); across hosts loom assumes the clocks agree (NTP), as Kineto
 * writes wall-clock based times.  A spread of step starts over 10 s is
 * taken as unsynchronised clocks: every rank then starts at 0, with a
 * warning.
 */
#include "pt_import.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "et_graph.h"
#include "et_io.h"
#include "et_shape.h"
#include "outfile.h"
#include "sbuf.h"

#define V(x) CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_##x
#define MAX_SPREAD_NS 10000000000LL

/* ---- one rank file ------------------------------------------------------- */

static const pt_node *g_nodes;
static int cmp_order(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (g_nodes[x].t0 != g_nodes[y].t0)
        return g_nodes[x].t0 < g_nodes[y].t0 ? -1 : 1;
    return x < y ? -1 : x > y;
}

typedef struct attrs {
    ChakraProtoMsg__AttributeProto a[16];
    ChakraProtoMsg__AttributeProto *p[16];
    int n;
    /* a node's kernel lists (kernel_flops, kernel_bytes, kernel_shape) */
    ChakraProtoMsg__Uint64List lf, lb, ls;
    uint64_t *kv; /* the lists' values (owned until the node is written) */
} attrs;

static ChakraProtoMsg__AttributeProto *at(attrs *s, const char *name)
{
    ChakraProtoMsg__AttributeProto *a = &s->a[s->n];
    chakra_proto_msg__attribute_proto__init(a);
    a->name = (char *)name;
    s->p[s->n++] = a;
    return a;
}

/* A priced op's kernels as a fused node lists them (docs/TRACES.md):
 * their FLOPs, bytes and shapes, which the kernel compute model prices
 * one by one. */
static void kernel_attrs(const pt_rank *r, const pt_node *n, attrs *s)
{
    uint32_t nk = n->nkern;
    uint64_t *v = loom_xmalloc((2 + (size_t)LOOM_KSHAPE_FIELDS) * nk * sizeof *v);
    for (uint32_t i = 0; i < nk; i++) {
        v[i] = r->kw[2 * ((size_t)n->kern + i)];
        v[nk + i] = r->kw[2 * ((size_t)n->kern + i) + 1];
        et_shape_pack(&r->ks[n->kern + i], v + 2 * (size_t)nk + (size_t)LOOM_KSHAPE_FIELDS * i);
    }
    s->kv = v;
    ChakraProtoMsg__Uint64List *l[3] = {&s->lf, &s->lb, &s->ls};
    static const char *const nm[3] = {"kernel_flops", "kernel_bytes", "kernel_shape"};
    for (int k = 0; k < 3; k++) {
        chakra_proto_msg__uint64_list__init(l[k]);
        l[k]->n_values = k < 2 ? nk : (size_t)LOOM_KSHAPE_FIELDS * nk;
        l[k]->values = v + (size_t)k * nk;
        ChakraProtoMsg__AttributeProto *a = at(s, nm[k]);
        a->value_case = V(UINT64_LIST);
        a->uint64_list = l[k];
    }
}

static void fill_attrs(const pt_rank *r, const pt_node *n, const pt_strs *strs, attrs *s)
{
    ChakraProtoMsg__AttributeProto *a;
    if (n->type == ET_COMP_NODE && n->cpu) {
        a = at(s, "is_cpu_op");
        a->value_case = V(BOOL_VAL);
        a->bool_val = 1;
    }
    if (n->delay) {
        a = at(s, "is_delay");
        a->value_case = V(BOOL_VAL);
        a->bool_val = 1;
    }
    if (n->stream != PT_NOSTREAM) {
        a = at(s, "stream");
        a->value_case = V(INT64_VAL);
        a->int64_val = n->stream;
    }
    if (n->has_dur) {
        a = at(s, "duration_ns");
        a->value_case = V(UINT64_VAL);
        a->uint64_val = n->dur_ns;
    }
    if (n->priced) {
        a = at(s, "num_ops");
        a->value_case = V(INT64_VAL);
        a->int64_val = (int64_t)n->num_ops;
        a = at(s, "tensor_size");
        a->value_case = V(UINT64_VAL);
        a->uint64_val = n->tensor_size;
        if (n->nkern)
            kernel_attrs(r, n, s);
    }
    if (n->type == ET_COMM_COLL_NODE) {
        a = at(s, "comm_type");
        a->value_case = V(INT64_VAL);
        a->int64_val = n->comm_type;
        a = at(s, "comm_size");
        a->value_case = V(INT64_VAL);
        a->int64_val = (int64_t)n->comm_size;
        if (n->pg) {
            a = at(s, "pg_name");
            a->value_case = V(STRING_VAL);
            a->string_val = (char *)pt_str_get(strs, n->pg);
        }
    }
}

static int write_rank(const pt_rank *r, const pt_strs *strs, int64_t origin, const char *path,
                      loom_err *err)
{
    uint32_t *ord = loom_xmalloc((r->nn + 1) * sizeof *ord);
    uint64_t *id = loom_xmalloc((r->nn + 1) * sizeof *id);
    for (size_t i = 0; i < r->nn; i++)
        ord[i] = (uint32_t)i;
    g_nodes = r->n;
    qsort(ord, r->nn, sizeof *ord, cmp_order);
    for (size_t i = 0; i < r->nn; i++)
        id[ord[i]] = i + 1;
    et_writer *w = et_writer_open(path, 0, err);
    int rc = w ? 0 : (err->code ? err->code : LOOM_EIO);
    if (rc == 0) {
        ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
        md.version = (char *)"0.0.4";
        rc = et_writer_metadata(w, &md, err);
    }
    uint64_t *deps = NULL;
    size_t dcap = 0;
    for (size_t i = 0; i < r->nn && rc == 0; i++) {
        const pt_node *n = &r->n[ord[i]];
        deps = loom_vgrow(deps, &dcap, n->nd + 1, sizeof *deps);
        for (uint32_t k = 0; k < n->nd; k++)
            deps[k] = id[n->deps[k]];
        uint64_t ctrl = n->ctrl >= 0 ? id[n->ctrl] : 0;
        ChakraProtoMsg__Node m = CHAKRA_PROTO_MSG__NODE__INIT;
        m.id = i + 1;
        m.name = (char *)pt_str_get(strs, n->name);
        m.type = (ChakraProtoMsg__NodeType)n->type;
        m.n_data_deps = n->nd;
        m.data_deps = deps;
        m.n_ctrl_deps = ctrl ? 1 : 0;
        m.ctrl_deps = &ctrl;
        m.duration_micros = n->has_dur ? (n->dur_ns + 500) / 1000 : 0;
        if (r->has_clock && n->t0 > origin) /* captured start, us from the job's start */
            m.start_time_micros = (uint64_t)((n->t0 - origin + 500) / 1000);
        attrs s = {.n = 0};
        fill_attrs(r, n, strs, &s);
        m.n_attr = (size_t)s.n;
        m.attr = s.p;
        rc = et_writer_node(w, &m, err);
        free(s.kv);
    }
    free(deps);
    free(ord);
    free(id);
    if (w && rc == 0)
        return et_writer_close(w, err);
    et_writer_abort(w);
    return rc;
}

/* ---- process groups ------------------------------------------------------ */

typedef struct pgroup {
    uint32_t name, ranks; /* strings */
    int all;              /* every imported rank: written as "" */
} pgroup;

/* The ranks below nranks that "[0, 1, 5]" lists, each once, in order, into
 * out (room for nranks); returns how many. */
static int parse_ranks(const char *s, int nranks, int *out)
{
    char *seen = loom_xcalloc((size_t)nranks, 1);
    int n = 0;
    for (const char *p = s ? s : ""; *p;) {
        if (*p >= '0' && *p <= '9') {
            char *end;
            long v = strtol(p, &end, 10);
            p = end;
            if (v < nranks && !seen[v]) {
                seen[v] = 1;
                out[n++] = (int)v;
            }
        } else {
            p++;
        }
    }
    free(seen);
    return n;
}

/* "[0, 1, 5]" -> 1 when it holds every rank 0 .. nranks-1 (ranks not
 * imported, of a larger job, aside); an unknown list (NULL, "") is all. */
static int all_ranks(const char *s, int nranks)
{
    if (s == NULL || *s == '\0')
        return 1;
    int *r = loom_xmalloc((size_t)nranks * sizeof *r);
    int n = parse_ranks(s, nranks, r);
    free(r);
    return n == nranks;
}

static void groups(pt_rank *ranks, int nranks, const pt_strs *strs, pgroup **out, int *nout)
{
    pgroup *g = NULL;
    size_t cap = 0;
    int ng = 0;
    for (int r = 0; r < nranks; r++)
        for (size_t i = 0; i < ranks[r].nn; i++) {
            pt_node *n = &ranks[r].n[i];
            if (n->type != ET_COMM_COLL_NODE || n->pg == 0)
                continue;
            int k = 0;
            while (k < ng && g[k].name != n->pg)
                k++;
            if (k == ng) {
                g = loom_vgrow(g, &cap, (size_t)ng + 1, sizeof *g);
                g[ng].name = n->pg;
                g[ng].ranks = n->pg_ranks;
                g[ng].all = all_ranks(pt_str_get(strs, n->pg_ranks), nranks);
                ng++;
            }
            if (g[k].all)
                n->pg = 0;
        }
    *out = g;
    *nout = ng;
}

/* ASTRA-sim's comm-group JSON, {"name": [ranks]}, through jansson so a
 * name with quotes or backslashes stays JSON (invalid UTF-8 becomes
 * U+FFFD, as in every JSON loom writes). */
static int write_groups(const pgroup *g, int ng, int nranks, const pt_strs *strs, loom_outset *set,
                        int k, loom_err *err)
{
    json_t *o = json_object();
    int *r = loom_xmalloc((size_t)nranks * sizeof *r);
    for (int i = 0; i < ng; i++) {
        if (g[i].all)
            continue;
        json_t *a = json_array();
        int n = parse_ranks(pt_str_get(strs, g[i].ranks), nranks, r);
        for (int m = 0; m < n; m++)
            json_array_append_new(a, json_integer(r[m]));
        char *fixed;
        json_object_set_new(o, loom_utf8(pt_str_get(strs, g[i].name), &fixed), a);
        free(fixed);
    }
    free(r);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    sbuf b = {0};
    sb_str(&b, text);
    sb_str(&b, "\n");
    free(text);
    int rc = loom_outset_text(set, k, b.p, b.n, err);
    free(b.p);
    return rc;
}

/* ---- reading the inputs -------------------------------------------------- */

static int64_t host_pid(const pt_kineto *k)
{
    for (size_t i = 0; i < k->nev; i++)
        if (k->ev[i].kind == PT_K_CPU || k->ev[i].kind == PT_K_RT)
            return k->ev[i].pid;
    return -1;
}

typedef struct rank_in {
    const char *et, *kin;
    int rank;       /* distributedInfo.rank, -1 */
    pt_et_info et_info;
    int64_t kpid;
    uint64_t kbytes, kevents;
    pt_host_fit host; /* the host's launches (Kineto) */
} rank_in;

/* Reads input i into rank slot *r. */
static int read_one(const pt_import_opts *o, rank_in *in, pt_strs *strs, pt_rank *r, loom_err *err)
{
    int rc = 0;
    if (in->et) {
        rc = pt_et_read(in->et, strs, in->kin ? NULL : r, &in->et_info, err);
        if (rc < 0)
            return rc;
    }
    if (in->kin == NULL)
        return 0;
    pt_kineto k;
    rc = pt_kineto_read(in->kin, strs, &k, err);
    if (rc < 0)
        return rc;
    in->rank = k.rank;
    in->kpid = host_pid(&k);
    in->kbytes = k.bytes;
    in->kevents = k.nevents;
    pt_host_fit_of(&k, strs, &in->host);
    if (in->et && in->et_info.pid != in->kpid) {
        rc = loom_err_set(err, LOOM_ETRACE, "%s (pid %lld) and %s (pid %lld) are not the same "
                          "process: pair each --et with the --kineto captured with it",
                          in->et, (long long)in->et_info.pid, in->kin, (long long)in->kpid);
    }
    if (rc == 0 && in->et)
        pt_et_link(&in->et_info, &k, strs);
    if (rc == 0)
        rc = pt_build_kineto(&k, strs, o->step, o->strict, r, err);
    pt_kineto_free(&k);
    return rc;
}

/* Ranks from distributedInfo when every file has one and they are
 * 0 .. n-1; else the order given. */
static void place(rank_in *in, int n, int *slot)
{
    char *seen = loom_xcalloc((size_t)n, 1);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        if (in[i].rank < 0 || in[i].rank >= n || seen[in[i].rank])
            ok = 0;
        else
            seen[in[i].rank] = 1;
    }
    for (int i = 0; i < n; i++)
        slot[i] = ok ? in[i].rank : i;
    if (!ok && n > 1)
        for (int i = 0; i < n; i++)
            if (in[i].rank >= 0) {
                loom_warn("distributedInfo ranks are not 0 .. %d: ranks follow the order given", n - 1);
                break;
            }
    free(seen);
}

/* Start offsets: the first node of each rank waits its step's start less
 * the earliest rank's. */
static int64_t offsets(pt_rank *ranks, int n, int strict, int *rc, loom_err *err)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int r = 0; r < n; r++)
        if (ranks[r].has_clock) {
            lo = ranks[r].start_ns < lo ? ranks[r].start_ns : lo;
            hi = ranks[r].start_ns > hi ? ranks[r].start_ns : hi;
        }
    if (lo == INT64_MAX)
        return 0;
    if (hi - lo > MAX_SPREAD_NS && strict) {
        *rc = loom_err_set(err, LOOM_ETRACE, "import pytorch: --strict: the ranks' steps start "
                           "%.1f s apart (clocks not shared)", (double)(hi - lo) / 1e9);
        return lo;
    }
    if (hi - lo > MAX_SPREAD_NS) {
        loom_warn("the ranks' steps start %.1f s apart: taken as unsynchronised clocks, every rank "
                  "starts at 0", (double)(hi - lo) / 1e9);
        for (int r = 0; r < n; r++)
            ranks[r].has_clock = 0;
        return 0;
    }
    for (int r = 0; r < n; r++)
        if (ranks[r].has_clock && ranks[r].nn > 0)
            ranks[r].n[0].dur_ns = (uint64_t)(ranks[r].start_ns - lo);
    return lo;
}

/* Collectives match across ranks by issue order per communicator, and a
 * replay checks that matched ones agree on size.  Ranks of one all-to-all
 * with uneven splits (or shapes recorded per rank) disagree: every
 * member takes the largest, with a warning that counts them; members
 * that disagree on the type (a filtered capture) take the lowest rank's. */
static int harmonise(pt_rank *ranks, int n, int strict, loom_err *err)
{
    size_t *at = loom_xcalloc((size_t)n, sizeof *at);
    pt_node **m = loom_xcalloc((size_t)n, sizeof *m);
    uint64_t fixed = 0, retyped = 0;
    for (;;) {
        int nm = 0;
        uint64_t big = 0;
        for (int r = 0; r < n; r++) {
            while (at[r] < ranks[r].nn && (ranks[r].n[at[r]].type != ET_COMM_COLL_NODE ||
                                           ranks[r].n[at[r]].pg != 0))
                at[r]++;
            if (at[r] < ranks[r].nn) {
                m[nm] = &ranks[r].n[at[r]++];
                big = m[nm]->comm_size > big ? m[nm]->comm_size : big;
                nm++;
            }
        }
        if (nm == 0)
            break;
        for (int i = 0; i < nm; i++) {
            if (m[i]->comm_size != big) {
                m[i]->comm_size = big;
                fixed++;
            }
            if (m[i]->comm_type != m[0]->comm_type) {
                m[i]->comm_type = m[0]->comm_type;
                retyped++;
            }
        }
    }
    free(at);
    free(m);
    if (strict && (fixed || retyped))
        return loom_err_set(err, LOOM_ETRACE, "import pytorch: --strict: %llu collectives disagree "
                            "across ranks on their size, %llu on their type",
                            (unsigned long long)fixed, (unsigned long long)retyped);
    if (fixed)
        loom_warn("%llu collective%s of the ranks disagree on their size (uneven splits, or "
                  "shapes recorded per rank): each takes its largest member's",
                  (unsigned long long)fixed, fixed == 1 ? "" : "s");
    if (retyped)
        loom_warn("%llu collective%s disagree on their type across ranks in issue order (a "
                  "filtered or partial capture): each takes the lowest rank's type",
                  (unsigned long long)retyped, retyped == 1 ? "" : "s");
    return 0;
}

/* ---- the system and network files ---------------------------------------- */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int write_system(const pt_import_opts *o, int kineto, int nranks, const char *spath,
                        const char *gpath, const char *npath, loom_outset *set, int k,
                        loom_err *err)
{
    sbuf b = {0};
    const char *dev = o->device ? o->device : "a100-80g";
    sb_printf(&b, "# written by loom import pytorch: %d rank%s from %s\n", nranks,
              nranks == 1 ? "" : "s", kineto ? "Kineto traces (measured times)"
                                             : "execution traces (priced from shapes)");
    sb_printf(&b, "# run: loom run --workload %s --system %s --network %s\n", base_name(o->out),
              base_name(spath), base_name(npath));
    sb_printf(&b, "device: %s%s\n", dev,
              o->device ? "" : "   # not named with --device: the what-if device");
    if (kineto) {
        sb_str(&b, "compute-model: trace     # the kernels' measured times (duration_ns)\n");
        sb_str(&b, "comm-model: captured     # collectives take their NCCL kernels' measured time\n");
    } else {
        sb_str(&b, "compute-model: kernel    # each op's kernels priced by their shapes\n");
        sb_printf(&b, "comm-sms: %d              # SMs a collective's kernel holds while in flight\n",
                  LOOM_COMM_SMS);
    }
    if (gpath)
        sb_printf(&b, "comm-group: %s\n", base_name(gpath));
    int rc = loom_outset_text(set, k, b.p, b.n, err);
    free(b.p);
    return rc;
}

static int write_network(int nranks, loom_outset *set, int k, loom_err *err)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "# written by loom import pytorch: one switch joining the %d GPU%s\n"
                     "# (the network model's what-if; captured timing does not use it)\n"
                     "topology: [ Switch ]\nnpus_count: [ %d ]\n"
                     "bandwidth: [ 100 ]   # GB/s, GB = 2^30 bytes (ASTRA-sim)\n"
                     "latency: [ 1000 ]    # ns per hop\n",
                     nranks, nranks == 1 ? "" : "s", nranks);
    return loom_outset_text(set, k, buf, (size_t)n, err);
}

/* ---- the summary --------------------------------------------------------- */

static void summary(const pt_import_opts *o, const rank_in *in, const int *slot,
                    const pt_rank *ranks, int n, int64_t lo, const pt_strs *strs, int ngroups)
{
    printf("%s: %d rank%s imported\n", o->out, n, n == 1 ? "" : "s");
    int64_t jhi = INT64_MIN;
    for (int i = 0; i < n; i++) {
        const rank_in *f = &in[i];
        const pt_rank *r = &ranks[slot[i]];
        printf("  rank %d: %s%s%s\n", slot[i], f->et ? f->et : "", f->et && f->kin ? " + " : "",
               f->kin ? f->kin : "");
        printf("    %llu host ops, %llu gaps, %llu GPU ops, %llu collectives, %llu p2p kept as "
               "time, %llu streams, %llu waits\n",
               (unsigned long long)r->nops, (unsigned long long)r->ndelay,
               (unsigned long long)r->nkernels, (unsigned long long)r->ncoll,
               (unsigned long long)r->np2p, (unsigned long long)r->nstreams,
               (unsigned long long)r->nsync);
        if (f->et)
            printf("    ET schema %s, %llu nodes, pid %lld%s", f->et_info.schema,
                   (unsigned long long)f->et_info.nodes, (long long)f->et_info.pid,
                   f->kin ? "" : "\n");
        if (f->et && f->kin)
            printf(", %llu linked to Kineto ops by rf_id\n", (unsigned long long)f->et_info.linked);
        if (f->kin && r->has_clock) {
            char st[48];
            snprintf(st, sizeof st, r->step >= 0 ? "ProfilerStep#%d" : "(no ProfilerStep: the GPU work)",
                     r->step);
            printf("    step %s: %.3f us (host span %.3f us, GPU busy %.3f us), starts at +%.3f us\n", st,
                   (double)(r->end_ns - r->start_ns) / 1e3,
                   (double)(r->host_end_ns - r->start_ns) / 1e3, (double)r->busy_ns / 1e3,
                   (double)(r->start_ns - lo) / 1e3);
            jhi = r->end_ns > jhi ? r->end_ns : jhi;
        }
        if (f->kin)
            printf("    Kineto: %.1f MB of JSON, %llu events%s%s\n", (double)f->kbytes / 1e6,
                   (unsigned long long)f->kevents, r->device ? ", captured on " : "",
                   r->device ? pt_str_get(strs, r->device) : "");
        if (f->kin && f->host.launches) { /* docs/MODEL.md 12, "The host" */
            printf("    host: %zu kernel launches in the file, the GPU waited for %zu", f->host.launches,
                   f->host.pairs);
            if (f->host.median_us >= 0)
                printf(", %.1f us apart there (median)", f->host.median_us);
            printf("\n");
        }
    }
    if (jhi != INT64_MIN)
        printf("  captured step of the job: %.3f us (earliest rank start to latest rank end)\n",
               (double)(jhi - lo) / 1e3);
    printf("  wrote %s.{0..%d}.et, %s.system.yaml, %s.network.yaml%s%s%s\n", o->out, n - 1, o->out,
           o->out, ngroups ? ", " : "", ngroups ? o->out : "", ngroups ? ".comm.json" : "");
    printf("  run: loom run --workload %s --system %s.system.yaml --network %s.network.yaml\n",
           o->out, o->out, o->out);
}

/* ---- the import ---------------------------------------------------------- */

static int outputs(const pt_import_opts *o, pt_rank *ranks, int n, int kineto, pt_strs *strs,
                   const rank_in *in, int64_t origin, int *ngroups, loom_err *err)
{
    pgroup *g = NULL;
    int ng = 0;
    groups(ranks, n, strs, &g, &ng);
    int nlist = 0;
    for (int i = 0; i < ng; i++)
        nlist += !g[i].all;
    char spath[4200], gpath[4200], npath[4200], path[4200];
    snprintf(spath, sizeof spath, "%s.system.yaml", o->out);
    snprintf(gpath, sizeof gpath, "%s.comm.json", o->out);
    snprintf(npath, sizeof npath, "%s.network.yaml", o->out);
    loom_outset *set = loom_outset_create();
    int kr = loom_outset_add_ranks(set, o->out, n, "-o");
    int ks = loom_outset_add(set, spath, "-o");
    int kn = loom_outset_add(set, npath, "-o");
    int kg = nlist ? loom_outset_add(set, gpath, "-o") : -1;
    for (int i = 0; i < n; i++) {
        if (in[i].et)
            loom_outset_input(set, in[i].et, "--et");
        if (in[i].kin)
            loom_outset_input(set, in[i].kin, "--kineto");
    }
    int rc = loom_outset_check(set, err);
    for (int r = 0; r < n && rc == 0; r++) {
        rc = loom_outset_member(set, kr, r, path, sizeof path, err);
        if (rc == 0)
            rc = write_rank(&ranks[r], strs, origin, path, err);
    }
    if (rc == 0)
        rc = write_system(o, kineto, n, spath, nlist ? gpath : NULL, npath, set, ks, err);
    if (rc == 0)
        rc = write_network(n, set, kn, err);
    if (rc == 0 && kg >= 0)
        rc = write_groups(g, ng, n, strs, set, kg, err);
    if (rc == 0)
        rc = loom_outset_commit(set, err);
    loom_outset_free(set);
    free(g);
    *ngroups = nlist;
    return rc;
}

int pt_import(const pt_import_opts *o, loom_err *err)
{
    if (o->net == 0 && o->nkineto == 0)
        return loom_err_set(err, LOOM_EUSAGE, "import pytorch: give --et FILE and/or --kineto FILE");
    if (o->net && o->nkineto && o->net != o->nkineto)
        return loom_err_set(err, LOOM_EUSAGE, "import pytorch: %d --et and %d --kineto files: "
                            "pairs go one of each per rank, in the order given", o->net, o->nkineto);
    int n = o->net > o->nkineto ? o->net : o->nkineto;
    int kineto = o->nkineto > 0;
    if (!kineto && o->step >= 0)
        return loom_err_set(err, LOOM_EUSAGE, "import pytorch: --step needs --kineto (an execution "
                            "trace holds one iteration)");
    rank_in *in = loom_xcalloc((size_t)n, sizeof *in);
    pt_rank *built = loom_xcalloc((size_t)n, sizeof *built);
    pt_rank *ranks = loom_xcalloc((size_t)n, sizeof *ranks);
    int *slot = loom_xcalloc((size_t)n, sizeof *slot);
    pt_strs *strs = pt_strs_new();
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        in[i].et = i < o->net ? o->et[i] : NULL;
        in[i].kin = i < o->nkineto ? o->kineto[i] : NULL;
        in[i].rank = -1;
        rc = read_one(o, &in[i], strs, &built[i], err);
    }
    int ngroups = 0;
    int64_t lo = 0;
    if (rc == 0) {
        place(in, n, slot);
        for (int i = 0; i < n; i++)
            ranks[slot[i]] = built[i];
        memset(built, 0, (size_t)n * sizeof *built);
        lo = offsets(ranks, n, o->strict, &rc, err);
        if (rc == 0 && n > 1)
            rc = harmonise(ranks, n, o->strict, err);
    }
    if (rc == 0)
        rc = outputs(o, ranks, n, kineto, strs, in, lo, &ngroups, err);
    if (rc == 0 && !o->quiet)
        summary(o, in, slot, ranks, n, lo, strs, ngroups);
    for (int i = 0; i < n; i++) {
        pt_rank_free(&built[i]);
        pt_rank_free(&ranks[i]);
        pt_et_done(&in[i].et_info);
    }
    free(in);
    free(built);
    free(ranks);
    free(slot);
    pt_strs_free(strs);
    return rc;
}
