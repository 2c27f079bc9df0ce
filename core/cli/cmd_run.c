/*
 * cmd_run.c: `loom run`, replaying a workload on a network and system
 * configuration.  Options are parsed with getopt_long (glibc); ASTRA-sim's
 * long option spellings are accepted so its run scripts work by renaming
 * the binary (main.c also sends an ASTRA-sim command line with no
 * subcommand here).
 */
#include "cmds.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cliutil.h"
#include "config.h"
#include "et_graph.h"
#include "net_topo.h"
#include "outfile.h"
#include "progress.h"
#include "report.h"
#include "timeline.h"

static void run_help(FILE *o)
{
    fputs("usage: loom run --workload PREFIX --network NET --system SYS [options]\n"
          "\n"
          "Replays PREFIX.<rank>.et (or .et.gz) for every NPU of the network and prints\n"
          "the step time and, per rank, finish time, compute, exposed communication and\n"
          "idle time.\n"
          "\n"
          "required:\n"
          "  -w, --workload PREFIX     trace files PREFIX.0.et .. PREFIX.<N-1>.et\n"
          "  -n, --network FILE        ASTRA-sim network YAML: topology, npus_count,\n"
          "                            bandwidth (GB/s, GB = 2^30 bytes), latency (ns);\n"
          "                            or ns-3's config.txt or topology file (flow model)\n"
          "  -s, --system FILE         ASTRA-sim system JSON/YAML (docs/CONFIG.md); its\n"
          "                            *-implementation-custom: [PREFIX] runs that Chakra-\n"
          "                            defined algorithm (docs/NETWORK.md 4.7)\n"
          "options:\n"
          "  -g, --comm-group FILE     communicators: {\"name\": [ranks...], ...}; a node's\n"
          "                            pg_name picks one (\"\" or \"0\" = all ranks)\n"
          "      --remote-memory FILE  ASTRA-sim remote memory JSON: memory nodes use\n"
          "                            PER_NPU_/PER_NODE_MEMORY_EXPANSION or MEMORY_POOL\n"
          "                            (docs/CONFIG.md); NO_MEMORY_EXPANSION: local-mem-bw\n"
          "      --logical-topology-configuration FILE  ns-3: {\"logical-dims\": [...]}\n"
          "      --htsim_opts -topo FILE  htsim's fat tree by tiers, instead of --network\n"
          "  -j, --json OUT            write the report as JSON (docs/REPORT.md): per-rank\n"
          "                            figures (one object per rank up to 1,024 ranks;\n"
          "                            beyond, min/p50/p99/max/mean and the slowest\n"
          "                            ranks) and the collectives summed by kind\n"
          "      --json-detail         --json also lists every rank and every collective\n"
          "                            instance (large: millions of objects at scale;\n"
          "                            replays every rank, see --no-collapse)\n"
          "      --reproducible        JSON with wall time, peak RSS, events and queue\n"
          "                            depth as 0, so the same run gives a byte-identical\n"
          "                            file, with or without --no-collapse\n"
          "      --no-collapse         replay every rank; by default ranks that replay\n"
          "                            alike are replayed once (docs/MODEL.md 13; the\n"
          "                            results are identical, the report's sim line says\n"
          "                            how many ranks ran)\n"
          "      --csv OUT             one CSV row per rank (times in ns)\n"
          "      --csv-collectives OUT one CSV row per collective (times in ns, GB/s)\n"
          "      --timeline OUT        Chrome trace-event JSON (Perfetto, chrome://tracing);\n"
          "                            gzip-compressed when OUT ends in .gz\n"
          "      --set KEY=VALUE       override a setting, repeatable; KEY is\n"
          "                            network.<key>[i] or system.<key>, e.g.\n"
          "                            --set network.bandwidth[0]=100\n"
          "                            --set system.preferred-dataset-splits=8\n"
          "      --ignore-ctrl-deps    only data_deps gate readiness\n"
          "      --strict              refuse a trace whose ctrl_deps close a cycle (by\n"
          "                            default loom drops those edges and warns once)\n"
          "      --network-model KIND  analytical (default; ASTRA-sim's congestion-unaware\n"
          "                            analytical backend: each transfer has its links to\n"
          "                            itself) or flow (congestion-aware: flows share links\n"
          "                            max-min fairly; docs/NETWORK.md); overrides the\n"
          "                            system file's network-model\n"
          "      --compute-scale X     compute node times x X (ASTRA-sim's flag; X > 0)\n"
          "      --comm-scale X        collective and send sizes x X (ASTRA-sim's flag)\n"
          "      --logging-folder DIR  also write what stdout carries (the report, or\n"
          "                            ASTRA-sim's log) to DIR/log.log; DIR is created\n"
          "      --logging-configuration FILE, --num-queues-per-dim N,\n"
          "      --rendezvous-protocol[=BOOL], --injection-scale X\n"
          "                            ASTRA-sim's flags, not modelled: a value other than\n"
          "                            ASTRA-sim's default is named in the report's note\n"
          "  -q, --quiet               no warnings and no progress line on stderr\n"
          "      --astra-log           ASTRA-sim's log lines on stdout (sys[N] finished, ...,\n"
          "                            Wall time, Comm time; ns), the report on stderr\n"
          "  -h, --help                this help\n"
          "\n"
          "Every OUT is checked before the run (its folder exists; no OUT is another or\n"
          "an input) and all are put into place together when the run succeeds; a link\n"
          "is written through, '-' is standard output (the text report then goes to\n"
          "standard error), a FIFO or device is written directly (docs/CLI.md).\n"
          "\n"
          "ASTRA-sim spellings are accepted: --workload-configuration,\n"
          "--network-configuration, --system-configuration,\n"
          "--remote-memory-configuration, --comm-group-configuration, and the\n"
          "front-end flags above; a command line starting with them (no 'run')\n"
          "prints ASTRA-sim's log, as --astra-log, and rounds as ASTRA-sim does\n"
          "(system key timing: astra-sim; --set system.timing=loom to keep loom's).\n"
          "Units: times are printed in us, JSON times in ns.\n",
          o);
}

/* ASTRA-sim's front-end flags (docs/CLI.md): the scales and the network
 * model are applied, the rest become notes unless at their default. */
typedef struct astra_flags {
    const char *logcfg, *logdir, *queues, *rdv, *inject; /* as given, or NULL */
    double compute_scale, comm_scale;                    /* 0: not given */
    int model;                                           /* net_model_kind, or -1 */
} astra_flags;

static int is_bool(const char *s)
{
    return !strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "1") || !strcmp(s, "0");
}

static void astra_apply(loom_cfg *cfg, const astra_flags *af)
{
    char note[600];
    cfg->compute_scale = af->compute_scale;
    cfg->comm_scale = af->comm_scale;
    if (af->model >= 0)
        cfg->sys.model = (net_model_kind)af->model;
    if (af->logcfg && strcmp(af->logcfg, "empty") != 0) {
        snprintf(note, sizeof note, "--logging-configuration %.400s (loom has no spdlog)", af->logcfg);
        loom_cfg_add_note(cfg, note);
    }
    const char *const flag[] = {"--num-queues-per-dim", "--rendezvous-protocol", "--injection-scale"};
    const char *const val[] = {af->queues, af->rdv, af->inject};
    for (int i = 0; i < 3; i++) {
        char *end;
        if (val[i] == NULL || (i == 1 ? strcmp(val[i], "false") == 0 || strcmp(val[i], "0") == 0
                                      : strtod(val[i], &end) == 1 && *end == '\0'))
            continue; /* ASTRA-sim's default: nothing to model */
        snprintf(note, sizeof note, "%s %.100s", flag[i], val[i]);
        loom_cfg_add_note(cfg, note);
    }
}

/* --logging-folder's log.log: what standard output carries, as ASTRA-sim's
 * log file repeats its console (ASTRA-sim's log lines, or the text report) */
typedef struct text_job {
    const loom_run_info *info;
    const loom_cfg *cfg;
    const loom_result *res;
    int astra; /* ASTRA-sim's log lines, not the text report */
} text_job;

static int write_text(FILE *f, void *arg)
{
    const text_job *t = arg;
    if (t->astra)
        loom_report_astra(f, t->cfg, t->res);
    else
        loom_report_text(f, t->info, t->cfg, t->res);
    return 0;
}

/* The files a run reads, which no output may be: the configuration files
 * and every rank trace (PREFIX.<r>.et or .et.gz, as replay finds them). */
static void run_inputs(loom_outset *outs, const char *workload, const loom_cfg_files *files)
{
    loom_outset_input(outs, files->network, "the network file");
    loom_outset_input(outs, files->system, "the system file");
    loom_outset_input(outs, files->comm_group, "the comm-group file");
    loom_outset_input(outs, files->remote_mem, "the remote-memory file");
    loom_outset_input(outs, files->logical, "the logical topology file");
    loom_outset_input(outs, files->htsim_topo, "the htsim topology file");
    char path[4200];
    if (files->network && net_ns3_topology_file(files->network, path, sizeof path))
        loom_outset_input(outs, path, "the ns-3 topology file");
    struct stat st;
    int k;
    for (int r = 0; (k = et_rank_stat(workload, r, path, sizeof path, &st)) >= 0; r++)
        if (k == 0) /* else its reader reports it */
            loom_outset_input_stat(outs, path, &st, "the rank trace");
}

/* 1 while an ASTRA-sim command line runs: its log is the default (main.c) */
static int astra_cmdline;

int loom_cmd_run_astra(int argc, char **argv)
{
    astra_cmdline = 1;
    int rc = loom_cmd_run(argc, argv);
    astra_cmdline = 0;
    return rc;
}

/* What `loom run`'s command line asks for. */
typedef struct run_args {
    loom_cfg_files files;       /* configuration files; sets point into argv */
    const char *workload;       /* trace prefix */
    const char *json, *csv, *csvc, *timeline; /* outputs, or NULL */
    const char **sets;          /* --set values (argc entries allocated) */
    int nsets;                  /* used */
    int repro, quiet, astra;    /* --reproducible, -q, ASTRA-sim's log */
    int detail;                 /* --json-detail */
    int no_collapse;            /* --no-collapse */
    int noctrl;                 /* --ignore-ctrl-deps */
    int strict;                 /* --strict */
    int topo_next;              /* --htsim_opts -topo: FILE is the next argument */
    astra_flags af;             /* ASTRA-sim's front-end flags */
} run_args;

enum { O_REMOTE = 256, O_SET, O_NOCTRL, O_CSV, O_CSVC, O_TIMELINE, O_REPRO, O_ASTRA, O_LOGCFG,
       O_LOGDIR, O_QUEUES, O_RDV, O_INJECT, O_CSCALE, O_MSCALE, O_NETMODEL, O_STRICT, O_DETAIL,
       O_NOCOLLAPSE };
enum { O_LOGICAL = 384, O_HTSIM }; /* ASTRA-sim's ns-3 and htsim front ends */
static const struct option run_opts[] = {
    {"workload", required_argument, NULL, 'w'},
    {"workload-configuration", required_argument, NULL, 'w'},
    {"network", required_argument, NULL, 'n'},
    {"network-configuration", required_argument, NULL, 'n'},
    {"system", required_argument, NULL, 's'},
    {"system-configuration", required_argument, NULL, 's'},
    {"comm-group", required_argument, NULL, 'g'},
    {"comm-group-configuration", required_argument, NULL, 'g'},
    {"remote-memory", required_argument, NULL, O_REMOTE},
    {"remote-memory-configuration", required_argument, NULL, O_REMOTE},
    {"json", required_argument, NULL, 'j'},
    {"set", required_argument, NULL, O_SET},
    {"ignore-ctrl-deps", no_argument, NULL, O_NOCTRL},
    {"strict", no_argument, NULL, O_STRICT},
    {"csv", required_argument, NULL, O_CSV},
    {"csv-collectives", required_argument, NULL, O_CSVC},
    {"timeline", required_argument, NULL, O_TIMELINE},
    {"reproducible", no_argument, NULL, O_REPRO},
    {"json-detail", no_argument, NULL, O_DETAIL},
    {"no-collapse", no_argument, NULL, O_NOCOLLAPSE},
    {"astra-log", no_argument, NULL, O_ASTRA},
    {"logical-topology-configuration", required_argument, NULL, O_LOGICAL},
    {"htsim_opts", required_argument, NULL, O_HTSIM},
    {"network-model", required_argument, NULL, O_NETMODEL},
    {"compute-scale", required_argument, NULL, O_CSCALE},
    {"comm-scale", required_argument, NULL, O_MSCALE},
    {"logging-configuration", required_argument, NULL, O_LOGCFG},
    {"logging-folder", required_argument, NULL, O_LOGDIR},
    {"num-queues-per-dim", required_argument, NULL, O_QUEUES},
    {"rendezvous-protocol", optional_argument, NULL, O_RDV}, /* a bare flag is true */
    {"injection-scale", required_argument, NULL, O_INJECT},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One option; returns -1 to go on, else the exit code to end with. */
static int run_opt(run_args *a, int c, int argc, char **argv)
{
    double dv;
    int iv;
    switch (c) {
    case 'w': a->workload = optarg; break;
    case 'n': a->files.network = optarg; break;
    case 's': a->files.system = optarg; break;
    case 'g': /* ASTRA-sim writes "empty" for no comm-group file */
        a->files.comm_group = strcmp(optarg, "empty") == 0 ? NULL : optarg;
        break;
    case O_REMOTE: a->files.remote_mem = optarg; break;
    case 'j': /* `run -j 4` meaning sweep's --jobs: refused, ./4 names such a file */
        a->json = optarg;
        if (optarg[strspn(optarg, "0123456789")] == '\0' && *optarg)
            return loom_usage("run", "-j/--json '%s' looks like a job count: in loom run, -j is "
                              "--json (the JSON report's file; loom sweep's -j is --jobs); "
                              "write ./N to name a file N", optarg);
        break;
    case O_SET: a->sets[a->nsets++] = optarg; break;
    case O_NOCTRL: a->noctrl = 1; break;
    case O_STRICT: a->strict = 1; break;
    case O_CSV: a->csv = optarg; break;
    case O_CSVC: a->csvc = optarg; break;
    case O_TIMELINE: a->timeline = optarg; break;
    case O_REPRO: a->repro = 1; break;
    case O_DETAIL: a->detail = 1; break;
    case O_NOCOLLAPSE: a->no_collapse = 1; break;
    case O_ASTRA: a->astra = 1; break;
    case O_LOGICAL: a->files.logical = optarg; break;
    case O_HTSIM: /* "-topo FILE": FILE is left as an argument; or "-topo=FILE" */
        if (strncmp(optarg, "-topo", 5) != 0 || (optarg[5] && !strchr("= ", optarg[5])))
            return loom_usage("run", "--htsim_opts '%s': loom reads only -topo FILE", optarg);
        a->files.htsim_topo = optarg[5] ? optarg + 6 : NULL;
        a->topo_next = !optarg[5];
        break;
    /* ASTRA-sim's flags: checked here, applied by astra_apply() */
    case O_NETMODEL:
        a->af.model = strcmp(optarg, "analytical") == 0 ? NET_MODEL_ANALYTICAL
                   : strcmp(optarg, "flow") == 0     ? NET_MODEL_FLOW : -1;
        if (a->af.model < 0)
            return loom_usage("run", "--network-model '%s': expected analytical or flow", optarg);
        break;
    case O_CSCALE:
    case O_MSCALE:
    case O_INJECT: {
        const char *nm = c == O_CSCALE ? "--compute-scale" : c == O_MSCALE ? "--comm-scale"
                                                                            : "--injection-scale";
        if (loom_opt_double("run", nm, optarg, 0, 1, 1e6, &dv) < 0)
            return loom_exit_code(LOOM_EUSAGE);
        if (c == O_CSCALE)
            a->af.compute_scale = dv;
        else if (c == O_MSCALE)
            a->af.comm_scale = dv;
        else
            a->af.inject = optarg;
        break;
    }
    case O_QUEUES:
        if (loom_opt_int("run", "--num-queues-per-dim", optarg, 1, 1 << 20, &iv) < 0)
            return loom_exit_code(LOOM_EUSAGE);
        a->af.queues = optarg;
        break;
    case O_RDV: /* cxxopts' bool: bare (true), =VALUE, or a following VALUE */
        if (optarg == NULL && optind < argc && is_bool(argv[optind]))
            optarg = argv[optind++];
        a->af.rdv = optarg ? optarg : "true";
        if (!is_bool(a->af.rdv))
            return loom_usage("run", "--rendezvous-protocol '%s': expected true or false", a->af.rdv);
        break;
    case O_LOGCFG: a->af.logcfg = optarg; break;
    case O_LOGDIR: a->af.logdir = optarg; break;
    case 'q': loom_set_quiet(1); a->quiet = 1; break;
    case 'h': run_help(stdout); return 0; /* done: exit 0 */
    case ':': return loom_usage("run", "option '%s' needs a value", argv[optind - 1]);
    default: return loom_usage("run", "unknown option '%s'", argv[optind - 1]);
    }
    return -1;
}

/* Parses argv into a; returns -1 when the run should go on, else the exit
 * code to end with (help, a usage error). */
static int run_parse(run_args *a, int argc, char **argv)
{
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":w:n:s:g:j:qh", run_opts, NULL)) != -1)
        if ((rc = run_opt(a, c, argc, argv)) >= 0)
            return rc;
    if (a->topo_next && optind < argc)
        a->files.htsim_topo = argv[optind++];
    if (optind < argc || (a->topo_next && !a->files.htsim_topo)) {
        if (optind >= argc)
            return loom_usage("run", "%s", "--htsim_opts -topo needs a FILE");
        return loom_usage("run", "unexpected argument '%s'", argv[optind]);
    }
    if (!a->workload || !(a->files.network || a->files.htsim_topo) || !a->files.system)
        return loom_usage("run", "%s", "needs --workload, --network and --system");
    if (a->detail && !a->json)
        return loom_usage("run", "%s", "--json-detail needs --json OUT (it adds to that file)");
    return -1;
}

/* Output-set slots of `loom run`'s outputs (-1: not asked for). */
typedef struct run_keys { int json, csv, csvc, log; } run_keys;

/* Every report of a finished run, then the commit: the text report is
 * printed before it, so a report that cannot be printed leaves no file. */
static int write_reports(loom_outset *outs, const run_keys *k, const run_args *A,
                         const loom_run_info *info, const loom_cfg *cfg, const loom_result *res,
                         loom_err *err)
{
    int rc = 0;
    if (A->json)
        rc = loom_report_json_out(outs, k->json, info, cfg, res,
                                  (A->repro ? LOOM_JSON_REPRODUCIBLE : 0) |
                                      (A->detail ? LOOM_JSON_DETAIL : 0),
                                  err);
    if (rc == 0 && A->csv)
        rc = loom_report_csv_ranks_out(outs, k->csv, res, err);
    if (rc == 0 && A->csvc)
        rc = loom_report_csv_colls_out(outs, k->csvc, res, err);
    if (rc == 0 && k->log >= 0)
        rc = loom_outset_write(outs, k->log, write_text, &(text_job){info, cfg, res, A->astra}, err);
    if (rc != 0)
        return rc;
    /* standard output taken by an output: the text report goes beside the
     * progress line and the warnings */
    FILE *txt = loom_outset_stdout(outs) ? stderr : stdout;
    errno = 0;
    if (A->astra) { /* ASTRA-sim's log takes loom's place; the report moves aside */
        loom_report_astra(txt, cfg, res);
        loom_report_text(stderr, info, cfg, res);
    } else {
        loom_report_text(txt, info, cfg, res);
    }
    if (txt == stdout && (fflush(stdout) != 0 || ferror(stdout)))
        return loom_err_set(err, LOOM_EIO, "standard output: cannot write the report: %s",
                            strerror(errno ? errno : EIO));
    return loom_outset_commit(outs, err);
}

int loom_cmd_run(int argc, char **argv)
{
    run_args A = {.astra = astra_cmdline, .af = {.model = -1}};
    A.sets = loom_xcalloc((size_t)argc, sizeof *A.sets);
    int prc = run_parse(&A, argc, argv);
    if (prc >= 0) {
        free(A.sets);
        return prc;
    }
    loom_cfg_files files = A.files;
    const char *workload = A.workload, *json = A.json, *csv = A.csv, *csvc = A.csvc,
               *timeline = A.timeline;
    const char **sets = A.sets;
    int quiet = A.quiet, noctrl = A.noctrl;
    astra_flags af = A.af;
    files.sets = sets;
    files.nsets = A.nsets;

    /* every output is checked before anything is loaded or simulated, and
     * all of them are put into place together at the end (outfile.h) */
    loom_err err = {0};
    loom_outset *outs = loom_outset_create();
    int kj = json ? loom_outset_add(outs, json, "--json") : -1;
    int kc = csv ? loom_outset_add(outs, csv, "--csv") : -1;
    int kcc = csvc ? loom_outset_add(outs, csvc, "--csv-collectives") : -1;
    int kt = timeline ? loom_outset_add(outs, timeline, "--timeline") : -1;
    char logpath[4200];
    int kl = -1;
    if (af.logdir) { /* ASTRA-sim creates its log folder; so does loom */
        if (mkdir(af.logdir, 0777) < 0 && errno != EEXIST) {
            loom_outset_free(outs);
            free(sets);
            loom_err_set(&err, LOOM_EIO, "--logging-folder %s: cannot create it: %s", af.logdir,
                         strerror(errno));
            return loom_fail(&err);
        }
        snprintf(logpath, sizeof logpath, "%s/log.log", af.logdir);
        kl = loom_outset_add(outs, logpath, "--logging-folder");
    }
    run_inputs(outs, workload, &files);
    if (loom_outset_check(outs, &err) < 0) {
        loom_outset_free(outs);
        free(sets);
        return loom_fail(&err);
    }
    loom_cfg cfg;
    if (loom_cfg_load(&cfg, &files, &err) < 0) {
        loom_outset_free(outs);
        free(sets);
        return loom_fail(&err);
    }
    cfg.ctrl_deps = !noctrl;
    cfg.strict_deps = A.strict;
    astra_apply(&cfg, &af);
    if (astra_cmdline && !cfg.timing_set) /* a drop-in prints ASTRA-sim's numbers */
        cfg.sys.astra_timing = 1;
    loom_observer obs = {0};
    loom_timeline *tl = NULL;
    if (timeline) {
        loom_out *o = loom_outset_stream(outs, kt, &err);
        if (o == NULL) {
            loom_outset_free(outs);
            loom_cfg_free(&cfg);
            free(sets);
            return loom_fail(&err);
        }
        tl = loom_timeline_open(o, 0);
        loom_timeline_observer(tl, &obs);
    }
    loom_progress *pg = quiet ? NULL : loom_progress_start();
    if (pg)
        loom_progress_observer(pg, &obs);
    loom_replay_opts ro = {.prefix = workload, .max_stuck = 8, .obs = &obs,
                           .no_collapse = A.no_collapse ? LOOM_COLLAPSE_OFF
                                          : A.detail || csvc ? LOOM_COLLAPSE_INSTANCES : 0};
    loom_result res;
    int rc = loom_replay(&cfg, &ro, &res, &err);
    int have_res = rc == 0; /* res is freed whatever fails after the replay */
    loom_progress_done(pg);
    if (tl) {
        if (rc == 0) /* the stack's time after each rank's last node */
            loom_timeline_overhead(tl, &res, cfg.step_overhead);
        int trc = loom_timeline_finish(tl, rc == 0, &err);
        if (rc == 0)
            rc = trc;
    }
    if (rc == 0) {
        loom_run_info info = {workload, files.htsim_topo ? files.htsim_topo : files.network,
                              files.system, files.comm_group};
        run_keys k = {kj, kc, kcc, kl};
        rc = write_reports(outs, &k, &A, &info, &cfg, &res, &err);
    }
    if (have_res)
        loom_result_free(&res);
    loom_outset_free(outs); /* after a failure: removes every temporary */
    loom_cfg_free(&cfg);
    free(sets);
    return rc < 0 ? loom_fail(&err) : 0;
}
