/*
 * cmd_convert_text.c: `loom trace convert-text`, an ASTRA-sim text workload
 * to Chakra traces (workloads/wl_text.c).
 */
#include "cmds.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "wl.h"

/* ---- trace convert-text --------------------------------------------------- */

static void text_help(FILE *o)
{
    fputs("usage: loom trace convert-text FILE --ranks N --out DIR/prefix [--passes N]\n"
          "                                [--time-scale X] [--quiet]\n"
          "       loom trace convert-text [Text] --input FILE --output PREFIX --num-npus N\n"
          "                                [--num-passes N]   (Chakra's converter's spelling)\n"
          "\n"
          "Converts an ASTRA-sim 1.0 text workload (first line the parallelism: MICRO,\n"
          "DATA, MODEL, HYBRID_DATA_MODEL, HYBRID_MODEL_DATA, HYBRID_TRANSFORMER,\n"
          "HYBRID_TRANSFORMER_FWD_IN_BCKWD (recomputes the forward from checkpoint\n"
          "layers), HYBRID_CUSTOMIZED (a 13th column: each layer's DATA, MODEL,\n"
          "HYBRID_DATA_MODEL or HYBRID_MODEL_DATA), HYBRID_DLRM; second line the layer\n"
          "count; then per layer: name, reserved,\n"
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
          "  -h, --help            this help\n"
          "Chakra's converter's spellings are accepted too: --input FILE (or\n"
          "--input_filename), --output (--output_filename) for --out, --num-npus\n"
          "(--num_npus) for --ranks, --num-passes (--num_passes) for --passes, and\n"
          "--input_type Text; --num-dims (--num_dims) and --log-filename\n"
          "(--log_filename) are accepted and not used (a warning says so: loom's\n"
          "traces do not depend on the dimensions, and it writes no log).\n",
          o);
}

int loom_cmd_convert_text(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ranks", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"passes", required_argument, NULL, 'p'},
        {"time-scale", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        /* Chakra's converter (chakra_converter Text ...; et_converter) */
        {"input", required_argument, NULL, 'i'},
        {"input_filename", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"output_filename", required_argument, NULL, 'o'},
        {"num-npus", required_argument, NULL, 'r'},
        {"num_npus", required_argument, NULL, 'r'},
        {"num-passes", required_argument, NULL, 'p'},
        {"num_passes", required_argument, NULL, 'p'},
        {"input_type", required_argument, NULL, 'T'},
        {"input-type", required_argument, NULL, 'T'},
        {"num-dims", required_argument, NULL, 'D'},
        {"num_dims", required_argument, NULL, 'D'},
        {"log-filename", required_argument, NULL, 'L'},
        {"log_filename", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "trace convert-text";
    wl_text_opts o = {.passes = 1, .time_scale = 1};
    int c, dims;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:o:p:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (loom_opt_int(cmd, "--ranks", optarg, 1, 1 << 24, &o.ranks) < 0)
                return loom_exit_code(LOOM_EUSAGE);
            break;
        case 'o': o.out = optarg; break;
        case 'p':
            if (loom_opt_int(cmd, "--passes", optarg, 1, 1 << 20, &o.passes) < 0)
                return loom_exit_code(LOOM_EUSAGE);
            break;
        case 't':
            if (loom_opt_double(cmd, "--time-scale", optarg, 0, 1, 1e12, &o.time_scale) < 0)
                return loom_exit_code(LOOM_EUSAGE);
            break;
        case 'q': o.quiet = 1; break;
        case 'h': text_help(stdout); return 0;
        case 'i': o.in = optarg; break;
        case 'T':
            if (strcmp(optarg, "Text") != 0)
                return loom_usage(cmd, "--input_type '%s': loom converts Text only", optarg);
            break;
        case 'D':
            if (loom_opt_int(cmd, "--num-dims", optarg, 1, 1 << 20, &dims) < 0)
                return loom_exit_code(LOOM_EUSAGE);
            loom_warn("trace convert-text: --num-dims %d is not used (the traces do not depend on "
                      "the network's dimensions)", dims);
            break;
        case 'L':
            loom_warn("trace convert-text: --log-filename %s is not used (loom writes no "
                      "converter log)", optarg);
            break;
        case ':': return loom_usage(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return loom_usage(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    /* Chakra's `chakra_converter Text --input ...`: the subcommand word */
    if (optind < argc && strcmp(argv[optind], "Text") == 0 && o.in)
        optind++;
    if (o.in == NULL && optind + 1 == argc)
        o.in = argv[optind++];
    if (o.in == NULL || optind != argc)
        return loom_usage(cmd, "%s", o.in ? "expects one FILE (or --input FILE)"
                                          : "needs the text workload FILE (or --input FILE)");
    if (o.ranks == 0 || o.out == NULL)
        return loom_usage(cmd, "%s", "needs --ranks and --out");
    loom_err err = {0};
    if (wl_text_convert(&o, &err) < 0)
        return loom_fail(&err);
    return 0;
}
