#include "report.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "et_graph.h"

static double ns(sim_time t) { return (double)t / SIM_PS_PER_NS; }
static double us(sim_time t) { return (double)t / SIM_PS_PER_US; }


static int same_stats(const loom_rank_stats *a, const loom_rank_stats *b)
{
    return a->finish == b->finish && a->compute == b->compute && a->comm == b->comm &&
           a->exposed_comm == b->exposed_comm && a->cpu == b->cpu && a->idle == b->idle;
}

static double pct(sim_time part, sim_time whole)
{
    return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Ranks with identical figures form one row, labelled with their ranks as
 * ranges ("0-7,16-23"); rows in order of their first rank.  O(R log R). */
static const loom_result *sort_res;
static int cmp_stats(const void *a, const void *b)
{
    const loom_rank_stats *x = &sort_res->ranks[*(const int *)a];
    const loom_rank_stats *y = &sort_res->ranks[*(const int *)b];
    sim_time kx[6] = {x->finish, x->compute, x->comm, x->exposed_comm, x->cpu, x->idle};
    sim_time ky[6] = {y->finish, y->compute, y->comm, y->exposed_comm, y->cpu, y->idle};
    for (int k = 0; k < 6; k++)
        if (kx[k] != ky[k])
            return kx[k] < ky[k] ? -1 : 1;
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

static int cmp_first(const void *a, const void *b)
{
    const int *x = a, *y = b; /* {first rank, start, end} in the sorted order */
    return (x[0] > y[0]) - (x[0] < y[0]);
}

static void print_rank_groups(FILE *o, const loom_result *res)
{
    int n = res->nranks;
    int *ord = loom_xmalloc(n * sizeof *ord);
    for (int r = 0; r < n; r++)
        ord[r] = r;
    sort_res = res;
    qsort(ord, n, sizeof *ord, cmp_stats);
    int (*grp)[3] = loom_xmalloc(n * sizeof *grp), ng = 0;
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && same_stats(&res->ranks[ord[i]], &res->ranks[ord[j]]))
            j++;
        grp[ng][0] = ord[i]; /* ranks ascend within a group: the first is the least */
        grp[ng][1] = i;
        grp[ng][2] = j;
        ng++;
        i = j;
    }
    qsort(grp, ng, sizeof *grp, cmp_first);
    fprintf(o, "%-16s %12s %12s %6s %12s %6s %12s %6s %12s %6s\n", "ranks", "finish(us)",
            "compute(us)", "%", "exp.comm(us)", "%", "ovl.comm(us)", "%", "idle(us)", "%");
    for (int gi = 0; gi < ng; gi++) {
        char label[64];
        size_t off = 0;
        int count = grp[gi][2] - grp[gi][1];
        for (int k = grp[gi][1]; k < grp[gi][2] && off < 40;) {
            int e = k;
            while (e + 1 < grp[gi][2] && ord[e + 1] == ord[e] + 1)
                e++;
            if (e > k)
                off += snprintf(label + off, sizeof label - off, "%s%d-%d", off ? "," : "", ord[k], ord[e]);
            else
                off += snprintf(label + off, sizeof label - off, "%s%d", off ? "," : "", ord[k]);
            k = e + 1;
            if (k < grp[gi][2] && off >= 40)
                snprintf(label + 40, sizeof label - 40, "..(%d)", count);
        }
        const loom_rank_stats *s = &res->ranks[grp[gi][0]];
        fprintf(o, "%-16s %12.3f %12.3f %6.1f %12.3f %6.1f %12.3f %6.1f %12.3f %6.1f\n", label,
                us(s->finish), us(s->compute), pct(s->compute, s->finish), us(s->exposed_comm),
                pct(s->exposed_comm, s->finish), us(s->overlapped_comm),
                pct(s->overlapped_comm, s->finish), us(s->idle), pct(s->idle, s->finish));
        if (gi == 31 && ng > 33) {
            fprintf(o, "... %d more groups of ranks (--csv lists every rank)\n", ng - 32);
            break;
        }
    }
    free(grp);
    free(ord);
}

/* Collectives with the same type, size, communicator size and algorithm
 * form one row; rows by exposed time, the costliest first. */
typedef struct coll_row {
    int type, nranks;       /* key */
    uint64_t bytes;         /* key */
    const char *algo;       /* key */
    uint64_t count;         /* instances */
    sim_time time, exposed; /* summed transfer time and mean exposed time */
} coll_row;

static int cmp_row(const void *a, const void *b)
{
    const coll_row *x = a, *y = b;
    if (x->exposed != y->exposed)
        return x->exposed > y->exposed ? -1 : 1;
    if (x->time != y->time)
        return x->time > y->time ? -1 : 1;
    return (x->type > y->type) - (x->type < y->type);
}

static void print_collectives(FILE *o, const loom_result *res)
{
    coll_row *rows = loom_xcalloc(res->ncolls, sizeof *rows);
    size_t nr = 0;
    for (size_t k = 0; k < res->ncolls; k++) { /* O(collectives x rows): rows are few */
        const loom_coll_record *c = &res->colls[k];
        size_t r = 0;
        while (r < nr && !(rows[r].type == c->type && rows[r].bytes == c->bytes &&
                           rows[r].nranks == c->nranks && strcmp(rows[r].algo, c->algo) == 0))
            r++;
        if (r == nr) {
            rows[nr++] = (coll_row){c->type, c->nranks, c->bytes, c->algo, 0, 0, 0};
        }
        rows[r].count++;
        rows[r].time += c->end - c->start;
        rows[r].exposed += c->exposed;
    }
    qsort(rows, nr, sizeof *rows, cmp_row);
    fprintf(o, "\ncollectives by exposed time (algbw, busbw as nccl-tests: GB/s = 10^9 B/s)\n");
    fprintf(o, "%-15s %6s %12s %6s %-36s %12s %12s %9s %9s\n", "type", "count", "bytes/rank",
            "ranks", "algorithm", "time(us)", "exposed(us)", "algbw", "busbw");
    for (size_t r = 0; r < nr && r < 10; r++) {
        const coll_row *w = &rows[r];
        double t = ns(w->time) / w->count;
        double alg = t > 0 ? loom_coll_size(w->type, w->bytes, w->nranks) / t : 0;
        fprintf(o, "%-15s %6llu %12llu %6d %-36s %12.3f %12.3f %9.2f %9.2f\n", et_coll_type_name(w->type),
                (unsigned long long)w->count, (unsigned long long)w->bytes, w->nranks, w->algo,
                us(w->time), us(w->exposed), alg, alg * loom_busbw_factor(w->type, w->nranks));
    }
    if (nr > 10)
        fprintf(o, "... %zu more kinds (--csv-collectives lists every collective)\n", nr - 10);
    free(rows);
}

void loom_report_text(FILE *o, const loom_run_info *info, const loom_cfg *cfg,
                      const loom_result *res)
{
    fprintf(o, "workload   %s (%d ranks, %d distinct trace file%s, %llu nodes)\n", info->workload,
            res->nranks, res->distinct_graphs, res->distinct_graphs == 1 ? "" : "s",
            (unsigned long long)res->nodes);
    fprintf(o, "network    %s:", info->network);
    for (int d = 0; d < cfg->topo.ndims; d++) {
        const net_dim *dim = &cfg->topo.dims[d];
        fprintf(o, "%s %s %d x %.4g GB/s (2^30 B/s) %.4g ns", d ? "," : "", net_dim_kind_name(dim->kind),
                dim->npus, dim->bw / 1073741824.0, ns(dim->latency));
    }
    fprintf(o, "\nsystem     %s: %d split%s, %d active chunk%s, endpoint delay %.4g ns, "
               "local memory %.4g GB/s, compute model %s\n",
            info->system, cfg->sys.splits, cfg->sys.splits == 1 ? "" : "s", cfg->sys.active_chunks,
            cfg->sys.active_chunks == 1 ? "" : "s", ns(cfg->sys.endpoint_delay),
            cfg->sys.local_mem_bw / 1e9, comp_kind_name(cfg->comp.kind));
    for (int i = 0; i < cfg->nnotes; i++)
        fprintf(o, "%s%s", i ? "; " : "note       accepted, not modelled: ", cfg->notes[i]);
    if (cfg->nnotes)
        fputc('\n', o);

    fprintf(o, "\nstep time  %.3f us\n\n", us(res->step_time));
    print_rank_groups(o, res);
    if (res->ncolls)
        print_collectives(o, res);
    if (res->nlinks) {
        fprintf(o, "\nmost congested links (flow model; %llu flows, %d links)\n",
                (unsigned long long)res->flow.flows, res->flow.links);
        fprintf(o, "%-28s %10s %14s %12s %14s %6s\n", "link", "GB/s", "bytes", "busy(us)",
                "saturated(us)", "flows");
        for (int k = 0; k < res->nlinks; k++) {
            const net_link_stat *l = &res->links[k];
            fprintf(o, "%-28s %10.2f %14llu %12.3f %14.3f %6u\n", l->name, l->bw / 1e9,
                    (unsigned long long)l->bytes, us(l->busy), us(l->saturated), l->peak_flows);
        }
    }
    if (res->p2p_messages)
        fprintf(o, "\npoint-to-point messages: %llu\n", (unsigned long long)res->p2p_messages);
    if (res->roofline_fallbacks)
        fprintf(o, "\n%llu compute node%s had no num_ops and kept their trace duration\n",
                (unsigned long long)res->roofline_fallbacks, res->roofline_fallbacks == 1 ? "" : "s");
    fprintf(o, "\nsim        %llu events, %.3f s wall, %.1f MB peak RSS\n",
            (unsigned long long)res->events, res->wall_seconds, res->peak_rss_bytes / 1e6);
}


/* ---- JSON ----------------------------------------------------------------- */

static json_t *jreal(sim_time t) { return json_real(ns(t)); }

/* The JSON report is streamed: the top level is written by hand and each
 * rank and collective is built, dumped and freed one at a time, so a run
 * with millions of collectives needs no tree of millions of objects. */
typedef struct json_job {
    const loom_run_info *info;
    const loom_result *res;
    int reproducible;
} json_job;

#define JFLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* ,\n "key": <value> ; steals v */
static void jkey(FILE *f, const char *key, json_t *v, int first)
{
    fprintf(f, "%s \"%s\": ", first ? "" : ",\n", key);
    json_dumpf(v, f, JFLAGS | JSON_ENCODE_ANY);
    json_decref(v);
}

static void jitem(FILE *f, json_t *v, int first)
{
    fputs(first ? "\n  " : ",\n  ", f);
    json_dumpf(v, f, JFLAGS);
    json_decref(v);
}

static int dump_json(FILE *f, void *arg)
{
    const json_job *jb = arg;
    const loom_result *res = jb->res;
    fputs("{\n", f);
    jkey(f, "workload", json_string(jb->info->workload), 1);
    jkey(f, "network", json_string(jb->info->network), 0);
    jkey(f, "system", json_string(jb->info->system), 0);
    jkey(f, "step_time_ns", jreal(res->step_time), 0);
    fputs(",\n \"ranks\": [", f);
    for (int r = 0; r < res->nranks; r++) {
        const loom_rank_stats *s = &res->ranks[r];
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer(r));
        json_object_set_new(o, "finish_ns", jreal(s->finish));
        json_object_set_new(o, "compute_ns", jreal(s->compute));
        json_object_set_new(o, "comm_ns", jreal(s->comm));
        json_object_set_new(o, "exposed_comm_ns", jreal(s->exposed_comm));
        json_object_set_new(o, "overlapped_comm_ns", jreal(s->overlapped_comm));
        json_object_set_new(o, "cpu_ns", jreal(s->cpu));
        json_object_set_new(o, "mem_ns", jreal(s->mem));
        json_object_set_new(o, "idle_ns", jreal(s->idle));
        json_object_set_new(o, "nodes", json_integer((json_int_t)s->nodes));
        jitem(f, o, r == 0);
    }
    fputs("\n ],\n \"collectives\": [", f);
    for (size_t k = 0; k < res->ncolls; k++) {
        const loom_coll_record *c = &res->colls[k];
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(et_coll_type_name(c->type)));
        json_object_set_new(o, "bytes", json_integer((json_int_t)c->bytes));
        json_object_set_new(o, "ranks", json_integer(c->nranks));
        json_object_set_new(o, "group", json_string(c->group));
        json_object_set_new(o, "seq", json_integer((json_int_t)c->seq));
        json_object_set_new(o, "algorithm", json_string(c->algo));
        double t = ns(c->end - c->start);
        double alg = t > 0 ? loom_coll_size(c->type, c->bytes, c->nranks) / t : 0;
        json_object_set_new(o, "exposed_ns", jreal(c->exposed));
        json_object_set_new(o, "algbw_GBps", json_real(alg));
        json_object_set_new(o, "busbw_GBps", json_real(alg * loom_busbw_factor(c->type, c->nranks)));
        json_object_set_new(o, "first_join_ns", jreal(c->first_join));
        json_object_set_new(o, "start_ns", jreal(c->start));
        json_object_set_new(o, "end_ns", jreal(c->end));
        jitem(f, o, k == 0);
    }
    fputs("\n ]", f);
    jkey(f, "p2p_messages", json_integer((json_int_t)res->p2p_messages), 0);
    json_t *links = json_array();
    for (int k = 0; k < res->nlinks; k++) {
        const net_link_stat *l = &res->links[k];
        json_array_append_new(links, json_pack("{s:s, s:f, s:I, s:f, s:f, s:i}", "link", l->name,
                                               "bw_GBps", l->bw / 1e9, "bytes", (json_int_t)l->bytes,
                                               "busy_ns", ns(l->busy), "saturated_ns",
                                               ns(l->saturated), "peak_flows", (int)l->peak_flows));
    }
    jkey(f, "congested_links", links, 0);
    json_t *sim = json_object();
    json_object_set_new(sim, "events", json_integer((json_int_t)res->events));
    json_object_set_new(sim, "queue_high_water", json_integer((json_int_t)res->queue_high));
    json_object_set_new(sim, "distinct_traces", json_integer(res->distinct_graphs));
    json_object_set_new(sim, "wall_seconds", json_real(jb->reproducible ? 0 : res->wall_seconds));
    json_object_set_new(sim, "peak_rss_bytes",
                        json_integer(jb->reproducible ? 0 : res->peak_rss_bytes));
    jkey(f, "sim", sim, 0);
    fputs("\n}\n", f);
    return ferror(f) ? -1 : 0;
}

int loom_report_json(const char *path, const loom_run_info *info, const loom_cfg *cfg,
                     const loom_result *res, int reproducible, loom_err *err)
{
    (void)cfg;
    json_job jb = {info, res, reproducible};
    return loom_write_atomic(path, dump_json, &jb, err);
}

/* ---- nccl-tests bandwidths ------------------------------------------------ */

double loom_busbw_factor(int type, int n)
{
    if (n <= 1)
        return 0;
    switch (type) {
    case ET_ALL_REDUCE:
        return 2.0 * (n - 1) / n;
    case ET_ALL_GATHER:
    case ET_REDUCE_SCATTER:
    case ET_REDUCE_SCATTER_BLOCK:
    case ET_ALL_TO_ALL:
    case ET_GATHER:
    case ET_SCATTER:
        return (double)(n - 1) / n;
    case ET_BROADCAST:
    case ET_REDUCE:
        return 1.0;
    default:
        return 0; /* barrier moves no data */
    }
}

double loom_coll_size(int type, uint64_t bytes, int n)
{
    if (type == ET_ALL_GATHER || type == ET_GATHER)
        return (double)bytes * n;
    return (double)bytes;
}

/* ---- CSV ------------------------------------------------------------------ */

/* RFC 4180 field: quoted when it holds a comma, quote or line break. */
static void csv_str(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_csv_ranks(FILE *f, void *arg)
{
    const loom_result *res = arg;
    fputs("rank,finish_ns,compute_ns,comm_ns,exposed_comm_ns,overlapped_comm_ns,cpu_ns,mem_ns,"
          "idle_ns,nodes\n", f);
    for (int r = 0; r < res->nranks; r++) {
        const loom_rank_stats *s = &res->ranks[r];
        fprintf(f, "%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%llu\n", r, ns(s->finish),
                ns(s->compute), ns(s->comm), ns(s->exposed_comm), ns(s->overlapped_comm), ns(s->cpu),
                ns(s->mem), ns(s->idle), (unsigned long long)s->nodes);
    }
    return ferror(f) ? -1 : 0;
}

static int write_csv_colls(FILE *f, void *arg)
{
    const loom_result *res = arg;
    fputs("index,type,bytes,ranks,group,seq,algorithm,first_join_ns,start_ns,end_ns,time_ns,"
          "exposed_ns,algbw_GBps,busbw_GBps\n", f);
    for (size_t k = 0; k < res->ncolls; k++) {
        const loom_coll_record *c = &res->colls[k];
        double t = ns(c->end - c->start);
        double alg = t > 0 ? loom_coll_size(c->type, c->bytes, c->nranks) / t : 0; /* B/ns = GB/s */
        fprintf(f, "%zu,%s,%llu,%d,", k, et_coll_type_name(c->type), (unsigned long long)c->bytes,
                c->nranks);
        csv_str(f, c->group);
        fprintf(f, ",%llu,", (unsigned long long)c->seq);
        csv_str(f, c->algo);
        fprintf(f, ",%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n", ns(c->first_join), ns(c->start),
                ns(c->end), t, ns(c->exposed), alg, alg * loom_busbw_factor(c->type, c->nranks));
    }
    return ferror(f) ? -1 : 0;
}

int loom_report_csv_ranks(const char *path, const loom_result *res, loom_err *err)
{
    return loom_write_atomic(path, write_csv_ranks, (void *)res, err);
}

int loom_report_csv_colls(const char *path, const loom_result *res, loom_err *err)
{
    return loom_write_atomic(path, write_csv_colls, (void *)res, err);
}

/* ---- timeline ------------------------------------------------------------- */

/* Each event is built as a jansson object and dumped through a callback
 * into the stream, so escaping is jansson's.  Times are us (the format's
 * unit) with ns precision. */

typedef struct tl_link {
    int pid, tid;        /* the collective's previous member slice */
    double ts;           /* its middle, us */
} tl_link;

struct loom_timeline {
    tl_link *links;      /* per collective record: last member seen */
    size_t nlinks;       /* entries in links */
    uint64_t flows;      /* flow ids handed out */
    loom_out *out;       /* the file */
    int first;           /* no event written yet */
    uint64_t slices;     /* events written */
    uint8_t *named;      /* per rank: process/thread names written */
    int nnamed;          /* entries in named */
};

static int tl_cb(const char *buf, size_t n, void *data)
{
    return loom_out_write(data, buf, n);
}

static void tl_emit(loom_timeline *t, json_t *ev)
{
    if (!t->first)
        loom_out_write(t->out, ",\n", 2);
    t->first = 0;
    json_dump_callback(ev, tl_cb, t->out, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(ev);
    t->slices++;
}

static const char *const res_names[] = {"compute", "cpu", "comm", "mem", "other"};

static void tl_names(loom_timeline *t, int rank)
{
    if (rank >= t->nnamed) {
        int n = rank + 1 > 2 * t->nnamed ? rank + 1 : 2 * t->nnamed;
        t->named = loom_xrealloc(t->named, n);
        memset(t->named + t->nnamed, 0, n - t->nnamed);
        t->nnamed = n;
    }
    if (t->named[rank])
        return;
    t->named[rank] = 1;
    char name[32];
    snprintf(name, sizeof name, "rank %d", rank);
    tl_emit(t, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "process_name", "ph", "M", "pid",
                         rank, "tid", 0, "args", "name", name));
    tl_emit(t, json_pack("{s:s, s:s, s:i, s:i, s:{s:i}}", "name", "process_sort_index", "ph", "M",
                         "pid", rank, "tid", 0, "args", "sort_index", rank));
    for (int k = 0; k <= LOOM_RES_NONE; k++)
        tl_emit(t, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "thread_name", "ph", "M",
                             "pid", rank, "tid", k + 1, "args", "name", res_names[k]));
}

static void tl_node(void *ctx, int rank, const et_graph *g, uint32_t i, int resource,
                    sim_time start, sim_time end, long coll)
{
    loom_timeline *t = ctx;
    const et_gnode *n = &g->nodes[i];
    tl_names(t, rank);
    json_t *args = json_pack("{s:I, s:s}", "id", (json_int_t)n->id, "type", et_node_type_name(n->type));
    if (n->type == ET_COMM_COLL_NODE || n->type == ET_COMM_SEND_NODE || n->type == ET_COMM_RECV_NODE)
        json_object_set_new(args, "bytes", json_integer((json_int_t)n->comm_size));
    if (n->type == ET_COMM_COLL_NODE && (n->flags & ET_F_HAS_CTYPE))
        json_object_set_new(args, "collective", json_string(et_coll_type_name(n->comm_type)));
    if (n->flags & ET_F_HAS_OPS)
        json_object_set_new(args, "flops", json_integer((json_int_t)n->num_ops));
    if (n->flags & ET_F_HAS_TSIZE)
        json_object_set_new(args, "tensor_bytes", json_integer((json_int_t)n->tensor_size));
    const char *name = et_gnode_name(g, n);
    int tid = resource + 1;
    double ts = (double)start / SIM_PS_PER_US, dur = (double)(end - start) / SIM_PS_PER_US;
    tl_emit(t, json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:f, s:o}", "name",
                         name[0] ? name : et_node_type_name(n->type), "cat", res_names[resource],
                         "ph", "X", "pid", rank, "tid", tid, "ts", ts, "dur", dur, "args", args));
    if (coll >= 0) { /* flow arrows chain a collective's members in completion order */
        if ((size_t)coll >= t->nlinks) {
            size_t n = (size_t)coll + 1 > 2 * t->nlinks ? (size_t)coll + 1 : 2 * t->nlinks;
            t->links = loom_xrealloc(t->links, n * sizeof *t->links);
            for (size_t k = t->nlinks; k < n; k++)
                t->links[k].pid = -1;
            t->nlinks = n;
        }
        tl_link *l = &t->links[coll];
        double at = ts + dur / 2;
        if (l->pid >= 0) {
            json_int_t id = (json_int_t)t->flows++;
            tl_emit(t, json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:f}", "name", "collective", "cat",
                                 "collective", "ph", "s", "id", id, "pid", l->pid, "tid", l->tid,
                                 "ts", l->ts));
            tl_emit(t, json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:f, s:s}", "name", "collective",
                                 "cat", "collective", "ph", "f", "id", id, "pid", rank, "tid", tid,
                                 "ts", at, "bp", "e"));
        }
        l->pid = rank;
        l->tid = tid;
        l->ts = at;
    }
}

loom_timeline *loom_timeline_open(const char *path, int nranks_hint, loom_err *err)
{
    loom_out *o = loom_out_open(path, err);
    if (o == NULL)
        return NULL;
    loom_timeline *t = loom_xcalloc(1, sizeof *t);
    t->out = o;
    t->first = 1;
    t->nnamed = nranks_hint > 0 ? nranks_hint : 1;
    t->named = loom_xcalloc(t->nnamed, 1);
    static const char head[] = "{\"displayTimeUnit\": \"ns\", \"otherData\": {\"generator\": \"loom\"},\n"
                               "\"traceEvents\": [\n";
    loom_out_write(o, head, sizeof head - 1);
    return t;
}

void loom_timeline_observer(loom_timeline *t, loom_observer *obs)
{
    obs->node = tl_node;
    obs->node_ctx = t;
}

int loom_timeline_finish(loom_timeline *t, int ok, loom_err *err)
{
    int rc = 0;
    if (ok) {
        static const char tail[] = "\n]}\n";
        loom_out_write(t->out, tail, sizeof tail - 1);
        rc = loom_out_commit(t->out, err);
    } else {
        loom_out_abort(t->out);
    }
    free(t->named);
    free(t->links);
    free(t);
    return rc;
}

/* ---- progress ------------------------------------------------------------- */

struct loom_progress {
    double t0;          /* wall clock at start */
    double last;        /* last line drawn */
    uint64_t last_ev;   /* events at the last line */
    int drawn;          /* a line is on screen */
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

loom_progress *loom_progress_start(void)
{
    if (!isatty(STDERR_FILENO))
        return NULL;
    loom_progress *p = loom_xcalloc(1, sizeof *p);
    p->t0 = p->last = wall_now();
    return p;
}

static void pg_tick(void *ctx, sim_time now, uint64_t events)
{
    loom_progress *p = ctx;
    double w = wall_now();
    if (w - p->t0 < 1.0 || w - p->last < 0.2) /* quiet for runs under a second */
        return;
    double rate = (events - p->last_ev) / (w - p->last);
    fprintf(stderr, "\r\033[Kloom: simulated %.3f ms, %llu events, %.3g events/s, %.1f s",
            (double)now / 1e9, (unsigned long long)events, rate, w - p->t0);
    p->last = w;
    p->last_ev = events;
    p->drawn = 1;
}

void loom_progress_observer(loom_progress *p, loom_observer *obs)
{
    obs->progress = pg_tick;
    obs->progress_ctx = p;
}

void loom_progress_done(loom_progress *p)
{
    if (p == NULL)
        return;
    if (p->drawn)
        fputs("\r\033[K", stderr);
    free(p);
}
