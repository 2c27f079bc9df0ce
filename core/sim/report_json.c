/*
 * report_json.c: the JSON report (--json OUT; docs/REPORT.md, "JSON").
 * Each rank's and each collective's object holds the LOOM_SHOW_JSON
 * entries of the field tables, in table order (LOOM_SHOW_JSON_LAST ones
 * last).
 *
 * By default it summarises (report_sum.c): each per-rank figure's
 * distribution over ranks and the slowest ranks ("rank_summary"), every
 * rank only up to LOOM_JSON_RANKS_LISTED of them ("ranks"), and the
 * collectives by kind ("collective_kinds"); LOOM_JSON_DETAIL adds every
 * rank and every collective instance ("collectives"), the layout of old.
 *
 * The report is streamed: the top level is written by hand and each rank
 * and collective is built, dumped and freed one at a time, so a run with
 * millions of collectives needs no tree of millions of objects.
 */
#include "report_int.h"

#include <jansson.h>
#include <stdlib.h>

#include "et_graph.h"

typedef struct json_job {
    const loom_run_info *info; /* inputs */
    const loom_result *res;    /* figures */
    int flags;                 /* LOOM_JSON_* */
    const loom_cfg *cfg;       /* the network model's name */
} json_job;

#define JFLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static json_t *jreal(sim_time t) { return json_real(rpt_ns(t)); }

/* A string from the inputs (a path, a pg name): jansson refuses invalid
 * UTF-8 (json_string returns NULL), so invalid bytes become U+FFFD. */
static json_t *jstr(const char *s)
{
    char *fixed;
    json_t *v = json_string(loom_utf8(s, &fixed));
    free(fixed);
    return v;
}

static json_t *jvalue(loom_fval v)
{
    switch (v.kind) {
    case LOOM_FK_TIME:
        return jreal(v.t);
    case LOOM_FK_COUNT:
        return json_integer((json_int_t)v.u);
    case LOOM_FK_REAL:
        return json_real(v.d);
    default:
        return jstr(v.s);
    }
}

/* ,\n "key": <value> ; steals v */
static void jkey(FILE *f, const char *key, json_t *v, int first)
{
    LOOM_ASSERT(v != NULL); /* never a key without a value */
    fprintf(f, "%s \"%s\": ", first ? "" : ",\n", key);
    json_dumpf(v, f, JFLAGS | JSON_ENCODE_ANY);
    json_decref(v);
}

static void jitem(FILE *f, json_t *v, int first)
{
    LOOM_ASSERT(v != NULL);
    fputs(first ? "\n  " : ",\n  ", f);
    json_dumpf(v, f, JFLAGS);
    json_decref(v);
}

static json_t *rank_object(int r, const loom_rank_stats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "rank", json_integer(r));
    for (int k = 0; k < loom_nrank_fields; k++) {
        const loom_rank_field *f = &loom_rank_fields[k];
        if (f->show & LOOM_SHOW_JSON)
            json_object_set_new(o, f->name, jvalue(loom_rank_value(f, s)));
    }
    return o;
}

static json_t *coll_object(const loom_coll_record *c)
{
    json_t *o = json_object();
    for (int pass = 0; pass < 2; pass++) /* the JSON_LAST fields on the second */
        for (int k = 0; k < loom_ncoll_fields; k++) {
            const loom_coll_field *f = &loom_coll_fields[k];
            if ((f->show & LOOM_SHOW_JSON) && !(f->show & LOOM_SHOW_JSON_LAST) == !pass)
                json_object_set_new(o, f->name, jvalue(f->get(c)));
        }
    return o;
}

/* A raw value of a rank field (ps for a time) as JSON. */
static json_t *jraw(const loom_rank_field *f, int64_t v)
{
    return f->kind == LOOM_FK_COUNT ? json_integer((json_int_t)v) : jreal(v);
}

static json_t *dist_object(const loom_rank_field *f, const rpt_dist *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "min", jraw(f, d->min));
    json_object_set_new(o, "p50", jraw(f, d->p50));
    json_object_set_new(o, "p99", jraw(f, d->p99));
    json_object_set_new(o, "max", jraw(f, d->max));
    json_object_set_new(o, "mean", json_real(f->kind == LOOM_FK_COUNT ? d->mean
                                                                       : d->mean / SIM_PS_PER_NS));
    return o;
}

static json_t *rank_summary(const loom_result *res, int listed)
{
    rpt_rank_sum s;
    rpt_rank_summary(res, &s);
    json_t *o = json_object(), *fields = json_object(), *slow = json_array();
    json_object_set_new(o, "ranks", json_integer(res->nranks));
    json_object_set_new(o, "listed", json_boolean(listed));
    for (int k = 0; k < loom_nrank_fields && k < RPT_MAX_RANK_FIELDS; k++)
        if (loom_rank_fields[k].show & LOOM_SHOW_JSON)
            json_object_set_new(fields, loom_rank_fields[k].name,
                                dist_object(&loom_rank_fields[k], &s.field[k]));
    json_object_set_new(o, "fields", fields);
    for (int i = 0; i < s.nslowest; i++)
        json_array_append_new(slow, rank_object(s.slowest[i], &res->ranks[s.slowest[i]]));
    json_object_set_new(o, "slowest", slow);
    return o;
}

static json_t *kind_object(const rpt_kind *w)
{
    double mean_ns = w->time.mean / SIM_PS_PER_NS;
    double alg = mean_ns > 0 ? loom_coll_size(w->type, w->bytes, w->nranks) / mean_ns : 0;
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(et_coll_type_name(w->type)));
    json_object_set_new(o, "bytes", json_integer((json_int_t)w->bytes));
    json_object_set_new(o, "ranks", json_integer(w->nranks));
    json_object_set_new(o, "algorithm", jstr(w->algo));
    json_object_set_new(o, "count", json_integer((json_int_t)w->count));
    json_object_set_new(o, "time_total_ns", jreal(w->total));
    json_object_set_new(o, "time_mean_ns", json_real(mean_ns));
    json_object_set_new(o, "time_min_ns", jreal(w->time.min));
    json_object_set_new(o, "time_p50_ns", jreal(w->time.p50));
    json_object_set_new(o, "time_p99_ns", jreal(w->time.p99));
    json_object_set_new(o, "time_max_ns", jreal(w->time.max));
    json_object_set_new(o, "exposed_total_ns", jreal(w->exposed));
    json_object_set_new(o, "algbw_GBps", json_real(alg));
    json_object_set_new(o, "busbw_GBps", json_real(alg * loom_busbw_factor(w->type, w->nranks)));
    return o;
}

static void write_kinds(FILE *f, const loom_result *res)
{
    rpt_kind *kinds;
    size_t nk = rpt_coll_kinds(res, &kinds);
    fputs(",\n \"collective_kinds\": [", f);
    for (size_t k = 0; k < nk; k++)
        jitem(f, kind_object(&kinds[k]), k == 0);
    fputs(nk ? "\n ]" : "]", f);
    free(kinds);
}

static json_t *links_array(const loom_result *res)
{
    json_t *links = json_array();
    for (int k = 0; k < res->nlinks; k++) {
        const net_link_stat *l = &res->links[k];
        json_array_append_new(links, json_pack("{s:o, s:f, s:I, s:f, s:f, s:i}", "link", jstr(l->name),
                                               "bw_GBps", l->bw / 1e9, "bytes", (json_int_t)l->bytes,
                                               "busy_ns", rpt_ns(l->busy), "saturated_ns",
                                               rpt_ns(l->saturated), "peak_flows", (int)l->peak_flows));
    }
    return links;
}

static int dump_json(FILE *f, void *arg)
{
    const json_job *jb = arg;
    const loom_result *res = jb->res;
    fputs("{\n", f);
    jkey(f, "workload", jstr(jb->info->workload), 1);
    jkey(f, "network", jstr(jb->info->network), 0);
    jkey(f, "system", jstr(jb->info->system), 0);
    if (jb->cfg) /* NULL: a caller with no configuration (unit tests) */
        jkey(f, "network_model", jstr(rpt_net_model(jb->cfg->sys.model)), 0);
    if (jb->cfg) { /* absent: every dimension at link rate */
        json_t *eff = json_array();
        int on = 0;
        for (int d = 0; d < jb->cfg->topo.ndims; d++) {
            json_array_append_new(eff, json_string(net_eff_name(jb->cfg->sys.eff[d])));
            on |= jb->cfg->sys.eff[d];
        }
        if (on)
            jkey(f, "comm_efficiency", eff, 0);
        else
            json_decref(eff);
    }
    if (jb->cfg && jb->cfg->sys.phase_overlap > 0) /* absent: phases in turn */
        jkey(f, "phase_overlap", json_real(jb->cfg->sys.phase_overlap), 0);
    if (jb->cfg && rpt_attention(jb->cfg)) /* absent: flash2 (or not the kernel model) */
        jkey(f, "attention_kernel", jstr(rpt_attention(jb->cfg)), 0);
    if (jb->cfg && jb->cfg->comm_captured) /* absent: the network model times communication */
        jkey(f, "comm_model", jstr("captured"), 0);
    if (jb->cfg && jb->cfg->stack_name) { /* absent: no stack profile */
        jkey(f, "stack", jstr(jb->cfg->stack_name), 0);
        jkey(f, "stack_compute_time_scale", json_real(jb->cfg->stack_scale), 0);
    }
    if (jb->cfg && jb->cfg->step_overhead) /* absent: none */
        jkey(f, "step_overhead_us", json_real(rpt_us(jb->cfg->step_overhead)), 0);
    if (jb->cfg && jb->cfg->host_launch) { /* absent: the host is not modelled */
        jkey(f, "host_launch_us", json_real(rpt_us(jb->cfg->host_launch)), 0);
        jkey(f, "host_launches", json_integer((json_int_t)res->host_launches), 0);
        jkey(f, "host_waits", json_integer((json_int_t)res->host_waits), 0);
    }
    if (res->sms_timed) { /* absent: no collective holds SMs, or not the kernel model */
        jkey(f, "comm_sms", json_integer(jb->cfg ? jb->cfg->comm_sms : 0), 0);
        jkey(f, "comm_sms_stretch_us", json_real(rpt_us(res->sms_stretch) / res->nranks), 0);
    }
    jkey(f, "step_time_ns", jreal(res->step_time), 0);
    int detail = jb->flags & LOOM_JSON_DETAIL;
    int listed = detail || res->nranks <= LOOM_JSON_RANKS_LISTED;
    if (listed) {
        fputs(",\n \"ranks\": [", f);
        for (int r = 0; r < res->nranks; r++)
            jitem(f, rank_object(r, &res->ranks[r]), r == 0);
        fputs("\n ]", f);
    }
    jkey(f, "rank_summary", rank_summary(res, listed), 0);
    if (detail) {
        fputs(",\n \"collectives\": [", f);
        for (size_t k = 0; k < res->ncolls; k++)
            jitem(f, coll_object(&res->colls[k]), k == 0);
        fputs("\n ]", f);
    }
    write_kinds(f, res);
    jkey(f, "p2p_messages", json_integer((json_int_t)res->p2p_messages), 0);
    jkey(f, "congested_links", links_array(res), 0);
    json_t *sim = json_object();
    /* how the run was computed, not what it computed: 0 when reproducible
     * (the same with and without symmetry collapse, docs/REPORT.md) */
    int repro = (jb->flags & LOOM_JSON_REPRODUCIBLE) != 0;
    json_object_set_new(sim, "events", json_integer(repro ? 0 : (json_int_t)res->events));
    json_object_set_new(sim, "queue_high_water", json_integer(repro ? 0 : (json_int_t)res->queue_high));
    json_object_set_new(sim, "simulated_ranks", json_integer(repro ? 0 : res->simulated_ranks));
    json_object_set_new(sim, "collapse_off", json_string(repro ? "" : res->collapse_off));
    json_object_set_new(sim, "distinct_traces", json_integer(res->distinct_graphs));
    json_object_set_new(sim, "wall_seconds", json_real((jb->flags & LOOM_JSON_REPRODUCIBLE) ? 0 : res->wall_seconds));
    json_object_set_new(sim, "peak_rss_bytes",
                        json_integer((jb->flags & LOOM_JSON_REPRODUCIBLE) ? 0 : res->peak_rss_bytes));
    jkey(f, "sim", sim, 0);
    fputs("\n}\n", f);
    return ferror(f) ? -1 : 0;
}

int loom_report_json(const char *path, const loom_run_info *info, const loom_cfg *cfg,
                     const loom_result *res, int flags, loom_err *err)
{
    json_job jb = {info, res, flags, cfg};
    return loom_write_atomic(path, dump_json, &jb, err);
}

int loom_report_json_out(loom_outset *set, int k, const loom_run_info *info, const loom_cfg *cfg,
                         const loom_result *res, int flags, loom_err *err)
{
    json_job jb = {info, res, flags, cfg};
    return loom_outset_write(set, k, dump_json, &jb, err);
}
