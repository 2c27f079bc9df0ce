/*
 * cmd_compare.c: `loom compare`: collective algorithms side by side.
 *
 *   loom compare --workload PREFIX --network NET --system SYS [options]
 *       replays the workload once per algorithm (loom_cfg_load + loom_replay)
 *       and prints step time, exposed communication and, per collective
 *       type, time, algbw and busbw;
 *   loom compare --collective OP --sizes A..B --ranks N --network NET
 *       times one collective per size per algorithm, nccl-tests style.
 *
 * Bandwidths follow nccl-tests (its doc/PERFORMANCE.md): algbw = size /
 * time, busbw = algbw x 2(n-1)/n (all-reduce), x (n-1)/n (all-gather,
 * reduce-scatter, all-to-all), x 1 (broadcast, reduce), with size the
 * whole buffer (an all-gather's output, a reduce-scatter's input) and
 * GB/s = 10^9 bytes/s.  The CSV is written to OUT.tmp and renamed.
 */
#include "cmds.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "config.h"
#include "et_graph.h"
#include "net_topo.h"
#include "outfile.h"
#include "replay.h"
#include "report.h"

#define MAX_ALGOS 16

static void compare_help(FILE *o)
{
    fputs("usage: loom compare --workload PREFIX --network NET --system SYS [options]\n"
          "       loom compare --collective OP --sizes A..B --network NET [options]\n"
          "\n"
          "Runs the same communication once per collective algorithm and prints one\n"
          "table.  A workload is replayed in full (its compute too); a collective is\n"
          "timed alone for each size.\n"
          "\n"
          "workload mode:\n"
          "  -w, --workload PREFIX     traces PREFIX.0.et .. PREFIX.<N-1>.et\n"
          "  -n, --network FILE        network file: ASTRA-sim's form or an explicit\n"
          "                            fabric (docs/NETWORK.md); GB/s = 2^30 bytes/s, ns\n"
          "  -s, --system FILE         ASTRA-sim system JSON/YAML (docs/CONFIG.md)\n"
          "  -g, --comm-group FILE     communicators {\"name\": [ranks...]}\n"
          "      --set KEY=VALUE       override a setting (as loom run), repeatable\n"
          "  prints per algorithm: step time (us), exposed communication (us, mean\n"
          "  over ranks) and per collective type: count, total time (us), algbw and\n"
          "  busbw (GB/s, 10^9 bytes/s).\n"
          "\n"
          "collective mode:\n"
          "  -c, --collective OP       all_reduce, all_gather, reduce_scatter,\n"
          "                            all_to_all, broadcast, reduce\n"
          "  -S, --sizes LIST          bytes per collective as nccl-tests counts them\n"
          "                            (the whole buffer: all-gather output,\n"
          "                            reduce-scatter input): A..B doubles from A to B,\n"
          "                            or A,B,C; suffixes K/KiB=2^10, M/MiB=2^20,\n"
          "                            G/GiB=2^30, KB=10^3, MB=10^6, GB=10^9\n"
          "  -r, --ranks N             the first N ranks of the network (default all)\n"
          "  -n, --network FILE        as above\n"
          "  -s, --system FILE         optional; without it: 1 chunk, no endpoint delay,\n"
          "                            reductions not charged (local-mem-bw unlimited)\n"
          "  prints for each algorithm nccl-tests-style rows: size (B), time (us),\n"
          "  algbw and busbw (GB/s), then the times side by side.\n"
          "\n"
          "both:\n"
          "  -a, --algorithms LIST     comma-separated, from: ring (one direction), ring2\n"
          "                            (both directions), direct, hd (halving-doubling),\n"
          "                            dbt (double binary tree), hierarchical (ring per\n"
          "                            dimension: RS in node, AR across, AG in node),\n"
          "                            staggered (all-to-all rounds), nccl (NCCL 2.20's\n"
          "                            tuner: Ring/Tree x LL/LL128/Simple), lists (the\n"
          "                            system file's own per-dimension lists).\n"
          "                            Default: ring,direct,hd,dbt,hierarchical,nccl\n"
          "  -m, --model KIND          analytical or flow (also --network-model, as in\n"
          "                            loom run; default: the system file's\n"
          "                            network-model, else analytical)\n"
          "      --csv OUT             also write the table as CSV\n"
          "  -q, --quiet               no warnings on stderr\n"
          "  -h, --help                this help\n",
          o);
}

/* ---- sizes ------------------------------------------------------------- */

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || !(v >= 0))
        return -1;
    static const struct {
        const char *suf;
        double mul;
    } units[] = {{"", 1},           {"B", 1},           {"K", 1024.0},     {"KiB", 1024.0},
                 {"M", 1048576.0},  {"MiB", 1048576.0}, {"G", 1073741824.0}, {"GiB", 1073741824.0},
                 {"KB", 1e3},       {"MB", 1e6},        {"GB", 1e9}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suf) == 0) {
            double b = v * units[i].mul;
            if (b != floor(b) || b > 1e18)
                return -1;
            *out = (uint64_t)b;
            return 0;
        }
    return -1;
}

/* "A..B" (doubling) or "A,B,C"; returns the count, -1 on error */
static int parse_sizes(const char *s, uint64_t **out)
{
    int n = 0, cap = 64;
    uint64_t *v = loom_xmalloc(cap * sizeof *v);
    const char *dots = strstr(s, "..");
    if (dots) {
        char a[64];
        size_t la = (size_t)(dots - s);
        uint64_t lo, hi;
        if (la >= sizeof a)
            goto bad;
        memcpy(a, s, la);
        a[la] = '\0';
        if (parse_size(a, &lo) < 0 || parse_size(dots + 2, &hi) < 0 || lo == 0 || hi < lo)
            goto bad;
        for (uint64_t x = lo; x <= hi; x *= 2) {
            if (n == cap)
                v = loom_xrealloc(v, (cap *= 2) * sizeof *v);
            v[n++] = x;
            if (x > UINT64_MAX / 2)
                break;
        }
    } else {
        char *copy = loom_xstrdup(s), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            uint64_t x;
            if (parse_size(t, &x) < 0) {
                free(copy);
                goto bad;
            }
            if (n == cap)
                v = loom_xrealloc(v, (cap *= 2) * sizeof *v);
            v[n++] = x;
        }
        free(copy);
        if (n == 0)
            goto bad;
    }
    *out = v;
    return n;
bad:
    free(v);
    return -1;
}

/* ---- collectives: names and bandwidth factors --------------------------- */

static const struct {
    const char *name;
    net_coll op;
} ops[] = {
    {"all_reduce", NET_ALL_REDUCE},     {"all_gather", NET_ALL_GATHER},
    {"reduce_scatter", NET_REDUCE_SCATTER}, {"all_to_all", NET_ALL_TO_ALL},
    {"broadcast", NET_BROADCAST},       {"reduce", NET_REDUCE},
};

static int parse_algos(const char *list, net_calgo *out)
{
    int n = 0;
    char *copy = loom_xstrdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        net_calgo a;
        if (n == MAX_ALGOS) {
            fprintf(stderr, "loom: error: compare: --algorithms: at most %d\n", MAX_ALGOS);
            free(copy);
            return -1;
        }
        if (net_calgo_parse(t, &a) < 0) {
            fprintf(stderr, "loom: error: compare: unknown algorithm '%s' (ring, ring2, direct, hd, dbt, "
                            "hierarchical, staggered, nccl, lists)\n", t);
            free(copy);
            return -1;
        }
        out[n++] = a;
    }
    free(copy);
    return n;
}

/* ---- CSV (outfile.h: checked before any timing, put into place at the end) */

typedef struct csv {
    loom_outset *set; /* NULL when no CSV was asked for */
    loom_out *o;      /* the CSV stream */
} csv;

/* Checks --csv against the inputs (the network, system and comm-group
 * files, the workload's rank traces) and opens it. */
static int csv_open(csv *c, const char *path, const char *header, const loom_cfg_files *files,
                    const char *workload, loom_err *err)
{
    c->set = NULL;
    c->o = NULL;
    if (path == NULL)
        return 0;
    c->set = loom_outset_create();
    loom_outset_add(c->set, path, "--csv");
    loom_outset_input(c->set, files->network, "the network file");
    loom_outset_input(c->set, files->system, "the system file");
    loom_outset_input(c->set, files->comm_group, "the comm-group file");
    loom_outset_input(c->set, files->remote_mem, "the remote-memory file");
    char rp[4200];
    struct stat st;
    int k;
    for (int r = 0; workload && (k = et_rank_stat(workload, r, rp, sizeof rp, &st)) >= 0; r++)
        if (k == 0) /* else its reader reports it */
            loom_outset_input_stat(c->set, rp, &st, "the rank trace");
    if (loom_outset_check(c->set, err) < 0 || (c->o = loom_outset_stream(c->set, 0, err)) == NULL) {
        loom_outset_free(c->set);
        c->set = NULL;
        return err->code;
    }
    loom_out_printf(c->o, "%s\n", header);
    return 0;
}

/* ok: put the CSV into place; else remove it.  Frees c's contents. */
static int csv_close(csv *c, int ok, loom_err *err)
{
    if (c->set == NULL)
        return 0;
    int rc = 0;
    if (!ok)
        loom_out_abort(c->o);
    else if ((rc = loom_out_commit(c->o, err)) == 0)
        rc = loom_outset_commit(c->set, err);
    loom_outset_free(c->set);
    c->set = NULL;
    return rc;
}

/* ---- workload mode ------------------------------------------------------- */

typedef struct per_type {
    int count;
    double time_ps;  /* sum of durations */
    double size;     /* sum of nccl-tests sizes */
    double bus_size; /* sum of size x bus factor */
} per_type;

static int compare_workload(const char *workload, loom_cfg_files *files, const net_calgo *algos,
                            int nalgos, int model, const char *csv_path)
{
    loom_err err = {0};
    csv c;
    if (csv_open(&c, csv_path,
                 "algorithm,model,step_time_us,exposed_comm_us,collective,count,time_us,"
                 "algbw_GBps,busbw_GBps", files, workload, &err) < 0)
        return loom_fail(&err);
    per_type pt[MAX_ALGOS][NET_COLLS];
    double step[MAX_ALGOS], exposed[MAX_ALGOS];
    const char *mname[MAX_ALGOS];
    memset(pt, 0, sizeof pt);
    int rc = 0;
    for (int a = 0; a < nalgos && rc == 0; a++) {
        loom_cfg cfg;
        if (loom_cfg_load(&cfg, files, &err) < 0) {
            rc = loom_fail(&err);
            break;
        }
        cfg.sys.calgo = algos[a];
        if (model >= 0)
            cfg.sys.model = (net_model_kind)model;
        mname[a] = cfg.sys.model == NET_MODEL_FLOW ? "flow" : "analytical";
        loom_replay_opts ro = {.prefix = workload, .max_stuck = 8};
        loom_result res;
        if (loom_replay(&cfg, &ro, &res, &err) < 0) {
            loom_cfg_free(&cfg);
            rc = loom_fail(&err);
            break;
        }
        step[a] = (double)res.step_time;
        double ex = 0;
        for (int r = 0; r < res.nranks; r++)
            ex += (double)res.ranks[r].exposed_comm;
        exposed[a] = res.nranks ? ex / res.nranks : 0;
        for (size_t i = 0; i < res.ncolls; i++) {
            const loom_coll_record *cr = &res.colls[i];
            if (cr->type < 0 || cr->type >= NET_COLLS)
                continue;
            per_type *p = &pt[a][cr->type];
            double sz = loom_coll_size(cr->type, cr->bytes, cr->nranks);
            double wt = cr->weight ? (double)cr->weight : 1; /* instances it stands for */
            p->count += cr->weight ? cr->weight : 1;
            p->time_ps += (double)(cr->end - cr->start) * wt;
            p->size += sz * wt;
            p->bus_size += sz * loom_busbw_factor(cr->type, cr->nranks) * wt;
        }
        loom_result_free(&res);
        loom_cfg_free(&cfg);
    }
    if (rc != 0) {
        csv_close(&c, 0, &err);
        return rc;
    }
    /* the table: one row per algorithm; per collective type present: time,
     * algbw, busbw */
    int present[NET_COLLS] = {0};
    for (int a = 0; a < nalgos; a++)
        for (int t = 0; t < NET_COLLS; t++)
            present[t] |= pt[a][t].count > 0;
    printf("loom compare: %s on %s (%s), model %s\n", workload, files->network, files->system,
           mname[0]);
    printf("%-13s %14s %14s", "algorithm", "step (us)", "exposed (us)");
    for (int t = 0; t < NET_COLLS; t++)
        if (present[t])
            printf(" | %-34.34s", net_coll_name((net_coll)t));
    printf("\n%-13s %14s %14s", "", "", "mean/rank");
    for (int t = 0; t < NET_COLLS; t++)
        if (present[t])
            printf(" | %5s %12s %7s %7s", "n", "time (us)", "algbw", "busbw");
    printf("\n");
    for (int a = 0; a < nalgos; a++) {
        printf("%-13s %14.3f %14.3f", net_calgo_name(algos[a]), step[a] / 1e6, exposed[a] / 1e6);
        for (int t = 0; t < NET_COLLS; t++) {
            if (!present[t])
                continue;
            const per_type *p = &pt[a][t];
            double alg = p->time_ps > 0 ? p->size / (p->time_ps * 1e-12) / 1e9 : 0;
            double bus = p->time_ps > 0 ? p->bus_size / (p->time_ps * 1e-12) / 1e9 : 0;
            printf(" | %5d %12.3f %7.2f %7.2f", p->count, p->time_ps / 1e6, alg, bus);
            if (c.o)
                loom_out_printf(c.o, "%s,%s,%.6f,%.6f,%s,%d,%.6f,%.6f,%.6f\n", net_calgo_name(algos[a]),
                        mname[a], step[a] / 1e6, exposed[a] / 1e6, net_coll_name((net_coll)t),
                        p->count, p->time_ps / 1e6, alg, bus);
        }
        printf("\n");
    }
    printf("time: sum over the type's collectives of (end - start); algbw = size / time,\n"
           "busbw = algbw x 2(n-1)/n (all-reduce), (n-1)/n (all-gather, reduce-scatter,\n"
           "all-to-all), 1 (others); size as nccl-tests; GB/s = 10^9 bytes/s\n");
    if (csv_close(&c, 1, &err) < 0)
        return loom_fail(&err);
    return 0;
}

/* ---- collective mode ----------------------------------------------------- */

/* Collective mode's results: t[a * nsz + k] is algorithm a's time (ps)
 * at size k over n ranks. */
typedef struct ctimes {
    const char *opname; /* as given */
    int op;             /* net_coll */
    uint64_t *sz;       /* sizes, bytes as nccl-tests counts them */
    int nsz;            /* sizes */
    int n;              /* ranks */
    double *t;          /* nalgos x nsz times, ps */
} ctimes;

/* Times every algorithm at every size on the first ranks of the network;
 * returns 0 or an exit code. */
static int time_sizes(ctimes *ct, const net_topo *topo, const net_sys *sys, int ranks,
                      const net_calgo *algos, int nalgos)
{
    loom_err err = {0};
    int rc = 0;
    for (int a = 0; a < nalgos && rc == 0; a++) {
        net_sys s = *sys;
        s.calgo = algos[a];
        net_model *m = net_model_create(topo, &s, &err);
        if (m == NULL)
            return loom_fail(&err);
        ct->n = ranks > 0 ? ranks : net_npus(m);
        net_group *g = NULL;
        if (ct->n > net_npus(m) || ct->n < 1) {
            char msg[160];
            snprintf(msg, sizeof msg, "%d: the network has %d NPUs", ranks, net_npus(m));
            rc = loom_usage("compare", "--ranks %s", msg);
        } else {
            int *all = loom_xmalloc((size_t)ct->n * sizeof *all);
            for (int i = 0; i < ct->n; i++)
                all[i] = i;
            g = net_group_create(m, all, ct->n, &err);
            free(all);
            if (g == NULL)
                rc = loom_fail(&err);
        }
        for (int k = 0; rc == 0 && k < ct->nsz; k++) {
            uint64_t bytes = ct->op == NET_ALL_GATHER ? ct->sz[k] / (uint64_t)ct->n : ct->sz[k];
            ct->t[a * ct->nsz + k] =
                (double)net_coll_time(m, g, (net_coll)ct->op, bytes, 0xffffffffu);
        }
        net_group_destroy(g);
        net_model_destroy(m);
    }
    return rc;
}

/* Prints the per-algorithm tables and the side-by-side one, and the CSV
 * rows when c has a file. */
static void print_sizes(const ctimes *ct, const char *network, const char *mn,
                        const net_calgo *algos, int nalgos, csv *c)
{
    double bf = loom_busbw_factor(ct->op, ct->n);
    int nsz = ct->nsz;
    printf("# loom compare: %s on %d ranks of %s, model %s\n", ct->opname, ct->n, network, mn);
    printf("# size: the whole buffer, as nccl-tests; algbw = size/time; busbw = algbw x "
           "%.4g; GB/s = 10^9 bytes/s\n", bf);
    for (int a = 0; a < nalgos; a++) {
        printf("#\n# algorithm %s\n#%15s %14s %10s %10s\n#%15s %14s %10s %10s\n",
               net_calgo_name(algos[a]), "size", "time", "algbw", "busbw", "(B)", "(us)",
               "(GB/s)", "(GB/s)");
        for (int k = 0; k < nsz; k++) {
            double tt = ct->t[a * nsz + k];
            double alg = tt > 0 ? (double)ct->sz[k] / (tt * 1e-12) / 1e9 : 0;
            printf(" %15llu %14.3f %10.3f %10.3f\n", (unsigned long long)ct->sz[k], tt / 1e6,
                   alg, alg * bf);
            if (c->o)
                loom_out_printf(c->o, "%s,%s,%s,%d,%llu,%.6f,%.6f,%.6f\n",
                                net_calgo_name(algos[a]), mn, ct->opname, ct->n,
                                (unsigned long long)ct->sz[k], tt / 1e6, alg, alg * bf);
        }
    }
    printf("#\n# time (us) side by side\n#%15s", "size (B)");
    for (int a = 0; a < nalgos; a++)
        printf(" %13s", net_calgo_name(algos[a]));
    printf(" %13s\n", "fastest");
    for (int k = 0; k < nsz; k++) {
        printf(" %15llu", (unsigned long long)ct->sz[k]);
        int best = 0;
        for (int a = 0; a < nalgos; a++) {
            printf(" %13.3f", ct->t[a * nsz + k] / 1e6);
            if (ct->t[a * nsz + k] < ct->t[best * nsz + k])
                best = a;
        }
        printf(" %13s\n", net_calgo_name(algos[best]));
    }
}

static int compare_collective(const char *opname, const char *sizes, int ranks,
                              loom_cfg_files *files, const net_calgo *algos, int nalgos,
                              int model, const char *csv_path)
{
    loom_err err = {0};
    ctimes ct = {.opname = opname, .op = -1};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(opname, ops[i].name) == 0)
            ct.op = (int)ops[i].op;
    if (ct.op < 0)
        return loom_usage("compare", "unknown collective '%s' (all_reduce, all_gather, reduce_scatter, "
                     "all_to_all, broadcast, reduce)", opname);
    ct.nsz = parse_sizes(sizes, &ct.sz);
    if (ct.nsz < 0)
        return loom_usage("compare", "--sizes '%s': expected A..B or A,B,C with B, K, KiB, M, MiB, G, GiB, KB, "
                     "MB or GB", sizes);
    if (files->system == NULL && (files->nsets > 0 || files->comm_group)) {
        /* without a system file only the network file is read: a --set or
         * a comm-group file would be silently ignored */
        free(ct.sz);
        return loom_usage("compare", "%s", "--set and --comm-group need --system in collective "
                          "mode (without it only the network file is read)");
    }
    csv c;
    if (csv_open(&c, csv_path, "algorithm,model,collective,ranks,size_B,time_us,"
                               "algbw_GBps,busbw_GBps", files, NULL, &err) < 0) {
        free(ct.sz);
        return loom_fail(&err);
    }
    net_topo topo;
    net_sys sys;
    loom_cfg cfg;
    int have_cfg = 0;
    if (files->system) {
        if (loom_cfg_load(&cfg, files, &err) < 0) {
            csv_close(&c, 0, &err);
            free(ct.sz);
            return loom_fail(&err);
        }
        have_cfg = 1;
        topo = cfg.topo;
        sys = cfg.sys;
    } else {
        if (net_topo_load_file(files->network, &topo, &err) < 0) {
            csv_close(&c, 0, &err);
            free(ct.sz);
            return loom_fail(&err);
        }
        /* no system file: one chunk, no endpoint delay, reductions free */
        memset(&sys, 0, sizeof sys);
        sys.splits = sys.active_chunks = 1;
        sys.local_mem_bw = 1e300;
    }
    if (model >= 0)
        sys.model = (net_model_kind)model;
    ct.t = loom_xcalloc((size_t)nalgos * (size_t)ct.nsz, sizeof *ct.t);
    int rc = time_sizes(&ct, &topo, &sys, ranks, algos, nalgos);
    if (rc == 0) {
        print_sizes(&ct, files->network, sys.model == NET_MODEL_FLOW ? "flow" : "analytical",
                    algos, nalgos, &c);
        if (csv_close(&c, 1, &err) < 0)
            rc = loom_fail(&err);
    } else {
        csv_close(&c, 0, &err);
    }
    if (have_cfg)
        loom_cfg_free(&cfg);
    free(ct.t);
    free(ct.sz);
    return rc;
}

/* Called from main.c for `loom compare ...`; argv[0] is "compare". */
int loom_cmd_compare(int argc, char **argv)
{
    enum { O_CSV = 256, O_SET };
    static const struct option opts[] = {
        {"workload", required_argument, NULL, 'w'},
        {"network", required_argument, NULL, 'n'},
        {"system", required_argument, NULL, 's'},
        {"comm-group", required_argument, NULL, 'g'},
        {"collective", required_argument, NULL, 'c'},
        {"sizes", required_argument, NULL, 'S'},
        {"ranks", required_argument, NULL, 'r'},
        {"algorithms", required_argument, NULL, 'a'},
        {"model", required_argument, NULL, 'm'},
        {"network-model", required_argument, NULL, 'm'}, /* loom run's spelling */
        {"csv", required_argument, NULL, O_CSV},
        {"set", required_argument, NULL, O_SET},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    loom_cfg_files files = {0};
    const char *workload = NULL, *coll = NULL, *sizes = NULL, *alist = NULL, *csv_path = NULL;
    const char **sets = loom_xcalloc((size_t)argc + 1, sizeof *sets);
    int nsets = 0, ranks = 0, model = -1, ch, rc;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":w:n:s:g:c:S:r:a:m:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'w': workload = optarg; break;
        case 'n': files.network = optarg; break;
        case 's': files.system = optarg; break;
        case 'g': files.comm_group = optarg; break;
        case 'c': coll = optarg; break;
        case 'S': sizes = optarg; break;
        case 'r': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > INT_MAX) {
                free(sets);
                return loom_usage("compare", "--ranks '%s': expected a positive integer", optarg);
            }
            ranks = (int)v;
            break;
        }
        case 'a': alist = optarg; break;
        case 'm':
            if (strcmp(optarg, "analytical") == 0)
                model = NET_MODEL_ANALYTICAL;
            else if (strcmp(optarg, "flow") == 0)
                model = NET_MODEL_FLOW;
            else {
                free(sets);
                return loom_usage("compare", "--model '%s': expected analytical or flow", optarg);
            }
            break;
        case O_CSV: csv_path = optarg; break;
        case O_SET: sets[nsets++] = optarg; break;
        case 'q': loom_set_quiet(1); break;
        case 'h': compare_help(stdout); free(sets); return 0;
        case ':': free(sets); return loom_usage("compare", "option '%s' needs a value", argv[optind - 1]);
        default: free(sets); return loom_usage("compare", "unknown option '%s'", argv[optind - 1]);
        }
    }
    files.sets = sets;
    files.nsets = nsets;
    net_calgo algos[MAX_ALGOS];
    int nalgos;
    if (optind < argc)
        rc = loom_usage("compare", "unexpected argument '%s'", argv[optind]);
    else if (files.network == NULL)
        rc = loom_usage("compare", "%s", "needs --network");
    else if ((workload == NULL) == (coll == NULL))
        rc = loom_usage("compare", "%s", "needs exactly one of --workload (with --system) and --collective "
                         "(with --sizes)");
    else if ((nalgos = parse_algos(alist ? alist : "ring,direct,hd,dbt,hierarchical,nccl",
                                   algos)) < 0)
        rc = -LOOM_EUSAGE;
    else if (workload) {
        if (files.system == NULL)
            rc = loom_usage("compare", "%s", "--workload needs --system");
        else
            rc = compare_workload(workload, &files, algos, nalgos, model, csv_path);
    } else if (sizes == NULL)
        rc = loom_usage("compare", "%s", "--collective needs --sizes");
    else
        rc = compare_collective(coll, sizes, ranks, &files, algos, nalgos, model, csv_path);
    free(sets);
    return rc;
}
