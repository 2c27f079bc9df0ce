/*
 * cmd_trace.c: `loom trace info` and `loom trace validate` (traces/et_check).
 * `loom trace convert-text` is cmd_convert_text.c; main.c routes it.
 */
#include "cmds.h"

#include <stdio.h>
#include <string.h>

#include "cliutil.h"
#include "et_check.h"

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

int loom_cmd_trace(int argc, char **argv)
{
    if (argc < 2)
        return loom_usage("trace", "%s", "expects: info PREFIX | validate PREFIX");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        trace_help(stdout);
        return 0;
    }
    if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        trace_help(stdout);
        return 0;
    }
    if (argc != 3)
        return loom_usage("trace", "%s", "expects: info PREFIX | validate PREFIX");
    loom_err err = {0};
    if (strcmp(argv[1], "info") == 0) {
        if (et_info(argv[2], stdout, &err) < 0)
            return loom_fail(&err);
        return 0;
    }
    if (strcmp(argv[1], "validate") == 0) {
        int n = et_validate(argv[2], stdout, &err);
        if (n < 0)
            return loom_fail(&err);
        if (n > 0) {
            fprintf(stderr, "loom: error: trace validate: %d problem%s found\n", n, n == 1 ? "" : "s");
            return loom_exit_code(LOOM_ETRACE);
        }
        printf("%s: clean\n", argv[2]);
        return 0;
    }
    return loom_usage("trace", "unknown subcommand '%s' (info, validate)", argv[1]);
}
