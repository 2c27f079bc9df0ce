#include "report.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "et_graph.h"

static double ns(sim_time t) { return (double)t / SIM_PS_PER_NS; }
static double us(sim_time t) { return (double)t / SIM_PS_PER_US; }

static const char *kind_name(net_dim_kind k)
{
    static const char *const n[] = {"Ring", "FullyConnected", "Switch"};
    return (unsigned)k < 3 ? n[k] : "?";
}

static int same_stats(const loom_rank_stats *a, const loom_rank_stats *b)
{
    return a->finish == b->finish && a->compute == b->compute && a->comm == b->comm &&
           a->exposed_comm == b->exposed_comm && a->cpu == b->cpu && a->idle == b->idle;
}

static double pct(sim_time part, sim_time whole)
{
    return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
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
        fprintf(o, "%s %s %d x %.4g GB/s (2^30 B/s) %.4g ns", d ? "," : "", kind_name(dim->kind),
                dim->npus, dim->bw / 1073741824.0, ns(dim->latency));
    }
    fprintf(o, "\nsystem     %s: %d split%s, %d active chunk%s, endpoint delay %.4g ns, "
               "local memory %.4g GB/s, compute model %s\n",
            info->system, cfg->sys.splits, cfg->sys.splits == 1 ? "" : "s", cfg->sys.active_chunks,
            cfg->sys.active_chunks == 1 ? "" : "s", ns(cfg->sys.endpoint_delay),
            cfg->sys.local_mem_bw / 1e9, cfg->comp.kind == COMP_ROOFLINE ? "roofline" : "trace");
    for (int i = 0; i < cfg->nnotes; i++)
        fprintf(o, "%s%s", i ? "; " : "note       accepted, not modelled: ", cfg->notes[i]);
    if (cfg->nnotes)
        fputc('\n', o);

    fprintf(o, "\nstep time  %.3f us\n\n", us(res->step_time));
    fprintf(o, "%-13s %12s %12s %8s %12s %8s %12s %8s\n", "ranks", "finish(us)", "compute(us)",
            "%", "exp.comm(us)", "%", "idle(us)", "%");
    for (int r = 0; r < res->nranks;) { /* identical neighbours collapse into one row */
        int e = r;
        while (e + 1 < res->nranks && same_stats(&res->ranks[r], &res->ranks[e + 1]))
            e++;
        const loom_rank_stats *s = &res->ranks[r];
        char label[32];
        if (e > r)
            snprintf(label, sizeof label, "%d-%d", r, e);
        else
            snprintf(label, sizeof label, "%d", r);
        fprintf(o, "%-13s %12.3f %12.3f %8.1f %12.3f %8.1f %12.3f %8.1f\n", label, us(s->finish),
                us(s->compute), pct(s->compute, s->finish), us(s->exposed_comm),
                pct(s->exposed_comm, s->finish), us(s->idle), pct(s->idle, s->finish));
        r = e + 1;
    }

    if (res->ncolls) {
        /* per collective type: count, bytes, time (start to end) */
        uint64_t cnt[ET_COLL_TYPES] = {0}, bytes[ET_COLL_TYPES] = {0};
        sim_time t[ET_COLL_TYPES] = {0};
        for (size_t k = 0; k < res->ncolls; k++) {
            const loom_coll_record *c = &res->colls[k];
            cnt[c->type]++;
            bytes[c->type] += c->bytes;
            t[c->type] += c->end - c->start;
        }
        fprintf(o, "\n%-16s %8s %16s %14s\n", "collective", "count", "bytes/rank", "time(us)");
        for (int ty = 0; ty < ET_COLL_TYPES; ty++)
            if (cnt[ty])
                fprintf(o, "%-16s %8llu %16llu %14.3f\n", et_coll_type_name(ty),
                        (unsigned long long)cnt[ty], (unsigned long long)bytes[ty], us(t[ty]));
    }
    if (res->p2p_messages)
        fprintf(o, "\npoint-to-point messages: %llu\n", (unsigned long long)res->p2p_messages);
    if (res->roofline_fallbacks)
        fprintf(o, "\n%llu compute node%s had no num_ops and kept their trace duration\n",
                (unsigned long long)res->roofline_fallbacks, res->roofline_fallbacks == 1 ? "" : "s");
    fprintf(o, "\nsim        %llu events, %.3f s wall, %.1f MB peak RSS\n",
            (unsigned long long)res->events, res->wall_seconds, res->peak_rss_bytes / 1e6);
}

/* ---- atomic output -------------------------------------------------------- */

int loom_write_atomic(const char *path, int (*fn)(FILE *f, void *arg), void *arg, loom_err *err)
{
    size_t n = strlen(path);
    char *tmp = loom_xmalloc(n + 16);
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        loom_err_set(err, LOOM_EIO, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return LOOM_EIO;
    }
    FILE *f = fdopen(fd, "w");
    int rc = f ? fn(f, arg) : -1;
    if (f && fflush(f) != 0)
        rc = -1;
    int saved = errno;
    if (f ? fclose(f) != 0 : close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0) {
        saved = errno;
        rc = -1;
    }
    if (rc != 0) {
        unlink(tmp);
        loom_err_set(err, LOOM_EIO, "%s: cannot write: %s", path, strerror(saved ? saved : EIO));
        free(tmp);
        return LOOM_EIO;
    }
    free(tmp);
    return 0;
}

/* ---- JSON ----------------------------------------------------------------- */

static json_t *jreal(sim_time t) { return json_real(ns(t)); }

static int dump_json(FILE *f, void *arg)
{
    return json_dumpf((json_t *)arg, f, JSON_INDENT(1) | JSON_REAL_PRECISION(15)) == 0 &&
                   fputc('\n', f) != EOF
               ? 0
               : -1;
}

int loom_report_json(const char *path, const loom_run_info *info, const loom_cfg *cfg,
                     const loom_result *res, loom_err *err)
{
    (void)cfg;
    json_t *root = json_object();
    json_object_set_new(root, "workload", json_string(info->workload));
    json_object_set_new(root, "network", json_string(info->network));
    json_object_set_new(root, "system", json_string(info->system));
    json_object_set_new(root, "step_time_ns", jreal(res->step_time));
    json_t *ranks = json_array();
    for (int r = 0; r < res->nranks; r++) {
        const loom_rank_stats *s = &res->ranks[r];
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer(r));
        json_object_set_new(o, "finish_ns", jreal(s->finish));
        json_object_set_new(o, "compute_ns", jreal(s->compute));
        json_object_set_new(o, "comm_ns", jreal(s->comm));
        json_object_set_new(o, "exposed_comm_ns", jreal(s->exposed_comm));
        json_object_set_new(o, "cpu_ns", jreal(s->cpu));
        json_object_set_new(o, "mem_ns", jreal(s->mem));
        json_object_set_new(o, "idle_ns", jreal(s->idle));
        json_object_set_new(o, "nodes", json_integer((json_int_t)s->nodes));
        json_array_append_new(ranks, o);
    }
    json_object_set_new(root, "ranks", ranks);
    json_t *colls = json_array();
    for (size_t k = 0; k < res->ncolls; k++) {
        const loom_coll_record *c = &res->colls[k];
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(et_coll_type_name(c->type)));
        json_object_set_new(o, "bytes", json_integer((json_int_t)c->bytes));
        json_object_set_new(o, "ranks", json_integer(c->nranks));
        json_object_set_new(o, "group", json_string(c->group));
        json_object_set_new(o, "seq", json_integer((json_int_t)c->seq));
        json_object_set_new(o, "algorithm", json_string(c->algo));
        json_object_set_new(o, "first_join_ns", jreal(c->first_join));
        json_object_set_new(o, "start_ns", jreal(c->start));
        json_object_set_new(o, "end_ns", jreal(c->end));
        json_array_append_new(colls, o);
    }
    json_object_set_new(root, "collectives", colls);
    json_object_set_new(root, "p2p_messages", json_integer((json_int_t)res->p2p_messages));
    json_t *sim = json_object();
    json_object_set_new(sim, "events", json_integer((json_int_t)res->events));
    json_object_set_new(sim, "queue_high_water", json_integer((json_int_t)res->queue_high));
    json_object_set_new(sim, "distinct_traces", json_integer(res->distinct_graphs));
    json_object_set_new(sim, "wall_seconds", json_real(res->wall_seconds));
    json_object_set_new(sim, "peak_rss_bytes", json_integer(res->peak_rss_bytes));
    json_object_set_new(root, "sim", sim);
    int rc = loom_write_atomic(path, dump_json, root, err);
    json_decref(root);
    return rc;
}
