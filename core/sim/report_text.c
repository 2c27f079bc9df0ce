/*
 * report_text.c: the text report on stdout (docs/REPORT.md, "Text
 * report"): inputs, step time, the per-rank table (its columns are the
 * LOOM_SHOW_TEXT entries of loom_rank_fields), the costliest collective
 * kinds, congested links and run statistics.
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>

#include "et_graph.h"

static double pct(sim_time part, sim_time whole)
{
    return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Ranks agree when every LOOM_SHOW_GROUP field does. */
static int cmp_group(const loom_rank_stats *x, const loom_rank_stats *y)
{
    for (int k = 0; k < loom_nrank_fields; k++) {
        const loom_rank_field *f = &loom_rank_fields[k];
        if (!(f->show & LOOM_SHOW_GROUP))
            continue;
        int c = rpt_cmp(loom_rank_value(f, x), loom_rank_value(f, y));
        if (c)
            return c;
    }
    return 0;
}

/* Ranks with identical figures form one row, labelled with their ranks as
 * ranges ("0-7,16-23"); rows in order of their first rank.  O(R log R). */
static const loom_result *sort_res; /* qsort has no context argument */
static int cmp_stats(const void *a, const void *b)
{
    int c = cmp_group(&sort_res->ranks[*(const int *)a], &sort_res->ranks[*(const int *)b]);
    if (c)
        return c;
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

static int cmp_first(const void *a, const void *b)
{
    const int *x = a, *y = b; /* {first rank, start, end} in the sorted order */
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* "0-7,16-23" for the ranks ord[from..to), cut at 40 characters. */
static void group_label(char *label, size_t size, const int *ord, int from, int to)
{
    size_t off = 0;
    int count = to - from;
    label[0] = '\0';
    for (int k = from; k < to && off < 40;) {
        int e = k;
        while (e + 1 < to && ord[e + 1] == ord[e] + 1)
            e++;
        if (e > k)
            off += snprintf(label + off, size - off, "%s%d-%d", off ? "," : "", ord[k], ord[e]);
        else
            off += snprintf(label + off, size - off, "%s%d", off ? "," : "", ord[k]);
        k = e + 1;
        if (k < to && off >= 40)
            snprintf(label + 40, size - 40, "..(%d)", count);
    }
}

static void print_rank_head(FILE *o)
{
    fprintf(o, "%-16s", "ranks");
    for (int k = 0; k < loom_nrank_fields; k++) {
        const loom_rank_field *f = &loom_rank_fields[k];
        if (!(f->show & LOOM_SHOW_TEXT))
            continue;
        char head[32];
        snprintf(head, sizeof head, "%s(us)", f->text);
        fprintf(o, " %12s", head);
        if (f->show & LOOM_SHOW_TEXT_PCT)
            fprintf(o, " %6s", "%");
    }
    fputc('\n', o);
}

static void print_rank_row(FILE *o, const char *label, const loom_rank_stats *s)
{
    fprintf(o, "%-16s", label);
    for (int k = 0; k < loom_nrank_fields; k++) {
        const loom_rank_field *f = &loom_rank_fields[k];
        if (!(f->show & LOOM_SHOW_TEXT))
            continue;
        loom_fval v = loom_rank_value(f, s);
        if (v.kind == LOOM_FK_COUNT)
            fprintf(o, " %12llu", (unsigned long long)v.u);
        else
            fprintf(o, " %12.3f", rpt_us(v.t));
        if (f->show & LOOM_SHOW_TEXT_PCT)
            fprintf(o, " %6.1f", pct(v.kind == LOOM_FK_COUNT ? 0 : v.t, s->finish));
    }
    fputc('\n', o);
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
        while (j < n && cmp_group(&res->ranks[ord[i]], &res->ranks[ord[j]]) == 0)
            j++;
        grp[ng][0] = ord[i]; /* ranks ascend within a group: the first is the least */
        grp[ng][1] = i;
        grp[ng][2] = j;
        ng++;
        i = j;
    }
    qsort(grp, ng, sizeof *grp, cmp_first);
    print_rank_head(o);
    for (int gi = 0; gi < ng; gi++) {
        char label[64];
        group_label(label, sizeof label, ord, grp[gi][1], grp[gi][2]);
        print_rank_row(o, label, &res->ranks[grp[gi][0]]);
        if (gi == 31 && ng > 33) {
            fprintf(o, "... %d more groups of ranks (--csv lists every rank)\n", ng - 32);
            break;
        }
    }
    free(grp);
    free(ord);
}

/* Collectives with the same type, size, communicator size and algorithm
 * form one row (a kind, report_sum.c); rows by exposed time, the costliest
 * first.  Times are per instance, except the exposed total. */
static void print_collectives(FILE *o, const loom_result *res)
{
    rpt_kind *rows;
    size_t nr = rpt_coll_kinds(res, &rows);
    fprintf(o, "\ncollectives by kind, most exposed first (mean and p99: transfer time per "
               "instance; exposed: total over the count instances; algbw, busbw at the mean "
               "time as nccl-tests: GB/s = 10^9 B/s)\n");
    fprintf(o, "%-15s %8s %12s %6s %-36s %12s %12s %14s %9s %9s\n", "type", "count", "bytes/rank",
            "ranks", "algorithm", "mean(us)", "p99(us)", "exposed(us)", "algbw", "busbw");
    for (size_t r = 0; r < nr && r < 10; r++) {
        const rpt_kind *w = &rows[r];
        double t = w->time.mean / SIM_PS_PER_NS; /* ns */
        double alg = t > 0 ? loom_coll_size(w->type, w->bytes, w->nranks) / t : 0;
        fprintf(o, "%-15s %8llu %12llu %6d %-36s %12.3f %12.3f %14.3f %9.2f %9.2f\n",
                et_coll_type_name(w->type), (unsigned long long)w->count, (unsigned long long)w->bytes,
                w->nranks, w->algo, t / 1000.0, rpt_us(w->time.p99), rpt_us(w->exposed), alg,
                alg * loom_busbw_factor(w->type, w->nranks));
    }
    if (nr > 10)
        fprintf(o, "... %zu more kinds (--csv-collectives lists every collective)\n", nr - 10);
    free(rows);
}

void loom_report_text(FILE *o, const loom_run_info *info, const loom_cfg *cfg,
                      const loom_result *res)
{
    fprintf(o, "workload   %s (%d rank%s, %d distinct trace file%s, %llu nodes)\n", info->workload,
            res->nranks, res->nranks == 1 ? "" : "s", res->distinct_graphs, res->distinct_graphs == 1 ? "" : "s",
            (unsigned long long)res->nodes);
    fprintf(o, "network    %s:", info->network);
    for (int d = 0; d < cfg->topo.ndims; d++) {
        const net_dim *dim = &cfg->topo.dims[d];
        fprintf(o, "%s %s %d x %.4g GB/s (2^30 B/s) %.4g ns", d ? "," : "", net_dim_kind_name(dim->kind),
                dim->npus, dim->bw / 1073741824.0, rpt_ns(dim->latency));
    }
    const char *attn = rpt_attention(cfg);
    fprintf(o, "\nsystem     %s: %d split%s, %d active chunk%s, endpoint delay %.4g ns, "
               "local memory %.4g GB/s, compute model %s%s%s\n",
            info->system, cfg->sys.splits, cfg->sys.splits == 1 ? "" : "s", cfg->sys.active_chunks,
            cfg->sys.active_chunks == 1 ? "" : "s", rpt_ns(cfg->sys.endpoint_delay),
            cfg->sys.local_mem_bw / 1e9, comp_kind_name(cfg->comp.kind), attn ? ", attention " : "",
            attn ? attn : "");
    if (cfg->stack_name) /* a stack profile: one line, absent otherwise */
        fprintf(o, "stack      %s: compute times x %.4g (docs/VALIDATION.md)\n", cfg->stack_name,
                cfg->stack_scale);
    if (cfg->step_overhead) /* step-overhead-us: one line, absent otherwise */
        fprintf(o, "overhead   %.1f us a step after each rank's last node (step-overhead-us), "
                   "in every finish and the step time\n", rpt_us(cfg->step_overhead));
    fprintf(o, "model      network %s (%s)%s%s\n", rpt_net_model(cfg->sys.model),
            cfg->sys.model == NET_MODEL_FLOW ? "congestion-aware: flows share links"
                                             : "congestion-unaware: no link sharing",
            cfg->sys.astra_timing && cfg->sys.model == NET_MODEL_ANALYTICAL
                ? ", ASTRA-sim's whole-ns rounding (timing: astra-sim)"
                : "",
            cfg->comm_captured ? "; communication captured (each collective and message "
                                 "takes its traced duration)"
                               : "");
    if (cfg->sys.phase_overlap > 0) /* phase-overlap: one line, absent at 0 */
        fprintf(o, "phases     %.4g%% of a collective's other phases' transfers overlap its slowest "
                   "(phase-overlap, MODEL.md 7)%s\n",
                100 * cfg->sys.phase_overlap,
                cfg->sys.model == NET_MODEL_FLOW ? "; not in the flow model, which runs them in turn"
                                                 : "");
    int neff = 0; /* comm-efficiency, when on: one line */
    for (int d = 0; d < cfg->topo.ndims; d++)
        if (cfg->sys.eff[d])
            fprintf(o, "%s%s on dimension %d",
                    neff++ ? ", " : "bandwidth  NCCL's achieved (comm-efficiency, NETWORK.md 9): ",
                    net_eff_name(cfg->sys.eff[d]), d);
    if (neff)
        fputc('\n', o);
    for (int i = 0; i < cfg->nnotes; i++)
        fprintf(o, "%s%s", i ? "; " : "note       accepted, not modelled: ", cfg->notes[i]);
    if (cfg->nnotes)
        fputc('\n', o);

    fprintf(o, "\nstep time  %.3f us\n\n", rpt_us(res->step_time));
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
                    (unsigned long long)l->bytes, rpt_us(l->busy), rpt_us(l->saturated), l->peak_flows);
        }
    }
    if (res->p2p_messages)
        fprintf(o, "\npoint-to-point messages: %llu\n", (unsigned long long)res->p2p_messages);
    if (cfg->host_launch) /* the host (docs/MODEL.md): absent when not modelled */
        fprintf(o, "\nhost       %.4g us a GPU launch (host-launch-us): %llu launches, the GPU "
                   "waited for %llu of them (host-bound)\n", rpt_us(cfg->host_launch),
                (unsigned long long)res->host_launches, (unsigned long long)res->host_waits);
    if (res->sms_timed) { /* communication beside compute (docs/MODEL.md 12) */
        double comp = 0;
        for (int r = 0; r < res->nranks; r++)
            comp += (double)res->ranks[r].compute;
        double st = (double)res->sms_stretch;
        char what[64]; /* the key, or (0) only the collectives' own attributes */
        if (cfg->comm_sms)
            snprintf(what, sizeof what, "%d SMs a collective in flight", cfg->comm_sms);
        else
            snprintf(what, sizeof what, "SMs as each collective's comm_sms says");
        fprintf(o, "\ncomm SMs   %s (comm-sms, or its comm_sms): compute %.3f us longer a "
                   "rank, %.1f%% of its compute\n", what, rpt_us(res->sms_stretch) / res->nranks,
                comp > 0 ? 100 * st / comp : 0.0);
    }
    if (res->roofline_fallbacks)
        fprintf(o, "\n%llu compute node%s had no num_ops and kept their trace duration\n",
                (unsigned long long)res->roofline_fallbacks, res->roofline_fallbacks == 1 ? "" : "s");
    fprintf(o, "\nsim        %llu events, %.3f s wall, %.1f MB peak RSS; ",
            (unsigned long long)res->events, res->wall_seconds, res->peak_rss_bytes / 1e6);
    if (res->collapse_off[0]) /* docs/MODEL.md 13 */
        fprintf(o, "every rank replayed (%s)\n", res->collapse_off);
    else
        fprintf(o, "%d of %d ranks replayed, the others alike (symmetry)%s\n",
                res->simulated_ranks, res->nranks,
                res->collapse_alone ? "; some classes broke into single ranks" : "");
}
