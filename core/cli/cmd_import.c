/*
 * cmd_import.c: `loom import pytorch`, PyTorch captures (execution traces
 * and Kineto traces) to Chakra traces and the files to replay them
 * (traces/pt_import.h; docs/IMPORT.md).
 */
#include "cmds.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "comp_dev.h"
#include "pt_import.h"
#include "wl_emit.h" /* wl_prepare_prefix: the output folder, as gen makes it */

/* --device must be a catalog name: checked here, before reading a byte,
 * since the replay would refuse the system file later. */
static int check_device(const char *name)
{
    loom_err err = {0};
    comp_catalog *cat = comp_catalog_load(NULL, &err);
    if (cat == NULL)
        return loom_fail(&err);
    int rc = 0;
    if (comp_catalog_find(cat, name) == NULL) {
        char names[1024];
        loom_err_set(&err, LOOM_EUSAGE, "import pytorch: --device '%s' is not in the catalog (%s)",
                     name, comp_catalog_names(cat, names, sizeof names));
        rc = loom_fail(&err);
    }
    comp_catalog_free(cat);
    return rc;
}

static void import_help(FILE *o)
{
    fputs("usage: loom import pytorch [--et FILE]... [--kineto FILE]... -o PREFIX\n"
          "                           [--step N] [--device NAME] [--strict] [--quiet]\n"
          "\n"
          "Converts PyTorch captures into Chakra traces loom (and ASTRA-sim) replay: per\n"
          "rank an execution trace (ExecutionTraceObserver), a Kineto trace (torch.profiler),\n"
          "or both from the same process, paired in the order given (the i-th --et with the\n"
          "i-th --kineto).  The rank is Kineto's distributedInfo.rank, else the order.\n"
          "Files may be gzip-compressed.  Writes PREFIX.<rank>.et, PREFIX.system.yaml,\n"
          "PREFIX.network.yaml (one switch joining the ranks, for what-ifs) and, when a\n"
          "process group covers fewer than all ranks, PREFIX.comm.json; then\n"
          "  loom run --workload PREFIX --system PREFIX.system.yaml --network PREFIX.network.yaml\n"
          "replays the capture.  With Kineto the replay keeps the measured kernel, copy,\n"
          "host-op and NCCL times (compute-model: trace, comm-model: captured); an\n"
          "execution trace alone has no times: each op's kernels are priced from\n"
          "their shapes (GEMMs, fused attention, dropout, norms, elementwise bytes)\n"
          "on --device (compute-model: kernel).\n"
          "\n"
          "options:\n"
          "  --et FILE        an execution trace (schema 1.0.1 .. 1.1.x-chakra); repeatable\n"
          "  --kineto FILE    a Kineto trace (JSON); repeatable\n"
          "  -o, --out PREFIX output prefix DIR/prefix (DIR is created)\n"
          "  --step N         import ProfilerStep#N (default: the last complete step; the\n"
          "                   whole trace when it has no ProfilerStep)\n"
          "  --device NAME    the device written to the system file (`loom devices`;\n"
          "                   default a100-80g): prices ET ops, and what-ifs\n"
          "  --strict         refuse what is otherwise repaired with a warning: a trace\n"
          "                   with no complete ProfilerStep, rank steps more than 10 s\n"
          "                   apart, collectives that disagree across ranks\n"
          "  -q, --quiet      no summary\n"
          "  -h, --help       this help\n"
          "\n"
          "exit: 0 ok, 2 usage (options, a --step the trace lacks), 3 bad input (unreadable,\n"
          "truncated or malformed JSON, no GPU events, a pair from two processes, an unknown\n"
          "schema), 5 output error.\n"
          "Nothing is written unless every output is.\n",
          o);
}

int loom_cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"et", required_argument, NULL, 'e'},     {"kineto", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'},    {"step", required_argument, NULL, 's'},
        {"device", required_argument, NULL, 'd'}, {"strict", no_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "import pytorch";
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        import_help(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "pytorch") != 0)
        return loom_usage("import", "%s", argc < 2 ? "needs a format: loom import pytorch ..."
                                                   : "unknown format (known: pytorch)");
    argc--;
    argv++;
    pt_import_opts o = {.step = -1};
    o.et = loom_xcalloc((size_t)argc + 1, sizeof *o.et);
    o.kineto = loom_xcalloc((size_t)argc + 1, sizeof *o.kineto);
    int c, rc = 0;
    optind = 1;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'e': o.et[o.net++] = optarg; break;
        case 'k': o.kineto[o.nkineto++] = optarg; break;
        case 'o': o.out = optarg; break;
        case 's':
            if (loom_opt_int(cmd, "--step", optarg, 0, 1 << 30, &o.step) < 0)
                rc = loom_exit_code(LOOM_EUSAGE);
            break;
        case 'd': o.device = optarg; break;
        case 'S': o.strict = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': import_help(stdout); goto done;
        case ':': rc = loom_usage(cmd, "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = loom_usage(cmd, "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (rc == 0 && optind < argc)
        rc = loom_usage(cmd, "unexpected argument '%s' (files go after --et or --kineto)", argv[optind]);
    if (rc == 0 && o.out == NULL)
        rc = loom_usage(cmd, "%s", "needs -o PREFIX");
    if (rc == 0 && o.device)
        rc = check_device(o.device);
    if (rc == 0) { /* DIR of DIR/prefix is created (one level), and removed on failure */
        loom_err err = {0};
        int made = 0;
        if (wl_prepare_prefix(o.out, &made, &err) < 0 || pt_import(&o, &err) < 0) {
            if (made)
                wl_unprepare_prefix(o.out);
            rc = loom_fail(&err);
        }
    }
done:
    free(o.et);
    free(o.kineto);
    return rc;
}
