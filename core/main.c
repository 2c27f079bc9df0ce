/*
 * main.c: the loom command line.
 *
 *   loom run --workload PREFIX --network NET --system SYS [...]
 *   loom trace info PREFIX | loom trace validate PREFIX
 *
 * Options are parsed with getopt_long (glibc); ASTRA-sim's long option
 * spellings are accepted so its run scripts work by renaming the binary.
 * Exit codes (docs/CLI.md): 0 success, 1 internal error, 2 usage or
 * configuration error, 3 trace error, 4 simulation error (a stalled or
 * overflowing run), 5 output error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "et_check.h"
#include "report.h"
#include "sweep.h"
#include "wl.h"

#define LOOM_VERSION "0.1.0"

static int exit_code(int rc) { return rc < 0 ? -rc : rc; }

static int fail(const loom_err *err)
{
    fprintf(stderr, "loom: error: %s\n", err->msg[0] ? err->msg : "unknown error");
    return exit_code(err->code ? err->code : LOOM_EINTERNAL);
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "loom%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'loom%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return exit_code(LOOM_EUSAGE);
}

static void main_help(FILE *o)
{
    fputs("usage: loom <command> [options]\n"
          "\n"
          "loom simulates distributed ML training: it replays Chakra execution traces\n"
          "(one file per rank) on a modeled accelerator and network and reports the\n"
          "step time and where it went.\n"
          "\n"
          "commands:\n"
          "  run             replay a workload on a network and system configuration\n"
          "  trace info      summarize a workload's trace files\n"
          "  trace validate  check a workload's trace files; exit 0 only when clean\n"
          "  topo describe   counts, diameter and bisection of a network file\n"
          "  compare         collective algorithms side by side (a workload or one size sweep)\n"
          "  sweep           run many configurations in parallel, one CSV row each\n"
          "  gen             write traces: gen micro (one collective), gen llm (a\n"
          "                  Megatron-style training step)\n"
          "  devices         list the device catalog (peak FLOP/s, HBM, links)\n"
          "  trace convert-text  ASTRA-sim text workload to Chakra traces\n"
          "\n"
          "options:\n"
          "  -h, --help      show this help (also: loom <command> --help)\n"
          "  --version       print the version\n"
          "\n"
          "exit codes: 0 ok, 1 internal error, 2 usage/config error, 3 trace error,\n"
          "4 simulation error (deadlock, time overflow), 5 output error.\n",
          o);
}

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
          "                            bandwidth (GB/s, GB = 2^30 bytes), latency (ns)\n"
          "  -s, --system FILE         ASTRA-sim system JSON/YAML (docs/CONFIG.md)\n"
          "options:\n"
          "  -g, --comm-group FILE     communicators: {\"name\": [ranks...], ...}; a node's\n"
          "                            pg_name picks one (\"\" or \"0\" = all ranks)\n"
          "      --remote-memory FILE  ASTRA-sim remote memory JSON (NO_MEMORY_EXPANSION)\n"
          "  -j, --json OUT            write the full report as JSON (docs/REPORT.md)\n"
          "      --reproducible        JSON with wall time and peak RSS as 0, so the same\n"
          "                            run gives a byte-identical file\n"
          "      --csv OUT             one CSV row per rank (times in ns)\n"
          "      --csv-collectives OUT one CSV row per collective (times in ns, GB/s)\n"
          "      --timeline OUT        Chrome trace-event JSON (Perfetto, chrome://tracing);\n"
          "                            gzip-compressed when OUT ends in .gz\n"
          "      --set KEY=VALUE       override a setting, repeatable; KEY is\n"
          "                            network.<key>[i] or system.<key>, e.g.\n"
          "                            --set network.bandwidth[0]=100\n"
          "                            --set system.preferred-dataset-splits=8\n"
          "      --ignore-ctrl-deps    only data_deps gate readiness\n"
          "  -q, --quiet               no warnings and no progress line on stderr\n"
          "  -h, --help                this help\n"
          "\n"
          "ASTRA-sim spellings are accepted: --workload-configuration,\n"
          "--network-configuration, --system-configuration,\n"
          "--remote-memory-configuration, --comm-group-configuration.\n"
          "Units: times are printed in us, JSON times in ns.\n",
          o);
}

static int cmd_run(int argc, char **argv)
{
    enum { O_REMOTE = 256, O_SET, O_NOCTRL, O_CSV, O_CSVC, O_TIMELINE, O_REPRO };
    static const struct option opts[] = {
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
        {"csv", required_argument, NULL, O_CSV},
        {"csv-collectives", required_argument, NULL, O_CSVC},
        {"timeline", required_argument, NULL, O_TIMELINE},
        {"reproducible", no_argument, NULL, O_REPRO},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    loom_cfg_files files = {0};
    const char *workload = NULL, *json = NULL, *csv = NULL, *csvc = NULL, *timeline = NULL;
    int repro = 0, quiet = 0;
    const char **sets = calloc(argc, sizeof *sets);
    int nsets = 0, noctrl = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":w:n:s:g:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'w': workload = optarg; break;
        case 'n': files.network = optarg; break;
        case 's': files.system = optarg; break;
        case 'g': /* ASTRA-sim writes "empty" for no comm-group file */
            files.comm_group = strcmp(optarg, "empty") == 0 ? NULL : optarg;
            break;
        case O_REMOTE: files.remote_mem = optarg; break;
        case 'j': json = optarg; break;
        case O_SET: sets[nsets++] = optarg; break;
        case O_NOCTRL: noctrl = 1; break;
        case O_CSV: csv = optarg; break;
        case O_CSVC: csvc = optarg; break;
        case O_TIMELINE: timeline = optarg; break;
        case O_REPRO: repro = 1; break;
        case 'q': loom_set_quiet(1); quiet = 1; break;
        case 'h': run_help(stdout); free(sets); return 0;
        case ':': free(sets); return usage_error("run", "option '%s' needs a value", argv[optind - 1]);
        default: free(sets); return usage_error("run", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        free(sets);
        return usage_error("run", "unexpected argument '%s'", argv[optind]);
    }
    if (!workload || !files.network || !files.system) {
        free(sets);
        return usage_error("run", "%s", "needs --workload, --network and --system");
    }
    files.sets = sets;
    files.nsets = nsets;

    loom_err err = {0};
    loom_cfg cfg;
    if (loom_cfg_load(&cfg, &files, &err) < 0) {
        free(sets);
        return fail(&err);
    }
    cfg.ctrl_deps = !noctrl;
    loom_observer obs = {0};
    loom_timeline *tl = NULL;
    loom_progress *pg = quiet ? NULL : loom_progress_start();
    if (timeline) {
        if ((tl = loom_timeline_open(timeline, 0, &err)) == NULL) {
            loom_cfg_free(&cfg);
            free(sets);
            return fail(&err);
        }
        loom_timeline_observer(tl, &obs);
    }
    if (pg)
        loom_progress_observer(pg, &obs);
    loom_replay_opts ro = {.prefix = workload, .max_stuck = 8, .obs = &obs};
    loom_result res;
    int rc = loom_replay(&cfg, &ro, &res, &err);
    loom_progress_done(pg);
    if (tl) {
        int trc = loom_timeline_finish(tl, rc == 0, &err);
        if (rc == 0)
            rc = trc;
    }
    if (rc == 0) {
        loom_run_info info = {workload, files.network, files.system, files.comm_group};
        if (json)
            rc = loom_report_json(json, &info, &cfg, &res, repro, &err);
        if (rc == 0 && csv)
            rc = loom_report_csv_ranks(csv, &res, &err);
        if (rc == 0 && csvc)
            rc = loom_report_csv_colls(csvc, &res, &err);
        if (rc == 0)
            loom_report_text(stdout, &info, &cfg, &res);
        loom_result_free(&res);
    }
    loom_cfg_free(&cfg);
    free(sets);
    return rc < 0 ? fail(&err) : 0;
}

static void trace_help(FILE *o)
{
    fputs("usage: loom trace info PREFIX\n"
          "       loom trace validate PREFIX\n"
          "\n"
          "info      ranks, files (and how many are distinct), nodes per type,\n"
          "          collectives per type with bytes, sends and receives\n"
          "validate  every problem in every rank file, as FILE: node ID: PROBLEM;\n"
          "          exits 0 only when the traces are clean, 3 otherwise\n"
          "\n"
          "PREFIX names PREFIX.0.et, PREFIX.1.et, ... (.et.gz also read).\n",
          o);
}

static int cmd_trace(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        trace_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? exit_code(LOOM_EUSAGE) : 0;
    }
    if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        trace_help(stdout);
        return 0;
    }
    if (argc != 3)
        return usage_error("trace", "%s", "expects: info PREFIX | validate PREFIX");
    loom_err err = {0};
    if (strcmp(argv[1], "info") == 0) {
        if (et_info(argv[2], stdout, &err) < 0)
            return fail(&err);
        return 0;
    }
    if (strcmp(argv[1], "validate") == 0) {
        int n = et_validate(argv[2], stdout, &err);
        if (n < 0)
            return fail(&err);
        if (n > 0) {
            fprintf(stderr, "loom: %d problem%s found\n", n, n == 1 ? "" : "s");
            return exit_code(LOOM_ETRACE);
        }
        printf("%s: clean\n", argv[2]);
        return 0;
    }
    return usage_error("trace", "unknown subcommand '%s' (info, validate)", argv[1]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main_help(stderr);
        return exit_code(LOOM_EUSAGE);
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        main_help(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("loom %s\n", LOOM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "sweep") == 0)
        return loom_sweep_main(argc - 1, argv + 1);
    if (strcmp(cmd, "gen") == 0)
        return wl_cmd_gen(argc - 1, argv + 1);
    if (strcmp(cmd, "devices") == 0)
        return wl_cmd_devices(argc - 1, argv + 1);
    if (strcmp(cmd, "trace") == 0 && argc > 2 && strcmp(argv[2], "convert-text") == 0)
        return wl_cmd_convert_text(argc - 2, argv + 2);
    if (strcmp(cmd, "trace") == 0)
        return cmd_trace(argc - 1, argv + 1);
    if (strcmp(cmd, "topo") == 0) { int loom_cmd_topo(int, char **); return loom_cmd_topo(argc - 1, argv + 1); }
    if (strcmp(cmd, "compare") == 0) { int loom_cmd_compare(int, char **); return loom_cmd_compare(argc - 1, argv + 1); }
    /* an ASTRA-sim command line has no subcommand: treat it as run */
    if (strncmp(cmd, "--workload-configuration", 24) == 0)
        return cmd_run(argc, argv);
    return usage_error(NULL, "unknown command '%s'", cmd);
}
