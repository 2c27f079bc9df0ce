/*
 * cmd_gen.c: `loom gen` and `loom gen micro` (workloads/wl_micro.c);
 * `loom gen llm` is cmd_gen_llm.c.  Parsed with getopt_long; exit codes
 * follow docs/CLI.md: 2 for usage and configuration errors.
 */
#include "cmds.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "wl.h"
#include "wl_emit.h"
#include "wl_llm.h"

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

enum { O_NET = 256, O_SYS, O_TOPO, O_BW, O_LAT };
/* gen micro's options (also what a sweep recipe may name: loom_gen_options) */
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

static int gen_micro(int argc, char **argv)
{
    const char *cmd = "gen micro";
    wl_micro_opts o = {.coll = -1, .topology = "Ring", .bandwidth_gbs = 50, .latency_ns = 500};
    int have_size = 0, c, topo_given = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:b:r:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (wl_coll_parse(optarg, &o.coll) < 0)
                return loom_usage(cmd, "--collective '%s': expected all_reduce, all_gather, "
                             "reduce_scatter or all_to_all", optarg);
            break;
        case 'b':
            if (wl_parse_size(optarg, &o.size) < 0)
                return loom_usage(cmd, "--size '%s': expected a byte count such as 1048576, 1MiB, "
                             "4GiB or 100MB, at most 2^63-1 bytes", optarg);
            have_size = 1;
            break;
        case 'r':
            if (loom_opt_int(cmd, "--ranks", optarg, 1, 1 << 24, &o.ranks) < 0)
                return loom_exit_code(LOOM_EUSAGE);
            break;
        case 'o': o.out = optarg; break;
        case O_NET: o.network_out = optarg; break;
        case O_SYS: o.system_out = optarg; break;
        case O_TOPO:
            if (strcmp(optarg, "Ring") && strcmp(optarg, "Switch") && strcmp(optarg, "FullyConnected"))
                return loom_usage(cmd, "--topology '%s': expected Ring, Switch or FullyConnected", optarg);
            o.topology = optarg;
            topo_given = 1;
            break;
        case O_BW:
            if (loom_opt_double(cmd, "--bandwidth", optarg, 0, 1, 1e9, &o.bandwidth_gbs) < 0)
                return loom_exit_code(LOOM_EUSAGE);
            topo_given = 1;
            break;
        case O_LAT:
            if (loom_opt_double(cmd, "--latency", optarg, 0, 0, 1e12, &o.latency_ns) < 0)
                return loom_exit_code(LOOM_EUSAGE);
            topo_given = 1;
            break;
        case 'q': o.quiet = 1; break;
        case 'h': micro_help(stdout); return 0;
        case ':': return loom_usage(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return loom_usage(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return loom_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (o.coll < 0 || !have_size || o.ranks == 0 || o.out == NULL)
        return loom_usage(cmd, "%s", "needs --collective, --size, --ranks and --out");
    if (topo_given && !o.network_out)
        return loom_usage(cmd, "%s", "--topology, --bandwidth and --latency describe --network-out; "
                     "give --network-out FILE");
    loom_err err = {0};
    if (wl_micro_write(&o, &err) < 0)
        return loom_fail(&err);
    return 0;
}

const struct option *loom_gen_options(const char *generator)
{
    if (strcmp(generator, "micro") == 0)
        return opts;
    if (strcmp(generator, "llm") == 0)
        return loom_gen_llm_options();
    return NULL;
}

int loom_cmd_gen(int argc, char **argv)
{
    if (argc < 2)
        return loom_usage("gen", "%s", "expects a generator: micro or llm");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        gen_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "micro") == 0)
        return gen_micro(argc - 1, argv + 1);
    if (strcmp(argv[1], "llm") == 0)
        return loom_cmd_gen_llm(argc - 1, argv + 1);
    return loom_usage("gen", "unknown generator '%s' (micro, llm)", argv[1]);
}
