/*
 * wl_cli.c: the command lines of `loom gen`, `loom devices` and
 * `loom trace convert-text`, parsed with getopt_long (as core/main.c does).
 * Exit codes follow docs/CLI.md: 2 for usage and configuration errors.
 */
#include "wl.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp_dev.h"
#include "wl_emit.h"
#include "wl_llm.h"

static int exit_code(int rc) { return rc < 0 ? -rc : rc; }

static int fail(const loom_err *err)
{
    fprintf(stderr, "loom: error: %s\n", err->msg[0] ? err->msg : "unknown error");
    return exit_code(err->code ? err->code : LOOM_EINTERNAL);
}

static int usage(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "loom %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'loom %s --help'.\n", cmd);
    return exit_code(LOOM_EUSAGE);
}

/* Parses a positive (or >= 0) finite number for option `opt`. */
static int opt_double(const char *cmd, const char *opt, const char *s, double lo, int lo_open,
                      double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !isfinite(v) || (lo_open ? !(v > lo) : !(v >= lo)) ||
        !(v <= hi)) {
        fprintf(stderr, "loom %s: %s '%s': expected a number %s%g .. %g\nTry 'loom %s --help'.\n",
                cmd, opt, s, lo_open ? "> " : "", lo, hi, cmd);
        return -1;
    }
    *out = v;
    return 0;
}

static int opt_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "loom %s: %s '%s': expected an integer %ld .. %ld\nTry 'loom %s --help'.\n",
                cmd, opt, s, lo, hi, cmd);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* ---- gen ------------------------------------------------------------------ */

static void gen_help(FILE *o)
{
    fputs("usage: loom gen micro --collective OP --size BYTES --ranks N --out DIR/prefix [...]\n"
          "       loom gen llm --out DIR/prefix [--preset NAME | shape flags] [...]\n"
          "\n"
          "Writes Chakra traces PREFIX.<rank>.et that `loom run` replays.  Ranks that do\n"
          "the same work get byte-identical files, written once and hard-linked.\n"
          "\n"
          "generators:\n"
          "  micro   one collective on every rank (loom gen micro --help)\n"
          "  llm     a Megatron-style LLM training step: TP, PP, DP, SP, EP, ZeRO,\n"
          "          recomputation, 1F1B and interleaved schedules (loom gen llm --help)\n",
          o);
}

static void micro_help(FILE *o)
{
    fputs("usage: loom gen micro --collective OP --size BYTES --ranks N --out DIR/prefix\n"
          "                      [--network-out FILE [--topology T] [--bandwidth GBS]\n"
          "                       [--latency NS]] [--system-out FILE] [--quiet]\n"
          "\n"
          "One COMM_COLL_NODE per rank, over all ranks; every rank file is the same bytes\n"
          "(rank 0's file, hard-linked; copied where links are refused).\n"
          "\n"
          "required:\n"
          "  -c, --collective OP   all_reduce | all_gather | reduce_scatter | all_to_all\n"
          "  -b, --size BYTES      comm_size per rank: an integer with an optional unit,\n"
          "                        B, KiB/MiB/GiB/TiB (2^10 steps), K/M/G/T (the same),\n"
          "                        KB/MB/GB/TB (10^3 steps): 1MiB, 4GiB, 1048576.\n"
          "                        all_gather: each rank's contribution; reduce_scatter:\n"
          "                        the input buffer (as ASTRA-sim and docs/MODEL.md)\n"
          "  -r, --ranks N         ranks (1 .. 16777216)\n"
          "  -o, --out DIR/prefix  writes DIR/prefix.<rank>.et (DIR is created)\n"
          "options:\n"
          "      --network-out FILE  also write a one-dimension ASTRA-sim network YAML\n"
          "      --topology T        its shape: Ring (default), Switch, FullyConnected\n"
          "      --bandwidth GBS     its link bandwidth, GB/s with GB = 2^30 bytes\n"
          "                          (ASTRA-sim's unit); default 50\n"
          "      --latency NS        its per-hop latency, ns; default 500\n"
          "      --system-out FILE   also write a system JSON: local-mem-bw 1600 GB/s,\n"
          "                          endpoint-delay 10 ns, 1 split, ring everywhere\n"
          "  -q, --quiet             no summary line\n"
          "  -h, --help              this help\n",
          o);
}

static int gen_micro(int argc, char **argv)
{
    enum { O_NET = 256, O_SYS, O_TOPO, O_BW, O_LAT };
    static const struct option opts[] = {
        {"collective", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 'b'},
        {"ranks", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"network-out", required_argument, NULL, O_NET},
        {"system-out", required_argument, NULL, O_SYS},
        {"topology", required_argument, NULL, O_TOPO},
        {"bandwidth", required_argument, NULL, O_BW},
        {"latency", required_argument, NULL, O_LAT},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "gen micro";
    wl_micro_opts o = {.coll = -1, .topology = "Ring", .bandwidth_gbs = 50, .latency_ns = 500};
    int have_size = 0, c, topo_given = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:b:r:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (wl_coll_parse(optarg, &o.coll) < 0)
                return usage(cmd, "--collective '%s': expected all_reduce, all_gather, "
                             "reduce_scatter or all_to_all", optarg);
            break;
        case 'b':
            if (wl_parse_size(optarg, &o.size) < 0)
                return usage(cmd, "--size '%s': expected a byte count such as 1048576, 1MiB, "
                             "4GiB or 100MB, at most 2^63-1 bytes", optarg);
            have_size = 1;
            break;
        case 'r':
            if (opt_int(cmd, "--ranks", optarg, 1, 1 << 24, &o.ranks) < 0)
                return exit_code(LOOM_EUSAGE);
            break;
        case 'o': o.out = optarg; break;
        case O_NET: o.network_out = optarg; break;
        case O_SYS: o.system_out = optarg; break;
        case O_TOPO:
            if (strcmp(optarg, "Ring") && strcmp(optarg, "Switch") && strcmp(optarg, "FullyConnected"))
                return usage(cmd, "--topology '%s': expected Ring, Switch or FullyConnected", optarg);
            o.topology = optarg;
            topo_given = 1;
            break;
        case O_BW:
            if (opt_double(cmd, "--bandwidth", optarg, 0, 1, 1e9, &o.bandwidth_gbs) < 0)
                return exit_code(LOOM_EUSAGE);
            topo_given = 1;
            break;
        case O_LAT:
            if (opt_double(cmd, "--latency", optarg, 0, 0, 1e12, &o.latency_ns) < 0)
                return exit_code(LOOM_EUSAGE);
            topo_given = 1;
            break;
        case 'q': o.quiet = 1; break;
        case 'h': micro_help(stdout); return 0;
        case ':': return usage(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return usage(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (o.coll < 0 || !have_size || o.ranks == 0 || o.out == NULL)
        return usage(cmd, "%s", "needs --collective, --size, --ranks and --out");
    if (topo_given && !o.network_out)
        return usage(cmd, "%s", "--topology, --bandwidth and --latency describe --network-out; "
                     "give --network-out FILE");
    loom_err err = {0};
    if (wl_micro_write(&o, &err) < 0)
        return fail(&err);
    return 0;
}

int wl_cmd_gen(int argc, char **argv)
{
    if (argc < 2) {
        gen_help(stderr);
        return exit_code(LOOM_EUSAGE);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        gen_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "micro") == 0)
        return gen_micro(argc - 1, argv + 1);
    if (strcmp(argv[1], "llm") == 0)
        return wl_llm_cmd(argc - 1, argv + 1);
    return usage("gen", "unknown generator '%s' (micro, llm)", argv[1]);
}

/* ---- devices -------------------------------------------------------------- */

static void devices_help(FILE *o)
{
    char ubuf[1024];
    const char *user = comp_catalog_user_path(ubuf, sizeof ubuf);
    fprintf(o,
            "usage: loom devices [--devices FILE] [--sources]\n"
            "\n"
            "Lists the device catalog: dense peak FLOP/s per datatype (TFLOP/s, 10^12),\n"
            "HBM capacity (GiB, 2^30 bytes) and bandwidth (GB/s, 10^9 bytes/s), scale-up\n"
            "link bandwidth per direction (GB/s), and the roofline curve: the matrix\n"
            "efficiency (fraction of peak reached by large GEMMs) and the per-kernel\n"
            "overhead (us).  '-' marks a datatype the device does not have.\n"
            "\n"
            "Catalog files, later ones replacing same-named devices (docs/DEVICES.md):\n"
            "  built-in  %s\n"
            "            ($LOOM_DEVICE_CATALOG replaces it)\n"
            "  user      %s (if present)\n"
            "\n"
            "options:\n"
            "  -d, --devices FILE  read this catalog file last\n"
            "  -s, --sources       also print each device's datasheet and curve sources\n"
            "  -h, --help          this help\n",
            comp_catalog_builtin_path(), user ? user : "(no $HOME)");
}

int wl_cmd_devices(int argc, char **argv)
{
    static const struct option opts[] = {
        {"devices", required_argument, NULL, 'd'},
        {"sources", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *extra = NULL;
    int sources = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:sh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': extra = optarg; break;
        case 's': sources = 1; break;
        case 'h': devices_help(stdout); return 0;
        case ':': return usage("devices", "option '%s' needs a value", argv[optind - 1]);
        default: return usage("devices", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage("devices", "unexpected argument '%s'", argv[optind]);
    loom_err err = {0};
    comp_catalog *cat = comp_catalog_load(extra, &err);
    if (cat == NULL)
        return fail(&err);
    printf("%-10s %8s %8s %8s %8s %8s %7s %8s %8s %6s %8s  %s\n", "device", "FP32", "TF32",
           "FP16", "BF16", "FP8", "HBM", "HBM", "link", "matrix", "overhead", "description");
    printf("%-10s %8s %8s %8s %8s %8s %7s %8s %8s %6s %8s\n", "", "TFLOP/s", "TFLOP/s", "TFLOP/s",
           "TFLOP/s", "TFLOP/s", "GiB", "GB/s", "GB/s/dir", "eff", "us");
    for (size_t i = 0; i < comp_catalog_count(cat); i++) {
        const comp_device *d = comp_catalog_at(cat, i);
        printf("%-10s", d->name);
        for (int t = 0; t < COMP_DTYPES; t++) {
            if (d->peak[t] > 0)
                printf(" %8.6g", d->peak[t] / 1e12);
            else
                printf(" %8s", "-");
        }
        printf(" %7.6g %8.6g %8.6g", d->mem_bytes / 1073741824.0, d->mem_bw / 1e9, d->link_bw / 1e9);
        if (d->matrix_eff > 0)
            printf(" %6.3f %8.3g", d->matrix_eff, d->matrix_overhead * 1e6);
        else
            printf(" %6s %8s", "-", "-");
        printf("  %s\n", d->description);
        if (sources) {
            printf("    figures: %s\n", d->source);
            if (d->eff_source)
                printf("    curves:  %s\n", d->eff_source);
            printf("    from:    %s\n", d->file);
        }
    }
    printf("catalog:");
    for (size_t i = 0; i < comp_catalog_files(cat); i++)
        printf(" %s", comp_catalog_file(cat, i));
    printf("\n");
    comp_catalog_free(cat);
    return 0;
}

/* ---- trace convert-text --------------------------------------------------- */

static void text_help(FILE *o)
{
    fputs("usage: loom trace convert-text FILE --ranks N --out DIR/prefix [--passes N]\n"
          "                                [--time-scale X] [--quiet]\n"
          "\n"
          "Converts an ASTRA-sim 1.0 text workload (first line the parallelism: MICRO,\n"
          "DATA, MODEL, HYBRID_DATA_MODEL, HYBRID_MODEL_DATA, HYBRID_TRANSFORMER,\n"
          "HYBRID_DLRM; second line the layer count; then per layer: name, reserved,\n"
          "forward time, type, bytes, input-gradient time, type, bytes, weight-gradient\n"
          "time, type, bytes, update delay) into Chakra traces PREFIX.<rank>.et, with the\n"
          "dependencies of Chakra's converter (docs/WORKLOADS.md).  Ranks with the same\n"
          "program share one file through hard links.  A HYBRID_* file whose first line\n"
          "has \"model_parallel_NPU_group: G\" also gets PREFIX.comm.json (pass it with\n"
          "--comm-group).\n"
          "\n"
          "required:\n"
          "  FILE                  the text workload\n"
          "  -r, --ranks N         NPUs (1 .. 16777216)\n"
          "  -o, --out DIR/prefix  output prefix (DIR is created)\n"
          "options:\n"
          "  -p, --passes N        training iterations to write (default 1)\n"
          "  -t, --time-scale X    microseconds per time unit of the file (default 1, as\n"
          "                        Chakra's converter: times taken as microseconds;\n"
          "                        0.001 for ASTRA-sim 1.0's cycles at 1 GHz)\n"
          "  -q, --quiet           no summary line\n"
          "  -h, --help            this help\n",
          o);
}

int wl_cmd_convert_text(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ranks", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"passes", required_argument, NULL, 'p'},
        {"time-scale", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "trace convert-text";
    wl_text_opts o = {.passes = 1, .time_scale = 1};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:o:p:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (opt_int(cmd, "--ranks", optarg, 1, 1 << 24, &o.ranks) < 0)
                return exit_code(LOOM_EUSAGE);
            break;
        case 'o': o.out = optarg; break;
        case 'p':
            if (opt_int(cmd, "--passes", optarg, 1, 1 << 20, &o.passes) < 0)
                return exit_code(LOOM_EUSAGE);
            break;
        case 't':
            if (opt_double(cmd, "--time-scale", optarg, 0, 1, 1e12, &o.time_scale) < 0)
                return exit_code(LOOM_EUSAGE);
            break;
        case 'q': o.quiet = 1; break;
        case 'h': text_help(stdout); return 0;
        case ':': return usage(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return usage(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return usage(cmd, "%s", optind < argc ? "expects one FILE" : "needs the text workload FILE");
    o.in = argv[optind];
    if (o.ranks == 0 || o.out == NULL)
        return usage(cmd, "%s", "needs --ranks and --out");
    loom_err err = {0};
    if (wl_text_convert(&o, &err) < 0)
        return fail(&err);
    return 0;
}
